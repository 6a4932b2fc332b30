/* SPDX-License-Identifier: MIT */
/*
 * poolsup.h - private: what the supervisor does for pools (README "Pools"):
 * routing the envelopes it injects (clients, the gateway), the rolling
 * restart of `actorsctl restart POOL`, and the pools' part of status.
 */
#ifndef ACT_POOLSUP_H
#define ACT_POOLSUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct act_node;
struct act__ctl_conn;
struct act__target;

/*
 * If t is a declared actor of a pool, moves t->group to the member that a
 * JSON message (json, len bytes) from the supervisor goes to, by the
 * pool's routing (key_hash reads the key from the JSON).  Otherwise
 * leaves t alone.
 */
void act__node_pool_pick(struct act_node *n, struct act__target *t, const char *json,
                         size_t len);

/*
 * actorsctl restart POOL: restarts the members of the pool whose member 0
 * is group gi0, one at a time: member k + 1 is stopped only once member k
 * said READY again, so that the others keep serving.  waiter (may be
 * NULL) is answered when the last member is ready, or when a member
 * cannot come back.  0, -EBUSY (a rolling restart or a restart of a
 * member is under way), ACT_ESTOPPED (the node stops).
 */
int act__node_restart_pool(struct act_node *n, uint32_t gi0, struct act__ctl_conn *waiter);
/* Group gi said READY (ok) or died and will not start again by itself
 * (!ok, why): moves a rolling restart on. */
void act__pool_rolling_event(struct act_node *n, uint32_t gi, bool ok, const char *why);
/* The control connection c went away: a rolling restart goes on, unanswered. */
void act__pool_forget_waiter(struct act_node *n, const struct act__ctl_conn *c);

/* Adds "pool" and "member" (null for a group outside pools) to group gi's
 * status object. */
void act__pool_status_group(const struct act_node *n, uint32_t gi, cJSON *o);
/* Adds the "pools" array to a status answer: name, routing, key, members,
 * ready, restarts, ring_depth and whether a rolling restart runs. */
void act__pool_status(const struct act_node *n, cJSON *a);

#endif
