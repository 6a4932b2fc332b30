/* SPDX-License-Identifier: MIT */
/*
 * message.c - message descriptors, the packed form of a message, and the
 * built-in message types.
 *
 * The packed form (see message.h) is what the rings carry: the sender's
 * struct copied as is, then the data of its variable-length fields.  The
 * receiver must not trust any of it: the bytes sit in shared memory that a
 * buggy or dying process may have written, so act__msg_fixup() checks every
 * offset and length before it turns them into pointers.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <actors.h>

#include "message.h"

static size_t round8(size_t n) { return (n + 7) & ~(size_t)7; }

/* VSTR data and JSON text carry a NUL after len, so they are C strings. */
static int has_nul(act_field_kind k) { return k == ACT_VSTR || k == ACT_JSON; }

/* Checks that f has the size and the alignment its kind needs. */
static int field_shape_ok(const act_field *f)
{
	uint32_t size, align;

	switch (f->kind) {
	case ACT_I32:    size = sizeof(int32_t);  align = _Alignof(int32_t);  break;
	case ACT_I64:    size = sizeof(int64_t);  align = _Alignof(int64_t);  break;
	case ACT_U64:    size = sizeof(uint64_t); align = _Alignof(uint64_t); break;
	case ACT_DOUBLE: size = sizeof(double);   align = _Alignof(double);   break;
	case ACT_BOOL:   size = sizeof(bool);     align = _Alignof(bool);     break;
	case ACT_STR:    size = f->size ? f->size : 1u; align = 1; break;
	case ACT_VSTR:
	case ACT_BYTES:
	case ACT_JSON:   size = sizeof(act_buf);  align = _Alignof(act_buf);  break;
	default:         return 0;
	}
	return f->size == size && f->offset % align == 0;
}

/* Types declared at load time, in declaration order (process-local). */
static const act_type **declared;
static uint32_t n_declared, cap_declared;

ACT_API void act_type_declare(const act_type *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < n_declared; i++)
		if (declared[i] == t)
			return;
	if (n_declared == cap_declared) {
		uint32_t cap = cap_declared ? cap_declared * 2 : 32;
		const act_type **p = realloc(declared, cap * sizeof *p);
		if (!p)
			return; /* stays undeclared: a use of it is logged */
		declared = p;
		cap_declared = cap;
	}
	declared[n_declared++] = t;
}

const act_type *const *act__declared_types(uint32_t *n)
{
	*n = n_declared;
	return declared;
}

int act__type_validate(const act_type *t)
{
	size_t name_len;

	if (!t || !t->name)
		return -EINVAL;
	name_len = strnlen(t->name, ACT_NAME_MAX + 1);
	if (name_len == 0 || name_len > ACT_NAME_MAX)
		return -EINVAL;
	if (!t->align || (t->align & (t->align - 1)) || t->align > 8)
		return -EINVAL;
	if (t->n_fields && (!t->fields || !t->size))
		return -EINVAL;
	for (uint32_t i = 0; i < t->n_fields; i++) {
		const act_field *f = &t->fields[i];

		if (!f->name || !f->name[0] || !field_shape_ok(f) ||
		    (uint64_t)f->offset + f->size > t->size)
			return -EINVAL;
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(t->fields[j].name, f->name))
				return -EINVAL;
	}
	return 0;
}

/* ---- packed form ---------------------------------------------------------- */

size_t act__msg_packed_size(const act_type *t, const void *msg)
{
	size_t pos = t->size;

	for (uint32_t i = 0; i < t->n_fields; i++) {
		const act_field *f = &t->fields[i];
		act_buf b;

		if (!act__kind_is_var(f->kind))
			continue;
		memcpy(&b, (const char *)msg + f->offset, sizeof b);
		if (!b.ptr && b.len)
			return SIZE_MAX;
		pos = round8(pos) + b.len + (size_t)has_nul(f->kind);
		if (pos > UINT32_MAX)
			return SIZE_MAX;
	}
	return pos;
}

