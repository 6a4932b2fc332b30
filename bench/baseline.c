/* SPDX-License-Identifier: MIT */
/*
 * baseline.c - the bare reference measurements declared in baseline.h.
 *
 * The spinning measurements use the simplest correct single-producer
 * single-consumer ring there is: fixed 64-byte slots, a power-of-two slot
 * count, 64-bit free-running head and tail counters on cache lines of
 * their own, each side caching the other side's counter and reloading it
 * only when the cached value says "full" (producer) or "empty" (consumer).
 * The only ordering is one release store and one acquire load per message
 * and side, no fences: that is the floor any shared-memory transport pays.
 *
 * Every measurement that needs two processes forks both of them (so that
 * the caller keeps its own affinity and never spins), hands them a control
 * block in shared anonymous memory, and reaps them with bench_reap(), which
 * kills the pair if one fails or the time bound passes.  The children also
 * die with the caller (PR_SET_PDEATHSIG) and stop spinning by themselves
 * at the deadline, so that nothing is left burning a CPU.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "baseline.h"
#include "bench-util.h"

extern char **environ;

#define CACHELINE 64
#define PAIRLINE 128        /* two cache lines: see struct bring */
#define RTT_BATCH 64u       /* round trips per timed batch */
#define RTT_SLOTS 64u       /* slots per ring for ping-pong (depth is 1) */
#define STREAM_SLOTS 1024u  /* 64 KiB ring: fits L2 with room to spare */
#define STREAM_CHUNK 65536  /* messages per timed stretch (~1 ms), median taken */

/* ---- the bare ring ---------------------------------------------------------- */

/* One message: a sequence number and 56 bytes of payload, one cache line. */
struct bmsg {
	alignas(CACHELINE) uint64_t seq;
	uint64_t w[7];
};

/*
 * The counters each sit on a line of their own, 128 bytes apart: x86's
 * adjacent-line prefetcher pulls 64-byte lines in aligned pairs, so two
 * counters in one pair would still bounce between the CPUs together
 * (measured here: about 10 ns of round trip).
 */
struct bring {
	alignas(PAIRLINE) _Atomic uint64_t tail; /* written by the producer only */
	alignas(PAIRLINE) _Atomic uint64_t head; /* written by the consumer only */
	alignas(PAIRLINE) struct bmsg slot[];
};

/* A side's private view of a ring: its own position and the cached peer's. */
struct bside {
	struct bring *r;
	uint64_t mask;
	uint64_t pos;    /* producer: tail; consumer: head */
	uint64_t cached; /* producer: last head seen; consumer: last tail seen */
};

/* Bounds every busy-wait: yields in same-CPU mode, gives up at deadline. */
struct spinner {
	uint64_t deadline_ns;
	uint32_t n;
	int yield;
};

static size_t bring_bytes(uint32_t n_slots)
{
	return sizeof(struct bring) + (size_t)n_slots * sizeof(struct bmsg);
}

/* Returns nonzero once the deadline has passed (checked every 4096 spins). */
static inline int spin_once(struct spinner *sp)
{
	if (sp->yield)
		sched_yield();
	else
		bench_cpu_relax();
	if (++sp->n & 4095u)
		return 0;
	return now_ns() > sp->deadline_ns;
}

static void bside_init(struct bside *s, struct bring *r, uint32_t n_slots)
{
	s->r = r;
	s->mask = n_slots - 1;
	s->pos = 0;
	s->cached = 0;
}

/* Producer: copies *m into the next slot and publishes it.  0 or -ETIMEDOUT. */
static inline int bring_send(struct bside *s, const struct bmsg *m, struct spinner *sp)
{
	struct bring *r = s->r;

	while (s->pos - s->cached > s->mask) {
		/* Pairs with the consumer's release of head in bring_recv():
		 * once we see the new head, the consumer has finished reading
		 * the slot we are about to overwrite.  Relaxed here would let
		 * our payload stores race with its last reads of that slot. */
		s->cached = atomic_load_explicit(&r->head, memory_order_acquire);
		if (s->pos - s->cached > s->mask && spin_once(sp))
			return -ETIMEDOUT;
	}
	r->slot[s->pos & s->mask] = *m;
	/* Publishes the slot: pairs with the consumer's acquire of tail.
	 * Without release the consumer could see the new tail before the
	 * payload and read a stale message. */
	atomic_store_explicit(&r->tail, ++s->pos, memory_order_release);
	return 0;
}

