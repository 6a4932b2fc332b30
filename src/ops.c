/* SPDX-License-Identifier: MIT */
/*
 * ops.c - the operations a handler calls through its context: send, reply,
 * forward, ask, timers, names, stop; and the envelope senders under them
 * (to a local actor's group, to the supervisor, to a party outside the
 * node as JSON).  Every operation returns 0 or a negative error code and
 * never blocks.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <actors.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "log.h"
#include "message.h"
#include "pool.h"
#include "worker-int.h"

/* ---- sending --------------------------------------------------------------- */

/*
 * Every envelope leaves through these two: into the ring to participant g,
 * or, in a testkit (w->tk set, see testkit.c), into the testkit's FIFO.
 * The envelope is written the same way either way; the branch is one
 * predictable test of a pointer that a real worker never sets.
 */
/* Out of line and cold: inlined, it cost the send path ~20 ns of round
 * trip (pingpong_spin_rtt, alternating runs), its layout, not its work. */
__attribute__((cold, noinline)) void act__w_flush_one(struct worker *w, uint32_t g)
{
	uint64_t bit = 1ull << (g % 64u);

	if (!(w->dirty[g / 64u] & bit)) {
		act__ring_show(&w->out[g]);
		return;
	}
	w->dirty[g / 64u] &= ~bit;
	act__w_ring(w, g);
}

static inline struct act__env *out_reserve(struct worker *w, uint32_t g, uint32_t len, int *err)
{
	if (__builtin_expect(w->tk != NULL, 0))
		return act__tk_reserve(w->tk, len, err);
	/* A group a reload removed, or one gone until an operator restarts
	 * it, is refused at the call (a line every sender reads and the
	 * supervisor writes only at a reload or a group's end): nothing waits
	 * in a ring that no worker will read. */
	if (__builtin_expect(g != ACT__SUPERVISOR && (*err = act__part_refuses(w->parts[g])), 0))
		return NULL;
	void *rec = act__ring_reserve(&w->out[g], len, err);
	/* No room: what this burst committed but has not published yet (ring.h,
	 * act__ring_commit_batched()) is published now, and the receiver's
	 * doorbell rung, or a sender that retries until there is room would
	 * wait for its own records, or for a receiver asleep on them. */
	if (__builtin_expect(!rec, 0))
		act__w_flush_one(w, g);
	return rec;
}

static inline void out_commit(struct worker *w, uint32_t g, struct act__env *e)
{
	if (__builtin_expect(w->tk != NULL, 0)) {
		act__tk_commit(w->tk, e);
		return;
	}
	/* To another participant: published in steps within a burst, and
	 * wholly by act__w_flush_notify() with its doorbell (ring.h). */
	if (g != w->self)
		act__ring_commit_batched(&w->out[g], e);
	else
		act__ring_commit(&w->out[g], e);
	act__w_notify(w, g);
}

/* How send_env() treats the records waiting in this worker for room in
 * the receiver's group's ring (Downs, withdrawals, answers; dynamic.c). */
enum send_mode {
	SEND_NOW,    /* tries the ring whatever waits (internal senders) */
	SEND_BEHIND, /* act_send, act_ask, a plain act_reply: ACT_EFULL
	              * while records wait (they would overtake them) */
	SEND_KEEP,   /* an answer to an ask: waits behind them, and waits
	              * too if the ring is full (it cannot be sent again
	              * after its handler) */
};

/* Writes the envelope of (t, msg) at e: len bytes; var: t has variable-length fields. */
static inline void env_fill(struct act__env *e, uint32_t len, bool var, const act_type *t,
                            const void *msg, const struct act__route *r)
{
	act__env_write(e, ACT__REC_MSG, len, r);
	if (var)
		act__msg_pack(t, msg, e + 1);
	else
		memcpy(e + 1, msg, t->size);
}

/* SEND_KEEP's wait: a copy of the envelope joins the waiting records. */
static __attribute__((cold, noinline)) int keep_env(struct worker *w, uint32_t g, uint32_t len,
                                                    bool var, const act_type *t,
                                                    const void *msg, const struct act__route *r)
{
	struct act__env *e = malloc(len);
	if (!e)
		return ACT_EFULL;
	env_fill(e, len, var, t, msg, r);
	return act__dyn_env_wait(w, g, e);
}

/* act__w_send_env() for a caller that knows t's id (check_target() found
 * it): one hash lookup per send, not two. */
