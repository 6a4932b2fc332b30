/* SPDX-License-Identifier: MIT */
/*
 * worker.c - one group's process: setup, the event loop, sleeping and
 * waking, and the clean stop.  Dispatch is in dispatch.c, the operations
 * handlers call in ops.c, the ask table in ask.c (all share worker-int.h).
 *
 * Loop, in one place:
 *   1. take the ready bitmap, drain up to BATCH records from each ring
 *      that has work (a ring cut off by the batch stays pending locally);
 *   2. fire due timers and ask timeouts;
 *   3. if nothing happened: spin up to spin_us, then advertise sleep
 *      (doorbell.h) and block in io_uring on the doorbell eventfd with a
 *      timeout at the next timer or the heartbeat period.
 * A record is released (head committed) only after its handler returned,
 * so a crash inside a handler redelivers it to the next instance.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <actors.h>

#include "clock.h"
#include "dyn-remote.h"
#include "handoff.h"
#include "log.h"
#include "phase.h"
#include "worker.h"
#include "intercept.h"
#include "topic.h"
#include "worker-int.h"

/* Looks at the rings per turn of an idle spinning loop (a turn reads the
 * clock): at most a few microseconds between turns. */
#define SPIN_LOOKS 64u

/*
 * How far apart a spinning worker's looks at its rings are, in ns
 * ($ACTORS_SPIN_LOOK_NS overrides it, 0 to 1000).  Each look reads the
 * tail line of every inbound ring, and the producer of an answer has to
 * take that line back to publish it: looks 10 ns apart (one PAUSE on the
 * Xeon VMs here) held the answer up.  pingpong_spin_rtt against the bare
 * ring, by spacing: 10 ns 1.43-1.48, 40 ns 1.26, 60 ns 1.19-1.27, 80 ns
 * 1.20-1.22, 120 ns 1.33-1.38, 160 ns 1.53 (longer, the look comes late);
 * throughput_1to1 did not move.  A PAUSE takes 10 ns on some x86 CPUs and
 * ~40 on others, so the count is calibrated once per process.
 */
#define SPIN_LOOK_NS 70u

static unsigned look_pauses_n; /* PAUSEs between two looks; 0: not calibrated */

/* Calibrates look_pauses_n: the PAUSEs that take SPIN_LOOK_NS, at least 1. */
static void look_pauses_calibrate(void)
{
	unsigned want = SPIN_LOOK_NS;
	const char *env = getenv("ACTORS_SPIN_LOOK_NS");
	if (env && *env) {
		char *end;
		unsigned long v = strtoul(env, &end, 10);
		if (!*end && v <= 1000)
			want = (unsigned)v;
	}
	uint64_t t0 = act__now_ns();
	for (unsigned i = 0; i < 512; i++)
		act__cpu_relax();
	uint64_t per = (act__now_ns() - t0) / 512u; /* ns per PAUSE, rounded down */
	unsigned n = per ? (unsigned)((want + per / 2u) / per) : want / 10u;
	look_pauses_n = n < 1 ? 1 : n > 128 ? 128 : n;
}

/* Waits between two looks of an idle spinning worker. */
static inline void look_pause(void)
{
	for (unsigned i = 0; i < look_pauses_n; i++)
		act__cpu_relax();
}

/*
 * Whether a busy worker should read the clock again: once the cycle
 * counter moved CLOCK_SPAN_CYCLES (about 15 us at 2 GHz; any jump, even
 * backwards after a migration, counts as moved) since *last.  Without a
 * cycle counter, always.
 */
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define CLOCK_SPAN_CYCLES (1u << 15)
static inline bool clock_due(uint64_t *last)
{
	uint64_t t = __rdtsc();
	if (t - *last < CLOCK_SPAN_CYCLES)
		return false;
	*last = t;
	return true;
}
#else
static inline bool clock_due(uint64_t *last)
{
	(void)last;
	return true;
}
#endif

void *act__w_zalloc(size_t len)
{
	void *p = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	               -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void act__w_zfree(void *p, size_t len)
{
	if (p)
		munmap(p, len ? len : 1);
}

/* A copy of this worker made without fork() (a raw clone(), which runs
 * no pthread_atfork hook) is caught at its next heartbeat or before it
 * sleeps: a getpid() there, not per envelope. */
static inline void not_a_copy(const struct worker *w)
{
	if (__builtin_expect(w->pid != 0 && getpid() != w->pid, 0))
		act__w_forked_exit(NULL);
}

static void beat(struct worker *w, uint64_t now)
{
	not_a_copy(w);
	atomic_store_explicit(&w->part->heartbeat_ns, now, memory_order_relaxed);
	w->last_beat_ns = now;
}

/* How long a removed group's worker waits for room for its waiting
 * records before it ends (within the supervisor's shutdown_ms, 5 s by
 * default, after which it is killed anyway). */
#define WAIT_OUT_NS 2000000000ull

/* Sends the records waiting for room as the rings take them, for up to
 * WAIT_OUT_NS: a removed group's many children elsewhere are told to stop
 * even when their words do not fit in a ring at once (an outside attack
 * left 1648 of 6000 running). */
static void wait_out(struct worker *w)
{
	uint64_t t0 = act__now_ns(), now = t0;
	while (w->n_dw && now - t0 < WAIT_OUT_NS) {
		act__w_flush_notify(w);
		bool sent = act__dyn_downs_flush(w) != 0;
		act__w_flush_notify(w);
		if (!sent) {
			struct timespec ts = { 0, 100000 };
			nanosleep(&ts, NULL);
		}
		now = act__now_ns();
		beat(w, now);
	}
}

/* ---- sleeping -------------------------------------------------------------- */

static void arm_read(struct worker *w)
{
	struct io_uring_sqe *sqe;
	if (w->read_armed)
		return;
	sqe = io_uring_get_sqe(&w->uring);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, w->efd[w->self], &w->efd_buf, sizeof w->efd_buf, 0);
	io_uring_sqe_set_data64(sqe, 1);
	w->read_armed = true;
}

