/* SPDX-License-Identifier: MIT */
/*
 * perfcount.c - sums the per-participant wake-up counters (perfcount.h).
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>

#include "perfcount.h"
#include "worker-int.h"

static uint64_t ld(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

void act__perf_sum(const act__shm *shm, struct act__perf *out)
{
	*out = (struct act__perf){ 0 };
	for (uint32_t i = 0; i < shm->n_parts; i++) {
		struct act__part *p = act__shm_part(shm, i);
		out->n_notifies += ld(&p->n_notifies);
		out->n_wakeups += ld(&p->n_wakeups);
		out->n_sleeps += ld(&p->n_sleeps);
		out->n_yields += ld(&p->n_yields);
		out->n_handled += ld(&p->n_handled);
	}
}

int act__perf_read(act_ctx *ctx, struct act__perf *out)
{
	if (!ctx || !ctx->w || !ctx->w->shm.base)
		return -EINVAL;
	act__perf_sum(&ctx->w->shm, out);
	return 0;
}

void act__perf_diff(const struct act__perf *a, const struct act__perf *b,
                    struct act__perf *out)
{
	out->n_notifies = b->n_notifies - a->n_notifies;
	out->n_wakeups = b->n_wakeups - a->n_wakeups;
	out->n_sleeps = b->n_sleeps - a->n_sleeps;
	out->n_yields = b->n_yields - a->n_yields;
	out->n_handled = b->n_handled - a->n_handled;
}
