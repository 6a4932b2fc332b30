/* SPDX-License-Identifier: MIT */
/*
 * group.h - private: the life of each group's worker as the supervisor
 * sees it (starting, stopping, hot standby, deaths), driven by the loop.
 */
#ifndef ACT_GROUP_H
#define ACT_GROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "node.h"

/* True while group g has a worker process (its pidfd is open). */
static inline bool act__group_alive(const struct act__gstate *g) { return g->pidfd >= 0; }

/* Moves group gi to state s and mirrors it in its shared part header. */
/* Tells every running group that group gi will not run again. */
void act__group_announce_gone(struct act_node *n, uint32_t gi);
void act__group_set_state(struct act_node *n, uint32_t gi, enum act__gphase s);
/* Queues group gi for a start no earlier than not_before_ns. */
void act__group_enqueue(struct act_node *n, uint32_t gi, uint64_t not_before_ns);
/* Escalates stops whose deadline passed: STOP -> SIGTERM -> SIGKILL. */
void act__group_check_stops(struct act_node *n, uint64_t now);
/* Kills workers whose heartbeat is stale. */
void act__group_check_heartbeats(struct act_node *n, uint64_t now);
/* Starts the next queued group when nothing is starting or stopping. */
void act__group_run_start_queue(struct act_node *n, uint64_t now);
/* Forks a missing hot standby (at most one per call). */
void act__group_maintain_spares(struct act_node *n, uint64_t now);
/* Makes the spawner's prefork (spawn.h) once the node is quiet. */
void act__group_maintain_prefork(struct act_node *n, uint64_t now);
/* Kills and reaps group gi's hot standby, if any. */
ACT__SHARED void act__group_kill_spare(struct act_node *n, uint32_t gi);
/* Reaps group gi's hot standby if it died. */
void act__group_reap_spare(struct act_node *n, uint32_t gi);
/* While the node stops: stops groups one at a time, in reverse order. */
void act__group_run_stop_sequence(struct act_node *n);
/* Reaps group gi's worker if it died, and applies the restart policy. */
void act__group_reap(struct act_node *n, uint32_t gi);
/* Looks at what the last worker of each group just reaped had mapped
 * (through its address-space holder), and opens the group's gate for its
 * replacement, at once or after the teardown.  Once per loop turn, after
 * the turn's starts. */
void act__group_check_teardowns(struct act_node *n);
/* Opens group gi's gate (layout.h: act__part.gate). */
void act__group_open_gate(struct act_node *n, uint32_t gi);
/* The first holder group gi's gate waits for is gone: the next, or open. */
void act__group_hold_done(struct act_node *n, uint32_t gi);
/* A region just adopted: group gi's gate waits for the holder the last
 * supervisor waited for, if it still lives, else opens. */
void act__group_adopt_gate(struct act_node *n, uint32_t gi);
/* Reaps children that are not workers; marks dead workers reap_pending. */
void act__group_reap_strays(struct act_node *n);
/* The earliest deadline of any group (start, standby, stop), at most a
 * tick (50 ms); when nothing is busy (busy: the loop's other pollers) and
 * every group is settled, the next heartbeat look instead, at most 2 s. */
uint64_t act__group_next_deadline(struct act_node *n, uint64_t now, bool busy);

#endif
