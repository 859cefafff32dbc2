/*
 * cmd_server.c - `gust server`: run the scheduler daemon (server/server.h) in the foreground.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/server.h"

static const struct cli_cmd server_cmd;

int cmd_server(int argc, char **argv)
{
	struct server_opts o = {0};
	static const struct option opts[] = {
	    {"home", required_argument, NULL, 'H'},
	    {"dags", required_argument, NULL, 'd'},
	    {"now", required_argument, NULL, 'n'},
	    {"drain", no_argument, NULL, 'D'},
	    {"parallelism", required_argument, NULL, 'j'},
	    {"listen", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "H:d:n:j:h", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			o.home = optarg;
			break;
		case 'd':
			o.dags_dir = optarg;
			break;
		case 'n':
			o.now = optarg;
			break;
		case 'D':
			o.drain = true;
			break;
		case 'j': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 100000)
				return cli_usage_error(
				    &server_cmd, "--parallelism takes a number from 1 to 100000");
			o.parallelism = (int)v;
			break;
		}
		case 'l':
			o.listen = optarg;
			break;
		case 'h':
			return cli_help(&server_cmd);
		default:
			return cli_usage_error(&server_cmd, "bad option");
		}
	}
	if (optind < argc)
		return cli_usage_error(&server_cmd, "unexpected argument '%s'", argv[optind]);
	o.home = cli_home(o.home);
	return server_main(&o);
}

static const struct cli_cmd server_cmd = {
    "server",
    cmd_server,
    "run the scheduler",
    "Usage: gust server [--home DIR] [--dags DIR] [--now TIME] [--drain] [--parallelism N]\n"
    "                   [--listen ADDR:PORT]\n"
    "\n"
    "Run the scheduler in the foreground: keep the DAGs of the DAG folder on their\n"
    "schedules, run their tasks, and keep every run's history in $GUST_HOME/gust.db.\n"
    "Logs go to stderr, one line per event.\n"
    "\n"
    "  --home DIR         state folder (default $GUST_HOME, else ./.gust)\n"
    "  --dags DIR         DAG folder (default: 'dags' in the config, $GUST_DAGS, ./dags);\n"
    "                     files are picked up as they are added, changed or removed\n"
    "  --now TIME         start the server's clock at TIME (ISO 8601, e.g.\n"
    "                     2024-03-01T00:00:00Z) and let it run on from there\n"
    "  --drain            on SIGTERM, start nothing new and exit when running tasks end\n"
    "                     (without it, running tasks carry on under their supervisors\n"
    "                     and the next server adopts them)\n"
    "  --parallelism N    task attempts running at once (default 32, or the config's)\n"
    "  --listen ADDR:PORT the HTTP API's address (default $GUST_LISTEN, else the config's\n"
    "                     'listen', else 127.0.0.1:8080; port 0: any free port)\n"
    "\n"
    "Config: $GUST_HOME/config.yaml (parallelism, retention, dags, pools, host,\n"
    "priority_ageing, reserve_after, listen, tls, health_stall; docs/server.md,\n"
    "docs/admission.md, docs/api.md). Only one server\n"
    "may run on a home.\n",
};
