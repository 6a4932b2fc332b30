/*
 * loop.h - private: the supervisor's io_uring loop, and setting up and
 * tearing down what it runs on (region, doorbells, zygote, sockets).
 */
#ifndef ACT_LOOP_H
#define ACT_LOOP_H

#include <signal.h>

struct act_node;

/* Creates everything act_node_run() needs.  0 or a negative code; call
 * act__loop_teardown() in either case. */
int act__loop_setup(struct act_node *n, sigset_t *oldmask);
/* Releases what act__loop_setup() made; restores the signal mask. */
void act__loop_teardown(struct act_node *n, const sigset_t *oldmask);
/* Waits for one batch of events (or the next deadline) and handles it. */
void act__loop_once(struct act_node *n);

#endif
