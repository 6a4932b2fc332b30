/* SPDX-License-Identifier: MIT */
/*
 * utf8.c - strict UTF-8 validation, the one copy every part of the
 * runtime and its programs uses.
 */
#include "config.h"

#include <stdint.h>

#include "utf8.h"

size_t act__utf8_seq(const unsigned char *p, size_t avail)
{
	unsigned c = p[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((p[k] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (p[k] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	return n;
}

size_t act__utf8_check(const void *s, size_t len)
{
	const unsigned char *b = s, *p = s, *end = p + len;

	while (p < end) {
		size_t n;

		if (*p < 0x80) {   /* the common case, without a call */
			p++;
			continue;
		}
		n = act__utf8_seq(p, (size_t)(end - p));
		if (!n)
			break;
		p += n;
	}
	return (size_t)(p - b);
}

int act__utf8_valid(const void *s, size_t len)
{
	if (!s)
		return len == 0;
	return act__utf8_check(s, len) == len;
}
