/* SPDX-License-Identifier: MIT */
/*
 * t/appfile-parser.c - the app-file parser: every field and default of the good
 * files, one precise message for each kind of bad file, edge cases of the
 * JSON checker, and a randomized mutation run that must never crash (build
 * it with -fsanitize=address,undefined to make "never crash" mean something).
 *
 * Data lives in $top_srcdir/t/appfile/.  APPFILE_SEED and APPFILE_ITERS
 * override the mutation run's seed and length.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "appfile.h"
#include "restart.h"
#include "tap.h"

static const char *srcdir;
static char err[2048];

static char *data_path(const char *name)
{
	static char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s/t/appfile/%s", srcdir, name);
	return buf;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		bail("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		bail("cannot read %s", path);
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static int streq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

static char *cat(const char *a, const char *b)
{
	static char buf[PATH_MAX];
	size_t la = strlen(a), lb = strlen(b);

	if (la + lb >= sizeof buf)
		bail("path too long");
	memcpy(buf, a, la);
	memcpy(buf + la, b, lb + 1);
	return buf;
}

static int is_zeroed(const struct act__app *app)
{
	static const struct act__app zero;
	return !memcmp(app, &zero, sizeof zero);
}

/* ---- the good files ------------------------------------------------------- */

static void test_good_full(void)
{
	struct act__app app;
	char real_base[PATH_MAX], real_want[PATH_MAX];
	const char *path = data_path("good-full.json");
	const char *base;
	int rc;

	rc = act__app_load(path, &app, err, sizeof err);
	if (!ok(rc == 0, "good-full.json loads")) {
		diag("rc %d: %s", rc, err);
		return;
	}
	ok(err[0] == '\0', "no message on success");
	ok(streq(app.path, path), "path kept as given");
	base = app.base_dir;
	ok(base && base[0] == '/', "base dir is absolute: %s", base ? base : "(null)");
	ok(base && realpath(base, real_base) && realpath(cat(srcdir, "/t/appfile"), real_want) &&
	   !strcmp(real_base, real_want), "base dir is the file's directory");
	ok(streq(app.node, "bank"), "node");
	ok(streq(app.state_dir, cat(base, "/state")), "state_dir relative to the file: %s", app.state_dir);
	ok(streq(app.endpoint, "tcp://*:5001"), "endpoint");
	ok(streq(app.advertise, "tcp://localhost:5001"), "advertise derived: * -> localhost");
	ok(streq(app.control_socket, "/run/actors/bank.sock"), "absolute control_socket kept");
	ok(app.strategy == ACT_REST_FOR_ONE, "strategy rest_for_one");
	ok(!strcmp(act__strategy_name(app.strategy), "rest_for_one"), "strategy name");
	ok(app.max_restarts == 3 && app.period_ms == 10000 && app.module_timeout_ms == 30000,
	   "max_restarts, period_ms, module_timeout_ms");
	ok(app.has_backoff && app.backoff.initial_ms == 20 && app.backoff.factor == 1.5 &&
	   app.backoff.max_ms == 30000 && app.backoff.reset_after_ms == 60000, "backoff");
	ok(app.n_peers == 2 && streq(app.peers[0].name, "audit") &&
	   streq(app.peers[0].endpoint, "tcp://10.0.0.2:5001") &&
	   streq(app.peers[1].name, "cache.eu-1") &&
	   streq(app.peers[1].endpoint, "ipc:///run/actors/cache.ipc"), "peers, in file order");
	ok(app.limits.max_frame_bytes == 2097152 && app.limits.max_depth == 16 &&
	   app.limits.max_string_bytes == 4096 && app.limits.max_fields == 64, "limits");
	ok(app.curve.enabled && streq(app.curve.secret_key_file, cat(base, "/keys/server.secret")) &&
	   streq(app.curve.public_key_file, "/etc/actors/server.public"), "curve key files");
	ok(app.curve.n_allow == 2 &&
	   !strcmp(app.curve.allow[0], "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID") &&
	   !strcmp(app.curve.allow[1], "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"), "curve allow list");
	ok(app.n_groups == 2 && app.n_actors == 3, "2 groups, 3 actors");
	if (app.n_groups == 2) {
		const struct act__app_group *g = &app.groups[0], *h = &app.groups[1];
		ok(streq(g->name, "ledger") && streq(g->module, cat(base, "/libbank.so")),
		   "group 0 name, module resolved (./ dropped): %s", g->module);
		ok(g->restart == ACT_TRANSIENT && !strcmp(act__restart_name(g->restart), "transient"),
		   "group 0 restart transient");
		ok(g->ring_bytes == 1048576 && g->max_msg_bytes == 131072 && g->spin_us == 0 &&
		   g->max_redeliveries == 5, "group 0 ring, max_msg, spin, redeliveries");
		ok(g->heartbeat_ms == 250 && g->heartbeat_timeout_ms == 2000, "group 0 heartbeats");
		ok(g->brutal_kill && g->shutdown_ms == 0, "group 0 brutal_kill");
		ok(g->hot_standby, "group 0 hot_standby");
		ok(g->n_actors == 2, "group 0 has 2 actors");
		if (g->n_actors == 2) {
			const struct act__app_actor *a = &g->actors[0], *b = &g->actors[1];
			ok(streq(a->name, "ledger") && streq(a->behaviour, "ledger") && a->remote &&
			   a->group == 0, "actor ledger");
			ok(streq(a->args_json, "{\"accounts\":1000,\"rate\":0.25,\"tags\":[\"a\",\"\xc3\xa9\"],"
			                       "\"owner\":null}"), "args kept as compact JSON: %s",
			   a->args_json ? a->args_json : "(null)");
			ok(streq(b->name, "ledger-audit") && streq(b->behaviour, "audit_trail") &&
			   !b->remote && streq(b->args_json, "\"verbose\""), "actor ledger-audit, string args");
		}
		ok(streq(h->name, "web") && streq(h->module, "/usr/lib/actors/libweb.so"),
		   "group 1 absolute module kept");
		ok(h->restart == ACT_TEMPORARY && h->ring_bytes == 4096 && h->max_msg_bytes == 1024 &&
		   h->spin_us == 1000000 && h->max_redeliveries == 1000 && h->heartbeat_ms == 60000 &&
		   h->heartbeat_timeout_ms == 600000, "group 1 limits at the edges of their ranges");
		ok(!h->brutal_kill && h->shutdown_ms == 0 && !h->hot_standby, "group 1 shutdown_ms 0");
		ok(h->n_actors == 1 && streq(h->actors[0].name, "web frontend \xc3\xa9") &&
		   h->actors[0].args_json == NULL && !h->actors[0].remote && h->actors[0].group == 1,
		   "group 1 actor: \\u escape decoded, null args -> NULL");
	}
	act__app_free(&app);
	ok(is_zeroed(&app), "act__app_free zeroes");
	act__app_free(&app);
	act__app_free(NULL);
}

