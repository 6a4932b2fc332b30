/* SPDX-License-Identifier: MIT */
/*
 * t/monitor-spawned.c - monitors of spawned actors end with the worker
 * that took them (act_spawn(3)).
 *
 * A spawned actor holds 8 monitor entries.  A watcher that monitors one
 * in every Start and restarts must neither run out of them (the entries
 * its earlier workers took are freed) nor get the Downs of monitors its
 * earlier workers took; and a Down that crossed act_demonitor() is not
 * delivered.
 *
 * Group "a" holds the permanent spawned actors "s" and "s2" (spawned by
 * "p") and "t2"; group "b" the static watcher "w".  Each of w's first
 * N_INC workers monitors s, waits for s's Pong (so that a has recorded
 * the monitor), and kills itself (SIGKILL).  The last one monitors s2,
 * sends it Quit and removes that monitor in the same handler (s2's Down
 * crosses the removal), monitors s, and sends s Quit; s has t2 send w
 * Done, which comes after every Down in that ring.  w must have taken
 * all N_INC + 1 monitors of s (none -ENOSPC), and got one Down: its own,
 * of s.  (A watcher of s's own group keeps its monitors across that
 * group's restarts: t/dynamic-alias, t/testkit-dynamic.)
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "harness.h"

#define N_INC 12 /* workers of the watcher that die: more than 8 */

struct shared {
	_Atomic int watchdog, starts, taken, refused, downs, downs_s2, done, errors;
	_Atomic int last_err, again_s, again_s2;
	/* node 2 */
	_Atomic int first_taken, second_taken, second_err, x_taken, after_x, y_taken, after_y;
	/* node 3 */
	_Atomic int wpid, flooded, downs_a, downs_other;
	/* node 4 */
	_Atomic int apid, wo_taken, after_wo, x_taken4, x_flooded, after_x4, tries;
	char reason[sizeof(((act_down *)0)->reason)];
};
static struct shared *A;

typedef struct { int32_t unused; } empty_t;
ACT_MESSAGE_TYPE_EMPTY(quit_type, empty_t, "MspQuit");
ACT_MESSAGE_TYPE_EMPTY(ping_type, empty_t, "MspPing");
ACT_MESSAGE_TYPE_EMPTY(pong_type, empty_t, "MspPong");
ACT_MESSAGE_TYPE_EMPTY(tell_type, empty_t, "MspTell");
ACT_MESSAGE_TYPE_EMPTY(done_type, empty_t, "MspDone");
ACT_MESSAGE_TYPE_EMPTY(go_type, empty_t, "MspGo");
ACT_MESSAGE_TYPE_EMPTY(xdone_type, empty_t, "MspXDone");
ACT_MESSAGE_TYPE_EMPTY(fill_type, empty_t, "MspFill");
ACT_MESSAGE_TYPE_EMPTY(cont_type, empty_t, "MspCont");
ACT_MESSAGE_TYPE_EMPTY(stopa_type, empty_t, "MspStopA");
ACT_MESSAGE_TYPE_EMPTY(stopped_type, empty_t, "MspStopped");
ACT_MESSAGE_TYPE_EMPTY(retry_type, empty_t, "MspRetry");

static const empty_t E;

static void fail(void)
{
	atomic_fetch_add(&A->errors, 1);
}

/* ---- the watched: spawned, permanent ------------------------------------- */

static void s_ping(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	if (act_send(ctx, act_sender(ctx), &pong_type, &E))
		fail();
}
static void s_quit(act_ctx *ctx, void *st, const void *m)
{
	act_ref t2;
	(void)st, (void)m;
	/* t2 handles Tell after our end, whose Downs are then in the ring. */
	if (strcmp(act_self_name(ctx), "s2") &&
	    (act_lookup(ctx, "t2", &t2) || act_send(ctx, t2, &tell_type, &E)))
		fail();
	act_stop(ctx, act_self(ctx));
}
static const act_handler s_h[] = { { &ping_type, s_ping }, { &quit_type, s_quit } };
static const act_behaviour s_b = { .name = "watched", .handlers = s_h, .n_handlers = 2,
                                   .restart = ACT_PERMANENT };

static void t2_tell(act_ctx *ctx, void *st, const void *m)
{
	act_ref w;
	(void)st, (void)m;
	if (act_lookup(ctx, "w", &w) || act_send(ctx, w, &done_type, &E))
		fail();
}
static const act_handler t2_h[] = { { &tell_type, t2_tell } };
static const act_behaviour t2_b = { .name = "teller", .handlers = t2_h, .n_handlers = 1 };

