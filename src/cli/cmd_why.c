/*
 * cmd_why.c - `gust why RUN TASK`: why a task instance is not running now, one line per
 * reason, with the numbers behind it.
 *
 * The reasons are a table of checks run in order over one snapshot of the store (struct why).
 * Each check looks at one thing (the run, the upstreams, the retry delay, the slots, ...) and
 * says nothing when it does not apply; a check that explains everything (the instance is done
 * or running) ends the list. A new limit (pools, resources) is one more function and one more
 * row in `checks`. The admission rows live in why_admission.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/util.h"
#include "cli/cli.h"
#include "cli/why.h"
#include "dag/dag.h"
#include "server/config.h"
#include "store/store.h"

void why_say(struct why *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	w->lines++;
}

#define say why_say

static const char *ti_state(const struct why *w)
{
	return w->ref.ti ? w->ref.ti->state : "none";
}

static bool is(const char *state, const char *name)
{
	return strcmp(state, name) == 0;
}

static bool state_done(const char *s)
{
	return is(s, "success") || is(s, "failed") || is(s, "skipped") || is(s, "upstream_failed");
}

/* ---- checks -------------------------------------------------------------------------------- */

static void check_state(struct why *w)
{
	const struct store_ti *t = w->ref.ti;
	char name[256];
	if (t)
		cli_ti_name(t, name, sizeof(name));
	else
		snprintf(name, sizeof(name), "%s", w->task_id);
	if (!t || t->try_number == 0)
		say(w, "%s in run %s: %s", name, w->ref.run.run_id, ti_state(w));
	else
		say(w, "%s in run %s: %s, try %d", name, w->ref.run.run_id, t->state,
		    t->try_number);
}

static void check_done(struct why *w)
{
	const struct store_ti *t = w->ref.ti;
	if (!t || !state_done(t->state))
		return;
	char ex[48];
	cli_fmt_exit(t, ex, sizeof(ex));
	const char *detail = t->message ? t->message : ex[0] ? ex : NULL;
	say(w, "it is done: %s%s%s%s", t->state, detail ? " (" : "", detail ? detail : "",
	    detail ? ")" : "");
	if (is(t->state, "failed") || is(t->state, "upstream_failed"))
		say(w, "'gust tasks clear %s %s' runs it again", w->ref.run.run_id, w->task_id);
	w->stop = true;
}

static void check_active(struct why *w)
{
	const struct store_ti *t = w->ref.ti;
	if (!t || !(is(t->state, "queued") || is(t->state, "running")))
		return;
	char when[40], rel[40], prog[256];
	if (is(t->state, "queued")) {
		say(w, "it is starting: try %d was handed to the executor at %s (%s)",
		    t->try_number, cli_fmt_time(t->queued_at, when, sizeof(when)),
		    cli_fmt_relative(t->queued_at - w->now, rel, sizeof(rel)));
	} else {
		cli_fmt_progress(t, prog, sizeof(prog));
		say(w, "it is running: try %d since %s (%s)%s%s", t->try_number,
		    cli_fmt_time(t->started_at, when, sizeof(when)),
		    cli_fmt_relative(t->started_at - w->now, rel, sizeof(rel)),
		    prog[0] ? ", progress " : "", prog);
	}
	w->stop = true;
}

/* The run itself: queued behind max_active_runs, or over. */
static void check_run(struct why *w)
{
	const struct store_run *r = &w->ref.run;
	if (is(r->state, "success") || is(r->state, "failed") || is(r->state, "cancelled")) {
		say(w, "run is over: %s%s%s%s; nothing more starts in it", r->state,
		    r->message ? " (" : "", r->message ? r->message : "", r->message ? ")" : "");
		w->stop = true;
		return;
	}
	if (!is(r->state, "queued"))
		return;
	struct store_run_filter f = {.dag_id = r->dag_id, .state = "running"};
	struct store_run *running = NULL;
	size_t n = 0;
	store_run_list(w->st, &f, &running, &n);
	int max = w->dag->max_active_runs;
	if ((long)n >= max) {
		char list[512] = "";
		size_t len = 0;
		for (size_t i = 0; i < n && i < 3; i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
						i ? ", " : "", running[i].run_id);
		if (n > 3)
			snprintf(list + len, sizeof(list) - len, " and %zu more", n - 3);
		say(w, "run is queued: DAG '%s' has max_active_runs %d and run%s %s %s running",
		    r->dag_id, max, n == 1 ? "" : "s", list, n == 1 ? "is" : "are");
	} else {
		/* Older queued runs of the DAG start first. */
		struct store_run_filter q = {
		    .dag_id = r->dag_id, .state = "queued", .oldest_first = true};
		struct store_run *queued = NULL;
		size_t n_q = 0, ahead = 0;
		store_run_list(w->st, &q, &queued, &n_q);
		for (size_t i = 0; i < n_q; i++) {
			if (strcmp(queued[i].run_id, r->run_id) == 0)
				break;
			ahead++;
		}
		for (size_t i = 0; i < n_q; i++)
			store_run_free(&queued[i]);
		free(queued);
		if (ahead)
			say(w,
			    "run is queued behind %zu older queued run%s of DAG '%s' "
			    "(max_active_runs %d, %zu running)",
			    ahead, ahead == 1 ? "" : "s", r->dag_id, max, n);
		else if (!why_conflicts(w))
			say(w, "run is queued: DAG '%s' has max_active_runs %d and %zu running: %s",
			    r->dag_id, max, n,
			    w->server ? "the server starts it on its next step"
				      : "it starts when a server runs");
	}
	for (size_t i = 0; i < n; i++)
		store_run_free(&running[i]);
	free(running);
}

