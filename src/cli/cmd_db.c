/*
 * cmd_db.c - `gust db cleanup`: delete old finished runs from the store, with their task
 * instances, attempts and attempt folders (the server does the same every minute for runs
 * older than its `retention`).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/duration.h"
#include "base/fsutil.h"
#include "base/util.h"
#include "cli/cli.h"
#include "dag/dag_time.h"
#include "store/store.h"

static const struct cli_cmd cleanup_cmd;

/* Remove an attempt folder (RUN/TASK[/MAP_INDEX]/TRY), then the folders above it it leaves
 * empty up to the run's own (its name holds the '@' of the run id). Never the DAG's folder:
 * a running server may be creating a new run's folder in it. */
static void remove_attempt_dir(const char *dir)
{
	rm_rf(dir);
	char *p = xstrdup(dir);
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(p, '/');
		if (!slash || slash == p)
			break;
		*slash = '\0';
		const char *base = strrchr(p, '/');
		base = base ? base + 1 : p;
		if (rmdir(p) < 0 || strchr(base, '@'))
			break;
	}
	free(p);
}

static int cmd_cleanup(int argc, char **argv)
{
	const char *home = NULL, *before_s = NULL;
	static const struct option opts[] = {
	    {"before", required_argument, NULL, 'b'},
	    {"home", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			before_s = optarg;
			break;
		case 'H':
			home = optarg;
			break;
		case 'h':
			return cli_help(&cleanup_cmd);
		default:
			return cli_usage_error(&cleanup_cmd, "bad option");
		}
	}
	if (optind < argc)
		return cli_usage_error(&cleanup_cmd, "unexpected argument '%s'", argv[optind]);
	if (!before_s)
		return cli_usage_error(&cleanup_cmd, "say which runs with --before DATE");
	int64_t before, ago;
	const char *err = NULL;
	if (dag_time_parse_ms(before_s, NULL, &before) < 0) {
		if (duration_parse(before_s, &ago, &err) < 0)
			return cli_usage_error(&cleanup_cmd,
					       "--before takes a date (2024-03-01, "
					       "2024-03-01T12:00:00Z) or an age (30d), got '%s'",
					       before_s);
		before = cli_now_ms() - ago;
	}
	home = cli_home(home);
	struct store *st = NULL;
	if (cli_store_open(home, false, &st) < 0)
		return 1;
	long runs = 0, dirs = 0;
	int n, rc = 0;
	do {
		char **gone = NULL;
		size_t n_gone = 0;
		n = store_cleanup(st, before, 500, &gone, &n_gone);
		if (n < 0) {
			fprintf(stderr, "gust: cleanup stopped: %s\n", store_errmsg(st));
			rc = 1;
		}
		for (size_t i = 0; i < n_gone; i++) {
			if (gone[i] && *gone[i])
				remove_attempt_dir(gone[i]);
			free(gone[i]);
		}
		free(gone);
		dirs += (long)n_gone;
		if (n > 0)
			runs += n;
	} while (n > 0);
	char when[40];
	printf("removed %ld run%s that ended before %s (and %ld attempt folder%s)\n", runs,
	       runs == 1 ? "" : "s", ops_fmt_time(before, when, sizeof(when)), dirs,
	       dirs == 1 ? "" : "s");
	store_close(st);
	return rc;
}

static const struct cli_cmd cleanup_cmd = {
    "db cleanup",
    cmd_cleanup,
    "delete old finished runs and their logs",
    "Usage: gust db cleanup --before DATE [--home DIR]\n"
    "\n"
    "Delete the runs that finished (success, failed, cancelled) before DATE, with their\n"
    "task instances, attempts and attempt folders (logs, outputs), in small batches so a\n"
    "running server is never held up; print how many runs were removed. Queued and running\n"
    "runs are never touched. The server does this by itself for runs older than the\n"
    "config's `retention` (default 30d).\n"
    "\n"
    "  --before DATE  2024-03-01, 2024-03-01T12:00:00Z (UTC unless an offset is given), or an\n"
    "                 age such as 30d or 12h\n"
    "  --home DIR     state folder (default $GUST_HOME, else ./.gust)\n",
};

static const struct cli_cmd *const db_cmds[] = {&cleanup_cmd};

int cmd_db(int argc, char **argv)
{
	return cli_group("db", db_cmds, ARRAY_SIZE(db_cmds), argc, argv);
}
