/* SPDX-License-Identifier: MIT */
/*
 * actorsctl.c - the operator's command-line client for a running actorsd.
 *
 * It speaks the control protocol of doc/control-protocol.md: connect to the
 * node's unix control socket, write one JSON request line, read one JSON
 * answer line, and turn that answer into text for a person (or pass it
 * through untouched with --json for a script).  The exit status is part of
 * the interface and scripts may rely on it: 0 ok, 1 the node refused the
 * request or reports a problem, 2 usage error, 3 the node could not be
 * reached or gave no valid answer in time.  Every wait is bounded by one
 * deadline, so actorsctl never hangs on a wedged node.  It depends on libc
 * and cJSON only, not on libactors: it must keep working when the library
 * it would diagnose is broken.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <actors/common.h>  /* ACT_EXIT_* */

#include "curve.h"
#include "utf8.h"
#include "topics.h"

/* Exit codes of actorsctl itself (see actorsctl(1)). */
enum {
	CTL_OK = 0,           /* the node did what was asked */
	CTL_PROBLEM = 1,      /* the node answered ok:false, or reports a problem */
	CTL_USAGE = 2,        /* bad command line */
	CTL_UNREACHABLE = 3,  /* no socket, refused, timeout, malformed answer */
};

#define DEFAULT_SOCKET        "./actorsd.sock"
#define DEFAULT_IO_TIMEOUT_MS 10000
#define RELOAD_WAIT_MS        600000  /* the node's own limit for a reload */
#define DEFAULT_ASK_MS        5000
#define ASK_GRACE_MS          2000            /* I/O timeout of ask beyond its own */
#define MAX_TIMEOUT_S         86400.0         /* -t */
#define MAX_ASK_TIMEOUT_S     3600.0          /* the node's limit for timeout_ms */
#define MAX_REQUEST_BYTES     (1024 * 1024)   /* the node refuses anything larger */
#define MAX_ANSWER_BYTES      (64u * 1024 * 1024)
#define MAX_NAME_BYTES        ACT_NAME_MAX    /* what the node declares and accepts */
#define MAX_JSON_ID           9007199254740991ULL  /* 2^53 - 1: exact as a JSON number */

enum cmd { CMD_STATUS, CMD_RESTART, CMD_STOP, CMD_SEND, CMD_ASK, CMD_DEAD_LETTERS,
           CMD_REPLAY, CMD_METRICS, CMD_SPAWN, CMD_STOP_ACTOR, CMD_ACTORS, CMD_RELOAD };

struct opts {
	const char *socket;
	const char *app;           /* -a: find the socket from this app file */
	const char *node;          /* -n: the node's name, for /run/actors/NODE */
	bool json;
	long long io_timeout_ms;   /* -1: not given */
	long long ask_timeout_ms;  /* -1: not given */
	char **pos;                /* positional arguments, the command first */
	int n_pos;
};

/* ---- messages ---------------------------------------------------------- */

__attribute__((format(printf, 1, 2)))
static void say_err(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "actorsctl: %s\n", line);
}

/* Reports a command-line mistake and returns CTL_USAGE. */
__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "actorsctl: %s\nTry 'actorsctl --help' for more information.\n", line);
	return CTL_USAGE;
}

/* Copies s into dst (cap bytes), replacing control characters so that text
 * from the node cannot drive the terminal. */
static const char *clean(char *dst, size_t cap, const char *s)
{
	size_t i = 0;

	for (; s && *s && i + 1 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		dst[i++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	dst[i] = '\0';
	return dst;
}

/* Writes s to stdout with control characters replaced, whatever its length. */
static void put_clean(const char *s)
{
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void print_help(void)
{
	fputs(
"Usage: actorsctl [-s SOCKET] [--json] [-t SECONDS] COMMAND [ARGS]\n"
"Control a running actorsd node through its control socket.\n"
"\n"
"Commands:\n"
"  status                    groups, counters and recent crashes\n"
"  restart GROUP             restart GROUP's worker; returns once it is ready\n"
"  reload                    re-read the app file and apply what changed (new\n"
"                            code one group at a time); returns when done\n"
"  stop                      stop the node gracefully\n"
"  upgrade                   re-execute actorsd's binary (a new one installed\n"
"                            at the same path) without losing an envelope\n"
"  send ACTOR TYPE JSON      send a TYPE message to ACTOR; fails (exit 1) if\n"
"                            ACTOR rejects it (unknown type, bad field)\n"
"  ask ACTOR TYPE JSON [--timeout SECONDS]\n"
"                            send a request and print the reply's type and\n"
"                            message (the node waits 5 s, at most 3600)\n"
"  dead-letters              list the dead-letter store, one line per entry\n"
"  dead-letters replay ID    send dead letter ID to its receiver again\n"
"  metrics                   the node's counters in OpenMetrics text format\n"
"  spawn GROUP BEHAVIOUR [NAME] [ARGS_JSON]\n"
"                            create an actor of BEHAVIOUR in GROUP; prints\n"
"                            its name (a generated one without NAME)\n"
"  stop ACTOR                stop the spawned actor ACTOR\n"
"  actors                    every actor, static and spawned: ref, group,\n"
"                            parent, behaviour, counters, mailbox, monitors,\n"
"                            restarts and escalations by its parent's policy\n"
"  keygen [DIR]              write a new CURVE keypair to DIR (default .):\n"
"                            curve.secret (mode 0600) and curve.public;\n"
"                            needs no node, never overwrites\n"
"\n"
"Options:\n"
"  -s, --socket PATH         control socket (default: the first that exists of\n"
"                            $ACTORS_SOCKET, $RUNTIME_DIRECTORY/control.sock,\n"
"                            /run/actors/NODE/control.sock with -n, and\n"
"                            ./actorsd.sock)\n"
"  -n, --node NODE           find the control socket of the node NODE run by\n"
"                            the actorsd@NODE unit (/run/actors/NODE)\n"
"  -a, --app APP.json        use the control socket of the node run from this\n"
"                            app file (its control_socket, else\n"
"                            STATE_DIR/actorsd.sock)\n"
"      --json                print the node's JSON answer as is\n"
"  -t, --io-timeout SECONDS  give up on the node after SECONDS (default 10;\n"
"                            for ask: its timeout + 2)\n"
"  -h, --help                print this help and exit\n"
"  -V, --version             print the version and exit\n"
"\n"
"GROUP, ACTOR and TYPE are the node's own names: 1..63 bytes of UTF-8 without\n"
"control characters.  JSON is one JSON object, e.g. '{\"count\":1}'.  Put --\n"
"before arguments that start with '-'.\n"
"\n"
"Exit status: 0 ok; 1 the node refused the request or reports a problem;\n"
"2 usage error; 3 the node cannot be reached or gave no valid answer.\n",
	      stdout);
}

/* ---- argument checks ---------------------------------------------------- */

static bool utf8_valid(const char *s)
{
	return act__utf8_valid(s, strlen(s));
}

/* An actor, type or group name as the node knows them: 1..ACT_NAME_MAX (63)
 * bytes of UTF-8 without control characters.  The control commands name the
 * node's own groups, actors and registered types, all declared under that
 * limit (255-byte names exist only for remote peers, which actorsctl does
 * not address). */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MAX_NAME_BYTES || !utf8_valid(s))
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/*
 * Checks that text is one JSON object and returns a copy fit to be embedded
 * verbatim in a request line (the text itself is sent, not cJSON's reprint
 * of it, so that large integers keep every digit).  Line breaks and tabs
 * between tokens become spaces; any other control character, and any
 * control character inside a string (cJSON would accept them), is refused.
 * Returns NULL with a reason in why (static or in whybuf).
 */
static char *json_arg(const char *text, char *whybuf, size_t whycap, const char **why)
{
	bool in_str = false, esc = false;
	const char *end = NULL;
	char *copy;
	cJSON *v;

	if (!utf8_valid(text)) {
		*why = "not valid UTF-8";
		return NULL;
	}
	if (!(copy = strdup(text))) {
		*why = "out of memory";
		return NULL;
	}
	for (char *p = copy; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (in_str) {
			if (c < 0x20) {
				*why = "control character inside a string (write it as \\n, \\t or \\uXXXX)";
				goto fail;
			}
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			*p = ' ';
		} else if (c < 0x20 || c == 0x7f) {
			*why = "control character outside a string";
			goto fail;
		}
	}
	v = cJSON_ParseWithOpts(copy, &end, 1);
	if (!v) {
		if (end && end >= copy && (size_t)(end - copy) <= strlen(copy))
			snprintf(whybuf, whycap, "not valid JSON (at character %zu)",
			         (size_t)(end - copy) + 1);
		else
			snprintf(whybuf, whycap, "not valid JSON");
		*why = whybuf;
		goto fail;
	}
	if (!cJSON_IsObject(v)) {
		cJSON_Delete(v);
		*why = "must be a JSON object, e.g. '{\"count\":1}'";
		goto fail;
	}
	cJSON_Delete(v);
	return copy;
fail:
	free(copy);
	return NULL;
}

/* Parses a positive number of seconds up to max (fractions allowed) into
 * whole milliseconds, rounded up.  false if s is not such a number. */
static bool parse_seconds(const char *s, double max, long long *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !(v > 0 && v <= max))  /* NaN too */
		return false;
	*ms = (long long)(v * 1000.0);
	if ((double)*ms < v * 1000.0)
		++*ms;  /* round up: 0.0001 s is 1 ms, not 0 */
	return true;
}

/* Parses a dead-letter id: decimal digits, 1..2^53-1. */
static bool parse_id(const char *s, unsigned long long *id)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*id = strtoull(s, &end, 10);
	return !*end && !errno && *id >= 1 && *id <= MAX_JSON_ID;
}