static void doorbell_read_check(struct worker *w, ssize_t r, uint64_t v);

static void reap(struct worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	bool read_done = false;
	ssize_t res = 0;

	io_uring_for_each_cqe(&w->uring, head, cqe) {
		if (io_uring_cqe_get_data64(cqe) == 1) {
			w->read_armed = false;
			read_done = true;
			res = cqe->res;
		}
		n++;
	}
	io_uring_cq_advance(&w->uring, n);
	if (read_done)
		doorbell_read_check(w, res, w->efd_buf);
}

/* Quick reaping's holder (see below). */
#define HOLDER_REAP_LOOK_NS 5000000ull /* a killed holder not reaped yet: look again */
static pid_t holder_pid;    /* this process's holder, 0: none */
static pid_t holder_sup;    /* the supervisor, as its holder knows it */
static pid_t holder_zombie; /* one it killed and has not reaped yet, 0: none */
static void reap_holder(void);

/*
 * Waiting on the doorbell failed at once (EBADF, ...): a handler closed or
 * replaced this worker's file descriptors (a hostile or broken module).
 * Every wait would return at once from now on and the worker spin at full
 * speed while its heartbeat says all is well, its doorbells to other
 * groups dead too.  It exits instead, a temporary failure: its group
 * restarts and the envelope being handled, if any, comes again.
 */
static __attribute__((noreturn, cold)) void doorbell_broken(struct worker *w, int err)
{
	act__err("cannot wait on the group's doorbell (fd %d): %s; the worker exits to be "
	         "restarted (did a handler close or replace its file descriptors?)",
	         w->efd[w->self], err ? strerror(err) : "a read gave no count (not an eventfd)");
	_exit(ACT_EXIT_TEMPORARY);
}

/* A read of the doorbell returned r (bytes, or a negative errno, as
 * io_uring gives it) with value v: an eventfd gives 8 bytes and a count
 * of at least 1.  A read cut short is no news; a failed one, or one that
 * gives no count (a handler put /dev/null or /dev/zero in its place), is
 * no eventfd any more. */
static void doorbell_read_check(struct worker *w, ssize_t r, uint64_t v)
{
	if (r == -EINTR || r == -EAGAIN || r == -ECANCELED)
		return;
	if (r < 0)
		doorbell_broken(w, (int)-r);
	if (r != (ssize_t)sizeof v || v == 0)
		doorbell_broken(w, 0);
}

/* Blocks until the doorbell rings or deadline_ns passes. */
static void sleep_until(struct worker *w, uint64_t deadline_ns)
{
	uint64_t now = act__now_ns();
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;

	if (deadline_ns <= now)
		return;
	if (__builtin_expect(holder_zombie != 0, 0)) {
		reap_holder();
		/* Still exiting (at idle priority, slow on a busy machine): look
		 * again soon rather than leave a zombie for as long as we sleep. */
		if (holder_zombie && deadline_ns - now > HOLDER_REAP_LOOK_NS)
			deadline_ns = now + HOLDER_REAP_LOOK_NS;
	}
	if (deadline_ns == UINT64_MAX && !w->read_armed) {
		/* No timer to wake for: block in a plain read(2) on the doorbell
		 * (a blocking eventfd), the cheapest sleep there is.  The
		 * supervisor does not expect heartbeats from a worker that
		 * advertised sleep, only that it wakes (and beats) when work
		 * waits for it (see act__group_check_heartbeats()). */
		uint64_t v = 0;
		ssize_t r = read(w->efd[w->self], &v, sizeof v);
		doorbell_read_check(w, r < 0 ? -errno : r, v);
		return;
	}
	if (!w->uring_tried) {
		/* The first timed sleep makes the ring: a group that never
		 * sleeps with a timer pending never has one, and its death
		 * does not wait for the ring's teardown (~20 us of a worker's
		 * exit on a 2-vCPU VM, before its pidfd fires). */
		w->uring_tried = true;
		w->uring_ok = io_uring_queue_init(8, &w->uring, 0) == 0;
		if (!w->uring_ok)
			act__warn("io_uring unavailable; falling back to select()");
	}
	if (!w->uring_ok) {
		/* Fallback without io_uring: a plain blocking poll. */
		struct timespec t = act__ns_to_ts(deadline_ns - now);
		fd_set set;
		FD_ZERO(&set);
		FD_SET(w->efd[w->self], &set);
		struct timeval tv = { t.tv_sec, t.tv_nsec / 1000 };
		int n = select(w->efd[w->self] + 1, &set, NULL, NULL, &tv);
		if (n > 0) {
			uint64_t v = 0; /* readable: this read does not block */
			ssize_t r = read(w->efd[w->self], &v, sizeof v);
			doorbell_read_check(w, r < 0 ? -errno : r, v);
		} else if (n < 0 && errno != EINTR) {
			doorbell_broken(w, errno);
		}
		return;
	}
	arm_read(w);
	ts.tv_sec = (long long)((deadline_ns - now) / 1000000000u);
	ts.tv_nsec = (long long)((deadline_ns - now) % 1000000000u);
	/* Submits the armed read and waits for any completion or the timeout. */
	int rc = io_uring_submit_and_wait_timeout(&w->uring, &cqe, 1, &ts, NULL);
	if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
		doorbell_broken(w, -rc); /* the ring's own fd is gone */
	reap(w);
}

/* ---- the loop ------------------------------------------------------------- */

