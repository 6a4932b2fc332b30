/* SPDX-License-Identifier: MIT */
/*
 * t/supervise-policy.c - the restart policy engine (supervisor/restart.c)
 * on its own, driven by synthetic times: no processes, no clocks, no sleeps.
 *
 * Covers every strategy x restart type x exit kind (signal, exit 0, exit
 * 100, exit 111), temporary groups taken down by a sibling's death, the
 * restart intensity window at its boundaries (and past the 64 kept
 * times), the backoff sequence and its reset after a healthy run, the
 * order of plan.stop and plan.start, manual restarts and bad input.
 */
#include "config.h"

#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include <actors.h>

#include "restart.h"
#include "tap.h"

#define MS(x) ((uint64_t)(x) * 1000000u)
#define T0 MS(1000)   /* an arbitrary non-zero start of synthetic time */

/* One ok() may carry several checks: each failed one is named in a diag. */
static int errs;
#define EXPECT(c) do { \
	if (!(c)) { diag("  failed: %s (line %d)", #c, __LINE__); errs++; } \
} while (0)

static const char *const strat_name[] = { "one_for_one", "one_for_all", "rest_for_one" };
static const char *const type_name[] = { "permanent", "transient", "temporary" };

enum exit_kind { EK_SIGNAL, EK_EXIT0, EK_EXIT100, EK_EXIT111, EK_N };
static const char *const exit_name[] = { "SIGSEGV", "exit 0", "exit 100", "exit 111" };

static const act_restart_type all_perm[ACT__SUP_MAX_GROUPS]; /* zero = permanent */

/* A policy with no backoff surprises unless a test asks: generous intensity. */
static struct act__policy policy(act_strategy st, uint32_t max_restarts, uint32_t period_ms)
{
	struct act__policy p;

	act__policy_default(&p);
	p.strategy = st;
	p.max_restarts = max_restarts;
	p.period_ms = period_ms;
	return p;
}

/* Initialises s and starts every group at now. */
static void setup(struct act__sup *s, const struct act__policy *p, uint32_t n,
                  const act_restart_type *types, uint64_t now)
{
	act__sup_init(s, p, n, types);
	for (uint32_t i = 0; i < n; i++)
		act__sup_started(s, i, now);
}

/* Starts what the plan says to start, at now. */
static void carry_out(struct act__sup *s, const struct act__sup_plan *pl, uint64_t now)
{
	for (uint32_t k = 0; k < pl->n_start; k++)
		act__sup_started(s, pl->start[k], now);
}

static void exit_with(struct act__sup *s, uint32_t i, enum exit_kind ek, uint64_t now,
                      struct act__sup_plan *pl)
{
	switch (ek) {
	case EK_SIGNAL: act__sup_exited(s, i, -1, SIGSEGV, now, pl); break;
	case EK_EXIT0: act__sup_exited(s, i, ACT_EXIT_OK, 0, now, pl); break;
	case EK_EXIT100: act__sup_exited(s, i, ACT_EXIT_PERMANENT, 0, now, pl); break;
	case EK_EXIT111: act__sup_exited(s, i, ACT_EXIT_TEMPORARY, 0, now, pl); break;
	default: break;
	}
}

static void crash(struct act__sup *s, uint32_t i, uint64_t now, struct act__sup_plan *pl)
{
	act__sup_exited(s, i, -1, SIGSEGV, now, pl);
}

/* Compares a plan list with the expected one, saying what differs. */
static void expect_list(const char *what, const uint32_t *got, uint32_t n_got,
                        const uint32_t *want, uint32_t n_want)
{
	bool same = n_got == n_want;

	for (uint32_t k = 0; same && k < n_got; k++)
		same = got[k] == want[k];
	if (!same) {
		char g[512] = "", w[512] = "";
		size_t gl = 0, wl = 0;
		for (uint32_t k = 0; k < n_got && gl < sizeof g - 16; k++)
			gl += (size_t)snprintf(g + gl, sizeof g - gl, " %u", got[k]);
		for (uint32_t k = 0; k < n_want && wl < sizeof w - 16; k++)
			wl += (size_t)snprintf(w + wl, sizeof w - wl, " %u", want[k]);
		diag("  %s: got [%s ] want [%s ]", what, g, w);
		errs++;
	}
}
#define L(...) (const uint32_t[]){ __VA_ARGS__ }, \
	(uint32_t)(sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t))
#define NOLIST NULL, 0u
#define EXPECT_STOP(pl, ...) expect_list("stop", (pl)->stop, (pl)->n_stop, __VA_ARGS__)
#define EXPECT_START(pl, ...) expect_list("start", (pl)->start, (pl)->n_start, __VA_ARGS__)

/*
 * The matrix.  Five groups {permanent, X, temporary, transient, permanent};
 * group 1 (of type X) dies.  The temporary group 2 must never come back,
 * the transient group 3 (running, not done) must come back with its
 * siblings.
 */
