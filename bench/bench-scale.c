/* SPDX-License-Identifier: MIT */
/*
 * bench-scale.c - how the cost grows with the number of groups: curves
 * whose every point is a ratio against the curve's 1-unit point, measured
 * in the same run.
 *
 *   fanin_N        N sender groups -> 1 receiver (N = 1, 2, 4, 16, 64): the
 *                  receiver's rate; ratio against N = 1.  Senders run on
 *                  credit (CREDIT messages, then they wait for the
 *                  receiver's credit message), so that what is measured is
 *                  the receiver's cost per message as its inbound rings
 *                  multiply, not 64 busy senders starving it of CPU.
 *   alltoall_G     G groups (G = 2, 16, 64), each sending to every other in
 *                  turn, WINDOW envelopes in flight per group: total
 *                  envelopes handled per second; ratio against G = 2.
 *   idle_cpu_G     CPU time per second of a node with G idle groups
 *                  (G = 1, 16, 64, 255): supervisor, zygote and workers,
 *                  from /proc/PID/schedstat (ns) over IDLE_WINDOW_MS after
 *                  the node settled, in percent of one CPU; also their
 *                  context switches per second (wake-ups).  Goal < 0.1 %.
 *   region_G       the region's address space (memfd mapping size), how
 *                  much of it the supervisor has mapped (its Rss), how much
 *                  the memfd holds in all (pages any process touched:
 *                  what the node really costs, st_blocks of the memfd),
 *                  and the supervisor's VmRSS, for the same idle nodes;
 *                  ratio against G = 1.
 *
 * Every figure line also carries the node's wake-up counts per message
 * (src/perfcount.h) where messages flow.  On a 2-CPU machine the message
 * curves mostly show the CPUs being shared by more processes; that is
 * part of how cost grows and is printed as such.
 *
 *     bench-scale [SCALE [CURVE...]]     CURVE: fanin alltoall idle
 *
 * SCALE (default 1) multiplies the measuring windows.  Exits 0 if every
 * point was measured.  Workers are stopped by their node's shutdown;
 * alarm() bounds the whole program.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <actors.h>

#include "baseline.h"
#include "bench-util.h"
#include "perfcount.h"

#define MAX_GROUPS 255
#define CREDIT 256             /* fan-in: messages a sender may have unacknowledged / 2 */
#define WINDOW 8               /* all-to-all: envelopes in flight per group */
#define WARM_NS 100000000ull   /* traffic before timing starts */
#define WATCHDOG_MS 60000u
#define ALARM_S 900u

struct result {
	_Atomic int done, err, started;
	double rate;
	struct act__perf perf0, perf1;
	uint64_t n_msgs;
};
static struct result *R;
static double scale = 1.0;
static int n_failed;

static struct {
	int n_senders;         /* fan-in */
	int n_groups;          /* all-to-all */
	uint64_t window_ns;
} cfg;

typedef struct { uint64_t seq; int32_t from; int32_t pad; } note;
ACT_MESSAGE_TYPE(note_type, note, "ScaleNote", ACT_FIELD(note, seq, ACT_U64),
                 ACT_FIELD(note, from, ACT_I32));
typedef struct { int32_t n; } credit;
ACT_MESSAGE_TYPE(credit_type, credit, "ScaleCredit", ACT_FIELD(credit, n, ACT_I32));

static void fail(act_ctx *ctx, int err)
{
	int zero = 0;
	atomic_compare_exchange_strong(&R->err, &zero, err < 0 ? err : -EIO);
	act_shutdown(ctx);
}

static void on_timeout(act_ctx *ctx, void *st, const void *m)
{
	fail(ctx, -ETIMEDOUT);
}

/* The measuring side: after WARM_NS of traffic, snapshot; after the
 * window, snapshot again and stop the node. */
struct meter {
	uint64_t t0, t_start, count0, count;
	int phase;             /* 0 warming, 1 timing */
};

