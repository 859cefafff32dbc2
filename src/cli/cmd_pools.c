/*
 * cmd_pools.c - `gust pools set | list | delete`: the pools in the store at $GUST_HOME.
 *
 * A pool is a named number of slots that tasks naming it (`pool:`, `pool_slots:`) share while
 * they are queued or running. `set` and `delete` are requests of the operations layer
 * (ops_apply): a running server applies them at once, else this process does. Pools declared in
 * config.yaml are written by the server at every start, so the config wins over a change made
 * here; the commands say so when it applies.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cli/cli.h"
#include "ops/shape.h"
#include "server/config.h"
#include "store/store.h"

/* The pool of that name declared in HOME/config.yaml, with its slots in *ret_slots. A config
 * that does not load counts as declaring nothing (the server refuses it anyway). */
static bool config_declares(const char *home, const char *name, int32_t *ret_slots)
{
	struct config cfg;
	config_defaults(&cfg);
	char *path = xasprintf("%s/config.yaml", home);
	struct diag_list diags;
	diag_list_init(&diags, path);
	bool found = false;
	if (config_load(&cfg, path, &diags) == 0)
		for (size_t i = 0; i < cfg.n_pools && !found; i++)
			if (strcmp(cfg.pools[i].name, name) == 0) {
				found = true;
				*ret_slots = cfg.pools[i].slots;
			}
	diag_list_free(&diags);
	free(path);
	config_free(&cfg);
	return found;
}

/* When config.yaml declares the pool (or the server last wrote it from there), say on stderr
 * what that means for the change just made. */
static void config_note(const char *home, const char *name, bool from_config, const char *what)
{
	int32_t slots = 0;
	if (config_declares(home, name, &slots))
		fprintf(stderr,
			"gust: note: pool '%s' is declared in %s/config.yaml (%d slot%s): %s\n",
			name, home, (int)slots, slots == 1 ? "" : "s", what);
	else if (from_config)
		fprintf(stderr,
			"gust: note: pool '%s' was declared in %s/config.yaml: %s if it "
			"still is\n",
			name, home, what);
}

/* ---- set --------------------------------------------------------------------------------- */

static const struct cli_cmd pools_set_cmd;

