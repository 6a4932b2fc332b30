/* SPDX-License-Identifier: MIT */
/*
 * t/dynamic-xgroup.c - spawned actors across groups:
 *  - act_spawn into another group returns a usable ref at once; the
 *    spawner's envelopes to it arrive after its Start and in order, and so
 *    do a third group's, sent as soon as it got the ref;
 *  - act_stop and act_monitor across groups: Down "stopped" exactly once
 *    to each watcher, "noproc" for an actor already gone, none after
 *    act_demonitor; a parent's stop stops its child in another group;
 *  - two groups racing to create the same 300 names: exactly one wins each;
 *  - the target group killed with spawns and envelopes queued for it: every
 *    permanent actor starts and gets its envelopes, every temporary one's
 *    monitor gets Down "crashed: signal 9" once;
 *  - the spawning group killed right after a cross-group spawn: the record
 *    is there exactly once (found, and -EEXIST when spawned again);
 *  - a temporary group killed for good: the supervisor tells the monitors
 *    of its spawned actors, Down "crashed: signal 9", once.
 */
#include <signal.h>
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"

#define N_KIDS 200   /* scenario 1 */
#define N_RACE 2000  /* names raced for */
#define N_PERM 100   /* permanent kids queued behind the crash */
#define N_TEMP 20    /* temporary kids lost in it */

typedef struct { int32_t v; } seq_msg;
ACT_MESSAGE_TYPE(seq_type, seq_msg, "Seq", ACT_FIELD(seq_msg, v, ACT_I32));
typedef struct { int32_t id, gen; } ref_msg;
ACT_MESSAGE_TYPE(ref_type, ref_msg, "RefMsg", ACT_FIELD(ref_msg, id, ACT_I32),
                 ACT_FIELD(ref_msg, gen, ACT_I32));
ACT_MESSAGE_TYPE(die_type, seq_msg, "Die", ACT_FIELD(seq_msg, v, ACT_I32));

struct area {
	_Atomic int early, disorder, spawn_fail, third_fail, lookup_ok, name_ok;
	_Atomic int seq[N_KIDS + N_PERM], third[N_KIDS];
	_Atomic int victim_stopped, victim_other, third_downs, noproc, quiet_downs, pxc_stopped;
	_Atomic int wins[N_RACE], eexist, race_other, race_done, race_ready, wins_a, race_ready_set[2];
	_Atomic uint64_t race_go_ns;
	_Atomic int bombed, temp_crashed, temp_other, temp_pings, phase;
	_Atomic int orphan_spawned, orphan_killed, orphan_eexist, orphan_found, stopping;
	_Atomic int doomed_crashed, doomed_other, e_bombed;
};
static struct area *A;

/* ---- spawnable behaviours -------------------------------------------------------- */

struct kid { int idx, started, last; };

static int kid_init(act_ctx *ctx, void *st, const char *args)
{
	struct kid *k = st;
	k->idx = args ? atoi(args) : -1;
	return 0;
}
static void kid_start(act_ctx *ctx, void *st, const void *m) { ((struct kid *)st)->started = 1; }
static void kid_seq(act_ctx *ctx, void *st, const void *m)
{
	struct kid *k = st;
	const seq_msg *s = m;
	if (!k->started)
		A->early++;
	if (k->idx < 0 || k->idx >= N_KIDS + N_PERM)
		return;
	if (s->v >= 100) {
		if (k->idx < N_KIDS)
			A->third[k->idx]++;
		return;
	}
	if (s->v != k->last + 1)
		A->disorder++;
	k->last = s->v;
	A->seq[k->idx]++;
}
static const act_handler kid_h[] = { { &act_start_type, kid_start }, { &seq_type, kid_seq } };
static const act_behaviour kid_b = {
	.name = "kid", .state_size = sizeof(struct kid), .init = kid_init,
	.handlers = kid_h, .n_handlers = 2, .restart = ACT_PERMANENT,
};
static const act_behaviour idle_b = { .name = "idle", .restart = ACT_PERMANENT };

