/*
 * commands.c - what people ask of a running server: commands from the store's queue (cancel,
 * clear, wake) and runs triggered from the CLI, the HTTP API's writes and its questions of
 * why (server_int.h, ADR 0007).
 */
#include "server/server_int.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "base/util.h"
#include "exec/proctree.h"
#include "ops/ops.h"
#include "server/log.h"
#include "server/pools.h"
#include "server/why.h"

/* The active run, brought back from the store if it finished (a clear or a mark of a finished
 * run makes it run again). */
static struct srun *live_run(struct server *s, const char *run_id, int64_t now, struct ops_err *err)
{
	struct srun *r = srun_find(s, run_id);
	if (!r) {
		struct store_run row;
		if (store_run_get(s->st, run_id, &row) < 0) {
			ops_fail(err, OPS_NOT_FOUND, "no run '%s'", run_id);
			return NULL;
		}
		struct dagver *v = version_for(s, row.dag_id, row.version);
		if (!v) {
			store_run_free(&row);
			ops_fail(err, OPS_CONFLICT, "run %s: its DAG version cannot be loaded",
				 run_id);
			return NULL;
		}
		r = srun_add(s, &row, v);
		dagver_unref(v);
		restore_run_state(s, r, row.started_at, now);
		store_run_free(&row);
	}
	if (!r->run) {
		ops_fail(err, OPS_CONFLICT, "run %s has not started yet", run_id);
		return NULL;
	}
	return r;
}

/* After the engine changed a run by hand: its next step writes its state again (running after
 * a clear; after a mark of a finished run, its outcome by the rule of its end), and its next
 * wake-up is timed. */
static void run_changed(struct server *s, struct srun *r)
{
	if (r->finished) {
		r->finished = false;
		if (run_get_state(r->run) == RUN_RUNNING)
			store_run_set_state(s->st, NULL, r->run_id, "running", NULL, server_now(s));
	}
	r->timer_gen++;
	server_timer_push(s, run_next_wakeup(r->run), T_RUN, r->serial, r->timer_gen);
}

static int engine_error(int e, const struct ops_req *rq, struct ops_err *err)
{
	if (e == -EBUSY)
		return ops_fail(err, OPS_CONFLICT,
				"%s in run %s (or a task downstream) is running; cancel it first",
				rq->task_id, rq->run_id);
	if (e == -ENOENT)
		return ops_fail(err, OPS_INVALID, "no such instance of the mapped task '%s'",
				rq->task_id);
	return ops_fail(err, OPS_INTERNAL, "cannot change %s in run %s", rq->task_id, rq->run_id);
}

/* The live run and the index of the task a clear or a mark names. */
static struct srun *live_task(struct server *s, const struct ops_req *rq, int64_t now,
			      uint32_t *ret_task, struct ops_err *err)
{
	struct srun *r = live_run(s, rq->run_id, now, err);
	if (!r)
		return NULL;
	int32_t task = dag_task_index(r->ver->dag, rq->task_id);
	if (task < 0) {
		ops_fail(err, OPS_NOT_FOUND, "no task '%s' in this run's DAG version", rq->task_id);
		return NULL;
	}
	*ret_task = (uint32_t)task;
	return r;
}

static int live_clear(void *ctx, const struct ops_req *rq, struct ops_err *err)
{
	struct server *s = ctx;
	int64_t now = server_now(s);
	uint32_t task;
	struct srun *r = live_task(s, rq, now, &task, err);
	if (!r)
		return -1;
	int e = run_clear(r->run, task, rq->map_index, rq->downstream, now);
	if (e < 0)
		return engine_error(e, rq, err);
	run_changed(s, r);
	slog(LOG_INFO, "run %s: cleared task '%s'%s%s%s: it runs again", rq->run_id, rq->task_id,
	     rq->downstream ? " and its downstream" : "", rq->who ? " by " : "",
	     rq->who ? rq->who : "");
	return 0;
}

static int live_mark(void *ctx, const struct ops_req *rq, struct ops_err *err)
{
	struct server *s = ctx;
	int64_t now = server_now(s);
	uint32_t task;
	struct srun *r = live_task(s, rq, now, &task, err);
	if (!r)
		return -1;
	const char *state = rq->success ? "success" : "failed";
	char *why = xasprintf("marked %s by %s", state, rq->who ? rq->who : "a request");
	int e = run_mark(r->run, task, rq->map_index, rq->success, now, why);
	free(why);
	if (e < 0)
		return engine_error(e, rq, err);
	run_changed(s, r);
	slog(LOG_INFO, "run %s: marked %s %s%s%s", rq->run_id, rq->task_id, state,
	     rq->who ? " by " : "", rq->who ? rq->who : "");
	return 0;
}

