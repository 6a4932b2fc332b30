/* SPDX-License-Identifier: MIT */
/*
 * topics.c - the supervisor's side of topics and interceptors: node-level
 * registration (act_node_add_interceptor, act_node_set_topic_remote),
 * publishing a frame from the network to a remote topic's members (the
 * gateway's receiver "topic:NAME"), and the figures of the topic table
 * and of the per-type table (layout.h, struct act__xarea) that
 * `actorsctl status` shows.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <actors.h>

#include "doorbell.h"
#include "envelope.h"
#include "intercept.h"
#include "node.h"
#include "topic.h"
#include "route.h"
#include "topics.h"

#define MAX_REMOTE_TOPICS ACT__TOPICS_MAX

/* Remote topics, per node (process memory: the supervisor reads them). */
static struct { const struct act_node *n; char name[ACT__TOPIC_NAME_MAX + 1]; }
	remote_topics[MAX_REMOTE_TOPICS];
static uint32_t n_remote_topics;

ACT_API int act_node_add_interceptor(act_node_t *node, const act_interceptor *ic)
{
	if (!node)
		return -EINVAL;
	if (node->reg.frozen)
		return -EBUSY;
	return act__ic_add(&node->reg, false, ic);
}

ACT_API int act_node_set_topic_remote(act_node_t *node, const char *topic, bool remote)
{
	uint32_t i;

	if (!node || !act__topic_name_ok(topic))
		return -EINVAL;
	for (i = 0; i < n_remote_topics; i++)
		if (remote_topics[i].n == node && !strcmp(remote_topics[i].name, topic))
			break;
	if (!remote) {
		if (i < n_remote_topics)
			remote_topics[i] = remote_topics[--n_remote_topics];
		return 0;
	}
	if (i < n_remote_topics)
		return 0;
	if (n_remote_topics == MAX_REMOTE_TOPICS)
		return -ENOSPC;
	remote_topics[n_remote_topics].n = node;
	snprintf(remote_topics[n_remote_topics].name, sizeof remote_topics[0].name, "%s", topic);
	n_remote_topics++;
	return 0;
}

void act__topics_forget(struct act_node *n)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < n_remote_topics; i++)
		if (remote_topics[i].n != n)
			remote_topics[k++] = remote_topics[i];
	n_remote_topics = k;
	act__ic_forget(&n->reg);
}

bool act__node_topic_remote(const struct act_node *n, const char *topic)
{
	for (uint32_t i = 0; i < n_remote_topics; i++)
		if (remote_topics[i].n == n && !strcmp(remote_topics[i].name, topic))
			return true;
	return false;
}

int act__node_publish_json(struct act_node *n, const char *topic, const char *type,
                           const char *json, size_t json_len, const char *sender,
                           const char *endpoint, uint32_t *reached, uint32_t *refused)
{
	uint64_t rang[ACT__READY_WORDS] = { 0 };
	struct act__topic *tp;
	int err = 0;

	*reached = *refused = 0;
	if (!act__topic_name_ok(topic) || !act__node_topic_remote(n, topic) || !n->shm.xa)
		return -ENOENT;
	if (!act__name_ok(type) || strlen(type) > ACT__REMOTE_NAME_MAX ||
	    (sender && strlen(sender) > ACT__REMOTE_NAME_MAX) ||
	    (endpoint && strlen(endpoint) > ACT__ENDPOINT_MAX))
		return -EINVAL;
	size_t len = act__jenv_size(sender ? strlen(sender) : 0, endpoint ? strlen(endpoint) : 0,
	                            strlen(type), json_len);
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	/* A remote topic nobody joined yet gets its entry now, so that the
	 * publication is counted (published, 0 delivered) and shows in
	 * status, rather than vanishing.  A full table: counted nowhere but
	 * here, as refused by every member (none). */
	if (!(tp = act__topic_get(n->shm.xa, topic, true, ACT__SUPERVISOR, &err)))
		return 0;
	uint32_t hi = atomic_load_explicit(&tp->n_hi, memory_order_acquire);
	for (uint32_t i = 0; i < hi; i++) {
		uint64_t v = atomic_load_explicit(&tp->members[i], memory_order_acquire);
		if (!v)
			continue;
		if (act__topic_member_gone(&n->shm, n->reg.n_actors, v)) {
			atomic_compare_exchange_strong(&tp->members[i], &v, 0);
			continue;
		}
		uint32_t id = (uint32_t)(v >> 32) - 1, gen = (uint32_t)v;
		uint32_t g = id < n->reg.n_actors ? n->reg.actors[id].group :
		             act__dyn_group_of(&n->shm, id);
		struct act__env *e = g ? act__node_out_reserve(n, g, (uint32_t)len, &err) : NULL;
		if (!e) {
			(*refused)++;
			continue;
		}
		act__jenv_write(e, &(struct act__route){ .to = id, .to_gen = gen,
		                                         .from_peer = ACT__PEER_REMOTE },
		                sender, endpoint, type, json, json_len);
		act__ring_commit(&n->out[g], e);
		rang[g / 64u] |= 1ull << (g % 64u);
		(*reached)++;
	}
	/* One doorbell per group, not per member. */
	for (uint32_t g = 1; g < n->reg.n_groups + 1; g++)
		if (rang[g / 64u] & (1ull << (g % 64u)))
			act__doorbell_notify(act__shm_part(&n->shm, g), ACT__SUPERVISOR, n->efd[g]);
	atomic_fetch_add_explicit(&tp->n_published, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&tp->n_delivered, *reached, memory_order_relaxed);
	atomic_fetch_add_explicit(&tp->n_refused, *refused, memory_order_relaxed);
	return 0;
}

