/*
 * control.c - the control socket server (control.h, doc/control-protocol.md).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "control.h"
#include "deadletter.h"
#include "envelope.h"
#include "gateway.h"
#include "log.h"
#include "loop.h"
#include "message.h"
#include "node.h"

#define MAX_CONNS 64u
#define MAX_REQUEST (1024u * 1024u)
#define LISTENER 0xffffu
#define READ_TIMEOUT_NS (5000000000ull)
#define RESTART_TIMEOUT_NS (60000000000ull)

enum conn_state { C_FREE = 0, C_READING, C_WAIT_ASK, C_WAIT_READY };

struct act__ctl_conn {
	enum conn_state state;
	int fd;
	bool armed;
	char *buf;
	size_t len;
	uint64_t corr;
	uint64_t deadline_ns;
	uint32_t timeout_ms;
};

/* The event handle of the listener or of one connection slot. */
struct slot_evh {
	struct act__evh evh;
	struct act__ctl *ctl;
	uint32_t idx;             /* LISTENER or a slot of conns[] */
};

struct act__ctl {
	struct act_node *n;
	struct slot_evh l_evh, c_evh[MAX_CONNS];
	int lfd;
	bool l_armed;
	char *path;
	struct act__ctl_conn conns[MAX_CONNS];
};

/* ---- answering ------------------------------------------------------------------ */

static void conn_close(struct act__ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->state = C_FREE;
}

/* Writes answer (consumed) as one line and closes the connection. */
static void answer(struct act__ctl_conn *c, cJSON *a)
{
	char *text = a ? cJSON_PrintUnformatted(a) : NULL;
	cJSON_Delete(a);
	if (text) {
		size_t n = strlen(text), off = 0;
		struct timeval tv = { 1, 0 };
		int fl = fcntl(c->fd, F_GETFL);
		fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK);
		setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		text[n++] = '\n'; /* replaces the NUL; we send by length */
		while (off < n) {
			ssize_t w = send(c->fd, text + off, n - off, MSG_NOSIGNAL);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		free(text);
	}
	conn_close(c);
}

static void answer_error(struct act__ctl_conn *c, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void answer_error(struct act__ctl_conn *c, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	cJSON *a = cJSON_CreateObject();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cJSON_AddFalseToObject(a, "ok");
	cJSON_AddStringToObject(a, "code", code);
	cJSON_AddStringToObject(a, "error", msg);
	answer(c, a);
}

static void answer_ok(struct act__ctl_conn *c)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddTrueToObject(a, "ok");
	answer(c, a);
}

/* ---- status ------------------------------------------------------------------------ */

