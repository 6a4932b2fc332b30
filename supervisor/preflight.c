/* SPDX-License-Identifier: MIT */
/*
 * preflight.c - actorsd only: what an app file names on this machine,
 * checked before anything runs.
 *
 * The app file parser (appfile.c) checks the file against the schema and
 * touches nothing.  Here are the checks that need the machine: the state
 * directory and the control socket's directory, the endpoint (bound once
 * in a throwaway child), the module files.  Each problem is one line on
 * stderr naming the app file and the JSON path, and is classified by
 * actorsd(8)'s exit codes: what no restart can fix is permanent (100), a
 * resource that may come back is temporary (111).  Nothing here runs
 * module code or leaves a ZeroMQ context in this process.
 */
#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include <actors.h>

#include "modload.h"
#include "pathcheck.h"
#include "preflight.h"

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

/* A state directory that is a file, or a socket whose directory does not
 * exist, is a configuration no restart can fix. */
int act__preflight_paths(const struct act__app *app, bool create)
{
	struct stat st;
	char *dl = NULL, *tmp, *dir;
	bool state_missing = false;
	int rc = 0, err;

	if (stat(app->state_dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			fprintf(stderr, "actorsd: %s: $.state_dir: %s is %s, not a directory\n",
			        app->path, app->state_dir, act__file_kind(st.st_mode));
			return ACT_EXIT_PERMANENT;
		}
	} else if (errno == ENOENT && !create) {
		state_missing = true;
	} else if (errno != ENOENT) {
		fprintf(stderr, "actorsd: %s: $.state_dir: cannot use %s: %s\n", app->path,
		        app->state_dir, strerror(errno));
		return ACT_EXIT_PERMANENT;
	}
	if (create) {
		if ((err = mkdirs(app->state_dir))) {
			fprintf(stderr, "actorsd: %s: $.state_dir: cannot create %s: %s\n", app->path,
			        app->state_dir, strerror(-err));
			return ACT_EXIT_PERMANENT;
		}
		if (access(app->state_dir, W_OK | X_OK) < 0) {
			fprintf(stderr, "actorsd: %s: $.state_dir: cannot write into %s: %s\n",
			        app->path, app->state_dir, strerror(errno));
			return ACT_EXIT_PERMANENT;
		}
	}
	/* The dead-letter store is opened for appending: a FIFO there would
	 * block the start. */
	if (!state_missing && asprintf(&dl, "%s/dead-letters.jsonl", app->state_dir) >= 0) {
		if (stat(dl, &st) == 0 && !S_ISREG(st.st_mode)) {
			fprintf(stderr, "actorsd: %s: $.state_dir: %s is %s, not the dead-letter "
			        "file\n", app->path, dl, act__file_kind(st.st_mode));
			rc = ACT_EXIT_PERMANENT;
		}
		free(dl);
		if (rc)
			return rc;
	}

	if (!app->control_socket)
		return 0;
	if (!(tmp = strdup(app->control_socket)))
		return ACT_EXIT_TEMPORARY;
	dir = dirname(tmp);
	if (stat(dir, &st) < 0) {
		/* Under a state directory --check did not create: fine. */
		if (!(state_missing && !strcmp(dir, app->state_dir))) {
			fprintf(stderr, "actorsd: %s: $.control_socket: the directory %s of %s: %s\n",
			        app->path, dir, app->control_socket, strerror(errno));
			rc = ACT_EXIT_PERMANENT;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "actorsd: %s: $.control_socket: %s is %s, not a directory\n",
		        app->path, dir, act__file_kind(st.st_mode));
		rc = ACT_EXIT_PERMANENT;
	} else if (lstat(app->control_socket, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "actorsd: %s: $.control_socket: %s exists and is %s, not a "
		        "socket\n", app->path, app->control_socket, act__file_kind(st.st_mode));
		rc = ACT_EXIT_PERMANENT;
	} else if (create && access(dir, W_OK | X_OK) < 0) {
		/* Only for a start: --check may well run as another user. */
		fprintf(stderr, "actorsd: %s: $.control_socket: cannot create a socket in %s: %s\n",
		        app->path, dir, strerror(errno));
		rc = ACT_EXIT_PERMANENT;
	}
	free(tmp);
	return rc;
}

