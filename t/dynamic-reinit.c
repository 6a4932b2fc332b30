/* SPDX-License-Identifier: MIT */
/*
 * t/dynamic-reinit.c - an init that fails while a crashed worker re-creates
 * its spawned actors is a failure like any other: the parent's policy
 * applies.
 *  - restart: the child's init runs again, and it is back (one Start);
 *  - stop: the child stops, Down "failed: init returned -5 on restart";
 *  - restart beyond the intensity: escalates, so the parent fails and its
 *    own parent's policy (stop) ends it; it never loops;
 *  - the group was not failed by any of it (one restart: the kill);
 *  - the restarts and the escalation are counted, per group and per actor,
 *    in the metrics text (actorsctl metrics, the HTTP endpoint).
 */
#include <signal.h>
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"
#include "control.h"

typedef struct { int32_t v; } go_msg;
ACT_MESSAGE_TYPE(die_type, go_msg, "Die", ACT_FIELD(go_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(up_type, go_msg, "Up", ACT_FIELD(go_msg, v, ACT_I32));

enum { R1, S1, F1, N_KIDS };
static const char *const kid_names[N_KIDS] = { "r1", "s1", "f1" };

struct area {
	_Atomic int fail, killed, phase, ups, ticks;
	_Atomic int fail_left[N_KIDS], inits[N_KIDS], starts_after[N_KIDS];
	_Atomic int down_ok[N_KIDS + 1], down_other, r1_found, p3_down_ok;
	char other_reason[256];
};
static struct area *A;
static char *metrics; /* the node's metrics text as it stopped */

static void inspect(struct act_node *n)
{
	metrics = act__ctl_metrics_text(n);
}

/* The value of metrics sample `line` ("name{labels}"), or -1. */
static double sample_of(const char *line)
{
	const char *p = metrics;
	size_t n = strlen(line);
	while (p && (p = strstr(p, line))) {
		if ((p == metrics || p[-1] == '\n') && p[n] == ' ')
			return atof(p + n + 1);
		p += n;
	}
	return -1;
}

/* ---- the children: args = their index; init fails while fail_left says ------------ */

struct kid { int idx; };

static int kid_init(act_ctx *ctx, void *st, const char *args)
{
	struct kid *k = st;
	k->idx = args ? atoi(args) : -1;
	if (k->idx < 0 || k->idx >= N_KIDS)
		return -22;
	A->inits[k->idx]++;
	if (A->killed && A->fail_left[k->idx] > 0) {
		A->fail_left[k->idx]--;
		return -5;
	}
	return 0;
}
static void kid_start(act_ctx *ctx, void *st, const void *m)
{
	struct kid *k = st;
	if (((const act_start *)m)->restart)
		A->starts_after[k->idx]++;
}
static const act_handler kid_h[] = { { &act_start_type, kid_start } };
static const act_behaviour kid_b = {
	.name = "kid", .state_size = sizeof(struct kid), .init = kid_init,
	.handlers = kid_h, .n_handlers = 1, .restart = ACT_PERMANENT,
};

/* ---- parents: spawn their child on their first Start -------------------------------- */

static void par_start(act_ctx *ctx, void *st, const void *m)
{
	const char *me = act_self_name(ctx);
	char args[8];
	act_ref r;
	int idx = !strcmp(me, "p1") ? R1 : !strcmp(me, "p2") ? S1 : F1;

	if (((const act_start *)m)->restart)
		return;
	snprintf(args, sizeof args, "%d", idx);
	if (act_spawn(ctx, NULL, "kid", kid_names[idx], args, &r))
		A->fail++;
}
static const act_handler par_h[] = { { &act_start_type, par_start } };
static const act_child_policy restart_pol = { ACT_ONE_FOR_ONE, ACT_CHILD_RESTART, 3, 10000, NULL };
static const act_child_policy stop_pol = { ACT_ONE_FOR_ONE, ACT_CHILD_STOP, 3, 10000, NULL };
static const act_behaviour par_restart_b = {
	.name = "par_restart", .handlers = par_h, .n_handlers = 1, .restart = ACT_PERMANENT,
	.children = &restart_pol,
};
static const act_behaviour par_stop_b = {
	.name = "par_stop", .handlers = par_h, .n_handlers = 1, .restart = ACT_PERMANENT,
	.children = &stop_pol,
};

/* gp: spawns p3 (par_restart, so f1's endless failures escalate to p3),
 * stops p3 when it fails; says Up to the boss after the crash. */
static void gp_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r, boss;
	if (((const act_start *)m)->restart) {
		if (act_lookup(ctx, "boss", &boss) || act_send(ctx, boss, &up_type, &(go_msg){ 1 }))
			A->fail++;
		return;
	}
	if (act_spawn(ctx, NULL, "par_restart", "p3", NULL, &r))
		A->fail++;
}
static const act_handler gp_h[] = { { &act_start_type, gp_start } };
static const act_behaviour gp_b = {
	.name = "gp", .handlers = gp_h, .n_handlers = 1, .restart = ACT_PERMANENT,
	.children = &stop_pol,
};

static void bomb_die(act_ctx *ctx, void *st, const void *m)
{
	if (!atomic_exchange(&A->killed, 1))
		raise(SIGKILL);
}
static const act_handler bomb_h[] = { { &die_type, bomb_die } };
static const act_behaviour bomb_b = { .name = "bomb", .handlers = bomb_h, .n_handlers = 1 };

/* ---- the boss (group a) -------------------------------------------------------------- */

static void boss_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r;
	if (act_spawn(ctx, "g", "par_restart", "p1", NULL, &r) ||
	    act_spawn(ctx, "g", "par_stop", "p2", NULL, &r) || act_spawn(ctx, "g", "gp", "gp", NULL, &r))
		A->fail++;
	act_timer_periodic(ctx, 2, 1);
}

