/* SPDX-License-Identifier: MIT */
/*
 * dynamic.c - actors created at run time: act_spawn, act_stop, monitors and
 * Down, act_fail, and re-creating spawned actors after a crash.
 *
 * Each group owns a range of slots in the region (layout.h, max_spawned):
 * a spawn in one's own group is a local slot allocation plus a record write
 * committed with one store, so no other process is involved and a worker
 * that dies mid-spawn leaves either a free slot or a whole record.  A
 * slot's generation is bumped before a ref to a new tenant can escape, and
 * refs carry it: a ref to a stopped actor never reaches a later tenant.
 * A restarted worker reads its records back (act__dyn_restore()) before it
 * reads its rings, so envelopes already queued for a permanent spawned
 * actor reach its new instance.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <actors.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "dyn-remote.h"
#include "grow.h"
#include "log.h"
#include "pool.h"
#include "intercept.h"
#include "worker-int.h"
#include "remote-mon.h"

/* A monitor id is (sequence << MON_IDX_BITS | actors[] index + 1): room for
 * the static actors and ACT__DYN_SLOTS_MAX spawn slots. */
#define MON_IDX_BITS 24u
_Static_assert(ACT__DYN_SLOTS_MAX < (1u << MON_IDX_BITS) / 2, "monitor ids hold every slot");
_Static_assert(ACT_SPAWN_ARGS_MAX <= ACT__SPAWN_ARGS_MAX, "the public args limit fits");

/* ---- the group's name table (spawned actors only) -------------------------- */

static uint32_t name_hash(const char *name)
{
	return (uint32_t)act__fnv1a(ACT__FNV_SEED, name, strlen(name));
}

/* Index into w->names of `name`, or of the empty entry where it would go. */
static uint32_t name_pos(const struct worker *w, const char *name)
{
	uint32_t i = name_hash(name) & w->names_mask;
	while (w->names[i] && strcmp(w->actors[w->names[i] - 1].def->name, name))
		i = (i + 1) & w->names_mask;
	return i;
}

static struct actor *name_find(const struct worker *w, const char *name)
{
	uint32_t e = w->names[name_pos(w, name)];
	return e ? &w->actors[e - 1] : NULL;
}

static void name_insert(struct worker *w, const struct actor *a)
{
	w->names[name_pos(w, a->def->name)] = (uint32_t)(a - w->actors) + 1;
}

/* Linear probing's deletion: shift later entries of the run back. */
static void name_remove(struct worker *w, const char *name)
{
	uint32_t i = name_pos(w, name), j = i;

	if (!w->names[i])
		return;
	for (;;) {
		w->names[i] = 0;
		for (;;) {
			j = (j + 1) & w->names_mask;
			if (!w->names[j])
				return;
			uint32_t home = name_hash(w->actors[w->names[j] - 1].def->name) & w->names_mask;
			/* Entry j may move to i unless its home lies cyclically in (i, j]. */
			if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
				break;
		}
		w->names[i] = w->names[j];
		i = j;
	}
}

/* ---- records of other groups (read-only) ----------------------------------- */

/*
 * Finds a live spawned actor named `name` in group p's records.  The owner
 * may rewrite a record while we read it, so the name is copied between two
 * loads of the commit word, seqlock-style: the first (acquire) pairs with
 * the owner's release commit, so a LIVE word means the name before it is
 * written; the acquire fence keeps the copy before the second load, so an
 * unchanged word means the copy is of that tenant's record.
 */
static bool match_slot(const struct worker *w, uint32_t p, uint32_t s, const char *name,
                       act_ref *out)
{
	struct act__spawn_rec *r = act__shm_spawn_rec(&w->shm, p, s);
	uint64_t w1 = atomic_load_explicit(&r->word, memory_order_acquire);
	char copy[ACT_NAME_MAX + 1];

	/* PENDING: spawned from another group, not started yet; its ref is
	 * usable already. */
	if (ACT__SLOT_STATE(w1) != ACT__SLOT_LIVE && ACT__SLOT_STATE(w1) != ACT__SLOT_PENDING)
		return false;
	memcpy(copy, r->name, sizeof copy);
	atomic_thread_fence(memory_order_acquire);
	/* PENDING -> LIVE keeps the tenant: compare generations. */
	uint64_t w2 = atomic_load_explicit(&r->word, memory_order_relaxed);
	if (ACT__SLOT_GEN(w2) != ACT__SLOT_GEN(w1) || ACT__SLOT_STATE(w2) == ACT__SLOT_FREE)
		return false;
	copy[ACT_NAME_MAX] = '\0';
	if (strcmp(copy, name))
		return false;
	out->id = act__dyn_id(&w->shm, p, s) + 1;
	out->peer = 0;
	out->gen = ACT__SLOT_GEN(w1);
	return true;
}

/* Group p's slots in use: those below its high-water mark. */
static uint32_t slots_used(const struct worker *w, uint32_t p)
{
	/* Acquire (in act__shm_dyn_hi()): pairs with the release raise of hi
	 * in act_spawn(), so every slot below it was formatted before we look
	 * at it. */
	return act__shm_dyn_hi(&w->shm, p);
}

static bool find_in_group(const struct worker *w, uint32_t p, const char *name, act_ref *out)
{
	for (uint32_t s = 0, hi = slots_used(w, p); s < hi; s++)
		if (match_slot(w, p, s, name, out))
			return true;
	return false;
}

/* Parses decimal digits at *p up to `end` into *v; false if none or too big. */
static bool get_u32(const char **p, char end, uint32_t *v)
{
	uint64_t x = 0;
	const char *q = *p;

	while (*q >= '0' && *q <= '9' && x <= UINT32_MAX)
		x = x * 10u + (uint64_t)(*q++ - '0');
	if (q == *p || *q != end || x > UINT32_MAX)
		return false;
	*v = (uint32_t)x;
	*p = q + (end != '\0');
	return true;
}

/*
 * An anonymous actor's name, "$group.slot.gen", says where it lives: it is
 * looked up there, not in the name table (which holds named actors only,
 * so that anonymous spawns, by far the most, never hash).  Names with '$'
 * cannot be given to act_spawn(), so there is no other actor to find.
 */
static int anon_lookup(struct worker *w, const char *name, act_ref *out)
{
	const char *p = name + 1;
	uint32_t g, s, gen;

	if (!get_u32(&p, '.', &g) || !get_u32(&p, '.', &s) || !get_u32(&p, '\0', &gen) ||
	    g < 1 || g >= w->n_parts || s >= slots_used(w, g))
		return -ENOENT;
	return match_slot(w, g, s, name, out) ? 0 : -ENOENT;
}

int act__dyn_lookup(struct worker *w, const char *name, act_ref *out)
{
	struct actor *a;

	if (name && name[0] == '$')
		return anon_lookup(w, name, out);
	if ((a = name ? name_find(w, name) : NULL)) {
		*out = (act_ref){ a->id + 1, 0, a->gen };
		return 0;
	}
	/* Our own group too: a pending record is not in w->names yet. */
	for (uint32_t p = 1; name && p < w->n_parts; p++)
		if (find_in_group(w, p, name, out))
			return 0;
	return -ENOENT;
}

const char *act__dyn_ref_name(struct worker *w, act_ref ref)
{
	uint32_t id = ref.id - 1, p = act__w_group_of(w, id);

	if (!p)
		return NULL;
	if (p == w->self) {
		struct actor *a = act__w_local(w, id);
		return !a->stopped && a->gen == ref.gen ? a->def->name : NULL;
	}
	/* Another group's record: a snapshot that may change under us. */
	struct act__spawn_rec *r = act__shm_spawn_rec(&w->shm, p, act__dyn_slot_of(&w->shm, id));
	uint64_t word = atomic_load_explicit(&r->word, memory_order_acquire);
	return word == ACT__SLOT_WORD(ref.gen, ACT__SLOT_LIVE) ||
	       word == ACT__SLOT_WORD(ref.gen, ACT__SLOT_PENDING) ? r->name : NULL;
}

/* ---- setup and teardown ------------------------------------------------------ */

int act__dyn_setup(struct worker *w)
{
	uint32_t n_names = 2;

	/* Sized for the group's capacity, yet paid for only as used: the
	 * name table comes straight from mmap (act__w_zalloc()), and a page
	 * of it costs memory once written.  The name table stays at
	 * most half full, so that probing stays short. */
	while (n_names < 2u * w->dyn_cap)
		n_names <<= 1;
	w->n_slots = w->n_local + w->dyn_cap;
	w->dyn = act__shm_dyn(&w->shm, w->self);
	w->free_slots = malloc((w->dyn_cap ? w->dyn_cap : 1) * sizeof *w->free_slots);
	w->names = act__w_zalloc(n_names * sizeof *w->names);
	w->names_mask = n_names - 1;
	/* Unique across restarts too: monitors outlive a worker in the records. */
	w->mon_seq = act__now_ns() / 1000u;
	if (!w->free_slots || !w->names)
		return -ENOMEM;
	/* Spawners in other processes check their behaviour against this
	 * list (dyn-remote.c); a testkit's area is its own. */
	if (!w->tk)
		act__dyn_publish_behaviours(&w->shm, w->self, w->reg);
	return 0;
}

