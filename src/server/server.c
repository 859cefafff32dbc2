/*
 * server.c - the scheduler daemon's loop (see server.h).
 *
 * Memory: `runs` holds the active runs (queued ones without an engine object yet); each has a
 * serial number that timers and executor keys refer to, so a finished run can be freed while
 * stale timer entries still name it. `live` maps an executor key to the attempt it started.
 *
 * One step (server_step) is: timers due -> scheduled runs created; store changes -> commands
 * and runs triggered from the CLI; queued runs promoted within max_active_runs; ready task
 * instances begun within the parallelism, recorded (one transaction) and only then started;
 * executor events applied; all changes of the step committed in one transaction.
 */
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/duration.h"
#include "base/fsutil.h"
#include "base/strmap.h"
#include "base/u64map.h"
#include "base/util.h"
#include "dag/dag_time.h"
#include "dag/params.h"
#include "engine/admit.h"
#include "engine/conflicts.h"
#include "engine/run.h"
#include "exec/local.h"
#include "exec/proctree.h"
#include "server/config.h"
#include "server/dagbag.h"
#include "server/dagproc.h"
#include "server/log.h"
#include "server/pools.h"
#include "ops/shape.h"
#include "store/store.h"

extern char **environ;

/* ---- types ------------------------------------------------------------------------------- */

struct srun {
	uint64_t serial;
	char *run_id;
	char *dag_id;
	struct dagver *ver;
	struct run *run; /* NULL while queued */
	enum store_run_kind kind;
	int64_t logical, created_at, started_at;
	json_t *params;
	int64_t cancel_cmd; /* a cancel command to mark done when the run ends (0: none) */
	bool finished;
	int64_t timer_gen;
	int32_t active; /* attempts queued or running */
	uint32_t adm_dag;   /* admit_dag() of its DAG */
	uint32_t *adm_pool; /* per task: admit_pool() of its pool (NULL until first needed) */
	bool said_conflict; /* logged that it waits for a conflicting run */
};

/* An attempt handed to the executor. */
struct live {
	uint64_t serial; /* of its run */
	uint32_t ti;
	int64_t attempt_id;
};

enum timer_kind { T_DAG, T_RUN, T_POLL, T_RETENTION };

struct timer {
	int64_t at;
	enum timer_kind kind;
	uint64_t ref; /* T_DAG: bag entry index; T_RUN: run serial */
	int64_t gen;
};

/* An attempt started by an earlier server whose supervisor still runs: watched by polling its
 * folder (outcome) and its supervisor (alive?) on every store poll, whatever the executor. */
struct adopted {
	uint64_t serial;
	uint32_t ti;
	int64_t attempt_id;
	char *dir;
	pid_t pid, task;
	uint64_t start;
};

struct attempt_end {
	int64_t id;
	char *status;
	int64_t at;
};

struct server {
	struct server_opts opts;
	struct config cfg;
	char *home, *logs_dir;
	int64_t offset; /* server clock - wall clock */
	int64_t started;
	struct store *st;
	struct executor *ex;
	struct dagbag bag;
	struct dagproc proc; /* parses DAG files and config.yaml in its own process */
	int ep, sfd, tfd, lockfd;
	bool stop, drain;

	struct srun **runs;
	size_t n_runs, cap_runs;
	struct u64map by_serial;
	uint64_t next_serial;
	struct u64map live;
	uint64_t next_key;
	int running; /* attempts handed to the executor and not finished */
	struct admit *adm; /* what may start: every ready TI waits here (engine/admit.h) */
	char *reservations; /* as last written to the store's kv */

	struct timer *timers;
	size_t n_timers, cap_timers;

	struct attempt_end *ends;
	size_t n_ends, cap_ends;

	struct adopted *adopted;
	size_t n_adopted, cap_adopted;

	char **base_env;
	uint32_t *changes;
	size_t cap_changes;
};

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ms(const struct server *s)
{
	return wall_ms() + s->offset;
}

/* ---- timers (a binary min-heap, stale entries skipped by generation) ---------------------- */

static bool timer_less(const struct timer *a, const struct timer *b)
{
	return a->at < b->at;
}

static void timer_push(struct server *s, int64_t at, enum timer_kind kind, uint64_t ref,
		       int64_t gen)
{
	if (at == INT64_MAX)
		return;
	s->timers = xrealloc_array(s->timers, s->n_timers + 1, sizeof(*s->timers), &s->cap_timers);
	struct timer t = {at, kind, ref, gen};
	size_t pos = s->n_timers++;
	while (pos > 0) {
		size_t parent = (pos - 1) / 2;
		if (!timer_less(&t, &s->timers[parent]))
			break;
		s->timers[pos] = s->timers[parent];
		pos = parent;
	}
	s->timers[pos] = t;
}

static struct timer timer_pop(struct server *s)
{
	struct timer top = s->timers[0];
	struct timer last = s->timers[--s->n_timers];
	size_t pos = 0, n = s->n_timers;
	if (n) {
		for (;;) {
			size_t l = 2 * pos + 1, best = pos;
			const struct timer *cand = &last;
			if (l < n && timer_less(&s->timers[l], cand)) {
				best = l;
				cand = &s->timers[l];
			}
			if (l + 1 < n && timer_less(&s->timers[l + 1], cand))
				best = l + 1;
			if (best == pos)
				break;
			s->timers[pos] = s->timers[best];
			pos = best;
		}
		s->timers[pos] = last;
	}
	return top;
}

/* ---- runs in memory ------------------------------------------------------------------------ */

static struct srun *srun_add(struct server *s, const struct store_run *row, struct dagver *ver)
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

static void srun_free(struct server *s, struct srun *r)
{
	u64map_del(&s->by_serial, r->serial);
	run_free(r->run);
	dagver_unref(r->ver);
	free(r->adm_pool);
	json_decref(r->params);
	free(r->run_id);
	free(r->dag_id);
	free(r);
}

static struct srun *srun_find(struct server *s, const char *run_id)
{
	for (size_t i = 0; i < s->n_runs; i++)
		if (strcmp(s->runs[i]->run_id, run_id) == 0)
			return s->runs[i];
	return NULL;
}

/* The admission id of TI i of run r (serials start at 1: never 0). */
static uint64_t ti_key(const struct srun *r, uint32_t i)
{
	return r->serial << 32 | i;
}

static int write_reservations(struct server *s, struct store_tx *tx);

/* The version a stored run uses: the bag's current one if it matches, else from the store. */
static struct dagver *version_for(struct server *s, const char *dag_id, int64_t version)
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

static char *json_text(json_t *v)
{
	return v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
}

