/* SPDX-License-Identifier: MIT */
/*
 * t/drain.c - a clean stop handles what is already in a group's rings
 * before its actors get Shutdown: a producer fills a consumer's ring and
 * asks the node to stop in the same handler; every message must still be
 * handled, and Shutdown must come after the last one.
 */
#include <stdatomic.h>
#include <time.h>

#include "tap.h"
#include "harness.h"

#define N 2000

typedef struct { int64_t seq; } seq_msg;
ACT_MESSAGE_TYPE(seq_type, seq_msg, "Seq", ACT_FIELD(seq_msg, seq, ACT_I64));

struct area {
	_Atomic int handled, order_errors, shutdown_seen, handled_at_shutdown, send_errors;
};
static struct area *A;

/* The sink says when it is up (groups start one after the other). */
static void sink_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref prod;
	seq_msg go = { -1 };
	if (act_lookup(ctx, "prod", &prod) == 0)
		act_send(ctx, prod, &seq_type, &go);
}

static void prod_go(act_ctx *ctx, void *st, const void *m)
{
	act_ref sink;
	if (act_lookup(ctx, "sink", &sink))
		return;
	for (int64_t i = 0; i < N; i++) {
		seq_msg s = { i };
		if (act_send(ctx, sink, &seq_type, &s))
			A->send_errors++;
	}
	act_shutdown(ctx); /* the messages are all still in the sink's ring */
	/* The handler goes on working a while after asking for the stop: the
	 * sink may stop long before this handler returns, so everything sent
	 * before act_shutdown() must be visible to it by then, the end of the
	 * burst too (a worker publishes a burst in steps, ring.h). */
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

static void sink_seq(act_ctx *ctx, void *st, const void *m)
{
	int64_t seq = ((const seq_msg *)m)->seq;
	if (seq != A->handled)
		A->order_errors++;
	A->handled++;
}

static void sink_shutdown(act_ctx *ctx, void *st, const void *m)
{
	A->shutdown_seen++;
	A->handled_at_shutdown = A->handled;
}

static const act_handler prod_h[] = { { &seq_type, prod_go } };
static const act_behaviour prod_b = { .name = "prod", .handlers = prod_h, .n_handlers = 1 };
static const act_handler sink_h[] = { { &act_start_type, sink_start }, { &seq_type, sink_seq },
                                      { &act_shutdown_type, sink_shutdown } };
static const act_behaviour sink_b = { .name = "sink", .handlers = sink_h, .n_handlers = 3 };

int main(void)
{
	tap_timeout(60);
	A = shared_area(sizeof *A);
	act_node_t *n = act_node_new("drain");
	act_node_add_group(n, "producers");
	act_node_add_group(n, "sinks"); /* started last, so stopped first */
	act_node_add_actor(n, "producers", "prod", &prod_b, NULL);
	act_node_add_actor(n, "sinks", "sink", &sink_b, NULL);
	/* A sink that is asleep when the messages arrive still wakes for them. */
	act_node_set_spin_us(n, "sinks", 0);
	int rc = act_node_run(n);
	act_node_free(n);
	ok(rc == 0, "node stopped cleanly (rc %d)", rc);
	ok(A->send_errors == 0, "all %d sends accepted (%d errors)", N, A->send_errors);
	ok(A->handled == N, "every message already in the ring was handled before the stop (%d of %d)",
	   A->handled, N);
	ok(A->order_errors == 0, "in order (%d errors)", A->order_errors);
	ok(A->shutdown_seen == 1 && A->handled_at_shutdown == N,
	   "Shutdown came once, after the last message (%d handled then)", A->handled_at_shutdown);
	return done_testing();
}
