/* SPDX-License-Identifier: MIT */
/*
 * t/dynamic-names.c - the node-wide name index under churn: 20000 unique
 * names spawned and stopped in a group whose index has 128 entries (more
 * than 150 times its size), with 10 long-lived named actors in it:
 *  - the index does not fill with dead entries (it is rebuilt: filled
 *    entries stay at most 3/4 of it);
 *  - every long-lived name stays taken all along (-EEXIST from its own
 *    group and from another), and each churned name is free again after
 *    its stop (spawned a second time);
 *  - names spawned into the group from another group are guarded too.
 */
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"

#define N_CYCLES 20000
#define N_KEEP 10
#define SLOTS 64 /* max_spawned of group a: an index of 128 entries */

typedef struct { int32_t v; } go_msg;
ACT_MESSAGE_TYPE(go_type, go_msg, "Go", ACT_FIELD(go_msg, v, ACT_I32));

struct area {
	_Atomic int fail, cycles, keep_eexist, keep_missed, again_ok, probe_eexist, probe_other;
	_Atomic int x_spawned, x_eexist;
	uint32_t used, filled, n_idx;
};
static struct area *A;

static const act_behaviour idle_b = { .name = "idle", .restart = ACT_PERMANENT };

static void inspect(struct act_node *n)
{
	struct act__dyn_hdr *d = act__shm_dyn(&n->shm, 1);
	struct act__name_ent *idx = (struct act__name_ent *)((unsigned char *)d + 4096u);
	A->n_idx = act__dyn_name_idx(act__shm_dyn_slots(&n->shm, 1));
	A->used = d->name_used;
	for (uint32_t i = 0; i < A->n_idx; i++)
		A->filled += idx[i].slot1 != 0;
}

/* group b: checks that every long-lived name of group a is taken, and
 * spawns a few named actors into a */
static void probe_go(act_ctx *ctx, void *st, const void *m)
{
	char name[32];
	act_ref r;
	for (int k = 0; k < N_KEEP; k++) {
		snprintf(name, sizeof name, "keep-%d", k);
		int rc = act_spawn(ctx, "a", "idle", name, NULL, &r);
		if (rc == -EEXIST)
			A->probe_eexist++;
		else
			A->probe_other++;
	}
	snprintf(name, sizeof name, "x-%d", ((const go_msg *)m)->v);
	if (act_spawn(ctx, "a", "idle", name, NULL, &r) == 0) {
		A->x_spawned++;
		/* and a second time: taken */
		if (act_spawn(ctx, "a", "idle", name, NULL, &r) == -EEXIST)
			A->x_eexist++;
		act_stop(ctx, r);
	}
}
static const act_handler probe_h[] = { { &go_type, probe_go } };
static const act_behaviour probe_b = { .name = "probe", .handlers = probe_h, .n_handlers = 1 };

static void churn_start(act_ctx *ctx, void *st, const void *m)
{
	char name[32];
	act_ref r;
	for (int k = 0; k < N_KEEP; k++) {
		snprintf(name, sizeof name, "keep-%d", k);
		if (act_spawn(ctx, NULL, "idle", name, NULL, &r))
			A->fail++;
	}
	act_timer_periodic(ctx, 1, 1);
}

static void churn_tick(act_ctx *ctx, void *st, const void *m)
{
	char name[32];
	act_ref r, probe;

	for (int i = 0; i < 1000 && A->cycles < N_CYCLES; i++) {
		int c = A->cycles++;
		snprintf(name, sizeof name, "u-%d", c);
		if (act_spawn(ctx, NULL, "idle", name, NULL, &r) || act_stop(ctx, r)) {
			A->fail++;
			continue;
		}
		if (c % 997 == 0) {
			/* its name is free again at once; a long-lived one is not */
			if (act_spawn(ctx, NULL, "idle", name, NULL, &r) == 0 && act_stop(ctx, r) == 0)
				A->again_ok++;
			snprintf(name, sizeof name, "keep-%d", c % N_KEEP);
			if (act_spawn(ctx, NULL, "idle", name, NULL, &r) == -EEXIST)
				A->keep_eexist++;
			else
				A->keep_missed++;
			if (act_lookup(ctx, "probe", &probe) ||
			    act_send(ctx, probe, &go_type, &(go_msg){ c }))
				A->fail++;
		}
	}
	if (A->cycles >= N_CYCLES && A->probe_eexist + A->probe_other >= 21 * N_KEEP)
		act_shutdown(ctx);
}

static const act_handler churn_h[] = {
	{ &act_start_type, churn_start }, { &act_timeout_type, churn_tick },
};
static const act_behaviour churn_b = { .name = "churn", .handlers = churn_h, .n_handlers = 2 };

int main(void)
{
	tap_timeout(90);
	A = shared_area(sizeof *A);
	static _Atomic int *fired;
	fired = shared_area(sizeof *fired);
	harness_watchdog_fired = fired;
	harness_watchdog_ms = 60000;
	act_node_t *node = act_node_new("names");
	act_node_add_group(node, "a");
	act_node_add_group(node, "b");
	act_node_add_actor(node, "a", "churn", &churn_b, NULL);
	act_node_add_actor(node, "a", "watchdog", &harness_watchdog_b, NULL);
	act_node_add_actor(node, "b", "probe", &probe_b, NULL);
	act_node_add_behaviour(node, &idle_b);
	act_node_set_max_spawned(node, "a", SLOTS);
	act__node_inspect_hook = inspect;
	int rc = act_node_run(node);
	act_node_free(node);

	ok(rc == 0 && !*fired, "node stopped cleanly (rc %d, watchdog %d)", rc, *fired);
	ok(A->fail == 0 && A->cycles == N_CYCLES, "%d unique names spawned and stopped in a group of "
	   "%d slots (%d failures)", A->cycles, SLOTS, A->fail);
	ok(A->n_idx == 2 * SLOTS && A->filled <= A->n_idx - A->n_idx / 4 && A->used == A->filled,
	   "its name index (%u entries) did not fill with dead entries: %u filled (counted %u)",
	   A->n_idx, A->filled, A->used);
	ok(A->keep_eexist == 21 && A->keep_missed == 0,
	   "the long-lived names stayed taken all along, in their group (%d, missed %d)",
	   A->keep_eexist, A->keep_missed);
	ok(A->probe_eexist == 21 * N_KEEP && A->probe_other == 0,
	   "and from another group (%d, other %d)", A->probe_eexist, A->probe_other);
	ok(A->again_ok == 21, "a churned name is free again after its stop (%d)", A->again_ok);
	ok(A->x_spawned == 21 && A->x_eexist == 21,
	   "names spawned from another group are guarded too (%d, %d)", A->x_spawned, A->x_eexist);
	return done_testing();
}
