/* SPDX-License-Identifier: MIT */
/*
 * base64.c - strict base64 for ACT_BYTES fields.  Decoding is strict
 * because its input comes from the network: anything but the canonical
 * encoding is an error rather than something to guess about.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>

#include "base64.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t act__b64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

size_t act__b64_encode(const void *src, size_t n, char *dst)
{
	const unsigned char *s = src;
	char *d = dst;
	size_t i;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		*d++ = alphabet[v >> 18];
		*d++ = alphabet[v >> 12 & 63];
		*d++ = alphabet[v >> 6 & 63];
		*d++ = alphabet[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		*d++ = alphabet[v >> 18];
		*d++ = alphabet[v >> 12 & 63];
		*d++ = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
		*d++ = '=';
	}
	*d = '\0';
	return (size_t)(d - dst);
}

/* The 6-bit value of c, or -1 if c is not in the alphabet. */
static int sextet(char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

int act__b64_decode(const char *src, size_t n, void *dst, size_t cap, size_t *out)
{
	unsigned char *d = dst;
	size_t pad = 0, len, i, o = 0;

	*out = 0;
	if (n % 4)
		return -EPROTO;
	if (n && src[n - 1] == '=')
		pad = src[n - 2] == '=' ? 2 : 1;
	len = n / 4 * 3 - pad;
	if (len > cap)
		return -EMSGSIZE;
	for (i = 0; i < n; i += 4) {
		size_t k = i + 4 == n ? 4 - pad : 4; /* data characters in this quad */
		uint32_t v = 0;
		for (size_t j = 0; j < 4; j++) {
			int x = j < k ? sextet(src[i + j]) : 0;
			if (x < 0)
				return -EPROTO; /* includes a '=' anywhere but the end */
			v = v << 6 | (uint32_t)x;
		}
		/* Non-canonical: bits below the last full byte must be zero. */
		if ((k == 2 && (v & 0xffff)) || (k == 3 && (v & 0xff)))
			return -EPROTO;
		d[o++] = (unsigned char)(v >> 16);
		if (k > 2)
			d[o++] = (unsigned char)(v >> 8);
		if (k > 3)
			d[o++] = (unsigned char)v;
	}
	*out = o;
	return 0;
}
