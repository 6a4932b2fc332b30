/* SPDX-License-Identifier: MIT */
/*
 * t/dynamic-crash.c - the headline promise for spawned actors: a worker
 * holding 10,000 permanent and 1,000 temporary spawned actors, with
 * envelopes queued to all of them (from its own group and from another),
 * is killed.  The restarted worker re-creates every permanent actor (same
 * name and ref) before it reads its rings, so each gets both its
 * envelopes; every temporary actor's monitor gets Down "crashed: signal 9"
 * and the envelopes to it become dead letters.  The kill happens in the
 * middle of a second spawn: the record committed before it survives whole
 * (-EEXIST when re-spawned), the one being spawned leaves nothing.
 */
#include <signal.h>
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"

#define N_PERM 10000
#define N_TEMP 1000

typedef struct { int32_t v; } ping_msg;
ACT_MESSAGE_TYPE(ping_type, ping_msg, "Ping", ACT_FIELD(ping_msg, v, ACT_I32));
typedef struct { int32_t id, gen; } target_msg;
ACT_MESSAGE_TYPE(target_type, target_msg, "Target", ACT_FIELD(target_msg, id, ACT_I32),
                 ACT_FIELD(target_msg, gen, ACT_I32));
ACT_MESSAGE_TYPE(die_type, ping_msg, "Die", ACT_FIELD(ping_msg, v, ACT_I32));

struct area {
	_Atomic int spawn_fail, bombed, perm_inits, perm_restarted_inits, temp_pings;
	_Atomic int downs_crashed, downs_other, pings_total, whole_eexist, half_enoent,
	            whole_found, die_seen, stopping;
	_Atomic unsigned char perm_pings[N_PERM];
};
static struct area *A;

static void maybe_done(act_ctx *ctx)
{
	if (A->pings_total == 2 * N_PERM && A->downs_crashed == N_TEMP && A->die_seen == 2 &&
	    !atomic_exchange(&A->stopping, 1))
		act_shutdown(ctx);
}

/* ---- spawnable behaviours ----------------------------------------------------- */

struct pstate { int32_t idx; };

static int perm_init(act_ctx *ctx, void *st, const char *args)
{
	struct pstate *s = st;
	s->idx = args ? atoi(args) : -1;
	atomic_fetch_add(&A->perm_inits, 1);
	return 0;
}
static void perm_ping(act_ctx *ctx, void *st, const void *m)
{
	struct pstate *s = st;
	if (s->idx >= 0 && s->idx < N_PERM)
		atomic_fetch_add(&A->perm_pings[s->idx], 1);
	atomic_fetch_add(&A->pings_total, 1);
	maybe_done(ctx);
}
static const act_handler perm_h[] = { { &ping_type, perm_ping } };
static const act_behaviour perm_b = {
	.name = "perm", .state_size = sizeof(struct pstate), .init = perm_init,
	.handlers = perm_h, .n_handlers = 1, .restart = ACT_PERMANENT,
};

static void temp_ping(act_ctx *ctx, void *st, const void *m) { atomic_fetch_add(&A->temp_pings, 1); }
static const act_handler temp_h[] = { { &ping_type, temp_ping } };
static const act_behaviour temp_b = {
	.name = "temp", .handlers = temp_h, .n_handlers = 1, .restart = ACT_TEMPORARY,
};

/* init kills the worker mid-spawn, the first time */
static int bomb_init(act_ctx *ctx, void *st, const char *args)
{
	if (!atomic_exchange(&A->bombed, 1))
		raise(SIGKILL);
	return 0;
}
static const act_behaviour bomb_b = { .name = "bomb", .init = bomb_init };

/* ---- the parent (static) ------------------------------------------------------- */

static void parent_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	act_ref r, feeder, self = act_self(ctx);
	char name[32], args[16];
	ping_msg p = { 0 };
	uint64_t mid;

	if (s->restart)
		return;
	act_lookup(ctx, "feeder", &feeder);
	act_send(ctx, self, &die_type, &p); /* handled once everything is queued */
	for (int i = 0; i < N_PERM; i++) {
		snprintf(name, sizeof name, "p%d", i);
		snprintf(args, sizeof args, "%d", i);
		if (act_spawn(ctx, NULL, "perm", name, args, &r)) {
			A->spawn_fail++;
			continue;
		}
		act_send(ctx, r, &ping_type, &p);
		target_msg t = { (int32_t)r.id, (int32_t)r.gen };
		act_send(ctx, feeder, &target_type, &t);
	}
	for (int i = 0; i < N_TEMP; i++) {
		if (act_spawn(ctx, NULL, "temp", NULL, NULL, &r) || act_monitor(ctx, r, &mid)) {
			A->spawn_fail++;
			continue;
		}
		act_send(ctx, r, &ping_type, &p);
	}
}

