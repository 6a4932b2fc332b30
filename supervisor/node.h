/* SPDX-License-Identifier: MIT */
/*
 * node.h - private: the node object shared by the embedded API, actorsd
 * and the control server.
 */
#ifndef ACT_NODE_H
#define ACT_NODE_H

#include <sys/types.h>

#include <actors.h>

#include "loop.h"
#include "registry.h"
#include "restart.h"
#include "shm.h"
#include "spawn.h"
#include "wire.h"

struct act__ctl;
struct act__ctl_conn;
struct act__dlstore;
struct act__gateway;
struct act__recover;

/*
 * The supervisor's view of one group: one state, changed only through
 * act__group_set_state() against the transition table in group.c.  A
 * stopping worker's escalation is its state (STOPPING -> TERMINATING ->
 * KILLING); what follows the stop (stay down, or start again) is `next`.
 * Being in the start queue is QUEUED or BACKOFF, or a stop state whose
 * `next` is one of them.
 */
enum act__gphase {
	ACT__G_DOWN = 0,     /* never started, not queued */
	ACT__G_QUEUED,       /* in the start queue, may start now */
	ACT__G_BACKOFF,      /* in the start queue, not before not_before_ns */
	ACT__G_STARTING,     /* worker forked, its READY not seen yet */
	ACT__G_READY,        /* worker said READY */
	ACT__G_STOPPING,     /* STOP record sent, waiting for the exit */
	ACT__G_TERMINATING,  /* SIGTERM sent, waiting for the exit */
	ACT__G_KILLING,      /* SIGKILL sent, waiting for the exit */
	ACT__G_HUNG,         /* killed for a stale heartbeat, waiting for the exit */
	ACT__G_DEAD,         /* died or stopped; only an operator starts it again */
	ACT__G_DONE,         /* will not run again (temporary / transient) */
	ACT__G_FAILED,       /* exited 100 (permanent error): not restarted */
	ACT__G_REMOVED,      /* a reload removed it; only a reload adds it back */
	ACT__G_N_STATES
};

#define ACT__MAX_HOLDS 8u

struct act__gstate {
	enum act__gphase state;
	enum act__gphase next; /* in a stop state: the state its exit leads to */
	struct act_node *node;  /* back pointers for the event handles */
	uint32_t index;
	pid_t pid;
	int pidfd;
	bool pidfd_armed;
	struct act__evh pid_h;
	bool reap_pending;     /* its pidfd fired: reap after the rings are drained */
	/* Its dead worker's address-space holder (group.c,
	 * act__group_check_teardowns()): to look at (0: none) and its pidfd,
	 * opened when the worker was reaped (before orphans are), then the
	 * pidfds of the holders whose teardowns the group's gate waits for
	 * (a worker may die at the gate while an earlier one tears down); the
	 * loop polls the first. */
	pid_t check_holder;
	int check_hfd;
	int hold_fds[ACT__MAX_HOLDS];
	uint32_t n_holds;
	bool hold_armed;
	struct act__evh hold_h;
	uint64_t n_teardown_waits;
	bool kept_gone;        /* done or failed as the last supervisor left it (node.c) */
	uint64_t started_ns;
	uint32_t n_restarts;
	/* the last death (or, with hang_kill, the one under way) */
	int last_signal;       /* of the last death, 0 if none */
	int last_exit;         /* -1 if none or killed by a signal */
	bool last_core;
	bool hang_kill;        /* the supervisor killed it for a stale heartbeat */
	/* hang detection of a sleeping worker: when we first saw it asleep
	 * with work waiting (0: not seen), and its heartbeat then */
	uint64_t asleep_work_since_ns, asleep_work_hb_ns;
	char last_death[192];  /* one line, for status */
	bool death_by_removal; /* last_death is the stop a reload's removal asked for */
	uint64_t removed_at_ms;/* wall clock of the reload that removed it; 0 if none */
	uint64_t stop_deadline_ns; /* in a stop state: when to escalate */
	uint64_t not_before_ns;/* with a start pending: do not start before */
	struct act__ctl_conn *waiter; /* actorsctl restart waiting for READY */
	/* hot standby */
	pid_t spare_pid;
	int spare_pidfd;
	bool spare_armed;
	struct act__evh spare_h;
	uint64_t n_takeovers;
	/* The highest inbound depth status has shown (control.c): the rings'
	 * own marks lag their depth, so status keeps its own. */
	uint64_t ring_hwm_seen;
	/* A spare participant a reload gave a group (reload.c): shown in
	 * status from then on; an unused spare is not. */
	bool spare_used;
	/* Where the last ended worker's records to the supervisor end in
	 * their ring: a peer watch read from before it is a dead watcher's
	 * (peers.c). */
	uint64_t peer_mark;
};

/* True if group gi is a spare participant no reload has used: status and
 * metrics leave it out. */
static inline bool act__node_group_unused_spare(const struct act_node *n, uint32_t gi);

