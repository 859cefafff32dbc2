/* Unit tests for http/http_route: table checks, segment matching, parameter decoding and the
 * refusal of traversal attempts. Pure: no server. */
#include <errno.h>

#include "base/util.h"
#include "http/http_route.h"
#include "test.h"

static void h(void *app, struct http_req *rq, struct http_resp *rs)
{
}

/* A table shaped like the API's (DESIGN.md). */
static const struct http_route api[] = {
    {"GET", "/api/v1/health", h, 0, 0},
    {"GET", "/api/v1/dags", h, 0, 0},
    {"GET", "/api/v1/dags/{dag_id}", h, 0, 0},
    {"PATCH", "/api/v1/dags/{dag_id}", h, 0, 0},
    {"DELETE", "/api/v1/dags/{dag_id}", h, 0, 0},
    {"GET", "/api/v1/dags/{dag_id}/source", h, 0, 0},
    {"PUT", "/api/v1/dags/{dag_id}/source", h, 0, 4 << 20},
    {"POST", "/api/v1/dags/validate", h, 0, 0},
    {"POST", "/api/v1/dags/{dag_id}/runs", h, 0, 0},
    {"GET", "/api/v1/runs", h, 0, 0},
    {"GET", "/api/v1/runs/{run_id}", h, 0, 0},
    {"POST", "/api/v1/runs/{run_id}/cancel", h, 0, 0},
    {"GET", "/api/v1/runs/{run_id}/tasks/{task_id}", h, 0, 0},
    {"GET", "/api/v1/runs/{run_id}/tasks/{task_id}/logs", h, 0, 0},
    {"GET", "/", h, 0, 0},
};

static struct http_router *api_router(void)
{
	struct http_router *r = NULL;
	char *msg = NULL;
	if (http_router_new(api, ARRAY_SIZE(api), &r, &msg) != 0)
		test_fail(__FILE__, __LINE__, "router: %s", msg);
	return r;
}

struct m {
	struct arena a;
	struct http_match m;
	enum http_match_status st;
};

static enum http_match_status match(struct m *x, struct http_router *r, const char *method,
				    const char *path)
{
	arena_init(&x->a);
	x->st = http_router_match(r, method, path, &x->a, &x->m);
	return x->st;
}

static const char *param(const struct m *x, const char *name)
{
	return http_kv_find(x->m.params, x->m.n_params, name);
}

TEST(http_route_literal_and_params)
{
	struct http_router *r = api_router();
	struct m x;
	ASSERT_INT_EQ(match(&x, r, "GET", "/api/v1/health"), HTTP_MATCH_OK);
	ASSERT(x.m.route == &api[0]);
	ASSERT_INT_EQ(x.m.n_params, 0);
	arena_free(&x.a);

	ASSERT_INT_EQ(match(&x, r, "GET", "/api/v1/runs/r-17/tasks/extract/logs"), HTTP_MATCH_OK);
	ASSERT(x.m.route == &api[13]);
	ASSERT_INT_EQ(x.m.n_params, 2);
	ASSERT_STR_EQ(param(&x, "run_id"), "r-17");
	ASSERT_STR_EQ(param(&x, "task_id"), "extract");
	arena_free(&x.a);

	ASSERT_INT_EQ(match(&x, r, "GET", "/"), HTTP_MATCH_OK);
	ASSERT(x.m.route == &api[14]);
	arena_free(&x.a);

	/* Parameters are decoded once. */
	ASSERT_INT_EQ(match(&x, r, "GET", "/api/v1/dags/my%20dag"), HTTP_MATCH_OK);
	ASSERT_STR_EQ(param(&x, "dag_id"), "my dag");
	arena_free(&x.a);
	ASSERT_INT_EQ(match(&x, r, "GET", "/api/v1/dags/a+b"), HTTP_MATCH_OK);
	ASSERT_STR_EQ(param(&x, "dag_id"), "a+b"); /* '+' is not a space in a path */
	arena_free(&x.a);
	ASSERT_INT_EQ(match(&x, r, "GET", "/api/v1/dags/%252e%252e"), HTTP_MATCH_OK);
	ASSERT_STR_EQ(param(&x, "dag_id"), "%2e%2e"); /* double encoding stays encoded once */
	arena_free(&x.a);
	ASSERT_INT_EQ(match(&x, r, "GET", "/api/v1/dags/..."), HTTP_MATCH_OK);
	ASSERT_STR_EQ(param(&x, "dag_id"), "...");
	arena_free(&x.a);
	ASSERT_INT_EQ(match(&x, r, "GET", "/api/v1/dags/caf%C3%A9"), HTTP_MATCH_OK);
	ASSERT_STR_EQ(param(&x, "dag_id"), "caf\xc3\xa9");
	arena_free(&x.a);
	/* Literals match decoded too. */
	ASSERT_INT_EQ(match(&x, r, "GET", "/api/v1/d%61gs"), HTTP_MATCH_OK);
	ASSERT(x.m.route == &api[1]);
	arena_free(&x.a);
	http_router_free(r);
}

