/* SPDX-License-Identifier: MIT */
/*
 * t/testkit.c - the testkit (include/actors/testkit.h): FIFO determinism,
 * timers at exact virtual times, asks and their timeouts on the virtual
 * clock, crash and restart, dead letters, probes, and the README's
 * "Testing your actors" example.  No sleeps, no forks.
 */
#include <stdio.h>
#include <string.h>

#include <actors.h>
#include <actors/testkit.h>

#include "tap.h"

/* Everything the actors report goes to a probe as a Note. */
typedef struct { int64_t a, b; act_buf s; } note_msg;
typedef struct { int32_t n; } go_msg;
ACT_MESSAGE_TYPE(note_type, note_msg, "Note", ACT_FIELD(note_msg, a, ACT_I64),
                 ACT_FIELD(note_msg, b, ACT_I64), ACT_FIELD(note_msg, s, ACT_VSTR));
ACT_MESSAGE_TYPE(go_type, go_msg, "Go", ACT_FIELD(go_msg, n, ACT_I32));
ACT_MESSAGE_TYPE(nohandler_type, go_msg, "NoHandler", ACT_FIELD(go_msg, n, ACT_I32));

static act_test_t *T; /* for handlers that simulate a crash */

static void note(act_ctx *ctx, act_ref to, int64_t a, int64_t b, const char *s)
{
	note_msg m = { a, b, { s, (uint32_t)strlen(s), 0 } };
	act_send(ctx, to, &note_type, &m);
}

static act_ref lookup(act_ctx *ctx, const char *name)
{
	act_ref r = ACT_NOBODY;
	act_lookup(ctx, name, &r);
	return r;
}

/* Takes the next Note of probe p into buf as "a/b/s"; "" if none. */
static const char *take_note(act_test_t *t, act_ref p, char *buf, size_t cap)
{
	const act_type *ty;
	const void *m;
	act_ref from;

	buf[0] = '\0';
	if (act_test_take(t, p, &ty, &m, &from) == 0 && ty == &note_type) {
		const note_msg *n = m;
		snprintf(buf, cap, "%lld/%lld/%s", (long long)n->a, (long long)n->b,
		         (const char *)n->s.ptr);
	}
	return buf;
}

/* ---- FIFO: a fan-out whose order the testkit fixes -------------------------- */

/* echo: answers Go{n} with a Note{n, own id} to the probe, and n > 0 with a
 * Go{n - 1} back to the sender. */
static void echo_go(act_ctx *ctx, void *state, const void *m)
{
	const go_msg *g = m;
	(void)state;
	note(ctx, lookup(ctx, "probe"), g->n, act_self(ctx).id, act_self_name(ctx));
	if (g->n > 0)
		act_reply(ctx, &go_type, &(go_msg){ g->n - 1 });
}
static const act_handler echo_handlers[] = { { &go_type, echo_go } };
static const act_behaviour echo_behaviour = {
	.name = "echo", .handlers = echo_handlers, .n_handlers = 1,
};

/* fan: on Go{n} sends Go{n} to a, b and c. */
static void fan_go(act_ctx *ctx, void *state, const void *m)
{
	(void)state;
	act_send(ctx, lookup(ctx, "a"), &go_type, m);
	act_send(ctx, lookup(ctx, "b"), &go_type, m);
	act_send(ctx, lookup(ctx, "c"), &go_type, m);
}
static const act_handler fan_handlers[] = { { &go_type, fan_go } };
static const act_behaviour fan_behaviour = {
	.name = "fan", .handlers = fan_handlers, .n_handlers = 1,
};

