/* SPDX-License-Identifier: MIT */
/*
 * actorsd - run an actor application described by an app file.
 *
 *     actorsd [--check] APP.json
 *
 * A thin main() over libactors: parse and validate the app file
 * (supervisor/appfile.c), check what it names on this machine (files,
 * directories, the endpoint: supervisor/preflight.c), declare the node from
 * it, and hand it to the same supervision engine the embedded
 * act_node_run() uses.  Group modules
 * are loaded in the zygote, never in this process, so a module's bugs
 * cannot take the supervisor down.
 *
 * Every problem found before the first worker runs is reported as one line
 * naming the app file and the JSON path, and classified by the exit-code
 * protocol of actorsd(8): a configuration this machine can never run is
 * permanent (100, systemd must not restart), a resource that may come
 * back is temporary (111).  Every wait at startup has a deadline: loading
 * the modules is bounded by module_timeout_ms, and a module that crashes,
 * exits or hangs while loading is a permanent error naming it.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.h>

#include <actors.h>

#include "appfile.h"
#include "intercept.h"
#include "control.h"
#include "curve.h"
#include "log.h"
#include "modload.h"
#include "node.h"
#include "pathcheck.h"
#include "preflight.h"
#include "recover.h"
#include "reload.h"
#include "sysdirs.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: actorsd [--check] [--foreground] APP.json\n"
	        "       actorsd --version | --help\n"
	        "\n"
	        "Runs the actor application described by APP.json: one supervisor,\n"
	        "one worker process per group, restarted by policy.\n"
	        "  --check       validate the app file and its modules, then exit\n"
	        "  --foreground  stay in the foreground (the default; for symmetry)\n"
	        "Exit status: 0 clean stop, 100 bad app file or module, 111 temporary\n"
	        "failure, 112 restart intensity exceeded.  See actorsd(8).\n");
}

struct binder {
	const struct act__app *app;
	struct act__load_watch *watch; /* shared with the waiting process */
};

/* Memory one worker may allocate: physical memory and its rlimits. */
static uint64_t memory_limit(const char **what)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	uint64_t lim = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : UINT64_MAX;
	struct rlimit rl;

	*what = "this machine's memory";
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < lim) {
		lim = rl.rlim_cur;
		*what = "the address-space limit (RLIMIT_AS)";
	}
	if (getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < lim) {
		lim = rl.rlim_cur;
		*what = "the data-size limit (RLIMIT_DATA)";
	}
	return lim;
}

/*
 * Loads every group's module and binds each actor to its behaviour.  Runs
 * in the zygote (or a --check child): user code runs here.  Returns 0 or
 * ACT_EXIT_PERMANENT after printing one message naming the file and place;
 * the watch says which module is running code, so that the waiting side
 * can name it if this process dies or hangs instead.
 */
