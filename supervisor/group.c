/* SPDX-License-Identifier: MIT */
/*
 * group.c - the life of each group's worker as the supervisor sees it.
 *
 * Groups start in declared order from a start queue (each must report
 * READY before the next one starts); a stop is asynchronous (a STOP
 * record, then SIGTERM, then SIGKILL at deadlines the loop checks); a
 * death, learnt through the worker's pidfd, is handed to the restart
 * engine (restart.c) whose plan is applied here, through a hot standby
 * when the group has one.  Hangs are found through heartbeats in shared
 * memory and handled as crashes.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <actors.h>

#include "clock.h"
#include "control.h"
#include "doorbell.h"
#include "dyn-remote.h" /* act__death_reason() */
#include "envelope.h"
#include "gateway.h"
#include "group.h"
#include "grow.h"
#include "log.h"
#include "node.h"
#include "peers.h"
#include "phase.h"
#include "poolsup.h"
#include "recover.h"
#include "route.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define TICK_NS (50u * 1000000u)
/* The longest the loop sleeps when nothing is due (act__group_next_deadline). */
#define IDLE_TICK_NS (2000u * 1000000u)

/* ---- state machine ---------------------------------------------------------- */

#define B(x) (1u << ACT__G_##x)
#define STOP_STATES (B(STOPPING) | B(TERMINATING) | B(KILLING))

/*
 * One row per state: its name in status, the state mirrored in the group's
 * shared part header, whether status flags it, and the states it may move
 * to.  Every change of state goes through act__group_set_state(), which
 * checks it against this table.
 */
static const struct {
	const char *name;
	enum act__part_state part;
	bool problem;
	uint32_t to;
} states[ACT__G_N_STATES] = {
	/* DONE, FAILED: as the last supervisor left it (an adopted region). */
	[ACT__G_DOWN]        = { "down", ACT__PS_DOWN, false,
	                         B(QUEUED) | B(BACKOFF) | B(REMOVED) | B(DONE) | B(FAILED) },
	[ACT__G_QUEUED]      = { "starting", ACT__PS_DOWN, false,
	                         B(STARTING) | B(BACKOFF) | B(DOWN) | B(DEAD) | B(REMOVED) },
	[ACT__G_BACKOFF]     = { "backoff", ACT__PS_BACKOFF, true,
	                         B(QUEUED) | B(STARTING) | B(DOWN) | B(DEAD) | B(REMOVED) },
	[ACT__G_STARTING]    = { "starting", ACT__PS_STARTING, false,
	                         B(READY) | STOP_STATES | B(HUNG) | B(DEAD) },
	[ACT__G_READY]       = { "ready", ACT__PS_READY, false, STOP_STATES | B(HUNG) | B(DEAD) },
	[ACT__G_STOPPING]    = { "stopping", ACT__PS_STOPPING, false,
	                         B(TERMINATING) | B(DEAD) | B(DONE) | B(QUEUED) | B(BACKOFF) |
	                         B(REMOVED) },
	[ACT__G_TERMINATING] = { "stopping", ACT__PS_STOPPING, false,
	                         B(KILLING) | B(DEAD) | B(DONE) | B(QUEUED) | B(BACKOFF) |
	                         B(REMOVED) },
	[ACT__G_KILLING]     = { "stopping", ACT__PS_STOPPING, false,
	                         B(DEAD) | B(DONE) | B(QUEUED) | B(BACKOFF) | B(REMOVED) },
	[ACT__G_HUNG]        = { "hung", ACT__PS_READY,  false, STOP_STATES | B(DEAD) },
	[ACT__G_DEAD]        = { "dead", ACT__PS_DEAD, true,
	                         B(QUEUED) | B(BACKOFF) | B(STARTING) | B(DONE) | B(FAILED) |
	                         B(REMOVED) },
	[ACT__G_DONE]        = { "done", ACT__PS_DEAD, false, B(QUEUED) | B(BACKOFF) | B(REMOVED) },
	[ACT__G_FAILED]      = { "failed", ACT__PS_DEAD, true, B(QUEUED) | B(BACKOFF) | B(REMOVED) },
	/* Removed by a reload (its part says so too, act__part.removed). */
	[ACT__G_REMOVED]     = { "removed", ACT__PS_DOWN, false, B(QUEUED) },
};

static bool stopping_state(enum act__gphase s) { return ((1u << s) & STOP_STATES) != 0; }

/* The state a pending start shows: a group still stopping shows the start
 * that follows, as the start queue sees it. */
static enum act__gphase shown(const struct act__gstate *g)
{
	if (stopping_state(g->state) && (g->next == ACT__G_QUEUED || g->next == ACT__G_BACKOFF))
		return g->next;
	return g->state;
}

const char *act__node_group_state(const struct act_node *n, uint32_t gi)
{
	return states[shown(&n->gs[gi])].name;
}

bool act__node_group_problem(const struct act_node *n, uint32_t gi)
{
	return states[shown(&n->gs[gi])].problem;
}

bool act__node_group_pending(const struct act_node *n, uint32_t gi)
{
	enum act__gphase s = shown(&n->gs[gi]);
	return s == ACT__G_QUEUED || s == ACT__G_BACKOFF;
}

/* act__part.gone for a group in state s. */
static uint32_t gone_value(enum act__gphase s)
{
	return s == ACT__G_DONE ? ACT__GONE_DONE : s == ACT__G_FAILED ? ACT__GONE_FAILED : 0;
}

void act__group_set_state(act_node_t *n, uint32_t gi, enum act__gphase s)
{
	struct act__gstate *g = &n->gs[gi];
	if (g->state == s)
		return;
	/* Only a bug in this file can ask for a move the table does not have. */
	assert(states[g->state].to & (1u << s));
	act__debug("group '%s': %s -> %s", n->reg.groups[gi].name, states[g->state].name,
	           states[s].name);
	uint32_t was_gone = gone_value(g->state), is_gone = gone_value(s);
	struct act__part *p = act__shm_part(&n->shm, gi + 1);
	g->state = s;
	/* Relaxed: the part header's state is a mirror for inspection that no
	 * process synchronises on (it pairs with no barrier). */
	atomic_store_explicit(&p->state, states[s].part, memory_order_relaxed);
	/* Gone until an operator restarts it: senders are refused from now on
	 * (act__part_refuses()).  Release: pairs with their acquire load, as
	 * `removed` does; a restart clears it before the worker is started. */
	/* seq_cst: before the read of the watchers' flags that follows
	 * (announce(); dyn-remote.c, act__dyn_monitor_remote()). */
	if (is_gone != was_gone)
		atomic_store(&p->gone, is_gone);
	/* A hot standby of a group that will not run again would idle until
	 * the node stops (an operator's restart makes a new one). */
	if (is_gone && !was_gone)
		act__group_kill_spare(n, gi);
	if (!is_gone)
		g->kept_gone = false;
}

/* ---- starting and stopping groups ------------------------------------------------ */

/* Notes where the rings into group gi stand before a new worker starts. */
static void mark_inflight(act_node_t *n, uint32_t gi)
{
	uint32_t np = n->reg.n_groups + 1;
	for (uint32_t s = 0; s < np; s++) {
		struct act__inflight_mark *m = &n->marks[gi * np + s];
		struct act__ring *r = act__node_ring(n, s, gi + 1);
		m->set = r && act__ring_inflight(r, &m->pos, &m->count);
	}
}

/*
 * Group gi's worker died in a way its envelope cannot have caused
 * (act__death_counts()): the record it had started and not finished, if
 * any, does not count that start toward max_redeliveries.  Only a record
 * this worker started is forgiven, not one an earlier worker left.
 */
static void forgive_inflight(act_node_t *n, uint32_t gi, int sig)
{
	uint32_t np = n->reg.n_groups + 1;
	for (uint32_t s = 0; s < np; s++) {
		const struct act__inflight_mark *m = &n->marks[gi * np + s];
		struct act__ring *r = act__node_ring(n, s, gi + 1);
		uint64_t pos;
		uint32_t count;
		if (!r || !act__ring_inflight(r, &pos, &count) ||
		    (m->set && m->pos == pos && m->count == count))
			continue;
		act__ring_forgive(r);
		act__info("group '%s': killed by signal %d while handling an envelope it cannot "
		          "have caused to die: redelivered without counting toward "
		          "max_redeliveries", n->reg.groups[gi].name, sig);
	}
}

/*
 * Group gi's worker is dead: what it committed into its outbound rings
 * and had not published yet (the rest of a burst, ring.h) is published
 * now, and its receivers are told, so that every envelope its actors
 * were told was sent is delivered.
 */
static void promote_outbound(act_node_t *n, uint32_t gi)
{
	uint32_t np = n->reg.n_groups + 1;
	for (uint32_t s = 0; s < np; s++) {
		struct act__ring *r = act__node_ring(n, gi + 1, s);
		if (!r || !act__ring_promote(r))
			continue;
		act__debug("group '%s': published the rest of its last burst to participant %u",
		           n->reg.groups[gi].name, s);
		act__doorbell_notify(act__shm_part(&n->shm, s), gi + 1, n->efd[s]);
	}
}

