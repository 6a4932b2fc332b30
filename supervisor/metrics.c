/* SPDX-License-Identifier: MIT */
/*
 * metrics.c - the node's counters in the Prometheus/OpenMetrics text
 * exposition format, for `actorsctl metrics` (control command "metrics").
 *
 * The text is rendered from the same status object `actorsctl status
 * --json` shows, so a scrape and a status taken at the same moment agree.
 * Every family is written whole (all its samples together), as the format
 * requires; counters carry the _total suffix, label values are escaped.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actorlist.h"
#include "layout.h"
#include "metrics.h"
#include "topics.h"

static void esc(FILE *f, const char *s)
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

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static void family(FILE *f, const char *name, bool counter, const char *help)
{
	fprintf(f, "# TYPE %s %s\n# HELP %s %s\n", name, counter ? "counter" : "gauge",
	        name, help);
}

static void sample(FILE *f, const char *name, bool counter, const char *label,
                   const char *value, double v)
{
	fprintf(f, "%s%s", name, counter ? "_total" : "");
	if (label) {
		fprintf(f, "{%s=\"", label);
		esc(f, value);
		fputs("\"}", f);
	}
	fprintf(f, " %.17g\n", v);
}

/* One family with a sample per group, from the group objects' key. */
static void per_group(FILE *f, const cJSON *groups, const char *name, bool counter,
                      const char *key, const char *help)
{
	const cJSON *g;

	family(f, name, counter, help);
	cJSON_ArrayForEach(g, groups)
		sample(f, name, counter, "group", str(g, "name"), num(g, key));
}

static const struct {
	const char *name, *key;
	bool counter;
	const char *help;
} group_metrics[] = {
	{ "actors_group_handled", "handled", true, "Messages handled by the group's actors." },
	{ "actors_group_refused", "refused", true, "Sends refused by the group's rings (full or too large)." },
	{ "actors_group_redelivered", "redelivered", true, "Envelopes redelivered after a worker death." },
	{ "actors_group_dead_letters", "dead_letters", true, "Dead letters counted by the group's workers." },
	{ "actors_group_restarts", "restarts", true, "Restarts of the group's worker." },
	{ "actors_group_takeovers", "takeovers", true, "Hot-standby takeovers." },
	{ "actors_group_teardown_waits", "teardown_waits", true, "Deaths handled only after the dead worker's address space was torn down (it may have held file locks through files it mapped)." },
	{ "actors_group_policy_restarts", "policy_restarts", true, "Restarts of the group's spawned actors by their parents' policies." },
	{ "actors_group_escalations", "escalations", true, "Failures of the group's spawned actors escalated to their parents." },
	{ "actors_group_ring_depth", "ring_depth", false, "Bytes waiting in the group's inbound rings." },
	{ "actors_group_ring_hwm", "ring_hwm", false, "Highest depth of the group's inbound rings seen (one ring's own mark, or all of them when status looked), in bytes; never below ring_depth." },
	{ "actors_group_ring_capacity_bytes", "ring_capacity", false, "Capacity of each inbound ring." },
};

/* Gateway fields that are levels, not counts. */
static bool gw_gauge(const char *key)
{
	return !strcmp(key, "strangers") || !strcmp(key, "reply_routes");
}

static void gateway(FILE *f, const cJSON *gw)
{
	const cJSON *v, *peers = cJSON_GetObjectItemCaseSensitive(gw, "peers");
	char name[128];

	cJSON_ArrayForEach(v, gw) {
		if (!cJSON_IsNumber(v) || !strcmp(v->string, "malformed_total"))
			continue;
		bool counter = !gw_gauge(v->string);
		size_t kl = strlen(v->string);
		/* "queued_total" is a counter named queued: the suffix is added back. */
		if (kl > 6 && !strcmp(v->string + kl - 6, "_total"))
			kl -= 6;
		snprintf(name, sizeof name, "actors_gateway_%.*s", (int)kl, v->string);
		family(f, name, counter, "Gateway counter (see actorsctl(1), GATEWAY).");
		sample(f, name, counter, NULL, NULL, v->valuedouble);
	}
	family(f, "actors_gateway_malformed", true, "Malformed frames received, by class.");
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(gw, "malformed"))
		sample(f, "actors_gateway_malformed", true, "class", v->string, v->valuedouble);
	static const struct { const char *key; bool counter; } pm[] = {
		{ "sent", true }, { "refused", true }, { "queued", false }, { "connected", false },
		{ "stalled", false }, { "dropped_stalled", true },
	};
	for (size_t i = 0; i < sizeof pm / sizeof pm[0]; i++) {
		const cJSON *p;
		snprintf(name, sizeof name, "actors_gateway_peer_%s", pm[i].key);
		family(f, name, pm[i].counter, "Per-peer gateway figure.");
		cJSON_ArrayForEach(p, peers) {
			const cJSON *x = cJSON_GetObjectItemCaseSensitive(p, pm[i].key);
			sample(f, name, pm[i].counter, "endpoint", str(p, "endpoint"),
			       cJSON_IsNumber(x) ? x->valuedouble : cJSON_IsTrue(x) ? 1 : 0);
		}
	}
}

