/*
 * wire.c - the JSON envelope of the remote protocol, checked and built.
 *
 * A frame goes through three gates, cheapest first: its size, strict UTF-8,
 * and a strict JSON scan (scan_json) that keeps its own bracket stack
 * instead of recursing, counts nesting depth and rejects everything cJSON
 * would tolerate but peers might not (a BOM, control characters, trailing
 * data, lone surrogate escapes, sloppy numbers).  Only text that passed is
 * handed to cJSON, which then cannot fail except on OOM, and the tree is
 * checked for string lengths, member counts, duplicate keys and the
 * envelope's fields.  Building goes the other way with a two-pass writer
 * (measure, then fill one exact allocation).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

void act__wire_limits_default(struct act__wire_limits *l)
{
	l->max_frame = 1u << 20;
	l->max_depth = 32;
	l->max_string = 65536;
	l->max_fields = 256;
}

static const char *const err_names[ACT__WIRE_N_ERRS] = {
	[ACT__WIRE_OK] = "ok",
	[ACT__WIRE_TOO_BIG] = "too_big",
	[ACT__WIRE_NOT_UTF8] = "not_utf8",
	[ACT__WIRE_BAD_JSON] = "bad_json",
	[ACT__WIRE_TOO_DEEP] = "too_deep",
	[ACT__WIRE_NOT_OBJECT] = "not_object",
	[ACT__WIRE_MISSING_FIELD] = "missing_field",
	[ACT__WIRE_BAD_FIELD] = "bad_field",
	[ACT__WIRE_TOO_LONG] = "too_long",
	[ACT__WIRE_TOO_MANY_FIELDS] = "too_many_fields",
};

const char *act__wire_err_name(enum act__wire_err e)
{
	if ((unsigned)e >= ACT__WIRE_N_ERRS)
		return "unknown";
	return err_names[e];
}

__attribute__((format(printf, 4, 5)))
static enum act__wire_err fail(char *err, size_t cap, enum act__wire_err e,
                               const char *fmt, ...)
{
	va_list ap;

	if (err && cap) {
		va_start(ap, fmt);
		vsnprintf(err, cap, fmt, ap);
		va_end(ap);
	}
	return e;
}

/* ---- UTF-8 -------------------------------------------------------------- */