static inline int send_env(struct worker *w, uint32_t to, uint32_t to_gen, const act_type *t,
                           uint32_t tid, const void *msg, uint32_t from, uint32_t from_gen,
                           uint16_t flags, uint64_t corr, enum send_mode mode)
{
	const struct act__registry *reg = w->reg;
	uint32_t g = act__w_group_of(w, to);
	if (to < reg->n_actors && reg->groups[g - 1].pool_first) /* an actor of a pool */
		g = act__pool_member_w(w, g, to, t, msg, flags, corr);
	bool var = reg->type_has_var[tid];
	size_t psize = var ? act__msg_packed_size(t, msg) : t->size;
	int err;

	if (psize > UINT32_MAX - sizeof(struct act__env))
		return -EMSGSIZE;
	uint32_t len = (uint32_t)(sizeof(struct act__env) + psize);
	const struct act__route r = { .type = tid, .to = to, .from = from, .flags = flags,
	                              .corr = corr, .to_gen = to_gen, .from_gen = from_gen };
	if (mode != SEND_NOW && __builtin_expect(w->n_dw != 0, 0) && act__dyn_downs_ahead(w, g)) {
		err = mode == SEND_KEEP ? keep_env(w, g, len, var, t, msg, &r) : ACT_EFULL;
		if (err)
			act__stats_refused(&w->shm.stats, to);
		return err;
	}
	struct act__env *e = out_reserve(w, g, len, &err);
	if (!e) {
		if (mode == SEND_KEEP && err == ACT_EFULL && !w->tk)
			err = keep_env(w, g, len, var, t, msg, &r);
		if (err)
			act__stats_refused(&w->shm.stats, to);  /* per-actor "refused" */
		return err;
	}
	env_fill(e, len, var, t, msg, &r);
	out_commit(w, g, e);
	return 0;
}

int act__w_send_copy(struct worker *w, uint32_t g, const struct act__env *src)
{
	int err;
	struct act__env *e = out_reserve(w, g, src->rec.len, &err);
	if (!e)
		return err;
	memcpy(e, src, src->rec.len);
	out_commit(w, g, e);
	return 0;
}

int act__w_send_env(struct worker *w, uint32_t to, uint32_t to_gen, const act_type *t,
                    const void *msg, uint32_t from, uint32_t from_gen, uint16_t flags,
                    uint64_t corr)
{
	return send_env(w, to, to_gen, t, act__reg_type_id(w->reg, t), msg, from, from_gen, flags,
	                corr, SEND_NOW);
}

int act__w_send_ctrl(struct worker *w, uint32_t code, const void *payload, uint32_t len)
{
	return act__w_send_ctrl_corr(w, code, 0, payload, len);
}

int act__w_send_ctrl_corr(struct worker *w, uint32_t code, uint64_t corr, const void *payload,
                          uint32_t len)
{
	int err;

	/* The supervisor may act on this at once (act_shutdown() stops the
	 * node, whose groups then handle what their rings hold): publish
	 * everything sent before it first, bursts included (ring.h). */
	if (__builtin_expect(w->tk == NULL, 1))
		act__w_flush_notify(w);
	struct act__env *e = out_reserve(w, ACT__SUPERVISOR, (uint32_t)sizeof *e + len, &err);
	if (!e)
		return err;
	act__env_write(e, ACT__REC_CTRL, (uint32_t)sizeof *e + len,
	               &(struct act__route){ .type = code, .from = w->self, .corr = corr });
	if (len)
		memcpy(e + 1, payload, len);
	out_commit(w, ACT__SUPERVISOR, e);
	return 0;
}

/*
 * Sends JSON text to a party outside the node (remote actor or client)
 * through the supervisor's ring.
 */
static int send_outside_json(struct worker *w, const char *peer, const char *endpoint,
                             const char *type, const char *json, size_t json_len,
                             uint32_t from, uint16_t flags, uint64_t corr)
{
	size_t len = act__jenv_size(strlen(peer), strlen(endpoint), strlen(type), json_len);
	int err;

	if (len > UINT32_MAX)
		return -EMSGSIZE;
	struct act__env *e = out_reserve(w, ACT__SUPERVISOR, (uint32_t)len, &err);
	if (!e)
		return err;
	act__jenv_write(e, &(struct act__route){ .to = ACT__TO_OUTSIDE, .from = from,
	                                         .flags = flags, .corr = corr },
	                peer, endpoint, type, json, json_len);
	out_commit(w, ACT__SUPERVISOR, e);
	return 0;
}

