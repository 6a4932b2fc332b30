/* SPDX-License-Identifier: MIT */
/*
 * remote-mon.h - private: act_monitor() of a remote ref (issue 13,
 * "peers that are watched"), the worker's half and the record it sends.
 *
 * The worker asks the supervisor to watch the peer's endpoint
 * (ACT__CTRL_PEER_WATCH with a struct act__peer_watch); the supervisor's
 * gateway watches its PUSH socket to that endpoint (ZeroMQ socket monitor)
 * and, when the endpoint has not been reachable for the peer's
 * peer_down_ms, sends the watcher Down{actor, "peer unreachable"} as a
 * JSON envelope from the remote actor (so act_sender() is its remote ref),
 * its corr the monitor id.  A Down consumes its monitor, like any Down.
 *
 * The worker keeps a note of each such monitor until its Down, its
 * act_demonitor() or its watcher's end: so act_demonitor() knows its own
 * ids, a Down that crossed an act_demonitor() is dropped, the watches of a
 * stopping actor are withdrawn (PEER_UNWATCH, monitor id 0).  The
 * supervisor drops a worker's watches when it ends (supervisor/peers.h);
 * an actorsd that adopts a region kills the old workers, so their
 * watches and notes end together.
 */
#ifndef ACT_REMOTE_MON_H
#define ACT_REMOTE_MON_H

#include <stdbool.h>
#include <stdint.h>

#include <actors.h>

/* The payload of ACT__CTRL_PEER_WATCH / ACT__CTRL_PEER_UNWATCH. */
struct act__peer_watch {
	uint32_t watcher, watcher_gen; /* actor id + 1 and its generation */
	uint64_t monitor_id;
	char name[256];                /* the remote actor (unwatch: "") */
	char endpoint[256];
};

/* Monitor ids of remote refs: bit 63, a sequence number in bits 32..62
 * and 0xffffffff below, like the ids of monitors in other groups
 * (dyn-remote.h) but for an actor id that never exists (ACT__TO_OUTSIDE). */
#define ACT__PEER_MON_LOW 0xffffffffu
static inline bool act__peer_is_monitor(uint64_t monitor_id)
{
	return (monitor_id >> 63) && (uint32_t)monitor_id == ACT__PEER_MON_LOW;
}

#ifdef ACT_WORKER_INT_H
/* One monitor of a remote ref, as its worker notes it. */
struct act__pwatch {
	uint64_t monitor_id;
	uint32_t slot, gen;  /* the watcher: actors[] index, generation */
	uint32_t remote;     /* w->remotes[] index of the watched ref */
};

/* act_monitor(ctx, who) for a remote `who`: 0 and *monitor_id, or ACT_EFULL,
 * -ENOENT (unknown ref), -ENOMEM (no room for the note). */
int act__peer_monitor(struct worker *w, struct actor *me, act_ref who,
                      uint64_t *monitor_id);
/* Actor a stops: the watches it took end without a Down (the supervisor
 * drops them; it drops a whole worker's when that ends). */
void act__peer_unwatch_all(struct worker *w, struct actor *a);
/* act_demonitor() of a peer monitor: 0, -ENOENT (not ours, or its Down
 * came already) or ACT_EFULL. */
int act__peer_demonitor(struct worker *w, uint64_t monitor_id);
/* A peer monitor's Down (corr monitor_id) for actor a arrived: true if it
 * is to be delivered (the monitor is consumed), false if that monitor is
 * no longer there (demonitored, or its watcher is not a). */
bool act__peer_down_arrived(struct worker *w, const struct actor *a, uint64_t monitor_id);
#endif

#endif
