/* SPDX-License-Identifier: MIT */
/*
 * actorlist.h - private: every actor of the node, static and spawned, with
 * its per-actor statistics, as JSON (for `actorsctl actors` and metrics).
 */
#ifndef ACT_ACTORLIST_H
#define ACT_ACTORLIST_H

#include <cjson/cJSON.h>

struct act_node;

/*
 * An array with one object per actor: name, id, gen, group, parent,
 * behaviour, restart, spawned, handled, redelivered, dead_letters,
 * refused, mailbox (envelopes waiting for it in its group's rings),
 * monitors, restarts, handling_ns_sum and handling_hist, mailbox_ns_sum
 * and mailbox_hist (bucket counts, not cumulative; bounds in
 * act__actorlist_bound_ns()).  Spawned actors are
 * read from their spawn records through the commit word.  Supervisor
 * thread only; never blocks.  NULL on OOM.
 */
cJSON *act__actorlist(struct act_node *n);

/* Upper bound of histogram bucket i in nanoseconds (0 for the +Inf one). */
unsigned long long act__actorlist_bound_ns(unsigned i);

#endif
