/* SPDX-License-Identifier: MIT */
/*
 * bench-recovery - how fast a node serves again after actorsd itself died.
 *
 *   node_recovery_p50/p99   SIGKILL of actorsd -> a new actorsd (started at
 *                           once, as systemd's Restart= would, minus its
 *                           RestartSec) adopted the region and its
 *                           consumer handled an envelope
 * Baseline, measured in the same run: a bare fork+exec readiness round
 * trip (bench/baseline.c), the floor of starting any process.
 *
 * The node is the stream of t/supervisor-kill-mod.c (producer -> relay ->
 * consumer, runs without end); the consumer stamps "PID NS" into a file
 * when each instance handles its first envelope.  Needs the build tree:
 * ./actorsd and t/.libs/supervisor-kill-mod.so (make check builds it).
 * Usage: bench-recovery [ROUNDS]  (default 20).
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "baseline.h"
#include "bench-util.h"

#define MAX_ROUNDS 200

static char dir[256], app[300], first[300];

static pid_t start_actorsd(const char *actorsd)
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		execl(actorsd, "actorsd", app, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* The pid and time in the consumer's stamp file, 0 if none yet. */
static int read_first(pid_t *pid, uint64_t *ns)
{
	char buf[64] = "";
	int fd = open(first, O_RDONLY | O_CLOEXEC), p = 0;
	unsigned long long v = 0;

	if (fd < 0)
		return -1;
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	if (n <= 0 || sscanf(buf, "%d %llu", &p, &v) != 2)
		return -1;
	*pid = p;
	*ns = v;
	return 0;
}

/* Waits (bounded) until a consumer other than old stamped; its time, or 0. */
static uint64_t wait_first(pid_t old, uint64_t timeout_ns)
{
	uint64_t deadline = now_ns() + timeout_ns, ns;
	pid_t pid;

	while (now_ns() < deadline) {
		if (read_first(&pid, &ns) == 0 && pid != old)
			return ns;
		usleep(100);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *top = getenv("top_builddir") ? getenv("top_builddir") : ".";
	char actorsd[512], mod[512];
	double us[MAX_ROUNDS], exec50, exec99;
	int rounds = argc > 1 && atoi(argv[1]) > 0 && atoi(argv[1]) <= MAX_ROUNDS ?
	             atoi(argv[1]) : 20, done = 0;
	pid_t sup, old = 0;
	uint64_t ns;

	bench_handle_ready_child(argc, argv);
	/* The binary itself when libtool left it in .libs, pointed at this
	 * build's library: its wrapper script (./actorsd) costs a shell and a
	 * relink check per start, about 55 ms here, which is no part of a
	 * recovery on an installed system.  Else the wrapper or the binary. */
	char libs[512];
	snprintf(actorsd, sizeof actorsd, "%s/.libs/actorsd", top);
	snprintf(libs, sizeof libs, "%s/.libs", top);
	if (access(actorsd, X_OK) == 0) {
		const char *prev = getenv("LD_LIBRARY_PATH");
		char *path = malloc(strlen(libs) + (prev ? strlen(prev) + 1 : 0) + 1);
		if (path) {
			sprintf(path, "%s%s%s", libs, prev ? ":" : "", prev ? prev : "");
			setenv("LD_LIBRARY_PATH", path, 1);
			free(path);
		}
	} else {
		snprintf(actorsd, sizeof actorsd, "%s/actorsd", top);
	}
	printf("# bench-recovery: starts %s\n", actorsd);
	snprintf(mod, sizeof mod, "%s/t/.libs/supervisor-kill-mod.so", top);
	if (access(actorsd, X_OK) < 0 || access(mod, R_OK) < 0) {
		printf("# bench-recovery: needs %s and %s (make check builds them)\n", actorsd, mod);
		return 0;
	}
	if (mod[0] != '/') {
		/* The app file lives elsewhere: the module path must be absolute. */
		char *abs = realpath(mod, NULL);
		if (!abs || strlen(abs) >= sizeof mod) {
			free(abs);
			return 1;
		}
		memcpy(mod, abs, strlen(abs) + 1);
		free(abs);
	}
	snprintf(dir, sizeof dir, "/tmp/bench-recovery-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(app, sizeof app, "%s/app.json", dir);
	snprintf(first, sizeof first, "%s/first", dir);
	FILE *f = fopen(app, "w");
	if (!f)
		return 1;
	fprintf(f, "{\"node\": \"benchrec\", \"state_dir\": \"%s\", \"runtime_dir\": \"%s/run\",\n"
	        " \"max_restarts\": 1000, \"period_ms\": 1000, \"groups\": [\n"
	        "  {\"name\": \"cons\", \"module\": \"%s\", \"actors\": [{\"name\": \"sink\",\n"
	        "   \"behaviour\": \"sk_consumer\", \"args\": {\"log\": \"/dev/null\", \"first\": \"%s\"}}]},\n"
	        "  {\"name\": \"relay\", \"module\": \"%s\", \"actors\": [{\"name\": \"relay\",\n"
	        "   \"behaviour\": \"sk_relay\", \"args\": {\"to\": \"sink\"}}]},\n"
	        "  {\"name\": \"prod\", \"module\": \"%s\", \"actors\": [{\"name\": \"p1\",\n"
	        "   \"behaviour\": \"sk_producer\", \"args\": {\"to\": \"relay\", \"id\": 1,\n"
	        "   \"count\": 1000000000000, \"state\": \"%s/p1.state\"}}]}]}\n",
	        dir, dir, mod, first, mod, mod, dir);
	fclose(f);

	exec50 = bare_forkexec_ready_us(100, &exec99);
	sup = start_actorsd(actorsd);
	if (!wait_first(0, 20000000000ull)) {
		printf("# bench-recovery: the node did not start\n");
		goto out;
	}
	for (int i = 0; i < rounds; i++) {
		uint64_t t0;
		if (read_first(&old, &ns) < 0)
			break;
		t0 = now_ns();
		kill(sup, SIGKILL);
		waitpid(sup, NULL, 0);
		sup = start_actorsd(actorsd);
		ns = wait_first(old, 20000000000ull);
		if (!ns || ns < t0) {
			printf("# round %d: no envelope handled after the restart\n", i);
			break;
		}
		us[done++] = (double)(ns - t0) / 1000.0;
	}
	printf("# %d supervisor kills; baseline: fork+exec ready p50 %.1f us p99 %.1f us\n",
	       done, exec50, exec99);
	if (done) {
		double p50 = bench_percentile(us, (size_t)done, 50), p99 = bench_percentile(us, (size_t)done, 99);
		bench_line("node_recovery_p50", p50, "us", exec50);
		bench_line("node_recovery_p99", p99, "us", exec99);
	}
out:
	kill(sup, SIGTERM);
	waitpid(sup, NULL, 0);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd)) {
		/* leaves the directory: harmless */
	}
	return done ? 0 : 1;
}
