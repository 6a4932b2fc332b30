/* SPDX-License-Identifier: MIT */
/*
 * regionguard.c - the supervisor's watch over its region file.
 *
 * A region in a runtime directory is a plain file (recover.c): only a
 * memfd can be sealed against shrinking, so root or the node's user can
 * truncate it while the node runs, and every later access past the new
 * end of the file is a SIGBUS.  Unhandled, that killed actorsd and (by
 * their parent-death signal) its workers without a word, and the next
 * start refused what was left with exit 100, so systemd did not restart
 * the node either.
 *
 * Two lines of defence.  The loop looks at the file's size on every turn
 * (act__regionguard_check(), one fstat()), before it reads any ring:
 * a truncated file is seen before the supervisor touches a missing page,
 * and a worker that died of it (a crash the supervisor would answer with
 * a restart, which would die the same way) is never restarted.  What
 * slips between that look and an access faults: the SIGBUS handler, for
 * a fault address inside the region mapping, does the same.  Both write
 * one log line naming the file and what is left of it, keep the damaged
 * file aside as region.refused-TIMESTAMP (as recover.c keeps a refused
 * region), take it out of systemd's fd store and exit ACT_EXIT_TEMPORARY
 * (111): the envelopes in the cut pages are gone whatever happens next,
 * no app file could adopt what is left, and a restart (systemd restarts
 * 111) starts the node again in a new region.  Workers die with actorsd
 * (their parent-death signal).
 *
 * A file truncated and grown back to its size between two looks (or
 * written with write(2)) has its size, but every page past the cut now
 * reads zero: the size alone misses it.  Its change time does not: on
 * every file system a truncation or a write(2) sets it.  So does the
 * first write of each process to each page through its mapping (the
 * kernel's fault_dirty_shared_page() when the file system has no
 * page_mkwrite, as tmpfs; page_mkwrite after a writeback elsewhere), so
 * a new ctime proves nothing by itself: it is a reason to look.  On a
 * new ctime the loop compares the region's constant parts - the region
 * header's checksummed fields and the statistics header in the file's
 * last page - with the copy taken when the guard was armed (a few
 * kilobytes of memcmp, read-only, no field a worker writes).  A
 * truncation, however brief and wherever it cut, zeroes the last page,
 * so a file grown back never passes; what was written over elsewhere is
 * found only where it hits those parts.  A mismatch is the same stop as a
 * truncation; a match (a chmod, a page a worker wrote for the first
 * time) is remembered and the loop goes on.  A ctime read within
 * SETTLE_NS of now is looked at again on the next turns: with coarse
 * timestamps a change in the same tick would not move it.
 *
 * Everything the handler needs is prepared when the guard is armed: it
 * calls only async-signal-safe functions (fstat, stat, link, unlink,
 * socket, sendto, write, _exit), no stdio and no malloc.  A fault
 * outside the region is a bug: the default action is restored and the
 * fault happens again, with a core dump as before.  Processes forked
 * from the supervisor (the zygote, workers) inherit the handler until
 * they replace it; in them it restores the default action at once: a
 * worker's SIGBUS stays a worker crash, seen and judged by the supervisor.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <actors.h>

#include "log.h"
#include "regionguard.h"

#define PATH_CAP 4096

/* How long after a ctime the same ctime may still hide a later change
 * (timestamps as coarse as a kernel tick); see act__regionguard_check(). */
#define SETTLE_NS 100000000ll

/* The constant runs of the region header: what its two checksums cover,
 * and nothing the supervisor or a worker writes while the node runs
 * (stopping, supervisor_pid, epoch, sup_start, n_adoptions). */
#define HDR_A_END offsetof(struct act__region, stopping)
#define HDR_B_FROM offsetof(struct act__region, dyn_off)
#define HDR_B_END (offsetof(struct act__region, dyn_checksum) + sizeof(uint64_t))

static struct {
	volatile sig_atomic_t armed;
	volatile sig_atomic_t in_store;
	pid_t pid;                  /* the supervisor: only it handles the fault */
	uintptr_t base;
	size_t size;
	int fd;
	dev_t dev;
	ino_t ino;
	struct timespec ctime;      /* the last ctime seen whole */
	bool ctime_settled;         /* seen long enough after it was set */
	bool has_stats;             /* the region had a statistics header when armed */
	struct act__region hdr;     /* copies of the constant parts, taken when armed */
	struct act__stats_hdr stats;
	char path[PATH_CAP];
	char dir[PATH_CAP];
	struct sockaddr_un notify;  /* systemd's, for FDSTOREREMOVE */
	socklen_t notify_len;
	struct sigaction old;
} g;

