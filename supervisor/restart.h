/* SPDX-License-Identifier: MIT */
/*
 * restart.h - private: the restart policy engine (OTP-style supervision).
 *
 * Pure decision logic, no I/O: the group lifecycle (supervisor/group.c)
 * tells it that a group's worker exited and gets back a plan: which other groups
 * to stop, which groups to start again (in start order) and after what
 * backoff, or to give up (restart intensity exceeded).  Used by both the
 * embedded act_node_run() and actorsd.  Time is passed in by the caller
 * (monotonic nanoseconds), so the engine never reads a clock or blocks and
 * can be driven by synthetic times in tests.  Not thread-safe: one engine
 * belongs to one supervisor loop.
 *
 * Exit-code protocol (see actorsd(8)): exit 0 (ACT_EXIT_OK) is a clean
 * stop, exit 100 (ACT_EXIT_PERMANENT) a permanent error: the group is
 * marked failed and never restarted automatically, without stopping any
 * sibling or charging intensity; exit 111 (ACT_EXIT_TEMPORARY), any other
 * non-zero code and death by a signal are abnormal exits (crashes).
 *
 * Restart types: permanent groups restart after any exit (even exit 0),
 * transient ones only after an abnormal exit, temporary ones never - not
 * even when a sibling's death takes them down under one_for_all or
 * rest_for_one: they are stopped and marked done.  A group that will not
 * run again is marked done (or failed) and is left out of later plans
 * until the operator restarts it by hand.
 *
 * Strategies (groups in declared, i.e. start, order):
 *   one_for_one   only the dead group restarts;
 *   one_for_all   every other running group is stopped in reverse start
 *                 order, then every restartable group starts in order;
 *   rest_for_one  the running groups declared after the dead one are
 *                 stopped in reverse order, then the dead one and the
 *                 restartable ones after it start in order.
 * "Restartable" means not temporary, not failed and not done: a transient
 * group that already exited cleanly stays down.
 * A member of a pool (act__sup_group.pool_member) that dies is restarted
 * alone whatever the strategy; other groups' deaths still take members
 * down under one_for_all and rest_for_one.
 *
 * Intensity: each automatic restart event (one act__sup_exited() that
 * returns ACT__SUP_RESTART, however many groups it restarts) is charged at
 * its time.  If it would be event number max_restarts + 1 within the last
 * period_ms (an event exactly period_ms old still counts, as in OTP), the
 * plan is ACT__SUP_GIVE_UP instead.  max_restarts 0 gives up on the first
 * restart.  Only the ACT__SUP_RESTART_WINDOW most recent events are kept,
 * so max_restarts may be at most that (the API and the app file refuse
 * more; the engine would treat more as ACT__SUP_RESTART_WINDOW).
 *
 * Backoff, per group: the first restart after a healthy run (or the first
 * ever) is immediate; each further restart of that group without a
 * healthy run in between waits backoff_initial_ms, then that times
 * backoff_factor, and so on, capped at backoff_max_ms.  A run that lasted
 * at least backoff_reset_ms (from act__sup_started() to the exit or to the
 * stop) is healthy and resets the group's backoff; backoff_reset_ms 0 thus
 * disables backoff.  Only the dead group's backoff advances: groups taken
 * down with it did not fail and start again without delay of their own.
 */
#ifndef ACT_RESTART_H
#define ACT_RESTART_H

#include "export.h"

#include <stdbool.h>
#include <stdint.h>

#include <actors.h>

#define ACT__SUP_MAX_GROUPS 255u
#define ACT__SUP_RESTART_WINDOW 1024u  /* restart times kept; the most max_restarts can be */

/* Strategies and restart types are the public act_strategy and
 * act_restart_type (include/actors/node.h); these are their one name
 * table, as the app file spells them. */
ACT__SHARED extern const char *const act__strategy_names[3];   /* "one_for_one", ... */
ACT__SHARED extern const char *const act__restart_names[3];    /* "permanent", ... */
/* The name of s or r; "?" for values out of range. */
ACT__SHARED const char *act__strategy_name(act_strategy s);
ACT__SHARED const char *act__restart_name(act_restart_type r);

struct act__policy {
	act_strategy strategy;
	uint32_t max_restarts;      /* OTP intensity, default 1 */
	uint32_t period_ms;         /* OTP period, default 5000 */
	uint32_t backoff_initial_ms;/* default 10 */
	double backoff_factor;      /* default 2.0, >= 1.0 */
	uint32_t backoff_max_ms;    /* default 10000 */
	uint32_t backoff_reset_ms;  /* default 10000: a run this long resets backoff */
};

enum act__sup_action {
	ACT__SUP_NONE = 0,   /* nothing to do (e.g. temporary group, normal exit of transient) */
	ACT__SUP_RESTART,    /* stop plan.stop[], then start plan.start[] after plan.delay_ms */
	ACT__SUP_GIVE_UP,    /* intensity exceeded: stop plan.stop[] (every other running
	                      * group, reverse start order), exit ACT_EXIT_INTENSITY */
};

