/*
 * t/testkit-examples.c - the examples' actors under the testkit: the
 * example sources are compiled in (their main() renamed, their module
 * init unused), so what is tested is exactly what the examples run.
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

int main(void)
{
	tap_timeout(30);
	test_pingpong();
	done_testing();
}
