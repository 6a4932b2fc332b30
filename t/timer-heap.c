/* SPDX-License-Identifier: MIT */
/*
 * t/timer-heap.c - the worker's timer store (src/timer.c): deadline order,
 * ties fired in set order, replace, cancel, cancel_owner, periodic re-arm
 * and the fell-behind rule, next(), the hard cap, no reallocation in steady
 * state, and a long randomized run against a naive reference model.  Ends
 * with a micro-benchmark that only prints.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "tap.h"
#include "timer.h"

/* xorshift64*: a deterministic generator so a failure can be replayed. */
static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(uint64_t n) { return rnd() % n; }

/* Pops everything due at now into owners/ids (up to max); returns how many. */
static size_t drain(act__timers *t, uint64_t now, uint32_t *owners, int64_t *ids, size_t max)
{
	size_t k = 0;
	uint32_t o;
	int64_t id;

	while (k < max && act__timers_pop_due(t, now, &o, &id)) {
		if (owners)
			owners[k] = o;
		if (ids)
			ids[k] = id;
		k++;
	}
	return k;
}

static void test_empty(void)
{
	act__timers t;
	uint32_t o = 7;
	int64_t id = 7;

	ok(act__timers_init(&t) == 0, "init");
	ok(act__timers_next(&t) == UINT64_MAX, "next() of an empty store is UINT64_MAX");
	ok(act__timers_count(&t) == 0, "empty store counts 0");
	ok(act__timers_pop_due(&t, UINT64_MAX, &o, &id) == 0 && o == 7 && id == 7,
	   "pop_due on an empty store returns 0 and leaves the outputs alone");
	ok(act__timers_cancel(&t, 1, 1) == -ENOENT, "cancel on an empty store is -ENOENT");
	ok(act__timers_cancel_owner(&t, 1) == 0, "cancel_owner on an empty store is 0");
	ok(act__timers_check(&t) == 0, "empty store is consistent");
	act__timers_fini(&t);
	act__timers_fini(&t);
	ok(act__timers_count(&t) == 0 && act__timers_next(&t) == UINT64_MAX,
	   "fini twice is harmless and leaves an empty store");

	/* NULL is handled everywhere rather than crashing. */
	ok(act__timers_init(NULL) == -EINVAL && act__timers_set(NULL, 1, 1, 1, 0) == -EINVAL &&
	   act__timers_cancel(NULL, 1, 1) == -ENOENT && act__timers_cancel_owner(NULL, 1) == 0 &&
	   act__timers_next(NULL) == UINT64_MAX && act__timers_pop_due(NULL, 5, &o, &id) == 0 &&
	   act__timers_count(NULL) == 0,
	   "NULL store is handled by every call");
	act__timers_fini(NULL);

	/* A zeroed struct is a valid empty store, and so is one after fini. */
	act__timers z;
	memset(&z, 0, sizeof z);
	ok(act__timers_set(&z, 1, 2, 10, 0) == 0 && act__timers_next(&z) == 10 &&
	   act__timers_check(&z) == 0,
	   "a zeroed struct accepts a timer");
	ok(act__timers_pop_due(&z, 10, NULL, NULL) == 1 && act__timers_count(&z) == 0,
	   "pop_due accepts NULL outputs");
	act__timers_fini(&z);
	ok(act__timers_set(&z, 3, 4, 20, 0) == 0 && act__timers_pop_due(&z, 20, &o, &id) == 1 &&
	   o == 3 && id == 4,
	   "a store is usable again after fini");
	act__timers_fini(&z);
}

static void test_order(void)
{
	enum { N = 5000 };
	act__timers t;
	static uint64_t deadline_of[N];
	int good = 1, all_popped = 1;
	uint64_t last = 0;
	uint32_t o;
	int64_t id;

	act__timers_init(&t);
	for (int i = 0; i < N; i++) {
		deadline_of[i] = 1000 + rnd_below(1000000);
		if (act__timers_set(&t, (uint32_t)i % 13, i, deadline_of[i], 0) != 0)
			good = 0;
	}
	ok(good && act__timers_count(&t) == N, "set %d timers with random deadlines", N);
	ok(act__timers_check(&t) == 0, "store is consistent after the sets");
	ok(act__timers_pop_due(&t, 999, &o, &id) == 0, "nothing is due before the earliest deadline");

	for (int i = 0; i < N; i++) {
		uint64_t next = act__timers_next(&t);
		if (!act__timers_pop_due(&t, next, &o, &id) || id < 0 || id >= N) {
			all_popped = 0;
			break;
		}
		if (deadline_of[id] != next || next < last || o != (uint32_t)id % 13)
			good = 0;
		last = next;
	}
	ok(all_popped && good, "timers pop in deadline order, each at its own next()");
	ok(act__timers_count(&t) == 0 && act__timers_next(&t) == UINT64_MAX, "store is empty after");
	act__timers_fini(&t);
}