static int spawn_group(act_node_t *n, uint32_t gi)
{
	struct act__gstate *g = &n->gs[gi];
	struct act__part *p = act__shm_part(&n->shm, gi + 1);
	act_start st = { g->n_restarts > 0, (int32_t)g->n_restarts, g->last_signal, g->last_exit };
	int err;

	atomic_store_explicit(&p->sleeping, 0, memory_order_relaxed);
	atomic_store_explicit(&p->heartbeat_ns, act__now_ns(), memory_order_relaxed);
	atomic_store_explicit(&p->watches_others, 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->generation, 1, memory_order_relaxed);
	mark_inflight(n, gi);
	err = act__spawner_spawn(&n->sp, gi + 1, &st, &g->pid, &g->pidfd);
	if (err) {
		act__err("group '%s': cannot start a worker: %s", n->reg.groups[gi].name,
		         act_strerror(err));
		return err;
	}
	g->started_ns = act__now_ns();
	/* The spawn may have waited long (a zygote slow to fork, or held up
	 * as t/spawn-adopt.py does): the hang check counts from now, not from
	 * the request, or it would kill the new worker before it ran. */
	atomic_store_explicit(&p->heartbeat_ns, g->started_ns, memory_order_relaxed);
	g->pidfd_armed = false;
	g->hang_kill = false;
	g->asleep_work_since_ns = 0;
	act__sup_started(&n->sup, gi, g->started_ns);
	act__group_set_state(n, gi, ACT__G_STARTING);
	act__info("group '%s' started (pid %d%s)", n->reg.groups[gi].name, (int)g->pid,
	          g->n_restarts ? ", restart" : "");
	return 0;
}

/* The state of a start pending until not_before_ns, seen at now. */
static enum act__gphase pending_state(uint64_t not_before_ns, uint64_t now)
{
	return not_before_ns > now ? ACT__G_BACKOFF : ACT__G_QUEUED;
}

void act__group_enqueue(act_node_t *n, uint32_t gi, uint64_t not_before_ns)
{
	struct act__gstate *g = &n->gs[gi];
	uint64_t now = act__now_ns();

	if (act__node_group_pending(n, gi)) {
		if (not_before_ns > g->not_before_ns)
			g->not_before_ns = not_before_ns;
		if (stopping_state(g->state))
			g->next = pending_state(g->not_before_ns, now);
		else
			act__group_set_state(n, gi, pending_state(g->not_before_ns, now));
		return;
	}
	if (stopping_state(g->state)) {
		g->next = pending_state(not_before_ns, now); /* starts once it exited */
	} else if (act__group_alive(g)) {
		return; /* running and not stopping: nothing to start */
	} else {
		act__group_set_state(n, gi, pending_state(not_before_ns, now));
	}
	g->not_before_ns = not_before_ns;
	/* Keep the queue in start (declaration) order. */
	uint32_t i = n->n_startq;
	while (i > 0 && n->startq[i - 1] > gi) {
		n->startq[i] = n->startq[i - 1];
		i--;
	}
	n->startq[i] = gi;
	n->n_startq++;
}

/* Takes group gi out of the start queue, if it is there. */
static void dequeue(act_node_t *n, uint32_t gi)
{
	for (uint32_t i = 0; i < n->n_startq; i++)
		if (n->startq[i] == gi) {
			memmove(n->startq + i, n->startq + i + 1, (n->n_startq - i - 1) * sizeof *n->startq);
			n->n_startq--;
			return;
		}
}

/* Sends group gi's worker sig, to its whole process group too. */
static void signal_worker(const struct act__gstate *g, int sig)
{
	kill(-g->pid, sig);
	kill(g->pid, sig);
}

/* Asks group gi to stop: STOP record now, signals at later deadlines.  What
 * follows its exit is DEAD unless a start is queued behind it. */
static void request_stop(act_node_t *n, uint32_t gi)
{
	struct act__gstate *g = &n->gs[gi];
	const struct act__group_def *gd = &n->reg.groups[gi];

	if (!act__group_alive(g) || stopping_state(g->state))
		return;
	g->next = ACT__G_DEAD;
	if (gd->shutdown_ms == 0) {
		/* brutal_kill */
		act__group_set_state(n, gi, ACT__G_KILLING);
		signal_worker(g, SIGKILL);
		g->stop_deadline_ns = act__now_ns() + 5000000000ull;
		return;
	}
	act__group_set_state(n, gi, ACT__G_STOPPING);
	g->stop_deadline_ns = act__now_ns() + (uint64_t)gd->shutdown_ms * 1000000u;
	/* For this worker only (its generation): one that never read it (a
	 * worker stopped with SIGSTOP, killed at the deadline) must not
	 * leave it to the next worker, which would stop at once. */
	uint64_t gen = atomic_load_explicit(&act__shm_part(&n->shm, gi + 1)->generation,
	                                    memory_order_relaxed);
	if (act__route_ctrl(n, gi + 1, ACT__CTRL_STOP, gen)) {
		/* Its ring is full: go straight to SIGTERM. */
		g->stop_deadline_ns = act__now_ns();
	}
}

/* Escalates stops whose deadline passed: STOP -> SIGTERM -> SIGKILL. */
void act__group_check_stops(act_node_t *n, uint64_t now)
{
	for (uint32_t gi = 0; gi < n->reg.n_groups; gi++) {
		struct act__gstate *g = &n->gs[gi];
		if (now < g->stop_deadline_ns ||
		    (g->state != ACT__G_STOPPING && g->state != ACT__G_TERMINATING))
			continue;
		int sig = g->state == ACT__G_STOPPING ? SIGTERM : SIGKILL;
		act__warn("group '%s' did not stop in time: sending %s", n->reg.groups[gi].name,
		          sig == SIGTERM ? "SIGTERM" : "SIGKILL");
		act__group_set_state(n, gi, sig == SIGTERM ? ACT__G_TERMINATING : ACT__G_KILLING);
		signal_worker(g, sig);
		g->stop_deadline_ns = now + 1000000000ull;
	}
}

/* Bytes waiting in the rings into group gi (records not yet handled).  A
 * quarantined ring is never read again (its depth, maybe garbage, stays):
 * what is in it waits for nobody, and a worker asleep beside it is idle,
 * not hung. */
static uint64_t work_waiting(const act_node_t *n, uint32_t gi)
{
	uint64_t depth = 0;
	for (uint32_t s = 0; s < n->reg.n_groups + 1; s++) {
		struct act__ring *r = act__node_ring(n, s, gi + 1);
		if (r && !act__ring_is_quarantined(r))
			depth += act__ring_depth(r);
	}
	return depth;
}

/*
 * Whether group gi's worker, asleep on its doorbell, fails to wake for work
 * that waits for it.  A sleeping worker sends no heartbeats, so silence alone
 * proves nothing; but one that sleeps while envelopes wait in its rings, and
 * has not beaten since we first saw them wait, did not answer its doorbell:
 * after timeout_ns of that it is as hung as one that stopped beating (a
 * SIGSTOPped worker, for one).  A worker that woke in between beat on waking
 * (worker.c beats after every sleep), which restarts the clock.
 */
/*
 * Whether anything waits for group gi, which sleeps.  With a ready bitmap
 * (scan_all 0), a producer sets its bit before it looks at `sleeping`
 * (doorbell.h) and only the awake worker clears bits, so the bitmap says
 * it: 4 words, where a look at every inbound ring touches 3 lines of each,
 * and at 255 groups that look, 20 times a second for every group, was most
 * of an idle node's CPU (bench-scale idle_cpu_255).  A consumer that scans
 * has no bits, and at most ACT__SCAN_ALL_MAX rings: look at them.
 */
static bool work_flagged(const act_node_t *n, uint32_t gi)
{
	struct act__part *p = act__shm_part(&n->shm, gi + 1);
	if (p->scan_all)
		return work_waiting(n, gi) != 0;
	for (unsigned i = 0; i < ACT__READY_WORDS; i++)
		if (atomic_load_explicit(&p->ready[i], memory_order_relaxed))
			return true;
	return false;
}

static bool asleep_on_work(act_node_t *n, uint32_t gi, uint64_t hb, uint64_t now,
                           uint64_t timeout_ns, uint64_t *waited_ns)
{
	struct act__gstate *g = &n->gs[gi];
	if (!work_flagged(n, gi)) {
		g->asleep_work_since_ns = 0;
		return false;
	}
	if (!g->asleep_work_since_ns || hb != g->asleep_work_hb_ns) {
		g->asleep_work_since_ns = now;
		g->asleep_work_hb_ns = hb;
		/* Its senders may not have rung yet: a handler rings its
		 * receivers' doorbells when it returns (worker-int.h), and one
		 * may run long, or be stopped, after it published.  So ring it
		 * ourselves: a worker that wakes beats, which ends this; one that
		 * cannot (stopped, stuck) is hung after timeout_ns. */
		act__doorbell_notify(act__shm_part(&n->shm, gi + 1), ACT__SUPERVISOR, n->efd[gi + 1]);
		return false;
	}
	*waited_ns = now - g->asleep_work_since_ns;
	return *waited_ns > timeout_ns;
}

/* Kills workers whose heartbeat is stale, or that sleep through work that
 * waits for them: a hang is handled as a crash. */
