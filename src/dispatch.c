/* SPDX-License-Identifier: MIT */
/*
 * dispatch.c - handling what arrives: draining the inbound rings a batch at
 * a time, checking each record, counting redeliveries and parking poison
 * envelopes, decoding JSON envelopes from outside, and calling the
 * receiving actor's handler (or ask callback) by type id; timers too.
 * A record is released (head committed) only after its handler returned,
 * so a crash inside a handler redelivers it to the next instance.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <actors.h>

#include <cjson/cJSON.h>

#include "base64.h"
#include "clock.h"
#include "dyn-remote.h"
#include "handoff.h"
#include "intercept.h"
#include "log.h"
#include "message.h"
#include "topic.h"
#include "worker-int.h"
#include "remote-mon.h" /* after worker-int.h */

void act__w_dead_letter(struct worker *w, const char *why, uint32_t type, uint32_t to)
{
	atomic_fetch_add_explicit(&w->part->n_dead_letters, 1, memory_order_relaxed);
	/* Per actor only for our own actors: their entries have one writer, us. */
	struct act__astat *st = w->shm.stats.base && act__w_local(w, to) ?
	                        act__stats_entry(&w->shm.stats, to) : NULL;
	if (st)
		act__stats_bump(&st->n_dead_letters, 1);
	const act_type *t = (type && type <= w->reg->n_types) ? w->reg->types[type] : NULL;
	act__debug("dead letter: %s (type %s, to %s)", why, t ? t->name : "?",
	           to < w->reg->n_actors ? w->reg->actors[to].name : "?");
}

void act__w_set_ctx(struct worker *w, struct actor *a, const act_type *t, const void *msg,
                    const struct act__env *env, uint32_t redelivered,
                    const struct act__jview *jv)
{
	w->ctx.actor = a;
	w->ctx.env = env;
	w->ctx.type = t;
	w->ctx.msg = msg;
	w->ctx.redelivered = redelivered;
	w->ctx.jv = jv;
}

void act__w_stop_actor(struct worker *w, struct actor *a)
{
	uint32_t slot = (uint32_t)(a - w->actors);

	if (a->stopped)
		return;
	act__timers_cancel_owner(&w->timers, slot);
	act__ask_drop_owner(w, slot);
	/* An actor that stops for good (not its worker shutting down: a
	 * restart brings static actors back) leaves its topics; a spawned one
	 * needs no sweep, its ref no longer matches its slot. */
	if (a->stopping && !a->dynamic)
		act__topic_leave_all(w->shm.xa, a->id);
	act__peer_unwatch_all(w, a);
	if (__builtin_expect(act__ic_n != 0, 0) && !a->init_failed) {
		act__w_set_ctx(w, a, NULL, NULL, NULL, 0, NULL);
		act__ic_stop(&w->ctx);
	}
	if (a->def->b->fini && !a->init_failed) {
		act__w_set_ctx(w, a, NULL, NULL, NULL, 0, NULL);
		w->in_fini = true;
		a->def->b->fini(&w->ctx, a->state);
		w->in_fini = false;
	}
	a->stopped = true;
}

