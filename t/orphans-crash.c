/* SPDX-License-Identifier: MIT */
/*
 * t/orphans-crash.c - the children of a lost temporary parent stop even
 * when the worker that should stop them crashes first (found by an
 * outside attack):
 *
 *  1. tp1, temporary, in group b, has a child kid1 in group c.  The ring
 *     b->c is full (c blocked) when b is SIGKILLed: the restarted worker's
 *     word to stop kid1 waits in it for room, and that worker is SIGKILLed
 *     too (in Start).  The third worker must tell c again: before, tp1's
 *     record was free by then, and kid1 lived on for good.
 *  2. tp2, temporary, in group e, has a permanent child L in e.  e is
 *     SIGKILLed; the restarted worker stops L (its parent is lost), and
 *     L's Shutdown kills that worker.  The third worker must stop L again:
 *     before, L was re-created as an orphan, with Start, for good.
 *
 * The watcher w (group d) monitors kid1 and L: one Down "stopped" each.
 */
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "tap.h"
#include "harness.h"

typedef struct { int32_t v; } num_msg;
ACT_MESSAGE_TYPE(ready_type, num_msg, "OcReady", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(go_type, num_msg, "OcGo", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(block_type, num_msg, "OcBlock", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(fill_type, num_msg, "OcFill", ACT_FIELD(num_msg, v, ACT_I32));

#define SPIN_MAX_NS 15000000000ull

struct area {
	_Atomic int fail, gave_up, watchdog;
	_Atomic int filled, b_killed, b_restarts, release, e_killed, l_killed;
	_Atomic int kid_downs, kid_stopped, l_downs, l_stopped, other_downs;
	_Atomic int l_starts, l_restart_starts, l_shutdowns;
};
static struct area *A;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void tell_w(act_ctx *ctx, int v)
{
	act_ref w;
	if (act_lookup(ctx, "w", &w) || act_send(ctx, w, &ready_type, &(num_msg){ v }))
		atomic_fetch_add(&A->fail, 1);
}

/* ---- scenario 1: groups b and c -------------------------------------------------- */

static const act_behaviour idle_b = { .name = "oc-idle" };

static void tp1_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r;
	(void)st;
	if (((const act_start *)m)->restart)
		return;
	if (act_spawn(ctx, "c", "oc-idle", "kid1", NULL, &r))
		atomic_fetch_add(&A->fail, 1);
	tell_w(ctx, 1);
}
static const act_handler tp1_h[] = { { &act_start_type, tp1_start } };
static const act_behaviour tp1_b = {
	.name = "oc-tp1", .handlers = tp1_h, .n_handlers = 1, .restart = ACT_TEMPORARY,
};

/* f (b): blocks c, fills the ring b->c, kills b's worker (once). */
static void f_go(act_ctx *ctx, void *st, const void *m)
{
	act_ref blk;
	int err = 0;
	(void)st, (void)m;
	if (atomic_exchange(&A->b_killed, 1))
		return;
	if (act_lookup(ctx, "blk", &blk) || act_send(ctx, blk, &block_type, &(num_msg){ 0 })) {
		atomic_fetch_add(&A->fail, 1);
		return;
	}
	for (int i = 0; i < 1000000 && !err; i++)
		err = act_send(ctx, blk, &fill_type, &(num_msg){ i });
	atomic_store(&A->filled, err == ACT_EFULL);
	raise(SIGKILL);
}
/* f's Start: the first restart kills the worker again (the word to stop
 * kid1 waits in it); the second lets c go. */
static void f_start(act_ctx *ctx, void *st, const void *m)
{
	(void)ctx, (void)st;
	if (!((const act_start *)m)->restart)
		return;
	int n = atomic_fetch_add(&A->b_restarts, 1) + 1;
	if (n == 1)
		raise(SIGKILL);
	atomic_store(&A->release, 1);
}
static const act_handler f_h[] = { { &act_start_type, f_start }, { &go_type, f_go } };
static const act_behaviour f_b = { .name = "oc-filler", .handlers = f_h, .n_handlers = 2 };

static void blk_block(act_ctx *ctx, void *st, const void *m)
{
	uint64_t end = mono_ns() + SPIN_MAX_NS;
	(void)ctx, (void)st, (void)m;
	while (!atomic_load(&A->release))
		if (mono_ns() > end) {
			atomic_store(&A->gave_up, 1);
			return;
		}
}
static void blk_fill(act_ctx *ctx, void *st, const void *m)
{
	(void)ctx, (void)st, (void)m;
}
static const act_handler blk_h[] = { { &block_type, blk_block }, { &fill_type, blk_fill } };
static const act_behaviour blk_b = { .name = "oc-blocker", .handlers = blk_h, .n_handlers = 2 };

/* ---- scenario 2: group e --------------------------------------------------------- */

static void l_start(act_ctx *ctx, void *st, const void *m)
{
	(void)ctx, (void)st;
	atomic_fetch_add(&A->l_starts, 1);
	if (((const act_start *)m)->restart)
		atomic_fetch_add(&A->l_restart_starts, 1);
}
static void l_shutdown(act_ctx *ctx, void *st, const void *m)
{
	(void)ctx, (void)st, (void)m;
	atomic_fetch_add(&A->l_shutdowns, 1);
	if (!atomic_exchange(&A->l_killed, 1))
		raise(SIGKILL);
}
static const act_handler l_h[] = { { &act_start_type, l_start },
	                           { &act_shutdown_type, l_shutdown } };
static const act_behaviour l_b = {
	.name = "oc-l", .handlers = l_h, .n_handlers = 2, .restart = ACT_PERMANENT,
};

static void tp2_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r;
	(void)st;
	if (((const act_start *)m)->restart)
		return;
	if (act_spawn(ctx, NULL, "oc-l", "L", NULL, &r))
		atomic_fetch_add(&A->fail, 1);
	tell_w(ctx, 2);
}
static const act_handler tp2_h[] = { { &act_start_type, tp2_start } };
static const act_behaviour tp2_b = {
	.name = "oc-tp2", .handlers = tp2_h, .n_handlers = 1, .restart = ACT_TEMPORARY,
};

static void bomb_go(act_ctx *ctx, void *st, const void *m)
{
	(void)ctx, (void)st, (void)m;
	if (!atomic_exchange(&A->e_killed, 1))
		raise(SIGKILL);
}
static const act_handler bomb_h[] = { { &go_type, bomb_go } };
static const act_behaviour bomb_b = { .name = "oc-bomb", .handlers = bomb_h, .n_handlers = 1 };

/* ---- the watcher (group d) ------------------------------------------------------- */

static void w_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r;
	(void)st, (void)m;
	if (act_spawn(ctx, "b", "oc-tp1", "tp1", NULL, &r) ||
	    act_spawn(ctx, "e", "oc-tp2", "tp2", NULL, &r))
		atomic_fetch_add(&A->fail, 1);
}
static void w_ready(act_ctx *ctx, void *st, const void *m)
{
	int v = ((const num_msg *)m)->v;
	act_ref who, go;
	uint64_t id;
	(void)st;
	if (act_lookup(ctx, v == 1 ? "kid1" : "L", &who) || act_monitor(ctx, who, &id) ||
	    act_lookup(ctx, v == 1 ? "f" : "bomb", &go) ||
	    act_send(ctx, go, &go_type, &(num_msg){ 0 }))
		atomic_fetch_add(&A->fail, 1);
}
static void w_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	(void)st;
	if (!strcmp(d->actor, "kid1")) {
		atomic_fetch_add(&A->kid_downs, 1);
		atomic_fetch_add(&A->kid_stopped, !strcmp(d->reason, "stopped"));
	} else if (!strcmp(d->actor, "L")) {
		atomic_fetch_add(&A->l_downs, 1);
		atomic_fetch_add(&A->l_stopped, !strcmp(d->reason, "stopped"));
	} else {
		atomic_fetch_add(&A->other_downs, 1);
	}
	if (atomic_load(&A->kid_downs) && atomic_load(&A->l_downs))
		act_timer_once(ctx, 50, 1); /* a moment for a second Down to show */
}
static void w_timeout(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	act_shutdown(ctx);
}
static const act_handler w_h[] = {
	{ &act_start_type, w_start }, { &ready_type, w_ready }, { &act_down_type, w_down },
	{ &act_timeout_type, w_timeout },
};
static const act_behaviour w_b = { .name = "oc-watcher", .handlers = w_h, .n_handlers = 4 };

