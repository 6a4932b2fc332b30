/* SPDX-License-Identifier: MIT */
/*
 * recover.c - the region outlives the supervisor.
 *
 * Every envelope a node accepted sits in the region's rings; the workers
 * die with their supervisor (parent-death signal), the region need not.
 * So actorsd keeps it where its next start finds it:
 *   - as a file, `region`, in a runtime directory (tmpfs: /run is one):
 *     the region is made there instead of in a memfd;
 *   - in systemd's file-descriptor store (see fdstore_wanted()): a
 *     datagram "FDSTORE=1\nFDNAME=region" with the fd in SCM_RIGHTS
 *     (FileDescriptorStoreMax= in the unit), given back at the next start
 *     through $LISTEN_FDS/$LISTEN_FDNAMES for $LISTEN_PID;
 *   - across execve() for an upgrade, in $ACTORS_UPGRADE_FDS.
 * A starting actorsd that finds a region validates all of it (act__shm_attach:
 * magic, layout version, sizes, checksums, the actor directory; here: the
 * groups, their order, ring sizes, message limits and spawn capacity) and
 * refuses anything else with exit 100, after moving the old region aside
 * (renamed with a timestamp, or re-stored under another name): never
 * silently discarded.  It refuses too while the supervisor recorded in the
 * region still lives (two nodes on one runtime directory).  Then it kills
 * whatever is left of the old generation: every process started after the
 * old supervisor that still holds the region open or mapped (workers,
 * standbys, the zygote), through a pidfd opened before the check, so a
 * recycled pid is never signalled; and waits for them.  What stays is
 * exactly a worker crash of every group at once: the rings resume from
 * their consumers' done_pos, the envelope each worker had in hand comes
 * back flagged redelivered (forgiven: a kill from outside does not count
 * toward max_redeliveries), spawn records, quarantines and sequence
 * numbers are in the region already.  Restart counters start again.
 *
 * Groups a reload added live in spare participants ("~spare-N" to the app
 * file, the group's name in the region): actorsd reads the region's names
 * first (act__recover_peek()) and builds such a group of its app file as
 * the spare it occupies, matched here under the group's name (loop.c);
 * such a region, refused, is left where it is (keep_refused): only the
 * reload's app file can adopt it.
 *
 * An upgrade re-executes the binary by path (/proc/self/exe read at
 * start, so a package that replaced the file runs the new one), handing
 * over the region and the control socket's listening fd, which keeps its
 * queue of connecting clients.  ZeroMQ sockets cannot cross exec: the
 * gateway is closed first (its linger flushes what it had accepted to
 * send) and the new process binds the same endpoint; frames still inside
 * a peer's ZeroMQ queue are the peer's to resend.  The workers are treated
 * as after a crash: killed and restarted on their rings by the new
 * process (simple and exactly as tested as a crash; a kept worker would
 * need its doorbells handed over too).
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <actors.h>

#include "clock.h"
#include "gateway.h"
#include "log.h"
#include "node.h"
#include "fdpass.h"
#include "recover.h"
#include "regionguard.h"
#include "ring.h"
#include "route.h"
#include "control.h"

#define REGION_NAME "region"
#define KILL_WAIT_MS 5000
#define MAX_OLD 1024
#define UPGRADE_WAIT_MS 2000

struct act__recover {
	char *dir;            /* runtime directory, NULL: no region file */
	char *path;           /* dir/region */
	char *exe;            /* this binary, resolved at start */
	char **argv;          /* copy, for an upgrade */
	int ctl_fd;           /* inherited listening control socket, or -1 */
	char *ctl_path;
	bool refused;
	bool recovered;
	bool from_store;      /* the region came from the fd store */
	bool stored;          /* handed to the fd store */
	bool upgrade;         /* requested */
	bool keep_refused;    /* a refused region stays where it is */
	uint64_t upgrade_by_ns; /* exec then even if clients are still served */
	const char *source;   /* "file", "fdstore", "upgrade", "new" */
	uint64_t epoch, prev_epoch;
	uint64_t taken_over;  /* envelopes in the rings at adoption */
	uint32_t n_killed;    /* old processes killed at adoption */
};

/* ---- configuration ------------------------------------------------------------ */

static char *join(const char *a, const char *b, const char *c)
{
	size_t len = strlen(a) + strlen(b) + strlen(c) + 1;
	char *s = malloc(len);
	if (s)
		snprintf(s, len, "%s%s%s", a, b, c);
	return s;
}

/* The runtime directory of node name's region (see act__recover_config()),
 * or NULL for none. */
static char *region_dir(const char *runtime_dir, const char *name)
{
	const char *env;

	if (runtime_dir)
		return *runtime_dir ? strdup(runtime_dir) : NULL;
	if ((env = getenv("RUNTIME_DIRECTORY")) && *env)
		/* systemd may list several, separated by ':': the first is ours. */
		return strndup(env, strcspn(env, ":"));
	if ((env = getenv("ACTORS_RUNTIME_DIR")) && *env == '/')
		/* in place of /run/actors (tests, packagers) */
		return join(env, "/", name);
	if (geteuid() == 0)
		return join("/run/actors/", name, "");
	if ((env = getenv("XDG_RUNTIME_DIR")) && *env == '/')
		return join(env, "/actors/", name);
	return NULL;
}

