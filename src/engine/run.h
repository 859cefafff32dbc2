/*
 * run.h - the engine's state machine for one DAG run. Pure: no clock, no processes, no files.
 *
 * A run holds one task instance (TI) per unmapped task, and one per item for a mapped task once
 * its list is known. The caller drives it with events and the current time:
 *
 *   run_new()            -> every TI is `none`; tasks without upstreams become `scheduled`
 *   run_pop_ready()      -> a scheduled TI to start (highest priority, then oldest)
 *   run_begin_attempt()  -> the TI is `queued`, its try number bumped, its command rendered
 *   run_on_started()     -> `running`
 *   run_on_finished()    -> `success`, or `up_for_retry` (retry due at a time), or `failed`;
 *                           downstream TIs are decided by walking only this task's edges
 *   run_on_time()        -> retries whose delay passed become `scheduled`; dagrun_timeout
 *   run_cancel()         -> nothing new starts; the caller cancels what runs
 *   run_clear()          -> a task (and its downstream) waits to run again
 *   run_mark()           -> a task ends success or failed by hand, without running
 *
 * Trigger rules follow Airflow's definitions (docs/dag-format.md): they count the states of all
 * upstream TIs (a mapped upstream contributes each of its instances); one_success and one_failed
 * fire as soon as they can; `always` does not wait for upstreams at all.
 *
 * Work is proportional to what changed: finishing a task touches its downstream edges once
 * (counters per task), never a scan of all pending tasks.
 */
#ifndef GUST_ENGINE_RUN_H
#define GUST_ENGINE_RUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "dag/dag.h"
#include "exec/attempt.h"

enum ti_state {
	TI_NONE,
	TI_SCHEDULED,
	TI_QUEUED,
	TI_RUNNING,
	TI_SUCCESS,
	TI_FAILED,
	TI_UP_FOR_RETRY,
	TI_UPSTREAM_FAILED,
	TI_SKIPPED,
	TI__COUNT,
};

enum run_state { RUN_QUEUED, RUN_RUNNING, RUN_SUCCESS, RUN_FAILED, RUN_CANCELLED, RUN__COUNT };

const char *ti_state_name(enum ti_state s);
int ti_state_parse(const char *s, enum ti_state *ret);
const char *run_state_name(enum run_state s);
static inline bool ti_state_done(enum ti_state s)
{
	return s == TI_SUCCESS || s == TI_FAILED || s == TI_UPSTREAM_FAILED || s == TI_SKIPPED;
}

/* The most instances one mapped task may expand to. */
#define RUN_MAX_MAP 100000

struct ti {
	uint32_t task;
	int32_t map_index; /* -1: not mapped */
	enum ti_state state;
	int32_t try_number; /* attempts begun so far */
	int32_t try_base;   /* try_number when last cleared: retries count from here */
	int64_t queued_at, started_at, ended_at; /* ms; 0: not yet */
	int64_t retry_at;			 /* up_for_retry: when the next try may start */
	int exit_code;				 /* last attempt; -1 none */
	int signal;
	enum attempt_status last_status;
	char *message;	/* malloc'd: why it is in this state */
	json_t *output; /* owned */
	json_t *item;	/* owned: mapped item */
	int progress_done, progress_total;
	char *progress_msg;
	uint64_t seq;	  /* order of becoming scheduled, for fairness */
	int32_t heap_pos; /* -1 when not in the ready heap */
};

/* What one attempt should run, rendered. All strings malloc'd; free with attempt_plan_free. */
struct attempt_plan {
	char *shell;   /* or */
	char **argv;   /* NULL-terminated */
	char **env;    /* NULL-terminated "K=V": GUST_* and the task's env (not the base env) */
	char *workdir; /* NULL: inherit */
	int64_t timeout_ms, kill_grace_ms;
	bool keep_leftovers;
	char **secrets; /* NULL-terminated or NULL: values the attempt's log must mask (secret
			   variables, connection passwords and URIs it uses) */
};
void attempt_plan_free(struct attempt_plan *p);

struct run;