/* Write every changed TI of every run, the attempt ends and the run states, in `tx`. */
static int persist(struct server *s, struct store_tx *tx)
{
	int rc = 0;
	for (size_t k = 0; k < s->n_runs; k++) {
		struct srun *r = s->runs[k];
		if (!r->run)
			continue;
		uint32_t n_tis = run_ti_count(r->run);
		s->changes = xrealloc_array(s->changes, n_tis + 1, sizeof(*s->changes),
					    &s->cap_changes);
		size_t n = run_drain_changes(r->run, s->changes, s->cap_changes);
		for (size_t j = 0; j < n; j++)
			if (run_ti(r->run, s->changes[j])->state != TI_SCHEDULED)
				admit_remove(s->adm, ti_key(r, s->changes[j]));
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
			if (store_run_set_state(s->st, tx, r->run_id, run_state_name(st),
						run_message(r->run), now_ms(s)) < 0)
				rc = -EIO;
			if (r->cancel_cmd)
				store_command_done(s->st, tx, r->cancel_cmd, run_state_name(st));
		}
	}
	if (write_reservations(s, tx) < 0)
		rc = -EIO;
	for (size_t k = 0; k < s->n_ends; k++) {
		if (store_attempt_end(s->st, tx, s->ends[k].id, s->ends[k].status, s->ends[k].at) < 0)
			rc = -EIO;
		free(s->ends[k].status);
	}
	s->n_ends = 0;
	return rc;
}

/* One transaction around persist(). A store that cannot be written stops the server: going
 * on would start work it cannot record. */
static void commit_step(struct server *s)
{
	struct store_tx *tx = NULL;
	int e = store_begin(s->st, &tx);
	if (e == 0)
		e = persist(s, tx);
	if (e == 0)
		e = store_commit(tx);
	else if (tx)
		store_rollback(tx);
	if (e < 0) {
		slog(LOG_ERROR, "store: cannot commit a step: %s; stopping (running attempts carry "
				"on, a restart resumes)",
		     store_errmsg(s->st));
		s->stop = true;
	}
}

static void drop_finished_runs(struct server *s)
{
	size_t j = 0;
	for (size_t i = 0; i < s->n_runs; i++) {
		struct srun *r = s->runs[i];
		if (r->finished && r->active == 0) {
			slog(LOG_INFO, "run %s: %s%s%s", r->run_id, run_state_name(run_get_state(r->run)),
			     run_message(r->run) ? ": " : "",
			     run_message(r->run) ? run_message(r->run) : "");
			srun_free(s, r);
		} else {
			s->runs[j++] = r;
		}
	}
	s->n_runs = j;
}

/* ---- scheduling ------------------------------------------------------------------------- */

static void arm_dag(struct server *s, size_t idx, int64_t now)
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
	timer_push(s, schedule_wakeup(e->cur->sched, last, e->first_seen, now), T_DAG, idx,
		   e->timer_gen);
	/* Something may be due already (a restart, catchup): look at once. */
	int64_t out[1];
	bool more;
	if (schedule_due(e->cur->sched, last, e->first_seen, now, out, 1, &more))
		timer_push(s, now, T_DAG, idx, e->timer_gen);
}

static char *scheduled_run_id(const char *dag_id, int64_t logical)
{
	char when[40];
	return xasprintf("%s@%s", dag_id, time_format_utc(logical, when, sizeof(when)));
}

static void on_dag_timer(struct server *s, size_t idx, int64_t now)
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
					slog(LOG_ERROR, "DAG '%s': cannot create a scheduled run: %s",
					     e->dag_id, msg);
					free(msg);
					free(rid);
					continue;
				}
				row2.params = json_text(params);
				json_decref(params);
				int r = store_run_create(s->st, tx, &row2);
				if (r == 0) {
					srun_add(s, &row2, e->cur);
					char when[40];
					slog(LOG_INFO, "scheduler: DAG '%s': created run %s (due %s)",
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
			if (store_commit(tx) < 0)
				slog(LOG_ERROR, "store: cannot commit new runs: %s",
				     store_errmsg(s->st));
			last = due[n - 1];
		}
		if (more)
			timer_push(s, now, T_DAG, idx, e->timer_gen);
	}
	timer_push(s, schedule_wakeup(e->cur->sched, last, e->first_seen, now), T_DAG, idx,
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
static void promote_queued(struct server *s, int64_t now)
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
				slog(LOG_INFO, "run %s: waits: DAG '%s' conflicts with '%s', which runs",
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
		timer_push(s, run_next_wakeup(q->run), T_RUN, q->serial, q->timer_gen);
	}
	conflicts_free(&cf);
	tally_free(&t);
}

/* ---- admission ------------------------------------------------------------------------------ */

static bool admit_valid(void *ctx, uint64_t id)
{
	struct server *s = ctx;
	struct srun *r = u64map_get(&s->by_serial, id >> 32);
	uint32_t ti = (uint32_t)id;
	return r && r->run && !r->finished && ti < run_ti_count(r->run) &&
	       run_ti(r->run, ti)->state == TI_SCHEDULED;
}

static int admission_open(struct server *s)
{
	int64_t cpu;
	uint64_t mem;
	config_host_capacity(&s->cfg, &cpu, &mem);
	struct admit_config ac = {
		.parallelism = s->cfg.parallelism,
		.ageing_ms = s->cfg.priority_ageing_ms,
		.reserve_after_ms = s->cfg.reserve_after_ms,
		.disk_recheck_ms = 2000,
	};
	struct admit_host host = {cpu, mem, pools_host_disk, admit_valid, s};
	s->adm = admit_new(&ac, &host);
	if (pools_apply_config(&s->cfg, s->st, now_ms(s)) < 0)
		return -1;
	pools_load(s->adm, s->st);
	char c[32], m[32];
	slog(LOG_INFO, "admission: host capacity cpu %s, memory %s%s; priority ageing %s, "
		       "reservations after %s",
	     cpu_format(cpu, c, sizeof(c)),
	     size_format(mem, m, sizeof(m)),
	     s->cfg.host_cpu_milli || s->cfg.host_memory ? " (config.yaml)" : "",
	     duration_format(s->cfg.priority_ageing_ms, (char[32]){0}, 32),
	     duration_format(s->cfg.reserve_after_ms, (char[32]){0}, 32));
	return 0;
}

/* What TI i of run r takes while it runs. */
static void srun_need(struct server *s, struct srun *r, uint32_t i, struct admit_need *n)
{
	const struct dag *d = r->ver->dag;
	if (!r->adm_pool) {
		r->adm_dag = admit_dag(s->adm, d->id, d->max_active_tasks);
		r->adm_pool = xmalloc((d->n_tasks ? d->n_tasks : 1) * sizeof(*r->adm_pool));
		for (uint32_t k = 0; k < d->n_tasks; k++)
			r->adm_pool[k] = admit_pool(s->adm, d->tasks[k].pool);
	}
	uint32_t task = run_ti(r->run, i)->task;
	const struct dag_task *t = &d->tasks[task];
	*n = (struct admit_need){
		.dag = r->adm_dag,
		.pool = r->adm_pool[task],
		.slots = t->pool_slots,
		.cpu_milli = t->resources.cpu_milli,
		.memory = t->resources.memory,
		.disk = t->resources.disk,
		.disk_path = t->resources.disk_path ? t->resources.disk_path : s->home,
	};
}