static cJSON *status_json(struct act_node *n)
{
	cJSON *a = cJSON_CreateObject(), *groups, *crashes;
	uint64_t now = act__now_ns();
	bool problem = false;

	cJSON_AddTrueToObject(a, "ok");
	cJSON_AddStringToObject(a, "node", n->name);
	cJSON_AddNumberToObject(a, "pid", getpid());
	cJSON_AddStringToObject(a, "version", PACKAGE_VERSION);
	cJSON_AddNumberToObject(a, "uptime_ms", (double)((now - n->started_ns) / 1000000u));
	cJSON_AddStringToObject(a, "state", n->stopping ? "stopping" : "running");
	cJSON_AddStringToObject(a, "strategy", act__strategy_name(n->pol.strategy));
	cJSON_AddNumberToObject(a, "restarts", n->n_restarts_total);
	groups = cJSON_AddArrayToObject(a, "groups");
	for (uint32_t gi = 0; gi < n->reg.n_groups; gi++) {
		const struct act__gstate *g = &n->gs[gi];
		const struct act__group_def *gd = &n->reg.groups[gi];
		struct act__part *p = act__shm_part(&n->shm, gi + 1);
		cJSON *o = cJSON_CreateObject();
		uint64_t depth = 0, hwm = 0, refused = 0;
		const char *st = act__node_group_state(n, gi);

		for (uint32_t s = 0; s < n->reg.n_groups + 1; s++) {
			struct act__ring *r = act__node_ring(n, s, gi + 1);
			if (!r)
				continue;
			depth += act__ring_depth(r);
			uint64_t m = atomic_load_explicit(&r->depth_hwm, memory_order_relaxed);
			if (m > hwm)
				hwm = m;
			refused += atomic_load_explicit(&r->n_refused_full, memory_order_relaxed) +
			           atomic_load_explicit(&r->n_refused_size, memory_order_relaxed);
		}
		if (act__node_group_problem(n, gi))
			problem = true;
		cJSON_AddStringToObject(o, "name", gd->name);
		if (g->pid > 0)
			cJSON_AddNumberToObject(o, "pid", g->pid);
		else
			cJSON_AddNullToObject(o, "pid");
		cJSON_AddStringToObject(o, "state", st);
		cJSON_AddNumberToObject(o, "uptime_ms", g->pid > 0 ?
		                        (double)((now - g->started_ns) / 1000000u) : 0);
		cJSON_AddNumberToObject(o, "restarts", g->n_restarts);
		cJSON_AddStringToObject(o, "restart_type", act__restart_name(gd->restart));
		if (act__node_group_pending(n, gi) && g->not_before_ns > now)
			cJSON_AddNumberToObject(o, "next_retry_ms",
			                        (double)((g->not_before_ns - now) / 1000000u));
		else
			cJSON_AddNullToObject(o, "next_retry_ms");
		if (g->last_death[0])
			cJSON_AddStringToObject(o, "last_death", g->last_death);
		else
			cJSON_AddNullToObject(o, "last_death");
		cJSON_AddNumberToObject(o, "ring_depth", (double)depth);
		cJSON_AddNumberToObject(o, "ring_hwm", (double)hwm);
		cJSON_AddNumberToObject(o, "ring_capacity", gd->ring_bytes);
		cJSON_AddNumberToObject(o, "handled", (double)atomic_load(&p->n_handled));
		cJSON_AddNumberToObject(o, "refused", (double)refused);
		cJSON_AddNumberToObject(o, "redelivered", (double)atomic_load(&p->n_redelivered));
		cJSON_AddNumberToObject(o, "dead_letters", (double)atomic_load(&p->n_dead_letters));
		cJSON_AddBoolToObject(o, "failed", g->state == ACT__G_FAILED);
		if (g->spare_pid > 0)
			cJSON_AddNumberToObject(o, "standby_pid", g->spare_pid);
		else
			cJSON_AddNullToObject(o, "standby_pid");
		cJSON_AddNumberToObject(o, "takeovers", (double)g->n_takeovers);
		cJSON_AddItemToArray(groups, o);
	}
	crashes = cJSON_AddArrayToObject(a, "crashes");
	uint32_t kept = n->n_crashes < ACT__CRASH_HISTORY ? n->n_crashes : ACT__CRASH_HISTORY;
	for (uint32_t k = 0; k < kept; k++) {
		const struct act__crash *c = &n->crashes[(n->n_crashes - kept + k) % ACT__CRASH_HISTORY];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "time_ms", (double)c->time_ms);
		cJSON_AddStringToObject(o, "group", n->reg.groups[c->group].name);
		cJSON_AddNumberToObject(o, "pid", c->pid);
		if (c->signal)
			cJSON_AddNumberToObject(o, "signal", c->signal);
		else
			cJSON_AddNullToObject(o, "signal");
		if (c->exit_code >= 0)
			cJSON_AddNumberToObject(o, "exit_code", c->exit_code);
		else
			cJSON_AddNullToObject(o, "exit_code");
		cJSON_AddBoolToObject(o, "core_dumped", c->core);
		cJSON_AddBoolToObject(o, "hung", c->hung);
		if (c->handling_type[0])
			cJSON_AddStringToObject(o, "handling_type", c->handling_type);
		else
			cJSON_AddNullToObject(o, "handling_type");
		if (c->handling_from[0])
			cJSON_AddStringToObject(o, "handling_from", c->handling_from);
		else
			cJSON_AddNullToObject(o, "handling_from");
		cJSON_AddNumberToObject(o, "ring_depth", (double)c->ring_depth);
		cJSON_AddItemToArray(crashes, o);
	}
	cJSON_AddNumberToObject(a, "dead_letters", (double)n->n_dead_letters);
	cJSON_AddBoolToObject(a, "problem", problem);
	if (n->gw)
		act__gw_status(n->gw, a);
	return a;
}

/* ---- requests --------------------------------------------------------------------- */

