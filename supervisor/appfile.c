/* SPDX-License-Identifier: MIT */
/*
 * appfile.c - reads the JSON application file of actorsd and validates it
 * against the schema in appfile.h, producing one precise message for the
 * first problem found.
 *
 * Parsing is done twice on purpose: the strict checker of jsoncheck.c runs
 * first and says where and why a file is not JSON; only text that passed
 * it reaches cJSON, which builds the tree the schema walk reads.  The
 * checker's list of numbers written with a fraction or exponent is mapped
 * onto the tree, since cJSON keeps only a double and an integer field must
 * reject "1.0".  The schema walk visits keys in file order and stops at
 * the first error, so the message is about the earliest problem in each
 * object.
 */
#include "config.h"

#include <errno.h>
#include <math.h>   /* isfinite, a macro: no libm needed */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "appfile.h"
#include "registry.h"
#include "topic.h"
#include "jsoncheck.h"
#include "metricsaddr.h"
#include "pathcheck.h"
#include "restart.h"
#include "ring.h"   /* ACT__RING_MIN_CAP, ACT__RING_MAX_CAP */
#include "utf8.h"

#define PATH_CAP 512              /* a JSON path in a message */
#define QBUF 160                  /* a quoted user string in a message */
#define UNIX_PATH_MAX_LEN (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* ---- small helpers ----------------------------------------------------- */

/* Writes fmt into err (if any), truncated; never overflows. */
__attribute__((format(printf, 3, 4)))
static void put_err(char *err, size_t err_cap, const char *fmt, ...)
{
	va_list ap;

	if (!err || !err_cap)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_cap, fmt, ap);
	va_end(ap);
}

/*
 * Formats s for a message in single quotes: control characters escaped,
 * long strings cut (at a character boundary) with "...".  Returns buf.
 */
static const char *q(char buf[QBUF], const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, max = 48;

	buf[o++] = '\'';
	while (*p && o < QBUF - 8) {
		if (max == 0) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (*p < 0x20 || *p == 0x7f) {
			o += (size_t)snprintf(buf + o, QBUF - o, "\\x%02x", *p);
			p++;
		} else if (*p == '\'' || *p == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)*p++;
		} else {
			size_t n = act__utf8_seq(p, strnlen((const char *)p, 4));
			if (n == 0 || o + n >= QBUF - 8) {
				o += (size_t)snprintf(buf + o, QBUF - o, "\\x%02x", *p);
				p++;
			} else {
				memcpy(buf + o, p, n);
				o += n;
				p += n;
			}
		}
		max--;
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}

/* base + "/" + rel, or a copy of rel if it is absolute or base is NULL or "".
 * Leading "./" components of rel are dropped.  NULL on OOM. */
static char *path_join(const char *base, const char *rel)
{
	size_t bl, rl;
	char *out;

	if (!base || !base[0] || rel[0] == '/')
		return strdup(rel);
	while (rel[0] == '.' && rel[1] == '/') {
		rel += 2;
		while (rel[0] == '/')
			rel++;
	}
	if (!strcmp(rel, "."))
		rel = "";
	bl = strlen(base);
	while (bl > 1 && base[bl - 1] == '/')
		bl--;
	rl = strlen(rel);
	if (rl == 0)
		return strndup(base, bl);
	out = malloc(bl + 1 + rl + 1);
	if (!out)
		return NULL;
	memcpy(out, base, bl);
	if (!(bl == 1 && base[0] == '/'))
		out[bl++] = '/';
	memcpy(out + bl, rel, rl + 1);
	return out;
}

/* ---- string set (duplicate detection) ----------------------------------- */

/* Open addressing, keys borrowed; val remembers where the first one was. */
struct strset {
	const char **key;
	uint64_t *val;
	size_t cap, n;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a */
	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
	return h;
}

static void strset_fini(struct strset *s)
{
	free(s->key);
	free(s->val);
	memset(s, 0, sizeof *s);
}

/* 0 if added, 1 if already there (*prev = its val), -ENOMEM. */
static int strset_put(struct strset *s, const char *key, uint64_t val, uint64_t *prev)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		const char **nk = calloc(ncap, sizeof *nk);
		uint64_t *nv = calloc(ncap, sizeof *nv);
		if (!nk || !nv) {
			free(nk);
			free(nv);
			return -ENOMEM;
		}
		for (size_t j = 0; j < s->cap; j++) {
			if (!s->key[j])
				continue;
			i = str_hash(s->key[j]) & (ncap - 1);
			while (nk[i])
				i = (i + 1) & (ncap - 1);
			nk[i] = s->key[j];
			nv[i] = s->val[j];
		}
		free(s->key);
		free(s->val);
		s->key = nk;
		s->val = nv;
		s->cap = ncap;
	}
	i = str_hash(key) & (s->cap - 1);
	while (s->key[i]) {
		if (!strcmp(s->key[i], key)) {
			*prev = s->val[i];
			return 1;
		}
		i = (i + 1) & (s->cap - 1);
	}
	s->key[i] = key;
	s->val[i] = val;
	s->n++;
	return 0;
}

/* ---- the schema walk ------------------------------------------------------ */

struct pctx {
	const char *file;
	const char *base_dir;
	char *err;
	size_t err_cap;
	int failed;
	char path[PATH_CAP];
	size_t path_len;
	struct act__jc_nonint *nonint;     /* sorted by item after the tree is built */
	size_t n_nonint;
	const char *text;
	struct act__app *app;
	struct strset actor_names; /* name -> (group << 32 | actor) */
};

__attribute__((format(printf, 2, 3)))
static int fail(struct pctx *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->failed++ || !c->err || !c->err_cap)
		return -EINVAL;
	n = snprintf(c->err, c->err_cap, "%s: %s: ", c->file, c->path);
	if (n >= 0 && (size_t)n < c->err_cap) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->err_cap - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int fail_oom(struct pctx *c)
{
	if (!c->failed++)
		put_err(c->err, c->err_cap, "%s: out of memory", c->file);
	return -ENOMEM;
}

__attribute__((format(printf, 2, 3)))
static size_t path_push(struct pctx *c, const char *fmt, ...)
{
	size_t mark = c->path_len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->path + mark, PATH_CAP - mark, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= PATH_CAP - mark) {
		/* Too deep to show: end the path with an ellipsis. */
		memcpy(c->path + PATH_CAP - 4, "...", 4);
		c->path_len = PATH_CAP - 1;
	} else {
		c->path_len = mark + (size_t)n;
	}
	return mark;
}

static int is_ident(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return 0;
	while (*++s)
		if (!act__jc_is_word_char((unsigned char)*s))
			return 0;
	return 1;
}

/* Appends ".key" (or ["key"] for an unusual key) to the path. */
static size_t path_key(struct pctx *c, const char *key)
{
	char b[QBUF];

	if (is_ident(key) && strlen(key) <= 48)
		return path_push(c, ".%s", key);
	q(b, key);
	/* q() quotes with '...'; JSONPath brackets read better with "...". */
	b[0] = '"';
	b[strlen(b) - 1] = '"';
	return path_push(c, "[%s]", b);
}

static size_t path_idx(struct pctx *c, size_t i)
{
	return path_push(c, "[%zu]", i);
}

static void path_pop(struct pctx *c, size_t mark)
{
	c->path_len = mark;
	c->path[mark] = '\0';
}

static int nonint_cmp(const void *a, const void *b)
{
	const cJSON *x = ((const struct act__jc_nonint *)a)->item;
	const cJSON *y = ((const struct act__jc_nonint *)b)->item;
	return x < y ? -1 : x > y;
}

static const struct act__jc_nonint *nonint_find(const struct pctx *c, const cJSON *it)
{
	struct act__jc_nonint key = { 0, 0, 0, it };
	if (!c->n_nonint)
		return NULL;
	return bsearch(&key, c->nonint, c->n_nonint, sizeof key, nonint_cmp);
}

