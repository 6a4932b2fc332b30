/* SPDX-License-Identifier: MIT */
/*
 * topics.h - private: the supervisor's side of topics and interceptors
 * (topics.c): remote topics, publishing frames from the gateway, and the
 * status figures.
 */
#ifndef ACT_TOPICS_H
#define ACT_TOPICS_H

#include "export.h"

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

struct act_node;

/* True if peers may publish to `topic` of node n (act_node_set_topic_remote). */
bool act__node_topic_remote(const struct act_node *n, const char *topic);
/*
 * Publishes a frame from the network (JSON message of type `type`) to every
 * member of remote topic `topic`: one JSON envelope into each member's
 * ring, never waiting.  0 with *reached / *refused, or -ENOENT if the topic
 * is not marked remote (the gateway then rejects it as an unknown actor).
 */
int act__node_publish_json(struct act_node *n, const char *topic, const char *type,
                           const char *json, size_t json_len, const char *sender,
                           const char *endpoint, uint32_t *reached, uint32_t *refused);
/* Adds "topics", "types" and "interceptors" to a status answer. */
void act__topics_status(struct act_node *n, cJSON *status);
/* The metrics families of those parts (metrics.c renders the rest). */
void act__topics_metrics(FILE *f, const cJSON *status);
/* actorsctl: prints those parts of a status answer (if present). */
ACT__SHARED void act__topics_print(const cJSON *status, FILE *out);
/* Forgets what was registered for node n (act_node_free). */
void act__topics_forget(struct act_node *n);

#endif
