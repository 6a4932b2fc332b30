/* SPDX-License-Identifier: MIT */
/*
 * reload.c - actorsctl reload and SIGHUP: re-read the app file, check it
 * exactly as actorsd --check does, and apply the difference to the running
 * node without losing an envelope.
 *
 * What a reload may change, and how (the rules are in actorsd(8), RELOAD):
 *  - a group whose module file content (path and a hash of its bytes),
 *    settings (restart, heartbeat, shutdown, spin, redeliveries, hot
 *    standby) or actors' behaviours and args changed is restarted on its
 *    own rings with the new code, one group at a time: the next is asked
 *    to stop only after the previous one said READY again.  Envelopes for
 *    it wait in its rings meanwhile (senders see ACT_EFULL while one is
 *    full, as always); the old worker stops after the handler it is in,
 *    without draining, so the new code handles the rest.
 *  - the restart policy (strategy, max_restarts, period_ms, backoff) and
 *    module_timeout_ms are applied at once;
 *  - a group the node started with that is no longer in the file is
 *    removed (act__node_remove_group()): senders are refused from then on
 *    with ACT_ESTOPPED, its worker handles what is queued for it, runs its
 *    actors' Shutdown and stops, and nothing restarts it.  Its participant
 *    keeps its place in the region, so a later reload whose file lists it
 *    again adds it back (act__node_add_group()), with new code or settings
 *    if they changed.  Groups are matched by name;
 *  - a group the node does not have goes into a spare participant (the
 *    app file's spare_groups: registry groups "~spare-N" with no actors,
 *    removed from the start, that status does not show): the participant
 *    takes the group's name (our registry, its part header, and the table
 *    below, from which its forked worker renames its own registry copy),
 *    and the group's declared actors are spawned into it, named and
 *    permanent, so every group finds them by name.  Removing it frees
 *    their records (group.c), and the participant can take another group.
 *    Removals go first, then groups added back, then new groups (each
 *    waits for its READY), then restarts;
 *  - everything else that shapes the shared region or the network side
 *    (more new groups than free spares, the order of the groups, static
 *    actors, ring sizes, max_msg_bytes, max_spawned, pools, spare_groups,
 *    remote, node, state_dir, control_socket, endpoints, peers, limits,
 *    curve) needs a node restart: such a reload is refused as a whole,
 *    naming the first difference, and changes nothing.
 *
 * New code in a worker: every worker is a fork of the zygote, which loaded
 * the modules at startup and keeps them.  A changed module is copied to
 * STATE_DIR/reload/GROUP-HASH.so (a new name per content: dlopen() would
 * return the module already mapped under the old name) and the app file
 * to STATE_DIR/reload/app-N.json; their names are in a table shared with
 * the zygote and every worker (MAP_SHARED, made before the zygote forked).
 * A freshly forked worker of a reloaded group (worker_init(), before the
 * group starts) loads the copy, binds its actors to the new behaviours and
 * takes the new settings, on its own copy of the registry.
 *
 * State handoff: the same table carries one flag per group that the
 * supervisor sets before it sends STOP; the old worker then exports every
 * actor's state into STATE_DIR/reload/GROUP.handoff and the new one
 * imports it before any envelope (src/handoff.c).
 *
 * A reload is a small state machine driven by the loop (tick(), every
 * pass): checking (actorsd --check runs as a separate process, its output
 * watched through the loop, so the node keeps serving) -> stepping through
 * the groups to remove, add and restart (enum step) -> idle.  The waiting actorsctl gets its answer
 * at the end.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "appfile.h"
#include "clock.h"
#include "control.h"
#include "group.h"
#include "handoff.h"
#include "log.h"
#include "modload.h"
#include "node.h"
#include "reload.h"
#include "route.h"
#include "sysdirs.h"

#define STEP_TIMEOUT_NS (60000000000ull) /* a group's new worker must be READY by then */

/* Shared with the zygote and every worker. */
struct tab_group {
	_Atomic uint32_t export_req; /* the next STOP asks for a handoff */
	_Atomic uint32_t gen;        /* 0: the zygote's code; else module/app below */
	char module[PATH_MAX];
	/* A spare participant's group, given by a reload ("" for the others:
	 * their registry names them).  Written before gen is raised. */
	char name[ACT_NAME_MAX + 1];
};

struct tab {
	char app[PATH_MAX];          /* the app file copy the reloaded groups follow */
	struct tab_group g[ACT__APP_MAX_GROUPS];
};

struct act__reloader {
	struct act_node *n;
	const struct act__app *boot;  /* as the node was declared: the layout */
	char *app_path;
	char *dir;                    /* STATE_DIR/reload */
	struct tab *tab;
	uint64_t applied[ACT__APP_MAX_GROUPS]; /* each group's signature, as running */
	bool by_node;                 /* applied[] is per node group (see node_indexed()) */
	uint32_t n_app_copies;
	/* the reload under way */
	bool active;
	bool checking;                /* actorsd --check runs */
	pid_t chk_pid;
	int chk_pidfd, chk_fd;        /* -1 when closed */
	struct act__evh chk_h;
	bool chk_armed, chk_eof;
	char chk_out[4096];
	size_t chk_len;
	uint64_t chk_deadline_ns;
	struct act__app next;
	int32_t nmap[ACT__APP_MAX_GROUPS];   /* boot group -> its index in next, -1: gone */
	uint64_t next_sig[ACT__APP_MAX_GROUPS];
	uint32_t queue[ACT__APP_MAX_GROUPS], n_queue, qi;
	uint8_t op[ACT__APP_MAX_GROUPS];     /* what queue[i] gets: enum step */
	bool stepping;                /* queue[qi] was asked to stop */
	pid_t old_pid;
	bool export_seen;             /* the old worker's exit was noted */
	uint64_t step_start_ns;
	char done[1024];              /* the groups reloaded so far, for the summary */
	uint32_t n_done, n_handoff_ok, n_handoff_failed;
	uint32_t n_removed, n_added;
};

/* What a step of a reload does to its group. */
enum step {
	STEP_RESTART = 0, /* new code or settings, on its rings */
	STEP_REMOVE,      /* drain, Shutdown, stop, stay removed */
	STEP_ADD,         /* a removed group starts again */
	STEP_NEW,         /* a group the node did not have, in a spare participant */
};

/* ---- signatures ------------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	return s ? fnv(h, s, strlen(s) + 1) : fnv(h, "\xff", 1);
}

/* Hash of a file's bytes; -errno if it cannot be read. */
static int file_hash(const char *path, uint64_t *out)
{
	unsigned char buf[65536];
	uint64_t h = 14695981039346656037ull;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	while ((r = read(fd, buf, sizeof buf)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;
			close(fd);
			return err;
		}
		h = fnv(h, buf, (size_t)r);
	}
	close(fd);
	*out = h;
	return 0;
}

