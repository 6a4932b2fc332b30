/* SPDX-License-Identifier: MIT */
/*
 * peers.h - private: the supervisor's watches on remote peers (monitors
 * of remote refs, src/remote-mon.h).
 *
 * Semantics (documented in act_spawn(3) and actorsd(8)):
 *  - a watch fires when the peer's endpoint has not been reachable (no
 *    ZeroMQ connection with a completed handshake on our PUSH socket to
 *    it) for the peer's peer_down_ms (app file, default 3000): one
 *    Down{actor, "peer unreachable"} to the watcher, from the remote
 *    actor, and the watch is gone - like any Down, it consumes its
 *    monitor;
 *  - a peer that comes back within peer_down_ms fires nothing;
 *  - a watch on a peer that is unreachable already (for peer_down_ms)
 *    fires at once; one on a peer never seen yet gets peer_down_ms to
 *    connect;
 *  - after a Down, a new act_monitor() is how to learn when the peer is
 *    gone again; there is no "up" notice: send to it, or ask it.
 *  - a watch ends without a Down with its watcher: when the watcher
 *    stops (its worker sends PEER_UNWATCH with monitor id 0 for it) and
 *    when its group's worker ends, for whatever reason (the supervisor
 *    drops the group's watches, and ignores watch records the dead
 *    worker left in its ring); counted as peer_watches_dropped.
 * A watch says nothing about the remote actor itself (the family's
 * protocol has no monitors): only that its node cannot be reached.
 */
#ifndef ACT_PEERS_H
#define ACT_PEERS_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct act_node;
struct act__gateway;
struct act__watches;

struct act__watches *act__watches_new(void);
void act__watches_free(struct act__watches *ws);

/* A PEER_WATCH or PEER_UNWATCH record (payload of len bytes) from group.
 * Without a gateway (no endpoint) a watch fires at once. */
void act__peers_ctrl(struct act_node *n, uint32_t group, uint32_t code, const void *payload,
                     uint32_t len);
/* Group's worker ended: its watchers are gone, and so are their watches. */
void act__peers_drop_group(struct act__watches *ws, uint32_t group);
/* Counts a watch record from a worker that had ended when it was read. */
void act__peers_drop_stale(struct act__watches *ws);
/* Fires the watches whose peers are gone; on every turn of the loop. */
void act__peers_check(struct act__gateway *gw, struct act__watches *ws);
/* True while watches exist: the loop must come back within 50 ms. */
bool act__peers_watching(const struct act__watches *ws);
/* Adds "peer_watches" and "peer_downs" to a gateway status object. */
void act__peers_status(const struct act__watches *ws, cJSON *gw_status);

#endif
