/* SPDX-License-Identifier: MIT */
/*
 * bench-pool - does a pool of crash-isolated workers scale with its
 * members, and what do member crashes cost it?
 *
 *   pool_scaling members=K   Jobs/s through a round_robin pool of K members
 *                            whose handler spins 20 us per Job (CPU-bound),
 *                            against the same pool of 1 member in the same
 *                            run: the goal is ratio >= 0.9 * K up to the
 *                            number of CPUs;
 *   pool_crashing members=K  the same with one Job in 500 killing its
 *                            member (SIGSEGV, redelivered to the restarted
 *                            member), against the pool without crashes.
 * One feeder group fills the members' rings and sleeps 1 ms whenever they
 * are full, so that the CPUs go to the members.  Each run is one
 * act_node_run(): the member that handles the last Job shuts the node down.
 * Usage: bench-pool [JOBS_PER_MEMBER]  (default 4000).
 */
#include "config.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <actors.h>

#include "bench-util.h"
#include "log.h"

#define WORK_NS 20000u
#define POISON_EVERY 500

typedef struct { int64_t seq; int32_t poison; } job_t;
ACT_MESSAGE_TYPE(job_type, job_t, "BenchJob", ACT_FIELD(job_t, seq, ACT_I64),
                 ACT_FIELD(job_t, poison, ACT_I32));

struct area {
	_Atomic uint64_t handled;
	_Atomic uint64_t t0_ns, t1_ns;
	_Atomic uint64_t crashes;
	uint64_t total;
	int poison;
};
static struct area *A;

static void work_job(act_ctx *ctx, void *st, const void *m)
{
	const job_t *j = m;
	(void)st;
	if (j->poison && act_redelivered(ctx) == 0) {
		A->crashes++;
		raise(SIGSEGV);
	}
	uint64_t t = now_ns();
	while (now_ns() - t < WORK_NS)
		bench_cpu_relax();
	if (atomic_fetch_add(&A->handled, 1) + 1 == A->total) {
		A->t1_ns = now_ns();
		act_shutdown(ctx);
	}
}

static const act_handler work_h[] = { { &job_type, work_job } };
static const act_behaviour work_b = { .name = "work", .handlers = work_h, .n_handlers = 1 };

struct feeder { act_ref to; uint64_t next; };

static void feed(act_ctx *ctx, struct feeder *f)
{
	if (!A->t0_ns)
		A->t0_ns = now_ns();
	while (f->next < A->total) {
		job_t j = { (int64_t)f->next, A->poison && f->next % POISON_EVERY == POISON_EVERY / 2 };
		if (act_send(ctx, f->to, &job_type, &j))
			break;
		f->next++;
	}
	if (f->next < A->total)
		act_timer_once(ctx, 1, 1); /* rings full: let the members work */
}

static void feeder_start(act_ctx *ctx, void *st, const void *m)
{
	struct feeder *f = st;
	(void)m;
	act_lookup(ctx, "work", &f->to);
	feed(ctx, f);
}

static void feeder_timeout(act_ctx *ctx, void *st, const void *m) { (void)m; feed(ctx, st); }

static const act_handler feeder_h[] = { { &act_start_type, feeder_start },
                                        { &act_timeout_type, feeder_timeout } };
static const act_behaviour feeder_b = {
	.name = "feeder", .state_size = sizeof(struct feeder), .handlers = feeder_h,
	.n_handlers = 2,
};

/* Jobs/s through a pool of k members, or -1 if the run failed. */
static double run(int k, uint64_t per_member, bool poison)
{
	memset(A, 0, sizeof *A);
	A->total = per_member * (uint64_t)k;
	A->poison = poison;
	act_node_t *n = act_node_new("benchpool");
	act_node_add_group(n, "pool");
	act_node_add_actor(n, "pool", "work", &work_b, NULL);
	act_node_set_pool(n, "pool", (uint32_t)k);
	act_node_set_max_redeliveries(n, "pool", 3);
	act_node_add_group(n, "feed");
	act_node_add_actor(n, "feed", "feeder", &feeder_b, NULL);
	act_node_set_intensity(n, 1024, 10000);
	act_node_set_backoff(n, 0, 1.0, 0, 0);
	int rc = act_node_run(n);
	act_node_free(n);
	if (rc || A->handled != A->total || A->t1_ns <= A->t0_ns)
		return -1;
	return (double)A->total * 1e9 / (double)(A->t1_ns - A->t0_ns);
}

int main(int argc, char **argv)
{
	uint64_t per = argc > 1 && atoi(argv[1]) > 0 ? (uint64_t)atoi(argv[1]) : 4000;
	int ncpu = bench_ncpus(), sizes[3] = { 1, 2, ncpu }, n_sizes = ncpu > 2 ? 3 : 2;

	act__log_level = getenv("BENCH_LOG") ? ACT_LOG_DEBUG : ACT_LOG_ERR;
	A = bench_shm_alloc(sizeof *A);
	if (!A)
		return 1;
	printf("# %d CPUs; %u us of work per Job, %llu Jobs per member\n", ncpu, WORK_NS / 1000,
	       (unsigned long long)per);
	double one = run(1, per, false);
	printf("# 1 member: %.0f Jobs/s (the bare work alone: %.0f/s)\n", one, 1e9 / WORK_NS);
	for (int i = 0; i < n_sizes; i++) {
		int k = sizes[i];
		double r = k == 1 ? one : run(k, per, false);
		printf("bench: pool_scaling members=%d %.0f Jobs/s baseline %.0f ratio %.2f "
		       "(goal >= %.2f)\n", k, r, one, one > 0 && r > 0 ? r / one : 0.0,
		       0.9 * (k < ncpu ? k : ncpu));
		if (i == n_sizes - 1) {
			double c = run(k, per, true);
			printf("bench: pool_crashing members=%d %.0f Jobs/s baseline %.0f ratio %.2f "
			       "(%llu member crashes, one Job in %d)\n", k, c, r,
			       r > 0 && c > 0 ? c / r : 0.0, (unsigned long long)A->crashes,
			       POISON_EVERY);
		}
		fflush(stdout);
	}
	bench_shm_free(A, sizeof *A);
	return 0;
}
