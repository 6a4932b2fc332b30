/* SPDX-License-Identifier: MIT */
/*
 * node.c - the node object: declare groups and actors, then act_node_run()
 * (or actorsd) supervises them.
 *
 * The supervisor owns the region, the doorbells and the zygote; it starts
 * groups in declared order, learns of deaths through pidfds and of hangs
 * through heartbeats, and asks the restart engine (restart.c) what to do
 * (group.c); loop.c waits for the events.  A dead group's rings, and every
 * envelope in them, survive for its next instance.  On SIGINT/SIGTERM,
 * act_shutdown() or `actorsctl stop` the groups stop in reverse start
 * order.  The supervisor never runs user code.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <actors.h>

#include "clock.h"
#include "envelope.h"
#include "group.h"
#include "log.h"
#include "loop.h"
#include "metricsaddr.h"
#include "node.h"
#include "recover.h"
#include "topics.h"

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
	    act__reg_add_type(&n->reg, &act_reject_type) ||
	    act__reg_add_type(&n->reg, &act_down_type)) {
		act_node_free(n);
		return NULL;
	}
	return n;
}

ACT_API void act_node_free(act_node_t *n)
{
	if (!n)
		return;
	act__topics_forget(n);
	act__reg_fini(&n->reg);
	act__recover_free(n);
	free(n->stop_wait);
	free(n->endpoint);
	free(n->advertise);
	free(n->curve_secret);
	free(n->curve_public);
	free(n->curve_allow);
	free(n->state_dir);
	free(n->control_path);
	free(n->metrics_endpoint);
	free(n->name);
	free(n);
}

ACT_API int act_node_add_type(act_node_t *n, const act_type *t)
{
	return act__reg_add_type(&n->reg, t);
}

ACT_API int act_node_add_behaviour(act_node_t *n, const act_behaviour *b)
{
	if (!n)
		return -EINVAL;
	if (n->running)
		return -EBUSY;
	return act__reg_add_behaviour(&n->reg, b);
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

static int set_string(char **dst, const char *v);

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

ACT_API int act_node_set_quick_reap(act_node_t *n, const char *group, bool on)
{
	struct act__group_def *g = group_or_null(n, group);
	if (!g)
		return -ENOENT;
	g->quick_reap = on;
	return 0;
}

ACT_API int act_node_set_pool(act_node_t *n, const char *group, uint32_t members)
{
	struct act__group_def *g = n ? group_or_null(n, group) : NULL;
	if (!g)
		return -ENOENT;
	if (n->running || g->pool_first)
		return -EBUSY;
	if (members < 1 || members > ACT_POOL_MAX)
		return -EINVAL;
	/* "NAME#63" must still be a group name. */
	if (strlen(group) + 1 + (members > 10 ? 2 : 1) > ACT_NAME_MAX)
		return -ENAMETOOLONG;
	g->pool_n = members;
	return 0;
}

ACT_API int act_node_set_pool_routing(act_node_t *n, const char *group,
                                      act_pool_routing routing, const char *key)
{
	struct act__group_def *g = n ? group_or_null(n, group) : NULL;
	if (!g)
		return -ENOENT;
	if (n->running || g->pool_first)
		return -EBUSY;
	if ((unsigned)routing > ACT_POOL_KEY_HASH ||
	    (routing == ACT_POOL_KEY_HASH) != (key != NULL) || (key && !act__name_ok(key)))
		return -EINVAL;
	int err = set_string(&g->pool_key, key);
	if (!err)
		g->pool_routing = (uint32_t)routing;
	return err;
}

ACT_API int act_node_set_max_spawned(act_node_t *n, const char *group, uint32_t n_slots)
{
	struct act__group_def *g = group_or_null(n, group);
	if (!g)
		return -ENOENT;
	if (n_slots < 1 || n_slots > ACT__DYN_SLOTS_MAX)
		return -EINVAL;
	g->max_spawned = n_slots;
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

ACT_API int act_node_set_metrics_endpoint(act_node_t *n, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char why[128];

	if (addr && act__httpd_parse_addr(addr, &ss, &len, why, sizeof why))
		return -EINVAL;
	return set_string(&n->metrics_endpoint, addr);
}

int act__node_group_index(const struct act_node *n, const char *name)
{
	for (uint32_t i = 0; i < n->reg.n_groups; i++)
		if (!strcmp(n->reg.groups[i].name, name))
			return (int)i;
	return -ENOENT;
}


/* Sends sd_notify-style state to $NOTIFY_SOCKET if systemd asked for it.
 * A datagram to a local socket: it never blocks (MSG_DONTWAIT). */
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
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa,
	           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		act__debug("sd_notify failed: %s", strerror(errno));
	close(fd);
}

