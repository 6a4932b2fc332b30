/* SPDX-License-Identifier: MIT */
/*
 * bench-util.h - private: small helpers shared by the benchmark programs.
 *
 * Everything here is static inline so that each bench program stays one
 * translation unit plus the baselines, with no library of its own.  The
 * helpers cover what every measurement needs: a monotonic clock, pinning
 * the calling process to a CPU, shared anonymous memory for figures that
 * children report back, percentiles over samples, bounded reaping of
 * children (a benchmark must never hang), and the one-line output format
 * that scripts read:
 *
 *     bench: NAME VALUE UNIT baseline BASELINE_VALUE ratio RATIO
 *
 * Needs _GNU_SOURCE (for the CPU affinity calls): include "config.h",
 * which defines it, before any system header.
 */
#ifndef ACT_BENCH_UTIL_H
#define ACT_BENCH_UTIL_H

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Nanoseconds on CLOCK_MONOTONIC: comparable across processes and CPUs. */
static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Busy-wait hint for spin loops (PAUSE on x86: eases the sibling thread
 * and the memory-order machine clear when the spun-on line changes). */
static inline void bench_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/*
 * Pins the calling process (thread, in a threaded program) to one CPU.
 * cpu < 0 leaves the affinity alone.  Returns 0 or a negative errno
 * (-EINVAL for a CPU outside the allowed set).
 */
static inline int pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	if (cpu >= CPU_SETSIZE)
		return -EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof set, &set) ? -errno : 0;
}

/* Number of CPUs this process may run on (at least 1). */
static inline int bench_ncpus(void)
{
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/*
 * Id of the n-th (from 0) CPU this process may run on, or -1 if there are
 * not that many.  Use it to pick "two different CPUs" on machines whose
 * allowed set does not start at 0.
 */
static inline int bench_nth_cpu(int n)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof set, &set))
		return n < bench_ncpus() ? n : -1;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set) && n-- == 0)
			return cpu;
	return -1;
}

/*
 * Maps len bytes of zeroed memory shared with children forked afterwards,
 * pre-faulted so that page faults stay out of the measurement.  Returns
 * NULL on failure.  Free with bench_shm_free().
 */
