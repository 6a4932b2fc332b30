/*
 * log.c - one line per event on stderr.  Lines start with the syslog
 * priority prefix "<N>" that journald understands, so a unit running under
 * systemd gets levels for free; the prefix is dropped when stderr is a
 * terminal.  Each line is written with one write(2) so that lines from
 * several processes sharing stderr never interleave.
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

int act__log_level = -1;
static char ident[64] = "actors";

static void init_level(void)
{
	const char *e = getenv("ACTORS_LOG_LEVEL");
	act__log_level = ACT_LOG_INFO;
	if (!e)
		return;
	if (!strcasecmp(e, "debug"))
		act__log_level = ACT_LOG_DEBUG;
	else if (!strcasecmp(e, "warn") || !strcasecmp(e, "warning"))
		act__log_level = ACT_LOG_WARN;
	else if (!strcasecmp(e, "err") || !strcasecmp(e, "error"))
		act__log_level = ACT_LOG_ERR;
}

void act__log_set_ident(const char *s)
{
	snprintf(ident, sizeof ident, "%s", s);
}

static void vlog(int level, uint32_t suppressed, const char *fmt, va_list ap)
{
	static const char *names[8] = { "emerg", "alert", "crit", "error",
	                                "warning", "notice", "info", "debug" };
	char line[1024];
	int n = 0;

	if (!isatty(2))
		n = snprintf(line, sizeof line, "<%d>", level);
	n += snprintf(line + n, sizeof line - (size_t)n, "%s[%d]: %s: ", ident,
	              (int)getpid(), names[level & 7]);
	if (n < (int)sizeof line)
		n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	if (suppressed && n < (int)sizeof line)
		n += snprintf(line + n, sizeof line - (size_t)n,
		              " (%u similar lines suppressed)", suppressed);
	if (n >= (int)sizeof line - 1)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	ssize_t w = write(2, line, (size_t)n);
	(void)w;
}

void act__log(int level, const char *fmt, ...)
{
	va_list ap;

	if (act__log_level < 0)
		init_level();
	if (level > act__log_level)
		return;
	va_start(ap, fmt);
	vlog(level, 0, fmt, ap);
	va_end(ap);
}

uint64_t act__log_n_suppressed;

bool act__log_limit_take(struct act__log_limit *l, uint64_t now_ns)
{
	const uint64_t refill_ns = (uint64_t)ACT__LOG_REFILL_MS * 1000000u;

	if (!l->last_ns) {
		l->tokens = ACT__LOG_BURST;
		l->last_ns = now_ns ? now_ns : 1;
	} else if (now_ns > l->last_ns && now_ns - l->last_ns >= refill_ns) {
		uint64_t add = (now_ns - l->last_ns) / refill_ns;
		l->tokens = add >= ACT__LOG_BURST - l->tokens ? ACT__LOG_BURST
		                                              : l->tokens + (uint32_t)add;
		l->last_ns += add * refill_ns;
	}
	if (!l->tokens) {
		l->suppressed++;
		act__log_n_suppressed++;
		return false;
	}
	l->tokens--;
	return true;
}

void act__log_limited(struct act__log_limit *l, int level, const char *fmt, ...)
{
	va_list ap;

	if (act__log_level < 0)
		init_level();
	if (level > act__log_level || !act__log_limit_take(l, act__now_ns()))
		return;
	va_start(ap, fmt);
	vlog(level, l->suppressed, fmt, ap);
	va_end(ap);
	l->suppressed = 0;
}
