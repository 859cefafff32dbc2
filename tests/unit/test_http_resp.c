/* Unit tests for http/http_resp: problem details, JSON bodies, headers, entity tags and SSE
 * formatting, on responses built without a server. */
#include <errno.h>
#include <jansson.h>

#include "http/http.h"
#include "test.h"

static json_t *body_json(const struct http_resp *rs)
{
	size_t n;
	const char *b = http_resp_body(rs, &n);
	json_error_t e;
	json_t *j = json_loadb(b, n, 0, &e);
	if (!j)
		test_fail(__FILE__, __LINE__, "body is not JSON (%s): %s", e.text, b);
	return j;
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

TEST(http_problem_shape)
{
	struct http_resp *rs = http_resp_new();
	ASSERT_INT_EQ(http_resp_status(rs), 0);
	http_problem(rs, 409, "run-active", "Run still active", "Run r-1 is running.");
	ASSERT_INT_EQ(http_resp_status(rs), 409);
	ASSERT_STR_EQ(http_resp_header(rs, "content-type"), "application/problem+json");
	json_t *j = body_json(rs);
	ASSERT_INT_EQ(json_object_size(j), 4);
	ASSERT_STR_EQ(jstr(j, "type"), "https://gust.dev/problems/run-active");
	ASSERT_STR_EQ(jstr(j, "title"), "Run still active");
	ASSERT_INT_EQ(json_integer_value(json_object_get(j, "status")), 409);
	ASSERT_STR_EQ(jstr(j, "detail"), "Run r-1 is running.");
	json_decref(j);

	/* Without detail; extra members never override the standard four. */
	http_problem_ext(rs, 422, "invalid-params", "Invalid parameters", NULL,
			 json_pack("{s:[s], s:s, s:i}", "errors", "workers: not an integer", "type",
				   "evil", "status", 200));
	ASSERT_INT_EQ(http_resp_status(rs), 422);
	j = body_json(rs);
	ASSERT(json_object_get(j, "detail") == NULL);
	ASSERT_STR_EQ(jstr(j, "type"), "https://gust.dev/problems/invalid-params");
	ASSERT_INT_EQ(json_integer_value(json_object_get(j, "status")), 422);
	ASSERT_INT_EQ(json_array_size(json_object_get(j, "errors")), 1);
	json_decref(j);
	http_resp_free(rs);
}

TEST(http_problem_refuses_bad_input)
{
	struct http_resp *rs = http_resp_new();
	/* A malformed slug or a non-error status is a bug: 500, with nothing of it shown. */
	const char *slugs[] = {"Has-Caps", "with space", "", "../x", "a/b", NULL};
	for (size_t i = 0; i < sizeof(slugs) / sizeof(slugs[0]); i++) {
		http_problem(rs, 400, slugs[i], "t", "secret detail");
		ASSERT_INT_EQ(http_resp_status(rs), 500);
		json_t *j = body_json(rs);
		ASSERT_STR_EQ(jstr(j, "type"), "https://gust.dev/problems/internal-error");
		ASSERT(json_object_get(j, "detail") == NULL);
		json_decref(j);
	}
	http_problem(rs, 200, "fine", "t", NULL);
	ASSERT_INT_EQ(http_resp_status(rs), 500);
	/* Invalid UTF-8 (an echoed path, say) still makes valid JSON. */
	http_problem(rs, 404, "not-found", "Not found", "No route for /a\xff\xfe%c3(");
	ASSERT_INT_EQ(http_resp_status(rs), 404);
	json_t *j = body_json(rs);
	ASSERT_STR_EQ(jstr(j, "detail"), "No route for /a\xef\xbf\xbd\xef\xbf\xbd%c3(");
	json_decref(j);
	http_problem(rs, 404, "not-found", "Not found",
		     "overlong \xc0\xaf and surrogate \xed\xa0\x80");
	j = body_json(rs);
	ASSERT_STR_CONTAINS(jstr(j, "detail"), "overlong \xef\xbf\xbd\xef\xbf\xbd and");
	json_decref(j);
	http_resp_free(rs);
}

TEST(http_error_and_errno_mapping)
{
	struct http_resp *rs = http_resp_new();
	http_error(rs, 404, "No DAG %s.", "etl");
	json_t *j = body_json(rs);
	ASSERT_STR_EQ(jstr(j, "type"), "https://gust.dev/problems/not-found");
	ASSERT_STR_EQ(jstr(j, "title"), "Not found");
	ASSERT_STR_EQ(jstr(j, "detail"), "No DAG etl.");
	json_decref(j);
	http_error(rs, 429, NULL);
	j = body_json(rs);
	ASSERT_STR_EQ(jstr(j, "type"), "https://gust.dev/problems/rate-limited");
	ASSERT(json_object_get(j, "detail") == NULL);
	json_decref(j);

	struct {
		int err, status;
		const char *slug;
	} cases[] = {{-ENOENT, 404, "not-found"},     {-EEXIST, 409, "conflict"},
		     {-EBUSY, 409, "conflict"},	      {-EINVAL, 400, "bad-request"},
		     {-EACCES, 403, "forbidden"},     {-E2BIG, 413, "payload-too-large"},
		     {-EAGAIN, 503, "unavailable"},   {-EIO, 500, "internal-error"},
		     {-ENOSPC, 500, "internal-error"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		http_problem_errno(rs, cases[i].err, "/var/lib/gust/gust.db: disk I/O error");
		ASSERT_INT_EQ(http_resp_status(rs), cases[i].status);
		j = body_json(rs);
		char type[128];
		snprintf(type, sizeof(type), "https://gust.dev/problems/%s", cases[i].slug);
		ASSERT_STR_EQ(jstr(j, "type"), type);
		/* 5xx never carry the caller's detail (here a path and an I/O error). */
		if (cases[i].status >= 500)
			ASSERT(!strstr(jstr(j, "detail"), "/var/lib"));
		json_decref(j);
	}
	http_resp_free(rs);
}

TEST(http_json_and_bodies)
{
	struct http_resp *rs = http_resp_new();
	http_json(rs, 201, json_pack("{s:s, s:i}", "id", "r-1", "n", 3));
	ASSERT_INT_EQ(http_resp_status(rs), 201);
	ASSERT_STR_EQ(http_resp_header(rs, "Content-Type"), "application/json");
	ASSERT_STR_EQ(http_resp_body(rs, NULL), "{\"id\":\"r-1\",\"n\":3}");
	/* A failed json_pack gives NULL: 500, not a crash. */
	http_json(rs, 200, NULL);
	ASSERT_INT_EQ(http_resp_status(rs), 500);
	http_text(rs, 200, "hello");
	ASSERT_STR_EQ(http_resp_header(rs, "Content-Type"), "text/plain; charset=utf-8");
	size_t n;
	ASSERT_STR_EQ(http_resp_body(rs, &n), "hello");
	ASSERT_INT_EQ(n, 5);
	http_body(rs, 200, "application/octet-stream", "a\0b", 3);
	http_resp_body(rs, &n);
	ASSERT_INT_EQ(n, 3);
	http_status(rs, 204);
	ASSERT_INT_EQ(http_resp_status(rs), 204);
	ASSERT_STR_EQ(http_resp_body(rs, &n), "");
	ASSERT_INT_EQ(n, 0);
	http_body(rs, 42, NULL, "", 0);
	ASSERT_INT_EQ(http_resp_status(rs), 500);

	ASSERT_INT_EQ(http_header(rs, "X-Thing", "1"), 0);
	ASSERT_STR_EQ(http_resp_header(rs, "x-thing"), "1");
	ASSERT_INT_EQ(http_header(rs, "X-Bad", "a\r\nSet-Cookie: s=1"), -EINVAL);
	ASSERT_INT_EQ(http_header(rs, "X Bad", "1"), -EINVAL);
	ASSERT(http_resp_header(rs, "X-Bad") == NULL);
	ASSERT(http_resp_header(rs, "Set-Cookie") == NULL);
	http_resp_free(rs);
	http_resp_free(NULL);
}

TEST(http_etag_on_responses)
{
	char t1[35], t2[35];
	http_etag_compute("abc", 3, t1);
	http_etag_compute("abd", 3, t2);
	ASSERT_INT_EQ(strlen(t1), 34);
	ASSERT(t1[0] == '"' && t1[33] == '"');
	ASSERT(strcmp(t1, t2) != 0);
	http_etag_compute("abc", 3, t2);
	ASSERT_STR_EQ(t1, t2);

	struct http_req rq;
	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.method_bit = HTTP_GET;
	struct http_kv hdr[1] = {{"If-None-Match", t1}};
	rq.headers = hdr;

	struct http_resp *rs = http_resp_new();
	http_text(rs, 200, "abc");
	ASSERT(!http_etag(&rq, rs)); /* no If-None-Match yet */
	ASSERT_STR_EQ(http_resp_header(rs, "ETag"), t1);
	ASSERT_INT_EQ(http_resp_status(rs), 200);
	http_resp_free(rs);

	rq.n_headers = 1;
	rs = http_resp_new();
	http_text(rs, 200, "abc");
	ASSERT(http_etag(&rq, rs));
	ASSERT_INT_EQ(http_resp_status(rs), 304);
	size_t n;
	http_resp_body(rs, &n);
	ASSERT_INT_EQ(n, 0);
	ASSERT_STR_EQ(http_resp_header(rs, "ETag"), t1);
	http_resp_free(rs);

	/* Changed body: no match. Not a GET: the tag is set, never a 304. Not a 200: nothing. */
	rs = http_resp_new();
	http_text(rs, 200, "abd");
	ASSERT(!http_etag(&rq, rs));
	ASSERT_INT_EQ(http_resp_status(rs), 200);
	http_resp_free(rs);
	rq.method = "PUT";
	rq.method_bit = HTTP_PUT;
	rs = http_resp_new();
	http_text(rs, 200, "abc");
	ASSERT(!http_etag(&rq, rs));
	ASSERT(http_resp_header(rs, "ETag") != NULL);
	http_resp_free(rs);
	rs = http_resp_new();
	http_error(rs, 404, NULL);
	ASSERT(!http_etag(&rq, rs));
	ASSERT(http_resp_header(rs, "ETag") == NULL);
	http_resp_free(rs);
}

TEST(http_sse_format)
{
	struct buf b = BUF_INIT;
	http_sse_event(&b, "run", "42", "{\"a\":1}");
	ASSERT_STR_EQ(buf_str(&b), "event: run\nid: 42\ndata: {\"a\":1}\n\n");
	buf_reset(&b);
	http_sse_event(&b, NULL, NULL, "one\ntwo\r\nthree\rfour");
	ASSERT_STR_EQ(buf_str(&b), "data: one\ndata: two\ndata: three\ndata: four\n\n");
	buf_reset(&b);
	http_sse_event(&b, "x\ny", "1\r\n2", "");
	ASSERT_STR_EQ(buf_str(&b), "event: xy\nid: 12\ndata: \n\n");
	buf_reset(&b);
	http_sse_event(&b, NULL, NULL, "end\n");
	ASSERT_STR_EQ(buf_str(&b), "data: end\ndata: \n\n");
	buf_reset(&b);
	http_sse_comment(&b, NULL);
	http_sse_comment(&b, "keep\nalive");
	http_sse_retry(&b, 3000);
	ASSERT_STR_EQ(buf_str(&b), ":\n\n: keepalive\n\nretry: 3000\n\n");
	buf_free(&b);
}
