/* SPDX-License-Identifier: MIT */
/*
 * metricsaddr.c - parsing the metrics endpoint's address ("HOST:PORT"),
 * shared by the node (httpd.c, act_node_set_metrics_endpoint()) and the
 * app-file check, which must not pull in the rest of the engine.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metricsaddr.h"

int act__httpd_parse_addr(const char *spec, struct sockaddr_storage *ss, socklen_t *len,
                          char *why, size_t why_cap)
{
	char host[64];
	const char *port;
	char *end;
	unsigned long p;

	memset(ss, 0, sizeof *ss);
	if (!spec || !*spec) {
		snprintf(why, why_cap, "empty address (expected HOST:PORT, e.g. 127.0.0.1:9464)");
		return -EINVAL;
	}
	if (spec[0] == '[') {
		const char *close_b = strchr(spec, ']');
		if (!close_b || close_b[1] != ':' || (size_t)(close_b - spec - 1) >= sizeof host) {
			snprintf(why, why_cap, "bad IPv6 address (expected [ADDR]:PORT)");
			return -EINVAL;
		}
		memcpy(host, spec + 1, (size_t)(close_b - spec - 1));
		host[close_b - spec - 1] = 0;
		port = close_b + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		size_t hl = colon ? (size_t)(colon - spec) : 0;
		if (hl >= sizeof host) {
			snprintf(why, why_cap, "host too long (expected a numeric address)");
			return -EINVAL;
		}
		memcpy(host, spec, hl);
		host[hl] = 0;
		port = colon ? colon + 1 : spec;
	}
	if (!*port || *port == '-' || *port == '+' || *port == ' ') {
		snprintf(why, why_cap, "missing port (expected HOST:PORT)");
		return -EINVAL;
	}
	errno = 0;
	p = strtoul(port, &end, 10);
	if (errno || *end || p > 65535) {
		snprintf(why, why_cap, "bad port '%s' (expected 0..65535)", port);
		return -EINVAL;
	}
	if (!host[0]) {
		/* Loopback unless told otherwise: metrics are not for everyone. */
		snprintf(host, sizeof host, "127.0.0.1");
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (spec[0] != '[' && inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		*len = sizeof *s4;
	} else if (spec[0] == '[' && inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		*len = sizeof *s6;
	} else {
		snprintf(why, why_cap, "'%s' is not a numeric IPv4 address or [IPv6] address", host);
		return -EINVAL;
	}
	return 0;
}

