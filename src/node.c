/*
 * node.c - the embedded node: declare groups and actors, then
 * act_node_run() becomes the supervisor.
 *
 * The supervisor owns the region, the doorbells and the zygote; it starts
 * groups in declared order (each must report READY before the next one
 * starts), restarts a group whose worker died (its rings, and every
 * envelope in them, survive), and on SIGINT/SIGTERM or act_shutdown()
 * stops the groups in reverse order: a STOP record, then SIGTERM, then
 * SIGKILL.  It never runs user code.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <actors.h>

#include "clock.h"
#include "doorbell.h"
#include "log.h"
#include "node.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

enum { EV_SIGNAL = 1, EV_DOORBELL, EV_PIDFD };

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
	n->max_restarts = 1;
	n->period_ms = 5000;
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
	if (period_ms == 0)
		return -EINVAL;
	n->max_restarts = max_restarts;
	n->period_ms = period_ms;
	return 0;
}

/* ---- supervisor: plumbing ----------------------------------------------------- */

static void arm_poll(act_node_t *n, int fd, uint32_t ev, uint32_t idx)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&n->uring);
	if (!sqe) {
		io_uring_submit(&n->uring);
		sqe = io_uring_get_sqe(&n->uring);
		if (!sqe)
			return;
	}
	io_uring_prep_poll_add(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, ((uint64_t)ev << 32) | idx);
}

static const char *state_name(enum act__part_state s)
{
	static const char *names[] = { "down", "starting", "ready", "draining",
	                               "stopping", "dead", "backoff" };
	return (unsigned)s < sizeof names / sizeof *names ? names[s] : "?";
}

static void set_state(act_node_t *n, uint32_t gi, enum act__part_state s)
{
	struct act__gstate *g = &n->gs[gi];
	act__debug("group '%s': %s -> %s", n->reg.groups[gi].name, state_name(g->state),
	           state_name(s));
	g->state = s;
	atomic_store_explicit(&act__shm_part(&n->shm, gi + 1)->state, s, memory_order_relaxed);
}

static int spawn_group(act_node_t *n, uint32_t gi)
{
	struct act__gstate *g = &n->gs[gi];
	struct act__part *p = act__shm_part(&n->shm, gi + 1);
	act_start st = { g->n_restarts > 0, (int32_t)g->n_restarts, g->last_signal, g->last_exit };
	int err;

	atomic_store_explicit(&p->sleeping, 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->generation, 1, memory_order_relaxed);
	err = act__spawner_spawn(&n->sp, gi + 1, &st, &g->pid, &g->pidfd);
	if (err) {
		act__err("group '%s': cannot start a worker: %s", n->reg.groups[gi].name,
		         act_strerror(err));
		return err;
	}
	g->started_ns = act__now_ns();
	g->pidfd_armed = false;
	set_state(n, gi, ACT__PS_STARTING);
	act__info("group '%s' started (pid %d%s)", n->reg.groups[gi].name, (int)g->pid,
	          g->n_restarts ? ", restart" : "");
	return 0;
}

/* Sends a control record to group participant `to`.  0 or ACT_EFULL. */
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

/* Describes how a worker died, e.g. "killed by signal 9 (Killed)". */
static void death_text(const struct act__gstate *g, char *buf, size_t cap)
{
	if (g->last_signal)
		snprintf(buf, cap, "killed by signal %d (%s)%s", g->last_signal,
		         strsignal(g->last_signal), g->last_core ? ", core dumped" : "");
	else
		snprintf(buf, cap, "exited with code %d", g->last_exit);
}

static void begin_stop(act_node_t *n, int code, const char *why)
{
	if (n->stopping)
		return;
	act__info("node '%s' stopping: %s", n->name, why);
	n->stopping = true;
	n->exit_code = code;
}

/* A restart is allowed unless it is the (max_restarts+1)th within period. */
static bool intensity_ok(act_node_t *n)
{
	uint64_t now = act__now_ns(), horizon = (uint64_t)n->period_ms * 1000000u;
	uint32_t k = 0;

	for (uint32_t i = 0; i < n->n_restarts_ns; i++)
		if (now - n->restarts_ns[i] <= horizon)
			n->restarts_ns[k++] = n->restarts_ns[i];
	n->n_restarts_ns = k;
	if (k >= n->max_restarts)
		return false;
	n->restarts_ns[n->n_restarts_ns++] = now;
	return true;
}