void act__w_invoke_id(struct worker *w, struct actor *a, const act_type *t, uint32_t tid,
                      const void *msg, const struct act__env *env, uint32_t redelivered,
                      const struct act__jview *jv)
{
	act_handler_fn fn = a->by_type[tid];

	/* Start and Shutdown without a handler are simply not needed; they
	 * never reach on_unhandled or the dead letters (but interceptors
	 * still see the Start: it is the actor's start or restart). */
	if (!fn && (t == &act_start_type || t == &act_shutdown_type)) {
		if (__builtin_expect(act__ic_n != 0, 0) && t == &act_start_type) {
			act__w_set_ctx(w, a, t, msg, env, redelivered, jv);
			act__ic_call(&w->ctx, a->state, NULL, t, msg, tid);
		}
		return;
	}
	if (!fn)
		fn = a->def->b->on_unhandled;
	if (!fn) {
		if (t != &act_start_type && t != &act_shutdown_type) {
			atomic_fetch_add_explicit(&w->part->n_unknown_type, 1, memory_order_relaxed);
			act__w_dead_letter(w, "no handler for this type",
			                   act__reg_type_id(w->reg, t), a->id);
			if (jv && env) {
				char why[160];
				snprintf(why, sizeof why, "Actor '%s' has no handler for '%s'",
				         a->def->name, t->name);
				act__w_send_reject(w, env, jv, why);
			}
		}
		return;
	}
	act__w_set_ctx(w, a, t, msg, env, redelivered, jv);
	a->running++;
	/* One predictable branch when no interceptor is registered. */
	if (__builtin_expect(act__ic_n != 0, 0))
		act__ic_around(&w->ctx, a->state, fn, t, msg, tid);
	else
		fn(&w->ctx, a->state, msg);
	if (__builtin_expect(act__w_forked, 0))
		act__w_forked_exit(a); /* the handler forked: this is its child */
	a->running--;
	/* Stopped or failed: ended, or its parent's policy applies (children.c). */
	if (a->stopping && !a->running)
		act__sup_settle(w, a);
}

static void handle_ctrl(struct worker *w, const struct act__env *e)
{
	switch (e->type) {
	case ACT__CTRL_STOP:
		/* A STOP names the worker it is for (its generation; 0 from an
		 * older supervisor: any).  One an earlier worker of this group
		 * never read is not for us. */
		if (e->corr && e->corr != atomic_load_explicit(&w->part->generation,
		                                               memory_order_relaxed)) {
			act__info("a stop request for an earlier worker of this group ignored");
			break;
		}
		/* Stop cleanly: first handle what is already in our rings (the
		 * supervisor's SIGTERM after shutdown_ms bounds this), then run
		 * the Shutdown handlers.  Timers no longer fire. */
		w->draining = true;
		/* A reload restart for new code (handoff.c): stop after this
		 * handler, leave what is queued to the next worker, and hand
		 * the actors' state over. */
		if (act__handoff_wanted()) {
			w->handoff = true;
			w->stopping = true;
		}
		break;
	default:
		atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
		act__warn_every("unknown control record %u ignored", e->type);
	}
}

/*
 * Builds the dead-letter line for a poison envelope and hands it to the
 * supervisor, which appends it to the dead-letter store.  Best effort: the
 * counter is bumped either way.
 */
static void poison(struct worker *w, const struct act__env *e, uint32_t len, uint32_t times)
{
	const struct act__registry *reg = w->reg;
	const char *tname = "?", *sender = "";
	struct act__jview jv;
	cJSON *o = cJSON_CreateObject(), *payload = NULL;
	char reason[128], *text;

	if (!o)
		goto count;
	if (e->rec.flags & ACT__ENV_JSON) {
		if (act__jenv_parse(e, len, &jv) == 0) {
			tname = jv.type;
			sender = jv.peer;
			payload = cJSON_ParseWithLength(jv.json, jv.json_len);
		}
	} else if (e->type && e->type <= reg->n_types) {
		const act_type *t = reg->types[e->type];
		void *msg = (void *)(e + 1);
		int err = 0;
		tname = t->name;
		if (e->from && e->from <= reg->n_actors)
			sender = reg->actors[e->from - 1].name;
		if (!reg->type_check[e->type] || act__msg_fixup(t, msg, len - sizeof *e) == 0)
			payload = act__json_encode_obj(t, msg, &err);
	}
	cJSON_AddNumberToObject(o, "time_ms", (double)act__wall_ms());
	cJSON_AddStringToObject(o, "group", reg->groups[w->self - 1].name);
	const struct actor *ra = act__w_local(w, e->to);
	cJSON_AddStringToObject(o, "receiver", ra && ra->def->name ? ra->def->name : "?");
	cJSON_AddStringToObject(o, "sender", sender);
	cJSON_AddStringToObject(o, "type", tname);
	if (payload) {
		cJSON_AddItemToObject(o, "payload", payload);
	} else if (len - sizeof *e <= 64u * 1024u) {
		size_t n = len - sizeof *e;
		char *b = malloc(act__b64_encoded_len(n) + 1);
		if (b) {
			act__b64_encode(e + 1, n, b);
			cJSON_AddStringToObject(o, "payload_b64", b);
			free(b);
		}
	}
	snprintf(reason, sizeof reason, "killed its group %u times (max_redeliveries %u)",
	         times, w->part->max_redeliveries);
	cJSON_AddStringToObject(o, "reason", reason);
	cJSON_AddNumberToObject(o, "redeliveries", times);
	/* Envelope identity for replay: JSON envelopes keep their origin. */
	cJSON_AddBoolToObject(o, "from_outside", (e->rec.flags & ACT__ENV_JSON) != 0);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (text) {
		if (act__w_send_ctrl_corr(w, ACT__CTRL_DEAD_LETTER,
		                          e->from_peer == ACT__PEER_CLIENT ? e->corr : 0, text,
		                          (uint32_t)strlen(text)))
			act__err_every("dead letter could not reach the supervisor (ring full or too large)");
		free(text);
	}
count:
	act__w_dead_letter(w, "poison message", e->type, e->to);
}

