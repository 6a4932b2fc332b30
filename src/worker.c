/*
 * worker.c - one group's process: the event loop, dispatch, and the
 * operations handlers call (send, reply, forward, ask, timers, stop).
 *
 * Loop, in one place:
 *   1. take the ready bitmap, drain up to BATCH records from each ring
 *      that has work (a ring cut off by the batch stays pending locally);
 *   2. fire due timers and ask timeouts;
 *   3. if nothing happened: spin up to spin_us, then advertise sleep
 *      (doorbell.h) and block in io_uring on the doorbell eventfd with a
 *      timeout at the next timer or the heartbeat period.
 * A record is released (head committed) only after its handler returned,
 * so a crash inside a handler redelivers it to the next instance.
 */
#include "config.h"

#include <errno.h>
#include <liburing.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <actors.h>

#include "clock.h"
#include <cjson/cJSON.h>

#include "base64.h"
#include "doorbell.h"
#include "envelope.h"
#include "log.h"
#include "message.h"
#include "ring.h"
#include "shm.h"
#include "timer.h"
#include "worker.h"

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() do { } while (0)
#endif

#define BATCH 64u
#define ASK_SLOTS 4096u          /* power of two */
#define ASK_MAX (ASK_SLOTS * 3u / 4u)
#define ASK_OWNER_BIT 0x80000000u
#define MAX_REMOTES 1024u

struct remote {
	char name[ACT__NAME_MAX + 1];
	char endpoint[ACT__ENDPOINT_MAX + 1];
};

struct actor {
	uint32_t id;
	const struct act__actor_def *def;
	void *state;
	act_handler_fn *by_type;     /* [n_types + 1], O(1) dispatch by type id */
	bool stopping;               /* act_stop_self() called */
	bool stopped;
};

struct ask {
	uint64_t corr;               /* 0 = free */
	uint32_t slot;
	act_ask_fn cb;
	uint64_t cookie;
};

struct act_ctx {
	struct worker *w;
	struct actor *actor;
	const struct act__env *env;  /* NULL outside ring delivery */
	const act_type *type;
	const void *msg;
	uint32_t redelivered;
	const struct act__jview *jv; /* sender outside the node (JSON envelope) */
};

struct worker {
	const struct act__registry *reg;
	act__shm shm;
	uint32_t self, n_parts;
	struct act__part *part;
	struct act__part **parts;
	act__ring_h *in, *out;
	const int *efd;
	struct io_uring uring;
	bool uring_ok, read_armed;
	uint64_t efd_buf;
	act__timers timers;
	struct actor *actors;
	uint32_t n_local;
	int32_t *slot_of;            /* actor id -> local slot, -1 elsewhere */
	uint64_t pending[ACT__READY_WORDS];
	uint64_t dirty[ACT__READY_WORDS];  /* other participants we sent to, not yet notified */
	uint32_t n_dirty_sends;             /* envelopes sent since the last flush */
	struct ask *asks;
	uint32_t n_asks;
	uint64_t next_corr;
	bool stopping;
	bool draining;               /* STOP received: empty the rings, then stop */
	uint64_t heartbeat_ns;       /* the group's heartbeat period */
	bool in_fini;
	int exit_code;
	struct act_ctx ctx;
	uint64_t last_beat_ns;
	uint32_t named_type;         /* type id whose name is in part->handling_name */
	struct remote *remotes;
	uint32_t n_remotes;
	unsigned char *scratch;      /* decoded JSON payloads */
	size_t scratch_cap;
	char *jbuf;                  /* encoded JSON payloads */
	size_t jbuf_cap;
};

/* ---- small helpers --------------------------------------------------------- */

static void beat(struct worker *w, uint64_t now)
{
	atomic_store_explicit(&w->part->heartbeat_ns, now, memory_order_relaxed);
	w->last_beat_ns = now;
}

static struct ask *ask_find(struct worker *w, uint64_t corr)
{
	for (uint32_t i = (uint32_t)(corr * 0x9e3779b97f4a7c15ull >> 52) & (ASK_SLOTS - 1);;
	     i = (i + 1) & (ASK_SLOTS - 1)) {
		if (w->asks[i].corr == corr)
			return &w->asks[i];
		if (!w->asks[i].corr)
			return NULL;
	}
}

static struct ask *ask_insert(struct worker *w, uint64_t corr)
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
static void ask_remove(struct worker *w, struct ask *a)
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

static void dead_letter(struct worker *w, const char *why, uint32_t type, uint32_t to)
{
	atomic_fetch_add_explicit(&w->part->n_dead_letters, 1, memory_order_relaxed);
	const act_type *t = (type && type <= w->reg->n_types) ? w->reg->types[type] : NULL;
	act__debug("dead letter: %s (type %s, to %s)", why, t ? t->name : "?",
	           to < w->reg->n_actors ? w->reg->actors[to].name : "?");
}

/* ---- sending --------------------------------------------------------------- */

/*
 * Records that participant g has new work from us.  The doorbell itself
 * (a full fence, maybe an eventfd write) is rung once per receiver by
 * flush_notify() when the handler returns (or after every 64 envelopes
 * of a long burst), not once per envelope: a handler that sends a burst
 * pays for one fence per receiver.  The price: a receiver may see a
 * handler's envelopes only when that handler returns.
 */