static void tkid_seq(act_ctx *ctx, void *st, const void *m) { A->temp_pings++; }
static const act_handler tkid_h[] = { { &seq_type, tkid_seq } };
static const act_behaviour tkid_b = {
	.name = "tkid", .handlers = tkid_h, .n_handlers = 1, .restart = ACT_TEMPORARY,
};

/* a parent in the boss's group with a child in group b */
static void spx_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r;
	if (act_spawn(ctx, "b", "idle", "pxc", NULL, &r))
		A->spawn_fail++;
}
static const act_handler spx_h[] = { { &act_start_type, spx_start } };
static const act_behaviour spx_b = { .name = "spx", .handlers = spx_h, .n_handlers = 1 };

/* ---- racing for names ------------------------------------------------------------- */

/*
 * Group a spawns the names into itself, group c into group b.  Both start
 * at one agreed moment: each says it is ready and polls with a 1 ms timer
 * (groups start one after another, tens of ms apart); the first to see
 * both ready sets a start time 5 ms ahead, and both spin until it.
 */
static bool race_gate(act_ctx *ctx, int64_t timer)
{
	if (!A->race_ready_set[timer & 1]) {
		A->race_ready_set[timer & 1] = 1;
		A->race_ready++;
	}
	if (A->race_ready < 2) {
		act_timer_once(ctx, 1, timer);
		return false;
	}
	uint64_t zero = 0;
	atomic_compare_exchange_strong(&A->race_go_ns, &zero, act_now_ns() + 5000000u);
	while (act_now_ns() < A->race_go_ns)
		;
	return true;
}

static void race(act_ctx *ctx, const char *group)
{
	char name[32];
	act_ref r;
	for (int k = 0; k < N_RACE; k++) {
		/* different orders, so that the two meet all along the way */
		int i = group ? (int)((k * 7919u) % N_RACE) : k;
		snprintf(name, sizeof name, "race-%d", i);
		int rc = act_spawn(ctx, group, "idle", name, NULL, &r);
		if (rc == 0) {
			A->wins[i]++;
			if (!group)
				A->wins_a++;
		} else if (rc == -EEXIST) {
			A->eexist++;
		} else {
			A->race_other++;
		}
	}
	A->race_done++;
}

/* ---- the boss (group a) ------------------------------------------------------------ */

struct boss { act_ref third, bomb, victim, quiet; uint64_t quiet_mid; };

static void boss_start(act_ctx *ctx, void *st, const void *m)
{
	struct boss *b = st;
	char args[16];
	act_ref r, px, pxc;
	uint64_t mid;

	act_timer_once(ctx, 1, 2);
	act_lookup(ctx, "third", &b->third);
	act_lookup(ctx, "bomb", &b->bomb);

	/* 1: spawn into b, send at once; the third group sends too */
	for (int i = 0; i < N_KIDS; i++) {
		snprintf(args, sizeof args, "%d", i);
		if (act_spawn(ctx, "b", "kid", NULL, args, &r)) {
			A->spawn_fail++;
			continue;
		}
		ref_msg rm = { (int32_t)r.id, (int32_t)r.gen };
		act_send(ctx, b->third, &ref_type, &rm);
		for (int v = 1; v <= 3; v++)
			if (act_send(ctx, r, &seq_type, &(seq_msg){ v }))
				A->spawn_fail++;
	}
	/* a named one is found at once, from here, by name and by ref */
	if (act_spawn(ctx, "b", "kid", "victim", "-1", &b->victim))
		A->spawn_fail++;
	A->lookup_ok = act_lookup(ctx, "victim", &r) == 0 && act_ref_eq(r, b->victim);
	A->name_ok = act_ref_name(ctx, b->victim) && !strcmp(act_ref_name(ctx, b->victim), "victim");

	/* 2: stop and monitors across groups */
	act_monitor(ctx, b->victim, &mid);
	act_send(ctx, b->third, &ref_type, &(ref_msg){ (int32_t)b->victim.id,
	                                               -(int32_t)b->victim.gen });
	if (act_stop(ctx, b->victim))
		A->spawn_fail++;
	if (act_spawn(ctx, "b", "idle", "quiet", NULL, &b->quiet) ||
	    act_monitor(ctx, b->quiet, &b->quiet_mid) || act_demonitor(ctx, b->quiet_mid) ||
	    act_stop(ctx, b->quiet))
		A->spawn_fail++;
	/* a parent here, its child there: stopping the parent stops the child */
	if (act_spawn(ctx, NULL, "spx", "px", NULL, &px) || act_lookup(ctx, "pxc", &pxc) ||
	    act_monitor(ctx, pxc, &mid) || act_stop(ctx, px))
		A->spawn_fail++;
	act_timer_periodic(ctx, 5, 1);
}

