/* SPDX-License-Identifier: MIT */
/*
 * t/dynamic-capacity.c - how many actors a group may spawn, and what that
 * room costs.
 *
 *   1. max_spawned is checked where it is set: act_node_set_max_spawned()
 *      and the app file's group key (bad values get an error naming it).
 *   2. A group of 100 slots takes exactly 100 spawned actors, then says
 *      -ENOSPC; a stop makes room for one more.  Long args (kept outside
 *      the record) reach init intact; a monitor outside the record works.
 *   3. A group of 200,000 permanent spawned actors (some with long args,
 *      one monitored) is killed with envelopes queued to some of them,
 *      one from another group: all 200,000 come back with their args, each
 *      queued envelope is handled once, the monitor still fires.
 *   4. Room costs nothing until used: a worker whose group may spawn
 *      4,194,304 actors is about as big as one with the default room.
 */
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

/* ASan's allocator makes an untouched calloc cost shadow memory. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#include "appfile.h"
#include "tap.h"
#include "harness.h"

#define N_SMALL 100
#ifndef N_BIG
#define N_BIG 200000
#endif
#define LONG_EVERY 10000   /* every so many big actors get long args */
#define PING_EVERY 1000    /* every so many big actors get a queued envelope */
#define MONITORED 5        /* the big actor the parent monitors */

typedef struct { int32_t v; } num_msg;
ACT_MESSAGE_TYPE(ping_type, num_msg, "Ping", ACT_FIELD(num_msg, v, ACT_I32));
ACT_MESSAGE_TYPE(die_type, num_msg, "Die", ACT_FIELD(num_msg, v, ACT_I32));
typedef struct { int32_t id, gen; } target_msg;
ACT_MESSAGE_TYPE(target_type, target_msg, "Target", ACT_FIELD(target_msg, id, ACT_I32),
                 ACT_FIELD(target_msg, gen, ACT_I32));

struct area {
	/* scenario 2 */
	_Atomic int small_ok, small_first_err, small_after_stop, small_again_err;
	_Atomic int long_args_ok, small_down_stopped, small_done, anon_local, anon_bad;
	_Atomic int anon_remote, anon_remote_bad;
	char anon_name[64];
	/* scenario 3 */
	_Atomic int spawn_fail, inits, inits_after, args_bad, pings_other, downs_stopped,
	            downs_other, restarted, big_done, last_pinged;
	_Atomic uint64_t kill_ns, back_ns;
	act_ref monitored;   /* here: the parent's state does not survive the crash */
	_Atomic unsigned char pings[N_BIG / PING_EVERY + 1];
	/* scenario 4 */
	_Atomic long rss_kib;
};
static struct area *A;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- args ------------------------------------------------------------------------ */

/* The args of actor i: its number, or for some a long JSON string carrying it. */
static void make_args(char *buf, size_t cap, int i)
{
	if (i % LONG_EVERY)
		snprintf(buf, cap, "%d", i);
	else
		snprintf(buf, cap, "\"%d:%0300d\"", i, 0);
}

/* The number in args made by make_args(), or -1 if they are not such. */
static int parse_args(const char *args)
{
	char want[400];
	int i;

	if (!args)
		return -1;
	i = atoi(args[0] == '"' ? args + 1 : args);
	make_args(want, sizeof want, i);
	return strcmp(want, args) ? -1 : i;
}

/* ---- scenario 2: a small group ---------------------------------------------------- */

static int noop_init(act_ctx *ctx, void *st, const char *args)
{
	if (args && args[0] == '"' && parse_args(args) == 0)
		A->long_args_ok = 1;
	return 0;
}
static const act_behaviour small_b = { .name = "small", .state_size = 8, .init = noop_init };

static void filler_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r, first = ACT_NOBODY, last = ACT_NOBODY;
	uint64_t mid;
	char args[400];
	int err = 0, n = 0;

	while (n <= N_SMALL + 1 && !(err = act_spawn(ctx, NULL, "small", NULL, NULL, &r))) {
		if (!n++)
			first = r;
		last = r;
	}
	A->small_ok = n;
	A->small_first_err = err;
	/* Anonymous names are looked up where they point, not in a table. */
	const char *nm = act_ref_name(ctx, last);
	act_ref back;
	if (nm && nm[0] == '$') {
		snprintf(A->anon_name, sizeof A->anon_name, "%s", nm);
		A->anon_local = act_lookup(ctx, nm, &back) == 0 && act_ref_eq(back, last);
	}
	A->anon_bad = (act_lookup(ctx, "$1.99999.1", &back) == -ENOENT) +
	              (act_lookup(ctx, "$1.1.999", &back) == -ENOENT) +
	              (act_lookup(ctx, "$1.x.1", &back) == -ENOENT) +
	              (act_lookup(ctx, "$77.1.1", &back) == -ENOENT);
	/* One stop makes room for exactly one more, with long args. */
	make_args(args, sizeof args, 0);
	if (act_monitor(ctx, first, &mid) || act_stop(ctx, first))
		return;
	A->small_after_stop = act_spawn(ctx, NULL, "small", "long", args, &r) == 0;
	A->small_again_err = act_spawn(ctx, NULL, "small", NULL, NULL, &r);
}

