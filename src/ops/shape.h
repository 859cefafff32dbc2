/*
 * shape.h - the one JSON shape of each object the user sees (ADR 0007).
 *
 * `gust ... --json`, `gust dags test --json` and the HTTP API print these and nothing else, so
 * a script written against one works against the others. Times are UTC strings with
 * milliseconds ("2024-03-01T00:00:05.123Z") or null; absent numbers are null, not -1; stored
 * JSON (params, outputs, items) is embedded as JSON. `now` is used for the duration of what has
 * not ended yet. Each function returns a new reference.
 */
#ifndef GUST_OPS_SHAPE_H
#define GUST_OPS_SHAPE_H

#include <jansson.h>
#include <stdint.h>

#include "store/store.h"
#include <stdbool.h>

struct run;

/* {run_id, dag_id, version, kind, state, logical_date, created_at, started_at, ended_at,
 *  duration_ms, params, message} */
json_t *ops_run_json(const struct store_run *r, int64_t now);
/* {run_id, task_id, map_index, state, try_number, queued_at, started_at, ended_at, retry_at,
 *  duration_ms, exit_code, signal, message, progress {done, total, message}, output, item,
 *  pool, pool_slots, weight} */
json_t *ops_ti_json(const struct store_ti *t, int64_t now);
/* {name, slots, missing, used, running, waiting, free, description, from_config, updated_at} */
json_t *ops_pool_json(const struct store_pool *p);
struct ops_conn_uri;
/* A variable: {key, value, secret, description, updated_at, updated_by}. `plain` is the value
 * to show: the row's own for a plain variable, the decrypted one for a secret shown to whom may
 * see it, NULL (shown as null) for a secret hidden. Never the ciphertext. */
json_t *ops_variable_json(const struct store_var *v, const char *plain);
/* A connection: {name, uri, scheme, host, port, login, password, schema, extra, description,
 * updated_at, updated_by}: `uri` as given (the caller passes the masked form unless revealed),
 * the parts from `u` (NULL: null parts), the password as is when `reveal`, else "***" (null
 * when there is none); extra is the URI's query merged under the stored extra. */
json_t *ops_connection_json(const struct store_conn *c, const char *uri,
			    const struct ops_conn_uri *u, bool reveal);
/* The fields templates read: {uri, scheme, host, port, login, password, schema, extra}, with
 * the password and URI in clear (the snapshot's). */
json_t *ops_conn_fields_json(const char *uri, const struct ops_conn_uri *u, const json_t *extra);

/* One try's launch: {try_number, launch, queued_at, ended_at, status} */
json_t *ops_try_json(const struct store_attempt *a);
/* A run with its instances: ops_run_json plus "task_states" {state: count} and "tasks" [...]. */
json_t *ops_run_with_tis_json(const struct store_run *r, const struct store_ti *tis, size_t n,
			      int64_t now);

/* Identities (ops/identity.h): never a password, a hash or a token's text.
 * {name, role, created_at, updated_at, password_changed_at} */
json_t *ops_user_json(const struct store_user *u);
/* {id, name, user, display, created_by, created_at, expires_at (null: never), last_used_at,
 *  revoked_at} */
json_t *ops_token_json(const struct store_token *t);
/* {id, at, actor, via, remote_addr, action, target, detail} */
json_t *ops_audit_json(const struct store_audit *a);

/* A run's instances as the grid shows them: an unmapped task's ops_ti_json with "mapped":
 * false; a mapped task's instances as one row {task_id, mapped: true, map_index: null, state,
 * instances, task_states {state: count}}. `tis` as ops_ti_rows gives them. */
json_t *ops_ti_groups_json(const struct store_ti *tis, size_t n, int64_t now);

/*
 * A live run (engine/run.h) as the records the store keeps, so that `dags test --json` and the
 * server write and show exactly what a stored run shows. The strings point into the run and
 * its DAG (valid while they live) except `output` and `item` in the TI, which are malloc'd
 * (free them with ops_ti_record_done).
 */
void ops_run_record(const struct run *r, const char *kind, struct store_run *out);
void ops_ti_record(const struct run *r, uint32_t i, struct store_ti *out);
void ops_ti_record_done(struct store_ti *t);

struct dag;

/* A DAG's listing row: {dag_id, description, file, version, schedule, timezone, tags, paused,
 * deleted, broken, errors [lines], next_run (null when paused or none), last_logical_date,
 * recent_runs [{run_id, state, logical_date}] newest first, updated_at}. `d` is its compiled
 * current version, or NULL when it never loaded (description, timezone, tags empty). */
json_t *ops_dag_json(const struct store_dag *row, const struct dag *d,
		     const struct store_run *recent, size_t n_recent, int64_t next_run,
		     int64_t now);
/* One DAG's detail, added to its row: tasks [{task_id, description, depends, run, map,
 * trigger_rule, retries, retry_delay_ms, timeout_ms, pool, pool_slots, priority}] in an order
 * they can run, params {name: JSON Schema fragment}, max_active_runs, max_active_tasks,
 * catchup, conflicts, versions [{version, hash, created_at}] newest first. */
void ops_dag_detail_add(json_t *o, const struct dag *d, const struct store_dag_version *vs,
			size_t nv);

struct diag_list;
/* Problems of a file: [{file, line (null when none), col, message}] in the list's order. */
json_t *ops_diags_json(const struct diag_list *l);

/* "2024-03-01T00:00:05.123Z" (or null for 0), the form of every time in these shapes. */
json_t *ops_time_json(int64_t ms);
/* And back: 0 and the time of such a string, -EINVAL for anything else (null included). */
int ops_time_parse(const json_t *v, int64_t *ret_ms);

#endif
