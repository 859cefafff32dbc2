/* Unit tests for engine/run.c: the run state machine, driven with a fake clock and fake
 * outcomes (no processes). */
#include <errno.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/util.h"
#include "dag/dag_load.h"
#include "dag/params.h"
#include "engine/run.h"
#include "test.h"

static struct dag *load(const char *yaml)
{
	struct diag_list diags;
	diag_list_init(&diags, "t.yaml");
	struct dag *d = NULL;
	if (dag_load_buffer("t.yaml", yaml, strlen(yaml), &d, &diags) < 0) {
		diag_print(&diags, stderr);
		test_fail(__FILE__, __LINE__, "DAG did not load");
	}
	diag_list_free(&diags);
	return d;
}

static struct run *start(const struct dag *d, int64_t now)
{
	char *msg = NULL;
	json_t *params = params_resolve(d, NULL, &msg);
	ASSERT(params);
	struct run_config cfg = {.run_id = "r1", .logical_date_ms = 0, .params = params};
	struct run *r = run_new(d, &cfg, now);
	json_decref(params);
	return r;
}

static int32_t ti_of(const struct run *r, const char *task, int32_t map_index)
{
	for (uint32_t i = 0; i < run_ti_count(r); i++) {
		const struct ti *t = run_ti(r, i);
		if (strcmp(run_dag(r)->tasks[t->task].id, task) == 0 && t->map_index == map_index)
			return (int32_t)i;
	}
	return -1;
}

static enum ti_state state_of(const struct run *r, const char *task)
{
	int32_t i = ti_of(r, task, -1);
	if (i < 0)
		i = ti_of(r, task, 0);
	ASSERT(i >= 0);
	return run_ti(r, (uint32_t)i)->state;
}

/* Finish an attempt of TI i with exit code `code` (0 success) at time now. */
static void finish(struct run *r, uint32_t i, int code, int64_t now)
{
	struct attempt_outcome o = {0};
	o.status = code == 0 ? AS_SUCCESS : AS_FAILED;
	o.exit_code = code;
	o.started_at = now;
	o.ended_at = now;
	run_on_finished(r, i, &o, now);
}

/* Start everything ready; each task's exit code comes from `codes` by task id (default 0). */
static void drive(struct run *r, const char *const *fail_ids, int64_t now)
{
	for (int guard = 0; guard < 10000; guard++) {
		int64_t i = run_pop_ready(r);
		if (i < 0)
			return;
		struct attempt_plan plan;
		int rc = run_begin_attempt(r, (uint32_t)i, now, &plan);
		if (rc != 0)
			continue;
		attempt_plan_free(&plan);
		run_on_started(r, (uint32_t)i, now);
		const char *id = run_dag(r)->tasks[run_ti(r, (uint32_t)i)->task].id;
		int code = 0;
		for (const char *const *f = fail_ids; f && *f; f++)
			if (strcmp(*f, id) == 0)
				code = 1;
		finish(r, (uint32_t)i, code, now);
	}
}

TEST(run_chain_succeeds_in_order)
{
	struct dag *d = load("tasks:\n  a: echo a\n  b:\n    depends: [a]\n    run: echo b\n"
			     "  c:\n    depends: [b]\n    run: echo c\n");
	struct run *r = start(d, 1000);
	ASSERT_INT_EQ(state_of(r, "a"), TI_SCHEDULED);
	ASSERT_INT_EQ(state_of(r, "b"), TI_NONE);
	int64_t i = run_pop_ready(r);
	ASSERT_INT_EQ(i, ti_of(r, "a", -1));
	ASSERT_INT_EQ(run_pop_ready(r), -1); /* b waits for a */
	struct attempt_plan p;
	ASSERT_INT_EQ(run_begin_attempt(r, (uint32_t)i, 1000, &p), 0);
	ASSERT_STR_EQ(p.shell, "echo a");
	attempt_plan_free(&p);
	finish(r, (uint32_t)i, 0, 1001);
	ASSERT_INT_EQ(state_of(r, "b"), TI_SCHEDULED);
	drive(r, NULL, 1002);
	ASSERT_INT_EQ(run_get_state(r), RUN_SUCCESS);
	run_free(r);
	dag_free(d);
}

/* The trigger-rule matrix against Airflow's definitions. Upstreams: u1, u2; each is made to
 * succeed, fail, or be skipped (a map over an empty list). */
TEST(run_trigger_rule_matrix)
{
	static const char *const rules[] = {"all_success",  "all_failed", "all_done",
					    "one_success",  "one_failed", "none_failed",
					    "none_skipped", "always"};
	/* mixes: SS, SF, FF, SK, KK */
	static const char mixes[][3] = {"SS", "SF", "FF", "SK", "KK"};
	/* expected downstream state: R ran (success), U upstream_failed, K skipped */
	static const char *const expect[] = {
	    "RUUKK", /* all_success */
	    "KKRKK", /* all_failed */
	    "RRRRR", /* all_done */
	    "RRURK", /* one_success */
	    "KRRKK", /* one_failed */
	    "RUURR", /* none_failed */
	    "RRRKK", /* none_skipped */
	    "RRRRR", /* always */
	};
	for (size_t ri = 0; ri < ARRAY_SIZE(rules); ri++) {
		for (size_t mi = 0; mi < ARRAY_SIZE(mixes); mi++) {
			char yaml[1024];
			const char *u[2];
			for (int k = 0; k < 2; k++)
				u[k] = mixes[mi][k] == 'K' ? "    map: []\n    run: echo x\n"
							   : "    run: echo x\n";
			snprintf(yaml, sizeof(yaml),
				 "tasks:\n  u1:\n%s  u2:\n%s  d:\n    depends: [u1, u2]\n"
				 "    trigger_rule: %s\n    run: echo d\n",
				 u[0], u[1], rules[ri]);
			struct dag *d = load(yaml);
			struct run *r = start(d, 0);
			const char *fails[3] = {NULL, NULL, NULL};
			int nf = 0;
			if (mixes[mi][0] == 'F')
				fails[nf++] = "u1";
			if (mixes[mi][1] == 'F')
				fails[nf++] = "u2";
			drive(r, fails, 10);
			enum ti_state got = state_of(r, "d");
			char want_c = expect[ri][mi];
			enum ti_state want = want_c == 'R'   ? TI_SUCCESS
					     : want_c == 'U' ? TI_UPSTREAM_FAILED
							     : TI_SKIPPED;
			if (got != want)
				test_fail(__FILE__, __LINE__, "rule %s mix %.2s: got %s, want %s",
					  rules[ri], mixes[mi], ti_state_name(got),
					  ti_state_name(want));
			run_free(r);
			dag_free(d);
		}
	}
}