/* Consumer: copies the next message into *m and frees its slot. */
static inline int bring_recv(struct bside *s, struct bmsg *m, struct spinner *sp)
{
	struct bring *r = s->r;

	while (s->pos == s->cached) {
		/* Pairs with the producer's release of tail in bring_send():
		 * the slots below the tail we load are fully written. */
		s->cached = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (s->pos == s->cached && spin_once(sp))
			return -ETIMEDOUT;
	}
	*m = r->slot[s->pos & s->mask];
	/* Frees the slot: pairs with the producer's acquire of head.  Without
	 * release our reads of the slot could be satisfied after the producer
	 * has already refilled it. */
	atomic_store_explicit(&r->head, ++s->pos, memory_order_release);
	return 0;
}

static inline void bmsg_fill(struct bmsg *m, uint64_t seq)
{
	m->seq = seq;
	for (unsigned k = 0; k < 7; k++)
		m->w[k] = seq + k;
}

/* Checks the sequence number and the payload derived from it. */
static inline int bmsg_ok(const struct bmsg *m, uint64_t seq)
{
	uint64_t sum = 0;

	for (unsigned k = 0; k < 7; k++)
		sum += m->w[k] - k;
	return m->seq == seq && sum == 7 * seq;
}

/* ---- running a pair of processes ------------------------------------------- */

/*
 * The control block at the start of every pair measurement's shared
 * mapping; measurement data follows it.
 */
struct pair_ctl {
	alignas(CACHELINE) _Atomic int n_started; /* start barrier */
	int cpu[2];
	int yield;              /* both sides share a CPU: yield in spins */
	uint64_t deadline_ns;   /* children give up spinning after this */
};

typedef int (*side_fn)(int side, struct pair_ctl *ctl, void *arg);

/* Both sides wait here so that neither measures the other's start-up. */
static int pair_barrier(struct pair_ctl *ctl)
{
	struct spinner sp = { ctl->deadline_ns, 0, ctl->yield };

	/* seq_cst is plenty: this runs once, outside anything timed. */
	atomic_fetch_add(&ctl->n_started, 1);
	while (atomic_load(&ctl->n_started) < 2)
		if (spin_once(&sp))
			return -ETIMEDOUT;
	return 0;
}

static void pair_child(int side, pid_t parent, struct pair_ctl *ctl,
                       side_fn fn, void *arg)
{
	int rc;

	/* A spinning orphan would eat a CPU forever: die with the caller. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(ECHILD);
	rc = pin_cpu(ctl->cpu[side]);
	if (!rc)
		rc = pair_barrier(ctl);
	if (!rc)
		rc = fn(side, ctl, arg);
	/* The exit status carries the errno back to bench_reap(). */
	_exit(rc >= 0 ? 0 : (-rc > 0 && -rc < 126 ? -rc : EIO));
}

/*
 * Forks side 0 and side 1 of a measurement and waits for both, at most
 * timeout_ns.  Returns 0 or a negative errno.
 */
static int run_pair(struct pair_ctl *ctl, int cpu_a, int cpu_b,
                    uint64_t timeout_ns, side_fn fn, void *arg)
{
	pid_t parent = getpid();
	pid_t pid[2] = { -1, -1 };
	int rc;

	ctl->cpu[0] = cpu_a;
	ctl->cpu[1] = cpu_b;
	ctl->yield = (cpu_a >= 0 && cpu_a == cpu_b) || bench_ncpus() < 2;
	ctl->deadline_ns = now_ns() + timeout_ns;
	atomic_store(&ctl->n_started, 0);
	/* Children must not inherit unflushed stdio and print it twice. */
	fflush(NULL);
	for (int i = 0; i < 2; i++) {
		pid[i] = fork();
		if (pid[i] < 0) {
			rc = -errno;
			goto fail_fork;
		}
		if (pid[i] == 0)
			pair_child(i, parent, ctl, fn, arg);
	}
	/* A second of slack: the children's own deadline fires first. */
	return bench_reap(pid, 2, timeout_ns + 1000000000u);

fail_fork:
	bench_reap(pid, 2, 0);
	return rc;
}

/* ---- ring round trip ---------------------------------------------------------- */

struct rtt_arg {
	struct bring *ab, *ba;
	long warm, n_batches;
	double *batch_ns; /* n_batches entries, shared */
};

