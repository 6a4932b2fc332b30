/* SPDX-License-Identifier: MIT */
/*
 * t/dynamic-monitors.c - the monitor limit, wherever monitors come from:
 *  - a spawned actor holds ACT__SPAWN_MONITORS (8) monitors, counted
 *    together from another group and from its own: the next act_monitor()
 *    fails with -ENOSPC at the call (never a Down "noproc" later), from
 *    either side;
 *  - an entry freed by act_demonitor() from another group can be taken
 *    again once its group handled the demonitor;
 *  - every monitor that was taken gets its Down "stopped", exactly once;
 *  - a static actor's monitors are not limited to 8 (20 from another
 *    group, each told once when it stops);
 *  - act_monitor() of oneself and act_demonitor() twice.
 */
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"

#define N_STATIC_MON 20

typedef struct { int32_t v; } go_msg;
ACT_MESSAGE_TYPE(go_type, go_msg, "Go", ACT_FIELD(go_msg, v, ACT_I32));

struct area {
	_Atomic int fail, phase, ticks;
	_Atomic int remote_ok, remote_nospc, local_ok, local_nospc, after_nospc, retake_ticks;
	_Atomic int downs_m1_boss, downs_m1_helper, downs_st, downs_other, noproc;
	_Atomic int self_rc, self_down, demon1, demon2, ldemon1, ldemon2;
};
static struct area *A;

static const act_behaviour idle_b = { .name = "idle", .restart = ACT_PERMANENT };

/* ---- group b: the helper takes monitors from m1's own group ----------------------- */

static void helper_go(act_ctx *ctx, void *st, const void *m)
{
	act_ref m1, boss;
	uint64_t mid;
	if (act_lookup(ctx, "m1", &m1) || act_lookup(ctx, "boss", &boss)) {
		A->fail++;
		return;
	}
	for (int i = 0; i < 3; i++) {
		int rc = act_monitor(ctx, m1, &mid);
		if (rc == 0)
			A->local_ok++;
		else if (rc == -ENOSPC && mid == 0)
			A->local_nospc++;
		else
			A->fail++;
	}
	act_send(ctx, boss, &go_type, &(go_msg){ 1 });
}
static void helper_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	if (!strcmp(d->actor, "m1") && !strcmp(d->reason, "stopped"))
		A->downs_m1_helper++;
	else
		A->downs_other++;
}
static const act_handler helper_h[] = { { &go_type, helper_go }, { &act_down_type, helper_down } };
static const act_behaviour helper_b = { .name = "helper", .handlers = helper_h, .n_handlers = 2 };

static const act_behaviour static_b = { .name = "st" };

/* ---- the boss (group a) ------------------------------------------------------------ */

struct boss { act_ref m1, helper, st; uint64_t mids[8]; };

static void boss_start(act_ctx *ctx, void *st, const void *m)
{
	struct boss *b = st;
	uint64_t mid, mid2;

	if (act_spawn(ctx, "b", "idle", "m1", NULL, &b->m1) || act_lookup(ctx, "helper", &b->helper) ||
	    act_lookup(ctx, "st", &b->st)) {
		A->fail++;
		return;
	}
	/* 6 from here, 3 from m1's group (the third refused), then 1 more here */
	for (int i = 0; i < 6; i++) {
		int rc = act_monitor(ctx, b->m1, &b->mids[i]);
		if (rc == 0)
			A->remote_ok++;
		else
			A->fail++;
	}
	act_send(ctx, b->helper, &go_type, &(go_msg){ 0 });
	/* a static actor: 20 monitors */
	for (int i = 0; i < N_STATIC_MON; i++)
		if (act_monitor(ctx, b->st, &mid))
			A->fail++;
	/* oneself: allowed; the Down comes when we stop (never here) */
	A->self_rc = act_monitor(ctx, act_self(ctx), &mid);
	/* demonitor twice, locally: 0 then -ENOENT */
	A->ldemon1 = act_demonitor(ctx, mid);
	A->ldemon2 = act_demonitor(ctx, mid);
	(void)mid2;
}

static void boss_go(act_ctx *ctx, void *st, const void *m)
{
	struct boss *b = st;
	uint64_t mid = 1;
	/* the helper took 2 and was refused the third: 8 taken */
	int rc = act_monitor(ctx, b->m1, &mid);
	if (rc == -ENOSPC && mid == 0)
		A->remote_nospc++;
	else
		A->fail++;
	/* free one from here; then retry until its group has handled that */
	A->demon1 = act_demonitor(ctx, b->mids[0]);
	A->demon2 = act_demonitor(ctx, b->mids[0]);
	A->phase = 1;
	act_timer_periodic(ctx, 1, 1);
}

