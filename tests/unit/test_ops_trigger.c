/* Unit tests of ops_trigger (src/ops/trigger.c) on a store in memory. */
#include <string.h>

#include "ops/ops.h"
#include "test.h"

static struct store *mem_store(void)
{
	struct store *st = NULL;
	char *msg = NULL;
	ASSERT_INT_EQ(store_open(":memory:", &st, &msg), 0);
	return st;
}

static void add_dag(struct store *st, const char *id, const char *src)
{
	int64_t v = 0;
	ASSERT_INT_EQ(store_dag_loaded(st, NULL, id, "dags/x.yaml", "h1", src, NULL, 1, &v), 0);
}

TEST(ops_trigger_queues_a_run_with_checked_params)
{
	struct store *st = mem_store();
	add_dag(
	    st, "etl",
	    "params:\n  n: {type: integer, default: 2, minimum: 1}\n  tag: x\ntasks:\n  a: echo\n");
	struct ops_ctx c = {.st = st, .now = 1709251200123, .dags = &ops_dags_from_store};
	struct ops_param_text texts[] = {{"n", "5"}};
	struct ops_trigger_req rq = {.dag_id = "etl", .texts = texts, .n_texts = 1};
	struct ops_trigger_ans ans;
	struct ops_err err = {0};
	ASSERT_INT_EQ(ops_trigger(&c, &rq, &ans, &err), 0);
	ASSERT_STR_EQ(ans.run_id, "etl@manual-2024-03-01T00:00:00.123Z");
	ASSERT_INT_EQ(ans.version, 1);
	struct store_run r;
	ASSERT_INT_EQ(store_run_get(st, ans.run_id, &r), 0);
	ASSERT_STR_EQ(r.state, "queued");
	ASSERT_INT_EQ(r.kind, STORE_RUN_MANUAL);
	ASSERT_STR_CONTAINS(r.params, "\"n\":5");
	ASSERT_STR_CONTAINS(r.params, "\"tag\":\"x\"");
	store_run_free(&r);
	/* The same millisecond again: the next one. */
	struct ops_trigger_ans ans2;
	ASSERT_INT_EQ(ops_trigger(&c, &rq, &ans2, &err), 0);
	ASSERT_STR_EQ(ans2.run_id, "etl@manual-2024-03-01T00:00:00.124Z");
	ops_trigger_ans_free(&ans);
	ops_trigger_ans_free(&ans2);
	/* Typed params, as an API body gives them. */
	json_t *given = json_pack("{s:i}", "n", 7);
	struct ops_trigger_req typed = {.dag_id = "etl", .params = given};
	ASSERT_INT_EQ(ops_trigger(&c, &typed, &ans, &err), 0);
	ops_trigger_ans_free(&ans);
	json_decref(given);
	store_close(st);
}

TEST(ops_trigger_errors_have_kinds)
{
	struct store *st = mem_store();
	add_dag(st, "etl",
		"params:\n  n: {type: integer, default: 2, minimum: 1}\ntasks:\n  a: echo\n");
	struct ops_ctx c = {.st = st, .now = 1000, .dags = &ops_dags_from_store};
	struct ops_trigger_ans ans;
	struct ops_err err = {0};

	struct ops_trigger_req unknown = {.dag_id = "etk"};
	ASSERT_INT_EQ(ops_trigger(&c, &unknown, &ans, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_NOT_FOUND);
	ASSERT_STR_EQ(err.msg, "no DAG 'etk' (did you mean 'etl'?)");
	ASSERT_INT_EQ(ops_http_status(err.kind), 404);

	struct ops_param_text bad_name[] = {{"m", "1"}};
	struct ops_trigger_req rq = {.dag_id = "etl", .texts = bad_name, .n_texts = 1};
	ASSERT_INT_EQ(ops_trigger(&c, &rq, &ans, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_INVALID);
	ASSERT_STR_CONTAINS(err.msg, "DAG 'etl' has no param 'm'");
	ASSERT_INT_EQ(ops_exit_code(err.kind), 2);

	struct ops_param_text too_small[] = {{"n", "0"}};
	rq.texts = too_small;
	ASSERT_INT_EQ(ops_trigger(&c, &rq, &ans, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_INVALID);

	json_t *not_obj = json_integer(3);
	struct ops_trigger_req typed = {.dag_id = "etl", .params = not_obj};
	ASSERT_INT_EQ(ops_trigger(&c, &typed, &ans, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_BAD_REQUEST);
	json_decref(not_obj);

	/* Known only as broken, and removed: conflicts, with what to know. */
	ASSERT_INT_EQ(
	    store_dag_broken(st, NULL, "never", "dags/never.yaml", "never.yaml:1:1: error: x", 2),
	    0);
	struct ops_trigger_req never = {.dag_id = "never"};
	ASSERT_INT_EQ(ops_trigger(&c, &never, &ans, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_CONFLICT);
	ASSERT_STR_CONTAINS(err.msg, "its file has never loaded:\nnever.yaml:1:1: error: x");
	ASSERT_INT_EQ(store_dag_deleted(st, NULL, "etl", 3), 0);
	struct ops_trigger_req gone = {.dag_id = "etl"};
	ASSERT_INT_EQ(ops_trigger(&c, &gone, &ans, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_CONFLICT);
	ASSERT_STR_CONTAINS(err.msg, "was removed from the DAG folder");
	ASSERT_STR_EQ(ops_kind_slug(err.kind), "conflict");
	ops_err_free(&err);
	store_close(st);
}