static const char *str_arg(const cJSON *req, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void do_inject(struct act__ctl *ctl, struct act__ctl_conn *c, const cJSON *req, bool ask)
{
	struct act_node *n = ctl->n;
	const char *actor = str_arg(req, "actor"), *type = str_arg(req, "type");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(req, "message");
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(req, "timeout_ms");
	char *json;
	int err;

	if (!actor || !type || !cJSON_IsObject(msg)) {
		answer_error(c, "usage", "%s needs \"actor\", \"type\" and an object \"message\"",
		             ask ? "ask" : "send");
		return;
	}
	if (act__json_exact_numbers((cJSON *)msg)) {
		answer_error(c, "usage", "a number in \"message\" is out of range");
		return;
	}
	json = cJSON_PrintUnformatted(msg);
	if (!json) {
		answer_error(c, "internal", "out of memory");
		return;
	}
	uint64_t corr = ask ? (++n->next_corr | (1ull << 62)) : 0;
	err = act__node_inject(n, actor, type, json, strlen(json), NULL, NULL, ACT__PEER_CLIENT,
	                       ask ? ACT__ENV_ASK : 0, corr);
	free(json);
	if (err == -ENOENT) {
		answer_error(c, "not_found", "Actor '%s' not found", actor);
		return;
	}
	if (err) {
		answer_error(c, err == ACT_EFULL ? "full" : "usage", "cannot deliver to '%s': %s",
		             actor, act_strerror(err));
		return;
	}
	if (!ask) {
		answer_ok(c);
		return;
	}
	c->state = C_WAIT_ASK;
	c->corr = corr;
	c->timeout_ms = cJSON_IsNumber(to) && to->valuedouble >= 1 && to->valuedouble <= 3600000
	                ? (uint32_t)to->valuedouble : 5000u;
	c->deadline_ns = act__now_ns() + (uint64_t)c->timeout_ms * 1000000u;
}

static void do_replay(struct act__ctl *ctl, struct act__ctl_conn *c, const cJSON *req)
{
	const cJSON *idv = cJSON_GetObjectItemCaseSensitive(req, "id");
	const cJSON *e, *payload;
	const char *recv, *type;
	char *json;
	int err;

	if (!cJSON_IsNumber(idv) || idv->valuedouble < 1) {
		answer_error(c, "usage", "dead_letters_replay needs a numeric \"id\"");
		return;
	}
	e = act__dl_get(ctl->n->dl, (uint64_t)idv->valuedouble);
	if (!e) {
		answer_error(c, "not_found", "no dead letter #%.0f (only the last %u are kept)",
		             idv->valuedouble, ACT__DL_KEEP);
		return;
	}
	recv = str_arg(e, "receiver");
	type = str_arg(e, "type");
	payload = cJSON_GetObjectItemCaseSensitive(e, "payload");
	if (!recv || !type || !cJSON_IsObject(payload)) {
		answer_error(c, "usage", "dead letter #%.0f has no JSON payload to replay",
		             idv->valuedouble);
		return;
	}
	json = cJSON_PrintUnformatted(payload);
	err = json ? act__node_inject(ctl->n, recv, type, json, strlen(json), NULL, NULL,
	                              ACT__PEER_CLIENT, 0, 0) : -ENOMEM;
	free(json);
	if (err)
		answer_error(c, err == ACT_EFULL ? "full" : "internal", "replay failed: %s",
		             act_strerror(err));
	else
		answer_ok(c);
}

static void process(struct act__ctl *ctl, struct act__ctl_conn *c)
{
	struct act_node *n = ctl->n;
	cJSON *req = cJSON_ParseWithLength(c->buf, c->len);
	const char *cmd = str_arg(req, "cmd");

	if (!cJSON_IsObject(req) || !cmd) {
		answer_error(c, "usage", "request must be a JSON object with a \"cmd\"");
		goto out;
	}
	if (!strcmp(cmd, "status")) {
		answer(c, status_json(n));
	} else if (!strcmp(cmd, "restart")) {
		const char *g = str_arg(req, "group");
		int gi = g ? act__node_group_index(n, g) : -ENOENT;
		if (gi < 0) {
			answer_error(c, "not_found", "no such group '%s'", g ? g : "");
		} else {
			int err = act__node_restart_group(n, (uint32_t)gi, c);
			if (err)
				answer_error(c, err == -EBUSY ? "busy" : "internal",
				             "cannot restart '%s': %s", g, act_strerror(err));
			else {
				c->state = C_WAIT_READY;
				c->deadline_ns = act__now_ns() + RESTART_TIMEOUT_NS;
			}
		}
	} else if (!strcmp(cmd, "stop")) {
		answer_ok(c);
		act__node_stop(n, ACT_EXIT_OK, "stop requested by actorsctl");
	} else if (!strcmp(cmd, "send")) {
		do_inject(ctl, c, req, false);
	} else if (!strcmp(cmd, "ask")) {
		do_inject(ctl, c, req, true);
	} else if (!strcmp(cmd, "dead_letters")) {
		cJSON *a = cJSON_CreateObject();
		cJSON_AddTrueToObject(a, "ok");
		cJSON_AddItemToObject(a, "dead_letters", act__dl_list(n->dl));
		cJSON_AddNumberToObject(a, "total", (double)act__dl_count(n->dl));
		answer(c, a);
	} else if (!strcmp(cmd, "dead_letters_replay")) {
		do_replay(ctl, c, req);
	} else {
		answer_error(c, "usage", "unknown command '%s'", cmd);
	}
out:
	cJSON_Delete(req);
}

/* ---- connections ------------------------------------------------------------------ */

static void accept_all(struct act__ctl *ctl)
{
	for (;;) {
		int fd = accept4(ctl->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		/* uid -1 in the log if SO_PEERCRED itself fails */
		struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
		socklen_t cl = sizeof cred;
		uint32_t i;

		if (fd < 0)
			return;
		for (i = 0; i < MAX_CONNS && ctl->conns[i].state != C_FREE; i++)
			;
		struct act__ctl_conn tmp = { .fd = fd };
		struct act__ctl_conn *c = i < MAX_CONNS ? &ctl->conns[i] : &tmp;
		memset(c, 0, sizeof *c);
		c->fd = fd;
		c->state = C_READING;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
		    (cred.uid != geteuid() && cred.uid != 0)) {
			act__warn("control connection from uid %d refused", (int)cred.uid);
			answer_error(c, "denied", "permission denied");
			continue;
		}
		if (c == &tmp) {
			answer_error(c, "busy", "too many control connections");
			continue;
		}
		c->deadline_ns = act__now_ns() + READ_TIMEOUT_NS;
	}
}

static void read_conn(struct act__ctl *ctl, struct act__ctl_conn *c)
{
	for (;;) {
		if (!c->buf) {
			c->buf = malloc(MAX_REQUEST + 1);
			if (!c->buf) {
				answer_error(c, "internal", "out of memory");
				return;
			}
		}
		ssize_t r = read(c->fd, c->buf + c->len, MAX_REQUEST + 1 - c->len);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			conn_close(c);
			return;
		}
		char *nl = memchr(c->buf + c->len, '\n', (size_t)r);
		c->len += (size_t)r;
		if (nl) {
			c->len = (size_t)(nl - c->buf);
			process(ctl, c);
			return;
		}
		if (c->len > MAX_REQUEST) {
			answer_error(c, "usage", "request larger than %u bytes", MAX_REQUEST);
			return;
		}
	}
}

