/* SPDX-License-Identifier: MIT */
/*
 * spawn.c - the zygote process and the worker's first steps.
 *
 * Request: { self, start } over a SOCK_SEQPACKET socketpair; reply:
 * { err, pid }.  Self 0 asks for a prefork (spawn.h): the reply then
 * carries (SCM_RIGHTS) our end of the prefork's own assignment socket,
 * on which the supervisor later sends it the same record.  The zygote is
 * single-threaded and never runs user code; workers run it only after
 * they detached from the zygote.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "phase.h"
#include "registry.h"
#include "fdpass.h"
#include "spawn.h"

/* A start request to the zygote, or an assignment to a prefork. */
struct req {
	uint32_t self;     /* 0: make a prefork */
	uint32_t standby;
	act_start start;
};

struct rep {
	int32_t err;
	int32_t pid;
};

/*
 * Names this process "actorsd: TITLE" in ps and top: the kernel's comm
 * (15 bytes, TITLE truncated: what top, pgrep and the journal's _COMM
 * show) and the argument area (what ps -f and /proc/PID/cmdline show).
 * The zygote and the workers are forks, so argv[0] of the supervisor is
 * program_invocation_name; the area's length is what /proc/self/cmdline
 * reads, and it is only rewritten if that starts with argv[0] as
 * expected.  Never fails: a title is a courtesy.
 */
static ssize_t title_len; /* the area's length, once known (inherited by forks) */

static void set_title(const char *title)
{
	char cmd[4096], full[256];
	ssize_t len = 0, r;
	int fd;

	prctl(PR_SET_NAME, title);
	snprintf(full, sizeof full, "actorsd: %s", title);
	if (title_len > 0) {
		/* The zygote checked and rewrote the area: a worker, forked
		 * from it, need not read /proc again (~20 us of a restart). */
		char *a0 = program_invocation_name;
		memset(a0, 0, (size_t)title_len);
		memcpy(a0, full, strlen(full) < (size_t)title_len - 1 ? strlen(full) :
		       (size_t)title_len - 1);
		return;
	}
	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	while (len < (ssize_t)sizeof cmd && (r = read(fd, cmd + len, sizeof cmd - (size_t)len)) > 0)
		len += r;
	close(fd);
	char *a0 = program_invocation_name;
	if (!a0 || len < 2 || len >= (ssize_t)sizeof cmd || memchr(cmd, '\0', (size_t)len) == NULL ||
	    strcmp(cmd, a0) != 0)
		return;
	memset(a0, 0, (size_t)len);
	memcpy(a0, full, strlen(full) < (size_t)len - 1 ? strlen(full) : (size_t)len - 1);
	title_len = len;
}

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * A prefork, adopted: sleeps in read() on its assignment socket until the
 * supervisor hands it a group.  EOF: the supervisor stopped, or exec'd
 * itself (its end is O_CLOEXEC), without using us.
 */
static void await_assignment(struct req *rq, int assign_rd)
{
	ssize_t n;
	do {
		n = read(assign_rd, rq, sizeof *rq);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof *rq || rq->self == 0)
		_exit(0);
	act__phase(ACT__PH_ASSIGNED);
}

/*
 * Runs in the worker: detach, wait to be adopted, then become the group
 * (or, for a prefork, wait for a group first).  release is the read end
 * of a pipe whose only write end the zygote closes after it reaped our
 * intermediate parent: EOF on it means that we were re-parented (to the
 * supervisor, unless the supervisor is gone).
 */
