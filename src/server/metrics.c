/*
 * metrics.c - the server's metrics: counted by the loop, published once a turn, rendered on
 * an HTTP thread in the Prometheus text format (see metrics.h; docs/metrics.md lists them).
 */
#include "server/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "server/server_int.h"

/* Microseconds: 100 us to 10 s, for the loop's turn and the store's commit alike. */
static const int64_t latency_bounds[] = {
    100,   250,	   500,	   1000,   2500,    5000,    10000,   25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

struct metrics *metrics_new(int64_t started_wall_ms)
{
	struct metrics *m = xcalloc(1, sizeof(*m));
	prom_hist_init(&m->loop_turn, latency_bounds, ARRAY_SIZE(latency_bounds), 1e6);
	prom_hist_init(&m->commit, latency_bounds, ARRAY_SIZE(latency_bounds), 1e6);
	atomic_init(&m->task_starts, 0);
	atomic_init(&m->last_turn_ms, 0);
	m->started_ms = started_wall_ms;
	pthread_mutex_init(&m->mu, NULL);
	return m;
}

static void snap_free_pools(struct metrics_snap *s)
{
	for (size_t i = 0; i < s->n_pools; i++)
		free(s->pools[i].name);
	free(s->pools);
	s->pools = NULL;
	s->n_pools = s->cap_pools = 0;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	snap_free_pools(&m->snap);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* ---- the loop's counts ------------------------------------------------------------------ */

void metrics_tis_changed(struct metrics *m, const struct run *r, uint8_t **seen, uint32_t *n_seen,
			 const uint32_t *changed, size_t n)
{
	uint32_t count = run_ti_count(r);
	if (count > *n_seen) {
		/* First sight of the run (new, or restored at start) or a map expanded: count the
		 * new instances as they are now; ends before this server are not ends of it. */
		*seen = realloc(*seen, count);
		if (!*seen)
			abort();
		for (uint32_t i = *n_seen; i < count; i++) {
			enum ti_state st = run_ti(r, i)->state;
			(*seen)[i] = (uint8_t)st;
			m->tis[st]++;
		}
		*n_seen = count;
	}
	for (size_t k = 0; k < n; k++) {
		uint32_t i = changed[k];
		if (i >= *n_seen)
			continue;
		enum ti_state was = (enum ti_state)(*seen)[i], now = run_ti(r, i)->state;
		if (was == now)
			continue;
		m->tis[was]--;
		m->tis[now]++;
		if (ti_state_done(now) && !ti_state_done(was))
			m->tis_ended[now]++;
		(*seen)[i] = (uint8_t)now;
	}
}

void metrics_run_gone(struct metrics *m, const uint8_t *seen, uint32_t n_seen)
{
	for (uint32_t i = 0; i < n_seen; i++)
		m->tis[seen[i]]--;
}

void metrics_run_ended(struct metrics *m, enum run_state st)
{
	if ((unsigned)st < RUN__COUNT)
		m->runs_ended[st]++;
}

/* ---- publishing (the loop) ---------------------------------------------------------------- */

static void publish_pools(struct metrics_snap *sn, const struct admit *adm)
{
	uint32_t n = admit_pool_count(adm);
	if (n > sn->cap_pools) {
		sn->pools = xrealloc_array(sn->pools, n, sizeof(*sn->pools), &sn->cap_pools);
		memset(sn->pools + sn->n_pools, 0,
		       (sn->cap_pools - sn->n_pools) * sizeof(*sn->pools));
	}
	/* Pools are never forgotten by admission (a deleted one is missing: -1 slots), so the
	 * names stay in place and are copied only once. */
	for (uint32_t i = 0; i < n; i++) {
		const char *name = admit_pool_name(adm, i);
		if (i >= sn->n_pools || strcmp(sn->pools[i].name, name) != 0) {
			free(i < sn->n_pools ? sn->pools[i].name : NULL);
			sn->pools[i].name = xstrdup(name);
		}
		admit_pool_stats(adm, i, &sn->pools[i].st);
	}
	for (uint32_t i = n; i < sn->n_pools; i++) {
		free(sn->pools[i].name);
		sn->pools[i].name = NULL;
	}
	sn->n_pools = n;
}

void metrics_publish(struct server *s)
{
	struct metrics *m = s->metrics;
	atomic_store_explicit(&m->last_turn_ms, wall_ms(), memory_order_relaxed);
	/* A publish passes over the runs in memory and the DAG files (2.4 us with 1,000 of each,
	 * 140 us with 10,000: bench/bench_metrics.c), so a busy loop does it at most every
	 * METRICS_PUBLISH_MS; an idle one still turns every 250 ms. */
	int64_t mono = mono_ms();
	if (m->published_mono && mono - m->published_mono < METRICS_PUBLISH_MS)
		return;
	if (metrics_publish_now(s) == 0)
		m->published_mono = mono;
}

int metrics_publish_now(struct server *s)
{
	struct metrics *m = s->metrics;
	if (pthread_mutex_trylock(&m->mu) != 0) {
		m->skipped++; /* a scrape is copying: a later turn publishes */
		return -1;
	}
	struct metrics_snap *sn = &m->snap;
	memset(sn->runs, 0, sizeof(sn->runs));
	for (size_t i = 0; i < s->n_runs; i++) {
		const struct srun *r = s->runs[i];
		if (!r->run)
			sn->runs[RUN_QUEUED]++;
		else if (!r->finished)
			sn->runs[run_get_state(r->run)]++;
	}
	memcpy(sn->runs_ended, m->runs_ended, sizeof(sn->runs_ended));
	memcpy(sn->tis, m->tis, sizeof(sn->tis));
	memcpy(sn->tis_ended, m->tis_ended, sizeof(sn->tis_ended));
	admit_counts(s->adm, &sn->adm);
	sn->supervisors = (uint64_t)executor_running(s->ex) + s->n_adopted;
	sn->dag_files = s->bag.n;
	sn->dag_broken = 0;
	for (size_t i = 0; i < s->bag.n; i++)
		sn->dag_broken += s->bag.entries[i]->broken;
	publish_pools(sn, s->adm);
	pthread_mutex_unlock(&m->mu);
	return 0;
}

/* ---- rendering (an HTTP thread) ----------------------------------------------------------- */

void metrics_render_snap(const struct metrics *m, const struct metrics_snap *sn, struct buf *out)
{
	prom_family(out, "gust_runs", "gauge", "Runs in the server's memory, by state.");
	for (int i = RUN_QUEUED; i <= RUN_RUNNING; i++) {
		const char *labels[] = {"state", run_state_name((enum run_state)i), NULL};
		prom_sample_u64(out, "gust_runs", labels, sn->runs[i]);
	}

	uint64_t ended[3] = {sn->runs_ended[RUN_SUCCESS], sn->runs_ended[RUN_FAILED],
			     sn->runs_ended[RUN_CANCELLED]};
	prom_family(out, "gust_runs_ended_total", "counter",
		    "Runs that ended since the server started, by final state.");
	for (size_t i = 0; i < 3; i++) {
		const char *labels[] = {"state", run_state_name((enum run_state)(RUN_SUCCESS + i)),
					NULL};
		prom_sample_u64(out, "gust_runs_ended_total", labels, ended[i]);
	}

	prom_family(out, "gust_task_instances", "gauge",
		    "Task instances of the runs in the server's memory (queued and running runs), "
		    "by state.");
	for (int i = 0; i < TI__COUNT; i++) {
		const char *labels[] = {"state", ti_state_name((enum ti_state)i), NULL};
		prom_sample(out, "gust_task_instances", labels, (double)sn->tis[i]);
	}
	prom_family(out, "gust_task_instances_ended_total", "counter",
		    "Task instances that reached a final state since the server started, by "
		    "state.");
	for (int i = 0; i < TI__COUNT; i++) {
		if (!ti_state_done((enum ti_state)i))
			continue;
		const char *labels[] = {"state", ti_state_name((enum ti_state)i), NULL};
		prom_sample_u64(out, "gust_task_instances_ended_total", labels, sn->tis_ended[i]);
	}

	prom_family(out, "gust_task_starts_total", "counter",
		    "Attempts handed to the executor since the server started.");
	prom_sample_u64(out, "gust_task_starts_total", NULL,
			atomic_load_explicit(&m->task_starts, memory_order_relaxed));

	prom_family(out, "gust_admission_decisions_total", "counter",
		    "Admission's decisions since the server started: instances admitted, "
		    "instances that can never fit, and instances held back by each limit.");
	const char *adm[] = {"decision", "admitted", NULL};
	prom_sample_u64(out, "gust_admission_decisions_total", adm, sn->adm.started);
	const char *never[] = {"decision", "never", NULL};
	prom_sample_u64(out, "gust_admission_decisions_total", never, sn->adm.never);
	for (int i = 0; i < ADMIT_HOLD__COUNT; i++) {
		const char *labels[] = {"decision", "held", "reason",
					admit_hold_name((enum admit_hold)i), NULL};
		prom_sample_u64(out, "gust_admission_decisions_total", labels, sn->adm.held[i]);
	}

	prom_family(out, "gust_pool_waiting", "gauge",
		    "Ready task instances waiting for admission, by pool.");
	for (size_t i = 0; i < sn->n_pools; i++) {
		const char *labels[] = {"pool", sn->pools[i].name, NULL};
		prom_sample_u64(out, "gust_pool_waiting", labels, sn->pools[i].st.waiting);
	}
	prom_family(out, "gust_pool_slots", "gauge",
		    "Slots of each pool (-1: the pool is missing, its tasks wait).");
	for (size_t i = 0; i < sn->n_pools; i++) {
		const char *labels[] = {"pool", sn->pools[i].name, NULL};
		prom_sample(out, "gust_pool_slots", labels, (double)sn->pools[i].st.slots);
	}
	prom_family(out, "gust_pool_slots_used", "gauge",
		    "Slots held by running attempts, by pool.");
	for (size_t i = 0; i < sn->n_pools; i++) {
		const char *labels[] = {"pool", sn->pools[i].name, NULL};
		prom_sample(out, "gust_pool_slots_used", labels, (double)sn->pools[i].st.used);
	}
	prom_family(out, "gust_pool_wait_seconds", "summary",
		    "How long admitted task instances waited in their pool, from ready to "
		    "admitted: the sum and the count since the server started.");
	for (size_t i = 0; i < sn->n_pools; i++) {
		const char *labels[] = {"pool", sn->pools[i].name, NULL};
		prom_sample(out, "gust_pool_wait_seconds_sum", labels,
			    (double)sn->pools[i].st.waited_ms / 1000.0);
		prom_sample_u64(out, "gust_pool_wait_seconds_count", labels,
				sn->pools[i].st.started);
	}

	prom_family(out, "gust_loop_turn_seconds", "histogram",
		    "Turns of the scheduling loop, from waking up to waiting again.");
	prom_hist_render(out, "gust_loop_turn_seconds", NULL, &m->loop_turn);
	prom_family(out, "gust_store_commit_seconds", "histogram",
		    "Commits of the loop's store transactions.");
	prom_hist_render(out, "gust_store_commit_seconds", NULL, &m->commit);

	prom_family(out, "gust_supervisors_alive", "gauge",
		    "Attempts whose supervisor runs: started by this server or adopted.");
	prom_sample_u64(out, "gust_supervisors_alive", NULL, sn->supervisors);
	prom_family(out, "gust_dag_files", "gauge", "DAG files in the DAG folder.");
	prom_sample_u64(out, "gust_dag_files", NULL, sn->dag_files);
	prom_family(out, "gust_dag_files_broken", "gauge", "DAG files that do not load.");
	prom_sample_u64(out, "gust_dag_files_broken", NULL, sn->dag_broken);

	prom_family(out, "gust_loop_last_turn_timestamp_seconds", "gauge",
		    "When the scheduling loop last turned (Unix time; 0: not yet).");
	prom_sample(out, "gust_loop_last_turn_timestamp_seconds", NULL,
		    (double)atomic_load_explicit(&m->last_turn_ms, memory_order_relaxed) / 1000.0);
	prom_family(out, "gust_start_timestamp_seconds", "gauge",
		    "When the server started (Unix time).");
	prom_sample(out, "gust_start_timestamp_seconds", NULL, (double)m->started_ms / 1000.0);
}

void metrics_render(struct metrics *m, struct buf *out)
{
	struct metrics_snap copy;
	pthread_mutex_lock(&m->mu);
	copy = m->snap;
	copy.pools = copy.n_pools ? xcalloc(copy.n_pools, sizeof(*copy.pools)) : NULL;
	for (size_t i = 0; i < copy.n_pools; i++) {
		copy.pools[i].name = xstrdup(m->snap.pools[i].name);
		copy.pools[i].st = m->snap.pools[i].st;
	}
	pthread_mutex_unlock(&m->mu);
	metrics_render_snap(m, &copy, out);
	copy.cap_pools = copy.n_pools;
	snap_free_pools(&copy);
}