static void test_ties(void)
{
	enum { N = 300 };
	act__timers t;
	int64_t order[N], got[N];
	uint32_t owners[N];
	int good = 1;

	/* Set N timers at one deadline with ids in a shuffled order. */
	for (int i = 0; i < N; i++)
		order[i] = i * 7 - 500;
	for (int i = N - 1; i > 0; i--) {
		int j = (int)rnd_below((uint64_t)i + 1);
		int64_t x = order[i];
		order[i] = order[j];
		order[j] = x;
	}
	act__timers_init(&t);
	for (int i = 0; i < N; i++)
		act__timers_set(&t, (uint32_t)(i & 3), order[i], 500, 0);
	ok(drain(&t, 500, owners, got, N) == N, "all %d timers at one deadline fire", N);
	for (int i = 0; i < N; i++)
		if (got[i] != order[i] || owners[i] != (uint32_t)(i & 3))
			good = 0;
	ok(good, "timers with equal deadlines fire in the order they were set");

	/* Replacing a timer makes it the last set among its equals. */
	act__timers_set(&t, 1, 10, 100, 0);
	act__timers_set(&t, 1, 11, 100, 0);
	act__timers_set(&t, 1, 12, 100, 0);
	act__timers_set(&t, 1, 10, 100, 0);
	ok(drain(&t, 100, NULL, got, N) == 3 && got[0] == 11 && got[1] == 12 && got[2] == 10,
	   "a replaced timer fires after the others set at its deadline");

	/* Ties among timers of several owners, interleaved with earlier ones. */
	act__timers_set(&t, 5, 1, 200, 0);
	act__timers_set(&t, 6, 1, 150, 0);
	act__timers_set(&t, 7, 1, 200, 0);
	act__timers_set(&t, 5, 2, 150, 0);
	act__timers_set(&t, 6, 2, 200, 0);
	ok(drain(&t, 1000, owners, got, N) == 5 &&
	   owners[0] == 6 && got[0] == 1 && owners[1] == 5 && got[1] == 2 &&
	   owners[2] == 5 && got[2] == 1 && owners[3] == 7 && got[3] == 1 &&
	   owners[4] == 6 && got[4] == 2,
	   "mixed owners: deadline first, then set order");
	act__timers_fini(&t);
}

