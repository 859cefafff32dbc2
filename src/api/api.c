/*
 * api.c - the API's server: its route table over the transport, and what the loop publishes
 * for the handlers (see api.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "auth/role.h"
#include "auth/secretbox.h"
#include "base/util.h"
#include "base/version.h"

json_t *api_health_json(int64_t now_mono_ms, int64_t last_turn_mono_ms, int64_t started_mono_ms,
			int64_t stall_ms, int *ret_status)
{
	/* Before the loop's first turn (the start-up: the DAG folder, restoring runs), the age
	 * counts from the start and the server is not ready yet. */
	int64_t since = last_turn_mono_ms ? last_turn_mono_ms : started_mono_ms;
	int64_t age = now_mono_ms > since ? now_mono_ms - since : 0;
	const char *status = !last_turn_mono_ms ? "starting" : age >= stall_ms ? "stalled" : "ok";
	*ret_status = strcmp(status, "ok") == 0 ? 200 : 503;
	return json_pack("{s:s, s:s, s:I, s:I, s:I}", "status", status, "version", GUST_VERSION,
			 "loop_turn_age_ms", (json_int_t)age, "health_stall_ms",
			 (json_int_t)stall_ms, "uptime_ms",
			 (json_int_t)(now_mono_ms - started_mono_ms));
}

static void get_health(void *app, struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct api *a = app;
	int status;
	json_t *j = api_health_json(mono_ms(), atomic_load(&a->last_turn_mono), a->started_mono,
				    a->opts.health_stall_ms, &status);
	http_json(rs, status, j);
}

/* GET /metrics (docs/metrics.md): outside /api/v1, where Prometheus looks by default. */
static void get_metrics(void *app, struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct api *a = app;
	struct buf out = {0};
	if (a->opts.metrics) /* else no metric: an empty exposition is a valid one */
		a->opts.metrics(a->opts.metrics_ctx, &out);
	size_t len = out.len;
	http_body_take(rs, 200, "text/plain; version=0.0.4; charset=utf-8", buf_detach(&out), len);
}

#define VIEWER AUTH_ROLE_VIEWER
#define OPERATOR AUTH_ROLE_OPERATOR
#define EDITOR AUTH_ROLE_EDITOR
#define ADMIN AUTH_ROLE_ADMIN
/* The largest DAG file a deploy or a validation takes (the folder itself takes up to 64 MiB). */
#define DEPLOY_MAX_BODY (16u * 1024 * 1024)

/* The routes; docs/openapi.yaml describes each (a test compares the two). */
static const struct http_route routes[] = {
    {"GET", "/api/v1/health", get_health, API_PUBLIC, 0},
    {"POST", "/api/v1/auth/login", api_post_login, API_PUBLIC, 4096},
    {"POST", "/api/v1/auth/logout", api_post_logout, VIEWER, 0},
    {"GET", "/api/v1/auth/me", api_get_me, VIEWER, 0},
    {"GET", "/api/v1/dags", api_get_dags, VIEWER, 0},
    {"GET", "/api/v1/dags/{dag_id}", api_get_dag, VIEWER, 0},
    {"PATCH", "/api/v1/dags/{dag_id}", api_patch_dag, OPERATOR, 0},
    {"DELETE", "/api/v1/dags/{dag_id}", api_delete_dag, EDITOR, 0},
    {"GET", "/api/v1/dags/{dag_id}/source", api_get_dag_source, VIEWER, 0},
    {"PUT", "/api/v1/dags/{dag_id}/source", api_put_dag_source, EDITOR, DEPLOY_MAX_BODY},
    {"POST", "/api/v1/dags/validate", api_post_dags_validate, VIEWER, DEPLOY_MAX_BODY},
    {"POST", "/api/v1/dags/{dag_id}/runs", api_post_dag_runs, OPERATOR, 0},
    {"GET", "/api/v1/runs", api_get_runs, VIEWER, 0},
    {"GET", "/api/v1/runs/{run_id}", api_get_run, VIEWER, 0},
    {"POST", "/api/v1/runs/{run_id}/cancel", api_post_run_cancel, OPERATOR, 0},
    {"GET", "/api/v1/runs/{run_id}/tasks", api_get_run_tasks, VIEWER, 0},
    {"GET", "/api/v1/runs/{run_id}/tasks/{task_id}", api_get_task, VIEWER, 0},
    {"POST", "/api/v1/runs/{run_id}/tasks/{task_id}/clear", api_post_task_clear, OPERATOR, 0},
    {"POST", "/api/v1/runs/{run_id}/tasks/{task_id}/mark", api_post_task_mark, OPERATOR, 0},
    {"GET", "/api/v1/runs/{run_id}/tasks/{task_id}/logs", api_get_task_logs, VIEWER, 0},
    {"GET", "/api/v1/runs/{run_id}/tasks/{task_id}/why", api_get_task_why, VIEWER, 0},
    {"GET", "/api/v1/pools", api_get_pools, VIEWER, 0},
    {"GET", "/api/v1/pools/{name}", api_get_pool, VIEWER, 0},
    {"PUT", "/api/v1/pools/{name}", api_put_pool, EDITOR, 0},
    {"DELETE", "/api/v1/pools/{name}", api_delete_pool, EDITOR, 0},
    {"GET", "/api/v1/variables", api_get_variables, VIEWER, 0},
    {"GET", "/api/v1/variables/{key}", api_get_variable, VIEWER, 0},
    {"PUT", "/api/v1/variables/{key}", api_put_variable, EDITOR, AUTH_SECRET_MAX + 4096},
    {"DELETE", "/api/v1/variables/{key}", api_delete_variable, EDITOR, 0},
    {"GET", "/api/v1/connections", api_get_connections, VIEWER, 0},
    {"GET", "/api/v1/connections/{name}", api_get_connection, VIEWER, 0},
    {"PUT", "/api/v1/connections/{name}", api_put_connection, ADMIN, 65536},
    {"DELETE", "/api/v1/connections/{name}", api_delete_connection, ADMIN, 0},
    {"GET", "/api/v1/users", api_get_users, ADMIN, 0},
    {"GET", "/api/v1/users/{name}", api_get_user, VIEWER, 0},
    {"PUT", "/api/v1/users/{name}", api_put_user, VIEWER, 4096},
    {"DELETE", "/api/v1/users/{name}", api_delete_user, ADMIN, 0},
    {"GET", "/api/v1/tokens", api_get_tokens, VIEWER, 0},
    {"POST", "/api/v1/tokens", api_post_tokens, VIEWER, 4096},
    {"DELETE", "/api/v1/tokens/{id}", api_delete_token, VIEWER, 0},
    {"GET", "/api/v1/audit", api_get_audit, ADMIN, 0},
    /* Last: fuzz_api's corpus picks routes by their index in this table. */
    {"GET", "/metrics", get_metrics, VIEWER | API_METRICS, 0},
};

