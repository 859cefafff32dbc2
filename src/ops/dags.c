/*
 * dags.c - the reads of DAGs: the listing with its filters and one DAG with its tasks, params
 * and versions (see ops.h), in the shapes of shape.h.
 */
#include "ops/ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "dag/dag.h"
#include "engine/schedule.h"
#include "ops/shape.h"

/* How many of a DAG's latest runs its listing row carries. */
#define RECENT_RUNS 5

int64_t ops_dag_next_fire(const struct dag *d, int64_t now)
{
	if (!d->schedule)
		return 0;
	int64_t next = 0;
	struct schedule *sc = NULL;
	char *msg = NULL;
	if (schedule_open(d, &sc, &msg) == 0 && sc) {
		int64_t t = schedule_next(sc, now);
		next = t == INT64_MAX ? 0 : t;
	}
	free(msg);
	schedule_free(sc);
	return next;
}

static bool has_tag(const struct dag *d, const char *tag)
{
	for (uint32_t i = 0; d && i < d->n_tags; i++)
		if (strcmp(d->tags[i], tag) == 0)
			return true;
	return false;
}

static bool wanted(const struct ops_dag_query *q, const struct store_dag *row,
		   const struct dag *d)
{
	if (row->deleted && !row->version)
		return false; /* never loaded and gone: nothing to show */
	if (q->paused >= 0 && row->paused != (q->paused != 0))
		return false;
	bool broken = row->error && !row->deleted;
	if (q->broken >= 0 && broken != (q->broken != 0))
		return false;
	if (q->search && *q->search && !strstr(row->dag_id, q->search))
		return false;
	if (q->tag && !has_tag(d, q->tag))
		return false;
	return true;
}

/* The listing row of a DAG: the stored row, what its compiled current version says (d may be
 * NULL: never loaded, or no longer loads) and its latest runs. */
static int dag_row_json(const struct ops_ctx *c, const struct store_dag *row, const struct dag *d,
			json_t **ret, struct ops_err *err)
{
	struct store_run_filter f = {.dag_id = row->dag_id, .limit = RECENT_RUNS};
	struct store_run *runs = NULL;
	size_t n_runs = 0;
	if (store_run_list(c->st, &f, &runs, &n_runs) < 0)
		return ops_fail(err, OPS_INTERNAL, "cannot list the runs of DAG '%s'",
				row->dag_id);
	int64_t next = d && !row->deleted ? ops_dag_next_fire(d, c->now) : 0;
	*ret = ops_dag_json(row, d, runs, n_runs, next, c->now);
	for (size_t i = 0; i < n_runs; i++)
		store_run_free(&runs[i]);
	free(runs);
	return 0;
}

int ops_dag_list(const struct ops_ctx *c, const struct ops_dag_query *q, json_t **ret,
		 struct ops_err *err)
{
	struct store_dag *rows = NULL;
	size_t n = 0;
	if (store_dag_list(c->st, &rows, &n) < 0)
		return ops_fail(err, OPS_INTERNAL, "cannot list DAGs");
	json_t *out = json_array();
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct store_dag *row = &rows[i];
		void *hold = NULL;
		const struct dag *d = NULL;
		if (row->version) {
			struct ops_err ignored = {0}; /* a version that no longer loads: no tasks */
			d = c->dags->get(c->dags->ctx, c->st, row->dag_id, row->version, &hold,
					 &ignored);
			ops_err_free(&ignored);
		}
		if (wanted(q, row, d)) {
			json_t *j = NULL;
			r = dag_row_json(c, row, d, &j, err);
			if (r == 0)
				json_array_append_new(out, j);
		}
		if (d)
			c->dags->release(c->dags->ctx, hold);
	}
	for (size_t i = 0; i < n; i++)
		store_dag_free(&rows[i]);
	free(rows);
	if (r < 0) {
		json_decref(out);
		return -1;
	}
	*ret = out;
	return 0;
}

int ops_dag_show(const struct ops_ctx *c, const char *dag_id, json_t **ret, struct ops_err *err)
{
	struct store_dag row;
	if (ops_get_dag(c->st, dag_id, &row, err) < 0)
		return -1;
	void *hold = NULL;
	const struct dag *d = NULL;
	if (row.version) {
		struct ops_err ignored = {0};
		d = c->dags->get(c->dags->ctx, c->st, row.dag_id, row.version, &hold, &ignored);
		ops_err_free(&ignored);
	}
	struct store_dag_version *vs = NULL;
	size_t nv = 0;
	json_t *j = NULL;
	int r = dag_row_json(c, &row, d, &j, err);
	if (r == 0 && store_dag_version_list(c->st, dag_id, &vs, &nv) < 0) {
		json_decref(j);
		r = ops_fail(err, OPS_INTERNAL, "cannot list the versions of DAG '%s'", dag_id);
	}
	if (r == 0) {
		ops_dag_detail_add(j, d, vs, nv);
		*ret = j;
	}
	store_dag_version_list_free(vs, nv);
	if (d)
		c->dags->release(c->dags->ctx, hold);
	store_dag_free(&row);
	return r;
}

int ops_dag_source(struct store *st, const char *dag_id, int64_t version, char **ret,
		   int64_t *ret_version, struct ops_err *err)
{
	struct store_dag row;
	if (ops_get_dag(st, dag_id, &row, err) < 0)
		return -1;
	int64_t v = version ? version : row.version;
	store_dag_free(&row);
	if (!v)
		return ops_fail(err, OPS_CONFLICT,
				"DAG '%s' never loaded: it has no stored source (gust dags validate "
				"shows what is wrong with its file)",
				dag_id);
	int e = store_dag_version_source(st, dag_id, v, ret);
	if (e == -ENOENT)
		return ops_fail(err, OPS_NOT_FOUND, "DAG '%s' has no version %lld", dag_id,
				(long long)v);
	if (e < 0)
		return ops_fail(err, OPS_INTERNAL, "cannot read DAG '%s' version %lld", dag_id,
				(long long)v);
	*ret_version = v;
	return 0;
}