static int fifo_trace(char *out, size_t cap)
{
	act_test_t *t = act_test_new();
	act_ref p, fan, x;
	char b[128];
	int n;

	act_test_probe(t, "probe", &p);
	act_test_spawn(t, &echo_behaviour, "a", NULL, &x);
	act_test_spawn(t, &echo_behaviour, "b", NULL, &x);
	act_test_spawn(t, &echo_behaviour, "c", NULL, &x);
	act_test_spawn(t, &fan_behaviour, "fan", NULL, &fan);
	act_test_send(t, ACT_NOBODY, fan, &go_type, &(go_msg){ 2 });
	n = act_test_run(t);
	out[0] = '\0';
	while (*take_note(t, p, b, sizeof b)) {
		strncat(out, b, cap - strlen(out) - 1);
		strncat(out, " ", cap - strlen(out) - 1);
	}
	act_test_free(t);
	return n;
}

static void test_fifo(void)
{
	char one[1024], two[1024];
	int n1 = fifo_trace(one, sizeof one), n2 = fifo_trace(two, sizeof two);

	/* fan's Go{2} to a, b, c; each notes and answers fan with Go{1};
	 * fan fans each out again: breadth-first, in send order. */
	ok(n1 > 0 && n1 == n2, "run returns the same handler count twice (%d, %d)", n1, n2);
	ok(!strcmp(one, two), "same calls, same trace");
	ok(!strncmp(one, "2/2/a 2/3/b 2/4/c 1/2/a 1/3/b 1/4/c ", 36),
	   "deliveries are FIFO: %.60s", one);
}

/* ---- timers ------------------------------------------------------------------- */

static void clock_start(act_ctx *ctx, void *state, const void *m)
{
	(void)state;
	(void)m;
	act_timer_periodic(ctx, 30, 2);
	act_timer_once(ctx, 100, 1);
	act_timer_once(ctx, 45, 3);
	act_timer_cancel(ctx, 3);
}
static void clock_timeout(act_ctx *ctx, void *state, const void *m)
{
	const act_timeout *tm = m;
	(void)state;
	note(ctx, lookup(ctx, "probe"), tm->id, (int64_t)(act_now_ns() / 1000000u), "t");
	if (tm->id == 1)
		act_timer_cancel(ctx, 2);
}
static const act_handler clock_handlers[] = {
	{ &act_start_type, clock_start }, { &act_timeout_type, clock_timeout },
};
static const act_behaviour clock_behaviour = {
	.name = "clock", .handlers = clock_handlers, .n_handlers = 2,
};

static void test_timers(void)
{
	act_test_t *t = act_test_new();
	act_ref p, c;
	char b[128];

	act_test_probe(t, "probe", &p);
	act_test_spawn(t, &clock_behaviour, "clock", NULL, &c);
	ok(act_test_run(t) == 1, "Start ran");
	ok(act_test_advance(t, 29) == 0 && !*take_note(t, p, b, sizeof b), "nothing before 30 ms");
	ok(act_test_advance(t, 1) == 2, "the periodic timer fired at 30 ms (and its Note)");
	ok(!strcmp(take_note(t, p, b, sizeof b), "2/30/t"), "Timeout{2} at 30: %s", b);
	act_test_advance(t, 1000);
	ok(!strcmp(take_note(t, p, b, sizeof b), "2/60/t"), "Timeout{2} at 60: %s", b);
	ok(!strcmp(take_note(t, p, b, sizeof b), "2/90/t"), "Timeout{2} at 90: %s", b);
	ok(!strcmp(take_note(t, p, b, sizeof b), "1/100/t"), "Timeout{1} at 100: %s", b);
	ok(!*take_note(t, p, b, sizeof b), "cancelled timers never fire");
	ok(act_test_now_ms(t) == 1030, "the clock moved by what was asked (%llu)",
	   (unsigned long long)act_test_now_ms(t));
	act_test_free(t);
}

/* ---- asks ----------------------------------------------------------------------- */

static void server_go(act_ctx *ctx, void *state, const void *m)
{
	const go_msg *g = m;
	(void)state;
	if (g->n == 0)
		act_reply(ctx, &go_type, &(go_msg){ 42 });
	/* otherwise: never */
}
static const act_handler server_handlers[] = { { &go_type, server_go } };
static const act_behaviour server_behaviour = {
	.name = "server", .handlers = server_handlers, .n_handlers = 1,
};

