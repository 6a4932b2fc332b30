/* SPDX-License-Identifier: MIT */
/*
 * t/mod/topicmod.c - a group module for the topic and interceptor tests
 * of actorsd (t/topic-remote.py).
 *
 * Behaviour "tsub": on its first Start joins every topic named in its
 * args ({"topics": ["a", "b"]}); answers each Ping{count} it gets (from
 * a topic or not) with Pong{count} to the sender.
 * Module interceptor "nonneg": drops a Ping whose count is negative.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <actors.h>

typedef struct { int64_t count; } ping_t;
ACT_MESSAGE_TYPE(ping_type, ping_t, "Ping", ACT_FIELD(ping_t, count, ACT_I64));
ACT_MESSAGE_TYPE(pong_type, ping_t, "Pong", ACT_FIELD(ping_t, count, ACT_I64));

struct st { char topics[4][64]; int n; };

static int tsub_init(act_ctx *ctx, void *state, const char *args)
{
	struct st *s = state;
	cJSON *o = args ? cJSON_Parse(args) : NULL, *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(o, "topics")) {
		if (cJSON_IsString(t) && s->n < 4)
			snprintf(s->topics[s->n++], sizeof s->topics[0], "%s", t->valuestring);
	}
	cJSON_Delete(o);
	return 0;
}

static void tsub_start(act_ctx *ctx, void *state, const void *m)
{
	const act_start *st = m;
	struct st *s = state;
	if (st->restart)
		return;
	for (int i = 0; i < s->n; i++)
		if (act_join(ctx, s->topics[i]))
			act_log(ctx, ACT_LOG_ERR, "cannot join %s", s->topics[i]);
}

static void tsub_ping(act_ctx *ctx, void *state, const void *m)
{
	act_reply(ctx, &pong_type, m);
}

static const act_handler tsub_h[] = { { &act_start_type, tsub_start }, { &ping_type, tsub_ping } };
static const act_behaviour tsub_b = {
	.name = "tsub", .state_size = sizeof(struct st), .init = tsub_init,
	.handlers = tsub_h, .n_handlers = 2,
};

static int nonneg_before(act_ctx *ctx, void *user, const act_type *t, const void *msg,
                         const char **reason)
{
	if (t == &ping_type && ((const ping_t *)msg)->count < 0) {
		*reason = "negative count";
		return 1;
	}
	return 0;
}

static const act_interceptor nonneg = {
	ACT_INTERCEPTOR_INIT, .name = "nonneg", .before = nonneg_before,
};

ACT_MODULE_INIT(m)
{
	int rc = act_module_add_behaviour(m, &tsub_b);
	return rc ? rc : act_module_add_interceptor(m, &nonneg);
}
