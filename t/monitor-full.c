/* SPDX-License-Identifier: MIT */
/*
 * t/monitor-full.c - monitors of an actor whose group is gone for good,
 * taken faster than the caller's own ring takes their Downs: each either
 * gets its Down "noproc" or fails with ACT_EFULL, none is lost.
 *
 * Group "temps" (restart temporary) holds "t", which exits 0 on Quit: the
 * group is then done.  The watcher (group "watchers", 4 KiB rings) first
 * monitors t and asks it to quit; its Down (the group's end) says t is
 * gone.  Then, in one handler, it takes 500 more monitors of t: the Downs
 * "noproc" go into its own ring, which fills.  It stops the node once it
 * has as many Downs as monitors taken; a lost one would leave it waiting
 * until the watchdog.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"
#include "harness.h"

#define N_MON 500

struct shared {
	_Atomic int watchdog;
	_Atomic int taken, refused_full, other_err, downs, first_down_seen;
};
static struct shared *A;

typedef struct { int32_t unused; } quit_t;
ACT_MESSAGE_TYPE_EMPTY(quit_type, quit_t, "MfQuit");

static void t_quit(act_ctx *ctx, void *st, const void *m)
{
	(void)ctx, (void)st, (void)m;
	_exit(0); /* a temporary group: done, not restarted (no atexit: LSan would
	          * report the actors' state, still in use, as leaked) */
}
static const act_handler t_h[] = { { &quit_type, t_quit } };
static const act_behaviour t_b = { .name = "quitter", .handlers = t_h, .n_handlers = 1 };

static void w_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref t;
	uint64_t id;
	quit_t q = { 0 };
	(void)st, (void)m;
	if (act_lookup(ctx, "t", &t) || act_monitor(ctx, t, &id) || act_send(ctx, t, &quit_type, &q))
		act_shutdown(ctx);
}

static void w_down(act_ctx *ctx, void *st, const void *m)
{
	act_ref t;
	uint64_t id;
	(void)st, (void)m;
	if (!atomic_exchange(&A->first_down_seen, 1)) {
		/* t's group is gone: every monitor now gets "noproc" at once. */
		if (act_lookup(ctx, "t", &t)) {
			act_shutdown(ctx);
			return;
		}
		for (int i = 0; i < N_MON; i++) {
			int err = act_monitor(ctx, t, &id);
			if (!err)
				atomic_fetch_add(&A->taken, 1);
			else if (err == ACT_EFULL)
				atomic_fetch_add(&A->refused_full, 1);
			else
				atomic_fetch_add(&A->other_err, 1);
		}
	} else {
		atomic_fetch_add(&A->downs, 1);
	}
	if (atomic_load(&A->first_down_seen) && atomic_load(&A->downs) == atomic_load(&A->taken))
		act_shutdown(ctx);
}
static const act_handler w_h[] = { { &act_start_type, w_start }, { &act_down_type, w_down } };
static const act_behaviour w_b = { .name = "watcher", .handlers = w_h, .n_handlers = 2 };

int main(void)
{
	tap_timeout(60);
	A = shared_area(sizeof *A);

	act_node_t *n = act_node_new("monitor-full");
	act_node_add_group(n, "temps");
	act_node_add_group(n, "watchers");
	act_node_add_group(n, "dogs");
	act_node_add_actor(n, "temps", "t", &t_b, NULL);
	act_node_add_actor(n, "watchers", "w", &w_b, NULL);
	act_node_add_actor(n, "dogs", "watchdog", &harness_watchdog_b, NULL);
	if (act_node_set_restart(n, "temps", ACT_TEMPORARY) ||
	    act_node_set_ring_bytes(n, "watchers", 4096))
		bail("node settings");
	harness_watchdog_ms = 10000;
	harness_watchdog_fired = &A->watchdog;
	act__node_inspect_hook = harness_inspect;
	int rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0, "node ran and stopped cleanly (rc %d)", rc);
	ok(A->first_down_seen, "the watcher saw t's group end");
	ok(A->taken + A->refused_full == N_MON && A->other_err == 0,
	   "each of %d monitors was taken (%d) or refused ACT_EFULL (%d)", N_MON, A->taken,
	   A->refused_full);
	ok(A->refused_full > 0, "the watcher's own 4 KiB ring filled: some were refused");
	ok(A->downs == A->taken && !A->watchdog,
	   "every monitor taken got its Down: %d of %d, no watchdog", A->downs, A->taken);
	ok(counters[2].dead_letters == 0, "no Down became a dead letter (%llu)",
	   (unsigned long long)counters[2].dead_letters);
	return done_testing();
}
