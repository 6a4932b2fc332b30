/* SPDX-License-Identifier: MIT */
/*
 * registry.h - private: the node's directory of types, groups and actors.
 *
 * Built by the supervisor before any worker exists and inherited by every
 * worker (they are forked from it), so ids agree in every process without
 * any lookup at run time.  A hash of all names is stored in the region so a
 * worker built from different declarations is refused.
 */
#ifndef ACT_REGISTRY_H
#define ACT_REGISTRY_H

#include "export.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <actors.h>


struct act__actor_def {
	char *name;
	uint32_t id;        /* dense, 0-based */
	uint32_t group;     /* participant index of its group (1-based) */
	const act_behaviour *b;  /* NULL until bound (actorsd binds it in the zygote) */
	char *behaviour;         /* behaviour name, for late binding; may be NULL */
	char *args;         /* JSON text or NULL */
	bool remote;        /* reachable from the network */
};

struct act__group_def {
	char *name;
	uint32_t index;     /* participant index, 1..n_groups */
	uint32_t ring_bytes;
	uint32_t max_msg;
	uint32_t spin_us;
	uint32_t max_redeliveries;
	uint32_t *actors;   /* actor ids, in declaration order */
	uint32_t n_actors;
	/* supervision */
	act_restart_type restart;
	uint32_t shutdown_ms;   /* 0 = brutal_kill */
	uint32_t heartbeat_ms;
	uint32_t heartbeat_timeout_ms;
	bool hot_standby;       /* keep a spare worker attached, ready to take over */
	bool quick_reap;        /* an address-space holder per worker (worker.c) */
	uint32_t max_spawned;   /* spawn slots; 0 = ACT__DYN_SLOTS_DEFAULT */
	/* Pools (pool.c).  As declared: pool_n members (0 = not a pool),
	 * routing and key.  act__pool_expand() turns the group into pool_n
	 * member groups "name#k", each carrying all of these. */
	uint32_t pool_n;
	uint32_t pool_routing;  /* act_pool_routing */
	char *pool_key;         /* ACT_POOL_KEY_HASH: the message field hashed */
	char *pool_name;        /* expanded: the pool's name */
	uint32_t pool_first;    /* expanded: participant of member 0; 0 = no pool */
	uint32_t pool_member;   /* expanded: this member's number, 0..pool_n-1 */
	/* A spare participant (actorsd's "spare_groups"): no actors, never
	 * started until a reload gives it a group (and its name). */
	bool spare;
	/* A spare participant that the region actorsd adopts says hosts this
	 * group, which a reload of the last supervisor added (actorsd.c): the
	 * group's name; the participant takes it once the region is adopted
	 * (act_node_run()), until then it is matched under it (loop.c). */
	char *tenant;
};

/* One slot of the registry's descriptor-to-id table (act__reg_type_id()). */
struct act__type_slot {
	const act_type *t;  /* NULL: free */
	uint32_t id;        /* 0 while free */
};

struct act__registry {
	const act_type **types; /* types[id], id 1..n_types; [0] unused */
	bool *type_has_var;    /* same index: has VSTR/BYTES/JSON fields */
	bool *type_check;      /* same index: received bytes need act__msg_fixup()
	                          (variable-length, ACT_STR or ACT_BOOL fields) */
	uint32_t n_types, cap_types;
	/* Descriptor address -> id, for every descriptor registered: each
	 * type's own and those of the same shape that share its id.  The
	 * descriptors are the user's and may be const, so the id cannot live
	 * in them; this table is per node, so two nodes of one process (or a
	 * node and a test kit) never see each other's ids.  Open addressing,
	 * linear probing, at most half full; read-only once workers fork. */
	struct act__type_slot *type_ix;
	uint32_t type_ix_mask;  /* slots - 1; the table is NULL while empty */
	uint32_t n_type_ix;
	struct act__actor_def *actors;
	uint32_t n_actors, cap_actors;
	struct act__group_def *groups; /* groups[0] is the first group (index 1) */
	uint32_t n_groups, cap_groups;
	struct act__peer_def {
		char *name, *endpoint;
		char server_key[41];  /* Z85 CURVE server key, "" for a plain peer */
		uint32_t down_ms;     /* peer_down_ms, 0: the default */
	} *peers;                     /* named remote nodes */
	uint32_t n_peers;
	const act_behaviour **behaviours; /* spawnable at run time (act_spawn) */
	uint32_t n_behaviours, cap_behaviours;
	bool frozen;
};

/* Adds a named peer node (app file "peers"): act_lookup("actor@name"). */
ACT__SHARED int act__reg_add_peer(struct act__registry *r, const char *name, const char *endpoint);

