/* SPDX-License-Identifier: MIT */
/*
 * shm.c - creating, sealing, mapping and validating the region.
 *
 * The supervisor creates the region before any worker exists; workers
 * inherit the fd and validate every header before they follow an offset
 * found in it, because a buggy worker could have scribbled on shared
 * memory and a newer or older build could have laid it out differently.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <actors.h>

#include "shm.h"
#include "topic.h"

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#define MFD_ALLOW_SEALING 0x0002U
#endif

uint64_t act__fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t header_checksum(const struct act__region *r)
{
	/* Everything between the magic (written last) and the checksum. */
	const unsigned char *p = (const unsigned char *)r;
	size_t from = offsetof(struct act__region, version);
	return act__fnv1a(ACT__FNV_SEED, p + from, offsetof(struct act__region, checksum) - from);
}

static size_t align_up(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }

/* Bytes of the touched bitmap (layout.h) for n_parts participants. */
static size_t touched_bytes(uint32_t n_parts)
{
	return ((size_t)n_parts * n_parts + 63) / 64 * 8;
}

static uint64_t dyn_checksum(const struct act__region *r)
{
	const unsigned char *p = (const unsigned char *)r;
	size_t from = offsetof(struct act__region, dyn_off);
	return act__fnv1a(ACT__FNV_SEED, p + from, offsetof(struct act__region, dyn_checksum) - from);
}

/* Points shm->dyn[] at the spawn areas h (validated) describes. */
static void map_dyn(act__shm *shm, const struct act__region *h)
{
	shm->dyn_shift = h->dyn_shift;
	for (uint32_t g = 1; g < h->n_parts; g++) {
		const struct act__dyn_group *d = &h->dyn[g];
		shm->dyn[g].hdr = (struct act__dyn_hdr *)(shm->base + d->off);
		shm->dyn[g].recs = (struct act__spawn_rec *)(shm->base + d->off + act__dyn_hdr_bytes(d->n_slots));
		shm->dyn[g].ext = (struct act__spawn_ext *)(shm->base + d->ext_off);
		shm->dyn[g].base = d->base;
		shm->dyn[g].n_slots = d->n_slots;
	}
}

/*
 * Lays out the spawn areas from dyn_off on (see layout.h) into h->dyn[]
 * and returns the end.  The ids of group g start (g - 1) strides above
 * ACT__DYN_BASE; the stride is a power of two so that the group of an id
 * is a shift.  With the default capacity the ids are those of layout 4.
 */
static size_t layout_dyn(struct act__region *h, const struct act__part_spec *parts,
                         uint32_t n_parts, size_t dyn_off)
{
	uint32_t max = ACT__DYN_SLOTS_DEFAULT, shift = 0;
	size_t off = dyn_off;

	for (uint32_t g = 1; g < n_parts; g++)
		if (parts[g].max_spawned > max)
			max = parts[g].max_spawned;
	while ((1u << shift) < max)
		shift++;
	h->dyn_off = dyn_off;
	h->dyn_shift = shift;
	h->spawn_rec_bytes = sizeof(struct act__spawn_rec);
	h->spawn_ext_bytes = sizeof(struct act__spawn_ext);
	for (uint32_t g = 1; g < n_parts; g++) {
		struct act__dyn_group *d = &h->dyn[g];
		d->n_slots = parts[g].max_spawned ? parts[g].max_spawned : ACT__DYN_SLOTS_DEFAULT;
		d->base = (g - 1) << shift;
		d->off = off;
		d->ext_off = align_up(off + act__dyn_hdr_bytes(d->n_slots) +
		                      (size_t)d->n_slots * sizeof(struct act__spawn_rec), 4096);
		off = align_up(d->ext_off + (size_t)d->n_slots * sizeof(struct act__spawn_ext), 4096);
	}
	return off;
}

/*
 * The region's file: a sealed memfd (path NULL), or a file at path, made
 * as path.new and linked to path only once fully formatted (see
 * act__shm_create_file()).
 */