/*
 * How long an idle worker spins before it sleeps: the group's spin_us, or
 * longer where spinning has been paying off, up to ADAPT_SPIN_MAX_NS:
 *  - while an ask of ours is outstanding, twice the average time asks
 *    have been taking (the answer is likely before that);
 *  - twice the average idle gap (from running out of work to the next
 *    record), when work has been coming back that soon: a request/reply
 *    partner, a ping-pong through the gateway.
 * Sleeping through such a gap costs whoever ends it an eventfd write and
 * this process a wake-up: tens of microseconds, up to ~100 on a VM whose
 * idle vCPU must be woken by an interrupt (remote_ask_rtt and
 * gateway_remote_rtt, issues 13 and 14).  One long gap (1/8 weight) is
 * enough to fall back to spin_us, so a worker whose traffic thins out
 * soon sleeps again after spin_us.  spin_us 0 turns all spinning off.
 */
#define ADAPT_SPIN_MAX_NS 250000u
static uint64_t extend(uint64_t avg)
{
	if (!avg || avg > ADAPT_SPIN_MAX_NS)
		return 0; /* nothing learnt, or waits too long to spin through */
	return 2 * avg < ADAPT_SPIN_MAX_NS ? 2 * avg : ADAPT_SPIN_MAX_NS;
}

static uint64_t spin_window(const struct worker *w, uint64_t spin_ns)
{
	uint64_t win = spin_ns, e;
	if (!spin_ns)
		return 0;
	if (w->n_asks && (e = extend(w->ask_avg_ns)) > win)
		win = e;
	if ((e = extend(w->gap_avg_ns)) > win)
		win = e;
	return win;
}


/*
 * Whether anything is left for us in our rings, published or not: within
 * a handler a sender publishes its tail in steps (ring.h,
 * act__ring_commit_batched()), the rest when the handler returns, so for
 * a while records it committed are not visible.  A group a reload removed
 * stops for good once its rings look empty, so its drain waits for those
 * too; otherwise they would wait in its rings for a reload that adds it
 * back (t/reload-remove-burst.py).  A ring with published records not
 * read yet is marked pending, so that the next turn reads it even if its
 * doorbell or ready bit is still on its way.
 */
static bool inbound_left(struct worker *w)
{
	bool left = false;

	for (uint32_t i = 0; i < w->n_parts; i++) {
		const struct act__ring *r = w->in[i].r;
		if (!r || (w->quarantined[i / 64u] & (1ull << (i % 64u))))
			continue;
		uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (atomic_load_explicit(&r->tail_committed, memory_order_acquire) != tail) {
			left = true;
		} else if (tail != w->in[i].done) {
			/* done, not pos: a worker that resumes a ring read
			 * before (a group added back) starts with pos 0. */
			w->pending[i / 64u] |= 1ull << (i % 64u);
			left = true;
		}
	}
	return left;
}
/* Folds an idle gap that work ended into the average (spin_window()). */
static void gap_seen(struct worker *w, uint64_t gap)
{
	w->gap_avg_ns = w->gap_avg_ns ? w->gap_avg_ns - w->gap_avg_ns / 8 + gap / 8 : gap;
}

bool act__w_forked;

static void on_fork_child(void)
{
	act__w_forked = true;
}

void act__w_forked_exit(const struct actor *a)
{
	act__err("a handler%s%s%s copied the worker process (fork() or clone()) and the copy "
	         "returned into the worker: it exits now, or it would handle the group's "
	         "envelopes a second time (a child must exec or _exit)", a ? " of '" : "",
	         a ? a->def->name : "", a ? "'" : "");
	_exit(ACT_EXIT_TEMPORARY);
}

static int run(struct worker *w)
{
	uint64_t spin_ns = (uint64_t)w->part->spin_us * 1000u;
	uint64_t idle_since = 0, gap_from = 0;
	uint64_t now = act__now_ns(), tsc = 0;
	bool just_busy = false;

	while (!w->stopping) {
		if (__builtin_expect(act__w_forked, 0))
			act__w_forked_exit(NULL); /* init, fini, an interceptor forked */
		unsigned did = act__w_poll_rings(w);

		/* The clock costs about as much as a small message (a vDSO
		 * call, 50-90 ns on a VM), and a turn that handled a message
		 * is followed by a turn that finds none: reading it in both
		 * put two clock reads between sending a reply and looking for
		 * the next message.  So a busy worker reads it only when the
		 * cycle counter says CLOCK_SPAN_CYCLES went by, and the first
		 * idle turn not at all; timers and heartbeats are in ms. */
		if (w->draining || (did ? clock_due(&tsc) : !just_busy))
			now = act__now_ns();

		if (w->draining) {
			act__w_flush_notify(w);
			beat(w, now);
			bool pending = false;
			for (unsigned i = 0; i < ACT__READY_WORDS; i++)
				pending |= w->pending[i] != 0;
			if (!did && !pending && !(act__part_removed(w->part) && inbound_left(w)))
				w->stopping = true; /* every ring is empty */
			continue;
		}
		if (act__timers_next(&w->timers) <= now)
			did += act__w_run_timers(w, now);
		act__w_flush_notify(w);
		if (now - w->last_beat_ns > w->heartbeat_ns / 4 && now > w->last_beat_ns)
			beat(w, now);
		if (did) {
			/* `now` is from the last idle turn or the wake-up: the gap
			 * is measured without a clock read of its own. */
			if (gap_from) {
				gap_seen(w, now - gap_from);
				gap_from = 0;
			}
			idle_since = 0;
			just_busy = true;
			continue;
		}
		if (just_busy) {
			/* The first idle turn (its `now` is stale): look at the
			 * rings before anything else. */
			just_busy = false;
			if (spin_ns) {
				for (unsigned k = 0; k < SPIN_LOOKS && !act__w_work_waiting(w); k++)
					look_pause();
				continue;
			}
		}
		if (!idle_since)
			idle_since = now;
		if (!gap_from)
			gap_from = now;
		if (now - idle_since < spin_window(w, spin_ns)) {
			/* Pure spinning for a few microseconds, then spinning with
			 * sched_yield(): if the producer we wait for shares our CPU,
			 * a pure spin would burn our whole slice before it could
			 * run (seen as ~1 ms round trips on a busy 2-CPU machine). */
			if (now - idle_since < 5000) {
				/* Look at the rings alone for a while before the
				 * next turn of the loop: a turn (a clock read, the
				 * timers, the doorbells) costs several times this
				 * look, and a record arriving mid-turn waits for
				 * the rest of it. */
				for (unsigned k = 0; k < SPIN_LOOKS && !act__w_work_waiting(w); k++)
					look_pause();
			} else {
				sched_yield();
				atomic_store_explicit(&w->part->n_yields,
				    atomic_load_explicit(&w->part->n_yields,
				                         memory_order_relaxed) + 1,
				    memory_order_relaxed);
			}
			continue;
		}
		not_a_copy(w); /* a copy must not sleep on our doorbell */
		if (!act__doorbell_prepare_sleep(w->part))
			continue;
		if (w->part->scan_all && act__w_any_ring_nonempty(w)) {
			/* Behind prepare_sleep's fence: a producer that missed our
			 * sleeping flag published before this look. */
			act__doorbell_awake(w->part);
			/* Not a sleep after all: n_sleeps counts blocking ones. */
			atomic_fetch_sub_explicit(&w->part->n_sleeps, 1, memory_order_relaxed);
			continue;
		}
		/* With timers pending, wake at the next one (or for a heartbeat);
		 * without, sleep until the doorbell rings. */
		uint64_t deadline = act__timers_next(&w->timers);
		if (deadline != UINT64_MAX && deadline > now + w->heartbeat_ns)
			deadline = now + w->heartbeat_ns;
		/* Downs wait for room in a watcher's ring: its group drains it
		 * without waking us, so we look again after a while (never,
		 * with none waiting: an idle worker stays asleep). */
		if (w->n_dw) {
			uint64_t retry = now + act__dyn_downs_retry_ns(w);
			if (retry < deadline)
				deadline = retry;
		}
		sleep_until(w, deadline);
		now = act__now_ns();
		beat(w, now);
		act__doorbell_awake(w->part);
		idle_since = 0;
	}
	return w->exit_code;
}