static void flush_notify(struct worker *w);

static inline void notify(struct worker *w, uint32_t g)
{
	if (g == w->self) {
		w->pending[g / 64u] |= 1ull << (g % 64u);
		return;
	}
	w->dirty[g / 64u] |= 1ull << (g % 64u);
	if (++w->n_dirty_sends >= 64)
		flush_notify(w);
}

static void flush_notify(struct worker *w)
{
	w->n_dirty_sends = 0;
	for (unsigned i = 0; i < ACT__READY_WORDS; i++) {
		while (w->dirty[i]) {
			uint32_t g = i * 64u + (uint32_t)__builtin_ctzll(w->dirty[i]);
			w->dirty[i] &= w->dirty[i] - 1;
			act__doorbell_notify(w->parts[g], w->self, w->efd[g]);
		}
	}
}

static int send_env(struct worker *w, uint32_t to, const act_type *t, const void *msg,
                    uint32_t from, uint16_t flags, uint64_t corr)
{
	const struct act__registry *reg = w->reg;
	uint32_t g = reg->actors[to].group;
	bool var = reg->type_has_var[t->id];
	size_t psize = var ? act__msg_packed_size(t, msg) : t->size;
	int err;

	if (psize > UINT32_MAX - sizeof(struct act__env))
		return -EMSGSIZE;
	struct act__env *e = act__ring_reserve(&w->out[g],
	                                       (uint32_t)(sizeof *e + psize), &err);
	if (!e)
		return err;
	e->rec.len = (uint32_t)(sizeof *e + psize);
	e->rec.kind = ACT__REC_MSG;
	e->rec.flags = flags;
	e->type = t->id;
	e->to = to;
	e->from = from;
	e->from_peer = 0;
	e->corr = corr;
	if (var)
		act__msg_pack(t, msg, e + 1);
	else
		memcpy(e + 1, msg, t->size);
	act__ring_commit(&w->out[g], e);
	notify(w, g);
	return 0;
}

