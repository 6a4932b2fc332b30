/* SPDX-License-Identifier: MIT */
/*
 * bench-gateway - the ZeroMQ gateway against bare libzmq, in one run.
 *
 *   gateway_ingress     Ping envelopes/s from an external PUSH client to a
 *                       C actor that counts them (frame checked, routed
 *                       through the supervisor, decoded in the worker)
 *                       beside a bare PULL receiver that parses each frame
 *                       with cJSON
 *   gateway_remote_rtt  a C client's Ping -> our pong -> Pong round trip
 *                       over tcp loopback, beside a bare PUSH/PULL echo
 * Every client runs in its own forked process with its own ZeroMQ context.
 *
 * Beside the rates, per message: doorbells rung (the supervisor's
 * included), eventfd wake-ups, sleeps and yields of the node, and as
 * gateway_ingress_instr the user-space instructions per frame of the
 * supervisor's thread (the gateway: receive, check, route) beside those
 * of the bare receiver's thread (receive, cJSON parse): both are
 * independent of CPU sharing, unlike the rates.
 *
 * Usage: bench-gateway [N_INGRESS].  BENCH_ONLY=ingress or BENCH_ONLY=rtt
 * runs only our side of one figure (no baseline), e.g. under strace -c or
 * perf record.
 */
#include "config.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zmq.h>

#include <actors.h>

#include "bench-util.h"
#include "clock.h"
#include "log.h"
#include "perfcount.h"
#include "../t/harness.h"

typedef struct { int64_t count; } ping_t;
ACT_MESSAGE_TYPE(ping_type, ping_t, "Ping", ACT_FIELD(ping_t, count, ACT_I64));
ACT_MESSAGE_TYPE(pong_type, ping_t, "Pong", ACT_FIELD(ping_t, count, ACT_I64));

struct area {
	_Atomic uint64_t t0, t1;
	_Atomic int64_t got;
	_Atomic int client_done;
	double rtt_ns;
	struct act__perf perf0, perf1; /* the node's wake-up counters, ingress or rtt */
};
static struct area *A;
static long n_ingress = 200000, n_rtt = 5000;
static char node_ep[64], client_ep[64];

static int free_port(void)
{
	/* Let the kernel pick a port, then release it for the real bind. */
	void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PULL);
	char ep[64];
	size_t len = sizeof ep;
	int port = -1;
	if (zmq_bind(s, "tcp://127.0.0.1:*") == 0 &&
	    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len) == 0)
		port = atoi(strrchr(ep, ':') + 1);
	zmq_close(s);
	zmq_ctx_term(ctx);
	return port;
}

static int envelope(char *buf, size_t cap, const char *recv, long count)
{
	return snprintf(buf, cap, "{\"sender_actor\":\"client\",\"sender_endpoint\":\"%s\","
	                "\"receiver\":\"%s\",\"message_type\":\"Ping\",\"message\":{\"count\":%ld}}",
	                client_ep, recv, count);
}

/* ---- clients (forked processes) --------------------------------------------------- */

static void stream_client(const char *to, long n)
{
	void *ctx = zmq_ctx_new(), *push = zmq_socket(ctx, ZMQ_PUSH);
	int hwm = 100000;
	char buf[256];
	zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof hwm);
	zmq_connect(push, to);
	/* One envelope first, and the clock starts only once it arrived: the
	 * receiver's start-up is not part of the rate. */
	int l0 = envelope(buf, sizeof buf, "counter", 0);
	zmq_send(push, buf, (size_t)l0, 0);
	while (A->got < 1)
		usleep(100);
	A->t0 = act__now_ns();
	for (long i = 1; i <= n; i++) {
		int len = envelope(buf, sizeof buf, "counter", i);
		if (zmq_send(push, buf, (size_t)len, 0) < 0)
			_exit(1);
	}
	zmq_close(push);
	zmq_ctx_term(ctx);
	A->client_done = 1;
	_exit(0);
}

