/* SPDX-License-Identifier: MIT */
/*
 * sysdirs.c - the directories systemd creates for a unit
 * (RuntimeDirectory=, StateDirectory=) as actorsd's defaults.
 *
 * The app file's own "state_dir" and "control_socket" win.  The parser
 * (appfile.c) fills both with defaults, so whether the file named them is
 * learnt here from the file's top-level keys.  systemd passes each
 * variable as a colon-separated list when the unit names several
 * directories: the first one is ours.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <cjson/cJSON.h>

#include "sysdirs.h"

/* The first entry of the colon-separated list in $var, or NULL. */
static char *first_dir(const char *var)
{
	const char *v = getenv(var);
	if (!v || v[0] != '/')
		return NULL;
	return strndup(v, strcspn(v, ":"));
}

/* Which of the two keys the app file names at its top level. */
static void keys_given(const char *path, bool *state, bool *control)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len = 0, cap = 0;
	cJSON *o;

	*state = *control = true; /* unreadable now: change nothing */
	if (!f)
		return;
	for (;;) {
		if (len == cap) {
			char *t = realloc(text, cap ? cap * 2 : 65536);
			if (!t)
				goto out;
			text = t;
			cap = cap ? cap * 2 : 65536;
		}
		size_t r = fread(text + len, 1, cap - len, f);
		len += r;
		if (r == 0)
			break;
	}
	if ((o = cJSON_ParseWithLength(text, len))) {
		*state = cJSON_HasObjectItem(o, "state_dir");
		*control = cJSON_HasObjectItem(o, "control_socket");
		cJSON_Delete(o);
	}
out:
	free(text);
	fclose(f);
}

int act__sysdirs_apply(struct act__app *app, char *err, size_t err_cap)
{
	char *state = first_dir("STATE_DIRECTORY"), *run = first_dir("RUNTIME_DIRECTORY");
	char *sock = NULL;
	bool has_state, has_control;
	int rc = 0;

	if (!state && !run)
		return 0;
	keys_given(app->path, &has_state, &has_control);
	if (state && !has_state) {
		free(app->state_dir);
		app->state_dir = state;
		state = NULL;
	}
	if (!has_control) {
		const char *dir = run ? run : app->state_dir;
		size_t n = strlen(dir) + sizeof "/actorsd.sock";
		if (!(sock = malloc(n))) {
			rc = -ENOMEM;
			snprintf(err, err_cap, "out of memory");
			goto out;
		}
		snprintf(sock, n, "%s/%s", dir, run ? "control.sock" : "actorsd.sock");
		if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			rc = -ENAMETOOLONG;
			snprintf(err, err_cap, "control socket %s (from $%s) is too long for a "
			         "socket path; set control_socket", sock,
			         run ? "RUNTIME_DIRECTORY" : "STATE_DIRECTORY");
			goto out;
		}
		free(app->control_socket);
		app->control_socket = sock;
		sock = NULL;
	}
out:
	free(sock);
	free(state);
	free(run);
	return rc;
}