static int cmd_pools_set(int argc, char **argv)
{
	const char *home = NULL, *description = NULL;
	static const struct option opts[] = {
	    {"description", required_argument, NULL, 'd'},
	    {"home", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			description = optarg;
			break;
		case 'H':
			home = optarg;
			break;
		case 'h':
			return cli_help(&pools_set_cmd);
		default:
			return cli_usage_error(&pools_set_cmd, "bad option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error(&pools_set_cmd, "name a pool and its number of slots");
	const char *name = argv[optind];
	long slots;
	if (!cli_parse_int(argv[optind + 1], 0, STORE_POOL_SLOTS_MAX, &slots))
		return cli_usage_error(&pools_set_cmd,
				       "SLOTS must be a whole number from 0 to 1000000, got '%s'",
				       argv[optind + 1]);
	home = cli_home(home);
	struct store *st = NULL;
	if (cli_store_open(home, true, &st) < 0)
		return 1;
	struct ops_req rq = {.op = OPS_POOL_SET,
			     .pool = (char *)name,
			     .slots = (int32_t)slots,
			     .description = (char *)description,
			     .map_index = -1,
			     .who = "'gust pools set'"};
	struct ops_answer ans;
	struct ops_err err = {0};
	int rc = 0;
	if (cli_ops_write(home, st, &rq, &ans, &err) < 0) {
		rc = cli_ops_failed(&err);
	} else {
		json_t *old = json_object_get(ans.body, "old_slots");
		json_t *pool = json_object_get(ans.body, "pool");
		if (!json_is_integer(old))
			printf("created pool '%s' with %ld slot%s\n", name, slots,
			       slots == 1 ? "" : "s");
		else if (json_integer_value(old) != slots)
			printf("pool '%s': %ld slot%s (was %lld)\n", name, slots,
			       slots == 1 ? "" : "s", (long long)json_integer_value(old));
		else
			printf("pool '%s': %ld slot%s (unchanged)\n", name, slots,
			       slots == 1 ? "" : "s");
		if (description)
			printf("pool '%s': description %s\n", name,
			       *description ? "set" : "cleared");
		config_note(home, name, json_is_true(json_object_get(pool, "from_config")),
			    "the config wins at the next server start");
	}
	ops_answer_free(&ans);
	store_close(st);
	return rc;
}

static const struct cli_cmd pools_set_cmd = {
    "pools set",
    cmd_pools_set,
    "create a pool or change its slots",
    "Usage: gust pools set NAME SLOTS [--description TEXT] [--home DIR]\n"
    "\n"
    "Create the pool NAME with SLOTS slots, or change its slots. Tasks that name the pool\n"
    "(`pool: NAME` in a DAG file) share its slots: each takes `pool_slots` (default 1)\n"
    "while it is queued or running, and waits while the pool is full. 0 slots holds every\n"
    "task of the pool back. `default_pool` (128 slots) holds the tasks that name none; its\n"
    "slots can be changed too. A running server applies the change at once. Pools declared\n"
    "in config.yaml (`pools:`) are written back by the server when it starts.\n"
    "\n"
    "  NAME                1 to 100 letters, digits, '_', '-' and '.'\n"
    "  SLOTS               0 to 1000000\n"
    "  --description TEXT  what the pool stands for (\"\" clears it; default: keep it)\n"
    "  --home DIR          state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- list -------------------------------------------------------------------------------- */

static const struct cli_cmd pools_list_cmd;

static int cmd_pools_list(int argc, char **argv)
{
	const char *home;
	bool json = false;
	int rc0 = cli_home_options(&pools_list_cmd, argc, argv, &home, &json);
	if (rc0 >= 0)
		return rc0;
	if (optind < argc)
		return cli_usage_error(&pools_list_cmd, "unexpected argument '%s'", argv[optind]);
	home = cli_home(home);
	struct store *st = NULL;
	if (cli_store_open(home, false, &st) < 0)
		return 1;
	struct store_pool *ps = NULL;
	size_t n = 0;
	if (store_pool_list(st, &ps, &n) < 0) {
		fprintf(stderr, "gust: cannot list pools: %s\n", store_errmsg(st));
		store_close(st);
		return 1;
	}
	if (json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, ops_pool_json(&ps[i]));
		cli_print_json(arr);
		json_decref(arr);
	} else {
		int w = 12;
		for (size_t i = 0; i < n; i++)
			if ((int)strlen(ps[i].name) > w)
				w = (int)strlen(ps[i].name);
		printf("%-*s %8s %7s %7s %7s %7s  %s\n", w, "NAME", "SLOTS", "USED", "RUNNING",
		       "WAITING", "FREE", "DESCRIPTION");
		for (size_t i = 0; i < n; i++) {
			const struct store_pool *p = &ps[i];
			char slots[16] = "missing", free_[24] = "-";
			if (p->slots >= 0) {
				snprintf(slots, sizeof(slots), "%d", (int)p->slots);
				snprintf(free_, sizeof(free_), "%lld",
					 (long long)(p->slots > p->used ? p->slots - p->used : 0));
			}
			printf("%-*s %8s %7lld %7lld %7lld %7s  %.80s\n", w, p->name, slots,
			       (long long)p->used, (long long)p->running, (long long)p->waiting,
			       free_, p->description ? p->description : "");
		}
		for (size_t i = 0; i < n; i++)
			if (ps[i].slots < 0)
				printf("(pool '%s' does not exist: tasks that name it wait until "
				       "it does; create it with 'gust pools set %s SLOTS' or in "
				       "config.yaml)\n",
				       ps[i].name, ps[i].name);
	}
	for (size_t i = 0; i < n; i++)
		store_pool_free(&ps[i]);
	free(ps);
	store_close(st);
	return 0;
}

static const struct cli_cmd pools_list_cmd = {
    "pools list",
    cmd_pools_list,
    "list the pools and their use",
    "Usage: gust pools list [--json] [--home DIR]\n"
    "\n"
    "List the pools by name: their slots, the slots USED by queued and running task\n"
    "instances, how many of those there are (RUNNING), how many ready ones wait for a\n"
    "slot (WAITING), the FREE slots, and the description. A pool that tasks name but\n"
    "that does not exist is listed as 'missing': its tasks wait until it is created.\n"
    "\n"
    "  --json      a JSON array of pools (missing ones have \"slots\": null)\n"
    "  --home DIR  state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- delete ------------------------------------------------------------------------------ */

static const struct cli_cmd pools_delete_cmd;

static int cmd_pools_delete(int argc, char **argv)
{
	const char *home;
	int rc0 = cli_home_options(&pools_delete_cmd, argc, argv, &home, NULL);
	if (rc0 >= 0)
		return rc0;
	if (argc - optind != 1)
		return cli_usage_error(&pools_delete_cmd, "name exactly one pool");
	const char *name = argv[optind];
	home = cli_home(home);
	struct store *st = NULL;
	if (cli_store_open(home, false, &st) < 0)
		return 1;
	struct ops_req rq = {.op = OPS_POOL_DELETE,
			     .pool = (char *)name,
			     .map_index = -1,
			     .who = "'gust pools delete'"};
	struct ops_answer ans;
	struct ops_err err = {0};
	int rc = 0;
	if (cli_ops_write(home, st, &rq, &ans, &err) < 0) {
		rc = cli_ops_failed(&err);
		goto out;
	}
	printf("deleted pool '%s'\n", name);
	json_t *p = json_object_get(ans.body, "pool");
	long long running = json_integer_value(json_object_get(p, "running"));
	long long waiting = json_integer_value(json_object_get(p, "waiting"));
	if (running)
		fprintf(stderr,
			"gust: note: pool '%s' still has %lld queued or running task instance%s: "
			"they finish normally\n",
			name, running, running == 1 ? "" : "s");
	if (waiting)
		fprintf(stderr,
			"gust: note: %lld ready task instance%s of pool '%s' will wait until a "
			"pool of that name exists again\n",
			waiting, waiting == 1 ? "" : "s", name);
	config_note(home, name, json_is_true(json_object_get(p, "from_config")),
		    "the server creates it again at its next start");
out:
	ops_answer_free(&ans);
	store_close(st);
	return rc;
}

static const struct cli_cmd pools_delete_cmd = {
    "pools delete",
    cmd_pools_delete,
    "delete a pool",
    "Usage: gust pools delete NAME [--home DIR]\n"
    "\n"
    "Delete the pool NAME. Its running task instances carry on; tasks that name it and\n"
    "have not started wait until a pool of that name exists again (`gust pools list`\n"
    "shows it as missing). default_pool cannot be deleted.\n"
    "\n"
    "  --home DIR  state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- group ------------------------------------------------------------------------------- */

static const struct cli_cmd *const pools_cmds[] = {&pools_set_cmd, &pools_list_cmd,
						   &pools_delete_cmd};

int cmd_pools(int argc, char **argv)
{
	return cli_group("pools", pools_cmds, ARRAY_SIZE(pools_cmds), argc, argv);
}
