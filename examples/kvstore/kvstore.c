/* SPDX-License-Identifier: MIT */
/*
 * examples/kvstore/kvstore.c - a key-value store actor with expiring keys,
 * after the "Rust-style actor" guide's KVStore (Set / Get / Del, and an
 * active-expiration interval), as a group module for actorsd.
 *
 * Messages (wire names and fields as the guide's Python classes have them,
 * so a Python client builds them with cls(**message)):
 *   Set{key, value, ttl}  stores value (any JSON value) under key (a
 *                         string).  ttl is null or 0 for "never", else the
 *                         lifetime in seconds (a number, fractions allowed),
 *                         as in the guide's `expiry = time.time() + ttl`.
 *                         Replies Ok{op: "Set", key, found: did key exist}.
 *   Get{key}              replies Value{key, value, found}; value is null
 *                         when found is false.  An expired key is not found
 *                         even if the sweep has not removed it yet.
 *   Del{key}              replies Ok{op: "Del", key, found}.
 *   Stats{}               replies KvStats{keys, expired, sets, gets, dels}:
 *                         entries held (an expired one until the sweep, a
 *                         Get or a Del removes it), entries removed because
 *                         they expired, and requests handled since start.
 * A bad Set (ttl negative or not a number, the store full) replies
 * Error{key, reason}.  Replies go to the sender, local or remote; a sender
 * that cannot be answered (no sender fields) is not an error.  The guide's
 * Shutdown is the runtime's own.
 *
 * Expiry is driven by a periodic timer (Timeout every args.sweep_ms,
 * default 100): each tick removes every entry whose deadline passed, the
 * guide's remove_expired().  Deadlines use the runtime's monotonic clock.
 *
 * State lives in the actor's state: a chained hash table (FNV-1a, power of
 * two buckets, doubled at load 1) of malloc'd entries, allocated in init
 * and freed in fini.  It is not persistent: a restarted group starts empty.
 *
 * Arguments (app file): { "sweep_ms": 1..3600000 [100],
 *                         "max_keys": 1..100000000 [1000000] }.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <actors.h>

/* ---- messages ---------------------------------------------------------------- */

typedef struct { act_buf key; act_buf value; act_buf ttl; } set_msg;
typedef struct { act_buf key; } key_msg;             /* Get and Del */
typedef struct { char _unused; } stats_msg;
typedef struct { act_buf key; act_buf value; bool found; } value_msg;
typedef struct { char op[8]; act_buf key; bool found; } ok_msg;
typedef struct { act_buf key; act_buf reason; } error_msg;
typedef struct {
	int64_t keys, expired, sets, gets, dels;
} kvstats_msg;

ACT_MESSAGE_TYPE(set_type, set_msg, "Set",
                 ACT_FIELD(set_msg, key, ACT_VSTR),
                 ACT_FIELD(set_msg, value, ACT_JSON),
                 ACT_FIELD(set_msg, ttl, ACT_JSON));
ACT_MESSAGE_TYPE(get_type, key_msg, "Get", ACT_FIELD(key_msg, key, ACT_VSTR));
ACT_MESSAGE_TYPE(del_type, key_msg, "Del", ACT_FIELD(key_msg, key, ACT_VSTR));
ACT_MESSAGE_TYPE_EMPTY(stats_type, stats_msg, "Stats");
ACT_MESSAGE_TYPE(value_type, value_msg, "Value",
                 ACT_FIELD(value_msg, key, ACT_VSTR),
                 ACT_FIELD(value_msg, value, ACT_JSON),
                 ACT_FIELD(value_msg, found, ACT_BOOL));
ACT_MESSAGE_TYPE(ok_type, ok_msg, "Ok",
                 ACT_FIELD(ok_msg, op, ACT_STR),
                 ACT_FIELD(ok_msg, key, ACT_VSTR),
                 ACT_FIELD(ok_msg, found, ACT_BOOL));
ACT_MESSAGE_TYPE(error_type, error_msg, "Error",
                 ACT_FIELD(error_msg, key, ACT_VSTR),
                 ACT_FIELD(error_msg, reason, ACT_VSTR));
ACT_MESSAGE_TYPE(kvstats_type, kvstats_msg, "KvStats",
                 ACT_FIELD(kvstats_msg, keys, ACT_I64),
                 ACT_FIELD(kvstats_msg, expired, ACT_I64),
                 ACT_FIELD(kvstats_msg, sets, ACT_I64),
                 ACT_FIELD(kvstats_msg, gets, ACT_I64),
                 ACT_FIELD(kvstats_msg, dels, ACT_I64));

#define SWEEP_TIMER 1
#define MIN_BUCKETS 64u

/* ---- the table --------------------------------------------------------------------- */

struct entry {
	struct entry *next;      /* chain of the bucket */
	uint64_t hash;
	uint64_t expires_ns;     /* 0: never */
	char *value;             /* JSON text, NUL-terminated */
	uint32_t value_len;
	uint32_t key_len;
	char key[];              /* NUL-terminated */
};