struct run_config {
	const char *run_id;
	int64_t logical_date_ms;
	json_t *params; /* resolved params (params_resolve); the run takes a reference */
};

struct run *run_new(const struct dag *d, const struct run_config *cfg, int64_t now);

/* A task instance as it was stored (for run_restore). Pointers are borrowed. */
struct ti_saved {
	const char *task_id;
	int32_t map_index;
	enum ti_state state;
	int32_t try_number, try_base;
	int64_t queued_at, started_at, ended_at, retry_at;
	int exit_code, signal;
	const char *message;
	json_t *output, *item;
	int progress_done, progress_total;
	const char *progress_msg;
};

/*
 * Rebuild a run from its stored task instances, e.g. after a server restart. Instances that
 * were queued or running stay so (counted as active): the caller adopts their attempts or
 * reports their outcome with run_on_finished(). Anything a missed step would have decided is
 * decided now. Saved rows naming tasks the DAG does not have are ignored. The change log
 * starts empty (what was loaded is already stored), except for what this call decided.
 */
struct run *run_restore(const struct dag *d, const struct run_config *cfg, int64_t started_at,
			const struct ti_saved *saved, size_t n_saved, int64_t now);
void run_free(struct run *r);

const struct dag *run_dag(const struct run *r);
const char *run_id(const struct run *r);
enum run_state run_get_state(const struct run *r);
uint32_t run_ti_count(const struct run *r);
const struct ti *run_ti(const struct run *r, uint32_t i);
/* TIs that are queued or running. */
uint32_t run_active_count(const struct run *r);
/* Display name: "task" or "task[3]". Returns buf. */
char *run_ti_name(const struct run *r, uint32_t i, char *buf, size_t size);

/* Take the next scheduled TI (highest priority, then first scheduled), or -1 if none. */
int64_t run_pop_ready(struct run *r);
/* Number of TIs waiting in the ready queue. */
uint32_t run_ready_count(const struct run *r);

/*
 * Begin an attempt of TI i (which run_pop_ready returned): state queued, try_number + 1, and
 * the rendered plan. If rendering fails (an output path that does not exist, a value with a NUL
 * in shell mode), the TI fails at once with the reason and -EINVAL is returned: the caller
 * starts nothing.
 */
int run_begin_attempt(struct run *r, uint32_t i, int64_t now, struct attempt_plan *ret);

/*
 * Where `${{ var.KEY }}` and `${{ conn.NAME.FIELD }}` get their values: the caller's (the
 * server's in-memory snapshot, `dags test`'s), so that the engine stays pure. Both return 0 and
 * *borrowed* values valid until run_begin_attempt_with returns, or -ENOENT (unknown) with a
 * malloc'd sentence in *ret_msg.
 *   var:  the value as a JSON string, and whether it is secret (its value is then masked in
 *         the attempt's log)
 *   conn: an object {"uri", "scheme", "host", "port", "login", "password", "schema",
 *         "extra"}; its password and uri are masked in the log whenever the task uses the
 *         connection
 */
struct run_lookup {
	int (*var)(void *ctx, const char *key, json_t **ret_value, bool *ret_secret,
		   char **ret_msg);
	int (*conn)(void *ctx, const char *name, json_t **ret_conn, char **ret_msg);
	void *ctx;
};
/* run_begin_attempt with variables and connections; lk NULL: none exist (a reference fails the
 * attempt, as an unknown one does). The secret values used land in ret->secrets. */
int run_begin_attempt_with(struct run *r, uint32_t i, int64_t now, const struct run_lookup *lk,
			   struct attempt_plan *ret);
void run_on_started(struct run *r, uint32_t i, int64_t now);
void run_on_progress(struct run *r, uint32_t i, int done, int total, const char *msg);
/* The attempt is over (no process of it left). Takes ownership of o->output. */
void run_on_finished(struct run *r, uint32_t i, struct attempt_outcome *o, int64_t now);

/* Move up to `max` indexes of TIs whose state (or progress) changed since the last call into
 * `out`, oldest change first, each once. Returns how many. A driver prints them; the server
 * writes them to the store in one transaction per step. */
