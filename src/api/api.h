/*
 * api.h - the HTTP API of `gust server` (docs/api.md): the routes under /api/v1 over the HTTP
 * transport (src/http), each a thin layer over the operations (src/ops).
 *
 * Threads: handlers run on the transport's threads, never the scheduling loop's. What they
 * need of the loop they learn through what the server publishes here (api_loop_turned, from
 * the loop's thread; atomics, no lock) and, for writes, through requests the loop applies.
 *
 * Routes so far: GET /api/v1/health, the one route without authentication: the status, the
 * version, and the age of the loop's last turn; 503 while the server starts (before the loop's
 * first turn) and when the loop has not turned for `health_stall` (a loop that waits for
 * nothing still turns every quarter of a second).
 */
#ifndef GUST_API_API_H
#define GUST_API_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct api;
struct buf;
struct ops_req;
struct ops_answer;
struct ops_err;

/* What the loop does for the API, on the loop's thread (api_run_jobs). */
struct api_loop {
	/* Apply a write request as a stored command is applied (server_ops_apply). */
	int (*apply)(void *ctx, const struct ops_req *rq, struct ops_answer *ans,
		     struct ops_err *err);
	/* Look at the store now: a handler queued a run (NULL: nothing). */
	void (*poked)(void *ctx);
	/* Why TASK (MAP_INDEX, -2: not given) of RUN is not running (server/why.h): 0 with
	 * *ret a new object, or -1 with *err (NULL: the route answers 503). */
	int (*why)(void *ctx, const char *run_id, const char *task_id, int32_t map_index,
		   json_t **ret, struct ops_err *err);
	void *ctx;
};

struct api_options {
	const char *listen;		/* "ADDR:PORT"; NULL: 127.0.0.1:8080 */
	const char *tls_cert, *tls_key; /* PEM files, both or neither */
	int64_t health_stall_ms;	/* > 0 */
	void (*log)(const char *msg);	/* one line for the server's log; NULL: none */
	const char *home;		/* GUST_HOME: the key file for CSRF tokens is there */
	const char *dags_dir;		/* the DAG folder deploys write into (NULL: none) */
	const char *store_url;		/* the store the handlers read (their own connections) */
	int64_t clock_offset_ms;	/* the server's clock minus the wall clock (--now) */
	struct api_loop loop;
	/* GET /metrics: write the Prometheus text format into `out` (NULL: no metrics, an empty
	 * answer). Called on an HTTP thread: it must read only what the loop publishes, never
	 * wait on the loop. */
	void (*metrics)(void *ctx, struct buf *out);
	void *metrics_ctx;
	bool metrics_public; /* the config's metrics: {public: true}: no credentials needed */
};

/* Listen and serve. 0, or a negative errno with *ret_msg (malloc'd, for the operator). */
int api_start(const struct api_options *o, struct api **ret, char **ret_msg);
/* Stop serving (parked requests answered 503); NULL is a no-op. */
void api_stop(struct api *a);
/* "127.0.0.1:8080" as bound (the port the kernel chose for port 0). */
const char *api_address(const struct api *a);
/* The loop turned at `mono_ms` (mono_ms()): called by the loop, read by the handlers. */
void api_loop_turned(struct api *a, int64_t mono_ms);
/* The descriptor the loop polls for the API's requests (readable: call api_run_jobs). */
int api_fd(const struct api *a);
/* On the loop's thread: apply what the handlers queued and answer their clients. */
void api_run_jobs(struct api *a);
/* On the loop's thread, each turn: answer the deploys whose file is now loaded (or that waited
 * long enough), as `st`, the loop's store connection, says. */
struct store;
void api_check_deploys(struct api *a, struct store *st);

/* Route flags: the least role a route needs (auth_role values in the low byte), or public. */
#define API_ROLE_MASK 0xffu
#define API_PUBLIC (1u << 8)
/* Needs its role unless the server's config makes it public (GET /metrics). */
#define API_METRICS (1u << 9)

/* The route table (the test that compares it with docs/openapi.yaml reads it). */
struct http_route;
const struct http_route *api_routes(size_t *ret_n);

/* The health answer (pure, for tests): the body and its HTTP status (200 or 503). */
json_t *api_health_json(int64_t now_mono_ms, int64_t last_turn_mono_ms, int64_t started_mono_ms,
			int64_t stall_ms, int *ret_status);

#endif