/*
 * What an outbound ring that fails validation is replaced with: a ring of
 * 8 bytes that is always full and flagged quarantined, so that every send
 * into it is refused with ACT_ESTOPPED (act__ring_reserve's slow path) and
 * nothing is ever written to shared memory.  The real ring's consumer
 * quarantines it and counts it (n_corrupt); this group goes on serving.
 */
static struct act__ring dead_ring = { .cap = 8, .quarantined = 1 };

static void attach_out(struct worker *w, uint32_t to)
{
	act__ring_h *h = &w->out[to];

	if (!act__shm_ring(&w->shm, w->self, to, h))
		return;
	act__err("ring %u->%u failed validation: sends into it are refused (ACT_ESTOPPED), "
	         "the other rings are served", w->self, to);
	memset(h, 0, sizeof *h);
	h->r = &dead_ring;
	h->data = dead_ring.data;
	h->mask = dead_ring.cap - 1;
	h->max_rec = act__shm_part(&w->shm, to)->max_msg & ~7u;
}

/* ---- quick reaping: the address-space holder --------------------------------- */

/*
 * A killed process is dead to its pidfd only after the kernel has torn its
 * address space down (exit_mm comes before exit_files and exit_notify).
 * For a worker of a few MB resident, code pages of the libraries included,
 * that teardown is 150-250 us of a 2-vCPU VM, most of a restart (issue 14:
 * kill -> pidfd 190-240 us for a worker, 60 us for a bare fork's exit).
 *
 * With quick_reap (a group setting, on by default; ACTORS_QUICK_REAP=1 or
 * 0 overrides it for every group) each worker makes a holder: a process
 * that shares its address space (clone(CLONE_VM)) and only sleeps.  The
 * worker's exit is then not the last user of the address space: it drops
 * a reference, closes its files (releasing their POSIX locks, and the
 * flock()s of files it did not map) and is reaped, its death seen as early
 * as a bare process's.  The holder, now the supervisor's child, waits for
 * the supervisor: it looks at what the address space maps and kills the
 * holder, which tears it down at idle priority, after the restart began.
 *
 * What the address space holds outlives the worker by that teardown: its
 * memory, and a file it had mapped stays open until then, with any flock()
 * or OFD lock taken through that file (the bank example's books).  So the
 * supervisor looks before it kills the holder: if a file is mapped shared,
 * the replacement runs no actor code before the teardown (gate_wait();
 * supervisor/group.c, act__group_check_teardowns()).  That look is why the
 * holder must not start the teardown itself: it would race with it.  A
 * holder that falls to another process (the supervisor died first) goes at
 * once; one whose supervisor never comes (a standby's or the prefork's, or
 * a supervisor that does not know holders) goes after HOLDER_WAIT_S.
 *
 * The holder runs in the worker's memory with the worker's thread-local
 * storage: it closes its copy of the descriptors, blocks every signal (a
 * handler would run worker code), never returns, and makes only raw
 * system calls while the worker may live (libc's wrapper writes errno on
 * a failure, and errno is the worker's).
 */
#define HOLDER_STACK (16u * 1024u)
#define HOLDER_WAIT_S 2

#if defined(__x86_64__)
static long holder_sys4(long nr, long a, long b, long c, long d)
{
	long ret;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall"
	                 : "=a"(ret)
	                 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
	                 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
static long holder_sys4(long nr, long a, long b, long c, long d)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
	return x0;
}
#else
/* Elsewhere libc's wrapper: a failure (none expected) writes errno. */
#define holder_sys4(nr, a, b, c, d) syscall(nr, a, b, c, d)
#endif
#define holder_sys(nr, a, b, c) holder_sys4(nr, (long)(a), (long)(b), (long)(c), 0)

