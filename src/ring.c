/* SPDX-License-Identifier: MIT */
/*
 * ring.c - the single-producer single-consumer record ring.
 *
 * Records are variable length and 8-byte aligned, laid out contiguously; a
 * record that does not fit before the end of the data area is preceded by a
 * PAD record that fills the rest, so that every record is one contiguous
 * span and handlers can read messages in place.  Positions (head, tail) are
 * 64-bit byte counters that never wrap in practice (2^64 bytes).
 *
 * Memory ordering, in one place:
 *  - producer: writes the record, then store-release of tail   (R1)
 *  - consumer: load-acquire of tail (pairs with R1), reads the record,
 *              handles it, then store-release of head          (R2)
 *  - producer: load-acquire of head (pairs with R2) before it overwrites
 *              space the consumer has released.
 * The wake-up protocol (who sleeps, who rings the doorbell) is layered on
 * top in doorbell.c; this file never blocks.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <stdlib.h>

#include <actors.h>

#include "ring.h"

size_t act__ring_bytes(uint32_t cap)
{
	return sizeof(struct act__ring) + (size_t)cap;
}

static int is_pow2(uint32_t v) { return v && !(v & (v - 1)); }

bool act__ring_params_ok(uint32_t cap, uint32_t max_rec)
{
	return is_pow2(cap) && cap >= ACT__RING_MIN_CAP && cap <= ACT__RING_MAX_CAP &&
	       max_rec >= 64 && max_rec <= cap / 4;
}

int act__ring_format(void *mem, uint32_t cap, uint32_t max_rec,
                     uint16_t from, uint16_t to, uint64_t generation)
{
	struct act__ring *r = mem;

	if (!act__ring_params_ok(cap, max_rec))
		return -EINVAL;
	memset(r, 0, sizeof *r);
	r->version = ACT__LAYOUT_VERSION;
	r->cap = cap;
	r->max_rec = max_rec & ~7u;
	r->from = from;
	r->to = to;
	r->generation = generation;
	atomic_store_explicit(&r->inflight_pos, UINT64_MAX, memory_order_relaxed);
	atomic_store_explicit(&r->done_pos, 0, memory_order_relaxed);
	/* Magic last: a half-formatted ring never validates. */
	atomic_thread_fence(memory_order_release);
	r->magic = ACT__RING_MAGIC;
	return 0;
}

/*
 * The distances of act__ring_read_ahead() and act__ring_write_ahead(): ACT__RING_*_AHEAD, or
 * none when $ACTORS_RING_PREFETCH is "0" (to measure what they bring on a
 * given machine).  Read once per process.
 */
static int prefetch_on(uint16_t from, uint16_t to)
{
	static int on = -1;
	if (on < 0) {
		const char *v = getenv("ACTORS_RING_PREFETCH");
		on = !(v && !strcmp(v, "0"));
	}
	/* A group's ring to itself is written and read by one process on
	 * one CPU: its lines are already in our cache, and the prefetches
	 * would be pure cost (5 % of intragroup_rate, measured). */
	return on && from != to;
}

int act__ring_attach(act__ring_h *h, void *mem, size_t bytes,
                     uint16_t from, uint16_t to, uint64_t generation)
{
	struct act__ring *r = mem;
	uint64_t head, tail;

	memset(h, 0, sizeof *h);
	if (bytes < sizeof *r || r->magic != ACT__RING_MAGIC ||
	    r->version != ACT__LAYOUT_VERSION || !is_pow2(r->cap) ||
	    r->cap < ACT__RING_MIN_CAP || act__ring_bytes(r->cap) > bytes ||
	    r->max_rec < 64 || r->max_rec > r->cap / 4 || (r->max_rec & 7) ||
	    r->from != from || r->to != to || r->generation != generation)
		return -EPROTO;
	head = atomic_load_explicit(&r->head, memory_order_acquire);
	tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	if (tail < head || tail - head > r->cap || (head & 7) || (tail & 7)) {
		/* The header is ours but a position is garbage: the caller may
		 * still flag the ring (act__ring_quarantine(h->r)). */
		h->r = r;
		return -EBADMSG;
	}
	h->r = r;
	h->data = r->data;
	h->mask = r->cap - 1;
	h->max_rec = r->max_rec;
	h->cached_head = head;
	h->cached_tail = tail;
	h->tail = tail;
	h->shown = tail;
	/* The consumer's progress may be ahead of the published head if the
	 * last consumer died between a handler and a publish. */
	uint64_t done = atomic_load_explicit(&r->done_pos, memory_order_relaxed);
	h->done = (done >= head && done <= tail && !(done & 7)) ? done : head;
	h->published = head;
	/* A producer resumes at the published tail (anything it had reserved
	 * but not committed before dying is simply overwritten); a consumer
	 * resumes at the committed head. */
	h->pos = 0;
	h->read_ahead = prefetch_on(from, to) ? ACT__RING_READ_AHEAD : 0;
	h->write_ahead = prefetch_on(from, to) ? ACT__RING_WRITE_AHEAD : 0;
	return 0;
}

