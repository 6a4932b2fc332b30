/*
 * node.c - the supervisor: declare groups and actors, then act_node_run()
 * (or actorsd) supervises them.
 *
 * The supervisor owns the region, the doorbells and the zygote; it starts
 * groups in declared order (each must report READY before the next one
 * starts), learns of deaths through pidfds and of hangs through heartbeats
 * in shared memory, and asks the restart engine (supervisor/restart.c)
 * what to do.  A dead group's rings, and every envelope in them, survive
 * for its next instance.  Stopping a group is asynchronous: a STOP record,
 * then SIGTERM, then SIGKILL at deadlines checked by the loop.  On
 * SIGINT/SIGTERM, act_shutdown() or `actorsctl stop` the groups stop in
 * reverse start order.  The supervisor never runs user code.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <actors.h>

#include "clock.h"
#include "control.h"
#include "deadletter.h"
#include "doorbell.h"
#include "envelope.h"
#include "gateway.h"
#include "log.h"
#include "node.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define TICK_NS (50u * 1000000u)
#define SPARE_BIT 0x10000u   /* EV_PIDFD index of a group's hot standby */

enum { EV_SIGNAL = 1, EV_DOORBELL, EV_PIDFD, EV_CTL, EV_GW };

void act__gw_event(struct act__gateway *gw, uint32_t idx);

void (*act__node_inspect_hook)(struct act_node *n);

/* ---- declaration API -------------------------------------------------------- */

ACT_API act_node_t *act_node_new(const char *name)
{
	act_node_t *n;

	if (!act__name_ok(name))
		return NULL;
	n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->name = strdup(name);
	if (!n->name) {
		free(n);
		return NULL;
	}
	act__reg_init(&n->reg);
	act__policy_default(&n->pol);
	act__wire_limits_default(&n->limits);
	n->sigfd = -1;
	/* Built-in types first, so that they have the same ids everywhere. */
	if (act__reg_add_type(&n->reg, &act_start_type) ||
	    act__reg_add_type(&n->reg, &act_shutdown_type) ||
	    act__reg_add_type(&n->reg, &act_timeout_type) ||
	    act__reg_add_type(&n->reg, &act_reject_type)) {
		act_node_free(n);
		return NULL;
	}
	return n;
}

ACT_API void act_node_free(act_node_t *n)
{
	if (!n)
		return;
	act__reg_fini(&n->reg);
	free(n->endpoint);
	free(n->advertise);
	free(n->curve_secret);
	free(n->curve_public);
	free(n->curve_allow);
	free(n->state_dir);
	free(n->control_path);
	free(n->name);
	free(n);
}

ACT_API int act_node_add_type(act_node_t *n, act_type *t)
{
	return act__reg_add_type(&n->reg, t);
}

ACT_API int act_node_add_group(act_node_t *n, const char *group)
{
	return act__reg_add_group(&n->reg, group);
}

ACT_API int act_node_add_actor(act_node_t *n, const char *group, const char *name,
                               const act_behaviour *b, const char *args_json)
{
	return act__reg_add_actor(&n->reg, group, name, b, args_json);
}

static struct act__group_def *group_or_null(act_node_t *n, const char *group)
{
	return group ? act__reg_group(&n->reg, group) : NULL;
}

ACT_API int act_node_set_ring_bytes(act_node_t *n, const char *group, uint32_t bytes)
{
	struct act__group_def *g = group_or_null(n, group);
	if (!g)
		return -ENOENT;
	if (bytes < ACT__RING_MIN_CAP || bytes > ACT__RING_MAX_CAP || (bytes & (bytes - 1)))
		return -EINVAL;
	g->ring_bytes = bytes;
	if (g->max_msg > bytes / 4)
		g->max_msg = bytes / 4;
	return 0;
}

ACT_API int act_node_set_max_msg_bytes(act_node_t *n, const char *group, uint32_t bytes)
{
	struct act__group_def *g = group_or_null(n, group);
	if (!g)
		return -ENOENT;
	if (bytes < 64 || bytes > g->ring_bytes / 4)
		return -EINVAL;
	g->max_msg = bytes;
	return 0;
}

ACT_API int act_node_set_spin_us(act_node_t *n, const char *group, uint32_t us)
{
	struct act__group_def *g = group_or_null(n, group);
	if (!g)
		return -ENOENT;
	if (us > 1000000)
		return -EINVAL;
	g->spin_us = us;
	return 0;
}

ACT_API int act_node_set_max_redeliveries(act_node_t *n, const char *group, uint32_t v)
{
	struct act__group_def *g = group_or_null(n, group);
	if (!g)
		return -ENOENT;
	if (v < 1 || v > 1000)
		return -EINVAL;
	g->max_redeliveries = v;
	return 0;
}

ACT_API int act_node_set_intensity(act_node_t *n, uint32_t max_restarts, uint32_t period_ms)
{
	if (period_ms == 0 || max_restarts > ACT__SUP_RESTART_WINDOW)
		return -EINVAL;
	n->pol.max_restarts = max_restarts;
	n->pol.period_ms = period_ms;
	return 0;
}

ACT_API int act_node_set_strategy(act_node_t *n, act_strategy s)
{
	if ((unsigned)s > ACT_REST_FOR_ONE)
		return -EINVAL;
	n->pol.strategy = (act_strategy)s;
	return 0;
}

ACT_API int act_node_set_backoff(act_node_t *n, uint32_t initial_ms, double factor,
                                 uint32_t max_ms, uint32_t reset_ms)
{
	if (!(factor >= 1.0) || max_ms < initial_ms)
		return -EINVAL;
	n->pol.backoff_initial_ms = initial_ms;
	n->pol.backoff_factor = factor;
	n->pol.backoff_max_ms = max_ms;
	n->pol.backoff_reset_ms = reset_ms;
	return 0;
}

ACT_API int act_node_set_restart(act_node_t *n, const char *group, act_restart_type t)
{
	struct act__group_def *g = group_or_null(n, group);
	if (!g)
		return -ENOENT;
	if ((unsigned)t > ACT_TEMPORARY)
		return -EINVAL;
	g->restart = (act_restart_type)t;
	return 0;
}

