/* SPDX-License-Identifier: MIT */
/*
 * testkit.c - actors under test in one process (include/actors/testkit.h).
 *
 * A testkit is one in-process worker (struct worker, worker-int.h) over a
 * registry of its own with one group, "test".  A crash, though, takes one
 * "unit" down: a static actor (made by act_test_spawn/probe) with every
 * actor spawned under it, so that each static actor behaves as a group of
 * its own.  Spawned actors live in one spawn area (an anonymous mapping
 * laid out as a region's, TK_SPAWN_SLOTS slots) shared by all units and
 * run by dynamic.c's own code; a unit's crash re-creates its spawned
 * actors through act__dyn_restore(), told by act__tk_restores() which
 * slots are that unit's.  actors[] has room for MAX_STATIC static actors
 * and every spawn slot from the start, so no entry ever moves.
 *
 * The handlers reach the runtime through the same act_ctx operations as
 * in a node (ops.c); only two things are swapped: the transport (ops.c's
 * out_reserve/out_commit put each envelope, written exactly as into a
 * ring, at the tail of one FIFO here) and the clock (w->vnow_ns, which
 * act_now_ns() reads: each API call points it at its own testkit).  Delivery follows dispatch.c's handle_record:
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
#include <sys/mman.h>

#include <actors.h>
#include <actors/testkit.h>

#include "clock.h"
#include "intercept.h"
#include "log.h"
#include "message.h"
#include "registry.h"
#include "topic.h"
#include "worker-int.h"

#define MAX_MSG (64u * 1024u)        /* a group's default record limit */
#define MAX_REDELIVERIES 3u          /* a group's default */
#define MAX_STEPS 10000000           /* deliveries per run before -ELOOP */
/* The testkit's one spawn area has the default capacity of a group. */
#define TK_SPAWN_SLOTS ACT__DYN_SLOTS_DEFAULT
#define MAX_STATIC TK_SPAWN_SLOTS    /* actors made by act_test_spawn/probe */
#define GROUP "test"                 /* the registry's one group */
#define NO_UNIT UINT32_MAX

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

/* What the testkit keeps per unit (static actor), beside its struct actor. */
struct tk_actor {
	bool probe;
	bool crash;                  /* act_test_crash() from a handler: at its return */
	int32_t n_restarts;
	struct queue got;            /* a probe's envelopes */
};

/* The unit of a spawn slot's tenant (generation gen), found from its
 * parents and remembered: a tenant may outlive its parent (a temporary
 * one lost in a crash), not its unit. */
struct tk_unit {
	uint32_t gen;                /* 0 = not known yet */
	uint32_t unit;
};

