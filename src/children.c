/* SPDX-License-Identifier: MIT */
/*
 * children.c - what happens when an actor fails: its parent's
 * act_child_policy (actor.h) restarts it (fresh state, same ref), resumes
 * it (same state, the failing message dropped), stops it, or escalates
 * (the parent fails in turn, up to the group, which then fails with
 * ACT_EXIT_TEMPORARY and is restarted by the node's OTP engine).  Restart
 * intensity is counted per child (one-for-one) or per parent (all-for-one,
 * rest-for-one), in windows of period_ms, like Akka's strategies.
 *
 * Everything here runs on the group's thread, after the failing actor's
 * handler returned (dispatch.c calls act__sup_settle()).  A restart keeps
 * the spawn record LIVE throughout, so a crash in the middle of one leaves
 * the record whole and the next worker re-creates the actor as usual.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <actors.h>

#include "clock.h"
#include "dyn-remote.h"
#include "log.h"
#include "stats.h"
#include "worker-int.h"

#define DEFAULT_PERIOD_MS 5000u
#define DEFAULT_MAX_RESTARTS 1u /* OTP's default intensity */

static act_ref ref_of(const struct actor *a)
{
	return (act_ref){ a->id + 1, 0, a->gen };
}

/* The live local parent of spawned actor a (as its record names it), or NULL. */
static struct actor *parent_of(struct worker *w, const struct actor *a)
{
	struct actor *p;

	if (!a->dynamic || !a->rec || !a->rec->parent)
		return NULL;
	p = act__w_local(w, a->rec->parent - 1);
	return p && !p->stopped && p->gen == a->rec->parent_gen ? p : NULL;
}

/* Counts a restart (or an escalation) of spawned actor a, in its stats
 * entry and its group's area: this worker is their only writer. */
static void count(struct worker *w, struct actor *a, bool escalation)
{
	struct act__astat *e = act__stats_entry(&w->shm.stats, a->id);

	if (e) {
		act__stats_claim(e, a->gen);
		act__stats_bump(escalation ? &e->n_escalations : &e->n_policy_restarts, 1);
	}
	act__stats_bump(escalation ? &w->dyn->n_child_escalations : &w->dyn->n_child_restarts, 1);
}

static void clear_failure(struct actor *a)
{
	free(a->fail_reason);
	a->fail_reason = NULL;
	a->stopping = a->escalated = false;
	a->stop_reason = NULL;
}

void act__sup_reset(struct worker *w, struct actor *a)
{
	a->escalated = a->init_failed = false;
	a->n_restarts = a->sup_n = 0;
	a->sup_since_ns = 0;
	a->spawn_seq = ++w->spawn_seq;
}

/*
 * A failure came up to actor a and nobody above can handle it: the group
 * fails.  Its worker leaves the loop after the current record (which is
 * released: the failing message is not redelivered), stops every actor
 * cleanly, and exits ACT_EXIT_TEMPORARY; the spawn records stay, so the
 * next worker re-creates the permanent actors.  a itself is not ended (its
 * record stays too): the group's restart restarts it.
 */
static void fail_group(struct worker *w, struct actor *a)
{
	act__err("actor '%s' %s, and no parent supervises it: the group fails (exit %d)",
	         a->def->name, a->fail_reason ? a->fail_reason : "failed", ACT_EXIT_TEMPORARY);
	clear_failure(a);
	w->exit_code = ACT_EXIT_TEMPORARY;
	w->stopping = true;
}

/* True if one more restart fits holder's window; counts it. */
static bool restart_allowed(struct actor *holder, const act_child_policy *pol)
{
	uint64_t now = act__now_ns();
	uint64_t period_ns = (uint64_t)(pol->period_ms ? pol->period_ms : DEFAULT_PERIOD_MS) *
	                     1000000u;
	uint32_t max = pol->max_restarts ? pol->max_restarts : DEFAULT_MAX_RESTARTS;

	if (holder->sup_n == 0 || now - holder->sup_since_ns >= period_ns) {
		holder->sup_since_ns = now;
		holder->sup_n = 0;
	}
	return ++holder->sup_n <= max;
}

/* The directive of parent p for failed child c. */
static act_directive decide(struct worker *w, struct actor *p, struct actor *c,
                            const act_child_policy *pol)
{
	act_directive d = pol->directive;

	if (pol->decide) {
		struct act_ctx saved = w->ctx;
		act__w_set_ctx(w, p, NULL, NULL, NULL, 0, NULL);
		p->running++;
		d = pol->decide(&w->ctx, p->state, ref_of(c), c->fail_reason);
		p->running--;
		w->ctx = saved;
	}
	if ((unsigned)d > ACT_CHILD_ESCALATE) {
		act__warn_every("actor '%s': its decide() returned %d, not a directive; "
		                "stopping child '%s'", p->def->name, (int)d, c->def->name);
		d = ACT_CHILD_STOP;
	}
	return d;
}