static int send_ctrl(struct worker *w, uint32_t code, const void *payload, uint32_t len)
{
	int err;
	struct act__env *e = act__ring_reserve(&w->out[ACT__SUPERVISOR],
	                                       (uint32_t)sizeof *e + len, &err);
	if (!e)
		return err;
	memset(e, 0, sizeof *e);
	e->rec.len = (uint32_t)sizeof *e + len;
	e->rec.kind = ACT__REC_CTRL;
	e->type = code;
	e->from = w->self;
	if (len)
		memcpy(e + 1, payload, len);
	act__ring_commit(&w->out[ACT__SUPERVISOR], e);
	notify(w, ACT__SUPERVISOR);
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
	struct act__env *e = act__ring_reserve(&w->out[ACT__SUPERVISOR], (uint32_t)len, &err);
	if (!e)
		return err;
	e->rec.kind = ACT__REC_MSG;
	e->rec.flags = flags | ACT__ENV_JSON;
	e->type = 0;
	e->to = ACT__TO_OUTSIDE;
	e->from = from;
	e->from_peer = 0;
	e->corr = corr;
	act__jenv_fill(e, peer, endpoint, type, json, json_len);
	act__ring_commit(&w->out[ACT__SUPERVISOR], e);
	notify(w, ACT__SUPERVISOR);
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

/* Answers an undeliverable envelope from outside with a Reject (PROTOCOL.md). */
static void send_reject(struct worker *w, const struct act__env *e, const struct act__jview *jv,
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

static int check_target(const struct worker *w, act_ref to, const act_type *t)
{
	if (to.peer) {
		if (to.peer > w->n_remotes)
			return -ENOENT;
	} else if (to.id == 0 || to.id > w->reg->n_actors) {
		return -ENOENT;
	}
	if (!t || t->id == 0 || t->id > w->reg->n_types ||
	    (w->reg->types[t->id] != t && !act__type_same_shape(w->reg->types[t->id], t)))
		return -EINVAL;
	return 0;
}

ACT_API int act_send(act_ctx *ctx, act_ref to, const act_type *t, const void *msg)
{
	int err = check_target(ctx->w, to, t);
	if (err)
		return err;
	if (ctx->w->in_fini)
		return ACT_ESTOPPED;
	if (to.peer) {
		const struct remote *r = &ctx->w->remotes[to.peer - 1];
		return send_outside(ctx->w, r->name, r->endpoint, t, msg, ctx->actor->id + 1, 0, 0);
	}
	return send_env(ctx->w, to.id - 1, t, msg, ctx->actor->id + 1, 0, 0);
}

ACT_API int act_reply(act_ctx *ctx, const act_type *t, const void *msg)
{
	const struct act__env *e = ctx->env;
	act_ref to;
	int err;

	if (e && ctx->jv) {
		/* The sender is outside the node: answer through the supervisor. */
		if (!t || t->id == 0 || t->id > ctx->w->reg->n_types ||
		    (ctx->w->reg->types[t->id] != t &&
		     !act__type_same_shape(ctx->w->reg->types[t->id], t)))
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
	if ((err = check_target(ctx->w, to, t)))
		return err;
	if (ctx->w->in_fini)
		return ACT_ESTOPPED;
	if (e->rec.flags & ACT__ENV_ASK)
		return send_env(ctx->w, to.id - 1, t, msg, ctx->actor->id + 1,
		                ACT__ENV_REPLY, e->corr);
	return send_env(ctx->w, to.id - 1, t, msg, ctx->actor->id + 1, 0, 0);
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
	if (to.id == 0 || to.id > w->reg->n_actors)
		return -ENOENT;
	if (ctx->jv) {
		/* Came from outside as JSON: re-send the decoded message. */
		return send_env(w, to.id - 1, ctx->type, ctx->msg, 0, 0, 0);
	}
	uint32_t g = w->reg->actors[to.id - 1].group;
	struct act__env *e = act__ring_reserve(&w->out[g], src->rec.len, &err);
	if (!e)
		return err;
	/* The payload's act_buf pointers were fixed up in place for this
	 * process; the receiver recomputes them from the offsets. */
	memcpy(e, src, src->rec.len);
	e->to = to.id - 1;
	if (e->rec.flags & ACT__ENV_REPLY) {
		/* A forwarded reply is a plain message to its new receiver, who
		 * has no ask waiting for it.  (A forwarded ask stays an ask.) */
		e->rec.flags &= (uint16_t)~ACT__ENV_REPLY;
		e->corr = 0;
	}
	act__ring_commit(&w->out[g], e);
	notify(w, g);
	return 0;
}

/* now + ms, saturating: a delay too large to represent means "never". */
static uint64_t deadline_after_ms(uint64_t ms)
{
	uint64_t ns, d;
	if (__builtin_mul_overflow(ms, 1000000u, &ns) ||
	    __builtin_add_overflow(act__now_ns(), ns, &d))
		return UINT64_MAX;
	return d;
}

static uint64_t ms_to_ns_sat(uint64_t ms)
{
	uint64_t ns;
	return __builtin_mul_overflow(ms, 1000000u, &ns) ? UINT64_MAX : ns;
}

ACT_API int act_ask(act_ctx *ctx, act_ref to, const act_type *t, const void *msg,
                    uint32_t timeout_ms, act_ask_fn cb, uint64_t cookie)
{
	struct worker *w = ctx->w;
	uint32_t slot = (uint32_t)(ctx->actor - w->actors);
	uint64_t corr;
	struct ask *a;
	int err;

	if (!cb)
		return -EINVAL;
	if (w->in_fini)
		return ACT_ESTOPPED;
	if ((err = check_target(w, to, t)))
		return err;
	if (to.peer)
		return -EOPNOTSUPP; /* the family's protocol has no correlation ids */
	if (w->n_asks >= ASK_MAX)
		return -ENOSPC;
	corr = ((uint64_t)w->self << 48) | (++w->next_corr & 0xffffffffffffull);
	if (!corr)
		corr = 1;
	err = act__timers_set(&w->timers, slot | ASK_OWNER_BIT, (int64_t)corr,
	                      deadline_after_ms(timeout_ms), 0);
	if (err)
		return err;
	err = send_env(w, to.id - 1, t, msg, ctx->actor->id + 1, ACT__ENV_ASK, corr);
	if (err) {
		act__timers_cancel(&w->timers, slot | ASK_OWNER_BIT, (int64_t)corr);
		return err;
	}
	a = ask_insert(w, corr);
	a->slot = slot;
	a->cb = cb;
	a->cookie = cookie;
	return 0;
}

/* ---- timers ---------------------------------------------------------------- */


ACT_API int act_timer_once(act_ctx *ctx, uint64_t delay_ms, int64_t id)
{
	uint32_t slot = (uint32_t)(ctx->actor - ctx->w->actors);
	if (ctx->w->in_fini)
		return ACT_ESTOPPED;
	return act__timers_set(&ctx->w->timers, slot, id, deadline_after_ms(delay_ms), 0);
}

ACT_API int act_timer_periodic(act_ctx *ctx, uint64_t period_ms, int64_t id)
{
	uint32_t slot = (uint32_t)(ctx->actor - ctx->w->actors);
	if (period_ms == 0)
		return -EINVAL;
	if (ctx->w->in_fini)
		return ACT_ESTOPPED;
	return act__timers_set(&ctx->w->timers, slot, id, deadline_after_ms(period_ms),
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
		char actor[ACT__NAME_MAX + 1];
		size_t al = (size_t)(at - name);
		const struct act__registry *reg = ctx->w->reg;
		if (al == 0 || al > ACT__NAME_MAX)
			return -EINVAL;
		memcpy(actor, name, al);
		actor[al] = '\0';
		for (uint32_t i = 0; i < reg->n_peers; i++)
			if (!strcmp(reg->peers[i].name, at + 1)) {
				*out = intern_remote(ctx->w, actor, reg->peers[i].endpoint);
				return act_ref_is_nobody(*out) ? -ENOSPC : 0;
			}
		act__warn("actor '%s' looked up '%s': no peer named '%s'", ctx->actor->def->name,
		          name, at + 1);
		return -ENOENT;
	}
	int id = act__reg_find_actor(ctx->w->reg, name);
	if (id < 0) {
		act__warn("actor '%s' looked up an unknown actor '%s'",
		          ctx->actor->def->name, name ? name : "(null)");
		return id;
	}
	out->id = (uint32_t)id + 1;
	out->peer = 0;
	return 0;
}

ACT_API act_ref act_self(const act_ctx *ctx)
{
	act_ref r = { ctx->actor->id + 1, 0 };
	return r;
}

ACT_API const char *act_self_name(const act_ctx *ctx) { return ctx->actor->def->name; }

ACT_API const char *act_ref_name(const act_ctx *ctx, act_ref ref)
{
	if (ref.peer)
		return ref.peer <= ctx->w->n_remotes ? ctx->w->remotes[ref.peer - 1].name : NULL;
	if (ref.id == 0 || ref.id > ctx->w->reg->n_actors)
		return NULL;
	return ctx->w->reg->actors[ref.id - 1].name;
}

static act_ref intern_remote(struct worker *w, const char *name, const char *endpoint)
{
	act_ref r = { 0, 0 };
	char ep[ACT__ENDPOINT_MAX + 1];

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
	act_ref r = { 0, 0 };
	if (ctx->jv) {
		if (ctx->jv->endpoint_len)
			return intern_remote(ctx->w, ctx->jv->peer, ctx->jv->endpoint);
		return r; /* a local client: act_reply() still reaches it */
	}
	if (ctx->env) {
		r.id = ctx->env->from;
		r.peer = ctx->env->from_peer;
	}
	return r;
}

ACT_API const act_type *act_msg_type(const act_ctx *ctx) { return ctx->type; }
ACT_API uint32_t act_redelivered(const act_ctx *ctx) { return ctx->redelivered; }

ACT_API void act_stop_self(act_ctx *ctx) { ctx->actor->stopping = true; }

ACT_API int act_shutdown(act_ctx *ctx)
{
	return send_ctrl(ctx->w, ACT__CTRL_SHUTDOWN_NODE, NULL, 0);
}

/* ---- dispatch -------------------------------------------------------------- */

/* Points the context at actor a and the message being delivered. */
static void set_ctx(struct worker *w, struct actor *a, const act_type *t, const void *msg,
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

static void stop_actor(struct worker *w, struct actor *a)
{
	uint32_t slot = (uint32_t)(a - w->actors);

	if (a->stopped)
		return;
	act__timers_cancel_owner(&w->timers, slot);
	act__timers_cancel_owner(&w->timers, slot | ASK_OWNER_BIT);
	for (uint32_t i = 0; i < ASK_SLOTS; i++)
		if (w->asks[i].corr && w->asks[i].slot == slot) {
			ask_remove(w, &w->asks[i]);
			i--; /* backward shift may have moved another entry here */
		}
	if (a->def->b->fini) {
		set_ctx(w, a, NULL, NULL, NULL, 0, NULL);
		w->in_fini = true;
		a->def->b->fini(&w->ctx, a->state);
		w->in_fini = false;
	}
	a->stopped = true;
}

/* Calls actor a's handler for (t, msg); env may be NULL (local events). */
static void invoke(struct worker *w, struct actor *a, const act_type *t, const void *msg,
                   const struct act__env *env, uint32_t redelivered,
                   const struct act__jview *jv)
{
	act_handler_fn fn = a->by_type[t->id];

	/* Start and Shutdown without a handler are simply not needed; they
	 * never reach on_unhandled or the dead letters. */
	if (!fn && (t == &act_start_type || t == &act_shutdown_type))
		return;
	if (!fn)
		fn = a->def->b->on_unhandled;
	if (!fn) {
		if (t != &act_start_type && t != &act_shutdown_type) {
			atomic_fetch_add_explicit(&w->part->n_unknown_type, 1, memory_order_relaxed);
			dead_letter(w, "no handler for this type", t->id, a->id);
			if (jv && env) {
				char why[160];
				snprintf(why, sizeof why, "Actor '%s' has no handler for '%s'",
				         a->def->name, t->name);
				send_reject(w, env, jv, why);
			}
		}
		return;
	}
	set_ctx(w, a, t, msg, env, redelivered, jv);
	fn(&w->ctx, a->state, msg);
	if (a->stopping)
		stop_actor(w, a);
}

static void deliver_reply(struct worker *w, struct actor *a, struct ask *k, const act_type *t,
                          const void *msg, const struct act__env *env)
{
	act_ask_fn cb = k->cb;
	uint64_t cookie = k->cookie;

	act__timers_cancel(&w->timers, k->slot | ASK_OWNER_BIT, (int64_t)k->corr);
	ask_remove(w, k);
	set_ctx(w, a, t, msg, env, 0, NULL);
	cb(&w->ctx, a->state, 0, t, msg, cookie);
	if (a->stopping)
		stop_actor(w, a);
}

static void handle_ctrl(struct worker *w, const struct act__env *e)
{
	switch (e->type) {
	case ACT__CTRL_STOP:
		/* Stop cleanly: first handle what is already in our rings (the
		 * supervisor's SIGTERM after shutdown_ms bounds this), then run
		 * the Shutdown handlers.  Timers no longer fire. */
		w->draining = true;
		break;
	default:
		atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
		act__warn("unknown control record %u ignored", e->type);
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
		if (!reg->type_check[t->id] || act__msg_fixup(t, msg, len - sizeof *e) == 0)
			payload = act__json_encode_obj(t, msg, &err);
	}
	cJSON_AddNumberToObject(o, "time_ms", (double)act__wall_ms());
	cJSON_AddStringToObject(o, "group", reg->groups[w->self - 1].name);
	cJSON_AddStringToObject(o, "receiver", reg->actors[e->to].name);
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
		if (send_ctrl(w, ACT__CTRL_DEAD_LETTER, text, (uint32_t)strlen(text)))
			act__err("dead letter could not reach the supervisor (ring full or too large)");
		free(text);
	}
count:
	dead_letter(w, "poison message", e->type, e->to);
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

	t = act__reg_type_by_name(w->reg, jv->type);
	if (t == &act_start_type || t == &act_timeout_type || t == &act_shutdown_type) {
		/* Lifecycle messages come from the runtime only: a peer must not
		 * be able to fire an actor's timers or restart its run. */
		atomic_fetch_add_explicit(&w->part->n_unknown_type, 1, memory_order_relaxed);
		snprintf(why, sizeof why, "Message type '%s' cannot be sent from outside the node",
		         jv->type);
		send_reject(w, e, jv, why);
		dead_letter(w, "built-in type from outside", t->id, e->to);
		return;
	}
	if (!t) {
		atomic_fetch_add_explicit(&w->part->n_unknown_type, 1, memory_order_relaxed);
		snprintf(why, sizeof why, "Unknown message type '%s'", jv->type);
		send_reject(w, e, jv, why);
		dead_letter(w, "unknown message type", 0, e->to);
		return;
	}
	obj = cJSON_ParseWithLength(jv->json, jv->json_len);
	rc = act__json_decode_obj(t, obj, w->scratch, w->scratch_cap, &used, err, sizeof err);
	cJSON_Delete(obj);
	if (rc) {
		atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
		snprintf(why, sizeof why, "Cannot decode '%s': %s", jv->type, err);
		send_reject(w, e, jv, why);
		dead_letter(w, "undecodable payload", t->id, e->to);
		return;
	}
	if (a->stopped) {
		snprintf(why, sizeof why, "Actor '%s' stopped", a->def->name);
		send_reject(w, e, jv, why);
		dead_letter(w, "receiver stopped", t->id, e->to);
		return;
	}
	invoke(w, a, t, w->scratch, e, redelivered, jv);
}

/* Handles one record of ring h.  Always releases it. */
static void handle_record(struct worker *w, act__ring_h *h, const struct act__rec *rec)
{
	const struct act__registry *reg = w->reg;
	struct act__env *e = (struct act__env *)rec;
	uint32_t redelivered;
	bool json;

	if (rec->kind == ACT__REC_CTRL && rec->len >= sizeof *e) {
		handle_ctrl(w, e);
		act__ring_release(h);
		return;
	}
	json = rec->kind == ACT__REC_MSG && rec->len >= sizeof *e && (rec->flags & ACT__ENV_JSON);
	if (rec->kind != ACT__REC_MSG || rec->len < sizeof *e || e->to >= reg->n_actors ||
	    w->slot_of[e->to] < 0 || (!json && (e->type == 0 || e->type > reg->n_types))) {
		atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
		act__warn("malformed envelope in ring %u->%u skipped (kind %u, len %u)",
		          h->r->from, h->r->to, rec->kind, rec->len);
		act__ring_release(h);
		return;
	}

	redelivered = act__ring_begin(h);
	if (redelivered) {
		atomic_fetch_add_explicit(&w->part->n_redelivered, 1, memory_order_relaxed);
		/* Deaths the supervisor forgave (killed from outside) do not count. */
		uint32_t counted = redelivered - act__ring_forgiven(h);
		if (counted >= w->part->max_redeliveries) {
			/* This envelope was being handled each time the group died:
			 * a poison message.  Park it and move on. */
			act__err("envelope to '%s' killed the group %u times: moved to dead letters",
			         reg->actors[e->to].name, counted);
			poison(w, e, rec->len, counted);
			act__ring_release(h);
			return;
		}
	}

	struct actor *a = &w->actors[w->slot_of[e->to]];
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
			dead_letter(w, "malformed JSON envelope", 0, e->to);
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

	if (plen < t->size || (reg->type_check[t->id] && act__msg_fixup(t, msg, plen))) {
		atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
		dead_letter(w, "payload does not match its type", e->type, e->to);
		goto done;
	}
	if (a->stopped) {
		dead_letter(w, "receiver stopped", e->type, e->to);
		goto done;
	}
	if (rec->flags & ACT__ENV_REPLY) {
		struct ask *k = ask_find(w, e->corr);
		if (k && k->slot == (uint32_t)(a - w->actors))
			deliver_reply(w, a, k, t, msg, e);
		else
			dead_letter(w, "reply after its ask timed out", e->type, e->to);
	} else {
		invoke(w, a, t, msg, e, redelivered, NULL);
	}
done:
	atomic_store_explicit(&w->part->handling_type, 0, memory_order_relaxed);
	/* Single writer: a plain increment, no locked instruction. */
	atomic_store_explicit(&w->part->n_handled,
	    atomic_load_explicit(&w->part->n_handled, memory_order_relaxed) + 1,
	    memory_order_relaxed);
	act__ring_release(h);
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
			if (err) {
				uint64_t lost = act__ring_skip_corrupt(h);
				atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
				act__err("corrupt record header in ring %u->%u: skipped %llu bytes",
				         s, w->self, (unsigned long long)lost);
			}
			return n;
		}
		handle_record(w, h, rec);
		flush_notify(w);
		n++;
	}
	/* Cut off by the batch (or a stop): look again next round, and let
	 * the producer see the room we made meanwhile. */
	act__ring_publish(h);
	w->pending[s / 64u] |= 1ull << (s % 64u);
	return n;
}

static bool any_ring_nonempty(struct worker *w)
{
	for (uint32_t s = 0; s < w->n_parts; s++)
		if (act__ring_nonempty(&w->in[s]))
			return true;
	return false;
}

static unsigned poll_rings(struct worker *w)
{
	uint64_t bits[ACT__READY_WORDS];
	unsigned n = 0;

	if (w->part->scan_all) {
		/* Few inbound rings: look at each tail (a cache hit unless its
		 * producer wrote) instead of sharing a bitmap line with them. */
		for (uint32_t s = 0; s < w->n_parts; s++) {
			uint64_t bit = 1ull << (s % 64u);
			if ((w->pending[s / 64u] & bit) || act__ring_nonempty(&w->in[s])) {
				w->pending[s / 64u] &= ~bit;
				n += drain(w, s);
			}
		}
		return n;
	}

	act__doorbell_take(w->part, bits);
	for (unsigned i = 0; i < ACT__READY_WORDS; i++) {
		bits[i] |= w->pending[i];
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
	return n;
}

static unsigned run_timers(struct worker *w, uint64_t now)
{
	uint32_t owner;
	int64_t id;
	unsigned n = 0;

	while (!w->stopping && act__timers_pop_due(&w->timers, now, &owner, &id)) {
		n++;
		if (owner & ASK_OWNER_BIT) {
			struct ask *k = ask_find(w, (uint64_t)id);
			if (!k)
				continue;
			struct actor *a = &w->actors[k->slot];
			act_ask_fn cb = k->cb;
			uint64_t cookie = k->cookie;
			ask_remove(w, k);
			set_ctx(w, a, NULL, NULL, NULL, 0, NULL);
			cb(&w->ctx, a->state, ACT_ETIMEDOUT, NULL, NULL, cookie);
			if (a->stopping)
				stop_actor(w, a);
			continue;
		}
		if (owner >= w->n_local || w->actors[owner].stopped)
			continue;
		act_timeout tm = { id };
		invoke(w, &w->actors[owner], &act_timeout_type, &tm, NULL, 0, NULL);
	}
	return n;
}

/* ---- sleeping -------------------------------------------------------------- */

static void arm_read(struct worker *w)
{
	struct io_uring_sqe *sqe;
	if (w->read_armed)
		return;
	sqe = io_uring_get_sqe(&w->uring);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, w->efd[w->self], &w->efd_buf, sizeof w->efd_buf, 0);
	io_uring_sqe_set_data64(sqe, 1);
	w->read_armed = true;
}

static void reap(struct worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&w->uring, head, cqe) {
		if (io_uring_cqe_get_data64(cqe) == 1)
			w->read_armed = false;
		n++;
	}
	io_uring_cq_advance(&w->uring, n);
}