/* Everything about group gi that a reload restart applies: its settings,
 * its actors' behaviours and args, and its module's content (hash mod). */
static uint64_t group_sig(const struct act__app_group *g, uint64_t mod)
{
	uint64_t h = 14695981039346656037ull;
	uint32_t v[9] = { (uint32_t)g->restart, g->spin_us, g->max_redeliveries, g->heartbeat_ms,
	                  g->heartbeat_timeout_ms, g->shutdown_ms, g->brutal_kill, g->hot_standby,
	                  g->quick_reap };

	h = fnv(h, v, sizeof v);
	h = fnv(h, &mod, sizeof mod);
	for (uint32_t i = 0; i < g->n_actors; i++) {
		h = fnv_str(h, g->actors[i].behaviour);
		h = fnv_str(h, g->actors[i].args_json);
	}
	return h;
}

/* ---- what a reload may not change -------------------------------------------------- */

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Index of the group called name in app, or -1. */
static int32_t app_group_index(const struct act__app *app, const char *name)
{
	for (uint32_t i = 0; i < app->n_groups; i++)
		if (!strcmp(app->groups[i].name, name))
			return (int32_t)i;
	return -1;
}

/*
 * The app file's name for node group gi (participant gi + 1): a pool's
 * members ("p#0", "p#1", ...) are the file's group "p", a spare is the
 * group a reload gave it (NULL while unused), any other group its own.
 * The node's groups and the file's are one for one only without pools:
 * a pool's members are inserted at its place.
 */
static const char *file_name(const struct act__reloader *r, uint32_t gi)
{
	const struct act__group_def *gd = &r->n->reg.groups[gi];
	if (gd->spare)
		return r->n->gs[gi].spare_used ? gd->name : NULL;
	return gd->pool_first ? gd->pool_name : gd->name;
}

/*
 * applied[] starts per group of the file (act__reload_arm() runs before
 * the node expands its pools); the first reload turns it into one entry
 * per node group, each member of a pool taking its pool's.
 */
static void node_indexed(struct act__reloader *r)
{
	uint64_t by_file[ACT__APP_MAX_GROUPS];
	uint32_t np = r->n->reg.n_groups < ACT__APP_MAX_GROUPS ? r->n->reg.n_groups :
	              ACT__APP_MAX_GROUPS;

	if (r->by_node)
		return;
	memcpy(by_file, r->applied, sizeof by_file);
	for (uint32_t gi = 0; gi < np; gi++) {
		const char *name = r->n->reg.groups[gi].spare ? NULL : file_name(r, gi);
		int32_t ai = name ? app_group_index(r->boot, name) : -1;
		if (ai >= 0)
			r->applied[gi] = by_file[ai];
	}
	r->by_node = true;
}

/* The first difference between the running layout a and the new file b
 * that only a node restart can apply, into why; false if there is none. */
static bool layout_changed(const struct act__app *a, const struct act__app *b, char *why,
                           size_t cap)
{
#define DIFF(cond, ...) do { if (cond) { snprintf(why, cap, __VA_ARGS__); return true; } } while (0)
	DIFF(!same_str(a->node, b->node), "$.node changed");
	DIFF(!same_str(a->state_dir, b->state_dir), "$.state_dir changed");
	DIFF(!same_str(a->control_socket, b->control_socket), "$.control_socket changed");
	DIFF(!same_str(a->endpoint, b->endpoint), "$.endpoint changed");
	DIFF(!same_str(a->advertise, b->advertise), "$.advertise changed");
	DIFF(!same_str(a->metrics_endpoint, b->metrics_endpoint), "$.metrics_endpoint changed");
	DIFF(memcmp(&a->limits, &b->limits, sizeof a->limits), "$.limits changed");
	DIFF(a->curve.enabled != b->curve.enabled ||
	     !same_str(a->curve.secret_key_file, b->curve.secret_key_file) ||
	     !same_str(a->curve.public_key_file, b->curve.public_key_file) ||
	     a->curve.n_allow != b->curve.n_allow ||
	     (a->curve.n_allow && memcmp(a->curve.allow, b->curve.allow,
	                                 a->curve.n_allow * sizeof *a->curve.allow)),
	     "$.curve changed");
	DIFF(a->spare_groups != b->spare_groups, "$.spare_groups changed");
	DIFF(a->n_peers != b->n_peers, "$.peers changed");
	for (uint32_t i = 0; i < a->n_peers; i++)
		DIFF(!same_str(a->peers[i].name, b->peers[i].name) ||
		     !same_str(a->peers[i].endpoint, b->peers[i].endpoint), "$.peers changed");
	/* Groups by name: one the node started with may be gone (a removal)
	 * or back (an addition); any other may not. */
	int32_t last = -1;
	for (uint32_t i = 0; i < a->n_groups; i++) {
		int32_t k = app_group_index(b, a->groups[i].name);
		DIFF(k < 0 && a->groups[i].pool_n, "group '%s' is gone, and it is a pool (removing "
		     "a pool)", a->groups[i].name);
	}
	for (uint32_t k = 0; k < b->n_groups; k++) {
		int32_t i = app_group_index(a, b->groups[k].name);
		if (i < 0)
			continue; /* new: a spare participant takes it (apply_checked()) */
		DIFF(i < last, "$.groups[%u] '%s' is now after '%s' (reordering groups: a group's "
		     "position is its participant index in the region)", k, b->groups[k].name,
		     a->groups[last].name);
		last = i;
	}
	for (uint32_t k = 0; k < b->n_groups; k++) {
		if (app_group_index(a, b->groups[k].name) < 0)
			continue;
		const struct act__app_group *x = &a->groups[app_group_index(a, b->groups[k].name)];
		const struct act__app_group *y = &b->groups[k];
		uint32_t i = k;
		DIFF(x->pool_n != y->pool_n, "$.groups[%u].pool changed", i);
		DIFF(x->ring_bytes != y->ring_bytes, "$.groups[%u].ring_bytes changed", i);
		DIFF(x->max_msg_bytes != y->max_msg_bytes, "$.groups[%u].max_msg_bytes changed", i);
		DIFF(x->max_spawned != y->max_spawned, "$.groups[%u].max_spawned changed", i);
		DIFF(x->n_actors != y->n_actors, "$.groups[%u].actors: %s static actors (static "
		     "actors have their slots in the region)", i,
		     y->n_actors > x->n_actors ? "added" : "removed");
		for (uint32_t k2 = 0; k2 < x->n_actors; k2++) {
			DIFF(strcmp(x->actors[k2].name, y->actors[k2].name),
			     "$.groups[%u].actors[%u] is '%s', was '%s' (static actors have their "
			     "slots in the region)", i, k2, y->actors[k2].name, x->actors[k2].name);
			DIFF(x->actors[k2].remote != y->actors[k2].remote,
			     "$.groups[%u].actors[%u].remote changed", i, k2);
		}
	}
	return false;
#undef DIFF
}

