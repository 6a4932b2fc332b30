/* SPDX-License-Identifier: MIT */
/*
 * deadletter.c - the append-only dead-letter store (deadletter.h).
 *
 * Each append is one write(2) of a whole line to a file opened O_APPEND,
 * so a crash of the supervisor leaves at worst a truncated last line, which
 * the next open skips (and counts) rather than trusts.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deadletter.h"
#include "log.h"

struct act__dlstore {
	char *path;
	int fd;
	uint64_t next_id;
	uint64_t count;
	cJSON *ring[ACT__DL_KEEP]; /* kept entries; ring[(first + i) % KEEP] */
	uint32_t first, n;
};

static void keep(struct act__dlstore *s, cJSON *entry)
{
	if (s->n == ACT__DL_KEEP) {
		cJSON_Delete(s->ring[s->first]);
		s->ring[s->first] = entry;
		s->first = (s->first + 1) % ACT__DL_KEEP;
	} else {
		s->ring[(s->first + s->n++) % ACT__DL_KEEP] = entry;
	}
}

static void load(struct act__dlstore *s)
{
	FILE *f = fopen(s->path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned bad = 0;

	if (!f)
		return;
	while ((n = getline(&line, &cap, f)) > 0) {
		cJSON *e = cJSON_ParseWithLength(line, (size_t)n);
		const cJSON *id = e ? cJSON_GetObjectItemCaseSensitive(e, "id") : NULL;
		if (!cJSON_IsObject(e) || !cJSON_IsNumber(id) || id->valuedouble < 1) {
			bad++;
			cJSON_Delete(e);
			continue;
		}
		if ((uint64_t)id->valuedouble >= s->next_id)
			s->next_id = (uint64_t)id->valuedouble + 1;
		s->count++;
		keep(s, e);
	}
	free(line);
	fclose(f);
	if (bad)
		act__warn("%s: %u unreadable line(s) skipped", s->path, bad);
}

struct act__dlstore *act__dl_open(const char *dir, int *err)
{
	struct act__dlstore *s = calloc(1, sizeof *s);

	*err = 0;
	if (!s) {
		*err = -ENOMEM;
		return NULL;
	}
	s->fd = -1;
	s->next_id = 1;
	if (!dir)
		return s;
	if (asprintf(&s->path, "%s/dead-letters.jsonl", dir) < 0) {
		s->path = NULL;
		*err = -ENOMEM;
		goto fail;
	}
	load(s);
	s->fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (s->fd < 0) {
		*err = -errno;
		act__err("cannot open the dead-letter store %s: %s", s->path, strerror(errno));
		goto fail;
	}
	return s;
fail:
	act__dl_close(s);
	return NULL;
}

void act__dl_close(struct act__dlstore *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->n; i++)
		cJSON_Delete(s->ring[(s->first + i) % ACT__DL_KEEP]);
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	free(s);
}

int64_t act__dl_append(struct act__dlstore *s, const char *json, size_t len)
{
	cJSON *e = cJSON_ParseWithLength(json, len);
	char *line;
	uint64_t id;

	if (!cJSON_IsObject(e)) {
		cJSON_Delete(e);
		return -EPROTO;
	}
	id = s->next_id++;
	cJSON_DeleteItemFromObjectCaseSensitive(e, "id");
	/* The id goes first so that a person reading the file sees it first. */
	cJSON *idn = cJSON_CreateNumber((double)id);
	if (!idn || !cJSON_InsertItemInArray(e, 0, idn)) {
		cJSON_Delete(idn);
		cJSON_Delete(e);
		return -ENOMEM;
	}
	idn->string = strdup("id");
	line = cJSON_PrintUnformatted(e);
	if (line && s->fd >= 0) {
		size_t n = strlen(line);
		line[n] = '\n';
		if (write(s->fd, line, n + 1) != (ssize_t)(n + 1))
			act__err("writing the dead-letter store %s: %s", s->path, strerror(errno));
	}
	free(line);
	s->count++;
	keep(s, e);
	return (int64_t)id;
}

cJSON *act__dl_list(const struct act__dlstore *s)
{
	cJSON *a = cJSON_CreateArray();
	for (uint32_t i = 0; a && i < s->n; i++)
		cJSON_AddItemToArray(a, cJSON_Duplicate(s->ring[(s->first + i) % ACT__DL_KEEP], 1));
	return a;
}

const cJSON *act__dl_get(const struct act__dlstore *s, uint64_t id)
{
	for (uint32_t i = 0; i < s->n; i++) {
		const cJSON *e = s->ring[(s->first + i) % ACT__DL_KEEP];
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "id");
		if (cJSON_IsNumber(v) && (uint64_t)v->valuedouble == id)
			return e;
	}
	return NULL;
}

uint64_t act__dl_count(const struct act__dlstore *s) { return s->count; }
const char *act__dl_path(const struct act__dlstore *s) { return s->path; }
