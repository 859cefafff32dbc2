/*
 * http_route.h - the route table and the matcher that picks a route for a request path.
 *
 * A route is data: {method, pattern, handler, flags, max_body}, and a server is given an array
 * of them (the API layer's table; docs/http.md "Declaring a route"). A pattern is a path whose
 * segments are literals or whole-segment parameters in braces, as in OpenAPI:
 *
 *     /api/v1/runs/{run_id}/tasks/{task_id}/logs
 *
 * Matching is pure (no I/O, no locks, no global state) and works segment by segment on the
 * raw path: the path is split at '/' first and each segment percent-decoded after, so "%2F"
 * never splits a segment. Rules, in the order they apply:
 *
 *   1. The raw path must start with '/' and hold no space, control byte or malformed "%"
 *      escape: else HTTP_MATCH_BAD_PATH (400). An absolute-form target ("http://h/x") or
 *      "*" fails here too.
 *   2. A path ending in '/' (other than "/" itself) matches no route: trailing slashes are
 *      never significant and never redirected (HTTP_MATCH_NOT_FOUND, with `hint` naming the
 *      route the path would match without it).
 *   3. A route matches structurally when it has as many segments and every literal equals
 *      the decoded segment. None: HTTP_MATCH_NOT_FOUND (404).
 *   4. Among those, the routes of the request's method (HEAD is served by GET routes) are
 *      ranked by specificity, a literal beating a parameter at the first segment where they
 *      differ (so POST /dags/validate is not POST /dags/{dag_id}). None of that method:
 *      HTTP_MATCH_BAD_METHOD (405), with `allow` the union of the methods that would match.
 *   5. The winner's parameters are decoded exactly once and refused (HTTP_MATCH_BAD_PARAM,
 *      400) when empty, "." or "..", longer than HTTP_MAX_PARAM_LEN, or holding '/', '\',
 *      NUL or another control byte (0x00-0x1f, 0x7f). Encoded or not makes no difference:
 *      "%2e%2e" is "..", and "%252e" is the three characters "%2e" (no double decoding).
 *
 * A table is checked when the router is built: patterns start with '/', have no empty or
 * trailing segment, parameter names are [a-z_][a-z0-9_]* and unique within a pattern, and no
 * two routes of one method have the same shape (the same literals at the same places).
 */
#ifndef GUST_HTTP_ROUTE_H
#define GUST_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "http/http_parse.h"

struct http_req;
struct http_resp;

/* Methods as bits, for route tables and Allow headers. */
enum http_method {
	HTTP_GET = 1u << 0,
	HTTP_HEAD = 1u << 1,
	HTTP_POST = 1u << 2,
	HTTP_PUT = 1u << 3,
	HTTP_PATCH = 1u << 4,
	HTTP_DELETE = 1u << 5,
	HTTP_OPTIONS = 1u << 6,
};
/* The bit of a method name ("GET"), 0 for any other (case-sensitive, as RFC 9110 says). */
unsigned http_method_bit(const char *name);
/* "GET, HEAD, POST" for a mask, in the enum's order, into buf (64 bytes suffice). */
char *http_method_list(unsigned mask, char *buf, size_t size);

/*
 * A handler answers one request by filling *rs (http.h: http_json, http_problem, http_stream...).
 * It runs on one of the transport's pool threads and must not block for long: every other
 * connection of that thread waits meanwhile. `app` is http_server_options.app.
 */
typedef void http_handler_fn(void *app, struct http_req *rq, struct http_resp *rs);

struct http_route {
	const char *method;  /* "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char *pattern; /* "/api/v1/dags/{dag_id}" */
	http_handler_fn *handler;
	/* The application's (the role a route needs, say): the transport reads none of them. */
	unsigned flags;
	size_t max_body; /* largest request body accepted; 0: the server's max_body */
};

#define HTTP_MAX_SEGMENTS 32 /* a longer path matches no route */
#define HTTP_MAX_PARAMS 8    /* per pattern */
#define HTTP_MAX_PARAM_LEN 1024

struct http_router;

/* Check and compile a table; the router borrows `routes` (keep the array alive). On a bad
 * table: -EINVAL and a malloc'd sentence naming the route in *ret_msg. */
int http_router_new(const struct http_route *routes, size_t n, struct http_router **ret,
		    char **ret_msg);
void http_router_free(struct http_router *r);
/* The table, in the order it was given: for docs and the test that compares it with
 * docs/openapi.yaml. */
size_t http_router_count(const struct http_router *r);
const struct http_route *http_router_at(const struct http_router *r, size_t i);

enum http_match_status {
	HTTP_MATCH_OK,
	HTTP_MATCH_BAD_PATH,   /* 400: not a path we can read */
	HTTP_MATCH_NOT_FOUND,  /* 404 */
	HTTP_MATCH_BAD_METHOD, /* 405: see allow */
	HTTP_MATCH_BAD_PARAM,  /* 400: see bad_param, reason */
};

struct http_match {
	const struct http_route *route; /* OK only */
	struct http_kv params[HTTP_MAX_PARAMS];
	size_t n_params;
	unsigned allow;	       /* BAD_METHOD: the methods this path answers (HEAD, OPTIONS incl.) */
	const char *bad_param; /* BAD_PARAM: the parameter's name */
	const char *reason;    /* BAD_PATH, BAD_PARAM: a static sentence */
	const char *hint;      /* NOT_FOUND after a trailing slash: the pattern without it */
};

/*
 * Match `method` and the raw path (no query string) against the table. Decoded parameter
 * values are carved from `a`. Never fails otherwise; *m is fully set for every status.
 */
enum http_match_status http_router_match(const struct http_router *r, const char *method,
					 const char *path_raw, struct arena *a,
					 struct http_match *m);

/* Is a decoded parameter value acceptable (rule 5 above)? NULL if so, else why not. */
const char *http_param_check(const char *v, size_t len);

#endif
