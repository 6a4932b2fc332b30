/* SPDX-License-Identifier: MIT */
/*
 * reload.h - private to actorsd: actorsctl reload and SIGHUP, applying a
 * changed app file to a running node (reload.c).
 */
#ifndef ACT_RELOAD_H
#define ACT_RELOAD_H

#include <stddef.h>

#include "appfile.h"

struct act_node;
struct act__reloader;

/*
 * Prepares node n, declared from app (which was loaded from app->path and
 * stays owned by the caller until act__reload_free), for reloads: maps the
 * table the supervisor shares with workers (call before act_node_run(), so
 * that the zygote and every worker inherit it), notes each module's
 * signature, removes handoff files a previous run left, and installs the
 * node's reload, reload_tick and worker_init hooks.  Returns NULL (and the
 * node simply has no reload) when memory is short, with a reason in err.
 * Runs in the supervisor before the node runs; runs no module code.
 */
struct act__reloader *act__reload_arm(struct act_node *n, const struct act__app *app,
                                      char *err, size_t err_cap);

/*
 * Before act_node_run(), after act__reload_arm(): group g, which a reload
 * of the last supervisor added into spare participant "~spare-K" (K = k +
 * 1) of the region this node adopts (actorsd.c), is that participant's
 * as if this reloader had added it: its workers load g's module (copied
 * as a reload copies it) and take its name and settings from the app
 * file.  0 or -errno with why in err.
 */
int act__reload_tenant(struct act__reloader *r, const struct act__app_group *g, uint32_t k,
                       char *err, size_t err_cap);

/* Frees what act__reload_arm made.  NULL-safe; after act_node_run(). */
void act__reload_free(struct act__reloader *r);

#endif
