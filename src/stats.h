/* SPDX-License-Identifier: MIT */
/*
 * stats.h - private: per-actor statistics in the shared region (the
 * format is in layout.h, struct act__stats_hdr / struct act__astat).
 *
 * The worker of an actor's group writes its entry on the hot path (plain
 * relaxed stores, no syscalls beyond the vDSO clock, no locks); the
 * supervisor reads every entry to render `actorsctl metrics`, the HTTP
 * metrics endpoint and `actorsctl actors`.
 */
#ifndef ACT_STATS_H
#define ACT_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "layout.h"

/* A validated view of the area: NULL-able, copies of the header fields. */
struct act__stats {
	unsigned char *base;       /* the region's first byte */
	uint64_t entries_off;
	uint32_t n_static, n_groups, dyn_slots;
	uint32_t dyn_shift;        /* the region's spawned-id stride (act__shm.dyn_shift) */
};

/* Bytes the area needs at the end of a region with n_parts participants
 * and n_actors static actors (a multiple of 4096). */
size_t act__stats_bytes(uint32_t n_parts, uint32_t n_actors);

/* Formats the area in the last act__stats_bytes() bytes of a region of
 * `size` bytes.  Supervisor only, before any worker exists. */
void act__stats_format(unsigned char *base, size_t size, uint32_t n_parts,
                        uint32_t n_actors);

/* Finds and validates the area of a mapped region; 0, or -EPROTO when the
 * region has none (or a broken one): st is then zeroed and every hook
 * below does nothing. */
int act__stats_open(struct act__stats *st, unsigned char *base, size_t size);

/* The entry of actor `id` (static or spawned), or NULL if untracked. */
static inline struct act__astat *act__stats_entry(const struct act__stats *st, uint32_t id)
{
	uint64_t i;

	if (!st->base)
		return NULL;
	if (id < st->n_static) {
		i = id;
	} else if (id >= ACT__DYN_BASE) {
		/* Groups' id ranges are 2^dyn_shift apart (shm.h): group index,
		 * then slot.  Slots past dyn_slots are not tracked. */
		uint32_t g = (id - ACT__DYN_BASE) >> st->dyn_shift;
		uint32_t slot = (id - ACT__DYN_BASE) & ((1u << st->dyn_shift) - 1u);
		if (g >= st->n_groups || slot >= st->dyn_slots)
			return NULL;
		i = st->n_static + (uint64_t)g * st->dyn_slots + slot;
	} else {
		return NULL;
	}
	return (struct act__astat *)(st->base + st->entries_off + i * sizeof(struct act__astat));
}

/* Single-writer increment: a load and a store, no locked instruction.
 * Only the group's own worker may use it on an entry. */
static inline void act__stats_bump(_Atomic uint64_t *c, uint64_t by)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by,
	                      memory_order_relaxed);
}

/*
 * Sampling of the histograms.  Every process stamps one envelope in
 * act__stats_period it writes with its send time (act__env.sent_ns, else
 * 0), and receivers time exactly the stamped ones (time in the mailbox,
 * time in the handler).  Timing every envelope would double the cost of a
 * small one; worse, a clock read waits for the loads in flight before it
 * (the vDSO orders it), which on a stream of envelopes from another CPU
 * costs more than the read itself.
 *
 * So the period adapts (while $ACTORS_STATS_SAMPLE is not set): it is
 * ACT__STATS_PERIOD while stamps are sparse, doubles (up to
 * ACT__STATS_PERIOD_MAX) whenever a stamp comes less than
 * ACT__STATS_GAP_NS after the last one, and halves back when stamps come
 * more than four gaps apart.  A busy sender thus stamps about one
 * envelope per 20-80 us whatever its rate, a quiet one every 16th, and no
 * extra clock read decides it: the stamp's own read is the clock.
 * $ACTORS_STATS_SAMPLE=N fixes the period at N (0: never; 1: every
 * envelope); act__stats_open() reads it.  Process-local, single threaded
 * (the supervisor's loop, a worker).
 */