static bool phase1_done(void)
{
	for (int i = 0; i < N_KIDS; i++)
		if (A->seq[i] < 3 || A->third[i] < 1)
			return false;
	return A->race_done == 2 && A->victim_stopped && A->third_downs && A->noproc &&
	       A->pxc_stopped;
}

static bool phase2_done(void)
{
	for (int i = N_KIDS; i < N_KIDS + N_PERM; i++)
		if (A->seq[i] < 2)
			return false;
	return A->temp_crashed + A->temp_other >= N_TEMP && A->orphan_eexist + A->orphan_found >= 2 &&
	       A->doomed_crashed + A->doomed_other >= 1;
}

static void boss_tick(act_ctx *ctx, void *st, const void *m)
{
	struct boss *b = st;
	char args[16];
	act_ref r;
	uint64_t mid;

	if (((const act_timeout *)m)->id == 2) {
		if (race_gate(ctx, 2))
			race(ctx, NULL);
		return;
	}
	if (A->phase == 0 && phase1_done()) {
		A->phase = 1;
		/* 4: temporary kids started and watched, then b is killed with
		 * permanent spawns and envelopes queued behind the kill */
		for (int i = 0; i < N_TEMP; i++)
			if (act_spawn(ctx, "b", "tkid", NULL, NULL, &r) || act_monitor(ctx, r, &mid))
				A->spawn_fail++;
		act_send(ctx, b->bomb, &die_type, &(seq_msg){ 0 });
		/* 6: an actor in a temporary group, watched from here; the group
		 * is killed and never restarted */
		act_ref ebomb;
		if (act_spawn(ctx, "e", "idle", "doomed", NULL, &r) || act_monitor(ctx, r, &mid) ||
		    act_lookup(ctx, "ebomb", &ebomb) || act_send(ctx, ebomb, &die_type, &(seq_msg){ 1 }))
			A->spawn_fail++;
		for (int i = N_KIDS; i < N_KIDS + N_PERM; i++) {
			snprintf(args, sizeof args, "%d", i);
			if (act_spawn(ctx, "b", "kid", NULL, args, &r) ||
			    act_send(ctx, r, &seq_type, &(seq_msg){ 1 }) ||
			    act_send(ctx, r, &seq_type, &(seq_msg){ 2 }))
				A->spawn_fail++;
		}
	} else if (A->phase == 1 && phase2_done() && !atomic_exchange(&A->stopping, 1)) {
		act_shutdown(ctx);
	}
}

static void boss_down(act_ctx *ctx, void *st, const void *m)
{
	struct boss *b = st;
	const act_down *d = m;
	uint64_t mid;

	if (!strcmp(d->actor, "victim")) {
		if (!strcmp(d->reason, "stopped")) {
			A->victim_stopped++;
			act_monitor(ctx, b->victim, &mid); /* gone: noproc */
		} else if (!strcmp(d->reason, "noproc")) {
			A->noproc++;
		} else {
			A->victim_other++;
		}
	} else if (!strcmp(d->actor, "quiet")) {
		A->quiet_downs++;
	} else if (!strcmp(d->actor, "doomed")) {
		if (!strcmp(d->reason, "crashed: signal 9"))
			A->doomed_crashed++;
		else
			A->doomed_other++;
	} else if (!strcmp(d->actor, "pxc") && !strcmp(d->reason, "stopped")) {
		A->pxc_stopped++;
	} else if (!strcmp(d->reason, "crashed: signal 9")) {
		A->temp_crashed++;
	} else {
		A->temp_other++;
	}
}

