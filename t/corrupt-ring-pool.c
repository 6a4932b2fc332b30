/* SPDX-License-Identifier: MIT */
/*
 * t/corrupt-ring-pool.c - a sender whose ring to one member of a
 * pool failed validation when its worker started (here: the ring's bit in
 * the touched bitmap set, its header never written) sends into that ring
 * no more (ACT_ESTOPPED), so the pool's routing must not pick that member:
 * least_loaded must not take it for the least loaded, round_robin must
 * skip it.  Every send goes to the other member, none is refused.
 */
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "harness.h"

#define N 200

typedef struct { int64_t n; } job_msg;
ACT_MESSAGE_TYPE(job_type, job_msg, "CrpJob", ACT_FIELD(job_msg, n, ACT_I64));

struct area {
	_Atomic int watchdog, bit_set, sender_starts, sent_ok, refused, other_err;
	_Atomic int handled, sender_idx, member0_idx;
};
static struct area *A;

/* Participant index of the group named name, or -1. */
static int part_of(unsigned char *base, const char *name)
{
	struct act__region *h = (struct act__region *)base;
	for (uint32_t i = 1; i < h->n_parts; i++) {
		struct act__part *p = (struct act__part *)(base + h->parts_off) + i;
		if (!strcmp(p->name, name))
			return (int)i;
	}
	return -1;
}

/* Sets the touched bit of (sender -> pool#0), a ring nobody formatted. */
static void vandal_start(act_ctx *ctx, void *st, const void *m)
{
	unsigned char *base = harness_find_region();
	if (!base)
		return;
	struct act__region *h = (struct act__region *)base;
	int from = part_of(base, "senders"), to = part_of(base, "pool#0");
	if (from < 0 || to < 0)
		return;
	A->sender_idx = from;
	A->member0_idx = to;
	_Atomic uint64_t *bits = (_Atomic uint64_t *)(base + h->touched_off);
	uint64_t bit = (uint64_t)from * h->n_parts + (uint64_t)to;
	atomic_fetch_or(&bits[bit / 64u], 1ull << (bit % 64u));
	A->bit_set = 1;
}

/* First instance: attached before the bit was set, so it would format the
 * ring on its first send; it waits for the vandal and dies instead.  The
 * next one finds the bit set over an all-zero header. */
static void sender_start(act_ctx *ctx, void *st, const void *m)
{
	if (A->sender_starts++ == 0) {
		for (int i = 0; i < 5000 && !A->bit_set; i++)
			usleep(1000);
		raise(SIGKILL);
	}
	act_ref w;
	if (act_lookup(ctx, "w", &w)) {
		act_shutdown(ctx);
		return;
	}
	for (int i = 0; i < N; i++) {
		job_msg j = { i };
		int rc = act_send(ctx, w, &job_type, &j);
		if (rc == 0)
			A->sent_ok++;
		else if (rc == ACT_ESTOPPED)
			A->refused++;
		else
			A->other_err++;
	}
	if (A->sent_ok != N)
		act_shutdown(ctx);
}

static void w_job(act_ctx *ctx, void *st, const void *m)
{
	if (++A->handled == N)
		act_shutdown(ctx);
}

static const act_handler vandal_h[] = { { &act_start_type, vandal_start } };
static const act_behaviour vandal_b = { .name = "vandal", .handlers = vandal_h, .n_handlers = 1 };
static const act_handler sender_h[] = { { &act_start_type, sender_start } };
static const act_behaviour sender_b = { .name = "sender", .handlers = sender_h, .n_handlers = 1 };
static const act_handler w_h[] = { { &job_type, w_job } };
static const act_behaviour w_b = { .name = "w", .handlers = w_h, .n_handlers = 1 };

static void run(act_pool_routing routing, const char *rname)
{
	memset(A, 0, sizeof *A);
	A->sender_idx = A->member0_idx = -1;

	act_node_t *n = act_node_new("corrupt-ring-pool");
	act_node_add_group(n, "vandals");
	act_node_add_group(n, "pool");
	act_node_add_group(n, "senders");
	act_node_add_actor(n, "vandals", "vandal", &vandal_b, NULL);
	act_node_add_actor(n, "pool", "w", &w_b, NULL);
	act_node_add_actor(n, "senders", "s", &sender_b, NULL);
	act_node_add_actor(n, "vandals", "watchdog", &harness_watchdog_b, NULL);
	if (act_node_set_pool(n, "pool", 2) || act_node_set_pool_routing(n, "pool", routing, NULL))
		bail("cannot make the pool");
	harness_watchdog_ms = 10000;
	harness_watchdog_fired = &A->watchdog;
	int rc = act_node_run(n);
	act_node_free(n);

	ok(A->sender_idx > 0 && A->member0_idx > 0 && A->bit_set,
	   "%s: the vandal set the touched bit of senders (%d) -> pool#0 (%d)", rname,
	   A->sender_idx, A->member0_idx);
	ok(A->sender_starts == 2, "%s: the sender started again after that (%d starts)", rname,
	   A->sender_starts);
	ok(A->sent_ok == N && A->refused == 0 && A->other_err == 0,
	   "%s sent all %d to the member it can reach (%d sent, %d refused "
	   "ACT_ESTOPPED, %d other errors)", rname, N, A->sent_ok, A->refused, A->other_err);
	ok(A->handled == N, "%s: the pool handled all %d (%d)", rname, N, A->handled);
	ok(!A->watchdog && rc == 0, "%s: the node stopped by itself, cleanly (rc %d)", rname, rc);
}

int main(void)
{
	tap_timeout(60);
	A = shared_area(sizeof *A);
	run(ACT_POOL_LEAST_LOADED, "least_loaded");
	run(ACT_POOL_ROUND_ROBIN, "round_robin");
	return done_testing();
}
