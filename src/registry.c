/* SPDX-License-Identifier: MIT */
/*
 * registry.c - the node's directory of message types, groups and actors.
 *
 * Lookups by name are linear: they happen while the node is declared and
 * when an actor resolves a name (usually once, in its Start handler); the
 * hot paths use the dense ids.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "log.h"
#include "message.h"
#include "registry.h"
#include "shm.h"

bool act__name_ok(const char *name)
{
	size_t n;
	if (!name)
		return false;
	n = strlen(name);
	if (n == 0 || n > ACT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

void act__reg_init(struct act__registry *r)
{
	memset(r, 0, sizeof *r);
}

void act__reg_fini(struct act__registry *r)
{
	for (uint32_t i = 0; i < r->n_actors; i++) {
		free(r->actors[i].name);
		free(r->actors[i].behaviour);
		free(r->actors[i].args);
	}
	for (uint32_t i = 0; i < r->n_groups; i++) {
		free(r->groups[i].name);
		free(r->groups[i].actors);
		free(r->groups[i].pool_key);
		free(r->groups[i].tenant);
		free(r->groups[i].pool_name);
	}
	for (uint32_t i = 0; i < r->n_peers; i++) {
		free(r->peers[i].name);
		free(r->peers[i].endpoint);
	}
	free(r->peers);
	free(r->behaviours);
	free(r->actors);
	free(r->groups);
	free(r->types);
	free(r->type_ix);
	free(r->type_has_var);
	free(r->type_check);
	memset(r, 0, sizeof *r);
}

const act_type *act__reg_type_by_name(const struct act__registry *r, const char *name)
{
	for (uint32_t i = 1; i <= r->n_types; i++)
		if (!strcmp(r->types[i]->name, name))
			return r->types[i];
	return NULL;
}

bool act__type_same_shape(const act_type *a, const act_type *b)
{
	if (a->size != b->size || a->align != b->align || a->n_fields != b->n_fields ||
	    strcmp(a->name, b->name))
		return false;
	for (uint32_t i = 0; i < a->n_fields; i++) {
		const act_field *x = &a->fields[i], *y = &b->fields[i];
		if (x->kind != y->kind || x->offset != y->offset || x->size != y->size ||
		    strcmp(x->name, y->name))
			return false;
	}
	return true;
}

/* Inserts t -> id into the descriptor table, doubling it as needed to stay
 * at most half full.  t must not be in it yet. */
static int index_type(struct act__registry *r, const act_type *t, uint32_t id)
{
	if (2 * (r->n_type_ix + 1) > r->type_ix_mask + 1) { /* also when still NULL */
		struct act__registry grown = *r;
		uint32_t slots = r->type_ix ? 2 * (r->type_ix_mask + 1) : 32;

		grown.type_ix = calloc(slots, sizeof *grown.type_ix);
		if (!grown.type_ix)
			return -ENOMEM;
		grown.type_ix_mask = slots - 1;
		for (uint32_t i = 0; r->type_ix && i <= r->type_ix_mask; i++) {
			const struct act__type_slot *o = &r->type_ix[i];
			if (!o->t)
				continue;
			uint32_t j = act__type_slot_of(&grown, o->t);
			while (grown.type_ix[j].t)
				j = (j + 1) & grown.type_ix_mask;
			grown.type_ix[j] = *o;
		}
		free(r->type_ix);
		r->type_ix = grown.type_ix;
		r->type_ix_mask = grown.type_ix_mask;
	}
	uint32_t j = act__type_slot_of(r, t);
	while (r->type_ix[j].t)
		j = (j + 1) & r->type_ix_mask;
	r->type_ix[j] = (struct act__type_slot){ t, id };
	r->n_type_ix++;
	return 0;
}

