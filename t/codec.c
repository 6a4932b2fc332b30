/* SPDX-License-Identifier: MIT */
/*
 * t/codec.c - message descriptors, the packed form and the JSON codec.
 *
 * Round trips every field kind through JSON and through the packed form,
 * decodes exactly what the Python peer sends, feeds every kind of bad input
 * the codec must refuse, and mutates packed messages and JSON text at
 * random: under ASan this proves act__msg_fixup() and act_json_decode()
 * never read outside their input, whatever the bytes are.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <actors.h>

#include "base64.h"
#include "message.h"
#include "tap.h"

typedef struct { int32_t count; } ping_t;
ACT_MESSAGE_TYPE(ping_type, ping_t, "Ping", ACT_FIELD(ping_t, count, ACT_I32));

typedef struct {
	int32_t i32;
	int64_t i64;
	uint64_t u64;
	double dbl;
	bool flag;
	char name[16];
	act_buf text;
	act_buf blob;
	act_buf extra;
} all_t;
ACT_MESSAGE_TYPE(all_type, all_t, "All",
	ACT_FIELD(all_t, i32, ACT_I32),
	ACT_FIELD(all_t, i64, ACT_I64),
	ACT_FIELD(all_t, u64, ACT_U64),
	ACT_FIELD(all_t, dbl, ACT_DOUBLE),
	ACT_FIELD(all_t, flag, ACT_BOOL),
	ACT_FIELD(all_t, name, ACT_STR),
	ACT_FIELD(all_t, text, ACT_VSTR),
	ACT_FIELD(all_t, blob, ACT_BYTES),
	ACT_FIELD(all_t, extra, ACT_JSON));

typedef struct { uint64_t u; int64_t i; } wide_t;
ACT_MESSAGE_TYPE(wide_type, wide_t, "Wide",
	ACT_FIELD(wide_t, u, ACT_U64),
	ACT_FIELD(wide_t, i, ACT_I64));

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}

static act_buf mkbuf(const void *p, size_t n)
{
	act_buf b = { p, (uint32_t)n, 0 };
	return b;
}

static act_buf mkstr(const char *s) { return mkbuf(s, strlen(s)); }

static int buf_eq(act_buf a, act_buf b)
{
	return a.len == b.len && (!a.len || !memcmp(a.ptr, b.ptr, a.len));
}

/* A received buffer lies inside [base, base+len) at base+off. */
static int buf_inside(act_buf b, const void *base, size_t len)
{
	return (const char *)b.ptr == (const char *)base + b.off &&
	       (size_t)b.off + b.len <= len && b.off % 8 == 0;
}

/* Decodes json into a malloc'd buffer of exactly cap bytes (so that ASan
 * sees any overrun); returns the code, *outp the buffer (caller frees). */
static int decode_exact(const act_type *t, const char *json, size_t cap,
                        void **outp, size_t *used, char *err, size_t err_cap)
{
	size_t n = strlen(json);
	char *in = malloc(n ? n : 1);  /* not NUL-terminated on purpose */
	void *out = malloc(cap ? cap : 1);
	int rc;

	if (!in || !out)
		bail("out of memory");
	memcpy(in, json, n);
	rc = act_json_decode(t, in, n, out, cap, used, err, err_cap);
	free(in);
	*outp = out;
	return rc;
}

/* Decodes json as t into a large buffer, returning only the code. */
static int decode_rc(const act_type *t, const char *json)
{
	void *out;
	size_t used;
	int rc = decode_exact(t, json, 4096, &out, &used, NULL, 0);
	free(out);
	return rc;
}

static void expect(const char *key, const char *val, int want, const char *what);

/* ---- round trips --------------------------------------------------------- */

static void check_roundtrip(const char *what, const all_t *in)
{
	char json[8192];
	size_t len = 0, used = 0;
	char err[128] = "";
	void *out;
	int rc;

	rc = act_json_encode(&all_type, in, json, sizeof json, &len);
	if (!ok(rc == 0 && len == strlen(json), "%s: encodes", what)) {
		diag("rc %d (%s)", rc, act_strerror(rc));
		return;
	}
	rc = decode_exact(&all_type, json, 8192, &out, &used, err, sizeof err);
	const all_t *m = out;
	if (!ok(rc == 0, "%s: decodes %s", what, json)) {
		diag("rc %d: %s", rc, err);
		free(out);
		return;
	}
	int same = m->i32 == in->i32 && m->i64 == in->i64 && m->u64 == in->u64 &&
	           memcmp(&m->dbl, &in->dbl, sizeof m->dbl) == 0 &&
	           m->flag == in->flag && !strcmp(m->name, in->name) &&
	           buf_eq(m->text, in->text) && buf_eq(m->blob, in->blob);
	ok(same, "%s: scalar, STR, VSTR and BYTES fields equal", what);
	ok(buf_inside(m->text, out, used) && buf_inside(m->blob, out, used) &&
	   buf_inside(m->extra, out, used) &&
	   ((const char *)m->text.ptr)[m->text.len] == '\0' &&
	   ((const char *)m->extra.ptr)[m->extra.len] == '\0',
	   "%s: buffers point into the output, strings NUL-terminated", what);

	/* The JSON field comes back as the compact text of the same value. */
	cJSON *a = cJSON_ParseWithLength(in->extra.ptr, in->extra.len);
	cJSON *b = cJSON_Parse(m->extra.ptr);
	char *ca = a ? cJSON_PrintUnformatted(a) : NULL;
	ok(b && ca && cJSON_Compare(a, b, 1) && !strcmp(ca, m->extra.ptr),
	   "%s: JSON field equal (%s)", what, (const char *)m->extra.ptr);
	cJSON_free(ca);
	cJSON_Delete(a);
	cJSON_Delete(b);

	/* The decoded message is a valid packed message: re-packing it gives
	 * the same size, and a moved copy fixes up to the same content. */
	ok(act__msg_packed_size(&all_type, m) == used,
	   "%s: decode output is exactly a packed message (%zu bytes)", what, used);
	void *copy = malloc(used);
	memcpy(copy, out, used);
	const all_t *c = copy;
	ok(act__msg_fixup(&all_type, copy, used) == 0 &&
	   buf_inside(c->text, copy, used) && buf_eq(c->text, m->text) &&
	   buf_eq(c->blob, m->blob) && buf_eq(c->extra, m->extra),
	   "%s: a copy of the decoded message fixes up", what);
	free(copy);
	free(out);
}

