/* SPDX-License-Identifier: MIT */
/*
 * pathcheck.h - private to actorsd: looking at the files an app file names
 * without ever waiting on one.
 *
 * actorsd opens a handful of files before anything runs (the app file, the
 * CURVE key files, each group's module) and must not block on any of them:
 * a FIFO without a writer would block open(), a device could be read
 * forever.  Each is opened with O_NONBLOCK and accepted only if it is a
 * regular file; the messages say what kind of file it was instead.
 */
#ifndef ACT_PATHCHECK_H
#define ACT_PATHCHECK_H

#include <sys/stat.h>

/* "a FIFO", "a directory", "a regular file"...: for a message. */
const char *act__file_kind(mode_t mode);

/*
 * Opens path for reading (O_NONBLOCK, O_CLOEXEC, O_NOCTTY) and checks that
 * it is a regular file.  Returns the fd (the caller closes it) and fills
 * *st; or -errno from open/fstat, -EISDIR for a directory, -EINVAL for any
 * other kind of file (st->st_mode then says which).  Never blocks on a
 * FIFO; a regular file read through the fd behaves as without O_NONBLOCK.
 */
int act__open_regular(const char *path, struct stat *st);

#endif
