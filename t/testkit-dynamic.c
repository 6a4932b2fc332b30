/* SPDX-License-Identifier: MIT */
/*
 * t/testkit-dynamic.c - spawned actors under the testkit: act_spawn,
 * act_stop, act_monitor/act_demonitor and Down, act_fail, parents stopping
 * their children depth first, stale refs after a slot is reused, and a
 * crash of a group holding permanent and temporary spawned actors with
 * envelopes queued to them.  The same scenario (one actor's script, in
 * one group) runs twice under the testkit and once under a real node
 * (forked worker, rings, a real SIGKILL): the three traces must be equal,
 * which is what "a handler's behaviour under the testkit and under a real
 * node must not differ" means here.  Then what only a testkit can show
 * quickly: 10,000 spawned actors re-created by a crash, 1,000 actors made
 * by the test, a crash asked for by a spawned actor's own handler, and two
 * testkits alive at once, each on its own clock.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <actors.h>
#include <actors/testkit.h>

#include "tap.h"
#include "harness.h"

#define N_SPAWNED 10000
#define N_STATIC 1000

typedef struct { int32_t v; } ping_msg;
ACT_MESSAGE_TYPE(ping_type, ping_msg, "Ping", ACT_FIELD(ping_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(boom_type, ping_msg, "Boom", ACT_FIELD(ping_msg, v, ACT_I32));

/* What the actors write, in a shared mapping so that a node's worker
 * (a forked process, killed once) writes where the test reads. */
struct area {
	char trace[8192];
	size_t len;
	int crashed;                 /* the scripted crash happened */
	uint32_t p_id, p_gen;        /* P's ref before the crash */
	int inits, pings, crash_asked;
	int64_t got[N_SPAWNED];      /* pings answered per spawned index */
};
static struct area *A;
static act_test_t *T; /* NULL when the script runs under a node */

static void tr(const char *fmt, ...)
{
	va_list ap;
	size_t cap = sizeof A->trace - A->len;
	if (cap < 2)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(A->trace + A->len, cap - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	A->len += (size_t)n < cap - 1 ? (size_t)n : cap - 2;
	A->trace[A->len++] = ';';
	A->trace[A->len] = '\0';
}

/* A crash of the caller's group, the way each runtime has one. */
static void crash(act_ctx *ctx)
{
	if (T)
		act_test_crash(T, act_self(ctx));
	else
		raise(SIGKILL);
}

/* ---- spawnable behaviours: "worker" (permanent) and "temp" (temporary) ----- */

struct wstate { int32_t n; };

static int w_init(act_ctx *ctx, void *st, const char *args)
{
	tr("init %s %s", act_self_name(ctx), args ? args : "-");
	if (args && args[0] >= '1' && args[0] <= '9') {
		/* a chain of descendants: name + "k", depth - 1 */
		char name[80], depth[16];
		act_ref r;
		snprintf(name, sizeof name, "%sk", act_self_name(ctx));
		snprintf(depth, sizeof depth, "%d", atoi(args) - 1);
		return act_spawn(ctx, NULL, "worker", name, depth, &r);
	}
	return 0;
}
static void w_fini(act_ctx *ctx, void *st) { tr("fini %s", act_self_name(ctx)); }
static void w_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	tr("start %s r%d n%d", act_self_name(ctx), s->restart, s->n_restarts);
}
static void w_shutdown(act_ctx *ctx, void *st, const void *m)
{
	tr("shutdown %s", act_self_name(ctx));
}
static void w_ping(act_ctx *ctx, void *st, const void *m)
{
	struct wstate *s = st;
	const ping_msg *p = m;
	if (p->v == 1) {
		act_fail(ctx, "boom");
	} else if (p->v == 2) {
		act_stop_self(ctx);
	} else {
		s->n++;
		tr("ping %s n%d d%u", act_self_name(ctx), s->n, act_redelivered(ctx));
	}
}
static const act_handler w_h[] = {
	{ &act_start_type, w_start }, { &act_shutdown_type, w_shutdown }, { &ping_type, w_ping },
};
static const act_behaviour worker_b = {
	.name = "worker", .state_size = sizeof(struct wstate), .init = w_init, .fini = w_fini,
	.handlers = w_h, .n_handlers = 3, .restart = ACT_PERMANENT,
};
static const act_behaviour temp_b = {
	.name = "temp", .state_size = sizeof(struct wstate), .init = w_init, .fini = w_fini,
	.handlers = w_h, .n_handlers = 3, .restart = ACT_TEMPORARY,
};

