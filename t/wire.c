/* SPDX-License-Identifier: MIT */
/*
 * t/wire.c - the remote wire protocol: every malformed frame is refused with
 * the right class (and, when the sender is addressable, its sender fields
 * are still read so a Reject can go back), valid frames in every legal
 * spelling are accepted, and encode/reject produce text that parses back to
 * what went in.
 *
 * Each frame is copied into a heap block of exactly its length, so that a
 * read past the end (frames are not NUL-terminated) is an ASan error.
 *
 * Every frame parsed that way also goes through act__wire_parse_view(),
 * which must agree with act__wire_parse(): the same class and reason, the
 * same names (but those beyond ACT__WIRE_NAME_MAX), and a message text that
 * cJSON parses to the tree's message.  A diag compares their speed.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "message.h"
#include "utf8.h"
#include "wire.h"
#include "wire-tree.h"
#include "tap.h"

/* ---- helpers -------------------------------------------------------------- */

/* Which of the envelope's strings must be read even though it was refused. */
enum { S_A = 1, S_E = 2, RCV = 4, TYP = 8, ALL = 15 };

static int n_bad;

struct sb {
	char *p;
	size_t n, cap;
};

static void sb_put(struct sb *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *p = realloc(b->p, cap);
		if (!p)
			bail("out of memory");
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sb_puts(struct sb *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_rep(struct sb *b, const char *s, size_t times)
{
	for (size_t i = 0; i < times; i++)
		sb_puts(b, s);
}

static int same(const char *got, const char *want)
{
	if (!want)
		return got == NULL;
	return got && !strcmp(got, want);
}

/* ---- parse against parse_view --------------------------------------------------- */

static int view_ok;             /* the last parse_exact(): the view agreed */
static int n_view, n_view_bad;  /* frames compared, disagreements */

static int has_inf(const cJSON *j)
{
	for (; j; j = j->next)
		if ((cJSON_IsNumber(j) && !isfinite(j->valuedouble)) || (j->child && has_inf(j->child)))
			return 1;
	return 0;
}

/* What the view must show of a name the tree path read. */
static const char *fits(const char *name)
{
	return name && strlen(name) <= ACT__WIRE_NAME_MAX ? name : NULL;
}

static const char *nul_or(const char *s) { return s ? s : "NULL"; }

/*
 * Errors of the scan itself (and the size gate), where the view, not the
 * reference, reads the names that came whole before the error.
 */
static int salvaged_class(enum act__wire_err e, const char *err)
{
	return e == ACT__WIRE_TOO_BIG || e == ACT__WIRE_NOT_UTF8 || e == ACT__WIRE_BAD_JSON ||
	       e == ACT__WIRE_TOO_DEEP ||
	       (e == ACT__WIRE_TOO_LONG && !strncmp(err, "number longer", 13));
}

/*
 * Runs act__wire_parse_view() on frame[0..len) (the exact copy the tree
 * path had) and says whether it agrees with the tree path's e, env and err
 * (cap bytes, at most 256).
 */
static int view_agrees(const void *frame, size_t len, const struct act__wire_limits *lim,
                       enum act__wire_err e, const struct act__wire_env *env,
                       const char *err, size_t cap)
{
	static const char *const names[4] = {
		"receiver", "message_type", "sender_actor", "sender_endpoint",
	};
	const char *want_name[4] = {
		env->receiver, env->message_type, env->sender_actor, env->sender_endpoint,
	};
	struct act__wire_view v;
	char verr[256], want_err[256];
	enum act__wire_err ve, want = e;
	cJSON *m = NULL;
	int fine;

	if (cap > sizeof verr)
		bail("view_agrees: err buffer too large");
	if (cap)
		snprintf(want_err, cap, "%s", err);
	if (e == ACT__WIRE_OK) {
		for (int k = 0; k < 4 && want == ACT__WIRE_OK; k++) {
			if (want_name[k] && strlen(want_name[k]) > ACT__WIRE_NAME_MAX) {
				want = ACT__WIRE_TOO_LONG;
				if (cap)
					snprintf(want_err, cap, "field \"%s\" longer than %u bytes",
					         names[k], ACT__WIRE_NAME_MAX);
			}
		}
	}
	memset(&v, 0x5A, sizeof v); /* the view must set every field */
	ve = act__wire_parse_view(frame, len, lim, &v, cap ? verr : NULL, cap);
	fine = ve == want && (!cap || !strcmp(verr, want_err));
	if (fine && salvaged_class(e, verr)) {
		/* The reference reads no names from text that is not JSON; the
		 * view keeps those read whole before the error (checked by
		 * salvage()): here they only have to be sane. */
		const char *got[4] = { v.receiver, v.message_type, v.sender_actor,
		                       v.sender_endpoint };
		for (int k = 0; k < 4; k++)
			fine = fine && (!got[k] || (got[k][0] && strlen(got[k]) <= ACT__WIRE_NAME_MAX &&
			                            act__utf8_valid(got[k], strlen(got[k]))));
	} else if (fine) {
		fine = same(v.receiver, fits(env->receiver)) &&
		       same(v.message_type, fits(env->message_type)) &&
		       same(v.sender_actor, fits(env->sender_actor)) &&
		       same(v.sender_endpoint, fits(env->sender_endpoint));
	}
	if (fine && ve == ACT__WIRE_OK) {
		m = cJSON_ParseWithLength(v.message_text, v.message_len);
		fine = m && v.message_len >= 2 && v.message_text[0] == '{' &&
		       v.message_text[v.message_len - 1] == '}' &&
		       v.number_overflow == has_inf(m);
		if (fine && !cJSON_Compare(m, env->message, 1)) {
			/* cJSON_Compare() finds inf unequal to inf, and an object
			 * with a duplicate key unequal to itself: compare the prints. */
			char *a = cJSON_PrintUnformatted(m), *b = cJSON_PrintUnformatted(env->message);
			fine = a && b && !strcmp(a, b);
			free(a);
			free(b);
		}
	} else if (fine) {
		fine = !v.message_text && !v.number_overflow;
	}
	n_view++;
	if (!fine) {
		n_view_bad++;
		diag("parse_view: got %s \"%s\", want %s \"%s\"; sender %s @ %s, receiver %s, type %s;"
		     " message %.*s",
		     act__wire_err_name(ve), cap ? verr : "", act__wire_err_name(want),
		     cap ? want_err : "", nul_or(v.sender_actor), nul_or(v.sender_endpoint),
		     nul_or(v.receiver), nul_or(v.message_type),
		     ve == ACT__WIRE_OK ? (int)(v.message_len > 200 ? 200 : v.message_len) : 4,
		     ve == ACT__WIRE_OK ? v.message_text : "none");
	}
	cJSON_Delete(m);
	return fine;
}

/*
 * Parses a copy of data[0..len) that ends exactly at the end of its block,
 * and has the view parse the same copy (view_ok says whether it agreed).
 */
static enum act__wire_err parse_exact(const void *data, size_t len,
                                      const struct act__wire_limits *lim,
                                      struct act__wire_env *env, char *err, size_t cap)
{
	void *copy = malloc(len ? len : 1);
	enum act__wire_err e;

	if (!copy)
		bail("out of memory");
	memcpy(copy, data, len);
	e = act__wire_parse(copy, len, lim, env, err, cap);
	view_ok = view_agrees(copy, len, lim, e, env, err, cap);
	free(copy);
	return e;
}

/*
 * One malformed frame: refused with class `want`, a reason that does not
 * echo peer data, and exactly the envelope strings in `fill` still read.
 */
static void bad(const char *name, const void *data, size_t len,
                const struct act__wire_limits *lim, enum act__wire_err want, unsigned fill)
{
	struct act__wire_env env;
	char err[200];
	enum act__wire_err e;
	int good;

	e = parse_exact(data, len, lim, &env, err, sizeof err);
	good = e == want && err[0] && !strstr(err, "pong") && view_ok &&
	       same(env.sender_actor, fill & S_A ? "ping" : NULL) &&
	       same(env.sender_endpoint, fill & S_E ? "tcp://localhost:5002" : NULL) &&
	       same(env.receiver, fill & RCV ? "pong" : NULL) &&
	       same(env.message_type, fill & TYP ? "Ping" : NULL);
	ok(good, "bad frame (%s): %s", act__wire_err_name(want), name);
	if (!good)
		diag("got %s \"%s\"; sender %s @ %s, receiver %s, type %s",
		     act__wire_err_name(e), err,
		     env.sender_actor ? env.sender_actor : "NULL",
		     env.sender_endpoint ? env.sender_endpoint : "NULL",
		     env.receiver ? env.receiver : "NULL",
		     env.message_type ? env.message_type : "NULL");
	act__wire_env_free(&env);
	n_bad++;
}

static void bad_sb(const char *name, struct sb *b, enum act__wire_err want, unsigned fill)
{
	bad(name, b->p, b->n, NULL, want, fill);
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* ---- the corpus ------------------------------------------------------------- */

#define SND "\"sender_actor\":\"ping\",\"sender_endpoint\":\"tcp://localhost:5002\","
#define REC "\"receiver\":\"pong\","
#define TYPE "\"message_type\":\"Ping\","
#define MSG "\"message\":{\"count\":1}"
#define GOOD "{" SND REC TYPE MSG "}"

struct bad_frame {
	const char *name;
	const char *data;
	size_t len;
	enum act__wire_err want;
	unsigned fill;
};

#define B(name, lit, want, fill) { name, lit, sizeof(lit) - 1, ACT__WIRE_##want, fill }

static const struct bad_frame corpus[] = {
	/* Not one JSON value. */
	B("empty frame", "", BAD_JSON, 0),
	B("whitespace only", " \r\n\t", BAD_JSON, 0),
	B("not JSON", "hello world", BAD_JSON, 0),
	B("truncated object", "{" SND REC, BAD_JSON, 0),
	B("truncated in a string", "{" SND "\"receiver\":\"po", BAD_JSON, 0),
	B("truncated after a colon", "{" SND "\"receiver\":", BAD_JSON, 0),
	B("truncated inside message", "{" SND REC TYPE "\"message\":{\"count\":1", BAD_JSON, 0),
	B("trailing garbage", GOOD "x", BAD_JSON, 0),
	B("trailing second object", GOOD "{}", BAD_JSON, 0),
	B("trailing comma", "{" SND REC TYPE MSG ",}", BAD_JSON, 0),
	B("leading UTF-8 BOM", "\xEF\xBB\xBF" GOOD, BAD_JSON, 0),
	B("single quotes", "{'receiver':'pong'}", BAD_JSON, 0),
	B("unquoted key", "{receiver:\"pong\"}", BAD_JSON, 0),
	B("raw NUL inside a string", "{" SND "\"receiver\":\"po\0ng\"," TYPE MSG "}", BAD_JSON, 0),
	B("raw NUL after the object", GOOD "\0", BAD_JSON, 0),
	B("raw NUL before the object", "\0" GOOD, BAD_JSON, 0),
	B("raw NUL between tokens", "{" SND "\0" REC TYPE MSG "}", BAD_JSON, 0),
	B("raw newline in a string", "{" SND "\"receiver\":\"po\nng\"," TYPE MSG "}", BAD_JSON, 0),
	B("raw tab in a string", "{" SND REC "\"message_type\":\"Pi\tng\"," MSG "}", BAD_JSON, 0),
	B("unknown escape", "{" SND "\"receiver\":\"po\\xng\"," TYPE MSG "}", BAD_JSON, 0),
	B("bad hex in \\u", "{" SND "\"receiver\":\"\\u12G4\"," TYPE MSG "}", BAD_JSON, 0),
	B("\\u cut by the end of the frame", "{\"receiver\":\"\\u12", BAD_JSON, 0),
	B("lone low surrogate escape", "{" SND "\"receiver\":\"\\udc00\"," TYPE MSG "}", BAD_JSON, 0),
	B("lone high surrogate escape", "{" SND "\"receiver\":\"\\ud800\"," TYPE MSG "}", BAD_JSON, 0),
	B("high surrogate then a letter", "{" SND "\"receiver\":\"\\ud800\\u0041\"," TYPE MSG "}", BAD_JSON, 0),
	B("two high surrogates", "{" SND "\"receiver\":\"\\ud800\\ud800\"," TYPE MSG "}", BAD_JSON, 0),
	B("leading zero", "{" SND REC TYPE "\"message\":{\"count\":01}}", BAD_JSON, 0),
	B("plus sign", "{" SND REC TYPE "\"message\":{\"count\":+1}}", BAD_JSON, 0),
	B("bare decimal point", "{" SND REC TYPE "\"message\":{\"count\":1.}}", BAD_JSON, 0),
	B("leading decimal point", "{" SND REC TYPE "\"message\":{\"count\":.5}}", BAD_JSON, 0),
	B("exponent without digits", "{" SND REC TYPE "\"message\":{\"count\":1e}}", BAD_JSON, 0),
	B("lone minus", "{" SND REC TYPE "\"message\":{\"count\":-}}", BAD_JSON, 0),
	B("NaN", "{" SND REC TYPE "\"message\":{\"count\":NaN}}", BAD_JSON, 0),
	B("-Infinity", "{" SND REC TYPE "\"message\":{\"count\":-Infinity}}", BAD_JSON, 0),
	B("hex number", "{" SND REC TYPE "\"message\":{\"count\":0x10}}", BAD_JSON, 0),
	B("truncated literal", "{" SND REC TYPE "\"message\":{\"ok\":tru}}", BAD_JSON, 0),
	B("capitalised literal", "{" SND REC TYPE "\"message\":{\"ok\":True}}", BAD_JSON, 0),
	B("literal cut by the end", "{\"a\":nul", BAD_JSON, 0),
	B("form feed as whitespace", "{\f" SND REC TYPE MSG "}", BAD_JSON, 0),
	B("vertical tab as whitespace", "{" SND "\v" REC TYPE MSG "}", BAD_JSON, 0),
	B("mismatched brackets", "{" SND REC TYPE "\"message\":{\"a\":[1}}", BAD_JSON, 0),
	B("close without open", "{" SND REC TYPE MSG "}}", BAD_JSON, 0),
	B("missing colon", "{" SND "\"receiver\" \"pong\"," TYPE MSG "}", BAD_JSON, 0),
	B("missing comma", "{" SND "\"receiver\":\"pong\" " TYPE MSG "}", BAD_JSON, 0),
	B("comment", "{/* hi */" SND REC TYPE MSG "}", BAD_JSON, 0),
	B("backslash at the end of the frame", "{\"receiver\":\"\\", BAD_JSON, 0),
	B("number as a key", "{1:2}", BAD_JSON, 0),

	/* Not strict UTF-8 (anywhere, inside strings or not). */
	B("lone continuation byte", "{" SND "\"receiver\":\"\x80\"," TYPE MSG "}", NOT_UTF8, 0),
	B("overlong '/' (2 bytes)", "{" SND "\"receiver\":\"\xC0\xAF\"," TYPE MSG "}", NOT_UTF8, 0),
	B("overlong NUL", "{" SND "\"receiver\":\"po\xC0\x80ng\"," TYPE MSG "}", NOT_UTF8, 0),
	B("overlong (3 bytes)", "{" SND "\"receiver\":\"\xE0\x80\xAF\"," TYPE MSG "}", NOT_UTF8, 0),
	B("overlong (4 bytes)", "{" SND "\"receiver\":\"\xF0\x80\x80\xAF\"," TYPE MSG "}", NOT_UTF8, 0),
	B("UTF-8 encoded surrogate", "{" SND "\"receiver\":\"\xED\xA0\x80\"," TYPE MSG "}", NOT_UTF8, 0),
	B("code point above U+10FFFF", "{" SND "\"receiver\":\"\xF4\x90\x80\x80\"," TYPE MSG "}", NOT_UTF8, 0),
	B("F5 lead byte", "{" SND "\"receiver\":\"\xF5\x80\x80\x80\"," TYPE MSG "}", NOT_UTF8, 0),
	B("FF byte", "{" SND "\"receiver\":\"\xFF\"," TYPE MSG "}", NOT_UTF8, 0),
	B("truncated sequence in a string", "{" SND "\"receiver\":\"\xE2\x82\"," TYPE MSG "}", NOT_UTF8, 0),
	B("truncated sequence at the end of the frame", GOOD "\xE2\x82", NOT_UTF8, 0),
	B("lead byte then ASCII", "{" SND "\"receiver\":\"\xC3" "A\"," TYPE MSG "}", NOT_UTF8, 0),
	B("Latin-1 text", "{" SND REC TYPE "\"message\":{\"s\":\"caf\xE9\"}}", NOT_UTF8, 0),
	B("invalid byte outside strings", "{" SND "\x80" REC TYPE MSG "}", NOT_UTF8, 0),

	/* Valid JSON that is not an object. */
	B("array", "[" GOOD "]", NOT_OBJECT, 0),
	B("empty array", " [ ] ", NOT_OBJECT, 0),
	B("number", "42", NOT_OBJECT, 0),
	B("negative float", "-1.5e3", NOT_OBJECT, 0),
	B("string", "\"pong\"", NOT_OBJECT, 0),
	B("null", "null", NOT_OBJECT, 0),
	B("true", "true", NOT_OBJECT, 0),

	/* Required fields missing. */
	B("no receiver", "{" SND TYPE MSG "}", MISSING_FIELD, S_A | S_E | TYP),
	B("no message_type", "{" SND REC MSG "}", MISSING_FIELD, S_A | S_E | RCV),
	B("no message", "{" SND REC "\"message_type\":\"Ping\"}", MISSING_FIELD, ALL),
	B("only senders", "{" SND "\"x\":1}", MISSING_FIELD, S_A | S_E),
	B("empty object", "{}", MISSING_FIELD, 0),
	B("field names differ in case", "{" SND "\"Receiver\":\"pong\"," TYPE MSG "}", MISSING_FIELD, S_A | S_E | TYP),

	/* Fields of the wrong type, empty, duplicated. */
	B("receiver is a number", "{" SND "\"receiver\":1," TYPE MSG "}", BAD_FIELD, S_A | S_E | TYP),
	B("receiver is null", "{" SND "\"receiver\":null," TYPE MSG "}", BAD_FIELD, S_A | S_E | TYP),
	B("receiver is true", "{" SND "\"receiver\":true," TYPE MSG "}", BAD_FIELD, S_A | S_E | TYP),
	B("receiver is an object", "{" SND "\"receiver\":{}," TYPE MSG "}", BAD_FIELD, S_A | S_E | TYP),
	B("receiver is an array", "{" SND "\"receiver\":[\"pong\"]," TYPE MSG "}", BAD_FIELD, S_A | S_E | TYP),
	B("message_type is a number", "{" SND REC "\"message_type\":7," MSG "}", BAD_FIELD, S_A | S_E | RCV),
	B("message_type is null", "{" SND REC "\"message_type\":null," MSG "}", BAD_FIELD, S_A | S_E | RCV),
	B("message_type is false", "{" SND REC "\"message_type\":false," MSG "}", BAD_FIELD, S_A | S_E | RCV),
	B("message_type is an object", "{" SND REC "\"message_type\":{\"n\":\"Ping\"}," MSG "}", BAD_FIELD, S_A | S_E | RCV),
	B("message_type is an array", "{" SND REC "\"message_type\":[\"Ping\"]," MSG "}", BAD_FIELD, S_A | S_E | RCV),
	B("message is a string", "{" SND REC TYPE "\"message\":\"{}\"}", BAD_FIELD, ALL),
	B("message is an array", "{" SND REC TYPE "\"message\":[1]}", BAD_FIELD, ALL),
	B("message is null", "{" SND REC TYPE "\"message\":null}", BAD_FIELD, ALL),
	B("message is a number", "{" SND REC TYPE "\"message\":1}", BAD_FIELD, ALL),
	B("message is true", "{" SND REC TYPE "\"message\":true}", BAD_FIELD, ALL),
	B("sender_actor is a number", "{\"sender_actor\":1,\"sender_endpoint\":\"tcp://localhost:5002\"," REC TYPE MSG "}", BAD_FIELD, S_E | RCV | TYP),
	B("sender_actor is an object", "{\"sender_actor\":{},\"sender_endpoint\":\"tcp://localhost:5002\"," REC TYPE MSG "}", BAD_FIELD, S_E | RCV | TYP),
	B("sender_actor is an array", "{\"sender_actor\":[\"ping\"],\"sender_endpoint\":\"tcp://localhost:5002\"," REC TYPE MSG "}", BAD_FIELD, S_E | RCV | TYP),
	B("sender_actor is true", "{\"sender_actor\":true,\"sender_endpoint\":\"tcp://localhost:5002\"," REC TYPE MSG "}", BAD_FIELD, S_E | RCV | TYP),
	B("sender_endpoint is a number", "{\"sender_actor\":\"ping\",\"sender_endpoint\":5002," REC TYPE MSG "}", BAD_FIELD, S_A | RCV | TYP),
	B("sender_endpoint is an object", "{\"sender_actor\":\"ping\",\"sender_endpoint\":{\"port\":5002}," REC TYPE MSG "}", BAD_FIELD, S_A | RCV | TYP),
	B("sender_endpoint is an array", "{\"sender_actor\":\"ping\",\"sender_endpoint\":[]," REC TYPE MSG "}", BAD_FIELD, S_A | RCV | TYP),
	B("sender_endpoint is false", "{\"sender_actor\":\"ping\",\"sender_endpoint\":false," REC TYPE MSG "}", BAD_FIELD, S_A | RCV | TYP),
	B("empty receiver", "{" SND "\"receiver\":\"\"," TYPE MSG "}", BAD_FIELD, S_A | S_E | TYP),
	B("empty message_type", "{" SND REC "\"message_type\":\"\"," MSG "}", BAD_FIELD, S_A | S_E | RCV),
	B("duplicate receiver", "{" SND REC TYPE MSG ",\"receiver\":\"other\"}", BAD_FIELD, S_A | S_E | TYP),
	B("duplicate receiver, same value", "{" SND REC REC TYPE MSG "}", BAD_FIELD, S_A | S_E | TYP),
	B("duplicate message", "{" SND REC TYPE MSG "," MSG "}", BAD_FIELD, ALL),
	B("duplicate sender_actor", "{" SND REC TYPE MSG ",\"sender_actor\":\"evil\"}", BAD_FIELD, S_E | RCV | TYP),
	B("duplicate unknown key", "{\"x\":1," SND REC TYPE MSG ",\"x\":2}", BAD_FIELD, ALL),
	B("\\u0000 in receiver", "{" SND "\"receiver\":\"pong\\u0000x\"," TYPE MSG "}", BAD_FIELD, 0),
	B("\\u0000 in a top-level key", "{" SND REC TYPE MSG ",\"a\\u0000\":1}", BAD_FIELD, 0),
	B("\\u0000 inside message", "{" SND REC TYPE "\"message\":{\"s\":\"a\\u0000b\"}}", BAD_FIELD, ALL),
	B("duplicate unknown key spelled with an escape", "{\"x\":1," SND REC TYPE MSG ",\"\\u0078\":2}", BAD_FIELD, ALL),
	B("receiver again, spelled with an escape", "{" SND REC TYPE MSG ",\"\\u0072eceiver\":\"x\"}", BAD_FIELD, S_A | S_E | TYP),
	B("keys equal up to a \\u0000", "{" SND REC TYPE MSG ",\"a\\u0000b\":1,\"a\\u0000c\":2}", BAD_FIELD, 0),
	B("a key reading as receiver up to a \\u0000", "{" SND REC TYPE MSG ",\"receiver\\u0000x\":1}", BAD_FIELD, 0),
	B("\\u0000 in a key inside message", "{" SND REC TYPE "\"message\":{\"a\\u0000\":1}}", BAD_FIELD, ALL),
	B("\\u0000 in message_type", "{" SND REC "\"message_type\":\"\\u0000\"," MSG "}", BAD_FIELD, 0),
	B("error after invalid UTF-8 in a later string", "{" SND REC "x\"message_type\":\"\xFF\"}", NOT_UTF8, 0),
	B("a bad number before invalid UTF-8", "{\"a\":01,\"b\":\"\xC3\"}", NOT_UTF8, 0),
	B("truncated after a number", "{" SND REC TYPE "\"message\":{\"n\":1e5", BAD_JSON, 0),
	B("truncated after a huge number", "{" SND REC TYPE "\"message\":{\"n\":1e999", BAD_JSON, 0),
	B("message closed as an array", "{" SND REC TYPE "\"message\":{\"n\":1]}", BAD_JSON, 0),
};

/* ---- generated bad frames: sizes and limits ---------------------------------- */

static void generated_bad(void)
{
	struct act__wire_limits lim;
	struct sb b = { 0 };

	act__wire_limits_default(&lim);

	/* Too big: one byte over, and far over (never scanned). */
	sb_puts(&b, GOOD);
	sb_rep(&b, " ", lim.max_frame + 1 - b.n);
	bad_sb("1 MiB + 1 byte", &b, ACT__WIRE_TOO_BIG, 0);
	{
		static const char small[] = GOOD;
		struct act__wire_limits tiny = lim;
		tiny.max_frame = sizeof small - 2;
		bad("one byte over a custom max_frame", small, sizeof small - 1, &tiny,
		    ACT__WIRE_TOO_BIG, 0);
	}

	/* Too deep: 1 (envelope) + 1 (message) + 31 = 33 > 32. */
	sb_puts(&b, "{" SND REC TYPE "\"message\":{\"a\":");
	sb_rep(&b, "[", 31);
	sb_rep(&b, "]", 31);
	sb_puts(&b, "}}");
	bad_sb("33 levels of arrays", &b, ACT__WIRE_TOO_DEEP, 0);
	sb_puts(&b, "{" SND REC TYPE "\"message\":");
	sb_rep(&b, "{\"a\":", 32);
	sb_puts(&b, "1");
	sb_rep(&b, "}", 32);
	sb_puts(&b, "}");
	bad_sb("33 levels of objects", &b, ACT__WIRE_TOO_DEEP, 0);
	sb_puts(&b, "{" SND REC TYPE MSG ",\"extra\":");
	sb_rep(&b, "[{\"a\":", 16);
	sb_puts(&b, "1");
	sb_rep(&b, "}]", 16);
	sb_puts(&b, "}");
	bad_sb("33 levels in an ignored extra field", &b, ACT__WIRE_TOO_DEEP, 0);
	sb_rep(&b, "[", 100000);
	bad_sb("100000 open brackets, never closed", &b, ACT__WIRE_TOO_DEEP, 0);
	sb_rep(&b, "{\"a\":", 100000);
	bad_sb("100000 open objects, never closed", &b, ACT__WIRE_TOO_DEEP, 0);
	{
		struct act__wire_limits huge = lim;
		huge.max_depth = 5000; /* capped at cJSON's 1000 */
		sb_rep(&b, "[", ACT__WIRE_DEPTH_CAP + 1);
		sb_rep(&b, "]", ACT__WIRE_DEPTH_CAP + 1);
		bad("1001 levels with max_depth 5000 (capped)", b.p, b.n, &huge,
		    ACT__WIRE_TOO_DEEP, 0);
		free(b.p);
		memset(&b, 0, sizeof b);
	}

	/* Too long: decoded bytes count, not the escaped text. */
	sb_puts(&b, "{" SND "\"receiver\":\"");
	sb_rep(&b, "p", lim.max_string + 1);
	sb_puts(&b, "\"," TYPE MSG "}");
	bad_sb("receiver of 65537 bytes", &b, ACT__WIRE_TOO_LONG, S_A | S_E | TYP);
	sb_puts(&b, "{\"sender_actor\":\"");
	sb_rep(&b, "p", lim.max_string + 1);
	sb_puts(&b, "\",\"sender_endpoint\":\"tcp://localhost:5002\"," REC TYPE MSG "}");
	bad_sb("sender_actor of 65537 bytes", &b, ACT__WIRE_TOO_LONG, S_E | RCV | TYP);
	sb_puts(&b, "{" SND REC TYPE "\"message\":{\"s\":[\"");
	sb_rep(&b, "x", lim.max_string + 1);
	sb_puts(&b, "\"]}}");
	bad_sb("string of 65537 bytes in an array in message", &b, ACT__WIRE_TOO_LONG, ALL);
	sb_puts(&b, "{" SND REC TYPE "\"message\":{\"");
	sb_rep(&b, "k", lim.max_string + 1);
	sb_puts(&b, "\":1}}");
	bad_sb("key of 65537 bytes in message", &b, ACT__WIRE_TOO_LONG, ALL);
	sb_puts(&b, "{" SND REC TYPE MSG ",\"");
	sb_rep(&b, "k", lim.max_string + 1);
	sb_puts(&b, "\":1}");
	bad_sb("top-level extra key of 65537 bytes", &b, ACT__WIRE_TOO_LONG, ALL);
	sb_puts(&b, "{" SND REC TYPE "\"message\":{\"s\":\"");
	sb_rep(&b, "\\u00e9", lim.max_string / 2 + 1); /* 2 bytes each in UTF-8 */
	sb_puts(&b, "\"}}");
	bad_sb("string of 65538 decoded bytes from \\u escapes", &b, ACT__WIRE_TOO_LONG, ALL);
	sb_puts(&b, "{" SND REC TYPE "\"message\":{\"n\":");
	sb_rep(&b, "1", ACT__WIRE_NUMBER_CAP + 1);
	sb_puts(&b, "}}");
	bad_sb("number token of 64 characters", &b, ACT__WIRE_TOO_LONG, 0);

	/* Too many fields. */
	sb_puts(&b, "{" SND REC TYPE MSG);
	for (unsigned i = 0; i < lim.max_fields + 1 - 5; i++) {
		char f[32];
		snprintf(f, sizeof f, ",\"x%u\":%u", i, i);
		sb_puts(&b, f);
	}
	sb_puts(&b, "}");
	bad_sb("envelope with 257 members", &b, ACT__WIRE_TOO_MANY_FIELDS, ALL);
	sb_puts(&b, "{" SND REC TYPE "\"message\":{\"y\":0");
	for (unsigned i = 0; i < lim.max_fields; i++) {
		char f[32];
		snprintf(f, sizeof f, ",\"f%u\":%u", i, i);
		sb_puts(&b, f);
	}
	sb_puts(&b, "}}");
	bad_sb("message with 257 fields", &b, ACT__WIRE_TOO_MANY_FIELDS, ALL);
	sb_puts(&b, "{" SND REC TYPE "\"message\":{\"list\":[1,{\"y\":0");
	for (unsigned i = 0; i < lim.max_fields; i++) {
		char f[32];
		snprintf(f, sizeof f, ",\"f%u\":null", i);
		sb_puts(&b, f);
	}
	sb_puts(&b, "}]}}");
	bad_sb("object of 257 members in an array in message", &b, ACT__WIRE_TOO_MANY_FIELDS, ALL);
}

/* ---- valid frames ---------------------------------------------------------- */

static const char protocol_example[] =
	"{\n"
	"  \"sender_actor\": \"ping\",\n"
	"  \"sender_endpoint\": \"tcp://localhost:5002\",\n"
	"  \"receiver\": \"pong\",\n"
	"  \"message_type\": \"Ping\",\n"
	"  \"message\": {\"count\": 1}\n"
	"}\n";

/* Parses a valid frame and checks its fields (want_* NULL = must be NULL). */
static void good(const char *name, const void *data, size_t len,
                 const struct act__wire_limits *lim,
                 const char *rcv, const char *type,
                 const char *sa, const char *se, const char *msg_json)
{
	struct act__wire_env env;
	char err[200];
	enum act__wire_err e;
	cJSON *want = cJSON_Parse(msg_json);
	int fine;

	if (!want)
		bail("bad expected message in test %s", name);
	e = parse_exact(data, len, lim, &env, err, sizeof err);
	fine = e == ACT__WIRE_OK && view_ok && same(env.receiver, rcv) && same(env.message_type, type) &&
	       same(env.sender_actor, sa) && same(env.sender_endpoint, se) &&
	       env.message && cJSON_Compare(env.message, want, 1) && env.root;
	ok(fine, "good frame: %s", name);
	if (!fine)
		diag("got %s \"%s\"", act__wire_err_name(e), err);
	act__wire_env_free(&env);
	cJSON_Delete(want);
}

static void good_sb(const char *name, struct sb *b, const char *msg_json)
{
	good(name, b->p, b->n, NULL, "pong", "Ping", "ping", "tcp://localhost:5002", msg_json);
	free(b->p);
	memset(b, 0, sizeof *b);
}

#define GOOD_LIT(name, lit, r, t, sa, se, m) good(name, lit, sizeof(lit) - 1, NULL, r, t, sa, se, m)

static void valid_frames(void)
{
	struct act__wire_limits lim;
	struct sb b = { 0 };

	act__wire_limits_default(&lim);

	GOOD_LIT("the example of PROTOCOL.md", protocol_example,
	         "pong", "Ping", "ping", "tcp://localhost:5002", "{\"count\":1}");
	GOOD_LIT("the Python README's field order",
	         "{\"message_type\":\"Ping\",\"receiver\":\"pong_actor\",\"sender_actor\":\"ping_actor\","
	         "\"sender_endpoint\":\"tcp://localhost:5001\",\"message\":{\"count\":42}}",
	         "pong_actor", "Ping", "ping_actor", "tcp://localhost:5001", "{\"count\":42}");
	GOOD_LIT("message first, senders last",
	         "{" MSG "," TYPE REC "\"sender_endpoint\":\"tcp://localhost:5002\",\"sender_actor\":\"ping\"}",
	         "pong", "Ping", "ping", "tcp://localhost:5002", "{\"count\":1}");
	GOOD_LIT("extra fields of every kind are ignored",
	         "{\"version\":1,\"trace\":{\"id\":[1,2,{\"x\":null}]}," SND REC TYPE MSG
	         ",\"z\":\"\",\"t\":true,\"n\":null}",
	         "pong", "Ping", "ping", "tcp://localhost:5002", "{\"count\":1}");
	GOOD_LIT("null senders",
	         "{\"sender_actor\":null,\"sender_endpoint\":null," REC TYPE MSG "}",
	         "pong", "Ping", NULL, NULL, "{\"count\":1}");
	GOOD_LIT("absent senders", "{" REC TYPE MSG "}",
	         "pong", "Ping", NULL, NULL, "{\"count\":1}");
	GOOD_LIT("empty sender strings read as absent",
	         "{\"sender_actor\":\"\",\"sender_endpoint\":\"\"," REC TYPE MSG "}",
	         "pong", "Ping", NULL, NULL, "{\"count\":1}");
	GOOD_LIT("sender_actor without sender_endpoint",
	         "{\"sender_actor\":\"ping\"," REC TYPE MSG "}",
	         "pong", "Ping", "ping", NULL, "{\"count\":1}");
	GOOD_LIT("empty message", "{" REC TYPE "\"message\":{}}",
	         "pong", "Ping", NULL, NULL, "{}");
	GOOD_LIT("unicode escapes",
	         "{\"receiver\":\"p\\u00f6ng\",\"message_type\":\"\\u0050ing\","
	         "\"sender_actor\":\"\\ud83d\\ude00\",\"message\":{\"s\":\"\\u20AC \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t\"}}",
	         "p\xC3\xB6ng", "Ping", "\xF0\x9F\x98\x80", NULL,
	         "{\"s\":\"\xE2\x82\xAC \\\"q\\\" \\\\ / \\b\\f\\n\\r\\t\"}");
	GOOD_LIT("raw UTF-8 of 2, 3 and 4 bytes",
	         "{\"receiver\":\"p\xC3\xB6ng\",\"message_type\":\"\xE2\x82\xAC\",\"message\":{\"s\":\"\xF4\x8F\xBF\xBF\"}}",
	         "p\xC3\xB6ng", "\xE2\x82\xAC", NULL, NULL, "{\"s\":\"\xF4\x8F\xBF\xBF\"}");
	GOOD_LIT("whitespace everywhere JSON allows it",
	         " \r\n\t{ \"receiver\" : \"pong\" ,\n\"message_type\"\t:\"Ping\", \"message\" : { \"a\" : [ 1 , 2 ] } }\r\n ",
	         "pong", "Ping", NULL, NULL, "{\"a\":[1,2]}");
	GOOD_LIT("numbers in every RFC 8259 spelling",
	         "{" REC TYPE "\"message\":{\"a\":[0,-0,12,-3.25,1e5,1E+5,2.5e-3,-0.0e0]}}",
	         "pong", "Ping", NULL, NULL, "{\"a\":[0,0,12,-3.25,1e5,1e5,0.0025,0]}");
	GOOD_LIT("brackets and quotes inside strings are not structure",
	         "{" SND REC TYPE "\"message\":{\"s\":\"[[[[{{{{\\\"]]]}}}\",\"t\":\"\\\\\"}}",
	         "pong", "Ping", "ping", "tcp://localhost:5002", "{\"s\":\"[[[[{{{{\\\"]]]}}}\",\"t\":\"\\\\\"}");
	{
		static const char dup[] = "{" REC TYPE "\"message\":{\"a\":1,\"a\":2}}";
		struct act__wire_env env;
		enum act__wire_err e = parse_exact(dup, sizeof dup - 1, NULL, &env, NULL, 0);
		ok(e == ACT__WIRE_OK && cJSON_GetArraySize(env.message) == 2,
		   "good frame: duplicate keys inside message are the codec's business");
		act__wire_env_free(&env);
	}
	GOOD_LIT("message_type Reject parses like any other",
	         "{" REC "\"message_type\":\"Reject\",\"message\":{\"message_type\":\"Ping\","
	         "\"reason\":\"r\",\"rejected_by\":\"pong\"}}",
	         "pong", "Reject", NULL, NULL,
	         "{\"message_type\":\"Ping\",\"reason\":\"r\",\"rejected_by\":\"pong\"}");

	/* Limits are inclusive. */
	{
		struct sb w = { 0 };
		sb_puts(&w, "{\"a\":");
		sb_rep(&w, "[", 30);
		sb_rep(&w, "]", 30);
		sb_puts(&w, "}");
		sb_puts(&b, "{" SND REC TYPE "\"message\":");
		sb_puts(&b, w.p);
		sb_puts(&b, "}");
		good_sb("exactly 32 levels", &b, w.p);
		free(w.p);
	}
	sb_puts(&b, "{" SND REC TYPE "\"message\":{\"s\":\"");
	sb_rep(&b, "[{", 10000);
	sb_puts(&b, "\"}}");
	{
		struct sb w = { 0 };
		sb_puts(&w, "{\"s\":\"");
		sb_rep(&w, "[{", 10000);
		sb_puts(&w, "\"}");
		good_sb("20000 brackets inside a string do not nest", &b, w.p);
		free(w.p);
	}
	{
		struct sb w = { 0 };
		sb_puts(&b, "{" SND REC TYPE "\"message\":{\"s\":\"");
		sb_rep(&b, "\\u00e9", lim.max_string / 2);
		sb_puts(&b, "\"}}");
		sb_puts(&w, "{\"s\":\"");
		sb_rep(&w, "\xC3\xA9", lim.max_string / 2);
		sb_puts(&w, "\"}");
		good_sb("string of exactly 65536 decoded bytes", &b, w.p);
		free(w.p);
	}
	{
		struct sb w = { 0 };
		sb_puts(&b, "{" SND REC TYPE "\"message\":{\"f0\":0");
		sb_puts(&w, "{\"f0\":0");
		for (unsigned i = 1; i < lim.max_fields; i++) {
			char f[32];
			snprintf(f, sizeof f, ",\"f%u\":%u", i, i);
			sb_puts(&b, f);
			sb_puts(&w, f);
		}
		sb_puts(&b, "}");
		for (unsigned i = 0; i < lim.max_fields - 5; i++) {
			char f[32];
			snprintf(f, sizeof f, ",\"x%u\":%u", i, i);
			sb_puts(&b, f);
		}
		sb_puts(&b, "}");
		sb_puts(&w, "}");
		good_sb("256 envelope members and 256 message fields", &b, w.p);
		free(w.p);
	}
	sb_puts(&b, GOOD);
	sb_rep(&b, "\n", lim.max_frame - b.n);
	good_sb("frame of exactly 1 MiB", &b, "{\"count\":1}");
	sb_puts(&b, "{" SND REC TYPE "\"message\":{\"n\":");
	sb_rep(&b, "1", ACT__WIRE_NUMBER_CAP);
	sb_puts(&b, "}}");
	{
		cJSON *m = NULL;
		struct act__wire_env env;
		enum act__wire_err e = parse_exact(b.p, b.n, NULL, &env, NULL, 0);
		m = e == ACT__WIRE_OK ? cJSON_GetObjectItemCaseSensitive(env.message, "n") : NULL;
		ok(m && cJSON_IsNumber(m) && m->valuedouble > 1e62,
		   "good frame: number token of 63 characters (cJSON's limit)");
		act__wire_env_free(&env);
		free(b.p);
		memset(&b, 0, sizeof b);
	}
	{
		struct act__wire_limits huge = lim;
		struct act__wire_env env;
		huge.max_depth = 5000;
		sb_puts(&b, "{" REC TYPE "\"message\":{\"a\":");
		sb_rep(&b, "[", ACT__WIRE_DEPTH_CAP - 2);
		sb_rep(&b, "]", ACT__WIRE_DEPTH_CAP - 2);
		sb_puts(&b, "}}");
		ok(parse_exact(b.p, b.n, &huge, &env, NULL, 0) == ACT__WIRE_OK,
		   "good frame: 1000 levels with max_depth 5000 (cJSON accepts them)");
		act__wire_env_free(&env);
		free(b.p);
		memset(&b, 0, sizeof b);
	}
}

/* ---- the view's own behaviour ------------------------------------------------- */

/* An envelope whose names are the given letter repeated n times (0: absent). */
static void named(struct sb *b, size_t n_rcv, size_t n_type, size_t n_sa, size_t n_se)
{
	const size_t n[4] = { n_rcv, n_type, n_sa, n_se };
	static const char *const key[4] = {
		"receiver", "message_type", "sender_actor", "sender_endpoint",
	};

	sb_puts(b, "{");
	for (int k = 0; k < 4; k++) {
		if (!n[k])
			continue;
		sb_puts(b, "\"");
		sb_puts(b, key[k]);
		sb_puts(b, "\":\"");
		for (size_t i = 0; i < n[k]; i++)
			sb_put(b, &"rtae"[k], 1);
		sb_puts(b, "\",");
	}
	sb_puts(b, MSG "}");
}

static int all_of(const char *s, char c, size_t n)
{
	if (!s || strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] != c)
			return 0;
	return 1;
}

static void views(void)
{
	static const char *const names[4] = {
		"receiver", "message_type", "sender_actor", "sender_endpoint",
	};
	struct act__wire_view v;
	struct act__wire_env env;
	struct sb b = { 0 };
	char err[200], want[64];
	enum act__wire_err e;
	const char *msg;
	int fine;

	e = act__wire_parse_view(protocol_example, sizeof protocol_example - 1, NULL, &v,
	                         err, sizeof err);
	msg = strstr(protocol_example, "{\"count\"");
	ok(e == ACT__WIRE_OK && !err[0] && same(v.receiver, "pong") && same(v.message_type, "Ping") &&
	   same(v.sender_actor, "ping") && same(v.sender_endpoint, "tcp://localhost:5002") &&
	   v.message_text == msg && v.message_len == strlen("{\"count\": 1}") && !v.number_overflow,
	   "view of the PROTOCOL.md example: names, and the message as the peer wrote it, in the frame");

	/* Names: ACT__WIRE_NAME_MAX bytes fit, one more is too long (the tree path takes it). */
	for (int k = 0; k < 4; k++) {
		size_t n[4] = { 4, 4, 4, 4 };
		const char *got[4];

		n[k] = ACT__WIRE_NAME_MAX;
		named(&b, n[0], n[1], n[2], n[3]);
		e = act__wire_parse_view(b.p, b.n, NULL, &v, err, sizeof err);
		got[0] = v.receiver, got[1] = v.message_type;
		got[2] = v.sender_actor, got[3] = v.sender_endpoint;
		ok(e == ACT__WIRE_OK && all_of(got[k], "rtae"[k], ACT__WIRE_NAME_MAX),
		   "view: %s of %u bytes fits", names[k], ACT__WIRE_NAME_MAX);
		free(b.p);
		memset(&b, 0, sizeof b);

		n[k] = ACT__WIRE_NAME_MAX + 1;
		named(&b, n[0], n[1], n[2], n[3]);
		e = act__wire_parse_view(b.p, b.n, NULL, &v, err, sizeof err);
		got[0] = v.receiver, got[1] = v.message_type;
		got[2] = v.sender_actor, got[3] = v.sender_endpoint;
		snprintf(want, sizeof want, "field \"%s\" longer than %u bytes", names[k],
		         ACT__WIRE_NAME_MAX);
		fine = e == ACT__WIRE_TOO_LONG && !strcmp(err, want) && !got[k] && !v.message_text;
		for (int j = 0; j < 4; j++)
			if (j != k)
				fine = fine && all_of(got[j], "rtae"[j], 4);
		ok(fine && parse_exact(b.p, b.n, NULL, &env, NULL, 0) == ACT__WIRE_OK && view_ok,
		   "view: %s of %u bytes is too_long (\"%s\"), the other names are still read; "
		   "the tree path accepts it", names[k], ACT__WIRE_NAME_MAX + 1, err);
		act__wire_env_free(&env);
		free(b.p);
		memset(&b, 0, sizeof b);
	}
	{
		/* A name over a small max_string is too_long in both, in the tree's words. */
		struct act__wire_limits l;
		act__wire_limits_default(&l);
		l.max_string = 3;
		e = act__wire_parse_view(GOOD, sizeof GOOD - 1, &l, &v, err, sizeof err);
		ok(e == ACT__WIRE_TOO_LONG && !strcmp(err, "key longer than 3 bytes") &&
		   !v.sender_actor && !v.receiver,
		   "view: max_string 3 refuses keys and names (and does not hand them out)");
		ok(parse_exact(GOOD, sizeof GOOD - 1, &l, &env, err, sizeof err) == ACT__WIRE_TOO_LONG &&
		   view_ok, "view: ... as the tree path does");
		act__wire_env_free(&env);
	}

	/* Numbers that cJSON would make infinite. */
	{
		static const struct { const char *tok; int inf; } nums[] = {
			{ "1e999", 1 }, { "-1e999", 1 }, { "1E+309", 1 }, { "1e308", 0 },
			{ "1.7976931348623157e308", 0 }, { "1.7976931348623158e308", 0 },
			{ "1.7976931348623159e308", 1 }, { "-1.7976931348623159e308", 1 },
			{ "0.0001e312", 0 }, { "0.001e312", 1 }, { "0.00000e99999", 0 },
			{ "0e999", 0 }, { "1e-999", 0 }, { "123456789012345678901234567890e280", 1 },
			{ "123456789012345678901234567890e278", 0 }, { "17976931348623157e292", 0 },
			{ "17976931348623159e292", 1 }, { "1e99999999999999999999999999", 1 },
			{ "1e-99999999999999999999999999", 0 }, { "179769313486231570000", 0 },
		};
		int all = 1;

		for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
			sb_puts(&b, "{" REC TYPE "\"message\":{\"a\":[1,{\"n\":");
			sb_puts(&b, nums[i].tok);
			sb_puts(&b, "}]}}");
			e = parse_exact(b.p, b.n, NULL, &env, NULL, 0);
			act__wire_env_free(&env);
			if (e != ACT__WIRE_OK || !view_ok ||
			    act__wire_parse_view(b.p, b.n, NULL, &v, NULL, 0) != ACT__WIRE_OK ||
			    v.number_overflow != nums[i].inf) {
				diag("number %s: overflow %d, want %d", nums[i].tok, v.number_overflow,
				     nums[i].inf);
				all = 0;
			}
			free(b.p);
			memset(&b, 0, sizeof b);
		}
		ok(all, "view: number_overflow exactly for the %zu numbers beyond a double",
		   sizeof nums / sizeof nums[0]);
		e = act__wire_parse_view("{" REC TYPE "\"x\":1e999," MSG "}",
		                         sizeof("{" REC TYPE "\"x\":1e999," MSG "}") - 1, NULL, &v, NULL, 0);
		ok(e == ACT__WIRE_OK && !v.number_overflow,
		   "view: a huge number outside message does not count");
	}

	/* Many unknown envelope keys (the view keeps them beyond its own 16). */
	sb_puts(&b, "{" SND REC TYPE MSG);
	for (unsigned i = 0; i < 100; i++) {
		char f[32];
		snprintf(f, sizeof f, ",\"k%u\":%u", i, i);
		sb_puts(&b, f);
	}
	sb_puts(&b, "}");
	good_sb("100 unknown envelope keys", &b, "{\"count\":1}");
	sb_puts(&b, "{" SND REC TYPE MSG);
	for (unsigned i = 0; i < 100; i++) {
		char f[32];
		snprintf(f, sizeof f, ",\"k%u\":%u", i, i);
		sb_puts(&b, f);
	}
	sb_puts(&b, ",\"k\\u0037\\u0037\":0}");
	bad_sb("100 unknown envelope keys, the 78th twice", &b, ACT__WIRE_BAD_FIELD, ALL);

	GOOD_LIT("field keys spelled with escapes",
	         "{\"\\u0072eceiver\":\"pong\",\"message\\u005ftype\":\"Ping\",\"\\u006dessage\":{}}",
	         "pong", "Ping", NULL, NULL, "{}");
	GOOD_LIT("escapes decoded in every name",
	         "{\"receiver\":\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00\",\"message_type\":\"T\\u0001\","
	         "\"sender_actor\":\"\\b\\f\\r\",\"sender_endpoint\":\"tcp://\\u006cocalhost:1\",\"message\":{}}",
	         "a\"b\\c/d\n\t\xC3\xA9\xF0\x9F\x98\x80", "T\x01", "\b\f\r", "tcp://localhost:1", "{}");

	ok(act__wire_parse_view(NULL, 0, NULL, &v, NULL, 0) == ACT__WIRE_BAD_JSON && !v.receiver &&
	   !v.message_text, "view: NULL, 0 is an empty frame; err may be NULL");
	{
		static const char buf[] = GOOD "garbage after the frame";
		e = act__wire_parse_view(buf, sizeof GOOD - 1, NULL, &v, NULL, 0);
		ok(e == ACT__WIRE_OK && same(v.receiver, "pong") &&
		   v.message_text + v.message_len == buf + sizeof GOOD - 2,
		   "view: only len bytes are read (a prefix of a longer buffer parses)");
	}
}

/* ---- how fast ---------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * ns per frame of the gateway's old path (parse, exact numbers, print the
 * message), of parse and print alone, and of the view.  Each runs for
 * 0.2 s whatever the machine (or valgrind) makes of it.
 */
static void speed(const char *what, const char *frame, size_t len)
{
	static const char *const mode[3] = {
		"parse+print", "parse+exact_numbers+print", "parse_view",
	};
	double ns[3];
	size_t sink = 0;

	for (int m = 0; m < 3; m++) {
		double t0 = now_s(), dt;
		long n = 0;

		do {
			for (int k = 0; k < 256; k++) {
				struct act__wire_env env;
				struct act__wire_view v;
				char *j;

				if (m == 2) {
					if (act__wire_parse_view(frame, len, NULL, &v, NULL, 0) == ACT__WIRE_OK)
						sink += v.message_len;
					continue;
				}
				if (act__wire_parse(frame, len, NULL, &env, NULL, 0) == ACT__WIRE_OK) {
					if (m == 1)
						act__json_exact_numbers((cJSON *)env.message);
					j = cJSON_PrintUnformatted(env.message);
					sink += j ? strlen(j) : 0;
					free(j);
				}
				act__wire_env_free(&env);
			}
			n += 256;
		} while ((dt = now_s() - t0) < 0.2);
		ns[m] = dt * 1e9 / (double)n;
	}
	diag("%s (%zu bytes): %s %.0f ns, %s %.0f ns, %s %.0f ns per frame (%.1fx faster)",
	     what, len, mode[0], ns[0], mode[1], ns[1], mode[2], ns[2], ns[1] / ns[2]);
	if (!sink)
		diag("nothing parsed?");
}

/* ---- API details ----------------------------------------------------------- */

static void api_details(void)
{
	struct act__wire_env env;
	char err[16];
	enum act__wire_err e;
	int distinct = 1;

	for (int i = 0; i < ACT__WIRE_N_ERRS; i++)
		for (int j = 0; j < i; j++)
			if (!strcmp(act__wire_err_name(i), act__wire_err_name(j)))
				distinct = 0;
	ok(distinct && !strcmp(act__wire_err_name(ACT__WIRE_OK), "ok") &&
	   !strcmp(act__wire_err_name(ACT__WIRE_TOO_MANY_FIELDS), "too_many_fields") &&
	   !strcmp(act__wire_err_name(ACT__WIRE_N_ERRS), "unknown") &&
	   !strcmp(act__wire_err_name((enum act__wire_err)-1), "unknown"),
	   "err names are distinct, stable and total");

	e = act__wire_parse("[", 1, NULL, &env, NULL, 0);
	ok(e == ACT__WIRE_BAD_JSON && !env.root, "err may be NULL; nothing kept on a scan error");
	act__wire_env_free(&env);
	act__wire_env_free(&env);
	act__wire_env_free(NULL);

	e = act__wire_parse("[", 1, NULL, &env, err, sizeof err);
	ok(e == ACT__WIRE_BAD_JSON && strlen(err) == sizeof err - 1,
	   "a long reason is truncated and terminated (\"%s\")", err);
	act__wire_env_free(&env);

	e = act__wire_parse(NULL, 0, NULL, &env, err, sizeof err);
	ok(e == ACT__WIRE_BAD_JSON && !env.root, "NULL, 0 is an empty frame");

	{
		/* Not NUL-terminated: the frame is a prefix of a larger buffer. */
		static const char buf[] = GOOD "garbage after the frame";
		e = act__wire_parse(buf, sizeof GOOD - 1, NULL, &env, NULL, 0);
		ok(e == ACT__WIRE_OK && same(env.receiver, "pong"),
		   "only len bytes are read (a prefix of a longer buffer parses)");
		act__wire_env_free(&env);
	}
	{
		struct act__wire_limits l;
		act__wire_limits_default(&l);
		ok(l.max_frame == 1048576 && l.max_depth == 32 && l.max_string == 65536 &&
		   l.max_fields == 256, "default limits are 1 MiB, 32, 65536, 256");
		l.max_depth = 2;
		e = act__wire_parse(GOOD, sizeof GOOD - 1, &l, &env, NULL, 0);
		ok(e == ACT__WIRE_OK, "max_depth 2 takes the envelope and a flat message");
		act__wire_env_free(&env);
		e = act__wire_parse("{" REC TYPE "\"message\":{\"a\":{}}}",
		                    sizeof("{" REC TYPE "\"message\":{\"a\":{}}}") - 1, &l, &env, NULL, 0);
		ok(e == ACT__WIRE_TOO_DEEP, "max_depth 2 refuses an object in the message");
		act__wire_env_free(&env);
		act__wire_limits_default(&l);
		l.max_string = 3;
		e = act__wire_parse(GOOD, sizeof GOOD - 1, &l, &env, NULL, 0);
		ok(e == ACT__WIRE_TOO_LONG && !env.sender_actor && !env.receiver,
		   "max_string 3 refuses names (and does not hand them out)");
		act__wire_env_free(&env);
	}
}

static void utf8(void)
{
	static const struct { const char *s; size_t n; int valid; } v[] = {
		{ "", 0, 1 },
		{ "\x00", 1, 1 },
		{ "\x7F", 1, 1 },
		{ "\xC2\x80", 2, 1 },              /* U+0080 */
		{ "\xDF\xBF", 2, 1 },              /* U+07FF */
		{ "\xE0\xA0\x80", 3, 1 },          /* U+0800 */
		{ "\xED\x9F\xBF", 3, 1 },          /* U+D7FF */
		{ "\xEE\x80\x80", 3, 1 },          /* U+E000 */
		{ "\xEF\xBF\xBF", 3, 1 },          /* U+FFFF */
		{ "\xF0\x90\x80\x80", 4, 1 },      /* U+10000 */
		{ "\xF4\x8F\xBF\xBF", 4, 1 },      /* U+10FFFF */
		{ "\x80", 1, 0 },
		{ "\xBF", 1, 0 },
		{ "\xC0\x80", 2, 0 },
		{ "\xC1\xBF", 2, 0 },
		{ "\xE0\x9F\xBF", 3, 0 },          /* overlong U+07FF */
		{ "\xED\xA0\x80", 3, 0 },          /* U+D800 */
		{ "\xED\xBF\xBF", 3, 0 },          /* U+DFFF */
		{ "\xF0\x8F\xBF\xBF", 4, 0 },      /* overlong U+FFFF */
		{ "\xF4\x90\x80\x80", 4, 0 },      /* U+110000 */
		{ "\xF8\x88\x80\x80\x80", 5, 0 },  /* 5-byte form */
		{ "\xC2", 1, 0 },
		{ "\xE2\x82", 2, 0 },
		{ "\xF0\x9F\x98", 3, 0 },
		{ "\xE2\x28\xA1", 3, 0 },
	};
	int all = 1;

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		if (act__utf8_valid(v[i].s, v[i].n) != v[i].valid) {
			diag("utf8 case %zu: expected %d", i, v[i].valid);
			all = 0;
		}
	}
	ok(all, "act__utf8_valid: %zu boundary cases", sizeof v / sizeof v[0]);
	ok(act__utf8_valid("\xE2\x82\xAC", 2) == 0 && act__utf8_valid("\xE2\x82\xAC", 3),
	   "act__utf8_valid reads exactly len bytes");
}

