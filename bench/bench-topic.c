/* SPDX-License-Identifier: MIT */
/*
 * bench-topic.c - what topics and interceptors cost, as ratios in one run.
 *
 *   publish_rate_N (N = 1, 10, 100)  envelopes delivered per second by
 *       act_publish() from a publisher group to N members in another
 *       group; baseline: the same fan-out done with N act_send() calls
 *       per message, in the same run.  The publisher keeps at most WINDOW
 *       messages per member in flight (credit from a shared counter), so
 *       neither side measures a full ring.
 *   interceptor_overhead  intragroup_rate (two actors of one group
 *       bouncing 64 hops) with one interceptor whose before/after do
 *       nothing; baseline: the same with no interceptor (goal: ratio
 *       >= 0.90).
 *
 * Usage: bench-topic [SCALE] - SCALE multiplies the measuring windows
 * (default 1: ~0.4 s each, 3 runs, the median reported).  Runs one node
 * per measurement in this process; pins nothing (the machine decides).
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <actors.h>

#include "bench-util.h"

#define REPS 3
#define WINDOW 64           /* messages in flight per member */
#define BURST 16

typedef struct { uint64_t v; } tick_msg;
ACT_MESSAGE_TYPE(tick_type, tick_msg, "Tick", ACT_FIELD(tick_msg, v, ACT_U64));
ACT_MESSAGE_TYPE(next_type, tick_msg, "Next", ACT_FIELD(tick_msg, v, ACT_U64));

struct shared {
	_Atomic uint64_t received;
	double value;
	_Atomic int failed;
};
static struct shared *S;
static int n_members;
static bool use_publish;
static uint64_t window_ns;

/* ---- publish_rate ------------------------------------------------------------- */

static void member_start(act_ctx *ctx, void *st, const void *m)
{
	if (act_join(ctx, "bench"))
		atomic_store(&S->failed, 1);
}
static void member_tick(act_ctx *ctx, void *st, const void *m)
{
	atomic_fetch_add_explicit(&S->received, 1, memory_order_relaxed);
}
static const act_handler member_h[] = { { &act_start_type, member_start }, { &tick_type, member_tick } };
static const act_behaviour member_b = { .name = "member", .handlers = member_h, .n_handlers = 2 };

struct pub_state { act_ref members[100]; uint64_t sent, t0; int ready; };

static void pub_next(act_ctx *ctx, void *st, const void *m)
{
	struct pub_state *s = st;
	uint64_t now = now_ns();

	if (!s->ready) {
		char name[16];
		for (int i = 0; i < n_members; i++) {
			snprintf(name, sizeof name, "m%d", i);
			if (act_lookup(ctx, name, &s->members[i]))
				atomic_store(&S->failed, 1);
		}
		s->ready = 1;
		/* Members join in their Start: wait until all did (the first
		 * publications would otherwise reach fewer). */
	}
	if (!s->t0) {
		act_publish_result r;
		tick_msg t = { 0 };
		/* A probe publication: how many members joined so far. */
		act_publish_ex(ctx, "bench", &tick_type, &t, &r);
		s->sent += r.n_reached;
		if ((int)r.n_members == n_members)
			s->t0 = now;
	} else if (now - s->t0 >= window_ns) {
		S->value = (double)atomic_load(&S->received) * 1e9 / (double)(now - s->t0);
		act_shutdown(ctx);
		return;
	}
	if (s->sent - atomic_load_explicit(&S->received, memory_order_relaxed) <
	    (uint64_t)WINDOW * (uint64_t)n_members) {
		tick_msg t = { s->sent };
		for (int b = 0; b < BURST; b++) {
			if (use_publish) {
				int n = act_publish(ctx, "bench", &tick_type, &t);
				s->sent += n > 0 ? (uint64_t)n : 0;
			} else {
				for (int i = 0; i < n_members; i++)
					s->sent += act_send(ctx, s->members[i], &tick_type, &t) == 0;
			}
		}
	}
	if (act_send(ctx, act_self(ctx), &next_type, &(tick_msg){ 0 }))
		atomic_store(&S->failed, 1);
}
static void pub_start(act_ctx *ctx, void *st, const void *m) { pub_next(ctx, st, m); }
static const act_handler pub_h[] = { { &act_start_type, pub_start }, { &next_type, pub_next } };
static const act_behaviour pub_b = {
	.name = "pub", .state_size = sizeof(struct pub_state), .handlers = pub_h, .n_handlers = 2,
};

static double run_publish(int n, bool publish)
{
	act_node_t *node = act_node_new("bench-topic");
	char name[16];

	n_members = n;
	use_publish = publish;
	atomic_store(&S->received, 0);
	S->value = -1;
	act_node_add_group(node, "p");
	act_node_add_group(node, "m");
	act_node_add_actor(node, "p", "pub", &pub_b, NULL);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "m%d", i);
		act_node_add_actor(node, "m", name, &member_b, NULL);
	}
	act_node_set_ring_bytes(node, "m", 1u << 20);
	int rc = act_node_run(node);
	act_node_free(node);
	return rc || atomic_load(&S->failed) ? -1 : S->value;
}

