/* SPDX-License-Identifier: MIT */
/*
 * wire.c - the JSON envelope of the remote protocol, checked and built.
 *
 * A frame goes through three gates, cheapest first: its size, strict UTF-8,
 * and a strict JSON scan (scan_json) that keeps its own bracket stack
 * instead of recursing, counts nesting depth and rejects everything cJSON
 * would tolerate but peers might not (a BOM, control characters, trailing
 * data, lone surrogate escapes, sloppy numbers).  The gateway's parser,
 * act__wire_parse_view(), takes every decision without building a tree:
 * the scan itself gathers what a tree walk would have looked at (member
 * counts, decoded string lengths, the envelope's fields and duplicate keys),
 * and the decisions are taken afterwards in a fixed order.  The tests and
 * the fuzzer hold a second, cJSON-based reading of the same rules
 * (t/wire-tree.c, on act__wire_scan()), and check that both give every frame
 * the same class and reason.  Building goes the other way with a two-pass
 * writer (measure, then fill one exact allocation).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
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

enum act__wire_err act__wire_fail(char *err, size_t cap, enum act__wire_err e,
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

/* ---- strict JSON scan ----------------------------------------------------- */


/* One string as scan_string() saw it. */
struct str {
	size_t dlen;        /* decoded bytes before the first \u0000 (what strlen sees in cJSON) */
	int nul;            /* it holds a \u0000 escape */
	int esc;            /* it holds an escape of any kind */
	char *buf;          /* NULL, or where the decoded bytes go: at most buf_cap - 1, */
	size_t buf_cap;     /* up to the first \u0000, then a NUL */
};

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Bytes that stand for themselves inside a string: printable ASCII but '"' and '\'. */
static const unsigned char str_plain[256] = {
	[0x20 ... 0x21] = 1, [0x23 ... 0x5B] = 1, [0x5D ... 0x7F] = 1,
};

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

