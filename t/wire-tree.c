/* SPDX-License-Identifier: MIT */
/*
 * t/wire-tree.c - the reference parser of the wire tests and the fuzzer:
 * the same checks as act__wire_parse_view() (src/wire.c), taken on a cJSON
 * tree after the strict scan, so that the one-pass view can be compared
 * with a second, independent reading of every frame.  Test-only: the node
 * uses the view.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"
#include "wire-tree.h"

/* The envelope's fields, in the order their duplicates are reported in. */
enum { F_RECEIVER, F_MESSAGE_TYPE, F_MESSAGE, F_SENDER_ACTOR, F_SENDER_ENDPOINT, N_F };

static const char *const field_names[N_F] = {
	"receiver", "message_type", "message", "sender_actor", "sender_endpoint",
};

/*
 * Checks every string, key and object below (and including) item against
 * the limits.  Recursion is bounded by the depth act__wire_scan() allowed.
 */
static enum act__wire_err check_tree(const cJSON *item, const struct act__wire_limits *lim,
                                     char *err, size_t cap)
{
	const cJSON *c;
	unsigned n = 0;
	enum act__wire_err e;

	if (cJSON_IsString(item) && strlen(item->valuestring) > lim->max_string)
		return act__wire_fail(err, cap, ACT__WIRE_TOO_LONG,
		            "string longer than %zu bytes", lim->max_string);
	for (c = item->child; c; c = c->next) {
		if (cJSON_IsObject(item)) {
			if (++n > lim->max_fields)
				return act__wire_fail(err, cap, ACT__WIRE_TOO_MANY_FIELDS,
				            "object with more than %u members", lim->max_fields);
			if (strlen(c->string) > lim->max_string)
				return act__wire_fail(err, cap, ACT__WIRE_TOO_LONG,
				            "key longer than %zu bytes", lim->max_string);
		}
		e = check_tree(c, lim, err, cap);
		if (e)
			return e;
	}
	return ACT__WIRE_OK;
}

/* The value of a name field if it is usable: a non-empty string in limits. */
static const char *usable_name(const cJSON *v, const struct act__wire_limits *lim)
{
	if (!cJSON_IsString(v) || !v->valuestring[0] ||
	    strlen(v->valuestring) > lim->max_string)
		return NULL;
	return v->valuestring;
}

