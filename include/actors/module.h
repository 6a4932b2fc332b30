/* SPDX-License-Identifier: MIT */
/*
 * actors/module.h - shared objects that implement a group for actorsd.
 *
 * An app file names, per group, a shared object; actorsd loads it (in its
 * zygote, never in the supervisor process) and calls the one function it
 * must export:
 *
 *     ACT_MODULE_INIT(m)
 *     {
 *         act_module_add_behaviour(m, &account_behaviour);
 *         return 0;
 *     }
 *
 * Behaviours are then found by the "behaviour" names of the app file.
 * Types declared with ACT_MESSAGE_TYPE anywhere in the module, and types in
 * behaviours' handler tables, are registered automatically (in the zygote,
 * before any worker is forked); act_module_add_type() is only needed for a
 * descriptor built by hand.
 * A non-zero return is a permanent error: actorsd exits with 100.
 */
#ifndef ACTORS_MODULE_H
#define ACTORS_MODULE_H

#include <actors/common.h>
#include <actors/message.h>
#include <actors/actor.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct act_module act_module;

#define ACT_MODULE_INIT_SYMBOL "actors_module_init"
typedef int (*act_module_init_fn)(act_module *m);

/* The one function a module exports (default visibility even when the
 * module is built with -fvisibility=hidden). */
__attribute__((visibility("default"))) int actors_module_init(act_module *m);
/* Defines it: ACT_MODULE_INIT(m) { ...register...; return 0; } */
#define ACT_MODULE_INIT(m) int actors_module_init(act_module *m)

/* Registers behaviour b under b->name.  -EEXIST for a duplicate name. */
ACT_API int act_module_add_behaviour(act_module *m, const act_behaviour *b);
/* Registers a message type (see act_node_add_type). */
ACT_API int act_module_add_type(act_module *m, const act_type *t);

#ifdef __cplusplus
}
#endif
#endif /* ACTORS_MODULE_H */