/* Writes code point cp (not a surrogate, <= U+10FFFF) as UTF-8; returns its length. */
static unsigned utf8_put(uint32_t cp, unsigned char *b)
{
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (unsigned char)(0xC0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (unsigned char)(0xE0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		b[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	b[0] = (unsigned char)(0xF0 | cp >> 18);
	b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
	b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
	b[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Appends n decoded bytes to st; after a \u0000 they no longer count. */
static void str_add(struct str *st, const void *b, size_t n)
{
	if (st->nul)
		return;
	if (st->buf && st->dlen < st->buf_cap - 1) {
		size_t room = st->buf_cap - 1 - st->dlen;
		memcpy(st->buf + st->dlen, b, n < room ? n : room);
	}
	st->dlen += n;
}

/*
 * Scans the string whose opening quote is at s[*i]; leaves *i past the
 * closing quote.  Fills st (its buf and buf_cap are the caller's), noting
 * a \u0000 escape, which cJSON would silently truncate at.  Bytes above
 * 0x7F are checked as strict UTF-8 here: an invalid sequence is the first
 * invalid byte of the frame when every byte before the string was ASCII
 * or checked the same way, which scan_json() guarantees.
 */
static enum act__wire_err scan_string(const unsigned char *s, size_t len,
                                      size_t *i, struct str *st,
                                      char *err, size_t cap)
{
	size_t p = *i + 1;

	st->dlen = 0;
	st->nul = st->esc = 0;
	for (;;) {
		unsigned char c, b[4];
		size_t run = p;
		long u;
		uint32_t cp;

		while (p < len && str_plain[s[p]])
			p++;
		if (p > run)
			str_add(st, s + run, p - run);
		if (p >= len)
			return act__wire_fail(err, cap, ACT__WIRE_BAD_JSON,
			            "unterminated string starting at byte %zu", *i);
		c = s[p];
		if (c == '"')
			break;
		if (c >= 0x80) {
			size_t n = act__utf8_seq(s + p, len - p);

			if (!n)
				return act__wire_fail(err, cap, ACT__WIRE_NOT_UTF8,
				            "invalid UTF-8 at byte %zu", p);
			str_add(st, s + p, n);
			p += n;
			continue;
		}
		if (c < 0x20)
			return act__wire_fail(err, cap, ACT__WIRE_BAD_JSON,
			            "control character in a string at byte %zu", p);
		/* c is '\\' */
		if (p + 1 >= len)
			return act__wire_fail(err, cap, ACT__WIRE_BAD_JSON,
			            "unterminated string starting at byte %zu", *i);
		st->esc = 1;
		switch (s[p + 1]) {
		case '"': case '\\': case '/':
			c = s[p + 1];
			goto simple;
		case 'b': c = '\b'; goto simple;
		case 'f': c = '\f'; goto simple;
		case 'n': c = '\n'; goto simple;
		case 'r': c = '\r'; goto simple;
		case 't': c = '\t'; goto simple;
		case 'u':
			break;
		default:
			return act__wire_fail(err, cap, ACT__WIRE_BAD_JSON,
			            "bad escape in a string at byte %zu", p);
		}
		u = hex4(s, len, p + 2);
		if (u < 0)
			return act__wire_fail(err, cap, ACT__WIRE_BAD_JSON,
			            "bad \\u escape at byte %zu", p);
		if (u >= 0xDC00 && u <= 0xDFFF)
			return act__wire_fail(err, cap, ACT__WIRE_BAD_JSON,
			            "unpaired surrogate escape at byte %zu", p);
		if (u >= 0xD800 && u <= 0xDBFF) {
			long lo;

			if (len - p < 12 || s[p + 6] != '\\' || s[p + 7] != 'u' ||
			    (lo = hex4(s, len, p + 8)) < 0xDC00 || lo > 0xDFFF)
				return act__wire_fail(err, cap, ACT__WIRE_BAD_JSON,
				            "unpaired surrogate escape at byte %zu", p);
			cp = 0x10000 + ((uint32_t)(u - 0xD800) << 10) + (uint32_t)(lo - 0xDC00);
			str_add(st, b, utf8_put(cp, b));
			p += 12;
			continue;
		}
		if (u == 0)
			st->nul = 1;
		else
			str_add(st, b, utf8_put((uint32_t)u, b));
		p += 6;
		continue;
simple:
		str_add(st, &c, 1);
		p += 2;
	}
	if (st->buf)
		st->buf[st->dlen < st->buf_cap - 1 ? st->dlen : st->buf_cap - 1] = '\0';
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
		return act__wire_fail(err, cap, ACT__WIRE_TOO_LONG,
		            "number longer than %u characters at byte %zu",
		            ACT__WIRE_NUMBER_CAP, *i);
	*i = p;
	return ACT__WIRE_OK;
bad:
	return act__wire_fail(err, cap, ACT__WIRE_BAD_JSON, "bad number at byte %zu", *i);
}

/* The envelope's fields; the order is the order their duplicates are reported in. */
enum { F_RECEIVER, F_MESSAGE_TYPE, F_MESSAGE, F_SENDER_ACTOR, F_SENDER_ENDPOINT, N_F };
enum { F_NONE = -1, F_DUP = -2 };

static const char *const field_names[N_F] = {
	"receiver", "message_type", "message", "sender_actor", "sender_endpoint",
};

/*
 * The first limit check_tree() would trip over.  It walks the tree in text
 * order, but only after the envelope's own checks, and a grammar error
 * anywhere later in the frame beats it: so the scan notes it and goes on.
 */
enum soft { SOFT_NONE, SOFT_STRING, SOFT_KEY, SOFT_FIELDS };

/* An envelope member that is not a field: where its key is, for duplicates. */
struct key {
	size_t at, len;     /* the key's text between the quotes */
	uint32_t hash;      /* of its decoded bytes */
};

/*
 * What scan_json() gathers for act__wire_parse_view() beyond the grammar:
 * everything a tree walk would learn (t/wire-tree.c).
 */
struct vscan {
	const struct act__wire_limits *lim;
	struct act__wire_view *v;
	int cur;                        /* field of the envelope member being scanned, or F_* */
	unsigned char seen[N_F];        /* the field's key came (once or more) */
	unsigned char dup[N_F];         /* ... more than once */
	unsigned char type[N_F];        /* first byte of the field's first value */
	size_t dlen[N_F];               /* decoded bytes of the field's first string value */
	size_t msg_at, msg_end;         /* the "message" object's text */
	enum soft soft;
	int oom;
	struct key *keys, keys0[16];    /* envelope keys that are not fields */
	unsigned n_keys, cap_keys;
	unsigned n_members[ACT__WIRE_DEPTH_CAP]; /* per open container; [0] the envelope */
};

static void scan_view_key(struct vscan *vx, const unsigned char *s, size_t at,
                          size_t end, unsigned depth, const struct str *st);

/*
 * Python's json module writes a float NaN or infinity as these bare words,
 * which are not JSON.  Returns the word at s[i], or NULL: only a whole
 * word, ended by what may end a value (whitespace, ',', ']', '}' or the
 * end), so that "NaNx" is the grammar error it is, not a NaN.
 */
static const char *non_json_number(const unsigned char *s, size_t len, size_t i)
{
	static const char *const words[] = { "NaN", "Infinity", "-Infinity" };

	for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
		size_t n = strlen(words[k]);
		if (len - i >= n && !memcmp(s + i, words[k], n) &&
		    (len - i == n || is_ws(s[i + n]) || s[i + n] == ',' || s[i + n] == ']' ||
		     s[i + n] == '}'))
			return words[k];
	}
	return NULL;
}

/*
 * Fails with BAD_JSON for such a word, naming the member it is the value of
 * (or is inside): the key's text as it stands in the frame, at most 64
 * bytes cut on a character boundary.  A key's raw text holds no control
 * byte (scan_string() refuses them) but DEL, which is replaced, so the
 * reason stays one safe line.
 */
static enum act__wire_err fail_word(char *err, size_t cap, const char *word, size_t i,
                                    const unsigned char *key, size_t key_len)
{
	char name[65];
	size_t n = key_len < sizeof name - 1 ? key_len : sizeof name - 1;

	if (!key)
		return act__wire_fail(err, cap, ACT__WIRE_BAD_JSON, "%s is not a JSON number (byte %zu)",
		            word, i);
	if (n < key_len)
		while (n && (key[n] & 0xC0) == 0x80)
			n--;
	for (size_t k = 0; k < n; k++)
		name[k] = key[k] == 0x7F ? '?' : (char)key[k];
	name[n] = '\0';
	return act__wire_fail(err, cap, ACT__WIRE_BAD_JSON, "%s is not a JSON number (field \"%s%s\", byte %zu)",
	            word, name, n < key_len ? "..." : "", i);
}
static void scan_view_number(struct vscan *vx, const unsigned char *s, size_t at, size_t end);

/* In scan_json(): the result once a non-JSON number word was met, if one was. */
#define WORD_OR(e) (word_err ? ACT__WIRE_BAD_JSON : (e))

/*
 * Checks that s[0..len) is exactly one JSON value (RFC 8259, whitespace
 * allowed around it) nested at most max_depth deep, without recursion: a
 * bit per open container records whether it is an object.  Strings are
 * skipped whole, so brackets inside them do not count.  With vx (the view
 * parser) it also gathers the envelope's fields, member counts, string
 * lengths and the span of "message" on the way; without, only the grammar.
 *
 * Only the bytes of strings are checked for UTF-8 (NOT_UTF8): any other
 * byte above 0x7F is a grammar error.  A caller that has not checked the
 * whole frame first must, on an error, still look for invalid UTF-8.
 *
 * NaN, Infinity and -Infinity (Python's json writes them) fail with
 * BAD_JSON and a reason naming their member at once without vx; with vx
 * the reason is the first such word's, but the scan goes on to the end
 * of the frame (or to the next error) so that sender fields written after
 * the word are still gathered for the Reject PROTOCOL.md asks for.
 */
static enum act__wire_err scan_json(const unsigned char *s, size_t len,
                                    unsigned max_depth, struct act__wire_scan *out,
                                    struct vscan *vx, char *err, size_t cap)
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
	size_t i = 0, at;
	struct str str = { 0, 0, 0, NULL, 0 };
	enum act__wire_err e;
	const unsigned char *key = NULL;    /* the last key read, for reasons */
	size_t key_len = 0;
	/* A NaN or Infinity met on the view's scan: the frame is refused with
	 * that reason whatever follows, but the scan goes on to read the
	 * sender fields that may come after it (PROTOCOL.md: such a frame is
	 * answered with a Reject).  Later errors only end the scan. */
	int word_err = 0;

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
				return WORD_OR(act__wire_fail(err, cap, ACT__WIRE_BAD_JSON,
				            "trailing data at byte %zu", i));
			return WORD_OR(ACT__WIRE_OK);
		}
		if (i >= len && depth == 0)
			return WORD_OR(act__wire_fail(err, cap, ACT__WIRE_BAD_JSON,
			            len ? "no JSON value in the frame" : "empty frame"));
		if (i >= len)
			return WORD_OR(act__wire_fail(err, cap, ACT__WIRE_BAD_JSON,
			            "truncated JSON (%zu bytes)", len));
		c = s[i];
		in_obj = depth && (is_obj[(depth - 1) / 8] >> ((depth - 1) % 8) & 1);
		switch (st) {
		case WANT_KEY_OR_CLOSE:
			if (c == '}')
				goto close;
			/* fall through */
		case WANT_KEY:
			if (c != '"')
				return WORD_OR(act__wire_fail(err, cap, ACT__WIRE_BAD_JSON,
				            "expected a string key at byte %zu", i));
			at = i;
			str.buf = NULL;
			e = scan_string(s, len, &i, &str, err, cap);
			if (e)
				return WORD_OR(e);
			if (str.nul)
				*(depth == 1 ? &out->nul_top : &out->nul_deep) = 1;
			key = s + at + 1;
			key_len = i - 2 - at;
			if (vx)
				scan_view_key(vx, s, at + 1, i - 1, depth, &str);
			st = WANT_COLON;
			continue;
		case WANT_COLON:
			if (c != ':')
				return WORD_OR(act__wire_fail(err, cap, ACT__WIRE_BAD_JSON,
				            "expected ':' at byte %zu", i));
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
			return WORD_OR(act__wire_fail(err, cap, ACT__WIRE_BAD_JSON,
			            "expected ',' or '%c' at byte %zu", in_obj ? '}' : ']', i));
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
		if (vx && depth == 1 && in_obj && vx->cur >= 0)
			vx->type[vx->cur] = c;
		switch (c) {
		case '{':
		case '[':
			if (depth >= max_depth)
				return WORD_OR(act__wire_fail(err, cap, ACT__WIRE_TOO_DEEP,
				            "nesting deeper than %u at byte %zu", max_depth, i));
			if (c == '{')
				is_obj[depth / 8] |= (unsigned char)(1u << depth % 8);
			else
				is_obj[depth / 8] &= (unsigned char)~(1u << depth % 8);
			if (vx) {
				vx->n_members[depth] = 0;
				if (depth == 1 && in_obj && vx->cur == F_MESSAGE)
					vx->msg_at = i;
			}
			depth++;
			i++;
			st = c == '{' ? WANT_KEY_OR_CLOSE : WANT_VALUE_OR_CLOSE;
			continue;
		case '"':
			str.buf = NULL;
			if (vx && depth == 1 && in_obj && vx->cur >= 0 && vx->cur != F_MESSAGE) {
				str.buf = vx->v->name_buf[vx->cur - (vx->cur > F_MESSAGE)];
				str.buf_cap = sizeof vx->v->name_buf[0];
			}
			e = scan_string(s, len, &i, &str, err, cap);
			if (e)
				return WORD_OR(e);
			if (str.nul)
				*(depth <= 1 ? &out->nul_top : &out->nul_deep) = 1;
			if (vx) {
				if (str.dlen > vx->lim->max_string && !vx->soft)
					vx->soft = SOFT_STRING;
				if (depth == 1 && in_obj && vx->cur >= 0)
					vx->dlen[vx->cur] = str.dlen;
			}
			break;
		case 't':
		case 'f':
		case 'n': {
			const char *lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
			size_t n = strlen(lit);

			if (len - i < n || memcmp(s + i, lit, n))
				return WORD_OR(act__wire_fail(err, cap, ACT__WIRE_BAD_JSON,
				            "bad literal at byte %zu", i));
			i += n;
			break;
		}
		default:
			if (c == 'N' || c == 'I' || c == '-') {
				const char *w = non_json_number(s, len, i);
				if (w && !vx)
					return fail_word(err, cap, w, i, key, key_len);
				if (w) {
					if (!word_err)
						fail_word(err, cap, w, i, key, key_len);
					word_err = 1;
					/* The error is kept; what follows only ends the scan. */
					err = NULL;
					cap = 0;
					i += strlen(w);
					break;
				}
			}
			if (c != '-' && !is_digit(c))
				return WORD_OR(act__wire_fail(err, cap, ACT__WIRE_BAD_JSON,
				            "unexpected byte 0x%02x at byte %zu", c, i));
			at = i;
			e = scan_number(s, len, &i, err, cap);
			if (e)
				return WORD_OR(e);
			if (vx && depth >= 2 && vx->cur == F_MESSAGE)
				scan_view_number(vx, s, at, i);
			break;
		}
		st = WANT_COMMA_OR_CLOSE;
		if (depth == 0)
			out->end = i;
		continue;
close:
		if (vx && depth == 2 && vx->cur == F_MESSAGE && vx->type[F_MESSAGE] == '{')
			vx->msg_end = i + 1;
		depth--;
		i++;
		st = WANT_COMMA_OR_CLOSE;
		if (depth == 0)
			out->end = i;
	}
}

enum act__wire_err act__wire_scan(const void *text, size_t len, unsigned max_depth,
                                  struct act__wire_scan *out, char *err, size_t err_cap)
{
	if (err && err_cap)
		err[0] = '\0';
	if (!text && len)
		return act__wire_fail(err, err_cap, ACT__WIRE_BAD_JSON, "no frame");
	return scan_json(text, len, max_depth, out, NULL, err, err_cap);
}

/* ---- the view: the same checks in the one scan ------------------------------ */

/*
 * Reads the text of a scanned string (between its quotes) as the bytes
 * cJSON would decode, ending at the first \u0000 as its strlen() does.
 */
struct dec {
	const unsigned char *p, *end;
	unsigned char b[4];
	unsigned n, k;
};

static void dec_init(struct dec *d, const unsigned char *p, size_t n)
{
	d->p = p;
	d->end = p + n;
	d->n = d->k = 0;
}

/* The next decoded byte, or -1 at the end. */
static int dec_next(struct dec *d)
{
	size_t left;
	long u, lo;

	if (d->k < d->n)
		return d->b[d->k++];
	if (d->p >= d->end)
		return -1;
	if (*d->p != '\\')
		return *d->p++;
	d->p += 2;
	switch (d->p[-1]) {
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case 'u': break;
	default: return d->p[-1];
	}
	/* Scanned already: 4 hex digits, and a low surrogate after a high one. */
	left = (size_t)(d->end - d->p);
	u = hex4(d->p, left, 0);
	d->p += 4;
	if (u >= 0xD800 && u <= 0xDBFF) {
		lo = hex4(d->p, left - 4, 2);
		d->p += 6;
		u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
	}
	if (u <= 0) {
		d->p = d->end;
		return -1;
	}
	d->n = utf8_put((uint32_t)u, d->b);
	d->k = 1;
	return d->b[0];
}

/* Which field the key s[0..n) names once decoded, or F_NONE. */
static int field_of(const unsigned char *s, size_t n, int esc)
{
	static const unsigned char lens[N_F] = { 8, 12, 7, 12, 15 };
	unsigned char tmp[16];

	if (esc) {
		struct dec d;
		size_t k = 0;
		int c;

		dec_init(&d, s, n);
		while ((c = dec_next(&d)) >= 0) {
			if (k == sizeof tmp)
				return F_NONE;
			tmp[k++] = (unsigned char)c;
		}
		s = tmp;
		n = k;
	}
	for (int f = 0; f < N_F; f++)
		if (n == lens[f] && !memcmp(s, field_names[f], n))
			return f;
	return F_NONE;
}

/* Whether two keys decode to the same bytes (up to a \u0000, as strcmp sees them). */
static int same_key(const unsigned char *s, const struct key *a, const struct key *b)
{
	struct dec x, y;
	int c;

	if (a->hash != b->hash)
		return 0;
	dec_init(&x, s + a->at, a->len);
	dec_init(&y, s + b->at, b->len);
	do {
		c = dec_next(&x);
		if (c != dec_next(&y))
			return 0;
	} while (c >= 0);
	return 1;
}

/*
 * A key s[at..end) at depth (1 = the envelope's): counts the member, checks
 * the count and the key's length as check_tree() would, and for the
 * envelope notes which field it is, its duplicates, and keeps other keys
 * for the duplicate check.
 */
static void scan_view_key(struct vscan *vx, const unsigned char *s, size_t at,
                          size_t end, unsigned depth, const struct str *st)
{
	unsigned n = ++vx->n_members[depth - 1];
	struct key *k;
	struct dec d;
	int f, c;

	if (!vx->soft) {
		if (n > vx->lim->max_fields)
			vx->soft = SOFT_FIELDS;
		else if (st->dlen > vx->lim->max_string)
			vx->soft = SOFT_KEY;
	}
	if (depth != 1)
		return;
	f = field_of(s + at, end - at, st->esc);
	vx->cur = f;
	if (f >= 0) {
		if (vx->seen[f]) {
			vx->dup[f] = 1;
			vx->cur = F_DUP;
		}
		vx->seen[f] = 1;
		return;
	}
	if (n > vx->lim->max_fields || vx->oom)
		return; /* refused for its size anyway */
	if (vx->n_keys == vx->cap_keys) {
		unsigned cap = vx->cap_keys * 2;
		struct key *p = vx->keys == vx->keys0 ? malloc(cap * sizeof *p)
		                                      : realloc(vx->keys, cap * sizeof *p);
		if (!p) {
			vx->oom = 1;
			return;
		}
		if (vx->keys == vx->keys0)
			memcpy(p, vx->keys0, sizeof vx->keys0);
		vx->keys = p;
		vx->cap_keys = cap;
	}
	k = &vx->keys[vx->n_keys++];
	k->at = at;
	k->len = end - at;
	k->hash = 2166136261u; /* FNV-1a */
	dec_init(&d, s + at, end - at);
	while ((c = dec_next(&d)) >= 0)
		k->hash = (k->hash ^ (uint32_t)c) * 16777619u;
}

/*
 * Whether the number token t[0..n) (grammar checked) is beyond a double,
 * so that strtod(), and so cJSON, makes it infinite.  Only a token with an
 * exponent can be: 63 digits stay below 1e64.  Decided by the decimal
 * exponent of its first significant digit, and by strtod() on a copy
 * without a decimal point (no locale) when that exponent is 308.
 */
static int number_overflows(const unsigned char *t, size_t n)
{
	char digits[ACT__WIRE_NUMBER_CAP + 1], text[ACT__WIRE_NUMBER_CAP + 32];
	const unsigned char *p = t, *end = t + n;
	size_t nd = 0;
	long sig = 0, ex = 0;
	int found = 0, neg;

	if (!memchr(t, 'e', n) && !memchr(t, 'E', n))
		return 0;
	if (*p == '-')
		p++;
	for (; p < end && is_digit(*p); p++) {
		if (found)
			sig++;
		else if (*p != '0')
			found = 1;
		if (found)
			digits[nd++] = (char)*p;
	}
	if (p < end && *p == '.') {
		for (long j = 1; ++p < end && is_digit(*p); j++) {
			if (!found && *p != '0') {
				found = 1;
				sig = -j;
			}
			if (found)
				digits[nd++] = (char)*p;
		}
	}
	if (!found)
		return 0; /* zero */
	p++; /* past 'e' or 'E': the grammar put digits after it */
	neg = *p == '-';
	if (*p == '-' || *p == '+')
		p++;
	for (; p < end; p++)
		if (ex < 100000)
			ex = ex * 10 + (*p - '0');
	sig += neg ? -ex : ex;
	if (sig != 308)
		return sig > 308;
	digits[nd] = '\0';
	snprintf(text, sizeof text, "%se%ld", digits, sig - (long)(nd - 1));
	return isinf(strtod(text, NULL));
}

static void scan_view_number(struct vscan *vx, const unsigned char *s, size_t at, size_t end)
{
	if (!vx->v->number_overflow && number_overflows(s + at, end - at))
		vx->v->number_overflow = 1;
}

/* Index of field f's buffer in the view. */
static unsigned name_slot(int f) { return (unsigned)(f - (f > F_MESSAGE)); }

/* A name field's value if it is usable: a non-empty string within the limits. */
static const char *view_name(const struct vscan *vx, int f)
{
	if (vx->dup[f] || vx->type[f] != '"' || !vx->dlen[f] ||
	    vx->dlen[f] > vx->lim->max_string || vx->dlen[f] > ACT__WIRE_NAME_MAX)
		return NULL;
	return vx->v->name_buf[name_slot(f)];
}

/* How much of an oversized frame is read for its names. */
#define SALVAGE_HEAD 8192u

/*
 * After the scan stopped at an error (or at the end of the head of an
 * oversized frame): the name fields whose value was read whole before it,
 * under the same rules as on the other errors.
 */
static void salvage(const struct vscan *vx, const struct act__wire_scan *sc)
{
	struct act__wire_view *v = vx->v;

	if (sc->first != '{' || sc->nul_top || vx->oom)
		return;
	v->receiver = view_name(vx, F_RECEIVER);
	v->message_type = view_name(vx, F_MESSAGE_TYPE);
	v->sender_actor = view_name(vx, F_SENDER_ACTOR);
	v->sender_endpoint = view_name(vx, F_SENDER_ENDPOINT);
}

enum act__wire_err act__wire_parse_view(const void *frame, size_t len,
                                        const struct act__wire_limits *lim,
                                        struct act__wire_view *v,
                                        char *err, size_t err_cap)
{
	static const int name_fields[] = {
		F_RECEIVER, F_MESSAGE_TYPE, F_SENDER_ACTOR, F_SENDER_ENDPOINT,
	};
	struct act__wire_limits def;
	const unsigned char *s = frame;
	struct vscan vx;
	struct act__wire_scan sc;
	enum act__wire_err e;
	size_t bad;

	v->receiver = v->message_type = v->sender_actor = v->sender_endpoint = NULL;
	v->message_text = NULL;
	v->message_len = 0;
	v->number_overflow = 0;
	if (err && err_cap)
		err[0] = '\0';
	if (!lim) {
		act__wire_limits_default(&def);
		lim = &def;
	}
	if (!s && len)
		return act__wire_fail(err, err_cap, len > lim->max_frame ? ACT__WIRE_TOO_BIG :
		            ACT__WIRE_BAD_JSON, "no frame");

	/* Not memset: n_members is large and written before it is read. */
	vx.lim = lim;
	vx.v = v;
	vx.cur = F_NONE;
	memset(vx.seen, 0, sizeof vx.seen);
	memset(vx.dup, 0, sizeof vx.dup);
	memset(vx.type, 0, sizeof vx.type);
	memset(vx.dlen, 0, sizeof vx.dlen);
	vx.msg_at = vx.msg_end = 0;
	vx.soft = SOFT_NONE;
	vx.oom = 0;
	vx.keys = vx.keys0;
	vx.n_keys = 0;
	vx.cap_keys = sizeof vx.keys0 / sizeof vx.keys0[0];

	if (len > lim->max_frame) {
		/* Only the head is read, for the names a Reject needs. */
		scan_json(s, len < SALVAGE_HEAD ? len : SALVAGE_HEAD, lim->max_depth, &sc, &vx,
		          NULL, 0);
		salvage(&vx, &sc);
		e = act__wire_fail(err, err_cap, ACT__WIRE_TOO_BIG,
		         "frame of %zu bytes exceeds the limit of %zu", len, lim->max_frame);
		goto out;
	}
	e = scan_json(s, len, lim->max_depth, &sc, &vx, err, err_cap);
	if (e) {
		/* Invalid UTF-8 anywhere is reported first. */
		bad = len ? act__utf8_check(s, len) : 0;
		if (bad != len)
			e = act__wire_fail(err, err_cap, ACT__WIRE_NOT_UTF8, "invalid UTF-8 at byte %zu", bad);
		/* The members read before the error are whole: a Reject can go. */
		salvage(&vx, &sc);
		goto out;
	}
	if (sc.first != '{') {
		e = act__wire_fail(err, err_cap, ACT__WIRE_NOT_OBJECT, "the frame is a JSON %s, not an object",
		         sc.first == '[' ? "array" : sc.first == '"' ? "string" :
		         sc.first == 'n' ? "null" : sc.first == 't' || sc.first == 'f' ?
		         "boolean" : "number");
		goto out;
	}
	if (vx.oom) {
		e = act__wire_fail(err, err_cap, ACT__WIRE_BAD_JSON, "cannot parse (out of memory?)");
		goto out;
	}

	/* What a Reject needs, whenever it can be read. */
	if (!sc.nul_top) {
		v->receiver = view_name(&vx, F_RECEIVER);
		v->message_type = view_name(&vx, F_MESSAGE_TYPE);
		v->sender_actor = view_name(&vx, F_SENDER_ACTOR);
		v->sender_endpoint = view_name(&vx, F_SENDER_ENDPOINT);
	}

	/* The checks, in the reference parser's order (t/wire-tree.c). */
	if (vx.n_members[0] > lim->max_fields) {
		e = act__wire_fail(err, err_cap, ACT__WIRE_TOO_MANY_FIELDS, "envelope with %u members (limit %u)",
		         vx.n_members[0], lim->max_fields);
		goto out;
	}
	for (int k = 0; k < N_F; k++) {
		if (vx.dup[k]) {
			e = act__wire_fail(err, err_cap, ACT__WIRE_BAD_FIELD,
			         "duplicate field \"%s\"", field_names[k]);
			goto out;
		}
	}
	for (unsigned a = 1; a < vx.n_keys; a++) {
		for (unsigned b = 0; b < a; b++) {
			if (same_key(s, &vx.keys[a], &vx.keys[b])) {
				e = act__wire_fail(err, err_cap, ACT__WIRE_BAD_FIELD, "duplicate key in the envelope");
				goto out;
			}
		}
	}
	switch (vx.soft) {
	case SOFT_NONE:
		break;
	case SOFT_STRING:
		e = act__wire_fail(err, err_cap, ACT__WIRE_TOO_LONG,
		         "string longer than %zu bytes", lim->max_string);
		goto out;
	case SOFT_KEY:
		e = act__wire_fail(err, err_cap, ACT__WIRE_TOO_LONG,
		         "key longer than %zu bytes", lim->max_string);
		goto out;
	case SOFT_FIELDS:
		e = act__wire_fail(err, err_cap, ACT__WIRE_TOO_MANY_FIELDS,
		         "object with more than %u members", lim->max_fields);
		goto out;
	}
	if (sc.nul_top || sc.nul_deep) {
		e = act__wire_fail(err, err_cap, ACT__WIRE_BAD_FIELD, "\\u0000 in a string is not supported");
		goto out;
	}
	for (int k = F_RECEIVER; k <= F_MESSAGE_TYPE; k++) {
		if (!vx.type[k])
			e = act__wire_fail(err, err_cap, ACT__WIRE_MISSING_FIELD,
			         "missing field \"%s\"", field_names[k]);
		else if (vx.type[k] != '"')
			e = act__wire_fail(err, err_cap, ACT__WIRE_BAD_FIELD,
			         "field \"%s\" is not a string", field_names[k]);
		else if (!vx.dlen[k])
			e = act__wire_fail(err, err_cap, ACT__WIRE_BAD_FIELD,
			         "field \"%s\" is empty", field_names[k]);
		if (e)
			goto out;
	}
	if (!vx.type[F_MESSAGE]) {
		e = act__wire_fail(err, err_cap, ACT__WIRE_MISSING_FIELD, "missing field \"message\"");
		goto out;
	}
	if (vx.type[F_MESSAGE] != '{') {
		e = act__wire_fail(err, err_cap, ACT__WIRE_BAD_FIELD, "field \"message\" is not an object");
		goto out;
	}
	for (int k = F_SENDER_ACTOR; k <= F_SENDER_ENDPOINT; k++) {
		if (vx.type[k] && vx.type[k] != '"' && vx.type[k] != 'n') {
			e = act__wire_fail(err, err_cap, ACT__WIRE_BAD_FIELD,
			         "field \"%s\" is neither a string nor null", field_names[k]);
			goto out;
		}
	}

	/* Beyond the reference parser: a name must fit the view. */
	for (size_t j = 0; j < sizeof name_fields / sizeof name_fields[0]; j++) {
		int k = name_fields[j];

		if (vx.type[k] == '"' && vx.dlen[k] > ACT__WIRE_NAME_MAX) {
			e = act__wire_fail(err, err_cap, ACT__WIRE_TOO_LONG, "field \"%s\" longer than %u bytes",
			         field_names[k], ACT__WIRE_NAME_MAX);
			goto out;
		}
	}
	v->message_text = (const char *)s + vx.msg_at;
	v->message_len = vx.msg_end - vx.msg_at;
out:
	if (vx.keys != vx.keys0)
		free(vx.keys);
	if (e) {
		v->message_text = NULL;
		v->message_len = 0;
		v->number_overflow = 0;
	}
	return e;
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
		n = act__utf8_seq(p, (size_t)(end - p));
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
	return s && s[0] && act__utf8_valid(s, strlen(s));
}

static int good_opt(const char *s)
{
	return !s || act__utf8_valid(s, strlen(s));
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
	struct act__wire_scan sc;
	size_t len, start = 0;

	if (!good_name(receiver) || !good_name(message_type) ||
	    !good_opt(sender_actor) || !good_opt(sender_endpoint) || !m)
		return NULL;
	len = strlen(message_json);
	if (!act__utf8_valid(m, len) ||
	    scan_json(m, len, ACT__WIRE_DEPTH_CAP, &sc, NULL, NULL, 0) || sc.first != '{')
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
	/* Anonymous, as the family sends it: a named sender invites an answer. */
	text = build(to_actor, "Reject", o.p, o.n, NULL, our_endpoint, out_len);
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
