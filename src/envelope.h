/* SPDX-License-Identifier: MIT */
/*
 * envelope.h - private: the one writer of envelope headers, and the JSON
 * trailer of envelopes for parties outside the node's workers (remote
 * peers through the gateway, actorsctl clients through the control
 * socket).  The format itself (struct act__env, struct act__jt, the
 * special routing values) is in layout.h.
 */
#ifndef ACT_ENVELOPE_H
#define ACT_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "stats.h"

/* The routing fields of an envelope; fields left out of an initialiser are 0. */
struct act__route {
	uint32_t type;      /* message type id, or control code */
	uint32_t to;
	uint32_t from;      /* sender actor id + 1, or participant for control */
	uint32_t from_peer;
	uint64_t corr;
	uint16_t flags;     /* ACT__ENV_* */
	uint32_t to_gen;    /* generations of spawned actors' refs (0: static) */
	uint32_t from_gen;
};

/*
 * Writes the header of a record of kind (ACT__REC_MSG or ACT__REC_CTRL)
 * and len bytes in all, reserved in a ring, from r.  Every envelope header
 * in the node is written here.  Inline: it is on every send.
 */
static inline void act__env_write(struct act__env *e, uint16_t kind, uint32_t len,
                                  const struct act__route *r)
{
	e->rec.len = len;
	e->rec.kind = kind;
	e->rec.flags = r->flags;
	e->type = r->type;
	e->to = r->to;
	e->from = r->from;
	e->from_peer = r->from_peer;
	e->corr = r->corr;
	e->to_gen = r->to_gen;
	e->from_gen = r->from_gen;
	/* The send time, on one envelope in act__stats_period (stats.h). */
	e->sent_ns = act__stats_stamp();
}

/* Bytes of the whole record (header + trailer) for these strings. */
size_t act__jenv_size(size_t peer_len, size_t ep_len, size_t type_len, size_t json_len);

/*
 * Writes a whole JSON envelope at e (which has room for act__jenv_size()
 * bytes): the header from r, with ACT__ENV_JSON added and type 0, then the
 * trailer.  peer and endpoint may be NULL (empty).
 */
void act__jenv_write(struct act__env *e, const struct act__route *r, const char *peer,
                     const char *endpoint, const char *type, const char *json, size_t json_len);

/* A parsed trailer: pointers into the record, each NUL-terminated. */
struct act__jview {
	const char *peer, *endpoint, *type, *json;
	uint32_t peer_len, endpoint_len, type_len, json_len;
};

/*
 * Parses and bounds-checks the trailer of record e (len bytes in all).
 * Returns 0 or -EPROTO; never reads outside [e, e + len).
 */
int act__jenv_parse(const struct act__env *e, uint32_t len, struct act__jview *v);

#endif