/* ---- encode, reject, normalise --------------------------------------------- */

static void round_trip(const char *name, const char *rcv, const char *type, const char *msg,
                       const char *sa, const char *se)
{
	struct act__wire_env env;
	size_t n = 0;
	char *text = act__wire_encode(rcv, type, msg, sa, se, &n);
	cJSON *want = cJSON_Parse(msg);
	int fine = text && n == strlen(text) &&
	           act__wire_parse(text, n, NULL, &env, NULL, 0) == ACT__WIRE_OK &&
	           same(env.receiver, rcv) && same(env.message_type, type) &&
	           same(env.sender_actor, sa) && same(env.sender_endpoint, se) &&
	           cJSON_Compare(env.message, want, 1);

	ok(fine, "encode -> parse round trip: %s", name);
	if (!fine)
		diag("text: %s", text ? text : "(NULL)");
	if (text)
		act__wire_env_free(&env);
	cJSON_Delete(want);
	free(text);
}

static void encoding(void)
{
	char *t;
	size_t n = 0;

	t = act__wire_encode("pong", "Ping", "{\"count\":1}", "ping", "tcp://localhost:5002", &n);
	ok(t && !strcmp(t, "{\"sender_actor\":\"ping\",\"sender_endpoint\":\"tcp://localhost:5002\","
	                   "\"receiver\":\"pong\",\"message_type\":\"Ping\",\"message\":{\"count\":1}}") &&
	   n == strlen(t), "encode writes the PROTOCOL.md envelope compactly");
	free(t);
	t = act__wire_encode("pong", "Ping", " \n{ \"count\" : 1 }\t ", NULL, NULL, NULL);
	ok(t && !strcmp(t, "{\"sender_actor\":null,\"sender_endpoint\":null,"
	                   "\"receiver\":\"pong\",\"message_type\":\"Ping\",\"message\":{ \"count\" : 1 }}"),
	   "encode writes null senders and trims whitespace around the message");
	free(t);

	round_trip("plain", "pong", "Ping", "{\"count\":1}", "ping", "tcp://localhost:5002");
	round_trip("no senders", "pong", "Ping", "{}", NULL, NULL);
	round_trip("names that need escaping", "a\"b\\c\n\t\x01\x1f\x7f", "T\xC3\xB6\xF0\x9F\x98\x80",
	           "{\"nested\":{\"l\":[1,\"x\",null,true,{\"k\":-2.5e3}]},\"u\":\"\\u00e9\"}",
	           "s/\"a\"", "tcp://[::1]:5002");

	ok(!act__wire_encode("", "Ping", "{}", NULL, NULL, NULL) &&
	   !act__wire_encode(NULL, "Ping", "{}", NULL, NULL, NULL) &&
	   !act__wire_encode("pong", "", "{}", NULL, NULL, NULL) &&
	   !act__wire_encode("pong", "Ping", NULL, NULL, NULL, NULL),
	   "encode refuses empty or NULL names and a NULL message");
	ok(!act__wire_encode("p\xFFng", "Ping", "{}", NULL, NULL, NULL) &&
	   !act__wire_encode("pong", "Ping", "{}", "\xC0\xAF", NULL, NULL) &&
	   !act__wire_encode("pong", "Ping", "{}", NULL, "\xED\xA0\x80", NULL) &&
	   !act__wire_encode("pong", "Ping", "{\"s\":\"\x80\"}", NULL, NULL, NULL),
	   "encode refuses invalid UTF-8 anywhere");
	ok(!act__wire_encode("pong", "Ping", "[1]", NULL, NULL, NULL) &&
	   !act__wire_encode("pong", "Ping", "1", NULL, NULL, NULL) &&
	   !act__wire_encode("pong", "Ping", "{", NULL, NULL, NULL) &&
	   !act__wire_encode("pong", "Ping", "{}x", NULL, NULL, NULL) &&
	   !act__wire_encode("pong", "Ping", "{}{}", NULL, NULL, NULL) &&
	   !act__wire_encode("pong", "Ping", "", NULL, NULL, NULL),
	   "encode refuses a message that is not exactly one JSON object");
}

