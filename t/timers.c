/* SPDX-License-Identifier: MIT */
/*
 * t/timers.c - actor timers through a whole node: a one-shot timer fires
 * once and never before its delay; a periodic one fires repeatedly, the
 * k-th time no earlier than k periods after it was set, until cancelled;
 * a cancelled timer never fires (a later one-shot timer is the barrier
 * that proves it); cancel of an unknown id is -ENOENT; setting a pending
 * id replaces it (deadline and period); Timeout{id} carries the id; timers
 * fire in deadline order; and two actors of one group using the same ids
 * do not disturb each other.
 *
 * Only lower bounds of time are asserted, plus a generous sanity ceiling:
 * a loaded machine may fire late, never early.
 */
#include <stdatomic.h>

#include "tap.h"
#include "harness.h"

#define MS 1000000ull
#define SANITY_NS (10000ull * MS) /* anything later than 10 s is broken */
#define MAX_FIRES 16

/* Timer ids of actor t. */
enum {
	ID_ONCE = 1,      /* once, 50 ms */
	ID_PER = 2,       /* periodic, 20 ms, cancelled at its 5th Timeout */
	ID_CANCEL = 3,    /* once, 30 ms, cancelled at once */
	ID_REPL = 4,      /* once 20 ms, replaced by once 80 ms */
	ID_P2O = 5,       /* periodic 10 ms, replaced by once 45 ms */
	ID_ZERO = 8,      /* once, 0 ms */
	ID_ORD_A = 11,    /* once 13 ms */
	ID_ORD_B = 12,    /* once 1 ms */
	ID_ORD_C = 13,    /* once 5 ms */
	ID_BARRIER = 100, /* once 300 ms: after it, nothing else may fire */
};
#define ID_NEG (-7)           /* once 60 ms */
#define ID_MAX INT64_MAX      /* once 65 ms */
#define PER_FIRES 5

/* Slots in the fire tables. */
enum {
	S_ONCE, S_PER, S_CANCEL, S_REPL, S_P2O, S_ZERO, S_ORD_A, S_ORD_B, S_ORD_C,
	S_NEG, S_MAX, S_BARRIER,
	/* group b: x and y */
	S_X1, S_X2, S_X3, S_XB, S_Y1, S_Y3, S_YB,
	N_SLOTS
};

struct area {
	_Atomic int watchdog;
	_Atomic uint64_t t0, tx0, ty0;
	_Atomic int fires[N_SLOTS];
	_Atomic uint64_t at[N_SLOTS][MAX_FIRES];  /* act_now_ns() of each Timeout */
	_Atomic int bad_ids, bad_ctx, order[3], n_order, done;
	_Atomic int rc_set[12], rc_cancel, rc_cancel_unknown, rc_cancel_twice, rc_per_zero;
	_Atomic int rc_cancel_fired, rc_cancel_per, rc_cancel_per_again;
	_Atomic int rc_x_cancel1, rc_x_cancel_y5, rc_x_cancel3, rc_y_cancel5, rc_y_cancel3;
	_Atomic int rc_y_set[3], rc_x_set[4];
	_Atomic int late_after_barrier;
};
static struct area *A;

static void record(int slot)
{
	int k = atomic_fetch_add(&A->fires[slot], 1);
	if (k < MAX_FIRES)
		A->at[slot][k] = act_now_ns();
}

static void finish(act_ctx *ctx)
{
	if (atomic_fetch_add(&A->done, 1) + 1 == 2)
		act_shutdown(ctx);
}

/* Every Timeout comes from nobody, as a Timeout, never redelivered. */
static void check_ctx(act_ctx *ctx)
{
	if (!act_ref_is_nobody(act_sender(ctx)) || act_msg_type(ctx) != &act_timeout_type ||
	    act_redelivered(ctx) != 0)
		atomic_fetch_add(&A->bad_ctx, 1);
}

