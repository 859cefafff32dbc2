/*
 * api_util.c - what every route uses to read a request and to answer (see api_int.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/util.h"

void api_ops_problem(struct http_resp *rs, const struct ops_err *err)
{
	int status = ops_http_status(err->kind);
	static const char *const titles[] = {
	    [OPS_BAD_REQUEST] = "Bad request",	 [OPS_NOT_FOUND] = "Not found",
	    [OPS_CONFLICT] = "Conflict",	 [OPS_INVALID] = "Unprocessable",
	    [OPS_INTERNAL] = "Internal error",
	};
	const char *title = (size_t)err->kind < ARRAY_SIZE(titles) && titles[err->kind]
				? titles[err->kind]
				: "Error";
	/* An internal error's sentence may name what failed inside; the client gets a fixed one
	 * (the server's log has the rest). */
	const char *detail = status >= 500 ? "the server could not do it; its log says why"
					   : err->msg;
	http_problem(rs, status, ops_kind_slug(err->kind), title, detail);
}

void api_answer(struct http_resp *rs, const struct ops_answer *ans, int status)
{
	json_t *o = json_is_object(ans->body) ? json_deep_copy(ans->body) : json_object();
	json_object_set_new(o, "outcome", json_string(ops_outcome_name(ans->outcome)));
	http_json(rs, status, o);
}

int api_query_bool(const struct http_req *rq, struct http_resp *rs, const char *key, int *ret)
{
	const char *v = http_req_query(rq, key);
	if (!v)
		return 0;
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || *v == '\0') {
		*ret = 1;
	} else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
		*ret = 0;
	} else {
		http_problem(rs, 400, HTTP_P_BAD_QUERY, "Bad query",
			     "a boolean query parameter is true or false");
		return -1;
	}
	return 0;
}

int api_query_int(const struct http_req *rq, struct http_resp *rs, const char *key, int64_t min,
		  int64_t max, int64_t *ret)
{
	const char *v = http_req_query(rq, key);
	if (!v)
		return 0;
	char *end = NULL;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (!*v || *end || errno || x < min || x > max) {
		char *d = xasprintf("'%s' is a whole number from %" PRId64 " to %" PRId64, key,
				    min, max);
		http_problem(rs, 400, HTTP_P_BAD_QUERY, "Bad query", d);
		free(d);
		return -1;
	}
	*ret = x;
	return 0;
}

bool api_query_only(const struct http_req *rq, struct http_resp *rs, const char *const *known)
{
	for (size_t i = 0; i < rq->n_query; i++) {
		bool ok = false;
		for (const char *const *k = known; *k && !ok; k++)
			ok = strcmp(*k, rq->query[i].name) == 0;
		if (!ok) {
			char *d = xasprintf("unknown query parameter '%s'", rq->query[i].name);
			http_problem(rs, 400, HTTP_P_BAD_QUERY, "Bad query", d);
			free(d);
			return false;
		}
	}
	return true;
}

json_t *api_body_object(const struct http_req *rq, struct http_resp *rs, const char *const *known,
			bool empty_ok)
{
	if (rq->body_len == 0 && empty_ok)
		return json_object();
	json_t *j = http_req_json(rq, rs);
	if (!j)
		return NULL;
	if (!json_is_object(j)) {
		json_decref(j);
		http_problem(rs, 422, "invalid-body", "Invalid body", "the body is a JSON object");
		return NULL;
	}
	const char *key;
	json_t *v;
	json_object_foreach(j, key, v)
	{
		bool ok = false;
		for (const char *const *k = known; *k && !ok; k++)
			ok = strcmp(*k, key) == 0;
		if (!ok) {
			char *d = xasprintf("unknown field '%s'", key);
			http_problem(rs, 422, "invalid-body", "Invalid body", d);
			free(d);
			json_decref(j);
			return NULL;
		}
	}
	return j;
}

void api_json_etag(const struct http_req *rq, struct http_resp *rs, json_t *j)
{
	http_json(rs, 200, j);
	http_etag(rq, rs);
}