static int rtt_side(int side, struct pair_ctl *ctl, void *varg)
{
	struct rtt_arg *a = varg;
	struct spinner sp = { ctl->deadline_ns, 0, ctl->yield };
	struct bside tx, rx;
	struct bmsg m;
	uint64_t seq = 0, total = (uint64_t)a->warm + (uint64_t)a->n_batches * RTT_BATCH;

	if (side == 1) {
		/* B: echo every message back. */
		bside_init(&rx, a->ab, RTT_SLOTS);
		bside_init(&tx, a->ba, RTT_SLOTS);
		for (; seq < total; seq++) {
			if (bring_recv(&rx, &m, &sp))
				return -ETIMEDOUT;
			if (!bmsg_ok(&m, seq))
				return -EPROTO;
			if (bring_send(&tx, &m, &sp))
				return -ETIMEDOUT;
		}
		return 0;
	}
	bside_init(&tx, a->ab, RTT_SLOTS);
	bside_init(&rx, a->ba, RTT_SLOTS);
	for (long b = -1; b < a->n_batches; b++) {
		/* Batch -1 is the warm-up, not recorded. */
		uint64_t n = b < 0 ? (uint64_t)a->warm : RTT_BATCH;
		uint64_t t0 = now_ns();
		for (uint64_t i = 0; i < n; i++, seq++) {
			bmsg_fill(&m, seq);
			if (bring_send(&tx, &m, &sp) || bring_recv(&rx, &m, &sp))
				return -ETIMEDOUT;
			if (!bmsg_ok(&m, seq))
				return -EPROTO;
		}
		if (b >= 0)
			a->batch_ns[b] = (double)(now_ns() - t0) / RTT_BATCH;
	}
	return 0;
}

double bare_ring_rtt_ns(int cpu_a, int cpu_b, long iters)
{
	struct rtt_arg a;
	size_t ring_len = bring_bytes(RTT_SLOTS);
	size_t off_ab, off_ba, off_samples, len;
	struct pair_ctl *ctl;
	double med;
	int rc;

	if (iters < 1000)
		return -EINVAL;
	a.warm = iters / 10 < 20000 ? iters / 10 : 20000;
	a.n_batches = (iters - a.warm) / (long)RTT_BATCH;
	/* Rings on separate pages from the control block and each other. */
	off_ab = 4096;
	off_ba = off_ab + ((ring_len + 4095) & ~(size_t)4095);
	off_samples = off_ba + ((ring_len + 4095) & ~(size_t)4095);
	len = off_samples + (size_t)a.n_batches * sizeof(double);
	ctl = bench_shm_alloc(len);
	if (!ctl)
		return -ENOMEM;
	a.ab = (struct bring *)((char *)ctl + off_ab);
	a.ba = (struct bring *)((char *)ctl + off_ba);
	a.batch_ns = (double *)((char *)ctl + off_samples);
	/* Generous bound: 20 us per round trip covers same-CPU yielding. */
	rc = run_pair(ctl, cpu_a, cpu_b, 5000000000u + (uint64_t)iters * 20000u,
	              rtt_side, &a);
	med = rc ? rc : bench_percentile(a.batch_ns, (size_t)a.n_batches, 50);
	bench_shm_free(ctl, len);
	return med;
}

/* ---- ring stream -------------------------------------------------------------- */

struct stream_arg {
	struct bring *r;
	long n, warm, chunk, n_chunks;
	uint64_t *stamp_ns; /* n_chunks + 1 entries, shared, consumer's */
};

static int stream_side(int side, struct pair_ctl *ctl, void *varg)
{
	struct stream_arg *a = varg;
	struct spinner sp = { ctl->deadline_ns, 0, ctl->yield };
	struct bside s;
	struct bmsg m;
	uint64_t n = (uint64_t)a->n, next = (uint64_t)a->warm;
	long k = 0;

	bside_init(&s, a->r, STREAM_SLOTS);
	if (side == 0) {
		for (uint64_t seq = 0; seq < n; seq++) {
			bmsg_fill(&m, seq);
			if (bring_send(&s, &m, &sp))
				return -ETIMEDOUT;
		}
		return 0;
	}
	for (uint64_t seq = 0; seq < n; seq++) {
		if (bring_recv(&s, &m, &sp))
			return -ETIMEDOUT;
		if (!bmsg_ok(&m, seq))
			return -EPROTO;
		if (seq + 1 == next && k <= a->n_chunks) {
			a->stamp_ns[k++] = now_ns();
			next += (uint64_t)a->chunk;
		}
	}
	return 0;
}

