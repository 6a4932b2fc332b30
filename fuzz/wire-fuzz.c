/* SPDX-License-Identifier: MIT */
/*
 * fuzz/wire-fuzz.c - libFuzzer target for the gateway's frame -> envelope
 * path (src/wire.c), checked against the reference tree parser (t/wire-tree.c).
 *
 * Every input is parsed as one frame with the default limits; beyond "no
 * crash, no leak, no read past the frame" it checks the invariants the
 * gateway relies on:
 *  - the reason is one terminated line, and a refused frame keeps no
 *    envelope except the borrowed names;
 *  - an accepted frame is strict UTF-8, and re-encoding it (encode of the
 *    printed message) parses back to the same names and message;
 *  - whenever the sender is addressable, the Reject we would send back
 *    parses as a valid envelope addressed to it;
 *  - act__wire_parse_view() agrees with act__wire_parse(), with the
 *    default limits and with tiny ones (which make the limit checks race
 *    each other): the same class and reason, the same names (but those
 *    beyond ACT__WIRE_NAME_MAX, which only the view refuses), and a
 *    message text inside the frame that cJSON parses to the same tree, with
 *    number_overflow exactly when a number in it parses as infinite.
 *
 * Build (see the report of the wire module):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iinclude -Isrc -It \
 *       fuzz/wire-fuzz.c src/wire.c src/utf8.c t/wire-tree.c -lcjson -lm -o wire-fuzz
 *   ./wire-fuzz -max_len=65536 fuzz/corpus/wire
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "wire.h"
#include "wire-tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static int same(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

/* The Reject for env must be a valid envelope back to its sender. */
static void check_reject(const struct act__wire_env *env, const char *reason)
{
	struct act__wire_env back;
	size_t n = 0;
	char *t;

	t = act__wire_reject(env->sender_actor, env->message_type, reason,
	                     env->receiver, env->sender_endpoint, &n);
	CHECK(t && n == strlen(t));
	CHECK(act__wire_parse(t, n, NULL, &back, NULL, 0) == ACT__WIRE_OK);
	CHECK(!strcmp(back.receiver, env->sender_actor));
	CHECK(!strcmp(back.message_type, "Reject"));
	CHECK(!back.sender_actor); /* anonymous, as the family sends it */
	CHECK(same(back.sender_endpoint, env->sender_endpoint));
	CHECK(cJSON_GetArraySize(back.message) == 3);
	act__wire_env_free(&back);
	free(t);
}

/*
 * Whether a number below j is within 15 significant digits of DBL_MAX:
 * cJSON 1.7.15 prints those rounded up (1.79769313486232e+308) and reads
 * that back as infinite (printed null), since its round-trip test compares
 * with a relative epsilon that infinity passes.
 */
static int has_huge(const cJSON *j)
{
	for (; j; j = j->next)
		if ((cJSON_IsNumber(j) && fabs(j->valuedouble) >= 1.797693134862315e308) ||
		    (j->child && has_huge(j->child)))
			return 1;
	return 0;
}

/* encode(parse(frame)) must parse back to the same envelope. */
static void check_round_trip(const struct act__wire_env *env)
{
	struct act__wire_limits lim;
	struct act__wire_env back;
	char *msg, *t, *msg2;
	size_t n = 0;

	msg = cJSON_PrintUnformatted(env->message);
	if (!msg)
		return; /* OOM */
	t = act__wire_encode(env->receiver, env->message_type, msg,
	                     env->sender_actor, env->sender_endpoint, &n);
	CHECK(t && n == strlen(t));
	/* Numbers may print longer than they were written ("1e9"), so the
	 * frame may grow past max_frame; every other limit still holds. */
	act__wire_limits_default(&lim);
	lim.max_frame = SIZE_MAX;
	CHECK(act__wire_parse(t, n, &lim, &back, NULL, 0) == ACT__WIRE_OK);
	CHECK(!strcmp(back.receiver, env->receiver));
	CHECK(!strcmp(back.message_type, env->message_type));
	CHECK(same(back.sender_actor, env->sender_actor));
	CHECK(same(back.sender_endpoint, env->sender_endpoint));
	msg2 = cJSON_PrintUnformatted(back.message);
	CHECK(!msg2 || !strcmp(msg, msg2) || has_huge(env->message));
	free(msg2);
	act__wire_env_free(&back);
	free(t);
	free(msg);
}

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

/* Errors of the scan itself (and the size gate): see t/wire.c. */
static int salvaged_class(enum act__wire_err e, const char *err)
{
	return e == ACT__WIRE_TOO_BIG || e == ACT__WIRE_NOT_UTF8 || e == ACT__WIRE_BAD_JSON ||
	       e == ACT__WIRE_TOO_DEEP ||
	       (e == ACT__WIRE_TOO_LONG && !strncmp(err, "number longer", 13));
}

