/* SPDX-License-Identifier: MIT */
/*
 * t/ring.c - the single-producer single-consumer ring, in one process.
 *
 * Producer and consumer handles share one ring in private memory whose
 * data area ends at a guard page, so that any read past the end faults.
 * Peeks at corrupt rings run in a child first, so that a fault or an
 * endless loop fails one case instead of the program.  Covers header
 * validation on format and attach, exact FIFO order and content of
 * variable-size records across thousands of wrap-arounds (checking every
 * PAD record the producer writes), full-ring and oversize refusals and
 * their counters, the redelivery count of act__ring_begin() across
 * simulated consumer crashes, corrupt record headers and positions, a
 * producer that dies between reserve and commit, and the depth high-water
 * mark.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <actors.h>

#include "layout.h"
#include "ring.h"

#include "tap.h"

#define FROM 3
#define TO   7
#define GEN  0x5eed0123456789abull
#define CAP  4096u
#define MAXR 1024u

/* Our test records: the ring header, then the sequence number, then bytes
 * derived from the sequence number, so that any mix-up shows. */
struct trec {
	struct act__rec h;
	uint64_t seq;
	unsigned char payload[];
};

#define TREC_MIN ((uint32_t)sizeof(struct trec))


/* The consumer returns room to the producer in steps (act__ring_publish);
 * these tests look at the ring one record at a time, so they publish after
 * every release. */
static inline void release_publish(act__ring_h *h)
{
	act__ring_release(h);
	act__ring_publish(h);
}

static uint64_t mix(uint64_t seq, uint32_t word)
{
	uint64_t x = (seq + 1) * 0x9e3779b97f4a7c15ull + word * 0xbf58476d1ce4e5b9ull;
	x ^= x >> 31;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 29);
}