/*
 * The watchdog period systemd asked for ($WATCHDOG_USEC, for this process
 * if $WATCHDOG_PID names one), in ns; 0 if none.  We ping at half of it.
 */
static uint64_t watchdog_period_ns(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;
	unsigned long long v;

	if (!us || !*us)
		return 0;
	if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	errno = 0;
	v = strtoull(us, &end, 10);
	if (errno || *end || v == 0 || v > UINT64_MAX / 1000u)
		return 0;
	return (uint64_t)v * 1000u;
}

/* Where the node stands, for STATUS=: "3/3 groups up, 2 restarts; db in backoff". */
static void status_line(const struct act_node *n, char *buf, size_t cap)
{
	uint32_t up = 0;
	size_t len;

	uint32_t shown = 0;
	for (uint32_t i = 0; i < n->reg.n_groups; i++) {
		up += n->gs[i].state == ACT__G_READY;
		shown += n->gs[i].state != ACT__G_REMOVED; /* spares, removed groups */
	}
	len = (size_t)snprintf(buf, cap, "STATUS=%s%u/%u groups up, %u restarts",
	                       n->stopping ? "stopping: " : "", up, shown,
	                       n->n_restarts_total);
	for (uint32_t i = 0; i < n->reg.n_groups && len < cap; i++) {
		enum act__gphase s = n->gs[i].state;
		if (s == ACT__G_READY || s == ACT__G_DONE || s == ACT__G_REMOVED)
			continue;
		len += (size_t)snprintf(buf + len, cap - len, "; %s %s", n->reg.groups[i].name,
		                        act__node_group_state(n, i));
	}
}

/* What STATUS= is made of, to build the line only when it may differ:
 * the loop turns once per batch of messages, the states rarely change. */
struct status_seen {
	const char *shown[ACT__SUP_MAX_GROUPS]; /* names from group.c's table */
	uint8_t state[ACT__SUP_MAX_GROUPS];
	uint32_t n_restarts;
	bool stopping;
};

static bool status_changed(const struct act_node *n, struct status_seen *s)
{
	bool changed = s->n_restarts != n->n_restarts_total || s->stopping != n->stopping;

	s->n_restarts = n->n_restarts_total;
	s->stopping = n->stopping;
	for (uint32_t i = 0; i < n->reg.n_groups && i < ACT__SUP_MAX_GROUPS; i++) {
		const char *shown = act__node_group_state(n, i);
		changed |= s->state[i] != (uint8_t)n->gs[i].state || s->shown[i] != shown;
		s->state[i] = (uint8_t)n->gs[i].state;
		s->shown[i] = shown;
	}
	return changed;
}

/* Sends STATUS= when the line differs from the last one sent (both
 * buffers are 512 bytes, act_node_run()'s). */
static void notify_status(const struct act_node *n, struct status_seen *seen, char *status,
                          char *last_status)
{
	if (!status_changed(n, seen))
		return;
	status_line(n, status, 512);
	if (strcmp(status, last_status)) {
		sd_notify_(status);
		memcpy(last_status, status, 512);
	}
}

/*
 * Readiness of the whole node: 1 when every group is up (READY, or done
 * for a group that was allowed to finish) and one still runs, -1 when a
 * group failed permanently before that (the node cannot become ready), 0
 * while groups are still starting or backing off.
 */
static int node_readiness(const struct act_node *n, uint32_t *failed)
{
	bool any_alive = false;

	if (n->n_startq > 0)
		return 0;
	for (uint32_t i = 0; i < n->reg.n_groups; i++) {
		enum act__gphase s = n->gs[i].state;
		/* Failed under the last supervisor, kept so (an adopted region):
		 * the node was running with it, and runs on. */
		if (s == ACT__G_FAILED && !n->gs[i].kept_gone) {
			*failed = i;
			return -1;
		}
		if (s == ACT__G_FAILED)
			continue;
		if (s != ACT__G_READY && s != ACT__G_DONE && s != ACT__G_REMOVED)
			return 0;
		any_alive |= act__group_alive(&n->gs[i]);
	}
	return any_alive ? 1 : 0;
}

