/* SPDX-License-Identifier: MIT */
/*
 * bench-dynamic.c - what actors spawned at run time cost: how fast they are
 * made and ended, how much an idle one weighs, whether a million of them
 * slow down the others, and how long a group holding a million takes to be
 * back after a crash.  Each figure is printed next to a bare reference
 * measured in the same run:
 *
 *   spawn_rate                 act_spawn() + its Start + act_stop() of an
 *                              actor in the caller's group, per second;
 *                              baseline bare_spawn_rate: malloc of a
 *                              192-byte record and a 16-byte state, an init
 *                              and a Start call through function pointers,
 *                              both freed (the least an in-process object
 *                              with a lifecycle costs, no runtime at all)
 *   actor_idle_bytes           (worker RSS after N idle spawned actors -
 *                              before) / N - state_size: shared-memory
 *                              pages (records) and heap (actor table, name
 *                              table, state allocation) alike; baseline
 *                              bare_alloc_bytes: the same for N plain
 *                              calloc(state_size) kept in a pointer array,
 *                              the floor of any design that mallocs state
 *   intragroup_rate            64 hops in flight between a static actor
 *                              and a spawned one in a group of 10 actors;
 *                              own value (it is the baseline of the next)
 *   intragroup_rate_1m_actors  the same with N idle spawned actors beside
 *                              them; baseline intragroup_rate
 *   restore_1m_actors          SIGKILL of a group holding N permanent
 *                              spawned actors -> all N re-created and an
 *                              envelope queued to the last one handled, in
 *                              ms; baseline bare_fork_ready_us (in ms)
 *
 *     bench-dynamic [SCALE [FIGURE...]]
 *
 * SCALE (default 1) multiplies N (1048576 at 1) and the iteration counts,
 * e.g. 0.02 for a smoke run.  FIGUREs restrict the run to those figures.
 * Spawning N actors is done in chunks, one handler call each, so that the
 * worker keeps beating its heartbeat.  Exits 0 if every figure was
 * measured, 1 otherwise; alarm() bounds the whole program.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <actors.h>

#include "baseline.h"
#include "bench-util.h"

#define REPS 3                   /* runs per rate figure, median taken */
#define CHUNK 16384              /* spawns per handler call */
#define HOP_CHUNK 65536          /* hops per rate check */
#define WINDOW_NS 1000000000ull  /* a rate run stops after ~1 s */
#define STATE_BYTES 16           /* state_size of the spawned behaviours */
#define ALARM_S 900u

/* ---- what the workers report ------------------------------------------------ */

struct result {
	_Atomic int done;
	_Atomic int err;
	double value;
	long rss0_kib, rss1_kib;
	uint64_t kill_ns, handled_ns;
};
static struct result *R;

/* Set before act_node_run(): the workers are forked with these values. */
static struct cfg {
	long n_idle;          /* idle spawned actors to make */
	long warm, n;         /* rate runs: untimed, then timed operations */
} cfg;

static void fail(act_ctx *ctx, int err)
{
	int zero = 0;

	atomic_compare_exchange_strong(&R->err, &zero, err < 0 ? err : -EIO);
	act_shutdown(ctx);
}

/* VmRSS of the calling process in KiB (read(2) into a stack buffer, so
 * the reading allocates nothing), or -1. */