enum act__wire_err act__wire_parse(const void *frame, size_t len,
                                   const struct act__wire_limits *lim,
                                   struct act__wire_env *env,
                                   char *err, size_t err_cap)
{
	struct act__wire_limits def;
	const unsigned char *s = frame;
	const cJSON *f[N_F] = { NULL };
	int dup[N_F] = { 0 };
	int dup_other = 0;
	unsigned n_members = 0;
	const char *end = NULL;
	struct act__wire_scan sc;
	enum act__wire_err e;
	size_t bad;
	cJSON *root, *c;

	memset(env, 0, sizeof *env);
	if (err && err_cap)
		err[0] = '\0';
	if (!lim) {
		act__wire_limits_default(&def);
		lim = &def;
	}
	if (len > lim->max_frame)
		return act__wire_fail(err, err_cap, ACT__WIRE_TOO_BIG,
		            "frame of %zu bytes exceeds the limit of %zu", len, lim->max_frame);
	if (!s && len)
		return act__wire_fail(err, err_cap, ACT__WIRE_BAD_JSON, "no frame");
	bad = len ? act__utf8_check(s, len) : 0;
	if (bad != len)
		return act__wire_fail(err, err_cap, ACT__WIRE_NOT_UTF8, "invalid UTF-8 at byte %zu", bad);
	e = act__wire_scan(s, len, lim->max_depth, &sc, err, err_cap);
	if (e)
		return e;
	if (sc.first != '{')
		return act__wire_fail(err, err_cap, ACT__WIRE_NOT_OBJECT, "the frame is a JSON %s, not an object",
		            sc.first == '[' ? "array" : sc.first == '"' ? "string" :
		            sc.first == 'n' ? "null" : sc.first == 't' || sc.first == 'f' ?
		            "boolean" : "number");

	/*
	 * The text is strict JSON now, so cJSON can only fail on OOM.  Its
	 * require_null_terminated option is no use on a frame: it demands a
	 * NUL inside the length (refusing every frame that is not followed by
	 * one, accepting "{}\0junk"), and its whitespace is any byte <= 0x20.
	 * Trailing data was refused by act__wire_scan(); the parse end is only
	 * cross-checked against it.
	 */
	root = cJSON_ParseWithLengthOpts((const char *)s, len, &end, 0);
	if (!root)
		return act__wire_fail(err, err_cap, ACT__WIRE_BAD_JSON, "cannot parse (out of memory?)");
	env->root = root;
	if (!cJSON_IsObject(root) || end != (const char *)s + sc.end)
		return act__wire_fail(err, err_cap, ACT__WIRE_BAD_JSON, "cJSON disagrees with the scan");

	/* One pass over the envelope's members: known fields and duplicates. */
	for (c = root->child; c; c = c->next) {
		int k;

		n_members++;
		for (k = 0; k < N_F && strcmp(c->string, field_names[k]); k++)
			;
		if (k < N_F) {
			if (f[k])
				dup[k] = 1;
			else
				f[k] = c;
		} else if (!dup_other && n_members <= lim->max_fields) {
			for (const cJSON *o = root->child; o != c; o = o->next) {
				if (!strcmp(o->string, c->string)) {
					dup_other = 1;
					break;
				}
			}
		}
	}

	/* What a Reject needs, whenever it can be read. */
	if (!sc.nul_top) {
		if (!dup[F_SENDER_ACTOR])
			env->sender_actor = usable_name(f[F_SENDER_ACTOR], lim);
		if (!dup[F_SENDER_ENDPOINT])
			env->sender_endpoint = usable_name(f[F_SENDER_ENDPOINT], lim);
		if (!dup[F_RECEIVER])
			env->receiver = usable_name(f[F_RECEIVER], lim);
		if (!dup[F_MESSAGE_TYPE])
			env->message_type = usable_name(f[F_MESSAGE_TYPE], lim);
	}

	if (n_members > lim->max_fields)
		return act__wire_fail(err, err_cap, ACT__WIRE_TOO_MANY_FIELDS,
		            "envelope with %u members (limit %u)", n_members, lim->max_fields);
	for (int k = 0; k < N_F; k++)
		if (dup[k])
			return act__wire_fail(err, err_cap, ACT__WIRE_BAD_FIELD,
			            "duplicate field \"%s\"", field_names[k]);
	if (dup_other)
		return act__wire_fail(err, err_cap, ACT__WIRE_BAD_FIELD, "duplicate key in the envelope");
	e = check_tree(root, lim, err, err_cap);
	if (e)
		return e;
	if (sc.nul_top || sc.nul_deep)
		return act__wire_fail(err, err_cap, ACT__WIRE_BAD_FIELD,
		            "\\u0000 in a string is not supported");

	for (int k = F_RECEIVER; k <= F_MESSAGE_TYPE; k++) {
		if (!f[k])
			return act__wire_fail(err, err_cap, ACT__WIRE_MISSING_FIELD,
			            "missing field \"%s\"", field_names[k]);
		if (!cJSON_IsString(f[k]))
			return act__wire_fail(err, err_cap, ACT__WIRE_BAD_FIELD,
			            "field \"%s\" is not a string", field_names[k]);
		if (!f[k]->valuestring[0])
			return act__wire_fail(err, err_cap, ACT__WIRE_BAD_FIELD,
			            "field \"%s\" is empty", field_names[k]);
	}
	if (!f[F_MESSAGE])
		return act__wire_fail(err, err_cap, ACT__WIRE_MISSING_FIELD, "missing field \"message\"");
	if (!cJSON_IsObject(f[F_MESSAGE]))
		return act__wire_fail(err, err_cap, ACT__WIRE_BAD_FIELD, "field \"message\" is not an object");
	for (int k = F_SENDER_ACTOR; k <= F_SENDER_ENDPOINT; k++)
		if (f[k] && !cJSON_IsString(f[k]) && !cJSON_IsNull(f[k]))
			return act__wire_fail(err, err_cap, ACT__WIRE_BAD_FIELD,
			            "field \"%s\" is neither a string nor null", field_names[k]);

	env->receiver = f[F_RECEIVER]->valuestring;
	env->message_type = f[F_MESSAGE_TYPE]->valuestring;
	env->message = f[F_MESSAGE];
	return ACT__WIRE_OK;
}

void act__wire_env_free(struct act__wire_env *env)
{
	if (!env)
		return;
	cJSON_Delete(env->root);
	memset(env, 0, sizeof *env);
}
