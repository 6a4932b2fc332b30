/* SPDX-License-Identifier: MIT */
/*
 * wire.h - private: the remote wire protocol (shared/PROTOCOL.md), one JSON
 * object per ZeroMQ frame.
 *
 * This module turns an untrusted frame into a checked envelope and back.
 * It enforces the gateway's hard limits (frame size, UTF-8, nesting depth,
 * string length, member count) before or while the text is parsed, so that
 * no peer can make the supervisor crash, recurse deeply or accept text the
 * peers in other languages would not.  It knows nothing of sockets, actors
 * or message types: the gateway decides what to deliver and what to reject,
 * and the user codecs decode `message` in the worker.  Pure functions, no
 * global state of its own; any thread (cJSON's parser keeps an error
 * position in a global, which we never read).
 */
#ifndef ACT_WIRE_H
#define ACT_WIRE_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* cJSON refuses to nest deeper than this, so no limit may exceed it. */
#define ACT__WIRE_DEPTH_CAP 1000u

/* cJSON 1.7.15 cannot parse a number token longer than this. */
#define ACT__WIRE_NUMBER_CAP 63u

struct act__wire_limits {
	size_t max_frame;       /* bytes in one frame */
	unsigned max_depth;     /* nesting of objects and arrays; the envelope itself is 1 */
	size_t max_string;      /* bytes of any decoded string or key, anywhere */
	unsigned max_fields;    /* members of any one object, anywhere (arrays are bounded by max_frame only) */
};

/* Fills l with the defaults: 1 MiB, 32, 65536, 256. */
void act__wire_limits_default(struct act__wire_limits *l);

/* Why a frame was refused.  Stable: the names below are counter names. */
enum act__wire_err {
	ACT__WIRE_OK = 0,
	ACT__WIRE_TOO_BIG,          /* frame larger than max_frame */
	ACT__WIRE_NOT_UTF8,         /* not strict UTF-8 */
	ACT__WIRE_BAD_JSON,         /* not one strict JSON value (BOM and trailing data included) */
	ACT__WIRE_TOO_DEEP,         /* nesting beyond max_depth */
	ACT__WIRE_NOT_OBJECT,       /* valid JSON, but not an object */
	ACT__WIRE_MISSING_FIELD,    /* receiver, message_type or message absent */
	ACT__WIRE_BAD_FIELD,        /* wrong type, empty name, duplicate key, \u0000 */
	ACT__WIRE_TOO_LONG,         /* a string, key or number token beyond its limit */
	ACT__WIRE_TOO_MANY_FIELDS,  /* an object with more than max_fields members */
	ACT__WIRE_N_ERRS
};

/* Returns a short static lower_case name ("bad_json"...), never NULL. */
const char *act__wire_err_name(enum act__wire_err e);

/* Writes the formatted reason into err (if err and cap) and returns e:
 * the one way the parsers (and the tests' tree parser) report an error. */
__attribute__((format(printf, 4, 5)))
enum act__wire_err act__wire_fail(char *err, size_t cap, enum act__wire_err e,
                                  const char *fmt, ...);

/* What act__wire_scan() learnt of a text besides its grammar. */
struct act__wire_scan {
	size_t end;         /* offset just past the top-level value */
	int first;          /* first byte of the top-level value */
	int nul_top;        /* a \u0000 escape in a key or value of the envelope */
	int nul_deep;       /* a \u0000 escape anywhere deeper */
};

/*
 * Checks that text[0..len) is exactly one strict JSON value (RFC 8259,
 * whitespace around it) nested at most max_depth deep (capped at
 * ACT__WIRE_DEPTH_CAP), without recursion and without allocating.  Only
 * the bytes inside strings are checked for UTF-8: a caller that has not
 * checked the whole text must look for invalid UTF-8 itself on an error.
 * Returns ACT__WIRE_OK, ACT__WIRE_BAD_JSON, ACT__WIRE_TOO_DEEP or
 * ACT__WIRE_NOT_UTF8 with a reason in err as act__wire_parse_view() does;
 * out is always set.  The reference tree parser of the tests is built on it.
 */
enum act__wire_err act__wire_scan(const void *text, size_t len, unsigned max_depth,
                                  struct act__wire_scan *out, char *err, size_t err_cap);

/* The longest name a view holds (the node's names and endpoints stop there too). */
#define ACT__WIRE_NAME_MAX 255u

/*
 * A checked envelope without a tree: the names decoded into the view's own
 * buffers, the message left as the peer's text inside the frame (so its
 * numbers go on exactly as written).  The name pointers point into
 * name_buf: use the view where it was filled, do not copy it by value.
 */
