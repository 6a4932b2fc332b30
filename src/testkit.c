/* SPDX-License-Identifier: MIT */
/*
 * testkit.c - actors under test in one process (include/actors/testkit.h).
 *
 * A testkit is one in-process worker (struct worker, worker-int.h) over a
 * registry of its own, in which every actor is a group of its own.  The
 * handlers reach the runtime through the same act_ctx operations as in a
 * node (ops.c); only two things are swapped: the transport (ops.c's
 * out_reserve/out_commit put each envelope, written exactly as into a
 * ring, at the tail of one FIFO here) and the clock (w->vnow_ns, which
 * act_now_ns() reads too).  Delivery follows dispatch.c's handle_record:
 * the payload is checked and its act_buf pointers fixed up by the codec,
 * replies go through the ask table, the rest through act__w_invoke();
 * timers and ask timeouts fire through act__w_run_timers().
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include <actors.h>
#include <actors/testkit.h>

#include "clock.h"
#include "message.h"
#include "registry.h"
#include "worker-int.h"

#define MAX_MSG (64u * 1024u)        /* a group's default record limit */
#define MAX_REDELIVERIES 3u          /* a group's default */
#define MAX_STEPS 10000000           /* deliveries per run before -ELOOP */

/* One envelope, as a ring holds it: struct act__env then the payload. */
struct rec {
	struct rec *next;
	uint32_t redelivered;        /* deliveries that crashed before */
	bool start;                  /* a (re)start's Start: no envelope, like the worker's */
	uint64_t data[];             /* 8-aligned, as in a ring */
};

struct queue {
	struct rec *head, *tail;
};

/* What the testkit keeps per actor, beside the worker's struct actor. */
struct tk_actor {
	bool probe;
	bool crash;                  /* act_test_crash() from a handler: at its return */
	int32_t n_restarts;
	struct queue got;            /* a probe's envelopes */
};

struct act_test {
	struct worker w;
	struct act__registry reg;
	struct tk_actor *xs;         /* [reg.n_actors] */
	struct queue fifo;
	struct rec *cur;             /* envelope being handled, or NULL */
	bool in_handler;             /* a handler (or timer, ask callback) is running */
	bool running;                /* inside act_test_run/advance */
	bool kept;                   /* a probe took cur */
	bool shutdown;
	uint32_t n_crash;            /* actors with crash set */
	int failed;                  /* an init failed on a restart */
	size_t n_outside;            /* envelopes to remote refs */
	struct rec *taken;           /* the last act_test_take()'s envelope */
	struct actor tester;         /* names ACT_NOBODY's sends in logs */
	struct act__actor_def tester_def;
};

static struct act__env *env_of(struct rec *r) { return (struct act__env *)r->data; }

static struct rec *rec_of(struct act__env *e)
{
	return (struct rec *)((char *)e - offsetof(struct rec, data));
}

static void push(struct queue *q, struct rec *r)
{
	r->next = NULL;
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
}

static void push_front(struct queue *q, struct rec *r)
{
	r->next = q->head;
	q->head = r;
	if (!q->tail)
		q->tail = r;
}

static struct rec *pop(struct queue *q)
{
	struct rec *r = q->head;
	if (r && !(q->head = r->next))
		q->tail = NULL;
	return r;
}

static void drop_all(struct queue *q)
{
	struct rec *r;
	while ((r = pop(q)))
		free(r);
}

static struct rec *rec_new(uint32_t len)
{
	struct rec *r = calloc(1, sizeof *r + ((len + 7u) & ~7u));
	return r;
}

/* ---- the transport (called from ops.c) ------------------------------------ */

struct act__env *act__tk_reserve(struct act_test *t, uint32_t len, int *err)
{
	struct rec *r;

	(void)t;
	/* The ring's limit: a record larger than the group's max_msg. */
	if (len < sizeof(struct act__env) || len > MAX_MSG) {
		*err = -EMSGSIZE;
		return NULL;
	}
	if (!(r = rec_new(len))) {
		*err = ACT_EFULL; /* no room: what a full ring says */
		return NULL;
	}
	return env_of(r);
}

void act__tk_commit(struct act_test *t, struct act__env *e)
{
	struct rec *r = rec_of(e);

	if (e->rec.kind == ACT__REC_CTRL) {
		/* To the supervisor: act_shutdown(); a poison envelope's
		 * record (already counted as a dead letter). */
		if (e->type == ACT__CTRL_SHUTDOWN_NODE)
			t->shutdown = true;
		free(r);
		return;
	}
	if (e->to == ACT__TO_OUTSIDE) {
		/* To a remote ref: no network in a testkit. */
		t->n_outside++;
		free(r);
		return;
	}
	push(&t->fifo, r);
}

