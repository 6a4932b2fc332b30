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
#include "doorbell.h"
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
#define HEARTBEAT_NS (100u * 1000000u)
#define ASK_SLOTS 4096u          /* power of two */
#define ASK_MAX (ASK_SLOTS * 3u / 4u)
#define ASK_OWNER_BIT 0x80000000u

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
	uint32_t redelivered;
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
	struct ask *asks;
	uint32_t n_asks;
	uint64_t next_corr;
	bool stopping;
	bool in_fini;
	int exit_code;
	struct act_ctx ctx;
	uint64_t last_beat_ns;
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

static inline void notify(struct worker *w, uint32_t g)
{
	if (g == w->self)
		w->pending[g / 64u] |= 1ull << (g % 64u);
	else
		act__doorbell_notify(w->parts[g], w->self, w->efd[g]);
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

static int check_target(const struct worker *w, act_ref to, const act_type *t)
{
	if (to.peer)
		return -EOPNOTSUPP; /* remote refs arrive with the gateway */
	if (to.id == 0 || to.id > w->reg->n_actors)
		return -ENOENT;
	if (!t || t->id == 0 || t->id > w->reg->n_types || w->reg->types[t->id] != t)
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
	return send_env(ctx->w, to.id - 1, t, msg, ctx->actor->id + 1, 0, 0);
}

ACT_API int act_reply(act_ctx *ctx, const act_type *t, const void *msg)
{
	const struct act__env *e = ctx->env;
	act_ref to;
	int err;

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
	if (to.peer)
		return -EOPNOTSUPP;
	if (to.id == 0 || to.id > w->reg->n_actors)
		return -ENOENT;
	uint32_t g = w->reg->actors[to.id - 1].group;
	struct act__env *e = act__ring_reserve(&w->out[g], src->rec.len, &err);
	if (!e)
		return err;
	/* The payload's act_buf pointers were fixed up in place for this
	 * process; the receiver recomputes them from the offsets. */
	memcpy(e, src, src->rec.len);
	e->to = to.id - 1;
	act__ring_commit(&w->out[g], e);
	notify(w, g);
	return 0;
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
	if ((err = check_target(w, to, t)))
		return err;
	if (w->n_asks >= ASK_MAX)
		return -ENOSPC;
	corr = ((uint64_t)w->self << 48) | (++w->next_corr & 0xffffffffffffull);
	if (!corr)
		corr = 1;
	err = act__timers_set(&w->timers, slot | ASK_OWNER_BIT, (int64_t)corr,
	                      act__now_ns() + (uint64_t)timeout_ms * 1000000u, 0);
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
	return act__timers_set(&ctx->w->timers, slot, id,
	                       act__now_ns() + delay_ms * 1000000u, 0);
}

ACT_API int act_timer_periodic(act_ctx *ctx, uint64_t period_ms, int64_t id)
{
	uint32_t slot = (uint32_t)(ctx->actor - ctx->w->actors);
	if (period_ms == 0)
		return -EINVAL;
	return act__timers_set(&ctx->w->timers, slot, id,
	                       act__now_ns() + period_ms * 1000000u, period_ms * 1000000u);
}

ACT_API int act_timer_cancel(act_ctx *ctx, int64_t id)
{
	uint32_t slot = (uint32_t)(ctx->actor - ctx->w->actors);
	return act__timers_cancel(&ctx->w->timers, slot, id);
}

/* ---- names and context accessors ------------------------------------------ */

ACT_API int act_lookup(act_ctx *ctx, const char *name, act_ref *out)
{
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
	if (ref.peer || ref.id == 0 || ref.id > ctx->w->reg->n_actors)
		return NULL;
	return ctx->w->reg->actors[ref.id - 1].name;
}

ACT_API act_ref act_sender(const act_ctx *ctx)
{
	act_ref r = { 0, 0 };
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
		w->ctx.actor = a;
		w->ctx.env = NULL;
		w->in_fini = true;
		a->def->b->fini(&w->ctx, a->state);
		w->in_fini = false;
	}
	a->stopped = true;
}

