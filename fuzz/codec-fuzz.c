/* SPDX-License-Identifier: MIT */
/*
 * fuzz/codec-fuzz.c - libFuzzer target for the payload codec (src/codec.c)
 * and the packed form it produces (src/message.c).
 *
 * The first input byte picks a message descriptor (every field kind, odd
 * offsets and sizes, the built-in Start with its optional fields, Reject,
 * a type without fields) and an output capacity; the rest is handed to
 * act_json_decode() as untrusted JSON.  Beyond "no crash, no leak, no
 * access outside the output buffer" (it is allocated to the exact
 * capacity, so ASan sees any overrun), it checks what the runtime relies on:
 *  - a failure returns one of the documented codes with a one-line reason;
 *  - a success used t->size..cap bytes, every act_buf points into them at
 *    its 8-aligned offset, VSTR and JSON data are NUL-terminated, ACT_STR
 *    holds a NUL, ACT_BOOL is 0 or 1, doubles are finite, integers are in
 *    the exact range;
 *  - the decoded message encodes (act_json_encode must not refuse what
 *    decode produced), and decoding that text gives the same message
 *    field for field (doubles bit for bit), and encoding it again gives the
 *    same text: the codec is a fixpoint after one round;
 *  - the packed form (act__msg_pack) passes act__msg_fixup and holds the
 *    same fields.
 * With the top bit of the first byte set, the rest is instead treated as a
 * packed message from shared memory and given to act__msg_fixup(), which
 * must refuse or accept it without reading outside it; what it accepts is
 * what a local actor may have sent, so act_json_encode() must encode it or
 * refuse it with -EINVAL, and the text must decode.
 *
 * Build and run (from the source tree, after ./configure for config.h, or
 * with a config.h that defines PACKAGE_VERSION):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iinclude -Isrc \
 *       -DACT_BUILDING_LIBRARY fuzz/codec-fuzz.c src/codec.c src/message.c \
 *       src/base64.c -lcjson -o codec-fuzz
 *   ./codec-fuzz -max_len=4096 fuzz/corpus/codec
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <actors.h>

#include "message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

/* Every scalar kind, at their natural offsets, plus strings of 1 and 8. */
typedef struct {
	int32_t i32;
	int64_t i64;
	uint64_t u64;
	double d;
	bool b;
	char s8[8];
	char s1[1];
} scalars_t;

ACT_MESSAGE_TYPE(scalars_type, scalars_t, "Scalars",
                 ACT_FIELD(scalars_t, i32, ACT_I32),
                 ACT_FIELD(scalars_t, i64, ACT_I64),
                 ACT_FIELD(scalars_t, u64, ACT_U64),
                 ACT_FIELD(scalars_t, d, ACT_DOUBLE),
                 ACT_FIELD(scalars_t, b, ACT_BOOL),
                 ACT_FIELD(scalars_t, s8, ACT_STR),
                 ACT_FIELD(scalars_t, s1, ACT_STR));

/* The variable-length kinds. */
typedef struct {
	act_buf vstr;
	act_buf bytes;
	act_buf json;
} vars_t;

ACT_MESSAGE_TYPE(vars_type, vars_t, "Vars",
                 ACT_FIELD(vars_t, vstr, ACT_VSTR),
                 ACT_FIELD(vars_t, bytes, ACT_BYTES),
                 ACT_FIELD(vars_t, json, ACT_JSON));

/* Everything mixed, fields out of offset order, odd-sized strings. */
typedef struct {
	bool flag;
	char tag[3];
	int32_t n;
	act_buf text;
	double x;
	act_buf blob;
	uint64_t big;
	act_buf any;
	int64_t neg;
	bool last;
} mixed_t;

ACT_MESSAGE_TYPE(mixed_type, mixed_t, "Mixed",
                 ACT_FIELD(mixed_t, any, ACT_JSON),
                 ACT_FIELD(mixed_t, flag, ACT_BOOL),
                 ACT_FIELD(mixed_t, text, ACT_VSTR),
                 ACT_FIELD(mixed_t, tag, ACT_STR),
                 ACT_FIELD(mixed_t, blob, ACT_BYTES),
                 ACT_FIELD(mixed_t, n, ACT_I32),
                 ACT_FIELD(mixed_t, x, ACT_DOUBLE),
                 ACT_FIELD(mixed_t, big, ACT_U64),
                 ACT_FIELD(mixed_t, neg, ACT_I64),
                 ACT_FIELD(mixed_t, last, ACT_BOOL));