/* ---- actors ---------------------------------------------------------------- */

/*
 * Brings the worker's arrays in line with the registry after it grew:
 * actors[] and xs[] sized to n_actors, each def re-pointed (the registry
 * may have moved them), each by_type table sized to the types and filled.
 */
static int refresh(act_test_t *t)
{
	struct worker *w = &t->w;
	uint32_t n = t->reg.n_actors, nt = t->reg.n_types;
	struct actor *as = realloc(w->actors, (n ? n : 1) * sizeof *as);
	if (!as)
		return -ENOMEM;
	w->actors = as;
	struct tk_actor *xs = realloc(t->xs, (n ? n : 1) * sizeof *xs);
	if (!xs)
		return -ENOMEM;
	t->xs = xs;
	for (uint32_t i = w->n_local; i < n; i++) {
		memset(&as[i], 0, sizeof as[i]);
		memset(&xs[i], 0, sizeof xs[i]);
		as[i].id = i;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct actor *a = &as[i];
		act_handler_fn *bt = realloc(a->by_type, (nt + 1) * sizeof *bt);
		if (!bt)
			return -ENOMEM;
		a->by_type = bt;
		a->def = &t->reg.actors[i];
		memset(bt, 0, (nt + 1) * sizeof *bt);
		for (size_t k = 0; k < a->def->b->n_handlers; k++) {
			const act_handler *hd = &a->def->b->handlers[k];
			uint32_t id = act__reg_type_id(&t->reg, hd->type);
			if (id && id <= nt)
				bt[id] = hd->fn;
		}
	}
	return 0;
}

/* Queues Start for actor slot: at the FIFO's head after a restart (the
 * worker delivers it before reading its rings), at its tail on spawn. */
static int queue_start(act_test_t *t, uint32_t slot, const act_start *st, bool front)
{
	struct rec *r = rec_new((uint32_t)(sizeof(struct act__env) + sizeof *st));
	if (!r)
		return -ENOMEM;
	act__env_write(env_of(r), ACT__REC_MSG,
	               (uint32_t)(sizeof(struct act__env) + sizeof *st),
	               &(struct act__route){ .type = act__reg_type_id(&t->reg, &act_start_type),
	                                     .to = slot });
	memcpy(env_of(r) + 1, st, sizeof *st);
	r->start = true;
	if (front)
		push_front(&t->fifo, r);
	else
		push(&t->fifo, r);
	return 0;
}

/* Runs a's init as the worker does (before Start).  0 or a negative error. */
static int run_init(act_test_t *t, struct actor *a)
{
	struct worker *w = &t->w;
	int r;

	if (!a->def->b->init)
		return 0;
	act__w_set_ctx(w, a, NULL, NULL, NULL, 0, NULL);
	t->in_handler = true;
	r = a->def->b->init(&w->ctx, a->state, a->def->args);
	t->in_handler = false;
	if (r) {
		a->stopped = true; /* a node would exit 100: nothing runs it */
		return r < 0 ? r : -EINVAL;
	}
	return 0;
}

/*
 * The crash of actor slot's group and its restart: what dies with the
 * process (state, timers, asks) goes without fini; init runs on zeroed
 * state; Start{restart} goes first, then the envelope that was being
 * handled (if any), flagged as redelivered.
 */
static int restart(act_test_t *t, uint32_t slot, struct rec *inflight)
{
	struct worker *w = &t->w;
	struct actor *a = &w->actors[slot];
	struct tk_actor *x = &t->xs[slot];
	act_start st;
	int err;

	act__timers_cancel_owner(&w->timers, slot);
	act__ask_drop_owner(w, slot);
	memset(a->state, 0, a->def->b->state_size ? a->def->b->state_size : 1);
	a->stopping = a->stopped = false;
	x->crash = false;
	x->n_restarts++;
	if (inflight) {
		inflight->redelivered++;
		push_front(&t->fifo, inflight);
	}
	if ((err = run_init(t, a)))
		return err;
	st = (act_start){ true, x->n_restarts, SIGKILL, -1 };
	return queue_start(t, slot, &st, true);
}

/* Restarts the actors whose crash was asked for during a handler; the
 * envelope being handled goes back to the one that was handling it. */
