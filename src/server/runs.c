/*
 * runs.c - the server's active runs in memory, and committing what a step changed (each step's
 * changes in one transaction, before their effects; server_int.h).
 */
#include "server/server_int.h"

#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "ops/shape.h"
#include "server/log.h"
#include "server/metrics.h"

/* ---- runs in memory ------------------------------------------------------------------------ */

struct srun *srun_add(struct server *s, const struct store_run *row, struct dagver *ver)
{
	struct srun *r = xcalloc(1, sizeof(*r));
	r->serial = ++s->next_serial;
	r->run_id = xstrdup(row->run_id);
	r->dag_id = xstrdup(row->dag_id);
	r->ver = dagver_ref(ver);
	r->kind = row->kind;
	r->logical = row->logical_date;
	r->created_at = row->created_at;
	r->started_at = row->started_at;
	json_error_t jerr;
	r->params = row->params ? json_loads(row->params, 0, &jerr) : NULL;
	if (!r->params)
		r->params = json_object();
	s->runs = xrealloc_array(s->runs, s->n_runs + 1, sizeof(*s->runs), &s->cap_runs);
	s->runs[s->n_runs++] = r;
	u64map_put(&s->by_serial, r->serial, r);
	return r;
}

void srun_free(struct server *s, struct srun *r)
{
	u64map_del(&s->by_serial, r->serial);
	if (s->metrics)
		metrics_run_gone(s->metrics, r->seen, r->n_seen);
	free(r->seen);
	run_free(r->run);
	dagver_unref(r->ver);
	free(r->adm_pool);
	json_decref(r->params);
	free(r->run_id);
	free(r->dag_id);
	free(r);
}

struct srun *srun_find(struct server *s, const char *run_id)
{
	for (size_t i = 0; i < s->n_runs; i++)
		if (strcmp(s->runs[i]->run_id, run_id) == 0)
			return s->runs[i];
	return NULL;
}

/* The admission id of TI i of run r (serials start at 1: never 0). */
uint64_t srun_ti_key(const struct srun *r, uint32_t i)
{
	return r->serial << 32 | i;
}

/* The version a stored run uses: the bag's current one if it matches, else from the store. */
struct dagver *version_for(struct server *s, const char *dag_id, int64_t version)
{
	struct dag_entry *e = dagbag_get(&s->bag, dag_id);
	if (e && e->cur && e->cur->version == version)
		return dagver_ref(e->cur);
	for (size_t i = 0; i < s->n_runs; i++)
		if (strcmp(s->runs[i]->dag_id, dag_id) == 0 && s->runs[i]->ver->version == version)
			return dagver_ref(s->runs[i]->ver);
	char *src = NULL;
	if (store_dag_version_source(s->st, dag_id, version, &src) < 0) {
		slog(LOG_ERROR, "store: no source for DAG '%s' version %lld: %s", dag_id,
		     (long long)version, store_errmsg(s->st));
		return NULL;
	}
	char *msg = NULL;
	struct dagver *v = dagver_from_source(&s->proc, dag_id, src, version, &msg);
	if (!v) {
		slog(LOG_ERROR, "DAG '%s' version %lld no longer loads: %s", dag_id,
		     (long long)version, msg ? msg : "?");
		free(msg);
	}
	free(src);
	return v;
}

/* ---- persisting --------------------------------------------------------------------------- */

char *server_json_text(json_t *v)
{
	return v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
}

/* Write every changed TI of every run, the attempt ends and the run states, in `tx`. */
int server_persist(struct server *s, struct store_tx *tx)
{
	int rc = 0;
	for (size_t k = 0; k < s->n_runs; k++) {
		struct srun *r = s->runs[k];
		if (!r->run)
			continue;
		uint32_t n_tis = run_ti_count(r->run);
		s->changes =
		    xrealloc_array(s->changes, n_tis + 1, sizeof(*s->changes), &s->cap_changes);
		size_t n = run_drain_changes(r->run, s->changes, s->cap_changes);
		metrics_tis_changed(s->metrics, r->run, &r->seen, &r->n_seen, s->changes, n);
		for (size_t j = 0; j < n; j++)
			if (run_ti(r->run, s->changes[j])->state != TI_SCHEDULED)
				admit_remove(s->adm, srun_ti_key(r, s->changes[j]));
		if (n) {
			struct store_ti *rows = xcalloc(n, sizeof(*rows));
			for (size_t j = 0; j < n; j++)
				ops_ti_record(r->run, s->changes[j], &rows[j]);
			int e = store_ti_upsert(s->st, tx, rows, n);
			for (size_t j = 0; j < n; j++)
				ops_ti_record_done(&rows[j]);
			free(rows);
			if (e < 0)
				rc = e;
		}
		enum run_state st = run_get_state(r->run);
		if (!r->finished && st != RUN_RUNNING && st != RUN_QUEUED) {
			r->finished = true;
			metrics_run_ended(s->metrics, st);
			if (store_run_set_state(s->st, tx, r->run_id, run_state_name(st),
						run_message(r->run), server_now(s)) < 0)
				rc = -EIO;
		}
	}
	if (write_reservations(s, tx) < 0)
		rc = -EIO;
	for (size_t k = 0; k < s->n_ends; k++) {
		if (store_attempt_end(s->st, tx, s->ends[k].id, s->ends[k].status, s->ends[k].at) <
		    0)
			rc = -EIO;
		free(s->ends[k].status);
	}
	s->n_ends = 0;
	return rc;
}

/* store_commit, timed for the metrics. */
int server_commit(struct server *s, struct store_tx *tx)
{
	int64_t t0 = mono_us();
	int e = store_commit(tx);
	prom_hist_observe(&s->metrics->commit, mono_us() - t0);
	return e;
}

/* One transaction around server_persist(). A store that cannot be written stops the server: going
 * on would start work it cannot record. */
void commit_step(struct server *s)
{
	struct store_tx *tx = NULL;
	int e = store_begin(s->st, &tx);
	if (e == 0)
		e = server_persist(s, tx);
	if (e == 0)
		e = server_commit(s, tx);
	else if (tx)
		store_rollback(tx);
	if (e < 0) {
		slog(LOG_ERROR,
		     "store: cannot commit a step: %s; stopping (running attempts carry "
		     "on, a restart resumes)",
		     store_errmsg(s->st));
		s->stop = true;
	}
}

void drop_finished_runs(struct server *s)
{
	size_t j = 0;
	for (size_t i = 0; i < s->n_runs; i++) {
		struct srun *r = s->runs[i];
		if (r->finished && r->active == 0) {
			slog(LOG_INFO, "run %s: %s%s%s", r->run_id,
			     run_state_name(run_get_state(r->run)), run_message(r->run) ? ": " : "",
			     run_message(r->run) ? run_message(r->run) : "");
			srun_free(s, r);
		} else {
			s->runs[j++] = r;
		}
	}
	s->n_runs = j;
}