double bare_ring_stream_rate(int cpu_a, int cpu_b, long n)
{
	struct stream_arg *a;
	size_t off_ring = 4096, off_stamps, len;
	struct pair_ctl *ctl;
	double *rate, med;
	long warm, n_chunks;
	int rc;

	if (n < 1000)
		return -EINVAL;
	warm = n / 10;
	n_chunks = (n - warm) / STREAM_CHUNK;
	if (n_chunks < 10)
		n_chunks = 10;
	off_stamps = off_ring + ((bring_bytes(STREAM_SLOTS) + 4095) & ~(size_t)4095);
	len = off_stamps + (size_t)(n_chunks + 1) * sizeof(uint64_t);
	ctl = bench_shm_alloc(len);
	if (!ctl)
		return -ENOMEM;
	/* The argument block is shared too: it points at the shared stamps. */
	a = (struct stream_arg *)((char *)ctl + 2048);
	a->r = (struct bring *)((char *)ctl + off_ring);
	a->stamp_ns = (uint64_t *)((char *)ctl + off_stamps);
	a->n = n;
	a->warm = warm;
	a->n_chunks = n_chunks;
	a->chunk = (n - warm) / n_chunks;
	rc = run_pair(ctl, cpu_a, cpu_b, 5000000000u + (uint64_t)n * 5000u,
	              stream_side, a);
	if (rc) {
		med = rc;
		goto out;
	}
	rate = malloc((size_t)n_chunks * sizeof *rate);
	if (!rate) {
		med = -ENOMEM;
		goto out;
	}
	for (long k = 0; k < n_chunks; k++)
		rate[k] = (double)a->chunk * 1e9 /
		          (double)(a->stamp_ns[k + 1] - a->stamp_ns[k]);
	med = bench_percentile(rate, (size_t)n_chunks, 50);
	free(rate);
out:
	bench_shm_free(ctl, len);
	return med;
}

/* ---- eventfd round trip ----------------------------------------------------- */

struct efd_arg {
	int ab, ba;      /* eventfds: A->B and B->A */
	long n, warm;
	double mean_ns;  /* result, written by A */
};

/* Adds one to the eventfd's count (wakes a reader sleeping in efd_wait()). */
static int efd_post(int fd)
{
	uint64_t one = 1;
	ssize_t r;

	do
		r = write(fd, &one, sizeof one);
	while (r < 0 && errno == EINTR);
	return r == (ssize_t)sizeof one ? 0 : -EIO;
}

/* Sleeps in read() until the peer posts, and takes its count. */
static int efd_wait(int fd)
{
	uint64_t v;
	ssize_t r;

	do
		r = read(fd, &v, sizeof v);
	while (r < 0 && errno == EINTR);
	/* One post is outstanding at a time, so the count is exactly 1. */
	return r == (ssize_t)sizeof v && v == 1 ? 0 : -EPROTO;
}

static int efd_side(int side, struct pair_ctl *ctl, void *varg)
{
	struct efd_arg *a = varg;
	long total = a->warm + a->n;
	uint64_t t0 = 0;

	if (side == 1) {
		for (long i = 0; i < total; i++)
			if (efd_wait(a->ab) || efd_post(a->ba))
				return -EIO;
		return 0;
	}
	for (long i = 0; i < total; i++) {
		if (i == a->warm)
			t0 = now_ns();
		if (efd_post(a->ab) || efd_wait(a->ba))
			return -EIO;
	}
	a->mean_ns = (double)(now_ns() - t0) / (double)a->n;
	return 0;
}

double bare_eventfd_rtt_ns(int cpu_a, int cpu_b, long iters)
{
	struct efd_arg *a;
	struct pair_ctl *ctl;
	size_t len = 4096;
	double mean;
	int rc;

	if (iters < 100)
		return -EINVAL;
	ctl = bench_shm_alloc(len);
	if (!ctl)
		return -ENOMEM;
	a = (struct efd_arg *)((char *)ctl + 2048);
	a->n = iters;
	a->warm = iters / 10;
	a->ab = eventfd(0, EFD_CLOEXEC);
	if (a->ab < 0) {
		rc = -errno;
		goto fail_ab;
	}
	a->ba = eventfd(0, EFD_CLOEXEC);
	if (a->ba < 0) {
		rc = -errno;
		goto fail_ba;
	}
	/* Sleeping children are killed at the bound; 1 ms a round trip is
	 * far beyond any wake-up latency this can see. */
	rc = run_pair(ctl, cpu_a, cpu_b, 5000000000u + (uint64_t)iters * 1000000u,
	              efd_side, a);
	mean = rc ? rc : a->mean_ns;
	close(a->ba);
	close(a->ab);
	bench_shm_free(ctl, len);
	return mean;

fail_ba:
	close(a->ab);
fail_ab:
	bench_shm_free(ctl, len);
	return rc;
}

/* ---- fork / fork+exec readiness ------------------------------------------- */

#define READY_TIMEOUT_NS 2000000000u /* per round: a healthy one takes < 10 ms */
#define READY_FD 3
#define READY_ENV "ACT_BENCH_READY_CHILD"

