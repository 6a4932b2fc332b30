/* SPDX-License-Identifier: MIT */
/*
 * shm.h - private: the shared-memory region (see layout.h for the format).
 */
#ifndef ACT_SHM_H
#define ACT_SHM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "layout.h"
#include "ring.h"
#include "stats.h"

/* What the supervisor wants in the region, per participant. */
struct act__part_spec {
	const char *name;
	uint32_t ring_bytes;       /* capacity of each ring INTO this participant */
	uint32_t max_msg;
	uint32_t spin_us;
	uint32_t max_redeliveries;
	uint32_t n_actors;
	uint32_t max_spawned;      /* groups: spawn slots; 0 = ACT__DYN_SLOTS_DEFAULT */
};

typedef struct act__shm {
	int fd;
	unsigned char *base;
	size_t size;
	struct act__region *hdr;
	/* Copies taken when the region was created or validated: never read
	 * back from the header, which a buggy process could overwrite. */
	uint64_t parts_off;
	uint64_t rings_off;
	uint64_t generation;
	uint32_t n_parts;
	_Atomic uint64_t *touched; /* the touched bitmap (layout.h, layout 8) */
	/* The spawn areas (layout.h), per participant; [0] and, in a
	 * testkit's unattached shm, every entry are zero (no slots). */
	uint32_t dyn_shift;
	struct act__shm_dyn {
		struct act__dyn_hdr *hdr;
		struct act__spawn_rec *recs;
		struct act__spawn_ext *ext;
		uint32_t base;
		uint32_t n_slots;
	} dyn[ACT__MAX_PARTS];
	struct act__stats stats;   /* per-actor statistics (stats.h); base NULL if none */
	struct act__xarea *xa;     /* topics and per-type figures (topic.h), or NULL */
} act__shm;

/*
 * Creates and maps a new region (memfd, MFD_CLOEXEC|MFD_ALLOW_SEALING,
 * sealed against shrink/grow/further sealing) with n_parts participants
 * (index 0 = supervisor) and one formatted ring per ordered pair.
 * Returns 0 or a negative errno.  Supervisor only.
 */
int act__shm_create(act__shm *shm, const struct act__part_spec *parts, uint32_t n_parts,
                    uint32_t n_actors, uint32_t n_types, uint64_t directory_hash);

/*
 * The same, in a file at path instead of a memfd (a tmpfs runtime
 * directory, so that the region outlives the supervisor): written as
 * path.new, then linked to path once whole, so that path never names a
 * half-made region.  Not sealed (only memfds can be).  -EEXIST if path
 * exists.  Supervisor only.
 */
int act__shm_create_file(act__shm *shm, const struct act__part_spec *parts, uint32_t n_parts,
                         uint32_t n_actors, uint32_t n_types, uint64_t directory_hash,
                         const char *path);

/*
 * Maps the region behind fd and validates its header (magic, version,
 * size, checksum, table bounds; directory_hash if nonzero).  Returns 0,
 * -EPROTO with a reason in err for a bad region, or -errno.
 */
int act__shm_attach(act__shm *shm, int fd, uint64_t directory_hash, char *err, size_t err_cap);

/* Unmaps (and closes fd if close_fd).  NULL-safe on an unattached shm. */
void act__shm_detach(act__shm *shm, int close_fd);

/* Poisons the header magic (anyone still attached sees a dead region), then detaches. */
void act__shm_destroy(act__shm *shm);

static inline struct act__part *act__shm_part(const act__shm *shm, uint32_t i)
{
	return (struct act__part *)(shm->base + shm->parts_off +
	                            (size_t)i * sizeof(struct act__part));
}

/* Group `part`'s (1..n_parts-1) spawn area header, record and ext block
 * of `slot` (< act__shm_dyn_slots(shm, part)).  Pure address arithmetic:
 * no page of the area is touched. */
static inline struct act__dyn_hdr *act__shm_dyn(const act__shm *shm, uint32_t part)
{
	return shm->dyn[part].hdr;
}
static inline uint32_t act__shm_dyn_slots(const act__shm *shm, uint32_t part)
{
	return shm->dyn[part].n_slots;
}

/* How many slots of part's spawn area were ever used (its hi mark, an
 * acquire load: the records below it are visible), never more than the
 * area has: any process may raise hi, and a wild value must not send a
 * reader past the area. */