int main(void)
{
	tap_timeout(90);
	A = shared_area(sizeof *A);
	harness_watchdog_fired = &A->watchdog;
	harness_watchdog_ms = 20000;

	act_node_t *n = act_node_new("orphans-crash");
	act_node_add_group(n, "b");
	act_node_add_group(n, "c");
	act_node_add_group(n, "d");
	act_node_add_group(n, "e");
	act_node_add_actor(n, "b", "f", &f_b, NULL);
	act_node_add_actor(n, "c", "blk", &blk_b, NULL);
	act_node_add_actor(n, "d", "w", &w_b, NULL);
	act_node_add_actor(n, "d", "watchdog", &harness_watchdog_b, NULL);
	act_node_add_actor(n, "e", "bomb", &bomb_b, NULL);
	act_node_add_behaviour(n, &idle_b);
	act_node_add_behaviour(n, &tp1_b);
	act_node_add_behaviour(n, &tp2_b);
	act_node_add_behaviour(n, &l_b);
	act_node_set_intensity(n, 10, 10000);
	if (act_node_set_ring_bytes(n, "c", 65536))
		bail("node settings");
	int rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0 && !A->watchdog, "node ran and stopped cleanly (rc %d, watchdog %d)", rc,
	   A->watchdog);
	ok(A->fail == 0 && !A->gave_up, "every spawn, lookup, monitor and send succeeded (%d "
	   "failures, gave up %d)", A->fail, A->gave_up);
	ok(A->filled && A->b_killed && A->b_restarts == 2,
	   "b was killed with the ring to c full, and again in its first restart's Start (%d "
	   "restarts)", A->b_restarts);
	ok(A->kid_downs == 1 && A->kid_stopped == 1,
	   "kid1, child of the lost tp1, stopped after the second crash: one Down \"stopped\" (%d, "
	   "%d)", A->kid_downs, A->kid_stopped);
	ok(A->e_killed && A->l_killed && A->l_shutdowns == 2,
	   "e was killed, and again in L's Shutdown; L got a second Shutdown (%d)", A->l_shutdowns);
	ok(A->l_downs == 1 && A->l_stopped == 1 && A->l_restart_starts == 0,
	   "L, child of the lost tp2, stopped by the third worker, not re-created: one Down "
	   "\"stopped\" (%d, %d), no Start after a restart (%d)", A->l_downs, A->l_stopped,
	   A->l_restart_starts);
	ok(A->other_downs == 0, "no other Down (%d)", A->other_downs);
	return done_testing();
}
