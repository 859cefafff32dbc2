/*
 * http_server.c - the transport over libmicrohttpd (http.h): listening, the request's life,
 * body limits, handing responses over, deferred answers.
 *
 * A request's context (struct reqctx) is made in the URI callback, before the headers are
 * read, and lives until libmicrohttpd reports the request complete. libmicrohttpd calls the
 * access handler several times per request; the context's phase says where it is:
 *
 *   NEW      headers read: build struct http_req, route, run the `before` hook, check the
 *            Content-Length against the limit (over it, with "Expect: 100-continue": 413
 *            at once, nothing read)
 *   BODY     body bytes arriving: append while under the limit
 *   DISCARD  over the limit (by Content-Length, or by counting): drop until the body ends,
 *            then 413 (or close after max_discard bytes); memory does not grow with it
 *   PARKED   a handler deferred its answer: the connection is suspended until
 *            http_deferred_done() (or the server's stop) resumes it
 *   ANSWERED a response is queued
 *
 * libmicrohttpd runs with its own listen socket taken from us (so a taken port is reported
 * with its errno), an epoll thread pool, suspend/resume, and an identity unescaper: the
 * transport decodes paths and queries itself, segment by segment (http_route.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"
#include "http/http_internal.h"

enum phase { PH_NEW, PH_BODY, PH_DISCARD, PH_PARKED, PH_ANSWERED };

struct reqctx {
	struct http_server *srv;
	struct http_req rq;
	struct http_resp *rs; /* the handler's; owned by rs->deferred when deferred */
	enum phase phase;
	size_t limit; /* largest body accepted */
	char *body;   /* malloc'd, limit + 1 at most */
	size_t body_len, body_cap;
	size_t expected;    /* the Content-Length, when given (at most limit) */
	uint64_t discarded; /* bytes dropped past the limit */
	int status;	    /* of the response queued */
	int64_t t0_us;
	bool handled; /* the access handler saw it */
};

/* ---- options ----------------------------------------------------------------------------- */

void http_server_options_defaults(struct http_server_options *o)
{
	if (!o->listen)
		o->listen = HTTP_DEFAULT_LISTEN;
	if (!o->threads)
		o->threads = 4;
	if (!o->max_connections)
		o->max_connections = 2048;
	if (!o->max_streams)
		o->max_streams = 1000;
	if (!o->idle_timeout_s)
		o->idle_timeout_s = 30;
	if (!o->conn_memory)
		o->conn_memory = 32 * 1024;
	if (!o->max_body)
		o->max_body = 1024 * 1024;
	if (!o->max_discard)
		o->max_discard = 256ull * 1024 * 1024;
	if (!o->heartbeat_ms)
		o->heartbeat_ms = 15000;
}

/* ---- libmicrohttpd callbacks ------------------------------------------------------------- */

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *s = cls;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	if (!atomic_load(&s->started)) { /* starting: keep the reason for the error message */
		free(s->start_err);
		s->start_err = xstrdup(msg);
	}
	if (s->opts.log)
		s->opts.log(s->opts.app, msg);
}

/* The transport decodes paths and queries itself (http_route.h); libmicrohttpd must not. */
static size_t unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

/* Once per request thread (libmicrohttpd starts them; this is the first callback that runs on
 * one): its nice value, which Linux keeps per thread. */
static void nice_this_thread(const struct http_server *s)
{
	static _Thread_local bool done;
	if (done || !s->opts.nice)
		return;
	done = true;
	id_t tid = (id_t)gettid();
	int now = getpriority(PRIO_PROCESS, tid);
	if (setpriority(PRIO_PROCESS, tid, now + s->opts.nice) < 0 && s->opts.log)
		s->opts.log(s->opts.app, "http: cannot lower the priority of a request thread");
}

static void *uri_begin(void *cls, const char *uri, struct MHD_Connection *conn)
{
	nice_this_thread(cls);
	struct reqctx *rc = xcalloc(1, sizeof(*rc));
	rc->srv = cls;
	arena_init(&rc->rq.arena);
	rc->rq.target = arena_strdup(&rc->rq.arena, uri ? uri : "");
	rc->rq.body = "";
	rc->t0_us = mono_us();
	return rc;
}