/* Calls actor a's handler for (t, msg); env may be NULL (local events). */
static void invoke(struct worker *w, struct actor *a, const act_type *t, const void *msg,
                   const struct act__env *env, uint32_t redelivered)
{
	act_handler_fn fn = a->by_type[t->id];

	if (!fn)
		fn = a->def->b->on_unhandled;
	if (!fn) {
		if (t != &act_start_type && t != &act_shutdown_type) {
			atomic_fetch_add_explicit(&w->part->n_unknown_type, 1, memory_order_relaxed);
			dead_letter(w, "no handler for this type", t->id, a->id);
		}
		return;
	}
	w->ctx.actor = a;
	w->ctx.env = env;
	w->ctx.type = t;
	w->ctx.redelivered = redelivered;
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
	w->ctx.actor = a;
	w->ctx.env = env;
	w->ctx.type = t;
	w->ctx.redelivered = 0;
	cb(&w->ctx, a->state, 0, t, msg, cookie);
	if (a->stopping)
		stop_actor(w, a);
}

static void handle_ctrl(struct worker *w, const struct act__env *e)
{
	switch (e->type) {
	case ACT__CTRL_STOP:
		w->stopping = true;
		break;
	default:
		atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
		act__warn("unknown control record %u ignored", e->type);
	}
}

/* Handles one record of ring h (from participant s).  Always releases it. */
static void handle_record(struct worker *w, act__ring_h *h, const struct act__rec *rec)
{
	const struct act__registry *reg = w->reg;
	struct act__env *e = (struct act__env *)rec;
	uint32_t redelivered;

	if (rec->kind == ACT__REC_CTRL && rec->len >= sizeof *e) {
		handle_ctrl(w, e);
		act__ring_release(h);
		return;
	}
	if (rec->kind != ACT__REC_MSG || rec->len < sizeof *e || e->to >= reg->n_actors ||
	    w->slot_of[e->to] < 0 || e->type == 0 || e->type > reg->n_types) {
		atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
		act__warn("malformed envelope in ring %u->%u skipped (kind %u, len %u)",
		          h->r->from, h->r->to, rec->kind, rec->len);
		act__ring_release(h);
		return;
	}

	redelivered = act__ring_begin(h);
	if (redelivered) {
		atomic_fetch_add_explicit(&w->part->n_redelivered, 1, memory_order_relaxed);
		if (redelivered >= w->part->max_redeliveries) {
			/* This envelope was being handled each time the group died:
			 * a poison message.  Hand it to the supervisor's dead-letter
			 * store (best effort; counted either way) and move on. */
			act__err("envelope of type %s to '%s' killed the group %u times: dead-lettered",
			         reg->types[e->type]->name, reg->actors[e->to].name, redelivered);
			send_ctrl(w, ACT__CTRL_DEAD_LETTER, e, rec->len);
			dead_letter(w, "poison message", e->type, e->to);
			act__ring_release(h);
			return;
		}
	}

	struct actor *a = &w->actors[w->slot_of[e->to]];
	const act_type *t = reg->types[e->type];
	void *msg = e + 1;
	size_t plen = rec->len - sizeof *e;

	if (plen < t->size || (reg->type_check[t->id] && act__msg_fixup(t, msg, plen))) {
		atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
		dead_letter(w, "payload does not match its type", e->type, e->to);
		act__ring_release(h);
		return;
	}
	if (a->stopped) {
		dead_letter(w, "receiver stopped", e->type, e->to);
		act__ring_release(h);
		return;
	}

	atomic_store_explicit(&w->part->handling_type, e->type, memory_order_relaxed);
	atomic_store_explicit(&w->part->handling_from, e->from, memory_order_relaxed);
	if (rec->flags & ACT__ENV_REPLY) {
		struct ask *k = ask_find(w, e->corr);
		if (k && k->slot == (uint32_t)(a - w->actors))
			deliver_reply(w, a, k, t, msg, e);
		else
			dead_letter(w, "reply after its ask timed out", e->type, e->to);
	} else {
		invoke(w, a, t, msg, e, redelivered);
	}
	atomic_store_explicit(&w->part->handling_type, 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->part->n_handled, 1, memory_order_relaxed);
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
		n++;
	}
	/* Cut off by the batch (or a stop): look again next round. */
	w->pending[s / 64u] |= 1ull << (s % 64u);
	return n;
}

