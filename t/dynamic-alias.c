/* SPDX-License-Identifier: MIT */
/*
 * t/dynamic-alias.c - refs never alias, across stops and across a crash.
 * 100,000 spawn/stop cycles run through the same 64 slots; then 64
 * temporary and 64 permanent actors take slots, envelopes are queued to
 * them, and the worker is SIGKILLed.  The restarted worker spawns 64 new
 * tenants into the slots the lost temporary actors held, before it reads
 * its rings.  Every envelope names the ref it was sent to, so a delivery to
 * any other actor is caught: the queued envelopes reach the permanent
 * actors (same refs) and none of the tenants; stale refs are refused with
 * -ENOENT in the group and become dead letters from another group; the
 * monitors of the lost actors get Down "crashed: signal 9" once each.
 */
#include <signal.h>
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"

#define W 64
#define N_CYCLES 100000
#define N_ROUNDS ((N_CYCLES + W - 1) / W)
#define N_OLD (N_ROUNDS * W)
#define PROBE_EVERY 50

typedef struct { int32_t id, gen; } ping_msg;
ACT_MESSAGE_TYPE(ping_type, ping_msg, "Ping", ACT_FIELD(ping_msg, id, ACT_I32),
                 ACT_FIELD(ping_msg, gen, ACT_I32));
typedef struct { int32_t op; } op_msg;
ACT_MESSAGE_TYPE(op_type, op_msg, "Op", ACT_FIELD(op_msg, op, ACT_I32));
enum { OP_DIE, OP_PROBE, OP_PROBED, OP_FIN };

struct ref32 { uint32_t id, gen; };

struct area {
	struct ref32 old[N_OLD], temp[W], perm[W], tenant[W];
	_Atomic int n_old, spawn_fail, kills, restarted;
	_Atomic int wrong, to_tenant, to_perm, to_temp;
	_Atomic int stale_enoent, stale_checked, probe_sent, probe_tried, same_slots, newer_gen;
	_Atomic int downs_crashed, downs_other, perm_same;
};
static struct area *A;

static act_ref ref_of(struct ref32 r) { return (act_ref){ r.id, 0, r.gen }; }
static struct ref32 r32(act_ref r) { return (struct ref32){ r.id, r.gen }; }

static void ping(act_ctx *ctx, act_ref to)
{
	ping_msg p = { (int32_t)to.id, (int32_t)to.gen };
	act_send(ctx, to, &ping_type, &p);
}

/* ---- cells: every envelope says which ref it was meant for -------------------- */

struct cell { int kind; };

static int cell_init(act_ctx *ctx, void *st, const char *args)
{
	struct cell *c = st;
	c->kind = args ? atoi(args) : 0;
	return 0;
}
static void cell_ping(act_ctx *ctx, void *st, const void *m)
{
	struct cell *c = st;
	const ping_msg *p = m;
	act_ref me = act_self(ctx);
	if ((uint32_t)p->id != me.id || (uint32_t)p->gen != me.gen) {
		A->wrong++;
		return;
	}
	if (c->kind == 1)
		A->to_perm++;
	else if (c->kind == 2)
		A->to_tenant++;
	else
		A->to_temp++;
}
static const act_handler cell_h[] = { { &ping_type, cell_ping } };
static const act_behaviour temp_b = {
	.name = "tcell", .state_size = sizeof(struct cell), .init = cell_init,
	.handlers = cell_h, .n_handlers = 1, .restart = ACT_TEMPORARY,
};
static const act_behaviour perm_b = {
	.name = "pcell", .state_size = sizeof(struct cell), .init = cell_init,
	.handlers = cell_h, .n_handlers = 1, .restart = ACT_PERMANENT,
};

/* ---- the owner ------------------------------------------------------------------- */

static void op(act_ctx *ctx, act_ref to, int o)
{
	op_msg m = { o };
	act_send(ctx, to, &op_type, &m);
}

static void owner_first(act_ctx *ctx)
{
	act_ref r[W], self = act_self(ctx);
	uint64_t mid;
	char name[16];

	for (int round = 0; round < N_ROUNDS; round++) {
		for (int i = 0; i < W; i++) {
			if (act_spawn(ctx, NULL, "tcell", NULL, NULL, &r[i])) {
				A->spawn_fail++;
				return;
			}
			A->old[A->n_old++] = r32(r[i]);
		}
		for (int i = W; i-- > 0;)
			act_stop(ctx, r[i]);
	}
	for (int i = 0; i < W; i++) {
		snprintf(name, sizeof name, "p%d", i);
		if (act_spawn(ctx, NULL, "tcell", NULL, "0", &r[i]) || act_monitor(ctx, r[i], &mid)) {
			A->spawn_fail++;
			return;
		}
		A->temp[i] = r32(r[i]);
		if (act_spawn(ctx, NULL, "pcell", name, "1", &r[i])) {
			A->spawn_fail++;
			return;
		}
		A->perm[i] = r32(r[i]);
	}
	/* Die first: these envelopes are still queued when the worker dies. */
	op(ctx, self, OP_DIE);
	for (int i = 0; i < W; i++)
		for (int k = 0; k < 3; k++) {
			ping(ctx, ref_of(A->temp[i]));
			ping(ctx, ref_of(A->perm[i]));
		}
}

