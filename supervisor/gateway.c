/* SPDX-License-Identifier: MIT */
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

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <zmq.h>

#include "clock.h"
#include "envelope.h"
#include "gateway.h"
#include "route.h"
#include "log.h"
#include "loop.h"
#include "message.h"
#include "node.h"
#include "peers.h"
#include "poolsup.h"
#include "remote-ask.h"
#include "topics.h"
#include "utf8.h"

_Static_assert(ACT__WIRE_NAME_MAX <= ACT__REMOTE_NAME_MAX && ACT__WIRE_NAME_MAX <= ACT__ENDPOINT_MAX,
               "names the wire view hands out must fit the node's limits");

#define MAX_PEERS 256u     /* cached PUSH sockets; the least recently used is evicted */
/*
 * A peer is a stranger until a ZeroMQ handshake with it has succeeded
 * (a monitor on its socket says so): a forged sender_endpoint never gets
 * there.  Strangers have a few slots of their own and evict only each
 * other, so a flood of forged endpoints cannot push out a peer that
 * answers (or one named in the app file); new stranger sockets are also
 * limited per second, and an evicted stranger is closed without linger
 * (what it held is counted as dropped_evicted).
 */
#define MAX_STRANGERS 64u
#define STRANGER_NEW_PER_S 128u
/*
 * Reply routes: a local actor that is not reachable from the network may
 * still receive from an endpoint it sent to lately (the answers to its own
 * remote sends).  Bounded, least recently used replaced, entries expire.
 */
#define MAX_ROUTES 512u
#define ROUTE_TTL_NS (600ull * 1000000000ull)
#define PUMP_BATCH 512u
/*
 * Frames for one group between two rings of its doorbell within a batch:
 * the worker starts draining while we still read, but a doorbell (a fence
 * and a cache line shared with the worker) is not paid per frame.
 */
#define BELL_EVERY 64u
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
	bool proven;            /* a handshake succeeded: a real peer is there */
	bool pinned;            /* named in the app file: never a stranger */
	bool curve;             /* a CURVE client of the peer's server key */
	void *mon;              /* a stranger's monitor (PAIR) until proven; a pinned
	                         * peer's for good (its state, failed handshakes) */
	enum { PEER_CONNECTING, PEER_UP, PEER_DOWN } state;
	bool shaking;           /* connected, handshake not done yet */
	bool mon_full;          /* mon reports every state change (pinned, watched) */
	uint64_t down_since_ns; /* not up since (0 while up) */
	uint32_t down_ms;       /* peer_down_ms of the app file, 0: the default */
	uint64_t handshakes, hs_failed;
	uint64_t last_up_ns;    /* last handshake that succeeded */
	uint64_t sent, refused;
	uint64_t last_used_ns;
	/* Our own bounded queue behind ZeroMQ's: a slow peer does not block
	 * the sending group's ring (and what follows in it) until this fills. */
	struct qframe *q_head, *q_tail;
	uint32_t q_len;
	size_t q_bytes;
	/* That queue full, and no frame taken since (0: not full).  After
	 * the peer's peer_down_ms of it the peer is stalled (queue_full()). */
	uint64_t full_since_ns;
	bool stalled;
	uint64_t dropped_stalled;   /* envelopes dropped while stalled */
	/* Bytes handed to ZeroMQ since the last completed handshake, while
	 * there was none (unproven(): see UNPROVEN_BYTES). */
	size_t zmq_bytes;
};

#define PEER_QUEUE_MAX 4096u             /* frames per peer */
/* How long an inbound envelope may wait for room in its receiver's ring
 * (holding the whole PULL socket meanwhile) before it is rejected. */
#define PENDING_MAX_NS (200u * 1000000u)
#define PEER_QUEUE_BYTES (16u << 20)     /* bytes per peer */
/*
 * ZeroMQ bounds its queue for a peer in frames (SNDHWM), not bytes: 10,000
 * large replies for an endpoint that never answers (a forged
 * sender_endpoint costs nothing) would sit in the supervisor's memory, and
 * a few such endpoints exhaust it (an outside attack: 1.5 GB from four).
 * While a peer has not completed a handshake, what we hand to ZeroMQ for
 * it is counted: at most PEER_QUEUE_BYTES for one peer, and at most
 * UNPROVEN_BYTES for all such peers together, ZeroMQ's share and our
 * queues' both.  Beyond that a frame waits in its group's ring (and such
 * a peer is stalled after its peer_down_ms: queue_full()).  A handshake
 * clears the peer's count: ZeroMQ then sends what it holds.
 */
#define UNPROVEN_BYTES (64u << 20)

struct pending {           /* an inbound envelope waiting for ring space */
	bool set;
	uint64_t since_ns;
	uint32_t group;            /* participant index of the receiver's group */
	char *receiver, *type, *json, *sender, *endpoint;
	size_t json_len;
};

/* (local actor, remote endpoint) that the actor sent to: replies may come back. */
struct route {
	char actor[ACT_NAME_MAX + 1];
	char endpoint[ACT__ENDPOINT_MAX + 1];
	uint64_t last_ns;
};

enum rl_kind {
	RL_FRAME,       /* inbound frames refused */
	RL_PEER,        /* outbound: sockets, sends, queues */
	RL_CONN,        /* inbound connections dropped */
	N_RL
};
static const char *const rl_names[N_RL] = { "inbound", "outbound", "connection" };