static int send_outside(struct worker *w, const char *peer, const char *endpoint,
                        const act_type *t, const void *msg, uint32_t from, uint16_t flags,
                        uint64_t corr)
{
	size_t jl;
	int err = act_json_encode(t, msg, w->jbuf, w->jbuf_cap, &jl);
	if (err)
		return err;
	return send_outside_json(w, peer, endpoint, t->name, w->jbuf, jl, from, flags, corr);
}

/*
 * A request to a remote actor: an outbound envelope flagged ASK with its
 * correlation id.  The supervisor's gateway gives it a sender name of its
 * own (supervisor/remote-ask.c) and routes what comes back to that name here as a reply;
 * to_gen, unused outbound, carries the ask's timeout so that the gateway
 * retires the name when the asker stops waiting.
 */
static int send_remote_ask(struct worker *w, const struct remote *r, const act_type *t,
                           const void *msg, const struct actor *a, uint64_t corr,
                           uint32_t timeout_ms)
{
	size_t jl, len;
	int err = act_json_encode(t, msg, w->jbuf, w->jbuf_cap, &jl);

	if (err)
		return err;
	len = act__jenv_size(strlen(r->name), strlen(r->endpoint), strlen(t->name), jl);
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	struct act__env *e = out_reserve(w, ACT__SUPERVISOR, (uint32_t)len, &err);
	if (!e)
		return err;
	act__jenv_write(e, &(struct act__route){ .to = ACT__TO_OUTSIDE, .from = a->id + 1,
	                                         .from_gen = a->gen, .flags = ACT__ENV_ASK,
	                                         .corr = corr, .to_gen = timeout_ms },
	                r->name, r->endpoint, t->name, w->jbuf, jl);
	out_commit(w, ACT__SUPERVISOR, e);
	return 0;
}

void act__w_send_reject(struct worker *w, const struct act__env *e, const struct act__jview *jv,
                        const char *reason)
{
	cJSON *o;
	char *text;

	/* Never answer a Reject with a Reject, and only addressable senders. */
	if (!strcmp(jv->type, "Reject") || (!jv->peer_len && e->from_peer != ACT__PEER_CLIENT))
		return;
	o = cJSON_CreateObject();
	if (!o)
		return;
	cJSON_AddStringToObject(o, "message_type", jv->type);
	cJSON_AddStringToObject(o, "reason", reason);
	cJSON_AddStringToObject(o, "rejected_by", e->to < w->reg->n_actors ?
	                        w->reg->actors[e->to].name : "?");
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!text)
		return;
	send_outside_json(w, jv->peer, jv->endpoint, "Reject", text, strlen(text),
	                  e->to + 1, (e->rec.flags & ACT__ENV_ASK) ? ACT__ENV_REPLY : 0, e->corr);
	free(text);
}

/* Logs a failed use of type t by actor a, the first time for this pair. */
static void warn_type(struct worker *w, const struct actor *a, const act_type *t,
                      const char *why)
{
	const char *name = t && t->name ? t->name : "(null)";

	for (uint32_t i = 0; i < w->n_warned; i++)
		if (w->warned[i].actor == a->id && w->warned[i].type == t)
			return;
	if (w->n_warned < sizeof w->warned / sizeof w->warned[0]) {
		w->warned[w->n_warned].actor = a->id;
		w->warned[w->n_warned].type = t;
		w->n_warned++;
		act__err("actor '%s' used message type '%s', %s: the send failed with -EINVAL "
		         "(logged once per actor and type)", a->def->name, name, why);
	} else {
		act__err_every("actor '%s' used message type '%s', %s: the send failed with -EINVAL",
		               a->def->name, name, why);
	}
}

/*
 * The slow path of known_type(): t is not (this process's copy of) a
 * registered descriptor.  A descriptor with the layout of a registered
 * type of the same name is that type (say, a copy a module made); anything
 * else cannot be sent, since the receiver could not tell what it is.
 */
