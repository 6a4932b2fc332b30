/* SPDX-License-Identifier: MIT */
/*
 * examples/remote/remote.c - ping-pong across nodes and languages: a group
 * module for actorsd whose actors talk to remote actors (another actorsd,
 * or a Python, Rust or C++ member of the actor family) with the JSON wire
 * protocol of shared/PROTOCOL.md.
 *
 * Behaviours:
 *   pong  Ping{count} -> replies Pong{count} to whoever sent it, local or
 *         remote.  A Reject (a Pong the peer could not deliver) is logged.
 *   ping  On Start sends Ping{1} to a remote pong and, on each Pong, the
 *         next Ping, until args.rounds round trips are done; then it logs a
 *         summary line and shuts the node down (exit 0).  Every Pong must
 *         carry the count of the Ping in flight; a mismatch, a Reject or no
 *         Pong within args.timeout_ms is logged, and it also ends the run.
 *
 * Arguments of ping (a JSON object in the app file):
 *   to          "pong@PEER" (PEER from the app file's "peers"), or the
 *               remote actor's bare name together with "endpoint"
 *   endpoint    e.g. "tcp://127.0.0.1:5551" (only with a bare "to")
 *   rounds      round trips, 1..2^53-1 [1000]
 *   timeout_ms  longest wait for one Pong, 0 = forever [10000]
 *   quiet       false: log every 100th round trip [true]
 *
 * Ping and Pong carry `count` as ACT_I64: a Python peer's int is arbitrary
 * precision, and an int64 is what it sends back for any count we send.
 * Log lines go to stderr, one write(2) each, prefixed "remote[PID]:".
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <actors.h>

typedef struct { int64_t count; } ping_msg;
typedef struct { int64_t count; } pong_msg;

ACT_MESSAGE_TYPE(ping_type, ping_msg, "Ping", ACT_FIELD(ping_msg, count, ACT_I64));
ACT_MESSAGE_TYPE(pong_type, pong_msg, "Pong", ACT_FIELD(pong_msg, count, ACT_I64));

#define PING_TIMER 1
#define MAX_EXACT_INT 9007199254740991.0 /* 2^53 - 1: what a JSON peer keeps exact */

/*
 * One log line on stderr.  Names and reasons come from remote peers, so
 * control characters (a newline followed by "<3>" would start a fake
 * error-priority line under journald) and backslashes are written as
 * \xNN: one call is always exactly one line.
 */
__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
	static const char hex[] = "0123456789abcdef";
	char text[512], line[1024];
	int n = snprintf(line, sizeof line, "remote[%d]: ", (int)getpid());
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	for (const unsigned char *p = (const unsigned char *)text;
	     *p && n < (int)sizeof line - 6; p++) {
		if (*p < 0x20 || *p == 0x7F || *p == '\\') {
			line[n++] = '\\';
			line[n++] = 'x';
			line[n++] = hex[*p >> 4];
			line[n++] = hex[*p & 15];
		} else {
			line[n++] = (char)*p;
		}
	}
	line[n++] = '\n';
	(void)!write(2, line, (size_t)n);
}

/* ---- pong ------------------------------------------------------------------ */

static void pong_on_ping(act_ctx *ctx, void *state, const void *m)
{
	const ping_msg *ping = m;
	pong_msg reply = { ping->count };
	int err = act_reply(ctx, &pong_type, &reply);

	/* -ENOENT: an anonymous sender (no sender fields), nobody to answer. */
	if (err && err != -ENOENT)
		say("%s: cannot answer Ping %" PRId64 ": %s", act_self_name(ctx), ping->count,
		    act_strerror(err));
}

static void log_reject(act_ctx *ctx, void *state, const void *m)
{
	const act_reject *r = m;

	say("%s: our %s was rejected by '%s': %.*s", act_self_name(ctx), r->message_type,
	    (const char *)r->rejected_by.ptr, (int)r->reason.len, (const char *)r->reason.ptr);
}

