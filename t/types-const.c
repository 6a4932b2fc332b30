/* SPDX-License-Identifier: MIT */
/*
 * t/types-const.c - message descriptors are const: the runtime keeps each
 * node's descriptor-to-id table itself and never writes into a descriptor.
 *
 * Hand-written `static const act_type` descriptors (and the built-in ones,
 * and ACT_MESSAGE_TYPE's) sit in memory the loader made read-only, so a
 * write by the runtime would crash this test.  Two testkits alive at once
 * register the same descriptors in different orders, so each type has a
 * different id in each: every message must still reach the handler of its
 * own type in both.  A copy of a type with the same shape shares its id;
 * enough types to grow the table several times all keep their ids.  No
 * sleeps, no forks.
 */
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

#include <actors.h>
#include <actors/testkit.h>

#include "tap.h"

typedef struct { int32_t v; } val_msg;

static const act_field val_fields[] = { ACT_FIELD(val_msg, v, ACT_I32) };
/* Written by hand, const, never declared: registered per testkit below. */
static const act_type alpha_type = { "Alpha", sizeof(val_msg), ACT_ALIGNOF(val_msg),
                                     val_fields, 1 };
static const act_type beta_type = { "Beta", sizeof(val_msg), ACT_ALIGNOF(val_msg),
                                    val_fields, 1 };
/* Another descriptor of Beta's shape: the same type, the same id. */
static const act_type beta_copy = { "Beta", sizeof(val_msg), ACT_ALIGNOF(val_msg),
                                    val_fields, 1 };
/* Declared at load time, so every testkit knows it. */
ACT_MESSAGE_TYPE(gamma_type, val_msg, "Gamma", ACT_FIELD(val_msg, v, ACT_I32));

/* sink: adds each message's v to the counter of its type. */
typedef struct { int64_t alpha, beta, gamma, other; } sink_state;

static void on_alpha(act_ctx *ctx, void *state, const void *m)
{
	(void)ctx;
	((sink_state *)state)->alpha += ((const val_msg *)m)->v;
}
static void on_beta(act_ctx *ctx, void *state, const void *m)
{
	(void)ctx;
	((sink_state *)state)->beta += ((const val_msg *)m)->v;
}
static void on_gamma(act_ctx *ctx, void *state, const void *m)
{
	(void)ctx;
	((sink_state *)state)->gamma += ((const val_msg *)m)->v;
}
static void on_other(act_ctx *ctx, void *state, const void *m)
{
	(void)ctx;
	(void)m;
	((sink_state *)state)->other++;
}
static const act_handler sink_handlers[] = {
	{ &alpha_type, on_alpha }, { &beta_type, on_beta }, { &gamma_type, on_gamma },
};
static const act_behaviour sink_behaviour = {
	.name = "sink", .state_size = sizeof(sink_state),
	.handlers = sink_handlers, .n_handlers = 3, .on_unhandled = on_other,
};

/* True if this program has a PT_GNU_RELRO segment (the loader then makes
 * its relocated const data read-only). */
static bool have_relro(void)
{
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
	unsigned long n = getauxval(AT_PHNUM);
	for (unsigned long i = 0; ph && i < n; i++)
		if (ph[i].p_type == PT_GNU_RELRO)
			return true;
	return false;
}

/* 1 if the mapping holding p is writable, 0 if not, -1 if not found. */
static int writable(const void *p)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int r = -1;
	uintptr_t a = (uintptr_t)p;

	if (!f)
		return -1;
	while (r < 0 && fgets(line, sizeof line, f)) {
		uintptr_t lo, hi;
		char perms[5];
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %4s", &lo, &hi, perms) == 3 &&
		    a >= lo && a < hi)
			r = perms[1] == 'w';
	}
	fclose(f);
	return r;
}

static void test_read_only(void)
{
	if (!have_relro()) {
		for (int i = 0; i < 2; i++)
			ok(1, "# SKIP this program has no PT_GNU_RELRO: const data may stay writable");
		return;
	}
	ok(writable(&alpha_type) == 0 && writable(&gamma_type) == 0,
	   "hand-written and ACT_MESSAGE_TYPE descriptors are in read-only memory (%d, %d)",
	   writable(&alpha_type), writable(&gamma_type));
	ok(writable(&act_start_type) == 0 && writable(&act_down_type) == 0,
	   "the built-in descriptors are in read-only memory (%d, %d)",
	   writable(&act_start_type), writable(&act_down_type));
}

