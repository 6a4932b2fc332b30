/* SPDX-License-Identifier: MIT */
/*
 * examples/sessions/sessions.c - a line-protocol TCP front end that spawns
 * one session actor per connection (examples/sessions/README.md).
 *
 * Behaviours (one module, loaded by both groups of sessions.json):
 *   front     owns a listening socket on 127.0.0.1:args.port.  accept and
 *             recv run on its own io_uring (liburing); the runtime gives a
 *             handler no way to add an fd to the worker's loop, so the
 *             completions are reaped without blocking from a periodic
 *             Timeout (every millisecond).  Per connection it
 *             act_spawn()s a session into group args.group ("sessions"),
 *             act_monitor()s it - the registry: conn -> session ref, a
 *             slot freed on Down - and forwards each line as
 *             Request{conn, fseq, line}; replies go back to the socket
 *             with a non-blocking send (the rest buffered, flushed on the
 *             next tick).  Stats{} -> FrontStats{...}.
 *   session   per-connection state: a counter.  Its state lives in a small
 *             file (args.dir/<name>) written before it replies, so a
 *             SIGKILL of its group loses nothing: the session is
 *             permanent, the restarted worker re-creates it with its
 *             mailbox, init reads the file back, queued Requests are
 *             answered.  The one being handled at the kill is redelivered;
 *             the file remembers the last fseq and its reply, so it is
 *             answered again, not applied twice, and the front drops a
 *             reply whose fseq it already sent.  fini (the connection
 *             closed) removes the file.
 *   sessions_keeper  a static actor that does nothing: an app-file group
 *             needs one.
 *
 * The protocol, one line each way: "incr [N]" -> the new counter,
 * "get" -> the counter, "ping" -> "pong", "echo TEXT" -> TEXT, anything
 * else -> "error: ...".  Lines are at most LINE_MAX_ bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cjson/cJSON.h>
#include <liburing.h>

#include <actors.h>

/* ---- messages ------------------------------------------------------------ */

typedef struct { int64_t conn; int64_t fseq; act_buf line; } request_msg;
typedef struct { int64_t conn; int64_t fseq; act_buf text; } reply_msg;
typedef struct { char _unused; } stats_msg;
typedef struct {
	int64_t accepted, open, sessions, downs, requests, replies, dup_replies,
	        spawn_errors, send_retries;
} front_stats_msg;

ACT_MESSAGE_TYPE(request_type, request_msg, "Request",
                 ACT_FIELD(request_msg, conn, ACT_I64),
                 ACT_FIELD(request_msg, fseq, ACT_I64),
                 ACT_FIELD(request_msg, line, ACT_VSTR));
ACT_MESSAGE_TYPE(reply_type, reply_msg, "Reply",
                 ACT_FIELD(reply_msg, conn, ACT_I64),
                 ACT_FIELD(reply_msg, fseq, ACT_I64),
                 ACT_FIELD(reply_msg, text, ACT_VSTR));
ACT_MESSAGE_TYPE_EMPTY(stats_type, stats_msg, "Stats");
ACT_MESSAGE_TYPE(front_stats_type, front_stats_msg, "FrontStats",
                 ACT_FIELD(front_stats_msg, accepted, ACT_I64),
                 ACT_FIELD(front_stats_msg, open, ACT_I64),
                 ACT_FIELD(front_stats_msg, sessions, ACT_I64),
                 ACT_FIELD(front_stats_msg, downs, ACT_I64),
                 ACT_FIELD(front_stats_msg, requests, ACT_I64),
                 ACT_FIELD(front_stats_msg, replies, ACT_I64),
                 ACT_FIELD(front_stats_msg, dup_replies, ACT_I64),
                 ACT_FIELD(front_stats_msg, spawn_errors, ACT_I64),
                 ACT_FIELD(front_stats_msg, send_retries, ACT_I64));

#define LINE_MAX_ 512
/* Requests of one connection sent to its session and not yet answered.
 * Bounds what the rings between the groups hold (MAX_CONNS * WINDOW
 * small envelopes, well under the default 256 KiB ring), so neither side
 * meets a full ring in steady state; the rest waits in the connection's
 * buffer, and past IBUF_MAX in the client's socket (TCP backpressure). */
