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
	uint64_t tail;         /* producer: the tail it last committed (no shm read) */
	uint64_t shown;        /* producer: the tail it last stored in the ring */
	uint32_t batch;        /* producer: batched commits since act__ring_show() */
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
/* 1024 rather than 256: a stream's producer then has the ownership of
 * eight 128-byte records on its way instead of two, and streams 6-14 %
 * faster (bench-core throughput_1to1, six alternations of three runs: 50.0-54.8
 * against 47.2-51.0 M msgs/s), the round trip unchanged.  Beyond 1024 it
 * gained nothing more. */
#define ACT__RING_WRITE_AHEAD 1024u

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

/* ---- touching lines ahead ------------------------------------------------- */

/*
 * A prefetch for writing: the line comes owned (exclusive), not shared.
 * __builtin_prefetch(p, 1, ...) only emits PREFETCHW when the compiler is
 * told the CPU has it (-mprfchw), and falls back to a read prefetch, which
 * brings the line shared and leaves the ownership transfer to the store.
 * Every x86-64 CPU decodes PREFETCHW (older Intel ones as a no-op).
 */
static inline void act__ring_prefetch_for_write(const void *p)
{
#if defined(__x86_64__)
	__asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1, 3);
#endif
}

/*
 * Producer, after publishing up to h->pos: asks for ownership of the next
 * free lines it will write, so that taking them from the consumer's cache
 * (where they sit since it read them a lap ago) overlaps with other work
 * instead of stalling the stores of the next record one line at a time.
 * Only whole lines past the one holding h->pos (the consumer still reads
 * its start) and below what the consumer has released as far as we know
 * (cached_head + cap: beyond it lie records not yet read).  A prefetch
 * changes no data: a stale bound costs a transfer, never correctness.
 */
static inline void act__ring_write_ahead(act__ring_h *h)
{
	uint64_t from = (h->pos + 63u) & ~(uint64_t)63u;
	uint64_t end = h->pos + h->write_ahead;
	uint64_t released = h->cached_head + h->mask + 1u;

	if (!h->write_ahead)
		return;
	if (end > released)
		end = released;
	if (h->ahead > from)
		from = h->ahead;
	for (; from + 64u <= end; from += 64u)
		act__ring_prefetch_for_write(h->data + (from & h->mask));
	h->ahead = from;
}

/*
 * Consumer, before reading the record at head: asks for the lines of the
 * published bytes from head on (up to ACT__RING_READ_AHEAD), each once, so
 * that their transfers from the producer's cache overlap.  Without it the
 * consumer stalls on one line, handles a record, then stalls on the next:
 * on CPUs far apart each stall is most of a message's cost.  Only whole
 * lines below tail: published bytes are not written again before we
 * release them, but a line the producer is still filling would be taken
 * back by its next store, and a consumer that keeps up with its producer
 * would do that to every record (measured: the 1->1 stream fell from 7 to
 * 3 M msgs/s when the line holding tail was prefetched too).
 */
static inline void act__ring_read_ahead(act__ring_h *h, uint64_t head)
{
	uint64_t from = h->ahead > head ? h->ahead : head & ~(uint64_t)63u;
	uint64_t end = h->cached_tail & ~(uint64_t)63u;

	if (!h->read_ahead)
		return;
	if (end > head + h->read_ahead)
		end = head + h->read_ahead;
	for (; from < end; from += 64u)
		__builtin_prefetch(h->data + (from & h->mask), 0, 3);
	h->ahead = from;
}

/*
 * Records start on a cache line of their own: the producer pads each one
 * to the end of its line (a PAD record, which the consumer passes over
 * with the record before it).  Otherwise a consumer that keeps up with its
 * producer reads each record together with the start of the line the
 * producer is about to fill with the next one; the producer's next store
 * takes that line back, and so on for every record: two transfers of one
 * line per envelope, and the 1->1 stream swung between 0.23 and 0.75 of
 * the bare ring from run to run depending on which side was faster.
 * Aligned, ten runs in a row held at 0.69 (bench-core, throughput_1to1);
 * low runs still happen, more rarely (README, Performance).  The price
 * is ring space: a record of 65-128 bytes takes 128.
 */
#define ACT__RING_LINE_ALIGN 64u

/*
 * The operations on every envelope (reserve, commit, peek, begin, release)
 * are inline, each a fast path for the common case (room without a wrap;
 * a whole record in place) that falls back to an out-of-line function
 * doing the whole job, checks and counters included.  Five calls per
 * envelope across translation units were a measurable share of its cost.
 */

/* ---- producer side ------------------------------------------------------- */

/* Writes a PAD record of len bytes at p (filler the consumer passes over). */
static inline void act__ring_pad(unsigned char *p, uint32_t len)
{
	struct act__rec *pad = (struct act__rec *)p;
	pad->len = len;
	pad->kind = ACT__REC_PAD;
	pad->flags = 0;
}

/* The whole of act__ring_reserve(), for what the fast path does not take. */
void *act__ring_reserve_slow(act__ring_h *h, uint32_t len, int *err);

