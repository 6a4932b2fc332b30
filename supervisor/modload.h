/* SPDX-License-Identifier: MIT */
/*
 * modload.h - private to actorsd: loading group modules (shared objects).
 */
#ifndef ACT_MODLOAD_H
#define ACT_MODLOAD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "module.h"

/*
 * Where a module-loading process is, kept in memory it shares with the
 * process that waits for it (MAP_SHARED, made before the fork).  Modules
 * run arbitrary code while they load: when the loader dies, exits or
 * hangs, this is how the waiting side names the module and the step.
 */
enum act__load_phase {
	ACT__LOAD_IDLE,      /* nothing loaded yet */
	ACT__LOAD_OPEN,      /* dlopen(): the module's constructors run */
	ACT__LOAD_INIT,      /* its actors_module_init() runs */
	ACT__LOAD_BIND,      /* binding actors to behaviours (our code) */
	ACT__LOAD_FAILED,    /* the loader found a problem and printed it */
	ACT__LOAD_DONE,      /* every module loaded and bound */
};

struct act__load_watch {
	_Atomic int32_t group;   /* index of the group whose module is loading, -1 */
	_Atomic int32_t phase;   /* enum act__load_phase */
};

/* Text of a phase for a message: "in a constructor", "in actors_module_init()". */
const char *act__load_phase_text(int32_t phase);

/*
 * Checks that path names a regular file that can be opened for reading,
 * without blocking (a FIFO is refused, never opened for a wait).  0 or
 * -errno with a one-line reason naming path in err.  Runs no module code.
 */
int act__module_check_file(const char *path, char *err, size_t err_cap);

/*
 * dlopen()s path and runs its actors_module_init().  Returns the module,
 * or NULL with a one-line reason in err.  Runs user code: call it only in
 * the zygote or in a child made for checking, never in the supervisor.
 * w (may be NULL) is moved to ACT__LOAD_OPEN and ACT__LOAD_INIT as the
 * module's code runs, and back to ACT__LOAD_BIND when it returned.
 */
struct act_module *act__module_load(const char *path, struct act__load_watch *w,
                                    char *err, size_t err_cap);

#endif