TEST(http_route_specificity_and_methods)
{
	struct http_router *r = api_router();
	struct m x;
	/* A literal beats a parameter... */
	ASSERT_INT_EQ(match(&x, r, "POST", "/api/v1/dags/validate"), HTTP_MATCH_OK);
	ASSERT(x.m.route == &api[7]);
	arena_free(&x.a);
	/* ...but only for its method: a DAG may be called "validate". */
	ASSERT_INT_EQ(match(&x, r, "GET", "/api/v1/dags/validate"), HTTP_MATCH_OK);
	ASSERT(x.m.route == &api[2]);
	ASSERT_STR_EQ(param(&x, "dag_id"), "validate");
	arena_free(&x.a);
	ASSERT_INT_EQ(match(&x, r, "DELETE", "/api/v1/dags/validate"), HTTP_MATCH_OK);
	ASSERT(x.m.route == &api[4]);
	arena_free(&x.a);
	/* HEAD is served by GET routes. */
	ASSERT_INT_EQ(match(&x, r, "HEAD", "/api/v1/dags/x"), HTTP_MATCH_OK);
	ASSERT(x.m.route == &api[2]);
	arena_free(&x.a);

	/* A known path with another method: 405 and what it allows. */
	char allow[64];
	ASSERT_INT_EQ(match(&x, r, "POST", "/api/v1/dags/x"), HTTP_MATCH_BAD_METHOD);
	ASSERT_STR_EQ(http_method_list(x.m.allow, allow, sizeof(allow)),
		      "GET, HEAD, PATCH, DELETE, OPTIONS");
	arena_free(&x.a);
	ASSERT_INT_EQ(match(&x, r, "PUT", "/api/v1/dags/x"), HTTP_MATCH_BAD_METHOD);
	arena_free(&x.a);
	ASSERT_INT_EQ(match(&x, r, "DELETE", "/api/v1/runs"), HTTP_MATCH_BAD_METHOD);
	ASSERT_STR_EQ(http_method_list(x.m.allow, allow, sizeof(allow)), "GET, HEAD, OPTIONS");
	arena_free(&x.a);
	ASSERT_INT_EQ(match(&x, r, "BREW", "/api/v1/runs"), HTTP_MATCH_BAD_METHOD);
	arena_free(&x.a);
	ASSERT_INT_EQ(match(&x, r, "get", "/api/v1/runs"), HTTP_MATCH_BAD_METHOD);
	arena_free(&x.a);
	ASSERT_INT_EQ(match(&x, r, "OPTIONS", "/api/v1/dags/validate"), HTTP_MATCH_BAD_METHOD);
	ASSERT_STR_EQ(http_method_list(x.m.allow, allow, sizeof(allow)),
		      "GET, HEAD, POST, PATCH, DELETE, OPTIONS");
	arena_free(&x.a);
	http_router_free(r);
}

