/* SPDX-License-Identifier: MIT */
/*
 * t/pool-monitors.c - pool members as watchers: each member gets a Down
 * for every monitor it took of an actor in another group, whatever the
 * pool's routing.  A Down is addressed to the member that took the
 * monitor; routed by the pool's pick instead, it reached another member,
 * which holds no note of that monitor and drops it (found by an outside
 * attack: with 4 monitors per member and 2 members each member got 2).
 *
 * For each routing (round_robin, least_loaded, key_hash), a node with
 * group "a" (the target "t") and a pool "c" of N_MEMBERS members of
 * "wc": each member takes K monitors of t at its Start, then tells t; t
 * stops once every member did.  Each member also spawns a child into
 * its own member, monitors it and stops it: that Down, made in the
 * member, must stay there (key_hash sent it to member 0).  The node
 * stops once every Down came (or at the watchdog).
 *
 * Then spawned targets and a member's restart: t2 spawns K temporary
 * actors; each member asks t2 (the answer comes back to that member),
 * monitors them all and says Ready; member 0 dies once (SIGKILL) before
 * it monitors, and its new worker does it.  t2 stops them once all three
 * are Ready: every member gets K Downs.  Before, a spawned actor's entry
 * was judged by the pool's first member's worker generation, so once
 * member 0 had restarted the others' entries read as ended and their
 * Downs were not sent (found by an outside attack: 0 of 4).
 */
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "tap.h"
#include "harness.h"

#define N_MEMBERS 3
#define K 5

struct area {
	_Atomic int watchdog, readies, err, done, killed;
	_Atomic int taken[N_MEMBERS], downs[N_MEMBERS], other[N_MEMBERS], kid_downs[N_MEMBERS];
};
static struct area *A;

typedef struct { int32_t member; } ready_msg;
ACT_MESSAGE_TYPE(ready_type, ready_msg, "PmReady", ACT_FIELD(ready_msg, member, ACT_I32));

static void t_ready(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	if (atomic_fetch_add(&A->readies, 1) + 1 == N_MEMBERS)
		act_stop_self(ctx);
}
static const act_handler t_h[] = { { &ready_type, t_ready } };
static const act_behaviour t_b = { .name = "pm-target", .handlers = t_h, .n_handlers = 1 };

static const act_behaviour kid_b = { .name = "pm-kid" };

/* ---- spawned targets, a member restarts ---------------------------------- */

typedef struct { int32_t v; } hello_msg;
ACT_MESSAGE_TYPE(hello_type, hello_msg, "PmHello", ACT_FIELD(hello_msg, v, ACT_I32));

static const act_behaviour sk_b = { .name = "pm-spawned", .restart = ACT_TEMPORARY };

static void t2_start(act_ctx *ctx, void *st, const void *m)
{
	char name[16];
	act_ref r;
	(void)st, (void)m;
	for (int k = 0; k < K; k++) {
		snprintf(name, sizeof name, "s%d", k);
		if (act_spawn(ctx, NULL, "pm-spawned", name, NULL, &r))
			atomic_fetch_add(&A->err, 1);
	}
}
static void t2_hello(act_ctx *ctx, void *st, const void *m)
{
	(void)st;
	if (act_reply(ctx, &hello_type, m))
		atomic_fetch_add(&A->err, 1);
}
static void t2_ready(act_ctx *ctx, void *st, const void *m)
{
	char name[16];
	act_ref r;
	(void)st, (void)m;
	if (atomic_fetch_add(&A->readies, 1) + 1 != N_MEMBERS)
		return;
	for (int k = 0; k < K; k++) {
		snprintf(name, sizeof name, "s%d", k);
		if (act_lookup(ctx, name, &r) || act_stop(ctx, r))
			atomic_fetch_add(&A->err, 1);
	}
}
static const act_handler t2_h[] = {
	{ &act_start_type, t2_start }, { &hello_type, t2_hello }, { &ready_type, t2_ready },
};
static const act_behaviour t2_b = { .name = "pm-spawner", .handlers = t2_h, .n_handlers = 3 };

static void ws_answer(act_ctx *ctx, void *st, int status, const act_type *t, const void *m,
                      uint64_t cookie)
{
	int me = act_pool_member(ctx);
	char name[16];
	act_ref r, t2;
	uint64_t id;
	(void)st, (void)t, (void)m, (void)cookie;
	if (status || me < 0 || me >= N_MEMBERS) {
		atomic_fetch_add(&A->err, 1);
		return;
	}
	if (me == 0 && !atomic_exchange(&A->killed, 1))
		raise(SIGKILL); /* once: the restarted member 0 asks again */
	for (int k = 0; k < K; k++) {
		snprintf(name, sizeof name, "s%d", k);
		if (act_lookup(ctx, name, &r) || act_monitor(ctx, r, &id))
			atomic_fetch_add(&A->err, 1);
		else
			atomic_fetch_add(&A->taken[me], 1);
	}
	if (act_lookup(ctx, "t2", &t2) || act_send(ctx, t2, &ready_type, &(ready_msg){ me }))
		atomic_fetch_add(&A->err, 1);
}
static void ws_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref t2;
	(void)st, (void)m;
	if (act_lookup(ctx, "t2", &t2) ||
	    act_ask(ctx, t2, &hello_type, &(hello_msg){ 0 }, 5000, ws_answer, 0))
		atomic_fetch_add(&A->err, 1);
}
static void ws_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	int me = act_pool_member(ctx), total = 0;
	(void)st;
	if (d->actor[0] == 's' && !strcmp(d->reason, "stopped"))
		atomic_fetch_add(&A->downs[me], 1);
	else
		atomic_fetch_add(&A->other[me], 1);
	for (int i = 0; i < N_MEMBERS; i++)
		total += atomic_load(&A->downs[i]);
	if (total == N_MEMBERS * K && !atomic_exchange(&A->done, 1))
		act_shutdown(ctx);
}
static const act_handler ws_h[] = { { &act_start_type, ws_start }, { &act_down_type, ws_down } };
static const act_behaviour ws_b = { .name = "pm-spawn-watcher", .handlers = ws_h, .n_handlers = 2 };

