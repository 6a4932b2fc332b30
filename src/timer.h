/* SPDX-License-Identifier: MIT */
/*
 * timer.h - private: a worker's timer store.
 *
 * A worker process is one thread, and it keeps every timer of every actor
 * it hosts here.  A timer is named by (owner, id): owner is the actor's slot
 * in the worker (the worker uses owners with bit 31 set for ask timeouts,
 * with the ask's correlation id as id), and id is whatever the user chose.
 * Deadlines are CLOCK_MONOTONIC nanoseconds.  The store never reads the
 * clock itself: the worker passes `now` in, which keeps the store pure and
 * testable.
 *
 * Timers sit in a binary min-heap ordered by (deadline, sequence number), so
 * timers due at the same instant fire in the order they were set; a hash map
 * from (owner, id) to the timer lets set and cancel find a pending timer in
 * O(1).  Set, cancel and pop are O(log n); the arrays grow geometrically up
 * to ACT__TIMERS_MAX and are never shrunk, so a worker in steady state does
 * no allocation here.  Nothing in this module is thread-safe.
 */
#ifndef ACT_TIMER_H
#define ACT_TIMER_H

#include <stddef.h>
#include <stdint.h>

/* Hard cap on pending timers per worker; set() beyond it fails -ENOSPC. */
#define ACT__TIMERS_MAX 1000000u

struct act__timer_ent;   /* one timer: owner, id, period (timer.c) */
struct act__timer_node;  /* one heap slot: deadline, sequence, timer (timer.c) */

/*
 * The store, embedded by the caller.  All fields are private to timer.c; a
 * zeroed struct is a valid empty store (it allocates on the first set), but
 * call act__timers_init() to allocate up front and catch -ENOMEM early.
 */
typedef struct act__timers {
	struct act__timer_ent *ents;   /* cap timers; free ones are chained */
	struct act__timer_node *heap;  /* n used of cap */
	uint32_t *slots;               /* hash map: mask + 1 slots of timer indices */
	uint32_t n;                    /* pending timers */
	uint32_t cap;                  /* capacity of ents and heap */
	uint32_t mask;                 /* number of hash slots - 1 */
	uint32_t free_head;            /* first free timer, or UINT32_MAX */
	uint64_t seq;                  /* next sequence number (tie-breaker) */
} act__timers;

/* Prepares an empty store with a small initial capacity.  0 or -ENOMEM. */
int act__timers_init(act__timers *t);

/* Frees everything; t is left as a valid empty store.  NULL-safe. */
void act__timers_fini(act__timers *t);

/*
 * Sets timer (owner, id) to fire at deadline_ns; if it is pending already it
 * is replaced (new deadline, new period, and it now counts as set last among
 * timers with the same deadline).  period_ns > 0 makes it periodic: after it
 * fires it is re-armed period_ns later (see act__timers_pop_due()).
 * A deadline of UINT64_MAX means "never" in practice.
 * Returns 0, -ENOMEM (nothing changed), -ENOSPC if ACT__TIMERS_MAX timers
 * are pending and this one is new, or -EINVAL if t is NULL.
 */
int act__timers_set(act__timers *t, uint32_t owner, int64_t id,
                    uint64_t deadline_ns, uint64_t period_ns);

/* Cancels timer (owner, id).  0, or -ENOENT if it was not pending. */
int act__timers_cancel(act__timers *t, uint32_t owner, int64_t id);

/*
 * Cancels every pending timer of owner (an actor that stops) and returns how
 * many there were.  O(n) in all pending timers, not only owner's.
 */
size_t act__timers_cancel_owner(act__timers *t, uint32_t owner);

/* The earliest pending deadline, or UINT64_MAX if none.  O(1). */
uint64_t act__timers_next(const act__timers *t);

/*
 * If the earliest timer is due (deadline <= now_ns), stores its owner and id
 * (either pointer may be NULL) and returns 1; else returns 0.  A one-shot
 * timer is removed.  A periodic one is re-armed at deadline + period; if that
 * is already due at now_ns (the worker fell a period or more behind), it is
 * re-armed at now_ns + period instead, so a late timer fires once rather than
 * in a burst, and one call sequence with the same now_ns returns each
 * periodic timer at most once.  A periodic timer whose next deadline would
 * not fit in 64 bits ends (is removed) instead.
 * Call in a loop until it returns 0 to fire everything that is due.
 */
int act__timers_pop_due(act__timers *t, uint64_t now_ns,
                        uint32_t *owner, int64_t *id);

/* Number of pending timers. */
size_t act__timers_count(const act__timers *t);

/*
 * Checks every internal invariant (heap order, heap positions, hash map,
 * free list) in O(n + slots).  0 if all hold, -EUCLEAN if not, which can
 * only be a bug in timer.c.  For tests.
 */
int act__timers_check(const act__timers *t);

#endif
