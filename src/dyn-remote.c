/* SPDX-License-Identifier: MIT */
/*
 * dyn-remote.c - spawned actors across groups: act_spawn() into another
 * group, act_stop/act_monitor/act_demonitor of an actor in another group,
 * children in other groups stopped with their parent, and the node-wide
 * uniqueness of names.
 *
 * The design, in the region's terms (layout.h, "Dynamic actors"):
 *
 * - A slot is claimed by CAS of its record's word from (gen, FREE) to
 *   (gen + 1, RESERVED by the claimer).  Anyone may claim: the group's own
 *   worker (a local spawn, from its private stack of freed slots, or a
 *   fresh one), or another participant spawning into the group (a fresh
 *   slot, taken by raising the area's hi by CAS, else a probe for a FREE
 *   word).  The CAS makes the claim exclusive; the claimer alone writes the
 *   record, and the generation is consumed before any ref can escape.
 *
 * - A cross-group spawner writes the whole record (behaviour, name, args,
 *   parent = the caller) and commits it with one release store of
 *   (gen, PENDING); then it puts an ACT__SYS_SPAWN record into its own
 *   ring to the group, and returns the ref.  Never blocks.
 *
 * - The group starts a PENDING record (CAS PENDING -> LIVE, then init and
 *   Start) on whichever comes first: the spawn record; the first envelope
 *   addressed to the new ref, from anyone (a third party may hold the ref
 *   before the spawn record is read: it came through another ring); or its
 *   own restart.  So every envelope to the ref is delivered after Start,
 *   and the spawner's own ones in the order sent (one FIFO ring carries
 *   the spawn record and them).  The record itself is the truth, the spawn
 *   record only a doorbell: nothing is parked outside the region.
 *
 * - Crashes: the target dying at any point leaves a PENDING record (its
 *   restart starts it) or a LIVE one (re-created as any spawned actor).
 *   The spawner dying between claim and commit leaves a slot RESERVED by
 *   it; its restarted worker frees such slots (act__dyn_release_claims())
 *   before it serves.  A spawner that cannot queue the spawn record (ring
 *   full) takes the record back by CAS PENDING -> FREE and returns the
 *   error; if that CAS loses, the group already started it: success.
 *
 * - Names: a named spawn, local or not, takes the node-wide name lock (a
 *   word in group 1's area: holder + its worker generation; a dead holder's
 *   lock is taken over), checks every static name and every group's name
 *   index (hash -> slot, gen), enters the name in the target group's index
 *   and marks its claim NAMED (or commits it) before it lets go, so two
 *   groups cannot both create a name.  Index entries die with their
 *   record's generation, no one has to remove them.  Lookups never take
 *   the lock.
 *
 * - act_stop/act_monitor/act_demonitor of another group's actor are system
 *   records into that group; it answers a monitor of an actor already gone
 *   with Down "noproc".  Downs travel as ordinary envelopes, each monitor
 *   entry cleared after its Down is queued (dynamic.c).
 *
 * - A parent remembers (in its worker) which other groups it spawned into;
 *   when it ends they get ACT__SYS_STOP_CHILDREN and stop its children
 *   there (their own children first).  It tells them before its own
 *   Shutdown and fini run, as it stops its local children first.  That
 *   memory is rebuilt from the records by a restarted worker
 *   (act__dyn_recall_children()): the records of other groups name their
 *   parent, so a parent re-created after a crash still stops its children
 *   elsewhere.  Across groups the stop is asynchronous: a child there ends
 *   on its own thread, and its Down may reach a watcher after its parent's.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <actors.h>

#include "dyn-remote.h"
#include "grow.h"
#include "log.h"
#include "worker-int.h"

#define PROBES 256u /* FREE slots looked at when no fresh one is left */

/* ---- slot claims (any participant) ---------------------------------------------- */

bool act__dyn_claim_slot(act__shm *shm, uint32_t g, uint32_t s, uint32_t me, uint32_t *gen)
{
	struct act__spawn_rec *r = act__shm_spawn_rec(shm, g, s);
	uint64_t word = atomic_load_explicit(&r->word, memory_order_relaxed);

	if (ACT__SLOT_STATE(word) != ACT__SLOT_FREE)
		return false;
	uint32_t ng = ACT__SLOT_GEN(word) + 1;
	if (!ng)
		ng = 1;
	/* Acq_rel: the record's fields are written after this, never before
	 * (readers skip RESERVED records, and compare generations around a
	 * copy); acquire orders our writes after the previous tenant's end. */
	if (!atomic_compare_exchange_strong_explicit(&r->word, &word,
	                                             ACT__SLOT_WORD(ng, ACT__SLOT_RESERVED_BY(me)),
	                                             memory_order_acq_rel, memory_order_relaxed))
		return false;
	*gen = ng;
	return true;
}

void act__dyn_raise_hi(struct act__dyn_hdr *d, uint32_t to)
{
	uint32_t h = atomic_load_explicit(&d->hi, memory_order_relaxed);
	/* Release: as in act__dyn_claim_fresh(). */
	while (h < to && !atomic_compare_exchange_weak_explicit(&d->hi, &h, to, memory_order_release,
	                                                        memory_order_relaxed))
		;
}

int act__dyn_claim_fresh(act__shm *shm, uint32_t g, uint32_t me, uint32_t *slot, uint32_t *gen)
{
	struct act__dyn_hdr *d = act__shm_dyn(shm, g);
	uint32_t h = atomic_load_explicit(&d->hi, memory_order_relaxed);

	for (;;) {
		if (h >= act__shm_dyn_slots(shm, g))
			return -ENOSPC;
		/* Release: pairs with the acquire loads of hi by readers of the
		 * area; the slot's word guards its record. */
		if (atomic_compare_exchange_weak_explicit(&d->hi, &h, h + 1, memory_order_release,
		                                          memory_order_relaxed))
			break;
	}
	/* Fresh: nobody else can hold it (a slot is claimed from a stack of
	 * freed ones or by a probe only below hi). */
	if (!act__dyn_claim_slot(shm, g, h, me, gen))
		return -ENOSPC;
	*slot = h;
	return 0;
}

/* ---- the node-wide name lock ------------------------------------------------------ */

static void index_rebuild(act__shm *shm, uint32_t p);

/* True if the holder named by lock word `cur` is no longer running. */
static bool holder_gone(const act__shm *shm, uint64_t cur)
{
	uint32_t p = (uint32_t)(cur >> 32);

	if (p == 0 || p > shm->n_parts)
		return true; /* not a word we write */
	if (--p == ACT__SUPERVISOR)
		return false;
	struct act__part *pt = act__shm_part(shm, p);
	uint32_t st = atomic_load_explicit(&pt->state, memory_order_acquire);
	uint64_t gen = atomic_load_explicit(&pt->generation, memory_order_acquire);
	return (uint32_t)gen != (uint32_t)cur || st == ACT__PS_DEAD || st == ACT__PS_BACKOFF ||
	       st == ACT__PS_DOWN;
}

/* A testkit's spawn area stands alone (no region, parts_off 0): one
 * process, one thread, nothing to lock against. */
static bool lone_area(const act__shm *shm)
{
	return shm->parts_off == 0;
}

void act__dyn_name_lock(act__shm *shm, uint32_t me)
{
	if (lone_area(shm))
		return;
	struct act__dyn_hdr *d = act__shm_dyn(shm, 1);
	uint64_t gen = me == ACT__SUPERVISOR ? 0 :
	               atomic_load_explicit(&act__shm_part(shm, me)->generation, memory_order_relaxed);
	uint64_t mine = ((uint64_t)(me + 1) << 32) | (uint32_t)gen;

	for (uint32_t n = 0;; n++) {
		uint64_t cur = 0;
		/* Acquire: pairs with the release in act__dyn_name_unlock(): the
		 * last holder's record writes are visible to our check. */
		if (atomic_compare_exchange_weak_explicit(&d->name_lock, &cur, mine,
		                                          memory_order_acquire, memory_order_relaxed))
			return;
		/* Held for a few microseconds at a time; a holder that died with
		 * it (killed mid-spawn) is seen by its part's state or by a new
		 * generation, and its lock taken over. */
		if (cur && n % 256u == 255u && holder_gone(shm, cur) &&
		    atomic_compare_exchange_strong_explicit(&d->name_lock, &cur, mine,
		                                            memory_order_acquire, memory_order_relaxed)) {
			act__warn("name lock taken over from participant %u (gone)",
			          (unsigned)(cur >> 32) - 1);
			/* It may have died halfway through a rebuild of an index:
			 * redone now, before anyone probes it. */
			for (uint32_t p = 1; p < shm->n_parts; p++)
				if (act__shm_dyn(shm, p)->name_rebuilding)
					index_rebuild(shm, p);
			return;
		}
		if (n > 64)
			sched_yield();
	}
}