#define WINDOW 8
#define IBUF_MAX 65536
#define REPLY_MAX 256
#define MAX_CONNS 256
#define TICK_TIMER 1
#define ACCEPT_TAG UINT64_MAX

/* ---- the session ---------------------------------------------------------- */

/* What the session's file holds; written whole with one pwrite. */
struct sess_disk {
	int64_t count;
	int64_t last_fseq;         /* the last Request applied */
	uint32_t reply_len;
	char reply[REPLY_MAX];     /* its reply, to answer a redelivery again */
};

struct session {
	struct sess_disk d;
	int64_t conn;
	int fd;
	char path[256];
};

static int session_init(act_ctx *ctx, void *state, const char *args_json)
{
	struct session *s = state;
	cJSON *args = args_json ? cJSON_Parse(args_json) : NULL;
	const cJSON *dir = cJSON_GetObjectItemCaseSensitive(args, "dir");
	const cJSON *conn = cJSON_GetObjectItemCaseSensitive(args, "conn");
	int err = 0;

	s->fd = -1;
	if (!cJSON_IsString(dir) || !cJSON_IsNumber(conn)) {
		act_log(ctx, ACT_LOG_ERR, "session: bad args (want {\"dir\": str, \"conn\": n})");
		err = -EINVAL;
		goto out;
	}
	s->conn = (int64_t)conn->valuedouble;
	snprintf(s->path, sizeof s->path, "%s/%s", dir->valuestring, act_self_name(ctx));
	s->fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->fd < 0) {
		err = -errno;
		act_log(ctx, ACT_LOG_ERR, "session: %s: %s", s->path, strerror(errno));
		goto out;
	}
	/* A re-created session (its worker was killed) finds its state here;
	 * a new one an empty file. */
	if (pread(s->fd, &s->d, sizeof s->d, 0) != (ssize_t)sizeof s->d)
		memset(&s->d, 0, sizeof s->d);
	if (s->d.reply_len > REPLY_MAX)
		s->d.reply_len = 0;
out:
	cJSON_Delete(args);
	return err;
}

/* Stopped (the connection closed): the state goes with it. */
static void session_fini(act_ctx *ctx, void *state)
{
	struct session *s = state;

	if (s->fd >= 0) {
		close(s->fd);
		unlink(s->path);
	}
}

/* The front's window keeps its ring from filling; if it does anyway the
 * reply is lost and said so (the client then waits for it). */
static void reply(act_ctx *ctx, const reply_msg *out)
{
	int err = act_reply(ctx, &reply_type, out);

	if (err)
		act_log(ctx, ACT_LOG_ERR, "session: reply to request %" PRId64 " lost: %s",
		        out->fseq, act_strerror(err));
}

static void session_request(act_ctx *ctx, void *state, const void *m)
{
	struct session *s = state;
	const request_msg *r = m;
	char line[LINE_MAX_ + 1], *arg;
	uint32_t n = r->line.len < LINE_MAX_ ? r->line.len : LINE_MAX_;
	struct sess_disk d = s->d;
	reply_msg out = { .conn = r->conn, .fseq = r->fseq };
	int len;

	if (r->fseq <= s->d.last_fseq) {
		/* Applied already (a redelivery after our worker died): the same answer. */
		out.text = (act_buf){ s->d.reply, s->d.reply_len, 0 };
		reply(ctx, &out);
		return;
	}
	memcpy(line, r->line.ptr, n);
	line[n] = '\0';
	arg = strchr(line, ' ');
	if (arg)
		*arg++ = '\0';
	if (!strcmp(line, "incr")) {
		long long by = 1;
		char *end = NULL;
		if (arg && *arg) {
			by = strtoll(arg, &end, 10);
			if (*end)
				goto bad;
		}
		d.count += by;
		len = snprintf(d.reply, sizeof d.reply, "%" PRId64, d.count);
	} else if (!strcmp(line, "get") && !arg) {
		len = snprintf(d.reply, sizeof d.reply, "%" PRId64, d.count);
	} else if (!strcmp(line, "ping") && !arg) {
		len = snprintf(d.reply, sizeof d.reply, "pong");
	} else if (!strcmp(line, "echo")) {
		len = snprintf(d.reply, sizeof d.reply, "%s", arg ? arg : "");
	} else {
bad:
		len = snprintf(d.reply, sizeof d.reply, "error: unknown request '%.64s'", line);
	}
	d.reply_len = len < (int)sizeof d.reply ? (uint32_t)len : sizeof d.reply - 1;
	d.last_fseq = r->fseq;
	/* The write is the commit: a kill before it redoes the request, one
	 * after it answers it again from the file. */
	if (pwrite(s->fd, &d, sizeof d, 0) != (ssize_t)sizeof d) {
		act_fail(ctx, "cannot write the session file");
		return;
	}
	s->d = d;
	out.text = (act_buf){ s->d.reply, s->d.reply_len, 0 };
	reply(ctx, &out);
}