static int bind_modules(struct act_node *n, void *arg)
{
	const struct binder *bd = arg;
	const struct act__app *app = bd->app;
	struct act__load_watch *w = bd->watch;
	struct act_module **mods = calloc(app->n_groups, sizeof *mods);
	const char *mem_what;
	uint64_t mem = memory_limit(&mem_what);
	char err[512];
	int rc = ACT_EXIT_PERMANENT;

	if (!mods) {
		rc = ACT_EXIT_TEMPORARY;
		goto fail;
	}
	for (uint32_t gi = 0; gi < app->n_groups; gi++) {
		const struct act__app_group *g = &app->groups[gi];
		uint64_t state_bytes = 0;
		atomic_store(&w->group, (int32_t)gi);
		atomic_store(&w->phase, ACT__LOAD_BIND);
		for (uint32_t k = 0; k < gi && !mods[gi]; k++)
			if (!strcmp(app->groups[k].module, g->module))
				mods[gi] = mods[k];
		if (!mods[gi] && !(mods[gi] = act__module_load(g->module, w, err, sizeof err))) {
			fprintf(stderr, "actorsd: %s: $.groups[%u].module: %s\n", app->path, gi, err);
			goto fail;
		}
		for (size_t t = 0; t < mods[gi]->n_types; t++)
			if (act__reg_add_type(&n->reg, mods[gi]->types[t]) == -EEXIST) {
				fprintf(stderr, "actorsd: %s: $.groups[%u].module: %s registers a "
				        "second type named '%s'\n", app->path, gi, g->module,
				        mods[gi]->types[t]->name);
				goto fail;
			}
		/* Every behaviour of the module may be spawned at run time. */
		for (size_t k = 0; k < mods[gi]->n_b; k++)
			if (act__reg_add_behaviour(&n->reg, mods[gi]->b[k]) == -EEXIST)
				act__warn("module %s: behaviour '%s' is defined by another module too; "
				          "act_spawn() uses the first", g->module, mods[gi]->b[k]->name);
		for (uint32_t ai = 0; ai < g->n_actors; ai++) {
			const struct act__app_actor *a = &g->actors[ai];
			const act_behaviour *b = act__module_behaviour(mods[gi], a->behaviour);
			int id = act__reg_find_actor(&n->reg, a->name);
			if (!b) {
				act__module_list(mods[gi], err, sizeof err);
				fprintf(stderr, "actorsd: %s: $.groups[%u].actors[%u].behaviour: module %s "
				        "has no behaviour '%s' (it has: %s)\n", app->path, gi, ai,
				        g->module, a->behaviour, err);
				goto fail;
			}
			for (size_t h = 0; h < b->n_handlers; h++)
				if (act__reg_add_type(&n->reg, b->handlers[h].type) == -EEXIST) {
					fprintf(stderr, "actorsd: %s: $.groups[%u].actors[%u]: behaviour '%s' "
					        "handles a type named '%s' that another module defines "
					        "differently\n", app->path, gi, ai, b->name,
					        b->handlers[h].type->name);
					goto fail;
				}
			/* The worker allocates every actor's state when it starts: a
			 * state that cannot fit would fail there, restart after restart. */
			state_bytes += b->state_size;
			if (b->state_size > mem || state_bytes > mem) {
				fprintf(stderr, "actorsd: %s: $.groups[%u].actors[%u].behaviour: behaviour "
				        "'%s' of module %s needs %zu bytes of state (%llu for the group "
				        "so far), more than %s (%llu bytes)\n", app->path, gi, ai,
				        b->name, g->module, b->state_size,
				        (unsigned long long)state_bytes, mem_what,
				        (unsigned long long)mem);
				goto fail;
			}
			if (id >= 0)
				n->reg.actors[id].b = b;
		}
	}
	free(mods); /* the modules stay loaded for the zygote's lifetime */
	atomic_store(&w->phase, ACT__LOAD_DONE);
	return 0;
fail:
	free(mods);
	atomic_store(&w->phase, ACT__LOAD_FAILED);
	return rc;
}

/*
 * After the loading process (zygote or --check child) died, exited or was
 * killed for its deadline without saying why: one message naming the
 * module and what happened.  Returns the exit code, ACT_EXIT_PERMANENT for
 * a module's fault.
 */
static int report_load_fault(const struct act__app *app, const struct act__load_watch *w,
                             bool timed_out, int status)
{
	int32_t gi = atomic_load(&w->group), phase = atomic_load(&w->phase);
	const char *mod = gi >= 0 && (uint32_t)gi < app->n_groups ? app->groups[gi].module : NULL;
	char what[160], where[96], tail[96] = "";

	if (phase == ACT__LOAD_FAILED) /* the loader printed its verdict */
		return WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status)
		                                                : ACT_EXIT_PERMANENT;
	if (timed_out) {
		snprintf(what, sizeof what, "hung");
		snprintf(tail, sizeof tail, " (not done within %u ms, $.module_timeout_ms; killed)",
		         app->module_timeout_ms);
	} else if (WIFSIGNALED(status))
		snprintf(what, sizeof what, "was killed by signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status))
		snprintf(what, sizeof what, "called exit(%d)", WEXITSTATUS(status));
	else
		snprintf(what, sizeof what, "ended (wait status 0x%x)", (unsigned)status);
	if (phase == ACT__LOAD_DONE || !mod) {
		/* Only module code (a thread it started, say) runs there. */
		fprintf(stderr, "actorsd: %s: the process that loads the modules %s %s%s\n",
		        app->path, what, phase == ACT__LOAD_DONE ? "after every module was loaded"
		                                                 : "before the first module was loaded",
		        tail);
		return ACT_EXIT_PERMANENT;
	}
	snprintf(where, sizeof where, "$.groups[%d].module", gi);
	fprintf(stderr, "actorsd: %s: %s: module %s %s %s%s\n", app->path, where, mod, what,
	        act__load_phase_text(phase), tail);
	return ACT_EXIT_PERMANENT;
}