static void asked(act_ctx *ctx, void *state, int status, const act_type *rt,
                  const void *reply, uint64_t cookie)
{
	(void)state;
	(void)rt;
	note(ctx, lookup(ctx, "probe"), status, reply ? ((const go_msg *)reply)->n : -1,
	     cookie == 5 ? "c5" : "c?");
	note(ctx, lookup(ctx, "probe"), (int64_t)(act_now_ns() / 1000000u), 0, "at");
}
static void asker_go(act_ctx *ctx, void *state, const void *m)
{
	const go_msg *g = m;
	(void)state;
	if (g->n == 1) {
		act_timer_once(ctx, 10, 1);
		return;
	}
	int err = act_ask(ctx, lookup(ctx, "server"), &go_type, m, 50, asked, 5);
	if (err)
		note(ctx, lookup(ctx, "probe"), err, 0, "askfail");
}
/* A 0 ms ask from a timer: its timeout fires in the same round of timers,
 * before the reply is read, as in a worker: the reply comes too late. */
static void asker_timeout(act_ctx *ctx, void *state, const void *m)
{
	(void)state, (void)m;
	act_ask(ctx, lookup(ctx, "server"), &go_type, &(go_msg){ 0 }, 0, asked, 5);
}
static const act_handler asker_handlers[] = {
	{ &go_type, asker_go }, { &act_timeout_type, asker_timeout },
};
static const act_behaviour asker_behaviour = {
	.name = "asker", .handlers = asker_handlers, .n_handlers = 2,
};

static void test_asks(void)
{
	act_test_t *t = act_test_new();
	act_ref p, s, a;
	char b[128];

	act_test_probe(t, "probe", &p);
	act_test_spawn(t, &server_behaviour, "server", NULL, &s);
	act_test_spawn(t, &asker_behaviour, "asker", NULL, &a);
	act_test_run(t);
	act_test_send(t, ACT_NOBODY, a, &go_type, &(go_msg){ 0 });
	act_test_run(t);
	ok(!strcmp(take_note(t, p, b, sizeof b), "0/42/c5"), "an answered ask: %s", b);
	ok(!strcmp(take_note(t, p, b, sizeof b), "0/0/at"), "at once: %s", b);

	act_test_send(t, ACT_NOBODY, a, &go_type, &(go_msg){ 2 });
	act_test_advance(t, 49);
	ok(!*take_note(t, p, b, sizeof b), "no timeout at 49 ms");
	act_test_advance(t, 1);
	ok(!strcmp(take_note(t, p, b, sizeof b), "-110/-1/c5"), "ACT_ETIMEDOUT: %s", b);
	ok(!strcmp(take_note(t, p, b, sizeof b), "50/0/at"), "exactly 50 ms later: %s", b);

	size_t dl = act_test_dead_letters(t);
	act_test_send(t, ACT_NOBODY, a, &go_type, &(go_msg){ 1 });
	act_test_advance(t, 200);
	ok(!strcmp(take_note(t, p, b, sizeof b), "-110/-1/c5"), "a 0 ms ask times out: %s", b);
	ok(!strcmp(take_note(t, p, b, sizeof b), "60/0/at"), "at once (60 ms): %s", b);
	ok(act_test_dead_letters(t) == dl + 1, "its late reply is a dead letter");
	act_test_free(t);
}

/* ---- crash and restart -------------------------------------------------------- */

struct counter { int64_t n; };

