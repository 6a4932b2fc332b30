/* SPDX-License-Identifier: MIT */
/*
 * t/testkit-examples.c - the examples' actors under the testkit: the
 * example sources are compiled in (their main() renamed, their module
 * init unused), so what is tested is exactly what the examples run.
 * The kvstore's TTLs run on the virtual clock: no test waits.
 */
#include <stdio.h>
#include <string.h>

#include <actors.h>
#include <actors/testkit.h>

#include "tap.h"

#define main pingpong_main
int pingpong_main(int argc, char **argv);
#include "../examples/pingpong/pingpong.c"
#undef main
#include "../examples/kvstore/kvstore.c"

/* ---- pingpong --------------------------------------------------------------- */

static void test_pingpong(void)
{
	act_test_t *t = act_test_new();
	act_ref ping, pong, probe;
	const act_type *ty;
	const void *m;
	act_ref from;
	int n;

	quiet = 1;
	rounds = 5;
	ok(act_test_spawn(t, &pong_behaviour, "pong", NULL, &pong) == 0, "pingpong: pong spawned");
	ok(act_test_spawn(t, &ping_behaviour, "ping", NULL, &ping) == 0, "pingpong: ping spawned");
	n = act_test_run(t);
	/* Start(ping), then 5 Pings and 5 Pongs. */
	ok(n == 11, "pingpong: 5 round trips, 11 handlers (%d)", n);
	ok(act_test_shutdown_requested(t), "pingpong: ping shut the node down when done");

	/* pong alone, seen from a probe: Pong{n} for Ping{n}, to the sender. */
	act_test_probe(t, "probe", &probe);
	act_test_send(t, probe, pong, &ping_type, &(ping_msg){ 41 });
	act_test_run(t);
	ok(act_test_take(t, probe, &ty, &m, &from) == 0 && ty == &pong_type &&
	   ((const pong_msg *)m)->count == 41 && act_ref_eq(from, pong),
	   "pingpong: pong answers Ping{41} with Pong{41}");
	size_t dl = act_test_dead_letters(t);
	act_test_send(t, ACT_NOBODY, pong, &ping_type, &(ping_msg){ 1 });
	act_test_run(t);
	ok(act_test_dead_letters(t) == dl, "pingpong: a Ping from nobody gets no answer "
	   "(act_reply fails, nothing is dead-lettered)");
	act_test_free(t);
}

/* ---- kvstore: Set/Get/Del with TTLs, the sweep, a restart -------------------- */

static void kv_send_set(act_test_t *t, act_ref from, act_ref kv, const char *key,
                        const char *value, const char *ttl)
{
	set_msg m = { { key, (uint32_t)strlen(key), 0 }, { value, (uint32_t)strlen(value), 0 },
	              { ttl, (uint32_t)strlen(ttl), 0 } };
	act_test_send(t, from, kv, &set_type, &m);
	act_test_run(t);
}

/* Sends Get{key} and returns the Value's JSON text ("" if not found). */
static const char *kv_get_value(act_test_t *t, act_ref from, act_ref kv, const char *key,
                                char *buf, size_t cap)
{
	const act_type *ty;
	const void *m;
	key_msg g = { { key, (uint32_t)strlen(key), 0 } };

	snprintf(buf, cap, "?");
	act_test_send(t, from, kv, &get_type, &g);
	act_test_run(t);
	if (act_test_take(t, from, &ty, &m, NULL) == 0 && ty == &value_type) {
		const value_msg *v = m;
		snprintf(buf, cap, "%s", v->found ? (const char *)v->value.ptr : "");
	}
	return buf;
}

static void test_kvstore(void)
{
	act_test_t *t = act_test_new();
	act_ref kv, c;
	const act_type *ty;
	const void *m;
	char b[128];

	ok(act_test_spawn(t, &kv_behaviour, "kv", "{\"sweep_ms\": 100}", &kv) == 0,
	   "kvstore: spawned");
	ok(act_test_spawn(t, &kv_behaviour, "kv2", "{\"sweep_ms\": 0}", &c) == -EINVAL,
	   "kvstore: bad args fail init with -EINVAL");
	act_test_probe(t, "client", &c);
	act_test_run(t);

	kv_send_set(t, c, kv, "a", "{\"x\":1}", "0.5");
	ok(act_test_take(t, c, &ty, &m, NULL) == 0 && ty == &ok_type &&
	   !strcmp(((const ok_msg *)m)->op, "Set") && !((const ok_msg *)m)->found,
	   "kvstore: Set a (ttl 0.5 s) answers Ok{Set, found false}");
	kv_send_set(t, c, kv, "forever", "2", "null");
	act_test_take(t, c, NULL, NULL, NULL);
	ok(!strcmp(kv_get_value(t, c, kv, "a", b, sizeof b), "{\"x\":1}"),
	   "kvstore: Get a: %s", b);
	act_test_advance(t, 499);
	ok(!strcmp(kv_get_value(t, c, kv, "a", b, sizeof b), "{\"x\":1}"),
	   "kvstore: still there at 499 ms: %s", b);
	act_test_advance(t, 1);
	act_test_send(t, c, kv, &stats_type, &(stats_msg){ 0 });
	act_test_run(t);
	ok(act_test_take(t, c, &ty, &m, NULL) == 0 && ty == &kvstats_type &&
	   ((const kvstats_msg *)m)->keys == 1 && ((const kvstats_msg *)m)->expired == 1,
	   "kvstore: the sweep at 500 ms removed it (KvStats keys 1, expired 1)");
	ok(!strcmp(kv_get_value(t, c, kv, "a", b, sizeof b), ""), "kvstore: Get a: not found");
	ok(!strcmp(kv_get_value(t, c, kv, "forever", b, sizeof b), "2"),
	   "kvstore: a key without ttl stays: %s", b);

	kv_send_set(t, c, kv, "bad", "1", "-3");
	ok(act_test_take(t, c, &ty, &m, NULL) == 0 && ty == &error_type,
	   "kvstore: a negative ttl answers Error");

	/* A crash runs no fini: in a real node the process takes the table
	 * with it; here the test process lives on, so free it first (or
	 * LeakSanitizer reports what the dead instance held). */
	table_fini(&((struct kv *)act_test_state(t, kv))->t);
	act_test_crash(t, kv);
	act_test_run(t);
	ok(!strcmp(kv_get_value(t, c, kv, "forever", b, sizeof b), ""),
	   "kvstore: a restarted store starts empty");
	ok(act_test_dead_letters(t) == 0, "kvstore: no dead letters");
	act_test_free(t);
}

int main(void)
{
	tap_timeout(30);
	test_pingpong();
	test_kvstore();
	return done_testing();
}
