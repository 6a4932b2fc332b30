/* SPDX-License-Identifier: MIT */
/*
 * t/dynamic-supervise.c - a parent's act_child_policy over the actors it
 * spawned, in one group: restart (fresh state, same ref, Start with the
 * restart flag, no Down), resume (state kept, the failing message not
 * retried), stop (Down "failed: ..."), escalate (the child stops, the
 * parent fails and its own parent's decide() chooses); intensity exceeded
 * turns a restart into an escalation; an init that fails on restart is a
 * failure too (no fini for it); all-for-one restarts every sibling (newest
 * down first, oldest up first), rest-for-one those spawned after the
 * failed one.  Every Down comes exactly once, with its cause.  In a second
 * group, a failure escalated to a top-level spawned actor (whose static
 * parent declares no policy) fails the group: exit 111, the node restarts
 * it, its permanent spawned actors come back, the failed one does not.
 * Bad policies are refused at registration.
 */
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"

#define N_KIDS 16

typedef struct { int32_t op, arg; } cmd_msg;
ACT_MESSAGE_TYPE(cmd_type, cmd_msg, "Cmd", ACT_FIELD(cmd_msg, op, ACT_I32),
                 ACT_FIELD(cmd_msg, arg, ACT_I32));

enum { OP_COUNT, OP_FAIL, OP_REPORT, OP_FAIL_INIT_NEXT, OP_FIN, OP_FIN2, OP_GO, OP_G2_DONE,
       OP_ASK_SELF, OP_ECHO };

struct area {
	_Atomic int inits[N_KIDS], finis[N_KIDS], starts[N_KIDS], restart_starts[N_KIDS];
	_Atomic int count[N_KIDS], n_restarts_seen[N_KIDS], fail_init[N_KIDS];
	_Atomic int downs[N_KIDS], downs_bad;
	char down_reason[N_KIDS][128];
	char order[128];
	_Atomic int order_done;
	_Atomic int sup_downs, sup_r_down_ok, sup_r2_down_ok, sup_e_restarts, sup_e_downs;
	_Atomic int decide_calls, decide_r, decide_e, decide_r2;
	_Atomic int same_ref, stale_enoent, stopped_enoent, sup_s_alive, k1_stopped_first;
	_Atomic int g2_top_starts, g2_top_restart_exit, g2_mid_back, g2_leaf_gone,
	            g2_done, g2_mid_inits, g2_helper_inits, g2_helper_starts;
	_Atomic int bad_rc[12], nonsense_calls;
	_Atomic int watchdog;
};
static struct area *A;

static void note(const char *fmt, int i)
{
	if (A->order_done) /* the node's stop runs the finis again */
		return;
	size_t n = strlen(A->order);
	snprintf(A->order + n, sizeof A->order - n, fmt, i);
}

/* ---- the kid: counts Cmd{COUNT}, fails on Cmd{FAIL} --------------------------- */

struct kid { int32_t idx, count; };

static int kid_init(act_ctx *ctx, void *st, const char *args)
{
	struct kid *k = st;
	k->idx = atoi(args);
	A->inits[k->idx]++;
	return A->fail_init[k->idx] ? -EIO : 0;
}
static void kid_fini(act_ctx *ctx, void *st)
{
	struct kid *k = st;
	A->finis[k->idx]++;
	if (k->idx >= 6 && k->idx <= 8)
		note("d%d ", k->idx);
}
static void kid_start(act_ctx *ctx, void *st, const void *m)
{
	struct kid *k = st;
	const act_start *s = m;
	A->starts[k->idx]++;
	if (s->restart) {
		A->restart_starts[k->idx]++;
		A->n_restarts_seen[k->idx] = s->n_restarts;
		if (k->idx >= 6 && k->idx <= 8)
			note("u%d ", k->idx);
	}
}
/* The answer to OP_ASK_SELF: a failure in an ask callback is a failure too. */
static void kid_answer(act_ctx *ctx, void *st, int status, const act_type *t, const void *reply,
                       uint64_t cookie)
{
	act_fail(ctx, "in callback");
}