static void matrix_case(act_strategy st, act_restart_type t, enum exit_kind ek)
{
	const act_restart_type types[5] = {
		ACT_PERMANENT, t, ACT_TEMPORARY, ACT_TRANSIENT, ACT_PERMANENT
	};
	struct act__policy p = policy(st, 10, 5000);
	struct act__sup s;
	struct act__sup_plan pl;
	bool abnormal = ek == EK_SIGNAL || ek == EK_EXIT111;
	bool restarts = ek != EK_EXIT100 &&
	                (t == ACT_PERMANENT || (t == ACT_TRANSIENT && abnormal));

	errs = 0;
	setup(&s, &p, 5, types, T0);
	memset(&pl, 0xa5, sizeof pl); /* the engine must fill every field */
	exit_with(&s, 1, ek, T0 + MS(20000), &pl);
	EXPECT(pl.why != NULL);
	EXPECT(!s.g[1].running);

	if (ek == EK_EXIT100) {
		EXPECT(pl.action == ACT__SUP_NONE);
		EXPECT(pl.permanent_failure);
		EXPECT(s.g[1].failed);
		EXPECT(pl.n_stop == 0 && pl.n_start == 0);
		EXPECT(s.n_restart_times == 0); /* no intensity charge */
		for (uint32_t j = 0; j < 5; j++)
			if (j != 1)
				EXPECT(s.g[j].running);
	} else if (!restarts) {
		EXPECT(pl.action == ACT__SUP_NONE);
		EXPECT(!pl.permanent_failure);
		EXPECT(s.g[1].done && !s.g[1].failed);
		EXPECT(pl.n_stop == 0 && pl.n_start == 0);
		EXPECT(s.n_restart_times == 0);
		for (uint32_t j = 0; j < 5; j++)
			if (j != 1)
				EXPECT(s.g[j].running);
	} else {
		EXPECT(pl.action == ACT__SUP_RESTART);
		EXPECT(!pl.permanent_failure);
		EXPECT(pl.delay_ms == 0);     /* first restart: immediate */
		EXPECT(s.n_restart_times == 1);
		EXPECT(pl.why && strstr(pl.why, strat_name[st]));
		switch (st) {
		case ACT_ONE_FOR_ONE:
			EXPECT_STOP(&pl, NOLIST);
			EXPECT_START(&pl, L(1));
			EXPECT(s.g[0].running && s.g[2].running && s.g[3].running && s.g[4].running);
			break;
		case ACT_ONE_FOR_ALL:
			EXPECT_STOP(&pl, L(4, 3, 2, 0));
			EXPECT_START(&pl, L(0, 1, 3, 4));
			EXPECT(!s.g[0].running && !s.g[3].running && !s.g[4].running);
			EXPECT(!s.g[2].running && s.g[2].done);
			break;
		case ACT_REST_FOR_ONE:
			EXPECT_STOP(&pl, L(4, 3, 2));
			EXPECT_START(&pl, L(1, 3, 4));
			EXPECT(s.g[0].running);
			EXPECT(!s.g[2].running && s.g[2].done);
			break;
		}
		/* Once carried out, everything but the temporary group runs. */
		carry_out(&s, &pl, T0 + MS(20001));
		for (uint32_t j = 0; j < 5; j++)
			EXPECT(s.g[j].running == (j != 2 || st == ACT_ONE_FOR_ONE));
	}
	ok(errs == 0, "%s, %s group, %s: %s", strat_name[st], type_name[t], exit_name[ek],
	   ek == EK_EXIT100 ? "failed, nothing else touched" :
	   restarts ? "restarted per strategy" : "not restarted, done");
}

static void test_matrix(void)
{
	for (int st = ACT_ONE_FOR_ONE; st <= ACT_REST_FOR_ONE; st++)
		for (int t = ACT_PERMANENT; t <= ACT_TEMPORARY; t++)
			for (int ek = 0; ek < EK_N; ek++)
				matrix_case((act_strategy)st, (act_restart_type)t,
				            (enum exit_kind)ek);
}

/* Other exits: any non-zero code is abnormal; a signal wins over the code. */
static void test_exit_kinds(void)
{
	const act_restart_type tr[1] = { ACT_TRANSIENT };
	struct act__policy p = policy(ACT_ONE_FOR_ONE, 100, 5000);
	struct act__sup s;
	struct act__sup_plan pl;

	setup(&s, &p, 1, tr, T0);
	act__sup_exited(&s, 0, 1, 0, T0 + MS(1), &pl);
	ok(pl.action == ACT__SUP_RESTART, "transient, exit 1: restarted");
	carry_out(&s, &pl, T0 + MS(2));
	act__sup_exited(&s, 0, -3, 0, T0 + MS(3), &pl);
	ok(pl.action == ACT__SUP_RESTART, "transient, nonsense exit -3 and no signal: abnormal");
	carry_out(&s, &pl, T0 + MS(4));
	act__sup_exited(&s, 0, ACT_EXIT_OK, SIGKILL, T0 + MS(5), &pl);
	ok(pl.action == ACT__SUP_RESTART, "transient, SIGKILL with exit_code 0: the signal wins");
	carry_out(&s, &pl, T0 + MS(6));
	act__sup_exited(&s, 0, ACT_EXIT_PERMANENT, SIGTERM, T0 + MS(7), &pl);
	ok(pl.action == ACT__SUP_RESTART && !pl.permanent_failure && !s.g[0].failed,
	   "SIGTERM with exit_code 100: a crash, not a permanent error");
}