static inline uint32_t act__shm_dyn_hi(const act__shm *shm, uint32_t part)
{
	uint32_t hi = atomic_load_explicit(&shm->dyn[part].hdr->hi, memory_order_acquire);
	return hi < shm->dyn[part].n_slots ? hi : shm->dyn[part].n_slots;
}
static inline struct act__spawn_rec *act__shm_spawn_rec(const act__shm *shm, uint32_t part,
                                                        uint32_t slot)
{
	return &shm->dyn[part].recs[slot];
}
static inline struct act__spawn_ext *act__shm_spawn_ext(const act__shm *shm, uint32_t part,
                                                        uint32_t slot)
{
	return &shm->dyn[part].ext[slot];
}

/* ---- spawned actor ids: (group, slot) <-> id (ref ids are id + 1) ---------- */

/* The id of slot `slot` of group `part`. */
static inline uint32_t act__dyn_id(const act__shm *shm, uint32_t part, uint32_t slot)
{
	return ACT__DYN_BASE + shm->dyn[part].base + slot;
}

/*
 * The parent (ref id + 1, and its generation) named by spawn record r,
 * if r holds an actor (LIVE or PENDING) that has one.  Acquire: such a
 * word means the parent fields are written - a later tenant's, at worst
 * (no lock): a STOP_CHILDREN word sent on such a match finds no child
 * and does nothing.
 */
static inline bool act__spawn_rec_parent(const struct act__spawn_rec *r, uint32_t *parent,
                                         uint32_t *pgen)
{
	uint64_t word = atomic_load_explicit(&r->word, memory_order_acquire);
	uint32_t st = ACT__SLOT_STATE(word);
	if (st != ACT__SLOT_LIVE && st != ACT__SLOT_PENDING)
		return false;
	*parent = r->parent;
	*pgen = r->parent_gen;
	return *parent != 0;
}

/* The group (participant) whose slot `id` is, or 0 if no spawned actor can
 * have that id (static ids, ids past a group's capacity or past the last
 * group).  O(1): the groups' ranges are a fixed power-of-two stride apart. */
static inline uint32_t act__dyn_group_of(const act__shm *shm, uint32_t id)
{
	uint32_t g;

	if (id < ACT__DYN_BASE)
		return 0;
	g = 1u + ((id - ACT__DYN_BASE) >> shm->dyn_shift);
	if (g >= shm->n_parts || id - ACT__DYN_BASE - shm->dyn[g].base >= shm->dyn[g].n_slots)
		return 0;
	return g;
}

/* The slot of `id` in its group (only for ids act__dyn_group_of() accepts). */
static inline uint32_t act__dyn_slot_of(const act__shm *shm, uint32_t id)
{
	return (id - ACT__DYN_BASE) & ((1u << shm->dyn_shift) - 1u);
}

/* Whether spawned actor id (of group g, generation gen) has ended: its
 * slot is free or another tenant's.  Any participant may ask. */
static inline bool act__dyn_tenant_gone(const act__shm *shm, uint32_t g, uint32_t id,
                                        uint32_t gen)
{
	struct act__spawn_rec *r = act__shm_spawn_rec(shm, g, act__dyn_slot_of(shm, id));
	uint64_t word = atomic_load_explicit(&r->word, memory_order_acquire);
	uint32_t st = ACT__SLOT_STATE(word);

	return ACT__SLOT_GEN(word) != gen || (st != ACT__SLOT_LIVE && st != ACT__SLOT_PENDING);
}

/* The name shown for an anonymous spawned actor (or a stale ref to one):
 * "$GROUP.SLOT.GEN". */
static inline void act__dyn_anon_name(char *buf, size_t cap, uint32_t group, uint32_t slot,
                                      uint32_t gen)
{
	snprintf(buf, cap, "$%u.%u.%u", group, slot, gen);
}

/* True once the ring from -> to was written by its producer (the touched
 * bitmap, layout.h): before that it is empty and must not be read (a read
 * costs a page of memory).  Acquire: pairs with the release in
 * act__ring_touch(), so a caller that sees true may read the header. */
static inline bool act__shm_ring_touched(const act__shm *shm, uint32_t from, uint32_t to)
{
	uint64_t i = (uint64_t)from * shm->n_parts + to;
	return (atomic_load_explicit(&shm->touched[i / 64u], memory_order_acquire) >>
	        (i % 64u)) & 1u;
}

/* Attaches h to the ring from -> to: validating its header if it was
 * touched, else without reading it (act__ring_attach_lazy()).  0, -EPROTO
 * or -EBADMSG (see act__ring_attach()). */
int act__shm_ring(const act__shm *shm, uint32_t from, uint32_t to, act__ring_h *h);

/* FNV-1a over a byte string, chained: used for the checksum and directory hash. */
uint64_t act__fnv1a(uint64_t h, const void *data, size_t len);
#define ACT__FNV_SEED 0xcbf29ce484222325ull

#endif
