/*
 * firing.c - schedules fire: a DAG's next fire time armed as a timer, the scheduled run it
 * creates, and queued runs promoted within max_active_runs and conflicts (server_int.h).
 */
#include "server/server_int.h"

#include <errno.h>

#include "base/util.h"
#include "dag/dag_time.h"
#include "dag/params.h"
#include "engine/conflicts.h"
#include "server/log.h"

/* ---- scheduling ------------------------------------------------------------------------- */

void arm_dag(struct server *s, size_t idx, int64_t now)
{
	struct dag_entry *e = s->bag.entries[idx];
	if (!e->cur || !e->cur->sched)
		return;
	/* Fire times count from the DAG's last scheduled run (the store's), else from when it was
	 * first seen: the server's start, or its moment of appearing while the server runs. */
	struct store_dag row;
	int64_t last = 0;
	if (store_dag_get(s->st, e->dag_id, &row) == 0) {
		last = row.last_logical;
		store_dag_free(&row);
	}
	server_timer_push(s, schedule_wakeup(e->cur->sched, last, e->first_seen, now), T_DAG, idx,
			  e->timer_gen);
	/* Something may be due already (a restart, catchup): look at once. */
	int64_t out[1];
	bool more;
	if (schedule_due(e->cur->sched, last, e->first_seen, now, out, 1, &more))
		server_timer_push(s, now, T_DAG, idx, e->timer_gen);
}

static char *scheduled_run_id(const char *dag_id, int64_t logical)
{
	char when[40];
	return xasprintf("%s@%s", dag_id, time_format_utc(logical, when, sizeof(when)));
}

void on_dag_timer(struct server *s, size_t idx, int64_t now)
{
	struct dag_entry *e = s->bag.entries[idx];
	if (!e->cur || !e->cur->sched)
		return;
	struct store_dag row;
	if (store_dag_get(s->st, e->dag_id, &row) < 0)
		return;
	int64_t last = row.last_logical;
	bool paused = row.paused;
	store_dag_free(&row);
	if (!paused) {
		int64_t due[64];
		bool more = false;
		size_t n = schedule_due(e->cur->sched, last, e->first_seen, now, due,
					ARRAY_SIZE(due), &more);
		if (n) {
			struct store_tx *tx = NULL;
			if (store_begin(s->st, &tx) < 0)
				return;
			for (size_t k = 0; k < n; k++) {
				char *rid = scheduled_run_id(e->dag_id, due[k]);
				struct store_run row2 = {
				    .run_id = rid,
				    .dag_id = e->dag_id,
				    .version = e->cur->version,
				    .kind = STORE_RUN_SCHEDULED,
				    .logical_date = due[k],
				    .state = "queued",
				    .params = NULL,
				    .created_at = now,
				};
				json_t *params = NULL;
				char *msg = NULL;
				params = params_resolve(e->cur->dag, NULL, &msg);
				if (!params) {
					slog(LOG_ERROR,
					     "DAG '%s': cannot create a scheduled run: %s",
					     e->dag_id, msg);
					free(msg);
					free(rid);
					continue;
				}
				row2.params = server_json_text(params);
				json_decref(params);
				int r = store_run_create(s->st, tx, &row2);
				if (r == 0) {
					srun_add(s, &row2, e->cur);
					char when[40];
					slog(LOG_INFO,
					     "scheduler: DAG '%s': created run %s (due %s)",
					     e->dag_id, rid,
					     time_format_utc(due[k], when, sizeof(when)));
				} else if (r != -EEXIST) {
					slog(LOG_ERROR, "store: cannot create run %s: %s", rid,
					     store_errmsg(s->st));
				}
				free(row2.params);
				free(rid);
			}
			store_dag_set_last_logical(s->st, tx, e->dag_id, due[n - 1]);
			if (server_commit(s, tx) < 0)
				slog(LOG_ERROR, "store: cannot commit new runs: %s",
				     store_errmsg(s->st));
			last = due[n - 1];
		}
		if (more)
			server_timer_push(s, now, T_DAG, idx, e->timer_gen);
	}
	server_timer_push(s, schedule_wakeup(e->cur->sched, last, e->first_seen, now), T_DAG, idx,
			  e->timer_gen);
}

/* Per-DAG counts of running runs and active attempts, built once per use in O(runs) so that
 * deciding what may start never rescans every run for every candidate. */
struct tally {
	struct strmap idx; /* dag_id -> index */
	int *runs;
};

static void tally_build(struct server *s, struct tally *t)
{
	strmap_init(&t->idx);
	t->runs = xcalloc(s->n_runs + 1, sizeof(int));
	uint32_t n = 0;
	for (size_t i = 0; i < s->n_runs; i++) {
		struct srun *r = s->runs[i];
		uint32_t k;
		if (!strmap_get(&t->idx, r->dag_id, &k)) {
			k = n++;
			strmap_put(&t->idx, r->dag_id, k, NULL);
		}
		t->runs[k] += r->run && !r->finished;
	}
}

static uint32_t tally_slot(const struct tally *t, const char *dag_id)
{
	uint32_t k = 0;
	strmap_get(&t->idx, dag_id, &k); /* every active run's DAG is in the map */
	return k;
}

static void tally_free(struct tally *t)
{
	strmap_free(&t->idx);
	free(t->runs);
}

/* Start queued runs while their DAG's max_active_runs allows and no run of a conflicting DAG
 * runs, oldest first. */
void promote_queued(struct server *s, int64_t now)
{
	struct tally t;
	tally_build(s, &t);
	struct conflicts cf;
	conflicts_init(&cf);
	for (size_t i = 0; i < s->n_runs; i++)
		if (s->runs[i]->run && !s->runs[i]->finished)
			conflicts_add(&cf, s->runs[i]->ver->dag);
	for (size_t i = 0; i < s->n_runs; i++) {
		struct srun *q = s->runs[i];
		if (q->run || q->finished)
			continue;
		uint32_t k = tally_slot(&t, q->dag_id);
		if (t.runs[k] >= q->ver->dag->max_active_runs)
			continue;
		const char *with = NULL;
		if (conflicts_block(&cf, q->ver->dag, &with)) {
			if (!q->said_conflict)
				slog(LOG_INFO,
				     "run %s: waits: DAG '%s' conflicts with '%s', which runs",
				     q->run_id, q->dag_id, with);
			q->said_conflict = true;
			continue;
		}
		conflicts_add(&cf, q->ver->dag);
		t.runs[k]++;
		struct run_config cfg = {
		    .run_id = q->run_id, .logical_date_ms = q->logical, .params = q->params};
		q->run = run_new(q->ver->dag, &cfg, now);
		q->started_at = now;
		store_run_set_state(s->st, NULL, q->run_id, "running", NULL, now);
		slog(LOG_INFO, "run %s: started (DAG '%s' version %lld)", q->run_id, q->dag_id,
		     (long long)q->ver->version);
		q->timer_gen++;
		server_timer_push(s, run_next_wakeup(q->run), T_RUN, q->serial, q->timer_gen);
	}
	conflicts_free(&cf);
	tally_free(&t);
}
