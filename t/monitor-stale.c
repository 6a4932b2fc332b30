/* SPDX-License-Identifier: MIT */
/*
 * t/monitor-stale.c - a watcher restarted with its worker loses the
 * monitors its earlier worker took: their Downs are not delivered to the
 * new one (act_spawn(3)).
 *
 * Group "b"'s static watcher "w" takes N_OLD monitors of "t" (a static
 * actor of group "a") in its first Start and kills its worker (SIGKILL):
 * the group restarts.  The new w takes one monitor of t, and one more
 * that it removes at once, and sends t Quit; t stops (its Downs: up to
 * N_OLD + 2 into a's ring to b) and has "t2" send w Done, which comes
 * after every Down in that ring.  w must have got exactly one Down, its
 * own.  Before, a static watcher (its generation is always 0) got the
 * first worker's N_OLD as well, and the demonitored one's if it had
 * crossed the act_demonitor().
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "harness.h"

#define N_OLD 5

struct shared {
	_Atomic int watchdog, old_taken, new_taken, downs, done, starts, errors;
};
static struct shared *A;

typedef struct { int32_t unused; } quit_t;
ACT_MESSAGE_TYPE_EMPTY(quit_type, quit_t, "MstQuit");
typedef struct { int32_t unused; } tell_t;
ACT_MESSAGE_TYPE_EMPTY(tell_type, tell_t, "MstTell");
typedef struct { int32_t unused; } done_t;
ACT_MESSAGE_TYPE_EMPTY(done_type, done_t, "MstDone");

static void t_quit(act_ctx *ctx, void *st, const void *m)
{
	act_ref t2;
	tell_t tl = { 0 };
	(void)st, (void)m;
	/* t2 handles Tell after t's end, whose Downs are then in the ring. */
	if (act_lookup(ctx, "t2", &t2) || act_send(ctx, t2, &tell_type, &tl))
		atomic_fetch_add(&A->errors, 1);
	act_stop(ctx, act_self(ctx));
}
static const act_handler t_h[] = { { &quit_type, t_quit } };
static const act_behaviour t_b = { .name = "target", .handlers = t_h, .n_handlers = 1 };

static void t2_tell(act_ctx *ctx, void *st, const void *m)
{
	act_ref w;
	done_t d = { 0 };
	(void)st, (void)m;
	if (act_lookup(ctx, "w", &w) || act_send(ctx, w, &done_type, &d))
		atomic_fetch_add(&A->errors, 1);
}
static const act_handler t2_h[] = { { &tell_type, t2_tell } };
static const act_behaviour t2_b = { .name = "teller", .handlers = t2_h, .n_handlers = 1 };

static void w_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	act_ref t;
	uint64_t id, gone;
	quit_t q = { 0 };
	(void)st;
	atomic_fetch_add(&A->starts, 1);
	if (act_lookup(ctx, "t", &t)) {
		atomic_fetch_add(&A->errors, 1);
		act_shutdown(ctx);
		return;
	}
	if (!s->restart) {
		for (int i = 0; i < N_OLD; i++)
			if (!act_monitor(ctx, t, &id))
				atomic_fetch_add(&A->old_taken, 1);
		raise(SIGKILL); /* the group restarts; the monitors are in a's ring */
		return;
	}
	/* One monitor to keep, one demonitored at once (its Down must not
	 * come either), then t stops. */
	if (!act_monitor(ctx, t, &id))
		atomic_fetch_add(&A->new_taken, 1);
	if (act_monitor(ctx, t, &gone) || act_demonitor(ctx, gone))
		atomic_fetch_add(&A->errors, 1);
	if (act_send(ctx, t, &quit_type, &q))
		atomic_fetch_add(&A->errors, 1);
}
static void w_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	(void)ctx, (void)st;
	if (!strcmp(d->actor, "t") && !strcmp(d->reason, "stopped"))
		atomic_fetch_add(&A->downs, 1);
	else
		atomic_fetch_add(&A->errors, 1);
}
static void w_done(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	atomic_store(&A->done, 1);
	act_shutdown(ctx);
}
static const act_handler w_h[] = {
	{ &act_start_type, w_start }, { &act_down_type, w_down }, { &done_type, w_done },
};
static const act_behaviour w_b = { .name = "watcher", .handlers = w_h, .n_handlers = 3 };

int main(void)
{
	tap_timeout(60);
	A = shared_area(sizeof *A);

	act_node_t *n = act_node_new("monitor-stale");
	act_node_add_group(n, "a");
	act_node_add_group(n, "b");
	act_node_add_group(n, "dogs");
	act_node_add_actor(n, "a", "t", &t_b, NULL);
	act_node_add_actor(n, "a", "t2", &t2_b, NULL);
	act_node_add_actor(n, "b", "w", &w_b, NULL);
	act_node_add_actor(n, "dogs", "watchdog", &harness_watchdog_b, NULL);
	harness_watchdog_ms = 20000;
	harness_watchdog_fired = &A->watchdog;
	act__node_inspect_hook = harness_inspect;
	int rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0, "node ran and stopped cleanly (rc %d)", rc);
	ok(!A->watchdog && A->done, "w got Done before the watchdog");
	ok(A->starts == 2, "w started twice: its group restarted once (%d)", A->starts);
	ok(A->old_taken == N_OLD && A->new_taken == 1,
	   "the first w took %d monitors of t, the second 1 (%d, %d)", N_OLD, A->old_taken,
	   A->new_taken);
	ok(A->downs == 1, "the second w got 1 Down, for its own monitor (%d; the first w's "
	   "%d and the demonitored one are not its)", A->downs, N_OLD);
	ok(A->errors == 0, "no error, no other Down (%d)", A->errors);
	ok(counters[2].dead_letters == 0, "group b made no dead letter (%llu)",
	   (unsigned long long)counters[2].dead_letters);
	return done_testing();
}