static const act_handler session_handlers[] = {
	{ &request_type, session_request },
};

static const act_behaviour session_behaviour = {
	.name = "session",
	.state_size = sizeof(struct session),
	.init = session_init,
	.fini = session_fini,
	.handlers = session_handlers,
	.n_handlers = 1,
	.restart = ACT_PERMANENT,
};

/* ---- the keeper ------------------------------------------------------------- */

static void keeper_start(act_ctx *ctx, void *state, const void *m) { }
static const act_handler keeper_handlers[] = { { &act_start_type, keeper_start } };
static const act_behaviour keeper_behaviour = {
	.name = "sessions_keeper",
	.handlers = keeper_handlers,
	.n_handlers = 1,
};

/* ---- the front end ------------------------------------------------------------ */

struct conn {
	int fd;                    /* -1: closed (the slot waits for the Down) */
	bool used;
	bool recv_pending;
	bool skip_line;            /* dropping the rest of a too long line */
	uint32_t gen;              /* tells a stale completion from this slot's */
	int64_t id;                /* node-wide connection number */
	act_ref session;
	uint64_t monitor;
	int64_t next_fseq, replied_fseq;
	char rx[4096];             /* io_uring's recv target: untouched while pending */
	char *ibuf;                /* received, not yet forwarded */
	size_t ilen, icap;
	char *obuf;                /* replies the socket did not take yet */
	size_t olen, ocap;
};

struct front {
	struct io_uring ring;
	bool ring_ok;
	int lfd;
	bool accept_pending;
	char group[64];
	char dir[200];
	int64_t next_id;
	struct conn c[MAX_CONNS];
	front_stats_msg st;
};

static int front_init(act_ctx *ctx, void *state, const char *args_json)
{
	struct front *f = state;
	cJSON *args = args_json ? cJSON_Parse(args_json) : NULL;
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(args, "port");
	const cJSON *dir = cJSON_GetObjectItemCaseSensitive(args, "dir");
	const cJSON *group = cJSON_GetObjectItemCaseSensitive(args, "group");
	struct sockaddr_in a = { .sin_family = AF_INET };
	int one = 1, err = -EINVAL;

	f->lfd = -1;
	if (!cJSON_IsNumber(port) || port->valuedouble < 1 || port->valuedouble > 65535 ||
	    !cJSON_IsString(dir) || strlen(dir->valuestring) >= sizeof f->dir ||
	    (group && (!cJSON_IsString(group) || strlen(group->valuestring) >= sizeof f->group))) {
		act_log(ctx, ACT_LOG_ERR, "front: bad args (want {\"port\": 1..65535, "
		        "\"dir\": str, \"group\": str [\"sessions\"]})");
		goto out;
	}
	snprintf(f->dir, sizeof f->dir, "%s", dir->valuestring);
	snprintf(f->group, sizeof f->group, "%s", group ? group->valuestring : "sessions");
	if (mkdir(f->dir, 0700) && errno != EEXIST) {
		err = -errno;
		act_log(ctx, ACT_LOG_ERR, "front: %s: %s", f->dir, strerror(errno));
		goto out;
	}
	a.sin_port = htons((uint16_t)port->valuedouble);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->lfd < 0 || setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(f->lfd, (struct sockaddr *)&a, sizeof a) || listen(f->lfd, 128)) {
		err = -errno;
		act_log(ctx, ACT_LOG_ERR, "front: 127.0.0.1:%d: %s", (int)port->valuedouble,
		        strerror(errno));
		goto out;
	}
	err = io_uring_queue_init(2 * MAX_CONNS, &f->ring, 0);
	if (err) {
		act_log(ctx, ACT_LOG_ERR, "front: io_uring_queue_init: %s", strerror(-err));
		goto out;
	}
	f->ring_ok = true;
	for (int i = 0; i < MAX_CONNS; i++)
		f->c[i].fd = -1;
