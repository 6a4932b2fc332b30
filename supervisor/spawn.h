/*
 * spawn.h - private: the zygote that forks worker processes.
 *
 * The supervisor forks the zygote right after it created the region and
 * before it creates anything that must not leak into workers (a ZeroMQ
 * context, threads, sockets).  To start a worker the zygote double-forks:
 * the intermediate child exits at once, so the worker is re-parented to
 * the supervisor (a child subreaper) and the supervisor can wait for it
 * through a pidfd like for any child of its own.  The worker blocks on a
 * pipe until the zygote reaped the intermediate, which is when the
 * adoption is certain; only then does it arm its parent-death signal.
 *
 * Why not clone(CLONE_PARENT), which would make the supervisor the parent
 * at once: a raw clone() skips what glibc's fork() does in the child (the
 * thread descriptor's TID, atfork handlers, the locks of malloc and stdio),
 * and the worker runs arbitrary user code that may rely on all of it.
 */
#ifndef ACT_SPAWN_H
#define ACT_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "worker.h"

typedef struct act__spawner {
	pid_t zygote;
	int sock;      /* supervisor end of the request socket */
} act__spawner;

/*
 * Forks the zygote.  tmpl is the worker template (registry, region fd,
 * doorbells) the zygote keeps; self and start are filled per request.
 * The caller must already be a child subreaper.  0 or -errno.
 */
int act__spawner_start(act__spawner *sp, const struct act__worker_args *tmpl);

/*
 * Starts a worker for participant `self`.  On success *pid is the worker,
 * now a child of the caller, and *pidfd a pidfd for it (O_CLOEXEC).
 * Blocks for one fork round trip.  -EPIPE if the zygote is gone.
 */
int act__spawner_spawn(act__spawner *sp, uint32_t self, const act_start *start,
                       pid_t *pid, int *pidfd);

/* Same, as a hot standby (waits on its standby eventfd before running). */
int act__spawner_spawn2(act__spawner *sp, uint32_t self, const act_start *start, bool standby,
                        pid_t *pid, int *pidfd);

/* Tells the zygote to exit and reaps it.  NULL-safe / idempotent. */
void act__spawner_stop(act__spawner *sp);

#endif
