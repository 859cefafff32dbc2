/*
 * api_tasks.c - the routes of task instances: a run's instances (mapped tasks grouped), one
 * instance with its tries, clear and mark (docs/api.md "Task instances").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/util.h"
#include "ops/shape.h"

#define INSTANCES_PAGE_MAX 500
#define INSTANCES_PAGE_DEFAULT 100

/* The instances of one task of the run, by map_index, a page after `after`. */
static json_t *instances_page(const struct store_ti *tis, size_t n, const char *task_id,
			      int64_t after, int64_t limit, int64_t now, bool *ret_found)
{
	json_t *arr = json_array();
	json_t *next = json_null();
	*ret_found = false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(tis[i].task_id, task_id) != 0)
			continue;
		*ret_found = true;
		if (tis[i].map_index <= after)
			continue;
		if ((int64_t)json_array_size(arr) == limit) {
			char c[32];
			snprintf(c, sizeof(c), "m%d", tis[i - 1].map_index);
			json_decref(next);
			next = json_string(c);
			break;
		}
		json_array_append_new(arr, ops_ti_json(&tis[i], now));
	}
	return json_pack("{s:o, s:o}", "tasks", arr, "next_cursor", next);
}

/* GET /api/v1/runs/{run_id}/tasks[?task_id=X&limit=&cursor=] */
void api_get_run_tasks(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"task_id", "limit", "cursor", NULL};
	if (!api_query_only(rq, rs, known))
		return;
	const char *task_id = http_req_query(rq, "task_id");
	const char *cursor = http_req_query(rq, "cursor");
	int64_t limit = INSTANCES_PAGE_DEFAULT, after = -1;
	if (api_query_int(rq, rs, "limit", 1, INSTANCES_PAGE_MAX, &limit) < 0)
		return;
	if ((cursor || http_req_query(rq, "limit")) && !task_id) {
		http_problem(rs, 400, HTTP_P_BAD_QUERY, "Bad query",
			     "limit and cursor page the instances of one task: add task_id");
		return;
	}
	if (cursor) {
		char *end = NULL;
		long long m = cursor[0] == 'm' ? strtoll(cursor + 1, &end, 10) : -1;
		if (!end || *end || m < 0 || m > INT32_MAX) {
			http_problem(rs, 400, HTTP_P_BAD_QUERY, "Bad query",
				     "bad cursor: pass the next_cursor of the page before, unchanged");
			return;
		}
		after = m;
	}
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	int64_t now = api_ctx(a, st).now;
	struct ops_err err = {0};
	struct store_run run = {0};
	struct store_ti *tis = NULL;
	size_t n = 0;
	if (ops_get_run(st, http_req_param(rq, "run_id"), &run, &err) < 0 ||
	    ops_ti_rows(st, http_req_param(rq, "run_id"), &tis, &n, &err) < 0) {
		api_ops_problem(rs, &err);
	} else if (!task_id) {
		api_json_etag(rq, rs, json_pack("{s:o}", "tasks", ops_ti_groups_json(tis, n, now)));
	} else {
		bool found;
		json_t *page = instances_page(tis, n, task_id, after, limit, now, &found);
		if (found) {
			api_json_etag(rq, rs, page);
		} else {
			json_decref(page);
			char *d = xasprintf("run %s has no task '%s'", run.run_id, task_id);
			http_problem(rs, 404, "not-found", "Not found", d);
			free(d);
		}
	}
	if (run.run_id)
		store_run_free(&run);
	ops_ti_rows_free(tis, n);
	ops_err_free(&err);
	api_store_put(a, st);
}

/* ?map_index=N (absent: -1, an unmapped task) */
static bool map_index_of(const struct http_req *rq, struct http_resp *rs, int32_t *ret)
{
	int64_t m = -1;
	if (api_query_int(rq, rs, "map_index", 0, INT32_MAX, &m) < 0)
		return false;
	*ret = (int32_t)m;
	return true;
}

