/*
 * Tests for exec/supervisor.c, exec/local.c and exec/attempt.c: real processes, run through
 * the local executor, waiting on events with generous deadlines (never a fixed sleep).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/util.h"
#include "exec/local.h"
#include "exec/supervisor.h"
#include "test.h"

static const char *const test_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL=C",
    "HOME=/tmp",
    NULL,
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *make_dir(void)
{
	char *d = xstrdup("/tmp/gust-sup-XXXXXX");
	if (!mkdtemp(d))
		test_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
	return d;
}

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char *p = xasprintf("%s/%s", dir, de->d_name);
		unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}

static char *read_file(const char *dir, const char *name, size_t *ret_len)
{
	char *p = xasprintf("%s/%s", dir, name);
	int fd = open(p, O_RDONLY);
	free(p);
	if (fd < 0)
		return NULL;
	struct buf b = BUF_INIT;
	char tmp[65536];
	ssize_t n;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_append(&b, tmp, (size_t)n);
	close(fd);
	if (ret_len)
		*ret_len = b.len;
	return buf_detach(&b);
}

static void write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char *p = xasprintf("%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ASSERT(fd >= 0);
	ASSERT(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	free(p);
}

/* Processes alive (state != Z) whose command line contains marker. kill_sig: also signal them. */
static int marker_procs(const char *marker, int kill_sig)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;
	pid_t self = getpid();
	while ((de = readdir(d))) {
		int pid = atoi(de->d_name);
		if (pid <= 0 || pid == self)
			continue;
		char path[64], b[4096];
		snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t len = read(fd, b, sizeof(b) - 1);
		close(fd);
		if (len <= 0)
			continue;
		for (ssize_t i = 0; i < len; i++)
			if (b[i] == '\0')
				b[i] = ' ';
		b[len] = '\0';
		if (!strstr(b, marker))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		len = read(fd, b, sizeof(b) - 1);
		close(fd);
		if (len <= 0)
			continue;
		b[len] = '\0';
		char *rp = strrchr(b, ')');
		if (!rp || rp[2] == 'Z' || rp[2] == 'X')
			continue;
		n++;
		if (kill_sig)
			kill(pid, kill_sig);
	}
	closedir(d);
	return n;
}

static char *new_marker(void)
{
	static int counter;
	return xasprintf("gustmark%dx%d", (int)getpid(), ++counter);
}

#define MAX_PROG 64

struct run {
	struct attempt_outcome o;
	int pid;
	int nprog;
	int prog_done[MAX_PROG], prog_total[MAX_PROG];
	char *prog_msg[MAX_PROG];
	double secs;
	bool finished;
};

typedef void (*on_event_fn)(struct executor *ex, const char *dir, int pid);

/* Run one attempt to its FINISHED event; call on_started at STARTED and on_progress at the
 * first PROGRESS event. */
static void run_spec2(const struct attempt_spec *sp, struct run *r, on_event_fn on_started,
		      on_event_fn on_progress)
{
	memset(r, 0, sizeof(*r));
	/* Tests reuse one folder for several attempts: a supervisor refuses a folder whose
	 * DIR/supervisor exists (a claimed one), so start each attempt without it. */
	char *sup = xasprintf("%s/supervisor", sp->dir);
	unlink(sup);
	free(sup);
	struct executor *ex = local_executor_new();
	ASSERT(ex);
	double t0 = now_s();
	ASSERT_INT_EQ(executor_start(ex, 42, sp), 0);
	ASSERT_INT_EQ(executor_running(ex), 1);
	while (!r->finished) {
		if (now_s() - t0 > 45)
			test_fail(__FILE__, __LINE__, "no FINISHED event after 45s");
		struct pollfd pfd = {.fd = executor_fd(ex), .events = POLLIN};
		poll(&pfd, 1, 1000);
		struct executor_event evs[4];
		size_t n = executor_poll(ex, evs, 4);
		for (size_t i = 0; i < n; i++) {
			ASSERT_INT_EQ(evs[i].key, 42);
			switch (evs[i].kind) {
			case EXEC_EV_STARTED:
				ASSERT(!r->finished);
				r->pid = evs[i].pid;
				if (on_started)
					on_started(ex, sp->dir, r->pid);
				break;
			case EXEC_EV_PROGRESS:
				ASSERT(!r->finished);
				if (on_progress && r->nprog == 0)
					on_progress(ex, sp->dir, r->pid);
				if (r->nprog < MAX_PROG) {
					r->prog_done[r->nprog] = evs[i].progress_done;
					r->prog_total[r->nprog] = evs[i].progress_total;
					r->prog_msg[r->nprog] = evs[i].progress_msg;
					evs[i].progress_msg = NULL;
					r->nprog++;
				}
				break;
			case EXEC_EV_FINISHED:
				r->finished = true;
				r->o = evs[i].outcome;
				memset(&evs[i].outcome, 0, sizeof(evs[i].outcome));
				break;
			}
			executor_event_free(&evs[i]);
		}
	}
	r->secs = now_s() - t0;
	ASSERT_INT_EQ(executor_running(ex), 0);
	executor_destroy(ex);
}

