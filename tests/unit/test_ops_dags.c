/* Unit tests of the DAG reads (src/ops/dags.c, shape_dag.c) on a store in memory. */
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "test.h"

static const char etl_src[] = "description: nightly load\n"
			      "schedule: '0 3 * * *'\n"
			      "tags: [nightly, warehouse]\n"
			      "params:\n"
			      "  workers: {type: integer, default: 4, minimum: 1}\n"
			      "tasks:\n"
			      "  extract: {run: echo e}\n"
			      "  load: {run: echo l, depends: [extract], retries: 2}\n";

static struct store *dags_store(void)
{
	struct store *st = NULL;
	char *msg = NULL;
	ASSERT_INT_EQ(store_open(":memory:", &st, &msg), 0);
	int64_t v = 0;
	ASSERT_INT_EQ(store_dag_loaded(st, NULL, "etl", "etl.yaml", "h0", "tasks: {a: {run: x}}\n",
				       NULL, 10, &v),
		      0);
	ASSERT_INT_EQ(store_dag_loaded(st, NULL, "etl", "etl.yaml", "h1", etl_src, "0 3 * * *",
				       20, &v),
		      0);
	ASSERT_INT_EQ(v, 2);
	ASSERT_INT_EQ(store_dag_loaded(st, NULL, "adhoc", "adhoc.yaml", "h2",
				       "tasks: {a: {run: echo}}\n", NULL, 30, &v),
		      0);
	ASSERT_INT_EQ(store_dag_set_paused(st, "adhoc", true), 0);
	ASSERT_INT_EQ(store_dag_broken(st, NULL, "bad", "bad.yaml",
				       "bad.yaml:2:3: error: one\nbad.yaml:4:1: error: two", 40),
		      0);
	struct store_run r = {.run_id = "etl@manual-1",
			      .dag_id = "etl",
			      .version = 2,
			      .kind = STORE_RUN_MANUAL,
			      .logical_date = 1000,
			      .created_at = 1000};
	ASSERT_INT_EQ(store_run_create(st, NULL, &r), 0);
	return st;
}

static const char *ids(json_t *list, char *buf, size_t size)
{
	buf[0] = '\0';
	size_t i;
	json_t *d;
	json_array_foreach(list, i, d)
	{
		strncat(buf, json_string_value(json_object_get(d, "dag_id")),
			size - strlen(buf) - 2);
		strcat(buf, " ");
	}
	return buf;
}

TEST(ops_dag_list_filters_and_shape)
{
	struct store *st = dags_store();
	/* 2024-01-01T00:00:00Z */
	struct ops_ctx c = {.st = st, .now = 1704067200000, .dags = &ops_dags_from_store};
	struct ops_err err = {0};
	json_t *list = NULL;
	char buf[256];
	struct ops_dag_query q = OPS_DAG_QUERY_ALL;
	ASSERT_INT_EQ(ops_dag_list(&c, &q, &list, &err), 0);
	ASSERT_STR_EQ(ids(list, buf, sizeof(buf)), "adhoc bad etl ");
	json_t *etl = json_array_get(list, 2);
	ASSERT_STR_EQ(json_string_value(json_object_get(etl, "description")), "nightly load");
	ASSERT_INT_EQ(json_integer_value(json_object_get(etl, "version")), 2);
	ASSERT_STR_EQ(json_string_value(json_object_get(etl, "next_run")),
		      "2024-01-01T03:00:00.000Z");
	ASSERT_INT_EQ(json_array_size(json_object_get(etl, "tags")), 2);
	json_t *recent = json_object_get(etl, "recent_runs");
	ASSERT_INT_EQ(json_array_size(recent), 1);
	ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(recent, 0), "state")),
		      "queued");
	json_t *bad = json_array_get(list, 1);
	ASSERT(json_is_true(json_object_get(bad, "broken")));
	ASSERT(json_is_null(json_object_get(bad, "version")));
	ASSERT_INT_EQ(json_array_size(json_object_get(bad, "errors")), 2);
	ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(bad, "errors"), 1)),
		      "bad.yaml:4:1: error: two");
	json_decref(list);

	q = OPS_DAG_QUERY_ALL;
	q.paused = 1;
	ASSERT_INT_EQ(ops_dag_list(&c, &q, &list, &err), 0);
	ASSERT_STR_EQ(ids(list, buf, sizeof(buf)), "adhoc ");
	json_decref(list);
	q = OPS_DAG_QUERY_ALL;
	q.broken = 1;
	ASSERT_INT_EQ(ops_dag_list(&c, &q, &list, &err), 0);
	ASSERT_STR_EQ(ids(list, buf, sizeof(buf)), "bad ");
	json_decref(list);
	q = OPS_DAG_QUERY_ALL;
	q.broken = 0;
	q.tag = "warehouse";
	ASSERT_INT_EQ(ops_dag_list(&c, &q, &list, &err), 0);
	ASSERT_STR_EQ(ids(list, buf, sizeof(buf)), "etl ");
	json_decref(list);
	q = OPS_DAG_QUERY_ALL;
	q.search = "d";
	ASSERT_INT_EQ(ops_dag_list(&c, &q, &list, &err), 0);
	ASSERT_STR_EQ(ids(list, buf, sizeof(buf)), "adhoc bad ");
	json_decref(list);
	store_close(st);
}