static void filler_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	act_ref other;
	num_msg p = { 0 };

	if (!strcmp(d->reason, "stopped"))
		A->small_down_stopped++;
	/* The other group looks one of ours up by its anonymous name. */
	if (act_lookup(ctx, "other", &other) || act_send(ctx, other, &ping_type, &p))
		act_shutdown(ctx);
}

/* In a second group: finds the small group's anonymous actor by name. */
static void other_ping(act_ctx *ctx, void *st, const void *m)
{
	act_ref r;
	A->anon_remote = act_lookup(ctx, A->anon_name, &r) == 0 && act_ref_name(ctx, r) &&
	                 !strcmp(act_ref_name(ctx, r), A->anon_name);
	A->anon_remote_bad = act_lookup(ctx, "$1.99.7", &r) == -ENOENT;
	A->small_done = 1;
	act_shutdown(ctx);
}
static const act_handler other_h[] = { { &ping_type, other_ping } };
static const act_behaviour other_b = { .name = "other", .handlers = other_h, .n_handlers = 1 };

static const act_handler filler_h[] = { { &act_start_type, filler_start },
                                        { &act_down_type, filler_down } };
static const act_behaviour filler_b = { .name = "filler", .handlers = filler_h, .n_handlers = 2 };

static void run_small(void)
{
	act_node_t *node = act_node_new("dyncap-small");
	act_node_add_group(node, "small");
	act_node_add_actor(node, "small", "filler", &filler_b, NULL);
	act_node_add_group(node, "others");
	act_node_add_actor(node, "others", "other", &other_b, NULL);
	act_node_add_behaviour(node, &small_b);
	ok(act_node_set_max_spawned(node, "small", N_SMALL) == 0, "max_spawned %d accepted",
	   N_SMALL);
	int rc = act_node_run(node);
	act_node_free(node);
	ok(rc == 0 && A->small_done, "small node stopped cleanly (rc %d)", rc);
	ok(A->small_ok == N_SMALL && A->small_first_err == -ENOSPC,
	   "a group of %d slots took %d actors, then -ENOSPC (%d)", N_SMALL, A->small_ok,
	   A->small_first_err);
	ok(A->small_after_stop && A->small_again_err == -ENOSPC,
	   "a stop made room for one more, and only one (%d)", A->small_again_err);
	ok(A->long_args_ok, "long args (outside the record) reached init intact");
	ok(A->small_down_stopped == 1, "the monitor (outside the record) got Down 'stopped'");
	ok(A->anon_local && A->anon_bad == 4,
	   "an anonymous name (%s) is found in its own group; 4 near misses are not (%d)",
	   A->anon_name, A->anon_bad);
	ok(A->anon_remote && A->anon_remote_bad, "and from another group");
}

/* ---- scenario 3: 200,000 actors across a crash --------------------------------------- */

struct perm { int32_t idx; };

static int perm_init(act_ctx *ctx, void *st, const char *args)
{
	struct perm *p = st;
	if ((p->idx = parse_args(args)) < 0)
		A->args_bad++;
	A->inits++;
	if (A->restarted)
		A->inits_after++;
	return 0;
}

static void perm_ping(act_ctx *ctx, void *st, const void *m)
{
	struct perm *p = st;
	if (p->idx >= 0 && p->idx % PING_EVERY == 0)
		A->pings[p->idx / PING_EVERY]++;
	else
		A->pings_other++;
	if (p->idx == N_BIG - 1)
		A->last_pinged = 1;
	/* The last of the envelopes queued behind the kill. */
	if (p->idx == (N_BIG - 1) / PING_EVERY * PING_EVERY)
		A->back_ns = mono_ns();
}

static const act_handler perm_h[] = { { &ping_type, perm_ping } };
static const act_behaviour perm_b = {
	.name = "perm", .state_size = sizeof(struct perm), .init = perm_init,
	.handlers = perm_h, .n_handlers = 1, .restart = ACT_PERMANENT,
};