static void run_spec(const struct attempt_spec *sp, struct run *r, on_event_fn on_started)
{
	run_spec2(sp, r, on_started, NULL);
}

static void run_free(struct run *r)
{
	attempt_outcome_free(&r->o);
	for (int i = 0; i < r->nprog; i++)
		free(r->prog_msg[i]);
}

static struct attempt_spec shell_spec(const char *dir, const char *cmd)
{
	return (struct attempt_spec){
	    .dir = dir, .shell = cmd, .envp = test_env, .kill_grace_ms = 2000};
}

/* ---- pure helpers ---- */

TEST(supervisor_plain_command_detection)
{
	ASSERT(supervisor_command_is_plain("true"));
	ASSERT(supervisor_command_is_plain("  /usr/bin/env -i a.b,c:d+e@f%g-h_i  "));
	ASSERT(!supervisor_command_is_plain(""));
	ASSERT(!supervisor_command_is_plain("   "));
	ASSERT(!supervisor_command_is_plain("echo $HOME"));
	ASSERT(!supervisor_command_is_plain("a=b cmd"));
	ASSERT(!supervisor_command_is_plain("ls 'x'"));
	ASSERT(!supervisor_command_is_plain("a | b"));
	ASSERT(!supervisor_command_is_plain("a\tb"));
	ASSERT(!supervisor_command_is_plain("exit 3"));
	ASSERT(!supervisor_command_is_plain("cd /tmp"));
	ASSERT(!supervisor_command_is_plain("ls ~"));
	ASSERT(supervisor_command_is_plain("exiter 3"));
}

TEST(supervisor_progress_parse)
{
	int d, t;
	char *m;
	ASSERT_INT_EQ(supervisor_parse_progress("42", 2, &d, &t, &m), 0);
	ASSERT(d == 42 && t == 0 && !m);
	ASSERT_INT_EQ(supervisor_parse_progress(" 42/100\n", 8, &d, &t, &m), 0);
	ASSERT(d == 42 && t == 100 && !m);
	const char *s = "3/7 copying\tfiles\x01 \nsecond line";
	ASSERT_INT_EQ(supervisor_parse_progress(s, strlen(s), &d, &t, &m), 0);
	ASSERT(d == 3 && t == 7);
	ASSERT_STR_EQ(m, "copying files");
	free(m);
	ASSERT_INT_EQ(supervisor_parse_progress("", 0, &d, &t, &m), -EINVAL);
	ASSERT_INT_EQ(supervisor_parse_progress("x", 1, &d, &t, &m), -EINVAL);
	ASSERT_INT_EQ(supervisor_parse_progress("4/", 2, &d, &t, &m), -EINVAL);
	ASSERT_INT_EQ(supervisor_parse_progress("4x", 2, &d, &t, &m), -EINVAL);
	ASSERT_INT_EQ(supervisor_parse_progress("99999999999", 11, &d, &t, &m), -EINVAL);
}

TEST(supervisor_outcome_roundtrip)
{
	char *dir = make_dir();
	struct attempt_outcome o = {.status = AS_TIMED_OUT,
				    .exit_code = -1,
				    .signal = 9,
				    .started_at = 1000,
				    .ended_at = 2500,
				    .killed = 3,
				    .message = xstrdup("bad \xff byte"),
				    .output = json_pack("{s:i}", "a", 1),
				    .output_error = NULL};
	ASSERT_INT_EQ(attempt_outcome_write(dir, &o), 0);
	struct attempt_outcome r;
	ASSERT_INT_EQ(attempt_outcome_read(dir, &r), 0);
	ASSERT_INT_EQ(r.status, AS_TIMED_OUT);
	ASSERT_INT_EQ(r.exit_code, -1);
	ASSERT_INT_EQ(r.signal, 9);
	ASSERT_INT_EQ(r.started_at, 1000);
	ASSERT_INT_EQ(r.ended_at, 2500);
	ASSERT_INT_EQ(r.killed, 3);
	ASSERT_STR_EQ(r.message, "bad \xef\xbf\xbd byte");
	ASSERT_INT_EQ(json_integer_value(json_object_get(r.output, "a")), 1);
	ASSERT(!r.output_error);
	attempt_outcome_free(&r);
	attempt_outcome_free(&o);
	enum attempt_status st;
	for (int i = 0; i < AS__COUNT; i++) {
		ASSERT_INT_EQ(
		    attempt_status_parse(attempt_status_name((enum attempt_status)i), &st), 0);
		ASSERT_INT_EQ(st, i);
	}
	ASSERT_INT_EQ(attempt_status_parse("nope", &st), -EINVAL);
	rm_rf(dir);
	ASSERT_INT_EQ(attempt_outcome_read(dir, &r), -ENOENT);
	free(dir);
}

