/* Unit tests for server/metrics.c: instances counted by state from a real run's changes, and
 * the rendered text. */
#include <jansson.h>

#include "base/diag.h"
#include "base/util.h"
#include "dag/dag_load.h"
#include "dag/params.h"
#include "server/metrics.h"
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

static struct run *start(const struct dag *d)
{
	char *msg = NULL;
	json_t *params = params_resolve(d, NULL, &msg);
	ASSERT(params);
	struct run_config cfg = {.run_id = "r1", .logical_date_ms = 0, .params = params};
	struct run *r = run_new(d, &cfg, 1000);
	json_decref(params);
	return r;
}

/* The step's changes handed to the metrics, as server_persist does. */
static void sync_changes(struct metrics *m, struct run *r, uint8_t **seen, uint32_t *n_seen)
{
	uint32_t ch[64];
	size_t n = run_drain_changes(r, ch, ARRAY_SIZE(ch));
	metrics_tis_changed(m, r, seen, n_seen, ch, n);
}

/* One ready instance started and ended with `code`; false if none was ready. */
static bool run_one(struct run *r, int code)
{
	int64_t i = run_pop_ready(r);
	if (i < 0)
		return false;
	struct attempt_plan plan;
	ASSERT_INT_EQ(run_begin_attempt(r, (uint32_t)i, 1000, &plan), 0);
	attempt_plan_free(&plan);
	run_on_started(r, (uint32_t)i, 1000);
	struct attempt_outcome o = {0};
	o.status = code ? AS_FAILED : AS_SUCCESS;
	o.exit_code = code;
	run_on_finished(r, (uint32_t)i, &o, 1000);
	return true;
}

TEST(metrics_count_instances_by_state_from_changes)
{
	struct dag *d = load("tasks:\n  a: {run: 'true'}\n  b: {run: 'true', depends: a}\n"
			     "  c: {run: 'true', depends: a}\n");
	struct run *r = start(d);
	struct metrics *m = metrics_new(0);
	uint8_t *seen = NULL;
	uint32_t n_seen = 0;
	sync_changes(m, r, &seen, &n_seen);
	ASSERT_INT_EQ(n_seen, 3);
	ASSERT_INT_EQ(m->tis[TI_SCHEDULED] + m->tis[TI_NONE], 3);
	ASSERT_INT_EQ(m->tis[TI_SCHEDULED], 1);
	ASSERT(run_one(r, 0)); /* a */
	sync_changes(m, r, &seen, &n_seen);
	ASSERT_INT_EQ(m->tis[TI_SUCCESS], 1);
	ASSERT_INT_EQ(m->tis[TI_SCHEDULED], 2);
	ASSERT_INT_EQ(m->tis_ended[TI_SUCCESS], 1);
	ASSERT(run_one(r, 1)); /* b or c fails, the other succeeds */
	ASSERT(run_one(r, 0));
	ASSERT(!run_one(r, 0));
	sync_changes(m, r, &seen, &n_seen);
	ASSERT_INT_EQ(m->tis[TI_SUCCESS], 2);
	ASSERT_INT_EQ(m->tis[TI_FAILED], 1);
	ASSERT_INT_EQ(m->tis[TI_SCHEDULED], 0);
	ASSERT_INT_EQ(m->tis_ended[TI_SUCCESS], 2);
	ASSERT_INT_EQ(m->tis_ended[TI_FAILED], 1);
	/* Seen again without a change: nothing moves. */
	sync_changes(m, r, &seen, &n_seen);
	ASSERT_INT_EQ(m->tis[TI_SUCCESS], 2);
	metrics_run_gone(m, seen, n_seen);
	for (int s = 0; s < TI__COUNT; s++)
		ASSERT_INT_EQ(m->tis[s], 0);
	ASSERT_INT_EQ(m->tis_ended[TI_SUCCESS], 2); /* ends stay counted */
	free(seen);
	run_free(r);

	/* A run first seen when its instances had ended (restored at a start): they count by
	 * state, but they are not ends of this server. */
	r = start(d);
	while (run_one(r, 0))
		;
	struct metrics *m2 = metrics_new(0);
	seen = NULL;
	n_seen = 0;
	metrics_tis_changed(m2, r, &seen, &n_seen, NULL, 0);
	ASSERT_INT_EQ(m2->tis[TI_SUCCESS], 3);
	ASSERT_INT_EQ(m2->tis_ended[TI_SUCCESS], 0);
	free(seen);
	run_free(r);
	metrics_free(m2);
	metrics_free(m);
	dag_free(d);
}

