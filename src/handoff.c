/* SPDX-License-Identifier: MIT */
/*
 * handoff.c - a worker's state handoff across a reload restart (the
 * behaviours' export_state / import_state hooks, Erlang's code_change).
 *
 * The supervisor that restarts a group for new code asks the old worker to
 * stop without draining (handoff_wanted()); the worker then calls every
 * live actor's export_state and writes the results to one file, the
 * group's handoff file, which the next worker of the group reads before it
 * handles any envelope.  The file is written to a temporary name and
 * renamed, so a worker that dies while exporting leaves either no file or
 * a whole one; the reader also checks a trailing checksum.  The reader
 * unlinks the file before it calls any import_state: a new worker that
 * crashes inside an import restarts from init alone instead of crashing on
 * the same state again and again.
 *
 * File: "ACTHOFF1", u32 count, then per actor { u32 slot, u32 gen,
 * u32 name_len, name bytes, u32 data_len, data bytes }, then a u64
 * FNV-1a of everything before it.  Native byte order: the file never
 * leaves this machine and lives as long as one reload.
 *
 * Only the worker process uses this (act__worker_set_handoff() is called
 * by actorsd in a freshly forked worker, before act__worker_main()).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handoff.h"
#include "log.h"
#include "worker-int.h"

#define HANDOFF_MAGIC "ACTHOFF1"

static char handoff_path[PATH_MAX];
static const _Atomic uint32_t *handoff_flag;

void act__worker_set_handoff(const char *path, const _Atomic uint32_t *export_flag)
{
	snprintf(handoff_path, sizeof handoff_path, "%s", path ? path : "");
	handoff_flag = export_flag;
}

bool act__handoff_wanted(void)
{
	/* Acquire: pairs with the supervisor's release store of the flag,
	 * made before it sent STOP; the flag must be seen with the STOP. */
	return handoff_path[0] && handoff_flag &&
	       atomic_load_explicit(handoff_flag, memory_order_acquire) != 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

/* FNV-1a of the first len bytes of the file open at fd. */
static int rehash(int fd, uint64_t len, uint64_t *h)
{
	unsigned char buf[65536];
	uint64_t off = 0;

	*h = 14695981039346656037ull;
	while (off < len) {
		size_t want = len - off < sizeof buf ? (size_t)(len - off) : sizeof buf;
		ssize_t r = pread(fd, buf, want, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EIO;
		*h = fnv(*h, buf, (size_t)r);
		off += (uint64_t)r;
	}
	return 0;
}

struct out {
	FILE *f;
	uint64_t h;
	uint64_t bytes;
	bool bad;
};

static void put(struct out *o, const void *p, size_t len)
{
	if (o->bad)
		return;
	o->bytes += len;
	if (o->bytes > ACT__HANDOFF_MAX_BYTES) {
		o->bad = true;
		return;
	}
	o->h = fnv(o->h, p, len);
	if (len && fwrite(p, 1, len, o->f) != len)
		o->bad = true;
}

static bool live(const struct actor *a)
{
	return a->def && a->def->b && !a->stopped && !a->init_failed;
}

int act__handoff_export(struct worker *w)
{
	char tmp[PATH_MAX + 8];
	struct out o = { NULL, 14695981039346656037ull, 0, false };
	uint32_t n = 0, n_failed = 0, n_used = act__w_n_used(w);
	int fd, err = 0;

	for (uint32_t i = 0; i < n_used; i++)
		if (live(&w->actors[i]) && w->actors[i].def->b->export_state)
			n++;
	snprintf(tmp, sizeof tmp, "%s.tmp", handoff_path);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(o.f = fdopen(fd, "w+"))) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		act__err("reload: cannot write the state handoff file %s: %s", tmp, strerror(-err));
		return err;
	}
	put(&o, HANDOFF_MAGIC, 8);
	put(&o, &n, sizeof n);
	for (uint32_t i = 0; i < n_used && !o.bad; i++) {
		struct actor *a = &w->actors[i];
		act_buf b = { NULL, 0, 0 };
		if (!live(a) || !a->def->b->export_state)
			continue;
		act__w_set_ctx(w, a, NULL, NULL, NULL, 0, NULL);
		int r = a->def->b->export_state(&w->ctx, a->state, &b);
		if (r < 0) {
			/* That actor alone starts from init in the next worker. */
			act__err("reload: actor '%s': export_state failed (%s): it starts from "
			         "init in the next worker", a->def->name ? a->def->name : "?",
			         act_strerror(r));
			free((void *)b.ptr);
			n_failed++;
			continue;
		}
		uint32_t gen = a->dynamic ? a->gen : 0;
		const char *name = a->def->name ? a->def->name : "";
		uint32_t nl = (uint32_t)strlen(name), dl = b.ptr ? b.len : 0;
		put(&o, &i, sizeof i);
		put(&o, &gen, sizeof gen);
		put(&o, &nl, sizeof nl);
		put(&o, name, nl);
		put(&o, &dl, sizeof dl);
		put(&o, b.ptr, dl);
		free((void *)b.ptr);
	}
	if (!err && o.bytes + sizeof o.h > ACT__HANDOFF_MAX_BYTES)
		o.bad = true;
	if (!err && o.bad) {
		err = o.bytes > ACT__HANDOFF_MAX_BYTES ? -EFBIG : -EIO;
		act__err("reload: the state handoff %s", err == -EFBIG ?
		         "is larger than its limit (" ACT__HANDOFF_MAX_TEXT "): nothing handed over" :
		         "file could not be written: nothing handed over");
	}
	if (!err && !o.bad && n_failed) {
		/* The count in the header: the records actually written.  The
		 * checksum covers it, so compute it again over the file. */
		uint32_t written = n - n_failed;
		if (fflush(o.f) != 0 || pwrite(fileno(o.f), &written, sizeof written, 8) != 4 ||
		    rehash(fileno(o.f), o.bytes, &o.h))
			o.bad = true;
		n = written;
		if (o.bad)
			err = -EIO;
	}
	uint64_t h = o.h;
	if (!err && fwrite(&h, 1, sizeof h, o.f) != sizeof h)
		err = -EIO;
	if (fclose(o.f) != 0 && !err)
		err = -EIO;
	if (!err && rename(tmp, handoff_path) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	act__info("reload: exported the state of %u actor%s", n, n == 1 ? "" : "s");
	return 0;
}

