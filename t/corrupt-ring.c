/* SPDX-License-Identifier: MIT */
/*
 * t/corrupt-ring.c - an inbound ring whose producer scribbled over it must
 * be detected once, counted once and quarantined: its consumer stops
 * reading it, logs one line for it, and keeps serving its other rings
 * without spinning on the bad one.
 *
 * Group "vandals" writes a garbage tail into its ring to "victims" (the
 * case that made a worker spin and log up to a million lines); group
 * "smudgers" writes a garbage record header under a sane tail.  Group
 * "goods" then sends N_GOOD messages to the victim, which must get all of
 * them in order.  Group "traitors" garbles the tail of its own ring to
 * the supervisor once the node runs: the supervisor must quarantine that
 * ring once too, and keep running.  Everything written on stderr goes to
 * a file that is counted here.  The victim then dies once (SIGKILL): its
 * next instance must start although two of its rings are corrupt, keep
 * them quarantined without counting them again, and serve the rest.
 * The vandals also set the touched bit of the victim's ring to the goods,
 * which nobody ever formatted (layout 8): the victim's next instance finds
 * an outbound ring whose header fails validation, and must start all the
 * same, its sends into that ring refused with ACT_ESTOPPED.
 *
 * Each instance of the victim idles asleep, without timers (a worker with
 * a timer pending wakes every heartbeat period), for over three of its
 * heartbeat timeouts, next to the quarantined rings, whose records nobody
 * will read: the supervisor must not take them for work the victim sleeps
 * through and kill it as hung.  The good sender tells it when to go on
 * (a Die message after each idle period).
 */
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "tap.h"
#include "harness.h"

#define N_GOOD 2000
/* The victim idles this long with the bad rings in place: over three of its
 * heartbeat timeouts, so a supervisor that took the quarantined rings'
 * records for work it sleeps through would kill it as hung meanwhile. */
#define IDLE_MS 500
#define VICTIM_HB_TIMEOUT_MS 150
#define MS 1000000ull

enum { G_VANDALS = 1, G_SMUDGERS, G_GOODS, G_VICTIMS, G_TRAITORS };

typedef struct { int64_t seq; } seq_msg;
ACT_MESSAGE_TYPE(seq_type, seq_msg, "Seq", ACT_FIELD(seq_msg, seq, ACT_I64));
ACT_MESSAGE_TYPE(die_type, seq_msg, "Die", ACT_FIELD(seq_msg, seq, ACT_I64));

struct area {
	_Atomic int corrupted;    /* rings scribbled on (2 when both are) */
	_Atomic int64_t received, out_of_order;
	_Atomic int64_t sent;
	_Atomic int send_errors;
	_Atomic int quarantined[5];
	_Atomic int traitor_done, sup_quarantined;
	_Atomic int victim_starts, victim_restart_seen;
	_Atomic int dies_sent, send_to_bad_rc;
	_Atomic uint64_t idle_from_ns;
	_Atomic int watchdog;
};
static struct area *A;

static struct act__ring *ring_of(uint32_t from, uint32_t to)
{
	unsigned char *base = harness_find_region();
	if (!base)
		return NULL;
	struct act__region *h = (struct act__region *)base;
	struct act__ring_ent *tab = (struct act__ring_ent *)(base + h->rings_off);
	return (struct act__ring *)(base + tab[from * h->n_parts + to].offset);
}

/* Sets the touched bit of (from -> to) in the region's bitmap. */
static void set_touched(uint32_t from, uint32_t to)
{
	unsigned char *base = harness_find_region();
	if (!base)
		return;
	struct act__region *h = (struct act__region *)base;
	_Atomic uint64_t *bits = (_Atomic uint64_t *)(base + h->touched_off);
	uint64_t bit = (uint64_t)from * h->n_parts + to;
	atomic_fetch_or(&bits[bit / 64u], 1ull << (bit % 64u));
}

static void vandal_start(act_ctx *ctx, void *st, const void *m)
{
	struct act__ring *r = ring_of(G_VANDALS, G_VICTIMS);
	if (!r)
		return;
	/* Never used, so never formatted: its header is all zeros. */
	set_touched(G_VICTIMS, G_GOODS);
	/* Neither a multiple of 8 nor within a capacity of head. */
	atomic_store_explicit(&r->tail, 0xabababababababadull, memory_order_release);
	A->corrupted++;
}

static void smudger_start(act_ctx *ctx, void *st, const void *m)
{
	struct act__ring *r = ring_of(G_SMUDGERS, G_VICTIMS);
	if (!r)
		return;
	uint64_t tail = atomic_load(&r->tail);
	struct act__rec *rec = (struct act__rec *)(r->data + (tail & (r->cap - 1)));
	rec->len = 5; /* shorter than a record header */
	rec->kind = 0x7777;
	atomic_store_explicit(&r->tail, tail + 64, memory_order_release);
	A->corrupted++;
}

