/* SPDX-License-Identifier: MIT */
/*
 * route.h - private: the records between the supervisor and its groups
 * (control records, dead letters, envelopes for outside the node).
 */
#ifndef ACT_ROUTE_H
#define ACT_ROUTE_H

#include <stdint.h>

struct act_node;

/* Sends a control record to participant `to`.  0 or ACT_EFULL. */
int act__route_ctrl(struct act_node *n, uint32_t to, uint32_t code);
/* Handles every record the groups sent to the supervisor. */
void act__route_drain(struct act_node *n);

#endif
