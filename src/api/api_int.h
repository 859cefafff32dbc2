/*
 * api_int.h - what the files of src/api share: the struct api, the route flags, the ways of a
 * handler to its store connection, to compiled DAGs and to the scheduling loop, and the small
 * helpers every route uses to read a request and to answer an error.
 *
 *   api.c        start and stop, the route table, authentication (the transport's `before`)
 *   api_store.c  store connections for handler threads; compiled DAGs shared by them
 *   api_jobs.c   requests handed to the loop (an eventfd and a queue; answers deferred)
 *   api_util.c   query and body parsing, ops errors as problems
 *   api_dags.c, api_runs.c, api_tasks.c, api_pools.c   the routes, each over src/ops
 */
#ifndef GUST_API_API_INT_H
#define GUST_API_API_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "api/api.h"
#include "http/http.h"
#include "ops/ops.h"

struct api_dagcache;
struct api_job;
struct api_deploy;
struct api_auth;
struct ops_actor;
struct ops_principal;
enum auth_role;

struct api {
	struct api_options opts; /* its strings are the copies below */
	char *home, *store_url, *dags_dir;
	struct http_server *http;
	int64_t started_mono;
	_Atomic int64_t last_turn_mono;

	/* Store connections not in use by a handler (api_store.c). */
	pthread_mutex_t stores_mu;
	struct store **free_stores;
	size_t n_free, cap_free;
	struct api_dagcache *dags;
	struct ops_dags dags_ops; /* over `dags`, for ops_ctx */

	/* Requests for the loop (api_jobs.c). */
	pthread_mutex_t jobs_mu;
	struct api_job *jobs_head, **jobs_tail;
	int efd;
	struct api_deploy *deploys; /* waiting for the loop to see them loaded */
	_Atomic size_t n_deploys;

	struct api_auth *auth; /* api_auth.c */

	/* Followed logs (api_logs.c), woken by the loop's turns. */
	_Atomic size_t n_log_streams;
	_Atomic int64_t logs_woken_mono;
};

/* Stream keys for http_server_wake. */
#define API_KEY_LOGS 1
/* The loop wakes followed logs at most this often. */
#define LOG_WAKE_MS 200

/* ---- api_store.c ------------------------------------------------------------------------ */

int api_stores_init(struct api *a);
void api_stores_free(struct api *a);
/* A store connection for this request (give it back with api_store_put), or NULL after
 * answering 503. */
struct store *api_store_get(struct api *a, struct http_resp *rs);
void api_store_put(struct api *a, struct store *st);
/* The same without an answer: NULL when the store cannot be opened now (a stream's check). */
struct store *api_store_try(struct api *a);
/* The server's clock (the wall clock plus --now's offset), as the loop's server_now(). */
int64_t api_now(const struct api *a);
/* An ops context on `st` at the server's clock, with the shared compiled DAGs. */
struct ops_ctx api_ctx(struct api *a, struct store *st);

/* ---- api_jobs.c ------------------------------------------------------------------------- */

int api_jobs_init(struct api *a);
void api_jobs_free(struct api *a);
/* Hand a write request to the loop: the answer is deferred until the loop applied it. Takes
 * *rq (its strings are the job's now). */
void api_submit(struct api *a, const struct http_req *hrq, struct http_resp *rs,
		struct ops_req *rq, int success_status);
/* Park the answer of a deploy until the loop sees `hash` loaded as the DAG's current version
 * (200 with it), or for wait_ms (202: written, not loaded yet). */
/* Park the answer of GET .../why until the loop has explained the instance (the reasons
 * need the loop's compiled DAGs and its limits). */
void api_submit_why(struct api *a, struct http_resp *rs, const char *run_id,
		    const char *task_id, int32_t map_index);
void api_wait_deploy(struct api *a, struct http_resp *rs, const char *dag_id, const char *hash,
		     const char *file, int64_t wait_ms);
/* Ask the loop to look at the store now (a run was queued). */
void api_poke(struct api *a);

/* ---- api_auth.c ------------------------------------------------------------------------- */

int api_auth_init(struct api *a, char **ret_msg);
void api_auth_free(struct api *a);
/* The `before` hook's check: credentials (token, or session cookie plus CSRF for a write) and
 * a role that allows `need`; false after answering 401 or 403. */
