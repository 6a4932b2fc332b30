/* SPDX-License-Identifier: MIT */
/*
 * actors/intercept.h - interceptors: code that runs around every message
 * and lifecycle event of the actors of a node or module, without touching
 * their handlers (logging, tracing, metrics, authorisation).
 *
 * Interceptors run in the worker, on the actor's thread, with the actor's
 * act_ctx (they may call act_log, act_send, act_sender, act_self_name...).
 *   before      before each handler of a message (timers, replies to asks
 *               and on_unhandled included; not Start and Shutdown, which
 *               are the lifecycle events below).  Returns 0 to go on; any
 *               other value drops the message: the handler and the
 *               interceptors after this one do not run, *reason (may be
 *               left NULL) is logged at debug level, and the drop is
 *               counted per interceptor and message type (actorsctl
 *               status).  A dropped message is not a dead letter.
 *   after       after the handler returned, only if before let it run;
 *               elapsed_ns is the handler's run time (CLOCK_MONOTONIC) if
 *               any interceptor of the chain sets ACT_INTERCEPTOR_TIMED
 *               in flags (two clock reads per message), else 0.
 *   on_start    before the actor's Start (its first, restart = false).
 *   on_restart  before Start after a restart of its worker or by its
 *               parent (restart = true).
 *   on_stop     before the actor's fini when it stops.
 *   on_failure  when the actor calls act_fail(), with the reason.
 * before, on_start and on_restart run in registration order; after,
 * on_stop and on_failure in reverse order (the first registered wraps
 * the others).  Any hook may be NULL.  With no interceptor registered the
 * runtime pays one predictable branch per message.
 */
#ifndef ACTORS_INTERCEPT_H
#define ACTORS_INTERCEPT_H

#include <actors/common.h>
#include <actors/message.h>
#include <actors/actor.h>
#include <actors/node.h>
#include <actors/module.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ACT_INTERCEPTORS_MAX 16

typedef struct act_interceptor {
	/* sizeof(act_interceptor) as the caller was built: lets later versions
	 * add hooks at the end.  Use ACT_INTERCEPTOR_INIT. */
	uint32_t size;
	uint32_t flags;            /* ACT_INTERCEPTOR_* */
	const char *name;          /* shown by actorsctl status (cut at 31 bytes) */
	void *user;                /* passed to every hook */
	int (*before)(act_ctx *ctx, void *user, const act_type *type, const void *msg,
	              const char **reason);
	void (*after)(act_ctx *ctx, void *user, const act_type *type, const void *msg,
	              uint64_t elapsed_ns);
	void (*on_start)(act_ctx *ctx, void *user);
	void (*on_restart)(act_ctx *ctx, void *user, const act_start *start);
	void (*on_stop)(act_ctx *ctx, void *user);
	void (*on_failure)(act_ctx *ctx, void *user, const char *reason);
	void *reserved[6];         /* NULL */
} act_interceptor;

#define ACT_INTERCEPTOR_INIT .size = sizeof(act_interceptor)
/* act_interceptor.flags: after() wants the handler's run time. */
#define ACT_INTERCEPTOR_TIMED 1u

/*
 * Adds ic (kept by pointer: it must outlive the node) to every group of the
 * node.  Before act_node_run().  -EINVAL (NULL, size too small or larger
 * than this library knows with non-NULL hooks beyond), -EEXIST if ic was
 * already added, -ENOSPC beyond 15 per node or module, -EBUSY once the
 * node runs.  A worker's chain holds ACT_INTERCEPTORS_MAX, the logger
 * included: module interceptors beyond are left out (logged).
 */
ACT_API int act_node_add_interceptor(act_node_t *node, const act_interceptor *ic);
/*
 * From a module's init: adds ic to the groups whose actors' behaviours
 * come from this module.  Node interceptors run first.  Same errors.
 */
ACT_API int act_module_add_interceptor(act_module *m, const act_interceptor *ic);

/* The testkit (actors/testkit.h) runs interceptors too: adds ic to the
 * testkit's actors (all of them, as one group).  Same errors. */
typedef struct act_test act_test_t;
ACT_API int act_test_add_interceptor(act_test_t *t, const act_interceptor *ic);
/* Messages ic dropped so far in the testkit, of type `type` (NULL: all types). */
ACT_API uint64_t act_test_dropped(const act_test_t *t, const act_interceptor *ic,
                                  const act_type *type);

#ifdef __cplusplus
}
#endif
#endif /* ACTORS_INTERCEPT_H */