void act__reg_init(struct act__registry *r);
void act__reg_fini(struct act__registry *r);

/* Registers t (validated), assigning it an id (act__reg_type_id()).
 * Idempotent for the same t; a descriptor of the same shape as a registered
 * type of its name shares that type's id; -EEXIST for another type with the
 * same name; -EINVAL; -ENOMEM. */
ACT__SHARED int act__reg_add_type(struct act__registry *r, const act_type *t);

/* Slot of the descriptor-to-id table where the search for t starts. */
static inline uint32_t act__type_slot_of(const struct act__registry *r, const act_type *t)
{
	/* Fibonacci hashing: the high bits of the product mix every bit of
	 * the address, including the low ones that alignment leaves zero. */
	return (uint32_t)(((uint64_t)(uintptr_t)t * UINT64_C(0x9E3779B97F4A7C15)) >> 32) &
	       r->type_ix_mask;
}

/*
 * The id of descriptor t in r (1..n_types), or 0 if t was not registered
 * there (including t == NULL).  O(1): on every send and every dispatch.
 * Any process of the node; the table is inherited, never written after
 * the fork.
 */
static inline uint32_t act__reg_type_id(const struct act__registry *r, const act_type *t)
{
	if (__builtin_expect(!r->type_ix || !t, 0))
		return 0;
	for (uint32_t i = act__type_slot_of(r, t);; i = (i + 1) & r->type_ix_mask) {
		const struct act__type_slot *s = &r->type_ix[i];
		if (s->t == t)
			return s->id;
		if (!s->t)
			return 0; /* at most half full: a free slot always ends the search */
	}
}
/*
 * Registers every type declared with act_type_declare() (ACT_MESSAGE_TYPE)
 * so far that r does not know yet.  A declared type whose name r already
 * holds with another layout is skipped (explicit registrations win; using
 * it later fails with a logged -EINVAL).  Called before any fork: by
 * act__reg_freeze() in the supervisor, and in the zygote after modules
 * were loaded, so that every worker inherits the same ids.
 */
ACT__SHARED void act__reg_add_declared(struct act__registry *r);
/* True if a and b have the same wire name, size and fields (one type). */
bool act__type_same_shape(const act_type *a, const act_type *b);
/* Type by wire name or NULL. */
const act_type *act__reg_type_by_name(const struct act__registry *r, const char *name);

ACT__SHARED int act__reg_add_group(struct act__registry *r, const char *name);
ACT__SHARED struct act__group_def *act__reg_group(const struct act__registry *r, const char *name);
int act__reg_add_actor(struct act__registry *r, const char *group, const char *name,
                       const act_behaviour *b, const char *args);
/* Adds an actor whose behaviour is bound later, by name (actorsd). */
ACT__SHARED int act__reg_add_actor_named(struct act__registry *r, const char *group, const char *name,
                             const char *behaviour, const char *args);
/*
 * Makes b spawnable by name (act_spawn), registering its handler types.
 * Idempotent for the same b; -EEXIST for another behaviour of that name;
 * -EINVAL; -ENOMEM.  Before the workers are forked (node or zygote).
 */
ACT__SHARED int act__reg_add_behaviour(struct act__registry *r, const act_behaviour *b);
/* Spawnable behaviour by name, or NULL. */
const act_behaviour *act__reg_behaviour(const struct act__registry *r, const char *name);
/* Actor id by name, or -ENOENT. */
ACT__SHARED int act__reg_find_actor(const struct act__registry *r, const char *name);

/*
 * Freezes the registry (no more groups or actors), registers the declared
 * types (act__reg_add_declared()) and returns the hash of group and actor
 * names.  Types may still be added afterwards by the
 * zygote (modules), which is why they are not part of the hash: every
 * worker is forked from that one zygote and sees the same types.
 */
uint64_t act__reg_freeze(struct act__registry *r);

/* Checks that a name is usable: 1..ACT_NAME_MAX bytes, no control characters. */
bool act__name_ok(const char *name);

/*
 * Why an actor's name (one that passed act__name_ok()) cannot be reached
 * by its name: it contains '@', starts with "topic:" or contains "~ask-",
 * which the API and the wire read as something else.  NULL if it is fine.
 */
static inline const char *act__actor_name_problem(const char *name)
{
	if (strchr(name, '@'))
		return "must not contain '@' (act_lookup() reads \"actor@peer\" as a remote actor)";
	if (!strncmp(name, "topic:", 6))
		return "must not start with 'topic:' (a receiver so named is a topic on the wire)";
	if (strstr(name, "~ask-"))
		return "must not contain '~ask-' (the wire's form of an ask's reply address)";
	return NULL;
}

#endif