TEST(run_one_success_fires_early)
{
	struct dag *d = load("tasks:\n  fast: echo\n  slow: echo\n  d:\n    depends: [fast, slow]\n"
			     "    trigger_rule: one_success\n    run: echo d\n");
	struct run *r = start(d, 0);
	int64_t a = run_pop_ready(r), b = run_pop_ready(r);
	struct attempt_plan p;
	run_begin_attempt(r, (uint32_t)a, 0, &p);
	attempt_plan_free(&p);
	run_begin_attempt(r, (uint32_t)b, 0, &p);
	attempt_plan_free(&p);
	finish(r, (uint32_t)ti_of(r, "fast", -1), 0, 5);
	ASSERT_INT_EQ(state_of(r, "d"), TI_SCHEDULED); /* slow still running */
	run_free(r);
	dag_free(d);
}

TEST(run_retries_with_exponential_backoff)
{
	struct dag *d = load("tasks:\n  a:\n    run: exit 1\n    retries: 3\n    retry_delay: 10s\n"
			     "    retry_backoff: exponential\n    max_retry_delay: 15s\n");
	struct run *r = start(d, 0);
	uint32_t i = (uint32_t)run_pop_ready(r);
	struct attempt_plan p;
	int64_t now = 0;
	int64_t want_delay[] = {10000, 15000, 15000};
	for (int k = 0; k < 3; k++) {
		run_begin_attempt(r, i, now, &p);
		attempt_plan_free(&p);
		ASSERT_INT_EQ(run_ti(r, i)->try_number, k + 1);
		finish(r, i, 1, now);
		ASSERT_INT_EQ(run_ti(r, i)->state, TI_UP_FOR_RETRY);
		ASSERT_INT_EQ(run_next_wakeup(r), now + want_delay[k]);
		run_on_time(r, now + want_delay[k] - 1);
		ASSERT_INT_EQ(run_pop_ready(r), -1); /* not before the delay */
		now += want_delay[k];
		run_on_time(r, now);
		ASSERT_INT_EQ(run_pop_ready(r), i);
	}
	run_begin_attempt(r, i, now, &p);
	attempt_plan_free(&p);
	finish(r, i, 1, now);
	ASSERT_INT_EQ(run_ti(r, i)->state, TI_FAILED);
	ASSERT_INT_EQ(run_ti(r, i)->try_number, 4);
	ASSERT_INT_EQ(run_get_state(r), RUN_FAILED);
	run_free(r);
	dag_free(d);
}

TEST(run_retry_on_exit_codes_limits_retries)
{
	struct dag *d =
	    load("tasks:\n  a:\n    run: exit 3\n    retries: 5\n    retry_delay: 0s\n"
		 "    retry_on_exit_codes: [75]\n  b:\n    run: exit 75\n    retries: 1\n"
		 "    retry_delay: 0s\n    retry_on_exit_codes: [75]\n");
	struct run *r = start(d, 0);
	struct attempt_plan p;
	uint32_t a = (uint32_t)ti_of(r, "a", -1), b = (uint32_t)ti_of(r, "b", -1);
	run_pop_ready(r);
	run_pop_ready(r);
	run_begin_attempt(r, a, 0, &p);
	attempt_plan_free(&p);
	run_begin_attempt(r, b, 0, &p);
	attempt_plan_free(&p);
	finish(r, a, 3, 1);
	finish(r, b, 75, 1);
	ASSERT_INT_EQ(run_ti(r, a)->state, TI_FAILED);	  /* 3 is not retried */
	ASSERT_INT_EQ(run_ti(r, b)->state, TI_SCHEDULED); /* 75 is, with no delay */
	run_free(r);
	dag_free(d);
}

TEST(run_exec_failure_and_timeouts)
{
	struct dag *d =
	    load("tasks:\n  a:\n    run: nosuch\n    retries: 2\n  b:\n    run: sleep 9\n"
		 "    retries: 1\n    retry_delay: 0s\n");
	struct run *r = start(d, 0);
	struct attempt_plan p;
	uint32_t a = (uint32_t)ti_of(r, "a", -1), b = (uint32_t)ti_of(r, "b", -1);
	run_pop_ready(r);
	run_pop_ready(r);
	run_begin_attempt(r, a, 0, &p);
	attempt_plan_free(&p);
	run_begin_attempt(r, b, 0, &p);
	attempt_plan_free(&p);
	struct attempt_outcome o = {
	    .status = AS_EXEC_FAILED, .exit_code = -1, .message = "command not found: nosuch"};
	run_on_finished(r, a, &o, 1);
	ASSERT_INT_EQ(run_ti(r, a)->state, TI_FAILED); /* not retried: it cannot start */
	ASSERT_STR_CONTAINS(run_ti(r, a)->message, "not found");
	struct attempt_outcome t = {.status = AS_TIMED_OUT,
				    .exit_code = -1,
				    .signal = 15,
				    .message = "timed out after 2s; killed 3 processes"};
	run_on_finished(r, b, &t, 1);
	ASSERT_INT_EQ(run_ti(r, b)->state, TI_SCHEDULED); /* a timeout is a failure: retried */
	run_free(r);
	dag_free(d);
}

TEST(run_map_over_output_and_mapped_outputs)
{
	struct dag *d =
	    load("tasks:\n  plan: echo\n  work:\n    depends: [plan]\n"
		 "    map: ${{ outputs.plan }}\n    run: echo ${{ item.n }} ${{ map.index }}\n"
		 "  join:\n    depends: [work]\n    run: echo ${{ outputs.work }}\n");
	struct run *r = start(d, 0);
	uint32_t plan = (uint32_t)run_pop_ready(r);
	struct attempt_plan p;
	run_begin_attempt(r, plan, 0, &p);
	attempt_plan_free(&p);
	struct attempt_outcome o = {.status = AS_SUCCESS, .exit_code = 0};
	o.output = json_loads("[{\"n\": 10}, {\"n\": 20}, {\"n\": 30}]", 0, NULL);
	run_on_finished(r, plan, &o, 1);
	ASSERT_INT_EQ(run_ti_count(r), 5); /* plan, work[0..2], join */
	ASSERT_INT_EQ(run_ready_count(r), 3);
	for (int k = 0; k < 3; k++) {
		uint32_t i = (uint32_t)run_pop_ready(r);
		ASSERT_INT_EQ(run_begin_attempt(r, i, 2, &p), 0);
		char want[32];
		snprintf(want, sizeof(want), "echo '%d' '%d'", (k + 1) * 10, k);
		ASSERT_STR_EQ(p.shell, want);
		bool has_index = false;
		for (char **e = p.env; *e; e++)
			if (strncmp(*e, "GUST_MAP_INDEX=", 15) == 0)
				has_index = atoi(*e + 15) == k;
		ASSERT(has_index);
		attempt_plan_free(&p);
		struct attempt_outcome w = {.status = AS_SUCCESS, .exit_code = 0};
		w.output = json_integer(k);
		ASSERT_INT_EQ(state_of(r, "join"), TI_NONE);
		run_on_finished(r, i, &w, 3);
	}
	uint32_t j = (uint32_t)run_pop_ready(r);
	run_begin_attempt(r, j, 4, &p);
	ASSERT_STR_EQ(p.shell, "echo '[0,1,2]'");
	attempt_plan_free(&p);
	run_free(r);
	dag_free(d);
}