TEST(ops_dag_show_tasks_params_versions_and_source)
{
	struct store *st = dags_store();
	struct ops_ctx c = {.st = st, .now = 1704067200000, .dags = &ops_dags_from_store};
	struct ops_err err = {0};
	json_t *d = NULL;
	ASSERT_INT_EQ(ops_dag_show(&c, "etl", &d, &err), 0);
	json_t *tasks = json_object_get(d, "tasks");
	ASSERT_INT_EQ(json_array_size(tasks), 2);
	json_t *load = json_array_get(tasks, 1);
	ASSERT_STR_EQ(json_string_value(json_object_get(load, "task_id")), "load");
	ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(load, "depends"), 0)),
		      "extract");
	ASSERT_INT_EQ(json_integer_value(json_object_get(load, "retries")), 2);
	json_t *workers = json_object_get(json_object_get(d, "params"), "workers");
	ASSERT_STR_EQ(json_string_value(json_object_get(workers, "type")), "integer");
	ASSERT_INT_EQ(json_integer_value(json_object_get(workers, "default")), 4);
	json_t *versions = json_object_get(d, "versions");
	ASSERT_INT_EQ(json_array_size(versions), 2);
	ASSERT_INT_EQ(json_integer_value(json_object_get(json_array_get(versions, 0), "version")),
		      2);
	json_decref(d);

	/* A DAG that never loaded: no tasks, its errors. */
	ASSERT_INT_EQ(ops_dag_show(&c, "bad", &d, &err), 0);
	ASSERT_INT_EQ(json_array_size(json_object_get(d, "tasks")), 0);
	ASSERT_INT_EQ(json_array_size(json_object_get(d, "versions")), 0);
	json_decref(d);
	ASSERT_INT_EQ(ops_dag_show(&c, "etk", &d, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_NOT_FOUND);
	ASSERT_STR_CONTAINS(err.msg, "etl");

	char *src = NULL;
	int64_t v = 0;
	ASSERT_INT_EQ(ops_dag_source(st, "etl", 0, &src, &v, &err), 0);
	ASSERT_INT_EQ(v, 2);
	ASSERT_STR_EQ(src, etl_src);
	free(src);
	ASSERT_INT_EQ(ops_dag_source(st, "etl", 1, &src, &v, &err), 0);
	ASSERT_STR_EQ(src, "tasks: {a: {run: x}}\n");
	free(src);
	ASSERT_INT_EQ(ops_dag_source(st, "etl", 7, &src, &v, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_NOT_FOUND);
	ASSERT_INT_EQ(ops_dag_source(st, "bad", 0, &src, &v, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_CONFLICT);
	ops_err_free(&err);
	store_close(st);
}
