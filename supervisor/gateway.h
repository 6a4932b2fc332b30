/* SPDX-License-Identifier: MIT */
/*
 * gateway.h - private: the ZeroMQ gateway of a node (DESIGN §7,
 * shared/PROTOCOL.md).
 *
 * One PULL socket bound at the node's endpoint, one cached PUSH socket per
 * remote endpoint, all owned by the supervisor's single thread and waited
 * on through their ZMQ_FDs in the node's io_uring loop.  Inbound frames are
 * checked (src/wire.c) and handed, still JSON, to the receiver's group ring;
 * the worker decodes them with the type's codec.  Nothing here blocks: a
 * full peer or a full ring turns into backpressure.
 *
 * Every refused frame is counted and logged (rate-limited, peer text
 * escaped), and answered with an anonymous Reject when its sender fields
 * could be read.  Endpoints a frame names cost a socket only within a
 * budget: until a handshake shows a real peer there, an endpoint is a
 * stranger that can only evict other strangers.  A local actor that is
 * not remote: true is reachable from the endpoints it sent to lately (its
 * replies), from nowhere else.
 */
#ifndef ACT_GATEWAY_H
#define ACT_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "wire.h"

struct act_node;
struct act__gateway;

struct act__gw_config {
	const char *endpoint;     /* bind, e.g. tcp://127.0.0.1:5001 */
	const char *advertise;    /* sender_endpoint we put in envelopes; NULL: derived */
	struct act__wire_limits limits;
	/* CURVE (optional): Z85 keys, 40 chars each */
	const char *curve_secret;
	const char *curve_public;
	const char (*curve_allow)[41];
	uint32_t n_curve_allow;   /* 0: any client that knows our public key */
	bool all_remote;          /* every actor reachable (embedded default) */
};

/* Creates the context and binds the PULL socket.  NULL + *err on failure. */
struct act__gateway *act__gw_new(struct act_node *n, const struct act__gw_config *cfg, int *err);
void act__gw_free(struct act__gateway *gw);

/* The endpoint peers should reply to (what we advertise). */
const char *act__gw_advertise(const struct act__gateway *gw);
/* The table of outstanding remote asks (remote-ask.h). */
struct act__rask *act__gw_rask(struct act__gateway *gw);
/* The watches on remote peers (peers.h), and the node. */
struct act__watches *act__gw_watches(struct act__gateway *gw);
struct act_node *act__gw_node(struct act__gateway *gw);
/* True while remote refs are monitored: the loop comes back within 50 ms
 * to see whether a peer has been down for its peer_down_ms. */
bool act__gw_watching(const struct act__gateway *gw);

/* Arms polls on the sockets' ZMQ_FDs through the node's loop; their
 * events come back to this file and pump the sockets. */
void act__gw_arm(struct act__gateway *gw);
/* A ZMQ_FD became readable (or the loop turned): drain inbound frames. */
void act__gw_pump(struct act__gateway *gw);
/* True if the gateway holds work it must retry soon (full ring / peer). */
bool act__gw_busy(const struct act__gateway *gw);
/* True if the last pump stopped at its batch limit: more frames wait now. */
bool act__gw_more(const struct act__gateway *gw);
/* True if the gateway has something only a periodic look sees: peer
 * monitor sockets (not polled through the loop), remote asks to retire,
 * work to retry.  An idle gateway is woken by its sockets' fds alone. */
bool act__gw_needs_tick(const struct act__gateway *gw);

/*
 * Sends an envelope to `peer` at endpoint (sender_actor = from).  0,
 * ACT_EFULL when the peer's queue is full (keep the record, retry later),
 * or another negative code (the envelope is dropped and counted).
 */
int act__gw_send(struct act__gateway *gw, const char *peer, const char *endpoint,
                 const char *type, const char *json, size_t json_len, const char *from);

/*
 * For a watch on endpoint's peer (supervisor/peers.c): makes sure a socket
 * to it exists and reports its state changes, and says for how long it
 * has not been up (0: up now) and its peer_down_ms.  0 or a negative code
 * (the endpoint cannot be used, no socket for it).
 */
#define ACT__PEER_DOWN_MS_DEFAULT 3000u
int act__gw_peer_state(struct act__gateway *gw, const char *endpoint, uint64_t *down_for_ns,
                       uint32_t *down_ms);

/* Adds the gateway's counters to a status object. */
void act__gw_status(const struct act__gateway *gw, cJSON *out);

#endif