/* Describes a JSON value for "got ...". */
static const char *describe(const struct pctx *c, const cJSON *it, char buf[QBUF])
{
	const struct act__jc_nonint *ni;
	char b[QBUF];

	if (cJSON_IsString(it)) {
		snprintf(buf, QBUF, "string %s", q(b, it->valuestring));
		return buf;
	}
	if (cJSON_IsNumber(it)) {
		double d = it->valuedouble;
		if ((ni = nonint_find(c, it)))
			snprintf(buf, QBUF, "%.*s", (int)ni->len, c->text + ni->off);
		else if (d > -1e17 && d < 1e17 && d == (double)(long long)d)
			snprintf(buf, QBUF, "%.0f", d);
		else
			snprintf(buf, QBUF, "%.17g", d);
		return buf;
	}
	if (cJSON_IsTrue(it))
		return "true";
	if (cJSON_IsFalse(it))
		return "false";
	if (cJSON_IsNull(it))
		return "null";
	if (cJSON_IsArray(it))
		return "an array";
	if (cJSON_IsObject(it))
		return "an object";
	return "an invalid value";
}

static int get_u32(struct pctx *c, const cJSON *it, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char g[QBUF];
	bool written_frac, in_range;
	double d;

	if (!cJSON_IsNumber(it))
		return fail(c, "expected an integer in %u..%u, got %s", lo, hi, describe(c, it, g));
	d = it->valuedouble;
	written_frac = nonint_find(c, it) != NULL;
	in_range = d >= (double)lo && d <= (double)hi;
	/* The range test comes first: it makes the conversion defined. */
	if (!written_frac && in_range && d == (double)(uint32_t)d) {
		*out = (uint32_t)d;
		return 0;
	}
	return fail(c, "expected an integer in %u..%u, got %s%s", lo, hi, describe(c, it, g),
	            written_frac || in_range ? " (write it without a fraction or exponent)" : "");
}

static int get_double(struct pctx *c, const cJSON *it, double lo, double hi, double *out)
{
	char g[QBUF];

	if (!cJSON_IsNumber(it) || !(it->valuedouble >= lo && it->valuedouble <= hi))
		return fail(c, "expected a number in %g..%g, got %s", lo, hi, describe(c, it, g));
	*out = it->valuedouble;
	return 0;
}

static int get_bool(struct pctx *c, const cJSON *it, bool *out)
{
	char g[QBUF];

	if (!cJSON_IsBool(it))
		return fail(c, "expected true or false, got %s", describe(c, it, g));
	*out = cJSON_IsTrue(it);
	return 0;
}

/* Matches a string against names[0..n); the message lists them all. */
static int get_enum(struct pctx *c, const cJSON *it, const char *const *names,
                    size_t n, int *out)
{
	char g[QBUF], list[256];
	size_t o = 0;

	if (cJSON_IsString(it)) {
		for (size_t i = 0; i < n; i++) {
			if (!strcmp(it->valuestring, names[i])) {
				*out = (int)i;
				return 0;
			}
		}
	}
	for (size_t i = 0; i < n && o < sizeof list; i++)
		o += (size_t)snprintf(list + o, sizeof list - o, "%s\"%s\"",
		                      i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
	return fail(c, "expected one of %s, got %s", list, describe(c, it, g));
}

/* A string value, copied.  nonempty: reject "". */
static int get_str(struct pctx *c, const cJSON *it, const char *what, char **out)
{
	char g[QBUF];

	if (!cJSON_IsString(it))
		return fail(c, "expected %s (a string), got %s", what, describe(c, it, g));
	if (!it->valuestring[0])
		return fail(c, "expected %s, got an empty string", what);
	for (const unsigned char *p = (const unsigned char *)it->valuestring; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return fail(c, "%s %s contains a control character", what,
			            q(g, it->valuestring));
	if (!(*out = strdup(it->valuestring)))
		return fail_oom(c);
	return 0;
}

/* A path relative to the app file's directory, resolved. */
static int get_path(struct pctx *c, const cJSON *it, const char *what, char **out)
{
	char *raw = NULL;
	int rc;

	if ((rc = get_str(c, it, what, &raw)))
		return rc;
	*out = path_join(c->base_dir, raw);
	free(raw);
	return *out ? 0 : fail_oom(c);
}

/* Checks a node/group/peer name: NULL if good, else what is wrong. */
static const char *name_problem(const char *s, char buf[QBUF])
{
	size_t n = strlen(s);

	if (n == 0)
		return "is empty (expected 1..63 characters of A-Z a-z 0-9 _ . -)";
	if (n > ACT__APP_NAME_MAX) {
		snprintf(buf, QBUF, "is too long (%zu bytes, at most %u)", n, ACT__APP_NAME_MAX);
		return buf;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!act__jc_is_word_char(ch) && ch != '.' && ch != '-') {
			if (ch >= 0x20 && ch < 0x7f)
				snprintf(buf, QBUF, "has a bad character '%c' at byte %zu "
				         "(allowed: A-Z a-z 0-9 _ . -)", ch, i);
			else
				snprintf(buf, QBUF, "has a bad character (byte 0x%02x) at byte %zu "
				         "(allowed: A-Z a-z 0-9 _ . -)", ch, i);
			return buf;
		}
	}
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return "must not be '.' or '..'";
	return NULL;
}

static int get_name(struct pctx *c, const cJSON *it, const char *what, char **out)
{
	char g[QBUF], b[QBUF];
	const char *why;

	if (!cJSON_IsString(it))
		return fail(c, "expected %s (a string of A-Z a-z 0-9 _ . -), got %s",
		            what, describe(c, it, g));
	if ((why = name_problem(it->valuestring, b)))
		return fail(c, "%s %s %s", what, q(g, it->valuestring), why);
	if (!(*out = strdup(it->valuestring)))
		return fail_oom(c);
	return 0;
}

/* A free-form label (actor, behaviour): 1..max bytes, no control characters. */
static int get_label(struct pctx *c, const cJSON *it, const char *what, size_t max, char **out)
{
	char g[QBUF];
	size_t n;

	if (!cJSON_IsString(it))
		return fail(c, "expected %s (a string), got %s", what, describe(c, it, g));
	n = strlen(it->valuestring);
	if (n == 0 || n > max)
		return fail(c, "%s %s must be 1..%zu bytes long, not %zu", what,
		            q(g, it->valuestring), max, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)it->valuestring[i];
		if (ch < 0x20 || ch == 0x7f)
			return fail(c, "%s %s has a control character (0x%02x) at byte %zu",
			            what, q(g, it->valuestring), ch, i);
	}
	if (!(*out = strdup(it->valuestring)))
		return fail_oom(c);
	return 0;
}

/* ---- endpoints ------------------------------------------------------------ */

static int host_is_wildcard(const char *h, size_t n)
{
	return (n == 1 && h[0] == '*') || (n == 7 && !memcmp(h, "0.0.0.0", 7)) ||
	       (n == 4 && !memcmp(h, "[::]", 4));
}

/*
 * Checks a ZMQ endpoint.  bind: it is ours to bind (wildcards allowed);
 * otherwise others connect to it.  Returns NULL or what is wrong.
 */