static void test_replace_cancel(void)
{
	act__timers t;
	uint32_t o;
	int64_t id;

	act__timers_init(&t);
	act__timers_set(&t, 1, 5, 100, 0);
	act__timers_set(&t, 1, 6, 80, 0);
	act__timers_set(&t, 2, 5, 90, 0);
	ok(act__timers_count(&t) == 3 && act__timers_next(&t) == 80,
	   "(1,5) and (2,5) are different timers; next() is the earliest");

	ok(act__timers_set(&t, 1, 5, 50, 0) == 0 && act__timers_count(&t) == 3 &&
	   act__timers_next(&t) == 50,
	   "replacing with an earlier deadline moves it to the front, count unchanged");
	ok(act__timers_set(&t, 1, 5, 1000, 0) == 0 && act__timers_count(&t) == 3 &&
	   act__timers_next(&t) == 80,
	   "replacing with a later deadline moves it back");
	ok(act__timers_pop_due(&t, 999, &o, &id) == 1 && o == 1 && id == 6 &&
	   act__timers_pop_due(&t, 999, &o, &id) == 1 && o == 2 && id == 5 &&
	   act__timers_pop_due(&t, 999, &o, &id) == 0,
	   "the replaced timer is not due at its old deadline");
	ok(act__timers_pop_due(&t, 1000, &o, &id) == 1 && o == 1 && id == 5 &&
	   act__timers_count(&t) == 0,
	   "it fires once, at its new deadline");

	act__timers_set(&t, 3, 1, 10, 5);
	act__timers_set(&t, 3, 1, 10, 0);
	ok(act__timers_pop_due(&t, 10, &o, &id) == 1 && act__timers_count(&t) == 0,
	   "replacing a periodic timer with a one-shot one drops the period");

	act__timers_set(&t, 4, 1, 10, 0);
	act__timers_set(&t, 4, 2, 20, 0);
	act__timers_set(&t, 4, 3, 30, 0);
	ok(act__timers_cancel(&t, 4, 1) == 0 && act__timers_count(&t) == 2 &&
	   act__timers_next(&t) == 20,
	   "cancel of the earliest pending timer: 0, next() moves on");
	ok(act__timers_cancel(&t, 4, 1) == -ENOENT, "cancelling it again is -ENOENT");
	ok(act__timers_cancel(&t, 4, 99) == -ENOENT && act__timers_cancel(&t, 5, 2) == -ENOENT,
	   "cancel of an id or owner never set is -ENOENT");
	ok(act__timers_cancel(&t, 4, 3) == 0 && act__timers_next(&t) == 20 &&
	   act__timers_count(&t) == 1,
	   "cancel of a later timer leaves next() alone");
	ok(act__timers_pop_due(&t, 100, &o, &id) == 1 && id == 2 &&
	   act__timers_pop_due(&t, 100, &o, &id) == 0,
	   "cancelled timers never fire");
	ok(act__timers_cancel(&t, 4, 2) == -ENOENT, "cancel of a timer that fired is -ENOENT");

	/* Extreme ids and owners are ordinary keys. */
	act__timers_set(&t, UINT32_MAX, INT64_MIN, 1, 0);
	act__timers_set(&t, 0x80000000u, INT64_MAX, 2, 0);
	act__timers_set(&t, 0, 0, 3, 0);
	ok(act__timers_cancel(&t, UINT32_MAX, INT64_MIN) == 0 &&
	   act__timers_pop_due(&t, 5, &o, &id) == 1 && o == 0x80000000u && id == INT64_MAX &&
	   act__timers_pop_due(&t, 5, &o, &id) == 1 && o == 0 && id == 0,
	   "extreme owners and ids work as keys");
	act__timers_fini(&t);
}

static void test_cancel_owner(void)
{
	act__timers t;
	int64_t got[64];
	uint32_t owners[64];
	const uint32_t ask = 0x80000000u | 1u;
	int good = 1;

	act__timers_init(&t);
	for (int i = 0; i < 30; i++) {
		act__timers_set(&t, 1, i, 100 + (uint64_t)i, 0);
		act__timers_set(&t, 2, i, 100 + (uint64_t)i, i % 2 ? 10 : 0);
		if (i < 5)
			act__timers_set(&t, ask, i, 100 + (uint64_t)i, 0);
	}
	ok(act__timers_count(&t) == 65, "65 timers of three owners");
	ok(act__timers_cancel_owner(&t, 2) == 30, "cancel_owner returns how many it cancelled");
	ok(act__timers_count(&t) == 35 && act__timers_check(&t) == 0,
	   "the others remain and the store is consistent");
	ok(act__timers_cancel_owner(&t, 2) == 0, "a second cancel_owner finds none");
	ok(act__timers_cancel_owner(&t, 3) == 0, "an owner with no timers: 0");
	ok(act__timers_cancel(&t, 2, 4) == -ENOENT, "a cancelled owner's timer is gone for cancel too");
	ok(act__timers_cancel_owner(&t, 1u | 0x80000000u) == 5 && act__timers_count(&t) == 30,
	   "bit 31 owners are distinct from the plain slot");
	ok(drain(&t, UINT64_MAX - 1, owners, got, 64) == 30, "30 timers of owner 1 fire");
	for (int i = 0; i < 30; i++)
		if (owners[i] != 1 || got[i] != i)
			good = 0;
	ok(good, "in deadline order, nothing of the cancelled owners");
	act__timers_fini(&t);
}