int act__recover_config(struct act_node *n, const char *runtime_dir, char **argv)
{
	struct act__recover *r = calloc(1, sizeof *r);
	char exe[4096];
	ssize_t len;
	size_t argc = 0;

	if (!r)
		return -ENOMEM;
	r->ctl_fd = -1;
	r->source = "new";
	r->dir = region_dir(runtime_dir, n->name);
	if (r->dir && !(r->path = join(r->dir, "/", REGION_NAME)))
		goto fail;
	len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (len > 0) {
		exe[len] = '\0';
		r->exe = strdup(exe);
	}
	while (argv && argv[argc])
		argc++;
	if (!(r->argv = calloc(argc + 1, sizeof *r->argv)))
		goto fail;
	for (size_t i = 0; i < argc; i++)
		if (!(r->argv[i] = strdup(argv[i])))
			goto fail;
	act__recover_free(n);
	n->rec = r;
	return 0;
fail:
	n->rec = r;
	act__recover_free(n);
	return -ENOMEM;
}

void act__recover_free(struct act_node *n)
{
	struct act__recover *r = n ? n->rec : NULL;

	if (!r)
		return;
	for (size_t i = 0; r->argv && r->argv[i]; i++)
		free(r->argv[i]);
	free(r->argv);
	free(r->dir);
	free(r->path);
	free(r->exe);
	free(r->ctl_path);
	if (r->ctl_fd >= 0)
		close(r->ctl_fd);
	free(r);
	n->rec = NULL;
}

void act__recover_keep_refused(struct act_node *n)
{
	if (n->rec)
		n->rec->keep_refused = true;
}

bool act__recover_adopted(const struct act_node *n)
{
	return n->rec && n->rec->recovered;
}

bool act__recover_refused(const struct act_node *n)
{
	return n->rec && n->rec->refused;
}

/* ---- systemd's fd store (the notify protocol, no libsystemd) ------------------- */

/* Sends state to $NOTIFY_SOCKET with fd (if >= 0) in SCM_RIGHTS.  0 or -errno. */
static int notify_fd(const char *state, int fd)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	union act__fd_cmsg cm;
	struct iovec iov = { (void *)state, strlen(state) };
	struct msghdr msg;
	size_t len;
	int s, err = 0;

	if (!path || (path[0] != '/' && path[0] != '@'))
		return -ENOENT;
	len = strlen(path);
	if (len >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	memset(&msg, 0, sizeof msg);
	msg.msg_name = &sa;
	msg.msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	act__fd_attach(&msg, &cm, fd);
	if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	/* Unlike a STATUS= line, an fd-store message must not be lost to a
	 * full queue (a datagram socket holds few): wait for room, bounded. */
	struct timeval tv = { 2, 0 };
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (sendmsg(s, &msg, MSG_NOSIGNAL) < 0)
		err = -errno;
	close(s);
	return err;
}

/*
 * Whether to hand the region to systemd's fd store: under systemd
 * ($NOTIFY_SOCKET) when the unit has one ($FDSTORE, the unit's
 * FileDescriptorStoreMax=, set by systemd 254 and later), or, with an
 * older systemd that does not say, when there is no region file to keep
 * it instead (runtime_dir "").  A store that is not there costs nothing
 * but systemd's log line; a region kept nowhere is lost with actorsd.
 */
static bool fdstore_wanted(const struct act__recover *r)
{
	const char *v = getenv("FDSTORE");

	if (!getenv("NOTIFY_SOCKET"))
		return false;
	if (v && *v)
		return strtoul(v, NULL, 10) > 0;
	return !r->path;
}

/* The fd systemd passed under name, from $LISTEN_FDS/$LISTEN_FDNAMES if
 * $LISTEN_PID is this process; -1 if none.  The others get FD_CLOEXEC. */
static int listen_fd(const char *name, bool peek)
{
	const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	long count;
	int found = -1;

	if (!pid || !nfds || strtol(pid, NULL, 10) != (long)getpid())
		return -1;
	count = strtol(nfds, NULL, 10);
	if (count < 1 || count > 4096)
		return -1;
	for (long i = 0; i < count; i++) {
		int fd = 3 + (int)i;
		size_t len = names ? strcspn(names, ":") : 0;
		if (found < 0 && names && len == strlen(name) && !strncmp(names, name, len))
			found = fd;
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		if (names)
			names = names[len] ? names + len + 1 : NULL;
	}
	if (peek)
		return found;
	/* Not for our children (nor for a re-executed us). */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return found;
}

/* "region=5,control=6": the fds a supervisor passed across execve(). */
static void upgrade_fds(int *region, int *ctl, bool peek)
{
	const char *s = getenv("ACTORS_UPGRADE_FDS");

	*region = *ctl = -1;
	while (s && *s) {
		char key[16];
		int fd = -1, used = 0;
		if (sscanf(s, "%15[a-z]=%d%n", key, &fd, &used) != 2 || fd < 3)
			break;
		struct stat st;
		if (fstat(fd, &st) == 0) {
			fcntl(fd, F_SETFD, FD_CLOEXEC);
			if (!strcmp(key, "region"))
				*region = fd;
			else if (!strcmp(key, "control"))
				*ctl = fd;
		}
		s += used;
		if (*s == ',')
			s++;
	}
	if (!peek)
		unsetenv("ACTORS_UPGRADE_FDS");
}

