/*
 * envelope.h - private: envelopes that carry JSON instead of a packed
 * struct, for senders and receivers outside this node's workers (remote
 * peers through the gateway, actorsctl clients through the control socket).
 *
 * Such an envelope (ACT__REC_MSG with ACT__ENV_JSON) carries after the
 * act__env header a trailer naming the party outside the node, the type by
 * name, and the message as JSON text:
 *
 *   struct act__jt | peer name \0 | endpoint \0 | type name \0 | json \0
 *
 * Inbound (supervisor -> worker) `peer` is the sender; outbound (worker ->
 * supervisor, act__env.to == ACT__TO_OUTSIDE) it is the receiver.  An empty
 * endpoint means "a local client" (actorsctl), matched by act__env.corr.
 */
#ifndef ACT_ENVELOPE_H
#define ACT_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"

#define ACT__TO_OUTSIDE 0xffffffffu  /* act__env.to of an outbound envelope */
#define ACT__PEER_CLIENT 0xfffffffeu /* act__env.from_peer of a client's envelope */
#define ACT__NAME_MAX 255u           /* longest actor / type name on the wire */
#define ACT__ENDPOINT_MAX 255u

struct act__jt {
	uint16_t peer_len;
	uint16_t endpoint_len;
	uint16_t type_len;
	uint16_t reserved;
	uint32_t json_len;
	uint32_t reserved2;
};

/* A parsed trailer: pointers into the record, each NUL-terminated. */
struct act__jview {
	const char *peer, *endpoint, *type, *json;
	uint32_t peer_len, endpoint_len, type_len, json_len;
};

/* Bytes of the whole record (header + trailer) for these strings. */
size_t act__jenv_size(size_t peer_len, size_t ep_len, size_t type_len, size_t json_len);

/*
 * Fills the trailer after e (which has room for act__jenv_size bytes) and
 * sets e->rec.len.  The caller sets the other header fields.
 */
void act__jenv_fill(struct act__env *e, const char *peer, const char *endpoint,
                    const char *type, const char *json, size_t json_len);

/*
 * Parses and bounds-checks the trailer of record e (len bytes in all).
 * Returns 0 or -EPROTO; never reads outside [e, e + len).
 */
int act__jenv_parse(const struct act__env *e, uint32_t len, struct act__jview *v);

#endif