static void test_good_minimal(void)
{
	struct act__app app;
	size_t len;
	char *text = slurp(data_path("good-minimal.json"), &len);
	const struct act__app_group *g;
	int rc;

	rc = act__app_parse(text, len, "minimal.json", "/srv/app/", &app, err, sizeof err);
	if (!ok(rc == 0, "good-minimal.json parses")) {
		diag("rc %d: %s", rc, err);
		free(text);
		return;
	}
	ok(streq(app.path, "minimal.json") && streq(app.base_dir, "/srv/app/"), "path, base_dir");
	ok(streq(app.node, "n1"), "node");
	ok(streq(app.state_dir, "/srv/app"), "state_dir defaults to the file's directory");
	ok(streq(app.control_socket, "/srv/app/actorsd.sock"), "control_socket defaults to STATE_DIR/actorsd.sock");
	ok(!app.endpoint && !app.advertise, "no endpoint, no advertise");
	ok(app.strategy == ACT_ONE_FOR_ONE && app.max_restarts == 1 && app.period_ms == 5000 &&
	   app.module_timeout_ms == 10000,
	   "supervision defaults one_for_one, 1 in 5000 ms");
	ok(app.spare_groups == 0, "no spare participants by default");
	ok(!app.has_backoff && app.backoff.initial_ms == 10 && app.backoff.factor == 2.0 &&
	   app.backoff.max_ms == 10000 && app.backoff.reset_after_ms == 10000, "backoff defaults");
	ok(app.limits.max_frame_bytes == 1048576 && app.limits.max_depth == 32 &&
	   app.limits.max_string_bytes == 65536 && app.limits.max_fields == 256, "limit defaults");
	ok(!app.curve.enabled && !app.curve.allow && !app.curve.n_allow && !app.curve.secret_key_file,
	   "no curve");
	ok(app.n_peers == 0 && !app.peers, "no peers");
	ok(app.n_groups == 1 && app.n_actors == 1, "one group, one actor");
	g = &app.groups[0];
	ok(streq(g->name, "g") && streq(g->module, "/srv/app/libg.so"), "module resolved: %s", g->module);
	ok(g->restart == ACT_PERMANENT && g->ring_bytes == 262144 && g->max_msg_bytes == 65536 &&
	   g->spin_us == 50 && g->max_redeliveries == 3 && g->heartbeat_ms == 100 &&
	   g->heartbeat_timeout_ms == 1000 && g->shutdown_ms == 5000 && !g->brutal_kill &&
	   !g->hot_standby, "group defaults");
	ok(g->n_actors == 1 && streq(g->actors[0].name, "a") && streq(g->actors[0].behaviour, "b") &&
	   !g->actors[0].args_json && !g->actors[0].remote && g->actors[0].group == 0, "actor defaults");
	act__app_free(&app);

	rc = act__app_parse(text, len, NULL, NULL, &app, err, sizeof err);
	ok(rc == 0 && streq(app.path, "<input>") && !app.base_dir && streq(app.state_dir, ".") &&
	   streq(app.control_socket, "./actorsd.sock") && streq(app.groups[0].module, "libg.so"),
	   "without base_dir relative paths stay relative");
	act__app_free(&app);
	free(text);
}

static void test_good_ipv6(void)
{
	struct act__app app;
	size_t len;
	char *text = slurp(data_path("good-ipv6.json"), &len);
	int rc;

	rc = act__app_parse(text, len, "good-ipv6.json", "/srv", &app, err, sizeof err);
	ok(rc == 0, "good-ipv6.json parses%s%s", rc ? ": " : "", rc ? err : "");
	if (rc == 0) {
		ok(streq(app.advertise, "tcp://localhost:7000"), "advertise derived from [::]");
		ok(app.strategy == ACT_ONE_FOR_ALL, "one_for_all");
		ok(app.groups[0].shutdown_ms == 3600000 && app.groups[0].actors[0].remote,
		   "shutdown_ms at its maximum, remote actor");
	}
	act__app_free(&app);
	free(text);
}

/* ---- the bad files -------------------------------------------------------- */

