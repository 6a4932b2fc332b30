/* SPDX-License-Identifier: MIT */
/*
 * route.c - the records between the supervisor and its groups: control
 * records it sends (STOP), envelopes it injects for clients and the
 * gateway, and what the groups send it (READY, dead letters, envelopes
 * for outside the node).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <actors.h>

#include <cjson/cJSON.h>

#include "control.h"
#include "deadletter.h"
#include "dyn-remote.h"
#include "doorbell.h"
#include "envelope.h"
#include "gateway.h"
#include "group.h"
#include "log.h"
#include "node.h"
#include "phase.h"
#include "pool.h"
#include "poolsup.h"
#include "peers.h"
#include "remote-ask.h"
#include "route.h"

/* True if id can be a spawned actor's of this node. */
static bool is_spawned_id(const act_node_t *n, uint32_t id)
{
	return act__dyn_group_of(&n->shm, id) != 0;
}

/* ---- records to the groups ---------------------------------------------------- */

/* Sends a control record to participant `to`.  0 or ACT_EFULL. */
int act__route_ctrl(act_node_t *n, uint32_t to, uint32_t code, uint64_t corr)
{
	int err;
	struct act__env *e = act__ring_reserve(&n->out[to], sizeof *e, &err);
	if (!e)
		return err;
	act__env_write(e, ACT__REC_CTRL, sizeof *e,
	               &(struct act__route){ .type = code, .corr = corr });
	act__ring_commit(&n->out[to], e);
	act__doorbell_notify(act__shm_part(&n->shm, to), ACT__SUPERVISOR, n->efd[to]);
	return 0;
}

struct act__env *act__node_out_reserve(act_node_t *n, uint32_t g, uint32_t len, int *err)
{
	struct act__part *p = act__shm_part(&n->shm, g);

	if (__builtin_expect((*err = act__part_refuses(p)), 0))
		return NULL;
	return act__ring_reserve(&n->out[g], len, err);
}

int act__node_resolve(struct act_node *n, const char *name, struct act__target *t)
{
	int id = act__reg_find_actor(&n->reg, name);
	char behaviour[ACT_NAME_MAX + 1];
	uint32_t g, slot, gen, flags = 0;

	memset(t, 0, sizeof *t);
	if (id >= 0) {
		t->id = (uint32_t)id;
		t->group = n->reg.actors[id].group;
		t->remote = n->reg.actors[id].remote;
		return 0;
	}
	if (!name || !act__name_ok(name) || name[0] == '$' ||
	    act__dyn_name_find(&n->shm, ACT__SUPERVISOR, name, &g, &slot, &gen, behaviour, &flags))
		return -ENOENT;
	const act_behaviour *b = act__reg_behaviour(&n->reg, behaviour);
	t->id = act__dyn_id(&n->shm, g, slot);
	t->gen = gen;
	t->group = g;
	t->spawned = true;
	/* The record says (its group writes the flag when it starts it: the
	 * behaviour may be a module's, which only the zygote knows). */
	t->remote = (flags & ACT__SPAWN_REMOTE) || (b && b->remote);
	return 0;
}

int act__node_inject(struct act_node *n, const char *actor, const char *type,
                     const char *json, size_t json_len, const char *sender,
                     const char *endpoint, uint32_t from_peer, uint16_t flags, uint64_t corr)
{
	struct act__target t;

	if (act__node_resolve(n, actor, &t))
		return -ENOENT;
	act__node_pool_pick(n, &t, json, json_len); /* an actor of a pool: which member */
	return act__node_inject_to(n, &t, type, json, json_len, sender, endpoint, from_peer,
	                           flags, corr);
}

int act__node_inject_to(struct act_node *n, const struct act__target *tp, const char *type,
                        const char *json, size_t json_len, const char *sender,
                        const char *endpoint, uint32_t from_peer, uint16_t flags, uint64_t corr)
{
	int err = act__node_inject_quiet(n, tp, type, json, json_len, sender, endpoint,
	                                 from_peer, flags, corr);

	if (!err)
		act__node_ring_group(n, tp->group);
	return err;
}

