/* SPDX-License-Identifier: MIT */
/*
 * t/supervisor-kill-mod.c - the stream of t/supervisor-kill*.py: three
 * groups, producer -> relay -> consumer, every one of which dies whenever
 * actorsd does.
 *
 *   sk_producer  sends SkSeq{sender = args.id, seq} for seq 0..args.count-1
 *                to args.to.  Its progress is a 16-byte file (args.state):
 *                `next` (everything below was sent) and `pending` (nothing
 *                at or above it was sent), written before and after each
 *                batch; a new instance re-sends [next, pending) with
 *                redo = 1, since it cannot know which of those its
 *                predecessor got into the ring before it died.
 *   sk_relay     forwards each SkSeq to args.to, redo set if it was itself
 *                redelivered (it may have forwarded it before dying).  A
 *                full ring is retried in the handler: a relay that dropped
 *                or parked the envelope in its memory would lose it.
 *   sk_consumer  appends "sender seq flagged\n" to args.log per SkSeq,
 *                flagged = redelivered or redo, before its handler returns;
 *                with args.first, each instance writes "PID NS" there
 *                (CLOCK_MONOTONIC) when it handled its first envelope
 *                (bench/bench-recovery.c); with args.delay_us, it sleeps that
 *                long per SkSeq (t/reload-adopt.py: a stream slow enough
 *                to be killed in the middle of); with args.spin_ns, it stays
 *                that long in the handler, busy (t/supervisor-kill.py: a
 *                consumer a little slower than its producers, so that a
 *                backlog waits in the rings whenever a kill lands).
 * So a duplicate in the log is legitimate only when flagged.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <actors.h>

typedef struct { int32_t sender; int32_t redo; int64_t seq; } skseq_t;

ACT_MESSAGE_TYPE(skseq_type, skseq_t, "SkSeq", ACT_FIELD(skseq_t, sender, ACT_I32),
                 ACT_FIELD(skseq_t, redo, ACT_I32), ACT_FIELD(skseq_t, seq, ACT_I64));

static cJSON *args_of(const char *args) { return args ? cJSON_Parse(args) : NULL; }

static const char *str_of(cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t int_of(cJSON *o, const char *key, int64_t def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : def;
}

/* ---- producer --------------------------------------------------------------- */

struct producer {
	act_ref to;
	int32_t id;
	int64_t next, count;
	int64_t redo_until; /* below this, a predecessor may have sent it */
	int64_t pending;    /* on disk */
	int fd;
};