struct act__wire_view {
	const char *receiver, *message_type;        /* NUL-terminated, escapes decoded */
	const char *sender_actor, *sender_endpoint; /* NULL if absent, null or "" */
	const char *message_text;   /* into the frame: '{' to its '}', not NUL-terminated */
	size_t message_len;
	int number_overflow;        /* a number in message is beyond a double (1e999) */
	char name_buf[4][ACT__WIRE_NAME_MAX + 1]; /* private */
};

/*
 * Parses and checks one frame of len bytes (not NUL-terminated; never read
 * past len) in one pass over the text and without allocating (except for
 * an envelope with more than 16 unknown keys), and fills v.  lim may be
 * NULL for the defaults; max_depth is capped at ACT__WIRE_DEPTH_CAP.  v need
 * not be initialised and is always set.
 *
 * Returns ACT__WIRE_OK, or the class of the first problem found, with a
 * one-line reason in err (err_cap bytes, always NUL-terminated when
 * err_cap > 0; err may be NULL).  The reason names fields and byte offsets
 * and never holds a control character, so it is safe to log and to send
 * back in a Reject.  A name field (receiver, message_type, sender_actor,
 * sender_endpoint) that is a string of more than ACT__WIRE_NAME_MAX decoded
 * bytes is never handed out, and a frame that is valid but for such a name
 * is ACT__WIRE_TOO_LONG ("field \"receiver\" longer than 255 bytes").
 * The test suite's reference parser (t/wire-tree.c) must agree with the
 * class, the reason and the names of every frame, but for such long names.
 *
 * On ACT__WIRE_OK, receiver and message_type are set, message_text and
 * message_len hold the "message" object's text (inner whitespace kept),
 * which cJSON parses to the tree the reference parser gives, and
 * number_overflow says whether one of its numbers would parse as infinite
 * (act__json_exact_numbers() refuses those with -ERANGE).  On error,
 * message_text is NULL and number_overflow 0, and when the frame was a
 * JSON object, sender_actor, sender_endpoint, receiver and message_type
 * are still set if each could be read (present once, a non-empty string
 * within the limits), so that the caller can answer with a Reject when
 * both sender fields are set.  The caller must not answer a frame whose
 * message_type is "Reject".  Any thread; never blocks.
 */
enum act__wire_err act__wire_parse_view(const void *frame, size_t len,
                                        const struct act__wire_limits *lim,
                                        struct act__wire_view *v,
                                        char *err, size_t err_cap);

/*
 * Builds the text of an envelope: {"sender_actor", "sender_endpoint",
 * "receiver", "message_type", "message"} in that order, no spaces.
 * receiver and message_type must be non-empty UTF-8; sender_* may be NULL
 * (written as JSON null); message_json must be the text of one JSON object
 * (it is checked, not re-encoded; surrounding whitespace is dropped).
 * Returns malloc'd NUL-terminated text, its length in *out_len (out_len may
 * be NULL), or NULL on bad arguments or OOM.
 */
char *act__wire_encode(const char *receiver, const char *message_type,
                       const char *message_json, const char *sender_actor,
                       const char *sender_endpoint, size_t *out_len);

/*
 * Builds a Reject for a refused envelope, addressed to its sender:
 * receiver = to_actor, message_type "Reject", message {"message_type":
 * rejected_type, "reason": reason, "rejected_by": rejected_by},
 * sender_actor null (the family's Rejects are anonymous: a peer that has
 * not registered Reject would answer a named one, or choke on it),
 * sender_endpoint = our_endpoint (already normalised, as advertised; NULL
 * writes null).  to_actor must be non-empty UTF-8; rejected_type and
 * rejected_by may be NULL (written as ""); reason may be NULL ("") and is
 * made valid UTF-8
 * (bad bytes become U+FFFD) since it is often a truncated formatted string.
 * Returns malloc'd text as act__wire_encode() does, or NULL.
 */
char *act__wire_reject(const char *to_actor, const char *rejected_type,
                       const char *reason, const char *rejected_by,
                       const char *our_endpoint, size_t *out_len);

/*
 * Rewrites a bind address into one a peer can connect to:
 * "tcp://\*:PORT" and "tcp://0.0.0.0:PORT" become "tcp://localhost:PORT";
 * any other endpoint is copied unchanged.  out (cap bytes) may be ep
 * itself.  Returns 0, -EINVAL for NULL arguments, or -EMSGSIZE if the
 * result does not fit (out is then "" if cap > 0).
 */
int act__wire_normalize_endpoint(const char *ep, char *out, size_t cap);


#endif