struct act__gateway {
	struct act_node *n;
	void *ctx, *pull, *zap, *mon;
	int pull_fd, zap_fd, mon_fd;
	bool pull_armed, zap_armed, mon_armed;
	struct act__evh pull_evh, zap_evh, mon_evh;
	char advertise[ACT__ENDPOINT_MAX + 1];
	struct act__wire_limits lim;
	bool all_remote;
	char (*allow)[41];
	uint32_t n_allow;
	struct peer *peers;
	uint32_t n_peers, n_strangers;
	uint64_t stranger_window_ns;
	uint32_t stranger_new;     /* stranger sockets made in the current second */
	uint64_t mon_seq;          /* names of the peers' monitor endpoints */
	struct route *routes;
	uint32_t n_routes;
	/* Inbound connections (socket monitor): fd -> peer address, for the
	 * log line when ZeroMQ drops one (a frame beyond ZMQ_MAXMSGSIZE). */
	struct { int fd; char addr[64]; } conns[64];
	uint32_t n_conns;
	struct pending pend;
	struct act__rask *rask;    /* outstanding remote asks (remote-ask.c) */
	struct act__watches *watches; /* monitors of remote refs (peers.c) */
	bool more;              /* the last pump stopped at its batch limit */
	/*
	 * The sockets whose ZMQ_FD fired (or that may hold data for another
	 * reason) since we last read them to EAGAIN.  Reading an idle ZeroMQ
	 * socket costs two system calls (getpid() and poll() in its mailbox),
	 * so a socket is read only when its fd said so, and then until EAGAIN,
	 * which re-arms the fd: ZeroMQ signals it again only after that.
	 */
	bool pull_ready, mon_ready, zap_ready;
	/* Groups given frames in this batch whose doorbell is not rung yet. */
	uint16_t bell_due[ACT__MAX_PARTS];      /* frames since the last ring */
	bool bell_listed[ACT__MAX_PARTS];
	uint32_t bell_list[ACT__MAX_PARTS], n_bell;
	/* counters */
	uint64_t frames_in, frames_out, rejects_sent, rejects_received;
	uint64_t malformed[ACT__WIRE_N_ERRS];
	uint64_t unknown_receiver, undeliverable, send_errors, backpressure;
	uint64_t auth_denied, auth_allowed;
	uint64_t peers_evicted, reject_send_failed, queued_total, dropped_evicted;
	uint64_t dropped_stalled;  /* for stalled peers (queue_full()) */
	uint64_t rejected_full;   /* inbound envelopes refused: receiver not keeping up */
	uint64_t peers_refused;   /* no socket for a new stranger: envelope dropped */
	uint64_t reply_routed;    /* inbound envelopes admitted as replies to our sends */
	uint64_t connections, disconnects; /* transport (oversized frames drop one) */
	uint64_t hs_failed_in, hs_failed_out; /* CURVE handshakes refused, by side */
	char curve_public[41], curve_secret[41]; /* our keypair ("" without CURVE) */
	/*
	 * Endpoints that CURVE clients holding a peer's server key advertised
	 * (the key maps to a peer of the app file; the endpoint need not be
	 * the one written there): our sockets to them are CURVE clients of
	 * that key too, so replies go back encrypted.  Replaced in turn.
	 */
	struct { char endpoint[ACT__ENDPOINT_MAX + 1]; uint32_t peer; } learned[64];
	uint32_t n_learned, next_learned;
	const char *cur_key;       /* User-Id (Z85 client key) of the frame being handled */
	/* Per participant: its ring stayed full for PENDING_MAX_NS; envelopes
	 * for it are refused at once until one goes in again. */
	bool stalled[ACT__MAX_PARTS];
	bool queues_left;          /* some peer has frames waiting in our queue */
	/* rate-limited logging, one budget per kind of line so that a flood
	 * of one kind does not hide the others */
	struct { uint64_t window_ns; unsigned count, suppressed; } rl[N_RL];
};

__attribute__((format(printf, 3, 4)))
static void log_rl(struct act__gateway *gw, enum rl_kind k, const char *fmt, ...)
{
	uint64_t now = act__now_ns();
	char line[512];
	va_list ap;

	if (now - gw->rl[k].window_ns > 1000000000ull) {
		if (gw->rl[k].suppressed)
			act__warn("gateway: %u similar %s messages suppressed", gw->rl[k].suppressed,
			          rl_names[k]);
		gw->rl[k].window_ns = now;
		gw->rl[k].count = 0;
		gw->rl[k].suppressed = 0;
	}
	if (gw->rl[k].count++ >= LOG_BURST) {
		gw->rl[k].suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	act__warn("gateway: %s", line);
}

/*
 * Peer-controlled text for a log line (names, endpoints, types): valid
 * UTF-8 but control characters, DEL, '\\' and invalid bytes kept; those
 * become \\xNN, so one log call stays one line that no peer can forge
 * (a "\\n<3>" in a name would otherwise start a fake error line).  Cut at
 * a character boundary with "..." when it does not fit.  Returns buf.
 */
#define ESC_CAP 200u
static const char *esc(const char *s, char *buf, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)(s ? s : "(null)");
	size_t n = 0, avail = strlen((const char *)p);

	while (*p) {
		size_t k = *p >= 0x80 ? act__utf8_seq(p, avail) : 1;
		bool raw = k > 1 || (*p >= 0x20 && *p < 0x7F && *p != '\\');
		size_t need = raw ? k : 4;

		if (n + need + 4 > cap) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		if (raw) {
			memcpy(buf + n, p, k);
		} else {
			buf[n] = '\\';
			buf[n + 1] = 'x';
			buf[n + 2] = hex[*p >> 4];
			buf[n + 3] = hex[*p & 15];
			k = 1;
		}
		n += need;
		p += k;
		avail -= k;
	}
	buf[n] = '\0';
	return buf;
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
	if (p->mon) {
		zmq_socket_monitor(p->sock, NULL, 0);
		zmq_close(p->mon);
		p->mon = NULL;
	}
	if (!p->proven && !p->pinned) {
		/* A stranger never connected: nothing to flush, and a lingering
		 * socket would hold a slot of ZMQ_MAX_SOCKETS for nothing. */
		int zero = 0;
		zmq_setsockopt(p->sock, ZMQ_LINGER, &zero, sizeof zero);
	}
	zmq_close(p->sock);
}

/* Removes peer i from the table (its socket closed, its frames counted). */
static void peer_drop(struct act__gateway *gw, uint32_t i)
{
	struct peer *p = &gw->peers[i];

	/* A stranger never connected: what ZeroMQ took for it is lost too. */
	uint64_t lost = p->q_len + (p->proven || p->pinned ? 0 : p->sent);
	if (lost) {
		char e1[ESC_CAP];
		gw->dropped_evicted += lost;
		log_rl(gw, RL_PEER, "%llu frames for %s dropped: %s", (unsigned long long)lost,
		       esc(p->endpoint, e1, sizeof e1),
		       p->proven || p->pinned ? "every peer slot is busy" :
		       "it never completed a handshake and its slot was needed");
	}
	if (!p->proven && !p->pinned)
		gw->n_strangers--;
	peer_close(p);
	gw->peers[i] = gw->peers[--gw->n_peers];
}

/* The least recently used peer of a kind, preferring one with nothing queued; -1 if none. */
static int peer_lru(const struct act__gateway *gw, bool strangers)
{
	int best = -1;

	for (uint32_t i = 0; i < gw->n_peers; i++) {
		const struct peer *p = &gw->peers[i];
		if ((!p->proven && !p->pinned) != strangers || p->pinned)
			continue;
		if (best < 0 || (!p->q_len && gw->peers[best].q_len) ||
		    (!p->q_len == !gw->peers[best].q_len &&
		     p->last_used_ns < gw->peers[best].last_used_ns))
			best = (int)i;
	}
	return best;
}

