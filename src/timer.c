/* SPDX-License-Identifier: MIT */
/*
 * timer.c - the worker's timer store described in timer.h.
 *
 * Three arrays, all sized from one capacity `cap`:
 *  - ents[cap]: the timers themselves (owner, id, period) at stable indices,
 *    with free ones chained through `link`;
 *  - heap[cap]: a binary min-heap of (deadline, seq, timer index).  The keys
 *    live in the heap nodes so that sifting compares without chasing
 *    pointers; each timer records its heap position in `pos` so cancel can
 *    remove it from the middle;
 *  - slots[mask + 1]: an open-addressing hash map (linear probing) from
 *    (owner, id) to timer index.  It has at least twice as many slots as
 *    cap, so it is at most half full and a probe always ends at an empty
 *    slot.  Deletion shifts later entries back instead of leaving
 *    tombstones, so lookups never slow down as timers come and go.
 * Sequence numbers are 64 bits and never wrap in practice, which makes
 * (deadline, seq) a total order and keeps equal deadlines first-set,
 * first-fired.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "timer.h"

#define INITIAL_CAP 64u
#define NONE UINT32_MAX /* empty hash slot, free timer, end of free list */

struct act__timer_ent {
	int64_t id;
	uint64_t period_ns;     /* 0 for a one-shot timer */
	uint32_t owner;
	uint32_t pos;           /* index in heap, or NONE while free */
	uint32_t link;          /* next free timer while free */
};

struct act__timer_node {
	uint64_t deadline_ns;
	uint64_t seq;
	uint32_t ent;
};

/* ---- hash map ------------------------------------------------------------ */

static uint32_t key_hash(uint32_t owner, int64_t id)
{
	/* Spread owner over the high bits, then finish with the MurmurHash3
	 * 64-bit mixer so that sequential ids and owners scatter. */
	uint64_t h = (uint64_t)id ^ ((uint64_t)owner * 0x9e3779b97f4a7c15ull);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (uint32_t)h;
}

/*
 * Finds (owner, id).  Returns 1 and its slot if pending; else 0 and the
 * empty slot where it would be inserted.  Needs t->slots.
 */
static int lookup(const act__timers *t, uint32_t owner, int64_t id, uint32_t *slot)
{
	uint32_t i = key_hash(owner, id) & t->mask;

	for (;;) {
		uint32_t e = t->slots[i];
		if (e == NONE) {
			*slot = i;
			return 0;
		}
		if (t->ents[e].id == id && t->ents[e].owner == owner) {
			*slot = i;
			return 1;
		}
		i = (i + 1) & t->mask;
	}
}

/* Empties slot i, moving later members of its probe run back so that each
 * stays reachable from its home slot (Knuth's algorithm R). */
static void slot_delete(act__timers *t, uint32_t i)
{
	uint32_t j = i;

	for (;;) {
		j = (j + 1) & t->mask;
		uint32_t e = t->slots[j];
		if (e == NONE)
			break;
		uint32_t home = key_hash(t->ents[e].owner, t->ents[e].id) & t->mask;
		/* The entry at j may fill the hole at i only if i lies on its
		 * probe path home..j, i.e. i is no closer to j than home is. */
		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			t->slots[i] = e;
			i = j;
		}
	}
	t->slots[i] = NONE;
}

/* ---- heap ---------------------------------------------------------------- */

static int node_before(const struct act__timer_node *a, const struct act__timer_node *b)
{
	return a->deadline_ns < b->deadline_ns ||
	       (a->deadline_ns == b->deadline_ns && a->seq < b->seq);
}

static void place(act__timers *t, uint32_t pos, struct act__timer_node x)
{
	t->heap[pos] = x;
	t->ents[x.ent].pos = pos;
}

static void sift_up(act__timers *t, uint32_t pos)
{
	struct act__timer_node x = t->heap[pos];

	while (pos > 0) {
		uint32_t parent = (pos - 1) / 2;
		if (!node_before(&x, &t->heap[parent]))
			break;
		place(t, pos, t->heap[parent]);
		pos = parent;
	}
	place(t, pos, x);
}

static void sift_down(act__timers *t, uint32_t pos)
{
	struct act__timer_node x = t->heap[pos];

	for (;;) {
		uint32_t c = 2 * pos + 1; /* cannot overflow: n <= ACT__TIMERS_MAX */
		if (c >= t->n)
			break;
		if (c + 1 < t->n && node_before(&t->heap[c + 1], &t->heap[c]))
			c++;
		if (!node_before(&t->heap[c], &x))
			break;
		place(t, pos, t->heap[c]);
		pos = c;
	}
	place(t, pos, x);
}