__attribute__((noinline))
static const act_type *resolve_type(struct worker *w, const struct actor *a, const act_type *t)
{
	const struct act__registry *reg = w->reg;
	const act_type *same;

	if (!t || !t->name) {
		warn_type(w, a, t, "which is not a message type");
		return NULL;
	}
	same = act__reg_type_by_name(reg, t->name);
	if (same && act__type_same_shape(same, t))
		return same;
	warn_type(w, a, t, same ? "whose layout differs from the registered type of that name"
	                        : "which this node does not know (declare it with "
	                          "ACT_MESSAGE_TYPE or act_type_declare() before the node starts)");
	return NULL;
}

/* The registered descriptor for t, or NULL (logged), and its id in *tid.
 * Inline: on every send. */
static inline const act_type *known_type_id(struct worker *w, const struct actor *a,
                                            const act_type *t, uint32_t *tid)
{
	if ((*tid = act__reg_type_id(w->reg, t)))
		return t;
	if ((t = resolve_type(w, a, t)))
		*tid = act__reg_type_id(w->reg, t);
	return t;
}

static inline const act_type *known_type(struct worker *w, const struct actor *a,
                                         const act_type *t)
{
	uint32_t tid;
	return known_type_id(w, a, t, &tid);
}

/*
 * Checks a send of *t from actor a to `to`: 0, -ENOENT (unknown ref) or
 * -EINVAL (unknown type, logged once).  On success *t is the registered
 * descriptor, which is what the envelope is built from.
 */
static int check_target(struct worker *w, const struct actor *a, act_ref to,
                        const act_type **t, uint32_t *tid)
{
	if (to.peer) {
		if (to.peer > w->n_remotes)
			return -ENOENT;
	} else if (to.id == 0 || to.id > w->reg->n_actors) {
		/* A spawned actor: a stale ref to one of our own group is known
		 * stale here, without touching shared memory; one of another
		 * group is found stale by its receiver (a dead letter). */
		uint32_t g = act__w_group_of(w, to.id - 1);
		if (!g || !to.gen)
			return -ENOENT;
		if (g == w->self) {
			const struct actor *r = act__w_local(w, to.id - 1);
			if (r->stopped || r->gen != to.gen)
				return -ENOENT;
		}
	}
	if (!(*t = known_type_id(w, a, *t, tid)))
		return -EINVAL;
	return 0;
}

int act__w_send_as(struct worker *w, const struct actor *a, uint32_t from, act_ref to,
                   const act_type *t, const void *msg)
{
	uint32_t tid;
	int err = check_target(w, a, to, &t, &tid);
	if (err)
		return err;
	if (to.peer) {
		const struct remote *r = &w->remotes[to.peer - 1];
		return send_outside(w, r->name, r->endpoint, t, msg, from, 0, 0);
	}
	return send_env(w, to.id - 1, to.gen, t, tid, msg, from, a ? a->gen : 0, 0, 0, SEND_BEHIND);
}

ACT_API int act_send(act_ctx *ctx, act_ref to, const act_type *t, const void *msg)
{
	uint32_t tid;
	int err = check_target(ctx->w, ctx->actor, to, &t, &tid);
	if (err)
		return err;
	if (ctx->w->in_fini)
		return ACT_ESTOPPED;
	if (to.peer) {
		const struct remote *r = &ctx->w->remotes[to.peer - 1];
		return send_outside(ctx->w, r->name, r->endpoint, t, msg, ctx->actor->id + 1, 0, 0);
	}
	return send_env(ctx->w, to.id - 1, to.gen, t, tid, msg, ctx->actor->id + 1,
	                ctx->actor->gen, 0, 0, SEND_BEHIND);
}

ACT_API int act_reply(act_ctx *ctx, const act_type *t, const void *msg)
{
	const struct act__env *e = ctx->env;
	act_ref to;
	uint32_t tid;
	int err;

	if (e && ctx->jv) {
		/* The sender is outside the node: answer through the supervisor. */
		if (!(t = known_type(ctx->w, ctx->actor, t)))
			return -EINVAL;
		if (ctx->w->in_fini)
			return ACT_ESTOPPED;
		if (!ctx->jv->peer_len && e->from_peer != ACT__PEER_CLIENT)
			return -ENOENT; /* anonymous remote sender: cannot be answered */
		return send_outside(ctx->w, ctx->jv->peer, ctx->jv->endpoint, t, msg,
		                    ctx->actor->id + 1,
		                    (e->rec.flags & ACT__ENV_ASK) ? ACT__ENV_REPLY : 0, e->corr);
	}
	if (!e || !e->from)
		return -ENOENT;
	to.id = e->from;
	to.peer = e->from_peer;
	to.gen = e->from_gen;
	if ((err = check_target(ctx->w, ctx->actor, to, &t, &tid)))
		return err;
	if (ctx->w->in_fini)
		return ACT_ESTOPPED;
	/* The answer to an ask waits in this worker if it finds the ring
	 * full (or records waiting ahead of it); a plain reply is a send
	 * like act_send's, refused while such records wait (it would
	 * overtake an answer of ours among them). */
	if (e->rec.flags & ACT__ENV_ASK)
		return send_env(ctx->w, to.id - 1, to.gen, t, tid, msg, ctx->actor->id + 1,
		                ctx->actor->gen, ACT__ENV_REPLY, e->corr, SEND_KEEP);
	return send_env(ctx->w, to.id - 1, to.gen, t, tid, msg, ctx->actor->id + 1,
	                ctx->actor->gen, 0, 0, SEND_BEHIND);
}