int act__recover_peek(const char *runtime_dir, const char *node, uint32_t *n_parts,
                      char (*names)[ACT_NAME_MAX + 1], bool *live, uint32_t cap)
{
	char why[256], *dir = NULL, *path = NULL;
	int fd, ctl, own = 0;
	act__shm shm;
	struct stat st;

	*n_parts = 0;
	upgrade_fds(&fd, &ctl, true);
	if (fd < 0)
		fd = listen_fd(REGION_NAME, true);
	if (fd < 0 && (dir = region_dir(runtime_dir, node)) && (path = join(dir, "/", REGION_NAME))) {
		/* As act__recover_region() opens it; anything odd is for it to
		 * refuse, with its reasons: here it is only not looked at. */
		fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		own = fd >= 0;
		if (own && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
		            (st.st_mode & 077))) {
			close(fd);
			fd = -1;
		}
	}
	free(dir);
	free(path);
	if (fd < 0)
		return 0;
	if (act__shm_attach(&shm, fd, 0, why, sizeof why) == 0) {
		*n_parts = shm.n_parts <= cap ? shm.n_parts : 0;
		for (uint32_t i = 0; i < *n_parts; i++) {
			const struct act__part *p = act__shm_part(&shm, i);
			snprintf(names[i], ACT_NAME_MAX + 1, "%.*s", (int)ACT_NAME_MAX, p->name);
			live[i] = !act__part_removed(p);
		}
	}
	act__shm_detach(&shm, 0);
	if (own)
		close(fd);
	return (int)*n_parts;
}

static uint64_t start_ticks(pid_t pid);

/* The supervisor region h names, if it is alive and not us (an upgrade
 * execs in place): another actorsd serves the node.  0 if none. */
static pid_t live_owner(const struct act__region *h)
{
	pid_t old = h->supervisor_pid;
	uint64_t since = atomic_load(&h->sup_start);

	return old > 1 && old != getpid() && since && start_ticks(old) == since ? old : 0;
}

pid_t act__recover_owner(const char *runtime_dir, const char *node)
{
	char *dir = region_dir(runtime_dir, node), *path = dir ? join(dir, "/", REGION_NAME) : NULL;
	struct act__region h;
	pid_t owner = 0;
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) : -1;

	free(dir);
	free(path);
	if (fd < 0)
		return 0;
	if (pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && h.magic == ACT__REGION_MAGIC)
		owner = live_owner(&h);
	close(fd);
	return owner;
}

/* ---- the old generation's processes ---------------------------------------------- */

/* Start time of pid (clock ticks since boot, /proc/PID/stat field 22), 0 if
 * gone; *flags (if not NULL) gets its kernel flags (field 9). */
static uint64_t start_ticks_flags(pid_t pid, unsigned long *flags)
{
	char path[64], buf[1024];
	const char *p;
	unsigned long long v = 0;
	ssize_t len;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	len = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	/* The command name may hold spaces and parentheses: count fields
	 * after the last ')', which ends field 2. */
	if (!(p = strrchr(buf, ')')))
		return 0;
	for (int field = 2; field < 22 && p; field++) {
		p = strchr(p + 1, ' ');
		if (field == 8 && p && flags && sscanf(p + 1, "%lu", flags) != 1)
			*flags = 0;
	}
	if (!p || sscanf(p + 1, "%llu", &v) != 1)
		return 0;
	return v;
}

static uint64_t start_ticks(pid_t pid)
{
	return start_ticks_flags(pid, NULL);
}

/* Kernel task flags (include/linux/sched.h): exiting, a kernel thread. */
#define TASK_PF_EXITING 0x00000004ul
#define TASK_PF_KTHREAD 0x00200000ul

/* Whether pid holds the file (dev, ino) open or mapped. */
static bool holds(pid_t pid, dev_t dev, ino_t ino)
{
	char path[64], line[512];
	struct dirent *de;
	struct stat st;
	bool found = false;
	DIR *d;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	if ((d = opendir(path))) {
		while (!found && (de = readdir(d))) {
			char fdp[384];
			if (de->d_name[0] == '.')
				continue;
			snprintf(fdp, sizeof fdp, "%s/%s", path, de->d_name);
			found = stat(fdp, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
		}
		closedir(d);
	}
	if (found)
		return true;
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	if (!(f = fopen(path, "re")))
		return false;
	while (!found && fgets(line, sizeof line, f)) {
		unsigned maj, min;
		unsigned long long inode;
		if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &inode) == 3)
			found = inode == (unsigned long long)ino && maj == major(dev) && min == minor(dev);
	}
	fclose(f);
	return found;
}

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * Kills every process of an earlier supervisor's generation still alive:
 * started at or after that supervisor (since_ticks), holding the region
 * (fd) open or mapped; never this process, its parent (systemd or a test
 * playing systemd hold the region in their fd store) or init.  Each is
 * signalled through a pidfd opened before the checks, so that a pid
 * recycled meanwhile is never hit.  Waits for them (bounded).  Returns
 * how many were killed, or -ETIMEDOUT if some would not die.
 */
