/* SPDX-License-Identifier: MIT */
/*
 * curve.c - CURVE key files: reading them with the checks a secret
 * deserves, the peers' server keys of the app file, and new keypairs for
 * `actorsctl keygen`.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include <actors.h>

#include "appfile.h"
#include "curve.h"
#include "node.h"
#include "pathcheck.h"

int act__curve_read_key(const char *path, bool secret, char out[41], char *why, size_t why_cap)
{
	char buf[128];
	struct stat st;
	ssize_t n;
	int fd = act__open_regular(path, &st);

	if (fd < 0) {
		snprintf(why, why_cap, "%s", fd == -EINVAL ? "not a regular file" : strerror(-fd));
		return fd == -EINVAL ? -EBADFD : fd;
	}
	do {
		n = read(fd, buf, sizeof buf - 1);
	} while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0) {
		snprintf(why, why_cap, "%s", strerror(errno));
		return -EIO;
	}
	buf[n] = '\0';
	char *s = buf + strspn(buf, " \t\r\n");
	size_t len = strcspn(s, " \t\r\n");
	uint8_t raw[32];
	if (len != 40 || (s[40] = '\0', !zmq_z85_decode(raw, s))) {
		snprintf(why, why_cap, "not a Z85 key (40 characters expected)");
		return -EINVAL;
	}
	if (secret && (st.st_mode & 077)) {
		explicit_bzero(buf, sizeof buf);
		snprintf(why, why_cap, "a secret key must not be accessible to group or others "
		         "(mode %03o; chmod 600 it)", (unsigned)(st.st_mode & 0777));
		return -EACCES;
	}
	memcpy(out, s, 41);
	explicit_bzero(buf, sizeof buf);
	return 0;
}

int act__curve_load_peers(struct act_node *n, const struct act__app *app)
{
	for (uint32_t i = 0; i < app->n_peers; i++) {
		const struct act__app_peer *p = &app->peers[i];
		struct act__peer_def *d = NULL;
		char why[160];

		for (uint32_t k = 0; k < n->reg.n_peers && !d; k++)
			if (!strcmp(n->reg.peers[k].name, p->name))
				d = &n->reg.peers[k];
		if (!d)
			continue;
		d->down_ms = p->down_ms;
		if (p->server_key[0]) {
			memcpy(d->server_key, p->server_key, sizeof d->server_key);
		} else if (p->server_key_file) {
			int err = act__curve_read_key(p->server_key_file, false, d->server_key, why,
			                              sizeof why);
			if (err) {
				fprintf(stderr, "actorsd: %s: $.peers.%s.server_key_file: cannot read %s: "
				        "%s\n", app->path, p->name, p->server_key_file, why);
				return err == -ENOMEM ? ACT_EXIT_TEMPORARY : ACT_EXIT_PERMANENT;
			}
		}
	}
	return 0;
}

/* Writes text to dir/name with mode, never over an existing file. */
static int write_new(const char *dir, const char *name, mode_t mode, const char *text,
                     char *why, size_t why_cap)
{
	char path[4096];
	int fd;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
		snprintf(why, why_cap, "%s/%s: path too long", dir, name);
		return -ENAMETOOLONG;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		int e = errno;
		snprintf(why, why_cap, "%s: %s%s", path, strerror(e),
		         e == EEXIST ? " (remove it first: keygen never overwrites a key)" : "");
		return -e;
	}
	/* The umask may have taken bits away, never added them: set exactly. */
	size_t len = strlen(text);
	if (fchmod(fd, mode) < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
		int e = errno ? errno : EIO;
		snprintf(why, why_cap, "%s: %s", path, strerror(e));
		close(fd);
		unlink(path);
		return -e;
	}
	if (close(fd) < 0) {
		int e = errno;
		snprintf(why, why_cap, "%s: %s", path, strerror(e));
		unlink(path);
		return -e;
	}
	return 0;
}

int act__curve_keygen(const char *dir, char *why, size_t why_cap)
{
	char pub[41], sec[41], line[48];
	int err;

	if (zmq_curve_keypair(pub, sec) < 0) {
		snprintf(why, why_cap, "this libzmq cannot make CURVE keys: %s", zmq_strerror(errno));
		return -ENOTSUP;
	}
	snprintf(line, sizeof line, "%s\n", sec);
	if ((err = write_new(dir, "curve.secret", 0600, line, why, why_cap)))
		return err;
	snprintf(line, sizeof line, "%s\n", pub);
	if ((err = write_new(dir, "curve.public", 0644, line, why, why_cap))) {
		char path[4096];
		snprintf(path, sizeof path, "%s/curve.secret", dir);
		unlink(path); /* half a keypair is no use */
		return err;
	}
	explicit_bzero(sec, sizeof sec);
	explicit_bzero(line, sizeof line);
	return 0;
}