ACT_API int act_node_set_shutdown_ms(act_node_t *n, const char *group, uint32_t ms)
{
	struct act__group_def *g = group_or_null(n, group);
	if (!g)
		return -ENOENT;
	g->shutdown_ms = ms;
	return 0;
}

ACT_API int act_node_set_hot_standby(act_node_t *n, const char *group, bool on)
{
	struct act__group_def *g = group_or_null(n, group);
	if (!g)
		return -ENOENT;
	g->hot_standby = on;
	return 0;
}

ACT_API int act_node_set_heartbeat(act_node_t *n, const char *group, uint32_t period_ms,
                                   uint32_t timeout_ms)
{
	struct act__group_def *g = group_or_null(n, group);
	if (!g)
		return -ENOENT;
	if (period_ms < 1 || timeout_ms <= period_ms)
		return -EINVAL;
	g->heartbeat_ms = period_ms;
	g->heartbeat_timeout_ms = timeout_ms;
	return 0;
}

static int set_string(char **dst, const char *v)
{
	char *c = v ? strdup(v) : NULL;
	if (v && !c)
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

ACT_API int act_node_set_state_dir(act_node_t *n, const char *dir)
{
	return set_string(&n->state_dir, dir);
}

ACT_API int act_node_set_endpoint(act_node_t *n, const char *endpoint, const char *advertise)
{
	if (endpoint && (strlen(endpoint) > ACT__ENDPOINT_MAX ||
	                 (advertise && strlen(advertise) > ACT__ENDPOINT_MAX)))
		return -EINVAL;
	int err = set_string(&n->endpoint, endpoint);
	return err ? err : set_string(&n->advertise, advertise);
}

ACT_API int act_node_set_remote(act_node_t *n, const char *actor, bool remote)
{
	int id = act__reg_find_actor(&n->reg, actor);
	if (id < 0)
		return id;
	n->reg.actors[id].remote = remote;
	return 0;
}

ACT_API int act_node_set_control_socket(act_node_t *n, const char *path)
{
	if (path && strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	return set_string(&n->control_path, path);
}

/* ---- state machine ---------------------------------------------------------- */

static const char *state_name(enum act__part_state s)
{
	static const char *names[] = { "down", "starting", "ready", "draining",
	                               "stopping", "dead", "backoff" };
	return (unsigned)s < sizeof names / sizeof *names ? names[s] : "?";
}

const char *act__node_group_state(const struct act_node *n, uint32_t gi)
{
	const struct act__gstate *g = &n->gs[gi];
	if (g->failed)
		return "failed";
	if (g->done)
		return "done";
	if (g->queued && g->state != ACT__PS_STARTING)
		return g->not_before_ns > act__now_ns() ? "backoff" : "starting";
	return state_name(g->state);
}

static void set_state(act_node_t *n, uint32_t gi, enum act__part_state s)
{
	struct act__gstate *g = &n->gs[gi];
	act__debug("group '%s': %s -> %s", n->reg.groups[gi].name, state_name(g->state),
	           state_name(s));
	g->state = s;
	atomic_store_explicit(&act__shm_part(&n->shm, gi + 1)->state, s, memory_order_relaxed);
}

int act__node_group_index(const struct act_node *n, const char *name)
{
	for (uint32_t i = 0; i < n->reg.n_groups; i++)
		if (!strcmp(n->reg.groups[i].name, name))
			return (int)i;
	return -ENOENT;
}

static bool alive(const struct act__gstate *g) { return g->pidfd >= 0; }

/* ---- plumbing ------------------------------------------------------------------ */

static void arm_poll_events(act_node_t *n, int fd, unsigned events, uint32_t ev, uint32_t idx)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&n->uring);
	if (!sqe) {
		io_uring_submit(&n->uring);
		sqe = io_uring_get_sqe(&n->uring);
		if (!sqe)
			return;
	}
	io_uring_prep_poll_add(sqe, fd, events);
	io_uring_sqe_set_data64(sqe, ((uint64_t)ev << 32) | idx);
}

static void arm_poll(act_node_t *n, int fd, uint32_t ev, uint32_t idx)
{
	arm_poll_events(n, fd, POLLIN, ev, idx);
}

void act__node_arm_fd(struct act_node *n, int fd, uint32_t tag, unsigned events)
{
	arm_poll_events(n, fd, events, EV_CTL, tag);
}

void act__node_arm_gw(struct act_node *n, int fd, uint32_t idx);
void act__node_arm_gw(struct act_node *n, int fd, uint32_t idx)
{
	arm_poll(n, fd, EV_GW, idx);
}

/* Sends a control record to participant `to`.  0 or ACT_EFULL. */
static int send_ctrl(act_node_t *n, uint32_t to, uint32_t code)
{
	int err;
	struct act__env *e = act__ring_reserve(&n->out[to], sizeof *e, &err);
	if (!e)
		return err;
	memset(e, 0, sizeof *e);
	e->rec.len = sizeof *e;
	e->rec.kind = ACT__REC_CTRL;
	e->type = code;
	act__ring_commit(&n->out[to], e);
	act__doorbell_notify(act__shm_part(&n->shm, to), ACT__SUPERVISOR, n->efd[to]);
	return 0;
}

int act__node_inject(struct act_node *n, const char *actor, const char *type,
                     const char *json, size_t json_len, const char *sender,
                     const char *endpoint, uint32_t from_peer, uint16_t flags, uint64_t corr)
{
	int id = act__reg_find_actor(&n->reg, actor);
	size_t len;
	int err;

	if (id < 0)
		return -ENOENT;
	if (!act__name_ok(type) || strlen(type) > ACT__NAME_MAX ||
	    (sender && strlen(sender) > ACT__NAME_MAX) ||
	    (endpoint && strlen(endpoint) > ACT__ENDPOINT_MAX))
		return -EINVAL;
	uint32_t g = n->reg.actors[id].group;
	len = act__jenv_size(sender ? strlen(sender) : 0, endpoint ? strlen(endpoint) : 0,
	                     strlen(type), json_len);
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	struct act__env *e = act__ring_reserve(&n->out[g], (uint32_t)len, &err);
	if (!e)
		return err;
	e->rec.kind = ACT__REC_MSG;
	e->rec.flags = flags | ACT__ENV_JSON;
	e->type = 0;
	e->to = (uint32_t)id;
	e->from = 0;
	e->from_peer = from_peer;
	e->corr = corr;
	act__jenv_fill(e, sender, endpoint, type, json, json_len);
	act__ring_commit(&n->out[g], e);
	act__doorbell_notify(act__shm_part(&n->shm, g), ACT__SUPERVISOR, n->efd[g]);
	return 0;
}

