/* SPDX-License-Identifier: MIT */
/*
 * ring.h - private: single-producer single-consumer ring of variable-length
 * records in shared memory.
 *
 * One process produces, one consumes; either may die at any point.  The
 * producer publishes a record by advancing tail only after writing all of
 * it, so a producer that dies mid-write leaves nothing half-visible.  The
 * consumer advances head only after the record was handled, so a consumer
 * that dies mid-handler finds the same record again (and the inflight
 * bookkeeping says it is a redelivery).
 */
#ifndef ACT_RING_H
#define ACT_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

/* A record's length rounded up to ACT__REC_ALIGN (layout.h). */
static inline uint32_t act__rec_round(uint32_t len)
{
	return (len + ACT__REC_ALIGN - 1u) & ~(ACT__REC_ALIGN - 1u);
}

/* Bytes a ring of capacity cap needs in the region (header + data). */
size_t act__ring_bytes(uint32_t cap);

/*
 * Formats a ring at mem (act__ring_bytes(cap) bytes, zeroed or not).
 * cap must be a power of two in [MIN_CAP, MAX_CAP]; max_rec at most cap/4
 * and at least 64.  Returns 0 or -EINVAL.  Supervisor only, before anyone
 * attaches.
 */
int act__ring_format(void *mem, uint32_t cap, uint32_t max_rec,
                     uint16_t from, uint16_t to, uint64_t generation);

/* A process's handle on one ring: cached positions live here, not in shm. */
typedef struct act__ring_h {
	struct act__ring *r;
	unsigned char *data;
	uint32_t mask;
	uint32_t max_rec;
	uint64_t cached_head;  /* producer: last head seen */
	uint64_t pos;          /* producer: next write position (unpublished);
	                          consumer: next read position (uncommitted) */
	uint64_t cached_tail;  /* consumer: last tail seen */
	uint64_t done;         /* consumer: handled up to here (mirrors done_pos) */
	uint64_t published;    /* consumer: head last published */
	uint64_t tail;         /* producer: the tail it last published (no shm read) */
	uint32_t hwm_skip;     /* producer: commits until the next exact hwm check */
	/*
	 * A producer attached to a ring never touched (act__ring_attach_lazy):
	 * its bit in the region's touched bitmap, set by act__ring_touch() on
	 * the first reservation (after formatting the header), then NULL.
	 * cached_head starts out so that the first reservation takes the slow
	 * path, where the touch is; the hot path never looks at these.
	 */
	_Atomic uint64_t *touch_word;
	uint64_t touch_bit;
	uint64_t touch_gen;
	uint16_t touch_from, touch_to;
	uint64_t ahead;        /* consumer: lines prefetched for reading up to here;
	                          producer: lines prefetched for writing up to here */
	uint32_t read_ahead;   /* consumer: ACT__RING_READ_AHEAD, or 0 (see attach) */
	uint32_t write_ahead;  /* producer: ACT__RING_WRITE_AHEAD, or 0 */
} act__ring_h;

/*
 * How far ahead of its position each side touches the ring's lines before
 * it needs them (bytes, a multiple of 64).  The consumer asks for the lines
 * of published records it has not reached; the producer asks for ownership
 * of the free lines it will write next.  Either way the cross-CPU transfers
 * of several lines overlap instead of stalling one after another, which is
 * what a line costs on CPUs far apart (see README, Performance).
 * $ACTORS_RING_PREFETCH=0 turns both off, to measure what they bring.
 */
#define ACT__RING_READ_AHEAD  512u
#define ACT__RING_WRITE_AHEAD 256u

/*
 * Validates the ring header at mem (bytes long) against the expected
 * producer/consumer/generation and attaches h.  Returns 0, -EPROTO (bad
 * magic, version, capacity, ends) or -EBADMSG (a sound header whose head
 * or tail is garbage: h->r is then set, for act__ring_quarantine() only).
 * Either side, any process.
 */
int act__ring_attach(act__ring_h *h, void *mem, size_t bytes,
                     uint16_t from, uint16_t to, uint64_t generation);

/* True if (cap, max_rec) would format: see act__ring_format(). */
bool act__ring_params_ok(uint32_t cap, uint32_t max_rec);

/*
 * Attaches h to a ring at mem that was never touched (its bit in the
 * touched bitmap, *touch_word & touch_bit, was clear), without reading or
 * writing a byte of it: its constants are the caller's (cap, max_rec, from,
 * to, generation; they must pass act__ring_params_ok()) and its positions
 * are 0, which is what an untouched ring holds.  As a producer, the first
 * reservation formats the header and sets the bit; as a consumer, the
 * handle reads records once a producer wrote some.  Either side, any
 * process.
 */