/*
 * A frame that is not JSON, too deep or too big still names its sender
 * when the sender fields were read whole before the problem, so that the
 * gateway can answer it with a Reject (issue 11, item 11); a NaN or an
 * infinity, which Python's json writes for a float, names its field.
 */
struct salvage_case {
	const char *name;
	const char *data;
	size_t len;
	enum act__wire_err want;
	unsigned fill;
	const char *reason;     /* a substring the reason must hold, or NULL */
};

#define SV(name, lit, want, fill, reason) \
	{ name, lit, sizeof(lit) - 1, ACT__WIRE_##want, fill, reason }

static void salvage(void)
{
	static const struct salvage_case cases[] = {
		SV("bad JSON late in message", "{" SND REC TYPE "\"message\":{\"count\":1,}}",
		   BAD_JSON, S_A | S_E | RCV | TYP, NULL),
		SV("NaN in message", "{" SND REC TYPE "\"message\":{\"value\":NaN}}",
		   BAD_JSON, S_A | S_E | RCV | TYP, "NaN is not a JSON number (field \"value\""),
		SV("Infinity in message", "{" SND REC TYPE "\"message\":{\"x\":[1,Infinity]}}",
		   BAD_JSON, S_A | S_E | RCV | TYP, "Infinity is not a JSON number (field \"x\""),
		SV("-Infinity in message", "{" SND REC TYPE "\"message\":{\"value\":-Infinity}}",
		   BAD_JSON, S_A | S_E | RCV | TYP, "-Infinity is not a JSON number (field \"value\""),
		SV("NaN as message", "{" SND REC TYPE "\"message\":NaN}",
		   BAD_JSON, S_A | S_E | RCV | TYP, "NaN is not a JSON number (field \"message\""),
		SV("NaN at the top", "NaN", BAD_JSON, 0, "NaN is not a JSON number (byte 0)"),
		SV("NaNx is not a NaN", "{" SND REC TYPE "\"message\":{\"v\":NaNx}}",
		   BAD_JSON, S_A | S_E | RCV | TYP, "unexpected"),
		SV("Infinityy is not an Infinity", "{" SND REC TYPE "\"message\":{\"v\":[Infinityy]}}",
		   BAD_JSON, S_A | S_E | RCV | TYP, "unexpected"),
		SV("NaN before a space and a brace", "{" SND REC TYPE "\"message\":{\"v\":NaN }}",
		   BAD_JSON, S_A | S_E | RCV | TYP, "NaN is not a JSON number (field \"v\""),
		SV("non-UTF-8 in message", "{" SND REC TYPE "\"message\":{\"s\":\"\xff\"}}",
		   NOT_UTF8, S_A | S_E | RCV | TYP, NULL),
		SV("too deep message", "{" SND REC TYPE "\"message\":{\"a\":{\"b\":{\"c\":{}}}}}",
		   TOO_DEEP, S_A | S_E | RCV | TYP, NULL),
		SV("truncated in sender_endpoint", "{\"sender_actor\":\"ping\",\"sender_endpoint\":\"tcp://",
		   BAD_JSON, S_A, NULL),
		SV("sender after a NaN", "{" REC TYPE "\"message\":{\"v\":NaN}," SND "}",
		   BAD_JSON, S_A | S_E | RCV | TYP, "NaN is not a JSON number (field \"v\""),
		SV("everything after an Infinity", "{\"message\":{\"v\":[Infinity,2]}," SND REC TYPE "}",
		   BAD_JSON, S_A | S_E | RCV | TYP, "Infinity is not a JSON number (field \"v\""),
		SV("the first of two NaNs names the field", "{\"message\":{\"a\":NaN,\"b\":-Infinity},"
		   SND REC TYPE "}", BAD_JSON, S_A | S_E | RCV | TYP,
		   "NaN is not a JSON number (field \"a\""),
		SV("NaN as a sender: the other fields", "{\"sender_actor\":NaN,"
		   "\"sender_endpoint\":\"tcp://localhost:5002\"," REC TYPE "\"message\":{}}",
		   BAD_JSON, S_E | RCV | TYP, "NaN is not a JSON number (field \"sender_actor\""),
		SV("sender after a NaN and a grammar error", "{" REC TYPE "\"message\":{\"v\":NaN,}," SND "}",
		   BAD_JSON, RCV | TYP, "NaN is not a JSON number (field \"v\""),
		SV("sender after a NaN, then not UTF-8", "{\"message\":{\"v\":NaN}," SND REC TYPE
		   "\"x\":\"\xff\"}", NOT_UTF8, S_A | S_E | RCV | TYP, NULL),
		SV("sender after the error", "{" REC TYPE "\"message\":{\"v\":1,}," SND "}",
		   BAD_JSON, RCV | TYP, NULL),
		SV("duplicate sender before the error", "{" SND "\"sender_actor\":\"evil\"," REC "x}",
		   BAD_JSON, S_E | RCV, NULL),
		SV("\\u0000 in a name before the error", "{" SND "\"receiver\":\"po\\u0000ng\"," TYPE "x}",
		   BAD_JSON, 0, NULL),
		SV("not an object", "[" SND "x", BAD_JSON, 0, NULL),
	};
	struct act__wire_limits lim;

	act__wire_limits_default(&lim);
	lim.max_depth = 4;
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		const struct salvage_case *c = &cases[k];
		struct act__wire_view v;
		char err[200];
		char *copy = malloc(c->len ? c->len : 1);
		enum act__wire_err e;
		int fine;

		if (!copy)
			bail("out of memory");
		memcpy(copy, c->data, c->len);
		e = act__wire_parse_view(copy, c->len, &lim, &v, err, sizeof err);
		fine = e == c->want && (!c->reason || strstr(err, c->reason)) &&
		       same(v.sender_actor, c->fill & S_A ? "ping" : NULL) &&
		       same(v.sender_endpoint, c->fill & S_E ? "tcp://localhost:5002" : NULL) &&
		       same(v.receiver, c->fill & RCV ? "pong" : NULL) &&
		       same(v.message_type, c->fill & TYP ? "Ping" : NULL);
		ok(fine, "salvage (%s): %s", act__wire_err_name(c->want), c->name);
		if (!fine)
			diag("got %s \"%s\"; sender %s @ %s, receiver %s, type %s",
			     act__wire_err_name(e), err, nul_or(v.sender_actor),
			     nul_or(v.sender_endpoint), nul_or(v.receiver), nul_or(v.message_type));
		free(copy);
	}

	/* An oversized frame: only its head is read, for the names. */
	struct sb b = { 0 };
	struct act__wire_view v;
	char err[200];
	enum act__wire_err e;

	sb_puts(&b, "{" SND REC TYPE "\"message\":{\"pad\":\"");
	sb_rep(&b, "p", 3 * 8192);
	sb_puts(&b, "\"}}");
	lim.max_frame = 4096;
	e = act__wire_parse_view(b.p, b.n, &lim, &v, err, sizeof err);
	ok(e == ACT__WIRE_TOO_BIG && same(v.sender_actor, "ping") &&
	   same(v.sender_endpoint, "tcp://localhost:5002") && same(v.receiver, "pong") &&
	   same(v.message_type, "Ping") && !v.message_text,
	   "salvage (too_big): an oversized frame still names its sender");
	free(b.p);
}