/* Ping-pong client: `to` answers on client_ep. */
static void rtt_client(const char *to, long n)
{
	void *ctx = zmq_ctx_new(), *push = zmq_socket(ctx, ZMQ_PUSH), *pull = zmq_socket(ctx, ZMQ_PULL);
	char buf[512];
	uint64_t t0 = 0;
	if (zmq_bind(pull, client_ep) < 0 || zmq_connect(push, to) < 0)
		_exit(1);
	for (long i = -200; i <= n; i++) { /* 200 warm-up rounds */
		if (i == 1)
			t0 = act__now_ns();
		int len = envelope(buf, sizeof buf, "pong", i);
		if (zmq_send(push, buf, (size_t)len, 0) < 0 || zmq_recv(pull, buf, sizeof buf, 0) < 0)
			_exit(1);
	}
	A->rtt_ns = (double)(act__now_ns() - t0) / (double)n;
	A->client_done = 1;
	zmq_close(push);
	zmq_close(pull);
	zmq_ctx_term(ctx);
	_exit(0);
}

/* ---- the bare baselines ------------------------------------------------------------ */

static double bare_ingress(double *instr_per_frame)
{
	void *ctx = zmq_ctx_new(), *pull = zmq_socket(ctx, ZMQ_PULL);
	int hwm = 100000;
	char buf[512];
	zmq_setsockopt(pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
	if (zmq_bind(pull, node_ep) < 0)
		return -1;
	pid_t c = fork();
	if (c == 0)
		stream_client(node_ep, n_ingress);
	int ic = bench_icount_open();
	for (long i = 0; i <= n_ingress; i++) {
		int len = zmq_recv(pull, buf, sizeof buf - 1, 0);
		if (len < 0)
			break;
		cJSON *o = cJSON_ParseWithLength(buf, (size_t)len);
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message");
		if (!cJSON_GetObjectItemCaseSensitive(m, "count"))
			i--;
		cJSON_Delete(o);
		A->got = i + 1;
	}
	uint64_t t1 = act__now_ns();
	double instr = bench_icount_read(ic);
	*instr_per_frame = instr >= 0 ? instr / (double)(n_ingress + 1) : -1;
	if (ic >= 0)
		close(ic);
	waitpid(c, NULL, 0);
	zmq_close(pull);
	zmq_ctx_term(ctx);
	return (double)n_ingress * 1e9 / (double)(t1 - A->t0);
}

static double bare_rtt(void)
{
	void *ctx = zmq_ctx_new(), *pull = zmq_socket(ctx, ZMQ_PULL), *push = zmq_socket(ctx, ZMQ_PUSH);
	char buf[512];
	if (zmq_bind(pull, node_ep) < 0 || zmq_connect(push, client_ep) < 0)
		return -1;
	pid_t c = fork();
	if (c == 0)
		rtt_client(node_ep, n_rtt);
	for (long i = -200; i <= n_rtt; i++) {
		int len = zmq_recv(pull, buf, sizeof buf, 0);
		if (len < 0 || zmq_send(push, buf, (size_t)len, 0) < 0)
			break;
	}
	int st;
	waitpid(c, &st, 0);
	zmq_close(pull);
	zmq_close(push);
	zmq_ctx_term(ctx);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? A->rtt_ns : -1;
}

/* ---- the node ------------------------------------------------------------------------ */

static void counter_ping(act_ctx *ctx, void *st, const void *m)
{
	int64_t got = ++A->got;
	if (got == 1)
		act__perf_read(ctx, &A->perf0);
	if (got == n_ingress + 1) {
		A->t1 = act__now_ns();
		act__perf_read(ctx, &A->perf1);
		act_shutdown(ctx);
	}
}

static void pong_ping(act_ctx *ctx, void *st, const void *m)
{
	ping_t r = { ((const ping_t *)m)->count };
	if (r.count == 1)
		act__perf_read(ctx, &A->perf0);
	act_reply(ctx, &pong_type, &r);
	if (r.count == n_rtt) {
		act__perf_read(ctx, &A->perf1);
		act_shutdown(ctx);
	}
}

static const act_handler counter_h[] = { { &ping_type, counter_ping } };
static const act_behaviour counter_b = { .name = "counter", .handlers = counter_h, .n_handlers = 1 };
static const act_handler pong_h[] = { { &ping_type, pong_ping } };
static const act_behaviour pong_b = { .name = "pong", .handlers = pong_h, .n_handlers = 1 };

/* Runs the node with actor as its only remote actor; the supervisor's
 * thread (this one) counts its instructions into *instr (-1: no counter). */
static int run_node(const char *actor, const act_behaviour *b, bool ingress, double *instr)
{
	act_node_t *n = act_node_new("gwbench");
	act_node_add_group(n, "g");
	act_node_add_actor(n, "g", actor, b, NULL);
	act_node_add_type(n, &pong_type);
	act_node_set_remote(n, actor, true);
	act_node_set_endpoint(n, node_ep, NULL);
	act_node_set_ring_bytes(n, "g", 4u << 20);
	pid_t c = fork();
	if (c == 0) {
		if (ingress)
			stream_client(node_ep, n_ingress);
		rtt_client(node_ep, n_rtt);
	}
	int ic = bench_icount_open();
	int rc = act_node_run(n);
	*instr = bench_icount_read(ic);
	if (ic >= 0)
		close(ic);
	act_node_free(n);
	/* The node's supervisor (this process) reaps stray children itself,
	 * so the client reports through the shared area, not its status. */
	waitpid(c, NULL, 0);
	return rc == 0 && A->client_done ? 0 : -1;
}

/* Per message, from the node's counters in A (perf0 -> perf1), over n. */
static struct bench_counts counts(long n)
{
	struct act__perf d;

	act__perf_diff(&A->perf0, &A->perf1, &d);
	return (struct bench_counts){ (double)d.n_notifies / n, (double)d.n_wakeups / n,
	                              (double)d.n_sleeps / n, (double)d.n_yields / n };
}

int main(int argc, char **argv)
{
	const char *only = getenv("BENCH_ONLY");
	double instr, bare_instr = -1;

	if (argc > 1)
		n_ingress = atol(argv[1]) > 0 ? atol(argv[1]) : n_ingress;
	act__log_level = getenv("BENCH_LOG") ? ACT_LOG_INFO : ACT_LOG_ERR;
	A = shared_area(sizeof *A);
	bench_print_machine("bench-gateway");
	snprintf(node_ep, sizeof node_ep, "tcp://127.0.0.1:%d", free_port());
	snprintf(client_ep, sizeof client_ep, "tcp://127.0.0.1:%d", free_port());

	if (!only || !strcmp(only, "ingress")) {
		double bare_in = only ? -1 : bare_ingress(&bare_instr);
		memset(A, 0, sizeof *A);
		double ours_in = -1;
		if (run_node("counter", &counter_b, true, &instr) == 0 && A->t1 > A->t0)
			ours_in = (double)n_ingress * 1e9 / (double)(A->t1 - A->t0);
		/* Per frame into the worker, the supervisor's doorbells included. */
		struct bench_counts c = counts(n_ingress);
		bench_line_counts("gateway_ingress", ours_in, "msgs/s", bare_in, ours_in > 0 ? &c : NULL);
		/* The supervisor's whole run (start-up and stop included) over
		 * the frames: at 200000 frames the start-up is below 1 %. */
		if (instr >= 0)
			bench_line("gateway_ingress_instr", instr / (double)(n_ingress + 1),
			           "instr/frame", bare_instr);
		else
			printf("# bench-gateway: gateway_ingress_instr: no instruction counter here "
			       "(no PMU, or perf_event_paranoid); valgrind --tool=callgrind gives it\n");
	}
	if (!only || !strcmp(only, "rtt")) {
		memset(A, 0, sizeof *A);
		double bare_r = only ? -1 : bare_rtt();
		memset(A, 0, sizeof *A);
		double ours_r = run_node("pong", &pong_b, false, &instr) == 0 ? A->rtt_ns : -1;
		/* Per round trip: the Ping in, the Pong out. */
		struct bench_counts c = counts(n_rtt - 1);
		bench_line_counts("gateway_remote_rtt", ours_r, "ns", bare_r, ours_r > 0 ? &c : NULL);
	}
	return 0;
}