TEST(run_empty_map_skips_and_propagates)
{
	struct dag *d =
	    load("params:\n  files: {type: array, default: []}\ntasks:\n"
		 "  each:\n    map: ${{ params.files }}\n    run: echo ${{ item }}\n"
		 "  after:\n    depends: [each]\n    run: echo\n"
		 "  teardown:\n    depends: [each]\n    trigger_rule: all_done\n    run: echo\n");
	struct run *r = start(d, 0);
	ASSERT_INT_EQ(state_of(r, "each"), TI_SKIPPED);
	ASSERT_STR_CONTAINS(run_ti(r, (uint32_t)ti_of(r, "each", -1))->message, "empty list");
	ASSERT_INT_EQ(state_of(r, "after"), TI_SKIPPED);
	ASSERT_INT_EQ(state_of(r, "teardown"), TI_SCHEDULED);
	drive(r, NULL, 1);
	ASSERT_INT_EQ(run_get_state(r), RUN_SUCCESS);
	run_free(r);
	dag_free(d);
}

TEST(run_mapped_instance_fails_alone_and_fails_downstream)
{
	struct dag *d = load("tasks:\n  w:\n    map: [1, 2, 3]\n    run: echo ${{ item }}\n"
			     "  next:\n    depends: [w]\n    run: echo\n");
	struct run *r = start(d, 0);
	struct attempt_plan p;
	for (int k = 0; k < 3; k++) {
		uint32_t i = (uint32_t)run_pop_ready(r);
		run_begin_attempt(r, i, 0, &p);
		attempt_plan_free(&p);
		finish(r, i, run_ti(r, i)->map_index == 1 ? 1 : 0, 1);
	}
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 1))->state, TI_FAILED);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 0))->state, TI_SUCCESS);
	ASSERT_INT_EQ(state_of(r, "next"), TI_UPSTREAM_FAILED);
	ASSERT_INT_EQ(run_get_state(r), RUN_FAILED);
	run_free(r);
	dag_free(d);
}

TEST(run_render_quotes_and_env)
{
	struct dag *d = load("params:\n  evil: \"'; rm -rf ~ ; '\"\n  n: 3\ntasks:\n"
			     "  a:\n    run: echo ${{ params.evil }} \"${{ params.evil }}\"\n"
			     "    env: {WHO: \"n=${{ params.n }}\"}\n");
	struct run *r = start(d, 0);
	uint32_t i = (uint32_t)run_pop_ready(r);
	struct attempt_plan p;
	ASSERT_INT_EQ(run_begin_attempt(r, i, 0, &p), 0);
	ASSERT_STR_EQ(p.shell, "echo ''\\''; rm -rf ~ ; '\\''' \"'; rm -rf ~ ; '\"");
	bool who = false, param = false, try1 = false;
	for (char **e = p.env; *e; e++) {
		who |= strcmp(*e, "WHO=n=3") == 0;
		param |= strcmp(*e, "GUST_PARAM_N=3") == 0;
		try1 |= strcmp(*e, "GUST_TRY_NUMBER=1") == 0;
	}
	ASSERT(who && param && try1);
	attempt_plan_free(&p);
	run_free(r);
	dag_free(d);
}

TEST(run_render_failure_fails_the_task)
{
	struct dag *d = load("tasks:\n  a: echo\n  b:\n    depends: [a]\n"
			     "    run: echo ${{ outputs.a.missing }}\n");
	struct run *r = start(d, 0);
	uint32_t a = (uint32_t)run_pop_ready(r);
	struct attempt_plan p;
	run_begin_attempt(r, a, 0, &p);
	attempt_plan_free(&p);
	struct attempt_outcome o = {.status = AS_SUCCESS, .exit_code = 0};
	o.output = json_loads("{\"present\": 1}", 0, NULL);
	run_on_finished(r, a, &o, 1);
	uint32_t b = (uint32_t)run_pop_ready(r);
	ASSERT_INT_EQ(run_begin_attempt(r, b, 2, &p), -EINVAL);
	ASSERT_INT_EQ(run_ti(r, b)->state, TI_FAILED);
	ASSERT_STR_CONTAINS(run_ti(r, b)->message, "missing");
	run_free(r);
	dag_free(d);
}

TEST(run_cancel_skips_pending_and_ends_cancelled)
{
	struct dag *d = load("tasks:\n  a: sleep 100\n  b:\n    depends: [a]\n    run: echo\n");
	struct run *r = start(d, 0);
	uint32_t a = (uint32_t)run_pop_ready(r);
	struct attempt_plan p;
	run_begin_attempt(r, a, 0, &p);
	attempt_plan_free(&p);
	run_on_started(r, a, 0);
	run_cancel(r, 5, "cancelled by Ctrl-C");
	ASSERT_INT_EQ(state_of(r, "b"), TI_SKIPPED);
	ASSERT_INT_EQ(run_get_state(r), RUN_RUNNING); /* a still has a process */
	struct attempt_outcome o = {.status = AS_CANCELLED, .exit_code = -1, .signal = 15};
	run_on_finished(r, a, &o, 6);
	ASSERT_INT_EQ(run_ti(r, a)->state, TI_FAILED);
	ASSERT_INT_EQ(run_get_state(r), RUN_CANCELLED);
	run_free(r);
	dag_free(d);
}

TEST(run_dagrun_timeout_fails_the_run)
{
	struct dag *d = load("dagrun_timeout: 1m\ntasks:\n  a: sleep 100\n  b: sleep 100\n");
	struct run *r = start(d, 0);
	uint32_t a = (uint32_t)run_pop_ready(r);
	struct attempt_plan p;
	run_begin_attempt(r, a, 0, &p);
	attempt_plan_free(&p);
	ASSERT_INT_EQ(run_next_wakeup(r), 60000);
	ASSERT(!run_on_time(r, 59999));
	ASSERT(run_on_time(r, 60000));
	ASSERT_STR_CONTAINS(run_message(r), "dagrun_timeout 1m");
	ASSERT_INT_EQ(state_of(r, "b"), TI_SKIPPED);
	struct attempt_outcome o = {.status = AS_CANCELLED, .exit_code = -1};
	run_on_finished(r, a, &o, 60100);
	ASSERT_INT_EQ(run_get_state(r), RUN_FAILED);
	run_free(r);
	dag_free(d);
}

