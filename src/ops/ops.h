/*
 * ops.h - the operations people and scripts ask of gust, whoever asks (ADR 0007).
 *
 * The CLI, the HTTP API and `dags test` call these functions; none of them decides anything
 * itself. An operation takes a context (the store connection of the caller's thread, the
 * clock, and how to get a compiled DAG), a typed request, and answers with a typed answer or
 * an ops_err: a kind that maps to one HTTP status and one exit code, and a sentence for a
 * person (never a path of the server's machine, never SQL). Operations print nothing.
 */
#ifndef GUST_OPS_OPS_H
#define GUST_OPS_OPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct dag;

enum ops_kind {
	OPS_OK = 0,
	OPS_BAD_REQUEST, /* malformed: 400, exit 2 */
	OPS_NOT_FOUND,	 /* 404, exit 1 */
	OPS_CONFLICT,	 /* the object's state forbids it: 409, exit 1 */
	OPS_INVALID,	 /* well formed but not valid (params, a DAG): 422, exit 2 */
	OPS_INTERNAL,	 /* the store failed: 500, exit 1 */
};

struct ops_err {
	enum ops_kind kind;
	char *msg; /* malloc'd sentence */
};

/* Set *e (its old message freed); returns -1 so that callers can `return ops_fail(...)`. */
int ops_fail(struct ops_err *e, enum ops_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ops_err_free(struct ops_err *e);
int ops_http_status(enum ops_kind k);
int ops_exit_code(enum ops_kind k);
/* A stable name for the kind: the `type` of an API problem ("not-found", ...). */
const char *ops_kind_slug(enum ops_kind k);

/*
 * The compiled DAG of a stored version, as the caller can get it: the CLI compiles the stored
 * source; the server hands out the version its DAG processor compiled. NULL with *err set if
 * it cannot. `release` gives the DAG back (NULL: nothing to do).
 */
struct ops_dags {
	const struct dag *(*get)(void *ctx, struct store *st, const char *dag_id, int64_t version,
				 struct ops_err *err);
	void (*release)(void *ctx, const struct dag *d);
	void *ctx;
};

/* The CLI's way: compile the stored source in this process (ops_dags_from_store.ctx unused). */
extern const struct ops_dags ops_dags_from_store;

struct ops_ctx {
	struct store *st;
	int64_t now; /* ms */
	const struct ops_dags *dags;
};

/* ---- trigger --------------------------------------------------------------------------- */

struct ops_param_text {
	const char *name, *value; /* `--param NAME=VALUE`: VALUE parsed by the param's type */
};

struct ops_trigger_req {
	const char *dag_id;
	const struct ops_param_text *texts; /* the CLI's form, or */
	size_t n_texts;
	json_t *params; /* typed values (an API body's "params"), or NULL */
};

struct ops_trigger_ans {
	char *run_id; /* DAG@manual-TIME */
	int64_t version;
};

/* Queue a manual run of the DAG's current version with these params (checked as `dags test`
 * does; the others take their defaults): OPS_NOT_FOUND for an unknown DAG, OPS_CONFLICT for
 * one removed or that never loaded, OPS_INVALID for a param problem. */
int ops_trigger(const struct ops_ctx *c, const struct ops_trigger_req *rq,
		struct ops_trigger_ans *ans, struct ops_err *err);
void ops_trigger_ans_free(struct ops_trigger_ans *a);

#endif
