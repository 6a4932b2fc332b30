/* SPDX-License-Identifier: MIT */
/*
 * loop.c - the supervisor's loop: one io_uring waits for signals, the
 * supervisor's doorbell, worker pidfds, the control socket and the
 * gateway; each turn drains the groups' records, reaps the dead and runs
 * the groups' deadlines.  Setup and teardown of what the loop runs on
 * (region, doorbells, zygote, sockets) live here too.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <actors.h>

#include "clock.h"
#include "control.h"
#include "deadletter.h"
#include "doorbell.h"
#include "gateway.h"
#include "group.h"
#include "httpd.h"
#include "log.h"
#include "loop.h"
#include "node.h"
#include "phase.h"
#include "pool.h"
#include "recover.h"
#include "regionguard.h"
#include "route.h"

#define SEND_POLL_NS 1000000u /* an actorsctl send waiting to be taken: 1 ms */

/* ---- plumbing ------------------------------------------------------------------ */

void act__loop_poll(struct act__loop *l, struct act__evh *h, int fd, unsigned events)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->uring);
	if (!sqe) {
		io_uring_submit(&l->uring);
		sqe = io_uring_get_sqe(&l->uring);
		if (!sqe)
			return;
	}
	io_uring_prep_poll_add(sqe, fd, events);
	io_uring_sqe_set_data(sqe, h);
}

/* ---- the loop's own handles -------------------------------------------------------- */

/* systemctl reload (or a closed terminal: a node must not stop because
 * its terminal went): what actorsctl reload does, when the node has a
 * reload (actorsd); the outcome is only logged. */
static void on_sighup(act_node_t *n)
{
	char err[512];

	if (!n->reload) {
		act__info("SIGHUP received: ignored (no reload here; stop with SIGTERM)");
		return;
	}
	act__info("SIGHUP received: reloading");
	if (n->reload(n, NULL, err, sizeof err))
		act__err("reload refused: %s", err);
}

static void on_signal(struct act__evh *h, int res)
{
	act_node_t *n = act__container_of(h, act_node_t, sig_h);
	struct signalfd_siginfo si;

	(void)res;
	n->sigfd_armed = false;
	while (read(n->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD)
			act__group_reap_strays(n);
		else if (si.ssi_signo == SIGUSR2)
			act__recover_request_upgrade(n); /* re-exec at the end of this turn */
		else if (si.ssi_signo == SIGHUP)
			on_sighup(n);
		else
			act__node_stop(n, ACT_EXIT_OK, si.ssi_signo == SIGINT ? "SIGINT received" :
			               "SIGTERM received");
	}
}

static void on_doorbell(struct act__evh *h, int res)
{
	act_node_t *n = act__container_of(h, act_node_t, bell_h);

	(void)res;
	n->efd_armed = false;
	act__doorbell_drain(n->efd[0]);
}

/* A worker's pidfd fired.  It is reaped after the rings are drained, so
 * that a READY or a dead letter sent just before the death is seen first. */
static void on_pidfd(struct act__evh *h, int res)
{
	struct act__gstate *g = act__container_of(h, struct act__gstate, pid_h);

	(void)res;
	act__phase(ACT__PH_PIDFD);
	g->pidfd_armed = false;
	g->reap_pending = true;
}

/* A dead worker's address-space holder is gone, its teardown done
 * (group.c, act__group_check_teardowns()): the group's next worker may run
 * its actors. */
static void on_hold_pidfd(struct act__evh *h, int res)
{
	struct act__gstate *g = act__container_of(h, struct act__gstate, hold_h);

	(void)res;
	g->hold_armed = false;
	act__group_hold_done(g->node, g->index);
}

/* A standby's pidfd fired.  Its poll may fire after it was promoted: then
 * its pidfd is the group's and the group path handles it. */
static void on_spare_pidfd(struct act__evh *h, int res)
{
	struct act__gstate *g = act__container_of(h, struct act__gstate, spare_h);

	(void)res;
	if (g->spare_pidfd >= 0) {
		act__group_reap_spare(g->node, g->index);
	} else if (g->pidfd >= 0) {
		g->pidfd_armed = false;
		g->reap_pending = true;
	}
}

/* ---- the loop ---------------------------------------------------------------------- */