/* The peer named in the app file at endpoint ep (normalised), or NULL. */
static const struct act__peer_def *configured(const struct act__gateway *gw, const char *ep)
{
	const struct act__registry *reg = &gw->n->reg;
	char norm[ACT__ENDPOINT_MAX + 1];

	for (uint32_t i = 0; i < reg->n_peers; i++)
		if (reg->peers[i].endpoint &&
		    !act__wire_normalize_endpoint(reg->peers[i].endpoint, norm, sizeof norm) &&
		    !strcmp(norm, ep))
			return &reg->peers[i];
	for (uint32_t i = 0; i < gw->n_learned; i++)
		if (!strcmp(gw->learned[i].endpoint, ep) && gw->learned[i].peer < reg->n_peers)
			return &reg->peers[gw->learned[i].peer];
	return NULL;
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
	uint64_t now = act__now_ns();
	bool pinned;
	int v;

	if (!endpoint_ok(endpoint) || act__wire_normalize_endpoint(endpoint, ep, sizeof ep)) {
		*err = -EINVAL;
		return NULL;
	}
	for (uint32_t i = 0; i < gw->n_peers; i++)
		if (!strcmp(gw->peers[i].endpoint, ep)) {
			gw->peers[i].last_used_ns = now;
			return &gw->peers[i];
		}
	const struct act__peer_def *def = configured(gw, ep);
	pinned = def != NULL;
	if (!pinned) {
		/* A stranger: its own budget, and only strangers make way for it. */
		if (now - gw->stranger_window_ns > 1000000000ull) {
			gw->stranger_window_ns = now;
			gw->stranger_new = 0;
		}
		if (gw->stranger_new >= STRANGER_NEW_PER_S) {
			char e1[ESC_CAP];
			gw->peers_refused++;
			log_rl(gw, RL_PEER, "no socket for new endpoint %s: more than %u new endpoints this "
			       "second; envelope dropped", esc(ep, e1, sizeof e1), STRANGER_NEW_PER_S);
			*err = -ENOBUFS; /* not ACT_EFULL: retrying would not help */
			return NULL;
		}
		if (gw->n_strangers >= MAX_STRANGERS) {
			int i = peer_lru(gw, true);
			if (i >= 0) {
				peer_drop(gw, (uint32_t)i);
				gw->peers_evicted++;
			}
		}
	}
	if (gw->n_peers >= MAX_PEERS) {
		/* Every sender_endpoint a peer names costs a socket: the cache is
		 * bounded.  Strangers go first; a peer that answers only makes way
		 * for a new one when the table holds nothing else. */
		int i = peer_lru(gw, true);
		if (i < 0)
			i = peer_lru(gw, false);
		if (i < 0) {
			gw->peers_refused++;
			*err = -EBUSY;
			return NULL;
		}
		peer_drop(gw, (uint32_t)i);
		gw->peers_evicted++;
	}
	struct peer *p = &gw->peers[gw->n_peers];
	memset(p, 0, sizeof *p);
	snprintf(p->endpoint, sizeof p->endpoint, "%s", ep);
	p->sock = zmq_socket(gw->ctx, ZMQ_PUSH);
	if (!p->sock) {
		char e1[ESC_CAP];
		*err = -errno;
		gw->peers_refused++;
		log_rl(gw, RL_PEER, "no socket for new endpoint %s: %s; envelope dropped",
		       esc(ep, e1, sizeof e1), zmq_strerror(errno));
		return NULL;
	}
	v = LINGER_MS;
	zmq_setsockopt(p->sock, ZMQ_LINGER, &v, sizeof v);
	v = SNDHWM;
	zmq_setsockopt(p->sock, ZMQ_SNDHWM, &v, sizeof v);
	p->pinned = pinned;
	p->mon_full = pinned;
	p->down_since_ns = now;
	p->down_ms = def ? def->down_ms : 0;
	if (def && def->server_key[0]) {
		/* A CURVE server: we are its client, with the node's keypair. */
		if (!gw->curve_secret[0] ||
		    zmq_setsockopt(p->sock, ZMQ_CURVE_SERVERKEY, def->server_key, 41) < 0 ||
		    zmq_setsockopt(p->sock, ZMQ_CURVE_PUBLICKEY, gw->curve_public, 41) < 0 ||
		    zmq_setsockopt(p->sock, ZMQ_CURVE_SECRETKEY, gw->curve_secret, 41) < 0) {
			char e1[ESC_CAP];
			*err = gw->curve_secret[0] ? -errno : -EPERM;
			gw->peers_refused++;
			log_rl(gw, RL_PEER, "cannot be a CURVE client of peer '%s' at %s: %s; envelope "
			       "dropped", def->name, esc(ep, e1, sizeof e1),
			       gw->curve_secret[0] ? zmq_strerror(errno) : "the node has no keypair");
			zmq_close(p->sock);
			return NULL;
		}
		p->curve = true;
	}
	{
		/* A stranger: watch for the handshake that makes it a known
		 * peer (without a monitor it stays a stranger, which is only
		 * less forgiving).  A peer of the app file: watch it for good,
		 * for its state and its failed handshakes (a wrong key). */
		char name[64];
		int events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
		if (pinned)
			events |= ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
			          ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
			          ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
		snprintf(name, sizeof name, "inproc://actors.gateway.peer.%llu",
		         (unsigned long long)++gw->mon_seq);
		if (zmq_socket_monitor(p->sock, name, events) == 0) {
			p->mon = zmq_socket(gw->ctx, ZMQ_PAIR);
			if (p->mon && zmq_connect(p->mon, name) < 0) {
				zmq_close(p->mon);
				p->mon = NULL;
			}
			if (!p->mon)
				zmq_socket_monitor(p->sock, NULL, 0);
		}
	}
	if (zmq_connect(p->sock, ep) < 0) {
		char e1[ESC_CAP];
		*err = -errno;
		gw->peers_refused++;
		log_rl(gw, RL_PEER, "cannot connect to %s: %s; envelope dropped",
		       esc(ep, e1, sizeof e1), zmq_strerror(errno));
		peer_close(p);
		return NULL;
	}
	p->last_used_ns = now;
	if (!pinned) {
		gw->n_strangers++;
		gw->stranger_new++;
	}
	gw->n_peers++;
	return p;
}

static void peer_sent(struct act__gateway *gw, struct peer *p)
{
	char e1[ESC_CAP];

	p->sent++;
	gw->frames_out++;
	p->full_since_ns = 0;
	if (p->stalled) {
		p->stalled = false;
		log_rl(gw, RL_PEER, "peer %s takes frames again (%llu envelopes for it were dropped "
		       "while it took none)", esc(p->endpoint, e1, sizeof e1),
		       (unsigned long long)p->dropped_stalled);
	}
}

/* One event of peer p's monitor. */
static void peer_event(struct act__gateway *gw, struct peer *p, uint16_t event, uint32_t value)
{
	char e1[ESC_CAP];

	switch (event) {
	case ZMQ_EVENT_CONNECTED:
		p->shaking = true;
		break;
	case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
		p->shaking = false;
		p->state = PEER_UP;
		p->zmq_bytes = 0; /* ZeroMQ sends what it holds (UNPROVEN_BYTES) */
		p->down_since_ns = 0;
		p->handshakes++;
		p->last_up_ns = act__now_ns();
		break;
	case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
	case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
	case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
		p->shaking = false;
		p->hs_failed++;
		gw->hs_failed_out++;
		log_rl(gw, RL_PEER, "handshake with %s failed (%s, %u)%s", esc(p->endpoint, e1, sizeof e1),
		       event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "refused by its authentication" :
		       event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol" : "no detail",
		       (unsigned)value, p->curve ? ": is its server_key right?" : "");
		break;
	case ZMQ_EVENT_DISCONNECTED:
		if (p->shaking && p->curve) {
			/* A CURVE server that cannot open our HELLO (we used a key
			 * that is not its own) just hangs up: that is a refusal. */
			p->hs_failed++;
			gw->hs_failed_out++;
			log_rl(gw, RL_PEER, "CURVE handshake with %s failed: the peer hung up (is its "
			       "server_key right?)", esc(p->endpoint, e1, sizeof e1));
		}
		p->shaking = false;
		if (p->state == PEER_UP || !p->down_since_ns)
			p->down_since_ns = act__now_ns();
		p->state = PEER_DOWN;
		break;
	default:
		break;
	}
}