static void boss_tick(act_ctx *ctx, void *st, const void *m)
{
	struct boss *b = st;
	uint64_t mid;

	if (++A->ticks > 5000) {
		A->fail++;
		act_shutdown(ctx);
		return;
	}
	if (A->phase == 1) {
		int rc = act_monitor(ctx, b->m1, &mid);
		A->retake_ticks++;
		if (rc == -ENOSPC)
			return;
		if (rc)
			A->fail++;
		/* taken again: 8 once more, so one more is refused */
		if (act_monitor(ctx, b->m1, &mid) == -ENOSPC)
			A->after_nospc++;
		A->phase = 2;
		if (act_stop(ctx, b->m1) || act_stop(ctx, b->st))
			A->fail++;
	} else if (A->phase == 2 && A->downs_m1_boss == 6 && A->downs_m1_helper == 2 &&
	           A->downs_st == N_STATIC_MON) {
		A->phase = 3;
		act_timer_once(ctx, 50, 9); /* room for a stray Down */
	} else if (((const act_timeout *)m)->id == 9) {
		act_shutdown(ctx);
	}
}

static void boss_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	if (!strcmp(d->reason, "noproc") || !strncmp(d->reason, "noproc", 6))
		A->noproc++;
	else if (!strcmp(d->actor, "m1") && !strcmp(d->reason, "stopped"))
		A->downs_m1_boss++;
	else if (!strcmp(d->actor, "st") && !strcmp(d->reason, "stopped"))
		A->downs_st++;
	else if (!strcmp(d->actor, "boss"))
		A->self_down++;
	else
		A->downs_other++;
}

static const act_handler boss_h[] = {
	{ &act_start_type, boss_start }, { &go_type, boss_go }, { &act_timeout_type, boss_tick },
	{ &act_down_type, boss_down },
};
static const act_behaviour boss_b = {
	.name = "boss", .state_size = sizeof(struct boss), .handlers = boss_h, .n_handlers = 4,
};

int main(void)
{
	tap_timeout(60);
	A = shared_area(sizeof *A);
	static _Atomic int *fired;
	fired = shared_area(sizeof *fired);
	harness_watchdog_fired = fired;
	harness_watchdog_ms = 20000;
	act_node_t *node = act_node_new("monitors");
	act_node_add_group(node, "a");
	act_node_add_group(node, "b");
	act_node_add_actor(node, "a", "boss", &boss_b, NULL);
	act_node_add_actor(node, "a", "watchdog", &harness_watchdog_b, NULL);
	act_node_add_actor(node, "b", "helper", &helper_b, NULL);
	act_node_add_actor(node, "b", "st", &static_b, NULL);
	act_node_add_behaviour(node, &idle_b);
	int rc = act_node_run(node);
	act_node_free(node);

	ok(rc == 0 && !*fired, "node stopped cleanly (rc %d, watchdog %d, phase %d)", rc, *fired,
	   A->phase);
	ok(A->fail == 0, "no unexpected result (%d)", A->fail);
	ok(A->remote_ok == 6 && A->local_ok == 2 && A->local_nospc == 1,
	   "8 monitors of a spawned actor, from another group and its own; the 9th, from its own "
	   "group: -ENOSPC (%d, %d, %d)", A->remote_ok, A->local_ok, A->local_nospc);
	ok(A->remote_nospc == 1, "the 9th from another group: -ENOSPC at the call, monitor id 0");
	ok(A->demon1 == 0 && A->retake_ticks >= 1 && A->after_nospc == 1,
	   "an entry freed by a demonitor from another group is taken again, and then the "
	   "next is refused (%d ticks)", A->retake_ticks);
	ok(A->noproc == 0, "never a Down 'noproc' (%d)", A->noproc);
	ok(A->downs_m1_boss == 6 && A->downs_m1_helper == 2,
	   "each monitor taken got Down 'stopped' once (%d here, %d in its group)",
	   A->downs_m1_boss, A->downs_m1_helper);
	ok(A->downs_st == N_STATIC_MON, "a static actor: %d monitors, each told once (%d)",
	   N_STATIC_MON, A->downs_st);
	ok(A->self_rc == 0 && A->ldemon1 == 0 && A->ldemon2 == -ENOENT && A->self_down == 0,
	   "monitor of oneself: 0; demonitor: 0, then -ENOENT (%d, %d, %d)", A->self_rc,
	   A->ldemon1, A->ldemon2);
	ok(A->downs_other == 0, "no other Down (%d)", A->downs_other);
	return done_testing();
}
