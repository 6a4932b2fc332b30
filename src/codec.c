/* SPDX-License-Identifier: MIT */
/*
 * codec.c - the JSON codec: a message struct <-> a JSON object with one
 * member per field, keyed by the field's name.  This is what makes a C
 * Ping{int32 count} and a Python Ping(count) the same message on the wire.
 *
 * Integers.  cJSON reads every JSON number into a double, which holds
 * integers exactly only up to 2^53.  Beyond that the parser has already
 * rounded (9007199254740993 reads as 9007199254740992), so an integer field
 * accepts only |v| <= 2^53 - 1 and refuses anything larger with -ERANGE
 * instead of delivering a different number.  A fraction is refused with
 * -EPROTO, except one the parser rounded away, which can only happen above
 * 2^52.  On output integers are printed from the C value as decimal text,
 * so every int64 and uint64 goes out exactly and in plain notation (a peer
 * with big integers, like Python, reads them back exactly).
 *
 * Doubles.  We print them ourselves too (print_double), also inside ACT_JSON
 * values, because cJSON's printing can lose the last digit; every finite
 * double makes the round trip bit for bit.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <actors.h>

#include "base64.h"
#include "message.h"

/* Largest integer magnitude a double read from JSON is known to hold exactly. */
#define MAX_EXACT 9007199254740991.0 /* 2^53 - 1 */
#define TWO_52    4503599627370496.0

static size_t round8(size_t n) { return (n + 7) & ~(size_t)7; }

/* Writes "field 'name': why" (or just why) to err; returns rc. */
static int set_err(char *err, size_t err_cap, int rc, const char *field,
                   const char *why)
{
	if (err && err_cap) {
		if (field)
			snprintf(err, err_cap, "field '%s': %s", field, why);
		else
			snprintf(err, err_cap, "%s", why);
	}
	return rc;
}

/* Parses text[0..len) as exactly one JSON value, whitespace around it. */
static cJSON *parse_all(const char *text, size_t len)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);

	if (!j)
		return NULL;
	while (end < text + len && (*end == ' ' || *end == '\t' ||
	                            *end == '\n' || *end == '\r'))
		end++;
	if (end != text + len) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

/* ---- encode ----------------------------------------------------------------- */

/* A cJSON string holding p[0..len), which must not contain a NUL. */
static cJSON *string_n(const char *p, size_t len)
{
	char *s = malloc(len + 1);
	cJSON *j;

	if (!s)
		return NULL;
	if (len)
		memcpy(s, p, len);
	s[len] = '\0';
	j = cJSON_CreateString(s);
	free(s);
	return j;
}

/*
 * Prints the finite double d exactly: an integer up to 2^53 in plain
 * digits, anything else in the shortest %g form (15 to 17 digits) that
 * reads back as d.  cJSON's own printing is not exact: it settles for a
 * 15-digit form within an epsilon, which turns DBL_MAX into text that reads
 * back as infinity, and it writes 1e+15 for an integer.
 */