/* A temporary group never comes back on its own, through any number of
 * sibling deaths; only the operator brings it back. */
static void test_temporary_sibling(void)
{
	const act_restart_type types[3] = {
		ACT_PERMANENT, ACT_TEMPORARY, ACT_PERMANENT
	};
	struct act__policy p = policy(ACT_ONE_FOR_ALL, 100, 5000);
	struct act__sup s;
	struct act__sup_plan pl;

	errs = 0;
	setup(&s, &p, 3, types, T0);
	crash(&s, 2, T0 + MS(1), &pl);
	EXPECT_STOP(&pl, L(1, 0));
	EXPECT_START(&pl, L(0, 2));
	carry_out(&s, &pl, T0 + MS(2));
	EXPECT(!s.g[1].running && s.g[1].done);
	crash(&s, 0, T0 + MS(3), &pl);
	EXPECT_STOP(&pl, L(2));   /* the temporary group is no longer running */
	EXPECT_START(&pl, L(0, 2));
	ok(errs == 0, "one_for_all: temporary sibling stopped, done, left out of later restarts");

	act__sup_exited(&s, 1, -1, SIGSEGV, T0 + MS(4), &pl);
	ok(pl.action == ACT__SUP_NONE, "a report of the stopped temporary group dying is ignored");

	/* rest_for_one: the temporary group before the dead one keeps running. */
	p = policy(ACT_REST_FOR_ONE, 100, 5000);
	errs = 0;
	setup(&s, &p, 3, types, T0);
	crash(&s, 2, T0 + MS(1), &pl);
	EXPECT_STOP(&pl, NOLIST);
	EXPECT_START(&pl, L(2));
	EXPECT(s.g[1].running && !s.g[1].done);
	crash(&s, 0, T0 + MS(2), &pl);
	EXPECT_STOP(&pl, L(1)); /* 2 is still waiting to be started */
	EXPECT_START(&pl, L(0, 2));
	EXPECT(s.g[1].done);
	ok(errs == 0, "rest_for_one: only the temporary group after the dead one is taken down");

	/* A temporary group's own crash stops nobody, even under one_for_all. */
	p = policy(ACT_ONE_FOR_ALL, 0, 5000);
	errs = 0;
	setup(&s, &p, 3, types, T0);
	crash(&s, 1, T0 + MS(1), &pl);
	EXPECT(pl.action == ACT__SUP_NONE && pl.n_stop == 0);
	EXPECT(s.g[0].running && s.g[2].running && s.g[1].done);
	ok(errs == 0, "one_for_all: a temporary group's crash touches no sibling, charges nothing");

	/* A temporary group not started yet is not the engine's to start:
	 * a sibling's restart neither starts it nor marks it done. */
	p = policy(ACT_ONE_FOR_ALL, 100, 5000);
	errs = 0;
	act__sup_init(&s, &p, 3, types);
	act__sup_started(&s, 0, T0);
	act__sup_started(&s, 2, T0);
	crash(&s, 0, T0 + MS(1), &pl);
	EXPECT_STOP(&pl, L(2));
	EXPECT_START(&pl, L(0, 2));
	EXPECT(!s.g[1].running && !s.g[1].done);
	ok(errs == 0, "one_for_all: a temporary group never started is left out, not marked done");
}

