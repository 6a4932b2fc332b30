/* SPDX-License-Identifier: MIT */
/*
 * dyn-remote.h - private: spawned actors across groups (dyn-remote.c) and
 * the slot claims and node-wide name lock that local spawns share with
 * them.  Included by the runtime (dynamic.c, children.c, dispatch.c) and
 * by the supervisor's spawning and listing (route.c, actorlist.c).
 */
#ifndef ACT_DYN_REMOTE_H
#define ACT_DYN_REMOTE_H

#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>

#include <actors.h>

#include "layout.h"
#include "ring.h"
#include "shm.h"

struct worker;
struct actor;
struct act__env;
struct act__registry;

/* Ids <-> (group, slot): act__dyn_id(), act__dyn_slot_of() (shm.h). */

/*
 * Claims a fresh slot (never used) in group g's area for participant me:
 * raises hi by CAS and moves the slot's word to (gen, RESERVED by me).
 * 0 and *slot, *gen; -ENOSPC.
 */
int act__dyn_claim_fresh(act__shm *shm, uint32_t g, uint32_t me, uint32_t *slot, uint32_t *gen);
/* Raises area d's hi to at least `to` (CAS). */
void act__dyn_raise_hi(struct act__dyn_hdr *d, uint32_t to);
/* Claims slot s of group g if its word is FREE (CAS).  true and *gen. */
bool act__dyn_claim_slot(act__shm *shm, uint32_t g, uint32_t s, uint32_t me, uint32_t *gen);

/* Publishes the behaviours of reg as group g's (struct act__dyn_known):
 * its worker, as it starts. */
void act__dyn_publish_behaviours(act__shm *shm, uint32_t g, const struct act__registry *reg);
/* False if group g published its behaviours and `name` is not one of
 * them; true if it is, or if g has not published (the group checks). */
bool act__dyn_behaviour_known(const act__shm *shm, uint32_t g, const char *name);

/* The node-wide lock over named spawns (see act__dyn_hdr.name_lock). */
void act__dyn_name_lock(act__shm *shm, uint32_t me);
void act__dyn_name_unlock(act__shm *shm);
/* With the lock held: true if `name` is a static actor's or a named spawned
 * actor's (live, pending, or being spawned) anywhere on the node. */
bool act__dyn_name_in_use(act__shm *shm, const struct act__registry *reg, const char *name);
/* With the lock held: enters `name` (slot, gen) in group p's name index. */
void act__dyn_name_index(act__shm *shm, uint32_t p, const char *name, uint32_t slot,
                         uint32_t gen);

/* Finds the live or pending spawned actor `name` (takes the lock, as
 * participant me): its group, slot, generation, behaviour and record
 * flags.  0 or -ENOENT.  For the supervisor (actorsctl, the gateway). */
int act__dyn_name_find(act__shm *shm, uint32_t me, const char *name, uint32_t *g,
                       uint32_t *slot, uint32_t *gen, char behaviour[ACT_NAME_MAX + 1],
                       uint32_t *flags);

/* The checks every spawn makes of its name and args, wherever it comes
 * from (act_spawn, actorsctl): 0 and *args_len (0 without args), or
 * -EINVAL (bad name, args not JSON) or -EMSGSIZE (args too long). */
int act__dyn_check_spawn(const char *name, const char *args_json, size_t *args_len);

/*
 * Spawns behaviour b as `name` (NULL: anonymous) into group g for
 * participant me, parent (id + 1, gen) (0: none): claims a slot, writes
 * and commits the record PENDING, and puts the spawn record into `ring`
 * (me -> g); the caller rings g's doorbell.  0 and *out; -EEXIST, -ENOSPC,
 * ACT_EFULL (nothing created).
 */
int act__dyn_post_spawn(act__shm *shm, const struct act__registry *reg, uint32_t me,
                        act__ring_h *ring, uint32_t g, const act_behaviour *b, const char *name,
                        const char *args_json, size_t args_len, uint32_t parent,
                        uint32_t parent_gen, act_ref *out);

/* ---- worker side (dyn-remote.c) ---- */

