/* SPDX-License-Identifier: MIT */
/*
 * topic.c - publish/subscribe inside a node: the topic table in the
 * region (layout.h, struct act__xarea) and act_join(), act_leave(),
 * act_publish().
 *
 * Membership lives in shared memory, not in a worker, so it outlives a
 * crash of the member's worker: a static actor, or a spawned permanent or
 * transient one (re-created with the same ref), is still a member when its
 * group comes back.  A spawned actor that is gone (stopped, or temporary
 * and lost in a crash) no longer matches its slot's record: publishers
 * skip its word and clear it.  A static actor that stops leaves every
 * topic from its own worker (act__topic_leave_all()).
 *
 * Publishing is one send per member (act_send()), each refused at once if
 * the member's ring is full: it never blocks, and reports how many members
 * it reached and how many refused.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include <actors.h>

#include "log.h"
#include "topic.h"
#include "worker-int.h"

/* A creator that holds a BUSY entry this long (spins) died. */
#define BUSY_SPINS 2000000u

size_t act__xarea_bytes(uint32_t n_parts)
{
	uint32_t n_groups = n_parts ? n_parts - 1 : 0;
	size_t b = 4096 + (size_t)ACT__TOPICS_MAX * sizeof(struct act__topic);
	b = (b + 4095) & ~(size_t)4095;
	b += (size_t)n_groups * sizeof(struct act__gstat);
	return (b + 4095) & ~(size_t)4095;
}

void act__xarea_format(struct act__xarea *xa, uint32_t n_parts)
{
	memset(xa, 0, sizeof *xa);
	xa->version = ACT__XAREA_VERSION;
	xa->n_topics = ACT__TOPICS_MAX;
	xa->topic_bytes = sizeof(struct act__topic);
	xa->n_groups = n_parts ? n_parts - 1 : 0;
	xa->gstat_bytes = sizeof(struct act__gstat);
	xa->topics_off = 4096;
	xa->gstat_off = (4096 + (uint64_t)ACT__TOPICS_MAX * sizeof(struct act__topic) + 4095) &
	                ~(uint64_t)4095;
	xa->bytes = act__xarea_bytes(n_parts);
	/* Written before any worker is forked; the region's magic is stored
	 * with a release fence after this. */
	xa->magic = ACT__XAREA_MAGIC;
}

struct act__xarea *act__xarea_open(unsigned char *base, size_t size, uint64_t off)
{
	struct act__xarea h;

	if (!base || off > size || size - off < sizeof h || (off & 4095))
		return NULL;
	memcpy(&h, base + off, sizeof h);
	if (h.magic != ACT__XAREA_MAGIC || h.version != ACT__XAREA_VERSION ||
	    h.n_topics != ACT__TOPICS_MAX || h.topic_bytes != sizeof(struct act__topic) ||
	    h.gstat_bytes != sizeof(struct act__gstat) || h.n_groups >= ACT__MAX_PARTS ||
	    h.topics_off != 4096 || h.bytes > size - off ||
	    h.gstat_off < h.topics_off + (uint64_t)ACT__TOPICS_MAX * sizeof(struct act__topic) ||
	    h.gstat_off > h.bytes ||
	    (h.bytes - h.gstat_off) / sizeof(struct act__gstat) < h.n_groups)
		return NULL;
	return (struct act__xarea *)(base + off);
}

static uint32_t topic_hash(const char *name)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

struct act__topic *act__topic_get(struct act__xarea *xa, const char *name, bool create,
                                  uint32_t self, int *err)
{
	uint32_t h = topic_hash(name), mask = ACT__TOPICS_MAX - 1;

	for (uint32_t k = 0; k < ACT__TOPICS_MAX; k++) {
		struct act__topic *tp = act__xa_topic(xa, (h + k) & mask);
		/* Acquire: pairs with the release store of LIVE below, so the
		 * name and hash read after it are the creator's. */
		uint32_t st = atomic_load_explicit(&tp->state, memory_order_acquire);
		if (st == ACT__TOPIC_FREE) {
			if (!create) {
				*err = -ENOENT;
				return NULL;
			}
			uint32_t want = ACT__TOPIC_BUSY | (self << 8);
			if (atomic_compare_exchange_strong_explicit(&tp->state, &st, want,
			                                            memory_order_acquire,
			                                            memory_order_acquire)) {
				tp->hash = h;
				memset(tp->name, 0, sizeof tp->name);
				memcpy(tp->name, name, strlen(name));
				/* Release: a reader that sees LIVE sees name and hash. */
				atomic_store_explicit(&tp->state, ACT__TOPIC_LIVE, memory_order_release);
				return tp;
			}
			/* Lost the race: st now holds what won; look at it below. */
		}
		/* Another participant is writing this entry: it may be our name,
		 * so wait for it (microseconds) rather than pass it. */
		for (uint32_t spin = 0; (st & 0xffu) == ACT__TOPIC_BUSY; spin++) {
			if (spin == BUSY_SPINS) {
				*err = -EAGAIN;
				return NULL;
			}
			__builtin_ia32_pause();
			st = atomic_load_explicit(&tp->state, memory_order_acquire);
		}
		if (st == ACT__TOPIC_LIVE && tp->hash == h &&
		    !strncmp(tp->name, name, sizeof tp->name))
			return tp;
	}
	*err = create ? -ENOSPC : -ENOENT;
	return NULL;
}