const struct http_route *api_routes(size_t *ret_n)
{
	*ret_n = ARRAY_SIZE(routes);
	return routes;
}

/* Every route but the public ones needs a caller whose role allows what the route needs. */
static bool before(void *app, struct http_req *rq, struct http_resp *rs)
{
	struct api *a = app;
	if (rq->route->flags & API_PUBLIC)
		return true;
	if ((rq->route->flags & API_METRICS) && a->opts.metrics_public)
		return true;
	return api_authenticate(app, rq, rs, (enum auth_role)(rq->route->flags & API_ROLE_MASK));
}

static void transport_log(void *app, const char *msg)
{
	struct api *a = app;
	if (a->opts.log) {
		char *line = xasprintf("http: %s", msg);
		a->opts.log(line);
		free(line);
	}
}

static void api_free(struct api *a)
{
	free(a->home);
	free(a->store_url);
	free(a->dags_dir);
	free(a);
}

int api_start(const struct api_options *o, struct api **ret, char **ret_msg)
{
	struct api *a = xcalloc(1, sizeof(*a));
	a->opts = *o;
	/* The caller's strings may not outlive the call. */
	a->opts.home = a->home = xstrdup(o->home ? o->home : ".");
	a->opts.store_url = a->store_url = xstrdup(o->store_url ? o->store_url : ":memory:");
	a->opts.dags_dir = a->dags_dir = o->dags_dir ? xstrdup(o->dags_dir) : NULL;
	a->started_mono = mono_ms();
	atomic_init(&a->last_turn_mono, 0);
	int e = api_jobs_init(a);
	if (e < 0) {
		*ret_msg = xasprintf("cannot make the API's eventfd: %s", strerror(-e));
		api_free(a);
		return e;
	}
	api_stores_init(a);
	if ((e = api_auth_init(a, ret_msg)) < 0) {
		api_stores_free(a);
		api_jobs_free(a);
		api_free(a);
		return e;
	}
	struct http_server_options ho = {0};
	ho.listen = o->listen;
	ho.tls_cert_file = o->tls_cert;
	ho.tls_key_file = o->tls_key;
	ho.routes = routes;
	ho.n_routes = ARRAY_SIZE(routes);
	ho.app = a;
	ho.log = transport_log;
	ho.before = before;
	/* The scheduling loop first: a burst of API requests must not delay task starts
	 * (bench/README.md "HTTP API": W1 under load). */
	ho.nice = 10;
	e = http_server_start(&ho, &a->http, ret_msg);
	if (e < 0) {
		api_auth_free(a);
		api_stores_free(a);
		api_jobs_free(a);
		api_free(a);
		return e;
	}
	*ret = a;
	return 0;
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	http_server_stop(a->http);
	api_jobs_free(a);
	api_auth_free(a);
	api_stores_free(a);
	api_free(a);
}

const char *api_address(const struct api *a)
{
	return http_server_address(a->http);
}

void api_loop_turned(struct api *a, int64_t mono)
{
	if (!a)
		return;
	atomic_store_explicit(&a->last_turn_mono, mono, memory_order_relaxed);
	/* Followed logs read what was appended since their last wake. */
	if (atomic_load(&a->n_log_streams) &&
	    mono - atomic_load(&a->logs_woken_mono) >= LOG_WAKE_MS) {
		atomic_store(&a->logs_woken_mono, mono);
		http_server_wake(a->http, API_KEY_LOGS);
	}
}