static void print_double(double d, char *buf, size_t cap)
{
	char *dp;

	if (d >= -MAX_EXACT && d <= MAX_EXACT && (double)(int64_t)d == d) {
		snprintf(buf, cap, "%s%" PRId64, signbit(d) && d == 0 ? "-" : "",
		         (int64_t)d);
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, cap, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	/* %g writes LC_NUMERIC's decimal point; JSON wants '.'. */
	dp = buf + (*buf == '-');
	while (*dp >= '0' && *dp <= '9')
		dp++;
	if (*dp && *dp != 'e') {
		char *frac = dp;
		while (*frac && (*frac < '0' || *frac > '9'))
			frac++;
		*dp = '.';
		memmove(dp + 1, frac, strlen(frac) + 1);
	}
}

/*
 * Turns every number in the tree j (and its siblings) into a raw item
 * holding print_double()'s text, so that an ACT_JSON value is printed as
 * exactly as cJSON parsed it.  Returns 0, -ERANGE (a number that overflowed
 * a double, like 1e999) or -ENOMEM.
 */
static int exact_numbers(cJSON *j)
{
	char num[40];
	size_t n;
	int rc;

	for (; j; j = j->next) {
		if (cJSON_IsNumber(j)) {
			if (!isfinite(j->valuedouble))
				return -ERANGE;
			print_double(j->valuedouble, num, sizeof num);
			n = strlen(num) + 1;
			if (!(j->valuestring = cJSON_malloc(n)))
				return -ENOMEM;
			memcpy(j->valuestring, num, n);
			j->type = cJSON_Raw;
		} else if (j->child && (rc = exact_numbers(j->child))) {
			return rc;
		}
	}
	return 0;
}

int act__json_exact_numbers(cJSON *obj)
{
	return obj && obj->child ? exact_numbers(obj->child) : 0;
}

/* Encodes the field f of the message at msg into *out. */
static int encode_field(const act_field *f, const char *msg, cJSON **out)
{
	const char *p = msg + f->offset;
	char num[40];
	int32_t i32;
	int64_t i64;
	uint64_t u64;
	double d;
	unsigned char c;
	act_buf b;
	int rc;

	*out = NULL;
	switch (f->kind) {
	case ACT_I32:
		memcpy(&i32, p, sizeof i32);
		snprintf(num, sizeof num, "%" PRId32, i32);
		*out = cJSON_CreateRaw(num);
		break;
	case ACT_I64:
		memcpy(&i64, p, sizeof i64);
		snprintf(num, sizeof num, "%" PRId64, i64);
		*out = cJSON_CreateRaw(num);
		break;
	case ACT_U64:
		memcpy(&u64, p, sizeof u64);
		snprintf(num, sizeof num, "%" PRIu64, u64);
		*out = cJSON_CreateRaw(num);
		break;
	case ACT_DOUBLE:
		memcpy(&d, p, sizeof d);
		if (!isfinite(d))
			return -EINVAL; /* JSON has no NaN or Infinity */
		print_double(d, num, sizeof num);
		*out = cJSON_CreateRaw(num);
		break;
	case ACT_BOOL:
		memcpy(&c, p, 1);
		*out = cJSON_CreateBool(c != 0);
		break;
	case ACT_STR:
		if (!memchr(p, 0, f->size))
			return -EINVAL;
		*out = cJSON_CreateString(p);
		break;
	case ACT_VSTR:
	case ACT_BYTES:
	case ACT_JSON:
		memcpy(&b, p, sizeof b);
		if (!b.ptr && b.len)
			return -EINVAL;
		if (f->kind == ACT_VSTR) {
			if (b.len && memchr(b.ptr, 0, b.len))
				return -EINVAL;
			*out = string_n(b.ptr, b.len);
		} else if (f->kind == ACT_BYTES) {
			char *s = malloc(act__b64_encoded_len(b.len) + 1);
			if (!s)
				return -ENOMEM;
			act__b64_encode(b.ptr, b.len, s);
			*out = cJSON_CreateString(s);
			free(s);
		} else {
			/* Parsed rather than pasted as raw text, so that only a
			 * valid JSON value can reach the wire. */
			if (!b.ptr || !(*out = parse_all(b.ptr, b.len)))
				return -EINVAL;
			if ((rc = exact_numbers(*out))) {
				cJSON_Delete(*out);
				*out = NULL;
				return rc == -ERANGE ? -EINVAL : rc;
			}
		}
		break;
	default:
		return -EINVAL;
	}
	return *out ? 0 : -ENOMEM;
}

cJSON *act__json_encode_obj(const act_type *t, const void *msg, int *err)
{
	cJSON *obj = cJSON_CreateObject();
	int rc = -ENOMEM;

	if (!obj)
		goto fail;
	for (uint32_t i = 0; i < t->n_fields; i++) {
		const act_field *f = &t->fields[i];
		cJSON *j;

		rc = encode_field(f, msg, &j);
		if (rc)
			goto fail_obj;
		if (!cJSON_AddItemToObject(obj, f->name, j)) {
			cJSON_Delete(j);
			rc = -ENOMEM;
			goto fail_obj;
		}
	}
	*err = 0;
	return obj;

fail_obj:
	cJSON_Delete(obj);
fail:
	*err = rc;
	return NULL;
}

ACT_API int act_json_encode(const act_type *t, const void *msg,
                            char *buf, size_t cap, size_t *out_len)
{
	cJSON *obj;
	char *text;
	size_t n;
	int rc;

	if (out_len)
		*out_len = 0;
	if (!msg || !buf || act__type_validate(t))
		return -EINVAL;
	obj = act__json_encode_obj(t, msg, &rc);
	if (!obj)
		return rc;
	text = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (!text)
		return -ENOMEM;
	n = strlen(text);
	if (n < cap) {
		memcpy(buf, text, n + 1);
		if (out_len)
			*out_len = n;
	} else {
		rc = -EMSGSIZE;
	}
	cJSON_free(text);
	return rc;
}

/* ---- decode ----------------------------------------------------------------- */

/* The output of one decode: a packed message being built in out[0..cap). */
struct dec {
	char *out;
	size_t cap;
	size_t pos; /* end of what is written so far */
};

/*
 * Aligns the write position to 8 (zeroing the padding) for the next
 * variable-length data and returns where it goes, with *room bytes there;
 * NULL if there is no room at all.  Offsets are 32-bit, so is room.
 */
static char *var_space(struct dec *d, size_t *room)
{
	size_t lim = d->cap < UINT32_MAX ? d->cap : UINT32_MAX;
	size_t at = round8(d->pos);

	if (at > lim)
		return NULL;
	memset(d->out + d->pos, 0, at - d->pos);
	d->pos = at;
	*room = lim - at;
	return d->out + at;
}

/* Stores the act_buf of field f for the n bytes just written at d->pos. */
static void var_done(struct dec *d, const act_field *f, size_t n, int nul)
{
	act_buf b = { d->out + d->pos, (uint32_t)n, (uint32_t)d->pos };

	memcpy(d->out + f->offset, &b, sizeof b);
	d->pos += n + (size_t)nul;
}

/* Copies the C string s (n bytes) as the data of field f, with its NUL. */
static int put_str(struct dec *d, const act_field *f, const char *s, size_t n)
{
	size_t room;
	char *p = var_space(d, &room);

	if (!p || n >= room)
		return -EMSGSIZE;
	memcpy(p, s, n + 1);
	var_done(d, f, n, 1);
	return 0;
}

/*
 * Reads the integral JSON number j into *v, which must lie in [lo, hi].
 * Returns 0, -EPROTO (not a number or not integral) or -ERANGE.
 */
static int get_int(const cJSON *j, double lo, double hi, double *v,
                   const char **why)
{
	double x;

	*why = "expected an integer";
	if (!cJSON_IsNumber(j))
		return -EPROTO;
	x = j->valuedouble;
	/* Every double of magnitude 2^52 or more is integral; below that the
	 * conversion drops exactly the fraction.  (No floor(): no libm.) */
	if (x > -TWO_52 && x < TWO_52 && (double)(int64_t)x != x)
		return -EPROTO;
	if (!isfinite(x) || x < lo || x > hi) {
		*why = lo == 0 && x < 0 ? "negative value for an unsigned field"
		                        : "integer out of range";
		return -ERANGE;
	}
	*v = x;
	return 0;
}

/* Decodes the JSON value j into field f; *why gets the reason on failure. */
static int decode_field(struct dec *d, const act_field *f, const cJSON *j,
                        const char **why)
{
	char *p = d->out + f->offset;
	const char *s = cJSON_GetStringValue(j); /* NULL unless a string */
	size_t n, room;
	int32_t i32;
	int64_t i64;
	uint64_t u64;
	bool bv;
	double x;
	char *text;
	cJSON *copy;
	int rc;

	switch (f->kind) {
	case ACT_I32:
		if ((rc = get_int(j, INT32_MIN, INT32_MAX, &x, why)))
			return rc;
		i32 = (int32_t)x;
		memcpy(p, &i32, sizeof i32);
		return 0;
	case ACT_I64:
		if ((rc = get_int(j, -MAX_EXACT, MAX_EXACT, &x, why)))
			return rc;
		i64 = (int64_t)x;
		memcpy(p, &i64, sizeof i64);
		return 0;
	case ACT_U64:
		if ((rc = get_int(j, 0, MAX_EXACT, &x, why)))
			return rc;
		u64 = (uint64_t)x;
		memcpy(p, &u64, sizeof u64);
		return 0;
	case ACT_DOUBLE:
		*why = "expected a number";
		if (!cJSON_IsNumber(j))
			return -EPROTO;
		x = j->valuedouble;
		if (!isfinite(x)) {
			*why = "number out of range";
			return -ERANGE; /* e.g. 1e999, which strtod makes infinite */
		}
		memcpy(p, &x, sizeof x);
		return 0;
	case ACT_BOOL:
		*why = "expected true or false";
		if (!cJSON_IsBool(j))
			return -EPROTO;
		bv = cJSON_IsTrue(j);
		memcpy(p, &bv, sizeof bv);
		return 0;
	case ACT_STR:
		*why = "expected a string";
		if (!s)
			return -EPROTO;
		n = strlen(s);
		*why = "string too long";
		if (n > f->size - 1)
			return -EMSGSIZE;
		memcpy(p, s, n + 1);
		return 0;
	case ACT_VSTR:
		*why = "expected a string";
		if (!s)
			return -EPROTO;
		*why = "output buffer too small";
		return put_str(d, f, s, strlen(s));
	case ACT_BYTES:
		*why = "expected a base64 string";
		if (!s)
			return -EPROTO;
		*why = "output buffer too small";
		if (!(text = var_space(d, &room)))
			return -EMSGSIZE;
		rc = act__b64_decode(s, strlen(s), text, room, &n);
		if (rc == -EPROTO)
			*why = "invalid base64";
		if (rc)
			return rc;
		var_done(d, f, n, 0);
		return 0;
	case ACT_JSON:
		/* Any JSON value, stored as its compact text, numbers exact. */
		*why = "out of memory";
		if (!(copy = cJSON_Duplicate(j, 1)))
			return -ENOMEM;
		if ((rc = exact_numbers(copy))) {
			if (rc == -ERANGE)
				*why = "number out of range";
			cJSON_Delete(copy);
			return rc;
		}
		text = cJSON_PrintUnformatted(copy);
		cJSON_Delete(copy);
		if (!text)
			return -ENOMEM;
		*why = "output buffer too small";
		rc = put_str(d, f, text, strlen(text));
		cJSON_free(text);
		return rc;
	default:
		*why = "unknown field kind";
		return -EINVAL;
	}
}

/* Start and Shutdown come from peers as {} too: their fields default to 0. */
static int fields_optional(const act_type *t)
{
	return t == &act_start_type || t == &act_shutdown_type;
}

int act__json_decode_obj(const act_type *t, const cJSON *obj, void *out,
                         size_t cap, size_t *used, char *err, size_t err_cap)
{
	struct dec d = { out, cap, t->size };

	if (used)
		*used = 0;
	if (!cJSON_IsObject(obj))
		return set_err(err, err_cap, -EPROTO, NULL, "expected a JSON object");
	if (cap < t->size)
		return set_err(err, err_cap, -EMSGSIZE, NULL, "output buffer too small");
	memset(out, 0, t->size);
	for (uint32_t i = 0; i < t->n_fields; i++) {
		const act_field *f = &t->fields[i];
		const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, f->name);
		const char *why;
		int rc;

		if (!j) {
			if (fields_optional(t))
				continue;
			return set_err(err, err_cap, -EPROTO, f->name, "missing");
		}
		rc = decode_field(&d, f, j, &why);
		if (rc)
			return set_err(err, err_cap, rc, f->name, why);
	}
	if (used)
		*used = d.pos;
	return 0;
}

ACT_API int act_json_decode(const act_type *t, const char *json, size_t len,
                            void *out, size_t cap, size_t *used,
                            char *err, size_t err_cap)
{
	cJSON *obj;
	int rc;

	if (used)
		*used = 0;
	if (err && err_cap)
		err[0] = '\0';
	if ((!json && len) || !out || act__type_validate(t))
		return set_err(err, err_cap, -EINVAL, NULL, "invalid argument");
	/* cJSON cannot tell running out of memory from bad input. */
	obj = parse_all(json, len);
	if (!obj)
		return set_err(err, err_cap, -EPROTO, NULL, "invalid JSON");
	rc = act__json_decode_obj(t, obj, out, cap, used, err, err_cap);
	cJSON_Delete(obj);
	return rc;
}
