/* SPDX-License-Identifier: MIT */
/*
 * sysdirs.h - private: the directories systemd hands actorsd
 * ($STATE_DIRECTORY, $RUNTIME_DIRECTORY) as defaults for the app file.
 */
#ifndef ACT_SYSDIRS_H
#define ACT_SYSDIRS_H

#include "appfile.h"

/*
 * Where the app file at app->path names no "state_dir", the first entry
 * of $STATE_DIRECTORY becomes it; where it names no "control_socket",
 * $RUNTIME_DIRECTORY/control.sock does (else STATE_DIR/actorsd.sock, as
 * before, with the new state_dir).  An explicit key always wins.  Returns
 * 0, or -ENOMEM / -ENAMETOOLONG with a reason in err.  actorsd only, at
 * start, before the preflight checks.
 */
int act__sysdirs_apply(struct act__app *app, char *err, size_t err_cap);

#endif