/* p spawns s and s2 once (they are restored with a's worker), then tells
 * w to go. */
static void p_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r, w;
	(void)st, (void)m;
	if (act_lookup(ctx, "s", &r) &&
	    (act_spawn(ctx, NULL, "watched", "s", NULL, &r) ||
	     act_spawn(ctx, NULL, "watched", "s2", NULL, &r)))
		fail();
	if (!act_lookup(ctx, "w", &w) && act_send(ctx, w, &go_type, &E))
		fail();
}
static const act_handler p_h[] = { { &act_start_type, p_start } };
static const act_behaviour p_b = { .name = "spawner", .handlers = p_h, .n_handlers = 1 };

/* ---- node 1: the watcher in group b ----------------------------------------- */

static int w_monitored; /* this worker's: w took its monitor of s */
static uint64_t id_s, id_s2; /* the last worker's monitors of s and s2 */

static void w_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	(void)ctx, (void)st;
	if (!strcmp(d->actor, "s") && !strcmp(d->reason, "stopped"))
		atomic_fetch_add(&A->downs, 1);
	else if (!strcmp(d->actor, "s2"))
		atomic_fetch_add(&A->downs_s2, 1);
	else
		fail();
}

/* Monitors s (once per worker); the last worker also does the rest. */
static void w_go(act_ctx *ctx, void *st, const void *m)
{
	act_ref s, s2;
	uint64_t id, id2;
	int err;
	(void)st, (void)m;
	if (w_monitored || act_lookup(ctx, "s", &s) || act_lookup(ctx, "s2", &s2))
		return; /* not spawned yet: p's Go comes when they are */
	w_monitored = 1;
	if (atomic_load(&A->starts) <= N_INC) {
		if ((err = act_monitor(ctx, s, &id))) {
			atomic_fetch_add(&A->refused, 1);
			atomic_store(&A->last_err, err);
			raise(SIGKILL); /* on to the next worker all the same */
		}
		atomic_fetch_add(&A->taken, 1);
		if (act_send(ctx, s, &ping_type, &E)) /* its Pong: the monitor is recorded */
			fail();
		return;
	}
	/* The last worker.  s2's Down crosses the removal of its monitor. */
	if (act_monitor(ctx, s2, &id2) || act_send(ctx, s2, &quit_type, &E) ||
	    act_demonitor(ctx, id2))
		fail();
	id_s2 = id2;
	if ((err = act_monitor(ctx, s, &id_s))) {
		atomic_fetch_add(&A->refused, 1);
		atomic_store(&A->last_err, err);
	} else {
		atomic_fetch_add(&A->taken, 1);
	}
	if (act_send(ctx, s, &quit_type, &E))
		fail();
}
static void w_start(act_ctx *ctx, void *st, const void *m)
{
	atomic_fetch_add(&A->starts, 1);
	w_go(ctx, st, m);
}
static void w_pong(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	/* The Pong an earlier worker died in comes again: not ours. */
	if (!act_redelivered(ctx))
		raise(SIGKILL); /* the group restarts */
}
static void w_done(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	/* Both monitors are over: s's Down came, s2's was removed. */
	atomic_store(&A->again_s, act_demonitor(ctx, id_s));
	atomic_store(&A->again_s2, act_demonitor(ctx, id_s2));
	atomic_store(&A->done, 1);
	act_shutdown(ctx);
}
static const act_handler w_h[] = {
	{ &act_start_type, w_start }, { &go_type, w_go }, { &pong_type, w_pong },
	{ &act_down_type, w_down }, { &done_type, w_done },
};
static const act_behaviour w_b = { .name = "watcher", .handlers = w_h, .n_handlers = 5 };

/* ---- node 2: the count of entries, watchers that stop ------------------------- *
 *
 * The first worker of "w" (group b) takes 8 monitors of s3, waits for
 * s3's Pong and dies: its 8 entries are its ended worker's.  The second
 * takes monitors of s3 until -ENOSPC: exactly 8 (those 8 entries freed
 * for it, no more promised).  Then "x" (group b) takes 8 of s4 and stops
 * itself; once s4 answers a Ping from w (after x's end in the same ring),
 * w takes one: x's ended with it.  Then "y" (group a, s5's) takes 8 of s5
 * and stops itself, and "y2" takes one.  Last, s3 quits: w must get its 8
 * Downs, and Done after them. */