/* ---- attempts ---- */

TEST(supervisor_success_with_output)
{
	char *dir = make_dir();
	struct attempt_spec sp =
	    shell_spec(dir, "echo hello; echo oops >&2; printf 'partial'; echo '{\"a\": [1, 2]}' > "
			    "\"$GUST_OUTPUT\"");
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_STR_EQ(attempt_status_name(r.o.status), "success");
	ASSERT_INT_EQ(r.o.exit_code, 0);
	ASSERT_INT_EQ(r.o.signal, 0);
	ASSERT_STR_EQ(r.o.message, "exit 0");
	ASSERT(r.pid > 0);
	ASSERT(r.o.started_at > 1700000000000LL && r.o.ended_at >= r.o.started_at);
	ASSERT(json_is_array(json_object_get(r.o.output, "a")));
	ASSERT(!r.o.output_error);
	char *log = read_file(dir, "log", NULL);
	ASSERT_STR_CONTAINS(log, "Z O hello\n");
	ASSERT_STR_CONTAINS(log, "Z E oops\n");
	ASSERT_STR_CONTAINS(log, "Z O partial\n");
	char *sup = read_file(dir, "supervisor", NULL);
	int spid = 0;
	unsigned long long start = 0;
	ASSERT_INT_EQ(sscanf(sup, "%d %llu", &spid, &start), 2);
	ASSERT(spid > 0 && start > 0);
	free(sup);
	free(log);
	run_free(&r);
	rm_rf(dir);
	free(dir);
}

TEST(supervisor_log_timestamp_format)
{
	char *dir = make_dir();
	struct attempt_spec sp = shell_spec(dir, "echo one; echo two >&2; echo three");
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_SUCCESS);
	size_t len;
	char *log = read_file(dir, "log", &len);
	int lines = 0;
	for (char *line = log; *line;) {
		char *nl = strchr(line, '\n');
		ASSERT(nl);
		/* 2026-11-21T05:13:02.123Z O text */
		const char *pat = "dddd-dd-ddTdd:dd:dd.dddZ ";
		for (size_t i = 0; pat[i]; i++) {
			if (pat[i] == 'd')
				ASSERT(line[i] >= '0' && line[i] <= '9');
			else
				ASSERT_INT_EQ(line[i], pat[i]);
		}
		ASSERT(line[25] == 'O' || line[25] == 'E');
		ASSERT_INT_EQ(line[26], ' ');
		int64_t y = atoi(line);
		ASSERT(y >= 2024 && y < 2200);
		lines++;
		line = nl + 1;
	}
	ASSERT_INT_EQ(lines, 3);
	free(log);
	run_free(&r);
	rm_rf(dir);
	free(dir);
}

TEST(supervisor_exit_code)
{
	char *dir = make_dir();
	struct attempt_spec sp = shell_spec(dir, "exit 3");
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_STR_EQ(attempt_status_name(r.o.status), "failed");
	ASSERT_INT_EQ(r.o.exit_code, 3);
	ASSERT_STR_EQ(r.o.message, "exit 3");
	run_free(&r);
	rm_rf(dir);
	free(dir);
}

TEST(supervisor_not_found_argv)
{
	char *dir = make_dir();
	const char *argv[] = {"gust-no-such-command", "x", NULL};
	struct attempt_spec sp = {.dir = dir, .argv = argv, .envp = test_env};
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_STR_EQ(attempt_status_name(r.o.status), "exec_failed");
	ASSERT_STR_EQ(r.o.message, "command not found: gust-no-such-command");
	ASSERT_INT_EQ(r.pid, 0); /* never started */
	run_free(&r);
	rm_rf(dir);
	free(dir);
}

