/* SPDX-License-Identifier: MIT */
/*
 * t/mod/obsmod.c - the group module of t/ctl-actors.py and
 * t/ops-metrics-http.py: actors whose per-actor statistics are known in
 * advance.
 *
 *   "slow"    answers Ping{count} with Pong after spinning `count` ms in
 *             its handler (a lower bound on its handling time).
 *   "spawner" on Ping{count} spawns `count` actors "kid0".."kidN" of
 *             behaviour "kid" (once), monitors each, sends each one Ping,
 *             and answers Pong{spawned so far}.
 *   "kid"     counts what it gets; answers nothing.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <actors.h>

typedef struct { int64_t count; } ping_t;
typedef struct { int64_t count; } pong_t;

ACT_MESSAGE_TYPE(ping_type, ping_t, "Ping", ACT_FIELD(ping_t, count, ACT_I64));
ACT_MESSAGE_TYPE(pong_type, pong_t, "Pong", ACT_FIELD(pong_t, count, ACT_I64));

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void slow_ping(act_ctx *ctx, void *st, const void *m)
{
	const ping_t *p = m;
	uint64_t until = now_ns() + (uint64_t)p->count * 1000000u;
	pong_t r = { p->count };

	(void)st;
	while (now_ns() < until)
		;
	act_reply(ctx, &pong_type, &r);
}

struct spawner { int64_t n_kids; };

static void spawner_ping(act_ctx *ctx, void *st, const void *m)
{
	struct spawner *s = st;
	const ping_t *p = m;
	char name[32];

	for (int64_t i = s->n_kids; i < p->count && i < 64; i++) {
		act_ref kid;
		uint64_t mon;
		ping_t one = { i };
		snprintf(name, sizeof name, "kid%lld", (long long)i);
		if (act_spawn(ctx, NULL, "kid", name, NULL, &kid))
			break;
		s->n_kids++;
		(void)act_monitor(ctx, kid, &mon);
		(void)act_send(ctx, kid, &ping_type, &one);
	}
	pong_t r = { s->n_kids };
	act_reply(ctx, &pong_type, &r);
}

static void kid_ping(act_ctx *ctx, void *st, const void *m)
{
	(void)ctx;
	(void)st;
	(void)m;
}

static const act_handler slow_h[] = { { &ping_type, slow_ping } };
static const act_behaviour slow_b = { .name = "slow", .handlers = slow_h, .n_handlers = 1 };
static const act_handler spawner_h[] = { { &ping_type, spawner_ping } };
static const act_behaviour spawner_b = {
	.name = "spawner", .state_size = sizeof(struct spawner),
	.handlers = spawner_h, .n_handlers = 1,
};
static const act_handler kid_h[] = { { &ping_type, kid_ping } };
static const act_behaviour kid_b = { .name = "kid", .handlers = kid_h, .n_handlers = 1 };

ACT_MODULE_INIT(m)
{
	int err = act_module_add_behaviour(m, &slow_b);
	if (!err)
		err = act_module_add_behaviour(m, &spawner_b);
	if (!err)
		err = act_module_add_behaviour(m, &kid_b);
	if (!err)
		err = act_module_add_type(m, &pong_type);
	return err;
}