static int holder_main(void *arg)
{
	uint64_t all = ~(uint64_t)0, usr1 = (uint64_t)1 << (SIGUSR1 - 1);
	struct sched_param sp = { 0 };
	struct timespec wait = { HOLDER_WAIT_S, 0 };

	holder_sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, sizeof all);
	/* Its copy of the worker's descriptors (no CLONE_FILES) would keep
	 * them open past the worker's death: a socket's peer would not see
	 * the end.  Linux 5.9; on an older kernel the holder keeps them. */
	holder_sys(SYS_close_range, 0u, ~0u, 0u);
	holder_sys(SYS_prctl, PR_SET_NAME, "actors-mmhold", 0);
	/* The teardown must not delay the restart it makes way for: it runs
	 * when a CPU has nothing else to do (any other task preempts it). */
	holder_sys(SYS_sched_setscheduler, 0, SCHED_IDLE, &sp);
	/* SIGUSR1 (blocked: it waits for us) when the worker dies, and again
	 * if the supervisor we then fall to dies. */
	holder_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGUSR1, 0);
	/* Unless the worker died before the line above. */
	if (holder_sys(SYS_getppid, 0, 0, 0) == (long)(intptr_t)arg)
		while (holder_sys4(SYS_rt_sigtimedwait, (long)&usr1, 0, 0, sizeof usr1) != SIGUSR1)
			;
	/* The worker is dead, and we fell to the supervisor: its SIGKILL ends
	 * us.  If we fell to another (the supervisor died first, and the
	 * worker with it), nobody will look: go now, or the files the worker
	 * mapped would stay locked for the next supervisor's workers. */
	if (holder_sys(SYS_getppid, 0, 0, 0) == (long)holder_sup)
		holder_sys4(SYS_rt_sigtimedwait, (long)&usr1, 0, (long)&wait, sizeof usr1);
	holder_sys(SYS_exit, 0, 0, 0);
	return 0;
}

/* ACTORS_QUICK_REAP: 1 or 0 overrides every group's quick_reap; -1: unset. */
static int quick_env(void)
{
	const char *env = getenv("ACTORS_QUICK_REAP");
	if (env && strcmp(env, "1") == 0)
		return 1;
	if (env && strcmp(env, "0") == 0)
		return 0;
	return -1;
}

static bool quick_group(const struct act__group_def *g)
{
	int env = quick_env();
	return env >= 0 ? env == 1 : g->quick_reap;
}

/* Whether any group of reg quick-reaps (a prefork may become any of them). */
static bool quick_anywhere(const struct act__registry *reg)
{
	for (uint32_t i = 0; i < reg->n_groups; i++)
		if (quick_group(&reg->groups[i]))
			return true;
	return false;
}

static void start_holder(void)
{
	if (holder_pid > 0)
		return;
	void *stk = mmap(NULL, HOLDER_STACK, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stk == MAP_FAILED)
		return;
	/* The exit signal is SIGCHLD, so that the supervisor (the subreaper
	 * it falls to) reaps it like any orphan. */
	holder_sup = getppid();
	holder_pid = clone(holder_main, (char *)stk + HOLDER_STACK, CLONE_VM | SIGCHLD,
	                   (void *)(intptr_t)getpid());
	if (holder_pid < 0) {
		act__warn("quick_reap: no address-space holder (%s): this worker's death is "
		          "seen after its teardown", strerror(errno));
		munmap(stk, HOLDER_STACK);
		holder_pid = 0;
	}
}

/*
 * What group g wants, once this process knows it is g's (setup()).  A
 * prefork made one ahead if any group wants one (the clone, ~20 us, is
 * then off that group's restart); a group that does not want it kills it
 * (its exit tears nothing down: we still use the address space) and reaps
 * it when it first sleeps (reap_holder(), from sleep_until()), not now: the holder runs
 * at idle priority, and waiting for its exit would hold this start up.
 */
static void holder_for_group(const struct act__registry *reg, const struct act__group_def *g)
{
	if (quick_group(g)) {
		start_holder();
	} else if (holder_pid > 0) {
		kill(holder_pid, SIGKILL);
		holder_zombie = holder_pid;
		holder_pid = 0;
	}
}

/* Reaps a holder that holder_for_group() killed, once it is gone. */
static void reap_holder(void)
{
	if (holder_zombie && waitpid(holder_zombie, NULL, WNOHANG) != 0)
		holder_zombie = 0;
}

/*
 * The gate (layout.h, act__part.gate): when our group's last worker had an
 * address-space holder, the supervisor looks at what it maps after it
 * started us, and we run no actor code (init, Start: they may take the
 * locks that worker held through a file it mapped) until it opened the
 * gate, at once or after that address space was torn down
 * (supervisor/group.c, act__group_check_teardowns()).  The look takes
 * tens of microseconds, about what our setup takes, so we spin a little
 * (yielding) before we sleep on the futex; asleep, we keep beating, since
 * a teardown on a saturated machine may take long.
 */
#define GATE_SPIN_NS 300000u
#define GATE_SLEEP_NS 50000000u

static void gate_wait(struct worker *w)
{
	_Atomic uint32_t *gate = &w->part->gate;
	uint64_t until = act__now_ns() + GATE_SPIN_NS;

	while (atomic_load_explicit(gate, memory_order_acquire)) {
		uint64_t now = act__now_ns();
		if (now < until) {
			for (int k = 0; k < 64; k++)
				act__cpu_relax();
			sched_yield();
			continue;
		}
		struct timespec ts = { 0, GATE_SLEEP_NS };
		syscall(SYS_futex, gate, FUTEX_WAIT, 1u, &ts, NULL, 0);
		beat(w, act__now_ns());
	}
}

/* The group-independent part of setup (act__worker_prepare()). */
static int prepare(struct worker *w, const struct act__worker_args *a)
{
	char why[128] = "";
	int err;

	memset(w, 0, sizeof *w);
	if (!look_pauses_n)
		look_pauses_calibrate(); /* ~5-20 us, in the prefork ahead of a start */
	err = act__shm_attach(&w->shm, a->shm_fd, a->directory_hash, why, sizeof why);
	if (err) {
		act__err("cannot attach shared memory: %s", why[0] ? why : act_strerror(err));
		return err;
	}
	if ((err = act__timers_init(&w->timers))) {
		act__shm_detach(&w->shm, 0);
		return err;
	}
	/* Ahead of the group's start (in the prefork) if any group may want it. */
	if (quick_anywhere(a->reg))
		start_holder();
	w->prepared = true;
	return 0;
}