/* ---- status -------------------------------------------------------------------- */

/* Upper bound (ns) of the bucket holding quantile q of hist, or -1 (+Inf). */
static double quantile_le(const uint64_t *hist, uint64_t total, double q)
{
	uint64_t want = (uint64_t)(q * (double)total + 0.999999), run = 0;

	for (uint32_t b = 0; b < ACT__STATS_BUCKETS; b++) {
		run += hist[b];
		if (run >= want && run)
			return b == ACT__STATS_BUCKETS - 1 ? -1 : (double)(1ull << (ACT__STATS_B0_SHIFT + b));
	}
	return -1;
}

void act__topics_status(struct act_node *n, cJSON *a)
{
	struct act__xarea *xa = n->shm.xa;
	cJSON *topics, *types, *ics;

	if (!xa)
		return;
	topics = cJSON_AddArrayToObject(a, "topics");
	for (uint32_t k = 0; topics && k < ACT__TOPICS_MAX; k++) {
		struct act__topic *tp = act__xa_topic(xa, k);
		if (atomic_load_explicit(&tp->state, memory_order_acquire) != ACT__TOPIC_LIVE)
			continue;
		char name[ACT__TOPIC_NAME_MAX + 1];
		memcpy(name, tp->name, sizeof name);
		name[ACT__TOPIC_NAME_MAX] = '\0';
		uint32_t members = 0, hi = atomic_load_explicit(&tp->n_hi, memory_order_acquire);
		for (uint32_t i = 0; i < hi && i < ACT__TOPIC_MEMBERS; i++) {
			uint64_t v = atomic_load_explicit(&tp->members[i], memory_order_relaxed);
			if (v && !act__topic_member_gone(&n->shm, n->reg.n_actors, v))
				members++;
		}
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
		cJSON_AddStringToObject(o, "name", name);
		cJSON_AddBoolToObject(o, "remote", act__node_topic_remote(n, name));
		cJSON_AddNumberToObject(o, "members", members);
		cJSON_AddNumberToObject(o, "published", (double)atomic_load(&tp->n_published));
		cJSON_AddNumberToObject(o, "delivered", (double)atomic_load(&tp->n_delivered));
		cJSON_AddNumberToObject(o, "refused", (double)atomic_load(&tp->n_refused));
		cJSON_AddNumberToObject(o, "joins", (double)atomic_load(&tp->n_joins));
		cJSON_AddNumberToObject(o, "leaves", (double)atomic_load(&tp->n_leaves));
		cJSON_AddItemToArray(topics, o);
	}
	types = cJSON_AddArrayToObject(a, "types");
	ics = cJSON_AddObjectToObject(a, "interceptors");
	for (uint32_t g = 1; types && ics && g <= n->reg.n_groups; g++) {
		struct act__gstat *gs = act__xa_gstat(xa, g);
		if (!gs)
			break;
		uint32_t n_ic = atomic_load_explicit(&gs->n_ic, memory_order_acquire);
		if (n_ic > ACT__IC_MAX)
			n_ic = ACT__IC_MAX;
		char icn[ACT__IC_MAX][ACT__IC_NAME_MAX + 1];
		cJSON *list = cJSON_AddArrayToObject(ics, n->reg.groups[g - 1].name);
		for (uint32_t i = 0; i < n_ic; i++) {
			memcpy(icn[i], gs->ic_name[i], sizeof icn[i]);
			icn[i][ACT__IC_NAME_MAX] = '\0';
			if (list)
				cJSON_AddItemToArray(list, cJSON_CreateString(icn[i]));
		}
		for (uint32_t tid = 1; tid < ACT__TSTAT_TYPES; tid++) {
			struct act__tstat *ts = &gs->types[tid];
			uint64_t timed = atomic_load_explicit(&ts->n_timed, memory_order_relaxed);
			uint64_t dropped = atomic_load_explicit(&ts->n_dropped, memory_order_relaxed);
			if (!timed && !dropped)
				continue;
			char tname[ACT_NAME_MAX + 1];
			memcpy(tname, gs->type_name[tid], sizeof tname);
			tname[ACT_NAME_MAX] = '\0';
			uint64_t hist[ACT__STATS_BUCKETS], total = 0;
			for (uint32_t b = 0; b < ACT__STATS_BUCKETS; b++)
				total += hist[b] = atomic_load_explicit(&ts->hist[b], memory_order_relaxed);
			cJSON *o = cJSON_CreateObject();
			if (!o)
				break;
			cJSON_AddStringToObject(o, "group", n->reg.groups[g - 1].name);
			cJSON_AddStringToObject(o, "type", tname[0] ? tname : "?");
			cJSON_AddNumberToObject(o, "timed", (double)timed);
			cJSON_AddNumberToObject(o, "mean_ns", timed ?
			    (double)atomic_load_explicit(&ts->ns_sum, memory_order_relaxed) / (double)timed : 0);
			/* Upper bounds of the buckets: -1 means +Inf; null: nothing timed. */
			if (total) {
				cJSON_AddNumberToObject(o, "p50_le_ns", quantile_le(hist, total, 0.5));
				cJSON_AddNumberToObject(o, "p99_le_ns", quantile_le(hist, total, 0.99));
			} else {
				cJSON_AddNullToObject(o, "p50_le_ns");
				cJSON_AddNullToObject(o, "p99_le_ns");
			}
			cJSON *h = cJSON_AddArrayToObject(o, "hist");
			for (uint32_t b = 0; h && b < ACT__STATS_BUCKETS; b++)
				cJSON_AddItemToArray(h, cJSON_CreateNumber((double)hist[b]));
			cJSON_AddNumberToObject(o, "dropped", (double)dropped);
			cJSON *d = cJSON_AddObjectToObject(o, "dropped_by");
			for (uint32_t i = 0; d && i < n_ic; i++) {
				uint64_t c = atomic_load_explicit(&gs->ic_drops[i][tid], memory_order_relaxed);
				if (c)
					cJSON_AddNumberToObject(d, icn[i], (double)c);
			}
			cJSON_AddItemToArray(types, o);
		}
	}
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : "?";
}

