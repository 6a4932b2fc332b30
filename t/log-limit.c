/* SPDX-License-Identifier: MIT */
/*
 * t/log-limit.c - the per-site log rate limiter (src/log.c): a burst of
 * ACT__LOG_BURST lines, then one per ACT__LOG_REFILL_MS, the rest counted;
 * the next line written carries the count.  Time is passed in, so the
 * test neither sleeps nor depends on the machine's speed.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "log.h"

#define MS 1000000ull

int main(void)
{
	struct act__log_limit l = { 0 };
	uint64_t t0 = 1000 * MS;
	unsigned written = 0;

	for (unsigned i = 0; i < 1000; i++)
		written += act__log_limit_take(&l, t0 + i); /* 1000 lines in 1 us */
	ok(written == ACT__LOG_BURST, "a burst of 1000 lines writes %u (want %u)", written,
	   ACT__LOG_BURST);
	ok(l.suppressed == 1000 - ACT__LOG_BURST, "... and counts the other %u", l.suppressed);

	ok(!act__log_limit_take(&l, t0 + ACT__LOG_REFILL_MS * MS - 1),
	   "no line just before a refill period passed");
	ok(act__log_limit_take(&l, t0 + ACT__LOG_REFILL_MS * MS),
	   "one line once a refill period passed");
	ok(!act__log_limit_take(&l, t0 + ACT__LOG_REFILL_MS * MS + 1), "... and only one");

	l.suppressed = 0;
	written = 0;
	for (unsigned i = 0; i < 20; i++)
		written += act__log_limit_take(&l, t0 + (uint64_t)(3 + i) * 3600000 * MS);
	ok(written == 20, "spaced out by an hour, every line is written (%u)", written);
	written = 0;
	for (unsigned i = 0; i < 100; i++)
		written += act__log_limit_take(&l, t0 + 23ull * 3600000 * MS + i);
	ok(written == ACT__LOG_BURST, "a long quiet spell refills the burst, no more (%u)", written);

	/* The count rides on the next line written from that site. */
	int fds[2];
	if (pipe(fds) < 0)
		bail("pipe");
	int saved = dup(2);
	dup2(fds[1], 2);
	struct act__log_limit s = { 0 };
	for (unsigned i = 0; i < ACT__LOG_BURST + 5; i++)
		act__log_limited(&s, ACT_LOG_ERR, "line %u", i);
	s.last_ns -= (uint64_t)ACT__LOG_REFILL_MS * MS; /* as if a period passed */
	act__log_limited(&s, ACT_LOG_ERR, "after");
	dup2(saved, 2);
	close(fds[1]);
	char buf[8192];
	ssize_t n = read(fds[0], buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	unsigned lines = 0;
	for (char *p = buf; (p = strchr(p, '\n')); p++)
		lines++;
	ok(lines == ACT__LOG_BURST + 1, "%u lines written for %u calls (want %u)", lines,
	   ACT__LOG_BURST + 6, ACT__LOG_BURST + 1);
	ok(strstr(buf, "after (5 similar lines suppressed)") != NULL,
	   "the next line says how many were suppressed");
	return done_testing();
}