/* Two fields of one variable kind, so their data blocks follow each other. */
typedef struct {
	act_buf a;
	act_buf b;
} two_t;

ACT_MESSAGE_TYPE(two_type, two_t, "Two",
                 ACT_FIELD(two_t, a, ACT_JSON),
                 ACT_FIELD(two_t, b, ACT_JSON));

typedef struct { char unused; } empty_t;
ACT_MESSAGE_TYPE_EMPTY(empty_type, empty_t, "Empty");

static act_type *const types[] = {
	&scalars_type, &vars_type, &mixed_type, &two_type, &empty_type,
	&act_start_type, &act_reject_type, &act_timeout_type,
};
#define N_TYPES (sizeof types / sizeof types[0])

#define MAX_EXACT 9007199254740991.0

static size_t round8(size_t n) { return (n + 7) & ~(size_t)7; }

/*
 * The fields of a decoded (or fixed-up) message m of t obey the contract.
 * A decoded message (strict) has integers in the exact range, finite
 * doubles and no NUL inside a VSTR or JSON text; a packed message from
 * shared memory only promises the NUL after its data.
 */
static void check_fields(const act_type *t, const char *m, size_t used, bool strict)
{
	for (uint32_t i = 0; i < t->n_fields; i++) {
		const act_field *f = &t->fields[i];
		const char *p = m + f->offset;
		act_buf b;
		int64_t i64;
		uint64_t u64;
		double d;

		switch (f->kind) {
		case ACT_I64:
			/* Local senders may send any int64 or double; only what
			 * came from JSON is bounded. */
			memcpy(&i64, p, sizeof i64);
			CHECK(!strict || i64 >= -(int64_t)MAX_EXACT && i64 <= (int64_t)MAX_EXACT);
			break;
		case ACT_U64:
			memcpy(&u64, p, sizeof u64);
			CHECK(!strict || u64 <= (uint64_t)MAX_EXACT);
			break;
		case ACT_DOUBLE:
			memcpy(&d, p, sizeof d);
			CHECK(!strict || isfinite(d));
			break;
		case ACT_BOOL:
			CHECK((unsigned char)*p <= 1);
			break;
		case ACT_STR:
			CHECK(memchr(p, 0, f->size));
			break;
		case ACT_VSTR:
		case ACT_BYTES:
		case ACT_JSON:
			memcpy(&b, p, sizeof b);
			CHECK(b.off % 8 == 0 && b.off >= t->size);
			CHECK((const char *)b.ptr == m + b.off);
			CHECK((size_t)b.off + b.len <= used);
			if (f->kind != ACT_BYTES) {
				CHECK((size_t)b.off + b.len < used);
				CHECK(((const char *)b.ptr)[b.len] == '\0');
				CHECK(!strict || strlen(b.ptr) == b.len);
			}
			break;
		default:
			break;
		}
	}
}

/* Same message, field by field (doubles bit for bit). */
static void check_same(const act_type *t, const char *a, const char *b)
{
	for (uint32_t i = 0; i < t->n_fields; i++) {
		const act_field *f = &t->fields[i];
		act_buf x, y;

		switch (f->kind) {
		case ACT_STR:
			CHECK(!strcmp(a + f->offset, b + f->offset));
			break;
		case ACT_VSTR:
		case ACT_BYTES:
		case ACT_JSON:
			memcpy(&x, a + f->offset, sizeof x);
			memcpy(&y, b + f->offset, sizeof y);
			CHECK(x.len == y.len && (!x.len || !memcmp(x.ptr, y.ptr, x.len)));
			break;
		default:
			CHECK(!memcmp(a + f->offset, b + f->offset, f->size));
			break;
		}
	}
}

/* Encodes m into a malloc'd text (NULL only on OOM); *len its length. */
static char *encode(const act_type *t, const void *m, size_t *len)
{
	size_t cap = 256;

	for (;;) {
		char *buf = malloc(cap);
		int rc;

		if (!buf)
			return NULL;
		rc = act_json_encode(t, m, buf, cap, len);
		if (rc == 0) {
			CHECK(*len < cap && buf[*len] == '\0' && strlen(buf) == *len);
			return buf;
		}
		free(buf);
		if (rc == -ENOMEM)
			return NULL;
		/* What decode produced must encode. */
		CHECK(rc == -EMSGSIZE);
		CHECK(cap < ((size_t)1 << 28));
		cap *= 4;
	}
}

