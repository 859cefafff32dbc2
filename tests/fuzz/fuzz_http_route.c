/*
 * fuzz_http_route.c - libFuzzer target for http/http_route and http/http_parse: what a client
 * controls before any handler runs.
 *
 * Input: byte 0 picks the method (one of the known ones, an unknown one, or lower case); the
 * rest, up to a first '\n', is the request target (path, then '?' and the query); what follows
 * the '\n' is used as a Cookie header, an If-None-Match header and a listen address. Checks:
 *   - a matched route's parameters are exactly its pattern's, each passes http_param_check(),
 *     and percent-encoding them back into the pattern matches the same route and values;
 *   - 405 never lists the method asked for; 400 says which parameter and why; a hint is a
 *     pattern of the table;
 *   - a parsed query re-encoded parses back to the same pairs; decoding inverts encoding;
 *   - cookies stay within their cap and have names; an If-None-Match equal to the tag matches;
 *   - an accepted listen address formats to a string that parses to the same address.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"
#include "http/http_parse.h"
#include "http/http_route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void h(void *app, struct http_req *rq, struct http_resp *rs)
{
}

static const struct http_route table[] = {
    {"GET", "/api/v1/health", h, 0, 0},
    {"POST", "/api/v1/auth/login", h, 0, 0},
    {"GET", "/api/v1/dags", h, 0, 0},
    {"GET", "/api/v1/dags/{dag_id}", h, 0, 0},
    {"PATCH", "/api/v1/dags/{dag_id}", h, 0, 0},
    {"DELETE", "/api/v1/dags/{dag_id}", h, 0, 0},
    {"GET", "/api/v1/dags/{dag_id}/source", h, 0, 0},
    {"PUT", "/api/v1/dags/{dag_id}/source", h, 0, 0},
    {"POST", "/api/v1/dags/validate", h, 0, 0},
    {"POST", "/api/v1/dags/{dag_id}/runs", h, 0, 0},
    {"GET", "/api/v1/runs", h, 0, 0},
    {"GET", "/api/v1/runs/{run_id}", h, 0, 0},
    {"POST", "/api/v1/runs/{run_id}/cancel", h, 0, 0},
    {"GET", "/api/v1/runs/{run_id}/tasks", h, 0, 0},
    {"GET", "/api/v1/runs/{run_id}/tasks/{task_id}", h, 0, 0},
    {"POST", "/api/v1/runs/{run_id}/tasks/{task_id}/clear", h, 0, 0},
    {"GET", "/api/v1/runs/{run_id}/tasks/{task_id}/logs", h, 0, 0},
    {"PUT", "/api/v1/pools/{name}", h, 0, 0},
    {"GET", "/api/v1/events", h, 0, 0},
    {"GET", "/metrics", h, 0, 0},
    {"GET", "/", h, 0, 0},
    {"GET", "/{a}/{b}/x", h, 0, 0},
    {"GET", "/{a}/y/{b}", h, 0, 0},
};

static const char *const method_names[] = {"GET",    "HEAD",	"POST", "PUT", "PATCH",
					   "DELETE", "OPTIONS", "BREW", "get"};

static struct http_router *router(void)
{
	static struct http_router *r;
	if (!r) {
		char *msg = NULL;
		if (http_router_new(table, ARRAY_SIZE(table), &r, &msg) != 0)
			abort();
	}
	return r;
}

static size_t count_params(const char *pattern)
{
	size_t n = 0;
	for (const char *p = pattern; *p; p++)
		n += *p == '{';
	return n;
}

static void check_match(const char *method, const char *path)
{
	struct arena a;
	arena_init(&a);
	struct http_match m;
	enum http_match_status st = http_router_match(router(), method, path, &a, &m);
	unsigned bit = http_method_bit(method);
	switch (st) {
	case HTTP_MATCH_OK: {
		if (!m.route || m.n_params != count_params(m.route->pattern))
			abort();
		for (size_t i = 0; i < m.n_params; i++)
			if (http_param_check(m.params[i].value, strlen(m.params[i].value)))
				abort();
		/* Put the values back into the pattern, percent-encoded: the same route and the
		 * same values come out. */
		struct buf b = BUF_INIT;
		const char *pat = m.route->pattern;
		for (const char *p = pat; *p;) {
			if (*p != '{') {
				buf_putc(&b, *p++);
				continue;
			}
			const char *close = strchr(p, '}');
			char *name = arena_strndup(&a, p + 1, (size_t)(close - p - 1));
			const char *v = http_kv_find(m.params, m.n_params, name);
			if (!v)
				abort();
			char *enc = arena_alloc(&a, 3 * strlen(v) + 1);
			http_pct_encode(v, strlen(v), enc);
			buf_puts(&b, enc);
			p = close + 1;
		}
		struct http_match m2;
		if (http_router_match(router(), method, buf_str(&b), &a, &m2) != HTTP_MATCH_OK ||
		    m2.route != m.route || m2.n_params != m.n_params)
			abort();
		for (size_t i = 0; i < m.n_params; i++)
			if (strcmp(m.params[i].name, m2.params[i].name) != 0 ||
			    strcmp(m.params[i].value, m2.params[i].value) != 0)
				abort();
		buf_free(&b);
		break;
	}
	case HTTP_MATCH_BAD_METHOD:
		if (!m.allow || (bit && bit != HTTP_OPTIONS && (m.allow & bit)))
			abort();
		break;
	case HTTP_MATCH_BAD_PARAM:
		if (!m.bad_param || !m.reason || m.n_params)
			abort();
		break;
	case HTTP_MATCH_BAD_PATH:
		if (!m.reason)
			abort();
		break;
	case HTTP_MATCH_NOT_FOUND:
		if (m.hint) {
			bool known = false;
			for (size_t i = 0; i < ARRAY_SIZE(table); i++)
				known |= m.hint == table[i].pattern;
			if (!known)
				abort();
		}
		break;
	}
	arena_free(&a);
}