static const struct bad {
	const char *file;
	int rc;
	const char *want;  /* substring of the message after "PATH" */
} bads[] = {
	{ "bad-syntax.json", -EINVAL, ":3:3: syntax error: expected ',' or '}' after an object member, got '\"' (missing ','?)" },
	{ "bad-empty.json", -EINVAL, ":1:1: syntax error: empty file" },
	{ "bad-trailing-comma.json", -EINVAL, ":3:15: syntax error: trailing comma before '}'" },
	{ "bad-nul.json", -EINVAL, ":1:13: syntax error: NUL byte in string" },
	{ "bad-utf8.json", -EINVAL, ":1:14: syntax error: invalid UTF-8 in string (byte 0xe9)" },
	{ "bad-unterminated.json", -EINVAL, ":1:15: syntax error: line break inside the string opened at 1:10" },
	{ "bad-comment.json", -EINVAL, ":1:1: syntax error: expected a value, got '/' (JSON has no comments)" },
	{ "bad-single-quote.json", -EINVAL, ":1:2: syntax error: expected a string key or '}', got \"'\"" },
	{ "bad-bare-word.json", -EINVAL, ":3:15: syntax error: expected a value, got 'one_for_one' (strings need double quotes" },
	{ "bad-number-syntax.json", -EINVAL, ":3:19: syntax error: invalid number: leading zero" },
	{ "bad-trailing-garbage.json", -EINVAL, ":2:1: syntax error: unexpected '}' after the end of the JSON document" },
	{ "bad-u0000.json", -EINVAL, ":1:12: syntax error: \\u0000 is not allowed" },
	{ "bad-surrogate.json", -EINVAL, ":1:11: syntax error: unpaired UTF-16 surrogate \\ud800" },
	{ "bad-deep.json", -EINVAL, ":1:619: syntax error: nested deeper than 512 levels" },
	{ "bad-toplevel.json", -EINVAL, ": $: expected the application (an object), got an array" },
	{ "bad-unknown-key.json", -EINVAL, ": $: unknown key 'nodes' (did you mean 'node'? expected one of: node, state_dir," },
	{ "bad-group-key.json", -EINVAL, ": $.groups[0]: unknown key 'restrat' (did you mean 'restart'?" },
	{ "bad-dup-key.json", -EINVAL, ": $: duplicate key 'node'" },
	{ "bad-args-dup-key.json", -EINVAL, ": $.groups[0].actors[0].args.opts: duplicate key 'level'" },
	{ "bad-missing-node.json", -EINVAL, ": $: missing required key 'node'" },
	{ "bad-missing-module.json", -EINVAL, ": $.groups[0]: missing required key 'module'" },
	{ "bad-node-chars.json", -EINVAL, ": $.node: node name 'bank node' has a bad character ' ' at byte 4 (allowed: A-Z a-z 0-9 _ . -)" },
	{ "bad-name-long.json", -EINVAL, ": $.groups[0].name: group name 'ggg" /* ... */ },
	{ "bad-actor-name-ctl.json", -EINVAL, ": $.groups[0].actors[0].name: actor name 'a\\x01b' has a control character (0x01) at byte 1" },
	{ "bad-actor-name-at.json", -EINVAL, ": $.groups[0].actors[0].name: actor name 'e@x' must not contain '@' (act_lookup() reads \"actor@peer\" as a remote actor)" },
	{ "bad-actor-name-topic.json", -EINVAL, ": $.groups[0].actors[0].name: actor name 'topic:x' must not start with 'topic:'" },
	{ "bad-actor-name-ask.json", -EINVAL, ": $.groups[0].actors[0].name: actor name 'a~ask-1.00' must not contain '~ask-'" },
	{ "bad-no-groups.json", -EINVAL, ": $.groups: expected at least one group, got an empty array" },
	{ "bad-too-many-groups.json", -EINVAL, ": $.groups: too many groups (256, at most 255)" },
	{ "bad-dup-group.json", -EINVAL, ": $.groups[1].name: duplicate group name 'ledger' (first at $.groups[0].name)" },
	{ "bad-dup-actor.json", -EINVAL, ": $.groups[1].actors[0].name: duplicate actor name 'x' (first at $.groups[0].actors[2].name)" },
	{ "bad-no-actors.json", -EINVAL, ": $.groups[0].actors: expected at least one actor, got an empty array" },
	{ "bad-actor-type.json", -EINVAL, ": $.groups[0].actors[0]: expected an actor (an object), got string 'a'" },
	{ "bad-module-type.json", -EINVAL, ": $.groups[0].module: expected a module path (a string), got an array" },
	{ "bad-strategy.json", -EINVAL, ": $.strategy: expected one of \"one_for_one\", \"one_for_all\" or \"rest_for_one\", got string 'one-for-one'" },
	{ "bad-restart.json", -EINVAL, ": $.groups[0].restart: expected one of \"permanent\", \"transient\" or \"temporary\", got string 'always'" },
	{ "bad-ring-pow2.json", -EINVAL, ": $.groups[0].ring_bytes: expected a power of two in 4096..1073741824, got 100000 (nearest: 65536 or 131072)" },
	{ "bad-max-msg.json", -EINVAL, ": $.groups[0].max_msg_bytes: 32768 is more than ring_bytes/4 = 16384" },
	{ "bad-heartbeat.json", -EINVAL, ": $.groups[0].heartbeat_timeout_ms: heartbeat_timeout_ms (500) must be greater than heartbeat_ms (500)" },
	{ "bad-shutdown.json", -EINVAL, ": $.groups[0].shutdown_ms: expected an integer in 0..3600000 or \"brutal_kill\", got string 'never'" },
	{ "bad-int-string.json", -EINVAL, ": $.max_restarts: expected an integer in 0..1024, got string '1'" },
	{ "bad-int-float.json", -EINVAL, ": $.period_ms: expected an integer in 1..4294967295, got 1.5" },
	{ "bad-int-float-zero.json", -EINVAL, ": $.groups[0].spin_us: expected an integer in 0..1000000, got 10.0 (write it without a fraction or exponent)" },
	{ "bad-max-restarts-exp.json", -EINVAL, ": $.max_restarts: expected an integer in 0..1024, got 1e3" },
	{ "bad-int-negative.json", -EINVAL, ": $.max_restarts: expected an integer in 0..1024, got -1" },
	{ "bad-int-huge.json", -EINVAL, ": $.max_restarts: expected an integer in 0..1024, got 4294967296" },
	{ "bad-huge-number.json", -EINVAL, ": $.groups[0].actors[0].args.x: number 1e400 is out of range" },
	{ "bad-peer-value.json", -EINVAL, ": $.peers.other: expected an endpoint string like \"tcp://HOST:PORT\", got 5001" },
	{ "bad-peer-self.json", -EINVAL, ": $.peers.bank: a peer cannot have the node's own name" },
	{ "bad-endpoint.json", -EINVAL, ": $.endpoint: invalid endpoint 'http://x:80': expected tcp://HOST:PORT or ipc://PATH" },
	{ "bad-advertise-wildcard.json", -EINVAL, ": $.advertise: invalid endpoint 'tcp://0.0.0.0:5001': a wildcard host can be bound but not connected to" },
	{ "bad-remote-no-endpoint.json", -EINVAL, ": $.groups[0].actors[0].remote: actor 'a' is remote but the node has no 'endpoint'" },
	{ "bad-curve-allow.json", -EINVAL, ": $.curve.allow[1]: expected a Z85 public key of 40 characters, got 39 characters" },
	{ "bad-curve-no-endpoint.json", -EINVAL, ": $.curve: given without 'endpoint'" },
	{ "bad-backoff-factor.json", -EINVAL, ": $.backoff.factor: expected a number in 1..1000, got 0.5" },
	{ "bad-limits.json", -EINVAL, ": $.limits.max_string_bytes: max_string_bytes (4096) must not exceed max_frame_bytes (1024)" },
	{ "bad-control-socket.json", -EINVAL, ": $.control_socket: control socket path '/sss" },
};

static void test_bad_files(void)
{
	struct act__app app;

	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		const struct bad *b = &bads[i];
		char *path = strdup(data_path(b->file));
		size_t pl = strlen(path);
		int rc;

		memset(err, 'X', sizeof err);
		rc = act__app_load(path, &app, err, sizeof err);
		if (!ok(rc == b->rc && !strncmp(err, path, pl) && strstr(err + pl, b->want) == err + pl &&
		        is_zeroed(&app), "%s: %s", b->file, b->want)) {
			diag("rc %d (want %d)", rc, b->rc);
			diag("got:  %s", err);
		}
		free(path);
	}
	ok(sizeof bads / sizeof bads[0] >= 20, "%zu kinds of bad file", sizeof bads / sizeof bads[0]);
}