static const act_handler boss_h[] = {
	{ &act_start_type, boss_start }, { &act_timeout_type, boss_tick },
	{ &act_down_type, boss_down },
};
static const act_behaviour boss_b = {
	.name = "boss", .state_size = sizeof(struct boss), .handlers = boss_h, .n_handlers = 3,
};

/* ---- the third party (group c) ----------------------------------------------------- */

static void third_start(act_ctx *ctx, void *st, const void *m)
{
	if (!((const act_start *)m)->restart)
		act_timer_once(ctx, 1, 3);
}
static void third_tick(act_ctx *ctx, void *st, const void *m)
{
	if (race_gate(ctx, 3))
		race(ctx, "b");
}
static void third_ref(act_ctx *ctx, void *st, const void *m)
{
	const ref_msg *r = m;
	uint64_t mid;
	if (r->gen < 0) { /* watch it */
		if (act_monitor(ctx, (act_ref){ (uint32_t)r->id, 0, (uint32_t)-r->gen }, &mid))
			A->third_fail++;
		return;
	}
	if (act_send(ctx, (act_ref){ (uint32_t)r->id, 0, (uint32_t)r->gen }, &seq_type,
	             &(seq_msg){ 100 }))
		A->third_fail++;
}
static void third_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	if (!strcmp(d->actor, "victim") &&
	    (!strcmp(d->reason, "stopped") || !strcmp(d->reason, "noproc")))
		A->third_downs++;
	else
		A->victim_other++;
}
static const act_handler third_h[] = {
	{ &act_start_type, third_start }, { &ref_type, third_ref }, { &act_down_type, third_down },
	{ &act_timeout_type, third_tick },
};
static const act_behaviour third_b = { .name = "third", .handlers = third_h, .n_handlers = 4 };

/* ---- group b's static actor: kills its worker once -------------------------------- */

static void bomb_die(act_ctx *ctx, void *st, const void *m)
{
	if (!atomic_exchange(((const seq_msg *)m)->v ? &A->e_bombed : &A->bombed, 1))
		raise(SIGKILL);
}
static const act_handler bomb_h[] = { { &die_type, bomb_die } };
static const act_behaviour bomb_b = { .name = "bomb", .handlers = bomb_h, .n_handlers = 1 };

/* ---- group d: killed right after a cross-group spawn ------------------------------ */

static void sp2_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r;
	if (!((const act_start *)m)->restart) {
		A->orphan_spawned = act_spawn(ctx, "b", "idle", "orphan", NULL, &r) == 0;
		A->orphan_killed = 1;
		raise(SIGKILL);
	}
	A->orphan_found = act_lookup(ctx, "orphan", &r) == 0;
	A->orphan_eexist = act_spawn(ctx, "b", "idle", "orphan", NULL, &r) == -EEXIST;
}
static const act_handler sp2_h[] = { { &act_start_type, sp2_start } };
static const act_behaviour sp2_b = { .name = "sp2", .handlers = sp2_h, .n_handlers = 1 };

