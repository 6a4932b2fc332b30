/*
 * log.c - one line per event on stderr.  Lines start with the syslog
 * priority prefix "<N>" that journald understands, so a unit running under
 * systemd gets levels for free; the prefix is dropped when stderr is a
 * terminal.  Each line is written with one write(2) so that lines from
 * several processes sharing stderr never interleave.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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

void act__log(int level, const char *fmt, ...)
{
	static const char *names[8] = { "emerg", "alert", "crit", "error",
	                                "warning", "notice", "info", "debug" };
	char line[1024];
	int n = 0;
	va_list ap;

	if (act__log_level < 0)
		init_level();
	if (level > act__log_level)
		return;
	if (!isatty(2))
		n = snprintf(line, sizeof line, "<%d>", level);
	n += snprintf(line + n, sizeof line - (size_t)n, "%s[%d]: %s: ", ident,
	              (int)getpid(), names[level & 7]);
	va_start(ap, fmt);
	if (n < (int)sizeof line)
		n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof line - 1)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	ssize_t w = write(2, line, (size_t)n);
	(void)w;
}