TEST(run_priority_orders_ready_tasks)
{
	struct dag *d = load("tasks:\n  low: echo\n  high:\n    run: echo\n    priority: 10\n"
			     "  mid:\n    run: echo\n    priority: 5\n");
	struct run *r = start(d, 0);
	ASSERT_INT_EQ(run_pop_ready(r), ti_of(r, "high", -1));
	ASSERT_INT_EQ(run_pop_ready(r), ti_of(r, "mid", -1));
	ASSERT_INT_EQ(run_pop_ready(r), ti_of(r, "low", -1));
	run_free(r);
	dag_free(d);
}

TEST(run_long_chain_propagates_without_recursion)
{
	/* 100,000 tasks in a chain, then a failure at the head: upstream_failed must reach the
	 * tail through the worklist, not the C stack. */
	enum { N = 100000 };
	struct buf b = BUF_INIT;
	buf_puts(&b, "tasks:\n  t0: exit 1\n");
	for (int i = 1; i < N; i++)
		buf_printf(&b, "  t%d:\n    depends: [t%d]\n    run: echo\n", i, i - 1);
	struct dag *d = load(buf_str(&b));
	buf_free(&b);
	struct run *r = start(d, 0);
	uint32_t i = (uint32_t)run_pop_ready(r);
	struct attempt_plan p;
	run_begin_attempt(r, i, 0, &p);
	attempt_plan_free(&p);
	finish(r, i, 1, 1);
	ASSERT_INT_EQ(run_get_state(r), RUN_FAILED);
	ASSERT_INT_EQ(state_of(r, "t99999"), TI_UPSTREAM_FAILED);
	uint32_t *changes = calloc(N + 1, sizeof(uint32_t));
	size_t n = run_drain_changes(r, changes, N + 1);
	ASSERT_INT_EQ(n, N); /* each TI reported once, however often it changed */
	free(changes);
	run_free(r);
	dag_free(d);
}

TEST(run_retries_come_due_in_time_order)
{
	struct dag *d =
	    load("tasks:\n  slow:\n    run: exit 1\n    retries: 1\n    retry_delay: 30s\n"
		 "  fast:\n    run: exit 1\n    retries: 1\n    retry_delay: 10s\n"
		 "  mid:\n    run: exit 1\n    retries: 1\n    retry_delay: 20s\n");
	struct run *r = start(d, 0);
	struct attempt_plan p;
	int64_t i;
	while ((i = run_pop_ready(r)) >= 0) {
		run_begin_attempt(r, (uint32_t)i, 0, &p);
		attempt_plan_free(&p);
		finish(r, (uint32_t)i, 1, 0);
	}
	const char *order[] = {"fast", "mid", "slow"};
	for (int k = 0; k < 3; k++) {
		int64_t due = run_next_wakeup(r);
		ASSERT_INT_EQ(due, (k + 1) * 10000);
		run_on_time(r, due);
		ASSERT_INT_EQ(run_pop_ready(r), ti_of(r, order[k], -1));
		ASSERT_INT_EQ(run_pop_ready(r), -1);
	}
	ASSERT_INT_EQ(run_next_wakeup(r), INT64_MAX);
	run_free(r);
	dag_free(d);
}

/* Snapshot a run the way the store keeps it, and restore it into a new run object. */
static struct run *snapshot_restore(struct run *r, int64_t now)
{
	uint32_t n = run_ti_count(r);
	struct ti_saved *sv = calloc(n ? n : 1, sizeof(*sv));
	for (uint32_t i = 0; i < n; i++) {
		const struct ti *t = run_ti(r, i);
		sv[i] = (struct ti_saved){
		    .task_id = run_dag(r)->tasks[t->task].id,
		    .map_index = t->map_index,
		    .state = t->state,
		    .try_number = t->try_number,
		    .queued_at = t->queued_at,
		    .started_at = t->started_at,
		    .ended_at = t->ended_at,
		    .retry_at = t->retry_at,
		    .exit_code = t->exit_code,
		    .signal = t->signal,
		    .message = t->message,
		    .output = t->output,
		    .item = t->item,
		};
	}
	struct run_config cfg = {.run_id = run_id(r), .logical_date_ms = 0, .params = NULL};
	json_t *params = json_object();
	cfg.params = params;
	/* Reverse the rows: the store returns them in its own order. */
	for (uint32_t i = 0; i < n / 2; i++) {
		struct ti_saved x = sv[i];
		sv[i] = sv[n - 1 - i];
		sv[n - 1 - i] = x;
	}
	struct run *copy = run_restore(run_dag(r), &cfg, 0, sv, n, now);
	json_decref(params);
	free(sv);
	return copy;
}

/* Drive a run one attempt at a time; after every step, replace it with a restored copy. The
 * end result must equal a run that was never interrupted. */
static void drive_with_restarts(struct run **rp, const char *fail_first_try, bool restart)
{
	int64_t now = 0;
	for (int guard = 0; guard < 1000; guard++) {
		struct run *r = *rp;
		run_on_time(r, now);
		int64_t i = run_pop_ready(r);
		if (i < 0) {
			if (run_next_wakeup(r) == INT64_MAX)
				return;
			now = run_next_wakeup(r);
			continue;
		}
		struct attempt_plan p;
		if (run_begin_attempt(r, (uint32_t)i, now, &p) != 0)
			continue;
		attempt_plan_free(&p);
		if (restart) {
			/* The server died with the attempt queued: restore, then the outcome. */
			*rp = snapshot_restore(r, now);
			run_free(r);
			r = *rp;
		}
		const struct ti *t = run_ti(r, (uint32_t)i);
		const char *id = run_dag(r)->tasks[t->task].id;
		int code = fail_first_try && strcmp(id, fail_first_try) == 0 && t->try_number == 1;
		struct attempt_outcome o = {.status = code ? AS_FAILED : AS_SUCCESS,
					    .exit_code = code};
		if (strcmp(id, "plan") == 0)
			o.output = json_loads("[1, 2, 3]", 0, NULL);
		run_on_finished(r, (uint32_t)i, &o, now);
		now += 10;
		if (restart) {
			*rp = snapshot_restore(r, now);
			run_free(r);
		}
	}
}

