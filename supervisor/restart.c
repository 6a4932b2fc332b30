/* SPDX-License-Identifier: MIT */
/*
 * restart.c - the restart policy engine described in restart.h.
 *
 * Everything a supervisor must decide when a worker dies lives here, as a
 * pure function of the engine's state, the exit and the time the caller
 * passes in: classify the exit (clean, permanent error, crash), decide
 * from the restart type whether the group comes back, charge the restart
 * against the intensity window, pick the siblings the strategy takes down
 * with it, and compute the group's backoff.  The caller (supervisor/group.c)
 * carries the plan out and reports each start back, so the engine's view
 * of which groups run always follows what actually happened.
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <actors.h>

#include "restart.h"

const char *const act__strategy_names[3] = { "one_for_one", "one_for_all", "rest_for_one" };
const char *const act__restart_names[3] = { "permanent", "transient", "temporary" };

const char *act__strategy_name(act_strategy s)
{
	return (unsigned)s < 3 ? act__strategy_names[s] : "?";
}

const char *act__restart_name(act_restart_type r)
{
	return (unsigned)r < 3 ? act__restart_names[r] : "?";
}

#define NS_PER_MS 1000000u

void act__policy_default(struct act__policy *p)
{
	if (!p)
		return;
	p->strategy = ACT_ONE_FOR_ONE;
	p->max_restarts = 1;
	p->period_ms = 5000;
	p->backoff_initial_ms = 10;
	p->backoff_factor = 2.0;
	p->backoff_max_ms = 10000;
	p->backoff_reset_ms = 10000;
}

void act__sup_init(struct act__sup *s, const struct act__policy *p, uint32_t n,
                   const act_restart_type *types)
{
	if (!s)
		return;
	memset(s, 0, sizeof *s);
	if (p)
		s->pol = *p;
	else
		act__policy_default(&s->pol);
	if ((unsigned)s->pol.strategy > ACT_REST_FOR_ONE)
		s->pol.strategy = ACT_ONE_FOR_ONE;
	if (!(s->pol.backoff_factor >= 1.0)) /* also catches NaN */
		s->pol.backoff_factor = 1.0;
	s->n_groups = n < ACT__SUP_MAX_GROUPS ? n : ACT__SUP_MAX_GROUPS;
	for (uint32_t i = 0; i < s->n_groups; i++) {
		act_restart_type t = types ? types[i] : ACT_PERMANENT;
		s->g[i].restart = (unsigned)t > ACT_TEMPORARY ? ACT_PERMANENT : t;
	}
}

void act__sup_started(struct act__sup *s, uint32_t i, uint64_t now_ns)
{
	if (!s || i >= s->n_groups)
		return;
	s->g[i].running = true;
	s->g[i].failed = false;
	s->g[i].done = false;
	s->g[i].started_ns = now_ns;
}

static void plan_clear(struct act__sup_plan *plan, const char *why)
{
	plan->action = ACT__SUP_NONE;
	plan->n_stop = 0;
	plan->n_start = 0;
	plan->delay_ms = 0;
	plan->permanent_failure = false;
	plan->why = why;
}

/* The run of group g ends at now_ns (exit or stop): a long enough run was
 * healthy and forgives the group's earlier crashes. */
static void end_run(const struct act__policy *pol, struct act__sup_group *g, uint64_t now_ns)
{
	uint64_t ran_ns = now_ns > g->started_ns ? now_ns - g->started_ns : 0;

	g->running = false;
	if (ran_ns >= (uint64_t)pol->backoff_reset_ms * NS_PER_MS)
		g->next_backoff_ms = 0;
}

/* Returns the delay for the group's restart now and advances its backoff:
 * 0, then initial, initial * factor, ... capped at max. */
