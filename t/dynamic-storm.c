/* SPDX-License-Identifier: MIT */
/*
 * t/dynamic-storm.c - spawn records survive a worker killed at any point
 * of a spawn storm.  A static actor spawns hundreds of named actors per
 * round (stopping every third as it goes, so slots and generations churn)
 * and, at a point drawn at random per round, the worker is SIGKILLed: in
 * a child's init (mid-spawn, before the commit), in its Start (just after
 * the commit), between two spawns, or in a child's fini (mid-stop).  After
 * each restart, every actor whose spawn completed and that was not
 * stopped is back under its name with its ref; the one killed mid-spawn
 * left nothing.  At the end every record of the group's spawn area is
 * whole (name, behaviour, parent and args consistent) or free, never half,
 * and the live ones are exactly the actors the test expects.
 */
#include <signal.h>
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"

#define ROUNDS 24
#define MAX_PER_ROUND 300
#define MAX_G (ROUNDS * MAX_PER_ROUND)

enum { K_INIT, K_START, K_LOOP, K_FINI, K_N };
enum { ST_NONE, ST_LIVE, ST_STOPPED };

struct area {
	_Atomic int round, armed, kill_point, kill_at, next_g;
	_Atomic int restarts, bad_signal, missing, unexpected, wrong_ref, victim_left, done;
	_Atomic int points_hit[K_N];
	_Atomic unsigned char st[MAX_G];
	_Atomic uint32_t ref_id[MAX_G], ref_gen[MAX_G];
	_Atomic int rec_live, rec_bad, rec_unexpected, rec_missing;
	uint32_t spawner_id;
};
static struct area *A;

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* The args of kid g: its number and a pad whose length varies with it. */
static void kid_args(int g, char *buf, size_t cap)
{
	int pad = (g * 37) % 400, n = snprintf(buf, cap, "{\"g\":%d,\"pad\":\"", g);
	for (int i = 0; i < pad && (size_t)n + 3 < cap; i++)
		buf[n++] = (char)('a' + (g + i) % 26);
	snprintf(buf + n, cap - (size_t)n, "\"}");
}

static void maybe_kill(int point, int g)
{
	if (A->kill_point == point && A->kill_at == g && atomic_exchange(&A->armed, 0)) {
		A->points_hit[point]++;
		raise(SIGKILL);
	}
}

/* ---- the kid ------------------------------------------------------------------ */

struct kid { int g; };

static int kid_init(act_ctx *ctx, void *st, const char *args)
{
	struct kid *k = st;
	if (!args || sscanf(args, "{\"g\":%d", &k->g) != 1 || k->g < 0 || k->g >= MAX_G)
		return -EINVAL;
	maybe_kill(K_INIT, k->g);
	return 0;
}
static void kid_start(act_ctx *ctx, void *st, const void *m)
{
	struct kid *k = st;
	const act_start *s = m;
	if (!s->restart) {
		act_ref me = act_self(ctx);
		A->ref_id[k->g] = me.id;
		A->ref_gen[k->g] = me.gen;
		A->st[k->g] = ST_LIVE; /* committed: the record is whole */
	}
	maybe_kill(K_START, k->g);
}
static void kid_fini(act_ctx *ctx, void *st)
{
	struct kid *k = st;
	maybe_kill(K_FINI, k->g);
}
static const act_handler kid_h[] = { { &act_start_type, kid_start } };
static const act_behaviour kid_b = {
	.name = "stormkid", .state_size = sizeof(struct kid), .init = kid_init, .fini = kid_fini,
	.handlers = kid_h, .n_handlers = 1, .restart = ACT_PERMANENT,
};

/* ---- the spawner ---------------------------------------------------------------- */

/* After a restart: everything committed and not stopped is back, same ref. */
static void verify(act_ctx *ctx)
{
	char name[32];
	act_ref r;
	for (int g = 0; g < A->next_g && g < MAX_G; g++) {
		snprintf(name, sizeof name, "s%d", g);
		int found = act_lookup(ctx, name, &r) == 0;
		if (A->st[g] == ST_LIVE && !found)
			A->missing++;
		else if (A->st[g] != ST_LIVE && found)
			A->unexpected++;
		else if (found && (r.id != A->ref_id[g] || r.gen != A->ref_gen[g]))
			A->wrong_ref++;
	}
}

static void storm(act_ctx *ctx)
{
	int round = A->round++;
	uint32_t seed = 0x9e3779b9u ^ (uint32_t)(round * 7919 + 1);
	int n = 50 + (int)(rnd(&seed) % (MAX_PER_ROUND - 50));
	int first = A->next_g;
	char name[32], args[512];
	act_ref r, prev = ACT_NOBODY;
	int prev_g = -1;

	if (round >= ROUNDS) {
		A->done = 1;
		act_shutdown(ctx);
		return;
	}
	A->kill_point = (int)(rnd(&seed) % K_N);
	A->kill_at = first + (int)(rnd(&seed) % (uint32_t)n);
	if (A->kill_point == K_FINI) /* only every third kid is stopped */
		A->kill_at -= (A->kill_at - first) % 3;
	A->armed = 1;
	for (int i = 0; i < n; i++) {
		int g = A->next_g++;
		snprintf(name, sizeof name, "s%d", g);
		kid_args(g, args, sizeof args);
		if (act_spawn(ctx, NULL, "stormkid", name, args, &r) != 0) {
			A->unexpected++;
			continue;
		}
		maybe_kill(K_LOOP, g);
		/* churn: stop every third kid (its slot goes back to the pool) */
		if (i % 3 == 1 && prev_g >= 0) {
			act_stop(ctx, prev);
			A->st[prev_g] = ST_STOPPED;
		}
		prev = r;
		prev_g = g;
	}
	/* The kill point fell on a kid this round did not stop: go on. */
	if (A->armed) {
		A->armed = 0;
		act_timer_once(ctx, 0, 1);
	}
}