/*
 * The watchdog: an extra actor that stops the node if the scenario got
 * stuck, so that its assertions fail instead of the whole test timing out.
 */
#define WATCHDOG_MS 20000

/* The shared watchdog of t/harness.h. */
#define watchdog_b harness_watchdog_b

/* ==== actor t: one actor, many timers ======================================= */

static void t_start(act_ctx *ctx, void *st, const void *m)
{
	int i = 0;

	A->t0 = act_now_ns();
	A->rc_set[i++] = act_timer_once(ctx, 50, ID_ONCE);
	A->rc_set[i++] = act_timer_periodic(ctx, 20, ID_PER);
	A->rc_set[i++] = act_timer_once(ctx, 30, ID_CANCEL);
	A->rc_cancel = act_timer_cancel(ctx, ID_CANCEL);
	A->rc_cancel_twice = act_timer_cancel(ctx, ID_CANCEL);
	A->rc_cancel_unknown = act_timer_cancel(ctx, 99);
	A->rc_set[i++] = act_timer_once(ctx, 20, ID_REPL);
	A->rc_set[i++] = act_timer_once(ctx, 80, ID_REPL);
	A->rc_set[i++] = act_timer_periodic(ctx, 10, ID_P2O);
	A->rc_set[i++] = act_timer_once(ctx, 45, ID_P2O);
	A->rc_set[i++] = act_timer_once(ctx, 0, ID_ZERO);
	A->rc_set[i++] = act_timer_once(ctx, 13, ID_ORD_A);
	A->rc_set[i++] = act_timer_once(ctx, 1, ID_ORD_B);
	A->rc_set[i++] = act_timer_once(ctx, 5, ID_ORD_C);
	A->rc_set[i++] = act_timer_once(ctx, 60, ID_NEG);
	A->rc_per_zero = act_timer_periodic(ctx, 0, 6);
	if (act_timer_once(ctx, 65, ID_MAX) || act_timer_once(ctx, 300, ID_BARRIER))
		act_shutdown(ctx);
}

static void t_timeout(act_ctx *ctx, void *st, const void *m)
{
	const act_timeout *tm = m;

	check_ctx(ctx);
	if (A->fires[S_BARRIER])
		atomic_fetch_add(&A->late_after_barrier, 1);
	switch (tm->id) {
	case ID_ONCE:
		record(S_ONCE);
		A->rc_cancel_fired = act_timer_cancel(ctx, ID_ONCE);
		break;
	case ID_PER:
		record(S_PER);
		if (A->fires[S_PER] == PER_FIRES) {
			/* Cancelling from its own Timeout stops it for good. */
			A->rc_cancel_per = act_timer_cancel(ctx, ID_PER);
			A->rc_cancel_per_again = act_timer_cancel(ctx, ID_PER);
		}
		break;
	case ID_CANCEL: record(S_CANCEL); break;
	case ID_REPL: record(S_REPL); break;
	case ID_P2O: record(S_P2O); break;
	case ID_ZERO: record(S_ZERO); break;
	case ID_ORD_A:
	case ID_ORD_B:
	case ID_ORD_C: {
		record(S_ORD_A + (int)(tm->id - ID_ORD_A));
		int k = atomic_fetch_add(&A->n_order, 1);
		if (k < 3)
			A->order[k] = (int)tm->id;
		break;
	}
	case ID_NEG: record(S_NEG); break;
	case ID_MAX: record(S_MAX); break;
	case ID_BARRIER:
		record(S_BARRIER);
		finish(ctx);
		break;
	default:
		atomic_fetch_add(&A->bad_ids, 1);
	}
}

static const act_handler t_h[] = {
	{ &act_start_type, t_start }, { &act_timeout_type, t_timeout },
};
static const act_behaviour t_b = { .name = "t", .handlers = t_h, .n_handlers = 2 };

/* ==== actors x and y: one group, same ids ==================================== */

