/*
 * api_dags.c - the routes of DAGs: the listing, one DAG, its source, pause, and trigger
 * (docs/api.md "DAGs").
 */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/util.h"
#include "ops/identity.h"
#include "ops/shape.h"

/* GET /api/v1/dags?paused=&broken=&tag=&search= */
void api_get_dags(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"paused", "broken", "tag", "search", NULL};
	if (!api_query_only(rq, rs, known))
		return;
	struct ops_dag_query q = OPS_DAG_QUERY_ALL;
	if (api_query_bool(rq, rs, "paused", &q.paused) < 0 ||
	    api_query_bool(rq, rs, "broken", &q.broken) < 0)
		return;
	q.tag = http_req_query(rq, "tag");
	q.search = http_req_query(rq, "search");
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	struct ops_ctx c = api_ctx(a, st);
	struct ops_err err = {0};
	json_t *list = NULL;
	if (ops_dag_list(&c, &q, &list, &err) < 0)
		api_ops_problem(rs, &err);
	else
		api_json_etag(rq, rs, json_pack("{s:o}", "dags", list));
	ops_err_free(&err);
	api_store_put(a, st);
}

/* GET /api/v1/dags/{dag_id} */
void api_get_dag(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {NULL};
	if (!api_query_only(rq, rs, known))
		return;
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	struct ops_ctx c = api_ctx(a, st);
	struct ops_err err = {0};
	json_t *d = NULL;
	if (ops_dag_show(&c, http_req_param(rq, "dag_id"), &d, &err) < 0)
		api_ops_problem(rs, &err);
	else
		api_json_etag(rq, rs, d);
	ops_err_free(&err);
	api_store_put(a, st);
}

/* GET /api/v1/dags/{dag_id}/source?version=N: the YAML as it was loaded. */
void api_get_dag_source(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"version", NULL};
	if (!api_query_only(rq, rs, known))
		return;
	int64_t version = 0;
	if (api_query_int(rq, rs, "version", 1, INT64_MAX, &version) < 0)
		return;
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	struct ops_err err = {0};
	char *src = NULL;
	int64_t v = 0;
	if (ops_dag_source(st, http_req_param(rq, "dag_id"), version, &src, &v, &err) < 0) {
		api_ops_problem(rs, &err);
	} else {
		char vtext[24];
		snprintf(vtext, sizeof(vtext), "%lld", (long long)v);
		http_body_take(rs, 200, "application/yaml; charset=utf-8", src, strlen(src));
		http_header(rs, "X-Gust-Dag-Version", vtext);
		http_etag(rq, rs);
	}
	ops_err_free(&err);
	api_store_put(a, st);
}

/* PATCH /api/v1/dags/{dag_id} {"paused": bool}: applied in the loop, as `gust dags pause`. */
void api_patch_dag(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"paused", NULL};
	json_t *body = api_body_object(rq, rs, known, false);
	if (!body)
		return;
	json_t *paused = json_object_get(body, "paused");
	if (!json_is_boolean(paused)) {
		http_problem(rs, 422, "invalid-body", "Invalid body",
			     "'paused' (true or false) is required");
		json_decref(body);
		return;
	}
	struct ops_req req = {.op = OPS_PAUSE,
			      .dag_id = xstrdup(http_req_param(rq, "dag_id")),
			      .paused = json_is_true(paused),
			      .map_index = -1,
			      .who = xstrdup("the API")};
	json_decref(body);
	api_submit(app, rq, rs, &req, 200);
}

/* POST /api/v1/dags/{dag_id}/runs {"params": {...}, "logical_date": "...", "note": "..."}: a
 * manual run,
 * its params checked as `gust dags trigger` checks them. 201 with the run. */
void api_post_dag_runs(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"params", "logical_date", "note", NULL};
	json_t *body = api_body_object(rq, rs, known, true);
	if (!body)
		return;
	json_t *params = json_object_get(body, "params");
	json_t *logical = json_object_get(body, "logical_date");
	json_t *note = json_object_get(body, "note");
	struct ops_trigger_req treq = {.dag_id = http_req_param(rq, "dag_id"), .params = params};
	if (params && !json_is_object(params)) {
		http_problem(rs, 422, "invalid-body", "Invalid body", "'params' is a JSON object");
		goto out;
	}
	if (note && !json_is_null(note) && !json_is_string(note)) {
		http_problem(rs, 422, "invalid-body", "Invalid body", "'note' is a string");
		goto out;
	}
	treq.note = json_string_value(note);
	if (logical && !json_is_null(logical) &&
	    (ops_time_parse(logical, &treq.logical_date) < 0 || !treq.logical_date)) {
		http_problem(rs, 422, "invalid-body", "Invalid body",
			     "'logical_date' is a UTC time like 2024-03-01T00:00:00.000Z");
		goto out;
	}
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st)
		goto out;
	struct ops_ctx c = api_ctx(a, st);
	struct ops_err err = {0};
	struct ops_trigger_ans ans = {0};
	if (ops_trigger(&c, &treq, &ans, &err) < 0) {
		api_ops_problem(rs, &err);
	} else {
		api_poke(a); /* the loop takes the queued run now, not at its next look */
		struct ops_actor actor = api_actor(rq);
		ops_audit_trigger(st, c.now, &actor, treq.dag_id, ans.run_id);
		struct store_run run = {0};
		if (store_run_get(st, ans.run_id, &run) == 0) {
			json_t *j = ops_run_json(&run, c.now);
			store_run_free(&run);
			char *loc = xasprintf("/api/v1/runs/%s", ans.run_id);
			http_json(rs, 201, j);
			http_header(rs, "Location", loc);
			free(loc);
		} else {
			http_error(rs, 500, "the run was queued but cannot be read back");
		}
		ops_trigger_ans_free(&ans);
	}
	ops_err_free(&err);
	api_store_put(a, st);
