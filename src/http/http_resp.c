/*
 * http_resp.c - building responses: bodies, headers, JSON, problem details, entity tags, SSE
 * formatting; and the request's lookup functions. No I/O: the transport turns a struct
 * http_resp into a libmicrohttpd response (http_server.c), tests read it back directly.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "http/http_internal.h"

/* ---- requests ---------------------------------------------------------------------------- */

const char *http_req_param(const struct http_req *rq, const char *name)
{
	return http_kv_find(rq->params, rq->n_params, name);
}

const char *http_req_query(const struct http_req *rq, const char *key)
{
	return http_kv_find(rq->query, rq->n_query, key);
}

const char *http_req_query_nth(const struct http_req *rq, const char *key, size_t idx)
{
	return http_kv_find_nth(rq->query, rq->n_query, key, idx);
}

size_t http_req_query_count(const struct http_req *rq, const char *key)
{
	return http_kv_count(rq->query, rq->n_query, key);
}

const char *http_req_header(const struct http_req *rq, const char *name)
{
	return http_kv_find_ci(rq->headers, rq->n_headers, name);
}

const char *http_req_cookie(const struct http_req *rq, const char *name)
{
	return http_kv_find(rq->cookies, rq->n_cookies, name);
}

/* ---- responses --------------------------------------------------------------------------- */

struct http_resp *http_resp_new(void)
{
	return xcalloc(1, sizeof(struct http_resp));
}

void http_resp_clear_body(struct http_resp *rs)
{
	free(rs->body);
	free(rs->content_type);
	rs->body = NULL;
	rs->content_type = NULL;
	rs->body_len = 0;
}

void http_resp_free(struct http_resp *rs)
{
	if (!rs)
		return;
	http_resp_clear_body(rs);
	for (size_t i = 0; i < rs->n_hdrs; i++) {
		free(rs->hdrs[i].name);
		free(rs->hdrs[i].value);
	}
	free(rs->hdrs);
	free(rs);
}

int http_resp_status(const struct http_resp *rs)
{
	return rs->status;
}

const char *http_resp_header(const struct http_resp *rs, const char *name)
{
	if (strcasecmp(name, "Content-Type") == 0 && rs->content_type)
		return rs->content_type;
	for (size_t i = 0; i < rs->n_hdrs; i++)
		if (strcasecmp(rs->hdrs[i].name, name) == 0)
			return rs->hdrs[i].value;
	return NULL;
}

const char *http_resp_body(const struct http_resp *rs, size_t *ret_len)
{
	if (ret_len)
		*ret_len = rs->body_len;
	return rs->body ? rs->body : "";
}

int http_header(struct http_resp *rs, const char *name, const char *value)
{
	if (!http_token_valid(name) || !http_header_value_valid(value))
		return -EINVAL;
	rs->hdrs = xrealloc_array(rs->hdrs, rs->n_hdrs + 1, sizeof(*rs->hdrs), &rs->cap_hdrs);
	rs->hdrs[rs->n_hdrs++] = (struct http_hdr){xstrdup(name), xstrdup(value)};
	return 0;
}

static int valid_status(int status)
{
	return status >= 100 && status <= 599 ? status : 500;
}

void http_body_take(struct http_resp *rs, int status, const char *content_type, char *data,
		    size_t len)
{
	http_resp_clear_body(rs);
	rs->status = valid_status(status);
	rs->content_type = content_type ? xstrdup(content_type) : NULL;
	rs->body = data;
	rs->body_len = data ? len : 0;
}

void http_body(struct http_resp *rs, int status, const char *content_type, const void *data,
	       size_t len)
{
	char *copy = xmalloc(len + 1);
	if (len)
		memcpy(copy, data, len);
	copy[len] = '\0';
	http_body_take(rs, status, content_type, copy, len);
}

void http_text(struct http_resp *rs, int status, const char *text)
{
	http_body(rs, status, "text/plain; charset=utf-8", text, strlen(text));
}

void http_status(struct http_resp *rs, int status)
{
	http_body_take(rs, status, NULL, NULL, 0);
}

static void json_into(struct http_resp *rs, int status, const char *ctype, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text) {
		http_problem_std(rs, 500, HTTP_P_INTERNAL, NULL);
		return;
	}
	http_body_take(rs, status, ctype, text, strlen(text));
}

void http_json(struct http_resp *rs, int status, json_t *j)
{
	json_into(rs, status, "application/json", j);
}

