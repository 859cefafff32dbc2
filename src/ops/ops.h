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
	/* No valid credentials (none, wrong, expired, revoked): 401, exit 3. */
	OPS_UNAUTHORIZED,
	/* Valid credentials whose role does not allow it: 403, exit 4. */
	OPS_FORBIDDEN,
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
 * it cannot; else *ret_hold is what `release` takes to give the DAG back.
 */
struct ops_dags {
	const struct dag *(*get)(void *ctx, struct store *st, const char *dag_id, int64_t version,
				 void **ret_hold, struct ops_err *err);
	void (*release)(void *ctx, void *hold);
	void *ctx;
};

/* The CLI's way: compile the stored source in this process (ops_dags_from_store.ctx unused). */
extern const struct ops_dags ops_dags_from_store;

struct ops_ctx {
	struct store *st;
	int64_t now; /* ms */
	const struct ops_dags *dags;
};

/* ---- reads shared by the operations ---------------------------------------------------- */

/* success, failed or cancelled */
bool ops_run_is_over(const char *state);
/* The run, or OPS_NOT_FOUND with a "did you mean" among the recent runs. */
int ops_get_run(struct store *st, const char *run_id, struct store_run *ret, struct ops_err *err);
/* The DAG's row, or OPS_NOT_FOUND (ops_no_dag). */
int ops_get_dag(struct store *st, const char *dag_id, struct store_dag *ret, struct ops_err *err);
/* The next fire time of the DAG's current version after c->now; 0 when it has none (manual,
 * removed, or a version that does not compile). A pause is not looked at. */
int64_t ops_next_fire(const struct ops_ctx *c, const struct store_dag *row);
/* OPS_NOT_FOUND for DAG `id`, with a "did you mean" among the DAG ids; returns -1. */
int ops_no_dag(struct store *st, const char *id, struct ops_err *err);
/* The TIs of a run as the user sees them: a mapped task's placeholder row (-1, state none)
 * is left out once it has instances. */
int ops_ti_rows(struct store *st, const char *run_id, struct store_ti **ret, size_t *ret_n,
		struct ops_err *err);
void ops_ti_rows_free(struct store_ti *tis, size_t n);

/* ---- DAGs (dags.c) ------------------------------------------------------------------------- */

struct ops_dag_query {
	int paused;	    /* -1 any, 0 not paused, 1 paused */
	int broken;	    /* -1 any, 0 loads, 1 its file is broken */
	const char *tag;    /* NULL, or a tag the current version has */
	const char *search; /* NULL, or a substring of the id */
};
#define OPS_DAG_QUERY_ALL ((struct ops_dag_query){.paused = -1, .broken = -1})

/* The DAGs (ops_dag_json rows, by id) that pass the filters. A removed file's DAG is listed
 * (deleted: true) while it has a version: its history stays. */
int ops_dag_list(const struct ops_ctx *c, const struct ops_dag_query *q, json_t **ret,
		 struct ops_err *err);
/* One DAG: its row and detail (ops_dag_detail_add); OPS_NOT_FOUND with a hint. */
int ops_dag_show(const struct ops_ctx *c, const char *dag_id, json_t **ret, struct ops_err *err);
/* The stored source of a version (0: the current one), malloc'd, and which version it is. */
int ops_dag_source(struct store *st, const char *dag_id, int64_t version, char **ret,
		   int64_t *ret_version, struct ops_err *err);
/* The next fire time after `now` of a compiled DAG's schedule; 0 for none. */
int64_t ops_dag_next_fire(const struct dag *d, int64_t now);

/* ---- deploys (deploy.c) ------------------------------------------------------------------ */

/* Whether `len` bytes of YAML make a DAG (named `name` in messages, its default id from it)
 * whose id is `want_id` (NULL: any): else OPS_INVALID and *ret_errors, a JSON array of
 * {file, line, col, message} (ops_diags_json), every problem `gust dags validate` finds. */
int ops_dag_validate(const char *name, const char *text, size_t len, const char *want_id,
		     json_t **ret_errors, struct ops_err *err);

struct ops_deploy_ans {
	char *file;    /* where it was written (malloc'd) */
	char hash[17]; /* the content's hash, as the store will record its version */
};