/* ---- the check ---------------------------------------------------------------------- */

/*
 * Starts this very binary as "actorsd --check APP" (a fresh process: the
 * modules' code never runs in the supervisor), its output into a pipe the
 * loop watches.  The verdict is read from that output, not from the exit
 * status: the loop reaps children it does not know (act__group_reap_strays)
 * and may take the checker's status first.  0, or -errno with why.
 */
static int start_check(struct act__reloader *r, char *why, size_t cap)
{
	char *argv[] = { (char *)"actorsd", (char *)"--check", r->app_path, NULL };
	int p[2], err;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		err = -errno;
		snprintf(why, cap, "cannot run the check: %s", strerror(-err));
		return err;
	}
	/* Only async-signal-safe calls between fork and exec: the supervisor
	 * has threads (ZeroMQ's). */
	pid = fork();
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	err = pid < 0 ? -errno : 0;
	close(p[1]);
	if (err) {
		close(p[0]);
		snprintf(why, cap, "cannot run the check (actorsd --check): %s", strerror(-err));
		return err;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	r->chk_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (r->chk_pidfd >= 0)
		fcntl(r->chk_pidfd, F_SETFD, FD_CLOEXEC);
	r->chk_pid = pid;
	r->chk_fd = p[0];
	r->chk_len = 0;
	r->chk_armed = false;
	r->chk_eof = false;
	r->chk_deadline_ns = act__now_ns() +
	                     ((uint64_t)r->next.module_timeout_ms + 5000u) * 1000000u;
	return 0;
}

/* Ends the checker: killed if it still runs (through its pidfd, so never
 * another process that took its pid), its pipe closed. */
static void end_check(struct act__reloader *r, bool kill_it)
{
	if (r->chk_pidfd >= 0) {
		if (kill_it)
			syscall(SYS_pidfd_send_signal, r->chk_pidfd, SIGKILL, NULL, 0);
		siginfo_t si;
		/* Reaped here unless the loop's stray reaper was first. */
		waitid((idtype_t)P_PIDFD, (id_t)r->chk_pidfd, &si, WEXITED | WNOHANG);
		close(r->chk_pidfd);
		r->chk_pidfd = -1;
	}
	if (r->chk_fd >= 0) {
		close(r->chk_fd);
		r->chk_fd = -1;
	}
	r->chk_pid = 0;
}

