/* SPDX-License-Identifier: MIT */
/*
 * intercept.h - private: the interceptor chain of a worker (intercept.c)
 * and the per-type handling figures it keeps in the region.
 */
#ifndef ACT_INTERCEPT_H
#define ACT_INTERCEPT_H

#include "export.h"

#include <stdbool.h>
#include <stdint.h>

#include <actors.h>

#include "clock.h"
#include "layout.h"

struct act__registry;

/* The chain of the worker running in this process (one per process; the
 * testkit switches it with the testkit in use).  act__ic_n == 0: none, and
 * dispatch pays one predictable branch. */
extern const act_interceptor *act__ic_chain[ACT__IC_MAX];
extern uint32_t act__ic_n;

/*
 * Registers ic for `owner`: a node's registry (act_node_add_interceptor)
 * or a module (act_module_add_interceptor).  Before any worker is forked.
 */
ACT__SHARED int act__ic_add(const void *owner, bool is_module, const act_interceptor *ic);
/* Forgets every interceptor registered for owner (its node is freed). */
ACT__SHARED void act__ic_forget(const void *owner);
/* Has the worker of group `self` named `group` trace its messages
 * (app file "trace": true).  Before any worker is forked. */
ACT__SHARED int act__ic_trace_group(const char *group);

/*
 * Builds this process's chain for group `self` of reg: the node's
 * interceptors, then those of modules that provide a behaviour of one of
 * the group's actors, then the message-flow logger if ACTORS_TRACE=1 or
 * the group traces.  gs: the group's figures in the region (may be NULL).
 * In the worker, before any actor runs.
 */
void act__ic_activate(const struct act__registry *reg, uint32_t self, struct act__gstat *gs);

/*
 * Calls fn (a's handler for (t, msg), ctx already set) inside the chain:
 * before hooks (which may drop it), fn, after hooks; for Start (fn may be
 * NULL) on_start/on_restart first.  Only when act__ic_n != 0.
 */
void act__ic_call(act_ctx *ctx, void *state, act_handler_fn fn, const act_type *t,
                  const void *msg, uint32_t tid);
/* Counts (and logs at debug) interceptor i's drop of a message of type tid. */
void act__ic_drop(act_ctx *ctx, uint32_t i, const act_type *t, uint32_t tid,
                  const char *reason);
/* Some interceptor of the chain asked for elapsed_ns (ACT_INTERCEPTOR_TIMED). */
extern bool act__ic_timed;

/*
 * act__ic_call() for an ordinary message, inlined into dispatch: an empty
 * interceptor then costs its two indirect calls and nothing else (no call
 * into intercept.c, no lifecycle tests).  Start and Shutdown go out of line.
 */
static inline void act__ic_around(act_ctx *ctx, void *state, act_handler_fn fn,
                                  const act_type *t, const void *msg, uint32_t tid)
{
	uint32_t n = act__ic_n;
	uint64_t t0;

	if (__builtin_expect(t == &act_start_type || t == &act_shutdown_type, 0)) {
		act__ic_call(ctx, state, fn, t, msg, tid);
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		const act_interceptor *ic = act__ic_chain[i];
		const char *reason = NULL;
		if (ic->before && ic->before(ctx, ic->user, t, msg, &reason)) {
			act__ic_drop(ctx, i, t, tid, reason);
			return; /* no handler ran, so no after() either */
		}
	}
	t0 = act__ic_timed ? act__now_ns() : 0;
	fn(ctx, state, msg);
	t0 = act__ic_timed ? act__now_ns() - t0 : 0;
	for (uint32_t i = n; i-- > 0;) {
		const act_interceptor *ic = act__ic_chain[i];
		if (ic->after)
			ic->after(ctx, ic->user, t, msg, t0);
	}
}

/* The actor of ctx stops (before its fini) / failed (act_fail). */
void act__ic_stop(act_ctx *ctx);
void act__ic_failure(act_ctx *ctx, const char *reason);

/* Per-type figures of this group: a sampled handling time of type tid. */
void act__tstat_timed(const struct act__registry *reg, uint32_t tid, uint64_t ns);

#endif