/* Blocks until the doorbell rings or deadline_ns passes. */
static void sleep_until(struct worker *w, uint64_t deadline_ns)
{
	uint64_t now = act__now_ns();
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;

	if (deadline_ns <= now)
		return;
	if (deadline_ns == UINT64_MAX && !w->read_armed) {
		/* No timer to wake for: block in a plain read(2) on the doorbell
		 * (a blocking eventfd), the cheapest sleep there is.  The
		 * supervisor does not expect heartbeats from a worker that
		 * advertised sleep, only that it wakes (and beats) when work
		 * waits for it (see act__group_check_heartbeats()). */
		uint64_t v;
		ssize_t r = read(w->efd[w->self], &v, sizeof v);
		(void)r;
		return;
	}
	if (!w->uring_ok) {
		/* Fallback without io_uring: a plain blocking poll. */
		struct timespec t = act__ns_to_ts(deadline_ns - now);
		fd_set set;
		FD_ZERO(&set);
		FD_SET(w->efd[w->self], &set);
		struct timeval tv = { t.tv_sec, t.tv_nsec / 1000 };
		if (select(w->efd[w->self] + 1, &set, NULL, NULL, &tv) > 0) {
			uint64_t v; /* readable: this read does not block */
			ssize_t r = read(w->efd[w->self], &v, sizeof v);
			(void)r;
		}
		return;
	}
	arm_read(w);
	ts.tv_sec = (long long)((deadline_ns - now) / 1000000000u);
	ts.tv_nsec = (long long)((deadline_ns - now) % 1000000000u);
	/* Submits the armed read and waits for any completion or the timeout. */
	io_uring_submit_and_wait_timeout(&w->uring, &cqe, 1, &ts, NULL);
	reap(w);
}