static int setup(struct worker *w, const struct act__worker_args *a)
{
	const struct act__registry *reg = a->reg;
	const struct act__group_def *g = &reg->groups[a->self - 1];
	int err;

	if (!w->prepared && (err = prepare(w, a)))
		return err;
	holder_for_group(reg, g);
	w->reg = reg;
	w->self = a->self;
	w->efd = a->efd;
	w->n_parts = w->shm.n_parts;
	w->heartbeat_ns = (uint64_t)(g->heartbeat_ms ? g->heartbeat_ms : 100) * 1000000u;
	if (w->self >= w->n_parts || w->n_parts != reg->n_groups + 1) {
		act__err("shared memory does not match this node's groups");
		return -EPROTO;
	}
	w->part = act__shm_part(&w->shm, w->self);
	w->parts = calloc(w->n_parts, sizeof *w->parts);
	w->in = calloc(w->n_parts, sizeof *w->in);
	w->out = calloc(w->n_parts, sizeof *w->out);
	w->slot_of = malloc(reg->n_actors * sizeof *w->slot_of + 1);
	/* The static actors, then one entry per spawn slot (dynamic.c), in
	 * fresh zero pages from mmap: an entry costs memory only once its
	 * slot is used (act__dyn_touch()). */
	w->dyn_cap = act__shm_dyn_slots(&w->shm, w->self);
	w->actors_bytes = ((size_t)g->n_actors + w->dyn_cap) * sizeof *w->actors;
	w->actors = act__w_zalloc(w->actors_bytes);
	w->asks = calloc(ASK_SLOTS, sizeof *w->asks);
	w->remotes = calloc(MAX_REMOTES, sizeof *w->remotes);
	/* A decoded JSON message is at most its struct plus its strings: the
	 * group's record limit twice over is plenty. */
	w->scratch_cap = 2u * g->max_msg + 4096u;
	w->scratch = aligned_alloc(8, (w->scratch_cap + 7) & ~(size_t)7);
	w->jbuf_cap = act__shm_part(&w->shm, ACT__SUPERVISOR)->max_msg;
	w->jbuf = malloc(w->jbuf_cap);
	if (!w->parts || !w->in || !w->out || !w->slot_of || !w->actors || !w->asks ||
	    !w->remotes || !w->scratch || !w->jbuf)
		return -ENOMEM;
	for (uint32_t i = 0; i < w->n_parts; i++) {
		w->parts[i] = act__shm_part(&w->shm, i);
		attach_out(w, i);
		/* An inbound ring that is corrupt (now, or when an earlier
		 * instance of this group quarantined it) is not read; the group
		 * serves its other rings.  One its producer never touched is
		 * empty: attached without a read (a read would cost a page), and
		 * not pending; its first record comes with the producer's
		 * doorbell like any other. */
		bool touched = act__shm_ring_touched(&w->shm, i, w->self);
		err = act__shm_ring(&w->shm, i, w->self, &w->in[i]);
		if (!err && !touched)
			continue;
		if (err && err != -EBADMSG) {
			act__w_quarantine(w, i, NULL, "ring header failed validation");
			continue;
		}
		if (err && !act__ring_is_quarantined(w->in[i].r)) {
			act__w_quarantine(w, i, w->in[i].r, "head or tail out of range");
			continue;
		}
		if (err || act__ring_is_quarantined(w->in[i].r)) {
			w->quarantined[i / 64u] |= 1ull << (i % 64u);
			act__warn("ring %u->%u stays quarantined (found corrupt earlier)", i, w->self);
			continue;
		}
		/* Anything already waiting (e.g. for a restarted worker) counts
		 * as pending work. */
		w->pending[i / 64u] |= 1ull << (i % 64u);
	}
	for (uint32_t i = 0; i < reg->n_actors; i++)
		w->slot_of[i] = -1;
	for (uint32_t i = 0; i < g->n_actors; i++) {
		struct actor *ac = &w->actors[i];
		ac->id = g->actors[i];
		ac->def = &reg->actors[ac->id];
		w->slot_of[ac->id] = (int32_t)i;
		if (!ac->def->b) {
			act__err("actor '%s': behaviour '%s' was never bound", ac->def->name,
			         ac->def->behaviour ? ac->def->behaviour : "?");
			return -EINVAL;
		}
		ac->state = calloc(1, ac->def->b->state_size ? ac->def->b->state_size : 1);
		ac->by_type = calloc(reg->n_types + 1, sizeof *ac->by_type);
		if (!ac->state || !ac->by_type)
			return -ENOMEM;
		for (size_t k = 0; k < ac->def->b->n_handlers; k++) {
			const act_handler *hd = &ac->def->b->handlers[k];
			uint32_t id = act__reg_type_id(reg, hd->type);
			if (id && id <= reg->n_types)
				ac->by_type[id] = hd->fn;
		}
		w->n_local++;
	}
	return act__dyn_setup(w);
}

static void teardown(struct worker *w)
{
	act__dyn_teardown(w);
	for (uint32_t i = 0; i < w->n_local; i++) {
		free(w->actors[i].state);
		free(w->actors[i].by_type);
	}
	if (w->uring_ok)
		io_uring_queue_exit(&w->uring);
	act__timers_fini(&w->timers);
	act__w_zfree(w->actors, w->actors_bytes);
	free(w->asks);
	free(w->remotes);
	free(w->scratch);
	free(w->jbuf);
	free(w->slot_of);
	free(w->in);
	free(w->out);
	free(w->parts);
	act__shm_detach(&w->shm, 0);
}