/* ---- command line -------------------------------------------------------- */

/*
 * If arg is the option long (as "--long" or "--long=V") or short ("-x" or
 * "-xV"), stores its value (the rest of arg or the next argument) in *val
 * and advances *i past what it consumed.  Returns 1 on a match, 0 if arg
 * is another option, -1 if the value is missing.
 */
static int opt_value(char **argv, int argc, int *i, const char *lng, char shrt,
                     const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(lng);

	if (!strncmp(a, lng, n) && (a[n] == '\0' || a[n] == '=')) {
		if (a[n] == '=') {
			*val = a + n + 1;
			return 1;
		}
	} else if (!(shrt && a[0] == '-' && a[1] == shrt)) {
		return 0;
	} else if (a[2]) {
		*val = a + 2;
		return 1;
	}
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

/*
 * Reads options anywhere on the line (up to "--") and collects the other
 * arguments in o->pos.  Returns -1 to go on, or an exit code: --help and
 * --version are handled here, usage errors are reported here.
 */
static int parse_args(int argc, char **argv, struct opts *o)
{
	bool only_pos = false;

	memset(o, 0, sizeof *o);
	o->io_timeout_ms = -1;
	o->ask_timeout_ms = -1;
	if (!(o->pos = calloc((size_t)argc + 1, sizeof *o->pos))) {
		say_err("out of memory");
		return CTL_PROBLEM;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val;
		int r;

		if (only_pos || a[0] != '-' || a[1] == '\0') {
			o->pos[o->n_pos++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			only_pos = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			print_help();
			return CTL_OK;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("actorsctl (actors) %s\n", PACKAGE_VERSION);
			return CTL_OK;
		} else if (!strcmp(a, "--json")) {
			o->json = true;
		} else if ((r = opt_value(argv, argc, &i, "--socket", 's', &val))) {
			if (r < 0)
				return usage_error("option '%s' needs a PATH", a);
			if (!*val)
				return usage_error("empty socket path");
			o->socket = val;
		} else if ((r = opt_value(argv, argc, &i, "--node", 'n', &val))) {
			if (r < 0)
				return usage_error("option '%s' needs a NODE name", a);
			if (!*val || strchr(val, '/') || !strcmp(val, ".") || !strcmp(val, ".."))
				return usage_error("bad node name '%s'", val);
			o->node = val;
		} else if ((r = opt_value(argv, argc, &i, "--app", 'a', &val))) {
			if (r < 0)
				return usage_error("option '%s' needs an app file", a);
			o->app = val;
		} else if ((r = opt_value(argv, argc, &i, "--io-timeout", 't', &val))) {
			if (r < 0)
				return usage_error("option '%s' needs a number of SECONDS", a);
			if (!parse_seconds(val, MAX_TIMEOUT_S, &o->io_timeout_ms))
				return usage_error("bad I/O timeout '%s': expected seconds, "
				                   "more than 0 and at most %.0f", val, MAX_TIMEOUT_S);
		} else if ((r = opt_value(argv, argc, &i, "--timeout", 0, &val))) {
			if (r < 0)
				return usage_error("option '%s' needs a number of SECONDS", a);
			if (!parse_seconds(val, MAX_ASK_TIMEOUT_S, &o->ask_timeout_ms))
				return usage_error("bad ask timeout '%s': expected seconds, "
				                   "more than 0 and at most %.0f", val, MAX_ASK_TIMEOUT_S);
		} else {
			return usage_error("unknown option '%s'", a);
		}
	}
	if (o->n_pos == 0)
		return usage_error("no command given");
	return -1;
}

static int need_args(const struct opts *o, int n, const char *synopsis)
{
	if (o->n_pos - 1 < n)
		return usage_error("missing argument: usage: actorsctl %s", synopsis);
	if (o->n_pos - 1 > n)
		return usage_error("unexpected argument '%s': usage: actorsctl %s",
		                   o->pos[n + 1], synopsis);
	return -1;
}

static int check_name(const char *what, const char *s)
{
	char b[300];

	if (!name_ok(s))
		return usage_error("bad %s '%s': expected 1..%d bytes of UTF-8 without "
		                   "control characters", what, clean(b, sizeof b, s),
		                   MAX_NAME_BYTES);
	return -1;
}

/*
 * The requests for actors at run time: spawn GROUP BEHAVIOUR [NAME]
 * [ARGS_JSON] and stop ACTOR.  Returns -1 or an exit code.
 */
static int build_dyn_request(const struct opts *o, enum cmd *cmd, cJSON *req, bool *oom)
{
	char whybuf[96];
	const char *why = NULL;
	int rc;

	if (!strcmp(o->pos[0], "stop")) {
		*cmd = CMD_STOP_ACTOR;
		if ((rc = check_name("actor name", o->pos[1])) >= 0)
			return rc;
		*oom |= !cJSON_AddStringToObject(req, "cmd", "stop_actor");
		*oom |= !cJSON_AddStringToObject(req, "actor", o->pos[1]);
		return -1;
	}
	*cmd = CMD_SPAWN;
	if (o->n_pos < 3 || o->n_pos > 5)
		return usage_error("%s argument: usage: actorsctl spawn GROUP BEHAVIOUR [NAME] "
		                   "[ARGS_JSON]", o->n_pos < 3 ? "missing" : "unexpected");
	if ((rc = check_name("group name", o->pos[1])) >= 0 ||
	    (rc = check_name("behaviour name", o->pos[2])) >= 0 ||
	    (o->n_pos >= 4 && (rc = check_name("actor name", o->pos[3])) >= 0))
		return rc;
	*oom |= !cJSON_AddStringToObject(req, "cmd", "spawn");
	*oom |= !cJSON_AddStringToObject(req, "group", o->pos[1]);
	*oom |= !cJSON_AddStringToObject(req, "behaviour", o->pos[2]);
	if (o->n_pos >= 4)
		*oom |= !cJSON_AddStringToObject(req, "name", o->pos[3]);
	if (o->n_pos == 5) {
		/* Any JSON value (init gets the text); checked here for a clear error. */
		cJSON *j = cJSON_Parse(o->pos[4]);
		if (!j) {
			snprintf(whybuf, sizeof whybuf, "not JSON");
			why = whybuf;
			return usage_error("bad ARGS_JSON: %s", why);
		}
		cJSON_Delete(j);
		*oom |= !cJSON_AddStringToObject(req, "args", o->pos[4]);
	}
	return -1;
}

/*
 * Turns the command line into a request line (JSON plus '\n', in *line,
 * caller frees) and the command it is.  Returns -1 on success, or an exit
 * code after reporting the problem.
 */
static int build_request(const struct opts *o, enum cmd *cmd, char **line)
{
	const char *c = o->pos[0];
	char whybuf[96], *msg = NULL, *text = NULL;
	const char *why = NULL;
	cJSON *req = cJSON_CreateObject();
	bool oom = !req;
	int rc = -1;

	*line = NULL;
	if (o->ask_timeout_ms >= 0 && strcmp(c, "ask")) {
		rc = usage_error("--timeout belongs to 'ask' (the I/O timeout is -t)");
		goto out;
	}
	if (!strcmp(c, "spawn") || (!strcmp(c, "stop") && o->n_pos == 2)) {
		if ((rc = build_dyn_request(o, cmd, req, &oom)) >= 0)
			goto out;
	} else if (!strcmp(c, "status") || !strcmp(c, "stop") || !strcmp(c, "upgrade")) {
		/* upgrade answers like stop: silence is success. */
		*cmd = !strcmp(c, "status") ? CMD_STATUS : CMD_STOP;
		if ((rc = need_args(o, 0, c)) >= 0)
			goto out;
		oom |= !cJSON_AddStringToObject(req, "cmd", c);
	} else if (!strcmp(c, "reload")) {
		*cmd = CMD_RELOAD;
		if ((rc = need_args(o, 0, "reload")) >= 0)
			goto out;
		oom |= !cJSON_AddStringToObject(req, "cmd", "reload");
	} else if (!strcmp(c, "restart")) {
		*cmd = CMD_RESTART;
		if ((rc = need_args(o, 1, "restart GROUP")) >= 0 ||
		    (rc = check_name("group name", o->pos[1])) >= 0)
			goto out;
		oom |= !cJSON_AddStringToObject(req, "cmd", "restart");
		oom |= !cJSON_AddStringToObject(req, "group", o->pos[1]);
	} else if (!strcmp(c, "send") || !strcmp(c, "ask")) {
		*cmd = !strcmp(c, "send") ? CMD_SEND : CMD_ASK;
		if ((rc = need_args(o, 3, *cmd == CMD_SEND ? "send ACTOR TYPE JSON" :
		                    "ask ACTOR TYPE JSON [--timeout SECONDS]")) >= 0 ||
		    (rc = check_name("actor name", o->pos[1])) >= 0 ||
		    (rc = check_name("message type", o->pos[2])) >= 0)
			goto out;
		if (!(msg = json_arg(o->pos[3], whybuf, sizeof whybuf, &why))) {
			rc = usage_error("bad JSON message: %s", why);
			goto out;
		}
		oom |= !cJSON_AddStringToObject(req, "cmd", c);
		oom |= !cJSON_AddStringToObject(req, "actor", o->pos[1]);
		oom |= !cJSON_AddStringToObject(req, "type", o->pos[2]);
		cJSON *raw = cJSON_CreateRaw(msg);
		oom |= !raw || !cJSON_AddItemToObject(req, "message", raw);
		if (*cmd == CMD_ASK)
			oom |= !cJSON_AddNumberToObject(req, "timeout_ms", (double)
			        (o->ask_timeout_ms >= 0 ? o->ask_timeout_ms : DEFAULT_ASK_MS));
	} else if (!strcmp(c, "actors")) {
		*cmd = CMD_ACTORS;
		if ((rc = need_args(o, 0, c)) >= 0)
			goto out;
		oom |= !cJSON_AddStringToObject(req, "cmd", "actors");
	} else if (!strcmp(c, "metrics")) {
		*cmd = CMD_METRICS;
		if ((rc = need_args(o, 0, c)) >= 0)
			goto out;
		oom |= !cJSON_AddStringToObject(req, "cmd", "metrics");
	} else if (!strcmp(c, "dead-letters")) {
		if (o->n_pos >= 2 && !strcmp(o->pos[1], "replay")) {
			unsigned long long id;
			*cmd = CMD_REPLAY;
			if ((rc = need_args(o, 2, "dead-letters replay ID")) >= 0)
				goto out;
			if (!parse_id(o->pos[2], &id)) {
				rc = usage_error("bad dead-letter ID '%s': expected a positive integer",
				                 o->pos[2]);
				goto out;
			}
			oom |= !cJSON_AddStringToObject(req, "cmd", "dead_letters_replay");
			oom |= !cJSON_AddNumberToObject(req, "id", (double)id);
		} else {
			*cmd = CMD_DEAD_LETTERS;
			if ((rc = need_args(o, 0, "dead-letters [replay ID]")) >= 0)
				goto out;
			oom |= !cJSON_AddStringToObject(req, "cmd", "dead_letters");
		}
	} else {
		rc = usage_error("unknown command '%s'", c);
		goto out;
	}
	if (oom || !(text = cJSON_PrintUnformatted(req))) {
		say_err("out of memory");
		rc = CTL_PROBLEM;
		goto out;
	}
	size_t n = strlen(text);
	if (n + 1 > MAX_REQUEST_BYTES) {
		rc = usage_error("request too large (%zu bytes; the node accepts at most %d)",
		                 n + 1, MAX_REQUEST_BYTES);
		goto out;
	}
	if (!(*line = malloc(n + 2))) {
		say_err("out of memory");
		rc = CTL_PROBLEM;
		goto out;
	}
	memcpy(*line, text, n);
	memcpy(*line + n, "\n", 2);
out:
	free(text);
	free(msg);
	cJSON_Delete(req);
	return rc;
}

/* ---- talking to the node ----------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline: 1 ready, 0 timed out, -errno. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		struct pollfd p = { .fd = fd, .events = events };
		int r;

		if (left <= 0)
			return 0;
		r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static int connect_node(const char *path, long long timeout_ms, int *fdp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
	                      .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000 };
	int fd, e;

	memcpy(sa.sun_path, path, strlen(path) + 1);  /* length checked by the caller */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		say_err("socket: %s", strerror(errno));
		return CTL_UNREACHABLE;
	}
	/* A blocking connect to a unix socket waits only while the node's listen
	 * backlog is full, and SO_SNDTIMEO bounds that wait (EAGAIN). */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
		say_err("setsockopt: %s", strerror(errno));
		goto fail;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		e = errno;
		if (e == ENOENT)
			say_err("cannot reach the node: no socket at %s (is actorsd running? "
			        "use -s or ACTORS_SOCKET)", path);
		else if (e == ECONNREFUSED)
			say_err("cannot reach the node: connection refused at %s (actorsd is "
			        "not running, or this is not its socket)", path);
		else if (e == EAGAIN || e == EINPROGRESS || e == ETIMEDOUT)
			say_err("cannot reach the node: timed out connecting to %s", path);
		else
			say_err("cannot reach the node: %s: %s", path, strerror(e));
		goto fail;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		say_err("fcntl: %s", strerror(errno));
		goto fail;
	}
	*fdp = fd;
	return -1;