struct act_test {
	struct worker w;
	struct act__registry reg;
	struct tk_actor *xs;         /* [MAX_STATIC] */
	struct tk_unit *units;       /* [TK_SPAWN_SLOTS] */
	bool *restoring;             /* [TK_SPAWN_SLOTS]: act__tk_restores() */
	void *area;                  /* the spawn area (mmap) */
	struct act__xarea *xa;       /* topics and per-type figures, as in a region */
	size_t area_len;
	uint32_t n_types_seen;       /* types when refresh() last ran */
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

/* The handler table of actor a's behaviour (filled for nt types). */
static int fill_table(const struct act__registry *reg, act_handler_fn **tab,
                      const act_behaviour *b, uint32_t nt)
{
	act_handler_fn *bt = realloc(*tab, (nt + 1) * sizeof *bt);
	if (!bt)
		return -ENOMEM;
	*tab = bt;
	memset(bt, 0, (nt + 1) * sizeof *bt);
	for (size_t k = 0; k < b->n_handlers; k++) {
		const act_handler *hd = &b->handlers[k];
		uint32_t id = act__reg_type_id(reg, hd->type);
		if (id && id <= nt)
			bt[id] = hd->fn;
	}
	return 0;
}

/*
 * Brings the worker in line with the registry after it grew: each static
 * actor's def re-pointed (the registry may have moved them), and, when
 * types were added, every by_type table (static ones and the per
 * behaviour ones of dynamic.c) sized to the types and filled again.
 */
static int refresh(act_test_t *t)
{
	struct worker *w = &t->w;
	uint32_t nt = t->reg.n_types;
	bool grown = nt != t->n_types_seen;

	for (uint32_t i = 0; i < t->reg.n_actors; i++) {
		struct actor *a = &w->actors[i];
		a->id = i;
		a->def = &t->reg.actors[i];
		if ((grown || !a->by_type) && fill_table(&t->reg, &a->by_type, a->def->b, nt))
			return -ENOMEM;
	}
	if (!grown)
		return 0;
	for (uint32_t k = 0; k < w->n_btab; k++)
		if (fill_table(&t->reg, &w->btab[k].by_type, w->btab[k].b, nt))
			return -ENOMEM;
	/* Spawned actors point at their behaviour's table, which may have moved. */
	uint32_t hi = w->dyn ? atomic_load_explicit(&w->dyn->hi, memory_order_relaxed) : 0;
	for (uint32_t s = 0; s < hi; s++) {
		struct actor *a = &w->actors[w->n_local + s];
		for (uint32_t k = 0; a->def && a->ddef.b && k < w->n_btab; k++)
			if (w->btab[k].b == a->ddef.b)
				a->by_type = w->btab[k].by_type;
	}
	t->n_types_seen = nt;
	return 0;
}

/*
 * The unit (static actor index) of actors[] entry i, or NO_UNIT: static
 * actors are their own; a spawned one belongs to its parent's, found up
 * the parent chain while the parents live and remembered per tenant.
 */
static uint32_t unit_of(act_test_t *t, uint32_t i)
{
	struct worker *w = &t->w;
	uint32_t u = NO_UNIT, j = i;

	if (i < w->n_local)
		return i;
	/* Up the chain to a known unit (a child's parent was spawned before
	 * it, so the chain ends; the bound is for a corrupted record). */
	for (uint32_t steps = 0; steps <= TK_SPAWN_SLOTS; steps++) {
		struct actor *a = &w->actors[j];
		struct tk_unit *m = &t->units[j - w->n_local];
		if (m->gen && m->gen == a->gen) {
			u = m->unit;
			break;
		}
		uint32_t pid = a->rec ? a->rec->parent : 0;
		if (!pid)
			break;
		if (pid - 1 < t->reg.n_actors) {
			u = pid - 1;
			break;
		}
		struct actor *p = act__w_group_of(w, pid - 1) == w->self ? act__w_local(w, pid - 1)
		                                                          : NULL;
		if (!p || p->stopped || p->gen != a->rec->parent_gen)
			break;
		j = (uint32_t)(p - w->actors);
	}
	if (u == NO_UNIT)
		return u;
	/* Remember it for every tenant on the way. */
	for (j = i; j >= w->n_local;) {
		struct actor *a = &w->actors[j];
		struct tk_unit *m = &t->units[j - w->n_local];
		if (m->gen && m->gen == a->gen)
			break;
		m->gen = a->gen;
		m->unit = u;
		uint32_t pid = a->rec->parent;
		if (pid - 1 < t->reg.n_actors)
			break;
		j = (uint32_t)(act__w_local(w, pid - 1) - w->actors);
	}
	return u;
}

bool act__tk_restores(struct act_test *t, uint32_t slot)
{
	return slot < TK_SPAWN_SLOTS && t->restoring[slot];
}

/* The live actor ref r names in t (a static one even when stopped, if
 * `any`), or NULL. */
static struct actor *actor_of(act_test_t *t, act_ref r, bool any)
{
	struct worker *w = &t->w;
	struct actor *a;