/*
 * A message a local actor built (any bytes that pass act__msg_fixup) is
 * either encoded or refused with -EINVAL (a non-finite double, a VSTR
 * holding a NUL, ACT_JSON text that is not JSON).  What was encoded
 * decodes, except integers beyond 2^53, which are encoded exactly but
 * refused on the way back in (-ERANGE).
 */
static void check_encode_of_raw(const act_type *t, const char *m)
{
	size_t cap = 1 << 16, len = 0, used = 0;
	char *text = malloc(cap), *back;
	int rc;

	if (!text)
		return;
	rc = act_json_encode(t, m, text, cap, &len);
	CHECK(rc == 0 || rc == -EINVAL || rc == -EMSGSIZE || rc == -ENOMEM);
	if (rc == 0 && (back = malloc(round8(t->size) + 2 * len + 64))) {
		char err[128];
		rc = act_json_decode(t, text, len, back, round8(t->size) + 2 * len + 64, &used,
		                     err, sizeof err);
		/* Integers beyond 2^53 are refused on the way back in. */
		CHECK(rc == 0 || rc == -ERANGE || rc == -ENOMEM);
		if (rc == 0)
			check_fields(t, back, used, true);
		free(back);
	}
	free(text);
}

static void check_fixup_of_raw(const act_type *t, const uint8_t *data, size_t size)
{
	/* Shared memory is 8-aligned; copy so the buffer is exactly size. */
	char *p = malloc(size ? size : 1);

	if (!p)
		return;
	if (size)
		memcpy(p, data, size);
	if (act__msg_fixup(t, p, size) == 0) {
		check_fields(t, p, size, false);
		check_encode_of_raw(t, p);
	}
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const act_type *t;
	size_t cap, used = 0, len1 = 0, len2 = 0, used2 = 0;
	char err[256], *out, *text1, *text2, *out2, *packed;
	int rc;

	if (size < 1)
		return 0;
	t = types[(data[0] & 0x7f) % N_TYPES];
	CHECK(act__type_validate(t) == 0);
	if (data[0] & 0x80) {
		check_fixup_of_raw(t, data + 1, size - 1);
		return 0;
	}
	/* Capacities: exact-ish and tight ones find the -EMSGSIZE paths. */
	switch ((data[0] >> 4) & 7) {
	case 0: cap = t->size; break;
	case 1: cap = t->size + 8; break;
	case 2: cap = t->size + 17; break;
	case 4: cap = t->size - 1; break; /* too small for the struct itself */
	default: cap = round8(t->size) + 2 * size + 64; break;
	}
	out = malloc(cap);
	if (!out)
		return 0;
	memset(err, 'x', sizeof err);
	rc = act_json_decode(t, (const char *)data + 1, size - 1, out, cap, &used,
	                     err, sizeof err);
	CHECK(memchr(err, '\0', sizeof err) && !strchr(err, '\n'));
	if (rc) {
		CHECK(rc == -EPROTO || rc == -ERANGE || rc == -EMSGSIZE || rc == -ENOMEM);
		CHECK(err[0] != '\0');
		CHECK(used == 0);
		free(out);
		return 0;
	}
	CHECK(used >= t->size && used <= cap);
	check_fields(t, out, used, true);

	/* Round trip: encode, decode again, same message, same text. */
	text1 = encode(t, out, &len1);
	if (!text1)
		goto done;
	out2 = malloc(round8(t->size) + 2 * len1 + 64);
	if (!out2) {
		free(text1);
		goto done;
	}
	rc = act_json_decode(t, text1, len1, out2, round8(t->size) + 2 * len1 + 64, &used2,
	                     err, sizeof err);
	CHECK(rc == 0 || rc == -ENOMEM);
	if (rc == 0) {
		check_fields(t, out2, used2, true);
		check_same(t, out, out2);
		text2 = encode(t, out2, &len2);
		if (text2) {
			CHECK(len1 == len2 && !memcmp(text1, text2, len1));
			free(text2);
		}
	}
	free(out2);
	free(text1);

	/* The packed form carries the same message through a ring. */
	size_t psize = act__msg_packed_size(t, out);
	CHECK(psize != SIZE_MAX && psize >= t->size);
	packed = aligned_alloc(8, round8(psize));
	if (packed) {
		CHECK(act__msg_pack(t, out, packed) == psize);
		CHECK(act__msg_fixup(t, packed, psize) == 0);
		check_fields(t, packed, psize, true);
		check_same(t, out, packed);
		free(packed);
	}
done:
	free(out);
	return 0;
}