size_t run_drain_changes(struct run *r, uint32_t *out, size_t max);

/* A scheduled TI that can never start (admission: it asks for more than there is) fails at
 * once with `why`, without a try and without retries; downstream is decided as for any
 * failure. Nothing happens if the TI is not scheduled. */
void run_fail_unstarted(struct run *r, uint32_t i, int64_t now, const char *why);

/* An attempt that was begun but provably never started (a server died between recording it
 * and starting it): the TI goes back to scheduled and the try is not counted. */
void run_requeue(struct run *r, uint32_t i, int64_t now);

/* Advance time: due retries become scheduled; past dagrun_timeout, the run is cancelled
 * (returns true once when that happens, so the caller cancels what runs). */
bool run_on_time(struct run *r, int64_t now);
/* The next instant run_on_time has something to do, or INT64_MAX. */
int64_t run_next_wakeup(const struct run *r);

/* Stop the run: TIs not yet started are marked skipped ("run cancelled") and nothing new
 * starts; running attempts must be cancelled by the caller, and their outcome still arrives
 * through run_on_finished. `why` goes into the run's message. */
void run_cancel(struct run *r, int64_t now, const char *why);
bool run_is_cancelling(const struct run *r);
const char *run_message(const struct run *r);
int64_t run_logical_date(const struct run *r);
const json_t *run_params(const struct run *r);
/* When the run was created, started and ended (ms; 0: not yet). */
void run_times(const struct run *r, int64_t *created, int64_t *started, int64_t *ended);

/*
 * Run task `task` again (Airflow's "clear"): its instances go back to waiting for their
 * upstreams (a mapped task keeps its instances and items) with a fresh retry budget; with
 * map_index >= 0, only that instance of the mapped task (-ENOENT if it has none such); with
 * `downstream`, every task downstream of it too, whole. A finished run becomes running again.
 * Nothing is changed if an instance to clear is queued or running (-EBUSY): cancel it first.
 * 0 on success.
 */
int run_clear(struct run *r, uint32_t task, int32_t map_index, bool downstream, int64_t now);

/*
 * End task `task` by hand (Airflow's "mark success" / "mark failed"): its instances become
 * `success` (or `failed`) at once, without an attempt and without a retry; their message is
 * `why` (NULL: "marked success" / "marked failed"). Instances are chosen as run_clear chooses
 * them: map_index -1 takes every instance, which for a mapped task not yet expanded is its one
 * placeholder (the task then does not expand unless cleared, and has no output); map_index >= 0
 * takes that instance of an expanded mapped task alone (-ENOENT if it has none such, so always
 * for an unmapped or unexpanded task). An instance may be marked in any state but queued or
 * running: then nothing is changed (-EBUSY), cancel it first. A waiting or up_for_retry
 * instance waits no more and ends now; a scheduled one leaves the ready queue (a caller that
 * took it with run_pop_ready drops it when it sees it changed, as after run_cancel); one that
 * had ended keeps its end time. Instances already in that state are left as they are: if all
 * are, nothing happens.
 *
 * Downstream reacts as to a real end, but only tasks still waiting for their upstreams do:
 * one already decided (scheduled, upstream_failed, skipped, ended) keeps its state until it is
 * cleared, so marking a failed task success does not run what it failed downstream. A running
 * run may end through a mark (as after run_on_finished). A finished run stays finished (all its
 * instances are final and stay so): its state is taken again by the rule of its end, so it
 * becomes success or failed by its leaf tasks, keeps its end time, and a cancelled or timed-out
 * run stays so. The caller persists run_drain_changes() (the marked instances and those that
 * reacted), the run's state if it changed, and re-arms run_next_wakeup(). 0 on success.
 */
int run_mark(struct run *r, uint32_t task, int32_t map_index, bool success, int64_t now,
	     const char *why);


/* outputs of a task as seen by templates: the TI's output, or for a mapped task the array of
 * its instances' outputs in index order. New reference, or NULL if the task has none. */
json_t *run_task_output(const struct run *r, uint32_t task);

#endif