void act__ring_attach_lazy(act__ring_h *h, void *mem, uint32_t cap, uint32_t max_rec,
                           uint16_t from, uint16_t to, uint64_t generation,
                           _Atomic uint64_t *touch_word, uint64_t touch_bit)
{
	memset(h, 0, sizeof *h);
	h->r = mem;
	h->data = h->r->data; /* address arithmetic: nothing is read */
	h->mask = cap - 1;
	h->max_rec = max_rec & ~7u;
	/* Positions 0, as in a ring nobody wrote.  A cached head one lap
	 * behind makes the first act__ring_reserve() take its slow path,
	 * which formats the ring (act__ring_touch()) before it reads head. */
	h->cached_head = 0 - (uint64_t)cap - 8;
	h->touch_word = touch_word;
	h->touch_bit = touch_bit;
	h->touch_gen = generation;
	h->touch_from = from;
	h->touch_to = to;
	h->read_ahead = prefetch_on(from, to) ? ACT__RING_READ_AHEAD : 0;
	h->write_ahead = prefetch_on(from, to) ? ACT__RING_WRITE_AHEAD : 0;
}

void act__ring_touch(act__ring_h *h)
{
	struct act__ring *r = h->r;

	if (!h->touch_word)
		return;
	/* The constants only: the positions and counters of a ring never
	 * touched are zero, which is what they must start at (an inflight
	 * count of 0 says nothing was begun), and they may already hold a
	 * consumer's quarantine flag, which a memset would lose.  Whoever writes here writes the same values
	 * (the producer on its first reservation, the consumer when it
	 * quarantines a ring it found garbage in), so a race between them is
	 * harmless; the magic goes last, after a release fence, so a header
	 * that validates is whole. */
	if (r->magic != ACT__RING_MAGIC) {
		r->version = ACT__LAYOUT_VERSION;
		r->cap = h->mask + 1;
		r->max_rec = h->max_rec;
		r->from = h->touch_from;
		r->to = h->touch_to;
		r->generation = h->touch_gen;
		atomic_thread_fence(memory_order_release);
		r->magic = ACT__RING_MAGIC;
	}
	/* Release: pairs with the acquire load of the bit by anyone about to
	 * read the ring (act__shm_ring_touched()): whoever sees the bit sees
	 * the formatted header.  The first record's tail store comes after
	 * this, so a set bit is also never later than the first record. */
	atomic_fetch_or_explicit(h->touch_word, h->touch_bit, memory_order_release);
	h->touch_word = NULL;
	h->cached_head = 0; /* a producer reloads it from the ring next, in reserve */
}

/* ---- producer ------------------------------------------------------------- */

