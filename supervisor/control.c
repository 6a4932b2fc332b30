/* SPDX-License-Identifier: MIT */
/*
 * control.c - the control socket server (control.h, doc/control-protocol.md).
 *
 * Every connection lives in a slot and moves through READING (waiting
 * for its request line) -> one of the WAIT states (an ask, a send or a
 * restart waits for the node) -> WRITING (the answer is buffered and goes
 * out whenever the socket is writable) -> CLOSING -> FREE.  Nothing here
 * blocks the supervisor: sockets are non-blocking and polled through the
 * node's io_uring, each with a deadline.  A slot has at most one read poll
 * and one write poll in flight.  A poll in flight holds the socket's file,
 * so a connection is shut down before its fd is closed: that completes its
 * polls at once and shows the client EOF.  The slot is CLOSING until they
 * have completed, and only then reused, so a completion always belongs to
 * the slot's current connection.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "actorlist.h"
#include "clock.h"
#include "control.h"
#include "deadletter.h"
#include "envelope.h"
#include "gateway.h"
#include "httpd.h"
#include "log.h"
#include "loop.h"
#include "message.h"
#include "metrics.h"
#include "node.h"
#include "pool.h"
#include "poolsup.h"
#include "recover.h"
#include "ring.h"
#include "route.h"
#include "topics.h"

#define MAX_CONNS 64u                /* connections served at once */
#define N_SLOTS (2u * MAX_CONNS)     /* room for CLOSING slots as well */
#define MAX_REQUEST (1024u * 1024u)
#define LISTENER 0x7fffu             /* poll tag of the listener */
#define WRITE_TAG 0x8000u            /* tag bit of a slot's write poll */
#define READ_TIMEOUT_NS (5000000000ull)
#define WRITE_TIMEOUT_NS (5000000000ull)
#define RESTART_TIMEOUT_NS (60000000000ull)
#define RELOAD_TIMEOUT_NS (600000000000ull)  /* a rolling restart of many groups */
#define DEFAULT_WAIT_MS 5000u        /* ask and send, unless timeout_ms says */
#define LOG_WINDOW_NS (10000000000ull)
#define LOG_PER_WINDOW 10u           /* rejected sends logged per window */
#define MAX_QUEUED 64u               /* sends answered early, still watched */
#define ACCEPT_PAUSE_NS (100000000ull) /* out of fds: listen again after */
#define HANDLER_GRACE_NS (100000000ull) /* begun, not rejected: its handler runs */

enum conn_state {
	C_FREE = 0,
	C_READING,     /* accepted; reading the request line (POLLIN) */
	C_WAIT_ASK,    /* an ask waits for its reply */
	C_WAIT_SEND,   /* a send waits for the receiver to take or reject it */
	C_WAIT_READY,  /* a restart waits for the group's READY */
	C_WRITING,     /* the answer is buffered; writing it (POLLOUT) */
	C_CLOSING,     /* closed; a poll of it is still to complete */
};

/*
 * A send waiting for its verdict: the receiver's worker rejects it (a
 * Reject with its correlation id) or goes past it in the ring.
 */
struct pending_send {
	uint64_t corr;        /* 0: none */
	uint32_t group;       /* participant index of the receiver's group */
	uint64_t start_pos;   /* our envelope is in [start_pos, end_pos) of ring */
	uint64_t end_pos;     /*   0 -> group (after a PAD record, maybe) */
	uint64_t begun_ns;    /* when we first saw its worker begin it, or 0 */
	uint64_t in_mark;     /* tail of ring group -> 0 when it was taken */
	bool taken;           /* the receiver's worker went past our envelope */
	cJSON *sent;          /* {receiver, type, payload}: for a dead letter */
};

struct act__ctl_conn {
	enum conn_state state;
	int fd;
	bool r_armed;         /* a read poll (POLLIN) is in flight */
	bool w_armed;         /* a write poll (POLLOUT) is in flight */
	bool peer_eof;        /* the client shut down its side (it may still read) */
	char *buf;            /* the request; later the answer */
	size_t len;           /* request bytes read; answer bytes in buf */
	size_t off;           /* answer bytes written */
	uint64_t accepted_ns;
	uint64_t deadline_ns;
	uint32_t timeout_ms;
	uint64_t corr;        /* ask: the envelope's correlation id */
	struct pending_send send;
};

/* The event handle of one poll: the listener's, or a slot's read or write
 * poll; tag says which (LISTENER, or a slot index, with WRITE_TAG). */
struct ctl_evh {
	struct act__evh evh;
	struct act__ctl *ctl;
	uint32_t tag;
};

struct act__ctl {
	struct act_node *n;
	struct ctl_evh l_evh;
	struct ctl_evh r_evh[N_SLOTS], w_evh[N_SLOTS];
	int lfd;
	bool l_armed;
	bool paused;          /* an upgrade waits: new clients stay in the backlog */
	uint64_t accept_resume_ns;  /* out of fds: the listener rests until then */
	uint64_t accept_warned_ns;
	char *path;
	dev_t dev;            /* the socket file we bound, to unlink only it */
	ino_t ino;
	uint64_t log_window_ns;
	uint32_t n_logged, n_unlogged;
	struct act__ctl_conn conns[N_SLOTS];
	/* Sends answered before their worker was done with them (queued, or
	 * in a handler): a later Reject still makes a dead letter.  Oldest
	 * first out when full. */
	struct pending_send queued[MAX_QUEUED];
	uint32_t next_queued;
};

/* ---- connections and answers ----------------------------------------------------- */

static bool active(const struct act__ctl_conn *c)
{
	return c->state != C_FREE && c->state != C_CLOSING;
}

/*
 * Ends the connection.  shutdown() first: a poll armed on the socket holds
 * its file, so close() alone would neither release the socket nor show the
 * client EOF until that poll completes; shutdown wakes the polls (POLLHUP)
 * and the peer at once.  The slot is free once they have completed.
 */
static void conn_close(struct act__ctl_conn *c)
{
	bool r_armed = c->r_armed, w_armed = c->w_armed;

	if (c->fd >= 0) {
		shutdown(c->fd, SHUT_RDWR);
		close(c->fd);
	}
	free(c->buf);
	cJSON_Delete(c->send.sent);
	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->r_armed = r_armed;
	c->w_armed = w_armed;
	c->state = r_armed || w_armed ? C_CLOSING : C_FREE;
}

/* Writes what the socket takes now.  True when the whole answer is out (or
 * the client is gone): the connection is then closed. */
