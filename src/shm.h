/* SPDX-License-Identifier: MIT */
/*
 * shm.h - private: the shared-memory region (see layout.h for the format).
 */
#ifndef ACT_SHM_H
#define ACT_SHM_H

#include <stddef.h>
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
	uint64_t dyn_off;          /* the spawn areas (layout.h) */
	uint64_t dyn_area_bytes;
	struct act__stats stats;   /* per-actor statistics (stats.h); base NULL if none */
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

/* Group `part`'s (1..n_parts-1) spawn area header, and record `slot`. */
static inline struct act__dyn_hdr *act__shm_dyn(const act__shm *shm, uint32_t part)
{
	return (struct act__dyn_hdr *)(shm->base + shm->dyn_off +
	                               (size_t)(part - 1) * shm->dyn_area_bytes);
}
static inline struct act__spawn_rec *act__shm_spawn_rec(const act__shm *shm, uint32_t part,
                                                        uint32_t slot)
{
	return (struct act__spawn_rec *)((unsigned char *)act__shm_dyn(shm, part) +
	                                 ACT__DYN_HDR_BYTES +
	                                 (size_t)slot * sizeof(struct act__spawn_rec));
}

/* Attaches h to the ring from -> to (validating it).  0, -EPROTO or
 * -EBADMSG (see act__ring_attach()). */
int act__shm_ring(const act__shm *shm, uint32_t from, uint32_t to, act__ring_h *h);

/* FNV-1a over a byte string, chained: used for the checksum and directory hash. */
uint64_t act__fnv1a(uint64_t h, const void *data, size_t len);
#define ACT__FNV_SEED 0xcbf29ce484222325ull

#endif