/* Check the text (ops_dag_validate, for dag_id) and write it atomically into the DAG folder:
 * over the file the DAG was loaded from, else as DAG_ID.yaml. Nothing changes unless all is
 * well: OPS_INVALID with *ret_errors, OPS_CONFLICT when DAG_ID.yaml holds another DAG or the
 * disk is full. The server loads the new file as any change of its folder. */
int ops_dag_deploy(struct store *st, const char *dags_dir, const char *dag_id, const char *text,
		   size_t len, struct ops_deploy_ans *ans, json_t **ret_errors, struct ops_err *err);
/* Remove the DAG's file from the DAG folder (its history stays); *ret_file: which. */
int ops_dag_remove(struct store *st, const char *dags_dir, const char *dag_id, char **ret_file,
		   struct ops_err *err);

/* ---- logs (logs.c) ---------------------------------------------------------------------- */

struct ops_log_ref {
	char *dir;	    /* the attempt folder (its `log`, its `outcome`) */
	int64_t attempt_id; /* the attempt row */
	int32_t try_number;
	bool ended;   /* the store says the attempt is over (an outcome, or lost) */
	bool pending; /* (on OPS_NOT_FOUND) no attempt yet, but one may come */
};

/* The attempt whose log to show: try `try_number` (0: the latest), its last launch.
 * OPS_NOT_FOUND for an unknown run or instance, or no such attempt (yet: ret->pending). */
int ops_log_attempt(struct store *st, const char *run_id, const char *task_id,
		    int32_t map_index, int32_t try_number, struct ops_log_ref *ret,
		    struct ops_err *err);
void ops_log_ref_free(struct ops_log_ref *r);
/* Whether the attempt folder has its outcome (the attempt is over; its log is complete). */
bool ops_log_outcome_written(const char *dir);
/* Append to `out` at most `max` bytes of the attempt's log from `offset`, or from the start of
 * its last `tail_lines` lines when that is > 0; *ret_start and *ret_end: the byte range read.
 * 0, or a negative errno (-ENOENT: no log yet). */
struct buf;
int ops_log_read(const char *dir, int64_t offset, int64_t tail_lines, size_t max,
		 struct buf *out, int64_t *ret_start, int64_t *ret_end);

/* ---- listings (read.c) ------------------------------------------------------------------- */

struct ops_run_query {
	const char *dag_id; /* NULL: every DAG (else OPS_NOT_FOUND for an unknown one) */
	const char *state;  /* NULL, a run state, or "active" (queued or running) */
	size_t limit;	    /* 0: every run (the CLI's --limit 0; the API caps it) */
	const char *cursor; /* the next_cursor of the page before, NULL for the first */
};

struct ops_run_page {
	struct store_run *runs; /* newest first */
	size_t n;
	char *next_cursor; /* NULL: nothing after this page */
};

/* One page of runs, by keyset (created_at, run_id): runs created between two pages never
 * repeat a row or push one out, and a page costs the same however deep it is. */
int ops_run_list(struct store *st, const struct ops_run_query *q, struct ops_run_page *ret,
		 struct ops_err *err);
void ops_run_page_free(struct ops_run_page *p);

/* ---- trigger --------------------------------------------------------------------------- */

struct ops_param_text {
	const char *name, *value; /* `--param NAME=VALUE`: VALUE parsed by the param's type */
};

struct ops_trigger_req {
	const char *dag_id;
	const struct ops_param_text *texts; /* the CLI's form, or */
	size_t n_texts;
	json_t *params; /* typed values (an API body's "params"), or NULL */
	int64_t logical_date; /* ms; 0: the time of the trigger */
	const char *note;     /* NULL, or at most OPS_NOTE_MAX bytes of UTF-8 */
};
#define OPS_NOTE_MAX 1000

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

/* ---- writes: requests applied where the live state is -------------------------------- */

