/*
 * cli.h - the command-line tool: a thin layer over the library.
 *
 * Commands are data: each group (dags, runs, ...) has a table of {name, function, summary,
 * usage}. A command function gets argc/argv starting at its own name and returns the process
 * exit code: 0 success, 1 failure of the thing asked for, 2 usage error (EXIT_USAGE).
 */
#ifndef GUST_CLI_CLI_H
#define GUST_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops/ops.h"
#include "ops/text.h"
#include "store/store.h"

#define EXIT_USAGE 2

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
	const char *usage; /* full help text, printed by --help */
};

/* Print `usage` to stdout (help asked) or a usage error to stderr; returns the exit code. */
int cli_help(const struct cli_cmd *cmd);
int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * The options of the commands that take only --home DIR (and, with json != NULL, --json) and
 * --help: parsed, with *home NULL when not given. Returns -1 to go on (operands from optind),
 * else the exit code (help printed, or a usage error).
 */
int cli_home_options(const struct cli_cmd *cmd, int argc, char **argv, const char **home,
		     bool *json);
/* Is argv[i] -h or --help anywhere before a "--"? */
bool cli_wants_help(int argc, char **argv);

/* DAG files named by PATHs: files as given, folders searched recursively for *.yaml / *.yml,
 * sorted. Returns a malloc'd NULL-terminated array of malloc'd paths; problems reading a folder
 * are printed to stderr and counted in *ret_errors. */
char **cli_collect_dag_files(char *const *paths, size_t n, int *ret_errors);
void cli_free_strv(char **v);

/* The folder of DAG files: --dags, else $GUST_DAGS, else ./dags. */
const char *cli_dags_dir(const char *opt);

/* The state folder: --home, else $GUST_HOME, else ./.gust. */
const char *cli_home(const char *opt);

/* ---- the store at the home (commands that read or change the server's state) ------------- */

struct dag;

/*
 * Open the store at HOME/gust.db. Without `create`, a missing store is an error that says
 * nothing has run on this home yet (and how to change that); with it, HOME is created if
 * needed. Prints the problem to stderr and returns -errno on failure.
 */
int cli_store_open(const char *home, bool create, struct store **ret);
/* Is a server running on `home`? (It holds an exclusive flock on HOME/server.lock.) */
bool cli_server_running(const char *home);
/*
 * Carry out a write request (ops.h): when a server runs, it is queued in the store and the
 * server's answer awaited (up to 30 s; OPS_QUEUED if the server stops first); otherwise it is
 * applied here, holding the server lock so that no server starts meanwhile.
 */
int cli_ops_write(const char *home, struct store *st, const struct ops_req *rq,
		  struct ops_answer *ans, struct ops_err *err);
/* Print an operation's error ("gust: MESSAGE"), free it, and return its exit status. */
int cli_ops_failed(struct ops_err *err);
/* An audit entry for a change this command made in the store itself, as the local operator. */
void cli_audit(struct store *st, const char *action, const char *target);
/* "gust: no DAG 'x' (did you mean 'y'?)" (ops_no_dag) to stderr. */
void cli_unknown_dag(struct store *st, const char *dag_id);
/* Fetch a run; an unknown one is reported (with a hint) to stderr. 0 or -errno. */
int cli_run_get(struct store *st, const char *run_id, struct store_run *ret);
/*
 * The task instances of a run, in task then map-index order. Hides the placeholder row a
 * mapped task has before its list is known (map_index -1, state none) once its instances exist.
 */
int cli_ti_list(struct store *st, const char *run_id, struct store_ti **ret, size_t *ret_n);
void cli_ti_list_free(struct store_ti *tis, size_t n);
/* Compile a stored version of a DAG (the DAG's current one when version is 0). On failure the
 * reason goes to stderr and NULL is returned. */