/* ---- the script ---------------------------------------------------------------- */

static void boss_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	act_ref r, w1, w2, w3, w4, pa, pak, pakk, old, tenant, P, Tmp;
	uint64_t mid, mid4;
	ping_msg p = { 0 };

	tr("boss start r%d n%d sig%d", s->restart, s->n_restarts, s->last_signal);
	if (s->restart)
		return;
	tr("bad behaviour %d", act_spawn(ctx, NULL, "nope", NULL, NULL, &r));
	tr("bad group %d", act_spawn(ctx, "nogroup", "worker", NULL, NULL, &r));
	tr("bad args %d", act_spawn(ctx, NULL, "worker", NULL, "{", &r));
	tr("static name %d", act_spawn(ctx, NULL, "worker", "boss", NULL, &r));

	/* spawn: init, then Start at once (inside act_spawn) */
	tr("spawn w1 %d", act_spawn(ctx, NULL, "worker", "w1", "{\"k\":1}", &w1));
	tr("dup %d", act_spawn(ctx, NULL, "worker", "w1", NULL, &r));
	int rc = act_lookup(ctx, "w1", &r);
	tr("lookup %d same %d", rc, act_ref_eq(r, w1));
	act_send(ctx, w1, &ping_type, &p);
	/* stop: Shutdown, fini, then Down "stopped" once (the Ping above is
	 * already queued: a dead letter) */
	act_monitor(ctx, w1, &mid);
	tr("stop %d", act_stop(ctx, w1));
	tr("stop again %d", act_stop(ctx, w1));
	tr("send stopped %d", act_send(ctx, w1, &ping_type, &p));
	/* a monitor of an actor already gone: Down "noproc" at once */
	tr("monitor gone %d", act_monitor(ctx, w1, &mid));
	/* act_fail and act_stop_self */
	act_spawn(ctx, NULL, "worker", "w2", NULL, &w2);
	act_spawn(ctx, NULL, "worker", NULL, NULL, &w3);
	act_monitor(ctx, w2, &mid);
	act_monitor(ctx, w3, &mid);
	act_send(ctx, w2, &ping_type, &(ping_msg){ 1 });
	act_send(ctx, w3, &ping_type, &(ping_msg){ 2 });
	/* demonitor: no Down */
	act_spawn(ctx, NULL, "worker", "w4", NULL, &w4);
	act_monitor(ctx, w4, &mid4);
	rc = act_demonitor(ctx, mid4);
	tr("demonitor %d %d", rc, act_demonitor(ctx, mid4));
	act_stop(ctx, w4);
	/* a parent stops its children first, depth first */
	tr("chain %d", act_spawn(ctx, NULL, "worker", "pa", "2", &pa));
	act_lookup(ctx, "pak", &pak);
	act_lookup(ctx, "pakk", &pakk);
	act_monitor(ctx, pa, &mid);
	act_monitor(ctx, pak, &mid);
	act_monitor(ctx, pakk, &mid);
	rc = act_stop(ctx, pa);
	tr("stop pa %d, pakk %d", rc, act_lookup(ctx, "pakk", &r));
	/* a stale ref: the slot's next tenant never gets what was sent to it */
	act_spawn(ctx, NULL, "worker", "old", NULL, &old);
	act_send(ctx, old, &ping_type, &p); /* queued, then its receiver goes */
	act_stop(ctx, old);
	act_spawn(ctx, NULL, "worker", "tenant", NULL, &tenant);
	tr("same slot %d newer %d", tenant.id == old.id, tenant.gen > old.gen);
	tr("stale %d", act_send(ctx, old, &ping_type, &p));
	act_send(ctx, tenant, &ping_type, &p);
	act_send(ctx, tenant, &ping_type, &(ping_msg){ 2 });
	/* the crash: a permanent and a temporary spawned actor, envelopes
	 * queued to both behind the one that kills the group */
	act_spawn(ctx, NULL, "worker", "P", NULL, &P);
	act_spawn(ctx, NULL, "temp", "T", NULL, &Tmp);
	A->p_id = P.id;
	A->p_gen = P.gen;
	act_monitor(ctx, P, &mid);
	act_monitor(ctx, Tmp, &mid);
	act_send(ctx, act_self(ctx), &boom_type, &p);
	act_send(ctx, P, &ping_type, &p);
	act_send(ctx, Tmp, &ping_type, &p);
	act_send(ctx, P, &ping_type, &p);
}