static void parent_die(act_ctx *ctx, void *st, const void *m)
{
	act_ref r;
	A->die_seen++;
	if (act_redelivered(ctx) == 0) {
		/* Everything above is queued behind us: spawn one more actor
		 * (committed), then die inside the next spawn's init. */
		act_spawn(ctx, NULL, "perm", "whole", "-1", &r);
		act_spawn(ctx, NULL, "bomb", "half", NULL, &r);
		return; /* not reached */
	}
	A->whole_found = act_lookup(ctx, "whole", &r) == 0;
	A->half_enoent = act_lookup(ctx, "half", &r) == -ENOENT;
	A->whole_eexist = act_spawn(ctx, NULL, "perm", "whole", "-1", &r) == -EEXIST;
	A->die_seen = 2;
	maybe_done(ctx);
}

static void parent_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	if (!strcmp(d->reason, "crashed: signal 9"))
		A->downs_crashed++;
	else
		A->downs_other++;
	maybe_done(ctx);
}

static const act_handler parent_h[] = {
	{ &act_start_type, parent_start }, { &die_type, parent_die }, { &act_down_type, parent_down },
};
static const act_behaviour parent_b = { .name = "parent", .handlers = parent_h, .n_handlers = 3 };

/* ---- the feeder (another group) ------------------------------------------------ */

static void feeder_target(act_ctx *ctx, void *st, const void *m)
{
	const target_msg *t = m;
	ping_msg p = { 0 };
	if (act_send(ctx, (act_ref){ (uint32_t)t->id, 0, (uint32_t)t->gen }, &ping_type, &p))
		A->spawn_fail++;
}
static const act_handler feeder_h[] = { { &target_type, feeder_target } };
static const act_behaviour feeder_b = { .name = "feeder", .handlers = feeder_h, .n_handlers = 1 };

int main(void)
{
	tap_timeout(150);
	A = shared_area(sizeof *A);
	act_node_t *node = act_node_new("dyncrash");
	act_node_add_group(node, "feed");
	act_node_add_group(node, "kids");
	act_node_add_actor(node, "feed", "feeder", &feeder_b, NULL);
	act_node_add_actor(node, "kids", "parent", &parent_b, NULL);
	act_node_add_behaviour(node, &perm_b);
	act_node_add_behaviour(node, &temp_b);
	act_node_add_behaviour(node, &bomb_b);
	act_node_set_ring_bytes(node, "kids", 4u << 20);
	act_node_set_max_msg_bytes(node, "kids", 64u * 1024u);
	act_node_set_ring_bytes(node, "feed", 4u << 20);
	act_node_set_intensity(node, 5, 10000);
	harness_collect_counters();
	int rc = act_node_run(node);
	act_node_free(node);
	ok(rc == 0, "node stopped cleanly (rc %d)", rc);
	ok(A->spawn_fail == 0, "every spawn, monitor and send succeeded (%d failed)", A->spawn_fail);
	ok(A->bombed == 1, "the worker was killed inside a spawn");
	ok(A->perm_inits == 2 * (N_PERM + 1), "every permanent actor was re-created (%d inits)",
	   A->perm_inits);
	int missing = 0, dup = 0;
	for (int i = 0; i < N_PERM; i++) {
		missing += A->perm_pings[i] < 2;
		dup += A->perm_pings[i] > 2;
	}
	ok(missing == 0 && dup == 0, "each permanent actor got both its envelopes across the crash "
	   "(%d short, %d over)", missing, dup);
	ok(A->temp_pings == 0, "no envelope reached a temporary actor (%d)", A->temp_pings);
	ok(A->downs_crashed == N_TEMP && A->downs_other == 0,
	   "each temporary actor's monitor got Down 'crashed: signal 9' once (%d, other %d)",
	   A->downs_crashed, A->downs_other);
	ok(counters[2].dead_letters >= N_TEMP, "envelopes to the lost actors are dead letters (%llu)",
	   (unsigned long long)counters[2].dead_letters);
	ok(A->whole_found && A->whole_eexist, "the record committed before the kill survived whole");
	ok(A->half_enoent, "the spawn killed in init left nothing");
	return done_testing();
}
