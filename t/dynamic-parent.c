/* SPDX-License-Identifier: MIT */
/*
 * t/dynamic-parent.c - a stopped parent stops its children in other groups,
 * and theirs, depth first:
 *  - a parent that never crashed (spawned in group b, child in c,
 *    grandchild in d);
 *  - a spawned parent re-created after its worker was SIGKILLed, and a
 *    static parent re-created with its group: stopping either later still
 *    stops the children it had spawned into other groups before the crash
 *    (and their children);
 *  - a temporary spawned parent lost when its worker was SIGKILLed (not
 *    re-created): the restarted worker stops its children in other groups
 *    (and theirs), and its permanent child in its own group (re-created),
 *    with that one's own child;
 *  - every child gets Down "stopped" exactly once, nothing else.
 */
#include <signal.h>
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"

typedef struct { int32_t v; } up_msg;
ACT_MESSAGE_TYPE(up_type, up_msg, "Up", ACT_FIELD(up_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(die_type, up_msg, "Die", ACT_FIELD(up_msg, v, ACT_I32));

#define N_FAM 5 /* families of children watched: see fam_names() */

struct area {
	_Atomic int fail, bombed, ups, phase, ticks;
	_Atomic int stopped[N_FAM][2], other[N_FAM][2]; /* [family][child, grandchild] */
};
static struct area *A;

/* ---- behaviours ------------------------------------------------------------------ */

/* A grandchild: idle, in group d. */
static const act_behaviour grand_b = { .name = "grand", .restart = ACT_PERMANENT };

/* A child, in group c: spawns its own child in d on its first Start. */
static void kid_start(act_ctx *ctx, void *st, const void *m)
{
	const char *me = act_self_name(ctx);
	char name[40];
	act_ref r;

	if (((const act_start *)m)->restart)
		return;
	snprintf(name, sizeof name, "g-%s", me);
	if (act_spawn(ctx, "d", "grand", name, NULL, &r))
		A->fail++;
}
static const act_handler kid_h[] = { { &act_start_type, kid_start } };
static const act_behaviour kid_b = {
	.name = "kidc", .handlers = kid_h, .n_handlers = 1, .restart = ACT_PERMANENT,
};

/* A parent, in group b: spawns "c-<its name>" into c on its first Start,
 * and says Up to the boss on a restart. */
static void par_start(act_ctx *ctx, void *st, const void *m)
{
	const char *me = act_self_name(ctx);
	char name[40];
	act_ref r, boss;

	if (((const act_start *)m)->restart) {
		if (act_lookup(ctx, "boss", &boss) || act_send(ctx, boss, &up_type, &(up_msg){ 1 }))
			A->fail++;
		return;
	}
	snprintf(name, sizeof name, "c-%s", me);
	if (act_spawn(ctx, "c", "kidc", name, NULL, &r))
		A->fail++;
}
static const act_handler par_h[] = { { &act_start_type, par_start } };
static const act_behaviour par_b = {
	.name = "par", .handlers = par_h, .n_handlers = 1, .restart = ACT_PERMANENT,
};
/* par as a temporary actor (lost with its worker, not re-created) that
 * also spawns "l-<its name>" into its own group, with a child of its own. */
static void tpar_start(act_ctx *ctx, void *st, const void *m)
{
	char name[40];
	act_ref r;

	par_start(ctx, st, m);
	snprintf(name, sizeof name, "l-%s", act_self_name(ctx));
	if (act_spawn(ctx, NULL, "lkid", name, NULL, &r))
		A->fail++;
}
static const act_handler tpar_h[] = { { &act_start_type, tpar_start } };
static const act_behaviour tpar_b = {
	.name = "tpar", .handlers = tpar_h, .n_handlers = 1, .restart = ACT_TEMPORARY,
};

/* The local child of tp, in group b: spawns "ll-<its name>" there. */
static void lkid_start(act_ctx *ctx, void *st, const void *m)
{
	char name[40];
	act_ref r;

	if (((const act_start *)m)->restart)
		return;
	snprintf(name, sizeof name, "l%s", act_self_name(ctx));
	if (act_spawn(ctx, NULL, "grand", name, NULL, &r))
		A->fail++;
}
static const act_handler lkid_h[] = { { &act_start_type, lkid_start } };
static const act_behaviour lkid_b = {
	.name = "lkid", .handlers = lkid_h, .n_handlers = 1, .restart = ACT_PERMANENT,
};

/* Group b's static actor that kills its worker once. */
static void bomb_die(act_ctx *ctx, void *st, const void *m)
{
	if (!atomic_exchange(&A->bombed, 1))
		raise(SIGKILL);
}
static const act_handler bomb_h[] = { { &die_type, bomb_die } };
static const act_behaviour bomb_b = { .name = "bomb", .handlers = bomb_h, .n_handlers = 1 };

/* ---- the boss (group a) ------------------------------------------------------------ */

static const char *const families[N_FAM - 1] = { "p1", "sp", "p3", "tp" };

/* Family f's child and grandchild: c-P in c and g-c-P in d for parent P;
 * the last family is tp's local child l-tp and its child ll-tp, in b. */
static void fam_names(int f, char c[40], char g[48])
{
	if (f == N_FAM - 1) {
		snprintf(c, 40, "l-tp");
		snprintf(g, 48, "ll-tp");
		return;
	}
	snprintf(c, 40, "c-%s", families[f]);
	snprintf(g, 48, "g-%s", c);
}

/* Watches c-<f> and g-c-<f>; true once both exist. */
static bool watch_family(act_ctx *ctx, int f)
{
	char c[40], g[48];
	act_ref rc, rg;
	uint64_t mid;

	fam_names(f, c, g);
	if (act_lookup(ctx, c, &rc) || act_lookup(ctx, g, &rg))
		return false;
	if (act_monitor(ctx, rc, &mid) || act_monitor(ctx, rg, &mid))
		A->fail++;
	return true;
}

static void stop_by_name(act_ctx *ctx, const char *name)
{
	act_ref r;
	if (act_lookup(ctx, name, &r) || act_stop(ctx, r))
		A->fail++;
}

static void boss_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r;
	if (act_spawn(ctx, "b", "par", "p1", NULL, &r) || act_spawn(ctx, "b", "par", "p3", NULL, &r) ||
	    act_spawn(ctx, "b", "tpar", "tp", NULL, &r))
		A->fail++;
	act_timer_periodic(ctx, 2, 1);
}

static bool all_stopped(void)
{
	for (int f = 0; f < N_FAM; f++)
		for (int k = 0; k < 2; k++)
			if (!A->stopped[f][k])
				return false;
	return true;
}

static void boss_tick(act_ctx *ctx, void *st, const void *m)
{
	act_ref bomb;

	A->ticks++;
	if (A->phase == 0) {
		/* every family complete: watch them all, stop p3 (never
		 * crashed), kill group b */
		for (int f = 0; f < N_FAM; f++) {
			char c[40], g[48];
			act_ref r;
			fam_names(f, c, g);
			if (act_lookup(ctx, c, &r) || act_lookup(ctx, g, &r))
				return;
		}
		for (int f = 0; f < N_FAM; f++)
			watch_family(ctx, f);
		A->phase = 1;
		stop_by_name(ctx, "p3");
		if (act_lookup(ctx, "bomb", &bomb) || act_send(ctx, bomb, &die_type, &(up_msg){ 0 }))
			A->fail++;
	} else if (A->phase == 2 || (A->phase == 3 && all_stopped())) {
		if (A->phase == 2) {
			/* both parents are back: stop them */
			A->phase = 3;
			stop_by_name(ctx, "p1");
			stop_by_name(ctx, "sp");
		} else {
			A->phase = 4;
			/* a moment for any extra Down to show */
			act_timer_once(ctx, 50, 9);
		}
	}
}

static void boss_timeout(act_ctx *ctx, void *st, const void *m)
{
	if (((const act_timeout *)m)->id == 9)
		act_shutdown(ctx);
	else
		boss_tick(ctx, st, m);
}

static void boss_up(act_ctx *ctx, void *st, const void *m)
{
	/* p1's Start (restart) and sp's */
	if (++A->ups == 2 && A->phase == 1)
		A->phase = 2;
}

static void boss_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	for (int f = 0; f < N_FAM; f++) {
		char c[40], g[48];
		fam_names(f, c, g);
		int k = !strcmp(d->actor, c) ? 0 : !strcmp(d->actor, g) ? 1 : -1;
		if (k < 0)
			continue;
		if (!strcmp(d->reason, "stopped"))
			A->stopped[f][k]++;
		else
			A->other[f][k]++;
		return;
	}
	A->fail++;
}

