/* SPDX-License-Identifier: MIT */
/*
 * actorlist.c - the supervisor's view of every actor: the static ones from
 * the registry, the spawned ones from their groups' spawn records (read
 * through the commit word: acquire, copy, then check the word again, so a
 * record that changed under the copy is skipped rather than shown torn),
 * each joined with its statistics entry (stats.h) and with the number of
 * envelopes waiting for it, counted by walking the rings into its group.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actorlist.h"
#include "dyn-remote.h"
#include "node.h"
#include "restart.h"
#include "ring.h"
#include "shm.h"
#include "stats.h"

unsigned long long act__actorlist_bound_ns(unsigned i)
{
	return i + 1 < ACT__STATS_BUCKETS ? 1ull << (ACT__STATS_B0_SHIFT + i) : 0;
}

/* Waiting envelopes per receiver: static ids, then per group its slots. */
struct mailbox {
	uint32_t *by_static;
	uint32_t **by_slot;      /* [n_groups], each [hi of that group] or NULL */
	uint32_t *hi;
};

static void count_to(const struct act_node *n, struct mailbox *mb, uint32_t to)
{
	if (to < n->reg.n_actors) {
		mb->by_static[to]++;
	} else if (act__dyn_group_of(&n->shm, to)) {
		uint32_t g = act__dyn_group_of(&n->shm, to) - 1, s = act__dyn_slot_of(&n->shm, to);
		if (g < n->reg.n_groups && mb->by_slot[g] && s < mb->hi[g])
			mb->by_slot[g][s]++;
	}
}

/*
 * Walks the records of ring r that its consumer has not finished.  The
 * ring is live: the consumer may finish (and the producer then overwrite)
 * records while we look, so every header is copied, bounded and checked,
 * and the walk stops at the first thing that does not fit.  The count is a
 * snapshot, as ring_depth is.
 */
