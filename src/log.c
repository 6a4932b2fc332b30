/* SPDX-License-Identifier: MIT */
/*
 * log.c - one line per event on stderr.  Lines start with the syslog
 * priority prefix "<N>" that journald understands, so a unit running under
 * systemd gets levels for free; the prefix is dropped when stderr is a
 * terminal.  Each line is written with one write(2) so that lines from
 * several processes sharing stderr never interleave.  Lines carry a UTC
 * timestamp unless stderr is journald's stream ($JOURNAL_STREAM), and
 * ACTORS_LOG_FORMAT=json makes every line one JSON object for log
 * shippers.  act_log() is the actors' own entry point into the same
 * stream, tagged with node, group, actor and pid.
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <actors.h>

#include "clock.h"
#include "log.h"
#include "registry.h"
#include "worker-int.h"

int act__log_level = -1;
static char ident[64] = "actors";
static char node_name[64];
static bool json_mode, journald;

/* Reads the environment once per process (forks inherit the result). */
static void init_level(void)
{
	const char *e = getenv("ACTORS_LOG_LEVEL"), *f = getenv("ACTORS_LOG_FORMAT");
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	unsigned long long dev, ino;

	json_mode = f && !strcasecmp(f, "json");
	/* Under journald only if stderr is the stream systemd named. */
	journald = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
	           (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
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

void act__log_set_node(const char *s)
{
	snprintf(node_name, sizeof node_name, "%s", s);
}

const char *act__log_node(void)
{
	return node_name;
}

/* Appends s to buf[*n..cap) as a JSON string body (no quotes). */
static void put_json(char *buf, size_t cap, size_t *n, const char *s)
{
	for (; *s && *n + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[(*n)++] = '\\';
			buf[(*n)++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			*n += (size_t)snprintf(buf + *n, cap - *n, "\\u%04x", c);
		} else {
			buf[(*n)++] = (char)c;
		}
	}
}

/* Replaces control characters in s by \xNN so that text cannot start a line. */
static void escape_ctl(char *dst, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s && n + 5 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			n += (size_t)snprintf(dst + n, cap - n, "\\x%02x", c);
		else
			dst[n++] = (char)c;
	}
	dst[n] = '\0';
}

static void timestamp(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

/*
 * One line: the text (fmt, plus the suppressed count) and, for act_log(),
 * the group and actor.  Text: "<N>" for journald unless stderr is a
 * terminal, a timestamp unless under journald (which stamps lines
 * itself), then "ident[pid]: level: text".  JSON: one object per line.
 */
static void vlog(int level, const char *group, const char *actor, uint32_t suppressed,
                 const char *fmt, va_list ap)
{
	static const char *names[8] = { "emerg", "alert", "crit", "error",
	                                "warning", "notice", "info", "debug" };
	char msg[1024], esc[1024], line[2048], ts[40];
	int m = vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = 0;

	if (m < 0)
		msg[0] = '\0';
	else if (suppressed && (size_t)m < sizeof msg)
		snprintf(msg + m, sizeof msg - (size_t)m, " (%u similar lines suppressed)", suppressed);
	ts[0] = '\0';
	if (json_mode || !journald)
		timestamp(ts, sizeof ts);
	if (json_mode) {
		n = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\","
		                     "\"priority\":%d,\"pid\":%d,\"node\":\"", ts,
		                     names[level & 7], level & 7, (int)getpid());
		put_json(line, sizeof line, &n, node_name);
		n += (size_t)snprintf(line + n, sizeof line - n, "\",\"ident\":\"");
		put_json(line, sizeof line, &n, ident);
		if (group) {
			n += (size_t)snprintf(line + n, sizeof line - n, "\",\"group\":\"");
			put_json(line, sizeof line, &n, group);
		}
		if (actor) {
			n += (size_t)snprintf(line + n, sizeof line - n, "\",\"actor\":\"");
			put_json(line, sizeof line, &n, actor);
		}
		n += (size_t)snprintf(line + n, sizeof line - n, "\",\"msg\":\"");
		put_json(line, sizeof line, &n, msg);
		if (n + 3 > sizeof line)
			n = sizeof line - 3;
		line[n++] = '"';
		line[n++] = '}';
	} else {
		int k = 0;
		if (!isatty(2))
			k += snprintf(line + k, sizeof line - (size_t)k, "<%d>", level);
		if (ts[0])
			k += snprintf(line + k, sizeof line - (size_t)k, "%s ", ts);
		if (group || actor) {
			escape_ctl(esc, sizeof esc, msg);
			k += snprintf(line + k, sizeof line - (size_t)k, "%s%s%s[%d]: %s: %s: %s",
			              node_name, node_name[0] ? "/" : "", group ? group : ident,
			              (int)getpid(), names[level & 7], actor ? actor : "-", esc);
		} else {
			k += snprintf(line + k, sizeof line - (size_t)k, "%s[%d]: %s: %s", ident,
			              (int)getpid(), names[level & 7], msg);
		}
		n = k < 0 ? 0 : (size_t)k;
		if (n > sizeof line - 2)
			n = sizeof line - 2;
	}
	line[n++] = '\n';
	ssize_t w = write(2, line, n);
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
	vlog(level, NULL, NULL, 0, fmt, ap);
	va_end(ap);
}

ACT_API void act_log(const act_ctx *ctx, int level, const char *fmt, ...)
{
	const char *group = NULL, *actor = NULL;
	va_list ap;

	if (act__log_level < 0)
		init_level();
	if (level < ACT_LOG_ERR)
		level = ACT_LOG_ERR; /* an actor cannot claim more than error */
	if (level > act__log_level)
		return;
	if (ctx && ctx->w && ctx->actor) {
		const struct worker *w = ctx->w;
		if (w->self >= 1 && w->self <= w->reg->n_groups)
			group = w->reg->groups[w->self - 1].name;
		actor = act_self_name(ctx);
	}
	va_start(ap, fmt);
	vlog(level, group ? group : "?", actor ? actor : "-", 0, fmt, ap);
	va_end(ap);
}

/* ---- from a signal handler: write(2) and integer arithmetic only ---------------- */

struct sbuf {
	char *p;
	size_t n, cap;
};

static void s_str(struct sbuf *b, const char *s)
{
	for (; *s && b->n + 1 < b->cap; s++)
		b->p[b->n++] = *s;
}

/* s as the body of a JSON string (json) or with control characters as
 * '?' (text): a path must not start a line of its own. */
static void s_text(struct sbuf *b, const char *s, bool json)
{
	for (; *s && b->n + 7 < b->cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (json && (c == '"' || c == '\\')) {
			b->p[b->n++] = '\\';
			b->p[b->n++] = (char)c;
		} else {
			b->p[b->n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		}
	}
}

static void s_uint(struct sbuf *b, uint64_t v, int width)
{
	char d[24];
	int k = 0;

	do {
		d[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && k < (int)sizeof d);
	while (k < width && k < (int)sizeof d)
		d[k++] = '0';
	while (k && b->n + 1 < b->cap)
		b->p[b->n++] = d[--k];
}

/* "2026-12-05T02:08:48.123Z", or compact "20261205T020848Z", without
 * gmtime_r() (days to civil date: Howard Hinnant's algorithm). */
static void s_timestamp(struct sbuf *b, bool compact)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t secs = ts.tv_sec, z = secs / 86400 + 719468, sod = secs % 86400;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
	const char *dsep = compact ? "" : "-", *tsep = compact ? "" : ":";

	s_uint(b, (uint64_t)y, 4);
	s_str(b, dsep);
	s_uint(b, (uint64_t)m, 2);
	s_str(b, dsep);
	s_uint(b, (uint64_t)d, 2);
	s_str(b, "T");
	s_uint(b, (uint64_t)(sod / 3600), 2);
	s_str(b, tsep);
	s_uint(b, (uint64_t)(sod / 60 % 60), 2);
	s_str(b, tsep);
	s_uint(b, (uint64_t)(sod % 60), 2);
	if (!compact) {
		s_str(b, ".");
		s_uint(b, (uint64_t)(ts.tv_nsec / 1000000L), 3);
	}
	s_str(b, "Z");
}

void act__log_stamp(char *buf, size_t cap)
{
	struct sbuf b = { buf, 0, cap };

	if (!cap)
		return;
	s_timestamp(&b, true);
	buf[b.n] = '\0';
}

void act__log_prepare(void)
{
	if (act__log_level < 0)
		init_level();
}

void act__log_signal_safe(int level, const char *msg)
{
	static const char *names[8] = { "emerg", "alert", "crit", "error",
	                                "warning", "notice", "info", "debug" };
	char line[2048];
	struct sbuf b = { line, 0, sizeof line - 1 };

	if (json_mode) {
		s_str(&b, "{\"ts\":\"");
		s_timestamp(&b, false);
		s_str(&b, "\",\"level\":\"");
		s_str(&b, names[level & 7]);
		s_str(&b, "\",\"priority\":");
		s_uint(&b, (uint64_t)(level & 7), 1);
		s_str(&b, ",\"pid\":");
		s_uint(&b, (uint64_t)getpid(), 1);
		s_str(&b, ",\"node\":\"");
		s_text(&b, node_name, true);
		s_str(&b, "\",\"ident\":\"");
		s_text(&b, ident, true);
		s_str(&b, "\",\"msg\":\"");
		s_text(&b, msg, true);
		s_str(&b, "\"}");
	} else {
		if (!isatty(2)) {
			s_str(&b, "<");
			s_uint(&b, (uint64_t)(level & 7), 1);
			s_str(&b, ">");
		}
		if (!journald) {
			s_timestamp(&b, false);
			s_str(&b, " ");
		}
		s_text(&b, ident, false);
		s_str(&b, "[");
		s_uint(&b, (uint64_t)getpid(), 1);
		s_str(&b, "]: ");
		s_str(&b, names[level & 7]);
		s_str(&b, ": ");
		s_text(&b, msg, false);
	}
	line[b.n++] = '\n';
	ssize_t w = write(2, line, b.n);
	(void)w;
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
	vlog(level, NULL, NULL, l->suppressed, fmt, ap);
	va_end(ap);
	l->suppressed = 0;
}