void act__dyn_name_unlock(act__shm *shm)
{
	if (lone_area(shm))
		return;
	atomic_store_explicit(&act__shm_dyn(shm, 1)->name_lock, 0, memory_order_release);
}

/* ---- the behaviours a group knows (struct act__dyn_known) ------------------------ */

static struct act__dyn_known *known_of(const act__shm *shm, uint32_t g)
{
	return (struct act__dyn_known *)((unsigned char *)act__shm_dyn(shm, g) + 64u);
}

void act__dyn_publish_behaviours(act__shm *shm, uint32_t g, const struct act__registry *reg)
{
	struct act__dyn_known *k = known_of(shm, g);
	uint32_t n = reg->n_behaviours;

	if (n > ACT__DYN_KNOWN_MAX) {
		/* Release: as below; too many to list, so none is checked. */
		atomic_store_explicit(&k->n, ACT__DYN_KNOWN_MAX + 1u, memory_order_release);
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		const char *name = reg->behaviours[i]->name;
		atomic_store_explicit(&k->hash[i], act__fnv1a(ACT__FNV_SEED, name, strlen(name)),
		                      memory_order_relaxed);
	}
	/* Release: pairs with the acquire in act__dyn_behaviour_known(): a
	 * reader that sees n sees the n hashes before it.  A group with no
	 * spawnable behaviour publishes that too (n = 0 would read "not
	 * published"), as one impossible hash. */
	if (!n)
		atomic_store_explicit(&k->hash[n++], 0, memory_order_relaxed);
	atomic_store_explicit(&k->n, n, memory_order_release);
}

bool act__dyn_behaviour_known(const act__shm *shm, uint32_t g, const char *name)
{
	struct act__dyn_known *k = known_of(shm, g);
	uint32_t n = atomic_load_explicit(&k->n, memory_order_acquire);
	uint64_t h = act__fnv1a(ACT__FNV_SEED, name, strlen(name));

	if (n == 0 || n > ACT__DYN_KNOWN_MAX || lone_area(shm))
		return true; /* not published (yet): the group checks */
	for (uint32_t i = 0; i < n; i++)
		if (atomic_load_explicit(&k->hash[i], memory_order_relaxed) == h)
			return true;
	return false;
}

static uint32_t name_hash(const char *name)
{
	return (uint32_t)act__fnv1a(ACT__FNV_SEED, name, strlen(name));
}

static struct act__name_ent *name_index(const act__shm *shm, uint32_t p)
{
	return (struct act__name_ent *)((unsigned char *)act__shm_dyn(shm, p) + 4096u);
}

/* Entries of group p's name index (a power of two). */
static uint32_t name_idx_n(const act__shm *shm, uint32_t p)
{
	return act__dyn_name_idx(act__shm_dyn_slots(shm, p));
}

/* True if index entry e of group p still names a record (copied to copy). */
static bool entry_counts(const act__shm *shm, uint32_t p, const struct act__name_ent *e,
                         char copy[ACT_NAME_MAX + 1])
{
	if (!e->slot1 || e->slot1 > act__shm_dyn_slots(shm, p))
		return false;
	struct act__spawn_rec *r = act__shm_spawn_rec(shm, p, e->slot1 - 1);
	uint64_t w1 = atomic_load_explicit(&r->word, memory_order_acquire);
	uint32_t st = ACT__SLOT_STATE(w1);
	/* A claim not NAMED yet is a later anonymous tenant's (the gen would
	 * differ too), or a named spawn that died before marking it. */
	if (ACT__SLOT_GEN(w1) != e->gen || st == ACT__SLOT_FREE ||
	    (ACT__SLOT_IS_RESERVED(st) && !(st & ACT__SLOT_NAMED)))
		return false;
	/* The slot may be freed and claimed anonymously meanwhile (no lock):
	 * the copy is good if the generation did not move. */
	memcpy(copy, r->name, ACT_NAME_MAX + 1);
	atomic_thread_fence(memory_order_acquire);
	if (ACT__SLOT_GEN(atomic_load_explicit(&r->word, memory_order_relaxed)) != e->gen)
		return false;
	copy[ACT_NAME_MAX] = '\0';
	return true;
}

bool act__dyn_name_in_use(act__shm *shm, const struct act__registry *reg, const char *name)
{
	char copy[ACT_NAME_MAX + 1];
	uint32_t h = name_hash(name);

	if (act__reg_find_actor(reg, name) >= 0)
		return true;
	for (uint32_t p = 1; p < shm->n_parts; p++) {
		struct act__name_ent *idx = name_index(shm, p);
		uint32_t n_idx = name_idx_n(shm, p);
		for (uint32_t n = 0, i = h; n < n_idx; n++, i++) {
			const struct act__name_ent *e = &idx[i & (n_idx - 1)];
			if (!e->slot1)
				break;
			if (e->hash == h && entry_counts(shm, p, e, copy) && !strcmp(copy, name))
				return true;
		}
	}
	return false;
}

int act__dyn_name_find(act__shm *shm, uint32_t me, const char *name, uint32_t *g,
                       uint32_t *slot, uint32_t *gen, char behaviour[ACT_NAME_MAX + 1],
                       uint32_t *flags)
{
	char copy[ACT_NAME_MAX + 1];
	uint32_t h = name_hash(name);
	int rc = -ENOENT;

	act__dyn_name_lock(shm, me);
	for (uint32_t p = 1; p < shm->n_parts && rc; p++) {
		struct act__name_ent *idx = name_index(shm, p);
		uint32_t n_idx = name_idx_n(shm, p);
		for (uint32_t n = 0, i = h; n < n_idx && rc; n++, i++) {
			const struct act__name_ent *e = &idx[i & (n_idx - 1)];
			if (!e->slot1)
				break;
			if (e->hash != h || !entry_counts(shm, p, e, copy) || strcmp(copy, name))
				continue;
			struct act__spawn_rec *r = act__shm_spawn_rec(shm, p, e->slot1 - 1);
			uint32_t st = ACT__SLOT_STATE(atomic_load_explicit(&r->word, memory_order_acquire));
			if (st != ACT__SLOT_LIVE && st != ACT__SLOT_PENDING)
				break; /* being spawned: no ref yet */
			*g = p;
			*slot = e->slot1 - 1;
			*gen = e->gen;
			*flags = r->flags;
			memcpy(behaviour, r->behaviour, ACT_NAME_MAX);
			behaviour[ACT_NAME_MAX] = '\0';
			rc = 0;
		}
	}
	act__dyn_name_unlock(shm);
	return rc;
}

/* Puts (h, slot, gen) into the first entry of group p's index that no
 * longer counts: live ones are at most the group's capacity, at most half
 * the table, so one is always found. */
static void index_put(act__shm *shm, uint32_t p, uint32_t h, uint32_t slot, uint32_t gen)
{
	char copy[ACT_NAME_MAX + 1];
	struct act__name_ent *idx = name_index(shm, p);
	struct act__dyn_hdr *d = act__shm_dyn(shm, p);
	uint32_t n_idx = name_idx_n(shm, p);

	for (uint32_t n = 0, i = h; n < n_idx; n++, i++) {
		struct act__name_ent *e = &idx[i & (n_idx - 1)];
		if (e->slot1 && entry_counts(shm, p, e, copy))
			continue;
		if (!e->slot1)
			d->name_used++;
		e->hash = h;
		e->gen = gen;
		e->slot1 = slot + 1;
		return;
	}
	act__err("name index of group %u is full; a name is not guarded against duplicates", p);
}

/*
 * Empties group p's name index and enters again every named record that
 * counts (live, pending, or reserved and NAMED): dead entries go, and with
 * them the long probes through them.  From the records, not the old
 * entries, so that a holder killed halfway leaves nothing that the next
 * rebuild cannot redo (name_rebuilding says one must).  Under the lock;
 * O(hi), once per n_idx / 4 inserts at least.
 */