/* Stops a's children (each: its own children first, Shutdown, fini, Down "stopped"). */
static void stop_children(struct worker *w, struct actor *a)
{
	uint32_t hi = atomic_load_explicit(&w->dyn->hi, memory_order_relaxed);
	struct act_ctx saved = w->ctx;

	for (uint32_t s = hi; s-- > 0 && a->n_children;) {
		struct actor *c = &w->actors[w->n_local + s];
		if (c->def && !c->stopped && parent_of(w, c) == a)
			act_stop(&w->ctx, ref_of(c));
	}
	w->ctx = saved;
}

/*
 * The children of p that strategy s concerns when child a failed, a
 * included, in spawn order.  Children with a handler on the stack are left
 * out (they cannot be restarted under their own feet).  NULL on OOM.
 */
static struct actor **concerned(struct worker *w, struct actor *p, struct actor *a,
                                act_strategy s, uint32_t *n)
{
	uint32_t hi = atomic_load_explicit(&w->dyn->hi, memory_order_relaxed), k = 0;
	struct actor **v = malloc(((size_t)hi + 1) * sizeof *v);

	if (!v)
		return NULL;
	v[k++] = a;
	for (uint32_t i = 0; s != ACT_ONE_FOR_ONE && i < hi; i++) {
		struct actor *c = &w->actors[w->n_local + i];
		if (c == a || !c->def || c->stopped || c->running || parent_of(w, c) != p)
			continue;
		if (s == ACT_REST_FOR_ONE && c->spawn_seq < a->spawn_seq)
			continue;
		/* insertion by spawn order: siblings are few */
		uint32_t j = k++;
		while (j > 0 && v[j - 1]->spawn_seq > c->spawn_seq) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = c;
	}
	*n = k;
	return v;
}

/* First half of a restart: a's children stop, then its fini runs (not if
 * its init just failed: init's failure already undid what it set up). */
static void take_down(struct worker *w, struct actor *a)
{
	if (a->n_children)
		stop_children(w, a);
	act__dyn_ended(w, a); /* and those in other groups (dyn-remote.c) */
	act__w_stop_actor(w, a);
}

/*
 * Second half: zeroed state, init, then Start (restart = true).  Only for
 * an actor that take_down() stopped and whose record is still its own
 * (a Start of a sibling brought up before it may have stopped it, or
 * restarted it already).
 */
static void bring_up(struct worker *w, struct actor *a, uint32_t gen)
{
	struct act_ctx saved = w->ctx;
	int r = 0;

	if (!a->stopped || a->gen != gen ||
	    atomic_load_explicit(&a->rec->word, memory_order_relaxed) !=
	    ACT__SLOT_WORD(gen, ACT__SLOT_LIVE))
		return;
	memset(a->state, 0, a->def->b->state_size);
	clear_failure(a);
	a->init_failed = false;
	a->stopped = false;
	a->n_restarts++;
	count(w, a, false);
	if (a->def->b->init) {
		act__w_set_ctx(w, a, NULL, NULL, NULL, 0, NULL);
		a->running++;
		r = a->def->b->init(&w->ctx, a->state, a->def->args);
		a->running--;
	}
	w->ctx = saved;
	if (r) {
		/* A failure like any other, but with nothing to resume and no
		 * fini to run: what init set up goes now. */
		char why[64];
		snprintf(why, sizeof why, "failed: init returned %d on restart", r);
		act__err_every("actor '%s' (%s) failed to initialise again: %s", a->def->name,
		         a->def->b->name, act_strerror(r));
		act__timers_cancel_owner(&w->timers, (uint32_t)(a - w->actors));
		act__ask_drop_owner(w, (uint32_t)(a - w->actors));
		a->init_failed = true;
		a->fail_reason = strdup(why);
		a->stopping = true;
		act__sup_settle(w, a);
		return;
	}
	if (w->restoring)
		return; /* the worker's Start round follows the restore */
	act_start st = { true, (int32_t)a->n_restarts, 0, -1 };
	act__w_invoke(w, a, &act_start_type, &st, NULL, 0, NULL);
	w->ctx = saved;
}