static void on_death(act_node_t *n, uint32_t gi, const siginfo_t *si)
{
	struct act__gstate *g = &n->gs[gi];
	const struct act__group_def *gd = &n->reg.groups[gi];
	struct act__part *p = act__shm_part(&n->shm, gi + 1);
	uint32_t htype = atomic_load_explicit(&p->handling_type, memory_order_relaxed);
	uint32_t hfrom = atomic_load_explicit(&p->handling_from, memory_order_relaxed);
	char why[128], doing[160] = "";

	g->last_signal = si->si_code == CLD_EXITED ? 0 : si->si_status;
	g->last_exit = si->si_code == CLD_EXITED ? si->si_status : -1;
	g->last_core = si->si_code == CLD_DUMPED;
	close(g->pidfd);
	g->pidfd = -1;
	g->pid = 0;
	death_text(g, why, sizeof why);
	if (htype && htype <= n->reg.n_types)
		snprintf(doing, sizeof doing, " while handling %s from %s",
		         n->reg.types[htype]->name,
		         hfrom && hfrom <= n->reg.n_actors ? n->reg.actors[hfrom - 1].name : "nobody");
	atomic_store_explicit(&p->handling_type, 0, memory_order_relaxed);
	set_state(n, gi, ACT__PS_DEAD);

	if (n->stopping) {
		act__info("group '%s' %s", gd->name, why);
		return;
	}
	act__warn("group '%s' (worker) %s%s", gd->name, why, doing);
	if (g->last_exit == ACT_EXIT_PERMANENT) {
		act__err("group '%s' reported a permanent error: not restarted", gd->name);
		begin_stop(n, ACT_EXIT_PERMANENT, "a group failed permanently");
		return;
	}
	if (!intensity_ok(n)) {
		act__err("restart intensity exceeded (more than %u restarts in %u ms)",
		         n->max_restarts, n->period_ms);
		begin_stop(n, ACT_EXIT_INTENSITY, "restart intensity exceeded");
		return;
	}
	g->n_restarts++;
	if (spawn_group(n, gi))
		begin_stop(n, ACT_EXIT_TEMPORARY, "cannot restart a group");
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
		return; /* spurious; re-armed by the loop */
	on_death(n, gi, &si);
}

/* Reaps children that are not workers (orphans re-parented to us). */
static void reap_strays(act_node_t *n)
{
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
			return;
		bool ours = false;
		for (uint32_t i = 0; i < n->reg.n_groups; i++)
			if (n->gs[i].pid == si.si_pid) {
				reap_pidfd(n, i);
				ours = true;
			}
		if (ours)
			continue;
		waitpid(si.si_pid, NULL, WNOHANG);
		if (si.si_pid == n->sp.zygote) {
			n->sp.zygote = -1;
			act__err("the zygote died; no worker can be started any more");
			begin_stop(n, ACT_EXIT_TEMPORARY, "zygote died");
		}
	}
}

static void handle_sup_record(act_node_t *n, uint32_t from, const struct act__rec *rec)
{
	const struct act__env *e = (const struct act__env *)rec;

	if (rec->kind != ACT__REC_CTRL || rec->len < sizeof *e) {
		/* Envelopes for remote actors land here once the gateway exists. */
		act__warn("envelope from group %u for the supervisor dropped (no gateway)", from);
		atomic_fetch_add_explicit(&act__shm_part(&n->shm, 0)->n_dead_letters, 1,
		                          memory_order_relaxed);
		return;
	}
	switch (e->type) {
	case ACT__CTRL_READY:
		if (from >= 1 && from <= n->reg.n_groups && n->gs[from - 1].state == ACT__PS_STARTING)
			set_state(n, from - 1, ACT__PS_READY);
		break;
	case ACT__CTRL_SHUTDOWN_NODE:
		begin_stop(n, ACT_EXIT_OK, "act_shutdown() called");
		break;
	case ACT__CTRL_DEAD_LETTER:
		atomic_fetch_add_explicit(&act__shm_part(&n->shm, 0)->n_dead_letters, 1,
		                          memory_order_relaxed);
		break;
	default:
		act__warn("unknown control record %u from group %u", e->type, from);
	}
}

