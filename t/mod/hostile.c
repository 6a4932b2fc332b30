/* SPDX-License-Identifier: MIT */
/*
 * t/mod/hostile.c - a group module that misbehaves while it loads, for
 * t/startup-faults.py.
 *
 * $ACTORS_TEST_HOSTILE picks the fault (unset: none):
 *   ctor-segv   SIGSEGV in a constructor (during dlopen)
 *   init-segv   SIGSEGV in actors_module_init()
 *   init-exit0  exit(0) in actors_module_init()
 *   init-exit3  exit(3) in actors_module_init()
 *   init-hang   actors_module_init() never returns
 * Behaviours: "calm" (replies Pong to Ping) and "huge", whose state is
 * 1 TiB, which no worker can allocate.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <actors.h>

typedef struct { int64_t count; } ping_t;
ACT_MESSAGE_TYPE(ping_type, ping_t, "Ping", ACT_FIELD(ping_t, count, ACT_I64));
ACT_MESSAGE_TYPE(pong_type, ping_t, "Pong", ACT_FIELD(ping_t, count, ACT_I64));

static int is(const char *fault)
{
	const char *v = getenv("ACTORS_TEST_HOSTILE");
	return v && !strcmp(v, fault);
}

__attribute__((constructor)) static void hostile_ctor(void)
{
	if (is("ctor-segv"))
		raise(SIGSEGV);
}

static void calm_ping(act_ctx *ctx, void *st, const void *m)
{
	act_reply(ctx, &pong_type, m);
}

static const act_handler calm_h[] = { { &ping_type, calm_ping } };
static const act_behaviour calm_b = { .name = "calm", .handlers = calm_h, .n_handlers = 1 };
static const act_behaviour huge_b = {
	.name = "huge", .state_size = (size_t)1 << 40, .handlers = calm_h, .n_handlers = 1,
};

ACT_MODULE_INIT(m)
{
	int err;
	if (is("init-segv"))
		raise(SIGSEGV);
	if (is("init-exit0"))
		exit(0);
	if (is("init-exit3"))
		exit(3);
	if (is("init-hang"))
		for (;;)
			pause();
	if ((err = act_module_add_behaviour(m, &calm_b)))
		return err;
	if ((err = act_module_add_behaviour(m, &huge_b)))
		return err;
	return act_module_add_type(m, &pong_type);
}
