/* SPDX-License-Identifier: MIT */
/*
 * t/stats.c - the per-actor statistics area (src/stats.c, layout.h): the
 * log2 bucket of a duration, the entry of every kind of actor id (and
 * none for ids out of range), a new tenant of a spawn slot starting from
 * zero, and a region whose statistics header is damaged: it is refused as
 * a whole, and the hooks then do nothing instead of writing at random.
 * Also the metrics endpoint's address syntax (supervisor/metricsaddr.c).
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "metricsaddr.h"
#include "shm.h"
#include "stats.h"
#include "tap.h"

#define N_PARTS  3u   /* supervisor + 2 groups */
#define N_ACTORS 5u

static unsigned char *region(size_t *size)
{
	*size = 65536 + act__stats_bytes(N_PARTS, N_ACTORS);
	unsigned char *base = calloc(1, *size);
	if (!base)
		bail("out of memory");
	act__stats_format(base, *size, N_PARTS, N_ACTORS);
	return base;
}

int main(void)
{
	struct act__stats st;
	size_t size;
	unsigned char *base = region(&size);
	char why[128];

	plan(33);

	/* ---- buckets */
	ok(act__stats_bucket(0) == 0 && act__stats_bucket(1023) == 0,
	   "under 1024 ns: bucket 0");
	ok(act__stats_bucket(1024) == 1 && act__stats_bucket(2047) == 1,
	   "[1024, 2048) ns: bucket 1");
	ok(act__stats_bucket(2048) == 2, "2048 ns: bucket 2");
	ok(act__stats_bucket((1ull << (ACT__STATS_B0_SHIFT + ACT__STATS_BUCKETS - 2)) - 1) ==
	   ACT__STATS_BUCKETS - 2, "just under the last finite bound: the last finite bucket");
	ok(act__stats_bucket(1ull << 40) == ACT__STATS_BUCKETS - 1 &&
	   act__stats_bucket(UINT64_MAX) == ACT__STATS_BUCKETS - 1, "beyond it: +Inf");

	/* ---- entries */
	ok(act__stats_open(&st, base, size) == 0, "a formatted area opens");
	st.dyn_shift = 14; /* what shm.c sets: default-capacity groups, 2^14 ids apart */
	struct act__astat *e0 = act__stats_entry(&st, 0), *e4 = act__stats_entry(&st, N_ACTORS - 1);
	ok(e0 && e4 == e0 + N_ACTORS - 1, "static ids are dense entries");
	ok(!act__stats_entry(&st, N_ACTORS), "the id after the last static actor has none");
	struct act__astat *d0 = act__stats_entry(&st, ACT__DYN_BASE);
	struct act__astat *d1 = act__stats_entry(&st, ACT__DYN_BASE + (1u << 14) + 7);
	ok(d0 == e0 + N_ACTORS, "group 1's slot 0 follows the static actors");
	ok(d1 == d0 + ACT__STATS_DYN_SLOTS + 7, "group 2's slot 7 is in group 2's range");
	ok(!act__stats_entry(&st, ACT__DYN_BASE + 2 * (1u << 14)),
	   "a third group's slot (there are two groups) has none");
	ok(!act__stats_entry(&st, UINT32_MAX) && !act__stats_entry(&st, ACT__DYN_BASE - 1),
	   "ids between the ranges and at the top have none");
	ok((unsigned char *)(d1 + 1) <= base + size - ACT__STATS_HDR_BYTES,
	   "the last entry ends before the header");

	/* ---- a new tenant starts from zero */
	act__stats_claim(d0, 1);
	act__stats_bump(&d0->n_handled, 1);
	act__stats_timed(d0, 5000);
	act__stats_waited(d0, 100, 100 + 3000);
	ok(d0->n_handled == 1 && d0->handling_hist[act__stats_bucket(5000)] == 1 &&
	   d0->mailbox_hist[act__stats_bucket(3000)] == 1 && d0->handling_ns_sum == 5000,
	   "counted for generation 1");
	act__stats_claim(d0, 1);
	ok(d0->n_handled == 1, "claiming again for the same generation keeps the counts");
	act__stats_claim(d0, 2);
	ok(d0->gen == 2 && d0->n_handled == 0 && d0->handling_ns_sum == 0 &&
	   d0->handling_hist[act__stats_bucket(5000)] == 0 && d0->mailbox_ns_sum == 0,
	   "generation 2 starts from zero");
	act__stats_waited(d0, 200, 100);
	ok(d0->mailbox_hist[0] == 1 && d0->mailbox_ns_sum == 0,
	   "a send time after the handler's start counts as no wait");
	act__stats_refused(&st, ACT__DYN_BASE);
	act__stats_refused(&st, 0xdeadbeef);
	ok(d0->n_refused == 1, "a refused send counts on its receiver; an unknown id is ignored");

	/* ---- sampling: one stamp per period */
	uint32_t saved_period = act__stats_period, saved_floor = act__stats_floor;
	int n_stamped = 0;
	act__stats_floor = 0; /* fixed, as $ACTORS_STATS_SAMPLE sets it */
	act__stats_period = 4;
	act__stats_ctr = 0;
	for (int i = 0; i < 40; i++)
		n_stamped += act__stats_stamp() != 0;
	act__stats_period = 0;
	for (int i = 0; i < 40; i++)
		n_stamped += act__stats_stamp() != 0;
	ok(n_stamped == 10, "period 4: 10 of 40 envelopes stamped; period 0: none (%d)", n_stamped);

	/* ---- sampling: the period adapts to how close stamps come */
	act__stats_floor = ACT__STATS_PERIOD;
	act__stats_period = ACT__STATS_PERIOD;
	act__stats_last_ns = 0;
	uint64_t t = 1000000000u;
	act__stats_stamp_at(t);
	ok(act__stats_period == ACT__STATS_PERIOD, "a lone stamp keeps the period at %u (%u)",
	   ACT__STATS_PERIOD, act__stats_period);
	/* A sender at 100 M envelopes/s: each stamp comes period * 10 ns after
	 * the last, until that is at least the gap. */
	int steps = 0;
	while (act__stats_period * 10u < ACT__STATS_GAP_NS && steps < 64) {
		t += act__stats_period * 10u;
		act__stats_stamp_at(t);
		steps++;
	}
	ok(act__stats_period >= ACT__STATS_GAP_NS / 10u && act__stats_period <= ACT__STATS_PERIOD_MAX,
	   "stamps closer than %u ns double the period: %u after %d stamps", ACT__STATS_GAP_NS,
	   act__stats_period, steps);
	uint32_t busy = act__stats_period;
	t += busy * 10u;
	act__stats_stamp_at(t);
	ok(act__stats_period == busy, "at that rate the period holds (%u)", act__stats_period);
	for (int i = 0; i < 200; i++) {
		t += 1000000u; /* the sender went quiet: a stamp per ms */
		act__stats_stamp_at(t);
	}
	ok(act__stats_period == ACT__STATS_PERIOD, "sparse stamps halve it back to %u (%u)",
	   ACT__STATS_PERIOD, act__stats_period);
	for (int i = 0; i < 200; i++) {
		t += 1;
		act__stats_stamp_at(t);
	}
	ok(act__stats_period == ACT__STATS_PERIOD_MAX, "it never passes %u (%u)",
	   ACT__STATS_PERIOD_MAX, act__stats_period);
	act__stats_period = saved_period;
	act__stats_floor = saved_floor;
	act__stats_ctr = 0;

	/* ---- damage */
	struct act__stats_hdr *h = (struct act__stats_hdr *)(base + size - ACT__STATS_HDR_BYTES);
	struct act__stats_hdr saved = *h;
	h->n_static = 1000000;
	ok(act__stats_open(&st, base, size) == -EPROTO && !st.base,
	   "a rewritten entry count fails the checksum: no statistics");
	ok(!act__stats_entry(&st, 0), "... and no entry for anyone");
	act__stats_refused(&st, 0);   /* must not crash */
	*h = saved;
	h->magic = 0;
	ok(act__stats_open(&st, base, size) == -EPROTO, "no magic: a region without statistics");
	*h = saved;
	ok(act__stats_open(&st, base, size - 4096) == -EPROTO,
	   "the header is looked for in the last page only");
	ok(act__stats_open(&st, NULL, 0) == -EPROTO, "no region");
	free(base);

	/* ---- the metrics endpoint's address */
	struct sockaddr_storage ss;
	socklen_t len;
	ok(act__httpd_parse_addr("127.0.0.1:9464", &ss, &len, why, sizeof why) == 0 &&
	   ss.ss_family == AF_INET && ntohs(((struct sockaddr_in *)&ss)->sin_port) == 9464,
	   "127.0.0.1:9464");
	ok(act__httpd_parse_addr(":0", &ss, &len, why, sizeof why) == 0 &&
	   ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_LOOPBACK),
	   ":0 is the loopback address, any port");
	ok(act__httpd_parse_addr("[::1]:80", &ss, &len, why, sizeof why) == 0 &&
	   ss.ss_family == AF_INET6, "[::1]:80");
	const char *bad[] = { "", "localhost:80", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:",
	                      "::1:80", "[::1]80", "1.2.3.4:80x", "[1.2.3.4]:80", NULL };
	int n_bad = 0;
	for (int i = 0; bad[i]; i++) {
		why[0] = 0;
		if (act__httpd_parse_addr(bad[i], &ss, &len, why, sizeof why) == -EINVAL && why[0])
			n_bad++;
		else
			diag("accepted or no reason: '%s'", bad[i]);
	}
	ok(n_bad == 9, "nine bad addresses refused, each with a reason");
	return tap_failed ? 1 : 0;
}
