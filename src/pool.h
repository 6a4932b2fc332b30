/* SPDX-License-Identifier: MIT */
/*
 * pool.h - private: pools of identical workers (README "Pools").
 *
 * A pool is declared as one group with pool_n > 0 and becomes, before the
 * registry is frozen, pool_n ordinary groups "NAME#0".."NAME#n-1"
 * (act__pool_expand()).  Each member is a participant of its own, with its
 * own rings, heartbeat, pid and restart state, and hosts every actor of the
 * pool under the same actor ids; an actor's def names member 0 as its
 * group.  A sender (worker or supervisor) that addresses an actor of a
 * pool picks the member here, from what it can see without asking anyone:
 * the members' published states and its own rings to them.
 */
#ifndef ACT_POOL_H
#define ACT_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <actors.h>

#include "export.h"
#include "registry.h"
#include "ring.h"
#include "shm.h"

/* The routing names as the app file spells them, by act_pool_routing. */
extern const char *const act__pool_routing_names[3];

/*
 * Replaces every declared pool of r by its member groups, inserted in
 * place of the pool (so the declared order of the other groups, and thus
 * start order and rest_for_one's "after", is kept), and renumbers the
 * groups and the actors' group indices.  Before act__reg_freeze(); a
 * registry already expanded is left as is.  0, or -ENOSPC (too many
 * groups), -EEXIST (a member's name is taken), -ENOMEM; why says which.
 */
int act__pool_expand(struct act__registry *r, char *why, size_t why_cap);

/* Member 0's group of the pool `name`, or NULL (not a pool, or not expanded). */
const struct act__group_def *act__pool_find(const struct act__registry *r, const char *name);

/*
 * Hash of the key of message (t, msg): the value of its field named
 * `field`, as text (strings as they are, integers in decimal, bools as
 * true/false), so that the same key sent as a C struct by a worker and
 * as JSON by a client hashes alike.  False if t has no such field, or one
 * of another kind (double, bytes, JSON): the message has no key.
 */
bool act__pool_key_hash(const act_type *t, const void *msg, const char *field, uint64_t *hash);
/* The same for a JSON object's member `field` (a client's or a peer's
 * message); false if the text is not an object with such a member of
 * string, integer or bool value. */
bool act__pool_key_hash_json(const char *json, size_t len, const char *field, uint64_t *hash);

/*
 * The member (participant) of the pool of member group pd that an envelope
 * from participant `self` goes to; out[] are self's rings (out[m] into
 * member m).  A reply (ACT__ENV_REPLY) to an ask goes back to the member
 * that asked (its participant is in corr's top 16 bits).  key_hash with a
 * key: the key's member, up or not; without one (act__pool_is_keyless()):
 * member 0, up or not.  Otherwise a sender inside the pool
 * keeps the envelope in its own member; others pick, among the members
 * whose state is READY, the next in their own rotation (round_robin) or
 * the one with the fewest bytes waiting from them (least_loaded, ties in
 * rotation order); with no member ready, the next in rotation.  Any
 * process; never blocks.
 */
uint32_t act__pool_choose(const struct act__group_def *pd, const act__shm *shm,
                          const act__ring_h *out, uint32_t self, uint16_t flags, uint64_t corr,
                          bool has_key, uint64_t key_hash);

/* True if an envelope (flags, corr) into the pool of pd, whose key was
 * found (has_key) or not, is a keyless send of a key_hash pool: not a
 * reply going home to its asker, and no usable key. */
bool act__pool_is_keyless(const struct act__group_def *pd, uint16_t flags, uint64_t corr,
                          bool has_key);
/* Counts a keyless send to actor `to` (its n_keyless, shown by actorsctl
 * actors, metrics and status) and logs the first one of this process per
 * pool, naming the pool, its key and the message type.  Any process. */
void act__pool_keyless(const act__shm *shm, const struct act__group_def *pd, uint32_t to,
                       const char *type_name);

struct worker;
/* act__pool_choose() for a worker's send of (t, msg) to actor `to` of the
 * pool whose member 0 is participant g; counts a keyless send. */
uint32_t act__pool_member_w(struct worker *w, uint32_t g, uint32_t to, const act_type *t,
                            const void *msg, uint16_t flags, uint64_t corr);

#endif