static int live_cancel(void *ctx, const struct ops_req *rq, bool *ret_done, struct ops_err *err)
{
	struct server *s = ctx;
	struct srun *r = srun_find(s, rq->run_id);
	if (!r || r->finished)
		return ops_fail(err, OPS_CONFLICT, "run %s is not active", rq->run_id);
	char *why = xasprintf("cancelled by %s", rq->who ? rq->who : "a request");
	if (!r->run || !run_is_cancelling(r->run))
		cancel_run(s, r, why, server_now(s));
	free(why);
	*ret_done = r->finished;
	return 0;
}

static void live_dag_changed(void *ctx, const char *dag_id)
{
	struct server *s = ctx;
	size_t idx;
	if (dagbag_find(&s->bag, dag_id, &idx))
		arm_dag(s, idx, server_now(s));
}

/* ---- commands and CLI changes ------------------------------------------------------------ */

void cancel_run(struct server *s, struct srun *r, const char *why, int64_t now)
{
	if (!r->run) {
		/* Still queued: it simply never starts. */
		store_run_set_state(s->st, NULL, r->run_id, "cancelled", why, now);
		r->finished = true;
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
void load_new_runs(struct server *s)
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
						    "its DAG version cannot be loaded",
						    server_now(s));
			}
		}
		store_run_free(&rows[i]);
	}
	free(rows);
}

static void live_pools_changed(void *ctx)
{
	struct server *s = ctx;
	pools_load(s->adm, s->st);
}

/* ---- requests --------------------------------------------------------------------------- */

/* The server's compiled versions, for the operations (held by a reference). */
static const struct dag *server_dag_get(void *ctx, struct store *st, const char *dag_id,
					int64_t version, void **ret_hold, struct ops_err *err)
{
	(void)st;
	struct dagver *v = version_for(ctx, dag_id, version);
	if (!v) {
		ops_fail(err, OPS_CONFLICT,
			 "DAG '%s' version %lld no longer loads (the server's log says why)",
			 dag_id, (long long)version);
		return NULL;
	}
	*ret_hold = v;
	return v->dag;
}

static void server_dag_release(void *ctx, void *hold)
{
	(void)ctx;
	dagver_unref(hold);
}

/* Only through server_ops_apply. */
static const struct ops_live server_live_ops = {
    .cancel = live_cancel,
    .clear = live_clear,
    .mark = live_mark,
    .dag_changed = live_dag_changed,
    .pools_changed = live_pools_changed,
};

int server_ops_apply(struct server *s, const struct ops_req *rq, struct ops_answer *ans,
		     struct ops_err *err)
{
	const struct ops_dags dags = {server_dag_get, server_dag_release, s};
	struct ops_ctx c = {.st = s->st, .now = server_now(s), .dags = &dags};
	struct ops_live live = server_live_ops;
	live.ctx = s;
	int r = ops_apply(&c, &live, rq, ans, err);
	if (r < 0)
		slog(LOG_WARN, "%s request%s%s: %s", ops_op_name(rq->op), rq->who ? " by " : "",
		     rq->who ? rq->who : "", err->msg);
	return r;
}

/* GET .../why, in the loop: the reasons over the loop's store, compiled DAGs and limits. */
int server_why(struct server *s, const char *run_id, const char *task_id, int32_t map_index,
	       json_t **ret, struct ops_err *err)
{
	const struct ops_dags dags = {server_dag_get, server_dag_release, s};
	struct why_env env = {.st = s->st,
			      .dags = &dags,
			      .cfg = &s->cfg,
			      .home = s->home,
			      .now = server_now(s),
			      .server = true};
	return why_explain(&env, run_id, task_id, map_index, ret, err);
}

/* The requests the CLI left in the store: each applied, its answer (or error) stored for the
 * CLI that waits for it. */
void apply_commands(struct server *s, int64_t now)
{
	(void)now;
	struct store_command *cmds = NULL;
	size_t n = 0;
	if (store_command_pending(s->st, &cmds, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct store_command *c = &cmds[i];
		json_error_t jerr;
		json_t *args = c->args ? json_loads(c->args, 0, &jerr) : json_object();
		json_object_del(args, "op");
		struct ops_req rq;
		struct ops_answer ans = {0};
		struct ops_err err = {0};
		if (ops_req_parse(c->kind, args, &rq, &err) == 0) {
			server_ops_apply(s, &rq, &ans, &err);
			ops_req_free(&rq);
		} else {
			slog(LOG_WARN, "command %lld (%s): %s", (long long)c->id, c->kind, err.msg);
		}
		char *result = ops_result_text(&ans, &err);
		store_command_done(s->st, NULL, c->id, result);
		free(result);
		ops_answer_free(&ans);
		ops_err_free(&err);
		json_decref(args);
		store_command_free(c);
	}
	free(cmds);
}
