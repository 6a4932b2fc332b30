/* SPDX-License-Identifier: MIT */
/*
 * t/ring-stress.c - two producer processes, one consumer, real sleep/wake.
 *
 * One MAP_SHARED anonymous mapping holds the consumer's control block and
 * one 64 KiB ring per producer (rings are single-producer, so two
 * producers means two rings into the same consumer).  Each forked producer
 * sends ACT_STRESS_N records (default 5,000,000, so 10 million in all) of
 * 8..200 payload bytes derived from (producer, sequence number), retrying
 * on ACT_EFULL and ringing the doorbell after every commit; both pause
 * between bursts until the consumer has caught up.  The consumer
 * (this process) drains only the rings whose ready bit it took, checks
 * every record's order and content, and sleeps on its eventfd through the
 * full protocol whenever there is nothing to do.  A poll that times out
 * while a ring holds records or a ready bit is set is a lost wakeup.  The
 * small rings make full-ring refusals and wrap-around constant.
 *
 * ACT_STRESS_N=<records per producer> shortens the run for sanitizer and
 * valgrind builds; the default is the full run.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <actors.h>

#include "doorbell.h"
#include "layout.h"
#include "ring.h"

#include "tap.h"

#define N_PROD   2
#define CONSUMER 0u                   /* participant index of the consumer */
#define CAP      (64u * 1024u)
#define MAXR     256u
#define GEN      0x57e55ull
#define MIN_PAY  8u
#define MAX_PAY  200u

struct srec {
	struct act__rec h; /* kind MSG, flags = producer */
	uint64_t seq;
	unsigned char payload[];
};

#define SREC_HDR ((uint32_t)sizeof(struct srec))

static uint64_t mix(uint64_t a, uint64_t b)
{
	uint64_t x = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull;
	x ^= x >> 31;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 29);
}

static uint64_t key(unsigned prod, uint64_t seq)
{
	return ((uint64_t)prod << 56) ^ seq;
}

static uint32_t pay_len(unsigned prod, uint64_t seq)
{
	return MIN_PAY + (uint32_t)(mix(key(prod, seq), ~0ull) % (MAX_PAY - MIN_PAY + 1));
}

