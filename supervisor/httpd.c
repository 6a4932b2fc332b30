/* SPDX-License-Identifier: MIT */
/*
 * httpd.c - the metrics endpoint: a deliberately small HTTP/1.0 server on
 * the supervisor's io_uring loop, so Prometheus can scrape a node without
 * a sidecar.  It answers GET (and HEAD) /metrics with the text of
 * `actorsctl metrics`, 404 for any other path, 405 for other methods, 400
 * for anything that is not a request line, 431 for a request head larger
 * than REQ_MAX, 408 when the head does not arrive within READ_TIMEOUT_NS
 * of the connection (a fixed deadline: trickling bytes does not extend
 * it), and ends the connection after every answer (lingering a little to
 * read what the client still sends, so that the answer is not lost to a
 * reset).
 *
 * Nothing here blocks the loop: sockets are non-blocking, each connection
 * is a slot moving READING -> WRITING -> DRAINING -> CLOSING -> FREE with
 * one read and one write poll at most in flight, as in control.c (a poll
 * holds the socket's file, so a connection is shut down before it is
 * closed, and a slot is reused only after its polls completed).  At most
 * MAX_CONNS connections live at once; when full, the oldest one that has
 * not sent its request head (or only lingers) is dropped to make room, so
 * idle or slow clients cannot lock a scraper out.  Every refusal is counted.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "httpd.h"
#include "metricsaddr.h"
#include "log.h"
#include "loop.h"
#include "node.h"

#define MAX_CONNS 16u
#define N_SLOTS (2u * MAX_CONNS)       /* room for CLOSING slots as well */
#define REQ_MAX 8192u                   /* request head, request line included */
#define READ_TIMEOUT_NS (5000000000ull)
#define WRITE_TIMEOUT_NS (10000000000ull)
#define LINGER_NS (2000000000ull)
#define LINGER_MAX (256u * 1024u)
#define ACCEPT_PAUSE_NS (100000000ull)  /* out of fds: listen again after */
#define LOG_WINDOW_NS (10000000000ull)
#define LISTENER 0x7fffu
#define WRITE_TAG 0x8000u

/*
 * DRAINING: the answer is out and our side shut down for writing; what
 * the client still sends is read and dropped until it closes (or
 * LINGER_NS, or LINGER_MAX bytes).  Closing a socket with unread input
 * sends a reset, which may make the client's stack discard the answer it
 * has not read yet - a 431 would then reach nobody.
 */
enum hstate { H_FREE = 0, H_READING, H_WRITING, H_DRAINING, H_CLOSING };

struct hconn {
	enum hstate state;
	int fd;
	bool r_armed, w_armed;
	char req[REQ_MAX + 1];
	size_t req_len;
	char *out;                /* the whole answer, head and body */
	size_t out_len, out_off;
	uint64_t accepted_ns, deadline_ns;
};

struct hevh {
	struct act__evh evh;
	struct act__httpd *h;
	uint32_t tag;
};

/* Answers by status code, for the counters and the log. */
enum { A_200, A_400, A_404, A_405, A_408, A_431, A_500, N_ANS };
static const int ans_code[N_ANS] = { 200, 400, 404, 405, 408, 431, 500 };

struct act__httpd {
	struct act_node *n;
	int lfd;
	bool l_armed;
	char addr[64];            /* what we bound, as "HOST:PORT" */
	uint64_t accept_resume_ns, accept_warned_ns, bad_logged_ns;
	struct hevh l_evh, r_evh[N_SLOTS], w_evh[N_SLOTS];
	struct hconn conns[N_SLOTS];
	uint64_t n_conns, n_evicted, n_answers[N_ANS];
};

/* ---- addresses ---------------------------------------------------------------- */

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
		snprintf(out, cap, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
		snprintf(out, cap, "%s:%u", ip, ntohs(s4->sin_port));
	}
}

/* ---- connections ------------------------------------------------------------- */

/* Shuts the socket down (waking its polls), closes it; the slot is free
 * once no poll of it is in flight. */
static void conn_close(struct hconn *c)
{
	bool r = c->r_armed, w = c->w_armed;

	if (c->fd >= 0) {
		shutdown(c->fd, SHUT_RDWR);
		close(c->fd);
	}
	free(c->out);
	c->out = NULL;
	c->fd = -1;
	c->req_len = c->out_len = c->out_off = 0;
	c->state = r || w ? H_CLOSING : H_FREE;
}