static void deferred_release(struct http_deferred *d);

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct reqctx *rc = *con_cls;
	if (!rc)
		return;
	*con_cls = NULL;
	if (rc->handled && s->opts.done)
		s->opts.done(s->opts.app, &rc->rq, rc->status, mono_us() - rc->t0_us);
	if (rc->rq.user_free)
		rc->rq.user_free(rc->rq.user);
	if (rc->rs && rc->rs->deferred)
		deferred_release(rc->rs->deferred);
	else
		http_resp_free(rc->rs);
	free(rc->body);
	arena_free(&rc->rq.arena);
	free(rc);
}

/* ---- building the request ---------------------------------------------------------------- */

struct hdr_fill {
	struct http_req *rq;
	size_t cap;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	(*(size_t *)cls)++;
	return MHD_YES;
}

static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct hdr_fill *f = cls;
	struct http_req *rq = f->rq;
	if (rq->n_headers == f->cap)
		return MHD_NO;
	const char *k = arena_strdup(&rq->arena, key);
	const char *v = arena_strdup(&rq->arena, value ? value : "");
	rq->headers[rq->n_headers++] = (struct http_kv){k, v};
	if (strcasecmp(k, "Cookie") == 0)
		http_cookies_parse(v, &rq->arena, &rq->cookies, &rq->n_cookies);
	return MHD_YES;
}

static void read_request(struct reqctx *rc, struct MHD_Connection *conn, const char *method)
{
	struct http_req *rq = &rc->rq;
	struct arena *a = &rq->arena;
	rq->method = arena_strdup(a, method ? method : "");
	rq->method_bit = http_method_bit(rq->method);
	const char *q = strchr(rq->target, '?');
	size_t plen = q ? (size_t)(q - rq->target) : strlen(rq->target);
	rq->path_raw = arena_strndup(a, rq->target, plen);
	rq->query_raw = q ? q + 1 : "";
	char *dec = arena_alloc(a, plen + 1);
	size_t dlen;
	if (http_pct_decode(rq->path_raw, plen, false, dec, &dlen) == 0) {
		dec[dlen] = '\0';
		rq->path = dec;
	} else {
		rq->path = rq->path_raw;
	}

	size_t n = 0;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &n);
	struct hdr_fill f = {rq, n};
	rq->headers = arena_calloc(a, n ? n : 1, sizeof(*rq->headers));
	MHD_get_connection_values(conn, MHD_HEADER_KIND, copy_header, &f);

	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET) {
			const struct sockaddr_in *a4 = (const struct sockaddr_in *)sa;
			inet_ntop(AF_INET, &a4->sin_addr, rq->remote_addr, sizeof(rq->remote_addr));
			rq->remote_port = ntohs(a4->sin_port);
		} else if (sa->sa_family == AF_INET6) {
			const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
			inet_ntop(AF_INET6, &a6->sin6_addr, rq->remote_addr,
				  sizeof(rq->remote_addr));
			rq->remote_port = ntohs(a6->sin6_port);
		}
	}
	rq->tls = rc->srv->tls;
}

/* ---- answering --------------------------------------------------------------------------- */

static bool has_header(const struct http_resp *rs, const char *name)
{
	for (size_t i = 0; i < rs->n_hdrs; i++)
		if (strcasecmp(rs->hdrs[i].name, name) == 0)
			return true;
	return false;
}

