/* SPDX-License-Identifier: MIT */
/*
 * pathcheck.c - opening the files an app file names without waiting on
 * any of them (see pathcheck.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "pathcheck.h"

const char *act__file_kind(mode_t mode)
{
	if (S_ISREG(mode)) return "a regular file";
	if (S_ISDIR(mode)) return "a directory";
	if (S_ISFIFO(mode)) return "a FIFO";
	if (S_ISSOCK(mode)) return "a socket";
	if (S_ISCHR(mode)) return "a character device";
	if (S_ISBLK(mode)) return "a block device";
	if (S_ISLNK(mode)) return "a symbolic link";
	return "a special file";
}

int act__open_regular(const char *path, struct stat *st)
{
	/* O_NONBLOCK: opening a FIFO that has no writer returns at once. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY), err;

	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
	}
	return fd;
}