static void test_unreadable(void)
{
	struct act__app app;
	char tmpl[] = "/tmp/appfile-big-XXXXXX";
	char *dir = strdup(data_path(""));
	int rc, fd;

	rc = act__app_load(data_path("no-such-file.json"), &app, err, sizeof err);
	ok(rc == -ENOENT && strstr(err, "no-such-file.json: cannot open: ") && is_zeroed(&app),
	   "missing file: -ENOENT, %s", err);
	rc = act__app_load(dir, &app, err, sizeof err);
	ok(rc == -EISDIR && strstr(err, "cannot read"), "directory: -EISDIR, %s", err);

	/* A file one byte over the limit, sparse so it costs nothing. */
	fd = mkstemp(tmpl);
	if (fd < 0 || ftruncate(fd, (off_t)ACT__APP_MAX_FILE_BYTES + 1) < 0)
		bail("cannot make %s", tmpl);
	close(fd);
	rc = act__app_load(tmpl, &app, err, sizeof err);
	ok(rc == -EFBIG && strstr(err, "file too large") && !strncmp(err, tmpl, strlen(tmpl)),
	   "16 MiB + 1 byte: -EFBIG, %s", err);
	/* Endless input (/dev/zero) and a FIFO nobody writes to are not
	 * regular files: refused at once, never read or waited on. */
	rc = act__app_load("/dev/zero", &app, err, sizeof err);
	ok(rc == -EINVAL && strstr(err, "/dev/zero: cannot read: not a regular file (a character "
	                           "device)") && is_zeroed(&app), "endless input refused: %s", err);
	unlink(tmpl);
	if (mkfifo(tmpl, 0600) < 0)
		bail("cannot make the FIFO %s", tmpl);
	rc = act__app_load(tmpl, &app, err, sizeof err);
	ok(rc == -EINVAL && strstr(err, "not a regular file (a FIFO)") &&
	   !strncmp(err, tmpl, strlen(tmpl)) && is_zeroed(&app),
	   "a FIFO without a writer: refused without blocking, %s", err);
	unlink(tmpl);
	free(dir);
}

/* ---- in-memory edge cases ------------------------------------------------- */

static const char prefix[] = "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m.so\","
                             "\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\"}]}]";

/* Parses prefix + extra + "}" (or text itself when raw); returns rc. */
static int parse_with(const char *extra, int raw, struct act__app *app)
{
	char buf[8192];
	if (raw)
		snprintf(buf, sizeof buf, "%s", extra);
	else
		snprintf(buf, sizeof buf, "%s%s}", prefix, extra);
	return act__app_parse(buf, strlen(buf), "mem.json", "/srv", app, err, sizeof err);
}

