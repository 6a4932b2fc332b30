/* SPDX-License-Identifier: MIT */
/*
 * t/reply-full.c - the answer to an ask that finds the ring to the asker's
 * group full is not lost: it waits in the replier's worker (with the Downs
 * that wait for room) and goes, in order, when the asker's group makes
 * room.  Before, act_reply() returned ACT_EFULL, which the replier cannot
 * act on after its handler, and the ask timed out.
 *
 * Group a holds the asker "q", group b the replier "r".  q asks r twice
 * (Req 1 and 2), then blocks its worker (spinning until released).  r, on
 * Req 1, fills the ring to a with Fills until one is refused, answers
 * (the ring is full: the answer waits), and checks that a plain send to q
 * is refused (it would overtake the answer).  On Req 2 it answers again:
 * that one waits behind the first, though the ring may have room by then.
 * q's plain Note after its asks gets a plain reply, refused while the
 * answers wait (it would overtake them).  Then r releases q, waits until
 * q has read every Fill and stops q: the stop goes behind the answers.
 * q must get every Fill, then answer 1, then answer 2, then Shutdown.
 */
#include <stdatomic.h>
#include <string.h>

#include "tap.h"
#include "harness.h"

typedef struct { int32_t v; } num_msg;
ACT_MESSAGE_TYPE(req_type, num_msg, "RfReq", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(ans_type, num_msg, "RfAns", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(block_type, num_msg, "RfBlock", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(fill_type, num_msg, "RfFill", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(note_type, num_msg, "RfNote", ACT_FIELD(num_msg, v, ACT_I32));

#define SPIN_MAX_NS 15000000000ull /* a spinning actor gives up after this */
#define ASK_MS 5000u               /* longer than any wait here, on a healthy run */

struct area {
	_Atomic int fail, blocked, release, gave_up;
	_Atomic int fills_sent, fills_got, fills_bad, full_seen;
	_Atomic int reply_rc[3], after_rc, plain_rc;
	_Atomic int answers, answer_bad, answer_order[2], fills_before[2], status[2];
	_Atomic int watchdog, fills_drained, stop_rc, shutdowns;
};
static struct area *A;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Spins until *flag is set; false if it gave up. */
static bool spin_until(_Atomic int *flag)
{
	uint64_t end = mono_ns() + SPIN_MAX_NS;
	while (!atomic_load(flag))
		if (mono_ns() > end) {
			atomic_store(&A->gave_up, 1);
			return false;
		}
	return true;
}

/* ---- group a: the asker ---------------------------------------------------------- */

static void q_answer(act_ctx *ctx, void *st, int status, const act_type *t, const void *reply,
                     uint64_t cookie)
{
	int k = atomic_fetch_add(&A->answers, 1);
	(void)st;
	if (k > 1 || cookie < 1 || cookie > 2) {
		atomic_fetch_add(&A->answer_bad, 1);
		return;
	}
	atomic_store(&A->status[k], status);
	atomic_store(&A->answer_order[k], (int)cookie);
	atomic_store(&A->fills_before[k], atomic_load(&A->fills_got));
	if (!status && (t != &ans_type || ((const num_msg *)reply)->v != (int)cookie * 10))
		atomic_fetch_add(&A->answer_bad, 1);
	if (k == 1)
		act_shutdown(ctx);
}
static void q_shutdown(act_ctx *ctx, void *st, const void *m)
{
	(void)ctx, (void)st, (void)m;
	/* Stopped by r's act_stop, or at the node's end: after the answers. */
	if (atomic_load(&A->answers) != 2)
		atomic_fetch_add(&A->answer_bad, 1);
	atomic_fetch_add(&A->shutdowns, 1);
}
static void q_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r;
	(void)st, (void)m;
	if (act_lookup(ctx, "r", &r) ||
	    act_ask(ctx, r, &req_type, &(num_msg){ 1 }, ASK_MS, q_answer, 1) ||
	    act_ask(ctx, r, &req_type, &(num_msg){ 2 }, ASK_MS, q_answer, 2) ||
	    act_send(ctx, r, &note_type, &(num_msg){ 0 }) ||
	    act_send(ctx, act_self(ctx), &block_type, &(num_msg){ 0 })) {
		atomic_fetch_add(&A->fail, 1);
		act_shutdown(ctx);
	}
}
static void q_block(act_ctx *ctx, void *st, const void *m)
{
	(void)ctx, (void)st, (void)m;
	atomic_store(&A->blocked, 1);
	spin_until(&A->release);
}
static void q_fill(act_ctx *ctx, void *st, const void *m)
{
	const num_msg *f = m;
	(void)ctx, (void)st;
	if (f->v != atomic_load(&A->fills_got) || atomic_load(&A->answers))
		atomic_fetch_add(&A->fills_bad, 1);
	if (atomic_fetch_add(&A->fills_got, 1) + 1 == atomic_load(&A->fills_sent))
		atomic_store(&A->fills_drained, 1);
}
static const act_handler q_h[] = {
	{ &act_start_type, q_start }, { &block_type, q_block }, { &fill_type, q_fill },
	{ &act_shutdown_type, q_shutdown },
};
static const act_behaviour q_b = { .name = "rf-asker", .handlers = q_h, .n_handlers = 4 };

/* ---- group b: the replier -------------------------------------------------------- */

static void r_req(act_ctx *ctx, void *st, const void *m)
{
	int v = ((const num_msg *)m)->v, err = 0;
	act_ref q = act_sender(ctx);
	(void)st;
	if (v == 1) {
		if (!spin_until(&A->blocked))
			return;
		for (int i = 0; i < 1000000; i++) {
			if ((err = act_send(ctx, q, &fill_type, &(num_msg){ i })))
				break;
			atomic_fetch_add(&A->fills_sent, 1);
		}
		atomic_store(&A->full_seen, err == ACT_EFULL);
	}
	atomic_store(&A->reply_rc[v], act_reply(ctx, &ans_type, &(num_msg){ v * 10 }));
	if (v == 1)
		atomic_store(&A->after_rc, act_send(ctx, q, &fill_type, &(num_msg){ -1 }));
}
/* A plain message from q (after its asks): a plain reply would overtake
 * the answers that wait, so it is refused; then q is let go. */
static void r_note(act_ctx *ctx, void *st, const void *m)
{
	act_ref q = act_sender(ctx);
	(void)st, (void)m;
	atomic_store(&A->plain_rc, act_reply(ctx, &fill_type, &(num_msg){ -2 }));
	atomic_store(&A->release, 1);
	/* Once q has read every Fill, its ring has room, but this worker
	 * has not looked at its waiting answers since (no turn of its
	 * loop): a stop of q must not overtake them. */
	if (!spin_until(&A->fills_drained))
		return;
	atomic_store(&A->stop_rc, act_stop(ctx, q));
}
static const act_handler r_h[] = { { &req_type, r_req }, { &note_type, r_note } };
static const act_behaviour r_b = { .name = "rf-replier", .handlers = r_h, .n_handlers = 2 };

int main(void)
{
	tap_timeout(90);
	A = shared_area(sizeof *A);
	harness_watchdog_fired = &A->watchdog;
	harness_watchdog_ms = 30000;

	act_node_t *n = act_node_new("reply-full");
	act_node_add_group(n, "a");
	act_node_add_group(n, "b");
	act_node_add_actor(n, "a", "q", &q_b, NULL);
	act_node_add_actor(n, "b", "r", &r_b, NULL);
	act_node_add_actor(n, "b", "watchdog", &harness_watchdog_b, NULL);
	if (act_node_set_ring_bytes(n, "a", 65536))
		bail("node settings");
	harness_collect_counters();
	int rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0 && !A->watchdog, "node ran and stopped cleanly (rc %d, watchdog %d)", rc,
	   A->watchdog);
	ok(A->fail == 0 && !A->gave_up, "every lookup, ask and send succeeded (%d failures, gave "
	   "up %d)", A->fail, A->gave_up);
	ok(A->blocked && A->full_seen,
	   "r filled the ring to a while a was blocked (%d Fills, then ACT_EFULL)", A->fills_sent);
	ok(A->reply_rc[1] == 0, "the answer that found the ring full was taken (act_reply %d)",
	   A->reply_rc[1]);
	ok(A->after_rc == ACT_EFULL,
	   "a plain send after it to the same group is refused while it waits (%d)", A->after_rc);
	ok(A->reply_rc[2] == 0, "the second answer was taken too (act_reply %d)", A->reply_rc[2]);
	ok(A->plain_rc == ACT_EFULL,
	   "a plain act_reply to q is refused while the answers wait (%d)", A->plain_rc);
	ok(A->answers == 2 && A->status[0] == 0 && A->status[1] == 0 && !A->answer_bad,
	   "q got both answers, none timed out (%d answers, status %d %d, %d bad)", A->answers,
	   A->status[0], A->status[1], A->answer_bad);
	ok(A->answer_order[0] == 1 && A->answer_order[1] == 2, "in order (%d, %d)",
	   A->answer_order[0], A->answer_order[1]);
	ok(A->fills_got == A->fills_sent && !A->fills_bad && A->fills_before[0] == A->fills_sent,
	   "every Fill came before the answers, in order (%d of %d, %d out of order)", A->fills_got,
	   A->fills_sent, A->fills_bad);
	ok(A->stop_rc == 0 && A->shutdowns == 1,
	   "r's act_stop of q, with room in the ring and the answers still waiting in its "
	   "worker, went behind them (act_stop %d; q's Shutdown came after both answers)",
	   A->stop_rc);
	ok(counters[1].dead_letters == 0 && counters[2].dead_letters == 0,
	   "no dead letters in a or b (%llu, %llu)", (unsigned long long)counters[1].dead_letters,
	   (unsigned long long)counters[2].dead_letters);
	return done_testing();
}