static void drain_inbound(act_node_t *n)
{
	uint64_t bits[ACT__READY_WORDS];
	int err;

	act__doorbell_take(act__shm_part(&n->shm, 0), bits);
	/* The supervisor handles few records: scanning every ring is cheap
	 * and robust against a dead producer's stale ready bit. */
	for (uint32_t s = 1; s < n->shm.hdr->n_parts; s++) {
		const struct act__rec *rec;
		while ((rec = act__ring_peek(&n->in[s], &err))) {
			act__ring_begin(&n->in[s]);
			handle_sup_record(n, s, rec);
			act__ring_release(&n->in[s]);
		}
		if (err) {
			act__err("corrupt record from group %u: ring skipped", s);
			act__ring_skip_corrupt(&n->in[s]);
		}
	}
}

/* One round of the event loop; waits at most timeout_ns. */
static void loop_once(act_node_t *n, uint64_t timeout_ns)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;
	unsigned head, count = 0;
	struct act__part *p0 = act__shm_part(&n->shm, 0);

	if (!n->sigfd_armed) {
		arm_poll(n, n->sigfd, EV_SIGNAL, 0);
		n->sigfd_armed = true;
	}
	if (!n->efd_armed) {
		arm_poll(n, n->efd[0], EV_DOORBELL, 0);
		n->efd_armed = true;
	}
	for (uint32_t i = 0; i < n->reg.n_groups; i++)
		if (n->gs[i].pidfd >= 0 && !n->gs[i].pidfd_armed) {
			arm_poll(n, n->gs[i].pidfd, EV_PIDFD, i);
			n->gs[i].pidfd_armed = true;
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
					reap_strays(n);
				else
					begin_stop(n, ACT_EXIT_OK, si.ssi_signo == SIGINT ?
					           "SIGINT received" : "SIGTERM received");
			}
			break;
		}
		case EV_DOORBELL:
			n->efd_armed = false;
			act__doorbell_drain(n->efd[0]);
			break;
		case EV_PIDFD:
			if (idx < n->reg.n_groups) {
				n->gs[idx].pidfd_armed = false;
				reap_pidfd(n, idx);
			}
			break;
		default:
			break;
		}
	}
	io_uring_cq_advance(&n->uring, count);
	drain_inbound(n);
}

/* Stops group gi: STOP record, then SIGTERM, then SIGKILL.  Blocks. */
static void stop_group(act_node_t *n, uint32_t gi)
{
	struct act__gstate *g = &n->gs[gi];
	const struct act__group_def *gd = &n->reg.groups[gi];
	uint32_t waits[2] = { gd->shutdown_ms, 1000 };
	int sigs[2] = { SIGTERM, SIGKILL };

	if (g->pidfd < 0)
		return;
	set_state(n, gi, ACT__PS_STOPPING);
	if (gd->shutdown_ms == 0 || send_ctrl(n, gi + 1, ACT__CTRL_STOP))
		waits[0] = 0; /* brutal_kill, or a full ring: go straight to signals */
	for (int phase = 0; phase <= 2 && g->pidfd >= 0; phase++) {
		uint32_t wait_ms = phase < 2 ? waits[phase] : 5000;
		uint64_t deadline = act__now_ns() + (uint64_t)wait_ms * 1000000u;
		for (;;) {
			struct pollfd pfd = { g->pidfd, POLLIN, 0 };
			uint64_t now = act__now_ns();
			int ms = now >= deadline ? 0 : (int)((deadline - now) / 1000000u) + 1;
			if (poll(&pfd, 1, ms) > 0) {
				reap_pidfd(n, gi);
				break;
			}
			if (act__now_ns() >= deadline)
				break;
		}
		if (g->pidfd >= 0 && phase < 2) {
			act__warn("group '%s' did not stop in %u ms: sending %s", gd->name, wait_ms,
			          sigs[phase] == SIGTERM ? "SIGTERM" : "SIGKILL");
			kill(-g->pid, sigs[phase]); /* its whole process group */
			kill(g->pid, sigs[phase]);
		}
	}
	/* Keep consuming control records so the last READY/DEAD_LETTERs are seen. */
	drain_inbound(n);
}