static void check_paused(struct why *w)
{
	if (w->dag_row.paused)
		say(w,
		    "DAG '%s' is paused: no new scheduled runs are created ('gust dags unpause "
		    "%s'); runs already created carry on",
		    w->dag->id, w->dag->id);
}

/* `none`: the upstream tasks not done yet, each with its state. */
static void check_upstream(struct why *w)
{
	if (!is(w->ref.run.state, "running") || !is(ti_state(w), "none"))
		return;
	const struct dag *d = w->dag;
	const struct dag_task *task = &d->tasks[w->task];
	int waiting = 0;
	for (uint32_t e = d->up_off[w->task]; e < d->up_off[w->task + 1]; e++) {
		const char *up = d->tasks[d->up[e]].id;
		size_t n = 0, done = 0;
		const struct store_ti *one = NULL;
		size_t by[5] = {0}; /* running, queued, scheduled, up_for_retry, none */
		static const char *const names[] = {"running", "queued", "scheduled",
						    "up_for_retry", "none"};
		for (size_t i = 0; i < w->ref.n_tis; i++) {
			const struct store_ti *t = &w->ref.tis[i];
			if (strcmp(t->task_id, up) != 0)
				continue;
			n++;
			one = t;
			if (state_done(t->state)) {
				done++;
				continue;
			}
			size_t k = 0;
			while (k < 4 && !is(t->state, names[k]))
				k++;
			by[k]++;
		}
		if (n && done == n)
			continue;
		waiting++;
		if (n <= 1) {
			const char *st = one ? one->state : "none";
			if (one && one->try_number)
				say(w, "waiting for upstream '%s' (%s, try %d)", up, st,
				    one->try_number);
			else
				say(w, "waiting for upstream '%s' (%s)", up, st);
		} else {
			char parts[256] = "";
			size_t len = 0;
			for (size_t k = 0; k < ARRAY_SIZE(names); k++)
				if (by[k])
					len += (size_t)snprintf(parts + len, sizeof(parts) - len,
								"%s%zu %s", len ? ", " : "", by[k],
								names[k]);
			say(w, "waiting for upstream '%s' (mapped: %zu of %zu instances done; %s)",
			    up, done, n, parts);
		}
	}
	if (waiting && task->trigger_rule != TR_ALL_SUCCESS)
		say(w, "its trigger rule is %s: it is decided once the upstream states allow",
		    trigger_rule_name(task->trigger_rule));
	if (!waiting)
		say(w,
		    "every upstream task is done (trigger rule %s): the server decides it on "
		    "its next step",
		    trigger_rule_name(task->trigger_rule));
}

static void check_retry(struct why *w)
{
	const struct store_ti *t = w->ref.ti;
	if (!t || !is(t->state, "up_for_retry"))
		return;
	int retries = w->dag->tasks[w->task].retries;
	int k = t->try_number < retries ? t->try_number : retries;
	char when[40], rel[40], ex[48];
	cli_fmt_exit(t, ex, sizeof(ex));
	const char *last = ex[0] ? ex : t->message ? t->message : "no exit code";
	if (t->retry_at > w->now)
		say(w, "retry %d of %d at %s (%s); try %d failed: %s", k, retries,
		    cli_fmt_time(t->retry_at, when, sizeof(when)),
		    cli_fmt_relative(t->retry_at - w->now, rel, sizeof(rel)), t->try_number, last);
	else
		say(w,
		    "retry %d of %d was due at %s (%s): the server starts it on its next step; "
		    "try %d failed: %s",
		    k, retries, cli_fmt_time(t->retry_at, when, sizeof(when)),
		    cli_fmt_relative(t->retry_at - w->now, rel, sizeof(rel)), t->try_number, last);
}