static inline void *bench_shm_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Unmaps what bench_shm_alloc() returned; NULL-safe. */
static inline void bench_shm_free(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/*
 * The pct-th percentile (0..100, nearest rank) of n samples.  Sorts v in
 * place, so asking for several percentiles of the same array is cheap
 * after the first.  Returns NAN when n is 0.
 */
static inline double bench_percentile(double *v, size_t n, double pct)
{
	double want = pct / 100.0 * (double)n;
	size_t rank;

	if (n == 0)
		return NAN;
	qsort(v, n, sizeof *v, bench_cmp_double);
	if (!(want > 1)) /* also catches a NaN pct */
		return v[0];
	if (want >= (double)n)
		return v[n - 1];
	/* Nearest rank = ceil(want), without needing libm. */
	rank = (size_t)want;
	if ((double)rank < want)
		rank++;
	return v[rank - 1];
}

/* Prints v with about four significant digits and never in exponent form. */
static inline void bench_print_num(double v)
{
	double a = fabs(v);

	if (!isfinite(v))
		printf("nan");
	else if (a >= 1000)
		printf("%.0f", v);
	else if (a >= 100)
		printf("%.1f", v);
	else if (a >= 10)
		printf("%.2f", v);
	else
		printf("%.3f", v);
}

/*
 * Prints one figure as the line scripts read:
 *     bench: NAME VALUE UNIT baseline BASELINE_VALUE ratio RATIO
 * ratio is value / baseline, printed "nan" when either figure is missing
 * (negative: the measurement failed) or the baseline is zero.  name and
 * unit must not contain spaces.  Flushes stdout, so that lines appear as
 * they are measured and are never duplicated into forked children.
 */
static inline void bench_line(const char *name, double value, const char *unit,
                              double baseline)
{
	printf("bench: %s ", name);
	bench_print_num(value);
	printf(" %s baseline ", unit);
	bench_print_num(baseline);
	if (value >= 0 && baseline > 0)
		printf(" ratio %.2f\n", value / baseline);
	else
		printf(" ratio nan\n");
	fflush(stdout);
}

/*
 * What a figure cost in wake-up machinery, per message (see src/perfcount.h
 * for what each counter counts).  A negative field was not measured.
 */
struct bench_counts {
	double doorbells;     /* doorbells rung (fence + sleep-flag check) */
	double wakeups;       /* eventfd writes to a sleeping receiver (waker side) */
	double sleeps;        /* blocking sleeps (sleeper side) */
	double yields;        /* sched_yield() calls of idle spinning workers */
};

/*
 * bench_line() followed by the per-message counts on the same line:
 *     bench: NAME VALUE UNIT baseline B ratio R doorbells/msg X wakeups/msg Y
 *            sleeps/msg Z yields/msg W
 * c NULL: as bench_line().
 */
static inline void bench_line_counts(const char *name, double value, const char *unit,
                                     double baseline, const struct bench_counts *c)
{
	printf("bench: %s ", name);
	bench_print_num(value);
	printf(" %s baseline ", unit);
	bench_print_num(baseline);
	if (value >= 0 && baseline > 0)
		printf(" ratio %.2f", value / baseline);
	else
		printf(" ratio nan");
	if (c) {
		printf(" doorbells/msg ");
		bench_print_num(c->doorbells >= 0 ? c->doorbells : NAN);
		printf(" wakeups/msg ");
		bench_print_num(c->wakeups >= 0 ? c->wakeups : NAN);
		printf(" sleeps/msg ");
		bench_print_num(c->sleeps >= 0 ? c->sleeps : NAN);
		printf(" yields/msg ");
		bench_print_num(c->yields >= 0 ? c->yields : NAN);
	}
	printf("\n");
	fflush(stdout);
}

/*
 * User-space instructions retired by the calling thread only (not its
 * children or other threads), from bench_icount_open() on: a figure that
 * CPU sharing does not blur.  Returns the counter's fd, or -1 where perf
 * events are not allowed (perf_event_paranoid, a VM without a PMU);
 * bench_icount_read() then gives -1.
 */
static inline int bench_icount_open(void)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof a);
	a.type = PERF_TYPE_HARDWARE;
	a.size = sizeof a;
	a.config = PERF_COUNT_HW_INSTRUCTIONS;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static inline double bench_icount_read(int fd)
{
	uint64_t v;

	if (fd < 0 || read(fd, &v, sizeof v) != (ssize_t)sizeof v)
		return -1;
	return (double)v;
}

/* The CPUs in pid's affinity mask as a list "0-3,6" into buf (0: this
 * process).  Returns buf; "?" if it cannot be read. */
static inline const char *bench_affinity_str(pid_t pid, char *buf, size_t cap)
{
	cpu_set_t set;
	size_t len = 0;

	if (cap < 2)
		return "";
	buf[0] = '\0';
	if (sched_getaffinity(pid, sizeof set, &set)) {
		snprintf(buf, cap, "?");
		return buf;
	}
	for (int c = 0; c < CPU_SETSIZE && len + 16 < cap; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		int e = c;
		while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, &set))
			e++;
		len += (size_t)snprintf(buf + len, cap - len, len ? ",%d" : "%d", c);
		if (e > c)
			len += (size_t)snprintf(buf + len, cap - len, "-%d", e);
		c = e;
	}
	return buf;
}

/*
 * Prints, once at the start of a bench, what the figures depend on: the
 * CPU model (/proc/cpuinfo), the online CPU count, where this process may
 * run (its affinity: workers forked from it inherit it unless a figure
 * pins them, which the figure's comment line then says), and the load.
 */