static void worker_child(const struct act__worker_args *tmpl, const struct req *req,
                         pid_t supervisor, int sock, int release, int assign_rd)
{
	struct act__worker_args a = *tmpl;
	struct req asg = *req;
	const struct req *rq = &asg;
	sigset_t none;
	char c;

	act__phase(ACT__PH_CHILD);
	close(sock);
	setpgid(0, 0); /* own process group: the supervisor signals it as a unit */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);

	/* The kernel re-parents us when the intermediate exits, before the
	 * zygote can reap it; the zygote closes the write end right after it
	 * reaped it, so once this read returns we are adopted, and until then
	 * we sleep (no spin, and no deadline: however slow the intermediate's
	 * exit, the zygote's reap is what ends the wait).  Only then can a
	 * parent-death signal refer to the supervisor. */
	while (read(release, &c, 1) < 0 && errno == EINTR)
		;
	close(release);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(ACT_EXIT_TEMPORARY);
	/* The supervisor (or the zygote, before it reaped our parent) may have
	 * died before the prctl: then we were adopted by someone else. */
	if (getppid() != supervisor)
		_exit(ACT_EXIT_TEMPORARY);
	act__phase(ACT__PH_ADOPTED);

	char title[200];
	const char *node = act__log_node();
	struct worker *prepared = NULL;
	if (rq->self == 0) {
		snprintf(title, sizeof title, "%s%sprefork", node, node[0] ? "/" : "");
		set_title(title);
		/* What does not depend on the group is done before the wait. */
		prepared = act__worker_prepare(tmpl);
		await_assignment(&asg, assign_rd);
	}
	if (assign_rd >= 0)
		close(assign_rd);
	snprintf(title, sizeof title, "%s%s%.80s%s", node, node[0] ? "/" : "",
	         rq->self >= 1 && rq->self <= tmpl->reg->n_groups ?
	         tmpl->reg->groups[rq->self - 1].name : "?", rq->standby ? " (standby)" : "");
	set_title(title);
	a.self = rq->self;
	a.start = rq->start;
	a.standby = rq->standby != 0;
	if (tmpl->worker_init) {
		/* The registry is this process's copy (the zygote's, forked). */
		int rc = tmpl->worker_init((struct act__registry *)tmpl->reg, rq->self,
		                           tmpl->worker_init_arg);
		if (rc)
			_exit(rc);
	}
	_exit(act__worker_main_prepared(&a, prepared));
}

/* Sends the reply, with fd attached when it is not -1. */
static ssize_t send_rep(int sock, const struct rep *rp, int fd)
{
	union act__fd_cmsg u;
	struct iovec iov = { (void *)rp, sizeof *rp };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	act__fd_attach(&m, &u, fd);
	return sendmsg(sock, &m, MSG_NOSIGNAL);
}

static void zygote_main(const struct act__worker_args *tmpl, int sock, pid_t supervisor)
{
	struct req rq;
	char title[100];
	snprintf(title, sizeof title, "%.63s%szygote", act__log_node(),
	         act__log_node()[0] ? "/" : "");
	set_title(title);
	act__log_set_ident("zygote");
	signal(SIGINT, SIG_IGN);   /* the supervisor decides how to stop */
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != supervisor)
		_exit(ACT_EXIT_TEMPORARY);

	/* Readiness handshake: one reply before the first request says
	 * whether the zygote could prepare (e.g. load every module). */
	struct rep hello = { 0, 0 };
	if (tmpl->zygote_init)
		hello.err = tmpl->zygote_init(tmpl->zygote_arg);
	if (send(sock, &hello, sizeof hello, MSG_NOSIGNAL) < 0 || hello.err)
		_exit(hello.err ? ACT_EXIT_PERMANENT : 0);

	for (;;) {
		ssize_t n = recv(sock, &rq, sizeof rq, 0);
		struct rep rp = { 0, 0 };
		int pfd[2], rel[2], asg[2] = { -1, -1 };
		pid_t mid;

		if (n == 0 || (n < 0 && errno != EINTR))
			_exit(0); /* supervisor closed its end */
		if (n != (ssize_t)sizeof rq)
			continue;
		act__phase(ACT__PH_ZYGOTE);
		/* A socket, not a pipe: the supervisor's send to a prefork
		 * that died must not raise SIGPIPE in a process that may be
		 * the user's own (embedded). */
		if (rq.self == 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, asg) < 0) {
			rp.err = -errno;
			goto reply;
		}
		if (pipe2(pfd, O_CLOEXEC) < 0) {
			rp.err = -errno;
			goto reply;
		}
		if (pipe2(rel, O_CLOEXEC) < 0) {
			rp.err = -errno;
			close(pfd[0]);
			close(pfd[1]);
			goto reply;
		}
		mid = fork();
		if (mid < 0) {
			rp.err = -errno;
			close(pfd[0]);
			close(pfd[1]);
			close(rel[0]);
			close(rel[1]);
			goto reply;
		}
		if (mid == 0) {
			close(pfd[0]);
			close(rel[1]);
			pid_t w = fork();
			if (w == 0) {
				close(pfd[1]);
				if (asg[1] >= 0)
					close(asg[1]);
				worker_child(tmpl, &rq, supervisor, sock, rel[0], asg[0]);
			}
			int32_t v = w < 0 ? -errno : (int32_t)w;
			ssize_t wr = write(pfd[1], &v, sizeof v);
			_exit(wr == (ssize_t)sizeof v ? 0 : 1);
		}
		close(pfd[1]);
		close(rel[0]);
		if (asg[0] >= 0)
			close(asg[0]); /* the prefork's end; ours goes to the supervisor */
		asg[0] = -1;
		int32_t v = -EIO;
		ssize_t rd;
		do {
			rd = read(pfd[0], &v, sizeof v);
		} while (rd < 0 && errno == EINTR);
		close(pfd[0]);
		/* Reaping the intermediate is what re-parents the worker: after
		 * this returns, the worker is the supervisor's child. */
		while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
			;
		close(rel[1]); /* releases the worker (worker_child) */
		if (rd != (ssize_t)sizeof v)
			v = -EIO;
		if (v < 0)
			rp.err = v;
		else
			rp.pid = v;
