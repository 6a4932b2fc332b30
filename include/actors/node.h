/* SPDX-License-Identifier: MIT */
/*
 * actors/node.h - declaring and running a node from your own main().
 *
 *     act_node_t *node = act_node_new("demo");
 *     act_node_add_group(node, "pingers");
 *     act_node_add_actor(node, "pingers", "ping", &ping_behaviour, NULL);
 *     act_node_add_group(node, "pongers");
 *     act_node_add_actor(node, "pongers", "pong", &pong_behaviour, NULL);
 *     int rc = act_node_run(node);   // supervises until shutdown
 *     act_node_free(node);
 *
 * act_node_run() turns the calling process into the supervisor: it creates
 * the shared-memory region, forks one worker process per group, restarts
 * them by policy and returns when the node stops.  User code (init,
 * handlers) runs only in the workers.
 */
#ifndef ACTORS_NODE_H
#define ACTORS_NODE_H

#include <actors/common.h>
#include <actors/message.h>
#include <actors/actor.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct act_node act_node_t;

/* Returns a new, empty node named `name`, or NULL (out of memory, bad name). */
ACT_API act_node_t *act_node_new(const char *name);
/* Frees a node that is not running.  NULL-safe. */
ACT_API void act_node_free(act_node_t *node);

/*
 * Registers a message type.  Types that appear in a behaviour's handler
 * table are registered by act_node_add_actor(); register the others (types
 * that are only sent) here.  Idempotent.  -EEXIST if another type has the
 * same wire name; -EINVAL for a bad descriptor.
 */
ACT_API int act_node_add_type(act_node_t *node, const act_type *type);

/*
 * Makes behaviour b available to act_spawn() under b->name (its handler
 * types are registered too).  Idempotent for the same b; -EEXIST for
 * another behaviour of that name; -EINVAL; -EBUSY once the node runs.
 */
ACT_API int act_node_add_behaviour(act_node_t *node, const act_behaviour *b);

/* Adds a group (a worker process).  Groups start in the order added. */
ACT_API int act_node_add_group(act_node_t *node, const char *group);

/*
 * Adds an actor named `name` with behaviour b to group.  args_json (may be
 * NULL) is copied and given to b->init.  -EEXIST on a duplicate name,
 * -ENOENT for an unknown group.
 */
ACT_API int act_node_add_actor(act_node_t *node, const char *group, const char *name,
                               const act_behaviour *b, const char *args_json);

/*
 * Group settings; each returns -ENOENT for an unknown group and -EINVAL for
 * a value out of range.
 *   ring_bytes     capacity of each ring into the group (power of two,
 *                  4 KiB .. 1 GiB; default 256 KiB)
 *   max_msg_bytes  largest envelope accepted (default 64 KiB, at most a
 *                  quarter of ring_bytes)
 *   spin_us        how long an idle worker polls before it sleeps (default 50)
 *   max_redeliveries  crashes on one envelope before it is dead-lettered (3)
 */
ACT_API int act_node_set_ring_bytes(act_node_t *node, const char *group, uint32_t bytes);
ACT_API int act_node_set_max_msg_bytes(act_node_t *node, const char *group, uint32_t bytes);
ACT_API int act_node_set_spin_us(act_node_t *node, const char *group, uint32_t us);
ACT_API int act_node_set_max_redeliveries(act_node_t *node, const char *group, uint32_t n);

/*
 * Restart intensity: more than max_restarts restarts within period_ms make
 * the node stop every group and return ACT_EXIT_INTENSITY (OTP defaults:
 * 1 in 5000 ms).  max_restarts is at most 1024 (-EINVAL beyond).
 */
ACT_API int act_node_set_intensity(act_node_t *node, uint32_t max_restarts, uint32_t period_ms);

/* act_strategy (see actorsd(8)) and act_restart_type: see actors/actor.h. */

ACT_API int act_node_set_strategy(act_node_t *node, act_strategy s);
/* Exponential backoff between restarts of one group: the first restart
 * after a healthy run (>= reset_ms) is immediate, then initial_ms, times
 * factor each time, at most max_ms.  Defaults 10 ms, 2.0, 10 s, 10 s. */
ACT_API int act_node_set_backoff(act_node_t *node, uint32_t initial_ms, double factor,
                                 uint32_t max_ms, uint32_t reset_ms);
ACT_API int act_node_set_restart(act_node_t *node, const char *group, act_restart_type t);
/* Graceful stop budget: Shutdown/STOP, then SIGTERM, then SIGKILL after
 * shutdown_ms (default 5000); 0 means brutal_kill (SIGKILL at once). */
ACT_API int act_node_set_shutdown_ms(act_node_t *node, const char *group, uint32_t ms);
/* Hang detection: a worker whose heartbeat is older than timeout_ms is
 * killed and restarted (defaults 100 ms period, 1000 ms timeout). */
ACT_API int act_node_set_heartbeat(act_node_t *node, const char *group,
                                   uint32_t period_ms, uint32_t timeout_ms);
