/* SPDX-License-Identifier: MIT */
/*
 * t/monitor-fanout.c - an actor with more monitors than its watchers'
 * rings take Downs at once stops: every watcher gets its Down, none is a
 * dead letter, and a later Down does not overtake the waiting ones.
 *
 * Group "a" (64 KiB rings) holds the static actors "t" and "t2", and the
 * local watcher "lw", which takes N_LOCAL monitors of t and one of t2 at
 * its start.  Group "b" (64 KiB rings) holds the watcher "w", which takes
 * one monitor of t2 and N_MON of t (a handler at a time, as its ring to a
 * takes them), then sends t Quit.  t then asks t2 to fail and stops itself
 * (act_stop of act_self): its Downs fill a's own ring and a's ring to b
 * (about 250 Downs each) and the rest wait for room.  t2 fails after t
 * ended: its Downs must come after all of t's.  A third actor of a, "p",
 * told by t just before it stops, sends w N_FLOOD Floods as fast as the
 * ring to b takes them: the Downs still waiting for b go first (w sees
 * all of t's before the first Flood), where before p's sends took the
 * room w made each time and the Downs starved.  Once both watchers have
 * counted every Down (and w every Flood) the node stops; a lost one
 * leaves them waiting until the watchdog.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "harness.h"

#define N_MON 3000   /* w's monitors of t */
#define N_LOCAL 1000 /* lw's: with w's, under a static actor's 4096 */
#define N_FLOOD 20000

struct tally {
	_Atomic int taken, t_downs, t2_downs, t_before_t2, other;
};
struct shared {
	_Atomic int watchdog, quit_sent, done;
	struct tally w, lw;
	/* p's Floods to w: sent, received in order, t's Downs w had before
	 * the first (-1: none came), sends refused with ACT_EFULL */
	_Atomic int flood_sent, flood_got, flood_order_bad, t_before_flood, flood_full;
};
static struct shared *A;

typedef struct { int32_t unused; } quit_t;
ACT_MESSAGE_TYPE_EMPTY(quit_type, quit_t, "MfoQuit");
typedef struct { int32_t unused; } fail_t;
ACT_MESSAGE_TYPE_EMPTY(fail_type, fail_t, "MfoFail");
typedef struct { int32_t unused; } more_t;
ACT_MESSAGE_TYPE_EMPTY(more_type, more_t, "MfoMore");
ACT_MESSAGE_TYPE_EMPTY(go_type, more_t, "MfoGo");
typedef struct { int32_t seq; } flood_t;
ACT_MESSAGE_TYPE(flood_type, flood_t, "MfoFlood", ACT_FIELD(flood_t, seq, ACT_I32));

/* ---- t and t2 (group a) ---------------------------------------------------- */

static void t_quit(act_ctx *ctx, void *st, const void *m)
{
	act_ref t2, p;
	fail_t f = { 0 };
	more_t go = { 0 };
	(void)st, (void)m;
	/* Into a's own ring before t's Downs are made: t2 fails after them,
	 * and p starts its Floods while most of them still wait. */
	if (act_lookup(ctx, "t2", &t2) || act_send(ctx, t2, &fail_type, &f) ||
	    act_lookup(ctx, "p", &p) || act_send(ctx, p, &go_type, &go))
		act_shutdown(ctx);
	act_stop(ctx, act_self(ctx));
}
static const act_handler t_h[] = { { &quit_type, t_quit } };
static const act_behaviour t_b = { .name = "target", .handlers = t_h, .n_handlers = 1 };

static void t2_fail(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	act_fail(ctx, "asked to");
}
static const act_handler t2_h[] = { { &fail_type, t2_fail } };
static const act_behaviour t2_b = { .name = "failer", .handlers = t2_h, .n_handlers = 1 };

/* ---- the watchers ------------------------------------------------------------ */

static void finished(act_ctx *ctx)
{
	/* The second watcher to have all its Downs stops the node. */
	if (atomic_fetch_add(&A->done, 1) == 1)
		act_shutdown(ctx);
}

