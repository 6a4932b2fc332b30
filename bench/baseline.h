/* SPDX-License-Identifier: MIT */
/*
 * baseline.h - private: bare reference measurements for the benchmarks.
 *
 * Each function measures what the machine can do with no runtime in the
 * way (a plain shared-memory ring, plain eventfds, plain fork and exec),
 * so that the bench programs can print every runtime figure next to its
 * physical-limit reference taken in the same run.  Every measurement runs
 * between processes created with fork(); the calling process is never
 * pinned, spun or otherwise changed.  The functions block for the length
 * of the measurement, are bounded in time (a stuck child is killed), reap
 * every child they start, and return a negative errno-style value when the
 * measurement failed.  cpu arguments name the CPU each side is pinned to;
 * -1 leaves that side unpinned.  Both sides on the same CPU works, but the
 * spinning measurements then yield the CPU in every spin and measure the
 * scheduler more than the memory system.
 */
#ifndef ACT_BENCH_BASELINE_H
#define ACT_BENCH_BASELINE_H

/* argv[1] prefix that turns a bench program into the exec'd ready child. */
#define BENCH_READY_FLAG "--ready-fd="

/*
 * Round-trip time of a 64-byte message through two plain SPSC rings in
 * shared memory (A -> B, B copies it back B -> A), both sides spinning.
 * Returns the median over batches of 64 round trips of each batch's mean,
 * in nanoseconds, after a warm-up of iters/10 (at most 20000) round trips;
 * iters >= 1000.
 */
double bare_ring_rtt_ns(int cpu_a, int cpu_b, long iters);

/*
 * One-way streaming rate of n 64-byte messages (n >= 1000) through a plain
 * SPSC ring of 1024 slots, producer on cpu_a, consumer on cpu_b, both
 * spinning, the consumer checking every message's sequence number and
 * payload.  After the first n/10 messages the consumer times stretches of
 * 65536 messages (about 1 ms; at least 10 stretches, shorter ones for
 * small n); returns the median stretch's rate in messages per second, so
 * that stretches hit by another process's time slice do not count.
 */
double bare_ring_stream_rate(int cpu_a, int cpu_b, long n);

/*
 * Round-trip time through two eventfds with blocking read() and write():
 * each side sleeps in read() until the other writes.  Returns the mean
 * over iters round trips (iters >= 100) after a warm-up of iters/10, in
 * nanoseconds.
 */
double bare_eventfd_rtt_ns(int cpu_a, int cpu_b, long iters);

/*
 * Readiness latency of a plain fork(): the child writes one byte into a
 * pipe and exits; each round is timed from just before fork() to the byte
 * being read by the caller (a poll() then a read()), reaping outside the
 * timed span.  Returns the median over rounds (>= 1) in microseconds and
 * stores the 99th percentile in *p99 if p99 is not NULL.  Forks from the
 * calling process, so its size (page tables to copy) is part of the figure.
 */
double bare_fork_ready_us(long rounds, double *p99);

/*
 * The same with fork() + execve() of this program (/proc/self/exe) with
 * argv[1] = "--ready-fd=3": the child writes its byte to fd 3 from main()
 * and exits.  This only works if the program's main() starts with
 * bench_handle_ready_child(argc, argv); without it the child runs the
 * program normally, the round fails (after at most 2 s, when the child is
 * killed) and the function returns a negative value.  The child's
 * environment carries ACT_BENCH_READY_CHILD=1, and this function returns
 * -ELOOP when it finds that variable, so a forgotten handler cannot make
 * the program re-execute itself without end.  The figure includes loading
 * the shared libraries this program is linked with: on the test machine a
 * libc-only program takes about 0.7 ms, the same program linked with
 * libzmq (and so libstdc++ and 20 more libraries) about 4 ms.
 */
double bare_forkexec_ready_us(long rounds, double *p99);

/*
 * The same, exec'ing the program at path instead of this one, e.g. a
 * libc-only driver such as bench/baseline-main next to a bench program
 * that is itself linked with heavier libraries.  That program must handle
 * "--ready-fd=3" as bench_handle_ready_child() does.
 */
double bare_exec_ready_us(const char *path, long rounds, double *p99);

/*
 * Must be the first thing in main() of any program that calls
 * bare_forkexec_ready_us().  If argv[1] is "--ready-fd=N", writes one byte
 * to fd N and _exit()s (status 0, or 1 if the write failed, 100 if N is
 * malformed); otherwise returns without doing anything.
 */
void bench_handle_ready_child(int argc, char **argv);

#endif