TEST(supervisor_not_found_shell)
{
	char *dir = make_dir();
	/* Plain: exec'd directly. */
	struct attempt_spec sp = shell_spec(dir, "gust-no-such-command --flag");
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_EXEC_FAILED);
	ASSERT_STR_EQ(r.o.message, "command not found: gust-no-such-command");
	run_free(&r);
	/* Through /bin/sh: exit 127 and sh's complaint. */
	sp = shell_spec(dir, "gust-no-such-command \"--flag\"");
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_FAILED);
	ASSERT_INT_EQ(r.o.exit_code, 127);
	ASSERT_STR_CONTAINS(r.o.message, "exit 127: command not found (");
	ASSERT_STR_CONTAINS(r.o.message, "gust-no-such-command: not found)");
	run_free(&r);
	rm_rf(dir);
	free(dir);
}

TEST(supervisor_permission_denied_and_workdir)
{
	char *dir = make_dir();
	write_file(dir, "x.sh", "#!/bin/sh\necho hi\n", 0644);
	const char *argv[] = {"./x.sh", NULL};
	struct attempt_spec sp = {.dir = dir, .argv = argv, .envp = test_env, .workdir = dir};
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_EXEC_FAILED);
	ASSERT_STR_EQ(r.o.message, "permission denied: ./x.sh");
	run_free(&r);

	sp.workdir = "/nonexistent-gust-dir";
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_EXEC_FAILED);
	ASSERT_STR_EQ(r.o.message, "workdir /nonexistent-gust-dir: No such file or directory");
	run_free(&r);

	/* workdir is honoured; a relative attempt dir still gets absolute $GUST_OUTPUT */
	ASSERT_INT_EQ(chdir("/tmp"), 0);
	ASSERT(str_has_prefix(dir, "/tmp/"));
	sp = shell_spec(dir + 5, "pwd; echo 1 > \"$GUST_OUTPUT\"");
	sp.workdir = "/usr";
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_SUCCESS);
	ASSERT_INT_EQ(json_integer_value(r.o.output), 1);
	char *log = read_file(dir, "log", NULL);
	ASSERT_STR_CONTAINS(log, " O /usr\n");
	free(log);
	run_free(&r);
	rm_rf(dir);
	free(dir);
}

TEST(supervisor_killed_by_signal)
{
	char *dir = make_dir();
	struct attempt_spec sp = shell_spec(dir, "kill -SEGV $$");
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_FAILED);
	ASSERT_INT_EQ(r.o.signal, 11);
	ASSERT_INT_EQ(r.o.exit_code, -1);
	ASSERT_STR_EQ(r.o.message, "killed by signal 11 (SIGSEGV)");
	run_free(&r);
	rm_rf(dir);
	free(dir);
}

TEST(supervisor_timeout_kills_everything)
{
	char *dir = make_dir();
	char *mark = new_marker();
	/* The main shell and a setsid'ed daemon both ignore TERM; their sleeps inherit that. */
	char *cmd = xasprintf("trap '' TERM; setsid sh -c 'trap \"\" TERM; sleep 1000; : %s' & "
			      "sleep 1000; : %s",
			      mark, mark);
	struct attempt_spec sp = shell_spec(dir, cmd);
	sp.timeout_ms = 1000;
	sp.kill_grace_ms = 500;
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_STR_EQ(attempt_status_name(r.o.status), "timed_out");
	ASSERT_STR_CONTAINS(r.o.message, "timed out after 1s; killed ");
	ASSERT(r.o.killed >= 3);
	ASSERT(r.secs >= 1.4 && r.secs <= 1.0 + 0.5 + 1.0);
	ASSERT_INT_EQ(marker_procs(mark, 0), 0);
	char *log = read_file(dir, "log", NULL);
	ASSERT_STR_CONTAINS(log, "E gust: timed out after 1s; sent SIGTERM to ");
	ASSERT_STR_CONTAINS(log, "E gust: still running after the grace period; sent SIGKILL");
	free(log);
	run_free(&r);
	rm_rf(dir);
	free(dir);
	free(cmd);
	free(mark);
}

TEST(supervisor_leftovers_are_ended)
{
	char *dir = make_dir();
	char *mark = new_marker();
	char *cmd = xasprintf("setsid sh -c 'sleep 1000; : %s' & (sleep 1000; : %s) & echo bye",
			      mark, mark);
	struct attempt_spec sp = shell_spec(dir, cmd);
	sp.kill_grace_ms = 5000;
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_SUCCESS);
	ASSERT_INT_EQ(r.o.exit_code, 0);
	ASSERT(r.o.killed >= 2);
	ASSERT_STR_CONTAINS(r.o.message, "exit 0; ended ");
	ASSERT(r.secs < 4); /* TERM was enough: no grace wait */
	ASSERT_INT_EQ(marker_procs(mark, 0), 0);
	char *log = read_file(dir, "log", NULL);
	ASSERT_STR_CONTAINS(log, " O bye\n");
	ASSERT_STR_CONTAINS(log, " E gust: ended ");
	free(log);
	run_free(&r);
	rm_rf(dir);
	free(dir);
	free(cmd);
	free(mark);
}

