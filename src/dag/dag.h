/*
 * dag.h - the in-memory model of one DAG file, and its compiled form.
 *
 * dag_load.c turns YAML into this model, dag_check.c validates it, dag_compile.c adds the
 * arrays the engine walks. Everything hangs off one arena owned by the struct dag and freed by
 * dag_free(); JSON values (param defaults, literal map lists) are jansson references released
 * there too. Once loaded, a DAG is immutable and can be shared by every run of that version.
 *
 * Tasks keep file order in `tasks`; `topo` lists task indexes in a topological order (ties in
 * file order). The edges are stored twice in CSR form: downstream of task i is
 * down[down_off[i] .. down_off[i+1]), upstream is up[up_off[i] .. up_off[i+1]).
 */
#ifndef GUST_DAG_DAG_H
#define GUST_DAG_DAG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/strmap.h"
#include "dag/template.h"

struct srcpos {
	uint32_t line, col; /* 1-based; 0 when not from a file */
};

enum trigger_rule {
	TR_ALL_SUCCESS,
	TR_ALL_FAILED,
	TR_ALL_DONE,
	TR_ONE_SUCCESS,
	TR_ONE_FAILED,
	TR_NONE_FAILED,
	TR_NONE_SKIPPED,
	TR_ALWAYS,
	TR__COUNT,
};

enum param_type {
	PT_STRING,
	PT_INTEGER,
	PT_NUMBER,
	PT_BOOLEAN,
	PT_ARRAY,
	PT_OBJECT,
	PT__COUNT,
};

enum retry_backoff { BACKOFF_FIXED, BACKOFF_EXPONENTIAL };
/* How a task's weight (its rank among waiting tasks) follows from `priority` (Airflow's
 * weight_rule): its own priority plus those of every task downstream of it, or upstream of it,
 * or its own only. */
enum weight_rule { WEIGHT_DOWNSTREAM, WEIGHT_UPSTREAM, WEIGHT_ABSOLUTE };
enum leftovers { LEFTOVERS_KILL, LEFTOVERS_KEEP };
enum map_kind { MAP_NONE, MAP_LITERAL, MAP_TEMPLATE };

struct dag_param {
	const char *name;
	struct srcpos pos;
	enum param_type type;
	json_t *def; /* default value (owned reference), NULL if required */
	bool has_min, has_max;
	double min, max;
	json_t *enum_values; /* array (owned reference) or NULL */
	const char *description;
};

struct dag_env {
	const char *name;
	struct template *value;
	struct srcpos pos;
};

struct dag_resources {
	int64_t cpu_milli; /* 0: not declared */
	uint64_t memory;   /* bytes */
	uint64_t disk;     /* bytes */
	const char *disk_path;
};

struct dag_task {
	const char *id;
	const char *description;
	struct srcpos pos;
	/* What to run: a shell command (`run: "..."`) or an argv (`run: [prog, arg...]`). Neither
	 * is allowed: the task then succeeds at once (a join point, like Airflow's EmptyOperator). */
	struct template *run;
	struct template **argv;
	uint32_t argc;
	struct srcpos run_pos;

	const char **depends;
	struct srcpos *depends_pos;
	uint32_t n_depends;

	enum trigger_rule trigger_rule;
	int32_t retries;
	int64_t retry_delay_ms;
	enum retry_backoff retry_backoff;
	int64_t max_retry_delay_ms; /* 0: no cap */
	int32_t *retry_on_exit_codes;
	uint32_t n_retry_on_exit_codes; /* 0: every failure is retried */
	int64_t timeout_ms;		/* 0: none */
	int64_t kill_grace_ms;

	const char *pool;
	int32_t pool_slots;
	int32_t priority; /* default 1 */
	enum weight_rule weight_rule;
	struct dag_resources resources;

	struct dag_env *env;
	uint32_t n_env;
	struct template *workdir;
	enum leftovers leftovers;

	enum map_kind map_kind;
	json_t *map_items;	     /* MAP_LITERAL: an array (owned reference) */
	struct template *map_expr;   /* MAP_TEMPLATE: a `whole` template */
	struct srcpos map_pos;
};

struct dag {
	struct arena arena;
	const char *path; /* the file it came from */
	const char *id;
	const char *description;
	const char *schedule; /* NULL: manual only */
	struct srcpos schedule_pos;
	const char *timezone; /* IANA name; "UTC" by default */
	struct srcpos timezone_pos;
	const char *start_date, *end_date; /* as written (validated ISO 8601 date or date-time) */
	bool catchup;
	int32_t max_active_runs;
	int32_t max_active_tasks; /* 0: no per-DAG limit */
	int64_t dagrun_timeout_ms;
	int64_t jitter_ms;
	const char **conflicts;
	uint32_t n_conflicts;
	const char **tags;
	uint32_t n_tags;

	struct dag_param *params;
	uint32_t n_params;

	struct dag_task *tasks;
	uint32_t n_tasks;

	/* Compiled form (dag_compile.c). */
	uint32_t *topo;
	uint32_t *down_off, *down;
	uint32_t *up_off, *up;
	uint32_t *indegree;
	struct strmap task_map; /* id -> index */

	/* Per task: priority after its weight rule. NULL until dag_compute_weights(). */
	int64_t *weight;
};

/* Names, for messages and parsing. */
const char *trigger_rule_name(enum trigger_rule r);
int trigger_rule_parse(const char *s, enum trigger_rule *ret);
const char *param_type_name(enum param_type t);
/* Arrays of TR__COUNT / PT__COUNT names, for hints. */
const char *const *trigger_rule_all_names(void);
const char *const *param_type_all_names(void);
int param_type_parse(const char *s, enum param_type *ret);

/* Index of a task by id, or -1. */
int32_t dag_task_index(const struct dag *d, const char *id);
const struct dag_param *dag_param_find(const struct dag *d, const char *name);

/* Is `anc` an upstream (transitive) ancestor of task `t`? */
bool dag_is_upstream(const struct dag *d, uint32_t anc, uint32_t t);

/*
 * Fill d->weight (once; later calls do nothing). Downstream and upstream sums count each task
 * once however many paths lead to it, so they need reachability: O(n^2 / 64) word operations
 * (about 0.2 s for 100,000 tasks in 1,000 layers), which is why validation does not do it and
 * the server and `dags test` do it once per DAG version before the first run.
 */
void dag_compute_weights(struct dag *d);
/* The same, choosing the search below `pair_budget` estimated pairs (tests force each way). */
void dag_compute_weights_with(struct dag *d, uint64_t pair_budget);

void dag_free(struct dag *d);

#endif
