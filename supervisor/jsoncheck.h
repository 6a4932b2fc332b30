/* SPDX-License-Identifier: MIT */
/*
 * jsoncheck.h - private to actorsd: a strict JSON syntax checker that
 * reports the first problem with its byte offset and a reason.
 *
 * Accepts RFC 8259 JSON in UTF-8 and nothing more lenient: no NUL bytes
 * (raw or \u0000), no unpaired surrogates, nesting at most
 * ACT__JC_MAX_DEPTH deep, numbers at most 63 characters.  Duplicate keys
 * are the caller's business (the checker keeps no keys).  A UTF-8 BOM at the start is skipped.  It builds no tree:
 * text it accepts can be handed to cJSON, which then cannot fail except
 * for memory.
 */
#ifndef ACT_JSONCHECK_H
#define ACT_JSONCHECK_H

#include <stddef.h>

#define ACT__JC_MAX_DEPTH 512     /* well under cJSON's own nesting limit */

struct cJSON;

/* A number written with a fraction or an exponent: its ordinal among all
 * numbers of the document, where it is, and (filled by the caller once a
 * tree is built) the cJSON item it became. */
struct act__jc_nonint {
	size_t ordinal;
	size_t off;
	size_t len;
	const struct cJSON *item;
};

struct act__jcheck {
	const unsigned char *s;
	size_t len, pos;
	unsigned depth;
	size_t n_numbers;            /* every number of the document */
	struct act__jc_nonint *nonint; /* in document order; owned */
	size_t n_nonint, cap_nonint;
	int rc;                      /* 0, -EINVAL (msg set) or -ENOMEM */
	size_t err_off;              /* where the problem is (byte offset) */
	char msg[256];               /* what the problem is, one phrase */
};

/*
 * Checks the len bytes at text (need not be NUL-terminated) into *j, which
 * it initialises.  Returns 0, -EINVAL (j->msg and j->err_off say what and
 * where) or -ENOMEM.  Either way release j with act__jc_fini().  Pure: no
 * I/O, nothing global, any thread.
 */
int act__jc_document(struct act__jcheck *j, const char *text, size_t len);

/* Frees what j owns.  Idempotent. */
void act__jc_fini(struct act__jcheck *j);

/* 1-based line and column (counting characters, not bytes) of byte
 * offset off in the len bytes at s. */
void act__jc_line_col(const unsigned char *s, size_t len, size_t off,
                      unsigned *line, unsigned *col);

static inline int act__jc_is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* [A-Za-z0-9_]: what a bare word of a message is made of. */
static inline int act__jc_is_word_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

#endif
