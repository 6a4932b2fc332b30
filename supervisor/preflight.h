/* SPDX-License-Identifier: MIT */
/*
 * preflight.h - private to actorsd: what an app file names on this machine
 * (directories, the endpoint, module files), checked before anything runs.
 *
 * Each function returns 0, or an exit code of actorsd(8) after printing
 * one line "actorsd: FILE: $.path: problem" to stderr: ACT_EXIT_PERMANENT
 * for a configuration no restart can fix, ACT_EXIT_TEMPORARY for one that
 * may work later.  Call them in the supervisor before the zygote is forked:
 * they run no module code and leave no thread or ZeroMQ context behind.
 */
#ifndef ACT_PREFLIGHT_H
#define ACT_PREFLIGHT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "appfile.h"

/*
 * state_dir must be (or, for a start, become: create) a writable
 * directory; the dead-letter file in it, if any, a regular file; the
 * control socket's directory must exist (and be writable, for a start),
 * and the socket path must not be another kind of file.  --check (create
 * false) creates nothing and accepts a state directory that does not exist
 * yet.
 */
int act__preflight_paths(const struct act__app *app, bool create);

/*
 * Binds the endpoint once in a child and classifies a failure.  For
 * --check (check true) only permanent failures count, and an ipc endpoint
 * is not bound (that would take the path over from a running node): only
 * its directory is checked.  Blocks at most a few seconds (name lookup).
 */
int act__preflight_endpoint(const struct act__app *app, bool check);

/*
 * Waits for child pid at most timeout_ms (through a pidfd), reaps it and
 * returns its wait status; or kills it (SIGKILL), reaps it and returns -1.
 */
int act__wait_deadline(pid_t pid, uint32_t timeout_ms);

/* Every group's module is a regular file that can be opened (without
 * blocking on a FIFO). */
int act__preflight_modules(const struct act__app *app);

#endif