static long rss_kib(void)
{
	char buf[8192], *p;
	ssize_t n, len = 0;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (len < (ssize_t)sizeof buf - 1 &&
	       (n = read(fd, buf + len, sizeof buf - 1 - (size_t)len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	p = strstr(buf, "VmRSS:");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

/* ---- message types ---------------------------------------------------------- */

typedef struct { uint8_t unused; } kick;
ACT_MESSAGE_TYPE_EMPTY(kick_type, kick, "DynKick");

typedef struct { uint64_t seq; } hop;
ACT_MESSAGE_TYPE(hop_type, hop, "DynHop", ACT_FIELD(hop, seq, ACT_U64));

/* The victim group is ready to be killed: its pid and the probe's ref. */
typedef struct { int64_t pid, probe_id, probe_gen; } ready;
ACT_MESSAGE_TYPE(ready_type, ready, "DynReady", ACT_FIELD(ready, pid, ACT_I64),
                 ACT_FIELD(ready, probe_id, ACT_I64), ACT_FIELD(ready, probe_gen, ACT_I64));

typedef struct { int64_t v; } num;
ACT_MESSAGE_TYPE(ping_type, num, "DynPing", ACT_FIELD(num, v, ACT_I64));
ACT_MESSAGE_TYPE(pong_type, num, "DynPong", ACT_FIELD(num, v, ACT_I64));

/* ---- spawned behaviours ------------------------------------------------------- */

static uint64_t n_child_starts;

static void child_start(act_ctx *ctx, void *state, const void *m)
{
	n_child_starts++;
}

static const act_handler child_h[] = { { &act_start_type, child_start } };
static const act_behaviour child_b = {
	.name = "dyn-child", .state_size = STATE_BYTES, .handlers = child_h, .n_handlers = 1,
};

/* Idle: no handler at all, permanent (the default restart type). */
static const act_behaviour idle_b = { .name = "dyn-idle", .state_size = STATE_BYTES };

/* ---- spawn_rate ----------------------------------------------------------------- */

struct spawner { long n; uint64_t t0; };

static void rate_kick(act_ctx *ctx, void *state, const void *m)
{
	struct spawner *s = state;
	act_ref r;
	int err = 0;

	if (s->n == cfg.warm)
		s->t0 = now_ns();
	for (int i = 0; i < CHUNK && !err; i++) {
		if (!(err = act_spawn(ctx, NULL, "dyn-child", NULL, NULL, &r)))
			err = act_stop(ctx, r);
	}
	if (err) {
		fail(ctx, err);
		return;
	}
	s->n += CHUNK;
	if (s->n > cfg.warm && (s->n - cfg.warm >= cfg.n || now_ns() - s->t0 >= WINDOW_NS)) {
		R->value = (double)(s->n - cfg.warm) * 1e9 / (double)(now_ns() - s->t0);
		atomic_store(&R->done, 1);
		act_shutdown(ctx);
		return;
	}
	if ((err = act_send(ctx, act_self(ctx), &kick_type, &(kick){ 0 })))
		fail(ctx, err);
}

static void send_kick(act_ctx *ctx, void *state, const void *m)
{
	int err = act_send(ctx, act_self(ctx), &kick_type, &(kick){ 0 });
	if (err)
		fail(ctx, err);
}

static const act_handler rate_h[] = { { &act_start_type, send_kick }, { &kick_type, rate_kick } };
static const act_behaviour rate_b = {
	.name = "dyn-rate", .state_size = sizeof(struct spawner), .handlers = rate_h,
	.n_handlers = 2,
};

/* ---- filling a group with idle actors (idle bytes, 1m-actor rate) ---------------- */

/* Spawns the next chunk of cfg.n_idle idle actors; true once all are there. */
static bool fill_chunk(act_ctx *ctx, long *n)
{
	act_ref r;
	int err;

	for (int i = 0; i < CHUNK && *n < cfg.n_idle; i++, (*n)++)
		if ((err = act_spawn(ctx, NULL, "dyn-idle", NULL, NULL, &r))) {
			fail(ctx, err);
			return false;
		}
	if (*n < cfg.n_idle && (err = act_send(ctx, act_self(ctx), &kick_type, &(kick){ 0 })))
		fail(ctx, err);
	return *n >= cfg.n_idle;
}

struct filler { long n; };

static void bytes_start(act_ctx *ctx, void *state, const void *m)
{
	R->rss0_kib = rss_kib();
	send_kick(ctx, state, m);
}

static void bytes_kick(act_ctx *ctx, void *state, const void *m)
{
	struct filler *f = state;

	if (!fill_chunk(ctx, &f->n))
		return;
	R->rss1_kib = rss_kib();
	if (R->rss0_kib < 0 || R->rss1_kib < 0) {
		fail(ctx, -EPROTO);
		return;
	}
	R->value = (double)(R->rss1_kib - R->rss0_kib) * 1024.0 / (double)f->n - STATE_BYTES;
	atomic_store(&R->done, 1);
	act_shutdown(ctx);
}

static const act_handler bytes_h[] = { { &act_start_type, bytes_start },
                                       { &kick_type, bytes_kick } };
static const act_behaviour bytes_b = {
	.name = "dyn-bytes", .state_size = sizeof(struct filler), .handlers = bytes_h,
	.n_handlers = 2,
};

/* ---- intragroup with many idle actors ---------------------------------------------- */

/* Both hop handlers count, as in bench-core's intragroup_rate. */
static uint64_t hop_count, hop_t0_ns;

static bool hop_counted(act_ctx *ctx)
{
	uint64_t n = ++hop_count;

	if (atomic_load_explicit(&R->done, memory_order_relaxed))
		return false;
	if (n == (uint64_t)cfg.warm) {
		hop_t0_ns = now_ns();
	} else if (n > (uint64_t)cfg.warm && (n - (uint64_t)cfg.warm) % HOP_CHUNK == 0) {
		uint64_t dt = now_ns() - hop_t0_ns;
		if (n - (uint64_t)cfg.warm >= (uint64_t)cfg.n || dt >= WINDOW_NS) {
			R->value = (double)(n - (uint64_t)cfg.warm) * 1e9 / (double)dt;
			atomic_store(&R->done, 1);
			act_shutdown(ctx);
			return false;
		}
	}
	return true;
}

/* The spawned end: sends every hop back to whoever sent it. */
static void partner_hop(act_ctx *ctx, void *state, const void *m)
{
	int err;

	if (hop_counted(ctx) && (err = act_send(ctx, act_sender(ctx), &hop_type, m)))
		fail(ctx, err);
}

static const act_handler partner_h[] = { { &hop_type, partner_hop } };
static const act_behaviour partner_b = {
	.name = "dyn-partner", .state_size = STATE_BYTES, .handlers = partner_h, .n_handlers = 1,
};

struct hopper { long n; act_ref partner; };

static void hopper_kick(act_ctx *ctx, void *state, const void *m)
{
	struct hopper *h = state;
	int err = 0;

	if (!fill_chunk(ctx, &h->n))
		return;
	/* The partner is spawned last: the highest slot of the group. */
	if ((err = act_spawn(ctx, NULL, "dyn-partner", NULL, NULL, &h->partner))) {
		fail(ctx, err);
		return;
	}
	for (int i = 0; i < 64 && !err; i++)
		err = act_send(ctx, h->partner, &hop_type, &(hop){ (uint64_t)i });
	if (err)
		fail(ctx, err);
}

static void hopper_hop(act_ctx *ctx, void *state, const void *m)
{
	struct hopper *h = state;
	int err;

	if (hop_counted(ctx) && (err = act_send(ctx, h->partner, &hop_type, m)))
		fail(ctx, err);
}

static const act_handler hopper_h[] = { { &act_start_type, send_kick },
                                        { &kick_type, hopper_kick },
                                        { &hop_type, hopper_hop } };
static const act_behaviour hopper_b = {
	.name = "dyn-hopper", .state_size = sizeof(struct hopper), .handlers = hopper_h,
	.n_handlers = 3,
};

/* ---- restore ------------------------------------------------------------------------ */

/* The victim group's static actor: fills the group on its first start,
 * then spawns the probe and tells the driver. */
static void victim_start(act_ctx *ctx, void *state, const void *m)
{
	if (!((const act_start *)m)->restart)
		send_kick(ctx, state, m);
}

static void victim_kick(act_ctx *ctx, void *state, const void *m)
{
	struct filler *f = state;
	act_ref probe, driver;
	int err;

	if (!fill_chunk(ctx, &f->n))
		return;
	if ((err = act_spawn(ctx, NULL, "dyn-probe", "probe", NULL, &probe)) ||
	    (err = act_lookup(ctx, "driver", &driver)) ||
	    (err = act_send(ctx, driver, &ready_type,
	                    &(ready){ getpid(), probe.id, probe.gen })))
		fail(ctx, err);
}

static const act_handler victim_h[] = { { &act_start_type, victim_start },
                                        { &kick_type, victim_kick } };
static const act_behaviour victim_b = {
	.name = "dyn-victim", .state_size = sizeof(struct filler), .handlers = victim_h,
	.n_handlers = 2,
};

/* The figure ends here: the re-created probe has the envelope in hand. */
static void probe_ping(act_ctx *ctx, void *state, const void *m)
{
	R->handled_ns = now_ns();
	act_reply(ctx, &pong_type, m);
}

static const act_handler probe_h[] = { { &ping_type, probe_ping } };
static const act_behaviour probe_b = {
	.name = "dyn-probe", .state_size = STATE_BYTES, .handlers = probe_h, .n_handlers = 1,
};

static void driver_ready(act_ctx *ctx, void *state, const void *m)
{
	const ready *r = m;
	act_ref probe = { (uint32_t)r->probe_id, 0, (uint32_t)r->probe_gen };
	int err;

	R->kill_ns = now_ns();
	if (kill((pid_t)r->pid, SIGKILL) < 0) {
		fail(ctx, -errno);
		return;
	}
	/* Queued while the group is down: the restored probe handles it. */
	if ((err = act_send(ctx, probe, &ping_type, &(num){ 1 })))
		fail(ctx, err);
}

static void driver_pong(act_ctx *ctx, void *state, const void *m)
{
	R->value = (double)(R->handled_ns - R->kill_ns) / 1e6;
	atomic_store(&R->done, 1);
	act_shutdown(ctx);
}

static const act_handler driver_h[] = { { &ready_type, driver_ready },
                                        { &pong_type, driver_pong } };
static const act_behaviour driver_b = {
	.name = "dyn-driver", .handlers = driver_h, .n_handlers = 2,
};

/* ---- running a node ------------------------------------------------------------------ */

/*
 * Runs a node of one group "g" (room for cfg.n_idle + 16 spawned actors)
 * holding one static actor of behaviour b, plus, for the restore figure,
 * a second group with the driver.  0 if the measurement completed.
 */
static int run_node(const act_behaviour *b, bool restore)
{
	act_node_t *node = act_node_new("bench-dynamic");
	const act_behaviour *spawnable[] = { &child_b, &idle_b, &partner_b, &probe_b };
	int err = node ? 0 : -ENOMEM;

	memset(R, 0, sizeof *R);
	for (size_t i = 0; i < sizeof spawnable / sizeof *spawnable && !err; i++)
		err = act_node_add_behaviour(node, spawnable[i]);
	if (!err && restore && !(err = act_node_add_group(node, "drivers")))
		err = act_node_add_actor(node, "drivers", "driver", &driver_b, NULL);
	if (!err)
		err = act_node_add_group(node, "g");
	if (!err)
		err = act_node_add_actor(node, "g", "main", b, NULL);
	if (!err)
		err = act_node_set_max_spawned(node, "g", (uint32_t)cfg.n_idle + 16u);
	/* Spinning: the figures are about the runtime, not about wake-ups. */
	if (!err)
		err = act_node_set_spin_us(node, "g", restore ? 50 : 1000000);
	/* A loaded machine must not make filling or restoring a million look
	 * like a hang: a worker beats between ring batches, and a batch of
	 * 64 kicks is a million spawns. */
	if (!err)
		err = act_node_set_heartbeat(node, "g", 100, 120000);
	if (!err)
		err = act_node_set_backoff(node, 0, 1.0, 0, 0);
	if (!err) {
		act_node_add_type(node, &kick_type);
		act_node_add_type(node, &ready_type);
		act_node_add_type(node, &pong_type);
		fflush(NULL);
		err = act_node_run(node);
		if (err > 0)
			err = -ECHILD;
	}
	act_node_free(node);
	if (!err)
		err = atomic_load(&R->err);
	if (!err && !atomic_load(&R->done))
		err = -EIO;
	return err;
}

/* ---- bare references --------------------------------------------------------------- */

struct bare_obj { unsigned char rec[192]; void *state; };
static int bare_init(void *state) { ((unsigned char *)state)[0] = 1; return 0; }
static void bare_start(void *state) { ((unsigned char *)state)[1]++; }
static int (*volatile bare_init_fn)(void *) = bare_init;
static void (*volatile bare_start_fn)(void *) = bare_start;

static double bare_spawn_rate(long n)
{
	uint64_t t0 = now_ns();

	for (long i = 0; i < n; i++) {
		struct bare_obj *o = malloc(sizeof *o);
		if (!o || !(o->state = calloc(1, STATE_BYTES))) {
			free(o);
			return -ENOMEM;
		}
		memset(o->rec, 0, sizeof o->rec);
		snprintf((char *)o->rec, 64, "$1.%ld.1", i & 1023);
		if (!bare_init_fn(o->state))
			bare_start_fn(o->state);
		free(o->state);
		free(o);
	}
	return (double)n * 1e9 / (double)(now_ns() - t0);
}

/* Bytes per object beyond its state for n calloc(STATE_BYTES) kept in a
 * pointer array, measured in a child so this process stays small. */
static double bare_alloc_bytes(long n)
{
	double *out = bench_shm_alloc(sizeof *out);
	pid_t pid;
	int st;

	if (!out)
		return -ENOMEM;
	*out = -EIO;
	fflush(NULL);
	if ((pid = fork()) < 0)
		return -errno;
	if (pid == 0) {
		void **p = malloc((size_t)n * sizeof *p);
		long before = rss_kib();
		for (long i = 0; p && i < n; i++)
			if (!(p[i] = calloc(1, STATE_BYTES)))
				_exit(1);
		for (long i = 0; p && i < n; i++)
			p[i] = p[i]; /* the array's pages are written too */
		*out = (double)(rss_kib() - before) * 1024.0 / (double)n - STATE_BYTES;
		_exit(0);
	}
	waitpid(pid, &st, 0);
	double v = *out;
	bench_shm_free(out, sizeof *out);
	return v;
}

/* ---- figures -------------------------------------------------------------------------- */

static const char *const figures[] = {
	"spawn_rate", "actor_idle_bytes", "intragroup_rate", "intragroup_rate_1m_actors",
	"restore_1m_actors",
};
static char **only;
static int n_failed;

static int wanted(const char *name)
{
	if (!only || !*only)
		return 1;
	for (char **p = only; *p; p++)
		if (!strcmp(*p, name))
			return 1;
	return 0;
}

static long scaled(double scale, long n, long min)
{
	double v = (double)n * scale;
	return v < (double)min ? min : (long)v;
}

static double median_of(double *v, int n)
{
	double ok[REPS];
	int m = 0;

	for (int i = 0; i < n; i++)
		if (v[i] >= 0)
			ok[m++] = v[i];
	if (m == 0)
		return n ? v[0] : -EINVAL;
	return bench_percentile(ok, (size_t)m, 50);
}

static void print_runs(const char *what, const double *v, int n)
{
	printf("#   %-26s", what);
	for (int i = 0; i < n; i++) {
		printf(" ");
		bench_print_num(v[i]);
	}
	printf("\n");
}

static void report(const char *name, double v, const char *unit, double base)
{
	if (v < 0)
		fprintf(stderr, "bench-dynamic: %s failed: %s\n", name, strerror((int)-v));
	if (base < 0)
		fprintf(stderr, "bench-dynamic: baseline of %s failed: %s\n", name,
		        strerror((int)-base));
	n_failed += v < 0 || base < 0;
	bench_line(name, v, unit, base);
}

static void bench_spawn_rate(double scale)
{
	double rt[REPS], base[REPS];
	long n = scaled(scale, 10000000, 100000);

	if (!wanted("spawn_rate"))
		return;
	for (int i = 0; i < REPS; i++) {
		cfg = (struct cfg){ .n_idle = 0, .warm = CHUNK, .n = n };
		rt[i] = run_node(&rate_b, false);
		rt[i] = rt[i] < 0 ? rt[i] : R->value;
		base[i] = bare_spawn_rate(n);
	}
	printf("# spawn_rate: act_spawn + Start + act_stop in the caller's group, at most "
	       "%ld a run or ~1 s\n", n);
	print_runs("runtime runs (/s):", rt, REPS);
	print_runs("bare_spawn_rate runs:", base, REPS);
	report("spawn_rate", median_of(rt, REPS), "spawns/s", median_of(base, REPS));
}

static void bench_idle_bytes(long n_idle)
{
	double v, base;

	if (!wanted("actor_idle_bytes"))
		return;
	cfg = (struct cfg){ .n_idle = n_idle };
	v = run_node(&bytes_b, false);
	if (v >= 0) {
		v = R->value;
		printf("# actor_idle_bytes: %ld idle actors (state %d B): worker VmRSS %ld -> "
		       "%ld kB\n", n_idle, STATE_BYTES, R->rss0_kib, R->rss1_kib);
	}
	base = bare_alloc_bytes(n_idle);
	report("actor_idle_bytes", v, "B", base);
}

static void bench_intragroup(double scale, long n_idle)
{
	double small[REPS], big[REPS];
	long n = scaled(scale, 50000000, 1000000);
	bool w_small = wanted("intragroup_rate"), w_big = wanted("intragroup_rate_1m_actors");

	if (!w_small && !w_big)
		return;
	for (int i = 0; i < REPS; i++) {
		/* 8 idle + the static hopper + its spawned partner = 10 actors. */
		cfg = (struct cfg){ .n_idle = 8, .warm = n / 10, .n = n };
		hop_count = 0;
		small[i] = run_node(&hopper_b, false);
		small[i] = small[i] < 0 ? small[i] : R->value;
		cfg = (struct cfg){ .n_idle = n_idle, .warm = n / 10, .n = n };
		big[i] = run_node(&hopper_b, false);
		big[i] = big[i] < 0 ? big[i] : R->value;
	}
	printf("# intragroup: a static actor and a spawned one, 64 hops in flight, in a group "
	       "of 10 actors / of %ld idle spawned actors more\n", n_idle);
	print_runs("10 actors runs (/s):", small, REPS);
	print_runs("many actors runs (/s):", big, REPS);
	double vs = median_of(small, REPS);
	if (w_small)
		report("intragroup_rate", vs, "msgs/s", vs);
	if (w_big)
		report("intragroup_rate_1m_actors", median_of(big, REPS), "msgs/s", vs);
}

static void bench_restore(long n_idle)
{
	double v, f50, f99;

	if (!wanted("restore_1m_actors"))
		return;
	cfg = (struct cfg){ .n_idle = n_idle };
	v = run_node(&victim_b, true);
	if (v >= 0)
		v = R->value;
	f50 = bare_fork_ready_us(100, &f99);
	printf("# restore_1m_actors: SIGKILL of a group of %ld permanent spawned actors -> "
	       "all back and a queued envelope handled; baseline: bare fork readiness p50 "
	       "(p99 %.3f ms)\n", n_idle + 1, f99 / 1e3);
	report("restore_1m_actors", v, "ms", f50 < 0 ? f50 : f50 / 1e3);
}

int main(int argc, char **argv)
{
	double scale = 1.0, load = -1;
	char *end;
	FILE *f;

	bench_handle_ready_child(argc, argv);
	if (argc >= 2 && ((scale = strtod(argv[1], &end)) <= 0 || *end || end == argv[1])) {
		fprintf(stderr, "usage: %s [SCALE [FIGURE...]]\n", argv[0]);
		return 2;
	}
	only = argc > 2 ? argv + 2 : NULL;
	for (char **p = only; p && *p; p++) {
		size_t k = 0;
		while (k < sizeof figures / sizeof *figures && strcmp(figures[k], *p))
			k++;
		if (k == sizeof figures / sizeof *figures) {
			fprintf(stderr, "%s: unknown figure '%s'\n", argv[0], *p);
			return 2;
		}
	}
	setenv("ACTORS_LOG_LEVEL", "warn", 0);
	alarm(ALARM_S);
	if (!(R = bench_shm_alloc(sizeof *R))) {
		fprintf(stderr, "bench-dynamic: cannot map the result area\n");
		return 1;
	}
	if ((f = fopen("/proc/loadavg", "re"))) {
		if (fscanf(f, "%lf", &load) != 1)
			load = -1;
		fclose(f);
	}
	long n_idle = scaled(scale, 1048576, 1000);
	printf("# bench-dynamic %s: %d cpus; scale %g (N = %ld); load average %.2f\n",
	       act_version(), bench_ncpus(), scale, n_idle, load);
	bench_idle_bytes(n_idle);
	bench_spawn_rate(scale);
	bench_intragroup(scale, n_idle);
	bench_restore(n_idle);
	return n_failed ? 1 : 0;
}