/* The view of the frame must agree with what act__wire_parse() made of it. */
static void check_view(const uint8_t *data, size_t size, const struct act__wire_limits *lim,
                       enum act__wire_err e, const struct act__wire_env *env, const char *err)
{
	static const char *const field[4] = {
		"receiver", "message_type", "sender_actor", "sender_endpoint",
	};
	const char *name[4] = {
		env->receiver, env->message_type, env->sender_actor, env->sender_endpoint,
	};
	struct act__wire_view v;
	char verr[256], want_err[256];
	enum act__wire_err ve, want = e;

	snprintf(want_err, sizeof want_err, "%s", err);
	for (int k = 0; k < 4 && e == ACT__WIRE_OK && want == ACT__WIRE_OK; k++) {
		if (name[k] && strlen(name[k]) > ACT__WIRE_NAME_MAX) {
			want = ACT__WIRE_TOO_LONG;
			snprintf(want_err, sizeof want_err, "field \"%s\" longer than %u bytes",
			         field[k], ACT__WIRE_NAME_MAX);
		}
	}
	memset(&v, 0xA5, sizeof v);
	ve = act__wire_parse_view(data, size, lim, &v, verr, sizeof verr);
	CHECK(ve == want);
	CHECK(!strcmp(verr, want_err));
	if (salvaged_class(ve, verr)) {
		/* The view keeps the names read whole before a scan error, which
		 * the reference cannot see: they only have to be sane. */
		const char *got[4] = { v.receiver, v.message_type, v.sender_actor,
		                       v.sender_endpoint };
		for (int k = 0; k < 4; k++)
			CHECK(!got[k] || (got[k][0] && strlen(got[k]) <= ACT__WIRE_NAME_MAX &&
			                  act__utf8_valid(got[k], strlen(got[k]))));
	} else {
		CHECK(same(v.receiver, fits(env->receiver)));
		CHECK(same(v.message_type, fits(env->message_type)));
		CHECK(same(v.sender_actor, fits(env->sender_actor)));
		CHECK(same(v.sender_endpoint, fits(env->sender_endpoint)));
	}
	if (ve == ACT__WIRE_OK) {
		cJSON *m;
		char *a, *b;

		CHECK(v.message_text >= (const char *)data && v.message_len >= 2 &&
		      v.message_len <= size - (size_t)(v.message_text - (const char *)data));
		CHECK(v.message_text[0] == '{' && v.message_text[v.message_len - 1] == '}');
		m = cJSON_ParseWithLength(v.message_text, v.message_len);
		if (!m)
			return; /* OOM */
		CHECK(v.number_overflow == has_inf(m));
		a = cJSON_PrintUnformatted(m);
		b = cJSON_PrintUnformatted(env->message);
		CHECK(!a || !b || !strcmp(a, b));
		free(a);
		free(b);
		cJSON_Delete(m);
	} else {
		CHECK(!v.message_text && !v.number_overflow);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct act__wire_env env;
	char err[256];
	enum act__wire_err e;

	e = act__wire_parse(data, size, NULL, &env, err, sizeof err);
	check_view(data, size, NULL, e, &env, err);
	{
		/* Tiny limits, chosen by the frame's length so a crash reproduces. */
		struct act__wire_limits tiny = {
			size, 2 + (unsigned)(size % 5), 4 + size / 5 % 30, 2 + (unsigned)(size / 150 % 8),
		};
		struct act__wire_env env2;
		char err2[256];
		enum act__wire_err e2 = act__wire_parse(data, size, &tiny, &env2, err2, sizeof err2);

		check_view(data, size, &tiny, e2, &env2, err2);
		act__wire_env_free(&env2);
	}
	CHECK((unsigned)e < ACT__WIRE_N_ERRS);
	CHECK(memchr(err, '\0', sizeof err) && !strchr(err, '\n'));
	CHECK(act__wire_err_name(e) != NULL);
	if (e == ACT__WIRE_OK) {
		CHECK(!err[0]);
		CHECK(act__utf8_valid(data, size));
		CHECK(env.receiver && env.receiver[0] && env.message_type && env.message_type[0]);
		CHECK(cJSON_IsObject(env.message));
		check_round_trip(&env);
	} else {
		CHECK(err[0]);
		CHECK(!env.message);
		if (!env.root)
			CHECK(!env.sender_actor && !env.sender_endpoint &&
			      !env.receiver && !env.message_type);
	}
	if (env.sender_actor && env.sender_endpoint) {
		char ep[512];
		int r = act__wire_normalize_endpoint(env.sender_endpoint, ep, sizeof ep);
		CHECK(r == 0 || (r == -EMSGSIZE && strlen(env.sender_endpoint) >= sizeof ep - 15));
		check_reject(&env, err);
	}
	act__wire_env_free(&env);
	return 0;
}