static void boss_boom(act_ctx *ctx, void *st, const void *m)
{
	tr("boom d%u", act_redelivered(ctx));
	if (!A->crashed) {
		A->crashed = 1;
		crash(ctx);
	}
}

static void boss_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	act_ref r;

	tr("down %s %s", d->actor, d->reason);
	if (!strcmp(d->actor, "T")) {
		/* P came back under its old ref */
		act_ref t;
		int rc = act_lookup(ctx, "P", &r);
		int same = r.id == A->p_id && r.gen == A->p_gen;
		tr("P back %d same %d; T %d", rc, same, act_lookup(ctx, "T", &t));
		act_stop(ctx, r);
	} else if (!strcmp(d->actor, "P")) {
		act_shutdown(ctx);
	}
}

static const act_handler boss_h[] = {
	{ &act_start_type, boss_start }, { &boom_type, boss_boom }, { &act_down_type, boss_down },
};
static const act_behaviour boss_b = {
	.name = "boss", .handlers = boss_h, .n_handlers = 3,
};

static void script_under_testkit(char *out, size_t cap, size_t *dead)
{
	memset(A, 0, sizeof *A);
	T = act_test_new();
	act_ref boss;
	act_test_add_behaviour(T, &worker_b);
	act_test_add_behaviour(T, &temp_b);
	act_test_spawn(T, &boss_b, "boss", NULL, &boss);
	int n = act_test_run(T);
	if (n <= 0 || !act_test_shutdown_requested(T))
		diag("testkit run: %d, shutdown %d", n, act_test_shutdown_requested(T));
	*dead = act_test_dead_letters(T);
	act_test_free(T);
	T = NULL;
	snprintf(out, cap, "%s", A->trace);
}