/* max_restarts = 1 in 5000 ms, at and around the boundary. */
static void test_intensity_boundary(void)
{
	struct act__policy p = policy(ACT_ONE_FOR_ONE, 1, 5000);
	struct act__sup s;
	struct act__sup_plan pl;
	uint64_t t1 = T0 + MS(100);

	setup(&s, &p, 2, all_perm, T0);
	crash(&s, 0, t1, &pl);
	ok(pl.action == ACT__SUP_RESTART, "intensity 1/5s: first crash restarts");
	carry_out(&s, &pl, t1);
	crash(&s, 0, t1 + MS(4999), &pl);
	ok(pl.action == ACT__SUP_GIVE_UP, "intensity 1/5s: second crash 4999 ms later gives up");
	errs = 0;
	EXPECT(pl.n_start == 0);
	EXPECT_STOP(&pl, L(1));
	EXPECT(!s.g[1].running);
	EXPECT(pl.why && strstr(pl.why, "intensity"));
	ok(errs == 0, "give up: every other running group in plan.stop, nothing to start");

	setup(&s, &p, 2, all_perm, T0);
	crash(&s, 0, t1, &pl);
	carry_out(&s, &pl, t1);
	crash(&s, 0, t1 + MS(5000), &pl);
	ok(pl.action == ACT__SUP_GIVE_UP, "intensity 1/5s: exactly 5000 ms later still in window");

	setup(&s, &p, 2, all_perm, T0);
	crash(&s, 0, t1, &pl);
	carry_out(&s, &pl, t1);
	crash(&s, 0, t1 + MS(5001), &pl);
	ok(pl.action == ACT__SUP_RESTART, "intensity 1/5s: second crash 5001 ms later restarts");
	carry_out(&s, &pl, t1 + MS(5001));
	crash(&s, 1, t1 + MS(6000), &pl);
	ok(pl.action == ACT__SUP_GIVE_UP, "intensity is per supervisor: another group's crash counts");

	/* A sliding window: events age out one by one. */
	p = policy(ACT_ONE_FOR_ONE, 2, 1000);
	setup(&s, &p, 1, all_perm, 0);
	errs = 0;
	crash(&s, 0, MS(0) + 1, &pl);    EXPECT(pl.action == ACT__SUP_RESTART); carry_out(&s, &pl, MS(0) + 1);
	crash(&s, 0, MS(600), &pl);      EXPECT(pl.action == ACT__SUP_RESTART); carry_out(&s, &pl, MS(600));
	crash(&s, 0, MS(1200), &pl);     EXPECT(pl.action == ACT__SUP_RESTART); carry_out(&s, &pl, MS(1200));
	crash(&s, 0, MS(1500), &pl);     EXPECT(pl.action == ACT__SUP_GIVE_UP);
	ok(errs == 0, "intensity 2/1s, crashes at 0, 600, 1200 ms restart; at 1500 ms gives up");

	/* One event however many groups it restarts. */
	p = policy(ACT_ONE_FOR_ALL, 2, 5000);
	setup(&s, &p, 3, all_perm, T0);
	errs = 0;
	crash(&s, 0, T0 + MS(1), &pl);
	EXPECT(pl.action == ACT__SUP_RESTART && pl.n_start == 3);
	carry_out(&s, &pl, T0 + MS(1));
	crash(&s, 1, T0 + MS(2), &pl);
	EXPECT(pl.action == ACT__SUP_RESTART && pl.n_start == 3);
	carry_out(&s, &pl, T0 + MS(2));
	crash(&s, 2, T0 + MS(3), &pl);
	EXPECT(pl.action == ACT__SUP_GIVE_UP);
	ok(errs == 0, "one_for_all restarting 3 groups is charged once (2/5s: third event gives up)");
}

static void test_intensity_zero(void)
{
	const act_restart_type types[3] = {
		ACT_PERMANENT, ACT_TRANSIENT, ACT_TEMPORARY
	};
	struct act__policy p = policy(ACT_ONE_FOR_ONE, 0, 5000);
	struct act__sup s;
	struct act__sup_plan pl;

	setup(&s, &p, 3, types, T0);
	act__sup_exited(&s, 2, -1, SIGSEGV, T0 + MS(1), &pl);
	ok(pl.action == ACT__SUP_NONE, "max_restarts 0: temporary crash is no restart event");
	act__sup_exited(&s, 1, ACT_EXIT_OK, 0, T0 + MS(2), &pl);
	ok(pl.action == ACT__SUP_NONE, "max_restarts 0: transient clean exit is no restart event");
	act__sup_exited(&s, 0, ACT_EXIT_PERMANENT, 0, T0 + MS(3), &pl);
	ok(pl.action == ACT__SUP_NONE && pl.permanent_failure,
	   "max_restarts 0: exit 100 is a permanent failure, not a give-up");
	act__sup_manual_restart(&s, 0, &pl);
	ok(pl.action == ACT__SUP_RESTART, "max_restarts 0: the operator can still restart");
	carry_out(&s, &pl, T0 + MS(4));
	act__sup_exited(&s, 0, ACT_EXIT_OK, 0, T0 + MS(10 * 60 * 1000), &pl);
	ok(pl.action == ACT__SUP_GIVE_UP, "max_restarts 0: permanent group's exit 0 gives up");

	setup(&s, &p, 3, types, T0);
	act__sup_exited(&s, 1, ACT_EXIT_TEMPORARY, 0, T0 + MS(1), &pl);
	ok(pl.action == ACT__SUP_GIVE_UP, "max_restarts 0: transient exit 111 gives up");
}

/* Only ACT__SUP_RESTART_WINDOW restart times are kept: up to that the
 * limit is exact, above it behaves as the window. */
static void test_intensity_cap(void)
{
	static const uint32_t limits[] = { 63, 64, 65, 1000, 1024, 1025, UINT32_MAX };

	for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++) {
		uint32_t eff = limits[k] < ACT__SUP_RESTART_WINDOW ? limits[k] : ACT__SUP_RESTART_WINDOW;
		struct act__policy p = policy(ACT_ONE_FOR_ONE, limits[k], 60000);
		struct act__sup s;
		struct act__sup_plan pl;
		uint32_t n_ok = 0;

		setup(&s, &p, 1, all_perm, T0);
		for (uint32_t e = 1; e <= 2000; e++) {
			uint64_t now = T0 + MS(e);
			crash(&s, 0, now, &pl);
			if (pl.action != ACT__SUP_RESTART)
				break;
			n_ok++;
			carry_out(&s, &pl, now);
		}
		ok(n_ok == eff && pl.action == ACT__SUP_GIVE_UP &&
		   s.n_restart_times <= ACT__SUP_RESTART_WINDOW,
		   "max_restarts %u: %u restarts, then give up (got %u)", limits[k], eff, n_ok);
	}

	/* With the 64 kept times all old, the window empties again. */
	struct act__policy p = policy(ACT_ONE_FOR_ONE, 1000, 1000);
	struct act__sup s;
	struct act__sup_plan pl;
	bool all = true;
	setup(&s, &p, 1, all_perm, T0);
	for (uint32_t e = 1; e <= 64; e++) {
		crash(&s, 0, T0 + MS(e), &pl);
		all = all && pl.action == ACT__SUP_RESTART;
		carry_out(&s, &pl, T0 + MS(e));
	}
	crash(&s, 0, T0 + MS(2000), &pl);
	ok(all && pl.action == ACT__SUP_RESTART && s.n_restart_times == 1,
	   "64 restarts, then one after the period: allowed, old times dropped");
}

