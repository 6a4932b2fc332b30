/* SPDX-License-Identifier: MIT */
/*
 * t/wire-tree.h - private to the tests: the reference tree parser of the
 * wire protocol, built on cJSON, against which t/wire and fuzz/wire-fuzz
 * check act__wire_parse_view().
 */
#ifndef ACT_T_WIRE_TREE_H
#define ACT_T_WIRE_TREE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "wire.h"

/* A parsed envelope.  The strings and `message` point into `root`. */
struct act__wire_env {
	const char *receiver, *message_type;
	const char *sender_actor, *sender_endpoint; /* NULL if absent, null or "" */
	const cJSON *message;   /* the "message" object */
	cJSON *root;            /* owned; free with act__wire_env_free */
};

/*
 * Parses and checks one frame of len bytes (not NUL-terminated; never read
 * past len).  lim may be NULL for the defaults; max_depth is capped at
 * ACT__WIRE_DEPTH_CAP.  env is always initialised, and the caller must call
 * act__wire_env_free(env) whatever the result.
 *
 * Returns ACT__WIRE_OK with every env field set (senders may be NULL), or
 * the class of the first problem found, with a one-line reason in err
 * (err_cap bytes, always NUL-terminated when err_cap > 0; err may be NULL).
 * The reason names fields and byte offsets but never echoes peer data, so
 * it is safe to log and to send back in a Reject.
 *
 * On error, when the frame was a JSON object, env->sender_actor,
 * sender_endpoint, receiver and message_type are still set if each could be
 * read (present once, a non-empty string within max_string), so that the
 * caller can answer with a Reject when both sender fields are set.  The
 * caller must not answer a frame whose message_type is "Reject".
 */
enum act__wire_err act__wire_parse(const void *frame, size_t len,
                                   const struct act__wire_limits *lim,
                                   struct act__wire_env *env,
                                   char *err, size_t err_cap);

/* Frees env->root and clears env.  NULL-safe; idempotent. */
void act__wire_env_free(struct act__wire_env *env);

#endif