static void rejects(void)
{
	struct act__wire_env env;
	cJSON *m, *want;
	size_t n = 0;
	char *t;
	int fine;

	t = act__wire_reject("ping", "Ping", "Actor 'pong' not found", "pong",
	                     "tcp://localhost:5001", &n);
	ok(t && n == strlen(t) &&
	   !strcmp(t, "{\"sender_actor\":null,\"sender_endpoint\":\"tcp://localhost:5001\","
	              "\"receiver\":\"ping\",\"message_type\":\"Reject\",\"message\":{"
	              "\"message_type\":\"Ping\",\"reason\":\"Actor 'pong' not found\","
	              "\"rejected_by\":\"pong\"}}"),
	   "reject text is the PROTOCOL.md Reject, anonymous as the family sends it");
	fine = t && act__wire_parse(t, n, NULL, &env, NULL, 0) == ACT__WIRE_OK;
	want = cJSON_Parse("{\"message_type\":\"Ping\",\"reason\":\"Actor 'pong' not found\","
	                   "\"rejected_by\":\"pong\"}");
	ok(fine && same(env.receiver, "ping") && same(env.message_type, "Reject") &&
	   !env.sender_actor && same(env.sender_endpoint, "tcp://localhost:5001") &&
	   cJSON_Compare(env.message, want, 1),
	   "reject parses back: to the sender, null sender_actor, our endpoint");
	cJSON_Delete(want);
	if (t)
		act__wire_env_free(&env);
	free(t);

	/* A reason cut in the middle of a UTF-8 sequence is repaired. */
	t = act__wire_reject("ping", "Ping", "no actor 'p\xC3", "p\xC3\xB6ng", NULL, &n);
	fine = t && act__wire_parse(t, n, NULL, &env, NULL, 0) == ACT__WIRE_OK;
	m = fine ? cJSON_GetObjectItemCaseSensitive(env.message, "reason") : NULL;
	ok(m && cJSON_IsString(m) && !strcmp(m->valuestring, "no actor 'p\xEF\xBF\xBD") &&
	   !env.sender_endpoint && !env.sender_actor,
	   "reject repairs invalid UTF-8 in the reason; NULL endpoint is null");
	if (t)
		act__wire_env_free(&env);
	free(t);

	t = act__wire_reject("ping", NULL, NULL, NULL, "tcp://localhost:5001", &n);
	fine = t && act__wire_parse(t, n, NULL, &env, NULL, 0) == ACT__WIRE_OK;
	want = cJSON_Parse("{\"message_type\":\"\",\"reason\":\"\",\"rejected_by\":\"\"}");
	ok(fine && !env.sender_actor && cJSON_Compare(env.message, want, 1),
	   "reject with unknown type, reason and receiver: empty strings, null sender");
	cJSON_Delete(want);
	if (t)
		act__wire_env_free(&env);
	free(t);

	ok(!act__wire_reject(NULL, "Ping", "r", "pong", NULL, NULL) &&
	   !act__wire_reject("", "Ping", "r", "pong", NULL, NULL) &&
	   !act__wire_reject("p\xFF", "Ping", "r", "pong", NULL, NULL) &&
	   !act__wire_reject("ping", "P\xFF", "r", "pong", NULL, NULL),
	   "reject refuses an unaddressable or invalid recipient and bad names");
}