/*
 * y starts first: id 1 once at 40 ms, id 3 periodic 10 ms, id 5 once at
 * 10 s.  Then x: id 1 once at 20 ms and cancelled at once (had timers been
 * keyed by id alone, that would have replaced and then removed y's id 1),
 * cancel of id 5 (only y has one), id 2 once at 60 ms, id 3 periodic 15 ms
 * cancelled by x at its third Timeout, barrier id 100 at 150 ms.  y's own
 * barrier (id 100 at 200 ms) cancels y's id 3 and id 5.
 */
static void y_start(act_ctx *ctx, void *st, const void *m)
{
	A->ty0 = act_now_ns();
	A->rc_y_set[0] = act_timer_once(ctx, 40, 1);
	A->rc_y_set[1] = act_timer_periodic(ctx, 10, 3);
	A->rc_y_set[2] = act_timer_once(ctx, 10000, 5);
	if (act_timer_once(ctx, 200, ID_BARRIER))
		act_shutdown(ctx);
}

static void x_start(act_ctx *ctx, void *st, const void *m)
{
	A->tx0 = act_now_ns();
	A->rc_x_set[0] = act_timer_once(ctx, 20, 1);
	A->rc_x_cancel1 = act_timer_cancel(ctx, 1);
	A->rc_x_cancel_y5 = act_timer_cancel(ctx, 5);
	A->rc_x_set[1] = act_timer_once(ctx, 60, 2);
	A->rc_x_set[2] = act_timer_periodic(ctx, 15, 3);
	A->rc_x_set[3] = act_timer_once(ctx, 150, ID_BARRIER);
}

static void x_timeout(act_ctx *ctx, void *st, const void *m)
{
	const act_timeout *tm = m;

	check_ctx(ctx);
	if (strcmp(act_self_name(ctx), "x"))
		atomic_fetch_add(&A->bad_ctx, 1);
	switch (tm->id) {
	case 1: record(S_X1); break;
	case 2: record(S_X2); break;
	case 3:
		record(S_X3);
		if (A->fires[S_X3] == 3)
			A->rc_x_cancel3 = act_timer_cancel(ctx, 3);
		break;
	case ID_BARRIER: record(S_XB); break;
	default: atomic_fetch_add(&A->bad_ids, 1);
	}
}

static void y_timeout(act_ctx *ctx, void *st, const void *m)
{
	const act_timeout *tm = m;

	check_ctx(ctx);
	if (strcmp(act_self_name(ctx), "y"))
		atomic_fetch_add(&A->bad_ctx, 1);
	if (A->fires[S_YB])
		atomic_fetch_add(&A->late_after_barrier, 1);
	switch (tm->id) {
	case 1: record(S_Y1); break;
	case 3: record(S_Y3); break;
	case ID_BARRIER:
		record(S_YB);
		A->rc_y_cancel3 = act_timer_cancel(ctx, 3);
		A->rc_y_cancel5 = act_timer_cancel(ctx, 5);
		/* x's barrier (150 ms) is due before ours (200 ms). */
		finish(ctx);
		break;
	default: atomic_fetch_add(&A->bad_ids, 1);
	}
}

static const act_handler x_h[] = { { &act_start_type, x_start }, { &act_timeout_type, x_timeout } };
static const act_handler y_h[] = { { &act_start_type, y_start }, { &act_timeout_type, y_timeout } };
static const act_behaviour x_b = { .name = "x", .handlers = x_h, .n_handlers = 2 };
static const act_behaviour y_b = { .name = "y", .handlers = y_h, .n_handlers = 2 };

/* ---- checks ------------------------------------------------------------------ */

/* ms from base to the first Timeout of slot, or -1 if it never fired. */
static double fired_ms(int slot, uint64_t base)
{
	return A->fires[slot] ? (double)(A->at[slot][0] - base) / 1e6 : -1.0;
}

