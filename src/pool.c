/* SPDX-License-Identifier: MIT */
/*
 * pool.c - pools of identical workers: turning a declared pool into its
 * member groups, and choosing the member each envelope goes to.
 *
 * The choice is made by the sender, from what it sees in shared memory
 * (the members' states) and in its own rings (how much it left unread in
 * each), so it costs no round trip and no lock.  Rotation counters are
 * per process: each sender has its own rotation, which is what makes
 * round_robin fair per sender.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "layout.h"
#include "log.h"
#include "pool.h"
#include "stats.h"
#include "worker-int.h"

const char *const act__pool_routing_names[3] = { "round_robin", "least_loaded", "key_hash" };

/* ---- expansion ------------------------------------------------------------------ */

static int fail(char *why, size_t cap, int err, const char *fmt, const char *a, unsigned b)
{
	if (why && cap)
		snprintf(why, cap, fmt, a, b);
	return err;
}

int act__pool_expand(struct act__registry *r, char *why, size_t why_cap)
{
	for (uint32_t i = 0; i < r->n_groups; i++) {
		struct act__group_def *p = &r->groups[i];
		uint32_t n = p->pool_n;
		char name[ACT_NAME_MAX + 1];

		if (!n || p->pool_first)
			continue; /* not a pool, or a member already */
		if (r->n_groups + n - 1 >= ACT__MAX_PARTS)
			return fail(why, why_cap, -ENOSPC, "pool '%s' of %u members: more than 255 "
			            "groups in all", p->name, n);
		for (uint32_t k = 0; k < n; k++) {
			if (snprintf(name, sizeof name, "%s#%u", p->name, k) >= (int)sizeof name)
				return fail(why, why_cap, -ENAMETOOLONG, "pool '%s': member %u's name "
				            "is too long", p->name, k);
			if (act__reg_group(r, name))
				return fail(why, why_cap, -EEXIST, "pool '%s': a group named like "
				            "its member %u exists", p->name, k);
		}
		/* Room for the members, then move the later groups up. */
		struct act__group_def *ng = realloc(r->groups, (size_t)(r->n_groups + n - 1) *
		                                    sizeof *ng);
		if (!ng)
			return fail(why, why_cap, -ENOMEM, "pool '%s' (%u members): out of memory",
			            p->name, n);
		r->groups = ng;
		r->cap_groups = r->n_groups + n - 1;
		p = &r->groups[i];
		memmove(&r->groups[i + n], &r->groups[i + 1],
		        (r->n_groups - i - 1) * sizeof *r->groups);
		for (uint32_t k = 1; k < n; k++) {
			struct act__group_def *m = &r->groups[i + k];
			*m = *p;
			m->name = NULL;
			m->pool_key = NULL;
			m->pool_name = NULL;
			m->actors = NULL;
		}
		r->n_groups += n - 1;
		/* Actors of the groups that moved follow them. */
		for (uint32_t a = 0; a < r->n_actors; a++)
			if (r->actors[a].group > i + 1)
				r->actors[a].group += n - 1;
		char *pool_name = p->name;
		p->name = NULL;
		for (uint32_t k = 0; k < n; k++) {
			struct act__group_def *m = &r->groups[i + k];
			snprintf(name, sizeof name, "%s#%u", pool_name, k);
			m->name = strdup(name);
			m->pool_name = strdup(pool_name);
			if (k && p->pool_key)
				m->pool_key = strdup(p->pool_key);
			if (k && p->n_actors) {
				m->actors = malloc(p->n_actors * sizeof *m->actors);
				if (m->actors)
					memcpy(m->actors, p->actors, p->n_actors * sizeof *m->actors);
			}
			m->pool_first = i + 1;
			m->pool_member = k;
			if (!m->name || !m->pool_name || (p->pool_key && !m->pool_key) ||
			    (p->n_actors && !m->actors)) {
				int rc = fail(why, why_cap, -ENOMEM, "pool '%s' (%u members): out of "
				              "memory", pool_name, n);
				free(pool_name);
				return rc;
			}
		}
		free(pool_name);
		i += n - 1;
	}
	for (uint32_t i = 0; i < r->n_groups; i++)
		r->groups[i].index = i + 1;
	return 0;
}

const struct act__group_def *act__pool_find(const struct act__registry *r, const char *name)
{
	for (uint32_t i = 0; name && i < r->n_groups; i++)
		if (r->groups[i].pool_first && r->groups[i].pool_member == 0 &&
		    !strcmp(r->groups[i].pool_name, name))
			return &r->groups[i];
	return NULL;
}