static void boss_tick(act_ctx *ctx, void *st, const void *m)
{
	act_ref r, bomb;
	uint64_t mid;

	if (((const act_timeout *)m)->id == 9) {
		act_shutdown(ctx);
		return;
	}
	if (A->phase == 0) {
		for (int i = 0; i < N_KIDS; i++)
			if (act_lookup(ctx, kid_names[i], &r))
				return;
		for (int i = 0; i < N_KIDS; i++)
			if (act_lookup(ctx, kid_names[i], &r) || act_monitor(ctx, r, &mid))
				A->fail++;
		if (act_lookup(ctx, "p3", &r) || act_monitor(ctx, r, &mid))
			A->fail++;
		A->fail_left[R1] = 1;
		A->fail_left[S1] = 1;
		A->fail_left[F1] = 1000;
		A->phase = 1;
		if (act_lookup(ctx, "bomb", &bomb) || act_send(ctx, bomb, &die_type, &(go_msg){ 0 }))
			A->fail++;
	} else if (A->phase == 1 && A->ups && A->down_ok[S1] && A->down_ok[F1] && A->p3_down_ok) {
		A->phase = 2;
		A->r1_found = act_lookup(ctx, "r1", &r) == 0;
		act_timer_once(ctx, 50, 9); /* room for a stray Down */
	}
}

static void boss_up(act_ctx *ctx, void *st, const void *m) { A->ups++; }

static void boss_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	if ((!strcmp(d->actor, "s1") || !strcmp(d->actor, "f1")) &&
	    !strcmp(d->reason, "failed: init returned -5 on restart"))
		A->down_ok[!strcmp(d->actor, "s1") ? S1 : F1]++;
	else if (!strcmp(d->actor, "p3") &&
	         !strcmp(d->reason, "failed: f1: init returned -5 on restart"))
		A->p3_down_ok++;
	else {
		A->down_other++;
		snprintf(A->other_reason, sizeof A->other_reason, "%s: %s", d->actor, d->reason);
	}
}

static const act_handler boss_h[] = {
	{ &act_start_type, boss_start }, { &act_timeout_type, boss_tick },
	{ &act_down_type, boss_down }, { &up_type, boss_up },
};
static const act_behaviour boss_b = { .name = "boss", .handlers = boss_h, .n_handlers = 4 };

int main(void)
{
	tap_timeout(60);
	A = shared_area(sizeof *A);
	static _Atomic int *fired;
	fired = shared_area(sizeof *fired);
	harness_watchdog_fired = fired;
	harness_watchdog_ms = 20000;
	act_node_t *node = act_node_new("reinit");
	act_node_add_group(node, "a");
	act_node_add_group(node, "g");
	act_node_add_actor(node, "a", "boss", &boss_b, NULL);
	act_node_add_actor(node, "a", "watchdog", &harness_watchdog_b, NULL);
	act_node_add_actor(node, "g", "bomb", &bomb_b, NULL);
	act_node_add_behaviour(node, &kid_b);
	act_node_add_behaviour(node, &par_restart_b);
	act_node_add_behaviour(node, &par_stop_b);
	act_node_add_behaviour(node, &gp_b);
	act_node_set_intensity(node, 10, 10000);
	act__node_inspect_hook = inspect;
	int rc = act_node_run(node);
	act_node_free(node);

	ok(rc == 0 && !*fired, "node stopped cleanly (rc %d, watchdog %d, phase %d)", rc, *fired,
	   A->phase);
	ok(A->fail == 0 && A->killed == 1, "the group was killed with the children up (%d)", A->fail);
	ok(A->ups == 1, "the group came back once, not failed by the failing inits (%d)", A->ups);
	ok(A->inits[R1] == 3 && A->r1_found && A->starts_after[R1] == 1,
	   "restart: the child's init ran again and it is back, with one Start (%d inits, %d "
	   "Starts)", A->inits[R1], A->starts_after[R1]);
	ok(A->down_ok[S1] == 1 && A->inits[S1] == 2 && A->starts_after[S1] == 0,
	   "stop: Down 'failed: init returned -5 on restart' once, no retry (%d, %d inits)",
	   A->down_ok[S1], A->inits[S1]);
	ok(A->down_ok[F1] == 1 && A->inits[F1] == 1 + 1 + 3,
	   "restart beyond the intensity: 3 retries, then Down to the child once (%d, %d inits)",
	   A->down_ok[F1], A->inits[F1]);
	ok(A->p3_down_ok == 1, "and the escalation failed its parent, which its own parent "
	   "stopped (%d)", A->p3_down_ok);
	ok(A->down_other == 0, "no other Down (%d: %s)", A->down_other, A->other_reason);
	double gr = sample_of("actors_group_policy_restarts_total{group=\"g\"}");
	double ge = sample_of("actors_group_escalations_total{group=\"g\"}");
	ok(gr == 1 + 3 && ge == 1, "per group: 4 policy restarts, 1 escalation (%g, %g)", gr, ge);
	double ar = sample_of("actors_actor_policy_restarts_total{group=\"g\",actor=\"r1\"}");
	double ae = sample_of("actors_actor_escalations_total{group=\"g\",actor=\"r1\"}");
	ok(ar == 1 && ae == 0, "per actor: r1 restarted once, never escalated (%g, %g)", ar, ae);
	if (getenv("SHOW_METRICS") && metrics)
		fputs(metrics, stderr);
	free(metrics);
	return done_testing();
}
