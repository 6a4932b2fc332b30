/* SPDX-License-Identifier: MIT */
/*
 * recover.h - private: the region outlives the supervisor.
 *
 * actorsd keeps its shared-memory region where a restarted actorsd finds
 * it (a file in a tmpfs runtime directory, and systemd's file-descriptor
 * store when $NOTIFY_SOCKET is set), adopts a region it finds after full
 * validation, and re-executes itself (actorsctl upgrade, SIGUSR2) handing
 * the region and the control socket across execve().  See recover.c.
 * The embedded act_node_run() does none of this unless
 * act__recover_config() was called on its node.
 */
#ifndef ACT_RECOVER_H
#define ACT_RECOVER_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "export.h"
#include "shm.h"

struct act_node;

/*
 * Turns region persistence on for node n (before act_node_run()).
 * runtime_dir: the directory for the region file; NULL = the default
 * ($RUNTIME_DIRECTORY, else $ACTORS_RUNTIME_DIR/NODE, else
 * /run/actors/NODE for root, else
 * $XDG_RUNTIME_DIR/actors/NODE, else no file); "" = no file (only the fd
 * store keeps the region).  argv: the program's arguments, kept for an
 * upgrade (the binary is /proc/self/exe resolved now, to a path).
 * 0 or -ENOMEM.
 */
ACT__SHARED int act__recover_config(struct act_node *n, const char *runtime_dir, char **argv);

/*
 * Before the node is built: what the region the next act__recover_region()
 * would adopt (upgrade fds, fd store, runtime_dir's file for node; none is
 * consumed) says of its participants: their names and whether each is
 * live (not removed by a reload), names[0] the supervisor.  Returns how
 * many (*n_parts), 0 if there is no region, it does not validate or has
 * more than cap: act__recover_region() decides about it then.  actorsd
 * learns from it which spare participants host a group a reload added.
 */
ACT__SHARED int act__recover_peek(const char *runtime_dir, const char *node, uint32_t *n_parts,
                                  char (*names)[ACT_NAME_MAX + 1], bool *live, uint32_t cap);

/*
 * The pid of a running actorsd that the region file for node (in
 * runtime_dir, as act__recover_config() finds it) names as its supervisor,
 * or 0.  Read only; for a start to refuse at once (exit 100) before it
 * tries that node's endpoint, which such a supervisor holds.
 */
ACT__SHARED pid_t act__recover_owner(const char *runtime_dir, const char *node);

/* A region refused at this start stays where it is (file, fd store)
 * instead of being moved aside: actorsd, when its spare participants host
 * groups a reload added (only an app file listing them can adopt it). */
ACT__SHARED void act__recover_keep_refused(struct act_node *n);

/* True if the node adopted a region (not made a new one). */
bool act__recover_adopted(const struct act_node *n);

/* True if the node refused to adopt a region it found (actorsd exits 100). */
ACT__SHARED bool act__recover_refused(const struct act_node *n);

/* Frees what act__recover_config() made.  NULL-safe. */
void act__recover_free(struct act_node *n);

/*
 * loop.c, in place of act__shm_create(): adopts the region a previous
 * supervisor left (upgrade fds, fd store, runtime-directory file) after
 * validating it against spec and killing its old workers, or creates a
 * new one where it will outlive this process.  0 or a negative errno;
 * -EPROTO after a refusal (logged; the old region moved aside).
 */
int act__recover_region(struct act_node *n, const struct act__part_spec *spec, uint32_t np);

/* After setup, before the groups start: hands the region to systemd's fd
 * store, and reads the records the old workers left for the supervisor. */
void act__recover_started(struct act_node *n);

/* loop.c's teardown: a clean stop (the node ran, then exit 0) removes the
 * region from its file and the fd store, and so does a setup that failed
 * on a region it had just made; any other exit, or a failed setup after
 * an adoption, keeps it for the next start.
 * Detaches (and poisons only a removed region). */
void act__recover_teardown(struct act_node *n);
/* Whether act__recover_teardown() will keep the region for the next start
 * (a stop that was not clean), as decided now. */
bool act__recover_keeps_region(const struct act_node *n);

/* SIGUSR2 / actorsctl upgrade: re-executes the binary at the end of this
 * loop turn (act__recover_poll()). */
void act__recover_request_upgrade(struct act_node *n);

/* Called once per loop turn: performs a requested upgrade.  Returns only
 * if there is none or it failed (logged; the node keeps running). */
void act__recover_poll(struct act_node *n);

/* A listening control socket inherited across an upgrade for path, or -1. */
int act__recover_ctl_fd(struct act_node *n, const char *path);

/* Adds "recovered", "previous_epoch", "epoch", "taken_over", "region" to
 * a status object. */
void act__recover_status(const struct act_node *n, cJSON *o);

#endif