static void kid_cmd(act_ctx *ctx, void *st, const void *m)
{
	struct kid *k = st;
	const cmd_msg *c = m;
	switch (c->op) {
	case OP_COUNT:
		k->count++;
		break;
	case OP_FAIL:
		k->count += 100; /* a resumed kid keeps this: state survives */
		act_fail(ctx, "boom");
		break;
	case OP_FAIL_INIT_NEXT:
		A->fail_init[k->idx] = 1;
		act_fail(ctx, "boom");
		break;
	case OP_REPORT:
		A->count[k->idx] = k->count;
		break;
	case OP_ASK_SELF: {
		cmd_msg e = { OP_ECHO, 0 };
		act_ask(ctx, act_self(ctx), &cmd_type, &e, 10000, kid_answer, 0);
		break;
	}
	case OP_ECHO:
		act_reply(ctx, &cmd_type, c);
		break;
	}
}
static const act_handler kid_h[] = { { &act_start_type, kid_start }, { &cmd_type, kid_cmd } };
static const act_behaviour kid_b = {
	.name = "kid", .state_size = sizeof(struct kid), .init = kid_init, .fini = kid_fini,
	.handlers = kid_h, .n_handlers = 2,
};

/* ---- supervisors: spawn kids [first, first + n) named k<i> ------------------- */

static int sup_init(act_ctx *ctx, void *st, const char *args)
{
	int first = 0, n = 0;
	char name[16], a[16];
	act_ref r;
	if (sscanf(args, "[%d,%d]", &first, &n) != 2)
		return -EINVAL;
	for (int i = first; i < first + n; i++) {
		snprintf(name, sizeof name, "k%d", i);
		snprintf(a, sizeof a, "%d", i);
		int err = act_spawn(ctx, NULL, "kid", name, a, &r);
		if (err)
			return err;
	}
	return 0;
}
static void sup_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	if (s->restart && !strcmp(act_self_name(ctx), "sup_e"))
		A->sup_e_restarts++;
}
static const act_handler sup_h[] = { { &act_start_type, sup_start } };