TEST(run_restore_at_every_step_matches_uninterrupted)
{
	const char *yaml =
	    "tasks:\n  plan: echo\n  work:\n    depends: [plan]\n"
	    "    map: ${{ outputs.plan }}\n    run: echo ${{ item }}\n"
	    "    retries: 1\n    retry_delay: 5s\n"
	    "  flaky:\n    run: echo\n    retries: 2\n    retry_delay: 1s\n"
	    "  bad:\n    run: exit 1\n"
	    "  fallback:\n    depends: [bad]\n    trigger_rule: one_failed\n    run: echo\n"
	    "  join:\n    depends: [work, flaky, fallback]\n    run: echo\n";
	struct dag *d = load(yaml);
	struct run *a = start(d, 0), *b = start(d, 0);
	drive_with_restarts(&a, "flaky", false);
	drive_with_restarts(&b, "flaky", true);
	ASSERT_INT_EQ(run_ti_count(a), run_ti_count(b));
	ASSERT_INT_EQ(run_get_state(a), run_get_state(b));
	ASSERT_INT_EQ(run_get_state(b), RUN_SUCCESS);
	ASSERT_INT_EQ(run_ti_count(b), 8); /* plan, work[0..2], flaky, bad, fallback, join */
	ASSERT_INT_EQ(run_ti(b, (uint32_t)ti_of(b, "flaky", -1))->try_number, 2);
	ASSERT_INT_EQ(run_ti(b, (uint32_t)ti_of(b, "work", 2))->state, TI_SUCCESS);
	for (uint32_t i = 0; i < run_ti_count(a); i++) {
		const struct ti *x = run_ti(a, i);
		char name[64];
		run_ti_name(a, i, name, sizeof(name));
		int32_t j = ti_of(b, run_dag(a)->tasks[x->task].id, x->map_index);
		ASSERT(j >= 0);
		const struct ti *y = run_ti(b, (uint32_t)j);
		if (x->state != y->state || x->try_number != y->try_number)
			test_fail(__FILE__, __LINE__, "%s: %s try %d vs restored %s try %d", name,
				  ti_state_name(x->state), x->try_number, ti_state_name(y->state),
				  y->try_number);
	}
	run_free(a);
	run_free(b);
	dag_free(d);
}

TEST(run_clear_reruns_a_task_and_its_downstream)
{
	struct dag *d = load("tasks:\n  a: echo\n  b:\n    depends: [a]\n    run: exit 1\n"
			     "  w:\n    depends: [b]\n    map: [1, 2]\n    run: echo ${{ item }}\n"
			     "  c:\n    depends: [w]\n    run: echo\n");
	struct run *r = start(d, 0);
	const char *fails[] = {"b", NULL};
	drive(r, fails, 1);
	ASSERT_INT_EQ(run_get_state(r), RUN_FAILED);
	ASSERT_INT_EQ(state_of(r, "c"), TI_UPSTREAM_FAILED);
	/* Clear b alone: it runs again, downstream stays as it was until b decides it. */
	ASSERT_INT_EQ(run_clear(r, (uint32_t)dag_task_index(d, "b"), -1, true, 2), 0);
	ASSERT_INT_EQ(run_get_state(r), RUN_RUNNING);
	ASSERT_INT_EQ(state_of(r, "b"), TI_SCHEDULED);
	ASSERT_INT_EQ(state_of(r, "c"), TI_NONE);
	ASSERT_INT_EQ(state_of(r, "a"), TI_SUCCESS); /* upstream untouched */
	drive(r, NULL, 3);
	ASSERT_INT_EQ(run_get_state(r), RUN_SUCCESS);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "b", -1))->try_number, 2);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 1))->state, TI_SUCCESS);
	/* Clear a mapped task after it ran: the same instances run again. */
	ASSERT_INT_EQ(run_clear(r, (uint32_t)dag_task_index(d, "w"), -1, false, 4), 0);
	ASSERT_INT_EQ(run_ready_count(r), 2);
	drive(r, NULL, 5);
	ASSERT_INT_EQ(run_ti_count(r), 5);
	ASSERT_INT_EQ(run_get_state(r), RUN_SUCCESS);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 0))->try_number, 2);
	run_free(r);
	dag_free(d);
}

/* `gust tasks clear RUN w --map-index 1` printed "cleared w[1]" and re-ran all three (issue 10). */
TEST(run_clear_one_instance_of_a_mapped_task)
{
	struct dag *d = load("tasks:\n  w:\n    map: [1, 2, 3]\n    run: echo ${{ item }}\n"
			     "  c:\n    depends: [w]\n    run: echo\n");
	struct run *r = start(d, 0);
	drive(r, NULL, 1);
	ASSERT_INT_EQ(run_get_state(r), RUN_SUCCESS);
	uint32_t w = (uint32_t)dag_task_index(d, "w");
	ASSERT_INT_EQ(run_clear(r, w, 7, false, 2), -ENOENT); /* no such instance */
	ASSERT_INT_EQ(run_get_state(r), RUN_SUCCESS);	      /* and nothing changed */
	ASSERT_INT_EQ(run_clear(r, w, 1, false, 2), 0);
	ASSERT_INT_EQ(run_get_state(r), RUN_RUNNING);
	ASSERT_INT_EQ(run_ready_count(r), 1);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 0))->state, TI_SUCCESS);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 1))->state, TI_SCHEDULED);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 2))->state, TI_SUCCESS);
	ASSERT_INT_EQ(state_of(r, "c"), TI_SUCCESS); /* not downstream: stays */
	drive(r, NULL, 3);
	ASSERT_INT_EQ(run_get_state(r), RUN_SUCCESS);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 0))->try_number, 1);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 1))->try_number, 2);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 2))->try_number, 1);
	/* With downstream: the instance and all of c. */
	ASSERT_INT_EQ(run_clear(r, w, 0, true, 4), 0);
	ASSERT_INT_EQ(run_ready_count(r), 1);
	ASSERT_INT_EQ(state_of(r, "c"), TI_NONE);
	drive(r, NULL, 5);
	ASSERT_INT_EQ(run_get_state(r), RUN_SUCCESS);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 0))->try_number, 2);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 2))->try_number, 1);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "c", -1))->try_number, 2);
	run_free(r);
	dag_free(d);
}

TEST(run_clear_gives_a_fresh_retry_budget)
{
	struct dag *d =
	    load("tasks:\n  a:\n    run: exit 1\n    retries: 1\n    retry_delay: 0s\n");
	struct run *r = start(d, 0);
	const char *fails[] = {"a", NULL};
	drive(r, fails, 1);
	ASSERT_INT_EQ(run_ti(r, 0)->try_number, 2);
	ASSERT_INT_EQ(run_ti(r, 0)->state, TI_FAILED);
	ASSERT_INT_EQ(run_clear(r, 0, -1, false, 2), 0);
	drive(r, fails, 3);
	ASSERT_INT_EQ(run_ti(r, 0)->try_number, 4); /* two more tries, not one */
	run_free(r);
	dag_free(d);
}

TEST(run_restore_ignores_a_mapped_tasks_stale_placeholder)
{
	struct dag *d = load("tasks:\n  w:\n    map: [1, 2]\n    run: echo ${{ item }}\n");
	struct ti_saved sv[3] = {
	    {.task_id = "w", .map_index = -1, .state = TI_NONE, .exit_code = -1},
	    {.task_id = "w", .map_index = 0, .state = TI_SUCCESS, .try_number = 1},
	    {.task_id = "w", .map_index = 1, .state = TI_SCHEDULED},
	};
	struct run_config cfg = {.run_id = "r", .params = NULL};
	struct run *r = run_restore(d, &cfg, 0, sv, 3, 10);
	ASSERT_INT_EQ(run_ti_count(r), 2);
	ASSERT_INT_EQ(run_pop_ready(r), ti_of(r, "w", 1));
	run_free(r);
	dag_free(d);
}

