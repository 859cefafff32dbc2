/*
 * spawn_loop.c - the bare floor: N posix_spawn()s of /bin/true, at most P at a time.
 *
 *   cc -O2 -o spawn_loop bench/spawn_loop.c
 *   spawn_loop N P        prints "N P WALL_S"; exits 1 if any child failed
 *
 * No files, no supervisor, no scheduling: what any engine that runs each task as its own
 * process must pay on this machine. P=1 is a chain (one hop per task).
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
	long p = argc > 2 ? strtol(argv[2], NULL, 10) : 2;
	char *args[] = {"true", NULL};
	struct timespec t0, t1;
	long started = 0, done = 0, failed = 0, running = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (done < n) {
		while (started < n && running < p) {
			pid_t pid;
			if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) != 0) {
				perror("posix_spawn");
				return 1;
			}
			started++;
			running++;
		}
		int st;
		if (wait(&st) < 0) {
			perror("wait");
			return 1;
		}
		running--;
		done++;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%ld %ld %.6f\n", n, p, wall);
	return failed ? 1 : 0;
}
