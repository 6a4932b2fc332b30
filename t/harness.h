/*
 * t/harness.h - helpers for tests that run a whole node in the test
 * process: results travel from workers to the test through a shared
 * anonymous mapping made before act_node_run() (workers inherit it).
 */
#ifndef ACTORS_T_HARNESS_H
#define ACTORS_T_HARNESS_H

#include <stdatomic.h>
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

#endif