TEST(http_route_not_found_and_trailing_slash)
{
	struct http_router *r = api_router();
	struct m x;
	const char *missing[] = {
	    "/api/v2/dags",	    "/api/v1",	    "/api/v1/dagsx", "/api/v1/runs/a/b",
	    "/api/v1/runs/a/tasks", "/API/v1/dags", "/favicon.ico"};
	for (size_t i = 0; i < ARRAY_SIZE(missing); i++) {
		if (match(&x, r, "GET", missing[i]) != HTTP_MATCH_NOT_FOUND)
			test_fail(__FILE__, __LINE__, "%s: status %d", missing[i], x.st);
		arena_free(&x.a);
	}
	ASSERT_INT_EQ(match(&x, r, "GET", "/api/v1/dags/"), HTTP_MATCH_NOT_FOUND);
	ASSERT_STR_EQ(x.m.hint, "/api/v1/dags");
	arena_free(&x.a);
	ASSERT_INT_EQ(match(&x, r, "GET", "/api/v1/runs/r1/"), HTTP_MATCH_NOT_FOUND);
	ASSERT_STR_EQ(x.m.hint, "/api/v1/runs/{run_id}");
	arena_free(&x.a);
	ASSERT_INT_EQ(match(&x, r, "GET", "/nothing/"), HTTP_MATCH_NOT_FOUND);
	ASSERT(x.m.hint == NULL);
	arena_free(&x.a);
	/* An encoded slash is not a trailing slash; it is refused as part of the parameter. */
	ASSERT_INT_EQ(match(&x, r, "GET", "/api/v1/runs/r1%2F"), HTTP_MATCH_BAD_PARAM);
	arena_free(&x.a);
	http_router_free(r);
}

TEST(http_route_traversal_refused)
{
	struct http_router *r = api_router();
	struct m x;
	const char *bad[] = {
	    "/api/v1/dags/..",
	    "/api/v1/dags/.",
	    "/api/v1/dags/%2e%2e",
	    "/api/v1/dags/%2E%2e",
	    "/api/v1/dags/.%2e",
	    "/api/v1/dags/%2e",
	    "/api/v1/dags/a%2Fb",
	    "/api/v1/dags/%2Fetc%2Fpasswd",
	    "/api/v1/dags/%2F",
	    "/api/v1/dags/..%2F..%2Fetc",
	    "/api/v1/dags/a%5Cb",
	    "/api/v1/dags/%00",
	    "/api/v1/dags/a%00.yaml",
	    "/api/v1/dags/a%0Ab",
	    "/api/v1/dags/a%0d",
	    "/api/v1/dags/%7f",
	    "/api/v1/runs/../tasks/x/logs",
	    "/api/v1/runs/r/tasks/%2e%2e/logs",
	    "/api/v1/dags//runs",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *method =
		    strstr(bad[i], "/runs") && !strstr(bad[i], "logs") ? "POST" : "GET";
		if (match(&x, r, method, bad[i]) != HTTP_MATCH_BAD_PARAM)
			test_fail(__FILE__, __LINE__, "%s %s: status %d, want BAD_PARAM", method,
				  bad[i], x.st);
		ASSERT(x.m.bad_param && x.m.reason);
		ASSERT_INT_EQ(x.m.n_params, 0);
		arena_free(&x.a);
	}
	ASSERT_INT_EQ(match(&x, r, "GET", "/api/v1/dags/%2e%2e"), HTTP_MATCH_BAD_PARAM);
	ASSERT_STR_EQ(x.m.bad_param, "dag_id");
	ASSERT_STR_CONTAINS(x.m.reason, "'..'");
	arena_free(&x.a);
	ASSERT_INT_EQ(match(&x, r, "POST", "/api/v1/dags//runs"), HTTP_MATCH_BAD_PARAM);
	ASSERT_STR_EQ(x.m.reason, "is empty");
	arena_free(&x.a);
	/* A literal ".." in the middle of the path never climbs to another route. */
	ASSERT_INT_EQ(match(&x, r, "GET", "/api/v1/dags/../source"), HTTP_MATCH_BAD_PARAM);
	arena_free(&x.a);
	ASSERT_INT_EQ(match(&x, r, "GET", "/api/v1/dags/../health"), HTTP_MATCH_NOT_FOUND);
	arena_free(&x.a);
	ASSERT_INT_EQ(match(&x, r, "GET", "/api/v1/x/../health"), HTTP_MATCH_NOT_FOUND);
	arena_free(&x.a);
	http_router_free(r);
}