static int region_file(const char *path, size_t size, char *tmp, size_t tmp_cap)
{
	int fd, err;

	if (!path) {
		fd = memfd_create("actors-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0)
			return -errno;
	} else {
		if ((size_t)snprintf(tmp, tmp_cap, "%s.new", path) >= tmp_cap)
			return -ENAMETOOLONG;
		unlink(tmp); /* left by a creator that died before its link() */
		fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
	}
	if (ftruncate(fd, (off_t)size) < 0)
		goto fail;
	/* The size is final: nobody (not even a buggy worker) can shrink the
	 * file under another process's mapping and turn reads into SIGBUS.
	 * Only a memfd can be sealed; a region file is protected by its mode
	 * (0600) and its directory (0700) instead. */
	if (!path && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	if (path)
		unlink(tmp);
	return err;
}

static int create(act__shm *shm, const struct act__part_spec *parts, uint32_t n_parts,
                  uint32_t n_actors, uint32_t n_types, uint64_t directory_hash, const char *path)
{
	char tmp[4096];
	size_t parts_off, rings_off, touched_off, off, size, dyn_off, xa_off;
	struct act__region *dh;
	uint64_t gen = 0;
	int err;

	memset(shm, 0, sizeof *shm);
	shm->fd = -1;
	if (n_parts < 1 || n_parts > ACT__MAX_PARTS)
		return -EINVAL;
	for (uint32_t g = 1; g < n_parts; g++)
		if (parts[g].max_spawned > ACT__DYN_SLOTS_MAX)
			return -EINVAL;

	parts_off = align_up(sizeof(struct act__region), 4096);
	for (uint32_t to = 0; to < n_parts; to++)
		if (!act__ring_params_ok(parts[to].ring_bytes, parts[to].max_msg))
			return -EINVAL;
	rings_off = align_up(parts_off + (size_t)n_parts * sizeof(struct act__part), 64);
	touched_off = align_up(rings_off + (size_t)n_parts * n_parts * sizeof(struct act__ring_ent), 64);
	off = align_up(touched_off + touched_bytes(n_parts), 4096);
	size = off;
	for (uint32_t from = 0; from < n_parts; from++)
		for (uint32_t to = 0; to < n_parts; to++)
			size = align_up(size + act__ring_bytes(parts[to].ring_bytes), 4096);
	/* The spawn areas: untouched memfd pages cost nothing, so every group
	 * gets its full range of slots up front.  Laid out in a scratch
	 * header first (the size must be known before the memfd exists). */
	dyn_off = size;
	if (!(dh = calloc(1, sizeof *dh)))
		return -ENOMEM;
	size = layout_dyn(dh, parts, n_parts, dyn_off);
	xa_off = size; /* topics and per-type figures (topic.c) follow the spawn areas */
	size += act__xarea_bytes(n_parts);
	/* The per-actor statistics describe themselves from the last page. */
	size += act__stats_bytes(n_parts, n_actors);

	if (getrandom(&gen, sizeof gen, GRND_NONBLOCK) != (ssize_t)sizeof gen)
		gen = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^ (uint64_t)time(NULL);
	gen |= 1; /* never 0 */

	shm->fd = region_file(path, size, tmp, sizeof tmp);
	if (shm->fd < 0) {
		err = shm->fd;
		shm->fd = -1;
		free(dh);
		return err;
	}
	shm->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, shm->fd, 0);
	if (shm->base == MAP_FAILED) {
		shm->base = NULL;
		err = -errno;
		goto fail_fd;
	}
	shm->size = size;
	shm->hdr = (struct act__region *)shm->base;

	struct act__region *h = shm->hdr;
	h->version = ACT__LAYOUT_VERSION;
	h->hdr_bytes = sizeof *h;
	h->size = size;
	h->generation = gen;
	h->n_parts = n_parts;
	h->n_actors = n_actors;
	h->n_types = n_types;
	h->part_bytes = sizeof(struct act__part);
	h->parts_off = parts_off;
	h->rings_off = rings_off;
	h->touched_off = touched_off;
	shm->parts_off = parts_off;
	shm->rings_off = rings_off;
	shm->touched = (_Atomic uint64_t *)(shm->base + touched_off);
	shm->generation = gen;
	shm->n_parts = n_parts;
	h->directory_hash = directory_hash;
	h->supervisor_pid = getpid();
	h->epoch = 1;

	for (uint32_t i = 0; i < n_parts; i++) {
		struct act__part *p = act__shm_part(shm, i);
		snprintf(p->name, sizeof p->name, "%s", parts[i].name);
		p->index = i;
		p->ring_bytes = parts[i].ring_bytes;
		p->max_msg = parts[i].max_msg;
		p->spin_us = parts[i].spin_us;
		p->max_redeliveries = parts[i].max_redeliveries;
		p->n_actors = parts[i].n_actors;
		/* Scanning every inbound ring is cheap with few participants; the
		 * supervisor (0) always uses the bitmap (its sleep check reads it). */
		p->scan_all = i != ACT__SUPERVISOR && n_parts <= ACT__SCAN_ALL_MAX;
	}
	struct act__ring_ent *tab = (struct act__ring_ent *)(shm->base + rings_off);
	for (uint32_t from = 0; from < n_parts; from++) {
		for (uint32_t to = 0; to < n_parts; to++) {
			struct act__ring_ent *e = &tab[from * n_parts + to];
			e->offset = off;
			e->bytes = act__ring_bytes(parts[to].ring_bytes);
			/* Not formatted: its producer does that on first use
			 * (act__ring_touch()), so a ring never used is never
			 * written and costs no memory. */
			off = align_up(off + e->bytes, 4096);
		}
	}
	layout_dyn(h, parts, n_parts, dyn_off);
	free(dh);
	dh = NULL;
	h->dyn_checksum = dyn_checksum(h);
	map_dyn(shm, h);
	h->checksum = header_checksum(h);
	act__xarea_format((struct act__xarea *)(shm->base + xa_off), n_parts);
	shm->xa = act__xarea_open(shm->base, size, xa_off);
	act__stats_format(shm->base, size, n_parts, n_actors);
	act__stats_open(&shm->stats, shm->base, size);
	shm->stats.dyn_shift = shm->dyn_shift;
	/* Magic last: a region is valid only once fully written. */
	atomic_thread_fence(memory_order_release);
	h->magic = ACT__REGION_MAGIC;
	/* Only a whole region gets the name a restarted supervisor looks for;
	 * link() refuses to replace one that appeared meanwhile. */
	if (path) {
		if (link(tmp, path) < 0) {
			err = -errno;
			goto fail_map;
		}
		unlink(tmp);
	}
	return 0;

fail_map:
	munmap(shm->base, size);
	shm->base = NULL;
	shm->hdr = NULL;
fail_fd:
	close(shm->fd);
	shm->fd = -1;
	if (path)
		unlink(tmp);
	free(dh);
	return err;
}

int act__shm_create(act__shm *shm, const struct act__part_spec *parts, uint32_t n_parts,
                    uint32_t n_actors, uint32_t n_types, uint64_t directory_hash)
{
	return create(shm, parts, n_parts, n_actors, n_types, directory_hash, NULL);
}

int act__shm_create_file(act__shm *shm, const struct act__part_spec *parts, uint32_t n_parts,
                         uint32_t n_actors, uint32_t n_types, uint64_t directory_hash,
                         const char *path)
{
	return create(shm, parts, n_parts, n_actors, n_types, directory_hash, path);
}

/* Whether the spawn areas h describes are in bounds and consistent: NULL,
 * or what is wrong. */
static const char *check_dyn(const struct act__region *h)
{
	uint64_t end = h->dyn_off;

	if (h->dyn_shift < 14 || h->dyn_shift > 22 || (h->dyn_off & 4095) || h->dyn_off > h->size)
		return "spawn areas out of bounds";
	for (uint32_t g = 1; g < h->n_parts; g++) {
		const struct act__dyn_group *d = &h->dyn[g];
		if (d->n_slots < 1 || d->n_slots > ACT__DYN_SLOTS_MAX ||
		    d->n_slots > (1u << h->dyn_shift) || d->base != (g - 1) << h->dyn_shift)
			return "spawn area capacity or ids out of range";
		/* In order, each after the last, records before ext blocks. */
		if (d->off < end || (d->off & 4095) ||
		    d->ext_off < d->off + act__dyn_hdr_bytes(d->n_slots) +
		                 (uint64_t)d->n_slots * sizeof(struct act__spawn_rec) ||
		    d->ext_off > h->size ||
		    (h->size - d->ext_off) / sizeof(struct act__spawn_ext) < d->n_slots)
			return "spawn areas out of bounds";
		end = d->ext_off + (uint64_t)d->n_slots * sizeof(struct act__spawn_ext);
	}
	return NULL;
}

int act__shm_attach(act__shm *shm, int fd, uint64_t directory_hash, char *err, size_t err_cap)
{
	struct stat st;
	struct act__region h; /* one copy, validated and then used: never reread */
	const char *why = NULL;

	memset(shm, 0, sizeof *shm);
	shm->fd = fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((size_t)st.st_size < sizeof(struct act__region)) {
		why = "region smaller than its header";
		goto bad;
	}
	shm->base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (shm->base == MAP_FAILED) {
		shm->base = NULL;
		return -errno;
	}
	shm->size = (size_t)st.st_size;
	shm->hdr = (struct act__region *)shm->base;
	/* The magic first, with acquire: pairs with the release fence before
	 * the creator's store of the magic in act__shm_create(), so a copy
	 * that holds the magic holds every field written before it; without
	 * it a half-written header could validate.  (Workers are forked after
	 * the region was made, which orders this too; the barrier is for
	 * anyone attaching from outside that fork tree.) */
	uint64_t magic = __atomic_load_n(&shm->hdr->magic, __ATOMIC_ACQUIRE);
	memcpy(&h, shm->hdr, sizeof h);
	h.magic = magic;

	if (h.magic == ACT__POISON_MAGIC)
		why = "region was torn down";
	else if (h.magic != ACT__REGION_MAGIC)
		why = "bad magic";
	else if (h.version != ACT__LAYOUT_VERSION)
		why = "unsupported layout version";
	else if (h.hdr_bytes != sizeof h || h.part_bytes != sizeof(struct act__part))
		why = "header sizes differ from this build";
	else if (h.size != shm->size)
		why = "size in header does not match the region";
	else if (h.checksum != header_checksum(&h))
		why = "header checksum mismatch";
	else if (h.n_parts < 1 || h.n_parts > ACT__MAX_PARTS)
		why = "participant count out of range";
	else if (h.parts_off + (uint64_t)h.n_parts * sizeof(struct act__part) > h.size ||
	         h.rings_off + (uint64_t)h.n_parts * h.n_parts * sizeof(struct act__ring_ent) > h.size ||
	         (h.touched_off & 7) || h.touched_off > h.size ||
	         h.size - h.touched_off < touched_bytes(h.n_parts))
		why = "tables out of bounds";
	else if (directory_hash && h.directory_hash != directory_hash)
		why = "actor directory differs from this process's registry";
	else if (h.dyn_checksum != dyn_checksum(&h))
		why = "spawn area header checksum mismatch";
	else if (h.spawn_rec_bytes != sizeof(struct act__spawn_rec) ||
	         h.spawn_ext_bytes != sizeof(struct act__spawn_ext))
		why = "spawn record sizes differ from this build";
	else
		why = check_dyn(&h);
	if (why)
		goto bad;
	shm->parts_off = h.parts_off;
	shm->rings_off = h.rings_off;
	shm->touched = (_Atomic uint64_t *)(shm->base + h.touched_off);
	shm->generation = h.generation;
	shm->n_parts = h.n_parts;
	map_dyn(shm, &h);
	/* The topic area follows the last spawn area (a region without it:
	 * no topics, act_join() says -ENOTSUP). */
	uint64_t xa_off = h.dyn_off;
	for (uint32_t g = 1; g < h.n_parts; g++) {
		uint64_t end = (h.dyn[g].ext_off + (uint64_t)h.dyn[g].n_slots *
		                sizeof(struct act__spawn_ext) + 4095) & ~(uint64_t)4095;
		if (end > xa_off)
			xa_off = end;
	}
	shm->xa = act__xarea_open(shm->base, shm->size, xa_off);
	/* A region without (valid) statistics still works: the hooks skip. */
	act__stats_open(&shm->stats, shm->base, shm->size);
	shm->stats.dyn_shift = shm->dyn_shift;
	return 0;
bad:
	if (err && err_cap)
		snprintf(err, err_cap, "shared memory: %s", why);
	act__shm_detach(shm, 0);
	shm->fd = fd;
	return -EPROTO;
}

int act__shm_ring(const act__shm *shm, uint32_t from, uint32_t to, act__ring_h *h)
{
	const struct act__ring_ent *tab;
	uint64_t offset, bytes;

	if (from >= shm->n_parts || to >= shm->n_parts)
		return -EINVAL;
	tab = (const struct act__ring_ent *)(shm->base + shm->rings_off);
	/* The table is shared memory: read each entry once. */
	offset = tab[from * shm->n_parts + to].offset;
	bytes = tab[from * shm->n_parts + to].bytes;
	if (offset > shm->size || bytes > shm->size - offset || (offset & 63))
		return -EPROTO;
	if (act__shm_ring_touched(shm, from, to))
		return act__ring_attach(h, shm->base + offset, bytes, (uint16_t)from, (uint16_t)to,
		                        shm->generation);
	/* Never touched: all zero, and reading it would cost a page.  Its
	 * constants come from the table and the consumer's control block
	 * (checked as act__ring_format() would), not from the ring. */
	uint64_t cap = bytes - sizeof(struct act__ring);
	uint32_t max_rec = act__shm_part(shm, to)->max_msg;
	if (bytes < sizeof(struct act__ring) || cap > UINT32_MAX ||
	    !act__ring_params_ok((uint32_t)cap, max_rec))
		return -EPROTO;
	act__ring_attach_lazy(h, shm->base + offset, (uint32_t)cap, max_rec, (uint16_t)from,
	                      (uint16_t)to, shm->generation,
	                      &shm->touched[((uint64_t)from * shm->n_parts + to) / 64u],
	                      1ull << (((uint64_t)from * shm->n_parts + to) % 64u));
	return 0;
}

void act__shm_detach(act__shm *shm, int close_fd)
{
	if (shm->base)
		munmap(shm->base, shm->size);
	if (close_fd && shm->fd >= 0)
		close(shm->fd);
	shm->base = NULL;
	shm->hdr = NULL;
	shm->size = 0;
	if (close_fd)
		shm->fd = -1;
}

void act__shm_destroy(act__shm *shm)
{
	if (shm->hdr)
		shm->hdr->magic = ACT__POISON_MAGIC;
	act__shm_detach(shm, 1);
}