void *act__ring_reserve_slow(act__ring_h *h, uint32_t len, int *err)
{
	struct act__ring *r = h->r;
	/* Our own published tail, kept in the handle: reading it back from
	 * shared memory would pull the line the consumer polls. */
	uint64_t tail = h->tail;
	uint32_t off = (uint32_t)tail & h->mask;
	uint32_t to_end = h->mask + 1 - off;
	uint32_t need;
	uint64_t total;

	/* Check before rounding: rounding a length near UINT32_MAX wraps. */
	if (len < sizeof(struct act__rec) || len > h->max_rec) {
		/* A ring not yet used gets its header (and its touched bit)
		 * now, so that status, which reads only touched rings, shows
		 * the refusal. */
		if (__builtin_expect(h->touch_word != NULL, 0))
			act__ring_touch(h);
		atomic_fetch_add_explicit(&r->n_refused_size, 1, memory_order_relaxed);
		*err = -EMSGSIZE;
		return NULL;
	}
	need = act__rec_round(len); /* max_rec is a multiple of 8: need <= max_rec */
	/* The record and the PAD to the end of its line (ACT__RING_LINE_ALIGN,
	 * ring.h), at off or, after a PAD to the end of the data, at 0.  A
	 * line never crosses the end: the capacity is a multiple of it. */
	uint32_t at = need > to_end ? 0 : off;
	uint32_t gap = (0u - (at + need)) & (ACT__RING_LINE_ALIGN - 1u);
	total = need + gap;
	if (need > to_end)
		total += to_end; /* a PAD record fills the rest first */
	if (tail + total - h->cached_head > (uint64_t)h->mask + 1) {
		/* A lazily attached ring's first reservation lands here (its
		 * cached head is a lap behind): format it before anything is
		 * written into it. */
		if (__builtin_expect(h->touch_word != NULL, 0))
			act__ring_touch(h);
		/* Pairs with the consumer's release of head (R2): once we see
		 * the new head, the consumer is done reading that space. */
		h->cached_head = atomic_load_explicit(&r->head, memory_order_acquire);
		if (tail + total - h->cached_head > (uint64_t)h->mask + 1) {
			/* Single writer: a plain increment, no locked instruction. */
			atomic_store_explicit(&r->n_refused_full,
			    atomic_load_explicit(&r->n_refused_full, memory_order_relaxed) + 1,
			    memory_order_relaxed);
			/* Only on this slow path do we look at the consumer's
			 * quarantine flag: a ring nobody reads will never drain,
			 * and the sender should know that rather than retry. */
			*err = act__ring_is_quarantined(r) ? ACT_ESTOPPED : ACT_EFULL;
			return NULL;
		}
	}
	if (need > to_end) {
		act__ring_pad(h->data + off, to_end);
		tail += to_end;
		off = 0;
	}
	if (gap)
		act__ring_pad(h->data + off + need, gap);
	h->pos = tail + need + gap;
	*err = 0;
	return h->data + off;
}

void act__ring_hwm(act__ring_h *h)
{
	struct act__ring *r = h->r;
	uint64_t depth;

	/* The cached head may be stale (it overestimates the depth); only
	 * when the estimate beats the mark do we pay for a fresh look at the
	 * consumer's head, and then at most once every 256 commits (the
	 * line is the consumer's: each look costs a transfer, and a second
	 * one when the consumer next writes it), so the mark is exact but
	 * lags a little. */
	if (h->hwm_skip) {
		h->hwm_skip--;
		return;
	}
	h->hwm_skip = 255;
	h->cached_head = atomic_load_explicit(&r->head, memory_order_acquire);
	depth = h->pos - h->cached_head;
	if (depth > atomic_load_explicit(&r->depth_hwm, memory_order_relaxed))
		atomic_store_explicit(&r->depth_hwm, depth, memory_order_relaxed);
}

/* ---- consumer ------------------------------------------------------------- */

const struct act__rec *act__ring_peek_slow(act__ring_h *h, int *err)
{
	struct act__ring *r = h->r;
	uint64_t head = h->done;

	*err = 0;
	for (;;) {
		if (head == h->cached_tail) {
			/* Pairs with R1: the records up to tail are fully written. */
			h->cached_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
			if (head == h->cached_tail) {
				/* Caught up: let the producer see all the room now. */
				if (h->published != h->done)
					act__ring_publish(h);
				return NULL;
			}
		}
		if (h->cached_tail - head > (uint64_t)h->mask + 1 || ((h->cached_tail | head) & 7)) {
			*err = -EPROTO;
			return NULL;
		}
		act__ring_read_ahead(h, head);
		uint32_t off = (uint32_t)head & h->mask;
		uint32_t to_end = h->mask + 1 - off;
		const struct act__rec *rec = (const struct act__rec *)(h->data + off);
		uint32_t len = rec->len;
		uint32_t need;

		/* Bound len before rounding it (rounding near UINT32_MAX wraps);
		 * to_end is a multiple of 8, so len <= to_end keeps need <= to_end. */
		if (len < sizeof *rec || len > to_end) {
			*err = -EPROTO;
			return NULL;
		}
		need = act__rec_round(len);
		if (need > h->cached_tail - head) {
			*err = -EPROTO;
			return NULL;
		}
		if (rec->kind == ACT__REC_PAD) {
			/* Padding carries nothing: pass it at once so that the
			 * crash bookkeeping always points at a real record. */
			head += need;
			h->done = head;
			atomic_store_explicit(&r->done_pos, head, memory_order_relaxed);
			continue;
		}
		if (need > h->max_rec) {
			*err = -EPROTO;
			return NULL;
		}
		act__ring_take_(h, head, off, need, h->cached_tail - head);
		return rec;
	}
}

