/*
 * why_admission.c - the admission rows of why (why.h): every limit that holds a scheduled task
 * instance back, with the numbers, computed from the store (the instances holding slots are
 * the queued and running ones, with the pool and resources the server wrote on them) and the
 * limits in force, the way the server's admission control (engine/admit.c) counts them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/duration.h"
#include "base/strmap.h"
#include "base/util.h"
#include "engine/conflicts.h"
#include "ops/text.h"
#include "server/pools.h"
#include "server/why_int.h"

struct snap {
	const struct config *cfg;
	int64_t cpu_cap;
	uint64_t mem_cap;
	struct store_ti *active; /* queued and running, every pool */
	size_t n_active;
	struct store_run *runs; /* running */
	size_t n_runs;
	struct strmap run_dag; /* run_id -> index in runs */
};

static void snap_load(struct why *w, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	s->cfg = w->env->cfg;
	config_host_capacity(s->cfg, &s->cpu_cap, &s->mem_cap);
	store_ti_list_active(w->st, NULL, false, &s->active, &s->n_active);
	struct store_run_filter f = {.state = "running"};
	store_run_list(w->st, &f, &s->runs, &s->n_runs);
	strmap_init(&s->run_dag);
	for (size_t i = 0; i < s->n_runs; i++)
		strmap_put(&s->run_dag, s->runs[i].run_id, (uint32_t)i, NULL);
}

static void snap_free(struct snap *s)
{
	ops_ti_rows_free(s->active, s->n_active);
	for (size_t i = 0; i < s->n_runs; i++)
		store_run_free(&s->runs[i]);
	free(s->runs);
	strmap_free(&s->run_dag);
}

static const char *dag_of(const struct snap *s, const char *run_id)
{
	uint32_t k;
	return strmap_get(&s->run_dag, run_id, &k) ? s->runs[k].dag_id : "";
}

static void put_range(struct buf *out, int32_t lo, int32_t hi)
{
	if (lo < 0)
		return;
	if (lo == hi)
		buf_printf(out, "%d", lo);
	else
		buf_printf(out, "%d..%d", lo, hi);
}

/* "run R: task[0..5], other; run S: x[1,3]" for the instances in `pool` (the list is ordered
 * by pool, run, task, map index). Three runs at most, then "and N more runs". */
static void holders(const struct snap *s, const char *pool, struct buf *out)
{
	const char *run = NULL, *task = NULL;
	int32_t lo = -1, hi = -1;
	int runs = 0;
	bool bracket = false;
	for (size_t i = 0; i < s->n_active; i++) {
		const struct store_ti *t = &s->active[i];
		if (strcmp(t->pool ? t->pool : "default_pool", pool) != 0)
			continue;
		bool new_run = !run || strcmp(run, t->run_id) != 0;
		bool new_task = new_run || strcmp(task, t->task_id) != 0;
		bool shown = runs <= 3;
		if (!new_task && t->map_index == hi + 1) {
			hi = t->map_index;
			continue;
		}
		if (shown)
			put_range(out, lo, hi);
		if (!new_task) { /* a gap in the map indexes */
			if (shown)
				buf_putc(out, ',');
			lo = hi = t->map_index;
			continue;
		}
		if (bracket && shown)
			buf_putc(out, ']');
		bracket = false;
		if (new_run && ++runs <= 3)
			buf_printf(out, "%srun %s: ", runs > 1 ? "; " : "", t->run_id);
		else if (!new_run && shown)
			buf_puts(out, ", ");
		run = t->run_id;
		task = t->task_id;
		lo = hi = t->map_index;
		if (runs <= 3) {
			buf_puts(out, t->task_id);
			bracket = t->map_index >= 0;
			if (bracket)
				buf_putc(out, '[');
		}
	}
	if (runs <= 3) {
		put_range(out, lo, hi);
		if (bracket)
			buf_putc(out, ']');
	} else {
		buf_printf(out, " and %d more run%s", runs - 3, runs == 4 ? "" : "s");
	}
}

/* The filesystem of a disk path, as the server's admission names it (0: cannot tell). */
static uint64_t fs_of(const char *path)
{
	struct admit_disk dk;
	return pools_host_disk(NULL, path, &dk) == 0 ? dk.fsid : 0;
}

/* Reservations the server holds (kv admission.reservations). Returns whether one holds this
 * instance back; says so, or that this instance holds one. */
