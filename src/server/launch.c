/*
 * launch.c - what may start and starting it: admission control fed with ready task instances
 * (engine/admit.h), attempts recorded then handed to the executor, and the executor's events
 * (server_int.h).
 */
#include "server/server_int.h"

#include <string.h>
#include <unistd.h>

#include "base/duration.h"
#include "base/fsutil.h"
#include "base/util.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/pools.h"

/* ---- admission ------------------------------------------------------------------------------ */

static bool admit_valid(void *ctx, uint64_t id)
{
	struct server *s = ctx;
	struct srun *r = u64map_get(&s->by_serial, id >> 32);
	uint32_t ti = (uint32_t)id;
	return r && r->run && !r->finished && ti < run_ti_count(r->run) &&
	       run_ti(r->run, ti)->state == TI_SCHEDULED;
}

int admission_open(struct server *s)
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
	if (pools_apply_config(&s->cfg, s->st, server_now(s)) < 0)
		return -1;
	pools_load(s->adm, s->st);
	char c[32], m[32];
	slog(LOG_INFO,
	     "admission: host capacity cpu %s, memory %s%s; priority ageing %s, "
	     "reservations after %s",
	     cpu_format(cpu, c, sizeof(c)), size_format(mem, m, sizeof(m)),
	     s->cfg.host_cpu_milli || s->cfg.host_memory ? " (config.yaml)" : "",
	     duration_format(s->cfg.priority_ageing_ms, (char[32]){0}, 32),
	     duration_format(s->cfg.reserve_after_ms, (char[32]){0}, 32));
	return 0;
}

/* What TI i of run r takes while it runs. */
void srun_need(struct server *s, struct srun *r, uint32_t i, struct admit_need *n)
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
int write_reservations(struct server *s, struct store_tx *tx)
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
			admit_add(s->adm, srun_ti_key(r, (uint32_t)i), &n, w, now, now);
		}
	}
}

/* Begin what admission lets start, record it (one transaction), then start the processes. */
void start_ready(struct server *s, int64_t now)
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
		int b = run_begin_attempt_with(r->run, i, now, &s->lookup, &plan);
		if (b != 0) {
			if (b < 0) {
				char name[256];
				slog(LOG_WARN, "run %s: %s failed before it started: %s", r->run_id,
				     run_ti_name(r->run, i, name, sizeof(name)),
				     run_ti(r->run, i)->message);
			}
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
		e = server_persist(s, tx);
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
		e = server_commit(s, tx);
	else if (tx)
		store_rollback(tx);
	if (e < 0) {
		slog(LOG_ERROR,
		     "store: cannot record %zu attempt%s before starting them: %s; "
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
			    .secrets = (const char *const *)p->plan.secrets,
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
				metrics_task_started(s->metrics);
			} else {
				struct attempt_outcome o = {.status = AS_FAILED, .exit_code = -1};
				o.message = xasprintf("cannot start the attempt in %s: %s", p->dir,
						      strerror(-m));
				o.started_at = o.ended_at = now;
				p->r->active--;
				admit_release(s->adm, srun_ti_key(p->r, p->ti), now);
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

void on_finished(struct server *s, struct live *l, struct attempt_outcome *o, int64_t now)
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
	server_timer_push(s, run_next_wakeup(r->run), T_RUN, r->serial, r->timer_gen);
}

void drain_executor(struct server *s, int64_t now)
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
