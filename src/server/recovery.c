/*
 * recovery.c - a restarted server picks up where the last one stopped: active runs rebuilt
 * from the store, and every attempt not yet ended applied, adopted, claimed or declared lost
 * (ADR 0005; server_int.h).
 */
#include "server/server_int.h"

#include <errno.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/util.h"
#include "exec/proctree.h"
#include "server/log.h"

/* ---- restart: active runs and live attempts -------------------------------------------- */

/* Rebuild the engine state of a running (or finished, for a clear) run from its stored task
 * instances. */
void restore_run_state(struct server *s, struct srun *r, int64_t started_at, int64_t now)
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
	server_timer_push(s, run_next_wakeup(r->run), T_RUN, r->serial, r->timer_gen);
}

void restore_runs(struct server *s, int64_t now)
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
			s->ends =
			    xrealloc_array(s->ends, s->n_ends + 1, sizeof(*s->ends), &s->cap_ends);
			s->ends[s->n_ends++] =
			    (struct attempt_end){a->id, xstrdup("not_started"), now};
			if (r && r->run && ti >= 0)
				run_requeue(r->run, (uint32_t)ti, now);
			return;
		}
		if (sf == -ENOENT)
			sf = read_supervisor_file(a->dir, &pid, &start, &task);
		if (sf == 0 && proc_alive(pid, start) && r && ti >= 0) {
			s->adopted = xrealloc_array(s->adopted, s->n_adopted + 1,
						    sizeof(*s->adopted), &s->cap_adopted);
			s->adopted[s->n_adopted++] = (struct adopted){
			    r->serial, (uint32_t)ti, a->id, xstrdup(a->dir), pid, task, start};
			s->running++;
			r->active++;
			struct admit_need need;
			srun_need(s, r, (uint32_t)ti, &need);
			admit_hold(s->adm, srun_ti_key(r, (uint32_t)ti), &need);
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
		if ((t->state == TI_QUEUED || t->state == TI_RUNNING) &&
		    t->try_number == a->try_number)
			run_on_finished(r->run, (uint32_t)ti, &o, now);
	}
	attempt_outcome_free(&o);
}

void resolve_live_attempts(struct server *s, int64_t now)
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
void poll_adopted(struct server *s, int64_t now)
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
				o.message =
				    xstrdup("lost: its supervisor died without recording an "
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
