/* SPDX-License-Identifier: MIT */
/*
 * message.h - private: message descriptors, the packed form of a message
 * and the cJSON-level codec.
 *
 * The packed form is how a message travels between local actors: the
 * struct's t->size bytes as the sender laid them out, then the data of its
 * variable-length fields (ACT_VSTR, ACT_BYTES, ACT_JSON) in descriptor
 * order, each starting at an offset that is a multiple of 8 from the start
 * of the message.  VSTR data and JSON text are followed by a NUL that len
 * does not count.  In the packed copy each act_buf has ptr = NULL and off =
 * the offset of its data; the receiver turns off back into ptr with
 * act__msg_fixup() after checking it.  The packed form travels in the
 * rings, so it is part of the frozen shared-memory format (layout.h):
 * changing it bumps ACT__LAYOUT_VERSION.
 */
#ifndef ACT_MESSAGE_H
#define ACT_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include <actors/message.h>

/* True for the kinds stored as an act_buf whose data follows the struct. */
static inline int act__kind_is_var(act_field_kind k)
{
	return k == ACT_VSTR || k == ACT_BYTES || k == ACT_JSON;
}

/*
 * The types declared so far with act_type_declare() (ACT_MESSAGE_TYPE runs
 * it at load time), in declaration order; *n receives their number.  The
 * array belongs to this module and may move on the next declaration.
 */
const act_type *const *act__declared_types(uint32_t *n);

/*
 * Checks a descriptor: name of 1..ACT_NAME_MAX bytes; align a power of two <= 8;
 * size 0 only without fields; every field named (no duplicates), of a
 * known kind, with the size of its kind (ACT_STR: at least 1), aligned for
 * its kind and inside the struct.  Returns 0 or -EINVAL.  Everything below
 * assumes a descriptor that passed this check.
 */
int act__type_validate(const act_type *t);

/*
 * Bytes the packed form of msg takes, or SIZE_MAX if msg cannot be packed:
 * a variable-length field with ptr NULL but len > 0, or a total beyond
 * UINT32_MAX (offsets are 32-bit).  Any process; reads msg only.
 */
size_t act__msg_packed_size(const act_type *t, const void *msg);

/*
 * Writes the packed form of msg to dst, which must be 8-byte aligned, hold
 * act__msg_packed_size() bytes (not SIZE_MAX) and not overlap msg.
 * Padding before each data block is zeroed.  Returns the bytes written.
 */
size_t act__msg_pack(const act_type *t, const void *msg, void *dst);

/*
 * Receiving side: checks the packed message at packed (len bytes, 8-byte
 * aligned, writable) and points every act_buf's ptr at its data.  Checks
 * that each data block is 8-aligned, lies after the struct and inside len,
 * and for VSTR/JSON is followed by its NUL; that every ACT_STR holds a NUL
 * within its size and every ACT_BOOL is 0 or 1.  Returns 0 or -EPROTO.
 * Reads nothing outside packed[0..len) whatever the bytes are, so it is
 * safe on shared memory another process may have corrupted.
 */
int act__msg_fixup(const act_type *t, void *packed, size_t len);

/*
 * Encodes msg as a new cJSON object with one member per field, in
 * descriptor order.  Returns the object (the caller cJSON_Delete()s it),
 * or NULL with *err = -EINVAL (a field that cannot be represented: a
 * non-finite double, an ACT_STR without NUL, a VSTR holding a NUL, a
 * buffer with ptr NULL but len > 0, ACT_JSON text that is not one JSON
 * value) or -ENOMEM.  Any process; never blocks.
 */
/*
 * Rewrites every number below obj as raw text printing exactly the double
 * cJSON parsed (cJSON's own printing keeps only 15 digits), so that JSON
 * forwarded as text keeps its numbers.  0, -ERANGE (a number beyond a
 * double, like 1e999) or -ENOMEM.
 */
int act__json_exact_numbers(cJSON *obj);

cJSON *act__json_encode_obj(const act_type *t, const void *msg, int *err);

/*
 * Decodes the cJSON object obj into a packed message at out (cap bytes,
 * aligned for the struct; 8 always suffices) whose act_buf ptrs already
 * point into out; *used (may be NULL) receives its size.  Returns 0,
 * -EPROTO, -ERANGE, -EMSGSIZE as act_json_decode() does, or -ENOMEM.
 * err (may be NULL) receives a one-line reason naming the field.
 */
int act__json_decode_obj(const act_type *t, const cJSON *obj, void *out,
                         size_t cap, size_t *used, char *err, size_t err_cap);

#endif