#define SUP(var, nm, strat, dir, max)                                                     \
	static const act_child_policy var##_pol = { strat, dir, max, 60000, NULL };          \
	static const act_behaviour var = { .name = nm, .init = sup_init, .handlers = sup_h, \
	                                   .n_handlers = 1, .children = &var##_pol }
SUP(sup_restart_b, "sup_restart", ACT_ONE_FOR_ONE, ACT_CHILD_RESTART, 2);
SUP(sup_resume_b, "sup_resume", ACT_ONE_FOR_ONE, ACT_CHILD_RESUME, 0);
SUP(sup_stop_b, "sup_stop", ACT_ONE_FOR_ONE, ACT_CHILD_STOP, 0);
SUP(sup_escalate_b, "sup_escalate", ACT_ONE_FOR_ONE, ACT_CHILD_ESCALATE, 0);
SUP(sup_all_b, "sup_all", ACT_ONE_FOR_ALL, ACT_CHILD_RESTART, 5);
SUP(sup_rest_b, "sup_rest", ACT_REST_FOR_ONE, ACT_CHILD_RESTART, 5);

/* A decide() that answers nonsense: the child is stopped (and a warning logged). */
static act_directive nonsense_decide(act_ctx *ctx, void *st, act_ref child, const char *reason)
{
	A->nonsense_calls++;
	return (act_directive)42;
}
static const act_child_policy sup_nonsense_pol = { ACT_ONE_FOR_ONE, ACT_CHILD_RESTART, 5, 0,
                                                   nonsense_decide };
static const act_behaviour sup_nonsense_b = {
	.name = "sup_nonsense", .init = sup_init, .handlers = sup_h, .n_handlers = 1,
	.children = &sup_nonsense_pol,
};

/* ---- the boss: supervises the supervisors with decide() ---------------------- */

struct boss { act_ref k[N_KIDS], sup_r, sup_e; int fin2; };

static act_directive boss_decide(act_ctx *ctx, void *st, act_ref child, const char *reason)
{
	struct boss *b = st;
	A->decide_calls++;
	if (act_ref_eq(child, b->sup_r) && !strcmp(reason, "failed: k0: boom")) {
		A->decide_r++;
		return ACT_CHILD_STOP;
	}
	if (act_ref_eq(child, b->sup_e) && !strcmp(reason, "failed: k4: boom")) {
		A->decide_e++;
		return ACT_CHILD_RESTART;
	}
	if (!strcmp(reason, "failed: k12: init returned -5 on restart"))
		A->decide_r2++;
	return ACT_CHILD_STOP;
}
static const act_child_policy boss_pol = { ACT_ONE_FOR_ONE, ACT_CHILD_STOP, 10, 60000,
                                           boss_decide };

static void cmd(act_ctx *ctx, act_ref to, int op)
{
	cmd_msg c = { op, 0 };
	act_send(ctx, to, &cmd_type, &c);
}

static act_ref kid(act_ctx *ctx, int i)
{
	char name[16];
	act_ref r = ACT_NOBODY;
	uint64_t mid;
	snprintf(name, sizeof name, "k%d", i);
	if (act_lookup(ctx, name, &r) == 0)
		act_monitor(ctx, r, &mid);
	return r;
}

static void boss_start(act_ctx *ctx, void *st, const void *m)
{
	struct boss *b = st;
	const act_start *s = m;
	act_ref r;
	uint64_t mid;

	if (s->restart)
		return;
	/* Bad inputs: clear errors, nothing created. */
	char longname[ACT_NAME_MAX + 2];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	A->bad_rc[0] = act_spawn(ctx, NULL, "kid", longname, "0", &r);
	A->bad_rc[1] = act_spawn(ctx, NULL, "kid", "tab\there", "0", &r);
	A->bad_rc[2] = act_spawn(ctx, NULL, NULL, NULL, "0", &r);
	A->bad_rc[3] = act_spawn(ctx, NULL, "kid", NULL, "", &r);
	A->bad_rc[4] = act_spawn(ctx, NULL, "kid", NULL, "[1,2", &r);
	A->bad_rc[5] = act_spawn(ctx, NULL, "kid", NULL, "0", NULL);
	A->bad_rc[6] = act_stop(ctx, ACT_NOBODY);
	A->bad_rc[7] = act_stop(ctx, (act_ref){ 1, 3, 0 });
	A->bad_rc[8] = act_monitor(ctx, act_self(ctx), NULL);
	A->bad_rc[9] = act_demonitor(ctx, 0);
	A->bad_rc[10] = act_spawn(ctx, NULL, "kid", "boss", "0", &r);
	A->bad_rc[11] = act_lookup(ctx, longname, &r) == -ENOENT &&
	                act_lookup(ctx, "$1.0.1", &r) == -ENOENT;
	/* A: restart, one-for-one, at most 2 restarts: the third escalates */
	act_spawn(ctx, NULL, "sup_restart", "sup_r", "[0,2]", &b->sup_r);
	act_monitor(ctx, b->sup_r, &mid);
	for (int i = 0; i < 2; i++)
		b->k[i] = kid(ctx, i);
	cmd(ctx, b->k[0], OP_COUNT);
	cmd(ctx, b->k[0], OP_COUNT);
	cmd(ctx, b->k[0], OP_FAIL);
	cmd(ctx, b->k[0], OP_COUNT); /* the restarted instance: count 1 */
	cmd(ctx, b->k[0], OP_REPORT);
	cmd(ctx, b->k[1], OP_COUNT);
	cmd(ctx, b->k[1], OP_REPORT);
	/* B: resume keeps the state (2 + 100 + 1), no restart, no Down */
	act_spawn(ctx, NULL, "sup_resume", "sup_m", "[2,1]", &r);
	b->k[2] = kid(ctx, 2);
	cmd(ctx, b->k[2], OP_COUNT);
	cmd(ctx, b->k[2], OP_COUNT);
	cmd(ctx, b->k[2], OP_FAIL);
	cmd(ctx, b->k[2], OP_COUNT);
	cmd(ctx, b->k[2], OP_REPORT);
	/* C: stop */
	act_spawn(ctx, NULL, "sup_stop", "sup_s", "[3,1]", &r);
	b->k[3] = kid(ctx, 3);
	cmd(ctx, b->k[3], OP_FAIL);
	/* D: escalate: k4 stops, sup_e fails, boss restarts sup_e (k5 stopped first) */
	act_spawn(ctx, NULL, "sup_escalate", "sup_e", "[4,2]", &b->sup_e);
	act_monitor(ctx, b->sup_e, &mid);
	b->k[4] = kid(ctx, 4);
	b->k[5] = kid(ctx, 5);
	cmd(ctx, b->k[4], OP_FAIL);
	/* E: all-for-one */
	act_spawn(ctx, NULL, "sup_all", "sup_a", "[6,3]", &r);
	for (int i = 6; i < 9; i++) {
		b->k[i] = kid(ctx, i);
		cmd(ctx, b->k[i], OP_COUNT);
	}
	cmd(ctx, b->k[7], OP_FAIL);
	for (int i = 6; i < 9; i++) {
		cmd(ctx, b->k[i], OP_COUNT);
		cmd(ctx, b->k[i], OP_REPORT);
	}
	/* F: rest-for-one */
	act_spawn(ctx, NULL, "sup_rest", "sup_f", "[9,3]", &r);
	for (int i = 9; i < 12; i++) {
		b->k[i] = kid(ctx, i);
		cmd(ctx, b->k[i], OP_COUNT);
	}
	cmd(ctx, b->k[10], OP_FAIL);
	for (int i = 9; i < 12; i++)
		cmd(ctx, b->k[i], OP_REPORT);
	/* G: init fails on each restart: 2 restarts, then escalation */
	act_spawn(ctx, NULL, "sup_restart", "sup_r2", "[12,1]", &r);
	act_monitor(ctx, r, &mid);
	b->k[12] = kid(ctx, 12);
	cmd(ctx, b->k[12], OP_FAIL_INIT_NEXT);
	/* H: a failure in an ask callback restarts the kid too */
	act_spawn(ctx, NULL, "sup_restart", "sup_h", "[13,1]", &r);
	b->k[13] = kid(ctx, 13);
	cmd(ctx, b->k[13], OP_COUNT);
	cmd(ctx, b->k[13], OP_ASK_SELF);
	/* I: decide() out of range */
	act_spawn(ctx, NULL, "sup_nonsense", "sup_n", "[14,1]", &r);
	b->k[14] = kid(ctx, 14);
	cmd(ctx, b->k[14], OP_FAIL);
	/* A again: two more failures of k0; the second exceeds the intensity */
	cmd(ctx, b->k[0], OP_FAIL);
	cmd(ctx, b->k[0], OP_FAIL);
	cmd(ctx, act_self(ctx), OP_FIN);
}

static void boss_cmd(act_ctx *ctx, void *st, const void *m)
{
	struct boss *b = st;
	const cmd_msg *c = m;
	act_ref r;
	cmd_msg p = { OP_COUNT, 0 };

	if (c->op == OP_G2_DONE) {
		A->g2_done = 1;
	} else if (c->op == OP_FIN) {
		/* Everything sent from Start was handled; what it caused (Downs)
		 * is queued before the FIN2 sent now. */
		A->same_ref = act_lookup(ctx, "k6", &r) == 0 && act_ref_eq(r, b->k[6]);
		A->stopped_enoent = act_send(ctx, b->k[3], &cmd_type, &p) == -ENOENT;
		A->stale_enoent = act_send(ctx, b->k[5], &cmd_type, &p) == -ENOENT &&
		                  act_lookup(ctx, "k5", &r) == 0 && !act_ref_eq(r, b->k[5]);
		A->sup_s_alive = act_lookup(ctx, "sup_s", &r) == 0;
		A->order_done = 1;
		cmd(ctx, act_self(ctx), OP_FIN2);
		return;
	} else if (c->op == OP_FIN2) {
		b->fin2 = 1;
	} else {
		return;
	}
	/* Both this group's scenarios and g2's are over. */
	if (A->g2_done && b->fin2)
		act_shutdown(ctx);
}

static void boss_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	int i;

	if (d->actor[0] == 'k' && (i = atoi(d->actor + 1)) >= 0 && i < N_KIDS) {
		A->downs[i]++;
		snprintf(A->down_reason[i], sizeof A->down_reason[i], "%s", d->reason);
		if (i == 1 && A->downs[0] == 1)
			A->k1_stopped_first = 1;
	} else if (!strcmp(d->actor, "sup_r")) {
		A->sup_downs++;
		A->sup_r_down_ok = !strcmp(d->reason, "failed: k0: boom") && A->downs[1] == 1;
	} else if (!strcmp(d->actor, "sup_r2")) {
		A->sup_downs++;
		A->sup_r2_down_ok = !strcmp(d->reason, "failed: k12: init returned -5 on restart");
	} else if (!strcmp(d->actor, "sup_e")) {
		A->sup_e_downs++;
	} else {
		A->downs_bad++;
	}
}