/*
 * Makes p's monitor report every state change (a watched peer).  A
 * stranger's monitor only waited for its handshake; a proven stranger
 * has none left: what it knew is kept as the state.
 */
static void watch_fully(struct act__gateway *gw, struct peer *p)
{
	char name[64];

	if (p->mon_full)
		return;
	if (p->mon) {
		zmq_socket_monitor(p->sock, NULL, 0);
		zmq_close(p->mon);
		p->mon = NULL;
	}
	if (p->proven) {
		p->state = PEER_UP;
		p->down_since_ns = 0;
	}
	snprintf(name, sizeof name, "inproc://actors.gateway.peer.%llu",
	         (unsigned long long)++gw->mon_seq);
	if (zmq_socket_monitor(p->sock, name, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
	                       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	                       ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	                       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) < 0)
		return;
	p->mon = zmq_socket(gw->ctx, ZMQ_PAIR);
	if (p->mon && zmq_connect(p->mon, name) < 0) {
		zmq_close(p->mon);
		p->mon = NULL;
	}
	if (!p->mon) {
		zmq_socket_monitor(p->sock, NULL, 0);
		return;
	}
	p->mon_full = true;
}

int act__gw_peer_state(struct act__gateway *gw, const char *endpoint, uint64_t *down_for_ns,
                       uint32_t *down_ms)
{
	int err = 0;
	struct peer *p = get_peer(gw, endpoint, &err);

	if (!p)
		return err;
	watch_fully(gw, p);
	if (!p->mon_full)
		return -ENOTSUP; /* cannot be watched: no monitor */
	*down_ms = p->down_ms ? p->down_ms : ACT__PEER_DOWN_MS_DEFAULT;
	*down_for_ns = p->state == PEER_UP || !p->down_since_ns ? 0 :
	               act__now_ns() - p->down_since_ns;
	return 0;
}

/* Monitor events of the peers' sockets: strangers whose handshake
 * succeeded become known peers; peers of the app file keep their state. */
static void pump_peer_monitors(struct act__gateway *gw)
{
	for (uint32_t i = 0; i < gw->n_peers; i++) {
		struct peer *p = &gw->peers[i];

		while (p->mon) {
			uint32_t ev = 0, value = 0;
			size_t sz = sizeof ev;
			zmq_msg_t m;
			uint16_t event = 0;

			if (zmq_getsockopt(p->mon, ZMQ_EVENTS, &ev, &sz) < 0 || !(ev & ZMQ_POLLIN))
				break;
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, p->mon, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&m);
				break;
			}
			if (zmq_msg_size(&m) >= 6) {
				memcpy(&event, zmq_msg_data(&m), 2);
				memcpy(&value, (const char *)zmq_msg_data(&m) + 2, 4);
			}
			while (zmq_msg_more(&m)) {
				zmq_msg_close(&m);
				zmq_msg_init(&m);
				if (zmq_msg_recv(&m, p->mon, ZMQ_DONTWAIT) < 0)
					break;
			}
			zmq_msg_close(&m);
			peer_event(gw, p, event, value);
			if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED && !p->proven && !p->pinned &&
			    !p->mon_full) {
				zmq_socket_monitor(p->sock, NULL, 0);
				zmq_close(p->mon);
				p->mon = NULL;
				p->proven = true;
				gw->n_strangers--;
			}
		}
	}
}

/*
 * Peer p's queue is full.  While the peer takes frames, however slowly,
 * the envelope stays in its group's ring and comes back (ACT_EFULL), so
 * that the group's senders feel the back-pressure.  But everything behind
 * it in that ring waits too: envelopes for other peers, answers to
 * actorsctl, the group's own control records.  A peer that took no frame
 * for its peer_down_ms (default 3000) while full (gone, or an endpoint a
 * forged frame named that never answers) would hold all of that for good:
 * it is stalled, and its envelopes are dropped (-EHOSTDOWN: the caller
 * counts a dead letter, a remote ask fails) until it takes a frame again.
 */
/* A stranger (never a handshake, not in the app file) is stalled after
 * this: a flood of forged endpoints, each stalling its group's ring for
 * peer_down_ms in turn, made replies to real peers fail for as long as
 * it lasted (an outside attack).  A real new peer shakes hands in well
 * under that, and only a full queue counts. */
#define STRANGER_STALL_MS 250u

static int queue_full(struct act__gateway *gw, struct peer *p)
{
	uint64_t now = act__now_ns();
	uint32_t ms = p->down_ms ? p->down_ms : ACT__PEER_DOWN_MS_DEFAULT;
	if (!p->proven && !p->pinned && ms > STRANGER_STALL_MS)
		ms = STRANGER_STALL_MS;
	uint64_t limit = (uint64_t)ms * 1000000u;
	char e1[ESC_CAP];

	if (!p->full_since_ns) {
		p->full_since_ns = now;
		p->refused++; /* once per time it fills, not per retry */
	}
	if (now - p->full_since_ns < limit)
		return ACT_EFULL;
	if (!p->stalled) {
		p->stalled = true;
		log_rl(gw, RL_PEER, "peer %s took no frame for %llu ms with its queue full: envelopes "
		       "for it are dropped (dead letters) until it takes one, so that its group's "
		       "other envelopes can go", esc(p->endpoint, e1, sizeof e1),
		       (unsigned long long)(limit / 1000000u));
	}
	p->dropped_stalled++;
	gw->dropped_stalled++;
	return -EHOSTDOWN; /* "Host is down": a remote ask fails with it at once */
}

/* No handshake with the peer has completed since we last had one. */
static bool unproven(const struct peer *p)
{
	return !p->proven && p->state != PEER_UP;
}

/* Bytes held for unproven peers: ZeroMQ's (as counted) and our queues'. */
static size_t unproven_bytes(const struct act__gateway *gw)
{
	size_t n = 0;
	for (uint32_t i = 0; i < gw->n_peers; i++)
		if (unproven(&gw->peers[i]))
			n += gw->peers[i].zmq_bytes + gw->peers[i].q_bytes;
	return n;
}

/* Whether a frame of len bytes for unproven peer p may go to ZeroMQ now. */
static bool zmq_room(const struct act__gateway *gw, const struct peer *p, size_t len)
{
	return !unproven(p) || (p->zmq_bytes + len <= PEER_QUEUE_BYTES &&
	                        unproven_bytes(gw) + len <= UNPROVEN_BYTES);
}

