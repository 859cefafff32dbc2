/*
 * api_logs.c - a task instance's log: a range or its last lines, or followed live as
 * Server-Sent Events until the attempt ends (docs/api.md "Logs").
 *
 * The log is read from the attempt folder the store names (never a path from the request),
 * as the supervisor wrote it, secrets already masked. A followed log is a stream of the
 * transport (it holds no thread while idle); the loop wakes the log streams at most every
 * LOG_WAKE_MS through api_loop_turned, and each wake reads what was appended since. Each event
 * carries whole lines and its end offset as its id, so a client that reconnects with
 * Last-Event-ID loses and repeats nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/buf.h"
#include "base/util.h"

/* The most bytes of a log one answer or one event carries. */
#define LOG_PAGE_MAX (4u * 1024 * 1024)
#define LOG_EVENT_MAX (48u * 1024)
/* How often a followed log looks at the store for an attempt not begun or lost. */
#define LOG_STORE_CHECK_MS 1000

struct log_stream {
	struct api *a;
	char *run_id, *task_id;
	int32_t map_index, try_number;
	char *dir; /* NULL until the attempt exists */
	int64_t off;
	int64_t checked_mono; /* the last look at the store */
	bool ended;	      /* the store says the attempt is over */
	bool no_attempt;      /* none came and none can */
};

static void set_int_header(struct http_resp *rs, const char *name, int64_t v)
{
	char b[24];
	snprintf(b, sizeof(b), "%lld", (long long)v);
	http_header(rs, name, b);
}

/* Look at the store (at most every LOG_STORE_CHECK_MS): the attempt, and whether it ended. */
static void log_check_store(struct log_stream *ls, bool now)
{
	int64_t mono = mono_ms();
	if (!now && mono - ls->checked_mono < LOG_STORE_CHECK_MS)
		return;
	ls->checked_mono = mono;
	struct store *st = api_store_try(ls->a);
	if (!st)
		return;
	struct ops_log_ref ref;
	struct ops_err err = {0};
	if (ops_log_attempt(st, ls->run_id, ls->task_id, ls->map_index, ls->try_number, &ref,
			    &err) == 0) {
		if (!ls->dir)
			ls->dir = xstrdup(ref.dir);
		ls->ended = ref.ended;
		ops_log_ref_free(&ref);
	} else {
		ls->no_attempt = !ref.pending;
	}
	ops_err_free(&err);
	api_store_put(ls->a, st);
}

static int log_produce(void *ctx, struct buf *out)
{
	struct log_stream *ls = ctx;
	if (!ls->dir) {
		log_check_store(ls, false);
		if (!ls->dir) {
			if (!ls->no_attempt)
				return HTTP_STREAM_MORE;
			http_sse_event(out, "end", NULL, "{\"reason\":\"no attempt\"}");
			return HTTP_STREAM_END;
		}
	}
	/* Over first, then read to the end: nothing written before the outcome is lost. */
	bool over = ops_log_outcome_written(ls->dir);
	if (!over) {
		log_check_store(ls, false);
		over = ls->ended;
	}
	struct buf chunk = BUF_INIT;
	int64_t start, end;
	int e = ops_log_read(ls->dir, ls->off, 0, LOG_EVENT_MAX, &chunk, &start, &end);
	if (e < 0 && e != -ENOENT) {
		buf_free(&chunk);
		return e;
	}
	size_t len = e == 0 ? (size_t)(end - start) : 0;
	const char *text = buf_str(&chunk);
	/* Whole lines only, unless the attempt is over or one line fills the event. */
	if (len && !over && len < LOG_EVENT_MAX) {
		const char *nl = memrchr(text, '\n', len);
		len = nl ? (size_t)(nl - text) + 1 : 0;
	}
	if (len) {
		char id[24];
		ls->off += (int64_t)len;
		snprintf(id, sizeof(id), "%lld", (long long)ls->off);
		char *data = xstrndup(text, len);
		/* The final newline ends the last data line; the client joins lines with one. */
		if (len && data[len - 1] == '\n')
			data[len - 1] = '\0';
		http_sse_event(out, "log", id, data);
		free(data);
	}
	bool more_to_read = e == 0 && end - start > (int64_t)len;
	buf_free(&chunk);
	if (over && !more_to_read && !len) {
		char d[64];
		snprintf(d, sizeof(d), "{\"offset\":%lld}", (long long)ls->off);
		http_sse_event(out, "end", NULL, d);
		return HTTP_STREAM_END;
	}
	return HTTP_STREAM_MORE;
}

