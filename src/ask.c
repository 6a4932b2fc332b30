/* SPDX-License-Identifier: MIT */
/*
 * ask.c - the worker's table of outstanding asks: correlation id -> the
 * asking actor, its callback and cookie.  Open addressing with linear
 * probing and backward-shift deletion, sized once (ASK_SLOTS); the ask's
 * timeout is a timer owned by (slot | ASK_OWNER_BIT) whose id is the
 * correlation id.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <actors.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "log.h"
#include "message.h"
#include "worker-int.h"

struct ask *act__ask_find(struct worker *w, uint64_t corr)
{
	for (uint32_t i = (uint32_t)(corr * 0x9e3779b97f4a7c15ull >> 52) & (ASK_SLOTS - 1);;
	     i = (i + 1) & (ASK_SLOTS - 1)) {
		if (w->asks[i].corr == corr)
			return &w->asks[i];
		if (!w->asks[i].corr)
			return NULL;
	}
}

struct ask *act__ask_insert(struct worker *w, uint64_t corr)
{
	for (uint32_t i = (uint32_t)(corr * 0x9e3779b97f4a7c15ull >> 52) & (ASK_SLOTS - 1);;
	     i = (i + 1) & (ASK_SLOTS - 1))
		if (!w->asks[i].corr) {
			w->asks[i].corr = corr;
			w->n_asks++;
			return &w->asks[i];
		}
}

/* Removes an entry with backward-shift deletion (no tombstones). */
void act__ask_remove(struct worker *w, struct ask *a)
{
	uint32_t i = (uint32_t)(a - w->asks), j = i;
	w->n_asks--;
	for (;;) {
		w->asks[i].corr = 0;
		for (;;) {
			j = (j + 1) & (ASK_SLOTS - 1);
			if (!w->asks[j].corr)
				return;
			uint32_t home = (uint32_t)(w->asks[j].corr * 0x9e3779b97f4a7c15ull >> 52) &
			                (ASK_SLOTS - 1);
			/* Can entry j move to the hole at i? Only if its home is
			 * not cyclically inside (i, j]. */
			if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
				break;
		}
		w->asks[i] = w->asks[j];
		i = j;
	}
}

void act__ask_drop_owner(struct worker *w, uint32_t slot)
{
	act__timers_cancel_owner(&w->timers, slot | ASK_OWNER_BIT);
	/* Every actor's end comes here (a spawned actor's too): without asks
	 * outstanding there is nothing to scan the table for. */
	for (uint32_t i = 0; w->n_asks && i < ASK_SLOTS; i++)
		if (w->asks[i].corr && w->asks[i].slot == slot) {
			act__ask_remove(w, &w->asks[i]);
			i--; /* backward shift may have moved another entry here */
		}
}

/* Folds the time ask k took into the worker's average (worker-int.h). */
static void ask_timed(struct worker *w, const struct ask *k)
{
	if (w->tk || !k->sent_ns)
		return; /* virtual time (testkit): nothing to learn */
	uint64_t took = act__now_ns() - k->sent_ns;
	w->ask_avg_ns = w->ask_avg_ns ? w->ask_avg_ns - w->ask_avg_ns / 8 + took / 8 : took;
}

/* Completes ask k of actor a with status (and the reply, if any). */
static void complete(struct worker *w, struct actor *a, struct ask *k, int status,
                     const act_type *t, const void *msg, const struct act__env *env,
                     const struct act__jview *jv)
{
	act_ask_fn cb = k->cb;
	uint64_t cookie = k->cookie;

	act__timers_cancel(&w->timers, k->slot | ASK_OWNER_BIT, (int64_t)k->corr);
	ask_timed(w, k);
	act__ask_remove(w, k);
	act__w_set_ctx(w, a, t, msg, env, 0, jv);
	cb(&w->ctx, a->state, status, t, msg, cookie);
	/* As after a handler: Down, the record freed, or the parent's policy. */
	if (a->stopping && !a->running)
		act__sup_settle(w, a);
}

void act__ask_deliver(struct worker *w, struct actor *a, struct ask *k, const act_type *t,
                      const void *msg, const struct act__env *env)
{
	complete(w, a, k, 0, t, msg, env, NULL);
}

/*
 * The answer to a remote ask, as JSON: the gateway matched the name the
 * ask was sent under and flagged the envelope REPLY with our corr.  A
 * Reject completes the ask with ACT_EREJECTED and the act_reject; a type
 * we do not know, a built-in lifecycle type or a message that does not
 * decode completes it with ACT_EPROTO (logged), so the asker learns at
 * once rather than at its timeout.  Never answered with a Reject: the
 * peer sent a reply, not a request.
 */
void act__ask_remote_reply(struct worker *w, struct actor *a, const struct act__env *e,
                           const struct act__jview *jv)
{
	struct ask *k = act__ask_find(w, e->corr);
	const act_type *t;
	char err[160];
	int status = 0;

	if (!k || k->slot != (uint32_t)(a - w->actors)) {
		act__w_dead_letter(w, "remote reply after its ask timed out", 0, e->to);
		return;
	}
	t = act__reg_type_by_name(w->reg, jv->type);
	if (!t || t == &act_start_type || t == &act_timeout_type || t == &act_shutdown_type ||
	    t == &act_down_type) {
		act__warn_every("actor '%s': the reply to its remote ask has type '%.64s', which it "
		                "cannot take: the ask fails with -EPROTO", a->def->name, jv->type);
		complete(w, a, k, ACT_EPROTO, NULL, NULL, e, jv);
		return;
	}
	cJSON *obj = cJSON_ParseWithLength(jv->json, jv->json_len);
	size_t used;
	int rc = act__json_decode_obj(t, obj, w->scratch, w->scratch_cap, &used, err, sizeof err);
	cJSON_Delete(obj);
	if (rc) {
		atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
		act__warn_every("actor '%s': the %s reply to its remote ask does not decode (%s): "
		                "the ask fails with -EPROTO", a->def->name, t->name, err);
		complete(w, a, k, ACT_EPROTO, NULL, NULL, e, jv);
		return;
	}
	if (t == &act_reject_type)
		status = ACT_EREJECTED;
	complete(w, a, k, status, t, w->scratch, e, jv);
}

void act__ask_expire(struct worker *w, uint64_t corr)
{
	struct ask *k = act__ask_find(w, corr);
	if (!k)
		return;
	struct actor *a = &w->actors[k->slot];
	act_ask_fn cb = k->cb;
	uint64_t cookie = k->cookie;
	ask_timed(w, k);
	act__ask_remove(w, k);
	act__w_set_ctx(w, a, NULL, NULL, NULL, 0, NULL);
	cb(&w->ctx, a->state, ACT_ETIMEDOUT, NULL, NULL, cookie);
	if (a->stopping && !a->running)
		act__sup_settle(w, a);
}