static int push(struct act__gateway *gw, const char *endpoint, const char *text, size_t len)
{
	int err = 0;
	struct peer *p = get_peer(gw, endpoint, &err);

	if (!p)
		return err;
	/* Behind queued frames, or refused by ZeroMQ: queue it ourselves
	 * (order per peer is kept), or push back when that queue is full. */
	bool hold = !p->q_len && !zmq_room(gw, p, len);
	if (p->q_len || hold || zmq_send(p->sock, text, len, ZMQ_DONTWAIT) < 0) {
		if (!p->q_len && !hold && errno != EAGAIN) {
			p->refused++;
			return -errno;
		}
		if (p->q_len >= PEER_QUEUE_MAX || p->q_bytes + len > PEER_QUEUE_BYTES ||
		    (unproven(p) && unproven_bytes(gw) + len > UNPROVEN_BYTES))
			return queue_full(gw, p);
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
		gw->queues_left = true;
		return 0;
	}
	if (unproven(p))
		p->zmq_bytes += len;
	peer_sent(gw, p);
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
			/* Moving it from our queue to ZeroMQ's leaves the bytes
			 * held the same: only the peer's own share is checked. */
			if ((unproven(p) && p->zmq_bytes + f->len > PEER_QUEUE_BYTES) ||
			    zmq_send(p->sock, f->text, f->len, ZMQ_DONTWAIT) < 0)
				break;
			if (unproven(p))
				p->zmq_bytes += f->len;
			p->q_head = f->next;
			if (!p->q_head)
				p->q_tail = NULL;
			p->q_len--;
			p->q_bytes -= f->len;
			peer_sent(gw, p);
			free(f);
		}
		left |= p->q_len != 0;
	}
	return left;
}

/* ---- reply routes --------------------------------------------------------------------- */

/* Endpoints compare with localhost and 127.0.0.1 taken as the same host. */
static const char *host_rest(const char *ep, const char **scheme_end)
{
	static const char *const local[] = { "tcp://localhost:", "tcp://127.0.0.1:" };

	for (size_t k = 0; k < 2; k++)
		if (!strncmp(ep, local[k], strlen(local[k]))) {
			*scheme_end = ep + strlen(local[k]);
			return "tcp://127.0.0.1:";
		}
	*scheme_end = ep;
	return "";
}

static bool same_endpoint(const char *a, const char *b)
{
	const char *ra, *rb;
	const char *ha = host_rest(a, &ra), *hb = host_rest(b, &rb);

	return !strcmp(ha, hb) && !strcmp(ra, rb);
}

/* Actor `from` (not reachable from the network) sent to endpoint ep. */
static void route_note(struct act__gateway *gw, const char *from, const char *endpoint)
{
	char ep[ACT__ENDPOINT_MAX + 1];
	uint64_t now = act__now_ns();
	uint32_t slot = 0;

	if (!gw->routes || act__wire_normalize_endpoint(endpoint, ep, sizeof ep))
		return;
	for (uint32_t i = 0; i < gw->n_routes; i++) {
		struct route *r = &gw->routes[i];
		if (!strcmp(r->actor, from) && !strcmp(r->endpoint, ep)) {
			r->last_ns = now;
			return;
		}
		if (r->last_ns < gw->routes[slot].last_ns)
			slot = i;
	}
	if (gw->n_routes < MAX_ROUTES)
		slot = gw->n_routes++;
	snprintf(gw->routes[slot].actor, sizeof gw->routes[slot].actor, "%s", from);
	snprintf(gw->routes[slot].endpoint, sizeof gw->routes[slot].endpoint, "%s", ep);
	gw->routes[slot].last_ns = now;
}

/* Whether actor `to` sent to `endpoint` within ROUTE_TTL_NS. */
static bool route_open(const struct act__gateway *gw, const char *to, const char *endpoint)
{
	char ep[ACT__ENDPOINT_MAX + 1];
	uint64_t now = act__now_ns();

	if (!endpoint || act__wire_normalize_endpoint(endpoint, ep, sizeof ep))
		return false;
	for (uint32_t i = 0; i < gw->n_routes; i++) {
		const struct route *r = &gw->routes[i];
		if (now - r->last_ns <= ROUTE_TTL_NS && !strcmp(r->actor, to) &&
		    same_endpoint(r->endpoint, ep))
			return true;
	}
	return false;
}

/* Whether the registry lets the network reach actor id on its own. */
static bool reachable(const struct act__gateway *gw, int id)
{
	return gw->all_remote || gw->n->reg.actors[id].remote;
}

