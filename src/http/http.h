/*
 * http.h - the HTTP transport: a server over libmicrohttpd that routes requests to handlers,
 * bounds what a client can make it hold, and answers errors as problem details (RFC 9457).
 * The API's routes (a later module) are a table of struct http_route given to
 * http_server_start(); nothing here knows what a DAG or a run is.
 *
 * Threads. The server runs on threads of its own, never the caller's loop:
 *   - a pool of `threads` (default 4) libmicrohttpd workers, each an epoll loop over its share
 *     of the connections. Handlers run there, so a handler must not block for long (a slow one
 *     stalls the other connections of its thread). A handler that needs another thread (the
 *     scheduler loop, for a write) defers its answer with http_defer(): the connection is
 *     parked, no thread waits, and the other thread completes it later.
 *   - one stream hub thread for Server-Sent Events. A stream with nothing to send is
 *     suspended: it holds no thread, only its socket and a few hundred bytes. The hub wakes
 *     it when another thread calls http_server_wake(), when its heartbeat is due, or when the
 *     client hangs up (it watches suspended sockets for EPOLLRDHUP). 1,000 open streams cost
 *     1,000 sockets and no thread (docs/http.md "Measurements").
 *
 * Limits (each one configurable, zero meaning the default): connections in all (2,048), per
 * client address (none by default: behind a proxy every client has its address), streams
 * (1,000), request header memory per connection (32 KiB: a longer request line or header is
 * refused by libmicrohttpd with 414 or 431), idle time per connection (30 s: a client that
 * sends or reads nothing for that long is disconnected, which is what ends a slowloris; no
 * thread ever waits on a slow client), request body (1 MiB, or the route's max_body). A body
 * over the limit is never buffered: with "Expect: 100-continue" a Content-Length over it is
 * answered 413 before the client sends a byte; otherwise the body (announced, or counted as
 * chunks arrive) is read and dropped and answered 413 at its end, so that the client, still
 * sending, does get the answer (past max_discard bytes the connection is dropped instead).
 *
 * Errors. Everything the transport refuses is an application/problem+json document (400 for a
 * malformed path, query or parameter, 404, 405 with Allow, 413, 503), and handlers use the
 * same helpers; only what libmicrohttpd refuses before a request reaches the transport (414,
 * 431, an unreadable request line) carries libmicrohttpd's own short body. The detail of a
 * problem is for the client: never put a path of this machine, errno text or SQL in it
 * (http_problem_errno() maps an errno to a status without its text).
 *
 * Security defaults: loopback unless told otherwise; every response carries
 * X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer, and Cache-Control:
 * no-store unless the handler set its own; no Server header. TLS (GnuTLS inside
 * libmicrohttpd) when given a certificate and a key file.
 *
 * Memory: a request's strings live in its arena (rq->arena) until the request ends; a
 * response owns what it was given; the caller owns nothing the transport returns unless said.
 */
#ifndef GUST_HTTP_HTTP_H
#define GUST_HTTP_HTTP_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "http/http_parse.h"
#include "http/http_route.h"

struct http_server;
struct http_resp;
struct http_deferred;

/* ---- a request (read-only for handlers, except `user`) ---------------------------------- */

struct http_req {
	const char *method;    /* as sent: "GET" */
	unsigned method_bit;   /* HTTP_GET...; 0 for a method the transport does not know */
	const char *target;    /* the request target as sent: "/api/v1/runs?limit=5" */
	const char *path_raw;  /* without the query: "/api/v1/dags/a%2Fb" */
	const char *path;      /* percent-decoded, for display only ("/api/v1/dags/a/b"): route
				  and take parameters from params[], never from this */
	const char *query_raw; /* after '?', or "" */
	const struct http_route *route;		/* NULL when no route matched */
	struct http_kv params[HTTP_MAX_PARAMS]; /* path parameters, decoded and checked */
	size_t n_params;
	struct http_kv *query; /* decoded, in order, repeated keys kept */
	size_t n_query;
	struct http_kv *headers; /* as received */
	size_t n_headers;
	struct http_kv *cookies;
	size_t n_cookies;
	char remote_addr[48]; /* "127.0.0.1", "::1" */
	uint16_t remote_port;
	bool tls;
	const char *body; /* NUL-terminated (the NUL not counted); "" when none */
	size_t body_len;
	/* Free for the `before` hook and the handler (an authenticated user, say); user_free, if
	 * set, is called on it when the request ends. */
	void *user;
	void (*user_free)(void *user);
	struct arena arena; /* the request's memory; handlers may allocate from it too */
};