/* Decodes and delivers an envelope that came from outside as JSON (its
 * trailer already parsed into jv). */
static void handle_json(struct worker *w, struct actor *a, const struct act__env *e,
                        const struct act__jview *jv, uint32_t redelivered)
{
	const act_type *t;
	cJSON *obj;
	size_t used;
	char why[256], err[160];
	int rc;

	if (e->rec.flags & ACT__ENV_REPLY) {
		act__ask_remote_reply(w, a, e, jv); /* the gateway matched it to our ask */
		return;
	}
	t = act__reg_type_by_name(w->reg, jv->type);
	/* The one Down that comes as JSON is the supervisor's, for a monitor
	 * of a remote ref (supervisor/peers.c): it carries the monitor's id
	 * in corr, which a network frame or an actorsctl client never sets. */
	bool down_forged = t == &act_down_type &&
	                   !(e->from_peer == ACT__PEER_REMOTE && act__peer_is_monitor(e->corr));
	if (t == &act_start_type || t == &act_timeout_type || t == &act_shutdown_type ||
	    down_forged) {
		/* Lifecycle messages come from the runtime only: a peer must not
		 * be able to fire an actor's timers or restart its run, nor tell
		 * it that an actor it monitors has ended. */
		atomic_fetch_add_explicit(&w->part->n_unknown_type, 1, memory_order_relaxed);
		snprintf(why, sizeof why, "Message type '%s' cannot be sent from outside the node",
		         jv->type);
		act__w_send_reject(w, e, jv, why);
		act__w_dead_letter(w, "built-in type from outside", act__reg_type_id(w->reg, t), e->to);
		return;
	}
	/* A watch's Down (supervisor/peers.c) whose monitor was removed
	 * meanwhile, or belongs to an earlier tenant of the slot: no Down
	 * is owed.  A network frame never carries a monitor id in corr. */
	if (t == &act_down_type && e->from_peer == ACT__PEER_REMOTE &&
	    act__peer_is_monitor(e->corr) && !act__peer_down_arrived(w, a, e->corr)) {
		act__debug("Down of a removed remote monitor dropped");
		return;
	}
	if (!t) {
		atomic_fetch_add_explicit(&w->part->n_unknown_type, 1, memory_order_relaxed);
		snprintf(why, sizeof why, "Unknown message type '%s'", jv->type);
		act__w_send_reject(w, e, jv, why);
		act__w_dead_letter(w, "unknown message type", 0, e->to);
		return;
	}
	obj = cJSON_ParseWithLength(jv->json, jv->json_len);
	rc = act__json_decode_obj(t, obj, w->scratch, w->scratch_cap, &used, err, sizeof err);
	cJSON_Delete(obj);
	if (rc) {
		atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
		snprintf(why, sizeof why, "Cannot decode '%s': %s", jv->type, err);
		act__w_send_reject(w, e, jv, why);
		act__w_dead_letter(w, "undecodable payload", act__reg_type_id(w->reg, t), e->to);
		return;
	}
	if (a->stopped) {
		snprintf(why, sizeof why, "Actor '%s' stopped", a->def->name);
		act__w_send_reject(w, e, jv, why);
		act__w_dead_letter(w, "receiver stopped", act__reg_type_id(w->reg, t), e->to);
		return;
	}
	act__w_invoke(w, a, t, w->scratch, e, redelivered, jv);
}