fail:
	close(fd);
	return CTL_UNREACHABLE;
}

/*
 * Sends the request line and reads one answer line, all before the
 * deadline.  On success returns -1 with the answer (without its '\n',
 * NUL-terminated, caller frees) in *ans and its length in *ans_len.
 * If the node stops reading early (it may refuse a peer before reading),
 * whatever it answered is still read and used.
 */
static int exchange(int fd, const char *req, long long deadline, long long timeout_ms,
                    char **ans, size_t *ans_len)
{
	size_t len = strlen(req), off = 0, cap = 0, n = 0;
	char *buf = NULL, *nl = NULL;
	int r, rc = CTL_UNREACHABLE;

	while (off < len) {
		if ((r = wait_fd(fd, POLLOUT, deadline)) <= 0) {
			if (r == 0)
				say_err("timed out after %.3g s sending the request",
				        (double)timeout_ms / 1000.0);
			else
				say_err("poll: %s", strerror(-r));
			return CTL_UNREACHABLE;
		}
		ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == EPIPE || errno == ECONNRESET)
				break;  /* read what the node said before it closed */
			say_err("send: %s", strerror(errno));
			return CTL_UNREACHABLE;
		}
		off += (size_t)w;
	}
	for (;;) {
		if (n == MAX_ANSWER_BYTES) {
			say_err("malformed answer from the node: more than %u bytes without "
			        "a line end", MAX_ANSWER_BYTES);
			goto out;
		}
		if (cap - n < 4096 + 1 && cap < MAX_ANSWER_BYTES + 1) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *nb;
			if (ncap > MAX_ANSWER_BYTES + 1)
				ncap = MAX_ANSWER_BYTES + 1;  /* room for the NUL */
			if (!(nb = realloc(buf, ncap))) {
				say_err("out of memory");
				rc = CTL_PROBLEM;
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		if ((r = wait_fd(fd, POLLIN, deadline)) <= 0) {
			if (r == 0)
				say_err("timed out after %.3g s waiting for the node's answer",
				        (double)timeout_ms / 1000.0);
			else
				say_err("poll: %s", strerror(-r));
			goto out;
		}
		ssize_t got = recv(fd, buf + n, cap - n - 1, 0);
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			say_err("cannot read the node's answer: %s", strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		nl = memchr(buf + n, '\n', (size_t)got);
		n += (size_t)got;
		if (nl)
			break;
	}
	if (nl)
		n = (size_t)(nl - buf);
	if (n == 0) {
		say_err("the node closed the connection without answering");
		goto out;
	}
	buf[n] = '\0';
	*ans = buf;
	*ans_len = n;
	return -1;
out:
	free(buf);
	return rc;
}

/*
 * Parses an answer line: one JSON object with a boolean "ok", nothing else
 * on the line.  NULL (reported) if it is not.
 */
static cJSON *parse_answer(const char *text, size_t len)
{
	cJSON *a;

	if (memchr(text, '\0', len)) {
		say_err("malformed answer from the node: NUL byte");
		return NULL;
	}
	if (!(a = cJSON_ParseWithOpts(text, NULL, 1))) {
		say_err("malformed answer from the node: not valid JSON");
		return NULL;
	}
	if (!cJSON_IsObject(a) || !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(a, "ok"))) {
		say_err("malformed answer from the node: no boolean \"ok\"");
		cJSON_Delete(a);
		return NULL;
	}
	return a;
}