/* ---- keys ----------------------------------------------------------------------- */

static uint64_t hash_text(const void *p, size_t len)
{
	return act__fnv1a(ACT__FNV_SEED, p, len);
}

static uint64_t hash_i64(int64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof b, "%" PRId64, v);
	return hash_text(b, (size_t)n);
}

bool act__pool_key_hash(const act_type *t, const void *msg, const char *field, uint64_t *hash)
{
	const act_field *f = NULL;
	const unsigned char *base = msg;

	if (!t || !msg || !field)
		return false;
	for (uint32_t i = 0; i < t->n_fields; i++)
		if (!strcmp(t->fields[i].name, field)) {
			f = &t->fields[i];
			break;
		}
	if (!f)
		return false;
	switch (f->kind) {
	case ACT_I32: {
		int32_t v;
		memcpy(&v, base + f->offset, sizeof v);
		*hash = hash_i64(v);
		return true;
	}
	case ACT_I64: {
		int64_t v;
		memcpy(&v, base + f->offset, sizeof v);
		*hash = hash_i64(v);
		return true;
	}
	case ACT_U64: {
		uint64_t v;
		char b[24];
		memcpy(&v, base + f->offset, sizeof v);
		int n = snprintf(b, sizeof b, "%" PRIu64, v);
		*hash = hash_text(b, (size_t)n);
		return true;
	}
	case ACT_BOOL: {
		bool v;
		memcpy(&v, base + f->offset, sizeof v);
		*hash = v ? hash_text("true", 4) : hash_text("false", 5);
		return true;
	}
	case ACT_STR:
		*hash = hash_text(base + f->offset, strnlen((const char *)base + f->offset, f->size));
		return true;
	case ACT_VSTR: {
		act_buf b;
		memcpy(&b, base + f->offset, sizeof b);
		*hash = hash_text(b.len ? b.ptr : "", b.len);
		return true;
	}
	default:
		return false;
	}
}

bool act__pool_key_hash_json(const char *json, size_t len, const char *field, uint64_t *hash)
{
	cJSON *o = field ? cJSON_ParseWithLength(json, len) : NULL;
	const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, field) : NULL;
	bool ok = true;

	if (v && cJSON_IsString(v))
		*hash = hash_text(v->valuestring, strlen(v->valuestring));
	else if (v && cJSON_IsBool(v))
		*hash = cJSON_IsTrue(v) ? hash_text("true", 4) : hash_text("false", 5);
	else if (v && cJSON_IsNumber(v) && v->valuedouble == (double)(int64_t)v->valuedouble)
		/* Integer fields take |v| < 2^53 from JSON: exact in a double. */
		*hash = hash_i64((int64_t)v->valuedouble);
	else
		ok = false;
	cJSON_Delete(o);
	return ok;
}

/* ---- choosing a member ---------------------------------------------------------- */

/* Per process (each worker is one): the next member of each pool in this
 * sender's rotation, by the pool's first participant. */
static uint32_t rotation[ACT__MAX_PARTS];

static bool member_up(const act__shm *shm, uint32_t m)
{
	/* Relaxed: a mirror written by the supervisor (and READY by the
	 * worker); a stale value only sends one envelope to a member that
	 * will handle it later, never loses it. */
	return atomic_load_explicit(&act__shm_part(shm, m)->state, memory_order_relaxed) ==
	       ACT__PS_READY;
}

/* Bytes this sender left unhandled in its ring to member m. */
static uint64_t waiting(const act__ring_h *h)
{
	/* A quarantined ring (or one that failed validation when this
	 * worker started, worker.c) takes nothing more: never the least
	 * loaded, whatever its positions say. */
	if (act__ring_is_quarantined(h->r))
		return UINT64_MAX;
	/* Relaxed: an estimate; done_pos is the consumer's real progress
	 * (head is published only in steps), tail our own. */
	uint64_t done = atomic_load_explicit(&h->r->done_pos, memory_order_relaxed);
	return h->tail > done ? h->tail - done : 0;
}

