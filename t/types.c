/* SPDX-License-Identifier: MIT */
/*
 * t/types.c - message types are known node-wide without being registered
 * by hand.  The README's first example: pong answers Ping with a Pong that
 * appears in no handler table and was never added to the node; the ask
 * must complete with that Pong, not time out.  A reply type found only in
 * the asker's handler table reaches it too.  A descriptor built by hand
 * and never declared cannot be sent (-EINVAL), and that is logged once
 * per (actor, type), however often it is tried; a hand-built copy of a
 * known type (same name and layout) is that type; a type with a known
 * name but another layout is refused and logged.
 */
#include <stdatomic.h>
#include <unistd.h>

#include "tap.h"
#include "harness.h"

typedef struct { int32_t count; } ping_msg;
ACT_MESSAGE_TYPE(ping_type, ping_msg, "Ping", ACT_FIELD(ping_msg, count, ACT_I32));
/* Declared, and in no handler table and no act_node_add_type(): the README case. */
ACT_MESSAGE_TYPE(pong_type, ping_msg, "Pong", ACT_FIELD(ping_msg, count, ACT_I32));
ACT_MESSAGE_TYPE(tell_type, ping_msg, "Tell", ACT_FIELD(ping_msg, count, ACT_I32));
/* Only in the pinger's handler table. */
ACT_MESSAGE_TYPE(told_type, ping_msg, "Told", ACT_FIELD(ping_msg, count, ACT_I32));

/* Built by hand, never declared. */
static const act_field count_fields[] = { ACT_FIELD(ping_msg, count, ACT_I32) };
static const act_type hand_type = { "Handmade", sizeof(ping_msg), _Alignof(ping_msg), count_fields, 1 };
static const act_type pong_copy = { "Pong", sizeof(ping_msg), _Alignof(ping_msg), count_fields, 1 };
typedef struct { int64_t wide; } wide_msg;
static const act_field wide_fields[] = { ACT_FIELD(wide_msg, wide, ACT_I64) };
static const act_type pong_bad = { "Pong", sizeof(wide_msg), _Alignof(wide_msg), wide_fields, 1 };

#define HAND_TRIES 5

struct area {
	_Atomic int ask_status, ask_count, ask_type_ok, ask_calls;
	_Atomic int rc_reply;
	_Atomic int told;
	_Atomic int rc_hand[HAND_TRIES], rc_hand_other, rc_copy, rc_bad;
	_Atomic int copy_seen, copy_value;
	_Atomic int watchdog;
};
static struct area *A;

static void maybe_done(act_ctx *ctx)
{
	if (A->ask_calls && A->told && A->copy_seen)
		act_shutdown(ctx);
}

static void on_pong(act_ctx *ctx, void *st, int status, const act_type *t, const void *m,
                    uint64_t cookie)
{
	A->ask_calls++;
	A->ask_status = status;
	A->ask_type_ok = t == &pong_type;
	A->ask_count = m ? ((const ping_msg *)m)->count : -1;
	maybe_done(ctx);
}

static void ping_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref pong;
	ping_msg p = { 7 };
	if (act_lookup(ctx, "pong", &pong))
		return;
	act_ask(ctx, pong, &ping_type, &p, 5000, on_pong, 1);
	act_send(ctx, pong, &tell_type, &p);
	for (int i = 0; i < HAND_TRIES; i++)
		A->rc_hand[i] = act_send(ctx, pong, &hand_type, &p);
	ping_msg c = { 42 };
	A->rc_copy = act_send(ctx, pong, &pong_copy, &c);
	wide_msg w = { 1 };
	A->rc_bad = act_send(ctx, pong, &pong_bad, &w);
}

static void ping_told(act_ctx *ctx, void *st, const void *m)
{
	A->told = ((const ping_msg *)m)->count == 7;
	maybe_done(ctx);
}

static void other_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref pong;
	ping_msg p = { 1 };
	if (!act_lookup(ctx, "pong", &pong))
		A->rc_hand_other = act_send(ctx, pong, &hand_type, &p);
}

static void pong_ping(act_ctx *ctx, void *st, const void *m)
{
	const ping_msg *p = m;
	ping_msg r = { p->count };
	A->rc_reply = act_reply(ctx, &pong_type, &r); /* README: to a local or remote sender */
}

static void pong_tell(act_ctx *ctx, void *st, const void *m)
{
	act_reply(ctx, &told_type, m);
}