ACT_API int act_node_run(act_node_t *n)
{
	sigset_t oldmask;
	int announced = 0; /* 1 once READY=1 was sent, 2 once STOPPING=1 was */
	char status[512], last_status[512] = "";
	struct status_seen seen = { .n_restarts = UINT32_MAX };
	uint64_t wd_ns, wd_next = 0;
	int err;

	if (!n || n->running)
		return -EINVAL;
	n->running = true;
	n->stopping = n->stop_done = false;
	n->bytes_left_at_stop = 0;
	n->sp.zygote = -1;
	n->sp.sock = -1;
	n->sp.prefork_wr = -1;
	n->sp.prefork = 0;
	n->sp.prefork_pidfd = -1;
	n->exit_code = ACT_EXIT_OK;
	n->started_ns = act__now_ns();
	sigprocmask(SIG_SETMASK, NULL, &oldmask);
	act__log_set_ident(n->name);
	act__log_set_node(n->name);
	if ((err = act__loop_setup(n, &oldmask))) {
		act__loop_teardown(n, &oldmask);
		n->running = false;
		return err;
	}
	/* The loop wakes at least every group tick (50 ms), well inside any
	 * watchdog period systemd accepts; the ping is sent at half of it. */
	wd_ns = watchdog_period_ns() / 2;
	if (wd_ns)
		act__info("systemd watchdog: pinging every %llu ms",
		          (unsigned long long)(wd_ns / 1000000u));

	act__recover_started(n); /* an adopted region's leftovers, the fd store */
	/* Groups done or failed under the last supervisor stay so (below),
	 * unless none was left running: that node stopped itself ("no group
	 * left to run"), and this start is the operator's word to try again. */
	bool keep_gone = false;
	for (uint32_t i = 0; i < n->reg.n_groups && act__recover_adopted(n); i++) {
		struct act__part *p = act__shm_part(&n->shm, i + 1);
		keep_gone |= !n->reg.groups[i].spare && !act__part_removed(p) &&
		             !atomic_load_explicit(&p->gone, memory_order_relaxed);
	}
	for (uint32_t i = 0; i < n->reg.n_groups; i++) {
		struct act__part *p = act__shm_part(&n->shm, i + 1);
		struct act__group_def *gd = &n->reg.groups[i];
		/* An adopted region says the last supervisor had this group done
		 * or failed: it stays so, its sends refused, until an operator
		 * restarts it (starting it would run, and fail on, what ended it:
		 * a failed group failing again before the node is ready would
		 * stop the whole node).  A new region runs every group. */
		uint32_t gone = atomic_load_explicit(&p->gone, memory_order_relaxed);
		if (gone && keep_gone && !act__part_removed(p) && !gd->spare) {
			bool failed = gone == ACT__GONE_FAILED;
			act__group_set_state(n, i, failed ? ACT__G_FAILED : ACT__G_DONE);
			act__sup_set_gone(&n->sup, i, failed);
			n->gs[i].kept_gone = true;
			act__warn("group '%s' was %s under the last supervisor: it stays so, its sends "
			          "refused, until `actorsctl restart %s`", gd->name,
			          failed ? "failed" : "done", gd->name);
			continue;
		}
		if (gone && act__recover_adopted(n) && !act__part_removed(p) && !gd->spare)
			act__info("group '%s' was %s under the last supervisor, as every group was: "
			          "it runs again", gd->name, gone == ACT__GONE_FAILED ? "failed" : "done");
		/* (No worker runs yet: release, as for `removed` below.) */
		atomic_store_explicit(&p->gone, 0, memory_order_release);
		if (gd->spare && gd->tenant && act__recover_adopted(n) && !act__part_removed(p)) {
			/* The adopted region says a reload of the last supervisor
			 * put this group here (actorsd.c found it, and the app
			 * file lists it): the participant is its again, with its
			 * rings and its spawn records (its declared actors come
			 * back from them, as after a crash); its worker loads its
			 * module (reload.c's table). */
			free(gd->name);
			gd->name = gd->tenant;
			gd->tenant = NULL;
			p->spin_us = gd->spin_us;
			p->max_redeliveries = gd->max_redeliveries;
			n->gs[i].spare_used = true;
			act__info("group '%s' was added by a reload of the last supervisor: it runs "
			          "again in its spare participant %u", gd->name, i + 1);
			act__group_enqueue(n, i, 0);
			continue;
		}
		if (gd->tenant) {
			/* Only when the region is adopted: a new one has none of its
			 * actors (nothing was queued for it either). */
			act__err("group '%s' is not restored: the region is a new one, not the one "
			         "that hosted it; a reload adds it", gd->tenant);
			free(gd->tenant);
			gd->tenant = NULL;
		}
		if (n->reg.groups[i].spare) {
			/* A spare waits for a reload to give it a group: removed
			 * until then (nothing can be sent to it, nothing starts it). */
			atomic_store_explicit(&p->removed, 1, memory_order_release);
			/* An adopted region's spare may carry the name of a group the
			 * last supervisor's reload put there and removed. */
			snprintf(p->name, sizeof p->name, "%s", n->reg.groups[i].name);
			act__sup_set_removed(&n->sup, i, true);
			act__group_set_state(n, i, ACT__G_REMOVED);
			continue;
		}
		/* An adopted region may say a reload of the last supervisor
		 * removed this group; the app file we started from lists it,
		 * and the file is what this node runs: it is back.  (Release:
		 * no worker runs yet; senders pair with it as in a reload.) */
		if (act__part_removed(p)) {
			act__warn("group '%s' was removed by a reload of the last supervisor; the app "
			          "file lists it, so it runs again", n->reg.groups[i].name);
			/* As if added back: without its spawned actors, also
			 * when that supervisor died before the removal's stop
			 * was over (their monitors ended with every worker). */
			act__node_stop_children_of(n, i);
			act__node_forget_spawned(n, i);
			atomic_store_explicit(&p->removed, 0, memory_order_release);
		}
		act__group_enqueue(n, i, 0);
	}
	/* The node as it starts (no group up yet): the first pass of the loop
	 * may already bring a group up. */
	notify_status(n, &seen, status, last_status);
	while (!n->stop_done) {
		act__loop_once(n);
		act__recover_poll(n); /* a requested upgrade execs from here */
		/* STATUS= first, so that READY=1 follows a status that says why. */
		notify_status(n, &seen, status, last_status);
		if (announced == 0 && !n->stopping) {
			uint32_t failed = 0;
			int r = node_readiness(n, &failed);
			if (r > 0) {
				announced = 1;
				act__info("node '%s' running with %u groups", n->name, n->reg.n_groups);
				sd_notify_("READY=1");
			} else if (r < 0) {
				/* Not ready and never will be: say so, and exit 100. */
				act__err("group '%s' failed permanently at start: node not ready",
				         n->reg.groups[failed].name);
				act__node_stop(n, ACT_EXIT_PERMANENT, "a group failed at start");
			}
		}
		if (!n->stopping) {
			/* Nothing left to supervise: every group is done or failed. */
			bool any = n->n_startq > 0;
			bool failed = false;
			for (uint32_t i = 0; i < n->reg.n_groups; i++) {
				any |= act__group_alive(&n->gs[i]);
				failed |= n->gs[i].state == ACT__G_FAILED;
			}
			if (!any)
				act__node_stop(n, failed ? ACT_EXIT_PERMANENT : ACT_EXIT_OK,
				               "no group left to run");
		}
		if (n->stopping && announced == 1) {
			sd_notify_("STOPPING=1");
			announced = 2; /* once */
		}
		if (wd_ns) {
			uint64_t now = act__now_ns();
			if (now >= wd_next) {
				sd_notify_("WATCHDOG=1");
				wd_next = now + wd_ns;
			}
			n->wake_by_ns = wd_next; /* an idle loop must still wake to ping */
		}
	}
	if (n->bytes_left_at_stop)
		act__warn("node '%s' stopped (exit %d) with %llu bytes of envelopes not handled",
		          n->name, n->exit_code, (unsigned long long)n->bytes_left_at_stop);
	else
		act__info("node '%s' stopped (exit %d)", n->name, n->exit_code);
	if (act__node_inspect_hook)
		act__node_inspect_hook(n);
	act__loop_teardown(n, &oldmask);
	n->running = false;
	return n->exit_code;
}
