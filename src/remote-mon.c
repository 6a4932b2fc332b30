/* SPDX-License-Identifier: MIT */
/*
 * remote-mon.c - the worker's half of monitors on remote refs: it hands
 * the watch to the supervisor, whose gateway sees the peer's socket
 * (supervisor/peers.c).  Nothing is kept here: the Down comes as an
 * ordinary envelope from the remote actor.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <actors.h>

#include "grow.h"
#include "log.h"
#include "worker-int.h"
#include "remote-mon.h"

/* Fills a PEER_WATCH record for note x. */
static void watch_rec(const struct worker *w, const struct act__pwatch *x,
                      struct act__peer_watch *pw)
{
	const struct remote *r = &w->remotes[x->remote];

	memset(pw, 0, sizeof *pw);
	pw->watcher = w->actors[x->slot].id + 1;
	pw->watcher_gen = x->gen;
	pw->monitor_id = x->monitor_id;
	snprintf(pw->name, sizeof pw->name, "%s", r->name);
	snprintf(pw->endpoint, sizeof pw->endpoint, "%s", r->endpoint);
}

int act__peer_monitor(struct worker *w, struct actor *me, act_ref who,
                      uint64_t *monitor_id)
{
	struct act__peer_watch pw;
	int err;

	if (who.peer > w->n_remotes)
		return -ENOENT;
	if (w->tk) /* a testkit runs one group, without a supervisor */
		return -EOPNOTSUPP;
	if (act__grow((void **)&w->pw, &w->cap_pw, w->n_pw + 1, sizeof *w->pw))
		return -ENOMEM;
	struct act__pwatch *x = &w->pw[w->n_pw];
	x->monitor_id = act__mid_make(w->self, ++w->mon_seq, ACT__PEER_MON_LOW);
	x->slot = (uint32_t)(me - w->actors);
	x->gen = me->gen;
	x->remote = who.peer - 1;
	watch_rec(w, x, &pw);
	if ((err = act__w_send_ctrl(w, ACT__CTRL_PEER_WATCH, &pw, sizeof pw)))
		return err;
	w->n_pw++;
	*monitor_id = x->monitor_id;
	return 0;
}

static struct act__pwatch *find(struct worker *w, uint64_t monitor_id)
{
	for (uint32_t i = 0; i < w->n_pw; i++)
		if (w->pw[i].monitor_id == monitor_id)
			return &w->pw[i];
	return NULL;
}

/* Order does not matter: the last note takes the place of x. */
static void forget(struct worker *w, struct act__pwatch *x)
{
	*x = w->pw[--w->n_pw];
}

int act__peer_demonitor(struct worker *w, uint64_t monitor_id)
{
	struct act__pwatch *x = find(w, monitor_id);
	struct act__peer_watch pw;
	int err;

	if (!x)
		return -ENOENT;
	memset(&pw, 0, sizeof pw);
	pw.monitor_id = monitor_id;
	if ((err = act__w_send_ctrl(w, ACT__CTRL_PEER_UNWATCH, &pw, sizeof pw)))
		return err;
	forget(w, x);
	return 0;
}

bool act__peer_down_arrived(struct worker *w, const struct actor *a, uint64_t monitor_id)
{
	struct act__pwatch *x = find(w, monitor_id);

	if (!x || x->slot != (uint32_t)(a - w->actors) || x->gen != a->gen)
		return false;
	forget(w, x);
	return true;
}

void act__peer_unwatch_all(struct worker *w, struct actor *a)
{
	uint32_t slot = (uint32_t)(a - w->actors), n = 0;
	struct act__peer_watch pw;

	for (uint32_t i = 0; i < w->n_pw; i++)
		if (w->pw[i].slot == slot) {
			forget(w, &w->pw[i--]);
			n++;
		}
	if (!n)
		return;
	memset(&pw, 0, sizeof pw);
	pw.watcher = a->id + 1;
	pw.watcher_gen = a->gen;
	/* Monitor id 0: all of this watcher's.  With the ring to the
	 * supervisor full the watches stay until their peer goes down (a
	 * Down to a stopped actor) or this worker ends. */
	if (act__w_send_ctrl(w, ACT__CTRL_PEER_UNWATCH, &pw, sizeof pw))
		act__warn_every("%u watches on remote peers of a stopped actor kept: "
		                "the ring to the supervisor is full", n);
}