static void walk_ring(const struct act_node *n, struct mailbox *mb, struct act__ring *r,
                      const struct act__group_def *to)
{
	/* Acquire: pairs with the producer's release store of tail, so the
	 * records before it are written when we read them. */
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	uint64_t pos = atomic_load_explicit(&r->done_pos, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	/* Sizes from our own registry, not from the ring's header, which a
	 * buggy worker could have overwritten: the walk stays inside the ring. */
	uint32_t cap = to->ring_bytes, max_rec = to->max_msg;

	if (head > pos)
		pos = head;
	if (tail < pos || tail - pos > cap || !cap || (cap & (cap - 1)))
		return;
	for (uint32_t guard = 0; pos < tail && guard < cap / ACT__REC_ALIGN; guard++) {
		uint32_t off = (uint32_t)(pos & (cap - 1));
		struct act__env e;
		if (cap - off < sizeof(struct act__rec))
			return;
		memcpy(&e.rec, r->data + off, sizeof e.rec);
		if (e.rec.kind == ACT__REC_PAD) {
			/* Filler to the end of the data (before a wrap) or to the
			 * end of a record's cache line (ring.h); a length that
			 * makes no sense is taken as the former. */
			uint32_t l = e.rec.len;
			pos += l >= sizeof e.rec && l <= cap - off && !(l & 7u) ? l : cap - off;
			continue;
		}
		if (e.rec.len < sizeof e.rec || e.rec.len > max_rec || e.rec.len > cap - off)
			return;
		if (e.rec.kind == ACT__REC_MSG && e.rec.len >= sizeof e) {
			memcpy(&e, r->data + off, sizeof e);
			count_to(n, mb, e.to);
		}
		pos += act__rec_round(e.rec.len);
	}
}

static void add_common(cJSON *o, const struct act__astat *st, uint32_t gen, uint32_t mailbox)
{
	struct act__astat z;
	cJSON *h;

	/* A spawn slot's entry belongs to the tenant whose gen it carries
	 * (acquire: pairs with the release in act__stats_claim(), so the
	 * zeroed counters are what we read after it). */
	if (!st || atomic_load_explicit(&st->gen, memory_order_acquire) != gen) {
		memset(&z, 0, sizeof z);
		st = &z;
	}
	cJSON_AddNumberToObject(o, "handled", (double)atomic_load_explicit(&st->n_handled, memory_order_relaxed));
	cJSON_AddNumberToObject(o, "redelivered", (double)atomic_load_explicit(&st->n_redelivered, memory_order_relaxed));
	cJSON_AddNumberToObject(o, "dead_letters", (double)atomic_load_explicit(&st->n_dead_letters, memory_order_relaxed));
	cJSON_AddNumberToObject(o, "refused", (double)atomic_load_explicit(&st->n_refused, memory_order_relaxed));
	cJSON_AddNumberToObject(o, "keyless", (double)atomic_load_explicit(&st->n_keyless, memory_order_relaxed));
	cJSON_AddNumberToObject(o, "mailbox", mailbox);
	cJSON_AddNumberToObject(o, "policy_restarts", (double)atomic_load_explicit(&st->n_policy_restarts, memory_order_relaxed));
	cJSON_AddNumberToObject(o, "escalations", (double)atomic_load_explicit(&st->n_escalations, memory_order_relaxed));
	cJSON_AddNumberToObject(o, "handling_ns_sum", (double)atomic_load_explicit(&st->handling_ns_sum, memory_order_relaxed));
	h = cJSON_AddArrayToObject(o, "handling_hist");
	for (unsigned i = 0; h && i < ACT__STATS_BUCKETS; i++)
		cJSON_AddItemToArray(h, cJSON_CreateNumber((double)atomic_load_explicit(
		                     &st->handling_hist[i], memory_order_relaxed)));
	cJSON_AddNumberToObject(o, "mailbox_ns_sum", (double)atomic_load_explicit(&st->mailbox_ns_sum, memory_order_relaxed));
	h = cJSON_AddArrayToObject(o, "mailbox_hist");
	for (unsigned i = 0; h && i < ACT__STATS_BUCKETS; i++)
		cJSON_AddItemToArray(h, cJSON_CreateNumber((double)atomic_load_explicit(
		                     &st->mailbox_hist[i], memory_order_relaxed)));
}

/* "name" of actor ref id+1/gen (a parent or watcher), for display. */
static void add_ref_name(const struct act_node *n, cJSON *o, const char *key, uint32_t ref,
                         uint32_t gen)
{
	uint32_t id = ref - 1;

	if (!ref) {
		cJSON_AddNullToObject(o, key);
	} else if (id < n->reg.n_actors) {
		cJSON_AddStringToObject(o, key, n->reg.actors[id].name);
	} else if (act__dyn_group_of(&n->shm, id)) {
		char buf[48];
		snprintf(buf, sizeof buf, "#%u.%u", id, gen);
		cJSON_AddStringToObject(o, key, buf);
	} else {
		cJSON_AddNullToObject(o, key);
	}
}

static void add_spawned(struct act_node *n, cJSON *arr, uint32_t g, const struct mailbox *mb)
{
	const struct act__group_def *gd = &n->reg.groups[g];
	uint32_t hi = mb->hi[g];

	for (uint32_t s = 0; s < hi; s++) {
		struct act__spawn_rec *live = act__shm_spawn_rec(&n->shm, g + 1, s), rec;
		/* Acquire: pairs with the owner's release store of (gen, LIVE)
		 * that commits the record, so the fields copied after it are
		 * the committed ones... */
		uint64_t word = atomic_load_explicit(&live->word, memory_order_acquire);
		if (ACT__SLOT_STATE(word) != ACT__SLOT_LIVE)
			continue;
		memcpy((char *)&rec + sizeof rec.word, (char *)live + sizeof rec.word,
		       sizeof rec - sizeof rec.word);
		/* ...unless the slot was stopped and reused meanwhile: the
		 * fence orders our copy before the second look at the word. */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&live->word, memory_order_relaxed) != word)
			continue;
		rec.behaviour[sizeof rec.behaviour - 1] = 0;
		rec.name[sizeof rec.name - 1] = 0;
		uint32_t gen = ACT__SLOT_GEN(word), id = act__dyn_id(&n->shm, g + 1, s);
		uint32_t n_mon = 0;
		cJSON *o = cJSON_CreateObject();
		if (!o)
			return;
		cJSON_AddStringToObject(o, "name", rec.name);
		cJSON_AddNumberToObject(o, "id", id);
		cJSON_AddNumberToObject(o, "gen", gen);
		cJSON_AddStringToObject(o, "group", gd->name);
		add_ref_name(n, o, "parent", rec.parent, rec.parent_gen);
		cJSON_AddStringToObject(o, "behaviour", rec.behaviour);
		cJSON_AddStringToObject(o, "restart", rec.restart <= ACT_TEMPORARY ?
		                        act__restart_name((act_restart_type)rec.restart) : "?");
		cJSON_AddTrueToObject(o, "spawned");
		/* Re-created with its group's worker (unless temporary). */
		cJSON_AddNumberToObject(o, "restarts", n->gs[g].n_restarts);
		if (rec.n_mon) {
			/* Monitors live in the slot's ext block (layout.h): a racy
			 * count, as a listing is. */
			const struct act__spawn_ext *x = act__shm_spawn_ext(&n->shm, g + 1, s);
			n_mon = act__dyn_count_monitors(x->mon, rec.n_mon);
		}
		cJSON_AddNumberToObject(o, "monitors", n_mon);
		add_common(o, act__stats_entry(&n->shm.stats, id), gen,
		           mb->by_slot[g] ? mb->by_slot[g][s] : 0);
		cJSON_AddItemToArray(arr, o);
	}
}