static act_node_t *node_from_app(const struct act__app *app, int *err)
{
	act_node_t *n = act_node_new(app->node);

	*err = -ENOMEM;
	if (!n)
		return NULL;
	n->pol.strategy = (act_strategy)app->strategy;
	n->pol.max_restarts = app->max_restarts;
	n->pol.period_ms = app->period_ms;
	n->pol.backoff_initial_ms = app->backoff.initial_ms;
	n->pol.backoff_factor = app->backoff.factor;
	n->pol.backoff_max_ms = app->backoff.max_ms;
	n->pol.backoff_reset_ms = app->backoff.reset_after_ms;
	for (uint32_t gi = 0; gi < app->n_groups; gi++) {
		const struct act__app_group *g = &app->groups[gi];
		if ((*err = act__reg_add_group(&n->reg, g->name)))
			goto fail;
		struct act__group_def *gd = act__reg_group(&n->reg, g->name);
		gd->ring_bytes = g->ring_bytes;
		gd->max_msg = g->max_msg_bytes;
		act__app_group_settings(gd, g);
		gd->max_spawned = g->max_spawned;
		if (g->pool_n && ((*err = act_node_set_pool(n, g->name, g->pool_n)) ||
		                  (*err = act_node_set_pool_routing(n, g->name, g->pool_routing,
		                                                    g->pool_key))))
			goto fail;
		if (g->trace && (*err = act__ic_trace_group(g->name)))
			goto fail;
		for (uint32_t ai = 0; ai < g->n_actors; ai++) {
			const struct act__app_actor *a = &g->actors[ai];
			if ((*err = act__reg_add_actor_named(&n->reg, g->name, a->name, a->behaviour,
			                                     a->args_json)))
				goto fail;
			n->reg.actors[n->reg.n_actors - 1].remote = a->remote;
		}
	}
	/* Spare participants for groups a reload adds (reload.c): after the
	 * groups, so no group's index moves; '~' is not allowed in an app
	 * file's names, so no group is called like one. */
	for (uint32_t k = 0; k < app->spare_groups; k++) {
		char name[ACT_NAME_MAX + 1];
		snprintf(name, sizeof name, "~spare-%u", k + 1);
		if ((*err = act__reg_add_group(&n->reg, name)))
			goto fail;
		act__reg_group(&n->reg, name)->spare = true;
	}
	for (uint32_t i = 0; i < app->n_topics; i++)
		if ((*err = act_node_set_topic_remote(n, app->topics[i].name, app->topics[i].remote)))
			goto fail;
	for (uint32_t i = 0; i < app->n_peers; i++)
		if ((*err = act__reg_add_peer(&n->reg, app->peers[i].name, app->peers[i].endpoint)))
			goto fail;
	if (app->endpoint && (*err = act_node_set_endpoint(n, app->endpoint, app->advertise)))
		goto fail;
	if (app->metrics_endpoint &&
	    (*err = act_node_set_metrics_endpoint(n, app->metrics_endpoint)))
		goto fail;
	n->limits.max_frame = app->limits.max_frame_bytes;
	n->limits.max_depth = app->limits.max_depth;
	n->limits.max_string = app->limits.max_string_bytes;
	n->limits.max_fields = app->limits.max_fields;
	if ((*err = act_node_set_state_dir(n, app->state_dir)) ||
	    (*err = act_node_set_control_socket(n, app->control_socket)))
		goto fail;
	*err = 0;
	return n;
fail:
	act_node_free(n);
	return NULL;
}