/* A poll armed by act__ctl_arm() completed for slot idx. */
static void ctl_event(struct act__ctl *ctl, uint32_t idx)
{
	if (idx == LISTENER) {
		ctl->l_armed = false;
		accept_all(ctl);
		return;
	}
	if (idx >= MAX_CONNS)
		return;
	struct act__ctl_conn *c = &ctl->conns[idx];
	c->armed = false;
	if (c->state == C_READING)
		read_conn(ctl, c);
}

static void on_slot(struct act__evh *h, int res)
{
	struct slot_evh *s = act__container_of(h, struct slot_evh, evh);
	(void)res;
	ctl_event(s->ctl, s->idx);
}

void act__ctl_arm(struct act__ctl *ctl)
{
	if (!ctl->l_armed) {
		act__loop_poll(&ctl->n->loop, &ctl->l_evh.evh, ctl->lfd, POLLIN);
		ctl->l_armed = true;
	}
	for (uint32_t i = 0; i < MAX_CONNS; i++) {
		struct act__ctl_conn *c = &ctl->conns[i];
		if (c->state == C_READING && !c->armed) {
			act__loop_poll(&ctl->n->loop, &ctl->c_evh[i].evh, c->fd, POLLIN);
			c->armed = true;
		}
	}
}

void act__ctl_tick(struct act__ctl *ctl, uint64_t now)
{
	for (uint32_t i = 0; i < MAX_CONNS; i++) {
		struct act__ctl_conn *c = &ctl->conns[i];
		if (c->state == C_FREE || now < c->deadline_ns)
			continue;
		/* A stale poll completion for a reused slot only causes a read
		 * that finds EAGAIN, so expiring an armed connection is safe. */
		c->armed = false;
		if (c->state == C_READING)
			conn_close(c);
		else if (c->state == C_WAIT_ASK)
			answer_error(c, "timeout", "no reply within %u ms", c->timeout_ms);
		else if (c->state == C_WAIT_READY) {
			for (uint32_t g = 0; g < ctl->n->reg.n_groups; g++)
				if (ctl->n->gs[g].waiter == c)
					ctl->n->gs[g].waiter = NULL;
			answer_error(c, "timeout", "the group did not become ready in time");
		}
	}
}

