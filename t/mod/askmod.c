/* SPDX-License-Identifier: MIT */
/*
 * t/mod/askmod.c - a group module for the remote ask tests: actors that
 * ask across nodes on command and say, to whoever commanded, how each ask
 * ended.
 *
 * Behaviours:
 *   asker   AskTo{tag, to, endpoint, count, timeout_ms}: act_ask() of
 *           Ping{count} to actor `to` at `endpoint` (a peer name from the
 *           app file if endpoint starts with '@').  When the ask completes
 *           it sends Result{tag, status, type, count, reason} to the
 *           sender of the AskTo: status as act_ask_fn got it, type the
 *           reply's type name ("" if none), count the Pong's count,
 *           reason the Reject's reason.  If act_ask() itself fails,
 *           Result comes at once with that code and type "!".
 *   ponger  Ping{count}: replies Pong{count}; a negative count is never
 *           answered (the ask times out); count 1000000 is answered with
 *           Pong and then a second Pong (a reply after the ask completed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <actors.h>

typedef struct { int64_t count; } ping_msg;
typedef struct {
	int64_t tag;
	char to[64];
	act_buf endpoint;
	int64_t count;
	int64_t timeout_ms;
} askto_msg;
typedef struct {
	int64_t tag;
	int64_t status;
	char type[64];
	int64_t count;
	act_buf reason;
} result_msg;

ACT_MESSAGE_TYPE(ping_type, ping_msg, "Ping", ACT_FIELD(ping_msg, count, ACT_I64));
ACT_MESSAGE_TYPE(pong_type, ping_msg, "Pong", ACT_FIELD(ping_msg, count, ACT_I64));
ACT_MESSAGE_TYPE(askto_type, askto_msg, "AskTo",
                 ACT_FIELD(askto_msg, tag, ACT_I64),
                 ACT_FIELD(askto_msg, to, ACT_STR),
                 ACT_FIELD(askto_msg, endpoint, ACT_VSTR),
                 ACT_FIELD(askto_msg, count, ACT_I64),
                 ACT_FIELD(askto_msg, timeout_ms, ACT_I64));
ACT_MESSAGE_TYPE(watchto_type, askto_msg, "WatchTo",
                 ACT_FIELD(askto_msg, tag, ACT_I64),
                 ACT_FIELD(askto_msg, to, ACT_STR),
                 ACT_FIELD(askto_msg, endpoint, ACT_VSTR),
                 ACT_FIELD(askto_msg, count, ACT_I64),
                 ACT_FIELD(askto_msg, timeout_ms, ACT_I64));
ACT_MESSAGE_TYPE(result_type, result_msg, "Result",
                 ACT_FIELD(result_msg, tag, ACT_I64),
                 ACT_FIELD(result_msg, status, ACT_I64),
                 ACT_FIELD(result_msg, type, ACT_STR),
                 ACT_FIELD(result_msg, count, ACT_I64),
                 ACT_FIELD(result_msg, reason, ACT_VSTR));

struct asker {
	act_ref boss;  /* who sends AskTo: Results go there */
	uint64_t last_monitor;
};

static void result(act_ctx *ctx, struct asker *s, int64_t tag, int status, const char *type,
                   int64_t count, const char *reason)
{
	result_msg r = { .tag = tag, .status = status, .count = count,
	                 .reason = { reason, (uint32_t)strlen(reason), 0 } };

	snprintf(r.type, sizeof r.type, "%s", type);
	int err = act_send(ctx, s->boss, &result_type, &r);
	if (err)
		act_log(ctx, ACT_LOG_WARN, "Result %lld not sent: %s", (long long)tag,
		        act_strerror(err));
}

static void on_done(act_ctx *ctx, void *state, int status, const act_type *t, const void *reply,
                    uint64_t cookie)
{
	int64_t count = 0;
	const char *reason = "";

	if (t == &pong_type)
		count = ((const ping_msg *)reply)->count;
	if (t == &act_reject_type)
		reason = ((const act_reject *)reply)->reason.ptr;
	result(ctx, state, (int64_t)cookie, status, t ? t->name : "", count, reason);
}