struct table {
	struct entry **b;
	size_t n_buckets;        /* a power of two */
	size_t n;                /* entries */
	size_t n_ttl;            /* entries with a deadline: a sweep with none is free */
};

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static int table_init(struct table *t)
{
	t->b = calloc(MIN_BUCKETS, sizeof *t->b);
	if (!t->b)
		return -ENOMEM;
	t->n_buckets = MIN_BUCKETS;
	t->n = t->n_ttl = 0;
	return 0;
}

static void entry_free(struct entry *e)
{
	if (e) {
		free(e->value);
		free(e);
	}
}

static void table_fini(struct table *t)
{
	for (size_t i = 0; t->b && i < t->n_buckets; i++) {
		struct entry *e = t->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			entry_free(e);
		}
	}
	free(t->b);
	memset(t, 0, sizeof *t);
}

/* The link that points at key's entry (or at the NULL ending its chain). */
static struct entry **table_slot(struct table *t, const char *key, size_t len, uint64_t h)
{
	struct entry **p = &t->b[h & (t->n_buckets - 1)];

	while (*p && !((*p)->hash == h && (*p)->key_len == len && !memcmp((*p)->key, key, len)))
		p = &(*p)->next;
	return p;
}

/* Doubles the buckets; on OOM the table just stays more loaded. */
static void table_grow(struct table *t)
{
	size_t nb = t->n_buckets * 2;
	struct entry **b = calloc(nb, sizeof *b);

	if (!b)
		return;
	for (size_t i = 0; i < t->n_buckets; i++) {
		struct entry *e = t->b[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(t->b);
	t->b = b;
	t->n_buckets = nb;
}

/* Unlinks and frees the entry *p points at. */
static void table_remove_at(struct table *t, struct entry **p)
{
	struct entry *e = *p;

	*p = e->next;
	if (e->expires_ns)
		t->n_ttl--;
	t->n--;
	entry_free(e);
}

static bool expired(const struct entry *e, uint64_t now)
{
	return e->expires_ns && e->expires_ns <= now;
}

/* ---- the actor ---------------------------------------------------------------- */

struct kv {
	struct table t;
	uint32_t sweep_ms;
	int64_t max_keys;
	int64_t n_expired, n_sets, n_gets, n_dels;
};

static int kv_init(act_ctx *ctx, void *state, const char *args_json)
{
	struct kv *kv = state;
	cJSON *args = args_json ? cJSON_Parse(args_json) : NULL;
	const cJSON *v;
	int err = -EINVAL;

	kv->sweep_ms = 100;
	kv->max_keys = 1000000;
	if ((v = cJSON_GetObjectItemCaseSensitive(args, "sweep_ms"))) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 3600000)
			goto out;
		kv->sweep_ms = (uint32_t)v->valuedouble;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(args, "max_keys"))) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e8)
			goto out;
		kv->max_keys = (int64_t)v->valuedouble;
	}
	err = table_init(&kv->t);
out:
	if (err == -EINVAL)
		fprintf(stderr, "kvstore: %s: bad args (sweep_ms 1..3600000, max_keys 1..1e8)\n",
		        act_self_name(ctx));
	cJSON_Delete(args);
	return err;
}

static void kv_fini(act_ctx *ctx, void *state)
{
	table_fini(&((struct kv *)state)->t);
}

static void kv_start(act_ctx *ctx, void *state, const void *m)
{
	struct kv *kv = state;
	int err = act_timer_periodic(ctx, kv->sweep_ms, SWEEP_TIMER);

	if (err)
		fprintf(stderr, "kvstore: %s: no expiry timer: %s\n", act_self_name(ctx),
		        act_strerror(err));
}

/* The guide's remove_expired(): every entry whose deadline has passed. */
static void kv_sweep(act_ctx *ctx, void *state, const void *m)
{
	struct kv *kv = state;
	uint64_t now = act_now_ns();

	if (((const act_timeout *)m)->id != SWEEP_TIMER || kv->t.n_ttl == 0)
		return;
	for (size_t i = 0; i < kv->t.n_buckets; i++) {
		struct entry **p = &kv->t.b[i];
		while (*p) {
			if (expired(*p, now)) {
				table_remove_at(&kv->t, p);
				kv->n_expired++;
			} else {
				p = &(*p)->next;
			}
		}
	}
}

static void reply_error(act_ctx *ctx, const act_buf *key, const char *reason)
{
	error_msg e = { .key = *key, .reason = { reason, (uint32_t)strlen(reason), 0 } };
	act_reply(ctx, &error_type, &e);
}

static void reply_ok(act_ctx *ctx, const char *op, const act_buf *key, bool found)
{
	ok_msg r = { .key = *key, .found = found };

	snprintf(r.op, sizeof r.op, "%s", op);
	act_reply(ctx, &ok_type, &r);
}

/*
 * Reads ttl (JSON text: null or a number of seconds) into a deadline;
 * *deadline_ns = 0 means never.  Returns NULL or the reason it is bad.
 */
