/*
 * cmd_dags.c - `gust dags validate | list | show` (files only, no server needed) and the
 * dispatch of the `dags` group.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/util.h"
#include "cli/cli.h"
#include "dag/dag_load.h"
#include "base/duration.h"

/* ---- validate ---------------------------------------------------------------------------- */

static const struct cli_cmd validate_cmd;

static int cmd_validate(int argc, char **argv)
{
	bool quiet = false;
	static const struct option opts[] = {
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case 'h':
			return cli_help(&validate_cmd);
		default:
			return cli_usage_error(&validate_cmd, "bad option");
		}
	}
	if (optind >= argc)
		return cli_usage_error(&validate_cmd, "name at least one DAG file or folder");
	int walk_errors = 0;
	char **files = cli_collect_dag_files(argv + optind, (size_t)(argc - optind), &walk_errors);
	size_t total = 0, bad = 0;
	for (char **f = files; *f; f++) {
		struct diag_list diags;
		diag_list_init(&diags, *f);
		struct dag *d = NULL;
		total++;
		if (dag_load_file(*f, &d, &diags) < 0) {
			bad++;
			diag_sort(&diags);
			diag_print(&diags, stdout);
		} else if (!quiet) {
			printf("%s: ok: DAG '%s', %u task%s\n", *f, d->id, d->n_tasks,
			       d->n_tasks == 1 ? "" : "s");
		}
		dag_free(d);
		diag_list_free(&diags);
	}
	cli_free_strv(files);
	fflush(stdout);
	if (total == 0 && !walk_errors) {
		fprintf(stderr, "gust: no DAG files (*.yaml, *.yml) found\n");
		return 1;
	}
	fprintf(stderr, "%zu file%s checked: %zu valid, %zu invalid\n", total, total == 1 ? "" : "s",
		total - bad, bad);
	return bad || walk_errors ? 1 : 0;
}

static const struct cli_cmd validate_cmd = {
	"dags validate",
	cmd_validate,
	"check DAG files",
	"Usage: gust dags validate [--quiet] PATH...\n"
	"\n"
	"Check DAG files (or every *.yaml / *.yml under the folders given) without running\n"
	"anything. Every problem is reported in one pass, one line each:\n"
	"\n"
	"  FILE:LINE:COL: error: MESSAGE\n"
	"\n"
	"Valid files print 'FILE: ok: ...' unless --quiet.\n"
	"Exit status: 0 all valid, 1 any invalid, 2 usage error.\n",
};

/* ---- list ------------------------------------------------------------------------------- */

static const struct cli_cmd list_cmd;

static int cmd_list(int argc, char **argv)
{
	const char *dir = NULL;
	static const struct option opts[] = {
		{"dags", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'h':
			return cli_help(&list_cmd);
		default:
			return cli_usage_error(&list_cmd, "bad option");
		}
	}
	if (optind < argc)
		return cli_usage_error(&list_cmd, "unexpected argument '%s'", argv[optind]);
	dir = cli_dags_dir(dir);
	int walk_errors = 0;
	char *paths[] = {(char *)dir};
	char **files = cli_collect_dag_files(paths, 1, &walk_errors);
	if (walk_errors) {
		cli_free_strv(files);
		return 1;
	}
	printf("%-30s %-20s %6s  %s\n", "DAG", "SCHEDULE", "TASKS", "FILE / STATUS");
	int broken = 0;
	for (char **f = files; *f; f++) {
		struct diag_list diags;
		diag_list_init(&diags, *f);
		struct dag *d = NULL;
		if (dag_load_file(*f, &d, &diags) == 0) {
			printf("%-30s %-20s %6u  %s\n", d->id, d->schedule ? d->schedule : "(manual)",
			       d->n_tasks, *f);
		} else {
			broken++;
			diag_sort(&diags);
			const struct diag *first = diags.n ? &diags.items[0] : NULL;
			printf("%-30s %-20s %6s  %s: BROKEN: ", "-", "-", "-", *f);
			if (first && first->line)
				printf("%u:%u: %s", first->line, first->col, first->msg);
			else if (first)
				printf("%s", first->msg);
			if (diags.n > 1)
				printf(" (+%zu more; run 'gust dags validate %s')", diags.n - 1, *f);
			putchar('\n');
		}
		dag_free(d);
		diag_list_free(&diags);
	}
	if (!files[0])
		printf("(no DAG files in %s)\n", dir);
	cli_free_strv(files);
	return 0;
}

static const struct cli_cmd list_cmd = {
	"dags list",
	cmd_list,
	"list DAGs",
	"Usage: gust dags list [--dags DIR]\n"
	"\n"
	"List the DAGs in DIR (default: $GUST_DAGS, else ./dags): id, schedule, number of tasks\n"
	"and file. A broken file is listed with its first error; its DAG is not loaded.\n",
};

/* ---- show ------------------------------------------------------------------------------- */

static const struct cli_cmd show_cmd;