static void add_headers(struct http_server *s, struct MHD_Response *r, const struct http_resp *rs)
{
	if (rs->content_type)
		MHD_add_response_header(r, "Content-Type", rs->content_type);
	for (size_t i = 0; i < rs->n_hdrs; i++)
		if (MHD_add_response_header(r, rs->hdrs[i].name, rs->hdrs[i].value) != MHD_YES &&
		    s->opts.log) {
			char msg[160];
			snprintf(msg, sizeof(msg), "http: header %.64s refused by libmicrohttpd",
				 rs->hdrs[i].name);
			s->opts.log(s->opts.app, msg);
		}
	if (!has_header(rs, "Cache-Control"))
		MHD_add_response_header(r, "Cache-Control", "no-store");
	if (!has_header(rs, "X-Content-Type-Options"))
		MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (!has_header(rs, "Referrer-Policy"))
		MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

/* Queue rs on conn. A body moves to libmicrohttpd; a stream starts (or is refused). */
static enum MHD_Result send_resp(struct reqctx *rc, struct MHD_Connection *conn,
				 struct http_resp *rs)
{
	struct http_server *s = rc->srv;
	struct MHD_Response *r = NULL;
	if (rs->stream_ops) {
		bool stopping = false;
		r = stream_open(s, conn, rs, &stopping);
		rs->stream_ops = NULL;
		if (!r)
			http_problem_std(
			    rs, 503, stopping ? HTTP_P_STOPPING : HTTP_P_TOO_MANY_STREAMS,
			    stopping ? NULL : "Too many event streams are open; retry later.");
	}
	if (!r) {
		if (rs->status == 0)
			http_problem_std(rs, 500, HTTP_P_INTERNAL, NULL);
		if (rs->body_len) {
			r = MHD_create_response_from_buffer(rs->body_len, rs->body,
							    MHD_RESPMEM_MUST_FREE);
			if (r)
				rs->body = NULL, rs->body_len = 0;
		} else {
			r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		}
		if (!r)
			return MHD_NO;
	}
	add_headers(s, r, rs);
	rc->status = rs->status;
	rc->phase = PH_ANSWERED;
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)rs->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Answer a transport refusal (a fresh response, not the handler's). */
static enum MHD_Result refuse(struct reqctx *rc, struct MHD_Connection *conn, int status,
			      const char *slug, const char *detail, json_t *extra,
			      const char *allow)
{
	struct http_resp *rs = http_resp_new();
	if (extra)
		http_problem_ext(rs, status, slug, NULL, detail, extra);
	else
		http_problem_std(rs, status, slug, detail);
	if (allow)
		http_header(rs, "Allow", allow);
	enum MHD_Result r = send_resp(rc, conn, rs);
	http_resp_free(rs);
	return r;
}

static enum MHD_Result refuse_param(struct reqctx *rc, struct MHD_Connection *conn,
				    const struct http_match *m)
{
	char detail[200];
	snprintf(detail, sizeof(detail), "The path parameter %s %s.", m->bad_param, m->reason);
	struct http_resp *rs = http_resp_new();
	http_problem_ext(rs, 400, HTTP_P_BAD_PARAM, "Invalid path parameter", detail,
			 json_pack("{s:s}", "parameter", m->bad_param));
	enum MHD_Result r = send_resp(rc, conn, rs);
	http_resp_free(rs);
	return r;
}

/* ---- deferred answers -------------------------------------------------------------------- */

struct http_deferred *http_defer(struct http_resp *rs)
{
	struct http_deferred *d = xcalloc(1, sizeof(*d));
	pthread_mutex_init(&d->mu, NULL);
	d->rs = rs;
	d->rq = rs->rq; /* before the handler returns: a completer may read it at once */
	d->refs = 2;
	rs->deferred = d;
	return d;
}

struct http_resp *http_deferred_resp(struct http_deferred *d)
{
	return d->rs;
}

const struct http_req *http_deferred_req(struct http_deferred *d)
{
	return d->rq;
}

static void deferred_unref_locked(struct http_deferred *d, bool *ret_free)
{
	*ret_free = --d->refs == 0;
}

static void deferred_free(struct http_deferred *d)
{
	pthread_mutex_destroy(&d->mu);
	http_resp_free(d->rs);
	free(d);
}

void http_deferred_done(struct http_deferred *d)
{
	bool f;
	pthread_mutex_lock(&d->mu);
	d->done = true;
	if (d->park == PARK_SUSPENDED && !d->cancelled) {
		d->park = PARK_RUNNING;
		MHD_resume_connection(d->conn);
	}
	deferred_unref_locked(d, &f);
	pthread_mutex_unlock(&d->mu);
	if (f)
		deferred_free(d);
}

/* The transport lets go of d (its request ended). */
static void deferred_release(struct http_deferred *d)
{
	struct http_server *s = d->srv;
	if (s) {
		pthread_mutex_lock(&s->mu);
		if (d->linked) {
			if (d->prev)
				d->prev->next = d->next;
			else
				s->deferred = d->next;
			if (d->next)
				d->next->prev = d->prev;
			d->linked = false;
		}
		pthread_mutex_unlock(&s->mu);
	}
	bool f;
	pthread_mutex_lock(&d->mu);
	d->srv = NULL;
	deferred_unref_locked(d, &f);
	pthread_mutex_unlock(&d->mu);
	if (f)
		deferred_free(d);
}

/* After the handler deferred: park the connection unless the answer is already there. */
static enum MHD_Result park(struct reqctx *rc, struct MHD_Connection *conn)
{
	struct http_server *s = rc->srv;
	struct http_deferred *d = rc->rs->deferred;
	pthread_mutex_lock(&s->mu);
	pthread_mutex_lock(&d->mu);
	d->srv = s;
	d->conn = conn;
	bool ready = d->done, stopping = s->stopping;
	if (!ready && stopping)
		d->cancelled = true;
	if (!ready && !stopping) {
		d->park = PARK_SUSPENDED;
		d->next = s->deferred;
		if (s->deferred)
			s->deferred->prev = d;
		s->deferred = d;
		d->linked = true;
		rc->phase = PH_PARKED;
		MHD_suspend_connection(conn);
	}
	pthread_mutex_unlock(&d->mu);
	pthread_mutex_unlock(&s->mu);
	if (ready)
		return send_resp(rc, conn, d->rs);
	if (stopping)
		return refuse(rc, conn, 503, HTTP_P_STOPPING, NULL, NULL, NULL);
	return MHD_YES;
}

/* Resumed after parking: the completer's answer, or 503 if the server is stopping. */
static enum MHD_Result unpark(struct reqctx *rc, struct MHD_Connection *conn)
{
	struct http_deferred *d = rc->rs->deferred;
	pthread_mutex_lock(&d->mu);
	bool ready = d->done;
	if (!ready)
		d->cancelled = true;
	pthread_mutex_unlock(&d->mu);
	if (ready)
		return send_resp(rc, conn, d->rs);
	return refuse(rc, conn, 503, HTTP_P_STOPPING, NULL, NULL, NULL);
}

/* ---- the request's phases ---------------------------------------------------------------- */

static enum MHD_Result run_handler(struct reqctx *rc, struct MHD_Connection *conn)
{
	struct http_server *s = rc->srv;
	rc->rq.body = rc->body ? rc->body : "";
	rc->rq.body_len = rc->body_len;
	if (!rc->rs)
		rc->rs = http_resp_new();
	rc->rs->srv = s;
	rc->rs->rq = &rc->rq;
	rc->rq.route->handler(s->opts.app, &rc->rq, rc->rs);
	if (rc->rs->deferred)
		return park(rc, conn);
	return send_resp(rc, conn, rc->rs);
}

static enum MHD_Result begin(struct reqctx *rc, struct MHD_Connection *conn, const char *method)
{
	struct http_server *s = rc->srv;
	struct http_req *rq = &rc->rq;
	rc->handled = true;
	read_request(rc, conn, method);

	struct http_match m;
	enum http_match_status st =
	    http_router_match(s->router, rq->method, rq->path_raw, &rq->arena, &m);
	char detail[400], allow[80];
	switch (st) {
	case HTTP_MATCH_OK:
		break;
	case HTTP_MATCH_BAD_PATH:
		return refuse(rc, conn, 400, HTTP_P_BAD_PATH, m.reason, NULL, NULL);
	case HTTP_MATCH_NOT_FOUND:
		if (m.hint)
			snprintf(detail, sizeof(detail),
				 "No route for %.200s; routes never end with '/' (%s).",
				 rq->path_raw, m.hint);
		else
			snprintf(detail, sizeof(detail), "No route for %.200s.", rq->path_raw);
		return refuse(rc, conn, 404, HTTP_P_NOT_FOUND, detail, NULL, NULL);
	case HTTP_MATCH_BAD_METHOD:
		http_method_list(m.allow, allow, sizeof(allow));
		if (rq->method_bit == HTTP_OPTIONS) {
			struct http_resp *rs = http_resp_new();
			http_status(rs, 204);
			http_header(rs, "Allow", allow);
			enum MHD_Result r = send_resp(rc, conn, rs);
			http_resp_free(rs);
			return r;
		}
		snprintf(detail, sizeof(detail), "%.200s answers %s, not %.16s.", rq->path_raw,
			 allow, rq->method);
		return refuse(rc, conn, 405, HTTP_P_METHOD, detail, NULL, allow);
	case HTTP_MATCH_BAD_PARAM:
		return refuse_param(rc, conn, &m);
	}
	rq->route = m.route;
	memcpy(rq->params, m.params, sizeof(m.params));
	rq->n_params = m.n_params;

	const char *qerr = NULL;
	if (http_query_parse(rq->query_raw, &rq->arena, &rq->query, &rq->n_query, &qerr) < 0)
		return refuse(rc, conn, 400, HTTP_P_BAD_QUERY, qerr, NULL, NULL);

	if (s->opts.before) {
		rc->rs = http_resp_new();
		rc->rs->srv = s;
		rc->rs->rq = rq;
		if (!s->opts.before(s->opts.app, rq, rc->rs)) {
			if (rc->rs->deferred) { /* not allowed here: answer 500 */
				http_resp_clear_body(rc->rs);
				rc->rs->status = 0;
			}
			return send_resp(rc, conn, rc->rs);
		}
	}

	rc->limit = m.route->max_body ? m.route->max_body : s->opts.max_body;
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	if (cl) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(cl, &end, 10);
		if (errno || *end || end == cl)
			return refuse(rc, conn, 400, HTTP_P_BAD_REQUEST,
				      "Malformed Content-Length.", NULL, NULL);
		if (v > rc->limit) {
			/* A client that asked "Expect: 100-continue" has sent nothing yet: answer
			 * now. One that is already sending would, on most stacks, lose the answer
			 * to the reset that closing a socket with unread bytes causes (curl:
			 * "Failed sending data to the peer"): read and drop its body, then
			 * answer, unless that is more than max_discard. */
			const char *expect =
			    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
			if ((expect && strcasecmp(expect, "100-continue") == 0) ||
			    v - rc->limit > s->opts.max_discard) {
				snprintf(detail, sizeof(detail),
					 "The body is %llu bytes; this route accepts at most %zu.",
					 v, rc->limit);
				return refuse(rc, conn, 413, HTTP_P_TOO_LARGE, detail, NULL, NULL);
			}
			rc->phase = PH_DISCARD;
			return MHD_YES;
		}
		rc->expected = (size_t)v;
	}
	rc->phase = PH_BODY;
	return MHD_YES;
}

static enum MHD_Result take_body(struct reqctx *rc, const char *data, size_t n)
{
	if (rc->phase == PH_BODY && rc->body_len + n <= rc->limit) {
		/* Grow as bytes arrive (never by what Content-Length promises: a client that
		 * announces 1 MiB and sends nothing gets nothing allocated), up to the announced
		 * length or the limit. */
		if (rc->body_len + n + 1 > rc->body_cap) {
			size_t cap = rc->body_cap ? rc->body_cap : 16384;
			while (cap < rc->body_len + n + 1)
				cap *= 2;
			size_t most = rc->expected ? rc->expected + 1 : rc->limit + 1;
			if (cap > most)
				cap = most;
			rc->body = realloc(rc->body, cap);
			if (!rc->body)
				die_oom();
			rc->body_cap = cap;
		}
		memcpy(rc->body + rc->body_len, data, n);
		rc->body_len += n;
		rc->body[rc->body_len] = '\0';
		return MHD_YES;
	}
	if (rc->phase == PH_BODY) { /* crossed the limit: drop what was kept */
		rc->discarded = rc->body_len;
		free(rc->body);
		rc->body = NULL;
		rc->body_len = rc->body_cap = 0;
		rc->phase = PH_DISCARD;
	}
	rc->discarded += n;
	/* Past max_discard, stop reading and close: the client gets no answer. */
	return rc->discarded > rc->limit + rc->srv->opts.max_discard ? MHD_NO : MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct reqctx *rc = *con_cls;
	if (!rc) /* no URI callback ran (cannot happen with libmicrohttpd 0.9.75) */
		rc = *con_cls = uri_begin(s, url, conn);
	switch (rc->phase) {
	case PH_NEW:
		return begin(rc, conn, method);
	case PH_BODY:
	case PH_DISCARD:
		if (*upload_data_size) {
			enum MHD_Result r = take_body(rc, upload_data, *upload_data_size);
			*upload_data_size = 0;
			return r;
		}
		if (rc->phase == PH_DISCARD) {
			char detail[200];
			snprintf(detail, sizeof(detail),
				 "The body is over %zu bytes, the most this route accepts.",
				 rc->limit);
			return refuse(rc, conn, 413, HTTP_P_TOO_LARGE, detail, NULL, NULL);
		}
		return run_handler(rc, conn);
	case PH_PARKED:
		return unpark(rc, conn);
	case PH_ANSWERED:
		break;
	}
	*upload_data_size = 0;
	return MHD_YES;
}

/* ---- starting and stopping --------------------------------------------------------------- */

/* Read a PEM file whole (at most 1 MiB) and check that it holds what it should: the
 * certificate chain or an unencrypted private key. GnuTLS judges the rest. */
static int read_pem(const char *path, bool is_key, char **ret, char **ret_msg)
{
	const char *what = is_key ? "key" : "certificate";
	FILE *f = fopen(path, "re");
	if (!f) {
		int e = errno;
		*ret_msg = xasprintf("cannot read the TLS %s %s: %s", what, path, strerror(e));
		return -e;
	}
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < 1024 * 1024)
		buf_append(&b, chunk, n);
	bool err = ferror(f);
	fclose(f);
	const char *t = buf_str(&b);
	const char *why = NULL;
	if (err)
		why = "cannot be read";
	else if (b.len >= 1024 * 1024)
		why = "is over 1 MiB";
	else if (!is_key && !strstr(t, "-----BEGIN CERTIFICATE-----"))
		why = "holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
	else if (is_key && strstr(t, "ENCRYPTED"))
		why = "is encrypted (give an unencrypted key, readable by the server only)";
	else if (is_key && !strstr(t, "PRIVATE KEY-----"))
		why = "holds no PEM private key (-----BEGIN PRIVATE KEY-----)";
	if (why) {
		*ret_msg = xasprintf("the TLS %s %s %s", what, path, why);
		if (is_key)
			sodium_memzero(b.data, b.len);
		buf_free(&b);
		return -EPROTO;
	}
	*ret = buf_detach(&b);
	return 0;
}

