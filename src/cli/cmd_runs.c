/*
 * cmd_runs.c - `gust runs list | show | cancel`: the runs in the store at $GUST_HOME. Reading
 * needs no server; `cancel` leaves a command the server applies (or, with no server running,
 * cancels a run that has not started yet directly).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cli/cli.h"
#include "ops/shape.h"
#include "store/store.h"

static int64_t run_duration(const struct store_run *r, int64_t now)
{
	return r->started_at ? (r->ended_at ? r->ended_at : now) - r->started_at : -1;
}

/* ---- list -------------------------------------------------------------------------------- */

static const struct cli_cmd runs_list_cmd;

static int cmd_runs_list(int argc, char **argv)
{
	const char *home = NULL;
	struct ops_run_query q = {.limit = 50};
	bool json = false;
	long limit = 50;
	static const struct option opts[] = {
	    {"dag", required_argument, NULL, 'd'},
	    {"state", required_argument, NULL, 's'},
	    {"limit", required_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'J'},
	    {"home", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "d:s:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			q.dag_id = optarg;
			break;
		case 's':
			q.state = optarg;
			break;
		case 'n':
			if (!cli_parse_int(optarg, 0, 1000000000, &limit))
				return cli_usage_error(&runs_list_cmd,
						       "--limit takes a number (0: no limit)");
			break;
		case 'J':
			json = true;
			break;
		case 'H':
			home = optarg;
			break;
		case 'h':
			return cli_help(&runs_list_cmd);
		default:
			return cli_usage_error(&runs_list_cmd, "bad option");
		}
	}
	if (optind < argc)
		return cli_usage_error(&runs_list_cmd, "unexpected argument '%s'", argv[optind]);
	q.limit = (size_t)limit;
	home = cli_home(home);
	struct store *st = NULL;
	if (cli_store_open(home, false, &st) < 0)
		return 1;
	struct ops_run_page page;
	struct ops_err err = {0};
	if (ops_run_list(st, &q, &page, &err) < 0) {
		int rc = cli_ops_failed(&err);
		store_close(st);
		return rc;
	}
	const struct store_run *rows = page.runs;
	size_t n = page.n;
	int64_t now = cli_now_ms();
	if (json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, ops_run_json(&rows[i], cli_now_ms()));
		cli_print_json(arr);
		json_decref(arr);
	} else {
		printf("%-48s %-9s %-9s %-20s %9s  %s\n", "RUN", "STATE", "KIND", "STARTED",
		       "DURATION", "MESSAGE");
		for (size_t i = 0; i < n; i++) {
			const struct store_run *r = &rows[i];
			char started[40], dur[32] = "-";
			int64_t d = run_duration(r, now);
			if (d >= 0)
				cli_fmt_elapsed(d, dur, sizeof(dur));
			printf("%-48s %-9s %-9s %-20s %9s  %.80s\n", r->run_id, r->state,
			       r->kind == STORE_RUN_MANUAL ? "manual" : "scheduled",
			       ops_fmt_time(r->started_at, started, sizeof(started)), dur,
			       r->message ? r->message : "");
		}
		if (!n)
			printf("(no runs%s%s%s%s)\n", q.dag_id ? " of DAG " : "",
			       q.dag_id ? q.dag_id : "", q.state ? " in state " : "",
			       q.state ? q.state : "");
		else if (page.next_cursor)
			printf("(the newest %zu; --limit N for more)\n", n);
	}
	ops_run_page_free(&page);
	store_close(st);
	return 0;
}