static void test_edges(void)
{
	static const struct {
		const char *extra;
		int raw;
		const char *want;  /* NULL: must parse */
	} cases[] = {
		{ "", 0, NULL },
		{ "\xef\xbb\xbf{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\","
		  "\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\"}]}]}", 1, NULL },
		{ " \t\r\n ", 1, "mem.json:2:2: syntax error: empty file" },
		{ "", 1, "mem.json:1:1: syntax error: empty file" },
		{ ",\"max_restarts\":-", 0, "syntax error: invalid number: expected a digit after '-'" },
		{ ",\"max_restarts\":1.", 0, "syntax error: invalid number: expected a digit after '.'" },
		{ ",\"max_restarts\":1e", 0, "syntax error: invalid number: expected a digit in the exponent" },
		{ ",\"max_restarts\":tru", 0, "syntax error: expected a value, got 'tru'" },
		{ ",\"max_restarts\":nulll", 0, "syntax error: expected ',' or '}' after an object member, got 'l'" },
		{ ",\"max_restarts\":1111111111111111111111111111111111111111111111111111111111111111", 0,
		  "syntax error: number too long" },
		{ ",\"max_restarts\":-0", 0, NULL },
		{ ",\"max_restarts\":1024", 0, NULL },
		{ ",\"max_restarts\":1025", 0, "$.max_restarts: expected an integer in 0..1024" },
		{ ",\"module_timeout_ms\":1", 0, NULL },
		{ ",\"module_timeout_ms\":3600000", 0, NULL },
		{ ",\"module_timeout_ms\":0", 0, "$.module_timeout_ms: expected an integer in 1..3600000, got 0" },
		{ ",\"module_timeout_ms\":3600001", 0, "$.module_timeout_ms: expected an integer in 1..3600000" },
		{ ",\"period_ms\":0", 0, "$.period_ms: expected an integer in 1..4294967295, got 0" },
		{ ",\"spare_groups\":0", 0, NULL },
		{ ",\"spare_groups\":254", 0, NULL },
		{ ",\"spare_groups\":255", 0, "$.spare_groups: expected an integer in 0..254, got 255" },
		{ ",\"spare_groups\":-1", 0, "$.spare_groups: expected an integer in 0..254" },
		{ ",\"node\":\"x\"", 0, "$: duplicate key 'node'" },
		{ ",\"state_dir\":\"a\tb\"", 0, "syntax error: control character 0x09 in string (write it as \\u0009)" },
		{ ",\"state_dir\":\"a\\qb\"", 0, "syntax error: invalid escape '\\q' in string" },
		{ ",\"state_dir\":\"a\\u12\"", 0, "syntax error: invalid \\u escape" },
		{ ",\"state_dir\":\"\\udc00\"", 0, "syntax error: unpaired UTF-16 surrogate \\udc00" },
		{ ",\"state_dir\":\"a\\u0001\"", 0, "$.state_dir: a directory path 'a\\x01' contains a control character" },
		{ ",\"state_dir\":\"\"", 0, "$.state_dir: expected a directory path, got an empty string" },
		{ ",\"state_dir\":\"\xed\xa0\x80\"", 0, "syntax error: invalid UTF-8 in string (byte 0xed)" },
		{ ",\"state_dir\":\"\xc0\xaf\"", 0, "syntax error: invalid UTF-8 in string (byte 0xc0)" },
		{ ",\"state_dir\":\"\xf4\x90\x80\x80\"", 0, "syntax error: invalid UTF-8 in string (byte 0xf4)" },
		{ ",\"state_dir\":\"ok \xf0\x9f\x98\x80 \\ud83d\\ude00\"", 0, NULL },
		{ " \x01", 0, "syntax error: expected ',' or '}' after an object member, got control character 0x01" },
		{ ",\"endpoint\":\"tcp://host\"", 0, "$.endpoint: invalid endpoint 'tcp://host': expected tcp://HOST:PORT" },
		{ ",\"endpoint\":\"tcp://h:0\"", 0, "expected a port in 1..65535" },
		{ ",\"endpoint\":\"tcp://h:65536\"", 0, "expected a port in 1..65535" },
		{ ",\"endpoint\":\"tcp://h :1\"", 0, "contains a space" },
		{ ",\"endpoint\":\"tcp://[::1:5\"", 0, "expected tcp://[IPV6]:PORT" },
		{ ",\"endpoint\":\"ipc://\"", 0, "has an empty ipc path" },
		{ ",\"peers\":{\"p\":\"tcp://*:5\"}", 0, "$.peers.p: invalid endpoint 'tcp://*:5': a wildcard host can be bound but not connected to" },
		{ ",\"peers\":{\"p\":\"tcp://h:*\"}", 0, "$.peers.p: invalid endpoint 'tcp://h:*': port '*' can be bound but not connected to" },
		{ ",\"peers\":{\"p\":\"ipc://*\"}", 0, "$.peers.p: invalid endpoint 'ipc://*'" },
		{ ",\"peers\":{\"a b\":\"tcp://h:5\"}", 0, "$.peers[\"a b\"]: peer name 'a b' has a bad character ' '" },
		{ ",\"peers\":{\"p\":\"tcp://h:5\",\"p\":\"tcp://h:6\"}", 0, "$.peers: duplicate key 'p'" },
		{ ",\"peers\":[]", 0, "$.peers: expected peers: name -> endpoint (an object), got an array" },
		{ ",\"node\":\"..\"", 0, "$: duplicate key 'node'" },
		{ ",\"backoff\":{\"initial_ms\":100,\"max_ms\":50}", 0, "$.backoff.max_ms: max_ms (50) must be at least initial_ms (100)" },
		{ ",\"backoff\":{\"initial_ms\":20000}", 0, "$.backoff.initial_ms: max_ms (10000) must be at least initial_ms (20000)" },
		{ ",\"backoff\":{\"factr\":2}", 0, "$.backoff: unknown key 'factr' (did you mean 'factor'?" },
		{ ",\"limits\":{\"max_depth\":0}", 0, "$.limits.max_depth: expected an integer in 1..1000, got 0" },
		{ ",\"limits\":{\"max_frame_bytes\":1000}", 0, "$.limits.max_frame_bytes: max_string_bytes (65536) must not exceed" },
		{ ",\"curve\":{\"secret_key_file\":\"s\"},\"endpoint\":\"tcp://*:1\"", 0, "$.curve: missing required key 'public_key_file'" },
		{ ",\"curve\":{\"secret_key_file\":\"s\",\"public_key_file\":\"p\",\"allow\":[]},\"endpoint\":\"tcp://*:1\"",
		  0, "$.curve.allow: expected at least one client public key" },
		{ ",\"curve\":{\"secret_key_file\":\"s\",\"public_key_file\":\"p\",\"allow\":[\"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hI~\"]},\"endpoint\":\"tcp://*:1\"",
		  0, "$.curve.allow[0]: public key has a character outside the Z85 alphabet at position 39" },
		{ ",\"advertise\":\"tcp://h:1\"", 0, "$.advertise: given without 'endpoint'" },
		{ ",\"strategy\":1", 0, "$.strategy: expected one of \"one_for_one\", \"one_for_all\" or \"rest_for_one\", got 1" },
		{ ",\"groups\":{}", 0, "$: duplicate key 'groups'" },
		{ "{\"node\":\"n\",\"groups\":{}}", 1, "$.groups: expected an array of groups, got an object" },
		{ "{\"node\":\".\",\"groups\":[]}", 1, "$.node: node name '.' must not be '.' or '..'" },
		{ "{\"node\":\"n\"}", 1, "$: missing required key 'groups'" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\",\"actors\":[{\"behaviour\":\"b\"}]}]}", 1,
		  "$.groups[0].actors[0]: missing required key 'name'" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\",\"actors\":[{\"name\":\"b\"}]}]}", 1,
		  "$.groups[0].actors[0]: missing required key 'behaviour'" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\",\"ring_bytes\":4096,\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\"}]}]}", 1,
		  "$.groups[0].ring_bytes: 4096 is too small for the default max_msg_bytes 65536" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\",\"heartbeat_ms\":5000,\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\"}]}]}", 1,
		  "$.groups[0].heartbeat_ms: heartbeat_timeout_ms (1000) must be greater than heartbeat_ms (5000)" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\",\"actors\":[{\"name\":\"\",\"behaviour\":\"b\"}]}]}", 1,
		  "$.groups[0].actors[0].name: actor name '' must be 1..63 bytes long, not 0" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\",\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\",\"remote\":1}]}]}", 1,
		  "$.groups[0].actors[0].remote: expected true or false, got 1" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\",\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\",\"args\":{\"\":[{\"k\":1,\"k\":2}]}}]}]}", 1,
		  "$.groups[0].actors[0].args[\"\"][0]: duplicate key 'k'" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\",\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\",\"args\":[1,2,{\"x\":-1e999}]}]}]}", 1,
		  "$.groups[0].actors[0].args[2].x: number -1e999 is out of range" },
		{ "{\"node\":\"n\",\"groups\":[1]}", 1, "$.groups[0]: expected a group (an object), got 1" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\",\"shutdown_ms\":true,\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\"}]}]}", 1,
		  "$.groups[0].shutdown_ms: expected an integer in 0..3600000 or \"brutal_kill\", got true" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\",\"shutdown_ms\":3600001,\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\"}]}]}", 1,
		  "$.groups[0].shutdown_ms: expected an integer in 0..3600000, got 3600001" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\",\"ring_bytes\":2147483648,\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\"}]}]}", 1,
		  "$.groups[0].ring_bytes: expected an integer in 4096..1073741824, got 2147483648" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\",\"max_msg_bytes\":63,\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\"}]}]}", 1,
		  "$.groups[0].max_msg_bytes: expected an integer in 64..268435456, got 63" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\",\"max_redeliveries\":0,\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\"}]}]}", 1,
		  "$.groups[0].max_redeliveries: expected an integer in 1..1000, got 0" },
		{ "{\"a\":[1 2]}", 1, "mem.json:1:9: syntax error: expected ',' or ']' after an array element, got '2' (missing ','?)" },
		{ "{\"a\":[1,]}", 1, "mem.json:1:8: syntax error: trailing comma before ']'" },
		{ "{\"a\" 1}", 1, "mem.json:1:6: syntax error: expected ':' after the key, got '1'" },
		{ "{\"a\":[1", 1, "mem.json:1:8: syntax error: unexpected end of file: the '[' at 1:6 is not closed" },
		{ "{\"a\":1", 1, "mem.json:1:7: syntax error: unexpected end of file: the '{' at 1:1 is not closed" },
		{ "{\"a\":", 1, "mem.json:1:6: syntax error: expected a value, got end of file" },
		{ "{\"a\":\"x", 1, "mem.json:1:6: syntax error: unterminated string" },
		{ "{\"a\":\"x\\", 1, "mem.json:1:6: syntax error: unterminated string" },
		{ "{\"\xc3\xa9\":1,\n \"b\":+1}", 1, "mem.json:2:6: syntax error: expected a value, got '+'" },
		{ "{\"a\":1}\xff", 1, "mem.json:1:8: syntax error: unexpected invalid UTF-8 (byte 0xff) after the end" },
		{ "{\"a\":1}\xc3\xa9", 1, "mem.json:1:8: syntax error: unexpected '\xc3\xa9' after the end" },
		{ "\"just a string\"", 1, "mem.json: $: expected the application (an object), got string 'just a string'" },
		{ "{\"node\":\"n\",\"groups\":[{\"module\":\"m\",\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\"}]}]}", 1,
		  "$.groups[0]: missing required key 'name'" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\"}]}", 1,
		  "$.groups[0]: missing required key 'actors'" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\",\"actors\":{}}]}", 1,
		  "$.groups[0].actors: expected an array of actors, got an object" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\",\"actors\":[{\"name\":\"a\",\"behaviour\":7}]}]}", 1,
		  "$.groups[0].actors[0].behaviour: expected behaviour name (a string), got 7" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\",\"hot_standby\":null,\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\"}]}]}", 1,
		  "$.groups[0].hot_standby: expected true or false, got null" },
		{ "{\"node\":\"n\",\"groups\":[{\"name\":\"g\",\"module\":\"m\",\"hot_standby\":\"false\",\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\"}]}]}", 1,
		  "$.groups[0].hot_standby: expected true or false, got string 'false'" },
		{ "{\"node\":\"caf\u00e9\",\"groups\":[]}", 1,
		  "$.node: node name 'caf\xc3\xa9' has a bad character (byte 0xc3) at byte 3" },
		{ "{\"node\":\"o'neil\\\\\",\"groups\":[]}", 1,
		  "$.node: node name 'o\\'neil\\\\' has a bad character '\''" },
		{ "{\"node\":\"\",\"groups\":[]}", 1,
		  "$.node: node name '' is empty" },
		{ "{\"node\":false,\"groups\":[]}", 1,
		  "$.node: expected node name (a string of A-Z a-z 0-9 _ . -), got false" },
		{ "{\"node\":\"n\",\"max_restarts\":123456789012345678901,\"groups\":[]}", 1,
		  "$.max_restarts: expected an integer in 0..1024, got 1.2345678901234568e+20" },
		{ "{\"node\":\"n\",\"curve\":{\"public_key_file\":\"p\"},\"endpoint\":\"tcp://*:1\",\"groups\":[]}", 1,
		  "$.curve: missing required key 'secret_key_file'" },
		{ "{\"node\":\"n\",\"curve\":{\"allow\":\"k\"},\"groups\":[]}", 1,
		  "$.curve.allow: expected an array of client public keys (Z85, 40 characters), got string 'k'" },
		{ "{\"node\":\"n\",\"curve\":{\"allow\":[40]},\"groups\":[]}", 1,
		  "$.curve.allow[0]: expected a Z85 public key (a string of 40 characters), got 40" },
		{ "{\"node\":\"n\",\"curve\":{\"secret\":1},\"groups\":[]}", 1,
		  "$.curve: unknown key 'secret' (expected one of: secret_key_file, public_key_file, allow)" },
		{ "{\"node\":\"n\",\"limits\":{\"max_depth\":1,\"max_depth\":2},\"groups\":[]}", 1,
		  "$.limits: duplicate key 'max_depth'" },
		{ "{\"node\":\"n\",\"endpoint\":\"tcp://h:123456\",\"groups\":[]}", 1,
		  "expected a port in 1..65535" },
		{ "{\"node\":\"n\",\"endpoint\":\"tcp://h:\",\"groups\":[]}", 1,
		  "expected a port in 1..65535" },
		{ "{\"node\":\"n\",\"endpoint\":\"tcp://h:8x\",\"groups\":[]}", 1,
		  "expected a port in 1..65535" },
		{ "{\"a\":{\"b\":{\"c\":[[[{\"d\":\"\\u00\"}]]]}}}", 1,
		  "mem.json:1:25: syntax error: invalid \\u escape: expected 4 hex digits" },
		{ "{\"a\":\"\\\x01\"}", 1,
		  "mem.json:1:7: syntax error: invalid escape in string" },
		{ "{\"nodes\":\"n\"}", 1, "did you mean 'node'?" },
		{ "{\"xyzzy\":\"n\"}", 1, "mem.json: $: unknown key 'xyzzy' (expected one of: node," },
	};
	struct act__app app;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = parse_with(cases[i].extra, cases[i].raw, &app);
		if (!cases[i].want) {
			if (!ok(rc == 0, "case %zu parses", i))
				diag("%s", err);
		} else if (!ok(rc == -EINVAL && strstr(err, cases[i].want) &&
		               !strncmp(err, "mem.json", 8) && is_zeroed(&app),
		               "case %zu: %s", i, cases[i].want)) {
			diag("rc %d, got: %s", rc, err);
		}
		act__app_free(&app);
	}

	/* Endpoint and advertise rules. */
	ok(parse_with(",\"endpoint\":\"tcp://*:*\"", 0, &app) == 0 && !app.advertise,
	   "wildcard port: advertise left for after bind");
	act__app_free(&app);
	ok(parse_with(",\"endpoint\":\"tcp://0.0.0.0:9\"", 0, &app) == 0 &&
	   streq(app.advertise, "tcp://localhost:9"), "0.0.0.0 -> localhost");
	act__app_free(&app);
	ok(parse_with(",\"endpoint\":\"tcp://10.1.2.3:5001\"", 0, &app) == 0 &&
	   streq(app.advertise, "tcp://10.1.2.3:5001"), "a concrete endpoint advertises itself");
	act__app_free(&app);
	ok(parse_with(",\"endpoint\":\"tcp://*:5001\",\"advertise\":\"tcp://bank.example:5001\"", 0, &app) == 0 &&
	   streq(app.advertise, "tcp://bank.example:5001"), "explicit advertise kept");
	act__app_free(&app);
	ok(parse_with(",\"endpoint\":\"ipc:///run/n.ipc\"", 0, &app) == 0 &&
	   streq(app.advertise, "ipc:///run/n.ipc"), "ipc endpoint advertises itself");
	act__app_free(&app);
	ok(parse_with(",\"state_dir\":\"../var//\",\"control_socket\":\"./c.sock\"", 0, &app) == 0 &&
	   streq(app.state_dir, "/srv/../var//") && streq(app.control_socket, "/srv/c.sock"),
	   "relative state_dir and control_socket: %s %s", app.state_dir, app.control_socket);
	act__app_free(&app);
	ok(parse_with(",\"state_dir\":\"/var/lib/n\"", 0, &app) == 0 &&
	   streq(app.control_socket, "/var/lib/n/actorsd.sock"), "default control socket in state_dir");
	act__app_free(&app);

	/* Message buffer handling. */
	{
		char small[12];
		memset(small, 'X', sizeof small);
		ok(act__app_parse("{", 1, "mem.json", NULL, &app, small, 0) == -EINVAL && small[0] == 'X',
		   "err untouched when err_cap is 0");
		ok(act__app_parse("[", 1, "mem.json", NULL, &app, small, sizeof small) == -EINVAL &&
		   strlen(small) == sizeof small - 1 && !strncmp(small, "mem.json:1:", 11),
		   "message truncated to err_cap: %s", small);
		ok(act__app_parse("[", 1, "mem.json", NULL, &app, NULL, 0) == -EINVAL, "err may be NULL");
		ok(act__app_parse(NULL, 0, NULL, NULL, &app, err, sizeof err) == -EINVAL &&
		   !strcmp(err, "<input>:1:1: syntax error: empty file (expected a JSON object)"),
		   "NULL text, no name: %s", err);
	}

	/* Too large, in memory. */
	{
		size_t n = (size_t)ACT__APP_MAX_FILE_BYTES + 1;
		char *big = malloc(n);
		if (!big)
			bail("out of memory");
		memset(big, ' ', n);
		ok(act__app_parse(big, n, "big.json", NULL, &app, err, sizeof err) == -EFBIG &&
		   strstr(err, "big.json: file too large (16777217 bytes, at most 16777216)"), "%s", err);
		free(big);
	}
}

