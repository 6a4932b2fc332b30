/* SPDX-License-Identifier: MIT */
/*
 * t/corrupt-shm.c - a worker that scribbles over the shared-memory region's
 * header must not take the supervisor down: its replacement refuses the
 * region (bad magic) with a permanent error, the group is reported failed,
 * and the node stops with ACT_EXIT_PERMANENT instead of crashing.
 */
#include <signal.h>
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"

struct area { _Atomic int starts, scribbled; };
static struct area *A;

static void vandal_start(act_ctx *ctx, void *st, const void *m)
{
	A->starts++;
	unsigned char *base = harness_find_region();
	if (!base)
		return;
	/* Garbage over the header: magic, sizes, table offsets, checksum. */
	memset(base, 0xab, 256);
	A->scribbled = 1;
	raise(SIGKILL);
}

static const act_handler vandal_h[] = { { &act_start_type, vandal_start } };
static const act_behaviour vandal_b = { .name = "vandal", .handlers = vandal_h, .n_handlers = 1 };

int main(void)
{
	tap_timeout(60);
	A = shared_area(sizeof *A);
	act_node_t *n = act_node_new("corrupt");
	act_node_add_group(n, "vandals");
	act_node_add_actor(n, "vandals", "vandal", &vandal_b, NULL);
	act_node_set_intensity(n, 5, 5000);
	harness_collect_counters();
	int rc = act_node_run(n);
	act_node_free(n);
	ok(A->scribbled == 1, "the worker found the region and wrote garbage over its header");
	ok(A->starts == 1, "no replacement ran user code on the corrupt region (%d starts)", A->starts);
	ok(rc == ACT_EXIT_PERMANENT,
	   "the supervisor survived and stopped the node with %d (permanent error), got %d",
	   ACT_EXIT_PERMANENT, rc);
	ok(n_counted == 2, "its final counters were still readable");
	return done_testing();
}
