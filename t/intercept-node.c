/* SPDX-License-Identifier: MIT */
/*
 * t/intercept-node.c - interceptors on a real node: a node interceptor
 * runs in every group's worker around each handler (before in order,
 * after in reverse), drops what it refuses (the handler never sees it,
 * no dead letter, counted per interceptor and type in the region and
 * shown by the status answer), and sees the lifecycle: start, restart
 * after a SIGKILL of the worker, failure (act_fail) and stop.  Every
 * envelope is timed (ACTORS_STATS_SAMPLE=1): the per-type histograms
 * count them.
 */
#include <signal.h>
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"
#include "topic.h"
#include "topics.h"

typedef struct { int32_t v; } ping_msg;
ACT_MESSAGE_TYPE(ping_type, ping_msg, "Ping", ACT_FIELD(ping_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(secret_type, ping_msg, "Secret", ACT_FIELD(ping_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(die_type, ping_msg, "Die", ACT_FIELD(ping_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(fail_type, ping_msg, "FailNow", ACT_FIELD(ping_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(done_type, ping_msg, "Done", ACT_FIELD(ping_msg, v, ACT_I32));

#define N_PING 50

struct area {
	char ev[4096];
	_Atomic size_t len;
	_Atomic int pings, secrets, befores, afters, bad_order, crashed, watchdog;
	uint64_t secret_drops, ping_timed, ping_dropped;
	char status[8192];
};
static struct area *A;

static void ev(const char *s)
{
	size_t n = strlen(s), at = atomic_fetch_add(&A->len, n + 1);
	if (at + n + 1 < sizeof A->ev) {
		memcpy(A->ev + at, s, n);
		A->ev[at + n] = ' ';
	}
}

/* Two interceptors: "outer" logs lifecycle events of the worker actor;
 * "guard" drops Secret.  The order is checked with a per-process depth. */
static int depth;

static int outer_before(act_ctx *ctx, void *u, const act_type *t, const void *m, const char **why)
{
	if (depth != 0)
		A->bad_order++;
	depth = 1;
	A->befores++;
	return 0;
}
static void outer_after(act_ctx *ctx, void *u, const act_type *t, const void *m, uint64_t ns)
{
	if (depth != 1)
		A->bad_order++;
	depth = 0;
	A->afters++;
}
static int guard_before(act_ctx *ctx, void *u, const act_type *t, const void *m, const char **why)
{
	if (depth != 1)
		A->bad_order++;
	if (t == &secret_type) {
		*why = "secrets are not for handlers";
		depth = 0; /* no after() comes for a drop */
		return -1;
	}
	depth = 2;
	return 0;
}
static void guard_after(act_ctx *ctx, void *u, const act_type *t, const void *m, uint64_t ns)
{
	if (depth != 2)
		A->bad_order++;
	depth = 1;
}
static bool is_worker(act_ctx *ctx) { return !strcmp(act_self_name(ctx), "worker"); }
static void on_start(act_ctx *ctx, void *u) { if (is_worker(ctx)) ev("start"); }
static void on_restart(act_ctx *ctx, void *u, const act_start *s)
{
	if (is_worker(ctx))
		ev(s->last_signal == SIGKILL ? "restart(SIGKILL)" : "restart(?)");
}
static void on_stop(act_ctx *ctx, void *u) { if (is_worker(ctx)) ev("stop"); }
static void on_failure(act_ctx *ctx, void *u, const char *why) { if (is_worker(ctx)) ev("failure"); }

static const act_interceptor outer = {
	ACT_INTERCEPTOR_INIT, .name = "outer", .before = outer_before, .after = outer_after,
	.on_start = on_start, .on_restart = on_restart, .on_stop = on_stop, .on_failure = on_failure,
};
static const act_interceptor guard = {
	ACT_INTERCEPTOR_INIT, .name = "guard", .before = guard_before, .after = guard_after,
};

/* ---- actors ------------------------------------------------------------------ */

static void w_ping(act_ctx *ctx, void *st, const void *m) { A->pings++; }
static void w_secret(act_ctx *ctx, void *st, const void *m) { A->secrets++; }
static void w_die(act_ctx *ctx, void *st, const void *m)
{
	if (act_redelivered(ctx) == 0) {
		A->crashed = 1;
		kill(getpid(), SIGKILL);
	}
}
static void w_fail(act_ctx *ctx, void *st, const void *m) { act_fail(ctx, "asked to"); }
static const act_handler worker_h[] = {
	{ &ping_type, w_ping }, { &secret_type, w_secret }, { &die_type, w_die }, { &fail_type, w_fail },
};
static const act_behaviour worker_b = { .name = "worker", .handlers = worker_h, .n_handlers = 4 };

static void c_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	act_ref w, self = act_self(ctx);
	if (s->restart || act_lookup(ctx, "worker", &w))
		return;
	for (int i = 0; i < N_PING; i++) {
		act_send(ctx, w, &ping_type, &(ping_msg){ i });
		act_send(ctx, w, &secret_type, &(ping_msg){ i });
	}
	act_send(ctx, w, &die_type, &(ping_msg){ 0 });
	act_send(ctx, w, &fail_type, &(ping_msg){ 0 });
	act_send(ctx, self, &done_type, &(ping_msg){ 0 });
}
static void c_done(act_ctx *ctx, void *st, const void *m)
{
	/* Until the worker's group came back and the failure was seen. */
	if (!strstr(A->ev, "stop")) {
		act_timer_once(ctx, 5, 1);
		return;
	}
	act_shutdown(ctx);
}
static void c_timeout(act_ctx *ctx, void *st, const void *m) { c_done(ctx, st, m); }
static const act_handler client_h[] = {
	{ &act_start_type, c_start }, { &done_type, c_done }, { &act_timeout_type, c_timeout },
};
static const act_behaviour client_b = { .name = "client", .handlers = client_h, .n_handlers = 3 };

static void inspect(struct act_node *n)
{
	harness_inspect(n);
	cJSON *st = cJSON_CreateObject();
	act__topics_status(n, st);
	char *text = cJSON_PrintUnformatted(st);
	if (text)
		snprintf(A->status, sizeof A->status, "%s", text);
	free(text);
	cJSON_Delete(st);
	struct act__gstat *gs = act__xa_gstat(n->shm.xa, 2);
	uint32_t sid = act__reg_type_id(&n->reg, &secret_type), pid = act__reg_type_id(&n->reg, &ping_type);
	A->secret_drops = atomic_load(&gs->ic_drops[1][sid]);
	A->ping_timed = atomic_load(&gs->types[pid].n_timed);
	A->ping_dropped = atomic_load(&gs->types[pid].n_dropped);
}

int main(void)
{
	tap_timeout(120);
	setenv("ACTORS_STATS_SAMPLE", "1", 1);
	A = shared_area(sizeof *A);
	harness_watchdog_fired = &A->watchdog;
	harness_watchdog_ms = 60000;
	act_node_t *node = act_node_new("icept");
	act_node_add_group(node, "front");
	act_node_add_group(node, "back");
	act_node_add_actor(node, "front", "client", &client_b, NULL);
	act_node_add_actor(node, "front", "watchdog", &harness_watchdog_b, NULL);
	act_node_add_actor(node, "back", "worker", &worker_b, NULL);
	act_node_set_intensity(node, 5, 10000);
	ok(act_node_add_interceptor(node, &outer) == 0 && act_node_add_interceptor(node, &guard) == 0,
	   "two node interceptors added");
	ok(act_node_add_interceptor(node, &guard) == -EEXIST, "the same one twice: -EEXIST");
	act__node_inspect_hook = inspect;
	int rc = act_node_run(node);
	ok(act_node_add_interceptor(node, &guard) == -EBUSY, "after the run: -EBUSY (frozen)");
	act_node_free(node);

	ok(rc == 0 && !A->watchdog, "node stopped cleanly (rc %d, watchdog %d)", rc, A->watchdog);
	ok(A->pings == N_PING, "every Ping reached its handler (%d)", A->pings);
	ok(A->secrets == 0, "no Secret reached its handler (%d)", A->secrets);
	ok(A->bad_order == 0, "before in registration order, after in reverse, in every worker (%d bad)",
	   A->bad_order);
	/* not for the drops, nor for the Die whose handler never returned */
	ok(A->befores >= 2 * N_PING + 3 && A->afters == A->befores - N_PING - 1,
	   "after ran for each message that was not dropped (%d before, %d after)", A->befores, A->afters);
	ok(A->secret_drops == N_PING, "the region counts %llu drops of Secret by 'guard'",
	   (unsigned long long)A->secret_drops);
	ok(counters[2].dead_letters == 0, "drops are not dead letters (%llu)",
	   (unsigned long long)counters[2].dead_letters);
	ok(A->ping_timed == N_PING && A->ping_dropped == 0, "every Ping was timed for the per-type "
	   "histogram (%llu)", (unsigned long long)A->ping_timed);
	A->ev[sizeof A->ev - 1] = '\0';
	ok(A->crashed && !strncmp(A->ev, "start restart(SIGKILL) failure stop", 35),
	   "lifecycle: start, restart after the SIGKILL, failure, stop: %s", A->ev);
	ok(strstr(A->status, "\"interceptors\":{\"front\":[\"outer\",\"guard\"],\"back\":[\"outer\",\"guard\"]}") != NULL,
	   "the status answer lists each group's interceptors");
	ok(strstr(A->status, "\"group\":\"back\",\"type\":\"Secret\"") != NULL &&
	   strstr(A->status, "\"dropped\":50,\"dropped_by\":{\"guard\":50}") != NULL,
	   "and the drops per type and interceptor: %.300s", A->status);
	return done_testing();
}