/* A duplicate key deep inside args: the path is cut, not overflowed. */
static void test_deep_path(void)
{
	struct act__app app;
	size_t cap = 64 * 1024, o = 0;
	char *buf = malloc(cap);
	int rc;

	if (!buf)
		bail("out of memory");
	o += (size_t)snprintf(buf + o, cap - o, "{\"node\":\"n\",\"groups\":[{\"name\":\"g\","
	                      "\"module\":\"m\",\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\",\"args\":");
	for (int i = 0; i < 100; i++)
		o += (size_t)snprintf(buf + o, cap - o, "{\"key number %d\":", i);
	o += (size_t)snprintf(buf + o, cap - o, "{\"k\":1,\"k\":2}");
	for (int i = 0; i < 100; i++)
		o += (size_t)snprintf(buf + o, cap - o, "}");
	o += (size_t)snprintf(buf + o, cap - o, "}]}]}");
	rc = act__app_parse(buf, o, "deep.json", NULL, &app, err, sizeof err);
	ok(rc == -EINVAL && strstr(err, "deep.json: $.groups[0].actors[0].args[\"key number 0\"]") &&
	   strstr(err, "...: duplicate key 'k'"), "a long path ends in '...': %.80s...", err);
	free(buf);
}

/* A bare file name: the base is the current directory. */
static void test_relative_name(void)
{
	struct act__app app;
	char cwd[PATH_MAX];
	int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (here < 0 || chdir(cat(srcdir, "/t/appfile")) < 0 || !getcwd(cwd, sizeof cwd))
		bail("cannot chdir to the data directory");
	rc = act__app_load("good-full.json", &app, err, sizeof err);
	ok(rc == 0 && streq(app.base_dir, cwd) && streq(app.groups[0].module, cat(cwd, "/libbank.so")),
	   "bare file name: relative paths resolve against the current directory");
	act__app_free(&app);
	rc = act__app_load("./good-full.json", &app, err, sizeof err);
	ok(rc == 0 && streq(app.base_dir, cwd), "./name: base is the current directory: %s",
	   app.base_dir ? app.base_dir : err);
	act__app_free(&app);
	if (fchdir(here) < 0)
		bail("cannot chdir back");
	close(here);
}