struct dag *cli_dag_from_store(struct store *st, const char *dag_id, int64_t version);
/*
 * Find DAG `dag_id` in the DAG folder `dir`: load files until one declares it. Returns the DAG
 * and, if wanted, its file name and content (malloc'd); NULL when none does (nothing printed).
 */
struct dag *cli_dag_from_folder(const char *dir, const char *dag_id, char **ret_file,
				char **ret_text, size_t *ret_len);

/* A task instance looked up by run, task and map index. */
struct cli_ti_ref {
	struct store_run run;
	struct store_ti *tis;
	size_t n_tis;
	const struct store_ti *ti; /* the instance asked for, NULL if it has no row yet */
	int32_t map_index;
	size_t n_instances; /* of the task */
};

/*
 * Find TASK (and MAP_INDEX, -2 when not given) of RUN. Reports problems to stderr and returns
 * the exit code (0 found; 1 unknown run or task; 2 a mapped task without --map-index, unless
 * `whole` accepts the task as a whole, or an index out of range). A known task of a run that
 * has not started has no instance: ti NULL.
 */
int cli_ti_find(struct store *st, const char *home, const char *run_id, const char *task_id,
		int32_t map_index, bool whole, struct cli_ti_ref *ret);
void cli_ti_ref_free(struct cli_ti_ref *r);

/* ---- formatting ------------------------------------------------------------------------------ */

int64_t cli_now_ms(void);
/* With milliseconds: 2024-03-01T00:00:05.123Z. */
char *cli_fmt_time_ms(int64_t ms, char *buf, size_t size);
/* The civil time in a zone with its offset: 2024-03-01T01:00:00+01:00 (tz_name NULL: UTC). */
char *cli_fmt_time_tz(int64_t ms, const char *tz_name, char *buf, size_t size);
/* A time of the JSON shapes (ops_time_json) as ops_fmt_time prints it: "-" for null. */
char *cli_fmt_json_time(const json_t *v, char *buf, size_t size);
/* A length of time for tables: 850ms, 12.3s, 4m05s, 2h03m, 3d04h. */
char *cli_fmt_elapsed(int64_t ms, char *buf, size_t size);
/* Times "-" for 0, relative times, an instance's name, how it ended, its progress: ops/text.h,
 * shared with the answers of why. */

/* Print a JSON value to stdout, indented, with a newline. --json prints the shapes of
 * ops/shape.h, the API's. */
void cli_print_json(json_t *v);

/* Dispatch `gust GROUP COMMAND ...` over a table of commands named "GROUP COMMAND". */
int cli_group(const char *group, const struct cli_cmd *const *cmds, size_t n, int argc,
	      char **argv);

/* Parse a whole number in [min, max]; false if it is not one. */
bool cli_parse_int(const char *s, long min, long max, long *ret);

/* Command groups. */
int cmd_dags(int argc, char **argv);
int cmd_variables(int argc, char **argv);
int cmd_connections(int argc, char **argv);

/* Variables and connections (cmd_vars.c). Open HOME's store (created when missing) and, with
 * ret_key, its master key (created when missing); -1 after printing why. */
struct auth_key;
struct ops_vars_snapshot;
int cli_vars_open(const char *home, struct store **ret_st, struct auth_key **ret_key);
/* updated_by of a change made here: "cli:USER" (malloc'd). */
char *cli_vars_who(void);
/* The whole of stdin less one trailing newline, at most 1 MiB, no NUL (malloc'd; wipe it). */
int cli_read_stdin_value(char **ret);
/* What `dags test` renders with: envp's GUST_VAR_* / GUST_CONN_*, then HOME's store when it
 * exists. NULL after printing why. */
struct ops_vars_snapshot *cli_vars_snapshot(const char *home, char *const *envp);
int cmd_server(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_tasks(int argc, char **argv);
int cmd_why(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_pools(int argc, char **argv);
int cmd_users(int argc, char **argv);
int cmd_tokens(int argc, char **argv);
int cmd_audit(int argc, char **argv);

#endif