static int w2_phase; /* this worker's */

static void w2_go(act_ctx *ctx, void *st, const void *m)
{
	act_ref s3, x;
	uint64_t id;
	int err = 0, n = 0;
	(void)st, (void)m;
	if (w2_phase || act_lookup(ctx, "s3", &s3) || act_lookup(ctx, "x", &x))
		return;
	w2_phase = 1;
	if (atomic_load(&A->starts) == 1) {
		while (n < 8 && !(err = act_monitor(ctx, s3, &id)))
			n++;
		atomic_store(&A->first_taken, n);
		if (act_send(ctx, s3, &ping_type, &E))
			fail();
		return;
	}
	while (n < 20 && !(err = act_monitor(ctx, s3, &id)))
		n++;
	atomic_store(&A->second_taken, n);
	atomic_store(&A->second_err, err);
	if (act_send(ctx, x, &go_type, &E))
		fail();
}
static void w2_start(act_ctx *ctx, void *st, const void *m)
{
	atomic_fetch_add(&A->starts, 1);
	w2_go(ctx, st, m);
}
static void w2_pong(act_ctx *ctx, void *st, const void *m)
{
	act_ref s3, s4, y;
	uint64_t id;
	(void)st, (void)m;
	if (act_redelivered(ctx))
		return;
	if (atomic_load(&A->starts) == 1)
		raise(SIGKILL); /* the first worker: its 8 monitors end with it */
	if (act_lookup(ctx, "s3", &s3) || act_lookup(ctx, "s4", &s4) || act_lookup(ctx, "y", &y))
		fail();
	else if (act_sender(ctx).id != s4.id)
		fail();
	/* x ended before this Pong was asked for: its entries are free. */
	else if (!act_monitor(ctx, s4, &id))
		atomic_store(&A->after_x, 1);
	if (act_send(ctx, y, &go_type, &E))
		fail();
}
/* From x, ended: s4's Pong comes after x's demonitors were handled. */
static void w2_xdone(act_ctx *ctx, void *st, const void *m)
{
	act_ref s4;
	(void)st, (void)m;
	if (act_lookup(ctx, "s4", &s4) || act_send(ctx, s4, &ping_type, &E))
		fail();
}
/* From y2: s3 quits, its Downs then t2's Done. */
static void w2_fin(act_ctx *ctx, void *st, const void *m)
{
	act_ref s3;
	(void)st, (void)m;
	if (act_lookup(ctx, "s3", &s3) || act_send(ctx, s3, &quit_type, &E))
		fail();
}
static void w2_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	(void)ctx, (void)st;
	if (!strcmp(d->actor, "s3") && !strcmp(d->reason, "stopped"))
		atomic_fetch_add(&A->downs, 1);
	else
		fail();
}
static void w2_done(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	atomic_store(&A->done, 1);
	act_shutdown(ctx);
}
static const act_handler w2_h[] = {
	{ &act_start_type, w2_start }, { &go_type, w2_go }, { &pong_type, w2_pong },
	{ &tell_type, w2_fin }, { &act_down_type, w2_down }, { &done_type, w2_done },
	{ &xdone_type, w2_xdone },
};
static const act_behaviour w2_b = { .name = "watcher2", .handlers = w2_h, .n_handlers = 7 };

/* x and y: take 8 monitors of `target`, then stop; x has w ping s4. */
static void take8_stop(act_ctx *ctx, const char *target, _Atomic int *taken)
{
	act_ref t;
	uint64_t id;
	int n = 0;
	if (act_lookup(ctx, target, &t)) {
		fail();
		return;
	}
	while (n < 8 && !act_monitor(ctx, t, &id))
		n++;
	atomic_store(taken, n);
	act_stop_self(ctx);
}
static void x_go(act_ctx *ctx, void *st, const void *m)
{
	act_ref s4;
	(void)st, (void)m;
	take8_stop(ctx, "s4", &A->x_taken);
	/* w handles this after our end, whose demonitors then are in the
	 * ring to a before w's Ping of s4. */
	if (act_lookup(ctx, "s4", &s4) || act_send(ctx, act_sender(ctx), &xdone_type, &E))
		fail();
}
static const act_handler x_h[] = { { &go_type, x_go } };
static const act_behaviour x_b = { .name = "stopper", .handlers = x_h, .n_handlers = 1 };

