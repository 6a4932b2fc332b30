/* SPDX-License-Identifier: MIT */
/*
 * t/monitor-spawned.c - monitors of spawned actors end with the worker
 * that took them (act_spawn(3)).
 *
 * A spawned actor holds 8 monitor entries.  A watcher that monitors one
 * in every Start and restarts must neither run out of them (the entries
 * its earlier workers took are freed) nor get the Downs of monitors its
 * earlier workers took; and a Down that crossed act_demonitor() is not
 * delivered.
 *
 * Group "a" holds the permanent spawned actors "s" and "s2" (spawned by
 * "p") and "t2"; group "b" the static watcher "w".  Each of w's first
 * N_INC workers monitors s, waits for s's Pong (so that a has recorded
 * the monitor), and kills itself (SIGKILL).  The last one monitors s2,
 * sends it Quit and removes that monitor in the same handler (s2's Down
 * crosses the removal), monitors s, and sends s Quit; s has t2 send w
 * Done, which comes after every Down in that ring.  w must have taken
 * all N_INC + 1 monitors of s (none -ENOSPC), and got one Down: its own,
 * of s.  (A watcher of s's own group keeps its monitors across that
 * group's restarts: t/dynamic-alias, t/testkit-dynamic.)
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "harness.h"

#define N_INC 12 /* workers of the watcher that die: more than 8 */

struct shared {
	_Atomic int watchdog, starts, taken, refused, downs, downs_s2, done, errors;
	_Atomic int last_err;
};
static struct shared *A;

typedef struct { int32_t unused; } empty_t;
ACT_MESSAGE_TYPE_EMPTY(quit_type, empty_t, "MspQuit");
ACT_MESSAGE_TYPE_EMPTY(ping_type, empty_t, "MspPing");
ACT_MESSAGE_TYPE_EMPTY(pong_type, empty_t, "MspPong");
ACT_MESSAGE_TYPE_EMPTY(tell_type, empty_t, "MspTell");
ACT_MESSAGE_TYPE_EMPTY(done_type, empty_t, "MspDone");
ACT_MESSAGE_TYPE_EMPTY(go_type, empty_t, "MspGo");

static const empty_t E;

static void fail(void)
{
	atomic_fetch_add(&A->errors, 1);
}

/* ---- the watched: spawned, permanent ------------------------------------- */

static void s_ping(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	if (act_send(ctx, act_sender(ctx), &pong_type, &E))
		fail();
}
static void s_quit(act_ctx *ctx, void *st, const void *m)
{
	act_ref t2;
	(void)st, (void)m;
	/* t2 handles Tell after our end, whose Downs are then in the ring. */
	if (!strcmp(act_self_name(ctx), "s") &&
	    (act_lookup(ctx, "t2", &t2) || act_send(ctx, t2, &tell_type, &E)))
		fail();
	act_stop(ctx, act_self(ctx));
}
static const act_handler s_h[] = { { &ping_type, s_ping }, { &quit_type, s_quit } };
static const act_behaviour s_b = { .name = "watched", .handlers = s_h, .n_handlers = 2,
                                   .restart = ACT_PERMANENT };

static void t2_tell(act_ctx *ctx, void *st, const void *m)
{
	act_ref w;
	(void)st, (void)m;
	if (act_lookup(ctx, "w", &w) || act_send(ctx, w, &done_type, &E))
		fail();
}
static const act_handler t2_h[] = { { &tell_type, t2_tell } };
static const act_behaviour t2_b = { .name = "teller", .handlers = t2_h, .n_handlers = 1 };

/* p spawns s and s2 once (they are restored with a's worker), then tells
 * w to go. */
static void p_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r, w;
	(void)st, (void)m;
	if (act_lookup(ctx, "s", &r) &&
	    (act_spawn(ctx, NULL, "watched", "s", NULL, &r) ||
	     act_spawn(ctx, NULL, "watched", "s2", NULL, &r)))
		fail();
	if (!act_lookup(ctx, "w", &w) && act_send(ctx, w, &go_type, &E))
		fail();
}
static const act_handler p_h[] = { { &act_start_type, p_start } };
static const act_behaviour p_b = { .name = "spawner", .handlers = p_h, .n_handlers = 1 };

/* ---- node 1: the watcher in group b ----------------------------------------- */

static int w_monitored; /* this worker's: w took its monitor of s */

static void w_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	(void)ctx, (void)st;
	if (!strcmp(d->actor, "s") && !strcmp(d->reason, "stopped"))
		atomic_fetch_add(&A->downs, 1);
	else if (!strcmp(d->actor, "s2"))
		atomic_fetch_add(&A->downs_s2, 1);
	else
		fail();
}