/* The TIs changed since the last call, as "a b[1] c" in the order they changed. */
static const char *changes_of(struct run *r, char *buf, size_t size)
{
	uint32_t n_tis = run_ti_count(r);
	uint32_t *out = calloc(n_tis ? n_tis : 1, sizeof(uint32_t));
	size_t n = run_drain_changes(r, out, n_tis);
	size_t len = 0;
	buf[0] = '\0';
	for (size_t k = 0; k < n && len < size; k++) {
		char name[64];
		len += (size_t)snprintf(buf + len, size - len, "%s%s", k ? " " : "",
					run_ti_name(r, out[k], name, sizeof(name)));
	}
	free(out);
	return buf;
}

/* Begin and start the attempt of a ready TI: it is running. */
static uint32_t begin_running(struct run *r, const char *task, int32_t map_index, int64_t now)
{
	uint32_t i = (uint32_t)ti_of(r, task, map_index);
	ASSERT_INT_EQ(run_ti(r, i)->state, TI_SCHEDULED);
	struct attempt_plan p;
	ASSERT_INT_EQ(run_begin_attempt(r, i, now, &p), 0);
	attempt_plan_free(&p);
	run_on_started(r, i, now);
	return i;
}

TEST(run_mark_success_of_a_waiting_task_lets_downstream_run)
{
	struct dag *d = load("tasks:\n  a: echo a\n  b:\n    depends: [a]\n    run: echo b\n"
			     "  c:\n    depends: [b]\n    run: echo c\n");
	struct run *r = start(d, 0);
	char buf[256];
	changes_of(r, buf, sizeof(buf));
	uint32_t b = (uint32_t)ti_of(r, "b", -1);
	ASSERT_INT_EQ(
	    run_mark(r, (uint32_t)dag_task_index(d, "b"), -1, true, 5, "marked success by alice"),
	    0);
	ASSERT_INT_EQ(run_ti(r, b)->state, TI_SUCCESS);
	ASSERT_STR_EQ(run_ti(r, b)->message, "marked success by alice");
	ASSERT_INT_EQ(run_ti(r, b)->try_number, 0); /* no attempt */
	ASSERT_INT_EQ(run_ti(r, b)->ended_at, 5);
	ASSERT_INT_EQ(state_of(r, "c"), TI_SCHEDULED); /* b is done: c need not wait for a */
	ASSERT_INT_EQ(state_of(r, "a"), TI_SCHEDULED);
	ASSERT_STR_EQ(changes_of(r, buf, sizeof(buf)), "b c");
	ASSERT_INT_EQ(run_get_state(r), RUN_RUNNING);
	/* a ending later does not start b after all. */
	drive(r, NULL, 6);
	ASSERT_INT_EQ(run_ti(r, b)->try_number, 0);
	ASSERT_INT_EQ(run_ti(r, b)->state, TI_SUCCESS);
	ASSERT_INT_EQ(state_of(r, "c"), TI_SUCCESS);
	ASSERT_INT_EQ(run_get_state(r), RUN_SUCCESS);
	run_free(r);
	dag_free(d);
}

TEST(run_mark_failed_propagates_per_trigger_rules)
{
	struct dag *d =
	    load("tasks:\n  a: echo a\n  b:\n    depends: [a]\n    run: echo b\n    retries: 3\n"
		 "  strict:\n    depends: [b]\n    run: echo\n"
		 "  cleanup:\n    depends: [b]\n    trigger_rule: all_done\n    run: echo\n"
		 "  alarm:\n    depends: [a, b]\n    trigger_rule: one_failed\n    run: echo\n"
		 "  join:\n    depends: [a, b]\n    trigger_rule: all_done\n    run: echo\n"
		 "  happy:\n    depends: [b]\n    trigger_rule: one_success\n    run: echo\n");
	struct run *r = start(d, 0);
	char buf[256];
	changes_of(r, buf, sizeof(buf));
	uint32_t b = (uint32_t)ti_of(r, "b", -1);
	ASSERT_INT_EQ(run_mark(r, (uint32_t)dag_task_index(d, "b"), -1, false, 5, NULL), 0);
	ASSERT_INT_EQ(run_ti(r, b)->state, TI_FAILED); /* not up_for_retry: a mark is final */
	ASSERT_STR_EQ(run_ti(r, b)->message, "marked failed");
	ASSERT_INT_EQ(run_next_wakeup(r), INT64_MAX);
	ASSERT_INT_EQ(state_of(r, "strict"), TI_UPSTREAM_FAILED);
	ASSERT_INT_EQ(state_of(r, "cleanup"), TI_SCHEDULED);
	ASSERT_INT_EQ(state_of(r, "alarm"), TI_SCHEDULED); /* fires before a is done */
	ASSERT_INT_EQ(state_of(r, "join"), TI_NONE);	   /* a is not done yet */
	ASSERT_INT_EQ(state_of(r, "happy"), TI_UPSTREAM_FAILED);
	ASSERT_INT_EQ(state_of(r, "a"), TI_SCHEDULED);
	drive(r, NULL, 6);
	ASSERT_INT_EQ(state_of(r, "join"), TI_SUCCESS);
	ASSERT_INT_EQ(run_ti(r, b)->try_number, 0);
	ASSERT_INT_EQ(run_get_state(r), RUN_FAILED); /* strict and happy are leaves */
	run_free(r);
	dag_free(d);
}

TEST(run_mark_refuses_a_running_instance_and_changes_nothing)
{
	struct dag *d = load("tasks:\n  w:\n    map: [1, 2]\n    run: echo ${{ item }}\n"
			     "  solo: sleep 9\n");
	struct run *r = start(d, 0);
	/* Taken out of the ready queue, as the server's admission does: w[1] waits there. */
	while (run_pop_ready(r) >= 0)
		;
	uint32_t w0 = begin_running(r, "w", 0, 0);
	uint32_t solo = (uint32_t)ti_of(r, "solo", -1);
	struct attempt_plan p;
	ASSERT_INT_EQ(run_begin_attempt(r, solo, 0, &p), 0); /* queued, not yet started */
	attempt_plan_free(&p);
	char buf[256];
	changes_of(r, buf, sizeof(buf));
	uint32_t w = (uint32_t)dag_task_index(d, "w");
	ASSERT_INT_EQ(run_mark(r, w, -1, true, 1, NULL), -EBUSY);
	ASSERT_INT_EQ(run_mark(r, w, 0, false, 1, NULL), -EBUSY);
	ASSERT_INT_EQ(run_mark(r, (uint32_t)dag_task_index(d, "solo"), -1, true, 1, NULL), -EBUSY);
	ASSERT_INT_EQ(run_ti(r, w0)->state, TI_RUNNING);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 1))->state, TI_SCHEDULED);
	ASSERT_INT_EQ(run_ti(r, solo)->state, TI_QUEUED);
	ASSERT_STR_EQ(changes_of(r, buf, sizeof(buf)), "");
	/* The instance not running may be marked alone; the caller drops it when it sees it. */
	ASSERT_INT_EQ(run_mark(r, w, 1, true, 2, NULL), 0);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 1))->state, TI_SUCCESS);
	ASSERT_STR_EQ(changes_of(r, buf, sizeof(buf)), "w[1]");
	run_free(r);
	dag_free(d);
}

