/* SPDX-License-Identifier: MIT */
/*
 * bench-remote - across machines (issue 13), ratios in one run:
 *
 *   remote_ask_rtt            act_ask() of a remote echo peer, completed in
 *                             the asking actor, per round trip; beside the
 *                             bare libzmq PUSH/PULL echo
 *   gateway_remote_rtt        an external client's Ping -> our pong -> Pong,
 *                             beside the same bare echo
 *   gateway_remote_rtt_curve  the same with CURVE on our endpoint and on the
 *                             client's, beside a bare echo with CURVE on
 *                             both sockets
 *   gateway_ingress_peers_N   N = 1, 10, 100, 1000 connected peers sending
 *                             at once: envelopes/s into a counting actor,
 *                             and the supervisor's RSS and fd count then
 *
 * Each client runs in a forked process with its own ZeroMQ context; the
 * node runs in this process (act_node_run), so this process is the
 * supervisor whose RSS and fds are read.  The round-trip lines carry the
 * node's doorbells, eventfd wake-ups, sleeps and yields per round trip
 * (src/perfcount.c), which explain a ratio better than the time does on
 * shared CPUs.  Usage: bench-remote [ROUNDS].
 *
 *   remote_ask_rtt_spin       remote_ask_rtt with the asking group set for
 *                             latency (spin_us = SPIN_LATENCY_US, longer
 *                             than a round trip), beside the bare echo
 *                             whose client polls with ZMQ_DONTWAIT the
 *                             same way instead of blocking.  On VMs where
 *                             waking an idle vCPU costs tens of
 *                             microseconds, the wake-ups per round trip
 *                             decide both figures.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zmq.h>

#include <actors.h>

#include "bench-util.h"
#include "clock.h"
#include "log.h"
#include "node.h"
#include "perfcount.h"
#include "../t/harness.h"

typedef struct { int64_t count; } ping_t;
ACT_MESSAGE_TYPE(ping_type, ping_t, "Ping", ACT_FIELD(ping_t, count, ACT_I64));
ACT_MESSAGE_TYPE(pong_type, ping_t, "Pong", ACT_FIELD(ping_t, count, ACT_I64));

#define WARMUP 200

struct area {
	_Atomic uint64_t t0, t1;
	_Atomic int64_t got;
	_Atomic int client_done;
	double rtt_ns;
	long rss_kib, fds;
	pid_t sup;
	struct act__perf perf0, perf1; /* the node's counters over the timed rounds */
};
static struct area *A;
static long n_rtt = 5000, n_ingress = 100000;
static long n_peers;
#define SPIN_LATENCY_US 300
static uint32_t group_spin_us;  /* 0: the default */
static bool client_spin;        /* the bare client polls instead of blocking */
static char node_ep[64], client_ep[64];
/* CURVE keys: the server's (node or bare echo) and the client's. */
static char srv_pub[41], srv_sec[41], cli_pub[41], cli_sec[41];

static int free_port(void)
{
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

static void new_endpoints(void)
{
	snprintf(node_ep, sizeof node_ep, "tcp://127.0.0.1:%d", free_port());
	snprintf(client_ep, sizeof client_ep, "tcp://127.0.0.1:%d", free_port());
}

static int envelope(char *buf, size_t cap, const char *recv, const char *type, long count)
{
	return snprintf(buf, cap, "{\"sender_actor\":\"client\",\"sender_endpoint\":\"%s\","
	                "\"receiver\":\"%s\",\"message_type\":\"%s\",\"message\":{\"count\":%ld}}",
	                client_ep, recv, type, count);
}

/* A CURVE server socket (our secret), or a client of server key `srv`. */
static void curve_server(void *s, const char *sec)
{
	int one = 1;
	zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one);
	zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 41);
}

static void curve_client(void *s, const char *srv)
{
	zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, srv, 41);
	zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, cli_pub, 41);
	zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, cli_sec, 41);
}

/* ---- clients (forked processes) --------------------------------------------------- */

/* Ping-pong client; with curve, its PUSH is a CURVE client of the server
 * and its PULL a CURVE server that the server's replies reach with the
 * client's own key as server key (as a node's peer entry would say). */