static const char *endpoint_problem(const char *ep, bool bind)
{
	const char *h, *colon, *port;
	unsigned long pn = 0;

	for (const unsigned char *p = (const unsigned char *)ep; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return "contains a space or control character";
	if (!strncmp(ep, "ipc://", 6)) {
		if (!ep[6])
			return "has an empty ipc path";
		if (!bind && !strcmp(ep + 6, "*"))
			return "'ipc://*' can be bound but not connected to";
		return NULL;
	}
	if (strncmp(ep, "tcp://", 6))
		return "expected tcp://HOST:PORT or ipc://PATH";
	h = ep + 6;
	colon = strrchr(h, ':');
	if (!colon || colon == h || strchr(h, '/'))
		return "expected tcp://HOST:PORT";
	if (h[0] == '[' && colon[-1] != ']')
		return "expected tcp://[IPV6]:PORT";
	port = colon + 1;
	if (!strcmp(port, "*"))
		return bind ? NULL : "port '*' can be bound but not connected to";
	if (!*port || strlen(port) > 5)
		return "expected a port in 1..65535 after the last ':'";
	for (const char *p = port; *p; p++) {
		if (!act__jc_is_digit((unsigned char)*p))
			return "expected a port in 1..65535 after the last ':'";
		pn = pn * 10 + (unsigned long)(*p - '0');
	}
	if (pn == 0 || pn > 65535)
		return "expected a port in 1..65535 after the last ':'";
	if (!bind && host_is_wildcard(h, (size_t)(colon - h)))
		return "a wildcard host can be bound but not connected to (name the host)";
	return NULL;
}

/* The default advertise endpoint for a bind endpoint, or NULL (*out) when
 * it can only be known after binding. */
static int default_advertise(const char *ep, char **out)
{
	const char *h, *colon;

	*out = NULL;
	if (!strncmp(ep, "ipc://", 6)) {
		if (!strcmp(ep + 6, "*"))
			return 0;
		return (*out = strdup(ep)) ? 0 : -ENOMEM;
	}
	h = ep + 6;
	colon = strrchr(h, ':');
	if (!strcmp(colon + 1, "*"))
		return 0;
	if (!host_is_wildcard(h, (size_t)(colon - h)))
		return (*out = strdup(ep)) ? 0 : -ENOMEM;
	if (!(*out = malloc(strlen("tcp://localhost") + strlen(colon) + 1)))
		return -ENOMEM;
	strcpy(*out, "tcp://localhost");
	strcat(*out, colon);
	return 0;
}

static int get_endpoint(struct pctx *c, const cJSON *it, bool bind, char **out)
{
	char g[QBUF];
	const char *why;

	if (!cJSON_IsString(it))
		return fail(c, "expected an endpoint string like \"tcp://HOST:PORT\", got %s",
		            describe(c, it, g));
	if ((why = endpoint_problem(it->valuestring, bind)))
		return fail(c, "invalid endpoint %s: %s", q(g, it->valuestring), why);
	if (!(*out = strdup(it->valuestring)))
		return fail_oom(c);
	return 0;
}

/* "metrics_endpoint": HOST:PORT for the HTTP metrics listener (httpd.h). */
static int get_metrics_endpoint(struct pctx *c, const cJSON *it, char **out)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char g[QBUF], why[128];

	if (!cJSON_IsString(it))
		return fail(c, "expected an address string like \"127.0.0.1:9464\", got %s",
		            describe(c, it, g));
	if (act__httpd_parse_addr(it->valuestring, &ss, &len, why, sizeof why))
		return fail(c, "invalid metrics endpoint %s: %s", q(g, it->valuestring), why);
	if (!(*out = strdup(it->valuestring)))
		return fail_oom(c);
	return 0;
}

/* ---- objects -------------------------------------------------------------- */

/* Edit distance of two short strings (for "did you mean"). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[32];

	if (la >= 31 || lb >= 31)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (up + 1 < best)
				best = up + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/*
 * Returns the index of it's key in keys (NULL-terminated), marking it in
 * *seen; fails with "unknown key" (listing the allowed ones, with a guess)
 * or "duplicate key".  The path must be the object's.
 */
static int key_index(struct pctx *c, const cJSON *it, const char *const *keys, unsigned *seen)
{
	char g[QBUF], list[400];
	const char *guess = NULL;
	size_t o = 0, best = 3;

	for (int i = 0; keys[i]; i++) {
		if (strcmp(it->string, keys[i]))
			continue;
		if (*seen & (1u << i))
			return fail(c, "duplicate key %s", q(g, keys[i]));
		*seen |= 1u << i;
		return i;
	}
	for (int i = 0; keys[i]; i++) {
		size_t d = edit_distance(it->string, keys[i]);
		if (d < best) {
			best = d;
			guess = keys[i];
		}
		o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", keys[i]);
		if (o >= sizeof list)
			break;
	}
	if (guess)
		return fail(c, "unknown key %s (did you mean '%s'? expected one of: %s)",
		            q(g, it->string), guess, list);
	return fail(c, "unknown key %s (expected one of: %s)", q(g, it->string), list);
}

static int want_object(struct pctx *c, const cJSON *it, const char *what)
{
	char g[QBUF];

	if (!cJSON_IsObject(it))
		return fail(c, "expected %s (an object), got %s", what, describe(c, it, g));
	return 0;
}

/*
 * Checks any JSON value (actor args): no duplicate keys anywhere, every
 * number finite.  Recursion is bounded by the syntax check's depth limit.
 */
