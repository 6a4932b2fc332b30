/* SPDX-License-Identifier: MIT */
/*
 * baseline-main.c - runs every bare baseline once and prints its figure.
 *
 * Each line has the figure as its own baseline (ratio 1.00), in the format
 * the bench scripts read; lines starting with '#' are commentary.  The
 * spinning and cross-CPU measurements use the first two CPUs this process
 * may run on and are skipped with a note when there is only one.  An
 * optional argument scales every iteration count (e.g. 0.1 for a quick
 * smoke run, or under valgrind); at 1 the whole run takes a few seconds.
 * Exits 0 if every measurement succeeded, 1 otherwise.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "bench-util.h"

static int n_failed;

static long scaled(double scale, long n, long min)
{
	double v = (double)n * scale;
	return v < (double)min ? min : (long)v;
}

/* Prints a figure, or a note on stderr if the measurement failed. */
static void report(const char *name, double v, const char *unit)
{
	if (v < 0) {
		fprintf(stderr, "# %s failed: %s\n", name, strerror((int)-v));
		n_failed++;
		return;
	}
	bench_line(name, v, unit, v);
}

int main(int argc, char **argv)
{
	double scale = 1.0, p99 = 0, v;
	int c0, c1;
	char *end;

	bench_handle_ready_child(argc, argv);
	if (argc > 2 || (argc == 2 && ((scale = strtod(argv[1], &end)) <= 0 ||
	                               *end || end == argv[1]))) {
		fprintf(stderr, "usage: %s [SCALE]\n", argv[0]);
		return 2;
	}
	c0 = bench_nth_cpu(0);
	c1 = bench_nth_cpu(1);
	printf("# bare baselines: %d cpus; cross-CPU pair = cpu %d,%d; same-CPU = cpu %d\n",
	       bench_ncpus(), c0, c1, c0);
	fflush(stdout);

	if (c1 >= 0) {
		report("bare_ring_rtt", bare_ring_rtt_ns(c0, c1, scaled(scale, 1000000, 1000)), "ns");
		report("bare_ring_stream",
		       bare_ring_stream_rate(c0, c1, scaled(scale, 30000000, 1000)), "msgs/s");
	} else {
		printf("# bare_ring_rtt, bare_ring_stream skipped: only one CPU\n");
	}
	report("bare_eventfd_rtt_samecpu",
	       bare_eventfd_rtt_ns(c0, c0, scaled(scale, 50000, 100)), "ns");
	if (c1 >= 0)
		report("bare_eventfd_rtt_crosscpu",
		       bare_eventfd_rtt_ns(c0, c1, scaled(scale, 20000, 100)), "ns");
	else
		printf("# bare_eventfd_rtt_crosscpu skipped: only one CPU\n");

	v = bare_fork_ready_us(scaled(scale, 2000, 10), &p99);
	report("bare_fork_ready", v, "us");
	if (v >= 0)
		report("bare_fork_ready_p99", p99, "us");
	v = bare_forkexec_ready_us(scaled(scale, 500, 10), &p99);
	report("bare_forkexec_ready", v, "us");
	if (v >= 0)
		report("bare_forkexec_ready_p99", p99, "us");
	return n_failed ? 1 : 0;
}