int act__reg_add_type(struct act__registry *r, const act_type *t)
{
	const act_type *same;
	int err;

	if (!t || act__type_validate(t))
		return -EINVAL;
	if (act__reg_type_id(r, t))
		return 0;
	same = act__reg_type_by_name(r, t->name);
	if (same) {
		/* Two modules may each declare the same message (say, Ping):
		 * the same layout field for field is the same type. */
		if (!act__type_same_shape(same, t))
			return -EEXIST;
		return index_type(r, t, act__reg_type_id(r, same));
	}
	/* Slot 0 is unused so that id 0 means "unregistered". */
	uint32_t cap = r->cap_types;
	if ((err = act__grow((void **)&r->types, &cap, r->n_types + 2, sizeof *r->types)))
		return err;
	cap = r->cap_types;
	if ((err = act__grow((void **)&r->type_has_var, &cap, r->n_types + 2, sizeof *r->type_has_var)))
		return err;
	cap = r->cap_types;
	if ((err = act__grow((void **)&r->type_check, &cap, r->n_types + 2, sizeof *r->type_check)))
		return err;
	r->cap_types = cap;
	/* Indexed first: if that fails, the type is simply not registered. */
	if ((err = index_type(r, t, r->n_types + 1)))
		return err;
	r->n_types++;
	r->type_check[r->n_types] = false;
	r->types[r->n_types] = t;
	r->type_has_var[r->n_types] = false;
	for (uint32_t i = 0; i < t->n_fields; i++) {
		act_field_kind k = t->fields[i].kind;
		if (k == ACT_VSTR || k == ACT_BYTES || k == ACT_JSON)
			r->type_has_var[r->n_types] = true;
		if (act__kind_is_var(k) || k == ACT_STR || k == ACT_BOOL)
			r->type_check[r->n_types] = true;
	}
	return 0;
}

void act__reg_add_declared(struct act__registry *r)
{
	uint32_t n_declared;
	const act_type *const *declared = act__declared_types(&n_declared);

	for (uint32_t i = 0; i < n_declared; i++) {
		int err = act__reg_add_type(r, declared[i]);
		if (err)
			act__debug("declared type '%s' not registered: %s",
			           declared[i]->name ? declared[i]->name : "?", act_strerror(err));
	}
}

struct act__group_def *act__reg_group(const struct act__registry *r, const char *name)
{
	for (uint32_t i = 0; i < r->n_groups; i++)
		if (!strcmp(r->groups[i].name, name))
			return &r->groups[i];
	return NULL;
}

int act__reg_add_group(struct act__registry *r, const char *name)
{
	struct act__group_def *g;
	int err;

	if (!act__name_ok(name))
		return -EINVAL;
	if (r->frozen)
		return -EBUSY;
	if (act__reg_group(r, name))
		return -EEXIST;
	if (r->n_groups + 1 >= ACT__MAX_PARTS)
		return -ENOSPC;
	if ((err = act__grow((void **)&r->groups, &r->cap_groups, r->n_groups + 1, sizeof *r->groups)))
		return err;
	g = &r->groups[r->n_groups];
	memset(g, 0, sizeof *g);
	g->name = strdup(name);
	if (!g->name)
		return -ENOMEM;
	g->index = r->n_groups + 1;
	g->ring_bytes = 256u * 1024u;
	g->max_msg = 64u * 1024u;
	g->spin_us = 50;
	g->max_redeliveries = 3;
	g->restart = ACT_PERMANENT;
	g->shutdown_ms = 5000;
	g->heartbeat_ms = 100;
	g->heartbeat_timeout_ms = 1000;
	g->quick_reap = true;
	r->n_groups++;
	return 0;
}

int act__reg_find_actor(const struct act__registry *r, const char *name)
{
	if (!name)
		return -ENOENT;
	for (uint32_t i = 0; i < r->n_actors; i++)
		if (!strcmp(r->actors[i].name, name))
			return (int)i;
	return -ENOENT;
}

static int add_actor(struct act__registry *r, const char *group, const char *name,
                     const act_behaviour *b, const char *bname, const char *args)
{
	struct act__group_def *g;
	struct act__actor_def *a;
	uint32_t *ids;
	int err;

	if (!act__name_ok(name) || act__actor_name_problem(name) || (!b && !bname) || !group)
		return -EINVAL;
	if (r->frozen)
		return -EBUSY;
	if (!(g = act__reg_group(r, group)))
		return -ENOENT;
	if (act__reg_find_actor(r, name) >= 0)
		return -EEXIST;
	for (size_t i = 0; b && i < b->n_handlers; i++)
		if ((err = act__reg_add_type(r, b->handlers[i].type)))
			return err;
	if ((err = act__grow((void **)&r->actors, &r->cap_actors, r->n_actors + 1, sizeof *r->actors)))
		return err;
	ids = realloc(g->actors, (g->n_actors + 1) * sizeof *ids);
	if (!ids)
		return -ENOMEM;
	g->actors = ids;
	a = &r->actors[r->n_actors];
	memset(a, 0, sizeof *a);
	a->name = strdup(name);
	a->args = args ? strdup(args) : NULL;
	a->behaviour = bname ? strdup(bname) : NULL;
	if (!a->name || (args && !a->args) || (bname && !a->behaviour)) {
		free(a->name);
		free(a->args);
		free(a->behaviour);
		return -ENOMEM;
	}
	a->id = r->n_actors;
	a->group = g->index;
	a->b = b;
	g->actors[g->n_actors++] = a->id;
	r->n_actors++;
	return 0;
}