static const char *ttl_deadline(const act_buf *ttl, uint64_t *deadline_ns)
{
	cJSON *j = cJSON_ParseWithLength(ttl->ptr, ttl->len);
	const char *why = NULL;
	double s;

	*deadline_ns = 0;
	if (cJSON_IsNull(j))
		goto out;
	if (!cJSON_IsNumber(j)) {
		why = "ttl must be null or a number of seconds";
		goto out;
	}
	s = j->valuedouble;
	if (!isfinite(s) || s < 0 || s > 1e9) {
		why = "ttl must be 0..1e9 seconds";
		goto out;
	}
	if (s > 0) {
		uint64_t ns = (uint64_t)(s * 1e9);
		*deadline_ns = act_now_ns() + (ns ? ns : 1);
	}
out:
	cJSON_Delete(j);
	return why;
}

static void kv_set(act_ctx *ctx, void *state, const void *m)
{
	struct kv *kv = state;
	const set_msg *s = m;
	uint64_t deadline, h = fnv1a(s->key.ptr, s->key.len);
	const char *why = ttl_deadline(&s->ttl, &deadline);
	struct entry **p, *e;
	char *value;
	bool found;

	if (why) {
		reply_error(ctx, &s->key, why);
		return;
	}
	kv->n_sets++;
	p = table_slot(&kv->t, s->key.ptr, s->key.len, h);
	found = *p && !expired(*p, act_now_ns());
	if (!*p && kv->t.n >= (size_t)kv->max_keys) {
		reply_error(ctx, &s->key, "store full (max_keys)");
		return;
	}
	value = malloc((size_t)s->value.len + 1);
	if (!value) {
		reply_error(ctx, &s->key, "out of memory");
		return;
	}
	memcpy(value, s->value.ptr, s->value.len);
	value[s->value.len] = '\0';
	if ((e = *p)) {
		/* Overwrite in place: the new value and deadline replace the old. */
		free(e->value);
		if (e->expires_ns)
			kv->t.n_ttl--;
	} else {
		e = malloc(sizeof *e + (size_t)s->key.len + 1);
		if (!e) {
			free(value);
			reply_error(ctx, &s->key, "out of memory");
			return;
		}
		memcpy(e->key, s->key.ptr, s->key.len);
		e->key[s->key.len] = '\0';
		e->key_len = s->key.len;
		e->hash = h;
		e->next = NULL;
		*p = e;
		if (++kv->t.n > kv->t.n_buckets)
			table_grow(&kv->t);
	}
	e->value = value;
	e->value_len = s->value.len;
	e->expires_ns = deadline;
	if (deadline)
		kv->t.n_ttl++;
	reply_ok(ctx, "Set", &s->key, found);
}

static void kv_get(act_ctx *ctx, void *state, const void *m)
{
	struct kv *kv = state;
	const key_msg *g = m;
	struct entry **p = table_slot(&kv->t, g->key.ptr, g->key.len, fnv1a(g->key.ptr, g->key.len));
	value_msg r = { .key = g->key, .value = { "null", 4, 0 }, .found = false };

	kv->n_gets++;
	if (*p && expired(*p, act_now_ns())) {
		table_remove_at(&kv->t, p);
		kv->n_expired++;
	}
	if (*p) {
		r.value.ptr = (*p)->value;
		r.value.len = (*p)->value_len;
		r.found = true;
	}
	act_reply(ctx, &value_type, &r);
}

static void kv_del(act_ctx *ctx, void *state, const void *m)
{
	struct kv *kv = state;
	const key_msg *d = m;
	struct entry **p = table_slot(&kv->t, d->key.ptr, d->key.len, fnv1a(d->key.ptr, d->key.len));
	bool found = false;

	kv->n_dels++;
	if (*p) {
		found = !expired(*p, act_now_ns());
		if (!found)
			kv->n_expired++;
		table_remove_at(&kv->t, p);
	}
	reply_ok(ctx, "Del", &d->key, found);
}

static void kv_stats(act_ctx *ctx, void *state, const void *m)
{
	struct kv *kv = state;
	kvstats_msg r = { (int64_t)kv->t.n, kv->n_expired, kv->n_sets, kv->n_gets, kv->n_dels };

	act_reply(ctx, &kvstats_type, &r);
}

static const act_handler kv_handlers[] = {
	{ &act_start_type, kv_start },
	{ &act_timeout_type, kv_sweep },
	{ &set_type, kv_set },
	{ &get_type, kv_get },
	{ &del_type, kv_del },
	{ &stats_type, kv_stats },
};

static const act_behaviour kv_behaviour = {
	.name = "kvstore",
	.state_size = sizeof(struct kv),
	.init = kv_init,
	.fini = kv_fini,
	.handlers = kv_handlers,
	.n_handlers = sizeof kv_handlers / sizeof kv_handlers[0],
};

ACT_MODULE_INIT(m)
{
	const act_type *replies[] = { &value_type, &ok_type, &error_type, &kvstats_type };
	int err = act_module_add_behaviour(m, &kv_behaviour);

	for (size_t i = 0; !err && i < sizeof replies / sizeof replies[0]; i++)
		err = act_module_add_type(m, replies[i]);
	return err;
}
