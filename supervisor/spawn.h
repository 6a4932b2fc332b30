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
 * The fork is also the slow part of a restart: the zygote's two forks, the
 * intermediate's exit and the release each wake a process, and on a VM
 * whose idle CPUs sleep each wake-up can cost 50-150 us (bench-restart's
 * phases: ~470 us from the request to the adopted worker).  So the
 * supervisor keeps one "prefork" ready: a worker forked and adopted ahead
 * of time (act__spawner_prefork(), at a quiet moment), blocked on a socket
 * of its own whose other end the zygote passed to the supervisor.  A start
 * then costs one send and one wake-up: the prefork reads { self,
 * standby, start } and becomes that group's worker.  A prefork that dies
 * unused is reaped as a stray child and replaced; one that dies right
 * after its assignment is seen as the group's worker dying, and the group
 * is restarted the usual way.  EOF on its socket (the supervisor stopped or
 * exec'd itself) makes it exit.  When no prefork is ready the zygote forks
 * on demand as before.
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
	pid_t prefork; /* a worker forked ahead, waiting for its assignment, or 0 */
	int prefork_pidfd;
	int prefork_wr; /* our end of the prefork's assignment socket */
	uint32_t n_preforked, n_prefork_used; /* for status and the bench */
	bool no_prefork;                /* $ACTORS_PREFORK=0: always fork on demand */
	uint64_t prefork_not_before_ns; /* after a failed or dead prefork: retry then */
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

/*
 * Makes the prefork (see above) if there is none: one fork round trip
 * with the zygote, like a start, so call it when nothing waits for the
 * supervisor (no group starting).  A prefork found dead is replaced.
 * Returns 0, or what act__spawner_spawn() would.
 */
int act__spawner_prefork(act__spawner *sp);

/* Whether a prefork is ready (alive, as far as its pidfd tells). */
bool act__spawner_has_prefork(act__spawner *sp);

/* Tells the zygote to exit and reaps it (killing it if it has not exited
 * within ACT__SPAWN_FORK_TIMEOUT_MS).  Idempotent. */
void act__spawner_stop(act__spawner *sp);

#endif