json_t *http_req_json(const struct http_req *rq, struct http_resp *rs)
{
	const char *ct = http_req_header(rq, "Content-Type");
	if (ct) {
		size_t n = strcspn(ct, ";");
		while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
			n--;
		bool json = (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
			    (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0);
		if (!json) {
			http_problem_std(rs, 415, HTTP_P_MEDIA_TYPE,
					 "The body must be JSON (Content-Type: application/json).");
			return NULL;
		}
	}
	json_error_t e;
	json_t *j = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		char detail[300];
		snprintf(detail, sizeof(detail),
			 "The body is not valid JSON: line %d, column %d: %s", e.line, e.column,
			 e.text);
		http_problem_std(rs, 400, HTTP_P_BAD_JSON, detail);
	}
	return j;
}

/* ---- problems ---------------------------------------------------------------------------- */

/* The standard problem of each status the transport or a handler commonly answers. */
static const struct {
	int status;
	const char *slug, *title;
} std_problems[] = {
    {400, HTTP_P_BAD_REQUEST, "Bad request"},
    {401, "unauthorized", "Authentication required"},
    {403, "forbidden", "Forbidden"},
    {404, HTTP_P_NOT_FOUND, "Not found"},
    {405, HTTP_P_METHOD, "Method not allowed"},
    {406, "not-acceptable", "Not acceptable"},
    {409, "conflict", "Conflict"},
    {410, "gone", "Gone"},
    {411, "length-required", "Length required"},
    {412, "precondition-failed", "Precondition failed"},
    {413, HTTP_P_TOO_LARGE, "Request body too large"},
    {415, "unsupported-media-type", "Unsupported media type"},
    {422, "unprocessable", "Unprocessable content"},
    {429, "rate-limited", "Too many requests"},
    {500, HTTP_P_INTERNAL, "Internal server error"},
    {501, "not-implemented", "Not implemented"},
    {503, "unavailable", "Service unavailable"},
};

/* Titles of the transport's own slugs that are not a status's standard one. */
static const struct {
	const char *slug, *title;
} own_titles[] = {
    {HTTP_P_BAD_PATH, "Malformed request path"},
    {HTTP_P_BAD_PARAM, "Invalid path parameter"},
    {HTTP_P_BAD_QUERY, "Malformed query string"},
    {HTTP_P_BAD_JSON, "Malformed JSON body"},
    {HTTP_P_TOO_MANY_STREAMS, "Too many open event streams"},
    {HTTP_P_STOPPING, "The server is shutting down"},
};

static bool slug_valid(const char *s)
{
	if (!s || !*s || strlen(s) > 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return true;
}

/* A JSON string of s even when s is not valid UTF-8 (each bad byte becomes U+FFFD). */
static json_t *json_string_lossy(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	struct buf b = BUF_INIT;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		size_t n = 0;
		if (p[0] < 0x80)
			n = 1;
		else if (p[0] >= 0xc2 && p[0] <= 0xdf)
			n = 2;
		else if (p[0] >= 0xe0 && p[0] <= 0xef)
			n = 3;
		else if (p[0] >= 0xf0 && p[0] <= 0xf4)
			n = 4;
		bool ok = n > 0;
		for (size_t i = 1; ok && i < n; i++)
			ok = (p[i] & 0xc0) == 0x80;
		if (ok && n > 1) {
			/* json_string judges the rest (overlong and surrogate forms). */
			char tmp[5] = {0};
			memcpy(tmp, p, n);
			json_t *t = json_string(tmp);
			ok = t != NULL;
			json_decref(t);
		}
		if (ok) {
			buf_append(&b, p, n);
			p += n;
		} else {
			buf_puts(&b, "\xef\xbf\xbd");
			p++;
		}
	}
	j = json_string(buf_str(&b));
	buf_free(&b);
	return j;
}

void http_problem_ext(struct http_resp *rs, int status, const char *slug, const char *title,
		      const char *detail, json_t *extra)
{
	if (!slug_valid(slug) || status < 400 || status > 599) {
		json_decref(extra);
		status = 500;
		slug = HTTP_P_INTERNAL;
		title = "Internal server error";
		detail = NULL;
		extra = NULL;
	}
	char type[128];
	snprintf(type, sizeof(type), "%s%s", HTTP_PROBLEM_BASE, slug);
	json_t *j = json_object();
	json_object_set_new(j, "type", json_string(type));
	json_object_set_new(j, "title", json_string_lossy(title ? title : slug));
	json_object_set_new(j, "status", json_integer(status));
	if (detail)
		json_object_set_new(j, "detail", json_string_lossy(detail));
	if (extra && json_is_object(extra))
		json_object_update_missing(j, extra);
	json_decref(extra);
	json_into(rs, status, "application/problem+json", j);
}

void http_problem(struct http_resp *rs, int status, const char *slug, const char *title,
		  const char *detail)
{
	http_problem_ext(rs, status, slug, title, detail, NULL);
}

