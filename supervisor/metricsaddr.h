/* SPDX-License-Identifier: MIT */
/*
 * metricsaddr.h - private: the metrics endpoint's address syntax.
 */
#ifndef ACT_METRICSADDR_H
#define ACT_METRICSADDR_H

#include <stddef.h>
#include <sys/socket.h>

#include "export.h"

/*
 * Parses a metrics endpoint, "HOST:PORT" with HOST a numeric IPv4 address
 * or a bracketed IPv6 one ("[::1]:9464"), or ":PORT" (or "PORT") for the
 * loopback address 127.0.0.1; PORT 0..65535 (0: any free port).  No name
 * lookups.  0 and the address in ss and len, or -EINVAL with a reason in why.
 * (actorsd's app-file check calls it too.)
 */
ACT__SHARED int act__httpd_parse_addr(const char *spec, struct sockaddr_storage *ss,
                                      socklen_t *len, char *why, size_t why_cap);

#endif