ACT_API int act_forward(act_ctx *ctx, act_ref to)
{
	struct worker *w = ctx->w;
	const struct act__env *src = ctx->env;
	int err;

	if (!src)
		return -EINVAL;
	if (to.peer) {
		if (to.peer > w->n_remotes)
			return -ENOENT;
		const struct remote *r = &w->remotes[to.peer - 1];
		return send_outside(w, r->name, r->endpoint, ctx->type, ctx->msg, src->from, 0, 0);
	}
	uint32_t g = to.id ? act__w_group_of(w, to.id - 1) : 0;
	if (!g || (act__is_dyn_id(to.id - 1) && !to.gen))
		return -ENOENT;
	if (ctx->jv) {
		/* Came from outside as JSON: re-send the decoded message. */
		return act__w_send_env(w, to.id - 1, to.gen, ctx->type, ctx->msg, 0, 0, 0, 0);
	}
	if (to.id <= w->reg->n_actors && w->reg->groups[g - 1].pool_first)
		g = act__pool_member_w(w, g, to.id - 1, ctx->type, ctx->msg, src->rec.flags & ~ACT__ENV_REPLY,
		                       src->corr);
	struct act__env *e = out_reserve(w, g, src->rec.len, &err);
	if (!e) {
		act__stats_refused(&w->shm.stats, to.id - 1);
		return err;
	}
	/* A forwarded reply is a plain message to its new receiver, who has
	 * no ask waiting for it.  (A forwarded ask stays an ask.) */
	bool reply = src->rec.flags & ACT__ENV_REPLY;
	act__env_write(e, src->rec.kind, src->rec.len,
	               &(struct act__route){
	                   .type = src->type, .to = to.id - 1, .from = src->from,
	                   .from_peer = src->from_peer, .corr = reply ? 0 : src->corr,
	                   .flags = (uint16_t)(src->rec.flags & ~ACT__ENV_REPLY),
	                   .to_gen = to.gen, .from_gen = src->from_gen });
	/* The payload's act_buf pointers were fixed up in place for this
	 * process; the receiver recomputes them from the offsets. */
	memcpy(e + 1, src + 1, src->rec.len - sizeof *e);
	out_commit(w, g, e);
	return 0;
}

/* now + ms, saturating: a delay too large to represent means "never".
 * A testkit's worker runs on its virtual clock. */
static uint64_t worker_now(const struct worker *w)
{
	return __builtin_expect(w->tk != NULL, 0) ? w->vnow_ns : act__now_ns();
}

static uint64_t deadline_from(uint64_t now, uint64_t ms)
{
	uint64_t ns, d;
	if (__builtin_mul_overflow(ms, 1000000u, &ns) ||
	    __builtin_add_overflow(now, ns, &d))
		return UINT64_MAX;
	return d;
}

static uint64_t deadline_after_ms(const struct worker *w, uint64_t ms)
{
	return deadline_from(worker_now(w), ms);
}

static uint64_t ms_to_ns_sat(uint64_t ms)
{
	uint64_t ns;
	return __builtin_mul_overflow(ms, 1000000u, &ns) ? UINT64_MAX : ns;
}

/*
 * Before the first ask of this worker process: its ids start at a random
 * point of their 48 bits.  An answer to an ask of an earlier worker of the
 * group (still in a ring, or waiting in the answering worker) must find no
 * ask of ours with its id, and be a dead letter; when every worker counted
 * from 1, the restarted worker's first ask took the old first ask's answer.
 * A testkit counts from 1: its runs are reproducible.
 */
