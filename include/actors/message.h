/* SPDX-License-Identifier: MIT */
/*
 * actors/message.h - message types: a C struct plus a descriptor.
 *
 * A message type is a plain C struct and an act_type that names it (the
 * wire `message_type`, e.g. "Ping") and lists its fields.  The same
 * descriptor serves local delivery (the struct's bytes travel through the
 * ring) and remote delivery (the JSON codec encodes and decodes fields by
 * name, so a C Ping{count} interoperates with a Python Ping(count)).
 *
 *     typedef struct { int32_t count; } ping_t;
 *     ACT_MESSAGE_TYPE(ping_type, ping_t, "Ping",
 *                      ACT_FIELD(ping_t, count, ACT_I32));
 *
 * Variable-length fields (ACT_VSTR, ACT_BYTES, ACT_JSON) are act_buf
 * members: the sender points them at its data; the runtime copies the data
 * into the envelope and the receiver sees them pointing into the envelope,
 * valid until its handler returns.
 */
#ifndef ACTORS_MESSAGE_H
#define ACTORS_MESSAGE_H

#include <actors/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum act_field_kind {
	ACT_I32 = 1, /* int32_t, JSON integer */
	ACT_I64,     /* int64_t, JSON integer; input must satisfy abs(v) < 2^53 */
	ACT_U64,     /* uint64_t, JSON integer, 0 <= v < 2^53 on input */
	ACT_DOUBLE,  /* double, JSON number */
	ACT_BOOL,    /* bool, JSON true/false */
	ACT_STR,     /* char[N], NUL-terminated, JSON string of at most N-1 bytes */
	ACT_VSTR,    /* act_buf, JSON string of any length (UTF-8, no NUL) */
	ACT_BYTES,   /* act_buf, JSON string holding base64 */
	ACT_JSON,    /* act_buf holding JSON text, any JSON value on the wire */
} act_field_kind;

/*
 * A variable-length field.  Senders set ptr and len (off is the runtime's);
 * receivers read ptr and len.  For ACT_VSTR the runtime adds a NUL after the
 * data on delivery, so ptr is also a C string.
 */
typedef struct act_buf {
	const void *ptr;
	uint32_t len;
	uint32_t off; /* runtime use: offset of the data inside the envelope */
} act_buf;

typedef struct act_field {
	const char *name;     /* JSON key; the C member name by default */
	act_field_kind kind;
	uint32_t offset;      /* offsetof(struct, member) */
	uint32_t size;        /* sizeof(member) */
} act_field;

/*
 * The runtime never writes into a descriptor (it keeps each node's
 * descriptor-to-id table itself), so descriptors may be const, in
 * read-only memory:  static const act_type t = { "Ping", sizeof(ping_t),
 * ACT_ALIGNOF(ping_t), ping_fields, 1 };
 */
typedef struct act_type {
	const char *name;        /* wire name, e.g. "Ping"; case-sensitive */
	uint32_t size;           /* sizeof(struct) */
	uint32_t align;          /* ACT_ALIGNOF(struct), at most 8 */
	const act_field *fields;
	uint32_t n_fields;
} act_type;

/* The alignment of a type, in C11 and in C++11 alike. */
#ifdef __cplusplus
#define ACT_ALIGNOF(ctype) alignof(ctype)
#else
#define ACT_ALIGNOF(ctype) _Alignof(ctype)
#endif

#define ACT_FIELD(ctype, member, kind) \
	{ #member, (kind), (uint32_t)offsetof(ctype, member), \
	  (uint32_t)sizeof(((ctype *)0)->member) }

/*
 * Remembers t so that every node started afterwards in this process (and,
 * under actorsd, every module's types, loaded in the zygote) registers it
 * before it forks a worker: a type then has the same id in every process
 * of the node however it is used, whether or not any handler table or
 * act_module_add_type() names it.  ACT_MESSAGE_TYPE calls it when the
 * program or module is loaded; call it yourself only for a descriptor you
 * build by hand, before the node starts.  Never fails (on OOM the type
 * stays undeclared, and using it is logged).
 */
ACT_API void act_type_declare(const act_type *t);

/*
 * Defines `const act_type var` describing ctype with the given ACT_FIELD()s,
 * and declares it to the runtime at load time (act_type_declare()).  File
 * scope only.  var has external linkage, in C++ too, so a header may say
 * `extern const act_type var;`.  A file-local descriptor is written by hand
 * (`static const act_type var = {...};`) and declared with
 * act_type_declare() or act_node_add_type().
 */