void act__node_ring_group(struct act_node *n, uint32_t group)
{
	struct act__part *me = act__shm_part(&n->shm, ACT__SUPERVISOR);

	struct act__part *p = act__shm_part(&n->shm, group);

	act__doorbell_notify(p, ACT__SUPERVISOR, n->efd[group]);
	if (p->spin_us)
		n->expect_answer = true;
	/* Counted on our own control block, which only this process writes:
	 * a plain relaxed add, so the benches can show doorbells per frame. */
	atomic_store_explicit(&me->n_notifies,
	                      atomic_load_explicit(&me->n_notifies, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

int act__node_inject_quiet(struct act_node *n, const struct act__target *tp, const char *type,
                           const char *json, size_t json_len, const char *sender,
                           const char *endpoint, uint32_t from_peer, uint16_t flags,
                           uint64_t corr)
{
	struct act__target t = *tp;
	size_t len;
	int err;

	if (!act__name_ok(type) || strlen(type) > ACT__REMOTE_NAME_MAX ||
	    (sender && strlen(sender) > ACT__REMOTE_NAME_MAX) ||
	    (endpoint && strlen(endpoint) > ACT__ENDPOINT_MAX))
		return -EINVAL;
	uint32_t g = t.group;
	/* A group that will not run again until an operator starts it reads
	 * no ring: act__node_out_reserve() refuses (a Reject to a peer,
	 * "stopped" to actorsctl, counted as refused_gone) rather than leave
	 * the envelope where nobody will take it. */
	len = act__jenv_size(sender ? strlen(sender) : 0, endpoint ? strlen(endpoint) : 0,
	                     strlen(type), json_len);
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	struct act__env *e = act__node_out_reserve(n, g, (uint32_t)len, &err);
	if (!e)
		return err;
	act__jenv_write(e, &(struct act__route){ .to = t.id, .to_gen = t.gen,
	                                         .from_peer = from_peer, .flags = flags,
	                                         .corr = corr },
	                sender, endpoint, type, json, json_len);
	act__ring_commit(&n->out[g], e);
	return 0;
}

/* ---- actors spawned and stopped by the supervisor (actorsctl) -------------------- */

int act__node_spawn(struct act_node *n, const char *group, const char *behaviour,
                    const char *name, const char *args_json, act_ref *out)
{
	const struct act__group_def *gd = group ? act__reg_group(&n->reg, group) : NULL;
	const act_behaviour *b = behaviour ? act__reg_behaviour(&n->reg, behaviour) : NULL;
	size_t args_len = 0;

	/* actorsd binds module behaviours in its zygote, not here: a
	 * behaviour we do not know goes by name, and its group checks it
	 * (an unknown one is logged there and never starts). */
	act_behaviour by_name = { .name = behaviour, .restart = ACT_PERMANENT };

	*out = ACT_NOBODY;
	if ((gd && gd->pool_first) || (!gd && act__pool_find(&n->reg, group)))
		return -EOPNOTSUPP; /* a pool's members host the same actors: no spawns */
	if (!gd || !behaviour || !act__name_ok(behaviour))
		return -ENOENT;
	if (!b)
		b = &by_name;
	int bad = act__dyn_check_spawn(name, args_json, &args_len);
	if (bad)
		return bad;
	uint32_t g = (uint32_t)(gd - n->reg.groups) + 1;
	int err = act__dyn_post_spawn(&n->shm, &n->reg, ACT__SUPERVISOR, &n->out[g], g, b, name,
	                              args_json, args_len, 0, 0, out);
	if (!err)
		act__doorbell_notify(act__shm_part(&n->shm, g), ACT__SUPERVISOR, n->efd[g]);
	return err;
}

int act__node_stop_actor(struct act_node *n, const char *name)
{
	struct act__target t;
	int err;

	if (act__node_resolve(n, name, &t))
		return -ENOENT;
	if (!t.spawned)
		return -EPERM; /* declared actors stop with their group */
	struct act__env *e = act__node_out_reserve(n, t.group, sizeof *e, &err);
	if (!e)
		return err;
	act__env_write(e, ACT__REC_SYS, sizeof *e,
	               &(struct act__route){ .type = ACT__SYS_STOP, .to = t.id, .to_gen = t.gen });
	act__ring_commit(&n->out[t.group], e);
	act__doorbell_notify(act__shm_part(&n->shm, t.group), ACT__SUPERVISOR, n->efd[t.group]);
	return 0;
}

/* ---- records for the supervisor --------------------------------------------------- */

/* An envelope for outside the node.  False: keep it, retry later (full peer). */
static bool handle_outbound(act_node_t *n, uint32_t from, const struct act__env *e)
{
	struct act__jview jv;

	if (act__jenv_parse(e, e->rec.len, &jv)) {
		act__warn_every("malformed outbound envelope from group %u dropped", from);
		n->n_dead_letters++;
		return true;
	}
	if (jv.endpoint_len == 0) {
		/* A reply (or Reject) for an actorsctl client. */
		if (!act__ctl_reply(n->ctl, e->corr, jv.type, jv.json, jv.json_len)) {
			act__debug("reply of type %s for a client that is gone", jv.type);
			n->n_dead_letters++;
		}
		return true;
	}
	if (!n->gw) {
		act__warn_every("envelope of type %s for %s at %s dropped: this node has no endpoint",
		                jv.type, jv.peer, jv.endpoint);
		n->n_dead_letters++;
		return true;
	}
	const char *from_name = e->from && e->from <= n->reg.n_actors ?
	                        n->reg.actors[e->from - 1].name : NULL;
	char dyn_name[ACT_NAME_MAX + 1];
	uint32_t fid = e->from - 1;
	if (!from_name && e->from && is_spawned_id(n, fid)) {
		/* A spawned sender: its record names it, if it still lives (it
		 * sent this a moment ago; a copy checked against its word). */
		uint32_t g = act__dyn_group_of(&n->shm, fid);
		struct act__spawn_rec *r = act__shm_spawn_rec(&n->shm, g, act__dyn_slot_of(&n->shm, fid));
		uint64_t w1 = atomic_load_explicit(&r->word, memory_order_acquire);
		memcpy(dyn_name, r->name, sizeof dyn_name);
		atomic_thread_fence(memory_order_acquire);
		dyn_name[ACT_NAME_MAX] = '\0';
		if (ACT__SLOT_STATE(w1) == ACT__SLOT_LIVE &&
		    atomic_load_explicit(&r->word, memory_order_relaxed) == w1)
			from_name = dyn_name;
	}
	int rc = (e->rec.flags & ACT__ENV_ASK) ?
	         act__gw_ask(n->gw, from, e, &jv, from_name) : /* remote-ask.c */
	         act__gw_send(n->gw, jv.peer, jv.endpoint, jv.type, jv.json, jv.json_len, from_name);
	if (rc == ACT_EFULL)
		return false;
	if (rc)
		n->n_dead_letters++;
	return true;
}

/* Handles one record from group `from`.  False: leave it in the ring. */
static bool handle_sup_record(act_node_t *n, uint32_t from, const struct act__rec *rec)
{
	const struct act__env *e = (const struct act__env *)rec;

	if (rec->len < sizeof *e) {
		act__warn_every("short record from group %u dropped", from);
		return true;
	}
	if (rec->kind == ACT__REC_MSG && (rec->flags & ACT__ENV_JSON) && e->to == ACT__TO_OUTSIDE)
		return handle_outbound(n, from, e);
	if (rec->kind != ACT__REC_CTRL) {
		act__warn_every("unexpected envelope from group %u for the supervisor dropped", from);
		n->n_dead_letters++;
		return true;
	}
	switch (e->type) {
	case ACT__CTRL_READY:
		if (from >= 1 && from <= n->reg.n_groups && n->gs[from - 1].state == ACT__G_STARTING) {
			struct act__gstate *g = &n->gs[from - 1];
			act__phase(ACT__PH_READY_SEEN);
			act__group_set_state(n, from - 1, ACT__G_READY);
			if (g->waiter) {
				act__ctl_group_ready(n->ctl, g->waiter, true, NULL);
				g->waiter = NULL;
			}
			act__pool_rolling_event(n, from - 1, true, NULL);
		}
		break;
	case ACT__CTRL_SHUTDOWN_NODE:
		act__node_stop(n, ACT_EXIT_OK, "act_shutdown() called");
		break;
	case ACT__CTRL_DEAD_LETTER: {
		int64_t id = -1;
		n->n_dead_letters++;
		if (n->dl)
			id = act__dl_append(n->dl, (const char *)(e + 1), rec->len - sizeof *e);
		/* An actorsctl client's send or ask: it hears it now. */
		if (e->corr && n->ctl)
			act__ctl_dead_letter(n->ctl, e->corr, id);
		act__warn_every("dead letter #%lld from group '%s' stored%s%s", (long long)id,
		                from >= 1 && from <= n->reg.n_groups ? n->reg.groups[from - 1].name : "?",
		                n->dl && act__dl_path(n->dl) ? " in " : " in memory",
		                n->dl && act__dl_path(n->dl) ? act__dl_path(n->dl) : "");
		break;
	}
	case ACT__CTRL_PEER_WATCH:
		/* From a worker that has ended since: its watcher is gone. */
		if (from >= 1 && from <= n->reg.n_groups &&
		    n->in[from].done < n->gs[from - 1].peer_mark) {
			act__peers_drop_stale(n->gw ? act__gw_watches(n->gw) : NULL);
			break;
		}
		/* fall through */
	case ACT__CTRL_PEER_UNWATCH: /* act_monitor() of a remote ref (peers.c) */
		act__peers_ctrl(n, from, e->type, e + 1, rec->len - (uint32_t)sizeof *e);
		break;
	default:
		act__warn_every("unknown control record %u from group %u", e->type, from);
	}
	return true;
}

/*
 * The supervisor never takes sizes or counts from the region once it is
 * running (a worker could have scribbled on it): it uses its own registry,
 * and every ring it reads was validated when it attached.
 */
void act__route_drain(act_node_t *n)
{
	uint64_t bits[ACT__READY_WORDS];
	int err;

	act__doorbell_take(act__shm_part(&n->shm, 0), bits);
	n->out_blocked = false;
	n->drain_more = false;
	/* The supervisor handles few records: scanning every ring is cheap
	 * and robust against a dead producer's stale ready bit. */
	for (uint32_t s = 1; s < n->reg.n_groups + 1; s++) {
		const struct act__rec *rec;
		unsigned k = 0;
		/* A ring its producer never touched is empty; reading it would
		 * only allocate its page (layout.h, the touched bitmap). */
		if (!act__shm_ring_touched(&n->shm, s, 0) || act__ring_is_quarantined(n->in[s].r))
			continue;
		while (k++ < 1024 && (rec = act__ring_peek(&n->in[s], &err))) {
			if (!handle_sup_record(n, s, rec)) {
				/* A full peer: the envelope stays, and so does everything
				 * behind it in this ring; retried on the next turn. */
				n->out_blocked = true;
				break;
			}
			act__ring_release(&n->in[s]);
		}
		/* Stopped at the cap, not at the end: the rest is for the next
		 * turn at once (the doorbell will not ring for it). */
		if (k > 1024)
			n->drain_more = true;
		act__ring_publish(&n->in[s]);
		if (err) {
			/* Once, not on every turn: the ring is read no further. */
			act__ring_quarantine(n->in[s].r);
			atomic_fetch_add_explicit(&act__shm_part(&n->shm, 0)->n_corrupt, 1,
			                          memory_order_relaxed);
			act__err("ring %u->0 quarantined: corrupt record header or position; "
			         "records from group '%s' to the supervisor are no longer read",
			         s, n->reg.groups[s - 1].name);
		}
	}
}