int main(void)
{
	tap_timeout(120);
	A = shared_area(sizeof *A);
	static _Atomic int *fired;
	fired = shared_area(sizeof *fired);
	harness_watchdog_fired = fired;
	harness_watchdog_ms = 60000;
	act_node_t *node = act_node_new("xgroup");
	act_node_add_group(node, "a");
	act_node_add_group(node, "b");
	act_node_add_group(node, "c");
	act_node_add_group(node, "d");
	act_node_add_actor(node, "a", "boss", &boss_b, NULL);
	act_node_add_actor(node, "a", "watchdog", &harness_watchdog_b, NULL);
	act_node_add_actor(node, "b", "bomb", &bomb_b, NULL);
	act_node_add_actor(node, "c", "third", &third_b, NULL);
	act_node_add_actor(node, "d", "sp2", &sp2_b, NULL);
	act_node_add_group(node, "e");
	act_node_add_actor(node, "e", "ebomb", &bomb_b, NULL);
	act_node_set_restart(node, "e", ACT_TEMPORARY);
	act_node_add_behaviour(node, &kid_b);
	act_node_add_behaviour(node, &idle_b);
	act_node_add_behaviour(node, &tkid_b);
	act_node_add_behaviour(node, &spx_b);
	for (const char *g = "abcde"; *g; g++) {
		char gn[2] = { *g, 0 };
		act_node_set_ring_bytes(node, gn, 1u << 20);
	}
	act_node_set_intensity(node, 10, 10000);
	harness_collect_counters();
	int rc = act_node_run(node);
	act_node_free(node);

	ok(rc == 0 && !*fired, "node stopped cleanly (rc %d, watchdog %d)", rc, *fired);
	ok(A->spawn_fail == 0 && A->third_fail == 0, "every spawn, send, stop and monitor "
	   "succeeded (%d, third %d)", A->spawn_fail, A->third_fail);
	int short3 = 0, third_short = 0;
	for (int i = 0; i < N_KIDS; i++) {
		short3 += A->seq[i] != 3;
		third_short += A->third[i] != 1;
	}
	ok(A->early == 0, "no envelope reached a spawned actor before its Start (%d)", A->early);
	ok(short3 == 0 && A->disorder == 0, "the spawner's envelopes all arrived, in order "
	   "(%d kids short, %d out of order)", short3, A->disorder);
	ok(third_short == 0, "a third group's envelope, sent on receipt of the ref, arrived (%d short)",
	   third_short);
	ok(A->lookup_ok && A->name_ok, "a pending actor is found by name and names its ref");
	ok(A->victim_stopped == 1 && A->victim_other == 0, "Down 'stopped' across groups exactly "
	   "once (%d, other %d)", A->victim_stopped, A->victim_other);
	ok(A->third_downs == 1, "a third group's monitor got exactly one Down (%d)", A->third_downs);
	ok(A->noproc == 1, "monitoring a gone actor in another group: Down 'noproc' (%d)", A->noproc);
	ok(A->quiet_downs == 0, "no Down after act_demonitor across groups (%d)", A->quiet_downs);
	ok(A->pxc_stopped == 1, "stopping a parent stopped its child in another group (%d)",
	   A->pxc_stopped);
	int won_once = 0;
	for (int i = 0; i < N_RACE; i++)
		won_once += A->wins[i] == 1;
	ok(won_once == N_RACE && A->eexist == N_RACE && A->race_other == 0,
	   "two groups racing for %d names: each created once (%d), the other -EEXIST (%d, "
	   "other errors %d; group a won %d)", N_RACE, won_once, A->eexist, A->race_other, A->wins_a);
	ok(A->bombed == 1, "the target group was killed with spawns queued for it");
	int perm_short = 0;
	for (int i = N_KIDS; i < N_KIDS + N_PERM; i++)
		perm_short += A->seq[i] != 2;
	ok(perm_short == 0, "every permanent actor spawned into it started after the crash and got "
	   "its envelopes (%d short)", perm_short);
	ok(A->temp_crashed == N_TEMP && A->temp_other == 0 && A->temp_pings == 0,
	   "every temporary one's monitor got Down 'crashed: signal 9' once (%d, other %d)",
	   A->temp_crashed, A->temp_other);
	ok(A->orphan_spawned && A->orphan_killed, "the spawning group was killed after its spawn");
	ok(A->orphan_found && A->orphan_eexist, "its record survived, once (found %d, -EEXIST %d)",
	   A->orphan_found, A->orphan_eexist);
	ok(A->e_bombed && A->doomed_crashed == 1 && A->doomed_other == 0,
	   "a temporary group killed for good: its spawned actor's monitor got Down 'crashed: "
	   "signal 9' once (%d, other %d)", A->doomed_crashed, A->doomed_other);
	return done_testing();
}