static void fmt_ns(const cJSON *v, char *buf, size_t cap)
{
	double ns = cJSON_IsNumber(v) ? v->valuedouble : 0;

	if (!cJSON_IsNumber(v))
		snprintf(buf, cap, "-");
	else if (ns < 0)
		snprintf(buf, cap, "inf");
	else if (ns < 10000)
		snprintf(buf, cap, "%.0fns", ns);
	else if (ns < 10000000)
		snprintf(buf, cap, "%.1fus", ns / 1e3);
	else
		snprintf(buf, cap, "%.1fms", ns / 1e6);
}

void act__topics_print(const cJSON *a, FILE *out)
{
	const cJSON *topics = cJSON_GetObjectItemCaseSensitive(a, "topics");
	const cJSON *types = cJSON_GetObjectItemCaseSensitive(a, "types");
	const cJSON *ics = cJSON_GetObjectItemCaseSensitive(a, "interceptors");
	const cJSON *o;

	if (cJSON_IsArray(topics) && cJSON_GetArraySize(topics) > 0) {
		fprintf(out, "topics:\n");
		cJSON_ArrayForEach(o, topics)
			fprintf(out, "  %-24s members %-5.0f published %-8.0f delivered %-9.0f refused %.0f%s\n",
			        str(o, "name"), num(o, "members"), num(o, "published"),
			        num(o, "delivered"), num(o, "refused"),
			        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "remote")) ? "  (remote)" : "");
	}
	if (cJSON_IsObject(ics)) {
		bool any = false;
		cJSON_ArrayForEach(o, ics) {
			if (!cJSON_IsArray(o) || !cJSON_GetArraySize(o))
				continue;
			if (!any)
				fprintf(out, "interceptors:\n");
			any = true;
			fprintf(out, "  %-24s", o->string ? o->string : "?");
			const cJSON *n;
			bool first = true;
			cJSON_ArrayForEach(n, o) {
				fprintf(out, "%s%s", first ? " " : ", ", cJSON_IsString(n) ? n->valuestring : "?");
				first = false;
			}
			fprintf(out, "\n");
		}
	}
	if (cJSON_IsArray(types) && cJSON_GetArraySize(types) > 0) {
		fprintf(out, "handling time by type (sampled envelopes):\n");
		cJSON_ArrayForEach(o, types) {
			char mean[24], p50[24], p99[24], what[2 * ACT_NAME_MAX + 4];
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "timed");
			bool timed = cJSON_IsNumber(t) && t->valuedouble > 0;
			fmt_ns(timed ? cJSON_GetObjectItemCaseSensitive(o, "mean_ns") : NULL, mean, sizeof mean);
			fmt_ns(cJSON_GetObjectItemCaseSensitive(o, "p50_le_ns"), p50, sizeof p50);
			fmt_ns(cJSON_GetObjectItemCaseSensitive(o, "p99_le_ns"), p99, sizeof p99);
			snprintf(what, sizeof what, "%s/%s", str(o, "group"), str(o, "type"));
			fprintf(out, "  %-32s timed %-8.0f mean %-8s p50<=%-8s p99<=%-8s dropped %.0f\n",
			        what, num(o, "timed"), mean, p50, p99, num(o, "dropped"));
		}
	}
}

