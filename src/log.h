/* SPDX-License-Identifier: MIT */
/* log.h - private: leveled logging to stderr, journald-friendly. */
#ifndef ACT_LOG_H
#define ACT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"

#include <actors/actor.h> /* act_log_level: ACT_LOG_ERR .. ACT_LOG_DEBUG */

/* Current threshold; messages above it are dropped.  Default INFO, or
 * ACTORS_LOG_LEVEL=debug|info|warn|err from the environment. */
extern int act__log_level;

/* Sets the name printed in front of every line (e.g. "actorsd", "worker ping"). */
ACT__SHARED void act__log_set_ident(const char *ident);
/* Sets the node's name, kept across forks for act_log() and JSON lines. */
void act__log_set_node(const char *node);
/* The node's name as set, or "" (for process titles). */
const char *act__log_node(void);

__attribute__((format(printf, 2, 3)))
ACT__SHARED void act__log(int level, const char *fmt, ...);

/*
 * For a signal handler (async-signal-safe: no stdio, no malloc, no
 * locale): writes msg as one line in the format act__log() uses, at any
 * level.  act__log_prepare() first, outside the handler: it reads the
 * environment (level, JSON, journald) that the line's format follows.
 */
void act__log_prepare(void);
void act__log_signal_safe(int level, const char *msg);
/* The UTC time as "20261205T020848Z" (for file names), async-signal-safe. */
void act__log_stamp(char *buf, size_t cap);

/*
 * A per-call-site token bucket for log lines that can repeat once per
 * message (bad envelopes, failed sends, unknown names): a burst of
 * ACT__LOG_BURST lines, then one more per ACT__LOG_REFILL_MS.  Lines over
 * the budget are counted, not written; the next line written from that
 * site says how many were suppressed.  Process-local, single-threaded
 * (each process has its own copy, which is what we want after fork).
 */
#define ACT__LOG_BURST 10u
#define ACT__LOG_REFILL_MS 1000u
struct act__log_limit {
	uint64_t last_ns;    /* when tokens were last refilled; 0 = never used */
	uint32_t tokens;
	uint32_t suppressed; /* lines dropped since the last one written */
};

/* Writes the line if l's budget allows (adding the suppressed count), else counts it. */
__attribute__((format(printf, 3, 4)))
ACT__SHARED void act__log_limited(struct act__log_limit *l, int level, const char *fmt, ...);

/*
 * The bucket itself: true if a line may be written at now_ns (taking a
 * token), false if it is suppressed (counted in l->suppressed).  The
 * caller resets l->suppressed after writing the count.
 */
bool act__log_limit_take(struct act__log_limit *l, uint64_t now_ns);

/* Total lines suppressed by every limiter of this process (for tests). */
extern uint64_t act__log_n_suppressed;

/* act__log, rate-limited per call site: for any path that can run per message. */
#define act__log_every(level, ...) do { \
	static struct act__log_limit act__lim_; \
	act__log_limited(&act__lim_, (level), __VA_ARGS__); \
} while (0)
#define act__err_every(...)  act__log_every(ACT_LOG_ERR, __VA_ARGS__)
#define act__warn_every(...) act__log_every(ACT_LOG_WARN, __VA_ARGS__)

#define act__err(...)   act__log(ACT_LOG_ERR, __VA_ARGS__)
#define act__warn(...)  act__log(ACT_LOG_WARN, __VA_ARGS__)
#define act__info(...)  act__log(ACT_LOG_INFO, __VA_ARGS__)
#define act__debug(...) do { if (act__log_level >= ACT_LOG_DEBUG) act__log(ACT_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