/* The reservations admission holds, for `gust why` and `gust pools list`: one line each,
 * "RUN_ID<TAB>TASK<TAB>WHAT<TAB>SINCE_MS", in the kv key admission.reservations. Written when
 * it changes. */
static int write_reservations(struct server *s, struct store_tx *tx)
{
	struct buf raw = {0}, out = {0};
	admit_reservations(s->adm, &raw);
	const char *p = raw.len ? buf_str(&raw) : "";
	while (*p) {
		char *end;
		uint64_t id = strtoull(p, &end, 10);
		const char *what = end + 1, *tab = strchr(what, '\t');
		const char *nl = strchr(what, '\n');
		struct srun *r = u64map_get(&s->by_serial, id >> 32);
		if (r && r->run && tab && nl) {
			char name[256];
			buf_printf(&out, "%s\t%s\t%.*s\t%.*s\n", r->run_id,
				   run_ti_name(r->run, (uint32_t)id, name, sizeof(name)),
				   (int)(tab - what), what, (int)(nl - tab - 1), tab + 1);
		}
		p = nl ? nl + 1 : what + strlen(what);
	}
	const char *now_text = out.len ? buf_str(&out) : "";
	int rc = 0;
	if (!s->reservations || strcmp(s->reservations, now_text) != 0) {
		rc = store_kv_set(s->st, tx, "admission.reservations", out.len ? now_text : NULL);
		free(s->reservations);
		s->reservations = xstrdup(now_text);
	}
	buf_free(&raw);
	buf_free(&out);
	return rc;
}

/* ---- starting attempts ------------------------------------------------------------------ */

struct pending_start {
	struct srun *r;
	uint32_t ti;
	struct attempt_plan plan;
	char *dir;
	int64_t attempt_id;
	uint64_t key;
	int32_t launch;
};

/* The folder of an attempt: LOGS/DAG/RUN/TASK[/MAP_INDEX]/TRY, or TRY.L for the L-th launch of
 * a try whose earlier launch never started (its folder is claimed and stays). */
static char *attempt_dir(struct server *s, struct srun *r, const char *task, int32_t map_index,
			 int32_t try_number, int32_t *ret_launch)
{
	char *base = map_index >= 0 ? xasprintf("%s/%s/%s/%s/%d/%d", s->logs_dir, r->dag_id,
						r->run_id, task, map_index, try_number)
				    : xasprintf("%s/%s/%s/%s/%d", s->logs_dir, r->dag_id, r->run_id,
						task, try_number);
	*ret_launch = 1;
	char *dir = xstrdup(base);
	for (;;) {
		char *sup = xasprintf("%s/supervisor", dir);
		bool taken = access(sup, F_OK) == 0;
		free(sup);
		if (!taken)
			break;
		free(dir);
		dir = xasprintf("%s.%d", base, ++*ret_launch);
	}
	free(base);
	return dir;
}

/* Every TI that became ready since the last step waits in admission from now on. */
static void feed_admission(struct server *s, int64_t now)
{
	for (size_t k = 0; k < s->n_runs; k++) {
		struct srun *r = s->runs[k];
		if (!r->run || r->finished)
			continue;
		const struct dag *d = r->ver->dag;
		int64_t i;
		while ((i = run_pop_ready(r->run)) >= 0) {
			struct admit_need n;
			srun_need(s, r, (uint32_t)i, &n);
			uint32_t task = run_ti(r->run, (uint32_t)i)->task;
			int64_t w = d->weight ? d->weight[task] : d->tasks[task].priority;
			admit_add(s->adm, ti_key(r, (uint32_t)i), &n, w, now, now);
		}
	}
}

/* Begin what admission lets start, record it (one transaction), then start the processes. */
static void start_ready(struct server *s, int64_t now)
{
	if (s->drain || s->stop || s->n_runs == 0)
		return;
	feed_admission(s, now);
	struct pending_start *ps = NULL;
	size_t n_ps = 0, cap_ps = 0;
	struct admit_pick pick;
	enum admit_verdict v;
	while ((v = admit_next(s->adm, now, &pick)) != ADMIT_NONE) {
		struct srun *r = u64map_get(&s->by_serial, pick.id >> 32);
		uint32_t i = (uint32_t)pick.id;
		const struct dag *d = r->ver->dag;
		const char *task = d->tasks[run_ti(r->run, i)->task].id;
		if (v == ADMIT_NEVER) {
			char *why = xasprintf("cannot start: %s", pick.why);
			char name[256];
			slog(LOG_WARN, "run %s: %s %s", r->run_id,
			     run_ti_name(r->run, i, name, sizeof(name)), why);
			run_fail_unstarted(r->run, i, now, why);
			free(why);
			continue;
		}
		struct attempt_plan plan;
		if (run_begin_attempt(r->run, i, now, &plan) != 0) {
			admit_release(s->adm, pick.id, now); /* done without a process */
			continue;
		}
		const struct ti *t = run_ti(r->run, i);
		ps = xrealloc_array(ps, n_ps + 1, sizeof(*ps), &cap_ps);
		struct pending_start *p = &ps[n_ps++];
		memset(p, 0, sizeof(*p));
		p->r = r;
		p->ti = i;
		p->plan = plan;
		p->dir = attempt_dir(s, r, task, t->map_index, t->try_number, &p->launch);
		r->active++;
	}
	if (!n_ps)
		return;
	/* Write-ahead: the TIs (queued) and the attempts are committed before any process. */
	struct store_tx *tx = NULL;
	int e = store_begin(s->st, &tx);
	if (e == 0)
		e = persist(s, tx);
	for (size_t k = 0; k < n_ps && e == 0; k++) {
		const struct ti *t = run_ti(ps[k].r->run, ps[k].ti);
		struct store_attempt a = {
			.run_id = ps[k].r->run_id,
			.task_id = (char *)ps[k].r->ver->dag->tasks[t->task].id,
			.map_index = t->map_index,
			.try_number = t->try_number,
			.launch = ps[k].launch,
			.dir = ps[k].dir,
			.queued_at = now,
		};
		e = store_attempt_add(s->st, tx, &a, &ps[k].attempt_id);
	}
	if (e == 0)
		e = store_commit(tx);
	else if (tx)
		store_rollback(tx);
	if (e < 0) {
		slog(LOG_ERROR, "store: cannot record %zu attempt%s before starting them: %s; "
				"stopping",
		     n_ps, n_ps == 1 ? "" : "s", store_errmsg(s->st));
		s->stop = true;
	}
	for (size_t k = 0; k < n_ps; k++) {
		struct pending_start *p = &ps[k];
		if (!s->stop) {
			int m = mkdir_p(p->dir);
			char **env = env_merge(s->base_env, p->plan.env);
			struct attempt_spec spec = {
				.dir = p->dir,
				.shell = p->plan.shell,
				.argv = (const char *const *)p->plan.argv,
				.envp = (const char *const *)env,
				.workdir = p->plan.workdir,
				.timeout_ms = p->plan.timeout_ms,
				.kill_grace_ms = p->plan.kill_grace_ms,
				.keep_leftovers = p->plan.keep_leftovers,
			};
			uint64_t key = ++s->next_key;
			if (m == 0)
				m = executor_start(s->ex, key, &spec);
			free(env);
			if (m == 0) {
				struct live *l = xcalloc(1, sizeof(*l));
				*l = (struct live){p->r->serial, p->ti, p->attempt_id};
				u64map_put(&s->live, key, l);
				s->running++;
			} else {
				struct attempt_outcome o = {.status = AS_FAILED, .exit_code = -1};
				o.message = xasprintf("cannot start the attempt in %s: %s", p->dir,
						      strerror(-m));
				o.started_at = o.ended_at = now;
				p->r->active--;
				admit_release(s->adm, ti_key(p->r, p->ti), now);
				run_on_finished(p->r->run, p->ti, &o, now);
				free(o.message);
				s->ends = xrealloc_array(s->ends, s->n_ends + 1, sizeof(*s->ends),
							 &s->cap_ends);
				s->ends[s->n_ends++] =
					(struct attempt_end){p->attempt_id, xstrdup("failed"), now};
			}
		}
		attempt_plan_free(&p->plan);
		free(p->dir);
	}
	free(ps);
}