/* Reads what the checker wrote.  True at end of file (it is done). */
static bool read_check(struct act__reloader *r)
{
	for (;;) {
		char sink[4096];
		bool full = r->chk_len >= sizeof r->chk_out - 1;
		ssize_t n = full ? read(r->chk_fd, sink, sizeof sink)
		                 : read(r->chk_fd, r->chk_out + r->chk_len,
		                        sizeof r->chk_out - 1 - r->chk_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno != EAGAIN && errno != EWOULDBLOCK;
		if (n == 0)
			return true;
		if (!full)
			r->chk_len += (size_t)n;
	}
}

/* The checker's verdict from its output: 0 if it printed "APP: OK (...)",
 * else its first line (what is wrong) in why. */
static int check_verdict(struct act__reloader *r, char *why, size_t cap)
{
	char *out = r->chk_out, *line;

	out[r->chk_len] = '\0';
	for (line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		size_t l = strcspn(line, "\n");
		if (l > 5 && !strncmp(line, r->app_path, strlen(r->app_path)) &&
		    strstr(line, ": OK (") && (size_t)(strstr(line, ": OK (") - line) < l)
			return 0;
	}
	line = out;
	while (*line == '\n')
		line++;
	line[strcspn(line, "\n")] = '\0';
	const char *pre = "actorsd: ";
	if (!strncmp(line, pre, strlen(pre)))
		line += strlen(pre);
	if (*line)
		snprintf(why, cap, "%.900s", line);
	else
		snprintf(why, cap, "the check (actorsd --check) failed without a message");
	return -EINVAL;
}

/* ---- files -------------------------------------------------------------------------- */

static int copy_file(const char *from, const char *to)
{
	char buf[65536], tmp[PATH_MAX + 8];
	int in = open(from, O_RDONLY | O_CLOEXEC | O_NONBLOCK), out, err = 0;
	ssize_t r;

	if (in < 0)
		return -errno;
	snprintf(tmp, sizeof tmp, "%s.tmp", to);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		err = -errno;
		close(in);
		return err;
	}
	while ((r = read(in, buf, sizeof buf)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || write(out, buf, (size_t)r) != r) {
			err = -(errno ? errno : EIO);
			break;
		}
	}
	close(in);
	if (close(out) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, to) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static void handoff_path(const struct act__reloader *r, uint32_t gi, char *buf, size_t cap)
{
	const char *name = r->tab->g[gi].name[0] ? r->tab->g[gi].name : r->n->reg.groups[gi].name;
	snprintf(buf, cap, "%s/%s.handoff", r->dir, name);
}

/* ---- applying settings ------------------------------------------------------------------- */

/* Group gi's settings from g, into a registry (the supervisor's, or a
 * worker's own copy). */
static void set_group(struct act__registry *reg, uint32_t gi, const struct act__app_group *g)
{
	struct act__group_def *gd = &reg->groups[gi];
	act__app_group_settings(gd, g);
	for (uint32_t ai = 0; ai < g->n_actors; ai++) {
		int id = act__reg_find_actor(reg, g->actors[ai].name);
		/* Its own static actors: a spare participant's group has none
		 * (its declared actors are spawned). */
		if (id < 0 || reg->actors[id].group != gi + 1)
			continue;
		char *args = g->actors[ai].args_json ? strdup(g->actors[ai].args_json) : NULL;
		if (g->actors[ai].args_json && !args)
			continue; /* out of memory: the old args stay */
		free(reg->actors[id].args);
		reg->actors[id].args = args;
	}
}

static void apply_policy(struct act_node *n, const struct act__app *app)
{
	struct act__policy *ps[2] = { &n->pol, &n->sup.pol };
	for (int i = 0; i < 2; i++) {
		ps[i]->strategy = (act_strategy)app->strategy;
		ps[i]->max_restarts = app->max_restarts;
		ps[i]->period_ms = app->period_ms;
		ps[i]->backoff_initial_ms = app->backoff.initial_ms;
		ps[i]->backoff_factor = app->backoff.factor;
		ps[i]->backoff_max_ms = app->backoff.max_ms;
		ps[i]->backoff_reset_ms = app->backoff.reset_after_ms;
	}
	n->sp.init_timeout_ms = app->module_timeout_ms;
}

/* ---- in the worker ------------------------------------------------------------------------ */

/*
 * worker_init: runs in every freshly forked worker of the node.  Sets up
 * the state handoff, and for a group a reload gave new code, loads it and
 * binds the group's actors to it, with the settings of the app file copy.
 */
static int worker_init(struct act__registry *reg, uint32_t self, void *arg)
{
	struct act__reloader *r = arg;
	uint32_t gi = self - 1;
	char path[PATH_MAX + 64], err[512];
	struct act__app app;

	if (gi >= reg->n_groups || gi >= ACT__APP_MAX_GROUPS)
		return 0;
	handoff_path(r, gi, path, sizeof path);
	act__worker_set_handoff(path, &r->tab->g[gi].export_req);
	/* Acquire: pairs with the release store of gen in update_table(),
	 * after the names were written. */
	if (!atomic_load_explicit(&r->tab->g[gi].gen, memory_order_acquire))
		return 0;
	if (r->tab->g[gi].name[0] && strcmp(reg->groups[gi].name, r->tab->g[gi].name)) {
		/* A spare participant a reload gave this group: this process's
		 * registry takes its name (the zygote's copy does not know it). */
		char *name = strdup(r->tab->g[gi].name);
		if (!name)
			return ACT_EXIT_TEMPORARY;
		reg->groups[gi].name = name;
	}
	if (act__app_load(r->tab->app, &app, err, sizeof err)) {
		act__err("reload: cannot read the app file copy: %s", err);
		return ACT_EXIT_TEMPORARY;
	}
	const struct act__app_group *g = NULL;
	/* A pool's member runs its pool's group of the file. */
	const char *fname = reg->groups[gi].pool_first ? reg->groups[gi].pool_name :
	                    reg->groups[gi].name;
	for (uint32_t i = 0; i < app.n_groups; i++)
		if (!strcmp(app.groups[i].name, fname))
			g = &app.groups[i];
	struct act_module *m = g ? act__module_load(r->tab->g[gi].module, NULL, err, sizeof err)
	                         : NULL;
	if (!m) {
		act__err("reload: cannot load %s: %s", r->tab->g[gi].module,
		         g ? err : "the group is not in the app file copy");
		act__app_free(&app);
		return ACT_EXIT_TEMPORARY;
	}
	/* This process's registry only: unfreeze it for the new types. */
	reg->frozen = false;
	for (size_t t = 0; t < m->n_types; t++)
		act__reg_add_type(reg, m->types[t]);
	act__reg_add_declared(reg);
	for (size_t k = 0; k < m->n_b; k++) {
		const act_behaviour *b = m->b[k];
		bool replaced = false;
		for (uint32_t i = 0; i < reg->n_behaviours; i++)
			if (!strcmp(reg->behaviours[i]->name, b->name)) {
				reg->behaviours[i] = b; /* spawned actors re-created by name */
				replaced = true;
			}
		for (size_t h = 0; h < b->n_handlers; h++)
			act__reg_add_type(reg, b->handlers[h].type);
		if (!replaced)
			act__reg_add_behaviour(reg, b);
	}
	set_group(reg, gi, g);
	for (uint32_t ai = 0; ai < g->n_actors; ai++) {
		int id = act__reg_find_actor(reg, g->actors[ai].name);
		const act_behaviour *b = act__module_behaviour(m, g->actors[ai].behaviour);
		if (id >= 0 && b && reg->actors[id].group == gi + 1)
			reg->actors[id].b = b;
	}
	reg->frozen = true;
	act__app_free(&app);
	return 0;
}

/* ---- the rolling restart ------------------------------------------------------------------ */

static void finish(struct act__reloader *r, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void finish(struct act__reloader *r, bool ok, const char *fmt, ...)
{
	char text[1536];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (ok) {
		r->n->n_reloads++;
		act__info("reload done: %s", text);
	} else {
		r->n->n_reloads_failed++;
		act__err("reload stopped: %s", text);
	}
	if (r->n->reload_waiter) {
		act__ctl_reload_done(r->n->ctl, r->n->reload_waiter, ok, text);
		r->n->reload_waiter = NULL;
	}
	act__app_free(&r->next);
	r->active = false;
	r->stepping = false;
}

/* Points group gi at the new module copy (made by begin()) and settings. */
static void update_table(struct act__reloader *r, uint32_t gi, const char *module)
{
	char old[PATH_MAX];
	bool had = atomic_load_explicit(&r->tab->g[gi].gen, memory_order_relaxed) != 0;

	snprintf(old, sizeof old, "%s", r->tab->g[gi].module);
	snprintf(r->tab->g[gi].module, sizeof r->tab->g[gi].module, "%s", module);
	/* Release: a worker forked after this store sees the names above. */
	atomic_fetch_add_explicit(&r->tab->g[gi].gen, 1, memory_order_release);
	/* The copy the last reload made: no worker will load it again (the
	 * running one keeps its mapping). */
	if (had && strcmp(old, module))
		unlink(old);
}

/* Starts the next step of the queue, or finishes. */
static void next_step(struct act__reloader *r)
{
	struct act_node *n = r->n;

	while (r->qi < r->n_queue) {
		uint32_t gi = r->queue[r->qi];
		struct act__gstate *g = &n->gs[gi];
		char hp[PATH_MAX + 64];

		r->old_pid = g->pid;
		r->export_seen = true;
		r->step_start_ns = act__now_ns();
		if (r->op[r->qi] == STEP_REMOVE) {
			act__node_remove_group(n, gi);
			r->stepping = true;
			return; /* tick() waits for REMOVED */
		}
		const struct act__app_group *ng = &r->next.groups[r->nmap[gi]];
		struct act__part *p = act__shm_part(&n->shm, gi + 1);
		if (r->op[r->qi] == STEP_NEW) {
			/* The spare participant takes the group's name: in our
			 * registry, in its part header (what an adopting supervisor
			 * compares with its app file), and in the table for the
			 * workers, whose registries still call it a spare. */
			char *name = strdup(ng->name);
			if (!name) {
				finish(r, false, "out of memory (done so far: %s)",
				       r->n_done ? r->done : "none");
				return;
			}
			free(n->reg.groups[gi].name);
			n->reg.groups[gi].name = name;
			snprintf(p->name, sizeof p->name, "%s", name);
			snprintf(r->tab->g[gi].name, sizeof r->tab->g[gi].name, "%s", name);
			g->spare_used = true;
			/* Another group's counters are not this one's: status and
			 * metrics show a new group from zero, not with the
			 * handled, restarts and last death of the participant's
			 * last tenant.  No worker of it runs now (it was free). */
			g->n_restarts = 0;
			g->last_signal = 0;
			g->last_exit = -1;
			g->last_core = false;
			g->last_death[0] = '\0';
			g->death_by_removal = false;
			g->n_takeovers = 0;
			g->n_teardown_waits = 0;
			g->ring_hwm_seen = 0;
			atomic_store_explicit(&p->n_handled, 0, memory_order_relaxed);
			atomic_store_explicit(&p->n_redelivered, 0, memory_order_relaxed);
			atomic_store_explicit(&p->n_dead_letters, 0, memory_order_relaxed);
			atomic_store_explicit(&p->n_refused_removed, 0, memory_order_relaxed);
			struct act__dyn_hdr *dh = act__shm_dyn(&n->shm, gi + 1);
			atomic_store_explicit(&dh->n_child_restarts, 0, memory_order_relaxed);
			atomic_store_explicit(&dh->n_child_escalations, 0, memory_order_relaxed);
		}
		set_group(&n->reg, gi, ng);
		p->spin_us = ng->spin_us;
		p->max_redeliveries = ng->max_redeliveries;
		n->sup.g[gi].restart = ng->restart;
		if (r->next_sig[gi] != r->applied[gi])
			update_table(r, gi, ng->module);
		r->applied[gi] = r->next_sig[gi];
		act__group_kill_spare(n, gi); /* it has the old code */
		if (r->op[r->qi] == STEP_ADD || r->op[r->qi] == STEP_NEW) {
			int err = act__node_add_group(n, gi);
			/* A spare participant's group has no static actors: its
			 * declared ones are spawned into it, named, permanent, so that
			 * every group finds them by name (act_lookup) and its worker
			 * re-creates them after a crash.  They wait in its rings for
			 * its first start. */
			if (err) {
				finish(r, false, "cannot add group '%s': %s (done so far: %s)",
				       n->reg.groups[gi].name, act_strerror(err),
				       r->n_done ? r->done : "none");
				return;
			}
			for (uint32_t ai = 0; n->reg.groups[gi].spare && ai < ng->n_actors; ai++) {
				const struct act__app_actor *a = &ng->actors[ai];
				act_ref ref;
				err = act__node_spawn(n, ng->name, a->behaviour, a->name, a->args_json, &ref);
				if (!err)
					continue;
				/* The group is added, and runs without that actor
				 * (actorsd(8), reload 9): said as done. */
				act__err("reload: group '%s': cannot create its actor '%s': %s",
				         ng->name, a->name, act_strerror(err));
				finish(r, false, "group '%s' added, but its actor '%s' could not be "
				       "created: %s (done so far: %s%s+%s)", ng->name, a->name,
				       act_strerror(err), r->n_done ? r->done : "",
				       r->n_done ? ", " : "", ng->name);
				return;
			}
			r->old_pid = 0;
			r->stepping = true;
			return; /* tick() waits for READY */
		}
		if (g->state != ACT__G_READY && g->state != ACT__G_STARTING) {
			/* Not running: it gets the new code at its next start. */
			act__info("reload: group '%s' is %s: its next start runs the new code",
			          n->reg.groups[gi].name, act__node_group_state(n, gi));
			r->qi++;
			continue;
		}
		handoff_path(r, gi, hp, sizeof hp);
		unlink(hp);
		r->export_seen = false;
		/* Release: pairs with the worker's acquire load when STOP arrives
		 * (act__handoff_wanted()); the STOP record itself is published
		 * after this store. */
		atomic_store_explicit(&r->tab->g[gi].export_req, 1, memory_order_release);
		act__info("reload: restarting group '%s' with its new code", n->reg.groups[gi].name);
		int err = act__node_restart_group(n, gi, NULL);
		if (err) {
			atomic_store_explicit(&r->tab->g[gi].export_req, 0, memory_order_relaxed);
			finish(r, false, "cannot restart group '%s': %s (reloaded so far: %s)",
			       n->reg.groups[gi].name, act_strerror(err), r->n_done ? r->done : "none");
			return;
		}
		r->stepping = true;
		return;
	}
	uint32_t n_restarted = r->n_done - r->n_removed - r->n_added;
	finish(r, true, "%u group%s restarted with new code or settings, %u removed, %u added"
	       "%s%s; state handed over by %u, not by %u", n_restarted,
	       n_restarted == 1 ? "" : "s", r->n_removed, r->n_added, r->n_done ? ": " : "",
	       r->n_done ? r->done : "", r->n_handoff_ok, r->n_handoff_failed);
}

static void tick_check(struct act__reloader *r);

/* A reload under way is stepped by tick(): the loop must keep ticking. */
static bool busy(const struct act_node *n)
{
	const struct act__reloader *r = n->reload_arg;
	return r && r->active;
}

static void tick(struct act_node *n)
{
	struct act__reloader *r = n->reload_arg;

	if (r && r->active && r->checking) {
		tick_check(r);
		return;
	}
	if (!r || !r->active || !r->stepping)
		return;
	uint32_t gi = r->queue[r->qi];
	if (n->stopping) {
		finish(r, false, "the node is stopping (reloaded: %s)", r->n_done ? r->done : "none");
		return;
	}
	struct act__gstate *g = &n->gs[gi];
	uint64_t now = act__now_ns();
	const char *name = n->reg.groups[gi].name;

	if (r->op[r->qi] == STEP_REMOVE) {
		if (g->state != ACT__G_REMOVED) {
			if (now - r->step_start_ns > STEP_TIMEOUT_NS)
				finish(r, false, "group '%s' did not stop (%s); the groups after it were "
				       "not reloaded (done: %s)", name, act__node_group_state(n, gi),
				       r->n_done ? r->done : "none");
			return;
		}
		uint64_t left = act__node_group_leftover(n, gi);
		if (left)
			act__warn("reload: group '%s' removed with %llu bytes in its rings (sent as it "
			          "was being removed): they wait there for a reload that adds it back",
			          name, (unsigned long long)left);
		act__info("reload: group '%s' removed (pid %d %s)", name, (int)r->old_pid,
		          r->old_pid ? g->last_death : "was not running");
		size_t dl = strlen(r->done);
		snprintf(r->done + dl, sizeof r->done - dl, "%s-%s", r->n_done ? ", " : "", name);
		r->n_done++;
		r->n_removed++;
		r->stepping = false;
		r->qi++;
		next_step(r);
		return;
	}
	if (!r->export_seen && g->pid != r->old_pid) {
		/* The old worker is gone (this runs before the start queue, so
		 * the new one has not read the handoff file yet). */
		char hp[PATH_MAX + 64];
		struct stat st;
		r->export_seen = true;
		atomic_store_explicit(&r->tab->g[gi].export_req, 0, memory_order_relaxed);
		handoff_path(r, gi, hp, sizeof hp);
		if (stat(hp, &st) == 0) {
			r->n_handoff_ok++;
			n->n_handoffs++;
		} else {
			r->n_handoff_failed++;
			n->n_handoffs_failed++;
			act__warn("reload: group '%s': the old worker handed no state over (%s); its "
			          "actors start from init alone", name,
			          g->last_signal ? "it was killed" : "export failed or nothing to export");
		}
	}
	if (g->state == ACT__G_READY && g->pid != r->old_pid) {
		uint64_t gap_us = (now - r->step_start_ns) / 1000u;
		if (r->op[r->qi] == STEP_RESTART) { /* an addition stopped nothing: no gap */
			if (gap_us > n->reload_gap_max_us)
				n->reload_gap_max_us = gap_us;
			n->reload_gap_last_us = gap_us;
		}
		if (r->op[r->qi] == STEP_ADD || r->op[r->qi] == STEP_NEW)
			act__info("reload: group '%s' is up (pid %d, %" PRIu64 " us to READY)", name,
			          (int)g->pid, gap_us);
		else
			act__info("reload: group '%s' runs its new code (pid %d -> %d, %" PRIu64 " us "
			          "from STOP to READY)", name, (int)r->old_pid, (int)g->pid, gap_us);
		size_t dl = strlen(r->done);
		snprintf(r->done + dl, sizeof r->done - dl, "%s%s%s", r->n_done ? ", " : "",
		         r->op[r->qi] == STEP_ADD || r->op[r->qi] == STEP_NEW ? "+" : "", name);
		r->n_done++;
		if (r->op[r->qi] == STEP_ADD || r->op[r->qi] == STEP_NEW)
			r->n_added++;
		/* A spare participant's declared actors are spawned actors: one
		 * whose init fails is logged by the worker and gone, while the
		 * group says READY.  The reload must not report success then. */
		if ((r->op[r->qi] == STEP_ADD || r->op[r->qi] == STEP_NEW) &&
		    n->reg.groups[gi].spare) {
			const struct act__app_group *ng = &r->next.groups[r->nmap[gi]];
			char missing[512] = "";
			uint32_t n_missing = 0;
			for (uint32_t ai = 0; ai < ng->n_actors; ai++) {
				struct act__target t;
				if (!act__node_resolve(n, ng->actors[ai].name, &t))
					continue;
				size_t ml = strlen(missing);
				snprintf(missing + ml, sizeof missing - ml, "%s'%s'", n_missing ? ", " : "",
				         ng->actors[ai].name);
				n_missing++;
			}
			if (n_missing) {
				finish(r, false, "group '%s' is up but its actor%s %s did not start (init "
				       "failed: see the worker's log); the groups after it were not "
				       "reloaded (done: %s)", name, n_missing == 1 ? "" : "s", missing,
				       r->done);
				return;
			}
		}
		r->stepping = false;
		r->qi++;
		next_step(r);
		return;
	}
	if ((g->pid != r->old_pid && (g->state == ACT__G_DEAD || g->state == ACT__G_FAILED ||
	                              g->state == ACT__G_DONE)) ||
	    now - r->step_start_ns > STEP_TIMEOUT_NS) {
		finish(r, false, "group '%s' did not come back with its new code (%s%s%s); the groups "
		       "after it were not reloaded (reloaded: %s)", name,
		       act__node_group_state(n, gi), g->last_death[0] ? ": " : "", g->last_death,
		       r->n_done ? r->done : "none");
	}
}

static void apply_checked(struct act__reloader *r);

/* A reload refused after begin() returned (the check failed, or a copy
 * could not be made): nothing was changed; the waiting actorsctl hears
 * why. */
static void refuse_late(struct act__reloader *r, const char *err)
{
	char why[1100];

	snprintf(why, sizeof why, "nothing changed: %s", err);
	r->n->n_reloads_refused++;
	act__err("reload refused, %s", why);
	if (r->n->reload_waiter) {
		act__ctl_reload_done(r->n->ctl, r->n->reload_waiter, false, why);
		r->n->reload_waiter = NULL;
	}
	act__app_free(&r->next);
	r->active = false;
	r->checking = false;
	r->stepping = false;
}

/* The checker's pipe became readable. */
static void on_check_output(struct act__evh *h, int res)
{
	struct act__reloader *r = act__container_of(h, struct act__reloader, chk_h);

	(void)res;
	r->chk_armed = false;
	if (r->chk_fd >= 0 && read_check(r))
		r->chk_eof = true;
}

/* While the checker runs: its output, its end, its deadline. */
static void tick_check(struct act__reloader *r)
{
	char err[1024];

	if (r->n->stopping) {
		end_check(r, true);
		refuse_late(r, "the node is stopping");
		return;
	}
	if (!r->chk_eof && act__now_ns() >= r->chk_deadline_ns) {
		end_check(r, true);
		refuse_late(r, "the check (actorsd --check) did not finish in time");
		return;
	}
	if (!r->chk_eof) {
		if (!r->chk_armed) {
			act__loop_poll(&r->n->loop, &r->chk_h, r->chk_fd, POLLIN);
			r->chk_armed = true;
		}
		return;
	}
	end_check(r, false);
	r->checking = false;
	if (check_verdict(r, err, sizeof err))
		refuse_late(r, err);
	else
		apply_checked(r);
}

/* SIGHUP (c NULL) or actorsctl reload (c waits). */
static int begin(struct act_node *n, struct act__ctl_conn *c, char *why, size_t cap)
{
	struct act__reloader *r = n->reload_arg;
	char err[1024];
	int rc;

	if (r->active) {
		snprintf(why, cap, "a reload is already under way");
		n->n_reloads_refused++;
		return -EBUSY;
	}
	if (n->stopping) {
		snprintf(why, cap, "the node is stopping");
		n->n_reloads_refused++;
		return ACT_ESTOPPED;
	}
	memset(&r->next, 0, sizeof r->next);
	if ((rc = act__app_load(r->app_path, &r->next, err, sizeof err)) ||
	    (rc = act__sysdirs_apply(&r->next, err, sizeof err)))
		goto refuse;
	if (layout_changed(r->boot, &r->next, err, sizeof err)) {
		size_t l = strlen(err);
		snprintf(err + l, sizeof err - l, ": needs a node restart, not a reload");
		rc = -EINVAL;
		goto refuse;
	}
	if ((rc = start_check(r, err, sizeof err)))
		goto refuse;
	/* The rest once the checker is done (tick()); the caller's
	 * connection waits for the outcome. */
	r->active = true;
	r->checking = true;
	n->reload_waiter = c;
	return 0;
refuse:
	act__app_free(&r->next);
	n->n_reloads_refused++;
	snprintf(why, cap, "nothing changed: %s", err);
	act__err("reload refused, %s", why);
	return rc < 0 ? rc : -EINVAL;
}

/* The file passed the check: copy what changed and start the rolling
 * restart.  A failure here still changes nothing (refused). */
static void apply_checked(struct act__reloader *r)
{
	struct act_node *n = r->n;
	uint64_t mods[ACT__APP_MAX_GROUPS];
	char err[1024];
	int rc;

	node_indexed(r);
	if (mkdir(r->dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, sizeof err, "cannot create %s: %s", r->dir, strerror(errno));
		rc = -errno;
		goto refuse;
	}
	/* Copies of the changed modules under a name per content (and of the
	 * app file), for the new workers to load.  Boot group gi is group gi
	 * of the node (the participant gi + 1). */
	r->n_queue = 0;
	uint32_t n_rm = 0, n_add = 0, n_new = 0;
	uint8_t want[ACT__APP_MAX_GROUPS];
	bool placed[ACT__APP_MAX_GROUPS] = { false }; /* next's groups that have a participant */
	uint32_t np = n->reg.n_groups < ACT__APP_MAX_GROUPS ? n->reg.n_groups : ACT__APP_MAX_GROUPS;
	for (uint32_t gi = 0; gi < np; gi++)
		want[gi] = 0xff;
	/* A group of the file the node has no participant for goes into a
	 * spare one: one never used, else one whose group was removed and is
	 * not in the file either. */
	for (uint32_t pass = 0; pass < 2; pass++)
		for (uint32_t gi = 0; gi < np; gi++) {
			const char *name = file_name(r, gi);
			int32_t ni = name ? app_group_index(&r->next, name) : -1;
			if (pass == 0 && ni >= 0)
				placed[ni] = true;
			if (pass == 0 || !n->reg.groups[gi].spare || (ni >= 0 && name))
				continue;
			if (n->gs[gi].spare_used && !act__node_group_removed(n, gi))
				continue; /* hosts a group that this reload removes: not free yet */
			for (uint32_t k = 0; k < r->next.n_groups; k++) {
				const struct act__app_group *g = &r->next.groups[k];
				const struct act__group_def *gd = &n->reg.groups[gi];
				uint32_t slots = g->max_spawned ? g->max_spawned : ACT__DYN_SLOTS_DEFAULT;
				uint32_t spare_slots = gd->max_spawned ? gd->max_spawned :
				                       ACT__DYN_SLOTS_DEFAULT;
				if (placed[k])
					continue;
				if (g->pool_n || g->ring_bytes != gd->ring_bytes ||
				    g->max_msg_bytes != gd->max_msg ||
				    slots != spare_slots) {
					rc = -EINVAL;
					snprintf(err, sizeof err, "$.groups[%u] '%s' is new: a group a reload "
					         "adds takes a spare participant, which has ring_bytes %u, "
					         "max_msg_bytes %u, max_spawned %u and is no pool",
					         k, g->name, gd->ring_bytes, gd->max_msg, spare_slots);
					goto refuse;
				}
				for (uint32_t ai = 0; ai < g->n_actors; ai++) {
					int id = act__reg_find_actor(&n->reg, g->actors[ai].name);
					if (id < 0)
						continue;
					uint32_t og = n->reg.actors[id].group;
					rc = -EEXIST;
					snprintf(err, sizeof err, "$.groups[%u] '%s': actor '%s' is the "
					         "name of a static actor of group '%s'%s", k, g->name,
					         g->actors[ai].name,
					         og && og <= np ? n->reg.groups[og - 1].name : "?",
					         og && og <= np && act__node_group_removed(n, og - 1) &&
					         app_group_index(&r->next, n->reg.groups[og - 1].name) < 0 ?
					         " (removed by a reload: its static actors keep their names)" :
					         "");
					goto refuse;
				}
				placed[k] = true;
				r->nmap[gi] = (int32_t)k;
				want[gi] = STEP_NEW;
				r->applied[gi] = 0; /* its module is copied below, whatever it is */
				n_new++;
				break;
			}
		}
	for (uint32_t k = 0; k < r->next.n_groups; k++)
		if (!placed[k]) {
			uint32_t n_spare = 0;
			for (uint32_t gi = 0; gi < np; gi++)
				n_spare += n->reg.groups[gi].spare;
			rc = -ENOSPC;
			snprintf(err, sizeof err, "$.groups[%u] '%s' is new and no spare participant is "
			         "free (the node started with %u, $.spare_groups): needs a node restart",
			         k, r->next.groups[k].name, n_spare);
			goto refuse;
		}
	for (uint32_t gi = 0; gi < np; gi++) {
		const char *name = file_name(r, gi);
		int32_t ni = want[gi] == STEP_NEW ? r->nmap[gi] :
		             name ? app_group_index(&r->next, name) : -1;
		bool removed = act__node_group_removed(n, gi);
		if (!name && want[gi] != STEP_NEW)
			continue; /* an unused spare */
		r->nmap[gi] = ni;
		if (ni < 0) {
			if (!removed) {
				want[gi] = STEP_REMOVE;
				n_rm++;
			}
			continue;
		}
		struct act__app_group *g = &r->next.groups[ni];
		if ((rc = file_hash(g->module, &mods[gi]))) {
			snprintf(err, sizeof err, "%s: $.groups[%d].module: cannot read %s: %s",
			         r->next.path, ni, g->module, strerror(-rc));
			goto refuse;
		}
		r->next_sig[gi] = group_sig(g, mods[gi] ^ fnv_str(0, g->module));
		if (removed && want[gi] != STEP_NEW) {
			want[gi] = STEP_ADD;
			n_add++;
		}
		if (r->next_sig[gi] == r->applied[gi])
			continue;
		char copy[PATH_MAX];
		snprintf(copy, sizeof copy, "%s/%s-%016" PRIx64 ".so", r->dir, g->name, mods[gi]);
		if ((rc = copy_file(g->module, copy))) {
			snprintf(err, sizeof err, "cannot copy %.300s to %.300s: %s", g->module, copy,
			         strerror(-rc));
			goto refuse;
		}
		free(g->module);
		if (!(g->module = strdup(copy))) {
			rc = -ENOMEM;
			snprintf(err, sizeof err, "out of memory");
			goto refuse;
		}
		if (!removed)
			want[gi] = STEP_RESTART;
	}
	/* A pool's members are groups of their own in the node, after the
	 * pool's place: the node's groups are no longer the file's one for
	 * one, and removing or adding groups by position would touch the
	 * wrong ones. */
	bool pools = false;
	for (uint32_t gi = 0; gi < r->boot->n_groups; gi++)
		pools |= r->boot->groups[gi].pool_n != 0;
	if (pools && (n_rm || n_add || n_new)) {
		rc = -EINVAL;
		snprintf(err, sizeof err, "the node has pools: removing or adding groups by a reload "
		         "needs a node without them (restart the node)");
		goto refuse;
	}
	/* Removals first, then additions, then restarts, each in start order. */
	static const uint8_t order[4] = { STEP_REMOVE, STEP_ADD, STEP_NEW, STEP_RESTART };
	for (int o = 0; o < 4; o++)
		for (uint32_t gi = 0; gi < np; gi++)
			if (want[gi] == order[o]) {
				r->op[r->n_queue] = order[o];
				r->queue[r->n_queue++] = gi;
			}
	if (r->n_queue) {
		char copy[PATH_MAX];
		snprintf(copy, sizeof copy, "%s/app-%u.json", r->dir, ++r->n_app_copies);
		if ((rc = copy_file(r->app_path, copy))) {
			snprintf(err, sizeof err, "cannot copy %.300s to %.300s: %s", r->app_path, copy,
			         strerror(-rc));
			goto refuse;
		}
		/* Workers started from now on read the new copy: a group it does
		 * not change has the same settings in it as in the last one. */
		snprintf(r->tab->app, sizeof r->tab->app, "%s", copy);
		if (r->n_app_copies > 1) {
			snprintf(copy, sizeof copy, "%s/app-%u.json", r->dir, r->n_app_copies - 1);
			unlink(copy);
		}
	}
	apply_policy(n, &r->next);
	act__info("reload of %s: %u group%s to remove, %u to add back, %u new, %u to restart",
	          r->app_path, n_rm, n_rm == 1 ? "" : "s", n_add, n_new,
	          r->n_queue - n_rm - n_add - n_new);
	r->qi = 0;
	r->n_done = r->n_handoff_ok = r->n_handoff_failed = 0;
	r->n_removed = r->n_added = 0;
	r->done[0] = '\0';
	next_step(r);
	return;
refuse:
	refuse_late(r, err);
}

/* ---- setup ------------------------------------------------------------------------------------ */

struct act__reloader *act__reload_arm(struct act_node *n, const struct act__app *app,
                                      char *err, size_t err_cap)
{
	struct act__reloader *r = calloc(1, sizeof *r);

	if (!r || !(r->app_path = realpath(app->path, NULL)) ||
	    asprintf(&r->dir, "%s/reload", app->state_dir) < 0) {
		snprintf(err, err_cap, "cannot prepare reloads: %s", strerror(errno ? errno : ENOMEM));
		if (r)
			r->dir = NULL;
		act__reload_free(r);
		return NULL;
	}
	r->tab = mmap(NULL, sizeof *r->tab, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	              -1, 0);
	if (r->tab == MAP_FAILED) {
		r->tab = NULL;
		snprintf(err, err_cap, "cannot prepare reloads: %s", strerror(errno));
		act__reload_free(r);
		return NULL;
	}
	r->n = n;
	r->boot = app;
	r->chk_pidfd = r->chk_fd = -1;
	r->chk_h.fn = on_check_output;
	/* What an earlier run left (module and app file copies, handoff
	 * files): nothing of this run refers to it, and a handoff file must
	 * not reach a new worker. */
	DIR *d = opendir(r->dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if ((l > 3 && !strcmp(de->d_name + l - 3, ".so")) ||
		    (l > 8 && !strcmp(de->d_name + l - 8, ".handoff")) ||
		    (l > 9 && !strncmp(de->d_name, "app-", 4) && !strcmp(de->d_name + l - 5, ".json")) ||
		    (l > 4 && !strcmp(de->d_name + l - 4, ".tmp")))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d)
		closedir(d);
	for (uint32_t gi = 0; gi < app->n_groups; gi++) {
		uint64_t h = 0;
		/* Unreadable now: the preflight would have said; a reload then
		 * sees a difference and restarts the group (harmless). */
		file_hash(app->groups[gi].module, &h);
		r->applied[gi] = group_sig(&app->groups[gi], h ^ fnv_str(0, app->groups[gi].module));
	}
	n->reload = begin;
	n->reload_tick = tick;
	n->reload_busy = busy;
	n->reload_arg = r;
	n->worker_init = worker_init;
	n->worker_init_arg = r;
	return r;
}

int act__reload_tenant(struct act__reloader *r, const struct act__app_group *g, uint32_t k,
                       char *err, size_t err_cap)
{
	char spare[ACT_NAME_MAX + 1], copy[PATH_MAX];
	struct act__group_def *gd;
	uint64_t h = 0;
	int rc;

	snprintf(spare, sizeof spare, "~spare-%u", k + 1);
	if (!(gd = act__reg_group(&r->n->reg, spare)))
		return -ENOENT;
	uint32_t gi = (uint32_t)(gd - r->n->reg.groups);
	if (gi >= ACT__APP_MAX_GROUPS)
		return -ERANGE;
	if (mkdir(r->dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, err_cap, "cannot create %s: %s", r->dir, strerror(-rc));
		return rc;
	}
	/* As a reload that adds it: its module under a name per content (the
	 * zygote may have the file's path mapped with other code), the app
	 * file copy its worker reads its settings from. */
	if ((rc = file_hash(g->module, &h)) ||
	    (snprintf(copy, sizeof copy, "%s/%s-%016" PRIx64 ".so", r->dir, g->name, h),
	     rc = copy_file(g->module, copy))) {
		snprintf(err, err_cap, "group '%s': cannot copy its module %s: %s", g->name,
		         g->module, strerror(-rc));
		return rc;
	}
	if (!r->n_app_copies) {
		char app[PATH_MAX];
		snprintf(app, sizeof app, "%s/app-%u.json", r->dir, r->n_app_copies + 1);
		if ((rc = copy_file(r->app_path, app))) {
			snprintf(err, err_cap, "cannot copy %.300s to %.300s: %s", r->app_path, app,
			         strerror(-rc));
			return rc;
		}
		r->n_app_copies++;
		snprintf(r->tab->app, sizeof r->tab->app, "%s", app);
	}
	snprintf(r->tab->g[gi].name, sizeof r->tab->g[gi].name, "%s", g->name);
	update_table(r, gi, copy);
	r->applied[gi] = group_sig(g, h ^ fnv_str(0, g->module));
	return 0;
}

void act__reload_free(struct act__reloader *r)
{
	if (!r)
		return;
	if (r->checking)
		end_check(r, true);
	if (r->active)
		act__app_free(&r->next);
	if (r->tab)
		munmap(r->tab, sizeof *r->tab);
	free(r->app_path);
	free(r->dir);
	free(r);
}