static void restart(struct worker *w, struct actor *p, struct actor *a, act_strategy s)
{
	uint32_t n = 1, *gens;
	struct actor *one = a, **v = concerned(w, p, a, s, &n);

	if (!v) {
		act__err("out of memory restarting the siblings of '%s': restarting it alone",
		         a->def->name);
		v = &one;
		n = 1;
	}
	gens = malloc(n * sizeof *gens);
	act__log_every(ACT_LOG_INFO, "actor '%s' %s: restarting it%s (restart %u)", a->def->name,
	               a->fail_reason, n > 1 ? " and its siblings" : "", a->n_restarts + 1);
	/* OTP's order: stop the newest first, start the oldest first. */
	for (uint32_t i = n; i-- > 0;) {
		if (gens)
			gens[i] = v[i]->gen;
		take_down(w, v[i]);
	}
	for (uint32_t i = 0; i < n; i++)
		bring_up(w, v[i], gens ? gens[i] : v[i]->gen);
	free(gens);
	if (v != &one)
		free(v);
}

/* The other children of p that strategy s concerns stop with a (Down "stopped"). */
static void stop_siblings(struct worker *w, struct actor *p, struct actor *a, act_strategy s)
{
	uint32_t n = 0;
	struct actor **v = concerned(w, p, a, s, &n);
	struct act_ctx saved = w->ctx;

	for (uint32_t i = n; v && i-- > 0;)
		if (v[i] != a)
			act_stop(&w->ctx, ref_of(v[i]));
	w->ctx = saved;
	free(v);
}

/* Parent p fails because its child `child` failed with `reason`. */
static void escalate(struct worker *w, struct actor *p, const char *child, const char *reason)
{
	const char *r = strncmp(reason, "failed: ", 8) ? reason : reason + 8;
	size_t len = strlen("failed: : ") + strlen(child) + strlen(r) + 1;
	char *why = malloc(len);

	if (p->stopping && p->fail_reason) {
		free(why); /* already failing: one cause is enough */
		return;
	}
	if (why)
		snprintf(why, len, "failed: %s: %s", child, r);
	free(p->fail_reason);
	p->fail_reason = why ? why : strdup("failed: escalated");
	p->stopping = true;
	p->escalated = true;
	act__sup_settle(w, p);
}

/* Actor a failed and no handler of it is on the stack. */
static void failed(struct worker *w, struct actor *a)
{
	struct actor *p = parent_of(w, a);
	const act_child_policy *pol = p ? p->def->b->children : NULL;

	if (!pol || w->stopping) {
		if (a->escalated && !w->stopping)
			fail_group(w, a);
		else
			act__w_end_actor(w, a, a->fail_reason);
		return;
	}
	act_directive d = decide(w, p, a, pol);
	if (a->stopped)
		return; /* decide() stopped it (or its parent, and so it) */
	if (parent_of(w, a) != p) {
		act__w_end_actor(w, a, a->fail_reason);
		return;
	}
	if (d == ACT_CHILD_RESUME && a->init_failed)
		d = ACT_CHILD_STOP; /* no state to resume */
	if (d == ACT_CHILD_RESTART &&
	    !restart_allowed(pol->strategy == ACT_ONE_FOR_ONE ? a : p, pol)) {
		act__err_every("actor '%s': more than %u restarts of its children in %u ms: escalating",
		         p->def->name, pol->max_restarts ? pol->max_restarts : DEFAULT_MAX_RESTARTS,
		         pol->period_ms ? pol->period_ms : DEFAULT_PERIOD_MS);
		d = ACT_CHILD_ESCALATE;
	}
	switch (d) {
	case ACT_CHILD_RESUME:
		act__log_every(ACT_LOG_INFO, "actor '%s' %s: resumed", a->def->name, a->fail_reason);
		clear_failure(a);
		break;
	case ACT_CHILD_RESTART:
		restart(w, p, a, (act_strategy)pol->strategy);
		break;
	case ACT_CHILD_ESCALATE: {
		char name[ACT_NAME_MAX + 1], reason[sizeof ((act_down *)0)->reason];
		count(w, a, true);
		snprintf(name, sizeof name, "%s", a->def->name);
		snprintf(reason, sizeof reason, "%s", a->fail_reason);
		act__w_end_actor(w, a, a->fail_reason);
		escalate(w, p, name, reason);
		break;
	}
	default:
		act__w_end_actor(w, a, a->fail_reason);
		if (pol->strategy != ACT_ONE_FOR_ONE)
			stop_siblings(w, p, a, (act_strategy)pol->strategy);
		break;
	}
	/* decide() may have stopped or failed the parent itself. */
	act__sup_settle(w, p);
}

void act__sup_settle(struct worker *w, struct actor *a)
{
	if (a->stopped || a->running || !a->stopping)
		return;
	if (a->fail_reason && !a->stop_reason)
		failed(w, a);
	else
		act__w_end_actor(w, a, a->fail_reason ? a->fail_reason :
		                 a->stop_reason ? a->stop_reason : "normal");
}
