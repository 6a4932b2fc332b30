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
 * publishes what the burst committed (ops.c, out_reserve()), so a sender
 * never waits for room behind records of its own that nobody can see.
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
};
static struct spin_area *S;

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void spin_src_start(act_ctx *ctx, void *st, const void *m)
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

static const act_handler spin_src_handlers[] = { { &act_start_type, spin_src_start } };
static const act_behaviour spin_src_b = {
	.name = "spin-src", .handlers = spin_src_handlers, .n_handlers = 1,
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

static const act_handler spin_sink_handlers[] = {
	{ &act_start_type, sink_start }, { &seq_type, spin_sink_seq },
	{ &act_timeout_type, sink_timeout },
};
static const act_behaviour spin_sink_b = {
	.name = "spin-sink", .handlers = spin_sink_handlers, .n_handlers = 3,
};

static void spin_on_full_ring(void)
{
	S = shared_area(sizeof *S);
	act_node_t *node = act_node_new("burstspin");
	/* The receiver's group first: groups start in order, and the sender
	 * spins in its Start handler until the receiver has made room. */
	act_node_add_group(node, "dst");
	act_node_add_group(node, "src");
	act_node_add_actor(node, "src", "src", &spin_src_b, NULL);
	act_node_add_actor(node, "dst", "sink", &spin_sink_b, NULL);
	act_node_set_ring_bytes(node, "dst", 4096);
	int rc = act_node_run(node);
	act_node_free(node);
	ok(rc == 0 && S->efull, "spinning sender: node stopped cleanly (rc %d), the ring was full "
	   "on the way (%d)", rc, S->efull);
	ok(!S->gave_up && S->sent == SPIN_N && S->got == SPIN_N && !S->order_errors,
	   "a sender retrying ACT_EFULL in one handler got all %d through a 4 KiB ring "
	   "(%d sent, %d received, %d out of order, first %d for %d%s)", SPIN_N, S->sent, S->got,
	   S->order_errors, S->bad_got, S->bad_expected, S->gave_up ? ", it gave up: its own unpublished records filled the ring" : "");
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
	spin_on_full_ring();
	return done_testing();
}