struct act__sup_plan {
	enum act__sup_action action;
	uint32_t n_stop;
	uint32_t stop[ACT__SUP_MAX_GROUPS];   /* running groups to stop first, reverse start order */
	uint32_t n_start;
	uint32_t start[ACT__SUP_MAX_GROUPS];  /* groups to start, start order (the dead one included) */
	uint64_t delay_ms;                    /* backoff before starting */
	bool permanent_failure;               /* the group exited 100: reported, not restarted */
	const char *why;                      /* one short static phrase for the log, never NULL */
};

struct act__sup_group {
	act_restart_type restart;
	bool running;           /* the engine's view: started and not yet exited */
	bool failed;            /* exited with ACT_EXIT_PERMANENT */
	bool done;              /* temporary/transient group that will not run again */
	uint64_t started_ns;
	uint32_t n_restarts;    /* times a plan (automatic or manual) restarted it */
	uint64_t next_backoff_ms;  /* delay for this group's next restart */
	/* A member of a pool: its death restarts it alone, whatever the
	 * strategy (a pool exists so that one bad input costs one member);
	 * it still counts toward the intensity, and the strategy still takes
	 * it down with other groups' deaths. */
	bool pool_member;
	/* A reload removed the group: no plan starts it until a reload adds
	 * it back (act__sup_set_removed). */
	bool removed;
};

struct act__sup {
	struct act__policy pol;
	uint32_t n_groups;
	struct act__sup_group g[ACT__SUP_MAX_GROUPS];
	/* Times of recent restart events, oldest first (expired ones are
	 * dropped when the next event is charged). */
	uint64_t restarts_ns[ACT__SUP_RESTART_WINDOW];
	uint32_t n_restart_times;
};

/* Fills p with the OTP/actors defaults listed above. */
void act__policy_default(struct act__policy *p);

/*
 * Initialises the engine for n groups (in start order) with their restart
 * types; none is running yet.  p NULL means the defaults; types NULL means
 * all permanent.  Out-of-range values are made safe rather than refused: n
 * is capped at ACT__SUP_MAX_GROUPS, an unknown strategy is one_for_one, an
 * unknown restart type is permanent, a backoff_factor below 1.0 (or NaN)
 * is 1.0.
 */
void act__sup_init(struct act__sup *s, const struct act__policy *p, uint32_t n,
                   const act_restart_type *types);

/* The supervisor started group i at now_ns (initial start or restart):
 * it is running again, and no longer failed or done.  Ignores a bad i. */
void act__sup_started(struct act__sup *s, uint32_t i, uint64_t now_ns);

/*
 * Group i's worker exited on its own (not stopped by the supervisor):
 * exit_code >= 0 for a normal exit, or signal > 0 if killed (a hang
 * detected by heartbeat is reported as killed by SIGKILL; a signal wins
 * over exit_code).  Fills plan (always: action ACT__SUP_NONE for a bad i
 * or a group the engine does not see running).
 * A group the plan stops is considered no longer running; call
 * act__sup_started() for each group when it is actually started again.
 */
void act__sup_exited(struct act__sup *s, uint32_t i, int exit_code, int signal,
                     uint64_t now_ns, struct act__sup_plan *plan);

/*
 * The operator asked to restart group i (actorsctl restart), as OTP's
 * supervisor:restart_child: only that group, whatever the strategy; it is
 * stopped first if running.  Never counted against intensity, no backoff
 * (its backoff is reset), and it works on a temporary, done or failed
 * group too.  Fills plan: ACT__SUP_RESTART, or ACT__SUP_NONE for a bad i.
 */
void act__sup_manual_restart(struct act__sup *s, uint32_t i, struct act__sup_plan *plan);

/*
 * A reload removed group i (removed true: it is stopped by the supervisor
 * outside any plan, is no longer running, and no plan starts it) or added
 * it back (false: it starts as after a manual restart, without a backoff).
 * Ignores a bad i.
 */
void act__sup_set_removed(struct act__sup *s, uint32_t i, bool removed);

/*
 * Group i is done (failed false) or failed, as the last supervisor left
 * it (an adopted region): not running, and no plan starts it until an
 * operator's restart.  Ignores a bad i.
 */
void act__sup_set_gone(struct act__sup *s, uint32_t i, bool failed);

/*
 * Whether a worker's death counts toward max_redeliveries of the envelope
 * it had started and not finished, i.e. whether that envelope can have
 * caused it.  It counts if the worker
 *   - was killed by a signal a process raises on itself by a fault or by
 *     abort()/assert(): SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS,
 *     SIGTRAP (and SIGXCPU, SIGXFSZ, SIGPIPE, which its own code provokes);
 *   - exited (exit()/_exit(), any code: the process ended itself);
 *   - was killed by the supervisor for a hang (hang_kill).
 * It does not count if the worker was killed by SIGKILL or SIGTERM (or
 * SIGINT, SIGHUP, SIGQUIT, SIGUSR1/2, SIGALRM, ...) that the supervisor did
 * not send for a hang: an operator's kill, the OOM killer, a stop.  signal
 * > 0 if killed, else exit_code.
 */
bool act__death_counts(int signal, int exit_code, bool hang_kill);

#endif