/* A big valid node: 255 groups, many actors; duplicate detection must not
 * be quadratic, or this would time out. */
static void test_big(void)
{
	size_t cap = 8u << 20, o = 0;
	char *buf = malloc(cap);
	struct act__app app;
	unsigned per_group = 400;
	int rc;

	if (!buf)
		bail("out of memory");
	o += (size_t)snprintf(buf + o, cap - o, "{\"node\":\"big\",\"groups\":[");
	for (unsigned g = 0; g < ACT__APP_MAX_GROUPS; g++) {
		o += (size_t)snprintf(buf + o, cap - o, "%s{\"name\":\"g%u\",\"module\":\"m.so\",\"actors\":[",
		                      g ? "," : "", g);
		for (unsigned a = 0; a < per_group; a++)
			o += (size_t)snprintf(buf + o, cap - o, "%s{\"name\":\"a%u.%u\",\"behaviour\":\"b\","
			                      "\"args\":{\"i\":%u,\"f\":%u.5}}", a ? "," : "", g, a, a, a);
		o += (size_t)snprintf(buf + o, cap - o, "]}");
	}
	o += (size_t)snprintf(buf + o, cap - o, "]}");
	if (o >= cap - 1)
		bail("buffer too small");
	rc = act__app_parse(buf, o, "big.json", "/srv", &app, err, sizeof err);
	ok(rc == 0 && app.n_groups == 255 && app.n_actors == 255 * per_group,
	   "255 groups x %u actors (%zu bytes) parse", per_group, o);
	if (rc == 0)
		ok(streq(app.groups[254].actors[per_group - 1].args_json, "{\"i\":399,\"f\":399.5}"),
		   "last actor's args: %s", app.groups[254].actors[per_group - 1].args_json);
	act__app_free(&app);

	/* The same with the very last actor renamed to the first one's name. */
	{
		char *last = strstr(buf, "\"a254.399\"");
		if (!last)
			bail("generator changed");
		memcpy(last, "\"a0.0\"    ", 10);  /* same length: spaces after the string */
		rc = act__app_parse(buf, o, "big.json", "/srv", &app, err, sizeof err);
		ok(rc == -EINVAL && strstr(err, "big.json: $.groups[254].actors[399].name: duplicate actor "
		                                "name 'a0.0' (first at $.groups[0].actors[0].name)"),
		   "duplicate found across 102000 actors: %s", err);
	}
	free(buf);
}