static void fill_pat(unsigned char *p, uint64_t seq, uint32_t n)
{
	for (uint32_t i = 0; i < n; i += 8) {
		uint64_t v = mix(seq, i / 8);
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

/* Returns the index of the first byte that differs, or -1. */
static long check_pat(const unsigned char *p, uint64_t seq, uint32_t n)
{
	for (uint32_t i = 0; i < n; i += 8) {
		uint64_t v = mix(seq, i / 8);
		uint32_t k = n - i < 8 ? n - i : 8;
		if (memcmp(p + i, &v, k) != 0)
			return (long)i;
	}
	return -1;
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

/*
 * A ring in exactly act__ring_bytes(cap) bytes of non-zero garbage (format
 * must not rely on zeroed memory), placed so that its data area ends where
 * an inaccessible guard page begins: any read past the end faults, in
 * plain builds too, not only under AddressSanitizer.
 */
static struct act__ring *ring_new(uint32_t cap, uint32_t max_rec, size_t *bytes)
{
	size_t n = act__ring_bytes(cap), page = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (n + page - 1) / page * page;
	unsigned char *base = mmap(NULL, span + page, PROT_READ | PROT_WRITE,
	                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct act__ring *r;

	if (base == MAP_FAILED)
		bail("mmap: %s", strerror(errno));
	if (mprotect(base + span, page, PROT_NONE) != 0)
		bail("mprotect: %s", strerror(errno));
	r = (struct act__ring *)(base + span - n); /* n is a multiple of 64 */
	memset(r, 0xa5, n);
	if (act__ring_format(r, cap, max_rec, FROM, TO, GEN) != 0)
		bail("act__ring_format(%u, %u) failed", cap, max_rec);
	if (bytes)
		*bytes = n;
	return r;
}

static void ring_free(struct act__ring *r)
{
	size_t n = act__ring_bytes(r->cap), page = (size_t)sysconf(_SC_PAGESIZE);
	size_t span = (n + page - 1) / page * page;

	munmap((unsigned char *)r + n - span, span + page);
}

static void attach(act__ring_h *h, struct act__ring *r)
{
	int rc = act__ring_attach(h, r, act__ring_bytes(r->cap), FROM, TO, GEN);
	if (rc != 0)
		bail("act__ring_attach: %s", act_strerror(rc));
}

static uint64_t tail_of(struct act__ring *r)
{
	return atomic_load(&r->tail);
}

static uint64_t head_of(struct act__ring *r)
{
	return atomic_load(&r->head);
}

/* Sends record seq of len bytes (len >= TREC_MIN); returns 0 or the error. */
/* Bytes a record of len takes at offset off: rounded to 8, then padded to
 * the end of its cache line (ACT__RING_LINE_ALIGN, ring.h). */
static uint32_t span(uint32_t off, uint32_t len)
{
	uint32_t n = act__rec_round(len);
	return n + ((0u - (off + n)) & (ACT__RING_LINE_ALIGN - 1u));
}

/* Commits record seq of len bytes, published at once or batched (ring.h). */
static int put_as(act__ring_h *p, uint64_t seq, uint32_t len, bool batched)
{
	int err;
	struct trec *t = act__ring_reserve(p, len, &err);

	if (!t)
		return err;
	if (err != 0)
		bail("reserve returned a record and error %d", err);
	t->h.len = len;
	t->h.kind = ACT__REC_MSG;
	t->h.flags = (uint16_t)seq;
	t->seq = seq;
	fill_pat(t->payload, seq, len - TREC_MIN);
	if (batched)
		act__ring_commit_batched(p, t);
	else
		act__ring_commit(p, t);
	return 0;
}

static int put(act__ring_h *p, uint64_t seq, uint32_t len)
{
	return put_as(p, seq, len, false);
}

/* Checks that rec is record seq of len bytes; describes the first
 * difference in why[]. */
static int rec_is(const struct act__rec *rec, uint64_t seq, uint32_t len,
                  char *why, size_t why_len)
{
	const struct trec *t = (const struct trec *)rec;

	if (!rec) {
		snprintf(why, why_len, "no record (expected seq %llu)", (unsigned long long)seq);
		return 0;
	}
	if (rec->len != len || rec->kind != ACT__REC_MSG || rec->flags != (uint16_t)seq ||
	    t->seq != seq) {
		snprintf(why, why_len, "got len %u kind %u flags %u seq %llu, "
		         "expected len %u kind %u seq %llu", rec->len, rec->kind,
		         rec->flags, (unsigned long long)t->seq, len, ACT__REC_MSG,
		         (unsigned long long)seq);
		return 0;
	}
	long bad = check_pat(t->payload, seq, len - TREC_MIN);
	if (bad >= 0) {
		snprintf(why, why_len, "seq %llu: payload differs near byte %ld",
		         (unsigned long long)seq, bad);
		return 0;
	}
	return 1;
}

/* Peeks, checks, begins and releases one record. */
static int take_one(act__ring_h *c, uint64_t seq, uint32_t len, char *why, size_t why_len)
{
	int err;
	const struct act__rec *rec = act__ring_peek(c, &err);

	if (err != 0) {
		snprintf(why, why_len, "peek: %s (expected seq %llu)", act_strerror(err),
		         (unsigned long long)seq);
		return 0;
	}
	if (!rec_is(rec, seq, len, why, why_len))
		return 0;
	if (act__ring_begin(c) != 0) {
		snprintf(why, why_len, "seq %llu: begin says redelivery", (unsigned long long)seq);
		return 0;
	}
	release_publish(c);
	return 1;
}

/* ---- format and attach validation ---------------------------------------- */

static void test_format(void)
{
	size_t n = act__ring_bytes(CAP);
	void *mem = aligned_alloc(ACT__CACHELINE, n);
	struct act__ring *r = mem;

	if (!mem)
		bail("out of memory");
	ok(n == sizeof(struct act__ring) + CAP && sizeof(struct act__ring) % ACT__CACHELINE == 0,
	   "act__ring_bytes is header + data, header a whole number of cache lines");
	ok(act__ring_format(mem, 5000, 1024, FROM, TO, GEN) == -EINVAL,
	   "format: capacity not a power of two -> -EINVAL");
	ok(act__ring_format(mem, 0, 64, FROM, TO, GEN) == -EINVAL,
	   "format: capacity 0 -> -EINVAL");
	ok(act__ring_format(mem, ACT__RING_MIN_CAP / 2, 64, FROM, TO, GEN) == -EINVAL,
	   "format: capacity below minimum -> -EINVAL");
	ok(act__ring_format(mem, ACT__RING_MAX_CAP * 2u, 1024, FROM, TO, GEN) == -EINVAL,
	   "format: capacity above maximum -> -EINVAL");
	ok(act__ring_format(mem, CAP, 63, FROM, TO, GEN) == -EINVAL,
	   "format: max_rec below 64 -> -EINVAL");
	ok(act__ring_format(mem, CAP, CAP / 4 + 8, FROM, TO, GEN) == -EINVAL,
	   "format: max_rec above cap/4 -> -EINVAL");

	memset(mem, 0xa5, n);
	int rc = act__ring_format(mem, CAP, 1001, FROM, TO, GEN);
	ok(rc == 0 && r->max_rec == 1000,
	   "format: max_rec rounded down to a multiple of 8 (1001 -> %u)", r->max_rec);
	ok(r->magic == ACT__RING_MAGIC && r->version == ACT__LAYOUT_VERSION &&
	   r->cap == CAP && r->from == FROM && r->to == TO && r->generation == GEN &&
	   head_of(r) == 0 && tail_of(r) == 0 && r->n_sent == 0 && r->n_delivered == 0 &&
	   r->n_refused_full == 0 && r->n_refused_size == 0 && r->depth_hwm == 0 &&
	   r->inflight_count == 0 && r->inflight_pos == UINT64_MAX,
	   "format over garbage: header fields set, positions and counters zero");
	free(mem);
}

/* One attach with one header field changed; restores the header after. */
#define BAD_ATTACH(r, field, value, what)                                       \
	do {                                                                   \
		act__ring_h h_;                                                \
		__typeof__((r)->field) saved_ = (r)->field;                    \
		(r)->field = (value);                                          \
		ok(act__ring_attach(&h_, (r), act__ring_bytes(CAP), FROM, TO, GEN) \
		   == -EPROTO, "attach: %s -> -EPROTO", what);                  \
		(r)->field = saved_;                                           \
	} while (0)

static void test_attach(void)
{
	size_t bytes;
	struct act__ring *r = ring_new(CAP, MAXR, &bytes);
	act__ring_h h;

	ok(act__ring_attach(&h, r, bytes, FROM, TO, GEN) == 0 && h.r == r &&
	   h.mask == CAP - 1 && h.max_rec == MAXR,
	   "attach: a freshly formatted ring validates");
	ok(act__ring_attach(&h, r, bytes, FROM + 1, TO, GEN) == -EPROTO,
	   "attach: wrong producer -> -EPROTO");
	ok(act__ring_attach(&h, r, bytes, FROM, TO + 1, GEN) == -EPROTO,
	   "attach: wrong consumer -> -EPROTO");
	ok(act__ring_attach(&h, r, bytes, FROM, TO, GEN + 1) == -EPROTO,
	   "attach: wrong generation -> -EPROTO");
	ok(act__ring_attach(&h, r, bytes - 8, FROM, TO, GEN) == -EPROTO,
	   "attach: region shorter than header + capacity -> -EPROTO");
	ok(act__ring_attach(&h, r, sizeof(struct act__ring) - 1, FROM, TO, GEN) == -EPROTO,
	   "attach: region shorter than the header -> -EPROTO");

	BAD_ATTACH(r, magic, ACT__POISON_MAGIC, "poisoned magic");
	BAD_ATTACH(r, magic, 0, "zero magic");
	BAD_ATTACH(r, version, ACT__LAYOUT_VERSION + 1, "future layout version");
	BAD_ATTACH(r, version, 0, "layout version 0");
	BAD_ATTACH(r, cap, CAP - 8, "capacity not a power of two");
	BAD_ATTACH(r, cap, CAP * 2, "capacity larger than the region");
	BAD_ATTACH(r, cap, ACT__RING_MIN_CAP / 2, "capacity below minimum");
	BAD_ATTACH(r, cap, 0, "capacity 0");
	BAD_ATTACH(r, max_rec, 0, "max_rec 0");
	BAD_ATTACH(r, max_rec, CAP / 4 + 8, "max_rec above cap/4");
	/* format rounds max_rec down to a multiple of 8 and reserve relies on
	 * it (len <= max_rec bounds the rounded length); an odd one would let
	 * the producer write a record that peek rejects as too long. */
	BAD_ATTACH(r, max_rec, MAXR - 1, "max_rec not a multiple of 8");
	BAD_ATTACH(r, from, FROM + 1, "header names another producer");
	BAD_ATTACH(r, to, TO + 1, "header names another consumer");
	BAD_ATTACH(r, generation, GEN ^ 1, "header of another generation");

	/* Positions.  head/tail are atomics; __typeof__ of an _Atomic member
	 * keeps the qualifier, so set them by hand. */
	struct { uint64_t head, tail; const char *what; } pos[] = {
		{ 64, 0, "head > tail" },
		{ 0, CAP + 8, "tail - head > capacity" },
		{ 8, 8 + CAP + 8, "tail - head > capacity (nonzero head)" },
		{ 4, 64, "unaligned head" },
		{ 0, 61, "unaligned tail" },
		{ 3, 3, "unaligned head == tail" },
	};
	for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
		atomic_store(&r->head, pos[i].head);
		atomic_store(&r->tail, pos[i].tail);
		ok(act__ring_attach(&h, r, bytes, FROM, TO, GEN) == -EBADMSG && h.r == r,
		   "attach: %s (head %llu tail %llu) -> -EBADMSG, ring named for quarantine", pos[i].what,
		   (unsigned long long)pos[i].head, (unsigned long long)pos[i].tail);
	}
	atomic_store(&r->head, (uint64_t)5 * CAP);
	atomic_store(&r->tail, (uint64_t)6 * CAP);
	ok(act__ring_attach(&h, r, bytes, FROM, TO, GEN) == 0,
	   "attach: full ring far into its life (tail - head == capacity) validates");
	atomic_store(&r->head, 0);
	atomic_store(&r->tail, 0);
	ok(act__ring_attach(&h, r, bytes, FROM, TO, GEN) == 0,
	   "attach: validates again once the header is restored");

	/* A quarantined ring: a producer that finds it full is told the
	 * receiver stopped reading, not to retry. */
	act__ring_h p;
	int err = 0;
	act__ring_attach(&p, r, bytes, FROM, TO, GEN);
	act__ring_quarantine(r);
	ok(act__ring_is_quarantined(r), "quarantine: the flag is set");
	uint32_t n_ok = 0;
	void *rec;
	while ((rec = act__ring_reserve(&p, MAXR, &err))) {
		((struct act__rec *)rec)->len = MAXR;
		((struct act__rec *)rec)->kind = ACT__REC_MSG;
		act__ring_commit(&p, rec);
		n_ok++;
	}
	ok(n_ok > 0 && err == ACT_ESTOPPED,
	   "quarantine: sends succeed until the ring is full, then ACT_ESTOPPED (%u, %d)", n_ok, err);
	ring_free(r);
}

/* ---- FIFO, wrap-around and PAD ---------------------------------------------- */

static void test_fifo_wrap(void)
{
	struct act__ring *r = ring_new(CAP, MAXR, NULL);
	act__ring_h p, c;
	uint32_t lens[1024]; /* by seq % 1024; at most CAP / 16 records in flight */
	uint64_t sent = 0, recvd = 0, pads = 0, pad_bad = 0, misplaced = 0, fulls = 0;
	uint64_t depth_bad = 0, at_max = 0;
	int fifo_ok = 1;
	char why[256] = "";

	attach(&p, r);
	attach(&c, r);
	while (sent < 100000 && fifo_ok) {
		uint32_t burst = 1 + rnd(12);

		for (uint32_t b = 0; b < burst && sent < 100000; b++) {
			/* Sizes 16..MAXR, none dividing the capacity in general;
			 * one record in 64 is exactly max_rec. */
			uint32_t len = rnd(64) == 0 ? MAXR : TREC_MIN + rnd(MAXR - TREC_MIN + 1);
			uint64_t tail = tail_of(r);
			uint32_t off = (uint32_t)tail & (CAP - 1);
			uint32_t to_end = CAP - off;
			int want_pad = act__rec_round(len) > to_end;
			int err = put(&p, sent, len);

			if (err == ACT_EFULL) {
				fulls++;
				if (tail_of(r) != tail)
					misplaced++;
				break;
			}
			if (err != 0) {
				snprintf(why, sizeof why, "put(%u): %s", len, act_strerror(err));
				fifo_ok = 0;
				break;
			}
			if (want_pad) {
				const struct act__rec *pad = (const struct act__rec *)(r->data + off);
				pads++;
				if (pad->kind != ACT__REC_PAD || pad->len != to_end)
					pad_bad++;
				if (((struct trec *)r->data)->seq != sent ||
				    tail_of(r) != tail + to_end + span(0, len))
					misplaced++;
			} else if (((struct trec *)(r->data + off))->seq != sent ||
			           tail_of(r) != tail + span(off, len)) {
				misplaced++;
			}
			if (len == MAXR)
				at_max++;
			lens[sent % 1024] = len;
			sent++;
		}
		if (act__ring_depth(r) != tail_of(r) - head_of(r) ||
		    act__ring_nonempty(&c) != (recvd != sent))
			depth_bad++;

		uint32_t drain = rnd(4) == 0 ? UINT32_MAX : 1 + rnd(12);
		for (uint32_t d = 0; d < drain && recvd < sent && fifo_ok; d++) {
			if (!take_one(&c, recvd, lens[recvd % 1024], why, sizeof why))
				fifo_ok = 0;
			else
				recvd++;
		}
	}
	while (recvd < sent && fifo_ok) {
		if (!take_one(&c, recvd, lens[recvd % 1024], why, sizeof why))
			fifo_ok = 0;
		else
			recvd++;
	}
	int err;
	const struct act__rec *extra = act__ring_peek(&c, &err);

	ok(fifo_ok && recvd == 100000 && !extra && err == 0,
	   "FIFO: %llu varied-size records came out once each, in order, intact%s%s",
	   (unsigned long long)recvd, fifo_ok ? "" : ": ", why);
	ok(misplaced == 0, "FIFO: each record starts on the line after the previous one "
	   "(or at offset 0 after a PAD); %llu misplaced", (unsigned long long)misplaced);
	ok(pads > 5000 && pad_bad == 0,
	   "wrap-around: %llu PAD records written, each filling exactly to the end "
	   "of the data area (%llu bad)", (unsigned long long)pads, (unsigned long long)pad_bad);
	ok(tail_of(r) / CAP > 5000, "wrap-around: the ring went round %llu times",
	   (unsigned long long)(tail_of(r) / CAP));
	ok(fulls > 1000, "the ring was found full %llu times on the way, with nothing "
	   "published by a refused reserve", (unsigned long long)fulls);
	ok(at_max > 1000, "%llu records of exactly max_rec bytes went through",
	   (unsigned long long)at_max);
	ok(depth_bad == 0, "act__ring_depth and act__ring_nonempty agree with head and tail");
	ok(r->n_sent == sent && r->n_delivered == recvd && r->n_refused_full == fulls &&
	   r->n_refused_size == 0 && head_of(r) == tail_of(r),
	   "counters: n_sent %llu, n_delivered %llu, n_refused_full %llu; ring drained",
	   (unsigned long long)r->n_sent, (unsigned long long)r->n_delivered,
	   (unsigned long long)r->n_refused_full);
	ok(r->depth_hwm <= CAP && r->depth_hwm >= CAP - MAXR - 8,
	   "depth_hwm %llu is within [cap - max_rec - 8, cap]",
	   (unsigned long long)r->depth_hwm);

	/* Smallest records (header only) interleaved with 28-byte ones: the
	 * 40-byte pairs do not divide the capacity, so laps end in PADs of
	 * varying size, down to the smallest (8 bytes). */
	uint64_t laps0 = tail_of(r) / CAP, n = 0;
	int small_ok = 1;
	for (int i = 0; i < 20000 && small_ok; i++) {
		int e;
		struct act__rec *h = act__ring_reserve(&p, 8, &e);
		if (!h) {
			small_ok = 0;
			break;
		}
		h->len = 8;
		h->kind = ACT__REC_MSG;
		h->flags = (uint16_t)i;
		act__ring_commit(&p, h);
		if (put(&p, (uint64_t)i, 28) != 0) {
			small_ok = 0;
			break;
		}
		const struct act__rec *got = act__ring_peek(&c, &e);
		small_ok = got && e == 0 && got->len == 8 && got->flags == (uint16_t)i;
		if (small_ok) {
			release_publish(&c);
			small_ok = take_one(&c, (uint64_t)i, 28, why, sizeof why);
		}
		n++;
	}
	ok(small_ok && n == 20000 && tail_of(r) / CAP - laps0 > 100 && head_of(r) == tail_of(r),
	   "header-only and 28-byte records interleaved over %llu laps",
	   (unsigned long long)(tail_of(r) / CAP - laps0));
	ring_free(r);
}

/* ---- full ring ---------------------------------------------------------------- */

static void test_full(void)
{
	struct act__ring *r = ring_new(CAP, MAXR, NULL);
	act__ring_h p, c;
	uint64_t n = 0;
	int err;
	char why[256] = "";

	attach(&p, r);
	attach(&c, r);
	while (n < 1000 && put(&p, n, 64) == 0)
		n++;
	ok(n == CAP / 64, "%llu records of 64 bytes fill a %u-byte ring exactly",
	   (unsigned long long)n, CAP);
	ok(act__ring_depth(r) == CAP && r->n_refused_full == 1,
	   "full: depth == capacity, n_refused_full == 1");
	uint64_t tail = tail_of(r);
	ok(act__ring_reserve(&p, 64, &err) == NULL && err == ACT_EFULL &&
	   act__ring_reserve(&p, TREC_MIN, &err) == NULL && err == ACT_EFULL,
	   "full: reserve of any size returns NULL with ACT_EFULL");
	ok(r->n_refused_full == 3 && tail_of(r) == tail && r->n_sent == n,
	   "full: each refusal counted (%llu), nothing published",
	   (unsigned long long)r->n_refused_full);
	ok(take_one(&c, 0, 64, why, sizeof why) && put(&p, n, 64) == 0,
	   "full: after one release there is room for one record again");
	ok(put(&p, n + 1, 64) == ACT_EFULL && r->n_refused_full == 4,
	   "full: and only one");
	n++;
	for (uint64_t s = 1; s < n; s++)
		if (!take_one(&c, s, 64, why, sizeof why))
			break;
	ok(act__ring_depth(r) == 0 && head_of(r) == tail_of(r), "full: drained after refusals: %s",
	   why[0] ? why : "every record intact");

	/* The PAD counts against free space, and so does the padding to the
	 * end of a record's line.  900 bytes (960 with its line padding) and
	 * 3 x 1000 (1024 each) leave the tail 64 bytes before the end; after
	 * the first is released 1024 bytes are free: enough for a 952-byte
	 * record (960) after its 64-byte PAD, not for 1000 (1024). */
	struct act__ring *r2 = ring_new(CAP, MAXR, NULL);
	attach(&p, r2);
	attach(&c, r2);
	put(&p, 0, 900);
	for (uint64_t s = 1; s < 4; s++)
		put(&p, s, 1000);
	take_one(&c, 0, 900, why, sizeof why);
	tail = tail_of(r2);
	int rc = put(&p, 4, 1000);
	ok((tail & (CAP - 1)) == CAP - 64 && rc == ACT_EFULL &&
	   tail_of(r2) == tail && r2->n_refused_full == 1,
	   "full: 1000 bytes refused when 1024 are free but 64 of them must be PAD "
	   "(tail at %llu, %d, %llu refusals)", (unsigned long long)(tail & (CAP - 1)), rc,
	   (unsigned long long)r2->n_refused_full);
	ok(put(&p, 4, 952) == 0 && tail_of(r2) == tail + 64 + 960 && act__ring_depth(r2) == CAP,
	   "full: 952 bytes + 8 of line padding + a 64-byte PAD fill the ring exactly");
	int all = 1;
	for (uint64_t s = 1; s <= 4; s++)
		all &= take_one(&c, s, s == 4 ? 952 : 1000, why, sizeof why);
	ok(all && act__ring_depth(r2) == 0, "full: records around the PAD read back intact");
	ring_free(r2);
	ring_free(r);
}

/* ---- record size limits ------------------------------------------------------------ */

static void test_sizes(void)
{
	struct act__ring *r = ring_new(CAP, MAXR, NULL);
	act__ring_h p, c;
	int err;
	char why[256] = "";

	attach(&p, r);
	attach(&c, r);
	ok(put(&p, 0, MAXR) == 0 && take_one(&c, 0, MAXR, why, sizeof why),
	   "max_rec (%u) bytes accepted and read back intact", MAXR);
	uint64_t tail = tail_of(r);
	ok(act__ring_reserve(&p, MAXR + 1, &err) == NULL && err == -EMSGSIZE &&
	   r->n_refused_size == 1, "max_rec + 1 refused with -EMSGSIZE and counted");
	ok(act__ring_reserve(&p, 7, &err) == NULL && err == -EMSGSIZE &&
	   act__ring_reserve(&p, 0, &err) == NULL && err == -EMSGSIZE &&
	   r->n_refused_size == 3, "a record shorter than its header refused with -EMSGSIZE");
	ok(act__ring_reserve(&p, 2 * CAP, &err) == NULL && err == -EMSGSIZE &&
	   r->n_refused_size == 4, "a record larger than the ring refused with -EMSGSIZE");

	/* len near UINT32_MAX must not wrap around to a small rounded size. */
	void *huge = act__ring_reserve(&p, UINT32_MAX, &err);
	ok(huge == NULL && err == -EMSGSIZE,
	   "reserve(UINT32_MAX) refused with -EMSGSIZE (got %p, %d)", huge, err);
	huge = act__ring_reserve(&p, UINT32_MAX - 6, &err);
	ok(huge == NULL && err == -EMSGSIZE,
	   "reserve(UINT32_MAX - 6) refused with -EMSGSIZE (got %p, %d)", huge, err);
	/* (Never committed: a returned pointer would be a bug, not a record.) */
	ok(tail_of(r) == tail && r->n_sent == 1 && r->n_refused_full == 0,
	   "refusals published nothing and were not counted as full");
	ok(put(&p, 1, MAXR) == 0 && take_one(&c, 1, MAXR, why, sizeof why),
	   "ring still works after refusals");
	ring_free(r);

	r = ring_new(CAP, 1001, NULL);
	attach(&p, r);
	attach(&c, r);
	ok(put(&p, 0, 1000) == 0 && put(&p, 1, 1001) == -EMSGSIZE,
	   "max_rec 1001 is really 1000: 1000 accepted, 1001 refused");
	ok(take_one(&c, 0, 1000, why, sizeof why), "and the 1000-byte record reads back");
	ring_free(r);
}

/* ---- redelivery bookkeeping -------------------------------------------------------- */

static void test_begin(void)
{
	struct act__ring *r = ring_new(CAP, MAXR, NULL);
	act__ring_h p, c, c2, c3;
	const struct act__rec *rec;
	int err;
	char why[256] = "";

	attach(&p, r);
	for (uint64_t s = 0; s < 3; s++)
		put(&p, s, 100);
	attach(&c, r);
	rec = act__ring_peek(&c, &err);
	ok(rec_is(rec, 0, 100, why, sizeof why) && act__ring_begin(&c) == 0,
	   "begin: 0 on first delivery");

	/* The consumer "dies" in the handler: a new one attaches. */
	attach(&c2, r);
	rec = act__ring_peek(&c2, &err);
	ok(rec_is(rec, 0, 100, why, sizeof why), "crash: new consumer sees the same record");
	ok(act__ring_begin(&c2) == 1, "crash: begin says it was started once before");
	attach(&c3, r);
	rec = act__ring_peek(&c3, &err);
	ok(rec_is(rec, 0, 100, why, sizeof why) && act__ring_begin(&c3) == 2,
	   "crash again: begin returns 2");
	ok(act__ring_begin(&c3) == 3, "begin again without release returns 3");
	release_publish(&c3);
	rec = act__ring_peek(&c3, &err);
	ok(rec_is(rec, 1, 100, why, sizeof why) && act__ring_begin(&c3) == 0,
	   "after release the next record starts at 0");
	release_publish(&c3);

	/* Dying after peek but before begin: the record was never started. */
	attach(&c, r);
	rec = act__ring_peek(&c, &err);
	attach(&c2, r);
	rec = act__ring_peek(&c2, &err);
	ok(rec_is(rec, 2, 100, why, sizeof why) && act__ring_begin(&c2) == 0,
	   "a record peeked but never begun counts as a first delivery");
	release_publish(&c2);
	ok(r->n_delivered == 3 && act__ring_depth(r) == 0, "three records delivered once each");

	/* A record right after a PAD: the PAD is released by peek, so the
	 * crash bookkeeping points at the record itself. */
	uint64_t s = 3;
	while ((tail_of(r) & (CAP - 1)) + 1000 <= CAP) {
		put(&p, s, 1000);
		take_one(&c2, s, 1000, why, sizeof why);
		s++;
	}
	put(&p, s, 1000); /* needs a PAD first */
	attach(&c, r);
	rec = act__ring_peek(&c, &err);
	ok(rec_is(rec, s, 1000, why, sizeof why) && (const unsigned char *)rec == r->data &&
	   act__ring_begin(&c) == 0, "record after a PAD: begin 0");
	attach(&c2, r);
	rec = act__ring_peek(&c2, &err);
	ok(rec_is(rec, s, 1000, why, sizeof why) && act__ring_begin(&c2) == 1,
	   "record after a PAD, after a crash: begin 1");
	release_publish(&c2);
	put(&p, s + 1, 64);
	attach(&c, r);
	rec = act__ring_peek(&c, &err);
	ok(rec_is(rec, s + 1, 64, why, sizeof why) && act__ring_begin(&c) == 0,
	   "a new consumer handle on a healthy ring: begin 0");
	release_publish(&c);
	ring_free(r);
}

/* ---- corruption -------------------------------------------------------------------- */

/*
 * A ring holding `count` records of `len` bytes whose first unread record
 * starts at data offset `at` (a multiple of 8), seq numbers from 100.
 */
static struct act__ring *ring_at(uint32_t at, int count, uint32_t len)
{
	struct act__ring *r = ring_new(CAP, MAXR, NULL);
	act__ring_h p;

	/* Both positions start at `at`, as if the ring had been used. */
	atomic_store(&r->head, at);
	atomic_store(&r->tail, at);
	attach(&p, r);
	for (int i = 0; i < count; i++)
		if (put(&p, 100 + (uint64_t)i, len) != 0)
			bail("ring_at: put failed");
	return r;
}

/*
 * Peeks at the corrupt ring in a child first, so that a peek that reads
 * out of bounds (the guard page faults) or never returns (a deadline)
 * fails this case instead of killing or hanging the whole test.  If
 * bad_head is not 0 the child stores it as head after attaching, as a
 * wild write would.  Returns 1 if the child saw -EPROTO.
 */
static int peek_in_child(struct act__ring *r, uint64_t bad_head, const char *what)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail("fork: %s", strerror(errno));
	if (pid == 0) {
		act__ring_h c;
		int err = 0;
		signal(SIGALRM, SIG_DFL); /* tap's handler would kill the parent too */
		alarm(3);
		if (act__ring_attach(&c, r, act__ring_bytes(CAP), FROM, TO, GEN) != 0)
			_exit(3);
		if (bad_head)
			atomic_store(&r->head, bad_head);
		const struct act__rec *rec = act__ring_peek(&c, &err);
		_exit(!rec && err == -EPROTO ? 0 : 1);
	}
	if (waitpid(pid, &st, 0) != pid)
		bail("waitpid: %s", strerror(errno));
	return ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	          "corrupt %s: peek -> -EPROTO, in bounds, in time (child %s %d)", what,
	          WIFSIGNALED(st) ? "killed by signal" : "exited with",
	          WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

/* peek on the corrupt ring gives -EPROTO (twice: it stays stuck), then
 * skip_corrupt drops everything and the ring flows again. */
static void expect_corrupt_at(struct act__ring *r, uint64_t bad_head, const char *what)
{
	act__ring_h c, p;
	int err = 0, err2 = 0;
	const struct act__rec *rec, *rec2;
	char why[256] = "";

	if (!peek_in_child(r, bad_head, what))
		return;
	attach(&c, r);
	if (bad_head)
		atomic_store(&r->head, bad_head);
	uint64_t depth = act__ring_depth(r);
	rec = act__ring_peek(&c, &err);
	rec2 = act__ring_peek(&c, &err2);
	ok(!rec && err == -EPROTO && !rec2 && err2 == -EPROTO,
	   "corrupt %s: peek stays stuck (got %d, %d)", what, err, err2);
	uint64_t dropped = act__ring_skip_corrupt(&c);
	rec = act__ring_peek(&c, &err);
	ok(dropped == depth && !rec && err == 0 && act__ring_depth(r) == 0,
	   "corrupt %s: skip_corrupt dropped %llu of %llu bytes, ring empty", what,
	   (unsigned long long)dropped, (unsigned long long)depth);
	attach(&p, r);
	ok(put(&p, 7, 300) == 0 && put(&p, 8, 40) == 0 &&
	   take_one(&c, 7, 300, why, sizeof why) && take_one(&c, 8, 40, why, sizeof why),
	   "corrupt %s: records flow again after skip_corrupt", what);
}

static void expect_corrupt(struct act__ring *r, const char *what)
{
	expect_corrupt_at(r, 0, what);
}

static struct act__rec *first(struct act__ring *r)
{
	return (struct act__rec *)(r->data + (head_of(r) & (CAP - 1)));
}

static void test_corrupt(void)
{
	struct act__ring *r;

	r = ring_at(0, 3, 64);
	first(r)->len = 0;
	expect_corrupt(r, "len 0");
	ring_free(r);

	r = ring_at(0, 3, 64);
	first(r)->len = 7;
	expect_corrupt(r, "len shorter than the header");
	ring_free(r);

	r = ring_at(0, 3, 64); /* 192 bytes published */
	first(r)->len = 200;
	expect_corrupt(r, "len beyond the published tail");
	ring_free(r);

	r = ring_at(0, 8, 200); /* 1600 bytes published, max_rec 1024 */
	first(r)->len = MAXR + 8;
	expect_corrupt(r, "len > max_rec (within the published bytes)");
	ring_free(r);

	/* A 64-byte record 96 bytes before the end, then more after the wrap;
	 * claiming 200 bytes would run off the end of the data area. */
	r = ring_at(CAP - 96, 6, 64);
	first(r)->len = 200;
	expect_corrupt(r, "len past the end of the data area");
	ring_free(r);

	r = ring_at(CAP - 96, 6, 64);
	first(r)->kind = ACT__REC_PAD;
	first(r)->len = 200;
	expect_corrupt(r, "PAD past the end of the data area");
	ring_free(r);

	r = ring_at(0, 3, 64);
	first(r)->kind = ACT__REC_PAD;
	first(r)->len = 0;
	expect_corrupt(r, "PAD of len 0");
	ring_free(r);

	/* len close to UINT32_MAX rounds up to 0 in 32 bits. */
	r = ring_at(0, 3, 64);
	first(r)->len = UINT32_MAX;
	expect_corrupt(r, "len UINT32_MAX");
	ring_free(r);

	r = ring_at(0, 3, 64);
	first(r)->len = UINT32_MAX - 3;
	first(r)->kind = ACT__REC_PAD;
	expect_corrupt(r, "PAD of len UINT32_MAX - 3");
	ring_free(r);

	/* The consumer keeps its own position (done_pos, mirrored in its
	 * handle) and never reads head back after attach: a wild write that
	 * leaves head unaligned 3 bytes before the end cannot make it read
	 * out of bounds. */
	{
		act__ring_h c;
		char why[256] = "";

		r = ring_at(CAP - 64, 2, 64); /* records at CAP - 64 and, after it, 0 */
		attach(&c, r);
		atomic_store(&r->head, CAP - 3);
		ok(take_one(&c, 100, 64, why, sizeof why),
		   "head corrupted after attach: the consumer reads on from its own position: %s",
		   why[0] ? why : "ok");
		ring_free(r);
	}

	/* The ring does not interpret kinds other than PAD: a record with an
	 * unknown kind is handed to the consumer, whose envelope decoder
	 * rejects it. */
	{
		act__ring_h c;
		const struct act__rec *rec;
		int err;

		r = ring_at(0, 2, 64);
		first(r)->kind = 0x7777;
		attach(&c, r);
		rec = act__ring_peek(&c, &err);
		ok(rec && err == 0 && rec->kind == 0x7777 && rec->len == 64,
		   "unknown kind: handed to the consumer unchanged");
		release_publish(&c);
		rec = act__ring_peek(&c, &err);
		ok(rec && ((const struct trec *)rec)->seq == 101, "and the next record follows");
		ring_free(r);
	}

	/* Positions corrupted after attach: a tail that runs more than a
	 * capacity ahead, an unaligned tail, a tail behind head. */
	struct { uint64_t tail; const char *what; } bad[] = {
		{ 64 + CAP + 8, "tail more than capacity ahead of head" },
		{ 64 + 12, "unaligned tail" },
		{ 8, "tail behind head" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		act__ring_h c;
		int err = 0;
		const struct act__rec *rec;
		char why[256] = "";

		r = ring_at(0, 1, 64);
		attach(&c, r);
		ok(take_one(&c, 100, 64, why, sizeof why), "ring with one record read: %s",
		   why[0] ? why : "ok");
		atomic_store(&r->tail, bad[i].tail);
		rec = act__ring_peek(&c, &err);
		ok(!rec && err == -EPROTO, "corrupt %s: peek -> -EPROTO", bad[i].what);
		ok(act__ring_skip_corrupt(&c) == 0 && head_of(r) == 64,
		   "corrupt %s: skip_corrupt refuses to follow it", bad[i].what);
		ring_free(r);
	}
}

/* ---- producer death -------------------------------------------------------------------- */

static void test_producer_death(void)
{
	struct act__ring *r = ring_new(CAP, MAXR, NULL);
	act__ring_h p, c;
	const struct act__rec *rec;
	int err;
	char why[256] = "";
	uint64_t s = 0;

	attach(&p, r);
	attach(&c, r);
	put(&p, s, 64);
	ok(take_one(&c, s, 64, why, sizeof why), "producer: one record through");
	s++;

	/* Reserve, write half a record, die. */
	struct trec *t = act__ring_reserve(&p, 300, &err);
	t->h.len = 300;
	t->h.kind = ACT__REC_MSG;
	t->seq = 999;
	memset(&p, 0xee, sizeof p);
	rec = act__ring_peek(&c, &err);
	ok(!rec && err == 0 && !act__ring_nonempty(&c) && act__ring_depth(r) == 0,
	   "producer died after reserve: nothing visible");

	attach(&p, r);
	ok(put(&p, s, 100) == 0 && take_one(&c, s, 100, why, sizeof why),
	   "new producer handle: its record arrives, not the dead one's: %s",
	   why[0] ? why : "ok");
	s++;

	/* Again, where the reservation wrote a PAD: move the tail to 128
	 * bytes before the end, reserve 200 (PAD + record at 0), die. */
	while ((tail_of(r) & (CAP - 1)) != CAP - 128) {
		uint32_t off = (uint32_t)tail_of(r) & (CAP - 1);
		uint32_t len = CAP - 128 - off > MAXR ? MAXR : CAP - 128 - off;
		put(&p, s, len);
		take_one(&c, s, len, why, sizeof why);
		s++;
	}
	uint64_t tail = tail_of(r);
	t = act__ring_reserve(&p, 200, &err);
	ok(t && (unsigned char *)t == r->data &&
	   ((struct act__rec *)(r->data + CAP - 128))->kind == ACT__REC_PAD,
	   "reservation across the end wrote a PAD and returned offset 0");
	t->h.len = 200;
	t->h.kind = ACT__REC_MSG;
	memset(&p, 0xee, sizeof p);
	rec = act__ring_peek(&c, &err);
	ok(!rec && err == 0 && tail_of(r) == tail, "producer died there: nothing visible");
	attach(&p, r);
	ok(put(&p, s, 64) == 0 && take_one(&c, s, 64, why, sizeof why) && head_of(r) == tail + 64,
	   "new producer overwrites the stale PAD with a record that fits before the end");
	s++;

	int flow = 1;
	uint64_t base = s;
	for (int i = 0; i < 5000 && flow; i++) {
		uint32_t len = TREC_MIN + rnd(MAXR - TREC_MIN + 1);
		flow = put(&p, s, len) == 0 && take_one(&c, s, len, why, sizeof why);
		s++;
	}
	ok(flow && r->n_sent == s && r->n_delivered == s,
	   "ring keeps flowing: %llu more records, n_sent == n_delivered == %llu%s%s",
	   (unsigned long long)(s - base), (unsigned long long)s, flow ? "" : ": ", why);
	ring_free(r);
}

/* ---- observability ------------------------------------------------------------------ */

/*
 * depth_hwm is "the high-water mark of tail - head".  A consumer that keeps
 * up (never more than one 64-byte record queued) must not show a deep ring.
 */
static void test_hwm(void)
{
	struct act__ring *r = ring_new(CAP, MAXR, NULL);
	act__ring_h p, c;
	char why[256] = "";
	uint64_t max_depth = 0;
	int flow = 1;

	attach(&p, r);
	attach(&c, r);
	for (uint64_t s = 0; s < 1000 && flow; s++) {
		flow = put(&p, s, 64) == 0;
		if (act__ring_depth(r) > max_depth)
			max_depth = act__ring_depth(r);
		flow = flow && take_one(&c, s, 64, why, sizeof why);
	}
	ok(flow && max_depth == 64, "trickle: real depth never exceeded %llu bytes",
	   (unsigned long long)max_depth);
	ok(r->depth_hwm == max_depth, "trickle: depth_hwm %llu == real high-water mark %llu",
	   (unsigned long long)r->depth_hwm, (unsigned long long)max_depth);
	ring_free(r);
}

/* A consumer that dies after a handler but before it published head:
 * its successor resumes after the handled record (done_pos), with no
 * redelivery, and head catches up. */
static void test_done_pos(void)
{
	struct act__ring *r = ring_at(0, 3, 64); /* seqs 100, 101, 102 */
	act__ring_h c, c2;
	const struct act__rec *rec;
	int err;

	attach(&c, r);
	rec = act__ring_peek(&c, &err);
	ok(rec && act__ring_begin(&c) == 0, "first record begun");
	act__ring_release(&c); /* handled, not published */
	ok(head_of(r) == 0 && atomic_load(&r->done_pos) == 64,
	   "release records progress in done_pos; head is published later");
	memset(&c, 0xee, sizeof c); /* the consumer dies */
	attach(&c2, r);
	rec = act__ring_peek(&c2, &err);
	ok(rec && ((const struct trec *)rec)->seq == 101 && act__ring_begin(&c2) == 0,
	   "the next consumer resumes at the second record, not a redelivery");
	act__ring_release(&c2);
	rec = act__ring_peek(&c2, &err);
	ok(rec && ((const struct trec *)rec)->seq == 102, "and goes on in order");
	act__ring_begin(&c2);
	act__ring_release(&c2);
	ok(!act__ring_peek(&c2, &err) && err == 0 && head_of(r) == 3 * 64,
	   "caught up: head published up to everything handled");
	ring_free(r);
}

/* ---- batched commits and their promotion after the producer's death ------- */

static int put_batched(act__ring_h *p, uint64_t seq, uint32_t len)
{
	return put_as(p, seq, len, true);
}

static void test_batched(void)
{
	/* Room for a burst longer than the step. */
	const uint32_t cap = 4 * ACT__RING_SHOW_STEP;
	struct act__ring *r = ring_new(cap, MAXR, NULL);
	act__ring_h p, c;
	char why[256] = "";
	int err, all = 1;

	attach(&p, r);
	attach(&c, r);
	/* A burst of three: the first is published at once, the others wait
	 * for the step (ACT__RING_SHOW_STEP bytes) or act__ring_show(). */
	for (uint64_t s = 0; s < 3; s++)
		put_batched(&p, s, 100);
	ok(tail_of(r) == 128 && atomic_load(&r->tail_committed) == 3 * 128,
	   "batched: the first record of a burst is published, the rest only committed "
	   "(tail %llu, committed %llu)", (unsigned long long)tail_of(r),
	   (unsigned long long)atomic_load(&r->tail_committed));
	ok(take_one(&c, 0, 100, why, sizeof why) && !act__ring_peek(&c, &err) && err == 0,
	   "batched: the consumer sees the first record only: %s", why[0] ? why : "ok");
	act__ring_show(&p);
	for (uint64_t s = 1; s < 3; s++)
		all &= take_one(&c, s, 100, why, sizeof why);
	ok(all && tail_of(r) == 3 * 128, "batched: act__ring_show() publishes the rest, in order");

	/* A burst longer than the step publishes every ACT__RING_SHOW_STEP. */
	uint64_t base = tail_of(r), n = ACT__RING_SHOW_STEP / 128 + 2;
	for (uint64_t s = 0; s < n; s++)
		put_batched(&p, 3 + s, 100);
	ok(tail_of(r) - base >= ACT__RING_SHOW_STEP && tail_of(r) - base < n * 128,
	   "batched: a long burst is published in steps of %u bytes (%llu of %llu)",
	   ACT__RING_SHOW_STEP, (unsigned long long)(tail_of(r) - base),
	   (unsigned long long)(n * 128));

	/* The producer dies mid-burst: promotion publishes what it committed. */
	memset(&p, 0xee, sizeof p);
	ok(act__ring_promote(r) && tail_of(r) - base == n * 128,
	   "promote: the dead producer's committed records are published");
	all = 1;
	for (uint64_t s = 0; s < n && all; s++)
		all &= take_one(&c, 3 + s, 100, why, sizeof why);
	ok(all && !act__ring_peek(&c, &err) && err == 0,
	   "promote: every one of them arrives once, in order: %s", why[0] ? why : "ok");
	ok(!act__ring_promote(r), "promote: nothing more to publish the second time");
	uint64_t t = tail_of(r);
	atomic_store(&r->tail_committed, t + 12); /* not a record boundary */
	ok(!act__ring_promote(r) && tail_of(r) == t, "promote: an unaligned committed position is ignored");
	atomic_store(&r->tail_committed, t + 2 * cap);
	ok(!act__ring_promote(r) && tail_of(r) == t,
	   "promote: a committed position beyond a lap is ignored");
	ring_free(r);
}

int main(void)
{
	tap_timeout(60);
	test_batched();
	test_done_pos();
	test_format();
	test_attach();
	test_fifo_wrap();
	test_full();
	test_sizes();
	test_begin();
	test_corrupt();
	test_producer_death();
	test_hwm();
	return done_testing();
}