static void good_start(act_ctx *ctx, void *st, const void *m)
{
	act_timer_periodic(ctx, 2, 1);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Once the victim has all N_GOOD (or its next instance has started), lets
 * it idle IDLE_MS, then sends it a Die: the first kills it, the second
 * stops the node.
 */
static void good_pace_victim(act_ctx *ctx, act_ref v)
{
	int want = A->dies_sent + 1;
	if (A->dies_sent >= 2 || A->received < N_GOOD || A->victim_starts < want)
		return;
	if (!A->idle_from_ns) {
		A->idle_from_ns = mono_ns();
		return;
	}
	if (mono_ns() - A->idle_from_ns < IDLE_MS * MS)
		return;
	seq_msg d = { want };
	if (act_send(ctx, v, &die_type, &d) == 0) {
		A->dies_sent = want;
		A->idle_from_ns = 0;
	}
	if (A->dies_sent == 2)
		act_timer_cancel(ctx, 1);
}

/* Waits for both rings to be bad, then sends in chunks, backing off on a full ring. */
static void good_tick(act_ctx *ctx, void *st, const void *m)
{
	act_ref v;
	if (A->corrupted < 2 || act_lookup(ctx, "victim", &v))
		return;
	if (A->sent == N_GOOD) {
		good_pace_victim(ctx, v);
		return;
	}
	while (A->sent < N_GOOD) {
		seq_msg s = { A->sent };
		int rc = act_send(ctx, v, &seq_type, &s);
		if (rc == ACT_EFULL)
			return;
		if (rc) {
			A->send_errors++;
			return;
		}
		A->sent++;
	}
}

static void victim_seq(act_ctx *ctx, void *st, const void *m)
{
	const seq_msg *s = m;
	if (s->seq != A->received)
		A->out_of_order++;
	++A->received;
}

static void victim_start(act_ctx *ctx, void *st, const void *m)
{
	const act_start *s = m;
	if (++A->victim_starts > 1) {
		A->victim_restart_seen = s->restart;
		act_ref g;
		seq_msg q = { -1 };
		A->send_to_bad_rc = act_lookup(ctx, "good", &g) ? -1000 :
		                    act_send(ctx, g, &seq_type, &q);
	}
}

/* First instance: it idled with the bad rings in place, now it dies (the
 * Die comes back to the next instance, flagged redelivered).  Second: stop. */
static void victim_die(act_ctx *ctx, void *st, const void *m)
{
	const seq_msg *d = m;
	if (d->seq == 1 && !act_redelivered(ctx))
		raise(SIGKILL);
	if (d->seq == 2)
		act_shutdown(ctx);
}

static void traitor_start(act_ctx *ctx, void *st, const void *m)
{
	act_timer_periodic(ctx, 5, 1);
}

/* Once the node runs (the victim got traffic), garble our ring to the supervisor. */
static void traitor_tick(act_ctx *ctx, void *st, const void *m)
{
	struct act__ring *r;
	if (A->traitor_done || A->received == 0 || !(r = ring_of(G_TRAITORS, 0)))
		return;
	atomic_store_explicit(&r->tail, atomic_load(&r->tail) + 0x10003, memory_order_release);
	A->traitor_done = 1;
	act_timer_cancel(ctx, 1);
}

static const act_handler vandal_h[] = { { &act_start_type, vandal_start } };
static const act_behaviour vandal_b = { .name = "vandal", .handlers = vandal_h, .n_handlers = 1 };
static const act_handler smudger_h[] = { { &act_start_type, smudger_start } };
static const act_behaviour smudger_b = { .name = "smudger", .handlers = smudger_h, .n_handlers = 1 };
static const act_handler good_h[] = {
	{ &act_start_type, good_start }, { &act_timeout_type, good_tick },
};
static const act_behaviour good_b = { .name = "good", .handlers = good_h, .n_handlers = 2 };
static const act_handler traitor_h[] = {
	{ &act_start_type, traitor_start }, { &act_timeout_type, traitor_tick },
};
static const act_behaviour traitor_b = { .name = "traitor", .handlers = traitor_h, .n_handlers = 2 };
static const act_handler victim_h[] = {
	{ &seq_type, victim_seq }, { &die_type, victim_die },
	{ &act_start_type, victim_start },
};
static const act_behaviour victim_b = { .name = "victim", .handlers = victim_h, .n_handlers = 3 };

static void inspect(struct act_node *n)
{
	harness_inspect(n);
	for (uint32_t f = 1; f <= 3; f++) {
		struct act__ring *r = act__node_ring(n, f, G_VICTIMS);
		A->quarantined[f] = r ? (int)atomic_load(&r->quarantined) : -1;
	}
	struct act__ring *r = act__node_ring(n, G_TRAITORS, 0);
	A->sup_quarantined = r ? (int)atomic_load(&r->quarantined) : -1;
}

int main(void)
{
	tap_timeout(60);
	A = shared_area(sizeof *A);

	/* Everybody's stderr (the workers inherit it) goes to a file. */
	FILE *log = tmpfile();
	int saved = dup(2);
	if (!log || saved < 0 || dup2(fileno(log), 2) < 0)
		bail("cannot redirect stderr");

	act_node_t *n = act_node_new("corrupt-ring");
	act_node_add_group(n, "vandals");
	act_node_add_group(n, "smudgers");
	act_node_add_group(n, "goods");
	act_node_add_group(n, "victims");
	act_node_add_group(n, "traitors");
	act_node_add_actor(n, "vandals", "vandal", &vandal_b, NULL);
	act_node_add_actor(n, "smudgers", "smudger", &smudger_b, NULL);
	act_node_add_actor(n, "goods", "good", &good_b, NULL);
	act_node_add_actor(n, "victims", "victim", &victim_b, NULL);
	act_node_add_actor(n, "traitors", "traitor", &traitor_b, NULL);
	act_node_add_actor(n, "goods", "watchdog", &harness_watchdog_b, NULL);
	if (act_node_set_heartbeat(n, "victims", 10, VICTIM_HB_TIMEOUT_MS))
		bail("act_node_set_heartbeat");
	harness_watchdog_fired = &A->watchdog;
	act__node_inspect_hook = inspect;
	int rc = act_node_run(n);
	act_node_free(n);

	fflush(stderr);
	dup2(saved, 2);
	close(saved);

	/* Count the lines about the two bad rings, and all lines. */
	char line[1200];
	int total = 0, about[5] = { 0 }, about_sup = 0, hung = 0;
	rewind(log);
	while (fgets(line, sizeof line, log)) {
		if (total < 30)
			diag("log: %.200s", line);
		total++;
		hung += strstr(line, "is hung") != NULL;
		/* (the old wording was "corrupt record from group 5") */
		about_sup += strstr(line, "corrupt") &&
		             (strstr(line, "ring 5->0") || strstr(line, "from group 5"));
		for (int f = 1; f <= 3; f++) {
			char key[16];
			snprintf(key, sizeof key, "ring %d->%d", f, G_VICTIMS);
			if (strstr(line, key))
				about[f]++;
		}
	}
	fclose(log);

	ok(rc == 0, "node ran and stopped cleanly (rc %d)", rc);
	ok(A->corrupted == 2, "both rings into the victim were scribbled on");
	ok(!A->watchdog, "the victim stopped the node itself (no watchdog)");
	ok(A->sent == N_GOOD && A->send_errors == 0, "the good sender sent %d messages (%lld, %d errors)",
	   N_GOOD, (long long)A->sent, A->send_errors);
	ok(A->received == N_GOOD && A->out_of_order == 0,
	   "the victim kept serving its good ring: %lld of %d, %lld out of order",
	   (long long)A->received, N_GOOD, (long long)A->out_of_order);
	ok(counters[G_VICTIMS].corrupt == 2,
	   "each corruption was counted once, not again by the restarted worker (n_corrupt %llu, want 2)",
	   (unsigned long long)counters[G_VICTIMS].corrupt);
	ok(A->victim_starts == 2 && A->victim_restart_seen,
	   "the victim's worker was restarted once and its Start said so (%d starts)",
	   A->victim_starts);
	ok(A->send_to_bad_rc == ACT_ESTOPPED,
	   "the restarted victim's send into its ring whose header fails validation: "
	   "ACT_ESTOPPED (%d)", A->send_to_bad_rc);
	ok(hung == 0 && A->dies_sent == 2,
	   "asleep beside its quarantined rings for %d ms twice, the victim was never "
	   "taken for hung (%d lines say so)", IDLE_MS, hung);
	ok(about[1] == 2 && about[2] == 2,
	   "one log line per bad ring per worker instance (%d and %d lines, want 2)", about[1],
	   about[2]);
	ok(about[3] == 0, "nothing logged about the good ring (%d)", about[3]);
	ok(total <= 30, "the whole run logged %d lines (at most 30)", total);
	ok(A->quarantined[1] == 1 && A->quarantined[2] == 1 && A->quarantined[3] == 0,
	   "the bad rings are flagged quarantined in the region, the good one is not (%d %d %d)",
	   A->quarantined[1], A->quarantined[2], A->quarantined[3]);
	ok(A->traitor_done, "the traitor garbled its ring to the supervisor");
	ok(about_sup == 1, "the supervisor logged that ring once (%d lines)", about_sup);
	ok(counters[0].corrupt == 1 && A->sup_quarantined == 1,
	   "the supervisor counted it once and quarantined it (n_corrupt %llu, flag %d)",
	   (unsigned long long)counters[0].corrupt, A->sup_quarantined);
	return done_testing();
}