bool act__topic_member_gone(const act__shm *shm, uint32_t n_static, uint64_t word)
{
	uint32_t id = (uint32_t)(word >> 32) - 1, gen = (uint32_t)word;

	if (id < n_static)
		return false;
	uint32_t g = act__dyn_group_of(shm, id);
	if (!g)
		return true;
	if (!shm->dyn[g].recs)
		return false;
	uint64_t rw = atomic_load_explicit(&act__shm_spawn_rec(shm, g, act__dyn_slot_of(shm, id))->word,
	                                   memory_order_acquire);
	uint32_t st = ACT__SLOT_STATE(rw);
	return ACT__SLOT_GEN(rw) != gen || (st != ACT__SLOT_LIVE && st != ACT__SLOT_PENDING);
}

/* The same from a worker, which knows its own slots better than their
 * records say (a slot being restarted, a tenant not yet committed). */
static bool member_gone(struct worker *w, uint64_t word)
{
	uint32_t id = (uint32_t)(word >> 32) - 1, gen = (uint32_t)word;

	if (id < w->reg->n_actors)
		return false;
	uint32_t g = act__w_group_of(w, id);
	if (!g)
		return true;
	if (g == w->self) {
		const struct actor *a = act__w_local(w, id);
		return a->gen != gen || (a->stopped && !(a->rec && ACT__SLOT_STATE(
		    atomic_load_explicit(&a->rec->word, memory_order_acquire)) == ACT__SLOT_PENDING));
	}
	return act__topic_member_gone(&w->shm, w->reg->n_actors, word);
}

static struct act__xarea *xarea_of(act_ctx *ctx, int *err)
{
	if (!ctx || !ctx->w || !ctx->actor) {
		*err = -EINVAL;
		return NULL;
	}
	if (!ctx->w->shm.xa)
		*err = -ENOTSUP; /* a region without the area (should not happen) */
	return ctx->w->shm.xa;
}

ACT_API int act_join(act_ctx *ctx, const char *topic)
{
	int err = 0;
	struct act__xarea *xa = xarea_of(ctx, &err);
	struct worker *w;
	struct act__topic *tp;
	uint64_t me;

	if (!xa)
		return err;
	if (!act__topic_name_ok(topic))
		return -EINVAL;
	w = ctx->w;
	if (w->in_fini || ctx->actor->stopping)
		return ACT_ESTOPPED;
	if (!(tp = act__topic_get(xa, topic, true, w->self, &err)))
		return err;
	me = act__topic_word(ctx->actor->id + 1, ctx->actor->gen);
	for (int pass = 0; pass < 2; pass++) {
		uint32_t hi = atomic_load_explicit(&tp->n_hi, memory_order_acquire);
		_Atomic uint64_t *hole = NULL;
		for (uint32_t i = 0; i < hi; i++) {
			uint64_t v = atomic_load_explicit(&tp->members[i], memory_order_relaxed);
			if (v == me)
				return 0; /* already a member: joining is idempotent */
			if (!v && !hole)
				hole = &tp->members[i];
		}
		/* Only this worker adds this actor, so no other join of it can
		 * race us between the scan and the store. */
		while (hole) {
			uint64_t zero = 0;
			if (atomic_compare_exchange_strong_explicit(hole, &zero, me,
			                                            memory_order_release,
			                                            memory_order_relaxed))
				goto joined;
			hole = NULL;
			for (uint32_t i = 0; i < hi && !hole; i++)
				if (!atomic_load_explicit(&tp->members[i], memory_order_relaxed))
					hole = &tp->members[i];
		}
		while (hi < ACT__TOPIC_MEMBERS) {
			/* Raise n_hi first (release: publishers that see the new
			 * n_hi also see the zero or our word at hi). */
			if (atomic_compare_exchange_weak_explicit(&tp->n_hi, &hi, hi + 1,
			                                          memory_order_acq_rel,
			                                          memory_order_acquire)) {
				atomic_store_explicit(&tp->members[hi], me, memory_order_release);
				goto joined;
			}
		}
		/* Full: clear the words of spawned actors that are gone, once. */
		for (uint32_t i = 0; i < ACT__TOPIC_MEMBERS; i++) {
			uint64_t v = atomic_load_explicit(&tp->members[i], memory_order_relaxed);
			if (v && member_gone(w, v))
				atomic_compare_exchange_strong(&tp->members[i], &v, 0);
		}
	}
	return -ENOSPC;
joined:
	atomic_fetch_add_explicit(&tp->n_joins, 1, memory_order_relaxed);
	return 0;
}

