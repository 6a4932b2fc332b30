/* SPDX-License-Identifier: MIT */
/*
 * remote-ask.c - names, matches and retires the supervisor's outstanding
 * remote asks (see remote-ask.h for the scheme and why it needs no new
 * wire field).
 *
 * The table is indexed by seq modulo its size: a new ask takes the next
 * seq whose slot is free (or holds an ask whose time is up), so a lookup
 * is one slot and a comparison, and names are never reused.  Everything
 * runs on the supervisor's thread.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <actors.h>

#include "clock.h"
#include "gateway.h"
#include "log.h"
#include "node.h"
#include "route.h"
#include "remote-ask.h"
#include "ring.h"

#define RASK_CAP 16384u            /* outstanding remote asks per node; power of two */
#define SWEEP_NS (250u * 1000000u) /* how often timed-out names are retired */
#define HELD_MAX 4096u             /* replies waiting for room in a full ring */
#define HELD_MAX_NS (10ull * 1000000000ull) /* ... for at most this long */
#define NAME_CAP (ACT_NAME_MAX + 48)

struct rask {
	uint64_t seq;          /* 0: free */
	uint64_t token;
	uint64_t corr;
	uint64_t deadline_ns;
	uint32_t group, actor, gen;
};

/* A reply whose asker's ring was full when it came. */
struct held {
	struct held *next;
	uint64_t since_ns, corr;
	uint32_t group, actor, gen;
	char *sender, *endpoint, *type, *json;
	size_t json_len;
};

struct act__rask {
	struct act_node *n;
	struct rask *t;
	uint32_t n_live;
	uint64_t next_seq;
	uint64_t last_sweep_ns;
	uint64_t pool[32];         /* random bits for tokens, refilled in one call */
	uint32_t pool_left;
	struct held *h_head, *h_tail;
	uint32_t n_held;
	/* counters */
	uint64_t sent, replied, rejected, late, expired, failed, held_total, dropped;
};

struct act__rask *act__rask_new(struct act_node *n)
{
	struct act__rask *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->t = calloc(RASK_CAP, sizeof *r->t);
	if (!r->t) {
		free(r);
		return NULL;
	}
	r->n = n;
	return r;
}

static void held_free(struct held *h)
{
	free(h->sender);
	free(h->endpoint);
	free(h->type);
	free(h->json);
	free(h);
}

void act__rask_free(struct act__rask *r)
{
	if (!r)
		return;
	while (r->h_head) {
		struct held *h = r->h_head;
		r->h_head = h->next;
		held_free(h);
	}
	free(r->t);
	free(r);
}

/* 64 unpredictable bits.  getrandom() cannot fail for a small buffer once
 * the pool is initialised; if it ever does, time and seq still make the
 * token differ per ask (only guessing gets easier). */
static uint64_t token(struct act__rask *r)
{
	if (!r->pool_left) {
		if (getrandom(r->pool, sizeof r->pool, GRND_NONBLOCK) != (ssize_t)sizeof r->pool)
			for (uint32_t i = 0; i < 32; i++)
				r->pool[i] = act__now_ns() * 0x9e3779b97f4a7c15ull + r->next_seq + i;
		r->pool_left = 32;
	}
	return r->pool[--r->pool_left];
}

/* Writes a JSON envelope flagged REPLY for ask (group, actor, gen, corr). */
static int inject(struct act_node *n, uint32_t group, uint32_t actor, uint32_t gen,
                  uint64_t corr, const char *sender, const char *endpoint, const char *type,
                  const char *json, size_t json_len)
{
	return act__gw_inject_json(n, group, actor, gen, ACT__ENV_REPLY, corr, sender, endpoint,
	                           type, json, json_len);
}

int act__gw_inject_json(struct act_node *n, uint32_t group, uint32_t actor, uint32_t gen,
                        uint16_t flags, uint64_t corr, const char *sender, const char *endpoint,
                        const char *type, const char *json, size_t json_len)
{
	size_t len = act__jenv_size(sender ? strlen(sender) : 0, endpoint ? strlen(endpoint) : 0,
	                            strlen(type), json_len);
	int err;

	if (group == 0 || group > n->reg.n_groups)
		return -ENOENT;
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	struct act__env *e = act__node_out_reserve(n, group, (uint32_t)len, &err);
	if (!e)
		return err;
	act__jenv_write(e, &(struct act__route){ .to = actor, .to_gen = gen,
	                                         .from_peer = ACT__PEER_REMOTE,
	                                         .flags = flags, .corr = corr },
	                sender, endpoint, type, json, json_len);
	act__ring_commit(&n->out[group], e);
	act__node_ring_group(n, group); /* counted with the supervisor's doorbells */
	return 0;
}

