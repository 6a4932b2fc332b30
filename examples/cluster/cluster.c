/* SPDX-License-Identifier: MIT */
/*
 * examples/cluster/cluster.c - a node that asks a remote node, watches it,
 * and says what happens when it goes away and comes back.
 *
 * Behaviours:
 *   pong    Ping{count} -> replies Pong{count} (to a local or remote asker).
 *   asker   every period_ms asks Ping{n} of args.to ("pong@PEER", PEER from
 *           the app file's "peers") with act_ask() and logs how the ask
 *           ended: the Pong and its round trip, a timeout, or the Reject's
 *           reason.  It monitors the remote ref (act_monitor()): on
 *           Down{.., "peer unreachable"} it logs the loss, and after the
 *           next answered ask it logs the peer's return and monitors it
 *           again (a Down consumes its monitor).
 *
 * Arguments of asker: {"to": "pong@b", "period_ms": 1000, "timeout_ms": 500}.
 * Ping and Pong are the types of examples/remote, so a Python peer of the
 * family (examples/remote/peer_pong.py) can stand in for either node.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <actors.h>

typedef struct { int64_t count; } ping_msg;

ACT_MESSAGE_TYPE(ping_type, ping_msg, "Ping", ACT_FIELD(ping_msg, count, ACT_I64));
ACT_MESSAGE_TYPE(pong_type, ping_msg, "Pong", ACT_FIELD(ping_msg, count, ACT_I64));

/* ---- pong ---------------------------------------------------------------- */

static void on_ping(act_ctx *ctx, void *state, const void *msg)
{
	(void)state;
	act_reply(ctx, &pong_type, msg);
}

static const act_handler pong_h[] = { { &ping_type, on_ping } };

static const act_behaviour pong_b = {
	.name = "pong",
	.handlers = pong_h,
	.n_handlers = 1,
};

/* ---- asker --------------------------------------------------------------- */

struct asker {
	char to[128];
	act_ref peer;
	uint32_t period_ms, timeout_ms;
	int64_t n;
	bool watching, lost;
	uint64_t monitor;
};

static void watch(act_ctx *ctx, struct asker *s)
{
	int err = act_monitor(ctx, s->peer, &s->monitor);
	s->watching = err == 0;
	if (err)
		act_log(ctx, ACT_LOG_WARN, "cannot monitor %s: %s", s->to, act_strerror(err));
}

static int asker_init(act_ctx *ctx, void *state, const char *args_json)
{
	struct asker *s = state;
	cJSON *a = args_json ? cJSON_Parse(args_json) : NULL;
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(a, "to");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(a, "period_ms");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(a, "timeout_ms");

	if (!cJSON_IsString(to) || strlen(to->valuestring) >= sizeof s->to) {
		act_log(ctx, ACT_LOG_ERR, "args.to must be \"actor@peer\"");
		cJSON_Delete(a);
		return -1;
	}
	snprintf(s->to, sizeof s->to, "%s", to->valuestring);
	s->period_ms = cJSON_IsNumber(p) && p->valuedouble >= 10 ? (uint32_t)p->valuedouble : 1000;
	s->timeout_ms = cJSON_IsNumber(t) && t->valuedouble >= 1 ? (uint32_t)t->valuedouble : 500;
	cJSON_Delete(a);
	return 0;
}

static void on_start(act_ctx *ctx, void *state, const void *msg)
{
	struct asker *s = state;
	(void)msg;

	if (act_lookup(ctx, s->to, &s->peer)) {
		act_log(ctx, ACT_LOG_ERR, "%s: no such peer in the app file", s->to);
		act_stop_self(ctx);
		return;
	}
	watch(ctx, s);
	act_timer_periodic(ctx, s->period_ms, 1);
}

static void on_answer(act_ctx *ctx, void *state, int status, const act_type *t,
                      const void *reply, uint64_t sent_ns)
{
	struct asker *s = state;

	if (status == 0 && t == &pong_type) {
		act_log(ctx, ACT_LOG_INFO, "%s: Pong %" PRId64 " in %" PRIu64 " us", s->to,
		        ((const ping_msg *)reply)->count, (act_now_ns() - sent_ns) / 1000);
		if (s->lost) {
			act_log(ctx, ACT_LOG_INFO, "%s: the peer is back; watching it again", s->to);
			s->lost = false;
		}
		if (!s->watching)
			watch(ctx, s);
	} else if (status == ACT_EREJECTED) {
		act_log(ctx, ACT_LOG_WARN, "%s: rejected: %s", s->to,
		        (const char *)((const act_reject *)reply)->reason.ptr);
	} else {
		act_log(ctx, ACT_LOG_WARN, "%s: %s", s->to, act_strerror(status));
	}
}

static void on_tick(act_ctx *ctx, void *state, const void *msg)
{
	struct asker *s = state;
	ping_msg p = { ++s->n };
	(void)msg;

	int err = act_ask(ctx, s->peer, &ping_type, &p, s->timeout_ms, on_answer, act_now_ns());
	if (err)
		act_log(ctx, ACT_LOG_WARN, "%s: ask not sent: %s", s->to, act_strerror(err));
}

static void on_down(act_ctx *ctx, void *state, const void *msg)
{
	struct asker *s = state;
	const act_down *d = msg;

	s->watching = false; /* a Down consumes its monitor */
	s->lost = true;
	act_log(ctx, ACT_LOG_WARN, "%s: Down (%s): asks will time out until it is back",
	        d->actor, d->reason);
}

static const act_handler asker_h[] = {
	{ &act_start_type, on_start },
	{ &act_timeout_type, on_tick },
	{ &act_down_type, on_down },
};

static const act_behaviour asker_b = {
	.name = "asker",
	.state_size = sizeof(struct asker),
	.init = asker_init,
	.handlers = asker_h,
	.n_handlers = sizeof asker_h / sizeof asker_h[0],
};

ACT_MODULE_INIT(m)
{
	int err = act_module_add_behaviour(m, &pong_b);

	if (!err)
		err = act_module_add_behaviour(m, &asker_b);
	if (!err)
		err = act_module_add_type(m, &ping_type);
	if (!err)
		err = act_module_add_type(m, &pong_type);
	return err;
}
