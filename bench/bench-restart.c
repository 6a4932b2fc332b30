/* SPDX-License-Identifier: MIT */
/*
 * bench-restart - how fast a crashed group is serving again, and whether
 * crashes disturb the healthy groups.
 *
 *   restart_p50/p99            SIGKILL of a worker -> its replacement has
 *                              handled a message (the prefork; quick_reap
 *                              on, the default: the dead worker's address
 *                              space is torn down after its death is seen,
 *                              src/worker.c)
 *   restart_standby_p50/p99    the same with a hot standby taking over
 *   restart_noquick_*, restart_standby_noquick_*
 *                              the same two with quick_reap false: the
 *                              death is seen after the teardown
 *   isolation_rate             msgs/s between two healthy groups while a
 *                              third crashes 10 times a second, beside the
 *                              rate without crashes measured in the same run
 * Baselines, measured in the same run: a bare fork readiness round trip and
 * a bare fork+exec readiness round trip (bench/baseline.c).
 */
#include "config.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <actors.h>

#include "baseline.h"
#include "bench-util.h"
#include "clock.h"
#include "log.h"
#include "phase.h"
#include "../t/harness.h"

#define MAX_ROUNDS 4096

typedef struct { int64_t v; } num_t;
ACT_MESSAGE_TYPE(ping_type, num_t, "Ping", ACT_FIELD(num_t, v, ACT_I64));
ACT_MESSAGE_TYPE(pong_type, num_t, "Pong", ACT_FIELD(num_t, v, ACT_I64));

struct area {
	_Atomic int rounds;
	_Atomic uint64_t handled_ns;  /* when the victim handled its last Ping */
	_Atomic int done;
	double us[MAX_ROUNDS];
	/* Phase stamps of the restart under way (phase.h), and each round's
	 * copy, in us after the kill (0: the phase was not seen in time). */
	_Atomic uint64_t stamps[ACT__PH_N];
	float phase_us[MAX_ROUNDS][ACT__PH_N];
	/* isolation */
	_Atomic uint64_t received;
	_Atomic int crashes;
};
static struct area *A;
static int n_rounds = 300;

/* ---- restart latency ----------------------------------------------------------- */

static void victim_ping(act_ctx *ctx, void *st, const void *m)
{
	/* The figure ends here: the replacement has the message in hand.
	 * (The driver's own wake-up to read the answer is not restart time.) */
	A->handled_ns = act__now_ns();
	num_t r = { getpid() };
	act_reply(ctx, &pong_type, &r);
}

struct driver { act_ref victim; pid_t killed; uint64_t t0; int round; };

static void driver_start(act_ctx *ctx, void *st, const void *m)
{
	struct driver *d = st;
	num_t p = { 0 };
	act_lookup(ctx, "victim", &d->victim);
	act_send(ctx, d->victim, &ping_type, &p);
}

static void driver_pong(act_ctx *ctx, void *st, const void *m)
{
	struct driver *d = st;
	pid_t pid = (pid_t)((const num_t *)m)->v;
	num_t p = { 0 };

	if (d->killed) {
		if (pid == d->killed) {
			/* The dying worker answered before SIGKILL landed: ask again. */
			act_send(ctx, d->victim, &ping_type, &p);
			return;
		}
		for (int k = 0; k < ACT__PH_N; k++) {
			uint64_t t = k == ACT__PH_HANDLED ? A->handled_ns : A->stamps[k];
			A->phase_us[d->round][k] = t >= d->t0 ? (float)((double)(t - d->t0) / 1e3) : 0;
		}
		A->us[d->round++] = (double)(A->handled_ns - d->t0) / 1e3;
	}
	if (d->round >= n_rounds) {
		A->rounds = d->round;
		act_shutdown(ctx);
		return;
	}
	/* Kill a moment later: the victim replied from inside its handler and
	 * releases the Ping only when the handler returns (killing it before
	 * that would, rightly, redeliver the Ping), and a hot standby is
	 * forked only once its group has settled (1 ms). */
	d->killed = pid;
	act_timer_once(ctx, 3, 1);
}

