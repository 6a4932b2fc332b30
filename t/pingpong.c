/* SPDX-License-Identifier: MIT */
/*
 * t/pingpong.c - two actors in two worker processes bounce a counter
 * 10,000 times through the rings, first with spinning workers and then
 * with workers that sleep on their doorbell after every message.  Every
 * count must come back in order.
 */
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"

#define ROUNDS 10000

typedef struct { int32_t count; } ball;
ACT_MESSAGE_TYPE(ping_type, ball, "Ping", ACT_FIELD(ball, count, ACT_I32));
ACT_MESSAGE_TYPE(pong_type, ball, "Pong", ACT_FIELD(ball, count, ACT_I32));

struct area {
	_Atomic int pongs_seen, pings_seen, bad_counts, wrong_sender;
	_Atomic int last;
};
static struct area *A;

static void pong_ping(act_ctx *ctx, void *st, const void *m)
{
	const ball *b = m;
	ball r = { b->count };
	atomic_fetch_add(&A->pings_seen, 1);
	const char *from = act_ref_name(ctx, act_sender(ctx));
	if (!from || strcmp(from, "ping"))
		atomic_fetch_add(&A->wrong_sender, 1);
	if (act_reply(ctx, &pong_type, &r))
		atomic_fetch_add(&A->bad_counts, 1);
}

struct ping_state { act_ref pong; };

static void ping_start(act_ctx *ctx, void *st, const void *m)
{
	struct ping_state *s = st;
	ball b = { 1 };
	if (act_lookup(ctx, "pong", &s->pong) || act_send(ctx, s->pong, &ping_type, &b))
		act_shutdown(ctx);
}

static void ping_pong(act_ctx *ctx, void *st, const void *m)
{
	struct ping_state *s = st;
	const ball *b = m;
	int n = atomic_fetch_add(&A->pongs_seen, 1) + 1;
	if (b->count != n)
		atomic_fetch_add(&A->bad_counts, 1);
	atomic_store(&A->last, b->count);
	if (n == ROUNDS) {
		act_shutdown(ctx);
		return;
	}
	ball next = { b->count + 1 };
	if (act_send(ctx, s->pong, &ping_type, &next))
		act_shutdown(ctx);
}

static const act_handler pong_h[] = { { &ping_type, pong_ping } };
static const act_handler ping_h[] = { { &act_start_type, ping_start }, { &pong_type, ping_pong } };
static const act_behaviour pong_b = { .name = "pong", .handlers = pong_h, .n_handlers = 1 };
static const act_behaviour ping_b = {
	.name = "ping", .state_size = sizeof(struct ping_state), .handlers = ping_h, .n_handlers = 2,
};

static void run(const char *mode, uint32_t spin_us)
{
	memset(A, 0, sizeof *A);
	act_node_t *n = act_node_new("pingpong");
	act_node_add_group(n, "a");
	act_node_add_group(n, "b");
	act_node_add_actor(n, "a", "ping", &ping_b, NULL);
	act_node_add_actor(n, "b", "pong", &pong_b, NULL);
	act_node_set_spin_us(n, "a", spin_us);
	act_node_set_spin_us(n, "b", spin_us);
	uint64_t t0 = act_now_ns();
	int rc = act_node_run(n);
	uint64_t dt = act_now_ns() - t0;
	act_node_free(n);
	ok(rc == 0, "%s: node ran and stopped cleanly", mode);
	ok(A->pongs_seen == ROUNDS && A->pings_seen == ROUNDS && A->last == ROUNDS,
	   "%s: %d round trips, every one answered (%d pings, %d pongs)", mode, ROUNDS,
	   A->pings_seen, A->pongs_seen);
	ok(A->bad_counts == 0 && A->wrong_sender == 0, "%s: counts in order, sender right", mode);
	diag("%s: %.2f us per round trip including start/stop", mode, dt / 1e3 / ROUNDS);
}

int main(void)
{
	tap_timeout(120);
	A = shared_area(sizeof *A);
	run("spinning", 1000);
	run("sleeping", 0);
	return done_testing();
}