TEST(http_route_malformed_paths)
{
	struct http_router *r = api_router();
	struct m x;
	const char *bad[] = {"",
			     "api/v1/dags",
			     "http://evil/api/v1/dags",
			     "*",
			     "/api/v1/dags/%zz",
			     "/api/v1/dags/%",
			     "/api/v1/dags/a%2",
			     "/a b",
			     "/a\tb",
			     "/a\x01",
			     "/a\x7f"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (match(&x, r, "GET", bad[i]) != HTTP_MATCH_BAD_PATH)
			test_fail(__FILE__, __LINE__, "\"%s\": status %d, want BAD_PATH", bad[i],
				  x.st);
		ASSERT(x.m.reason != NULL);
		arena_free(&x.a);
	}
	ASSERT_INT_EQ(match(&x, r, "GET", NULL), HTTP_MATCH_BAD_PATH);
	arena_free(&x.a);
	http_router_free(r);
}

TEST(http_route_long_paths)
{
	struct http_router *r = api_router();
	struct m x;
	/* Many segments: no route is that deep, answered without decoding them all. */
	size_t n = 200000;
	char *p = xmalloc(n + 1);
	for (size_t i = 0; i < n; i += 2) {
		p[i] = '/';
		p[i + 1] = 'a';
	}
	p[n] = '\0';
	ASSERT_INT_EQ(match(&x, r, "GET", p), HTTP_MATCH_NOT_FOUND);
	arena_free(&x.a);
	/* One huge parameter: refused as too long. */
	memcpy(p, "/api/v1/dags/", 13);
	memset(p + 13, 'x', n - 13);
	ASSERT_INT_EQ(match(&x, r, "GET", p), HTTP_MATCH_BAD_PARAM);
	ASSERT_STR_EQ(x.m.reason, "is too long");
	arena_free(&x.a);
	/* At the limit it is accepted. */
	p[13 + HTTP_MAX_PARAM_LEN] = '\0';
	ASSERT_INT_EQ(match(&x, r, "GET", p), HTTP_MATCH_OK);
	ASSERT_INT_EQ(strlen(param(&x, "dag_id")), HTTP_MAX_PARAM_LEN);
	arena_free(&x.a);
	free(p);
	http_router_free(r);
}

static const char *table_err(const struct http_route *t, size_t n)
{
	static char buf[512];
	struct http_router *r = (struct http_router *)1;
	char *msg = NULL;
	if (http_router_new(t, n, &r, &msg) != -EINVAL || !msg)
		test_fail(__FILE__, __LINE__, "table should be refused");
	if (r != (struct http_router *)1)
		test_fail(__FILE__, __LINE__, "router set on failure");
	snprintf(buf, sizeof(buf), "%s", msg);
	free(msg);
	return buf;
}