static void parent_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r, feeder;
	char args[400];
	uint64_t mid;
	num_msg p = { 0 };

	if (((const act_start *)m)->restart)
		return;
	/* Handled after everything below is queued behind it. */
	act_send(ctx, act_self(ctx), &die_type, &p);
	act_lookup(ctx, "feeder", &feeder);
	for (int i = 0; i < N_BIG; i++) {
		make_args(args, sizeof args, i);
		if (act_spawn(ctx, NULL, "perm", NULL, args, &r)) {
			A->spawn_fail++;
			continue;
		}
		if (i == MONITORED) {
			A->monitored = r;
			if (act_monitor(ctx, r, &mid))
				A->spawn_fail++;
		}
		if (i % PING_EVERY == 0 && i != N_BIG - 1 && act_send(ctx, r, &ping_type, &p))
			A->spawn_fail++;
		/* The last one's envelope comes from another group. */
		if (i == N_BIG - 1 &&
		    act_send(ctx, feeder, &target_type, &(target_msg){ (int32_t)r.id, (int32_t)r.gen }))
			A->spawn_fail++;
	}
}

static void parent_die(act_ctx *ctx, void *st, const void *m)
{
	if (!act_redelivered(ctx)) {
		A->kill_ns = mono_ns();
		A->restarted = 1;
		raise(SIGKILL);
	}
	/* Restored (this envelope was redelivered after every actor came
	 * back): the monitor set before the crash still fires. */
	if (act_stop(ctx, A->monitored) || act_timer_once(ctx, 10, 1))
		A->spawn_fail++;
}

static void parent_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	if (!strcmp(d->reason, "stopped"))
		A->downs_stopped++;
	else
		A->downs_other++;
	A->big_done = 1;
}

/* Polls (from the restored parent) until the envelopes queued behind the
 * kill, the feeder's and the Down were all handled; tap_timeout bounds it. */
static void parent_poll(act_ctx *ctx, void *st, const void *m)
{
	if (A->big_done && A->back_ns && A->last_pinged)
		act_shutdown(ctx);
	else if (act_timer_once(ctx, 10, 1))
		A->spawn_fail++;
}

static const act_handler parent_h[] = {
	{ &act_start_type, parent_start }, { &die_type, parent_die },
	{ &act_down_type, parent_down }, { &act_timeout_type, parent_poll },
};
static const act_behaviour parent_b = {
	.name = "parent", .handlers = parent_h,
	.n_handlers = 4,
};

static void feeder_target(act_ctx *ctx, void *st, const void *m)
{
	const target_msg *t = m;
	num_msg p = { 0 };

	if (act_send(ctx, (act_ref){ (uint32_t)t->id, 0, (uint32_t)t->gen }, &ping_type, &p))
		A->spawn_fail++;
}
static const act_handler feeder_h[] = { { &target_type, feeder_target } };
static const act_behaviour feeder_b = { .name = "feeder", .handlers = feeder_h, .n_handlers = 1 };

static void run_big(void)
{
	act_node_t *node = act_node_new("dyncap-big");
	act_node_add_group(node, "feed");
	act_node_add_group(node, "big");
	act_node_add_actor(node, "feed", "feeder", &feeder_b, NULL);
	act_node_add_actor(node, "big", "parent", &parent_b, NULL);
	act_node_add_behaviour(node, &perm_b);
	act_node_set_max_spawned(node, "big", N_BIG);
	/* Spawning and restoring 200,000 actors under a sanitizer on a busy
	 * machine must not look like a hang. */
	act_node_set_heartbeat(node, "big", 100, 60000);
	act_node_set_intensity(node, 5, 10000);
	int rc = act_node_run(node);
	act_node_free(node);
	ok(rc == 0, "big node stopped cleanly (rc %d)", rc);
	ok(A->spawn_fail == 0, "every spawn, monitor and send succeeded (%d failed)", A->spawn_fail);
	ok(A->inits == 2 * N_BIG && A->inits_after == N_BIG,
	   "all %d actors were re-created after the kill (%d inits, %d after)", N_BIG, A->inits,
	   A->inits_after);
	ok(A->args_bad == 0, "each got its own args back, long ones included (%d bad)", A->args_bad);
	int short_ = 0, over = 0;
	for (int i = 0; i <= (N_BIG - 1) / PING_EVERY; i++) {
		short_ += A->pings[i] < 1;
		over += A->pings[i] > 1;
	}
	ok(short_ == 0 && over == 0 && A->pings_other == 1 && A->last_pinged,
	   "every queued envelope was handled once, the other group's too (%d missing, %d twice, "
	   "last: %d)", short_, over, A->pings_other);
	ok(A->downs_stopped == 1 && A->downs_other == 0,
	   "a monitor set before the crash fired after it (Down 'stopped' %d, other %d)",
	   A->downs_stopped, A->downs_other);
	if (A->back_ns > A->kill_ns && A->kill_ns)
		diag("kill -> %d actors back and the envelopes queued to them handled: %.1f ms", N_BIG,
		     (double)(A->back_ns - A->kill_ns) / 1e6);
}

