/* SPDX-License-Identifier: MIT */
/*
 * t/sleepwake.c - a million sleep/wake cycles without a lost wakeup.
 *
 * Two processes play ping-pong over two rings (A -> B and B -> A), one
 * record in flight at a time, so that every message finds its receiver
 * either asleep or on its way to sleep.  Before waiting for a message each
 * side ALWAYS runs the full protocol: act__doorbell_prepare_sleep(); if it
 * says "may block", poll() on its own eventfd, then act__doorbell_awake();
 * then drain the eventfd, take the ready bits and look at the ring.  A poll
 * that times out (2 s) with a message or a ready bit waiting means the
 * wakeup was lost, and fails the test with the state of both sides.  Each
 * message is checked for its sequence number, so loss, duplication and
 * reordering fail too.  A second phase races notify against prepare_sleep
 * deliberately (see race_a()).
 *
 * Placement is left to the scheduler on purpose: with the two processes on
 * different CPUs a reply often lands while the receiver is between its last
 * look and its sleep, which is the race the protocol's fences exist for
 * (the "work arrived during prepare_sleep" count); pinned to one CPU a side
 * would always be fully asleep.  Measured on a 2-vCPU VM, a round trip costs
 * about 4.5 us unpinned, so 1,000,000 of them take about 5 s (pinning was
 * not needed); the race phase adds 3 to 10 s depending on the load.
 *
 * ACT_SLEEPWAKE_N=<round trips> shortens the run for sanitizer and valgrind
 * builds; the default is 1,000,000.
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

#define CAP      (4u * 1024u)
#define MAXR     256u
#define GEN      0x51ee9ull
#define ID_A     1u
#define ID_B     2u
#define POLL_MS  2000

struct prec {
	struct act__rec h; /* kind MSG, flags = sender id */
	uint64_t seq;
	uint64_t check;    /* ~seq ^ sender */
};

/* What each side reports back to the parent. */
struct stats {
	uint64_t sleeps;      /* prepare_sleep said "block", and we polled */
	uint64_t prep_found;  /* prepare_sleep found work: no sleep */
	uint64_t empty;       /* woke (or did not sleep) and found no record */
	uint64_t quiet;       /* polls that timed out with nothing pending */
	uint64_t done;        /* messages received */
	char why[256];        /* first failure */
};

/* The race phase's lock-step counters, one cache line each. */
struct race {
	alignas(ACT__CACHELINE) _Atomic uint64_t go;   /* A: round k may start */
	alignas(ACT__CACHELINE) _Atomic uint64_t done; /* B: round k's notify returned */
};

struct shared {
	struct act__part part[2];                 /* [0] A's block, [1] B's */
	alignas(ACT__CACHELINE) struct stats st[2];
	struct race race;
	alignas(ACT__CACHELINE) unsigned char rings[]; /* A->B, then B->A */
};

static size_t map_bytes(void)
{
	return sizeof(struct shared) + 2 * act__ring_bytes(CAP);
}