/* Reads the whole handoff file into memory and unlinks it.  0 with *buf
 * (malloc'd) and *len, -ENOENT if there is none, other negative codes for
 * a file that cannot be read or is not a whole handoff. */
static int slurp(unsigned char **buf, size_t *len)
{
	struct stat st;
	int fd = open(handoff_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int err = 0;

	if (fd < 0)
		return -errno;
	unlink(handoff_path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > ACT__HANDOFF_MAX_BYTES || st.st_size < 20) {
		close(fd);
		return st.st_size < 20 ? -EPROTO : -EFBIG;
	}
	*len = (size_t)st.st_size;
	if (!(*buf = malloc(*len))) {
		close(fd);
		return -ENOMEM;
	}
	for (size_t got = 0; got < *len;) {
		ssize_t r = read(fd, *buf + got, *len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : -EPROTO;
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	if (!err) {
		uint64_t h;
		memcpy(&h, *buf + *len - sizeof h, sizeof h);
		if (memcmp(*buf, HANDOFF_MAGIC, 8) || fnv(14695981039346656037ull, *buf,
		                                         *len - sizeof h) != h)
			err = -EPROTO;
	}
	if (err) {
		free(*buf);
		*buf = NULL;
	}
	return err;
}

static bool take(const unsigned char **p, const unsigned char *end, void *out, size_t len)
{
	if ((size_t)(end - *p) < len)
		return false;
	memcpy(out, *p, len);
	*p += len;
	return true;
}

int act__handoff_import(struct worker *w)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	uint32_t n, n_done = 0, n_used = act__w_n_used(w);
	int err;

	if (!handoff_path[0])
		return 0;
	if ((err = slurp(&buf, &len))) {
		if (err != -ENOENT)
			act__err("reload: the state handoff file %s is unusable (%s): every actor "
			         "starts from init alone", handoff_path, act_strerror(err));
		return err == -ENOENT ? 0 : err;
	}
	const unsigned char *p = buf + 8, *end = buf + len - sizeof(uint64_t);
	if (!take(&p, end, &n, sizeof n))
		goto bad;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t slot, gen, nl, dl;
		const unsigned char *name, *data;
		if (!take(&p, end, &slot, 4) || !take(&p, end, &gen, 4) || !take(&p, end, &nl, 4) ||
		    (size_t)(end - p) < nl)
			goto bad;
		name = p;
		p += nl;
		if (!take(&p, end, &dl, 4) || (size_t)(end - p) < dl)
			goto bad;
		data = p;
		p += dl;
		/* The same actor: the same slot, and for a static actor the same
		 * name, for a spawned one the same generation (its record was
		 * re-created with its ref). */
		if (slot >= n_used)
			continue;
		struct actor *a = &w->actors[slot];
		const char *an = a->def && a->def->name ? a->def->name : "";
		if (!live(a) || (a->dynamic ? a->gen != gen : strlen(an) != nl || memcmp(an, name, nl)))
			continue;
		if (!a->def->b->import_state) {
			act__warn("reload: actor '%s': its new behaviour has no import_state; "
			          "the exported state is dropped", an);
			continue;
		}
		act__w_set_ctx(w, a, NULL, NULL, NULL, 0, NULL);
		int r = a->def->b->import_state(&w->ctx, a->state, data, dl);
		if (r < 0)
			act__err("reload: actor '%s': import_state failed (%s): it keeps what init "
			         "gave it", an, act_strerror(r));
		else
			n_done++;
	}
	free(buf);
	act__info("reload: imported the state of %u actor%s", n_done, n_done == 1 ? "" : "s");
	return 0;
bad:
	free(buf);
	act__err("reload: the state handoff file %s is malformed: every actor starts from "
	         "init alone", handoff_path);
	return -EPROTO;
}