/* Spawns into another group g (act_spawn's cross-group half). */
int act__dyn_spawn_remote(struct worker *w, uint32_t g, const act_behaviour *b,
                          const char *name, const char *args_json, size_t args_len,
                          act_ref *out);
/* act_stop / act_monitor / act_demonitor of an actor in another group. */
int act__dyn_stop_remote(struct worker *w, act_ref who);
int act__dyn_monitor_remote(struct worker *w, act_ref who, uint64_t *monitor_id);
int act__dyn_demonitor_remote(struct worker *w, uint64_t monitor_id);
/* True if monitor_id was made by act__dyn_monitor_remote(). */
static inline bool act__dyn_is_remote_monitor(uint64_t monitor_id)
{
	return (monitor_id >> 63) != 0;
}
/* A Down envelope arrived on ring ring_from: the entry of its monitor of
 * a static actor in another group, if any, is done with.  False if the
 * Down is not to be delivered: a static actor's Down for a monitor this
 * worker does not hold (taken by an earlier worker of the group, or
 * removed). */
bool act__dyn_down_arrived(struct worker *w, uint32_t ring_from, const struct act__env *e);
/* Makes the Downs of monitors into groups gone for good, once what their
 * dead workers left in the rings to us is read. */
void act__dyn_gone_flush(struct worker *w);
/* Handles a system record that came on ring_from's ring to us. */
void act__dyn_sys(struct worker *w, uint32_t ring_from, const struct act__env *e);
/* Spawn slot entry a is empty: starts its record if that is (gen, PENDING).
 * early: an envelope to it does, not its SPAWN record (a->spawn_unread). */
void act__dyn_start_pending(struct worker *w, struct actor *a, uint32_t gen, bool early);
/* Actor a ended for good: its monitors of actors in other groups end
 * (their groups are told, so that their entries are free again). */
void act__dyn_unwatch_all(struct worker *w, const struct actor *a);
/* Sends the withdrawal of monitor mid of `target` (group g) by watcher
 * (id + 1, gen): 0 or the error (ACT_EFULL: g's ring full). */
int act__dyn_send_demon(struct worker *w, uint32_t g, uint32_t target, uint32_t watcher,
                        uint32_t watcher_gen, uint64_t mid);
/* Keeps it for later, with the Downs that wait for room (dynamic.c):
 * 0, or -ENOMEM. */
int act__dyn_demon_wait(struct worker *w, uint32_t g, uint32_t target, uint32_t watcher,
                        uint32_t watcher_gen, uint64_t mid);
/* Sends group g the word that actor (id, gen), which ended, stops its
 * children there: 0 or the error (ACT_EFULL: g's ring full). */
int act__dyn_send_stop_children(struct worker *w, uint32_t g, uint32_t id, uint32_t gen);
/* Keeps it for later, with the Downs that wait for room (dynamic.c):
 * 0, or -ENOMEM. */
int act__dyn_stop_children_wait(struct worker *w, uint32_t g, uint32_t id, uint32_t gen);
/* Whether Downs or withdrawals wait for room in the ring to g. */
bool act__dyn_downs_wait_for(const struct worker *w, uint32_t g);
/* Actor a ended: its children in other groups are told to stop. */
void act__dyn_ended(struct worker *w, const struct actor *a);
/* A restarted worker, its actors re-created: remembers which other groups
 * hold children of its live actors (their records say so), so that those
 * children stop with their parent as before the crash; children there of
 * a spawned actor of ours that is gone (lost with the last worker, or
 * ended while the word to stop them could not be sent) are told to stop. */
void act__dyn_recall_children(struct worker *w);
/* A restarting worker frees the slots it had claimed in other groups'
 * areas and never committed (it died mid-spawn). */
void act__dyn_release_claims(struct worker *w);
/* The entries of this worker's slots below `upto` are formatted. */
void act__dyn_see(struct worker *w, uint32_t upto);
/* Frees dyn-remote's bookkeeping. */
void act__dyn_remote_teardown(struct worker *w);

/* dynamic.c, for dyn-remote.c: fill slot a from its record; run init;
 * undo.  See there. */
