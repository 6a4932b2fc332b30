/*
 * gateway.c - JSON envelopes between ZeroMQ peers and the node's rings.
 *
 * ZMQ_FD is edge-triggered: after every wakeup, and on every turn of the
 * supervisor's loop (sends on other sockets may have consumed the edge),
 * the PULL socket is drained while ZMQ_EVENTS says POLLIN.  Every send uses
 * ZMQ_DONTWAIT; a peer whose queue is full (SNDHWM) makes act__gw_send()
 * return ACT_EFULL and the caller keeps the envelope in its ring, so the
 * workers that send to that peer eventually see ACT_EFULL themselves.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "clock.h"
#include "envelope.h"
#include "gateway.h"
#include "log.h"
#include "loop.h"
#include "message.h"
#include "node.h"

_Static_assert(ACT__WIRE_NAME_MAX <= ACT__REMOTE_NAME_MAX && ACT__WIRE_NAME_MAX <= ACT__ENDPOINT_MAX,
               "names the wire view hands out must fit the node's limits");

#define MAX_PEERS 256u     /* cached PUSH sockets; the least recently used is evicted */
#define PUMP_BATCH 512u
#define SNDHWM 10000
#define RCVHWM 10000
#define LINGER_MS 1000
#define LOG_BURST 10u          /* log lines per second before we summarise */

/* A frame waiting for a peer whose ZeroMQ queue (SNDHWM) is full. */
struct qframe {
	struct qframe *next;
	size_t len;
	char text[];
};

struct peer {
	char endpoint[ACT__ENDPOINT_MAX + 1];
	void *sock;
	uint64_t sent, refused;
	uint64_t last_used_ns;
	/* Our own bounded queue behind ZeroMQ's: a slow peer does not block
	 * the sending group's ring (and what follows in it) until this fills. */
	struct qframe *q_head, *q_tail;
	uint32_t q_len;
	size_t q_bytes;
};

#define PEER_QUEUE_MAX 4096u             /* frames per peer */
/* How long an inbound envelope may wait for room in its receiver's ring
 * (holding the whole PULL socket meanwhile) before it is rejected. */
#define PENDING_MAX_NS (200u * 1000000u)
#define PEER_QUEUE_BYTES (16u << 20)     /* bytes per peer */

struct pending {           /* an inbound envelope waiting for ring space */
	bool set;
	uint64_t since_ns;
	uint32_t group;            /* participant index of the receiver's group */
	char *receiver, *type, *json, *sender, *endpoint;
	size_t json_len;
};

struct act__gateway {
	struct act_node *n;
	void *ctx, *pull, *zap;
	int pull_fd, zap_fd;
	bool pull_armed, zap_armed;
	struct act__evh pull_evh, zap_evh;
	char advertise[ACT__ENDPOINT_MAX + 1];
	struct act__wire_limits lim;
	bool all_remote;
	char (*allow)[41];
	uint32_t n_allow;
	struct peer *peers;
	uint32_t n_peers;
	struct pending pend;
	bool more;              /* the last pump stopped at its batch limit */
	/* counters */
	uint64_t frames_in, frames_out, rejects_sent, rejects_received;
	uint64_t malformed[ACT__WIRE_N_ERRS];
	uint64_t unknown_receiver, undeliverable, send_errors, backpressure;
	uint64_t auth_denied, auth_allowed;
	uint64_t peers_evicted, reject_send_failed, queued_total, dropped_evicted;
	uint64_t rejected_full;   /* inbound envelopes refused: receiver not keeping up */
	/* Per participant: its ring stayed full for PENDING_MAX_NS; envelopes
	 * for it are refused at once until one goes in again. */
	bool stalled[ACT__MAX_PARTS];
	bool queues_left;          /* some peer has frames waiting in our queue */
	/* rate-limited logging */
	uint64_t log_window_ns;
	unsigned log_count, log_suppressed;
};