void act__ring_attach_lazy(act__ring_h *h, void *mem, uint32_t cap, uint32_t max_rec,
                           uint16_t from, uint16_t to, uint64_t generation,
                           _Atomic uint64_t *touch_word, uint64_t touch_bit);

/* The first-use step of a lazily attached ring: writes the header's
 * constants if nobody did, then sets the touched bit.  Called by
 * act__ring_reserve() on its slow path, and by a consumer that quarantines
 * a ring it found garbage in (so later instances see the flag); a size
 * refusal touches the ring too, so that status shows it.  No-op on
 * a handle attached the ordinary way. */
void act__ring_touch(act__ring_h *h);

/* ---- producer side ------------------------------------------------------- */

/*
 * Reserves room for a record of len bytes (header included) and returns a
 * pointer to it, or NULL with *err = ACT_EFULL (no room now), ACT_ESTOPPED
 * (no room, and the consumer quarantined the ring) or -EMSGSIZE
 * (len > max_rec).  The caller fills the record (header included) and calls
 * act__ring_commit(); at most one reservation may be open at a time.
 * Refusals are counted in the ring.  Never blocks.
 */
void *act__ring_reserve(act__ring_h *h, uint32_t len, int *err);

/* Makes the reserved record visible to the consumer (a release store). */
void act__ring_commit(act__ring_h *h, void *rec);

/* ---- consumer side -------------------------------------------------------- */

/*
 * Returns the next unread record, skipping padding, or NULL when the ring
 * is empty.  *err is set to -EPROTO (and NULL returned) if the record header
 * is corrupt; the ring cannot be read further until act__ring_skip_corrupt().
 * The record stays valid until act__ring_release().
 */
const struct act__rec *act__ring_peek(act__ring_h *h, int *err);

/*
 * Marks the peeked record as being handled and returns how many times it
 * was started before without finishing (0 on first delivery).
 */
uint32_t act__ring_begin(act__ring_h *h);

/*
 * How many of the earlier starts of the record being handled (as counted by
 * act__ring_begin()) ended in a death the supervisor forgave: starts that
 * do not count toward max_redeliveries.  Consumer side, after begin.
 */
uint32_t act__ring_forgiven(const act__ring_h *h);

/*
 * Supervisor side, while the ring's consumer is dead: the record the dead
 * consumer had started and not finished.  True, with its inflight position
 * and start count, if there is one.
 */
bool act__ring_inflight(const struct act__ring *r, uint64_t *pos, uint32_t *count);

/* Supervisor side, while the ring's consumer is dead: the last start of the
 * unfinished record does not count toward max_redeliveries. */
void act__ring_forgive(struct act__ring *r);

/* Commits the peeked record as handled: the producer may reuse its space. */
void act__ring_release(act__ring_h *h);

/*
 * Publishes the consumer's progress to the producer now (head = done).
 * Consumers call it when they stop draining a ring for a while; peek does
 * it by itself when the ring is empty.
 */
void act__ring_publish(act__ring_h *h);

/* Drops everything currently in the ring (after corruption).  Returns bytes dropped. */
uint64_t act__ring_skip_corrupt(act__ring_h *h);

/*
 * Marks the ring corrupt for good (act__ring.quarantined): its consumer
 * stops reading it, and a producer that finds it full gets ACT_ESTOPPED.
 * Consumer side only; r must have passed act__ring_attach().
 */
void act__ring_quarantine(struct act__ring *r);

/* True if the ring was quarantined (by this or an earlier consumer). */
static inline int act__ring_is_quarantined(struct act__ring *r)
{
	/* Relaxed: the flag orders no other data; a reader that misses a
	 * fresh store only sees the quarantine one ring-full later. */
	return atomic_load_explicit(&r->quarantined, memory_order_relaxed) != 0;
}

/*
 * For a producer that wants to know what became of a record it committed
 * (the supervisor, for `actorsctl send`): the producer's own position
 * after its last commit; the consumer's progress (every record before it
 * was handled, and everything the consumer wrote while handling them is
 * visible to an acquire load made after this call); the position of the
 * record the consumer began last (a hint, for a record not yet handled).
 */
static inline uint64_t act__ring_committed(const act__ring_h *h) { return h->tail; }
uint64_t act__ring_handled(const struct act__ring *r);
uint64_t act__ring_begun(const struct act__ring *r);

/* Bytes published and not yet released (racy snapshot; for status/tests). */
uint64_t act__ring_depth(const struct act__ring *r);

/* True if the consumer would find a record (acquire load of tail). */
int act__ring_nonempty(act__ring_h *h);

#endif
