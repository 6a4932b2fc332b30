/* SPDX-License-Identifier: MIT */
/*
 * poolsup.c - the supervisor's side of pools: which member an envelope
 * from a client or a peer goes to, the rolling restart of a pool, and the
 * pools in status.  The member choice itself is src/pool.c's, the same
 * code the workers run.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <actors.h>

#include "control.h"
#include "group.h"
#include "log.h"
#include "node.h"
#include "pool.h"
#include "poolsup.h"
#include "route.h"
#include "stats.h"

void act__node_pool_pick(struct act_node *n, struct act__target *t, const char *json,
                         size_t len)
{
	if (t->spawned || !t->group || t->group > n->reg.n_groups)
		return;
	const struct act__group_def *pd = &n->reg.groups[t->group - 1];
	if (!pd->pool_first)
		return;
	uint64_t h = 0;
	bool has_key = pd->pool_routing == ACT_POOL_KEY_HASH && json &&
	               act__pool_key_hash_json(json, len, pd->pool_key, &h);
	if (act__pool_is_keyless(pd, 0, 0, has_key))
		act__pool_keyless(&n->shm, pd, t->id, NULL);
	t->group = act__pool_choose(pd, &n->shm, n->out, ACT__SUPERVISOR, 0, 0, has_key, h);
}

/* ---- rolling restart ---------------------------------------------------------- */

static void rolling_end(struct act_node *n, bool ok, const char *why)
{
	struct act__rolling *r = &n->rolling;
	const char *pool = n->reg.groups[r->first].pool_name;

	r->active = false;
	if (ok)
		act__info("pool '%s': rolling restart done (%u members)", pool, r->n);
	else
		act__warn("pool '%s': rolling restart stopped at member %u: %s", pool, r->next, why);
	if (r->waiter)
		act__ctl_group_ready(n->ctl, r->waiter, ok, why);
	r->waiter = NULL;
}

/* Restarts the member the rolling restart is at. */
static void rolling_step(struct act_node *n)
{
	struct act__rolling *r = &n->rolling;
	int err = act__node_restart_group(n, r->first + r->next, NULL);
	if (err) {
		char why[128];
		snprintf(why, sizeof why, "cannot restart member %u: %s", r->next, act_strerror(err));
		rolling_end(n, false, why);
	}
}

int act__node_restart_pool(struct act_node *n, uint32_t gi0, struct act__ctl_conn *waiter)
{
	const struct act__group_def *pd = &n->reg.groups[gi0];

	if (n->stopping)
		return ACT_ESTOPPED;
	if (n->rolling.active)
		return -EBUSY;
	for (uint32_t k = 0; k < pd->pool_n; k++)
		if (n->gs[gi0 + k].waiter)
			return -EBUSY;
	n->rolling = (struct act__rolling){ true, gi0, pd->pool_n, 0, waiter };
	act__info("pool '%s': rolling restart of %u members requested by the operator",
	          pd->pool_name, pd->pool_n);
	rolling_step(n);
	return 0;
}

void act__pool_rolling_event(struct act_node *n, uint32_t gi, bool ok, const char *why)
{
	struct act__rolling *r = &n->rolling;

	if (!r->active || gi != r->first + r->next)
		return;
	if (!ok) {
		rolling_end(n, false, why ? why : "the member stopped");
		return;
	}
	if (++r->next == r->n)
		rolling_end(n, true, NULL);
	else
		rolling_step(n);
}

void act__pool_forget_waiter(struct act_node *n, const struct act__ctl_conn *c)
{
	if (n->rolling.waiter == c)
		n->rolling.waiter = NULL;
}

/* ---- status ------------------------------------------------------------------- */

void act__pool_status_group(const struct act_node *n, uint32_t gi, cJSON *o)
{
	const struct act__group_def *gd = &n->reg.groups[gi];
	if (gd->pool_first) {
		cJSON_AddStringToObject(o, "pool", gd->pool_name);
		cJSON_AddNumberToObject(o, "member", gd->pool_member);
	} else {
		cJSON_AddNullToObject(o, "pool");
		cJSON_AddNullToObject(o, "member");
	}
}

void act__pool_status(const struct act_node *n, cJSON *a)
{
	cJSON *pools = cJSON_AddArrayToObject(a, "pools");

	for (uint32_t gi = 0; pools && gi < n->reg.n_groups; gi++) {
		const struct act__group_def *pd = &n->reg.groups[gi];
		if (!pd->pool_first || pd->pool_member != 0)
			continue;
		cJSON *o = cJSON_CreateObject();
		uint32_t ready = 0, restarts = 0;
		uint64_t depth = 0;
		for (uint32_t k = 0; k < pd->pool_n; k++) {
			uint32_t m = gi + k;
			ready += n->gs[m].state == ACT__G_READY;
			restarts += n->gs[m].n_restarts;
			for (uint32_t s = 0; s < n->reg.n_groups + 1; s++) {
				struct act__ring *r = act__node_ring(n, s, m + 1);
				if (r)
					depth += act__ring_depth(r);
			}
		}
		cJSON_AddStringToObject(o, "name", pd->pool_name);
		cJSON_AddStringToObject(o, "routing", act__pool_routing_names[pd->pool_routing]);
		if (pd->pool_key)
			cJSON_AddStringToObject(o, "key", pd->pool_key);
		else
			cJSON_AddNullToObject(o, "key");
		cJSON_AddNumberToObject(o, "members", pd->pool_n);
		cJSON_AddNumberToObject(o, "ready", ready);
		cJSON_AddNumberToObject(o, "restarts", restarts);
		cJSON_AddNumberToObject(o, "ring_depth", (double)depth);
		/* Keyless sends to the pool's actors (they name member 0 as their group). */
		uint64_t keyless = 0;
		for (uint32_t id = 0; id < n->reg.n_actors; id++) {
			const struct act__astat *e = n->reg.actors[id].group == gi + 1 ?
			                             act__stats_entry(&n->shm.stats, id) : NULL;
			if (e)
				keyless += atomic_load_explicit(&e->n_keyless, memory_order_relaxed);
		}
		cJSON_AddNumberToObject(o, "keyless", (double)keyless);
		cJSON_AddBoolToObject(o, "rolling_restart",
		                      n->rolling.active && n->rolling.first == gi);
		cJSON_AddItemToArray(pools, o);
	}
}
