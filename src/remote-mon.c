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
#include <string.h>

#include <actors.h>

#include "log.h"
#include "worker-int.h"
#include "remote-mon.h"

int act__peer_monitor(struct worker *w, struct actor *me, act_ref who,
                      uint64_t *monitor_id)
{
	struct act__peer_watch pw;
	int err;

	if (who.peer > w->n_remotes)
		return -ENOENT;
	if (w->tk) /* a testkit runs one group, without a supervisor */
		return -EOPNOTSUPP;
	const struct remote *r = &w->remotes[who.peer - 1];
	memset(&pw, 0, sizeof pw);
	pw.watcher = me->id + 1;
	pw.watcher_gen = me->gen;
	pw.monitor_id = (1ull << 63) | ((++w->mon_seq & 0x7fffffffull) << 32) | ACT__PEER_MON_LOW;
	snprintf(pw.name, sizeof pw.name, "%s", r->name);
	snprintf(pw.endpoint, sizeof pw.endpoint, "%s", r->endpoint);
	if ((err = act__w_send_ctrl(w, ACT__CTRL_PEER_WATCH, &pw, sizeof pw)))
		return err;
	*monitor_id = pw.monitor_id;
	me->peer_watched = true;
	return 0;
}

void act__peer_unwatch_all(struct worker *w, struct actor *a)
{
	struct act__peer_watch pw;

	if (!a->peer_watched || w->tk)
		return;
	a->peer_watched = false;
	memset(&pw, 0, sizeof pw);
	pw.watcher = a->id + 1;
	pw.watcher_gen = a->gen;
	/* Monitor id 0: all of this watcher's.  With the ring to the
	 * supervisor full the watches stay until their peer goes down (a
	 * Down to a stopped actor) or this worker ends. */
	if (act__w_send_ctrl(w, ACT__CTRL_PEER_UNWATCH, &pw, sizeof pw))
		act__warn_every("watches on remote peers of a stopped actor kept: "
		                "the ring to the supervisor is full");
}

int act__peer_demonitor(struct worker *w, uint64_t monitor_id)
{
	struct act__peer_watch pw;

	memset(&pw, 0, sizeof pw);
	pw.monitor_id = monitor_id;
	return act__w_send_ctrl(w, ACT__CTRL_PEER_UNWATCH, &pw, sizeof pw);
}