/* Monitors s (once per worker); the last worker also does the rest. */
static void w_go(act_ctx *ctx, void *st, const void *m)
{
	act_ref s, s2;
	uint64_t id, id2;
	int err;
	(void)st, (void)m;
	if (w_monitored || act_lookup(ctx, "s", &s) || act_lookup(ctx, "s2", &s2))
		return; /* not spawned yet: p's Go comes when they are */
	w_monitored = 1;
	if (atomic_load(&A->starts) <= N_INC) {
		if ((err = act_monitor(ctx, s, &id))) {
			atomic_fetch_add(&A->refused, 1);
			atomic_store(&A->last_err, err);
			raise(SIGKILL); /* on to the next worker all the same */
		}
		atomic_fetch_add(&A->taken, 1);
		if (act_send(ctx, s, &ping_type, &E)) /* its Pong: the monitor is recorded */
			fail();
		return;
	}
	/* The last worker.  s2's Down crosses the removal of its monitor. */
	if (act_monitor(ctx, s2, &id2) || act_send(ctx, s2, &quit_type, &E) ||
	    act_demonitor(ctx, id2))
		fail();
	if ((err = act_monitor(ctx, s, &id))) {
		atomic_fetch_add(&A->refused, 1);
		atomic_store(&A->last_err, err);
	} else {
		atomic_fetch_add(&A->taken, 1);
	}
	if (act_send(ctx, s, &quit_type, &E))
		fail();
}
static void w_start(act_ctx *ctx, void *st, const void *m)
{
	atomic_fetch_add(&A->starts, 1);
	w_go(ctx, st, m);
}
static void w_pong(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	/* The Pong an earlier worker died in comes again: not ours. */
	if (!act_redelivered(ctx))
		raise(SIGKILL); /* the group restarts */
}
static void w_done(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	atomic_store(&A->done, 1);
	act_shutdown(ctx);
}
static const act_handler w_h[] = {
	{ &act_start_type, w_start }, { &go_type, w_go }, { &pong_type, w_pong },
	{ &act_down_type, w_down }, { &done_type, w_done },
};
static const act_behaviour w_b = { .name = "watcher", .handlers = w_h, .n_handlers = 5 };

static act_node_t *new_node(const char *name)
{
	act_node_t *n = act_node_new(name);
	act_node_add_behaviour(n, &s_b);
	act_node_add_group(n, "a");
	act_node_add_group(n, "b");
	act_node_add_group(n, "dogs");
	act_node_add_actor(n, "dogs", "watchdog", &harness_watchdog_b, NULL);
	/* N_INC quick deaths of one group, without waiting. */
	act_node_set_intensity(n, 4 * N_INC, 60000);
	act_node_set_backoff(n, 1, 1.0, 1, 1);
	return n;
}

static void reset(void)
{
	memset(A, 0, sizeof *A);
	harness_watchdog_ms = 20000;
	harness_watchdog_fired = &A->watchdog;
}

int main(void)
{
	tap_timeout(90);
	A = shared_area(sizeof *A);
	act__node_inspect_hook = harness_inspect;

	reset();
	act_node_t *n = new_node("monitor-spawned");
	act_node_add_actor(n, "a", "p", &p_b, NULL);
	act_node_add_actor(n, "a", "t2", &t2_b, NULL);
	act_node_add_actor(n, "b", "w", &w_b, NULL);
	int rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0, "node ran and stopped cleanly (rc %d)", rc);
	ok(!A->watchdog && A->done, "w got Done before the watchdog");
	ok(A->starts == N_INC + 1, "w had %d workers (%d)", N_INC + 1, A->starts);
	ok(A->taken == N_INC + 1 && !A->refused,
	   "each took its monitor of s: the entries of those that died are free again "
	   "(%d taken, %d refused, last error %d)", A->taken, A->refused, A->last_err);
	ok(A->downs == 1, "the last w got one Down of s, its own (%d; its %d earlier workers' "
	   "monitors ended with them)", A->downs, N_INC);
	ok(A->downs_s2 == 0, "no Down of s2: it crossed act_demonitor() (%d)", A->downs_s2);
	ok(A->errors == 0, "no error, no other Down (%d)", A->errors);
	ok(counters[2].dead_letters == 0, "group b made no dead letter (%llu)",
	   (unsigned long long)counters[2].dead_letters);

	return done_testing();
}