/* Restores heap order around pos after its key changed either way. */
static void heap_fix(act__timers *t, uint32_t pos)
{
	if (pos > 0 && node_before(&t->heap[pos], &t->heap[(pos - 1) / 2]))
		sift_up(t, pos);
	else
		sift_down(t, pos);
}

static void heap_remove(act__timers *t, uint32_t pos)
{
	uint32_t last = --t->n;

	if (pos != last) {
		place(t, pos, t->heap[last]);
		heap_fix(t, pos);
	}
}

/* ---- timers -------------------------------------------------------------- */

static void ent_free(act__timers *t, uint32_t e)
{
	t->ents[e].pos = NONE;
	t->ents[e].link = t->free_head;
	t->free_head = e;
}

/* Removes pending timer e, which the hash map holds at slot. */
static void remove_timer(act__timers *t, uint32_t e, uint32_t slot)
{
	slot_delete(t, slot);
	heap_remove(t, t->ents[e].pos);
	ent_free(t, e);
}

static uint32_t slots_for(uint32_t cap)
{
	uint32_t s = 1;
	while (s < 2 * cap)
		s <<= 1;
	return s;
}

/*
 * Doubles the capacity (up to ACT__TIMERS_MAX) and rebuilds the hash map.
 * On -ENOMEM the store is unchanged, except that ents or heap may already
 * be larger than cap, which is harmless.
 */
static int grow(act__timers *t)
{
	uint32_t cap = t->cap ? t->cap * 2 : INITIAL_CAP;
	if (cap > ACT__TIMERS_MAX)
		cap = ACT__TIMERS_MAX;
	if (cap <= t->cap)
		return -ENOSPC;
	uint32_t n_slots = slots_for(cap);

	uint32_t *slots = malloc((size_t)n_slots * sizeof *slots);
	if (!slots)
		goto fail_slots;
	struct act__timer_ent *ents = realloc(t->ents, (size_t)cap * sizeof *ents);
	if (!ents)
		goto fail_ents;
	t->ents = ents;
	struct act__timer_node *heap = realloc(t->heap, (size_t)cap * sizeof *heap);
	if (!heap)
		goto fail_heap;
	t->heap = heap;

	/* Chain the new timers so that the lowest index is handed out first. */
	for (uint32_t i = cap; i-- > t->cap; )
		ent_free(t, i);
	t->cap = cap;

	memset(slots, 0xff, (size_t)n_slots * sizeof *slots); /* all NONE */
	free(t->slots);
	t->slots = slots;
	t->mask = n_slots - 1;
	for (uint32_t k = 0; k < t->n; k++) {
		uint32_t e = t->heap[k].ent, slot;
		lookup(t, t->ents[e].owner, t->ents[e].id, &slot);
		t->slots[slot] = e;
	}
	return 0;

fail_heap:
fail_ents:
	free(slots);
fail_slots:
	return -ENOMEM;
}

int act__timers_init(act__timers *t)
{
	if (!t)
		return -EINVAL;
	memset(t, 0, sizeof *t);
	t->free_head = NONE;
	return grow(t);
}

void act__timers_fini(act__timers *t)
{
	if (!t)
		return;
	free(t->ents);
	free(t->heap);
	free(t->slots);
	memset(t, 0, sizeof *t);
	t->free_head = NONE;
}

int act__timers_set(act__timers *t, uint32_t owner, int64_t id,
                    uint64_t deadline_ns, uint64_t period_ns)
{
	uint32_t slot, e;

	if (!t)
		return -EINVAL;
	if (t->slots && lookup(t, owner, id, &slot)) {
		e = t->slots[slot];
		uint32_t pos = t->ents[e].pos;
		t->ents[e].period_ns = period_ns;
		t->heap[pos].deadline_ns = deadline_ns;
		t->heap[pos].seq = t->seq++;
		heap_fix(t, pos);
		return 0;
	}
	if (t->n >= ACT__TIMERS_MAX)
		return -ENOSPC;
	if (t->n == t->cap) {
		if (t->cap == 0)
			t->free_head = NONE; /* a zeroed struct: no free list yet */
		int r = grow(t);
		if (r < 0)
			return r;
		lookup(t, owner, id, &slot);
	}

	e = t->free_head;
	t->free_head = t->ents[e].link;
	t->ents[e].id = id;
	t->ents[e].owner = owner;
	t->ents[e].period_ns = period_ns;
	t->slots[slot] = e;
	t->heap[t->n] = (struct act__timer_node){ deadline_ns, t->seq++, e };
	t->ents[e].pos = t->n;
	t->n++;
	sift_up(t, t->n - 1);
	return 0;
}

