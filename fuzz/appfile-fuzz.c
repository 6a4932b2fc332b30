/* SPDX-License-Identifier: MIT */
/*
 * fuzz/appfile-fuzz.c - libFuzzer target for the app-file parser.
 *
 * Feeds arbitrary bytes to act__app_parse() and checks the contract on
 * every outcome: success yields a node whose fields obey the schema (so a
 * bug that lets a bad value through is a finding, not only a crash), and
 * failure yields exactly one message naming the input and a zeroed app.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -DACT_BUILDING_LIBRARY \
 *       -I. -Iinclude -Isrc fuzz/appfile-fuzz.c src/appfile.c -lcjson \
 *       -o appfile-fuzz
 *   ./appfile-fuzz -max_total_time=60 corpus/ t/appfile/
 *
 * Built with -DACT_FUZZ_STANDALONE instead (any compiler, no libFuzzer) it
 * replays the files named on the command line, for regression runs.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "appfile.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "appfile-fuzz: check failed: %s (line %d)\n", #cond, __LINE__); \
	abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > ACT__APP_NAME_MAX)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static int label_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static void check_app(const struct act__app *app)
{
	uint32_t total = 0;

	CHECK(name_ok(app->node));
	CHECK(app->state_dir && app->control_socket && strlen(app->control_socket) <= 107);
	CHECK(!app->advertise || app->endpoint);
	CHECK(!app->curve.enabled || (app->endpoint && app->curve.secret_key_file &&
	                              app->curve.public_key_file));
	CHECK((unsigned)app->strategy <= ACT_REST_FOR_ONE);
	CHECK(app->period_ms >= 1);
	CHECK(app->backoff.factor >= 1.0 && app->backoff.max_ms >= app->backoff.initial_ms);
	CHECK(app->limits.max_string_bytes <= app->limits.max_frame_bytes);
	for (uint32_t i = 0; i < app->curve.n_allow; i++)
		CHECK(strlen(app->curve.allow[i]) == ACT__APP_Z85_KEY_LEN);
	for (uint32_t i = 0; i < app->n_peers; i++) {
		CHECK(name_ok(app->peers[i].name) && app->peers[i].endpoint);
		CHECK(strcmp(app->peers[i].name, app->node));
	}
	CHECK(app->n_groups >= 1 && app->n_groups <= ACT__APP_MAX_GROUPS);
	for (uint32_t g = 0; g < app->n_groups; g++) {
		const struct act__app_group *gr = &app->groups[g];
		CHECK(name_ok(gr->name) && gr->module && gr->module[0]);
		for (uint32_t h = 0; h < g; h++)
			CHECK(strcmp(gr->name, app->groups[h].name));
		CHECK(gr->ring_bytes >= 4096 && gr->ring_bytes <= (1u << 30) &&
		      !(gr->ring_bytes & (gr->ring_bytes - 1)));
		CHECK(gr->max_msg_bytes >= 64 && gr->max_msg_bytes <= gr->ring_bytes / 4);
		CHECK(gr->heartbeat_timeout_ms > gr->heartbeat_ms);
		CHECK(gr->max_redeliveries >= 1 && gr->max_redeliveries <= 1000);
		CHECK(!gr->brutal_kill || gr->shutdown_ms == 0);
		CHECK(gr->n_actors >= 1);
		for (uint32_t a = 0; a < gr->n_actors; a++) {
			const struct act__app_actor *ac = &gr->actors[a];
			CHECK(label_ok(ac->name, ACT__APP_NAME_MAX) && label_ok(ac->behaviour, 255));
			CHECK(ac->group == g);
			CHECK(!ac->remote || app->endpoint);
			if (ac->args_json) {
				/* What we hand to init must be JSON again. */
				cJSON *j = cJSON_Parse(ac->args_json);
				CHECK(j != NULL);
				cJSON_Delete(j);
			}
		}
		total += gr->n_actors;
	}
	CHECK(total == app->n_actors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct act__app zero;
	struct act__app app;
	char err[512];
	int rc;

	rc = act__app_parse((const char *)data, size, "fuzz.json", "/srv/app", &app, err, sizeof err);
	if (rc == 0) {
		check_app(&app);
		act__app_free(&app);
	} else {
		CHECK(rc == -EINVAL || rc == -ENOMEM || rc == -EFBIG);
		CHECK(!strncmp(err, "fuzz.json", 9));
		CHECK(!memcmp(&app, &zero, sizeof app));
	}
	return 0;
}

#ifdef ACT_FUZZ_STANDALONE
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		unsigned char *buf = NULL;
		size_t len = 0, cap = 0, n;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		do {
			if (len == cap) {
				cap = cap ? cap * 2 : 65536;
				if (!(buf = realloc(buf, cap)))
					return 1;
			}
			n = fread(buf + len, 1, cap - len, f);
			len += n;
		} while (n > 0);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
	}
	return 0;
}
#endif
