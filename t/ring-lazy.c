/* SPDX-License-Identifier: MIT */
/*
 * t/ring-lazy.c - a ring nobody used costs no memory (issue 14).
 *
 * Rings are formatted by their producer on first use and marked in the
 * region's touched bitmap; nobody reads an untouched ring.  First the
 * ring-level contract on plain memory (an all-zero ring is a valid empty
 * one; the first reservation formats it and sets the bit; a size refusal
 * made before that is kept), then a node of 64 groups where one pair
 * streams, the receiver is killed mid-stream and restarted: nothing lost,
 * order kept, the region holds a few pages per group instead of one per
 * ring, and only the rings that carried something are touched.  Then the
 * same with a hot standby for the receiver: it attached while the ring
 * was untouched, and must find what its predecessor left there.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tap.h"
#include "harness.h"
#include "ring.h"

#define N_GROUPS 64
#define N 5000
#define KILL_AT 1000
#define CAP 4096u

/* ---- 1. the ring alone --------------------------------------------------------------- */

static void ring_alone(void)
{
	/* aligned_alloc wants a size that is a multiple of the alignment. */
	size_t bytes = (act__ring_bytes(CAP) + 4095u) & ~(size_t)4095u;
	unsigned char *mem = aligned_alloc(4096, bytes);
	_Atomic uint64_t word = 0;
	act__ring_h p, c, v;
	uint64_t pos;
	uint32_t count;
	int err;

	if (!mem)
		bail("out of memory");
	memset(mem, 0, bytes);
	struct act__ring *r = (struct act__ring *)mem;

	act__ring_attach_lazy(&c, mem, CAP, 512, 3, 4, 77, &word, 1u << 5);
	ok(act__ring_peek(&c, &err) == NULL && err == 0, "an all-zero ring reads as empty");
	ok(!act__ring_inflight(r, &pos, &count), "an all-zero ring has nothing in flight");
	act__ring_attach_lazy(&p, mem, CAP, 512, 3, 4, 77, &word, 1u << 5);
	struct act__rec *rec = act__ring_reserve(&p, 64, &err);
	ok(rec && err == 0, "the first reservation succeeds");
	ok(r->magic == ACT__RING_MAGIC && r->cap == CAP && r->max_rec == 512 && r->from == 3 &&
	   r->to == 4 && r->generation == 77, "and formatted the header with the given constants");
	ok(atomic_load(&word) == 1u << 5, "and set the ring's touched bit, and only it");
	rec->len = 64;
	rec->kind = ACT__REC_MSG;
	rec->flags = 0;
	act__ring_commit(&p, rec);
	const struct act__rec *got = act__ring_peek(&c, &err);
	ok(got && got->len == 64 && act__ring_begin(&c) == 0,
	   "a consumer attached before the format reads the record, as a first delivery");
	act__ring_release(&c);
	ok(act__ring_attach(&v, mem, act__ring_bytes(CAP), 3, 4, 77) == 0,
	   "the formatted header validates like one made at creation");
	ok(act__ring_attach(&v, mem, act__ring_bytes(CAP), 3, 4, 78) == -EPROTO,
	   "and still names its generation");

	/* A size refusal on a ring never used: counted where status looks. */
	memset(mem, 0, bytes);
	atomic_store(&word, 0);
	act__ring_attach_lazy(&p, mem, CAP, 512, 3, 4, 77, &word, 1u << 5);
	ok(act__ring_reserve(&p, 600, &err) == NULL && err == -EMSGSIZE,
	   "an oversized record on an untouched ring is refused");
	ok(r->magic == ACT__RING_MAGIC && atomic_load(&word) == 1u << 5 &&
	   atomic_load(&r->n_refused_size) == 1,
	   "and counted in a formatted, touched ring (status reads touched rings only)");
	rec = act__ring_reserve(&p, 64, &err);
	ok(rec && err == 0 && atomic_load(&r->n_refused_size) == 1,
	   "the next reservation works and keeps the count");
	free(mem);
}

/* ---- 2. a node of 64 groups ---------------------------------------------------------- */

typedef struct { int64_t seq; } seq_msg;
ACT_MESSAGE_TYPE(seq_type, seq_msg, "Seq", ACT_FIELD(seq_msg, seq, ACT_I64));

struct area {
	_Atomic int sink_starts, send_errors, killed, order_errors, dup;
	_Atomic int64_t next;          /* the next seq the sink expects */
	_Atomic int handled;
	/* from the inspect hook */
	long alloc_kib;
	int n_touched, pair_touched, idle_touched;
};
static struct area *A;

static void src_start(act_ctx *ctx, void *st, const void *m)
{
	act_timer_periodic(ctx, 1, 1);
}