int act__gw_send(struct act__gateway *gw, const char *peer, const char *endpoint,
                 const char *type, const char *json, size_t json_len, const char *from)
{
	size_t len;
	char *text;
	int err;

	(void)json_len; /* json is NUL-terminated (envelope trailer) */
	/* A worker's Reject names the refusing actor as its sender; the
	 * family sends Rejects anonymously (a peer without Reject registered
	 * would answer a named one, or choke on it), so it leaves without. */
	if (!strcmp(type, "Reject"))
		from = NULL;
	text = act__wire_encode(peer, type, json, from, gw->advertise, &len);
	if (!text) {
		char e1[ESC_CAP], e2[ESC_CAP];
		gw->send_errors++;
		log_rl(gw, RL_PEER, "cannot encode an envelope of type %s for %s", esc(type, e1, sizeof e1),
		       esc(peer, e2, sizeof e2));
		return -EINVAL;
	}
	err = push(gw, endpoint, text, len);
	free(text);
	if (!err && !strcmp(type, "Reject"))
		gw->rejects_sent++;
	if (!err && from) {
		/* Its answers may come back even if the network cannot reach it. */
		int id = act__reg_find_actor(&gw->n->reg, from);
		if (id >= 0 && !reachable(gw, id))
			route_note(gw, from, endpoint);
	}
	if (err == ACT_EFULL) {
		gw->backpressure++;
	} else if (err) {
		char e1[ESC_CAP], e2[ESC_CAP];
		gw->send_errors++;
		log_rl(gw, RL_PEER, "envelope for %s at %s dropped: %s", esc(peer, e1, sizeof e1),
		       esc(endpoint, e2, sizeof e2), act_strerror(err));
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
	if (!text) {
		char e1[ESC_CAP];
		gw->reject_send_failed++;
		log_rl(gw, RL_PEER, "a Reject for %s could not be built (out of memory?)",
		       esc(endpoint, e1, sizeof e1));
		return;
	}
	if (push(gw, endpoint, text, len) == 0) {
		gw->rejects_sent++;
	} else {
		char e1[ESC_CAP];
		gw->reject_send_failed++;
		log_rl(gw, RL_PEER, "a Reject for %s could not be sent (counted as reject_send_failed)",
		       esc(endpoint, e1, sizeof e1));
	}
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
		char e1[ESC_CAP];
		snprintf(why, sizeof why, "Actor '%.64s' is not keeping up (its queue is full)",
		         p->receiver);
		log_rl(gw, RL_FRAME, "actor '%s' is not keeping up (its queue is full): envelope rejected "
		       "after %u ms", esc(p->receiver, e1, sizeof e1),
		       (unsigned)(PENDING_MAX_NS / 1000000u));
		reject_to(gw, p->sender, p->endpoint, p->type, p->receiver, why);
	} else if (rc) {
		char e1[ESC_CAP];
		gw->undeliverable++;
		log_rl(gw, RL_FRAME, "envelope for '%s' undeliverable: %s", esc(p->receiver, e1, sizeof e1),
		       act_strerror(rc));
	} else if (p->group < ACT__MAX_PARTS) {
		gw->stalled[p->group] = false;
	}
	pend_free(p);
	return true;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/*
 * A CURVE client whose key is a peer's server key advertised endpoint ep:
 * remember it, so that what we send there is encrypted for that peer.  A
 * plain socket we already hold for ep is dropped (made again with CURVE).
 */
static void learn_key(struct act__gateway *gw, const char *endpoint)
{
	const struct act__registry *reg = &gw->n->reg;
	char ep[ACT__ENDPOINT_MAX + 1];
	uint32_t k;

	for (k = 0; k < reg->n_peers; k++)
		if (reg->peers[k].server_key[0] && !strcmp(reg->peers[k].server_key, gw->cur_key))
			break;
	if (k == reg->n_peers || !endpoint_ok(endpoint) ||
	    act__wire_normalize_endpoint(endpoint, ep, sizeof ep))
		return;
	const struct act__peer_def *known = configured(gw, ep);
	if (known == &reg->peers[k])
		return; /* the common case: written in the app file, or learned */
	if (known)
		return; /* another peer's endpoint: the app file wins */
	uint32_t slot = gw->n_learned < 64 ? gw->n_learned++ : gw->next_learned++ % 64;
	snprintf(gw->learned[slot].endpoint, sizeof gw->learned[slot].endpoint, "%s", ep);
	gw->learned[slot].peer = k;
	for (uint32_t i = 0; i < gw->n_peers; i++)
		if (!strcmp(gw->peers[i].endpoint, ep) && !gw->peers[i].curve) {
			peer_drop(gw, i);
			break;
		}
	char e1[ESC_CAP];
	act__info("gateway: %s is peer '%s' (its CURVE key): replies there are encrypted",
	          esc(ep, e1, sizeof e1), reg->peers[k].name);
}

/* Rings the doorbells still owed for this batch (see bell_due()). */
static void bell_flush(struct act__gateway *gw)
{
	for (uint32_t i = 0; i < gw->n_bell; i++) {
		uint32_t g = gw->bell_list[i];
		if (gw->bell_due[g])
			act__node_ring_group(gw->n, g);
		gw->bell_due[g] = 0;
		gw->bell_listed[g] = false;
	}
	gw->n_bell = 0;
}

/*
 * Notes a record for group g.  The first of a batch rings at once: a lone
 * frame (a request waiting for its answer) must not wait for the recv
 * that finds the socket empty, which costs system calls.  The next ones
 * ring every BELL_EVERY frames and at bell_flush().
 */
static void bell_due(struct act__gateway *gw, uint32_t g)
{
	if (!gw->bell_listed[g]) {
		gw->bell_listed[g] = true;
		gw->bell_list[gw->n_bell++] = g;
		act__node_ring_group(gw->n, g);
		return;
	}
	if (++gw->bell_due[g] >= BELL_EVERY) {
		act__node_ring_group(gw->n, g);
		gw->bell_due[g] = 0;
	}
}

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
		char e1[ESC_CAP], e2[ESC_CAP], e3[ESC_CAP];
		gw->malformed[e]++;
		/* The reason never holds peer data; the sender does, escaped. */
		log_rl(gw, RL_FRAME, "malformed frame (%s, %zu bytes) from %s at %s: %s%s",
		       act__wire_err_name(e), len,
		       env.sender_actor ? esc(env.sender_actor, e1, sizeof e1) : "(anonymous)",
		       env.sender_endpoint ? esc(env.sender_endpoint, e2, sizeof e2) : "(unknown)",
		       esc(err, e3, sizeof e3),
		       env.sender_actor && env.sender_endpoint ? "; rejected" : "");
		snprintf(why, sizeof why, "Malformed envelope: %s", err);
		reject(gw, &env, why);
		return;
	}
	if (!strcmp(env.message_type, "Reject"))
		gw->rejects_received++;
	if (gw->cur_key && env.sender_endpoint)
		learn_key(gw, env.sender_endpoint);
	if (act__rask_inbound(gw->rask, &env))
		return; /* an answer to one of our remote asks */
	/* A declared actor, or a named spawned one (reachable if its
	 * behaviour says remote: true). */
	/* "topic:NAME": published to the members of a remote topic; any
	 * other topic is an unknown actor (below). */
	uint32_t t_reached, t_refused;
	if (!strncmp(env.receiver, "topic:", 6) &&
	    act__node_publish_json(gw->n, env.receiver + 6, env.message_type, env.message_text,
	                           env.message_len, env.sender_actor, env.sender_endpoint,
	                           &t_reached, &t_refused) == 0)
		return;
	struct act__target tgt;
	int id = act__node_resolve(gw->n, env.receiver, &tgt) ? -1 : 0;
	bool can_reach = id >= 0 && (gw->all_remote || tgt.remote);
	bool routed = id >= 0 && !can_reach && route_open(gw, env.receiver, env.sender_endpoint);
	if (routed)
		gw->reply_routed++;
	if (id < 0 || !(can_reach || routed)) {
		/* An actor that is not reachable from the network looks exactly
		 * like one that does not exist. */
		char e1[ESC_CAP], e2[ESC_CAP];
		gw->unknown_receiver++;
		log_rl(gw, RL_FRAME, "envelope for unknown actor '%s' from %s rejected",
		       esc(env.receiver, e1, sizeof e1),
		       env.sender_endpoint ? esc(env.sender_endpoint, e2, sizeof e2) : "(unknown)");
		snprintf(why, sizeof why, "Actor '%.200s' not found", env.receiver);
		reject(gw, &env, why);
		return;
	}
	if (env.number_overflow) {
		char e1[ESC_CAP];
		gw->undeliverable++;
		snprintf(why, sizeof why, "Cannot deliver to '%.64s': a number is out of range",
		         env.receiver);
		log_rl(gw, RL_FRAME, "envelope for '%s' undeliverable: a number is out of range",
		       esc(env.receiver, e1, sizeof e1));
		reject(gw, &env, why);
		return;
	}
	/* Resolved once: an actor of a pool goes to the member it picks. */
	act__node_pool_pick(gw->n, &tgt, env.message_text, env.message_len);
	uint32_t group = tgt.group;
	int rc = act__node_inject_quiet(gw->n, &tgt, env.message_type, env.message_text,
	                                env.message_len, env.sender_actor, env.sender_endpoint,
	                                ACT__PEER_REMOTE, 0, 0);
	if (rc == 0) {
		gw->stalled[group] = false;
		bell_due(gw, group);
	}
	if (rc == ACT_EFULL && gw->stalled[group]) {
		char e1[ESC_CAP];
		gw->rejected_full++;
		snprintf(why, sizeof why, "Actor '%.64s' is not keeping up (its queue is full)",
		         env.receiver);
		log_rl(gw, RL_FRAME, "actor '%s' is not keeping up (its queue is full): envelope rejected",
		       esc(env.receiver, e1, sizeof e1));
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
			char e1[ESC_CAP];
			gw->undeliverable++;
			pend_free(p);
			log_rl(gw, RL_FRAME, "envelope for '%s' dropped: out of memory",
			       esc(env.receiver, e1, sizeof e1));
			reject(gw, &env, "Cannot deliver: out of memory");
		}
	} else if (rc) {
		char e1[ESC_CAP];
		gw->undeliverable++;
		snprintf(why, sizeof why, "Cannot deliver to '%.64s': %s", env.receiver,
		         act_strerror(rc));
		log_rl(gw, RL_FRAME, "envelope for '%s' undeliverable: %s", esc(env.receiver, e1, sizeof e1),
		       act_strerror(rc));
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
		char z85[41] = "";
		if (nf >= 7 && zmq_msg_size(&f[5]) == 5 && !memcmp(zmq_msg_data(&f[5]), "CURVE", 5) &&
		    zmq_msg_size(&f[6]) == 32) {
			zmq_z85_encode(z85, zmq_msg_data(&f[6]), 32);
			ok = gw->n_allow == 0;
			for (uint32_t i = 0; i < gw->n_allow && !ok; i++)
				ok = !strcmp(gw->allow[i], z85);
			if (!ok)
				log_rl(gw, RL_CONN, "CURVE client %s refused (not on the allow-list)", z85);
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
			/* User-Id: the client's key, which maps a frame to a peer. */
			zmq_send(gw->zap, z85, ok ? strlen(z85) : 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
			zmq_send(gw->zap, "", 0, ZMQ_DONTWAIT);
		}
		for (int i = 0; i < nf; i++)
			zmq_msg_close(&f[i]);
	}
}

