/* SPDX-License-Identifier: MIT */
/*
 * t/perfcount.c - the wake-up counters (src/perfcount.h) count what the
 * sleep/wake protocol does on a known workload, exactly.
 *
 * A producer waits until the consumer's worker is asleep on its doorbell
 * (its `sleeping` flag, read from the region: an event, not a delay), then
 * sends BURST envelopes from one handler.  The protocol promises: one
 * doorbell for the burst (a notify per receiver per handler, not per
 * envelope), hence one eventfd write (one wake-up), and a consumer that
 * drains the whole burst in the one wake without sleeping again.  Run
 * twice: with 2 groups (consumers scan their rings, no ready bitmap) and
 * with 18 (above ACT__SCAN_ALL_MAX participants: producers mark the ready
 * bitmap), since the two paths of act__doorbell_notify() differ.
 */
#include <sched.h>
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"
#include "perfcount.h"
#include "worker-int.h"

#define BURST 10
#define CONS_PART 1u   /* group "c", added first */
#define PROD_PART 2u   /* group "p" */

typedef struct { int32_t seq; } item;
ACT_MESSAGE_TYPE(item_type, item, "PcItem", ACT_FIELD(item, seq, ACT_I32));
typedef struct { uint8_t unused; } kick;
ACT_MESSAGE_TYPE_EMPTY(kick_type, kick, "PcKick");
ACT_MESSAGE_TYPE_EMPTY(done_type, kick, "PcDone");

struct area {
	_Atomic int err;
	_Atomic int n_items, bad_seq;
	/* the two processes' participant blocks, before and after */
	struct act__part_snap {
		uint64_t notifies, wakeups, sleeps, handled;
	} prod0, prod1, cons0, cons1;
	_Atomic int waited_ok;
	_Atomic int scan_all;
	uint64_t cons_wakeups1;
};
static struct area *A;

static void snap(act_ctx *ctx, uint32_t part, struct act__part_snap *s)
{
	struct act__part *p = ctx->w->parts[part];
	s->notifies = atomic_load(&p->n_notifies);
	s->wakeups = atomic_load(&p->n_wakeups);
	s->sleeps = atomic_load(&p->n_sleeps);
	s->handled = atomic_load(&p->n_handled);
}

/*
 * True once the consumer advertised sleep and its process sleeps in the
 * kernel (state S in /proc): `sleeping` alone is also set during its last
 * look at the rings, when a burst would be found without a wake-up.
 */
static bool consumer_blocked(struct act__part *c)
{
	char path[64], buf[512];
	FILE *f;
	bool s = false;

	if (!atomic_load(&c->sleeping))
		return false;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)atomic_load(&c->pid));
	if ((f = fopen(path, "re"))) {
		if (fgets(buf, sizeof buf, f)) {
			char *p = strrchr(buf, ')');
			s = p && p[1] == ' ' && p[2] == 'S';
		}
		fclose(f);
	}
	return s && atomic_load(&c->sleeping);
}

static void prod_start(act_ctx *ctx, void *st, const void *m)
{
	kick k = { 0 };
	/* To ourselves: handled on the next loop turn, after the READY this
	 * worker sends the supervisor once every Start returned. */
	if (act_send(ctx, act_self(ctx), &kick_type, &k))
		act_shutdown(ctx);
}

static void prod_kick(act_ctx *ctx, void *st, const void *m)
{
	struct act__part *c = ctx->w->parts[CONS_PART];
	act_ref cons;
	uint64_t t0 = act_now_ns();

	/* The consumer (spin_us 0, no timers) blocks on its doorbell as soon
	 * as it is idle: wait for that state, bounded. */
	while (!consumer_blocked(c) && act_now_ns() - t0 < 10000000000ull)
		sched_yield();
	atomic_store(&A->waited_ok, consumer_blocked(c));
	atomic_store(&A->scan_all, (int)c->scan_all);
	snap(ctx, PROD_PART, &A->prod0);
	snap(ctx, CONS_PART, &A->cons0);
	if (act_lookup(ctx, "cons", &cons)) {
		atomic_store(&A->err, 1);
		act_shutdown(ctx);
		return;
	}
	for (int32_t i = 0; i < BURST; i++) {
		item it = { i };
		if (act_send(ctx, cons, &item_type, &it))
			atomic_store(&A->err, 2);
	}
}

