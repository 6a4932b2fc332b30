/* SPDX-License-Identifier: MIT */
/* clock.h - private: monotonic time helpers. */
#ifndef ACT_CLOCK_H
#define ACT_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t act__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline struct timespec act__ns_to_ts(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	return ts;
}

/* Wall-clock time in milliseconds since the epoch, for records and logs. */
uint64_t act__wall_ms(void);

/* Set by a testkit (testkit.c) while it lives: act_now_ns() then reads its
 * virtual clock, so that handlers see the time their timers see. */
extern const uint64_t *act__virtual_now_ns;

#endif