TEST(metrics_render_text)
{
	struct metrics *m = metrics_new(1700000000500);
	atomic_store(&m->last_turn_ms, 1700000001250);
	metrics_task_started(m);
	metrics_task_started(m);
	prom_hist_observe(&m->loop_turn, 300);
	struct metrics_snap sn = {0};
	sn.runs[RUN_QUEUED] = 2;
	sn.runs[RUN_RUNNING] = 1;
	sn.runs_ended[RUN_SUCCESS] = 7;
	sn.tis[TI_RUNNING] = 4;
	sn.tis_ended[TI_SUCCESS] = 40;
	sn.adm.started = 44;
	sn.adm.held[ADMIT_HOLD_POOL] = 3;
	sn.supervisors = 4;
	sn.dag_files = 5;
	sn.dag_broken = 1;
	struct metrics_pool pools[] = {
	    {"default_pool",
	     {.waiting = 0, .used = 4, .slots = 128, .started = 44, .waited_ms = 1500}},
	    {"odd \"one\"\\", {.waiting = 6, .used = 0, .slots = -1}},
	};
	sn.pools = pools;
	sn.n_pools = 2;
	struct buf b = {0};
	metrics_render_snap(m, &sn, &b);
	const char *t = buf_str(&b);
	const char *want[] = {
	    "# HELP gust_runs Runs in the server's memory, by state.\n# TYPE gust_runs gauge\n"
	    "gust_runs{state=\"queued\"} 2\ngust_runs{state=\"running\"} 1\n",
	    "gust_runs_ended_total{state=\"success\"} 7\n",
	    "gust_task_instances{state=\"running\"} 4\n",
	    "gust_task_instances_ended_total{state=\"success\"} 40\n",
	    "gust_task_starts_total 2\n",
	    "gust_admission_decisions_total{decision=\"admitted\"} 44\n",
	    "gust_admission_decisions_total{decision=\"held\",reason=\"pool\"} 3\n",
	    "gust_pool_waiting{pool=\"odd \\\"one\\\"\\\\\"} 6\n",
	    "gust_pool_slots{pool=\"odd \\\"one\\\"\\\\\"} -1\n",
	    "gust_pool_slots_used{pool=\"default_pool\"} 4\n",
	    "gust_pool_wait_seconds_sum{pool=\"default_pool\"} 1.5\n"
	    "gust_pool_wait_seconds_count{pool=\"default_pool\"} 44\n",
	    "gust_loop_turn_seconds_bucket{le=\"0.00025\"} 0\n"
	    "gust_loop_turn_seconds_bucket{le=\"0.0005\"} 1\n",
	    "gust_loop_turn_seconds_sum 0.0003\ngust_loop_turn_seconds_count 1\n",
	    "gust_store_commit_seconds_count 0\n",
	    "gust_supervisors_alive 4\n",
	    "gust_dag_files 5\n",
	    "gust_dag_files_broken 1\n",
	    "gust_loop_last_turn_timestamp_seconds 1700000001.25\n",
	    "gust_start_timestamp_seconds 1700000000.5\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		ASSERT_STR_CONTAINS(t, want[i]);
	/* Final states only among the ends; each family typed once. */
	ASSERT(!strstr(t, "gust_task_instances_ended_total{state=\"running\"}"));
	size_t types = 0;
	for (const char *p = t; (p = strstr(p, "# TYPE ")); p++)
		types++;
	ASSERT_INT_EQ(types, 17);
	buf_free(&b);
	metrics_free(m);
}
