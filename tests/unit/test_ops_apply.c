/* Unit tests of write requests (src/ops/request.c, src/ops/apply.c) on a store in memory,
 * without a server (live NULL) and with hooks that record what the server would be asked. */
#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "ops/ops.h"
#include "test.h"

static struct store *mem_store(void)
{
	struct store *st = NULL;
	char *msg = NULL;
	ASSERT_INT_EQ(store_open(":memory:", &st, &msg), 0);
	return st;
}

/* DAG etl: extract -> transform -> load, plus work (mapped, three instances) -> after. */
static const char etl_src[] = "schedule: '0 2 * * *'\n"
			      "tasks:\n"
			      "  extract: echo e\n"
			      "  transform: {run: echo t, depends: [extract]}\n"
			      "  load: {run: echo l, depends: [transform]}\n"
			      "  work: {map: [a, b, c], run: echo w}\n"
			      "  after: {run: echo a, depends: [work]}\n";

static void add_run(struct store *st, const char *run_id, const char *state)
{
	struct store_run r = {.run_id = (char *)run_id,
			      .dag_id = "etl",
			      .version = 1,
			      .kind = STORE_RUN_MANUAL,
			      .logical_date = 1000,
			      .created_at = 1000};
	ASSERT_INT_EQ(store_run_create(st, NULL, &r), 0);
	if (strcmp(state, "queued") != 0)
		ASSERT_INT_EQ(store_run_set_state(st, NULL, run_id, state, NULL, 2000), 0);
}

static void add_ti(struct store *st, const char *run_id, const char *task, int32_t mi,
		   const char *state)
{
	struct store_ti t = {.run_id = (char *)run_id,
			     .task_id = (char *)task,
			     .map_index = mi,
			     .state = (char *)state,
			     .try_number = 1,
			     .exit_code = -1};
	ASSERT_INT_EQ(store_ti_upsert(st, NULL, &t, 1), 0);
}

static struct store *etl_store(void)
{
	struct store *st = mem_store();
	int64_t v = 0;
	ASSERT_INT_EQ(
	    store_dag_loaded(st, NULL, "etl", "dags/etl.yaml", "h1", etl_src, "0 2 * * *", 1, &v),
	    0);
	add_run(st, "etl@q", "queued");
	add_run(st, "etl@r", "running");
	add_ti(st, "etl@r", "extract", -1, "success");
	add_ti(st, "etl@r", "transform", -1, "failed");
	add_ti(st, "etl@r", "load", -1, "upstream_failed");
	add_ti(st, "etl@r", "work", -1, "none"); /* the placeholder, hidden by its instances */
	add_ti(st, "etl@r", "work", 0, "success");
	add_ti(st, "etl@r", "work", 1, "running");
	add_ti(st, "etl@r", "work", 2, "failed");
	add_ti(st, "etl@r", "after", -1, "upstream_failed");
	add_run(st, "etl@done", "success");
	return st;
}

/* What the server's hooks were asked. */
struct calls {
	int cancel, clear, mark, dag_changed, pools_changed;
	char last[200];
};

static int rec_cancel(void *ctx, const struct ops_req *rq, bool *ret_done, struct ops_err *err)
{
	(void)err;
	struct calls *c = ctx;
	c->cancel++;
	snprintf(c->last, sizeof(c->last), "cancel %s", rq->run_id);
	*ret_done = false;
	return 0;
}

static int rec_clear(void *ctx, const struct ops_req *rq, struct ops_err *err)
{
	(void)err;
	struct calls *c = ctx;
	c->clear++;
	snprintf(c->last, sizeof(c->last), "clear %s %s %d %d", rq->run_id, rq->task_id,
		 rq->map_index, rq->downstream);
	return 0;
}

static int rec_mark(void *ctx, const struct ops_req *rq, struct ops_err *err)
{
	struct calls *c = ctx;
	c->mark++;
	/* The engine may still refuse (an attempt started in between). */
	return ops_fail(err, OPS_CONFLICT, "busy %s", rq->task_id);
}

static void rec_dag_changed(void *ctx, const char *dag_id)
{
	struct calls *c = ctx;
	c->dag_changed++;
	snprintf(c->last, sizeof(c->last), "dag %s", dag_id);
}

static void rec_pools_changed(void *ctx)
{
	struct calls *c = ctx;
	c->pools_changed++;
}