/* The address of the TCP peer on fd, or "" (not TCP, or already gone). */
static void peer_addr(int fd, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char host[INET6_ADDRSTRLEN];

	out[0] = '\0';
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
		if (inet_ntop(AF_INET, &a->sin_addr, host, sizeof host))
			snprintf(out, cap, "%s:%u", host, ntohs(a->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
		if (inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host))
			snprintf(out, cap, "[%s]:%u", host, ntohs(a->sin6_port));
	}
}

/*
 * Connection events of the PULL socket.  ZeroMQ drops the connection of a
 * peer that sends a frame beyond ZMQ_MAXMSGSIZE (2 x max_frame) without
 * handing us anything, and says no more than "disconnected": so every
 * disconnect is counted and logged with the peer's address, which is the
 * only trace such a frame leaves.
 */
static void pump_monitor(struct act__gateway *gw)
{
	for (;;) {
		uint32_t ev = 0;
		size_t sz = sizeof ev;
		zmq_msg_t m;
		uint16_t event = 0;
		uint32_t value = 0;

		if (zmq_getsockopt(gw->mon, ZMQ_EVENTS, &ev, &sz) < 0 || !(ev & ZMQ_POLLIN))
			return;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, gw->mon, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		if (zmq_msg_size(&m) >= 6) {
			memcpy(&event, zmq_msg_data(&m), 2);
			memcpy(&value, (const char *)zmq_msg_data(&m) + 2, 4);
		}
		while (zmq_msg_more(&m)) {  /* the endpoint frame */
			zmq_msg_close(&m);
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, gw->mon, ZMQ_DONTWAIT) < 0)
				break;
		}
		zmq_msg_close(&m);
		if (event == ZMQ_EVENT_ACCEPTED) {
			gw->connections++;
			uint32_t k = gw->n_conns < 64 ? gw->n_conns++ : (uint32_t)(gw->connections % 64);
			gw->conns[k].fd = (int)value;
			peer_addr((int)value, gw->conns[k].addr, sizeof gw->conns[k].addr);
		} else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
		           event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
		           event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
			/* A client with a wrong server key, no CURVE, or refused by
			 * the allow-list (then auth_denied counts it too). */
			gw->hs_failed_in++;
			log_rl(gw, RL_CONN, "a client's handshake failed (%s, %u)",
			       event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "not allowed" :
			       event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol: wrong server key?" :
			       "no detail", (unsigned)value);
		} else if (event == ZMQ_EVENT_DISCONNECTED) {
			const char *addr = "an unknown peer";
			gw->disconnects++;
			for (uint32_t k = 0; k < gw->n_conns; k++)
				if (gw->conns[k].fd == (int)value) {
					if (gw->conns[k].addr[0])
						addr = gw->conns[k].addr;
					gw->conns[k] = gw->conns[--gw->n_conns];
					break;
				}
			log_rl(gw, RL_CONN, "connection from %s closed (by the peer, or because it sent a "
			       "frame over %zu bytes, which is never received)", addr,
			       gw->lim.max_frame * 2);
		}
	}
}

/*
 * Reads the PULL socket: every frame ZeroMQ has ready, up to PUMP_BATCH,
 * without asking ZMQ_EVENTS first (each ask is two system calls); the
 * recv that finds nothing is the one that re-arms ZMQ_FD.  The doorbells
 * of the groups that got frames ring once at the end (bell_flush()).
 */
static void pump_pull(struct act__gateway *gw)
{
	zmq_msg_t m;

	zmq_msg_init(&m);
	for (unsigned k = 0; k < PUMP_BATCH; k++) {
		if (gw->pend.set && !pend_retry(gw))
			goto out; /* still full: leave the rest queued in ZeroMQ */
		if (zmq_msg_recv(&m, gw->pull, ZMQ_DONTWAIT) < 0) {
			/* EAGAIN: drained, ZMQ_FD is armed again; anything else
			 * (ETERM at shutdown) leaves nothing to read either. */
			gw->pull_ready = false;
			goto out;
		}
		/* The ZAP handler made the client's key its User-Id (CURVE only). */
		gw->cur_key = gw->zap ? zmq_msg_gets(&m, "User-Id") : NULL;
		handle_frame(gw, zmq_msg_data(&m), zmq_msg_size(&m));
		gw->cur_key = NULL;
	}
	/* Frames may be left: the edge-triggered fd will not say so again. */
	gw->more = true;
out:
	zmq_msg_close(&m);
	bell_flush(gw);
}

void act__gw_pump(struct act__gateway *gw)
{
	if (gw->mon && gw->mon_ready) {
		gw->mon_ready = false;
		pump_monitor(gw);
	}
	pump_peer_monitors(gw);
	if (gw->queues_left)
		gw->queues_left = flush_queues(gw);
	act__rask_pump(gw->rask);
	act__peers_check(gw, gw->watches);
	if (gw->zap && gw->zap_ready) {
		gw->zap_ready = false;
		pump_zap(gw);
	}
	gw->more = false;
	if (gw->pull_ready || gw->pend.set)
		pump_pull(gw);
}

bool act__gw_busy(const struct act__gateway *gw)
{
	return gw->pend.set || gw->queues_left || act__rask_busy(gw->rask);
}

bool act__gw_needs_tick(const struct act__gateway *gw)
{
	if (act__gw_busy(gw) || gw->more || act__rask_live(gw->rask) ||
	    act__peers_watching(gw->watches))
		return true;
	/* Pinned peers and strangers still in their handshake keep a monitor
	 * socket, read by pump_peer_monitors() each turn. */
	for (uint32_t i = 0; i < gw->n_peers; i++)
		if (gw->peers[i].mon)
			return true;
	return false;
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
	gw->pull_ready = true; /* read by the pump at the end of this loop turn */
}

