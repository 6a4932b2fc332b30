/* SPDX-License-Identifier: MIT */
/*
 * doorbell.h - private: sleep/wake between producers and a consumer.
 *
 * Each participant (consumer) has a control block (struct act__part) in
 * shared memory with a `sleeping` flag and a `ready` bitmap with one bit per
 * producer, plus an eventfd (its doorbell).  Producers never make a system
 * call while the consumer is awake:
 *
 *   producer                              consumer (about to sleep)
 *   commit record (tail store-release)    sleeping = 1
 *   FENCE (seq_cst)            <-- F1 --> FENCE (seq_cst)
 *   set ready bit if not set              re-check ready bits and rings
 *   if sleeping: write eventfd            if nothing: block on eventfd
 *
 * Without both fences each side could read the other's old value (a
 * store-buffer reordering) and the consumer would sleep on a non-empty ring.
 */
#ifndef ACT_DOORBELL_H
#define ACT_DOORBELL_H

#include <stdbool.h>
#include <stdint.h>

#include "layout.h"

/*
 * Creates an eventfd suitable as a doorbell (EFD_CLOEXEC).  A worker's
 * doorbell is blocking, so that an idle worker sleeps in one read(2); the
 * supervisor's is nonblocking (it is drained from its event loop).
 * Producers' writes never block either way (the counter cannot fill).
 */
int act__doorbell_new(bool nonblocking);

/*
 * Producer side, after act__ring_commit() of a record from participant
 * `from` into consumer p: marks from's bit and rings efd if p sleeps.
 */
void act__doorbell_notify(struct act__part *p, uint32_t from, int efd);

/*
 * Consumer side: takes (and clears) the ready bitmap into bits[] (must hold
 * ACT__READY_WORDS words).  Returns nonzero if any bit was set.
 */
int act__doorbell_take(struct act__part *p, uint64_t *bits);

/*
 * Consumer side, before blocking: advertises sleep and re-checks the ready
 * bitmap.  Returns 1 if the consumer may block on its eventfd now, 0 if
 * work arrived (sleeping was withdrawn; take the bits and go on).  A
 * scan_all consumer must, after a 1, look at every ring itself before
 * it blocks (and withdraw with act__doorbell_awake() if one has work).
 */
int act__doorbell_prepare_sleep(struct act__part *p);

/* Consumer side, after waking (or deciding not to sleep): clears sleeping. */
void act__doorbell_awake(struct act__part *p);

/* Consumer side: drains the eventfd's counter (nonblocking). */
void act__doorbell_drain(int efd);

/* The pause between two looks of a spinning waiter (worker and
 * supervisor loops): lets the sibling hyperthread run and eases the
 * memory-order exit when the line finally changes. */
#if defined(__x86_64__) || defined(__i386__)
#define act__cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define act__cpu_relax() __asm__ __volatile__("yield")
#else
#define act__cpu_relax() do { } while (0)
#endif

#endif
