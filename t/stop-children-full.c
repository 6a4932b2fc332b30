/* SPDX-License-Identifier: MIT */
/*
 * t/stop-children-full.c - a parent that ends while the ring to its child's
 * group is full still stops that child (act_spawn(3): "Children in other
 * groups are told to stop"): the word waits in the parent's worker, with
 * the Downs that wait for room, and goes when the group makes room.
 *
 * Group a holds the parent "p", group b the blocker "blk" and p's child
 * "kid" (spawned there in p's Start), group c the watcher "w".  w monitors
 * kid and p, then lets p go: p sends blk Block (blk spins until released)
 * and Fills until the ring to b refuses one, then stops.  Its end finds
 * that ring full.  w's Down for p (sent after the children were told)
 * releases blk; b drains the Fills, and kid must stop: w gets its Down
 * "stopped".  Before, the word was dropped with a warning and kid lived on
 * until the watchdog.
 */
#include <stdatomic.h>
#include <string.h>

#include "tap.h"
#include "harness.h"

typedef struct { int32_t v; } num_msg;
ACT_MESSAGE_TYPE(watch_type, num_msg, "ScfWatch", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(ping_type, num_msg, "ScfPing", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(pong_type, num_msg, "ScfPong", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(go_type, num_msg, "ScfGo", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(block_type, num_msg, "ScfBlock", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(fill_type, num_msg, "ScfFill", ACT_FIELD(num_msg, v, ACT_I32));

#define BLOCK_MAX_NS 15000000000ull /* blk gives up spinning after this */

struct area {
	_Atomic int fail, release, blocked, gave_up;
	_Atomic int fills_sent, fills_got, fills_bad, full_seen;
	_Atomic int kid_downs, kid_stopped, p_downs, other_downs;
	_Atomic int watchdog;
};
static struct area *A;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- group b: the child and the blocker ------------------------------------------ */

static const act_behaviour kid_b = { .name = "scf-kid" };

static void blk_block(act_ctx *ctx, void *st, const void *m)
{
	uint64_t end = mono_ns() + BLOCK_MAX_NS;
	(void)ctx, (void)st, (void)m;
	atomic_store(&A->blocked, 1);
	while (!atomic_load(&A->release)) {
		if (mono_ns() > end) {
			atomic_store(&A->gave_up, 1);
			return;
		}
	}
}
static void blk_fill(act_ctx *ctx, void *st, const void *m)
{
	const num_msg *f = m;
	(void)ctx, (void)st;
	if (f->v != atomic_load(&A->fills_got))
		atomic_fetch_add(&A->fills_bad, 1);
	atomic_fetch_add(&A->fills_got, 1);
}
static void blk_ping(act_ctx *ctx, void *st, const void *m)
{
	(void)st;
	if (act_reply(ctx, &pong_type, m))
		atomic_fetch_add(&A->fail, 1);
}
static const act_handler blk_h[] = {
	{ &block_type, blk_block }, { &fill_type, blk_fill }, { &ping_type, blk_ping },
};
static const act_behaviour blk_b = { .name = "scf-blocker", .handlers = blk_h, .n_handlers = 3 };

/* ---- group a: the parent --------------------------------------------------------- */

static void p_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref kid, w;
	(void)st, (void)m;
	if (act_spawn(ctx, "b", "scf-kid", "kid", NULL, &kid) || act_lookup(ctx, "w", &w) ||
	    act_send(ctx, w, &watch_type, &(num_msg){ 0 })) {
		atomic_fetch_add(&A->fail, 1);
		act_shutdown(ctx);
	}
}
/* Blocks b, fills the ring to it until a Fill is refused, and stops. */
static void p_go(act_ctx *ctx, void *st, const void *m)
{
	act_ref blk;
	int err = 0;
	(void)st, (void)m;
	if (act_lookup(ctx, "blk", &blk) || act_send(ctx, blk, &block_type, &(num_msg){ 0 })) {
		atomic_fetch_add(&A->fail, 1);
		act_shutdown(ctx);
		return;
	}
	for (int i = 0; i < 1000000; i++) {
		if ((err = act_send(ctx, blk, &fill_type, &(num_msg){ i })))
			break;
		atomic_fetch_add(&A->fills_sent, 1);
	}
	if (err == ACT_EFULL)
		atomic_store(&A->full_seen, 1);
	else
		atomic_fetch_add(&A->fail, 1);
	act_stop(ctx, act_self(ctx));
}
static const act_handler p_h[] = { { &act_start_type, p_start }, { &go_type, p_go } };
static const act_behaviour p_b = { .name = "scf-parent", .handlers = p_h, .n_handlers = 2 };

/* ---- group c: the watcher -------------------------------------------------------- */

static void w_watch(act_ctx *ctx, void *st, const void *m)
{
	act_ref kid, p, blk;
	uint64_t id;
	(void)st, (void)m;
	/* The Ping goes into b's ring after the monitor: its Pong says b
	 * holds the monitor before anything else happens. */
	if (act_lookup(ctx, "kid", &kid) || act_lookup(ctx, "p", &p) ||
	    act_lookup(ctx, "blk", &blk) || act_monitor(ctx, kid, &id) ||
	    act_monitor(ctx, p, &id) || act_send(ctx, blk, &ping_type, &(num_msg){ 0 })) {
		atomic_fetch_add(&A->fail, 1);
		act_shutdown(ctx);
	}
}
static void w_pong(act_ctx *ctx, void *st, const void *m)
{
	act_ref p;
	(void)st, (void)m;
	if (act_lookup(ctx, "p", &p) || act_send(ctx, p, &go_type, &(num_msg){ 0 })) {
		atomic_fetch_add(&A->fail, 1);
		act_shutdown(ctx);
	}
}
static void w_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	(void)st;
	if (!strcmp(d->actor, "p")) {
		/* p ended: its children were told (or the word waits); let b go. */
		atomic_fetch_add(&A->p_downs, 1);
		atomic_store(&A->release, 1);
	} else if (!strcmp(d->actor, "kid")) {
		atomic_fetch_add(&A->kid_downs, 1);
		if (!strcmp(d->reason, "stopped"))
			atomic_fetch_add(&A->kid_stopped, 1);
		act_shutdown(ctx);
	} else {
		atomic_fetch_add(&A->other_downs, 1);
	}
}
static const act_handler w_h[] = {
	{ &watch_type, w_watch }, { &pong_type, w_pong }, { &act_down_type, w_down },
};
static const act_behaviour w_b = { .name = "scf-watcher", .handlers = w_h, .n_handlers = 3 };

int main(void)
{
	tap_timeout(90);
	A = shared_area(sizeof *A);
	harness_watchdog_fired = &A->watchdog;
	harness_watchdog_ms = 20000;

	act_node_t *n = act_node_new("stop-children-full");
	act_node_add_group(n, "a");
	act_node_add_group(n, "b");
	act_node_add_group(n, "c");
	act_node_add_actor(n, "a", "p", &p_b, NULL);
	act_node_add_actor(n, "b", "blk", &blk_b, NULL);
	act_node_add_actor(n, "c", "w", &w_b, NULL);
	act_node_add_actor(n, "c", "watchdog", &harness_watchdog_b, NULL);
	act_node_add_behaviour(n, &kid_b);
	if (act_node_set_ring_bytes(n, "b", 65536))
		bail("node settings");
	harness_collect_counters();
	int rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0 && !A->watchdog, "node ran and stopped cleanly (rc %d, watchdog %d)", rc,
	   A->watchdog);
	ok(A->fail == 0, "every spawn, lookup, monitor and send succeeded (%d failures)", A->fail);
	ok(A->blocked && !A->gave_up && A->full_seen,
	   "p filled the ring to b while b was blocked (%d Fills, refused after)", A->fills_sent);
	ok(A->p_downs == 1, "w got p's Down (%d)", A->p_downs);
	ok(A->kid_downs == 1 && A->kid_stopped == 1,
	   "kid, p's child in b, stopped after b made room: one Down \"stopped\" (%d Downs, %d "
	   "stopped)", A->kid_downs, A->kid_stopped);
	ok(A->fills_got == A->fills_sent && !A->fills_bad,
	   "b handled every Fill, in order (%d of %d, %d out of order)", A->fills_got,
	   A->fills_sent, A->fills_bad);
	ok(A->other_downs == 0, "no other Down (%d)", A->other_downs);
	ok(counters[1].dead_letters == 0 && counters[2].dead_letters == 0,
	   "no dead letters in a or b (%llu, %llu)", (unsigned long long)counters[1].dead_letters,
	   (unsigned long long)counters[2].dead_letters);
	return done_testing();
}