static void spawner_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	A->spawner_id = act_self(ctx).id;
	if (s->restart) {
		A->restarts++;
		if (s->last_signal != SIGKILL)
			A->bad_signal++;
		verify(ctx);
	}
	storm(ctx);
}
static void spawner_next(act_ctx *ctx, void *st, const void *m)
{
	verify(ctx);
	storm(ctx);
}
static const act_handler spawner_h[] = {
	{ &act_start_type, spawner_start }, { &act_timeout_type, spawner_next },
};
static const act_behaviour spawner_b = {
	.name = "spawner", .handlers = spawner_h, .n_handlers = 2,
};

/* ---- the records, read by the test process once the node stopped ----------- */

static void inspect(struct act_node *n)
{
	struct act__dyn_hdr *d = act__shm_dyn(&n->shm, 1);
	uint32_t hi = atomic_load(&d->hi);
	char expect[512], name[32];
	unsigned char seen[MAX_G] = { 0 };

	harness_inspect(n);
	for (uint32_t s = 0; s < hi && s < act__shm_dyn_slots(&n->shm, 1); s++) {
		struct act__spawn_rec *r = act__shm_spawn_rec(&n->shm, 1, s);
		uint64_t w = atomic_load(&r->word);
		int g = -1;
		if (ACT__SLOT_STATE(w) == ACT__SLOT_FREE)
			continue;
		if (ACT__SLOT_STATE(w) != ACT__SLOT_LIVE || sscanf(r->name, "s%d", &g) != 1 ||
		    g < 0 || g >= MAX_G) {
			A->rec_bad++;
			continue;
		}
		kid_args(g, expect, sizeof expect);
		/* Short args are in the record, long ones in the slot's ext block. */
		const char *args = r->has_args == ACT__ARGS_INLINE ? r->args :
		                   r->has_args == ACT__ARGS_EXT ? act__shm_spawn_ext(&n->shm, 1, s)->args :
		                   NULL;
		snprintf(name, sizeof name, "s%d", g);
		if (strcmp(r->name, name) || strcmp(r->behaviour, "stormkid") || !args ||
		    r->args_len != strlen(expect) || strcmp(args, expect) ||
		    r->parent != A->spawner_id || r->restart != ACT_PERMANENT || seen[g]) {
			A->rec_bad++;
			continue;
		}
		seen[g] = 1;
		A->rec_live++;
		if (A->st[g] != ST_LIVE)
			A->rec_unexpected++;
	}
	for (int g = 0; g < A->next_g && g < MAX_G; g++)
		if (A->st[g] == ST_LIVE && !seen[g])
			A->rec_missing++;
}

int main(void)
{
	tap_timeout(120);
	A = shared_area(sizeof *A);
	act_node_t *node = act_node_new("storm");
	act_node_add_group(node, "storm");
	act_node_add_actor(node, "storm", "spawner", &spawner_b, NULL);
	ok(act_node_add_behaviour(node, &kid_b) == 0, "behaviour registered");
	/* Many deaths in a row: restart at once, and never give up. */
	act_node_set_backoff(node, 1, 1.0, 1, 1);
	act_node_set_intensity(node, 1024, 1000);
	act__node_inspect_hook = inspect;
	int rc = act_node_run(node);
	act_node_free(node);
	ok(rc == 0 && A->done, "node stopped cleanly after %d rounds (rc %d)", ROUNDS, rc);

	int kills = 0;
	for (int k = 0; k < K_N; k++)
		kills += A->points_hit[k];
	ok(kills == A->restarts && A->restarts >= ROUNDS / 2 && !A->bad_signal,
	   "the worker was SIGKILLed %d times, restarted %d times", kills, A->restarts);
	diag("kills: in init %d, in Start %d, between spawns %d, in fini %d", A->points_hit[K_INIT],
	     A->points_hit[K_START], A->points_hit[K_LOOP], A->points_hit[K_FINI]);
	ok(A->points_hit[K_INIT] > 0, "some kills were mid-spawn, before the commit");
	ok(!A->missing, "after each restart every committed, unstopped actor is back (%d missing)",
	   A->missing);
	ok(!A->unexpected, "and nothing else: a kill mid-spawn left nothing (%d unexpected)",
	   A->unexpected);
	ok(!A->wrong_ref, "the re-created actors kept their refs (%d wrong)", A->wrong_ref);
	ok(!A->rec_bad, "every record is whole or free, never half (%d bad)", A->rec_bad);
	ok(!A->rec_unexpected && !A->rec_missing && A->rec_live > 0,
	   "the live records are exactly the expected actors (%d live, %d extra, %d missing)",
	   A->rec_live, A->rec_unexpected, A->rec_missing);
	return done_testing();
}