static void fill_pat(unsigned char *p, uint64_t k, uint32_t n)
{
	for (uint32_t i = 0; i < n; i += 8) {
		uint64_t v = mix(k, i);
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static int pat_ok(const unsigned char *p, uint64_t k, uint32_t n)
{
	for (uint32_t i = 0; i < n; i += 8) {
		uint64_t v = mix(k, i);
		if (memcmp(p + i, &v, n - i < 8 ? n - i : 8) != 0)
			return 0;
	}
	return 1;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The shared mapping: control block, then the rings. */
struct shared {
	struct act__part part;
	alignas(ACT__CACHELINE) unsigned char rings[];
};

static size_t map_bytes(void)
{
	return sizeof(struct shared) + N_PROD * act__ring_bytes(CAP);
}

static struct act__ring *ring_of(struct shared *sh, unsigned i)
{
	return (struct act__ring *)(sh->rings + i * act__ring_bytes(CAP));
}

static uint16_t from_of(unsigned i)
{
	return (uint16_t)(1 + i);
}

/* ---- producer (child) --------------------------------------------------- */

static void __attribute__((noreturn)) produce(struct shared *sh, unsigned i, uint64_t n, int efd)
{
	act__ring_h h;
	int err = act__ring_attach(&h, ring_of(sh, i), act__ring_bytes(CAP),
	                           from_of(i), CONSUMER, GEN);

	if (err != 0) {
		fprintf(stderr, "producer %u: attach: %s\n", i, act_strerror(err));
		_exit(3);
	}
	for (uint64_t seq = 0, burst_end = 0; seq < n; seq++) {
		uint32_t plen = pay_len(i, seq);

		/* Bursts of 1..1024 records, ending at the same sequence
		 * numbers in both producers, each followed by a pause until
		 * the consumer has drained both rings.  While both pause
		 * nobody rings the doorbell, so a wakeup lost on the last
		 * record before the pause leaves the consumer asleep on a
		 * non-empty ring and its poll times out.  Without pauses the
		 * next doorbell would hide the loss. */
		if (seq == burst_end) {
			unsigned spins = 0;
			while (act__ring_depth(ring_of(sh, 0)) || act__ring_depth(ring_of(sh, 1)))
				if (++spins < 64)
					cpu_relax();
				else
					sched_yield();
			burst_end = seq + 1 + mix(seq, 0xb0) % 1024;
		}
		uint32_t len = SREC_HDR + plen;
		struct srec *rec;
		unsigned spins = 0;

		/* Full: spin briefly, then give the CPU away; on two cores the
		 * consumer may need the one we are spinning on. */
		while (!(rec = act__ring_reserve(&h, len, &err))) {
			if (err != ACT_EFULL) {
				fprintf(stderr, "producer %u: reserve(%u): %s\n", i, len,
				        act_strerror(err));
				_exit(2);
			}
			if (++spins < 64)
				cpu_relax();
			else
				sched_yield();
		}
		rec->h.len = len;
		rec->h.kind = ACT__REC_MSG;
		rec->h.flags = (uint16_t)from_of(i);
		rec->seq = seq;
		fill_pat(rec->payload, key(i, seq), plen);
		act__ring_commit(&h, rec);
		act__doorbell_notify(&sh->part, from_of(i), efd);
	}
	_exit(0);
}

/* ---- consumer (this process) -------------------------------------------- */

struct cons {
	struct shared *sh;
	act__ring_h h[N_PROD];
	uint64_t next[N_PROD];  /* expected seq per producer */
	uint64_t n;             /* records per producer */
	uint64_t total;
	uint64_t redelivered;
	char why[256];          /* first failure */
};

/* Drains ring i completely; returns 0, or -1 with why[] set. */
static int drain_ring(struct cons *c, unsigned i)
{
	act__ring_h *h = &c->h[i];
	const struct act__rec *rec;
	int err;

	while ((rec = act__ring_peek(h, &err))) {
		const struct srec *s = (const struct srec *)rec;
		uint64_t want = c->next[i];

		if (want >= c->n) {
			snprintf(c->why, sizeof c->why, "ring %u: record after the last "
			         "(seq %" PRIu64 ", all %" PRIu64 " already seen)", i, s->seq, c->n);
			return -1;
		}
		uint32_t plen = pay_len(i, want);
		if (rec->kind != ACT__REC_MSG || rec->flags != from_of(i) || s->seq != want ||
		    rec->len != SREC_HDR + plen) {
			snprintf(c->why, sizeof c->why, "ring %u: expected seq %" PRIu64
			         " len %u, got seq %" PRIu64 " len %u kind %u flags %u "
			         "(%s)", i, want, SREC_HDR + plen, s->seq, rec->len,
			         rec->kind, rec->flags,
			         s->seq < want ? "duplicate or reorder" : "gap or reorder");
			return -1;
		}
		if (!pat_ok(s->payload, key(i, want), plen)) {
			snprintf(c->why, sizeof c->why, "ring %u: seq %" PRIu64
			         ": payload corrupt", i, want);
			return -1;
		}
		if (act__ring_begin(h) != 0)
			c->redelivered++;
		act__ring_release(h);
		c->next[i]++;
		c->total++;
	}
	if (err != 0) {
		snprintf(c->why, sizeof c->why, "ring %u: peek after seq %" PRIu64 ": %s",
		         i, c->next[i], act_strerror(err));
		return -1;
	}
	return 0;
}

static int any_ready(struct act__part *p)
{
	for (unsigned w = 0; w < ACT__READY_WORDS; w++)
		if (atomic_load(&p->ready[w]))
			return 1;
	return 0;
}

static void kill_all(pid_t *pids)
{
	for (unsigned i = 0; i < N_PROD; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
}

int main(void)
{
	uint64_t n = 5000000;
	const char *env = getenv("ACT_STRESS_N");
	struct shared *sh;
	struct cons c;
	pid_t pids[N_PROD] = { 0 };
	int efd, failed = 0;
	uint64_t n_sleeps = 0, n_prep_found = 0, n_timeouts = 0, n_empty_wakes = 0;
	uint64_t n_takes = 0;

	tap_timeout(120);
	if (env && *env) {
		char *end;
		unsigned long long v = strtoull(env, &end, 10);
		if (*end || v == 0)
			bail("ACT_STRESS_N must be a positive integer, not \"%s\"", env);
		n = v;
	}
	plan(9);

	sh = mmap(NULL, map_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail("mmap: %s", strerror(errno));
	sh->part.index = CONSUMER;
	sh->part.ring_bytes = CAP;
	sh->part.max_msg = MAXR;
	for (unsigned i = 0; i < N_PROD; i++)
		if (act__ring_format(ring_of(sh, i), CAP, MAXR, from_of(i), CONSUMER, GEN) != 0)
			bail("act__ring_format failed");
	efd = act__doorbell_new(true);
	if (efd < 0)
		bail("act__doorbell_new: %s", act_strerror(efd));

	memset(&c, 0, sizeof c);
	c.sh = sh;
	c.n = n;
	for (unsigned i = 0; i < N_PROD; i++)
		if (act__ring_attach(&c.h[i], ring_of(sh, i), act__ring_bytes(CAP),
		                     from_of(i), CONSUMER, GEN) != 0)
			bail("consumer attach failed");

	diag("%d producers x %" PRIu64 " records, %u-byte rings, payload %u..%u bytes",
	     N_PROD, n, CAP, MIN_PAY, MAX_PAY);
	fflush(stdout);
	double t0 = now_s();
	for (unsigned i = 0; i < N_PROD; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			kill_all(pids);
			bail("fork: %s", strerror(errno));
		}
		if (pids[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			produce(sh, i, n, efd);
		}
	}

	while (c.total < N_PROD * n) {
		uint64_t bits[ACT__READY_WORDS];

		if (act__doorbell_take(&sh->part, bits)) {
			n_takes++;
			for (unsigned i = 0; i < N_PROD; i++) {
				uint32_t f = from_of(i);
				if ((bits[f / 64] >> (f % 64)) & 1 && drain_ring(&c, i) != 0) {
					failed = 1;
					goto out;
				}
			}
			continue;
		}
		/* Idle: the full sleep protocol. */
		if (!act__doorbell_prepare_sleep(&sh->part)) {
			n_prep_found++;
			continue;
		}
		n_sleeps++;
		struct pollfd pfd = { .fd = efd, .events = POLLIN };
		int pr = poll(&pfd, 1, 1000);
		if (pr < 0 && errno != EINTR) {
			snprintf(c.why, sizeof c.why, "poll: %s", strerror(errno));
			failed = 1;
			goto out;
		}
		if (pr == 0) {
			n_timeouts++;
			int r0 = act__ring_nonempty(&c.h[0]), r1 = act__ring_nonempty(&c.h[1]);
			if (r0 || r1 || any_ready(&sh->part)) {
				snprintf(c.why, sizeof c.why, "lost wakeup: slept 1 s with "
				         "ring 0 %s, ring 1 %s, ready bits %s, sleeping %u, "
				         "after %" PRIu64 "/%" PRIu64 " records",
				         r0 ? "non-empty" : "empty", r1 ? "non-empty" : "empty",
				         any_ready(&sh->part) ? "set" : "clear",
				         atomic_load(&sh->part.sleeping), c.next[0], c.next[1]);
				failed = 1;
				goto out;
			}
			/* Nothing pending: a producer may have died. */
			for (unsigned i = 0; i < N_PROD; i++) {
				int st;
				if (pids[i] > 0 && waitpid(pids[i], &st, WNOHANG) == pids[i]) {
					pids[i] = 0;
					if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || c.next[i] < n) {
						snprintf(c.why, sizeof c.why, "producer %u ended "
						         "(status 0x%x) after %" PRIu64 " of %"
						         PRIu64 " records", i, st, c.next[i], n);
						failed = 1;
						goto out;
					}
				}
			}
		} else if (pr > 0 && !any_ready(&sh->part)) {
			n_empty_wakes++;
		}
		act__doorbell_awake(&sh->part);
		act__doorbell_drain(efd);
	}
out:;
	double dt = now_s() - t0;
	int prod_ok = 1;
	if (failed)
		kill_all(pids);
	for (unsigned i = 0; i < N_PROD; i++) {
		int st;
		if (pids[i] <= 0)
			continue;
		if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			prod_ok = 0;
			if (!failed)
				diag("producer %u: status 0x%x", i, st);
		}
	}

	ok(!failed, "consumer: every record in order and intact%s%s",
	   failed ? ": " : "", failed ? c.why : "");
	ok(prod_ok || failed, "both producers exited 0");
	ok(c.total == N_PROD * n && c.next[0] == n && c.next[1] == n,
	   "exact counts: %" PRIu64 " records (%" PRIu64 " + %" PRIu64 "), expected %" PRIu64,
	   c.total, c.next[0], c.next[1], N_PROD * n);

	int tail_ok = 1;
	for (unsigned i = 0; i < N_PROD && !failed; i++) {
		int err;
		if (act__ring_peek(&c.h[i], &err) || err != 0)
			tail_ok = 0;
	}
	ok(!failed && tail_ok, "nothing left in the rings after the last record");

	uint64_t laps = UINT64_MAX, refused_full = 0, hwm = 0;
	int ctr_ok = 1;
	for (unsigned i = 0; i < N_PROD; i++) {
		struct act__ring *r = ring_of(sh, i);
		if (r->n_sent != n || r->n_delivered != n || r->n_refused_size != 0 ||
		    atomic_load(&r->head) != atomic_load(&r->tail)) {
			ctr_ok = 0;
			diag("ring %u: n_sent %" PRIu64 " n_delivered %" PRIu64
			     " n_refused_size %" PRIu64 " head %" PRIu64 " tail %" PRIu64, i,
			     (uint64_t)r->n_sent, (uint64_t)r->n_delivered,
			     (uint64_t)r->n_refused_size, (uint64_t)r->head, (uint64_t)r->tail);
		}
		if (atomic_load(&r->tail) / CAP < laps)
			laps = atomic_load(&r->tail) / CAP;
		refused_full += r->n_refused_full;
		if (r->depth_hwm > hwm)
			hwm = r->depth_hwm;
	}
	ok(ctr_ok, "ring counters: n_sent == n_delivered == %" PRIu64 " per ring, head == tail", n);
	ok(c.redelivered == 0, "act__ring_begin never reported a redelivery");
	/* Expected: about N * 128 bytes / 64 KiB laps per ring, full rings in
	 * the thousands at least. */
	ok(laps >= n * (SREC_HDR + MIN_PAY) / CAP,
	   "wrap-around: each ring went round at least %" PRIu64 " times", laps);
	ok(refused_full > 0 && hwm > CAP / 2,
	   "full rings: %" PRIu64 " refusals, depth high-water %" PRIu64 " bytes",
	   refused_full, hwm);
	ok(n_sleeps > 0, "the consumer went to sleep %" PRIu64 " times", n_sleeps);

	diag("%.2f s, %.2f M records/s, %.0f MB/s of records", dt,
	     (double)c.total / dt / 1e6,
	     (double)(atomic_load(&ring_of(sh, 0)->tail) + atomic_load(&ring_of(sh, 1)->tail)) /
	     dt / 1e6);
	diag("consumer: %" PRIu64 " takes, %" PRIu64 " sleeps (%" PRIu64 " timeouts, %" PRIu64
	     " wakes with nothing ready), %" PRIu64 " times work arrived during prepare_sleep",
	     n_takes, n_sleeps, n_timeouts, n_empty_wakes, n_prep_found);
	diag("producers: %" PRIu64 " eventfd writes, %" PRIu64 " full-ring refusals",
	     (uint64_t)sh->part.n_wakeups, refused_full);

	close(efd);
	munmap(sh, map_bytes());
	return tap_failed ? 1 : 0;
}
