/* SPDX-License-Identifier: MIT */
/*
 * t/intercept-testkit.c - interceptors under the testkit: before/after
 * order (registration order in, reverse out), a drop (handler not called,
 * counted per interceptor and type, not a dead letter, later interceptors
 * not called), elapsed time given to after, lifecycle hooks on start,
 * restart (a crash), failure (act_fail) and stop, in their orders; the
 * registration errors; and the message-flow logger's line format
 * (ACTORS_TRACE=1, stderr captured).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <actors.h>
#include <actors/testkit.h>

#include "tap.h"

typedef struct { int32_t v; } ping_msg;
ACT_MESSAGE_TYPE(ping_type, ping_msg, "Ping", ACT_FIELD(ping_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(secret_type, ping_msg, "Secret", ACT_FIELD(ping_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(fail_type, ping_msg, "FailNow", ACT_FIELD(ping_msg, v, ACT_I32));

static char trace[4096];
static size_t tlen;
static uint64_t last_elapsed;

static void tr(const char *s)
{
	size_t n = strlen(s);
	if (tlen + n + 2 < sizeof trace) {
		memcpy(trace + tlen, s, n);
		tlen += n;
		trace[tlen++] = ' ';
		trace[tlen] = '\0';
	}
}

static void reset(void) { tlen = 0; trace[0] = '\0'; }

static int before(act_ctx *ctx, void *user, const act_type *t, const void *msg, const char **reason)
{
	char b[64];
	snprintf(b, sizeof b, "%s.before(%s)", (const char *)user, t->name);
	tr(b);
	/* "B" is an authoriser: Secret messages are not for handlers. */
	if (!strcmp(user, "B") && t == &secret_type) {
		*reason = "not authorised";
		return 1;
	}
	return 0;
}
static void after(act_ctx *ctx, void *user, const act_type *t, const void *msg, uint64_t ns)
{
	char b[64];
	snprintf(b, sizeof b, "%s.after(%s)", (const char *)user, t->name);
	tr(b);
	last_elapsed = ns;
}
static void on_start(act_ctx *ctx, void *user) { char b[32]; snprintf(b, sizeof b, "%s.start", (char *)user); tr(b); }
static void on_restart(act_ctx *ctx, void *user, const act_start *s)
{
	char b[32];
	snprintf(b, sizeof b, "%s.restart%d", (char *)user, s->n_restarts);
	tr(b);
}
static void on_stop(act_ctx *ctx, void *user) { char b[32]; snprintf(b, sizeof b, "%s.stop", (char *)user); tr(b); }
static void on_failure(act_ctx *ctx, void *user, const char *why)
{
	char b[96];
	snprintf(b, sizeof b, "%s.failure[%s]", (char *)user, why);
	tr(b);
}

static const act_interceptor ic_a = {
	ACT_INTERCEPTOR_INIT, .flags = ACT_INTERCEPTOR_TIMED, .name = "A", .user = "A", .before = before, .after = after,
	.on_start = on_start, .on_restart = on_restart, .on_stop = on_stop, .on_failure = on_failure,
};
static const act_interceptor ic_b = {
	ACT_INTERCEPTOR_INIT, .name = "B", .user = "B", .before = before, .after = after,
	.on_start = on_start, .on_restart = on_restart, .on_stop = on_stop, .on_failure = on_failure,
};
static const act_interceptor ic_c = {
	ACT_INTERCEPTOR_INIT, .name = "C", .user = "C", .before = before, .after = after,
};

static int handled;

static void h_start(act_ctx *ctx, void *st, const void *m) { tr("handler(Start)"); }
static void h_ping(act_ctx *ctx, void *st, const void *m)
{
	volatile unsigned x = 0;
	for (unsigned i = 0; i < 200000; i++)
		x += i; /* some real time for after() to see */
	(void)x; /* read once: clang counts only stores otherwise */
	tr("handler(Ping)");
	handled++;
}
static void h_secret(act_ctx *ctx, void *st, const void *m) { tr("handler(Secret)"); handled++; }
static void h_fail(act_ctx *ctx, void *st, const void *m) { act_fail(ctx, "on purpose"); }
static void h_fini(act_ctx *ctx, void *st) { tr("fini"); }

static const act_handler hs[] = {
	{ &act_start_type, h_start }, { &ping_type, h_ping }, { &secret_type, h_secret },
	{ &fail_type, h_fail },
};
static const act_behaviour svc_b = { .name = "svc", .fini = h_fini, .handlers = hs, .n_handlers = 4 };
/* No Start handler: the lifecycle hooks still run. */
static const act_behaviour quiet_b = { .name = "quiet", .handlers = hs + 1, .n_handlers = 1 };

