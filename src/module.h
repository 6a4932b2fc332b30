/*
 * module.h - private: loading group modules (shared objects) for actorsd.
 */
#ifndef ACT_MODULE_PRIV_H
#define ACT_MODULE_PRIV_H

#include <stddef.h>

#include <actors.h>

struct act_module {
	char *path;
	void *handle;
	const act_behaviour **b;
	size_t n_b, cap_b;
	act_type **types;
	size_t n_types, cap_types;
};

/*
 * dlopen()s path and runs its actors_module_init().  Returns the module,
 * or NULL with a one-line reason in err.  Runs user code: call it only in
 * the zygote or in a child made for checking, never in the supervisor.
 */
struct act_module *act__module_load(const char *path, char *err, size_t err_cap);
/* Behaviour `name` of module m, or NULL. */
const act_behaviour *act__module_behaviour(const struct act_module *m, const char *name);
/* Writes the module's behaviour names, comma-separated, into buf. */
void act__module_list(const struct act_module *m, char *buf, size_t cap);

#endif