/* ---- random mutation ------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic for a given seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static size_t rndn(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static void insert_bytes(char *buf, size_t *len, size_t cap, size_t at,
                         const char *src, size_t l)
{
	if (at > *len || l > cap - *len)
		return;
	memmove(buf + at + l, buf + at, *len - at);
	memcpy(buf + at, src, l);
	*len += l;
}

static void mutate(char *buf, size_t *len, size_t cap)
{
	static const char interesting[] = "{}[]\":,\\0-.eE \t\nu/'\x00\x01\x7f\x80\xc3\xed\xf4\xff";
	static const char *const tokens[] = {
		"\"x\"", "1e400", "-0", "\\u0000", "\\ud800", "[", "{", "]", "}", "null", "true",
		"\"node\":", "\"groups\":[]", ",", "4294967296", "1.5", "\"brutal_kill\"",
		"\"actors\":[{\"name\":\"a\",\"behaviour\":\"b\"}]", "\"remote\":true", "\xc3\xa9",
		"\"tcp://*:*\"", "\"\"", "0", "01", "\"name\":\"ledger\"",
	};
	size_t n = *len, a, l;

	switch (rndn(7)) {
	case 0: /* flip a bit */
		if (n)
			buf[rndn(n)] ^= (char)(1u << rndn(8));
		break;
	case 1: /* overwrite a byte with a JSON-significant one */
		if (n)
			buf[rndn(n)] = interesting[rndn(sizeof interesting - 1)];
		break;
	case 2: /* delete a range */
		if (n) {
			size_t tail;
			a = rndn(n);
			tail = n - a;                /* >= 1 */
			l = 1 + rndn(tail < 16 ? tail : 16);
			memmove(buf + a, buf + a + l, tail - l);
			n -= l;
		}
		break;
	case 3: /* duplicate a range */
		if (n) {
			char tmp[64];
			a = rndn(n);
			l = 1 + rndn(n - a < sizeof tmp ? n - a : sizeof tmp);
			memcpy(tmp, buf + a, l);
			insert_bytes(buf, len, cap, rndn(n + 1), tmp, l);
			return;
		}
		break;
	case 4: { /* insert a token */
		const char *t = tokens[rndn(sizeof tokens / sizeof tokens[0])];
		insert_bytes(buf, len, cap, rndn(n + 1), t, strlen(t));
		return;
	}
	case 5: /* truncate */
		n = rndn(n + 1);
		break;
	default: /* swap two bytes */
		if (n) {
			size_t b = rndn(n);
			char t;
			a = rndn(n);
			t = buf[a];
			buf[a] = buf[b];
			buf[b] = t;
		}
		break;
	}
	*len = n;
}

static void test_mutations(void)
{
	const char *names[] = { "good-full.json", "good-minimal.json", "good-ipv6.json" };
	const char *e;
	uint64_t seed = 0x5eed0fa99f11e5ull;
	unsigned long iters = 6000, n_ok = 0, n_bad = 0, n_badmsg = 0;
	struct act__app app;

	if ((e = getenv("APPFILE_SEED")))
		seed = strtoull(e, NULL, 0);
	if ((e = getenv("APPFILE_ITERS")))
		iters = strtoul(e, NULL, 0);
	rng_state = seed ? seed : 1;
	diag("mutation run: seed 0x%llx, %lu iterations", (unsigned long long)seed, iters);

	for (size_t f = 0; f < 3; f++) {
		size_t olen, len, cap;
		char *orig = slurp(data_path(names[f]), &olen);
		char *buf;

		cap = olen * 4 + 1024;
		buf = malloc(cap);
		if (!buf)
			bail("out of memory");
		for (unsigned long i = 0; i < iters; i++) {
			unsigned k = 1 + (unsigned)rndn(4);
			int rc;

			memcpy(buf, orig, olen);
			len = olen;
			while (k--)
				mutate(buf, &len, cap);
			/* Exactly len bytes: ASan sees any read past the end. */
			{
				char *exact = malloc(len ? len : 1);
				if (!exact)
					bail("out of memory");
				memcpy(exact, buf, len);
				rc = act__app_parse(exact, len, "mut.json", "/srv", &app, err, sizeof err);
				free(exact);
			}
			if (rc == 0) {
				int sane = app.node && app.n_groups >= 1 && app.n_groups <= 255 &&
				           app.state_dir && app.control_socket;
				for (uint32_t g = 0; sane && g < app.n_groups; g++)
					sane = app.groups[g].name && app.groups[g].module &&
					       app.groups[g].n_actors >= 1 && app.groups[g].actors[0].name &&
					       app.groups[g].actors[0].behaviour;
				if (!sane)
					n_badmsg++;
				n_ok++;
			} else {
				if (rc != -EINVAL || strncmp(err, "mut.json", 8) ||
				    (!strstr(err, ": syntax error: ") && !strstr(err, ": $")) ||
				    !is_zeroed(&app)) {
					if (n_badmsg++ < 5)
						diag("iteration %lu: rc %d: %s", i, rc, err);
				}
				n_bad++;
			}
			act__app_free(&app);
		}
		free(buf);
		free(orig);
	}
	ok(n_badmsg == 0, "%lu mutated files: %lu accepted, %lu rejected, every rejection "
	   "with one well-formed message", n_ok + n_bad, n_ok, n_bad);
}

int main(void)
{
	tap_timeout(300);
	srcdir = getenv("top_srcdir");
	if (!srcdir || !*srcdir)
		srcdir = ".";

	test_good_full();
	test_good_minimal();
	test_good_ipv6();
	test_bad_files();
	test_unreadable();
	test_edges();
	test_deep_path();
	test_relative_name();
	test_big();
	test_mutations();
	return done_testing();
}
