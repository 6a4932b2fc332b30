/* SPDX-License-Identifier: MIT */
/*
 * actors/topic.h - publish/subscribe inside a node (Erlang's pg, Akka's
 * event stream).
 *
 * A topic is a name (1..63 bytes, no control characters) with a set of
 * member actors of this node, from any group, static or spawned.
 * act_publish() sends one envelope to each member, as act_send() would:
 * it never blocks, and a member whose ring is full simply misses that
 * publication (counted per topic as "refused", and told to the publisher).
 *
 * Membership is kept in the node's shared memory, not in a worker: it
 * survives a crash of the member's worker for static actors and for
 * spawned ACT_PERMANENT / ACT_TRANSIENT actors (re-created with the same
 * ref).  A spawned ACT_TEMPORARY actor lost in a crash, and any actor that
 * stops (act_stop_self, act_stop, act_fail ending it), leaves every topic.
 * A node holds at most 256 topics (topics are never deleted; an empty
 * one stays) of at most 1024 members each.
 *
 * From a peer node, a frame to the receiver "topic:NAME" is published to
 * NAME's members if the node marks the topic remote (app file
 * "topics": [{"name": NAME, "remote": true}]), else rejected like an
 * unknown actor.
 */
#ifndef ACTORS_TOPIC_H
#define ACTORS_TOPIC_H

#include <actors/common.h>
#include <actors/message.h>
#include <actors/actor.h>
#include <actors/node.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ACT_TOPIC_NAME_MAX 63
#define ACT_TOPICS_MAX 256
#define ACT_TOPIC_MEMBERS_MAX 1024

/*
 * Makes the calling actor a member of `topic` (created if needed).
 * Idempotent: 0 if it already was.  -EINVAL bad name, -ENOSPC the node's
 * topic table or the topic's member table is full, ACT_ESTOPPED from fini
 * or a stopping actor.  Never blocks (creating a topic may wait
 * microseconds on another group creating one at the same instant).
 */
ACT_API int act_join(act_ctx *ctx, const char *topic);

/* Ends the calling actor's membership of `topic`.  Idempotent: 0 whether
 * or not it was a member (or the topic exists).  -EINVAL bad name. */
ACT_API int act_leave(act_ctx *ctx, const char *topic);

/* What one publication did. */
typedef struct act_publish_result {
	uint32_t n_members;  /* members it was sent to */
	uint32_t n_reached;  /* envelopes put into a member's ring */
	uint32_t n_refused;  /* members whose ring was full (or too small for it) */
	uint32_t reserved;
} act_publish_result;

/*
 * Sends (t, msg) to every member of `topic`, the caller included if it is
 * one; the sender is the caller.  Returns the number of members reached
 * (>= 0; 0 for a topic nobody joined), or -EINVAL (bad name, unknown type:
 * then nothing is sent), ACT_ESTOPPED from fini.  Per member the send is
 * act_send()'s: refused at once if its ring is full, never blocks; each
 * member gets the publications of one publisher in order.
 * act_publish_ex() also fills *res (may be NULL): how many were refused.
 */
ACT_API int act_publish(act_ctx *ctx, const char *topic, const act_type *t, const void *msg);
ACT_API int act_publish_ex(act_ctx *ctx, const char *topic, const act_type *t, const void *msg,
                           act_publish_result *res);

/*
 * Lets peers publish to `topic` through the gateway (receiver
 * "topic:NAME"); what the app file's "topics": [{"name": NAME, "remote":
 * true}] says.  Default: not remote (such frames are rejected as for an
 * unknown actor).  -EINVAL bad name, -ENOSPC beyond 256 remote topics.
 */
ACT_API int act_node_set_topic_remote(act_node_t *node, const char *topic, bool remote);

#ifdef __cplusplus
}
#endif
#endif /* ACTORS_TOPIC_H */
