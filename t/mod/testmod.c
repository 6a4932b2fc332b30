/* SPDX-License-Identifier: MIT */
/*
 * t/mod/testmod.c - a group module for the actorsd tests.
 *
 * Behaviours:
 *   echo      Ping{count} -> replies Pong{count}; Crash{how} crashes the
 *             group ("segv", "abort", "exit100", "exit111", "exit0",
 *             "hang" = infinite loop without heartbeat; "closefds" closes
 *             every fd from 3 on and returns; "nullfds" puts /dev/null in
 *             their place; "forkcont" forks, and both processes return;
 *             "clonecont" the same with a raw clone(), which runs no
 *             pthread_atfork hooks).
 *   producer  on Start streams Seq{sender, seq} to args.to (args.count
 *             messages, resuming after a restart from a counter kept in a
 *             file, args.state) and backs off on a full ring.
 *   consumer  records every Seq it handles into a log file (args.log): one
 *             line "sender seq redelivered" per completed handler; a Seq
 *             whose seq equals args.poison crashes the group (SIGSEGV);
 *             Crash{"stallN"} appends "stall R" (R = act_redelivered) to
 *             the log and blocks in pause() while R < N, then replies
 *             Pong{count = R} (to kill a worker while it handles one
 *             envelope, again and again).
 *   pid       replies to Ping with Pong{count = getpid()} (so a test can see
 *             which worker answered).
 *   locker    takes a file lock at init and maps the file (see below).
 * All arguments are JSON objects given in the app file.
 */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <actors.h>

typedef struct { int64_t count; } ping_t;
typedef struct { int64_t count; } pong_t;
typedef struct { char how[16]; } crash_t;
typedef struct { int32_t sender; int64_t seq; } seq_t;

ACT_MESSAGE_TYPE(ping_type, ping_t, "Ping", ACT_FIELD(ping_t, count, ACT_I64));
ACT_MESSAGE_TYPE(pong_type, pong_t, "Pong", ACT_FIELD(pong_t, count, ACT_I64));
ACT_MESSAGE_TYPE(crash_type, crash_t, "Crash", ACT_FIELD(crash_t, how, ACT_STR));
ACT_MESSAGE_TYPE(seq_type, seq_t, "Seq", ACT_FIELD(seq_t, sender, ACT_I32),
                 ACT_FIELD(seq_t, seq, ACT_I64));

static const char *arg_str(const char *args, const char *key, char *buf, size_t cap)
{
	cJSON *o = args ? cJSON_Parse(args) : NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	const char *r = NULL;
	if (cJSON_IsString(v)) {
		snprintf(buf, cap, "%s", v->valuestring);
		r = buf;
	}
	cJSON_Delete(o);
	return r;
}

static int64_t arg_int(const char *args, const char *key, int64_t def)
{
	cJSON *o = args ? cJSON_Parse(args) : NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	int64_t r = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : def;
	cJSON_Delete(o);
	return r;
}

/* ---- echo / pid --------------------------------------------------------------- */

static void echo_ping(act_ctx *ctx, void *st, const void *m)
{
	pong_t r = { ((const ping_t *)m)->count };
	act_reply(ctx, &pong_type, &r);
}

static void pid_ping(act_ctx *ctx, void *st, const void *m)
{
	pong_t r = { getpid() };
	act_reply(ctx, &pong_type, &r);
}