static void trace_test(void)
{
	char path[] = "/tmp/intercept-trace-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	char buf[8192] = "";

	setenv("ACTORS_TRACE", "1", 1);
	dup2(fd, 2);
	act_test_t *t = act_test_new();
	act_ref a, p;
	act_test_probe(t, "client", &p);
	act_test_spawn(t, &quiet_b, "traced", NULL, &a);
	act_test_run(t);
	act_test_send(t, p, a, &ping_type, &(ping_msg){ 1 });
	act_test_run(t);
	act_test_free(t);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	unsetenv("ACTORS_TRACE");
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	unlink(path);
	buf[n > 0 ? n : 0] = '\0';
	const char *line = strstr(buf, "trace: actor=traced type=Ping from=client elapsed_ns=");
	ok(line != NULL, "ACTORS_TRACE=1 logs one line per handled message: "
	   "'trace: actor=NAME type=TYPE from=SENDER elapsed_ns=N'");
	ok(strstr(buf, "trace: actor=traced event=start") != NULL, "and a line for the start");
	ok(strstr(buf, "trace: actor=traced event=stop") != NULL, "and a line for the stop");
	int lines = 0;
	for (const char *s = buf; (s = strstr(s, "type=Ping")); s++)
		lines++;
	ok(lines == 1, "exactly one line for the one message (%d)", lines);
	if (!line)
		diag("stderr was: %s", buf);
}

int main(void)
{
	tap_timeout(60);
	act_test_t *t = act_test_new();
	act_ref svc, q, p;

	ok(act_test_add_interceptor(t, NULL) == -EINVAL, "NULL interceptor: -EINVAL");
	act_interceptor bad = ic_a;
	bad.size = 8;
	ok(act_test_add_interceptor(t, &bad) == -EINVAL, "size too small: -EINVAL");
	ok(act_test_add_interceptor(t, &ic_a) == 0, "added A");
	ok(act_test_add_interceptor(t, &ic_a) == -EEXIST, "A again: -EEXIST");
	ok(act_test_add_interceptor(t, &ic_b) == 0 && act_test_add_interceptor(t, &ic_c) == 0,
	   "added B and C");

	act_test_probe(t, "probe", &p);
	act_test_spawn(t, &svc_b, "svc", NULL, &svc);
	act_test_spawn(t, &quiet_b, "quiet", NULL, &q);
	reset();
	act_test_run(t);
	/* the probe, svc (with a Start handler), quiet (without) */
	ok(!strcmp(trace, "A.start B.start A.start B.start handler(Start) A.start B.start "),
	   "on_start in registration order before each Start, with or without a Start handler: %s", trace);

	reset();
	act_test_send(t, p, svc, &ping_type, &(ping_msg){ 1 });
	act_test_run(t);
	ok(!strcmp(trace, "A.before(Ping) B.before(Ping) C.before(Ping) handler(Ping) "
	               "C.after(Ping) B.after(Ping) A.after(Ping) "),
	   "before in registration order, after in reverse: %s", trace);
	ok(last_elapsed > 0, "after got the handler's run time (%llu ns)", (unsigned long long)last_elapsed);

	reset();
	handled = 0;
	act_test_send(t, p, svc, &secret_type, &(ping_msg){ 2 });
	act_test_send(t, p, svc, &secret_type, &(ping_msg){ 3 });
	act_test_run(t);
	ok(handled == 0, "a dropped message never reaches its handler");
	ok(!strcmp(trace, "A.before(Secret) B.before(Secret) A.before(Secret) B.before(Secret) "),
	   "the interceptors after the dropping one are not called, nor any after(): %s", trace);
	ok(act_test_dropped(t, &ic_b, &secret_type) == 2 && act_test_dropped(t, &ic_b, NULL) == 2 &&
	   act_test_dropped(t, &ic_a, NULL) == 0 && act_test_dropped(t, &ic_b, &ping_type) == 0,
	   "drops counted per interceptor and type (%llu)",
	   (unsigned long long)act_test_dropped(t, &ic_b, &secret_type));
	ok(act_test_dead_letters(t) == 0, "a dropped message is not a dead letter");

	reset();
	act_test_crash(t, svc);
	act_test_run(t);
	ok(!strcmp(trace, "A.restart1 B.restart1 handler(Start) "),
	   "a crash: on_restart (with the Start's figures), then Start: %s", trace);

	reset();
	act_test_send(t, p, svc, &fail_type, &(ping_msg){ 4 });
	act_test_run(t);
	ok(strstr(trace, "B.failure[failed: on purpose] A.failure[failed: on purpose] ") != NULL,
	   "act_fail: on_failure in reverse order, with the reason: %s", trace);
	ok(strstr(trace, "B.stop A.stop fini") != NULL, "then it stops: on_stop in reverse order, "
	   "before fini: %s", trace);
	ok(act_test_add_interceptor(t, &ic_a) == -EEXIST, "still registered");
	act_test_free(t);

	/* a testkit without interceptors after one with them: a clean chain */
	t = act_test_new();
	act_test_spawn(t, &quiet_b, "plain", NULL, &q);
	act_test_run(t);
	reset();
	act_test_send(t, ACT_NOBODY, q, &ping_type, &(ping_msg){ 5 });
	act_test_run(t);
	ok(!strcmp(trace, "handler(Ping) "), "another testkit does not inherit them: %s", trace);
	act_test_free(t);

	trace_test();
	return done_testing();
}