static const act_handler boss_h[] = {
	{ &act_start_type, boss_start }, { &cmd_type, boss_cmd }, { &act_down_type, boss_down },
};
static const act_behaviour boss_b = {
	.name = "boss", .state_size = sizeof(struct boss), .handlers = boss_h, .n_handlers = 3,
	.children = &boss_pol,
};

/* ---- group g2: top (static, no policy) -> mid (escalates) -> leaf ---------- */

static void leaf_cmd(act_ctx *ctx, void *st, const void *m) { act_fail(ctx, "leaf broke"); }
static const act_handler leaf_h[] = { { &cmd_type, leaf_cmd } };
static const act_behaviour leaf_b = {
	.name = "leaf", .handlers = leaf_h, .n_handlers = 1, .restart = ACT_PERMANENT,
};

/* mid's helper: spawned from mid's init, so also while a worker restores mid */
static int helper_init(act_ctx *ctx, void *st, const char *args)
{
	A->g2_helper_inits++;
	return 0;
}
static void helper_start(act_ctx *ctx, void *st, const void *m) { A->g2_helper_starts++; }
static const act_handler helper_h[] = { { &act_start_type, helper_start } };
static const act_behaviour helper_b = {
	.name = "helper", .init = helper_init, .handlers = helper_h, .n_handlers = 1,
	.restart = ACT_TEMPORARY,
};