static void test_roundtrip(void)
{
	unsigned char bytes[256];
	all_t m;

	for (int i = 0; i < 256; i++)
		bytes[i] = (unsigned char)i;

	memset(&m, 0, sizeof m);
	m.i32 = INT32_MIN;
	m.i64 = -9007199254740991LL;
	m.u64 = 9007199254740991ULL;
	m.dbl = 0.1;
	m.flag = true;
	strcpy(m.name, "fifteen bytes!!");
	m.text = mkstr("h\xc3\xa9llo \"quoted\" \\ \n\t\x01 \xe2\x82\xac");
	m.blob = mkbuf(bytes, sizeof bytes);
	m.extra = mkstr(" { \"a\" : [1, 2.5, {\"b\": null}], \"c\": \"x\" } ");
	check_roundtrip("extremes", &m);

	m.i32 = INT32_MAX;
	m.i64 = 0;
	m.u64 = 0;
	m.dbl = -1.2345678901234567e-300;
	m.flag = false;
	m.name[0] = '\0';
	m.text = mkbuf(NULL, 0);
	m.blob = mkbuf(NULL, 0);
	m.extra = mkstr("null");
	check_roundtrip("zeros and empty buffers", &m);

	m.dbl = 1.7976931348623157e308;
	m.i64 = 1234567890123LL;
	m.extra = mkstr("\"just a string\"");
	for (size_t n = 1; n <= 5; n++) {
		char what[32];
		snprintf(what, sizeof what, "blob of %zu bytes", n);
		m.blob = mkbuf(bytes + 250, n); /* every base64 padding case */
		m.text = mkbuf("abcde", n);
		check_roundtrip(what, &m);
	}
}

static void test_python_form(void)
{
	char json[64], err[128] = "";
	size_t len, used;
	void *out;
	ping_t p = { 1 };

	int rc = decode_exact(&ping_type, "{\"count\": 1}", sizeof(ping_t), &out,
	                      &used, err, sizeof err);
	ok(rc == 0 && ((ping_t *)out)->count == 1 && used == sizeof(ping_t),
	   "Python's {\"count\": 1} decodes into Ping{count=1}, %zu bytes", used);
	free(out);
	rc = act_json_encode(&ping_type, &p, json, sizeof json, &len);
	ok(rc == 0 && !strcmp(json, "{\"count\":1}") && len == 11,
	   "Ping{1} encodes as {\"count\":1}");
	rc = decode_exact(&ping_type, "{\"count\": 1, \"extra\": [1, {}], \"Count\": 9}",
	                  sizeof(ping_t), &out, &used, NULL, 0);
	ok(rc == 0 && ((ping_t *)out)->count == 1,
	   "extra members are ignored, keys are case-sensitive");
	free(out);
	rc = decode_exact(&ping_type, "{\"count\": 7, \"count\": 8}", sizeof(ping_t),
	                  &out, &used, NULL, 0);
	ok(rc == 0 && ((ping_t *)out)->count == 7, "a duplicate key: the first wins");
	free(out);
	ok(decode_rc(&ping_type, "{\"count\": 1.0}") == 0 &&
	   decode_rc(&ping_type, "{\"count\": 1e2}") == 0,
	   "integral numbers written as 1.0 or 1e2 are integers");
}

static void test_wide_integers(void)
{
	char json[128];
	size_t len;
	wide_t w = { UINT64_MAX, INT64_MIN };
	int rc = act_json_encode(&wide_type, &w, json, sizeof json, &len);

	ok(rc == 0 && !strcmp(json, "{\"u\":18446744073709551615,\"i\":-9223372036854775808}"),
	   "U64 max and I64 min print exactly: %s", json);
	w.u = 1000000000000000ULL; /* %g would make this 1e+15 */
	w.i = INT64_MAX;
	rc = act_json_encode(&wide_type, &w, json, sizeof json, &len);
	ok(rc == 0 && !strcmp(json, "{\"u\":1000000000000000,\"i\":9223372036854775807}"),
	   "integers print in plain notation: %s", json);
	ok(decode_rc(&wide_type, "{\"u\": 18446744073709551615, \"i\": 0}") == -ERANGE,
	   "U64 max does not decode (beyond 2^53)");
	ok(decode_rc(&wide_type, "{\"u\": 9007199254740991, \"i\": -9007199254740991}") == 0,
	   "2^53-1 and -(2^53-1) decode");
	ok(decode_rc(&wide_type, "{\"u\": 9007199254740992, \"i\": 0}") == -ERANGE &&
	   decode_rc(&wide_type, "{\"u\": 9007199254740993, \"i\": 0}") == -ERANGE &&
	   decode_rc(&wide_type, "{\"u\": 0, \"i\": 9007199254740993}") == -ERANGE &&
	   decode_rc(&wide_type, "{\"u\": 0, \"i\": -9007199254740992}") == -ERANGE,
	   "integers at or beyond 2^53 are -ERANGE (may already be rounded)");
	ok(decode_rc(&wide_type, "{\"u\": -1, \"i\": 0}") == -ERANGE,
	   "negative U64 is -ERANGE");
	ok(decode_rc(&wide_type, "{\"u\": 0, \"i\": 1e400}") == -ERANGE,
	   "an integer that overflows a double is -ERANGE");
}

