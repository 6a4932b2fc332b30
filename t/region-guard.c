/* SPDX-License-Identifier: MIT */
/*
 * t/region-guard.c - the supervisor's SIGBUS handler for a truncated
 * region file (supervisor/regionguard.c), driven directly: a fault at a
 * known offset of a region file truncated under the mapping, which the
 * end-to-end test (t/region-truncated.py) reaches only when the
 * truncation races with the loop's size check.
 *
 * In a child each: a fault inside the truncated region exits 111 with
 * one line naming the file, the offset and what is left, and the file is
 * kept aside as region.refused-TIMESTAMP; the loop's check does the same
 * without a fault; so does the loop's check of a file cut and grown back
 * between two looks (the region header or the last page no longer as
 * they were), but not of one only chmod()ed or written with its own
 * bytes; a fault in another truncated mapping, and a fault in
 * the region by a process forked from the armed one (a worker), still
 * kill with SIGBUS as before.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <actors.h>

#include "regionguard.h"
#include "shm.h"
#include "tap.h"

#define SIZE (1u << 20)

static char dir[64], path[128];

static int map_file(const char *p, act__shm *shm)
{
	memset(shm, 0, sizeof *shm);
	shm->fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (shm->fd < 0 || ftruncate(shm->fd, SIZE) < 0)
		bail("cannot make %s: %s", p, strerror(errno));
	shm->base = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, shm->fd, 0);
	if (shm->base == MAP_FAILED)
		bail("mmap: %s", strerror(errno));
	shm->size = SIZE;
	memset(shm->base, 1, SIZE);
	return 0;
}

/* Runs fn in a child whose stderr goes to a pipe: its wait status, and
 * what it wrote in out. */
static int run(void (*fn)(void), char *out, size_t cap)
{
	int pfd[2], st;
	size_t n = 0;
	ssize_t got;

	if (pipe(pfd) < 0)
		bail("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core);
		dup2(pfd[1], 2);
		close(pfd[0]);
		fn();
		_exit(0);
	}
	close(pfd[1]);
	while (n + 1 < cap && (got = read(pfd[0], out + n, cap - 1 - n)) > 0)
		n += (size_t)got;
	out[n] = '\0';
	close(pfd[0]);
	waitpid(pid, &st, 0);
	return st;
}

static void fault_in_region(void)
{
	act__shm shm;
	map_file(path, &shm);
	if (act__regionguard_arm(&shm, path, dir))
		_exit(2);
	if (ftruncate(shm.fd, 4096) < 0)
		_exit(3);
	((volatile unsigned char *)shm.base)[8192] = 7;
	_exit(4); /* not reached */
}

static void check_without_fault(void)
{
	act__shm shm;
	map_file(path, &shm);
	if (act__regionguard_arm(&shm, path, dir))
		_exit(2);
	act__regionguard_check(); /* whole: returns */
	if (ftruncate(shm.fd, 8192) < 0)
		_exit(3);
	act__regionguard_check();
	_exit(4);
}

/* Cut to `to` and grown back at once, between two looks: the size is
 * whole again, but the pages past the cut read zero.  With stats, the
 * region has a statistics header in its last page (as every region this
 * build makes). */
static void regrown(off_t to, bool stats)
{
	act__shm shm;
	map_file(path, &shm);
	if (stats)
		shm.stats.base = shm.base;
	if (act__regionguard_arm(&shm, path, dir))
		_exit(2);
	act__regionguard_check(); /* untouched: returns */
	if (ftruncate(shm.fd, to) < 0 || ftruncate(shm.fd, SIZE) < 0)
		_exit(3);
	act__regionguard_check();
	_exit(4);
}

static void regrown_in_header(void) { regrown(4096, false); }
static void regrown_past_header(void) { regrown(SIZE - 8192, true); }

/* What moves the ctime without touching the region's constant parts: a
 * chmod, the first write of a process to a page through its mapping, a
 * write(2) of the same bytes.  The node goes on. */
static void ctime_only(void)
{
	act__shm shm;
	map_file(path, &shm);
	shm.stats.base = shm.base;
	if (act__regionguard_arm(&shm, path, dir))
		_exit(2);
	if (fchmod(shm.fd, 0640) < 0)
		_exit(3);
	act__regionguard_check();
	pid_t pid = fork();
	if (pid == 0) {
		((volatile unsigned char *)shm.base)[SIZE / 2] = 9; /* not a constant part */
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	act__regionguard_check();
	if (pwrite(shm.fd, shm.base, 4096, 0) != 4096)
		_exit(3);
	act__regionguard_check();
	_exit(5);
}

static void fault_elsewhere(void)
{
	act__shm shm, other;
	char p2[160];
	map_file(path, &shm);
	snprintf(p2, sizeof p2, "%s/other", dir);
	map_file(p2, &other);
	if (act__regionguard_arm(&shm, path, dir))
		_exit(2);
	if (ftruncate(other.fd, 4096) < 0)
		_exit(3);
	((volatile unsigned char *)other.base)[8192] = 7;
	_exit(4);
}

static void fault_in_child(void)
{
	act__shm shm;
	int st;
	map_file(path, &shm);
	if (act__regionguard_arm(&shm, path, dir))
		_exit(2);
	pid_t pid = fork();
	if (pid == 0) {
		if (ftruncate(shm.fd, 4096) < 0)
			_exit(3);
		((volatile unsigned char *)shm.base)[8192] = 7;
		_exit(4);
	}
	waitpid(pid, &st, 0);
	/* The child's death, as the supervisor would see a worker's. */
	_exit(WIFSIGNALED(st) ? 64 + WTERMSIG(st) : WEXITSTATUS(st));
}

/* The files in dir named region.refused-*: how many; the last in *name. */
static int refused(char *name, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, "region.refused-", 15)) {
			n++;
			if ((size_t)snprintf(name, cap, "%s/", dir) < cap)
				strncat(name, e->d_name, cap - strlen(name) - 1);
		}
	if (d)
		closedir(d);
	return n;
}