static void rtt_client(const char *to, long n, bool curve)
{
	void *ctx = zmq_ctx_new(), *push = zmq_socket(ctx, ZMQ_PUSH), *pull = zmq_socket(ctx, ZMQ_PULL);
	char buf[512];
	uint64_t t0 = 0;
	if (curve) {
		curve_client(push, srv_pub);
		curve_server(pull, cli_sec);
	}
	if (zmq_bind(pull, client_ep) < 0 || zmq_connect(push, to) < 0)
		_exit(1);
	for (long i = -WARMUP; i <= n; i++) {
		if (i == 1)
			t0 = act__now_ns();
		int len = envelope(buf, sizeof buf, "pong", "Ping", i);
		if (zmq_send(push, buf, (size_t)len, 0) < 0)
			_exit(1);
		if (client_spin) {
			/* As a worker with spin_us set waits: polls, yielding
			 * the CPU after the first few microseconds. */
			uint64_t since = act__now_ns();
			while (zmq_recv(pull, buf, sizeof buf, ZMQ_DONTWAIT) < 0) {
				if (zmq_errno() != EAGAIN)
					_exit(1);
				if (act__now_ns() - since > 5000)
					sched_yield();
			}
		} else if (zmq_recv(pull, buf, sizeof buf, 0) < 0) {
			_exit(1);
		}
	}
	A->rtt_ns = (double)(act__now_ns() - t0) / (double)n;
	A->client_done = 1;
	zmq_close(push);
	zmq_close(pull);
	zmq_ctx_term(ctx);
	_exit(0);
}

/*
 * A family peer that echoes: every Ping is answered with a Pong to its
 * sender_actor at its sender_endpoint (one PUSH socket, the only endpoint
 * it sees).  Runs until killed.
 */
static void json_echo(const char *at)
{
	void *ctx = zmq_ctx_new(), *pull = zmq_socket(ctx, ZMQ_PULL), *push = NULL;
	char buf[1024], out[1024];
	if (zmq_bind(pull, at) < 0)
		_exit(1);
	for (;;) {
		int len = zmq_recv(pull, buf, sizeof buf - 1, 0);
		if (len < 0)
			_exit(1);
		cJSON *o = cJSON_ParseWithLength(buf, (size_t)len);
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "sender_actor");
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "sender_endpoint");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message");
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "count");
		if (cJSON_IsString(s) && cJSON_IsString(e) && cJSON_IsNumber(c)) {
			if (!push) {
				push = zmq_socket(ctx, ZMQ_PUSH);
				zmq_connect(push, e->valuestring);
			}
			int ol = snprintf(out, sizeof out, "{\"sender_actor\":\"echo\",\"sender_endpoint\":"
			                  "\"%s\",\"receiver\":\"%s\",\"message_type\":\"Pong\","
			                  "\"message\":{\"count\":%.0f}}", at, s->valuestring,
			                  c->valuedouble);
			zmq_send(push, out, (size_t)ol, 0);
		}
		cJSON_Delete(o);
	}
}

/* n_peers PUSH sockets, each sends one envelope, then n_ingress in turn. */
static void peers_client(const char *to)
{
	void *ctx = zmq_ctx_new();
	void **s = calloc((size_t)n_peers, sizeof *s);
	char buf[256];
	zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, (int)n_peers + 64);
	for (long i = 0; i < n_peers; i++) {
		int hwm = 100000;
		s[i] = zmq_socket(ctx, ZMQ_PUSH);
		if (!s[i] || zmq_connect(s[i], to) < 0)
			_exit(1);
		zmq_setsockopt(s[i], ZMQ_SNDHWM, &hwm, sizeof hwm);
		int len = envelope(buf, sizeof buf, "counter", "Ping", 0);
		zmq_send(s[i], buf, (size_t)len, 0);
	}
	/* Every peer connected and heard: the clock starts. */
	while (A->got < n_peers)
		usleep(200);
	A->t0 = act__now_ns();
	for (long i = 1; i <= n_ingress; i++) {
		int len = envelope(buf, sizeof buf, "counter", "Ping", i);
		if (zmq_send(s[i % n_peers], buf, (size_t)len, 0) < 0)
			_exit(1);
	}
	/* Connected until the node counted everything: its fds include ours. */
	while (!A->t1)
		usleep(1000);
	for (long i = 0; i < n_peers; i++)
		zmq_close(s[i]);
	zmq_ctx_term(ctx);
	A->client_done = 1;
	_exit(0);
}

/* ---- the bare baseline: an echo of frames, plain or CURVE ------------------------- */

