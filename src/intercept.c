/* SPDX-License-Identifier: MIT */
/*
 * intercept.c - interceptors (actors/intercept.h): the registrations of
 * nodes and modules, the chain a worker runs around every handler and
 * lifecycle event, the message-flow logger (ACTORS_TRACE=1 or an app
 * file's "trace": true), and the per-type figures in the region that
 * actorsctl status shows.
 *
 * Registrations are plain process memory written before any worker is
 * forked (the node's process, or actorsd's zygote for modules), so every
 * worker inherits them; each worker then builds its own chain once
 * (act__ic_activate()).  One chain per process: a worker runs one group.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <actors.h>

#include "clock.h"
#include "intercept.h"
#include "log.h"
#include "module.h"
#include "registry.h"
#include "stats.h"
#include "worker-int.h"

#define MAX_REG 64u     /* registrations in a process, all owners */
#define MAX_TRACED 256u /* groups traced by the app file */

struct reg_ent {
	const void *owner;
	const act_interceptor *ic;
	bool is_module;
};

static struct reg_ent regs[MAX_REG];
static uint32_t n_regs;
static char *traced[MAX_TRACED];
static uint32_t n_traced;

const act_interceptor *act__ic_chain[ACT__IC_MAX];
uint32_t act__ic_n;
static struct act__gstat *ic_gstat; /* the running group's figures, or NULL */
bool act__ic_timed;               /* an interceptor of the chain wants elapsed_ns */

/* ---- registration ------------------------------------------------------------ */

static bool ic_ok(const act_interceptor *ic)
{
	if (!ic || ic->size < offsetof(act_interceptor, reserved))
		return false;
	/* Built against a later header: accept it only if the hooks this
	 * library does not know are unset, so nothing is silently ignored. */
	for (size_t off = sizeof *ic; off + sizeof(void *) <= ic->size; off += sizeof(void *))
		if (*(void *const *)((const char *)ic + off))
			return false;
	return true;
}

int act__ic_add(const void *owner, bool is_module, const act_interceptor *ic)
{
	uint32_t mine = 0;

	if (!owner || !ic_ok(ic))
		return -EINVAL;
	for (uint32_t i = 0; i < n_regs; i++) {
		if (regs[i].owner != owner)
			continue;
		if (regs[i].ic == ic)
			return -EEXIST;
		mine++;
	}
	if (mine >= ACT__IC_MAX - 1 || n_regs == MAX_REG) /* one place kept for the logger */
		return -ENOSPC;
	regs[n_regs++] = (struct reg_ent){ owner, ic, is_module };
	return 0;
}

void act__ic_forget(const void *owner)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < n_regs; i++)
		if (regs[i].owner != owner)
			regs[k++] = regs[i];
	n_regs = k;
}

/* A traced group name covers the group, and a pool's members NAME#k. */
static bool traced_name(const char *name, const char *group)
{
	size_t len = strlen(name);
	return !strncmp(name, group, len) && (group[len] == '\0' || group[len] == '#');
}

int act__ic_trace_group(const char *group)
{
	for (uint32_t i = 0; i < n_traced; i++)
		if (!strcmp(traced[i], group))
			return 0;
	if (n_traced == MAX_TRACED)
		return -ENOSPC;
	if (!(traced[n_traced] = strdup(group)))
		return -ENOMEM;
	n_traced++;
	return 0;
}

ACT_API int act_module_add_interceptor(act_module *m, const act_interceptor *ic)
{
	if (!m)
		return -EINVAL;
	return act__ic_add(m, true, ic);
}

/* ---- the message-flow logger ------------------------------------------------- */

static const char *sender_name(act_ctx *ctx)
{
	act_ref s = act_sender(ctx);
	const char *n;

	if (act_ref_is_nobody(s))
		return ctx->jv && ctx->jv->peer_len ? ctx->jv->peer : "-";
	n = act_ref_name(ctx, s);
	return n ? n : "?";
}

static void trace_after(act_ctx *ctx, void *user, const act_type *t, const void *msg,
                        uint64_t elapsed_ns)
{
	(void)user;
	(void)msg;
	act_log(ctx, ACT_LOG_INFO, "trace: actor=%s type=%s from=%s elapsed_ns=%llu",
	        act_self_name(ctx), t ? t->name : "?", sender_name(ctx),
	        (unsigned long long)elapsed_ns);
}

static void trace_event(act_ctx *ctx, const char *ev, const char *reason)
{
	act_log(ctx, ACT_LOG_INFO, "trace: actor=%s event=%s%s%s", act_self_name(ctx), ev,
	        reason ? " reason=" : "", reason ? reason : "");
}

static void trace_start(act_ctx *ctx, void *user) { (void)user; trace_event(ctx, "start", NULL); }
static void trace_restart(act_ctx *ctx, void *user, const act_start *st)
{
	(void)user;
	(void)st;
	trace_event(ctx, "restart", NULL);
}
static void trace_stop(act_ctx *ctx, void *user) { (void)user; trace_event(ctx, "stop", NULL); }
static void trace_failure(act_ctx *ctx, void *user, const char *reason)
{
	(void)user;
	trace_event(ctx, "failure", reason);
}

static const act_interceptor tracer = {
	ACT_INTERCEPTOR_INIT,
	.flags = ACT_INTERCEPTOR_TIMED,
	.name = "trace",
	.after = trace_after,
	.on_start = trace_start,
	.on_restart = trace_restart,
	.on_stop = trace_stop,
	.on_failure = trace_failure,
};

/* ---- the chain ----------------------------------------------------------------- */