static int kill_old(int fd, uint64_t since_ticks)
{
	struct stat rs;
	struct pollfd pf[MAX_OLD];
	pid_t pids[MAX_OLD];
	uint32_t n = 0;
	struct dirent *de;
	DIR *d;

	if (fstat(fd, &rs) < 0 || !(d = opendir("/proc")))
		return -errno;
	while ((de = readdir(d)) && n < MAX_OLD) {
		char *end;
		long v = strtol(de->d_name, &end, 10);
		if (!isdigit((unsigned char)de->d_name[0]) || *end || v <= 1)
			continue;
		pid_t pid = (pid_t)v;
		if (pid == getpid() || pid == getppid())
			continue;
		unsigned long flags = 0;
		uint64_t st = start_ticks_flags(pid, &flags);
		if (!st || st < since_ticks)
			continue;
		/* One already exiting shows no mappings while the kernel tears
		 * its address space down, and the files it mapped (their flock()
		 * locks too) stay open until that is done: a quick-reap holder
		 * whose worker died with the old supervisor.  Wait for it too. */
		bool exiting = (flags & TASK_PF_EXITING) && !(flags & TASK_PF_KTHREAD);
		int pfd = pidfd_open_(pid);
		if (pfd < 0)
			continue;
		/* The pidfd pins the process: these checks are about it unless it
		 * died meanwhile, and then the kill below fails harmlessly. */
		if (start_ticks(pid) != st || (!exiting && !holds(pid, rs.st_dev, rs.st_ino))) {
			close(pfd);
			continue;
		}
		if (syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH) {
			act__warn("cannot kill pid %d of the old generation: %s", (int)pid,
			          strerror(errno));
			close(pfd);
			continue;
		}
		act__info("killed pid %d of the previous supervisor's generation", (int)pid);
		pf[n] = (struct pollfd){ .fd = pfd, .events = POLLIN };
		pids[n++] = pid;
	}
	closedir(d);

	/* A pidfd is readable once its process exited: its mappings are gone
	 * then, so nothing of the old generation writes to the region any more. */
	uint64_t deadline = act__now_ns() + (uint64_t)KILL_WAIT_MS * 1000000u;
	int rc = (int)n;
	for (uint32_t i = 0; i < n; i++) {
		for (;;) {
			uint64_t now = act__now_ns();
			int left = now >= deadline ? 0 : (int)((deadline - now) / 1000000u) + 1;
			int r = poll(&pf[i], 1, left);
			if (r > 0)
				break;
			if (r == 0 || (r < 0 && errno != EINTR)) {
				act__err("pid %d of the old generation did not die within %d ms",
				         (int)pids[i], KILL_WAIT_MS);
				rc = -ETIMEDOUT;
				break;
			}
		}
		/* After an upgrade they are our own children: reap them. */
		waitpid(pids[i], NULL, WNOHANG);
		close(pf[i].fd);
	}
	return rc;
}

/* ---- adoption ------------------------------------------------------------------------ */

/* Envelopes (and system records) between done_pos and tail of ring r.
 * Walks the records with every step bounded; stops at anything odd. */
static uint64_t count_records(const struct act__ring *rg)
{
	uint64_t head = atomic_load_explicit(&rg->head, memory_order_acquire);
	uint64_t tail = atomic_load_explicit(&rg->tail, memory_order_acquire);
	uint64_t pos = atomic_load_explicit(&rg->done_pos, memory_order_relaxed), n = 0;
	uint32_t mask = rg->cap - 1;

	if (pos < head || pos > tail || (pos & 7))
		pos = head;
	while (pos < tail) {
		const struct act__rec *rec = (const struct act__rec *)(rg->data + (pos & mask));
		uint32_t len = rec->len;
		if (len < sizeof *rec || len > rg->cap || (pos & mask) + len > rg->cap)
			break;
		if (rec->kind == ACT__REC_MSG || rec->kind == ACT__REC_SYS)
			n++;
		pos += act__rec_round(len);
	}
	return n;
}

/* What differs between the region and the node as configured, or NULL. */
static const char *mismatch(const act__shm *shm, const struct act__part_spec *spec,
                            uint32_t np, char *buf, size_t cap)
{
	if (shm->n_parts != np) {
		int len = snprintf(buf, cap, "it has %u groups, the app file %u", shm->n_parts - 1,
		                   np - 1);
		/* A reload of the last supervisor removed groups (their slots
		 * stay in the region): say which, and how to adopt it.  Not
		 * those that lived in spare participants (the region's last
		 * ones, as many as the app file has spares): a removed tenant
		 * leaves its spare free, and listing it would be wrong. */
		uint32_t n_spares = 0;
		for (uint32_t i = 1; i < np; i++)
			n_spares += !strncmp(spec[i].name, "~spare-", 7);
		uint32_t first_spare = shm->n_parts > n_spares ? shm->n_parts - n_spares : 1;
		for (uint32_t i = 1; i < first_spare && len > 0 && (size_t)len < cap; i++) {
			struct act__part *p = act__shm_part(shm, i);
			if (act__part_removed(p) && strncmp(p->name, "~spare-", 7))
				len += snprintf(buf + len, cap - (size_t)len, "%s'%.64s'",
				                strstr(buf, "; removed by a reload") ? ", " :
				                "; removed by a reload (list them in the app file "
				                "again to adopt the region): ", p->name);
		}
		return buf;
	}
	for (uint32_t i = 1; i < np; i++) {
		const struct act__part *p = act__shm_part(shm, i);
		uint32_t slots = spec[i].max_spawned ? spec[i].max_spawned : ACT__DYN_SLOTS_DEFAULT;
		/* A spare participant (actorsd.c names them "~spare-N") whose
		 * group a reload removed is free again, whatever it was called. */
		bool free_spare = !strncmp(spec[i].name, "~spare-", 7) && act__part_removed(p);
		if (!free_spare && strncmp(p->name, spec[i].name, sizeof p->name))
			snprintf(buf, cap, "group %u is '%.64s' there, '%s' in the app file%s", i,
			         p->name, spec[i].name, !strncmp(spec[i].name, "~spare-", 7) ?
			         " (a group a reload added: list it in the app file, as the reload's file "
			         "did, to adopt the region)" : "");
		else if (p->ring_bytes != spec[i].ring_bytes)
			snprintf(buf, cap, "group '%s': ring_bytes %u there, %u in the app file",
			         spec[i].name, p->ring_bytes, spec[i].ring_bytes);
		else if (p->max_msg != spec[i].max_msg)
			snprintf(buf, cap, "group '%s': max_msg_bytes %u there, %u in the app file",
			         spec[i].name, p->max_msg, spec[i].max_msg);
		else if (shm->dyn[i].n_slots != slots)
			snprintf(buf, cap, "group '%s': max_spawned %u there, %u in the app file",
			         spec[i].name, shm->dyn[i].n_slots, slots);
		else
			continue;
		return buf;
	}
	return NULL;
}

