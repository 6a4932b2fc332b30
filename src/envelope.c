/* SPDX-License-Identifier: MIT */
/*
 * envelope.c - writing and checking JSON-carrying envelopes (envelope.h).
 *
 * Records come from shared memory that another process writes, so parsing
 * trusts no length: every string must lie inside the record and end with
 * its NUL exactly where its length says.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "envelope.h"

size_t act__jenv_size(size_t peer_len, size_t ep_len, size_t type_len, size_t json_len)
{
	return sizeof(struct act__env) + sizeof(struct act__jt) + peer_len + 1 + ep_len + 1 +
	       type_len + 1 + json_len + 1;
}

void act__jenv_write(struct act__env *e, const struct act__route *r, const char *peer,
                     const char *endpoint, const char *type, const char *json, size_t json_len)
{
	struct act__jt *jt = (struct act__jt *)(e + 1);
	char *p = (char *)(jt + 1);
	size_t pl = peer ? strlen(peer) : 0, el = endpoint ? strlen(endpoint) : 0;
	size_t tl = strlen(type);
	struct act__route jr = *r;

	jr.type = 0; /* the type travels by name */
	jr.flags |= ACT__ENV_JSON;
	act__env_write(e, ACT__REC_MSG, (uint32_t)act__jenv_size(pl, el, tl, json_len), &jr);
	jt->peer_len = (uint16_t)pl;
	jt->endpoint_len = (uint16_t)el;
	jt->type_len = (uint16_t)tl;
	jt->reserved = 0;
	jt->json_len = (uint32_t)json_len;
	jt->reserved2 = 0;
	memcpy(p, peer ? peer : "", pl + 1);
	p += pl + 1;
	memcpy(p, endpoint ? endpoint : "", el + 1);
	p += el + 1;
	memcpy(p, type, tl + 1);
	p += tl + 1;
	memcpy(p, json, json_len);
	p[json_len] = '\0';
}

int act__jenv_parse(const struct act__env *e, uint32_t len, struct act__jview *v)
{
	const struct act__jt *jt;
	const char *p, *end;
	uint64_t need;

	if (len < sizeof *e + sizeof *jt)
		return -EPROTO;
	jt = (const struct act__jt *)(e + 1);
	/* Copy the lengths once: the record is shared memory. */
	uint32_t pl = jt->peer_len, el = jt->endpoint_len, tl = jt->type_len;
	uint32_t jl = jt->json_len;
	need = (uint64_t)sizeof *e + sizeof *jt + pl + el + tl + jl + 4;
	if (need > len || pl > ACT__REMOTE_NAME_MAX || el > ACT__ENDPOINT_MAX ||
	    tl > ACT__REMOTE_NAME_MAX || tl == 0)
		return -EPROTO;
	p = (const char *)(jt + 1);
	end = (const char *)e + len;
	v->peer = p;
	v->peer_len = pl;
	p += pl;
	if (*p++ != '\0')
		return -EPROTO;
	v->endpoint = p;
	v->endpoint_len = el;
	p += el;
	if (*p++ != '\0')
		return -EPROTO;
	v->type = p;
	v->type_len = tl;
	p += tl;
	if (*p++ != '\0')
		return -EPROTO;
	v->json = p;
	v->json_len = jl;
	p += jl;
	if (p >= end || *p != '\0')
		return -EPROTO;
	if (memchr(v->peer, 0, pl) || memchr(v->endpoint, 0, el) || memchr(v->type, 0, tl))
		return -EPROTO;
	return 0;
}
