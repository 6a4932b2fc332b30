/* SPDX-License-Identifier: MIT */
/*
 * peers.c - watches on remote peers: the supervisor's half of
 * act_monitor() on a remote ref (see peers.h for the exact semantics).
 *
 * A watch names the watcher (group, actor id, generation), the monitor id,
 * the remote actor and its endpoint.  The gateway watches the PUSH socket
 * to that endpoint (act__gw_peer_state()); on each turn of the loop the
 * watches whose peer has been down for its peer_down_ms fire.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <actors.h>

#include "gateway.h"
#include "log.h"
#include "node.h"
#include "peers.h"
#include "remote-ask.h"
#include "remote-mon.h"

#define WATCHES_MAX 4096u

struct watch {
	uint32_t group, watcher, gen;
	uint64_t monitor_id;
	char name[256];
	char endpoint[256];
};

struct act__watches {
	struct watch *w;
	uint32_t n;
	uint64_t downs, refused;
	uint64_t dropped; /* their watcher ended first: no Down, none owed */
};

struct act__watches *act__watches_new(void)
{
	return calloc(1, sizeof(struct act__watches));
}

void act__watches_free(struct act__watches *ws)
{
	if (!ws)
		return;
	free(ws->w);
	free(ws);
}

/* Down{actor, reason} to the watcher, as a JSON envelope from the remote
 * actor at its endpoint: act_sender() in the handler is its remote ref. */
static int down(struct act_node *n, const struct watch *w, const char *reason)
{
	cJSON *o = cJSON_CreateObject();
	char actor[64], *text;
	int err;

	if (!o)
		return -ENOMEM;
	/* act_down.actor holds 63 bytes: a longer remote name is cut. */
	size_t al = strnlen(w->name, sizeof actor - 1);
	memcpy(actor, w->name, al);
	actor[al] = '\0';
	/* A cut must not leave half a UTF-8 character. */
	while (al && al == sizeof actor - 1 && ((unsigned char)actor[al - 1] & 0xC0) == 0x80)
		actor[--al] = '\0';
	if (al && ((unsigned char)actor[al - 1] & 0xC0) == 0xC0)
		actor[--al] = '\0';
	cJSON_AddStringToObject(o, "actor", actor);
	cJSON_AddStringToObject(o, "reason", reason);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!text)
		return -ENOMEM;
	/* corr: the monitor id, by which the worker knows the monitor
	 * (src/remote-mon.h); a network frame's corr is always 0. */
	err = act__gw_inject_json(n, w->group, w->watcher - 1, w->gen, 0, w->monitor_id, w->name,
	                          w->endpoint,
	                          "Down", text, strlen(text));
	free(text);
	return err;
}

void act__peers_ctrl(struct act_node *n, uint32_t group, uint32_t code, const void *payload,
                     uint32_t len)
{
	struct act__watches *ws = n->gw ? act__gw_watches(n->gw) : NULL;
	struct watch w;
	const struct act__peer_watch *pw = payload;

	if (len != sizeof *pw) {
		act__warn_every("peer watch record of %u bytes from group %u dropped", len, group);
		return;
	}
	if (code == ACT__CTRL_PEER_UNWATCH) {
		/* Monitor id 0: every watch of one watcher, which stopped. */
		for (uint32_t i = 0; ws && i < ws->n; i++) {
			struct watch *x = &ws->w[i];
			if (x->group != group)
				continue;
			if (pw->monitor_id ? x->monitor_id == pw->monitor_id :
			    x->watcher == pw->watcher && x->gen == pw->watcher_gen) {
				if (!pw->monitor_id)
					ws->dropped++;
				ws->w[i--] = ws->w[--ws->n];
				if (pw->monitor_id)
					break;
			}
		}
		return;
	}
	memset(&w, 0, sizeof w);
	w.group = group;
	w.watcher = pw->watcher;
	w.gen = pw->watcher_gen;
	w.monitor_id = pw->monitor_id;
	memcpy(w.name, pw->name, sizeof w.name - 1);
	memcpy(w.endpoint, pw->endpoint, sizeof w.endpoint - 1);
	if (!ws) {
		down(n, &w, "peer unreachable: this node has no endpoint");
		return;
	}
	uint64_t down_for_ns;
	uint32_t down_ms;
	int err = act__gw_peer_state(n->gw, w.endpoint, &down_for_ns, &down_ms);
	if (err) {
		char why[128];
		snprintf(why, sizeof why, "peer unreachable: %s", act_strerror(err));
		ws->downs++;
		down(n, &w, why);
		return;
	}
	if (down_for_ns >= (uint64_t)down_ms * 1000000u) {
		ws->downs++;
		down(n, &w, "peer unreachable"); /* gone already: at once */
		return;
	}
	if (ws->n >= WATCHES_MAX) {
		ws->refused++;
		act__warn_every("more than %u watches on remote peers: a monitor gets Down at once",
		                WATCHES_MAX);
		down(n, &w, "noproc: too many monitors");
		return;
	}
	if (!ws->w && !(ws->w = calloc(WATCHES_MAX, sizeof *ws->w))) {
		down(n, &w, "noproc: out of memory");
		return;
	}
	ws->w[ws->n++] = w;
}

void act__peers_check(struct act__gateway *gw, struct act__watches *ws)
{
	struct act_node *n = act__gw_node(gw);

	for (uint32_t i = 0; ws && i < ws->n; i++) {
		struct watch *w = &ws->w[i];
		uint64_t down_for_ns;
		uint32_t down_ms;
		int err = act__gw_peer_state(gw, w->endpoint, &down_for_ns, &down_ms);

		if (!err && down_for_ns < (uint64_t)down_ms * 1000000u)
			continue;
		/* Gone (or no socket can be had for it any more): tell, once.
		 * A full ring keeps the watch for the next turn. */
		if (down(n, w, "peer unreachable") == ACT_EFULL)
			continue;
		ws->downs++;
		ws->w[i--] = ws->w[--ws->n];
	}
}

void act__peers_drop_group(struct act__watches *ws, uint32_t group)
{
	for (uint32_t i = 0; ws && i < ws->n; i++)
		if (ws->w[i].group == group) {
			ws->dropped++;
			ws->w[i--] = ws->w[--ws->n];
		}
}

void act__peers_drop_stale(struct act__watches *ws)
{
	if (ws)
		ws->dropped++;
}

bool act__peers_watching(const struct act__watches *ws)
{
	return ws && ws->n;
}

void act__peers_status(const struct act__watches *ws, cJSON *g)
{
	if (!ws)
		return;
	cJSON_AddNumberToObject(g, "peer_watches", ws->n);
	cJSON_AddNumberToObject(g, "peer_downs", (double)ws->downs);
	cJSON_AddNumberToObject(g, "peer_watches_dropped", (double)ws->dropped);
}