static void prod_done(act_ctx *ctx, void *st, const void *m)
{
	/* Our burst's doorbell (and its eventfd write) was counted when that
	 * handler returned. */
	snap(ctx, PROD_PART, &A->prod1);
	struct act__part_snap c;
	snap(ctx, CONS_PART, &c);
	A->cons_wakeups1 = c.wakeups;
	act_shutdown(ctx);
}

static void cons_item(act_ctx *ctx, void *st, const void *m)
{
	int n = atomic_fetch_add(&A->n_items, 1);
	kick k = { 0 };

	if (((const item *)m)->seq != n)
		atomic_fetch_add(&A->bad_seq, 1);
	if (n + 1 < BURST)
		return;
	/* Before the reply below rings anything: our own side of the burst. */
	snap(ctx, CONS_PART, &A->cons1);
	if (act_reply(ctx, &done_type, &k))
		atomic_store(&A->err, 3);
}

static const act_handler prod_h[] = {
	{ &act_start_type, prod_start }, { &kick_type, prod_kick }, { &done_type, prod_done },
};
static const act_handler cons_h[] = { { &item_type, cons_item } };
static const act_behaviour prod_b = { .name = "pc-prod", .handlers = prod_h, .n_handlers = 3 };
static const act_behaviour cons_b = { .name = "pc-cons", .handlers = cons_h, .n_handlers = 1 };
static const act_behaviour idle_b = { .name = "pc-idle" };

static void run(const char *mode, int n_fillers, int scan_all)
{
	char name[16];

	memset(A, 0, sizeof *A);
	act_node_t *n = act_node_new("perfcount");
	act_node_add_group(n, "c");
	act_node_add_group(n, "p");
	act_node_add_actor(n, "c", "cons", &cons_b, NULL);
	act_node_add_actor(n, "p", "prod", &prod_b, NULL);
	act_node_set_spin_us(n, "c", 0);
	for (int i = 0; i < n_fillers; i++) {
		snprintf(name, sizeof name, "f%d", i);
		act_node_add_group(n, name);
		act_node_add_actor(n, name, name, &idle_b, NULL);
	}
	act_node_add_type(n, &kick_type);
	int rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0 && A->err == 0, "%s: node ran and stopped cleanly (rc %d, err %d)", mode, rc,
	   (int)A->err);
	ok(A->scan_all == scan_all, "%s: the consumer scans its rings: %d", mode, (int)A->scan_all);
	ok(A->waited_ok, "%s: the consumer was asleep on its doorbell before the burst", mode);
	ok(A->n_items == BURST && A->bad_seq == 0, "%s: %d envelopes, in order", mode,
	   (int)A->n_items);
	uint64_t bells = A->prod1.notifies - A->prod0.notifies;
	ok(bells == 1, "%s: one doorbell for a burst of %d (%llu)", mode, BURST,
	   (unsigned long long)bells);
	uint64_t wakes = A->cons_wakeups1 - A->cons0.wakeups;
	ok(wakes == 1, "%s: one eventfd write woke the sleeping consumer (%llu)", mode,
	   (unsigned long long)wakes);
	uint64_t sleeps = A->cons1.sleeps - A->cons0.sleeps;
	ok(sleeps == 0, "%s: the consumer drained the burst in that one wake (%llu sleeps)",
	   mode, (unsigned long long)sleeps);
	uint64_t handled = A->cons1.handled - A->cons0.handled;
	ok(handled == BURST - 1, "%s: handled counter moved by the burst (%llu before the last "
	   "returned)", mode, (unsigned long long)handled);
}

int main(void)
{
	tap_timeout(120);
	A = shared_area(sizeof *A);
	run("scan_all (2 groups)", 0, 1);
	run("ready bitmap (18 groups)", 16, 0);
	return done_testing();
}
