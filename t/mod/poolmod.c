/* SPDX-License-Identifier: MIT */
/*
 * t/mod/poolmod.c - a group module for the pool tests (t/pool-*.py).
 *
 * Behaviours (arguments are JSON objects from the app file):
 *   pworker  the pool's actor.  Job{key, seq}: appends "S member pid key seq
 *            redelivered" to args.log, spins args.work_us microseconds,
 *            appends "E member pid key seq redelivered".  A Job whose key is
 *            args.poison_key and seq args.poison_seq kills the member
 *            (SIGSEGV) the first args.poison_times times it is delivered
 *            (default 1; 99 = always).  Ping{count} -> Pong{count * 100 + member}.
 *   driver   on Start sends args.keys keys "k0".."kN-1" (prefix args.prefix,
 *            default "k") args.per_key Jobs
 *            each (seq 0.., keys interleaved) to args.to, retrying after
 *            1 ms on a full ring; then appends "D sent" to args.log.
 *   asker    on Start asks args.to Ping{i} for i in 0..args.count-1 (a few
 *            at a time) and appends "A member i answer" per reply and
 *            "T member i" per timeout to args.log.
 *   echo     Ping{count} -> Pong{count}.
 * Log lines are written with one write() to an O_APPEND file: the file's
 * order is the order in which they happened, across processes.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <actors.h>

typedef struct { int64_t count; } ping_t;
typedef struct { int64_t count; } pong_t;
typedef struct { char key[16]; int64_t seq; } job_t;

ACT_MESSAGE_TYPE(ping_type, ping_t, "Ping", ACT_FIELD(ping_t, count, ACT_I64));
ACT_MESSAGE_TYPE(pong_type, pong_t, "Pong", ACT_FIELD(pong_t, count, ACT_I64));
ACT_MESSAGE_TYPE(job_type, job_t, "Job", ACT_FIELD(job_t, key, ACT_STR),
                 ACT_FIELD(job_t, seq, ACT_I64));

static int64_t arg_int(const char *args, const char *key, int64_t def)
{
	cJSON *o = args ? cJSON_Parse(args) : NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	int64_t r = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : def;
	cJSON_Delete(o);
	return r;
}

static void arg_str(const char *args, const char *key, char *buf, size_t cap)
{
	cJSON *o = args ? cJSON_Parse(args) : NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	snprintf(buf, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
	cJSON_Delete(o);
}

static int open_log(const char *args)
{
	char path[512];
	arg_str(args, "log", path, sizeof path);
	return path[0] ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
}

static void logf_(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(int fd, const char *fmt, ...)
{
	char line[160];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (fd >= 0 && n > 0)
		(void)!write(fd, line, (size_t)n);
}

static void spin_us(int64_t us)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

/* ---- pworker --------------------------------------------------------------------- */

struct pworker {
	int log;
	int64_t work_us, poison_seq, poison_times;
	char poison_key[16];
};

static int pworker_init(act_ctx *ctx, void *st, const char *args)
{
	struct pworker *p = st;
	(void)ctx;
	p->log = open_log(args);
	p->work_us = arg_int(args, "work_us", 0);
	p->poison_seq = arg_int(args, "poison_seq", -1);
	p->poison_times = arg_int(args, "poison_times", 1);
	arg_str(args, "poison_key", p->poison_key, sizeof p->poison_key);
	return 0;
}

static void pworker_job(act_ctx *ctx, void *st, const void *m)
{
	struct pworker *p = st;
	const job_t *j = m;
	int member = act_pool_member(ctx);
	unsigned r = act_redelivered(ctx);

	logf_(p->log, "S %d %d %s %lld %u\n", member, (int)getpid(), j->key, (long long)j->seq, r);
	if (j->seq == p->poison_seq && !strcmp(j->key, p->poison_key) && r < p->poison_times)
		raise(SIGSEGV);
	spin_us(p->work_us);
	logf_(p->log, "E %d %d %s %lld %u\n", member, (int)getpid(), j->key, (long long)j->seq, r);
}

static void pworker_ping(act_ctx *ctx, void *st, const void *m)
{
	(void)st;
	pong_t r = { ((const ping_t *)m)->count * 100 + act_pool_member(ctx) };
	act_reply(ctx, &pong_type, &r);
}

static const act_handler pworker_h[] = { { &job_type, pworker_job }, { &ping_type, pworker_ping } };
static const act_behaviour pworker_b = {
	.name = "pworker", .state_size = sizeof(struct pworker), .init = pworker_init,
	.handlers = pworker_h, .n_handlers = 2,
};

/* ---- driver ---------------------------------------------------------------------- */

struct driver {
	int log;
	char prefix[8];
	act_ref to;
	int64_t keys, per_key, next;
};