void act__dyn_touch(struct worker *w, struct actor *a)
{
	uint32_t s = (uint32_t)(a - w->actors) - w->n_local;
	a->id = act__dyn_id(&w->shm, w->self, s);
	a->dynamic = true;
	a->stopped = true;
	a->def = &a->ddef;
	/* Addresses only: neither the record nor the ext block is touched. */
	a->rec = act__shm_spawn_rec(&w->shm, w->self, s);
	a->mon = act__shm_spawn_ext(&w->shm, w->self, s)->mon;
}

void act__dyn_teardown(struct worker *w)
{
	for (uint32_t i = 0; w->actors && w->dyn && i < act__w_n_used(w); i++) {
		struct actor *a = &w->actors[i];
		if (a->dynamic)
			free(a->state);
		if (!a->dynamic) {
			free(a->mon);
			free(a->mon_pgen);
		}
		free(a->fail_reason);
	}
	for (uint32_t i = 0; i < w->n_btab; i++)
		free(w->btab[i].by_type);
	free(w->btab);
	if (w->names)
		act__w_zfree(w->names, ((size_t)w->names_mask + 1) * sizeof *w->names);
	free(w->free_slots);
	free(w->dw);
	w->dw = NULL;
	w->n_dw = w->cap_dw = w->dw_head = 0;
	memset(w->dw_groups, 0, sizeof w->dw_groups);
	act__dyn_remote_teardown(w);
}

/* The handler table of behaviour b, shared by all its spawned actors. */
static act_handler_fn *behaviour_table(struct worker *w, const act_behaviour *b)
{
	const struct act__registry *reg = w->reg;
	struct behaviour_table *bt;

	for (uint32_t i = 0; i < w->n_btab; i++)
		if (w->btab[i].b == b)
			return w->btab[i].by_type;
	bt = realloc(w->btab, (w->n_btab + 1) * sizeof *bt);
	if (!bt)
		return NULL;
	w->btab = bt;
	act_handler_fn *t = calloc(reg->n_types + 1, sizeof *t);
	if (!t)
		return NULL;
	for (size_t k = 0; k < b->n_handlers; k++) {
		const act_handler *hd = &b->handlers[k];
		uint32_t id = act__reg_type_id(reg, hd->type);
		if (id && id <= reg->n_types)
			t[id] = hd->fn;
	}
	bt[w->n_btab++] = (struct behaviour_table){ b, t };
	return t;
}

/* The args text of spawned actor a's record (inline or in its ext block), or NULL. */
static char *spawn_args(struct worker *w, struct actor *a)
{
	struct act__spawn_rec *r = a->rec;
	if (r->has_args == ACT__ARGS_INLINE)
		return r->args;
	if (r->has_args == ACT__ARGS_EXT)
		return act__shm_spawn_ext(&w->shm, w->self,
		                          (uint32_t)(a - w->actors) - w->n_local)->args;
	return NULL;
}

/* Monitor entries of a that may be in use (dyn-remote.h): for a spawned actor the
 * record's high-water mark, so that an actor never monitored never
 * touches its ext block. */
uint32_t act__dyn_n_mon(const struct actor *a)
{
	if (!a->mon)
		return 0;
	if (!a->dynamic)
		return a->mon_cap;
	return a->rec->n_mon < ACT__SPAWN_MONITORS ? a->rec->n_mon : ACT__SPAWN_MONITORS;
}

/* Fills slot actor a from its record (whose word says gen), ready for init. */
int act__dyn_occupy(struct worker *w, struct actor *a, const act_behaviour *b, uint32_t gen)
{
	struct act__spawn_rec *r = a->rec;

	if (!(a->by_type = behaviour_table(w, b)))
		return -ENOMEM;
	if (!(a->state = calloc(1, b->state_size ? b->state_size : 1)))
		return -ENOMEM;
	r->flags = b->remote ? ACT__SPAWN_REMOTE : 0;
	a->ddef = (struct act__actor_def){ .name = r->name, .id = a->id, .group = w->self,
	                                   .b = b, .behaviour = r->behaviour,
	                                   .args = spawn_args(w, a) };
	a->gen = gen;
	a->stopped = a->stopping = a->lost = a->xmon = a->lmon = a->spawn_unread = false;
	a->stop_reason = NULL;
	a->n_children = 0;
	free(a->fail_reason);
	a->fail_reason = NULL;
	act__sup_reset(w, a);
	if (r->name[0] != '$') /* anonymous: see anon_lookup() */
		name_insert(w, a);
	return 0;
}

/* Undoes occupy() for an actor that never ran or has ended. */
void act__dyn_vacate(struct worker *w, struct actor *a)
{
	if (a->def->name[0] != '$')
		name_remove(w, a->def->name);
	free(a->state);
	a->state = NULL;
	a->stopped = true;
	/* A slot can be on the stack twice (another group claimed it from
	 * there meanwhile: the pop's claim fails and drops it); the bound
	 * keeps that harmless. */
	if (w->n_free < w->dyn_cap)
		w->free_slots[w->n_free++] = (uint32_t)(a - w->actors) - w->n_local;
}

/* Runs a's init with args; the caller's context is kept. */
int act__dyn_run_init(struct worker *w, struct actor *a)
{
	struct act_ctx saved = w->ctx;
	int r = 0;

	if (a->def->b->init) {
		act__w_set_ctx(w, a, NULL, NULL, NULL, 0, NULL);
		a->running++;
		r = a->def->b->init(&w->ctx, a->state, a->def->args);
		a->running--;
	}
	w->ctx = saved;
	return r;
}

/* ---- Down ------------------------------------------------------------------------- */

void act__death_reason(char *buf, size_t cap, int sig, int exit_code, const char *clean)
{
	if (sig > 0)
		snprintf(buf, cap, "crashed: signal %d", sig);
	else if (exit_code > 0)
		snprintf(buf, cap, "crashed: exit %d", exit_code);
	else
		snprintf(buf, cap, "%s", clean);
}

/*
 * A Down that found its watcher's ring full.  It waits in this worker, in
 * order behind the others for the same group, rather than become a dead
 * letter: an actor with more monitors than the ring takes Downs at once
 * (a static actor's list grows to STATIC_MONITORS_MAX) would otherwise
 * leave most of its watchers waiting for ever.  The monitor entry is
 * cleared as for a sent Down: the Down is now ours to deliver.
 */
struct act__down_wait {
	uint32_t watcher, watcher_gen; /* id + 1, gen */
	uint32_t id, gen;              /* the actor that ended: the Down's sender */
	uint32_t g;                    /* the watcher's participant */
	uint64_t mid;                  /* the monitor: the Down's corr */
	/*
	 * DW_DOWN: Down d.  DW_DEMON: the withdrawal of monitor mid of actor
	 * `id` (of group g) by `watcher`, an actor of ours that ended while
	 * the ring to g was full (act__dyn_demon_wait()).  DW_STOP_CHILDREN:
	 * the word to group g that our actor (id, gen), which ended, stops
	 * its children there (act__dyn_stop_children_wait()).  DW_ENV: env,
	 * a whole envelope (malloc'd) for group g: an answer to an ask that
	 * found the ring full (act__dyn_env_wait()).
	 */
	enum { DW_DOWN, DW_DEMON, DW_STOP_CHILDREN, DW_ENV } kind;
	union {
		act_down d;
		struct act__env *env;
	};
};

/* At most this many bytes of envelopes wait (DW_ENV): an answer is at
 * most a ring's record, and the asks a node has outstanding are bounded
 * per actor, but a worker must not grow without bound either. */
#define ENV_WAIT_BYTES (64u << 20)

/* A sleep with Downs waiting ends after DOWN_RETRY_MIN_NS at first: the
 * watcher's group drains its ring, but does not tell a producer that it
 * made room.  Each sleep without progress doubles it, up to
 * DOWN_RETRY_MAX_NS, so that a watcher that stays stuck costs few wakeups. */
#define DOWN_RETRY_MIN_NS 200000ull
#define DOWN_RETRY_MAX_NS 100000000ull