/* The path parameter `name` of the matched route, or NULL. */
const char *http_req_param(const struct http_req *rq, const char *name);
/* The first value of query key `key` (NULL if absent; "" for "?flag"); the idx-th of a
 * repeated key; how many times it appears. */
const char *http_req_query(const struct http_req *rq, const char *key);
const char *http_req_query_nth(const struct http_req *rq, const char *key, size_t idx);
size_t http_req_query_count(const struct http_req *rq, const char *key);
/* A request header, case-insensitively (the first of repeated ones), or NULL. */
const char *http_req_header(const struct http_req *rq, const char *name);
/* A cookie from the Cookie header(s), or NULL. */
const char *http_req_cookie(const struct http_req *rq, const char *name);

/* ---- a response ------------------------------------------------------------------------- */

/* A handler is given a response to fill; tests and the transport make their own. */
struct http_resp *http_resp_new(void);
void http_resp_free(struct http_resp *rs);
/* What was set, for tests, hooks and logs. */
int http_resp_status(const struct http_resp *rs); /* 0 until something is set */
const char *http_resp_header(const struct http_resp *rs, const char *name);
const char *http_resp_body(const struct http_resp *rs, size_t *ret_len);

/* Add a header (appended; names case-insensitive). -EINVAL, and nothing added, for a name that
 * is not a token or a value with CR, LF or NUL: the transport never emits a split header. */
int http_header(struct http_resp *rs, const char *name, const char *value);
/* Status and a body copied from memory; http_body_take adopts a malloc'd buffer instead. Each
 * replaces whatever body was set before. */
void http_body(struct http_resp *rs, int status, const char *content_type, const void *data,
	       size_t len);
void http_body_take(struct http_resp *rs, int status, const char *content_type, char *data,
		    size_t len);
void http_text(struct http_resp *rs, int status, const char *text); /* text/plain; UTF-8 */
void http_status(struct http_resp *rs, int status);		    /* no body (204, 304) */
/* application/json; takes the reference to j (NULL, as from a failed json_pack, is a 500). */
void http_json(struct http_resp *rs, int status, json_t *j);
/* The request body as JSON (a new reference), or NULL after answering rs: 415
 * unsupported-media-type when a Content-Type other than application/json (or +json) was
 * sent, 400 bad-json with the line and column when it does not parse (duplicate keys
 * included). An empty body is not JSON. */
json_t *http_req_json(const struct http_req *rq, struct http_resp *rs);

/* ---- problems (RFC 9457) ---------------------------------------------------------------- */

#define HTTP_PROBLEM_BASE "https://gust.dev/problems/"

/*
 * Answer `status` with {"type": HTTP_PROBLEM_BASE slug, "title", "status", "detail"} as
 * application/problem+json. slug is [a-z0-9-]+ and stable: clients switch on it (a malformed
 * slug is a bug and answers 500 internal-error). title is short and the same for every
 * occurrence of the slug; detail (may be NULL) says what happened this time. Strings need not
 * be valid UTF-8: invalid bytes become U+FFFD. http_problem_ext adds the members of `extra`
 * (taken; may be NULL) that do not collide with the four standard ones.
 */
void http_problem(struct http_resp *rs, int status, const char *slug, const char *title,
		  const char *detail);
void http_problem_ext(struct http_resp *rs, int status, const char *slug, const char *title,
		      const char *detail, json_t *extra);
/* The standard slug and title of a status (400 bad-request, 404 not-found, 409 conflict, 413
 * payload-too-large, 422 unprocessable, 429 rate-limited, 500 internal-error...) with a
 * printf detail (fmt may be NULL). */