/* {group="g",actor="a"} - the labels of a per-actor sample, no braces. */
static void actor_labels(FILE *f, const cJSON *a)
{
	fputs("group=\"", f);
	esc(f, str(a, "group"));
	fputs("\",actor=\"", f);
	esc(f, str(a, "name"));
	fputc('"', f);
}

static const struct {
	const char *name, *key;
	bool counter;
	const char *help;
} actor_metrics[] = {
	{ "actors_actor_handled", "handled", true, "Envelopes delivered to the actor (dropped ones included)." },
	{ "actors_actor_refused", "refused", true, "Sends to the actor refused because its group's ring was full." },
	{ "actors_actor_keyless", "keyless", true, "Sends to the actor (of a key_hash pool) without a usable key, routed to member 0." },
	{ "actors_actor_redelivered", "redelivered", true, "Envelopes to the actor redelivered after a worker death." },
	{ "actors_actor_dead_letters", "dead_letters", true, "Envelopes to the actor that became dead letters." },
	{ "actors_actor_restarts", "restarts", true, "Restarts of the actor (with its group's worker)." },
	{ "actors_actor_policy_restarts", "policy_restarts", true, "Restarts of the actor by its parent's policy." },
	{ "actors_actor_escalations", "escalations", true, "Failures of the actor escalated to its parent." },
	{ "actors_actor_mailbox_envelopes", "mailbox", false, "Envelopes in its group's rings not yet handled by the actor (the one in its handler included)." },
};

/* Bucket counts (not cumulative) of histogram `key` of a per-actor object. */
static void hist_of(const cJSON *a, const char *key, double *b)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(a, key), *v;
	unsigned i = 0;

	memset(b, 0, ACT__STATS_BUCKETS * sizeof *b);
	cJSON_ArrayForEach(v, h)
		if (i < ACT__STATS_BUCKETS && cJSON_IsNumber(v))
			b[i++] = v->valuedouble;
}

/*
 * One histogram's samples (buckets, count, sum) from bucket counts (not
 * cumulative) and a sum in ns.  a: an actor (labels group and actor), or
 * NULL for group g (label group).  _count is the sum of the buckets read,
 * so the set is always consistent.
 */
static void hist_samples(FILE *f, const char *name, const cJSON *a, const char *g,
                         const double *b, double sum_ns)
{
	double cum = 0;

	for (unsigned i = 0; i <= ACT__STATS_BUCKETS; i++) {
		fprintf(f, "%s_%s{", name, i < ACT__STATS_BUCKETS ? "bucket" : "count");
		if (a) {
			actor_labels(f, a);
		} else {
			fputs("group=\"", f);
			esc(f, g);
			fputc('"', f);
		}
		if (i == ACT__STATS_BUCKETS) {
			fprintf(f, "} %.17g\n", cum);
			break;
		}
		unsigned long long bound = act__actorlist_bound_ns(i);
		cum += b[i];
		if (bound)
			fprintf(f, ",le=\"%.9g\"} %.17g\n", bound / 1e9, cum);
		else
			fprintf(f, ",le=\"+Inf\"} %.17g\n", cum);
	}
	fprintf(f, "%s_sum{", name);
	if (a) {
		actor_labels(f, a);
	} else {
		fputs("group=\"", f);
		esc(f, g);
		fputc('"', f);
	}
	fprintf(f, "} %.17g\n", sum_ns / 1e9);
}

static const struct {
	const char *actor_name, *group_name, *key, *sum_key, *help;
} histograms[] = {
	{ "actors_actor_handling_seconds", "actors_group_handling_seconds", "handling_hist",
	  "handling_ns_sum", "Time in the handler per envelope (log2 buckets)." },
	{ "actors_actor_mailbox_seconds", "actors_group_mailbox_seconds", "mailbox_hist",
	  "mailbox_ns_sum", "Time from an envelope's send to the start of its handler (log2 buckets)." },
};

/* Per-actor families, and the histograms per actor and per group (the
 * sum of its actors' buckets). */
