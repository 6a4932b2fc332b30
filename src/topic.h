/* SPDX-License-Identifier: MIT */
/*
 * topic.h - private: the node-wide topic table and the per-group figures
 * area of the region (struct act__xarea, layout.h), and publishing.
 */
#ifndef ACT_TOPIC_H
#define ACT_TOPIC_H

#include "export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

struct act__shm;
struct worker;

/* Bytes of the area for a region of n_parts participants (page multiple). */
size_t act__xarea_bytes(uint32_t n_parts);
/* Formats the area at base (bytes from act__xarea_bytes()), before any
 * worker exists.  Supervisor, or a testkit on a heap copy. */
void act__xarea_format(struct act__xarea *xa, uint32_t n_parts);
/* Checks the area at base + off (the region's `size` bytes): the area, or
 * NULL if it is missing or does not match this build. */
struct act__xarea *act__xarea_open(unsigned char *base, size_t size, uint64_t off);

static inline struct act__topic *act__xa_topic(const struct act__xarea *xa, uint32_t i)
{
	return (struct act__topic *)((unsigned char *)xa + xa->topics_off) + i;
}
/* Group g's (1..n_groups) figures, or NULL. */
static inline struct act__gstat *act__xa_gstat(const struct act__xarea *xa, uint32_t g)
{
	if (!xa || g == 0 || g > xa->n_groups)
		return NULL;
	return (struct act__gstat *)((unsigned char *)xa + xa->gstat_off) + (g - 1);
}

/* True for a usable topic name: 1..ACT__TOPIC_NAME_MAX bytes, no control
 * characters. */
ACT__SHARED bool act__topic_name_ok(const char *name);
/*
 * The live entry of topic `name`, or NULL (-ENOENT in *err); with create,
 * made if missing (-ENOSPC: table full; -EAGAIN: another participant has
 * been creating an entry on its probe path for too long - it died).
 * `self` is the calling participant.  Any process; never blocks longer
 * than a bounded wait on a concurrent creation.
 */
ACT__SHARED struct act__topic *act__topic_get(struct act__xarea *xa, const char *name, bool create,
                                              uint32_t self, int *err);

/* Member words: (actor id + 1) << 32 | generation. */
static inline uint64_t act__topic_word(uint32_t id1, uint32_t gen)
{
	return ((uint64_t)id1 << 32) | gen;
}

/* True if member word names a spawned actor that is gone for good (its
 * slot's record no longer holds that generation).  Any process. */
bool act__topic_member_gone(const struct act__shm *shm, uint32_t n_static, uint64_t word);

/* Removes static actor id from every topic (it stopped).  Its worker only. */
void act__topic_leave_all(struct act__xarea *xa, uint32_t id);

#endif
