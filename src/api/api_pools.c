/*
 * api_pools.c - the routes of pools: the listing, one pool, set and delete (docs/api.md
 * "Pools").
 */
#include <errno.h>
#include <stdlib.h>

#include "api/api_int.h"
#include "base/util.h"
#include "ops/shape.h"

/* GET /api/v1/pools: every pool, with what uses it now. */
void api_get_pools(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {NULL};
	if (!api_query_only(rq, rs, known))
		return;
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	struct store_pool *ps = NULL;
	size_t n = 0;
	if (store_pool_list(st, &ps, &n) < 0) {
		http_error(rs, 500, NULL);
	} else {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			json_array_append_new(arr, ops_pool_json(&ps[i]));
			store_pool_free(&ps[i]);
		}
		free(ps);
		api_json_etag(rq, rs, json_pack("{s:o}", "pools", arr));
	}
	api_store_put(a, st);
}

/* GET /api/v1/pools/{name} */
void api_get_pool(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {NULL};
	if (!api_query_only(rq, rs, known))
		return;
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	struct store_pool p;
	int e = store_pool_get(st, http_req_param(rq, "name"), &p);
	if (e == -ENOENT) {
		http_problem(rs, 404, "not-found", "Not found", "no such pool");
	} else if (e < 0) {
		http_error(rs, 500, NULL);
	} else {
		api_json_etag(rq, rs, ops_pool_json(&p));
		store_pool_free(&p);
	}
	api_store_put(a, st);
}

/* PUT /api/v1/pools/{name} {"slots": N, "description": "..."}: create or resize. */
void api_put_pool(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"slots", "description", NULL};
	json_t *body = api_body_object(rq, rs, known, false);
	if (!body)
		return;
	json_t *slots = json_object_get(body, "slots"), *desc = json_object_get(body, "description");
	if (!json_is_integer(slots) || json_integer_value(slots) < 0 ||
	    json_integer_value(slots) > STORE_POOL_SLOTS_MAX) {
		http_error(rs, 422, "'slots' is a whole number from 0 to %d", STORE_POOL_SLOTS_MAX);
		json_decref(body);
		return;
	}
	if (desc && !json_is_string(desc) && !json_is_null(desc)) {
		http_problem(rs, 422, "invalid-body", "Invalid body", "'description' is a string");
		json_decref(body);
		return;
	}
	struct ops_req req = {.op = OPS_POOL_SET,
			      .pool = xstrdup(http_req_param(rq, "name")),
			      .slots = (int32_t)json_integer_value(slots),
			      .description = json_is_string(desc) ? xstrdup(json_string_value(desc))
								  : NULL,
			      .map_index = -1,
			      .who = xstrdup("the API")};
	json_decref(body);
	api_submit(app, rq, rs, &req, 200);
}

/* DELETE /api/v1/pools/{name} */
void api_delete_pool(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {NULL};
	if (!api_query_only(rq, rs, known))
		return;
	struct ops_req req = {.op = OPS_POOL_DELETE,
			      .pool = xstrdup(http_req_param(rq, "name")),
			      .map_index = -1,
			      .who = xstrdup("the API")};
	api_submit(app, rq, rs, &req, 200);
}
