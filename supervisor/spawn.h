/* SPDX-License-Identifier: MIT */
/*
 * spawn.h - private: the zygote that forks worker processes.
 *
 * The supervisor forks the zygote right after it created the region and
 * before it creates anything that must not leak into workers (a ZeroMQ
 * context, threads, sockets).  To start a worker the zygote double-forks:
 * the intermediate child exits at once, so the worker is re-parented to
 * the supervisor (a child subreaper) and the supervisor can wait for it
 * through a pidfd like for any child of its own.  The worker blocks on a
 * pipe until the zygote reaped the intermediate (the adoption happened
 * when the intermediate exited, just before); only then does it arm its
 * parent-death signal.
 *
 * Why not clone(CLONE_PARENT), which would make the supervisor the parent
 * at once: a raw clone() skips what glibc's fork() does in the child (the
 * thread descriptor's TID, atfork handlers, the locks of malloc and stdio),
 * and the worker runs arbitrary user code that may rely on all of it.
 */
#ifndef ACT_SPAWN_H
#define ACT_SPAWN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "worker.h"

#define ACT__SPAWN_INIT_TIMEOUT_MS 10000  /* default: the zygote's zygote_init */
#define ACT__SPAWN_FORK_TIMEOUT_MS 5000   /* one start request; the zygote's exit */

typedef struct act__spawner {
	pid_t zygote;
	int sock;      /* supervisor end of the request socket */
	/* Set by the caller before act__spawner_start() (0: the default). */
	uint32_t init_timeout_ms;
	/* After act__spawner_start() failed with -ECHILD or -ETIMEDOUT: the
	 * zygote's wait status (it was reaped). */
	int init_status;
} act__spawner;

/*
 * Forks the zygote and waits, at most sp->init_timeout_ms, for it to run
 * tmpl->zygote_init and answer.  tmpl is the worker template (registry,
 * region fd, doorbells) the zygote keeps; self and start are filled per
 * request.  The caller must already be a child subreaper.  Returns 0; the
 * positive code zygote_init returned; -ECHILD if the zygote died or exited
 * before answering, -ETIMEDOUT if it did not answer in time (it was
 * killed), both with its wait status in sp->init_status; -EINTR if a stop
 * signal (SIGINT, SIGTERM, SIGHUP) that the caller blocks arrived first
 * (the zygote was killed; the signal is left pending); or -errno.
 */
int act__spawner_start(act__spawner *sp, const struct act__worker_args *tmpl);

/*
 * Starts a worker for participant `self`.  On success *pid is the worker,
 * now a child of the caller, and *pidfd a pidfd for it (O_CLOEXEC).
 * Blocks for one fork round trip, at most ACT__SPAWN_FORK_TIMEOUT_MS.
 * -EPIPE if the zygote is gone; -ETIMEDOUT if it did not answer (it was
 * killed, and the caller sees it die).
 */
int act__spawner_spawn(act__spawner *sp, uint32_t self, const act_start *start,
                       pid_t *pid, int *pidfd);

/* Same, as a hot standby (waits on its standby eventfd before running). */
int act__spawner_spawn2(act__spawner *sp, uint32_t self, const act_start *start, bool standby,
                        pid_t *pid, int *pidfd);

/* Tells the zygote to exit and reaps it (killing it if it has not exited
 * within ACT__SPAWN_FORK_TIMEOUT_MS).  Idempotent. */
void act__spawner_stop(act__spawner *sp);

#endif
