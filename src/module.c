/* SPDX-License-Identifier: MIT */
/*
 * module.c - the module object: what a group module (a shared object)
 * registers through act_module_add_*() from its actors_module_init().
 * Loading the shared object is actorsd's job (modload.c, beside the
 * programs), not the library's.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "message.h"
#include "module.h"

ACT_API int act_module_add_behaviour(act_module *m, const act_behaviour *b)
{
	if (!m || !b || !b->name || !*b->name || (b->n_handlers && !b->handlers))
		return -EINVAL;
	if (act__module_behaviour(m, b->name))
		return -EEXIST;
	for (size_t i = 0; i < b->n_handlers; i++)
		if (!b->handlers[i].type || !b->handlers[i].fn ||
		    act__type_validate(b->handlers[i].type))
			return -EINVAL;
	if (act__grow((void **)&m->b, &m->cap_b, m->n_b + 1, sizeof *m->b))
		return -ENOMEM;
	m->b[m->n_b++] = b;
	return 0;
}

ACT_API int act_module_add_type(act_module *m, const act_type *t)
{
	if (!m || !t || act__type_validate(t))
		return -EINVAL;
	if (act__grow((void **)&m->types, &m->cap_types, m->n_types + 1, sizeof *m->types))
		return -ENOMEM;
	m->types[m->n_types++] = t;
	return 0;
}

const act_behaviour *act__module_behaviour(const struct act_module *m, const char *name)
{
	for (size_t i = 0; i < m->n_b; i++)
		if (!strcmp(m->b[i]->name, name))
			return m->b[i];
	return NULL;
}

void act__module_list(const struct act_module *m, char *buf, size_t cap)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < m->n_b && off + 1 < cap; i++)
		off += (size_t)snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", m->b[i]->name);
	if (!m->n_b)
		snprintf(buf, cap, "none");
}