/* At most this many Downs wait (~28 MB): each stands for a monitor taken,
 * or a monitor asked for an actor already gone (a "noproc" Down); a
 * watcher that floods such requests while it never reads its ring must
 * not grow this worker without bound.  Past it, a Down is a dead letter,
 * as any Down that cannot be kept. */
#define DOWN_WAIT_MAX (1u << 17)

bool act__dyn_downs_wait_for(const struct worker *w, uint32_t g)
{
	return w->n_dw && g < w->n_parts && ((w->dw_groups[g / 64u] >> (g % 64u)) & 1u);
}

/*
 * The waiting records are w->dw[w->dw_head .. w->dw_head + w->n_dw), oldest
 * first: a flush that sends from the front only moves dw_head, so that a
 * long wait costs each record O(1), not a move of all those behind it
 * (an outside attack measured 9.9 s to deliver 120,000 Downs when every
 * flush moved the whole array).
 *
 * Appends q (for group q->g) at the end: 0, or -ENOMEM (no memory, or
 * DOWN_WAIT_MAX reached).
 */
static int dw_push(struct worker *w, const struct act__down_wait *q)
{
	if (w->n_dw >= DOWN_WAIT_MAX)
		return -ENOMEM;
	if (w->dw_head && w->dw_head + w->n_dw >= w->cap_dw) {
		memmove(w->dw, w->dw + w->dw_head, (size_t)w->n_dw * sizeof *w->dw);
		w->dw_head = 0;
	}
	if (act__grow((void **)&w->dw, &w->cap_dw, w->dw_head + w->n_dw + 1, sizeof *w->dw))
		return -ENOMEM;
	if (!w->n_dw)
		w->dw_retry_ns = DOWN_RETRY_MIN_NS;
	w->dw[w->dw_head + w->n_dw++] = *q;
	w->dw_groups[q->g / 64u] |= 1ull << (q->g % 64u);
	return 0;
}

/* Queues Down d for the watcher m in group g.  0 or -ENOMEM. */
static int down_wait(struct worker *w, const struct act__spawn_mon *m, uint32_t g, uint32_t id,
                     uint32_t gen, const act_down *d)
{
	bool first = !w->n_dw;
	int err = dw_push(w, &(struct act__down_wait){ .watcher = m->watcher,
	                                               .watcher_gen = m->watcher_gen, .id = id,
	                                               .gen = gen, .g = g, .mid = m->id,
	                                               .d = *d });
	if (!err && first)
		act__log_every(ACT_LOG_INFO, "Downs wait for room in the ring to group '%s'",
		               g && g <= w->reg->n_groups ? w->reg->groups[g - 1].name : "?");
	return err;
}

int act__dyn_demon_wait(struct worker *w, uint32_t g, uint32_t target, uint32_t watcher,
                        uint32_t watcher_gen, uint64_t mid)
{
	if (w->tk)
		return -ENOMEM;
	return dw_push(w, &(struct act__down_wait){ .watcher = watcher, .watcher_gen = watcher_gen,
	                                            .id = target, .g = g, .mid = mid,
	                                            .kind = DW_DEMON });
}

int act__dyn_stop_children_wait(struct worker *w, uint32_t g, uint32_t id, uint32_t gen)
{
	if (w->tk)
		return -ENOMEM;
	return dw_push(w, &(struct act__down_wait){ .id = id, .gen = gen, .g = g,
	                                            .kind = DW_STOP_CHILDREN });
}

int act__dyn_env_wait(struct worker *w, uint32_t g, struct act__env *e)
{
	bool first = !w->n_dw;
	if (w->tk || w->dw_env_bytes + e->rec.len > ENV_WAIT_BYTES ||
	    dw_push(w, &(struct act__down_wait){ .g = g, .kind = DW_ENV, .env = e })) {
		free(e);
		return ACT_EFULL;
	}
	w->dw_env_bytes += e->rec.len;
	if (first)
		act__log_every(ACT_LOG_INFO, "answers wait for room in the ring to group '%s'",
		               g && g <= w->reg->n_groups ? w->reg->groups[g - 1].name : "?");
	return 0;
}

/* A waiting envelope is done with: sent, or a dead letter (why). */
static void env_done(struct worker *w, struct act__env *e, const char *why)
{
	if (why)
		act__w_dead_letter(w, why, e->type, e->to);
	w->dw_env_bytes -= e->rec.len;
	free(e);
}

/* A Down that will not be sent: a dead letter, and why. */
static void down_lost(struct worker *w, uint32_t watcher, const act_down *d, const char *why)
{
	act__w_dead_letter(w, "Down could not be sent", act__reg_type_id(w->reg, &act_down_type),
	                   watcher - 1);
	act__warn_every("Down{%s, %s} lost: %s", d->actor, d->reason, why);
}

/*
 * Sends Down{name, reason} from (id, gen) to one watcher.  One that finds
 * the watcher's ring full, or Downs already waiting for that group (they
 * go first: a watcher gets its Downs in the order they were made), waits
 * in the worker (act__dyn_downs_flush()), or, if `keep_full`, is left to
 * the caller, who tries again (ACT_EFULL).  One that cannot be sent, or
 * not kept (out of memory), is a dead letter.  0 or the error.
 */
static int send_down_(struct worker *w, const struct act__spawn_mon *m, const char *name,
                      uint32_t id, uint32_t gen, const char *reason, bool keep_full)
{
	act_down d;
	memset(&d, 0, sizeof d);
	snprintf(d.actor, sizeof d.actor, "%s", name);
	snprintf(d.reason, sizeof d.reason, "%s", reason);
	uint32_t g = act__w_group_of(w, m->watcher - 1);
	int err = act__dyn_downs_wait_for(w, g) ? ACT_EFULL :
	          act__w_send_env(w, m->watcher - 1, m->watcher_gen, &act_down_type, &d, id + 1,
	                          gen, 0, m->id);
	if (err != ACT_EFULL || keep_full) {
		if (err && err != ACT_EFULL)
			down_lost(w, m->watcher, &d, act_strerror(err));
		return err;
	}
	/* A testkit drains its FIFO on its own (its ACT_EFULL is an
	 * allocation that failed), never through the worker's loop. */
	if (w->tk) {
		down_lost(w, m->watcher, &d, act_strerror(err));
		return err;
	}
	if (down_wait(w, m, g, id, gen, &d) == 0)
		return 0;
	/* Not the ring alone: there was no room to keep it either. */
	down_lost(w, m->watcher, &d, "the watcher's ring is full and it cannot wait (as many "
	          "Downs wait in this worker as may, or no memory)");
	return err;
}

bool act__dyn_downs_ahead(struct worker *w, uint32_t g)
{
	if (w->dw_flushing || !act__dyn_downs_wait_for(w, g))
		return false;
	act__dyn_downs_flush(w);
	return act__dyn_downs_wait_for(w, g);
}

/* Sends waiting record q: 0, ACT_EFULL (still no room), or another error
 * (it is done with: a group gone holds no entry, and no child). */
static int dw_send(struct worker *w, const struct act__down_wait *q)
{
	switch (q->kind) {
	case DW_DEMON:
		return act__dyn_send_demon(w, q->g, q->id, q->watcher, q->watcher_gen, q->mid);
	case DW_STOP_CHILDREN:
		return act__dyn_send_stop_children(w, q->g, q->id, q->gen);
	case DW_ENV: {
		int err = act__w_send_copy(w, q->g, q->env);
		if (err != ACT_EFULL)
			env_done(w, q->env, err ? "answer could not be sent (its group is gone)" : NULL);
		return err;
	}
	case DW_DOWN:
		break;
	}
	int err = act__w_send_env(w, q->watcher - 1, q->watcher_gen, &act_down_type, &q->d,
	                          q->id + 1, q->gen, 0, q->mid);
	if (err && err != ACT_EFULL)
		down_lost(w, q->watcher, &q->d, act_strerror(err));
	return err;
}