static void counter_start(act_ctx *ctx, void *state, const void *m)
{
	const act_start *st = m;
	(void)state;
	note(ctx, lookup(ctx, "probe"), st->restart, st->n_restarts, "start");
	act_timer_once(ctx, 1000, 1);
}
static void counter_go(act_ctx *ctx, void *state, const void *m)
{
	struct counter *c = state;
	const go_msg *g = m;
	c->n += g->n;
	if (g->n == 13 && act_redelivered(ctx) == 0)
		act_test_crash(T, act_self(ctx));   /* crash in the handler, once */
	if (g->n == 66)
		act_test_crash(T, act_self(ctx));   /* always: a poison message */
	note(ctx, lookup(ctx, "probe"), c->n, act_redelivered(ctx), "n");
}
static void counter_timeout(act_ctx *ctx, void *state, const void *m)
{
	(void)state, (void)m;
	note(ctx, lookup(ctx, "probe"), -1, 0, "timer");
}
static const act_handler counter_handlers[] = {
	{ &act_start_type, counter_start }, { &go_type, counter_go },
	{ &act_timeout_type, counter_timeout },
};
static const act_behaviour counter_behaviour = {
	.name = "counter", .state_size = sizeof(struct counter), .handlers = counter_handlers,
	.n_handlers = 3,
};

static void test_crash(void)
{
	act_test_t *t = T = act_test_new();
	act_ref p, c;
	char b[128];

	act_test_probe(t, "probe", &p);
	act_test_spawn(t, &counter_behaviour, "counter", NULL, &c);
	act_test_run(t);
	ok(!strcmp(take_note(t, p, b, sizeof b), "0/0/start"), "first Start: %s", b);
	act_test_send(t, p, c, &go_type, &(go_msg){ 5 });
	act_test_send(t, p, c, &go_type, &(go_msg){ 13 });
	act_test_send(t, p, c, &go_type, &(go_msg){ 1 });
	act_test_run(t);
	ok(!strcmp(take_note(t, p, b, sizeof b), "5/0/n"), "5: %s", b);
	ok(!strcmp(take_note(t, p, b, sizeof b), "18/0/n"), "13 noted, then crashed: %s", b);
	ok(!strcmp(take_note(t, p, b, sizeof b), "1/1/start"), "Start{restart}: %s", b);
	ok(!strcmp(take_note(t, p, b, sizeof b), "13/1/n"),
	   "state dropped, the envelope redelivered flagged: %s", b);
	ok(!strcmp(take_note(t, p, b, sizeof b), "14/0/n"), "then the rest, in order: %s", b);
	act_test_advance(t, 1000);
	ok(!strcmp(take_note(t, p, b, sizeof b), "-1/0/timer"), "only the new instance's timer: %s", b);
	ok(!*take_note(t, p, b, sizeof b), "the old instance's timer died with it");

	size_t dl = act_test_dead_letters(t);
	act_test_send(t, p, c, &go_type, &(go_msg){ 66 });
	act_test_run(t);
	int starts = 0, seen = 0;
	while (*take_note(t, p, b, sizeof b)) {
		starts += strstr(b, "start") != NULL;
		seen += strstr(b, "/n") != NULL;
	}
	ok(seen == 3 && starts == 3, "a poison envelope: 3 deliveries, 3 restarts (%d, %d)",
	   seen, starts);
	ok(act_test_dead_letters(t) == dl + 1, "then it is a dead letter");

	ok(act_test_crash(t, c) == 0, "a crash from outside a handler");
	act_test_run(t);
	ok(!strcmp(take_note(t, p, b, sizeof b), "1/5/start"), "restarts at once: %s", b);
	ok(act_test_crash(t, (act_ref){ 99, 0, 0 }) == -ENOENT, "crash of nobody: -ENOENT");
	act_test_free(t);
	T = NULL;
}

/* ---- dead letters and probes ------------------------------------------------ */

static void quitter_go(act_ctx *ctx, void *state, const void *m)
{
	const go_msg *g = m;
	(void)state;
	if (g->n == 1)
		act_stop_self(ctx);
	if (g->n == 2)
		note(ctx, lookup(ctx, "probe"), act_reply(ctx, &go_type, m), 0, "reply");
	if (g->n == 3) {
		act_ref far = act_ref_remote(ctx, "x", "tcp://127.0.0.1:1");
		note(ctx, lookup(ctx, "probe"), act_send(ctx, far, &go_type, m), 0, "remote");
		note(ctx, lookup(ctx, "probe"), act_send(ctx, (act_ref){ 77, 0, 0 }, &go_type, m), 0,
		     "unknown");
	}
	if (g->n == 4)
		act_forward(ctx, lookup(ctx, "probe"));
}
static const act_handler quitter_handlers[] = { { &go_type, quitter_go } };
static const act_behaviour quitter_behaviour = {
	.name = "quitter", .handlers = quitter_handlers, .n_handlers = 1,
};