void http_problem_std(struct http_resp *rs, int status, const char *slug, const char *detail)
{
	const char *title = NULL;
	for (size_t i = 0; !title && i < ARRAY_SIZE(own_titles); i++)
		if (slug && strcmp(own_titles[i].slug, slug) == 0)
			title = own_titles[i].title;
	for (size_t i = 0; i < ARRAY_SIZE(std_problems); i++) {
		if (std_problems[i].status != status)
			continue;
		if (!slug)
			slug = std_problems[i].slug;
		if (!title && strcmp(slug, std_problems[i].slug) == 0)
			title = std_problems[i].title;
	}
	if (!slug)
		slug = status >= 500 ? HTTP_P_INTERNAL : HTTP_P_BAD_REQUEST;
	http_problem(rs, status, slug, title ? title : "Error", detail);
}

void http_error(struct http_resp *rs, int status, const char *fmt, ...)
{
	char *detail = NULL;
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		detail = xvasprintf(fmt, ap);
		va_end(ap);
	}
	http_problem_std(rs, status, NULL, detail);
	free(detail);
}

void http_problem_errno(struct http_resp *rs, int neg_errno, const char *detail)
{
	int status;
	switch (-neg_errno) {
	case ENOENT:
		status = 404;
		break;
	case EEXIST:
	case EBUSY:
		status = 409;
		break;
	case EINVAL:
		status = 400;
		break;
	case EACCES:
	case EPERM:
		status = 403;
		break;
	case E2BIG:
	case EMSGSIZE:
		status = 413;
		break;
	case EAGAIN:
		status = 503;
		break;
	default:
		status = 500;
	}
	if (status >= 500)
		detail = status == 503 ? "The server is busy; try again shortly."
				       : "The server could not complete the request.";
	http_problem_std(rs, status, NULL, detail);
}

/* ---- entity tags ------------------------------------------------------------------------- */

char *http_etag_compute(const void *data, size_t len, char buf[35])
{
	unsigned char h[16];
	if (sodium_init() < 0)
		abort();
	crypto_generichash(h, sizeof(h), data, len, NULL, 0);
	buf[0] = '"';
	sodium_bin2hex(buf + 1, 33, h, sizeof(h));
	buf[33] = '"';
	buf[34] = '\0';
	return buf;
}

bool http_etag(const struct http_req *rq, struct http_resp *rs)
{
	if (rs->status != 200 || rs->stream_ops || rs->deferred)
		return false;
	char tag[35];
	http_etag_compute(rs->body ? rs->body : "", rs->body_len, tag);
	http_header(rs, "ETag", tag);
	if (!rq || !(rq->method_bit & (HTTP_GET | HTTP_HEAD)))
		return false;
	if (!http_etag_match(http_req_header(rq, "If-None-Match"), tag))
		return false;
	free(rs->body);
	rs->body = NULL;
	rs->body_len = 0;
	rs->status = 304;
	return true;
}

/* ---- streams ----------------------------------------------------------------------------- */

void http_stream(struct http_resp *rs, const struct http_stream_ops *ops, void *ctx, uint64_t key)
{
	http_resp_clear_body(rs);
	rs->status = 200;
	rs->stream_ops = ops;
	rs->stream_ctx = ctx;
	rs->stream_key = key;
}

/* Append s without CR and LF (an event name or id must stay on its line). */
static void put_oneline(struct buf *out, const char *s)
{
	for (; *s; s++)
		if (*s != '\r' && *s != '\n')
			buf_putc(out, *s);
}

void http_sse_event(struct buf *out, const char *event, const char *id, const char *data)
{
	if (event) {
		buf_puts(out, "event: ");
		put_oneline(out, event);
		buf_putc(out, '\n');
	}
	if (id) {
		buf_puts(out, "id: ");
		put_oneline(out, id);
		buf_putc(out, '\n');
	}
	/* One data line per line of data, whatever its line ends (CRLF, CR, LF). */
	const char *p = data ? data : "";
	for (;;) {
		size_t n = strcspn(p, "\r\n");
		buf_puts(out, "data: ");
		buf_append(out, p, n);
		buf_putc(out, '\n');
		p += n;
		if (!*p)
			break;
		p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
	}
	buf_putc(out, '\n');
}

void http_sse_comment(struct buf *out, const char *text)
{
	buf_putc(out, ':');
	if (text && *text) {
		buf_putc(out, ' ');
		put_oneline(out, text);
	}
	buf_puts(out, "\n\n");
}

void http_sse_retry(struct buf *out, unsigned ms)
{
	buf_printf(out, "retry: %u\n\n", ms);
}
