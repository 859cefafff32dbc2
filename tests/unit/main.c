/*
 * main.c - the unit-test runner: forks per test, enforces a deadline, counts, and prints one
 * summary line "unit: N passed, N failed".
 */
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

struct test_entry {
	const char *name, *file;
	test_fn fn;
};

static struct test_entry tests[2048];
static size_t n_tests;

void test_register(const char *name, test_fn fn, const char *file)
{
	if (n_tests < sizeof(tests) / sizeof(tests[0]))
		tests[n_tests++] = (struct test_entry){name, file, fn};
}

_Noreturn void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	_exit(1);
}

static int cmp_entry(const void *a, const void *b)
{
	const struct test_entry *x = a, *y = b;
	int c = strcmp(x->file, y->file);
	return c ? c : strcmp(x->name, y->name);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *filter = NULL;
	int deadline = 60;
	qsort(tests, n_tests, sizeof(tests[0]), cmp_entry);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-l") == 0) {
			for (size_t t = 0; t < n_tests; t++)
				printf("%s\n", tests[t].name);
			return 0;
		}
		filter = argv[i];
	}
	const char *d = getenv("GUST_TEST_DEADLINE");
	if (d)
		deadline = atoi(d) > 0 ? atoi(d) : deadline;
	unsigned passed = 0, failed = 0;
	for (size_t t = 0; t < n_tests; t++) {
		if (filter && !strstr(tests[t].name, filter))
			continue;
		fflush(stdout);
		double t0 = now_s();
		pid_t pid = fork();
		if (pid == 0) {
			setpgid(0, 0);
			alarm((unsigned)deadline);
			tests[t].fn();
			/* exit, not _exit: under ASan, LeakSanitizer checks for leaks at exit. */
			exit(0);
		}
		int st = 0;
		while (waitpid(pid, &st, 0) < 0)
			;
		kill(-pid, SIGKILL); /* anything the test left behind */
		double dt = now_s() - t0;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			passed++;
			printf("ok   %-50s %.3fs\n", tests[t].name, dt);
		} else {
			failed++;
			if (WIFSIGNALED(st))
				printf("FAIL %-50s (signal %d%s)\n", tests[t].name, WTERMSIG(st),
				       WTERMSIG(st) == SIGALRM ? ", deadline" : "");
			else
				printf("FAIL %-50s\n", tests[t].name);
		}
	}
	printf("unit: %u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