static int mid_init(act_ctx *ctx, void *st, const char *args)
{
	act_ref r;
	A->g2_mid_inits++;
	return act_spawn(ctx, NULL, "helper", NULL, NULL, &r);
}
static void mid_cmd(act_ctx *ctx, void *st, const void *m)
{
	act_ref leaf, sib;
	cmd_msg c = { OP_FAIL, 0 };
	if (act_spawn(ctx, NULL, "leaf", "leaf", NULL, &leaf) == 0 &&
	    act_spawn(ctx, NULL, "leaf", "leaf2", NULL, &sib) == 0)
		act_send(ctx, leaf, &cmd_type, &c);
}
static const act_child_policy mid_pol = { ACT_ONE_FOR_ONE, ACT_CHILD_ESCALATE, 0, 0, NULL };
static const act_handler mid_h[] = { { &cmd_type, mid_cmd } };
static const act_behaviour mid_b = {
	.name = "mid", .init = mid_init, .handlers = mid_h, .n_handlers = 1,
	.restart = ACT_PERMANENT, .children = &mid_pol,
};

static void top_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	act_ref mid, r;
	A->g2_top_starts++;
	if (!s->restart) {
		if (act_spawn(ctx, NULL, "mid", "mid", NULL, &mid) == 0)
			cmd(ctx, mid, OP_GO);
		return;
	}
	A->g2_top_restart_exit = s->last_exit;
	A->g2_mid_back = act_lookup(ctx, "mid", &r) == 0 && act_lookup(ctx, "leaf2", &r) == 0;
	A->g2_leaf_gone = act_lookup(ctx, "leaf", &r) == -ENOENT;
	act_lookup(ctx, "boss", &r);
	cmd(ctx, r, OP_G2_DONE);
}
static const act_handler top_h[] = { { &act_start_type, top_start } };
static const act_behaviour top_b = { .name = "top", .handlers = top_h, .n_handlers = 1 };