/* A leftover that forks on SIGTERM: the new child was not there when TERM was sent, and must
 * get its own TERM at once rather than the SIGKILL at the end of the grace period (CI once saw
 * this race with a subshell forking while the first walk ran). */
TEST(supervisor_leftovers_forked_during_term_get_term)
{
	char *dir = make_dir();
	char *mark = new_marker();
	char *cmd = xasprintf("setsid sh -c 'trap \"sleep 1000 & exit 0\" TERM; "
			      "while :; do sleep 0.01; done; : %s' & sleep 0.2; echo bye",
			      mark);
	struct attempt_spec sp = shell_spec(dir, cmd);
	sp.kill_grace_ms = 5000;
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_SUCCESS);
	ASSERT(r.o.killed >= 2);
	ASSERT(r.secs < 4); /* the forked sleep got TERM, not the KILL 5 s later */
	ASSERT_INT_EQ(marker_procs(mark, 0), 0);
	char *log = read_file(dir, "log", NULL);
	ASSERT(strstr(log, "still running after the grace period") == NULL);
	free(log);
	run_free(&r);
	rm_rf(dir);
	free(dir);
	free(cmd);
	free(mark);
}

TEST(supervisor_leftovers_kept)
{
	char *dir = make_dir();
	char *mark = new_marker();
	/* The daemon keeps stdout open: the supervisor must not wait for EOF. */
	char *cmd = xasprintf("setsid sh -c 'sleep 1000; : %s' & echo bye", mark);
	struct attempt_spec sp = shell_spec(dir, cmd);
	sp.keep_leftovers = true;
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_SUCCESS);
	ASSERT_INT_EQ(r.o.killed, 0);
	ASSERT_STR_CONTAINS(r.o.message, "exit 0; left ");
	ASSERT(r.secs < 5);
	ASSERT(marker_procs(mark, 0) >= 1);
	marker_procs(mark, SIGKILL);
	double t0 = now_s();
	while (marker_procs(mark, 0) > 0 && now_s() - t0 < 10)
		usleep(10000);
	ASSERT_INT_EQ(marker_procs(mark, 0), 0);
	run_free(&r);
	rm_rf(dir);
	free(dir);
	free(cmd);
	free(mark);
}

TEST(supervisor_big_output_bounded_memory)
{
	char *dir = make_dir();
	/* 100 MB in 100-byte lines, plus a 200 KB line that gets split. */
	char line[100];
	for (int i = 0; i < 99; i++)
		line[i] = (char)('0' + i % 10);
	line[99] = '\0';
	char *cmd = xasprintf("yes %s | head -c 100000000; head -c 200000 /dev/zero | tr '\\0' y; "
			      "echo; echo end",
			      line);
	struct attempt_spec sp = shell_spec(dir, cmd);
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_SUCCESS);
	char *p = xasprintf("%s/log", dir);
	struct stat st;
	ASSERT_INT_EQ(stat(p, &st), 0);
	/* 1,000,000 lines of 100 bytes, each with a 27-byte prefix and a newline */
	long long want = 1000000LL * (27 + 99 + 1) + 4 * 27 + 200000 + 4 + 27 + 4;
	if (st.st_size != want)
		test_fail(__FILE__, __LINE__, "log size %lld, want %lld", (long long)st.st_size,
			  want);
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	fprintf(stderr, "  100 MB: %.2fs, children max RSS %ld KiB\n", r.secs, ru.ru_maxrss);
	ASSERT(ru.ru_maxrss < 100 * 1024);
	ASSERT(r.secs < 30);
	/* the tail of the log: 3 pieces of 65536 and one of 3392, then "end" */
	int fd = open(p, O_RDONLY);
	char tail[300000];
	off_t off = st.st_size - (off_t)sizeof(tail);
	ASSERT(pread(fd, tail, sizeof(tail), off) == (ssize_t)sizeof(tail));
	close(fd);
	const char *end = tail + sizeof(tail);
	ASSERT(memcmp(end - 4, "end\n", 4) == 0);
	int pieces = 0;
	for (const char *q = tail; q < end; q++)
		if (*q == '\n' && q + 28 < end && q[26] == 'O' && q[28] == 'y')
			pieces++;
	ASSERT_INT_EQ(pieces, 4);
	free(p);
	free(cmd);
	run_free(&r);
	rm_rf(dir);
	free(dir);
}