static void test_periodic(void)
{
	act__timers t;
	uint32_t o;
	int64_t id;

	act__timers_init(&t);
	act__timers_set(&t, 9, 42, 100, 10);
	ok(act__timers_pop_due(&t, 99, &o, &id) == 0, "periodic: not due before its deadline");
	ok(act__timers_pop_due(&t, 100, &o, &id) == 1 && o == 9 && id == 42,
	   "periodic timer fires at its deadline");
	ok(act__timers_count(&t) == 1 && act__timers_next(&t) == 110,
	   "and is re-armed at deadline + period");
	ok(act__timers_pop_due(&t, 100, &o, &id) == 0, "only once at the same now");
	ok(act__timers_pop_due(&t, 113, &o, &id) == 1 && act__timers_next(&t) == 120,
	   "a little late (less than a period): re-armed on the original grid");
	ok(act__timers_pop_due(&t, 135, &o, &id) == 1 && act__timers_next(&t) == 145,
	   "more than a period behind: re-armed at now + period");
	ok(act__timers_pop_due(&t, 135, &o, &id) == 0, "no burst of missed ticks");
	ok(act__timers_pop_due(&t, 155, &o, &id) == 1 && act__timers_next(&t) == 165 &&
	   act__timers_pop_due(&t, 155, &o, &id) == 0,
	   "exactly a period behind: re-armed at now + period, fires once");
	ok(act__timers_pop_due(&t, 1000000, &o, &id) == 1 && act__timers_next(&t) == 1000010 &&
	   act__timers_pop_due(&t, 1000000, &o, &id) == 0,
	   "far behind: one firing, then re-armed at now + period");
	ok(act__timers_cancel(&t, 9, 42) == 0 && act__timers_count(&t) == 0,
	   "a periodic timer is cancelled like any other");

	/* A periodic re-arm keeps its place among equal deadlines in arming order. */
	act__timers_set(&t, 1, 1, 100, 100); /* re-armed at 200 when it fires */
	act__timers_set(&t, 1, 2, 200, 0);
	ok(act__timers_pop_due(&t, 100, &o, &id) == 1 && id == 1 &&
	   act__timers_pop_due(&t, 200, &o, &id) == 1 && id == 2 &&
	   act__timers_pop_due(&t, 200, &o, &id) == 1 && id == 1,
	   "a re-armed timer counts as set when it was re-armed");
	act__timers_cancel_owner(&t, 1);

	/* Overflow: a re-arm past UINT64_MAX ends the timer instead. */
	act__timers_set(&t, 1, 1, UINT64_MAX - 5, 10);
	act__timers_set(&t, 1, 2, 10, UINT64_MAX);
	act__timers_set(&t, 1, 3, UINT64_MAX, 1);
	ok(drain(&t, UINT64_MAX, NULL, NULL, 100) == 3 && act__timers_count(&t) == 0,
	   "periodic timers whose next deadline overflows fire once and end; a drain at UINT64_MAX ends");
	act__timers_set(&t, 1, 1, UINT64_MAX - 20, 10);
	ok(act__timers_pop_due(&t, UINT64_MAX - 20, &o, &id) == 1 &&
	   act__timers_next(&t) == UINT64_MAX - 10 &&
	   act__timers_pop_due(&t, UINT64_MAX - 10, &o, &id) == 1 &&
	   act__timers_next(&t) == UINT64_MAX &&
	   act__timers_pop_due(&t, UINT64_MAX, &o, &id) == 1 && act__timers_count(&t) == 0,
	   "near the top of the range it re-arms while the deadline fits, then ends");
	act__timers_fini(&t);
}