struct line {
	char *p;
	size_t n, cap;
};

static void put(struct line *l, const char *s)
{
	for (; *s && l->n + 1 < l->cap; s++)
		l->p[l->n++] = *s;
	l->p[l->n] = '\0';
}

static void put_u(struct line *l, uint64_t v)
{
	char d[24];
	int k = 0;

	do {
		d[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (k && l->n + 1 < l->cap)
		l->p[l->n++] = d[--k];
	l->p[l->n] = '\0';
}

/* Takes the region out of systemd's fd store (one datagram, no fd). */
static void store_remove(void)
{
	static const char msg[] = "FDSTOREREMOVE=1\nFDNAME=region";
	int s;

	if (!g.in_store || !g.notify_len)
		return;
	if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	ssize_t w = sendto(s, msg, sizeof msg - 1, MSG_NOSIGNAL, (struct sockaddr *)&g.notify,
	                   g.notify_len);
	(void)w;
	close(s);
}

/*
 * Keeps the file at g.path aside as DIR/region.refused-TIMESTAMP[.N], if
 * it is still our region (a file put there since is not ours to move).
 * Says where in `out`.  Async-signal-safe.
 */
static void keep_aside(struct line *out)
{
	char stamp[32], aside[PATH_CAP + 64];
	struct stat st;

	if (stat(g.path, &st) < 0 || st.st_dev != g.dev || st.st_ino != g.ino) {
		put(out, "; the file is no longer at ");
		put(out, g.path);
		return;
	}
	act__log_stamp(stamp, sizeof stamp);
	for (unsigned i = 0; i < 1000; i++) {
		struct line a = { aside, 0, sizeof aside };
		put(&a, g.dir);
		put(&a, "/region.refused-");
		put(&a, stamp);
		if (i) {
			put(&a, ".");
			put_u(&a, i);
		}
		if (link(g.path, aside) == 0) {
			unlink(g.path);
			put(out, "; what is left of it is kept as ");
			put(out, aside);
			return;
		}
		if (errno != EEXIST)
			break;
	}
	put(out, "; it could not be kept aside (errno ");
	put_u(out, (uint64_t)errno);
	put(out, "): remove it before the next start");
}

/*
 * Whether the region's constant parts still hold what they held when the
 * guard was armed: NULL, or which part differs.  Read-only, and only of
 * fields nobody writes while the node runs (no barrier needed: a torn
 * read of a constant is the constant).  Async-signal-safe (memcmp is a
 * pure function).  A page the file lost reads zero here, not SIGBUS,
 * once the file has its size again.
 */
static const char *changed(void)
{
	const unsigned char *b = (const unsigned char *)g.base, *h = (const unsigned char *)&g.hdr;

	if (memcmp(b, h, HDR_A_END) != 0)
		return "region header";
	if (memcmp(b + HDR_B_FROM, h + HDR_B_FROM, HDR_B_END - HDR_B_FROM) != 0)
		return "spawn area table";
	if (g.has_stats &&
	    memcmp(b + g.size - ACT__STATS_HDR_BYTES, &g.stats, sizeof g.stats) != 0)
		return "statistics header in its last page";
	return NULL;
}

/*
 * The node cannot go on: says why (fault_off: the offset of a SIGBUS in
 * the region, or -1 when the loop saw it first; lost: which constant part
 * of a file of the right size changed, or NULL), keeps the damaged file
 * aside and exits 111.  Async-signal-safe; never returns.
 */
static void stop(int64_t fault_off, const char *lost)
{
	char msg[3 * PATH_CAP];
	struct line l = { msg, 0, sizeof msg };
	struct stat st;
	bool whole = fstat(g.fd, &st) == 0 && (uint64_t)st.st_size >= g.size;

	/* A fault in a file of the right size: cut and grown back in
	 * between, or a full file system.  (Cut again while we compare,
	 * the fault comes with SIGBUS blocked and kills: as before.) */
	if (whole && !lost && fault_off >= 0)
		lost = changed();
	if (whole && lost) {
		put(&l, "the region file ");
		put(&l, g.path);
		put(&l, " was truncated and grown back, or overwritten, under the running node (");
		if (fault_off >= 0) {
			put(&l, "SIGBUS at offset ");
			put_u(&l, (uint64_t)fault_off);
			put(&l, "; ");
		}
		put(&l, "it has its ");
		put_u(&l, g.size);
		put(&l, " bytes, but its ");
		put(&l, lost);
		put(&l, " no longer holds what it held): the envelopes in it are lost; stopping "
		        "(exit 111) so that the next start makes a new region");
		keep_aside(&l);
		store_remove();
	} else if (whole) {
		/* Not truncated: a page the file system could not provide
		 * (a full tmpfs).  The region is whole: it stays for the next
		 * start, which adopts it. */
		put(&l, "SIGBUS at offset ");
		put_u(&l, (uint64_t)fault_off);
		put(&l, " of the region file ");
		put(&l, g.path);
		put(&l, ", which still has all its ");
		put_u(&l, g.size);
		put(&l, " bytes (is its file system full?): stopping (exit 111); the region stays "
		        "for the next start");
	} else {
		put(&l, "the region file ");
		put(&l, g.path);
		put(&l, " was truncated under the running node (");
		if (fault_off >= 0) {
			put(&l, "SIGBUS at offset ");
			put_u(&l, (uint64_t)fault_off);
			put(&l, "; ");
		}
		put_u(&l, st.st_size > 0 ? (uint64_t)st.st_size : 0);
		put(&l, " of its ");
		put_u(&l, g.size);
		put(&l, " bytes left): the envelopes in it are lost; stopping (exit 111) so that "
		        "the next start makes a new region");
		keep_aside(&l);
		store_remove();
	}
	act__log_signal_safe(ACT_LOG_ERR, msg);
	_exit(ACT_EXIT_TEMPORARY);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;

	(void)uc;
	if (g.armed && getpid() == g.pid && si->si_code > 0 && a >= g.base &&
	    a - g.base < g.size)
		stop((int64_t)(a - g.base), NULL);
	/* Not the region's: the default action, as if we were not here.  A
	 * fault happens again when we return (and dumps core); a SIGBUS sent
	 * by kill() is sent again. */
	signal(sig, SIG_DFL);
	if (si->si_code <= 0)
		raise(sig);
}

int act__regionguard_arm(const act__shm *shm, const char *path, const char *dir)
{
	struct sigaction sa;
	struct stat st;
	const char *ns = getenv("NOTIFY_SOCKET");

	if (strlen(path) >= sizeof g.path || strlen(dir) >= sizeof g.dir)
		return -ENAMETOOLONG;
	if (fstat(shm->fd, &st) < 0)
		return -errno;
	act__regionguard_disarm();
	memcpy(g.path, path, strlen(path) + 1);
	memcpy(g.dir, dir, strlen(dir) + 1);
	g.pid = getpid();
	g.base = (uintptr_t)shm->base;
	g.size = shm->size;
	g.fd = shm->fd;
	g.dev = st.st_dev;
	g.ino = st.st_ino;
	g.ctime = st.st_ctim;
	g.ctime_settled = false;
	memcpy(&g.hdr, shm->base, sizeof g.hdr);
	g.has_stats = shm->stats.base != NULL;
	if (g.has_stats)
		memcpy(&g.stats, shm->base + shm->size - ACT__STATS_HDR_BYTES, sizeof g.stats);
	g.notify_len = 0;
	if (ns && (ns[0] == '/' || ns[0] == '@') && strlen(ns) < sizeof g.notify.sun_path) {
		memset(&g.notify, 0, sizeof g.notify);
		g.notify.sun_family = AF_UNIX;
		memcpy(g.notify.sun_path, ns, strlen(ns));
		if (ns[0] == '@')
			g.notify.sun_path[0] = '\0';
		g.notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(ns));
	}
	act__log_prepare();
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &g.old) < 0)
		return -errno;
	g.armed = 1;
	return 0;
}