TEST(supervisor_invalid_utf8)
{
	char *dir = make_dir();
	struct attempt_spec sp =
	    shell_spec(dir, "printf 'a\\377\\376b\\n\\300'; printf 'x\\377' >&2; gust-nf-\\377");
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_FAILED);
	ASSERT_INT_EQ(r.o.exit_code, 127);
	ASSERT_STR_CONTAINS(r.o.message, "exit 127: command not found");
	size_t len;
	char *log = read_file(dir, "log", &len);
	ASSERT(memmem(log, len, "O a\377\376b\n", 7));
	ASSERT(memmem(log, len, "O \300\n", 4));
	free(log);
	run_free(&r);
	rm_rf(dir);
	free(dir);
}

TEST(supervisor_output_not_json)
{
	char *dir = make_dir();
	struct attempt_spec sp = shell_spec(dir, "printf '{\"a\":\\n  nope}' > $GUST_OUTPUT");
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_FAILED);
	ASSERT_INT_EQ(r.o.exit_code, 0);
	ASSERT_STR_CONTAINS(r.o.output_error, "output is not valid JSON: ");
	ASSERT_STR_CONTAINS(r.o.output_error, " at line 2 column ");
	ASSERT_STR_EQ(r.o.message, r.o.output_error);
	ASSERT(!r.o.output);
	run_free(&r);
	rm_rf(dir);
	free(dir);
}

TEST(supervisor_output_too_large)
{
	char *dir = make_dir();
	struct attempt_spec sp = shell_spec(dir, "head -c 3145728 /dev/zero > $GUST_OUTPUT");
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_FAILED);
	ASSERT_STR_EQ(r.o.output_error, "output is 3145728 bytes; the limit is 1 MiB");
	ASSERT_STR_EQ(r.o.message, "output is 3145728 bytes; the limit is 1 MiB");
	run_free(&r);
	rm_rf(dir);
	free(dir);
}

TEST(supervisor_progress_events)
{
	char *dir = make_dir();
	/* Each step waits until the supervisor has reported the previous one (the launcher's
	 * events are what we check, so the task looks for nothing but time: generous sleeps,
	 * well over the supervisor's 250 ms polling of the file). */
	struct attempt_spec sp =
	    shell_spec(dir, "echo 10 > $GUST_PROGRESS; sleep 0.6; "
			    "echo '50/200 half way' > $GUST_PROGRESS; sleep 0.6;"
			    "echo 'junk' > $GUST_PROGRESS; sleep 0.6; "
			    "echo '200/200' > $GUST_PROGRESS");
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_SUCCESS);
	ASSERT(r.nprog >= 1);
	ASSERT_INT_EQ(r.prog_done[r.nprog - 1], 200);
	ASSERT_INT_EQ(r.prog_total[r.nprog - 1], 200);
	ASSERT(!r.prog_msg[r.nprog - 1]);
	bool saw_half = false, saw_ten = false;
	for (int i = 0; i < r.nprog; i++) {
		if (r.prog_done[i] == 50 && r.prog_total[i] == 200) {
			ASSERT_STR_EQ(r.prog_msg[i], "half way");
			saw_half = true;
		}
		if (r.prog_done[i] == 10 && r.prog_total[i] == 0)
			saw_ten = true;
	}
	ASSERT(saw_half && saw_ten);
	run_free(&r);
	rm_rf(dir);
	free(dir);
}

static void cancel_graceful(struct executor *ex, const char *dir, int pid)
{
	ASSERT_INT_EQ(executor_cancel(ex, 42, false), 0);
}

static void cancel_now(struct executor *ex, const char *dir, int pid)
{
	ASSERT_INT_EQ(executor_cancel(ex, 42, true), 0);
}

