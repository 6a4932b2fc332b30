/* SPDX-License-Identifier: MIT */
/*
 * regionguard.h - private: the supervisor's watch over its region file.
 *
 * A region kept in a file (recover.c) cannot be sealed against shrinking,
 * as a memfd is: whoever may write the file can truncate it under the
 * running node, and every access past the new end is a SIGBUS; grown back
 * to its size, it reads zero where it was cut.  The guard
 * turns that into one log line and a stop with a documented exit code
 * instead of a silent death, and keeps the damaged file aside so that the
 * next start makes a new region.  See regionguard.c.
 */
#ifndef ACT_REGIONGUARD_H
#define ACT_REGIONGUARD_H

#include <stdbool.h>

#include "shm.h"

/*
 * Arms the guard for shm, mapped from the region file at path in dir
 * (supervisor only, once the region is mapped): installs the SIGBUS
 * handler and remembers what the file is.  Process-wide: one region per
 * process.  Nothing is allocated; 0 or a negative errno (a path too long
 * to keep).
 */
int act__regionguard_arm(const act__shm *shm, const char *path, const char *dir);

/* Whether the region is also in systemd's fd store under the name
 * "region" (then a damaged one is taken out of it). */
void act__regionguard_in_store(bool stored);

/*
 * Looks at the region file (one fstat()): if it is smaller than the
 * mapping, the node cannot go on (the next access past the end is a
 * SIGBUS); if its ctime moved and the region's constant parts (header,
 * statistics header in the last page) no longer hold what they held when
 * armed, it was truncated and grown back, or written over, and the node
 * cannot go on either.  Either way: logs why, keeps the file aside and
 * exits ACT_EXIT_TEMPORARY (111), never returning.  Cheap enough for
 * every turn of the loop (the compare, a few kilobytes, runs only when
 * the ctime moved); does nothing when the guard is not armed.
 */
void act__regionguard_check(void);

/* Removes the handler (before the region is unmapped). */
void act__regionguard_disarm(void);

#endif