static void test_dead_letters(void)
{
	act_test_t *t = act_test_new();
	act_ref p, q;
	char b[128];
	const act_type *ty;
	const void *m;
	act_ref from;

	act_test_probe(t, "probe", &p);
	act_test_spawn(t, &quitter_behaviour, "quitter", NULL, &q);
	act_test_run(t);
	ok(act_test_dead_letters(t) == 0, "no dead letters yet");
	ok(act_test_send(t, ACT_NOBODY, (act_ref){ 42, 0, 0 }, &go_type, &(go_msg){ 0 }) == -ENOENT,
	   "send to an unknown ref: -ENOENT");
	ok(act_test_send(t, (act_ref){ 42, 0, 0 }, q, &go_type, &(go_msg){ 0 }) == -ENOENT,
	   "send from an unknown ref: -ENOENT");
	act_test_send(t, ACT_NOBODY, q, &go_type, &(go_msg){ 2 });
	act_test_run(t);
	ok(!strcmp(take_note(t, p, b, sizeof b), "-2/0/reply"), "reply with no sender: %s", b);
	act_test_send(t, ACT_NOBODY, q, &go_type, &(go_msg){ 3 });
	act_test_run(t);
	ok(!strcmp(take_note(t, p, b, sizeof b), "0/0/remote") && act_test_dead_letters(t) == 1,
	   "a send to a remote ref reaches nobody: one dead letter (%s)", b);
	ok(!strcmp(take_note(t, p, b, sizeof b), "-2/0/unknown"), "act_send to an unknown ref: %s", b);
	act_test_send(t, p, q, &go_type, &(go_msg){ 4 });
	act_test_run(t);
	ok(act_test_take(t, p, &ty, &m, &from) == 0 && ty == &go_type &&
	   ((const go_msg *)m)->n == 4 && act_ref_eq(from, p),
	   "act_forward keeps the sender");
	act_test_send(t, ACT_NOBODY, q, &nohandler_type, &(go_msg){ 0 });
	act_test_run(t);
	ok(act_test_dead_letters(t) == 2, "no handler for the type: a dead letter");
	act_test_send(t, ACT_NOBODY, q, &go_type, &(go_msg){ 1 });
	act_test_send(t, ACT_NOBODY, q, &go_type, &(go_msg){ 0 });
	act_test_run(t);
	ok(act_test_dead_letters(t) == 3, "after act_stop_self: a dead letter");

	/* Probes: the payload is the packed copy, not the sender's buffer. */
	char text[] = "hello";
	note_msg n = { 1, 2, { text, 5, 0 } };
	ok(act_test_send(t, q, p, &note_type, &n) == 0, "send to a probe as quitter");
	text[0] = 'J';
	act_test_run(t);
	ok(act_test_take(t, p, &ty, &m, &from) == 0 && ty == &note_type &&
	   act_ref_eq(from, q) && !strcmp(((const note_msg *)m)->s.ptr, "hello"),
	   "the probe got a copy, with its sender");
	ok(act_test_take(t, p, &ty, &m, &from) == -ENOENT, "then nothing: -ENOENT");
	ok(act_test_take(t, q, &ty, &m, &from) == -EINVAL, "take from a non-probe: -EINVAL");
	ok(act_test_spawn(t, &quitter_behaviour, "quitter", NULL, &q) == -EEXIST,
	   "a taken name: -EEXIST");
	act_test_free(t);
}

/* ---- the README's example ("Testing your actors") --------------------------- */

