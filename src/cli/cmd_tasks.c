/*
 * cmd_tasks.c - `gust tasks list | logs | clear`: the task instances of a run in the store at
 * $GUST_HOME, their attempts' logs (read from the attempt folders, exec/attempt.h), and
 * clearing (re-running) a task, which the server applies.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "cli/cli.h"
#include "ops/shape.h"
#include "dag/dag.h"
#include "store/store.h"

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool parse_map_index(const char *s, int32_t *ret)
{
	long v;
	if (!cli_parse_int(s, 0, 1000000, &v))
		return false;
	*ret = (int32_t)v;
	return true;
}

/* ---- list -------------------------------------------------------------------------------- */

static const struct cli_cmd tasks_list_cmd;

static int cmd_tasks_list(int argc, char **argv)
{
	const char *home;
	bool json = false;
	int rc0 = cli_home_options(&tasks_list_cmd, argc, argv, &home, &json);
	if (rc0 >= 0)
		return rc0;
	if (argc - optind != 1)
		return cli_usage_error(&tasks_list_cmd, "name exactly one run id");
	const char *run_id = argv[optind];
	home = cli_home(home);
	struct store *st = NULL;
	if (cli_store_open(home, false, &st) < 0)
		return 1;
	int rc = 1;
	struct store_run r;
	if (cli_run_get(st, run_id, &r) < 0)
		goto out;
	struct store_ti *tis = NULL;
	size_t n = 0;
	if (cli_ti_list(st, run_id, &tis, &n) < 0) {
		store_run_free(&r);
		goto out;
	}
	int64_t now = cli_now_ms();
	if (json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, ops_ti_json(&tis[i], cli_now_ms()));
		cli_print_json(arr);
		json_decref(arr);
	} else {
		printf("%-32s %-15s %3s %9s %-10s %-20s %s\n", "TASK", "STATE", "TRY", "DURATION",
		       "EXIT", "PROGRESS", "MESSAGE");
		for (size_t i = 0; i < n; i++) {
			const struct store_ti *t = &tis[i];
			char name[256], dur[32] = "-", ex[48], prog[256];
			if (t->started_at)
				cli_fmt_elapsed((t->ended_at ? t->ended_at : now) - t->started_at,
						dur, sizeof(dur));
			ops_fmt_exit(t, ex, sizeof(ex));
			ops_fmt_progress(t, prog, sizeof(prog));
			printf("%-32s %-15s %3d %9s %-10s %-20.20s %s\n",
			       ops_ti_name(t, name, sizeof(name)), t->state, t->try_number, dur,
			       ex[0] ? ex : "-", prog[0] ? prog : "-",
			       t->message ? t->message : "");
		}
		if (!n)
			printf("(no task instances yet: the run is %s)\n", r.state);
	}
	cli_ti_list_free(tis, n);
	store_run_free(&r);
	rc = 0;
out:
	store_close(st);
	return rc;
}

static const struct cli_cmd tasks_list_cmd = {
    "tasks list",
    cmd_tasks_list,
    "the task instances of a run",
    "Usage: gust tasks list RUN [--json] [--home DIR]\n"
    "\n"
    "List the task instances of run RUN (a mapped task has one per item: task[0], ...):\n"
    "state, try number, duration, how the last attempt ended (exit code or signal),\n"
    "progress and message.\n"
    "\n"
    "  --json        a JSON array (times in UTC, durations in ms, outputs as JSON)\n"
    "  --home DIR    state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- logs -------------------------------------------------------------------------------- */

static const struct cli_cmd tasks_logs_cmd;

/* Copy fd from *off to its end to stdout. */
static int copy_out(int fd, off_t *off)
{
	char buf[65536];
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), *off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return -EIO;
		*off += n;
	}
	return fflush(stdout) == 0 ? 0 : -EIO;
}

static bool file_exists(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	struct stat sb;
	bool ok = stat(p, &sb) == 0;
	free(p);
	return ok;
}

/* The attempt to show: try `want` (0: the latest), its last launch. */
static int pick_attempt(struct store *st, const struct cli_ti_ref *ref, const char *task_id,
			int32_t want, struct store_attempt *ret)
{
	struct store_attempt *as = NULL;
	size_t n = 0;
	if (store_attempt_list(st, ref->run.run_id, task_id, ref->map_index, &as, &n) < 0) {
		fprintf(stderr, "gust: cannot read the attempts: %s\n", store_errmsg(st));
		return -EIO;
	}
	ssize_t best = -1;
	for (size_t i = 0; i < n; i++)
		if (want == 0 || as[i].try_number == want)
			best = (ssize_t)i; /* ordered by try then launch: the last one wins */
	int rc = -ENOENT;
	if (best >= 0) {
		*ret = as[best];
		memset(&as[best], 0, sizeof(as[best]));
		rc = 0;
	}
	for (size_t i = 0; i < n; i++)
		store_attempt_free(&as[i]);
	free(as);
	return rc;
}