static double bare_rtt(bool curve)
{
	void *ctx = zmq_ctx_new(), *pull = zmq_socket(ctx, ZMQ_PULL), *push = zmq_socket(ctx, ZMQ_PUSH);
	char buf[512];
	new_endpoints();
	if (curve) {
		curve_server(pull, srv_sec);
		/* The client's PULL is a CURVE server with the client's key. */
		zmq_setsockopt(push, ZMQ_CURVE_SERVERKEY, cli_pub, 41);
		zmq_setsockopt(push, ZMQ_CURVE_PUBLICKEY, srv_pub, 41);
		zmq_setsockopt(push, ZMQ_CURVE_SECRETKEY, srv_sec, 41);
	}
	if (zmq_bind(pull, node_ep) < 0 || zmq_connect(push, client_ep) < 0)
		return -1;
	pid_t c = fork();
	if (c == 0)
		rtt_client(node_ep, n_rtt, curve);
	for (long i = -WARMUP; i <= n_rtt; i++) {
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

/* ---- actors ----------------------------------------------------------------------- */

static void pong_ping(act_ctx *ctx, void *st, const void *m)
{
	ping_t r = { ((const ping_t *)m)->count };
	(void)st;
	if (r.count == 1)
		act__perf_read(ctx, &A->perf0);
	act_reply(ctx, &pong_type, &r);
	if (r.count == n_rtt) {
		act__perf_read(ctx, &A->perf1);
		act_shutdown(ctx);
	}
}

static void sup_usage(void)
{
	char path[64], line[256];
	FILE *f;
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof path, "/proc/%d/status", (int)A->sup);
	if ((f = fopen(path, "r"))) {
		while (fgets(line, sizeof line, f))
			if (!strncmp(line, "VmRSS:", 6))
				A->rss_kib = atol(line + 6);
		fclose(f);
	}
	snprintf(path, sizeof path, "/proc/%d/fd", (int)A->sup);
	A->fds = 0;
	if ((d = opendir(path))) {
		while ((de = readdir(d)))
			A->fds += de->d_name[0] != '.';
		closedir(d);
	}
}

static void counter_ping(act_ctx *ctx, void *st, const void *m)
{
	(void)st;
	(void)m;
	if (++A->got == n_peers + n_ingress) {
		A->t1 = act__now_ns();
		sup_usage();
		act_shutdown(ctx);
	}
}

/* The asker: act_ask() of the remote echo, one at a time. */
static act_ref echo_ref;
static uint64_t ask_t0;
static void ask_next(act_ctx *ctx, int64_t i);

static void on_pong(act_ctx *ctx, void *st, int status, const act_type *t, const void *reply,
                    uint64_t cookie)
{
	(void)st;
	(void)reply;
	if (status || t != &pong_type) {
		act_log(ctx, ACT_LOG_ERR, "remote ask %llu failed: %s", (unsigned long long)cookie,
		        act_strerror(status));
		act_shutdown(ctx);
		return;
	}
	if ((int64_t)cookie == n_rtt) {
		act__perf_read(ctx, &A->perf1);
		A->rtt_ns = (double)(act__now_ns() - ask_t0) / (double)n_rtt;
		A->client_done = 1;
		act_shutdown(ctx);
		return;
	}
	ask_next(ctx, (int64_t)cookie + 1);
}

static void ask_next(act_ctx *ctx, int64_t i)
{
	ping_t p = { i };
	if (i == 1) {
		act__perf_read(ctx, &A->perf0);
		ask_t0 = act__now_ns();
	}
	if (act_ask(ctx, echo_ref, &ping_type, &p, 5000, on_pong, (uint64_t)i))
		act_shutdown(ctx);
}

static void asker_start(act_ctx *ctx, void *st, const void *m)
{
	(void)st;
	(void)m;
	echo_ref = act_ref_remote(ctx, "echo", client_ep);
	ask_next(ctx, -WARMUP);
}

static const act_handler counter_h[] = { { &ping_type, counter_ping } };
static const act_behaviour counter_b = { .name = "counter", .handlers = counter_h, .n_handlers = 1 };
static const act_handler pong_h[] = { { &ping_type, pong_ping } };
static const act_behaviour pong_b = { .name = "pong", .handlers = pong_h, .n_handlers = 1 };
static const act_handler asker_h[] = { { &act_start_type, asker_start } };
static const act_behaviour asker_b = { .name = "asker", .handlers = asker_h, .n_handlers = 1 };

enum mode { M_PONG, M_PONG_CURVE, M_ASK, M_PEERS };

static int run_node(enum mode mode)
{
	static const char *const actor[] = { "pong", "pong", "asker", "counter" };
	static const act_behaviour *const beh[] = { &pong_b, &pong_b, &asker_b, &counter_b };
	act_node_t *n = act_node_new("rmbench");
	pid_t c;

	new_endpoints();
	act_node_add_group(n, "g");
	if (group_spin_us)
		act_node_set_spin_us(n, "g", group_spin_us);
	act_node_add_actor(n, "g", actor[mode], beh[mode], NULL);
	act_node_add_type(n, &pong_type);
	act_node_set_remote(n, actor[mode], true);
	act_node_set_endpoint(n, node_ep, NULL);
	act_node_set_ring_bytes(n, "g", 4u << 20);
	if (mode == M_PONG_CURVE) {
		/* What actorsd's load_curve() and the app file's peers do. */
		n->curve_secret = strdup(srv_sec);
		n->curve_public = strdup(srv_pub);
		act__reg_add_peer(&n->reg, "client", client_ep);
		memcpy(n->reg.peers[n->reg.n_peers - 1].server_key, cli_pub, 41);
	}
	c = fork();
	if (c == 0) {
		if (mode == M_ASK)
			json_echo(client_ep);
		else if (mode == M_PEERS)
			peers_client(node_ep);
		rtt_client(node_ep, n_rtt, mode == M_PONG_CURVE);
	}
	A->sup = getpid();
	int rc = act_node_run(n);
	act_node_free(n);
	if (mode == M_ASK)
		kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	return rc == 0 && A->client_done ? 0 : -1;
}

/* Per round trip, from the node's counters in A (perf0 -> perf1). */
static struct bench_counts counts(void)
{
	struct act__perf d;
	double n = (double)(n_rtt - 1);

	act__perf_diff(&A->perf0, &A->perf1, &d);
	return (struct bench_counts){ (double)d.n_notifies / n, (double)d.n_wakeups / n,
	                              (double)d.n_sleeps / n, (double)d.n_yields / n };
}

int main(int argc, char **argv)
{
	struct rlimit rl;

	if (argc > 1 && atol(argv[1]) > 0)
		n_rtt = atol(argv[1]);
	act__log_level = getenv("BENCH_LOG") ? ACT_LOG_INFO : ACT_LOG_ERR;
	/* 1000 peers take about as many fds on each side. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	A = shared_area(sizeof *A);
	bench_print_machine("bench-remote");
	if (zmq_curve_keypair(srv_pub, srv_sec) || zmq_curve_keypair(cli_pub, cli_sec)) {
		printf("bench: libzmq without CURVE\n");
		return 1;
	}

	double bare = bare_rtt(false);
	memset(A, 0, sizeof *A);
	double ask = run_node(M_ASK) == 0 ? A->rtt_ns : -1;
	struct bench_counts c = counts();
	bench_line_counts("remote_ask_rtt", ask, "ns", bare, ask > 0 ? &c : NULL);
	memset(A, 0, sizeof *A);
	double gw = run_node(M_PONG) == 0 ? A->rtt_ns : -1;
	c = counts();
	bench_line_counts("gateway_remote_rtt", gw, "ns", bare, gw > 0 ? &c : NULL);

	memset(A, 0, sizeof *A);
	client_spin = true;
	double bare_s = bare_rtt(false);
	client_spin = false;
	memset(A, 0, sizeof *A);
	group_spin_us = SPIN_LATENCY_US;
	double ask_s = run_node(M_ASK) == 0 ? A->rtt_ns : -1;
	group_spin_us = 0;
	c = counts();
	bench_line_counts("remote_ask_rtt_spin", ask_s, "ns", bare_s, ask_s > 0 ? &c : NULL);

	memset(A, 0, sizeof *A);
	double bare_c = bare_rtt(true);
	memset(A, 0, sizeof *A);
	double gw_c = run_node(M_PONG_CURVE) == 0 ? A->rtt_ns : -1;
	c = counts();
	bench_line_counts("gateway_remote_rtt_curve", gw_c, "ns", bare_c, gw_c > 0 ? &c : NULL);

	static const long steps[] = { 1, 10, 100, 1000 };
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		char name[64];
		memset(A, 0, sizeof *A);
		n_peers = steps[i];
		double rate = -1;
		if (run_node(M_PEERS) == 0 && A->t1 > A->t0)
			rate = (double)n_ingress * 1e9 / (double)(A->t1 - A->t0);
		snprintf(name, sizeof name, "gateway_ingress_peers_%ld", n_peers);
		printf("bench: %s ", name);
		bench_print_num(rate);
		printf(" msgs/s supervisor_rss %ld KiB fds %ld\n", A->rss_kib, A->fds);
	}
	return 0;
}