unsigned act__dyn_downs_flush(struct worker *w)
{
	uint64_t full[ACT__READY_WORDS] = { 0 };
	uint32_t k = 0, sent = 0, i = 0, n = w->n_dw, n_groups = 0, n_full = 0;
	struct act__down_wait *v;

	for (unsigned j = 0; j < ACT__READY_WORDS; j++)
		n_groups += (uint32_t)__builtin_popcountll(w->dw_groups[j]);
	/* Our own sends below must not wait behind the Downs they are. */
	w->dw_flushing = true;
	/* From the front, while they go: the head moves, nothing else. */
	v = w->dw + w->dw_head;
	for (; i < n; i++) {
		int err = dw_send(w, &v[i]);
		if (err == ACT_EFULL)
			break;
		sent += !err;
	}
	w->dw_head += i;
	n -= i;
	v += i;
	/* The rest: each group's records stay in order behind its first
	 * that found no room (v[0], if any is left); once every group's did,
	 * the others stay put. */
	if (n) {
		full[v[0].g / 64u] |= 1ull << (v[0].g % 64u);
		n_full = 1;
		k = n_full == n_groups ? n : 1;
	}
	for (i = k; i < n; i++) {
		const struct act__down_wait *q = &v[i];
		uint64_t bit = 1ull << (q->g % 64u);
		if (!(full[q->g / 64u] & bit)) {
			int err = dw_send(w, q);
			if (err != ACT_EFULL) {
				sent += !err;
				continue;
			}
			full[q->g / 64u] |= bit;
			if (++n_full == n_groups) {
				/* Keep q and everything after it where they are;
				 * the k kept before q move up against them. */
				memmove(v + i - k, v, (size_t)k * sizeof *v);
				w->dw_head += i - k;
				k += n - i;
				break;
			}
		}
		if (k != i)
			v[k] = *q;
		k++;
	}
	w->dw_flushing = false;
	w->n_dw = k;
	if (!k)
		w->dw_head = 0;
	memcpy(w->dw_groups, full, sizeof full);
	if (sent)
		w->dw_retry_ns = DOWN_RETRY_MIN_NS;
	if (!k && sent)
		act__log_every(ACT_LOG_INFO, "the Downs and answers that waited for room are sent");
	return sent;
}

uint64_t act__dyn_downs_retry_ns(struct worker *w)
{
	uint64_t ns = w->dw_retry_ns ? w->dw_retry_ns : DOWN_RETRY_MIN_NS;
	w->dw_retry_ns = 2 * ns < DOWN_RETRY_MAX_NS ? 2 * ns : DOWN_RETRY_MAX_NS;
	return ns;
}

void act__dyn_downs_at_exit(struct worker *w)
{
	if (!w->n_dw)
		return;
	/* The receivers see what we published so far; then one more look. */
	act__w_flush_notify(w);
	act__dyn_downs_flush(w);
	act__w_flush_notify(w);
	if (!w->n_dw)
		return;
	/* Nobody sends them after us (a restarted worker does not know of
	 * them): each is a dead letter.  A watcher in another group of a
	 * static actor of ours still gets a Down, "group restarted" or
	 * "group stopped", when it hears of our end (dyn-remote.c).  A
	 * withdrawal that waited is not owed: our end ends those monitors
	 * (their entries are freed as those of an ended worker). */
	uint32_t n_downs = 0, n_envs = 0;
	const struct act__down_wait *v = w->dw + w->dw_head;
	for (uint32_t i = 0; i < w->n_dw; i++) {
		if (v[i].kind == DW_STOP_CHILDREN) {
			/* Nobody tells them later: the parent has ended. */
			act__err("children of an ended actor in group %u not told to stop: the ring "
			         "to it stayed full until this worker ended", v[i].g);
			continue;
		}
		if (v[i].kind == DW_DEMON)
			continue;
		if (v[i].kind == DW_ENV) {
			n_envs++;
			env_done(w, v[i].env, "answer could not be sent (ring full at the worker's end)");
			continue;
		}
		n_downs++;
		act__w_dead_letter(w, "Down could not be sent (ring full at the worker's end)",
		                   act__reg_type_id(w->reg, &act_down_type), v[i].watcher - 1);
	}
	if (n_downs)
		act__err("%u Downs lost: their watchers' rings stayed full until this worker ended",
		         n_downs);
	if (n_envs)
		act__err("%u answers to asks lost: their askers' rings stayed full until this worker "
		         "ended", n_envs);
	w->n_dw = 0;
	w->dw_head = 0;
	memset(w->dw_groups, 0, sizeof w->dw_groups);
}

static void send_down(struct worker *w, const struct act__spawn_mon *m, const char *name,
                      uint32_t id, uint32_t gen, const char *reason)
{
	(void)send_down_(w, m, name, id, gen, reason, false);
}

void act__dyn_send_down(struct worker *w, uint32_t watcher, uint32_t watcher_gen, uint64_t mid,
                        const char *name, uint32_t id, uint32_t gen, const char *reason)
{
	struct act__spawn_mon m = { watcher, watcher_gen, mid };
	send_down(w, &m, name, id, gen, reason);
}

int act__dyn_try_down(struct worker *w, uint32_t watcher, uint32_t watcher_gen, uint64_t mid,
                      const char *name, uint32_t id, uint32_t gen, const char *reason)
{
	struct act__spawn_mon m = { watcher, watcher_gen, mid };
	return send_down_(w, &m, name, id, gen, reason, true);
}

/*
 * Tells every monitor of a that it is gone.  Each entry is cleared after
 * its Down is in the ring, or waits in this worker for room there
 * (send_down_()), so that a crash in between repeats at most that one
 * Down; a crash loses those that wait.
 */
static void down_fanout(struct worker *w, struct actor *a, const char *reason)
{
	uint32_t n = act__dyn_n_mon(a);

	for (uint32_t i = 0; i < n; i++) {
		struct act__spawn_mon *m = &a->mon[i];
		if (!m->watcher)
			continue;
		/* A watcher that has ended gets none: its monitor ended with it
		 * (a spawned one's record, or its worker's generation, says so),
		 * and the Down would only be a dead letter or dropped. */
		struct act__spawn_mon d = { m->watcher, m->watcher_gen, act__mon_entry_id(m, a->id) };
		if (!act__dyn_mon_entry_stale(w, m, a->id))
			send_down(w, &d, a->def->name, a->id, a->gen, reason);
		/* Relaxed: only a later worker of this group reads it, after our
		 * death (the supervisor's wait and the fork order that). */
		__atomic_store_n(&m->watcher, 0, __ATOMIC_RELAXED);
	}
}

void act__dyn_down_static(struct worker *w, const char *reason)
{
	for (uint32_t i = 0; i < w->n_local; i++) {
		struct actor *a = &w->actors[i];
		uint32_t n = act__dyn_n_mon(a);
		for (uint32_t k = 0; k < n; k++) {
			struct act__spawn_mon *m = &a->mon[k];
			uint32_t wid = m->watcher - 1;
			if (!m->watcher)
				continue;
			/* A watcher of this group stops with it: a Down left in
			 * our rings would reach it after the group is added back,
			 * when its target lives again. */
			uint32_t wg = wid < w->reg->n_actors ? w->reg->actors[wid].group
			                                     : act__dyn_group_of(&w->shm, wid);
			if (wg != w->self)
				send_down(w, m, a->def->name, a->id, a->gen, reason);
			__atomic_store_n(&m->watcher, 0, __ATOMIC_RELAXED);
		}
	}
}

/* The live local parent of spawned actor a, or NULL. */
static struct actor *parent_of(struct worker *w, const struct actor *a)
{
	struct actor *p;
	if (!a->dynamic || !a->rec->parent)
		return NULL;
	p = act__w_local(w, a->rec->parent - 1);
	return p && !p->stopped && p->gen == a->rec->parent_gen ? p : NULL;
}

/* Stops actor a, whose handler is not on the stack: Shutdown, then its
 * end (children first, fini, Down "stopped" or its failure's reason). */
static void stop_now(struct worker *w, struct actor *a)
{
	struct act_ctx saved = w->ctx;
	act_shutdown_msg sm = { 2 };
	a->stop_reason = "stopped";
	act__w_invoke(w, a, &act_shutdown_type, &sm, NULL, 0, NULL);
	act__w_end_actor(w, a, a->fail_reason ? a->fail_reason : "stopped");
	w->ctx = saved;
}

/*
 * Stops a's children before a, depth first (OTP): each gets Shutdown, then
 * ends with Down "stopped" (its own children first).  A child whose
 * handler is on the stack stops when that handler returns.
 */
static void stop_children(struct worker *w, struct actor *a)
{
	uint32_t hi = w->dyn_seen;

	for (uint32_t s = hi; s-- > 0 && a->n_children;) {
		struct actor *c = &w->actors[w->n_local + s];
		if (c->stopped || c->stopping || parent_of(w, c) != a)
			continue;
		if (c->running) {
			c->stop_reason = "stopped";
			c->stopping = true;
			continue;
		}
		stop_now(w, c);
	}
}

/* Static actor a stops for good: the entries of its monitors of our
 * actors are freed (no Down for them).  A walk over our actors: static
 * actors that stop are few. */
