/*
 * test_zygote.c - the local executor's zygote: supervisors forked by a helper process, and what
 * happens when that helper dies.
 *
 * The executor starts the zygote by exec'ing /proc/self/exe, here this test binary, whose main()
 * does not know `__zygote`: the constructor below plays the part of gust's main.c.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "exec/local.h"
#include "exec/zygote.h"
#include "test.h"

extern char **environ;

__attribute__((constructor)) static void zygote_test_hook(int argc, char **argv)
{
	zygote_hook(argc, argv);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *make_dir(void)
{
	char tmpl[] = "/tmp/gust-zygote-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	ASSERT(d);
	return xstrdup(d);
}

static void rm_rf(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	int r = system(cmd);
	(void)r;
	free(cmd);
}

/* The executor under test, with its zygote whatever the environment says. */
static struct executor *executor_with_zygote(void)
{
	unsetenv("GUST_EXEC_ZYGOTE");
	return local_executor_new();
}

static struct attempt_spec spec(const char *dir, const char *shell)
{
	/* Several attempts share one folder here: a supervisor refuses a folder whose
	 * DIR/supervisor exists (a claimed one), so each starts without it. */
	char *sup = xasprintf("%s/supervisor", dir);
	unlink(sup);
	free(sup);
	return (struct attempt_spec){.dir = dir,
				     .shell = shell,
				     .envp = (const char *const *)environ,
				     .kill_grace_ms = 1000};
}

/* Wait for the FINISHED event of `key`; returns its outcome (caller frees). */
static struct attempt_outcome wait_finished(struct executor *ex, uint64_t key)
{
	double t0 = now_s();
	for (;;) {
		ASSERT(now_s() - t0 < 20);
		struct pollfd pf = {.fd = executor_fd(ex), .events = POLLIN};
		poll(&pf, 1, 1000);
		struct executor_event evs[16];
		size_t n = executor_poll(ex, evs, 16);
		struct attempt_outcome o = {.status = AS__COUNT};
		for (size_t i = 0; i < n; i++) {
			if (evs[i].kind == EXEC_EV_FINISHED && evs[i].key == key) {
				o = evs[i].outcome;
				memset(&evs[i].outcome, 0, sizeof(evs[i].outcome));
			}
			executor_event_free(&evs[i]);
		}
		if (o.status != AS__COUNT)
			return o;
	}
}

