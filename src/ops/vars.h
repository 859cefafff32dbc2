/*
 * vars.h - variables and connections: what the CLI and the API ask of them, and the snapshot
 * that templates read (docs/variables.md).
 *
 * A variable is KEY -> text, optionally secret. A connection is NAME -> a URI
 * (`postgresql://user:pw@host:5432/db?sslmode=require`) plus an optional JSON object `extra`.
 * Keys and names: 1 to 200 letters, digits and '_', not starting with a digit, so that
 * GUST_VAR_<KEY> and GUST_CONN_<NAME> are environment variable names (case-sensitive in the
 * store; the environment form is the upper-cased one).
 *
 * At rest: a secret variable's value and every connection's URI (URIs carry passwords) are
 * encrypted with the master key (auth/secretbox.h, "v1:..."); the store never sees them in
 * clear. Reading them back needs the key; `reveal` says whether the caller may see secrets
 * (the API passes true only for an admin, the local CLI for its operator with --reveal):
 * without it a secret variable's value is null ("secret": true) and a connection's password
 * is "***", in "password" and inside "uri". Ciphertext is never answered.
 *
 * The snapshot: every variable and connection decrypted in memory, plus GUST_VAR_<KEY> and
 * GUST_CONN_<NAME> of an environment, which win over the store (as Airflow's AIRFLOW_VAR_* and
 * AIRFLOW_CONN_* do). The server keeps one and reloads it when store_vars_version() changes;
 * `dags test` builds one at start. ops_vars_lookup() turns it into the engine's run_lookup.
 * Values from the environment count as secret (gust cannot tell), so they are masked in logs.
 */
#ifndef GUST_OPS_VARS_H
#define GUST_OPS_VARS_H

#include <jansson.h>
#include <stdbool.h>

#include "ops/ops.h"

struct auth_key;
struct run_lookup;

#define OPS_VAR_ENV_PREFIX "GUST_VAR_"
#define OPS_CONN_ENV_PREFIX "GUST_CONN_"
/* The longest value or URI accepted (auth/secretbox.h's limit). */
#define OPS_VAR_VALUE_MAX (1024 * 1024)

/* ---- names -------------------------------------------------------------------------------- */

bool ops_var_key_valid(const char *key);
/* The environment variable that defines `key` (prefix + upper-cased key); malloc'd. */
char *ops_var_env_name(const char *prefix, const char *key);

/* ---- connection URIs ---------------------------------------------------------------------- */

/* SCHEME://[LOGIN[:PASSWORD]@]HOST[:PORT][/SCHEMA][?K=V&...], each part percent-decoded. */
struct ops_conn_uri {
	char *scheme;		/* lower-cased, never NULL */
	char *login, *password; /* NULL: absent */
	char *host;		/* may be "" (sqlite:///path); [v6] loses its brackets */
	int port;		/* -1: absent */
	char *schema;		/* the path without its first '/'; NULL: absent */
	json_t *query;		/* object of the query's K=V pairs (strings); never NULL */
};
/* 0, or OPS_INVALID naming what is wrong (the URI itself is never quoted: it may hold a
 * password). */
int ops_conn_uri_parse(const char *uri, struct ops_conn_uri *ret, struct ops_err *err);
void ops_conn_uri_free(struct ops_conn_uri *u);
/* The URI with its password (if any) written as ***; malloc'd. The URI must parse. */
char *ops_conn_uri_masked(const char *uri);

/* ---- operations --------------------------------------------------------------------------- */

struct ops_var_set_req {
	const char *key;
	const char *value; /* NUL-terminated text */
	bool secret;
	const char *description; /* NULL keeps the current one, "" clears it */
	const char *who;	 /* updated_by: "cli:USER", "api:USER" */
};

struct ops_conn_set_req {
	const char *name;
	const char *uri;
	const json_t *extra; /* an object, or NULL: none */
	const char *description;
	const char *who;
};

/* The request of an API body, PUT /api/v1/variables/{key} {"value": "...", "secret": bool,
 * "description": "..."|null} and PUT /api/v1/connections/{name} {"uri": "...", "extra": {...},
 * "description": ...}: the strings borrowed from `body` (keep it alive), `who` left NULL.
 * OPS_BAD_REQUEST for a body that is not an object, an unknown field, a wrong type or a
 * missing value / uri. */
int ops_var_req_parse(const char *key, const json_t *body, struct ops_var_set_req *rq,
		      struct ops_err *err);
int ops_conn_req_parse(const char *name, const json_t *body, struct ops_conn_set_req *rq,
		       struct ops_err *err);

/* Each answers a new JSON reference in *ret (shapes in ops/shape.h): set answers
 * {"created": bool, "variable"|"connection": SHAPE} (shown without secrets), get the shape,
 * list an array of shapes, delete the shape of what was deleted (without secrets).
 * Errors: OPS_BAD_REQUEST for a bad key or name, OPS_INVALID for a bad URI, extra or value,
 * OPS_NOT_FOUND, OPS_INTERNAL (the store, or a value the key cannot decrypt). `k` is needed
 * to set and to reveal; reading without reveal never decrypts a variable (a connection's URI
 * is decrypted to show its parts, password masked). */
int ops_var_set(const struct ops_ctx *c, const struct auth_key *k, const struct ops_var_set_req *rq,
		json_t **ret, struct ops_err *err);
int ops_var_get(const struct ops_ctx *c, const struct auth_key *k, const char *key, bool reveal,
		json_t **ret, struct ops_err *err);
int ops_var_list(const struct ops_ctx *c, const struct auth_key *k, bool reveal, json_t **ret,
		 struct ops_err *err);
int ops_var_delete(const struct ops_ctx *c, const char *key, json_t **ret, struct ops_err *err);

int ops_conn_set(const struct ops_ctx *c, const struct auth_key *k,
		 const struct ops_conn_set_req *rq, json_t **ret, struct ops_err *err);
int ops_conn_get(const struct ops_ctx *c, const struct auth_key *k, const char *name, bool reveal,
		 json_t **ret, struct ops_err *err);
int ops_conn_list(const struct ops_ctx *c, const struct auth_key *k, bool reveal, json_t **ret,
		  struct ops_err *err);
int ops_conn_delete(const struct ops_ctx *c, const struct auth_key *k, const char *name,
		    json_t **ret, struct ops_err *err);

/* ---- the snapshot for templates ------------------------------------------------------------ */

struct ops_vars_snapshot;

/* Load every variable and connection of `st` (NULL: none) decrypted with `k` (may be NULL
 * when st is), and the GUST_VAR_* / GUST_CONN_* of `envp` (NULL: none). A stored value that
 * does not decrypt, or an environment URI that does not parse, is kept as an error that a
 * template using it gets; only a failing store fails the load (OPS_INTERNAL). */
int ops_vars_snapshot_load(struct store *st, const struct auth_key *k, char *const *envp,
			   struct ops_vars_snapshot **ret, struct ops_err *err);
/* The store_vars_version() the snapshot was loaded at. */
int64_t ops_vars_snapshot_version(const struct ops_vars_snapshot *s);
/* Zeroes the plaintexts. NULL is fine. */
void ops_vars_snapshot_free(struct ops_vars_snapshot *s);
/* The engine's lookup over the snapshot (engine/run.h); valid while the snapshot lives. */
void ops_vars_lookup(struct ops_vars_snapshot *s, struct run_lookup *ret);

#endif