/* Whether records wait in the supervisor's inbound rings: act__route_drain()
 * takes at most 1024 per ring and turn, and leaves the rest for the next
 * one, which the doorbell (already taken) will not ring for. */
static bool sup_rings_pending(act_node_t *n)
{
	for (uint32_t s = 1; s < n->reg.n_groups + 1; s++)
		if (n->in[s].r && !act__ring_is_quarantined(n->in[s].r) &&
		    act__ring_nonempty(&n->in[s]))
			return true;
	return false;
}

/* Whether a group left a record for us since we last took the doorbell
 * bits (or, for a node small enough that nobody sets bits, in any ring). */
static bool sup_bell_pending(act_node_t *n, const struct act__part *p0)
{
	if (p0->scan_all)
		return sup_rings_pending(n);
	for (unsigned i = 0; i < ACT__READY_WORDS; i++)
		if (atomic_load_explicit(&p0->ready[i], memory_order_relaxed))
			return true;
	return false;
}

/*
 * The gateway handed a spinning group a frame (a request from a peer, or
 * the reply to one of its asks): the group's answer (or its next ask)
 * usually follows within a few microseconds.  Sleeping on the doorbell
 * instead costs the worker an eventfd write and us a wake-up, tens of
 * microseconds on a VM whose idle CPU must be woken by an interrupt (issue
 * 13: remote_ask_rtt, gateway_remote_rtt).  So look for it first, for at
 * most ANSWER_SPIN_NS, then spin with sched_yield() (the worker and the
 * ZeroMQ I/O thread may share our CPU).  Our doorbell flag says "awake"
 * all along, so the worker skips its write.  Poll completions (a frame,
 * a signal) end the spin too: they were submitted first.
 */
#define ANSWER_SPIN_NS  30000u
#define ANSWER_PURE_NS  4000u
static bool answer_spin(act_node_t *n, const struct act__part *p0)
{
	uint64_t t0 = act__now_ns(), t = t0;

	io_uring_submit(&n->loop.uring);
	while (t - t0 < ANSWER_SPIN_NS) {
		for (unsigned k = 0; k < 64; k++) {
			if (sup_bell_pending(n, p0) || io_uring_cq_ready(&n->loop.uring))
				return true;
			act__cpu_relax();
		}
		t = act__now_ns();
		if (t - t0 >= ANSWER_PURE_NS)
			sched_yield();
	}
	return false;
}