static void index_rebuild(act__shm *shm, uint32_t p)
{
	struct act__dyn_hdr *d = act__shm_dyn(shm, p);
	struct act__name_ent *idx = name_index(shm, p);
	uint32_t n_idx = name_idx_n(shm, p);
	uint32_t hi = act__shm_dyn_hi(shm, p);
	char copy[ACT_NAME_MAX + 1];

	d->name_rebuilding = 1;
	/* The compiler must not sink the flag below the clearing: a death in
	 * between is what it is for (the lock's release orders it for the
	 * next holder). */
	atomic_signal_fence(memory_order_seq_cst);
	memset(idx, 0, (size_t)n_idx * sizeof *idx);
	d->name_used = 0;
	for (uint32_t s = 0; s < hi; s++) {
		struct act__spawn_rec *r = act__shm_spawn_rec(shm, p, s);
		uint64_t w1 = atomic_load_explicit(&r->word, memory_order_acquire);
		uint32_t st = ACT__SLOT_STATE(w1);
		if (st == ACT__SLOT_FREE || (ACT__SLOT_IS_RESERVED(st) && !(st & ACT__SLOT_NAMED)))
			continue;
		/* Copied between two looks at the word, as in entry_counts():
		 * the owner may free the slot and an anonymous spawn (which
		 * takes no lock) claim it meanwhile. */
		memcpy(copy, r->name, sizeof copy);
		atomic_thread_fence(memory_order_acquire);
		if (ACT__SLOT_GEN(atomic_load_explicit(&r->word, memory_order_relaxed)) !=
		    ACT__SLOT_GEN(w1))
			continue;
		copy[ACT_NAME_MAX] = '\0';
		if (copy[0] == '$' || !copy[0])
			continue; /* anonymous: never in the index */
		index_put(shm, p, name_hash(copy), s, ACT__SLOT_GEN(w1));
	}
	atomic_signal_fence(memory_order_seq_cst);
	d->name_rebuilding = 0;
}

void act__dyn_name_index(act__shm *shm, uint32_t p, const char *name, uint32_t slot,
                         uint32_t gen)
{
	struct act__dyn_hdr *d = act__shm_dyn(shm, p);
	uint32_t n_idx = name_idx_n(shm, p);

	/* Too many filled entries (dead ones mostly, once unique names
	 * have come and gone): rebuild before this insert. */
	if (d->name_used >= n_idx - n_idx / 4u || d->name_rebuilding)
		index_rebuild(shm, p);
	index_put(shm, p, name_hash(name), slot, gen);
}

/* ---- this worker's bookkeeping ------------------------------------------------------ */

/* A local actor that spawned into other groups: which ones. */
struct rparent {
	uint32_t idx, gen;
	uint64_t groups[ACT__READY_WORDS];
};

/* A monitor this worker's actor holds on a static actor of another
 * group: that group's worker keeps the watch, and dies with it.  If the
 * group dies for good, the supervisor says so (ACT__SYS_GROUP_GONE) and
 * the Down is made here from this entry. */
struct rmon {
	uint64_t mid;
	uint32_t watcher, watcher_gen; /* actors[] index of the watcher, its gen */
	uint32_t target, target_gen;   /* the static actor's id, the ref's gen */
	uint32_t group;
	uint32_t part_gen;             /* the group's worker generation when taken */
	/* A spawned target's name when taken: its slot may hold another
	 * tenant by the time a Down is made here (gone_downs()). */
	char name[ACT_NAME_MAX + 1];
};

/* A restart of group g's worker, its Downs not yet made (group_gone()),
 * and how its last worker ended if it is gone for good. */
struct restarted {
	uint64_t tail;       /* read the ring from g up to here first */
	uint32_t gen;        /* monitors taken at or before this generation end */
	int32_t sig, exit;   /* how that worker ended */
	int32_t gone_sig, gone_exit; /* gone for good: how (0, 0: not said) */
};

struct act__dynx {
	struct rparent *v;
	uint32_t n, cap;
	struct rmon *m;
	uint32_t n_m, cap_m;
	/* m[] by monitor id: open addressing, linear probing, note index + 1
	 * (0: empty), at most half full.  Every Down from another group looks
	 * its note up; a scan of m[] made a watcher with many monitors
	 * quadratic (an outside attack: 120,000 Downs took 9.9 s). */
	uint32_t *ix;
	uint32_t ix_mask;
	uint64_t gone[ACT__READY_WORDS]; /* groups gone for good, their Downs not yet made */
	uint64_t restart[ACT__READY_WORDS]; /* groups restarted, the same (rs[g] says which) */
	struct restarted *rs;              /* n_parts entries, made at first use */
	bool any_gone;
};

void act__dyn_see(struct worker *w, uint32_t upto)
{
	if (upto > w->dyn_cap)
		upto = w->dyn_cap;
	for (uint32_t s = w->dyn_seen; s < upto; s++)
		if (!w->actors[w->n_local + s].def)
			act__dyn_touch(w, &w->actors[w->n_local + s]);
	if (upto > w->dyn_seen)
		w->dyn_seen = upto;
}

void act__dyn_remote_teardown(struct worker *w)
{
	if (w->dynx) {
		free(w->dynx->v);
		free(w->dynx->m);
		free(w->dynx->ix);
		free(w->dynx->rs);
	}
	free(w->dynx);
	w->dynx = NULL;
}

static void remember_child_group(struct worker *w, const struct actor *me, uint32_t g)
{
	struct act__dynx *x = w->dynx;
	uint32_t idx = (uint32_t)(me - w->actors);

	if (!x && !(x = w->dynx = calloc(1, sizeof *x)))
		goto oom;
	for (uint32_t i = 0; i < x->n; i++)
		if (x->v[i].idx == idx && x->v[i].gen == me->gen) {
			x->v[i].groups[g / 64u] |= 1ull << (g % 64u);
			return;
		}
	if (x->n == x->cap) {
		uint32_t cap = x->cap ? 2 * x->cap : 16;
		struct rparent *v = realloc(x->v, cap * sizeof *v);
		if (!v)
			goto oom;
		x->v = v;
		x->cap = cap;
	}
	x->v[x->n] = (struct rparent){ .idx = idx, .gen = me->gen };
	x->v[x->n++].groups[g / 64u] |= 1ull << (g % 64u);
	return;
oom:
	act__warn_every("out of memory: actor '%s' will not stop its children in other groups",
	                me->def->name);
}

/* ---- system records ---------------------------------------------------------------- */

static int send_sys_flags(struct worker *w, uint32_t g, uint32_t code, uint16_t flags,
                          uint32_t to, uint32_t to_gen, uint32_t from, uint32_t from_gen,
                          uint64_t corr)
{
	int err;
	/* A monitor says which worker of ours took it (our generation): its
	 * target frees the entry once that worker has ended (dynamic.c,
	 * static_mon_room()). */
	uint32_t pgen = 0;
	uint32_t len = (uint32_t)sizeof(struct act__env) + (code == ACT__SYS_MONITOR ? sizeof pgen : 0);

	if (w->tk) /* a testkit runs one group */
		return -EOPNOTSUPP;
	if ((err = act__part_refuses(w->parts[g]))) /* removed, or gone */
		return err;
	struct act__env *e = act__ring_reserve(&w->out[g], len, &err);
	if (!e)
		return err;
	act__env_write(e, ACT__REC_SYS, len,
	               &(struct act__route){ .type = code, .to = to, .to_gen = to_gen,
	                                     .from = from, .from_gen = from_gen, .corr = corr });
	if (code == ACT__SYS_MONITOR) {
		pgen = (uint32_t)atomic_load_explicit(&w->part->generation, memory_order_relaxed);
		memcpy(e + 1, &pgen, sizeof pgen);
	}
	e->rec.flags = flags;
	act__ring_commit(&w->out[g], e);
	act__w_notify(w, g);
	return 0;
}

static int send_sys(struct worker *w, uint32_t g, uint32_t code, uint32_t to, uint32_t to_gen,
                    uint32_t from, uint32_t from_gen, uint64_t corr)
{
	return send_sys_flags(w, g, code, 0, to, to_gen, from, from_gen, corr);
}

/* ---- the caller's side ---------------------------------------------------------------- */

int act__dyn_check_spawn(const char *name, const char *args_json, size_t *args_len)
{
	*args_len = 0;
	if (name && (!act__name_ok(name) || name[0] == '$' || act__actor_name_problem(name)))
		return -EINVAL;
	if (args_json) {
		*args_len = strlen(args_json);
		if (*args_len > ACT_SPAWN_ARGS_MAX)
			return -EMSGSIZE;
		cJSON *j = cJSON_ParseWithLength(args_json, *args_len);
		if (!j)
			return -EINVAL;
		cJSON_Delete(j);
	}
	return 0;
}