void act__group_check_heartbeats(act_node_t *n, uint64_t now)
{
	for (uint32_t gi = 0; gi < n->reg.n_groups; gi++) {
		struct act__gstate *g = &n->gs[gi];
		const struct act__group_def *gd = &n->reg.groups[gi];
		uint64_t timeout_ns = (uint64_t)gd->heartbeat_timeout_ms * 1000000u, waited_ns = 0;
		if (g->state != ACT__G_READY && g->state != ACT__G_STARTING)
			continue;
		struct act__part *p = act__shm_part(&n->shm, gi + 1);
		/* Relaxed loads pair with the worker's relaxed stores of both
		 * (beat() and act__doorbell_prepare_sleep/awake): no ordering is
		 * needed, as a stale value only moves the verdict by a tick and
		 * the verdict needs timeout_ns of consistent samples. */
		uint64_t hb = atomic_load_explicit(&p->heartbeat_ns, memory_order_relaxed);
		if (atomic_load_explicit(&p->sleeping, memory_order_relaxed)) {
			/* Blocked in the kernel on its doorbell, not stuck in user
			 * code: no heartbeat needed, unless work waits for it. */
			if (!asleep_on_work(n, gi, hb, now, timeout_ns, &waited_ns))
				continue;
			act__err("group '%s' (pid %d) is hung: asleep for %llu ms with %llu bytes "
			         "waiting for it; killing it", gd->name, (int)g->pid,
			         (unsigned long long)(waited_ns / 1000000u),
			         (unsigned long long)work_waiting(n, gi));
		} else {
			g->asleep_work_since_ns = 0;
			if (hb >= now || now - hb <= timeout_ns)
				continue;
			/* Every writer stores a CLOCK_MONOTONIC time (the
			 * supervisor when it starts the worker, then the worker):
			 * zero is a control block written over, and "no
			 * heartbeat for" the time since boot would mislead. */
			if (!hb)
				act__err("group '%s' (pid %d) is hung: its heartbeat in the region reads 0, "
				         "which no process writes (was the region written over?); "
				         "killing it", gd->name, (int)g->pid);
			else
				act__err("group '%s' (pid %d) is hung: no heartbeat for %llu ms; "
				         "killing it", gd->name, (int)g->pid,
				         (unsigned long long)((now - hb) / 1000000u));
		}
		g->asleep_work_since_ns = 0;
		g->hang_kill = true;
		act__group_set_state(n, gi, ACT__G_HUNG);
		signal_worker(g, SIGKILL);
	}
}

/* Pending starts whose backoff elapsed may start now. */
static void settle_backoffs(act_node_t *n, uint64_t now)
{
	for (uint32_t gi = 0; gi < n->reg.n_groups; gi++) {
		struct act__gstate *g = &n->gs[gi];
		if (g->not_before_ns > now)
			continue;
		if (g->state == ACT__G_BACKOFF)
			act__group_set_state(n, gi, ACT__G_QUEUED);
		else if (stopping_state(g->state) && g->next == ACT__G_BACKOFF)
			g->next = ACT__G_QUEUED;
	}
}

/* Starts the next queued group when nothing is starting or stopping. */
void act__group_run_start_queue(act_node_t *n, uint64_t now)
{
	if (n->stopping || !n->n_startq)
		return;
	settle_backoffs(n, now);
	for (uint32_t i = 0; i < n->reg.n_groups; i++) {
		const struct act__gstate *g = &n->gs[i];
		if (g->state == ACT__G_STARTING || stopping_state(g->state))
			return; /* one transition at a time, in order */
	}
	/* The first queued group whose backoff elapsed; a group still in its
	 * backoff holds back the ones after it (start order), except a pool's
	 * member: members are independent, so one in a long backoff must not
	 * keep a crashed sibling with a short one from serving. */
	uint32_t gi = UINT32_MAX;
	for (uint32_t i = 0; i < n->n_startq; i++) {
		uint32_t q = n->startq[i];
		if (n->gs[q].state == ACT__G_QUEUED) {
			gi = q;
			break;
		}
		if (!n->reg.groups[q].pool_first)
			return; /* its backoff has not elapsed */
	}
	if (gi == UINT32_MAX)
		return;
	dequeue(n, gi);
	if (spawn_group(n, gi)) {
		act__group_set_state(n, gi, ACT__G_DEAD);
		act__node_stop(n, ACT_EXIT_TEMPORARY, "a group could not be started");
	}
}

/* ---- hot standby ------------------------------------------------------------------ */

void act__group_kill_spare(act_node_t *n, uint32_t gi)
{
	struct act__gstate *g = &n->gs[gi];
	if (g->spare_pidfd < 0)
		return;
	kill(g->spare_pid, SIGKILL);
	/* Reap now: a standby holds no state worth a graceful stop. */
	siginfo_t si;
	waitid((idtype_t)P_PIDFD, (id_t)g->spare_pidfd, &si, WEXITED);
	close(g->spare_pidfd);
	g->spare_pidfd = -1;
	g->spare_pid = 0;
}

void act__group_reap_spare(act_node_t *n, uint32_t gi)
{
	struct act__gstate *g = &n->gs[gi];
	siginfo_t si;

	g->spare_armed = false;
	if (g->spare_pidfd < 0)
		return;
	memset(&si, 0, sizeof si);
	if (waitid((idtype_t)P_PIDFD, (id_t)g->spare_pidfd, &si, WEXITED | WNOHANG) < 0 ||
	    si.si_pid == 0)
		return;
	act__warn("group '%s': hot standby (pid %d) died (%s %d); a new one will be made",
	          n->reg.groups[gi].name, (int)g->spare_pid,
	          si.si_code == CLD_EXITED ? "exit" : "signal", si.si_status);
	close(g->spare_pidfd);
	g->spare_pidfd = -1;
	g->spare_pid = 0;
}

/*
 * Forks at most one missing standby per turn of the loop, and only once the
 * group has been ready for SPARE_DELAY_NS: forking right after a takeover
 * would compete for the CPUs with the worker that just took over (seen as
 * +350 us on its first message on a 2-CPU machine).
 */
#define SPARE_DELAY_NS (1u * 1000000u)
void act__group_maintain_spares(act_node_t *n, uint64_t now)
{
	if (n->stopping)
		return;
	for (uint32_t gi = 0; gi < n->reg.n_groups; gi++) {
		struct act__gstate *g = &n->gs[gi];
		if (!n->reg.groups[gi].hot_standby || g->spare_pidfd >= 0 || !act__group_alive(g) ||
		    g->state != ACT__G_READY ||
		    now - g->started_ns < SPARE_DELAY_NS)
			continue;
		act_start st = { true, 0, 0, -1 };
		if (act__spawner_spawn2(&n->sp, gi + 1, &st, true, &g->spare_pid, &g->spare_pidfd)) {
			g->spare_pidfd = -1;
			g->spare_pid = 0;
		} else {
			g->spare_armed = false;
			act__debug("group '%s': hot standby ready (pid %d)", n->reg.groups[gi].name,
			           (int)g->spare_pid);
		}
		return;
	}
}

/*
 * Keeps one prefork ready (spawn.h): forked ahead, it makes the next start
 * a pipe write instead of two forks and an adoption.  Made only when the
 * node is quiet (nothing queued, starting or stopping, no standby missing)
 * and PREFORK_DELAY_NS after the last start, so that the fork round trip,
 * which blocks this loop, does not compete with a worker that just
 * started.  A failed prefork is retried a second later.
 */
#define PREFORK_DELAY_NS (1u * 1000000u)

/* When the prefork may be made, or UINT64_MAX if it need not be. */
static uint64_t prefork_due(const act_node_t *n)
{
	uint64_t last = n->sp.prefork_not_before_ns;

	if (n->stopping || n->n_startq || n->sp.no_prefork || n->sp.prefork > 0 ||
	    n->sp.sock < 0)
		return UINT64_MAX;
	for (uint32_t gi = 0; gi < n->reg.n_groups; gi++) {
		const struct act__gstate *g = &n->gs[gi];
		if (g->state == ACT__G_STARTING || stopping_state(g->state) ||
		    (n->reg.groups[gi].hot_standby && act__group_alive(g) && g->spare_pidfd < 0))
			return UINT64_MAX;
		if (g->started_ns + PREFORK_DELAY_NS > last)
			last = g->started_ns + PREFORK_DELAY_NS;
	}
	return last;
}

void act__group_maintain_prefork(act_node_t *n, uint64_t now)
{
	if (prefork_due(n) > now)
		return;
	int err = act__spawner_prefork(&n->sp);
	if (err) {
		act__warn("cannot fork a worker ahead of time: %s (retrying in 1 s)",
		          act_strerror(err));
		n->sp.prefork_not_before_ns = now + 1000000000ull;
	} else {
		act__debug("prefork ready (pid %d)", (int)n->sp.prefork);
	}
}

/*
 * Wakes group gi's standby in place of its dead worker.  False if none.
 * The standby watches the worker's pidfd too (worker.c, standby_wait()):
 * usually it is already awake, polling for this write, when it comes; it
 * never takes over without it, so the plan and the marks below stay the
 * supervisor's.
 */
static bool promote_spare(act_node_t *n, uint32_t gi)
{
	struct act__gstate *g = &n->gs[gi];
	struct act__part *p = act__shm_part(&n->shm, gi + 1);
	uint64_t one = 1;

	if (g->spare_pidfd < 0 || act__group_alive(g))
		return false;
	p->standby_n_restarts = (int32_t)g->n_restarts;
	p->standby_last_signal = g->last_signal;
	p->standby_last_exit = g->last_exit;
	atomic_store_explicit(&p->sleeping, 0, memory_order_relaxed);
	atomic_store_explicit(&p->heartbeat_ns, act__now_ns(), memory_order_relaxed);
	atomic_store_explicit(&p->watches_others, 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->generation, 1, memory_order_relaxed);
	mark_inflight(n, gi);
	/* The write orders the stores above before the standby's read of them
	 * (a system call is a full barrier for both processes). */
	act__phase(ACT__PH_SPAWN_REQ);
	if (write(n->standby_efd[gi], &one, sizeof one) != (ssize_t)sizeof one) {
		act__group_kill_spare(n, gi);
		return false;
	}
	g->pid = g->spare_pid;
	g->pidfd = g->spare_pidfd;
	g->pidfd_armed = g->spare_armed;
	g->spare_pid = 0;
	g->spare_pidfd = -1;
	g->spare_armed = false;
	g->started_ns = act__now_ns();
	g->hang_kill = false;
	g->asleep_work_since_ns = 0;
	g->n_takeovers++;
	/* A start queued earlier (behind a backoff) is this takeover now. */
	dequeue(n, gi);
	act__sup_started(&n->sup, gi, g->started_ns);
	act__group_set_state(n, gi, ACT__G_STARTING);
	act__info("group '%s': hot standby (pid %d) took over", n->reg.groups[gi].name, (int)g->pid);
	return true;
}