TEST(supervisor_cancel_graceful)
{
	char *dir = make_dir();
	char *mark = new_marker();
	/* Cancelled once its child runs (it says so through progress). */
	/* The child reports from after its exec (dash's forked children briefly run the trap
	 * handler, which would swallow an early TERM). */
	char *cmd = xasprintf("trap 'echo got TERM; exit 7' TERM; sh -c 'echo 1 > $GUST_PROGRESS; "
			      "exec sleep 1000' & wait; : %s",
			      mark);
	struct attempt_spec sp = shell_spec(dir, cmd);
	sp.kill_grace_ms = 20000;
	struct run r;
	run_spec2(&sp, &r, NULL, cancel_graceful);
	ASSERT_STR_EQ(attempt_status_name(r.o.status), "cancelled");
	ASSERT_STR_CONTAINS(r.o.message, "cancelled; killed ");
	ASSERT(r.o.killed >= 2);
	if (r.secs >= 10)
		test_fail(__FILE__, __LINE__, "TERM did not suffice: %s", r.o.message);
	ASSERT_INT_EQ(marker_procs(mark, 0), 0);
	char *log = read_file(dir, "log", NULL);
	ASSERT_STR_CONTAINS(log, " O got TERM\n");
	free(log);
	run_free(&r);
	rm_rf(dir);
	free(dir);
	free(cmd);
	free(mark);
}

TEST(supervisor_cancel_immediate)
{
	char *dir = make_dir();
	char *mark = new_marker();
	char *cmd =
	    xasprintf("trap '' TERM; sleep 1000 & echo 1 > $GUST_PROGRESS; wait; : %s", mark);
	struct attempt_spec sp = shell_spec(dir, cmd);
	sp.kill_grace_ms = 30000;
	struct run r;
	run_spec2(&sp, &r, NULL, cancel_now);
	ASSERT_INT_EQ(r.o.status, AS_CANCELLED);
	ASSERT_INT_EQ(r.o.signal, 9);
	ASSERT_INT_EQ(r.o.killed, 2);
	ASSERT_STR_EQ(r.o.message, "cancelled; killed 2 processes");
	ASSERT(r.secs < 10);
	ASSERT_INT_EQ(marker_procs(mark, 0), 0);
	run_free(&r);
	rm_rf(dir);
	free(dir);
	free(cmd);
	free(mark);
}

static void kill_supervisor(struct executor *ex, const char *dir, int pid)
{
	char *s = read_file(dir, "supervisor", NULL);
	ASSERT(s);
	int spid = atoi(s);
	ASSERT(spid > 1);
	ASSERT_INT_EQ(kill(spid, SIGKILL), 0);
	free(s);
}

TEST(supervisor_killed_supervisor_is_lost)
{
	char *dir = make_dir();
	char *mark = new_marker();
	char *cmd = xasprintf("sleep 1000; : %s", mark);
	struct attempt_spec sp = shell_spec(dir, cmd);
	struct run r;
	run_spec(&sp, &r, kill_supervisor);
	ASSERT_STR_EQ(attempt_status_name(r.o.status), "lost");
	ASSERT_STR_CONTAINS(r.o.message, "signal 9 (SIGKILL)");
	ASSERT(r.secs < 10);
	/* The orphaned task is not the executor's business; clean up after ourselves. */
	marker_procs(mark, SIGKILL);
	run_free(&r);
	rm_rf(dir);
	free(dir);
	free(cmd);
	free(mark);
}

TEST(supervisor_log_write_failure)
{
	char *dir = make_dir();
	char *mark = new_marker();
	char *link = xasprintf("%s/log", dir);
	ASSERT_INT_EQ(symlink("/dev/full", link), 0);
	char *cmd = xasprintf("echo hello; sleep 1000; : %s", mark);
	struct attempt_spec sp = shell_spec(dir, cmd);
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_FAILED);
	ASSERT_STR_CONTAINS(r.o.message, "log write failed: No space left on device");
	ASSERT(r.secs < 10);
	ASSERT_INT_EQ(marker_procs(mark, 0), 0);
	run_free(&r);
	rm_rf(dir);
	free(dir);
	free(link);
	free(cmd);
	free(mark);
}

TEST(supervisor_many_parallel)
{
	/* 200 short attempts, 4 at a time, through one executor: every key finishes once. */
	enum { N = 200, PAR = 4 };
	char *dirs[N];
	for (int i = 0; i < N; i++)
		dirs[i] = make_dir();
	struct executor *ex = local_executor_new();
	int next = 0, done = 0;
	bool fin[N] = {0};
	double t0 = now_s();
	while (done < N) {
		while (next < N && executor_running(ex) < PAR) {
			struct attempt_spec sp =
			    shell_spec(dirs[next], next % 2 ? "true" : "exit 1");
			ASSERT_INT_EQ(executor_start(ex, (uint64_t)next, &sp), 0);
			next++;
		}
		struct pollfd pfd = {.fd = executor_fd(ex), .events = POLLIN};
		poll(&pfd, 1, 1000);
		struct executor_event evs[3];
		size_t n;
		while ((n = executor_poll(ex, evs, 3)) > 0) {
			for (size_t i = 0; i < n; i++) {
				if (evs[i].kind == EXEC_EV_FINISHED) {
					int k = (int)evs[i].key;
					ASSERT(!fin[k]);
					fin[k] = true;
					done++;
					ASSERT_INT_EQ(evs[i].outcome.status,
						      k % 2 ? AS_SUCCESS : AS_FAILED);
				}
				executor_event_free(&evs[i]);
			}
		}
		ASSERT(now_s() - t0 < 40);
	}
	fprintf(stderr, "  %d attempts at parallelism %d: %.3f ms each\n", N, PAR,
		(now_s() - t0) * 1000 / N);
	executor_destroy(ex);
	for (int i = 0; i < N; i++) {
		rm_rf(dirs[i]);
		free(dirs[i]);
	}
}

