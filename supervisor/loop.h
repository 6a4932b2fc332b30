/* SPDX-License-Identifier: MIT */
/*
 * loop.h - private: the supervisor's io_uring loop, and setting up and
 * tearing down what it runs on (region, doorbells, zygote, sockets).
 *
 * Every wait is a one-shot poll whose io_uring user data is a pointer to
 * an event handle (struct act__evh) embedded in its owner: the loop calls
 * the handle's function and knows nothing else about the owner.  Modules
 * that own descriptors (control, gateway) arm their handles through
 * act__loop_poll() and need nothing else from the loop.
 */
#ifndef ACT_LOOP_H
#define ACT_LOOP_H

#include <liburing.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "export.h"

struct act_node;

/* The struct of type `type` whose member `member` is at p. */
#define act__container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

/*
 * An event handle: fn runs on the supervisor's thread, from the loop, when
 * the poll armed with it completes; res is the poll's result (a poll mask,
 * or a negative errno-style code such as -ECANCELED).  The handle must stay
 * valid until then: embed it in an object that outlives the poll (the
 * loop's io_uring is torn down after its owners).
 */
struct act__evh {
	void (*fn)(struct act__evh *h, int res);
};

struct act__loop {
	struct io_uring uring;
	bool ok;                  /* uring initialised */
};

/*
 * Arms a one-shot poll for events (POLLIN, POLLOUT, ...) on fd; h->fn runs
 * once when it fires.  The caller keeps its own "armed" mark and does not
 * arm a handle twice.  Never blocks (submits early only when the submission
 * queue is full).
 */
ACT__SHARED void act__loop_poll(struct act__loop *l, struct act__evh *h, int fd,
                                unsigned events);

/* Creates everything act_node_run() needs.  0 or a negative code; call
 * act__loop_teardown() in either case. */
int act__loop_setup(struct act_node *n, sigset_t *oldmask);
/* Releases what act__loop_setup() made; restores the signal mask. */
void act__loop_teardown(struct act_node *n, const sigset_t *oldmask);
/* Waits for one batch of events (or the next deadline) and handles it. */
void act__loop_once(struct act_node *n);

#endif