/* Delays of successive quick crashes of one group. */
static void test_backoff(void)
{
	static const uint64_t want[] = { 0, 10, 20, 40, 80, 100, 100, 100 };
	struct act__policy p = policy(ACT_ONE_FOR_ONE, 1000, 1);
	struct act__sup s;
	struct act__sup_plan pl;
	uint64_t now = T0;
	char got[256] = "";
	size_t gl = 0;

	p.backoff_initial_ms = 10;
	p.backoff_factor = 2.0;
	p.backoff_max_ms = 100;
	p.backoff_reset_ms = 10000;
	setup(&s, &p, 2, all_perm, now);
	errs = 0;
	for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
		now += MS(50);
		crash(&s, 0, now, &pl);
		EXPECT(pl.action == ACT__SUP_RESTART);
		gl += (size_t)snprintf(got + gl, sizeof got - gl, " %llu", (unsigned long long)pl.delay_ms);
		if (pl.delay_ms != want[k])
			errs++;
		now += MS(pl.delay_ms);
		carry_out(&s, &pl, now);
	}
	if (errs)
		diag("  delays:%s", got);
	ok(errs == 0, "backoff 10 ms x2 cap 100: 0 10 20 40 80 100 100 100");

	/* A run just short of backoff_reset_ms does not reset... */
	now += MS(9999);
	crash(&s, 0, now, &pl);
	ok(pl.delay_ms == 100, "run of 9999 ms (< reset 10000): still backing off (%llu)",
	   (unsigned long long)pl.delay_ms);
	carry_out(&s, &pl, now);
	/* ...one of exactly backoff_reset_ms does. */
	now += MS(10000);
	crash(&s, 0, now, &pl);
	ok(pl.delay_ms == 0, "run of 10000 ms: healthy, restart is immediate again");
	carry_out(&s, &pl, now);
	now += MS(1);
	crash(&s, 0, now, &pl);
	ok(pl.delay_ms == 10, "then quick crash: initial delay again (%llu)",
	   (unsigned long long)pl.delay_ms);
	carry_out(&s, &pl, now);

	/* Backoff is per group. */
	now += MS(1);
	crash(&s, 1, now, &pl);
	ok(pl.delay_ms == 0, "another group's first crash: immediate");
	carry_out(&s, &pl, now);
	now += MS(1);
	crash(&s, 0, now, &pl);
	ok(pl.delay_ms == 20, "the first group keeps its own sequence (%llu)",
	   (unsigned long long)pl.delay_ms);

	/* initial above max: capped; initial 0: no backoff at all. */
	p.backoff_initial_ms = 500;
	p.backoff_max_ms = 300;
	setup(&s, &p, 1, all_perm, T0);
	errs = 0;
	now = T0;
	for (int k = 0; k < 4; k++) {
		now += MS(1);
		crash(&s, 0, now, &pl);
		EXPECT(pl.delay_ms == (k == 0 ? 0u : 300u));
		carry_out(&s, &pl, now);
	}
	ok(errs == 0, "initial 500 > max 300: 0 300 300 300");
	p.backoff_initial_ms = 0;
	setup(&s, &p, 1, all_perm, T0);
	errs = 0;
	for (int k = 0; k < 4; k++) {
		crash(&s, 0, T0 + MS(k + 1), &pl);
		EXPECT(pl.delay_ms == 0);
		carry_out(&s, &pl, T0 + MS(k + 1));
	}
	ok(errs == 0, "initial 0: never a delay");

	/* factor 1.5 grows, never passes the cap; a NaN factor is made 1.0. */
	p = policy(ACT_ONE_FOR_ONE, 1000, 1);
	p.backoff_initial_ms = 10;
	p.backoff_factor = 1.5;
	p.backoff_max_ms = 1000;
	setup(&s, &p, 1, all_perm, T0);
	errs = 0;
	uint64_t prev = 0;
	for (int k = 0; k < 30; k++) {
		crash(&s, 0, T0 + MS(k + 1), &pl);
		EXPECT(pl.delay_ms >= prev && pl.delay_ms <= 1000);
		prev = pl.delay_ms;
		carry_out(&s, &pl, T0 + MS(k + 1));
	}
	EXPECT(prev == 1000);
	ok(errs == 0, "factor 1.5: non-decreasing, reaches and stays at the cap");
	p.backoff_factor = NAN;
	setup(&s, &p, 1, all_perm, T0);
	errs = 0;
	for (int k = 0; k < 4; k++) {
		crash(&s, 0, T0 + MS(k + 1), &pl);
		EXPECT(pl.delay_ms == (k == 0 ? 0u : 10u));
		carry_out(&s, &pl, T0 + MS(k + 1));
	}
	ok(errs == 0 && s.pol.backoff_factor == 1.0, "NaN factor: treated as 1.0 (0 10 10 10)");

	/* Exit 111 and a permanent group's exit 0 back off like a crash. */
	p = policy(ACT_ONE_FOR_ONE, 1000, 1);
	setup(&s, &p, 1, all_perm, T0);
	errs = 0;
	act__sup_exited(&s, 0, ACT_EXIT_TEMPORARY, 0, T0 + MS(1), &pl);
	EXPECT(pl.delay_ms == 0);
	carry_out(&s, &pl, T0 + MS(1));
	act__sup_exited(&s, 0, ACT_EXIT_TEMPORARY, 0, T0 + MS(2), &pl);
	EXPECT(pl.delay_ms == 10);
	carry_out(&s, &pl, T0 + MS(12));
	act__sup_exited(&s, 0, ACT_EXIT_OK, 0, T0 + MS(13), &pl);
	EXPECT(pl.action == ACT__SUP_RESTART && pl.delay_ms == 20);
	ok(errs == 0, "exit 111 and permanent exit 0 use the same backoff (0 10 20)");

	/* Groups taken down by a sibling add no delay of their own and keep
	 * their backoff; a healthy run of a stopped sibling resets its. */
	p = policy(ACT_ONE_FOR_ALL, 1000, 1);
	setup(&s, &p, 3, all_perm, T0);
	errs = 0;
	now = T0;
	for (int k = 0; k < 3; k++) { /* group 0: 0, 10, 20 */
		now += MS(1);
		crash(&s, 0, now, &pl);
		carry_out(&s, &pl, now);
	}
	EXPECT(pl.delay_ms == 20);
	now += MS(1);
	crash(&s, 2, now, &pl);
	EXPECT(pl.delay_ms == 0);           /* group 2's first; group 0 adds nothing */
	EXPECT_START(&pl, L(0, 1, 2));
	carry_out(&s, &pl, now);
	now += MS(1);
	crash(&s, 0, now, &pl);
	EXPECT(pl.delay_ms == 40);          /* group 0 did not get healthier */
	carry_out(&s, &pl, now);
	now += MS(20000);                   /* everyone runs long and healthy */
	crash(&s, 2, now, &pl);
	EXPECT(pl.delay_ms == 0);          /* group 2 healthy: immediate */
	carry_out(&s, &pl, now);
	now += MS(1);
	crash(&s, 0, now, &pl);
	EXPECT(pl.delay_ms == 0);           /* group 0's run before the stop was healthy */
	ok(errs == 0, "one_for_all: delay is the dead group's; siblings keep or reset their own");
}

