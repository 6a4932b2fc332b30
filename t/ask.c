/* SPDX-License-Identifier: MIT */
/*
 * t/ask.c - request/reply through whole nodes.  act_ask to an actor in
 * another group: the callback gets status 0, the reply's type and message
 * and the cookie, with the asker's state, and the reply never reaches the
 * handler table; an ask nobody answers completes with ACT_ETIMEDOUT no
 * earlier than its timeout; a reply after the timeout is a dead letter and
 * never reaches the callback; a second reply to one ask likewise; an ask
 * within a group; an ask forwarded by a relay is answered by the final
 * receiver; an ask to oneself; an ask made inside a completion; 1000 concurrent asks to two
 * groups each matched to its own reply by cookie; the error returns; and
 * the outstanding-ask limit (-ENOSPC), after which every ask still times
 * out exactly once and capacity comes back.
 */
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"

#define MS 1000000ull
#define N_MANY 1000
#define MANY_BASE 1000u
#define N_LIMIT_MAX 100000
#define SPIN_LIMIT_NS (10ull * 1000000000ull)

enum { Q_ASK = 0, Q_PLAIN = 1, Q_TWICE = 2 };

typedef struct { int32_t v; int32_t flags; } q_msg;
typedef struct { int32_t v; } answer_msg;
ACT_MESSAGE_TYPE(q_type, q_msg, "Question",
                 ACT_FIELD(q_msg, v, ACT_I32), ACT_FIELD(q_msg, flags, ACT_I32));