uint32_t act__pool_choose(const struct act__group_def *pd, const act__shm *shm,
                          const act__ring_h *out, uint32_t self, uint16_t flags, uint64_t corr,
                          bool has_key, uint64_t key_hash)
{
	uint32_t first = pd->pool_first, n = pd->pool_n ? pd->pool_n : 1;
	uint32_t asker = (uint32_t)(corr >> 48);

	if ((flags & ACT__ENV_REPLY) && asker >= first && asker - first < n)
		return asker;
	if (pd->pool_routing == ACT_POOL_KEY_HASH)
		/* No key: member 0, always.  Spreading keyless messages would
		 * quietly break the promise that one member handles them one at
		 * a time; a fixed member keeps it (act__pool_keyless() counts). */
		return has_key ? first + (uint32_t)(key_hash % n) : first;
	if (self >= first && self - first < n)
		return self;
	uint32_t start = rotation[first] % n, best = UINT32_MAX;
	uint64_t best_depth = UINT64_MAX;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t m = first + (start + i) % n;
		if (!member_up(shm, m))
			continue;
		if (pd->pool_routing != ACT_POOL_LEAST_LOADED) {
			/* A ring that takes nothing more (waiting()) is no
			 * member's turn either. */
			if (act__ring_is_quarantined(out[m].r))
				continue;
			best = m;
			break;
		}
		uint64_t d = waiting(&out[m]);
		if (d < best_depth) {
			best_depth = d;
			best = m;
		}
	}
	if (best == UINT32_MAX)
		best = first + start; /* none ready: it waits in the ring of the next */
	rotation[first] = best - first + 1;
	return best;
}

/* Per process: the pools (by first participant) whose keyless sends this
 * process has already logged; the counter says how many followed. */
static bool keyless_logged[ACT__MAX_PARTS];

bool act__pool_is_keyless(const struct act__group_def *pd, uint16_t flags, uint64_t corr,
                          bool has_key)
{
	uint32_t asker = (uint32_t)(corr >> 48), n = pd->pool_n ? pd->pool_n : 1;

	if (pd->pool_routing != ACT_POOL_KEY_HASH || has_key)
		return false;
	/* A reply goes home to the member that asked: it needs no key. */
	return !((flags & ACT__ENV_REPLY) && asker >= pd->pool_first && asker - pd->pool_first < n);
}

void act__pool_keyless(const act__shm *shm, const struct act__group_def *pd, uint32_t to,
                       const char *type_name)
{
	act__stats_keyless(&shm->stats, to);
	if (pd->pool_first < ACT__MAX_PARTS && !keyless_logged[pd->pool_first]) {
		keyless_logged[pd->pool_first] = true;
		act__warn("pool '%s' routes by key_hash on '%s', but a%s%s%s message has no "
		          "such field of string, integer or bool value: it goes to member 0 "
		          "(counted as keyless; logged once per sender)", pd->pool_name,
		          pd->pool_key, type_name ? " '" : "", type_name ? type_name : "",
		          type_name ? "'" : "");
	}
}

uint32_t act__pool_member_w(struct worker *w, uint32_t g, uint32_t to, const act_type *t,
                            const void *msg, uint16_t flags, uint64_t corr)
{
	const struct act__group_def *pd = &w->reg->groups[g - 1];
	uint64_t h = 0;
	bool has_key = pd->pool_routing == ACT_POOL_KEY_HASH &&
	               act__pool_key_hash(t, msg, pd->pool_key, &h);
	if (__builtin_expect(w->tk != NULL, 0))
		return g; /* a testkit has one group and no rings */
	/* A Down is for the member that took the monitor: the id of one of
	 * another group's actor says which (layout.h); one of our own
	 * group's actor was taken here.  Picked by the pool's routing
	 * instead, it reached a member holding no note of it, which drops
	 * it (key_hash: member 0, always). */
	if (t == &act_down_type) {
		uint32_t m = act__mid_part(corr), first = pd->pool_first;
		if (!m)
			m = w->self;
		if (m >= first && m - first < (pd->pool_n ? pd->pool_n : 1u))
			return m;
	}
	if (__builtin_expect(act__pool_is_keyless(pd, flags, corr, has_key), 0))
		act__pool_keyless(&w->shm, pd, to, t ? t->name : NULL);
	return act__pool_choose(pd, &w->shm, w->out, w->self, flags, corr, has_key, h);
}

ACT_API int act_pool_member(const act_ctx *ctx)
{
	const struct act__group_def *gd = &ctx->w->reg->groups[ctx->w->self - 1];
	if (__builtin_expect(ctx->w->tk != NULL, 0) || !gd->pool_first)
		return -1;
	return (int)gd->pool_member;
}