static void endpoints(void)
{
	static const struct { const char *in, *out; } v[] = {
		{ "tcp://*:5001", "tcp://localhost:5001" },
		{ "tcp://0.0.0.0:5001", "tcp://localhost:5001" },
		{ "tcp://localhost:5002", "tcp://localhost:5002" },
		{ "tcp://10.1.2.3:5003", "tcp://10.1.2.3:5003" },
		{ "tcp://0.0.0.01:5001", "tcp://0.0.0.01:5001" },
		{ "ipc:///run/actors/node", "ipc:///run/actors/node" },
		{ "", "" },
	};
	char out[64];
	int all = 1;

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		memset(out, 'X', sizeof out);
		if (act__wire_normalize_endpoint(v[i].in, out, sizeof out) || strcmp(out, v[i].out)) {
			diag("normalise \"%s\": got \"%s\"", v[i].in, out);
			all = 0;
		}
	}
	ok(all, "normalise: bind addresses become localhost, others unchanged");

	strcpy(out, "tcp://*:5001");
	ok(!act__wire_normalize_endpoint(out, out, sizeof out) &&
	   !strcmp(out, "tcp://localhost:5001"), "normalise in place");
	ok(!act__wire_normalize_endpoint("tcp://*:5001", out, sizeof "tcp://localhost:5001") &&
	   !strcmp(out, "tcp://localhost:5001"), "normalise into an exact fit");
	ok(act__wire_normalize_endpoint("tcp://*:5001", out, sizeof "tcp://localhost:5001" - 1) ==
	   -EMSGSIZE && out[0] == '\0', "normalise: one byte short is -EMSGSIZE");
	ok(act__wire_normalize_endpoint("tcp://h:1", out, 9) == -EMSGSIZE &&
	   act__wire_normalize_endpoint("tcp://h:1", NULL, 0) == -EMSGSIZE &&
	   act__wire_normalize_endpoint(NULL, out, sizeof out) == -EINVAL,
	   "normalise: short buffer, NULL buffer, NULL endpoint");
}

int main(void)
{
	tap_timeout(120);

	for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++)
		bad(corpus[i].name, corpus[i].data, corpus[i].len, NULL,
		    corpus[i].want, corpus[i].fill);
	generated_bad();
	ok(n_bad >= 60, "the malformed corpus has %d frames", n_bad);

	valid_frames();
	views();
	ok(n_view_bad == 0 && n_view >= 150,
	   "act__wire_parse_view agrees with act__wire_parse on all %d frames (%d differ)",
	   n_view, n_view_bad);
	api_details();
	utf8();
	encoding();
	salvage();
	rejects();
	endpoints();
	speed("the PROTOCOL.md example", protocol_example, sizeof protocol_example - 1);
	speed("bench-gateway's Ping", GOOD, sizeof GOOD - 1);
	return done_testing();
}