static int setup(act_node_t *n, sigset_t *oldmask)
{
	struct act__part_spec *spec;
	uint32_t np = n->reg.n_groups + 1;
	struct act__worker_args tmpl;
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
	n->restarts_ns = calloc(n->max_restarts + 1, sizeof *n->restarts_ns);
	if (!spec || !n->efd || !n->gs || !n->in || !n->out || !n->restarts_ns) {
		free(spec);
		return -ENOMEM;
	}
	spec[0].name = "supervisor";
	spec[0].ring_bytes = 64u * 1024u;
	spec[0].max_msg = 16u * 1024u;
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
		n->gs[i].last_exit = -1;
	}
	for (uint32_t i = 0; i < np; i++)
		n->efd[i] = -1;
	err = act__shm_create(&n->shm, spec, np, n->reg.n_actors, n->reg.n_types, n->dir_hash);
	free(spec);
	if (err) {
		act__err("cannot create the shared-memory region: %s", act_strerror(err));
		return err;
	}
	for (uint32_t i = 0; i < np; i++) {
		if ((n->efd[i] = act__doorbell_new()) < 0)
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
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, oldmask);

	memset(&tmpl, 0, sizeof tmpl);
	tmpl.reg = &n->reg;
	tmpl.shm_fd = n->shm.fd;
	tmpl.directory_hash = n->dir_hash;
	tmpl.efd = n->efd;
	if ((err = act__spawner_start(&n->sp, &tmpl)))
		return err;

	/* From here on nothing may be inherited by workers (they come from
	 * the zygote), so this is where sockets and contexts may appear. */
	n->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (n->sigfd < 0)
		return -errno;
	if ((err = io_uring_queue_init(64, &n->uring, 0)) < 0) {
		act__err("io_uring unavailable: %s", act_strerror(err));
		return err;
	}
	n->uring_ok = true;
	return 0;
}

static void teardown(act_node_t *n, const sigset_t *oldmask)
{
	uint32_t np = n->reg.n_groups + 1;

	act__spawner_stop(&n->sp);
	for (uint32_t i = 0; i < n->reg.n_groups && n->gs; i++)
		if (n->gs[i].pidfd >= 0)
			close(n->gs[i].pidfd);
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
	free(n->restarts_ns);
	n->efd = NULL;
	n->gs = NULL;
	n->in = n->out = NULL;
	n->restarts_ns = NULL;
	sigprocmask(SIG_SETMASK, oldmask, NULL);
}

ACT_API int act_node_run(act_node_t *n)
{
	sigset_t oldmask;
	int err;

	if (!n || n->running)
		return -EINVAL;
	n->running = true;
	n->sp.zygote = -1;
	n->sp.sock = -1;
	n->exit_code = ACT_EXIT_OK;
	sigprocmask(SIG_SETMASK, NULL, &oldmask);
	act__log_set_ident(n->name);
	if ((err = setup(n, &oldmask))) {
		teardown(n, &oldmask);
		n->running = false;
		return err;
	}

	/* Start in declared order; each group must be READY before the next. */
	for (uint32_t i = 0; i < n->reg.n_groups && !n->stopping; i++) {
		if (spawn_group(n, i)) {
			begin_stop(n, ACT_EXIT_TEMPORARY, "a group could not be started");
			break;
		}
		while (!n->stopping && n->gs[i].state == ACT__PS_STARTING)
			loop_once(n, 100000000u);
	}
	if (!n->stopping)
		act__info("node '%s' running with %u groups", n->name, n->reg.n_groups);
	while (!n->stopping)
		loop_once(n, 100000000u);

	for (uint32_t i = n->reg.n_groups; i-- > 0;)
		stop_group(n, i);
	act__info("node '%s' stopped (exit %d)", n->name, n->exit_code);
	if (act__node_inspect_hook)
		act__node_inspect_hook(n);
	teardown(n, &oldmask);
	n->running = false;
	return n->exit_code;
}