static void drop_local_watches(struct worker *w, const struct actor *a)
{
	uint32_t watcher = a->id + 1, n_used = act__w_n_used(w);

	for (uint32_t k = 0; k < n_used; k++) {
		struct actor *t = &w->actors[k];
		if (t == a || t->stopped || !t->mon)
			continue;
		for (uint32_t i = 0, n = act__dyn_n_mon(t); i < n; i++) {
			struct act__spawn_mon *m = &t->mon[i];
			if (m->watcher != watcher || m->watcher_gen != a->gen)
				continue;
			/* One store frees it (relaxed: see down_fanout()). */
			__atomic_store_n(&m->watcher, 0, __ATOMIC_RELAXED);
			if (t->dynamic)
				act__dyn_mon_release(t->rec, t->gen);
		}
	}
}

void act__w_end_actor(struct worker *w, struct actor *a, const char *reason)
{
	if (a->stopped)
		return;
	if (a->n_children)
		stop_children(w, a);
	if (a->stopped) /* a child's Shutdown handler stopped it meanwhile */
		return;
	/* Its children in other groups are told before it stops (their
	 * groups stop them on their own threads, dyn-remote.c). */
	act__dyn_ended(w, a);
	/* Its monitors in other groups end with it (a worker that ends
	 * takes them all with it: its watchers' entries are freed then),
	 * and a static actor's of ours (a spawned one's are seen as ended
	 * by its record; a static one comes back with a restart). */
	if (!w->stopping) {
		act__dyn_unwatch_all(w, a);
		if (!a->dynamic && a->lmon)
			drop_local_watches(w, a);
	}
	act__w_stop_actor(w, a);
	down_fanout(w, a, reason);
	if (!a->dynamic)
		return;
	struct actor *p = parent_of(w, a);
	if (p && p->n_children)
		p->n_children--;
	/* Release: pairs with the acquire loads of the word in lookups
	 * (find_in_group) and restore; the word says FREE before the slot can
	 * be refilled.  Keeping gen here means the next tenant gets gen + 1. */
	atomic_store_explicit(&a->rec->word, ACT__SLOT_WORD(a->gen, ACT__SLOT_FREE),
	                      memory_order_release);
	act__dyn_vacate(w, a);
}

void act__w_stale_letter(struct worker *w, const struct actor *a, const struct act__env *e)
{
	if (!a->lost || a->gen != e->to_gen) {
		act__w_dead_letter(w, "receiver gone (stale ref)", e->type, e->to);
		return;
	}
	/* Lost with the last worker: the dead-letter store says why. */
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;
	const struct act__registry *reg = w->reg;
	if (o) {
		cJSON_AddNumberToObject(o, "time_ms", (double)act__wall_ms());
		cJSON_AddStringToObject(o, "group", reg->groups[w->self - 1].name);
		cJSON_AddStringToObject(o, "receiver", a->rec->name);
		cJSON_AddStringToObject(o, "type", e->type && e->type <= reg->n_types ?
		                        reg->types[e->type]->name : "?");
		cJSON_AddStringToObject(o, "reason", w->lost_reason);
		text = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
	}
	if (text) {
		act__w_send_ctrl(w, ACT__CTRL_DEAD_LETTER, text, (uint32_t)strlen(text));
		free(text);
	}
	act__w_dead_letter(w, w->lost_reason, e->type, e->to);
}

/* ---- restore after a crash ------------------------------------------------------ */

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/*
 * Maps in [p, p + len) for writing with one system call instead of a page
 * fault per page: a restore touches every page of its records and of its
 * actor entries, and with a million actors the faults one by one were a
 * quarter of the restore (more on a VM, where a fault is dearer).  Only an
 * optimisation: an older kernel's EINVAL is ignored.
 */
static void populate(void *p, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), a = (uintptr_t)p & ~(page - 1);
	uintptr_t end = ((uintptr_t)p + len + page - 1) & ~(page - 1);

	if (len)
		(void)madvise((void *)a, end - a, MADV_POPULATE_WRITE);
}

/* The liveness the supervisor checks (relaxed, as worker.c's beat()). */
static void beat(struct worker *w)
{
	atomic_store_explicit(&w->part->heartbeat_ns, act__now_ns(), memory_order_relaxed);
}

bool act__dyn_mon_entry_stale(struct worker *w, const struct act__spawn_mon *m, uint32_t target)
{
	uint32_t watcher = m->watcher, wid = watcher - 1;
	uint32_t g = watcher ? act__w_group_of(w, wid) : 0;

	if (!g || g >= w->n_parts || w->tk)
		return false;
	if (act__is_dyn_id(wid)) {
		/* A spawned watcher that has ended: its slot's record says so,
		 * in any group (a later tenant, or free). */
		if (act__dyn_tenant_gone(&w->shm, g, wid, m->watcher_gen))
			return true;
	}
	uint32_t pg = act__mon_entry_pgen(m, target);
	if (!pg)
		return false;
	/* The worker that took it: the participant its id names, which is
	 * not the watcher's group for a pool's member (its actor ids are the
	 * pool's, its first member's group). */
	uint32_t tg = act__mid_part(m->id);
	if (!tg || tg >= w->n_parts)
		tg = g;
	return act__part_gone(w->parts[tg]) ||
	       (uint32_t)atomic_load_explicit(&w->parts[tg]->generation, memory_order_relaxed) != pg;
}

/*
 * Frees the entries of spawned actor a whose watcher has ended: one of
 * another group whose worker took them has ended since (those monitors
 * ended with it: the watcher's new worker holds no note of them and drops
 * their Downs, dyn-remote.c), a spawned watcher that has ended, and, if
 * `running` (not while restoring, when our static actors are not back
 * yet), a static actor of ours that has stopped.  Watchers of our own
 * group keep their monitors across our restarts (t/dynamic-alias).  How
 * many were freed.
 */
static uint32_t dyn_mon_prune(struct worker *w, struct actor *a, bool running)
{
	uint32_t freed = 0;

	for (uint32_t i = 0, n = act__dyn_n_mon(a); i < n; i++) {
		struct act__spawn_mon *m = &a->mon[i];
		uint32_t wid = m->watcher - 1;
		if (!m->watcher)
			continue;
		bool ended = act__dyn_mon_entry_stale(w, m, a->id);
		if (!ended && running && wid < w->reg->n_actors &&
		    w->reg->actors[wid].group == w->self) {
			const struct actor *wa = act__w_local(w, wid);
			ended = wa && wa->stopped;
		}
		if (!ended)
			continue;
		/* One store frees it (relaxed: see down_fanout()). */
		__atomic_store_n(&m->watcher, 0, __ATOMIC_RELAXED);
		act__dyn_mon_release(a->rec, a->gen);
		freed++;
	}
	return freed;
}

/* Whether spawned actor a's parent is a spawned actor of ours that is
 * gone: lost with the last worker (a temporary actor, not re-created), or
 * ended by an earlier worker that crashed before a was stopped with it. */
static bool parent_gone(struct worker *w, const struct actor *a)
{
	uint32_t parent = a->dynamic ? a->rec->parent : 0;
	if (!parent || !act__is_dyn_id(parent - 1))
		return false;
	const struct actor *p = act__w_local(w, parent - 1);
	return p && (p->stopped || p->gen != a->rec->parent_gen);
}

/* True if restore handles slot s: every slot in a worker; in a testkit,
 * whose one spawn area holds the actors of all its groups, only the free
 * slots and those of the group that crashed (testkit.c). */
static bool restoring(struct worker *w, uint32_t s)
{
	return !w->tk || act__tk_restores(w->tk, s);
}