static bool reservations(struct why *w, const char *pool, bool declares)
{
	char *text = NULL;
	if (store_kv_get(w->st, "admission.reservations", &text) < 0 || !text)
		return false;
	char me[300];
	if (w->ti)
		ops_ti_name(w->ti, me, sizeof(me));
	else
		snprintf(me, sizeof(me), "%s", w->task_id);
	bool held = false;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *f[4] = {line, NULL, NULL, NULL};
		for (int k = 1; k < 4 && f[k - 1]; k++) {
			char *tab = strchr(f[k - 1], '\t');
			if (tab) {
				*tab = 0;
				f[k] = tab + 1;
			}
		}
		if (!f[3])
			continue;
		char since[40];
		ops_fmt_time(strtoll(f[3], NULL, 10), since, sizeof(since));
		w->check = "reservation";
		if (strcmp(f[0], w->run.run_id) == 0 && strcmp(f[1], me) == 0) {
			why_say(
			    w, false,
			    "it holds a reservation (%s) since %s: nothing else takes that until "
			    "it fits",
			    f[2], since);
			continue;
		}
		bool pool_res = str_has_prefix(f[2], "pool '");
		char want[160];
		snprintf(want, sizeof(want), "pool '%s'", pool);
		if ((pool_res && strcmp(f[2], want) == 0) || (!pool_res && declares)) {
			why_say(
			    w, true,
			    "waiting: %s is reserved for %s in run %s, waiting longer (since %s)",
			    f[2], f[1], f[0], since);
			held = true;
		}
	}
	free(text);
	return held;
}