static void clean(void)
{
	char name[256];
	while (refused(name, sizeof name))
		unlink(name);
	unlink(path);
}

int main(void)
{
	char out[8192], want[1024], aside[256];
	struct stat st;
	int s;

	tap_timeout(30);
	snprintf(dir, sizeof dir, "/tmp/region-guard-XXXXXX");
	if (!mkdtemp(dir))
		bail("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof path, "%s/region", dir);

	s = run(fault_in_region, out, sizeof out);
	ok(WIFEXITED(s) && WEXITSTATUS(s) == ACT_EXIT_TEMPORARY,
	   "a fault in the truncated region: exit 111 (status 0x%x)", (unsigned)s);
	snprintf(want, sizeof want, "error: the region file %s was truncated under the running "
	         "node (SIGBUS at offset 8192; 4096 of its %u bytes left)", path, SIZE);
	ok(strstr(out, want) != NULL, "one line says so, with the offset and what is left");
	ok(strchr(out, '\n') == out + strlen(out) - 1, "one line only");
	ok(refused(aside, sizeof aside) == 1 && stat(aside, &st) == 0 && st.st_size == 4096 &&
	   access(path, F_OK) < 0, "the file kept aside as region.refused-TIMESTAMP");
	snprintf(want, sizeof want, "kept as %s\n", aside);
	ok(strstr(out, want) != NULL, "the line names it");
	if (tap_failed)
		diag("%s", out);
	clean();

	s = run(check_without_fault, out, sizeof out);
	snprintf(want, sizeof want, "the region file %s was truncated under the running node "
	         "(8192 of its %u bytes left)", path, SIZE);
	ok(WIFEXITED(s) && WEXITSTATUS(s) == ACT_EXIT_TEMPORARY && strstr(out, want) &&
	   refused(aside, sizeof aside) == 1,
	   "the loop's look at the size: the same stop, before any fault");
	clean();

	s = run(regrown_in_header, out, sizeof out);
	snprintf(want, sizeof want, "error: the region file %s was truncated and grown back, or "
	         "overwritten, under the running node (it has its %u bytes, but its spawn area "
	         "table no longer holds what it held)", path, SIZE);
	ok(WIFEXITED(s) && WEXITSTATUS(s) == ACT_EXIT_TEMPORARY && strstr(out, want) &&
	   strchr(out, '\n') == out + strlen(out) - 1,
	   "cut to a page and grown back between two looks: one line, exit 111 (status 0x%x)",
	   (unsigned)s);
	ok(refused(aside, sizeof aside) == 1 && stat(aside, &st) == 0 && st.st_size == SIZE &&
	   access(path, F_OK) < 0 && (snprintf(want, sizeof want, "kept as %s\n", aside),
	                              strstr(out, want)),
	   "the file kept aside, named in the line");
	if (tap_failed)
		diag("%s", out);
	clean();

	s = run(regrown_past_header, out, sizeof out);
	ok(WIFEXITED(s) && WEXITSTATUS(s) == ACT_EXIT_TEMPORARY &&
	   strstr(out, "grown back, or overwritten") &&
	   strstr(out, "its statistics header in its last page no longer holds") &&
	   refused(aside, sizeof aside) == 1,
	   "cut past the header and grown back: the last page tells (status 0x%x)", (unsigned)s);
	clean();

	s = run(ctime_only, out, sizeof out);
	ok(WIFEXITED(s) && WEXITSTATUS(s) == 5 && !*out && refused(aside, sizeof aside) == 0 &&
	   access(path, F_OK) == 0,
	   "a chmod, a first write to a page, a write(2) of the same bytes: no stop (status 0x%x)",
	   (unsigned)s);
	if (tap_failed)
		diag("%s", out);
	clean();

	s = run(fault_elsewhere, out, sizeof out);
	ok(WIFSIGNALED(s) && WTERMSIG(s) == SIGBUS && !strstr(out, "truncated"),
	   "a fault outside the region: killed by SIGBUS as before (status 0x%x)", (unsigned)s);
	ok(access(path, F_OK) == 0 && refused(aside, sizeof aside) == 0,
	   "and the region stays where it is");
	clean();

	s = run(fault_in_child, out, sizeof out);
	ok(WIFEXITED(s) && WEXITSTATUS(s) == 64 + SIGBUS && !strstr(out, "truncated"),
	   "a fault in the region by a forked process (a worker): killed by SIGBUS (status 0x%x)",
	   (unsigned)s);
	clean();
	char other[160];
	snprintf(other, sizeof other, "%s/other", dir);
	unlink(other);
	rmdir(dir);
	return done_testing();
}
