/*
 * fuzz/wire-fuzz.c - libFuzzer target for the gateway's frame -> envelope
 * path (src/wire.c).
 *
 * Every input is parsed as one frame with the default limits; beyond "no
 * crash, no leak, no read past the frame" it checks the invariants the
 * gateway relies on:
 *  - the reason is one terminated line, and a refused frame keeps no
 *    envelope except the borrowed names;
 *  - an accepted frame is strict UTF-8, and re-encoding it (encode of the
 *    printed message) parses back to the same names and message;
 *  - whenever the sender is addressable, the Reject we would send back
 *    parses as a valid envelope addressed to it.
 *
 * Build (see the report of the wire module):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iinclude -Isrc \
 *       fuzz/wire-fuzz.c src/wire.c -lcjson -o wire-fuzz
 *   ./wire-fuzz -max_len=65536 fuzz/corpus/wire
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

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
	CHECK(same(back.sender_actor, env->receiver));
	CHECK(same(back.sender_endpoint, env->sender_endpoint));
	CHECK(cJSON_GetArraySize(back.message) == 3);
	act__wire_env_free(&back);
	free(t);
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
	CHECK(!msg2 || !strcmp(msg, msg2));
	free(msg2);
	act__wire_env_free(&back);
	free(t);
	free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct act__wire_env env;
	char err[256];
	enum act__wire_err e;

	e = act__wire_parse(data, size, NULL, &env, err, sizeof err);
	CHECK((unsigned)e < ACT__WIRE_N_ERRS);
	CHECK(memchr(err, '\0', sizeof err) && !strchr(err, '\n'));
	CHECK(act__wire_err_name(e) != NULL);
	if (e == ACT__WIRE_OK) {
		CHECK(!err[0]);
		CHECK(act__wire_utf8_valid(data, size));
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