static void meter_tick(act_ctx *ctx, struct meter *mt)
{
	uint64_t now;

	mt->count++;
	if ((mt->count & 255) || atomic_load_explicit(&R->done, memory_order_relaxed))
		return;
	now = now_ns();
	if (!mt->t_start)
		mt->t_start = now;
	if (mt->phase == 0 && now - mt->t_start >= WARM_NS) {
		mt->phase = 1;
		mt->t0 = now;
		mt->count0 = mt->count;
		act__perf_read(ctx, &R->perf0);
	} else if (mt->phase == 1 && now - mt->t0 >= cfg.window_ns) {
		act__perf_read(ctx, &R->perf1);
		R->n_msgs = mt->count - mt->count0;
		R->rate = (double)R->n_msgs * 1e9 / (double)(now - mt->t0);
		atomic_store(&R->done, 1);
		act_shutdown(ctx);
	}
}

/* ---- fan-in ----------------------------------------------------------------------- */

struct sender { act_ref recv; uint64_t seq; uint32_t id; };

static int send_n(act_ctx *ctx, struct sender *s, int n)
{
	for (int i = 0; i < n; i++) {
		note m = { s->seq++, (int32_t)s->id, 0 };
		int err = act_send(ctx, s->recv, &note_type, &m);
		if (err)
			return err;
	}
	return 0;
}

static int sender_init(act_ctx *ctx, void *st, const char *args)
{
	struct sender *s = st;
	s->id = args ? (uint32_t)atoi(args) : 0;
	return 0;
}

static void sender_start(act_ctx *ctx, void *st, const void *m)
{
	struct sender *s = st;
	int err = act_lookup(ctx, "recv", &s->recv);
	if (!err)
		err = send_n(ctx, s, 2 * CREDIT);
	if (err)
		fail(ctx, err);
}

static void sender_credit(act_ctx *ctx, void *st, const void *m)
{
	int err;
	if (atomic_load_explicit(&R->done, memory_order_relaxed))
		return;
	if ((err = send_n(ctx, st, (int)((const credit *)m)->n)))
		fail(ctx, err);
}

static const act_handler sender_h[] = {
	{ &act_start_type, sender_start }, { &credit_type, sender_credit },
};
static const act_behaviour sender_b = {
	.name = "scale-sender", .state_size = sizeof(struct sender), .init = sender_init,
	.handlers = sender_h, .n_handlers = 2,
};

struct receiver {
	struct meter mt;
	uint64_t next[64];
	uint32_t since[64];
};

static void recv_start(act_ctx *ctx, void *st, const void *m)
{
	int err = act_timer_once(ctx, WATCHDOG_MS, 1);
	if (err)
		fail(ctx, err);
}

static void recv_note(act_ctx *ctx, void *st, const void *m)
{
	struct receiver *r = st;
	const note *n = m;

	if (n->from < 0 || n->from >= 64 || n->seq != r->next[n->from]) {
		fail(ctx, -EPROTO);
		return;
	}
	r->next[n->from]++;
	if (++r->since[n->from] == CREDIT) {
		credit c = { CREDIT };
		r->since[n->from] = 0;
		int err = act_reply(ctx, &credit_type, &c);
		if (err)
			fail(ctx, err);
	}
	meter_tick(ctx, &r->mt);
}

static const act_handler recv_h[] = {
	{ &act_start_type, recv_start }, { &note_type, recv_note },
	{ &act_timeout_type, on_timeout },
};
static const act_behaviour recv_b = {
	.name = "scale-recv", .state_size = sizeof(struct receiver),
	.handlers = recv_h, .n_handlers = 3,
};

/* ---- all-to-all ------------------------------------------------------------------- */

struct peer {
	struct meter mt;
	act_ref peers[MAX_GROUPS];
	uint32_t id, next;
	uint64_t seq;
};

static int peer_init(act_ctx *ctx, void *st, const char *args)
{
	((struct peer *)st)->id = args ? (uint32_t)atoi(args) : 0;
	return 0;
}

static int peer_send(act_ctx *ctx, struct peer *p)
{
	note m = { p->seq++, (int32_t)p->id, 0 };
	uint32_t to = p->next;

	p->next = (p->next + 1) % (uint32_t)cfg.n_groups;
	if (p->next == p->id)
		p->next = (p->next + 1) % (uint32_t)cfg.n_groups;
	return act_send(ctx, p->peers[to], &note_type, &m);
}