/*
 * Hot standby: keep a spare worker for the group forked and attached to the
 * region ahead of time; when the group's worker dies the spare takes over
 * its rings at once and a new spare is forked in the background.
 */
ACT_API int act_node_set_hot_standby(act_node_t *node, const char *group, bool on);
/*
 * Quick reaping, on by default: the group's worker shares its address
 * space with a sleeping holder process, so that its death is seen before
 * the kernel has torn that address space down (a restart about 150 us
 * shorter on a 2-vCPU VM).  When a dead worker had a file mapped shared,
 * its replacement runs its actors only after the teardown, so that no
 * flock() or OFD lock taken through that file is still held then.  Its memory
 * outlives it by the teardown.  Off: no holder, every death is seen after
 * the teardown.  ACTORS_QUICK_REAP=1 or 0 overrides it for every group.
 * actorsd(8) has the details.
 */
ACT_API int act_node_set_quick_reap(act_node_t *node, const char *group, bool on);
/*
 * Pools: the group runs as n worker processes ("members", 1..ACT_POOL_MAX)
 * with the same actors; the actors' names address the pool and each
 * envelope goes to one member, chosen by the pool's routing:
 *   ACT_POOL_ROUND_ROBIN   the next live member, per sender (the default);
 *   ACT_POOL_LEAST_LOADED  the live member with the fewest bytes waiting in
 *                          the ring from this sender;
 *   ACT_POOL_KEY_HASH      the member hash(key) % n, where key is the value
 *                          of the message field named `key` (a string,
 *                          integer or bool field): a key always goes to the
 *                          same member, which handles it in order; a down
 *                          member's envelopes wait in its ring for it.
 * Member k is the group "GROUP#k" in status and logs; a member's crash
 * restarts that member only.  A pool's groups take no spawns from other
 * groups (act_spawn() into them: -EOPNOTSUPP).  See README "Pools".
 * -ENOENT unknown group, -EINVAL n out of range, unknown routing, key_hash
 * without a key (or a key on another routing), -ENAMETOOLONG if "GROUP#k"
 * would not fit ACT_NAME_MAX, -EBUSY once the node runs.
 */
#define ACT_POOL_MAX 64u
typedef enum act_pool_routing {
	ACT_POOL_ROUND_ROBIN = 0,
	ACT_POOL_LEAST_LOADED = 1,
	ACT_POOL_KEY_HASH = 2,
} act_pool_routing;
ACT_API int act_node_set_pool(act_node_t *node, const char *group, uint32_t n);
ACT_API int act_node_set_pool_routing(act_node_t *node, const char *group,
                                      act_pool_routing routing, const char *key);
/*
 * Room for actors spawned at run time in the group (act_spawn() beyond it
 * returns -ENOSPC): 1..4194304, default 16384.  Slots cost memory only
 * once used (about 1.2 KiB of address space each is reserved up front).
 */
ACT_API int act_node_set_max_spawned(act_node_t *node, const char *group, uint32_t n);
/* Directory for the dead-letter store (dead-letters.jsonl).  Default:
 * none (dead letters are logged and counted only). */
ACT_API int act_node_set_state_dir(act_node_t *node, const char *dir);
/* Serve the actorsctl control protocol on this unix socket path. */
ACT_API int act_node_set_control_socket(act_node_t *node, const char *path);
/*
 * Serves the node's metrics (OpenMetrics text, what `actorsctl metrics`
 * prints) over plain HTTP/1.0 at GET /metrics on addr: "HOST:PORT" with a
 * numeric IPv4 or [IPv6] host, or ":PORT" for 127.0.0.1 (PORT 0: any free
 * port, logged).  NULL: no endpoint (the default).  -EINVAL for a bad address.
 */
ACT_API int act_node_set_metrics_endpoint(act_node_t *node, const char *addr);

/*
 * Gives the node a network endpoint: a ZeroMQ PULL socket bound there
 * speaking the actors family's JSON protocol (e.g. "tcp://127.0.0.1:5001";
 * nothing is bound by default).  advertise (may be NULL: derived from the
 * bound address) is the sender_endpoint peers reply to.
 */
ACT_API int act_node_set_endpoint(act_node_t *node, const char *endpoint, const char *advertise);
/* Makes actor `name` reachable from the network (default: not reachable;
 * envelopes for it are rejected as if it did not exist). */
ACT_API int act_node_set_remote(act_node_t *node, const char *actor, bool remote);

/*
 * Runs the node: returns when it stopped, with ACT_EXIT_OK after a clean
 * shutdown (SIGINT, SIGTERM, act_shutdown()) or another ACT_EXIT_ code.
 * A negative code means it could not start (see act_strerror).
 * Call once, from a single-threaded process.  Blocks.
 */
ACT_API int act_node_run(act_node_t *node);

#ifdef __cplusplus
}
#endif
#endif /* ACTORS_NODE_H */