static void log_close(void *ctx, enum http_stream_end why)
{
	(void)why;
	struct log_stream *ls = ctx;
	atomic_fetch_sub(&ls->a->n_log_streams, 1);
	free(ls->run_id);
	free(ls->task_id);
	free(ls->dir);
	free(ls);
}

static const struct http_stream_ops log_stream_ops = {log_produce, log_close};

/* GET /api/v1/runs/{run_id}/tasks/{task_id}/logs?map_index=&try=&offset=&tail=&follow= */
void api_get_task_logs(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"map_index", "try", "offset", "tail", "follow", NULL};
	if (!api_query_only(rq, rs, known))
		return;
	int64_t map_index = -1, try_number = 0, offset = 0, tail = 0;
	int follow = 0;
	if (api_query_int(rq, rs, "map_index", 0, INT32_MAX, &map_index) < 0 ||
	    api_query_int(rq, rs, "try", 1, INT32_MAX, &try_number) < 0 ||
	    api_query_int(rq, rs, "offset", 0, INT64_MAX, &offset) < 0 ||
	    api_query_int(rq, rs, "tail", 1, 100000, &tail) < 0 ||
	    api_query_bool(rq, rs, "follow", &follow) < 0)
		return;
	const char *last = http_req_header(rq, "Last-Event-ID");
	if (follow && last) {
		char *end = NULL;
		long long v = strtoll(last, &end, 10);
		if (*last && !*end && v >= 0)
			offset = v;
	}
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	const char *run_id = http_req_param(rq, "run_id"), *task_id = http_req_param(rq, "task_id");
	struct ops_log_ref ref;
	struct ops_err err = {0};
	int r = ops_log_attempt(st, run_id, task_id, (int32_t)map_index, (int32_t)try_number, &ref,
				&err);
	api_store_put(a, st);
	if (r < 0 && !(follow && ref.pending)) {
		api_ops_problem(rs, &err);
		ops_err_free(&err);
		return;
	}
	ops_err_free(&err);
	if (follow) {
		struct log_stream *ls = xcalloc(1, sizeof(*ls));
		*ls = (struct log_stream){.a = a,
					  .run_id = xstrdup(run_id),
					  .task_id = xstrdup(task_id),
					  .map_index = (int32_t)map_index,
					  .try_number = (int32_t)try_number,
					  .dir = r == 0 ? xstrdup(ref.dir) : NULL,
					  .off = offset,
					  .checked_mono = mono_ms(),
					  .ended = r == 0 && ref.ended};
		if (r == 0)
			ops_log_ref_free(&ref);
		atomic_fetch_add(&a->n_log_streams, 1);
		http_stream(rs, &log_stream_ops, ls, API_KEY_LOGS);
		return;
	}
	struct buf b = BUF_INIT;
	int64_t start = 0, end = 0;
	int e = ops_log_read(ref.dir, offset, tail, LOG_PAGE_MAX, &b, &start, &end);
	if (e == -ENOENT) {
		http_problem(rs, 404, "not-found", "Not found",
			     ref.ended ? "the attempt ended without writing a log"
				       : "the attempt has not written its log yet");
	} else if (e < 0) {
		http_error(rs, 500, NULL);
	} else {
		bool complete = ops_log_outcome_written(ref.dir) || ref.ended;
		size_t n = (size_t)(end - start);
		http_body_take(rs, 200, "text/plain; charset=utf-8", buf_detach(&b), n);
		set_int_header(rs, "X-Gust-Try", ref.try_number);
		set_int_header(rs, "X-Gust-Log-Start", start);
		set_int_header(rs, "X-Gust-Log-End", end);
		http_header(rs, "X-Gust-Log-Complete", complete ? "true" : "false");
		if (complete)
			http_etag(rq, rs);
	}
	buf_free(&b);
	ops_log_ref_free(&ref);
}
