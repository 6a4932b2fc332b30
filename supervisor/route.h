/* SPDX-License-Identifier: MIT */
/*
 * route.h - private: the records between the supervisor and its groups
 * (control records, dead letters, envelopes for outside the node).
 */
#ifndef ACT_ROUTE_H
#define ACT_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include <actors.h>

#include "export.h"

struct act_node;
struct act__env;

/* An actor of this node addressed by name. */
struct act__target {
	uint32_t id, gen;  /* actor id and generation (0: declared actor) */
	uint32_t group;    /* its participant */
	bool spawned;
	bool remote;       /* reachable from the network on its own */
};
/* Resolves `name`: a declared actor, else a live or pending spawned one.
 * 0 or -ENOENT. */
ACT__SHARED int act__node_resolve(struct act_node *n, const char *name,
                                  struct act__target *t);
/* act__node_inject() to the resolved target t (whose group may have been
 * moved to a pool member by act__node_pool_pick()). */
int act__node_inject_to(struct act_node *n, const struct act__target *t, const char *type,
                        const char *json, size_t json_len, const char *sender,
                        const char *endpoint, uint32_t from_peer, uint16_t flags, uint64_t corr);
/*
 * act__node_inject_to() without ringing the group's doorbell: the record
 * is committed, but a sleeping worker learns of it only at the caller's
 * act__node_ring_group(n, t->group), which must follow (the gateway rings once
 * per group per batch of frames instead of once per frame).
 */
int act__node_inject_quiet(struct act_node *n, const struct act__target *t, const char *type,
                           const char *json, size_t json_len, const char *sender,
                           const char *endpoint, uint32_t from_peer, uint16_t flags,
                           uint64_t corr);
/* Rings participant group's doorbell for the supervisor's records (a
 * fence, and an eventfd write only if the worker sleeps). */
void act__node_ring_group(struct act_node *n, uint32_t group);
/* actorsctl spawn: behaviour into group (name, args may be NULL), no
 * parent.  0 and *out, or -ENOENT, -EINVAL, -EEXIST, -ENOSPC, ACT_EFULL,
 * -EOPNOTSUPP (a pool or a member of one). */
ACT__SHARED int act__node_spawn(struct act_node *n, const char *group, const char *behaviour,
                    const char *name, const char *args_json, act_ref *out);
/* actorsctl stop: stops the spawned actor `name`.  0, -ENOENT, -EPERM (a
 * declared actor), ACT_EFULL. */
int act__node_stop_actor(struct act_node *n, const char *name);

/* Sends a control record to participant `to`.  0 or ACT_EFULL. */
int act__route_ctrl(struct act_node *n, uint32_t to, uint32_t code, uint64_t corr);

/*
 * Room for len bytes in the supervisor's ring to group participant g, as
 * act__ring_reserve(), but refused with ACT_ESTOPPED (and counted in the
 * group's n_refused_removed) while a reload has the group removed.  Every
 * envelope the supervisor writes for an actor goes through here; only
 * control records (STOP) do not.  Supervisor only; never blocks.
 */
struct act__env *act__node_out_reserve(struct act_node *n, uint32_t g, uint32_t len, int *err);
/* Handles every record the groups sent to the supervisor. */
void act__route_drain(struct act_node *n);

#endif