/* Handles one record of ring h.  Always releases it. */
static void handle_record(struct worker *w, act__ring_h *h, const struct act__rec *rec)
{
	const struct act__registry *reg = w->reg;
	struct act__env *e = (struct act__env *)rec;
	uint32_t redelivered;
	bool json;
	struct act__astat *st;
	uint64_t t0;

	if (rec->kind == ACT__REC_CTRL && rec->len >= sizeof *e) {
		handle_ctrl(w, e);
		act__ring_release(h);
		return;
	}
	if (rec->kind == ACT__REC_SYS && rec->len >= sizeof *e) {
		/* cross-group spawn, stop, monitor (dyn-remote.c) */
		act__dyn_sys(w, (uint32_t)(h - w->in), e);
		act__ring_release(h);
		return;
	}
	json = rec->kind == ACT__REC_MSG && rec->len >= sizeof *e && (rec->flags & ACT__ENV_JSON);
	struct actor *a = rec->kind == ACT__REC_MSG && rec->len >= sizeof *e ?
	                  act__w_local(w, e->to) : NULL;
	if (!a || (!json && (e->type == 0 || e->type > reg->n_types))) {
		atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
		act__warn_every("malformed envelope in ring %u->%u skipped (kind %u, len %u)",
		          h->r->from, h->r->to, rec->kind, rec->len);
		act__ring_release(h);
		return;
	}
	/* A cross-group monitor ends; a Down for one we do not hold is
	 * dropped (dyn-remote.c).  A Down from another group names its
	 * monitor in corr, so the test costs nothing on other envelopes. */
	if (!json && (w->dynx || e->corr) && !act__dyn_down_arrived(w, h->r->from, e)) {
		act__debug("Down of %u for a monitor this worker does not hold: dropped", e->from - 1);
		act__ring_release(h);
		return;
	}

	/* This actor's statistics; a new tenant of a spawn slot starts at zero. */
	st = act__stats_entry(&w->shm.stats, e->to);
	if (st && !(a->dynamic && (a->stopped || a->gen != e->to_gen)))
		act__stats_claim(st, a->dynamic ? a->gen : 0);
	redelivered = act__ring_begin(h);
	if (redelivered) {
		atomic_fetch_add_explicit(&w->part->n_redelivered, 1, memory_order_relaxed);
		if (st)
			act__stats_bump(&st->n_redelivered, 1);
		/* Deaths the supervisor forgave (killed from outside) do not count. */
		uint32_t counted = redelivered - act__ring_forgiven(h);
		if (counted >= w->part->max_redeliveries) {
			/* This envelope was being handled each time the group died:
			 * a poison message.  Park it and move on. */
			act__err_every("envelope to '%s' killed the group %u times: moved to dead letters",
			         a->def->name ? a->def->name : "?", counted);
			poison(w, e, rec->len, counted);
			act__ring_release(h);
			return;
		}
	}

	if (a->dynamic && a->stopped) /* spawned from another group, not started yet? */
		act__dyn_start_pending(w, a, e->to_gen, true);
	/* Only stamped envelopes (one in act__stats_period) are timed: three
	 * clock reads per envelope would double the cost of a small one. */
	t0 = st && e->sent_ns ? act__now_ns() : 0;
	if (a->dynamic && (a->stopped || a->gen != e->to_gen)) {
		/* A ref to a spawned actor that is gone: never its slot's next tenant. */
		act__w_stale_letter(w, a, e);
		st = NULL;
		goto done;
	}
	if (!json && e->type != w->named_type) {
		/* The supervisor may not know module types by id (actorsd binds
		 * them in the zygote): name the type for crash records, once
		 * per change of type. */
		snprintf(w->part->handling_name, sizeof w->part->handling_name, "%s",
		         reg->types[e->type]->name);
		w->named_type = e->type;
	}
	atomic_store_explicit(&w->part->handling_type, json ? 0 : e->type, memory_order_relaxed);
	atomic_store_explicit(&w->part->handling_from, e->from, memory_order_relaxed);
	if (json) {
		struct act__jview jv;
		if (act__jenv_parse(e, rec->len, &jv)) {
			atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
			act__w_dead_letter(w, "malformed JSON envelope", 0, e->to);
			goto done;
		}
		/* For the crash record: the supervisor cannot map a name to an id. */
		snprintf(w->part->handling_name, sizeof w->part->handling_name, "%s", jv.type);
		atomic_store_explicit(&w->part->handling_json, 1, memory_order_relaxed);
		w->named_type = 0;
		handle_json(w, a, e, &jv, redelivered);
		atomic_store_explicit(&w->part->handling_json, 0, memory_order_relaxed);
		goto done;
	}

	const act_type *t = reg->types[e->type];
	void *msg = e + 1;
	size_t plen = rec->len - sizeof *e;

	if (plen < t->size || (reg->type_check[e->type] && act__msg_fixup(t, msg, plen))) {
		atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
		act__w_dead_letter(w, "payload does not match its type", e->type, e->to);
		goto done;
	}
	if (a->stopped) {
		act__w_dead_letter(w, "receiver stopped", e->type, e->to);
		goto done;
	}
	if (rec->flags & ACT__ENV_REPLY) {
		struct ask *k = act__ask_find(w, e->corr);
		if (k && k->slot == (uint32_t)(a - w->actors))
			act__ask_deliver(w, a, k, t, msg, e);
		else
			act__w_dead_letter(w, "reply after its ask timed out", e->type, e->to);
	} else {
		act__w_invoke_id(w, a, t, e->type, msg, e, redelivered, NULL); /* t's id */
	}
done:
	atomic_store_explicit(&w->part->handling_type, 0, memory_order_relaxed);
	if (st) {
		act__stats_bump(&st->n_handled, 1);
		if (t0) {
			uint64_t ns = act__now_ns() - t0;
			act__stats_waited(st, e->sent_ns, t0);
			act__stats_timed(st, ns);
			if (!json)
				act__tstat_timed(reg, e->type, ns); /* per type (intercept.c) */
		}
	}
	/* Single writer: a plain increment, no locked instruction. */
	atomic_store_explicit(&w->part->n_handled,
	    atomic_load_explicit(&w->part->n_handled, memory_order_relaxed) + 1,
	    memory_order_relaxed);
	act__ring_release(h);
}