static void y_go(act_ctx *ctx, void *st, const void *m)
{
	act_ref y2;
	(void)st, (void)m;
	take8_stop(ctx, "s5", &A->y_taken);
	if (act_lookup(ctx, "y2", &y2) || act_send(ctx, y2, &go_type, &E))
		fail();
}
static const act_handler y_h[] = { { &go_type, y_go } };
static const act_behaviour y_b = { .name = "stopper2", .handlers = y_h, .n_handlers = 1 };

static void y2_go(act_ctx *ctx, void *st, const void *m)
{
	act_ref s5, w;
	uint64_t id;
	(void)st, (void)m;
	/* y's handler returned before ours ran: y has stopped. */
	if (!act_lookup(ctx, "s5", &s5) && !act_monitor(ctx, s5, &id))
		atomic_store(&A->after_y, 1);
	if (act_lookup(ctx, "w", &w) || act_send(ctx, w, &tell_type, &E))
		fail();
}
static const act_handler y2_h[] = { { &go_type, y2_go } };
static const act_behaviour y2_b = { .name = "taker", .handlers = y2_h, .n_handlers = 1 };

static void p2_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r, w;
	(void)st, (void)m;
	if (act_lookup(ctx, "s3", &r) &&
	    (act_spawn(ctx, NULL, "watched", "s3", NULL, &r) ||
	     act_spawn(ctx, NULL, "watched", "s4", NULL, &r) ||
	     act_spawn(ctx, NULL, "watched", "s5", NULL, &r)))
		fail();
	if (!act_lookup(ctx, "w", &w) && act_send(ctx, w, &go_type, &E))
		fail();
}
static const act_handler p2_h[] = { { &act_start_type, p2_start } };
static const act_behaviour p2_b = { .name = "spawner2", .handlers = p2_h, .n_handlers = 1 };

/* ---- node 3: a Down that waited in a worker that died -------------------------- *
 *
 * "w" (group b, 4 KiB rings in) monitors the spawned "A" (group a).  Then
 * "c" (group c) stops w's worker (SIGSTOP) and has "ts" (group a) fill
 * w's ring, stop A - whose Down must wait in a's worker for room - and
 * kill that worker.  c lets w go on (SIGCONT).  The Down that waited is
 * lost with a's worker; A's record says A is gone, so w's worker makes it
 * when it hears of a's restart: one Down.  w then asks the new ts for a
 * Pong, which comes after anything the new worker sent before. */

static void w3_go(act_ctx *ctx, void *st, const void *m)
{
	act_ref a;
	uint64_t id;
	(void)st, (void)m;
	if (w2_phase || act_lookup(ctx, "A", &a))
		return;
	w2_phase = 1;
	if (act_monitor(ctx, a, &id) || act_send(ctx, a, &ping_type, &E))
		fail();
}
static void w3_start(act_ctx *ctx, void *st, const void *m)
{
	atomic_store(&A->wpid, (int)getpid());
	w3_go(ctx, st, m);
}
static void w3_pong(act_ctx *ctx, void *st, const void *m)
{
	act_ref c;
	(void)st, (void)m;
	if (atomic_load(&A->downs_a)) { /* the new ts's Pong: the end */
		atomic_store(&A->done, 1);
		act_shutdown(ctx);
	} else if (act_lookup(ctx, "c", &c) || act_send(ctx, c, &go_type, &E)) {
		fail();
	}
}
static void w3_fill(act_ctx *ctx, void *st, const void *m)
{
	(void)ctx, (void)st, (void)m;
}
static void w3_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	act_ref ts;
	(void)st;
	if (strcmp(d->actor, "A")) {
		atomic_fetch_add(&A->downs_other, 1);
		return;
	}
	snprintf(A->reason, sizeof A->reason, "%s", d->reason);
	if (atomic_fetch_add(&A->downs_a, 1) == 0 &&
	    (act_lookup(ctx, "ts", &ts) || act_send(ctx, ts, &ping_type, &E)))
		fail();
}
static const act_handler w3_h[] = {
	{ &act_start_type, w3_start }, { &go_type, w3_go }, { &pong_type, w3_pong },
	{ &fill_type, w3_fill }, { &act_down_type, w3_down },
};
static const act_behaviour w3_b = { .name = "watcher3", .handlers = w3_h, .n_handlers = 5 };

