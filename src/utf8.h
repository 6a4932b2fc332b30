/* SPDX-License-Identifier: MIT */
/*
 * utf8.h - private: the one strict UTF-8 validator (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), used by the wire parser,
 * the app-file checker and actorsctl.
 */
#ifndef ACT_UTF8_H
#define ACT_UTF8_H

#include <stddef.h>

#include "export.h"

/* Length of the well-formed sequence at p (avail > 0 bytes readable), or 0
 * if the bytes there are not one: a stray continuation byte, C0/C1 or
 * F5..FF, a truncated sequence, an overlong form, a surrogate or a code
 * point above U+10FFFF. */
ACT__SHARED size_t act__utf8_seq(const unsigned char *p, size_t avail);

/* Offset of the first byte of s that does not start a well-formed
 * sequence, or len if all len bytes are UTF-8. */
ACT__SHARED size_t act__utf8_check(const void *s, size_t len);

/* 1 if the len bytes at s are UTF-8 (s may be NULL only with len 0), else 0. */
ACT__SHARED int act__utf8_valid(const void *s, size_t len);

#endif