cJSON *act__actorlist(struct act_node *n)
{
	uint32_t ng = n->reg.n_groups, np = ng + 1;
	struct mailbox mb = {
		.by_static = calloc(n->reg.n_actors + 1u, sizeof *mb.by_static),
		.by_slot = calloc(ng + 1u, sizeof *mb.by_slot),
		.hi = calloc(ng + 1u, sizeof *mb.hi),
	};
	cJSON *arr = cJSON_CreateArray();

	if (!mb.by_static || !mb.by_slot || !mb.hi || !arr)
		goto fail;
	for (uint32_t g = 0; g < ng; g++) {
		/* Acquire: pairs with the owner's release when it raises hi, so
		 * the records below it are formatted. */
		mb.hi[g] = act__shm_dyn_hi(&n->shm, g + 1);
		if (mb.hi[g] && !(mb.by_slot[g] = calloc(mb.hi[g], sizeof **mb.by_slot)))
			goto fail;
	}
	for (uint32_t from = 0; from < np; from++)
		for (uint32_t to = 1; to < np; to++) {
			struct act__ring *r = act__node_ring(n, from, to);
			if (r)
				walk_ring(n, &mb, r, &n->reg.groups[to - 1]);
		}
	for (uint32_t id = 0; id < n->reg.n_actors; id++) {
		const struct act__actor_def *d = &n->reg.actors[id];
		const struct act__group_def *gd = &n->reg.groups[d->group - 1];
		cJSON *o = cJSON_CreateObject();
		if (!o)
			goto fail;
		cJSON_AddStringToObject(o, "name", d->name);
		cJSON_AddNumberToObject(o, "id", id);
		cJSON_AddNumberToObject(o, "gen", 0);
		cJSON_AddStringToObject(o, "group", gd->name);
		cJSON_AddNullToObject(o, "parent");
		cJSON_AddStringToObject(o, "behaviour", d->b ? d->b->name :
		                        d->behaviour ? d->behaviour : "?");
		cJSON_AddStringToObject(o, "restart", act__restart_name(gd->restart));
		cJSON_AddFalseToObject(o, "spawned");
		/* Restarted with its group's worker. */
		cJSON_AddNumberToObject(o, "restarts", n->gs[d->group - 1].n_restarts);
		/* A static actor's monitors live in its worker's heap only. */
		cJSON_AddNullToObject(o, "monitors");
		add_common(o, act__stats_entry(&n->shm.stats, id), 0, mb.by_static[id]);
		cJSON_AddItemToArray(arr, o);
	}
	for (uint32_t g = 0; g < ng; g++)
		add_spawned(n, arr, g, &mb);
	goto out;
fail:
	cJSON_Delete(arr);
	arr = NULL;
out:
	for (uint32_t g = 0; mb.by_slot && g < ng; g++)
		free(mb.by_slot[g]);
	free(mb.by_slot);
	free(mb.by_static);
	free(mb.hi);
	return arr;
}