/* Is the attempt over as far as the store knows (ended, e.g. lost)? */
static bool attempt_ended(struct store *st, const struct store_attempt *a)
{
	struct store_attempt *as = NULL;
	size_t n = 0;
	bool ended = false;
	if (store_attempt_list(st, a->run_id, a->task_id, a->map_index, &as, &n) == 0)
		for (size_t i = 0; i < n; i++)
			if (as[i].id == a->id)
				ended = as[i].ended_at != 0;
	for (size_t i = 0; i < n; i++)
		store_attempt_free(&as[i]);
	free(as);
	return ended;
}

static int cmd_tasks_logs(int argc, char **argv)
{
	const char *home = NULL;
	int32_t map_index = -2;
	long want = 0;
	bool follow = false;
	static const struct option opts[] = {
	    {"map-index", required_argument, NULL, 'm'},
	    {"try", required_argument, NULL, 't'},
	    {"follow", no_argument, NULL, 'f'},
	    {"home", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!parse_map_index(optarg, &map_index))
				return cli_usage_error(&tasks_logs_cmd,
						       "--map-index takes a number from 0");
			break;
		case 't':
			if (!cli_parse_int(optarg, 1, 1000000, &want))
				return cli_usage_error(&tasks_logs_cmd,
						       "--try takes a number from 1");
			break;
		case 'f':
			follow = true;
			break;
		case 'H':
			home = optarg;
			break;
		case 'h':
			return cli_help(&tasks_logs_cmd);
		default:
			return cli_usage_error(&tasks_logs_cmd, "bad option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error(&tasks_logs_cmd, "name a run id and a task id");
	const char *run_id = argv[optind], *task_id = argv[optind + 1];
	home = cli_home(home);
	struct store *st = NULL;
	if (cli_store_open(home, false, &st) < 0)
		return 1;
	struct cli_ti_ref ref;
	int rc = cli_ti_find(st, home, run_id, task_id, map_index, false, &ref);
	if (rc) {
		store_close(st);
		return rc;
	}
	rc = 1;
	struct store_attempt a;
	memset(&a, 0, sizeof(a));
	int e;
	/* With --follow, wait for the attempt to begin (unless the instance is done without
	 * one, or the try asked for can no longer come). */
	while ((e = pick_attempt(st, &ref, task_id, (int32_t)want, &a)) == -ENOENT && follow) {
		struct store_ti t;
		bool wait = true;
		if (store_ti_get(st, run_id, task_id, ref.map_index, &t) == 0) {
			bool done = strcmp(t.state, "success") == 0 ||
				    strcmp(t.state, "failed") == 0 ||
				    strcmp(t.state, "skipped") == 0 ||
				    strcmp(t.state, "upstream_failed") == 0;
			wait = !done && (want == 0 || t.try_number < want);
			store_ti_free(&t);
		} else {
			struct store_run r;
			if (store_run_get(st, run_id, &r) == 0) {
				wait = strcmp(r.state, "queued") == 0 ||
				       strcmp(r.state, "running") == 0;
				store_run_free(&r);
			}
		}
		if (!wait)
			break;
		sleep_ms(200);
	}
	if (e == -ENOENT) {
		const char *state = ref.ti ? ref.ti->state : "none";
		struct store_ti t;
		bool fresh = store_ti_get(st, run_id, task_id, ref.map_index, &t) == 0;
		if (fresh)
			state = t.state;
		if (want)
			fprintf(stderr,
				"gust: %s of run %s has no try %ld (state %s, %d tr%s so far)\n",
				task_id, run_id, want, state, fresh ? t.try_number : 0,
				fresh && t.try_number == 1 ? "y" : "ies");
		else
			fprintf(stderr,
				"gust: %s of run %s has not started an attempt (state %s)%s\n",
				task_id, run_id, state,
				strcmp(state, "none") == 0 || strcmp(state, "scheduled") == 0
				    ? "; 'gust why' says what it waits for"
				    : "");
		if (fresh)
			store_ti_free(&t);
		goto out;
	}
	if (e < 0)
		goto out;
	char *log = xasprintf("%s/log", a.dir);
	int fd = open(log, O_RDONLY | O_CLOEXEC);
	while (fd < 0 && errno == ENOENT && follow && !file_exists(a.dir, "outcome") &&
	       !attempt_ended(st, &a)) {
		sleep_ms(150);
		fd = open(log, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		int err = errno;
		if (err == ENOENT && a.dir[0] != '/' && !file_exists(a.dir, "."))
			fprintf(stderr,
				"gust: no log for %s try %d: %s does not exist here (the attempt "
				"folder is relative to the folder the server runs in)\n",
				task_id, a.try_number, log);
		else if (err == ENOENT)
			fprintf(stderr, "gust: no log for %s try %d: %s does not exist%s\n",
				task_id, a.try_number, log,
				a.status ? " (the attempt ended without writing one)" : " (yet)");
		else
			fprintf(stderr, "gust: cannot read %s: %s\n", log, strerror(err));
		free(log);
		goto out_a;
	}
	off_t off = 0;
	int64_t last_check = 0;
	for (;;) {
		/* Done first, then read to the end: nothing written before the outcome is lost. */
		bool done = !follow || file_exists(a.dir, "outcome");
		if (!done && cli_now_ms() - last_check >= 1000) {
			last_check = cli_now_ms();
			done = attempt_ended(st, &a); /* e.g. lost: no outcome will come */
		}
		if (copy_out(fd, &off) < 0) {
			fprintf(stderr, "gust: cannot copy %s: %s\n", log, strerror(errno));
			break;
		}
		if (done) {
			rc = 0;
			break;
		}
		sleep_ms(150);
	}
	close(fd);
	free(log);
out_a:
	store_attempt_free(&a);
out:
	cli_ti_ref_free(&ref);
	store_close(st);
	return rc;
}

static const struct cli_cmd tasks_logs_cmd = {
    "tasks logs",
    cmd_tasks_logs,
    "an attempt's log",
    "Usage: gust tasks logs RUN TASK [--map-index I] [--try N] [--follow] [--home DIR]\n"
    "\n"
    "Print the log of an attempt of TASK in run RUN (default: its latest try): every line\n"
    "of stdout and stderr as 'TIMESTAMP O|E TEXT'.\n"
    "\n"
    "  --map-index I  which instance of a mapped task\n"
    "  --try N        that try instead of the latest\n"
    "  -f, --follow   keep printing new lines until the attempt is over (waiting for it to\n"
    "                 start if needed); Ctrl-C stops\n"
    "  --home DIR     state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- clear and mark ------------------------------------------------------------------- */

static const struct cli_cmd tasks_clear_cmd, tasks_mark_cmd;

/* "work[1] and its downstream tasks" */
static void what_text(const struct ops_req *rq, char *buf, size_t size)
{
	if (rq->map_index >= 0)
		snprintf(buf, size, "%s[%d]%s", rq->task_id, rq->map_index,
			 rq->downstream ? " and its downstream tasks" : "");
	else
		snprintf(buf, size, "%s%s", rq->task_id,
			 rq->downstream ? " and its downstream tasks" : "");
}

/* The instances of a clear's or a mark's answer, one a line: "  work[1]  failed". */
static void print_instances(const json_t *body)
{
	size_t k;
	json_t *ti;
	json_array_foreach(json_object_get(body, "instances"), k, ti)
	{
		json_t *mi = json_object_get(ti, "map_index");
		char name[300];
		if (json_is_integer(mi))
			snprintf(name, sizeof(name), "%s[%lld]",
				 json_string_value(json_object_get(ti, "task_id")),
				 (long long)json_integer_value(mi));
		else
			snprintf(name, sizeof(name), "%s",
				 json_string_value(json_object_get(ti, "task_id")));
		printf("  %-30s %s\n", name, json_string_value(json_object_get(ti, "state")));
	}
}

static int clear_or_mark(const struct cli_cmd *cmd, enum ops_op op, int argc, char **argv)
{
	const char *home = NULL, *state = NULL;
	struct ops_req rq = {.op = op, .map_index = -1};
	static const struct option opts[] = {
	    {"map-index", required_argument, NULL, 'm'},
	    {"downstream", no_argument, NULL, 'd'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"state", required_argument, NULL, 's'},
	    {"home", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "dnh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!parse_map_index(optarg, &rq.map_index))
				return cli_usage_error(cmd, "--map-index takes a number from 0");
			break;
		case 'd':
		case 'n':
			if (op != OPS_CLEAR)
				return cli_usage_error(cmd, "bad option");
			*(c == 'd' ? &rq.downstream : &rq.dry_run) = true;
			break;
		case 's':
			if (op != OPS_MARK)
				return cli_usage_error(cmd, "bad option");
			state = optarg;
			break;
		case 'H':
			home = optarg;
			break;
		case 'h':
			return cli_help(cmd);
		default:
			return cli_usage_error(cmd, "bad option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error(cmd, "name a run id and a task id");
	if (op == OPS_MARK) {
		if (!state || (strcmp(state, "success") != 0 && strcmp(state, "failed") != 0))
			return cli_usage_error(cmd, "--state success or --state failed");
		rq.success = strcmp(state, "success") == 0;
	}
	rq.run_id = argv[optind];
	rq.task_id = argv[optind + 1];
	rq.who = op == OPS_CLEAR ? "'gust tasks clear'" : "'gust tasks mark'";
	home = cli_home(home);
	struct store *st = NULL;
	if (cli_store_open(home, false, &st) < 0)
		return 1;
	char what[512];
	what_text(&rq, what, sizeof(what));
	struct ops_answer ans;
	struct ops_err err = {0};
	int rc = 0;
	if (cli_ops_write(home, st, &rq, &ans, &err) < 0) {
		rc = cli_ops_failed(&err);
	} else if (ans.outcome == OPS_QUEUED) {
		printf("%s of %s in run %s requested; no server is running on %s, so it applies "
		       "when 'gust server' starts\n",
		       op == OPS_CLEAR ? "clear" : "mark", what, rq.run_id, home);
	} else if (rq.dry_run) {
		printf("clearing %s in run %s would run again:\n", what, rq.run_id);
		print_instances(ans.body);
	} else if (op == OPS_CLEAR) {
		printf("cleared %s in run %s: it runs again\n", what, rq.run_id);
	} else {
		printf("marked %s in run %s %s\n", what, rq.run_id, state);
	}
	ops_answer_free(&ans);
	store_close(st);
	return rc;
}

static int cmd_tasks_clear(int argc, char **argv)
{
	return clear_or_mark(&tasks_clear_cmd, OPS_CLEAR, argc, argv);
}

static int cmd_tasks_mark(int argc, char **argv)
{
	return clear_or_mark(&tasks_mark_cmd, OPS_MARK, argc, argv);
}

static const struct cli_cmd tasks_clear_cmd = {
    "tasks clear",
    cmd_tasks_clear,
    "run a task again",
    "Usage: gust tasks clear RUN TASK [--downstream] [--map-index I] [--dry-run] [--home DIR]\n"
    "\n"
    "Run TASK of run RUN again (Airflow's clear): its instances wait for their upstreams\n"
    "again, with a fresh retry budget; a finished run becomes running. The server applies\n"
    "it; without a server running, it applies when one starts. An instance that is queued\n"
    "or running cannot be cleared until its attempt ends.\n"
    "\n"
    "  --downstream   every task downstream of TASK too\n"
    "  --map-index I  only that instance of a mapped task\n"
    "  -n, --dry-run  list what would run again, change nothing\n"
    "  --home DIR     state folder (default $GUST_HOME, else ./.gust)\n",
};

static const struct cli_cmd tasks_mark_cmd = {
    "tasks mark",
    cmd_tasks_mark,
    "set a task's outcome by hand",
    "Usage: gust tasks mark RUN TASK --state success|failed [--map-index I] [--home DIR]\n"
    "\n"
    "Set TASK of run RUN to success or failed without running it (Airflow's mark success /\n"
    "mark failed): no attempt, no retry. Tasks waiting downstream react as if it had ended\n"
    "so; tasks already done stay as they are ('gust tasks clear' runs them again). The run's\n"
    "state follows. The server applies it; without a server running, it applies when one\n"
    "starts. An instance that is queued or running cannot be marked until its attempt ends.\n"
    "\n"
    "  --state S      success or failed\n"
    "  --map-index I  only that instance of a mapped task\n"
    "  --home DIR     state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- group ------------------------------------------------------------------------------- */

static const struct cli_cmd *const tasks_cmds[] = {&tasks_list_cmd, &tasks_logs_cmd,
						   &tasks_clear_cmd, &tasks_mark_cmd};

int cmd_tasks(int argc, char **argv)
{
	return cli_group("tasks", tasks_cmds, ARRAY_SIZE(tasks_cmds), argc, argv);
}