/* A ring's in-flight bookkeeping when a group's worker started, to tell a
 * record this worker started from one an earlier worker left unfinished. */
struct act__inflight_mark {
	bool set;
	uint64_t pos;
	uint32_t count;
};

#define ACT__CRASH_HISTORY 32u

struct act__crash {
	uint64_t time_ms;
	uint32_t group;
	pid_t pid;
	int signal, exit_code;
	bool core, hung;
	char handling_type[64];
	char handling_from[64];
	uint64_t ring_depth;
};

struct act_node {
	char *name;
	struct act__registry reg;
	struct act__policy pol;
	char *state_dir;
	char *control_path;
	/* actorsd: runs in the zygote before any worker is forked */
	int (*zygote_init)(struct act_node *n, void *arg);
	void *zygote_arg;
	/* actorsd: runs in each forked worker before the group starts */
	int (*worker_init)(struct act__registry *reg, uint32_t self, void *arg);
	void *worker_init_arg;
	/* actorsd: reload (supervisor/reload.c).  reload starts one, from
	 * SIGHUP (c NULL) or actorsctl reload (c waits for the outcome), and
	 * returns 0 or a negative code with the reason in err; reload_tick
	 * runs every loop pass, after reaping and before the start queue. */
	int (*reload)(struct act_node *n, struct act__ctl_conn *c, char *err, size_t err_cap);
	void (*reload_tick)(struct act_node *n);
	/* True while a reload runs: its steps are polled by reload_tick, so
	 * the loop keeps its short tick (NULL: never). */
	bool (*reload_busy)(const struct act_node *n);
	/* When the caller of the loop needs it to return (the systemd
	 * watchdog's next ping), 0 if never: an idle loop sleeps up to 2 s. */
	uint64_t wake_by_ns;
	void *reload_arg;
	struct act__ctl_conn *reload_waiter; /* actorsctl reload waiting, or NULL */
	uint64_t n_reloads, n_reloads_failed, n_reloads_refused; /* done, stopped midway, refused */
	uint64_t n_handoffs, n_handoffs_failed; /* reload restarts with / without state */
	uint64_t reload_gap_last_us, reload_gap_max_us; /* a group's STOP to its new READY */

	/* runtime, valid while act_node_run() runs */
	uint64_t dir_hash;
	uint64_t started_ns;
	act__shm shm;
	int *efd;                 /* doorbells, one per participant */
	int *standby_efd;         /* per group: wakes its hot standby */
	act__spawner sp;
	struct act__loop loop;
	int sigfd;
	bool sigfd_armed, efd_armed;
	struct act__evh sig_h, bell_h;
	struct act__ring **rings; /* [from * n_parts + to], resolved once at start */
	act__ring_h *in;          /* rings into the supervisor */
	act__ring_h *out;         /* rings from the supervisor */
	struct act__gstate *gs;   /* [n_groups], gs[i] is participant i + 1 */
	struct act__inflight_mark *marks; /* [gi * (n_groups + 1) + from] */
	struct act__sup sup;
	uint32_t startq[ACT__SUP_MAX_GROUPS];
	uint32_t n_startq;
	struct act__crash crashes[ACT__CRASH_HISTORY];
	uint32_t n_crashes;       /* total; the last ACT__CRASH_HISTORY are kept */
	uint32_t n_restarts_total;
	struct act__ctl *ctl;
	char *metrics_endpoint;   /* NULL: no HTTP metrics endpoint */
	struct act__httpd *httpd;
	struct act__dlstore *dl;
	uint64_t n_dead_letters;
	uint64_t bytes_left_at_stop; /* envelopes dropped with the node (group.c) */
	uint64_t next_corr;
	struct act__gateway *gw;
	/* gateway configuration (no endpoint: no gateway) */
	char *endpoint, *advertise;
	struct act__wire_limits limits;
	char *curve_secret, *curve_public;
	char (*curve_allow)[41];
	uint32_t n_curve_allow;
	bool all_remote;
	bool out_blocked;         /* an outbound envelope waits for a full peer */
	/* STOP_CHILDREN words for the children of a removed group's actors
	 * that found the ring to their group full: retried each turn of the
	 * loop (act__node_stop_children_flush()). */
	struct act__orphans *stop_wait;
	uint32_t n_stop_wait, cap_stop_wait;
	/* When to retry them, and the wait after a retry that sent nothing
	 * (1 ms, doubling up to 100 ms: a group stopped for long costs few
	 * wake-ups). */
	uint64_t stop_wait_next_ns, stop_wait_retry_ns;
	bool drain_more;          /* route_drain() stopped at its per-ring cap */
	/* The gateway just handed a spinning group work (act__node_ring_group):
	 * its answer usually comes within microseconds, so the loop looks for
	 * it a little before it sleeps (loop.c, answer_spin()). */
	bool expect_answer;
	uint32_t answer_misses, answer_skip; /* spins that found nothing; spins to skip */
	/* A rolling restart of a pool's members (poolsup.c): member `next`
	 * of the pool whose member 0 is group `first` is being restarted. */
	struct act__rolling {
		bool active;
		uint32_t first, n, next;
		struct act__ctl_conn *waiter;
	} rolling;
	bool running, stopping, stop_done;
	int exit_code;
	struct act__recover *rec; /* actorsd: the region outlives us (recover.c); NULL: not */
};