/* ---- formatting helpers ------------------------------------------------ */

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* The string at key, or NULL. */
static const char *get_str(const cJSON *o, const char *key)
{
	const cJSON *v = get(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* true and *d if key holds a number. */
static bool get_num(const cJSON *o, const char *key, double *d)
{
	const cJSON *v = get(o, key);

	if (!cJSON_IsNumber(v))
		return false;
	*d = v->valuedouble;
	return true;
}

/* A count in at most width characters: exact, or scaled (12.3M). */
static const char *fmt_count(char *b, size_t cap, const cJSON *o, const char *key, int width)
{
	static const char units[] = "kMGTPE";
	double v;
	int i = -1;

	if (!get_num(o, key, &v))
		return "-";
	if (snprintf(b, cap, "%.0f", v) <= width || v < 0)
		return b;
	while (v >= 999.5 && i < 5) {
		v /= 1000;
		i++;
	}
	if (i < 0)
		i = 0;
	/* 12.3k when it fits, else 12k */
	if (v >= 99.95 || snprintf(b, cap, "%.1f%c", v, units[i]) > width)
		snprintf(b, cap, "%.0f%c", v, units[i]);
	return b;
}

/* A byte count: exact below 1024, else 4K, 1.5K, 977K, 256M. */
static const char *fmt_bytes(char *b, size_t cap, const cJSON *o, const char *key)
{
	static const char units[] = "KMGTPE";
	double v;
	int i = -1;

	if (!get_num(o, key, &v))
		return "-";
	if (v < 1024) {
		snprintf(b, cap, "%.0f", v);
		return b;
	}
	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(b, cap, v >= 9.95 || v == (double)(long long)v ? "%.0f%c" : "%.1f%c",
	         v, units[i]);
	return b;
}

/* A duration in milliseconds, in at most 6 characters: 850ms, 4.2s, 42s,
 * 5m03s, 2h05m, 3d04h, 123d. */
static const char *fmt_dur(char *b, size_t cap, const cJSON *o, const char *key)
{
	double d;
	long long ms;

	if (!get_num(o, key, &d) || d < 0)
		return "-";
	ms = d > 1e15 ? (long long)1e15 : (long long)d;
	if (ms < 1000)
		snprintf(b, cap, "%lldms", ms);
	else if (ms < 10000)
		snprintf(b, cap, "%lld.%llds", ms / 1000, ms / 100 % 10);
	else if (ms < 60000)
		snprintf(b, cap, "%llds", ms / 1000);
	else if (ms < 3600000)
		snprintf(b, cap, "%lldm%02llds", ms / 60000, ms / 1000 % 60);
	else if (ms < 86400000)
		snprintf(b, cap, "%lldh%02lldm", ms / 3600000, ms / 60000 % 60);
	else if (ms < 100LL * 86400000)
		snprintf(b, cap, "%lldd%02lldh", ms / 86400000, ms / 3600000 % 24);
	else
		snprintf(b, cap, "%lldd", ms / 86400000);
	return b;
}

/* A wall-clock time in milliseconds since the epoch, as local time. */
static const char *fmt_time(char *b, size_t cap, const cJSON *o, const char *key)
{
	double d;
	time_t t;
	struct tm tm;
	size_t n;

	if (!get_num(o, key, &d) || d < 0 || d > 1e15)
		return "-";
	t = (time_t)(d / 1000);
	if (!localtime_r(&t, &tm) || !(n = strftime(b, cap, "%Y-%m-%d %H:%M:%S", &tm)))
		return "-";
	snprintf(b + n, cap - n, ".%03d", (int)((long long)d % 1000));
	return b;
}

/* "killed by signal 9 (Killed), core dumped", "hung, killed by signal 9
 * (Killed)" or "exited with code 111 (temporary failure)" for a crash
 * record. */
static const char *fmt_death(char *b, size_t cap, const cJSON *c)
{
	const char *hung = cJSON_IsTrue(get(c, "hung")) ? "hung, " : "";
	double sig, code;
	size_t n = 0;

	if (get_num(c, "signal", &sig) && sig > 0) {
		const char *name = sig < 1000 ? strsignal((int)sig) : NULL;
		n = (size_t)snprintf(b, cap, "%skilled by signal %.0f%s%s%s", hung, sig,
		                     name ? " (" : "", name ? name : "", name ? ")" : "");
	} else if (get_num(c, "exit_code", &code)) {
		int e = (int)code;
		n = (size_t)snprintf(b, cap, "exited with code %.0f%s", code,
		                     e == ACT_EXIT_OK ? " (clean stop)" :
		                     e == ACT_EXIT_PERMANENT ? " (permanent error)" :
		                     e == ACT_EXIT_TEMPORARY ? " (temporary failure)" : "");
	} else {
		n = (size_t)snprintf(b, cap, "died");
	}
	if (n < cap && cJSON_IsTrue(get(c, "core_dumped")))
		snprintf(b + n, cap - n, ", core dumped");
	return b;
}

/* ---- presenting answers ------------------------------------------------- */

static bool is_problem_state(const char *s)
{
	return s && (!strcmp(s, "failed") || !strcmp(s, "dead") || !strcmp(s, "backoff"));
}

/* Checks the shape the status printer relies on. */
static bool status_valid(const cJSON *a)
{
	const cJSON *g, *groups = get(a, "groups"), *crashes = get(a, "crashes");

	if (!cJSON_IsArray(groups))
		return false;
	cJSON_ArrayForEach(g, groups)
		if (!cJSON_IsObject(g) || !get_str(g, "name"))
			return false;
	if (crashes && !cJSON_IsNull(crashes)) {
		if (!cJSON_IsArray(crashes))
			return false;
		cJSON_ArrayForEach(g, crashes)
			if (!cJSON_IsObject(g))
				return false;
	}
	return true;
}

/* Column widths of the group table; with the longest group column the
 * table is 100 characters wide. */
#define W_GROUP_MAX 11
#define W_PID       7
#define W_STATE     8
#define W_UPTIME    6
#define W_RESTARTS  8
#define W_RETRY     6
#define W_RING      18
#define W_HANDLED   8
#define W_REFUSED   7
#define W_REDELIV   7
#define W_DEAD      4

static void print_node_line(const cJSON *a)
{
	char b1[128], b2[32];
	double d;

	printf("node %s:", clean(b1, sizeof b1, get_str(a, "node") ? get_str(a, "node") : "?"));
	printf(" %s", clean(b1, sizeof b1, get_str(a, "state") ? get_str(a, "state") : "?"));
	if (get_num(a, "pid", &d))
		printf(", pid %.0f", d);
	if (get_num(a, "uptime_ms", &d))
		printf(", up %s", fmt_dur(b2, sizeof b2, a, "uptime_ms"));
	if (get_str(a, "version"))
		printf(", version %s", clean(b1, sizeof b1, get_str(a, "version")));
	if (get_str(a, "strategy"))
		printf(", %s", clean(b1, sizeof b1, get_str(a, "strategy")));
	if (get_num(a, "restarts", &d))
		printf(", %.0f restart%s", d, d == 1 ? "" : "s");
	if (get_num(a, "dead_letters", &d))
		printf(", %.0f dead letter%s", d, d == 1 ? "" : "s");
	putchar('\n');
}

static void print_group(const cJSON *g, int wg)
{
	char name[128], state[64], pid[32], up[32], rst[32], retry[32], ring[64];
	char dep[16], hwm[16], rcap[16], hnd[32], ref[32], red[32], dead[32], why[512];
	const char *s;

	clean(name, sizeof name, get_str(g, "name"));
	if ((int)strlen(name) > wg)
		printf("%s\n%*s", name, wg, "");  /* a long name gets a line of its own */
	else
		printf("%-*s", wg, name);
	snprintf(ring, sizeof ring, "%s/%s/%s",
	         fmt_bytes(dep, sizeof dep, g, "ring_depth"),
	         fmt_bytes(hwm, sizeof hwm, g, "ring_hwm"),
	         fmt_bytes(rcap, sizeof rcap, g, "ring_capacity"));
	s = get_str(g, "state");
	printf(" %*s %-*s %*s %*s %*s %-*s %*s %*s %*s %*s\n",
	       W_PID, fmt_count(pid, sizeof pid, g, "pid", W_PID),
	       W_STATE, s ? clean(state, sizeof state, s) : "-",
	       W_UPTIME, cJSON_IsNumber(get(g, "pid")) ? fmt_dur(up, sizeof up, g, "uptime_ms") : "-",
	       W_RESTARTS, fmt_count(rst, sizeof rst, g, "restarts", W_RESTARTS),
	       W_RETRY, fmt_dur(retry, sizeof retry, g, "next_retry_ms"),
	       W_RING, ring,
	       W_HANDLED, fmt_count(hnd, sizeof hnd, g, "handled", W_HANDLED),
	       W_REFUSED, fmt_count(ref, sizeof ref, g, "refused", W_REFUSED),
	       W_REDELIV, fmt_count(red, sizeof red, g, "redelivered", W_REDELIV),
	       W_DEAD, fmt_count(dead, sizeof dead, g, "dead_letters", W_DEAD));
	if (cJSON_IsTrue(get(g, "removed"))) {
		/* Not a death: a reload took the group out, and its worker (if
		 * one ran) stopped for it. */
		char at[64];
		printf("    removed by a reload");
		if (cJSON_IsNumber(get(g, "removed_at_ms")))
			printf(" at %s", fmt_time(at, sizeof at, g, "removed_at_ms"));
		if ((s = get_str(g, "last_death")) && *s)
			printf(" (its last worker: %s)", clean(why, sizeof why, s));
		putchar('\n');
	} else if ((s = get_str(g, "last_death")) && *s) {
		printf("    last death: %s\n", clean(why, sizeof why, s));
	}
}

/* One crash record: when, which worker, how it died, and what it was doing;
 * the "while handling" part goes on a second line if one would pass 100
 * columns. */
static void print_crash(const cJSON *c)
{
	char head[512], tail[512], t[64], grp[128], death[256], ht[128], hf[128], depth[16];
	size_t n = 0;
	double pid;
	const char *s;

	n = (size_t)snprintf(head, sizeof head, "  %s %s", fmt_time(t, sizeof t, c, "time_ms"),
	                     clean(grp, sizeof grp, get_str(c, "group") ? get_str(c, "group") : "?"));
	if (get_num(c, "pid", &pid) && n < sizeof head)
		n += (size_t)snprintf(head + n, sizeof head - n, " pid %.0f", pid);
	if (n < sizeof head)
		snprintf(head + n, sizeof head - n, ": %s", fmt_death(death, sizeof death, c));
	n = 0;
	tail[0] = '\0';
	if ((s = get_str(c, "handling_type")) && *s) {
		n = (size_t)snprintf(tail, sizeof tail, "while handling %s", clean(ht, sizeof ht, s));
		if ((s = get_str(c, "handling_from")) && *s && n < sizeof tail)
			n += (size_t)snprintf(tail + n, sizeof tail - n, " from %s",
			                      clean(hf, sizeof hf, s));
	}
	if (cJSON_IsNumber(get(c, "ring_depth")) && n < sizeof tail)
		snprintf(tail + n, sizeof tail - n, "%sring depth %s", n ? ", " : "",
		         fmt_bytes(depth, sizeof depth, c, "ring_depth"));
	if (!tail[0])
		printf("%s\n", head);
	else if (strlen(head) + 2 + strlen(tail) <= 100)
		printf("%s, %s\n", head, tail);
	else
		printf("%s\n      %s\n", head, tail);
}

/*
 * The gateway's peers: one line each with the state (for peers of the app
 * file and watched ones; others are "connected" once a handshake showed a
 * real peer, else "stranger"), CURVE, the time since it was last up, and
 * frames sent, queued and refused; then the remote asks.
 */
static void print_peers(const cJSON *a)
{
	const cJSON *gw = get(a, "gateway"), *p, *asks;
	char b1[16], b2[16], b3[16], b4[16], ago[32];
	double v;

	if (!gw)
		return;
	if (cJSON_GetArraySize(get(gw, "peers")) == 0) {
		printf("peers: none\n");
	} else {
		printf("%-30s %-10s %-5s %10s %9s %9s %9s %7s\n", "PEER", "STATE", "CURVE",
		       "LAST UP", "SENT", "QUEUED", "REFUSED", "HS FAIL");
		cJSON_ArrayForEach(p, get(gw, "peers")) {
			const char *state = get_str(p, "state");
			const char *ep = get_str(p, "endpoint");
			if (cJSON_IsTrue(get(p, "stalled")))
				state = "stalled"; /* its envelopes are being dropped */
			else if (!state)
				state = cJSON_IsTrue(get(p, "connected")) ? "connected" : "stranger";
			if (!get_num(p, "last_up_ms_ago", &v))
				snprintf(ago, sizeof ago, "-");
			else if (v < 0)
				snprintf(ago, sizeof ago, "never");
			else
				snprintf(ago, sizeof ago, "%.1fs ago", v / 1000.0);
			if (ep && strlen(ep) > 30)
				printf("%s\n%-30s", ep, "");
			else
				printf("%-30s", ep ? ep : "?");
			printf(" %-10s %-5s %10s %9s %9s %9s %7s\n", state,
			       cJSON_IsTrue(get(p, "curve")) ? "yes" : "no", ago,
			       fmt_count(b1, sizeof b1, p, "sent", 9),
			       fmt_count(b2, sizeof b2, p, "queued", 9),
			       fmt_count(b3, sizeof b3, p, "refused", 9),
			       fmt_count(b4, sizeof b4, p, "handshakes_failed", 7));
		}
	}
	if ((asks = get(gw, "asks")) != NULL)
		printf("remote asks: %s outstanding, %s replied, %s rejected, %s expired, %s late\n",
		       fmt_count(b1, sizeof b1, asks, "outstanding", 9),
		       fmt_count(b2, sizeof b2, asks, "replied", 9),
		       fmt_count(b3, sizeof b3, asks, "rejected", 9),
		       fmt_count(b4, sizeof b4, asks, "expired", 9),
		       fmt_count(ago, sizeof ago, asks, "late", 9));
}

/* After an adoption: where the region came from and what it held. */
static void print_recovery(const cJSON *a)
{
	const cJSON *ep = get(a, "previous_epoch"), *took = get(a, "taken_over");

	if (!cJSON_IsTrue(get(a, "recovered")) || !cJSON_IsNumber(ep) || !cJSON_IsNumber(took))
		return;
	printf("recovered: true (epoch %.0f after %.0f, from %s), %.0f envelopes taken over\n",
	       ep->valuedouble + 1, ep->valuedouble,
	       get_str(a, "region_source") ? get_str(a, "region_source") : "?", took->valuedouble);
}

static void print_status(const cJSON *a)
{
	const cJSON *g, *crashes = get(a, "crashes");
	int wg = 5;

	print_node_line(a);
	print_recovery(a);
	cJSON_ArrayForEach(g, get(a, "groups")) {
		int n = (int)strlen(get_str(g, "name"));
		if (n > wg)
			wg = n > W_GROUP_MAX ? W_GROUP_MAX : n;
	}
	printf("%-*s %*s %-*s %*s %*s %*s %-*s %*s %*s %*s %*s\n",
	       wg, "GROUP", W_PID, "PID", W_STATE, "STATE", W_UPTIME, "UPTIME",
	       W_RESTARTS, "RESTARTS", W_RETRY, "RETRY", W_RING, "RING DEPTH/HWM/CAP",
	       W_HANDLED, "HANDLED", W_REFUSED, "REFUSED", W_REDELIV, "REDELIV",
	       W_DEAD, "DEAD");
	cJSON_ArrayForEach(g, get(a, "groups"))
		print_group(g, wg);
	/* Pools: their members are the groups NAME#k above. */
	cJSON_ArrayForEach(g, get(a, "pools")) {
		char name[128], routing[32], key[128], dep[16];
		double members = 0, ready = 0, restarts = 0;
		if (!get_str(g, "name"))
			continue;
		get_num(g, "members", &members);
		get_num(g, "ready", &ready);
		get_num(g, "restarts", &restarts);
		printf("pool %s: %s%s%s, %.0f/%.0f members ready, %.0f restarts, ring depth %s%s\n",
		       clean(name, sizeof name, get_str(g, "name")),
		       clean(routing, sizeof routing, get_str(g, "routing") ? get_str(g, "routing") : "?"),
		       get_str(g, "key") ? " on " : "",
		       get_str(g, "key") ? clean(key, sizeof key, get_str(g, "key")) : "",
		       ready, members, restarts, fmt_bytes(dep, sizeof dep, g, "ring_depth"),
		       cJSON_IsTrue(get(g, "rolling_restart")) ? ", rolling restart under way" : "");
	}
	print_peers(a);
	if (cJSON_GetArraySize(crashes) == 0) {
		printf("recent crashes: none\n");
		return;
	}
	printf("recent crashes:\n");
	cJSON_ArrayForEach(g, crashes)
		print_crash(g);
}

/* Reports groups that are failed, dead or backing off; true if any, or if
 * the node says "problem" itself. */
static bool report_problems(const cJSON *a)
{
	char msg[900], name[80], state[32];
	size_t n = 0;
	const cJSON *g;
	bool any = false;

	msg[0] = '\0';
	cJSON_ArrayForEach(g, get(a, "groups")) {
		const char *s = get_str(g, "state");
		if (!is_problem_state(s) && !cJSON_IsTrue(get(g, "failed")))
			continue;
		if (n < sizeof msg)
			n += (size_t)snprintf(msg + n, sizeof msg - n, "%s%s (%s)", any ? ", " : "",
			                      clean(name, sizeof name, get_str(g, "name")),
			                      clean(state, sizeof state, s ? s : "failed"));
		any = true;
	}
	if (!any && !cJSON_IsTrue(get(a, "problem")))
		return false;
	say_err("node %s reports a problem%s%s",
	        clean(name, sizeof name, get_str(a, "node") ? get_str(a, "node") : "?"),
	        any ? ": " : "", msg);
	return true;
}

static bool dead_letters_valid(const cJSON *a)
{
	const cJSON *e, *list = get(a, "dead_letters");

	if (!cJSON_IsArray(list))
		return false;
	cJSON_ArrayForEach(e, list)
		if (!cJSON_IsObject(e))
			return false;
	return true;
}

/* The sender of a dead letter; a client of the node has no name. */
static const char *sender(char *b, size_t cap, const cJSON *e)
{
	const char *s = get_str(e, "sender");

	if (s && *s)
		return clean(b, cap, s);
	return cJSON_IsTrue(get(e, "from_outside")) || s ? "(outside)" : "?";
}

/* One line per entry: id, time, type, route, group, redeliveries, reason,
 * payload (JSON, or base64 when the node could not decode it). */
static int print_dead_letters(const cJSON *a)
{
	const cJSON *e, *list = get(a, "dead_letters");
	char t[64], ty[300], from[128], to[128], grp[128], why[512], id[32], nr[32];
	double d;

	if (cJSON_GetArraySize(list) == 0 && isatty(STDOUT_FILENO))
		printf("(no dead letters)\n");
	cJSON_ArrayForEach(e, list) {
		const cJSON *p = get(e, "payload");
		const char *b64 = get_str(e, "payload_b64");
		char *pj = p ? cJSON_PrintUnformatted(p) : NULL;

		if (p && !pj) {
			say_err("out of memory");
			return CTL_PROBLEM;
		}
		printf("#%s %s %s %s -> %s [group %s, %s redeliver%s]: %s; ",
		       fmt_count(id, sizeof id, e, "id", 20),
		       fmt_time(t, sizeof t, e, "time_ms"),
		       clean(ty, sizeof ty, get_str(e, "type") ? get_str(e, "type") : "?"),
		       sender(from, sizeof from, e),
		       clean(to, sizeof to, get_str(e, "receiver") ? get_str(e, "receiver") : "?"),
		       clean(grp, sizeof grp, get_str(e, "group") ? get_str(e, "group") : "?"),
		       fmt_count(nr, sizeof nr, e, "redeliveries", 20),
		       get_num(e, "redeliveries", &d) && d == 1 ? "y" : "ies",
		       clean(why, sizeof why, get_str(e, "reason") ? get_str(e, "reason") : "?"));
		if (pj)
			printf("payload %s\n", pj);
		else if (b64) {
			printf("payload_b64 ");
			put_clean(b64);
			putchar('\n');
		}
		else
			printf("no payload\n");
		free(pj);
	}
	return CTL_OK;
}

/* The text form of one field of an actor: a string, a number or "-". */
static const char *actor_field(char *b, size_t cap, const cJSON *o, const char *key)
{
	const cJSON *v = get(o, key);

	if (cJSON_IsString(v))
		return clean(b, cap, v->valuestring);
	if (cJSON_IsNumber(v))
		snprintf(b, cap, "%.0f", v->valuedouble);
	else
		snprintf(b, cap, "-");
	return b;
}

/* `actors`: one line per actor, in the order the node listed them. */
static void print_actors(const cJSON *a)
{
	static const struct { const char *key, *title; int width; } col[] = {
		{ "name", "NAME", -20 }, { "ref", "REF", -14 }, { "group", "GROUP", -12 },
		{ "parent", "PARENT", -14 }, { "behaviour", "BEHAVIOUR", -14 },
		{ "restart", "RESTART", -10 }, { "handled", "HANDLED", 9 },
		{ "mailbox", "MAILBOX", 8 }, { "monitors", "MONITORS", 9 },
		/* by its parent's policy (children.c) */
		{ "policy_restarts", "RESTARTS", 9 }, { "escalations", "ESCALATED", 10 },
	};
	const cJSON *o;
	char b[160];

	for (size_t i = 0; i < sizeof col / sizeof col[0]; i++)
		printf("%*s%s", col[i].width, col[i].title, i + 1 < sizeof col / sizeof col[0] ? " " : "\n");
	cJSON_ArrayForEach(o, get(a, "actors")) {
		for (size_t i = 0; i < sizeof col / sizeof col[0]; i++) {
			const char *v;
			if (!strcmp(col[i].key, "ref")) {
				/* id/gen: what act_ref carries. */
				double id = 0, gen = 0;
				get_num(o, "id", &id);
				get_num(o, "gen", &gen);
				snprintf(b, sizeof b, "%.0f/%.0f", id, gen);
				v = b;
			} else {
				v = actor_field(b, sizeof b, o, col[i].key);
			}
			printf("%*s%s", col[i].width, v, i + 1 < sizeof col / sizeof col[0] ? " " : "\n");
		}
	}
}

/*
 * Shows the answer a to command cmd (raw is its text, for --json) and
 * returns the exit code.
 */
static int present(const struct opts *o, enum cmd cmd, const cJSON *a, const char *raw)
{
	char b1[512], b2[64];

	if (cJSON_IsFalse(get(a, "ok"))) {
		const char *err = get_str(a, "error"), *code = get_str(a, "code");
		if (o->json)
			printf("%s\n", raw);
		say_err("%s: %s%s%s%s", o->pos[0],
		        clean(b1, sizeof b1, err ? err : "the node refused the request"),
		        code ? " (" : "", code ? clean(b2, sizeof b2, code) : "", code ? ")" : "");
		return CTL_PROBLEM;
	}
	if ((cmd == CMD_STATUS && !status_valid(a)) ||
	    (cmd == CMD_DEAD_LETTERS && !dead_letters_valid(a)) ||
	    (cmd == CMD_METRICS && !get_str(a, "text")) ||
	    (cmd == CMD_ACTORS && !cJSON_IsArray(get(a, "actors"))) ||
	    (cmd == CMD_ASK && (!get_str(a, "type") || !get(a, "message")))) {
		say_err("malformed answer from the node: not a valid %s answer", o->pos[0]);
		return CTL_UNREACHABLE;
	}
	if (o->json) {
		printf("%s\n", raw);
		return cmd == CMD_STATUS && report_problems(a) ? CTL_PROBLEM : CTL_OK;
	}
	switch (cmd) {
	case CMD_STATUS:
		print_status(a);
		act__topics_print(a, stdout);
		return report_problems(a) ? CTL_PROBLEM : CTL_OK;
	case CMD_ASK: {
		char *m = cJSON_PrintUnformatted(get(a, "message"));
		if (!m) {
			say_err("out of memory");
			return CTL_PROBLEM;
		}
		printf("%s %s\n", clean(b1, sizeof b1, get_str(a, "type")), m);
		free(m);
		return CTL_OK;
	}
	case CMD_DEAD_LETTERS:
		return print_dead_letters(a);
	case CMD_METRICS:
		/* Verbatim but for control characters other than the line ends. */
		for (const char *p = get_str(a, "text"); *p; p++)
			putchar(*p == '\n' || ((unsigned char)*p >= 0x20 && *p != 0x7f) ? *p : '?');
		return CTL_OK;
	case CMD_ACTORS:
		print_actors(a);
		return CTL_OK;
	case CMD_SEND:
	case CMD_REPLAY:
		/* The receiver had not taken it yet when the node stopped
		 * waiting: queued, not checked.  Say so, but it is no failure. */
		if (cJSON_IsTrue(get(a, "queued")))
			say_err("%s: queued; the receiver has not taken it yet", o->pos[0]);
		return CTL_OK;
	case CMD_SPAWN:
		if (get_str(a, "name"))
			printf("%s\n", clean(b1, sizeof b1, get_str(a, "name")));
		return CTL_OK;
	case CMD_RELOAD:
		if (get_str(a, "summary") && *get_str(a, "summary"))
			printf("%s\n", clean(b1, sizeof b1, get_str(a, "summary")));
		return CTL_OK;
	case CMD_RESTART:
	case CMD_STOP:
	case CMD_STOP_ACTOR:
		return CTL_OK;  /* silence is success; the exit status says it */
	}
	return CTL_OK;
}

/* ---- main ---------------------------------------------------------------- */

/*
 * The control socket of the node an app file describes: its
 * "control_socket", else STATE_DIR/actorsd.sock, both relative to the app
 * file's directory (as actorsd resolves them).  Returns -1 on success, or
 * an exit code after printing why.
 */
static int socket_from_app(const char *app, char *out, size_t cap)
{
	FILE *f = fopen(app, "r");
	char *text = NULL, dir[4096];
	size_t len = 0;
	cJSON *o = NULL;
	int rc = -1;

	if (!f) {
		say_err("cannot read %s: %s", app, strerror(errno));
		return CTL_USAGE;
	}
	text = malloc(16u << 20);
	if (text)
		len = fread(text, 1, (16u << 20) - 1, f);
	fclose(f);
	if (!text || !(o = cJSON_ParseWithLength(text, len)) || !cJSON_IsObject(o)) {
		say_err("%s: not a JSON object (check it with actorsd --check)", app);
		rc = CTL_USAGE;
		goto out;
	}
	const char *slash = strrchr(app, '/');
	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - app) : 1, slash ? app : ".");
	if (slash == app)
		snprintf(dir, sizeof dir, "/");
	const cJSON *cs = cJSON_GetObjectItemCaseSensitive(o, "control_socket");
	const cJSON *sd = cJSON_GetObjectItemCaseSensitive(o, "state_dir");
	const char *rel = cJSON_IsString(cs) ? cs->valuestring : NULL;
	char buf[4096];
	if (!rel) {
		snprintf(buf, sizeof buf, "%s/actorsd.sock", cJSON_IsString(sd) ? sd->valuestring : ".");
		rel = buf;
	}
	int n = rel[0] == '/' ? snprintf(out, cap, "%s", rel) :
	                        snprintf(out, cap, "%.2047s/%.2047s", dir, rel);
	if (n < 0 || (size_t)n >= cap) {
		say_err("%s: the control socket path is too long", app);
		rc = CTL_USAGE;
	}
out:
	cJSON_Delete(o);
	free(text);
	return rc;
}

