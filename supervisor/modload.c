/*
 * modload.c - actorsd only: dlopen()s a group module and runs its
 * actors_module_init(), which fills a struct act_module (src/module.c).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modload.h"

struct act_module *act__module_load(const char *path, char *err, size_t err_cap)
{
	struct act_module *m = calloc(1, sizeof *m);
	act_module_init_fn init;
	int rc;

	if (!m) {
		snprintf(err, err_cap, "out of memory");
		return NULL;
	}
	m->path = strdup(path);
	m->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!m->handle) {
		snprintf(err, err_cap, "cannot load module %s: %s", path, dlerror());
		goto fail;
	}
	*(void **)&init = dlsym(m->handle, ACT_MODULE_INIT_SYMBOL);
	if (!init) {
		snprintf(err, err_cap, "module %s does not export %s()", path, ACT_MODULE_INIT_SYMBOL);
		goto fail;
	}
	rc = init(m);
	if (rc) {
		snprintf(err, err_cap, "module %s: %s() failed: %s", path, ACT_MODULE_INIT_SYMBOL,
		         act_strerror(rc));
		goto fail;
	}
	return m;
fail:
	/* The handle stays open on purpose: code from it may still be
	 * referenced, and the process is about to exit anyway. */
	free(m->b);
	free(m->types);
	free(m->path);
	free(m);
	return NULL;
}