static unsigned poll_rings(struct worker *w)
{
	uint64_t bits[ACT__READY_WORDS];
	unsigned n = 0;

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
			w->ctx.actor = a;
			w->ctx.env = NULL;
			w->ctx.type = NULL;
			w->ctx.redelivered = 0;
			cb(&w->ctx, a->state, ACT_ETIMEDOUT, NULL, NULL, cookie);
			if (a->stopping)
				stop_actor(w, a);
			continue;
		}
		if (owner >= w->n_local || w->actors[owner].stopped)
			continue;
		act_timeout tm = { id };
		invoke(w, &w->actors[owner], &act_timeout_type, &tm, NULL, 0);
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
	if (!w->uring_ok) {
		/* Fallback without io_uring: a plain blocking poll. */
		struct timespec t = act__ns_to_ts(deadline_ns - now);
		fd_set set;
		FD_ZERO(&set);
		FD_SET(w->efd[w->self], &set);
		struct timeval tv = { t.tv_sec, t.tv_nsec / 1000 };
		select(w->efd[w->self] + 1, &set, NULL, NULL, &tv);
		act__doorbell_drain(w->efd[w->self]);
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

		if (act__timers_next(&w->timers) <= now)
			did += run_timers(w, now);
		if (now - w->last_beat_ns > HEARTBEAT_NS / 4)
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
		uint64_t deadline = act__timers_next(&w->timers);
		if (deadline > now + HEARTBEAT_NS)
			deadline = now + HEARTBEAT_NS;
		sleep_until(w, deadline);
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
	if (!w->parts || !w->in || !w->out || !w->slot_of || !w->actors || !w->asks)
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

	snprintf(ident, sizeof ident, "worker %s", g->name);
	act__log_set_ident(ident);
	if (!w)
		return ACT_EXIT_TEMPORARY;
	int err = setup(w, a);
	if (err) {
		rc = err == -ENOMEM ? ACT_EXIT_TEMPORARY : ACT_EXIT_PERMANENT;
		goto out;
	}
	atomic_store_explicit(&w->part->pid, getpid(), memory_order_relaxed);
	beat(w, act__now_ns());

	/* init hooks, then Start, in declaration order. */
	for (uint32_t i = 0; i < w->n_local; i++) {
		struct actor *ac = &w->actors[i];
		if (!ac->def->b->init)
			continue;
		w->ctx.w = w;
		w->ctx.actor = ac;
		w->ctx.env = NULL;
		w->ctx.type = NULL;
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
		invoke(w, &w->actors[i], &act_start_type, &a->start, NULL, 0);
	atomic_store_explicit(&w->part->state, ACT__PS_READY, memory_order_relaxed);
	send_ctrl(w, ACT__CTRL_READY, NULL, 0);

	rc = run(w);

	/* Clean stop: Shutdown to every actor (in reverse order), then fini. */
	atomic_store_explicit(&w->part->state, ACT__PS_STOPPING, memory_order_relaxed);
	act_shutdown_msg sm = { 0 };
	for (uint32_t i = w->n_local; i-- > 0;)
		if (!w->actors[i].stopped)
			invoke(w, &w->actors[i], &act_shutdown_type, &sm, NULL, 0);
	for (uint32_t i = w->n_local; i-- > 0;)
		stop_actor(w, &w->actors[i]);
out:
	teardown(w);
	free(w);
	return rc;
}