static int driver_init(act_ctx *ctx, void *st, const char *args)
{
	struct driver *d = st;
	char to[64];
	d->log = open_log(args);
	d->keys = arg_int(args, "keys", 1);
	d->per_key = arg_int(args, "per_key", 1);
	arg_str(args, "prefix", d->prefix, sizeof d->prefix);
	if (!d->prefix[0])
		strcpy(d->prefix, "k");
	arg_str(args, "to", to, sizeof to);
	return act_lookup(ctx, to, &d->to);
}

static void driver_pump(act_ctx *ctx, struct driver *d)
{
	while (d->next < d->keys * d->per_key) {
		job_t j;
		memset(&j, 0, sizeof j);
		snprintf(j.key, sizeof j.key, "%s%d", d->prefix, (int)(d->next % d->keys & 0xffff));
		j.seq = d->next / d->keys;
		int err = act_send(ctx, d->to, &job_type, &j);
		if (err == ACT_EFULL) {
			act_timer_once(ctx, 1, 1);
			return;
		}
		if (err) {
			logf_(d->log, "X send failed %d\n", err);
			return;
		}
		d->next++;
	}
	logf_(d->log, "D %lld\n", (long long)d->next);
}

static void driver_start(act_ctx *ctx, void *st, const void *m) { (void)m; driver_pump(ctx, st); }
static void driver_timeout(act_ctx *ctx, void *st, const void *m) { (void)m; driver_pump(ctx, st); }

static const act_handler driver_h[] = { { &act_start_type, driver_start },
                                        { &act_timeout_type, driver_timeout } };
static const act_behaviour driver_b = {
	.name = "driver", .state_size = sizeof(struct driver), .init = driver_init,
	.handlers = driver_h, .n_handlers = 2,
};

/* ---- asker ----------------------------------------------------------------------- */

struct asker {
	int log;
	act_ref to;
	int64_t count, next, outstanding;
};

static void asker_pump(act_ctx *ctx, struct asker *a);

static void asker_answer(act_ctx *ctx, void *st, int status, const act_type *t, const void *m,
                         uint64_t cookie)
{
	struct asker *a = st;
	a->outstanding--;
	if (status == 0 && t && !strcmp(t->name, "Pong"))
		logf_(a->log, "A %d %llu %lld\n", act_pool_member(ctx), (unsigned long long)cookie,
		      (long long)((const pong_t *)m)->count);
	else
		logf_(a->log, "T %d %llu %d\n", act_pool_member(ctx), (unsigned long long)cookie,
		      status);
	asker_pump(ctx, a);
}

static void asker_pump(act_ctx *ctx, struct asker *a)
{
	while (a->next < a->count && a->outstanding < 8) {
		ping_t p = { a->next };
		int err = act_ask(ctx, a->to, &ping_type, &p, 5000, asker_answer, (uint64_t)a->next);
		if (err == ACT_EFULL) {
			act_timer_once(ctx, 1, 1);
			return;
		}
		if (err) {
			logf_(a->log, "X ask failed %d\n", err);
			return;
		}
		a->next++;
		a->outstanding++;
	}
}

static int asker_init(act_ctx *ctx, void *st, const char *args)
{
	struct asker *a = st;
	char to[64];
	a->log = open_log(args);
	a->count = arg_int(args, "count", 1);
	arg_str(args, "to", to, sizeof to);
	return act_lookup(ctx, to, &a->to);
}

static void asker_start(act_ctx *ctx, void *st, const void *m) { (void)m; asker_pump(ctx, st); }
static void asker_timeout(act_ctx *ctx, void *st, const void *m) { (void)m; asker_pump(ctx, st); }

static const act_handler asker_h[] = { { &act_start_type, asker_start },
                                       { &act_timeout_type, asker_timeout } };
static const act_behaviour asker_b = {
	.name = "asker", .state_size = sizeof(struct asker), .init = asker_init,
	.handlers = asker_h, .n_handlers = 2,
};

/* ---- echo ------------------------------------------------------------------------ */

static void echo_ping(act_ctx *ctx, void *st, const void *m)
{
	(void)st;
	pong_t r = { ((const ping_t *)m)->count };
	act_reply(ctx, &pong_type, &r);
}

static const act_handler echo_h[] = { { &ping_type, echo_ping } };
static const act_behaviour echo_b = { .name = "echo", .handlers = echo_h, .n_handlers = 1 };

ACT_MODULE_INIT(m)
{
	int err = 0;
	if (!err) err = act_module_add_behaviour(m, &pworker_b);
	if (!err) err = act_module_add_behaviour(m, &driver_b);
	if (!err) err = act_module_add_behaviour(m, &asker_b);
	if (!err) err = act_module_add_behaviour(m, &echo_b);
	if (!err) err = act_module_add_type(m, &pong_type);
	return err;
}