size_t act__msg_pack(const act_type *t, const void *msg, void *dst)
{
	char *d = dst;
	size_t pos = t->size;

	memcpy(d, msg, t->size);
	for (uint32_t i = 0; i < t->n_fields; i++) {
		const act_field *f = &t->fields[i];
		size_t at;
		act_buf b;

		if (!act__kind_is_var(f->kind))
			continue;
		memcpy(&b, (const char *)msg + f->offset, sizeof b);
		at = round8(pos);
		memset(d + pos, 0, at - pos);
		if (b.len)
			memcpy(d + at, b.ptr, b.len);
		pos = at + b.len;
		if (has_nul(f->kind))
			d[pos++] = '\0';
		b.ptr = NULL;
		b.off = (uint32_t)at;
		memcpy(d + f->offset, &b, sizeof b);
	}
	return pos;
}

int act__msg_fixup(const act_type *t, void *packed, size_t len)
{
	char *p = packed;

	if (len < t->size)
		return -EPROTO;
	for (uint32_t i = 0; i < t->n_fields; i++) {
		const act_field *f = &t->fields[i];
		unsigned char c;
		act_buf b;

		switch (f->kind) {
		case ACT_BOOL:
			/* Any other byte is not a bool: reading it would be UB. */
			memcpy(&c, p + f->offset, 1);
			if (c > 1)
				return -EPROTO;
			break;
		case ACT_STR:
			/* The handler will use it as a C string. */
			if (!memchr(p + f->offset, 0, f->size))
				return -EPROTO;
			break;
		case ACT_VSTR:
		case ACT_BYTES:
		case ACT_JSON:
			/* One copy of the act_buf: checked and used values are the
			 * same even if someone rewrites the shared bytes meanwhile. */
			memcpy(&b, p + f->offset, sizeof b);
			if ((b.off & 7) || b.off < t->size ||
			    (uint64_t)b.off + b.len + (uint64_t)has_nul(f->kind) > len)
				return -EPROTO;
			if (has_nul(f->kind) && p[(size_t)b.off + b.len] != '\0')
				return -EPROTO;
			b.ptr = p + b.off;
			memcpy(p + f->offset, &b, sizeof b);
			break;
		default:
			break;
		}
	}
	return 0;
}

/* ---- built-in types --------------------------------------------------------- */

#define N_FIELDS(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

static const act_field start_fields[] = {
	ACT_FIELD(act_start, restart, ACT_BOOL),
	ACT_FIELD(act_start, n_restarts, ACT_I32),
	ACT_FIELD(act_start, last_signal, ACT_I32),
	ACT_FIELD(act_start, last_exit, ACT_I32),
};
ACT_API const act_type act_start_type = {
	"Start", sizeof(act_start), _Alignof(act_start),
	start_fields, N_FIELDS(start_fields),
};

static const act_field shutdown_fields[] = {
	ACT_FIELD(act_shutdown_msg, reason, ACT_I32),
};
ACT_API const act_type act_shutdown_type = {
	"Shutdown", sizeof(act_shutdown_msg), _Alignof(act_shutdown_msg),
	shutdown_fields, N_FIELDS(shutdown_fields),
};

static const act_field timeout_fields[] = {
	ACT_FIELD(act_timeout, id, ACT_I64),
};
ACT_API const act_type act_timeout_type = {
	"Timeout", sizeof(act_timeout), _Alignof(act_timeout),
	timeout_fields, N_FIELDS(timeout_fields),
};

static const act_field reject_fields[] = {
	ACT_FIELD(act_reject, message_type, ACT_STR),
	ACT_FIELD(act_reject, reason, ACT_VSTR),
	ACT_FIELD(act_reject, rejected_by, ACT_VSTR),
};
ACT_API const act_type act_reject_type = {
	"Reject", sizeof(act_reject), _Alignof(act_reject),
	reject_fields, N_FIELDS(reject_fields),
};

static const act_field down_fields[] = {
	ACT_FIELD(act_down, actor, ACT_STR),
	ACT_FIELD(act_down, reason, ACT_STR),
};
ACT_API const act_type act_down_type = {
	"Down", sizeof(act_down), _Alignof(act_down),
	down_fields, N_FIELDS(down_fields),
};