static void apply_plan(act_node_t *n, const struct act__sup_plan *plan, uint64_t now)
{
	for (uint32_t k = 0; k < plan->n_stop; k++)
		request_stop(n, plan->stop[k]);
	for (uint32_t k = 0; k < plan->n_start; k++) {
		uint32_t gi = plan->start[k];
		n->gs[gi].n_restarts++;
		if (plan->delay_ms == 0 && promote_spare(n, gi))
			continue;
		act__group_enqueue(n, gi, now + plan->delay_ms * 1000000u);
	}
	if (plan->n_start)
		n->n_restarts_total++;
}

int act__node_restart_group(struct act_node *n, uint32_t gi, struct act__ctl_conn *waiter)
{
	struct act__sup_plan plan;

	if (gi >= n->reg.n_groups)
		return -ENOENT;
	if (n->stopping)
		return ACT_ESTOPPED;
	if (n->gs[gi].waiter)
		return -EBUSY;
	if (act__node_group_removed(n, gi))
		return ACT_ESTOPPED; /* only a reload adds it back */
	act__sup_manual_restart(&n->sup, gi, &plan);
	if (plan.action != ACT__SUP_RESTART)
		return -EINVAL;
	act__info("group '%s': restart requested by the operator", n->reg.groups[gi].name);
	request_stop(n, gi);
	n->gs[gi].n_restarts++;
	act__group_enqueue(n, gi, 0);
	n->gs[gi].waiter = waiter;
	return 0;
}

static void announce_restart(act_node_t *n, uint32_t gi, uint64_t gen);

bool act__node_group_removed(const struct act_node *n, uint32_t gi)
{
	return gi < n->reg.n_groups && act__part_removed(act__shm_part(&n->shm, gi + 1));
}

bool act__node_group_gone(const struct act_node *n, uint32_t gi)
{
	if (gi >= n->reg.n_groups)
		return false;
	enum act__gphase st = n->gs[gi].state;
	return st == ACT__G_DONE || st == ACT__G_FAILED || st == ACT__G_DEAD;
}

void act__node_remove_group(struct act_node *n, uint32_t gi)
{
	struct act__gstate *g = &n->gs[gi];
	struct act__part *p = act__shm_part(&n->shm, gi + 1);

	/* Release: pairs with the senders' acquire load (act__part_removed());
	 * from here on no sender reserves room in a ring into this group, so
	 * what the worker drains below is all there will be.  (A sender that
	 * read 0 just before may still commit one record after the drain:
	 * see act__node_group_leftover().) */
	atomic_store_explicit(&p->removed, 1, memory_order_release);
	act__sup_set_removed(&n->sup, gi, true);
	g->removed_at_ms = act__wall_ms(); /* status says removed, and when: not a death */
	act__group_kill_spare(n, gi);
	dequeue(n, gi);
	g->not_before_ns = 0;
	if (act__group_alive(g)) {
		request_stop(n, gi);
		g->next = ACT__G_REMOVED;
	} else {
		/* No worker runs (it waits for a restart, or is done): the
		 * other groups' workers make the Downs of their monitors into
		 * it from their notes (dyn-remote.c). */
		act__group_set_state(n, gi, ACT__G_REMOVED);
		act__group_announce_gone(n, gi);
		act__node_stop_children_of(n, gi); /* no worker of it tells them */
		act__node_forget_spawned(n, gi);
	}
	if (g->waiter) {
		act__ctl_group_ready(n->ctl, g->waiter, false, "the group was removed by a reload");
		g->waiter = NULL;
	}
	act__info("group '%s' removed by a reload%s", n->reg.groups[gi].name,
	          act__group_alive(g) ? ": it handles what is queued for it, then stops" : "");
}

int act__node_add_group(struct act_node *n, uint32_t gi)
{
	struct act__gstate *g = &n->gs[gi];
	struct act__part *p = act__shm_part(&n->shm, gi + 1);

	if (g->state != ACT__G_REMOVED)
		return -EBUSY;
	act__sup_set_removed(&n->sup, gi, false);
	g->removed_at_ms = 0;
	/* Its last worker stopped cleanly because the group was removed: that
	 * was no death, and the group added back has not died since.  (A
	 * worker that died before the removal, with none running after, stays
	 * its last death.) */
	if (g->death_by_removal)
		g->last_death[0] = '\0';
	g->death_by_removal = false;
	/* Release: pairs with the senders' acquire load; the rings into the
	 * group are read again by the worker queued below. */
	atomic_store_explicit(&p->removed, 0, memory_order_release);
	act__group_enqueue(n, gi, 0);
	/* A spare participant's group may be new (reload.c names it). */
	act__info("group '%s' %s by a reload", n->reg.groups[gi].name,
	          n->reg.groups[gi].spare ? "added" : "added back");
	return 0;
}

uint64_t act__node_group_leftover(const struct act_node *n, uint32_t gi)
{
	return work_waiting(n, gi);
}

void act__node_stop(struct act_node *n, int code, const char *why)
{
	if (n->stopping)
		return;
	act__info("node '%s' stopping: %s", n->name, why);
	n->stopping = true;
	n->exit_code = code;
	n->n_startq = 0;
	for (uint32_t i = 0; i < n->reg.n_groups; i++) {
		struct act__gstate *g = &n->gs[i];
		/* The queue is gone: nothing starts again. */
		if (stopping_state(g->state))
			g->next = ACT__G_DEAD;
		else if (g->state == ACT__G_QUEUED || g->state == ACT__G_BACKOFF)
			act__group_set_state(n, i, g->last_death[0] ? ACT__G_DEAD : ACT__G_DOWN);
		act__group_kill_spare(n, i);
	}
}

/* While stopping: stop groups one at a time, in reverse start order. */
void act__group_run_stop_sequence(act_node_t *n)
{
	for (uint32_t i = n->reg.n_groups; i-- > 0;) {
		struct act__gstate *g = &n->gs[i];
		if (!act__group_alive(g))
			continue;
		if (!stopping_state(g->state))
			request_stop(n, i);
		return; /* wait for this one before the next */
	}
	n->stop_done = true;
	/* Every worker drained its rings before it stopped; what is left waits
	 * for a group that was not running (never started: the node stopped
	 * while starting, or done, failed, dead).  Say so, never silently:
	 * actorsd keeps the region of a stop that is not clean for its next
	 * start, else it goes with the node. */
	bool kept = act__recover_keeps_region(n);
	for (uint32_t i = 0; i < n->reg.n_groups; i++) {
		uint64_t left = work_waiting(n, i);
		if (!left)
			continue;
		n->bytes_left_at_stop += left;
		act__warn("%llu bytes of envelopes for group '%s' were never handled (the group %s at "
		          "the stop): %s", (unsigned long long)left, n->reg.groups[i].name,
		          n->gs[i].state == ACT__G_DOWN ? "had not started" : "was not running",
		          kept ? "they stay in the region, for the next start" :
		          "they are dropped with the node");
	}
}

/* ---- deaths ------------------------------------------------------------------------ */

/* The name of sender hfrom (actor id + 1) into buf; "" if none. */
static void sender_name(act_node_t *n, uint32_t hfrom, char *buf, size_t cap)
{
	uint32_t id = hfrom - 1, sg = hfrom ? act__dyn_group_of(&n->shm, id) : 0;

	buf[0] = '\0';
	if (hfrom && hfrom <= n->reg.n_actors) {
		snprintf(buf, cap, "%s", n->reg.actors[id].name);
	} else if (sg) {
		/* Spawned: its record's name, if the slot still holds a tenant
		 * with one (it may have ended since), else the name of the
		 * slot's last tenant ($group.slot.gen). */
		uint32_t slot = act__dyn_slot_of(&n->shm, id);
		struct act__spawn_rec *r = act__shm_spawn_rec(&n->shm, sg, slot);
		uint64_t word = atomic_load_explicit(&r->word, memory_order_acquire);
		char name[ACT_NAME_MAX + 1];
		memcpy(name, r->name, sizeof name - 1);
		name[sizeof name - 1] = '\0';
		if (name[0] && ACT__SLOT_STATE(word) == ACT__SLOT_LIVE)
			snprintf(buf, cap, "%s", name);
		else
			act__dyn_anon_name(buf, cap, sg, slot, ACT__SLOT_GEN(word));
	}
}

static void record_crash(act_node_t *n, uint32_t gi, pid_t pid, uint32_t htype, uint32_t hfrom,
                         const char *jname)
{
	struct act__crash *c = &n->crashes[n->n_crashes++ % ACT__CRASH_HISTORY];
	const struct act__gstate *g = &n->gs[gi];

	memset(c, 0, sizeof *c);
	c->time_ms = act__wall_ms();
	c->group = gi;
	c->pid = pid;
	c->signal = g->last_signal;
	c->exit_code = g->last_exit;
	c->core = g->last_core;
	c->hung = g->hang_kill;
	if (htype && htype <= n->reg.n_types)
		snprintf(c->handling_type, sizeof c->handling_type, "%s", n->reg.types[htype]->name);
	else if (jname[0])
		snprintf(c->handling_type, sizeof c->handling_type, "%s", jname);
	sender_name(n, hfrom, c->handling_from, sizeof c->handling_from);
	for (uint32_t s = 0; s < n->reg.n_groups + 1; s++) {
		struct act__ring *r = act__node_ring(n, s, gi + 1);
		if (r)
			c->ring_depth += act__ring_depth(r);
	}
}

static void down_for_lost_group(act_node_t *n, uint32_t gi);

