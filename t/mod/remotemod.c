/* SPDX-License-Identifier: MIT */
/*
 * t/mod/remotemod.c - a group module for the remote gateway tests: it shows
 * what an actor received from the network, so that a test on the other
 * side of the wire can check it.
 *
 * Behaviours:
 *   recorder  counts every Reject delivered to it and keeps the last one.
 *             It answers a Reject that names its sender with
 *             Recorded{n, message_type, reason, rejected_by} (the Reject's
 *             own fields, so the sender sees exactly what was decoded), and
 *             Query{} with the same for the last Reject (n = 0 and empty
 *             strings if none came).  A Reject is never answered with a
 *             Reject, so this is the only way to observe one from outside.
 */
#include <stdio.h>
#include <string.h>

#include <actors.h>

typedef struct {
	int64_t n;
	char message_type[64];
	act_buf reason;
	act_buf rejected_by;
} recorded_msg;

typedef struct { char _unused; } query_msg;

ACT_MESSAGE_TYPE(recorded_type, recorded_msg, "Recorded",
                 ACT_FIELD(recorded_msg, n, ACT_I64),
                 ACT_FIELD(recorded_msg, message_type, ACT_STR),
                 ACT_FIELD(recorded_msg, reason, ACT_VSTR),
                 ACT_FIELD(recorded_msg, rejected_by, ACT_VSTR));
ACT_MESSAGE_TYPE_EMPTY(query_type, query_msg, "Query");

struct recorder {
	int64_t n;
	char message_type[64];
	char reason[1024];
	char rejected_by[256]; /* a remote name: up to 255 bytes */
};

static void answer(act_ctx *ctx, const struct recorder *r)
{
	recorded_msg m = { .n = r->n, .reason = { r->reason, (uint32_t)strlen(r->reason), 0 },
	                   .rejected_by = { r->rejected_by, (uint32_t)strlen(r->rejected_by), 0 } };

	memcpy(m.message_type, r->message_type, sizeof m.message_type);
	act_reply(ctx, &recorded_type, &m); /* -ENOENT for an anonymous sender: fine */
}

static void on_reject(act_ctx *ctx, void *state, const void *msg)
{
	struct recorder *r = state;
	const act_reject *j = msg;
	size_t n = j->reason.len < sizeof r->reason - 1 ? j->reason.len : sizeof r->reason - 1;

	r->n++;
	snprintf(r->message_type, sizeof r->message_type, "%s", j->message_type);
	snprintf(r->rejected_by, sizeof r->rejected_by, "%s", (const char *)j->rejected_by.ptr);
	memcpy(r->reason, j->reason.ptr, n);
	r->reason[n] = '\0';
	answer(ctx, r);
}

static void on_query(act_ctx *ctx, void *state, const void *msg)
{
	answer(ctx, state);
}

static const act_handler recorder_h[] = {
	{ &act_reject_type, on_reject },
	{ &query_type, on_query },
};

static const act_behaviour recorder_b = {
	.name = "recorder",
	.state_size = sizeof(struct recorder),
	.handlers = recorder_h,
	.n_handlers = sizeof recorder_h / sizeof recorder_h[0],
};

ACT_MODULE_INIT(m)
{
	int err = act_module_add_behaviour(m, &recorder_b);

	if (!err)
		err = act_module_add_type(m, &recorded_type);
	return err;
}
