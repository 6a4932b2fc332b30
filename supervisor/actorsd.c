/*
 * actorsd - run an actor application described by an app file.
 *
 *     actorsd [--check] APP.json
 *
 * A thin main() over libactors: parse and validate the app file
 * (src/appfile.c), declare the node from it, and hand it to the same
 * supervision engine the embedded act_node_run() uses.  Group modules are
 * loaded in the zygote, never in this process, so a module's bugs cannot
 * take the supervisor down.  Exit codes: see actorsd(8).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <actors.h>

#include "appfile.h"
#include "control.h"
#include "log.h"
#include "modload.h"
#include "node.h"

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

/* Creates dir and its parents (mode 0700).  0 or -errno. */
static int mkdirs(const char *dir)
{
	char *p = strdup(dir);
	int err = 0;

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			err = -errno;
			break;
		}
		*s = '/';
	}
	if (!err && mkdir(p, 0700) < 0 && errno != EEXIST)
		err = -errno;
	free(p);
	return err;
}

struct binder {
	const struct act__app *app;
};

/*
 * Loads every group's module and binds each actor to its behaviour.  Runs
 * in the zygote (or a --check child): user code runs here.  Returns 0 or
 * ACT_EXIT_PERMANENT after printing one message naming the file and place.
 */
static int bind_modules(struct act_node *n, void *arg)
{
	const struct act__app *app = ((struct binder *)arg)->app;
	struct act_module **mods = calloc(app->n_groups, sizeof *mods);
	char err[512];

	if (!mods)
		return ACT_EXIT_TEMPORARY;
	for (uint32_t gi = 0; gi < app->n_groups; gi++) {
		const struct act__app_group *g = &app->groups[gi];
		for (uint32_t k = 0; k < gi && !mods[gi]; k++)
			if (!strcmp(app->groups[k].module, g->module))
				mods[gi] = mods[k];
		if (!mods[gi] && !(mods[gi] = act__module_load(g->module, err, sizeof err))) {
			fprintf(stderr, "actorsd: %s: $.groups[%u].module: %s\n", app->path, gi, err);
			return ACT_EXIT_PERMANENT;
		}
		for (size_t t = 0; t < mods[gi]->n_types; t++)
			if (act__reg_add_type(&n->reg, mods[gi]->types[t]) == -EEXIST) {
				fprintf(stderr, "actorsd: %s: $.groups[%u].module: %s registers a "
				        "second type named '%s'\n", app->path, gi, g->module,
				        mods[gi]->types[t]->name);
				return ACT_EXIT_PERMANENT;
			}
		for (uint32_t ai = 0; ai < g->n_actors; ai++) {
			const struct act__app_actor *a = &g->actors[ai];
			const act_behaviour *b = act__module_behaviour(mods[gi], a->behaviour);
			int id = act__reg_find_actor(&n->reg, a->name);
			if (!b) {
				act__module_list(mods[gi], err, sizeof err);
				fprintf(stderr, "actorsd: %s: $.groups[%u].actors[%u].behaviour: module %s "
				        "has no behaviour '%s' (it has: %s)\n", app->path, gi, ai,
				        g->module, a->behaviour, err);
				return ACT_EXIT_PERMANENT;
			}
			for (size_t h = 0; h < b->n_handlers; h++)
				if (act__reg_add_type(&n->reg, b->handlers[h].type) == -EEXIST) {
					fprintf(stderr, "actorsd: %s: $.groups[%u].actors[%u]: behaviour '%s' "
					        "handles a type named '%s' that another module defines "
					        "differently\n", app->path, gi, ai, b->name,
					        b->handlers[h].type->name);
					return ACT_EXIT_PERMANENT;
				}
			if (id >= 0)
				n->reg.actors[id].b = b;
		}
	}
	free(mods); /* the modules stay loaded for the zygote's lifetime */
	return 0;
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
		gd->spin_us = g->spin_us;
		gd->max_redeliveries = g->max_redeliveries;
		gd->heartbeat_ms = g->heartbeat_ms;
		gd->heartbeat_timeout_ms = g->heartbeat_timeout_ms;
		gd->shutdown_ms = g->brutal_kill ? 0 : g->shutdown_ms;
		gd->restart = g->restart;
		gd->hot_standby = g->hot_standby;
		for (uint32_t ai = 0; ai < g->n_actors; ai++) {
			const struct act__app_actor *a = &g->actors[ai];
			if ((*err = act__reg_add_actor_named(&n->reg, g->name, a->name, a->behaviour,
			                                     a->args_json)))
				goto fail;
			n->reg.actors[n->reg.n_actors - 1].remote = a->remote;
		}
	}
	for (uint32_t i = 0; i < app->n_peers; i++)
		if ((*err = act__reg_add_peer(&n->reg, app->peers[i].name, app->peers[i].endpoint)))
			goto fail;
	if (app->endpoint && (*err = act_node_set_endpoint(n, app->endpoint, app->advertise)))
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

