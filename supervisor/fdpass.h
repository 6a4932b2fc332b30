/* SPDX-License-Identifier: MIT */
/*
 * fdpass.h - private: one file descriptor attached to a message as
 * SCM_RIGHTS (the prefork's assignment socket in spawn.c, systemd's fd
 * store in recover.c).
 */
#ifndef ACT_FDPASS_H
#define ACT_FDPASS_H

#include <string.h>
#include <sys/socket.h>

/* Control buffer for one descriptor, aligned as a cmsghdr. */
union act__fd_cmsg {
	struct cmsghdr h;
	char buf[CMSG_SPACE(sizeof(int))];
};

/* Attaches fd to m (its control data in *u) if fd >= 0; else leaves m as is. */
static inline void act__fd_attach(struct msghdr *m, union act__fd_cmsg *u, int fd)
{
	if (fd < 0)
		return;
	memset(u, 0, sizeof *u);
	m->msg_control = u->buf;
	m->msg_controllen = sizeof u->buf;
	struct cmsghdr *c = CMSG_FIRSTHDR(m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
}

#endif