	if (r.peer || r.id == 0)
		return NULL;
	if (r.id - 1 < t->reg.n_actors) {
		a = &w->actors[r.id - 1];
		return any || !a->stopped ? a : NULL;
	}
	if (!w->dyn || act__w_group_of(w, r.id - 1) != w->self)
		return NULL;
	a = act__w_local(w, r.id - 1);
	return !a->stopped && a->gen == r.gen ? a : NULL;
}

/* Queues Start for actor a: at the FIFO's head after a restart (the
 * worker delivers it before reading its rings), at its tail on spawn. */
static int queue_start(act_test_t *t, const struct actor *a, const act_start *st, bool front)
{
	struct rec *r = rec_new((uint32_t)(sizeof(struct act__env) + sizeof *st));
	if (!r)
		return -ENOMEM;
	act__env_write(env_of(r), ACT__REC_MSG,
	               (uint32_t)(sizeof(struct act__env) + sizeof *st),
	               &(struct act__route){ .type = act__reg_type_id(&t->reg, &act_start_type), .to = a->id,
	                                     .to_gen = a->gen });
	memcpy(env_of(r) + 1, st, sizeof *st);
	r->start = true;
	if (front)
		push_front(&t->fifo, r);
	else
		push(&t->fifo, r);
	return 0;
}

/* Drops the queued Starts of unit u's actors: a new instance gets its own. */
static void purge_starts(act_test_t *t, uint32_t u)
{
	struct rec **pp = &t->fifo.head, *prev = NULL;

	while (*pp) {
		struct rec *r = *pp;
		struct actor *a = r->start ? act__w_local(&t->w, env_of(r)->to) : NULL;
		if (a && unit_of(t, (uint32_t)(a - t->w.actors)) == u) {
			*pp = r->next;
			free(r);
			continue;
		}
		prev = r;
		pp = &r->next;
	}
	t->fifo.tail = prev;
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

/* What dies with a process: an actor's timers and asks, its state (no fini). */
static void drop(act_test_t *t, struct actor *a)
{
	uint32_t i = (uint32_t)(a - t->w.actors);

	act__timers_cancel_owner(&t->w.timers, i);
	act__ask_drop_owner(&t->w, i);
	a->stopping = false;
	a->running = 0;
	a->n_children = 0;
	a->stop_reason = NULL;
	free(a->fail_reason);
	a->fail_reason = NULL;
}

/*
 * The crash of unit u's group and its restart: what dies with the
 * process (state, timers, asks, the static actor's monitors) goes without
 * fini; init runs on zeroed state; the unit's permanent and transient
 * spawned actors come back (dynamic.c, same refs, init again), its
 * temporary ones are gone (Down "crashed: signal 9" to their monitors);
 * then Start{restart} to each, static one first, then the envelope that
 * was being handled (if any), flagged as redelivered.
 */
static int restart(act_test_t *t, uint32_t u, struct rec *inflight)
{
	struct worker *w = &t->w;
	struct actor *a = &w->actors[u];
	struct tk_actor *x = &t->xs[u];
	uint32_t hi = atomic_load_explicit(&w->dyn->hi, memory_order_relaxed);
	act_start st;
	int err;

	purge_starts(t, u);
	for (uint32_t s = 0; s < hi; s++) {
		struct actor *d = &w->actors[w->n_local + s];
		if (!d->def)
			act__dyn_touch(w, d);
		uint64_t word = atomic_load_explicit(&d->rec->word, memory_order_relaxed);
		t->restoring[s] = ACT__SLOT_STATE(word) != ACT__SLOT_LIVE;
		if (t->restoring[s] || unit_of(t, w->n_local + s) != u)
			continue;
		t->restoring[s] = true;
		drop(t, d);
		free(d->state);
		d->state = NULL;
		d->stopped = true;
	}
	drop(t, a);
	memset(a->state, 0, a->def->b->state_size ? a->def->b->state_size : 1);
	a->stopped = false;
	free(a->mon); /* a static actor's monitors lived in the process */
	a->mon = NULL;
	free(a->mon_pgen);
	a->mon_pgen = NULL;
	x->crash = false;
	x->n_restarts++;
	if (inflight) {
		inflight->redelivered++;
		push_front(&t->fifo, inflight);
	}
	st = (act_start){ true, x->n_restarts, SIGKILL, -1 };
	err = run_init(t, a);
	if (!err) {
		t->in_handler = true;
		err = act__dyn_restore(w, &st);
		t->in_handler = false;
	}
	for (uint32_t s = hi; !err && s-- > 0;) {
		struct actor *d = &w->actors[w->n_local + s];
		if (t->restoring[s] && !d->stopped)
			err = queue_start(t, d, &st, true);
	}
	memset(t->restoring, 0, hi * sizeof *t->restoring);
	return err ? err : queue_start(t, a, &st, true);
}

/* Restarts the units whose crash was asked for during a handler; the
 * envelope being handled goes back to the unit that was handling it. */
static void do_crashes(act_test_t *t, uint32_t unit, struct rec **inflight)
{
	for (uint32_t i = 0; t->n_crash && i < t->reg.n_actors; i++) {
		if (!t->xs[i].crash)
			continue;
		t->n_crash--;
		struct rec *r = NULL;
		if (inflight && i == unit) {
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
	struct actor *a = act__w_group_of(w, e->to) == w->self ? act__w_local(w, e->to) : NULL;
	const act_type *ty = e->type && e->type <= reg->n_types ? reg->types[e->type] : NULL;
	void *msg = e + 1;
	size_t plen = e->rec.len - sizeof *e;
	uint32_t unit = NO_UNIT;
	int ran = 0;

	if (!a || !ty) {
		/* Not written by ops.c: cannot happen, but never a crash. */
		atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
		free(r);
		return 0;
	}
	if (r->start) {
		if (!a->stopped && a->gen == e->to_gen) {
			unit = unit_of(t, (uint32_t)(a - w->actors));
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
	if (a->dynamic && (a->stopped || a->gen != e->to_gen)) {
		/* A ref to a spawned actor that is gone: never its slot's next tenant. */
		act__w_stale_letter(w, a, e);
		free(r);
		return 0;
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
	unit = unit_of(t, (uint32_t)(a - w->actors));
	t->cur = r;
	t->kept = false;
	t->in_handler = true;
	if (e->rec.flags & ACT__ENV_REPLY) {
		struct ask *k = act__ask_find(w, e->corr);
		if (k && k->slot == (uint32_t)(a - w->actors)) {
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
		do_crashes(t, unit, &r);
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

/* Makes t the testkit whose clock act_now_ns() reads.  Type ids live in
 * each testkit's registry, so testkits alive at once never disturb each
 * other's numbering. */
/* The testkit whose interceptors form this process's chain (intercept.c). */
static const act_test_t *ic_owner;

static int use(act_test_t *t)
{
	act__virtual_now_ns = &t->w.vnow_ns;
	if (ic_owner != t) {
		act__ic_activate(&t->reg, 1, act__xa_gstat(t->xa, 1));
		ic_owner = t;
	}
	return 0;
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
	    act__reg_add_type(&t->reg, &act_reject_type) ||
	    act__reg_add_type(&t->reg, &act_down_type) ||
	    act__reg_add_group(&t->reg, GROUP))
		goto fail;
	act__reg_add_declared(&t->reg);
	w->reg = &t->reg;
	w->self = 1;
	w->n_parts = 2; /* the supervisor's place, and the one group */
	w->tk = t;
	w->ctx.w = w;
	w->part = aligned_alloc(alignof(struct act__part),
	                        (sizeof *w->part + alignof(struct act__part) - 1) &
	                        ~(alignof(struct act__part) - 1));
	w->asks = calloc(ASK_SLOTS, sizeof *w->asks);
	w->remotes = calloc(MAX_REMOTES, sizeof *w->remotes);
	w->jbuf_cap = MAX_MSG;
	w->jbuf = malloc(w->jbuf_cap);
	/* Room for every static actor and spawn slot up front (zero pages
	 * until used), so that no entry ever moves: timers, asks and the
	 * name table hold indices into actors[]. */
	w->n_local = MAX_STATIC;
	w->actors = calloc((size_t)MAX_STATIC + TK_SPAWN_SLOTS, sizeof *w->actors);
	w->slot_of = malloc(MAX_STATIC * sizeof *w->slot_of);
	t->xs = calloc(MAX_STATIC, sizeof *t->xs);
	t->units = calloc(TK_SPAWN_SLOTS, sizeof *t->units);
	t->restoring = calloc(TK_SPAWN_SLOTS, sizeof *t->restoring);
	if (!w->part || !w->asks || !w->remotes || !w->jbuf || !w->actors || !w->slot_of ||
	    !t->xs || !t->units || !t->restoring || act__timers_init(&w->timers))
		goto fail;
	for (uint32_t i = 0; i < MAX_STATIC; i++)
		w->slot_of[i] = (int32_t)i;
	/* The spawn area, as a region lays out one group's (layout.h). */
	size_t ext_off = (act__dyn_hdr_bytes(TK_SPAWN_SLOTS) + (size_t)TK_SPAWN_SLOTS * sizeof(struct act__spawn_rec) +
	                  4095) & ~(size_t)4095;
	t->area_len = ext_off + (size_t)TK_SPAWN_SLOTS * sizeof(struct act__spawn_ext);
	t->area = mmap(NULL, t->area_len, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t->area == MAP_FAILED) {
		t->area = NULL;
		goto fail;
	}
	w->shm.fd = -1;
	w->shm.base = t->area;
	w->shm.size = t->area_len;
	w->shm.n_parts = 2;
	w->shm.dyn_shift = 14; /* the region's with default capacities: same ids */
	w->shm.dyn[1] = (struct act__shm_dyn){
		.hdr = t->area,
		.recs = (struct act__spawn_rec *)((unsigned char *)t->area + act__dyn_hdr_bytes(TK_SPAWN_SLOTS)),
		.ext = (struct act__spawn_ext *)((unsigned char *)t->area + ext_off),
		.base = 0,
		.n_slots = TK_SPAWN_SLOTS,
	};
	w->dyn_cap = TK_SPAWN_SLOTS;
	/* Topics and per-type figures: one group's worth, on the heap. */
	if (!(t->xa = calloc(1, act__xarea_bytes(2))))
		goto fail;
	act__xarea_format(t->xa, 2);
	w->shm.xa = t->xa;
	if (act__dyn_setup(w))
		goto fail;
	w->mon_seq = 0; /* monitor ids from 1: the same in every run */
	for (uint32_t s = TK_SPAWN_SLOTS; s-- > 0;)
		w->free_slots[w->n_free++] = s;
	memset(w->part, 0, sizeof *w->part);
	w->part->index = 1;
	w->part->max_redeliveries = MAX_REDELIVERIES;
	w->part->max_msg = MAX_MSG;
	t->tester_def.name = "act_test_send";
	t->tester_def.id = UINT32_MAX;
	t->tester.id = UINT32_MAX;
	t->tester.def = &t->tester_def;
	t->n_types_seen = t->reg.n_types;
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
	if (w->actors && t->xa) {
		use(t); /* its interceptors see the stops */
	}
	if (w->actors) {
		act__virtual_now_ns = &w->vnow_ns;
		/* Like a clean stop without Shutdown: every live actor's fini,
		 * spawned ones first (newest slot first). */
		uint32_t hi = w->dyn ? atomic_load_explicit(&w->dyn->hi, memory_order_relaxed) : 0;
		for (uint32_t s = hi; s-- > 0;) {
			struct actor *a = &w->actors[w->n_local + s];
			if (a->def && !a->stopped)
				act__w_stop_actor(w, a);
		}
		for (uint32_t i = 0; i < t->reg.n_actors; i++)
			if (!w->actors[i].stopped && w->actors[i].state)
				act__w_stop_actor(w, &w->actors[i]);
		for (uint32_t i = 0; i < t->reg.n_actors; i++) {
			free(w->actors[i].state);
			free(w->actors[i].by_type);
			drop_all(&t->xs[i].got);
		}
		act__dyn_teardown(w);
	}
	drop_all(&t->fifo);
	free(t->taken);
	if (act__virtual_now_ns == &w->vnow_ns)
		act__virtual_now_ns = NULL;
	act__timers_fini(&w->timers);
	if (t->area)
		munmap(t->area, t->area_len);
	free(w->actors);
	free(w->slot_of);
	free(t->xs);
	free(t->units);
	free(t->restoring);
	free(w->part);
	free(w->asks);
	free(w->remotes);
	free(w->jbuf);
	act__ic_forget(&t->reg);
	if (ic_owner == t) {
		act__ic_activate(&t->reg, 1, NULL); /* nothing left: an empty chain */
		ic_owner = NULL;
	}
	free(t->xa);
	act__reg_fini(&t->reg);
	free(t);
}

ACT_API int act_test_add_interceptor(act_test_t *t, const act_interceptor *ic)
{
	int err;

	if (!t)
		return -EINVAL;
	if (t->in_handler)
		return -EBUSY;
	if ((err = act__ic_add(&t->reg, false, ic)))
		return err;
	ic_owner = NULL; /* rebuild the chain on next use */
	return use(t);
}

ACT_API uint64_t act_test_dropped(const act_test_t *t, const act_interceptor *ic,
                                  const act_type *type)
{
	struct act__gstat *gs = t ? act__xa_gstat(t->xa, 1) : NULL;
	uint64_t n = 0;

	if (!gs || ic_owner != t)
		return 0;
	uint32_t tid = type ? act__reg_type_id(&t->reg, type) : 0;
	for (uint32_t i = 0; i < act__ic_n; i++) {
		if (act__ic_chain[i] != ic)
			continue;
		for (uint32_t k = 1; k < ACT__TSTAT_TYPES; k++)
			if (!type || k == tid)
				n += atomic_load_explicit(&gs->ic_drops[i][k], memory_order_relaxed);
	}
	return n;
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

ACT_API int act_test_add_behaviour(act_test_t *t, const act_behaviour *b)
{
	int err;

	if (!t)
		return -EINVAL;
	if (t->in_handler)
		return -EBUSY; /* a node's behaviours are fixed before it runs */
	if ((err = act__reg_add_behaviour(&t->reg, b)))
		return err;
	return refresh(t);
}

static int add_actor(act_test_t *t, const act_behaviour *b, const char *name,
                     const char *args_json, bool probe, act_ref *out)
{
	struct worker *w = &t->w;
	act_ref dyn;
	int err;

	if (!b || !out || !act__name_ok(name))
		return -EINVAL;
	if (t->in_handler)
		return -EBUSY; /* from a handler: act_spawn() */
	if ((err = use(t)))
		return err;
	if (act__reg_find_actor(&t->reg, name) >= 0 || act__dyn_lookup(w, name, &dyn) == 0)
		return -EEXIST;
	if (t->reg.n_actors >= MAX_STATIC)
		return -ENOSPC;
	if ((err = act__reg_add_actor(&t->reg, GROUP, name, b, args_json)))
		return err;
	act__reg_add_declared(&t->reg);
	uint32_t slot = t->reg.n_actors - 1;
	struct actor *a = &w->actors[slot];
	a->stopped = true; /* until it has its state */
	if ((err = refresh(t)))
		return err; /* the registry holds it: freed with t */
	if (!(a->state = calloc(1, b->state_size ? b->state_size : 1)))
		return -ENOMEM;
	a->stopped = false;
	t->xs[slot].probe = probe;
	out->id = slot + 1;
	out->peer = 0;
	out->gen = 0;
	if ((err = run_init(t, a)))
		return err;
	return queue_start(t, a, &(act_start){ false, 0, 0, -1 }, false);
}

ACT_API int act_test_spawn(act_test_t *t, const act_behaviour *b, const char *name,
                           const char *args_json, act_ref *out)
{
	return t ? add_actor(t, b, name, args_json, false, out) : -EINVAL;
}

ACT_API int act_test_probe(act_test_t *t, const char *name, act_ref *out)
{
	return t ? add_actor(t, &probe_behaviour, name, NULL, true, out) : -EINVAL;
}

ACT_API int act_test_send(act_test_t *t, act_ref from, act_ref to, const act_type *type,
                          const void *msg)
{
	struct actor *a;
	int err;

	if (!t)
		return -EINVAL;
	if ((err = use(t)))
		return err;
	if (act_ref_is_nobody(from))
		return act__w_send_as(&t->w, &t->tester, 0, to, type, msg);
	if (!(a = actor_of(t, from, true)))
		return -ENOENT;
	return act__w_send_as(&t->w, a, from.id, to, type, msg);
}

ACT_API int act_test_run(act_test_t *t)
{
	int n;

	if (!t)
		return -EINVAL;
	if (t->running)
		return -EBUSY;
	if ((n = use(t)))
		return n;
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
	if ((n = use(t)))
		return n;
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
			do_crashes(t, NO_UNIT, NULL);
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

	if (!t || probe.peer || probe.id == 0 || probe.id > t->reg.n_actors ||
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
	struct actor *a;
	uint32_t u;
	int err;

	if (!t || !(a = actor_of(t, who, true)))
		return -ENOENT;
	if ((u = unit_of(t, (uint32_t)(a - t->w.actors))) == NO_UNIT)
		return -ENOENT;
	if (t->in_handler) {
		/* Inside a handler: the crash happens as it returns, and takes
		 * the envelope it was handling along if it is this unit's. */
		if (!t->xs[u].crash) {
			t->xs[u].crash = true;
			t->n_crash++;
		}
		return 0;
	}
	if ((err = use(t)))
		return err;
	return restart(t, u, NULL);
}

ACT_API void *act_test_state(act_test_t *t, act_ref who)
{
	struct actor *a = t ? actor_of(t, who, true) : NULL;
	return a ? a->state : NULL;
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