int act__dyn_post_spawn(act__shm *shm, const struct act__registry *reg, uint32_t me,
                        act__ring_h *ring, uint32_t g, const act_behaviour *b, const char *name,
                        const char *args_json, size_t args_len, uint32_t parent,
                        uint32_t parent_gen, act_ref *out)
{
	uint32_t slot = 0, gen = 0, seed = (uint32_t)(uintptr_t)out ^ (uint32_t)args_len;
	int err;

	/* A reload removed the group, or it is gone: nobody would start it. */
	if ((err = act__part_refuses(act__shm_part(shm, g))))
		return err;

	if (!act__dyn_behaviour_known(shm, g, b->name))
		return -ENOENT;
	if (name) {
		act__dyn_name_lock(shm, me);
		if (act__dyn_name_in_use(shm, reg, name)) {
			act__dyn_name_unlock(shm);
			return -EEXIST;
		}
	}
	err = act__dyn_claim_fresh(shm, g, me, &slot, &gen);
	if (err) {
		/* No fresh slot: look for a freed one, from a moving start. */
		static _Thread_local uint32_t cursor;
		uint32_t cap = act__shm_dyn_slots(shm, g);
		uint32_t start = (cursor += 7919u + seed) % cap;
		for (uint32_t i = 0; i < PROBES && err; i++) {
			slot = (uint32_t)((start + (uint64_t)i * 7919u) % cap);
			if (act__dyn_claim_slot(shm, g, slot, me, &gen))
				err = 0;
		}
	}
	if (err) {
		if (name)
			act__dyn_name_unlock(shm);
		return -ENOSPC;
	}
	struct act__spawn_rec *r = act__shm_spawn_rec(shm, g, slot);
	if (name)
		act__dyn_name_index(shm, g, name, slot, gen);
	r->parent = parent;
	r->parent_gen = parent_gen;
	r->restart = (uint8_t)b->restart;
	r->flags = b->remote ? ACT__SPAWN_REMOTE : 0;
	r->args_len = (uint16_t)args_len;
	/* The last tenant's monitors were all cleared at its end (in its
	 * group), so the ext block's entries need not be touched. */
	r->n_mon = 0;
	/* Relaxed: the commit below publishes it. */
	atomic_store_explicit(&r->mon_claims, ACT__MON_CLAIMS(gen, 0), memory_order_relaxed);
	snprintf(r->behaviour, sizeof r->behaviour, "%s", b->name);
	if (name)
		snprintf(r->name, sizeof r->name, "%s", name);
	else
		act__dyn_anon_name(r->name, sizeof r->name, g, slot, gen);
	if (!args_json) {
		r->has_args = ACT__ARGS_NONE;
	} else if (args_len < sizeof r->args) {
		r->has_args = ACT__ARGS_INLINE;
		memcpy(r->args, args_json, args_len + 1);
	} else {
		r->has_args = ACT__ARGS_EXT;
		memcpy(act__shm_spawn_ext(shm, g, slot)->args, args_json, args_len + 1);
	}
	/* The commit.  Release: pairs with the acquire loads of the word by
	 * the group (start, restore) and by lookups: PENDING means whole. */
	atomic_store_explicit(&r->word, ACT__SLOT_WORD(gen, ACT__SLOT_PENDING), memory_order_release);
	if (name)
		act__dyn_name_unlock(shm);

	uint32_t id = act__dyn_id(shm, g, slot);
	struct act__env *e = act__ring_reserve(ring, (uint32_t)sizeof *e, &err);
	if (e) {
		act__env_write(e, ACT__REC_SYS, (uint32_t)sizeof *e,
		               &(struct act__route){ .type = ACT__SYS_SPAWN, .to = id, .to_gen = gen,
		                                     .from = parent, .from_gen = parent_gen });
		act__ring_commit(ring, e);
	} else {
		uint64_t exp = ACT__SLOT_WORD(gen, ACT__SLOT_PENDING);
		/* Take it back, unless the group (restarting) started it already. */
		if (atomic_compare_exchange_strong_explicit(&r->word, &exp,
		                                            ACT__SLOT_WORD(gen, ACT__SLOT_FREE),
		                                            memory_order_acq_rel,
		                                            memory_order_relaxed))
			return err;
	}
	*out = (act_ref){ id + 1, 0, gen };
	return 0;
}

int act__dyn_spawn_remote(struct worker *w, uint32_t g, const act_behaviour *b,
                          const char *name, const char *args_json, size_t args_len,
                          act_ref *out)
{
	struct actor *me = w->ctx.actor;
	int err;

	if (w->tk) /* a testkit runs one group */
		return -EOPNOTSUPP;
	err = act__dyn_post_spawn(&w->shm, w->reg, w->self, &w->out[g], g, b, name, args_json,
	                          args_len, me->id + 1, me->gen, out);
	if (err)
		return err;
	act__w_notify(w, g);
	remember_child_group(w, me, g);
	return 0;
}

/* True if the record of spawned actor ref `who` (another group's) says
 * it is pending or live. */
static bool remote_alive(struct worker *w, uint32_t g, act_ref who)
{
	struct act__spawn_rec *r = act__shm_spawn_rec(&w->shm, g, act__dyn_slot_of(&w->shm, who.id - 1));
	uint64_t word = atomic_load_explicit(&r->word, memory_order_acquire);
	return word == ACT__SLOT_WORD(who.gen, ACT__SLOT_LIVE) ||
	       word == ACT__SLOT_WORD(who.gen, ACT__SLOT_PENDING);
}

int act__dyn_stop_remote(struct worker *w, act_ref who)
{
	uint32_t id = who.id - 1, g = act__w_group_of(w, id);

	if (act__is_dyn_id(id) && !remote_alive(w, g, who))
		return -ENOENT;
	if (w->in_fini)
		return ACT_ESTOPPED;
	/* Records that wait in this worker for room in g's ring (Downs,
	 * answers) go first, or the stop would overtake what this worker
	 * sent the actor before it: an answer would find it gone.  Still
	 * waiting: ACT_EFULL, as for act_send(). */
	if (__builtin_expect(w->n_dw != 0, 0) && act__dyn_downs_ahead(w, g))
		return ACT_EFULL;
	return send_sys(w, g, ACT__SYS_STOP, id, who.gen, w->ctx.actor->id + 1, w->ctx.actor->gen,
	                0);
}

int act__dyn_mon_claim(struct act__spawn_rec *r, uint32_t gen, uint32_t extra)
{
	uint64_t word = atomic_load_explicit(&r->word, memory_order_acquire);
	uint32_t st = ACT__SLOT_STATE(word);

	if (ACT__SLOT_GEN(word) != gen || (st != ACT__SLOT_LIVE && st != ACT__SLOT_PENDING))
		return -1;
	/* Acquire: pairs with the release commit that published the reset
	 * of the count (a LIVE or PENDING word of gen, loaded above). */
	uint16_t v = atomic_load_explicit(&r->mon_claims, memory_order_acquire);
	for (;;) {
		if ((v >> 8) != (gen & 0xffu))
			return -1; /* another tenant's count: the ref is stale */
		if ((v & 0xffu) >= ACT__SPAWN_MONITORS + extra)
			return 0;
		/* Relaxed is enough: the count guards nothing else. */
		if (atomic_compare_exchange_weak_explicit(&r->mon_claims, &v, (uint16_t)(v + 1),
		                                          memory_order_relaxed, memory_order_relaxed))
			return 1;
	}
}

void act__dyn_mon_release(struct act__spawn_rec *r, uint32_t gen)
{
	uint16_t v = atomic_load_explicit(&r->mon_claims, memory_order_relaxed);

	while ((v >> 8) == (gen & 0xffu) && (v & 0xffu) &&
	       !atomic_compare_exchange_weak_explicit(&r->mon_claims, &v, (uint16_t)(v - 1),
	                                              memory_order_relaxed, memory_order_relaxed))
		;
}

/* ---- monitors of static actors in other groups ------------------------------------- */

static struct act__dynx *dynx_get(struct worker *w)
{
	if (!w->dynx)
		w->dynx = calloc(1, sizeof *w->dynx);
	return w->dynx;
}

/* The name of actor id (of generation gen) of group g, for a Down. */
static void target_name(struct worker *w, char *buf, size_t cap, uint32_t g, uint32_t id,
                        uint32_t gen)
{
	if (!act__is_dyn_id(id)) {
		snprintf(buf, cap, "%s", id < w->reg->n_actors ? w->reg->actors[id].name : "?");
		return;
	}
	uint32_t s = act__dyn_slot_of(&w->shm, id);
	struct act__spawn_rec *r = act__shm_spawn_rec(&w->shm, g, s);
	char name[ACT_NAME_MAX + 1];
	/* The record may hold a later tenant by now: its name only if the
	 * word read the same, of that generation, around the copy. */
	uint64_t word = atomic_load_explicit(&r->word, memory_order_acquire);
	memcpy(name, r->name, sizeof name - 1);
	name[sizeof name - 1] = '\0';
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&r->word, memory_order_relaxed) == word &&
	    ACT__SLOT_GEN(word) == gen && name[0])
		snprintf(buf, cap, "%s", name);
	else
		act__dyn_anon_name(buf, cap, g, s, gen);
}

/* True if entry m's watcher has ended (or its slot holds another actor). */
static bool rmon_stale(const struct worker *w, const struct rmon *m)
{
	const struct actor *a = &w->actors[m->watcher];
	return a->stopped || a->gen != m->watcher_gen;
}

static uint32_t rmon_hash(uint64_t mid)
{
	mid ^= mid >> 33;
	mid *= 0xff51afd7ed558ccdull;
	mid ^= mid >> 33;
	return (uint32_t)mid;
}