ACT_API int act_leave(act_ctx *ctx, const char *topic)
{
	int err = 0;
	struct act__xarea *xa = xarea_of(ctx, &err);
	struct act__topic *tp;
	uint64_t me;

	if (!xa)
		return err;
	if (!act__topic_name_ok(topic))
		return -EINVAL;
	if (!(tp = act__topic_get(xa, topic, false, ctx->w->self, &err)))
		return err == -ENOENT ? 0 : err; /* never joined: nothing to leave */
	me = act__topic_word(ctx->actor->id + 1, ctx->actor->gen);
	uint32_t hi = atomic_load_explicit(&tp->n_hi, memory_order_acquire);
	for (uint32_t i = 0; i < hi; i++) {
		uint64_t v = me;
		if (atomic_compare_exchange_strong_explicit(&tp->members[i], &v, 0,
		                                            memory_order_release,
		                                            memory_order_relaxed)) {
			atomic_fetch_add_explicit(&tp->n_leaves, 1, memory_order_relaxed);
			break;
		}
	}
	return 0;
}

void act__topic_leave_all(struct act__xarea *xa, uint32_t id)
{
	uint64_t me = act__topic_word(id + 1, 0);

	if (!xa)
		return;
	for (uint32_t k = 0; k < ACT__TOPICS_MAX; k++) {
		struct act__topic *tp = act__xa_topic(xa, k);
		if (atomic_load_explicit(&tp->state, memory_order_acquire) != ACT__TOPIC_LIVE)
			continue;
		uint32_t hi = atomic_load_explicit(&tp->n_hi, memory_order_acquire);
		for (uint32_t i = 0; i < hi; i++) {
			uint64_t v = me;
			if (atomic_compare_exchange_strong(&tp->members[i], &v, 0))
				atomic_fetch_add_explicit(&tp->n_leaves, 1, memory_order_relaxed);
		}
	}
}

ACT_API int act_publish_ex(act_ctx *ctx, const char *topic, const act_type *t, const void *msg,
                           act_publish_result *res)
{
	int err = 0;
	struct act__xarea *xa = xarea_of(ctx, &err);
	struct act__topic *tp;
	act_publish_result r = { 0 };

	if (res)
		*res = r;
	if (!xa)
		return err;
	if (!act__topic_name_ok(topic) || !t || !msg)
		return -EINVAL;
	if (ctx->w->in_fini)
		return ACT_ESTOPPED;
	if (!(tp = act__topic_get(xa, topic, false, ctx->w->self, &err)))
		return err == -ENOENT ? 0 : err; /* nobody ever joined: reaches no one */
	uint32_t hi = atomic_load_explicit(&tp->n_hi, memory_order_acquire);
	for (uint32_t i = 0; i < hi; i++) {
		/* Acquire: pairs with the joiner's release store of its word. */
		uint64_t v = atomic_load_explicit(&tp->members[i], memory_order_acquire);
		if (!v)
			continue;
		act_ref to = { .id = (uint32_t)(v >> 32), .peer = 0, .gen = (uint32_t)v };
		if (to.id > ctx->w->reg->n_actors && member_gone(ctx->w, v)) {
			atomic_compare_exchange_strong(&tp->members[i], &v, 0);
			continue;
		}
		r.n_members++;
		int rc = act_send(ctx, to, t, msg);
		if (rc == 0) {
			r.n_reached++;
		} else if (rc == -EINVAL) {
			err = rc; /* the type: the same for every member */
			break;
		} else if (rc == -ENOENT) {
			r.n_members--; /* gone between the check and the send */
			atomic_compare_exchange_strong(&tp->members[i], &v, 0);
		} else {
			/* ACT_EFULL, ACT_ESTOPPED, -EMSGSIZE: this member missed it. */
			r.n_refused++;
		}
	}
	atomic_fetch_add_explicit(&tp->n_published, 1, memory_order_relaxed);
	if (r.n_reached)
		atomic_fetch_add_explicit(&tp->n_delivered, r.n_reached, memory_order_relaxed);
	if (r.n_refused)
		atomic_fetch_add_explicit(&tp->n_refused, r.n_refused, memory_order_relaxed);
	if (res)
		*res = r;
	return err ? err : (int)r.n_reached;
}

ACT_API int act_publish(act_ctx *ctx, const char *topic, const act_type *t, const void *msg)
{
	return act_publish_ex(ctx, topic, t, msg, NULL);
}