static void do_crashes(act_test_t *t, uint32_t slot, struct rec **inflight)
{
	for (uint32_t i = 0; t->n_crash && i < t->reg.n_actors; i++) {
		if (!t->xs[i].crash)
			continue;
		t->n_crash--;
		struct rec *r = NULL;
		if (inflight && i == slot) {
			r = *inflight;
			*inflight = NULL;
		}
		int err = restart(t, i, r);
		if (err && !t->failed)
			t->failed = err;
	}
}

static void probe_got(act_ctx *ctx, void *state, const void *msg)
{
	act_test_t *t = ctx->w->tk;
	(void)state;
	(void)msg;
	/* Only envelopes are recorded (a probe sets no timers, asks nothing). */
	if (t->cur && !t->kept) {
		push(&t->xs[ctx->actor->id].got, t->cur);
		t->kept = true;
	}
}

static const act_behaviour probe_behaviour = {
	.name = "act_test_probe", .on_unhandled = probe_got,
};

/* ---- delivery -------------------------------------------------------------- */

/* True if invoking a for type t (id tid) runs a function (as act__w_invoke
 * decides). */
static bool has_handler(const struct actor *a, const act_type *t, uint32_t tid)
{
	if (a->by_type[tid])
		return true;
	if (t == &act_start_type || t == &act_shutdown_type)
		return false;
	return a->def->b->on_unhandled != NULL;
}

/* Delivers record r as the worker's handle_record() would.  Returns the
 * handlers run (0 or 1); r is freed, kept by a probe or requeued. */
static int deliver(act_test_t *t, struct rec *r)
{
	struct worker *w = &t->w;
	const struct act__registry *reg = &t->reg;
	struct act__env *e = env_of(r);
	uint32_t slot = e->to;
	struct actor *a = &w->actors[slot];
	const act_type *ty = reg->types[e->type];
	void *msg = e + 1;
	size_t plen = e->rec.len - sizeof *e;
	int ran = 0;

	if (r->start) {
		if (!a->stopped) {
			t->in_handler = true;
			ran = has_handler(a, ty, e->type);
			act__w_invoke(w, a, ty, msg, NULL, 0, NULL);
			t->in_handler = false;
		}
		free(r);
		r = NULL;
		goto out;
	}
	if (r->redelivered) {
		atomic_fetch_add_explicit(&w->part->n_redelivered, 1, memory_order_relaxed);
		if (r->redelivered >= w->part->max_redeliveries) {
			act__w_dead_letter(w, "poison message", e->type, e->to);
			free(r);
			return 0;
		}
	}
	/* The codec's check, on the packed copy, as for a ring's record. */
	if (plen < ty->size || (reg->type_check[e->type] && act__msg_fixup(ty, msg, plen))) {
		atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
		act__w_dead_letter(w, "payload does not match its type", e->type, e->to);
		free(r);
		return 0;
	}
	if (a->stopped) {
		act__w_dead_letter(w, "receiver stopped", e->type, e->to);
		free(r);
		return 0;
	}
	t->cur = r;
	t->kept = false;
	t->in_handler = true;
	if (e->rec.flags & ACT__ENV_REPLY) {
		struct ask *k = act__ask_find(w, e->corr);
		if (k && k->slot == e->to) {
			act__ask_deliver(w, a, k, ty, msg, e);
			ran = 1;
		} else {
			act__w_dead_letter(w, "reply after its ask timed out", e->type, e->to);
		}
	} else {
		ran = has_handler(a, ty, e->type);
		act__w_invoke(w, a, ty, msg, e, r->redelivered, NULL);
	}
	t->in_handler = false;
	t->cur = NULL;
	if (t->kept)
		r = NULL;
out:
	/* A crash asked for by this handler takes r along to be redelivered. */
	if (t->n_crash)
		do_crashes(t, slot, &r);
	free(r);
	return ran;
}

static int run_fifo(act_test_t *t)
{
	struct rec *r;
	int n = 0, steps = 0;

	while ((r = pop(&t->fifo))) {
		if (++steps > MAX_STEPS)
			return -ELOOP;
		n += deliver(t, r);
		if (t->failed) {
			int err = t->failed;
			t->failed = 0;
			return err;
		}
	}
	return n;
}

/* ---- the API ----------------------------------------------------------------- */