uint32_t act__ring_forgiven(const act__ring_h *h)
{
	/* Written by the supervisor before this consumer was started (a fork,
	 * or the eventfd write that wakes a standby: both full barriers). */
	return atomic_load_explicit(&h->r->inflight_forgiven, memory_order_relaxed);
}

bool act__ring_inflight(const struct act__ring *r, uint64_t *pos, uint32_t *count)
{
	struct act__ring *w = (struct act__ring *)r;
	/* The consumer is dead: its last stores are visible to us since we
	 * reaped it (waitid() is a full barrier); relaxed loads suffice. */
	uint64_t p = atomic_load_explicit(&w->inflight_pos, memory_order_relaxed);
	uint64_t done = atomic_load_explicit(&w->done_pos, memory_order_relaxed);
	/* UINT64_MAX, or a count of 0 in a ring never formatted (all zero):
	 * nothing was started. */
	if (p == UINT64_MAX || p != done ||
	    !atomic_load_explicit(&w->inflight_count, memory_order_relaxed))
		return false; /* nothing started, or the last start finished */
	*pos = p;
	*count = atomic_load_explicit(&w->inflight_count, memory_order_relaxed);
	return true;
}

void act__ring_forgive(struct act__ring *r)
{
	uint32_t f = atomic_load_explicit(&r->inflight_forgiven, memory_order_relaxed);
	uint32_t c = atomic_load_explicit(&r->inflight_count, memory_order_relaxed);
	/* No consumer runs: the next one reads this after its fork or wake
	 * (a full barrier), see act__ring_forgiven(). */
	if (f < c)
		atomic_store_explicit(&r->inflight_forgiven, f + 1, memory_order_relaxed);
}

bool act__ring_promote(struct act__ring *r)
{
	/* The producer is dead: nobody else writes tail, and waitid() (or
	 * the kill of its generation) made its last stores visible. */
	uint64_t committed = atomic_load_explicit(&r->tail_committed, memory_order_acquire);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

	if (committed <= tail || committed - head > r->cap || (committed & 7))
		return false;
	atomic_store_explicit(&r->tail, committed, memory_order_release);
	return true;
}

void act__ring_publish(act__ring_h *h)
{
	/* R2: we are done with the bytes before done; pairs with the
	 * producer's acquire load of head in act__ring_reserve(). */
	atomic_store_explicit(&h->r->head, h->done, memory_order_release);
	h->published = h->done;
}

uint64_t act__ring_skip_corrupt(act__ring_h *h)
{
	struct act__ring *r = h->r;
	uint64_t head = h->done;
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	if (tail < head || tail - head > (uint64_t)h->mask + 1 || (tail & 7))
		return 0; /* tail itself is garbage: nothing sane to skip to */
	h->cached_tail = tail;
	h->done = tail;
	atomic_store_explicit(&r->done_pos, tail, memory_order_relaxed);
	act__ring_publish(h);
	return tail - head;
}

void act__ring_quarantine(struct act__ring *r)
{
	/* Relaxed: see act__ring_is_quarantined(); the flag publishes no data. */
	atomic_store_explicit(&r->quarantined, 1, memory_order_relaxed);
}

uint64_t act__ring_handled(const struct act__ring *r)
{
	/* Pairs with the release store of done_pos in act__ring_release(). */
	return atomic_load_explicit(&((struct act__ring *)r)->done_pos, memory_order_acquire);
}

uint64_t act__ring_begun(const struct act__ring *r)
{
	/* A hint only: nothing is read on the strength of it. */
	return atomic_load_explicit(&((struct act__ring *)r)->inflight_pos, memory_order_relaxed);
}

uint64_t act__ring_depth(const struct act__ring *r)
{
	struct act__ring *w = (struct act__ring *)r;
	uint64_t head = atomic_load_explicit(&w->head, memory_order_relaxed);
	uint64_t done = atomic_load_explicit(&w->done_pos, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&w->tail, memory_order_relaxed);
	if (done > head && done <= tail)
		head = done; /* handled but not yet published */
	return tail >= head ? tail - head : 0;
}

int act__ring_nonempty(act__ring_h *h)
{
	uint64_t head = h->done;
	if (head != h->cached_tail)
		return 1;
	h->cached_tail = atomic_load_explicit(&h->r->tail, memory_order_acquire);
	return head != h->cached_tail;
}