static void rmon_ix_put(struct act__dynx *x, uint32_t i)
{
	uint32_t s = rmon_hash(x->m[i].mid) & x->ix_mask;
	while (x->ix[s])
		s = (s + 1) & x->ix_mask;
	x->ix[s] = i + 1;
}

/* Fills the index from the notes. */
static void rmon_ix_fill(struct act__dynx *x)
{
	memset(x->ix, 0, ((size_t)x->ix_mask + 1u) * sizeof *x->ix);
	for (uint32_t i = 0; i < x->n_m; i++)
		rmon_ix_put(x, i);
}

/* An index for cap_m notes, filled.  0 or -ENOMEM (the old one stays). */
static int rmon_ix_build(struct act__dynx *x)
{
	uint32_t size = 16;
	while (size < 2 * x->cap_m)
		size *= 2;
	uint32_t *ix = malloc(size * sizeof *ix);
	if (!ix)
		return -ENOMEM;
	free(x->ix);
	x->ix = ix;
	x->ix_mask = size - 1;
	rmon_ix_fill(x);
	return 0;
}

/* The index slot of note i (which is in the index). */
static uint32_t rmon_ix_slot(const struct act__dynx *x, uint32_t i)
{
	uint32_t s = rmon_hash(x->m[i].mid) & x->ix_mask;
	while (x->ix[s] != i + 1)
		s = (s + 1) & x->ix_mask;
	return s;
}

/* Empties slot s, moving back the entries after it that may (linear
 * probing without tombstones): each must stay reachable from its hash. */
static void rmon_ix_clear(struct act__dynx *x, uint32_t s)
{
	uint32_t mask = x->ix_mask;
	x->ix[s] = 0;
	for (uint32_t j = (s + 1) & mask; x->ix[j]; j = (j + 1) & mask) {
		uint32_t h = rmon_hash(x->m[x->ix[j] - 1].mid) & mask;
		/* It may move to s unless its home lies cyclically in (s, j]. */
		if (((j - h) & mask) >= ((j - s) & mask)) {
			x->ix[s] = x->ix[j];
			x->ix[j] = 0;
			s = j;
		}
	}
}

/* Removes note i (the last one takes its place). */
static void rmon_remove(struct act__dynx *x, uint32_t i)
{
	uint32_t last = x->n_m - 1;
	rmon_ix_clear(x, rmon_ix_slot(x, i));
	if (i != last) {
		uint32_t s = rmon_ix_slot(x, last);
		x->m[i] = x->m[last];
		x->ix[s] = i + 1;
	}
	x->n_m--;
}