/* ---- executor events ---------------------------------------------------------------------- */

static void on_finished(struct server *s, struct live *l, struct attempt_outcome *o, int64_t now)
{
	struct srun *r = u64map_get(&s->by_serial, l->serial);
	s->ends = xrealloc_array(s->ends, s->n_ends + 1, sizeof(*s->ends), &s->cap_ends);
	s->ends[s->n_ends++] =
		(struct attempt_end){l->attempt_id, xstrdup(attempt_status_name(o->status)), now};
	s->running--;
	admit_release(s->adm, l->serial << 32 | l->ti, now);
	if (!r || !r->run)
		return;
	r->active--;
	run_on_finished(r->run, l->ti, o, now);
	r->timer_gen++;
	timer_push(s, run_next_wakeup(r->run), T_RUN, r->serial, r->timer_gen);
}

static void drain_executor(struct server *s, int64_t now)
{
	struct executor_event evs[64];
	size_t n;
	while ((n = executor_poll(s->ex, evs, ARRAY_SIZE(evs))) > 0) {
		for (size_t k = 0; k < n; k++) {
			struct executor_event *ev = &evs[k];
			struct live *l = u64map_get(&s->live, ev->key);
			struct srun *r = l ? u64map_get(&s->by_serial, l->serial) : NULL;
			switch (ev->kind) {
			case EXEC_EV_STARTED:
				if (r && r->run)
					run_on_started(r->run, l->ti, now);
				break;
			case EXEC_EV_PROGRESS:
				if (r && r->run)
					run_on_progress(r->run, l->ti, ev->progress_done,
							ev->progress_total, ev->progress_msg);
				break;
			case EXEC_EV_FINISHED:
				if (l) {
					on_finished(s, l, &ev->outcome, now);
					u64map_del(&s->live, ev->key);
					free(l);
				}
				break;
			}
			executor_event_free(ev);
		}
	}
}

static const char *clear_task(struct server *s, const char *run_id, const char *task_id,
			      int32_t map_index, bool downstream, int64_t now);

/* ---- commands and CLI changes ------------------------------------------------------------ */

static void cancel_run(struct server *s, struct srun *r, const char *why, int64_t now)
{
	if (!r->run) {
		/* Still queued: it simply never starts. */
		store_run_set_state(s->st, NULL, r->run_id, "cancelled", why, now);
		r->finished = true;
		if (r->cancel_cmd)
			store_command_done(s->st, NULL, r->cancel_cmd, "cancelled");
		slog(LOG_INFO, "run %s: cancelled before it started", r->run_id);
		return;
	}
	run_cancel(r->run, now, why);
	/* Attempts adopted from an earlier server: SIGTERM to the supervisor cancels gracefully. */
	for (size_t i = 0; i < s->n_adopted; i++)
		if (s->adopted[i].serial == r->serial &&
		    proc_alive(s->adopted[i].pid, s->adopted[i].start))
			kill(s->adopted[i].pid, SIGTERM);
	for (size_t i = 0; i < s->live.cap; i++) {
		struct u64map_slot *sl = &s->live.slots[i];
		if (sl->key && ((struct live *)sl->value)->serial == r->serial)
			executor_cancel(s->ex, sl->key, false);
	}
	slog(LOG_INFO, "run %s: cancelling (%s)", r->run_id, why);
}

/* Runs the CLI queued (dags trigger) that this server does not know yet. */
static void load_new_runs(struct server *s)
{
	struct store_run_filter f = {.state = "queued", .oldest_first = true};
	struct store_run *rows = NULL;
	size_t n = 0;
	if (store_run_list(s->st, &f, &rows, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!srun_find(s, rows[i].run_id)) {
			struct dagver *v = version_for(s, rows[i].dag_id, rows[i].version);
			if (v) {
				srun_add(s, &rows[i], v);
				slog(LOG_INFO, "run %s: queued (%s)", rows[i].run_id,
				     rows[i].kind == STORE_RUN_MANUAL ? "triggered" : "scheduled");
				dagver_unref(v);
			} else {
				store_run_set_state(s->st, NULL, rows[i].run_id, "failed",
						    "its DAG version cannot be loaded", now_ms(s));
			}
		}
		store_run_free(&rows[i]);
	}
	free(rows);
}

