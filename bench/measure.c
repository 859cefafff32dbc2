/*
 * measure.c - run one command, report its wall time, peak RSS and exit status.
 *
 *   cc -O2 -o measure bench/measure.c
 *   measure OUTFILE CMD [ARGS...]
 *
 * Appends one line "WALL_S MAXRSS_KB STATUS" to OUTFILE. WALL_S is CLOCK_MONOTONIC from just
 * before fork to the child's reaping; MAXRSS_KB is ru_maxrss from wait4 (the largest process in
 * the child's tree, the way GNU time reports it); STATUS is the exit code, or 128+signal. The
 * command's own stdin/stdout/stderr are inherited, so the caller redirects them. Exits with the
 * command's STATUS. Used instead of /usr/bin/time, which may be missing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: measure OUTFILE CMD [ARGS...]\n");
		return 2;
	}
	FILE *out = fopen(argv[1], "a");
	if (!out) {
		fprintf(stderr, "measure: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		perror("measure: fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "measure: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	int st;
	struct rusage ru;
	while (wait4(pid, &st, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("measure: wait4");
			return 2;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	fprintf(out, "%.6f %ld %d\n", wall, ru.ru_maxrss, status);
	fclose(out);
	return status;
}