/* Reads a Z85 key (40 characters, surrounding whitespace ignored) from
 * path, which must be a regular file (a FIFO is refused, not waited on). */
static int read_key(const char *path, char **out)
{
	char buf[128];
	struct stat st;
	ssize_t n;
	int fd = act__open_regular(path, &st);

	if (fd == -EINVAL)
		return -EBADFD;
	if (fd < 0)
		return fd;
	do {
		n = read(fd, buf, sizeof buf - 1);
	} while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	char *s = buf;
	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	size_t len = strcspn(s, " \t\r\n");
	if (len != 40)
		return -EINVAL;
	s[40] = '\0';
	uint8_t raw[32];
	if (!zmq_z85_decode(raw, s))
		return -EINVAL; /* a character outside Z85 */
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static const char *key_problem(int err)
{
	return err == -EINVAL ? "not a Z85 key" : err == -EBADFD ? "not a regular file" :
	       strerror(-err);
}

static int load_curve(act_node_t *n, const struct act__app *app)
{
	int err;
	if (!app->curve.enabled)
		return 0;
	char key[41], why[160];
	if ((err = act__curve_read_key(app->curve.secret_key_file, true, key, why, sizeof why))) {
		fprintf(stderr, "actorsd: %s: $.curve.secret_key_file: cannot read the secret key "
		        "from %s: %s\n", app->path, app->curve.secret_key_file, why);
		return ACT_EXIT_PERMANENT;
	}
	n->curve_secret = strdup(key);
	explicit_bzero(key, sizeof key);
	if (!n->curve_secret)
		return ACT_EXIT_TEMPORARY;
	if ((err = read_key(app->curve.public_key_file, &n->curve_public))) {
		fprintf(stderr, "actorsd: %s: $.curve.public_key_file: cannot read a 40-character Z85 "
		        "key from %s: %s\n", app->path, app->curve.public_key_file,
		        key_problem(err));
		return err == -ENOMEM ? ACT_EXIT_TEMPORARY : ACT_EXIT_PERMANENT;
	}
	/* A pair that does not belong together would fail every handshake,
	 * silently, at run time: derive the public key and compare. */
	char derived[41];
	if (zmq_curve_public(derived, n->curve_secret) < 0) {
		fprintf(stderr, "actorsd: %s: $.curve: this libzmq cannot do CURVE: %s\n", app->path,
		        zmq_strerror(errno));
		return ACT_EXIT_PERMANENT;
	}
	if (strcmp(derived, n->curve_public)) {
		fprintf(stderr, "actorsd: %s: $.curve.public_key_file: the key in %s is not the public "
		        "key of the secret key in %s\n", app->path, app->curve.public_key_file,
		        app->curve.secret_key_file);
		return ACT_EXIT_PERMANENT;
	}
	if (app->curve.n_allow) {
		n->curve_allow = calloc(app->curve.n_allow, sizeof *n->curve_allow);
		if (!n->curve_allow)
			return ACT_EXIT_TEMPORARY;
		memcpy(n->curve_allow, app->curve.allow, app->curve.n_allow * sizeof *n->curve_allow);
		n->n_curve_allow = app->curve.n_allow;
	}
	return 0;
}

/* --check: bind the modules in a child, so no user code runs here either;
 * wait for it at most module_timeout_ms. */
static int check_modules(act_node_t *n, struct binder *b)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return ACT_EXIT_TEMPORARY;
	if (pid == 0)
		_exit(bind_modules(n, b));
	st = act__wait_deadline(pid, b->app->module_timeout_ms);
	if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
	    atomic_load(&b->watch->phase) == ACT__LOAD_DONE)
		return 0;
	return report_load_fault(b->app, b->watch, st < 0, st < 0 ? 0 : st);
}