static void test_steady_state(void)
{
	act__timers t;
	uint64_t now = 0;
	int good = 1;

	act__timers_init(&t);
	for (int i = 0; i < 1000; i++)
		act__timers_set(&t, (uint32_t)i % 10, i, now + rnd_below(1000), 0);
	void *ents = t.ents, *heap = t.heap, *slots = t.slots;
	uint32_t cap = t.cap;
	/* Keep about 1000 pending while replacing, cancelling and popping. */
	for (int i = 0; i < 100000; i++) {
		uint32_t o;
		int64_t id;
		now += rnd_below(3);
		while (act__timers_pop_due(&t, now, &o, &id))
			if (act__timers_set(&t, o, id, now + 1 + rnd_below(1000), 0) != 0)
				good = 0;
		int64_t k = (int64_t)rnd_below(1000);
		if (act__timers_cancel(&t, (uint32_t)k % 10, k) == 0)
			act__timers_set(&t, (uint32_t)k % 10, k, now + rnd_below(1000), rnd_below(2) * 50);
	}
	ok(good && act__timers_count(&t) == 1000 && act__timers_check(&t) == 0,
	   "100k rounds of pop/set/cancel keep 1000 timers consistent");
	ok(t.ents == ents && t.heap == heap && t.slots == slots && t.cap == cap,
	   "no reallocation in steady state");
	act__timers_fini(&t);
}

static void test_cap(void)
{
	act__timers t;
	int good = 1;

	act__timers_init(&t);
	for (uint32_t i = 0; i < ACT__TIMERS_MAX; i++)
		if (act__timers_set(&t, i & 0xff, (int64_t)i, rnd_below(1u << 20), 0) != 0) {
			good = 0;
			break;
		}
	ok(good && act__timers_count(&t) == ACT__TIMERS_MAX, "%u timers can be pending",
	   ACT__TIMERS_MAX);
	ok(act__timers_set(&t, 1, -1, 5, 0) == -ENOSPC && act__timers_count(&t) == ACT__TIMERS_MAX,
	   "one more is -ENOSPC");
	ok(act__timers_set(&t, 7, 7, 0, 0) == 0 && act__timers_next(&t) == 0,
	   "replacing a pending timer at the cap still works");
	ok(act__timers_cancel(&t, 7, 7) == 0 && act__timers_set(&t, 1, -1, 5, 0) == 0,
	   "after a cancel there is room for one more");
	ok(act__timers_check(&t) == 0, "the full store is consistent");
	ok(act__timers_cancel_owner(&t, 3) == ACT__TIMERS_MAX / 256 + (ACT__TIMERS_MAX % 256 > 3) &&
	   act__timers_check(&t) == 0,
	   "cancel_owner in a full store");
	act__timers_fini(&t);
}

/* ---- randomized comparison with a naive model ----------------------------- */

enum { M_OWNERS = 8, M_IDS = 256, M_KEYS = M_OWNERS * M_IDS };

static const uint32_t m_owner[M_OWNERS] = {
	0, 1, 2, 3, 0x80000000u, 0x80000001u, 0x7fffffffu, UINT32_MAX,
};
static int64_t m_id[M_IDS];

static struct mtimer {
	int live;
	uint64_t deadline, period, seq;
} model[M_KEYS];
static uint64_t m_seq;
static size_t m_count;

static void m_set(int k, uint64_t deadline, uint64_t period)
{
	if (!model[k].live)
		m_count++;
	model[k] = (struct mtimer){ 1, deadline, period, m_seq++ };
}

static int m_cancel(int k)
{
	if (!model[k].live)
		return -ENOENT;
	model[k].live = 0;
	m_count--;
	return 0;
}

static int m_min(void)
{
	int best = -1;
	for (int k = 0; k < M_KEYS; k++) {
		if (!model[k].live)
			continue;
		if (best < 0 || model[k].deadline < model[best].deadline ||
		    (model[k].deadline == model[best].deadline && model[k].seq < model[best].seq))
			best = k;
	}
	return best;
}

static int m_pop(uint64_t now)
{
	int k = m_min();
	if (k < 0 || model[k].deadline > now)
		return -1;
	if (model[k].period) {
		uint64_t next = model[k].deadline + model[k].period; /* no overflow in this run */
		if (next <= now)
			next = now + model[k].period;
		model[k].deadline = next;
		model[k].seq = m_seq++;
	} else {
		model[k].live = 0;
		m_count--;
	}
	return k;
}