void act__w_quarantine(struct worker *w, uint32_t s, struct act__ring *r, const char *why)
{
	uint64_t bit = 1ull << (s % 64u);

	if (w->quarantined[s / 64u] & bit)
		return;
	w->quarantined[s / 64u] |= bit;
	w->pending[s / 64u] &= ~bit;
	atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
	if (r) {
		act__ring_quarantine(r);
		/* A ring nobody formatted (a scribbler wrote into it without
		 * reserving): format it and mark it touched, so the flag is
		 * seen by the next instance of this group and by status. */
		if (w->in[s].r == r && w->in[s].touch_word)
			act__ring_touch(&w->in[s]);
	}
	act__err("ring %u->%u quarantined: %s; its envelopes are no longer read, the other "
	         "rings are served", s, w->self, why);
}

static inline bool is_quarantined(const struct worker *w, uint32_t s)
{
	return (w->quarantined[s / 64u] >> (s % 64u)) & 1u;
}

/* Drains up to BATCH records from ring s.  Returns how many were handled. */
static unsigned drain(struct worker *w, uint32_t s)
{
	act__ring_h *h = &w->in[s];
	unsigned n = 0;
	int err;

	while (n < BATCH && !w->stopping) {
		const struct act__rec *rec = act__ring_peek(h, &err);
		if (!rec) {
			/* A bad record header or position cannot be resynchronised
			 * (records carry no sync marks), and a producer that wrote
			 * one may write more: read this ring no further. */
			if (err)
				act__w_quarantine(w, s, h->r, "corrupt record header or position");
			return n;
		}
		handle_record(w, h, rec);
		act__w_flush_notify(w);
		n++;
	}
	/* Cut off by the batch (or a stop): look again next round, and let
	 * the producer see the room we made meanwhile. */
	act__ring_publish(h);
	w->pending[s / 64u] |= 1ull << (s % 64u);
	return n;
}