struct worker *act__worker_prepare(const struct act__worker_args *a)
{
	struct worker *w = malloc(sizeof *w);

	if (w && prepare(w, a)) {
		free(w);
		w = NULL;
	}
	return w;
}

int act__worker_main(const struct act__worker_args *a)
{
	return act__worker_main_prepared(a, NULL);
}

/*
 * How long a standby whose primary just died waits, awake, for the
 * supervisor's word before it sleeps on it: the supervisor was woken by
 * the same death and decides in ~20 us; this covers its wake-up on a
 * busy machine.
 */
#define STANDBY_AWAKE_NS (1000u * 1000u)

/*
 * A pidfd on the primary worker of our group, whose death we wait for, or
 * -1.  The primary writes its pid in the group's part header; it cannot be
 * reaped (and its pid reused) before the supervisor sees it die, which
 * clears the pid and bumps the generation: so if both are unchanged after
 * the open, the pidfd is the primary's.
 */
static int open_primary(struct worker *w, uint64_t *genp)
{
	uint64_t gen = atomic_load_explicit(&w->part->generation, memory_order_acquire);
	pid_t pid = atomic_load_explicit(&w->part->pid, memory_order_acquire);
	if (pid <= 0)
		return -1;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd >= 0 && (atomic_load_explicit(&w->part->pid, memory_order_acquire) != pid ||
	                atomic_load_explicit(&w->part->generation, memory_order_acquire) != gen)) {
		close(fd);
		fd = -1;
	}
	*genp = gen;
	return fd;
}

/* The longest a standby with no primary to watch sleeps before it looks
 * for one again: a restart that did not need the standby (an operator's,
 * or one after a backoff) starts a new primary, which it should watch. */
#define STANDBY_LOOK_MAX_MS 100

/*
 * A hot standby waits for the supervisor to wake it in place of the
 * group's worker (its standby eventfd).  It also watches that worker's
 * pidfd: the death wakes the standby and the supervisor at once, and the
 * standby then waits awake (yielding its CPU to anyone else, the
 * supervisor first) for the supervisor's word, which the supervisor
 * still gives after its restart plan and the redelivery bookkeeping
 * (group.c), so that nothing about the takeover changes but the time:
 * the standby's own wake-up, which comes after the supervisor's
 * otherwise, is taken off the restart (bench-restart: standby_woke).
 * If the word does not come (the group was restarted without us, or is
 * stopping), it watches the next primary once one runs: it looks for
 * one after 1, 2, 4 ... up to STANDBY_LOOK_MAX_MS, then sleeps on both
 * again.  0 when woken, -1 on error (the eventfd gone).
 */
static int standby_wait(struct worker *w, int efd)
{
	uint64_t watched = UINT64_MAX; /* generation of the primary last seen dying */
	int look_ms = 1;
	uint64_t v;
	ssize_t r;

	for (;;) {
		uint64_t gen = 0;
		int pfd = open_primary(w, &gen);
		if (pfd >= 0 && gen == watched) { /* still the dead one, not yet reaped */
			close(pfd);
			pfd = -1;
		}
		struct pollfd p[2] = { { .fd = efd, .events = POLLIN }, { .fd = pfd, .events = POLLIN } };
		int n;
		do {
			n = poll(p, pfd >= 0 ? 2 : 1, pfd >= 0 ? -1 : look_ms);
		} while (n < 0 && errno == EINTR);
		if (pfd >= 0)
			close(pfd);
		if (n < 0 || (p[0].revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)))
			break;
		if (pfd < 0) {
			if (look_ms < STANDBY_LOOK_MAX_MS)
				look_ms = look_ms * 2 > STANDBY_LOOK_MAX_MS ? STANDBY_LOOK_MAX_MS
				                                            : look_ms * 2;
			continue;
		}
		if (!(p[1].revents & POLLIN))
			continue;
		/* The primary died: the supervisor's word is likely to follow. */
		act__phase(ACT__PH_STANDBY_WAKE);
		watched = gen;
		look_ms = 1;
		uint64_t until = act__now_ns() + STANDBY_AWAKE_NS;
		struct pollfd q = { .fd = efd, .events = POLLIN };
		while ((n = poll(&q, 1, 0)) == 0 && act__now_ns() < until)
			sched_yield();
		if (n != 0)
			break;
	}
	do {
		r = read(efd, &v, sizeof v);
	} while (r < 0 && errno == EINTR);
	return r == (ssize_t)sizeof v ? 0 : -1;
}