static bool active(const struct hconn *c)
{
	return c->state == H_READING || c->state == H_WRITING || c->state == H_DRAINING;
}

/* Writes what the socket takes now; closes when all is out or the peer left. */
static void flush(struct hconn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (w <= 0)
			break;
		c->out_off += (size_t)w;
	}
	if (c->out_off < c->out_len || shutdown(c->fd, SHUT_WR) < 0) {
		conn_close(c);
		return;
	}
	free(c->out);
	c->out = NULL;
	c->req_len = 0;   /* counts drained bytes from here on */
	c->state = H_DRAINING;
	c->deadline_ns = act__now_ns() + LINGER_NS;
}

/* Reads and drops what a client sends after its answer; closes at its EOF. */
static void drain(struct hconn *c)
{
	char sink[4096];

	for (;;) {
		ssize_t r = recv(c->fd, sink, sizeof sink, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0 || (c->req_len += (size_t)r) > LINGER_MAX) {
			conn_close(c);
			return;
		}
	}
}

static const char *reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	default:  return "Internal Server Error";
	}
}

/* Buffers the answer (body may be NULL: a short text body is made) and
 * starts writing it.  Consumes body. */
static void respond(struct act__httpd *h, struct hconn *c, unsigned a, char *body, bool head_only)
{
	int code = ans_code[a];
	const char *ctype = a == A_200 ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
	                               : "text/plain; charset=utf-8";
	char msg[64];
	size_t blen;
	int hl;

	h->n_answers[a]++;
	if (!body) {
		snprintf(msg, sizeof msg, "%d %s\n", code, reason(code));
		body = strdup(msg);
		if (!body) {
			conn_close(c);
			return;
		}
	}
	blen = strlen(body);
	c->out = malloc(blen + 256);
	if (!c->out) {
		free(body);
		conn_close(c);
		return;
	}
	hl = snprintf(c->out, 256, "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	              "Connection: close\r\n%s\r\n", code, reason(code), ctype, blen,
	              a == A_405 ? "Allow: GET, HEAD\r\n" : "");
	c->out_len = (size_t)hl;
	if (!head_only) {
		memcpy(c->out + hl, body, blen);
		c->out_len += blen;
	}
	free(body);
	c->out_off = 0;
	c->state = H_WRITING;
	c->deadline_ns = act__now_ns() + WRITE_TIMEOUT_NS;
	flush(c);
}

/* Logs a refused request now and then (a hostile client must not flood
 * the journal); the counters keep the full tally. */
static void log_bad(struct act__httpd *h, int code)
{
	uint64_t now = act__now_ns();

	if (!h->bad_logged_ns || now - h->bad_logged_ns >= LOG_WINDOW_NS) {
		act__warn("metrics endpoint %s: answered %d %s (further refusals are counted, "
		          "logged at most every %llu s)", h->addr, code, reason(code),
		          (unsigned long long)(LOG_WINDOW_NS / 1000000000u));
		h->bad_logged_ns = now;
	}
}

/* A complete request head is in c->req: answer it. */
static void serve(struct act__httpd *h, struct hconn *c)
{
	char *line_end = strpbrk(c->req, "\r\n");
	char *sp1, *sp2, *target;
	bool head_only;

	*line_end = 0;
	sp1 = strchr(c->req, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7) || strchr(sp2 + 1, ' ')) {
		log_bad(h, 400);
		respond(h, c, A_400, NULL, false);
		return;
	}
	*sp1 = *sp2 = 0;
	target = sp1 + 1;
	head_only = !strcmp(c->req, "HEAD");
	if (strcmp(c->req, "GET") && !head_only) {
		log_bad(h, 405);
		respond(h, c, A_405, NULL, false);
		return;
	}
	/* A query string is ignored (Prometheus adds none, but some tools do). */
	size_t plen = strcspn(target, "?");
	if (plen != strlen("/metrics") || strncmp(target, "/metrics", plen)) {
		respond(h, c, A_404, NULL, head_only);
		return;
	}
	char *text = act__ctl_metrics_text(h->n);
	if (!text) {
		respond(h, c, A_500, NULL, head_only);
		return;
	}
	respond(h, c, A_200, text, head_only);
}