/* Keeps a copy of a reply for a full ring; false if it cannot be kept. */
static bool hold(struct act__rask *r, const struct rask *k, const struct act__wire_view *env)
{
	struct held *h;

	if (r->n_held >= HELD_MAX || !(h = calloc(1, sizeof *h)))
		return false;
	h->since_ns = act__now_ns();
	h->corr = k->corr;
	h->group = k->group;
	h->actor = k->actor;
	h->gen = k->gen;
	h->sender = env->sender_actor ? strdup(env->sender_actor) : NULL;
	h->endpoint = env->sender_endpoint ? strdup(env->sender_endpoint) : NULL;
	h->type = strdup(env->message_type);
	h->json = strndup(env->message_text, env->message_len);
	h->json_len = env->message_len;
	if ((env->sender_actor && !h->sender) || (env->sender_endpoint && !h->endpoint) ||
	    !h->type || !h->json) {
		held_free(h);
		return false;
	}
	if (r->h_tail)
		r->h_tail->next = h;
	else
		r->h_head = h;
	r->h_tail = h;
	r->n_held++;
	r->held_total++;
	return true;
}

/*
 * Completes an ask on the spot with a Reject that says why it never left
 * (or never will be answered): the asker's callback gets ACT_EREJECTED.
 */
static void fail(struct act__rask *r, uint32_t group, uint32_t actor, uint32_t gen,
                 uint64_t corr, const char *type, const char *rejected_by, const char *reason)
{
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;

	r->failed++;
	if (o) {
		cJSON_AddStringToObject(o, "message_type", type);
		cJSON_AddStringToObject(o, "reason", reason);
		cJSON_AddStringToObject(o, "rejected_by", rejected_by);
		text = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
	}
	if (!text || inject(r->n, group, actor, gen, corr, NULL, NULL, "Reject", text,
	                    strlen(text)))
		act__warn_every("gateway: a failed remote ask could not be reported to its asker "
		                "(its ring is full): it will time out");
	free(text);
}

/* Takes a slot for a new ask; its seq, or 0 if every slot is in use. */
static uint64_t take(struct act__rask *r, uint64_t now)
{
	if (r->n_live >= RASK_CAP)
		act__rask_pump(r); /* maybe some have timed out since the last sweep */
	if (r->n_live >= RASK_CAP)
		return 0;
	for (;;) {
		uint64_t seq = ++r->next_seq;
		struct rask *k = &r->t[seq & (RASK_CAP - 1)];
		if (k->seq && now > k->deadline_ns) {
			k->seq = 0;
			r->n_live--;
			r->expired++;
		}
		if (!k->seq)
			return seq;
	}
}

int act__gw_ask(struct act__gateway *gw, uint32_t group, const struct act__env *e,
                const struct act__jview *jv, const char *from_name)
{
	struct act__rask *r = act__gw_rask(gw);
	uint32_t actor = e->from - 1, gen = e->from_gen, timeout_ms = e->to_gen;
	uint64_t now = act__now_ns(), seq;
	char name[NAME_CAP], why[384];
	int rc;

	if (!from_name)
		return -ENOENT; /* the asker is gone already: nobody to answer */
	if (!r) {
		act__warn_every("gateway: no table for remote asks (out of memory)");
		return -ENOMEM;
	}
	seq = take(r, now);
	if (!seq) {
		snprintf(why, sizeof why, "Too many remote asks outstanding on this node (%u)",
		         RASK_CAP);
		act__warn_every("gateway: remote ask of '%s' refused: %u asks outstanding",
		                from_name, RASK_CAP);
		fail(r, group, actor, gen, e->corr, jv->type, jv->peer, why);
		return 0;
	}
	struct rask *k = &r->t[seq & (RASK_CAP - 1)];
	k->token = token(r);
	snprintf(name, sizeof name, "%s~ask-%" PRIu64 ".%016" PRIx64, from_name, seq, k->token);
	rc = act__gw_send(gw, jv->peer, jv->endpoint, jv->type, jv->json, jv->json_len, name);
	if (rc == ACT_EFULL)
		return rc; /* nothing recorded: the record stays in the ring, and comes back */
	if (rc) {
		snprintf(why, sizeof why, "Cannot send to '%.64s' at %.128s: %s", jv->peer,
		         jv->endpoint, act_strerror(rc));
		fail(r, group, actor, gen, e->corr, jv->type, jv->peer, why);
		return 0;
	}
	k->seq = seq;
	k->corr = e->corr;
	k->group = group;
	k->actor = actor;
	k->gen = gen;
	/* Saturates: a timeout too long to represent is never. */
	uint64_t ns = (uint64_t)timeout_ms * 1000000u;
	k->deadline_ns = now + ns < now ? UINT64_MAX : now + ns;
	r->n_live++;
	r->sent++;
	return 0;
}

/*
 * Parses "<anything>~ask-<decimal seq>.<16 hex digits>" at the end of
 * name.  Anything else is an ordinary actor name (even one that contains
 * "~ask-").
 */