ACT_API act_test_t *act_test_new(void)
{
	act_test_t *t = calloc(1, sizeof *t);
	struct worker *w;

	if (!t)
		return NULL;
	w = &t->w;
	act__reg_init(&t->reg);
	if (act__reg_add_type(&t->reg, &act_start_type) ||
	    act__reg_add_type(&t->reg, &act_shutdown_type) ||
	    act__reg_add_type(&t->reg, &act_timeout_type) ||
	    act__reg_add_type(&t->reg, &act_reject_type))
		goto fail;
	act__reg_add_declared(&t->reg);
	w->reg = &t->reg;
	w->self = 1;
	w->tk = t;
	w->ctx.w = w;
	w->part = aligned_alloc(alignof(struct act__part),
	                        (sizeof *w->part + alignof(struct act__part) - 1) &
	                        ~(alignof(struct act__part) - 1));
	w->asks = calloc(ASK_SLOTS, sizeof *w->asks);
	w->remotes = calloc(MAX_REMOTES, sizeof *w->remotes);
	w->jbuf_cap = MAX_MSG;
	w->jbuf = malloc(w->jbuf_cap);
	if (!w->part || !w->asks || !w->remotes || !w->jbuf || act__timers_init(&w->timers))
		goto fail;
	memset(w->part, 0, sizeof *w->part);
	w->part->index = 1;
	w->part->max_redeliveries = MAX_REDELIVERIES;
	w->part->max_msg = MAX_MSG;
	t->tester_def.name = "act_test_send";
	t->tester_def.id = UINT32_MAX;
	t->tester.id = UINT32_MAX;
	t->tester.def = &t->tester_def;
	act__virtual_now_ns = &w->vnow_ns;
	return t;
fail:
	act_test_free(t);
	return NULL;
}

ACT_API void act_test_free(act_test_t *t)
{
	struct worker *w;

	if (!t)
		return;
	w = &t->w;
	/* Like a clean stop without Shutdown: every live actor's fini. */
	for (uint32_t i = 0; i < w->n_local; i++)
		if (!w->actors[i].stopped && w->actors[i].state)
			act__w_stop_actor(w, &w->actors[i]);
	for (uint32_t i = 0; i < w->n_local; i++) {
		free(w->actors[i].state);
		free(w->actors[i].by_type);
		drop_all(&t->xs[i].got);
	}
	drop_all(&t->fifo);
	free(t->taken);
	if (act__virtual_now_ns == &w->vnow_ns)
		act__virtual_now_ns = NULL;
	act__timers_fini(&w->timers);
	free(w->actors);
	free(t->xs);
	free(w->part);
	free(w->asks);
	free(w->remotes);
	free(w->jbuf);
	act__reg_fini(&t->reg);
	free(t);
}

ACT_API int act_test_add_type(act_test_t *t, const act_type *type)
{
	int err;

	if (!t)
		return -EINVAL;
	if ((err = act__reg_add_type(&t->reg, type)))
		return err;
	return refresh(t);
}

static int add_actor(act_test_t *t, const act_behaviour *b, const char *name,
                     const char *args_json, bool probe, act_ref *out)
{
	struct worker *w = &t->w;
	char group[16];
	int err;

	if (!t || !b || !out || !act__name_ok(name))
		return -EINVAL;
	if (t->in_handler)
		return -EBUSY; /* spawning from a handler waits for act_spawn() */
	if (act__reg_find_actor(&t->reg, name) >= 0)
		return -EEXIST;
	/* One group per actor, so that a crash restarts only it. */
	snprintf(group, sizeof group, "g%u", t->reg.n_groups + 1);
	if ((err = act__reg_add_group(&t->reg, group)))
		return err;
	if ((err = act__reg_add_actor(&t->reg, group, name, b, args_json)))
		return err;
	act__reg_add_declared(&t->reg);
	if ((err = refresh(t)))
		return err; /* the registry holds it: freed with t */
	uint32_t slot = t->reg.n_actors - 1;
	struct actor *a = &w->actors[slot];
	a->state = calloc(1, b->state_size ? b->state_size : 1);
	if (!a->state) {
		a->stopped = true;
		w->n_local = w->n_slots = t->reg.n_actors;
		return -ENOMEM;
	}
	/* No spawn slots under the testkit (yet): every actor is static. */
	w->n_local = w->n_slots = t->reg.n_actors;
	t->xs[slot].probe = probe;
	out->id = slot + 1;
	out->peer = 0;
	out->gen = 0;
	if ((err = run_init(t, a)))
		return err;
	return queue_start(t, slot, &(act_start){ false, 0, 0, -1 }, false);
}