static void corr_seed(struct worker *w)
{
	uint64_t r = 0;
	w->corr_seeded = true;
	if (w->tk)
		return;
	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
		r = act__now_ns() * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() << 20;
	w->next_corr = r;
}

ACT_API int act_ask(act_ctx *ctx, act_ref to, const act_type *t, const void *msg,
                    uint32_t timeout_ms, act_ask_fn cb, uint64_t cookie)
{
	struct worker *w = ctx->w;
	uint32_t slot = (uint32_t)(ctx->actor - w->actors);
	uint64_t corr;
	struct ask *a;
	uint32_t tid;
	int err;

	if (!cb)
		return -EINVAL;
	if (w->in_fini)
		return ACT_ESTOPPED;
	if ((err = check_target(w, ctx->actor, to, &t, &tid)))
		return err;
	if (w->n_asks >= ASK_MAX)
		return -ENOSPC;
	if (__builtin_expect(!w->corr_seeded, 0))
		corr_seed(w);
	corr = ((uint64_t)w->self << 48) | (++w->next_corr & 0xffffffffffffull);
	if (!corr)
		corr = 1;
	uint64_t now = worker_now(w);
	err = act__timers_set(&w->timers, slot | ASK_OWNER_BIT, (int64_t)corr,
	                      deadline_from(now, timeout_ms), 0);
	if (err)
		return err;
	if (to.peer)
		err = send_remote_ask(w, &w->remotes[to.peer - 1], t, msg, ctx->actor, corr,
		                      timeout_ms);
	else
		err = send_env(w, to.id - 1, to.gen, t, tid, msg, ctx->actor->id + 1,
		               ctx->actor->gen, ACT__ENV_ASK, corr, SEND_BEHIND);
	if (err) {
		act__timers_cancel(&w->timers, slot | ASK_OWNER_BIT, (int64_t)corr);
		return err;
	}
	a = act__ask_insert(w, corr);
	a->slot = slot;
	a->cb = cb;
	a->cookie = cookie;
	a->sent_ns = now;
	return 0;
}

/* ---- timers ---------------------------------------------------------------- */


ACT_API int act_timer_once(act_ctx *ctx, uint64_t delay_ms, int64_t id)
{
	uint32_t slot = (uint32_t)(ctx->actor - ctx->w->actors);
	if (ctx->w->in_fini)
		return ACT_ESTOPPED;
	return act__timers_set(&ctx->w->timers, slot, id, deadline_after_ms(ctx->w, delay_ms), 0);
}

ACT_API int act_timer_periodic(act_ctx *ctx, uint64_t period_ms, int64_t id)
{
	uint32_t slot = (uint32_t)(ctx->actor - ctx->w->actors);
	if (period_ms == 0)
		return -EINVAL;
	if (ctx->w->in_fini)
		return ACT_ESTOPPED;
	return act__timers_set(&ctx->w->timers, slot, id, deadline_after_ms(ctx->w, period_ms),
	                       ms_to_ns_sat(period_ms));
}

ACT_API int act_timer_cancel(act_ctx *ctx, int64_t id)
{
	uint32_t slot = (uint32_t)(ctx->actor - ctx->w->actors);
	return act__timers_cancel(&ctx->w->timers, slot, id);
}

/* ---- names and context accessors ------------------------------------------ */

static act_ref intern_remote(struct worker *w, const char *name, const char *endpoint);

ACT_API int act_lookup(act_ctx *ctx, const char *name, act_ref *out)
{
	const char *at = name ? strchr(name, '@') : NULL;
	if (at) {
		/* "actor@peer": an actor on a named peer node (app file "peers"). */
		char actor[ACT__REMOTE_NAME_MAX + 1];
		size_t al = (size_t)(at - name);
		const struct act__registry *reg = ctx->w->reg;
		if (al == 0 || al > ACT__REMOTE_NAME_MAX)
			return -EINVAL;
		memcpy(actor, name, al);
		actor[al] = '\0';
		for (uint32_t i = 0; i < reg->n_peers; i++)
			if (!strcmp(reg->peers[i].name, at + 1)) {
				*out = intern_remote(ctx->w, actor, reg->peers[i].endpoint);
				return act_ref_is_nobody(*out) ? -ENOSPC : 0;
			}
		act__warn_every("actor '%s' looked up '%s': no peer named '%s'", ctx->actor->def->name,
		          name, at + 1);
		return -ENOENT;
	}
	int id = act__reg_find_actor(ctx->w->reg, name);
	if (id < 0 && act__dyn_lookup(ctx->w, name, out) == 0)
		return 0;
	if (id < 0) {
		act__warn_every("actor '%s' looked up an unknown actor '%s'",
		          ctx->actor->def->name, name ? name : "(null)");
		return id;
	}
	out->id = (uint32_t)id + 1;
	out->peer = 0;
	out->gen = 0;
	return 0;
}

