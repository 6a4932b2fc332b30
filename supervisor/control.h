/*
 * control.h - private: the control socket server of a node (actorsctl).
 *
 * Speaks doc/control-protocol.md: one JSON request line per connection,
 * one JSON answer line.  Runs inside the supervisor's loop: its fds are
 * polled through the node's io_uring, requests that wait (ask, restart)
 * are answered later from the loop, and nothing here ever blocks for
 * long (answers are written with a short send timeout).
 */
#ifndef ACT_CONTROL_H
#define ACT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct act_node;
struct act__ctl;
struct act__ctl_conn;

/* Binds path (mode 0600; a stale socket file is replaced).  NULL + *err on failure. */
struct act__ctl *act__ctl_new(struct act_node *n, const char *path, int *err);
/* Closes every connection and removes the socket file.  NULL-safe. */
void act__ctl_free(struct act__ctl *c);

/* Arms polls (through the node's loop) for the listener and the
 * connections that wait for input; their events come back to this file. */
void act__ctl_arm(struct act__ctl *c);
/* Expires requests whose deadline passed. */
void act__ctl_tick(struct act__ctl *c, uint64_t now_ns);

/* An outbound envelope for a client arrived: answers the ask with this
 * correlation id.  Returns false if no client waits for it. */
bool act__ctl_reply(struct act__ctl *c, uint64_t corr, const char *type,
                    const char *json, size_t json_len);
/* A restart the client waits for finished (ok) or failed (why). */
void act__ctl_group_ready(struct act__ctl *c, struct act__ctl_conn *conn, bool ok,
                          const char *why);

#endif
