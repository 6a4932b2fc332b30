/*
 * modload.h - private to actorsd: loading group modules (shared objects).
 */
#ifndef ACT_MODLOAD_H
#define ACT_MODLOAD_H

#include <stddef.h>

#include "module.h"

/*
 * dlopen()s path and runs its actors_module_init().  Returns the module,
 * or NULL with a one-line reason in err.  Runs user code: call it only in
 * the zygote or in a child made for checking, never in the supervisor.
 */
struct act_module *act__module_load(const char *path, char *err, size_t err_cap);

#endif