#define ACT__STATS_PERIOD     16u
#define ACT__STATS_PERIOD_MAX 65536u
#define ACT__STATS_GAP_NS     20000u
extern uint32_t act__stats_period, act__stats_ctr;
extern uint32_t act__stats_floor;  /* the period adapts from here; 0: fixed */
extern uint64_t act__stats_last_ns; /* the last stamp */

/* The slow path of act__stats_stamp(): stamps now_ns and adapts the
 * period.  Apart for tests, which give it a clock of their own. */
uint64_t act__stats_stamp_at(uint64_t now_ns);

/* The send time to stamp on the next envelope: now, or 0 if unsampled. */
static inline uint64_t act__stats_stamp(void)
{
	if (!act__stats_period || ++act__stats_ctr < act__stats_period)
		return 0;
	return act__stats_stamp_at(act__now_ns());
}

/* Histogram bucket of a duration. */
static inline unsigned act__stats_bucket(uint64_t ns)
{
	uint64_t q = ns >> ACT__STATS_B0_SHIFT;
	unsigned b = q ? 64u - (unsigned)__builtin_clzll(q) : 0u;
	return b < ACT__STATS_BUCKETS - 1u ? b : ACT__STATS_BUCKETS - 1u;
}

/*
 * The worker's view of entry e before it counts for the tenant of
 * generation gen (0 for static actors): a new tenant of a spawn slot
 * starts from zero.  Single writer: the owning worker.
 */
static inline void act__stats_claim(struct act__astat *e, uint32_t gen)
{
	if (atomic_load_explicit(&e->gen, memory_order_relaxed) == gen)
		return;
	atomic_store_explicit(&e->n_handled, 0, memory_order_relaxed);
	atomic_store_explicit(&e->n_redelivered, 0, memory_order_relaxed);
	atomic_store_explicit(&e->n_dead_letters, 0, memory_order_relaxed);
	atomic_store_explicit(&e->n_refused, 0, memory_order_relaxed);
	atomic_store_explicit(&e->handling_ns_sum, 0, memory_order_relaxed);
	atomic_store_explicit(&e->mailbox_ns_sum, 0, memory_order_relaxed);
	atomic_store_explicit(&e->n_policy_restarts, 0, memory_order_relaxed);
	atomic_store_explicit(&e->n_escalations, 0, memory_order_relaxed);
	for (unsigned i = 0; i < ACT__STATS_BUCKETS; i++) {
		atomic_store_explicit(&e->handling_hist[i], 0, memory_order_relaxed);
		atomic_store_explicit(&e->mailbox_hist[i], 0, memory_order_relaxed);
	}
	/* Release: a reader that sees the new gen (acquire) sees the zeros. */
	atomic_store_explicit(&e->gen, gen, memory_order_release);
}

/* A timed envelope that took ns nanoseconds in its handler. */
static inline void act__stats_timed(struct act__astat *e, uint64_t ns)
{
	act__stats_bump(&e->handling_ns_sum, ns);
	act__stats_bump(&e->handling_hist[act__stats_bucket(ns)], 1);
}

/* An envelope written at sent_ns whose handling began at now_ns. */
static inline void act__stats_waited(struct act__astat *e, uint64_t sent_ns, uint64_t now_ns)
{
	uint64_t ns = now_ns > sent_ns ? now_ns - sent_ns : 0;

	act__stats_bump(&e->mailbox_ns_sum, ns);
	act__stats_bump(&e->mailbox_hist[act__stats_bucket(ns)], 1);
}

/* A send to actor `to` was refused (its ring was full): any process. */
static inline void act__stats_refused(const struct act__stats *st, uint32_t to)
{
	struct act__astat *e = act__stats_entry(st, to);
	if (e)
		atomic_fetch_add_explicit(&e->n_refused, 1, memory_order_relaxed);
}

/* A send to actor `to` of a key_hash pool without a usable key (pool.c).
 * Any process: an atomic add, as several senders may count at once. */
static inline void act__stats_keyless(const struct act__stats *st, uint32_t to)
{
	struct act__astat *e = act__stats_entry(st, to);
	if (e)
		atomic_fetch_add_explicit(&e->n_keyless, 1, memory_order_relaxed);
}

#endif