static void pong_other(act_ctx *ctx, void *st, const void *m)
{
	if (act_msg_type(ctx) == &pong_type) {
		A->copy_value = ((const ping_msg *)m)->count;
		A->copy_seen = 1;
		/* The pinger stops the node; tell it this arrived. */
		act_ref pinger;
		ping_msg t = { 0 };
		if (!act_lookup(ctx, "ping", &pinger))
			act_send(ctx, pinger, &tell_type, &t);
	}
}

static void ping_nudge(act_ctx *ctx, void *st, const void *m)
{
	maybe_done(ctx);
}

static const act_handler ping_h[] = {
	{ &act_start_type, ping_start }, { &told_type, ping_told }, { &tell_type, ping_nudge },
};
static const act_behaviour ping_b = { .name = "ping", .handlers = ping_h, .n_handlers = 3 };
static const act_handler other_h[] = { { &act_start_type, other_start } };
static const act_behaviour other_b = { .name = "other", .handlers = other_h, .n_handlers = 1 };
static const act_handler pong_h[] = { { &ping_type, pong_ping }, { &tell_type, pong_tell } };
static const act_behaviour pong_b = {
	.name = "pong", .handlers = pong_h, .n_handlers = 2, .on_unhandled = pong_other,
};

int main(void)
{
	tap_timeout(60);
	A = shared_area(sizeof *A);
	A->rc_reply = A->rc_copy = A->rc_bad = A->rc_hand_other = 1;

	FILE *log = tmpfile();
	int saved = dup(2);
	if (!log || saved < 0 || dup2(fileno(log), 2) < 0)
		bail("cannot redirect stderr");

	act_node_t *n = act_node_new("types");
	act_node_add_group(n, "pingers");
	act_node_add_group(n, "pongers");
	act_node_add_actor(n, "pingers", "ping", &ping_b, NULL);
	act_node_add_actor(n, "pingers", "other", &other_b, NULL);
	act_node_add_actor(n, "pongers", "pong", &pong_b, NULL);
	act_node_add_actor(n, "pongers", "watchdog", &harness_watchdog_b, NULL);
	harness_watchdog_fired = &A->watchdog;
	harness_collect_counters();
	int rc = act_node_run(n);
	act_node_free(n);

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char line[1200];
	int hand_ping = 0, hand_other = 0, bad = 0;
	rewind(log);
	while (fgets(line, sizeof line, log)) {
		if (strstr(line, "'Handmade'")) {
			diag("log: %.300s", line);
			hand_ping += strstr(line, "actor 'ping'") != NULL;
			hand_other += strstr(line, "actor 'other'") != NULL;
		}
		if (strstr(line, "'Pong'") && strstr(line, "layout differs")) {
			diag("log: %.300s", line);
			bad++;
		}
	}
	fclose(log);

	ok(rc == 0 && !A->watchdog, "node ran and stopped by itself (rc %d, watchdog %d)", rc,
	   A->watchdog);
	ok(A->rc_reply == 0, "act_reply with Pong, in no handler table, returned 0 (%d)", A->rc_reply);
	ok(A->ask_calls == 1 && A->ask_status == 0 && A->ask_count == 7,
	   "the ask completed with the Pong reply (calls %d, status %d, count %d)", A->ask_calls,
	   A->ask_status, A->ask_count);
	ok(A->ask_type_ok, "the completion saw reply_type == &pong_type");
	ok(A->told, "a reply type found only in the asker's handler table arrived");
	int all_einval = 1;
	for (int i = 0; i < HAND_TRIES; i++)
		all_einval &= A->rc_hand[i] == -EINVAL;
	ok(all_einval && A->rc_hand_other == -EINVAL,
	   "a hand-built, undeclared type is refused with -EINVAL every time (%d, %d)",
	   A->rc_hand[0], A->rc_hand_other);
	ok(hand_ping == 1 && hand_other == 1,
	   "... and logged once per (actor, type): %d line(s) for ping's %d tries, %d for other's",
	   hand_ping, HAND_TRIES, hand_other);
	ok(A->rc_copy == 0 && A->copy_seen && A->copy_value == 42,
	   "a hand-built copy of Pong (same name and layout) is sent as Pong (rc %d, seen %d, %d)",
	   A->rc_copy, A->copy_seen, A->copy_value);
	ok(A->rc_bad == -EINVAL && bad == 1,
	   "a hand-built Pong with another layout is refused (%d) and logged (%d line)", A->rc_bad,
	   bad);
	ok(counters[2].dead_letters == 0 && counters[1].dead_letters == 0,
	   "no dead letters (%llu, %llu)", (unsigned long long)counters[1].dead_letters,
	   (unsigned long long)counters[2].dead_letters);
	return done_testing();
}
