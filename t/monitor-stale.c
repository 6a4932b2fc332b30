/* SPDX-License-Identifier: MIT */
/*
 * t/monitor-stale.c - a watcher restarted with its worker loses the
 * monitors its earlier worker took: their Downs are not delivered to the
 * new one (act_spawn(3)).
 *
 * Group "b"'s static watcher "w" takes N_OLD monitors of "t" (a static
 * actor of group "a") in its first Start and kills its worker (SIGKILL):
 * the group restarts.  The new w takes N_NEW monitors of t, and one more
 * that it removes at once, and sends t Quit; t stops and has "t2" send w
 * Done, which comes after every Down in that ring.  w must have got
 * exactly N_NEW Downs, its own.  Before, a static watcher (its generation
 * is always 0) got the first worker's as well.  And N_OLD + N_NEW pass a
 * static actor's 4096 monitors: t must free the entries of the first
 * worker's monitors (they ended with it), not answer the new ones
 * "noproc: too many monitors".
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "harness.h"

#define N_OLD 4000 /* with N_NEW, past a static actor's 4096 */
#define N_NEW 200

struct shared {
	_Atomic int watchdog, old_taken, new_taken, downs, done, starts, errors;
	int quit_step;  /* the second w's, in w_quit() */
	uint64_t gone;  /* its monitor to remove */
};
static struct shared *A;

typedef struct { int32_t unused; } quit_t;
ACT_MESSAGE_TYPE_EMPTY(quit_type, quit_t, "MstQuit");
typedef struct { int32_t unused; } tell_t;
ACT_MESSAGE_TYPE_EMPTY(tell_type, tell_t, "MstTell");
typedef struct { int32_t unused; } done_t;
ACT_MESSAGE_TYPE_EMPTY(done_type, done_t, "MstDone");
typedef struct { int32_t unused; } more_t;
ACT_MESSAGE_TYPE_EMPTY(more_type, more_t, "MstMore");

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

/* Takes monitors of t until `want` are taken, as far as the ring to a
 * takes them (then again in the next handler); true when done. */
static bool take(act_ctx *ctx, _Atomic int *taken, int want)
{
	act_ref t;
	uint64_t id;
	more_t more = { 0 };
	int err = 0;

	if (act_lookup(ctx, "t", &t)) {
		atomic_fetch_add(&A->errors, 1);
		return false;
	}
	while (atomic_load(taken) < want && !(err = act_monitor(ctx, t, &id)))
		atomic_fetch_add(taken, 1);
	if (err == ACT_EFULL && !act_send(ctx, act_self(ctx), &more_type, &more))
		return false;
	if (err)
		atomic_fetch_add(&A->errors, 1);
	return !err;
}

/* The second w's part, once its monitors are taken: one more that it
 * removes at once (its Down must not come either), then t stops.  Step
 * by step: a ring to a still full (of the first worker's monitors, on a
 * busy machine) is waited for like take()'s. */
static void w_quit(act_ctx *ctx)
{
	act_ref t;
	quit_t q = { 0 };
	more_t more = { 0 };
	int err = 0;

	if (act_lookup(ctx, "t", &t)) {
		atomic_fetch_add(&A->errors, 1);
		return;
	}
	while (!err && A->quit_step < 3) {
		if (A->quit_step == 0)
			err = act_monitor(ctx, t, &A->gone);
		else if (A->quit_step == 1)
			err = act_demonitor(ctx, A->gone);
		else
			err = act_send(ctx, t, &quit_type, &q);
		if (!err)
			A->quit_step++;
	}
	if (err == ACT_EFULL && !act_send(ctx, act_self(ctx), &more_type, &more))
		return;
	if (err)
		atomic_fetch_add(&A->errors, 1);
}

static void w_more(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	if (atomic_load(&A->starts) == 1) {
		if (take(ctx, &A->old_taken, N_OLD))
			raise(SIGKILL); /* the group restarts; the monitors are in a's ring */
	} else if (take(ctx, &A->new_taken, N_NEW)) {
		w_quit(ctx);
	}
}

static void w_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	int n = atomic_fetch_add(&A->starts, 1) + 1;
	if (n != (s->restart ? 2 : 1)) {
		atomic_fetch_add(&A->errors, 1);
		act_shutdown(ctx);
		return;
	}
	w_more(ctx, st, m);
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
	{ &more_type, w_more },
};
static const act_behaviour w_b = { .name = "watcher", .handlers = w_h, .n_handlers = 4 };

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
	/* Room in a's ring to b for every Down t makes (about 4200 of 256
	 * bytes): none waits in a (dynamic.c), so t2's Done, sent after t's
	 * end, comes after all of them. */
	if (act_node_set_ring_bytes(n, "b", 4u << 20))
		bail("ring_bytes");
	harness_watchdog_ms = 20000;
	harness_watchdog_fired = &A->watchdog;
	act__node_inspect_hook = harness_inspect;
	int rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0, "node ran and stopped cleanly (rc %d)", rc);
	ok(!A->watchdog && A->done, "w got Done before the watchdog");
	ok(A->starts == 2, "w started twice: its group restarted once (%d)", A->starts);
	ok(A->old_taken == N_OLD && A->new_taken == N_NEW,
	   "the first w took %d monitors of t, the second %d (%d, %d)", N_OLD, N_NEW,
	   A->old_taken, A->new_taken);
	ok(A->downs == N_NEW, "the second w got %d Downs \"stopped\", one per monitor of its own "
	   "(%d; the first w's %d and the demonitored one are not its)", N_NEW, A->downs, N_OLD);
	ok(A->errors == 0, "no error, no other Down: none \"noproc: too many monitors\" though "
	   "%d + %d pass t's 4096 (%d)", N_OLD, N_NEW, A->errors);
	ok(counters[2].dead_letters == 0, "group b made no dead letter (%llu)",
	   (unsigned long long)counters[2].dead_letters);
	return done_testing();
}