int main(void)
{
	tap_timeout(60);
	A = shared_area(sizeof *A);
	harness_watchdog_fired = &A->watchdog;
	act_node_t *node = act_node_new("sup");
	act_node_add_group(node, "main");
	act_node_add_group(node, "g2");
	act_node_add_actor(node, "main", "boss", &boss_b, NULL);
	act_node_add_actor(node, "main", "watchdog", &harness_watchdog_b, NULL);
	act_node_add_actor(node, "g2", "top", &top_b, NULL);
	const act_behaviour *bs[] = { &kid_b, &sup_restart_b, &sup_resume_b, &sup_stop_b,
	                              &sup_escalate_b, &sup_all_b, &sup_rest_b, &leaf_b, &mid_b,
	                              &helper_b, &sup_nonsense_b };
	int reg_ok = 1;
	for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++)
		reg_ok &= act_node_add_behaviour(node, bs[i]) == 0;
	ok(reg_ok, "behaviours with child policies registered");

	static const act_child_policy bad_dir = { ACT_ONE_FOR_ONE, (act_directive)9, 1, 0, NULL };
	static const act_child_policy bad_strat = { (act_strategy)7, ACT_CHILD_STOP, 1, 0, NULL };
	static const act_child_policy bad_max = { ACT_ONE_FOR_ONE, ACT_CHILD_RESTART, 5000, 0, NULL };
	act_behaviour bad = { .name = "bad1", .children = &bad_dir };
	ok(act_node_add_behaviour(node, &bad) == -EINVAL, "unknown directive: -EINVAL");
	bad.name = "bad2";
	bad.children = &bad_strat;
	ok(act_node_add_behaviour(node, &bad) == -EINVAL, "unknown strategy: -EINVAL");
	bad.name = "bad3";
	bad.children = &bad_max;
	ok(act_node_add_behaviour(node, &bad) == -EINVAL, "max_restarts above 1024: -EINVAL");
	ok(act_node_add_actor(node, "main", "bad", &bad, NULL) == -EINVAL,
	   "a static actor with a bad policy: -EINVAL");

	act_node_set_intensity(node, 5, 10000);
	harness_collect_counters();
	int rc = act_node_run(node);
	act_node_free(node);
	ok(rc == 0 && !A->watchdog, "node stopped cleanly (rc %d, watchdog %d)", rc, A->watchdog);

	ok(A->bad_rc[0] == -EINVAL, "a name longer than ACT_NAME_MAX: -EINVAL (%d)", A->bad_rc[0]);
	ok(A->bad_rc[1] == -EINVAL, "a name with a control character: -EINVAL (%d)", A->bad_rc[1]);
	ok(A->bad_rc[2] == -ENOENT, "no behaviour: -ENOENT (%d)", A->bad_rc[2]);
	ok(A->bad_rc[3] == -EINVAL && A->bad_rc[4] == -EINVAL, "args that are not JSON: -EINVAL");
	ok(A->bad_rc[5] == -EINVAL, "no place for the ref: -EINVAL (%d)", A->bad_rc[5]);
	ok(A->bad_rc[6] == -ENOENT && A->bad_rc[7] == -ENOENT,
	   "stopping nobody or a remote ref: -ENOENT (%d, %d)", A->bad_rc[6], A->bad_rc[7]);
	ok(A->bad_rc[8] == -EINVAL && A->bad_rc[9] == -ENOENT,
	   "monitor without an id: -EINVAL; demonitor of id 0: -ENOENT");
	ok(A->bad_rc[10] == -EEXIST, "a static actor's name: -EEXIST (%d)", A->bad_rc[10]);
	ok(A->bad_rc[11] == 1, "no actor was created by the bad spawns");
	ok(A->inits[0] == 3, "(and no init ran for them)");
	/* A: restart one-for-one */
	ok(A->restart_starts[0] == 2 && A->n_restarts_seen[0] == 2,
	   "restart: Start with restart = true, n_restarts counting (%d, %d)", A->restart_starts[0],
	   A->n_restarts_seen[0]);
	ok(A->count[0] == 1, "restart: fresh state (count %d, not 103)", A->count[0]);
	ok(A->inits[0] == 3 && A->finis[0] == 3, "restart: fini then init each time (%d inits, %d finis)",
	   A->inits[0], A->finis[0]);
	ok(A->restart_starts[1] == 0 && A->count[1] == 1, "one-for-one: the sibling untouched");
	ok(A->downs[0] == 1 && !strcmp(A->down_reason[0], "failed: boom"),
	   "intensity exceeded: the child stops, Down '%s' once (%d)", A->down_reason[0], A->downs[0]);
	ok(A->decide_r == 1 && A->sup_r_down_ok,
	   "intensity exceeded: the parent fails ('failed: k0: boom'), its parent's decide() stops it");
	ok(A->downs[1] == 1 && !strcmp(A->down_reason[1], "stopped") && A->k1_stopped_first,
	   "the failed parent's other child stopped before it (Down '%s')", A->down_reason[1]);
	/* B: resume */
	ok(A->count[2] == 103 && A->restart_starts[2] == 0 && A->downs[2] == 0 && A->inits[2] == 1,
	   "resume: state kept, message not retried, no restart, no Down (count %d)", A->count[2]);
	/* C: stop */
	ok(A->downs[3] == 1 && !strcmp(A->down_reason[3], "failed: boom") && A->stopped_enoent,
	   "stop: Down 'failed: boom' once, its ref refused (%d)", A->downs[3]);
	ok(A->sup_s_alive, "stop: the parent lives on");
	/* D: escalate */
	ok(A->downs[4] == 1 && !strcmp(A->down_reason[4], "failed: boom"),
	   "escalate: the child stops with Down 'failed: boom' once");
	ok(A->decide_e == 1 && A->sup_e_restarts == 1 && A->sup_e_downs == 0,
	   "escalate: the parent fails; its parent's decide() restarts it (no Down for it)");
	ok(A->downs[5] == 1 && !strcmp(A->down_reason[5], "stopped") && A->stale_enoent,
	   "escalate: the restarted parent's children stopped first; respawned with new refs");
	ok(A->inits[4] == 2 && A->inits[5] == 2, "escalate: the restarted parent respawned both");
	/* E: all-for-one */
	ok(A->restart_starts[6] == 1 && A->restart_starts[7] == 1 && A->restart_starts[8] == 1,
	   "all-for-one: every sibling restarted once");
	ok(A->count[6] == 1 && A->count[7] == 1 && A->count[8] == 1,
	   "all-for-one: every sibling has fresh state");
	ok(!strcmp(A->order, "d8 d7 d6 u6 u7 u8 "), "all-for-one: newest down first, oldest up first (%s)",
	   A->order);
	ok(A->downs[6] + A->downs[7] + A->downs[8] == 0 && A->same_ref,
	   "all-for-one: no Down, refs unchanged");
	/* F: rest-for-one */
	ok(A->restart_starts[9] == 0 && A->count[9] == 1, "rest-for-one: the older sibling untouched");
	ok(A->restart_starts[10] == 1 && A->restart_starts[11] == 1 && A->count[11] == 0,
	   "rest-for-one: the failed child and the younger sibling restarted");
	/* G: init failing on restart */
	ok(A->inits[12] == 3 && A->finis[12] == 1,
	   "init failing on restart: retried within the intensity, no fini after a failed init (%d, %d)",
	   A->inits[12], A->finis[12]);
	ok(A->downs[12] == 1 && !strcmp(A->down_reason[12], "failed: init returned -5 on restart"),
	   "init failing on restart: then Down '%s' once", A->down_reason[12]);
	ok(A->decide_r2 == 1 && A->sup_r2_down_ok, "init failing on restart: escalated to the parent");
	ok(A->sup_downs == 2 && A->downs_bad == 0, "no other Down (%d, %d)", A->sup_downs, A->downs_bad);
	int total = 0;
	for (int i = 0; i < N_KIDS; i++)
		total += A->downs[i];
	ok(total == 7, "Downs: exactly one per cause (%d)", total);
	ok(A->restart_starts[13] == 1 && A->downs[13] == 0,
	   "a failure in an ask callback: the parent's policy restarts the child (%d, %d)",
	   A->restart_starts[13], A->downs[13]);
	ok(A->nonsense_calls == 1 && A->downs[14] == 1 && !strcmp(A->down_reason[14], "failed: boom") &&
	   A->restart_starts[14] == 0, "decide() out of range: the child stops, Down once");
	/* g2: escalation past a top-level spawned actor fails the group */
	ok(A->g2_top_starts == 2 && A->g2_top_restart_exit == ACT_EXIT_TEMPORARY,
	   "escalation to a top-level spawned actor: the group fails with exit 111 (%d)",
	   A->g2_top_restart_exit);
	ok(A->g2_mid_back && A->g2_mid_inits == 2 && A->g2_leaf_gone,
	   "after the group's restart: the permanent parent and sibling are back, the failed one not");
	ok(A->g2_helper_inits == 2 && A->g2_helper_starts == 2,
	   "an actor spawned by an init during the restore: one init, one Start (%d, %d)",
	   A->g2_helper_inits, A->g2_helper_starts);
	return done_testing();
}
