/* SPDX-License-Identifier: MIT */
/*
 * deadletter.h - private: the dead-letter store of a node.
 *
 * Poison envelopes (they killed their group max_redeliveries times) end up
 * here: an append-only JSON-lines file STATE_DIR/dead-letters.jsonl, one
 * object per line with an "id", plus an in-memory copy of the most recent
 * entries for `actorsctl dead-letters` and replay.  Without a state
 * directory only the in-memory copy exists.
 */
#ifndef ACT_DEADLETTER_H
#define ACT_DEADLETTER_H

#include <stdint.h>

#include <cjson/cJSON.h>

#define ACT__DL_KEEP 1000u  /* entries kept in memory */

struct act__dlstore;

/* Opens (creating) the store in dir (NULL: memory only).  NULL on error, with *err. */
struct act__dlstore *act__dl_open(const char *dir, int *err);
void act__dl_close(struct act__dlstore *s);

/*
 * Appends one entry given as a JSON object text (from a worker); assigns
 * and returns its id (> 0), or a negative errno (bad JSON: -EPROTO; the
 * entry is still counted and logged by the caller).
 */
int64_t act__dl_append(struct act__dlstore *s, const char *json, size_t len);

/* A new array with the kept entries, oldest first.  Caller frees. */
cJSON *act__dl_list(const struct act__dlstore *s);
/* The entry with this id (borrowed), or NULL. */
const cJSON *act__dl_get(const struct act__dlstore *s, uint64_t id);
/* Total entries ever appended (including ones found in the file at open). */
uint64_t act__dl_count(const struct act__dlstore *s);
/* Path of the file, or NULL. */
const char *act__dl_path(const struct act__dlstore *s);

#endif