static void do_crash(act_ctx *ctx, void *st, const void *m)
{
	const char *how = ((const crash_t *)m)->how;
	if (!strcmp(how, "segv"))
		raise(SIGSEGV);
	else if (!strcmp(how, "abort"))
		abort();
	else if (!strcmp(how, "exit100"))
		_exit(100);
	else if (!strcmp(how, "exit111"))
		_exit(111);
	else if (!strcmp(how, "exit0"))
		_exit(0);
	else if (!strcmp(how, "hang"))
		for (volatile unsigned x = 0;; x++)
			;
	else if (!strcmp(how, "forkcont"))
		(void)fork(); /* and both return: a hostile module's handler */
	else if (!strcmp(how, "clonecont"))
		(void)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0); /* fork without its hooks */
	else if (!strcmp(how, "nullfds")) {
		int nul = open("/dev/null", O_RDWR);
		for (int fd = 3; fd < 4096; fd++)
			if (fd != nul && fcntl(fd, F_GETFD) >= 0)
				dup2(nul, fd);
	}
	else if (!strcmp(how, "closefds"))
		for (int fd = 3; fd < 4096; fd++) /* a hostile module's handler */
			close(fd);
}

static const act_handler echo_h[] = { { &ping_type, echo_ping }, { &crash_type, do_crash } };
static const act_behaviour echo_b = { .name = "echo", .handlers = echo_h, .n_handlers = 2 };
static const act_handler pid_h[] = { { &ping_type, pid_ping }, { &crash_type, do_crash } };
static const act_behaviour pid_b = { .name = "pid", .handlers = pid_h, .n_handlers = 2 };
/* echo that remote peers may reach when spawned (t/dynamic-remote.py) */
static const act_behaviour recho_b = {
	.name = "recho", .handlers = echo_h, .n_handlers = 2, .remote = true,
};

/* ---- producer ------------------------------------------------------------------- */

struct producer {
	act_ref to;
	int32_t id;
	int64_t next, count;
	char state[256];
	int state_fd;
};