static uint64_t take_backoff(const struct act__policy *pol, struct act__sup_group *g)
{
	uint64_t delay = g->next_backoff_ms, cap = pol->backoff_max_ms;
	double next;

	if (delay == 0) {
		next = (double)pol->backoff_initial_ms;
	} else {
		/* backoff_factor may have been changed after init: a NaN or a
		 * factor below 1 must neither shrink nor poison the delay. */
		double f = pol->backoff_factor >= 1.0 ? pol->backoff_factor : 1.0;
		next = (double)delay * f;
	}
	/* Compared in double so that a huge product cannot overflow the
	 * conversion back to an integer. */
	g->next_backoff_ms = next < (double)cap ? (uint64_t)next : cap;
	return delay;
}

/*
 * Charges one restart event at now_ns against the intensity window.
 * Returns true if it is allowed, false if it is event max_restarts + 1 (or
 * more) within the last period_ms.  The event is recorded either way, as
 * OTP does.  Events stamped later than now_ns (a caller's clock going
 * backwards) count as being in the window.
 */
static bool charge_restart(struct act__sup *s, uint64_t now_ns)
{
	uint64_t window_ns = (uint64_t)s->pol.period_ms * NS_PER_MS;
	uint32_t limit = s->pol.max_restarts < ACT__SUP_RESTART_WINDOW ?
	                 s->pol.max_restarts : ACT__SUP_RESTART_WINDOW;
	uint32_t n = s->n_restart_times < ACT__SUP_RESTART_WINDOW ?
	             s->n_restart_times : ACT__SUP_RESTART_WINDOW;
	uint32_t k = 0;
	bool allowed;

	for (uint32_t j = 0; j < n; j++) {
		uint64_t t = s->restarts_ns[j];
		uint64_t age = now_ns > t ? now_ns - t : 0;
		if (age <= window_ns)
			s->restarts_ns[k++] = t;
	}
	/* k earlier events are in the window; this one would be k + 1.  With
	 * a full window (k == 64) the test is still exact for limit <= 64. */
	allowed = k < limit;
	if (k == ACT__SUP_RESTART_WINDOW) {
		memmove(&s->restarts_ns[0], &s->restarts_ns[1],
		        (ACT__SUP_RESTART_WINDOW - 1) * sizeof s->restarts_ns[0]);
		k--;
	}
	s->restarts_ns[k++] = now_ns;
	s->n_restart_times = k;
	return allowed;
}

/* Whether a strategy restart may start group j again. */
static bool restartable(const struct act__sup_group *g)
{
	return g->restart != ACT_TEMPORARY && !g->failed && !g->done && !g->removed;
}

/*
 * Stops the running groups in [from, s->n_groups) other than skip, in
 * reverse start order, appending them to plan->stop.  A temporary group
 * stopped this way is done: it will not start again.
 */
static void stop_from(struct act__sup *s, uint32_t from, uint32_t skip, uint64_t now_ns,
                      bool mark_temporary_done, struct act__sup_plan *plan)
{
	for (uint32_t j = s->n_groups; j-- > from;) {
		struct act__sup_group *g = &s->g[j];
		if (j == skip || !g->running)
			continue;
		end_run(&s->pol, g, now_ns);
		if (mark_temporary_done && g->restart == ACT_TEMPORARY)
			g->done = true;
		plan->stop[plan->n_stop++] = j;
	}
}

/* Appends the restartable groups in [from, s->n_groups) to plan->start, in
 * start order; dead is the group whose death caused it (always started). */
static void start_from(struct act__sup *s, uint32_t from, uint32_t dead,
                       struct act__sup_plan *plan)
{
	for (uint32_t j = from; j < s->n_groups; j++) {
		struct act__sup_group *g = &s->g[j];
		if (j != dead && (g->running || !restartable(g)))
			continue;
		g->n_restarts++;
		plan->start[plan->n_start++] = j;
	}
}