/*
 * Reserves room for a record of len bytes (header included) and returns a
 * pointer to it, or NULL with *err = ACT_EFULL (no room now), ACT_ESTOPPED
 * (no room, and the consumer quarantined the ring) or -EMSGSIZE
 * (len > max_rec).  The caller fills the record (header included) and calls
 * act__ring_commit(); at most one reservation may be open at a time.
 * Refusals are counted in the ring.  Never blocks.
 */
static inline void *act__ring_reserve(act__ring_h *h, uint32_t len, int *err)
{
	/* Our own published tail, kept in the handle: reading it back from
	 * shared memory would pull the line the consumer polls. */
	uint64_t tail = h->tail;
	uint32_t off = (uint32_t)tail & h->mask;

	/* Fast path: a sane length that fits before the end of the data and
	 * in the room the cached head promises.  A lazily attached ring's
	 * cached head is a lap behind, so its first reservation goes slow.
	 * The record is followed by a PAD to the end of its cache line, so
	 * that the next record starts on a line of its own (see
	 * ACT__RING_LINE_ALIGN). */
	if (__builtin_expect(len >= sizeof(struct act__rec) && len <= h->max_rec, 1)) {
		uint32_t need = act__rec_round(len);
		uint32_t gap = (uint32_t)(0u - (off + need)) & (ACT__RING_LINE_ALIGN - 1u);
		if (__builtin_expect(need + gap <= h->mask + 1u - off &&
		                     tail + need + gap - h->cached_head <= (uint64_t)h->mask + 1u, 1)) {
			if (gap)
				act__ring_pad(h->data + off + need, gap);
			h->pos = tail + need + gap;
			*err = 0;
			return h->data + off;
		}
	}
	return act__ring_reserve_slow(h, len, err);
}

/* Out of line: the depth high-water mark, once the cached depth beat it. */
void act__ring_hwm(act__ring_h *h);

/*
 * Within a burst, a batched commit publishes tail only every this many
 * bytes (see act__ring_commit_batched()).
 */
#define ACT__RING_SHOW_STEP 16384u

/* Publishes everything committed so far: a release store of tail (R1 in
 * ring.c: the records, and any PAD before them, are visible no later than
 * the new tail; pairs with the consumer's acquire load of tail). */
static inline void act__ring_show(act__ring_h *h)
{
	h->batch = 0;
	if (h->shown == h->tail)
		return;
	atomic_store_explicit(&h->r->tail, h->tail, memory_order_release);
	h->shown = h->tail;
}

/* The bookkeeping of every commit: the committed position (on the
 * producer's own line, for act__ring_promote()), the lines ahead, the
 * counters. */
static inline void act__ring_committed_(act__ring_h *h)
{
	struct act__ring *r = h->r;

	h->tail = h->pos;
	atomic_store_explicit(&r->tail_committed, h->pos, memory_order_release);
	act__ring_write_ahead(h);
	/* Counters are statistics: relaxed, and written only by us. */
	atomic_store_explicit(&r->n_sent,
	    atomic_load_explicit(&r->n_sent, memory_order_relaxed) + 1,
	    memory_order_relaxed);
	if (h->pos - h->cached_head > atomic_load_explicit(&r->depth_hwm, memory_order_relaxed))
		act__ring_hwm(h);
}

/*
 * A commit that may leave the record unpublished for a while: the first
 * batched commit after act__ring_show() publishes at once (a lone send is
 * seen at once), later ones every ACT__RING_SHOW_STEP bytes, and the
 * caller calls act__ring_show() when its burst ends (a worker: when the
 * handler returns, or after 256 sends, with the doorbell).  Why: a
 * consumer that keeps up with its producer loads tail after every record
 * or two, and each load takes the line the producer stores tail into per
 * record; with the producer's stores queued behind that line, a 1->1
 * stream fell to 15-18 M msgs/s whenever the consumer was the faster side
 * (bench-core, throughput_1to1).  Published in steps: 4 KiB and a flush
 * every 64 sends 38-49 M/s, 16 KiB and 256 sends 46-51 M/s, no run low;
 * each step a consumer that caught up waits for the next.  A producer
 * that dies mid-burst leaves the rest to act__ring_promote(), one that
 * finds the ring full publishes it (ops.c).
 */
static inline void act__ring_commit_batched(act__ring_h *h, void *rec)
{
	(void)rec;
	act__ring_committed_(h);
	if (h->batch++ == 0 || h->tail - h->shown >= ACT__RING_SHOW_STEP) {
		atomic_store_explicit(&h->r->tail, h->tail, memory_order_release);
		h->shown = h->tail;
	}
}

/* Makes the reserved record visible to the consumer (a release store). */
static inline void act__ring_commit(act__ring_h *h, void *rec)
{
	struct act__ring *r = h->r;

	(void)rec;
	/* R1 (ring.c): everything written into the record (and any PAD
	 * before it) becomes visible no later than the new tail; pairs with
	 * the consumer's acquire load of tail in act__ring_peek(). */
	atomic_store_explicit(&r->tail, h->pos, memory_order_release);
	h->shown = h->pos;
	act__ring_committed_(h);
}

