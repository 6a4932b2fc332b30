/* SPDX-License-Identifier: MIT */
/*
 * perfcount.h - private: the wake-up counters of a node, summed, for
 * benchmarks and tests that explain a figure by what it cost.
 *
 * Each participant's control block (layout.h, struct act__part) keeps:
 *   n_notifies  doorbells rung by the worker as a producer: one fence and a
 *               look at the receiver's sleep flag, once per receiver per
 *               batch of envelopes (act__w_flush_notify()); written by the
 *               worker alone, on its own counter line;
 *   n_wakeups   eventfd writes by producers to a sleeping consumer (the
 *               waker's system call), on the consumer's wake line, which
 *               the producer only writes when it rings a sleeper anyway;
 *   n_sleeps    times the consumer blocked on its doorbell (sleeper side);
 *   n_yields    sched_yield() calls of an idle worker's spin;
 *   n_handled   envelopes the worker handled.
 * Every counter costs at most one relaxed add per event (a batch, a sleep,
 * a wake-up), never a locked instruction per message.  The supervisor's
 * own doorbells (participant 0 as producer) count in its n_notifies when
 * they go through act__node_ring_group() (route.c): the gateway's inbound
 * frames and remote-ask replies, once per group per batch.
 */
#ifndef ACT_PERFCOUNT_H
#define ACT_PERFCOUNT_H

#include <stdint.h>

#include <actors.h>

#include "shm.h"

struct act__perf {
	uint64_t n_notifies;
	uint64_t n_wakeups;
	uint64_t n_sleeps;
	uint64_t n_yields;
	uint64_t n_handled;
};

/* Sums the counters of every participant of the region (relaxed loads:
 * a snapshot, any process that has the region mapped). */
void act__perf_sum(const act__shm *shm, struct act__perf *out);

/* The same from inside a handler, over the caller's node.  0, or -EINVAL
 * for a context that is not a worker's (a testkit's). */
int act__perf_read(act_ctx *ctx, struct act__perf *out);

/* out = b - a, field by field (counters only grow while a region lives). */
void act__perf_diff(const struct act__perf *a, const struct act__perf *b,
                    struct act__perf *out);

#endif