/* ---- the loop ------------------------------------------------------------- */

static int run(struct worker *w)
{
	uint64_t spin_ns = (uint64_t)w->part->spin_us * 1000u;
	uint64_t idle_since = 0;

	while (!w->stopping) {
		unsigned did = poll_rings(w);
		uint64_t now = act__now_ns();

		if (w->draining) {
			flush_notify(w);
			beat(w, now);
			bool pending = false;
			for (unsigned i = 0; i < ACT__READY_WORDS; i++)
				pending |= w->pending[i] != 0;
			if (!did && !pending)
				w->stopping = true; /* every ring is empty */
			continue;
		}
		if (act__timers_next(&w->timers) <= now)
			did += run_timers(w, now);
		flush_notify(w);
		if (now - w->last_beat_ns > w->heartbeat_ns / 4)
			beat(w, now);
		if (did) {
			idle_since = 0;
			continue;
		}
		if (!idle_since)
			idle_since = now;
		if (now - idle_since < spin_ns) {
			/* Pure spinning for a few microseconds, then spinning with
			 * sched_yield(): if the producer we wait for shares our CPU,
			 * a pure spin would burn our whole slice before it could
			 * run (seen as ~1 ms round trips on a busy 2-CPU machine). */
			if (now - idle_since < 5000)
				cpu_relax();
			else
				sched_yield();
			continue;
		}
		if (!act__doorbell_prepare_sleep(w->part))
			continue;
		if (w->part->scan_all && any_ring_nonempty(w)) {
			/* Behind prepare_sleep's fence: a producer that missed our
			 * sleeping flag published before this look. */
			act__doorbell_awake(w->part);
			continue;
		}
		/* With timers pending, wake at the next one (or for a heartbeat);
		 * without, sleep until the doorbell rings. */
		uint64_t deadline = act__timers_next(&w->timers);
		if (deadline != UINT64_MAX && deadline > now + w->heartbeat_ns)
			deadline = now + w->heartbeat_ns;
		sleep_until(w, deadline);
		beat(w, act__now_ns());
		act__doorbell_awake(w->part);
		idle_since = 0;
	}
	return w->exit_code;
}

