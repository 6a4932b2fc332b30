/* SPDX-License-Identifier: MIT */
/*
 * t/forged-gone.c - a "group gone" system record that does not come from
 * the supervisor is ignored and counted as corrupt.
 *
 * Groups "forgers" (actor forger), "watchers" (actor watcher) and
 * "targets" (actor target).  The watcher monitors the target, then asks
 * the forger to write, straight into its ring to the watchers' group, an
 * ACT__SYS_GROUP_GONE naming the targets' group (as only the supervisor
 * may: a buggy or hostile module could).  Believed, it would end the
 * monitor with a Down "group stopped" while the target lives (or, flagged
 * as a restart with a ring position never reached, keep the watchers'
 * worker polling for good).  The watcher then checks, after a chain of
 * messages to itself that comes after any Down the record could have
 * made, that no Down came, and its group counted one corrupt record.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"
#include "envelope.h"
#include "worker-int.h"

struct shared {
	_Atomic int watchdog;
	_Atomic int monitored, forged, checked;
	_Atomic int downs;
	_Atomic uint64_t corrupt;
};
static struct shared *A;

typedef struct { int32_t step; } step_t;
ACT_MESSAGE_TYPE(go_type, step_t, "ForgeGo", ACT_FIELD(step_t, step, ACT_I32));
ACT_MESSAGE_TYPE(check_type, step_t, "ForgeCheck", ACT_FIELD(step_t, step, ACT_I32));
ACT_MESSAGE_TYPE(ping_type, step_t, "ForgePing", ACT_FIELD(step_t, step, ACT_I32));

static void fail_now(act_ctx *ctx)
{
	act_shutdown(ctx);
}

/* ---- target: lives on, answers a Ping ------------------------------------------ */

static void target_ping(act_ctx *ctx, void *st, const void *m)
{
	(void)st;
	act_reply(ctx, &ping_type, m);
}
static const act_handler target_h[] = { { &ping_type, target_ping } };
static const act_behaviour target_b = { .name = "target", .handlers = target_h, .n_handlers = 1 };

/* ---- forger: writes the record the supervisor alone may write ------------------ */

static void forger_go(act_ctx *ctx, void *st, const void *m)
{
	struct worker *w = ctx->w;
	act_ref watcher, target;
	int err;
	(void)st, (void)m;

	if (act_lookup(ctx, "watcher", &watcher) || act_lookup(ctx, "target", &target)) {
		fail_now(ctx);
		return;
	}
	uint32_t wg = act__w_group_of(w, watcher.id - 1), tg = act__w_group_of(w, target.id - 1);
	struct act__env *e = act__ring_reserve(&w->out[wg], sizeof *e, &err);
	if (!e) {
		fail_now(ctx);
		return;
	}
	act__env_write(e, ACT__REC_SYS, sizeof *e,
	               &(struct act__route){ .type = ACT__SYS_GROUP_GONE, .to = tg });
	act__ring_commit(&w->out[wg], e);
	act__w_notify(w, wg);
	atomic_store(&A->forged, 1);
	/* After the forged record, in the same ring: the watcher's cue. */
	step_t c = { 1 };
	if (act_send(ctx, watcher, &check_type, &c))
		fail_now(ctx);
}
static const act_handler forger_h[] = { { &go_type, forger_go } };
static const act_behaviour forger_b = { .name = "forger", .handlers = forger_h, .n_handlers = 1 };

/* ---- watcher -------------------------------------------------------------------- */

static void watcher_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref target, forger;
	uint64_t id;
	step_t go = { 0 };
	(void)st, (void)m;
	if (act_lookup(ctx, "target", &target) || act_monitor(ctx, target, &id) ||
	    act_lookup(ctx, "forger", &forger) || act_send(ctx, forger, &go_type, &go)) {
		fail_now(ctx);
		return;
	}
	atomic_store(&A->monitored, 1);
}

static void watcher_down(act_ctx *ctx, void *st, const void *m)
{
	(void)ctx, (void)st, (void)m;
	atomic_fetch_add(&A->downs, 1);
}

/*
 * Check 1 comes after the forged record (same ring); a Down it made would
 * be written into our own ring at the end of that loop round, before the
 * Check 2 we send ourselves in the next round is written: so by Check 3
 * every such Down has been handled.
 */
static void watcher_check(act_ctx *ctx, void *st, const void *m)
{
	const step_t *c = m;
	(void)st;
	if (c->step < 3) {
		step_t next = { c->step + 1 };
		if (act_send(ctx, act_self(ctx), &check_type, &next))
			fail_now(ctx);
		return;
	}
	atomic_store(&A->corrupt, atomic_load(&ctx->w->part->n_corrupt));
	atomic_store(&A->checked, 1);
	act_shutdown(ctx);
}
static const act_handler watcher_h[] = {
	{ &act_start_type, watcher_start }, { &act_down_type, watcher_down },
	{ &check_type, watcher_check },
};
static const act_behaviour watcher_b = { .name = "watcher", .handlers = watcher_h, .n_handlers = 3 };

int main(void)
{
	tap_timeout(60);
	A = shared_area(sizeof *A);

	act_node_t *n = act_node_new("forged-gone");
	act_node_add_group(n, "targets");
	act_node_add_group(n, "forgers");
	act_node_add_group(n, "watchers");
	act_node_add_actor(n, "targets", "target", &target_b, NULL);
	act_node_add_actor(n, "forgers", "forger", &forger_b, NULL);
	act_node_add_actor(n, "watchers", "watcher", &watcher_b, NULL);
	act_node_add_actor(n, "targets", "watchdog", &harness_watchdog_b, NULL);
	harness_watchdog_fired = &A->watchdog;
	int rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0, "node ran and stopped cleanly (rc %d)", rc);
	ok(!A->watchdog, "the watcher stopped the node itself (no watchdog)");
	ok(A->monitored && A->forged && A->checked,
	   "the watcher monitored the target, the forger wrote the record, the watcher checked");
	ok(A->downs == 0, "no Down for the monitor of the living target (%d)", A->downs);
	ok(A->corrupt == 1, "the watchers' group counted the forged record as corrupt (%llu)",
	   (unsigned long long)A->corrupt);
	return done_testing();
}