static void check_query(const char *q)
{
	struct arena a;
	arena_init(&a);
	struct http_kv *kv = NULL;
	size_t n = 0;
	const char *err = NULL;
	if (http_query_parse(q, &a, &kv, &n, &err) < 0) {
		if (!err)
			abort();
		arena_free(&a);
		return;
	}
	if (n > HTTP_MAX_QUERY_PARAMS)
		abort();
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (!kv[i].name[0])
			abort();
		char *k = arena_alloc(&a, 3 * strlen(kv[i].name) + 1);
		char *v = arena_alloc(&a, 3 * strlen(kv[i].value) + 1);
		http_pct_encode(kv[i].name, strlen(kv[i].name), k);
		http_pct_encode(kv[i].value, strlen(kv[i].value), v);
		buf_printf(&b, "%s%s=%s", i ? "&" : "", k, v);
	}
	struct http_kv *kv2 = NULL;
	size_t n2 = 0;
	if (http_query_parse(buf_str(&b), &a, &kv2, &n2, &err) < 0 || n2 != n)
		abort();
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].name, kv2[i].name) || strcmp(kv[i].value, kv2[i].value))
			abort();
	buf_free(&b);
	arena_free(&a);
}

static void check_codec(const char *s, size_t n)
{
	char *enc = xmalloc(3 * n + 1), *dec = xmalloc(3 * n + 1);
	size_t elen = http_pct_encode(s, n, enc), dlen = 0;
	if (http_pct_decode(enc, elen, false, dec, &dlen) < 0 || dlen != n ||
	    memcmp(dec, s, n) != 0)
		abort();
	/* Decoding the raw input never writes more than it reads. */
	if (http_pct_decode(s, n, true, dec, &dlen) == 0 && dlen > n)
		abort();
	free(enc);
	free(dec);
}

static void check_headers(const char *s)
{
	struct arena a;
	arena_init(&a);
	struct http_kv *kv = NULL;
	size_t n = 0;
	http_cookies_parse(s, &a, &kv, &n);
	http_cookies_parse(s, &a, &kv, &n);
	if (n > HTTP_MAX_COOKIES)
		abort();
	for (size_t i = 0; i < n; i++)
		if (!kv[i].name[0] || strchr(kv[i].name, ';') || strchr(kv[i].value, ';'))
			abort();
	arena_free(&a);

	(void)http_etag_match(s, "\"0123456789abcdef0123456789abcdef\"");
	if (s[0] == '"' && strlen(s) >= 2 && s[strlen(s) - 1] == '"' && !strchr(s + 1, ',') &&
	    strchr(s + 1, '"') == s + strlen(s) - 1 && !http_etag_match(s, s))
		abort();

	struct sockaddr_storage ss, ss2;
	socklen_t len, len2;
	const char *err;
	if (http_addr_parse(s, &ss, &len, &err) == 0) {
		char f[64];
		http_addr_format((struct sockaddr *)&ss, f, sizeof(f));
		if (http_addr_parse(f, &ss2, &len2, &err) != 0 || len2 != len ||
		    memcmp(&ss, &ss2, len) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	const char *method = method_names[data[0] % ARRAY_SIZE(method_names)];
	char *text = xstrndup((const char *)data + 1, size - 1); /* stops at a NUL byte */
	char *nl = strchr(text, '\n');
	const char *rest = "";
	if (nl) {
		*nl = '\0';
		rest = nl + 1;
	}
	char *q = strchr(text, '?');
	if (q)
		*q++ = '\0';
	check_match(method, text);
	check_query(q ? q : "");
	check_codec((const char *)data, size);
	check_headers(rest);
	free(text);
	return 0;
}