int act__dyn_restore(struct worker *w, const act_start *start)
{
	/* Acquire: pairs with the release raise of hi in act_spawn(). */
	uint32_t hi = atomic_load_explicit(&w->dyn->hi, memory_order_acquire);
	uint32_t n_back = 0, n_pending = 0, n_lost = 0, n_failed = 0;
	uint64_t t0_ns = act__now_ns();

	/* A clean end that brought us here was a restart (a reload's, an
	 * operator's, a sibling's): said as the static actors' Downs say it. */
	act__death_reason(w->lost_reason, sizeof w->lost_reason, start->last_signal,
	                  start->last_exit, "group restarted");
	if (hi > w->dyn_cap) {
		act__err("spawn area: high-water mark %u out of range; treated as %u", hi,
		         w->dyn_cap);
		hi = w->dyn_cap;
		atomic_store_explicit(&w->dyn->hi, hi, memory_order_relaxed);
	}
	/* Slots we claimed in other groups and never committed (our last
	 * worker died mid-spawn) are free again. */
	act__dyn_release_claims(w);
	/* The stack holds freed slots below hi only: fresh ones (at and
	 * above hi) are claimed by raising hi, which other groups do too, so
	 * the slots never used cost nothing. */
	w->n_free = 0;
	if (hi) {
		populate(&w->actors[w->n_local], (size_t)hi * sizeof *w->actors);
		populate(act__shm_spawn_rec(&w->shm, w->self, 0), (size_t)hi * sizeof(struct act__spawn_rec));
	}
	for (uint32_t s = hi; s-- > 0;) {
		if (!restoring(w, s))
			continue;
		struct actor *a = &w->actors[w->n_local + s];
		if ((s & 65535) == 0) /* a million records take a while: not a hang */
			beat(w);
		act__dyn_touch(w, a);
		struct act__spawn_rec *r = a->rec;
		/* Acquire: pairs with the release commit in act_spawn(): a LIVE
		 * word means every field of the record before it was written. */
		uint64_t word = atomic_load_explicit(&r->word, memory_order_acquire);
		uint32_t gen = ACT__SLOT_GEN(word), st = ACT__SLOT_STATE(word);
		bool pending = false;
		a->gen = gen;
		if (ACT__SLOT_IS_RESERVED(st) && ACT__SLOT_RESERVER(st) == w->self) {
			/* Our last worker died mid-spawn: no ref to it escaped. */
			atomic_store_explicit(&r->word, ACT__SLOT_WORD(gen, ACT__SLOT_FREE),
			                      memory_order_release);
			st = ACT__SLOT_FREE;
		}
		if (st == ACT__SLOT_PENDING) {
			/* Spawned here by another group and not started yet: it
			 * starts now, whatever its restart type (it never ran).
			 * Acq_rel: as in act__dyn_start_pending(). */
			pending = atomic_compare_exchange_strong_explicit(
			    &r->word, &word, ACT__SLOT_WORD(gen, ACT__SLOT_LIVE), memory_order_acq_rel,
			    memory_order_relaxed);
			st = pending ? ACT__SLOT_LIVE : ACT__SLOT_STATE(word);
		}
		if (st != ACT__SLOT_LIVE) {
			/* RESERVED by another participant: it is writing the record. */
			if (st == ACT__SLOT_FREE)
				w->free_slots[w->n_free++] = s;
			continue;
		}
		r->name[ACT_NAME_MAX] = r->behaviour[ACT_NAME_MAX] = '\0';
		r->args[sizeof r->args - 1] = '\0';
		if (r->has_args == ACT__ARGS_EXT)
			act__shm_spawn_ext(&w->shm, w->self, s)->args[ACT__SPAWN_ARGS_MAX] = '\0';
		else if (r->has_args != ACT__ARGS_INLINE)
			r->has_args = ACT__ARGS_NONE;
		const act_behaviour *b = act__reg_behaviour(w->reg, r->behaviour);
		if (b && (pending || b->restart != ACT_TEMPORARY)) {
			int err = act__dyn_occupy(w, a, b, gen);
			if (err)
				return err;
			/* A record from a region older than the monitor count
			 * (mon_claims not tagged with its gen): counted from its
			 * entries, so that its monitors keep working. */
			uint16_t mc = atomic_load_explicit(&r->mon_claims, memory_order_relaxed);
			if ((mc >> 8) != (gen & 0xffu)) {
				uint32_t n = act__dyn_n_mon(a) ?
				             act__dyn_count_monitors(a->mon, act__dyn_n_mon(a)) : 0;
				atomic_store_explicit(&r->mon_claims, ACT__MON_CLAIMS(gen, n),
				                      memory_order_relaxed);
			}
			/* Monitors of watchers that have ended are free. */
			dyn_mon_prune(w, a, false);
			/* Started from its record, never by its SPAWN: that record
			 * is still in the spawner's ring to us (or was never
			 * queued), behind any word from its parent's group to stop
			 * the parent's earlier children (worker-int.h).  The child
			 * of a parent restarted by its policy must not take it. */
			a->spawn_unread = pending;
			n_back += !pending;
			n_pending += pending;
			continue;
		}
		/* Temporary (or a behaviour this build lacks): gone with the
		 * last worker.  Its monitors are told, then the slot is freed. */
		if (!b)
			act__err("spawned actor '%s': behaviour '%s' is unknown; not re-created",
			         r->name, r->behaviour);
		a->ddef.name = r->name;
		/* A no-op in a new worker; a testkit's table still holds it. */
		name_remove(w, r->name);
		struct actor tmp = *a;
		/* No Down for a monitor that ended with the worker of another
		 * group that took it. */
		dyn_mon_prune(w, &tmp, false);
		down_fanout(w, &tmp, w->lost_reason);
		/* Release: as in act__w_end_actor(). */
		atomic_store_explicit(&r->word, ACT__SLOT_WORD(gen, ACT__SLOT_FREE),
		                      memory_order_release);
		a->lost = true;
		w->free_slots[w->n_free++] = s;
		n_lost++;
	}
	w->dyn_seen = hi;
	/* Children in other groups of the actors just re-created (and of the
	 * static ones): they stop with their parent, as before the crash. */
	act__dyn_recall_children(w);
	for (uint32_t s = 0; s < hi; s++) {
		struct actor *a = &w->actors[w->n_local + s], *p;
		if (restoring(w, s) && !a->stopped && (p = parent_of(w, a)))
			p->n_children++;
	}
	/* init in slot order (parents were spawned before their children).
	 * An actor an init spawns meanwhile had its init and Start in
	 * act_spawn(): it is newer than start_seq, and skipped here and by
	 * the worker's Start round. */
	w->start_seq = w->spawn_seq;
	for (uint32_t s = 0; s < hi; s++) {
		struct actor *a = &w->actors[w->n_local + s];
		if ((s & 65535) == 65535)
			beat(w);
		if (a->stopped || !restoring(w, s) || a->spawn_seq > w->start_seq)
			continue;
		int r = act__dyn_run_init(w, a);
		if (r) {
			char why[96];
			snprintf(why, sizeof why, "failed: init returned %d on restart", r);
			act__err("spawned actor '%s' (%s) failed to initialise again: %s", a->def->name,
			         a->def->b->name, act_strerror(r));
			/* Its fini does not run (init failed); what init set up goes. */
			act__timers_cancel_owner(&w->timers, (uint32_t)(a - w->actors));
			act__ask_drop_owner(w, (uint32_t)(a - w->actors));
			/* A failure, which its parent's policy handles below, once
			 * every actor is back (a restart of all its siblings needs
			 * them initialised). */
			a->init_failed = true;
			free(a->fail_reason);
			a->fail_reason = strdup(why);
			a->stopping = true;
			n_failed++;
		}
	}
	/* The parent's directive, as for a live failure: restart within its
	 * intensity (then escalate), stop, or escalate.  Each restart runs
	 * init again, never Start: the Start round after the restore gives
	 * every actor its Start.  The intensity bounds the retries; an
	 * escalation that reaches the group fails it (exit 111), and the
	 * node's own intensity bounds those. */
	w->restoring = true;
	for (uint32_t s = 0; n_failed && s < hi; s++) {
		struct actor *a = &w->actors[w->n_local + s];
		if (restoring(w, s) && !a->stopped && a->init_failed && a->stopping)
			act__sup_settle(w, a);
	}
	w->restoring = false;
	/* Children of a parent that is gone (a temporary one lost now, or
	 * one whose end an earlier worker did not live to carry out) stop
	 * now, as at any parent's end; those in other groups were told by
	 * act__dyn_recall_children().  In slot order: an orphan's own
	 * children stop with it, first. */
	unsigned n_orphans = 0;
	for (uint32_t s = 0; s < hi; s++) {
		struct actor *a = &w->actors[w->n_local + s];
		if (!restoring(w, s) || a->stopped || a->stopping || !parent_gone(w, a))
			continue;
		stop_now(w, a);
		n_orphans++;
	}
	if (n_back || n_lost)
		act__info("re-created %u spawned actors in %.1f ms; %u temporary ones were lost (%s)",
		          n_back, (double)(act__now_ns() - t0_ns) / 1e6, n_lost, w->lost_reason);
	/* Spawned into the group while no worker of it ran (before its first
	 * one, or while it was down): they start now, for the first time. */
	if (n_pending)
		act__info("started %u actors spawned into the group while no worker ran", n_pending);
	if (n_orphans)
		act__info("stopped %u of them: their parent is gone", n_orphans);
	return 0;
}

/* ---- the API ---------------------------------------------------------------------- */

