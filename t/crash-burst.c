/* SPDX-License-Identifier: MIT */
/*
 * t/crash-burst.c - a worker that sends a burst of envelopes in one handler
 * and is SIGKILLed before the handler returns.  Within a burst a worker
 * publishes its ring's tail in steps (ring.h, act__ring_commit_batched()),
 * so the last envelopes of the burst were committed but not yet published
 * when it died: the supervisor publishes them (act__ring_promote()), and
 * every envelope act_send() accepted must arrive, once and in order.
 *
 * Then a sender that retries ACT_EFULL inside one handler, into a ring of
 * the smallest size (4 KiB, a quarter of a publication step): a refused send
 * publishes what the burst committed and rings the receiver (ops.c,
 * out_reserve()), so a sender never waits for room behind records of its
 * own that nobody can see: to a spinning receiver, and to one asleep.
 *
 * Then a handler that sends a few envelopes (the first is published at
 * once) and runs on: its doorbell would ring when it returns, and the
 * receiver, asleep with work in its ring, is woken by the supervisor
 * (group.c, asleep_on_work()) instead of being killed as hung after
 * heartbeat_timeout_ms.
 */
#include <time.h>
#include <signal.h>
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"

/* Fewer sends than make a worker publish and ring anyway (ACT__W_FLUSH_SENDS)
 * and fewer bytes than a publication step (ACT__RING_SHOW_STEP): only the
 * first of the burst is published when the sender dies. */
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

/* ---- a sender that spins on a full ring ----------------------------------- */

#define SPIN_N 2000

struct spin_area {
	_Atomic int sent, got, order_errors, gave_up, efull, bad_expected, bad_got;
	_Atomic int sink_starts;
	int delay_ms; /* the burst from a timer this long after Start: the receiver sleeps */
};
static struct spin_area *S;

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void spin_burst(act_ctx *ctx)
{
	act_ref sink;
	uint64_t give_up = mono_ms() + 5000;

	if (act_lookup(ctx, "sink", &sink))
		return;
	for (int64_t i = 0; i < SPIN_N;) {
		seq_msg msg = { .seq = i };
		int err = act_send(ctx, sink, &seq_type, &msg);
		if (err == ACT_EFULL) {
			atomic_store(&S->efull, 1);
			if (mono_ms() > give_up) {
				atomic_store(&S->gave_up, 1);
				act_shutdown(ctx);
				return;
			}
			continue; /* the caller decides: this one retries at once */
		}
		if (err)
			break;
		atomic_store(&S->sent, (int)++i);
	}
}

static void spin_src_start(act_ctx *ctx, void *st, const void *m)
{
	if (S->delay_ms)
		act_timer_once(ctx, (uint64_t)S->delay_ms, 1);
	else
		spin_burst(ctx);
}

static void spin_src_timeout(act_ctx *ctx, void *st, const void *m)
{
	spin_burst(ctx);
}

static const act_handler spin_src_handlers[] = { { &act_start_type, spin_src_start },
                                                 { &act_timeout_type, spin_src_timeout } };
static const act_behaviour spin_src_b = {
	.name = "spin-src", .handlers = spin_src_handlers, .n_handlers = 2,
};

static void spin_sink_seq(act_ctx *ctx, void *st, const void *m)
{
	int64_t i = ((const seq_msg *)m)->seq;

	if (atomic_load(&S->got) != i && !atomic_fetch_add(&S->order_errors, 1)) {
		atomic_store(&S->bad_expected, atomic_load(&S->got));
		atomic_store(&S->bad_got, (int)i);
	}
	atomic_store(&S->got, (int)i + 1);
	if (i == SPIN_N - 1)
		act_shutdown(ctx);
}

static void spin_sink_start(act_ctx *ctx, void *st, const void *m)
{
	atomic_fetch_add(&S->sink_starts, 1);
	act_timer_once(ctx, WATCHDOG_MS, 1);
}

static const act_handler spin_sink_handlers[] = {
	{ &act_start_type, spin_sink_start }, { &seq_type, spin_sink_seq },
	{ &act_timeout_type, sink_timeout },
};
static const act_behaviour spin_sink_b = {
	.name = "spin-sink", .handlers = spin_sink_handlers, .n_handlers = 3,
};