static void test_order(void)
{
	const act_restart_type types[8] = {
		ACT_PERMANENT, ACT_TRANSIENT, ACT_PERMANENT, ACT_PERMANENT,
		ACT_TRANSIENT, ACT_PERMANENT, ACT_PERMANENT, ACT_TRANSIENT,
	};
	struct act__policy p = policy(ACT_ONE_FOR_ALL, 100, 5000);
	struct act__sup s;
	struct act__sup_plan pl;

	errs = 0;
	setup(&s, &p, 8, types, T0);
	crash(&s, 3, T0 + MS(1), &pl);
	EXPECT_STOP(&pl, L(7, 6, 5, 4, 2, 1, 0));
	EXPECT_START(&pl, L(0, 1, 2, 3, 4, 5, 6, 7));
	ok(errs == 0, "one_for_all of 8: stop 7..0 without the dead one, start 0..7");

	/* Groups that are failed or done are neither stopped nor started. */
	carry_out(&s, &pl, T0 + MS(1));
	act__sup_exited(&s, 5, ACT_EXIT_PERMANENT, 0, T0 + MS(2), &pl);
	act__sup_exited(&s, 4, ACT_EXIT_OK, 0, T0 + MS(3), &pl); /* transient: done */
	errs = 0;
	EXPECT(s.g[5].failed && s.g[4].done);
	crash(&s, 6, T0 + MS(4), &pl);
	EXPECT_STOP(&pl, L(7, 3, 2, 1, 0));
	EXPECT_START(&pl, L(0, 1, 2, 3, 6, 7));
	ok(errs == 0, "one_for_all: failed and done groups left out of stop and start");

	p = policy(ACT_REST_FOR_ONE, 100, 5000);
	errs = 0;
	setup(&s, &p, 8, types, T0);
	crash(&s, 2, T0 + MS(1), &pl);
	EXPECT_STOP(&pl, L(7, 6, 5, 4, 3));
	EXPECT_START(&pl, L(2, 3, 4, 5, 6, 7));
	EXPECT(s.g[0].running && s.g[1].running);
	ok(errs == 0, "rest_for_one of 8, group 2 dies: stop 7..3, start 2..7");

	errs = 0;
	setup(&s, &p, 8, types, T0);
	crash(&s, 7, T0 + MS(1), &pl);
	EXPECT_STOP(&pl, NOLIST);
	EXPECT_START(&pl, L(7));
	crash(&s, 0, T0 + MS(2), &pl); /* 7 not yet started again */
	EXPECT_STOP(&pl, L(6, 5, 4, 3, 2, 1));
	EXPECT_START(&pl, L(0, 1, 2, 3, 4, 5, 6, 7));
	ok(errs == 0, "rest_for_one: last group alone; first group all, pending ones included");

	/* The largest node: 255 groups. */
	p = policy(ACT_ONE_FOR_ALL, 100, 5000);
	setup(&s, &p, ACT__SUP_MAX_GROUPS, all_perm, T0);
	crash(&s, 100, T0 + MS(1), &pl);
	bool good = pl.n_stop == ACT__SUP_MAX_GROUPS - 1 && pl.n_start == ACT__SUP_MAX_GROUPS;
	for (uint32_t k = 1; good && k < pl.n_stop; k++)
		good = pl.stop[k] < pl.stop[k - 1] && pl.stop[k] != 100;
	for (uint32_t k = 0; good && k < pl.n_start; k++)
		good = pl.start[k] == k;
	ok(good, "one_for_all of 255 groups: 254 stopped in reverse, 255 started in order");
}