/* Reads a Z85 key (40 characters, surrounding whitespace ignored) from path. */
static int read_key(const char *path, char **out)
{
	char buf[128];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *s = buf;
	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	size_t len = strcspn(s, " \t\r\n");
	if (len != 40)
		return -EINVAL;
	s[40] = '\0';
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int load_curve(act_node_t *n, const struct act__app *app)
{
	int err;
	if (!app->curve.enabled)
		return 0;
	if ((err = read_key(app->curve.secret_key_file, &n->curve_secret))) {
		fprintf(stderr, "actorsd: %s: $.curve.secret_key_file: cannot read a 40-character Z85 "
		        "key from %s: %s\n", app->path, app->curve.secret_key_file,
		        err == -EINVAL ? "not a Z85 key" : strerror(-err));
		return ACT_EXIT_PERMANENT;
	}
	if ((err = read_key(app->curve.public_key_file, &n->curve_public))) {
		fprintf(stderr, "actorsd: %s: $.curve.public_key_file: cannot read a 40-character Z85 "
		        "key from %s: %s\n", app->path, app->curve.public_key_file,
		        err == -EINVAL ? "not a Z85 key" : strerror(-err));
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

/* --check: bind the modules in a child, so no user code runs here either. */
static int check_modules(act_node_t *n, struct binder *b)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return ACT_EXIT_TEMPORARY;
	if (pid == 0)
		_exit(bind_modules(n, b));
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return ACT_EXIT_TEMPORARY;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	fprintf(stderr, "actorsd: %s: a module crashed while loading (signal %d)\n",
	        b->app->path, WTERMSIG(st));
	return ACT_EXIT_PERMANENT;
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
	struct binder binder;
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
	act_node_t *n = node_from_app(&app, &rc);
	if (!n) {
		fprintf(stderr, "actorsd: %s: %s\n", app.path, act_strerror(rc));
		act__app_free(&app);
		return ACT_EXIT_PERMANENT;
	}
	binder.app = &app;
	if ((rc = load_curve(n, &app))) {
		act_node_free(n);
		act__app_free(&app);
		return rc;
	}
	if (check) {
		rc = check_modules(n, &binder);
		if (rc == 0)
			printf("%s: OK (%u groups, %u actors)\n", app.path, app.n_groups, app.n_actors);
		act_node_free(n);
		act__app_free(&app);
		return rc;
	}
	if ((rc = mkdirs(app.state_dir))) {
		fprintf(stderr, "actorsd: %s: $.state_dir: cannot create %s: %s\n", app.path,
		        app.state_dir, strerror(-rc));
		act_node_free(n);
		act__app_free(&app);
		return ACT_EXIT_PERMANENT;
	}
	/* A path that is not a free or stale socket is a permanent error. */
	if (app.control_socket &&
	    act__ctl_check_path(app.control_socket, err, sizeof err) < 0) {
		fprintf(stderr, "actorsd: %s: $.control_socket: %s\n", app.path, err);
		act_node_free(n);
		act__app_free(&app);
		return ACT_EXIT_PERMANENT;
	}
	n->zygote_init = bind_modules;
	n->zygote_arg = &binder;
	rc = act_node_run(n);
	act_node_free(n);
	act__app_free(&app);
	if (rc < 0) {
		act__err("cannot run the node: %s", act_strerror(rc));
		return ACT_EXIT_TEMPORARY;
	}
	return rc;
}