static void run_spawned(void)
{
	const char *what = "spawned targets, member 0 restarted";
	memset(A, 0, sizeof *A);
	act_node_t *n = act_node_new("pool-monitors2");
	act_node_add_group(n, "a");
	act_node_add_group(n, "c");
	act_node_add_group(n, "dogs");
	act_node_add_actor(n, "a", "t2", &t2_b, NULL);
	act_node_add_actor(n, "c", "ws", &ws_b, NULL);
	act_node_add_actor(n, "dogs", "watchdog", &harness_watchdog_b, NULL);
	act_node_add_behaviour(n, &sk_b);
	if (act_node_set_pool(n, "c", N_MEMBERS))
		bail("pool settings (%s)", what);
	harness_watchdog_ms = 10000;
	harness_watchdog_fired = &A->watchdog;
	int rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0 && !A->watchdog && !A->err && A->killed,
	   "%s: node ran and stopped (rc %d, watchdog %d, errors %d)", what, rc, A->watchdog,
	   A->err);
	for (int i = 0; i < N_MEMBERS; i++)
		ok(A->taken[i] == K && A->downs[i] == K && !A->other[i],
		   "%s: member %d took %d monitors and got a Down for each (%d, %d other)", what, i,
		   A->taken[i], A->downs[i], A->other[i]);
}

static void wc_start(act_ctx *ctx, void *st, const void *m)
{
	int me = act_pool_member(ctx);
	act_ref t, kid;
	uint64_t id;
	(void)st, (void)m;
	if (me < 0 || me >= N_MEMBERS || act_lookup(ctx, "t", &t) ||
	    act_spawn(ctx, NULL, "pm-kid", NULL, NULL, &kid) || act_monitor(ctx, kid, &id) ||
	    act_stop(ctx, kid)) {
		atomic_fetch_add(&A->err, 1);
		act_shutdown(ctx);
		return;
	}
	for (int k = 0; k < K; k++) {
		if (act_monitor(ctx, t, &id))
			atomic_fetch_add(&A->err, 1);
		else
			atomic_fetch_add(&A->taken[me], 1);
	}
	if (act_send(ctx, t, &ready_type, &(ready_msg){ me }))
		atomic_fetch_add(&A->err, 1);
}
static void wc_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	int me = act_pool_member(ctx), total = 0;
	(void)st;
	if (!strcmp(d->actor, "t") && !strcmp(d->reason, "normal"))
		atomic_fetch_add(&A->downs[me], 1);
	else if (d->actor[0] == '$' && !strcmp(d->reason, "stopped"))
		atomic_fetch_add(&A->kid_downs[me], 1);
	else
		atomic_fetch_add(&A->other[me], 1);
	for (int i = 0; i < N_MEMBERS; i++)
		total += atomic_load(&A->downs[i]) + atomic_load(&A->kid_downs[i]);
	if (total == N_MEMBERS * (K + 1) && !atomic_exchange(&A->done, 1))
		act_shutdown(ctx);
}
static const act_handler wc_h[] = { { &act_start_type, wc_start }, { &act_down_type, wc_down } };
static const act_behaviour wc_b = { .name = "pm-watcher", .handlers = wc_h, .n_handlers = 2 };

static void run(act_pool_routing routing, const char *key, const char *what)
{
	memset(A, 0, sizeof *A);
	act_node_t *n = act_node_new("pool-monitors");
	act_node_add_group(n, "a");
	act_node_add_group(n, "c");
	act_node_add_group(n, "dogs");
	act_node_add_actor(n, "a", "t", &t_b, NULL);
	act_node_add_actor(n, "c", "wc", &wc_b, NULL);
	act_node_add_actor(n, "dogs", "watchdog", &harness_watchdog_b, NULL);
	act_node_add_behaviour(n, &kid_b);
	if (act_node_set_pool(n, "c", N_MEMBERS) ||
	    act_node_set_pool_routing(n, "c", routing, key))
		bail("pool settings (%s)", what);
	harness_watchdog_ms = 10000;
	harness_watchdog_fired = &A->watchdog;
	int rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0 && !A->watchdog && !A->err, "%s: node ran and stopped (rc %d, watchdog %d, "
	   "errors %d)", what, rc, A->watchdog, A->err);
	for (int i = 0; i < N_MEMBERS; i++)
		ok(A->taken[i] == K && A->downs[i] == K && A->kid_downs[i] == 1 && !A->other[i],
		   "%s: member %d took %d monitors of t and got a Down for each (%d), and its "
		   "child's (%d; %d other)", what, i, A->taken[i], A->downs[i], A->kid_downs[i],
		   A->other[i]);
}

int main(void)
{
	tap_timeout(90);
	A = shared_area(sizeof *A);
	run(ACT_POOL_ROUND_ROBIN, NULL, "round_robin");
	run(ACT_POOL_LEAST_LOADED, NULL, "least_loaded");
	run(ACT_POOL_KEY_HASH, "member", "key_hash");
	run_spawned();
	return done_testing();
}