static int setup(struct worker *w, const struct act__worker_args *a)
{
	const struct act__registry *reg = a->reg;
	const struct act__group_def *g = &reg->groups[a->self - 1];
	char why[128] = "";
	int err;

	memset(w, 0, sizeof *w);
	w->reg = reg;
	w->self = a->self;
	w->efd = a->efd;
	err = act__shm_attach(&w->shm, a->shm_fd, a->directory_hash, why, sizeof why);
	if (err) {
		act__err("cannot attach shared memory: %s", why[0] ? why : act_strerror(err));
		return err;
	}
	w->n_parts = w->shm.hdr->n_parts;
	w->heartbeat_ns = (uint64_t)(g->heartbeat_ms ? g->heartbeat_ms : 100) * 1000000u;
	if (w->self >= w->n_parts || w->n_parts != reg->n_groups + 1) {
		act__err("shared memory does not match this node's groups");
		return -EPROTO;
	}
	w->part = act__shm_part(&w->shm, w->self);
	w->parts = calloc(w->n_parts, sizeof *w->parts);
	w->in = calloc(w->n_parts, sizeof *w->in);
	w->out = calloc(w->n_parts, sizeof *w->out);
	w->slot_of = malloc(reg->n_actors * sizeof *w->slot_of + 1);
	w->actors = calloc(g->n_actors ? g->n_actors : 1, sizeof *w->actors);
	w->asks = calloc(ASK_SLOTS, sizeof *w->asks);
	w->remotes = calloc(MAX_REMOTES, sizeof *w->remotes);
	/* A decoded JSON message is at most its struct plus its strings: the
	 * group's record limit twice over is plenty. */
	w->scratch_cap = 2u * g->max_msg + 4096u;
	w->scratch = aligned_alloc(8, (w->scratch_cap + 7) & ~(size_t)7);
	w->jbuf_cap = act__shm_part(&w->shm, ACT__SUPERVISOR)->max_msg;
	w->jbuf = malloc(w->jbuf_cap);
	if (!w->parts || !w->in || !w->out || !w->slot_of || !w->actors || !w->asks ||
	    !w->remotes || !w->scratch || !w->jbuf)
		return -ENOMEM;
	for (uint32_t i = 0; i < w->n_parts; i++) {
		w->parts[i] = act__shm_part(&w->shm, i);
		if ((err = act__shm_ring(&w->shm, i, w->self, &w->in[i])) ||
		    (err = act__shm_ring(&w->shm, w->self, i, &w->out[i]))) {
			act__err("ring %u<->%u failed validation", i, w->self);
			return err;
		}
		/* Anything already waiting (e.g. for a restarted worker) counts
		 * as pending work. */
		w->pending[i / 64u] |= 1ull << (i % 64u);
	}
	if ((err = act__timers_init(&w->timers)))
		return err;
	w->uring_ok = io_uring_queue_init(8, &w->uring, 0) == 0;
	if (!w->uring_ok)
		act__warn("io_uring unavailable; falling back to select()");

	for (uint32_t i = 0; i < reg->n_actors; i++)
		w->slot_of[i] = -1;
	for (uint32_t i = 0; i < g->n_actors; i++) {
		struct actor *ac = &w->actors[i];
		ac->id = g->actors[i];
		ac->def = &reg->actors[ac->id];
		w->slot_of[ac->id] = (int32_t)i;
		if (!ac->def->b) {
			act__err("actor '%s': behaviour '%s' was never bound", ac->def->name,
			         ac->def->behaviour ? ac->def->behaviour : "?");
			return -EINVAL;
		}
		ac->state = calloc(1, ac->def->b->state_size ? ac->def->b->state_size : 1);
		ac->by_type = calloc(reg->n_types + 1, sizeof *ac->by_type);
		if (!ac->state || !ac->by_type)
			return -ENOMEM;
		for (size_t k = 0; k < ac->def->b->n_handlers; k++) {
			const act_handler *hd = &ac->def->b->handlers[k];
			if (hd->type && hd->type->id && hd->type->id <= reg->n_types)
				ac->by_type[hd->type->id] = hd->fn;
		}
		w->n_local++;
	}
	return 0;
}