/*
 * Groups a reload of the last supervisor added into spare participants
 * (reload.c): the region it left (act__recover_peek(), nothing consumed)
 * names them in its last spare_groups participants.  Each group of the
 * app file hosted there (same name, not removed since) is taken out of
 * app->groups (moved behind n_groups, where *n_all finds it for the
 * final free): the node is built as the region was made, and the group
 * goes back into its spare (tenant[k]: its index in app->groups, -1 for
 * none) once the node is built (place_tenants()).  A node with pools
 * never has one: a reload adds no group there.  True if the region has
 * such a group, listed in the app file or not.
 */
static bool find_tenants(struct act__app *app, int32_t *tenant, uint32_t *n_all)
{
	uint32_t np = 0, s = app->spare_groups, cap = ACT__APP_MAX_GROUPS + 1;
	char (*names)[ACT_NAME_MAX + 1] = calloc(cap, sizeof *names);
	bool *live = calloc(cap, sizeof *live);

	*n_all = app->n_groups;
	for (uint32_t k = 0; k < s; k++)
		tenant[k] = -1;
	for (uint32_t i = 0; i < app->n_groups; i++)
		if (app->groups[i].pool_n)
			s = 0;
	if (!s || !names || !live ||
	    act__recover_peek(app->runtime_dir, app->node, &np, names, live, cap) <= 0 ||
	    np < s + 1) {
		free(names);
		free(live);
		return false;
	}
	bool any = false;
	for (uint32_t k = 0; k < s; k++) {
		const char *name = names[np - s + k];
		if (!live[np - s + k] || !strncmp(name, "~spare-", 7))
			continue;
		any = true;
		for (uint32_t i = 0; i < app->n_groups; i++)
			if (!strcmp(app->groups[i].name, name))
				tenant[k] = (int32_t)i;
	}
	/* Stable: the other groups keep their order (their participants). */
	struct act__app_group *tmp = calloc(app->n_groups ? app->n_groups : 1, sizeof *tmp);
	uint32_t n_keep = 0, n_out = 0;
	int32_t moved[ACT__APP_MAX_GROUPS];
	if (!tmp) {
		for (uint32_t k = 0; k < s; k++)
			tenant[k] = -1;
		free(names);
		free(live);
		return any;
	}
	for (uint32_t i = 0; i < app->n_groups; i++) {
		bool hosted = false;
		for (uint32_t k = 0; k < s; k++)
			hosted |= tenant[k] == (int32_t)i;
		if (!hosted)
			tmp[n_keep++] = app->groups[i];
	}
	for (uint32_t i = 0; i < app->n_groups; i++) {
		moved[i] = -1;
		for (uint32_t k = 0; k < s; k++)
			if (tenant[k] == (int32_t)i) {
				moved[i] = (int32_t)(n_keep + n_out);
				tmp[n_keep + n_out++] = app->groups[i];
			}
	}
	for (uint32_t k = 0; k < s; k++)
		if (tenant[k] >= 0)
			tenant[k] = moved[tenant[k]];
	memcpy(app->groups, tmp, app->n_groups * sizeof *tmp);
	for (uint32_t i = n_keep; i < app->n_groups; i++)
		app->n_actors -= app->groups[i].n_actors;
	app->n_groups = n_keep;
	free(tmp);
	free(names);
	free(live);
	return any;
}

/*
 * Gives spare participant "~spare-K" its tenant's settings and name (the
 * region is matched under it: loop.c; it takes it in act_node_run()).
 * A tenant that no spare participant could take (other ring_bytes,
 * max_msg_bytes or max_spawned than the spares') is a permanent error:
 * the region stays where it is for a file that fits.
 */