reply:
		if (rp.err || rp.pid <= 0) {
			if (asg[0] >= 0)
				close(asg[0]);
			if (asg[1] >= 0)
				close(asg[1]);
			asg[1] = -1;
		}
		ssize_t sent = send_rep(sock, &rp, asg[1]);
		if (asg[1] >= 0)
			close(asg[1]);
		if (sent < 0)
			_exit(0);
	}
}

/*
 * Waits until child pid (pidfd) has exited or timeout_ms passed, reaps it
 * and stores its wait status.  0, or -ETIMEDOUT with the child untouched.
 */
static int wait_child(pid_t pid, int pidfd, uint32_t timeout_ms, int *status)
{
	uint64_t deadline = act__now_ns() + (uint64_t)timeout_ms * 1000000u;
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	while (pidfd >= 0) {
		uint64_t now = act__now_ns();
		int r;
		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)((deadline - now + 999999u) / 1000000u));
		if (r > 0 || (r < 0 && errno != EINTR))
			break;
	}
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR) {
			*status = 0;
			break;
		}
	return 0;
}

int act__spawner_start(act__spawner *sp, const struct act__worker_args *tmpl)
{
	uint32_t timeout_ms = sp->init_timeout_ms ? sp->init_timeout_ms : ACT__SPAWN_INIT_TIMEOUT_MS;
	uint64_t deadline;
	int sv[2], zfd, err = 0;
	pid_t me = getpid();

	sp->zygote = -1;
	sp->sock = -1;
	sp->prefork_wr = -1;
	sp->prefork = 0;
	sp->prefork_pidfd = -1;
	sp->prefork_not_before_ns = 0;
	const char *pf = getenv("ACTORS_PREFORK");
	sp->no_prefork = pf && strcmp(pf, "0") == 0;
	sp->init_status = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid_t z = fork();
	if (z < 0) {
		err = -errno;
		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (z == 0) {
		close(sv[0]);
		zygote_main(tmpl, sv[1], me);
		_exit(0);
	}
	close(sv[1]);
	sp->zygote = z;
	sp->sock = sv[0];
	/* Watch the process as well as the socket: a module may have forked
	 * a child that keeps the zygote's end of the socket open. */
	zfd = pidfd_open_(z);
	if (zfd >= 0)
		fcntl(zfd, F_SETFD, FD_CLOEXEC);

	/* A stop signal the caller blocked (to take it through a signalfd
	 * later) must not wait for the modules: watch it too, without reading
	 * it, so that it stays pending for the caller. */
	sigset_t blocked, stops;
	int sfd = -1;
	sigemptyset(&stops);
	if (sigprocmask(SIG_SETMASK, NULL, &blocked) == 0) {
		static const int stop_sigs[] = { SIGINT, SIGTERM, SIGHUP };
		for (size_t i = 0; i < sizeof stop_sigs / sizeof stop_sigs[0]; i++)
			if (sigismember(&blocked, stop_sigs[i]) == 1)
				sigaddset(&stops, stop_sigs[i]);
		if (!sigisemptyset(&stops))
			sfd = signalfd(-1, &stops, SFD_CLOEXEC | SFD_NONBLOCK);
	}

	/* The zygote runs the modules' code before it answers: wait with a
	 * deadline, and tell a hang or a death from a refusal. */
	deadline = act__now_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		struct pollfd p[3] = { { .fd = sp->sock, .events = POLLIN },
		                       { .fd = zfd, .events = POLLIN },
		                       { .fd = sfd, .events = POLLIN } };
		uint64_t now = act__now_ns();
		struct rep hello;
		ssize_t n;
		int r;

		if (now >= deadline) {
			kill(z, SIGKILL);
			err = -ETIMEDOUT;
			break;
		}
		r = poll(p, 3, (int)((deadline - now + 999999u) / 1000000u));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			kill(z, SIGKILL);
			break;
		}
		if (r == 0)
			continue;
		if (p[0].revents) {
			n = recv(sp->sock, &hello, sizeof hello, MSG_DONTWAIT);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n == (ssize_t)sizeof hello) {
				err = hello.err;
				break;
			}
			err = -ECHILD; /* closed without a word: it died */
			break;
		}
		if (p[1].revents) {
			/* Exited; an answer it sent before that is still queued. */
			n = recv(sp->sock, &hello, sizeof hello, MSG_DONTWAIT);
			err = n == (ssize_t)sizeof hello ? hello.err : -ECHILD;
			break;
		}
		if (p[2].revents) {
			act__info("stop signal received while the zygote was starting; stopping");
			kill(z, SIGKILL);
			err = -EINTR;
			break;
		}
	}
	if (sfd >= 0)
		close(sfd);
	if (err == 0) {
		if (zfd >= 0)
			close(zfd);
		return 0;
	}
	close(sp->sock);
	sp->sock = -1;
	if (err == -ECHILD || err == -ETIMEDOUT || err == -EINTR) {
		/* Reap it here to keep its status; SIGKILL was sent on a timeout. */
		if (wait_child(z, zfd, 5000, &sp->init_status) == -ETIMEDOUT) {
			kill(z, SIGKILL);
			wait_child(z, zfd, 5000, &sp->init_status);
		}
		sp->zygote = -1;
	}
	if (zfd >= 0)
		close(zfd);
	act__spawner_stop(sp);
	return err;
}