/* Doubles go out exactly, in DOUBLE fields and nested in ACT_JSON ones. */
static void test_doubles(void)
{
	static const double vals[] = {
		0.1 + 0.2, 1.7976931348623157e308, 4.9406564584124654e-324, -1e15,
		123456789.12345678, 9007199254740993.0 * 4, -0.0, 2.5 };
	static const char *const texts[] = {
		"0.30000000000000004", "1.7976931348623157e+308", NULL,
		"-1000000000000000", "123456789.12345678", NULL, "-0", "2.5" };
	char json[256], want[128];
	size_t len;
	all_t m;

	memset(&m, 0, sizeof m);
	m.extra = mkstr("1");
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		m.dbl = vals[i];
		int rc = act_json_encode(&all_type, &m, json, sizeof json, &len);
		snprintf(want, sizeof want, "\"dbl\":%s,", texts[i] ? texts[i] : "");
		void *out;
		size_t used;
		if (rc == 0)
			rc = decode_exact(&all_type, json, 4096, &out, &used, NULL, 0);
		else
			out = NULL;
		ok(rc == 0 && (!texts[i] || strstr(json, want)) && !memcmp(&((all_t *)out)->dbl, &vals[i], sizeof(double)),
		   "DOUBLE %.17g round-trips exactly as %s", vals[i], strstr(json, "\"dbl\":"));
		free(out);
	}
	m.dbl = 0;
	m.extra = mkstr("[0.30000000000000004, 1e15, 1.0, -0.0, 123456789012, {\"x\": 2.5e-7}]");
	int rc = act_json_encode(&all_type, &m, json, sizeof json, &len);
	ok(rc == 0 && strstr(json, "\"extra\":[0.30000000000000004,1000000000000000,1,-0,"
	                           "123456789012,{\"x\":2.5e-07}]"),
	   "numbers nested in an ACT_JSON field encode exactly: %s", json);
	void *out;
	size_t used;
	rc = decode_exact(&all_type, json, 4096, &out, &used, NULL, 0);
	ok(rc == 0 && !strcmp(((all_t *)out)->extra.ptr,
	   "[0.30000000000000004,1000000000000000,1,-0,123456789012,{\"x\":2.5e-07}]"),
	   "and decode exactly: %s", rc ? "" : (const char *)((all_t *)out)->extra.ptr);
	free(out);
	m.extra = mkstr("{\"a\": [1e999]}");
	ok(act_json_encode(&all_type, &m, json, sizeof json, &len) == -EINVAL,
	   "encode: ACT_JSON holding 1e999 is -EINVAL");
	expect("extra", "[1, 1e999]", -ERANGE, "a nested number overflows a double");
}

static void test_builtins(void)
{
	void *out;
	size_t used;
	int rc;

	ok(!act__type_validate(&act_start_type) && !act__type_validate(&act_shutdown_type) &&
	   !act__type_validate(&act_timeout_type) && !act__type_validate(&act_reject_type),
	   "built-in descriptors validate");
	ok(!strcmp(act_start_type.name, "Start") && !strcmp(act_shutdown_type.name, "Shutdown") &&
	   !strcmp(act_timeout_type.name, "Timeout") && !strcmp(act_reject_type.name, "Reject"),
	   "built-in wire names");

	rc = decode_exact(&act_start_type, "{}", sizeof(act_start), &out, &used, NULL, 0);
	const act_start *s = out;
	ok(rc == 0 && !s->restart && !s->n_restarts && !s->last_signal && !s->last_exit,
	   "Start decodes from {} with zero fields");
	free(out);
	rc = decode_exact(&act_start_type,
	                  "{\"restart\": true, \"n_restarts\": 3, \"last_signal\": 11, \"last_exit\": -1}",
	                  sizeof(act_start), &out, &used, NULL, 0);
	s = out;
	ok(rc == 0 && s->restart && s->n_restarts == 3 && s->last_signal == 11 &&
	   s->last_exit == -1, "Start decodes all its fields");
	free(out);
	ok(decode_rc(&act_start_type, "{\"restart\": 1}") == -EPROTO,
	   "Start still checks the fields that are present");
	rc = decode_exact(&act_shutdown_type, "{}", sizeof(act_shutdown_msg), &out, &used, NULL, 0);
	ok(rc == 0 && ((act_shutdown_msg *)out)->reason == 0, "Shutdown decodes from {}");
	free(out);
	ok(decode_rc(&act_timeout_type, "{}") == -EPROTO, "Timeout from {} is missing its id");
	rc = decode_exact(&act_timeout_type, "{\"id\": 42}", sizeof(act_timeout), &out, &used, NULL, 0);
	ok(rc == 0 && ((act_timeout *)out)->id == 42, "Timeout{id} decodes");
	free(out);

	rc = decode_exact(&act_reject_type,
	                  "{\"message_type\": \"Ping\", \"reason\": \"Actor 'pong' not found\", \"rejected_by\": \"pong\"}",
	                  1024, &out, &used, NULL, 0);
	const act_reject *r = out;
	ok(rc == 0 && !strcmp(r->message_type, "Ping") && !strcmp(r->rejected_by.ptr, "pong") && r->rejected_by.len == 4 &&
	   !strcmp(r->reason.ptr, "Actor 'pong' not found") && r->reason.len == 22,
	   "the protocol's Reject example decodes");
	char json[256];
	size_t len;
	rc = act_json_encode(&act_reject_type, r, json, sizeof json, &len);
	ok(rc == 0 && !strcmp(json, "{\"message_type\":\"Ping\",\"reason\":\"Actor 'pong' not found\",\"rejected_by\":\"pong\"}"),
	   "and encodes back: %s", json);
	free(out);
}