static int place_tenants(act_node_t *n, const struct act__app *app, const int32_t *tenant)
{
	for (uint32_t k = 0; k < app->spare_groups; k++) {
		char spare[ACT_NAME_MAX + 1];
		if (tenant[k] < 0)
			continue;
		const struct act__app_group *g = &app->groups[tenant[k]];
		snprintf(spare, sizeof spare, "~spare-%u", k + 1);
		struct act__group_def *gd = act__reg_group(&n->reg, spare);
		uint32_t slots = g->max_spawned ? g->max_spawned : ACT__DYN_SLOTS_DEFAULT;
		uint32_t spare_slots = gd && gd->max_spawned ? gd->max_spawned : ACT__DYN_SLOTS_DEFAULT;
		if (!gd)
			return ACT_EXIT_TEMPORARY;
		if (g->pool_n || g->ring_bytes != gd->ring_bytes || g->max_msg_bytes != gd->max_msg ||
		    slots != spare_slots) {
			fprintf(stderr, "actorsd: %s: group '%s' was added by a reload into a spare "
			        "participant of the region left in place (ring_bytes %u, max_msg_bytes "
			        "%u, max_spawned %u, no pool), and the app file now gives it other ones: "
			        "restore them to adopt the region (not starting, exit 100; the region "
			        "stays where it is)\n", app->path, g->name, gd->ring_bytes, gd->max_msg,
			        spare_slots);
			return ACT_EXIT_PERMANENT;
		}
		if (!(gd->tenant = strdup(g->name)))
			return ACT_EXIT_TEMPORARY;
		act__app_group_settings(gd, g);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "check", no_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct act__app app;
	struct binder binder = { 0 };
	int32_t tenant[ACT__APP_MAX_GROUPS];
	uint32_t n_all = 0;
	char err[1024];
	int check = 0, c, rc;

	while ((c = getopt_long(argc, argv, "cfVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': check = 1; break;
		case 'f': break;
		case 'V': printf("actorsd (actors) %s\n", PACKAGE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return ACT_EXIT_PERMANENT;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return ACT_EXIT_PERMANENT;
	}
	act__log_set_ident("actorsd");
	if (act__app_load(argv[optind], &app, err, sizeof err)) {
		fprintf(stderr, "actorsd: %s\n", err);
		return ACT_EXIT_PERMANENT;
	}
	/* Under systemd: $STATE_DIRECTORY, $RUNTIME_DIRECTORY as defaults. */
	if ((rc = act__sysdirs_apply(&app, err, sizeof err))) {
		fprintf(stderr, "actorsd: %s: %s\n", app.path, err);
		act__app_free(&app);
		return rc == -ENOMEM ? ACT_EXIT_TEMPORARY : ACT_EXIT_PERMANENT;
	}
	/* Not for --check: it checks the file as the operator wrote it. */
	bool tenants = !check && find_tenants(&app, tenant, &n_all);
	act_node_t *n = node_from_app(&app, &rc);
	if (!n) {
		fprintf(stderr, "actorsd: %s: %s\n", app.path, act_strerror(rc));
		app.n_groups = n_all;
		act__app_free(&app);
		return rc == -ENOMEM ? ACT_EXIT_TEMPORARY : ACT_EXIT_PERMANENT;
	}
	if (!check && (rc = place_tenants(n, &app, tenant)))
		goto out;
	binder.app = &app;
	/* Shared with the process that loads the modules (zygote or --check
	 * child), so that its death or hang can be blamed on one module. */
	binder.watch = mmap(NULL, sizeof *binder.watch, PROT_READ | PROT_WRITE,
	                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (binder.watch == MAP_FAILED) {
		fprintf(stderr, "actorsd: %s: %s\n", app.path, strerror(errno));
		rc = ACT_EXIT_TEMPORARY;
		goto out;
	}
	atomic_store(&binder.watch->group, -1);
	atomic_store(&binder.watch->phase, ACT__LOAD_IDLE);
	if ((rc = load_curve(n, &app)) || (rc = act__curve_load_peers(n, &app)) ||
	    (rc = act__preflight_modules(&app)) || (rc = act__preflight_paths(&app, !check)))
		goto out;
	/* A path that is not a free or stale socket is a permanent error
	 * (after an upgrade it is ours: the listening fd came across exec).
	 * Before the endpoint: a second start against a live node (frozen
	 * even) would otherwise find the port busy and exit 111, which a
	 * service manager retries for good. */
	if (!check && app.control_socket && !getenv("ACTORS_UPGRADE_FDS") &&
	    act__ctl_check_path(app.control_socket, err, sizeof err) < 0) {
		fprintf(stderr, "actorsd: %s: $.control_socket: %s\n", app.path, err);
		rc = ACT_EXIT_PERMANENT;
		goto out;
	}
	/* So for the region: a second start of a node whose region a live
	 * actorsd holds (another control socket) would find its endpoint
	 * busy, exit 111 and be retried for good. */
	pid_t owner;
	if (!check && !getenv("ACTORS_UPGRADE_FDS") &&
	    (owner = act__recover_owner(app.runtime_dir, app.node)) > 0) {
		fprintf(stderr, "actorsd: %s: the region of node '%s' belongs to a running actorsd "
		        "(pid %d): not starting a second supervisor\n", app.path, app.node,
		        (int)owner);
		rc = ACT_EXIT_PERMANENT;
		goto out;
	}
	if ((rc = act__preflight_endpoint(&app, check)))
		goto out;
	if (check) {
		rc = check_modules(n, &binder);
		if (rc == 0)
			printf("%s: OK (%u groups, %u actors)\n", app.path, app.n_groups, app.n_actors);
		goto out;
	}
	n->zygote_init = bind_modules;
	n->zygote_arg = &binder;
	n->sp.init_timeout_ms = app.module_timeout_ms;
	/* The region outlives this process: a restart or an upgrade adopts it. */
	if ((rc = act__recover_config(n, app.runtime_dir, argv))) {
		rc = ACT_EXIT_TEMPORARY;
		goto out;
	}
	/* A region whose spare participants host groups a reload added is
	 * refused in place, if at all: moved aside, nothing could adopt it
	 * (a next start with the right app file would make a new one). */
	if (tenants)
		act__recover_keep_refused(n);
	/* actorsctl reload and SIGHUP (reload.c); without it, SIGHUP is ignored. */
	struct act__reloader *reloader = act__reload_arm(n, &app, err, sizeof err);
	if (!reloader)
		act__warn("%s: %s", app.path, err);
	/* A group back in its spare participant needs the reload machinery:
	 * its worker loads its module from there. */
	for (uint32_t k = 0; k < app.spare_groups; k++)
		if (tenant[k] >= 0 && (!reloader || act__reload_tenant(reloader,
		                                                        &app.groups[tenant[k]], k,
		                                                        err, sizeof err))) {
			if (reloader)
				act__err("%s: %s; not starting (exit 111)", app.path, err);
			act__reload_free(reloader);
			rc = ACT_EXIT_TEMPORARY;
			goto out;
		}
	rc = act_node_run(n);
	act__reload_free(reloader);
	if (act__recover_refused(n)) {
		/* A region from an earlier run that this app file cannot take
		 * over, or one a live actorsd serves: do not restart. */
		rc = ACT_EXIT_PERMANENT;
		goto out;
	}
	if (rc == -ECHILD || rc == -ETIMEDOUT) {
		rc = report_load_fault(&app, binder.watch, rc == -ETIMEDOUT, n->sp.init_status);
	} else if (rc == -EINTR) {
		/* Stopped while the modules were loading (only reached if the
		 * stop signal, pending once the node restored its mask, does not
		 * end this process by its default action). */
		rc = ACT_EXIT_OK;
	} else if (rc < 0) {
		act__err("%s: cannot run the node: %s", app.path, act_strerror(rc));
		rc = ACT_EXIT_TEMPORARY;
	}
out:
	if (n_all > app.n_groups)
		app.n_groups = n_all; /* the tenants, for the free */
	if (binder.watch && binder.watch != MAP_FAILED)
		munmap(binder.watch, sizeof *binder.watch);
	act_node_free(n);
	act__app_free(&app);
	return rc;
}
