/* SPDX-License-Identifier: MIT */
/*
 * t/dynamic-restart.c - spawned actors across a clean restart of their
 * group: with one_for_all, a sibling's crash stops the group cleanly and
 * restarts it; its permanent spawned actors come back (same name and ref),
 * and the monitors of its temporary ones get Down "group restarted", as
 * those of its static actors in other groups do.
 */
#include <signal.h>
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"

#define N 10

typedef struct { int32_t v; } go_msg;
ACT_MESSAGE_TYPE(go_type, go_msg, "Go", ACT_FIELD(go_msg, v, ACT_I32));

struct area {
	_Atomic int inits, downs_stopped, downs_other, killed, same_refs, restarted, stopping;
	act_ref perm[N];
};
static struct area *A;

static int perm_init(act_ctx *ctx, void *st, const char *args)
{
	atomic_fetch_add(&A->inits, 1);
	return 0;
}
static const act_behaviour perm_b = { .name = "perm", .init = perm_init };
static const act_behaviour temp_b = { .name = "temp", .restart = ACT_TEMPORARY };

static void check_done(act_ctx *ctx)
{
	if (A->restarted && A->downs_stopped + A->downs_other == N && !atomic_exchange(&A->stopping, 1))
		act_shutdown(ctx);
}

static void parent_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	char name[16];
	act_ref r, trig;
	uint64_t mid;

	if (s->restart) {
		int same = 1;
		for (int i = 0; i < N; i++) {
			snprintf(name, sizeof name, "p%d", i);
			same &= act_lookup(ctx, name, &r) == 0 && act_ref_eq(r, A->perm[i]);
		}
		A->same_refs = same;
		A->restarted = 1;
		check_done(ctx);
		return;
	}
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "p%d", i);
		act_spawn(ctx, NULL, "perm", name, NULL, &A->perm[i]);
		if (act_spawn(ctx, NULL, "temp", NULL, NULL, &r) == 0)
			act_monitor(ctx, r, &mid);
	}
	go_msg g = { 1 };
	act_lookup(ctx, "trigger", &trig);
	act_send(ctx, trig, &go_type, &g);
}

static void parent_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	if (!strcmp(d->reason, "group restarted"))
		A->downs_stopped++;
	else
		A->downs_other++;
	check_done(ctx);
}
static const act_handler parent_h[] = {
	{ &act_start_type, parent_start }, { &act_down_type, parent_down },
};
static const act_behaviour parent_b = { .name = "parent", .handlers = parent_h, .n_handlers = 2 };

static void trigger_go(act_ctx *ctx, void *st, const void *m)
{
	if (!atomic_exchange(&A->killed, 1))
		raise(SIGKILL);
}
static const act_handler trigger_h[] = { { &go_type, trigger_go } };
static const act_behaviour trigger_b = { .name = "trigger", .handlers = trigger_h, .n_handlers = 1 };

int main(void)
{
	tap_timeout(60);
	A = shared_area(sizeof *A);
	act_node_t *node = act_node_new("dynrestart");
	act_node_add_group(node, "kids");
	act_node_add_group(node, "bomb");
	act_node_add_actor(node, "kids", "parent", &parent_b, NULL);
	act_node_add_actor(node, "bomb", "trigger", &trigger_b, NULL);
	act_node_add_behaviour(node, &perm_b);
	act_node_add_behaviour(node, &temp_b);
	act_node_set_strategy(node, ACT_ONE_FOR_ALL);
	act_node_set_intensity(node, 5, 10000);
	int rc = act_node_run(node);
	act_node_free(node);
	ok(rc == 0, "node stopped cleanly (rc %d)", rc);
	ok(A->killed == 1, "the sibling crashed, so the group was stopped and restarted");
	ok(A->inits == 2 * N, "permanent spawned actors came back (%d inits)", A->inits);
	ok(A->same_refs, "with the same names and refs");
	ok(A->downs_stopped == N && A->downs_other == 0,
	   "each temporary one's monitor got Down 'group restarted' once (%d, other %d)",
	   A->downs_stopped, A->downs_other);
	return done_testing();
}