/* Keeps a refused region for a human: the file renamed with a timestamp;
 * a region from the fd store re-stored under that name (and, with a
 * runtime directory, copied there too). */
static void move_aside(struct act_node *n, int fd)
{
	struct act__recover *r = n->rec;
	char stamp[32], name[64], *aside = NULL;
	time_t now = time(NULL);
	struct tm tm;
	struct stat a, b;
	bool ours = r->path && !r->from_store && stat(r->path, &a) == 0 &&
	            fstat(fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	/* A name no earlier refusal took (two in one second get .1, .2...). */
	for (int i = 0; i < 1000; i++) {
		if (i)
			snprintf(name, sizeof name, REGION_NAME ".refused-%s.%d", stamp, i);
		else
			snprintf(name, sizeof name, REGION_NAME ".refused-%s", stamp);
		free(aside);
		if (!r->path || !(aside = join(r->dir, "/", name)))
			break;
		if (ours ? link(r->path, aside) == 0 : access(aside, F_OK) < 0)
			break;
		if (errno != EEXIST && (ours || errno != ENOENT)) {
			act__err("cannot keep the region as %s: %s", aside, strerror(errno));
			break;
		}
	}
	if (aside) {
		if (ours) {
			/* linked above: the old name goes, the region stays */
			if (unlink(r->path) == 0)
				act__err("the old region is kept as %s", aside);
		} else {
			/* A copy of the fd store's region, for the operator. */
			int out = open(aside, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			char buf[65536];
			off_t off = 0;
			ssize_t got;
			while (out >= 0 && (got = pread(fd, buf, sizeof buf, off)) > 0) {
				if (write(out, buf, (size_t)got) != got)
					break;
				off += got;
			}
			if (out >= 0) {
				close(out);
				act__err("a copy of the old region is kept as %s", aside);
			}
		}
		free(aside);
	}
	if (r->from_store || fdstore_wanted(r)) {
		char msg[160];
		snprintf(msg, sizeof msg, "FDSTORE=1\nFDNAME=%s", name);
		if (notify_fd(msg, fd) == 0)
			act__err("the old region stays in the fd store as '%s'", name);
		notify_fd("FDSTOREREMOVE=1\nFDNAME=" REGION_NAME, -1);
	}
}

static int refuse(struct act_node *n, int fd, const char *where, const char *why)
{
	if (n->rec->keep_refused) {
		/* Its spare participants host groups a reload added: only an app
		 * file that lists them can adopt it, so it waits for one where
		 * it is (in the fd store too), never moved aside. */
		act__err("refusing the region found in %s: %s; not starting (exit 100). The region "
		         "stays where it is, for the app file of the last reload (it lists the "
		         "groups that reload added, which live in the region's spare participants), "
		         "with any removed group named above listed again",
		         where, why);
		n->rec->refused = true;
		return -EPROTO;
	}
	act__err("refusing the region found in %s: %s; not starting (exit 100). "
	         "Restore the app file it was made for, or remove the region after "
	         "reading it", where, why);
	move_aside(n, fd);
	n->rec->refused = true;
	return -EPROTO;
}

/*
 * Whether ring rg, whose bit in the touched bitmap is clear, was used all
 * the same: a clear bit says its pages were never written, so nobody reads
 * it, and whatever its positions say is lost (its consumer starts at 0 and
 * its producer writes from 0 over the records).  Only a bitmap scribbled on
 * makes this: the bit is set before the first record's tail is stored.
 * Read only where the file has data: a hole is zeros (SEEK_DATA skips it
 * without allocating a page); a ring whose header page exists but whose
 * positions are 0 (a producer killed while it formatted it) holds nothing.
 */
static bool untouched_but_used(int fd, const act__shm *shm, const struct act__ring *rg)
{
	off_t off = (off_t)((const unsigned char *)rg - shm->base);
	off_t data = lseek(fd, off, SEEK_DATA);

	if (data < 0 && errno == ENXIO)
		return false; /* no data from here to the end */
	if (data >= 0 && (uint64_t)data >= (uint64_t)off + sizeof *rg)
		return false;
	return atomic_load_explicit(&rg->tail, memory_order_relaxed) ||
	       atomic_load_explicit(&rg->head, memory_order_relaxed) ||
	       atomic_load_explicit(&rg->done_pos, memory_order_relaxed);
}

/* Validates the region behind fd and takes it over. */
static int adopt(struct act_node *n, int fd, const struct act__part_spec *spec, uint32_t np,
                 const char *where)
{
	struct act__recover *r = n->rec;
	char why[512], buf[256];
	const char *bad;
	int err;

	/* The directory hash last: the group checks say more precisely what
	 * differs, and most changes an operator makes are there. */
	err = act__shm_attach(&n->shm, fd, 0, why, sizeof why);
	if (err == -EPROTO)
		return refuse(n, fd, where, why);
	if (err) {
		act__err("cannot map the region found in %s: %s", where, act_strerror(err));
		return err;
	}
	if (!(bad = mismatch(&n->shm, spec, np, buf, sizeof buf)) &&
	    n->shm.hdr->directory_hash != n->dir_hash)
		bad = "the actors or message types differ from the app file's (their ids "
		      "in the queued envelopes would name others)";
	/* Every ring's table entry and header, as loop.c will resolve them:
	 * a region that passes here cannot fail the setup after its adoption
	 * (which would exit 111 and be adopted again at every start). */
	for (uint32_t from = 0; !bad && from < np; from++)
		for (uint32_t to = 0; !bad && to < np; to++) {
			act__ring_h rh;
			int e = act__shm_ring(&n->shm, from, to, &rh);
			const char *what = e ? act_strerror(e) : NULL;
			if (!e && !act__shm_ring_touched(&n->shm, from, to) &&
			    untouched_but_used(fd, &n->shm, rh.r))
				what = "it holds positions, but its bit in the touched bitmap is clear";
			if (what) {
				snprintf(buf, sizeof buf, "the ring %s -> %s is damaged (%s)",
				         from ? n->reg.groups[from - 1].name : "supervisor",
				         to ? n->reg.groups[to - 1].name : "supervisor", what);
				bad = buf;
			}
		}
	if (bad) {
		act__shm_detach(&n->shm, 0);
		return refuse(n, fd, where, bad);
	}
	struct act__region *h = n->shm.hdr;
	pid_t old = h->supervisor_pid;
	uint64_t since = atomic_load(&h->sup_start);
	if (live_owner(h)) {
		act__err("the region in %s belongs to a running actorsd (pid %d): not starting "
		         "a second supervisor for node '%s'", where, (int)old, n->name);
		act__shm_detach(&n->shm, 0);
		r->refused = true; /* but not moved aside: it is in use */
		return -EBUSY;
	}
	int killed = kill_old(fd, since);
	if (killed < 0) {
		act__shm_detach(&n->shm, 0);
		return killed;
	}
	r->n_killed = (uint32_t)killed;

	/* Every worker of the old generation is dead: the region is ours. */
	r->prev_epoch = atomic_load(&h->epoch);
	r->epoch = r->prev_epoch + 1;
	atomic_store(&h->epoch, r->epoch);
	atomic_fetch_add(&h->n_adoptions, 1);
	h->supervisor_pid = getpid();
	atomic_store(&h->sup_start, start_ticks(getpid()));
	atomic_store(&h->stopping, 0);
	r->recovered = true;
	r->taken_over = 0;
	for (uint32_t to = 0; to < np; to++) {
		/* A group done or failed under the last supervisor had no worker
		 * for it to take down: its last worker's end was its own, and
		 * already counted against the envelope it had in hand. */
		bool ended_before = false;
		if (to != ACT__SUPERVISOR) {
			struct act__part *p = act__shm_part(&n->shm, to);
			/* No pid: the last supervisor reaped the group's last
			 * worker and judged its death (counted it against the
			 * envelope it had in hand, or forgave it: group.c), as
			 * when the poison killed it and the group waited out its
			 * backoff.  Only a worker alive at the end (killed with
			 * the supervisor) is forgiven here. */
			ended_before = atomic_load_explicit(&p->gone, memory_order_relaxed) != 0 ||
			               atomic_load(&p->pid) == 0;
			atomic_store(&p->pid, 0);
			atomic_store(&p->state, ACT__PS_DOWN);
		}
		for (uint32_t from = 0; from < np; from++) {
			act__ring_h rh;
			uint64_t pos;
			uint32_t count;
			/* An untouched ring holds nothing (and reading it would
			 * cost a page). */
			if (!act__shm_ring_touched(&n->shm, from, to) ||
			    act__shm_ring(&n->shm, from, to, &rh))
				continue; /* checked again, and reported, by loop.c */
			/* What a dead worker committed and had not published (the
			 * rest of a burst, ring.h) is published before it is
			 * counted or read. */
			if (from != ACT__SUPERVISOR)
				act__ring_promote(rh.r);
			if (to == ACT__SUPERVISOR)
				continue; /* the supervisor's own inbound rings: only that */
			r->taken_over += count_records(rh.r);
			/* The envelope a killed worker had in hand comes back flagged
			 * redelivered; the kill came from outside, so it does not
			 * count toward max_redeliveries. */
			if (!ended_before && act__ring_inflight(rh.r, &pos, &count))
				act__ring_forgive(rh.r);
		}
	}
	/* Correlation ids of this incarnation's client asks never meet a
	 * reply to one of the last incarnation's. */
	n->next_corr = r->epoch << 40;
	act__info("adopted the region from %s: epoch %llu -> %llu, %llu envelopes taken over, "
	          "%u old processes killed", where, (unsigned long long)r->prev_epoch,
	          (unsigned long long)r->epoch, (unsigned long long)r->taken_over, r->n_killed);
	return 0;
}

/* mkdir -p dir, 0700 for what we make. */
static int make_dir(const char *dir)
{
	char *p = strdup(dir);
	int err = 0;

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			err = -errno;
		*s = '/';
	}
	if (!err && mkdir(p, 0700) < 0 && errno != EEXIST)
		err = -errno;
	free(p);
	return err;
}

/* What a non-regular file mode is, for a message. */
static const char *kind_of(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISLNK(m) ? "a symbolic link" :
	       S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" :
	       S_ISCHR(m) || S_ISBLK(m) ? "a device" : "not a regular file";
}

/*
 * Refuses what was found at the region's path that is not a regular file
 * (exit 100, as for any refused region): it is never opened nor followed
 * (a symlink could lead anywhere), nor deleted, but renamed aside, the
 * link itself and not its target, so that the next start makes a region.
 */
static int refuse_not_file(struct act_node *n, mode_t mode)
{
	struct act__recover *r = n->rec;
	char stamp[32], name[64], *aside = NULL;
	time_t now = time(NULL);
	struct tm tm;

	act__err("refusing the region found in %s: it is %s, not a region file; not "
	         "starting (exit 100). Remove it or move it away", r->path, kind_of(mode));
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, i ? REGION_NAME ".refused-%s.%d" : REGION_NAME
		         ".refused-%s", stamp, i);
		free(aside);
		struct stat st;
		if (!(aside = join(r->dir, "/", name)) || lstat(aside, &st) < 0)
			break;
	}
	if (aside && rename(r->path, aside) == 0)
		act__err("it is kept as %s", aside);
	else if (aside)
		act__err("cannot move it aside to %s: %s", aside, strerror(errno));
	free(aside);
	r->refused = true;
	return -EPROTO;
}

