/* SPDX-License-Identifier: MIT */
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
#include <sys/stat.h>
#include <unistd.h>

#include "modload.h"
#include "pathcheck.h"

const char *act__load_phase_text(int32_t phase)
{
	switch (phase) {
	case ACT__LOAD_OPEN: return "while loading it (in a constructor)";
	case ACT__LOAD_INIT: return "in " ACT_MODULE_INIT_SYMBOL "()";
	default: return "while its behaviours were bound";
	}
}

static void set_phase(struct act__load_watch *w, enum act__load_phase p)
{
	if (w)
		atomic_store(&w->phase, (int32_t)p);
}

int act__module_check_file(const char *path, char *err, size_t err_cap)
{
	struct stat st;
	int fd = act__open_regular(path, &st);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (fd == -EINVAL || fd == -EISDIR)
		snprintf(err, err_cap, "module %s is %s, not a shared object file", path,
		         act__file_kind(st.st_mode));
	else
		snprintf(err, err_cap, "cannot open module %s: %s", path, strerror(-fd));
	return fd;
}

struct act_module *act__module_load(const char *path, struct act__load_watch *w,
                                    char *err, size_t err_cap)
{
	struct act_module *m = calloc(1, sizeof *m);
	act_module_init_fn init;
	int rc;

	if (!m) {
		snprintf(err, err_cap, "out of memory");
		return NULL;
	}
	m->path = strdup(path);
	if (act__module_check_file(path, err, err_cap))
		goto fail;
	set_phase(w, ACT__LOAD_OPEN);
	m->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	set_phase(w, ACT__LOAD_BIND);
	if (!m->handle) {
		snprintf(err, err_cap, "cannot load module %s: %s", path, dlerror());
		goto fail;
	}
	*(void **)&init = dlsym(m->handle, ACT_MODULE_INIT_SYMBOL);
	if (!init) {
		snprintf(err, err_cap, "module %s does not export %s()", path, ACT_MODULE_INIT_SYMBOL);
		goto fail;
	}
	set_phase(w, ACT__LOAD_INIT);
	rc = init(m);
	set_phase(w, ACT__LOAD_BIND);
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