/* ---- starting and stopping groups ------------------------------------------------ */

static int spawn_group(act_node_t *n, uint32_t gi)
{
	struct act__gstate *g = &n->gs[gi];
	struct act__part *p = act__shm_part(&n->shm, gi + 1);
	act_start st = { g->n_restarts > 0, (int32_t)g->n_restarts, g->last_signal, g->last_exit };
	int err;

	atomic_store_explicit(&p->sleeping, 0, memory_order_relaxed);
	atomic_store_explicit(&p->heartbeat_ns, act__now_ns(), memory_order_relaxed);
	atomic_fetch_add_explicit(&p->generation, 1, memory_order_relaxed);
	err = act__spawner_spawn(&n->sp, gi + 1, &st, &g->pid, &g->pidfd);
	if (err) {
		act__err("group '%s': cannot start a worker: %s", n->reg.groups[gi].name,
		         act_strerror(err));
		return err;
	}
	g->started_ns = act__now_ns();
	g->pidfd_armed = false;
	g->stop_requested = false;
	g->hung = false;
	g->failed = g->done = false;
	act__sup_started(&n->sup, gi, g->started_ns);
	set_state(n, gi, ACT__PS_STARTING);
	act__info("group '%s' started (pid %d%s)", n->reg.groups[gi].name, (int)g->pid,
	          g->n_restarts ? ", restart" : "");
	return 0;
}