static void show_task(const struct dag *d, uint32_t i)
{
	const struct dag_task *t = &d->tasks[i];
	char b1[32], b2[32];
	printf("  %s", t->id);
	uint32_t nu = d->up_off[i + 1] - d->up_off[i];
	if (nu) {
		printf("  <- ");
		for (uint32_t e = d->up_off[i]; e < d->up_off[i + 1]; e++)
			printf("%s%s", e > d->up_off[i] ? ", " : "", d->tasks[d->up[e]].id);
	}
	putchar('\n');
	if (t->run)
		printf("      run: %s\n", t->run->src);
	else if (t->argc) {
		printf("      run:");
		for (uint32_t k = 0; k < t->argc; k++)
			printf(" [%s]", t->argv[k] ? t->argv[k]->src : "?");
		putchar('\n');
	} else {
		printf("      (nothing to run: succeeds when its upstreams allow)\n");
	}
	if (t->map_kind == MAP_LITERAL)
		printf("      map: over a list of %zu items\n", json_array_size(t->map_items));
	else if (t->map_kind == MAP_TEMPLATE)
		printf("      map: over %s\n", t->map_expr->src);
	if (t->trigger_rule != TR_ALL_SUCCESS)
		printf("      trigger_rule: %s\n", trigger_rule_name(t->trigger_rule));
	if (t->retries)
		printf("      retries: %d every %s%s\n", t->retries,
		       duration_format(t->retry_delay_ms, b1, sizeof(b1)),
		       t->retry_backoff == BACKOFF_EXPONENTIAL ? " (exponential backoff)" : "");
	if (t->timeout_ms)
		printf("      timeout: %s (then TERM, KILL after %s)\n",
		       duration_format(t->timeout_ms, b1, sizeof(b1)),
		       duration_format(t->kill_grace_ms, b2, sizeof(b2)));
	if (strcmp(t->pool, "default_pool") != 0 || t->pool_slots != 1)
		printf("      pool: %s (%d slot%s)\n", t->pool, t->pool_slots,
		       t->pool_slots == 1 ? "" : "s");
	if (t->leftovers == LEFTOVERS_KEEP)
		printf("      leftovers: keep\n");
}

static int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h')
			return cli_help(&show_cmd);
		return cli_usage_error(&show_cmd, "bad option");
	}
	if (argc - optind != 1)
		return cli_usage_error(&show_cmd, "name exactly one DAG file");
	const char *file = argv[optind];
	struct diag_list diags;
	diag_list_init(&diags, file);
	struct dag *d = NULL;
	if (dag_load_file(file, &d, &diags) < 0) {
		diag_sort(&diags);
		diag_print(&diags, stderr);
		diag_list_free(&diags);
		return 1;
	}
	diag_list_free(&diags);
	printf("DAG %s  (%s)\n", d->id, file);
	if (d->description)
		printf("  %s\n", d->description);
	printf("  schedule: %s", d->schedule ? d->schedule : "none (manual only)");
	if (d->schedule)
		printf(" in %s%s", d->timezone, d->catchup ? ", catchup" : "");
	printf("\n  max_active_runs: %d, max_active_tasks: %d\n", d->max_active_runs,
	       d->max_active_tasks);
	if (d->n_conflicts) {
		printf("  conflicts:");
		for (uint32_t i = 0; i < d->n_conflicts; i++)
			printf(" %s", d->conflicts[i]);
		putchar('\n');
	}
	if (d->n_params) {
		printf("params:\n");
		for (uint32_t i = 0; i < d->n_params; i++) {
			const struct dag_param *p = &d->params[i];
			printf("  %s: %s", p->name, param_type_name(p->type));
			if (p->def) {
				char *s = json_dumps(p->def, JSON_ENCODE_ANY | JSON_COMPACT);
				printf(", default %s", s ? s : "?");
				free(s);
			} else {
				printf(", required");
			}
			if (p->has_min)
				printf(", minimum %g", p->min);
			if (p->has_max)
				printf(", maximum %g", p->max);
			putchar('\n');
		}
	}
	printf("tasks (%u, in the order they can run):\n", d->n_tasks);
	for (uint32_t k = 0; k < d->n_tasks; k++)
		show_task(d, d->topo[k]);
	dag_free(d);
	return 0;
}

static const struct cli_cmd show_cmd = {
	"dags show",
	cmd_show,
	"show a DAG's tasks",
	"Usage: gust dags show FILE\n"
	"\n"
	"Print a DAG's settings, params and tasks in an order they can run, each with the\n"
	"tasks it waits for (<- upstream), what it runs, and its retry, timeout and pool\n"
	"settings where they differ from the defaults.\n",
};

/* ---- group ------------------------------------------------------------------------------ */

extern const struct cli_cmd dags_test_cmd;

static const struct cli_cmd *const dags_cmds[] = {
	&validate_cmd,
	&list_cmd,
	&show_cmd,
	&dags_test_cmd,
};

int cmd_dags(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		FILE *out = argc < 2 ? stderr : stdout;
		fprintf(out, "Usage: gust dags COMMAND [ARGS...]\n\nCommands:\n");
		for (size_t i = 0; i < ARRAY_SIZE(dags_cmds); i++)
			fprintf(out, "  %-16s %s\n", dags_cmds[i]->name + 5, dags_cmds[i]->summary);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(dags_cmds); i++)
		if (strcmp(argv[1], dags_cmds[i]->name + 5) == 0)
			return dags_cmds[i]->fn(argc - 1, argv + 1);
	fprintf(stderr, "gust: unknown command 'dags %s'\nTry 'gust dags --help'.\n", argv[1]);
	return EXIT_USAGE;
}