static void test_manual(void)
{
	const act_restart_type types[3] = {
		ACT_PERMANENT, ACT_TEMPORARY, ACT_PERMANENT
	};
	struct act__policy p = policy(ACT_ONE_FOR_ALL, 1, 5000);
	struct act__sup s;
	struct act__sup_plan pl;

	errs = 0;
	setup(&s, &p, 3, types, T0);
	act__sup_manual_restart(&s, 2, &pl);
	EXPECT(pl.action == ACT__SUP_RESTART);
	EXPECT_STOP(&pl, L(2));
	EXPECT_START(&pl, L(2));
	EXPECT(pl.delay_ms == 0 && !pl.permanent_failure && pl.why != NULL);
	EXPECT(s.g[0].running && s.g[1].running && !s.g[2].running);
	EXPECT(s.g[2].n_restarts == 1);
	ok(errs == 0, "manual restart under one_for_all: only that group, stopped then started");
	carry_out(&s, &pl, T0 + MS(1));

	for (int k = 0; k < 5; k++) {
		act__sup_manual_restart(&s, 0, &pl);
		carry_out(&s, &pl, T0 + MS(2 + k));
	}
	crash(&s, 0, T0 + MS(10), &pl);
	ok(pl.action == ACT__SUP_RESTART, "5 manual restarts charge nothing: 1/5s still allows a crash");
	carry_out(&s, &pl, T0 + MS(10));

	/* A temporary group that ended can run again by hand. */
	errs = 0;
	EXPECT(s.g[1].done && !s.g[1].running);  /* taken down by the one_for_all */
	act__sup_manual_restart(&s, 1, &pl);
	EXPECT(pl.action == ACT__SUP_RESTART);
	EXPECT_STOP(&pl, NOLIST);
	EXPECT_START(&pl, L(1));
	EXPECT(!s.g[1].done);
	carry_out(&s, &pl, T0 + MS(11));
	EXPECT(s.g[1].running);
	act__sup_exited(&s, 1, ACT_EXIT_OK, 0, T0 + MS(12), &pl);
	EXPECT(pl.action == ACT__SUP_NONE && s.g[1].done);
	ok(errs == 0, "manual restart of a done temporary group: it runs, then ends again");

	/* A failed group too. */
	p = policy(ACT_ONE_FOR_ONE, 100, 5000);
	errs = 0;
	setup(&s, &p, 3, types, T0);
	act__sup_exited(&s, 0, ACT_EXIT_PERMANENT, 0, T0 + MS(1), &pl);
	EXPECT(s.g[0].failed);
	act__sup_manual_restart(&s, 0, &pl);
	EXPECT(pl.action == ACT__SUP_RESTART && pl.n_stop == 0);
	EXPECT_START(&pl, L(0));
	EXPECT(!s.g[0].failed);
	carry_out(&s, &pl, T0 + MS(2));
	crash(&s, 0, T0 + MS(3), &pl);
	EXPECT(pl.action == ACT__SUP_RESTART);
	ok(errs == 0, "manual restart of a failed group: it is supervised normally again");

	/* Manual restart wipes the backoff. */
	errs = 0;
	setup(&s, &p, 1, all_perm, T0);
	for (int k = 0; k < 3; k++) {
		crash(&s, 0, T0 + MS(k + 1), &pl);
		carry_out(&s, &pl, T0 + MS(k + 1));
	}
	EXPECT(pl.delay_ms == 20);
	act__sup_manual_restart(&s, 0, &pl);
	carry_out(&s, &pl, T0 + MS(10));
	crash(&s, 0, T0 + MS(11), &pl);
	EXPECT(pl.delay_ms == 0);
	ok(errs == 0, "manual restart resets the group's backoff");
}