int act__dyn_occupy(struct worker *w, struct actor *a, const act_behaviour *b, uint32_t gen);
int act__dyn_run_init(struct worker *w, struct actor *a);
void act__dyn_vacate(struct worker *w, struct actor *a);
/* Adds a monitor (watcher id + 1, its gen, id mid) to local actor a:
 * 0 or -ENOSPC/-ENOMEM.  claimed: its entry was taken by the requester
 * (act__dyn_mon_claim()), else it is taken here.  watcher_pgen: the
 * generation of the watcher's worker when it asked (0: not said). */
int act__dyn_add_monitor(struct worker *w, struct actor *a, uint32_t watcher,
                         uint32_t watcher_gen, uint64_t mid, bool claimed,
                         uint32_t watcher_pgen);
/* Whether entry m of spawned actor target (its id) was taken by a worker
 * of another group that has ended since (so that monitor ended with it);
 * any participant may ask, reading another group's entries. */
bool act__dyn_mon_entry_stale(struct worker *w, const struct act__spawn_mon *m, uint32_t target);
/* Takes a monitor entry of record r for its tenant of generation gen
 * (act__spawn_rec.mon_claims): 1 taken, 0 all taken (-ENOSPC), -1 not
 * that tenant (a stale ref).  The count may reach ACT__SPAWN_MONITORS +
 * extra: extra entries held by ended watchers, which the owner frees for
 * these claims.  Any participant. */
int act__dyn_mon_claim(struct act__spawn_rec *r, uint32_t gen, uint32_t extra);
/* Gives one back (the owning worker, as it frees an entry). */
void act__dyn_mon_release(struct act__spawn_rec *r, uint32_t gen);
/* Sends Down{name, reason} about (id, gen) to watcher (id + 1, gen). */
void act__dyn_send_down(struct worker *w, uint32_t watcher, uint32_t watcher_gen, uint64_t mid,
                        const char *name, uint32_t id, uint32_t gen, const char *reason);
/* The reason of a Down for actors lost with a worker that ended by
 * signal sig or exit code exit_code: "crashed: signal N", "crashed: exit
 * N", or `clean` for an exit 0 (or none). */
void act__death_reason(char *buf, size_t cap, int sig, int exit_code, const char *clean);

/* A parent gone, and one group where it has children: one STOP_CHILDREN
 * word each (act__dyn_recall_children(), the supervisor's removal). */
struct act__orphans {
	uint32_t g, id, gen;
};
/* Sorts v[0..n) and drops repeats: the count left.  O(n log n): a group
 * may hold a million children. */
uint32_t act__orphans_unique(struct act__orphans *v, uint32_t n);
/* Appends (g, id, gen) to *v (n used, cap allocated), unless it repeats
 * the last entry (a parent's children are often neighbours); the other
 * repeats go in act__orphans_unique().  True if out of memory. */
bool act__orphans_note(struct act__orphans **v, uint32_t *n, uint32_t *cap, uint32_t g,
                       uint32_t id, uint32_t gen);
/* act__dyn_send_down() for a caller that tries again when the ring is
 * full: ACT_EFULL is returned, not made a dead letter.  0 or the error. */
int act__dyn_try_down(struct worker *w, uint32_t watcher, uint32_t watcher_gen, uint64_t mid,
                      const char *name, uint32_t id, uint32_t gen, const char *reason);

/* Monitors in use among the first n_mon entries of a spawned actor's
 * (act__spawn_rec.n_mon, capped at ACT__SPAWN_MONITORS): a racy count
 * when another process reads it, exact in the owning worker. */
static inline uint32_t act__dyn_count_monitors(const struct act__spawn_mon *mon, uint32_t n_mon)
{
	uint32_t n = 0;

	if (n_mon > ACT__SPAWN_MONITORS)
		n_mon = ACT__SPAWN_MONITORS;
	for (uint32_t i = 0; i < n_mon; i++)
		n += __atomic_load_n(&mon[i].watcher, __ATOMIC_RELAXED) != 0;
	return n;
}

/* Monitor entries of a (a->mon) that may be in use (dynamic.c). */
uint32_t act__dyn_n_mon(const struct actor *a);

#endif