TEST(supervisor_survives_launcher_death)
{
	char *dir = make_dir();
	/* The launcher starts an attempt and dies at once; the attempt still completes. */
	pid_t launcher = fork();
	ASSERT(launcher >= 0);
	if (launcher == 0) {
		struct executor *ex = local_executor_new();
		struct attempt_spec sp =
		    shell_spec(dir, "sleep 0.3; echo still here; echo '\"done\"' > $GUST_OUTPUT");
		_exit(executor_start(ex, 1, &sp) == 0 ? 0 : 1);
	}
	int st;
	ASSERT_INT_EQ(waitpid(launcher, &st, 0), launcher);
	ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	struct attempt_outcome o;
	double t0 = now_s();
	int r;
	while ((r = attempt_outcome_read(dir, &o)) == -ENOENT && now_s() - t0 < 20)
		usleep(20000); /* polling a condition, with a deadline */
	ASSERT_INT_EQ(r, 0);
	ASSERT_INT_EQ(o.status, AS_SUCCESS);
	ASSERT_STR_EQ(json_string_value(o.output), "done");
	char *log = read_file(dir, "log", NULL);
	ASSERT_STR_CONTAINS(log, " O still here\n");
	free(log);
	attempt_outcome_free(&o);
	rm_rf(dir);
	free(dir);
}

TEST(supervisor_missing_dir_is_lost)
{
	struct attempt_spec sp = shell_spec("/nonexistent-gust-attempt-dir", "true");
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_LOST);
	ASSERT_STR_CONTAINS(r.o.message,
			    "supervisor failed: cannot open the attempt directory "
			    "/nonexistent-gust-attempt-dir: No such file or directory");
	run_free(&r);
}

TEST(supervisor_timeout_main_obeys_term)
{
	char *dir = make_dir();
	struct attempt_spec sp = shell_spec(dir, "exec sleep 1000");
	sp.timeout_ms = 300;
	sp.kill_grace_ms = 30000;
	struct run r;
	run_spec(&sp, &r, NULL);
	ASSERT_INT_EQ(r.o.status, AS_TIMED_OUT);
	ASSERT_STR_EQ(r.o.message, "timed out after 300ms; killed 1 process");
	ASSERT_INT_EQ(r.o.signal, SIGTERM);
	ASSERT(r.secs < 5);
	run_free(&r);
	rm_rf(dir);
	free(dir);
}

/* A folder claimed by a restarted server (DIR/supervisor created first) is never run. */
TEST(supervisor_claimed_folder_does_not_run)
{
	char dir[] = "/dev/shm/gust-claim-XXXXXX";
	ASSERT(mkdtemp(dir) != NULL);
	char *claim = xasprintf("%s/supervisor", dir);
	FILE *f = fopen(claim, "w");
	ASSERT(f);
	fputs("0 0\n", f);
	fclose(f);
	char *marker = xasprintf("%s/ran", dir);
	char *cmd = xasprintf("touch %s", marker);
	const char *envp[] = {"PATH=/usr/bin:/bin", NULL};
	struct attempt_spec spec = {.dir = dir, .shell = cmd, .envp = envp, .kill_grace_ms = 1000};
	pid_t pid;
	int fd;
	ASSERT_INT_EQ(supervisor_spawn(&spec, &pid, &fd), 0);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	ASSERT(access(marker, F_OK) != 0); /* the task never ran */
	ASSERT(access(claim, F_OK) == 0);  /* the claim stays */
	char *outcome = xasprintf("%s/outcome", dir);
	ASSERT(access(outcome, F_OK) != 0); /* and no outcome was written */
	close(fd);
	char *rm = xasprintf("rm -rf %s", dir);
	ASSERT_INT_EQ(system(rm), 0);
	free(rm);
	free(outcome);
	free(cmd);
	free(marker);
	free(claim);
}