static void on_death(act_node_t *n, uint32_t gi, const siginfo_t *si)
{
	struct act__gstate *g = &n->gs[gi];
	const struct act__group_def *gd = &n->reg.groups[gi];
	struct act__part *p = act__shm_part(&n->shm, gi + 1);
	uint32_t htype = atomic_load_explicit(&p->handling_type, memory_order_relaxed);
	uint32_t hfrom = atomic_load_explicit(&p->handling_from, memory_order_relaxed);
	bool hjson = atomic_load_explicit(&p->handling_json, memory_order_relaxed) != 0;
	bool was_handling = htype != 0 || hjson;
	/* The worker names the sender with the type, and leaves it when it
	 * goes idle: between messages it is the last one's. */
	if (!was_handling)
		hfrom = 0;
	/* The worker names the type it handles (the supervisor may not know
	 * module types); copy it out of shared memory, bounded. */
	char jname[64] = "";
	if (was_handling) {
		memcpy(jname, p->handling_name, sizeof jname);
		jname[sizeof jname - 1] = '\0';
	}
	pid_t pid = g->pid;
	char doing[160] = "";
	struct act__sup_plan plan;
	uint64_t now = act__now_ns();

	g->last_signal = si->si_code == CLD_EXITED ? 0 : si->si_status;
	g->last_exit = si->si_code == CLD_EXITED ? si->si_status : -1;
	g->last_core = si->si_code == CLD_DUMPED;
	close(g->pidfd);
	g->pidfd = -1;
	g->pid = 0;
	/* Judged before its pid goes: a supervisor that dies in between
	 * leaves the pid, and its successor forgives the start (recover.c). */
	if (!act__death_counts(g->last_signal, g->last_exit, g->hang_kill))
		forgive_inflight(n, gi, g->last_signal);
	atomic_store_explicit(&p->pid, 0, memory_order_release);
	atomic_store_explicit(&p->handling_type, 0, memory_order_relaxed);
	atomic_store_explicit(&p->handling_from, 0, memory_order_relaxed);
	atomic_store_explicit(&p->handling_json, 0, memory_order_relaxed);
	promote_outbound(n, gi);
	/* Its actors' watches on remote peers end with it (peers.h), and so
	 * do those still on their way in its ring to us. */
	g->peer_mark = atomic_load_explicit(&n->in[gi + 1].r->tail, memory_order_acquire);
	if (n->gw)
		act__peers_drop_group(act__gw_watches(n->gw), gi + 1);
	/* The generation that ran; bumped now, not only at the next start, so
	 * that a monitor taken from here on (its watcher notes the new one)
	 * is not ended by this death's Downs: it goes to the next worker.
	 * Release: pairs with the watchers' acquire load (rmon_add()). */
	uint64_t gen = atomic_fetch_add(&p->generation, 1); /* seq_cst: see rmon_add() */
	bool was_starting = g->state == ACT__G_STARTING;
	bool was_stopped = stopping_state(g->state) || n->stopping;
	/* A stop leads where request_stop() or a queued start said; anything
	 * else is a crash, first DEAD, then what the restart plan says. */
	enum act__gphase after = stopping_state(g->state) ? g->next : ACT__G_DEAD;
	/* A temporary sibling that a restart plan took down will not run
	 * again: the engine marked it done, and so does status. */
	if (after == ACT__G_DEAD && stopping_state(g->state) && !n->stopping && n->sup.g[gi].done)
		after = ACT__G_DONE;
	act__group_set_state(n, gi, was_stopped ? after : ACT__G_DEAD);

	if (g->last_signal)
		snprintf(g->last_death, sizeof g->last_death, "%s%s %d (%s)%s",
		         g->hang_kill ? "hung, " : "", "killed by signal", g->last_signal,
		         strsignal(g->last_signal), g->last_core ? ", core dumped" : "");
	else
		snprintf(g->last_death, sizeof g->last_death, "exited with code %d", g->last_exit);
	char from[ACT_NAME_MAX + 32];
	sender_name(n, hfrom, from, sizeof from);
	if (was_handling && htype)
		snprintf(doing, sizeof doing, " while handling %s from %s",
		         htype <= n->reg.n_types ? n->reg.types[htype]->name :
		         jname[0] ? jname : "a message", from[0] ? from : "nobody");
	else if (was_handling)
		snprintf(doing, sizeof doing, " while handling %s from outside the node",
		         jname[0] ? jname : "a JSON message");
	size_t dl = strlen(g->last_death);
	snprintf(g->last_death + dl, sizeof g->last_death - dl, "%s", doing);
	/* The clean stop a reload's removal asked for: status shows it as the
	 * removal's while the group is removed, and forgets it when a reload
	 * adds the group back.  A crash while draining, or a stop that had to
	 * be forced, stays a death. */
	g->death_by_removal = g->state == ACT__G_REMOVED && !g->last_signal && g->last_exit == 0;

	if (was_stopped) {
		act__info("group '%s' (pid %d) stopped: %s", gd->name, (int)pid, g->last_death);
		if (g->state == ACT__G_REMOVED) {
			down_for_lost_group(n, gi); /* removed by a reload: not running again */
			/* A worker that did not stop by itself (killed: brutal_kill,
			 * shutdown_ms, a crash) may not have told its actors'
			 * children elsewhere to stop; a second word does nothing. */
			if (!g->death_by_removal)
				act__node_stop_children_of(n, gi);
			act__node_forget_spawned(n, gi);
		}
		if (g->waiter && !act__node_group_pending(n, gi)) {
			act__ctl_group_ready(n->ctl, g->waiter, false, "the group stopped");
			g->waiter = NULL;
		}
		if (!act__node_group_pending(n, gi))
			act__pool_rolling_event(n, gi, false, "the member stopped");
		else if (!n->stopping)
			announce_restart(n, gi, gen); /* an operator's, a reload's, a sibling's */
		return;
	}
	record_crash(n, gi, pid, htype, hfrom, jname);
	act__warn("group '%s' (pid %d) %s", gd->name, (int)pid, g->last_death);
	if (was_starting)
		act__warn("group '%s' died before it was ready", gd->name);

	act__sup_exited(&n->sup, gi, g->last_signal ? -1 : g->last_exit, g->last_signal, now, &plan);
	if (plan.permanent_failure) {
		act__group_set_state(n, gi, ACT__G_FAILED);
		act__err("group '%s' exited with %d (permanent error): not restarted", gd->name,
		         ACT_EXIT_PERMANENT);
	}
	switch (plan.action) {
	case ACT__SUP_NONE:
		if (g->state != ACT__G_FAILED) {
			act__group_set_state(n, gi, ACT__G_DONE);
			act__info("group '%s' will not be restarted (%s)", gd->name,
			          plan.why ? plan.why : "restart type");
		}
		down_for_lost_group(n, gi);
		break;
	case ACT__SUP_RESTART:
		if (plan.delay_ms)
			act__info("%s; next start of '%s' in %llu ms", plan.why ? plan.why : "restarting",
			          gd->name, (unsigned long long)plan.delay_ms);
		announce_restart(n, gi, gen);
		apply_plan(n, &plan, now);
		break;
	case ACT__SUP_GIVE_UP:
		act__err("restart intensity exceeded (more than %u restarts in %u ms): giving up",
		         n->pol.max_restarts, n->pol.period_ms);
		act__node_stop(n, ACT_EXIT_INTENSITY, "restart intensity exceeded");
		break;
	}
	if (g->waiter && !act__node_group_pending(n, gi)) {
		act__ctl_group_ready(n->ctl, g->waiter, false, g->last_death);
		g->waiter = NULL;
	}
	if (!act__node_group_pending(n, gi) && g->state != ACT__G_STARTING)
		act__pool_rolling_event(n, gi, false, g->last_death);
}

/* PROCMAP_QUERY (Linux 6.11, <linux/fs.h>): one VMA of a process by
 * address and kind, without formatting the rest of /proc/PID/maps. */
#ifndef PROCMAP_QUERY
struct procmap_query {
	uint64_t size, query_flags, query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define PROCMAP_QUERY _IOWR('f', 17, struct procmap_query)
#endif
#define PMQ_SHARED  0x08u
#define PMQ_NEXT    0x10u
#define PMQ_FILE    0x20u

/* A shared file mapping that holds nothing a replacement could trip on:
 * the node's region, the worker's io_uring rings, shared anonymous memory. */
static bool harmless_shared(const struct stat *region, unsigned major, unsigned minor,
                            unsigned long ino, const char *name)
{
	if (region && makedev(major, minor) == region->st_dev && ino == region->st_ino)
		return true;
	return !strncmp(name, "anon_inode:[io_uring]", 21) || !strcmp(name, "/dev/zero (deleted)");
}

/* maps_shared_files() from the text of /proc/PID/maps (before Linux 6.11). */
static bool maps_text_shared_files(const char *path, const struct stat *region)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false, any = false;

	if (!f)
		return errno != ENOENT && errno != ESRCH;
	while (!found && getline(&line, &cap, f) > 0) {
		/* "7f..-7f.. rw-s 00000000 08:01 5678   /path\n" */
		char perms[8];
		unsigned major, minor;
		unsigned long ino;
		int at = 0;
		any = true;
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%*s %7s %*s %x:%x %lu %n", perms, &major, &minor, &ino, &at) < 4 ||
		    perms[3] != 's' || !ino)
			continue;
		found = !harmless_shared(region, major, minor, ino, at ? line + at : "");
	}
	free(line);
	fclose(f);
	/* Nothing mapped: it is exiting, its address space on its way down. */
	return found || !any;
}