static void owner_restarted(act_ctx *ctx)
{
	act_ref r, probe;
	int same = 0, newer = 0, enoent = 0, checked = 0, perm_same = 0;
	char name[16];

	A->restarted++;
	/* New tenants first, before any queued envelope is delivered: they
	 * take the slots the lost temporary actors held (the most recently
	 * freed). */
	for (int i = 0; i < W; i++) {
		if (act_spawn(ctx, NULL, "tcell", NULL, "2", &r)) {
			A->spawn_fail++;
			return;
		}
		A->tenant[i] = r32(r);
		for (int j = 0; j < W; j++)
			if (A->temp[j].id == r.id) {
				same++;
				newer += r.gen > A->temp[j].gen;
			}
		ping(ctx, r);
	}
	for (int i = 0; i < W; i++) {
		snprintf(name, sizeof name, "p%d", i);
		perm_same += act_lookup(ctx, name, &r) == 0 && act_ref_eq(r, ref_of(A->perm[i]));
	}
	A->same_slots = same;
	A->newer_gen = newer;
	A->perm_same = perm_same;
	/* Every stale ref, from this group: refused. */
	ping_msg p = { 0, 0 };
	for (int i = 0; i < A->n_old; i++, checked++)
		enoent += act_send(ctx, ref_of(A->old[i]), &ping_type, &p) == -ENOENT;
	for (int i = 0; i < W; i++, checked++)
		enoent += act_send(ctx, ref_of(A->temp[i]), &ping_type, &p) == -ENOENT;
	A->stale_enoent = enoent;
	A->stale_checked = checked;
	if (act_lookup(ctx, "probe", &probe) == 0)
		op(ctx, probe, OP_PROBE);
}

static void owner_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	if (s->restart)
		owner_restarted(ctx);
	else
		owner_first(ctx);
}

static void owner_op(act_ctx *ctx, void *st, const void *m)
{
	const op_msg *o = m;
	if (o->op == OP_DIE && act_redelivered(ctx) == 0) {
		A->kills++;
		raise(SIGKILL);
	} else if (o->op == OP_PROBED) {
		/* the probe's stale envelopes came before this, on the same ring */
		op(ctx, act_self(ctx), OP_FIN);
	} else if (o->op == OP_FIN) {
		act_shutdown(ctx);
	}
}

static void owner_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	if (!strcmp(d->reason, "crashed: signal 9"))
		A->downs_crashed++;
	else
		A->downs_other++;
}

static const act_handler owner_h[] = {
	{ &act_start_type, owner_start }, { &op_type, owner_op }, { &act_down_type, owner_down },
};
static const act_behaviour owner_b = { .name = "owner", .handlers = owner_h, .n_handlers = 3 };

/* ---- the probe, in another group: sends to stale refs ------------------------- */

static void probe_op(act_ctx *ctx, void *st, const void *m)
{
	int sent = 0, tried = 0;
	for (int i = 0; i < A->n_old; i += PROBE_EVERY, tried++)
		sent += act_send(ctx, ref_of(A->old[i]), &ping_type,
		                 &(ping_msg){ (int32_t)A->old[i].id, (int32_t)A->old[i].gen }) == 0;
	for (int i = 0; i < W; i++, tried++)
		sent += act_send(ctx, ref_of(A->temp[i]), &ping_type,
		                 &(ping_msg){ (int32_t)A->temp[i].id, (int32_t)A->temp[i].gen }) == 0;
	A->probe_sent = sent;
	A->probe_tried = tried;
	op(ctx, act_sender(ctx), OP_PROBED);
}
static const act_handler probe_h[] = { { &op_type, probe_op } };
static const act_behaviour probe_b = { .name = "probe", .handlers = probe_h, .n_handlers = 1 };

int main(void)
{
	tap_timeout(120);
	A = shared_area(sizeof *A);
	act_node_t *node = act_node_new("alias");
	act_node_add_group(node, "main");
	act_node_add_group(node, "other");
	act_node_add_actor(node, "main", "owner", &owner_b, NULL);
	act_node_add_actor(node, "other", "probe", &probe_b, NULL);
	ok(act_node_add_behaviour(node, &temp_b) == 0 && act_node_add_behaviour(node, &perm_b) == 0,
	   "behaviours registered");
	/* 100k spawns and stops in one handler: give a busy machine time. */
	act_node_set_heartbeat(node, "main", 100, 20000);
	harness_collect_counters();
	int rc = act_node_run(node);
	act_node_free(node);
	ok(rc == 0 && A->kills == 1 && A->restarted == 1 && !A->spawn_fail,
	   "node stopped cleanly after one SIGKILL (rc %d, %d kills, %d spawn failures)", rc,
	   A->kills, A->spawn_fail);
	ok(A->n_old == N_OLD, "%d spawn/stop cycles through %d slots", A->n_old, W);
	ok(A->same_slots == W && A->newer_gen == W,
	   "the new tenants took the lost actors' slots, with newer generations (%d, %d)",
	   A->same_slots, A->newer_gen);
	ok(A->wrong == 0, "no envelope ever reached an actor it was not sent to (%d)", A->wrong);
	ok(A->to_tenant == W, "each tenant got exactly its own envelope (%d)", A->to_tenant);
	ok(A->to_temp == 0, "the lost temporary actors' envelopes went nowhere (%d)", A->to_temp);
	ok(A->perm_same == W && A->to_perm == 3 * W,
	   "the permanent actors kept their refs and got their queued envelopes (%d)", A->to_perm);
	ok(A->stale_enoent == A->stale_checked && A->stale_checked == N_OLD + W,
	   "every stale ref refused in the group (%d of %d)", A->stale_enoent, A->stale_checked);
	ok(A->probe_sent == A->probe_tried && counters[1].dead_letters >= (uint64_t)(3 * W + A->probe_sent),
	   "stale and lost refs from another group: dead letters (%d sent, %llu dead)",
	   A->probe_sent, (unsigned long long)counters[1].dead_letters);
	ok(A->downs_crashed == W && A->downs_other == 0,
	   "each lost actor's monitor got Down 'crashed: signal 9' once (%d, %d other)",
	   A->downs_crashed, A->downs_other);
	return done_testing();
}