out:
	if (err && f->lfd >= 0) {
		close(f->lfd);
		f->lfd = -1;
	}
	cJSON_Delete(args);
	return err;
}

static void front_fini(act_ctx *ctx, void *state)
{
	struct front *f = state;

	for (int i = 0; i < MAX_CONNS; i++) {
		if (f->c[i].fd >= 0)
			close(f->c[i].fd);
		free(f->c[i].obuf);
		free(f->c[i].ibuf);
	}
	if (f->ring_ok)
		io_uring_queue_exit(&f->ring);
	if (f->lfd >= 0)
		close(f->lfd);
}

static void submit_accept(struct front *f)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&f->ring);

	if (!sqe)
		return;            /* retried on the next tick */
	io_uring_prep_accept(sqe, f->lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ACCEPT_TAG);
	f->accept_pending = true;
}

static void submit_recv(struct front *f, int i)
{
	struct conn *c = &f->c[i];
	struct io_uring_sqe *sqe;

	if (c->fd < 0 || c->recv_pending || c->ilen >= IBUF_MAX)
		return;
	if (!(sqe = io_uring_get_sqe(&f->ring)))
		return;
	io_uring_prep_recv(sqe, c->fd, c->rx, sizeof c->rx, 0);
	io_uring_sqe_set_data64(sqe, (uint64_t)c->gen << 32 | (uint32_t)i);
	c->recv_pending = true;
}

/* Writes what the socket takes now; the rest waits for the next tick. */
static void flush_out(struct conn *c)
{
	while (c->fd >= 0 && c->olen) {
		ssize_t n = send(c->fd, c->obuf, c->olen, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			return;   /* EAGAIN, or a dead peer: its recv will say so */
		memmove(c->obuf, c->obuf + n, c->olen - (size_t)n);
		c->olen -= (size_t)n;
	}
}

/* Appends p[0..n) (and a newline if nl) to a growing buffer; false on OOM. */
static bool buf_add(char **b, size_t *len, size_t *cap, const char *p, size_t n, bool nl)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : 1024;
		char *nb;
		while (c < *len + n + 1)
			c *= 2;
		if (!(nb = realloc(*b, c)))
			return false;
		*b = nb;
		*cap = c;
	}
	memcpy(*b + *len, p, n);
	*len += n;
	if (nl)
		(*b)[(*len)++] = '\n';
	return true;
}

static void queue_out(struct conn *c, const char *p, size_t n)
{
	if (!buf_add(&c->obuf, &c->olen, &c->ocap, p, n, true))
		act_log(NULL, ACT_LOG_ERR, "front: conn %" PRId64 ": out of memory, reply lost", c->id);
}

/* Forwards the complete lines received, at most WINDOW unanswered; stops
 * at a full ring too (the rest is retried on the next tick or reply). */