/*
 * Length of the strict UTF-8 sequence at p (p < end), or 0 if the bytes
 * there are not one: a stray continuation byte, C0/C1 or F5..FF, a
 * truncated sequence, an overlong form, a surrogate or a code point above
 * U+10FFFF.
 */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((p[k] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (p[k] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	return n;
}

/* Offset of the first byte that is not strict UTF-8, or len. */
static size_t utf8_check(const unsigned char *s, size_t len)
{
	const unsigned char *p = s, *end = s + len;

	while (p < end) {
		size_t n;

		if (*p < 0x80) {
			p++;
			continue;
		}
		n = utf8_seq(p, end);
		if (!n)
			break;
		p += n;
	}
	return (size_t)(p - s);
}

int act__wire_utf8_valid(const void *s, size_t len)
{
	if (!s)
		return len == 0;
	return utf8_check(s, len) == len;
}

/* ---- strict JSON scan ----------------------------------------------------- */

struct scan {
	size_t end;         /* offset just past the top-level value */
	int first;          /* first byte of the top-level value */
	int nul_top;        /* a \u0000 escape in a key or value of the envelope */
	int nul_deep;       /* a \u0000 escape anywhere deeper */
};

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* The value of the 4 hex digits at s[i..i+4), or -1. */
static long hex4(const unsigned char *s, size_t len, size_t i)
{
	long v = 0;

	if (len - i < 4)
		return -1;
	for (size_t k = 0; k < 4; k++) {
		unsigned char c = s[i + k];
		v <<= 4;
		if (is_digit(c))
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * Scans the string whose opening quote is at s[*i]; leaves *i past the
 * closing quote.  Sets *nul if the string holds a \u0000 escape, which
 * cJSON would silently truncate at.
 */
static enum act__wire_err scan_string(const unsigned char *s, size_t len,
                                      size_t *i, int *nul,
                                      char *err, size_t cap)
{
	size_t p = *i + 1;

	for (;;) {
		unsigned char c;
		long u;

		if (p >= len)
			return fail(err, cap, ACT__WIRE_BAD_JSON,
			            "unterminated string starting at byte %zu", *i);
		c = s[p];
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(err, cap, ACT__WIRE_BAD_JSON,
			            "control character in a string at byte %zu", p);
		if (c != '\\') {
			p++;
			continue;
		}
		if (p + 1 >= len)
			return fail(err, cap, ACT__WIRE_BAD_JSON,
			            "unterminated string starting at byte %zu", *i);
		switch (s[p + 1]) {
		case '"': case '\\': case '/':
		case 'b': case 'f': case 'n': case 'r': case 't':
			p += 2;
			continue;
		case 'u':
			break;
		default:
			return fail(err, cap, ACT__WIRE_BAD_JSON,
			            "bad escape in a string at byte %zu", p);
		}
		u = hex4(s, len, p + 2);
		if (u < 0)
			return fail(err, cap, ACT__WIRE_BAD_JSON,
			            "bad \\u escape at byte %zu", p);
		if (u >= 0xDC00 && u <= 0xDFFF)
			return fail(err, cap, ACT__WIRE_BAD_JSON,
			            "unpaired surrogate escape at byte %zu", p);
		if (u >= 0xD800 && u <= 0xDBFF) {
			long lo;

			if (len - p < 12 || s[p + 6] != '\\' || s[p + 7] != 'u' ||
			    (lo = hex4(s, len, p + 8)) < 0xDC00 || lo > 0xDFFF)
				return fail(err, cap, ACT__WIRE_BAD_JSON,
				            "unpaired surrogate escape at byte %zu", p);
			p += 12;
			continue;
		}
		if (u == 0)
			*nul = 1;
		p += 6;
	}
	*i = p + 1;
	return ACT__WIRE_OK;
}

/* Scans the number at s[*i] (RFC 8259 grammar); leaves *i past it. */
static enum act__wire_err scan_number(const unsigned char *s, size_t len,
                                      size_t *i, char *err, size_t cap)
{
	size_t p = *i;

	if (s[p] == '-')
		p++;
	if (p < len && s[p] == '0') {
		p++;
	} else if (p < len && is_digit(s[p])) {
		while (p < len && is_digit(s[p]))
			p++;
	} else {
		goto bad;
	}
	if (p < len && s[p] == '.') {
		p++;
		if (p >= len || !is_digit(s[p]))
			goto bad;
		while (p < len && is_digit(s[p]))
			p++;
	}
	if (p < len && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < len && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p >= len || !is_digit(s[p]))
			goto bad;
		while (p < len && is_digit(s[p]))
			p++;
	}
	if (p - *i > ACT__WIRE_NUMBER_CAP)
		return fail(err, cap, ACT__WIRE_TOO_LONG,
		            "number longer than %u characters at byte %zu",
		            ACT__WIRE_NUMBER_CAP, *i);
	*i = p;
	return ACT__WIRE_OK;
bad:
	return fail(err, cap, ACT__WIRE_BAD_JSON, "bad number at byte %zu", *i);
}

/*
 * Checks that s[0..len) is exactly one JSON value (RFC 8259, whitespace
 * allowed around it) nested at most max_depth deep, without recursion: a
 * bit per open container records whether it is an object.  Strings are
 * skipped whole, so brackets inside them do not count.
 */
static enum act__wire_err scan_json(const unsigned char *s, size_t len,
                                    unsigned max_depth, struct scan *out,
                                    char *err, size_t cap)
{
	enum {
		WANT_VALUE,             /* after ':' or ',' in an array, or at the top */
		WANT_VALUE_OR_CLOSE,    /* after '[' */
		WANT_KEY,               /* after ',' in an object */
		WANT_KEY_OR_CLOSE,      /* after '{' */
		WANT_COLON,             /* after a key */
		WANT_COMMA_OR_CLOSE,    /* after a value */
	} st = WANT_VALUE;
	unsigned char is_obj[ACT__WIRE_DEPTH_CAP / 8 + 1];
	unsigned depth = 0;
	size_t i = 0;
	enum act__wire_err e;

	if (max_depth > ACT__WIRE_DEPTH_CAP)
		max_depth = ACT__WIRE_DEPTH_CAP;
	memset(is_obj, 0, sizeof is_obj);
	memset(out, 0, sizeof *out);
	out->first = -1;
	for (;;) {
		unsigned char c;
		int in_obj;

		while (i < len && is_ws(s[i]))
			i++;
		if (depth == 0 && st == WANT_COMMA_OR_CLOSE) {
			if (i < len)
				return fail(err, cap, ACT__WIRE_BAD_JSON,
				            "trailing data at byte %zu", i);
			return ACT__WIRE_OK;
		}
		if (i >= len && depth == 0)
			return fail(err, cap, ACT__WIRE_BAD_JSON,
			            len ? "no JSON value in the frame" : "empty frame");
		if (i >= len)
			return fail(err, cap, ACT__WIRE_BAD_JSON,
			            "truncated JSON (%zu bytes)", len);
		c = s[i];
		in_obj = depth && (is_obj[(depth - 1) / 8] >> ((depth - 1) % 8) & 1);
		switch (st) {
		case WANT_KEY_OR_CLOSE:
			if (c == '}')
				goto close;
			/* fall through */
		case WANT_KEY:
			if (c != '"')
				return fail(err, cap, ACT__WIRE_BAD_JSON,
				            "expected a string key at byte %zu", i);
			e = scan_string(s, len, &i, depth == 1 ? &out->nul_top : &out->nul_deep,
			                err, cap);
			if (e)
				return e;
			st = WANT_COLON;
			continue;
		case WANT_COLON:
			if (c != ':')
				return fail(err, cap, ACT__WIRE_BAD_JSON,
				            "expected ':' at byte %zu", i);
			i++;
			st = WANT_VALUE;
			continue;
		case WANT_COMMA_OR_CLOSE:
			if (c == ',') {
				i++;
				st = in_obj ? WANT_KEY : WANT_VALUE;
				continue;
			}
			if (c == (in_obj ? '}' : ']'))
				goto close;
			return fail(err, cap, ACT__WIRE_BAD_JSON,
			            "expected ',' or '%c' at byte %zu", in_obj ? '}' : ']', i);
		case WANT_VALUE_OR_CLOSE:
			if (c == ']')
				goto close;
			/* fall through */
		case WANT_VALUE:
			break;
		}

		/* A value. */
		if (depth == 0)
			out->first = c;
		switch (c) {
		case '{':
		case '[':
			if (depth >= max_depth)
				return fail(err, cap, ACT__WIRE_TOO_DEEP,
				            "nesting deeper than %u at byte %zu", max_depth, i);
			if (c == '{')
				is_obj[depth / 8] |= (unsigned char)(1u << depth % 8);
			else
				is_obj[depth / 8] &= (unsigned char)~(1u << depth % 8);
			depth++;
			i++;
			st = c == '{' ? WANT_KEY_OR_CLOSE : WANT_VALUE_OR_CLOSE;
			continue;
		case '"':
			e = scan_string(s, len, &i, depth <= 1 ? &out->nul_top : &out->nul_deep,
			                err, cap);
			if (e)
				return e;
			break;
		case 't':
		case 'f':
		case 'n': {
			const char *lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
			size_t n = strlen(lit);

			if (len - i < n || memcmp(s + i, lit, n))
				return fail(err, cap, ACT__WIRE_BAD_JSON,
				            "bad literal at byte %zu", i);
			i += n;
			break;
		}
		default:
			if (c != '-' && !is_digit(c))
				return fail(err, cap, ACT__WIRE_BAD_JSON,
				            "unexpected byte 0x%02x at byte %zu", c, i);
			e = scan_number(s, len, &i, err, cap);
			if (e)
				return e;
			break;
		}
		st = WANT_COMMA_OR_CLOSE;
		if (depth == 0)
			out->end = i;
		continue;
close:
		depth--;
		i++;
		st = WANT_COMMA_OR_CLOSE;
		if (depth == 0)
			out->end = i;
	}
}

/* ---- the tree ------------------------------------------------------------- */

/*
 * Checks every string, key and object below (and including) item against
 * the limits.  Recursion is bounded by the depth scan_json() allowed.
 */
static enum act__wire_err check_tree(const cJSON *item, const struct act__wire_limits *lim,
                                     char *err, size_t cap)
{
	const cJSON *c;
	unsigned n = 0;
	enum act__wire_err e;

	if (cJSON_IsString(item) && strlen(item->valuestring) > lim->max_string)
		return fail(err, cap, ACT__WIRE_TOO_LONG,
		            "string longer than %zu bytes", lim->max_string);
	for (c = item->child; c; c = c->next) {
		if (cJSON_IsObject(item)) {
			if (++n > lim->max_fields)
				return fail(err, cap, ACT__WIRE_TOO_MANY_FIELDS,
				            "object with more than %u members", lim->max_fields);
			if (strlen(c->string) > lim->max_string)
				return fail(err, cap, ACT__WIRE_TOO_LONG,
				            "key longer than %zu bytes", lim->max_string);
		}
		e = check_tree(c, lim, err, cap);
		if (e)
			return e;
	}
	return ACT__WIRE_OK;
}

enum { F_RECEIVER, F_MESSAGE_TYPE, F_MESSAGE, F_SENDER_ACTOR, F_SENDER_ENDPOINT, N_F };

static const char *const field_names[N_F] = {
	"receiver", "message_type", "message", "sender_actor", "sender_endpoint",
};

/* The value of a name field if it is usable: a non-empty string in limits. */
static const char *usable_name(const cJSON *v, const struct act__wire_limits *lim)
{
	if (!cJSON_IsString(v) || !v->valuestring[0] ||
	    strlen(v->valuestring) > lim->max_string)
		return NULL;
	return v->valuestring;
}

enum act__wire_err act__wire_parse(const void *frame, size_t len,
                                   const struct act__wire_limits *lim,
                                   struct act__wire_env *env,
                                   char *err, size_t err_cap)
{
	struct act__wire_limits def;
	const unsigned char *s = frame;
	const cJSON *f[N_F] = { NULL };
	int dup[N_F] = { 0 };
	int dup_other = 0;
	unsigned n_members = 0;
	const char *end = NULL;
	struct scan sc;
	enum act__wire_err e;
	size_t bad;
	cJSON *root, *c;

	memset(env, 0, sizeof *env);
	if (err && err_cap)
		err[0] = '\0';
	if (!lim) {
		act__wire_limits_default(&def);
		lim = &def;
	}
	if (len > lim->max_frame)
		return fail(err, err_cap, ACT__WIRE_TOO_BIG,
		            "frame of %zu bytes exceeds the limit of %zu", len, lim->max_frame);
	if (!s && len)
		return fail(err, err_cap, ACT__WIRE_BAD_JSON, "no frame");
	bad = len ? utf8_check(s, len) : 0;
	if (bad != len)
		return fail(err, err_cap, ACT__WIRE_NOT_UTF8, "invalid UTF-8 at byte %zu", bad);
	e = scan_json(s, len, lim->max_depth, &sc, err, err_cap);
	if (e)
		return e;
	if (sc.first != '{')
		return fail(err, err_cap, ACT__WIRE_NOT_OBJECT, "the frame is a JSON %s, not an object",
		            sc.first == '[' ? "array" : sc.first == '"' ? "string" :
		            sc.first == 'n' ? "null" : sc.first == 't' || sc.first == 'f' ?
		            "boolean" : "number");

	/*
	 * The text is strict JSON now, so cJSON can only fail on OOM.  Its
	 * require_null_terminated option is no use on a frame: it demands a
	 * NUL inside the length (refusing every frame that is not followed by
	 * one, accepting "{}\0junk"), and its whitespace is any byte <= 0x20.
	 * Trailing data was refused by scan_json(); the parse end is only
	 * cross-checked against it.
	 */
	root = cJSON_ParseWithLengthOpts((const char *)s, len, &end, 0);
	if (!root)
		return fail(err, err_cap, ACT__WIRE_BAD_JSON, "cannot parse (out of memory?)");
	env->root = root;
	if (!cJSON_IsObject(root) || end != (const char *)s + sc.end)
		return fail(err, err_cap, ACT__WIRE_BAD_JSON, "cJSON disagrees with the scan");

	/* One pass over the envelope's members: known fields and duplicates. */
	for (c = root->child; c; c = c->next) {
		int k;

		n_members++;
		for (k = 0; k < N_F && strcmp(c->string, field_names[k]); k++)
			;
		if (k < N_F) {
			if (f[k])
				dup[k] = 1;
			else
				f[k] = c;
		} else if (!dup_other && n_members <= lim->max_fields) {
			for (const cJSON *o = root->child; o != c; o = o->next) {
				if (!strcmp(o->string, c->string)) {
					dup_other = 1;
					break;
				}
			}
		}
	}

	/* What a Reject needs, whenever it can be read. */
	if (!sc.nul_top) {
		if (!dup[F_SENDER_ACTOR])
			env->sender_actor = usable_name(f[F_SENDER_ACTOR], lim);
		if (!dup[F_SENDER_ENDPOINT])
			env->sender_endpoint = usable_name(f[F_SENDER_ENDPOINT], lim);
		if (!dup[F_RECEIVER])
			env->receiver = usable_name(f[F_RECEIVER], lim);
		if (!dup[F_MESSAGE_TYPE])
			env->message_type = usable_name(f[F_MESSAGE_TYPE], lim);
	}

	if (n_members > lim->max_fields)
		return fail(err, err_cap, ACT__WIRE_TOO_MANY_FIELDS,
		            "envelope with %u members (limit %u)", n_members, lim->max_fields);
	for (int k = 0; k < N_F; k++)
		if (dup[k])
			return fail(err, err_cap, ACT__WIRE_BAD_FIELD,
			            "duplicate field \"%s\"", field_names[k]);
	if (dup_other)
		return fail(err, err_cap, ACT__WIRE_BAD_FIELD, "duplicate key in the envelope");
	e = check_tree(root, lim, err, err_cap);
	if (e)
		return e;
	if (sc.nul_top || sc.nul_deep)
		return fail(err, err_cap, ACT__WIRE_BAD_FIELD,
		            "\\u0000 in a string is not supported");

	for (int k = F_RECEIVER; k <= F_MESSAGE_TYPE; k++) {
		if (!f[k])
			return fail(err, err_cap, ACT__WIRE_MISSING_FIELD,
			            "missing field \"%s\"", field_names[k]);
		if (!cJSON_IsString(f[k]))
			return fail(err, err_cap, ACT__WIRE_BAD_FIELD,
			            "field \"%s\" is not a string", field_names[k]);
		if (!f[k]->valuestring[0])
			return fail(err, err_cap, ACT__WIRE_BAD_FIELD,
			            "field \"%s\" is empty", field_names[k]);
	}
	if (!f[F_MESSAGE])
		return fail(err, err_cap, ACT__WIRE_MISSING_FIELD, "missing field \"message\"");
	if (!cJSON_IsObject(f[F_MESSAGE]))
		return fail(err, err_cap, ACT__WIRE_BAD_FIELD, "field \"message\" is not an object");
	for (int k = F_SENDER_ACTOR; k <= F_SENDER_ENDPOINT; k++)
		if (f[k] && !cJSON_IsString(f[k]) && !cJSON_IsNull(f[k]))
			return fail(err, err_cap, ACT__WIRE_BAD_FIELD,
			            "field \"%s\" is neither a string nor null", field_names[k]);

	env->receiver = f[F_RECEIVER]->valuestring;
	env->message_type = f[F_MESSAGE_TYPE]->valuestring;
	env->message = f[F_MESSAGE];
	return ACT__WIRE_OK;
}

void act__wire_env_free(struct act__wire_env *env)
{
	if (!env)
		return;
	cJSON_Delete(env->root);
	memset(env, 0, sizeof *env);
}

/* ---- building ------------------------------------------------------------- */

/*
 * A two-pass writer: with p == NULL it only counts, so the caller can
 * allocate exactly n + 1 bytes and run the same code again to fill them.
 */
struct out {
	char *p;
	size_t n;
};

static void put(struct out *o, const void *s, size_t n)
{
	if (o->p)
		memcpy(o->p + o->n, s, n);
	o->n += n;
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

/*
 * Writes s as a JSON string, or null if s is NULL.  Each byte that is not
 * part of valid UTF-8 becomes U+FFFD, so the output is always valid; callers
 * that must not alter a string (names, endpoints) check it first.
 */
static void put_str(struct out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p, *end;

	if (!s) {
		puts_(o, "null");
		return;
	}
	p = (const unsigned char *)s;
	end = p + strlen(s);
	put(o, "\"", 1);
	while (p < end) {
		unsigned char c = *p;
		size_t n;

		switch (c) {
		case '"':  puts_(o, "\\\""); p++; continue;
		case '\\': puts_(o, "\\\\"); p++; continue;
		case '\b': puts_(o, "\\b"); p++; continue;
		case '\f': puts_(o, "\\f"); p++; continue;
		case '\n': puts_(o, "\\n"); p++; continue;
		case '\r': puts_(o, "\\r"); p++; continue;
		case '\t': puts_(o, "\\t"); p++; continue;
		default:
			break;
		}
		if (c < 0x20) {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			put(o, u, sizeof u);
			p++;
			continue;
		}
		n = utf8_seq(p, end);
		if (!n) {
			puts_(o, "\xEF\xBF\xBD");
			p++;
			continue;
		}
		put(o, p, n);
		p += n;
	}
	put(o, "\"", 1);
}

/* A name that can go on the wire: non-empty, strict UTF-8. */
static int good_name(const char *s)
{
	return s && s[0] && act__wire_utf8_valid(s, strlen(s));
}

static int good_opt(const char *s)
{
	return !s || act__wire_utf8_valid(s, strlen(s));
}

/* Runs the writer twice; the message text goes in verbatim. */
static char *build(const char *receiver, const char *type,
                   const char *msg, size_t msg_len,
                   const char *sender_actor, const char *sender_endpoint,
                   size_t *out_len)
{
	struct out o = { NULL, 0 };

	for (int pass = 0; pass < 2; pass++) {
		if (pass) {
			o.p = malloc(o.n + 1);
			if (!o.p)
				return NULL;
			o.n = 0;
		}
		puts_(&o, "{\"sender_actor\":");
		put_str(&o, sender_actor);
		puts_(&o, ",\"sender_endpoint\":");
		put_str(&o, sender_endpoint);
		puts_(&o, ",\"receiver\":");
		put_str(&o, receiver);
		puts_(&o, ",\"message_type\":");
		put_str(&o, type);
		puts_(&o, ",\"message\":");
		put(&o, msg, msg_len);
		put(&o, "}", 1);
	}
	o.p[o.n] = '\0';
	if (out_len)
		*out_len = o.n;
	return o.p;
}

char *act__wire_encode(const char *receiver, const char *message_type,
                       const char *message_json, const char *sender_actor,
                       const char *sender_endpoint, size_t *out_len)
{
	const unsigned char *m = (const unsigned char *)message_json;
	struct scan sc;
	size_t len, start = 0;

	if (!good_name(receiver) || !good_name(message_type) ||
	    !good_opt(sender_actor) || !good_opt(sender_endpoint) || !m)
		return NULL;
	len = strlen(message_json);
	if (!act__wire_utf8_valid(m, len) ||
	    scan_json(m, len, ACT__WIRE_DEPTH_CAP, &sc, NULL, 0) || sc.first != '{')
		return NULL;
	while (is_ws(m[start]))
		start++;
	return build(receiver, message_type, message_json + start, sc.end - start,
	             sender_actor, sender_endpoint, out_len);
}

char *act__wire_reject(const char *to_actor, const char *rejected_type,
                       const char *reason, const char *rejected_by,
                       const char *our_endpoint, size_t *out_len)
{
	struct out o = { NULL, 0 };
	char *text;

	if (!good_name(to_actor) || !good_opt(rejected_type) ||
	    !good_opt(rejected_by) || !good_opt(our_endpoint))
		return NULL;
	for (int pass = 0; pass < 2; pass++) {
		if (pass) {
			o.p = malloc(o.n + 1);
			if (!o.p)
				return NULL;
			o.n = 0;
		}
		puts_(&o, "{\"message_type\":");
		put_str(&o, rejected_type ? rejected_type : "");
		puts_(&o, ",\"reason\":");
		put_str(&o, reason ? reason : "");
		puts_(&o, ",\"rejected_by\":");
		put_str(&o, rejected_by ? rejected_by : "");
		put(&o, "}", 1);
	}
	text = build(to_actor, "Reject", o.p, o.n, rejected_by && rejected_by[0] ? rejected_by : NULL,
	             our_endpoint, out_len);
	free(o.p);
	return text;
}

int act__wire_normalize_endpoint(const char *ep, char *out, size_t cap)
{
	static const char host[] = "tcp://localhost";
	static const char *const binds[] = { "tcp://*:", "tcp://0.0.0.0:" };
	const char *rest = NULL;
	size_t n, rest_len;

	if (!ep || (!out && cap))
		return -EINVAL;
	for (size_t k = 0; k < sizeof binds / sizeof binds[0]; k++) {
		n = strlen(binds[k]);
		if (!strncmp(ep, binds[k], n)) {
			rest = ep + n - 1; /* keep the ':' */
			break;
		}
	}
	if (!rest) {
		n = strlen(ep);
		if (n >= cap)
			goto too_big;
		memmove(out, ep, n + 1);
		return 0;
	}
	rest_len = strlen(rest);
	if (sizeof host - 1 + rest_len >= cap)
		goto too_big;
	/* Move the port first: out may be ep itself. */
	memmove(out + sizeof host - 1, rest, rest_len + 1);
	memcpy(out, host, sizeof host - 1);
	return 0;
too_big:
	if (cap)
		out[0] = '\0';
	return -EMSGSIZE;
}