out:
	json_decref(body);
}

/* ---- deploys ----------------------------------------------------------------------------- */

/* How long a deploy waits for the server to load the file it wrote before answering 202. */
#define DEPLOY_WAIT_MS 10000

/* The body is a YAML file: refuse a form or JSON (a client that forgot the header). */
static bool yaml_body(const struct http_req *rq, struct http_resp *rs)
{
	const char *ct = http_req_header(rq, "Content-Type");
	static const char *const ok[] = {"application/yaml", "application/x-yaml", "text/yaml",
					 "text/x-yaml", "text/plain"};
	for (size_t i = 0; ct && i < ARRAY_SIZE(ok); i++) {
		size_t n = strlen(ok[i]);
		if (strncasecmp(ct, ok[i], n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
			return true;
	}
	http_problem(rs, 415, HTTP_P_MEDIA_TYPE, "Unsupported media type",
		     "send the DAG file as Content-Type: application/yaml");
	return false;
}

static void invalid_dag(struct http_resp *rs, const struct ops_err *err, json_t *errors)
{
	http_problem_ext(rs, 422, "invalid-dag", "Invalid DAG file", err->msg,
			 json_pack("{s:o}", "errors", errors ? errors : json_array()));
}

/* POST /api/v1/dags/validate: check a file without deploying it. */
void api_post_dags_validate(void *app, struct http_req *rq, struct http_resp *rs)
{
	(void)app;
	static const char *const known[] = {"name", NULL};
	if (!api_query_only(rq, rs, known) || !yaml_body(rq, rs))
		return;
	const char *name = http_req_query(rq, "name");
	struct ops_err err = {0};
	json_t *errors = NULL;
	if (ops_dag_validate(name && *name ? name : "dag.yaml", rq->body, rq->body_len, NULL,
			     &errors, &err) < 0)
		invalid_dag(rs, &err, errors);
	else
		http_json(rs, 200, json_pack("{s:b, s:[]}", "valid", 1, "errors"));
	ops_err_free(&err);
}

/* PUT /api/v1/dags/{dag_id}/source: the deploy. Checked whole first (422 with every located
 * error, nothing written), then written atomically into the DAG folder; the answer waits
 * until the server has loaded it and names the new version. */
void api_put_dag_source(void *app, struct http_req *rq, struct http_resp *rs)
{
	struct api *a = app;
	static const char *const known[] = {NULL};
	if (!api_query_only(rq, rs, known) || !yaml_body(rq, rs))
		return;
	if (!a->opts.dags_dir) {
		http_error(rs, 409, "this server has no DAG folder to deploy into");
		return;
	}
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	const char *dag_id = http_req_param(rq, "dag_id");
	struct ops_err err = {0};
	struct ops_deploy_ans ans;
	json_t *errors = NULL;
	if (ops_dag_deploy(st, a->opts.dags_dir, dag_id, rq->body, rq->body_len, &ans, &errors,
			   &err) < 0) {
		if (errors)
			invalid_dag(rs, &err, errors);
		else
			api_ops_problem(rs, &err);
	} else {
		struct ops_actor actor = api_actor(rq);
		json_t *detail = json_pack("{s:s}", "hash", ans.hash);
		ops_audit_add(st, NULL, api_now(a), &actor, "dag.deploy",
			      dag_id, detail);
		json_decref(detail);
		api_wait_deploy(a, rs, dag_id, ans.hash, ans.file, DEPLOY_WAIT_MS);
		free(ans.file);
	}
	ops_err_free(&err);
	api_store_put(a, st);
}

/* DELETE /api/v1/dags/{dag_id}: its file leaves the DAG folder; its history stays. */
void api_delete_dag(void *app, struct http_req *rq, struct http_resp *rs)
{
	struct api *a = app;
	static const char *const known[] = {NULL};
	if (!api_query_only(rq, rs, known))
		return;
	if (!a->opts.dags_dir) {
		http_error(rs, 409, "this server has no DAG folder");
		return;
	}
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	struct ops_err err = {0};
	char *file = NULL;
	const char *dag_id = http_req_param(rq, "dag_id");
	if (ops_dag_remove(st, a->opts.dags_dir, dag_id, &file, &err) < 0)
		api_ops_problem(rs, &err);
	else {
		struct ops_actor actor = api_actor(rq);
		ops_audit_add(st, NULL, api_now(a), &actor, "dag.delete",
			      dag_id, NULL);
		http_json(rs, 200, json_pack("{s:s, s:s, s:b}", "outcome", "done", "dag_id", dag_id,
					     "removed", 1));
	}
	free(file);
	ops_err_free(&err);
	api_store_put(a, st);
}
