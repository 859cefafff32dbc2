/*
 * apply.c - write requests checked against the store and carried out (see ops.h).
 *
 * Every check a person can fail is made here, from the store, before anything changes, so
 * the answer is the same whoever asks and wherever it is applied. The server's hooks then
 * change the live run; their own refusals (the engine's -EBUSY when an attempt started in
 * between) come back as the same kinds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "dag/dag.h"
#include "engine/schedule.h"
#include "ops/ops.h"
#include "ops/shape.h"

static bool state_is(const char *state, const char *what)
{
	return state && strcmp(state, what) == 0;
}

bool ops_run_is_over(const char *state)
{
	return state_is(state, "success") || state_is(state, "failed") ||
	       state_is(state, "cancelled");
}

static bool ti_is_active(const char *state)
{
	return state_is(state, "queued") || state_is(state, "running");
}

int ops_get_run(struct store *st, const char *run_id, struct store_run *ret, struct ops_err *err)
{
	int e = store_run_get(st, run_id, ret);
	if (e == 0)
		return 0;
	if (e != -ENOENT)
		return ops_fail(err, OPS_INTERNAL, "cannot read run '%s': %s", run_id,
				store_errmsg(st));
	/* A hint among the recent runs (of the same DAG when the id names one). */
	struct store_run_filter f = {.limit = 500};
	char *dag = xstrdup(run_id);
	char *at = strchr(dag, '@');
	if (at) {
		*at = '\0';
		f.dag_id = dag;
	}
	struct store_run *rows = NULL;
	size_t n = 0;
	const char *hint = NULL;
	if (store_run_list(st, &f, &rows, &n) == 0 && n) {
		const char **names = xcalloc(n, sizeof(*names));
		for (size_t i = 0; i < n; i++)
			names[i] = rows[i].run_id;
		hint = closest_word(run_id, names, n);
		if (hint)
			ops_fail(err, OPS_NOT_FOUND, "no run '%s' (did you mean '%s'?)", run_id,
				 hint);
		free(names);
	}
	if (!hint)
		ops_fail(err, OPS_NOT_FOUND, "no run '%s'", run_id);
	for (size_t i = 0; i < n; i++)
		store_run_free(&rows[i]);
	free(rows);
	free(dag);
	return -1;
}

int ops_ti_rows(struct store *st, const char *run_id, struct store_ti **ret, size_t *ret_n,
		struct ops_err *err)
{
	struct store_ti *tis = NULL;
	size_t n = 0;
	if (store_ti_list(st, run_id, &tis, &n) < 0)
		return ops_fail(err, OPS_INTERNAL, "cannot read the tasks of run '%s': %s", run_id,
				store_errmsg(st));
	/* Rows come by task then map_index: a placeholder (-1) is followed by its instances. */
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (tis[i].map_index == -1 && state_is(tis[i].state, "none") && i + 1 < n &&
		    strcmp(tis[i + 1].task_id, tis[i].task_id) == 0 && tis[i + 1].map_index >= 0) {
			store_ti_free(&tis[i]);
			continue;
		}
		tis[j++] = tis[i];
	}
	*ret = tis;
	*ret_n = j;
	return 0;
}

void ops_ti_rows_free(struct store_ti *tis, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_ti_free(&tis[i]);
	free(tis);
}

/* ---- the task instances a clear or a mark touches -------------------------------------- */

struct target {
	struct store_run run;
	const struct dag *dag;
	void *hold;
	struct store_ti *tis;
	size_t n_tis;
	bool *in; /* per TI row: touched */
};

static void target_free(const struct ops_ctx *c, struct target *t)
{
	if (t->dag)
		c->dags->release(c->dags->ctx, t->hold);
	ops_ti_rows_free(t->tis, t->n_tis);
	free(t->in);
	store_run_free(&t->run);
}