bool act__ctl_reply(struct act__ctl *ctl, uint64_t corr, const char *type, const char *json,
                    size_t json_len)
{
	if (!ctl || !corr)
		return false;
	for (uint32_t i = 0; i < MAX_CONNS; i++) {
		struct act__ctl_conn *c = &ctl->conns[i];
		if (c->state != C_WAIT_ASK || c->corr != corr)
			continue;
		cJSON *msg = cJSON_ParseWithLength(json, json_len);
		if (!strcmp(type, "Reject")) {
			const cJSON *why = cJSON_GetObjectItemCaseSensitive(msg, "reason");
			answer_error(c, "rejected", "%s",
			             cJSON_IsString(why) ? why->valuestring : "rejected");
			cJSON_Delete(msg);
			return true;
		}
		cJSON *a = cJSON_CreateObject();
		cJSON_AddTrueToObject(a, "ok");
		cJSON_AddStringToObject(a, "type", type);
		if (msg)
			cJSON_AddItemToObject(a, "message", msg);
		else
			cJSON_AddNullToObject(a, "message");
		answer(c, a);
		return true;
	}
	return false;
}

void act__ctl_group_ready(struct act__ctl *ctl, struct act__ctl_conn *c, bool ok,
                          const char *why)
{
	if (!ctl || !c || c->state != C_WAIT_READY)
		return;
	if (ok)
		answer_ok(c);
	else
		answer_error(c, "failed", "restart failed: %s", why ? why : "unknown");
}

/* ---- lifecycle --------------------------------------------------------------------- */

struct act__ctl *act__ctl_new(struct act_node *n, const char *path, int *err)
{
	struct act__ctl *ctl = calloc(1, sizeof *ctl);
	struct sockaddr_un sa;

	*err = 0;
	if (!ctl) {
		*err = -ENOMEM;
		return NULL;
	}
	for (uint32_t i = 0; i < MAX_CONNS; i++)
		ctl->conns[i].fd = -1;
	ctl->n = n;
	ctl->l_evh = (struct slot_evh){ { on_slot }, ctl, LISTENER };
	for (uint32_t i = 0; i < MAX_CONNS; i++)
		ctl->c_evh[i] = (struct slot_evh){ { on_slot }, ctl, i };
	ctl->lfd = -1;
	if (strlen(path) >= sizeof sa.sun_path) {
		*err = -ENAMETOOLONG;
		goto fail;
	}
	ctl->path = strdup(path);
	ctl->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (!ctl->path || ctl->lfd < 0) {
		*err = ctl->path ? -errno : -ENOMEM;
		goto fail;
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	/* A socket file left by a dead node: replace it.  A live node on the
	 * same path answers connect(), and then we refuse to steal it. */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
		close(probe);
		act__err("control socket %s is in use by a running node", path);
		*err = -EADDRINUSE;
		goto fail;
	}
	if (probe >= 0)
		close(probe);
	unlink(path);
	mode_t old = umask(0177); /* the socket is created 0600 */
	int rc = bind(ctl->lfd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(ctl->lfd, 16) < 0) {
		*err = -errno;
		act__err("cannot serve the control socket %s: %s", path, strerror(errno));
		goto fail;
	}
	return ctl;
fail:
	if (ctl->lfd >= 0)
		close(ctl->lfd);
	free(ctl->path);
	free(ctl);
	return NULL;
}

void act__ctl_free(struct act__ctl *ctl)
{
	if (!ctl)
		return;
	for (uint32_t i = 0; i < MAX_CONNS; i++)
		if (ctl->conns[i].state != C_FREE) {
			if (ctl->conns[i].state == C_WAIT_ASK || ctl->conns[i].state == C_WAIT_READY)
				answer_error(&ctl->conns[i], "stopping", "the node is stopping");
			else
				conn_close(&ctl->conns[i]);
		}
	if (ctl->lfd >= 0)
		close(ctl->lfd);
	if (ctl->path)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}