static int check_any(struct pctx *c, const cJSON *it)
{
	const cJSON *ch;
	size_t i = 0, mark;
	int rc = 0;

	if (cJSON_IsNumber(it) && !isfinite(it->valuedouble)) {
		char g[QBUF];
		return fail(c, "number %s is out of range", describe(c, it, g));
	}
	if (cJSON_IsObject(it)) {
		struct strset keys = { 0 };
		uint64_t prev;
		char g[QBUF];
		cJSON_ArrayForEach(ch, it) {
			int r = strset_put(&keys, ch->string, 0, &prev);
			if (r < 0) {
				rc = fail_oom(c);
				break;
			}
			if (r > 0) {
				rc = fail(c, "duplicate key %s", q(g, ch->string));
				break;
			}
			mark = path_key(c, ch->string);
			rc = check_any(c, ch);
			path_pop(c, mark);
			if (rc)
				break;
		}
		strset_fini(&keys);
		return rc;
	}
	if (cJSON_IsArray(it)) {
		cJSON_ArrayForEach(ch, it) {
			mark = path_idx(c, i++);
			rc = check_any(c, ch);
			path_pop(c, mark);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static const char *const actor_keys[] = { "name", "behaviour", "args", "remote", NULL };
enum { A_NAME, A_BEHAVIOUR, A_ARGS, A_REMOTE };

static int parse_actor(struct pctx *c, const cJSON *obj, uint32_t gi, uint32_t ai)
{
	struct act__app_actor *a = &c->app->groups[gi].actors[ai];
	const cJSON *it;
	unsigned seen = 0;
	size_t mark;
	int k, rc = 0;

	a->group = gi;
	if ((rc = want_object(c, obj, "an actor")))
		return rc;
	cJSON_ArrayForEach(it, obj) {
		if ((k = key_index(c, it, actor_keys, &seen)) < 0)
			return k;
		mark = path_key(c, it->string);
		switch (k) {
		case A_NAME: {
			uint64_t prev;
			char g[QBUF];
			const char *why;
			if ((rc = get_label(c, it, "actor name", ACT__APP_NAME_MAX, &a->name)))
				break;
			if ((why = act__actor_name_problem(a->name))) {
				rc = fail(c, "actor name %s %s", q(g, a->name), why);
				break;
			}
			rc = strset_put(&c->actor_names, a->name, (uint64_t)gi << 32 | ai, &prev);
			if (rc < 0)
				rc = fail_oom(c);
			else if (rc > 0)
				rc = fail(c, "duplicate actor name %s (first at $.groups[%u]."
				          "actors[%u].name); actor names are unique in the whole node",
				          q(g, a->name), (unsigned)(prev >> 32), (unsigned)prev);
			break;
		}
		case A_BEHAVIOUR:
			rc = get_label(c, it, "behaviour name", 255, &a->behaviour);
			break;
		case A_ARGS:
			if ((rc = check_any(c, it)) || cJSON_IsNull(it))
				break;
			if (!(a->args_json = cJSON_PrintUnformatted(it)))
				rc = fail_oom(c);
			break;
		case A_REMOTE:
			rc = get_bool(c, it, &a->remote);
			break;
		}
		path_pop(c, mark);
		if (rc)
			return rc;
	}
	if (!(seen & (1u << A_NAME)))
		return fail(c, "missing required key 'name' (the actor's name)");
	if (!(seen & (1u << A_BEHAVIOUR)))
		return fail(c, "missing required key 'behaviour' (the behaviour name "
		            "the group's module registers)");
	return 0;
}

static const char *const group_keys[] = {
	"name", "module", "restart", "ring_bytes", "max_msg_bytes", "spin_us",
	"max_redeliveries", "heartbeat_ms", "heartbeat_timeout_ms", "shutdown_ms",
	"hot_standby", "actors", "max_spawned", "pool", "routing", "key", "trace", "quick_reap", NULL
};
enum { G_NAME, G_MODULE, G_RESTART, G_RING, G_MAXMSG, G_SPIN, G_REDELIV,
       G_HB, G_HBTO, G_SHUTDOWN, G_STANDBY, G_ACTORS, G_MAXSPAWNED, G_POOL, G_ROUTING,
       G_KEY, G_TRACE, G_QUICK };

/* By act_pool_routing (as src/pool.c's act__pool_routing_names, which this
 * parser does not link: the fuzz target builds it alone). */
static const char *const routing_names[3] = { "round_robin", "least_loaded", "key_hash" };
_Static_assert(ACT_POOL_ROUND_ROBIN == 0 && ACT_POOL_LEAST_LOADED == 1 &&
               ACT_POOL_KEY_HASH == 2, "routing_names follows act_pool_routing");

#define restart_names act__restart_names
#define strategy_names act__strategy_names

static int parse_actors(struct pctx *c, const cJSON *arr, uint32_t gi)
{
	struct act__app_group *g = &c->app->groups[gi];
	char d[QBUF];
	const cJSON *it;
	uint32_t ai = 0;
	size_t n, mark;
	int rc;

	if (!cJSON_IsArray(arr))
		return fail(c, "expected an array of actors, got %s", describe(c, arr, d));
	n = (size_t)cJSON_GetArraySize(arr);
	if (n == 0)
		return fail(c, "expected at least one actor, got an empty array");
	if (!(g->actors = calloc(n, sizeof *g->actors)))
		return fail_oom(c);
	g->n_actors = (uint32_t)n;
	c->app->n_actors += (uint32_t)n;
	cJSON_ArrayForEach(it, arr) {
		mark = path_idx(c, ai);
		rc = parse_actor(c, it, gi, ai);
		path_pop(c, mark);
		if (rc)
			return rc;
		ai++;
	}
	return 0;
}

static int parse_group(struct pctx *c, const cJSON *obj, uint32_t gi, struct strset *names)
{
	struct act__app_group *g = &c->app->groups[gi];
	const cJSON *it;
	unsigned seen = 0;
	size_t mark;
	int k, v, rc = 0;

	g->restart = ACT_PERMANENT;
	g->ring_bytes = 256u * 1024u;
	g->max_msg_bytes = 64u * 1024u;
	g->spin_us = 50;
	g->max_redeliveries = 3;
	g->heartbeat_ms = 100;
	g->heartbeat_timeout_ms = 1000;
	g->shutdown_ms = 5000;
	g->quick_reap = true;
	if ((rc = want_object(c, obj, "a group")))
		return rc;
	cJSON_ArrayForEach(it, obj) {
		if ((k = key_index(c, it, group_keys, &seen)) < 0)
			return k;
		mark = path_key(c, it->string);
		switch (k) {
		case G_NAME: {
			uint64_t prev;
			char b[QBUF];
			if ((rc = get_name(c, it, "group name", &g->name)))
				break;
			rc = strset_put(names, g->name, gi, &prev);
			if (rc < 0)
				rc = fail_oom(c);
			else if (rc > 0)
				rc = fail(c, "duplicate group name %s (first at $.groups[%u].name)",
				          q(b, g->name), (unsigned)prev);
			break;
		}
		case G_MODULE:
			rc = get_path(c, it, "a module path", &g->module);
			break;
		case G_RESTART:
			if (!(rc = get_enum(c, it, restart_names, 3, &v)))
				g->restart = (act_restart_type)v;
			break;
		case G_RING:
			if ((rc = get_u32(c, it, ACT__RING_MIN_CAP, ACT__RING_MAX_CAP, &g->ring_bytes)))
				break;
			if (g->ring_bytes & (g->ring_bytes - 1)) {
				uint32_t lo = 1u << (31 - __builtin_clz(g->ring_bytes));
				rc = fail(c, "expected a power of two in %u..%u, got %u "
				          "(nearest: %u or %u)", ACT__RING_MIN_CAP, ACT__RING_MAX_CAP,
				          g->ring_bytes, lo, lo << 1);
			}
			break;
		case G_MAXMSG:
			rc = get_u32(c, it, 64, ACT__RING_MAX_CAP / 4, &g->max_msg_bytes);
			break;
		case G_SPIN:
			rc = get_u32(c, it, 0, 1000000, &g->spin_us);
			break;
		case G_REDELIV:
			rc = get_u32(c, it, 1, 1000, &g->max_redeliveries);
			break;
		case G_HB:
			rc = get_u32(c, it, 1, 60000, &g->heartbeat_ms);
			break;
		case G_HBTO:
			rc = get_u32(c, it, 2, 600000, &g->heartbeat_timeout_ms);
			break;
		case G_SHUTDOWN:
			if (cJSON_IsString(it) && !strcmp(it->valuestring, "brutal_kill")) {
				g->brutal_kill = true;
				g->shutdown_ms = 0;
			} else if (!cJSON_IsNumber(it)) {
				char d[QBUF];
				rc = fail(c, "expected an integer in 0..3600000 or \"brutal_kill\", "
				          "got %s", describe(c, it, d));
			} else {
				rc = get_u32(c, it, 0, 3600000, &g->shutdown_ms);
			}
			break;
		case G_STANDBY:
			rc = get_bool(c, it, &g->hot_standby);
			break;
		case G_QUICK:
			rc = get_bool(c, it, &g->quick_reap);
			break;
		case G_ACTORS:
			rc = parse_actors(c, it, gi);
			break;
		case G_TRACE:
			rc = get_bool(c, it, &g->trace);
			break;
		case G_MAXSPAWNED:
			/* Each slot reserves 1.2 KiB of the region's address space
			 * (memory only once used), hence the upper bound. */
			rc = get_u32(c, it, 1, ACT__DYN_SLOTS_MAX, &g->max_spawned);
			break;
		case G_POOL:
			/* Members are groups: each costs a process and its rings. */
			rc = get_u32(c, it, 1, ACT_POOL_MAX, &g->pool_n);
			break;
		case G_ROUTING:
			if (!(rc = get_enum(c, it, routing_names, 3, &v)))
				g->pool_routing = (act_pool_routing)v;
			break;
		case G_KEY:
			rc = get_name(c, it, "a message field name", &g->pool_key);
			break;
		}
		path_pop(c, mark);
		if (rc)
			return rc;
	}
	if (!(seen & (1u << G_NAME)))
		return fail(c, "missing required key 'name' (the group's name)");
	if (!(seen & (1u << G_MODULE)))
		return fail(c, "missing required key 'module' (path of the group's .so)");
	if (!(seen & (1u << G_ACTORS)))
		return fail(c, "missing required key 'actors' (an array of at least one actor)");
	if (g->max_msg_bytes > g->ring_bytes / 4) {
		if (seen & (1u << G_MAXMSG)) {
			mark = path_key(c, "max_msg_bytes");
			rc = fail(c, "%u is more than ring_bytes/4 = %u (lower it or raise "
			          "ring_bytes)", g->max_msg_bytes, g->ring_bytes / 4);
		} else {
			mark = path_key(c, "ring_bytes");
			rc = fail(c, "%u is too small for the default max_msg_bytes %u (needs "
			          "ring_bytes >= 4 * max_msg_bytes; set max_msg_bytes <= %u)",
			          g->ring_bytes, g->max_msg_bytes, g->ring_bytes / 4);
		}
		path_pop(c, mark);
		return rc;
	}
	if ((seen & ((1u << G_ROUTING) | (1u << G_KEY))) && !(seen & (1u << G_POOL))) {
		mark = path_key(c, seen & (1u << G_ROUTING) ? "routing" : "key");
		rc = fail(c, "'routing' and 'key' are for pools: add \"pool\": N (members)");
		path_pop(c, mark);
		return rc;
	}
	if (g->pool_routing == ACT_POOL_KEY_HASH && !g->pool_key) {
		mark = path_key(c, "routing");
		rc = fail(c, "routing \"key_hash\" needs \"key\": the message field whose "
		          "value picks the member");
		path_pop(c, mark);
		return rc;
	}
	if (g->pool_key && g->pool_routing != ACT_POOL_KEY_HASH) {
		mark = path_key(c, "key");
		rc = fail(c, "\"key\" is only used with routing \"key_hash\" (routing is \"%s\")",
		          routing_names[g->pool_routing]);
		path_pop(c, mark);
		return rc;
	}
	if (g->pool_n && strlen(g->name) + 1 + (g->pool_n > 10 ? 2 : 1) > ACT__APP_NAME_MAX) {
		mark = path_key(c, "name");
		rc = fail(c, "a pool's members are named NAME#k: '%s' is too long for a pool "
		          "(at most %u bytes here)", g->name,
		          ACT__APP_NAME_MAX - 1 - (g->pool_n > 10 ? 2 : 1));
		path_pop(c, mark);
		return rc;
	}
	if (g->heartbeat_timeout_ms <= g->heartbeat_ms) {
		mark = path_key(c, seen & (1u << G_HBTO) ? "heartbeat_timeout_ms" : "heartbeat_ms");
		rc = fail(c, "heartbeat_timeout_ms (%u) must be greater than heartbeat_ms (%u)",
		          g->heartbeat_timeout_ms, g->heartbeat_ms);
		path_pop(c, mark);
		return rc;
	}
	return 0;
}

static int parse_groups(struct pctx *c, const cJSON *arr)
{
	struct strset names = { 0 };
	char d[QBUF];
	const cJSON *it;
	uint32_t gi = 0;
	size_t n, mark;
	int rc = 0;

	if (!cJSON_IsArray(arr))
		return fail(c, "expected an array of groups, got %s", describe(c, arr, d));
	n = (size_t)cJSON_GetArraySize(arr);
	if (n == 0)
		return fail(c, "expected at least one group, got an empty array");
	if (n > ACT__APP_MAX_GROUPS)
		return fail(c, "too many groups (%zu, at most %u)", n, ACT__APP_MAX_GROUPS);
	if (!(c->app->groups = calloc(n, sizeof *c->app->groups)))
		return fail_oom(c);
	c->app->n_groups = (uint32_t)n;
	cJSON_ArrayForEach(it, arr) {
		mark = path_idx(c, gi);
		rc = parse_group(c, it, gi, &names);
		path_pop(c, mark);
		if (rc)
			break;
		gi++;
	}
	/* A pool of N is N groups, named NAME#0..NAME#N-1. */
	uint32_t total = 0;
	for (uint32_t i = 0; !rc && i < c->app->n_groups; i++) {
		const struct act__app_group *g = &c->app->groups[i];
		char member[ACT_NAME_MAX + 8];
		total += g->pool_n ? g->pool_n : 1;
		for (uint32_t k = 0; k < g->pool_n && !rc; k++) {
			snprintf(member, sizeof member, "%s#%u", g->name, k);
			for (uint32_t j = 0; j < c->app->n_groups && !rc; j++) {
				if (strcmp(c->app->groups[j].name, member))
					continue;
				mark = path_idx(c, j);
				rc = fail(c, "group name '%s' is the name of member %u of the pool "
				          "$.groups[%u] ('%s')", member, k, i, g->name);
				path_pop(c, mark);
			}
		}
	}
	if (!rc && total > ACT__APP_MAX_GROUPS)
		rc = fail(c, "too many groups once pools are counted as their members (%u, at "
		          "most %u)", total, ACT__APP_MAX_GROUPS);
	strset_fini(&names);
	return rc;
}

static const char z85_chars[] =
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/* A Z85 key of 40 characters into out (41 bytes). */
static int get_z85(struct pctx *c, const cJSON *it, const char *what, char *out)
{
	char d[QBUF];

	if (!cJSON_IsString(it))
		return fail(c, "expected %s (a Z85 string of %u characters), got %s", what,
		            ACT__APP_Z85_KEY_LEN, describe(c, it, d));
	if (strlen(it->valuestring) != ACT__APP_Z85_KEY_LEN)
		return fail(c, "expected %s of %u characters, got %zu characters", what,
		            ACT__APP_Z85_KEY_LEN, strlen(it->valuestring));
	if (strspn(it->valuestring, z85_chars) != ACT__APP_Z85_KEY_LEN)
		return fail(c, "%s has a character outside the Z85 alphabet at position %zu", what,
		            strspn(it->valuestring, z85_chars));
	memcpy(out, it->valuestring, ACT__APP_Z85_KEY_LEN + 1);
	return 0;
}

static const char *const peer_keys[] = { "endpoint", "server_key", "server_key_file",
                                         "peer_down_ms", NULL };
enum { P_ENDPOINT, P_KEY, P_KEY_FILE, P_DOWN_MS };

/*
 * A peer given as an object: its endpoint, and the CURVE server key that
 * outbound sockets to it use (the key itself, or a file actorsd reads;
 * never both), and how long it may stay disconnected before monitors of
 * its actors get Down.
 */
static int parse_peer_object(struct pctx *c, const cJSON *obj, struct act__app_peer *p)
{
	const cJSON *it;
	unsigned seen = 0;
	size_t mark;
	int k, rc = 0;

	cJSON_ArrayForEach(it, obj) {
		if ((k = key_index(c, it, peer_keys, &seen)) < 0)
			return k;
		mark = path_key(c, it->string);
		if (k == P_ENDPOINT)
			rc = get_endpoint(c, it, false, &p->endpoint);
		else if (k == P_KEY)
			rc = get_z85(c, it, "a CURVE server key", p->server_key);
		else if (k == P_KEY_FILE)
			rc = get_path(c, it, "a key file path", &p->server_key_file);
		else
			rc = get_u32(c, it, 1, 3600000, &p->down_ms);
		path_pop(c, mark);
		if (rc)
			return rc;
	}
	if (!(seen & (1u << P_ENDPOINT)))
		return fail(c, "missing required key 'endpoint'");
	if ((seen & (1u << P_KEY)) && (seen & (1u << P_KEY_FILE)))
		return fail(c, "give 'server_key' or 'server_key_file', not both");
	return 0;
}

static int parse_peers(struct pctx *c, const cJSON *obj)
{
	struct act__app *app = c->app;
	struct strset names = { 0 };
	const cJSON *it;
	size_t n, mark;
	int rc = 0;

	if ((rc = want_object(c, obj, "peers: name -> endpoint")))
		return rc;
	n = (size_t)cJSON_GetArraySize(obj);
	if (n && !(app->peers = calloc(n, sizeof *app->peers)))
		return fail_oom(c);
	cJSON_ArrayForEach(it, obj) {
		struct act__app_peer *p = &app->peers[app->n_peers++];
		char b[QBUF], g[QBUF];
		const char *why;
		uint64_t prev;
		int r;

		if ((r = strset_put(&names, it->string, 0, &prev)) < 0) {
			rc = fail_oom(c);
			break;
		}
		if (r > 0) {
			rc = fail(c, "duplicate key %s", q(g, it->string));
			break;
		}
		mark = path_key(c, it->string);
		if ((why = name_problem(it->string, b)))
			rc = fail(c, "peer name %s %s", q(g, it->string), why);
		else if (!(p->name = strdup(it->string)))
			rc = fail_oom(c);
		else if (cJSON_IsObject(it))
			rc = parse_peer_object(c, it, p);
		else
			rc = get_endpoint(c, it, false, &p->endpoint);
		path_pop(c, mark);
		if (rc)
			break;
	}
	strset_fini(&names);
	return rc;
}

static const char *const topic_keys[] = { "name", "remote", NULL };

/* "topics": [{"name": "...", "remote": bool}]: topics peers may publish to. */
static int parse_topics(struct pctx *c, const cJSON *arr)
{
	struct act__app *app = c->app;
	struct strset names = { 0 };
	const cJSON *it, *f;
	char d[QBUF], g[QBUF];
	size_t n, mark, mk;
	uint32_t i = 0;
	int rc = 0;

	if (!cJSON_IsArray(arr))
		return fail(c, "expected an array of topics, got %s", describe(c, arr, d));
	n = (size_t)cJSON_GetArraySize(arr);
	if (n > ACT__TOPICS_MAX)
		return fail(c, "at most %u topics, got %zu", ACT__TOPICS_MAX, n);
	if (n && !(app->topics = calloc(n, sizeof *app->topics)))
		return fail_oom(c);
	cJSON_ArrayForEach(it, arr) {
		struct act__app_topic *t = &app->topics[app->n_topics++];
		unsigned seen = 0;
		uint64_t prev;
		int k;

		mark = path_idx(c, i++);
		if ((rc = want_object(c, it, "a topic")))
			goto next;
		cJSON_ArrayForEach(f, it) {
			if ((k = key_index(c, f, topic_keys, &seen)) < 0) {
				rc = k;
				break;
			}
			mk = path_key(c, f->string);
			if (k == 0) {
				if (!cJSON_IsString(f) || !act__topic_name_ok(f->valuestring))
					rc = fail(c, "expected a topic name (1..%u bytes, no control "
					          "characters), got %s", ACT__TOPIC_NAME_MAX, describe(c, f, d));
				else if (!(t->name = strdup(f->valuestring)))
					rc = fail_oom(c);
				else if ((k = strset_put(&names, t->name, i - 1, &prev)) < 0)
					rc = fail_oom(c);
				else if (k > 0)
					rc = fail(c, "duplicate topic %s (first at $.topics[%u])",
					          q(g, t->name), (unsigned)prev);
			} else {
				rc = get_bool(c, f, &t->remote);
			}
			path_pop(c, mk);
			if (rc)
				break;
		}
		if (!rc && !t->name)
			rc = fail(c, "missing required key 'name'");
next:
		path_pop(c, mark);
		if (rc)
			break;
	}
	strset_fini(&names);
	return rc;
}

static int parse_allow(struct pctx *c, const cJSON *arr)
{
	struct act__app_curve *cv = &c->app->curve;
	char d[QBUF];
	const cJSON *it;
	size_t n, mark, i = 0;
	int rc = 0;

	if (!cJSON_IsArray(arr))
		return fail(c, "expected an array of client public keys (Z85, %u characters), "
		            "got %s", ACT__APP_Z85_KEY_LEN, describe(c, arr, d));
	n = (size_t)cJSON_GetArraySize(arr);
	if (n == 0)
		return fail(c, "expected at least one client public key (leave 'allow' out "
		            "to accept any client)");
	if (!(cv->allow = calloc(n, sizeof *cv->allow)))
		return fail_oom(c);
	cJSON_ArrayForEach(it, arr) {
		mark = path_idx(c, i++);
		if (!cJSON_IsString(it))
			rc = fail(c, "expected a Z85 public key (a string of %u characters), got %s",
			          ACT__APP_Z85_KEY_LEN, describe(c, it, d));
		else if (strlen(it->valuestring) != ACT__APP_Z85_KEY_LEN)
			rc = fail(c, "expected a Z85 public key of %u characters, got %zu characters",
			          ACT__APP_Z85_KEY_LEN, strlen(it->valuestring));
		else if (strspn(it->valuestring, z85_chars) != ACT__APP_Z85_KEY_LEN)
			rc = fail(c, "public key has a character outside the Z85 alphabet at "
			          "position %zu", strspn(it->valuestring, z85_chars));
		else
			memcpy(cv->allow[cv->n_allow++], it->valuestring, ACT__APP_Z85_KEY_LEN + 1);
		path_pop(c, mark);
		if (rc)
			return rc;
	}
	return 0;
}

static const char *const curve_keys[] = { "secret_key_file", "public_key_file", "allow", NULL };
enum { C_SECRET, C_PUBLIC, C_ALLOW };

static int parse_curve(struct pctx *c, const cJSON *obj)
{
	struct act__app_curve *cv = &c->app->curve;
	const cJSON *it;
	unsigned seen = 0;
	size_t mark;
	int k, rc = 0;

	if ((rc = want_object(c, obj, "CURVE settings")))
		return rc;
	cv->enabled = true;
	cJSON_ArrayForEach(it, obj) {
		if ((k = key_index(c, it, curve_keys, &seen)) < 0)
			return k;
		mark = path_key(c, it->string);
		if (k == C_SECRET)
			rc = get_path(c, it, "a key file path", &cv->secret_key_file);
		else if (k == C_PUBLIC)
			rc = get_path(c, it, "a key file path", &cv->public_key_file);
		else
			rc = parse_allow(c, it);
		path_pop(c, mark);
		if (rc)
			return rc;
	}
	if (!(seen & (1u << C_SECRET)))
		return fail(c, "missing required key 'secret_key_file'");
	if (!(seen & (1u << C_PUBLIC)))
		return fail(c, "missing required key 'public_key_file'");
	return 0;
}

static const char *const backoff_keys[] = { "initial_ms", "factor", "max_ms", "reset_after_ms", NULL };

static int parse_backoff(struct pctx *c, const cJSON *obj)
{
	struct act__app_backoff *b = &c->app->backoff;
	const cJSON *it;
	unsigned seen = 0;
	size_t mark;
	int k, rc = 0;

	if ((rc = want_object(c, obj, "backoff settings")))
		return rc;
	c->app->has_backoff = true;
	cJSON_ArrayForEach(it, obj) {
		if ((k = key_index(c, it, backoff_keys, &seen)) < 0)
			return k;
		mark = path_key(c, it->string);
		switch (k) {
		case 0: rc = get_u32(c, it, 0, 3600000, &b->initial_ms); break;
		case 1: rc = get_double(c, it, 1.0, 1000.0, &b->factor); break;
		case 2: rc = get_u32(c, it, 0, 3600000, &b->max_ms); break;
		case 3: rc = get_u32(c, it, 0, 86400000, &b->reset_after_ms); break;
		}
		path_pop(c, mark);
		if (rc)
			return rc;
	}
	if (b->max_ms < b->initial_ms) {
		mark = path_key(c, seen & (1u << 2) ? "max_ms" : "initial_ms");
		rc = fail(c, "max_ms (%u) must be at least initial_ms (%u)", b->max_ms, b->initial_ms);
		path_pop(c, mark);
	}
	return rc;
}

static const char *const limit_keys[] = {
	"max_frame_bytes", "max_depth", "max_string_bytes", "max_fields", NULL
};

static int parse_limits(struct pctx *c, const cJSON *obj)
{
	struct act__app_limits *l = &c->app->limits;
	const cJSON *it;
	unsigned seen = 0;
	size_t mark;
	int k, rc = 0;

	if ((rc = want_object(c, obj, "limits")))
		return rc;
	cJSON_ArrayForEach(it, obj) {
		if ((k = key_index(c, it, limit_keys, &seen)) < 0)
			return k;
		mark = path_key(c, it->string);
		switch (k) {
		case 0: rc = get_u32(c, it, 256, 1u << 30, &l->max_frame_bytes); break;
		case 1: rc = get_u32(c, it, 1, 1000, &l->max_depth); break;
		case 2: rc = get_u32(c, it, 1, 1u << 30, &l->max_string_bytes); break;
		case 3: rc = get_u32(c, it, 1, 65535, &l->max_fields); break;
		}
		path_pop(c, mark);
		if (rc)
			return rc;
	}
	if (l->max_string_bytes > l->max_frame_bytes) {
		mark = path_key(c, seen & (1u << 2) ? "max_string_bytes" : "max_frame_bytes");
		rc = fail(c, "max_string_bytes (%u) must not exceed max_frame_bytes (%u)",
		          l->max_string_bytes, l->max_frame_bytes);
		path_pop(c, mark);
	}
	return rc;
}

static const char *const top_keys[] = {
	"node", "state_dir", "endpoint", "advertise", "control_socket", "strategy",
	"max_restarts", "period_ms", "backoff", "peers", "limits", "curve", "groups",
	"module_timeout_ms", "metrics_endpoint", "runtime_dir", "topics", "spare_groups", NULL
};
enum { T_NODE, T_STATE_DIR, T_ENDPOINT, T_ADVERTISE, T_CONTROL, T_STRATEGY,
       T_MAX_RESTARTS, T_PERIOD, T_BACKOFF, T_PEERS, T_LIMITS, T_CURVE, T_GROUPS,
       T_MODULE_TIMEOUT, T_METRICS, T_RUNTIME_DIR, T_TOPICS, T_SPARE_GROUPS };

/* Checks that need the whole file: references between top-level keys. */
static int cross_checks(struct pctx *c, unsigned seen)
{
	struct act__app *app = c->app;
	size_t mark;
	int rc = 0;

	uint32_t total = app->spare_groups;
	for (uint32_t g = 0; g < app->n_groups; g++)
		total += app->groups[g].pool_n ? app->groups[g].pool_n : 1;
	if (total > ACT__APP_MAX_GROUPS) {
		mark = path_key(c, "spare_groups");
		rc = fail(c, "%u spare groups and %u groups (pools counted as their members) are "
		          "more than %u", app->spare_groups, total - app->spare_groups,
		          ACT__APP_MAX_GROUPS);
		path_pop(c, mark);
		return rc;
	}
	if (!app->endpoint) {
		if (seen & (1u << T_ADVERTISE)) {
			mark = path_key(c, "advertise");
			rc = fail(c, "given without 'endpoint' (a node with no endpoint "
			          "receives nothing from the network)");
			path_pop(c, mark);
			return rc;
		}
		if (app->curve.enabled) {
			mark = path_key(c, "curve");
			rc = fail(c, "given without 'endpoint' (CURVE secures the node's "
			          "endpoint)");
			path_pop(c, mark);
			return rc;
		}
		for (uint32_t g = 0; g < app->n_groups; g++) {
			for (uint32_t a = 0; a < app->groups[g].n_actors; a++) {
				if (!app->groups[g].actors[a].remote)
					continue;
				mark = path_push(c, ".groups[%u].actors[%u].remote", g, a);
				rc = fail(c, "actor '%s' is remote but the node has no 'endpoint'",
				          app->groups[g].actors[a].name);
				path_pop(c, mark);
				return rc;
			}
		}
	}
	for (uint32_t i = 0; i < app->n_peers; i++) {
		if (strcmp(app->peers[i].name, app->node))
			continue;
		mark = path_push(c, ".peers");
		path_key(c, app->peers[i].name);
		rc = fail(c, "a peer cannot have the node's own name");
		path_pop(c, mark);
		return rc;
	}
	for (uint32_t i = 0; i < app->n_peers && !app->curve.enabled; i++) {
		if (!app->peers[i].server_key[0] && !app->peers[i].server_key_file)
			continue;
		/* A CURVE client needs a keypair of its own: the node's. */
		mark = path_push(c, ".peers");
		path_key(c, app->peers[i].name);
		rc = fail(c, "a peer with a CURVE server key needs the node's own keypair: add "
		          "\"curve\": {\"secret_key_file\", \"public_key_file\"}");
		path_pop(c, mark);
		return rc;
	}
	if (!app->control_socket &&
	    !(app->control_socket = path_join(app->state_dir, "actorsd.sock")))
		return fail_oom(c);
	if (strlen(app->control_socket) > UNIX_PATH_MAX_LEN) {
		mark = path_key(c, seen & (1u << T_CONTROL) ? "control_socket" : "state_dir");
		char b[QBUF];
		rc = fail(c, "control socket path %s is too long for a unix socket "
		          "(%zu bytes, at most %zu)%s", q(b, app->control_socket),
		          strlen(app->control_socket), UNIX_PATH_MAX_LEN,
		          seen & (1u << T_CONTROL) ? "" : "; set control_socket to a shorter path");
		path_pop(c, mark);
		return rc;
	}
	return 0;
}

static int parse_top(struct pctx *c, const cJSON *root)
{
	struct act__app *app = c->app;
	const cJSON *it;
	unsigned seen = 0;
	size_t mark;
	int k, v, rc = 0;

	if ((rc = want_object(c, root, "the application")))
		return rc;
	cJSON_ArrayForEach(it, root) {
		if ((k = key_index(c, it, top_keys, &seen)) < 0)
			return k;
		mark = path_key(c, it->string);
		switch (k) {
		case T_NODE:
			rc = get_name(c, it, "node name", &app->node);
			break;
		case T_STATE_DIR:
			rc = get_path(c, it, "a directory path", &app->state_dir);
			break;
		case T_ENDPOINT:
			rc = get_endpoint(c, it, true, &app->endpoint);
			break;
		case T_ADVERTISE:
			rc = get_endpoint(c, it, false, &app->advertise);
			break;
		case T_CONTROL:
			rc = get_path(c, it, "a socket path", &app->control_socket);
			break;
		case T_STRATEGY:
			if (!(rc = get_enum(c, it, strategy_names, 3, &v)))
				app->strategy = (act_strategy)v;
			break;
		case T_MAX_RESTARTS:
			rc = get_u32(c, it, 0, ACT__SUP_RESTART_WINDOW, &app->max_restarts);
			break;
		case T_PERIOD:
			rc = get_u32(c, it, 1, UINT32_MAX, &app->period_ms);
			break;
		case T_METRICS:
			rc = get_metrics_endpoint(c, it, &app->metrics_endpoint);
			break;
		case T_RUNTIME_DIR:
			/* "" = no region file (only systemd's fd store keeps it). */
			if (cJSON_IsString(it) && !it->valuestring[0])
				rc = (app->runtime_dir = strdup("")) ? 0 : fail_oom(c);
			else
				rc = get_path(c, it, "a directory path", &app->runtime_dir);
			break;
		case T_MODULE_TIMEOUT:
			rc = get_u32(c, it, 1, ACT__APP_MAX_MODULE_TIMEOUT_MS, &app->module_timeout_ms);
			break;
		case T_SPARE_GROUPS:
			rc = get_u32(c, it, 0, ACT__APP_MAX_GROUPS - 1, &app->spare_groups);
			break;
		case T_BACKOFF:
			rc = parse_backoff(c, it);
			break;
		case T_PEERS:
			rc = parse_peers(c, it);
			break;
		case T_TOPICS:
			rc = parse_topics(c, it);
			break;
		case T_LIMITS:
			rc = parse_limits(c, it);
			break;
		case T_CURVE:
			rc = parse_curve(c, it);
			break;
		case T_GROUPS:
			rc = parse_groups(c, it);
			break;
		}
		path_pop(c, mark);
		if (rc)
			return rc;
	}
	if (!(seen & (1u << T_NODE)))
		return fail(c, "missing required key 'node' (the node's name)");
	if (!(seen & (1u << T_GROUPS)))
		return fail(c, "missing required key 'groups' (an array of 1..%u groups)",
		            ACT__APP_MAX_GROUPS);
	if (!app->state_dir && !(app->state_dir = path_join(c->base_dir, ".")))
		return fail_oom(c);
	if (app->endpoint && !app->advertise &&
	    default_advertise(app->endpoint, &app->advertise))
		return fail_oom(c);
	return cross_checks(c, seen);
}

/* Finds the cJSON items of the numbers the syntax check saw written with a
 * fraction or exponent: both walks visit numbers in document order. */
static void map_nonint(const cJSON *it, struct act__jc_nonint *ni, size_t n_ni,
                       size_t *ordinal, size_t *next)
{
	const cJSON *ch;

	if (cJSON_IsNumber(it)) {
		if (*next < n_ni && ni[*next].ordinal == *ordinal)
			ni[(*next)++].item = it;
		(*ordinal)++;
		return;
	}
	if (cJSON_IsArray(it) || cJSON_IsObject(it))
		cJSON_ArrayForEach(ch, it)
			map_nonint(ch, ni, n_ni, ordinal, next);
}

static void app_defaults(struct act__app *app)
{
	app->strategy = ACT_ONE_FOR_ONE;
	app->max_restarts = 1;
	app->period_ms = 5000;
	app->module_timeout_ms = ACT__APP_MODULE_TIMEOUT_MS;
	app->spare_groups = ACT__APP_SPARE_GROUPS;
	app->backoff = (struct act__app_backoff){ 10, 2.0, 10000, 10000 };
	app->limits = (struct act__app_limits){ 1048576, 32, 65536, 256 };
}

int act__app_parse(const char *text, size_t len, const char *path_for_messages,
                   const char *base_dir, struct act__app *app, char *err, size_t err_cap)
{
	const char *file = path_for_messages ? path_for_messages : "<input>";
	struct act__jcheck j = { 0 };
	struct pctx c = { 0 };
	cJSON *root = NULL;
	size_t ordinal = 0, next = 0;
	int rc;

	memset(app, 0, sizeof *app);
	put_err(err, err_cap, "%s", "");
	if (!text && len)
		return -EINVAL;
	if (len > ACT__APP_MAX_FILE_BYTES) {
		put_err(err, err_cap, "%s: file too large (%zu bytes, at most %u)",
		        file, len, ACT__APP_MAX_FILE_BYTES);
		return -EFBIG;
	}

	if ((rc = act__jc_document(&j, text, len))) {
		unsigned line, col;
		if (rc == -ENOMEM) {
			put_err(err, err_cap, "%s: out of memory", file);
			goto fail_check;
		}
		act__jc_line_col(j.s, j.len, j.err_off, &line, &col);
		put_err(err, err_cap, "%s:%u:%u: syntax error: %s", file, line, col, j.msg);
		goto fail_check;
	}
	/* The text is strict JSON without NUL bytes, so cJSON needs no
	 * terminator: it stops at len (it was checked that nothing follows). */
	root = cJSON_ParseWithLengthOpts(text, len, NULL, 0);
	if (!root) {
		/* Valid JSON that cJSON refused: only an allocation can fail now. */
		put_err(err, err_cap, "%s: out of memory while parsing", file);
		rc = -ENOMEM;
		goto fail_check;
	}
	map_nonint(root, j.nonint, j.n_nonint, &ordinal, &next);
	if (next == j.n_nonint && ordinal == j.n_numbers) {
		c.nonint = j.nonint;
		c.n_nonint = j.n_nonint;
		if (c.n_nonint > 1)
			qsort(c.nonint, c.n_nonint, sizeof *c.nonint, nonint_cmp);
	}

	c.file = file;
	c.base_dir = base_dir;
	c.err = err;
	c.err_cap = err_cap;
	c.text = text;
	c.app = app;
	strcpy(c.path, "$");
	c.path_len = 1;
	app_defaults(app);
	if (!(app->path = strdup(file)) || (base_dir && !(app->base_dir = strdup(base_dir)))) {
		rc = fail_oom(&c);
		goto fail_walk;
	}
	if ((rc = parse_top(&c, root)))
		goto fail_walk;

	strset_fini(&c.actor_names);
	cJSON_Delete(root);
	act__jc_fini(&j);
	return 0;

fail_walk:
	strset_fini(&c.actor_names);
	act__app_free(app);
	cJSON_Delete(root);
fail_check:
	act__jc_fini(&j);
	return rc;
}

/* The directory of path, absolute if the current directory is known. */
static char *app_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *cwd, *abs;

	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir || dir[0] == '/')
		return dir;
	if (!(cwd = getcwd(NULL, 0)))
		return dir;   /* best effort: stay relative */
	abs = path_join(cwd, dir);
	free(cwd);
	free(dir);
	return abs;
}

int act__app_load(const char *path, struct act__app *app, char *err, size_t err_cap)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *base = NULL;
	struct stat st;
	int fd, rc;

	memset(app, 0, sizeof *app);
	put_err(err, err_cap, "%s", "");
	/* A FIFO or a device is refused without waiting on it: relative paths
	 * in the file are resolved against its directory, which only a file on
	 * disk has, and a device could be read forever. */
	fd = act__open_regular(path, &st);
	if (fd == -EINVAL) {
		rc = fd;
		put_err(err, err_cap, "%s: cannot read: not a regular file (%s)", path,
		        act__file_kind(st.st_mode));
		return rc;
	}
	if (fd == -EISDIR) {
		rc = fd;
		put_err(err, err_cap, "%s: cannot read: %s", path, strerror(EISDIR));
		return rc;
	}
	if (fd < 0) {
		rc = fd;
		put_err(err, err_cap, "%s: cannot open: %s", path, strerror(-rc));
		return rc;
	}
	if (st.st_size > (off_t)ACT__APP_MAX_FILE_BYTES) {
		rc = -EFBIG;
		put_err(err, err_cap, "%s: file too large (%lld bytes, at most %u)", path,
		        (long long)st.st_size, ACT__APP_MAX_FILE_BYTES);
		goto fail_read;
	}
	/* Read to the end, even if the file grew since fstat(), but never
	 * more than one byte past the limit: a buffer full at LIMIT + 1 bytes
	 * is refused before the next read.  A regular file never answers
	 * EAGAIN, O_NONBLOCK or not. */
	for (;;) {
		ssize_t n;
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : (size_t)st.st_size + 1;
			char *nb;
			if (ncap > (size_t)ACT__APP_MAX_FILE_BYTES + 1)
				ncap = (size_t)ACT__APP_MAX_FILE_BYTES + 1;
			if (ncap <= cap) {
				rc = -EFBIG;
				put_err(err, err_cap, "%s: file too large (more than %u bytes)",
				        path, ACT__APP_MAX_FILE_BYTES);
				goto fail_read;
			}
			if (!(nb = realloc(buf, ncap))) {
				rc = -ENOMEM;
				put_err(err, err_cap, "%s: out of memory", path);
				goto fail_read;
			}
			buf = nb;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			put_err(err, err_cap, "%s: cannot read: %s", path, strerror(-rc));
			goto fail_read;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	fd = -1;
	if (!(base = app_dir(path))) {
		rc = -ENOMEM;
		put_err(err, err_cap, "%s: out of memory", path);
		goto fail_read;
	}
	rc = act__app_parse(buf, len, path, base, app, err, err_cap);
	free(base);
	free(buf);
	return rc;

fail_read:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

void act__app_free(struct act__app *app)
{
	if (!app)
		return;
	for (uint32_t g = 0; g < app->n_groups && app->groups; g++) {
		struct act__app_group *grp = &app->groups[g];
		for (uint32_t a = 0; a < grp->n_actors && grp->actors; a++) {
			free(grp->actors[a].name);
			free(grp->actors[a].behaviour);
			/* cJSON_PrintUnformatted allocated it with cJSON's hooks. */
			cJSON_free(grp->actors[a].args_json);
		}
		free(grp->actors);
		free(grp->name);
		free(grp->module);
		free(grp->pool_key);
	}
	free(app->groups);
	for (uint32_t i = 0; i < app->n_peers && app->peers; i++) {
		free(app->peers[i].name);
		free(app->peers[i].endpoint);
		free(app->peers[i].server_key_file);
	}
	free(app->peers);
	for (uint32_t i = 0; i < app->n_topics && app->topics; i++)
		free(app->topics[i].name);
	free(app->topics);
	free(app->curve.secret_key_file);
	free(app->curve.public_key_file);
	free(app->curve.allow);
	free(app->path);
	free(app->base_dir);
	free(app->node);
	free(app->state_dir);
	free(app->runtime_dir);
	free(app->control_socket);
	free(app->endpoint);
	free(app->metrics_endpoint);
	free(app->advertise);
	memset(app, 0, sizeof *app);
}

void act__app_group_settings(struct act__group_def *gd, const struct act__app_group *g)
{
	gd->spin_us = g->spin_us;
	gd->max_redeliveries = g->max_redeliveries;
	gd->heartbeat_ms = g->heartbeat_ms;
	gd->heartbeat_timeout_ms = g->heartbeat_timeout_ms;
	gd->shutdown_ms = g->brutal_kill ? 0 : g->shutdown_ms;
	gd->restart = g->restart;
	gd->hot_standby = g->hot_standby;
	gd->quick_reap = g->quick_reap;
}