/* ---- metrics --------------------------------------------------------------------- */

static void esc_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

void act__topics_metrics(FILE *f, const cJSON *a)
{
	static const struct { const char *name, *key, *help; bool counter; } fams[] = {
		{ "actors_topic_members", "members", "Members of the topic.", false },
		{ "actors_topic_published", "published", "Publications to the topic.", true },
		{ "actors_topic_delivered", "delivered", "Envelopes put into members' rings.", true },
		{ "actors_topic_refused", "refused",
		  "Members that missed a publication (their ring was full).", true },
	};
	const cJSON *topics = cJSON_GetObjectItemCaseSensitive(a, "topics");
	const cJSON *types = cJSON_GetObjectItemCaseSensitive(a, "types");
	const cJSON *o, *d;

	if (cJSON_IsArray(topics) && cJSON_GetArraySize(topics) > 0) {
		for (size_t k = 0; k < sizeof fams / sizeof *fams; k++) {
			fprintf(f, "# TYPE %s %s\n# HELP %s %s\n", fams[k].name,
			        fams[k].counter ? "counter" : "gauge", fams[k].name, fams[k].help);
			cJSON_ArrayForEach(o, topics) {
				fprintf(f, "%s%s{topic=\"", fams[k].name, fams[k].counter ? "_total" : "");
				esc_label(f, str(o, "name"));
				fprintf(f, "\"} %.17g\n", num(o, fams[k].key));
			}
		}
	}
	if (!cJSON_IsArray(types))
		return;
	bool head = false;
	cJSON_ArrayForEach(o, types) {
		cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(o, "dropped_by")) {
			if (!cJSON_IsNumber(d) || !d->string)
				continue;
			if (!head)
				fputs("# TYPE actors_interceptor_dropped counter\n"
				      "# HELP actors_interceptor_dropped Messages an interceptor dropped "
				      "(not dead letters).\n", f);
			head = true;
			fputs("actors_interceptor_dropped_total{group=\"", f);
			esc_label(f, str(o, "group"));
			fputs("\",interceptor=\"", f);
			esc_label(f, d->string);
			fputs("\",type=\"", f);
			esc_label(f, str(o, "type"));
			fprintf(f, "\"} %.17g\n", d->valuedouble);
		}
	}
}
