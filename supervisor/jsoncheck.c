/* SPDX-License-Identifier: MIT */
/*
 * jsoncheck.c - a strict RFC 8259 syntax checker that says where and why.
 *
 * cJSON is lenient (it accepts "01", "1.", raw control characters in
 * strings, \u0000 that silently truncates a string) and cannot say where
 * or why it failed beyond a position, while a config file deserves "line
 * 7, column 12: trailing comma".  The app file (appfile.c) runs this
 * checker first and hands only text that passed it to cJSON.  The checker
 * also notes which numbers were written with a fraction or exponent,
 * since cJSON keeps only a double and an integer field must reject "1.0".
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsoncheck.h"
#include "utf8.h"

#define JC_MAX_NUMBER_LEN 63      /* cJSON reads at most 63 number characters */
#define WBUF 160                  /* "got X" in a message */

/* 1-based line and column (in characters) of byte offset off in s. */
void act__jc_line_col(const unsigned char *s, size_t len, size_t off,
                     unsigned *line, unsigned *col)
{
	unsigned l = 1, c = 1;

	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++) {
		if (s[i] == '\n') {
			l++;
			c = 1;
		} else if ((s[i] & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}



__attribute__((format(printf, 3, 4)))
static int jc_fail(struct act__jcheck *j, size_t off, const char *fmt, ...)
{
	va_list ap;

	if (j->rc)
		return j->rc;
	j->rc = -EINVAL;
	j->err_off = off;
	va_start(ap, fmt);
	vsnprintf(j->msg, sizeof j->msg, fmt, ap);
	va_end(ap);
	return j->rc;
}

static void jc_ws(struct act__jcheck *j)
{
	while (j->pos < j->len) {
		unsigned char c = j->s[j->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		j->pos++;
	}
}

/* Describes what sits at offset off, for "expected X, got Y". */
static const char *jc_what(const struct act__jcheck *j, size_t off, char buf[WBUF])
{
	unsigned char c;

	if (off >= j->len)
		return "end of file";
	c = j->s[off];
	if (c == 0)
		return "a NUL byte";
	if (c == '/')
		return "'/' (JSON has no comments)";
	if (c == '\'')
		return "\"'\" (JSON strings use double quotes)";
	if (act__jc_is_word_char(c)) {
		size_t n = 0;
		while (off + n < j->len && n < 24 && act__jc_is_word_char(j->s[off + n]))
			n++;
		snprintf(buf, WBUF, "'%.*s%s'", (int)n, (const char *)j->s + off,
		         off + n < j->len && act__jc_is_word_char(j->s[off + n]) ? "..." : "");
		return buf;
	}
	if (c < 0x20 || c == 0x7f) {
		snprintf(buf, WBUF, "control character 0x%02x", c);
		return buf;
	}
	if (c >= 0x80) {
		size_t n = act__utf8_seq(j->s + off, j->len - off);
		if (!n)
			snprintf(buf, WBUF, "invalid UTF-8 (byte 0x%02x)", c);
		else
			snprintf(buf, WBUF, "'%.*s'", (int)n, (const char *)j->s + off);
		return buf;
	}
	snprintf(buf, WBUF, "'%c'", c);
	return buf;
}

/* After a complete value, something that starts another one: the classic
 * forgotten comma. */
static const char *comma_hint(const struct act__jcheck *j)
{
	unsigned char c = j->pos < j->len ? j->s[j->pos] : 0;

	if (c == '"' || c == '{' || c == '[' || c == '-' || act__jc_is_digit(c) ||
	    c == 't' || c == 'f' || c == 'n')
		return " (missing ','?)";
	return "";
}

static int jc_hex4(const struct act__jcheck *j, size_t at, unsigned *out)
{
	unsigned v = 0;

	if (at + 4 > j->len)
		return -1;
	for (size_t i = at; i < at + 4; i++) {
		unsigned char c = j->s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10u;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10u;
		else
			return -1;
	}
	*out = v;
	return 0;
}

static int jc_string(struct act__jcheck *j)
{
	size_t start = j->pos++;
	unsigned sl, sc;

	while (j->pos < j->len) {
		unsigned char c = j->s[j->pos];
		if (c == '"') {
			j->pos++;
			return 0;
		}
		if (c == '\\') {
			unsigned cp, lo;
			if (j->pos + 1 >= j->len)
				break;
			switch (j->s[j->pos + 1]) {
			case '"': case '\\': case '/': case 'b':
			case 'f': case 'n': case 'r': case 't':
				j->pos += 2;
				continue;
			case 'u':
				break;
			default:
				if (j->s[j->pos + 1] >= 0x21 && j->s[j->pos + 1] < 0x7f)
					return jc_fail(j, j->pos, "invalid escape '\\%c' in string "
					               "(valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)",
					               j->s[j->pos + 1]);
				return jc_fail(j, j->pos, "invalid escape in string "
				               "(valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
			}
			if (jc_hex4(j, j->pos + 2, &cp))
				return jc_fail(j, j->pos, "invalid \\u escape: expected 4 hex digits");
			if (cp == 0)
				return jc_fail(j, j->pos, "\\u0000 is not allowed (strings cannot contain NUL)");
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return jc_fail(j, j->pos, "unpaired UTF-16 surrogate \\u%04x", cp);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (j->pos + 7 >= j->len || j->s[j->pos + 6] != '\\' ||
				    j->s[j->pos + 7] != 'u' || jc_hex4(j, j->pos + 8, &lo) ||
				    lo < 0xdc00 || lo > 0xdfff)
					return jc_fail(j, j->pos, "unpaired UTF-16 surrogate \\u%04x", cp);
				j->pos += 6;
			}
			j->pos += 6;
			continue;
		}
		if (c == 0)
			return jc_fail(j, j->pos, "NUL byte in string");
		if (c == '\n' || c == '\r') {
			act__jc_line_col(j->s, j->len, start, &sl, &sc);
			return jc_fail(j, j->pos, "line break inside the string opened at %u:%u "
			               "(missing '\"'? write a newline as \\n)", sl, sc);
		}
		if (c < 0x20)
			return jc_fail(j, j->pos, "control character 0x%02x in string "
			               "(write it as \\u%04x)", c, c);
		if (c >= 0x80) {
			size_t n = act__utf8_seq(j->s + j->pos, j->len - j->pos);
			if (!n)
				return jc_fail(j, j->pos, "invalid UTF-8 in string (byte 0x%02x)", c);
			j->pos += n;
			continue;
		}
		j->pos++;
	}
	return jc_fail(j, start, "unterminated string (no closing '\"' before end of file)");
}

static int jc_number(struct act__jcheck *j)
{
	const unsigned char *s = j->s;
	size_t p = j->pos, start = j->pos;
	int frac = 0;

	if (s[p] == '-')
		p++;
	if (p >= j->len || !act__jc_is_digit(s[p]))
		return jc_fail(j, start, "invalid number: expected a digit after '-'");
	if (s[p] == '0') {
		p++;
		if (p < j->len && act__jc_is_digit(s[p]))
			return jc_fail(j, start, "invalid number: leading zero");
	} else {
		while (p < j->len && act__jc_is_digit(s[p]))
			p++;
	}
	if (p < j->len && s[p] == '.') {
		p++;
		frac = 1;
		if (p >= j->len || !act__jc_is_digit(s[p]))
			return jc_fail(j, start, "invalid number: expected a digit after '.'");
		while (p < j->len && act__jc_is_digit(s[p]))
			p++;
	}
	if (p < j->len && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		frac = 1;
		if (p < j->len && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p >= j->len || !act__jc_is_digit(s[p]))
			return jc_fail(j, start, "invalid number: expected a digit in the exponent");
		while (p < j->len && act__jc_is_digit(s[p]))
			p++;
	}
	if (p - start > JC_MAX_NUMBER_LEN)
		return jc_fail(j, start, "number too long (more than %d characters)",
		               JC_MAX_NUMBER_LEN);
	if (frac) {
		if (j->n_nonint == j->cap_nonint) {
			size_t ncap = j->cap_nonint ? j->cap_nonint * 2 : 16;
			struct act__jc_nonint *nn = realloc(j->nonint, ncap * sizeof *nn);
			if (!nn)
				return j->rc = -ENOMEM;
			j->nonint = nn;
			j->cap_nonint = ncap;
		}
		j->nonint[j->n_nonint++] = (struct act__jc_nonint){ j->n_numbers, start, p - start, NULL };
	}
	j->n_numbers++;
	j->pos = p;
	return 0;
}

static int jc_value(struct act__jcheck *j);

/*
 * After a member of the object or element of the array opened at `open`
 * (close is '}' or ']', what names the item): 1 if the container closed
 * here, 0 if a comma leads to the next item, -1 with j->rc set on an error.
 */
static int jc_after_item(struct act__jcheck *j, size_t open, char close, const char *what)
{
	char w[WBUF];
	unsigned ol, oc;

	jc_ws(j);
	if (j->pos < j->len && j->s[j->pos] == close) {
		j->pos++;
		return 1;
	}
	if (j->pos < j->len && j->s[j->pos] == ',') {
		size_t comma = j->pos++;
		jc_ws(j);
		if (j->pos < j->len && j->s[j->pos] == close) {
			jc_fail(j, comma, "trailing comma before '%c' (not allowed in JSON)", close);
			return -1;
		}
		return 0;
	}
	if (j->pos >= j->len) {
		act__jc_line_col(j->s, j->len, open, &ol, &oc);
		jc_fail(j, j->pos, "unexpected end of file: the '%c' at %u:%u is not closed",
		        j->s[open], ol, oc);
		return -1;
	}
	jc_fail(j, j->pos, "expected ',' or '%c' after %s, got %s%s", close, what,
	        jc_what(j, j->pos, w), comma_hint(j));
	return -1;
}


static int jc_object(struct act__jcheck *j)
{
	size_t open = j->pos;
	char w[WBUF];

	if (++j->depth > ACT__JC_MAX_DEPTH)
		return jc_fail(j, open, "nested deeper than %d levels", ACT__JC_MAX_DEPTH);
	j->pos++;
	jc_ws(j);
	if (j->pos < j->len && j->s[j->pos] == '}') {
		j->pos++;
		j->depth--;
		return 0;
	}
	for (;;) {
		if (j->pos >= j->len || j->s[j->pos] != '"')
			return jc_fail(j, j->pos, "expected a string key or '}', got %s",
			               jc_what(j, j->pos, w));
		if (jc_string(j))
			return j->rc;
		jc_ws(j);
		if (j->pos >= j->len || j->s[j->pos] != ':')
			return jc_fail(j, j->pos, "expected ':' after the key, got %s",
			               jc_what(j, j->pos, w));
		j->pos++;
		jc_ws(j);
		if (jc_value(j))
			return j->rc;
		int r = jc_after_item(j, open, '}', "an object member");
		if (r < 0)
			return j->rc;
		if (r)
			break;
	}
	j->depth--;
	return 0;
}

static int jc_array(struct act__jcheck *j)
{
	size_t open = j->pos;

	if (++j->depth > ACT__JC_MAX_DEPTH)
		return jc_fail(j, open, "nested deeper than %d levels", ACT__JC_MAX_DEPTH);
	j->pos++;
	jc_ws(j);
	if (j->pos < j->len && j->s[j->pos] == ']') {
		j->pos++;
		j->depth--;
		return 0;
	}
	for (;;) {
		if (jc_value(j))
			return j->rc;
		int r = jc_after_item(j, open, ']', "an array element");
		if (r < 0)
			return j->rc;
		if (r)
			break;
	}
	j->depth--;
	return 0;
}

static int jc_literal(struct act__jcheck *j, const char *lit)
{
	size_t n = strlen(lit);
	char w[WBUF];

	assert(n > 0);
	if (j->len - j->pos < n || memcmp(j->s + j->pos, lit, n))
		return jc_fail(j, j->pos, "expected a value, got %s (strings need double "
		               "quotes; the literals are true, false and null)",
		               jc_what(j, j->pos, w));
	j->pos += n;
	return 0;
}

static int jc_value(struct act__jcheck *j)
{
	char w[WBUF];

	if (j->pos >= j->len)
		return jc_fail(j, j->pos, "expected a value, got end of file");
	switch (j->s[j->pos]) {
	case '{':
		return jc_object(j);
	case '[':
		return jc_array(j);
	case '"':
		return jc_string(j);
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return jc_number(j);
	case 't':
		return jc_literal(j, "true");
	case 'f':
		return jc_literal(j, "false");
	case 'n':
		return jc_literal(j, "null");
	default:
		if (act__jc_is_word_char(j->s[j->pos]))
			return jc_fail(j, j->pos, "expected a value, got %s (strings need double "
			               "quotes; the literals are true, false and null)",
			               jc_what(j, j->pos, w));
		return jc_fail(j, j->pos, "expected a value, got %s", jc_what(j, j->pos, w));
	}
}

int act__jc_document(struct act__jcheck *j, const char *text, size_t len)
{
	char w[WBUF];

	memset(j, 0, sizeof *j);
	j->s = (const unsigned char *)(text ? text : "");
	j->len = len;

	if (j->len >= 3 && !memcmp(j->s, "\xef\xbb\xbf", 3))
		j->pos = 3;   /* a UTF-8 BOM; cJSON skips it as well */
	jc_ws(j);
	if (j->pos >= j->len)
		return jc_fail(j, j->pos, "empty file (expected a JSON object)");
	if (jc_value(j))
		return j->rc;
	jc_ws(j);
	if (j->pos < j->len)
		return jc_fail(j, j->pos, "unexpected %s after the end of the JSON document",
		               jc_what(j, j->pos, w));
	return 0;
}

void act__jc_fini(struct act__jcheck *j)
{
	free(j->nonint);
	j->nonint = NULL;
	j->n_nonint = j->cap_nonint = 0;
}
