/*
 * node.h - private: the node object shared by the embedded API and actorsd.
 */
#ifndef ACT_NODE_H
#define ACT_NODE_H

#include <liburing.h>
#include <sys/types.h>

#include <actors.h>

#include "registry.h"
#include "shm.h"
#include "spawn.h"

/* Supervisor-side view of one group's worker (the explicit state machine). */
struct act__gstate {
	enum act__part_state state;
	pid_t pid;
	int pidfd;
	bool pidfd_armed;
	uint64_t started_ns;
	uint32_t n_restarts;
	int last_signal;       /* of the last death, 0 if none */
	int last_exit;         /* -1 if none or killed by a signal */
	bool last_core;
};

struct act_node {
	char *name;
	struct act__registry reg;
	uint32_t max_restarts;
	uint32_t period_ms;

	/* runtime, valid while act_node_run() runs */
	uint64_t dir_hash;
	act__shm shm;
	int *efd;                 /* doorbells, one per participant */
	act__spawner sp;
	struct io_uring uring;
	bool uring_ok;
	int sigfd;
	bool sigfd_armed, efd_armed;
	uint64_t efd_buf;
	act__ring_h *in;          /* rings into the supervisor */
	act__ring_h *out;         /* rings from the supervisor */
	struct act__gstate *gs;   /* [n_groups], gs[i] is participant i + 1 */
	uint64_t *restarts_ns;    /* recent restart times, for intensity */
	uint32_t n_restarts_ns;
	bool running, stopping;
	int exit_code;
};

/*
 * Test hook: if set, act_node_run() calls it after every group stopped and
 * before the region is destroyed, so a test can read the final counters
 * (act__shm_part(&n->shm, i)).  Never set in production code.
 */
extern void (*act__node_inspect_hook)(struct act_node *n);

#endif