/* ---- errors ---------------------------------------------------------------- */

/* Valid JSON for all_type with member key set to the JSON value val
 * (or removed if val is NULL); returns a malloc'd string. */
static char *all_with(const char *key, const char *val)
{
	static const char base[] =
		"{\"i32\":1,\"i64\":2,\"u64\":3,\"dbl\":4.5,\"flag\":true,\"name\":\"n\","
		"\"text\":\"t\",\"blob\":\"AAE=\",\"extra\":{}}";
	cJSON *o = cJSON_Parse(base);
	char *s;

	if (val)
		cJSON_ReplaceItemInObjectCaseSensitive(o, key, cJSON_CreateRaw(val));
	else
		cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static void expect(const char *key, const char *val, int want, const char *what)
{
	char *json = all_with(key, val);
	char err[128] = "";
	char field[64];
	size_t used;
	void *out;
	int rc = decode_exact(&all_type, json, 4096, &out, &used, err, sizeof err);

	snprintf(field, sizeof field, "field '%s'", key);
	ok(rc == want && (want == 0 || strstr(err, field)),
	   "%s %s %s: %s%s%s", key, val ? "=" : "", val ? val : "missing", what,
	   want ? " / " : "", want ? err : "");
	if (rc != want)
		diag("got %d (%s), json %s", rc, act_strerror(rc), json);
	free(out);
	cJSON_free(json);
}

static void test_decode_errors(void)
{
	static const char *const keys[] = {
		"i32", "i64", "u64", "dbl", "flag", "name", "text", "blob", "extra" };
	char err[128];
	void *out;
	size_t used;
	int rc;

	char *base = all_with("i32", "1");
	ok(decode_rc(&all_type, base) == 0, "the base message decodes");
	cJSON_free(base);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		expect(keys[i], NULL, -EPROTO, "missing field");

	/* Wrong JSON types for each kind. */
	static const char *const not_number[] = { "\"1\"", "true", "null", "[1]", "{}" };
	for (size_t i = 0; i < 5; i++) {
		expect("i32", not_number[i], -EPROTO, "not a number");
		expect("i64", not_number[i], -EPROTO, "not a number");
		expect("u64", not_number[i], -EPROTO, "not a number");
		expect("dbl", not_number[i], -EPROTO, "not a number");
	}
	static const char *const not_bool[] = { "0", "1", "\"true\"", "null" };
	for (size_t i = 0; i < 4; i++)
		expect("flag", not_bool[i], -EPROTO, "not a bool");
	static const char *const not_string[] = { "5", "false", "null", "[\"a\"]", "{}" };
	for (size_t i = 0; i < 5; i++) {
		expect("name", not_string[i], -EPROTO, "not a string");
		expect("text", not_string[i], -EPROTO, "not a string");
		expect("blob", not_string[i], -EPROTO, "not a string");
	}
	expect("extra", "[1,\"x\",null]", 0, "any JSON value is fine");
	expect("extra", "null", 0, "null is a JSON value");

	/* Ranges. */
	expect("i32", "2147483647", 0, "int32 max");
	expect("i32", "-2147483648", 0, "int32 min");
	expect("i32", "2147483648", -ERANGE, "int32 max + 1");
	expect("i32", "-2147483649", -ERANGE, "int32 min - 1");
	expect("i64", "9007199254740992", -ERANGE, "2^53");
	expect("i64", "-1e300", -ERANGE, "huge");
	expect("u64", "-1", -ERANGE, "negative");
	expect("i32", "1.5", -EPROTO, "fraction");
	expect("i64", "-0.25", -EPROTO, "fraction");
	expect("u64", "3.000001", -EPROTO, "fraction");
	expect("dbl", "1e999", -ERANGE, "overflows a double");
	expect("dbl", "-7", 0, "an integer is a number");

	/* Strings. */
	expect("name", "\"fifteen bytes!!\"", 0, "15 bytes fit char[16]");
	expect("name", "\"sixteen bytes!!!\"", -EMSGSIZE, "16 bytes do not");
	expect("name", "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"",
	       -EMSGSIZE, "the limit is in bytes, not characters");
	static const char *const bad_b64[] = {
		"\"A\"", "\"AB\"", "\"ABC\"", "\"AB=C\"", "\"A===\"", "\"====\"",
		"\"QR==\"", "\"QUF=\"", "\"Zm9v\\n\"", "\"Zm9v Zg==\"", "\"Zm9-\"",
		"\"Zg==Zg==\"" };
	for (size_t i = 0; i < sizeof bad_b64 / sizeof bad_b64[0]; i++)
		expect("blob", bad_b64[i], -EPROTO, "bad base64");
	expect("blob", "\"\"", 0, "empty base64");

	/* Whole-input errors. */
	static const char *const not_object[] = { "[1]", "1", "\"x\"", "null", "true" };
	for (size_t i = 0; i < 5; i++)
		ok(decode_rc(&ping_type, not_object[i]) == -EPROTO, "non-object %s is -EPROTO",
		   not_object[i]);
	static const char *const invalid[] = {
		"", " ", "{", "{\"count\":1", "{\"count\":1} x", "{\"count\":1}}",
		"{count:1}", "{'count':1}", "{\"count\":1,}" };
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
		ok(decode_rc(&ping_type, invalid[i]) == -EPROTO, "invalid JSON '%s' is -EPROTO",
		   invalid[i]);
	ok(decode_rc(&ping_type, " \n{\"count\":1}\r\n\t ") == 0,
	   "whitespace around the object is fine");

	rc = decode_exact(&ping_type, "{\"count\":\"1\"}", sizeof(ping_t), &out, &used,
	                  err, sizeof err);
	ok(rc == -EPROTO && !strcmp(err, "field 'count': expected an integer"),
	   "error text names the field: %s", err);
	free(out);
	rc = decode_exact(&ping_type, "{\"count\":1}", sizeof(ping_t), &out, &used, err, 8);
	ok(rc == 0 && used == sizeof(ping_t), "a short err buffer is fine");
	free(out);
	rc = decode_exact(&ping_type, "{\"count\":1.5}", sizeof(ping_t), &out, &used, err, 8);
	ok(rc == -EPROTO && strlen(err) == 7, "err is truncated to err_cap");
	free(out);

	/* Output buffer sizes: every cap below the need fails without overrun. */
	const char *json = "{\"i32\":1,\"i64\":2,\"u64\":3,\"dbl\":4.5,\"flag\":true,"
	                   "\"name\":\"n\",\"text\":\"hello\",\"blob\":\"AAECAwQ=\",\"extra\":[1]}";
	size_t need;
	rc = decode_exact(&all_type, json, 4096, &out, &need, NULL, 0);
	free(out);
	int all_small = rc == 0;
	for (size_t cap = 0; cap < need; cap++) {
		rc = decode_exact(&all_type, json, cap, &out, &used, err, sizeof err);
		all_small &= rc == -EMSGSIZE && used == 0;
		free(out);
	}
	ok(all_small, "decode: every cap below %zu bytes is -EMSGSIZE", need);
	rc = decode_exact(&all_type, json, need, &out, &used, NULL, 0);
	ok(rc == 0 && used == need, "decode: exactly %zu bytes is enough", need);
	free(out);

	ok(act_json_decode(NULL, "{}", 2, err, sizeof err, &used, NULL, 0) == -EINVAL,
	   "decode: NULL type is -EINVAL");
}

static void test_encode_errors(void)
{
	char json[512];
	size_t len, n;
	all_t m;
	int rc;

	memset(&m, 0, sizeof m);
	m.extra = mkstr("{}");
	rc = act_json_encode(&all_type, &m, json, sizeof json, &n);
	ok(rc == 0, "encode: base message encodes (%zu bytes)", n);
	char *small = malloc(n + 1);
	ok(act_json_encode(&all_type, &m, small, n, &len) == -EMSGSIZE && len == 0,
	   "encode: cap == length (no room for the NUL) is -EMSGSIZE");
	ok(act_json_encode(&all_type, &m, small, n + 1, &len) == 0 && len == n &&
	   !strcmp(small, json), "encode: cap == length + 1 is enough");
	free(small);
	ok(act_json_encode(&all_type, &m, json, 0, &len) == -EMSGSIZE, "encode: cap 0");

	m.dbl = NAN;
	ok(act_json_encode(&all_type, &m, json, sizeof json, &len) == -EINVAL, "encode: NaN");
	m.dbl = -INFINITY;
	ok(act_json_encode(&all_type, &m, json, sizeof json, &len) == -EINVAL, "encode: -Inf");
	m.dbl = 0;
	static const char *const bad_json[] = { "", " ", "{", "{} {}", "nul", "[1,]", "{'a':1}" };
	for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
		m.extra = mkstr(bad_json[i]);
		ok(act_json_encode(&all_type, &m, json, sizeof json, &len) == -EINVAL,
		   "encode: JSON field '%s' is -EINVAL", bad_json[i]);
	}
	m.extra = mkbuf("[1] trailing", 3);
	ok(act_json_encode(&all_type, &m, json, sizeof json, &len) == 0 &&
	   strstr(json, "\"extra\":[1]}"), "encode: JSON field honours len: %s", json);
	m.extra = mkbuf(NULL, 0);
	ok(act_json_encode(&all_type, &m, json, sizeof json, &len) == -EINVAL,
	   "encode: empty JSON field is -EINVAL");
	m.extra = mkstr("{}");
	m.text = mkbuf("a\0b", 3);
	ok(act_json_encode(&all_type, &m, json, sizeof json, &len) == -EINVAL,
	   "encode: VSTR holding a NUL is -EINVAL");
	m.text = mkbuf(NULL, 3);
	ok(act_json_encode(&all_type, &m, json, sizeof json, &len) == -EINVAL,
	   "encode: VSTR with ptr NULL, len 3 is -EINVAL");
	m.text = mkbuf(NULL, 0);
	m.blob = mkbuf(NULL, 1);
	ok(act_json_encode(&all_type, &m, json, sizeof json, &len) == -EINVAL,
	   "encode: BYTES with ptr NULL, len 1 is -EINVAL");
	m.blob = mkbuf(NULL, 0);
	memset(m.name, 'x', sizeof m.name);
	ok(act_json_encode(&all_type, &m, json, sizeof json, &len) == -EINVAL,
	   "encode: STR without a NUL is -EINVAL");
	m.name[0] = '\0';
	ok(act_json_encode(&all_type, &m, json, sizeof json, &len) == 0, "encode: fixed again");

	act_type bad = all_type;
	bad.align = 3;
	ok(act_json_encode(&bad, &m, json, sizeof json, &len) == -EINVAL,
	   "encode: bad descriptor is -EINVAL");
	ok(act_json_encode(&all_type, NULL, json, sizeof json, &len) == -EINVAL,
	   "encode: NULL message is -EINVAL");
}