/*
 * A change to runs, task instances, DAGs or pools, as a typed request. Whoever asks builds one
 * (the CLI from its options, the API from a path and a body, a stored command row from its
 * JSON) and the same ops_apply() carries it out:
 *   - in the server's loop, with the server's hooks (struct ops_live): the live run is changed
 *     and its changes persisted as any other step;
 *   - in a CLI when no server runs (it holds the server lock meanwhile), without hooks: what
 *     only a server can do (stop tasks, run a task again) is queued for the next server
 *     (OPS_QUEUED), what the store alone holds (a queued run's cancel, a pause) is done.
 */
enum ops_op {
	OPS_CANCEL,	 /* run_id */
	OPS_CLEAR,	 /* run_id, task_id, map_index, downstream, dry_run */
	OPS_MARK,	 /* run_id, task_id, map_index, success */
	OPS_PAUSE,	 /* dag_id, paused */
	OPS_POOL_SET,	 /* pool, slots, description */
	OPS_POOL_DELETE, /* pool */
};

struct ops_req {
	enum ops_op op;
	char *run_id, *task_id, *dag_id;
	int32_t map_index; /* -1: every instance of the task */
	bool downstream, dry_run, success, paused;
	char *pool;
	int32_t slots;
	char *description; /* pool set: NULL keeps the pool's, "" clears it */
	char *who;	   /* who asks, for messages: "gust runs cancel", a user name */
};
void ops_req_free(struct ops_req *rq);
/* "cancel", "clear", "mark", "pause", "pool_set", "pool_delete": a stored command row's kind. */
const char *ops_op_name(enum ops_op op);
/* A request from its JSON object (the form ops_req_json writes; `op` names the operation
 * unless `op_name` does): unknown fields and wrong types are OPS_BAD_REQUEST. */
int ops_req_parse(const char *op_name, const json_t *obj, struct ops_req *rq, struct ops_err *err);
json_t *ops_req_json(const struct ops_req *rq);

enum ops_outcome {
	OPS_DONE,    /* it is done */
	OPS_STARTED, /* under way: a cancel stopping the run's tasks */
	OPS_QUEUED,  /* left for the next server to apply (no server runs) */
};

struct ops_answer {
	enum ops_outcome outcome;
	/* What was (or, for a dry run, would be) done, as JSON (new reference):
	 *   cancel: {run: RUN}
	 *   clear:  {run_id, dry_run, instances: [{task_id, map_index, state}]}: what runs again
	 *   mark:   {run_id, state, instances: [...]}
	 *   pause:  {dag_id, paused, was_paused, next_run}
	 *   pool set: {pool: POOL, created, old_slots (null if created)}
	 *   pool delete: {pool: POOL as it was} */
	json_t *body;
};
void ops_answer_free(struct ops_answer *a);
/* The outcome and body in one object {outcome: "done"|"started"|"queued", ...body}, and
 * back: what a stored command's result holds, errors included ({error: {kind, message}}). */
char *ops_result_text(const struct ops_answer *a, const struct ops_err *err);
int ops_result_parse(const char *text, struct ops_answer *a, struct ops_err *err);
const char *ops_outcome_name(enum ops_outcome o);

/* What the server does with its live state; each fills *err and returns -1 on failure. */
struct ops_live {
	void *ctx;
	/* Stop the run (it is active: queued or running). *ret_done: it ended at once. */
	int (*cancel)(void *ctx, const struct ops_req *rq, bool *ret_done, struct ops_err *err);
	/* run_clear / run_mark on the live run (a finished one is brought back first). */
	int (*clear)(void *ctx, const struct ops_req *rq, struct ops_err *err);
	int (*mark)(void *ctx, const struct ops_req *rq, struct ops_err *err);
	/* The DAG's pause changed: look at its schedule again. */
	void (*dag_changed)(void *ctx, const char *dag_id);
	/* A pool was set or deleted: admission reads the pools again. */
	void (*pools_changed)(void *ctx);
};

/* Check the request against the store and carry it out: with `live` NULL, as a CLI with no
 * server does (see above). OPS_NOT_FOUND for an unknown run, task or DAG, OPS_CONFLICT when
 * its state forbids it (a finished run cancelled, a running instance cleared or marked). */
int ops_apply(const struct ops_ctx *c, const struct ops_live *live, const struct ops_req *rq,
	      struct ops_answer *ans, struct ops_err *err);

#endif