/* `scheduled`: what admission control holds it back with (why_admission.c). */
static void check_slots(struct why *w)
{
	if (is(ti_state(w), "scheduled"))
		why_admission(w);
}

static void check_server(struct why *w)
{
	if (!w->server)
		say(w,
		    "no server is running on %s: nothing starts until 'gust server --home %s' runs",
		    w->home, w->home);
}

static const struct why_check {
	const char *name;
	void (*fn)(struct why *w);
} checks[] = {
    {"state", check_state},	  /* always first: what it is */
    {"done", check_done},	  /* finished: why, and the end of it */
    {"active", check_active},	  /* queued or running: it is not waiting */
    {"run", check_run},		  /* the run is queued (max_active_runs) or over */
    {"paused", check_paused},	  /* the DAG's schedule is paused */
    {"upstream", check_upstream}, /* none: upstream tasks not done */
    {"retry", check_retry},	  /* up_for_retry: when */
    {"slots", check_slots},	  /* scheduled: parallelism, limits, pool, resources */
    {"server", check_server},	  /* nothing moves without a server */
};

/* ---- command -------------------------------------------------------------------------------- */

static const struct cli_cmd why_cmd;

int cmd_why(int argc, char **argv)
{
	const char *home = NULL;
	int32_t map_index = -2;
	static const struct option opts[] = {
	    {"map-index", required_argument, NULL, 'm'},
	    {"home", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': {
			long v;
			if (!cli_parse_int(optarg, 0, 1000000, &v))
				return cli_usage_error(&why_cmd,
						       "--map-index takes a number from 0");
			map_index = (int32_t)v;
			break;
		}
		case 'H':
			home = optarg;
			break;
		case 'h':
			return cli_help(&why_cmd);
		default:
			return cli_usage_error(&why_cmd, "bad option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error(&why_cmd, "name a run id and a task id");
	struct why w;
	memset(&w, 0, sizeof(w));
	w.home = cli_home(home);
	w.task_id = argv[optind + 1];
	if (cli_store_open(w.home, false, &w.st) < 0)
		return 1;
	int rc = cli_ti_find(w.st, w.home, argv[optind], w.task_id, map_index, false, &w.ref);
	if (rc) {
		store_close(w.st);
		return rc;
	}
	rc = 1;
	w.dag = cli_dag_from_store(w.st, w.ref.run.dag_id, w.ref.run.version);
	if (!w.dag)
		goto out;
	w.task = dag_task_index(w.dag, w.task_id);
	if (w.task < 0) {
		fprintf(stderr, "gust: version %lld of DAG '%s' has no task '%s'\n",
			(long long)w.ref.run.version, w.dag->id, w.task_id);
		goto out;
	}
	if (store_dag_get(w.st, w.dag->id, &w.dag_row) < 0)
		memset(&w.dag_row, 0, sizeof(w.dag_row));
	w.now = cli_now_ms();
	w.server = cli_server_running(w.home);
	for (size_t i = 0; i < ARRAY_SIZE(checks) && !w.stop; i++)
		checks[i].fn(&w);
	store_dag_free(&w.dag_row);
	rc = 0;
out:
	dag_free(w.dag);
	cli_ti_ref_free(&w.ref);
	store_close(w.st);
	return rc;
}

static const struct cli_cmd why_cmd = {
    "why",
    cmd_why,
    "why a task instance is not running",
    "Usage: gust why RUN TASK [--map-index I] [--home DIR]\n"
    "\n"
    "Say why TASK of run RUN is not running now, one line per reason, with numbers: its\n"
    "state; the upstream tasks it waits for and their states; when its next retry is due;\n"
    "the run waiting for its DAG's max_active_runs or for a running run of a conflicting\n"
    "DAG; the attempts in use against the parallelism ($GUST_HOME/config.yaml, default 32)\n"
    "and the DAG's max_active_tasks; its pool's slots and the runs and tasks holding them;\n"
    "its declared cpu, memory and disk against what is free; reservations held for tasks\n"
    "waiting longer; a paused DAG; no server running. A finished instance says how it\n"
    "ended. The rules: docs/admission.md.\n"
    "\n"
    "  --map-index I  which instance of a mapped task\n"
    "  --home DIR     state folder (default $GUST_HOME, else ./.gust)\n",
};