static bool module_serves(const struct act_module *m, const struct act__registry *reg,
                          uint32_t self)
{
	const struct act__group_def *g = &reg->groups[self - 1];

	for (uint32_t i = 0; i < g->n_actors; i++) {
		const act_behaviour *b = reg->actors[g->actors[i]].b;
		for (size_t k = 0; b && k < m->n_b; k++)
			if (m->b[k] == b)
				return true;
	}
	return false;
}

void act__ic_activate(const struct act__registry *reg, uint32_t self, struct act__gstat *gs)
{
	const char *env = getenv("ACTORS_TRACE");
	bool trace = env && !strcmp(env, "1");

	act__ic_n = 0;
	/* Node interceptors first, then the modules', each in registration order. */
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < n_regs && pass < 2; i++) {
			const struct reg_ent *r = &regs[i];
			if (pass == 0 ? (r->is_module || r->owner != reg) :
			    (!r->is_module || !module_serves(r->owner, reg, self)))
				continue;
			if (act__ic_n == ACT__IC_MAX - 1) {
				act__err("more than %u interceptors for this group: '%s' and later "
				         "ones do not run", ACT__IC_MAX - 1, r->ic->name ? r->ic->name : "?");
				pass = 2;
				break;
			}
			act__ic_chain[act__ic_n++] = r->ic;
		}
	}
	if (self >= 1 && self <= reg->n_groups)
		for (uint32_t i = 0; i < n_traced && !trace; i++)
			trace = traced_name(traced[i], reg->groups[self - 1].name);
	if (trace)
		act__ic_chain[act__ic_n++] = &tracer;
	act__ic_timed = false;
	for (uint32_t i = 0; i < act__ic_n; i++)
		act__ic_timed |= (act__ic_chain[i]->flags & ACT_INTERCEPTOR_TIMED) != 0;
	ic_gstat = gs;
	if (gs) {
		for (uint32_t i = 0; i < act__ic_n; i++)
			snprintf(gs->ic_name[i], sizeof gs->ic_name[i], "%s",
			         act__ic_chain[i]->name ? act__ic_chain[i]->name : "?");
		atomic_store_explicit(&gs->n_ic, act__ic_n, memory_order_release);
	}
}

/* Names type tid in the region's per-type table (once). */
static void name_type(const struct act__registry *reg, uint32_t tid)
{
	if (ic_gstat && !ic_gstat->type_name[tid][0] && tid <= reg->n_types)
		snprintf(ic_gstat->type_name[tid], sizeof ic_gstat->type_name[tid], "%s",
		         reg->types[tid]->name);
}

void act__ic_drop(act_ctx *ctx, uint32_t i, const act_type *t, uint32_t tid,
                  const char *reason)
{
	act__debug("interceptor '%s' dropped a %s for '%s': %s",
	           act__ic_chain[i]->name ? act__ic_chain[i]->name : "?", t ? t->name : "?",
	           act_self_name(ctx), reason ? reason : "no reason given");
	if (!ic_gstat || tid >= ACT__TSTAT_TYPES)
		return;
	name_type(ctx->w->reg, tid);
	/* Single writer (this worker): relaxed read-modify-write, no lock. */
	act__stats_bump(&ic_gstat->ic_drops[i][tid], 1);
	act__stats_bump(&ic_gstat->types[tid].n_dropped, 1);
}

void act__ic_call(act_ctx *ctx, void *state, act_handler_fn fn, const act_type *t,
                  const void *msg, uint32_t tid)
{
	uint32_t n = act__ic_n, ran = 0;

	uint64_t t0;

	if (t == &act_start_type || t == &act_shutdown_type) {
		const act_start *st = msg;
		for (uint32_t i = 0; t == &act_start_type && i < n; i++) {
			const act_interceptor *ic = act__ic_chain[i];
			if (st->restart ? !ic->on_restart : !ic->on_start)
				continue;
			if (st->restart)
				ic->on_restart(ctx, ic->user, st);
			else
				ic->on_start(ctx, ic->user);
		}
		if (fn)
			fn(ctx, state, msg);
		return;
	}
	for (; ran < n; ran++) {
		const act_interceptor *ic = act__ic_chain[ran];
		const char *reason = NULL;
		if (ic->before && ic->before(ctx, ic->user, t, msg, &reason)) {
			act__ic_drop(ctx, ran, t, tid, reason);
			/* No handler ran, so no after() either, not even for
			 * the interceptors whose before() let it through. */
			return;
		}
	}
	/* Two clock reads cost as much as a small handler: only when asked. */
	t0 = act__ic_timed ? act__now_ns() : 0;
	fn(ctx, state, msg);
	t0 = act__ic_timed ? act__now_ns() - t0 : 0;
	for (uint32_t i = n; i-- > 0;) {
		const act_interceptor *ic = act__ic_chain[i];
		if (ic->after)
			ic->after(ctx, ic->user, t, msg, t0);
	}
}

void act__ic_stop(act_ctx *ctx)
{
	for (uint32_t i = act__ic_n; i-- > 0;)
		if (act__ic_chain[i]->on_stop)
			act__ic_chain[i]->on_stop(ctx, act__ic_chain[i]->user);
}

void act__ic_failure(act_ctx *ctx, const char *reason)
{
	for (uint32_t i = act__ic_n; i-- > 0;)
		if (act__ic_chain[i]->on_failure)
			act__ic_chain[i]->on_failure(ctx, act__ic_chain[i]->user, reason);
}

void act__tstat_timed(const struct act__registry *reg, uint32_t tid, uint64_t ns)
{
	if (!ic_gstat || tid >= ACT__TSTAT_TYPES)
		return;
	struct act__tstat *ts = &ic_gstat->types[tid];
	name_type(reg, tid);
	act__stats_bump(&ts->n_timed, 1);
	act__stats_bump(&ts->ns_sum, ns);
	act__stats_bump(&ts->hist[act__stats_bucket(ns)], 1);
}