static void per_actor(FILE *f, const cJSON *groups, const cJSON *actors)
{
	const cJSON *a, *g;
	double b[ACT__STATS_BUCKETS], gb[ACT__STATS_BUCKETS];

	for (size_t i = 0; i < sizeof actor_metrics / sizeof actor_metrics[0]; i++) {
		family(f, actor_metrics[i].name, actor_metrics[i].counter, actor_metrics[i].help);
		cJSON_ArrayForEach(a, actors) {
			fprintf(f, "%s%s{", actor_metrics[i].name, actor_metrics[i].counter ? "_total" : "");
			actor_labels(f, a);
			fprintf(f, "} %.17g\n", num(a, actor_metrics[i].key));
		}
	}
	for (size_t h = 0; h < sizeof histograms / sizeof histograms[0]; h++) {
		fprintf(f, "# TYPE %s histogram\n# HELP %s %s\n", histograms[h].actor_name,
		        histograms[h].actor_name, histograms[h].help);
		cJSON_ArrayForEach(a, actors) {
			hist_of(a, histograms[h].key, b);
			hist_samples(f, histograms[h].actor_name, a, NULL, b,
			             num(a, histograms[h].sum_key));
		}
		fprintf(f, "# TYPE %s histogram\n# HELP %s %s All the group's actors.\n",
		        histograms[h].group_name, histograms[h].group_name, histograms[h].help);
		cJSON_ArrayForEach(g, groups) {
			const char *gname = str(g, "name");
			double sum = 0;
			memset(gb, 0, sizeof gb);
			cJSON_ArrayForEach(a, actors) {
				if (strcmp(str(a, "group"), gname))
					continue;
				hist_of(a, histograms[h].key, b);
				for (unsigned i = 0; i < ACT__STATS_BUCKETS; i++)
					gb[i] += b[i];
				sum += num(a, histograms[h].sum_key);
			}
			hist_samples(f, histograms[h].group_name, NULL, gname, gb, sum);
		}
	}
}

/* The HTTP endpoint's own counters (httpd.c). */
static void metrics_http(FILE *f, const cJSON *mh)
{
	const cJSON *v;

	family(f, "actors_metrics_http_answers", true, "Answers of the metrics endpoint, by HTTP status.");
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(mh, "answers"))
		sample(f, "actors_metrics_http_answers", true, "code", v->string, v->valuedouble);
	family(f, "actors_metrics_http_connections", true, "Connections accepted by the metrics endpoint.");
	sample(f, "actors_metrics_http_connections", true, NULL, NULL, num(mh, "connections"));
	family(f, "actors_metrics_http_evicted", true,
	       "Connections dropped to make room, still without a request (connection cap).");
	sample(f, "actors_metrics_http_evicted", true, NULL, NULL, num(mh, "evicted"));
	family(f, "actors_metrics_http_bad_requests", true,
	       "Requests answered 400, 405, 408 or 431.");
	sample(f, "actors_metrics_http_bad_requests", true, NULL, NULL, num(mh, "bad_requests"));
}

char *act__metrics_render(const cJSON *st)
{
	const cJSON *groups = cJSON_GetObjectItemCaseSensitive(st, "groups"), *g;
	const cJSON *gw = cJSON_GetObjectItemCaseSensitive(st, "gateway");
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	family(f, "actors_node_uptime_seconds", false, "Seconds since the node started.");
	sample(f, "actors_node_uptime_seconds", false, NULL, NULL, num(st, "uptime_ms") / 1000.0);
	family(f, "actors_node_restarts", true, "Worker restarts of every group.");
	sample(f, "actors_node_restarts", true, NULL, NULL, num(st, "restarts"));
	family(f, "actors_node_dead_letters", true,
	       "Dead letters the supervisor recorded in this run (status: dead_letters).");
	sample(f, "actors_node_dead_letters", true, NULL, NULL, num(st, "dead_letters"));
	family(f, "actors_dead_letters_stored", false,
	       "Dead letters kept in the state directory's store (they outlive runs).");
	sample(f, "actors_dead_letters_stored", false, NULL, NULL, num(st, "dead_letters_stored"));
	family(f, "actors_group_up", false, "1 if the group's worker said READY, else 0.");
	cJSON_ArrayForEach(g, groups)
		sample(f, "actors_group_up", false, "group", str(g, "name"),
		       !strcmp(str(g, "state"), "ready"));
	for (size_t i = 0; i < sizeof group_metrics / sizeof group_metrics[0]; i++)
		per_group(f, groups, group_metrics[i].name, group_metrics[i].counter,
		          group_metrics[i].key, group_metrics[i].help);
	const cJSON *actors = cJSON_GetObjectItemCaseSensitive(st, "actors");
	if (cJSON_IsArray(actors))
		per_actor(f, groups, actors);
	if (cJSON_IsObject(gw))
		gateway(f, gw);
	const cJSON *mh = cJSON_GetObjectItemCaseSensitive(st, "metrics_http");
	if (cJSON_IsObject(mh))
		metrics_http(f, mh);
	act__topics_metrics(f, st); /* topics and interceptor drops (topics.c) */
	fputs("# EOF\n", f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