static bool flush(struct act__ctl_conn *c)
{
	while (c->off < c->len) {
		ssize_t w = send(c->fd, c->buf + c->off, c->len - c->off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (w <= 0)
			break;
		c->off += (size_t)w;
	}
	conn_close(c);
	return true;
}

/*
 * Answers a with one line (consumes a).  The answer is buffered; what the
 * socket does not take at once goes out on POLLOUT (act__ctl_arm), until
 * WRITE_TIMEOUT_NS.  Never blocks.
 */
static void answer(struct act__ctl_conn *c, cJSON *a)
{
	char *text = a ? cJSON_PrintUnformatted(a) : NULL;

	cJSON_Delete(a);
	free(c->buf);
	c->buf = text;
	c->len = c->off = 0;
	cJSON_Delete(c->send.sent);
	memset(&c->send, 0, sizeof c->send);
	if (!text) {
		conn_close(c);
		return;
	}
	c->len = strlen(text);
	text[c->len++] = '\n'; /* replaces the NUL; we send by length */
	c->state = C_WRITING;
	c->deadline_ns = act__now_ns() + WRITE_TIMEOUT_NS;
	flush(c);
}

static cJSON *error_json(const char *code, const char *fmt, va_list ap)
{
	char msg[512];
	cJSON *a = cJSON_CreateObject();

	vsnprintf(msg, sizeof msg, fmt, ap);
	cJSON_AddFalseToObject(a, "ok");
	cJSON_AddStringToObject(a, "code", code);
	cJSON_AddStringToObject(a, "error", msg);
	return a;
}

static void answer_error(struct act__ctl_conn *c, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void answer_error(struct act__ctl_conn *c, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cJSON *a = error_json(code, fmt, ap);
	va_end(ap);
	answer(c, a);
}

/*
 * For a connection that gets no slot (refused, or no room): one
 * non-blocking attempt to write a short error, then close.  The socket is
 * fresh, so its buffer takes the line unless the peer is hostile.
 */
static void refuse(int fd, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void refuse(int fd, const char *code, const char *fmt, ...)
{
	struct act__ctl_conn tmp = { .state = C_WRITING, .fd = fd };
	va_list ap;

	va_start(ap, fmt);
	cJSON *a = error_json(code, fmt, ap);
	va_end(ap);
	tmp.buf = a ? cJSON_PrintUnformatted(a) : NULL;
	cJSON_Delete(a);
	if (tmp.buf) {
		tmp.len = strlen(tmp.buf);
		tmp.buf[tmp.len++] = '\n';
	}
	if (!flush(&tmp))
		conn_close(&tmp);
}

static void answer_ok(struct act__ctl_conn *c)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddTrueToObject(a, "ok");
	answer(c, a);
}

/* ---- status ------------------------------------------------------------------------ */

/* actorsctl upgrade: the answer goes out now (it is written before the
 * loop turn ends); the exec follows at the end of the turn (recover.c). */
static void do_upgrade(struct act__ctl_conn *c, struct act_node *n)
{
	if (!n->rec) {
		answer_error(c, "unsupported", "this node cannot re-execute itself (embedded "
		             "act_node_run(), not actorsd)");
		return;
	}
	if (n->stopping) {
		answer_error(c, "stopping", "the node is stopping");
		return;
	}
	cJSON *a = cJSON_CreateObject();
	cJSON_AddTrueToObject(a, "ok");
	cJSON_AddStringToObject(a, "upgrading", "re-executing actorsd; the control socket "
	                        "and the region carry over");
	answer(c, a);
	if (c->state == C_WRITING)
		(void)flush(c);
	act__recover_request_upgrade(n);
}

/* The reload counters (actorsctl reload, SIGHUP), when the node has one. */
static void add_reload_status(cJSON *a, const struct act_node *n)
{
	if (!n->reload)
		return;
	cJSON *r = cJSON_AddObjectToObject(a, "reload");
	if (!r)
		return;
	cJSON_AddNumberToObject(r, "done", (double)n->n_reloads);
	cJSON_AddNumberToObject(r, "failed", (double)n->n_reloads_failed);
	cJSON_AddNumberToObject(r, "refused", (double)n->n_reloads_refused);
	cJSON_AddNumberToObject(r, "handoffs", (double)n->n_handoffs);
	cJSON_AddNumberToObject(r, "handoffs_failed", (double)n->n_handoffs_failed);
	cJSON_AddNumberToObject(r, "gap_last_us", (double)n->reload_gap_last_us);
	cJSON_AddNumberToObject(r, "gap_max_us", (double)n->reload_gap_max_us);
	/* Spare participants ("spare_groups") and how many a reload could
	 * still give a new group: never used, or their group removed. */
	uint32_t spares = 0, free_spares = 0;
	for (uint32_t gi = 0; gi < n->reg.n_groups; gi++) {
		spares += n->reg.groups[gi].spare;
		free_spares += n->reg.groups[gi].spare && n->gs &&
		               (!n->gs[gi].spare_used || act__node_group_removed(n, gi));
	}
	cJSON_AddNumberToObject(r, "spare_groups", spares);
	cJSON_AddNumberToObject(r, "spare_groups_free", free_spares);
}

static cJSON *status_json(struct act_node *n)
{
	cJSON *a = cJSON_CreateObject(), *groups, *crashes;
	uint64_t now = act__now_ns();
	bool problem = false;

	uint64_t dl_groups = 0;

	cJSON_AddTrueToObject(a, "ok");
	/* 1: the first versioned shape; bumped when a field changes meaning
	 * or goes away (new fields do not bump it). */
	cJSON_AddNumberToObject(a, "schema_version", ACT__STATUS_SCHEMA_VERSION);
	cJSON_AddStringToObject(a, "node", n->name);
	cJSON_AddNumberToObject(a, "pid", getpid());
	cJSON_AddStringToObject(a, "version", PACKAGE_VERSION);
	cJSON_AddNumberToObject(a, "uptime_ms", (double)((now - n->started_ns) / 1000000u));
	cJSON_AddStringToObject(a, "state", n->stopping ? "stopping" : "running");
	cJSON_AddStringToObject(a, "strategy", act__strategy_name(n->pol.strategy));
	cJSON_AddNumberToObject(a, "restarts", n->n_restarts_total);
	/* The worker forked ahead for the next start (spawn.h): its pid (null
	 * while there is none), how many were made and how many started a
	 * group; starts beyond those forked on demand. */
	cJSON *pf = cJSON_AddObjectToObject(a, "prefork");
	if (pf) {
		if (n->sp.prefork > 0)
			cJSON_AddNumberToObject(pf, "pid", n->sp.prefork);
		else
			cJSON_AddNullToObject(pf, "pid");
		cJSON_AddNumberToObject(pf, "made", n->sp.n_preforked);
		cJSON_AddNumberToObject(pf, "used", n->sp.n_prefork_used);
	}
	act__recover_status(n, a); /* recovered, epochs, envelopes taken over */
	add_reload_status(a, n);
	groups = cJSON_AddArrayToObject(a, "groups");
	for (uint32_t gi = 0; gi < n->reg.n_groups; gi++) {
		const struct act__gstate *g = &n->gs[gi];
		const struct act__group_def *gd = &n->reg.groups[gi];
		struct act__part *p = act__shm_part(&n->shm, gi + 1);
		cJSON *o = cJSON_CreateObject();
		uint64_t depth = 0, hwm = 0, refused = 0;
		const char *st = act__node_group_state(n, gi);

		if (act__node_group_unused_spare(n, gi)) {
			cJSON_Delete(o);
			continue;
		}
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
		/* A ring's producer refreshes its mark at most once every 32
		 * commits, and a mark is per ring while depth sums the group's
		 * rings: either could show a mark below the depth.  The mark
		 * shown is the highest of both ever seen, never below depth. */
		if (depth > hwm)
			hwm = depth;
		if (hwm > n->gs[gi].ring_hwm_seen)
			n->gs[gi].ring_hwm_seen = hwm;
		hwm = n->gs[gi].ring_hwm_seen;
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
		dl_groups += atomic_load(&p->n_dead_letters);
		cJSON_AddNumberToObject(o, "dead_letters", (double)atomic_load(&p->n_dead_letters));
		cJSON_AddBoolToObject(o, "failed", g->state == ACT__G_FAILED);
		/* A reload removed it (state "removed" once it stopped); sends to
		 * its actors are refused with ACT_ESTOPPED, counted here. */
		cJSON_AddBoolToObject(o, "removed", act__node_group_removed(n, gi));
		/* When (wall clock, ms): its worker's stop is not a death, and
		 * last_death alone read like one.  Null if not removed, or removed
		 * by the reload of an earlier actorsd (the region says so, not when). */
		if (act__node_group_removed(n, gi) && g->removed_at_ms)
			cJSON_AddNumberToObject(o, "removed_at_ms", (double)g->removed_at_ms);
		else
			cJSON_AddNullToObject(o, "removed_at_ms");
		cJSON_AddNumberToObject(o, "refused_removed",
		                        (double)atomic_load_explicit(&p->n_refused_removed,
		                                                     memory_order_relaxed));
		/* Done or failed: refused the same way until `actorsctl restart`. */
		cJSON_AddNumberToObject(o, "refused_gone",
		                        (double)atomic_load_explicit(&p->n_refused_gone,
		                                                     memory_order_relaxed));
		if (g->spare_pid > 0)
			cJSON_AddNumberToObject(o, "standby_pid", g->spare_pid);
		else
			cJSON_AddNullToObject(o, "standby_pid");
		cJSON_AddNumberToObject(o, "takeovers", (double)g->n_takeovers);
		/* Starts that waited for a dead worker's address space to be torn
		 * down, for its file locks (group.c, act__group_check_teardowns()). */
		cJSON_AddNumberToObject(o, "teardown_waits", (double)g->n_teardown_waits);
		/* Its spawned actors' supervision (children.c), from its area. */
		struct act__dyn_hdr *dh = act__shm_dyn(&n->shm, gi + 1);
		cJSON_AddNumberToObject(o, "policy_restarts",
		                        (double)atomic_load_explicit(&dh->n_child_restarts, memory_order_relaxed));
		cJSON_AddNumberToObject(o, "escalations",
		                        (double)atomic_load_explicit(&dh->n_child_escalations, memory_order_relaxed));
		act__pool_status_group(n, gi, o);
		cJSON_AddItemToArray(groups, o);
	}
	act__pool_status(n, a);
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
	/*
	 * Three counts that answer different questions, so they are named
	 * apart (they used to read as one figure that disagreed with itself):
	 * dead_letters is every dead letter the supervisor recorded in this
	 * run, from any group or from itself (routing, the gateway, actorsctl
	 * sends); dead_letters_in_groups is the sum of the groups' own
	 * counters, which their workers keep in shared memory across restarts
	 * and which also counts letters no record reached the supervisor for;
	 * dead_letters_stored is what the store in the state directory holds,
	 * which outlives runs and is capped.
	 */
	cJSON_AddNumberToObject(a, "dead_letters", (double)n->n_dead_letters);
	cJSON_AddNumberToObject(a, "dead_letters_in_groups", (double)dl_groups);
	cJSON_AddNumberToObject(a, "dead_letters_stored", (double)(n->dl ? act__dl_count(n->dl) : 0));
	cJSON_AddBoolToObject(a, "problem", problem);
	if (n->gw)
		act__gw_status(n->gw, a);
	act__httpd_status(n->httpd, a);
	act__topics_status(n, a); /* topics, interceptors, per-type figures */
	return a;
}

/* ---- requests --------------------------------------------------------------------- */

static const char *str_arg(const cJSON *req, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The request's "timeout_ms" if it is in [1, 3600000], else the default. */
static uint32_t timeout_arg(const cJSON *req)
{
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(req, "timeout_ms");
	return cJSON_IsNumber(to) && to->valuedouble >= 1 && to->valuedouble <= 3600000
	       ? (uint32_t)to->valuedouble : DEFAULT_WAIT_MS;
}

/*
 * Puts msg for actor into its group's ring as an ask or a send from a
 * client, and makes c wait: an ask for its reply, a send for its verdict
 * (send_taken).  Answers c itself when the envelope cannot be queued.
 */
static void inject(struct act__ctl *ctl, struct act__ctl_conn *c, const char *actor,
                   const char *type, const cJSON *msg, bool ask, uint32_t timeout_ms)
{
	struct act_node *n = ctl->n;
	struct act__target tgt; /* a declared actor, or a named spawned one */
	uint64_t corr;
	char *json;
	int err;

	if (act__node_resolve(n, actor, &tgt)) {
		answer_error(c, "not_found", "Actor '%s' not found", actor);
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
	/* A send carries a correlation id too: the worker's Reject names it. */
	corr = ++n->next_corr | (1ull << 62);
	act__node_pool_pick(n, &tgt, json, strlen(json)); /* a pool's actor: its member */
	uint64_t start_pos = act__ring_committed(&n->out[tgt.group]);
	err = act__node_inject_to(n, &tgt, type, json, strlen(json), NULL, NULL, ACT__PEER_CLIENT,
	                          ask ? ACT__ENV_ASK : 0, corr);
	free(json);
	if (err == -ENOENT) {
		answer_error(c, "not_found", "Actor '%s' not found", actor);
		return;
	}
	if (err == ACT_ESTOPPED && act__node_group_removed(n, tgt.group - 1)) {
		/* Counted as refused_removed by the reserve that refused it. */
		answer_error(c, "removed", "cannot deliver to '%s': its group '%s' was removed by a "
		             "reload (a reload whose app file lists it adds it back)", actor,
		             n->reg.groups[tgt.group - 1].name);
		return;
	}
	if (err == ACT_ESTOPPED && act__node_group_gone(n, tgt.group - 1)) {
		/* Nothing reads its rings until an operator starts it again:
		 * said now rather than "queued" at the timeout. */
		answer_error(c, "stopped", "cannot deliver to '%s': its group '%s' is %s and runs "
		             "again only after `actorsctl restart %s`", actor,
		             n->reg.groups[tgt.group - 1].name, act__node_group_state(n, tgt.group - 1),
		             n->reg.groups[tgt.group - 1].name);
		return;
	}
	if (err) {
		answer_error(c, err == ACT_EFULL ? "full" : "usage", "cannot deliver to '%s': %s",
		             actor, act_strerror(err));
		return;
	}
	c->timeout_ms = timeout_ms;
	c->deadline_ns = act__now_ns() + (uint64_t)timeout_ms * 1000000u;
	if (ask) {
		c->corr = corr;
		c->state = C_WAIT_ASK;
		return;
	}
	struct pending_send *ps = &c->send;
	c->state = C_WAIT_SEND;
	ps->corr = corr;
	ps->group = tgt.group;
	/* Our envelope ends where the producer's tail is now: the supervisor
	 * is the only producer of ring 0 -> group. */
	ps->start_pos = start_pos;
	ps->end_pos = act__ring_committed(&n->out[ps->group]);
	ps->begun_ns = 0;
	ps->taken = false;
	ps->sent = cJSON_CreateObject();
	if (ps->sent) {
		cJSON_AddStringToObject(ps->sent, "receiver", actor);
		cJSON_AddStringToObject(ps->sent, "type", type);
		cJSON_AddItemToObject(ps->sent, "payload", cJSON_Duplicate(msg, 1));
	}
}

/*
 * The verdict on a send, as far as the supervisor can see it (the worker
 * checks the message; only it knows the module's types):
 *  - SEND_DONE: the worker went past the envelope, and the supervisor has
 *    read everything the worker wrote before that, so a Reject for it
 *    would have reached act__ctl_reply() already: it was accepted;
 *  - SEND_IN_HANDLER: the worker began the envelope HANDLER_GRACE_NS ago
 *    and neither rejected it nor went past it: its handler runs (or hangs,
 *    or crashed the worker).  The check before the handler takes
 *    microseconds, so this is taken as accepted; should a Reject still
 *    come, it is kept as a dead letter all the same (keep_queued);
 *  - SEND_WAITING: not yet.
 */
enum send_verdict { SEND_WAITING, SEND_IN_HANDLER, SEND_DONE };

static enum send_verdict send_taken(struct act__ctl *ctl, struct pending_send *c)
{
	struct act_node *n = ctl->n;
	act__ring_h *in = &n->in[c->group];
	struct act__ring *r = n->out[c->group].r;

	if (!c->taken) {
		/* Once we see the worker past our envelope (an acquire load),
		 * everything it wrote while handling it (a Reject, committed by a
		 * release store of that ring's tail) is visible to the tail load
		 * below. */
		uint64_t done = act__ring_handled(r);
		if ((int64_t)(done - c->end_pos) < 0) {
			/* Which record the worker began last (a PAD before ours is
			 * never begun). */
			uint64_t begun = act__ring_begun(r);
			uint64_t now = act__now_ns();
			if (begun - c->start_pos < c->end_pos - c->start_pos && !c->begun_ns)
				c->begun_ns = now;
			return c->begun_ns && now - c->begun_ns >= HANDLER_GRACE_NS ?
			       SEND_IN_HANDLER : SEND_WAITING;
		}
		c->taken = true;
		/* Pairs with the worker's release store of tail (ring.c R1). */
		c->in_mark = atomic_load_explicit(&in->r->tail, memory_order_acquire);
	}
	/* in->done is our own consumer progress (this thread): every record
	 * before in_mark went through drain_inbound() and its handlers. */
	return (int64_t)(in->done - c->in_mark) >= 0 ? SEND_DONE : SEND_WAITING;
}

/* Keeps watching a send whose client was told it is queued. */
static void keep_queued(struct act__ctl *ctl, struct pending_send *ps)
{
	struct pending_send *q = &ctl->queued[ctl->next_queued++ % MAX_QUEUED];

	cJSON_Delete(q->sent); /* the oldest: a later verdict is only counted */
	*q = *ps;
	memset(ps, 0, sizeof *ps);
}

/* Logs a rejected send, at most LOG_PER_WINDOW lines per LOG_WINDOW_NS. */
static void log_rejection(struct act__ctl *ctl, const char *actor, const char *type,
                          const char *why, int64_t id)
{
	uint64_t now = act__now_ns();

	if (now - ctl->log_window_ns >= LOG_WINDOW_NS) {
		if (ctl->n_unlogged)
			act__warn("%u more rejected sends from actorsctl were not logged",
			          ctl->n_unlogged);
		ctl->log_window_ns = now;
		ctl->n_logged = ctl->n_unlogged = 0;
	}
	if (ctl->n_logged >= LOG_PER_WINDOW) {
		ctl->n_unlogged++;
		return;
	}
	ctl->n_logged++;
	act__warn("send of %s to '%s' from actorsctl rejected: %s (dead letter #%lld)",
	          type, actor, why, (long long)id);
}

/* The receiver rejected a send: keep it as a dead letter and log.  Returns
 * the dead letter's id or a negative errno. */
static int64_t reject_send(struct act__ctl *ctl, struct pending_send *c, const char *why)
{
	struct act_node *n = ctl->n;
	cJSON *e = c->sent;
	char actor[ACT__REMOTE_NAME_MAX + 1] = "?", type[ACT__REMOTE_NAME_MAX + 1] = "?";
	int64_t id = -ENOMEM;

	c->sent = NULL;
	if (e) {
		const char *s;
		if ((s = str_arg(e, "receiver")))
			snprintf(actor, sizeof actor, "%s", s);
		if ((s = str_arg(e, "type")))
			snprintf(type, sizeof type, "%s", s);
		cJSON_AddNumberToObject(e, "time_ms", (double)act__wall_ms());
		cJSON_AddStringToObject(e, "group", c->group >= 1 && c->group <= n->reg.n_groups ?
		                        n->reg.groups[c->group - 1].name : "?");
		cJSON_AddStringToObject(e, "sender", "");
		cJSON_AddStringToObject(e, "reason", why);
		cJSON_AddNumberToObject(e, "redeliveries", 0);
		cJSON_AddTrueToObject(e, "from_outside");
		char *text = cJSON_PrintUnformatted(e);
		if (text && n->dl)
			id = act__dl_append(n->dl, text, strlen(text));
		free(text);
		cJSON_Delete(e);
	}
	n->n_dead_letters++;
	log_rejection(ctl, actor, type, why, id);
	memset(c, 0, sizeof *c);
	return id;
}

static void do_inject(struct act__ctl *ctl, struct act__ctl_conn *c, const cJSON *req, bool ask)
{
	const char *actor = str_arg(req, "actor"), *type = str_arg(req, "type");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(req, "message");

	if (!actor || !type || !cJSON_IsObject(msg)) {
		answer_error(c, "usage", "%s needs \"actor\", \"type\" and an object \"message\"",
		             ask ? "ask" : "send");
		return;
	}
	inject(ctl, c, actor, type, msg, ask, timeout_arg(req));
}

static void do_replay(struct act__ctl *ctl, struct act__ctl_conn *c, const cJSON *req)
{
	const cJSON *idv = cJSON_GetObjectItemCaseSensitive(req, "id");
	const cJSON *e, *payload;
	const char *recv, *type;

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
	/* A replay is a send: rejected again, it becomes a new dead letter. */
	inject(ctl, c, recv, type, payload, false, timeout_arg(req));
}

/* {"cmd":"spawn","group":G,"behaviour":B[,"name":N][,"args":JSON text]} */
static void do_spawn(struct act__ctl *ctl, struct act__ctl_conn *c, const cJSON *req)
{
	const char *group = str_arg(req, "group"), *behaviour = str_arg(req, "behaviour");
	const char *name = str_arg(req, "name"), *args = str_arg(req, "args");
	const cJSON *jname = cJSON_GetObjectItemCaseSensitive(req, "name");
	const cJSON *jargs = cJSON_GetObjectItemCaseSensitive(req, "args");
	char *args_text = NULL;
	act_ref r;
	int err;

	if (!group || !behaviour) {
		answer_error(c, "usage", "spawn needs \"group\" and \"behaviour\"");
		return;
	}
	/* A name that is not a string would silently spawn an anonymous
	 * actor; a NUL escape would cut a string short (cJSON's strings are
	 * C strings), so that another name or args than sent would be used. */
	if (jname && !cJSON_IsNull(jname) && !name) {
		answer_error(c, "usage", "\"name\" must be a string");
		return;
	}
	if (memmem(c->buf, c->len, "\\u0000", 6)) {
		answer_error(c, "usage", "a NUL character (\\u0000) in the request");
		return;
	}
	const char *why = name ? act__actor_name_problem(name) : NULL;
	if (why) {
		answer_error(c, "usage", "actor name '%s' %s", name, why);
		return;
	}
	/* "args": JSON text in a string (what actorsctl sends), or the JSON
	 * value itself. */
	if (jargs && !cJSON_IsNull(jargs) && !args) {
		if (!(args_text = cJSON_PrintUnformatted(jargs))) {
			answer_error(c, "usage", "\"args\" cannot be printed (out of memory)");
			return;
		}
		args = args_text;
	}
	err = act__node_spawn(ctl->n, group, behaviour, name, args, &r);
	if (err == -EMSGSIZE) {
		answer_error(c, "usage", "args of %zu bytes, more than %u", strlen(args),
		             (unsigned)ACT_SPAWN_ARGS_MAX);
		free(args_text);
		return;
	}
	free(args_text);
	args = NULL;
	const struct act__group_def *gd = act__reg_group(&ctl->n->reg, group);
	uint32_t gi = gd ? (uint32_t)(gd - ctl->n->reg.groups) : 0;
	if (err == -ENOENT && !gd) {
		answer_error(c, "not_found", "no group '%s'", group);
	} else if (err == -ENOENT) {
		/* The group published what it can spawn (dyn-remote.c). */
		answer_error(c, "not_found", "unknown behaviour '%s' in group '%s'", behaviour, group);
	} else if (err == -EEXIST) {
		answer_error(c, "exists", "an actor named '%s' exists already", name);
	} else if (err == ACT_ESTOPPED && gd && act__node_group_removed(ctl->n, gi)) {
		answer_error(c, "removed", "cannot spawn '%s' into '%s': a reload removed it (a reload "
		             "whose app file lists it adds it back)", behaviour, group);
	} else if (err == ACT_ESTOPPED && gd && act__node_group_gone(ctl->n, gi)) {
		answer_error(c, "stopped", "cannot spawn '%s' into '%s': the group is %s and runs "
		             "again only after `actorsctl restart %s`", behaviour, group,
		             act__node_group_state(ctl->n, gi), group);
	} else if (err) {
		answer_error(c, err == -ENOSPC || err == ACT_EFULL ? "full" : "usage",
		             "cannot spawn '%s' into '%s': %s", behaviour, group, act_strerror(err));
	} else {
		cJSON *a = cJSON_CreateObject();
		char anon[64];
		if (!name)
			act__dyn_anon_name(anon, sizeof anon, act__dyn_group_of(&ctl->n->shm, r.id - 1),
			                   act__dyn_slot_of(&ctl->n->shm, r.id - 1), r.gen);
		cJSON_AddTrueToObject(a, "ok");
		cJSON_AddStringToObject(a, "name", name ? name : anon);
		cJSON_AddNumberToObject(a, "id", r.id);
		cJSON_AddNumberToObject(a, "gen", r.gen);
		answer(c, a);
	}
}

/* {"cmd":"stop_actor","actor":NAME}: a spawned actor's act_stop. */
static void do_stop_actor(struct act__ctl *ctl, struct act__ctl_conn *c, const cJSON *req)
{
	const char *actor = str_arg(req, "actor");
	int err;

	if (!actor) {
		answer_error(c, "usage", "stop_actor needs \"actor\"");
		return;
	}
	err = act__node_stop_actor(ctl->n, actor);
	if (err == -ENOENT)
		answer_error(c, "not_found", "Actor '%s' not found", actor);
	else if (err == -EPERM)
		answer_error(c, "usage", "'%s' is a declared actor: it stops with its group", actor);
	else if (err)
		answer_error(c, "full", "cannot stop '%s': %s", actor, act_strerror(err));
	else
		answer_ok(c);
}

/* ---- metrics and actors ----------------------------------------------------------- */

char *act__ctl_metrics_text(struct act_node *n)
{
	cJSON *st = status_json(n), *actors = act__actorlist(n);
	char *text = NULL;

	/* Without the actor list (OOM) the node-wide figures still go out. */
	if (st && actors)
		cJSON_AddItemToObject(st, "actors", actors);
	else
		cJSON_Delete(actors);
	if (st)
		text = act__metrics_render(st);
	cJSON_Delete(st);
	return text;
}

/* "actors": every actor, static and spawned (actorlist.h). */
/* actorsctl reload: the answer comes with act__ctl_reload_done(), once
 * the last group restarted (or at once, when there is nothing to do). */
static void do_reload(struct act__ctl_conn *c, struct act_node *n)
{
	char err[1024];
	int rc;

	if (!n->reload) {
		answer_error(c, "unsupported", "this node has no app file to reload "
		             "(embedded act_node_run())");
		return;
	}
	c->state = C_WAIT_READY;
	c->deadline_ns = act__now_ns() + RELOAD_TIMEOUT_NS;
	if ((rc = n->reload(n, c, err, sizeof err)))
		answer_error(c, rc == -EBUSY ? "busy" : "reload_failed", "%s", err);
}

static void do_actors(struct act__ctl_conn *c, struct act_node *n)
{
	cJSON *a = cJSON_CreateObject(), *list = act__actorlist(n);

	if (!a || !list) {
		cJSON_Delete(a);
		cJSON_Delete(list);
		answer_error(c, "internal", "out of memory");
		return;
	}
	cJSON_AddTrueToObject(a, "ok");
	cJSON_AddNumberToObject(a, "schema_version", 1);
	cJSON_AddStringToObject(a, "node", n->name);
	cJSON_AddItemToObject(a, "actors", list);
	answer(c, a);
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
	} else if (!strcmp(cmd, "metrics")) {
		cJSON *a = cJSON_CreateObject();
		char *text = act__ctl_metrics_text(n);
		if (!a || !text) {
			cJSON_Delete(a);
			answer_error(c, "internal", "out of memory");
		} else {
			cJSON_AddTrueToObject(a, "ok");
			cJSON_AddStringToObject(a, "format", "openmetrics-text; version=1.0.0");
			cJSON_AddStringToObject(a, "text", text);
			answer(c, a);
		}
		free(text);
	} else if (!strcmp(cmd, "actors")) {
		do_actors(c, n);
	} else if (!strcmp(cmd, "restart")) {
		const char *g = str_arg(req, "group");
		int gi = g ? act__node_group_index(n, g) : -ENOENT;
		const struct act__group_def *pool = g && gi < 0 ? act__pool_find(&n->reg, g) : NULL;
		if (gi < 0 && !pool) {
			answer_error(c, "not_found", "no such group '%s'", g ? g : "");
		} else if (!pool && act__node_group_removed(n, (uint32_t)gi)) {
			answer_error(c, "removed", "cannot restart '%s': a reload removed it (a reload "
			             "whose app file lists it adds it back)", g);
		} else {
			/* A pool restarts member by member (poolsup.c). */
			int err = pool ? act__node_restart_pool(n, (uint32_t)(pool - n->reg.groups), c) :
			                 act__node_restart_group(n, (uint32_t)gi, c);
			if (err)
				answer_error(c, err == -EBUSY ? "busy" : "internal",
				             "cannot restart '%s': %s", g, act_strerror(err));
			else {
				c->state = C_WAIT_READY;
				/* A rolling restart waits for each member in turn. */
				c->deadline_ns = act__now_ns() +
				                 RESTART_TIMEOUT_NS * (pool ? pool->pool_n : 1);
			}
		}
	} else if (!strcmp(cmd, "reload")) {
		do_reload(c, n);
	} else if (!strcmp(cmd, "stop")) {
		answer_ok(c);
		act__node_stop(n, ACT_EXIT_OK, "stop requested by actorsctl");
	} else if (!strcmp(cmd, "upgrade")) {
		do_upgrade(c, n);
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
	} else if (!strcmp(cmd, "spawn")) {
		do_spawn(ctl, c, req);
	} else if (!strcmp(cmd, "stop_actor")) {
		do_stop_actor(ctl, c, req);
	} else {
		answer_error(c, "usage", "unknown command '%s'", cmd);
	}
out:
	cJSON_Delete(req);
}

/* ---- connections ------------------------------------------------------------------ */

/*
 * A slot for a new connection.  When MAX_CONNS connections are served
 * already, the one that has waited longest for its request makes room (a
 * client that connects and stays silent must not lock others out until it
 * expires).  NULL if every connection has a request in progress, or no
 * slot is free yet (all the others are CLOSING: they free up in the next
 * turn of the loop).
 */
static struct act__ctl_conn *take_slot(struct act__ctl *ctl, uint64_t now)
{
	struct act__ctl_conn *oldest = NULL, *free_slot = NULL;
	uint32_t n_active = 0;

	for (uint32_t i = 0; i < N_SLOTS; i++) {
		struct act__ctl_conn *c = &ctl->conns[i];
		if (c->state == C_FREE && !free_slot)
			free_slot = c;
		if (active(c))
			n_active++;
		if (c->state == C_READING && (!oldest || c->accepted_ns < oldest->accepted_ns))
			oldest = c;
	}
	if (n_active < MAX_CONNS)
		return free_slot;
	if (!oldest)
		return NULL;
	refuse(oldest->fd, "busy", "no request after %llu ms and every control slot was taken",
	       (unsigned long long)((now - oldest->accepted_ns) / 1000000u));
	oldest->fd = -1; /* refuse() closed it */
	conn_close(oldest);
	return oldest->state == C_FREE ? oldest : free_slot;
}

static void accept_all(struct act__ctl *ctl)
{
	for (;;) {
		int fd = accept4(ctl->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		/* uid -1 in the log if SO_PEERCRED itself fails */
		struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
		socklen_t cl = sizeof cred;
		uint64_t now = act__now_ns();

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* Out of fds (or worse): the pending connection stays in
			 * the backlog and the poll would fire again at once, so
			 * rest the listener a while, and say so now and then. */
			if (!ctl->accept_warned_ns || now - ctl->accept_warned_ns >= LOG_WINDOW_NS) {
				act__warn("control socket: accept: %s", strerror(errno));
				ctl->accept_warned_ns = now;
			}
			ctl->accept_resume_ns = now + ACCEPT_PAUSE_NS;
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
		    (cred.uid != geteuid() && cred.uid != 0)) {
			act__warn("control connection from uid %d refused", (int)cred.uid);
			refuse(fd, "denied", "permission denied");
			continue;
		}
		struct act__ctl_conn *c = take_slot(ctl, now);
		if (!c) {
			refuse(fd, "busy", "too many control connections");
			continue;
		}
		c->fd = fd;
		c->state = C_READING;
		c->accepted_ns = now;
		c->deadline_ns = now + READ_TIMEOUT_NS;
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
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
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

static void forget_waiter(struct act__ctl *ctl, const struct act__ctl_conn *c)
{
	if (ctl->n->reload_waiter == c)
		ctl->n->reload_waiter = NULL;
	for (uint32_t g = 0; g < ctl->n->reg.n_groups; g++)
		if (ctl->n->gs[g].waiter == c)
			ctl->n->gs[g].waiter = NULL;
	act__pool_forget_waiter(ctl->n, c);
}

/*
 * A connection waiting for the node (ask, send, restart) became readable:
 * if the client is gone, free its slot now rather than at its deadline
 * (an ask may wait an hour); what it waited for is answered to nobody.
 * A client that only shut down its writing side still waits for its
 * answer, and bytes after the request line are ignored.
 */
static void watch_waiting(struct act__ctl *ctl, struct act__ctl_conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	char junk[512];

	/* POLLHUP: the client closed (a half-close shows POLLIN only). */
	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)))
		goto gone;
	for (unsigned k = 0; k < 64; k++) {
		ssize_t r = recv(c->fd, junk, sizeof junk, MSG_DONTWAIT);
		if (r > 0)
			continue;
		if (r == 0) {
			c->peer_eof = true; /* half-closed: stop watching */
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		goto gone;
	}
	return;
gone:
	if (c->state == C_WAIT_SEND)
		keep_queued(ctl, &c->send);
	else if (c->state == C_WAIT_READY)
		forget_waiter(ctl, c);
	conn_close(c);
}

/* A poll armed by act__ctl_arm() completed; tag is what it was armed with. */
static void ctl_event(struct act__ctl *ctl, uint32_t tag)
{
	uint32_t slot = tag & ~WRITE_TAG;
	bool write = tag & WRITE_TAG;

	if (tag == LISTENER) {
		ctl->l_armed = false;
		if (!ctl->paused)
			accept_all(ctl);
		return;
	}
	if (slot >= N_SLOTS)
		return;
	struct act__ctl_conn *c = &ctl->conns[slot];
	if (write)
		c->w_armed = false;
	else
		c->r_armed = false;
	if (c->state == C_CLOSING) {
		if (!c->r_armed && !c->w_armed)
			c->state = C_FREE;
		return;
	}
	if (write && c->state == C_WRITING)
		flush(c);
	else if (!write && c->state == C_READING)
		read_conn(ctl, c);
	else if (!write && c->state != C_WRITING && c->state != C_FREE)
		watch_waiting(ctl, c);
	/* A read poll that completes while the answer is being written
	 * (a client that sent more, or left) is not re-armed: the write
	 * poll and the deadline finish the connection. */
}

static void on_poll(struct act__evh *h, int res)
{
	struct ctl_evh *e = act__container_of(h, struct ctl_evh, evh);
	(void)res;   /* the handlers find out by reading or writing */
	ctl_event(e->ctl, e->tag);
}

void act__ctl_arm(struct act__ctl *ctl)
{
	if (!ctl->paused && !ctl->l_armed && act__now_ns() >= ctl->accept_resume_ns) {
		act__loop_poll(&ctl->n->loop, &ctl->l_evh.evh, ctl->lfd, POLLIN);
		ctl->l_armed = true;
	}
	/* Waiting connections are watched too, to notice a client that left. */
	for (uint32_t i = 0; i < N_SLOTS; i++) {
		struct act__ctl_conn *c = &ctl->conns[i];
		if (c->state == C_WRITING && !c->w_armed) {
			act__loop_poll(&ctl->n->loop, &ctl->w_evh[i].evh, c->fd, POLLOUT);
			c->w_armed = true;
		} else if (active(c) && c->state != C_WRITING && !c->peer_eof && !c->r_armed) {
			act__loop_poll(&ctl->n->loop, &ctl->r_evh[i].evh, c->fd, POLLIN);
			c->r_armed = true;
		}
	}
}

bool act__ctl_busy(const struct act__ctl *ctl)
{
	if (!ctl)
		return false;
	if (ctl->n_unlogged)
		return true;
	/* Not the sends whose client heard "queued": what they still wait
	 * for, a Reject, comes through a ring with a doorbell that wakes us
	 * (act__ctl_reply()); the tick only forgets them once they are taken,
	 * which any later turn does as well.  Counting them kept an idle node
	 * ticking for good after a send to a group that never runs again. */
	for (uint32_t i = 0; i < N_SLOTS; i++)
		if (ctl->conns[i].state != C_FREE)
			return true;
	return false;
}

bool act__ctl_waiting_send(const struct act__ctl *ctl)
{
	if (!ctl)
		return false;
	for (uint32_t i = 0; i < N_SLOTS; i++)
		if (ctl->conns[i].state == C_WAIT_SEND)
			return true;
	return false;
}

void act__ctl_tick(struct act__ctl *ctl, uint64_t now)
{
	if (ctl->n_unlogged && now - ctl->log_window_ns >= LOG_WINDOW_NS) {
		act__warn("%u more rejected sends from actorsctl were not logged", ctl->n_unlogged);
		ctl->log_window_ns = now;
		ctl->n_logged = ctl->n_unlogged = 0;
	}
	for (uint32_t i = 0; i < MAX_QUEUED; i++) {
		struct pending_send *q = &ctl->queued[i];
		if (q->corr && send_taken(ctl, q) == SEND_DONE) {
			cJSON_Delete(q->sent);
			memset(q, 0, sizeof *q);
		}
	}
	for (uint32_t i = 0; i < N_SLOTS; i++) {
		struct act__ctl_conn *c = &ctl->conns[i];
		if (c->state == C_WAIT_SEND) {
			enum send_verdict v = send_taken(ctl, &c->send);
			if (v == SEND_IN_HANDLER)
				keep_queued(ctl, &c->send);
			if (v != SEND_WAITING)
				answer_ok(c);
		}
		if (!active(c) || now < c->deadline_ns)
			continue;
		switch (c->state) {
		case C_READING:
			answer_error(c, "timeout", "no request within %llu ms",
			             (unsigned long long)(READ_TIMEOUT_NS / 1000000u));
			break;
		case C_WAIT_ASK:
			answer_error(c, "timeout", "no reply within %u ms", c->timeout_ms);
			break;
		case C_WAIT_SEND: {
			/* Still in the ring: the client hears that it is queued,
			 * and we keep watching for a Reject. */
			keep_queued(ctl, &c->send);
			cJSON *a = cJSON_CreateObject();
			cJSON_AddTrueToObject(a, "ok");
			cJSON_AddTrueToObject(a, "queued");
			answer(c, a);
			break;
		}
		case C_WAIT_READY:
			if (ctl->n->reload_waiter == c) {
				forget_waiter(ctl, c);
				answer_error(c, "timeout", "the reload did not finish in time; it "
				             "goes on (see the log)");
				break;
			}
			forget_waiter(ctl, c);
			answer_error(c, "timeout", "the group did not become ready in time");
			break;
		case C_WRITING: /* the client does not read its answer */
		default:
			conn_close(c);
			break;
		}
	}
}

void act__ctl_dead_letter(struct act__ctl *ctl, uint64_t corr, int64_t id)
{
	char where[48] = "";

	if (!ctl || !corr)
		return;
	if (id > 0)
		snprintf(where, sizeof where, " #%lld", (long long)id);
	for (uint32_t i = 0; i < MAX_QUEUED; i++) {
		struct pending_send *q = &ctl->queued[i];
		if (q->corr == corr) { /* told "queued" already: the store has it */
			cJSON_Delete(q->sent);
			memset(q, 0, sizeof *q);
		}
	}
	for (uint32_t i = 0; i < N_SLOTS; i++) {
		struct act__ctl_conn *c = &ctl->conns[i];
		/* A send is answered when its worker took the envelope (a
		 * poison message is taken: its handler ran), as always; an
		 * ask would otherwise wait out its timeout for a reply that
		 * cannot come. */
		if (c->state == C_WAIT_ASK && c->corr == corr) {
			answer_error(c, "dead_letter", "the message killed its group's worker as many "
			             "times as max_redeliveries allows: it is dead letter%s (actorsctl "
			             "dead-letters)", where);
			return;
		}
	}
}

bool act__ctl_reply(struct act__ctl *ctl, uint64_t corr, const char *type, const char *json,
                    size_t json_len)
{
	bool reject = type && !strcmp(type, "Reject");

	if (!ctl || !corr)
		return false;
	for (uint32_t i = 0; i < MAX_QUEUED; i++) {
		struct pending_send *q = &ctl->queued[i];
		if (q->corr != corr)
			continue;
		if (!reject)
			return true; /* the handler answered a plain send: nobody asked */
		cJSON *msg = cJSON_ParseWithLength(json, json_len);
		const cJSON *why = cJSON_GetObjectItemCaseSensitive(msg, "reason");
		reject_send(ctl, q, cJSON_IsString(why) ? why->valuestring : "rejected");
		cJSON_Delete(msg);
		return true;
	}
	for (uint32_t i = 0; i < N_SLOTS; i++) {
		struct act__ctl_conn *c = &ctl->conns[i];
		if (!((c->state == C_WAIT_ASK && c->corr == corr) ||
		      (c->state == C_WAIT_SEND && c->send.corr == corr)))
			continue;
		if (c->state == C_WAIT_SEND && !reject)
			return true; /* the handler answered a plain send: nobody asked */
		cJSON *msg = cJSON_ParseWithLength(json, json_len);
		if (reject) {
			const cJSON *why = cJSON_GetObjectItemCaseSensitive(msg, "reason");
			const char *reason = cJSON_IsString(why) ? why->valuestring : "rejected";
			if (c->state == C_WAIT_SEND) {
				int64_t id = reject_send(ctl, &c->send, reason);
				if (id > 0)
					answer_error(c, "rejected", "%s (kept as dead letter #%lld)", reason,
					             (long long)id);
				else
					answer_error(c, "rejected", "%s", reason);
			} else {
				answer_error(c, "rejected", "%s", reason);
			}
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

void act__ctl_reload_done(struct act__ctl *ctl, struct act__ctl_conn *c, bool ok,
                          const char *text)
{
	if (!ctl || !c || c->state != C_WAIT_READY)
		return;
	if (ok) {
		cJSON *a = cJSON_CreateObject();
		cJSON_AddTrueToObject(a, "ok");
		cJSON_AddStringToObject(a, "summary", text ? text : "");
		answer(c, a);
	} else {
		answer_error(c, "reload_failed", "%s", text ? text : "unknown");
	}
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

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof sa->sun_path)
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, len);
	return 0;
}

/*
 * Does a process listen on sa?  A non-blocking connect answers at once: it
 * succeeds (a listener, maybe frozen: its backlog takes us), fails with
 * EAGAIN (a listener whose backlog is full: also alive) or ECONNREFUSED
 * (a socket file nobody listens on).  1, 0 or a negative errno.
 */
static int probe_listener(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc, e;

	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
	e = errno;
	close(fd);
	if (rc == 0 || e == EAGAIN || e == EINPROGRESS)
		return 1;
	return e == ECONNREFUSED ? 0 : -e;
}

/*
 * 1 if a node listens on sa, 0 if the socket is stale.  A connect that
 * succeeds proves only that some process still holds the listening socket:
 * a node killed a moment ago may have a child (a worker being forked, still
 * between fork and its parent-death signal) that holds it for a few
 * milliseconds more.  So "alive" must hold for 250 ms; one refusal in that
 * time means stale.  Only a start that finds the path pays this.
 */
static int listener_alive(const struct sockaddr_un *sa)
{
	for (int i = 0;; i++) {
		int rc = probe_listener(sa);
		if (rc <= 0 || i == 10)
			return rc;
		struct timespec ts = { 0, 25 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

/* act__ctl_check_path(); *stale is the stale socket file found (st_ino 0: none). */
static int check_path(const char *path, char *why, size_t why_cap, struct stat *stale)
{
	struct sockaddr_un sa;
	struct stat st;
	int rc;

	memset(stale, 0, sizeof *stale);

	if (make_addr(path, &sa)) {
		snprintf(why, why_cap, "%s: the path is empty or longer than %zu bytes", path,
		         sizeof sa.sun_path - 1);
		return -ENAMETOOLONG;
	}
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		snprintf(why, why_cap, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, why_cap, "%s exists and is not a socket; refusing to replace it",
		         path);
		return -ENOTSOCK;
	}
	rc = listener_alive(&sa);
	if (rc > 0) {
		snprintf(why, why_cap, "%s is in use by a running node", path);
		return -EADDRINUSE;
	}
	if (rc < 0) {
		snprintf(why, why_cap, "%s: cannot tell whether a node runs on it: %s", path,
		         strerror(-rc));
		return rc;
	}
	*stale = st;
	return 0;
}

int act__ctl_check_path(const char *path, char *why, size_t why_cap)
{
	struct stat stale;
	return check_path(path, why, why_cap, &stale);
}

struct act__ctl *act__ctl_new(struct act_node *n, const char *path, int *err)
{
	struct act__ctl *ctl = calloc(1, sizeof *ctl);
	struct sockaddr_un sa;
	struct stat st, stale;
	char why[512];

	*err = 0;
	if (!ctl) {
		*err = -ENOMEM;
		return NULL;
	}
	for (uint32_t i = 0; i < N_SLOTS; i++)
		ctl->conns[i].fd = -1;
	ctl->n = n;
	ctl->l_evh = (struct ctl_evh){ { on_poll }, ctl, LISTENER };
	for (uint32_t i = 0; i < N_SLOTS; i++) {
		ctl->r_evh[i] = (struct ctl_evh){ { on_poll }, ctl, i };
		ctl->w_evh[i] = (struct ctl_evh){ { on_poll }, ctl, i | WRITE_TAG };
	}
	ctl->lfd = -1;
	/* After an upgrade: the very socket the last process listened on,
	 * with the clients that connected meanwhile still queued. */
	if ((ctl->lfd = act__recover_ctl_fd(n, path)) >= 0) {
		fcntl(ctl->lfd, F_SETFL, fcntl(ctl->lfd, F_GETFL) | O_NONBLOCK);
		if (!(ctl->path = strdup(path)) || stat(path, &st) < 0) {
			*err = ctl->path ? -errno : -ENOMEM;
			goto fail;
		}
		ctl->dev = st.st_dev;
		ctl->ino = st.st_ino;
		return ctl;
	}
	if ((*err = check_path(path, why, sizeof why, &stale))) {
		act__err("control socket %s", why);
		goto fail;
	}
	make_addr(path, &sa);
	ctl->path = strdup(path);
	ctl->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (!ctl->path || ctl->lfd < 0) {
		*err = ctl->path ? -errno : -ENOMEM;
		goto fail;
	}
	/* A socket file that nobody listens on (checked just above) is left
	 * by a dead node: replace it, if it is still that file (a node
	 * starting at the same time may have replaced it already; then our
	 * bind fails).  Anything else stays. */
	if (stale.st_ino && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == stale.st_dev && st.st_ino == stale.st_ino)
		unlink(path);
	mode_t old = umask(0177); /* the socket is created 0600 */
	int rc = bind(ctl->lfd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(ctl->lfd, 16) < 0 || stat(path, &st) < 0) {
		*err = -errno;
		act__err("cannot serve the control socket %s: %s", path, strerror(errno));
		goto fail;
	}
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
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
	struct stat st;

	if (!ctl)
		return;
	if (ctl->n_unlogged)
		act__warn("%u more rejected sends from actorsctl were not logged", ctl->n_unlogged);
	for (uint32_t i = 0; i < N_SLOTS; i++) {
		struct act__ctl_conn *c = &ctl->conns[i];
		if (c->state == C_WAIT_SEND) {
			/* It is in the ring; what happens to it now is the next
			 * run's business (or the dead letters'). */
			cJSON *a = cJSON_CreateObject();
			cJSON_AddTrueToObject(a, "ok");
			cJSON_AddTrueToObject(a, "queued");
			answer(c, a);
		} else if (c->state == C_WAIT_ASK || c->state == C_WAIT_READY) {
			answer_error(c, "stopping", "the node is stopping");
		}
		/* A last non-blocking try for answers still buffered. */
		if (c->state == C_WRITING && !flush(c))
			conn_close(c);
		else if (active(c))
			conn_close(c);
	}
	for (uint32_t i = 0; i < MAX_QUEUED; i++)
		cJSON_Delete(ctl->queued[i].sent);
	if (ctl->lfd >= 0)
		close(ctl->lfd);
	/* Only the socket we bound: the path may have been taken over since. */
	if (ctl->path && lstat(ctl->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == ctl->dev && st.st_ino == ctl->ino)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}

int act__ctl_listen_fd(const struct act__ctl *ctl)
{
	return ctl ? ctl->lfd : -1;
}

bool act__ctl_pause(struct act__ctl *ctl)
{
	bool idle = true;

	if (!ctl)
		return true;
	ctl->paused = true;
	/* Even a client that has not sent its request yet is waited for: it
	 * connected, so it will (or close, or time out within the bound). */
	for (uint32_t i = 0; i < N_SLOTS; i++)
		idle &= !active(&ctl->conns[i]);
	return idle;
}