void why_admission(struct why *w)
{
	struct snap s;
	snap_load(w, &s);
	const struct dag_task *t = &w->dag->tasks[w->task];
	bool blocked = false;
	char a[32], b[32], c[32], d[32];

	/* parallelism */
	w->check = "parallelism";
	long in_use = (long)s.n_active;
	if (in_use >= s.cfg->parallelism) {
		why_say(w, true, "waiting: parallelism %d reached: %ld of %d in use",
			s.cfg->parallelism, in_use, s.cfg->parallelism);
		blocked = true;
	} else {
		why_say(w, false, "parallelism: %ld of %d in use", in_use, s.cfg->parallelism);
	}

	/* max_active_tasks */
	w->check = "max_active_tasks";
	long dag_in_use = 0;
	for (size_t i = 0; i < s.n_active; i++)
		dag_in_use += strcmp(dag_of(&s, s.active[i].run_id), w->dag->id) == 0;
	int mat = w->dag->max_active_tasks;
	if (mat && dag_in_use >= mat) {
		why_say(w, true, "waiting: max_active_tasks %d reached for DAG %s (%ld in use)",
			mat, w->dag->id, dag_in_use);
		blocked = true;
	} else if (mat) {
		why_say(w, false, "DAG '%s' has max_active_tasks %d: %ld in use", w->dag->id, mat,
			dag_in_use);
	}

	/* pool */
	w->check = "pool";
	struct store_pool pool;
	if (store_pool_get(w->st, t->pool, &pool) < 0) {
		why_say(w, true,
			"waiting: pool '%s' does not exist: create it with 'gust pools set %s "
			"SLOTS' (or in config.yaml)",
			t->pool, t->pool);
		blocked = true;
	} else {
		int64_t used = 0;
		for (size_t i = 0; i < s.n_active; i++)
			if (strcmp(s.active[i].pool ? s.active[i].pool : "default_pool", t->pool) ==
			    0)
				used += s.active[i].pool_slots ? s.active[i].pool_slots : 1;
		struct buf by = {0};
		holders(&s, t->pool, &by);
		bool full = used + t->pool_slots > pool.slots;
		char need[48] = "";
		if (t->pool_slots > 1)
			snprintf(need, sizeof(need), "needs %d slots; ", t->pool_slots);
		why_say(w, full, "%spool '%s': %s%" PRId64 " of %d slots used%s%s%s",
			full ? "waiting: " : "", t->pool, need, used, pool.slots,
			by.len ? " (by " : "", by.len ? buf_str(&by) : "", by.len ? ")" : "");
		buf_free(&by);
		store_pool_free(&pool);
		blocked |= full;
	}

	/* declared resources */
	const struct dag_resources *r = &t->resources;
	int64_t cpu_used = 0;
	uint64_t mem_used = 0;
	for (size_t i = 0; i < s.n_active; i++) {
		cpu_used += s.active[i].cpu_milli;
		mem_used += (uint64_t)s.active[i].memory;
	}
	if (r->cpu_milli) {
		w->check = "cpu";
		bool short_ = cpu_used + r->cpu_milli > s.cpu_cap;
		why_say(w, short_, "%sneeds cpu %s, %s of %s free (running tasks declared %s)",
			short_ ? "waiting: " : "", cpu_format(r->cpu_milli, a, sizeof(a)),
			cpu_format(s.cpu_cap > cpu_used ? s.cpu_cap - cpu_used : 0, b, sizeof(b)),
			cpu_format(s.cpu_cap, c, sizeof(c)), cpu_format(cpu_used, d, sizeof(d)));
		blocked |= short_;
	}
	if (r->memory) {
		w->check = "memory";
		bool short_ = mem_used + r->memory > s.mem_cap;
		why_say(w, short_, "%sneeds memory %s, %s of %s free", short_ ? "waiting: " : "",
			size_human(r->memory, a, sizeof(a)),
			size_human(s.mem_cap > mem_used ? s.mem_cap - mem_used : 0, b, sizeof(b)),
			size_human(s.mem_cap, c, sizeof(c)));
		blocked |= short_;
	}
	if (r->disk) {
		w->check = "disk";
		const char *path = r->disk_path ? r->disk_path : w->env->home;
		struct admit_disk dk;
		int e = pools_host_disk(NULL, path, &dk);
		if (e < 0) {
			why_say(w, true,
				"waiting: needs disk %s on %s, which cannot be examined: %s",
				size_human(r->disk, a, sizeof(a)), path, strerror(-e));
			blocked = true;
		} else {
			uint64_t fs = dk.fsid, held = 0;
			for (size_t i = 0; i < s.n_active; i++) {
				const struct store_ti *x = &s.active[i];
				if (x->disk &&
				    fs_of(x->disk_path ? x->disk_path : w->env->home) == fs)
					held += (uint64_t)x->disk;
			}
			uint64_t free_ = dk.free;
			uint64_t avail = free_ > held ? free_ - held : 0;
			bool short_ = avail < r->disk;
			why_say(w, short_,
				"%sneeds disk %s on %s, %s free after running tasks' reservations "
				"(%s free, %s declared by running tasks)",
				short_ ? "waiting: " : "", size_human(r->disk, a, sizeof(a)), path,
				size_human(avail, b, sizeof(b)), size_human(free_, c, sizeof(c)),
				size_human(held, d, sizeof(d)));
			blocked |= short_;
		}
	}
	blocked |= reservations(w, t->pool, r->cpu_milli || r->memory || r->disk);
	w->check = "ready";
	if (!blocked)
		why_say(w, false, "nothing holds it back now: %s",
			w->env->server
			    ? "it starts on the server's next step (in weight order, then "
			      "round-robin between DAGs)"
			    : "it starts when a server runs");
	snap_free(&s);
}

int why_conflicts(struct why *w)
{
	/* Every running run, either way: other DAGs may list this one. */
	struct store_run_filter f = {.state = "running"};
	struct store_run *runs = NULL;
	size_t n = 0;
	store_run_list(w->st, &f, &runs, &n);
	int said = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(runs[i].dag_id, w->dag->id) == 0)
			continue;
		void *hold = NULL;
		struct ops_err err = {0};
		const struct dag *other = w->env->dags->get(
		    w->env->dags->ctx, w->st, runs[i].dag_id, runs[i].version, &hold, &err);
		ops_err_free(&err);
		if (other && conflicts_pair(w->dag, other)) {
			char since[40], rel[40];
			why_say(w, true,
				"run is queued: it conflicts with %s run %s (running since %s, %s)",
				runs[i].dag_id, runs[i].run_id,
				ops_fmt_time(runs[i].started_at, since, sizeof(since)),
				ops_fmt_relative(runs[i].started_at - w->now, rel, sizeof(rel)));
			said++;
		}
		if (other)
			w->env->dags->release(w->env->dags->ctx, hold);
	}
	for (size_t i = 0; i < n; i++)
		store_run_free(&runs[i]);
	free(runs);
	return said;
}