int act__spawner_spawn(act__spawner *sp, uint32_t self, const act_start *start,
                       pid_t *pid, int *pidfd)
{
	return act__spawner_spawn2(sp, self, start, false, pid, pidfd);
}

/* One request to the zygote and its answer: a forked, adopted child, and
 * for a prefork (self 0) our end of its assignment socket in *wr. */
static int zygote_request(act__spawner *sp, const struct req *rqp, pid_t *pid, int *pidfd,
                          int *wr)
{
	struct req rq = *rqp;
	struct rep rp;
	ssize_t n;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { &rp, sizeof rp };
	struct msghdr m;
	int fd = -1;

	if (sp->sock < 0)
		return -EPIPE;
	if (send(sp->sock, &rq, sizeof rq, MSG_NOSIGNAL) != (ssize_t)sizeof rq)
		return -EPIPE;
	act__phase(ACT__PH_SPAWN_REQ);
	/* The zygote only forks (no user code runs there after its start),
	 * so an answer that does not come in time means it is stuck: give up
	 * on it rather than block the supervisor's loop.  Its death is then
	 * seen like any other (the node stops with a temporary failure). */
	struct pollfd p = { .fd = sp->sock, .events = POLLIN };
	int r;
	do {
		r = poll(&p, 1, ACT__SPAWN_FORK_TIMEOUT_MS);
	} while (r < 0 && errno == EINTR);
	if (r <= 0) {
		act__err("the zygote did not answer a start request within %d ms; killing it",
		         ACT__SPAWN_FORK_TIMEOUT_MS);
		kill(sp->zygote, SIGKILL);
		close(sp->sock);
		sp->sock = -1;
		return -ETIMEDOUT;
	}
	do {
		memset(&m, 0, sizeof m);
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = u.buf;
		m.msg_controllen = sizeof u.buf;
		n = recvmsg(sp->sock, &m, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n >= 0) {
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof fd);
	}
	if (n != (ssize_t)sizeof rp || rp.err || (rq.self == 0) != (fd >= 0)) {
		if (fd >= 0)
			close(fd);
		if (n == (ssize_t)sizeof rp && rp.pid > 0)
			kill(rp.pid, SIGKILL); /* a prefork without its socket: useless */
		return n != (ssize_t)sizeof rp ? -EPIPE : rp.err ? rp.err : -EPROTO;
	}
	act__phase(ACT__PH_SPAWN_REP);
	*pid = rp.pid;
	*pidfd = pidfd_open_(rp.pid);
	if (*pidfd < 0) {
		int err = -errno;
		kill(rp.pid, SIGKILL);
		if (fd >= 0)
			close(fd);
		return err;
	}
	fcntl(*pidfd, F_SETFD, FD_CLOEXEC);
	if (wr)
		*wr = fd;
	return 0;
}