/* GET /api/v1/runs/{run_id}/tasks/{task_id}?map_index=N: the instance and every try. */
void api_get_task(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"map_index", NULL};
	int32_t map_index;
	if (!api_query_only(rq, rs, known) || !map_index_of(rq, rs, &map_index))
		return;
	const char *run_id = http_req_param(rq, "run_id"), *task_id = http_req_param(rq, "task_id");
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	int64_t now = api_ctx(a, st).now;
	struct ops_err err = {0};
	struct store_run run = {0};
	struct store_ti ti;
	if (ops_get_run(st, run_id, &run, &err) < 0) {
		api_ops_problem(rs, &err);
	} else {
		int e = store_ti_get(st, run_id, task_id, map_index, &ti);
		if (e == -ENOENT) {
			char *d = map_index >= 0 ? xasprintf("run %s has no instance %s[%d]", run_id,
							     task_id, map_index)
						 : xasprintf("run %s has no task '%s' (a mapped "
							     "task's instances need ?map_index=N)",
							     run_id, task_id);
			http_problem(rs, 404, "not-found", "Not found", d);
			free(d);
		} else if (e < 0) {
			http_error(rs, 500, NULL);
		} else {
			json_t *j = ops_ti_json(&ti, now);
			struct store_attempt *at = NULL;
			size_t na = 0;
			json_t *tries = json_array();
			if (store_attempt_list(st, run_id, task_id, map_index, &at, &na) == 0) {
				for (size_t i = 0; i < na; i++) {
					json_array_append_new(tries, ops_try_json(&at[i]));
					store_attempt_free(&at[i]);
				}
				free(at);
			}
			json_object_set_new(j, "tries", tries);
			api_json_etag(rq, rs, j);
			store_ti_free(&ti);
		}
		store_run_free(&run);
	}
	ops_err_free(&err);
	api_store_put(a, st);
}

/* The request of a clear or a mark from the path, ?map_index and the body's fields. */
static bool task_req(struct http_req *rq, struct http_resp *rs, enum ops_op op, json_t *body,
		     struct ops_req *ret)
{
	int32_t map_index;
	if (!map_index_of(rq, rs, &map_index))
		return false;
	*ret = (struct ops_req){.op = op,
				.run_id = xstrdup(http_req_param(rq, "run_id")),
				.task_id = xstrdup(http_req_param(rq, "task_id")),
				.map_index = map_index,
				.who = xstrdup("the API")};
	const char *bad = NULL;
	if (op == OPS_CLEAR) {
		json_t *down = json_object_get(body, "downstream"), *dry = json_object_get(body, "dry_run");
		if ((down && !json_is_boolean(down)) || (dry && !json_is_boolean(dry)))
			bad = "'downstream' and 'dry_run' are true or false";
		ret->downstream = json_is_true(down);
		ret->dry_run = json_is_true(dry);
	} else {
		const char *state = json_string_value(json_object_get(body, "state"));
		if (!state || (strcmp(state, "success") != 0 && strcmp(state, "failed") != 0))
			bad = "'state' is \"success\" or \"failed\"";
		ret->success = state && strcmp(state, "success") == 0;
	}
	if (bad) {
		http_problem(rs, 422, "invalid-body", "Invalid body", bad);
		ops_req_free(ret);
		return false;
	}
	return true;
}

/* POST .../tasks/{task_id}/clear {"downstream", "dry_run"}: it (and what follows) runs again;
 * a dry run answers what would. */
void api_post_task_clear(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"downstream", "dry_run", NULL};
	static const char *const query[] = {"map_index", NULL};
	if (!api_query_only(rq, rs, query))
		return;
	json_t *body = api_body_object(rq, rs, known, true);
	struct ops_req req;
	if (body && task_req(rq, rs, OPS_CLEAR, body, &req))
		api_submit(app, rq, rs, &req, 200);
	json_decref(body);
}

/* POST .../tasks/{task_id}/mark {"state": "success"|"failed"} */
void api_post_task_mark(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"state", NULL};
	static const char *const query[] = {"map_index", NULL};
	if (!api_query_only(rq, rs, query))
		return;
	json_t *body = api_body_object(rq, rs, known, false);
	struct ops_req req;
	if (body && task_req(rq, rs, OPS_MARK, body, &req))
		api_submit(app, rq, rs, &req, 200);
	json_decref(body);
}

/* GET .../tasks/{task_id}/why?map_index=N: why it is not running now, with the numbers behind
 * each reason (server/why.h), answered by the loop that holds the compiled DAGs and limits. */
void api_get_task_why(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"map_index", NULL};
	int64_t m = -2; /* not given: why says whether the task needs one */
	if (!api_query_only(rq, rs, known) || api_query_int(rq, rs, "map_index", 0, INT32_MAX, &m) < 0)
		return;
	api_submit_why(app, rs, http_req_param(rq, "run_id"), http_req_param(rq, "task_id"),
		       (int32_t)m);
}