static void peer_start(act_ctx *ctx, void *st, const void *m)
{
	struct peer *p = st;
	char name[16];
	int err = 0;

	for (int i = 0; i < cfg.n_groups && !err; i++) {
		snprintf(name, sizeof name, "a%d", i);
		err = act_lookup(ctx, name, &p->peers[i]);
	}
	p->next = (p->id + 1) % (uint32_t)cfg.n_groups;
	if (!err && p->id == 0)
		err = act_timer_once(ctx, WATCHDOG_MS, 1);
	for (int i = 0; i < WINDOW && !err; i++)
		err = peer_send(ctx, p);
	if (err)
		fail(ctx, err);
}

static void peer_note(act_ctx *ctx, void *st, const void *m)
{
	struct peer *p = st;
	int err;

	if (atomic_load_explicit(&R->done, memory_order_relaxed))
		return;
	if ((err = peer_send(ctx, p))) {
		fail(ctx, err);
		return;
	}
	/* Group 0 meters its own share; the rate is the node's, from the
	 * handled counters (every group handles as much as it sends). */
	if (p->id == 0)
		meter_tick(ctx, &p->mt);
}

static const act_handler peer_h[] = {
	{ &act_start_type, peer_start }, { &note_type, peer_note },
	{ &act_timeout_type, on_timeout },
};
static const act_behaviour peer_b = {
	.name = "scale-peer", .state_size = sizeof(struct peer), .init = peer_init,
	.handlers = peer_h, .n_handlers = 3,
};

/* ---- idle ------------------------------------------------------------------------- */

static void idle_start(act_ctx *ctx, void *st, const void *m)
{
	atomic_fetch_add(&R->started, 1);
}

static const act_handler idle_h[] = { { &act_start_type, idle_start } };
static const act_behaviour idle_b = { .name = "scale-idle", .handlers = idle_h, .n_handlers = 1 };

/* ---- running ---------------------------------------------------------------------- */

static struct act__perf acc;
static uint64_t acc_msgs;

static const struct bench_counts *take_counts(void)
{
	static struct bench_counts c;
	double m = (double)acc_msgs;

	if (!acc_msgs)
		return NULL;
	c = (struct bench_counts){ acc.n_notifies / m, acc.n_wakeups / m, acc.n_sleeps / m,
	                           acc.n_yields / m };
	acc = (struct act__perf){ 0 };
	acc_msgs = 0;
	return &c;
}

/* Runs a node and returns its measured rate (msgs/s) or a negative errno. */
static double run_rate(act_node_t *node, int use_handled)
{
	int err;

	memset(R, 0, sizeof *R);
	act_node_add_type(node, &credit_type);
	fflush(NULL);
	err = act_node_run(node);
	act_node_free(node);
	if (err > 0)
		err = -ECHILD;
	if (!err)
		err = atomic_load(&R->err);
	if (!err && !atomic_load(&R->done))
		err = -EIO;
	if (err)
		return err;
	struct act__perf d;
	act__perf_diff(&R->perf0, &R->perf1, &d);
	uint64_t msgs = use_handled ? d.n_handled : R->n_msgs;
	acc.n_notifies += d.n_notifies;
	acc.n_wakeups += d.n_wakeups;
	acc.n_sleeps += d.n_sleeps;
	acc.n_yields += d.n_yields;
	acc_msgs += msgs;
	if (use_handled)
		return R->rate * (double)d.n_handled / (double)R->n_msgs;
	return R->rate;
}

static double fanin(int n)
{
	act_node_t *node = act_node_new("scale");
	char name[16], args[16];
	int err = node ? 0 : -ENOMEM;

	cfg.n_senders = n;
	if (!err)
		err = act_node_add_group(node, "recv");
	if (!err)
		err = act_node_add_actor(node, "recv", "recv", &recv_b, NULL);
	for (int i = 0; i < n && !err; i++) {
		snprintf(name, sizeof name, "s%d", i);
		snprintf(args, sizeof args, "%d", i);
		err = act_node_add_group(node, name);
		if (!err)
			err = act_node_add_actor(node, name, name, &sender_b, args);
	}
	if (err) {
		act_node_free(node);
		return err;
	}
	return run_rate(node, 0);
}

static double alltoall(int g)
{
	act_node_t *node = act_node_new("scale");
	char name[16], args[16];
	int err = node ? 0 : -ENOMEM;

	cfg.n_groups = g;
	for (int i = 0; i < g && !err; i++) {
		snprintf(name, sizeof name, "a%d", i);
		snprintf(args, sizeof args, "%d", i);
		err = act_node_add_group(node, name);
		if (!err)
			err = act_node_add_actor(node, name, name, &peer_b, args);
	}
	if (err) {
		act_node_free(node);
		return err;
	}
	return run_rate(node, 1);
}