static int producer_init(act_ctx *ctx, void *st, const char *args)
{
	struct producer *p = st;
	char to[64];
	if (!arg_str(args, "to", to, sizeof to) || act_lookup(ctx, to, &p->to))
		return -EINVAL;
	p->id = (int32_t)arg_int(args, "id", 0);
	p->count = arg_int(args, "count", 1000);
	p->state_fd = -1;
	if (arg_str(args, "state", p->state, sizeof p->state)) {
		/* Resume where the last instance stopped: the counter file holds
		 * the next sequence number (rewritten in place, 8 bytes). */
		p->state_fd = open(p->state, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (p->state_fd < 0 || pread(p->state_fd, &p->next, sizeof p->next, 0) != 8)
			p->next = 0;
	}
	return 0;
}

static void producer_pump(act_ctx *ctx, struct producer *p)
{
	int n = 0;
	while (p->next < p->count && n++ < 4096) {
		seq_t m = { p->id, p->next };
		int err = act_send(ctx, p->to, &seq_type, &m);
		if (err == ACT_EFULL)
			break;
		if (err)
			return;
		p->next++;
	}
	if (p->state_fd >= 0)
		(void)!pwrite(p->state_fd, &p->next, sizeof p->next, 0);
	if (p->next < p->count)
		act_timer_once(ctx, n > 4096 ? 0 : 1, 1);
}

static void producer_start(act_ctx *ctx, void *st, const void *m) { producer_pump(ctx, st); }
static void producer_timeout(act_ctx *ctx, void *st, const void *m) { producer_pump(ctx, st); }

static const act_handler producer_h[] = {
	{ &act_start_type, producer_start }, { &act_timeout_type, producer_timeout },
};
static const act_behaviour producer_b = {
	.name = "producer", .state_size = sizeof(struct producer), .init = producer_init,
	.handlers = producer_h, .n_handlers = 2,
};

/* ---- consumer ------------------------------------------------------------------- */

struct consumer {
	int log_fd;
	int64_t poison;
};

static int consumer_init(act_ctx *ctx, void *st, const char *args)
{
	struct consumer *c = st;
	char path[256];
	c->log_fd = -1;
	c->poison = arg_int(args, "poison", -1);
	if (arg_str(args, "log", path, sizeof path))
		c->log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	return 0;
}

static void consumer_seq(act_ctx *ctx, void *st, const void *m)
{
	struct consumer *c = st;
	const seq_t *s = m;
	char line[64];

	if (s->seq == c->poison)
		raise(SIGSEGV);
	if (c->log_fd >= 0) {
		int n = snprintf(line, sizeof line, "%d %lld %u\n", s->sender, (long long)s->seq,
		                 act_redelivered(ctx));
		(void)!write(c->log_fd, line, (size_t)n);
	}
}

static void consumer_crash(act_ctx *ctx, void *st, const void *m)
{
	struct consumer *c = st;
	const char *how = ((const crash_t *)m)->how;
	char line[64];

	if (strncmp(how, "stall", 5)) {
		do_crash(ctx, st, m);
		return;
	}
	uint32_t r = act_redelivered(ctx);
	if (c->log_fd >= 0) {
		int n = snprintf(line, sizeof line, "stall %u\n", r);
		(void)!write(c->log_fd, line, (size_t)n);
	}
	if (r < (uint32_t)atoi(how + 5))
		for (;;)
			pause();
	pong_t p = { r };
	act_reply(ctx, &pong_type, &p);
}

static const act_handler consumer_h[] = { { &seq_type, consumer_seq }, { &ping_type, echo_ping },
                                          { &crash_type, consumer_crash } };
static const act_behaviour consumer_b = {
	.name = "consumer", .state_size = sizeof(struct consumer), .init = consumer_init,
	.handlers = consumer_h, .n_handlers = 3,
};

/* ---- locker ---------------------------------------------------------------------- */

/*
 * At init: opens args.path, takes args.lock on it without waiting ("flock",
 * "ofd", "posix" or "none"), maps its first page shared (unless args.map
 * is 0) and keeps the descriptor, then dirties args.mb MiB of private memory (so that its
 * address space takes a while to tear down).  Ping answers Pong{1} if it
 * got its lock, else Pong{-errno}.  (t/quick-reap-locks.py)
 */
struct locker {
	int64_t got;
};

static int locker_init(act_ctx *ctx, void *st, const char *args)
{
	struct locker *l = st;
	char path[256], kind[16] = "none";
	int64_t mb = arg_int(args, "mb", 0);
	int fd, rc = 0;

	if (!arg_str(args, "path", path, sizeof path))
		return -EINVAL;
	arg_str(args, "lock", kind, sizeof kind);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 4096))
		return -errno;
	if (!strcmp(kind, "flock")) {
		rc = flock(fd, LOCK_EX | LOCK_NB);
	} else if (!strcmp(kind, "ofd") || !strcmp(kind, "posix")) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		rc = fcntl(fd, !strcmp(kind, "ofd") ? F_OFD_SETLK : F_SETLK, &fl);
	}
	l->got = rc ? -errno : 1;
	if (arg_int(args, "map", 1) &&
	    mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED)
		return -errno;
	if (mb > 0) {
		size_t n = (size_t)mb << 20;
		char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -errno;
		for (size_t i = 0; i < n; i += 4096)
			p[i] = 1;
	}
	return 0;
}

static void locker_ping(act_ctx *ctx, void *st, const void *m)
{
	pong_t r = { ((struct locker *)st)->got };
	act_reply(ctx, &pong_type, &r);
}

static const act_handler locker_h[] = { { &ping_type, locker_ping } };
static const act_behaviour locker_b = {
	.name = "locker", .state_size = sizeof(struct locker), .init = locker_init,
	.handlers = locker_h, .n_handlers = 1,
};

ACT_MODULE_INIT(m)
{
	int err = 0;
	if (!err) err = act_module_add_behaviour(m, &echo_b);
	if (!err) err = act_module_add_behaviour(m, &pid_b);
	if (!err) err = act_module_add_behaviour(m, &recho_b);
	if (!err) err = act_module_add_behaviour(m, &producer_b);
	if (!err) err = act_module_add_behaviour(m, &consumer_b);
	if (!err) err = act_module_add_behaviour(m, &locker_b);
	if (!err) err = act_module_add_type(m, &pong_type);
	return err;
}