static int no_task(const struct dag *d, const char *task_id, struct ops_err *err)
{
	const char **names = xcalloc(d->n_tasks + 1, sizeof(*names));
	for (uint32_t i = 0; i < d->n_tasks; i++)
		names[i] = d->tasks[i].id;
	const char *hint = closest_word(task_id, names, d->n_tasks);
	ops_fail(err, OPS_NOT_FOUND, "DAG '%s' has no task '%s'%s%s%s", d->id, task_id,
		 hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
	free(names);
	return -1;
}

/* "work[1]" or "work" */
static char *ti_name(const char *task_id, int32_t map_index)
{
	return map_index >= 0 ? xasprintf("%s[%d]", task_id, map_index) : xstrdup(task_id);
}

/*
 * The run, its DAG and the rows of task rq->task_id (the instance rq->map_index, or all), and
 * with `downstream` every row of the tasks downstream of it; none of them may be queued or
 * running (`verb` says what cannot be done to them).
 */
static int target_find(const struct ops_ctx *c, const struct ops_req *rq, bool downstream,
		       const char *verb, struct target *t, struct ops_err *err)
{
	memset(t, 0, sizeof(*t));
	if (ops_get_run(c->st, rq->run_id, &t->run, err) < 0)
		return -1;
	if (state_is(t->run.state, "queued"))
		return ops_fail(err, OPS_CONFLICT, "run %s has not started yet: nothing to %s",
				rq->run_id, verb);
	t->dag = c->dags->get(c->dags->ctx, c->st, t->run.dag_id, t->run.version, &t->hold, err);
	if (!t->dag)
		return -1;
	int32_t task = dag_task_index(t->dag, rq->task_id);
	if (task < 0)
		return no_task(t->dag, rq->task_id, err);
	if (ops_ti_rows(c->st, rq->run_id, &t->tis, &t->n_tis, err) < 0)
		return -1;
	t->in = xcalloc(t->n_tis + 1, sizeof(*t->in));
	/* The task's instances: with a map index, it must be one the task has. */
	size_t n_inst = 0;
	bool found = false;
	for (size_t i = 0; i < t->n_tis; i++) {
		if (strcmp(t->tis[i].task_id, rq->task_id) != 0)
			continue;
		n_inst += t->tis[i].map_index >= 0;
		if (rq->map_index < 0 || t->tis[i].map_index == rq->map_index)
			t->in[i] = found = true;
	}
	if (rq->map_index >= 0 && !found) {
		if (!n_inst)
			return ops_fail(err, OPS_INVALID,
					"task '%s' has no mapped instances in run %s: name it "
					"without a map index",
					rq->task_id, rq->run_id);
		return ops_fail(err, OPS_INVALID,
				"task '%s' has %zu instances in run %s: map index %d is out of "
				"range (0..%zu)",
				rq->task_id, n_inst, rq->run_id, rq->map_index, n_inst - 1);
	}
	if (downstream) {
		/* Every task reachable downstream, whole. */
		bool *down = xcalloc(t->dag->n_tasks, sizeof(*down));
		uint32_t *stack = xcalloc(t->dag->n_tasks, sizeof(*stack));
		size_t top = 0;
		stack[top++] = (uint32_t)task;
		while (top) {
			uint32_t u = stack[--top];
			for (uint32_t k = t->dag->down_off[u]; k < t->dag->down_off[u + 1]; k++) {
				uint32_t w = t->dag->down[k];
				if (!down[w]) {
					down[w] = true;
					stack[top++] = w;
				}
			}
		}
		for (size_t i = 0; i < t->n_tis; i++) {
			int32_t k = dag_task_index(t->dag, t->tis[i].task_id);
			if (k >= 0 && down[k])
				t->in[i] = true;
		}
		free(stack);
		free(down);
	}
	for (size_t i = 0; i < t->n_tis; i++) {
		const struct store_ti *ti = &t->tis[i];
		if (t->in[i] && ti_is_active(ti->state)) {
			char *name = ti_name(ti->task_id, ti->map_index);
			ops_fail(err, OPS_CONFLICT,
				 "%s is %s (try %d): it can be %s once its attempt ends", name,
				 ti->state, ti->try_number,
				 strcmp(verb, "clear") == 0 ? "cleared" : "marked");
			free(name);
			return -1;
		}
	}
	return 0;
}

static json_t *target_instances(const struct target *t)
{
	json_t *a = json_array();
	for (size_t i = 0; i < t->n_tis; i++) {
		if (!t->in[i])
			continue;
		const struct store_ti *ti = &t->tis[i];
		json_array_append_new(
		    a, json_pack("{s:s, s:o, s:s}", "task_id", ti->task_id, "map_index",
				 ti->map_index >= 0 ? json_integer(ti->map_index) : json_null(),
				 "state", ti->state));
	}
	return a;
}

/* Left in the store for the next server to apply. */
static int queue_for_server(const struct ops_ctx *c, const struct ops_req *rq,
			    struct ops_answer *ans, struct ops_err *err)
{
	json_t *o = ops_req_json(rq);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	int r = store_command_add(c->st, ops_op_name(rq->op), text, c->now, NULL);
	free(text);
	if (r < 0)
		return ops_fail(err, OPS_INTERNAL, "cannot queue the request: %s",
				store_errmsg(c->st));
	ans->outcome = OPS_QUEUED;
	return 0;
}

/* ---- the operations -------------------------------------------------------------------- */

static int apply_cancel(const struct ops_ctx *c, const struct ops_live *live,
			const struct ops_req *rq, struct ops_answer *ans, struct ops_err *err)
{
	struct store_run run;
	if (ops_get_run(c->st, rq->run_id, &run, err) < 0)
		return -1;
	int r = 0;
	if (ops_run_is_over(run.state)) {
		r = ops_fail(err, OPS_CONFLICT, "run %s is already over: %s%s%s%s", rq->run_id,
			     run.state, run.message ? " (" : "", run.message ? run.message : "",
			     run.message ? ")" : "");
	} else if (live) {
		bool done = false;
		r = live->cancel(live->ctx, rq, &done, err);
		ans->outcome = done ? OPS_DONE : OPS_STARTED;
	} else if (state_is(run.state, "queued")) {
		/* Nobody will start it meanwhile: the caller holds the server lock. */
		char *why =
		    xasprintf("cancelled by %s before it started", rq->who ? rq->who : "a request");
		if (store_run_set_state(c->st, NULL, rq->run_id, "cancelled", why, c->now) < 0)
			r = ops_fail(err, OPS_INTERNAL, "cannot cancel run %s: %s", rq->run_id,
				     store_errmsg(c->st));
		ans->outcome = OPS_DONE;
		free(why);
	} else {
		r = queue_for_server(c, rq, ans, err);
	}
	store_run_free(&run);
	if (r < 0)
		return -1;
	if (store_run_get(c->st, rq->run_id, &run) == 0) {
		ans->body = json_pack("{s:o}", "run", ops_run_json(&run, c->now));
		store_run_free(&run);
	}
	return 0;
}

static int apply_clear_or_mark(const struct ops_ctx *c, const struct ops_live *live,
			       const struct ops_req *rq, struct ops_answer *ans,
			       struct ops_err *err)
{
	bool clear = rq->op == OPS_CLEAR;
	struct target t;
	int r = target_find(c, rq, clear && rq->downstream, clear ? "clear" : "mark", &t, err);
	if (r == 0) {
		if (clear && rq->dry_run)
			ans->outcome = OPS_DONE;
		else if (!live)
			r = queue_for_server(c, rq, ans, err);
		else if ((r = (clear ? live->clear : live->mark)(live->ctx, rq, err)) == 0)
			ans->outcome = OPS_DONE;
	}
	if (r == 0) {
		ans->body = json_pack("{s:s, s:o}", "run_id", rq->run_id, "instances",
				      target_instances(&t));
		if (clear)
			json_object_set_new(ans->body, "dry_run", json_boolean(rq->dry_run));
		else
			json_object_set_new(ans->body, "state",
					    json_string(rq->success ? "success" : "failed"));
	}
	target_free(c, &t);
	return r;
}

int ops_get_dag(struct store *st, const char *dag_id, struct store_dag *ret, struct ops_err *err)
{
	int e = store_dag_get(st, dag_id, ret);
	if (e == -ENOENT)
		return ops_no_dag(st, dag_id, err);
	if (e < 0)
		return ops_fail(err, OPS_INTERNAL, "cannot read DAG '%s': %s", dag_id,
				store_errmsg(st));
	return 0;
}

int ops_no_dag(struct store *st, const char *id, struct ops_err *err)
{
	struct store_dag *dags = NULL;
	size_t n = 0;
	store_dag_list(st, &dags, &n);
	const char **names = xcalloc(n + 1, sizeof(*names));
	size_t k = 0;
	/* DAG ids only: not the rows of files that never loaded ("./x.yaml"). */
	for (size_t i = 0; i < n; i++)
		if (!strchr(dags[i].dag_id, '/'))
			names[k++] = dags[i].dag_id;
	const char *hint = closest_word(id, names, k);
	ops_fail(err, OPS_NOT_FOUND, "no DAG '%s'%s%s%s", id, hint ? " (did you mean '" : "",
		 hint ? hint : "", hint ? "'?)" : "");
	free(names);
	for (size_t i = 0; i < n; i++)
		store_dag_free(&dags[i]);
	free(dags);
	return -1;
}

int64_t ops_next_fire(const struct ops_ctx *c, const struct store_dag *row)
{
	if (!row->version || !row->schedule || row->deleted)
		return 0;
	struct ops_err ignored = {0};
	void *hold = NULL;
	const struct dag *d =
	    c->dags->get(c->dags->ctx, c->st, row->dag_id, row->version, &hold, &ignored);
	ops_err_free(&ignored);
	if (!d)
		return 0;
	int64_t next = ops_dag_next_fire(d, c->now);
	c->dags->release(c->dags->ctx, hold);
	return next;
}

static int apply_pause(const struct ops_ctx *c, const struct ops_live *live,
		       const struct ops_req *rq, struct ops_answer *ans, struct ops_err *err)
{
	struct store_dag row;
	if (ops_get_dag(c->st, rq->dag_id, &row, err) < 0)
		return -1;
	bool was = row.paused;
	int r = 0;
	if (was != rq->paused && store_dag_set_paused(c->st, rq->dag_id, rq->paused) < 0)
		r = ops_fail(err, OPS_INTERNAL, "cannot %s DAG '%s': %s",
			     rq->paused ? "pause" : "unpause", rq->dag_id, store_errmsg(c->st));
	if (r == 0) {
		if (live && was != rq->paused)
			live->dag_changed(live->ctx, rq->dag_id);
		int64_t next = rq->paused ? 0 : ops_next_fire(c, &row);
		ans->outcome = OPS_DONE;
		ans->body =
		    json_pack("{s:s, s:b, s:b, s:o}", "dag_id", rq->dag_id, "paused", rq->paused,
			      "was_paused", was, "next_run", ops_time_json(next));
	}
	store_dag_free(&row);
	return r;
}

/* ---- pools ------------------------------------------------------------------------------ */

static int no_pool(struct store *st, const char *name, struct ops_err *err)
{
	struct store_pool *ps = NULL;
	size_t n = 0;
	const char *hint = NULL;
	const char **names = NULL;
	if (store_pool_list(st, &ps, &n) == 0 && n) {
		names = xcalloc(n, sizeof(*names));
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (ps[i].slots >= 0) /* not the missing pools that tasks name */
				names[k++] = ps[i].name;
		hint = closest_word(name, names, k);
	}
	ops_fail(err, OPS_NOT_FOUND, "no pool '%s'%s%s%s", name, hint ? " (did you mean '" : "",
		 hint ? hint : "", hint ? "'?)" : "");
	free(names);
	for (size_t i = 0; i < n; i++)
		store_pool_free(&ps[i]);
	free(ps);
	return -1;
}

static int check_pool_name(const char *name, struct ops_err *err)
{
	if (store_pool_name_valid(name))
		return 0;
	return ops_fail(err, OPS_INVALID,
			"bad pool name '%s': use 1 to 100 letters, digits, '_', '-' and '.'", name);
}

static int apply_pool_set(const struct ops_ctx *c, const struct ops_live *live,
			  const struct ops_req *rq, struct ops_answer *ans, struct ops_err *err)
{
	if (check_pool_name(rq->pool, err) < 0)
		return -1;
	if (rq->slots < 0 || rq->slots > STORE_POOL_SLOTS_MAX)
		return ops_fail(err, OPS_INVALID,
				"slots must be a whole number from 0 to %d, got %d",
				STORE_POOL_SLOTS_MAX, (int)rq->slots);
	struct store_pool old;
	int e = store_pool_get(c->st, rq->pool, &old);
	if (e < 0 && e != -ENOENT)
		return ops_fail(err, OPS_INTERNAL, "cannot read pool '%s': %s", rq->pool,
				store_errmsg(c->st));
	bool existed = e == 0;
	int r = 0;
	/* A pool the config declared stays marked so (the server writes it back at its start). */
	if (store_pool_set(c->st, NULL, rq->pool, rq->slots, rq->description,
			   existed && old.from_config, c->now) < 0)
		r = ops_fail(err, OPS_INTERNAL, "cannot set pool '%s': %s", rq->pool,
			     store_errmsg(c->st));
	struct store_pool now;
	if (r == 0 && store_pool_get(c->st, rq->pool, &now) == 0) {
		if (live)
			live->pools_changed(live->ctx);
		ans->outcome = OPS_DONE;
		ans->body =
		    json_pack("{s:o, s:b, s:o}", "pool", ops_pool_json(&now), "created", !existed,
			      "old_slots", existed ? json_integer(old.slots) : json_null());
		store_pool_free(&now);
	}
	if (existed)
		store_pool_free(&old);
	return r;
}

static int apply_pool_delete(const struct ops_ctx *c, const struct ops_live *live,
			     const struct ops_req *rq, struct ops_answer *ans, struct ops_err *err)
{
	if (check_pool_name(rq->pool, err) < 0)
		return -1;
	struct store_pool p;
	int e = store_pool_get(c->st, rq->pool, &p);
	if (e == -ENOENT)
		return no_pool(c->st, rq->pool, err);
	if (e < 0)
		return ops_fail(err, OPS_INTERNAL, "cannot read pool '%s': %s", rq->pool,
				store_errmsg(c->st));
	e = store_pool_delete(c->st, rq->pool);
	int r = 0;
	if (e == -EPERM)
		r = ops_fail(
		    err, OPS_CONFLICT,
		    "%s cannot be deleted: it holds the tasks that name no pool; change its "
		    "slots with 'gust pools set %s SLOTS'",
		    rq->pool, rq->pool);
	else if (e == -ENOENT) /* deleted meanwhile */
		r = no_pool(c->st, rq->pool, err);
	else if (e < 0)
		r = ops_fail(err, OPS_INTERNAL, "cannot delete pool '%s': %s", rq->pool,
			     store_errmsg(c->st));
	if (r == 0) {
		if (live)
			live->pools_changed(live->ctx);
		ans->outcome = OPS_DONE;
		ans->body = json_pack("{s:o}", "pool", ops_pool_json(&p));
	}
	store_pool_free(&p);
	return r;
}

int ops_apply(const struct ops_ctx *c, const struct ops_live *live, const struct ops_req *rq,
	      struct ops_answer *ans, struct ops_err *err)
{
	memset(ans, 0, sizeof(*ans));
	switch (rq->op) {
	case OPS_CANCEL:
		return apply_cancel(c, live, rq, ans, err);
	case OPS_CLEAR:
	case OPS_MARK:
		return apply_clear_or_mark(c, live, rq, ans, err);
	case OPS_PAUSE:
		return apply_pause(c, live, rq, ans, err);
	case OPS_POOL_SET:
		return apply_pool_set(c, live, rq, ans, err);
	case OPS_POOL_DELETE:
		return apply_pool_delete(c, live, rq, ans, err);
	}
	return ops_fail(err, OPS_BAD_REQUEST, "unknown operation");
}