static void test_random(void)
{
	enum { OPS = 200000 };
	act__timers t;
	uint64_t now = 1000000;
	int mismatch = -1;
	int checks_ok = 1;
	size_t max_count = 0, n_pops = 0;

	for (int i = 0; i < M_IDS; i++)
		m_id[i] = i < 4 ? (int64_t[]){ INT64_MIN, -1, 0, INT64_MAX }[i]
		                : (int64_t)(rnd() >> 1) * (i % 2 ? -1 : 1);
	act__timers_init(&t);

	for (int op = 0; op < OPS && mismatch < 0; op++) {
		int filling = (op / 10000) % 2 == 0;
		unsigned r = (unsigned)rnd_below(1000);
		int k = (int)rnd_below(M_KEYS);
		uint32_t o = m_owner[k / M_IDS];
		int64_t id = m_id[k % M_IDS];

		if (r < (filling ? 600u : 250u)) {
			/* Few distinct deadlines, so ties are common; a wider spread
			 * while filling so that the store grows past 1000. */
			uint64_t d = rnd_below(8) == 0 ? now - rnd_below(100)
			                               : now + rnd_below(filling ? 4000 : 64);
			uint64_t p = rnd_below(4) == 0 ? 1 + rnd_below(40) : 0;
			if (act__timers_set(&t, o, id, d, p) != 0)
				mismatch = op;
			m_set(k, d, p);
		} else if (r < (filling ? 750u : 450u)) {
			if (act__timers_cancel(&t, o, id) != m_cancel(k))
				mismatch = op;
		} else if (r < (filling ? 751u : 455u)) {
			int oi = (int)rnd_below(M_OWNERS);
			size_t want = 0;
			for (int i = 0; i < M_IDS; i++)
				want += m_cancel(oi * M_IDS + i) == 0;
			if (act__timers_cancel_owner(&t, m_owner[oi]) != want)
				mismatch = op;
		} else {
			if (r & 1)
				now += rnd_below(8);
			uint32_t go;
			int64_t gid;
			int got = act__timers_pop_due(&t, now, &go, &gid);
			int want = m_pop(now);
			if (got != (want >= 0) ||
			    (got && (go != m_owner[want / M_IDS] || gid != m_id[want % M_IDS])))
				mismatch = op;
			n_pops += got == 1;
		}
		int mk = m_min();
		if (act__timers_count(&t) != m_count ||
		    act__timers_next(&t) != (mk < 0 ? UINT64_MAX : model[mk].deadline))
			mismatch = op;
		if (m_count > max_count)
			max_count = m_count;
		if (op % 997 == 0 && act__timers_check(&t) != 0)
			checks_ok = 0;
	}
	ok(mismatch < 0, "%d random operations agree with the naive model%s", OPS,
	   mismatch < 0 ? "" : " (see diag)");
	if (mismatch >= 0)
		diag("first mismatch at operation %d", mismatch);
	ok(checks_ok && act__timers_check(&t) == 0, "internal invariants held throughout");
	ok(max_count > 1000 && n_pops > 10000, "the run exercised growth (max %zu pending) and pops (%zu)",
	   max_count, n_pops);
	act__timers_fini(&t);
}

/* ---- micro-benchmark: prints, asserts nothing about time ------------------ */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void bench(void)
{
	enum { PENDING = 100000, ROUNDS = 1000000 };
	act__timers t;
	uint64_t now = 0;
	uint32_t o;
	int64_t id;
	size_t fired = 0;

	act__timers_init(&t);
	for (int i = 0; i < PENDING; i++)
		act__timers_set(&t, (uint32_t)i % 64, i, rnd_below(1000000), 0);
	uint64_t t0 = mono_ns();
	for (int i = 0; i < ROUNDS; i++) {
		now = act__timers_next(&t);
		if (act__timers_pop_due(&t, now, &o, &id)) {
			act__timers_set(&t, o, id, now + 1 + rnd_below(1000000), 0);
			fired++;
		}
	}
	uint64_t t1 = mono_ns();
	ok(fired == ROUNDS && act__timers_count(&t) == PENDING,
	   "benchmark loop fired every round and kept %d pending", PENDING);
	diag("set+pop with %d pending: %.1f ns per pair (%d pairs)", PENDING,
	     (double)(t1 - t0) / ROUNDS, ROUNDS);
	act__timers_fini(&t);
}

int main(void)
{
	tap_timeout(120);
	test_empty();
	test_order();
	test_ties();
	test_replace_cancel();
	test_cancel_owner();
	test_periodic();
	test_steady_state();
	test_cap();
	test_random();
	bench();
	return done_testing();
}