static int rmon_add(struct worker *w, const struct actor *me, uint64_t mid, uint32_t target,
                    uint32_t target_gen, uint32_t g)
{
	struct act__dynx *x = dynx_get(w);

	if (!x)
		return -ENOMEM;
	if (x->n_m == x->cap_m) {
		/* Full: first drop the entries of watchers that have ended. */
		uint32_t k = 0;
		for (uint32_t i = 0; i < x->n_m; i++)
			if (!rmon_stale(w, &x->m[i]))
				x->m[k++] = x->m[i];
		if (k != x->n_m) {
			x->n_m = k;
			rmon_ix_fill(x); /* the notes moved */
		}
	}
	if (x->n_m == x->cap_m) {
		uint32_t cap = x->cap_m ? 2 * x->cap_m : 16;
		struct rmon *v = realloc(x->m, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		x->m = v;
		uint32_t old = x->cap_m;
		x->cap_m = cap;
		if (rmon_ix_build(x)) {
			x->cap_m = old; /* the index fits the old capacity only */
			return -ENOMEM;
		}
	}
	/* Acquire: a generation bumped for a worker started after the one
	 * whose death we may hear of; the monitor then goes to the new one.
	 * (watches_others is set already: act__dyn_monitor_remote().) */
	uint32_t pgen = (uint32_t)atomic_load_explicit(&w->parts[g]->generation,
	                                               memory_order_acquire);
	struct rmon *m = &x->m[x->n_m++];
	*m = (struct rmon){ .mid = mid, .watcher = (uint32_t)(me - w->actors),
	                    .watcher_gen = me->gen, .target = target, .target_gen = target_gen,
	                    .group = g, .part_gen = pgen };
	if (act__is_dyn_id(target))
		target_name(w, m->name, sizeof m->name, g, target, target_gen);
	rmon_ix_put(x, x->n_m - 1);
	return 0;
}

/* The index of monitor mid's note, or -1. */
static int32_t rmon_find(const struct worker *w, uint64_t mid)
{
	const struct act__dynx *x = w->dynx;

	if (!x || !x->ix)
		return -1;
	for (uint32_t s = rmon_hash(mid) & x->ix_mask; x->ix[s]; s = (s + 1) & x->ix_mask)
		if (x->m[x->ix[s] - 1].mid == mid)
			return (int32_t)(x->ix[s] - 1);
	return -1;
}

static void rmon_forget(struct worker *w, uint64_t mid)
{
	int32_t i = rmon_find(w, mid);

	if (i >= 0)
		rmon_remove(w->dynx, (uint32_t)i);
}

bool act__dyn_down_arrived(struct worker *w, uint32_t ring_from, const struct act__env *e)
{
	struct act__dynx *x = w->dynx;
	uint32_t target = e->from - 1;

	/* A Down made here (noproc, or for a group gone) comes on our own
	 * ring, and one from a peer is not a record of ours. */
	if (ring_from == w->self || !e->from || e->from_peer ||
	    e->type != act__reg_type_id(w->reg, &act_down_type))
		return true;
	bool dyn = act__is_dyn_id(target);
	/* The supervisor speaks for the spawned actors of a group that will
	 * not run again (group.c); for anything else the watched actor's own
	 * group does. */
	if (ring_from == ACT__SUPERVISOR && !dyn)
		return true;
	uint32_t g = dyn ? act__dyn_group_of(&w->shm, target) : ring_from;
	/* A Down carries its monitor's id (corr): with two monitors of one
	 * actor, one taken before a restart of its group and one after,
	 * only the id tells which one this Down ends.  A Down without one
	 * (from a worker of an older build) ends the first that matches. */
	if (x && x->ix && e->corr) {
		for (uint32_t s = rmon_hash(e->corr) & x->ix_mask; x->ix[s];
		     s = (s + 1) & x->ix_mask) {
			uint32_t i = x->ix[s] - 1;
			struct rmon *m = &x->m[i];
			if (m->mid == e->corr && m->group == g && m->target == target &&
			    w->actors[m->watcher].id == e->to && m->watcher_gen == e->to_gen) {
				rmon_remove(x, i);
				return true;
			}
		}
	}
	for (uint32_t i = 0; x && !e->corr && i < x->n_m; i++) {
		struct rmon *m = &x->m[i];
		if (m->group == g && m->target == target &&
		    w->actors[m->watcher].id == e->to && m->watcher_gen == e->to_gen) {
			rmon_remove(x, i);
			return true;
		}
	}
	/* No note for a Down that names its monitor: this worker holds no
	 * such monitor.  An earlier worker of our group took it (a watcher
	 * restarted with its worker loses its monitors), or we removed it
	 * (act_demonitor(), or a restart of a static actor's group, or the
	 * end of a spawned actor's group, already gave its Down).  No Down
	 * is owed. */
	return !(e->corr && act__dyn_is_remote_monitor(e->corr) &&
	         (dyn || target < w->reg->n_actors));
}

/*
 * Makes the Downs of the monitors into group g: gone for good (rs NULL),
 * or restarted (those taken while the worker of generation rs->gen or an
 * earlier one ran).  The reason says how the worker ended (sig, exit), or
 * "group stopped" / "group restarted" for a clean end or one not said.
 */
static bool gone_downs(struct worker *w, uint32_t g, const struct restarted *rs, int32_t sig,
                       int32_t exit_code)
{
	struct act__dynx *x = w->dynx;
	uint32_t sent = 0;
	bool done = true;
	char why[48];

	act__death_reason(why, sizeof why, sig, exit_code, rs ? "group restarted" : "group stopped");
	for (uint32_t i = 0; i < x->n_m;) {
		struct rmon m = x->m[i];
		/* Serial order: a generation after rs->gen is a later worker's. */
		if (m.group != g || (rs && (int32_t)(m.part_gen - rs->gen) > 0)) {
			i++;
			continue;
		}
		/* A spawned actor's monitors outlive a restart of its group
		 * (they live in its record): they end with the actor, whose
		 * Down its worker sends - or its restore, if it was lost.  One
		 * that ended before, its Down still waiting in the dead worker
		 * for room in our ring, is gone with no Down on its way: it is
		 * made here, saying how that worker ended (as a lost actor's
		 * would; if the restore's comes first, this note is gone). */
		if (rs && act__is_dyn_id(m.target) && !act__dyn_tenant_gone(&w->shm, g, m.target, m.target_gen)) {
			i++;
			continue;
		}
		if (!rmon_stale(w, &m)) {
			const struct actor *a = &w->actors[m.watcher];
			char name[ACT_NAME_MAX + 1];
			if (m.name[0])
				memcpy(name, m.name, sizeof name);
			else
				target_name(w, name, sizeof name, g, m.target, m.target_gen);
			/* Our own ring full (a watcher holds more monitors than it
			 * takes Downs): the rest wait for the next round, after
			 * this one drained it; the entry stays until then. */
			if (act__dyn_try_down(w, a->id + 1, a->gen, m.mid, name, m.target, m.target_gen,
			                      why) == ACT_EFULL) {
				done = false;
				break;
			}
			sent++;
		}
		rmon_remove(x, i);
	}
	if (sent)
		act__info("group %u %s: Down '%s' made for %u monitors of its actors%s", g,
		          rs ? "restarts" : "is gone for good", why, sent,
		          done ? "" : " (more when its ring has room)");
	return done;
}

/* True once we read what group g's dead worker sent us: up to `tail`
 * (0: anything), or nothing more will be read (quarantined, untouched). */
static bool read_up_to(struct worker *w, uint32_t g, uint64_t tail)
{
	uint64_t bit = 1ull << (g % 64u);

	if ((w->quarantined[g / 64u] & bit) || !act__shm_ring_touched(&w->shm, g, w->self))
		return true;
	if (tail ? w->in[g].done >= tail : !act__ring_nonempty(&w->in[g]))
		return true;
	w->pending[g / 64u] |= bit;
	return false;
}

void act__dyn_gone_flush(struct worker *w)
{
	struct act__dynx *x = w->dynx;

	if (!x || !x->any_gone)
		return;
	x->any_gone = false;
	for (unsigned k = 0; k < ACT__READY_WORDS; k++) {
		/* What the dead worker put in its ring to us is read first: a
		 * Down there clears its entry; no more will come from it. */
		for (uint64_t bits = x->restart[k]; bits; bits &= bits - 1) {
			uint32_t g = k * 64u + (uint32_t)__builtin_ctzll(bits);
			if (!read_up_to(w, g, x->rs[g].tail)) {
				x->any_gone = true;
				continue;
			}
			if (!gone_downs(w, g, &x->rs[g], x->rs[g].sig, x->rs[g].exit)) {
				x->any_gone = true;
				continue;
			}
			x->restart[k] &= ~(1ull << (g % 64u));
		}
		for (uint64_t bits = x->gone[k]; bits; bits &= bits - 1) {
			uint32_t g = k * 64u + (uint32_t)__builtin_ctzll(bits);
			if (!read_up_to(w, g, 0)) {
				x->any_gone = true;
				continue;
			}
			if (!gone_downs(w, g, NULL, x->rs ? x->rs[g].gone_sig : 0,
			                x->rs ? x->rs[g].gone_exit : 0)) {
				x->any_gone = true;
				continue;
			}
			x->gone[k] &= ~(1ull << (g % 64u));
		}
	}
}

/* ACT__SYS_GROUP_GONE from the supervisor: group e->to will not run again. */
static void group_gone(struct worker *w, const struct act__env *e)
{
	struct act__dynx *x = w->dynx;
	uint32_t g = e->to;

	if (g == 0 || g >= w->n_parts || g == w->self) {
		atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
		act__warn_every("group-gone record for participant %u ignored", g);
		return;
	}
	if (!x || !x->n_m)
		return; /* no monitor of ours into it */
	if (!x->rs && (e->rec.flags & (ACT__GONE_RESTART | ACT__GONE_CAUSE)) &&
	    !(x->rs = calloc(w->n_parts, sizeof *x->rs))) {
		act__err_every("group %u's end not followed: out of memory; its monitors' Downs "
		               "come when it stops for good, saying only that", g);
		if (e->rec.flags & ACT__GONE_RESTART)
			return;
	}
	if (e->rec.flags & ACT__GONE_RESTART) {
		struct restarted *r = &x->rs[g];
		bool queued = (x->restart[g / 64u] >> (g % 64u)) & 1u;
		/* Two restarts before the first one's Downs: the later covers both. */
		if (!queued || (int32_t)(e->to_gen - r->gen) > 0) {
			r->tail = e->corr;
			r->gen = e->to_gen;
			r->sig = (int32_t)e->from;
			r->exit = (int32_t)e->from_gen;
		}
		x->restart[g / 64u] |= 1ull << (g % 64u);
	} else {
		if (x->rs) {
			bool cause = (e->rec.flags & ACT__GONE_CAUSE) != 0;
			x->rs[g].gone_sig = cause ? (int32_t)e->from : 0;
			x->rs[g].gone_exit = cause ? (int32_t)e->from_gen : 0;
		}
		x->gone[g / 64u] |= 1ull << (g % 64u);
	}
	x->any_gone = true;
}

/* How many of spawned actor id's monitor entries (group g's) a watcher
 * that has ended since still holds.  A racy look at g's entries: g frees
 * them when it needs the room (dynamic.c). */
static uint32_t stale_count(struct worker *w, uint32_t g, uint32_t id)
{
	uint32_t s = act__dyn_slot_of(&w->shm, id), k = 0;
	const struct act__spawn_rec *r = act__shm_spawn_rec(&w->shm, g, s);
	uint32_t n = r->n_mon < ACT__SPAWN_MONITORS ? r->n_mon : ACT__SPAWN_MONITORS;
	const struct act__spawn_mon *mon = act__shm_spawn_ext(&w->shm, g, s)->mon;

	for (uint32_t i = 0; i < n; i++) {
		struct act__spawn_mon m = mon[i];
		if (m.watcher && act__dyn_mon_entry_stale(w, &m, id))
			k++;
	}
	return k;
}

int act__dyn_monitor_remote(struct worker *w, act_ref who, uint64_t *monitor_id)
{
	struct actor *me = w->ctx.actor;
	uint32_t id = who.id - 1, g = act__w_group_of(w, id);
	/* Remote monitor ids: bit 63, our participant, a sequence number, and
	 * the watched id (act_demonitor() finds the group from it; layout.h). */
	uint64_t mid = act__mid_make(w->self, ++w->mon_seq, id);
	struct act__spawn_rec *r = NULL;
	int claim = -1, err;

	/* The supervisor tells us of g's end from now on (layout.h,
	 * watches_others).  Set before we look at g's state below, with a
	 * full barrier (seq_cst exchange), as the supervisor changes that
	 * state (gone, generation) before it reads the flag: either it tells
	 * us, or we see the change. */
	if (!w->tk && g &&
	    !atomic_load_explicit(&w->part->watches_others, memory_order_relaxed))
		atomic_exchange(&w->part->watches_others, 1);
	/* A group gone for good (a temporary group that finished, one the
	 * supervisor gave up on) reads no ring: nothing would ever answer a
	 * monitor sent there.  Its actors are gone, so the Down comes now, as
	 * for any actor already gone.  (A removed group refuses below.) */
	if (!w->tk && g && !act__part_removed(w->parts[g]) && act__part_gone(w->parts[g])) {
		char name[ACT_NAME_MAX + 1];
		target_name(w, name, sizeof name, g, id, who.gen);
		/* Our own ring full (a burst of these, or Downs of a group's end
		 * in it): the caller is told, as for any send, not left waiting. */
		err = act__dyn_try_down(w, me->id + 1, me->gen, mid, name, id, who.gen, "noproc");
		*monitor_id = err ? 0 : mid;
		return err;
	}
	/* A spawned actor's monitor entries are counted in its record: one
	 * is taken here, or the call fails now rather than with a Down
	 * later.  A stale ref takes none (its group answers "noproc"), nor
	 * does a static actor (its group's list of them grows). */
	if (act__is_dyn_id(id)) {
		r = act__shm_spawn_rec(&w->shm, g, act__dyn_slot_of(&w->shm, id));
		/* All taken, some by watchers that have ended since: the count
		 * may pass 8 by as many, and g frees those entries for the
		 * requests (dynamic.c), bringing it back to 8.  Taken in the
		 * count, the room cannot be promised twice. */
		if ((claim = act__dyn_mon_claim(r, who.gen, 0)) == 0) {
			uint32_t k = stale_count(w, g, id);
			if (!k || (claim = act__dyn_mon_claim(r, who.gen, k)) == 0)
				return -ENOSPC;
		}
	}
	/* The watch lives in g's worker: remember it here too, so that a
	 * Down for a monitor this worker no longer holds (an earlier
	 * worker's, or one removed) is known for what it is, and for the
	 * day g dies for good. */
	if ((err = rmon_add(w, me, mid, id, who.gen, g))) {
		if (claim == 1)
			act__dyn_mon_release(r, who.gen);
		return err;
	}
	me->xmon = true; /* its end withdraws it (act__dyn_unwatch_all()) */
	err = send_sys_flags(w, g, ACT__SYS_MONITOR, claim == 1 ? ACT__SYS_CLAIMED : 0, id, who.gen,
	                     me->id + 1, me->gen, mid);
	if (err && claim == 1)
		act__dyn_mon_release(r, who.gen);
	if (err)
		rmon_forget(w, mid);
	*monitor_id = err ? 0 : mid;
	return err;
}

void act__dyn_unwatch_all(struct worker *w, const struct actor *a)
{
	struct act__dynx *x = w->dynx;
	uint32_t idx = (uint32_t)(a - w->actors), kept = 0;

	if (!a->xmon) /* the common case: no note to look for */
		return;
	for (uint32_t i = 0; x && i < x->n_m;) {
		struct rmon m = x->m[i];
		if (m.watcher != idx || m.watcher_gen != a->gen) {
			i++;
			continue;
		}
		rmon_remove(x, i);
		/* A group gone or removed holds no entry any more.  A full ring
		 * (or withdrawals already waiting for it, which go first): it
		 * waits in this worker with the Downs that wait (dynamic.c). */
		int err = act__dyn_downs_wait_for(w, m.group) ? ACT_EFULL :
		          act__dyn_send_demon(w, m.group, m.target, a->id + 1, a->gen, m.mid);
		if (err == ACT_EFULL &&
		    act__dyn_demon_wait(w, m.group, m.target, a->id + 1, a->gen, m.mid))
			kept++;
	}
	if (kept)
		act__warn_every("actor '%s' ended with %u monitors of actors in other groups that "
		                "could not be withdrawn (ring full, out of memory): their entries "
		                "stay until those actors end (or, for a spawned watcher, until they "
		                "need the room)", a->def->name, kept);
}

int act__dyn_send_stop_children(struct worker *w, uint32_t g, uint32_t id, uint32_t gen)
{
	return send_sys(w, g, ACT__SYS_STOP_CHILDREN, 0, 0, id + 1, gen, 0);
}

int act__dyn_send_demon(struct worker *w, uint32_t g, uint32_t target, uint32_t watcher,
                        uint32_t watcher_gen, uint64_t mid)
{
	return send_sys(w, g, ACT__SYS_DEMONITOR, target, 0, watcher, watcher_gen, mid);
}

int act__dyn_demonitor_remote(struct worker *w, uint64_t monitor_id)
{
	uint32_t id = (uint32_t)monitor_id, g = act__w_group_of(w, id);

	if (!g || g == w->self)
		return -ENOENT;
	/* No note: its Down came already, it was removed, or an earlier
	 * worker of ours took it (each is noted until then). */
	if (rmon_find(w, monitor_id) < 0)
		return -ENOENT;
	int err = send_sys(w, g, ACT__SYS_DEMONITOR, id, 0, w->ctx.actor->id + 1,
	                   w->ctx.actor->gen, monitor_id);
	/* Sent, or g will never read it (gone, removed): ended.  A full
	 * ring keeps it, for the caller to try again. */
	if (err != ACT_EFULL)
		rmon_forget(w, monitor_id);
	return err == ACT_EFULL ? err : 0;
}

/* Tells group g that our actor (id, gen) ended: it stops that actor's
 * children there.  A full ring (or Downs and withdrawals already waiting
 * for it, which go first): the word waits in this worker with them and
 * goes when g makes room.  0 or an error (not told). */
static int tell_stop_children(struct worker *w, uint32_t g, uint32_t id, uint32_t gen)
{
	int err = act__dyn_downs_wait_for(w, g) ? ACT_EFULL :
	          act__dyn_send_stop_children(w, g, id, gen);
	if (err == ACT_EFULL)
		err = act__dyn_stop_children_wait(w, g, id, gen);
	return err;
}

void act__dyn_ended(struct worker *w, const struct actor *a)
{
	struct act__dynx *x = w->dynx;
	uint32_t idx = (uint32_t)(a - w->actors);

	if (!x)
		return;
	for (uint32_t i = 0; i < x->n; i++) {
		if (x->v[i].idx != idx || x->v[i].gen != a->gen)
			continue;
		struct rparent rp = x->v[i];
		x->v[i] = x->v[--x->n];
		for (uint32_t k = 0; k < ACT__READY_WORDS; k++)
			for (uint64_t bits = rp.groups[k]; bits; bits &= bits - 1) {
				uint32_t g = k * 64u + (uint32_t)__builtin_ctzll(bits);
				int err = tell_stop_children(w, g, a->id, a->gen);
				if (err)
					act__warn_every("actor '%s' ended; its children in group %u not told: %s",
					                a->def->name, g, act_strerror(err));
			}
		return;
	}
}

/* ---- the group's side ------------------------------------------------------------------- */

void act__dyn_start_pending(struct worker *w, struct actor *a, uint32_t gen, bool early)
{
	struct act__spawn_rec *r = a->rec;
	uint64_t exp = ACT__SLOT_WORD(gen, ACT__SLOT_PENDING);

	if (!a->dynamic || !r || atomic_load_explicit(&r->word, memory_order_acquire) != exp)
		return;
	/* Acq_rel: acquire pairs with the spawner's release commit (the
	 * record is whole); one of us, a racing restart or the spawner's
	 * take-back wins. */
	if (!atomic_compare_exchange_strong_explicit(&r->word, &exp,
	                                             ACT__SLOT_WORD(gen, ACT__SLOT_LIVE),
	                                             memory_order_acq_rel, memory_order_relaxed))
		return;
	act__dyn_see(w, (uint32_t)(a - w->actors) - w->n_local + 1);
	r->name[ACT_NAME_MAX] = r->behaviour[ACT_NAME_MAX] = '\0';
	r->args[sizeof r->args - 1] = '\0';
	if (r->has_args == ACT__ARGS_EXT)
		act__shm_spawn_ext(&w->shm, w->self, (uint32_t)(a - w->actors) - w->n_local)
		    ->args[ACT__SPAWN_ARGS_MAX] = '\0';
	else if (r->has_args != ACT__ARGS_INLINE)
		r->has_args = ACT__ARGS_NONE;
	const act_behaviour *b = act__reg_behaviour(w->reg, r->behaviour);
	struct act_ctx saved = w->ctx;
	int err = b ? act__dyn_occupy(w, a, b, gen) : -ENOENT;
	a->spawn_unread = early && !err;
	if (err) {
		act__err("actor '%s' spawned into this group cannot be created: %s%s%s", r->name,
		         b ? act_strerror(err) : "unknown behaviour '", b ? "" : r->behaviour,
		         b ? "" : "'");
		a->gen = gen;
		a->stopped = true;
		/* Release: as every store of a FREE word (dynamic.c). */
		atomic_store_explicit(&r->word, ACT__SLOT_WORD(gen, ACT__SLOT_FREE), memory_order_release);
		if (w->n_free < w->dyn_cap)
			w->free_slots[w->n_free++] = (uint32_t)(a - w->actors) - w->n_local;
		return;
	}
	if ((err = act__dyn_run_init(w, a))) {
		act__warn_every("spawned actor '%s' (%s) failed to initialise: %s", a->def->name,
		                b->name, act_strerror(err));
		act__timers_cancel_owner(&w->timers, (uint32_t)(a - w->actors));
		act__ask_drop_owner(w, (uint32_t)(a - w->actors));
		atomic_store_explicit(&r->word, ACT__SLOT_WORD(gen, ACT__SLOT_FREE), memory_order_release);
		act__dyn_vacate(w, a);
		w->ctx = saved;
		return;
	}
	act_start st = { false, 0, 0, -1 };
	act__w_invoke(w, a, &act_start_type, &st, NULL, 0, NULL);
	if (a->stopping && !a->stopped)
		act__w_end_actor(w, a, a->fail_reason ? a->fail_reason :
		                 a->stop_reason ? a->stop_reason : "normal");
	w->ctx = saved;
}

/* Stops every local actor whose parent is (pid, pgen), an actor of another group. */
/*
 * Stops the children here of actor (pid - 1, pgen).  `pending_too`: also
 * those not started yet.  Without it (a word from the parent's own group),
 * a child still PENDING was spawned after the word: its SPAWN record comes
 * behind it in the same ring, as every spawn by that group's actors.  Such
 * a child is the new one of a parent restarted by its act_child_policy
 * (same ref and generation): it must live (an outside attack saw it get
 * Start and Shutdown at once).
 */
static void stop_children_of(struct worker *w, uint32_t pid, uint32_t pgen, bool pending_too)
{
	uint32_t hi = atomic_load_explicit(&w->dyn->hi, memory_order_acquire);

	if (hi > w->dyn_cap)
		hi = w->dyn_cap;
	act__dyn_see(w, hi);
	for (uint32_t s = 0; s < hi; s++) {
		struct actor *a = &w->actors[w->n_local + s];
		struct act__spawn_rec *r = a->rec;
		uint64_t word = atomic_load_explicit(&r->word, memory_order_acquire);
		uint32_t st = ACT__SLOT_STATE(word);
		if ((st != ACT__SLOT_LIVE && (st != ACT__SLOT_PENDING || !pending_too)) ||
		    r->parent != pid || r->parent_gen != pgen)
			continue;
		if (st == ACT__SLOT_PENDING)
			act__dyn_start_pending(w, a, ACT__SLOT_GEN(word), false);
		else if (!pending_too && a->spawn_unread && a->gen == ACT__SLOT_GEN(word))
			continue; /* started early: its SPAWN record is behind this word */
		if (!a->stopped && a->gen == ACT__SLOT_GEN(word))
			act_stop(&w->ctx, (act_ref){ a->id + 1, 0, a->gen });
	}
}

void act__dyn_sys(struct worker *w, uint32_t ring_from, const struct act__env *e)
{
	struct actor *a = NULL;
	char name[ACT_NAME_MAX + 1];
	const char *why;

	if (e->type == ACT__SYS_STOP_CHILDREN) {
		stop_children_of(w, e->from, e->from_gen,
		                 !e->from || act__w_group_of(w, e->from - 1) != ring_from);
		return;
	}
	if (e->type == ACT__SYS_GROUP_GONE) {
		/* The supervisor's word only: a forged one could end monitors, or
		 * name a ring position never reached and keep us polling. */
		if (ring_from != ACT__SUPERVISOR) {
			atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
			act__warn_every("group-gone record from participant %u ignored", ring_from);
			return;
		}
		group_gone(w, e);
		return;
	}
	if (act__w_group_of(w, e->to) != w->self || !(a = act__w_local(w, e->to))) {
		atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
		act__warn_every("system record %u for actor %u of another group ignored", e->type, e->to);
		return;
	}
	if (a->dynamic && a->stopped && e->type != ACT__SYS_DEMONITOR)
		act__dyn_start_pending(w, a, e->to_gen, e->type != ACT__SYS_SPAWN);
	bool alive = !a->stopped && (!a->dynamic || a->gen == e->to_gen);

	switch (e->type) {
	case ACT__SYS_SPAWN:
		/* Started above, or already (early: now its record is read), or
		 * gone since. */
		if (a->dynamic && a->gen == e->to_gen)
			a->spawn_unread = false;
		break;
	case ACT__SYS_STOP:
		if (alive)
			act_stop(&w->ctx, (act_ref){ a->id + 1, 0, a->gen });
		break;
	case ACT__SYS_MONITOR:
		why = "noproc";
		if (alive) {
			/* The watcher's worker generation, if its worker said. */
			uint32_t pgen = 0;
			if (e->rec.len >= sizeof *e + sizeof pgen)
				memcpy(&pgen, e + 1, sizeof pgen);
			int err = act__dyn_add_monitor(w, a, e->from, e->from_gen, e->corr,
			                               a->dynamic && (e->rec.flags & ACT__SYS_CLAIMED),
			                               pgen);
			if (!err)
				break;
			why = err == -ENOSPC ? "noproc: too many monitors" : "noproc: out of memory";
			act__warn_every("monitor of '%s' refused: %s", a->def->name, act_strerror(err));
		}
		if (!a->dynamic)
			snprintf(name, sizeof name, "%s", a->def->name);
		else if (a->rec && ACT__SLOT_GEN(atomic_load_explicit(&a->rec->word,
		                                                      memory_order_acquire)) == e->to_gen)
			snprintf(name, sizeof name, "%s", a->rec->name);
		else
			act__dyn_anon_name(name, sizeof name, w->self, act__dyn_slot_of(&w->shm, e->to),
			                   e->to_gen);
		act__dyn_send_down(w, e->from, e->from_gen, e->corr, name, e->to, e->to_gen, why);
		break;
	case ACT__SYS_DEMONITOR:
		for (uint32_t i = 0, n = act__dyn_n_mon(a); i < n; i++)
			if (a->mon[i].watcher && act__mon_entry_id(&a->mon[i], a->id) == e->corr) {
				/* One store removes it (see dynamic.c). */
				__atomic_store_n(&a->mon[i].watcher, 0, __ATOMIC_RELAXED);
				if (a->dynamic && !a->stopped)
					act__dyn_mon_release(a->rec, a->gen);
			}
		break;
	default:
		atomic_fetch_add_explicit(&w->part->n_corrupt, 1, memory_order_relaxed);
		act__warn_every("unknown system record %u ignored", e->type);
	}
}

static int orphans_cmp(const void *a, const void *b)
{
	const struct act__orphans *x = a, *y = b;
	if (x->g != y->g)
		return x->g < y->g ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

uint32_t act__orphans_unique(struct act__orphans *v, uint32_t n)
{
	uint32_t k = 0;
	if (n < 2)
		return n;
	qsort(v, n, sizeof *v, orphans_cmp);
	for (uint32_t i = 1; i < n; i++)
		if (orphans_cmp(&v[k], &v[i]))
			v[++k] = v[i];
	return k + 1;
}

bool act__orphans_note(struct act__orphans **v, uint32_t *n, uint32_t *cap, uint32_t g,
                       uint32_t id, uint32_t gen)
{
	if (*n && (*v)[*n - 1].g == g && (*v)[*n - 1].id == id && (*v)[*n - 1].gen == gen)
		return false;
	if (act__grow((void **)v, cap, *n + 1, sizeof **v))
		return true;
	(*v)[(*n)++] = (struct act__orphans){ g, id, gen };
	return false;
}

void act__dyn_recall_children(struct worker *w)
{
	struct act__orphans *orph = NULL;
	uint32_t n_orph = 0, cap_orph = 0;
	bool nomem = false;

	if (w->tk) /* a testkit runs one group */
		return;
	for (uint32_t p = 1; p < w->n_parts; p++) {
		if (p == w->self)
			continue;
		uint32_t hi = act__shm_dyn_hi(&w->shm, p);
		for (uint32_t s = 0; s < hi; s++) {
			uint32_t parent, pgen;
			if (!act__spawn_rec_parent(act__shm_spawn_rec(&w->shm, p, s), &parent, &pgen) ||
			    act__w_group_of(w, parent - 1) != w->self)
				continue;
			struct actor *a = act__w_local(w, parent - 1);
			if (!a)
				continue;
			if (!a->stopped && a->gen == pgen) {
				remember_child_group(w, a, p);
				continue;
			}
			/* Its parent, a spawned actor of ours, is gone: a
			 * temporary one lost with the last worker, or one whose
			 * word to stop them was lost (it waited for room in a
			 * worker that crashed).  They stop now, as at any
			 * parent's end; each parent's word goes once. */
			if (act__is_dyn_id(parent - 1) && act__orphans_note(&orph, &n_orph, &cap_orph, p,
			                                              parent - 1, pgen))
				nomem = true;
		}
	}
	n_orph = act__orphans_unique(orph, n_orph);
	for (uint32_t i = 0; i < n_orph; i++) {
		int err = tell_stop_children(w, orph[i].g, orph[i].id, orph[i].gen);
		if (err)
			act__warn_every("the children in group %u of an actor lost with the last worker "
			                "were not told to stop: %s", orph[i].g, act_strerror(err));
	}
	if (nomem)
		act__warn("out of memory: some children of actors lost with the last worker were not "
		          "told to stop");
	free(orph);
}

void act__dyn_release_claims(struct worker *w)
{
	for (uint32_t p = 1; p < w->n_parts; p++) {
		uint32_t hi = act__shm_dyn_hi(&w->shm, p);
		for (uint32_t s = 0; s < hi; s++) {
			struct act__spawn_rec *r = act__shm_spawn_rec(&w->shm, p, s);
			uint64_t word = atomic_load_explicit(&r->word, memory_order_relaxed);
			uint32_t st = ACT__SLOT_STATE(word);
			if (!ACT__SLOT_IS_RESERVED(st) || ACT__SLOT_RESERVER(st) != w->self)
				continue;
			/* Our last worker died between claim and commit: no ref left
			 * it, so the slot is free again (its generation stays spent).
			 * A slot of our own group is freed by the restore, which also
			 * puts it on the stack. */
			if (p != w->self)
				atomic_compare_exchange_strong_explicit(
				    &r->word, &word, ACT__SLOT_WORD(ACT__SLOT_GEN(word), ACT__SLOT_FREE),
				    memory_order_release, memory_order_relaxed);
		}
	}
}