/* Sends in chunks, backing off on a full ring; stops the node at the end. */
static int64_t sent;
static void src_tick(act_ctx *ctx, void *st, const void *m)
{
	act_ref sink;
	if (act_lookup(ctx, "g1", &sink))
		return;
	while (sent < N) {
		seq_msg s = { sent };
		int rc = act_send(ctx, sink, &seq_type, &s);
		if (rc == ACT_EFULL)
			return;
		if (rc)
			A->send_errors++;
		sent++;
	}
	if (A->handled >= N)
		act_shutdown(ctx);
}

static void sink_start(act_ctx *ctx, void *st, const void *m)
{
	A->sink_starts++;
}

static void sink_seq(act_ctx *ctx, void *st, const void *m)
{
	int64_t seq = ((const seq_msg *)m)->seq;
	if (seq == KILL_AT && !A->killed) {
		A->killed = 1;
		raise(SIGKILL); /* mid-stream: the rest waits in the ring */
	}
	if (seq < A->next)
		A->dup++;
	else if (seq != A->next)
		A->order_errors++;
	if (seq >= A->next) {
		A->next = seq + 1;
		A->handled++;
	}
}

static void idle_start(act_ctx *ctx, void *st, const void *m) { }

static const act_handler src_h[] = { { &act_start_type, src_start },
                                     { &act_timeout_type, src_tick } };
static const act_behaviour src_b = { .name = "src", .handlers = src_h, .n_handlers = 2 };
static const act_handler sink_h[] = { { &act_start_type, sink_start }, { &seq_type, sink_seq } };
static const act_behaviour sink_b = { .name = "sink", .handlers = sink_h, .n_handlers = 2 };
static const act_handler idle_h[] = { { &act_start_type, idle_start } };
static const act_behaviour idle_b = { .name = "idle", .handlers = idle_h, .n_handlers = 1 };

static void inspect(struct act_node *n)
{
	struct stat st;
	A->n_touched = 0;
	uint32_t np = n->shm.n_parts;

	A->alloc_kib = fstat(n->shm.fd, &st) == 0 ? (long)(st.st_blocks / 2) : -1;
	for (uint32_t f = 0; f < np; f++)
		for (uint32_t t = 0; t < np; t++)
			A->n_touched += act__shm_ring_touched(&n->shm, f, t);
	/* g0 is participant 1, g1 participant 2. */
	A->pair_touched = act__shm_ring_touched(&n->shm, 1, 2);
	A->idle_touched = act__shm_ring_touched(&n->shm, 5, 9) + act__shm_ring_touched(&n->shm, 2, 1);
}

static void node_run(bool standby)
{
	char name[16];
	act_node_t *n = act_node_new("ring-lazy");
	const char *how = standby ? "standby" : "fork";

	memset(A, 0, sizeof *A);
	sent = 0;
	for (int i = 0; i < N_GROUPS; i++) {
		snprintf(name, sizeof name, "g%d", i);
		act_node_add_group(n, name);
		act_node_add_actor(n, name, name, i == 0 ? &src_b : i == 1 ? &sink_b : &idle_b, NULL);
	}
	if (standby)
		act_node_set_hot_standby(n, "g1", true);
	act__node_inspect_hook = inspect;
	int rc = act_node_run(n);
	act_node_free(n);
	ok(rc == 0, "%s: node of %d groups ran and stopped cleanly (rc %d)", how, N_GROUPS, rc);
	ok(A->killed == 1 && A->sink_starts == 2,
	   "%s: the sink was killed mid-stream and restarted (%d starts)", how, A->sink_starts);
	ok(A->handled == N && A->send_errors == 0,
	   "%s: every envelope arrived (%d of %d, %d send errors)", how, A->handled, N,
	   A->send_errors);
	ok(A->order_errors == 0 && A->dup == 0,
	   "%s: in order, none twice (%d out of order, %d twice)", how, A->order_errors, A->dup);
	if (standby)
		return; /* the figures below are the plain run's */
	ok(A->pair_touched == 1 && A->idle_touched == 0,
	   "the streaming pair's ring is touched; rings that carried nothing are not");
	/* Each group talks to the supervisor both ways (Start, READY): about
	 * 2 rings a group; before layout 8 all 65 * 65 were formatted. */
	ok(A->n_touched > 0 && A->n_touched <= 3 * (N_GROUPS + 1),
	   "%d of %d rings touched", A->n_touched, (N_GROUPS + 1) * (N_GROUPS + 1));
	/* Was 17.5 MiB (a page per ring) with every ring formatted up front. */
	ok(A->alloc_kib > 0 && A->alloc_kib < 4096,
	   "the region's memfd holds %ld KiB for %d groups (under 4 MiB)", A->alloc_kib, N_GROUPS);
}

int main(void)
{
	tap_timeout(120);
	A = shared_area(sizeof *A);
	ring_alone();
	node_run(false);
	node_run(true);
	return done_testing();
}