static void c_go(act_ctx *ctx, void *st, const void *m)
{
	act_ref ts;
	(void)st, (void)m;
	if (kill(atomic_load(&A->wpid), SIGSTOP) || act_lookup(ctx, "ts", &ts) ||
	    act_send(ctx, ts, &go_type, &E))
		fail();
}
static void c_cont(act_ctx *ctx, void *st, const void *m)
{
	(void)ctx, (void)st, (void)m;
	if (kill(atomic_load(&A->wpid), SIGCONT))
		fail();
}
static const act_handler c_h[] = { { &go_type, c_go }, { &cont_type, c_cont } };
static const act_behaviour c_b = { .name = "controller", .handlers = c_h, .n_handlers = 2 };

static void ts_go(act_ctx *ctx, void *st, const void *m)
{
	act_ref w, a, c;
	int n = 0, err;
	(void)st, (void)m;
	if (act_redelivered(ctx))
		return; /* this worker's end was the point */
	if (act_lookup(ctx, "w", &w) || act_lookup(ctx, "A", &a) || act_lookup(ctx, "c", &c)) {
		fail();
		return;
	}
	while (n < 100000 && !(err = act_send(ctx, w, &fill_type, &E)))
		n++;
	atomic_store(&A->flooded, err == ACT_EFULL ? n : -1);
	/* A's Down finds w's ring full: it waits in this worker, which dies. */
	if (act_stop(ctx, a) || act_send(ctx, c, &cont_type, &E))
		fail();
	raise(SIGKILL);
}
static const act_handler ts_h[] = { { &go_type, ts_go }, { &ping_type, s_ping } };
static const act_behaviour ts_b = { .name = "flooder", .handlers = ts_h, .n_handlers = 2 };

static void p3_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r, w;
	(void)st;
	/* a's restart (ts's SIGKILL) is part of the test: nothing to set up
	 * again, and w's ring may still be full when it comes (a restart that
	 * does not wait for the teardown is quick). */
	if (((const act_start *)m)->restart)
		return;
	if (act_lookup(ctx, "A", &r) && act_spawn(ctx, NULL, "watched", "A", NULL, &r))
		fail();
	if (!act_lookup(ctx, "w", &w) && act_send(ctx, w, &go_type, &E))
		fail();
}
static const act_handler p3_h[] = { { &act_start_type, p3_start } };
static const act_behaviour p3_b = { .name = "spawner3", .handlers = p3_h, .n_handlers = 1 };

/* ---- node 4: static watchers that stop ------------------------------------------ *
 *
 * "wo" (group a) takes 8 monitors of the spawned "B" (group a) and stops:
 * "w" (group b) can then take one (B's group frees the entries of its
 * stopped static actors, for any claimer).  "x" (group b) takes 8 of "C"
 * (group a); "c" (group c) stops a's worker (SIGSTOP), x fills its ring to
 * a and stops: its 8 withdrawals wait in b's worker for room.  c lets a go
 * on; w tries to monitor C until it can (each try after a Pong of C): the
 * withdrawals reach a, and one entry is free.  B then quits: w gets one
 * Down, wo none.  And "S5" (spawned in a) monitors wo and stops at once:
 * wo's end sends it no Down. */