static bool parse_name(const char *name, uint64_t *seq, uint64_t *tok)
{
	const char *p = NULL, *q = name;
	uint64_t s = 0, t = 0;

	while ((q = strstr(q, "~ask-")))
		p = q++;
	if (!p)
		return false;
	p += 5;
	if (*p < '1' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (s > (UINT64_MAX - 9) / 10)
			return false;
		s = s * 10 + (uint64_t)(*p - '0');
	}
	if (*p++ != '.')
		return false;
	for (int i = 0; i < 16; i++, p++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
		if (d < 0)
			return false;
		t = t << 4 | (uint64_t)d;
	}
	if (*p)
		return false;
	*seq = s;
	*tok = t;
	return true;
}

bool act__rask_inbound(struct act__rask *r, const struct act__wire_view *env)
{
	uint64_t seq, tok;

	if (!r || !parse_name(env->receiver, &seq, &tok))
		return false;
	struct rask *k = &r->t[seq & (RASK_CAP - 1)];
	if (k->seq != seq || k->token != tok || act__now_ns() > k->deadline_ns) {
		/* Timed out (or never ours): a dead letter, like a late local
		 * reply.  Not rejected: the peer sent an answer, not a request. */
		r->late++;
		r->n->n_dead_letters++;
		act__warn_every("gateway: a %s for remote ask #%" PRIu64 " came after the ask timed "
		                "out (or for no ask of ours): dead letter",
		                strcmp(env->message_type, "Reject") ? "reply" : "Reject", seq);
		return true;
	}
	bool is_reject = !strcmp(env->message_type, "Reject");
	int rc = inject(r->n, k->group, k->actor, k->gen, k->corr, env->sender_actor,
	                env->sender_endpoint, env->message_type, env->message_text,
	                env->message_len);
	if (rc == ACT_EFULL && !hold(r, k, env)) {
		r->dropped++;
		r->n->n_dead_letters++;
		act__warn_every("gateway: the reply to remote ask #%" PRIu64 " was dropped: its "
		                "asker's ring is full and %u replies wait already", seq, HELD_MAX);
	} else if (rc && rc != ACT_EFULL) {
		r->dropped++;
		r->n->n_dead_letters++;
		act__warn_every("gateway: the reply to remote ask #%" PRIu64 " could not be "
		                "delivered: %s", seq, act_strerror(rc));
	}
	if (is_reject)
		r->rejected++;
	else
		r->replied++;
	k->seq = 0; /* the first answer completes the ask: the name is retired */
	r->n_live--;
	return true;
}

void act__rask_pump(struct act__rask *r)
{
	uint64_t now;

	if (!r)
		return;
	now = act__now_ns();
	while (r->h_head) {
		struct held *h = r->h_head;
		int rc = inject(r->n, h->group, h->actor, h->gen, h->corr, h->sender, h->endpoint,
		                h->type, h->json, h->json_len);
		if (rc == ACT_EFULL && now - h->since_ns < HELD_MAX_NS)
			break; /* in order: the ones behind it wait too */
		if (rc) {
			r->dropped++;
			r->n->n_dead_letters++;
			act__warn_every("gateway: a reply to a remote ask was dropped after waiting "
			                "%llu s for its asker's ring: %s",
			                (unsigned long long)(HELD_MAX_NS / 1000000000ull),
			                act_strerror(rc));
		}
		r->h_head = h->next;
		if (!r->h_head)
			r->h_tail = NULL;
		r->n_held--;
		held_free(h);
	}
	if (now - r->last_sweep_ns < SWEEP_NS || !r->n_live)
		return;
	r->last_sweep_ns = now;
	for (uint32_t i = 0; i < RASK_CAP; i++)
		if (r->t[i].seq && now > r->t[i].deadline_ns) {
			r->t[i].seq = 0;
			r->n_live--;
			r->expired++;
		}
}

uint32_t act__rask_live(const struct act__rask *r)
{
	return r ? r->n_live : 0;
}

bool act__rask_busy(const struct act__rask *r)
{
	return r && r->h_head;
}

void act__rask_status(struct act__rask *r, cJSON *g)
{
	cJSON *o;

	if (!r)
		return;
	act__rask_pump(r); /* count the names whose time is up */
	o = cJSON_AddObjectToObject(g, "asks");
	cJSON_AddNumberToObject(o, "outstanding", r->n_live);
	cJSON_AddNumberToObject(o, "sent", (double)r->sent);
	cJSON_AddNumberToObject(o, "replied", (double)r->replied);
	cJSON_AddNumberToObject(o, "rejected", (double)r->rejected);
	cJSON_AddNumberToObject(o, "expired", (double)r->expired);
	cJSON_AddNumberToObject(o, "late", (double)r->late);
	cJSON_AddNumberToObject(o, "failed", (double)r->failed);
	cJSON_AddNumberToObject(o, "held", r->n_held);
	cJSON_AddNumberToObject(o, "held_total", (double)r->held_total);
	cJSON_AddNumberToObject(o, "dropped", (double)r->dropped);
}
