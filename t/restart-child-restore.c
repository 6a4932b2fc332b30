/* SPDX-License-Identifier: MIT */
/*
 * t/restart-child-restore.c - the child a restarted parent spawns into
 * another group lives when that group's worker restarts with the old
 * children's stop word and the new child's spawn both in its ring.
 *
 * As t/restart-child-xgroup (P in b, restarted once by G's
 * act_child_policy; its children k0 and k1 in c; the watcher w in d), but
 * c's worker is held in a handler of ck while P fails and is restarted: the
 * word for k0 and k1's spawn wait in the ring b->c.  Then that handler
 * kills c's worker.  The new worker starts k1 from its record (it was
 * never started), then reads the word.  Before, the word stopped k1 too
 * (a known limitation in act_spawn(3) until then); a worker's restore now
 * counts a child it starts from its record as one whose spawn is behind
 * the word.  w must get k0's Down "stopped", an answer from k1, and no
 * Down for k1.
 */
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "harness.h"

typedef struct { int32_t v; } num_msg;
ACT_MESSAGE_TYPE(ready_type, num_msg, "RrReady", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(fail_type, num_msg, "RrFail", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(ping_type, num_msg, "RrPing", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(pong_type, num_msg, "RrPong", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(go_type, num_msg, "RrGo", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(hold_type, num_msg, "RrHold", ACT_FIELD(num_msg, v, ACT_I32));

struct area {
	_Atomic int fail, watchdog, p_starts, p_restarts;
	_Atomic int k0_downs, k0_stopped, k1_downs, k1_starts, k1_shutdowns;
	_Atomic int ask_status, pong, ready1, k0_down_seen, asked;
	_Atomic int other_downs;
	_Atomic int held, crash, crashed, polls;
};
static struct area *A;

/* ---- group c: the children ------------------------------------------------------- */

static void k_start(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	if (!strcmp(act_self_name(ctx), "k1"))
		atomic_fetch_add(&A->k1_starts, 1);
}
static void k_shutdown(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	if (!strcmp(act_self_name(ctx), "k1"))
		atomic_fetch_add(&A->k1_shutdowns, 1);
}
static void k_ping(act_ctx *ctx, void *st, const void *m)
{
	(void)st;
	if (act_reply(ctx, &pong_type, m))
		atomic_fetch_add(&A->fail, 1);
}
static const act_handler k_h[] = {
	{ &act_start_type, k_start }, { &act_shutdown_type, k_shutdown }, { &ping_type, k_ping },
};
static const act_behaviour k_b = { .name = "rc-kid", .handlers = k_h, .n_handlers = 3 };
/* c's static actor: its answer says c's worker runs (its restore is over). */
/* Holds c's worker until w says, then kills it (once: the redelivered
 * message returns at once). */
static void ck_hold(act_ctx *ctx, void *st, const void *m)
{
	(void)ctx, (void)st, (void)m;
	if (atomic_load(&A->crashed))
		return;
	atomic_store(&A->held, 1);
	time_t give_up = time(NULL) + 20; /* the watchdog ends the node first */
	while (!atomic_load(&A->crash)) {
		if (time(NULL) > give_up)
			return;
		usleep(100);
	}
	atomic_store(&A->crashed, 1);
	raise(SIGKILL);
}
static const act_handler ck_h[] = { { &ping_type, k_ping }, { &hold_type, ck_hold } };
static const act_behaviour ck_b = { .name = "rc-ck", .handlers = ck_h, .n_handlers = 2 };

/* ---- group b: G and P ------------------------------------------------------------ */

static void p_start(act_ctx *ctx, void *st, const void *m)
{
	char name[16];
	act_ref r, w;
	(void)st, (void)m;
	int n = atomic_fetch_add(&A->p_starts, 1);
	snprintf(name, sizeof name, "k%d", n);
	if (act_spawn(ctx, "c", "rc-kid", name, NULL, &r) || act_lookup(ctx, "w", &w) ||
	    act_send(ctx, w, &ready_type, &(num_msg){ n }))
		atomic_fetch_add(&A->fail, 1);
}
static void p_fail(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	act_fail(ctx, "test");
}
static const act_handler p_h[] = { { &act_start_type, p_start }, { &fail_type, p_fail } };
static const act_behaviour p_b = { .name = "rc-par", .handlers = p_h, .n_handlers = 2 };

static const act_child_policy g_pol = { ACT_ONE_FOR_ONE, ACT_CHILD_RESTART, 5, 60000, NULL };
static void g_go(act_ctx *ctx, void *st, const void *m)
{
	act_ref r;
	(void)st, (void)m;
	if (act_spawn(ctx, NULL, "rc-par", "P", NULL, &r))
		atomic_fetch_add(&A->fail, 1);
}
static const act_handler g_h[] = { { &go_type, g_go } };
static const act_behaviour g_b = {
	.name = "rc-sup", .handlers = g_h, .n_handlers = 1, .children = &g_pol,
};

/* ---- group d: the watcher -------------------------------------------------------- */

static void w_pong(act_ctx *ctx, void *st, int status, const act_type *t, const void *reply,
                   uint64_t cookie)
{
	(void)st, (void)t, (void)cookie;
	atomic_store(&A->ask_status, status);
	if (!status)
		atomic_store(&A->pong, ((const num_msg *)reply)->v);
	act_timer_once(ctx, 50, 1); /* a moment for a Down of k1 to show */
}
/* Once k1 exists and k0 is gone: is k1 alive? */
static void w_maybe_ask(act_ctx *ctx)
{
	act_ref k1;
	if (!atomic_load(&A->ready1) || !atomic_load(&A->k0_down_seen) ||
	    atomic_exchange(&A->asked, 1))
		return;
	if (act_lookup(ctx, "k1", &k1) ||
	    act_ask(ctx, k1, &ping_type, &(num_msg){ 7 }, 3000, w_pong, 0)) {
		atomic_fetch_add(&A->fail, 1);
		act_shutdown(ctx);
	}
}
/* c answered: its worker runs, so it reads k0's spawn from the ring, not
 * from its record at a start; G may spawn P now. */
static void w_c_up(act_ctx *ctx, void *st, int status, const act_type *t, const void *reply,
                   uint64_t cookie)
{
	act_ref g;
	(void)st, (void)t, (void)reply, (void)cookie;
	if (status || act_lookup(ctx, "G", &g) || act_send(ctx, g, &go_type, &(num_msg){ 0 }))
		atomic_fetch_add(&A->fail, 1);
}
static void w_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref ck;
	(void)st, (void)m;
	if (act_lookup(ctx, "ck", &ck) ||
	    act_ask(ctx, ck, &ping_type, &(num_msg){ 1 }, 10000, w_c_up, 0))
		atomic_fetch_add(&A->fail, 1);
}
static void w_ready(act_ctx *ctx, void *st, const void *m)
{
	int n = ((const num_msg *)m)->v;
	act_ref k, p;
	uint64_t id;
	(void)st;
	if (act_lookup(ctx, n ? "k1" : "k0", &k) || act_monitor(ctx, k, &id)) {
		atomic_fetch_add(&A->fail, 1);
		return;
	}
	if (n == 0) {
		/* Hold c's worker, then (w_timeout, once it holds) fail P. */
		act_ref ck;
		if (act_lookup(ctx, "ck", &ck) || act_send(ctx, ck, &hold_type, &(num_msg){ 0 }) ||
		    act_timer_once(ctx, 1, 2))
			atomic_fetch_add(&A->fail, 1);
		(void)p;
		return;
	}
	/* k1's spawn and the word for k0 wait in c's ring: kill c's worker. */
	atomic_store(&A->crash, 1);
	atomic_store(&A->ready1, 1);
	w_maybe_ask(ctx);
}
static void w_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	(void)st;
	if (!strcmp(d->actor, "k0")) {
		atomic_fetch_add(&A->k0_downs, 1);
		atomic_fetch_add(&A->k0_stopped, !strcmp(d->reason, "stopped"));
		atomic_store(&A->k0_down_seen, 1);
		w_maybe_ask(ctx);
	} else if (!strcmp(d->actor, "k1")) {
		atomic_fetch_add(&A->k1_downs, 1);
	} else {
		atomic_fetch_add(&A->other_downs, 1);
	}
}
static void w_timeout(act_ctx *ctx, void *st, const void *m)
{
	const act_timeout *t = m;
	act_ref p;
	(void)st;
	if (t->id != 2) {
		act_shutdown(ctx);
		return;
	}
	/* Timer 2: is c's worker held yet?  Then P fails. */
	if (!atomic_load(&A->held)) {
		atomic_fetch_add(&A->polls, 1);
		if (act_timer_once(ctx, 1, 2))
			atomic_fetch_add(&A->fail, 1);
		return;
	}
	if (act_lookup(ctx, "P", &p) || act_send(ctx, p, &fail_type, &(num_msg){ 0 }))
		atomic_fetch_add(&A->fail, 1);
}
static const act_handler w_h[] = {
	{ &act_start_type, w_start }, { &ready_type, w_ready }, { &act_down_type, w_down },
	{ &act_timeout_type, w_timeout },
};
static const act_behaviour w_b = { .name = "rc-watcher", .handlers = w_h, .n_handlers = 4 };

int main(void)
{
	tap_timeout(60);
	A = shared_area(sizeof *A);
	harness_watchdog_fired = &A->watchdog;
	harness_watchdog_ms = 20000;

	act_node_t *n = act_node_new("restart-child-restore");
	act_node_add_group(n, "d");
	act_node_add_group(n, "c");
	act_node_add_group(n, "b");
	act_node_add_actor(n, "d", "w", &w_b, NULL);
	act_node_add_actor(n, "d", "watchdog", &harness_watchdog_b, NULL);
	act_node_add_actor(n, "b", "G", &g_b, NULL);
	act_node_add_actor(n, "c", "ck", &ck_b, NULL);
	act_node_add_behaviour(n, &p_b);
	act_node_add_behaviour(n, &k_b);
	int rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0 && !A->watchdog, "node ran and stopped cleanly (rc %d, watchdog %d)", rc,
	   A->watchdog);
	ok(A->fail == 0, "every spawn, lookup, monitor, send and reply succeeded (%d failures)",
	   A->fail);
	ok(A->p_starts == 2, "P was restarted by G's policy (%d Starts)", A->p_starts);
	ok(A->k0_downs == 1 && A->k0_stopped == 1,
	   "k0, the first incarnation's child in c, stopped: one Down \"stopped\" (%d, %d)",
	   A->k0_downs, A->k0_stopped);
	ok(A->ask_status == 0 && A->pong == 7,
	   "k1, spawned by the restarted P, answers after k0's Down (status %d, pong %d)",
	   A->ask_status, A->pong);
	ok(A->k1_downs == 0 && A->k1_starts == 1 && A->k1_shutdowns == 1,
	   "k1 got no Down, one Start, and its Shutdown only at the node's stop (%d, %d, %d)",
	   A->k1_downs, A->k1_starts, A->k1_shutdowns);
	ok(A->crashed == 1, "c's worker was killed while it held the word and k1's spawn (%d)",
	   A->crashed);
	ok(A->other_downs == 0, "no other Down (%d)", A->other_downs);
	return done_testing();
}