static int open_listener(struct http_server *s, char **ret_msg)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *err;
	if (http_addr_parse(s->opts.listen, &ss, &len, &err) < 0) {
		*ret_msg = xasprintf("invalid listen address \"%s\": %s", s->opts.listen, err);
		return -EINVAL;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		int e = errno;
		*ret_msg = xasprintf("cannot listen on %s: %s", s->opts.listen, strerror(e));
		return -e;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 1024) < 0) {
		int e = errno;
		close(fd);
		const char *why =
		    e == EADDRINUSE	 ? "the address is already in use (another gust server, or "
					   "another program, listens there; choose another port)"
		    : e == EACCES	 ? "permission denied (ports below 1024 need privileges)"
		    : e == EADDRNOTAVAIL ? "no interface of this machine has that address"
					 : strerror(e);
		*ret_msg = xasprintf("cannot listen on %s: %s", s->opts.listen, why);
		return -e;
	}
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	getsockname(fd, (struct sockaddr *)&bound, &blen);
	http_addr_format((struct sockaddr *)&bound, s->address, sizeof(s->address));
	s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						    : ((struct sockaddr_in *)&bound)->sin_port);
	s->listen_fd = fd;
	return bound.ss_family == AF_INET6 ? 6 : 4;
}

static void server_free(struct http_server *s)
{
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	hub_close_fds(s);
	http_router_free(s->router);
	free(s->resume);
	if (s->tls_key)
		sodium_memzero(s->tls_key, strlen(s->tls_key));
	free(s->tls_cert);
	free(s->tls_key);
	free(s->start_err);
	pthread_cond_destroy(&s->drained);
	pthread_mutex_destroy(&s->wake_mu);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int http_server_start(const struct http_server_options *opts, struct http_server **ret,
		      char **ret_msg)
{
	struct http_server *s = xcalloc(1, sizeof(*s));
	s->opts = *opts;
	http_server_options_defaults(&s->opts);
	s->listen_fd = s->epfd = s->evfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->wake_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->drained, &ca);
	pthread_condattr_destroy(&ca);
	int r = 0;

	if (!!s->opts.tls_cert_file != !!s->opts.tls_key_file) {
		*ret_msg = xstrdup("TLS needs both a certificate and a key file");
		r = -EINVAL;
		goto fail;
	}
	s->tls = s->opts.tls_cert_file != NULL;
	if (s->tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		*ret_msg = xstrdup("this libmicrohttpd was built without TLS support");
		r = -ENOTSUP;
		goto fail;
	}
	if (s->tls && ((r = read_pem(s->opts.tls_cert_file, false, &s->tls_cert, ret_msg)) < 0 ||
		       (r = read_pem(s->opts.tls_key_file, true, &s->tls_key, ret_msg)) < 0))
		goto fail;
	if ((r = http_router_new(s->opts.routes, s->opts.n_routes, &s->router, ret_msg)) < 0)
		goto fail;
	int family = open_listener(s, ret_msg);
	if (family < 0) {
		r = family;
		goto fail;
	}
	if ((r = hub_start(s)) < 0) {
		*ret_msg = xasprintf("cannot start the event stream thread: %s", strerror(-r));
		goto fail;
	}

	/* libmicrohttpd closes the socket it is given if it fails to start: give it a copy. */
	int mfd = fcntl(s->listen_fd, F_DUPFD_CLOEXEC, 0);
	if (mfd < 0) {
		r = -errno;
		*ret_msg = xasprintf("cannot listen on %s: %s", s->opts.listen, strerror(-r));
		goto fail;
	}
	unsigned flags =
	    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (family == 6)
		flags |= MHD_USE_IPv6;
	if (s->tls)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem tls_opts[] = {
	    {s->tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, s->tls_key},
	    {MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert},
	    {MHD_OPTION_END, 0, NULL},
	};
	s->daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
	    MHD_OPTION_LISTEN_SOCKET, mfd, MHD_OPTION_THREAD_POOL_SIZE, s->opts.threads,
	    MHD_OPTION_CONNECTION_LIMIT, s->opts.max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->opts.max_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
	    s->opts.idle_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->opts.conn_memory,
	    MHD_OPTION_URI_LOG_CALLBACK, uri_begin, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape_none,
	    s, MHD_OPTION_NOTIFY_COMPLETED, request_done, s, MHD_OPTION_ARRAY, tls_opts,
	    MHD_OPTION_END);
	if (!s->daemon) {
		if (s->tls) {
			*ret_msg =
			    xasprintf("TLS refused the certificate %s or the key %s%s%s",
				      s->opts.tls_cert_file, s->opts.tls_key_file,
				      s->start_err ? ": " : "", s->start_err ? s->start_err : "");
			r = -EPROTO;
		} else {
			*ret_msg =
			    xasprintf("cannot start the HTTP server on %s%s%s", s->address,
				      s->start_err ? ": " : "", s->start_err ? s->start_err : "");
			r = -EIO;
		}
		goto fail;
	}
	atomic_store(&s->started, true);
	struct rlimit rl;
	if (s->opts.log && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)s->opts.max_connections + 64) {
		char msg[200];
		snprintf(msg, sizeof(msg),
			 "http: the open file limit (%llu) is below max_connections (%u): raise it "
			 "(ulimit -n, or LimitNOFILE= under systemd)",
			 (unsigned long long)rl.rlim_cur, s->opts.max_connections);
		s->opts.log(s->opts.app, msg);
	}
	/* libmicrohttpd listens on its copy; ours would only keep the port bound after stop. */
	close(s->listen_fd);
	s->listen_fd = -1;
	*ret = s;
	return 0;
fail:
	hub_stop(s, 0);
	server_free(s);
	return r;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	/* End streams and parked answers first (libmicrohttpd aborts if stopped with a
	 * connection suspended), then close the rest and join the pool. No MHD_quiesce_daemon()
	 * before: in 0.9.75 with a thread pool it races the workers' own removal of the
	 * listening socket from their epoll sets and can abort ("Failed to remove listen FD
	 * from epoll set"); connections accepted during the drain are served, new streams
	 * refused. */
	hub_stop(s, 500);
	MHD_stop_daemon(s->daemon);
	server_free(s);
}

uint16_t http_server_port(const struct http_server *s)
{
	return s->port;
}

const char *http_server_address(const struct http_server *s)
{
	return s->address;
}

const struct http_router *http_server_router(const struct http_server *s)
{
	return s->router;
}