static void enqueue_start(act_node_t *n, uint32_t gi, uint64_t not_before_ns)
{
	struct act__gstate *g = &n->gs[gi];
	if (g->queued) {
		if (not_before_ns > g->not_before_ns)
			g->not_before_ns = not_before_ns;
		return;
	}
	g->queued = true;
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

/* Asks group gi to stop: STOP record now, signals at later deadlines. */
static void request_stop(act_node_t *n, uint32_t gi)
{
	struct act__gstate *g = &n->gs[gi];
	const struct act__group_def *gd = &n->reg.groups[gi];

	if (!alive(g) || g->stop_requested)
		return;
	g->stop_requested = true;
	set_state(n, gi, ACT__PS_STOPPING);
	if (gd->shutdown_ms == 0) {
		/* brutal_kill */
		kill(-g->pid, SIGKILL);
		kill(g->pid, SIGKILL);
		g->stop_phase = 2;
		g->stop_deadline_ns = act__now_ns() + 5000000000ull;
		return;
	}
	g->stop_phase = 0;
	g->stop_deadline_ns = act__now_ns() + (uint64_t)gd->shutdown_ms * 1000000u;
	if (send_ctrl(n, gi + 1, ACT__CTRL_STOP)) {
		/* Its ring is full: go straight to SIGTERM. */
		g->stop_deadline_ns = act__now_ns();
	}
}

/* Escalates stops whose deadline passed: STOP -> SIGTERM -> SIGKILL. */
static void check_stops(act_node_t *n, uint64_t now)
{
	for (uint32_t gi = 0; gi < n->reg.n_groups; gi++) {
		struct act__gstate *g = &n->gs[gi];
		if (!alive(g) || !g->stop_requested || now < g->stop_deadline_ns || g->stop_phase >= 2)
			continue;
		int sig = g->stop_phase == 0 ? SIGTERM : SIGKILL;
		act__warn("group '%s' did not stop in time: sending %s", n->reg.groups[gi].name,
		          sig == SIGTERM ? "SIGTERM" : "SIGKILL");
		kill(-g->pid, sig); /* its whole process group */
		kill(g->pid, sig);
		g->stop_phase++;
		g->stop_deadline_ns = now + 1000000000ull;
	}
}

/* Kills workers whose heartbeat is stale: a hang is handled as a crash. */
static void check_heartbeats(act_node_t *n, uint64_t now)
{
	for (uint32_t gi = 0; gi < n->reg.n_groups; gi++) {
		struct act__gstate *g = &n->gs[gi];
		const struct act__group_def *gd = &n->reg.groups[gi];
		if (!alive(g) || g->stop_requested || g->hung ||
		    (g->state != ACT__PS_READY && g->state != ACT__PS_STARTING))
			continue;
		struct act__part *p = act__shm_part(&n->shm, gi + 1);
		/* A worker that advertised sleep is blocked in the kernel waiting
		 * for its doorbell, not stuck in user code: no heartbeat needed. */
		if (atomic_load_explicit(&p->sleeping, memory_order_relaxed))
			continue;
		uint64_t hb = atomic_load_explicit(&p->heartbeat_ns, memory_order_relaxed);
		if (hb < now && now - hb > (uint64_t)gd->heartbeat_timeout_ms * 1000000u) {
			act__err("group '%s' (pid %d) is hung: no heartbeat for %llu ms; killing it",
			         gd->name, (int)g->pid, (unsigned long long)((now - hb) / 1000000u));
			g->hung = true;
			kill(-g->pid, SIGKILL);
			kill(g->pid, SIGKILL);
		}
	}
}

/* Starts the next queued group when nothing is starting or stopping. */
static void run_start_queue(act_node_t *n, uint64_t now)
{
	if (n->stopping || !n->n_startq)
		return;
	for (uint32_t i = 0; i < n->reg.n_groups; i++) {
		const struct act__gstate *g = &n->gs[i];
		if (g->state == ACT__PS_STARTING || (alive(g) && g->stop_requested))
			return; /* one transition at a time, in order */
	}
	uint32_t gi = n->startq[0];
	if (now < n->gs[gi].not_before_ns)
		return;
	memmove(n->startq, n->startq + 1, (n->n_startq - 1) * sizeof *n->startq);
	n->n_startq--;
	n->gs[gi].queued = false;
	if (alive(&n->gs[gi]))
		return; /* already running (e.g. a manual restart raced) */
	if (spawn_group(n, gi))
		act__node_stop(n, ACT_EXIT_TEMPORARY, "a group could not be started");
}

/* ---- hot standby ------------------------------------------------------------------ */

static void kill_spare(act_node_t *n, uint32_t gi)
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

static void reap_spare(act_node_t *n, uint32_t gi)
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
static void maintain_spares(act_node_t *n, uint64_t now)
{
	if (n->stopping)
		return;
	for (uint32_t gi = 0; gi < n->reg.n_groups; gi++) {
		struct act__gstate *g = &n->gs[gi];
		if (!n->reg.groups[gi].hot_standby || g->spare_pidfd >= 0 || !alive(g) ||
		    g->state != ACT__PS_READY || g->stop_requested ||
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

/* Wakes group gi's standby in place of its dead worker.  False if none. */
static bool promote_spare(act_node_t *n, uint32_t gi)
{
	struct act__gstate *g = &n->gs[gi];
	struct act__part *p = act__shm_part(&n->shm, gi + 1);
	uint64_t one = 1;

	if (g->spare_pidfd < 0 || alive(g))
		return false;
	p->standby_n_restarts = (int32_t)g->n_restarts;
	p->standby_last_signal = g->last_signal;
	p->standby_last_exit = g->last_exit;
	atomic_store_explicit(&p->sleeping, 0, memory_order_relaxed);
	atomic_store_explicit(&p->heartbeat_ns, act__now_ns(), memory_order_relaxed);
	atomic_fetch_add_explicit(&p->generation, 1, memory_order_relaxed);
	/* The write orders the stores above before the standby's read of them
	 * (a system call is a full barrier for both processes). */
	if (write(n->standby_efd[gi], &one, sizeof one) != (ssize_t)sizeof one) {
		kill_spare(n, gi);
		return false;
	}
	g->pid = g->spare_pid;
	g->pidfd = g->spare_pidfd;
	g->pidfd_armed = g->spare_armed;
	g->spare_pid = 0;
	g->spare_pidfd = -1;
	g->spare_armed = false;
	g->started_ns = act__now_ns();
	g->stop_requested = false;
	g->hung = false;
	g->failed = g->done = false;
	g->n_takeovers++;
	act__sup_started(&n->sup, gi, g->started_ns);
	set_state(n, gi, ACT__PS_STARTING);
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
		enqueue_start(n, gi, now + plan->delay_ms * 1000000u);
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
	act__sup_manual_restart(&n->sup, gi, &plan);
	if (plan.action != ACT__SUP_RESTART)
		return -EINVAL;
	act__info("group '%s': restart requested by the operator", n->reg.groups[gi].name);
	request_stop(n, gi);
	n->gs[gi].n_restarts++;
	n->gs[gi].failed = n->gs[gi].done = false;
	enqueue_start(n, gi, 0);
	n->gs[gi].waiter = waiter;
	return 0;
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
		n->gs[i].queued = false;
		kill_spare(n, i);
	}
}

/* While stopping: stop groups one at a time, in reverse start order. */
static void run_stop_sequence(act_node_t *n)
{
	for (uint32_t i = n->reg.n_groups; i-- > 0;) {
		struct act__gstate *g = &n->gs[i];
		if (!alive(g))
			continue;
		if (!g->stop_requested)
			request_stop(n, i);
		return; /* wait for this one before the next */
	}
	n->stop_done = true;
}

/* ---- deaths ------------------------------------------------------------------------ */

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
	c->hung = g->hung;
	if (htype && htype <= n->reg.n_types)
		snprintf(c->handling_type, sizeof c->handling_type, "%s", n->reg.types[htype]->name);
	else if (jname[0])
		snprintf(c->handling_type, sizeof c->handling_type, "%s", jname);
	if (hfrom && hfrom <= n->reg.n_actors)
		snprintf(c->handling_from, sizeof c->handling_from, "%s", n->reg.actors[hfrom - 1].name);
	for (uint32_t s = 0; s < n->reg.n_groups + 1; s++) {
		struct act__ring *r = act__node_ring(n, s, gi + 1);
		if (r)
			c->ring_depth += act__ring_depth(r);
	}
}

static void on_death(act_node_t *n, uint32_t gi, const siginfo_t *si)
{
	struct act__gstate *g = &n->gs[gi];
	const struct act__group_def *gd = &n->reg.groups[gi];
	struct act__part *p = act__shm_part(&n->shm, gi + 1);
	uint32_t htype = atomic_load_explicit(&p->handling_type, memory_order_relaxed);
	uint32_t hfrom = atomic_load_explicit(&p->handling_from, memory_order_relaxed);
	bool hjson = atomic_load_explicit(&p->handling_json, memory_order_relaxed) != 0;
	bool was_handling = htype != 0 || hjson;
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
	atomic_store_explicit(&p->pid, 0, memory_order_relaxed);
	atomic_store_explicit(&p->handling_type, 0, memory_order_relaxed);
	atomic_store_explicit(&p->handling_from, 0, memory_order_relaxed);
	atomic_store_explicit(&p->handling_json, 0, memory_order_relaxed);
	bool was_starting = g->state == ACT__PS_STARTING;
	set_state(n, gi, ACT__PS_DEAD);

	if (g->last_signal)
		snprintf(g->last_death, sizeof g->last_death, "%s%s %d (%s)%s",
		         g->hung ? "hung, " : "", "killed by signal", g->last_signal,
		         strsignal(g->last_signal), g->last_core ? ", core dumped" : "");
	else
		snprintf(g->last_death, sizeof g->last_death, "exited with code %d", g->last_exit);
	if (was_handling && htype)
		snprintf(doing, sizeof doing, " while handling %s from %s",
		         htype <= n->reg.n_types ? n->reg.types[htype]->name :
		         jname[0] ? jname : "a message",
		         hfrom && hfrom <= n->reg.n_actors ? n->reg.actors[hfrom - 1].name : "nobody");
	else if (was_handling)
		snprintf(doing, sizeof doing, " while handling %s from outside the node",
		         jname[0] ? jname : "a JSON message");
	size_t dl = strlen(g->last_death);
	snprintf(g->last_death + dl, sizeof g->last_death - dl, "%s", doing);

	if (g->stop_requested || n->stopping) {
		act__info("group '%s' (pid %d) stopped: %s", gd->name, (int)pid, g->last_death);
		g->stop_requested = false;
		/* A temporary sibling that a restart plan took down will not run
		 * again: the engine marked it done, and so does status. */
		if (!n->stopping && !g->queued && n->sup.g[gi].done)
			g->done = true;
		if (g->waiter && !g->queued) {
			act__ctl_group_ready(n->ctl, g->waiter, false, "the group stopped");
			g->waiter = NULL;
		}
		return;
	}
	record_crash(n, gi, pid, htype, hfrom, jname);
	act__warn("group '%s' (pid %d) %s", gd->name, (int)pid, g->last_death);
	if (was_starting)
		act__warn("group '%s' died before it was ready", gd->name);

	act__sup_exited(&n->sup, gi, g->last_signal ? -1 : g->last_exit, g->last_signal, now, &plan);
	if (plan.permanent_failure) {
		g->failed = true;
		act__err("group '%s' exited with %d (permanent error): not restarted", gd->name,
		         ACT_EXIT_PERMANENT);
	}
	switch (plan.action) {
	case ACT__SUP_NONE:
		if (!g->failed) {
			g->done = true;
			act__info("group '%s' will not be restarted (%s)", gd->name,
			          plan.why ? plan.why : "restart type");
		}
		break;
	case ACT__SUP_RESTART:
		if (plan.delay_ms)
			act__info("%s; next start of '%s' in %llu ms", plan.why ? plan.why : "restarting",
			          gd->name, (unsigned long long)plan.delay_ms);
		apply_plan(n, &plan, now);
		break;
	case ACT__SUP_GIVE_UP:
		act__err("restart intensity exceeded (more than %u restarts in %u ms): giving up",
		         n->pol.max_restarts, n->pol.period_ms);
		act__node_stop(n, ACT_EXIT_INTENSITY, "restart intensity exceeded");
		break;
	}
	if (g->waiter && !g->queued) {
		act__ctl_group_ready(n->ctl, g->waiter, false, g->last_death);
		g->waiter = NULL;
	}
}

static void reap_pidfd(act_node_t *n, uint32_t gi)
{
	struct act__gstate *g = &n->gs[gi];
	siginfo_t si;

	g->pidfd_armed = false;
	if (g->pidfd < 0)
		return;
	memset(&si, 0, sizeof si);
	if (waitid((idtype_t)P_PIDFD, (id_t)g->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return; /* not dead yet; re-armed by the loop */
	on_death(n, gi, &si);
}

/*
 * Reaps children that are not workers (orphans re-parented to us, the
 * zygote).  A dead worker is only marked in reap_mask: its pidfd path
 * reaps it after the rings were drained.  Since waitid() shows one zombie
 * at a time, this stops at the first worker and is called again after the
 * workers were reaped.
 */
static void reap_strays(act_node_t *n, uint64_t *reap_mask)
{
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
			return;
		for (uint32_t i = 0; i < n->reg.n_groups; i++) {
			if (n->gs[i].pid == si.si_pid) {
				reap_mask[i / 64] |= 1ull << (i % 64);
				return;
			}
			if (n->gs[i].spare_pid == si.si_pid) {
				reap_spare(n, i);
				si.si_pid = -1;
				break;
			}
		}
		if (si.si_pid == -1)
			continue;
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

/* ---- records for the supervisor --------------------------------------------------- */

/* An envelope for outside the node.  False: keep it, retry later (full peer). */
static bool handle_outbound(act_node_t *n, uint32_t from, const struct act__env *e)
{
	struct act__jview jv;

	if (act__jenv_parse(e, e->rec.len, &jv)) {
		act__warn("malformed outbound envelope from group %u dropped", from);
		n->n_dead_letters++;
		return true;
	}
	if (jv.endpoint_len == 0) {
		/* A reply (or Reject) for an actorsctl client. */
		if (!act__ctl_reply(n->ctl, e->corr, jv.type, jv.json, jv.json_len)) {
			act__debug("reply of type %s for a client that is gone", jv.type);
			n->n_dead_letters++;
		}
		return true;
	}
	if (!n->gw) {
		act__warn("envelope of type %s for %s at %s dropped: this node has no endpoint",
		          jv.type, jv.peer, jv.endpoint);
		n->n_dead_letters++;
		return true;
	}
	const char *from_name = e->from && e->from <= n->reg.n_actors ?
	                        n->reg.actors[e->from - 1].name : NULL;
	int rc = act__gw_send(n->gw, jv.peer, jv.endpoint, jv.type, jv.json, jv.json_len, from_name);
	if (rc == ACT_EFULL)
		return false;
	if (rc)
		n->n_dead_letters++;
	return true;
}

/* Handles one record from group `from`.  False: leave it in the ring. */
static bool handle_sup_record(act_node_t *n, uint32_t from, const struct act__rec *rec)
{
	const struct act__env *e = (const struct act__env *)rec;

	if (rec->len < sizeof *e) {
		act__warn("short record from group %u dropped", from);
		return true;
	}
	if (rec->kind == ACT__REC_MSG && (rec->flags & ACT__ENV_JSON) && e->to == ACT__TO_OUTSIDE)
		return handle_outbound(n, from, e);
	if (rec->kind != ACT__REC_CTRL) {
		act__warn("unexpected envelope from group %u for the supervisor dropped", from);
		n->n_dead_letters++;
		return true;
	}
	switch (e->type) {
	case ACT__CTRL_READY:
		if (from >= 1 && from <= n->reg.n_groups && n->gs[from - 1].state == ACT__PS_STARTING) {
			struct act__gstate *g = &n->gs[from - 1];
			set_state(n, from - 1, ACT__PS_READY);
			if (g->waiter) {
				act__ctl_group_ready(n->ctl, g->waiter, true, NULL);
				g->waiter = NULL;
			}
		}
		break;
	case ACT__CTRL_SHUTDOWN_NODE:
		act__node_stop(n, ACT_EXIT_OK, "act_shutdown() called");
		break;
	case ACT__CTRL_DEAD_LETTER: {
		int64_t id = -1;
		n->n_dead_letters++;
		if (n->dl)
			id = act__dl_append(n->dl, (const char *)(e + 1), rec->len - sizeof *e);
		act__warn("dead letter #%lld from group '%s' stored%s%s", (long long)id,
		          from >= 1 && from <= n->reg.n_groups ? n->reg.groups[from - 1].name : "?",
		          n->dl && act__dl_path(n->dl) ? " in " : " in memory",
		          n->dl && act__dl_path(n->dl) ? act__dl_path(n->dl) : "");
		break;
	}
	default:
		act__warn("unknown control record %u from group %u", e->type, from);
	}
	return true;
}

/*
 * The supervisor never takes sizes or counts from the region once it is
 * running (a worker could have scribbled on it): it uses its own registry,
 * and every ring it reads was validated when it attached.
 */
static void drain_inbound(act_node_t *n)
{
	uint64_t bits[ACT__READY_WORDS];
	int err;

	act__doorbell_take(act__shm_part(&n->shm, 0), bits);
	n->out_blocked = false;
	/* The supervisor handles few records: scanning every ring is cheap
	 * and robust against a dead producer's stale ready bit. */
	for (uint32_t s = 1; s < n->reg.n_groups + 1; s++) {
		const struct act__rec *rec;
		unsigned k = 0;
		while (k++ < 1024 && (rec = act__ring_peek(&n->in[s], &err))) {
			if (!handle_sup_record(n, s, rec)) {
				/* A full peer: the envelope stays, and so does everything
				 * behind it in this ring; retried on the next turn. */
				n->out_blocked = true;
				break;
			}
			act__ring_release(&n->in[s]);
		}
		act__ring_publish(&n->in[s]);
		if (err) {
			act__err("corrupt record from group %u: ring skipped", s);
			act__ring_skip_corrupt(&n->in[s]);
		}
	}
}

/* ---- the loop ---------------------------------------------------------------------- */

static uint64_t next_deadline(act_node_t *n, uint64_t now)
{
	uint64_t d = now + TICK_NS;
	for (uint32_t i = 0; i < n->reg.n_groups; i++) {
		const struct act__gstate *g = &n->gs[i];
		if (g->queued && g->not_before_ns > now && g->not_before_ns < d)
			d = g->not_before_ns;
		/* A standby to fork once the group settled (maintain_spares). */
		if (n->reg.groups[i].hot_standby && alive(g) && g->spare_pidfd < 0 &&
		    g->started_ns + SPARE_DELAY_NS > now && g->started_ns + SPARE_DELAY_NS < d)
			d = g->started_ns + SPARE_DELAY_NS;
		if (alive(g) && g->stop_requested && g->stop_deadline_ns < d)
			d = g->stop_deadline_ns > now ? g->stop_deadline_ns : now;
	}
	return d;
}

static void loop_once(act_node_t *n)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;
	unsigned head, count = 0;
	struct act__part *p0 = act__shm_part(&n->shm, 0);
	uint64_t now = act__now_ns(), timeout_ns = next_deadline(n, now) - now;
	uint64_t reap_mask[ACT__READY_WORDS] = { 0 };

	if (!n->sigfd_armed) {
		arm_poll(n, n->sigfd, EV_SIGNAL, 0);
		n->sigfd_armed = true;
	}
	if (!n->efd_armed) {
		arm_poll(n, n->efd[0], EV_DOORBELL, 0);
		n->efd_armed = true;
	}
	for (uint32_t i = 0; i < n->reg.n_groups; i++) {
		if (n->gs[i].pidfd >= 0 && !n->gs[i].pidfd_armed) {
			arm_poll(n, n->gs[i].pidfd, EV_PIDFD, i);
			n->gs[i].pidfd_armed = true;
		}
		if (n->gs[i].spare_pidfd >= 0 && !n->gs[i].spare_armed) {
			arm_poll(n, n->gs[i].spare_pidfd, EV_PIDFD, i | SPARE_BIT);
			n->gs[i].spare_armed = true;
		}
	}
	if (n->ctl)
		act__ctl_arm(n->ctl);
	if (n->gw) {
		act__gw_arm(n->gw);
		/* Work held back by backpressure is retried soon, not at the tick. */
		if ((act__gw_busy(n->gw) || n->out_blocked) && timeout_ns > 1000000u)
			timeout_ns = 1000000u;
		if (act__gw_more(n->gw))
			timeout_ns = 0;
	}

	if (!act__doorbell_prepare_sleep(p0))
		timeout_ns = 0;
	ts.tv_sec = (long long)(timeout_ns / 1000000000u);
	ts.tv_nsec = (long long)(timeout_ns % 1000000000u);
	io_uring_submit_and_wait_timeout(&n->uring, &cqe, 1, &ts, NULL);
	act__doorbell_awake(p0);

	io_uring_for_each_cqe(&n->uring, head, cqe) {
		uint64_t d = io_uring_cqe_get_data64(cqe);
		uint32_t ev = (uint32_t)(d >> 32), idx = (uint32_t)d;
		count++;
		switch (ev) {
		case EV_SIGNAL: {
			struct signalfd_siginfo si;
			n->sigfd_armed = false;
			while (read(n->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
				if (si.ssi_signo == SIGCHLD)
					reap_strays(n, reap_mask);
				else
					act__node_stop(n, ACT_EXIT_OK, si.ssi_signo == SIGINT ? "SIGINT received" :
					               si.ssi_signo == SIGHUP ? "SIGHUP received" :
					               "SIGTERM received");
			}
			break;
		}
		case EV_DOORBELL:
			n->efd_armed = false;
			act__doorbell_drain(n->efd[0]);
			break;
		case EV_PIDFD:
			/* Reaped after the rings are drained, so that a READY or a
			 * dead letter sent just before the death is seen first. */
			if (idx & SPARE_BIT) {
				/* A standby's poll may fire after it was promoted: then
				 * its pidfd is the group's and the group path handles it. */
				idx &= ~SPARE_BIT;
				if (idx < n->reg.n_groups && n->gs[idx].spare_pidfd >= 0)
					reap_spare(n, idx);
				else if (idx < n->reg.n_groups && n->gs[idx].pidfd >= 0) {
					n->gs[idx].pidfd_armed = false;
					reap_mask[idx / 64] |= 1ull << (idx % 64);
				}
			} else if (idx < n->reg.n_groups) {
				n->gs[idx].pidfd_armed = false;
				reap_mask[idx / 64] |= 1ull << (idx % 64);
			}
			break;
		case EV_CTL:
			if (n->ctl)
				act__ctl_event(n->ctl, idx);
			break;
		case EV_GW:
			if (n->gw)
				act__gw_event(n->gw, idx);
			break;
		default:
			break;
		}
	}
	io_uring_cq_advance(&n->uring, count);
	drain_inbound(n);
	if (n->gw)
		act__gw_pump(n->gw); /* ZMQ_FD is edge-triggered: always look */
	bool reaped = false;
	for (uint32_t i = 0; i < n->reg.n_groups; i++)
		if (reap_mask[i / 64] & (1ull << (i % 64))) {
			reap_pidfd(n, i);
			reaped = true;
		}
	if (reaped)
		reap_strays(n, reap_mask);
	now = act__now_ns();
	check_heartbeats(n, now);
	check_stops(n, now);
	if (n->ctl)
		act__ctl_tick(n->ctl, now);
	if (n->stopping)
		run_stop_sequence(n);
	else {
		run_start_queue(n, now);
		maintain_spares(n, now);
	}
}

static int zygote_init_trampoline(void *arg)
{
	act_node_t *n = arg;
	return n->zygote_init ? n->zygote_init(n, n->zygote_arg) : 0;
}

static int setup(act_node_t *n, sigset_t *oldmask)
{
	struct act__part_spec *spec;
	uint32_t np = n->reg.n_groups + 1;
	struct act__worker_args tmpl;
	act_restart_type types[ACT__SUP_MAX_GROUPS];
	sigset_t mask;
	int err;

	if (n->reg.n_groups == 0) {
		act__err("node '%s' has no groups", n->name);
		return -EINVAL;
	}
	n->dir_hash = act__reg_freeze(&n->reg);
	spec = calloc(np, sizeof *spec);
	n->efd = malloc(np * sizeof *n->efd);
	n->gs = calloc(n->reg.n_groups, sizeof *n->gs);
	n->in = calloc(np, sizeof *n->in);
	n->out = calloc(np, sizeof *n->out);
	if (!spec || !n->efd || !n->gs || !n->in || !n->out) {
		free(spec);
		return -ENOMEM;
	}
	/* The supervisor's own rings carry control records, dead letters and
	 * JSON envelopes for the outside. */
	spec[0].name = "supervisor";
	spec[0].ring_bytes = 1024u * 1024u;
	spec[0].max_msg = 256u * 1024u;
	spec[0].max_redeliveries = 1;
	for (uint32_t i = 0; i < n->reg.n_groups; i++) {
		const struct act__group_def *g = &n->reg.groups[i];
		spec[i + 1].name = g->name;
		spec[i + 1].ring_bytes = g->ring_bytes;
		spec[i + 1].max_msg = g->max_msg;
		spec[i + 1].spin_us = g->spin_us;
		spec[i + 1].max_redeliveries = g->max_redeliveries;
		spec[i + 1].n_actors = g->n_actors;
		n->gs[i].pidfd = -1;
		n->gs[i].spare_pidfd = -1;
		n->gs[i].last_exit = -1;
		types[i] = (act_restart_type)g->restart;
	}
	act__sup_init(&n->sup, &n->pol, n->reg.n_groups, types);
	for (uint32_t i = 0; i < np; i++)
		n->efd[i] = -1;
	n->standby_efd = malloc(n->reg.n_groups * sizeof *n->standby_efd);
	if (!n->standby_efd)
		return -ENOMEM;
	for (uint32_t i = 0; i < n->reg.n_groups; i++)
		n->standby_efd[i] = -1;
	for (uint32_t i = 0; i < n->reg.n_groups; i++)
		/* Blocking on purpose: a standby sleeps in read() until woken. */
		if ((n->standby_efd[i] = eventfd(0, EFD_CLOEXEC)) < 0)
			return -errno;
	err = act__shm_create(&n->shm, spec, np, n->reg.n_actors, n->reg.n_types, n->dir_hash);
	free(spec);
	if (err) {
		act__err("cannot create the shared-memory region: %s", act_strerror(err));
		return err;
	}
	/* Resolve every ring once, validated, while the region is known good:
	 * status and crash records must not follow the region's tables later. */
	n->rings = calloc((size_t)np * np, sizeof *n->rings);
	if (!n->rings)
		return -ENOMEM;
	for (uint32_t f = 0; f < np; f++)
		for (uint32_t t = 0; t < np; t++) {
			act__ring_h h;
			if ((err = act__shm_ring(&n->shm, f, t, &h)))
				return err;
			n->rings[f * np + t] = h.r;
		}
	for (uint32_t i = 0; i < np; i++) {
		if ((n->efd[i] = act__doorbell_new(i == ACT__SUPERVISOR)) < 0)
			return n->efd[i];
		if ((err = act__shm_ring(&n->shm, i, 0, &n->in[i])) ||
		    (err = act__shm_ring(&n->shm, 0, i, &n->out[i])))
			return err;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return -errno;

	/* Block the signals we take through signalfd before forking the
	 * zygote; it and the workers reset their masks. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);  /* a closed terminal: stop cleanly, not abruptly */
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, oldmask);

	memset(&tmpl, 0, sizeof tmpl);
	tmpl.reg = &n->reg;
	tmpl.shm_fd = n->shm.fd;
	tmpl.directory_hash = n->dir_hash;
	tmpl.efd = n->efd;
	tmpl.standby_efd = n->standby_efd;
	tmpl.zygote_init = zygote_init_trampoline;
	tmpl.zygote_arg = n;
	if ((err = act__spawner_start(&n->sp, &tmpl)))
		return err;

	/* From here on nothing is inherited by workers (they come from the
	 * zygote): this is where sockets, threads and contexts may appear. */
	n->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (n->sigfd < 0)
		return -errno;
	if ((err = io_uring_queue_init(256, &n->uring, 0)) < 0) {
		act__err("io_uring unavailable: %s", act_strerror(err));
		return err;
	}
	n->uring_ok = true;
	n->dl = act__dl_open(n->state_dir, &err);
	if (!n->dl)
		return err;
	if (n->control_path) {
		n->ctl = act__ctl_new(n, n->control_path, &err);
		if (!n->ctl)
			return err;
	}
	if (n->endpoint) {
		struct act__gw_config cfg = {
			.endpoint = n->endpoint, .advertise = n->advertise, .limits = n->limits,
			.curve_secret = n->curve_secret, .curve_public = n->curve_public,
			.curve_allow = (const char (*)[41])n->curve_allow,
			.n_curve_allow = n->n_curve_allow, .all_remote = n->all_remote,
		};
		n->gw = act__gw_new(n, &cfg, &err);
		if (!n->gw)
			return err ? err : -EINVAL;
	}
	return 0;
}

static void teardown(act_node_t *n, const sigset_t *oldmask)
{
	uint32_t np = n->reg.n_groups + 1;

	act__ctl_free(n->ctl);
	n->ctl = NULL;
	act__gw_free(n->gw);
	n->gw = NULL;
	act__dl_close(n->dl);
	n->dl = NULL;
	for (uint32_t i = 0; i < n->reg.n_groups && n->gs; i++)
		kill_spare(n, i);
	act__spawner_stop(&n->sp);
	for (uint32_t i = 0; i < n->reg.n_groups && n->gs; i++)
		if (n->gs[i].pidfd >= 0)
			close(n->gs[i].pidfd);
	for (uint32_t i = 0; n->standby_efd && i < n->reg.n_groups; i++)
		if (n->standby_efd[i] >= 0)
			close(n->standby_efd[i]);
	free(n->standby_efd);
	n->standby_efd = NULL;
	if (n->uring_ok)
		io_uring_queue_exit(&n->uring);
	n->uring_ok = false;
	if (n->sigfd >= 0)
		close(n->sigfd);
	n->sigfd = -1;
	for (uint32_t i = 0; n->efd && i < np; i++)
		if (n->efd[i] >= 0)
			close(n->efd[i]);
	if (n->shm.base)
		act__shm_destroy(&n->shm);
	free(n->efd);
	free(n->gs);
	free(n->in);
	free(n->out);
	free(n->rings);
	n->rings = NULL;
	n->efd = NULL;
	n->gs = NULL;
	n->in = n->out = NULL;
	sigprocmask(SIG_SETMASK, oldmask, NULL);
}

/* Sends sd_notify-style state to $NOTIFY_SOCKET if systemd asked for it. */
static void sd_notify_(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t len;
	int fd;

	if (!path || !*path || (path[0] != '/' && path[0] != '@'))
		return;
	len = strlen(path);
	if (len >= sizeof sa.sun_path)
		return;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		act__debug("sd_notify failed: %s", strerror(errno));
	close(fd);
}

ACT_API int act_node_run(act_node_t *n)
{
	sigset_t oldmask;
	int announced = 0; /* 1 once READY=1 was sent, 2 once STOPPING=1 was */
	int err;

	if (!n || n->running)
		return -EINVAL;
	n->running = true;
	n->stopping = n->stop_done = false;
	n->sp.zygote = -1;
	n->sp.sock = -1;
	n->exit_code = ACT_EXIT_OK;
	n->started_ns = act__now_ns();
	sigprocmask(SIG_SETMASK, NULL, &oldmask);
	act__log_set_ident(n->name);
	if ((err = setup(n, &oldmask))) {
		teardown(n, &oldmask);
		n->running = false;
		return err;
	}

	for (uint32_t i = 0; i < n->reg.n_groups; i++)
		enqueue_start(n, i, 0);
	while (!n->stop_done) {
		loop_once(n);
		if (announced == 0 && !n->stopping && n->n_startq == 0) {
			bool all_ready = true, any_alive = false;
			for (uint32_t i = 0; i < n->reg.n_groups; i++) {
				if (n->gs[i].state == ACT__PS_STARTING)
					all_ready = false;
				any_alive |= alive(&n->gs[i]);
			}
			all_ready = all_ready && any_alive;
			if (all_ready) {
				announced = 1;
				act__info("node '%s' running with %u groups", n->name, n->reg.n_groups);
				sd_notify_("READY=1");
			}
		}
		if (!n->stopping) {
			/* Nothing left to supervise: every group is done or failed. */
			bool any = n->n_startq > 0;
			bool failed = false;
			for (uint32_t i = 0; i < n->reg.n_groups; i++) {
				any |= alive(&n->gs[i]);
				failed |= n->gs[i].failed;
			}
			if (!any)
				act__node_stop(n, failed ? ACT_EXIT_PERMANENT : ACT_EXIT_OK,
				               "no group left to run");
		}
		if (n->stopping && announced == 1) {
			sd_notify_("STOPPING=1");
			announced = 2; /* once */
		}
	}
	act__info("node '%s' stopped (exit %d)", n->name, n->exit_code);
	if (act__node_inspect_hook)
		act__node_inspect_hook(n);
	teardown(n, &oldmask);
	n->running = false;
	return n->exit_code;
}