static const struct cli_cmd runs_list_cmd = {
    "runs list",
    cmd_runs_list,
    "list runs, newest first",
    "Usage: gust runs list [--dag ID] [--state S] [--limit N] [--json] [--home DIR]\n"
    "\n"
    "List runs, newest first: run id, state, kind (scheduled or manual), when it started,\n"
    "how long it ran (so far) and why it ended so.\n"
    "\n"
    "  --dag ID      only the runs of this DAG\n"
    "  --state S     queued, running, success, failed, cancelled, or active (queued or\n"
    "                running)\n"
    "  --limit N     at most N runs (default 50; 0: all)\n"
    "  --json        a JSON array of runs (times in UTC, durations in ms)\n"
    "  --home DIR    state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- show -------------------------------------------------------------------------------- */

static const struct cli_cmd runs_show_cmd;

static int cmd_runs_show(int argc, char **argv)
{
	const char *home;
	bool json = false;
	int rc0 = cli_home_options(&runs_show_cmd, argc, argv, &home, &json);
	if (rc0 >= 0)
		return rc0;
	if (argc - optind != 1)
		return cli_usage_error(&runs_show_cmd, "name exactly one run id");
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
	/* Task instances by state, in the order of a run's life. */
	static const char *const order[] = {"success",	 "failed",	 "upstream_failed",
					    "skipped",	 "running",	 "queued",
					    "scheduled", "up_for_retry", "none"};
	size_t counts[ARRAY_SIZE(order) + 1] = {0};
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < ARRAY_SIZE(order) && strcmp(tis[i].state, order[k]) != 0)
			k++;
		counts[k]++;
	}
	int64_t now = cli_now_ms();
	if (json) {
		json_t *o = ops_run_with_tis_json(&r, tis, n, now);
		cli_print_json(o);
		json_decref(o);
	} else {
		char b[48], rel[48];
		printf("run       %s\n", r.run_id);
		printf("dag       %s (version %lld)\n", r.dag_id, (long long)r.version);
		printf("kind      %s\n", r.kind == STORE_RUN_MANUAL ? "manual" : "scheduled");
		printf("state     %s%s%s\n", r.state, r.message ? ": " : "",
		       r.message ? r.message : "");
		printf("logical   %s\n", ops_fmt_time(r.logical_date, b, sizeof(b)));
		printf("created   %s\n", ops_fmt_time(r.created_at, b, sizeof(b)));
		printf("started   %s", ops_fmt_time(r.started_at, b, sizeof(b)));
		if (r.started_at)
			printf(" (%s)", ops_fmt_relative(r.started_at - now, rel, sizeof(rel)));
		putchar('\n');
		printf("ended     %s\n", ops_fmt_time(r.ended_at, b, sizeof(b)));
		int64_t d = run_duration(&r, now);
		if (d >= 0)
			printf("duration  %s%s\n", cli_fmt_elapsed(d, b, sizeof(b)),
			       r.ended_at ? "" : " so far");
		printf("params    %s\n", r.params ? r.params : "{}");
		if (r.note)
			printf("note      %s\n", r.note);
		printf("tasks     %zu instance%s", n, n == 1 ? "" : "s");
		const char *sep = ": ";
		for (size_t k = 0; k < ARRAY_SIZE(order); k++) {
			if (!counts[k])
				continue;
			printf("%s%s %zu", sep, order[k], counts[k]);
			sep = ", ";
		}
		putchar('\n');
		/* The instances that need attention, with why. */
		for (size_t i = 0; i < n; i++) {
			const struct store_ti *t = &tis[i];
			bool bad = strcmp(t->state, "failed") == 0 ||
				   strcmp(t->state, "up_for_retry") == 0 ||
				   strcmp(t->state, "running") == 0;
			if (!bad)
				continue;
			char name[256];
			printf("  %-30s %-13s try %d%s%s\n", ops_ti_name(t, name, sizeof(name)),
			       t->state, t->try_number, t->message ? "  " : "",
			       t->message ? t->message : "");
		}
		printf("'gust tasks list %s' for every task instance\n", r.run_id);
	}
	cli_ti_list_free(tis, n);
	store_run_free(&r);
	rc = 0;
out:
	store_close(st);
	return rc;
}

static const struct cli_cmd runs_show_cmd = {
    "runs show",
    cmd_runs_show,
    "a run's fields and task summary",
    "Usage: gust runs show RUN [--json] [--home DIR]\n"
    "\n"
    "Print a run: its DAG and version, kind, state and why, logical date, when it was\n"
    "created, started and ended, its params, how many task instances are in each state, and\n"
    "the instances that failed, wait for a retry or run now.\n"
    "\n"
    "  --json        the run as JSON, with every task instance\n"
    "  --home DIR    state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- cancel ------------------------------------------------------------------------------ */

static const struct cli_cmd runs_cancel_cmd;

static int cmd_runs_cancel(int argc, char **argv)
{
	const char *home;
	int rc0 = cli_home_options(&runs_cancel_cmd, argc, argv, &home, NULL);
	if (rc0 >= 0)
		return rc0;
	if (argc - optind != 1)
		return cli_usage_error(&runs_cancel_cmd, "name exactly one run id");
	const char *run_id = argv[optind];
	home = cli_home(home);
	struct store *st = NULL;
	if (cli_store_open(home, false, &st) < 0)
		return 1;
	struct ops_req rq = {.op = OPS_CANCEL,
			     .run_id = (char *)run_id,
			     .map_index = -1,
			     .who = "'gust runs cancel'"};
	struct ops_answer ans;
	struct ops_err err = {0};
	int rc = 0;
	if (cli_ops_write(home, st, &rq, &ans, &err) < 0) {
		rc = cli_ops_failed(&err);
	} else if (ans.outcome == OPS_DONE) {
		printf("run %s cancelled (it had not started)\n", run_id);
	} else if (ans.outcome == OPS_STARTED) {
		printf("run %s: cancel requested; the server stops it now (running tasks get TERM, "
		       "then KILL after their kill_grace)\n",
		       run_id);
	} else {
		printf("run %s: cancel requested; no server is running on %s, so it applies when "
		       "'gust server' starts (tasks still running then are stopped)\n",
		       run_id, home);
	}
	ops_answer_free(&ans);
	store_close(st);
	return rc;
}

static const struct cli_cmd runs_cancel_cmd = {
    "runs cancel",
    cmd_runs_cancel,
    "stop a run",
    "Usage: gust runs cancel RUN [--home DIR]\n"
    "\n"
    "Cancel a queued or running run: nothing new starts, running tasks are stopped\n"
    "gracefully (TERM, their kill_grace, KILL), tasks not started are skipped and the run\n"
    "ends 'cancelled'. The server does it; without a server running, a run that has not\n"
    "started is cancelled at once, and a running one when the server starts.\n"
    "\n"
    "  --home DIR    state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- group ------------------------------------------------------------------------------- */

static const struct cli_cmd *const runs_cmds[] = {&runs_list_cmd, &runs_show_cmd, &runs_cancel_cmd};

int cmd_runs(int argc, char **argv)
{
	return cli_group("runs", runs_cmds, ARRAY_SIZE(runs_cmds), argc, argv);
}