static void script_under_node(char *out, size_t cap)
{
	memset(A, 0, sizeof *A);
	T = NULL;
	act_node_t *node = act_node_new("tkdyn");
	act_node_add_group(node, "main");
	act_node_add_actor(node, "main", "boss", &boss_b, NULL);
	act_node_add_group(node, "dog");
	act_node_add_actor(node, "dog", "watchdog", &harness_watchdog_b, NULL);
	act_node_add_behaviour(node, &worker_b);
	act_node_add_behaviour(node, &temp_b);
	harness_watchdog_ms = 30000;
	harness_collect_counters();
	int rc = act_node_run(node);
	act_node_free(node);
	if (rc)
		diag("node run: %d", rc);
	snprintf(out, cap, "%s", A->trace);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_script(void)
{
	static char t1[8192], t2[8192], tn[8192];
	size_t dead1, dead2;

	script_under_testkit(t1, sizeof t1, &dead1);
	script_under_testkit(t2, sizeof t2, &dead2);
	ok(!strcmp(t1, t2) && dead1 == dead2, "determinism: the same script twice, the same trace");
	diag("trace: %s", t1);
	ok(strstr(t1, "bad behaviour -2;bad group -2;bad args -22;static name -17;") != NULL,
	   "act_spawn's errors: unknown behaviour, unknown group, bad args, taken name");
	ok(strstr(t1, "init w1 {\"k\":1};start w1 r0 n0;spawn w1 0;") != NULL,
	   "a spawned actor's init gets its args, and Start runs inside act_spawn");
	ok(strstr(t1, "dup -17;lookup 0 same 1;") != NULL, "duplicate name -EEXIST; act_lookup finds it");
	ok(strstr(t1, "shutdown w1;fini w1;stop 0;stop again -2;send stopped -2;monitor gone 0;") != NULL,
	   "act_stop: Shutdown then fini; stopping or sending again: -ENOENT");
	ok(count(t1, "down w1 stopped;") == 1 && count(t1, "noproc;") == 1 &&
	   strstr(t1, "monitor gone 0;") && strstr(t1, ";down w1 stopped;down $1.0.1 noproc;"),
	   "Down 'stopped' exactly once; a monitor of the gone actor: Down 'noproc'");
	ok(count(t1, "down w2 failed: boom;") == 1, "act_fail: Down 'failed: boom'");
	ok(count(t1, ";down $1.1.1 normal;") == 1 && count(t1, " normal;") == 1,
	   "act_stop_self of an anonymous actor: Down 'normal' under its $ name");
	ok(strstr(t1, "demonitor 0 -2;") && !strstr(t1, ";down w4"), "act_demonitor: no Down");
	const char *dp = strstr(t1, "down pakk stopped;down pak stopped;down pa stopped;");
	ok(dp != NULL && strstr(t1, "stop pa 0, pakk -2;"),
	   "stopping a parent stops its children first, depth first");
	ok(strstr(t1, "same slot 1 newer 1;stale -2;") != NULL,
	   "a stopped actor's slot is reused with a newer generation; its old ref: -ENOENT");
	ok(count(t1, "ping tenant") == 1 && strstr(t1, "ping tenant n1 d0;") && !strstr(t1, "ping old"),
	   "the tenant gets only its own message; the one queued to the old ref is not delivered");
	ok(strstr(t1, "boom d0;init P -;boss start r1 n1 sig9;start P r1 n1;boom d1;"
	              "ping P n1 d0;ping P n2 d0;down w2 failed: boom;down $1.1.1 normal;"
	              "down T crashed: signal 9;P back 0 same 1; T -2;") != NULL,
	   "crash: P re-created (init, Start{restart}) under its ref, the crashing envelope "
	   "redelivered, P's queued envelopes reach the new P, T's monitor gets "
	   "Down 'crashed: signal 9'");
	ok(!strstr(t1, "ping T"), "the envelope queued to the lost temporary is not delivered");
	ok(dead1 == 3, "dead letters: the Pings queued to w1, old and T (%zu)", dead1);
	ok(strstr(t1, "down P stopped;") != NULL, "P's monitor survived the crash (it lives in P's record)");

	script_under_node(tn, sizeof tn);
	ok(!strcmp(t1, tn), "the same script under a real node gives the same trace");
	ok(counters[1].dead_letters == dead1, "and the same dead letters (%llu)",
	   (unsigned long long)counters[1].dead_letters);
	if (strcmp(t1, tn))
		diag("node trace: %s", tn);
}

/* ---- 10,000 spawned actors through a crash ------------------------------------- */

struct many { int32_t idx; };
static int many_init(act_ctx *ctx, void *st, const char *args)
{
	struct many *s = st;
	s->idx = args ? atoi(args) : -1;
	A->inits++;
	return 0;
}
static void many_ping(act_ctx *ctx, void *st, const void *m)
{
	struct many *s = st;
	const ping_msg *p = m;
	if (s->idx >= 0 && s->idx < N_SPAWNED)
		A->got[s->idx] += p->v;
	A->pings++;
	if (p->v == 9 && !A->crash_asked) {
		/* a crash asked for by a spawned actor's own handler */
		A->crash_asked = 1;
		act_test_crash(T, act_self(ctx));
	}
}
static const act_handler many_h[] = { { &ping_type, many_ping } };
static const act_behaviour many_b = {
	.name = "many", .state_size = sizeof(struct many), .init = many_init,
	.handlers = many_h, .n_handlers = 1,
};

static act_ref spawned[N_SPAWNED];
static int n_spawned, spawn_err;

static void parent_go(act_ctx *ctx, void *st, const void *m)
{
	char args[16];
	for (int i = 0; i < N_SPAWNED; i++) {
		snprintf(args, sizeof args, "%d", i);
		int rc = act_spawn(ctx, "test", "many", NULL, args, &spawned[i]);
		if (rc) {
			spawn_err = rc;
			break;
		}
		n_spawned++;
	}
}
static const act_handler parent_h[] = { { &ping_type, parent_go } };
static const act_behaviour parent_b = { .name = "parent", .handlers = parent_h, .n_handlers = 1 };

static void test_many(void)
{
	act_ref parent, x;
	int rc = 0;

	memset(A, 0, sizeof *A);
	T = act_test_new();
	ok(act_test_add_behaviour(T, &many_b) == 0 && act_test_add_behaviour(T, &many_b) == 0,
	   "act_test_add_behaviour, twice: 0");
	act_behaviour clash = many_b;
	ok(act_test_add_behaviour(T, &clash) == -EEXIST && act_test_add_behaviour(T, NULL) == -EINVAL,
	   "another behaviour of that name: -EEXIST; NULL: -EINVAL");
	act_test_spawn(T, &parent_b, "parent", NULL, &parent);
	for (int i = 0; i < N_STATIC && !rc; i++) {
		char name[32];
		snprintf(name, sizeof name, "static%d", i);
		rc = act_test_spawn(T, &many_b, name, "-1", &x);
	}
	ok(rc == 0, "%d actors made by the test (%d)", N_STATIC, rc);
	act_test_send(T, ACT_NOBODY, parent, &ping_type, &(ping_msg){ 0 });
	act_test_run(T);
	ok(n_spawned == N_SPAWNED && A->inits == N_STATIC + N_SPAWNED,
	   "%d actors spawned from one handler (%d, err %d)", N_SPAWNED, n_spawned, spawn_err);
	int sent = 0;
	for (int i = 0; i < N_SPAWNED; i++)
		sent += act_test_send(T, ACT_NOBODY, spawned[i], &ping_type, &(ping_msg){ 1 }) == 0;
	/* queued for every one of them: the crash comes first */
	ok(act_test_crash(T, spawned[N_SPAWNED / 2]) == 0,
	   "a crash of the group, named by one of its spawned actors");
	ok(A->inits == N_STATIC + 2 * N_SPAWNED, "every spawned actor's init ran again (%d)",
	   A->inits - N_STATIC - N_SPAWNED);
	act_test_run(T);
	int all = 1;
	for (int i = 0; i < N_SPAWNED; i++)
		all &= A->got[i] == 1;
	ok(sent == N_SPAWNED && all && A->pings == N_SPAWNED,
	   "each of the %d re-created actors got the envelope queued before the crash", N_SPAWNED);
	ok(act_test_state(T, spawned[7]) && ((struct many *)act_test_state(T, spawned[7]))->idx == 7,
	   "act_test_state of a spawned actor: its state, args applied again");
	size_t dl = act_test_dead_letters(T);

	/* a crash from a spawned actor's handler: at its return, the
	 * envelope redelivered to the new instance */
	act_test_send(T, ACT_NOBODY, spawned[3], &ping_type, &(ping_msg){ 9 });
	act_test_run(T);
	ok(A->crash_asked && A->got[3] == 1 + 9 + 9 && A->inits == N_STATIC + 3 * N_SPAWNED,
	   "a spawned actor's handler crashed its group: all re-created, its envelope redelivered");
	ok(act_test_dead_letters(T) == dl, "no dead letters on the way");
	act_ref stale = { spawned[0].id, 0, spawned[0].gen + 1 };
	ok(act_test_crash(T, stale) == -ENOENT && act_test_state(T, stale) == NULL &&
	   act_test_send(T, stale, parent, &ping_type, &(ping_msg){ 0 }) == -ENOENT,
	   "a stale ref names nothing: crash, state and send from it refused");
	int before = A->pings;
	ok(act_test_send(T, spawned[1], spawned[2], &ping_type, &(ping_msg){ 1 }) == 0 &&
	   act_test_run(T) == 1 && A->pings == before + 1 && A->got[2] == 2,
	   "act_test_send from one spawned actor to another");
	act_test_free(T);
	T = NULL;
}

/* ---- two testkits at once ------------------------------------------------------ */

static void tick_start(act_ctx *ctx, void *st, const void *m) { act_timer_once(ctx, 100, 1); }
static void tick_fire(act_ctx *ctx, void *st, const void *m)
{
	int64_t *at = st;
	*at = (int64_t)(act_now_ns() / 1000000u);
}
static const act_handler tick_h[] = { { &act_start_type, tick_start }, { &act_timeout_type, tick_fire } };
static const act_behaviour tick_b = {
	.name = "tick", .state_size = sizeof(int64_t), .handlers = tick_h, .n_handlers = 2,
};

static void test_two(void)
{
	act_test_t *a = act_test_new(), *b = act_test_new();
	act_ref ta, tb;

	act_test_spawn(a, &tick_b, "tick", NULL, &ta);
	act_test_spawn(b, &tick_b, "tick", NULL, &tb);
	act_test_advance(b, 50);
	act_test_advance(a, 100);
	int64_t *sa = act_test_state(a, ta), *sb = act_test_state(b, tb);
	ok(*sa == 100 && *sb == 0, "two testkits: each on its own clock (%lld, %lld)",
	   (long long)*sa, (long long)*sb);
	act_test_advance(b, 60);
	ok(*sb == 100 && act_test_now_ms(b) == 110 && act_test_now_ms(a) == 100,
	   "the second one's timer fires at its own 100 ms");
	act_test_free(a);
	act_test_free(b);
}

int main(void)
{
	tap_timeout(120);
	A = shared_area(sizeof *A);
	test_script();
	test_many();
	test_two();
	return done_testing();
}