TEST(run_mark_one_instance_of_a_mapped_task)
{
	struct dag *d = load("tasks:\n  w:\n    map: [1, 2, 3, 4]\n    run: echo ${{ item }}\n"
			     "  c:\n    depends: [w]\n    run: echo\n");
	struct run *r = start(d, 0);
	uint32_t w = (uint32_t)dag_task_index(d, "w");
	char buf[256];
	changes_of(r, buf, sizeof(buf));
	ASSERT_INT_EQ(run_ready_count(r), 4);
	ASSERT_INT_EQ(run_mark(r, w, 4, true, 1, NULL), -ENOENT); /* no such instance */
	ASSERT_INT_EQ(run_mark(r, (uint32_t)dag_task_index(d, "c"), 0, true, 1, NULL), -ENOENT);
	ASSERT_STR_EQ(changes_of(r, buf, sizeof(buf)), "");
	ASSERT_INT_EQ(run_mark(r, w, 1, false, 1, "marked failed by bob"), 0);
	ASSERT_STR_EQ(changes_of(r, buf, sizeof(buf)), "w[1] c");
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 1))->state, TI_FAILED);
	ASSERT_INT_EQ(state_of(r, "c"), TI_UPSTREAM_FAILED); /* all_success: at the first failure */
	/* It left the ready queue, and the others came out in their order. */
	ASSERT_INT_EQ(run_ready_count(r), 3);
	ASSERT_INT_EQ(run_pop_ready(r), ti_of(r, "w", 0));
	ASSERT_INT_EQ(run_pop_ready(r), ti_of(r, "w", 2));
	ASSERT_INT_EQ(run_pop_ready(r), ti_of(r, "w", 3));
	for (int k = 0; k < 4; k++) {
		uint32_t i = (uint32_t)ti_of(r, "w", k);
		if (k == 1)
			continue;
		ASSERT_INT_EQ(run_ti(r, i)->state, TI_SCHEDULED);
		struct attempt_plan p;
		run_begin_attempt(r, i, 2, &p);
		attempt_plan_free(&p);
		finish(r, i, 0, 3);
	}
	ASSERT_INT_EQ(run_get_state(r), RUN_FAILED);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 1))->try_number, 0);
	run_free(r);
	dag_free(d);
}

/* Instances of a mapped task that waits for its upstreams, some marked: after a restart, the
 * others still run when the upstream is done. */
TEST(run_mark_an_instance_of_a_waiting_mapped_task_survives_restore)
{
	struct dag *d = load("tasks:\n  a: echo\n  w:\n    depends: [a]\n    map: [1, 2, 3]\n"
			     "    run: echo ${{ item }}\n");
	struct run *r = start(d, 0);
	drive(r, NULL, 1);
	ASSERT_INT_EQ(run_get_state(r), RUN_SUCCESS);
	ASSERT_INT_EQ(run_clear(r, (uint32_t)dag_task_index(d, "a"), -1, true, 2), 0);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 1))->state, TI_NONE);
	ASSERT_INT_EQ(run_mark(r, (uint32_t)dag_task_index(d, "w"), 1, true, 3, NULL), 0);
	struct run *copy = snapshot_restore(r, 4);
	run_free(r);
	r = copy;
	ASSERT_INT_EQ(run_ready_count(r), 1); /* a */
	drive(r, NULL, 5);
	ASSERT_INT_EQ(run_get_state(r), RUN_SUCCESS);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 0))->try_number, 2);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 1))->try_number, 1); /* not run again */
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "w", 2))->try_number, 2);
	run_free(r);
	dag_free(d);
}

TEST(run_mark_a_mapped_task_before_it_expands)
{
	struct dag *d = load("tasks:\n  plan: echo\n  work:\n    depends: [plan]\n"
			     "    map: ${{ outputs.plan }}\n    run: echo ${{ item }}\n"
			     "  join:\n    depends: [work]\n    run: echo\n");
	struct run *r = start(d, 0);
	uint32_t work = (uint32_t)dag_task_index(d, "work");
	ASSERT_INT_EQ(run_mark(r, work, 0, true, 1, NULL), -ENOENT); /* no instances yet */
	ASSERT_INT_EQ(run_mark(r, work, -1, true, 1, NULL), 0);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "work", -1))->state, TI_SUCCESS);
	ASSERT_INT_EQ(state_of(r, "join"), TI_SCHEDULED);
	uint32_t plan = (uint32_t)ti_of(r, "plan", -1);
	ASSERT_INT_EQ(run_pop_ready(r), plan);
	struct attempt_plan p;
	run_begin_attempt(r, plan, 2, &p);
	attempt_plan_free(&p);
	struct attempt_outcome o = {.status = AS_SUCCESS, .exit_code = 0};
	o.output = json_loads("[1, 2]", 0, NULL);
	run_on_finished(r, plan, &o, 3);
	ASSERT_INT_EQ(run_ti_count(r), 3); /* marked done: it does not expand */
	drive(r, NULL, 4);
	ASSERT_INT_EQ(run_get_state(r), RUN_SUCCESS);
	run_free(r);
	dag_free(d);
}

TEST(run_mark_success_of_the_failed_task_makes_the_finished_run_succeed)
{
	struct dag *d = load("tasks:\n  a: echo\n  b:\n    depends: [a]\n    run: exit 1\n"
			     "  c: echo\n");
	struct run *r = start(d, 0);
	const char *fails[] = {"b", NULL};
	drive(r, fails, 1);
	ASSERT_INT_EQ(run_get_state(r), RUN_FAILED);
	int64_t created, started, ended;
	run_times(r, &created, &started, &ended);
	ASSERT_INT_EQ(ended, 1);
	char buf[256];
	changes_of(r, buf, sizeof(buf));
	ASSERT_INT_EQ(run_mark(r, (uint32_t)dag_task_index(d, "b"), -1, true, 9, NULL), 0);
	ASSERT_INT_EQ(run_get_state(r), RUN_SUCCESS);
	ASSERT_STR_EQ(changes_of(r, buf, sizeof(buf)), "b");
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "b", -1))->try_number, 1);
	ASSERT_INT_EQ(run_ti(r, (uint32_t)ti_of(r, "b", -1))->ended_at, 1); /* when it ended */
	run_times(r, &created, &started, &ended);
	ASSERT_INT_EQ(ended, 1);
	ASSERT_INT_EQ(run_next_wakeup(r), INT64_MAX);
	/* And back: marking a leaf failed fails the run again. */
	ASSERT_INT_EQ(run_mark(r, (uint32_t)dag_task_index(d, "c"), -1, false, 10, NULL), 0);
	ASSERT_INT_EQ(run_get_state(r), RUN_FAILED);
	run_free(r);
	dag_free(d);
}

