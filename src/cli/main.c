/*
 * main.c - `gust`: dispatch to a command group.
 */
#include <stdio.h>
#include <string.h>

#include "base/version.h"
#include "cli/cli.h"
#include "exec/zygote.h"
#include "server/dagproc.h"

static const char usage[] =
    "Usage: gust COMMAND [ARGS...]\n"
    "\n"
    "gust runs workflows: DAGs of tasks described in YAML files, on a schedule or by hand.\n"
    "\n"
    "Commands:\n"
    "  dags validate PATH...     check DAG files; one FILE:LINE:COL: error line per problem\n"
    "  dags list                 the DAGs: schedule, paused, last run, next run, errors\n"
    "  dags show FILE            the tasks of a DAG with their upstreams\n"
    "  dags test FILE            run a DAG once, now, on this machine\n"
    "  dags trigger ID           queue a run now (--param K=V); prints its run id\n"
    "  dags pause|unpause ID     stop or resume a DAG's schedule\n"
    "  dags next ID              the next fire times of a DAG's schedule\n"
    "  runs list|show|cancel     runs: list (--dag, --state), one in detail, cancel one\n"
    "  tasks list RUN            the task instances of a run\n"
    "  tasks logs RUN TASK       an attempt's log (--follow, --try N)\n"
    "  tasks clear RUN TASK      run a task again (--downstream)\n"
    "  why RUN TASK              why a task instance is not running now\n"
    "  pools set NAME SLOTS      create a pool or change its slots (--description)\n"
    "  pools list|delete         the pools with their use; delete one\n"
    "  users add NAME --role R   add a user of the HTTP API (password from stdin or a prompt)\n"
    "  users list|passwd         the users; change a user's password\n"
    "  users set-role|remove     change a user's role; remove a user\n"
    "  tokens create             an API token, printed once (--user, --name, --expires)\n"
    "  tokens list|revoke        the API tokens (never their text); revoke one\n"
    "  audit                     who changed users and tokens, logins (--limit N, --json)\n"
    "  variables set|get|list|delete  variables (${{ var.KEY }}; --secret, --stdin)\n"
    "  connections set|get|list|delete  connections (${{ conn.NAME.host }}; URIs)\n"
    "  db cleanup --before DATE  delete old finished runs and their logs\n"
    "  server                    run the scheduler: DAGs on their schedules, history kept\n"
    "\n"
    "Options:\n"
    "  -h, --help                this help; 'gust COMMAND --help' for a command's\n"
    "  --version                 print the version\n"
    "\n"
    "Environment:\n"
    "  GUST_DAGS                 the DAG folder when --dags is not given (default ./dags)\n"
    "  GUST_HOME                 where gust keeps its state (default ./.gust)\n"
    "  GUST_VAR_<KEY>, GUST_CONN_<NAME>  variables and connections that win over the\n"
    "                            store's (server and dags test; docs/variables.md)\n";

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} groups[] = {
    {"dags", cmd_dags},
    {"runs", cmd_runs},
    {"tasks", cmd_tasks},
    {"why", cmd_why},
    {"pools", cmd_pools},
    {"db", cmd_db},
    {"server", cmd_server},
    {"users", cmd_users},
    {"tokens", cmd_tokens},
    {"audit", cmd_audit},
    {"variables", cmd_variables},
    {"connections", cmd_connections},
};

int main(int argc, char **argv)
{
	zygote_hook(argc,
		    argv); /* `gust __zygote FD`: the local executor's helper (exec/zygote.h) */
	dagproc_hook(argc, argv); /* `gust __dag-processor ...`: the server's parser (dagproc.h) */
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("gust %s\n", GUST_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (strcmp(argv[1], groups[i].name) == 0)
			return groups[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "gust: unknown command '%s'\nTry 'gust --help'.\n", argv[1]);
	return EXIT_USAGE;
}
