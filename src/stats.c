/* SPDX-License-Identifier: MIT */
/*
 * stats.c - the per-actor statistics area of the shared region: sizing and
 * formatting it (supervisor, at region creation) and finding and checking
 * it (every process that attaches).  The counters themselves are written
 * by inline hooks (stats.h) on the worker's hot path.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "shm.h"
#include "stats.h"

uint32_t act__stats_period = ACT__STATS_PERIOD, act__stats_ctr;
uint32_t act__stats_floor = ACT__STATS_PERIOD;
uint64_t act__stats_last_ns;

uint64_t act__stats_stamp_at(uint64_t now_ns)
{
	act__stats_ctr = 0;
	if (act__stats_floor) {
		uint64_t gap = now_ns - act__stats_last_ns;
		if (gap < ACT__STATS_GAP_NS && act__stats_period < ACT__STATS_PERIOD_MAX)
			act__stats_period *= 2u;
		else if (gap > 4u * ACT__STATS_GAP_NS && act__stats_period > act__stats_floor)
			act__stats_period /= 2u;
	}
	act__stats_last_ns = now_ns;
	return now_ns;
}

static size_t align_page(size_t v) { return (v + 4095u) & ~(size_t)4095u; }

static uint64_t hdr_checksum(const struct act__stats_hdr *h)
{
	/* From after the magic (stored last) to the checksum. */
	size_t from = offsetof(struct act__stats_hdr, version);
	return act__fnv1a(ACT__FNV_SEED, (const unsigned char *)h + from,
	                  offsetof(struct act__stats_hdr, checksum) - from);
}

static uint64_t n_entries(uint32_t n_static, uint32_t n_groups, uint32_t dyn_slots)
{
	return (uint64_t)n_static + (uint64_t)n_groups * dyn_slots;
}

size_t act__stats_bytes(uint32_t n_parts, uint32_t n_actors)
{
	uint32_t n_groups = n_parts ? n_parts - 1 : 0;
	/* Spawn-slot entries are zero pages until a tenant is counted. */
	return align_page((size_t)n_entries(n_actors, n_groups, ACT__STATS_DYN_SLOTS) *
	                  sizeof(struct act__astat)) + ACT__STATS_HDR_BYTES;
}

void act__stats_format(unsigned char *base, size_t size, uint32_t n_parts, uint32_t n_actors)
{
	size_t bytes = act__stats_bytes(n_parts, n_actors);
	struct act__stats_hdr *h = (struct act__stats_hdr *)(base + size - ACT__STATS_HDR_BYTES);

	memset(h, 0, sizeof *h);
	h->version = ACT__STATS_VERSION;
	h->entry_bytes = sizeof(struct act__astat);
	h->n_static = n_actors;
	h->n_groups = n_parts ? n_parts - 1 : 0;
	h->dyn_slots = ACT__STATS_DYN_SLOTS;
	h->n_buckets = ACT__STATS_BUCKETS;
	h->b0_shift = ACT__STATS_B0_SHIFT;
	h->entries_off = size - bytes;
	h->checksum = hdr_checksum(h);
	/* Written before any worker is forked (and the region's own magic is
	 * stored with a release fence after this): no barrier of its own. */
	h->magic = ACT__STATS_MAGIC;
}

int act__stats_open(struct act__stats *st, unsigned char *base, size_t size)
{
	struct act__stats_hdr h;

	const char *env = getenv("ACTORS_STATS_SAMPLE");
	if (env && *env) {
		char *end;
		unsigned long v = strtoul(env, &end, 10);
		if (!*end && v <= 1000000) {
			act__stats_period = (uint32_t)v;
			act__stats_floor = 0; /* fixed: the operator's choice */
		}
	}
	memset(st, 0, sizeof *st);
	if (!base || size < ACT__STATS_HDR_BYTES)
		return -EPROTO;
	/* One copy, checked and then used: a buggy process could rewrite the
	 * header under us, but not the copy. */
	memcpy(&h, base + size - ACT__STATS_HDR_BYTES, sizeof h);
	if (h.magic != ACT__STATS_MAGIC || h.version != ACT__STATS_VERSION ||
	    h.checksum != hdr_checksum(&h) || h.entry_bytes != sizeof(struct act__astat) ||
	    h.n_buckets != ACT__STATS_BUCKETS || h.b0_shift != ACT__STATS_B0_SHIFT ||
	    h.dyn_slots > ACT__STATS_DYN_SLOTS || h.n_groups >= ACT__MAX_PARTS ||
	    (h.entries_off & 63u) || h.entries_off > size - ACT__STATS_HDR_BYTES ||
	    (size - ACT__STATS_HDR_BYTES - h.entries_off) / sizeof(struct act__astat) <
	        n_entries(h.n_static, h.n_groups, h.dyn_slots))
		return -EPROTO;
	st->base = base;
	st->entries_off = h.entries_off;
	st->n_static = h.n_static;
	st->n_groups = h.n_groups;
	st->dyn_slots = h.dyn_slots;
	return 0;
}