/*
 * Whether the address space that holder keeps maps a file shared (other
 * than harmless_shared()): such a file stays open until the teardown, and
 * with it any flock(), OFD lock or lease taken through it, or a device's
 * open state.  Cannot tell: it may.  PROCMAP_QUERY returns only those
 * mappings, but the kernel still walks every one (~135 for a worker, most
 * of them libraries): 7 us warm, 40-190 us measured in bench-restart,
 * where the dead worker's mappings are cold in our cache.
 */
static bool maps_shared_files(act_node_t *n, pid_t holder)
{
	char path[48], name[256];
	struct stat rs;
	const struct stat *region = fstat(n->shm.fd, &rs) == 0 ? &rs : NULL;
	uint64_t addr = 0;

	snprintf(path, sizeof path, "/proc/%d/maps", (int)holder);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT && errno != ESRCH; /* gone: torn down */
	for (;;) {
		struct procmap_query q = {
			.size = sizeof q, .query_flags = PMQ_NEXT | PMQ_SHARED | PMQ_FILE,
			.query_addr = addr, .vma_name_addr = (uintptr_t)name,
			.vma_name_size = sizeof name,
		};
		if (ioctl(fd, PROCMAP_QUERY, &q)) {
			int e = errno;
			close(fd);
			if (e == ENOENT)
				return false; /* no more */
			if (e == ENOTTY || e == EINVAL)
				return maps_text_shared_files(path, region);
			return true;
		}
		if (!q.vma_name_size)
			name[0] = '\0';
		if (!harmless_shared(region, q.dev_major, q.dev_minor, (unsigned long)q.inode, name)) {
			close(fd);
			return true;
		}
		addr = q.vma_end;
	}
}

/* Opens group gi's gate: a new worker (or standby) waiting in gate_wait()
 * (worker.c) runs its actors now. */