/* ---- descriptors ---------------------------------------------------------- */

static void test_validate(void)
{
	typedef struct { int32_t a; int64_t b; act_buf c; char d[4]; bool e; } s_t;
	act_field f[3];
	act_type t;
	char name64[65];

	ok(act__type_validate(&ping_type) == 0 && act__type_validate(&all_type) == 0,
	   "validate: test types are valid");
	act_type empty = { "Empty", 0, 1, NULL, 0 };
	ok(act__type_validate(&empty) == 0, "validate: size 0 without fields is valid");
	ok(act__type_validate(NULL) == -EINVAL, "validate: NULL");

#define RESET() do { \
	t = (act_type){ "T", sizeof(s_t), _Alignof(s_t), f, 1 }; \
	f[0] = (act_field)ACT_FIELD(s_t, a, ACT_I32); \
	f[1] = (act_field)ACT_FIELD(s_t, b, ACT_I64); \
	f[2] = (act_field)ACT_FIELD(s_t, c, ACT_VSTR); \
} while (0)
#define BAD(what, change) do { RESET(); change; \
	ok(act__type_validate(&t) == -EINVAL, "validate rejects: %s", what); } while (0)

	RESET();
	t.n_fields = 3;
	ok(act__type_validate(&t) == 0, "validate: the reference descriptor is valid");
	memset(name64, 'n', 63);
	name64[63] = '\0';
	RESET();
	t.name = name64;
	ok(act__type_validate(&t) == 0, "validate: a 63-byte name is fine");
	name64[63] = 'n';
	name64[64] = '\0';
	BAD("64-byte name", t.name = name64);
	BAD("NULL name", t.name = NULL);
	BAD("empty name", t.name = "");
	BAD("align 0", t.align = 0);
	BAD("align 3", t.align = 3);
	BAD("align 16", t.align = 16);
	BAD("size 0 with fields", t.size = 0);
	BAD("fields NULL", t.fields = NULL);
	BAD("field past the end", f[0].offset = sizeof(s_t));
	BAD("field offset overflow", (f[0].offset = UINT32_MAX - 3, t.size = UINT32_MAX));
	BAD("misaligned I32", f[0].offset = 2);
	BAD("misaligned I64", (t.n_fields = 2, f[1].offset = 4));
	BAD("misaligned act_buf", (t.n_fields = 3, f[2].offset = 12));
	BAD("I32 of size 8", f[0].size = 8);
	BAD("I64 of size 4", (t.n_fields = 2, f[1].size = 4));
	BAD("DOUBLE of size 4", (f[0].kind = ACT_DOUBLE));
	BAD("BOOL of size 4", (f[0].kind = ACT_BOOL));
	BAD("STR of size 0",
	    (f[0] = (act_field)ACT_FIELD(s_t, d, ACT_STR), f[0].size = 0));
	BAD("VSTR of size 4", (f[0].kind = ACT_VSTR));
	BAD("BYTES of size 8", (t.n_fields = 2, f[1].kind = ACT_BYTES));
	BAD("JSON of size 4", (f[0].kind = ACT_JSON));
	BAD("kind 0", f[0].kind = (act_field_kind)0);
	BAD("kind 99", f[0].kind = (act_field_kind)99);
	BAD("NULL field name", f[0].name = NULL);
	BAD("empty field name", f[0].name = "");
	BAD("duplicate field names", (t.n_fields = 3, f[2].name = "a"));
	RESET();
	f[0] = (act_field)ACT_FIELD(s_t, e, ACT_BOOL);
	f[1] = (act_field)ACT_FIELD(s_t, d, ACT_STR);
	t.n_fields = 2;
	ok(act__type_validate(&t) == 0, "validate: BOOL and STR at odd offsets are fine");
