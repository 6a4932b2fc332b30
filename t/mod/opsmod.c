/* SPDX-License-Identifier: MIT */
/*
 * t/mod/opsmod.c - the group module of t/ops-logs.py: an actor that logs
 * through act_log() on every Ping, with a line break in the text (which
 * must not start a second line), and answers Pong.
 */
#include <stdint.h>

#include <actors.h>

typedef struct { int64_t count; } ping_t;
typedef struct { int64_t count; } pong_t;

ACT_MESSAGE_TYPE(ping_type, ping_t, "Ping", ACT_FIELD(ping_t, count, ACT_I64));
ACT_MESSAGE_TYPE(pong_type, pong_t, "Pong", ACT_FIELD(pong_t, count, ACT_I64));

static void logger_ping(act_ctx *ctx, void *st, const void *m)
{
	const ping_t *p = m;
	pong_t r = { p->count };

	(void)st;
	act_log(ctx, ACT_LOG_WARN, "ping %lld\n<3>forged", (long long)p->count);
	act_log(ctx, ACT_LOG_DEBUG, "debug %lld", (long long)p->count);
	act_reply(ctx, &pong_type, &r);
}

static const act_handler logger_h[] = { { &ping_type, logger_ping } };
static const act_behaviour logger_b = { .name = "logger", .handlers = logger_h, .n_handlers = 1 };

ACT_MODULE_INIT(m)
{
	int err = act_module_add_behaviour(m, &logger_b);
	if (!err)
		err = act_module_add_type(m, &pong_type);
	return err;
}
