/*
 * api_runs.c - the routes of runs: the listing by keyset pages, one run, cancel (docs/api.md
 * "Runs").
 */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/util.h"
#include "ops/shape.h"

/* The most runs a page holds, and how many when not asked. */
#define RUNS_PAGE_MAX 500
#define RUNS_PAGE_DEFAULT 100

/* GET /api/v1/runs?dag_id=&state=&limit=&cursor= */
void api_get_runs(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"dag_id", "state", "limit", "cursor", NULL};
	if (!api_query_only(rq, rs, known))
		return;
	int64_t limit = RUNS_PAGE_DEFAULT;
	if (api_query_int(rq, rs, "limit", 1, RUNS_PAGE_MAX, &limit) < 0)
		return;
	struct ops_run_query q = {.dag_id = http_req_query(rq, "dag_id"),
				  .state = http_req_query(rq, "state"),
				  .limit = (size_t)limit,
				  .cursor = http_req_query(rq, "cursor")};
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	int64_t now = api_ctx(a, st).now;
	struct ops_err err = {0};
	struct ops_run_page page;
	if (ops_run_list(st, &q, &page, &err) < 0) {
		api_ops_problem(rs, &err);
	} else {
		json_t *runs = json_array();
		for (size_t i = 0; i < page.n; i++)
			json_array_append_new(runs, ops_run_json(&page.runs[i], now));
		api_json_etag(rq, rs,
			      json_pack("{s:o, s:o}", "runs", runs, "next_cursor",
					page.next_cursor ? json_string(page.next_cursor)
							 : json_null()));
		ops_run_page_free(&page);
	}
	ops_err_free(&err);
	api_store_put(a, st);
}

/* GET /api/v1/runs/{run_id}: the run and how many of its instances are in each state. */
void api_get_run(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {NULL};
	if (!api_query_only(rq, rs, known))
		return;
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	int64_t now = api_ctx(a, st).now;
	struct ops_err err = {0};
	struct store_run run = {0};
	struct store_ti *tis = NULL;
	size_t n = 0;
	if (ops_get_run(st, http_req_param(rq, "run_id"), &run, &err) < 0) {
		api_ops_problem(rs, &err);
	} else {
		if (ops_ti_rows(st, run.run_id, &tis, &n, &err) < 0) {
			api_ops_problem(rs, &err);
		} else {
			json_t *j = ops_run_with_tis_json(&run, tis, n, now);
			json_object_del(j, "tasks"); /* GET .../tasks pages them */
			api_json_etag(rq, rs, j);
			ops_ti_rows_free(tis, n);
		}
		store_run_free(&run);
	}
	ops_err_free(&err);
	api_store_put(a, st);
}

/* POST /api/v1/runs/{run_id}/cancel: 202 while its tasks stop, 200 when it ended at once. */
void api_post_run_cancel(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {NULL};
	json_t *body = api_body_object(rq, rs, known, true);
	if (!body)
		return;
	json_decref(body);
	struct ops_req req = {.op = OPS_CANCEL,
			      .run_id = xstrdup(http_req_param(rq, "run_id")),
			      .map_index = -1,
			      .who = xstrdup("the API")};
	api_submit(app, rq, rs, &req, 200);
}