ACT_API int act_test_spawn(act_test_t *t, const act_behaviour *b, const char *name,
                           const char *args_json, act_ref *out)
{
	return add_actor(t, b, name, args_json, false, out);
}

ACT_API int act_test_probe(act_test_t *t, const char *name, act_ref *out)
{
	return add_actor(t, &probe_behaviour, name, NULL, true, out);
}

ACT_API int act_test_send(act_test_t *t, act_ref from, act_ref to, const act_type *type,
                          const void *msg)
{
	if (!t)
		return -EINVAL;
	if (act_ref_is_nobody(from))
		return act__w_send_as(&t->w, &t->tester, 0, to, type, msg);
	if (from.peer || from.id > t->w.n_local)
		return -ENOENT;
	return act__w_send_as(&t->w, &t->w.actors[from.id - 1], from.id, to, type, msg);
}

ACT_API int act_test_run(act_test_t *t)
{
	int n;

	if (!t)
		return -EINVAL;
	if (t->running)
		return -EBUSY;
	t->running = true;
	n = run_fifo(t);
	t->running = false;
	return n;
}

ACT_API int act_test_advance(act_test_t *t, uint64_t ms)
{
	struct worker *w;
	uint64_t ns, target, next;
	int n, r;

	if (!t)
		return -EINVAL;
	if (t->running)
		return -EBUSY;
	w = &t->w;
	if (__builtin_mul_overflow(ms, 1000000u, &ns) ||
	    __builtin_add_overflow(w->vnow_ns, ns, &target))
		target = UINT64_MAX;
	t->running = true;
	if ((n = run_fifo(t)) < 0)
		goto out;
	/* Each deadline in turn: the clock stops at it, its timers fire, and
	 * what they sent is delivered before time moves on. */
	while ((next = act__timers_next(&w->timers)) <= target) {
		if (next > w->vnow_ns)
			w->vnow_ns = next;
		t->in_handler = true;
		n += (int)act__w_run_timers(w, w->vnow_ns);
		t->in_handler = false;
		if (t->n_crash)
			do_crashes(t, 0, NULL);
		if (t->failed) {
			n = t->failed;
			t->failed = 0;
			goto out;
		}
		if ((r = run_fifo(t)) < 0) {
			n = r;
			goto out;
		}
		n += r;
	}
	w->vnow_ns = target;
out:
	t->running = false;
	return n;
}

ACT_API uint64_t act_test_now_ms(const act_test_t *t)
{
	return t ? t->w.vnow_ns / 1000000u : 0;
}

ACT_API int act_test_take(act_test_t *t, act_ref probe, const act_type **type,
                          const void **msg, act_ref *sender)
{
	struct rec *r;

	if (!t || probe.peer || probe.id == 0 || probe.id > t->w.n_local ||
	    !t->xs[probe.id - 1].probe)
		return -EINVAL;
	free(t->taken);
	t->taken = NULL;
	if (!(r = pop(&t->xs[probe.id - 1].got)))
		return -ENOENT;
	t->taken = r;
	struct act__env *e = env_of(r);
	if (type)
		*type = t->reg.types[e->type];
	if (msg)
		*msg = e + 1;
	if (sender)
		*sender = (act_ref){ e->from, e->from_peer, e->from_gen };
	return 0;
}

ACT_API int act_test_crash(act_test_t *t, act_ref who)
{
	if (!t || who.peer || who.id == 0 || who.id > t->w.n_local)
		return -ENOENT;
	uint32_t slot = who.id - 1;
	if (t->in_handler) {
		/* Inside a handler: the crash happens as it returns, and takes
		 * the envelope it was handling along if it is this actor's. */
		if (!t->xs[slot].crash) {
			t->xs[slot].crash = true;
			t->n_crash++;
		}
		return 0;
	}
	return restart(t, slot, NULL);
}

ACT_API void *act_test_state(act_test_t *t, act_ref who)
{
	if (!t || who.peer || who.id == 0 || who.id > t->w.n_local)
		return NULL;
	return t->w.actors[who.id - 1].state;
}

ACT_API size_t act_test_dead_letters(const act_test_t *t)
{
	if (!t)
		return 0;
	return (size_t)atomic_load_explicit(&t->w.part->n_dead_letters, memory_order_relaxed) +
	       t->n_outside;
}

ACT_API bool act_test_shutdown_requested(const act_test_t *t)
{
	return t && t->shutdown;
}