int act__wait_deadline(pid_t pid, uint32_t timeout_ms)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), st = 0, r = 1;
	int64_t left_ms = timeout_ms;
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (pidfd >= 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		while ((r = poll(&p, 1, (int)left_ms)) < 0 && errno == EINTR) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			left_ms = (int64_t)timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000 +
			                                 (t.tv_nsec - t0.tv_nsec) / 1000000);
			if (left_ms < 0)
				left_ms = 0;
		}
		close(pidfd);
		if (r == 0)
			kill(pid, SIGKILL);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return r == 0 ? -1 : st;
}

#define ENDPOINT_CHECK_MS 5000u   /* resolving a host name may take a while */

/* Binds in a child: no ZeroMQ context may exist in the supervisor before
 * the zygote is forked.  An address that is not one, a privileged port or
 * a missing ipc directory never works; a busy port or an address not
 * configured yet may work later. */
int act__preflight_endpoint(const struct act__app *app, bool check)
{
	const char *ep = app->endpoint;
	int st, e;

	if (!ep)
		return 0;
	if (check && !strncmp(ep, "ipc://", 6)) {
		/* Not bound (that would take the path over from a running
		 * node), but its directory must exist. */
		char *tmp = strdup(ep + 6), *dir;
		struct stat sb;
		int rc = 0;
		if (!tmp)
			return ACT_EXIT_TEMPORARY;
		dir = dirname(tmp);
		if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
			fprintf(stderr, "actorsd: %s: $.endpoint: cannot bind %s: %s is not a "
			        "directory\n", app->path, ep, dir);
			rc = ACT_EXIT_PERMANENT;
		}
		free(tmp);
		return rc;
	}
	pid_t pid = fork();
	if (pid < 0)
		return ACT_EXIT_TEMPORARY;
	if (pid == 0) {
		void *ctx = zmq_ctx_new();
		void *s = ctx ? zmq_socket(ctx, ZMQ_PULL) : NULL;
		int linger = 0;
		e = 0;
		if (!s)
			_exit(255);
		zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
		if (zmq_bind(s, ep) < 0)
			e = errno;
		zmq_close(s);
		zmq_ctx_term(ctx);
		_exit(e > 0 && e < 255 ? e : e ? 254 : 0);
	}
	st = act__wait_deadline(pid, ENDPOINT_CHECK_MS);
	if (st < 0) {
		fprintf(stderr, "actorsd: %s: $.endpoint: binding %s did not finish within %u ms\n",
		        app->path, ep, ENDPOINT_CHECK_MS);
		return check ? 0 : ACT_EXIT_TEMPORARY;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) == 255)
		return ACT_EXIT_TEMPORARY;
	e = WEXITSTATUS(st);
	if (e == 0)
		return 0;
	if (e == EADDRINUSE || e == EADDRNOTAVAIL || e == ENOMEM || e == EMFILE ||
	    e == ENFILE || e == ENOBUFS || e == EAGAIN) {
		if (check)
			return 0; /* e.g. the node runs and holds it */
		fprintf(stderr, "actorsd: %s: $.endpoint: cannot bind %s now: %s\n", app->path, ep,
		        strerror(e));
		return ACT_EXIT_TEMPORARY;
	}
	/* The gateway binds without ZMQ_IPV6, so a bracketed IPv6 host is
	 * taken for an interface name that does not exist. */
	bool v6 = e == ENODEV && !strncmp(ep, "tcp://[", 7);
	fprintf(stderr, "actorsd: %s: $.endpoint: cannot bind %s: %s%s\n", app->path, ep,
	        e == 254 ? "not a usable ZeroMQ endpoint" : zmq_strerror(e),
	        v6 ? " (the gateway does not bind IPv6 endpoints yet)" : "");
	return ACT_EXIT_PERMANENT;
}

/* Checked here, in the supervisor, so that a FIFO is never opened for a wait. */
int act__preflight_modules(const struct act__app *app)
{
	char err[512];

	for (uint32_t gi = 0; gi < app->n_groups; gi++)
		if (act__module_check_file(app->groups[gi].module, err, sizeof err)) {
			fprintf(stderr, "actorsd: %s: $.groups[%u].module: %s\n", app->path, gi, err);
			return ACT_EXIT_PERMANENT;
		}
	return 0;
}