/* Reads what has arrived; answers once the head is complete or too big. */
static void read_conn(struct act__httpd *h, struct hconn *c)
{
	for (;;) {
		if (c->req_len == REQ_MAX) {
			log_bad(h, 431);
			respond(h, c, A_431, NULL, false);
			return;
		}
		ssize_t r = recv(c->fd, c->req + c->req_len, REQ_MAX - c->req_len, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			/* Gone before a whole request: nothing to answer. */
			conn_close(c);
			return;
		}
		size_t from = c->req_len >= 3 ? c->req_len - 3 : 0;
		c->req_len += (size_t)r;
		c->req[c->req_len] = 0;
		if (memchr(c->req + from, 0, c->req_len - from)) {
			/* A NUL byte is never part of an HTTP head. */
			log_bad(h, 400);
			respond(h, c, A_400, NULL, false);
			return;
		}
		/* The head ends with an empty line (CRLF CRLF, or bare LF LF
		 * from hand-typed requests). */
		if (strstr(c->req + from, "\r\n\r\n") || strstr(c->req + from, "\n\n")) {
			serve(h, c);
			return;
		}
	}
}

/* A slot for a new connection; when MAX_CONNS are live, the one that has
 * waited longest for its request head makes room.  NULL if none can. */
static struct hconn *take_slot(struct act__httpd *h)
{
	struct hconn *oldest = NULL, *free_slot = NULL;
	uint32_t n_active = 0;

	for (uint32_t i = 0; i < N_SLOTS; i++) {
		struct hconn *c = &h->conns[i];
		if (c->state == H_FREE && !free_slot)
			free_slot = c;
		if (active(c))
			n_active++;
		if ((c->state == H_READING || c->state == H_DRAINING) &&
		    (!oldest || c->accepted_ns < oldest->accepted_ns))
			oldest = c;
	}
	if (n_active < MAX_CONNS && free_slot)
		return free_slot;
	if (!oldest)
		return NULL;
	h->n_evicted++;
	conn_close(oldest);
	return oldest->state == H_FREE ? oldest : free_slot;
}

static void accept_all(struct act__httpd *h)
{
	for (;;) {
		int fd = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		uint64_t now = act__now_ns();

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* Out of fds: rest the listener rather than spin on it. */
			if (!h->accept_warned_ns || now - h->accept_warned_ns >= LOG_WINDOW_NS) {
				act__warn("metrics endpoint %s: accept: %s", h->addr, strerror(errno));
				h->accept_warned_ns = now;
			}
			h->accept_resume_ns = now + ACCEPT_PAUSE_NS;
			return;
		}
		struct hconn *c = take_slot(h);
		if (!c) {
			/* Every slot is writing an answer: this client tries again. */
			h->n_evicted++;
			close(fd);
			continue;
		}
		h->n_conns++;
		c->fd = fd;
		c->state = H_READING;
		c->accepted_ns = now;
		c->deadline_ns = now + READ_TIMEOUT_NS;
		c->req_len = 0;
	}
}

static void on_poll(struct act__evh *evh, int res)
{
	struct hevh *e = act__container_of(evh, struct hevh, evh);
	struct act__httpd *h = e->h;

	(void)res; /* the handlers find out by reading or writing */
	if (e->tag == LISTENER) {
		h->l_armed = false;
		accept_all(h);
		return;
	}
	struct hconn *c = &h->conns[e->tag & ~WRITE_TAG];
	if (e->tag & WRITE_TAG)
		c->w_armed = false;
	else
		c->r_armed = false;
	if (c->state == H_CLOSING) {
		if (!c->r_armed && !c->w_armed)
			c->state = H_FREE;
	} else if (c->state == H_READING && !(e->tag & WRITE_TAG)) {
		read_conn(h, c);
	} else if (c->state == H_WRITING && (e->tag & WRITE_TAG)) {
		flush(c);
	} else if (c->state == H_DRAINING && !(e->tag & WRITE_TAG)) {
		drain(c);
	}
	/* A slot closed just now by this completion frees up when its other
	 * poll (if any) completes. */
	if (c->state == H_CLOSING && !c->r_armed && !c->w_armed)
		c->state = H_FREE;
}