/*
 * The control socket when neither -s nor -a says: the first of
 * $ACTORS_SOCKET, $RUNTIME_DIRECTORY/control.sock (actorsctl run from the
 * unit, e.g. ExecReload=), /run/actors/NODE/control.sock (with -n NODE:
 * the actorsd@NODE unit's RuntimeDirectory) and ./actorsd.sock that
 * exists.  Returns -1 with o->socket set, or CTL_UNREACHABLE after
 * saying everywhere it looked.
 */
static int find_socket(struct opts *o, char *buf, size_t cap)
{
	const char *tried[4];
	char rt[4096], nd[4096], list[4096 * 2];
	int n_tried = 0;
	const char *env = getenv("ACTORS_SOCKET"), *rd = getenv("RUNTIME_DIRECTORY");
	struct stat st;

	/* -n names the node: its unit's directory comes first. */
	if (o->node) {
		snprintf(nd, sizeof nd, "/run/actors/%.255s/control.sock", o->node);
		tried[n_tried++] = nd;
	}
	if (env && *env)
		tried[n_tried++] = env;
	if (rd && rd[0] == '/') {
		int rl = (int)strcspn(rd, ":");
		snprintf(rt, sizeof rt, "%.*s/control.sock", rl > 4000 ? 4000 : rl, rd);
		tried[n_tried++] = rt;
	}
	if (!o->node)
		tried[n_tried++] = DEFAULT_SOCKET;
	for (int i = 0; i < n_tried; i++)
		if (stat(tried[i], &st) == 0) {
			snprintf(buf, cap, "%s", tried[i]);
			o->socket = buf;
			return -1;
		}
	size_t len = 0;
	list[0] = '\0';
	for (int i = 0; i < n_tried && len < sizeof list; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
		                        tried[i]);
	say_err("cannot find the node's control socket: looked at %s (is actorsd running? "
	        "name it with -s PATH, -a APP.json or -n NODE)", list);
	return CTL_UNREACHABLE;
}