static void spin_on_full_ring(int delay_ms)
{
	S = shared_area(sizeof *S);
	S->delay_ms = delay_ms;
	act_node_t *node = act_node_new("burstspin");
	/* The receiver's group first: groups start in order, and the sender
	 * spins in its Start handler until the receiver has made room. */
	act_node_add_group(node, "dst");
	act_node_add_group(node, "src");
	act_node_add_actor(node, "src", "src", &spin_src_b, NULL);
	act_node_add_actor(node, "dst", "sink", &spin_sink_b, NULL);
	act_node_set_ring_bytes(node, "dst", 4096);
	if (delay_ms)
		act_node_set_spin_us(node, "dst", 0); /* asleep when the burst comes */
	int rc = act_node_run(node);
	act_node_free(node);
	const char *what = delay_ms ? "to a sleeping receiver" : "to a spinning receiver";
	ok(rc == 0 && S->efull, "spinning sender %s: node stopped cleanly (rc %d), the ring was "
	   "full on the way (%d)", what, rc, S->efull);
	ok(!S->gave_up && S->sent == SPIN_N && S->got == SPIN_N && !S->order_errors,
	   "a sender retrying ACT_EFULL in one handler got all %d through a 4 KiB ring %s "
	   "(%d sent, %d received, %d out of order, first %d for %d%s)", SPIN_N, what, S->sent,
	   S->got, S->order_errors, S->bad_got, S->bad_expected,
	   S->gave_up ? ", it gave up: its receiver was never told of its records" : "");
	ok(S->sink_starts == 1, "the receiver ran throughout, not killed as hung (%d starts)",
	   S->sink_starts);
}

/* ---- a handler that runs long after it sent ----------------------------------- */

#define LONG_N 10

struct long_area {
	_Atomic int got, sink_starts, seen_in_handler;
};
static struct long_area *L;

static void long_src_start(act_ctx *ctx, void *st, const void *m)
{
	act_timer_once(ctx, 200, 1); /* the receiver is asleep by then */
}

static void long_src_timeout(act_ctx *ctx, void *st, const void *m)
{
	act_ref sink;
	uint64_t until = mono_ms() + 3000; /* 3 x heartbeat_timeout_ms */

	if (act_lookup(ctx, "sink", &sink))
		return;
	for (int64_t i = 0; i < LONG_N; i++) {
		seq_msg msg = { .seq = i };
		if (act_send(ctx, sink, &seq_type, &msg))
			break;
	}
	/* Still in the handler, whose return would ring the receiver's
	 * doorbell (and publish the rest of the burst: the first envelope
	 * is published at once, ring.h): the receiver has that one during
	 * the handler only if someone else rang. */
	while (atomic_load(&L->got) < 1 && mono_ms() < until) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	atomic_store(&L->seen_in_handler, atomic_load(&L->got));
	act_shutdown(ctx);
}

static const act_handler long_src_handlers[] = { { &act_start_type, long_src_start },
                                                 { &act_timeout_type, long_src_timeout } };
static const act_behaviour long_src_b = {
	.name = "long-src", .handlers = long_src_handlers, .n_handlers = 2,
};

static void long_sink_start(act_ctx *ctx, void *st, const void *m)
{
	atomic_fetch_add(&L->sink_starts, 1);
}

static void long_sink_seq(act_ctx *ctx, void *st, const void *m)
{
	atomic_fetch_add(&L->got, 1);
}

static const act_handler long_sink_handlers[] = { { &act_start_type, long_sink_start },
                                                  { &seq_type, long_sink_seq } };
static const act_behaviour long_sink_b = {
	.name = "long-sink", .handlers = long_sink_handlers, .n_handlers = 2,
};

static void long_handler(void)
{
	L = shared_area(sizeof *L);
	act_node_t *node = act_node_new("burstlong");
	act_node_add_group(node, "dst");
	act_node_add_group(node, "src");
	act_node_add_actor(node, "src", "src", &long_src_b, NULL);
	act_node_add_actor(node, "dst", "sink", &long_sink_b, NULL);
	act_node_set_spin_us(node, "dst", 0);
	act_node_set_heartbeat(node, "src", 100, 10000); /* its handler runs 3 s: not hung */
	int rc = act_node_run(node);
	act_node_free(node);
	ok(rc == 0, "long handler: node stopped cleanly (rc %d)", rc);
	ok(L->seen_in_handler >= 1 && L->sink_starts == 1,
	   "a receiver asleep on a sender's published envelope, whose handler runs on, is woken "
	   "by the supervisor, not killed as hung (%d handled during the handler, %d starts)",
	   L->seen_in_handler, L->sink_starts);
	ok(L->got == LONG_N, "the rest came when the handler returned (%d of %d)", L->got, LONG_N);
}

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
	spin_on_full_ring(0);
	spin_on_full_ring(200);
	long_handler();
	return done_testing();
}