void act__sup_exited(struct act__sup *s, uint32_t i, int exit_code, int signal,
                     uint64_t now_ns, struct act__sup_plan *plan)
{
	struct act__sup_group *g;
	bool clean, restart;

	if (!plan)
		return;
	plan_clear(plan, "no such group: ignored");
	if (!s || i >= s->n_groups)
		return;
	g = &s->g[i];
	if (!g->running) {
		/* Already failed, done, stopped by a plan or never started:
		 * a stale or duplicate report must not restart anything. */
		plan->why = "group not running: exit ignored";
		return;
	}
	end_run(&s->pol, g, now_ns);

	if (signal <= 0 && exit_code == ACT_EXIT_PERMANENT) {
		g->failed = true;
		plan->permanent_failure = true;
		plan->why = "permanent error (exit 100): not restarted";
		return;
	}
	clean = signal <= 0 && exit_code == ACT_EXIT_OK;
	switch (g->restart) {
	case ACT_TRANSIENT:
		restart = !clean;
		break;
	case ACT_TEMPORARY:
		restart = false;
		break;
	case ACT_PERMANENT:
	default:
		restart = true;
		break;
	}
	if (!restart) {
		g->done = true;
		plan->why = g->restart == ACT_TEMPORARY ?
		            "temporary group: not restarted" :
		            "transient group exited cleanly: not restarted";
		return;
	}

	if (!charge_restart(s, now_ns)) {
		plan->action = ACT__SUP_GIVE_UP;
		plan->why = "restart intensity exceeded: giving up";
		stop_from(s, 0, i, now_ns, false, plan);
		return;
	}

	plan->action = ACT__SUP_RESTART;
	/* Only the dead group failed, so only its backoff counts: the groups
	 * taken down with it start again without a delay of their own. */
	plan->delay_ms = take_backoff(&s->pol, g);
	switch (g->pool_member ? ACT_ONE_FOR_ONE : s->pol.strategy) {
	case ACT_ONE_FOR_ALL:
		stop_from(s, 0, i, now_ns, true, plan);
		start_from(s, 0, i, plan);
		plan->why = "one_for_all: restarting all groups";
		break;
	case ACT_REST_FOR_ONE:
		stop_from(s, i + 1, i, now_ns, true, plan);
		start_from(s, i, i, plan);
		plan->why = "rest_for_one: restarting the group and those after it";
		break;
	case ACT_ONE_FOR_ONE:
	default:
		g->n_restarts++;
		plan->start[plan->n_start++] = i;
		plan->why = g->pool_member ? "pool member: restarting that member only" :
		            "one_for_one: restarting the group";
		break;
	}
}

void act__sup_manual_restart(struct act__sup *s, uint32_t i, struct act__sup_plan *plan)
{
	struct act__sup_group *g;

	if (!plan)
		return;
	plan_clear(plan, "no such group: ignored");
	if (!s || i >= s->n_groups)
		return;
	g = &s->g[i];
	if (g->running) {
		g->running = false;
		plan->stop[plan->n_stop++] = i;
	}
	/* The operator's word overrides what the exits decided. */
	g->failed = false;
	g->done = false;
	g->next_backoff_ms = 0;
	g->n_restarts++;
	plan->start[plan->n_start++] = i;
	plan->action = ACT__SUP_RESTART;
	plan->why = "manual restart";
}

bool act__death_counts(int signal, int exit_code, bool hang_kill)
{
	(void)exit_code;
	if (hang_kill)
		return true;
	if (signal <= 0)
		return true; /* an exit: the process ended itself */
	switch (signal) {
	case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGABRT:
	case SIGSYS: case SIGTRAP: case SIGXCPU: case SIGXFSZ: case SIGPIPE:
		return true;
	default:
		return false;
	}
}

void act__sup_set_gone(struct act__sup *s, uint32_t i, bool failed)
{
	if (!s || i >= s->n_groups)
		return;
	s->g[i].running = false;
	s->g[i].failed = failed;
	s->g[i].done = !failed;
}

void act__sup_set_removed(struct act__sup *s, uint32_t i, bool removed)
{
	if (!s || i >= s->n_groups)
		return;
	s->g[i].removed = removed;
	s->g[i].running = false;
	s->g[i].failed = false;
	s->g[i].done = false;
	s->g[i].next_backoff_ms = 0;
}