static int region(struct act_node *n, const struct act__part_spec *spec, uint32_t np)
{
	struct act__recover *r = n->rec;
	int fd = -1, ctl = -1, err;

	upgrade_fds(&fd, &ctl, false);
	if (ctl >= 0)
		r->ctl_fd = ctl;
	if (fd >= 0) {
		r->source = "upgrade";
		return adopt(n, fd, spec, np, "the upgrade hand-over");
	}
	if ((fd = listen_fd(REGION_NAME, false)) >= 0) {
		r->source = "fdstore";
		r->from_store = true;
		return adopt(n, fd, spec, np, "the fd store");
	}
	if (r->path) {
		struct stat st;
		/* Only a regular file can be a region: look before opening (a
		 * device or FIFO must not even be opened), and again after, in
		 * case it was swapped in between. */
		if (lstat(r->path, &st) == 0 && !S_ISREG(st.st_mode))
			return refuse_not_file(n, st.st_mode);
		if ((fd = open(r->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) >= 0) {
			if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
				close(fd);
				return refuse_not_file(n, st.st_mode);
			}
			/* Ours alone, as we make it (0600): whoever else can
			 * write it (who planted it, in a directory others can
			 * write) could map it and put envelopes in its rings, or
			 * read every message that passes. */
			if (st.st_uid != geteuid() || (st.st_mode & 077)) {
				char why[200];
				snprintf(why, sizeof why, "the file is owned by uid %u with mode %04o, "
				         "but a region must be ours (uid %u) and mode 0600: anyone "
				         "else who can open it can read and write every ring",
				         (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
				         (unsigned)geteuid());
				err = refuse(n, fd, r->path, why);
				close(fd);
				return err;
			}
			r->source = "file";
			return adopt(n, fd, spec, np, r->path);
		}
		if (errno == ELOOP || errno == EISDIR)
			return refuse_not_file(n, errno == ELOOP ? S_IFLNK : S_IFDIR);
		if (errno != ENOENT) {
			err = -errno;
			act__err("cannot open the region %s: %s", r->path, strerror(errno));
			return err;
		}
		if ((err = make_dir(r->dir))) {
			act__err("cannot make the runtime directory %s: %s", r->dir, act_strerror(err));
			return err;
		}
		struct statfs sf;
		if (statfs(r->dir, &sf) == 0 && sf.f_type != 0x01021994 /* TMPFS_MAGIC */)
			act__warn("runtime directory %s is not on tmpfs: the region's pages will be "
			          "written back to disk", r->dir);
		err = act__shm_create_file(&n->shm, spec, np, n->reg.n_actors, n->reg.n_types,
		                           n->dir_hash, r->path);
		if (err) {
			act__err("cannot create the region %s: %s", r->path, act_strerror(err));
			return err;
		}
	} else {
		err = act__shm_create(&n->shm, spec, np, n->reg.n_actors, n->reg.n_types,
		                      n->dir_hash);
		if (err)
			return err;
	}
	r->epoch = 1;
	atomic_store(&n->shm.hdr->sup_start, start_ticks(getpid()));
	return 0;
}

int act__recover_region(struct act_node *n, const struct act__part_spec *spec, uint32_t np)
{
	struct act__recover *r = n->rec;
	int err = region(n, spec, np);

	/* A region file can be truncated under us (only a memfd is sealed):
	 * from now on that is a logged stop, not a silent SIGBUS. */
	if (!err && r->path && n->shm.base) {
		int e = act__regionguard_arm(&n->shm, r->path, r->dir);
		if (e)
			act__warn("cannot watch the region file %s for truncation: %s", r->path,
			          act_strerror(e));
	}
	return err;
}

/* ---- after setup, teardown ---------------------------------------------------------- */

void act__recover_started(struct act_node *n)
{
	struct act__recover *r = n->rec;

	if (!r)
		return;
	if (fdstore_wanted(r)) {
		int err = notify_fd("FDSTORE=1\nFDNAME=" REGION_NAME, n->shm.fd);
		r->stored = err == 0;
		if (err)
			act__warn("cannot hand the region to systemd's fd store: %s", act_strerror(err));
	}
	act__regionguard_in_store(r->stored || r->from_store);
	if (!r->recovered)
		return;
	/* What the old workers wrote to the supervisor (dead letters, replies,
	 * outbound envelopes, a READY that is no longer true) is read now,
	 * while every group is down, so that no stale READY passes for a new
	 * worker's.  Bounded: each pass reads up to 1024 records a ring. */
	for (int pass = 0; pass < 64; pass++) {
		bool more = false;
		act__route_drain(n);
		for (uint32_t s = 1; s <= n->reg.n_groups; s++)
			more |= act__shm_ring_touched(&n->shm, s, 0) && act__ring_depth(n->in[s].r) > 0;
		if (!more || n->out_blocked)
			break;
	}
}

bool act__recover_keeps_region(const struct act_node *n)
{
	const struct act__recover *r = n->rec;

	if (!r)
		return false; /* a memfd: it goes with the process */
	/* Only a node that ran and stopped cleanly removes its region: a
	 * setup that failed after adopting one (an endpoint still in use, exit
	 * 111) must leave its envelopes for the next try. */
	if (!n->stop_done && !r->recovered && !r->refused)
		/* A region made by this run, which never got to run (a module
		 * that did not load: exit 100): nothing was accepted into it, and
		 * left behind it would stand in the way of the fixed app file. */
		return false;
	/* Not a clean stop: the next start takes over what is left. */
	return !n->stop_done || n->exit_code != ACT_EXIT_OK || r->refused;
}

void act__recover_teardown(struct act_node *n)
{
	struct act__recover *r = n->rec;

	if (!n->shm.base)
		return;
	act__regionguard_disarm();
	if (!r) {
		act__shm_destroy(&n->shm);
		return;
	}
	if (act__recover_keeps_region(n)) {
		if (!r->refused)
			act__info("region kept for the next start (exit %d)%s%s", n->exit_code,
			          r->path ? " in " : "", r->path ? r->path : "");
		act__shm_detach(&n->shm, 1);
		return;
	}
	if (r->path) {
		struct stat a, b;
		/* Ours only: never a region another process put there since. */
		if (stat(r->path, &a) == 0 && fstat(n->shm.fd, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			unlink(r->path);
	}
	if (r->stored || r->from_store)
		notify_fd("FDSTOREREMOVE=1\nFDNAME=" REGION_NAME, -1);
	act__shm_destroy(&n->shm);
}

/* ---- upgrade ------------------------------------------------------------------------- */

void act__recover_request_upgrade(struct act_node *n)
{
	if (n->rec)
		n->rec->upgrade = true;
}

/* Whether an upgrade can be attempted now (says why not). */
static bool upgrade_possible(struct act_node *n)
{
	struct act__recover *r = n->rec;

	if (!r->exe || !r->argv || !r->argv[0]) {
		act__err("upgrade: the binary's path is unknown; not upgrading");
		return false;
	}
	if (access(r->exe, X_OK) < 0) {
		act__err("upgrade: %s: %s; not upgrading", r->exe, strerror(errno));
		return false;
	}
	if (n->stopping) {
		act__warn("upgrade: the node is stopping; not upgrading");
		return false;
	}
	return true;
}

void act__recover_poll(struct act_node *n)
{
	struct act__recover *r = n->rec;
	char fds[64], *env = NULL;
	int ctl = -1;

	if (!r || !r->upgrade)
		return;
	if (!r->upgrade_by_ns && !upgrade_possible(n)) {
		r->upgrade = false;
		return;
	}
	/* Requests in progress on the control socket are finished first (at
	 * most UPGRADE_WAIT_MS); new clients wait in the socket's queue. */
	uint64_t now = act__now_ns();
	if (!r->upgrade_by_ns)
		r->upgrade_by_ns = now + UPGRADE_WAIT_MS * 1000000ull;
	if (!act__ctl_pause(n->ctl) && now < r->upgrade_by_ns)
		return;
	r->upgrade = false;
	r->upgrade_by_ns = 0;
	ctl = act__ctl_listen_fd(n->ctl);
	if (ctl >= 0)
		snprintf(fds, sizeof fds, "region=%d,control=%d", n->shm.fd, ctl);
	else
		snprintf(fds, sizeof fds, "region=%d", n->shm.fd);
	if (!(env = join("ACTORS_UPGRADE_FDS=", fds, ""))) {
		act__err("upgrade: out of memory; not upgrading");
		return;
	}
	act__info("upgrade: re-executing %s (the workers restart on their rings)", r->exe);
	/* The gateway's ZeroMQ sockets cannot cross exec: closing it lets its
	 * linger flush what it accepted to send; the new process binds the
	 * same endpoint again. */
	act__gw_free(n->gw);
	n->gw = NULL;
	fcntl(n->shm.fd, F_SETFD, 0);
	if (ctl >= 0)
		fcntl(ctl, F_SETFD, 0);
	putenv(env); /* owned by the environment from here */
	execv(r->exe, r->argv);
	act__err("upgrade: execv %s failed: %s; stopping (the next start adopts the region)",
	         r->exe, strerror(errno));
	unsetenv("ACTORS_UPGRADE_FDS");
	fcntl(n->shm.fd, F_SETFD, FD_CLOEXEC);
	if (ctl >= 0)
		fcntl(ctl, F_SETFD, FD_CLOEXEC);
	/* Without its gateway the node cannot serve its endpoint: stop, and
	 * keep the region (non-zero exit) for the restart. */
	act__node_stop(n, ACT_EXIT_TEMPORARY, "upgrade failed");
}

int act__recover_ctl_fd(struct act_node *n, const char *path)
{
	struct act__recover *r = n->rec;
	struct sockaddr_un sa;
	socklen_t len = sizeof sa;
	int fd;

	if (!r || r->ctl_fd < 0)
		return -1;
	fd = r->ctl_fd;
	r->ctl_fd = -1;
	/* Only the very socket at that path, still listening. */
	int listening = 0;
	socklen_t ll = sizeof listening;
	memset(&sa, 0, sizeof sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || sa.sun_family != AF_UNIX ||
	    strncmp(sa.sun_path, path, sizeof sa.sun_path) ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) < 0 || !listening) {
		act__warn("upgrade: the inherited control socket is not %s; binding anew", path);
		close(fd);
		return -1;
	}
	return fd;
}

void act__recover_status(const struct act_node *n, cJSON *o)
{
	const struct act__recover *r = n->rec;

	cJSON_AddBoolToObject(o, "recovered", r && r->recovered);
	if (!r)
		return;
	cJSON_AddNumberToObject(o, "epoch", (double)r->epoch);
	cJSON_AddNumberToObject(o, "previous_epoch", (double)r->prev_epoch);
	cJSON_AddNumberToObject(o, "taken_over", (double)r->taken_over);
	cJSON_AddStringToObject(o, "region_source", r->source);
	if (r->path)
		cJSON_AddStringToObject(o, "region", r->path);
	else
		cJSON_AddNullToObject(o, "region");
}