bool act__w_any_ring_nonempty(struct worker *w)
{
	for (uint32_t s = 0; s < w->n_parts; s++)
		if (!is_quarantined(w, s) && act__ring_nonempty(&w->in[s]))
			return true;
	return false;
}

bool act__w_work_waiting(struct worker *w)
{
	for (unsigned i = 0; i < ACT__READY_WORDS; i++)
		if (w->pending[i])
			return true;
	if (w->part->scan_all)
		return act__w_any_ring_nonempty(w);
	/* Relaxed: a hint to stop spinning; act__w_poll_rings() takes the
	 * bits with the exchange that orders what follows. */
	for (unsigned i = 0; i < ACT__READY_WORDS; i++)
		if (atomic_load_explicit(&w->part->ready[i], memory_order_relaxed))
			return true;
	return false;
}

unsigned act__w_poll_rings(struct worker *w)
{
	uint64_t bits[ACT__READY_WORDS];
	unsigned n = 0;

	if (w->part->scan_all) {
		/* Few inbound rings: look at each tail (a cache hit unless its
		 * producer wrote) instead of sharing a bitmap line with them. */
		for (uint32_t s = 0; s < w->n_parts; s++) {
			uint64_t bit = 1ull << (s % 64u);
			if (w->quarantined[s / 64u] & bit)
				continue;
			if ((w->pending[s / 64u] & bit) || act__ring_nonempty(&w->in[s])) {
				w->pending[s / 64u] &= ~bit;
				n += drain(w, s);
			}
		}
		if (w->dynx)
			act__dyn_gone_flush(w);
		if (w->n_dw)
			n += act__dyn_downs_flush(w);
		return n;
	}

	act__doorbell_take(w->part, bits);
	for (unsigned i = 0; i < ACT__READY_WORDS; i++) {
		bits[i] = (bits[i] | w->pending[i]) & ~w->quarantined[i];
		w->pending[i] = 0;
	}
	for (unsigned i = 0; i < ACT__READY_WORDS; i++) {
		while (bits[i]) {
			uint32_t s = i * 64u + (uint32_t)__builtin_ctzll(bits[i]);
			bits[i] &= bits[i] - 1;
			if (s < w->n_parts)
				n += drain(w, s);
		}
	}
	if (w->dynx)
		act__dyn_gone_flush(w);
	/* After the drain: a Down to ourselves finds the room it made. */
	if (w->n_dw)
		n += act__dyn_downs_flush(w);
	return n;
}

unsigned act__w_run_timers(struct worker *w, uint64_t now)
{
	uint32_t owner;
	int64_t id;
	unsigned n = 0;

	while (!w->stopping && act__timers_pop_due(&w->timers, now, &owner, &id)) {
		n++;
		if (owner & ASK_OWNER_BIT) {
			act__ask_expire(w, (uint64_t)id);
			continue;
		}
		if (owner >= w->n_slots || w->actors[owner].stopped)
			continue;
		act_timeout tm = { id };
		act__w_invoke(w, &w->actors[owner], &act_timeout_type, &tm, NULL, 0, NULL);
	}
	return n;
}