/* A poller: every second it asks "store" for the current value (200 ms
 * timeout) and tells "out" what it got.  It keeps the last value. */
typedef struct { int32_t dummy; } get_msg;
typedef struct { int64_t value; } value_msg;
ACT_MESSAGE_TYPE(get_type, get_msg, "GetValue", ACT_FIELD(get_msg, dummy, ACT_I32));
ACT_MESSAGE_TYPE(value_type, value_msg, "Value", ACT_FIELD(value_msg, value, ACT_I64));

struct poller { act_ref store, out; int64_t last; };

static void poller_got(act_ctx *ctx, void *state, int status, const act_type *t,
                       const void *reply, uint64_t cookie)
{
	struct poller *p = state;
	(void)t, (void)cookie;
	p->last = status ? -1 : ((const value_msg *)reply)->value;
	act_send(ctx, p->out, &value_type, &(value_msg){ p->last });
}
static void poller_start(act_ctx *ctx, void *state, const void *m)
{
	struct poller *p = state;
	(void)m;
	act_lookup(ctx, "store", &p->store);
	act_lookup(ctx, "out", &p->out);
	act_timer_periodic(ctx, 1000, 1);
}
static void poller_tick(act_ctx *ctx, void *state, const void *m)
{
	struct poller *p = state;
	(void)m;
	act_ask(ctx, p->store, &get_type, &(get_msg){ 0 }, 200, poller_got, 0);
}
static const act_handler poller_handlers[] = {
	{ &act_start_type, poller_start }, { &act_timeout_type, poller_tick },
};
static const act_behaviour poller_behaviour = {
	.name = "poller", .state_size = sizeof(struct poller),
	.handlers = poller_handlers, .n_handlers = 2,
};

/* The store answers with 7, or stays silent while `mute` is set. */
static int mute;
static void store_get(act_ctx *ctx, void *state, const void *m)
{
	(void)state, (void)m;
	if (!mute)
		act_reply(ctx, &value_type, &(value_msg){ 7 });
}
static const act_handler store_handlers[] = { { &get_type, store_get } };
static const act_behaviour store_behaviour = {
	.name = "store", .handlers = store_handlers, .n_handlers = 1,
};

static int64_t next_value(act_test_t *t, act_ref probe)
{
	const act_type *type;
	const void *msg;
	if (act_test_take(t, probe, &type, &msg, NULL) || type != &value_type)
		return -100;
	return ((const value_msg *)msg)->value;
}

static void test_readme(void)
{
	act_test_t *t = act_test_new();
	act_ref out, store, poller;

	act_test_probe(t, "out", &out);
	act_test_spawn(t, &store_behaviour, "store", NULL, &store);
	act_test_spawn(t, &poller_behaviour, "poller", NULL, &poller);
	act_test_run(t);                                 /* Start: the timer is set */

	act_test_advance(t, 999);
	ok(next_value(t, out) == -100, "readme: nothing before the first second");
	act_test_advance(t, 1);                          /* tick, ask, reply: at 1000 ms */
	ok(next_value(t, out) == 7, "readme: the ask's answer at 1 s");

	mute = 1;                                        /* the store stops answering */
	act_test_advance(t, 1199);
	ok(next_value(t, out) == -100, "readme: no answer yet at 2199 ms");
	act_test_advance(t, 1);
	ok(next_value(t, out) == -1, "readme: the ask timed out at 2200 ms");

	mute = 0;
	act_test_crash(t, poller);                       /* restart: state and timer gone */
	act_test_run(t);                                 /* Start again: a new timer */
	act_test_advance(t, 1000);
	ok(next_value(t, out) == 7, "readme: polling again 1 s after the restart");
	ok(act_test_dead_letters(t) == 0, "readme: no dead letters");
	act_test_free(t);
}

int main(void)
{
	tap_timeout(30);
	test_fifo();
	test_timers();
	test_asks();
	test_crash();
	test_dead_letters();
	test_readme();
	return done_testing();
}
