/* SPDX-License-Identifier: MIT */
/*
 * control.h - private: the control socket server of a node (actorsctl).
 *
 * Speaks doc/control-protocol.md: one JSON request line per connection,
 * one JSON answer line.  Runs inside the supervisor's loop: its fds are
 * polled through the node's io_uring, requests that wait (ask, send, restart)
 * are answered later from the loop, and nothing here ever blocks: an
 * answer is buffered and written whenever the socket is writable, and
 * every connection has a deadline.
 */
#ifndef ACT_CONTROL_H
#define ACT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"

/* The "schema_version" of the status answer (doc/control-protocol.md). */
#define ACT__STATUS_SCHEMA_VERSION 1

struct act_node;
struct act__ctl;
struct act__ctl_conn;

/*
 * May a node serve its control socket at path?  0 if nothing is there, or
 * a socket file nobody listens on (a dead node's, which act__ctl_new()
 * replaces).  Otherwise a negative errno and a one-line reason in why:
 * -ENOTSOCK (something else than a socket is there: never removed),
 * -EADDRINUSE (a process listens on it, even a frozen one), or the error
 * that stopped the check.  Never blocks; any process (actorsd checks
 * before it starts the node, to report a permanent error).
 */
ACT__SHARED int act__ctl_check_path(const char *path, char *why, size_t why_cap);

/* Binds path (mode 0600) after act__ctl_check_path() allowed it, replacing
 * a stale socket file.  NULL + *err on failure. */
struct act__ctl *act__ctl_new(struct act_node *n, const char *path, int *err);
/* Closes every connection and removes the socket file if it is still the
 * one bound.  NULL-safe. */
void act__ctl_free(struct act__ctl *c);

/*
 * Before an upgrade: stop accepting (clients wait in the listen backlog,
 * which crosses exec with the socket).  True once no accepted connection
 * is left (each is served to its end first).
 * NULL-safe.
 */
bool act__ctl_pause(struct act__ctl *ctl);

/* The listening socket's fd (for an upgrade to hand over), or -1. */
int act__ctl_listen_fd(const struct act__ctl *ctl);

/* Arms polls (through the node's loop) for the listener and the
 * connections that wait for input or for room to write their answer;
 * their events come back to this file. */
void act__ctl_arm(struct act__ctl *c);
/* Decides waiting sends and expires requests whose deadline passed. */
void act__ctl_tick(struct act__ctl *c, uint64_t now_ns);
/* True while act__ctl_tick() has work to poll (a connection open,
 * rejections not yet logged): the loop then keeps its short tick.  Sends
 * already answered "queued" need no tick (their Reject rings a doorbell).
 * NULL-safe. */
bool act__ctl_busy(const struct act__ctl *c);
/* A client waits to hear that its send was taken: nothing signals that
 * (the worker does not ring us per envelope), so the loop looks soon. */
bool act__ctl_waiting_send(const struct act__ctl *c);

/* An outbound envelope for a client arrived: answers the ask with this
 * correlation id, or the send it rejects (then kept as a dead letter).
 * Returns false if no client waits for it. */
/* The envelope of a client's send or ask (corr) became dead letter id
 * (-1: not stored): a waiting ask is answered so, a queued send forgotten. */
void act__ctl_dead_letter(struct act__ctl *c, uint64_t corr, int64_t id);
bool act__ctl_reply(struct act__ctl *c, uint64_t corr, const char *type,
                    const char *json, size_t json_len);
/* A restart the client waits for finished (ok) or failed (why). */
/* Answers a waiting actorsctl reload: ok with a summary, or the reason it
 * failed.  Ignored if c no longer waits (it timed out or went away). */
ACT__SHARED void act__ctl_reload_done(struct act__ctl *c, struct act__ctl_conn *conn, bool ok,
                          const char *text);
void act__ctl_group_ready(struct act__ctl *c, struct act__ctl_conn *conn, bool ok,
                          const char *why);

/*
 * The node's metrics as OpenMetrics text (metrics.h), per-actor families
 * included: what `actorsctl metrics` and the HTTP endpoint serve.  A
 * malloc'd string, or NULL on OOM.  Supervisor thread; never blocks.
 */
char *act__ctl_metrics_text(struct act_node *n);

#endif