static void curve_point(const char *curve, int unit, double v, double base, const char *u)
{
	char name[64];

	snprintf(name, sizeof name, "%s_%d", curve, unit);
	if (v < 0) {
		fprintf(stderr, "bench-scale: %s failed: %s\n", name, strerror((int)-v));
		n_failed++;
	}
	bench_line_counts(name, v, u, base, take_counts());
}

/* ---- idle cost: a monitor process reads /proc ------------------------------------- */

/* CPU ns (schedstat, else utime+stime) and context switches of pid. */
static int proc_cpu(pid_t pid, uint64_t *ns, uint64_t *csw)
{
	char path[64], buf[4096];
	FILE *f;
	unsigned long long run = 0;

	*ns = 0;
	*csw = 0;
	snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
	if ((f = fopen(path, "re"))) {
		if (fscanf(f, "%llu", &run) == 1)
			*ns = run;
		fclose(f);
	} else {
		return -errno;
	}
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re"))) {
		while (fgets(buf, sizeof buf, f)) {
			unsigned long long v;
			if (sscanf(buf, "voluntary_ctxt_switches: %llu", &v) == 1 ||
			    sscanf(buf, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
				*csw += v;
		}
		fclose(f);
	}
	return 0;
}

static pid_t proc_ppid(pid_t pid)
{
	char path[64], buf[512];
	FILE *f;
	pid_t pp = -1;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "re")))
		return -1;
	if (fgets(buf, sizeof buf, f)) {
		char *p = strrchr(buf, ')');
		if (p)
			sscanf(p + 2, "%*c %d", &pp);
	}
	fclose(f);
	return pp;
}

/* Pids of root and its descendants (but `except`) into out[]; count. */
static int tree_pids(pid_t root, pid_t except, pid_t *out, int cap)
{
	static pid_t pids[65536], ppids[65536];
	int n = 0, m = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < 65536) {
		pid_t p = (pid_t)atoi(e->d_name);
		if (p > 0) {
			pids[n] = p;
			ppids[n++] = proc_ppid(p);
		}
	}
	closedir(d);
	out[m++] = root;
	/* Breadth first: a child's parent is already in out[]. */
	for (int k = 0; k < m && m < cap; k++)
		for (int i = 0; i < n && m < cap; i++)
			if (ppids[i] == out[k] && pids[i] != except)
				out[m++] = pids[i];
	return m;
}

/* Size and Rss (KiB) of the region's mapping in pid, from smaps. */
static void region_kib(pid_t pid, long *size, long *rss)
{
	char path[64], buf[512];
	FILE *f;
	int in = 0;

	*size = *rss = -1;
	snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
	if (!(f = fopen(path, "re")))
		return;
	while (fgets(buf, sizeof buf, f)) {
		long v;
		if (strchr(buf, '-') && strstr(buf, " rw-s ") && strstr(buf, "memfd:actors-region")) {
			in = 1;
			continue;
		}
		if (!in)
			continue;
		if (sscanf(buf, "Size: %ld kB", &v) == 1)
			*size = v;
		else if (sscanf(buf, "Rss: %ld kB", &v) == 1) {
			*rss = v;
			break;
		}
	}
	fclose(f);
}

/* KiB the region's memfd holds (pages touched by any process), from a
 * stat of the supervisor's fd for it; -1 if not found. */
