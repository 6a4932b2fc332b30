/* SPDX-License-Identifier: MIT */
/*
 * base64.h - private: strict base64 (RFC 4648, standard alphabet, with
 * padding), the wire form of ACT_BYTES fields.
 */
#ifndef ACT_BASE64_H
#define ACT_BASE64_H

#include <stddef.h>

/* Length of the encoding of n bytes, without the terminating NUL. */
size_t act__b64_encoded_len(size_t n);

/*
 * Encodes src[0..n) into dst, which must hold act__b64_encoded_len(n) + 1
 * bytes; NUL-terminates.  Returns the length written (without the NUL).
 */
size_t act__b64_encode(const void *src, size_t n, char *dst);

/*
 * Decodes the base64 text src[0..n) into dst (cap bytes); *out receives the
 * number of bytes decoded.  Strict: n must be a multiple of 4, only the
 * standard alphabet, '=' only as one or two final padding characters, and
 * the bits left over before the padding must be zero (every input has one
 * accepted spelling).  No whitespace.  Returns 0, -EPROTO on malformed
 * input (dst may have been partly written), or -EMSGSIZE if the result
 * does not fit in cap (dst untouched).
 */
int act__b64_decode(const char *src, size_t n, void *dst, size_t cap, size_t *out);

#endif