static void count_down(act_ctx *ctx, const act_down *d, struct tally *c, int want, int floods)
{
	if (!strcmp(d->actor, "t") && !strcmp(d->reason, "stopped")) {
		atomic_fetch_add(&c->t_downs, 1);
	} else if (!strcmp(d->actor, "t2") && !strncmp(d->reason, "failed: ", 8)) {
		atomic_store(&c->t_before_t2, atomic_load(&c->t_downs));
		atomic_fetch_add(&c->t2_downs, 1);
	} else {
		atomic_fetch_add(&c->other, 1);
	}
	/* floods < 0: this watcher does not wait for p's Floods. */
	if (atomic_load(&c->t_downs) == want && atomic_load(&c->t2_downs) == 1 &&
	    (floods < 0 || atomic_load(&A->flood_got) == floods))
		finished(ctx);
}

static void lw_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref t, t2;
	uint64_t id;
	(void)st, (void)m;
	if (act_lookup(ctx, "t", &t) || act_lookup(ctx, "t2", &t2) || act_monitor(ctx, t2, &id)) {
		act_shutdown(ctx);
		return;
	}
	for (int i = 0; i < N_LOCAL; i++)
		if (!act_monitor(ctx, t, &id))
			atomic_fetch_add(&A->lw.taken, 1);
}
static void lw_down(act_ctx *ctx, void *st, const void *m)
{
	(void)st;
	count_down(ctx, m, &A->lw, N_LOCAL, -1);
}
static const act_handler lw_h[] = { { &act_start_type, lw_start }, { &act_down_type, lw_down } };
static const act_behaviour lw_b = { .name = "local-watcher", .handlers = lw_h, .n_handlers = 2 };

/* Takes w's monitors of t as far as its ring to a takes them, then the
 * rest in the next handler (after a read some), then sends Quit. */
static void w_more(act_ctx *ctx, void *st, const void *m)
{
	act_ref t;
	uint64_t id;
	more_t more = { 0 };
	quit_t q = { 0 };
	int err = 0;
	(void)st, (void)m;
	if (act_lookup(ctx, "t", &t)) {
		act_shutdown(ctx);
		return;
	}
	while (atomic_load(&A->w.taken) < N_MON && !(err = act_monitor(ctx, t, &id)))
		atomic_fetch_add(&A->w.taken, 1);
	if (!err && !atomic_load(&A->quit_sent) && !(err = act_send(ctx, t, &quit_type, &q)))
		atomic_store(&A->quit_sent, 1);
	if (err == ACT_EFULL)
		err = act_send(ctx, act_self(ctx), &more_type, &more);
	if (err) {
		atomic_fetch_add(&A->w.other, 1);
		act_shutdown(ctx);
	}
}
static void w_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref t2;
	uint64_t id;
	if (act_lookup(ctx, "t2", &t2) || act_monitor(ctx, t2, &id)) {
		act_shutdown(ctx);
		return;
	}
	w_more(ctx, st, m);
}
static void w_flood(act_ctx *ctx, void *st, const void *m)
{
	const flood_t *f = m;
	(void)st;
	if (!atomic_load(&A->flood_got))
		atomic_store(&A->t_before_flood, atomic_load(&A->w.t_downs));
	if (f->seq != atomic_load(&A->flood_got))
		atomic_fetch_add(&A->flood_order_bad, 1);
	if (atomic_fetch_add(&A->flood_got, 1) + 1 == N_FLOOD &&
	    atomic_load(&A->w.t_downs) == N_MON && atomic_load(&A->w.t2_downs) == 1)
		finished(ctx);
}
static void w_down(act_ctx *ctx, void *st, const void *m)
{
	(void)st;
	count_down(ctx, m, &A->w, N_MON, N_FLOOD);
}
static const act_handler w_h[] = {
	{ &act_start_type, w_start }, { &more_type, w_more }, { &act_down_type, w_down },
	{ &flood_type, w_flood },
};
static const act_behaviour w_b = { .name = "watcher", .handlers = w_h, .n_handlers = 4 };

/* ---- p (group a): floods w once t is gone ----------------------------------- */

/* Sends Floods to w until the ring refuses one; a 0 ms timer brings it
 * back on the next turn of the loop (a kick through a's own ring could be
 * refused too, with Downs waiting for it). */
