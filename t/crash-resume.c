/* SPDX-License-Identifier: MIT */
/*
 * t/crash-resume.c - a consumer worker is killed with SIGKILL in the
 * middle of a handler while a producer group streams to it; the restarted
 * worker must receive every envelope that was waiting in its ring, get the
 * one in flight again flagged as redelivered, and nothing may be lost,
 * duplicated or reordered.
 */
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "tap.h"
#include "harness.h"

#define N 20000
#define VICTIM 7777   /* the sequence number whose first delivery is killed */

typedef struct { int64_t seq; char pad[24]; } seq_msg;
ACT_MESSAGE_TYPE(seq_type, seq_msg, "Seq", ACT_FIELD(seq_msg, seq, ACT_I64));

struct area {
	_Atomic int64_t next_expected;
	_Atomic int order_errors;
	_Atomic int starts, restarts;
	_Atomic int last_start_signal;
	_Atomic int efull_seen;
	_Atomic int sent;
	_Atomic int victim_redelivered;   /* act_redelivered() seen on the victim */
	_Atomic int killed;               /* the killer's kill() succeeded */
	_Atomic unsigned char done[N];
	_Atomic unsigned char flagged[N];
};
static struct area *A;
static int kill_pipe[2];

/* ---- producer: streams 0..N-1, backing off on a full ring ---------------- */

struct src_state { act_ref sink; int64_t next; };

static void src_pump(act_ctx *ctx, struct src_state *s)
{
	while (s->next < N) {
		seq_msg m = { .seq = s->next };
		int err = act_send(ctx, s->sink, &seq_type, &m);
		if (err == ACT_EFULL) {
			atomic_store(&A->efull_seen, 1);
			act_timer_once(ctx, 1, 1); /* try again shortly */
			return;
		}
		if (err) {
			diag("send failed: %s", act_strerror(err));
			act_shutdown(ctx);
			return;
		}
		s->next++;
		atomic_store(&A->sent, (int)s->next);
	}
}

static void src_start(act_ctx *ctx, void *st, const void *m)
{
	struct src_state *s = st;
	act_lookup(ctx, "sink", &s->sink);
	src_pump(ctx, s);
}

static void src_timeout(act_ctx *ctx, void *st, const void *m) { src_pump(ctx, st); }

static const act_handler src_handlers[] = {
	{ &act_start_type, src_start }, { &act_timeout_type, src_timeout },
};
static const act_behaviour src_b = {
	.name = "src", .state_size = sizeof(struct src_state),
	.handlers = src_handlers, .n_handlers = 2,
};

/* ---- consumer --------------------------------------------------------------- */

static void sink_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	atomic_fetch_add(&A->starts, 1);
	if (s->restart) {
		atomic_fetch_add(&A->restarts, 1);
		atomic_store(&A->last_start_signal, s->last_signal);
	}
}

static void sink_seq(act_ctx *ctx, void *st, const void *m)
{
	const seq_msg *msg = m;
	int64_t i = msg->seq;

	if (i < 0 || i >= N) {
		atomic_fetch_add(&A->order_errors, 1);
		return;
	}
	if (i == VICTIM && act_redelivered(ctx) == 0) {
		/* Tell the killer who we are and wait for the bullet. */
		int32_t pid = getpid();
		if (write(kill_pipe[1], &pid, sizeof pid) != sizeof pid)
			_exit(3);
		for (;;)
			pause();
	}
	if (act_redelivered(ctx)) {
		atomic_fetch_add(&A->flagged[i], 1);
		if (i == VICTIM)
			atomic_store(&A->victim_redelivered, (int)act_redelivered(ctx));
	}
	if (atomic_load(&A->next_expected) != i)
		atomic_fetch_add(&A->order_errors, 1);
	atomic_store(&A->next_expected, i + 1);
	atomic_fetch_add(&A->done[i], 1);
	if (i == N - 1)
		act_shutdown(ctx);
}

static const act_handler sink_handlers[] = {
	{ &act_start_type, sink_start }, { &seq_type, sink_seq },
};
static const act_behaviour sink_b = {
	.name = "sink", .handlers = sink_handlers, .n_handlers = 2,
};

int main(void)
{
	tap_timeout(120);
	A = shared_area(sizeof *A);
	if (pipe(kill_pipe) < 0)
		bail("pipe");

	/* The killer: blocks until the consumer reports it is inside the
	 * victim's handler, then SIGKILLs it. */
	pid_t killer = fork();
	if (killer == 0) {
		int32_t pid;
		close(kill_pipe[1]);
		if (read(kill_pipe[0], &pid, sizeof pid) != sizeof pid)
			_exit(1);
		if (kill(pid, SIGKILL) == 0)
			atomic_store(&A->killed, 1);
		_exit(0);
	}
	close(kill_pipe[0]);

	act_node_t *node = act_node_new("crash");
	ok(node != NULL, "node created");
	act_node_add_group(node, "producers");
	act_node_add_group(node, "consumers");
	act_node_add_actor(node, "producers", "src", &src_b, NULL);
	act_node_add_actor(node, "consumers", "sink", &sink_b, NULL);
	act_node_set_ring_bytes(node, "consumers", 64 * 1024);
	act_node_set_intensity(node, 5, 5000);
	harness_collect_counters();

	int rc = act_node_run(node);
	act_node_free(node);
	ok(rc == 0, "node stopped cleanly (rc %d)", rc);

	/* The node's supervisor (this process) reaps stray children, the
	 * killer included, so its verdict travels through the shared area. */
	waitpid(killer, NULL, WNOHANG);
	ok(A->killed == 1, "the killer SIGKILLed the consumer inside a handler");

	int missing = 0, dup = 0, flagged_other = 0;
	for (int i = 0; i < N; i++) {
		if (A->done[i] == 0)
			missing++;
		if (A->done[i] > 1)
			dup++;
		if (i != VICTIM && A->flagged[i])
			flagged_other++;
	}
	ok(missing == 0, "no message lost (%d missing of %d)", missing, N);
	ok(dup == 0, "no message handled twice to completion (%d)", dup);
	ok(A->order_errors == 0, "per-sender FIFO order kept across the crash (%d errors)",
	   A->order_errors);
	ok(A->flagged[VICTIM] == 1 && A->victim_redelivered == 1,
	   "the message in flight came back flagged redelivered (count %d)",
	   A->victim_redelivered);
	ok(flagged_other == 0, "no other message flagged redelivered (%d)", flagged_other);
	ok(A->starts == 2 && A->restarts == 1, "sink started twice, once as a restart");
	ok(A->last_start_signal == SIGKILL, "Start says the last instance died of SIGKILL (%d)",
	   A->last_start_signal);
	ok(A->efull_seen, "the ring was full while the consumer was dead (a real backlog)");
	ok(n_counted == 3 && counters[2].redelivered == 1,
	   "consumer counted one redelivery (%llu)", (unsigned long long)counters[2].redelivered);
	return done_testing();
}
