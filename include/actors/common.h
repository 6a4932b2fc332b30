/* SPDX-License-Identifier: MIT */
/*
 * actors/common.h - export macro, error codes and version of libactors.
 */
#ifndef ACTORS_COMMON_H
#define ACTORS_COMMON_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ACT_BUILDING_LIBRARY)
#define ACT_API __attribute__((visibility("default")))
#else
#define ACT_API
#endif

#define ACT_VERSION_MAJOR 0
#define ACT_VERSION_MINOR 1
#define ACT_VERSION_PATCH 0

/*
 * Longest name, in bytes (without the NUL), of anything a node names
 * itself: nodes, groups, actors, message types.  Names are 1..ACT_NAME_MAX
 * bytes without control characters; the app file, the registry, the type
 * descriptors and the shared-memory control blocks all use this one limit.
 * (Actors and types of remote peers may have longer names, up to 255
 * bytes as the wire protocol allows; they travel as text and are never
 * entered in a node's directory.)
 */
#define ACT_NAME_MAX 63

/*
 * Error codes.  All are negative errno values so that callers can compare
 * with the usual names; the ACT_ aliases name the cases the runtime gives a
 * specific meaning.
 */
#define ACT_EFULL      (-EAGAIN)    /* the receiver's ring is full; nothing was sent */
#define ACT_ETIMEDOUT  (-ETIMEDOUT) /* an ask got no reply in time */
#define ACT_ENOENT     (-ENOENT)    /* unknown actor, group or type name */
#define ACT_EMSGSIZE   (-EMSGSIZE)  /* message larger than the ring's record limit */
#define ACT_EPROTO     (-EPROTO)    /* malformed envelope, JSON or shared memory */
#define ACT_ERANGE     (-ERANGE)    /* a number does not fit its field */
#define ACT_EINVAL     (-EINVAL)    /* bad argument */
#define ACT_ESTOPPED   (-ESHUTDOWN) /* the receiver stopped, or the node is stopping */
#define ACT_EREJECTED  (-ECONNREFUSED) /* a remote ask was answered with a Reject */

/*
 * Returns a static, human-readable description of err (a negative code as
 * returned by any act_ function; positive errno values are accepted too).
 * Never NULL.  Any process, any thread.
 */
ACT_API const char *act_strerror(int err);

/* Returns the library version as "MAJOR.MINOR.PATCH". */
ACT_API const char *act_version(void);

/*
 * Exit codes of worker processes and of the supervisor: a documented
 * protocol (see actorsd(8)).
 */
#define ACT_EXIT_OK         0    /* clean stop */
#define ACT_EXIT_PERMANENT  100  /* permanent error (bad config): do not restart */
#define ACT_EXIT_TEMPORARY  111  /* temporary failure: restart with backoff */
#define ACT_EXIT_INTENSITY  112  /* supervisor: restart intensity exceeded */

#ifdef __cplusplus
}
#endif
#endif /* ACTORS_COMMON_H */