/* ---- scenario 4: room costs nothing until used ---------------------------------------- */

static void rss_start(act_ctx *ctx, void *st, const void *m)
{
	char buf[4096], *p;
	FILE *f = fopen("/proc/self/status", "re");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	p = strstr(buf, "VmRSS:");
	A->rss_kib = p ? strtol(p + 6, NULL, 10) : -1;
	act_shutdown(ctx);
}
static const act_handler rss_h[] = { { &act_start_type, rss_start } };
static const act_behaviour rss_b = { .name = "rss", .handlers = rss_h, .n_handlers = 1 };

static long worker_rss(uint32_t max_spawned)
{
	act_node_t *node = act_node_new("dyncap-rss");
	act_node_add_group(node, "g");
	act_node_add_actor(node, "g", "rss", &rss_b, NULL);
	if (max_spawned)
		act_node_set_max_spawned(node, "g", max_spawned);
	A->rss_kib = -1;
	int rc = act_node_run(node);
	act_node_free(node);
	return rc ? -1 : A->rss_kib;
}

static void run_rss(void)
{
	long base = worker_rss(0), big = worker_rss(4194304);

	ok(base > 0 && big > 0, "workers with 16384 and 4194304 slots ran (%ld, %ld kB)", base, big);
#ifdef UNDER_ASAN
	ok(1, "# SKIP sanitizer allocators change what an untouched allocation costs");
#else
	/* Slots are 1.2 KiB of region and 0.1 KiB of heap each: 4 Mi used ones
	 * would be gigabytes, the allowance is for noise. */
	ok(big - base < 2048, "4194304 unused slots cost %ld kB more than 16384 (< 2048)",
	   big - base);
#endif
}

/* ---- scenario 1: where the capacity is set --------------------------------------------- */

static void run_config(void)
{
	act_node_t *node = act_node_new("dyncap-config");
	act_node_add_group(node, "g");
	ok(act_node_set_max_spawned(node, "g", 0) == -EINVAL, "max_spawned 0: -EINVAL");
	ok(act_node_set_max_spawned(node, "g", 4194305) == -EINVAL, "max_spawned 4194305: -EINVAL");
	ok(act_node_set_max_spawned(node, "nope", 10) == -ENOENT, "unknown group: -ENOENT");
	ok(act_node_set_max_spawned(node, "g", 4194304) == 0, "max_spawned 4194304 accepted");
	act_node_free(node);

	static const struct { const char *v; int good; uint32_t want; } cases[] = {
		{ "1", 1, 1 }, { "4194304", 1, 4194304 }, { "0", 0, 0 }, { "4194305", 0, 0 },
		{ "-1", 0, 0 }, { "1.5", 0, 0 }, { "\"100\"", 0, 0 }, { "null", 0, 0 },
	};
	char text[256], err[512];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct act__app app;
		snprintf(text, sizeof text, "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":"
		         "\"libg.so\",\"max_spawned\":%s,\"actors\":[{\"name\":\"a\",\"behaviour\":"
		         "\"b\"}]}]}", cases[i].v);
		err[0] = '\0';
		int rc = act__app_parse(text, strlen(text), "cap.json", NULL, &app, err, sizeof err);
		if (cases[i].good)
			ok(rc == 0 && app.groups[0].max_spawned == cases[i].want,
			   "app file max_spawned %s accepted", cases[i].v);
		else
			ok(rc != 0 && strstr(err, "max_spawned"),
			   "app file max_spawned %s rejected: %s", cases[i].v, err);
		if (!rc)
			act__app_free(&app);
	}
	struct act__app app;
	const char *dflt = "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"libg.so\","
	                   "\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\"}]}]}";
	int rc = act__app_parse(dflt, strlen(dflt), NULL, NULL, &app, err, sizeof err);
	ok(rc == 0 && app.groups[0].max_spawned == 0, "without the key: the default (0)");
	if (!rc)
		act__app_free(&app);
}

int main(void)
{
	tap_timeout(240);
	A = shared_area(sizeof *A);
	run_config();
	run_small();
	run_big();
	run_rss();
	return done_testing();
}
