/* SPDX-License-Identifier: MIT */
/*
 * module.h - private: the module object that a group module fills.
 */
#ifndef ACT_MODULE_PRIV_H
#define ACT_MODULE_PRIV_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include <actors.h>

struct act_module {
	char *path;
	void *handle;
	const act_behaviour **b;
	uint32_t n_b, cap_b;
	const act_type **types;
	uint32_t n_types, cap_types;
};

/* Behaviour `name` of module m, or NULL. */
ACT__SHARED const act_behaviour *act__module_behaviour(const struct act_module *m, const char *name);
/* Writes the module's behaviour names, comma-separated, into buf. */
ACT__SHARED void act__module_list(const struct act_module *m, char *buf, size_t cap);

#endif