static pid_t parent_of(pid_t pid)
{
	char path[64], b[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(b, 1, sizeof(b) - 1, f);
	fclose(f);
	b[n] = '\0';
	char *rp = strrchr(b, ')');
	int ppid = -1;
	if (rp)
		sscanf(rp + 2, "%*c %d", &ppid);
	return ppid;
}

TEST(zygote_forks_supervisors)
{
	struct executor *ex = executor_with_zygote();
	int zpid = local_executor_zygote_pid(ex);
	ASSERT(zpid > 0);
	char *dir = make_dir();
	struct attempt_spec sp = spec(dir, "echo '\"ok\"' > $GUST_OUTPUT");
	ASSERT_INT_EQ(executor_start(ex, 1, &sp), 0);
	struct attempt_outcome o = wait_finished(ex, 1);
	ASSERT_INT_EQ(o.status, AS_SUCCESS);
	ASSERT_STR_EQ(json_string_value(o.output), "ok");
	attempt_outcome_free(&o);
	/* The task's parent, the supervisor, was a child of the zygote (read while it ran: the
	 * supervisor file names it). */
	char *path = xasprintf("%s/supervisor", dir);
	FILE *f = fopen(path, "r");
	ASSERT(f);
	int spid = 0;
	ASSERT_INT_EQ(fscanf(f, "%d", &spid), 1);
	fclose(f);
	free(path);
	ASSERT(spid != zpid && spid != getpid());
	/* A big spec (a long script) goes through a memfd. */
	struct {
		char *p;
	} big = {xmalloc(100 * 1024)};
	memset(big.p, ' ', 100 * 1024 - 32);
	strcpy(big.p + 100 * 1024 - 32, "echo '\"big\"' >$GUST_OUTPUT");
	sp = spec(dir, big.p);
	ASSERT_INT_EQ(executor_start(ex, 2, &sp), 0);
	o = wait_finished(ex, 2);
	ASSERT_INT_EQ(o.status, AS_SUCCESS);
	ASSERT_STR_EQ(json_string_value(o.output), "big");
	attempt_outcome_free(&o);
	free(big.p);
	ASSERT_INT_EQ(local_executor_zygote_pid(ex), zpid);
	executor_destroy(ex);
	/* destroy() stopped and reaped the zygote */
	ASSERT(kill(zpid, 0) < 0 && errno == ESRCH);
	rm_rf(dir);
	free(dir);
}

TEST(zygote_lost_supervisor_has_its_signal)
{
	struct executor *ex = executor_with_zygote();
	ASSERT(local_executor_zygote_pid(ex) > 0);
	char *dir = make_dir();
	struct attempt_spec sp = spec(dir, "kill -9 $PPID; sleep 30");
	ASSERT_INT_EQ(executor_start(ex, 7, &sp), 0);
	struct attempt_outcome o = wait_finished(ex, 7);
	ASSERT_INT_EQ(o.status, AS_LOST);
	ASSERT_STR_CONTAINS(o.message, "supervisor killed by signal 9 (SIGKILL)");
	attempt_outcome_free(&o);
	executor_destroy(ex);
	rm_rf(dir);
	free(dir);
}

TEST(zygote_death_is_survived)
{
	struct executor *ex = executor_with_zygote();
	int z1 = local_executor_zygote_pid(ex);
	ASSERT(z1 > 0);
	char *d1 = make_dir(), *d2 = make_dir(), *d3 = make_dir();
	/* A running attempt outlives the zygote and still reports its outcome. */
	struct attempt_spec sp = spec(d1, "sleep 0.5; echo '\"survived\"' > $GUST_OUTPUT");
	ASSERT_INT_EQ(executor_start(ex, 1, &sp), 0);
	ASSERT_INT_EQ(kill(z1, SIGKILL), 0);
	struct attempt_outcome o = wait_finished(ex, 1);
	ASSERT_INT_EQ(o.status, AS_SUCCESS);
	ASSERT_STR_EQ(json_string_value(o.output), "survived");
	attempt_outcome_free(&o);
	/* The executor noticed; the next start has a new zygote. */
	sp = spec(d2, "true");
	ASSERT_INT_EQ(executor_start(ex, 2, &sp), 0);
	int z2 = local_executor_zygote_pid(ex);
	ASSERT(z2 > 0 && z2 != z1);
	o = wait_finished(ex, 2);
	ASSERT_INT_EQ(o.status, AS_SUCCESS);
	attempt_outcome_free(&o);
	/* Killed right before a start that the executor has not noticed: the request cannot be
	 * sent, so a new zygote takes it. */
	ASSERT_INT_EQ(kill(z2, SIGKILL), 0);
	usleep(50000);
	sp = spec(d3, "true");
	ASSERT_INT_EQ(executor_start(ex, 3, &sp), 0);
	int z3 = local_executor_zygote_pid(ex);
	ASSERT(z3 > 0 && z3 != z2);
	o = wait_finished(ex, 3);
	ASSERT_INT_EQ(o.status, AS_SUCCESS);
	attempt_outcome_free(&o);
	ASSERT_INT_EQ(executor_running(ex), 0);
	executor_destroy(ex);
	rm_rf(d1);
	rm_rf(d2);
	rm_rf(d3);
	free(d1);
	free(d2);
	free(d3);
}

TEST(zygote_death_in_flight_fails_the_start)
{
	struct executor *ex = executor_with_zygote();
	int z1 = local_executor_zygote_pid(ex);
	ASSERT(z1 > 0);
	char *d1 = make_dir(), *d2 = make_dir();
	/* Stopped, the zygote never answers; a helper kills it while start() waits. */
	ASSERT_INT_EQ(kill(z1, SIGSTOP), 0);
	pid_t killer = fork();
	ASSERT(killer >= 0);
	if (killer == 0) {
		usleep(300000);
		kill(z1, SIGKILL);
		_exit(0);
	}
	struct attempt_spec sp = spec(d1, "echo ran > ran");
	ASSERT_INT_EQ(executor_start(ex, 1, &sp), -ECONNABORTED);
	ASSERT_INT_EQ(executor_running(ex), 0);
	int st;
	ASSERT_INT_EQ(waitpid(killer, &st, 0), killer);
	char *path = xasprintf("%s/ran", d1);
	struct stat sb;
	usleep(100000);
	ASSERT(stat(path, &sb) < 0); /* nothing ran */
	free(path);
	sp = spec(d2, "true");
	ASSERT_INT_EQ(executor_start(ex, 2, &sp), 0);
	ASSERT(local_executor_zygote_pid(ex) != z1);
	struct attempt_outcome o = wait_finished(ex, 2);
	ASSERT_INT_EQ(o.status, AS_SUCCESS);
	attempt_outcome_free(&o);
	executor_destroy(ex);
	rm_rf(d1);
	rm_rf(d2);
	free(d1);
	free(d2);
}

TEST(zygote_supervisor_outlives_zygote_and_parent_is_not_launcher)
{
	struct executor *ex = executor_with_zygote();
	int z = local_executor_zygote_pid(ex);
	ASSERT(z > 0);
	char *dir = make_dir();
	struct attempt_spec sp = spec(dir, "sleep 0.4");
	ASSERT_INT_EQ(executor_start(ex, 1, &sp), 0);
	/* wait for DIR/supervisor, then check its parent */
	char *path = xasprintf("%s/supervisor", dir);
	double t0 = now_s();
	int spid = 0;
	while (now_s() - t0 < 10) {
		FILE *f = fopen(path, "r");
		if (f) {
			int n = fscanf(f, "%d", &spid);
			fclose(f);
			if (n == 1 && spid > 0)
				break;
		}
		usleep(10000);
	}
	free(path);
	ASSERT(spid > 0);
	ASSERT_INT_EQ(parent_of(spid), z);
	struct attempt_outcome o = wait_finished(ex, 1);
	ASSERT_INT_EQ(o.status, AS_SUCCESS);
	attempt_outcome_free(&o);
	executor_destroy(ex);
	rm_rf(dir);
	free(dir);
}

TEST(zygote_disabled_forks_from_the_launcher)
{
	setenv("GUST_EXEC_ZYGOTE", "0", 1);
	struct executor *ex = local_executor_new();
	ASSERT_INT_EQ(local_executor_zygote_pid(ex), -1);
	char *d1 = make_dir(), *d2 = make_dir();
	struct attempt_spec sp = spec(d1, "echo '\"direct\"' > $GUST_OUTPUT");
	ASSERT_INT_EQ(executor_start(ex, 1, &sp), 0);
	struct attempt_outcome o = wait_finished(ex, 1);
	ASSERT_INT_EQ(o.status, AS_SUCCESS);
	ASSERT_STR_EQ(json_string_value(o.output), "direct");
	attempt_outcome_free(&o);
	sp = spec(d2, "kill -9 $PPID; sleep 30");
	ASSERT_INT_EQ(executor_start(ex, 2, &sp), 0);
	o = wait_finished(ex, 2);
	ASSERT_INT_EQ(o.status, AS_LOST);
	ASSERT_STR_CONTAINS(o.message, "supervisor killed by signal 9 (SIGKILL)");
	attempt_outcome_free(&o);
	executor_destroy(ex);
	rm_rf(d1);
	rm_rf(d2);
	free(d1);
	free(d2);
}