static void test_bad_input(void)
{
	struct act__policy p = policy(ACT_ONE_FOR_ONE, 100, 5000);
	struct act__sup s;
	struct act__sup_plan pl;
	static const uint32_t bad[] = { 3, 254, 255, 256, UINT32_MAX };

	errs = 0;
	setup(&s, &p, 3, all_perm, T0);
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		memset(&pl, 0xa5, sizeof pl);
		crash(&s, bad[k], T0 + MS(1), &pl);
		EXPECT(pl.action == ACT__SUP_NONE && pl.n_stop == 0 && pl.n_start == 0 && pl.why);
		memset(&pl, 0xa5, sizeof pl);
		act__sup_manual_restart(&s, bad[k], &pl);
		EXPECT(pl.action == ACT__SUP_NONE && pl.n_stop == 0 && pl.n_start == 0 && pl.why);
		act__sup_started(&s, bad[k], T0);
	}
	EXPECT(s.n_restart_times == 0);
	ok(errs == 0, "out-of-range group index: NONE, nothing changed");

	errs = 0;
	act__sup_exited(&s, 0, ACT_EXIT_PERMANENT, 0, T0 + MS(1), &pl);
	act__sup_exited(&s, 0, -1, SIGSEGV, T0 + MS(2), &pl);
	EXPECT(pl.action == ACT__SUP_NONE && !pl.permanent_failure);
	crash(&s, 1, T0 + MS(3), &pl);
	EXPECT(pl.action == ACT__SUP_RESTART);
	crash(&s, 1, T0 + MS(4), &pl); /* duplicate report before the restart */
	EXPECT(pl.action == ACT__SUP_NONE);
	act__sup_init(&s, &p, 2, all_perm); /* never started */
	crash(&s, 0, T0, &pl);
	EXPECT(pl.action == ACT__SUP_NONE);
	ok(errs == 0, "exit of a failed, pending or never-started group: NONE");

	errs = 0;
	act__sup_init(&s, NULL, 1000, NULL);
	EXPECT(s.n_groups == ACT__SUP_MAX_GROUPS);
	EXPECT(s.pol.max_restarts == 1 && s.pol.period_ms == 5000);
	EXPECT(s.g[0].restart == ACT_PERMANENT);
	p.strategy = (act_strategy)42;
	p.backoff_factor = 0.5;
	act_restart_type weird[2] = { (act_restart_type)7, ACT_TEMPORARY };
	act__sup_init(&s, &p, 2, weird);
	EXPECT(s.pol.strategy == ACT_ONE_FOR_ONE && s.pol.backoff_factor == 1.0);
	EXPECT(s.g[0].restart == ACT_PERMANENT && s.g[1].restart == ACT_TEMPORARY);
	act__sup_exited(&s, 0, 0, 0, T0, NULL);
	act__sup_exited(NULL, 0, 0, 0, T0, &pl);
	EXPECT(pl.action == ACT__SUP_NONE);
	act__sup_manual_restart(NULL, 0, &pl);
	EXPECT(pl.action == ACT__SUP_NONE);
	act__sup_started(NULL, 0, T0);
	act__sup_init(NULL, &p, 1, NULL);
	act__policy_default(NULL);
	ok(errs == 0, "init clamps n and sanitises policy and types; NULLs are harmless");

	/* A clock going backwards neither crashes nor frees the window. */
	p = policy(ACT_ONE_FOR_ONE, 1, 5000);
	setup(&s, &p, 1, all_perm, T0 + MS(10000));
	crash(&s, 0, T0 + MS(10000), &pl);
	carry_out(&s, &pl, T0 + MS(10000));
	crash(&s, 0, T0, &pl);
	ok(pl.action == ACT__SUP_GIVE_UP, "time going backwards: the earlier restart still counts");
}

static void test_defaults(void)
{
	struct act__policy p;

	memset(&p, 0xff, sizeof p);
	act__policy_default(&p);
	ok(p.strategy == ACT_ONE_FOR_ONE && p.max_restarts == 1 && p.period_ms == 5000 &&
	   p.backoff_initial_ms == 10 && p.backoff_factor == 2.0 && p.backoff_max_ms == 10000 &&
	   p.backoff_reset_ms == 10000, "act__policy_default: one_for_one, 1/5s, 10ms x2 cap 10s, reset 10s");
}

/* Which deaths count toward an envelope's max_redeliveries (issue 11.8). */
static void test_death_counts(void)
{
	static const int faults[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP };
	static const int outside[] = { SIGKILL, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 };
	bool all = true;

	for (size_t i = 0; i < sizeof faults / sizeof *faults; i++)
		all &= act__death_counts(faults[i], -1, false);
	ok(all, "death counts: every fault signal counts");
	all = true;
	for (size_t i = 0; i < sizeof outside / sizeof *outside; i++)
		all &= !act__death_counts(outside[i], -1, false);
	ok(all, "death counts: SIGKILL, SIGTERM and other signals from outside do not");
	ok(act__death_counts(SIGKILL, -1, true), "death counts: a hang kill by the supervisor counts");
	ok(act__death_counts(0, 1, false) && act__death_counts(0, 111, false) &&
	   act__death_counts(0, 0, false), "death counts: any exit counts");
}

int main(void)
{
	tap_timeout(30);
	test_defaults();
	test_matrix();
	test_exit_kinds();
	test_temporary_sibling();
	test_intensity_boundary();
	test_intensity_zero();
	test_intensity_cap();
	test_backoff();
	test_order();
	test_manual();
	test_bad_input();
	test_death_counts();
	return done_testing();
}
