/* SPDX-License-Identifier: MIT */
/*
 * worker.h - private: the worker process's event loop.
 *
 * A worker runs one group: all its actors on one thread, handlers to
 * completion, fed by the rings into the group and woken through its
 * doorbell eventfd; timers and the doorbell are waited on with io_uring.
 */
#ifndef ACT_WORKER_H
#define ACT_WORKER_H

#include <stdint.h>

#include <actors.h>

#include "registry.h"

struct act__worker_args {
	const struct act__registry *reg;
	int shm_fd;
	uint64_t directory_hash;
	uint32_t self;           /* participant index of the group (>= 1) */
	const int *efd;          /* doorbells of all participants */
	const int *standby_efd;  /* per group (index self - 1): wakes a hot standby */
	bool standby;            /* start as a hot standby: attach, then wait */
	act_start start;         /* what Start tells the actors */
	/* Runs once in the zygote before it serves requests (actorsd loads
	 * modules here); non-zero makes the zygote fail with that code. */
	int (*zygote_init)(void *arg);
	void *zygote_arg;
	/* Runs in each freshly forked worker (and standby) before the group
	 * starts, on the worker's own copy of the registry (actorsd: new code
	 * and settings after a reload).  Non-zero: the worker exits with it. */
	int (*worker_init)(struct act__registry *reg, uint32_t self, void *arg);
	void *worker_init_arg;
};

/*
 * Attaches to the region, runs the group until it is told to stop (or
 * fails), and returns the process exit code: ACT_EXIT_OK after a clean
 * stop, ACT_EXIT_PERMANENT if the region or an actor's init is bad.
 * Called in the freshly forked worker process; never returns early on
 * a handler's bad behaviour (a crashing handler kills the process).
 */
int act__worker_main(const struct act__worker_args *a);

struct worker;

/*
 * What every worker does first, whatever its group: its own memory, the
 * region attached and checked (a->shm_fd, a->directory_hash), the timer
 * heap.  A prefork (supervisor/spawn.h) runs it before it
 * waits for its group, so that a restart does not wait for it.  Returns
 * the worker for act__worker_main_prepared(), or NULL if something
 * failed (nothing is left allocated; act__worker_main() then tries again
 * and reports it).
 */
struct worker *act__worker_prepare(const struct act__worker_args *a);

/* act__worker_main() on a worker from act__worker_prepare() (NULL: the
 * same as act__worker_main()); takes it over and frees it. */
int act__worker_main_prepared(const struct act__worker_args *a, struct worker *w);

#endif