static void driver_timeout(act_ctx *ctx, void *st, const void *m)
{
	struct driver *d = st;
	num_t p = { 0 };
	for (int k = 0; k < ACT__PH_N; k++)
		A->stamps[k] = 0;
	d->t0 = act__now_ns();
	A->stamps[ACT__PH_KILL] = d->t0;
	kill(d->killed, SIGKILL);
	act_send(ctx, d->victim, &ping_type, &p);
}

static const act_handler victim_h[] = { { &ping_type, victim_ping } };
static const act_behaviour victim_b = { .name = "victim", .handlers = victim_h, .n_handlers = 1 };
static const act_handler driver_h[] = { { &act_start_type, driver_start },
                                        { &pong_type, driver_pong },
                                        { &act_timeout_type, driver_timeout } };
static const act_behaviour driver_b = {
	.name = "driver", .state_size = sizeof(struct driver), .handlers = driver_h, .n_handlers = 3,
};

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/*
 * The floor under any restart: from kill() of an idle process to a third,
 * sleeping process being woken by its pidfd, with idle_ms of idleness
 * before (as in the restart runs).  Returns the p50 in microseconds.
 */
static double bare_death_notice_us(int idle_ms, int rounds)
{
	double v[64];
	if (rounds > 64)
		rounds = 64;
	for (int i = 0; i < rounds; i++) {
		pid_t b = fork();
		if (b == 0)
			for (;;)
				pause();
		int pfd = (int)syscall(SYS_pidfd_open, b, 0);
		pid_t c = fork();
		if (c == 0) {
			struct pollfd p = { pfd, POLLIN, 0 };
			poll(&p, 1, 5000);
			A->handled_ns = act__now_ns();
			_exit(0);
		}
		usleep((useconds_t)idle_ms * 1000u);
		uint64_t t0 = act__now_ns();
		kill(b, SIGKILL);
		waitpid(c, NULL, 0);
		waitpid(b, NULL, 0);
		close(pfd);
		v[i] = (double)(A->handled_ns - t0) / 1e3;
	}
	qsort(v, (size_t)rounds, sizeof v[0], cmp_d);
	return v[rounds / 2];
}