bool act__spawner_has_prefork(act__spawner *sp)
{
	struct pollfd p = { .fd = sp->prefork_pidfd, .events = POLLIN };

	if (sp->prefork <= 0)
		return false;
	if (poll(&p, 1, 0) == 0)
		return true;
	/* It died unused (the loop reaps it as a stray child).  The next one
	 * waits a second: something that kills idle processes (an OOM
	 * killer, an operator's script) must not meet a fork loop. */
	act__warn("the prefork (pid %d) died; another one will be made in 1 s", (int)sp->prefork);
	sp->prefork_not_before_ns = act__now_ns() + 1000000000ull;
	close(sp->prefork_pidfd);
	close(sp->prefork_wr);
	sp->prefork_pidfd = -1;
	sp->prefork_wr = -1;
	sp->prefork = 0;
	return false;
}

int act__spawner_prefork(act__spawner *sp)
{
	struct req rq;
	int err;

	if (sp->no_prefork || act__spawner_has_prefork(sp))
		return 0;
	memset(&rq, 0, sizeof rq);
	if ((err = zygote_request(sp, &rq, &sp->prefork, &sp->prefork_pidfd, &sp->prefork_wr))) {
		sp->prefork = 0;
		sp->prefork_pidfd = -1;
		sp->prefork_wr = -1;
		return err;
	}
	sp->n_preforked++;
	return 0;
}

int act__spawner_spawn2(act__spawner *sp, uint32_t self, const act_start *start, bool standby,
                        pid_t *pid, int *pidfd)
{
	struct req rq;

	memset(&rq, 0, sizeof rq);
	rq.self = self;
	rq.standby = standby;
	/* Field by field: a struct copy could carry *start's padding (never
	 * written) onto the socket. */
	rq.start.restart = start->restart;
	rq.start.n_restarts = start->n_restarts;
	rq.start.last_signal = start->last_signal;
	rq.start.last_exit = start->last_exit;
	/* The prefork, when there is one: one send instead of two forks.
	 * Its socket is empty and ours alone, so the send neither blocks
	 * nor tears.  One that dies right after the look takes the assignment
	 * with it: its pidfd fires and the group is restarted like after any
	 * death.  Not for a hot standby: nothing waits for one (it is made
	 * once its group settled), and the prefork stays for a start that
	 * someone waits for. */
	if (!standby && act__spawner_has_prefork(sp)) {
		act__phase(ACT__PH_SPAWN_REQ);
		ssize_t w = send(sp->prefork_wr, &rq, sizeof rq, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(sp->prefork_wr);
		sp->prefork_wr = -1;
		if (w == (ssize_t)sizeof rq) {
			*pid = sp->prefork;
			*pidfd = sp->prefork_pidfd;
			sp->prefork = 0;
			sp->prefork_pidfd = -1;
			sp->n_prefork_used++;
			return 0;
		}
		/* Unusable (EPIPE: it died): it exits on EOF if it lives. */
		close(sp->prefork_pidfd);
		sp->prefork_pidfd = -1;
		sp->prefork = 0;
	}
	return zygote_request(sp, &rq, pid, pidfd, NULL);
}

void act__spawner_stop(act__spawner *sp)
{
	if (sp->prefork > 0) {
		/* Our child, unused: it holds nothing, kill and reap it. */
		int st;
		kill(sp->prefork, SIGKILL);
		wait_child(sp->prefork, sp->prefork_pidfd, ACT__SPAWN_FORK_TIMEOUT_MS, &st);
		close(sp->prefork_pidfd);
		close(sp->prefork_wr);
		sp->prefork_pidfd = -1;
		sp->prefork_wr = -1;
		sp->prefork = 0;
	}
	if (sp->sock >= 0) {
		close(sp->sock);
		sp->sock = -1;
	}
	if (sp->zygote > 0) {
		/* It exits when it reads EOF; one that does not is killed. */
		int zfd = pidfd_open_(sp->zygote), st;
		if (wait_child(sp->zygote, zfd, ACT__SPAWN_FORK_TIMEOUT_MS, &st) == -ETIMEDOUT) {
			act__warn("the zygote did not exit; killing it");
			kill(sp->zygote, SIGKILL);
			wait_child(sp->zygote, zfd, ACT__SPAWN_FORK_TIMEOUT_MS, &st);
		}
		if (zfd >= 0)
			close(zfd);
		sp->zygote = -1;
	}
}