/* A behaviour's act_child_policy, if any, names a known strategy and directive. */
static bool child_policy_ok(const act_behaviour *b)
{
	const act_child_policy *p = b->children;
	/* The bound keeps a restart loop (init failing each time) shallow:
	 * each restart of it nests a few frames. */
	return !p || ((unsigned)p->strategy <= ACT_REST_FOR_ONE &&
	              (unsigned)p->directive <= ACT_CHILD_ESCALATE && p->max_restarts <= 1024);
}

int act__reg_add_actor(struct act__registry *r, const char *group, const char *name,
                       const act_behaviour *b, const char *args)
{
	return b && child_policy_ok(b) ? add_actor(r, group, name, b, b->name, args) : -EINVAL;
}

int act__reg_add_actor_named(struct act__registry *r, const char *group, const char *name,
                             const char *behaviour, const char *args)
{
	return behaviour ? add_actor(r, group, name, NULL, behaviour, args) : -EINVAL;
}

uint64_t act__reg_freeze(struct act__registry *r)
{
	uint64_t h = ACT__FNV_SEED;
	r->frozen = true;
	act__reg_add_declared(r);
	for (uint32_t i = 0; i < r->n_groups; i++)
		h = act__fnv1a(h, r->groups[i].name, strlen(r->groups[i].name) + 1);
	for (uint32_t i = 0; i < r->n_actors; i++) {
		h = act__fnv1a(h, r->actors[i].name, strlen(r->actors[i].name) + 1);
		h = act__fnv1a(h, &r->actors[i].group, sizeof r->actors[i].group);
	}
	return h ? h : 1;
}

int act__reg_add_peer(struct act__registry *r, const char *name, const char *endpoint)
{
	struct act__peer_def *p = realloc(r->peers, (r->n_peers + 1) * sizeof *p);
	if (!p)
		return -ENOMEM;
	r->peers = p;
	memset(&p[r->n_peers], 0, sizeof p[r->n_peers]);
	p[r->n_peers].name = strdup(name);
	p[r->n_peers].endpoint = strdup(endpoint);
	if (!p[r->n_peers].name || !p[r->n_peers].endpoint) {
		free(p[r->n_peers].name);
		free(p[r->n_peers].endpoint);
		return -ENOMEM;
	}
	r->n_peers++;
	return 0;
}

const act_behaviour *act__reg_behaviour(const struct act__registry *r, const char *name)
{
	for (uint32_t i = 0; name && i < r->n_behaviours; i++)
		if (!strcmp(r->behaviours[i]->name, name))
			return r->behaviours[i];
	return NULL;
}

int act__reg_add_behaviour(struct act__registry *r, const act_behaviour *b)
{
	const act_behaviour *same;
	int err;

	if (!b || !act__name_ok(b->name) || (b->n_handlers && !b->handlers) ||
	    (unsigned)b->restart > ACT_TEMPORARY || !child_policy_ok(b))
		return -EINVAL;
	if ((same = act__reg_behaviour(r, b->name)))
		return same == b ? 0 : -EEXIST;
	for (size_t i = 0; i < b->n_handlers; i++)
		if (!b->handlers[i].fn || (err = act__reg_add_type(r, b->handlers[i].type)))
			return b->handlers[i].fn ? err : -EINVAL;
	if ((err = act__grow((void **)&r->behaviours, &r->cap_behaviours, r->n_behaviours + 1,
	                sizeof *r->behaviours)))
		return err;
	r->behaviours[r->n_behaviours++] = b;
	return 0;
}