/*
 * keygen [DIR]: a new CURVE keypair in DIR (default "."), curve.secret
 * (0600) and curve.public, for the app file's "curve" and the peers'
 * "server_key_file".  Never overwrites.
 */
static int keygen(const struct opts *o)
{
	const char *dir = o->n_pos > 1 ? o->pos[1] : ".";
	char why[600];

	if (o->n_pos > 2)
		return usage_error("unexpected argument '%s': usage: actorsctl keygen [DIR]",
		                   o->pos[2]);
	/* The directory first: an error on DIR/curve.secret alone reads as if
	 * the key file were what is missing. */
	struct stat st;
	if (stat(dir, &st) < 0) {
		int e = errno;
		say_err("keygen: cannot use the directory %s: %s%s", dir, strerror(e),
		        e == ENOENT ? " (keygen does not make it: mkdir -m 700 it first)" : "");
		return CTL_PROBLEM;
	}
	if (!S_ISDIR(st.st_mode)) {
		say_err("keygen: %s is not a directory (keygen writes curve.secret and "
		        "curve.public into a directory)", dir);
		return CTL_PROBLEM;
	}
	if (act__curve_keygen(dir, why, sizeof why)) {
		say_err("keygen: %s", why);
		return CTL_PROBLEM;
	}
	printf("%s/curve.secret (mode 0600) and %s/curve.public written\n", dir, dir);
	return CTL_OK;
}

