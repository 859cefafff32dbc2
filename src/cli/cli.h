/*
 * cli.h - the command-line tool: a thin layer over the library.
 *
 * Commands are data: each group (dags, runs, ...) has a table of {name, function, summary,
 * usage}. A command function gets argc/argv starting at its own name and returns the process
 * exit code: 0 success, 1 failure of the thing asked for, 2 usage error (EXIT_USAGE).
 */
#ifndef GUST_CLI_CLI_H
#define GUST_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>

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

/* Command groups. */
int cmd_dags(int argc, char **argv);
int cmd_server(int argc, char **argv);

#endif