static int apply(struct store *st, const struct ops_live *live, const char *json,
		 struct ops_answer *ans, struct ops_err *err)
{
	json_error_t jerr;
	json_t *o = json_loads(json, 0, &jerr);
	ASSERT(o != NULL);
	struct ops_req rq;
	int r = ops_req_parse(NULL, o, &rq, err);
	json_decref(o);
	if (r < 0)
		return r;
	struct ops_ctx c = {.st = st, .now = 1709251200000, .dags = &ops_dags_from_store};
	r = ops_apply(&c, live, &rq, ans, err);
	ops_req_free(&rq);
	return r;
}

/* "task[mi]=state ..." of an answer's instances */
static void instances_text(const json_t *body, char *buf, size_t size)
{
	buf[0] = '\0';
	size_t k;
	json_t *ti;
	json_array_foreach(json_object_get(body, "instances"), k, ti)
	{
		json_t *mi = json_object_get(ti, "map_index");
		size_t len = strlen(buf);
		char idx[24] = "";
		if (json_is_integer(mi))
			snprintf(idx, sizeof(idx), "#%lld", (long long)json_integer_value(mi));
		snprintf(buf + len, size - len, "%s%s%s=%s", len ? " " : "",
			 json_string_value(json_object_get(ti, "task_id")), idx,
			 json_string_value(json_object_get(ti, "state")));
	}
}

TEST(ops_req_parse_refuses_what_it_does_not_know)
{
	struct ops_req rq;
	struct ops_err err = {0};
	json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:b, s:i}", "op", "clear", "run_id", "r",
			      "task_id", "t", "downstream", 1, "dry_run", 0, "map_index", 2);
	ASSERT_INT_EQ(ops_req_parse(NULL, o, &rq, &err), 0);
	ASSERT_INT_EQ(rq.op, OPS_CLEAR);
	ASSERT(rq.downstream && !rq.dry_run);
	ASSERT_INT_EQ(rq.map_index, 2);
	/* And back: the same object. */
	json_t *back = ops_req_json(&rq);
	ASSERT(json_equal(back, o));
	json_decref(back);
	ops_req_free(&rq);
	json_decref(o);

	static const struct {
		const char *json, *msg;
	} bad[] = {
	    {"{\"op\":\"clear\",\"run_id\":\"r\",\"task_id\":\"t\",\"force\":true}",
	     "clear: 'force' is not a field of this request"},
	    {"{\"op\":\"clear\",\"run_id\":\"r\"}", "clear: 'task_id' is required"},
	    {"{\"op\":\"clear\",\"run_id\":\"r\",\"task_id\":\"t\",\"downstream\":\"yes\"}",
	     "clear: 'downstream' must be true or false"},
	    {"{\"op\":\"clear\",\"run_id\":\"r\",\"task_id\":\"t\",\"map_index\":-1}",
	     "clear: 'map_index' must be a number from 0, or null"},
	    {"{\"op\":\"cancel\",\"run_id\":\"\"}", "cancel: 'run_id' must be a non-empty string"},
	    {"{\"op\":\"cancel\",\"run_id\":\"r\",\"paused\":true}",
	     "cancel: 'paused' is not a field of this request"},
	    {"{\"op\":\"mark\",\"run_id\":\"r\",\"task_id\":\"t\",\"state\":\"skipped\"}",
	     "mark: 'state' must be \"success\" or \"failed\""},
	    {"{\"op\":\"reboot\"}", "unknown operation 'reboot'"},
	    {"[1]", "the request must be a JSON object"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		json_error_t jerr;
		json_t *b = json_loads(bad[i].json, JSON_DECODE_ANY, &jerr);
		ASSERT(b != NULL);
		ASSERT_INT_EQ(ops_req_parse(NULL, b, &rq, &err), -1);
		ASSERT_INT_EQ(err.kind, OPS_BAD_REQUEST);
		ASSERT_STR_EQ(err.msg, bad[i].msg);
		json_decref(b);
	}
	ops_err_free(&err);
}