static int cmp_f(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

/*
 * Prints the p50 of each phase of the last run's restarts, in us after
 * the kill, so that a figure that moved says where (phase.h names them).
 */
static void print_phases(const char *what)
{
	static const char *const names[ACT__PH_N] = {
		[ACT__PH_KILL] = "kill", [ACT__PH_PIDFD] = "pidfd", [ACT__PH_REAPED] = "reaped",
		[ACT__PH_SPAWN_REQ] = "request", [ACT__PH_ZYGOTE] = "zygote",
		[ACT__PH_CHILD] = "forked", [ACT__PH_ASSIGNED] = "assigned",
		[ACT__PH_ADOPTED] = "adopted",
		[ACT__PH_SPAWN_REP] = "answer", [ACT__PH_SETUP] = "setup",
		[ACT__PH_STANDBY_WAKE] = "standby_woke", [ACT__PH_STANDBY_GO] = "standby_go", [ACT__PH_STARTED] = "started",
		[ACT__PH_READY_SEEN] = "ready_seen", [ACT__PH_HANDLED] = "handled",
	};
	static float v[MAX_ROUNDS];
	printf("# %s phases, p50 us after kill:", what);
	for (int k = 1; k < ACT__PH_N; k++) {
		int m = 0;
		for (int r = 0; r < A->rounds; r++)
			if (A->phase_us[r][k] > 0)
				v[m++] = A->phase_us[r][k];
		if (m < A->rounds / 2)
			continue; /* not a phase of this kind of restart */
		qsort(v, (size_t)m, sizeof v[0], cmp_f);
		printf(" %s %.0f", names[k], (double)v[m / 2]);
	}
	printf("\n");
}

/* quick: the groups with quick_reap (worker.c: the dead worker's address
 * space is torn down after its death is seen, not before), the default. */
static int restart_run(bool standby, bool quick, double *p50, double *p99)
{
	char what[64];

	memset(A, 0, sizeof *A);
	act_node_t *n = act_node_new("restart");
	act_node_add_group(n, "drivers");
	act_node_add_group(n, "victims");
	act_node_add_actor(n, "drivers", "driver", &driver_b, NULL);
	act_node_add_actor(n, "victims", "victim", &victim_b, NULL);
	act_node_add_type(n, &pong_type);
	/* Crashes on purpose, back to back: no intensity limit, no backoff. */
	act_node_set_intensity(n, 50, 10);
	act_node_set_backoff(n, 0, 1.0, 0, 0);
	act_node_set_hot_standby(n, "victims", standby);
	act_node_set_quick_reap(n, "victims", quick);
	act_node_set_quick_reap(n, "drivers", quick); /* the prefork's holder: as before */
	int rc = act_node_run(n);
	act_node_free(n);
	if (rc || A->rounds < 10)
		return -1;
	snprintf(what, sizeof what, "restart%s%s", standby ? "_standby" : "", quick ? "" : "_noquick");
	print_phases(what);
	qsort(A->us, (size_t)A->rounds, sizeof A->us[0], cmp_d);
	*p50 = A->us[A->rounds / 2];
	*p99 = A->us[(A->rounds * 99) / 100];
	return 0;
}

/* ---- isolation ------------------------------------------------------------------ */

static volatile int window_ms = 1500;

struct prod { act_ref to; };

static void prod_pump(act_ctx *ctx, struct prod *p)
{
	num_t m = { 1 };
	for (int i = 0; i < 20000; i++)
		if (act_send(ctx, p->to, &ping_type, &m))
			break;
	act_timer_once(ctx, 0, 1);
}

static void prod_start(act_ctx *ctx, void *st, const void *m)
{
	struct prod *p = st;
	act_lookup(ctx, "sink", &p->to);
	prod_pump(ctx, p);
	act_timer_once(ctx, (uint64_t)window_ms + 200, 2);
}

static void prod_timeout(act_ctx *ctx, void *st, const void *m)
{
	if (((const act_timeout *)m)->id == 2) {
		act_shutdown(ctx);
		return;
	}
	prod_pump(ctx, st);
}

struct sink { uint64_t first_ns, n; bool reported; };

static void sink_ping(act_ctx *ctx, void *st, const void *m)
{
	struct sink *s = st;
	uint64_t now;
	if (s->reported)
		return;
	if (!s->first_ns) {
		s->first_ns = act__now_ns();
		return;
	}
	s->n++;
	if ((s->n & 1023) == 0) {
		now = act__now_ns();
		if (now - s->first_ns >= (uint64_t)window_ms * 1000000u) {
			A->received = (uint64_t)((double)s->n * 1e9 / (double)(now - s->first_ns));
			s->reported = true;
		}
	}
}

static void crasher_start(act_ctx *ctx, void *st, const void *m)
{
	act_timer_once(ctx, 100, 1);
}

static void crasher_timeout(act_ctx *ctx, void *st, const void *m)
{
	A->crashes++;
	raise(SIGKILL);
}

static const act_handler prod_h[] = { { &act_start_type, prod_start }, { &act_timeout_type, prod_timeout } };
static const act_behaviour prod_b = {
	.name = "prod", .state_size = sizeof(struct prod), .handlers = prod_h, .n_handlers = 2,
};
static const act_handler sink_h[] = { { &ping_type, sink_ping } };
static const act_behaviour sink_b = {
	.name = "sink", .state_size = sizeof(struct sink), .handlers = sink_h, .n_handlers = 1,
};
static const act_handler crasher_h[] = { { &act_start_type, crasher_start },
                                         { &act_timeout_type, crasher_timeout } };
static const act_behaviour crasher_b = { .name = "crasher", .handlers = crasher_h, .n_handlers = 2 };

static double isolation_run(bool crash)
{
	memset(A, 0, sizeof *A);
	act_node_t *n = act_node_new("isolation");
	act_node_add_group(n, "producers");
	act_node_add_group(n, "sinks");
	act_node_add_actor(n, "producers", "prod", &prod_b, NULL);
	act_node_add_actor(n, "sinks", "sink", &sink_b, NULL);
	if (crash) {
		act_node_add_group(n, "crashers");
		act_node_add_actor(n, "crashers", "crasher", &crasher_b, NULL);
	}
	act_node_set_intensity(n, 50, 10);
	act_node_set_backoff(n, 0, 1.0, 0, 0);
	int rc = act_node_run(n);
	act_node_free(n);
	return rc ? -1 : (double)A->received;
}

int main(int argc, char **argv)
{
	double fork50, fork99, exec50, exec99, p50, p99, s50, s99;

	bench_handle_ready_child(argc, argv);
	if (argc > 1)
		n_rounds = atoi(argv[1]) > 0 && atoi(argv[1]) <= MAX_ROUNDS ? atoi(argv[1]) : n_rounds;
	/* A restart logs lines: keep the output readable (BENCH_LOG=1 shows them). */
	act__log_level = getenv("BENCH_LOG") ? ACT_LOG_DEBUG : ACT_LOG_ERR;
	A = shared_area(sizeof *A);
	act__phase_ns = A->stamps;
	bench_print_machine("bench-restart");

	fork50 = bare_fork_ready_us(300, &fork99);
	/* The fork+exec baseline execs a small libc-only program (bench/
	 * baseline-main) when it is there: this binary links libzmq and
	 * friends, and exec'ing it measures the dynamic loader, not a restart. */
	char small[4096];
	const char *slash = strrchr(argv[0], '/');
	snprintf(small, sizeof small, "%.*sbaseline-main", slash ? (int)(slash - argv[0] + 1) : 0,
	         argv[0]);
	if (access(small, X_OK) == 0) {
		exec50 = bare_exec_ready_us(small, 200, &exec99);
	} else {
		exec50 = bare_forkexec_ready_us(200, &exec99);
		snprintf(small, sizeof small, "itself");
	}
	printf("# %d crashes per run; baselines: fork ready p50 %.1f us p99 %.1f us, "
	       "fork+exec ready of %s p50 %.1f us p99 %.1f us\n", n_rounds, fork50, fork99,
	       small, exec50, exec99);
	double floor50 = bare_death_notice_us(3, 40);
	printf("# floor: kill() -> a sleeping watcher woken by the pidfd, p50 %.1f us "
	       "(after 3 ms idle, as between our crashes)\n", floor50);

	/* quick_reap on (the default) first: those are the figures */
	for (int quick = 1; quick >= 0; quick--) {
		const char *q = quick ? "" : "_noquick";
		char name[64];
		if (restart_run(false, quick, &p50, &p99) == 0) {
			snprintf(name, sizeof name, "restart%s_p50", q);
			bench_line(name, p50, "us", exec50);
			snprintf(name, sizeof name, "restart%s_p99", q);
			bench_line(name, p99, "us", exec99);
			printf("# restart%s_p50 vs bare fork round: ratio %.2f\n", q, p50 / fork50);
		} else {
			printf("# restart%s run failed\n", q);
		}
		if (restart_run(true, quick, &s50, &s99) == 0) {
			snprintf(name, sizeof name, "restart_standby%s_p50", q);
			bench_line(name, s50, "us", fork50);
			snprintf(name, sizeof name, "restart_standby%s_p99", q);
			bench_line(name, s99, "us", fork99);
			printf("# restart_standby%s_p50 vs the floor: floor + %.0f us\n", q, s50 - floor50);
		} else {
			printf("# standby%s restart run failed\n", q);
		}
	}
	double calm = isolation_run(false), stormy = isolation_run(true);
	if (calm > 0 && stormy > 0) {
		printf("# isolation: %d crashes of a third group during the stormy window\n", A->crashes);
		bench_line("isolation_rate", stormy, "msgs/s", calm);
	} else {
		printf("# isolation run failed\n");
	}
	return 0;
}