static void teardown(struct worker *w)
{
	for (uint32_t i = 0; i < w->n_local; i++) {
		free(w->actors[i].state);
		free(w->actors[i].by_type);
	}
	if (w->uring_ok)
		io_uring_queue_exit(&w->uring);
	act__timers_fini(&w->timers);
	free(w->actors);
	free(w->asks);
	free(w->remotes);
	free(w->scratch);
	free(w->jbuf);
	free(w->slot_of);
	free(w->in);
	free(w->out);
	free(w->parts);
	act__shm_detach(&w->shm, 0);
}

int act__worker_main(const struct act__worker_args *a)
{
	struct worker *w = calloc(1, sizeof *w);
	const struct act__group_def *g = &a->reg->groups[a->self - 1];
	char ident[80];
	int rc = ACT_EXIT_OK;
	act_start start = a->start;

	snprintf(ident, sizeof ident, "worker %s", g->name);
	act__log_set_ident(ident);
	if (!w)
		return ACT_EXIT_TEMPORARY;
	int err = setup(w, a);
	if (err) {
		rc = err == -ENOMEM ? ACT_EXIT_TEMPORARY : ACT_EXIT_PERMANENT;
		goto out;
	}
	if (a->standby) {
		/* A hot standby: attached and allocated, it waits here until the
		 * supervisor saw the group's worker die and wakes us.  Nothing
		 * about the group is touched before that. */
		uint64_t v;
		ssize_t r;
		do {
			r = read(a->standby_efd[a->self - 1], &v, sizeof v);
		} while (r < 0 && errno == EINTR);
		if (r != (ssize_t)sizeof v) {
			rc = ACT_EXIT_TEMPORARY;
			goto out;
		}
		start = (act_start){ true, w->part->standby_n_restarts,
		                     w->part->standby_last_signal, w->part->standby_last_exit };
	}
	atomic_store_explicit(&w->part->pid, getpid(), memory_order_relaxed);
	beat(w, act__now_ns());

	/* init hooks, then Start, in declaration order. */
	for (uint32_t i = 0; i < w->n_local; i++) {
		struct actor *ac = &w->actors[i];
		if (!ac->def->b->init)
			continue;
		w->ctx.w = w;
		set_ctx(w, ac, NULL, NULL, NULL, 0, NULL);
		int r = ac->def->b->init(&w->ctx, ac->state, ac->def->args);
		if (r) {
			act__err("actor '%s' (%s) failed to initialise: %s", ac->def->name,
			         ac->def->b->name ? ac->def->b->name : "?", act_strerror(r));
			rc = ACT_EXIT_PERMANENT;
			goto out;
		}
	}
	w->ctx.w = w;
	for (uint32_t i = 0; i < w->n_local; i++)
		invoke(w, &w->actors[i], &act_start_type, &start, NULL, 0, NULL);
	atomic_store_explicit(&w->part->state, ACT__PS_READY, memory_order_relaxed);
	send_ctrl(w, ACT__CTRL_READY, NULL, 0);
	flush_notify(w);

	rc = run(w);

	/* Clean stop: Shutdown to every actor (in reverse order), then fini. */
	atomic_store_explicit(&w->part->state, ACT__PS_STOPPING, memory_order_relaxed);
	act_shutdown_msg sm = { 0 };
	for (uint32_t i = w->n_local; i-- > 0;)
		if (!w->actors[i].stopped)
			invoke(w, &w->actors[i], &act_shutdown_type, &sm, NULL, 0, NULL);
	for (uint32_t i = w->n_local; i-- > 0;)
		stop_actor(w, &w->actors[i]);
	flush_notify(w); /* what the Shutdown handlers sent */
out:
	teardown(w);
	free(w);
	return rc;
}
