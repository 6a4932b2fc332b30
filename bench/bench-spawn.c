/* SPDX-License-Identifier: MIT */
/*
 * bench/bench-spawn.c - spawns per second, in one run:
 *   spawn_rate               spawn + Start + stop in the caller's group
 *   spawn_remote_group_rate  spawn into another group, counted when the
 *                            spawned actor's Start ran there (it then stops
 *                            itself, so the slots are reused)
 * Usage: bench-spawn [N]   (default 200000 of each)
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <actors.h>

#include "../t/harness.h"

#define BATCH 1000

struct area {
	_Atomic long started;
	long n;
	uint64_t local_ns, remote_t0, remote_ns;
	_Atomic int failed;
};
static struct area *A;

static void kid_start(act_ctx *ctx, void *st, const void *m)
{
	atomic_fetch_add_explicit(&A->started, 1, memory_order_relaxed);
	act_stop_self(ctx);
}
static const act_handler kid_h[] = { { &act_start_type, kid_start } };
static const act_behaviour kid_b = {
	.name = "kid", .handlers = kid_h, .n_handlers = 1, .restart = ACT_TEMPORARY,
};
static const act_behaviour idle_b = { .name = "idle", .restart = ACT_TEMPORARY };

static long sent;

static void driver_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r;
	uint64_t t0 = act_now_ns();
	for (long i = 0; i < A->n; i++) {
		if (act_spawn(ctx, NULL, "idle", NULL, NULL, &r) || act_stop(ctx, r)) {
			A->failed++;
			break;
		}
	}
	A->local_ns = act_now_ns() - t0;
	A->remote_t0 = act_now_ns();
	act_timer_once(ctx, 0, 1);
}

/* Spawns a batch into group b, then yields (the timer) so that the rings
 * drain; a full ring is simply retried. */
static void driver_tick(act_ctx *ctx, void *st, const void *m)
{
	act_ref r;
	for (int i = 0; i < BATCH && sent < A->n; i++) {
		int err = act_spawn(ctx, "b", "kid", NULL, NULL, &r);
		if (err == ACT_EFULL || err == -ENOSPC)
			break;
		if (err) {
			A->failed++;
			act_shutdown(ctx);
			return;
		}
		sent++;
	}
	if (atomic_load(&A->started) >= A->n) {
		A->remote_ns = act_now_ns() - A->remote_t0;
		act_shutdown(ctx);
		return;
	}
	act_timer_once(ctx, 0, 1);
}
static const act_handler driver_h[] = {
	{ &act_start_type, driver_start }, { &act_timeout_type, driver_tick },
};
static const act_behaviour driver_b = { .name = "driver", .handlers = driver_h, .n_handlers = 2 };

int main(int argc, char **argv)
{
	A = shared_area(sizeof *A);
	A->n = argc > 1 ? atol(argv[1]) : 200000;
	act_node_t *node = act_node_new("benchspawn");
	act_node_add_group(node, "a");
	act_node_add_group(node, "b");
	act_node_add_actor(node, "a", "driver", &driver_b, NULL);
	act_node_add_behaviour(node, &kid_b);
	act_node_add_behaviour(node, &idle_b);
	act_node_set_ring_bytes(node, "b", 4u << 20);
	act_node_set_heartbeat(node, "a", 100, 10000);
	int rc = act_node_run(node);
	act_node_free(node);
	if (rc || A->failed || !A->local_ns || !A->remote_ns) {
		fprintf(stderr, "bench-spawn: failed (rc %d, %d errors)\n", rc, A->failed);
		return 1;
	}
	printf("spawn_rate               %10.0f /s  (%ld spawn+Start+stop, same group)\n",
	       A->n / (A->local_ns / 1e9), A->n);
	printf("spawn_remote_group_rate  %10.0f /s  (%ld spawns into another group, to its Start)\n",
	       A->n / (A->remote_ns / 1e9), A->n);
	printf("ratio remote/local       %10.3f\n", (double)A->local_ns / (double)A->remote_ns);
	return 0;
}
