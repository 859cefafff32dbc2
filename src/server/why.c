/*
 * why.c - why a task instance is not running now (why.h).
 *
 * The reasons are a table of checks run in order over one snapshot of the store. Each check
 * looks at one thing (the run, the upstreams, the retry delay, the slots, ...) and says nothing
 * when it does not apply; a check that explains everything (the instance is done or running)
 * ends the list. A new limit is one more function and one more row in `checks`. The admission
 * rows live in why_admission.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "ops/text.h"
#include "server/why_int.h"

void why_say(struct why *w, bool waiting, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = xvasprintf(fmt, ap);
	va_end(ap);
	json_array_append_new(w->reasons, json_pack("{s:s, s:b, s:s}", "check", w->check, "waiting",
						    waiting, "text", text));
	free(text);
}

#define say why_say

static const char *ti_state(const struct why *w)
{
	return w->ti ? w->ti->state : "none";
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
	const struct store_ti *t = w->ti;
	char name[256];
	if (t)
		ops_ti_name(t, name, sizeof(name));
	else
		snprintf(name, sizeof(name), "%s", w->task_id);
	if (!t || t->try_number == 0)
		say(w, false, "%s in run %s: %s", name, w->run.run_id, ti_state(w));
	else
		say(w, false, "%s in run %s: %s, try %d", name, w->run.run_id, t->state,
		    t->try_number);
}

static void check_done(struct why *w)
{
	const struct store_ti *t = w->ti;
	if (!t || !state_done(t->state))
		return;
	char ex[48];
	ops_fmt_exit(t, ex, sizeof(ex));
	const char *detail = t->message ? t->message : ex[0] ? ex : NULL;
	say(w, false, "it is done: %s%s%s%s", t->state, detail ? " (" : "", detail ? detail : "",
	    detail ? ")" : "");
	if (is(t->state, "failed") || is(t->state, "upstream_failed"))
		say(w, false, "'gust tasks clear %s %s' runs it again", w->run.run_id, w->task_id);
	w->stop = true;
}

static void check_active(struct why *w)
{
	const struct store_ti *t = w->ti;
	if (!t || !(is(t->state, "queued") || is(t->state, "running")))
		return;
	char when[40], rel[40], prog[256];
	if (is(t->state, "queued")) {
		say(w, false, "it is starting: try %d was handed to the executor at %s (%s)",
		    t->try_number, ops_fmt_time(t->queued_at, when, sizeof(when)),
		    ops_fmt_relative(t->queued_at - w->now, rel, sizeof(rel)));
	} else {
		ops_fmt_progress(t, prog, sizeof(prog));
		say(w, false, "it is running: try %d since %s (%s)%s%s", t->try_number,
		    ops_fmt_time(t->started_at, when, sizeof(when)),
		    ops_fmt_relative(t->started_at - w->now, rel, sizeof(rel)),
		    prog[0] ? ", progress " : "", prog);
	}
	w->stop = true;
}

static void free_runs(struct store_run *runs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_run_free(&runs[i]);
	free(runs);
}

/* The run itself: queued behind max_active_runs, or over. */
static void check_run(struct why *w)
{
	const struct store_run *r = &w->run;
	if (is(r->state, "success") || is(r->state, "failed") || is(r->state, "cancelled")) {
		say(w, false, "run is over: %s%s%s%s; nothing more starts in it", r->state,
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
		say(w, true,
		    "run is queued: DAG '%s' has max_active_runs %d and run%s %s %s running",
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
		free_runs(queued, n_q);
		if (ahead) {
			say(w, true,
			    "run is queued behind %zu older queued run%s of DAG '%s' "
			    "(max_active_runs %d, %zu running)",
			    ahead, ahead == 1 ? "" : "s", r->dag_id, max, n);
		} else {
			w->check = "conflict";
			if (!why_conflicts(w)) {
				w->check = "run";
				say(w, false,
				    "run is queued: DAG '%s' has max_active_runs %d and %zu "
				    "running: %s",
				    r->dag_id, max, n,
				    w->env->server ? "the server starts it on its next step"
						   : "it starts when a server runs");
			}
		}
	}
	free_runs(running, n);
}

static void check_paused(struct why *w)
{
	if (w->dag_row.paused)
		say(w, false,
		    "DAG '%s' is paused: no new scheduled runs are created ('gust dags unpause "
		    "%s'); runs already created carry on",
		    w->dag->id, w->dag->id);
}

/* `none`: the upstream tasks not done yet, each with its state. */
static void check_upstream(struct why *w)
{
	if (!is(w->run.state, "running") || !is(ti_state(w), "none"))
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
		for (size_t i = 0; i < w->n_tis; i++) {
			const struct store_ti *t = &w->tis[i];
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
				say(w, true, "waiting for upstream '%s' (%s, try %d)", up, st,
				    one->try_number);
			else
				say(w, true, "waiting for upstream '%s' (%s)", up, st);
		} else {
			char parts[256] = "";
			size_t len = 0;
			for (size_t k = 0; k < ARRAY_SIZE(names); k++)
				if (by[k])
					len += (size_t)snprintf(parts + len, sizeof(parts) - len,
								"%s%zu %s", len ? ", " : "", by[k],
								names[k]);
			say(w, true,
			    "waiting for upstream '%s' (mapped: %zu of %zu instances done; %s)", up,
			    done, n, parts);
		}
	}
	if (waiting && task->trigger_rule != TR_ALL_SUCCESS)
		say(w, false,
		    "its trigger rule is %s: it is decided once the upstream states allow",
		    trigger_rule_name(task->trigger_rule));
	if (!waiting)
		say(w, false,
		    "every upstream task is done (trigger rule %s): the server decides it on "
		    "its next step",
		    trigger_rule_name(task->trigger_rule));
}

static void check_retry(struct why *w)
{
	const struct store_ti *t = w->ti;
	if (!t || !is(t->state, "up_for_retry"))
		return;
	int retries = w->dag->tasks[w->task].retries;
	int k = t->try_number < retries ? t->try_number : retries;
	char when[40], rel[40], ex[48];
	ops_fmt_exit(t, ex, sizeof(ex));
	const char *last = ex[0] ? ex : t->message ? t->message : "no exit code";
	if (t->retry_at > w->now)
		say(w, true, "retry %d of %d at %s (%s); try %d failed: %s", k, retries,
		    ops_fmt_time(t->retry_at, when, sizeof(when)),
		    ops_fmt_relative(t->retry_at - w->now, rel, sizeof(rel)), t->try_number, last);
	else
		say(w, false,
		    "retry %d of %d was due at %s (%s): the server starts it on its next step; "
		    "try %d failed: %s",
		    k, retries, ops_fmt_time(t->retry_at, when, sizeof(when)),
		    ops_fmt_relative(t->retry_at - w->now, rel, sizeof(rel)), t->try_number, last);
}

/* `scheduled`: what admission control holds it back with (why_admission.c). */
static void check_slots(struct why *w)
{
	if (is(ti_state(w), "scheduled"))
		why_admission(w);
}

static void check_server(struct why *w)
{
	if (!w->env->server)
		say(w, true,
		    "no server is running on %s: nothing starts until 'gust server --home %s' runs",
		    w->env->home, w->env->home);
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

/* ---- the instance asked about ------------------------------------------------------------ */

/* The instance of TASK: w->ti (NULL for a known task with no row yet: the run is queued). */
static int find_instance(struct why *w, int32_t map_index, struct ops_err *err)
{
	size_t n = 0;
	bool mapped = false;
	const struct store_ti *only = NULL;
	for (size_t i = 0; i < w->n_tis; i++) {
		const struct store_ti *t = &w->tis[i];
		if (strcmp(t->task_id, w->task_id) != 0)
			continue;
		n++;
		mapped |= t->map_index >= 0;
		only = t;
		if (t->map_index == map_index || (map_index == -2 && t->map_index == -1))
			w->ti = t;
	}
	if (!n)
		return 0;
	if (mapped && map_index == -2) {
		if (n == 1) {
			w->ti = only;
			return 0;
		}
		return ops_fail(err, OPS_INVALID,
				"task '%s' is mapped (%zu instances): name one with "
				"--map-index 0..%zu",
				w->task_id, n, n - 1);
	}
	if (w->ti)
		return 0;
	if (mapped)
		return ops_fail(err, OPS_INVALID,
				"task '%s' has no instance %d (it has %zu: 0..%zu)", w->task_id,
				map_index, n, n - 1);
	return ops_fail(err, OPS_INVALID, "task '%s' is not mapped: leave out --map-index",
			w->task_id);
}

static int load(struct why *w, const char *run_id, int32_t map_index, struct ops_err *err)
{
	if (ops_get_run(w->st, run_id, &w->run, err) < 0 ||
	    ops_ti_rows(w->st, run_id, &w->tis, &w->n_tis, err) < 0)
		return -1;
	w->dag = w->env->dags->get(w->env->dags->ctx, w->st, w->run.dag_id, w->run.version,
				   &w->dag_hold, err);
	if (!w->dag)
		return -1;
	w->task = dag_task_index(w->dag, w->task_id);
	if (w->task < 0) {
		const char **names = xcalloc(w->dag->n_tasks + 1, sizeof(*names));
		for (uint32_t i = 0; i < w->dag->n_tasks; i++)
			names[i] = w->dag->tasks[i].id;
		const char *hint = closest_word(w->task_id, names, w->dag->n_tasks);
		ops_fail(err, OPS_NOT_FOUND, "DAG '%s' has no task '%s'%s%s%s", w->dag->id,
			 w->task_id, hint ? " (did you mean '" : "", hint ? hint : "",
			 hint ? "'?)" : "");
		free(names);
		return -1;
	}
	if (find_instance(w, map_index, err) < 0)
		return -1;
	if (store_dag_get(w->st, w->dag->id, &w->dag_row) < 0)
		store_dag_free(&w->dag_row);
	return 0;
}

int why_explain(const struct why_env *env, const char *run_id, const char *task_id,
		int32_t map_index, json_t **ret, struct ops_err *err)
{
	struct why w = {.env = env, .st = env->st, .task_id = task_id, .now = env->now};
	int rc = -1;
	if (load(&w, run_id, map_index, err) == 0) {
		w.reasons = json_array();
		for (size_t i = 0; i < ARRAY_SIZE(checks) && !w.stop; i++) {
			w.check = checks[i].name;
			checks[i].fn(&w);
		}
		int32_t mi = w.ti ? w.ti->map_index : map_index == -2 ? -1 : map_index;
		*ret =
		    json_pack("{s:s, s:s, s:i, s:s, s:i, s:o}", "run_id", w.run.run_id, "task_id",
			      task_id, "map_index", (int)mi, "state", ti_state(&w), "try_number",
			      w.ti ? (int)w.ti->try_number : 0, "reasons", w.reasons);
		rc = 0;
	}
	if (w.dag)
		env->dags->release(env->dags->ctx, w.dag_hold);
	store_dag_free(&w.dag_row);
	ops_ti_rows_free(w.tis, w.n_tis);
	store_run_free(&w.run);
	return rc;
}
