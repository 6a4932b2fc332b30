/* SPDX-License-Identifier: MIT */
/*
 * remote-ask.h - private: the gateway's table of outstanding remote asks
 * (act_ask() to a remote ref).
 *
 * The family's wire protocol has no correlation id, and we add no
 * required field: each remote ask leaves under a sender name of its own,
 * "<asker>~ask-<seq>.<token>" (token: 64 random bits, so that a peer
 * cannot complete another's ask by guessing).  A peer answers that name
 * like any sender; the first envelope that comes back to it - a reply or
 * the family's anonymous Reject, which is addressed to the rejected
 * envelope's sender_actor, i.e. to this very name - goes to the asker's
 * group as a REPLY envelope with the ask's correlation id, and the name is
 * retired.  It is retired as well when the ask's timeout passes; what
 * comes to it later is a late reply, counted (asks.late and the node's
 * dead letters), never delivered and never rejected.
 */
#ifndef ACT_REMOTE_ASK_H
#define ACT_REMOTE_ASK_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "envelope.h"
#include "wire.h"

struct act_node;
struct act__gateway;
struct act__rask;

/* The table of node n; NULL on OOM (remote asks then fail with a Reject). */
struct act__rask *act__rask_new(struct act_node *n);
void act__rask_free(struct act__rask *r);

/*
 * An ask envelope (flag ASK) from participant `group`, for outside the
 * node: names it, records it and sends it through gw.  Returns 0 when it
 * was sent or answered at once with a Reject (no room in the table, a
 * peer that cannot be reached: the asker's callback gets ACT_EREJECTED
 * with the reason), ACT_EFULL when the peer's queue is full (nothing was
 * recorded: retry), or another negative code (the envelope is dropped).
 */
int act__gw_ask(struct act__gateway *gw, uint32_t group, const struct act__env *e,
                const struct act__jview *jv, const char *from_name);

/*
 * An inbound envelope: true if its receiver is an ask name (then it was
 * delivered, queued for a full ring, or counted as late), false if it is
 * for an ordinary actor.
 */
bool act__rask_inbound(struct act__rask *r, const struct act__wire_view *env);

/*
 * Writes a JSON envelope from the network (sender at endpoint) straight
 * to actor (id, generation gen) of participant group, with flags and
 * corr: 0, ACT_EFULL (nothing written), -ENOENT, -EMSGSIZE.
 */
int act__gw_inject_json(struct act_node *n, uint32_t group, uint32_t actor, uint32_t gen,
                        uint16_t flags, uint64_t corr, const char *sender, const char *endpoint,
                        const char *type, const char *json, size_t json_len);

/* Retries replies held for full rings and retires timed-out names. */
void act__rask_pump(struct act__rask *r);
/* True while replies wait for ring space (the loop should come back soon). */
bool act__rask_busy(const struct act__rask *r);
/* Remote asks waiting for their reply (their names retire at the sweep). */
uint32_t act__rask_live(const struct act__rask *r);
/* Adds {"asks": {...}} to a gateway status object. */
void act__rask_status(struct act__rask *r, cJSON *gw_status);

#endif