__attribute__((format(printf, 2, 3)))
static void log_rl(struct act__gateway *gw, const char *fmt, ...)
{
	uint64_t now = act__now_ns();
	char line[512];
	va_list ap;

	if (now - gw->log_window_ns > 1000000000ull) {
		if (gw->log_suppressed)
			act__warn("gateway: %u similar messages suppressed", gw->log_suppressed);
		gw->log_window_ns = now;
		gw->log_count = 0;
		gw->log_suppressed = 0;
	}
	if (gw->log_count++ >= LOG_BURST) {
		gw->log_suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	act__warn("gateway: %s", line);
}

/* ---- peers (outbound) ------------------------------------------------------------ */

static void peer_close(struct peer *p)
{
	while (p->q_head) {
		struct qframe *f = p->q_head;
		p->q_head = f->next;
		free(f);
	}
	p->q_tail = NULL;
	p->q_len = 0;
	p->q_bytes = 0;
	zmq_close(p->sock);
}

static bool endpoint_ok(const char *ep)
{
	size_t n = strlen(ep);
	return n > 6 && n <= ACT__ENDPOINT_MAX &&
	       (!strncmp(ep, "tcp://", 6) || !strncmp(ep, "ipc://", 6));
}

static struct peer *get_peer(struct act__gateway *gw, const char *endpoint, int *err)
{
	char ep[ACT__ENDPOINT_MAX + 1];
	int v;

	if (!endpoint_ok(endpoint) || act__wire_normalize_endpoint(endpoint, ep, sizeof ep)) {
		*err = -EINVAL;
		return NULL;
	}
	for (uint32_t i = 0; i < gw->n_peers; i++)
		if (!strcmp(gw->peers[i].endpoint, ep)) {
			gw->peers[i].last_used_ns = act__now_ns();
			return &gw->peers[i];
		}
	if (gw->n_peers >= MAX_PEERS) {
		/* Every sender_endpoint a peer names costs a socket: keep a bounded
		 * cache so that a flood of bogus endpoints cannot exhaust them.
		 * The evicted socket's queued frames get LINGER_MS to go out. */
		uint32_t lru = 0;
		for (uint32_t i = 1; i < gw->n_peers; i++)
			if (gw->peers[i].last_used_ns < gw->peers[lru].last_used_ns)
				lru = i;
		/* Prefer a peer with nothing queued: its frames would be lost. */
		for (uint32_t i = 0; i < gw->n_peers; i++)
			if (!gw->peers[i].q_len &&
			    (gw->peers[lru].q_len || gw->peers[i].last_used_ns < gw->peers[lru].last_used_ns))
				lru = i;
		if (gw->peers[lru].q_len) {
			gw->dropped_evicted += gw->peers[lru].q_len;
			log_rl(gw, "%u frames queued for %s dropped: every peer slot is busy",
			       gw->peers[lru].q_len, gw->peers[lru].endpoint);
		}
		peer_close(&gw->peers[lru]);
		gw->peers[lru] = gw->peers[--gw->n_peers];
		gw->peers_evicted++;
	}
	struct peer *p = &gw->peers[gw->n_peers];
	memset(p, 0, sizeof *p);
	snprintf(p->endpoint, sizeof p->endpoint, "%s", ep);
	p->sock = zmq_socket(gw->ctx, ZMQ_PUSH);
	if (!p->sock) {
		*err = -errno;
		return NULL;
	}
	v = LINGER_MS;
	zmq_setsockopt(p->sock, ZMQ_LINGER, &v, sizeof v);
	v = SNDHWM;
	zmq_setsockopt(p->sock, ZMQ_SNDHWM, &v, sizeof v);
	if (zmq_connect(p->sock, ep) < 0) {
		*err = -errno;
		zmq_close(p->sock);
		return NULL;
	}
	p->last_used_ns = act__now_ns();
	gw->n_peers++;
	return p;
}

static int push(struct act__gateway *gw, const char *endpoint, const char *text, size_t len)
{
	int err = 0;
	struct peer *p = get_peer(gw, endpoint, &err);

	if (!p)
		return err;
	/* Behind queued frames, or refused by ZeroMQ: queue it ourselves
	 * (order per peer is kept), or push back when that queue is full. */
	if (p->q_len || zmq_send(p->sock, text, len, ZMQ_DONTWAIT) < 0) {
		if (!p->q_len && errno != EAGAIN) {
			p->refused++;
			return -errno;
		}
		if (p->q_len >= PEER_QUEUE_MAX || p->q_bytes + len > PEER_QUEUE_BYTES) {
			p->refused++;
			return ACT_EFULL;
		}
		struct qframe *f = malloc(sizeof *f + len);
		if (!f) {
			p->refused++;
			return ACT_EFULL;
		}
		f->next = NULL;
		f->len = len;
		memcpy(f->text, text, len);
		if (p->q_tail)
			p->q_tail->next = f;
		else
			p->q_head = f;
		p->q_tail = f;
		p->q_len++;
		p->q_bytes += len;
		gw->queued_total++;
		return 0;
	}
	p->sent++;
	gw->frames_out++;
	return 0;
}

/* Moves queued frames into ZeroMQ while it takes them.  True if any remain. */
static bool flush_queues(struct act__gateway *gw)
{
	bool left = false;
	for (uint32_t i = 0; i < gw->n_peers; i++) {
		struct peer *p = &gw->peers[i];
		while (p->q_head) {
			struct qframe *f = p->q_head;
			if (zmq_send(p->sock, f->text, f->len, ZMQ_DONTWAIT) < 0)
				break;
			p->q_head = f->next;
			if (!p->q_head)
				p->q_tail = NULL;
			p->q_len--;
			p->q_bytes -= f->len;
			p->sent++;
			gw->frames_out++;
			free(f);
		}
		left |= p->q_len != 0;
	}
	return left;
}

int act__gw_send(struct act__gateway *gw, const char *peer, const char *endpoint,
                 const char *type, const char *json, size_t json_len, const char *from)
{
	size_t len;
	char *text;
	int err;

	(void)json_len; /* json is NUL-terminated (envelope trailer) */
	text = act__wire_encode(peer, type, json, from, gw->advertise, &len);
	if (!text) {
		gw->send_errors++;
		log_rl(gw, "cannot encode an envelope of type %s for %s", type, peer);
		return -EINVAL;
	}
	err = push(gw, endpoint, text, len);
	free(text);
	if (!err && !strcmp(type, "Reject"))
		gw->rejects_sent++;
	if (err == ACT_EFULL)
		gw->backpressure++;
	else if (err) {
		gw->send_errors++;
		log_rl(gw, "cannot send to %s at %s: %s", peer, endpoint, act_strerror(err));
	}
	return err;
}

static void reject_to(struct act__gateway *gw, const char *sender, const char *endpoint,
                      const char *type, const char *receiver, const char *reason)
{
	char *text;
	size_t len;

	if (!sender || !endpoint)
		return; /* not addressable */
	if (type && !strcmp(type, "Reject"))
		return; /* never answer a Reject with a Reject */
	text = act__wire_reject(sender, type ? type : "", reason, receiver ? receiver : "",
	                        gw->advertise, &len);
	if (!text)
		return;
	if (push(gw, endpoint, text, len) == 0)
		gw->rejects_sent++;
	else
		gw->reject_send_failed++;
	free(text);
}

static void reject(struct act__gateway *gw, const struct act__wire_view *env, const char *reason)
{
	reject_to(gw, env->sender_actor, env->sender_endpoint, env->message_type, env->receiver,
	          reason);
}

/* ---- inbound ---------------------------------------------------------------------- */

static void pend_free(struct pending *p)
{
	free(p->receiver);
	free(p->type);
	free(p->json);
	free(p->sender);
	free(p->endpoint);
	memset(p, 0, sizeof *p);
}

/* Tries to hand the pending envelope to its ring.  True when done with it. */
static bool pend_retry(struct act__gateway *gw)
{
	struct pending *p = &gw->pend;
	int rc = act__node_inject(gw->n, p->receiver, p->type, p->json, p->json_len, p->sender,
	                          p->endpoint, ACT__PEER_REMOTE, 0, 0);
	if (rc == ACT_EFULL && act__now_ns() - p->since_ns < PENDING_MAX_NS)
		return false;
	if (rc == ACT_EFULL) {
		/* The receiver's group is not draining its ring (stuck, failed,
		 * or just overwhelmed): holding on would stall every other
		 * actor's inbound traffic behind it.  Refuse it, loudly, and the
		 * next ones for that group at once until its ring takes one. */
		char why[320];
		gw->rejected_full++;
		if (p->group < ACT__MAX_PARTS)
			gw->stalled[p->group] = true;
		snprintf(why, sizeof why, "Actor '%.64s' is not keeping up (its queue is full)",
		         p->receiver);
		log_rl(gw, "%s: envelope rejected after %u ms", why,
		       (unsigned)(PENDING_MAX_NS / 1000000u));
		reject_to(gw, p->sender, p->endpoint, p->type, p->receiver, why);
	} else if (rc) {
		gw->undeliverable++;
		log_rl(gw, "envelope for '%s' undeliverable: %s", p->receiver, act_strerror(rc));
	} else if (p->group < ACT__MAX_PARTS) {
		gw->stalled[p->group] = false;
	}
	pend_free(p);
	return true;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/*
 * One inbound frame.  The frame is checked in a single pass without
 * building a tree (act__wire_parse_view): the names are decoded, and the
 * message object goes to the worker as the peer's own text, numbers and
 * all, where the type's codec decodes it.
 */
static void handle_frame(struct act__gateway *gw, const void *data, size_t len)
{
	struct act__wire_view env;
	char err[256], why[320];
	enum act__wire_err e;

	gw->frames_in++;
	e = act__wire_parse_view(data, len, &gw->lim, &env, err, sizeof err);
	if (e != ACT__WIRE_OK) {
		gw->malformed[e]++;
		log_rl(gw, "malformed frame (%s, %zu bytes): %s", act__wire_err_name(e), len, err);
		snprintf(why, sizeof why, "Malformed envelope: %s", err);
		reject(gw, &env, why);
		return;
	}
	if (!strcmp(env.message_type, "Reject"))
		gw->rejects_received++;
	int id = act__reg_find_actor(&gw->n->reg, env.receiver);
	if (id < 0 || !(gw->all_remote || gw->n->reg.actors[id].remote)) {
		/* An actor that is not reachable from the network looks exactly
		 * like one that does not exist. */
		gw->unknown_receiver++;
		log_rl(gw, "envelope for unknown actor '%.64s' rejected", env.receiver);
		snprintf(why, sizeof why, "Actor '%.200s' not found", env.receiver);
		reject(gw, &env, why);
		return;
	}
	if (env.number_overflow) {
		gw->undeliverable++;
		snprintf(why, sizeof why, "Cannot deliver to '%.64s': a number is out of range",
		         env.receiver);
		reject(gw, &env, why);
		return;
	}
	uint32_t group = gw->n->reg.actors[id].group;
	int rc = act__node_inject(gw->n, env.receiver, env.message_type, env.message_text,
	                          env.message_len, env.sender_actor, env.sender_endpoint,
	                          ACT__PEER_REMOTE, 0, 0);
	if (rc == 0)
		gw->stalled[group] = false;
	if (rc == ACT_EFULL && gw->stalled[group]) {
		gw->rejected_full++;
		snprintf(why, sizeof why, "Actor '%.64s' is not keeping up (its queue is full)",
		         env.receiver);
		log_rl(gw, "%s: envelope rejected", why);
		reject(gw, &env, why);
	} else if (rc == ACT_EFULL) {
		/* Backpressure: hold this one and stop reading until it fits;
		 * ZeroMQ then queues up to RCVHWM and stalls the senders. */
		struct pending *p = &gw->pend;
		p->set = true;
		p->since_ns = act__now_ns();
		p->group = group;
		p->receiver = strdup(env.receiver);
		p->type = strdup(env.message_type);
		p->json = strndup(env.message_text, env.message_len);
		p->json_len = env.message_len;
		p->sender = dup_or_null(env.sender_actor);
		p->endpoint = dup_or_null(env.sender_endpoint);
		gw->backpressure++;
		if (!p->receiver || !p->type || !p->json || (env.sender_actor && !p->sender) ||
		    (env.sender_endpoint && !p->endpoint)) {
			gw->undeliverable++;
			pend_free(p);
		}
	} else if (rc) {
		gw->undeliverable++;
		snprintf(why, sizeof why, "Cannot deliver to '%.64s': %s", env.receiver,
		         act_strerror(rc));
		log_rl(gw, "%s", why);
		reject(gw, &env, why);
	}
}

/* Answers ZAP requests: CURVE clients on the allow-list (or any, if none). */
static void pump_zap(struct act__gateway *gw)
{
	for (;;) {
		zmq_msg_t f[7];
		int nf = 0, more = 1;
		uint32_t ev = 0;
		size_t sz = sizeof ev;

		if (zmq_getsockopt(gw->zap, ZMQ_EVENTS, &ev, &sz) < 0 || !(ev & ZMQ_POLLIN))
			return;
		while (more && nf < 7) {
			zmq_msg_init(&f[nf]);
			if (zmq_msg_recv(&f[nf], gw->zap, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&f[nf]);
				break;
			}
			more = zmq_msg_more(&f[nf]);
			nf++;
		}
		/* Drain an oversized request's remaining frames. */
		while (more) {
			zmq_msg_t x;
			zmq_msg_init(&x);
			if (zmq_msg_recv(&x, gw->zap, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&x);
				break;
			}
			more = zmq_msg_more(&x);
			zmq_msg_close(&x);
		}
		bool ok = false;
		if (nf >= 7 && zmq_msg_size(&f[5]) == 5 && !memcmp(zmq_msg_data(&f[5]), "CURVE", 5) &&
		    zmq_msg_size(&f[6]) == 32) {
			char z85[41];
			zmq_z85_encode(z85, zmq_msg_data(&f[6]), 32);
			ok = gw->n_allow == 0;
			for (uint32_t i = 0; i < gw->n_allow && !ok; i++)
				ok = !strcmp(gw->allow[i], z85);
			if (!ok)
				log_rl(gw, "CURVE client %s refused (not on the allow-list)", z85);
		}
		if (ok)
			gw->auth_allowed++;
		else
			gw->auth_denied++;
		/* Reply: version, request id, status code, text, user id, metadata. */
		if (nf >= 2) {
			const char *code = ok ? "200" : "400";
			zmq_send(gw->zap, "1.0", 3, ZMQ_SNDMORE | ZMQ_DONTWAIT);
			zmq_send(gw->zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]),
			         ZMQ_SNDMORE | ZMQ_DONTWAIT);
			zmq_send(gw->zap, code, 3, ZMQ_SNDMORE | ZMQ_DONTWAIT);
			zmq_send(gw->zap, ok ? "OK" : "denied", ok ? 2 : 6, ZMQ_SNDMORE | ZMQ_DONTWAIT);
			zmq_send(gw->zap, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
			zmq_send(gw->zap, "", 0, ZMQ_DONTWAIT);
		}
		for (int i = 0; i < nf; i++)
			zmq_msg_close(&f[i]);
	}
}

void act__gw_pump(struct act__gateway *gw)
{
	gw->queues_left = flush_queues(gw);
	if (gw->zap)
		pump_zap(gw);
	gw->more = false;
	for (unsigned k = 0; k < PUMP_BATCH; k++) {
		uint32_t ev = 0;
		size_t sz = sizeof ev;
		zmq_msg_t m;

		if (gw->pend.set && !pend_retry(gw))
			return; /* still full: leave the rest queued in ZeroMQ */
		if (zmq_getsockopt(gw->pull, ZMQ_EVENTS, &ev, &sz) < 0 || !(ev & ZMQ_POLLIN))
			return;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, gw->pull, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		handle_frame(gw, zmq_msg_data(&m), zmq_msg_size(&m));
		zmq_msg_close(&m);
	}
	/* Frames may be left: the edge-triggered fd will not say so again. */
	gw->more = true;
}

bool act__gw_busy(const struct act__gateway *gw)
{
	return gw->pend.set || gw->queues_left;
}

bool act__gw_more(const struct act__gateway *gw)
{
	return gw->more;
}

static void on_pull(struct act__evh *h, int res)
{
	struct act__gateway *gw = act__container_of(h, struct act__gateway, pull_evh);
	(void)res;
	gw->pull_armed = false;
	act__gw_pump(gw);
}

static void on_zap(struct act__evh *h, int res)
{
	struct act__gateway *gw = act__container_of(h, struct act__gateway, zap_evh);
	(void)res;
	gw->zap_armed = false;
	act__gw_pump(gw);
}

void act__gw_arm(struct act__gateway *gw)
{
	if (!gw->pull_armed) {
		act__loop_poll(&gw->n->loop, &gw->pull_evh, gw->pull_fd, POLLIN);
		gw->pull_armed = true;
	}
	if (gw->zap && !gw->zap_armed) {
		act__loop_poll(&gw->n->loop, &gw->zap_evh, gw->zap_fd, POLLIN);
		gw->zap_armed = true;
	}
}

const char *act__gw_advertise(const struct act__gateway *gw) { return gw->advertise; }

void act__gw_status(const struct act__gateway *gw, cJSON *out)
{
	cJSON *g = cJSON_AddObjectToObject(out, "gateway"), *m, *peers;

	cJSON_AddStringToObject(g, "advertise", gw->advertise);
	cJSON_AddNumberToObject(g, "frames_in", (double)gw->frames_in);
	cJSON_AddNumberToObject(g, "frames_out", (double)gw->frames_out);
	cJSON_AddNumberToObject(g, "rejects_sent", (double)gw->rejects_sent);
	cJSON_AddNumberToObject(g, "rejects_received", (double)gw->rejects_received);
	cJSON_AddNumberToObject(g, "unknown_receiver", (double)gw->unknown_receiver);
	cJSON_AddNumberToObject(g, "undeliverable", (double)gw->undeliverable);
	cJSON_AddNumberToObject(g, "send_errors", (double)gw->send_errors);
	cJSON_AddNumberToObject(g, "backpressure", (double)gw->backpressure);
	cJSON_AddNumberToObject(g, "auth_allowed", (double)gw->auth_allowed);
	cJSON_AddNumberToObject(g, "auth_denied", (double)gw->auth_denied);
	cJSON_AddNumberToObject(g, "peers_evicted", (double)gw->peers_evicted);
	cJSON_AddNumberToObject(g, "queued_total", (double)gw->queued_total);
	cJSON_AddNumberToObject(g, "rejected_full", (double)gw->rejected_full);
	cJSON_AddNumberToObject(g, "dropped_evicted", (double)gw->dropped_evicted);
	cJSON_AddNumberToObject(g, "reject_send_failed", (double)gw->reject_send_failed);
	uint64_t total = 0;
	m = cJSON_AddObjectToObject(g, "malformed");
	for (int e = 1; e < ACT__WIRE_N_ERRS; e++) {
		cJSON_AddNumberToObject(m, act__wire_err_name((enum act__wire_err)e),
		                        (double)gw->malformed[e]);
		total += gw->malformed[e];
	}
	cJSON_AddNumberToObject(g, "malformed_total", (double)total);
	peers = cJSON_AddArrayToObject(g, "peers");
	for (uint32_t i = 0; i < gw->n_peers; i++) {
		const struct peer *p = &gw->peers[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "endpoint", p->endpoint);
		cJSON_AddNumberToObject(o, "sent", (double)p->sent);
		cJSON_AddNumberToObject(o, "refused", (double)p->refused);
		cJSON_AddNumberToObject(o, "queued", p->q_len);
		cJSON_AddItemToArray(peers, o);
	}
}

/* ---- lifecycle ----------------------------------------------------------------------- */

static int setup_curve(struct act__gateway *gw, const struct act__gw_config *cfg)
{
	int one = 1;
	size_t fdl = sizeof gw->zap_fd;

	gw->zap = zmq_socket(gw->ctx, ZMQ_REP);
	if (!gw->zap || zmq_bind(gw->zap, "inproc://zeromq.zap.01") < 0 ||
	    zmq_getsockopt(gw->zap, ZMQ_FD, &gw->zap_fd, &fdl) < 0)
		return -errno;
	if (cfg->n_curve_allow) {
		gw->allow = calloc(cfg->n_curve_allow, sizeof *gw->allow);
		if (!gw->allow)
			return -ENOMEM;
		memcpy(gw->allow, cfg->curve_allow, cfg->n_curve_allow * sizeof *gw->allow);
		gw->n_allow = cfg->n_curve_allow;
	}
	if (zmq_setsockopt(gw->pull, ZMQ_CURVE_SERVER, &one, sizeof one) < 0 ||
	    zmq_setsockopt(gw->pull, ZMQ_CURVE_SECRETKEY, cfg->curve_secret, 41) < 0 ||
	    zmq_setsockopt(gw->pull, ZMQ_ZAP_DOMAIN, "actors", 6) < 0)
		return -errno;
	return 0;
}

struct act__gateway *act__gw_new(struct act_node *n, const struct act__gw_config *cfg, int *err)
{
	struct act__gateway *gw = calloc(1, sizeof *gw);
	size_t fdl;
	int v;
	int64_t maxmsg;

	*err = 0;
	if (!gw) {
		*err = -ENOMEM;
		return NULL;
	}
	gw->n = n;
	gw->pull_evh.fn = on_pull;
	gw->zap_evh.fn = on_zap;
	gw->lim = cfg->limits;
	gw->all_remote = cfg->all_remote;
	gw->pull_fd = gw->zap_fd = -1;
	gw->peers = calloc(MAX_PEERS, sizeof *gw->peers);
	gw->ctx = zmq_ctx_new();
	if (!gw->peers || !gw->ctx) {
		*err = -ENOMEM;
		goto fail;
	}
	/* One I/O thread is plenty; the context's threads exist only in the
	 * supervisor, created after the zygote forked (no worker inherits). */
	zmq_ctx_set(gw->ctx, ZMQ_IO_THREADS, 1);
	zmq_ctx_set(gw->ctx, ZMQ_MAX_SOCKETS, (int)MAX_PEERS + 16);
	gw->pull = zmq_socket(gw->ctx, ZMQ_PULL);
	if (!gw->pull) {
		*err = -errno;
		goto fail;
	}
	v = LINGER_MS;
	zmq_setsockopt(gw->pull, ZMQ_LINGER, &v, sizeof v);
	v = RCVHWM;
	zmq_setsockopt(gw->pull, ZMQ_RCVHWM, &v, sizeof v);
	/* Frames up to twice the limit reach the parser (and are counted as
	 * too_big); anything larger makes ZeroMQ drop the connection. */
	maxmsg = (int64_t)gw->lim.max_frame * 2;
	zmq_setsockopt(gw->pull, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
	if (cfg->curve_secret && (*err = setup_curve(gw, cfg))) {
		act__err("gateway: CURVE setup failed: %s", act_strerror(*err));
		goto fail;
	}
	if (zmq_bind(gw->pull, cfg->endpoint) < 0) {
		*err = -errno;
		act__err("gateway: cannot bind %s: %s", cfg->endpoint, zmq_strerror(errno));
		goto fail;
	}
	fdl = sizeof gw->pull_fd;
	if (zmq_getsockopt(gw->pull, ZMQ_FD, &gw->pull_fd, &fdl) < 0) {
		*err = -errno;
		goto fail;
	}
	if (cfg->advertise) {
		snprintf(gw->advertise, sizeof gw->advertise, "%s", cfg->advertise);
	} else {
		char last[ACT__ENDPOINT_MAX + 1];
		size_t ll = sizeof last;
		if (zmq_getsockopt(gw->pull, ZMQ_LAST_ENDPOINT, last, &ll) < 0)
			snprintf(last, sizeof last, "%s", cfg->endpoint);
		if (act__wire_normalize_endpoint(last, gw->advertise, sizeof gw->advertise))
			snprintf(gw->advertise, sizeof gw->advertise, "%s", last);
	}
	act__info("gateway listening on %s (advertised as %s)%s", cfg->endpoint, gw->advertise,
	          cfg->curve_secret ? ", CURVE" : "");
	return gw;
fail:
	act__gw_free(gw);
	return NULL;
}

void act__gw_free(struct act__gateway *gw)
{
	if (!gw)
		return;
	pend_free(&gw->pend);
	for (uint32_t i = 0; gw->peers && i < gw->n_peers; i++)
		peer_close(&gw->peers[i]);
	if (gw->pull)
		zmq_close(gw->pull);
	if (gw->zap)
		zmq_close(gw->zap);
	if (gw->ctx)
		zmq_ctx_term(gw->ctx);
	free(gw->peers);
	free(gw->allow);
	free(gw);
}
