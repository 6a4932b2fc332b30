/* SPDX-License-Identifier: MIT */
/*
 * t/crash-burst.c - a worker that sends a burst of envelopes in one handler
 * and is SIGKILLed before the handler returns.  Within a burst a worker
 * publishes its ring's tail in steps (ring.h, act__ring_commit_batched()),
 * so the last envelopes of the burst were committed but not yet published
 * when it died: the supervisor publishes them (act__ring_promote()), and
 * every envelope act_send() accepted must arrive, once and in order.
 */
#include <signal.h>
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"

/* More than ACT__RING_SHOW_STEP bytes of records (128 each), fewer than the
 * 64 sends after which a worker publishes and rings anyway. */
#define N 48
#define WATCHDOG_MS 10000u

typedef struct { int64_t seq; char pad[64]; } seq_msg;
ACT_MESSAGE_TYPE(seq_type, seq_msg, "BurstSeq", ACT_FIELD(seq_msg, seq, ACT_I64));

struct area {
	_Atomic int accepted;        /* sends act_send() accepted before the kill */
	_Atomic int src_starts;
	_Atomic int next_expected;
	_Atomic int order_errors;
	_Atomic int timed_out;
	_Atomic unsigned char got[N];
};
static struct area *A;

static void src_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	act_ref sink;

	atomic_fetch_add(&A->src_starts, 1);
	if (s->restart || act_lookup(ctx, "sink", &sink))
		return; /* the burst is sent once */
	for (int64_t i = 0; i < N; i++) {
		seq_msg msg = { .seq = i };
		if (act_send(ctx, sink, &seq_type, &msg))
			break;
		atomic_fetch_add(&A->accepted, 1);
	}
	raise(SIGKILL); /* before the handler returns: the burst's end is unpublished */
}

static const act_handler src_handlers[] = { { &act_start_type, src_start } };
static const act_behaviour src_b = {
	.name = "burst-src", .handlers = src_handlers, .n_handlers = 1,
};

static void sink_start(act_ctx *ctx, void *st, const void *m)
{
	act_timer_once(ctx, WATCHDOG_MS, 1);
}

static void sink_seq(act_ctx *ctx, void *st, const void *m)
{
	int64_t i = ((const seq_msg *)m)->seq;

	if (i < 0 || i >= N || atomic_load(&A->next_expected) != i) {
		atomic_fetch_add(&A->order_errors, 1);
		return;
	}
	atomic_store(&A->next_expected, (int)i + 1);
	atomic_fetch_add(&A->got[i], 1);
	if (i == N - 1)
		act_shutdown(ctx);
}

static void sink_timeout(act_ctx *ctx, void *st, const void *m)
{
	atomic_store(&A->timed_out, 1);
	act_shutdown(ctx);
}

static const act_handler sink_handlers[] = {
	{ &act_start_type, sink_start }, { &seq_type, sink_seq },
	{ &act_timeout_type, sink_timeout },
};
static const act_behaviour sink_b = {
	.name = "burst-sink", .handlers = sink_handlers, .n_handlers = 3,
};

int main(void)
{
	tap_timeout(60);
	A = shared_area(sizeof *A);

	act_node_t *node = act_node_new("burst");
	ok(node != NULL, "node created");
	act_node_add_group(node, "src");
	act_node_add_group(node, "dst");
	act_node_add_actor(node, "src", "src", &src_b, NULL);
	act_node_add_actor(node, "dst", "sink", &sink_b, NULL);
	act_node_set_intensity(node, 5, 5000);

	int rc = act_node_run(node);
	act_node_free(node);
	ok(rc == 0, "node stopped cleanly (rc %d)", rc);
	ok(A->accepted == N, "act_send() accepted the whole burst before the kill (%d of %d)",
	   A->accepted, N);
	ok(A->src_starts >= 2, "the sender was killed inside its handler and restarted (%d starts)",
	   A->src_starts);
	int missing = 0, dup = 0;
	for (int i = 0; i < N; i++) {
		missing += A->got[i] == 0;
		dup += A->got[i] > 1;
	}
	ok(missing == 0 && !A->timed_out,
	   "every accepted envelope arrived, the unpublished end of the burst too (%d missing%s)",
	   missing, A->timed_out ? ", the sink gave up waiting" : "");
	ok(dup == 0 && A->order_errors == 0, "once each, in order (%d twice, %d out of order)", dup,
	   A->order_errors);
	return done_testing();
}