static void w4_go(act_ctx *ctx, void *st, const void *m)
{
	act_ref wo;
	(void)st, (void)m;
	if (w2_phase || act_lookup(ctx, "wo", &wo))
		return;
	w2_phase = 1;
	if (act_send(ctx, wo, &go_type, &E))
		fail();
}
static void w4_wodone(act_ctx *ctx, void *st, const void *m)
{
	act_ref b;
	(void)st, (void)m;
	/* B's Pong comes after wo's end (it is in the same ring, after). */
	if (act_lookup(ctx, "B", &b) || act_send(ctx, b, &ping_type, &E))
		fail();
}
static void w4_try(act_ctx *ctx)
{
	act_ref c;
	int err;
	/* Until a has handled x's withdrawals (bounded by the watchdog). */
	atomic_fetch_add(&A->tries, 1);
	if (act_lookup(ctx, "C", &c)) {
		fail();
		return;
	}
	if ((err = act_send(ctx, c, &ping_type, &E)) == ACT_EFULL)
		err = act_send(ctx, act_self(ctx), &retry_type, &E); /* a's ring still full */
	if (err)
		fail();
}
static void w4_retry(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	w4_try(ctx);
}
static void w4_pong(act_ctx *ctx, void *st, const void *m)
{
	act_ref b, c, x;
	uint64_t id;
	int err;
	(void)st, (void)m;
	if (act_lookup(ctx, "B", &b) || act_lookup(ctx, "C", &c) || act_lookup(ctx, "x", &x)) {
		fail();
		return;
	}
	if (act_sender(ctx).id == b.id) {
		if (!act_monitor(ctx, b, &id))
			atomic_store(&A->after_wo, 1);
		if (act_send(ctx, x, &go_type, &E))
			fail();
		return;
	}
	if ((err = act_monitor(ctx, c, &id)) == -ENOSPC) {
		w4_try(ctx); /* x's withdrawals not there yet */
		return;
	}
	if (!err)
		atomic_store(&A->after_x4, 1);
	if (act_send(ctx, b, &quit_type, &E))
		fail();
}
/* From x, ended: a may go on; then try C. */
static void w4_xdone(act_ctx *ctx, void *st, const void *m)
{
	act_ref c;
	(void)st, (void)m;
	if (act_lookup(ctx, "c", &c) || act_send(ctx, c, &cont_type, &E))
		fail();
	w4_try(ctx);
}
static void w4_down(act_ctx *ctx, void *st, const void *m)
{
	const act_down *d = m;
	(void)ctx, (void)st;
	if (!strcmp(d->actor, "B") && !strcmp(d->reason, "stopped"))
		atomic_fetch_add(&A->downs, 1);
	else
		fail();
}
static const act_handler w4_h[] = {
	{ &go_type, w4_go }, { &tell_type, w4_wodone }, { &pong_type, w4_pong },
	{ &retry_type, w4_retry }, { &xdone_type, w4_xdone }, { &act_down_type, w4_down },
	{ &done_type, w2_done },
};
static const act_behaviour w4_b = { .name = "watcher4", .handlers = w4_h, .n_handlers = 7 };

static void wo_go(act_ctx *ctx, void *st, const void *m)
{
	act_ref w;
	(void)st, (void)m;
	take8_stop(ctx, "B", &A->wo_taken);
	if (act_lookup(ctx, "w", &w) || act_send(ctx, w, &tell_type, &E))
		fail();
}
static const act_handler wo_h[] = { { &go_type, wo_go } };
static const act_behaviour wo_b = { .name = "stopper4", .handlers = wo_h, .n_handlers = 1 };

static void x4_go(act_ctx *ctx, void *st, const void *m)
{
	act_ref c;
	uint64_t id;
	int n = 0;
	(void)st, (void)m;
	if (act_lookup(ctx, "C", &c)) {
		fail();
		return;
	}
	while (n < 8 && !act_monitor(ctx, c, &id))
		n++;
	atomic_store(&A->x_taken4, n);
	if (act_send(ctx, c, &ping_type, &E)) /* its Pong: the 8 are recorded */
		fail();
}
static void x4_pong(act_ctx *ctx, void *st, const void *m)
{
	act_ref c;
	(void)st, (void)m;
	if (act_lookup(ctx, "c", &c) || act_send(ctx, c, &stopa_type, &E))
		fail();
}
static void x4_stopped(act_ctx *ctx, void *st, const void *m)
{
	act_ref c, w;
	int n = 0, err;
	(void)st, (void)m;
	if (act_lookup(ctx, "C", &c) || act_lookup(ctx, "w", &w)) {
		fail();
		return;
	}
	while (n < 100000 && !(err = act_send(ctx, c, &fill_type, &E)))
		n++;
	atomic_store(&A->x_flooded, err == ACT_EFULL ? n : -1);
	/* w handles this after our end, whose withdrawals find the ring
	 * full and wait; then it lets a go on. */
	if (act_send(ctx, w, &xdone_type, &E))
		fail();
	act_stop_self(ctx);
}
static const act_handler x4_h[] = {
	{ &go_type, x4_go }, { &pong_type, x4_pong }, { &stopped_type, x4_stopped },
};
static const act_behaviour x4_b = { .name = "stopper5", .handlers = x4_h, .n_handlers = 3 };

static void c4_stopa(act_ctx *ctx, void *st, const void *m)
{
	(void)st, (void)m;
	if (kill(atomic_load(&A->apid), SIGSTOP) ||
	    act_send(ctx, act_sender(ctx), &stopped_type, &E))
		fail();
}
static void c4_cont(act_ctx *ctx, void *st, const void *m)
{
	(void)ctx, (void)st, (void)m;
	if (kill(atomic_load(&A->apid), SIGCONT))
		fail();
}
static const act_handler c4_h[] = { { &stopa_type, c4_stopa }, { &cont_type, c4_cont } };
static const act_behaviour c4_b = { .name = "controller4", .handlers = c4_h, .n_handlers = 2 };

