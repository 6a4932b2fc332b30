/* SPDX-License-Identifier: MIT */
/*
 * t/dynamic-xcap.c - cross-group spawning on groups of their own capacity
 * (the merge of per-group max_spawned with cross-group claims).
 *
 * Groups: "small" (max_spawned 20), "big" (max_spawned 40000, which makes
 * the id stride 65536 instead of 16384) and "home" (the default), whose
 * actor spawns into the other two:
 *   1. into "small": exactly 20 spawns succeed, then -ENOSPC; a stop
 *      there (across groups) frees a slot that a later spawn claims.
 *   2. into "big": a named actor with long args (kept in the slot's ext
 *      block, written by the spawning group) gets them intact in init;
 *      its ref's id lies in big's range; its name is found from home and
 *      cannot be taken again in another group (the name index);
 *   3. home monitors it across groups (the monitor lives in big's ext
 *      block) and gets Down "stopped" when it stops it.
 */
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "harness.h"

#define N_SMALL 20
#define N_BIG   40000

typedef struct { int32_t v; } num_msg;
ACT_MESSAGE_TYPE(ping_type, num_msg, "Ping", ACT_FIELD(num_msg, v, ACT_I32));

struct area {
	_Atomic int small_ok, small_err, stop_err, again_ok, again_err;
	_Atomic int kid_args_ok, kid_inits, far_spawn_err, far_id, far_name_ok, dup_err;
	_Atomic int lookup_ok, monitor_err, stop_far_err, downs_stopped, done;
	_Atomic int small_inits, small_down;
};
static struct area *A;

static char long_args[200];

static int small_init(act_ctx *ctx, void *st, const char *args)
{
	(void)ctx, (void)st, (void)args;
	A->small_inits++;
	return 0;
}
static const act_behaviour small_b = { .name = "smallkid", .state_size = 8, .init = small_init };

static int far_init(act_ctx *ctx, void *st, const char *args)
{
	(void)ctx, (void)st;
	A->kid_inits++;
	if (args && !strcmp(args, long_args))
		A->kid_args_ok = 1;
	return 0;
}
static const act_behaviour far_b = { .name = "farkid", .state_size = 8, .init = far_init };

static void home_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r, first = ACT_NOBODY, far, found;
	uint64_t mid;
	int err = 0, n = 0;

	(void)st, (void)m;
	while (n <= N_SMALL + 1 && !(err = act_spawn(ctx, "small", "smallkid", NULL, NULL, &r)))
		if (!n++)
			first = r;
	A->small_ok = n;
	A->small_err = err;
	/* Down for it says small's worker has ended it (its slot is freed
	 * right after it sends Down: see home_down()). */
	A->stop_err = act_monitor(ctx, first, &mid) || act_stop(ctx, first);

	A->far_spawn_err = act_spawn(ctx, "big", "farkid", "far", long_args, &far);
	if (A->far_spawn_err)
		goto out;
	/* big is group 2 of a stride of 65536 slots: ids from BASE + 65536. */
	A->far_id = far.id - 1 >= 0x40000000u + 65536u && far.id - 1 < 0x40000000u + 65536u + N_BIG;
	A->far_name_ok = act_ref_name(ctx, far) && !strcmp(act_ref_name(ctx, far), "far");
	A->dup_err = act_spawn(ctx, "small", "smallkid", "far", NULL, &r);
	A->lookup_ok = act_lookup(ctx, "far", &found) == 0 && act_ref_eq(found, far);
	A->monitor_err = act_monitor(ctx, far, &mid);
	A->stop_far_err = act_stop(ctx, far);
	return;
out:
	act_shutdown(ctx);
}

static void home_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	act_ref r;

	(void)st;
	if (!strcmp(d->actor, "far")) {
		if (!strcmp(d->reason, "stopped"))
			A->downs_stopped++;
	} else if (d->actor[0] == '$') {
		/* small's worker frees the slot just after sending Down: retry
		 * -ENOSPC briefly (bounded) for that window. */
		for (int i = 0; i < 5000; i++) {
			int err = act_spawn(ctx, "small", "smallkid", NULL, NULL, &r);
			A->again_err = err;
			if (!err) {
				A->again_ok = 1;
				break;
			}
			if (err != -ENOSPC)
				break;
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
		}
		A->small_down = 1;
	}
	if (A->small_down && A->downs_stopped) {
		A->done = 1;
		act_shutdown(ctx);
	}
}

static const act_handler home_h[] = { { &act_start_type, home_start },
                                      { &act_down_type, home_down } };
static const act_behaviour home_b = { .name = "home", .handlers = home_h, .n_handlers = 2 };

int main(void)
{
	tap_timeout(60);
	A = shared_area(sizeof *A);
	snprintf(long_args, sizeof long_args, "\"%0150d\"", 7);

	act_node_t *node = act_node_new("dyn-xcap");
	act_node_add_group(node, "home");
	act_node_add_actor(node, "home", "home", &home_b, NULL);
	act_node_add_group(node, "big");
	act_node_add_group(node, "small");
	act_node_add_behaviour(node, &small_b);
	act_node_add_behaviour(node, &far_b);
	ok(act_node_set_max_spawned(node, "small", N_SMALL) == 0, "small: max_spawned %d", N_SMALL);
	ok(act_node_set_max_spawned(node, "big", N_BIG) == 0, "big: max_spawned %d", N_BIG);
	int rc = act_node_run(node);
	act_node_free(node);

	ok(rc == 0 && A->done, "node stopped cleanly (rc %d)", rc);
	ok(A->small_ok == N_SMALL && A->small_err == -ENOSPC,
	   "into a group of %d slots from another: %d spawns, then -ENOSPC (%d)", N_SMALL,
	   A->small_ok, A->small_err);
	ok(A->stop_err == 0 && A->again_ok, "a stop across groups made room for one more (%d, %d)",
	   A->stop_err, A->again_err);
	ok(A->far_spawn_err == 0 && A->far_id && A->far_name_ok,
	   "a named spawn into a group of %d slots: its id in that group's range (%d)", N_BIG,
	   A->far_spawn_err);
	ok(A->kid_inits == 1 && A->kid_args_ok, "long args written across groups reached init");
	ok(A->dup_err == -EEXIST, "its name cannot be taken in a third group (%d)", A->dup_err);
	ok(A->lookup_ok, "its name is found from the spawning group");
	ok(A->monitor_err == 0 && A->stop_far_err == 0 && A->downs_stopped == 1,
	   "a monitor across groups got Down 'stopped' (%d, %d, %d)", A->monitor_err,
	   A->stop_far_err, A->downs_stopped);
	return done_testing();
}