/* Two testkits at once, with the types registered in opposite orders. */
static void test_two_registries(void)
{
	act_test_t *t1 = act_test_new(), *t2 = act_test_new();
	act_ref s1, s2;
	int err1, err2;

	if (!t1 || !t2)
		bail("act_test_new failed");
	ok(act_test_add_type(t1, &alpha_type) == 0 && act_test_add_type(t1, &beta_type) == 0 &&
	   act_test_add_type(t2, &beta_type) == 0 && act_test_add_type(t2, &alpha_type) == 0,
	   "const descriptors register in two testkits, in opposite orders");
	ok(act_test_add_type(t1, &alpha_type) == 0,
	   "registering a descriptor again is a no-op");
	ok(act_test_add_type(t1, &beta_copy) == 0,
	   "a second descriptor of Beta's shape registers as Beta");
	err1 = act_test_spawn(t1, &sink_behaviour, "sink", NULL, &s1);
	err2 = act_test_spawn(t2, &sink_behaviour, "sink", NULL, &s2);
	ok(err1 == 0 && err2 == 0, "a sink in each (%d, %d)", err1, err2);

	/* Interleaved: each send is checked against its own testkit's ids. */
	int bad = 0;
	for (int32_t i = 1; i <= 10; i++) {
		bad += act_test_send(t1, ACT_NOBODY, s1, &alpha_type, &(val_msg){ i }) != 0;
		bad += act_test_send(t2, ACT_NOBODY, s2, &alpha_type, &(val_msg){ 100 * i }) != 0;
		bad += act_test_send(t1, ACT_NOBODY, s1, &beta_type, &(val_msg){ 1000 * i }) != 0;
		bad += act_test_send(t2, ACT_NOBODY, s2, &beta_type, &(val_msg){ 10000 * i }) != 0;
		bad += act_test_send(t1, ACT_NOBODY, s1, &beta_copy, &(val_msg){ 1 }) != 0;
		bad += act_test_send(t2, ACT_NOBODY, s2, &gamma_type, &(val_msg){ i }) != 0;
	}
	ok(bad == 0, "every send returned 0 (%d failed)", bad);
	ok(act_test_run(t1) > 0 && act_test_run(t2) > 0, "both ran");

	const sink_state *a = act_test_state(t1, s1), *b = act_test_state(t2, s2);
	ok(a && a->alpha == 55 && a->beta == 55000 + 10 && a->gamma == 0 && a->other == 0,
	   "testkit 1: each type reached its own handler, the copy Beta's "
	   "(alpha %" PRId64 ", beta %" PRId64 ", gamma %" PRId64 ", other %" PRId64 ")",
	   a ? a->alpha : -1, a ? a->beta : -1, a ? a->gamma : -1, a ? a->other : -1);
	ok(b && b->alpha == 5500 && b->beta == 550000 && b->gamma == 55 && b->other == 0,
	   "testkit 2: each type reached its own handler "
	   "(alpha %" PRId64 ", beta %" PRId64 ", gamma %" PRId64 ", other %" PRId64 ")",
	   b ? b->alpha : -1, b ? b->beta : -1, b ? b->gamma : -1, b ? b->other : -1);
	ok(act_test_dead_letters(t1) == 0 && act_test_dead_letters(t2) == 0,
	   "no dead letters");
	act_test_free(t1);
	act_test_free(t2);

	/* A testkit that never registered Alpha refuses it. */
	act_test_t *t3 = act_test_new();
	act_ref s3;
	if (!t3 || act_test_spawn(t3, &sink_behaviour, "sink", NULL, &s3))
		bail("third testkit");
	/* The sink's handler table registered Alpha and Beta: a fresh type
	 * the table does not name is what must be refused. */
	static const act_type delta_type = { "Delta", sizeof(val_msg), ACT_ALIGNOF(val_msg),
	                                     val_fields, 1 };
	ok(act_test_send(t3, ACT_NOBODY, s3, &delta_type, &(val_msg){ 1 }) == -EINVAL,
	   "an unregistered const descriptor is refused with -EINVAL");
	act_test_free(t3);
}

/* Enough types to grow the descriptor table several times. */
#define N_MANY 300
static act_type many[N_MANY];
static char many_names[N_MANY][16];

static void test_many(void)
{
	act_test_t *t = act_test_new();
	act_ref probe;
	int reg_bad = 0, send_bad = 0, got_bad = 0;

	if (!t || act_test_probe(t, "probe", &probe))
		bail("testkit with a probe");
	for (int i = 0; i < N_MANY; i++) {
		snprintf(many_names[i], sizeof many_names[i], "Many%d", i);
		many[i] = (act_type){ many_names[i], sizeof(val_msg), ACT_ALIGNOF(val_msg),
		                      val_fields, 1 };
		reg_bad += act_test_add_type(t, &many[i]) != 0;
	}
	for (int i = 0; i < N_MANY; i++)
		send_bad += act_test_send(t, ACT_NOBODY, probe, &many[i], &(val_msg){ i }) != 0;
	act_test_run(t);
	for (int i = 0; i < N_MANY; i++) {
		const act_type *ty;
		const void *m;
		if (act_test_take(t, probe, &ty, &m, NULL) || ty != &many[i] ||
		    ((const val_msg *)m)->v != i)
			got_bad++;
	}
	ok(reg_bad == 0 && send_bad == 0, "%d types registered and sent (%d, %d failed)",
	   N_MANY, reg_bad, send_bad);
	ok(got_bad == 0, "each arrived as its own type, in order (%d wrong)", got_bad);
	act_test_free(t);
}

int main(void)
{
	plan(14);
	tap_timeout(60);
	test_read_only();
	test_two_registries();
	test_many();
	return tap_failed != 0;
}
