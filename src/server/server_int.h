/*
 * server_int.h - the state the files of the server share (not for use outside src/server).
 *
 * The server is one struct server driven by one thread's loop (server.c); the other files
 * each own one concern of it: runs.c (active runs in memory, persisting each step), firing.c
 * (schedules and queued runs), launch.c (admission and starting attempts), commands.c (what
 * the CLI and, later, the API ask), retention.c, recovery.c (restart and adoption).
 *
 * Memory: `runs` holds the active runs (queued ones without an engine object yet); each has a
 * serial number that timers and executor keys refer to, so a finished run can be freed while
 * stale timer entries still name it. `live` maps an executor key to the attempt it started.
 */
#ifndef GUST_SERVER_SERVER_INT_H
#define GUST_SERVER_SERVER_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/u64map.h"
#include "engine/admit.h"
#include "engine/run.h"
#include "exec/local.h"
#include "server/config.h"
#include "server/dagbag.h"
#include "server/dagproc.h"
#include "server/notify.h"
#include "server/server.h"
#include "store/store.h"

struct auth_key;
struct ops_vars_snapshot;
struct ops_err;

struct srun {
	uint64_t serial;
	char *run_id;
	char *dag_id;
	struct dagver *ver;
	struct run *run; /* NULL while queued */
	enum store_run_kind kind;
	int64_t logical, created_at, started_at;
	json_t *params;
	bool finished;
	int64_t timer_gen;
	int32_t active;	    /* attempts queued or running */
	uint32_t adm_dag;   /* admit_dag() of its DAG */
	uint32_t *adm_pool; /* per task: admit_pool() of its pool (NULL until first needed) */
	bool said_conflict; /* logged that it waits for a conflicting run */
	uint8_t *seen;	    /* per TI: its state as the metrics last counted it (metrics.h) */
	uint32_t n_seen;
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

struct api;
struct metrics;

struct server {
	struct server_opts opts;
	struct api *api;       /* the HTTP API, NULL until started */
	struct notify notify;  /* systemd's READY and WATCHDOG */
	char *test_stall_path; /* GUST_TEST_LOOP_STALL=1: HOME/test-stall (server.c) */
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
	int running;	    /* attempts handed to the executor and not finished */
	struct admit *adm;  /* what may start: every ready TI waits here (engine/admit.h) */
	char *reservations; /* as last written to the store's kv */

	struct timer *timers;
	size_t n_timers, cap_timers;

	struct attempt_end *ends;
	size_t n_ends, cap_ends;

	struct adopted *adopted;
	size_t n_adopted, cap_adopted;

	char **base_env;
	struct auth_key *key;		/* GUST_HOME/secret.key (auth/secretbox.h) */
	struct ops_vars_snapshot *vars; /* variables and connections in memory (vars.c) */
	struct run_lookup lookup;	/* over `vars`, for rendering attempts */
	uint32_t *changes;
	size_t cap_changes;
	struct metrics *metrics; /* GET /metrics (metrics.h) */
};

/* server.c */
int64_t server_now(const struct server *s);
void server_timer_push(struct server *s, int64_t at, enum timer_kind kind, uint64_t ref,
		       int64_t gen);

/* runs.c */
void commit_step(struct server *s);
int server_commit(struct server *s, struct store_tx *tx);
void drop_finished_runs(struct server *s);
char *server_json_text(json_t *v);
int server_persist(struct server *s, struct store_tx *tx);
struct srun *srun_add(struct server *s, const struct store_run *row, struct dagver *ver);
struct srun *srun_find(struct server *s, const char *run_id);
void srun_free(struct server *s, struct srun *r);
uint64_t srun_ti_key(const struct srun *r, uint32_t i);
struct dagver *version_for(struct server *s, const char *dag_id, int64_t version);

/* firing.c */
void arm_dag(struct server *s, size_t idx, int64_t now);
void on_dag_timer(struct server *s, size_t idx, int64_t now);
void promote_queued(struct server *s, int64_t now);

/* launch.c */
int admission_open(struct server *s);
void drain_executor(struct server *s, int64_t now);
void on_finished(struct server *s, struct live *l, struct attempt_outcome *o, int64_t now);
void srun_need(struct server *s, struct srun *r, uint32_t i, struct admit_need *n);
void start_ready(struct server *s, int64_t now);
int write_reservations(struct server *s, struct store_tx *tx);

/* commands.c */
void apply_commands(struct server *s, int64_t now);
/* The API's GET .../why (server/why.h). */
int server_why(struct server *s, const char *run_id, const char *task_id, int32_t map_index,
	       json_t **ret, struct ops_err *err);
void cancel_run(struct server *s, struct srun *r, const char *why, int64_t now);
void load_new_runs(struct server *s);
struct ops_req;
struct ops_answer;
struct ops_err;
/* A write request applied to the live state, as the CLI's and the API's are (ADR 0007). */
int server_ops_apply(struct server *s, const struct ops_req *rq, struct ops_answer *ans,
		     struct ops_err *err);

/* metrics.c: at the end of each turn, what GET /metrics reads (never waits on a scrape; at
 * most every METRICS_PUBLISH_MS), and the same unthrottled (-1: a scrape held the snapshot). */
void metrics_publish(struct server *s);
int metrics_publish_now(struct server *s);

/* vars.c */
/* Open (create at first start) the master key and load the snapshot; -1 after printing why
 * (a key readable by others refuses the start). */
int server_vars_open(struct server *s);
/* Reload the snapshot if a variable or connection changed in the store. */
void server_vars_refresh(struct server *s);
void server_vars_close(struct server *s);

/* retention.c */
void retention_tick(struct server *s, int64_t now);

/* recovery.c */
void poll_adopted(struct server *s, int64_t now);
void resolve_live_attempts(struct server *s, int64_t now);
void restore_run_state(struct server *s, struct srun *r, int64_t started_at, int64_t now);
void restore_runs(struct server *s, int64_t now);

#endif