static void p_flood(act_ctx *ctx)
{
	act_ref w;
	int err = 0;
	if (act_lookup(ctx, "w", &w)) {
		act_shutdown(ctx);
		return;
	}
	while (atomic_load(&A->flood_sent) < N_FLOOD) {
		flood_t f = { atomic_load(&A->flood_sent) };
		if ((err = act_send(ctx, w, &flood_type, &f)))
			break;
		atomic_fetch_add(&A->flood_sent, 1);
	}
	if (err == ACT_EFULL)
		atomic_fetch_add(&A->flood_full, 1);
	else if (err)
		atomic_fetch_add(&A->w.other, 1);
	if (atomic_load(&A->flood_sent) < N_FLOOD && act_timer_once(ctx, 0, 1))
		act_shutdown(ctx);
}
static void p_go(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	p_flood(ctx);
}
static void p_timeout(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	p_flood(ctx);
}
static const act_handler p_h[] = {
	{ &go_type, p_go }, { &act_timeout_type, p_timeout },
};
static const act_behaviour p_b = { .name = "flooder", .handlers = p_h, .n_handlers = 2 };

int main(void)
{
	tap_timeout(90);
	A = shared_area(sizeof *A);
	A->t_before_flood = -1;

	act_node_t *n = act_node_new("monitor-fanout");
	act_node_add_group(n, "a");
	act_node_add_group(n, "b");
	act_node_add_group(n, "dogs");
	act_node_add_actor(n, "a", "t", &t_b, NULL);
	act_node_add_actor(n, "a", "t2", &t2_b, NULL);
	act_node_add_actor(n, "a", "lw", &lw_b, NULL);
	act_node_add_actor(n, "a", "p", &p_b, NULL);
	act_node_add_actor(n, "b", "w", &w_b, NULL);
	act_node_add_actor(n, "dogs", "watchdog", &harness_watchdog_b, NULL);
	if (act_node_set_ring_bytes(n, "a", 65536) || act_node_set_ring_bytes(n, "b", 65536))
		bail("node settings");
	harness_watchdog_ms = 20000;
	harness_watchdog_fired = &A->watchdog;
	act__node_inspect_hook = harness_inspect;
	int rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0, "node ran and stopped cleanly (rc %d)", rc);
	ok(!A->watchdog, "the watchers got their Downs before the watchdog");
	ok(A->w.taken == N_MON && A->quit_sent, "w took %d monitors of t (%d) and sent Quit",
	   N_MON, A->w.taken);
	ok(A->lw.taken == N_LOCAL, "lw took %d monitors of t (%d)", N_LOCAL, A->lw.taken);
	ok(A->w.t_downs == N_MON, "w (group b) got a Down for each monitor of t: %d of %d",
	   A->w.t_downs, N_MON);
	ok(A->lw.t_downs == N_LOCAL, "lw (t's own group) got a Down for each: %d of %d",
	   A->lw.t_downs, N_LOCAL);
	ok(A->w.t2_downs == 1 && A->lw.t2_downs == 1, "each got one Down for t2 (w %d, lw %d)",
	   A->w.t2_downs, A->lw.t2_downs);
	ok(A->w.t_before_t2 == N_MON, "w got t2's Down after all of t's (%d before it)",
	   A->w.t_before_t2);
	ok(A->lw.t_before_t2 == N_LOCAL, "lw got t2's Down after all of t's (%d before it)",
	   A->lw.t_before_t2);
	ok(A->flood_got == N_FLOOD && !A->flood_order_bad,
	   "w got p's %d Floods in order (%d, %d out of order)", N_FLOOD, A->flood_got,
	   A->flood_order_bad);
	ok(A->t_before_flood == N_MON,
	   "the Downs waiting for b went before p's sends: w had all %d of t's before the first "
	   "Flood (%d)", N_MON, A->t_before_flood);
	ok(A->flood_full > 0, "p's sends were refused while the ring was full (%d times)",
	   A->flood_full);
	ok(A->w.other == 0 && A->lw.other == 0, "no other Down, no error (%d, %d)", A->w.other,
	   A->lw.other);
	ok(counters[1].dead_letters == 0, "group a made no dead letter (%llu)",
	   (unsigned long long)counters[1].dead_letters);
	ok(counters[2].dead_letters == 0, "group b made no dead letter (%llu)",
	   (unsigned long long)counters[2].dead_letters);
	return done_testing();
}