void act__httpd_arm(struct act__httpd *h)
{
	if (!h)
		return;
	if (!h->l_armed && act__now_ns() >= h->accept_resume_ns) {
		act__loop_poll(&h->n->loop, &h->l_evh.evh, h->lfd, POLLIN);
		h->l_armed = true;
	}
	for (uint32_t i = 0; i < N_SLOTS; i++) {
		struct hconn *c = &h->conns[i];
		if ((c->state == H_READING || c->state == H_DRAINING) && !c->r_armed) {
			act__loop_poll(&h->n->loop, &h->r_evh[i].evh, c->fd, POLLIN);
			c->r_armed = true;
		} else if (c->state == H_WRITING && !c->w_armed) {
			act__loop_poll(&h->n->loop, &h->w_evh[i].evh, c->fd, POLLOUT);
			c->w_armed = true;
		}
	}
}

bool act__httpd_busy(const struct act__httpd *h)
{
	for (uint32_t i = 0; h && i < N_SLOTS; i++)
		if (h->conns[i].state != H_FREE)
			return true;
	return false;
}

void act__httpd_tick(struct act__httpd *h, uint64_t now)
{
	if (!h)
		return;
	for (uint32_t i = 0; i < N_SLOTS; i++) {
		struct hconn *c = &h->conns[i];
		if (!active(c) || now < c->deadline_ns)
			continue;
		if (c->state == H_READING) {
			/* Slow or silent (slowloris): one short answer, then gone;
			 * a client that does not read it is closed on the next
			 * deadline. */
			log_bad(h, 408);
			respond(h, c, A_408, NULL, false);
		} else {
			conn_close(c);
		}
	}
}

void act__httpd_status(const struct act__httpd *h, cJSON *o)
{
	cJSON *m = h ? cJSON_AddObjectToObject(o, "metrics_http") : NULL;
	cJSON *by;
	uint64_t bad = 0;

	if (!m)
		return;
	cJSON_AddStringToObject(m, "address", h->addr);
	cJSON_AddNumberToObject(m, "connections", (double)h->n_conns);
	cJSON_AddNumberToObject(m, "evicted", (double)h->n_evicted);
	by = cJSON_AddObjectToObject(m, "answers");
	for (unsigned a = 0; a < N_ANS; a++) {
		char k[8];
		snprintf(k, sizeof k, "%d", ans_code[a]);
		cJSON_AddNumberToObject(by, k, (double)h->n_answers[a]);
		if (a == A_400 || a == A_405 || a == A_408 || a == A_431)
			bad += h->n_answers[a];
	}
	cJSON_AddNumberToObject(m, "bad_requests", (double)bad);
}

struct act__httpd *act__httpd_new(struct act_node *n, const char *spec, int *err)
{
	struct act__httpd *h = calloc(1, sizeof *h);
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char why[128];
	int one = 1;

	*err = 0;
	if (!h) {
		*err = -ENOMEM;
		return NULL;
	}
	h->n = n;
	h->lfd = -1;
	h->l_evh = (struct hevh){ { on_poll }, h, LISTENER };
	for (uint32_t i = 0; i < N_SLOTS; i++) {
		h->conns[i].fd = -1;
		h->r_evh[i] = (struct hevh){ { on_poll }, h, i };
		h->w_evh[i] = (struct hevh){ { on_poll }, h, i | WRITE_TAG };
	}
	if ((*err = act__httpd_parse_addr(spec, &ss, &len, why, sizeof why))) {
		act__err("metrics endpoint '%s': %s", spec, why);
		goto fail;
	}
	h->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (h->lfd < 0 ||
	    setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(h->lfd, (struct sockaddr *)&ss, len) < 0 || listen(h->lfd, 64) < 0 ||
	    getsockname(h->lfd, (struct sockaddr *)&ss, &len) < 0) {
		*err = -errno;
		act__err("cannot serve the metrics endpoint %s: %s", spec, strerror(errno));
		goto fail;
	}
	format_addr(&ss, h->addr, sizeof h->addr);
	act__info("metrics endpoint: http://%s/metrics", h->addr);
	return h;
fail:
	if (h->lfd >= 0)
		close(h->lfd);
	free(h);
	return NULL;
}

void act__httpd_free(struct act__httpd *h)
{
	if (!h)
		return;
	for (uint32_t i = 0; i < N_SLOTS; i++)
		if (h->conns[i].fd >= 0)
			conn_close(&h->conns[i]);
	if (h->lfd >= 0)
		close(h->lfd);
	free(h);
}