int act__timers_cancel(act__timers *t, uint32_t owner, int64_t id)
{
	uint32_t slot;

	if (!t || !t->n || !lookup(t, owner, id, &slot))
		return -ENOENT;
	remove_timer(t, t->slots[slot], slot);
	return 0;
}

size_t act__timers_cancel_owner(act__timers *t, uint32_t owner)
{
	uint32_t kept = 0, slot;
	size_t removed = 0;

	if (!t)
		return 0;
	/* Compact the heap array, dropping owner's timers, then rebuild heap
	 * order bottom-up: O(n) however many go, where removing them one by
	 * one would cost O(k log n). */
	for (uint32_t k = 0; k < t->n; k++) {
		struct act__timer_node x = t->heap[k];
		if (t->ents[x.ent].owner == owner) {
			if (lookup(t, owner, t->ents[x.ent].id, &slot))
				slot_delete(t, slot);
			ent_free(t, x.ent);
			removed++;
		} else {
			place(t, kept++, x);
		}
	}
	if (!removed)
		return 0;
	t->n = kept;
	for (uint32_t k = t->n / 2; k-- > 0; )
		sift_down(t, k);
	return removed;
}

uint64_t act__timers_next(const act__timers *t)
{
	return t && t->n ? t->heap[0].deadline_ns : UINT64_MAX;
}

int act__timers_pop_due(act__timers *t, uint64_t now_ns,
                        uint32_t *owner, int64_t *id)
{
	if (!t || !t->n || t->heap[0].deadline_ns > now_ns)
		return 0;

	uint32_t e = t->heap[0].ent;
	uint64_t period = t->ents[e].period_ns;
	if (owner)
		*owner = t->ents[e].owner;
	if (id)
		*id = t->ents[e].id;

	if (period) {
		uint64_t next;
		int fits = !__builtin_add_overflow(t->heap[0].deadline_ns, period, &next);
		if (fits && next <= now_ns)
			fits = !__builtin_add_overflow(now_ns, period, &next);
		if (fits) {
			t->heap[0].deadline_ns = next;
			t->heap[0].seq = t->seq++;
			sift_down(t, 0);
			return 1;
		}
	}

	uint32_t slot;
	if (lookup(t, t->ents[e].owner, t->ents[e].id, &slot))
		slot_delete(t, slot);
	heap_remove(t, 0);
	ent_free(t, e);
	return 1;
}

size_t act__timers_count(const act__timers *t)
{
	return t ? t->n : 0;
}

int act__timers_check(const act__timers *t)
{
	uint32_t slot, n_free = 0, n_used = 0;

	if (!t)
		return 0;
	if (t->n > t->cap || (t->cap && (!t->ents || !t->heap || !t->slots)))
		return -EUCLEAN;
	if (!t->cap)
		return t->n ? -EUCLEAN : 0;
	if ((uint64_t)t->mask + 1 < 2ull * t->cap || ((t->mask + 1) & t->mask))
		return -EUCLEAN;

	for (uint32_t k = 0; k < t->n; k++) {
		uint32_t e = t->heap[k].ent;
		if (e >= t->cap || t->ents[e].pos != k)
			return -EUCLEAN;
		if (k > 0 && node_before(&t->heap[k], &t->heap[(k - 1) / 2]))
			return -EUCLEAN;
		if (!lookup(t, t->ents[e].owner, t->ents[e].id, &slot) || t->slots[slot] != e)
			return -EUCLEAN;
	}
	for (uint32_t e = t->free_head; e != NONE; e = t->ents[e].link) {
		if (e >= t->cap || t->ents[e].pos != NONE || ++n_free > t->cap)
			return -EUCLEAN;
	}
	if (n_free != t->cap - t->n)
		return -EUCLEAN;
	for (uint32_t i = 0; i <= t->mask; i++) {
		uint32_t e = t->slots[i];
		if (e == NONE)
			continue;
		if (e >= t->cap || t->ents[e].pos == NONE)
			return -EUCLEAN;
		n_used++;
	}
	return n_used == t->n ? 0 : -EUCLEAN;
}