static int producer_init(act_ctx *ctx, void *st, const char *args)
{
	struct producer *p = st;
	cJSON *o = args_of(args);
	const char *to = str_of(o, "to"), *state = str_of(o, "state");
	int64_t disk[2] = { 0, 0 };
	int rc = 0;

	if (!to || !state || act_lookup(ctx, to, &p->to)) {
		rc = -EINVAL;
		goto out;
	}
	p->id = (int32_t)int_of(o, "id", 0);
	p->count = int_of(o, "count", 1000);
	p->fd = open(state, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (p->fd < 0) {
		rc = -errno;
		goto out;
	}
	if (pread(p->fd, disk, sizeof disk, 0) != (ssize_t)sizeof disk)
		disk[0] = disk[1] = 0;
	p->next = disk[0];
	p->pending = p->redo_until = disk[1] > disk[0] ? disk[1] : disk[0];
out:
	cJSON_Delete(o);
	return rc;
}

static void producer_pump(act_ctx *ctx, struct producer *p)
{
	int64_t end = p->next + 4096 < p->count ? p->next + 4096 : p->count;
	bool full = false;

	if (end > p->pending) {
		/* Before any of the batch can be in a ring. */
		p->pending = end;
		(void)!pwrite(p->fd, &p->pending, sizeof p->pending, 8);
	}
	while (p->next < end) {
		skseq_t m = { p->id, p->next < p->redo_until, p->next };
		int err = act_send(ctx, p->to, &skseq_type, &m);
		if (err == ACT_EFULL) {
			full = true;
			break;
		}
		if (err)
			return;
		p->next++;
	}
	/* After they are all in the ring. */
	(void)!pwrite(p->fd, &p->next, sizeof p->next, 0);
	if (p->next < p->count)
		act_timer_once(ctx, full ? 1 : 0, 1);
}

static void producer_go(act_ctx *ctx, void *st, const void *m)
{
	(void)m;
	producer_pump(ctx, st);
}

static const act_handler producer_h[] = {
	{ &act_start_type, producer_go }, { &act_timeout_type, producer_go },
};
static const act_behaviour producer_b = {
	.name = "sk_producer", .state_size = sizeof(struct producer), .init = producer_init,
	.handlers = producer_h, .n_handlers = 2,
};

/* ---- relay ------------------------------------------------------------------- */

struct relay { act_ref to; };

static int relay_init(act_ctx *ctx, void *st, const char *args)
{
	struct relay *r = st;
	cJSON *o = args_of(args);
	const char *to = str_of(o, "to");
	int rc = !to || act_lookup(ctx, to, &r->to) ? -EINVAL : 0;
	cJSON_Delete(o);
	return rc;
}

static void relay_seq(act_ctx *ctx, void *st, const void *msg)
{
	struct relay *r = st;
	skseq_t m = *(const skseq_t *)msg;
	struct timespec ts = { 0, 20000 };

	m.redo |= act_redelivered(ctx) > 0;
	/* The consumer drains in its own process; its ring frees up soon. */
	while (act_send(ctx, r->to, &skseq_type, &m) == ACT_EFULL)
		nanosleep(&ts, NULL);
}

static const act_handler relay_h[] = { { &skseq_type, relay_seq } };
static const act_behaviour relay_b = {
	.name = "sk_relay", .state_size = sizeof(struct relay), .init = relay_init,
	.handlers = relay_h, .n_handlers = 1,
};

/* ---- consumer ---------------------------------------------------------------- */

struct consumer { int fd, first_fd; bool stamped; long delay_ns, spin_ns; };

static int consumer_init(act_ctx *ctx, void *st, const char *args)
{
	struct consumer *c = st;
	cJSON *o = args_of(args);
	const char *log = str_of(o, "log");
	(void)ctx;
	const char *first = str_of(o, "first");
	c->delay_ns = (long)int_of(o, "delay_us", 0) * 1000;
	c->spin_ns = (long)int_of(o, "spin_ns", 0);
	c->fd = log ? open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
	c->first_fd = first ? open(first, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) : -1;
	cJSON_Delete(o);
	return c->fd < 0 ? -EINVAL : 0;
}

static void consumer_seq(act_ctx *ctx, void *st, const void *msg)
{
	struct consumer *c = st;
	const skseq_t *m = msg;
	char line[64];
	int n = snprintf(line, sizeof line, "%d %lld %d\n", m->sender, (long long)m->seq,
	                 act_redelivered(ctx) > 0 || m->redo);
	(void)!write(c->fd, line, (size_t)n);
	if (c->delay_ns > 0) {
		struct timespec d = { c->delay_ns / 1000000000, c->delay_ns % 1000000000 };
		nanosleep(&d, NULL);
	}
	if (c->spin_ns > 0) {
		struct timespec t0, t;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do
			clock_gettime(CLOCK_MONOTONIC, &t);
		while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < c->spin_ns);
	}
	if (c->first_fd >= 0 && !c->stamped) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		n = snprintf(line, sizeof line, "%10d %20llu\n", (int)getpid(),
		             (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec);
		(void)!pwrite(c->first_fd, line, (size_t)n, 0);
		c->stamped = true;
	}
}

static const act_handler consumer_h[] = { { &skseq_type, consumer_seq } };
static const act_behaviour consumer_b = {
	.name = "sk_consumer", .state_size = sizeof(struct consumer), .init = consumer_init,
	.handlers = consumer_h, .n_handlers = 1,
};

ACT_MODULE_INIT(m)
{
	int err = act_module_add_behaviour(m, &producer_b);
	if (!err) err = act_module_add_behaviour(m, &relay_b);
	if (!err) err = act_module_add_behaviour(m, &consumer_b);
	return err;
}