ACT_MESSAGE_TYPE(answer_type, answer_msg, "Answer", ACT_FIELD(answer_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(done_type, answer_msg, "Done", ACT_FIELD(answer_msg, v, ACT_I32));
/* Built by hand and never declared: no node knows it. */
static const act_field unreg_fields[] = { ACT_FIELD(answer_msg, v, ACT_I32) };
static const act_type unreg_type = { "Unregistered", sizeof(answer_msg), _Alignof(answer_msg), unreg_fields, 1 };

/* Cookies of the single asks. */
#define C_BASIC   0xC0FFEE0123456789ull
#define C_MUTE    7u
#define C_LATE    8u
#define C_LOCAL   9u
#define C_RELAY   10u
#define C_CHAIN   11u
#define C_TWICE   12u
#define C_SELF    13u
#define C_ERRORS  900000u  /* asks that failed to start: never completed */

struct area {
	_Atomic int watchdog;
	/* the main node */
	_Atomic int rc_nocb, rc_bogus, rc_nobody, rc_unreg, rc_chain;
	_Atomic int rc_ask[8];
	_Atomic int basic_status, basic_bad, basic_calls;
	_Atomic int mute_status, mute_bad, mute_calls;
	_Atomic uint64_t mute_t0, mute_t1, late_t0, late_t1;
	_Atomic int late_status, late_calls, late_timed_out, late_rc_reply, late_gave_up;
	_Atomic int local_status, local_bad, local_calls;
	_Atomic int relay_status, relay_bad, relay_calls, rc_relay_fwd;
	_Atomic int chain_status, chain_bad, chain_calls;
	_Atomic int twice_status, twice_calls, twice_rc2, acks;
	_Atomic int self_status, self_bad, self_calls;
	_Atomic int handler_answers, handler_answer_bad, done_seen;
	_Atomic int bogus_cb, wrong_state, echo_wrong_sender;
	_Atomic int many_started, many_bad;
	_Atomic unsigned char many_got[N_MANY];
	/* the limit node */
	_Atomic int n_started, rc_stop, limit_calls, limit_bad, limit_questions;
	_Atomic int rc_after, after_status, after_calls;
	_Atomic unsigned char limit_got[N_LIMIT_MAX];
};
static struct area *A;

static act_ref lookup(act_ctx *ctx, const char *name)
{
	act_ref r = ACT_NOBODY;
	act_lookup(ctx, name, &r);
	return r;
}

/*
 * The watchdog: an extra actor that stops the node if the scenario got
 * stuck, so that its assertions fail instead of the whole test timing out.
 */
#define WATCHDOG_MS 15000

/* The shared watchdog of t/harness.h. */
#define watchdog_b harness_watchdog_b

/* ==== repliers ================================================================ */

/* echo, echo2, local: answer v * 2; Q_TWICE answers twice then sends Done. */
static void echo_q(act_ctx *ctx, void *st, const void *m)
{
	const q_msg *q = m;
	answer_msg a = { q->v * 2 };
	const char *from = act_ref_name(ctx, act_sender(ctx));

	if (!from || strcmp(from, "asker"))
		atomic_fetch_add(&A->echo_wrong_sender, 1);
	act_reply(ctx, &answer_type, &a);
	if (q->flags == Q_TWICE) {
		answer_msg b = { -1 };
		A->twice_rc2 = act_reply(ctx, &answer_type, &b);
		/* Same ring, so it is handled after the second reply. */
		answer_msg ack = { 0 };
		act_send(ctx, act_sender(ctx), &done_type, &ack);
	}
}

/* mute: never answers. */
static void mute_q(act_ctx *ctx, void *st, const void *m)
{
	atomic_fetch_add(&A->limit_questions, 1);
}

/* relay: hands the ask on; the final receiver's reply goes to the asker. */
static void relay_q(act_ctx *ctx, void *st, const void *m)
{
	A->rc_relay_fwd = act_forward(ctx, lookup(ctx, "echo"));
}

/* late: answers only once the asker has seen its ask time out. */
static void late_q(act_ctx *ctx, void *st, const void *m)
{
	const q_msg *q = m;
	uint64_t deadline = act_now_ns() + SPIN_LIMIT_NS;

	while (!atomic_load(&A->late_timed_out))
		if (act_now_ns() > deadline) {
			A->late_gave_up = 1;
			break;
		}
	answer_msg a = { q->v * 2 };
	A->late_rc_reply = act_reply(ctx, &answer_type, &a);
	/* Same ring as the reply: the asker handles Done after the late reply. */
	answer_msg d = { 1 };
	act_send(ctx, act_sender(ctx), &done_type, &d);
}

static const act_handler echo_h[] = { { &q_type, echo_q } };
static const act_handler mute_h[] = { { &q_type, mute_q } };
static const act_handler relay_h[] = { { &q_type, relay_q } };
static const act_handler late_h[] = { { &q_type, late_q } };
static const act_behaviour echo_b = { .name = "echo", .handlers = echo_h, .n_handlers = 1 };
static const act_behaviour mute_b = { .name = "mute", .handlers = mute_h, .n_handlers = 1 };
static const act_behaviour relay_b = { .name = "relay", .handlers = relay_h, .n_handlers = 1 };
static const act_behaviour late_b = { .name = "late", .handlers = late_h, .n_handlers = 1 };

/* ==== the asker ================================================================ */

#define MAGIC 0x5a5a1234

struct asker_state {
	int magic;
	int pending;          /* completions and messages still expected */
	act_ref echo, echo2;
};

static void one_done(act_ctx *ctx, struct asker_state *s)
{
	if (--s->pending == 0)
		act_shutdown(ctx);
}

static int is_answer(int status, const act_type *t, const void *reply, int32_t v)
{
	return status == 0 && t == &answer_type && reply && ((const answer_msg *)reply)->v == v;
}

static void asker_cb(act_ctx *ctx, void *st, int status, const act_type *t, const void *reply,
                     uint64_t cookie);

static void chain_cb(act_ctx *ctx, void *st, int status, const act_type *t, const void *reply,
                     uint64_t cookie)
{
	struct asker_state *s = st;
	if (s->magic != MAGIC)
		atomic_fetch_add(&A->wrong_state, 1);
	A->chain_status = status;
	A->chain_bad = !is_answer(status, t, reply, 22) || cookie != C_CHAIN;
	atomic_fetch_add(&A->chain_calls, 1);
	one_done(ctx, s);
}

static void asker_cb(act_ctx *ctx, void *st, int status, const act_type *t, const void *reply,
                     uint64_t cookie)
{
	struct asker_state *s = st;
	const char *from = act_ref_name(ctx, act_sender(ctx));

	if (s->magic != MAGIC)
		atomic_fetch_add(&A->wrong_state, 1);
	if (cookie >= MANY_BASE && cookie < MANY_BASE + N_MANY) {
		uint32_t i = (uint32_t)(cookie - MANY_BASE);
		const char *want = i % 2 ? "echo2" : "echo";
		if (!is_answer(status, t, reply, (int32_t)i * 2) || !from || strcmp(from, want))
			atomic_fetch_add(&A->many_bad, 1);
		A->many_got[i]++;
		one_done(ctx, s);
		return;
	}
	switch (cookie) {
	case C_BASIC: {
		A->basic_status = status;
		A->basic_bad = !is_answer(status, t, reply, 42) || act_msg_type(ctx) != &answer_type ||
		               !from || strcmp(from, "echo");
		atomic_fetch_add(&A->basic_calls, 1);
		/* An ask from inside a completion. */
		q_msg q = { 11, Q_ASK };
		A->rc_chain = act_ask(ctx, s->echo2, &q_type, &q, 10000, chain_cb, C_CHAIN);
		if (A->rc_chain)
			one_done(ctx, s); /* chain_cb will not come */
		break;
	}
	case C_MUTE:
		A->mute_t1 = act_now_ns();
		A->mute_status = status;
		A->mute_bad = t != NULL || reply != NULL || !act_ref_is_nobody(act_sender(ctx));
		atomic_fetch_add(&A->mute_calls, 1);
		break;
	case C_LATE:
		A->late_t1 = act_now_ns();
		A->late_status = status;
		atomic_fetch_add(&A->late_calls, 1);
		atomic_store(&A->late_timed_out, 1);
		break;
	case C_LOCAL:
		A->local_status = status;
		A->local_bad = !is_answer(status, t, reply, 6) || !from || strcmp(from, "local");
		atomic_fetch_add(&A->local_calls, 1);
		break;
	case C_RELAY:
		A->relay_status = status;
		A->relay_bad = !is_answer(status, t, reply, 100) || !from || strcmp(from, "echo");
		atomic_fetch_add(&A->relay_calls, 1);
		break;
	case C_SELF:
		A->self_status = status;
		A->self_bad = !is_answer(status, t, reply, 16) || !from || strcmp(from, "asker");
		atomic_fetch_add(&A->self_calls, 1);
		break;
	case C_TWICE:
		A->twice_status = status;
		if (!is_answer(status, t, reply, 26))
			A->twice_status = 12345;
		atomic_fetch_add(&A->twice_calls, 1);
		break;
	default:
		atomic_fetch_add(&A->bogus_cb, 1);
		return;
	}
	one_done(ctx, s);
}

static void asker_start(act_ctx *ctx, void *st, const void *m)
{
	struct asker_state *s = st;
	q_msg q = { 0, Q_ASK };
	answer_msg u = { 0 };
	act_ref echo = lookup(ctx, "echo");
	int i = 0;

	s->magic = MAGIC;
	s->echo = echo;
	s->echo2 = lookup(ctx, "echo2");

	/* Asks that cannot start: no completion may ever come for them. */
	A->rc_nocb = act_ask(ctx, echo, &q_type, &q, 1000, NULL, C_ERRORS);
	A->rc_bogus = act_ask(ctx, (act_ref){ 9999, 0, 0 }, &q_type, &q, 1000, asker_cb, C_ERRORS);
	A->rc_nobody = act_ask(ctx, ACT_NOBODY, &q_type, &q, 1000, asker_cb, C_ERRORS);
	A->rc_unreg = act_ask(ctx, echo, &unreg_type, &u, 1000, asker_cb, C_ERRORS);

	/* pending: 7 single asks + the chained ask + the plain reply + the
	 * Done after the late reply + the Done after the double reply. */
	s->pending = 7 + 1 + 1 + 1 + 1 + N_MANY;

	q.v = 21;
	A->rc_ask[i++] = act_ask(ctx, echo, &q_type, &q, 10000, asker_cb, C_BASIC);
	q.v = 0;
	A->mute_t0 = act_now_ns();
	A->rc_ask[i++] = act_ask(ctx, lookup(ctx, "mute"), &q_type, &q, 100, asker_cb, C_MUTE);
	q.v = 4;
	A->late_t0 = act_now_ns();
	A->rc_ask[i++] = act_ask(ctx, lookup(ctx, "late"), &q_type, &q, 100, asker_cb, C_LATE);
	q.v = 3;
	A->rc_ask[i++] = act_ask(ctx, lookup(ctx, "local"), &q_type, &q, 10000, asker_cb, C_LOCAL);
	q.v = 50;
	A->rc_ask[i++] = act_ask(ctx, lookup(ctx, "relay"), &q_type, &q, 10000, asker_cb, C_RELAY);
	q.v = 13;
	q.flags = Q_TWICE;
	A->rc_ask[i++] = act_ask(ctx, echo, &q_type, &q, 10000, asker_cb, C_TWICE);
	q.v = 8;
	q.flags = Q_ASK;
	A->rc_ask[i++] = act_ask(ctx, act_self(ctx), &q_type, &q, 10000, asker_cb, C_SELF);
	/* A plain send: its reply is an ordinary message for the handler table. */
	q.v = 5;
	q.flags = Q_PLAIN;
	A->rc_ask[i++] = act_send(ctx, echo, &q_type, &q);

	q.flags = Q_ASK;
	for (uint32_t k = 0; k < N_MANY; k++) {
		q.v = (int32_t)k;
		if (act_ask(ctx, k % 2 ? s->echo2 : echo, &q_type, &q, 10000, asker_cb, MANY_BASE + k))
			break;
		A->many_started++;
	}
	if (A->many_started != N_MANY)
		act_shutdown(ctx);
	for (int k = 0; k < i; k++)
		if (A->rc_ask[k])
			act_shutdown(ctx);
}

static void asker_answer(act_ctx *ctx, void *st, const void *m)
{
	const answer_msg *a = m;
	atomic_fetch_add(&A->handler_answers, 1);
	if (a->v != 10)
		atomic_fetch_add(&A->handler_answer_bad, 1);
	one_done(ctx, st);
}

static void asker_done(act_ctx *ctx, void *st, const void *m)
{
	const answer_msg *d = m;
	if (d->v == 1)
		atomic_fetch_add(&A->done_seen, 1);
	else
		atomic_fetch_add(&A->acks, 1);
	one_done(ctx, st);
}

static const act_handler asker_h[] = {
	{ &act_start_type, asker_start },
	{ &q_type, echo_q },
	{ &answer_type, asker_answer },
	{ &done_type, asker_done },
};
static const act_behaviour asker_b = {
	.name = "asker", .state_size = sizeof(struct asker_state),
	.handlers = asker_h, .n_handlers = 4,
};

static void test_ask(void)
{
	int err;

	memset(A, 0, sizeof *A);
	act_node_t *n = act_node_new("ask");
	if (!n)
		bail("act_node_new");
	err = act_node_add_group(n, "a");
	if (!err) err = act_node_add_group(n, "b");
	if (!err) err = act_node_add_group(n, "c");
	if (!err) err = act_node_add_actor(n, "a", "asker", &asker_b, NULL);
	if (!err) err = act_node_add_actor(n, "a", "local", &echo_b, NULL);
	if (!err) err = act_node_add_actor(n, "b", "echo", &echo_b, NULL);
	if (!err) err = act_node_add_actor(n, "b", "mute", &mute_b, NULL);
	if (!err) err = act_node_add_actor(n, "b", "relay", &relay_b, NULL);
	if (!err) err = act_node_add_actor(n, "c", "late", &late_b, NULL);
	if (!err) err = act_node_add_actor(n, "c", "echo2", &echo_b, NULL);
	if (!err) err = act_node_add_actor(n, "c", "watchdog", &watchdog_b, NULL);
	if (err)
		bail("ask: declaring the node failed: %s", act_strerror(err));
	harness_collect_counters();
	int rc = act_node_run(n);
	act_node_free(n);
	if (A->watchdog) {
		diag("ask: the watchdog stopped the node after %d ms", WATCHDOG_MS);
		rc = -ETIMEDOUT;
	}

	ok(rc == 0, "ask: node ran and stopped cleanly (rc %d)", rc);
	ok(A->rc_nocb == -EINVAL && A->rc_bogus == -ENOENT && A->rc_nobody == -ENOENT &&
	   A->rc_unreg == -EINVAL,
	   "act_ask errors: no callback -EINVAL, bogus ref and nobody -ENOENT, unregistered "
	   "type -EINVAL (%d %d %d %d)", A->rc_nocb, A->rc_bogus, A->rc_nobody, A->rc_unreg);
	int rcs = 1;
	for (int i = 0; i < 8; i++)
		rcs &= A->rc_ask[i] == 0;
	ok(rcs && A->many_started == N_MANY, "every other ask started (%d concurrent)",
	   A->many_started);
	ok(A->bogus_cb == 0, "asks that failed to start never complete");
	ok(A->basic_calls == 1 && A->basic_status == 0 && !A->basic_bad,
	   "cross-group ask: callback once with status 0, the reply's type and message, "
	   "the cookie, the replier as sender");
	ok(A->wrong_state == 0, "completions run with the asking actor's state");
	ok(A->handler_answers == 1 && A->handler_answer_bad == 0,
	   "replies to asks never reach the handler table; the one plain reply does (%d)",
	   A->handler_answers);
	ok(A->echo_wrong_sender == 0, "the replier sees the asker as the sender");

	ok(A->mute_calls == 1 && A->mute_status == ACT_ETIMEDOUT && !A->mute_bad,
	   "unanswered ask: callback once with ACT_ETIMEDOUT, NULL type and reply (%d)",
	   A->mute_status);
	ok(A->mute_calls == 1 && A->mute_t1 - A->mute_t0 >= 100 * MS &&
	   A->mute_t1 - A->mute_t0 < 10000 * MS,
	   "... no earlier than its 100 ms timeout (%.2f ms)",
	   (double)(A->mute_t1 - A->mute_t0) / 1e6);

	ok(A->late_calls == 1 && A->late_status == ACT_ETIMEDOUT && !A->late_gave_up &&
	   A->late_t1 - A->late_t0 >= 100 * MS,
	   "late reply: the ask timed out first (%.2f ms)", (double)(A->late_t1 - A->late_t0) / 1e6);
	ok(A->late_rc_reply == 0 && A->done_seen == 1 && A->late_calls == 1,
	   "late reply: sent fine, handled before Done, and not given to the callback");
	ok(A->twice_calls == 1 && A->twice_status == 0 && A->twice_rc2 == 0 && A->acks == 1,
	   "a second reply to one ask is not given to the callback");
	ok(n_counted == 4 && counters[1].dead_letters == 2 && counters[1].unknown_type == 0,
	   "the late reply and the second reply are counted as dead letters (%llu, want 2)",
	   (unsigned long long)counters[1].dead_letters);

	ok(A->local_calls == 1 && A->local_status == 0 && !A->local_bad,
	   "ask within the group: status 0, right reply and replier");
	ok(A->self_calls == 1 && A->self_status == 0 && !A->self_bad,
	   "an actor can ask itself");
	ok(A->relay_calls == 1 && A->relay_status == 0 && !A->relay_bad && A->rc_relay_fwd == 0,
	   "a forwarded ask is answered to the asker's callback by the final receiver");
	ok(A->rc_chain == 0 && A->chain_calls == 1 && A->chain_status == 0 && !A->chain_bad,
	   "an ask made inside a completion completes too");

	int once = 1;
	for (int i = 0; i < N_MANY; i++)
		if (A->many_got[i] != 1)
			once = 0;
	ok(once && A->many_bad == 0,
	   "%d concurrent asks to two groups: each cookie completed once with its own reply "
	   "(%d mismatched)", N_MANY, A->many_bad);
	ok(counters[2].dead_letters == 0 && counters[3].dead_letters == 0,
	   "no dead letters at the repliers");
}

/* ==== the outstanding-ask limit ================================================ */

struct limiter_state { int n; act_ref mute; };

static void after_cb(act_ctx *ctx, void *st, int status, const act_type *t, const void *reply,
                     uint64_t cookie)
{
	A->after_status = status;
	atomic_fetch_add(&A->after_calls, 1);
	act_shutdown(ctx);
}

static void limit_cb(act_ctx *ctx, void *st, int status, const act_type *t, const void *reply,
                     uint64_t cookie)
{
	struct limiter_state *s = st;

	if (status != ACT_ETIMEDOUT || t || reply || cookie >= (uint64_t)s->n)
		atomic_fetch_add(&A->limit_bad, 1);
	else
		A->limit_got[cookie]++;
	if (atomic_fetch_add(&A->limit_calls, 1) + 1 == s->n) {
		/* Every slot is free again. */
		q_msg q = { 0, Q_ASK };
		A->rc_after = act_ask(ctx, s->mute, &q_type, &q, 10, after_cb, 0);
		if (A->rc_after)
			act_shutdown(ctx);
	}
}

static void limiter_start(act_ctx *ctx, void *st, const void *m)
{
	struct limiter_state *s = st;
	q_msg q = { 0, Q_ASK };
	int err = 0;

	s->mute = lookup(ctx, "mute");
	while (s->n < N_LIMIT_MAX) {
		err = act_ask(ctx, s->mute, &q_type, &q, 200, limit_cb, (uint64_t)s->n);
		if (err)
			break;
		s->n++;
	}
	A->n_started = s->n;
	A->rc_stop = err;
	if (err != -ENOSPC || s->n == 0)
		act_shutdown(ctx);
}

static const act_handler limiter_h[] = { { &act_start_type, limiter_start } };
static const act_behaviour limiter_b = {
	.name = "limiter", .state_size = sizeof(struct limiter_state),
	.handlers = limiter_h, .n_handlers = 1,
};

static void test_limit(void)
{
	int err;

	memset(A, 0, sizeof *A);
	act_node_t *n = act_node_new("limit");
	if (!n)
		bail("act_node_new");
	err = act_node_add_group(n, "a");
	if (!err) err = act_node_add_group(n, "b");
	if (!err) err = act_node_add_actor(n, "a", "limiter", &limiter_b, NULL);
	if (!err) err = act_node_add_actor(n, "b", "mute", &mute_b, NULL);
	if (!err) err = act_node_add_actor(n, "b", "watchdog", &watchdog_b, NULL);
	if (err)
		bail("limit: declaring the node failed: %s", act_strerror(err));
	harness_collect_counters();
	int rc = act_node_run(n);
	act_node_free(n);
	if (A->watchdog) {
		diag("limit: the watchdog stopped the node after %d ms", WATCHDOG_MS);
		rc = -ETIMEDOUT;
	}

	ok(rc == 0, "limit: node ran and stopped cleanly (rc %d)", rc);
	ok(A->rc_stop == -ENOSPC && A->n_started >= N_MANY,
	   "limit: asks start until -ENOSPC (%d outstanding, rc %d)", A->n_started, A->rc_stop);
	int once = A->n_started > 0;
	for (int i = 0; i < A->n_started && i < N_LIMIT_MAX; i++)
		if (A->limit_got[i] != 1)
			once = 0;
	ok(once && A->limit_bad == 0 && A->limit_calls == A->n_started,
	   "limit: every one timed out exactly once (%d callbacks)", A->limit_calls);
	diag("limit: the mute actor received %d questions", A->limit_questions);
	ok(A->rc_after == 0 && A->after_calls == 1 && A->after_status == ACT_ETIMEDOUT,
	   "limit: after they completed, a new ask starts and completes (%d, %d)",
	   A->rc_after, A->after_status);
}

int main(void)
{
	tap_timeout(120);
	setvbuf(stdout, NULL, _IOLBF, 0);
	A = shared_area(sizeof *A);
	harness_watchdog_fired = &A->watchdog;
	harness_watchdog_ms = WATCHDOG_MS;
	test_ask();
	test_limit();
	return done_testing();
}