static void forward_lines(act_ctx *ctx, struct front *f, struct conn *c)
{
	size_t off = 0;

	while (c->fd >= 0 && c->next_fseq - c->replied_fseq < WINDOW) {
		char *nl = c->ilen > off ? memchr(c->ibuf + off, '\n', c->ilen - off) : NULL;
		uint32_t len;
		request_msg r;
		int err;

		if (c->skip_line) {
			off = nl ? (size_t)(nl - c->ibuf) + 1 : c->ilen;
			c->skip_line = !nl;
			if (!nl)
				break;
			continue;
		}
		if (!nl) {
			if (c->ilen - off > LINE_MAX_ && c->next_fseq == c->replied_fseq) {
				/* No newline in LINE_MAX_ bytes: the line is too long.
				 * It is answered now, and dropped up to its newline. */
				queue_out(c, "error: line too long", 20);
				off = c->ilen;
				c->skip_line = true;
			}
			break;
		}
		len = (uint32_t)(nl - (c->ibuf + off));
		if (len > LINE_MAX_) {
			/* Answered here, but in its turn: after the replies to the
			 * requests before it (forward_lines runs again on each reply). */
			if (c->next_fseq != c->replied_fseq)
				break;
			queue_out(c, "error: line too long", 20);
			off += len + 1;
			continue;
		}
		if (len && c->ibuf[off + len - 1] == '\r')
			len--;
		r = (request_msg){ c->id, c->next_fseq + 1, { c->ibuf + off, len, 0 } };
		err = act_send(ctx, c->session, &request_type, &r);
		if (err == ACT_EFULL) {
			f->st.send_retries++;
			break;
		}
		if (err)
			act_log(ctx, ACT_LOG_WARN, "front: conn %" PRId64 ": send: %s", c->id,
			        act_strerror(err));
		c->next_fseq++;
		f->st.requests++;
		off = (size_t)(nl - c->ibuf) + 1;
	}
	if (off) {
		memmove(c->ibuf, c->ibuf + off, c->ilen - off);
		c->ilen -= off;
	}
}

static void on_accept(act_ctx *ctx, struct front *f, int fd)
{
	char name[64], args[400];
	struct conn *c = NULL;
	int i, err;

	for (i = 0; i < MAX_CONNS; i++)
		if (!f->c[i].used) {
			c = &f->c[i];
			break;
		}
	if (!c) {
		static const char full[] = "error: too many connections\n";
		if (send(fd, full, sizeof full - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) { /* gone */ }
		close(fd);
		return;
	}
	c->id = ++f->next_id;
	snprintf(name, sizeof name, "sess-%" PRId64, c->id);
	snprintf(args, sizeof args, "{\"dir\": \"%s\", \"conn\": %" PRId64 "}", f->dir, c->id);
	err = act_spawn(ctx, f->group, "session", name, args, &c->session);
	if (!err)
		err = act_monitor(ctx, c->session, &c->monitor);
	if (err) {
		f->st.spawn_errors++;
		act_log(ctx, ACT_LOG_ERR, "front: spawn %s: %s", name, act_strerror(err));
		close(fd);
		return;
	}
	c->used = true;
	c->fd = fd;
	c->gen++;                  /* a completion of the slot's last user is stale */
	c->recv_pending = false;
	c->skip_line = false;
	c->ilen = 0;
	c->olen = 0;
	c->next_fseq = c->replied_fseq = 0;
	f->st.accepted++;
	f->st.open++;
	f->st.sessions++;
	submit_recv(f, i);
}

static void close_conn(act_ctx *ctx, struct front *f, struct conn *c)
{
	close(c->fd);
	c->fd = -1;
	f->st.open--;
	/* The slot stays in the registry until the session's Down. */
	act_stop(ctx, c->session);
}

static void front_tick(act_ctx *ctx, void *state, const void *m)
{
	struct front *f = state;
	struct io_uring_cqe *cqe;

	if (!f->ring_ok)
		return;
	if (!f->accept_pending)
		submit_accept(f);
	while (io_uring_peek_cqe(&f->ring, &cqe) == 0) {
		uint64_t tag = io_uring_cqe_get_data64(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&f->ring, cqe);
		if (tag == ACCEPT_TAG) {
			f->accept_pending = false;
			if (res >= 0)
				on_accept(ctx, f, res);
			submit_accept(f);
			continue;
		}
		struct conn *c = &f->c[(uint32_t)tag];
		if ((uint32_t)tag >= MAX_CONNS || c->gen != (uint32_t)(tag >> 32) || c->fd < 0)
			continue;
		c->recv_pending = false;
		if (res <= 0) {
			close_conn(ctx, f, c);
			continue;
		}
		if (!buf_add(&c->ibuf, &c->ilen, &c->icap, c->rx, (size_t)res, false)) {
			act_log(ctx, ACT_LOG_ERR, "front: conn %" PRId64 ": out of memory", c->id);
			close_conn(ctx, f, c);
			continue;
		}
		forward_lines(ctx, f, c);
	}
	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &f->c[i];
		if (c->fd < 0)
			continue;
		forward_lines(ctx, f, c);   /* lines a full ring or the window held back */
		flush_out(c);
		submit_recv(f, i);
	}
	io_uring_submit(&f->ring);
}

