/* SPDX-License-Identifier: MIT */
/*
 * t/harness.h - helpers for tests that run a whole node in the test
 * process: results travel from workers to the test through a shared
 * anonymous mapping made before act_node_run() (workers inherit it).
 */
#ifndef ACTORS_T_HARNESS_H
#define ACTORS_T_HARNESS_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <actors.h>

#include "node.h"
#include "shm.h"

/* A zeroed MAP_SHARED|MAP_ANONYMOUS area of n bytes, or bail. */
static inline void *shared_area(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		printf("Bail out! mmap failed\n");
		exit(1);
	}
	return p;
}

/* Where this process (a worker) maps the region: the memfd mapping named
 * "actors-region" in /proc/self/maps, or NULL.  For tests that scribble
 * on it as an attacker would. */
static inline unsigned char *harness_find_region(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long lo = 0;
	while (f && fgets(line, sizeof line, f))
		if (strstr(line, "actors-region") && sscanf(line, "%lx-", &lo) == 1)
			break;
	if (f)
		fclose(f);
	return (unsigned char *)lo;
}

/* Final per-participant counters, filled by the inspect hook. */
struct part_counters {
	uint64_t handled, redelivered, dead_letters, unknown_type, corrupt;
};
static struct part_counters counters[16];
static uint32_t n_counted;

static inline void harness_inspect(struct act_node *n)
{
	n_counted = n->reg.n_groups + 1 < 16 ? n->reg.n_groups + 1 : 16;
	for (uint32_t i = 0; i < n_counted; i++) {
		struct act__part *p = act__shm_part(&n->shm, i);
		counters[i].handled = atomic_load(&p->n_handled);
		counters[i].redelivered = atomic_load(&p->n_redelivered);
		counters[i].dead_letters = atomic_load(&p->n_dead_letters);
		counters[i].unknown_type = atomic_load(&p->n_unknown_type);
		counters[i].corrupt = atomic_load(&p->n_corrupt);
	}
}

/* Call once before act_node_run() to collect counters[] (index = group number, 1-based). */
static inline void harness_collect_counters(void)
{
	act__node_inspect_hook = harness_inspect;
}

/*
 * A watchdog actor for test nodes: it stops the node after
 * harness_watchdog_ms and sets *harness_watchdog_fired (which must live in
 * a shared area), so that a stuck scenario fails its own assertions instead
 * of the whole test timing out.  Set both before act_node_run().
 */
static _Atomic int *harness_watchdog_fired;
static uint64_t harness_watchdog_ms = 15000;

static void harness_watchdog_start(act_ctx *ctx, void *st, const void *m)
{
	if (act_timer_once(ctx, harness_watchdog_ms, 1))
		act_shutdown(ctx);
}

static void harness_watchdog_timeout(act_ctx *ctx, void *st, const void *m)
{
	if (harness_watchdog_fired)
		atomic_store(harness_watchdog_fired, 1);
	act_shutdown(ctx);
}

static const act_handler harness_watchdog_h[] = {
	{ &act_start_type, harness_watchdog_start }, { &act_timeout_type, harness_watchdog_timeout },
};
__attribute__((unused))
static const act_behaviour harness_watchdog_b = {
	.name = "watchdog", .handlers = harness_watchdog_h, .n_handlers = 2,
};

#endif