static const act_handler pong_handlers[] = {
	{ &ping_type, pong_on_ping },
	{ &act_reject_type, log_reject },
};

static const act_behaviour pong_behaviour = {
	.name = "pong",
	.handlers = pong_handlers,
	.n_handlers = sizeof pong_handlers / sizeof pong_handlers[0],
};

/* ---- ping ------------------------------------------------------------------ */

struct ping_state {
	act_ref pong;
	char target[128];       /* for log lines: "pong@peer" or "pong at endpoint" */
	int64_t rounds, next;   /* next: the count in flight (0 before Start) */
	uint32_t timeout_ms;
	bool quiet, finished;
	uint64_t t0_ns, sent_ns, rtt_min_ns, rtt_max_ns;
};

/* Reads the ping arguments and resolves the target; non-zero = bad config. */
static int ping_init(act_ctx *ctx, void *state, const char *args_json)
{
	struct ping_state *s = state;
	cJSON *args = args_json ? cJSON_Parse(args_json) : NULL;
	const cJSON *to, *ep, *v;
	int err = -EINVAL;

	s->rounds = 1000;
	s->timeout_ms = 10000;
	s->quiet = true;
	to = cJSON_GetObjectItemCaseSensitive(args, "to");
	ep = cJSON_GetObjectItemCaseSensitive(args, "endpoint");
	if (!cJSON_IsString(to) || (ep && !cJSON_IsString(ep))) {
		say("%s: args need \"to\": \"actor@peer\", or \"to\" and \"endpoint\" strings",
		    act_self_name(ctx));
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(args, "rounds");
	if (v) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > MAX_EXACT_INT ||
		    (double)(int64_t)v->valuedouble != v->valuedouble) {
			say("%s: \"rounds\" must be an integer from 1 to 2^53-1", act_self_name(ctx));
			goto out;
		}
		s->rounds = (int64_t)v->valuedouble;
	}
	v = cJSON_GetObjectItemCaseSensitive(args, "timeout_ms");
	if (v) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 86400000.0) {
			say("%s: \"timeout_ms\" must be 0..86400000", act_self_name(ctx));
			goto out;
		}
		s->timeout_ms = (uint32_t)v->valuedouble;
	}
	v = cJSON_GetObjectItemCaseSensitive(args, "quiet");
	if (v)
		s->quiet = cJSON_IsTrue(v);

	if (ep) {
		s->pong = act_ref_remote(ctx, to->valuestring, ep->valuestring);
		if (act_ref_is_nobody(s->pong)) {
			say("%s: cannot make a ref to '%s' at '%s'", act_self_name(ctx),
			    to->valuestring, ep->valuestring);
			goto out;
		}
		snprintf(s->target, sizeof s->target, "%s at %s", to->valuestring, ep->valuestring);
	} else {
		/* "actor@peer" names a peer of the app file; a bare name would
		 * be a local actor, which is fine too. */
		err = act_lookup(ctx, to->valuestring, &s->pong);
		if (err) {
			say("%s: cannot resolve '%s': %s", act_self_name(ctx), to->valuestring,
			    act_strerror(err));
			goto out;
		}
		snprintf(s->target, sizeof s->target, "%s", to->valuestring);
	}
	err = 0;
out:
	cJSON_Delete(args);
	return err;
}

/* Ends the run once: the summary line, then the node's clean shutdown. */
static void finish(act_ctx *ctx, struct ping_state *s, const char *why)
{
	uint64_t el_ns = act_now_ns() - s->t0_ns;
	int64_t done = s->next - 1;

	if (s->finished)
		return;
	s->finished = true;
	act_timer_cancel(ctx, PING_TIMER);
	if (why)
		say("%s: stopped after %" PRId64 " of %" PRId64 " round trips with %s: %s",
		    act_self_name(ctx), done, s->rounds, s->target, why);
	else
		say("%s: %" PRId64 " round trips with %s in %.1f ms: mean %.1f us, "
		    "min %.1f us, max %.1f us",
		    act_self_name(ctx), done, s->target, (double)el_ns / 1e6,
		    done ? (double)el_ns / 1e3 / (double)done : 0.0,
		    (double)s->rtt_min_ns / 1e3, (double)s->rtt_max_ns / 1e3);
	act_shutdown(ctx);
}

