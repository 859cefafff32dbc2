/*
 * cmd_why.c - `gust why RUN TASK`: why a task instance is not running now, one line per
 * reason, with the numbers behind it. The reasons are server/why.c's, over this machine's
 * store and config.yaml, the same the API's GET .../why answers from the server's loop.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/util.h"
#include "cli/cli.h"
#include "server/config.h"
#include "server/why.h"
#include "store/store.h"

static const struct cli_cmd why_cmd;

/* The limits in force: config.yaml under home (a bad one: the server refuses it; defaults). */
static void load_config(const char *home, struct config *cfg)
{
	config_defaults(cfg);
	char *path = xasprintf("%s/config.yaml", home);
	struct diag_list diags;
	diag_list_init(&diags, path);
	config_load(cfg, path, &diags);
	diag_list_free(&diags);
	free(path);
}

int cmd_why(int argc, char **argv)
{
	const char *home = NULL;
	int32_t map_index = -2;
	bool json = false;
	static const struct option opts[] = {
	    {"map-index", required_argument, NULL, 'm'},
	    {"json", no_argument, NULL, 'J'},
	    {"home", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': {
			long v;
			if (!cli_parse_int(optarg, 0, 1000000, &v))
				return cli_usage_error(&why_cmd,
						       "--map-index takes a number from 0");
			map_index = (int32_t)v;
			break;
		}
		case 'J':
			json = true;
			break;
		case 'H':
			home = optarg;
			break;
		case 'h':
			return cli_help(&why_cmd);
		default:
			return cli_usage_error(&why_cmd, "bad option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error(&why_cmd, "name a run id and a task id");
	home = cli_home(home);
	struct store *st = NULL;
	if (cli_store_open(home, false, &st) < 0)
		return 1;
	struct config cfg;
	load_config(home, &cfg);
	struct why_env env = {.st = st,
			      .dags = &ops_dags_from_store,
			      .cfg = &cfg,
			      .home = home,
			      .now = cli_now_ms(),
			      .server = cli_server_running(home)};
	json_t *ans = NULL;
	struct ops_err err = {0};
	int rc = 0;
	if (why_explain(&env, argv[optind], argv[optind + 1], map_index, &ans, &err) < 0) {
		rc = cli_ops_failed(&err);
	} else if (json) {
		cli_print_json(ans);
	} else {
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(ans, "reasons"), i, r)
			puts(json_string_value(json_object_get(r, "text")));
	}
	json_decref(ans);
	config_free(&cfg);
	store_close(st);
	return rc;
}

static const struct cli_cmd why_cmd = {
    "why",
    cmd_why,
    "why a task instance is not running",
    "Usage: gust why RUN TASK [--map-index I] [--json] [--home DIR]\n"
    "\n"
    "Say why TASK of run RUN is not running now, one line per reason, with numbers: its\n"
    "state; the upstream tasks it waits for and their states; when its next retry is due;\n"
    "the run waiting for its DAG's max_active_runs or for a running run of a conflicting\n"
    "DAG; the attempts in use against the parallelism ($GUST_HOME/config.yaml, default 32)\n"
    "and the DAG's max_active_tasks; its pool's slots and the runs and tasks holding them;\n"
    "its declared cpu, memory and disk against what is free; reservations held for tasks\n"
    "waiting longer; a paused DAG; no server running. A finished instance says how it\n"
    "ended. The rules: docs/admission.md.\n"
    "\n"
    "  --map-index I  which instance of a mapped task\n"
    "  --json         the reasons as data (the API's GET .../why)\n"
    "  --home DIR     state folder (default $GUST_HOME, else ./.gust)\n",
};