static void on_askto(act_ctx *ctx, void *state, const void *msg)
{
	struct asker *s = state;
	const askto_msg *m = msg;
	const char *ep = m->endpoint.ptr;
	ping_msg p = { m->count };
	act_ref to;
	int err = 0;

	s->boss = act_sender(ctx);
	if (ep[0] == '@') {
		char name[160];
		snprintf(name, sizeof name, "%s%s", m->to, ep);
		err = act_lookup(ctx, name, &to);
	} else {
		to = act_ref_remote(ctx, m->to, ep);
		if (act_ref_is_nobody(to))
			err = -EINVAL;
	}
	if (!err)
		err = act_ask(ctx, to, &ping_type, &p, (uint32_t)m->timeout_ms, on_done,
		              (uint64_t)m->tag);
	if (err)
		result(ctx, s, m->tag, err, "!", 0, act_strerror(err));
}

/*
 * WatchTo{tag, to, endpoint, count}: act_monitor() of the remote actor
 * (count 0), answered at once with Result{tag, status, "Monitor"}; with
 * count -1, act_demonitor() of the last monitor instead ("Demonitor");
 * -2 and -3 monitor and then crash the worker or stop the asker; -4
 * monitors and demonitors in one handler ("Demonitor").
 * A Down comes back as Result{tag -1, 0, "Down", count 0,
 * reason "<actor>|<reason>|<name of act_sender()>"}.
 */
static void on_watchto(act_ctx *ctx, void *state, const void *msg)
{
	struct asker *s = state;
	const askto_msg *m = msg;
	act_ref to;
	int err = 0;

	s->boss = act_sender(ctx);
	if (m->count == -1) {
		err = act_demonitor(ctx, s->last_monitor);
		result(ctx, s, m->tag, err, "Demonitor", 0, "");
		return;
	}
	to = act_ref_remote(ctx, m->to, m->endpoint.ptr);
	err = act_ref_is_nobody(to) ? -EINVAL : act_monitor(ctx, to, &s->last_monitor);
	/* count -2: the worker dies right after the monitor (not when the
	 * envelope comes again); -3: the asker stops after answering; -4:
	 * demonitors at once. */
	if (m->count == -2 && !act_redelivered(ctx))
		abort();
	if (m->count == -4 && !err) { /* monitor and demonitor at once */
		err = act_demonitor(ctx, s->last_monitor);
		result(ctx, s, m->tag, err, "Demonitor", 0, "");
		return;
	}
	result(ctx, s, m->tag, err, "Monitor", 0, "");
	if (m->count == -3)
		act_stop(ctx, act_self(ctx));
}

static void on_down(act_ctx *ctx, void *state, const void *msg)
{
	const act_down *d = msg;
	const char *from = act_ref_name(ctx, act_sender(ctx));
	char why[512];

	snprintf(why, sizeof why, "%s|%s|%s", d->actor, d->reason, from ? from : "");
	result(ctx, state, -1, 0, "Down", 0, why);
}

static const act_handler asker_h[] = {
	{ &askto_type, on_askto },
	{ &watchto_type, on_watchto },
	{ &act_down_type, on_down },
};

static const act_behaviour asker_b = {
	.name = "asker",
	.state_size = sizeof(struct asker),
	.handlers = asker_h,
	.n_handlers = sizeof asker_h / sizeof asker_h[0],
};

static void on_ping(act_ctx *ctx, void *state, const void *msg)
{
	const ping_msg *m = msg;
	(void)state;

	if (m->count < 0)
		return;
	act_reply(ctx, &pong_type, m);
	if (m->count == 1000000)
		act_reply(ctx, &pong_type, m);
}

static const act_handler ponger_h[] = { { &ping_type, on_ping } };

static const act_behaviour ponger_b = {
	.name = "ponger",
	.handlers = ponger_h,
	.n_handlers = 1,
};

ACT_MODULE_INIT(m)
{
	int err = act_module_add_behaviour(m, &asker_b);

	if (!err)
		err = act_module_add_behaviour(m, &ponger_b);
	if (!err)
		err = act_module_add_type(m, &ping_type);
	if (!err)
		err = act_module_add_type(m, &pong_type);
	if (!err)
		err = act_module_add_type(m, &askto_type);
	if (!err)
		err = act_module_add_type(m, &result_type);
	if (!err)
		err = act_module_add_type(m, &watchto_type);
	return err;
}
