/* SPDX-License-Identifier: MIT */
/*
 * t/tap.h - a tiny Test Anything Protocol emitter for the test programs.
 *
 * plan(n) or done_testing(); ok(cond, fmt, ...) prints "ok N - ..." or
 * "not ok N - ..."; bail(fmt, ...) aborts the whole run.  tap_timeout(s)
 * arms an alarm so that a hang fails the test instead of the suite.
 */
#ifndef ACTORS_T_TAP_H
#define ACTORS_T_TAP_H

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tap_n;
static int tap_failed;

static inline void plan(int n) { printf("1..%d\n", n); fflush(stdout); }

__attribute__((format(printf, 2, 3)))
static inline int ok(int cond, const char *fmt, ...)
{
	va_list ap;
	tap_n++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

__attribute__((format(printf, 1, 2)))
static inline void diag(const char *fmt, ...)
{
	va_list ap;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

__attribute__((format(printf, 1, 2), noreturn))
static inline void bail(const char *fmt, ...)
{
	va_list ap;
	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

static inline void skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	fflush(stdout);
	exit(0);
}

static inline int done_testing(void)
{
	printf("1..%d\n", tap_n);
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

static void tap_alarm_(int sig)
{
	(void)sig;
	static const char msg[] = "Bail out! test timed out\n";
	ssize_t r = write(1, msg, sizeof msg - 1);
	(void)r;
	kill(0, SIGKILL); /* take our process group (children) with us */
	_exit(1);
}

/* Fail (and kill this test's process group) if the test runs longer than s. */
static inline void tap_timeout(unsigned s)
{
	/* Lead our own process group so that the alarm kills only this test
	 * and its children, never the make that runs it. */
	setpgid(0, 0);
	signal(SIGALRM, tap_alarm_);
	alarm(s);
}

#endif /* ACTORS_T_TAP_H */