static long region_alloc_kib(pid_t pid)
{
	char dir[64], path[320], target[256];
	struct dirent *de;
	struct stat st;
	long v = -1;
	DIR *d;

	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	if (!(d = opendir(dir)))
		return -1;
	while ((de = readdir(d))) {
		ssize_t len;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		len = readlink(path, target, sizeof target - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		if (strstr(target, "memfd:actors-region") && stat(path, &st) == 0) {
			v = (long)(st.st_blocks / 2);
			break;
		}
	}
	closedir(d);
	return v;
}

static long vm_rss_kib(pid_t pid)
{
	char path[64], buf[256];
	FILE *f;
	long v = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "re")))
		return -1;
	while (fgets(buf, sizeof buf, f))
		if (sscanf(buf, "VmRSS: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

struct idle_out {
	_Atomic int measured;
	double cpu_pct, csw_per_s;
	long region_kib, region_rss_kib, region_alloc_kib, sup_rss_kib, n_procs;
};

/*
 * The monitor (a child of the supervisor, outside the node): waits until
 * every group's actor got Start, lets the node settle, measures for the
 * window, writes *o and stops the node with SIGTERM.
 */
static void idle_monitor(pid_t sup, int g, uint64_t window_ns, struct idle_out *o)
{
	static pid_t tree[MAX_GROUPS + 16];
	uint64_t ns0 = 0, ns1 = 0, c0 = 0, c1 = 0, t0, t1, deadline = now_ns() + 120000000000ull;
	struct timespec nap = { 0, 10000000 };
	int n;

	while (atomic_load(&R->started) < g && now_ns() < deadline)
		nanosleep(&nap, NULL); /* a start-up poll, not a measurement */
	if (atomic_load(&R->started) < g) {
		kill(sup, SIGTERM);
		_exit(1);
	}
	nap.tv_nsec = 500000000; /* settle: spins end, first sleeps happen */
	nanosleep(&nap, NULL);
	n = tree_pids(sup, getpid(), tree, (int)(sizeof tree / sizeof *tree));
	t0 = now_ns();
	for (int i = 0; i < n; i++) {
		uint64_t ns, csw;
		if (!proc_cpu(tree[i], &ns, &csw)) {
			ns0 += ns;
			c0 += csw;
		}
	}
	nap.tv_sec = (time_t)(window_ns / 1000000000u);
	nap.tv_nsec = (long)(window_ns % 1000000000u);
	nanosleep(&nap, NULL);
	for (int i = 0; i < n; i++) {
		uint64_t ns, csw;
		if (!proc_cpu(tree[i], &ns, &csw)) {
			ns1 += ns;
			c1 += csw;
		}
	}
	t1 = now_ns();
	o->cpu_pct = 100.0 * (double)(ns1 - ns0) / (double)(t1 - t0);
	o->csw_per_s = (double)(c1 - c0) * 1e9 / (double)(t1 - t0);
	o->n_procs = n;
	region_kib(sup, &o->region_kib, &o->region_rss_kib);
	o->region_alloc_kib = region_alloc_kib(sup);
	o->sup_rss_kib = vm_rss_kib(sup);
	atomic_store(&o->measured, 1);
	kill(sup, SIGTERM);
	_exit(0);
}

static int idle(int g, uint64_t window_ns, struct idle_out *o)
{
	act_node_t *node = act_node_new("scale");
	char name[16];
	int err = node ? 0 : -ENOMEM;
	pid_t mon;

	for (int i = 0; i < g && !err; i++) {
		snprintf(name, sizeof name, "i%d", i);
		err = act_node_add_group(node, name);
		if (!err)
			err = act_node_add_actor(node, name, name, &idle_b, NULL);
	}
	if (err) {
		act_node_free(node);
		return err;
	}
	memset(R, 0, sizeof *R);
	memset((void *)o, 0, sizeof *o);
	fflush(NULL);
	pid_t sup = getpid();
	if ((mon = fork()) < 0) {
		act_node_free(node);
		return -errno;
	}
	if (mon == 0)
		idle_monitor(sup, g, window_ns, o);
	err = act_node_run(node);
	act_node_free(node);
	/* The supervisor reaps any child of its process, the monitor too
	 * (as a stray): whether it measured is in *o, not in its status. */
	kill(mon, SIGKILL);
	waitpid(mon, NULL, WNOHANG);
	if (err > 0)
		err = -ECHILD;
	if (!err && !atomic_load(&o->measured))
		err = -EIO;
	return err;
}

/* ---- main ------------------------------------------------------------------------- */

static char **only;

static int wanted(const char *name)
{
	if (!only || !*only)
		return 1;
	for (char **p = only; *p; p++)
		if (!strcmp(*p, name))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	static const int fan[] = { 1, 2, 4, 16, 64 };
	static const int a2a[] = { 2, 16, 64 };
	static const int idl[] = { 1, 16, 64, 255 };
	char *end;

	bench_handle_ready_child(argc, argv);
	if (argc >= 2 && ((scale = strtod(argv[1], &end)) <= 0 || *end || end == argv[1])) {
		fprintf(stderr, "usage: %s [SCALE [fanin|alltoall|idle...]]\n", argv[0]);
		return 2;
	}
	only = argc > 2 ? argv + 2 : NULL;
	setenv("ACTORS_LOG_LEVEL", "warn", 0);
	alarm(ALARM_S);
	/* Shared with the workers and the monitor; idle_out rides at its end. */
	R = bench_shm_alloc(sizeof *R + sizeof(struct idle_out));
	if (!R) {
		fprintf(stderr, "bench-scale: cannot map the result area\n");
		return 1;
	}
	struct idle_out *io = (struct idle_out *)(R + 1);
	printf("# bench-scale %s: scale %g; workers unpinned (they inherit the affinity below)\n",
	       act_version(), scale);
	bench_print_machine("bench-scale");
	cfg.window_ns = (uint64_t)(scale * 500000000.0);
	if (cfg.window_ns < 20000000)
		cfg.window_ns = 20000000;

	if (wanted("fanin")) {
		double base = -1;
		printf("# fanin_N: N sender groups -> 1 receiver, credit %d, window %.0f ms; "
		       "msgs/s seen by the receiver, ratio vs N=1\n", CREDIT, cfg.window_ns / 1e6);
		for (size_t i = 0; i < sizeof fan / sizeof *fan; i++) {
			double v = fanin(fan[i]);
			if (i == 0)
				base = v;
			curve_point("fanin", fan[i], v, base, "msgs/s");
		}
	}
	if (wanted("alltoall")) {
		double base = -1;
		printf("# alltoall_G: G groups, each to every other in turn, %d in flight per "
		       "group; msgs/s handled by the node, ratio vs G=2\n", WINDOW);
		for (size_t i = 0; i < sizeof a2a / sizeof *a2a; i++) {
			double v = alltoall(a2a[i]);
			if (i == 0)
				base = v;
			curve_point("alltoall", a2a[i], v, base, "msgs/s");
		}
	}
	if (wanted("idle")) {
		double base_rss = -1, base_reg = -1, base_map = -1, base_alloc = -1;
		uint64_t win = (uint64_t)(scale * 3e9);
		if (win < 500000000)
			win = 500000000;
		printf("# idle_cpu_G: %% of one CPU used by supervisor + zygote + G idle workers "
		       "over %.1f s (goal < 0.1); region_G: the region's mapping, KiB\n", win / 1e9);
		for (size_t i = 0; i < sizeof idl / sizeof *idl; i++) {
			char name[64];
			int err = idle(idl[i], win, io);
			if (err) {
				fprintf(stderr, "bench-scale: idle_%d failed: %s\n", idl[i],
				        strerror(-err));
				n_failed++;
				continue;
			}
			printf("# idle_%d: %ld processes, %.1f context switches/s, region %ld KiB "
			       "mapped, %ld KiB resident in the supervisor, %ld KiB allocated "
			       "(all processes), supervisor VmRSS %ld KiB\n", idl[i],
			       io->n_procs, io->csw_per_s, io->region_kib, io->region_rss_kib,
			       io->region_alloc_kib, io->sup_rss_kib);
			snprintf(name, sizeof name, "idle_cpu_%d", idl[i]);
			bench_line(name, io->cpu_pct, "%cpu", 0.1);
			snprintf(name, sizeof name, "idle_wakeups_%d", idl[i]);
			bench_line(name, io->csw_per_s, "csw/s", io->csw_per_s);
			if (i == 0) {
				base_reg = (double)io->region_rss_kib;
				base_rss = (double)io->sup_rss_kib;
				base_map = (double)io->region_kib;
				base_alloc = (double)io->region_alloc_kib;
			}
			snprintf(name, sizeof name, "region_mapped_%d", idl[i]);
			bench_line(name, (double)io->region_kib, "KiB", base_map);
			snprintf(name, sizeof name, "region_resident_%d", idl[i]);
			bench_line(name, (double)io->region_rss_kib, "KiB", base_reg);
			snprintf(name, sizeof name, "region_allocated_%d", idl[i]);
			bench_line(name, (double)io->region_alloc_kib, "KiB", base_alloc);
			snprintf(name, sizeof name, "supervisor_rss_%d", idl[i]);
			bench_line(name, (double)io->sup_rss_kib, "KiB", base_rss);
		}
	}
	return n_failed ? 1 : 0;
}