ACT_API act_ref act_self(const act_ctx *ctx)
{
	act_ref r = { ctx->actor->id + 1, 0, ctx->actor->gen };
	return r;
}

ACT_API const char *act_self_name(const act_ctx *ctx) { return ctx->actor->def->name; }

ACT_API const char *act_ref_name(const act_ctx *ctx, act_ref ref)
{
	if (ref.peer)
		return ref.peer <= ctx->w->n_remotes ? ctx->w->remotes[ref.peer - 1].name : NULL;
	if (ref.id > ctx->w->reg->n_actors)
		return act__dyn_ref_name(ctx->w, ref);
	if (ref.id == 0)
		return NULL;
	return ctx->w->reg->actors[ref.id - 1].name;
}

static act_ref intern_remote(struct worker *w, const char *name, const char *endpoint)
{
	act_ref r = { 0, 0, 0 };
	char ep[ACT__ENDPOINT_MAX + 1];

	if (endpoint && endpoint[0] == '@') {
		/* "@peer": the endpoint of a peer named in the app file (and
		 * with it, at the gateway, its CURVE server key if it has one). */
		const struct act__registry *reg = w->reg;
		const char *found = NULL;
		for (uint32_t i = 0; i < reg->n_peers && !found; i++)
			if (!strcmp(reg->peers[i].name, endpoint + 1))
				found = reg->peers[i].endpoint;
		if (!found)
			return r;
		endpoint = found;
	}
	if (!act__name_ok(name) || !endpoint || !*endpoint || strlen(endpoint) > ACT__ENDPOINT_MAX)
		return r;
	/* Peers connect to a bind address's host part as localhost (PROTOCOL.md). */
	if (!strncmp(endpoint, "tcp://*:", 8))
		snprintf(ep, sizeof ep, "tcp://localhost:%s", endpoint + 8);
	else if (!strncmp(endpoint, "tcp://0.0.0.0:", 14))
		snprintf(ep, sizeof ep, "tcp://localhost:%s", endpoint + 14);
	else
		snprintf(ep, sizeof ep, "%s", endpoint);
	for (uint32_t i = 0; i < w->n_remotes; i++)
		if (!strcmp(w->remotes[i].name, name) && !strcmp(w->remotes[i].endpoint, ep)) {
			r.peer = i + 1;
			return r;
		}
	if (w->n_remotes >= MAX_REMOTES)
		return r;
	snprintf(w->remotes[w->n_remotes].name, sizeof w->remotes[0].name, "%s", name);
	snprintf(w->remotes[w->n_remotes].endpoint, sizeof w->remotes[0].endpoint, "%s", ep);
	r.peer = ++w->n_remotes;
	return r;
}

ACT_API act_ref act_ref_remote(act_ctx *ctx, const char *name, const char *endpoint)
{
	return intern_remote(ctx->w, name, endpoint);
}

ACT_API act_ref act_sender(const act_ctx *ctx)
{
	act_ref r = { 0, 0, 0 };
	if (ctx->jv) {
		if (ctx->jv->endpoint_len)
			return intern_remote(ctx->w, ctx->jv->peer, ctx->jv->endpoint);
		return r; /* a local client: act_reply() still reaches it */
	}
	if (ctx->env) {
		r.id = ctx->env->from;
		r.peer = ctx->env->from_peer;
		r.gen = ctx->env->from_gen;
	}
	return r;
}

ACT_API const act_type *act_msg_type(const act_ctx *ctx) { return ctx->type; }
ACT_API uint32_t act_redelivered(const act_ctx *ctx) { return ctx->redelivered; }

ACT_API void act_stop_self(act_ctx *ctx) { ctx->actor->stopping = true; }

ACT_API int act_shutdown(act_ctx *ctx)
{
	return act__w_send_ctrl(ctx->w, ACT__CTRL_SHUTDOWN_NODE, NULL, 0);
}