/* ---- interceptor_overhead ------------------------------------------------------ */

static uint64_t hops, hop_t0;
struct hop_state { act_ref peer; };

static void hop_start(act_ctx *ctx, void *st, const void *m)
{
	struct hop_state *s = st;
	const char *me = act_self_name(ctx);
	act_lookup(ctx, strcmp(me, "a") ? "a" : "b", &s->peer);
	if (!strcmp(me, "a"))
		for (int i = 0; i < 64; i++)
			act_send(ctx, act_self(ctx), &tick_type, &(tick_msg){ 0 }); /* bounce via self first */
}
static void hop_tick(act_ctx *ctx, void *st, const void *m)
{
	struct hop_state *s = st;
	if (++hops == 10000)
		hop_t0 = now_ns();
	if (hops > 10000 && (hops & 4095) == 0 && now_ns() - hop_t0 >= window_ns) {
		S->value = (double)(hops - 10000) * 1e9 / (double)(now_ns() - hop_t0);
		act_shutdown(ctx);
		return;
	}
	if (act_send(ctx, s->peer, &tick_type, m))
		atomic_store(&S->failed, 1);
}
static const act_handler hop_h[] = { { &act_start_type, hop_start }, { &tick_type, hop_tick } };
static const act_behaviour hop_b = {
	.name = "hop", .state_size = sizeof(struct hop_state), .handlers = hop_h, .n_handlers = 2,
};

static int empty_before(act_ctx *c, void *u, const act_type *t, const void *m, const char **r)
{
	(void)c; (void)u; (void)t; (void)m; (void)r;
	return 0;
}
static void empty_after(act_ctx *c, void *u, const act_type *t, const void *m, uint64_t ns)
{
	(void)c; (void)u; (void)t; (void)m; (void)ns;
}
static const act_interceptor empty_ic = {
	ACT_INTERCEPTOR_INIT, .name = "empty", .before = empty_before, .after = empty_after,
};

static const act_interceptor timed_ic = {
	ACT_INTERCEPTOR_INIT, .name = "timed", .flags = ACT_INTERCEPTOR_TIMED,
	.before = empty_before, .after = empty_after,
};

static double run_intragroup(const act_interceptor *ic)
{
	act_node_t *node = act_node_new("bench-icept");

	hops = 0;
	S->value = -1;
	act_node_add_group(node, "g");
	act_node_add_actor(node, "g", "a", &hop_b, NULL);
	act_node_add_actor(node, "g", "b", &hop_b, NULL);
	if (ic && act_node_add_interceptor(node, ic))
		return -1;
	int rc = act_node_run(node);
	act_node_free(node);
	return rc || atomic_load(&S->failed) ? -1 : S->value;
}

static double median3(double *v)
{
	qsort(v, REPS, sizeof *v, bench_cmp_double);
	return v[REPS / 2];
}

int main(int argc, char **argv)
{
	double scale = argc > 1 ? strtod(argv[1], NULL) : 1.0;
	static const int ns[] = { 1, 10, 100 };
	char name[64];

	if (!(scale > 0)) {
		fprintf(stderr, "usage: %s [SCALE]\n", argv[0]);
		return 2;
	}
	setenv("ACTORS_LOG_LEVEL", "warning", 0);
	window_ns = (uint64_t)(4e8 * scale);
	S = bench_shm_alloc(sizeof *S);
	if (!S)
		return 1;
	for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
		double pub[REPS], snd[REPS];
		/* Alternate the two so that drift of the machine hits both. */
		for (int r = 0; r < REPS; r++) {
			pub[r] = run_publish(ns[k], true);
			snd[r] = run_publish(ns[k], false);
		}
		printf("# publish_rate_%d: deliveries/s, runs publish %.0f %.0f %.0f, sends %.0f %.0f %.0f\n",
		       ns[k], pub[0], pub[1], pub[2], snd[0], snd[1], snd[2]);
		snprintf(name, sizeof name, "publish_rate_%d", ns[k]);
		bench_line(name, median3(pub), "deliveries/s", median3(snd));
	}
	double with[REPS], timed[REPS], without[REPS];
	for (int r = 0; r < REPS; r++) {
		without[r] = run_intragroup(NULL);
		with[r] = run_intragroup(&empty_ic);
		timed[r] = run_intragroup(&timed_ic);
	}
	printf("# interceptor_overhead: intragroup hops/s, runs with %.0f %.0f %.0f, without %.0f %.0f %.0f\n",
	       with[0], with[1], with[2], without[0], without[1], without[2]);
	printf("# interceptor_overhead_timed: the same interceptor asking for elapsed_ns "
	       "(ACT_INTERCEPTOR_TIMED), runs %.0f %.0f %.0f\n", timed[0], timed[1], timed[2]);
	double base = median3(without);
	bench_line("interceptor_overhead", median3(with), "msgs/s", base);
	bench_line("interceptor_overhead_timed", median3(timed), "msgs/s", base);
	bench_shm_free(S, sizeof *S);
	return 0;
}