TEST(ops_cancel_without_a_server)
{
	struct store *st = etl_store();
	struct ops_answer ans;
	struct ops_err err = {0};
	/* A queued run: cancelled in the store at once. */
	ASSERT_INT_EQ(
	    apply(st, NULL, "{\"op\":\"cancel\",\"run_id\":\"etl@q\",\"who\":\"ann\"}", &ans, &err),
	    0);
	ASSERT_INT_EQ(ans.outcome, OPS_DONE);
	json_t *run = json_object_get(ans.body, "run");
	ASSERT_STR_EQ(json_string_value(json_object_get(run, "state")), "cancelled");
	ASSERT_STR_EQ(json_string_value(json_object_get(run, "message")),
		      "cancelled by ann before it started");
	ops_answer_free(&ans);
	/* Twice: it is over. */
	ASSERT_INT_EQ(apply(st, NULL, "{\"op\":\"cancel\",\"run_id\":\"etl@q\"}", &ans, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_CONFLICT);
	ASSERT_STR_CONTAINS(err.msg, "run etl@q is already over: cancelled (cancelled by ann");
	/* A running run: only a server can stop its tasks; left for the next one. */
	ASSERT_INT_EQ(apply(st, NULL, "{\"op\":\"cancel\",\"run_id\":\"etl@r\"}", &ans, &err), 0);
	ASSERT_INT_EQ(ans.outcome, OPS_QUEUED);
	ops_answer_free(&ans);
	struct store_command *cmds = NULL;
	size_t n = 0;
	ASSERT_INT_EQ(store_command_pending(st, &cmds, &n), 0);
	ASSERT_INT_EQ((int)n, 1);
	ASSERT_STR_EQ(cmds[0].kind, "cancel");
	ASSERT_STR_CONTAINS(cmds[0].args, "\"run_id\":\"etl@r\"");
	store_command_free(&cmds[0]);
	free(cmds);
	/* Unknown, with a hint. */
	ASSERT_INT_EQ(apply(st, NULL, "{\"op\":\"cancel\",\"run_id\":\"etl@rr\"}", &ans, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_NOT_FOUND);
	ASSERT_STR_EQ(err.msg, "no run 'etl@rr' (did you mean 'etl@r'?)");
	ops_err_free(&err);
	store_close(st);
}

TEST(ops_clear_checks_then_asks_the_server)
{
	struct store *st = etl_store();
	struct calls calls = {0};
	struct ops_live live = {&calls,	  rec_cancel,	   rec_clear,
				rec_mark, rec_dag_changed, rec_pools_changed};
	struct ops_answer ans;
	struct ops_err err = {0};
	char got[300];

	/* Dry run with downstream: the task and everything after it, nothing asked. */
	ASSERT_INT_EQ(apply(st, &live,
			    "{\"op\":\"clear\",\"run_id\":\"etl@r\",\"task_id\":\"extract\","
			    "\"downstream\":true,\"dry_run\":true}",
			    &ans, &err),
		      0);
	instances_text(ans.body, got, sizeof(got));
	ASSERT_STR_EQ(got, "extract=success load=upstream_failed transform=failed");
	ASSERT(json_is_true(json_object_get(ans.body, "dry_run")));
	ASSERT_INT_EQ(calls.clear, 0);
	ops_answer_free(&ans);

	/* One instance of a mapped task. */
	ASSERT_INT_EQ(apply(st, &live,
			    "{\"op\":\"clear\",\"run_id\":\"etl@r\",\"task_id\":\"work\","
			    "\"map_index\":2}",
			    &ans, &err),
		      0);
	instances_text(ans.body, got, sizeof(got));
	ASSERT_STR_EQ(got, "work#2=failed");
	ASSERT_INT_EQ(calls.clear, 1);
	ASSERT_STR_EQ(calls.last, "clear etl@r work 2 0");
	ops_answer_free(&ans);

	/* The whole mapped task holds a running instance: refused before the server is asked. */
	ASSERT_INT_EQ(apply(st, &live,
			    "{\"op\":\"clear\",\"run_id\":\"etl@r\",\"task_id\":\"work\"}", &ans,
			    &err),
		      -1);
	ASSERT_INT_EQ(err.kind, OPS_CONFLICT);
	ASSERT_STR_EQ(err.msg,
		      "work[1] is running (try 1): it can be cleared once its attempt ends");
	ASSERT_INT_EQ(calls.clear, 1);

	static const struct {
		const char *json;
		enum ops_kind kind;
		const char *msg;
	} bad[] = {
	    {"{\"op\":\"clear\",\"run_id\":\"etl@r\",\"task_id\":\"work\",\"map_index\":9}",
	     OPS_INVALID,
	     "task 'work' has 3 instances in run etl@r: map index 9 is out of range (0..2)"},
	    {"{\"op\":\"clear\",\"run_id\":\"etl@r\",\"task_id\":\"load\",\"map_index\":0}",
	     OPS_INVALID,
	     "task 'load' has no mapped instances in run etl@r: name it without a map index"},
	    {"{\"op\":\"clear\",\"run_id\":\"etl@r\",\"task_id\":\"lod\"}", OPS_NOT_FOUND,
	     "DAG 'etl' has no task 'lod' (did you mean 'load'?)"},
	    {"{\"op\":\"clear\",\"run_id\":\"etl@q\",\"task_id\":\"load\"}", OPS_CONFLICT,
	     "run etl@q has not started yet: nothing to clear"},
	    {"{\"op\":\"mark\",\"run_id\":\"etl@r\",\"task_id\":\"load\",\"state\":\"success\"}",
	     OPS_CONFLICT, "busy load"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ASSERT_INT_EQ(apply(st, &live, bad[i].json, &ans, &err), -1);
		ASSERT_INT_EQ(err.kind, bad[i].kind);
		ASSERT_STR_EQ(err.msg, bad[i].msg);
	}
	ASSERT_INT_EQ(calls.mark, 1);

	/* Without a server: left for the next one. */
	ASSERT_INT_EQ(apply(st, NULL,
			    "{\"op\":\"clear\",\"run_id\":\"etl@r\",\"task_id\":\"load\"}", &ans,
			    &err),
		      0);
	ASSERT_INT_EQ(ans.outcome, OPS_QUEUED);
	ops_answer_free(&ans);
	ops_err_free(&err);
	store_close(st);
}

TEST(ops_pause_writes_the_store_and_tells_the_server)
{
	struct store *st = etl_store();
	struct calls calls = {0};
	struct ops_live live = {&calls,	  rec_cancel,	   rec_clear,
				rec_mark, rec_dag_changed, rec_pools_changed};
	struct ops_answer ans;
	struct ops_err err = {0};
	ASSERT_INT_EQ(
	    apply(st, &live, "{\"op\":\"pause\",\"dag_id\":\"etl\",\"paused\":true}", &ans, &err),
	    0);
	ASSERT(json_is_true(json_object_get(ans.body, "paused")));
	ASSERT(json_is_false(json_object_get(ans.body, "was_paused")));
	ASSERT(json_is_null(json_object_get(ans.body, "next_run")));
	ASSERT_STR_EQ(calls.last, "dag etl");
	ops_answer_free(&ans);
	struct store_dag row;
	ASSERT_INT_EQ(store_dag_get(st, "etl", &row), 0);
	ASSERT(row.paused);
	store_dag_free(&row);
	/* Unpaused: the next fire time after now (2024-03-01T00:00:00Z) is 02:00 that day. */
	ASSERT_INT_EQ(
	    apply(st, NULL, "{\"op\":\"pause\",\"dag_id\":\"etl\",\"paused\":false}", &ans, &err),
	    0);
	ASSERT(json_is_true(json_object_get(ans.body, "was_paused")));
	ASSERT_STR_EQ(json_string_value(json_object_get(ans.body, "next_run")),
		      "2024-03-01T02:00:00.000Z");
	ASSERT_INT_EQ(calls.dag_changed, 1);
	/* What a stored command's result holds, and back. */
	char *text = ops_result_text(&ans, NULL);
	struct ops_answer back;
	ASSERT_INT_EQ(ops_result_parse(text, &back, &err), 0);
	ASSERT_INT_EQ(back.outcome, OPS_DONE);
	ASSERT(json_equal(back.body, ans.body));
	free(text);
	ops_answer_free(&back);
	ops_answer_free(&ans);
	ASSERT_INT_EQ(
	    apply(st, NULL, "{\"op\":\"pause\",\"dag_id\":\"etk\",\"paused\":true}", &ans, &err),
	    -1);
	ASSERT_INT_EQ(err.kind, OPS_NOT_FOUND);
	ASSERT_STR_EQ(err.msg, "no DAG 'etk' (did you mean 'etl'?)");
	text = ops_result_text(&ans, &err);
	struct ops_err err2 = {0};
	ASSERT_INT_EQ(ops_result_parse(text, &back, &err2), -1);
	ASSERT_INT_EQ(err2.kind, OPS_NOT_FOUND);
	ASSERT_STR_EQ(err2.msg, err.msg);
	free(text);
	ops_err_free(&err2);
	ops_err_free(&err);
	store_close(st);
}

TEST(ops_pools_set_and_delete)
{
	struct store *st = etl_store();
	struct calls calls = {0};
	struct ops_live live = {&calls,	  rec_cancel,	   rec_clear,
				rec_mark, rec_dag_changed, rec_pools_changed};
	struct ops_answer ans;
	struct ops_err err = {0};
	ASSERT_INT_EQ(apply(st, &live,
			    "{\"op\":\"pool_set\",\"pool\":\"indexers\",\"slots\":6,"
			    "\"description\":\"the index workers\"}",
			    &ans, &err),
		      0);
	ASSERT(json_is_true(json_object_get(ans.body, "created")));
	ASSERT(json_is_null(json_object_get(ans.body, "old_slots")));
	json_t *p = json_object_get(ans.body, "pool");
	ASSERT_INT_EQ(json_integer_value(json_object_get(p, "slots")), 6);
	ASSERT_STR_EQ(json_string_value(json_object_get(p, "description")), "the index workers");
	ASSERT_INT_EQ(calls.pools_changed, 1);
	ops_answer_free(&ans);
	/* Again: the old slots, the description kept. */
	ASSERT_INT_EQ(
	    apply(st, NULL, "{\"op\":\"pool_set\",\"pool\":\"indexers\",\"slots\":2}", &ans, &err),
	    0);
	ASSERT_INT_EQ(json_integer_value(json_object_get(ans.body, "old_slots")), 6);
	p = json_object_get(ans.body, "pool");
	ASSERT_STR_EQ(json_string_value(json_object_get(p, "description")), "the index workers");
	ops_answer_free(&ans);

	static const struct {
		const char *json;
		enum ops_kind kind;
		const char *msg;
	} bad[] = {
	    {"{\"op\":\"pool_set\",\"pool\":\"a b\",\"slots\":1}", OPS_INVALID,
	     "bad pool name 'a b': use 1 to 100 letters, digits, '_', '-' and '.'"},
	    {"{\"op\":\"pool_set\",\"pool\":\"p\",\"slots\":1000001}", OPS_INVALID,
	     "slots must be a whole number from 0 to 1000000, got 1000001"},
	    {"{\"op\":\"pool_set\",\"pool\":\"p\",\"slots\":\"2\"}", OPS_BAD_REQUEST,
	     "pool_set: 'slots' must be a whole number from 0"},
	    {"{\"op\":\"pool_set\",\"pool\":\"p\"}", OPS_BAD_REQUEST,
	     "pool_set: 'slots' is required"},
	    {"{\"op\":\"pool_delete\",\"pool\":\"indexer\"}", OPS_NOT_FOUND,
	     "no pool 'indexer' (did you mean 'indexers'?)"},
	    {"{\"op\":\"pool_delete\",\"pool\":\"default_pool\"}", OPS_CONFLICT,
	     "default_pool cannot be deleted: it holds the tasks that name no pool; change its "
	     "slots with 'gust pools set default_pool SLOTS'"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ASSERT_INT_EQ(apply(st, &live, bad[i].json, &ans, &err), -1);
		ASSERT_INT_EQ(err.kind, bad[i].kind);
		ASSERT_STR_EQ(err.msg, bad[i].msg);
	}
	ASSERT_INT_EQ(calls.pools_changed, 1);
	ASSERT_INT_EQ(
	    apply(st, &live, "{\"op\":\"pool_delete\",\"pool\":\"indexers\"}", &ans, &err), 0);
	p = json_object_get(ans.body, "pool");
	ASSERT_INT_EQ(json_integer_value(json_object_get(p, "slots")), 2);
	ASSERT_INT_EQ(calls.pools_changed, 2);
	ops_answer_free(&ans);
	struct store_pool gone;
	ASSERT_INT_EQ(store_pool_get(st, "indexers", &gone), -ENOENT);
	ops_err_free(&err);
	store_close(st);
}