int act__worker_main_prepared(const struct act__worker_args *a, struct worker *w)
{
	if (!w)
		w = calloc(1, sizeof *w);
	const struct act__group_def *g = &a->reg->groups[a->self - 1];
	char ident[80];
	int rc = ACT_EXIT_OK;
	act_start start = a->start;

	snprintf(ident, sizeof ident, "worker %s", g->name);
	act__log_set_ident(ident);
	if (!w)
		return ACT_EXIT_TEMPORARY;
	int err = setup(w, a);
	if (err) {
		rc = err == -ENOMEM ? ACT_EXIT_TEMPORARY : ACT_EXIT_PERMANENT;
		goto out;
	}
	if (!a->standby)
		act__phase(ACT__PH_SETUP);
	pthread_atfork(NULL, NULL, on_fork_child); /* act__w_forked */
	/* Process-local (the chain of interceptors): a standby does it before
	 * its wait, which takes the first writes to those pages (copy on
	 * write after the fork, ~10 us) off its takeover. */
	act__ic_activate(a->reg, a->self, act__xa_gstat(w->shm.xa, a->self)); /* intercept.c */
	if (a->standby) {
		/* A hot standby: attached and allocated, it waits here until the
		 * supervisor saw the group's worker die and wakes us.  Nothing
		 * about the group is touched before that. */
		if (standby_wait(w, a->standby_efd[a->self - 1])) {
			rc = ACT_EXIT_TEMPORARY;
			goto out;
		}
		act__phase(ACT__PH_STANDBY_WAKE);
		act__phase(ACT__PH_STANDBY_GO);
		start = (act_start){ true, w->part->standby_n_restarts,
		                     w->part->standby_last_signal, w->part->standby_last_exit };
		/* The worker we replace used the rings after we attached: the
		 * positions our handles cached then are stale (a producer
		 * would write over records at its old tail, a consumer read
		 * handled ones again).  It is dead now: take them afresh. */
		for (uint32_t i = 0; i < w->n_parts; i++) {
			attach_out(w, i);
			if (!(w->quarantined[i / 64u] & (1ull << (i % 64u))) &&
			    act__shm_ring_touched(&w->shm, i, w->self)) {
				/* Touched since we attached, maybe left with records
				 * whose ready bits the dead worker took. */
				act__shm_ring(&w->shm, i, w->self, &w->in[i]);
				w->pending[i / 64u] |= 1ull << (i % 64u);
			}
		}
	}
	/* Before the pid: the supervisor that sees this worker die must know
	 * whether its address space outlives it (supervisor/group.c,
	 * act__group_reap()). */
	atomic_store_explicit(&w->part->holder_pid, holder_pid, memory_order_relaxed);
	w->pid = getpid();
	atomic_store_explicit(&w->part->pid, w->pid, memory_order_relaxed);
	beat(w, act__now_ns());
	gate_wait(w);

	/* init hooks, then Start, in declaration order. */
	for (uint32_t i = 0; i < w->n_local; i++) {
		struct actor *ac = &w->actors[i];
		if (!ac->def->b->init)
			continue;
		w->ctx.w = w;
		act__w_set_ctx(w, ac, NULL, NULL, NULL, 0, NULL);
		int r = ac->def->b->init(&w->ctx, ac->state, ac->def->args);
		if (r) {
			act__err("actor '%s' (%s) failed to initialise: %s", ac->def->name,
			         ac->def->b->name ? ac->def->b->name : "?", act_strerror(r));
			rc = ACT_EXIT_PERMANENT;
			goto out;
		}
	}
	/* Spawned actors of the last worker come back before any envelope
	 * is read (their init runs here), then every actor gets Start. */
	w->ctx.w = w;
	if ((err = act__dyn_restore(w, &start))) {
		rc = err == -ENOMEM ? ACT_EXIT_TEMPORARY : ACT_EXIT_PERMANENT;
		goto out;
	}
	/* A reload restart: the last worker's state, before any envelope. */
	act__handoff_import(w);
	w->ctx.w = w;
	/* Not to actors that an init or a Start spawned: act_spawn() started them. */
	for (uint32_t i = 0; i < act__w_n_used(w); i++) {
		if (!w->actors[i].stopped && w->actors[i].spawn_seq <= w->start_seq)
			act__w_invoke(w, &w->actors[i], &act_start_type, &start, NULL, 0, NULL);
		if ((i & 65535) == 65535) /* a million actors take a while: not a hang */
			beat(w, act__now_ns());
	}
	atomic_store_explicit(&w->part->state, ACT__PS_READY, memory_order_relaxed);
	act__w_send_ctrl(w, ACT__CTRL_READY, NULL, 0);
	/* The doorbell now, not with the first batch: that would save the
	 * replacement an eventfd write (15-20 us on a VM) before its first
	 * envelope, but a first handler that blocks (for a sender that the
	 * start queue holds back until this READY) would then never let the
	 * supervisor see READY (t/dispatch's full-ring case). */
	act__w_flush_notify(w);
	act__phase(ACT__PH_STARTED);

	rc = run(w);

	/* Clean stop: Shutdown to every actor (in reverse order), then fini. */
	atomic_store_explicit(&w->part->state, ACT__PS_STOPPING, memory_order_relaxed);
	if (w->handoff) {
		/* A reload: the actors live on in the next worker, so no
		 * Shutdown (and no Down); export their state, then fini. */
		act__handoff_export(w);
		for (uint32_t i = act__w_n_used(w); i-- > 0;)
			if (!w->actors[i].stopped)
				act__w_stop_actor(w, &w->actors[i]);
		act__w_flush_notify(w);
		goto downs;
	}
	/* A reload removed the group: its actors end for good, so their
	 * children in other groups are told to stop, as at any parent's end,
	 * before the Shutdown handlers run.  (A restart keeps them: the
	 * parents come back, and stop them when they end.) */
	if (act__part_removed(w->part))
		for (uint32_t i = act__w_n_used(w); i-- > 0;)
			if (!w->actors[i].stopped)
				act__dyn_ended(w, &w->actors[i]);
	/* Spawned actors (newest slot first) before the static ones.  Their
	 * records stay: a restart of the group re-creates the permanent ones. */
	act_shutdown_msg sm = { 0 };
	for (uint32_t i = act__w_n_used(w); i-- > 0;)
		if (!w->actors[i].stopped)
			act__w_invoke(w, &w->actors[i], &act_shutdown_type, &sm, NULL, 0, NULL);
	for (uint32_t i = act__w_n_used(w); i-- > 0;)
		if (!w->actors[i].stopped)
			act__w_stop_actor(w, &w->actors[i]);
	/* A reload removed the group: its static actors are gone until a
	 * reload adds it back, so their monitors hear it now, as those of
	 * its spawned actors do from the supervisor ("group stopped"). */
	if (act__part_removed(w->part))
		act__dyn_down_static(w, "group stopped");
	act__w_flush_notify(w); /* what the Shutdown handlers sent */
	/* The other groups run on: what waits for room in their rings (the
	 * words that stop our actors' children there, Downs, answers) goes
	 * as they make it. */
	if (act__part_removed(w->part))
		wait_out(w);
downs:
	/* Downs still waiting for room (act__dyn_downs_flush()): what fits
	 * now, and the rest logged; no later worker knows of them. */
	act__dyn_downs_at_exit(w);
out:
	teardown(w);
	free(w);
	return rc;
}
