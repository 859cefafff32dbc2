/*
 * exec_loop.c - per-attempt overhead of the local executor: N attempts of one command at
 * parallelism P, each in its own attempt directory, timed end to end.
 *
 *   cc -O2 -D_GNU_SOURCE -Isrc bench/exec_loop.c build/libgust.a $(pkg-config --libs jansson) \
 *      -o build/exec_loop
 *   [TMPDIR=DIR] build/exec_loop [N [P [COMMAND]]]      defaults: 2000 2 true
 *
 * Mind where TMPDIR is: on ext4, creating a file in a block group with many recently deleted
 * inodes can cost a millisecond (ext4 recently_deleted() scans); measure on a quiet directory
 * or tmpfs to see the executor's own cost.
 *
 * Compare with make: a Makefile of N phony targets whose recipe is COMMAND, run with -jP.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exec/local.h"
#include "exec/zygote.h"

extern char **environ;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	zygote_hook(argc, argv); /* the executor forks supervisors through /proc/self/exe */
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	int par = argc > 2 ? atoi(argv[2]) : 2;
	const char *cmd = argc > 3 ? argv[3] : "true";
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char root[4096];
	snprintf(root, sizeof(root), "%s/gust-bench-XXXXXX", tmp);
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	char **dirs = calloc((size_t)n, sizeof(char *));
	for (int i = 0; i < n; i++) {
		if (asprintf(&dirs[i], "%s/%d", root, i) < 0 || mkdir(dirs[i], 0755) < 0) {
			perror("mkdir");
			return 1;
		}
	}
	struct executor *ex = local_executor_new();
	int next = 0, done = 0, failed = 0;
	double t0 = now_s();
	while (done < n) {
		while (next < n && (int)executor_running(ex) < par) {
			struct attempt_spec sp = {.dir = dirs[next],
						  .shell = cmd,
						  .envp = (const char *const *)environ,
						  .kill_grace_ms = 1000};
			int r = executor_start(ex, (uint64_t)next, &sp);
			if (r < 0) {
				fprintf(stderr, "start: %s\n", strerror(-r));
				return 1;
			}
			next++;
		}
		struct pollfd pfd = {.fd = executor_fd(ex), .events = POLLIN};
		poll(&pfd, 1, -1);
		struct executor_event evs[16];
		size_t k = executor_poll(ex, evs, 16);
		for (size_t i = 0; i < k; i++) {
			if (evs[i].kind == EXEC_EV_FINISHED) {
				done++;
				if (evs[i].outcome.status != AS_SUCCESS)
					failed++;
			}
			executor_event_free(&evs[i]);
		}
	}
	double dt = now_s() - t0;
	printf("%d attempts of '%s' at parallelism %d: %.3f s, %.3f ms per attempt, %d failed\n", n,
	       cmd, par, dt, dt * 1000 / n, failed);
	executor_destroy(ex);
	char *rm;
	if (asprintf(&rm, "rm -rf %s", root) > 0 && system(rm) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return failed ? 1 : 0;
}