static void on_zap(struct act__evh *h, int res)
{
	struct act__gateway *gw = act__container_of(h, struct act__gateway, zap_evh);
	(void)res;
	gw->zap_armed = false;
	gw->zap_ready = true;
}

static void on_mon(struct act__evh *h, int res)
{
	struct act__gateway *gw = act__container_of(h, struct act__gateway, mon_evh);
	(void)res;
	gw->mon_armed = false;
	gw->mon_ready = true;
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
	if (gw->mon && !gw->mon_armed) {
		act__loop_poll(&gw->n->loop, &gw->mon_evh, gw->mon_fd, POLLIN);
		gw->mon_armed = true;
	}
}

const char *act__gw_advertise(const struct act__gateway *gw) { return gw->advertise; }

struct act__rask *act__gw_rask(struct act__gateway *gw) { return gw->rask; }
struct act__watches *act__gw_watches(struct act__gateway *gw) { return gw->watches; }
struct act_node *act__gw_node(struct act__gateway *gw) { return gw->n; }
bool act__gw_watching(const struct act__gateway *gw) { return act__peers_watching(gw->watches); }

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
	cJSON_AddNumberToObject(g, "dropped_stalled", (double)gw->dropped_stalled);
	cJSON_AddNumberToObject(g, "reject_send_failed", (double)gw->reject_send_failed);
	cJSON_AddNumberToObject(g, "peers_refused", (double)gw->peers_refused);
	cJSON_AddNumberToObject(g, "strangers", gw->n_strangers);
	cJSON_AddNumberToObject(g, "reply_routed", (double)gw->reply_routed);
	cJSON_AddNumberToObject(g, "reply_routes", gw->n_routes);
	cJSON_AddNumberToObject(g, "connections", (double)gw->connections);
	cJSON_AddNumberToObject(g, "disconnects", (double)gw->disconnects);
	cJSON_AddNumberToObject(g, "handshakes_failed_in", (double)gw->hs_failed_in);
	cJSON_AddNumberToObject(g, "handshakes_failed_out", (double)gw->hs_failed_out);
	act__rask_status(gw->rask, g);
	act__peers_status(gw->watches, g);
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
		cJSON_AddBoolToObject(o, "stalled", p->stalled);
		cJSON_AddNumberToObject(o, "dropped_stalled", (double)p->dropped_stalled);
		cJSON_AddBoolToObject(o, "connected", p->proven || p->state == PEER_UP);
		cJSON_AddBoolToObject(o, "configured", p->pinned);
		cJSON_AddBoolToObject(o, "curve", p->curve);
		if (p->mon_full) {
			static const char *const names[] = { "connecting", "up", "down" };
			uint64_t now = act__now_ns();
			cJSON_AddStringToObject(o, "state", names[p->state]);
			cJSON_AddNumberToObject(o, "handshakes", (double)p->handshakes);
			cJSON_AddNumberToObject(o, "handshakes_failed", (double)p->hs_failed);
			/* -1: never up */
			cJSON_AddNumberToObject(o, "last_up_ms_ago", p->last_up_ns ?
			                        (double)((now - p->last_up_ns) / 1000000u) : -1.0);
		}
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
	/* Read everything once: an fd only says what changes after that. */
	gw->pull_ready = gw->mon_ready = gw->zap_ready = true;
	gw->n = n;
	gw->pull_evh.fn = on_pull;
	gw->zap_evh.fn = on_zap;
	gw->mon_evh.fn = on_mon;
	gw->lim = cfg->limits;
	gw->all_remote = cfg->all_remote;
	if (cfg->curve_secret && cfg->curve_public) {
		snprintf(gw->curve_secret, sizeof gw->curve_secret, "%s", cfg->curve_secret);
		snprintf(gw->curve_public, sizeof gw->curve_public, "%s", cfg->curve_public);
	}
	gw->pull_fd = gw->zap_fd = gw->mon_fd = -1;
	gw->peers = calloc(MAX_PEERS, sizeof *gw->peers);
	gw->routes = calloc(MAX_ROUTES, sizeof *gw->routes);
	gw->rask = act__rask_new(n);
	gw->watches = act__watches_new();
	gw->ctx = zmq_ctx_new();
	if (!gw->peers || !gw->routes || !gw->rask || !gw->watches || !gw->ctx) {
		*err = -ENOMEM;
		goto fail;
	}
	/* One I/O thread is plenty; the context's threads exist only in the
	 * supervisor, created after the zygote forked (no worker inherits). */
	zmq_ctx_set(gw->ctx, ZMQ_IO_THREADS, 1);
	/* Peers, the two sockets of each stranger's monitor, ours, and room
	 * for the closed strangers the reaper has not finished yet. */
	zmq_ctx_set(gw->ctx, ZMQ_MAX_SOCKETS, (int)(MAX_PEERS + 4 * MAX_STRANGERS) + 64);
	gw->pull = zmq_socket(gw->ctx, ZMQ_PULL);
	if (!gw->pull) {
		*err = -errno;
		goto fail;
	}
	v = LINGER_MS;
	zmq_setsockopt(gw->pull, ZMQ_LINGER, &v, sizeof v);
	v = RCVHWM;
	zmq_setsockopt(gw->pull, ZMQ_RCVHWM, &v, sizeof v);
	/* Frames up to twice the limit reach the parser (counted as too_big,
	 * answered with a Reject from their head); anything larger makes
	 * ZeroMQ drop the connection, which the monitor counts and logs. */
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
	/* Without the monitor only the disconnect counters are lost. */
	if (zmq_socket_monitor(gw->pull, "inproc://actors.gateway.monitor",
	                       ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
	                       ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	                       ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	                       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0) {
		gw->mon = zmq_socket(gw->ctx, ZMQ_PAIR);
		fdl = sizeof gw->mon_fd;
		if (!gw->mon || zmq_connect(gw->mon, "inproc://actors.gateway.monitor") < 0 ||
		    zmq_getsockopt(gw->mon, ZMQ_FD, &gw->mon_fd, &fdl) < 0) {
			act__warn("gateway: no connection monitor: %s", zmq_strerror(errno));
			if (gw->mon)
				zmq_close(gw->mon);
			gw->mon = NULL;
			zmq_socket_monitor(gw->pull, NULL, 0);
		}
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
	act__rask_free(gw->rask);
	act__watches_free(gw->watches);
	for (uint32_t i = 0; gw->peers && i < gw->n_peers; i++)
		peer_close(&gw->peers[i]);
	if (gw->pull && gw->mon)
		zmq_socket_monitor(gw->pull, NULL, 0);
	if (gw->mon)
		zmq_close(gw->mon);
	if (gw->pull)
		zmq_close(gw->pull);
	if (gw->zap)
		zmq_close(gw->zap);
	if (gw->ctx)
		zmq_ctx_term(gw->ctx);
	free(gw->peers);
	free(gw->routes);
	free(gw->allow);
	explicit_bzero(gw->curve_secret, sizeof gw->curve_secret);
	free(gw);
}