/* ---- for the control server and actorsd ----------------------------------- */

/* Index of group `name`, or -ENOENT. */
int act__node_group_index(const struct act_node *n, const char *name);

/*
 * Queues a JSON message for actor `actor` from a client (actorsctl) or the
 * gateway.  sender/endpoint name the party outside (NULL/"" for a client);
 * flags may include ACT__ENV_ASK with corr.  0, -ENOENT (unknown actor),
 * ACT_EFULL, -EMSGSIZE.
 */
int act__node_inject(struct act_node *n, const char *actor, const char *type,
                     const char *json, size_t json_len, const char *sender,
                     const char *endpoint, uint32_t from_peer, uint16_t flags, uint64_t corr);

/* Starts a manual restart of group gi; waiter (may be NULL) is answered on READY. */
ACT__SHARED int act__node_restart_group(struct act_node *n, uint32_t gi,
                                        struct act__ctl_conn *waiter);

/*
 * Reload (reload.c): removes group gi.  Senders are refused from now on
 * (act__part.removed); a running worker is sent STOP, so it handles what
 * is already in its rings, runs its actors' Shutdown and exits (SIGTERM,
 * SIGKILL after shutdown_ms, as any stop); then the group is REMOVED and
 * nothing restarts it.  A waiting actorsctl restart is answered.
 */
ACT__SHARED void act__node_remove_group(struct act_node *n, uint32_t gi);
/*
 * Reload: adds back group gi, REMOVED: senders are accepted again and the
 * group is queued to start (a fresh start: restart counters go on).
 * 0, or -EBUSY if it is not (yet) REMOVED.
 */
ACT__SHARED int act__node_add_group(struct act_node *n, uint32_t gi);
/* Bytes still in the rings into group gi (what a removed group left:
 * a send that raced with its removal). */
ACT__SHARED uint64_t act__node_group_leftover(const struct act_node *n, uint32_t gi);
/* Group gi, removed by a reload, has no worker that tells its actors'
 * children in other groups to stop (killed, or none ran): the supervisor
 * tells those groups, one word per parent found in their records. */
void act__node_stop_children_of(struct act_node *n, uint32_t gi);
/* Sends the words act__node_stop_children_of() keeps for full rings, as
 * far as the rings take them; those for a group removed or gone since
 * are dropped.  Returns how many were sent. */
unsigned act__node_stop_children_flush(struct act_node *n);
/* The loop's turn: retries those words when due (backing off while none
 * goes) and lowers *timeout_ns to the next retry. */
void act__node_stop_children_retry(struct act_node *n, uint64_t now, uint64_t *timeout_ns);
/* Frees the records of group gi's spawned actors: a reload removed it
 * (called once no worker of it runs). */
void act__node_forget_spawned(struct act_node *n, uint32_t gi);
/* True if a reload removed group gi (it may still be draining). */
ACT__SHARED bool act__node_group_removed(const struct act_node *n, uint32_t gi);
/* True if group gi will not run again until an operator starts it (done,
 * failed, dead): nothing reads its rings meanwhile. */
bool act__node_group_gone(const struct act_node *n, uint32_t gi);

/* Begins a graceful stop of the whole node. */
void act__node_stop(struct act_node *n, int exit_code, const char *why);

/* The ring from -> to, as resolved when the node started; NULL if invalid
 * or never touched by its producer (empty, and reading it would cost a
 * page of memory: see the touched bitmap in layout.h). */
static inline struct act__ring *act__node_ring(const struct act_node *n, uint32_t from,
                                               uint32_t to)
{
	uint32_t np = n->reg.n_groups + 1;
	if (from >= np || to >= np || !act__shm_ring_touched(&n->shm, from, to))
		return NULL;
	return n->rings[from * np + to];
}

static inline bool act__node_group_unused_spare(const struct act_node *n, uint32_t gi)
{
	return n->reg.groups[gi].spare && !n->gs[gi].spare_used;
}

/* Text name of group gi's state, as status shows it (group.c's table). */
ACT__SHARED const char *act__node_group_state(const struct act_node *n, uint32_t gi);
/* True if status should flag group gi's state as a problem (failed, dead, backoff). */
bool act__node_group_problem(const struct act_node *n, uint32_t gi);
/* True if group gi waits in the start queue (possibly behind its own stop). */
bool act__node_group_pending(const struct act_node *n, uint32_t gi);

/*
 * Test hook: if set, act_node_run() calls it after every group stopped and
 * before the region is destroyed, so a test can read the final counters
 * (act__shm_part(&n->shm, i)).  Never set in production code.
 */
extern void (*act__node_inspect_hook)(struct act_node *n);

#endif