bool api_authenticate(struct api *a, struct http_req *rq, struct http_resp *rs,
		      enum auth_role need);
/* Who the request is from (after api_authenticate), and as an actor for ops and the audit. */
const struct ops_principal *api_principal(const struct http_req *rq);
struct ops_actor api_actor(const struct http_req *rq);
/* The master key (GUST_HOME/secret.key): CSRF tokens, secrets at rest. */
struct auth_key;
const struct auth_key *api_auth_key(const struct api *a);

/* ---- api_util.c ------------------------------------------------------------------------- */

/* An ops error as a problem (its kind's status and slug, its sentence as the detail). */
void api_ops_problem(struct http_resp *rs, const struct ops_err *err);
/* An ops answer: {outcome, ...body} with `status` (202 for a start, 200 otherwise). */
void api_answer(struct http_resp *rs, const struct ops_answer *ans, int status);
/* Query parameters. Each returns 0 (absent: *ret untouched) or -1 after answering 400. */
int api_query_bool(const struct http_req *rq, struct http_resp *rs, const char *key, int *ret);
int api_query_int(const struct http_req *rq, struct http_resp *rs, const char *key, int64_t min,
		  int64_t max, int64_t *ret);
/* Refuse query keys not in the NULL-terminated `known` (400 naming the first unknown). */
bool api_query_only(const struct http_req *rq, struct http_resp *rs, const char *const *known);
/* The body as a JSON object whose keys are all in `known` (NULL-terminated), or NULL after
 * answering (400 bad-json, 415, 422 for another type or an unknown key). An empty body is {}
 * when `empty_ok`. */
json_t *api_body_object(const struct http_req *rq, struct http_resp *rs, const char *const *known,
			bool empty_ok);
/* JSON with an ETag: 304 for a GET whose If-None-Match matches. */
void api_json_etag(const struct http_req *rq, struct http_resp *rs, json_t *j);

/* ---- routes ----------------------------------------------------------------------------- */

#define API_ROUTE_DECL(name) void name(void *app, struct http_req *rq, struct http_resp *rs)
API_ROUTE_DECL(api_post_login);
API_ROUTE_DECL(api_post_logout);
API_ROUTE_DECL(api_get_me);
API_ROUTE_DECL(api_get_dags);
API_ROUTE_DECL(api_get_dag);
API_ROUTE_DECL(api_get_dag_source);
API_ROUTE_DECL(api_put_dag_source);
API_ROUTE_DECL(api_delete_dag);
API_ROUTE_DECL(api_post_dags_validate);
API_ROUTE_DECL(api_patch_dag);
API_ROUTE_DECL(api_post_dag_runs);
API_ROUTE_DECL(api_get_runs);
API_ROUTE_DECL(api_get_run);
API_ROUTE_DECL(api_post_run_cancel);
API_ROUTE_DECL(api_get_run_tasks);
API_ROUTE_DECL(api_get_task);
API_ROUTE_DECL(api_post_task_clear);
API_ROUTE_DECL(api_post_task_mark);
API_ROUTE_DECL(api_get_task_logs);
API_ROUTE_DECL(api_get_task_why);
API_ROUTE_DECL(api_get_users);
API_ROUTE_DECL(api_get_user);
API_ROUTE_DECL(api_put_user);
API_ROUTE_DECL(api_delete_user);
API_ROUTE_DECL(api_get_tokens);
API_ROUTE_DECL(api_post_tokens);
API_ROUTE_DECL(api_delete_token);
API_ROUTE_DECL(api_get_audit);
API_ROUTE_DECL(api_get_variables);
API_ROUTE_DECL(api_get_variable);
API_ROUTE_DECL(api_put_variable);
API_ROUTE_DECL(api_delete_variable);
API_ROUTE_DECL(api_get_connections);
API_ROUTE_DECL(api_get_connection);
API_ROUTE_DECL(api_put_connection);
API_ROUTE_DECL(api_delete_connection);
API_ROUTE_DECL(api_get_pools);
API_ROUTE_DECL(api_get_pool);
API_ROUTE_DECL(api_put_pool);
API_ROUTE_DECL(api_delete_pool);

#endif