int main(int argc, char **argv)
{
	struct opts o;
	char app_sock[4096], found_sock[4096];
	enum cmd cmd = CMD_STATUS;
	char *req = NULL, *ans = NULL;
	size_t ans_len = 0;
	long long timeout_ms, deadline;
	cJSON *a = NULL;
	int fd = -1, rc;

	if ((rc = parse_args(argc, argv, &o)) >= 0)
		goto out;
	if (!strcmp(o.pos[0], "keygen")) { /* local: no node involved */
		rc = keygen(&o);
		goto out;
	}
	if ((rc = build_request(&o, &cmd, &req)) >= 0)
		goto out;
	if (!o.socket && o.app && (rc = socket_from_app(o.app, app_sock, sizeof app_sock)) >= 0)
		goto out;
	if (!o.socket && o.app)
		o.socket = app_sock;
	if (!o.socket && (rc = find_socket(&o, found_sock, sizeof found_sock)) >= 0)
		goto out;
	if (strlen(o.socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		rc = usage_error("socket path too long (%zu bytes, at most %zu): %s",
		                 strlen(o.socket),
		                 sizeof(((struct sockaddr_un *)0)->sun_path) - 1, o.socket);
		goto out;
	}
	if (o.io_timeout_ms >= 0)
		timeout_ms = o.io_timeout_ms;
	else if (cmd == CMD_ASK)
		timeout_ms = (o.ask_timeout_ms >= 0 ? o.ask_timeout_ms : DEFAULT_ASK_MS) +
		             ASK_GRACE_MS;
	else if (cmd == CMD_RELOAD)
		timeout_ms = RELOAD_WAIT_MS;
	else
		timeout_ms = DEFAULT_IO_TIMEOUT_MS;

	deadline = now_ms() + timeout_ms;
	if ((rc = connect_node(o.socket, timeout_ms, &fd)) >= 0)
		goto out;
	if ((rc = exchange(fd, req, deadline, timeout_ms, &ans, &ans_len)) >= 0)
		goto out;
	if (!(a = parse_answer(ans, ans_len))) {
		rc = CTL_UNREACHABLE;
		goto out;
	}
	rc = present(&o, cmd, a, ans);
out:
	if (fflush(stdout) != 0 || ferror(stdout)) {
		say_err("cannot write the output: %s", strerror(errno));
		if (rc == CTL_OK)
			rc = CTL_PROBLEM;
	}
	if (fd >= 0)
		close(fd);
	cJSON_Delete(a);
	free(ans);
	free(req);
	free(o.pos);
	return rc;
}