static struct act__ring *ring_of(struct shared *sh, unsigned i)
{
	return (struct act__ring *)(sh->rings + i * act__ring_bytes(CAP));
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One side: its own control block and doorbell, the ring it reads and the
 * ring it writes with the peer's block and doorbell. */
struct side {
	struct shared *sh;
	unsigned me;              /* 0 = A, 1 = B */
	uint16_t id, peer_id;
	struct act__part *part, *peer_part;
	int efd, peer_efd;
	act__ring_h in, out;
	struct stats *st;
	pid_t peer_pid;           /* A: B's pid, to notice B's death; B: 0 */
};

static void side_init(struct side *s, struct shared *sh, unsigned me, int efd[2])
{
	unsigned peer = 1 - me;
	int rc;

	memset(s, 0, sizeof *s);
	s->sh = sh;
	s->me = me;
	s->id = me ? ID_B : ID_A;
	s->peer_id = me ? ID_A : ID_B;
	s->part = &sh->part[me];
	s->peer_part = &sh->part[peer];
	s->efd = efd[me];
	s->peer_efd = efd[peer];
	s->st = &sh->st[me];
	/* Ring 0 is A -> B, ring 1 is B -> A: we write ring `me`, read `peer`. */
	rc = act__ring_attach(&s->out, ring_of(sh, me), act__ring_bytes(CAP),
	                      s->id, s->peer_id, GEN);
	if (rc == 0)
		rc = act__ring_attach(&s->in, ring_of(sh, peer), act__ring_bytes(CAP),
		                      s->peer_id, s->id, GEN);
	if (rc != 0)
		bail("side %c: attach: %s", "AB"[me], act_strerror(rc));
}

static int fail(struct side *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct side *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->st->why[0]) {
		va_start(ap, fmt);
		vsnprintf(s->st->why, sizeof s->st->why, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int send_one(struct side *s, uint64_t seq)
{
	int err;
	struct prec *p = act__ring_reserve(&s->out, sizeof *p, &err);

	/* One record in flight at a time: the ring is never full. */
	if (!p)
		return fail(s, "%c: reserve for seq %" PRIu64 ": %s", "AB"[s->me], seq,
		            act_strerror(err));
	p->h.len = sizeof *p;
	p->h.kind = ACT__REC_MSG;
	p->h.flags = s->id;
	p->seq = seq;
	p->check = ~seq ^ s->id;
	act__ring_commit(&s->out, p);
	act__doorbell_notify(s->peer_part, s->id, s->peer_efd);
	return 0;
}

static int bits_set(struct act__part *p)
{
	for (unsigned w = 0; w < ACT__READY_WORDS; w++)
		if (atomic_load(&p->ready[w]))
			return 1;
	return 0;
}

/* Waits for message seq, always through the full sleep protocol. */
static int wait_one(struct side *s, uint64_t seq)
{
	for (;;) {
		uint64_t bits[ACT__READY_WORDS];
		const struct act__rec *rec;
		int err;

		if (act__doorbell_prepare_sleep(s->part)) {
			struct pollfd pfd = { .fd = s->efd, .events = POLLIN };
			int pr;

			s->st->sleeps++;
			do
				pr = poll(&pfd, 1, POLL_MS);
			while (pr < 0 && errno == EINTR);
			if (pr < 0)
				return fail(s, "%c: poll: %s", "AB"[s->me], strerror(errno));
			if (pr == 0) {
				/* A message (or its ready bit) waiting for us
				 * after POLL_MS asleep: the doorbell never rang. */
				if (act__ring_nonempty(&s->in) || bits_set(s->part))
					return fail(s, "%c: lost wakeup waiting for seq %" PRIu64
					            ": slept %d ms; my ring %s, my ready bits %s, "
					            "my sleeping %u; peer's ring %s, peer sleeping %u",
					            "AB"[s->me], seq, POLL_MS,
					            act__ring_nonempty(&s->in) ? "NON-EMPTY" : "empty",
					            bits_set(s->part) ? "SET" : "clear",
					            atomic_load(&s->part->sleeping),
					            act__ring_depth(s->out.r) ? "non-empty" : "empty",
					            atomic_load(&s->peer_part->sleeping));
				/* Nothing for us: the peer is slow (a loaded
				 * machine), dead, or itself stuck on a lost
				 * wakeup, which it reports. */
				siginfo_t si = { 0 };
				if (s->peer_pid > 0 &&
				    waitid(P_PID, (id_t)s->peer_pid, &si,
				           WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid)
					return fail(s, "%c: peer exited while we waited for seq %"
					            PRIu64, "AB"[s->me], seq);
				if (++s->st->quiet >= 5)
					return fail(s, "%c: nothing from the peer for %d ms "
					            "(seq %" PRIu64 ")", "AB"[s->me],
					            5 * POLL_MS, seq);
			}
			act__doorbell_awake(s->part);
		} else {
			s->st->prep_found++;
		}
		act__doorbell_drain(s->efd);
		if (act__doorbell_take(s->part, bits) &&
		    bits[s->peer_id / 64] != 1ull << (s->peer_id % 64))
			return fail(s, "%c: unexpected ready bits %#" PRIx64, "AB"[s->me],
			            bits[0]);
		rec = act__ring_peek(&s->in, &err);
		if (err != 0)
			return fail(s, "%c: peek: %s", "AB"[s->me], act_strerror(err));
		if (!rec) {
			s->st->empty++;
			continue;
		}
		const struct prec *p = (const struct prec *)rec;
		if (rec->len != sizeof *p || rec->kind != ACT__REC_MSG ||
		    rec->flags != s->peer_id || p->seq != seq || p->check != (~seq ^ s->peer_id))
			return fail(s, "%c: expected seq %" PRIu64 ", got seq %" PRIu64
			            " len %u kind %u flags %u check %s", "AB"[s->me], seq,
			            p->seq, rec->len, rec->kind, rec->flags,
			            p->check == (~p->seq ^ s->peer_id) ? "ok" : "BAD");
		act__ring_release(&s->in);
		s->st->done++;
		/* Exactly one message per round: nothing may follow it. */
		if (act__ring_nonempty(&s->in))
			return fail(s, "%c: a second record after seq %" PRIu64, "AB"[s->me], seq);
		return 0;
	}
}

/* ---- phase 2: notify racing prepare_sleep --------------------------------- */

/*
 * Ping-pong mostly lines the two up by accident.  Here they race on
 * purpose: in round k, A publishes go = k and, after a short varying delay,
 * calls prepare_sleep(); B spins until it sees go == k and, after its own
 * delay, commits record k and notifies A.  When B's notify has returned,
 * either A's prepare_sleep said "work arrived" or A's eventfd must have
 * been written; "may block" with a silent eventfd is a lost wakeup, caught
 * without waiting for a timeout.  The delays slide the two critical
 * sections over each other so that the store-buffer window the fences
 * close is actually hit; with a fence missing this fails within a few
 * thousand rounds.
 */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static uint64_t mix(uint64_t x)
{
	x = (x + 1) * 0x9e3779b97f4a7c15ull;
	x ^= x >> 31;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 29);
}

static void delay(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		cpu_relax();
}

/* Spins until *v == k: pause first, then yield in case we share a CPU;
 * gives up after about 10 s (the peer died or hangs). */
static int spin_until(_Atomic uint64_t *v, uint64_t k)
{
	double deadline = 0;
	for (unsigned spins = 0; atomic_load_explicit(v, memory_order_acquire) != k; spins++) {
		if (spins < 1000) {
			cpu_relax();
			continue;
		}
		sched_yield();
		if (spins % 4096 == 0) {
			double t = now_s();
			if (!deadline)
				deadline = t + 10.0;
			else if (t > deadline)
				return -1;
		}
	}
	return 0;
}

static void __attribute__((noreturn)) race_b(struct shared *sh, int efd[2], uint64_t n)
{
	struct side s;

	side_init(&s, sh, 1, efd);
	for (uint64_t k = 1; k <= n; k++) {
		if (spin_until(&sh->race.go, k) != 0) {
			fail(&s, "B: round %" PRIu64 " never started", k);
			_exit(1);
		}
		delay((unsigned)(mix(k) % 48));
		if (send_one(&s, k) != 0)
			_exit(1);
		atomic_store_explicit(&sh->race.done, k, memory_order_release);
	}
	_exit(0);
}

/* Phase 3 runs the race with A's part in scan_all mode (worker.c's
 * protocol for nodes with few groups): no ready bits, and A looks at its
 * ring itself after prepare_sleep. */
static int race_scan;

static int race_a(struct shared *sh, int efd[2], uint64_t n, uint64_t *n_block)
{
	struct side s;

	side_init(&s, sh, 0, efd);
	for (uint64_t k = 1; k <= n; k++) {
		uint64_t bits[ACT__READY_WORDS], v;
		const struct act__rec *rec;
		int may_block, err;

		atomic_store_explicit(&sh->race.go, k, memory_order_release);
		/* A's delay range straddles B's (B also has to see go first),
		 * so that each side wins about half of the rounds. */
		delay(16 + (unsigned)(mix(k ^ 0xa5a5) % 64));
		may_block = act__doorbell_prepare_sleep(s.part);
		if (may_block && race_scan && act__ring_nonempty(&s.in))
			may_block = 0; /* behind prepare_sleep's fence: B published first */
		if (spin_until(&sh->race.done, k) != 0)
			return fail(&s, "A: B did not finish round %" PRIu64, k);
		if (may_block) {
			(*n_block)++;
			if (read(s.efd, &v, sizeof v) != (ssize_t)sizeof v)
				return fail(&s, "A: lost wakeup in round %" PRIu64 ": prepare_sleep "
				            "said block, B's notify returned, eventfd silent "
				            "(ready bits %s)", k, bits_set(s.part) ? "SET" : "clear");
		}
		act__doorbell_awake(s.part);
		act__doorbell_drain(s.efd);
		act__doorbell_take(s.part, bits);
		rec = act__ring_peek(&s.in, &err);
		if (!rec || ((const struct prec *)rec)->seq != k)
			return fail(&s, "A: round %" PRIu64 ": record %s", k,
			            rec ? "out of order" : "missing");
		act__ring_release(&s.in);
		s.st->done++;
	}
	return 0;
}

static void __attribute__((noreturn)) run_b(struct shared *sh, int efd[2], uint64_t n)
{
	struct side s;

	side_init(&s, sh, 1, efd);
	for (uint64_t seq = 0; seq < n; seq++)
		if (wait_one(&s, seq) != 0 || send_one(&s, seq) != 0)
			_exit(1);
	_exit(0);
}

/*
 * Runs one race phase from a quiet state: B in a child, A here.  scan
 * selects A's scan_all mode.  Returns 1 if A saw every record in time;
 * *st is B's wait status, *dt the phase's duration.
 */
static int run_race(struct shared *sh, int efd[2], uint64_t n_race, int scan,
                    uint64_t *n_block, double *dt, int *st)
{
	uint64_t bits[ACT__READY_WORDS];
	double t0;
	pid_t pid;
	int race_ok;

	sh->st[0].why[0] = sh->st[1].why[0] = 0;
	for (unsigned i = 0; i < 2; i++) {
		act__doorbell_awake(&sh->part[i]);
		act__doorbell_take(&sh->part[i], bits);
		act__doorbell_drain(efd[i]);
	}
	atomic_store(&sh->race.go, 0);
	atomic_store(&sh->race.done, 0);
	sh->part[0].scan_all = (uint32_t)scan;
	race_scan = scan;
	fflush(stdout);
	t0 = now_s();
	pid = fork();
	if (pid < 0)
		bail("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		race_b(sh, efd, n_race);
	}
	race_ok = race_a(sh, efd, n_race, n_block) == 0;
	*dt = now_s() - t0;
	if (!race_ok)
		kill(pid, SIGKILL);
	if (waitpid(pid, st, 0) != pid)
		bail("waitpid: %s", strerror(errno));
	return race_ok;
}

int main(void)
{
	uint64_t n = 1000000, trips = 0;
	const char *env = getenv("ACT_SLEEPWAKE_N");
	struct shared *sh;
	int efd[2];
	pid_t pid;
	int st, a_ok = 1;
	struct side a;

	tap_timeout(120);
	if (env && *env) {
		char *end;
		unsigned long long v = strtoull(env, &end, 10);
		if (*end || v == 0)
			bail("ACT_SLEEPWAKE_N must be a positive integer, not \"%s\"", env);
		n = v;
	}
	plan(12);

	sh = mmap(NULL, map_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail("mmap: %s", strerror(errno));
	for (unsigned i = 0; i < 2; i++) {
		sh->part[i].index = i ? ID_B : ID_A;
		if (act__ring_format(ring_of(sh, i), CAP, MAXR, i ? ID_B : ID_A,
		                     i ? ID_A : ID_B, GEN) != 0)
			bail("act__ring_format failed");
		efd[i] = act__doorbell_new(true);
		if (efd[i] < 0)
			bail("act__doorbell_new: %s", act_strerror(efd[i]));
	}

	fflush(stdout);
	double t0 = now_s();
	pid = fork();
	if (pid < 0)
		bail("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		run_b(sh, efd, n);
	}

	side_init(&a, sh, 0, efd);
	a.peer_pid = pid;
	for (uint64_t seq = 0; seq < n; seq++) {
		if (send_one(&a, seq) != 0 || wait_one(&a, seq) != 0) {
			a_ok = 0;
			break;
		}
		trips++;
	}
	double dt = now_s() - t0;
	if (!a_ok)
		kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) != pid)
		bail("waitpid: %s", strerror(errno));

	ok(a_ok, "A: every reply arrived, in order%s%s", a_ok ? "" : ": ", sh->st[0].why);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "B: every request arrived, in order (status 0x%x)%s%s", st,
	   sh->st[1].why[0] ? ": " : "", sh->st[1].why);
	ok(trips == n && sh->st[0].done == n && sh->st[1].done == n,
	   "%" PRIu64 " round trips, %" PRIu64 " + %" PRIu64 " messages received",
	   trips, sh->st[0].done, sh->st[1].done);
	ok(ring_of(sh, 0)->n_sent == n && ring_of(sh, 0)->n_delivered == n &&
	   ring_of(sh, 1)->n_sent == n && ring_of(sh, 1)->n_delivered == n,
	   "ring counters: n_sent == n_delivered == %" PRIu64 " both ways", n);
	uint64_t sleeps = sh->st[0].sleeps + sh->st[1].sleeps;
	uint64_t found = sh->st[0].prep_found + sh->st[1].prep_found;
	ok(sleeps > 0 && sh->part[0].n_sleeps + sh->part[1].n_sleeps == sleeps,
	   "the sides really slept: %" PRIu64 " times (part counters agree)", sleeps);
	ok(sleeps + found >= 2 * n, "every message went through prepare_sleep "
	   "(%" PRIu64 " sleeps + %" PRIu64 " found work >= %" PRIu64 ")",
	   sleeps, found, 2 * n);

	diag("ping-pong: %.2f s, %.2f us per round trip", dt,
	     dt * 1e6 / (double)(trips ? trips : 1));
	for (unsigned i = 0; i < 2; i++)
		diag("%c: slept %" PRIu64 ", work arrived during prepare_sleep %" PRIu64
		     ", woke to nothing %" PRIu64 ", doorbell rung for it %" PRIu64
		     " times, %" PRIu64 " quiet timeouts", "AB"[i], sh->st[i].sleeps,
		     sh->st[i].prep_found, sh->st[i].empty,
		     (uint64_t)sh->part[i].n_wakeups, sh->st[i].quiet);

	/* Phase 2, on the same rings, from a quiet state. */
	/* Half as many rounds as round trips: a missing fence shows within
	 * about 10^5 rounds on x86, and each round spins both CPUs. */
	uint64_t n_race = n / 2 ? n / 2 : 1;
	uint64_t n_block = 0, prev_done = sh->st[0].done;
	int race_ok = 0, ran = a_ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!ran) {
		strcpy(sh->st[0].why, "skipped, ping-pong failed");
		sh->st[1].why[0] = 0;
	} else {
		race_ok = run_race(sh, efd, n_race, 0, &n_block, &dt, &st);
	}
	ok(race_ok, "race: no lost wakeup in %" PRIu64 " rounds of notify against "
	   "prepare_sleep%s%s", sh->st[0].done - prev_done, race_ok ? "" : ": ", sh->st[0].why);
	ok(race_ok && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "race: B sent every record (status 0x%x)%s%s", st,
	   sh->st[1].why[0] ? ": " : "", sh->st[1].why);
	ok(sh->st[0].done - prev_done == n_race && ring_of(sh, 1)->n_delivered == n + n_race,
	   "race: %" PRIu64 " records received in order", sh->st[0].done - prev_done);
	if (race_ok)
		diag("race: %.2f s; prepare_sleep said block %" PRIu64 " times (eventfd "
		     "rung each time), found B's bit %" PRIu64 " times", dt, n_block,
		     n_race - n_block);

	/* Phase 3: the same race in scan_all mode. */
	uint64_t prev3 = sh->st[0].done, n_block3 = 0;
	int race3_ok = 0;
	if (race_ok)
		race3_ok = run_race(sh, efd, n_race, 1, &n_block3, &dt, &st);
	ok(race3_ok, "scan_all race: no lost wakeup in %" PRIu64 " rounds%s%s",
	   sh->st[0].done - prev3, race3_ok ? "" : ": ", sh->st[0].why);
	ok(race3_ok && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "scan_all race: B sent every record (status 0x%x)", st);
	ok(sh->st[0].done - prev3 == n_race && !bits_set(&sh->part[0]),
	   "scan_all race: %" PRIu64 " records in order, and no ready bit was ever set",
	   sh->st[0].done - prev3);
	if (race3_ok)
		diag("scan_all race: %.2f s; blocked %" PRIu64 " times", dt, n_block3);
	close(efd[0]);
	close(efd[1]);
	munmap(sh, map_bytes());
	return tap_failed ? 1 : 0;
}