TEST(http_route_table_checks)
{
	struct http_route t[2] = {{"GET", "/a/{x}", h, 0, 0}, {"GET", "/a/{y}", h, 0, 0}};
	ASSERT_STR_CONTAINS(table_err(t, 2),
			    "route 1 (GET /a/{y}): same method and shape as route 0");
	t[1] = (struct http_route){"GET", "/a/{x}/b/{x}", h, 0, 0};
	ASSERT_STR_CONTAINS(table_err(t, 2), "twice");
	t[1] = (struct http_route){"GET", "a/b", h, 0, 0};
	ASSERT_STR_CONTAINS(table_err(t, 2), "start with '/'");
	t[1] = (struct http_route){"GET", "/a/b/", h, 0, 0};
	ASSERT_STR_CONTAINS(table_err(t, 2), "trailing");
	t[1] = (struct http_route){"GET", "/a//b", h, 0, 0};
	ASSERT_STR_CONTAINS(table_err(t, 2), "empty segment");
	t[1] = (struct http_route){"GET", "/a/x{y}", h, 0, 0};
	ASSERT_STR_CONTAINS(table_err(t, 2), "literal segment");
	t[1] = (struct http_route){"GET", "/a/{Y}", h, 0, 0};
	ASSERT_STR_CONTAINS(table_err(t, 2), "[a-z_]");
	t[1] = (struct http_route){"GET", "/a/{}", h, 0, 0};
	ASSERT_STR_CONTAINS(table_err(t, 2), "[a-z_]");
	t[1] = (struct http_route){"GET", "/a/%2F", h, 0, 0};
	ASSERT_STR_CONTAINS(table_err(t, 2), "literal segment");
	t[1] = (struct http_route){"GET", "/a/..", h, 0, 0};
	ASSERT_STR_CONTAINS(table_err(t, 2), "'.' or '..'");
	t[1] = (struct http_route){"HEAD", "/b", h, 0, 0};
	ASSERT_STR_CONTAINS(table_err(t, 2), "answered by the transport");
	t[1] = (struct http_route){"FETCH", "/b", h, 0, 0};
	ASSERT_STR_CONTAINS(table_err(t, 2), "the method must be");
	t[1] = (struct http_route){"GET", "/b", NULL, 0, 0};
	ASSERT_STR_CONTAINS(table_err(t, 2), "no handler");
	t[1] = (struct http_route){"GET", NULL, h, 0, 0};
	ASSERT_STR_CONTAINS(table_err(t, 2), "(GET (null))");

	/* Same shape, other method; or another literal: fine. */
	struct http_route ok[] = {{"GET", "/a/{x}", h, 0, 0},
				  {"PUT", "/a/{y}", h, 0, 0},
				  {"GET", "/a/b", h, 0, 0},
				  {"GET", "/{z}/b", h, 0, 0}};
	struct http_router *r;
	char *msg = NULL;
	ASSERT_INT_EQ(http_router_new(ok, ARRAY_SIZE(ok), &r, &msg), 0);
	ASSERT_INT_EQ(http_router_count(r), 4);
	ASSERT(http_router_at(r, 3) == &ok[3]);
	ASSERT(http_router_at(r, 4) == NULL);
	/* "/a/b" vs "/{z}/b" vs "/a/{x}": the literal at the first difference wins. */
	struct m x;
	ASSERT_INT_EQ(match(&x, r, "GET", "/a/b"), HTTP_MATCH_OK);
	ASSERT(x.m.route == &ok[2]);
	arena_free(&x.a);
	ASSERT_INT_EQ(match(&x, r, "GET", "/q/b"), HTTP_MATCH_OK);
	ASSERT(x.m.route == &ok[3]);
	arena_free(&x.a);
	ASSERT_INT_EQ(match(&x, r, "GET", "/a/c"), HTTP_MATCH_OK);
	ASSERT(x.m.route == &ok[0]);
	arena_free(&x.a);
	http_router_free(r);
}

TEST(http_route_table_listing)
{
	struct http_router *r = api_router();
	ASSERT_INT_EQ(http_router_count(r), ARRAY_SIZE(api));
	for (size_t i = 0; i < ARRAY_SIZE(api); i++) {
		ASSERT_STR_EQ(http_router_at(r, i)->pattern, api[i].pattern);
		ASSERT_STR_EQ(http_router_at(r, i)->method, api[i].method);
	}
	http_router_free(r);
	ASSERT_INT_EQ(http_method_bit("PATCH"), HTTP_PATCH);
	ASSERT_INT_EQ(http_method_bit("patch"), 0);
	ASSERT_INT_EQ(http_method_bit(NULL), 0);
}

TEST(http_param_check_rules)
{
	ASSERT(http_param_check("ok", 2) == NULL);
	ASSERT(http_param_check("a.b", 3) == NULL);
	ASSERT(http_param_check("..a", 3) == NULL);
	ASSERT_STR_EQ(http_param_check("", 0), "is empty");
	ASSERT(http_param_check(".", 1) != NULL);
	ASSERT(http_param_check("..", 2) != NULL);
	ASSERT(http_param_check("a/b", 3) != NULL);
	ASSERT(http_param_check("a\\b", 3) != NULL);
	ASSERT(http_param_check("a\0b", 3) != NULL);
	ASSERT(http_param_check("a\tb", 3) != NULL);
}