void http_error(struct http_resp *rs, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A negative errno as the status that fits (-ENOENT 404, -EEXIST and -EBUSY 409, -EINVAL 400,
 * -EACCES/-EPERM 403, -E2BIG/-EMSGSIZE 413, -EAGAIN 503, anything else 500), with `detail`
 * for 4xx and a fixed sentence for 5xx: the errno's text never reaches the client. */
void http_problem_errno(struct http_resp *rs, int neg_errno, const char *detail);

/* Slugs the transport itself answers with (docs/http.md lists them). */
#define HTTP_P_BAD_REQUEST "bad-request"
#define HTTP_P_BAD_PATH "bad-path"
#define HTTP_P_BAD_PARAM "bad-path-parameter"
#define HTTP_P_BAD_QUERY "bad-query"
#define HTTP_P_BAD_JSON "bad-json"
#define HTTP_P_MEDIA_TYPE "unsupported-media-type"
#define HTTP_P_NOT_FOUND "not-found"
#define HTTP_P_METHOD "method-not-allowed"
#define HTTP_P_TOO_LARGE "payload-too-large"
#define HTTP_P_TOO_MANY_STREAMS "too-many-streams"
#define HTTP_P_STOPPING "shutting-down"
#define HTTP_P_INTERNAL "internal-error"

/* ---- entity tags ------------------------------------------------------------------------ */

/*
 * For a 200 response with a body: set a strong ETag (the body's BLAKE2b-128 in hex, quoted)
 * and, when the request is a GET or HEAD whose If-None-Match matches it, turn the response
 * into 304 Not Modified without a body. Returns true for a 304. Call it last, after the body.
 */
bool http_etag(const struct http_req *rq, struct http_resp *rs);
/* The tag of a body: '"' + 32 hex digits + '"', into buf (35 bytes). */
char *http_etag_compute(const void *data, size_t len, char buf[35]);

/* ---- Server-Sent Events ----------------------------------------------------------------- */

enum http_stream_end {
	HTTP_STREAM_FINISHED,	 /* produce() returned HTTP_STREAM_END and it was sent */
	HTTP_STREAM_CLIENT_GONE, /* the client disconnected, or stopped reading (idle timeout) */
	HTTP_STREAM_SERVER_STOP, /* http_server_stop() */
	HTTP_STREAM_FAILED,	 /* produce() returned a negative errno */
	HTTP_STREAM_REFUSED,	 /* never started: too many streams, or the server stopping */
};
#define HTTP_STREAM_MORE 0
#define HTTP_STREAM_END 1

struct http_stream_ops {
	/*
	 * Append what is ready to `out` (events formatted with http_sse_event()) and return
	 * HTTP_STREAM_MORE, HTTP_STREAM_END to end the stream once `out` is sent, or a negative
	 * errno to abort it. Called on a pool thread, at most one call at a time per stream:
	 * first right after the headers, then whenever `out` has been sent, and after every
	 * wake. Appending nothing parks the stream until the next wake or heartbeat. Append at
	 * most about 64 KiB per call (you are called again as soon as it is sent), and do not
	 * block.
	 */
	int (*produce)(void *ctx, struct buf *out);
	/* Called exactly once, on a transport thread or in http_server_stop(), when the stream
	 * ends for any reason; produce() is never called after. Free ctx here. */
	void (*close)(void *ctx, enum http_stream_end why);
};

/*
 * Answer with a stream: 200, text/event-stream, Cache-Control: no-store and
 * X-Accel-Buffering: no (so proxies pass events through), then what produce() writes.
 * `key` groups streams for http_server_wake() (a run id, say; 0 if unused). From the call on,
 * close() will be called exactly once, even if the stream never starts (HTTP_STREAM_REFUSED:
 * the transport then answers 503 itself).
 */
void http_stream(struct http_resp *rs, const struct http_stream_ops *ops, void *ctx, uint64_t key);

/* SSE formatting: one event (event and id may be NULL; their CR and LF are dropped; data is
 * split into one "data:" line per line of it), a comment line, a retry hint. */
void http_sse_event(struct buf *out, const char *event, const char *id, const char *data);
void http_sse_comment(struct buf *out, const char *text);
void http_sse_retry(struct buf *out, unsigned ms);

/* ---- deferred answers ------------------------------------------------------------------- */

/*
 * Answer later, from another thread: the handler calls http_defer(rs) and returns; the
 * connection is parked (no thread waits). The other thread may read the request (until it
 * calls http_deferred_done), fills http_deferred_resp(d) with the usual functions and calls
 * http_deferred_done(d) exactly once, which sends it. If the server stops first the client
 * gets 503 shutting-down, and the late http_deferred_done() only frees.
 */
struct http_deferred *http_defer(struct http_resp *rs);
struct http_resp *http_deferred_resp(struct http_deferred *d);
const struct http_req *http_deferred_req(struct http_deferred *d);
void http_deferred_done(struct http_deferred *d);

/* ---- the server ------------------------------------------------------------------------- */

/* Runs after routing, before the body is read, on a pool thread (authentication belongs
 * here: an unauthenticated client is refused before it uploads anything). Return true to go
 * on, false after answering rs. */
typedef bool http_before_fn(void *app, struct http_req *rq, struct http_resp *rs);
/* Runs when a request ends (access logs, metrics), on a transport thread. */
typedef void http_done_fn(void *app, const struct http_req *rq, int status, int64_t duration_us);
/* A message from the transport or libmicrohttpd for the operator's log (one line, no '\n'). */
typedef void http_log_fn(void *app, const char *msg);

struct http_server_options {
	const char *listen; /* "ADDR:PORT" (http_addr_parse); NULL: HTTP_DEFAULT_LISTEN */
	const char *tls_cert_file, *tls_key_file; /* PEM; both or neither */
	const struct http_route *routes;	  /* borrowed until http_server_stop() */
	size_t n_routes;
	void *app; /* passed to handlers and hooks */
	http_before_fn *before;
	http_done_fn *done;
	http_log_fn *log;

	/* Zero means the default given. */
	unsigned threads;	  /* pool threads for requests: 4 */
	unsigned max_connections; /* 2048 */
	unsigned max_per_ip;	  /* 0: no limit */
	unsigned max_streams;	  /* 1000 */
	unsigned idle_timeout_s;  /* 30 */
	size_t conn_memory;	  /* per connection, for the request line and headers: 32 KiB */
	size_t max_body;	  /* 1 MiB; a route's max_body overrides it */
	uint64_t max_discard;	  /* body bytes read and dropped past max_body, at most: 256 MiB */
	unsigned heartbeat_ms;	  /* SSE comment line after this long without a write: 15000 */
	/* Added to the nice value of the request threads (0: none), so that under load they
	 * yield the CPU to the process's other threads (gust's scheduling loop). */
	int nice;
};

/* Fill the zero fields of *o with the defaults above (http_server_start does it on its copy). */
void http_server_options_defaults(struct http_server_options *o);

/*
 * Listen and serve. On failure a negative errno and *ret_msg (malloc'd, one sentence for the
 * operator): -EADDRINUSE "cannot listen on 127.0.0.1:8080: the address is already in use...",
 * -EINVAL for a bad address or route table, -ENOENT/-EACCES for an unreadable TLS file,
 * -EPROTO for a certificate or key that TLS refuses, -ENOTSUP for TLS without TLS support.
 */
int http_server_start(const struct http_server_options *opts, struct http_server **ret,
		      char **ret_msg);
/*
 * End every stream (each gets its final chunk if the client reads within 500 ms; close() is
 * called with HTTP_STREAM_SERVER_STOP; new streams are refused), answer parked deferred
 * requests with 503, then close every connection and the listening socket and join every
 * thread. NULL is a no-op. No wake may race with it or follow it.
 */
void http_server_stop(struct http_server *s);

/* The bound port (the kernel's choice when asked for port 0) and "ADDR:PORT". */
uint16_t http_server_port(const struct http_server *s);
const char *http_server_address(const struct http_server *s);
const struct http_router *http_server_router(const struct http_server *s);

/* Wake the streams with this key, or all of them, so their produce() runs soon. Any thread;
 * never blocks (it queues for the hub thread). Publish the data first, then wake. */
void http_server_wake(struct http_server *s, uint64_t key);
void http_server_wake_all(struct http_server *s);
/* Streams open now (tests, metrics). */
size_t http_server_stream_count(struct http_server *s);

#endif