#undef BAD
#undef RESET
}

/* ---- packed form ------------------------------------------------------------- */

/* Reads every byte a handler could touch in a fixed-up all_t. */
static unsigned touch(const all_t *m)
{
	unsigned sum = (unsigned)strlen(m->name);
	const unsigned char *p;

	p = m->text.ptr;
	for (size_t i = 0; i <= m->text.len; i++)
		sum += p[i];
	sum += (unsigned)strlen(m->text.ptr);
	p = m->blob.ptr;
	for (size_t i = 0; i < m->blob.len; i++)
		sum += p[i];
	sum += (unsigned)strlen(m->extra.ptr);
	return sum;
}

static void test_pack(void)
{
	unsigned char bytes[37];
	all_t m;

	for (size_t i = 0; i < sizeof bytes; i++)
		bytes[i] = (unsigned char)(i * 7);
	memset(&m, 0, sizeof m);
	m.i32 = -5;
	m.i64 = INT64_MIN;
	m.u64 = UINT64_MAX;
	m.dbl = -0.0;
	m.flag = true;
	strcpy(m.name, "name");
	m.text = mkstr("text!");
	m.blob = mkbuf(bytes, sizeof bytes);
	m.extra = mkstr("{\"k\":[true]}");

	size_t need = act__msg_packed_size(&all_type, &m);
	size_t s = sizeof(all_t);
	size_t expect_size = ((((s + 7) / 8 * 8 + 6) + 7) / 8 * 8 + 37 + 7) / 8 * 8 + 13;
	ok(need == expect_size, "packed size %zu (struct %zu, data 6+37+13 aligned)",
	   need, s);
	char *p = malloc(need);
	ok(act__msg_pack(&all_type, &m, p) == need, "pack writes packed_size bytes");
	all_t *q = (all_t *)p;
	ok(!q->text.ptr && !q->blob.ptr && !q->extra.ptr && q->text.off % 8 == 0 &&
	   q->text.off >= s && q->blob.off >= q->text.off + 6 &&
	   q->extra.off + 13 == need, "packed act_bufs: ptr NULL, offsets in order");
	ok(act__msg_fixup(&all_type, p, need) == 0, "fixup accepts it");
	ok(q->i32 == -5 && q->i64 == INT64_MIN && q->u64 == UINT64_MAX && q->flag &&
	   !strcmp(q->name, "name") && buf_eq(q->text, m.text) && buf_eq(q->blob, m.blob) &&
	   buf_eq(q->extra, m.extra) && buf_inside(q->text, p, need) &&
	   buf_inside(q->blob, p, need) && buf_inside(q->extra, p, need) &&
	   !strcmp(q->text.ptr, "text!") && !strcmp(q->extra.ptr, "{\"k\":[true]}"),
	   "fixed-up message equals the original");

	/* Each corruption must be refused.  pack again for each one. */
	struct { const char *what; int field; int64_t off_delta; int64_t len_delta; } bad[] = {
		{ "text off misaligned", 0, 1, 0 },
		{ "text off 8 too far", 0, 8, 0 },
		{ "text off inside the struct", 0, -(int64_t)((s + 7) / 8 * 8), 0 },
		{ "text len past the end", 0, 0, (int64_t)need },
		{ "extra len past the end", 2, 0, 1 },
		{ "blob off past the end", 1, 1024, 0 },
		{ "blob len huge", 1, 0, 0xffffff00 },
		{ "extra off near 2^32", 2, (int64_t)0xfffffff0u - 1000, 0 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		act__msg_pack(&all_type, &m, p);
		act_buf *b = bad[i].field == 0 ? &q->text : bad[i].field == 1 ? &q->blob : &q->extra;
		b->off = (uint32_t)(b->off + bad[i].off_delta);
		b->len = (uint32_t)(b->len + bad[i].len_delta);
		ok(act__msg_fixup(&all_type, p, need) == -EPROTO, "fixup rejects: %s", bad[i].what);
	}
	act__msg_pack(&all_type, &m, p);
	p[q->text.off + q->text.len] = 'x';
	ok(act__msg_fixup(&all_type, p, need) == -EPROTO, "fixup rejects: VSTR NUL overwritten");
	act__msg_pack(&all_type, &m, p);
	p[need - 1] = '}';
	ok(act__msg_fixup(&all_type, p, need) == -EPROTO, "fixup rejects: JSON NUL overwritten");
	act__msg_pack(&all_type, &m, p);
	memset(q->name, 'x', sizeof q->name);
	ok(act__msg_fixup(&all_type, p, need) == -EPROTO, "fixup rejects: STR without NUL");
	act__msg_pack(&all_type, &m, p);
	memset(&q->flag, 2, 1);
	ok(act__msg_fixup(&all_type, p, need) == -EPROTO, "fixup rejects: BOOL of 2");
	act__msg_pack(&all_type, &m, p);
	ok(act__msg_fixup(&all_type, p, need - 1) == -EPROTO, "fixup rejects: truncated by 1");
	ok(act__msg_fixup(&all_type, p, s - 1) == -EPROTO, "fixup rejects: shorter than the struct");
	ok(act__msg_fixup(&all_type, p, 0) == -EPROTO, "fixup rejects: empty");

	/* Random mutations: fixup must never read out of bounds (ASan), and
	 * whatever it accepts must be safe for a handler to read. */
	int accepted = 0, sound = 1;
	for (int iter = 0; iter < 5000; iter++) {
		size_t len = need;
		if (rnd() % 4 == 0)
			len = rnd() % (need + 1);
		char *c = malloc(len ? len : 1);
		memcpy(c, p, len < need ? len : need);
		int n_mut = 1 + (int)(rnd() % 4);
		for (int k = 0; k < n_mut && len; k++) {
			/* Aim most mutations at the act_buf words. */
			size_t at = rnd() % 2 ? offsetof(all_t, text) + rnd() % 48 : rnd() % len;
			if (at < len)
				c[at] = rnd() % 3 ? (char)rnd() : (char)(c[at] ^ (1 << (rnd() % 8)));
		}
		if (act__msg_fixup(&all_type, c, len) == 0) {
			all_t *cm = (all_t *)c;
			accepted++;
			sound &= buf_inside(cm->text, c, len) && buf_inside(cm->blob, c, len) &&
			         buf_inside(cm->extra, c, len) && cm->text.off >= s;
			(void)touch(cm);
		}
		free(c);
	}
	ok(sound, "5000 random mutations: nothing out of bounds, %d accepted were sound",
	   accepted);

	/* Empty variable-length fields pack too. */
	m.text = mkbuf(NULL, 0);
	m.blob = mkbuf(NULL, 0);
	m.extra = mkstr("1");
	need = act__msg_packed_size(&all_type, &m);
	ok(act__msg_pack(&all_type, &m, p) == need && act__msg_fixup(&all_type, p, need) == 0 &&
	   q->text.len == 0 && !strcmp(q->text.ptr, "") && q->blob.len == 0 &&
	   !strcmp(q->extra.ptr, "1"), "empty buffers (ptr NULL, len 0) pack and fix up");
	m.blob = mkbuf(NULL, 4);
	ok(act__msg_packed_size(&all_type, &m) == SIZE_MAX,
	   "ptr NULL with len 4 cannot be packed (SIZE_MAX)");
	ping_t ping = { 3 };
	_Alignas(8) char pp[sizeof ping];
	ok(act__msg_packed_size(&ping_type, &ping) == sizeof ping &&
	   act__msg_pack(&ping_type, &ping, pp) == sizeof ping &&
	   act__msg_fixup(&ping_type, pp, sizeof pp) == 0 && ((ping_t *)pp)->count == 3,
	   "a type without variable fields packs as its struct");
	free(p);
}

/* Random mutations of JSON text: decode must never misbehave. */
static void test_decode_fuzz(void)
{
	const char *seed = "{\"i32\":-1,\"i64\":2,\"u64\":3,\"dbl\":4.5e3,\"flag\":false,"
	                   "\"name\":\"n\\u00e9\",\"text\":\"h\\\"i\\\\\",\"blob\":\"AAECAwQ=\","
	                   "\"extra\":{\"a\":[1,{\"b\":\"c\"}]}}";
	static const char alphabet[] = "{}[]\",:\\0123456789.eE+-tfnul aA=/\x80\xff";
	size_t n = strlen(seed);
	int decoded = 0, sound = 1;

	for (int iter = 0; iter < 3000; iter++) {
		char *in = malloc(n);
		memcpy(in, seed, n);
		size_t len = rnd() % 8 ? n : rnd() % n;
		for (int k = 0, m = 1 + (int)(rnd() % 3); k < m; k++)
			in[rnd() % n] = rnd() % 2 ? alphabet[rnd() % (sizeof alphabet - 1)]
			                          : (char)rnd();
		size_t cap = rnd() % 2 ? 4096 : rnd() % 256;
		void *out = malloc(cap ? cap : 1);
		size_t used;
		if (act_json_decode(&all_type, in, len, out, cap, &used, NULL, 0) == 0) {
			all_t *m = out;
			decoded++;
			sound &= used <= cap && buf_inside(m->text, out, used) &&
			         buf_inside(m->blob, out, used) && buf_inside(m->extra, out, used);
			(void)touch(m);
		}
		free(out);
		free(in);
	}
	ok(sound, "3000 mutated JSON inputs: no overrun, %d decoded were sound", decoded);
}

/* ---- base64 ----------------------------------------------------------------- */

static void test_base64(void)
{
	static const char *const rfc[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" } };
	char enc[80];
	unsigned char dec[64], src[64];
	size_t n;
	int good = 1;

	for (size_t i = 0; i < 7; i++) {
		size_t len = strlen(rfc[i][0]);
		good &= act__b64_encode(rfc[i][0], len, enc) == strlen(rfc[i][1]) &&
		        !strcmp(enc, rfc[i][1]) && act__b64_encoded_len(len) == strlen(enc);
		good &= act__b64_decode(rfc[i][1], strlen(rfc[i][1]), dec, len, &n) == 0 &&
		        n == len && !memcmp(dec, rfc[i][0], len);
	}
	ok(good, "base64: RFC 4648 test vectors both ways");
	ok(act__b64_decode("Zm9vYg==", 8, dec, 3, &n) == -EMSGSIZE,
	   "base64: -EMSGSIZE when cap is too small");
	ok(act__b64_encode("\xfb\xff", 2, enc) == 4 && !strcmp(enc, "+/8="),
	   "base64: standard alphabet (+ and /)");
	good = 1;
	for (size_t len = 0; len < 48; len++) {
		for (size_t i = 0; i < len; i++)
			src[i] = (unsigned char)rnd();
		size_t e = act__b64_encode(src, len, enc);
		good &= e == act__b64_encoded_len(len) &&
		        act__b64_decode(enc, e, dec, len, &n) == 0 && n == len &&
		        !memcmp(src, dec, len);
	}
	ok(good, "base64: random round trips of 0..47 bytes at exact capacity");
}

int main(void)
{
	tap_timeout(60);
	test_validate();
	test_base64();
	test_roundtrip();
	test_python_form();
	test_wide_integers();
	test_doubles();
	test_builtins();
	test_decode_errors();
	test_encode_errors();
	test_pack();
	test_decode_fuzz();
	return done_testing();
}
