/*
 * bench_metrics.c - what the metrics cost the scheduling loop (server/metrics.c), and a scrape.
 *
 *   make bench                    builds build/bench-metrics
 *   build/bench-metrics [RUNS]    RUNS runs in memory (default 1000), of a 10-task DAG each
 *
 * Measured with CLOCK_MONOTONIC, each the median of 9 repetitions:
 *   - one histogram observation (prom_hist_observe), as the loop does per turn and per commit;
 *   - instances counted per changed instance (metrics_tis_changed), as server_persist calls it
 *     with the instances a step drained anyway;
 *   - one publish (metrics_publish_now) of a server with RUNS runs, as many DAG files and 20
 *     pools: what a turn of the loop pays when it publishes (at most every 100 ms);
 *   - one scrape's rendering (metrics_render).
 * The server here is a real struct server with real runs, a real admission and a real
 * dagbag's entries; only the executor is a stand-in whose `running` answers a count (a
 * publish calls nothing else of it).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/diag.h"
#include "base/util.h"
#include "dag/dag_load.h"
#include "dag/params.h"
#include "server/metrics.h"
#include "server/server_int.h"

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return v[n / 2];
}

static size_t fake_running(struct executor *ex)
{
	(void)ex;
	return 32;
}

static const struct executor_ops fake_ops = {.name = "bench", .running = fake_running};

#define REPS 9

int main(int argc, char **argv)
{
	size_t n_runs = argc > 1 ? (size_t)atol(argv[1]) : 1000;
	const char *yaml = "tasks:\n  t0: {run: 'true'}\n  t1: {run: 'true', depends: t0}\n"
			   "  t2: {run: 'true', depends: t0}\n  t3: {run: 'true', depends: t0}\n"
			   "  t4: {run: 'true', depends: t1}\n  t5: {run: 'true', depends: t2}\n"
			   "  t6: {run: 'true', depends: t3}\n  t7: {run: 'true', depends: t4}\n"
			   "  t8: {run: 'true', depends: t5}\n  t9: {run: 'true', depends: t6}\n";
	struct diag_list diags;
	diag_list_init(&diags, "b.yaml");
	struct dag *d = NULL;
	if (dag_load_buffer("b.yaml", yaml, strlen(yaml), &d, &diags) < 0) {
		diag_print(&diags, stderr);
		return 1;
	}
	diag_list_free(&diags);
	char *msg = NULL;
	json_t *params = params_resolve(d, NULL, &msg);

	struct server S;
	memset(&S, 0, sizeof(S));
	struct server *s = &S;
	s->metrics = metrics_new(wall_ms());
	struct executor ex = {&fake_ops};
	s->ex = &ex;
	struct admit_config acfg = {.parallelism = 32,
				    .ageing_ms = 30000,
				    .reserve_after_ms = 600000,
				    .disk_recheck_ms = 2000};
	struct admit_host host = {8000, 16ULL << 30, NULL, NULL, NULL};
	s->adm = admit_new(&acfg, &host);
	for (int p = 0; p < 20; p++) {
		char name[32];
		snprintf(name, sizeof(name), "pool_%02d", p);
		admit_pool_set(s->adm, admit_pool(s->adm, name), 8 + p);
	}
	s->runs = xcalloc(n_runs, sizeof(*s->runs));
	s->bag.entries = xcalloc(n_runs, sizeof(*s->bag.entries));
	for (size_t i = 0; i < n_runs; i++) {
		struct srun *r = xcalloc(1, sizeof(*r));
		char id[32];
		snprintf(id, sizeof(id), "r%zu", i);
		struct run_config cfg = {.run_id = id, .params = params};
		r->run = run_new(d, &cfg, 1000);
		s->runs[s->n_runs++] = r;
		s->bag.entries[i] = xcalloc(1, sizeof(struct dag_entry));
		s->bag.entries[i]->broken = i % 100 == 0;
	}
	s->bag.n = n_runs;

	/* Histogram observations. */
	double t[REPS];
	const int n_obs = 1000000;
	for (int k = 0; k < REPS; k++) {
		int64_t t0 = now_ns();
		for (int i = 0; i < n_obs; i++)
			prom_hist_observe(&s->metrics->loop_turn, ((int64_t)i * 7919) % 3000000);
		t[k] = (double)(now_ns() - t0) / n_obs;
	}
	double ns_observe = median(t, REPS);

	/* Instances counted from changes: every run driven to its end, step by step, timing only
	 * the metrics' share of each persist. */
	uint32_t ch[16];
	int64_t in_metrics = 0;
	uint64_t changes = 0;
	for (size_t i = 0; i < n_runs; i++) {
		struct srun *r = s->runs[i];
		for (;;) {
			size_t n = run_drain_changes(r->run, ch, 16);
			int64_t t0 = now_ns();
			metrics_tis_changed(s->metrics, r->run, &r->seen, &r->n_seen, ch, n);
			in_metrics += now_ns() - t0;
			changes += n;
			int64_t ti = run_pop_ready(r->run);
			if (ti < 0 && !n)
				break;
			if (ti < 0)
				continue;
			struct attempt_plan plan;
			if (run_begin_attempt(r->run, (uint32_t)ti, 1000, &plan) == 0) {
				attempt_plan_free(&plan);
				run_on_started(r->run, (uint32_t)ti, 1000);
				struct attempt_outcome o = {.status = AS_SUCCESS};
				run_on_finished(r->run, (uint32_t)ti, &o, 1000);
			}
		}
	}
	double ns_change = (double)in_metrics / (double)(changes ? changes : 1);

	/* A publish per turn. Rerun a few runs so that some are running: the state mix does not
	 * change the cost (one pass over the runs either way). */
	for (int k = 0; k < REPS; k++) {
		const int turns = 2000;
		int64_t t0 = now_ns();
		for (int i = 0; i < turns; i++)
			metrics_publish_now(s);
		t[k] = (double)(now_ns() - t0) / turns / 1000.0;
	}
	double us_publish = median(t, REPS);

	/* A scrape's rendering. */
	size_t bytes = 0;
	for (int k = 0; k < REPS; k++) {
		const int scrapes = 200;
		int64_t t0 = now_ns();
		for (int i = 0; i < scrapes; i++) {
			struct buf b = {0};
			metrics_render(s->metrics, &b);
			bytes = b.len;
			buf_free(&b);
		}
		t[k] = (double)(now_ns() - t0) / scrapes / 1000.0;
	}
	double us_render = median(t, REPS);

	printf(
	    "### Metrics in the loop (%zu runs of 10 tasks in memory, %zu DAG files, 20 pools)\n\n",
	    n_runs, n_runs);
	printf("| what | cost |\n|---|---|\n");
	printf("| one histogram observation | %.1f ns |\n", ns_observe);
	printf("| instances counted, per changed instance (%llu changes) | %.1f ns |\n",
	       (unsigned long long)changes, ns_change);
	printf("| one publish (a turn, at most every %d ms) | %.2f us |\n", METRICS_PUBLISH_MS,
	       us_publish);
	printf("| one scrape's rendering (%zu bytes) | %.2f us |\n", bytes, us_render);
	printf("| publishes skipped because a scrape held the snapshot | %llu |\n",
	       (unsigned long long)s->metrics->skipped);

	for (size_t i = 0; i < n_runs; i++) {
		free(s->bag.entries[i]);
		run_free(s->runs[i]->run);
		free(s->runs[i]->seen);
		free(s->runs[i]);
	}
	free(s->bag.entries);
	free(s->runs);
	admit_free(s->adm);
	metrics_free(s->metrics);
	json_decref(params);
	dag_free(d);
	return 0;
}