static void apply_commands(struct server *s, int64_t now)
{
	struct store_command *cmds = NULL;
	size_t n = 0;
	if (store_command_pending(s->st, &cmds, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct store_command *c = &cmds[i];
		json_error_t jerr;
		json_t *args = c->args ? json_loads(c->args, 0, &jerr) : NULL;
		const char *run_id = json_string_value(json_object_get(args, "run_id"));
		if (strcmp(c->kind, "cancel") == 0 && run_id) {
			struct srun *r = srun_find(s, run_id);
			if (!r) {
				store_command_done(s->st, NULL, c->id, "not active");
			} else if (!r->cancel_cmd) {
				r->cancel_cmd = c->id;
				cancel_run(s, r, "cancelled by 'gust runs cancel'", now);
			}
		} else if (strcmp(c->kind, "clear") == 0 && run_id) {
			const char *task_id = json_string_value(json_object_get(args, "task_id"));
			bool downstream = json_is_true(json_object_get(args, "downstream"));
			json_t *mi = json_object_get(args, "map_index");
			int32_t map_index = json_is_integer(mi) && json_integer_value(mi) >= 0 &&
						    json_integer_value(mi) <= INT32_MAX
						? (int32_t)json_integer_value(mi)
						: -1;
			const char *err =
			    task_id ? clear_task(s, run_id, task_id, map_index, downstream, now)
				    : "no task_id";
			store_command_done(s->st, NULL, c->id, err ? err : "ok");
			if (err)
				slog(LOG_WARN, "clear %s %s: %s", run_id, task_id ? task_id : "?", err);
		} else if (strcmp(c->kind, "wake") == 0) {
			/* pause/unpause and the like: look at every schedule again */
			for (size_t k = 0; k < s->bag.n; k++)
				arm_dag(s, k, now);
			store_command_done(s->st, NULL, c->id, "ok");
		} else {
			slog(LOG_WARN, "command %lld: unknown kind '%s'", (long long)c->id, c->kind);
			store_command_done(s->st, NULL, c->id, "unknown command");
		}
		json_decref(args);
		store_command_free(c);
	}
	free(cmds);
}

/* ---- retention ----------------------------------------------------------------------------- */

static void retention_tick(struct server *s, int64_t now)
{
	char **dirs = NULL;
	size_t n_dirs = 0;
	int n = store_cleanup(s->st, now - s->cfg.retention_ms, 50, &dirs, &n_dirs);
	size_t ll = strlen(s->logs_dir);
	for (size_t i = 0; i < n_dirs; i++) {
		/* LOGS/DAG/RUN/TASK/...: remove the whole run folder (once), else the attempt's. */
		char *d = dirs[i];
		if (strncmp(d, s->logs_dir, ll) == 0 && d[ll] == '/') {
			char *dag_end = strchr(d + ll + 1, '/');
			char *run_end = dag_end ? strchr(dag_end + 1, '/') : NULL;
			if (run_end)
				*run_end = '\0';
		}
		rm_rf(d);
		free(d);
	}
	free(dirs);
	if (n > 0)
		slog(LOG_INFO, "retention: removed %d old run%s and their logs", n, n == 1 ? "" : "s");
	/* More to do: come back soon, in small batches that never stall the loop. Otherwise
	 * look again in a minute (or sooner for a short retention). */
	int64_t again = s->cfg.retention_ms / 2;
	again = again < 1000 ? 1000 : again > 60000 ? 60000 : again;
	timer_push(s, now + (n >= 50 ? 200 : again), T_RETENTION, 0, 0);
}

/* ---- restart: active runs and live attempts -------------------------------------------- */

/* Rebuild the engine state of a running (or finished, for a clear) run from its stored task
 * instances. */
static void restore_run_state(struct server *s, struct srun *r, int64_t started_at, int64_t now)
{
	struct store_ti *tis = NULL;
	size_t n_tis = 0;
	store_ti_list(s->st, r->run_id, &tis, &n_tis);
	struct ti_saved *sv = xcalloc(n_tis ? n_tis : 1, sizeof(*sv));
	json_error_t jerr;
	for (size_t k = 0; k < n_tis; k++) {
		struct store_ti *t = &tis[k];
		enum ti_state st = TI_NONE;
		ti_state_parse(t->state, &st);
		sv[k] = (struct ti_saved){
			.task_id = t->task_id,
			.map_index = t->map_index,
			.state = st,
			.try_number = t->try_number,
			.queued_at = t->queued_at,
			.started_at = t->started_at,
			.ended_at = t->ended_at,
			.retry_at = t->retry_at,
			.exit_code = t->exit_code,
			.signal = t->signal,
			.message = t->message,
			.output = t->output ? json_loads(t->output, JSON_DECODE_ANY, &jerr) : NULL,
			.item = t->item ? json_loads(t->item, JSON_DECODE_ANY, &jerr) : NULL,
			.progress_done = t->progress_done,
			.progress_total = t->progress_total,
			.progress_msg = t->progress_msg,
		};
	}
	struct run_config cfg = {
		.run_id = r->run_id, .logical_date_ms = r->logical, .params = r->params};
	r->run = run_restore(r->ver->dag, &cfg, started_at, sv, n_tis, now);
	for (size_t k = 0; k < n_tis; k++) {
		json_decref(sv[k].output);
		json_decref(sv[k].item);
		store_ti_free(&tis[k]);
	}
	free(sv);
	free(tis);
	r->timer_gen++;
	timer_push(s, run_next_wakeup(r->run), T_RUN, r->serial, r->timer_gen);
}

static void restore_runs(struct server *s, int64_t now)
{
	struct store_run_filter f = {.state = "active", .oldest_first = true};
	struct store_run *rows = NULL;
	size_t n = 0;
	if (store_run_list(s->st, &f, &rows, &n) < 0) {
		slog(LOG_ERROR, "store: cannot list active runs: %s", store_errmsg(s->st));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_run *row = &rows[i];
		struct dagver *v = version_for(s, row->dag_id, row->version);
		if (!v) {
			store_run_set_state(s->st, NULL, row->run_id, "failed",
					    "its DAG version cannot be loaded", now);
			store_run_free(row);
			continue;
		}
		struct srun *r = srun_add(s, row, v);
		dagver_unref(v);
		if (strcmp(row->state, "running") == 0) {
			restore_run_state(s, r, row->started_at, now);
			slog(LOG_INFO, "run %s: resumed", r->run_id);
		}
		store_run_free(row);
	}
	free(rows);
}

/* `gust tasks clear`: run a task again (and its downstream), in an active or finished run. */
static const char *clear_task(struct server *s, const char *run_id, const char *task_id,
			      int32_t map_index, bool downstream, int64_t now)
{
	struct srun *r = srun_find(s, run_id);
	if (!r) {
		struct store_run row;
		if (store_run_get(s->st, run_id, &row) < 0)
			return "no such run";
		struct dagver *v = version_for(s, row.dag_id, row.version);
		if (!v) {
			store_run_free(&row);
			return "its DAG version cannot be loaded";
		}
		r = srun_add(s, &row, v);
		dagver_unref(v);
		restore_run_state(s, r, row.started_at, now);
		store_run_free(&row);
	}
	if (!r->run)
		return "the run has not started yet";
	int32_t task = dag_task_index(r->ver->dag, task_id);
	if (task < 0)
		return "no such task in this run's DAG version";
	int e = run_clear(r->run, (uint32_t)task, map_index, downstream, now);
	if (e == -EBUSY)
		return "busy: the task (or one downstream) is running; cancel it first";
	if (e == -ENOENT)
		return "no such instance of the mapped task";
	if (e < 0)
		return "cannot clear";
	if (r->finished) {
		r->finished = false;
		store_run_set_state(s->st, NULL, r->run_id, "running", NULL, now);
	}
	r->timer_gen++;
	timer_push(s, run_next_wakeup(r->run), T_RUN, r->serial, r->timer_gen);
	slog(LOG_INFO, "run %s: cleared task '%s'%s: it runs again", run_id, task_id,
	     downstream ? " and its downstream" : "");
	return NULL;
}

static int32_t find_ti(const struct run *run, const char *task_id, int32_t map_index)
{
	const struct dag *d = run_dag(run);
	int32_t task = dag_task_index(d, task_id);
	if (task < 0)
		return -1;
	for (uint32_t i = 0; i < run_ti_count(run); i++) {
		const struct ti *t = run_ti(run, i);
		if (t->task == (uint32_t)task && t->map_index == map_index)
			return (int32_t)i;
	}
	return -1;
}

/* Read DIR/supervisor: "PID STARTTIME\n[TASKPID\n]". */
static int read_supervisor_file(const char *dir, pid_t *pid, uint64_t *start, pid_t *task)
{
	char *path = xasprintf("%s/supervisor", dir);
	FILE *f = fopen(path, "re");
	free(path);
	if (!f)
		return -errno;
	long p = 0, t = 0;
	unsigned long long st = 0;
	int n = fscanf(f, "%ld %llu %ld", &p, &st, &t);
	fclose(f);
	if (n < 2)
		return -EINVAL;
	*pid = (pid_t)p;
	*start = st;
	*task = n >= 3 ? (pid_t)t : 0;
	return 0;
}

/* Claim an attempt folder whose supervisor never wrote DIR/supervisor: create it ourselves
 * with O_EXCL ("0 0": no supervisor). A supervisor creates the same file with O_EXCL before it
 * starts the task, so exactly one of the two wins. True when we won. */
static bool claim_attempt(const char *dir)
{
	if (mkdir_p(dir) < 0)
		return false;
	char *path = xasprintf("%s/supervisor", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	free(path);
	if (fd < 0)
		return false;
	ssize_t w = write(fd, "0 0\n", 4);
	(void)w;
	close(fd);
	return true;
}

/* Account for one attempt the store says may be live. */
static void resolve_attempt(struct server *s, const struct store_attempt *a, int64_t now)
{
	struct srun *r = srun_find(s, a->run_id);
	int32_t ti = r && r->run ? find_ti(r->run, a->task_id, a->map_index) : -1;
	struct attempt_outcome o;
	memset(&o, 0, sizeof(o));
	if (attempt_outcome_read(a->dir, &o) == 0) {
		/* It finished while the server was down: apply its recorded outcome. */
		slog(LOG_INFO, "attempt %s/%s try %d finished while the server was down: %s",
		     a->run_id, a->task_id, a->try_number, attempt_status_name(o.status));
	} else {
		pid_t pid = 0, task = 0;
		uint64_t start = 0;
		int sf = read_supervisor_file(a->dir, &pid, &start, &task);
		if (sf == -ENOENT && claim_attempt(a->dir)) {
			/* No supervisor ever wrote its file, and now none ever will (the claim
			 * makes a late one give up): the attempt never started. */
			slog(LOG_INFO, "attempt %s/%s try %d never started: launching it again",
			     a->run_id, a->task_id, a->try_number);
			s->ends = xrealloc_array(s->ends, s->n_ends + 1, sizeof(*s->ends),
						 &s->cap_ends);
			s->ends[s->n_ends++] = (struct attempt_end){a->id, xstrdup("not_started"), now};
			if (r && r->run && ti >= 0)
				run_requeue(r->run, (uint32_t)ti, now);
			return;
		}
		if (sf == -ENOENT)
			sf = read_supervisor_file(a->dir, &pid, &start, &task);
		if (sf == 0 && proc_alive(pid, start) &&
		    r && ti >= 0) {
			s->adopted = xrealloc_array(s->adopted, s->n_adopted + 1, sizeof(*s->adopted),
						    &s->cap_adopted);
			s->adopted[s->n_adopted++] = (struct adopted){
				r->serial, (uint32_t)ti, a->id, xstrdup(a->dir), pid, task, start};
			s->running++;
			r->active++;
			struct admit_need need;
			srun_need(s, r, (uint32_t)ti, &need);
			admit_hold(s->adm, ti_key(r, (uint32_t)ti), &need);
			slog(LOG_INFO, "attempt %s/%s try %d: adopted (supervisor %d still runs)",
			     a->run_id, a->task_id, a->try_number, (int)pid);
			return;
		}
		/* No outcome and no live supervisor: lost. End what the task may have left. */
		o.status = AS_LOST;
		o.exit_code = -1;
		o.message = xstrdup("lost: its supervisor is gone and no outcome was recorded");
		if (task > 0) {
			int killed = session_kill_all(task, 5000);
			if (killed > 0) {
				char *m = o.message;
				o.message = xasprintf("%s; killed %d process%s it left running", m,
						      killed, killed == 1 ? "" : "es");
				free(m);
			}
		}
		slog(LOG_WARN, "attempt %s/%s try %d: %s", a->run_id, a->task_id, a->try_number,
		     o.message);
	}
	s->ends = xrealloc_array(s->ends, s->n_ends + 1, sizeof(*s->ends), &s->cap_ends);
	s->ends[s->n_ends++] =
		(struct attempt_end){a->id, xstrdup(attempt_status_name(o.status)), now};
	if (r && r->run && ti >= 0) {
		const struct ti *t = run_ti(r->run, (uint32_t)ti);
		if ((t->state == TI_QUEUED || t->state == TI_RUNNING) && t->try_number == a->try_number)
			run_on_finished(r->run, (uint32_t)ti, &o, now);
	}
	attempt_outcome_free(&o);
}

static void resolve_live_attempts(struct server *s, int64_t now)
{
	struct store_attempt *as = NULL;
	size_t n = 0;
	if (store_attempt_list_live(s->st, &as, &n) < 0) {
		slog(LOG_ERROR, "store: cannot list live attempts: %s", store_errmsg(s->st));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		resolve_attempt(s, &as[i], now);
		store_attempt_free(&as[i]);
	}
	free(as);
	/* Instances still queued or running with no attempt accounted for never started. */
	commit_step(s);
}

/* Adopted attempts: finished (outcome written), or lost (supervisor gone without one)? */
static void poll_adopted(struct server *s, int64_t now)
{
	size_t j = 0;
	for (size_t i = 0; i < s->n_adopted; i++) {
		struct adopted *a = &s->adopted[i];
		struct attempt_outcome o;
		memset(&o, 0, sizeof(o));
		bool done = attempt_outcome_read(a->dir, &o) == 0;
		if (!done && !proc_alive(a->pid, a->start)) {
			/* Gone: one more look (it may have written the outcome as it exited). */
			done = attempt_outcome_read(a->dir, &o) == 0;
			if (!done) {
				o.status = AS_LOST;
				o.exit_code = -1;
				o.message = xstrdup("lost: its supervisor died without recording an "
						    "outcome");
				if (a->task > 0) {
					int killed = session_kill_all(a->task, 5000);
					if (killed > 0) {
						char *m = o.message;
						o.message = xasprintf(
							"%s; killed %d process%s it left running", m,
							killed, killed == 1 ? "" : "es");
						free(m);
					}
				}
				done = true;
			}
		}
		if (!done) {
			s->adopted[j++] = *a;
			continue;
		}
		struct live l = {a->serial, a->ti, a->attempt_id};
		on_finished(s, &l, &o, now);
		attempt_outcome_free(&o);
		free(a->dir);
	}
	s->n_adopted = j;
}

/* ---- the loop ------------------------------------------------------------------------------ */

static void on_timers(struct server *s, int64_t now)
{
	while (s->n_timers && s->timers[0].at <= now) {
		struct timer t = timer_pop(s);
		switch (t.kind) {
		case T_DAG:
			if (t.ref < s->bag.n && s->bag.entries[t.ref]->timer_gen == t.gen)
				on_dag_timer(s, (size_t)t.ref, now);
			break;
		case T_RUN: {
			struct srun *r = u64map_get(&s->by_serial, t.ref);
			if (r && r->run && r->timer_gen == t.gen) {
				if (run_on_time(r->run, now))
					cancel_run(s, r, run_message(r->run), now);
				r->timer_gen++;
				timer_push(s, run_next_wakeup(r->run), T_RUN, r->serial,
					   r->timer_gen);
			}
			break;
		}
		case T_POLL:
			poll_adopted(s, now);
			if (store_changed(s->st)) {
				pools_load(s->adm, s->st);
				load_new_runs(s);
				apply_commands(s, now);
			}
			timer_push(s, now + 250, T_POLL, 0, 0);
			break;
		case T_RETENTION:
			retention_tick(s, now);
			break;
		}
	}
}

static void on_dags_changed(struct server *s, int64_t now)
{
	size_t *changed = NULL;
	size_t n = dagbag_take_changed(&s->bag, &changed);
	for (size_t k = 0; k < n; k++)
		arm_dag(s, changed[k], now);
}

static void arm_timerfd(struct server *s, int64_t now)
{
	int64_t at = s->n_timers ? s->timers[0].at : now + 3600 * 1000;
	int64_t adm = admit_next_wakeup(s->adm);
	if (adm < at)
		at = adm; /* a reservation due, disk to look at again */
	int64_t delay = at - now;
	if (delay < 1)
		delay = 1;
	struct itimerspec its = {0};
	its.it_value.tv_sec = delay / 1000;
	its.it_value.tv_nsec = (delay % 1000) * 1000000;
	timerfd_settime(s->tfd, 0, &its, NULL);
}

static void step(struct server *s)
{
	int64_t now = now_ms(s);
	on_timers(s, now);
	on_dags_changed(s, now);
	drain_executor(s, now);
	promote_queued(s, now);
	start_ready(s, now);
	commit_step(s);
	drop_finished_runs(s);
}

static int take_lock(struct server *s)
{
	char *path = xasprintf("%s/server.lock", s->home);
	s->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lockfd < 0) {
		slog(LOG_ERROR, "cannot open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	/* A CLI process may hold a shared lock for an instant to see whether a server runs. */
	bool locked = false;
	for (int tries = 0; tries < 20 && !locked; tries++) {
		locked = flock(s->lockfd, LOCK_EX | LOCK_NB) == 0;
		if (!locked && errno != EWOULDBLOCK)
			break;
		if (!locked) {
			struct timespec pause = {0, 10 * 1000 * 1000};
			nanosleep(&pause, NULL);
		}
	}
	if (!locked) {
		char other[32] = "";
		ssize_t n = pread(s->lockfd, other, sizeof(other) - 1, 0);
		other[n > 0 ? n : 0] = '\0';
		other[strcspn(other, "\n")] = '\0';
		fprintf(stderr,
			"gust: another gust server is already running on %s (pid %s); only one "
			"server may use a home\n",
			s->home, *other ? other : "?");
		free(path);
		return -1;
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(s->lockfd, 0) == 0) {
		ssize_t w = pwrite(s->lockfd, pid, (size_t)len, 0);
		(void)w;
	}
	free(path);
	return 0;
}

/* config.yaml, parsed by the DAG processor like a DAG file: a file that crashes the parser is
 * an error at start, not a crash of the server. A missing file is the defaults. */
static int load_config(struct server *s, const char *path, struct diag_list *diags)
{
	char *text;
	size_t len;
	int r = config_read(path, &text, &len);
	if (r <= 0)
		return r; /* missing or empty: the defaults; or unreadable */
	dagproc_submit(&s->proc, dagproc_job_new(DAGPROC_CONFIG, path, text, len, 0));
	struct dagproc_job *j = dagproc_take(&s->proc, true);
	int rc = 0;
	if (j->failure) {
		diag_add(diags, 0, 0, "broken: %s", j->failure);
		rc = -EINVAL;
	} else {
		for (size_t i = 0; i < j->diags.n; i++)
			diag_add(diags, j->diags.items[i].line, j->diags.items[i].col, "%s",
				 j->diags.items[i].msg);
		rc = config_load_tree(&s->cfg, j->tree, diags) < 0 || j->diags.n ? -EINVAL : 0;
	}
	dagproc_job_free(j);
	return rc;
}

int server_main(const struct server_opts *o)
{
	struct server S;
	memset(&S, 0, sizeof(S));
	struct server *s = &S;
	s->opts = *o;
	s->ep = s->sfd = s->tfd = s->lockfd = -1;
	s->drain = false;
	u64map_init(&s->by_serial);
	u64map_init(&s->live);
	int rc = 1;

	config_defaults(&s->cfg);
	if (mkdir_p(o->home) < 0) {
		fprintf(stderr, "gust: cannot create %s: %s\n", o->home, strerror(errno));
		goto out;
	}
	/* Absolute, so that attempt folders recorded in the store work from any directory. */
	s->home = realpath(o->home, NULL);
	if (!s->home)
		s->home = xstrdup(o->home);
	char *cfg_path = xasprintf("%s/config.yaml", s->home);
	struct diag_list diags;
	diag_list_init(&diags, cfg_path);
	struct dagproc_limits lim;
	dagproc_limits_default(&lim);
	if (dagproc_start(&s->proc, &lim) < 0) {
		fprintf(stderr, "gust: cannot start the DAG processor's thread\n");
		goto out;
	}
	if (load_config(s, cfg_path, &diags) < 0) {
		diag_print(&diags, stderr);
		diag_list_free(&diags);
		free(cfg_path);
		goto out;
	}
	diag_list_free(&diags);
	free(cfg_path);
	if (s->cfg.parse_timeout_ms != lim.time_ms || s->cfg.parse_memory != lim.memory) {
		dagproc_stop(&s->proc);
		lim.time_ms = s->cfg.parse_timeout_ms;
		lim.memory = s->cfg.parse_memory;
		if (dagproc_start(&s->proc, &lim) < 0) {
			fprintf(stderr, "gust: cannot start the DAG processor's thread\n");
			goto out;
		}
	}
	if (o->parallelism)
		s->cfg.parallelism = o->parallelism;
	const char *dags = o->dags_dir ? o->dags_dir : s->cfg.dags_dir;
	if (!dags)
		dags = getenv("GUST_DAGS") && *getenv("GUST_DAGS") ? getenv("GUST_DAGS") : "dags";

	if (o->now) {
		int64_t t;
		if (dag_time_parse_ms(o->now, NULL, &t) < 0) {
			fprintf(stderr, "gust: bad --now '%s': use YYYY-MM-DDTHH:MM:SS[Z]\n", o->now);
			goto out;
		}
		s->offset = t - wall_ms();
		log_set_offset(s->offset);
	}
	if (take_lock(s) < 0)
		goto out;

	char *db = xasprintf("%s/gust.db", s->home);
	char *msg = NULL;
	struct store_options so = {.durability = s->cfg.durability};
	if (store_open_with(db, &so, &s->st, &msg) < 0) {
		fprintf(stderr, "gust: %s\n", msg ? msg : "cannot open the store");
		free(msg);
		free(db);
		goto out;
	}
	free(db);
	/* The loop's commits must not checkpoint the log (copy pages, sync the file). */
	if (store_checkpoint_apart(s->st) < 0)
		slog(LOG_WARN, "server: %s; commits checkpoint the log themselves",
		     store_errmsg(s->st));
	s->logs_dir = xasprintf("%s/logs", s->home);
	mkdir_p(s->logs_dir);

	s->base_env = env_without_prefix(environ, "GUST_");
	if (admission_open(s) < 0)
		goto out;
	char offset[32];
	snprintf(offset, sizeof(offset), "%lld", (long long)s->offset);
	store_kv_set(s->st, NULL, "server.clock_offset", s->offset ? offset : NULL);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->ex = local_executor_new();
	char *db_msg = NULL;
	db = xasprintf("%s/gust.db", s->home);
	int e = dagbag_open(&s->bag, dags, &s->proc, db, &db_msg);
	free(db);
	if (e < 0) {
		if (db_msg)
			fprintf(stderr, "gust: %s\n", db_msg);
		else
			fprintf(stderr, "gust: cannot watch the DAG folder %s: %s\n", dags,
				strerror(-e));
		free(db_msg);
		goto out;
	}
	if (s->sfd < 0 || s->tfd < 0 || s->ep < 0 || !s->ex) {
		fprintf(stderr, "gust: cannot set up the event loop: %s\n", strerror(errno));
		goto out;
	}
	struct epoll_event ev = {.events = EPOLLIN};
	int fds[] = {s->sfd, s->tfd, executor_fd(s->ex), s->bag.inotify_fd,
		     dagproc_fd(&s->proc)};
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		ev.data.fd = fds[i];
		epoll_ctl(s->ep, EPOLL_CTL_ADD, fds[i], &ev);
	}

	s->started = now_ms(s);
	char when[40];
	slog(LOG_INFO,
	     "server: starting on %s (pid %d), DAGs from %s, parallelism %d, durability %s, "
	     "clock %s%s",
	     s->home, (int)getpid(), dags, s->cfg.parallelism,
	     store_durability_name(s->cfg.durability),
	     time_format_utc(s->started, when, sizeof(when)), o->now ? " (--now)" : "");
	dagbag_scan(&s->bag, s->st, s->started);
	dagbag_on_processed(&s->bag, s->st, s->started, true); /* before runs need their DAGs */
	dagbag_forget_stale_notes(&s->bag, s->st, s->started);
	restore_runs(s, s->started);
	resolve_live_attempts(s, s->started);
	/* What the CLI left while no server ran: queued runs, cancel/clear/wake commands. */
	load_new_runs(s);
	apply_commands(s, s->started);
	on_dags_changed(s, s->started);
	timer_push(s, s->started + 250, T_POLL, 0, 0);
	timer_push(s, s->started + 1000, T_RETENTION, 0, 0);
	slog(LOG_INFO, "server: ready: %zu DAG file%s, %zu active run%s", s->bag.n,
	     s->bag.n == 1 ? "" : "s", s->n_runs, s->n_runs == 1 ? "" : "s");

	/* The longest turn of the loop (from waking up to waiting again), reported at stop: what
	 * a task start or a timer may have waited for (bench/run.sh loop measures it). */
	int64_t longest_us = 0, woke_us = mono_us();
	while (!s->stop) {
		step(s);
		if (s->drain && s->running == 0)
			break;
		arm_timerfd(s, now_ms(s));
		int64_t turn = mono_us() - woke_us;
		if (turn > longest_us)
			longest_us = turn;
		struct epoll_event got[16];
		int n = epoll_wait(s->ep, got, 16, -1);
		woke_us = mono_us();
		if (n < 0 && errno != EINTR) {
			slog(LOG_ERROR, "server: epoll_wait: %s", strerror(errno));
			break;
		}
		for (int k = 0; k < n; k++) {
			int fd = got[k].data.fd;
			if (fd == s->sfd) {
				struct signalfd_siginfo si;
				while (read(s->sfd, &si, sizeof(si)) == sizeof(si)) {
					if (o->drain && !s->drain) {
						s->drain = true;
						slog(LOG_INFO, "server: %s: draining: no new attempts; "
							       "exiting when %d running attempt%s end",
						     strsignal((int)si.ssi_signo), s->running,
						     s->running == 1 ? "" : "s");
					} else {
						s->stop = true;
						slog(LOG_INFO, "server: %s: stopping; %d running "
							       "attempt%s carry on under their "
							       "supervisors",
						     strsignal((int)si.ssi_signo), s->running,
						     s->running == 1 ? "" : "s");
					}
				}
			} else if (fd == s->tfd) {
				uint64_t x;
				ssize_t r = read(s->tfd, &x, sizeof(x));
				(void)r;
			} else if (fd == s->bag.inotify_fd) {
				dagbag_on_events(&s->bag, s->st, now_ms(s));
			} else if (fd == dagproc_fd(&s->proc)) {
				dagbag_on_processed(&s->bag, s->st, now_ms(s), false);
			}
		}
	}
	commit_step(s);
	rc = 0;
	slog(LOG_INFO, "server: stopped; longest loop turn %.1f ms; DAG processor: %llu files, %llu restarts",
	     (double)longest_us / 1000.0, (unsigned long long)dagproc_files(&s->proc),
	     (unsigned long long)dagproc_restarts(&s->proc));
out:
	for (size_t i = 0; i < s->n_runs; i++)
		srun_free(s, s->runs[i]);
	free(s->runs);
	for (size_t i = 0; i < s->live.cap; i++)
		if (s->live.slots && s->live.slots[i].key)
			free(s->live.slots[i].value);
	u64map_free(&s->live);
	u64map_free(&s->by_serial);
	admit_free(s->adm);
	free(s->reservations);
	if (s->ex)
		executor_destroy(s->ex);
	dagproc_stop(&s->proc);
	dagbag_close(&s->bag);
	if (s->st)
		store_close(s->st);
	if (s->ep >= 0)
		close(s->ep);
	if (s->sfd >= 0)
		close(s->sfd);
	if (s->tfd >= 0)
		close(s->tfd);
	if (s->lockfd >= 0)
		close(s->lockfd);
	for (size_t i = 0; i < s->n_adopted; i++)
		free(s->adopted[i].dir);
	free(s->adopted);
	free(s->timers);
	free(s->ends);
	free(s->changes);
	free(s->base_env);
	free(s->logs_dir);
	free(s->home);
	config_free(&s->cfg);
	return rc;
}