void act__loop_once(act_node_t *n)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;
	unsigned head, count = 0;
	struct act__part *p0 = act__shm_part(&n->shm, 0);

	/* Groups that may start now start before we wait, not after: on the
	 * first pass (a fresh or adopting node) the wait would otherwise be a
	 * whole tick (50 ms) before the first group is forked. */
	if (!n->stopping)
		act__group_run_start_queue(n, act__now_ns());

	/* Anything the tick polls keeps it at 50 ms; else only deadlines wake us. */
	bool busy = (n->gw && act__gw_needs_tick(n->gw)) || n->out_blocked || act__ctl_busy(n->ctl) ||
	            act__httpd_busy(n->httpd) || (n->reload_busy && n->reload_busy(n)) ||
	            sup_rings_pending(n);
	uint64_t now = act__now_ns(), timeout_ns = act__group_next_deadline(n, now, busy) - now;

	if (!n->sigfd_armed) {
		act__loop_poll(&n->loop, &n->sig_h, n->sigfd, POLLIN);
		n->sigfd_armed = true;
	}
	if (!n->efd_armed) {
		act__loop_poll(&n->loop, &n->bell_h, n->efd[0], POLLIN);
		n->efd_armed = true;
	}
	for (uint32_t i = 0; i < n->reg.n_groups; i++) {
		struct act__gstate *g = &n->gs[i];
		if (g->pidfd >= 0 && !g->pidfd_armed) {
			act__loop_poll(&n->loop, &g->pid_h, g->pidfd, POLLIN);
			g->pidfd_armed = true;
		}
		if (g->spare_pidfd >= 0 && !g->spare_armed) {
			act__loop_poll(&n->loop, &g->spare_h, g->spare_pidfd, POLLIN);
			g->spare_armed = true;
		}
		if (g->n_holds && !g->hold_armed) {
			act__loop_poll(&n->loop, &g->hold_h, g->hold_fds[0], POLLIN);
			g->hold_armed = true;
		}
	}
	if (n->ctl) {
		act__ctl_arm(n->ctl);
		/* `actorsctl send` answers when the worker took the envelope:
		 * look every SEND_POLL_NS, not at the 50 ms tick. */
		if (act__ctl_waiting_send(n->ctl) && timeout_ns > SEND_POLL_NS)
			timeout_ns = SEND_POLL_NS;
	}
	act__httpd_arm(n->httpd);
	if (n->gw) {
		act__gw_arm(n->gw);
		/* Work held back by backpressure is retried soon, not at the tick. */
		if ((act__gw_busy(n->gw) || n->out_blocked) && timeout_ns > 1000000u)
			timeout_ns = 1000000u;
		if (act__gw_more(n->gw))
			timeout_ns = 0;
		/* Watched peers (peers.c): see their state changes in time. */
		if (act__gw_watching(n->gw) && timeout_ns > 50000000u)
			timeout_ns = 50000000u;
	}

	if (n->drain_more)
		timeout_ns = 0;
	/* Words to stop a removed group's actors' children wait for room:
	 * their groups drain, but do not tell us. */
	act__node_stop_children_retry(n, act__now_ns(), &timeout_ns);
	if (n->expect_answer && timeout_ns) {
		/* One-way traffic never answers: after each miss, skip twice
		 * as many chances to spin (up to 63), so a stream of
		 * one-way frames costs a spin per 64 batches at most. */
		if (n->answer_skip)
			n->answer_skip--;
		else if (answer_spin(n, p0)) {
			n->answer_misses = 0;
			timeout_ns = 0;
		} else {
			n->answer_misses += n->answer_misses < 6;
			n->answer_skip = (1u << n->answer_misses) - 1;
		}
	}
	n->expect_answer = false;
	/* Only a wait that may block advertises sleep (and counts as one). */
	if (timeout_ns && !act__doorbell_prepare_sleep(p0))
		timeout_ns = 0;
	ts.tv_sec = (long long)(timeout_ns / 1000000000u);
	ts.tv_nsec = (long long)(timeout_ns % 1000000000u);
	io_uring_submit_and_wait_timeout(&n->loop.uring, &cqe, 1, &ts, NULL);
	/* Before anything of this turn reads the region: a truncated region
	 * file is a logged stop here (exit 111), not a SIGBUS, and a worker
	 * that died of it is not restarted into the same death. */
	act__regionguard_check();
	act__doorbell_awake(p0);

	io_uring_for_each_cqe(&n->loop.uring, head, cqe) {
		struct act__evh *h = io_uring_cqe_get_data(cqe);
		count++;
		if (h)
			h->fn(h, cqe->res);
	}
	io_uring_cq_advance(&n->loop.uring, count);
	act__route_drain(n);
	if (n->gw)
		act__gw_pump(n->gw); /* ZMQ_FD is edge-triggered: always look */
	bool reaped = false;
	for (uint32_t i = 0; i < n->reg.n_groups; i++)
		if (n->gs[i].reap_pending) {
			n->gs[i].reap_pending = false;
			act__group_reap(n, i);
			reaped = true;
		}
	if (reaped)
		act__group_reap_strays(n);
	if (n->reload_tick)
		n->reload_tick(n);
	now = act__now_ns();
	act__group_check_heartbeats(n, now);
	act__group_check_stops(n, now);
	if (n->ctl)
		act__ctl_tick(n->ctl, now);
	act__httpd_tick(n->httpd, now);
	if (n->stopping)
		act__group_run_stop_sequence(n);
	else {
		act__group_run_start_queue(n, now);
		act__group_maintain_spares(n, now);
		act__group_maintain_prefork(n, now);
	}
	/* After the starts: the look overlaps the new workers' setup. */
	act__group_check_teardowns(n);
}

static int zygote_init_trampoline(void *arg)
{
	act_node_t *n = arg;
	int err = n->zygote_init ? n->zygote_init(n, n->zygote_arg) : 0;
	/* Types the modules declared at load time, after their explicit
	 * registrations: before the first worker is forked from here. */
	if (!err)
		act__reg_add_declared(&n->reg);
	return err;
}

