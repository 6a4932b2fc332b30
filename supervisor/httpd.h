/* SPDX-License-Identifier: MIT */
/*
 * httpd.h - private: the optional metrics endpoint, a plain HTTP/1.0
 * listener on the supervisor's io_uring loop serving GET /metrics.
 */
#ifndef ACT_HTTPD_H
#define ACT_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>


struct act_node;
struct act__httpd;

/* Binds and listens (non-blocking).  NULL with *err set on failure
 * (logged).  Supervisor thread. */
struct act__httpd *act__httpd_new(struct act_node *n, const char *spec, int *err);
/* Closes the listener and every connection.  NULL-safe. */
void act__httpd_free(struct act__httpd *h);
/* Arms the polls the listener and the connections need now (each turn of the loop). */
void act__httpd_arm(struct act__httpd *h);
/* Expires connections past their deadline (each turn of the loop). */
void act__httpd_tick(struct act__httpd *h, uint64_t now_ns);
/* True while a connection is open (its deadline is polled by the tick).
 * NULL-safe. */
bool act__httpd_busy(const struct act__httpd *h);
/* Adds {"address", "requests", "bad_requests", ...} as "metrics_http" to o. */
void act__httpd_status(const struct act__httpd *h, cJSON *o);

#endif