/* True if slot fired exactly n times, the first no earlier than delay_ms after base. */
static int fired_once_after(int slot, uint64_t base, uint64_t delay_ms)
{
	return A->fires[slot] == 1 && A->at[slot][0] >= base + delay_ms * MS &&
	       A->at[slot][0] - base < SANITY_NS;
}

int main(void)
{
	int err;

	tap_timeout(60);
	setvbuf(stdout, NULL, _IOLBF, 0);
	A = shared_area(sizeof *A);
	harness_watchdog_fired = &A->watchdog;
	harness_watchdog_ms = WATCHDOG_MS;

	act_node_t *n = act_node_new("timers");
	if (!n)
		bail("act_node_new");
	err = act_node_add_group(n, "a");
	if (!err) err = act_node_add_group(n, "b");
	if (!err) err = act_node_add_actor(n, "a", "t", &t_b, NULL);
	if (!err) err = act_node_add_actor(n, "b", "y", &y_b, NULL);
	if (!err) err = act_node_add_actor(n, "b", "x", &x_b, NULL);
	if (!err) err = act_node_add_actor(n, "b", "watchdog", &watchdog_b, NULL);
	if (err)
		bail("declaring the node failed: %s", act_strerror(err));
	harness_collect_counters();
	int rc = act_node_run(n);
	act_node_free(n);
	if (A->watchdog) {
		diag("the watchdog stopped the node after %d ms", WATCHDOG_MS);
		rc = -ETIMEDOUT;
	}
	ok(rc == 0, "node ran and stopped cleanly (rc %d)", rc);

	int sets = 1;
	for (int i = 0; i < 12; i++)
		sets &= A->rc_set[i] == 0;
	ok(sets, "every act_timer_once/act_timer_periodic returned 0");
	ok(A->bad_ids == 0 && A->bad_ctx == 0,
	   "Timeout{id} carried only ids that were set, to the actor that set them, from nobody");

	ok(fired_once_after(S_ONCE, A->t0, 50),
	   "once: fired exactly once, not before its 50 ms delay (%d times, at %.2f ms)",
	   A->fires[S_ONCE], fired_ms(S_ONCE, A->t0));
	ok(A->rc_cancel_fired == -ENOENT,
	   "once: cancelling it after it fired is -ENOENT (%d)", A->rc_cancel_fired);
	ok(fired_once_after(S_ZERO, A->t0, 0), "once: a 0 ms delay fires once (%d)",
	   A->fires[S_ZERO]);
	ok(A->n_order == 3 && A->order[0] == ID_ORD_B && A->order[1] == ID_ORD_C &&
	   A->order[2] == ID_ORD_A,
	   "timers set 13, 1, 5 ms fire in deadline order (ids %d %d %d)",
	   A->order[0], A->order[1], A->order[2]);
	ok(fired_once_after(S_ORD_B, A->t0, 1) && fired_once_after(S_ORD_C, A->t0, 5) &&
	   fired_once_after(S_ORD_A, A->t0, 13), "and each no earlier than its delay");

	int per_ok = A->fires[S_PER] == PER_FIRES;
	for (int k = 0; k < PER_FIRES && per_ok; k++) {
		uint64_t dt = A->at[S_PER][k] - A->t0;
		if (dt < (uint64_t)(k + 1) * 20 * MS || dt > SANITY_NS) {
			per_ok = 0;
			diag("periodic: Timeout %d at %.2f ms", k + 1, (double)dt / 1e6);
		}
	}
	ok(per_ok, "periodic: fired %d times, the k-th no earlier than k * 20 ms (%d times)",
	   PER_FIRES, A->fires[S_PER]);
	if (A->fires[S_PER] >= 2)
		diag("periodic: spacings %.2f %.2f %.2f %.2f ms",
		     (double)(A->at[S_PER][1] - A->at[S_PER][0]) / 1e6,
		     (double)(A->at[S_PER][2] - A->at[S_PER][1]) / 1e6,
		     (double)(A->at[S_PER][3] - A->at[S_PER][2]) / 1e6,
		     (double)(A->at[S_PER][4] - A->at[S_PER][3]) / 1e6);
	ok(A->rc_cancel_per == 0 && A->rc_cancel_per_again == -ENOENT,
	   "periodic: cancel from its own Timeout is 0, again -ENOENT (%d, %d)",
	   A->rc_cancel_per, A->rc_cancel_per_again);

	ok(A->rc_cancel == 0, "cancel of a pending timer returns 0 (%d)", A->rc_cancel);
	ok(A->fires[S_CANCEL] == 0 && A->fires[S_BARRIER] == 1,
	   "the cancelled timer never fired, though a later timer did (%d)", A->fires[S_CANCEL]);
	ok(A->rc_cancel_twice == -ENOENT && A->rc_cancel_unknown == -ENOENT,
	   "cancel of a cancelled or unknown id is -ENOENT (%d, %d)", A->rc_cancel_twice,
	   A->rc_cancel_unknown);
	ok(A->rc_per_zero == -EINVAL, "a periodic timer with period 0 is -EINVAL (%d)",
	   A->rc_per_zero);

	ok(fired_once_after(S_REPL, A->t0, 80),
	   "re-setting a pending id replaces it: 20 ms -> 80 ms fires once at >= 80 ms "
	   "(%d times, at %.2f ms)", A->fires[S_REPL], fired_ms(S_REPL, A->t0));
	ok(fired_once_after(S_P2O, A->t0, 45),
	   "re-setting a periodic id as one-shot drops the period (%d times, first at %.2f ms)",
	   A->fires[S_P2O], fired_ms(S_P2O, A->t0));
	ok(fired_once_after(S_NEG, A->t0, 60) && fired_once_after(S_MAX, A->t0, 65),
	   "Timeout{id} carries negative and INT64_MAX ids intact (%d, %d)",
	   A->fires[S_NEG], A->fires[S_MAX]);
	ok(A->late_after_barrier == 0, "nothing fired after an actor's barrier timer");

	int xy_sets = A->rc_x_set[0] == 0 && A->rc_x_set[1] == 0 && A->rc_x_set[2] == 0 &&
	              A->rc_x_set[3] == 0 && A->rc_y_set[0] == 0 && A->rc_y_set[1] == 0 &&
	              A->rc_y_set[2] == 0;
	ok(xy_sets && A->rc_x_cancel1 == 0 && A->fires[S_X1] == 0,
	   "two actors, one group: x cancelled its id 1 and it never fired");
	ok(fired_once_after(S_Y1, A->ty0, 40),
	   "... while y's id 1 still fired once at >= 40 ms (%d times, at %.2f ms)",
	   A->fires[S_Y1], fired_ms(S_Y1, A->ty0));
	ok(A->rc_x_cancel_y5 == -ENOENT && A->rc_y_cancel5 == 0,
	   "x cannot cancel y's id 5 (-ENOENT), y can (%d, %d)", A->rc_x_cancel_y5,
	   A->rc_y_cancel5);
	ok(A->fires[S_X3] == 3 && A->rc_x_cancel3 == 0 && A->fires[S_Y3] >= 1 &&
	   A->rc_y_cancel3 == 0,
	   "both have a periodic id 3: x stopped its own after 3, y's kept running (%d Timeouts)",
	   A->fires[S_Y3]);
	ok(fired_once_after(S_X2, A->tx0, 60) && fired_once_after(S_XB, A->tx0, 150) &&
	   fired_once_after(S_YB, A->ty0, 200),
	   "x's and y's other timers fired once each, on time");
	ok(n_counted == 3 && counters[1].dead_letters == 0 && counters[2].dead_letters == 0 &&
	   counters[1].unknown_type == 0 && counters[2].unknown_type == 0,
	   "no dead letters, no unknown types");
	return done_testing();
}