static inline void bench_print_machine(const char *prog)
{
	char model[160] = "?", line[256], aff[256];
	double load = -1;
	FILE *f;

	if ((f = fopen("/proc/cpuinfo", "re"))) {
		while (fgets(line, sizeof line, f)) {
			char *colon = strchr(line, ':');
			if (colon && (!strncmp(line, "model name", 10) || !strncmp(line, "Model", 5) ||
			              !strncmp(line, "cpu model", 9))) {
				colon++;
				while (*colon == ' ' || *colon == '\t')
					colon++;
				colon[strcspn(colon, "\n")] = '\0';
				snprintf(model, sizeof model, "%s", colon);
				break;
			}
		}
		fclose(f);
	}
	if ((f = fopen("/proc/loadavg", "re"))) {
		if (fscanf(f, "%lf", &load) != 1)
			load = -1;
		fclose(f);
	}
	printf("# %s: cpu model: %s\n", prog, model);
	printf("# %s: cpus online %ld, this process may run on %s (%d cpus); load average %.2f\n",
	       prog, sysconf(_SC_NPROCESSORS_ONLN), bench_affinity_str(0, aff, sizeof aff),
	       bench_ncpus(), load);
	fflush(stdout);
}

/*
 * Waits for the n children in pids[] to exit, for at most timeout_ns.
 * As soon as one fails (nonzero exit or death by a signal), or when the
 * time is up, the ones still running get SIGKILL and are reaped too, so
 * that a stuck or spinning peer never outlives the measurement.  Entries
 * <= 0 are skipped.  Returns 0 if all exited with status 0, -ETIMEDOUT on
 * timeout, -C for the first child that exited with code C, -ECHILD for
 * one killed by a signal.  Sleeps in poll() on pidfds (or in short naps
 * where pidfds are missing); never spins.
 */
static inline int bench_reap(const pid_t *pids, int n, uint64_t timeout_ns)
{
	enum { MAXN = 16 };
	struct pollfd pfd[MAXN];
	int live[MAXN], n_live = 0, rc = 0, have_pidfd = 1;
	uint64_t deadline = now_ns() + timeout_ns;

	if (n < 0 || n > MAXN)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		live[i] = pids[i] > 0;
		n_live += live[i];
		pfd[i].fd = -1;
#ifdef SYS_pidfd_open
		if (live[i])
			pfd[i].fd = (int)syscall(SYS_pidfd_open, pids[i], 0);
#endif
		if (live[i] && pfd[i].fd < 0)
			have_pidfd = 0;
		pfd[i].events = POLLIN;
	}
	while (n_live > 0) {
		for (int i = 0; i < n; i++) {
			int st;
			pid_t r;

			if (!live[i])
				continue;
			do
				r = waitpid(pids[i], &st, WNOHANG);
			while (r < 0 && errno == EINTR);
			if (r == 0)
				continue;
			live[i] = 0;
			n_live--;
			if (r < 0) {
				if (!rc)
					rc = -ECHILD;
			} else if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
				if (!rc)
					rc = -WEXITSTATUS(st);
			} else if (!WIFEXITED(st)) {
				if (!rc)
					rc = -ECHILD;
			}
		}
		if (n_live == 0)
			break;
		uint64_t now = now_ns();
		if (rc || now >= deadline) {
			if (!rc)
				rc = -ETIMEDOUT;
			for (int i = 0; i < n; i++) {
				if (!live[i])
					continue;
				kill(pids[i], SIGKILL);
				while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
					;
				live[i] = 0;
			}
			break;
		}
		if (have_pidfd) {
			struct pollfd act[MAXN];
			int m = 0;
			for (int i = 0; i < n; i++)
				if (live[i])
					act[m++] = pfd[i];
			/* +1: never round a short remainder down to a busy poll. */
			uint64_t ms = (deadline - now) / 1000000u + 1;
			if (ms > 1000)
				ms = 1000;
			poll(act, (nfds_t)m, (int)ms);
		} else {
			struct timespec nap = { 0, 1000000 };
			nanosleep(&nap, NULL);
		}
	}
	for (int i = 0; i < n; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	return rc;
}

#endif