/* Airflow's rule: what the failure decided downstream stays until it is cleared. */
TEST(run_mark_leaves_decided_downstream_as_it_is)
{
	struct dag *d = load("tasks:\n  b: exit 1\n  c:\n    depends: [b]\n    run: echo\n");
	struct run *r = start(d, 0);
	const char *fails[] = {"b", NULL};
	drive(r, fails, 1);
	ASSERT_INT_EQ(state_of(r, "c"), TI_UPSTREAM_FAILED);
	char buf[256];
	changes_of(r, buf, sizeof(buf));
	ASSERT_INT_EQ(run_mark(r, (uint32_t)dag_task_index(d, "b"), -1, true, 2, NULL), 0);
	ASSERT_STR_EQ(changes_of(r, buf, sizeof(buf)), "b");
	ASSERT_INT_EQ(state_of(r, "c"), TI_UPSTREAM_FAILED);
	ASSERT_INT_EQ(run_get_state(r), RUN_FAILED); /* c, a leaf, did not run */
	ASSERT_INT_EQ(run_ready_count(r), 0);
	/* Clearing c runs it now that b counts as a success. */
	ASSERT_INT_EQ(run_clear(r, (uint32_t)dag_task_index(d, "c"), -1, false, 3), 0);
	ASSERT_INT_EQ(state_of(r, "c"), TI_SCHEDULED);
	drive(r, NULL, 4);
	ASSERT_INT_EQ(run_get_state(r), RUN_SUCCESS);
	run_free(r);
	dag_free(d);
}

TEST(run_mark_to_the_same_state_changes_nothing)
{
	struct dag *d = load("tasks:\n  a: echo\n  b: exit 1\n");
	struct run *r = start(d, 0);
	const char *fails[] = {"b", NULL};
	drive(r, fails, 1);
	char buf[256];
	changes_of(r, buf, sizeof(buf));
	const char *msg_b = run_ti(r, (uint32_t)ti_of(r, "b", -1))->message;
	ASSERT_INT_EQ(run_mark(r, (uint32_t)dag_task_index(d, "a"), -1, true, 2, "by x"), 0);
	ASSERT_INT_EQ(run_mark(r, (uint32_t)dag_task_index(d, "b"), -1, false, 2, "by x"), 0);
	ASSERT_STR_EQ(changes_of(r, buf, sizeof(buf)), "");
	ASSERT(run_ti(r, (uint32_t)ti_of(r, "a", -1))->message == NULL);
	ASSERT(run_ti(r, (uint32_t)ti_of(r, "b", -1))->message == msg_b);
	ASSERT_INT_EQ(run_get_state(r), RUN_FAILED);
	run_free(r);
	dag_free(d);
}

TEST(run_mark_changes_exactly_the_touched_instances)
{
	struct dag *d = load("tasks:\n  x:\n    run: exit 1\n    retries: 2\n    retry_delay: 10s\n"
			     "  y:\n    run: exit 1\n    retries: 1\n    retry_delay: 20s\n"
			     "  after_x:\n    depends: [x]\n    run: echo\n"
			     "  other: echo\n");
	struct run *r = start(d, 0);
	uint32_t x = begin_running(r, "x", -1, 0), y = begin_running(r, "y", -1, 0);
	finish(r, x, 1, 1);
	finish(r, y, 1, 1);
	ASSERT_INT_EQ(run_ti(r, x)->state, TI_UP_FOR_RETRY);
	ASSERT_INT_EQ(run_next_wakeup(r), 10001);
	char buf[256];
	changes_of(r, buf, sizeof(buf));
	/* x's retry is dropped: the next wake-up is y's. */
	ASSERT_INT_EQ(run_mark(r, (uint32_t)dag_task_index(d, "x"), -1, false, 5, NULL), 0);
	ASSERT_STR_EQ(changes_of(r, buf, sizeof(buf)), "x after_x");
	ASSERT_INT_EQ(run_ti(r, x)->state, TI_FAILED);
	ASSERT_INT_EQ(run_ti(r, x)->try_number, 1);
	ASSERT_INT_EQ(run_ti(r, x)->ended_at, 5); /* the mark ended it, not its try */
	ASSERT_INT_EQ(state_of(r, "after_x"), TI_UPSTREAM_FAILED);
	ASSERT_INT_EQ(run_next_wakeup(r), 20001);
	run_on_time(r, 10001);
	ASSERT_INT_EQ(run_ti(r, x)->state, TI_FAILED); /* not retried */
	ASSERT_INT_EQ(run_mark(r, (uint32_t)dag_task_index(d, "y"), -1, true, 6, NULL), 0);
	ASSERT_STR_EQ(changes_of(r, buf, sizeof(buf)), "y");
	ASSERT_INT_EQ(run_next_wakeup(r), INT64_MAX);
	ASSERT_INT_EQ(run_get_state(r), RUN_RUNNING); /* other is still to run */
	drive(r, NULL, 20000);
	ASSERT_INT_EQ(run_ti(r, y)->try_number, 1);
	ASSERT_INT_EQ(run_get_state(r), RUN_FAILED); /* after_x, a leaf, could not run */
	run_free(r);
	dag_free(d);
}

/* A marked TI leaves the ready heap from its middle; the rest still come out by priority. */
TEST(run_mark_keeps_the_ready_queue_in_order)
{
	/* Pushed in file order, the heap's array is the priorities as listed. Marking t3 (5)
	 * moves the last entry (85) into its place under t1 (10): it must move up. */
	static const int prio[] = {100, 10, 90, 5, 6, 80, 85};
	static const char *const want[] = {"t0", "t2", "t6", "t5", "t1", "t4"};
	struct buf b = BUF_INIT;
	buf_puts(&b, "tasks:\n");
	for (size_t k = 0; k < ARRAY_SIZE(prio); k++)
		buf_printf(&b, "  t%zu:\n    run: echo\n    priority: %d\n", k, prio[k]);
	struct dag *d = load(buf_str(&b));
	buf_free(&b);
	struct run *r = start(d, 0);
	ASSERT_INT_EQ(run_mark(r, (uint32_t)dag_task_index(d, "t3"), -1, true, 1, NULL), 0);
	ASSERT_INT_EQ(run_ready_count(r), ARRAY_SIZE(want));
	for (size_t k = 0; k < ARRAY_SIZE(want); k++)
		ASSERT_INT_EQ(run_pop_ready(r), ti_of(r, want[k], -1));
	ASSERT_INT_EQ(run_pop_ready(r), -1);
	run_free(r);
	dag_free(d);
}