int act__loop_setup(act_node_t *n, sigset_t *oldmask)
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
	/* Pools become their member groups before anything is sized by groups. */
	char why[160];
	if ((err = act__pool_expand(&n->reg, why, sizeof why))) {
		act__err("node '%s': %s", n->name, why);
		return err;
	}
	np = n->reg.n_groups + 1;
	n->dir_hash = act__reg_freeze(&n->reg);
	spec = calloc(np, sizeof *spec);
	n->efd = malloc(np * sizeof *n->efd);
	n->gs = calloc(n->reg.n_groups, sizeof *n->gs);
	n->marks = calloc((size_t)n->reg.n_groups * np, sizeof *n->marks);
	n->in = calloc(np, sizeof *n->in);
	n->out = calloc(np, sizeof *n->out);
	if (!spec || !n->efd || !n->gs || !n->marks || !n->in || !n->out) {
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
		spec[i + 1].name = g->tenant ? g->tenant : g->name;
		spec[i + 1].ring_bytes = g->ring_bytes;
		spec[i + 1].max_msg = g->max_msg;
		spec[i + 1].spin_us = g->spin_us;
		spec[i + 1].max_redeliveries = g->max_redeliveries;
		spec[i + 1].max_spawned = g->max_spawned;
		spec[i + 1].n_actors = g->n_actors;
		n->gs[i].node = n;
		n->gs[i].index = i;
		n->gs[i].pid_h.fn = on_pidfd;
		n->gs[i].spare_h.fn = on_spare_pidfd;
		n->gs[i].hold_h.fn = on_hold_pidfd;
		n->gs[i].check_hfd = -1;
		n->gs[i].pidfd = -1;
		n->gs[i].spare_pidfd = -1;
		n->gs[i].last_exit = -1;
		types[i] = (act_restart_type)g->restart;
	}
	act__sup_init(&n->sup, &n->pol, n->reg.n_groups, types);
	for (uint32_t i = 0; i < n->reg.n_groups; i++)
		n->sup.g[i].pool_member = n->reg.groups[i].pool_first != 0;
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
	/* actorsd adopts the region a previous supervisor left, or makes one
	 * that outlives this process (recover.c). */
	if (n->rec)
		err = act__recover_region(n, spec, np);
	else
		err = act__shm_create(&n->shm, spec, np, n->reg.n_actors, n->reg.n_types,
		                      n->dir_hash);
	free(spec);
	if (err == -EPROTO || err == -EBUSY) {
		return err; /* refused: recover.c said why */
	} else if (err) {
		act__err("cannot create the shared-memory region: %s", act_strerror(err));
		return err;
	}
	/* An adopted region's gates may have been closed by a supervisor that
	 * died or exec'd an upgrade before it opened them (group.c). */
	for (uint32_t i = 0; i < n->reg.n_groups; i++)
		act__group_adopt_gate(n, i);
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
	sigaddset(&mask, SIGHUP);  /* a reload (or ignored), not the default death */
	sigaddset(&mask, SIGCHLD);
	if (n->rec)
		sigaddset(&mask, SIGUSR2); /* actorsd: upgrade (recover.c) */
	sigprocmask(SIG_BLOCK, &mask, oldmask);

	memset(&tmpl, 0, sizeof tmpl);
	tmpl.reg = &n->reg;
	tmpl.shm_fd = n->shm.fd;
	tmpl.directory_hash = n->dir_hash;
	tmpl.efd = n->efd;
	tmpl.standby_efd = n->standby_efd;
	tmpl.zygote_init = zygote_init_trampoline;
	tmpl.zygote_arg = n;
	tmpl.worker_init = n->worker_init;
	tmpl.worker_init_arg = n->worker_init_arg;
	if ((err = act__spawner_start(&n->sp, &tmpl)))
		return err;

	/* From here on nothing is inherited by workers (they come from the
	 * zygote): this is where sockets, threads and contexts may appear. */
	n->sig_h.fn = on_signal;
	n->bell_h.fn = on_doorbell;
	n->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (n->sigfd < 0)
		return -errno;
	if ((err = io_uring_queue_init(256, &n->loop.uring, 0)) < 0) {
		act__err("io_uring unavailable: %s", act_strerror(err));
		return err;
	}
	n->loop.ok = true;
	n->dl = act__dl_open(n->state_dir, &err);
	if (!n->dl)
		return err;
	if (n->control_path) {
		n->ctl = act__ctl_new(n, n->control_path, &err);
		if (!n->ctl)
			return err;
	}
	if (n->metrics_endpoint) {
		n->httpd = act__httpd_new(n, n->metrics_endpoint, &err);
		if (!n->httpd)
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

/*
 * The holders of quick-reaping workers (src/worker.c) fall to us, the
 * subreaper, when their workers die, and wait for our SIGKILL (group.c,
 * act__group_check_teardowns(); a standby's or a prefork's waits in vain, for
 * HOLDER_WAIT_S), then tear down what their worker held: its memory, files
 * it mapped and their flock()s.  At the end of a node, kill them and wait
 * for them (at most HOLDERS_WAIT_MS, on a saturated machine; usually a few
 * ms), so that nothing of the node outlives it.  Only processes titled
 * actors-mmhold: a program that runs a node may have children of its own.
 */
#define HOLDERS_WAIT_MS 2000u
static void reap_holders(void)
{
	uint64_t until = act__now_ns() + HOLDERS_WAIT_MS * 1000000ull;
	char path[64];

	snprintf(path, sizeof path, "/proc/self/task/%ld/children", (long)syscall(SYS_gettid));
	for (;;) {
		bool any = false;
		long pid;
		FILE *f = fopen(path, "re");
		if (!f)
			return; /* no /proc: they go on their own */
		while (fscanf(f, "%ld", &pid) == 1) {
			char cp[64], comm[32] = "";
			snprintf(cp, sizeof cp, "/proc/%ld/comm", pid);
			FILE *c = fopen(cp, "re");
			if (c) {
				if (!fgets(comm, sizeof comm, c))
					comm[0] = '\0';
				fclose(c);
			}
			if (strncmp(comm, "actors-mmhold\n", 14) == 0) {
				any = true;
				kill((pid_t)pid, SIGKILL);
				waitpid((pid_t)pid, NULL, WNOHANG);
			}
		}
		fclose(f);
		if (!any)
			return;
		if (act__now_ns() >= until) {
			act__warn("address-space holders of quick-reaping workers still alive after "
			          "%u ms: not waited for", HOLDERS_WAIT_MS);
			return;
		}
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

void act__loop_teardown(act_node_t *n, const sigset_t *oldmask)
{
	uint32_t np = n->reg.n_groups + 1;

	act__ctl_free(n->ctl);
	n->ctl = NULL;
	act__httpd_free(n->httpd);
	n->httpd = NULL;
	act__gw_free(n->gw);
	n->gw = NULL;
	act__dl_close(n->dl);
	n->dl = NULL;
	for (uint32_t i = 0; i < n->reg.n_groups && n->gs; i++)
		act__group_kill_spare(n, i);
	act__spawner_stop(&n->sp);
	reap_holders();
	for (uint32_t i = 0; i < n->reg.n_groups && n->gs; i++)
		if (n->gs[i].pidfd >= 0)
			close(n->gs[i].pidfd);
	for (uint32_t i = 0; i < n->reg.n_groups && n->gs; i++)
		for (uint32_t k = 0; k < n->gs[i].n_holds; k++)
			close(n->gs[i].hold_fds[k]);
	for (uint32_t i = 0; i < n->reg.n_groups && n->gs; i++)
		if (n->gs[i].check_hfd >= 0)
			close(n->gs[i].check_hfd);
	for (uint32_t i = 0; n->standby_efd && i < n->reg.n_groups; i++)
		if (n->standby_efd[i] >= 0)
			close(n->standby_efd[i]);
	free(n->standby_efd);
	n->standby_efd = NULL;
	if (n->loop.ok)
		io_uring_queue_exit(&n->loop.uring);
	n->loop.ok = false;
	if (n->sigfd >= 0)
		close(n->sigfd);
	n->sigfd = -1;
	for (uint32_t i = 0; n->efd && i < np; i++)
		if (n->efd[i] >= 0)
			close(n->efd[i]);
	act__recover_teardown(n); /* destroys the region, or keeps it for the next start */
	free(n->efd);
	free(n->gs);
	free(n->marks);
	n->marks = NULL;
	free(n->in);
	free(n->out);
	free(n->rings);
	n->rings = NULL;
	n->efd = NULL;
	n->gs = NULL;
	n->in = n->out = NULL;
	sigprocmask(SIG_SETMASK, oldmask, NULL);
}
