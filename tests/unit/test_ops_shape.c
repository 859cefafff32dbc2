/* Unit tests of src/ops/shape.c: the one JSON shape of each object. */
#include <string.h>

#include "base/diag.h"
#include "dag/dag_load.h"
#include "dag/params.h"
#include "engine/run.h"
#include "ops/shape.h"
#include "test.h"

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

TEST(ops_shape_run)
{
	struct store_run r = {.run_id = "d@2024-03-01T00:00:00Z",
			      .dag_id = "d",
			      .version = 3,
			      .kind = STORE_RUN_SCHEDULED,
			      .logical_date = 1709251200000,
			      .state = "running",
			      .params = "{\"n\": 2}",
			      .created_at = 1709251200005,
			      .started_at = 1709251201000};
	json_t *o = ops_run_json(&r, 1709251203500);
	ASSERT_STR_EQ(str(o, "run_id"), "d@2024-03-01T00:00:00Z");
	ASSERT_STR_EQ(str(o, "kind"), "scheduled");
	ASSERT_STR_EQ(str(o, "logical_date"), "2024-03-01T00:00:00.000Z");
	ASSERT_STR_EQ(str(o, "created_at"), "2024-03-01T00:00:00.005Z");
	ASSERT(json_is_null(json_object_get(o, "ended_at")));
	ASSERT_INT_EQ(json_integer_value(json_object_get(o, "duration_ms")), 2500);
	ASSERT_INT_EQ(json_integer_value(json_object_get(json_object_get(o, "params"), "n")), 2);
	ASSERT(json_is_null(json_object_get(o, "message")));
	ASSERT_INT_EQ(json_integer_value(json_object_get(o, "version")), 3);
	json_decref(o);
	/* No params stored: an empty object, never null; a run not started has no duration. */
	r.params = NULL;
	r.started_at = 0;
	r.kind = STORE_RUN_MANUAL;
	o = ops_run_json(&r, 0);
	ASSERT(json_is_object(json_object_get(o, "params")));
	ASSERT(json_is_null(json_object_get(o, "duration_ms")));
	ASSERT_STR_EQ(str(o, "kind"), "manual");
	json_decref(o);
}

TEST(ops_shape_ti_nulls_and_embedded_json)
{
	struct store_ti t = {.run_id = "r",
			     .task_id = "w",
			     .map_index = -1,
			     .state = "failed",
			     .try_number = 2,
			     .exit_code = -1,
			     .signal = 9,
			     .output = "[1, {\"a\": true}]",
			     .item = "not json"};
	json_t *o = ops_ti_json(&t, 0);
	ASSERT(json_is_null(json_object_get(o, "map_index")));
	ASSERT(json_is_null(json_object_get(o, "exit_code")));
	ASSERT_INT_EQ(json_integer_value(json_object_get(o, "signal")), 9);
	ASSERT(json_is_array(json_object_get(o, "output")));
	ASSERT_STR_EQ(str(o, "item"), "not json"); /* unreadable JSON shown as text */
	ASSERT_STR_EQ(str(o, "pool"), "default_pool");
	ASSERT_INT_EQ(json_integer_value(json_object_get(o, "pool_slots")), 1);
	ASSERT(json_is_object(json_object_get(o, "progress")));
	json_decref(o);
	t.map_index = 0;
	t.exit_code = 0;
	t.signal = 0;
	o = ops_ti_json(&t, 0);
	ASSERT_INT_EQ(json_integer_value(json_object_get(o, "map_index")), 0);
	ASSERT_INT_EQ(json_integer_value(json_object_get(o, "exit_code")), 0);
	ASSERT(json_is_null(json_object_get(o, "signal")));
	json_decref(o);
}

TEST(ops_shape_run_with_tis_counts_states)
{
	struct store_run r = {.run_id = "r", .dag_id = "d", .state = "running"};
	struct store_ti tis[3] = {
	    {.task_id = "a", .map_index = -1, .state = "success", .exit_code = 0},
	    {.task_id = "b", .map_index = 0, .state = "running", .exit_code = -1},
	    {.task_id = "b", .map_index = 1, .state = "success", .exit_code = 0},
	};
	json_t *o = ops_run_with_tis_json(&r, tis, 3, 0);
	json_t *sum = json_object_get(o, "task_states");
	ASSERT_INT_EQ(json_integer_value(json_object_get(sum, "success")), 2);
	ASSERT_INT_EQ(json_integer_value(json_object_get(sum, "running")), 1);
	ASSERT(json_object_get(sum, "failed") == NULL);
	ASSERT_INT_EQ(json_array_size(json_object_get(o, "tasks")), 3);
	json_decref(o);
}

TEST(ops_shape_pool_and_try)
{
	struct store_pool p = {.name = "gpu", .slots = 2, .used = 3, .running = 2, .waiting = 1};
	json_t *o = ops_pool_json(&p);
	ASSERT_INT_EQ(json_integer_value(json_object_get(o, "free")), 0);
	ASSERT(json_is_false(json_object_get(o, "missing")));
	json_decref(o);
	p.slots = -1;
	o = ops_pool_json(&p);
	ASSERT(json_is_null(json_object_get(o, "slots")));
	ASSERT(json_is_true(json_object_get(o, "missing")));
	json_decref(o);
	struct store_attempt a = {.try_number = 1, .queued_at = 1000};
	o = ops_try_json(&a);
	ASSERT_INT_EQ(json_integer_value(json_object_get(o, "launch")), 1);
	ASSERT(json_is_null(json_object_get(o, "status")));
	json_decref(o);
}

/* A live run's records are what the store would hold: same shape for dags test and the API. */
TEST(ops_shape_live_run_records)
{
	const char *y = "tasks:\n  a:\n    run: echo\n    pool: p\n  w:\n    depends: [a]\n"
			"    map: [x, y]\n    run: echo ${{ item }}\n";
	struct diag_list diags;
	diag_list_init(&diags, "t.yaml");
	struct dag *d = NULL;
	ASSERT_INT_EQ(dag_load_buffer("t.yaml", y, strlen(y), &d, &diags), 0);
	diag_list_free(&diags);
	char *msg = NULL;
	json_t *params = params_resolve(d, NULL, &msg);
	struct run_config cfg = {.run_id = "t@now", .logical_date_ms = 5000, .params = params};
	struct run *r = run_new(d, &cfg, 7000);
	json_decref(params);
	struct store_run rr;
	ops_run_record(r, "manual", &rr);
	ASSERT_STR_EQ(rr.run_id, "t@now");
	ASSERT_STR_EQ(rr.dag_id, d->id);
	ASSERT_INT_EQ(rr.logical_date, 5000);
	ASSERT_INT_EQ(rr.created_at, 7000);
	ASSERT_INT_EQ(rr.kind, STORE_RUN_MANUAL);
	struct store_ti t;
	ops_ti_record(r, 0, &t);
	ASSERT_STR_EQ(t.task_id, "a");
	ASSERT_STR_EQ(t.pool, "p");
	ASSERT_INT_EQ(t.map_index, -1);
	json_t *o = ops_ti_json(&t, 7000);
	ASSERT_STR_EQ(str(o, "run_id"), "t@now");
	json_decref(o);
	ops_ti_record_done(&t);
	run_free(r);
	dag_free(d);
}