static void send_next(act_ctx *ctx, struct ping_state *s)
{
	ping_msg p = { s->next };
	int err;

	s->sent_ns = act_now_ns();
	err = act_send(ctx, s->pong, &ping_type, &p);
	if (err) {
		char why[96];
		snprintf(why, sizeof why, "cannot send Ping %" PRId64 ": %s", s->next,
		         act_strerror(err));
		finish(ctx, s, why);
		return;
	}
	if (s->timeout_ms)
		act_timer_once(ctx, s->timeout_ms, PING_TIMER);
}

static void ping_on_start(act_ctx *ctx, void *state, const void *m)
{
	struct ping_state *s = state;
	const act_start *st = m;

	if (st->restart)
		say("%s: restarted (%d restarts); starting over", act_self_name(ctx),
		    (int)st->n_restarts);
	s->next = 1;
	s->finished = false;
	s->rtt_min_ns = UINT64_MAX;
	s->rtt_max_ns = 0;
	s->t0_ns = act_now_ns();
	send_next(ctx, s);
}

static void ping_on_pong(act_ctx *ctx, void *state, const void *m)
{
	struct ping_state *s = state;
	const pong_msg *pong = m;
	uint64_t rtt = act_now_ns() - s->sent_ns;

	if (s->finished)
		return;
	if (pong->count != s->next) {
		char why[96];
		snprintf(why, sizeof why, "Pong %" PRId64 " while Ping %" PRId64 " was in flight",
		         pong->count, s->next);
		finish(ctx, s, why);
		return;
	}
	if (rtt < s->rtt_min_ns)
		s->rtt_min_ns = rtt;
	if (rtt > s->rtt_max_ns)
		s->rtt_max_ns = rtt;
	if (!s->quiet && s->next % 100 == 0)
		say("%s: round trip %" PRId64 " in %.1f us", act_self_name(ctx), s->next,
		    (double)rtt / 1e3);
	if (s->next++ >= s->rounds) {
		finish(ctx, s, NULL);
		return;
	}
	send_next(ctx, s);
}

static void ping_on_timeout(act_ctx *ctx, void *state, const void *m)
{
	struct ping_state *s = state;
	char why[64];

	snprintf(why, sizeof why, "no Pong within %u ms", s->timeout_ms);
	finish(ctx, s, why);
}

static void ping_on_reject(act_ctx *ctx, void *state, const void *m)
{
	struct ping_state *s = state;
	const act_reject *r = m;
	char why[256];

	log_reject(ctx, state, m);
	snprintf(why, sizeof why, "%s rejected by '%s'", r->message_type,
	         (const char *)r->rejected_by.ptr);
	finish(ctx, s, why);
}

static const act_handler ping_handlers[] = {
	{ &act_start_type, ping_on_start },
	{ &pong_type, ping_on_pong },
	{ &act_timeout_type, ping_on_timeout },
	{ &act_reject_type, ping_on_reject },
};

static const act_behaviour ping_behaviour = {
	.name = "ping",
	.state_size = sizeof(struct ping_state),
	.init = ping_init,
	.handlers = ping_handlers,
	.n_handlers = sizeof ping_handlers / sizeof ping_handlers[0],
};

ACT_MODULE_INIT(m)
{
	int err = act_module_add_behaviour(m, &pong_behaviour);

	if (!err)
		err = act_module_add_behaviour(m, &ping_behaviour);
	/* Both behaviours send a type only the other handles. */
	if (!err)
		err = act_module_add_type(m, &ping_type);
	if (!err)
		err = act_module_add_type(m, &pong_type);
	return err;
}