/*
 * Reads the readiness byte from fd, waiting at most until deadline.
 * Returns 0, -EPIPE if the child closed the pipe without writing (it died
 * or failed to exec), or -ETIMEDOUT.
 */
static int read_ready(int fd, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	for (;;) {
		uint64_t now = now_ns();
		ssize_t r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		r = read(fd, &c, 1);
		if (r == 1)
			return 0;
		if (r == 0)
			return -EPIPE;
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
}

/* Runs in the forked child of a readiness round; never returns. */
static void ready_child(int wfd, const char *path, char **env)
{
	static const char flag[] = BENCH_READY_FLAG "3";
	char c = 'x';

	if (!path)
		_exit(write(wfd, &c, 1) == 1 ? 0 : 1);
	/* dup2() onto fd 3 clears close-on-exec there; if the pipe already
	 * is fd 3, clear it by hand. */
	if (wfd == READY_FD) {
		if (fcntl(wfd, F_SETFD, 0))
			_exit(127);
	} else if (dup2(wfd, READY_FD) < 0) {
		_exit(127);
	}
	char *argv[] = { (char *)"bench-ready-child", (char *)flag, NULL };
	execve(path, argv, env);
	_exit(127);
}

/*
 * Builds environ plus READY_ENV, so that a child whose main() forgot
 * bench_handle_ready_child() refuses to run fork+exec rounds itself
 * instead of re-executing itself over and over.  Free the array only.
 */
static char **ready_env(void)
{
	static char mark[] = READY_ENV "=1";
	size_t n = 0;
	char **env;

	while (environ && environ[n])
		n++;
	env = malloc((n + 2) * sizeof *env);
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		env[i] = environ[i];
	env[n] = mark;
	env[n + 1] = NULL;
	return env;
}

/* Timed fork (and exec of path, unless NULL) rounds; see baseline.h. */
static double ready_rounds(long rounds, double *p99, const char *path)
{
	char **env = NULL;
	double *us, p50;
	int rc = 0;

	if (rounds < 1)
		return -EINVAL;
	if (path) {
		if (getenv(READY_ENV))
			return -ELOOP;
		env = ready_env();
		if (!env)
			return -ENOMEM;
	}
	us = malloc((size_t)rounds * sizeof *us);
	if (!us) {
		free(env);
		return -ENOMEM;
	}
	fflush(NULL);
	for (long i = 0; i < rounds && !rc; i++) {
		int fds[2], reaped;
		uint64_t t0, t1;
		pid_t pid;

		if (pipe2(fds, O_CLOEXEC)) {
			rc = -errno;
			break;
		}
		t0 = now_ns();
		pid = fork();
		if (pid == 0)
			ready_child(fds[1], path, env);
		/* Closing our write end lets a child that dies without
		 * writing show up as EOF instead of a timeout. */
		close(fds[1]);
		if (pid < 0) {
			rc = -errno;
			close(fds[0]);
			break;
		}
		rc = read_ready(fds[0], t0 + READY_TIMEOUT_NS);
		t1 = now_ns();
		close(fds[0]);
		/* On failure bench_reap() kills the child straight away. */
		reaped = bench_reap(&pid, 1, rc ? 0 : READY_TIMEOUT_NS);
		if (!rc)
			rc = reaped;
		us[i] = (double)(t1 - t0) / 1e3;
	}
	free(env);
	if (rc) {
		free(us);
		return rc;
	}
	p50 = bench_percentile(us, (size_t)rounds, 50);
	if (p99)
		*p99 = bench_percentile(us, (size_t)rounds, 99);
	free(us);
	return p50;
}

double bare_fork_ready_us(long rounds, double *p99)
{
	return ready_rounds(rounds, p99, NULL);
}

double bare_forkexec_ready_us(long rounds, double *p99)
{
	return ready_rounds(rounds, p99, "/proc/self/exe");
}

double bare_exec_ready_us(const char *path, long rounds, double *p99)
{
	if (!path)
		return -EINVAL;
	return ready_rounds(rounds, p99, path);
}

void bench_handle_ready_child(int argc, char **argv)
{
	size_t n = sizeof BENCH_READY_FLAG - 1;
	char *end;
	long fd;
	char c = 'x';

	if (argc < 2 || strncmp(argv[1], BENCH_READY_FLAG, n))
		return;
	errno = 0;
	fd = strtol(argv[1] + n, &end, 10);
	if (errno || end == argv[1] + n || *end || fd < 0 || fd > 1000000)
		_exit(100);
	_exit(write((int)fd, &c, 1) == 1 ? 0 : 1);
}