void act__group_open_gate(act_node_t *n, uint32_t gi)
{
	struct act__part *p = act__shm_part(&n->shm, gi + 1);

	atomic_store_explicit(&p->gate, 0, memory_order_release);
	syscall(SYS_futex, &p->gate, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/* Group gi's gate waits for holder (its pidfd hfd, already signalled)
 * too.  Beyond ACT__MAX_HOLDS (that many workers dead at the gate while
 * the first teardown runs) this one is waited for here, blocking. */
static void hold_push(act_node_t *n, uint32_t gi, pid_t holder, int hfd)
{
	struct act__gstate *g = &n->gs[gi];
	struct sched_param sp = { 0 };

	/* It tears down at idle priority; a supervisor allowed to (root)
	 * lets it run as any other process, since a start waits for it. */
	(void)sched_setscheduler(holder, SCHED_OTHER, &sp);
	if (g->n_holds == ACT__MAX_HOLDS) {
		struct pollfd pf = { hfd, POLLIN, 0 };
		while (poll(&pf, 1, -1) < 0 && errno == EINTR)
			;
		close(hfd);
		return;
	}
	g->hold_fds[g->n_holds++] = hfd;
	atomic_store_explicit(&act__shm_part(&n->shm, gi + 1)->gate_holder, holder,
	                      memory_order_relaxed);
}

void act__group_hold_done(act_node_t *n, uint32_t gi)
{
	struct act__gstate *g = &n->gs[gi];

	if (!g->n_holds)
		return;
	close(g->hold_fds[0]);
	memmove(g->hold_fds, g->hold_fds + 1, --g->n_holds * sizeof g->hold_fds[0]);
	if (!g->n_holds) {
		atomic_store_explicit(&act__shm_part(&n->shm, gi + 1)->gate_holder, 0,
		                      memory_order_relaxed);
		act__group_open_gate(n, gi);
	}
}

void act__group_adopt_gate(act_node_t *n, uint32_t gi)
{
	struct act__part *p = act__shm_part(&n->shm, gi + 1);
	pid_t holder = atomic_load_explicit(&p->gate_holder, memory_order_relaxed);
	int hfd = -1;

	if (!atomic_load_explicit(&p->gate, memory_order_relaxed))
		return;
	if (holder > 0 && (hfd = (int)syscall(SYS_pidfd_open, holder, 0)) >= 0) {
		/* Ours (an upgrade keeps our pid), or gone: its exit says. */
		syscall(SYS_pidfd_send_signal, hfd, SIGKILL, NULL, 0);
		hold_push(n, gi, holder, hfd);
		return;
	}
	atomic_store_explicit(&p->gate_holder, 0, memory_order_relaxed);
	act__group_open_gate(n, gi);
}

/*
 * A worker with an address-space holder (quick_reap, src/worker.c) is
 * dead to its pidfd before its address space is torn down: the holder
 * keeps it until we have looked at it and killed the holder here, which
 * then tears it down at idle priority.  A file the worker had mapped
 * shared stays open until then, and with it any flock(), OFD lock or
 * lease taken through it: a replacement that takes the lock at once
 * would find it held (the bank example's books).  So the group's gate
 * was closed when the worker was reaped (act__group_reap()), and its
 * replacement, started meanwhile, runs no actor code until it opens: at
 * once if the address space maps no such file, else when the holder is
 * gone (the loop polls hold_fds).  Done here, after the turn's starts
 * were sent, so that the look (40-190 us of a cold 2-vCPU VM: the kernel
 * walks every mapping) overlaps the replacement's own setup.
 */
void act__group_check_teardowns(act_node_t *n)
{
	for (uint32_t gi = 0; gi < n->reg.n_groups; gi++) {
		struct act__gstate *g = &n->gs[gi];
		pid_t holder = g->check_holder;
		int hfd = g->check_hfd;
		if (!holder)
			continue;
		g->check_holder = 0;
		g->check_hfd = -1;
		/* A holder that has exited is torn down: no wait.  One that is
		 * exiting (killed with its worker's process group, as a hang
		 * kill does) has no address space to look at: the look says
		 * "may" (PROCMAP_QUERY fails with ESRCH, the text is empty), and
		 * the gate waits for its exit, which comes after its teardown. */
		struct pollfd gone = { hfd, POLLIN, 0 };
		bool wait = hfd >= 0 && poll(&gone, 1, 0) == 0 && maps_shared_files(n, holder);
		if (hfd >= 0)
			syscall(SYS_pidfd_send_signal, hfd, SIGKILL, NULL, 0);
		if (wait) {
			hold_push(n, gi, holder, hfd);
			g->n_teardown_waits++;
			act__info("group '%s': its last worker had files mapped shared (their locks "
			          "outlive it until its address space is torn down): its actors run "
			          "after that", n->reg.groups[gi].name);
		} else if (hfd >= 0) {
			close(hfd);
		}
		/* A worker that died at the gate does not open it while an
		 * earlier one's teardown is still awaited. */
		if (!g->n_holds)
			act__group_open_gate(n, gi);
	}
}

void act__group_reap(act_node_t *n, uint32_t gi)
{
	struct act__gstate *g = &n->gs[gi];
	struct act__part *p = act__shm_part(&n->shm, gi + 1);
	siginfo_t si;

	g->pidfd_armed = false;
	if (g->pidfd < 0)
		return;
	memset(&si, 0, sizeof si);
	if (waitid((idtype_t)P_PIDFD, (id_t)g->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return; /* not dead yet; re-armed by the loop */
	act__phase(ACT__PH_REAPED);
	/* Its holder keeps its address space: the next worker waits at the
	 * gate until we looked (act__group_check_teardowns()).  Closed before
	 * on_death() starts or wakes that worker. */
	pid_t holder = atomic_exchange_explicit(&p->holder_pid, 0, memory_order_relaxed);
	if (holder > 0) {
		atomic_store_explicit(&p->gate, 1, memory_order_relaxed);
		if (g->check_hfd >= 0)
			close(g->check_hfd);
		/* Ours since the worker died (we are the subreaper), alive or a
		 * zombie, and not reaped before this turn's orphans are: the
		 * pidfd is opened now, so that its pid is never another's. */
		g->check_hfd = (int)syscall(SYS_pidfd_open, holder, 0);
		g->check_holder = holder;
	}
	on_death(n, gi, &si);
}

/*
 * Reaps children that are not workers (orphans re-parented to us, the
 * zygote).  A dead worker is only marked reap_pending: its pidfd path
 * reaps it after the rings were drained.  Since waitid() shows one zombie
 * at a time, this stops at the first worker and is called again after the
 * workers were reaped.
 */
void act__group_reap_strays(act_node_t *n)
{
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
			return;
		for (uint32_t i = 0; i < n->reg.n_groups; i++) {
			if (n->gs[i].pid == si.si_pid) {
				n->gs[i].reap_pending = true;
				return;
			}
			if (n->gs[i].spare_pid == si.si_pid) {
				act__group_reap_spare(n, i);
				si.si_pid = -1;
				break;
			}
		}
		if (si.si_pid == -1)
			continue;
		if (si.si_pid == n->sp.prefork)
			act__spawner_has_prefork(&n->sp); /* forgets it (dead) */
		waitpid(si.si_pid, NULL, WNOHANG);
		if (si.si_pid == n->sp.zygote) {
			n->sp.zygote = -1;
			if (!n->stopping) {
				act__err("the zygote died; no worker can be started any more");
				act__node_stop(n, ACT_EXIT_TEMPORARY, "zygote died");
			}
		}
	}
}


/* ---- Down for the spawned actors of a group that will not run again ------------------- */

/*
 * Group gi died and will not be restarted (temporary, permanent failure):
 * its spawned actors are gone with it, and no worker of it will read
 * their records to tell their monitors.  The supervisor does: one Down
 * per monitor entry in another group, then the entry is cleared (so a
 * later manual start of the group does not tell them again).  Watchers in
 * the dead group itself are gone too.
 */
/*
 * Group gi will not run again: every other running group hears it
 * (ACT__SYS_GROUP_GONE), so that its watchers of gi's static actors, whose
 * watch died with gi's worker, get their Down (dyn-remote.c).  Called once
 * no worker of gi runs.
 */
/* ACT__SYS_GROUP_GONE for every other running group; flags 0,
 * ACT__GONE_CAUSE or ACT__GONE_RESTART (with the worker's generation):
 * layout.h.  Returns how many groups could not be told (full rings). */
static uint32_t announce(act_node_t *n, uint32_t gi, uint16_t flags, uint64_t gen)
{
	const struct act__gstate *g = &n->gs[gi];
	uint32_t lost = 0;

	for (uint32_t i = 0; i < n->reg.n_groups; i++) {
		struct act__part *p = act__shm_part(&n->shm, i + 1);
		/* Only a group whose worker took a monitor into another group
		 * has anything to do with this (layout.h, watches_others). */
		if (i == gi || !act__group_alive(&n->gs[i]) || act__part_removed(p) ||
		    !atomic_load_explicit(&p->watches_others, memory_order_acquire))
			continue;
		int err;
		struct act__env *e = act__node_out_reserve(n, i + 1, sizeof *e, &err);
		if (!e) {
			lost++;
			continue;
		}
		struct act__route rt = { .type = ACT__SYS_GROUP_GONE, .to = gi + 1, .flags = flags };
		if (flags & (ACT__GONE_RESTART | ACT__GONE_CAUSE)) {
			rt.from = (uint32_t)g->last_signal;
			rt.from_gen = (uint32_t)g->last_exit;
		}
		if (flags & ACT__GONE_RESTART) {
			/* Where the dead worker's sends to group i end (promoted:
			 * its last burst included), which i reads before the Downs. */
			const struct act__ring *r = act__node_ring(n, gi + 1, i + 1);
			rt.corr = r ? atomic_load_explicit(&r->tail, memory_order_acquire) : 0;
			rt.to_gen = (uint32_t)gen;
		}
		act__env_write(e, ACT__REC_SYS, sizeof *e, &rt);
		act__ring_commit(&n->out[i + 1], e);
		act__doorbell_notify(p, ACT__SUPERVISOR, n->efd[i + 1]);
	}
	return lost;
}

void act__group_announce_gone(act_node_t *n, uint32_t gi)
{
	/* Done or failed (not a removal): say how its worker ended. */
	enum act__gphase s = n->gs[gi].state;
	uint32_t lost = announce(n, gi, s == ACT__G_DONE || s == ACT__G_FAILED ? ACT__GONE_CAUSE : 0,
	                         0);
	if (lost) {
		n->n_dead_letters += lost;
		act__warn("group '%s' will not run again: %u groups not told (full rings); their "
		          "monitors of its actors get no Down", n->reg.groups[gi].name, lost);
	}
}

/*
 * Group gi's worker, of generation gen, ended and the group runs again:
 * the watches its static actors held died with that worker (their refs
 * stay valid, the new worker knows none of them), so every other group
 * makes the Downs of its monitors into them (dyn-remote.c).
 */
static void announce_restart(act_node_t *n, uint32_t gi, uint64_t gen)
{
	uint32_t lost = announce(n, gi, ACT__GONE_RESTART, gen);
	if (lost) {
		n->n_dead_letters += lost;
		act__warn("group '%s' restarts: %u groups not told (full rings); their monitors of "
		          "its static actors get no Down", n->reg.groups[gi].name, lost);
	}
}

static void down_for_lost_group(act_node_t *n, uint32_t gi)
{
	const struct act__gstate *g = &n->gs[gi];
	uint32_t part = gi + 1, sent = 0, lost = 0;
	uint32_t hi = act__shm_dyn_hi(&n->shm, part);
	act_down d;
	char reason[sizeof d.reason];

	uint32_t down_id = act__reg_type_id(&n->reg, &act_down_type);

	act__group_announce_gone(n, gi);
	if (!down_id || act_down_type.size != sizeof d)
		return;
	act__death_reason(reason, sizeof reason, g->last_signal, g->last_exit, "group stopped");
	for (uint32_t s = 0; s < hi; s++) {
		struct act__spawn_rec *r = act__shm_spawn_rec(&n->shm, part, s);
		uint64_t word = atomic_load_explicit(&r->word, memory_order_acquire);
		uint32_t st = ACT__SLOT_STATE(word);
		if (st != ACT__SLOT_LIVE && st != ACT__SLOT_PENDING)
			continue;
		/* Monitors live in the slot's ext block, below the record's
		 * n_mon (an actor never monitored has none to look at). */
		uint32_t n_mon = r->n_mon < ACT__SPAWN_MONITORS ? r->n_mon : ACT__SPAWN_MONITORS;
		struct act__spawn_mon *mon = n_mon ? act__shm_spawn_ext(&n->shm, part, s)->mon : NULL;
		for (uint32_t i = 0; i < n_mon; i++) {
			struct act__spawn_mon m = mon[i];
			if (!m.watcher)
				continue;
			uint32_t wid = m.watcher - 1, wg = 0;
			if (wid < n->reg.n_actors)
				wg = n->reg.actors[wid].group;
			else
				wg = act__dyn_group_of(&n->shm, wid);
			__atomic_store_n(&mon[i].watcher, 0, __ATOMIC_RELAXED);
			if (!wg || wg == part)
				continue;
			memset(&d, 0, sizeof d);
			memcpy(d.actor, r->name, sizeof d.actor - 1);
			snprintf(d.reason, sizeof d.reason, "%s", reason);
			int err;
			uint32_t len = (uint32_t)(sizeof(struct act__env) + sizeof d);
			struct act__env *e = act__node_out_reserve(n, wg, len, &err);
			if (!e) {
				lost++;
				continue;
			}
			/* corr: the monitor's id, which the watcher's worker
			 * matches with its note (dyn-remote.c), so that this
			 * Down and one made there for the same monitor count
			 * once. */
			uint32_t id = act__dyn_id(&n->shm, part, s);
			act__env_write(e, ACT__REC_MSG, len,
			               &(struct act__route){ .type = down_id, .to = wid,
			                                     .to_gen = m.watcher_gen, .from = id + 1,
			                                     .from_gen = ACT__SLOT_GEN(word),
			                                     .corr = act__mon_entry_id(&m, id) });
			memcpy(e + 1, &d, sizeof d);
			act__ring_commit(&n->out[wg], e);
			act__doorbell_notify(act__shm_part(&n->shm, wg), ACT__SUPERVISOR, n->efd[wg]);
			sent++;
		}
	}
	if (sent || lost)
		act__info("group '%s' will not run again: Down '%s' sent to %u monitors of its spawned "
		          "actors%s", n->reg.groups[gi].name, reason, sent,
		          lost ? " (some rings were full: those are lost)" : "");
	if (lost) {
		n->n_dead_letters += lost;
		act__warn("%u Down messages lost: their rings were full", lost);
	}
}

/*
 * Group gi was removed by a reload: the records of its spawned actors are
 * freed, so that the group a later reload puts here starts with none of
 * them.  For a declared group added back, its static actors return and
 * its spawned ones do not: their Shutdown ran (or their worker was lost)
 * and their watchers got Down, so bringing them back would contradict
 * both, and keep their names taken.  For a spare participant's group,
 * the same holds for the actors its app file declared (spawned again
 * when it is added) and any it spawned since.  Each keeps its generation, so
 * the slot's next tenant gets a higher one and a ref to an old actor never
 * reaches it.  Called once no worker of the group runs; a record another
 * participant is writing (reserved by it) is left to it.
 */
/* At most this many words wait for room (12 MB). */
#define STOP_WAIT_MAX (1u << 20)
/* Their retries: 1 ms apart, doubling while none goes, up to 100 ms. */
#define STOP_RETRY_MIN_NS 1000000ull
#define STOP_RETRY_MAX_NS 100000000ull

void act__node_stop_children_retry(act_node_t *n, uint64_t now, uint64_t *timeout_ns)
{
	if (!n->n_stop_wait)
		return;
	if (now >= n->stop_wait_next_ns) {
		uint64_t r = n->stop_wait_retry_ns;
		r = act__node_stop_children_flush(n) ? STOP_RETRY_MIN_NS :
		    2 * r < STOP_RETRY_MAX_NS ? 2 * r : STOP_RETRY_MAX_NS;
		n->stop_wait_retry_ns = r;
		n->stop_wait_next_ns = now + r;
	}
	if (n->n_stop_wait && n->stop_wait_next_ns - now < *timeout_ns)
		*timeout_ns = n->stop_wait_next_ns - now;
}

/* One STOP_CHILDREN word into group o->g from the supervisor: 0,
 * ACT_EFULL (no room yet), or another error (its group is removed or
 * gone: nobody reads it). */
static int stop_word(act_node_t *n, const struct act__orphans *o)
{
	int err;
	if (act__part_removed(act__shm_part(&n->shm, o->g)) || act__node_group_gone(n, o->g - 1))
		return ACT_ESTOPPED;
	/* Half the ring stays for what else the supervisor sends that group
	 * (actorsctl's sends and asks, the gateway's envelopes): thousands
	 * of words must not make those "full" while they drain. */
	act__ring_h *h = &n->out[o->g];
	if (h->pos - atomic_load_explicit(&h->r->head, memory_order_acquire) > (h->mask + 1u) / 2u)
		return ACT_EFULL;
	struct act__env *e = act__node_out_reserve(n, o->g, sizeof *e, &err);
	if (!e)
		return err;
	act__env_write(e, ACT__REC_SYS, sizeof *e,
	               &(struct act__route){ .type = ACT__SYS_STOP_CHILDREN, .from = o->id + 1,
	                                     .from_gen = o->gen });
	act__ring_commit(&n->out[o->g], e);
	act__doorbell_notify(act__shm_part(&n->shm, o->g), ACT__SUPERVISOR, n->efd[o->g]);
	return 0;
}

void act__node_stop_children_of(act_node_t *n, uint32_t gi)
{
	uint32_t part = gi + 1, sent = 0, lost = 0, n_v = 0, cap_v = 0;
	struct act__orphans *v = NULL;

	for (uint32_t i = 0; i < n->reg.n_groups; i++) {
		uint32_t g = i + 1;
		if (g == part || act__part_removed(act__shm_part(&n->shm, g)) ||
		    act__node_group_gone(n, i))
			continue;
		uint32_t hi = act__shm_dyn_hi(&n->shm, g);
		for (uint32_t s = 0; s < hi; s++) {
			uint32_t parent, pgen;
			if (!act__spawn_rec_parent(act__shm_spawn_rec(&n->shm, g, s), &parent, &pgen))
				continue;
			uint32_t pid = parent - 1;
			uint32_t owner = pid < n->reg.n_actors ? n->reg.actors[pid].group :
			                 pid >= ACT__DYN_BASE ? act__dyn_group_of(&n->shm, pid) : 0;
			if (owner == part && act__orphans_note(&v, &n_v, &cap_v, g, pid, pgen))
				lost++;
		}
	}
	n_v = act__orphans_unique(v, n_v);
	/* The groups that words wait for already: a new word goes behind. */
	uint64_t waiting[ACT__READY_WORDS] = { 0 };
	for (uint32_t j = 0; j < n->n_stop_wait; j++)
		waiting[n->stop_wait[j].g / 64u] |= 1ull << (n->stop_wait[j].g % 64u);
	uint32_t kept = 0;
	for (uint32_t k = 0; k < n_v; k++) {
		/* Behind words already waiting for that group, or into a full
		 * ring: it waits with them. */
		int err = 0;
		uint64_t bit = 1ull << (v[k].g % 64u);
		if ((waiting[v[k].g / 64u] & bit) || (err = stop_word(n, &v[k])) == ACT_EFULL) {
			waiting[v[k].g / 64u] |= bit;
			if (n->n_stop_wait >= STOP_WAIT_MAX ||
			    act__grow((void **)&n->stop_wait, &n->cap_stop_wait, n->n_stop_wait + 1,
			              sizeof *n->stop_wait)) {
				lost++;
				continue;
			}
			if (!n->n_stop_wait) {
				n->stop_wait_next_ns = act__now_ns() + STOP_RETRY_MIN_NS;
				n->stop_wait_retry_ns = STOP_RETRY_MIN_NS;
			}
			n->stop_wait[n->n_stop_wait++] = v[k];
			kept++;
		} else if (err) {
			lost++;
		} else {
			sent++;
		}
	}
	free(v);
	if (sent || kept)
		act__info("group '%s' removed: its actors' children in other groups are told to stop "
		          "(%u words, %u of them wait for room)", n->reg.groups[gi].name, sent + kept,
		          kept);
	if (lost) {
		n->n_dead_letters += lost;
		act__warn("group '%s' removed: %u of its actors' children's groups not told to stop "
		          "them (no memory, or %u words wait already)", n->reg.groups[gi].name, lost,
		          STOP_WAIT_MAX);
	}
}

unsigned act__node_stop_children_flush(act_node_t *n)
{
	uint64_t full[ACT__READY_WORDS] = { 0 };
	uint32_t k = 0, dropped = 0, sent = 0;

	for (uint32_t i = 0; i < n->n_stop_wait; i++) {
		struct act__orphans *o = &n->stop_wait[i];
		uint64_t bit = 1ull << (o->g % 64u);
		int err = full[o->g / 64u] & bit ? ACT_EFULL : stop_word(n, o);
		if (err == ACT_EFULL) {
			/* In order per group: the rest for it wait too. */
			full[o->g / 64u] |= bit;
			n->stop_wait[k++] = *o;
		} else if (err) {
			dropped++;
		} else {
			sent++;
		}
	}
	n->n_stop_wait = k;
	if (dropped)
		act__info("%u words to stop children were dropped: their groups were removed or "
		          "are gone", dropped);
	if (!k) {
		free(n->stop_wait);
		n->stop_wait = NULL;
		n->cap_stop_wait = 0;
	}
	return sent;
}

void act__node_forget_spawned(act_node_t *n, uint32_t gi)
{
	uint32_t part = gi + 1, freed = 0;
	uint32_t hi = act__shm_dyn_hi(&n->shm, part);

	for (uint32_t s = 0; s < hi; s++) {
		struct act__spawn_rec *r = act__shm_spawn_rec(&n->shm, part, s);
		uint64_t word = atomic_load_explicit(&r->word, memory_order_acquire);
		uint32_t st = ACT__SLOT_STATE(word);
		if ((st & 0x7fu) == ACT__SLOT_FREE ||
		    (ACT__SLOT_IS_RESERVED(st) && ACT__SLOT_RESERVER(st) != part))
			continue;
		/* Release: as when a worker frees a slot (dynamic.c): lookups
		 * that see FREE no longer follow the record. */
		atomic_store_explicit(&r->word, ACT__SLOT_WORD(ACT__SLOT_GEN(word), ACT__SLOT_FREE),
		                      memory_order_release);
		freed++;
	}
	/* The behaviours its worker published (act__dyn_known, after the
	 * head in its area's first page): the next group here publishes its
	 * own; until then a spawn into it is not checked against them. */
	struct act__dyn_known *known = (struct act__dyn_known *)((char *)act__shm_dyn(&n->shm, part) +
	                                                        sizeof(struct act__dyn_hdr));
	atomic_store_explicit(&known->n, 0, memory_order_release);
	if (freed)
		act__info("group '%s' removed: the records of its %u spawned actors are freed",
		          n->reg.groups[gi].name, freed);
}

/* ---- the loop ---------------------------------------------------------------------- */

/* Whether group gi is settled: nothing about it is polled by the tick
 * (only its heartbeat, whose deadline act__group_next_deadline() knows). */
static bool settled(const act_node_t *n, uint32_t gi)
{
	const struct act__gstate *g = &n->gs[gi];

	switch (g->state) {
	case ACT__G_READY:
		/* A standby still to fork (or whose fork failed) is retried by
		 * maintain_spares at the tick. */
		return !n->reg.groups[gi].hot_standby || g->spare_pidfd >= 0;
	case ACT__G_BACKOFF: /* its not_before_ns is a deadline below */
	case ACT__G_DOWN:
	case ACT__G_DONE:
	case ACT__G_FAILED:
	case ACT__G_REMOVED:
		return !g->reap_pending;
	default:
		return false;
	}
}

/*
 * When a settled group's heartbeat must be looked at next: an awake
 * worker's just after its heartbeat would go stale; a sleeping one's
 * every half timeout, to see work waiting for it that it sleeps through
 * (asleep_on_work() needs two looks more than a timeout apart).
 */
static uint64_t heartbeat_due(const act_node_t *n, uint32_t gi, uint64_t now)
{
	const struct act__gstate *g = &n->gs[gi];
	uint64_t timeout_ns = (uint64_t)n->reg.groups[gi].heartbeat_timeout_ms * 1000000u;
	struct act__part *p = act__shm_part(&n->shm, gi + 1);

	if (g->state != ACT__G_READY)
		return UINT64_MAX;
	/* Relaxed: as in act__group_check_heartbeats(), a stale value only
	 * moves the next look, and that look reads them again. */
	if (atomic_load_explicit(&p->sleeping, memory_order_relaxed))
		return g->asleep_work_since_ns ? g->asleep_work_since_ns + timeout_ns + 1000000u :
		       now + timeout_ns / 2;
	uint64_t hb = atomic_load_explicit(&p->heartbeat_ns, memory_order_relaxed);
	return hb + timeout_ns + 1000000u > now ? hb + timeout_ns + 1000000u : now;
}

uint64_t act__group_next_deadline(act_node_t *n, uint64_t now, bool busy)
{
	uint64_t d = now + TICK_NS;
	bool quiet = !busy && !n->stopping && !n->rolling.active && !n->n_startq;
	for (uint32_t i = 0; quiet && i < n->reg.n_groups; i++)
		quiet = settled(n, i);
	/* Settled, the loop wakes only for what is due: no tick per 50 ms
	 * (an idle node's whole cost, issue 14), only heartbeat looks. */
	if (quiet) {
		d = now + IDLE_TICK_NS;
		if (n->wake_by_ns && n->wake_by_ns < d)
			d = n->wake_by_ns > now ? n->wake_by_ns : now;
		for (uint32_t i = 0; i < n->reg.n_groups; i++) {
			uint64_t h = heartbeat_due(n, i, now);
			if (h < d)
				d = h;
		}
	}
	uint64_t pf = prefork_due(n);
	if (pf < d)
		d = pf > now ? pf : now;
	for (uint32_t i = 0; i < n->reg.n_groups; i++) {
		const struct act__gstate *g = &n->gs[i];
		if (act__node_group_pending(n, i) && g->not_before_ns > now && g->not_before_ns < d)
			d = g->not_before_ns;
		/* A standby to fork once the group settled (maintain_spares). */
		if (n->reg.groups[i].hot_standby && act__group_alive(g) && g->spare_pidfd < 0 &&
		    g->started_ns + SPARE_DELAY_NS > now && g->started_ns + SPARE_DELAY_NS < d)
			d = g->started_ns + SPARE_DELAY_NS;
		if (stopping_state(g->state) && g->stop_deadline_ns < d)
			d = g->stop_deadline_ns > now ? g->stop_deadline_ns : now;
	}
	return d;
}