static const act_handler boss_h[] = {
	{ &act_start_type, boss_start }, { &act_timeout_type, boss_timeout },
	{ &act_down_type, boss_down }, { &up_type, boss_up },
};
static const act_behaviour boss_b = { .name = "boss", .handlers = boss_h, .n_handlers = 4 };

/* The static parent "sp" of group b: par's handlers, as a declared actor. */

int main(void)
{
	tap_timeout(90);
	A = shared_area(sizeof *A);
	static _Atomic int *fired;
	fired = shared_area(sizeof *fired);
	harness_watchdog_fired = fired;
	harness_watchdog_ms = 20000;
	act_node_t *node = act_node_new("xparent");
	act_node_add_group(node, "a");
	act_node_add_group(node, "b");
	act_node_add_group(node, "c");
	act_node_add_group(node, "d");
	act_node_add_actor(node, "a", "boss", &boss_b, NULL);
	act_node_add_actor(node, "a", "watchdog", &harness_watchdog_b, NULL);
	act_node_add_actor(node, "b", "bomb", &bomb_b, NULL);
	act_node_add_actor(node, "b", "sp", &par_b, NULL);
	act_node_add_behaviour(node, &par_b);
	act_node_add_behaviour(node, &tpar_b);
	act_node_add_behaviour(node, &lkid_b);
	act_node_add_behaviour(node, &kid_b);
	act_node_add_behaviour(node, &grand_b);
	act_node_set_intensity(node, 10, 10000);
	int rc = act_node_run(node);
	act_node_free(node);

	ok(rc == 0 && !*fired, "node stopped cleanly (rc %d, watchdog %d, phase %d)", rc, *fired,
	   A->phase);
	ok(A->fail == 0, "every spawn, lookup, monitor and stop succeeded (%d failures)", A->fail);
	ok(A->bombed == 1 && A->ups == 2, "group b was killed and both parents came back (%d ups)",
	   A->ups);
	ok(A->stopped[2][0] == 1 && A->stopped[2][1] == 1,
	   "a parent that never crashed: its child and grandchild in other groups stopped "
	   "(%d, %d)", A->stopped[2][0], A->stopped[2][1]);
	ok(A->stopped[0][0] == 1 && A->stopped[0][1] == 1,
	   "a spawned parent re-created after a crash: its child and grandchild in other "
	   "groups stopped with it (%d, %d)", A->stopped[0][0], A->stopped[0][1]);
	ok(A->stopped[1][0] == 1 && A->stopped[1][1] == 1,
	   "a static parent re-created with its group: its child and grandchild stopped with "
	   "it (%d, %d)", A->stopped[1][0], A->stopped[1][1]);
	ok(A->stopped[3][0] == 1 && A->stopped[3][1] == 1,
	   "a temporary parent lost with its worker: its child and grandchild in other groups "
	   "stopped (%d, %d)", A->stopped[3][0], A->stopped[3][1]);
	ok(A->stopped[4][0] == 1 && A->stopped[4][1] == 1,
	   "the lost temporary parent's child in its own group, re-created, stopped with its "
	   "own child (%d, %d)", A->stopped[4][0], A->stopped[4][1]);
	int other = 0;
	for (int f = 0; f < N_FAM; f++)
		other += A->other[f][0] + A->other[f][1];
	ok(other == 0, "no other Down (%d)", other);
	return done_testing();
}