#define ACT_MESSAGE_TYPE(var, ctype, wire_name, ...) \
	static const act_field var##_fields_[] = { __VA_ARGS__ }; \
	ACT__TYPE_DEF_(var) = { (wire_name), (uint32_t)sizeof(ctype), \
	                        (uint32_t)ACT_ALIGNOF(ctype), var##_fields_, \
	                        (uint32_t)(sizeof(var##_fields_) / sizeof(act_field)) }; \
	ACT__DECLARE_AT_LOAD_(var)

/* Defines `const act_type var` for a message type without fields (file scope). */
#define ACT_MESSAGE_TYPE_EMPTY(var, ctype, wire_name) \
	ACT__TYPE_DEF_(var) = { (wire_name), (uint32_t)sizeof(ctype), \
	                        (uint32_t)ACT_ALIGNOF(ctype), NULL, 0 }; \
	ACT__DECLARE_AT_LOAD_(var)

/* Private to the two macros above.  In C++ a namespace-scope const has
 * internal linkage unless declared extern, so C++ gets an extern
 * declaration first, whose linkage the definition keeps (C would warn on
 * `extern` with an initializer).  The load-time constructor's trailing
 * declaration takes the user's semicolon. */
#ifdef __cplusplus
#define ACT__TYPE_DEF_(var) extern const act_type var; const act_type var
#else
#define ACT__TYPE_DEF_(var) const act_type var
#endif
#define ACT__DECLARE_AT_LOAD_(var) \
	__attribute__((constructor)) static void var##_declare_(void) \
	{ act_type_declare(&var); } \
	extern int var##_declared_

/* ---- built-in message types (the family's names) ------------------------ */

/* Start: delivered to every actor when its group starts or restarts. */
typedef struct act_start {
	bool restart;         /* false on the first start of the group */
	int32_t n_restarts;   /* how many times this group was restarted */
	int32_t last_signal;  /* signal that killed the last instance, or 0 */
	int32_t last_exit;    /* exit code of the last instance, or -1 */
} act_start;

/* Shutdown: delivered to every actor before its group stops cleanly. */
typedef struct act_shutdown_msg {
	int32_t reason; /* 0 = node stopping, 1 = group restart, 2 = stop_self */
} act_shutdown_msg;

/* Timeout: a timer fired; id is the one given when the timer was set. */
typedef struct act_timeout {
	int64_t id;
} act_timeout;

/* Reject: a remote node could not deliver a message we sent.  message_type
 * names one of our types (at most ACT_NAME_MAX bytes); rejected_by is the
 * rejecting actor's name, which a remote family member may make up to 255
 * bytes long: a C string in full, like reason. */
typedef struct act_reject {
	char message_type[64];
	act_buf reason;
	act_buf rejected_by;
} act_reject;

/* Down: an actor watched with act_monitor() is gone.  actor is its name;
 * reason one of "normal", "stopped", "failed: ...", "crashed: signal N",
 * "crashed: exit N", "group stopped", "noproc".  act_sender() is its ref. */
typedef struct act_down {
	char actor[64];
	char reason[128];
} act_down;

/* Read-only, like any descriptor: the library exports no writable data. */
ACT_API extern const act_type act_start_type;
ACT_API extern const act_type act_down_type;
ACT_API extern const act_type act_shutdown_type;
ACT_API extern const act_type act_timeout_type;
ACT_API extern const act_type act_reject_type;

/* ---- JSON codec ---------------------------------------------------------- */

/*
 * Encodes msg (a struct described by t) as a JSON object into buf (cap
 * bytes, NUL-terminated on success).  *out_len receives the length without
 * the NUL.  Returns 0, -EMSGSIZE if buf is too small, -EINVAL on a bad
 * descriptor or a field that cannot be represented (e.g. non-finite double,
 * ACT_JSON that is not valid JSON).  Any process; never blocks.
 */
ACT_API int act_json_encode(const act_type *t, const void *msg,
                            char *buf, size_t cap, size_t *out_len);

/*
 * Decodes the JSON object text json[0..len) into a "packed" message at out:
 * the struct (t->size bytes) followed by the data of its variable-length
 * fields, whose act_buf.ptr point into out.  cap is out's size; *used
 * receives the bytes used.  Extra JSON members are ignored.
 *   -EPROTO    not a JSON object, a required field is missing, or a field
 *              has the wrong JSON type (or bad base64)
 *   -ERANGE    an integer does not fit its field, or is not exact
 *   -EMSGSIZE  a string is longer than its ACT_STR field, or out is too small
 *   -EINVAL    bad descriptor or arguments;  -ENOMEM
 * out must be aligned for the struct (8 bytes always suffices).
 * err (may be NULL) receives a one-line reason naming the field.
 */
ACT_API int act_json_decode(const act_type *t, const char *json, size_t len,
                            void *out, size_t cap, size_t *used,
                            char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif
#endif /* ACTORS_MESSAGE_H */