/*
 * Supervisor side, once the ring's producer is dead (reaped, or its whole
 * generation killed): publishes what it committed and had not published
 * (see act__ring_commit_batched()).  True if it did.  A committed
 * position that is not sound is ignored.
 */
bool act__ring_promote(struct act__ring *r);

/* ---- consumer side -------------------------------------------------------- */

/*
 * Consumer: the record at head (offset off, need bytes rounded, avail
 * bytes published from head on) is the one to handle.  The PAD to the end
 * of its line, if the producer wrote one (ACT__RING_LINE_ALIGN), goes
 * with it: in the same line, so reading its header costs no transfer,
 * and releasing the record passes it.
 */
static inline void act__ring_take_(act__ring_h *h, uint64_t head, uint32_t off, uint32_t need,
                                   uint64_t avail)
{
	uint32_t gap = (uint32_t)(0u - (off + need)) & (ACT__RING_LINE_ALIGN - 1u);
	const struct act__rec *pad = (const struct act__rec *)(h->data + off + need);

	h->pos = head + need;
	if (gap && gap <= avail - need && pad->kind == ACT__REC_PAD && pad->len == gap)
		h->pos += gap;
}

/* The whole of act__ring_peek(): padding, an empty ring, corruption. */
const struct act__rec *act__ring_peek_slow(act__ring_h *h, int *err);

/*
 * Returns the next unread record, skipping padding, or NULL when the ring
 * is empty.  *err is set to -EPROTO (and NULL returned) if the record header
 * is corrupt; the ring cannot be read further until act__ring_skip_corrupt().
 * The record stays valid until act__ring_release().
 */
static inline const struct act__rec *act__ring_peek(act__ring_h *h, int *err)
{
	uint64_t head = h->done;
	uint64_t avail = h->cached_tail - head;

	/* Fast path: a sound record already known published, not padding.
	 * The checks are those of the slow path, which does everything else. */
	if (__builtin_expect(avail != 0 && avail <= (uint64_t)h->mask + 1u &&
	                     !((h->cached_tail | head) & 7u), 1)) {
		act__ring_read_ahead(h, head);
		uint32_t off = (uint32_t)head & h->mask;
		const struct act__rec *rec = (const struct act__rec *)(h->data + off);
		uint32_t len = rec->len;
		if (__builtin_expect(len >= sizeof *rec && len <= h->mask + 1u - off &&
		                     rec->kind != ACT__REC_PAD, 1)) {
			uint32_t need = act__rec_round(len);
			if (__builtin_expect(need <= avail && need <= h->max_rec, 1)) {
				act__ring_take_(h, head, off, need, avail);
				*err = 0;
				return rec;
			}
		}
	}
	return act__ring_peek_slow(h, err);
}

/*
 * Marks the peeked record as being handled and returns how many times it
 * was started before without finishing (0 on first delivery).
 */
static inline uint32_t act__ring_begin(act__ring_h *h)
{
	struct act__ring *r = h->r;
	uint64_t head = h->done;
	uint32_t count;

	/* These stores only need to survive our own death, which they do
	 * (the memory is shared); nobody reads them concurrently for
	 * correctness, so relaxed suffices.  Count before position: dying in
	 * between leaves a position that does not match, i.e. "new record". */
	if (__builtin_expect(atomic_load_explicit(&r->inflight_pos, memory_order_relaxed) == head, 0)) {
		count = atomic_load_explicit(&r->inflight_count, memory_order_relaxed);
		atomic_store_explicit(&r->inflight_count, count + 1, memory_order_relaxed);
		return count;
	}
	atomic_store_explicit(&r->inflight_count, 1, memory_order_relaxed);
	atomic_store_explicit(&r->inflight_forgiven, 0, memory_order_relaxed);
	/* Release keeps the compiler from moving the count store after this
	 * one (the order is what makes a death in between harmless). */
	atomic_store_explicit(&r->inflight_pos, head, memory_order_release);
	return 0;
}

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

/*
 * Publishes the consumer's progress to the producer now (head = done).
 * Consumers call it when they stop draining a ring for a while; peek does
 * it by itself when the ring is empty.
 */
void act__ring_publish(act__ring_h *h);

/* Commits the peeked record as handled: the producer may reuse its space. */
static inline void act__ring_release(act__ring_h *h)
{
	struct act__ring *r = h->r;

	atomic_store_explicit(&r->n_delivered,
	    atomic_load_explicit(&r->n_delivered, memory_order_relaxed) + 1,
	    memory_order_relaxed);
	/* The record is handled: that is what done_pos says, on our own line
	 * (a crash from here on does not redeliver it).  Release: pairs with
	 * the acquire load in act__ring_handled() (the supervisor, for
	 * `actorsctl send`, in control.c), which then relies on seeing
	 * everything the handler sent, such as the Reject of a bad message;
	 * relaxed, it could see done_pos first.  (A plain store on x86.) */
	h->done = h->pos;
	atomic_store_explicit(&r->done_pos, h->done, memory_order_release);
	/* Publishing head costs the producer a cache miss: do it in steps. */
	if (h->done - h->published >= ((uint64_t)h->mask + 1) / 8)
		act__ring_publish(h);
}

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