static struct conn *conn_of(struct front *f, act_ref session)
{
	for (int i = 0; i < MAX_CONNS; i++)
		if (f->c[i].used && act_ref_eq(f->c[i].session, session))
			return &f->c[i];
	return NULL;
}

static void front_reply(act_ctx *ctx, void *state, const void *m)
{
	struct front *f = state;
	const reply_msg *r = m;
	struct conn *c = conn_of(f, act_sender(ctx));

	if (!c || c->id != r->conn)
		return;
	if (r->fseq <= c->replied_fseq) {
		f->st.dup_replies++;   /* answered again after a redelivery */
		return;
	}
	c->replied_fseq = r->fseq;
	f->st.replies++;
	if (c->fd >= 0) {
		queue_out(c, r->text.ptr, r->text.len);
		flush_out(c);
		forward_lines(ctx, f, c);   /* the window moved */
	}
}

static void front_down(act_ctx *ctx, void *state, const void *m)
{
	struct front *f = state;
	const act_down *d = m;
	struct conn *c = conn_of(f, act_sender(ctx));

	act_log(ctx, ACT_LOG_INFO, "front: session %s down: %s", d->actor, d->reason);
	f->st.downs++;
	if (!c)
		return;
	if (c->fd >= 0) {      /* the session died under an open connection */
		shutdown(c->fd, SHUT_RDWR);   /* ends a pending recv */
		close(c->fd);
		c->fd = -1;
		f->st.open--;
	}
	c->used = false;
	c->olen = 0;
	f->st.sessions--;
}

static void front_stats(act_ctx *ctx, void *state, const void *m)
{
	act_reply(ctx, &front_stats_type, &((struct front *)state)->st);
}

static void front_start(act_ctx *ctx, void *state, const void *m)
{
	struct front *f = state;
	uint64_t tick = 1;
	int err = act_timer_periodic(ctx, tick, TICK_TIMER);

	if (err)
		act_log(ctx, ACT_LOG_ERR, "front: no tick timer: %s", act_strerror(err));
	submit_accept(f);
	io_uring_submit(&f->ring);
}

static const act_handler front_handlers[] = {
	{ &act_start_type, front_start },
	{ &act_timeout_type, front_tick },
	{ &reply_type, front_reply },
	{ &act_down_type, front_down },
	{ &stats_type, front_stats },
};

static const act_behaviour front_behaviour = {
	.name = "front",
	.state_size = sizeof(struct front),
	.init = front_init,
	.fini = front_fini,
	.handlers = front_handlers,
	.n_handlers = sizeof front_handlers / sizeof front_handlers[0],
};

ACT_MODULE_INIT(m)
{
	const act_type *types[] = { &request_type, &reply_type, &stats_type, &front_stats_type };
	int err = act_module_add_behaviour(m, &front_behaviour);

	if (!err)
		err = act_module_add_behaviour(m, &session_behaviour);
	if (!err)
		err = act_module_add_behaviour(m, &keeper_behaviour);
	for (size_t i = 0; !err && i < sizeof types / sizeof types[0]; i++)
		err = act_module_add_type(m, types[i]);
	return err;
}