/* Writes decimal v at p; returns the end. */
static char *put_u32(char *p, uint32_t v)
{
	char tmp[10];
	int n = 0;
	do
		tmp[n++] = (char)('0' + v % 10u);
	while ((v /= 10u));
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* "$group.slot.gen" into out (at most 1 + 3 * 10 + 2 + 1 bytes): what
 * snprintf would write, without its cost on every anonymous spawn. */
static void anon_name(char *out, uint32_t group, uint32_t slot, uint32_t gen)
{
	char *p = out;
	*p++ = '$';
	p = put_u32(p, group);
	*p++ = '.';
	p = put_u32(p, slot);
	*p++ = '.';
	p = put_u32(p, gen);
	*p = '\0';
}

ACT_API int act_spawn(act_ctx *ctx, const char *group, const char *behaviour,
                      const char *name, const char *args_json, act_ref *out)
{
	struct worker *w = ctx ? ctx->w : NULL;
	const act_behaviour *b;
	size_t args_len = 0;
	uint32_t g;
	int err;

	if (!w || !out)
		return -EINVAL;
	*out = ACT_NOBODY;
	if (w->in_fini)
		return ACT_ESTOPPED;
	g = w->self;
	if (group && strcmp(group, w->reg->groups[w->self - 1].name)) {
		const struct act__group_def *gd = act__reg_group(w->reg, group);
		if (!gd)
			return act__pool_find(w->reg, group) ? -EOPNOTSUPP : -ENOENT;
		if (gd->pool_first)
			return -EOPNOTSUPP; /* a pool's member: its actors are the pool's */
		g = (uint32_t)(gd - w->reg->groups) + 1;
	}
	if (!(b = act__reg_behaviour(w->reg, behaviour))) {
		act__warn_every("actor '%s' spawned unknown behaviour '%s' (register it with "
		                "act_node_add_behaviour or act_module_add_behaviour)",
		                ctx->actor->def->name, behaviour ? behaviour : "(null)");
		return -ENOENT;
	}
	int bad = act__dyn_check_spawn(name, args_json, &args_len);
	if (bad)
		return bad;
	if (g != w->self)
		return act__dyn_spawn_remote(w, g, b, name, args_json, args_len, out);
	/* A name is checked and claimed under the node-wide name lock, so
	 * that no other group creates it meanwhile (dyn-remote.c). */
	if (name) {
		act__dyn_name_lock(&w->shm, w->self);
		if (act__dyn_name_in_use(&w->shm, w->reg, name)) {
			act__dyn_name_unlock(&w->shm);
			return -EEXIST;
		}
	}

	/* The claim consumes the generation before anything can leak the new
	 * ref (init may send it): a crash before the commit leaves the slot
	 * RESERVED by us, which our next worker frees, and the next tenant
	 * takes gen + 1.  A freed slot on our stack may have been claimed by
	 * another group meanwhile: then it is dropped (it comes back when
	 * that tenant ends here). */
	uint32_t slot = 0, gen = 0;
	bool claimed = false;
	while (w->n_free && !claimed) {
		slot = w->free_slots[--w->n_free];
		claimed = act__dyn_claim_slot(&w->shm, w->self, slot, w->self, &gen);
	}
	if (!claimed && act__dyn_claim_fresh(&w->shm, w->self, w->self, &slot, &gen)) {
		if (name)
			act__dyn_name_unlock(&w->shm);
		act__warn_every("group '%s' is full: %u spawned actors (raise max_spawned)",
		                w->reg->groups[w->self - 1].name, w->dyn_cap);
		return -ENOSPC;
	}
	/* A stack slot is below hi in a worker (its restore filled the
	 * stack); a testkit fills the stack itself.  Either way hi must cover
	 * the slot before its record can commit. */
	act__dyn_raise_hi(w->dyn, slot + 1);
	act__dyn_see(w, slot + 1);
	struct actor *a = &w->actors[w->n_local + slot];
	struct act__spawn_rec *r = a->rec;
	r->parent = ctx->actor->id + 1;
	r->parent_gen = ctx->actor->gen;
	r->restart = (uint8_t)b->restart;
	r->args_len = (uint16_t)args_len;
	r->n_mon = 0; /* the last tenant's monitors were all cleared at its end */
	/* Relaxed: the commit below publishes it. */
	atomic_store_explicit(&r->mon_claims, ACT__MON_CLAIMS(gen, 0), memory_order_relaxed);
	/* Both names were checked to fit (act__name_ok, the registry). */
	memcpy(r->behaviour, b->name, strlen(b->name) + 1);
	if (name)
		memcpy(r->name, name, strlen(name) + 1);
	else
		anon_name(r->name, w->self, slot, gen);
	if (!args_json) {
		r->has_args = ACT__ARGS_NONE;
	} else if (args_len < sizeof r->args) {
		r->has_args = ACT__ARGS_INLINE;
		memcpy(r->args, args_json, args_len + 1);
	} else {
		/* Long args touch the slot's ext block. */
		r->has_args = ACT__ARGS_EXT;
		memcpy(act__shm_spawn_ext(&w->shm, w->self, slot)->args, args_json, args_len + 1);
	}
	if (name) {
		act__dyn_name_index(&w->shm, w->self, name, slot, gen);
		/* Release: the name before the NAMED bit that makes it count
		 * for other groups' checks (under the lock, which orders them). */
		atomic_store_explicit(&r->word,
		                      ACT__SLOT_WORD(gen, ACT__SLOT_RESERVED_BY(w->self) | ACT__SLOT_NAMED),
		                      memory_order_release);
		act__dyn_name_unlock(&w->shm);
	}

	if ((err = act__dyn_occupy(w, a, b, gen))) {
		a->stopped = true;
		/* Release: as every store of a FREE word. */
		atomic_store_explicit(&r->word, ACT__SLOT_WORD(gen, ACT__SLOT_FREE), memory_order_release);
		w->free_slots[w->n_free++] = slot;
		return err;
	}
	if ((err = act__dyn_run_init(w, a))) {
		act__warn_every("spawned actor '%s' (%s) failed to initialise: %s", a->def->name,
		                b->name, act_strerror(err));
		atomic_store_explicit(&r->word, ACT__SLOT_WORD(gen, ACT__SLOT_FREE), memory_order_release);
		act__dyn_vacate(w, a);
		return err < 0 ? err : -ECANCELED;
	}
	/* The commit.  Release: pairs with the acquire loads of the word by
	 * lookups in other groups and by the restore of the next worker: a
	 * LIVE word means every field above is in place.  (For a death
	 * right here, what matters is program order, which the release also
	 * keeps the compiler from changing.) */
	atomic_store_explicit(&r->word, ACT__SLOT_WORD(gen, ACT__SLOT_LIVE), memory_order_release);
	*out = (act_ref){ a->id + 1, 0, gen };
	ctx->actor->n_children++;

	act_start st = { false, 0, 0, -1 };
	struct act_ctx saved = w->ctx;
	act__w_invoke(w, a, &act_start_type, &st, NULL, 0, NULL);
	if (a->stopping && !a->stopped) /* init stopped it and it has no Start handler */
		act__w_end_actor(w, a, a->fail_reason ? a->fail_reason :
		                 a->stop_reason ? a->stop_reason : "normal");
	w->ctx = saved;
	return 0;
}

/* The group of `who` if it is another group's actor, else 0. */
static uint32_t other_group(struct worker *w, act_ref who)
{
	uint32_t g = who.peer || !who.id ? 0 : act__w_group_of(w, who.id - 1);
	return g != w->self ? g : 0;
}

/* The live local actor `who` names: 0, -ENOENT (stale, unknown) or -EOPNOTSUPP. */
static int resolve_local(struct worker *w, act_ref who, struct actor **out)
{
	uint32_t id = who.id - 1;
	struct actor *a;

	if (who.peer || who.id == 0 || !act__w_group_of(w, id))
		return -ENOENT;
	if (!(a = act__w_local(w, id)))
		return -EOPNOTSUPP;
	*out = a;
	if (a->stopped || (a->dynamic && a->gen != who.gen))
		return -ENOENT;
	return 0;
}

ACT_API int act_stop(act_ctx *ctx, act_ref who)
{
	struct worker *w = ctx->w;
	struct actor *a;
	int err;

	if (other_group(w, who))
		return act__dyn_stop_remote(w, who);
	if ((err = resolve_local(w, who, &a)))
		return err;
	if (a->stopping)
		return 0;
	if (a->running) {
		/* Its handler is on the stack (itself, or a parent inside
		 * act_spawn): it stops when that handler returns. */
		a->stopping = true;
		a->stop_reason = "stopped";
		return 0;
	}
	if (w->in_fini)
		return ACT_ESTOPPED;
	stop_now(w, a);
	return 0;
}

ACT_API int act_monitor(act_ctx *ctx, act_ref who, uint64_t *monitor_id)
{
	struct worker *w = ctx->w;
	struct actor *a, *me = ctx->actor;
	int err = resolve_local(w, who, &a);
	uint32_t idx;

	if (!monitor_id)
		return -EINVAL;
	*monitor_id = 0;
	if (who.peer) /* watched through the gateway (remote-mon.c) */
		return act__peer_monitor(w, me, who, monitor_id);
	if (other_group(w, who))
		return act__dyn_monitor_remote(w, who, monitor_id);
	if (err == -EOPNOTSUPP || (err && !act__w_group_of(w, who.id - 1)) || who.peer)
		return err ? err : -EOPNOTSUPP;
	if (w->n_slots >= (1u << MON_IDX_BITS))
		return -ENOSPC;
	idx = (uint32_t)(a - w->actors);
	/* Bit 63 clear: it marks the ids of monitors in other groups. */
	*monitor_id = ((++w->mon_seq << MON_IDX_BITS) & ~(1ull << 63)) | (idx + 1);
	if (err || a->stopping) {
		/* Already gone (or going): Down at once. */
		struct act__spawn_mon m = { me->id + 1, me->gen, *monitor_id };
		char name[ACT_NAME_MAX + 1];
		if (!err || !a->dynamic)
			snprintf(name, sizeof name, "%s", a->def->name);
		else
			act__dyn_anon_name(name, sizeof name, w->self,
			                   a->dynamic ? (uint32_t)(idx - w->n_local) : idx, who.gen);
		send_down(w, &m, name, who.id - 1, who.gen, "noproc");
		return 0;
	}
	if ((err = act__dyn_add_monitor(w, a, me->id + 1, me->gen, *monitor_id, false, 0)))
		*monitor_id = 0;
	else
		me->lmon = true; /* its end removes it (drop_local_watches()) */
	return err;
}

/* Room for one more monitor of static actor a (its entries live in this
 * process and grow, up to STATIC_MONITORS_MAX): 0, -ENOSPC, -ENOMEM. */
#define STATIC_MONITORS_MAX 4096u
/* The generation of the worker of watcher's group now, for an entry of a
 * static actor's list; 0 (never pruned) for a watcher of our own group,
 * whose end is ours. */
/* The generation of the worker of the watcher of monitor mid (its id
 * names the participant: a pool's member), 0 if not another group's. */
static uint32_t watcher_pgen(struct worker *w, uint32_t watcher, uint64_t mid)
{
	uint32_t g = act__mid_part(mid);

	if (!g || g >= w->n_parts)
		g = act__w_group_of(w, watcher - 1);

	if (!g || g == w->self || g >= w->n_parts || w->tk)
		return 0;
	return (uint32_t)atomic_load_explicit(&w->parts[g]->generation, memory_order_relaxed);
}

static int static_mon_room(struct worker *w, struct actor *a)
{
	if (!a->mon)
		a->mon_cap = 0; /* a testkit frees them between runs */
	for (uint32_t i = 0; i < a->mon_cap; i++)
		if (!a->mon[i].watcher)
			return 0;
	if (a->mon_cap >= STATIC_MONITORS_MAX) {
		/* Full.  The entries of watchers whose worker has ended since
		 * they were taken are free: those monitors ended with it (the
		 * new worker drops their Downs, dyn-remote.c).  Without this, a
		 * watcher that monitors us in every Start and restarts fills
		 * the list for good. */
		bool freed = false;
		for (uint32_t i = 0; a->mon_pgen && i < a->mon_cap; i++) {
			uint32_t pg = a->mon_pgen[i], watcher = a->mon[i].watcher;
			if (watcher && ((pg && watcher_pgen(w, watcher, a->mon[i].id) != pg) ||
			                act__dyn_mon_entry_stale(w, &a->mon[i], a->id))) {
				__atomic_store_n(&a->mon[i].watcher, 0, __ATOMIC_RELAXED);
				freed = true;
			}
		}
		return freed ? 0 : -ENOSPC;
	}
	uint32_t cap = a->mon_cap ? 2 * a->mon_cap : ACT__SPAWN_MONITORS;
	uint32_t *pg = realloc(a->mon_pgen, cap * sizeof *pg);
	if (!pg)
		return -ENOMEM;
	a->mon_pgen = pg;
	memset(pg + a->mon_cap, 0, (cap - a->mon_cap) * sizeof *pg);
	struct act__spawn_mon *m = realloc(a->mon, cap * sizeof *m);
	if (!m)
		return -ENOMEM;
	memset(m + a->mon_cap, 0, (cap - a->mon_cap) * sizeof *m);
	a->mon = m;
	a->mon_cap = cap;
	return 0;
}

int act__dyn_add_monitor(struct worker *w, struct actor *a, uint32_t watcher,
                         uint32_t watcher_gen, uint64_t mid, bool claimed,
                         uint32_t pgen)
{
	if (!a->dynamic) {
		int err = static_mon_room(w, a);
		if (err)
			return err;
	} else if (!claimed) {
		/* A local monitor takes its entry as remote ones do, so that
		 * they see it (dyn-remote.c).  All taken: first free those of
		 * watchers whose worker has ended. */
		int c = act__dyn_mon_claim(a->rec, a->gen, 0);
		if (c == 0 && dyn_mon_prune(w, a, true))
			c = act__dyn_mon_claim(a->rec, a->gen, 0);
		if (c != 1)
			return -ENOSPC;
	}
	uint32_t n_ent = a->dynamic ? ACT__SPAWN_MONITORS : a->mon_cap;
again:;
	uint32_t n_mon = act__dyn_n_mon(a);
	for (uint32_t i = 0; i < n_ent; i++) {
		struct act__spawn_mon *m = &a->mon[i];
		if (i < n_mon && m->watcher)
			continue;
		/* A spawned actor's entry keeps the watcher's worker
		 * generation in place of our id (layout.h). */
		m->id = a->dynamic ? act__mon_entry_pack(mid, a->id, pgen) : mid;
		m->watcher_gen = watcher_gen;
		/* The watcher's worker generation as it said (an older
		 * worker says nothing: the group's now, which a watcher that
		 * died with its request still unread outlives). */
		if (!a->dynamic)
			a->mon_pgen[i] = pgen ? pgen : watcher_pgen(w, watcher, mid);
		if (a->dynamic && i >= n_mon)
			a->rec->n_mon = (uint8_t)(i + 1); /* before the watcher that counts */
		/* Release: the entry's other fields before the watcher that makes
		 * it count; pairs with the acquire in act__dyn_restore()'s load of
		 * the word (the next worker reads it after our death; the
		 * barrier keeps the compiler from reordering the stores). */
		__atomic_store_n(&m->watcher, watcher, __ATOMIC_RELEASE);
		return 0;
	}
	/* A claim made beyond 8 counted on entries of ended watchers
	 * (dyn-remote.c): they are freed now, for it. */
	if (a->dynamic && dyn_mon_prune(w, a, true))
		goto again;
	/* Not reached while the claims count right; if they ever do not
	 * (those entries were freed for another meanwhile), the claim goes
	 * back, and the caller answers with a Down. */
	if (a->dynamic)
		act__dyn_mon_release(a->rec, a->gen);
	return -ENOSPC;
}

ACT_API int act_demonitor(act_ctx *ctx, uint64_t monitor_id)
{
	struct worker *w = ctx->w;
	uint32_t idx = (uint32_t)(monitor_id & ((1u << MON_IDX_BITS) - 1));

	if (act__peer_is_monitor(monitor_id))
		return act__peer_demonitor(w, monitor_id);
	if (act__dyn_is_remote_monitor(monitor_id))
		return act__dyn_demonitor_remote(w, monitor_id);
	if (idx == 0 || idx > w->n_slots || !w->actors[idx - 1].mon)
		return -ENOENT;
	struct actor *a = &w->actors[idx - 1];
	struct act__spawn_mon *mon = a->mon;
	for (uint32_t i = 0, n = act__dyn_n_mon(a); i < n; i++)
		if (mon[i].watcher && act__mon_entry_id(&mon[i], a->id) == monitor_id) {
			/* One store removes it (relaxed: see down_fanout()). */
			__atomic_store_n(&mon[i].watcher, 0, __ATOMIC_RELAXED);
			if (a->dynamic && !a->stopped)
				act__dyn_mon_release(a->rec, a->gen);
			return 0;
		}
	return -ENOENT;
}

ACT_API void act_fail(act_ctx *ctx, const char *reason)
{
	struct actor *a = ctx->actor;
	size_t n = strlen("failed: ") + (reason ? strlen(reason) : 1) + 1;
	char *why = malloc(n);

	if (why)
		snprintf(why, n, "failed: %s", reason ? reason : "?");
	free(a->fail_reason);
	a->fail_reason = why;
	a->stopping = true;
	if (__builtin_expect(act__ic_n != 0, 0)) /* interceptors' on_failure */
		act__ic_failure(ctx, why ? why : "failed: ?");
	/* Rate-limited: a child its parent restarts may fail on every message. */
	act__err_every("actor '%s' failed: %s", a->def->name, reason ? reason : "?");
}