static const act_handler watched4_h[] = {
	{ &ping_type, s_ping }, { &quit_type, s_quit }, { &fill_type, w3_fill },
};
static const act_behaviour watched4_b = { .name = "watched4", .handlers = watched4_h,
                                          .n_handlers = 3, .restart = ACT_PERMANENT };

/* "S5", spawned in group a, monitors wo (a static actor of a) and stops
 * at once: wo's end later must not send it a Down (a dead letter). */
static void s5_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref wo;
	uint64_t id;
	(void)st, (void)m;
	if (act_lookup(ctx, "wo", &wo) || act_monitor(ctx, wo, &id))
		fail();
	act_stop_self(ctx);
}
static const act_handler s5_h[] = { { &act_start_type, s5_start } };
static const act_behaviour s5_b = { .name = "watcher5", .handlers = s5_h, .n_handlers = 1 };

static void p4_start(act_ctx *ctx, void *st, const void *m)
{
	act_ref r, w;
	(void)st, (void)m;
	atomic_store(&A->apid, (int)getpid());
	if (act_lookup(ctx, "B", &r) &&
	    (act_spawn(ctx, NULL, "watched4", "B", NULL, &r) ||
	     act_spawn(ctx, NULL, "watched4", "C", NULL, &r) ||
	     act_spawn(ctx, NULL, "watcher5", "S5", NULL, &r)))
		fail();
	if (!act_lookup(ctx, "w", &w) && act_send(ctx, w, &go_type, &E))
		fail();
}
static const act_handler p4_h[] = { { &act_start_type, p4_start } };
static const act_behaviour p4_b = { .name = "spawner4", .handlers = p4_h, .n_handlers = 1 };

static act_node_t *new_node(const char *name)
{
	act_node_t *n = act_node_new(name);
	act_node_add_behaviour(n, &s_b);
	act_node_add_group(n, "a");
	act_node_add_group(n, "b");
	act_node_add_group(n, "dogs");
	act_node_add_actor(n, "dogs", "watchdog", &harness_watchdog_b, NULL);
	/* N_INC quick deaths of one group, without waiting. */
	act_node_set_intensity(n, 4 * N_INC, 60000);
	act_node_set_backoff(n, 1, 1.0, 1, 1);
	return n;
}

static void reset(void)
{
	memset(A, 0, sizeof *A);
	harness_watchdog_ms = 20000;
	harness_watchdog_fired = &A->watchdog;
}

