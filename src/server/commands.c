/*
 * commands.c - what people ask of a running server: commands from the store's queue (cancel,
 * clear, wake) and runs triggered from the CLI (server_int.h). The HTTP API's writes will come
 * through here too (ADR 0007).
 */
#include "server/server_int.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "exec/proctree.h"
#include "server/log.h"

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
	server_timer_push(s, run_next_wakeup(r->run), T_RUN, r->serial, r->timer_gen);
	slog(LOG_INFO, "run %s: cleared task '%s'%s: it runs again", run_id, task_id,
	     downstream ? " and its downstream" : "");
	return NULL;
}

/* ---- commands and CLI changes ------------------------------------------------------------ */

void cancel_run(struct server *s, struct srun *r, const char *why, int64_t now)
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

void apply_commands(struct server *s, int64_t now)
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
				slog(LOG_WARN, "clear %s %s: %s", run_id, task_id ? task_id : "?",
				     err);
		} else if (strcmp(c->kind, "wake") == 0) {
			/* pause/unpause and the like: look at every schedule again */
			for (size_t k = 0; k < s->bag.n; k++)
				arm_dag(s, k, now);
			store_command_done(s->st, NULL, c->id, "ok");
		} else {
			slog(LOG_WARN, "command %lld: unknown kind '%s'", (long long)c->id,
			     c->kind);
			store_command_done(s->st, NULL, c->id, "unknown command");
		}
		json_decref(args);
		store_command_free(c);
	}
	free(cmds);
}
