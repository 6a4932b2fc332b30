/* SPDX-License-Identifier: MIT */
/*
 * clock.c - time sources.  Timers and timeouts use CLOCK_MONOTONIC (see
 * clock.h); records meant for people (crash records, dead letters) carry
 * wall-clock time.
 */
#include "config.h"

#include <actors.h>

#include "clock.h"
#include "phase.h"

uint64_t act__wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const uint64_t *act__virtual_now_ns;

_Atomic uint64_t *act__phase_ns; /* phase.h */

ACT_API uint64_t act_now_ns(void)
{
	const uint64_t *v = act__virtual_now_ns;
	return v ? *v : act__now_ns();
}
