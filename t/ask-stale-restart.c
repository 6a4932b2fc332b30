/* SPDX-License-Identifier: MIT */
/*
 * t/ask-stale-restart.c - the answer to an ask made by a worker that
 * crashed does not complete an ask of the restarted worker.
 *
 * Group a holds the asker "q", group b the replier "r".  q asks r (Req 1)
 * in its first Start and kills its worker.  r holds the answer until q's
 * restarted worker has asked again (Req 2, in its Start with restart set),
 * then answers Req 1, then Req 2.  The restarted q must get Ans 20 for its
 * ask, and Ans 10 must be a dead letter ("after its ask timed out"): before,
 * every worker numbered its asks from 1, so the first ask of the new one
 * had the old one's id and took the old answer.
 */
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "tap.h"
#include "harness.h"

typedef struct { int32_t v; } num_msg;
ACT_MESSAGE_TYPE(req_type, num_msg, "AsrReq", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(ans_type, num_msg, "AsrAns", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(die_type, num_msg, "AsrDie", ACT_FIELD(num_msg, v, ACT_I32));

#define ASK_MS 10000u

struct area {
	_Atomic int fail, starts, asked_again, answers, got[4], status[4], late;
	_Atomic int watchdog, bombed;
	_Atomic int pending_req1; /* r holds Req 1's answer */
};
static struct area *A;

/* ---- group a: the asker ---------------------------------------------------------- */

static void q_answer(act_ctx *ctx, void *st, int status, const act_type *t, const void *reply,
                     uint64_t cookie)
{
	int k = atomic_fetch_add(&A->answers, 1);
	(void)st, (void)t;
	if (k < 4) {
		atomic_store(&A->status[k], status);
		atomic_store(&A->got[k], status ? -1 : ((const num_msg *)reply)->v + 1000 * (int)cookie);
	}
	act_shutdown(ctx);
}
static void q_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	act_ref r;
	int n = atomic_fetch_add(&A->starts, 1);
	(void)st;
	if (act_lookup(ctx, "r", &r) || act_ask(ctx, r, &req_type, &(num_msg){ n + 1 }, ASK_MS,
	                                        q_answer, (uint64_t)n + 1)) {
		atomic_fetch_add(&A->fail, 1);
		act_shutdown(ctx);
		return;
	}
	if (!s->restart) {
		if (act_send(ctx, act_self(ctx), &die_type, &(num_msg){ 0 }))
			atomic_fetch_add(&A->fail, 1);
	} else {
		atomic_store(&A->asked_again, 1);
	}
}
static void q_die(act_ctx *ctx, void *st, const void *m)
{
	(void)ctx, (void)st, (void)m;
	if (!atomic_exchange(&A->bombed, 1)) /* once: a redelivered Die is handled */
		raise(SIGKILL);
}
static const act_handler q_h[] = { { &act_start_type, q_start }, { &die_type, q_die } };
static const act_behaviour q_b = { .name = "asr-asker", .handlers = q_h, .n_handlers = 2 };

/* ---- group b: the replier -------------------------------------------------------- */

/* Req 1 waits (r polls with a timer) until the restarted q asked again. */
static void r_req(act_ctx *ctx, void *st, const void *m)
{
	int v = ((const num_msg *)m)->v;
	(void)st;
	if (v == 1) {
		/* Spin, bounded: q's restart takes milliseconds. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		time_t end = ts.tv_sec + 15;
		while (!atomic_load(&A->asked_again)) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			if (ts.tv_sec > end) {
				atomic_fetch_add(&A->fail, 1);
				break;
			}
		}
	}
	if (act_reply(ctx, &ans_type, &(num_msg){ v * 10 }))
		atomic_fetch_add(&A->fail, 1);
}
static const act_handler r_h[] = { { &req_type, r_req } };
static const act_behaviour r_b = { .name = "asr-replier", .handlers = r_h, .n_handlers = 1 };

int main(void)
{
	tap_timeout(90);
	A = shared_area(sizeof *A);
	harness_watchdog_fired = &A->watchdog;
	harness_watchdog_ms = 30000;

	act_node_t *n = act_node_new("ask-stale-restart");
	act_node_add_group(n, "a");
	act_node_add_group(n, "b");
	act_node_add_actor(n, "a", "q", &q_b, NULL);
	act_node_add_actor(n, "b", "r", &r_b, NULL);
	act_node_add_actor(n, "b", "watchdog", &harness_watchdog_b, NULL);
	act_node_set_intensity(n, 10, 10000);
	harness_collect_counters();
	int rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0 && !A->watchdog, "node ran and stopped cleanly (rc %d, watchdog %d)", rc,
	   A->watchdog);
	ok(A->fail == 0, "every lookup, ask and reply succeeded (%d failures)", A->fail);
	ok(A->starts == 2 && A->asked_again, "q's worker was killed and q asked again (%d Starts)",
	   A->starts);
	ok(A->answers == 1 && A->status[0] == 0 && A->got[0] == 2000 + 20,
	   "the restarted q's ask got its own answer, Ans 20 (%d answers, first %d, status %d)",
	   A->answers, A->got[0] - 2000, A->status[0]);
	ok(counters[1].dead_letters == 1,
	   "the answer to the lost worker's ask is a dead letter in a (%llu)",
	   (unsigned long long)counters[1].dead_letters);
	return done_testing();
}