int main(void)
{
	tap_timeout(90);
	A = shared_area(sizeof *A);
	act__node_inspect_hook = harness_inspect;

	reset();
	act_node_t *n = new_node("monitor-spawned");
	act_node_add_actor(n, "a", "p", &p_b, NULL);
	act_node_add_actor(n, "a", "t2", &t2_b, NULL);
	act_node_add_actor(n, "b", "w", &w_b, NULL);
	int rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0, "node ran and stopped cleanly (rc %d)", rc);
	ok(!A->watchdog && A->done, "w got Done before the watchdog");
	ok(A->starts == N_INC + 1, "w had %d workers (%d)", N_INC + 1, A->starts);
	ok(A->taken == N_INC + 1 && !A->refused,
	   "each took its monitor of s: the entries of those that died are free again "
	   "(%d taken, %d refused, last error %d)", A->taken, A->refused, A->last_err);
	ok(A->downs == 1, "the last w got one Down of s, its own (%d; its %d earlier workers' "
	   "monitors ended with them)", A->downs, N_INC);
	ok(A->downs_s2 == 0, "no Down of s2: it crossed act_demonitor() (%d)", A->downs_s2);
	ok(A->errors == 0, "no error, no other Down (%d)", A->errors);
	ok(counters[2].dead_letters == 0, "group b made no dead letter (%llu)",
	   (unsigned long long)counters[2].dead_letters);
	ok(A->again_s == -ENOENT && A->again_s2 == -ENOENT,
	   "act_demonitor() of a monitor whose Down came, or removed already: -ENOENT (%d, %d)",
	   A->again_s, A->again_s2);

	reset();
	n = new_node("monitor-spawned-2");
	act_node_add_actor(n, "a", "p", &p2_b, NULL);
	act_node_add_actor(n, "a", "t2", &t2_b, NULL);
	act_node_add_actor(n, "a", "y", &y_b, NULL);
	act_node_add_actor(n, "a", "y2", &y2_b, NULL);
	act_node_add_actor(n, "b", "w", &w2_b, NULL);
	act_node_add_actor(n, "b", "x", &x_b, NULL);
	rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0 && !A->watchdog && A->done, "node 2 ran and stopped cleanly (rc %d)", rc);
	ok(A->first_taken == 8 && A->starts == 2, "w's first worker took 8 monitors of s3 (%d)",
	   A->first_taken);
	ok(A->second_taken == 8 && A->second_err == -ENOSPC,
	   "its second took exactly 8 more, then -ENOSPC: the 8 entries of the ended worker, no "
	   "more (%d, error %d)", A->second_taken, A->second_err);
	ok(A->downs == 8, "s3's end gave w 8 Downs, those of its second worker (%d)", A->downs);
	ok(A->x_taken == 8 && A->after_x, "x took 8 of s4 and stopped: its monitors ended with it, "
	   "w could take one (%d, %d)", A->x_taken, A->after_x);
	ok(A->y_taken == 8 && A->after_y, "y took 8 of s5 in s5's group and stopped: y2 could "
	   "take one (%d, %d)", A->y_taken, A->after_y);
	ok(A->errors == 0, "no error, no other Down (%d)", A->errors);

	reset();
	n = new_node("monitor-spawned-3");
	act_node_add_group(n, "c");
	act_node_add_actor(n, "a", "p", &p3_b, NULL);
	act_node_add_actor(n, "a", "ts", &ts_b, NULL);
	act_node_add_actor(n, "b", "w", &w3_b, NULL);
	act_node_add_actor(n, "c", "c", &c_b, NULL);
	if (act_node_set_ring_bytes(n, "b", 4096))
		bail("ring_bytes");
	rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0 && !A->watchdog && A->done, "node 3 ran and stopped cleanly (rc %d)", rc);
	ok(A->flooded > 0, "ts filled w's ring (%d envelopes, then ACT_EFULL)", A->flooded);
	ok(A->downs_a == 1 && !strcmp(A->reason, "crashed: signal 9"),
	   "w got one Down of A, whose Down died waiting in a's worker: \"%s\" (%d)", A->reason,
	   A->downs_a);
	ok(A->downs_other == 0 && A->errors == 0, "no other Down, no error (%d, %d)",
	   A->downs_other, A->errors);

	reset();
	n = new_node("monitor-spawned-4");
	act_node_add_group(n, "c");
	act_node_add_behaviour(n, &watched4_b);
	act_node_add_behaviour(n, &s5_b);
	act_node_add_actor(n, "a", "p", &p4_b, NULL);
	act_node_add_actor(n, "a", "t2", &t2_b, NULL);
	act_node_add_actor(n, "a", "wo", &wo_b, NULL);
	act_node_add_actor(n, "b", "w", &w4_b, NULL);
	act_node_add_actor(n, "b", "x", &x4_b, NULL);
	act_node_add_actor(n, "c", "c", &c4_b, NULL);
	if (act_node_set_ring_bytes(n, "a", 4096))
		bail("ring_bytes");
	rc = act_node_run(n);
	act_node_free(n);

	ok(rc == 0 && !A->watchdog && A->done, "node 4 ran and stopped cleanly (rc %d)", rc);
	ok(A->wo_taken == 8 && A->after_wo, "wo took 8 of B in B's group and stopped: w, in "
	   "another group, could take one (%d, %d)", A->wo_taken, A->after_wo);
	ok(A->x_taken4 == 8 && A->x_flooded > 0 && A->after_x4,
	   "x took 8 of C and stopped with its ring to C's group full (%d envelopes): its "
	   "withdrawals waited, then w could take one (%d, %d tries)", A->x_flooded, A->x_taken4,
	   A->tries);
	ok(A->downs == 1, "B's end gave w one Down, wo none (%d)", A->downs);
	ok(A->errors == 0, "no error, no other Down (%d)", A->errors);
	ok(counters[1].dead_letters == 0, "group a made no dead letter: no Down to wo's watcher "
	   "S5, a spawned actor that had stopped (%llu)", (unsigned long long)counters[1].dead_letters);

	return done_testing();
}