void act__regionguard_in_store(bool stored)
{
	g.in_store = stored;
}

void act__regionguard_check(void)
{
	struct stat st;

	if (!g.armed || getpid() != g.pid)
		return;
	if (fstat(g.fd, &st) < 0)
		return;
	if ((uint64_t)st.st_size < g.size)
		stop(-1, NULL);
	if (g.ctime_settled && st.st_ctim.tv_sec == g.ctime.tv_sec &&
	    st.st_ctim.tv_nsec == g.ctime.tv_nsec)
		return; /* the common case: nothing happened to the file */
	/* The ctime is taken before the look: a change after it moves the
	 * ctime again, and the next turn looks again. */
	const char *lost = changed();
	if (lost)
		stop(-1, lost);
	g.ctime = st.st_ctim;
	/* A ctime that is not yet SETTLE_NS old may still hide a change
	 * made within the same timestamp tick: look again until it is. */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	g.ctime_settled = (int64_t)(now.tv_sec - st.st_ctim.tv_sec) * 1000000000ll +
	                  (now.tv_nsec - st.st_ctim.tv_nsec) > SETTLE_NS;
}

void act__regionguard_disarm(void)
{
	if (!g.armed)
		return;
	g.armed = 0;
	g.in_store = 0;
	sigaction(SIGBUS, &g.old, NULL);
}
