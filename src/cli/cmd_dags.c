/*
 * cmd_dags.c - the `dags` group: `validate`, `show` (files only), `list` (the store's DAGs, or
 * a folder's), `pause`, `unpause`, `trigger` and `next` (the store at $GUST_HOME, with or
 * without a server running).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/diag.h"
#include "base/duration.h"
#include "base/hash.h"
#include "base/util.h"
#include "cli/cli.h"
#include "ops/identity.h"
#include "ops/ops.h"
#include "ops/shape.h"
#include "dag/dag_load.h"
#include "dag/params.h"
#include "engine/schedule.h"
#include "store/store.h"

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
	fprintf(stderr, "%zu file%s checked: %zu valid, %zu invalid\n", total,
		total == 1 ? "" : "s", total - bad, bad);
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

/* The DAG files of a folder, loaded (no store needed). */
static int list_folder(const char *dir)
{
	int walk_errors = 0;
	char *paths[] = {(char *)dir};
	char **files = cli_collect_dag_files(paths, 1, &walk_errors);
	if (walk_errors) {
		cli_free_strv(files);
		return 1;
	}
	printf("%-30s %-20s %6s  %s\n", "DAG", "SCHEDULE", "TASKS", "FILE / STATUS");
	for (char **f = files; *f; f++) {
		struct diag_list diags;
		diag_list_init(&diags, *f);
		struct dag *d = NULL;
		if (dag_load_file(*f, &d, &diags) == 0) {
			printf("%-30s %-20s %6u  %s\n", d->id,
			       d->schedule ? d->schedule : "(manual)", d->n_tasks, *f);
		} else {
			diag_sort(&diags);
			const struct diag *first = diags.n ? &diags.items[0] : NULL;
			printf("%-30s %-20s %6s  %s: BROKEN: ", "-", "-", "-", *f);
			if (first && first->line)
				printf("%u:%u: %s", first->line, first->col, first->msg);
			else if (first)
				printf("%s", first->msg);
			if (diags.n > 1)
				printf(" (+%zu more; run 'gust dags validate %s')", diags.n - 1,
				       *f);
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

/* A time of the shapes ("2024-03-01T00:00:05.123Z") as the CLI prints times, or "-". */
static const char *shape_time(const json_t *v, char *buf, size_t size)
{
	int64_t ms;
	if (ops_time_parse(v, &ms) < 0 || !ms)
		return "-";
	return ops_fmt_time(ms, buf, size);
}

static int list_store(struct store *st, bool as_json)
{
	struct ops_ctx ctx = {.st = st, .now = cli_now_ms(), .dags = &ops_dags_from_store};
	struct ops_dag_query q = OPS_DAG_QUERY_ALL;
	struct ops_err err = {0};
	json_t *dags = NULL;
	if (ops_dag_list(&ctx, &q, &dags, &err) < 0)
		return cli_ops_failed(&err);
	if (as_json) {
		cli_print_json(dags);
		json_decref(dags);
		return 0;
	}
	printf("%-24s %-16s %-6s %-31s %-20s  %s\n", "DAG", "SCHEDULE", "PAUSED", "LAST RUN",
	       "NEXT RUN", "NOTE");
	size_t i;
	json_t *d;
	json_array_foreach(dags, i, d)
	{
		const char *id = json_string_value(json_object_get(d, "dag_id"));
		const char *schedule = json_string_value(json_object_get(d, "schedule"));
		bool loaded = json_is_integer(json_object_get(d, "version"));
		char last[64] = "-", next[40] = "-", when[40];
		json_t *recent = json_array_get(json_object_get(d, "recent_runs"), 0);
		if (recent)
			snprintf(last, sizeof(last), "%-9s %s",
				 json_string_value(json_object_get(recent, "state")),
				 shape_time(json_object_get(recent, "logical_date"), when,
					    sizeof(when)));
		json_t *nr = json_object_get(d, "next_run");
		if (json_is_string(nr))
			snprintf(next, sizeof(next), "%s", shape_time(nr, when, sizeof(when)));
		else if (loaded && !schedule)
			snprintf(next, sizeof(next), "(manual)");
		printf("%-24s %-16s %-6s %-31s %-20s ", id,
		       schedule ? schedule
		       : loaded ? "(manual)"
				: "-",
		       json_is_true(json_object_get(d, "paused")) ? "yes" : "no", last, next);
		json_t *errors = json_object_get(d, "errors");
		if (json_is_true(json_object_get(d, "deleted"))) {
			printf(" file removed; history kept");
		} else if (json_array_size(errors)) {
			const char *file = json_string_value(json_object_get(d, "file"));
			printf(" BROKEN%s: %s", loaded ? " (the last good version is in use)" : "",
			       json_string_value(json_array_get(errors, 0)));
			if (json_array_size(errors) > 1)
				printf(" (+more; run 'gust dags validate %s')", file ? file : id);
		}
		putchar('\n');
	}
	if (!json_array_size(dags))
		printf("(no DAGs yet: the server records the DAG folder's files when it starts)\n");
	json_decref(dags);
	return 0;
}

static int cmd_list(int argc, char **argv)
{
	const char *dir = NULL, *home = NULL;
	bool as_json = false;
	static const struct option opts[] = {
	    {"dags", required_argument, NULL, 'd'},
	    {"json", no_argument, NULL, 'j'},
	    {"home", required_argument, NULL, 'H'},
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
		case 'H':
			home = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 'h':
			return cli_help(&list_cmd);
		default:
			return cli_usage_error(&list_cmd, "bad option");
		}
	}
	if (optind < argc)
		return cli_usage_error(&list_cmd, "unexpected argument '%s'", argv[optind]);
	home = cli_home(home);
	char *db = xasprintf("%s/gust.db", home);
	struct stat sb;
	bool have_store = stat(db, &sb) == 0;
	free(db);
	if (dir && as_json)
		return cli_usage_error(&list_cmd, "--json lists the store's DAGs; drop --dags");
	if (dir || !have_store)
		return list_folder(cli_dags_dir(dir));
	struct store *st = NULL;
	if (cli_store_open(home, false, &st) < 0)
		return 1;
	int rc = list_store(st, as_json);
	store_close(st);
	return rc;
}

static const struct cli_cmd list_cmd = {
    "dags list",
    cmd_list,
    "list DAGs",
    "Usage: gust dags list [--json] [--dags DIR] [--home DIR]\n"
    "\n"
    "List the DAGs the server knows (the store at $GUST_HOME): id, schedule, paused, the\n"
    "last run (state and logical date) and the next fire time (UTC). A file that does not\n"
    "load is listed with its first error; its last good version stays in use.\n"
    "\n"
    "With --dags, or when nothing has run on the home yet, list the files of the DAG folder\n"
    "instead: id, schedule, number of tasks and file.\n"
    "\n"
    "  --json        the DAGs as a JSON array (the shape of GET /api/v1/dags)\n"
    "  --dags DIR    list this folder's files (default folder: $GUST_DAGS, else ./dags)\n"
    "  --home DIR    state folder (default $GUST_HOME, else ./.gust)\n",
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

/* ---- pause / unpause ------------------------------------------------------------------------ */

static const struct cli_cmd pause_cmd, unpause_cmd;

static int set_paused(const struct cli_cmd *cmd, bool paused, int argc, char **argv)
{
	const char *home;
	int rc0 = cli_home_options(cmd, argc, argv, &home, NULL);
	if (rc0 >= 0)
		return rc0;
	if (argc - optind != 1)
		return cli_usage_error(cmd, "name exactly one DAG id");
	const char *id = argv[optind];
	home = cli_home(home);
	struct store *st = NULL;
	if (cli_store_open(home, false, &st) < 0)
		return 1;
	struct ops_req rq = {.op = OPS_PAUSE,
			     .dag_id = (char *)id,
			     .map_index = -1,
			     .paused = paused,
			     .who = paused ? "'gust dags pause'" : "'gust dags unpause'"};
	struct ops_answer ans;
	struct ops_err err = {0};
	int rc = 0;
	if (cli_ops_write(home, st, &rq, &ans, &err) < 0) {
		rc = cli_ops_failed(&err);
		goto out;
	}
	bool was = json_is_true(json_object_get(ans.body, "was_paused"));
	if (paused) {
		printf("DAG '%s' %s: no new scheduled runs until 'gust dags unpause %s' (runs "
		       "already created carry on)\n",
		       id, was ? "was already paused" : "paused", id);
	} else {
		printf("DAG '%s' %s", id, was ? "unpaused" : "was not paused");
		int64_t ms;
		char when[40];
		if (ops_time_parse(json_object_get(ans.body, "next_run"), &ms) == 0)
			printf("; next run at %s", ops_fmt_time(ms, when, sizeof(when)));
		putchar('\n');
	}
	ops_answer_free(&ans);
out:
	store_close(st);
	return rc;
}

static int cmd_pause(int argc, char **argv)
{
	return set_paused(&pause_cmd, true, argc, argv);
}

static int cmd_unpause(int argc, char **argv)
{
	return set_paused(&unpause_cmd, false, argc, argv);
}

static const struct cli_cmd pause_cmd = {
    "dags pause",
    cmd_pause,
    "stop a DAG's schedule",
    "Usage: gust dags pause ID [--home DIR]\n"
    "\n"
    "Stop creating scheduled runs of DAG ID. Runs already created (running or queued)\n"
    "carry on, and 'gust dags trigger' still works. A running server takes it into account\n"
    "at once; fire times missed while paused follow the DAG's catchup setting.\n"
    "\n"
    "  --home DIR    state folder (default $GUST_HOME, else ./.gust)\n",
};

static const struct cli_cmd unpause_cmd = {
    "dags unpause",
    cmd_unpause,
    "resume a DAG's schedule",
    "Usage: gust dags unpause ID [--home DIR]\n"
    "\n"
    "Resume DAG ID's schedule and print its next fire time. With catchup: true the fire\n"
    "times missed while paused are run, oldest first; without it, only the latest.\n"
    "\n"
    "  --home DIR    state folder (default $GUST_HOME, else ./.gust)\n",
};

/* ---- trigger ------------------------------------------------------------------------------ */

static const struct cli_cmd trigger_cmd;

struct kv {
	char *k;
	const char *v;
};

/* A file that never loaded has a row keyed by its path ("./x.yaml", see server/dagbag.h):
 * for `trigger x`, say why each such x.yaml cannot run. False if there is none. */
static bool report_never_loaded(const struct store_dag *dags, size_t n, const char *id)
{
	bool found = false;
	size_t id_len = strlen(id);
	for (size_t i = 0; i < n; i++) {
		const struct store_dag *d = &dags[i];
		if (d->version || d->deleted || !d->file || !strchr(d->dag_id, '/'))
			continue;
		const char *base = strrchr(d->file, '/');
		base = base ? base + 1 : d->file;
		if (strncmp(base, id, id_len) != 0 ||
		    (strcmp(base + id_len, ".yaml") != 0 && strcmp(base + id_len, ".yml") != 0))
			continue;
		fprintf(stderr,
			"gust: DAG '%s' cannot be triggered: its file %s has never loaded:\n%s\n",
			id, d->file, d->error ? d->error : "(no error recorded)");
		found = true;
	}
	return found;
}

/* A DAG the store does not know yet (no server ran): read from the DAG folder and recorded,
 * as the server would. 0, or the exit code after saying why. */
static int register_from_folder(struct store *st, const char *home, const char *dags_dir,
				const char *id, int64_t now)
{
	struct store_dag row;
	int e = store_dag_get(st, id, &row);
	if (e == 0) {
		store_dag_free(&row);
		return 0;
	}
	if (e != -ENOENT) {
		fprintf(stderr, "gust: cannot read DAG '%s': %s\n", id, store_errmsg(st));
		return 1;
	}
	const char *dir = cli_dags_dir(dags_dir);
	char *file = NULL, *text = NULL;
	size_t len = 0;
	struct dag *d = cli_dag_from_folder(dir, id, &file, &text, &len);
	if (!d) {
		struct store_dag *dags = NULL;
		size_t n = 0;
		store_dag_list(st, &dags, &n);
		if (!report_never_loaded(dags, n, id)) {
			/* Hints are DAG ids, not rows of files that never loaded ("./x.yaml"). */
			const char **names = xcalloc(n + 1, sizeof(*names));
			size_t k = 0;
			for (size_t i = 0; i < n; i++)
				if (!strchr(dags[i].dag_id, '/'))
					names[k++] = dags[i].dag_id;
			const char *hint = closest_word(id, names, k);
			fprintf(stderr, "gust: no DAG '%s' on %s nor in the DAG folder %s%s%s%s\n",
				id, home, dir, hint ? " (did you mean '" : "", hint ? hint : "",
				hint ? "'?)" : "");
			free(names);
		}
		for (size_t i = 0; i < n; i++)
			store_dag_free(&dags[i]);
		free(dags);
		return 1;
	}
	char hash[17];
	hash_fnv1a64_hex(text, len, hash);
	int rc = 0;
	if (store_dag_loaded(st, NULL, d->id, file, hash, text, d->schedule, now, NULL) < 0) {
		fprintf(stderr, "gust: cannot record DAG '%s' from %s: %s\n", id, file,
			store_errmsg(st));
		rc = 1;
	}
	dag_free(d);
	free(file);
	free(text);
	return rc;
}

static int cmd_trigger(int argc, char **argv)
{
	const char *home = NULL, *dags_dir = NULL;
	static const struct option opts[] = {
	    {"param", required_argument, NULL, 'p'},
	    {"note", required_argument, NULL, 'N'},
	    {"home", required_argument, NULL, 'H'},
	    {"dags", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *note = NULL;
	struct kv raw[256];
	size_t n_raw = 0;
	int rc = EXIT_USAGE;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "p:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg) {
				cli_usage_error(&trigger_cmd, "--param takes NAME=VALUE, got '%s'",
						optarg);
				goto out;
			}
			if (n_raw == ARRAY_SIZE(raw)) {
				cli_usage_error(&trigger_cmd, "too many --param");
				goto out;
			}
			raw[n_raw].k = xstrndup(optarg, (size_t)(eq - optarg));
			raw[n_raw].v = eq + 1;
			n_raw++;
			break;
		}
		case 'N':
			note = optarg;
			break;
		case 'H':
			home = optarg;
			break;
		case 'd':
			dags_dir = optarg;
			break;
		case 'h':
			rc = cli_help(&trigger_cmd);
			goto out;
		default:
			cli_usage_error(&trigger_cmd, "bad option");
			goto out;
		}
	}
	if (argc - optind != 1) {
		cli_usage_error(&trigger_cmd, "name exactly one DAG id");
		goto out;
	}
	const char *id = argv[optind];
	home = cli_home(home);
	struct store *st = NULL;
	rc = 1;
	if (cli_store_open(home, true, &st) < 0)
		goto out;
	int64_t now = cli_now_ms();
	rc = register_from_folder(st, home, dags_dir, id, now);
	if (rc == 0) {
		struct ops_param_text texts[ARRAY_SIZE(raw)];
		for (size_t k = 0; k < n_raw; k++)
			texts[k] = (struct ops_param_text){raw[k].k, raw[k].v};
		struct ops_ctx ctx = {.st = st, .now = now, .dags = &ops_dags_from_store};
		struct ops_trigger_req rq = {
		    .dag_id = id, .texts = texts, .n_texts = n_raw, .note = note};
		struct ops_trigger_ans ans;
		struct ops_err err = {0};
		if (ops_trigger(&ctx, &rq, &ans, &err) < 0) {
			fprintf(stderr, "gust: %s\n", err.msg);
			rc = ops_exit_code(err.kind);
			ops_err_free(&err);
		} else {
			const struct ops_actor local = {.user = NULL, .via = "cli"};
			ops_audit_trigger(st, now, &local, id, ans.run_id);
			printf("%s\n", ans.run_id);
			fflush(stdout);
			if (!cli_server_running(home))
				fprintf(
				    stderr,
				    "gust: run queued; no server is running on %s: it starts when "
				    "'gust server --home %s' does\n",
				    home, home);
			ops_trigger_ans_free(&ans);
		}
	}
	store_close(st);
out:
	for (size_t k = 0; k < n_raw; k++)
		free(raw[k].k);
	return rc;
}

static const struct cli_cmd trigger_cmd = {
    "dags trigger",
    cmd_trigger,
    "queue a run of a DAG now",
    "Usage: gust dags trigger ID [--param K=V]... [--note TEXT] [--home DIR] [--dags DIR]\n"
    "\n"
    "Queue a manual run of DAG ID with the DAG's current version and print its run id\n"
    "(ID@manual-TIME). Params are typed and checked as 'gust dags test' does; the others take\n"
    "their defaults. The server starts the run as soon as the DAG's max_active_runs allows;\n"
    "without a server running, it waits for one.\n"
    "\n"
    "A DAG the server has never seen (no server ran yet) is read from the DAG folder and\n"
    "recorded, as the server would.\n"
    "\n"
    "  --param K=V   a param value (repeatable)\n"
    "  --note TEXT   why it was triggered, kept with the run (at most 1000 bytes)\n"
    "  --home DIR    state folder (default $GUST_HOME, else ./.gust)\n"
    "  --dags DIR    where to look for a DAG the store does not know (default $GUST_DAGS,\n"
    "                else ./dags)\n",
};

/* ---- next ------------------------------------------------------------------------------- */

static const struct cli_cmd next_cmd;

static int cmd_next(int argc, char **argv)
{
	const char *home = NULL, *dags_dir = NULL;
	long count = 5;
	static const struct option opts[] = {
	    {"home", required_argument, NULL, 'H'},
	    {"dags", required_argument, NULL, 'd'},
	    {"count", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "n:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			home = optarg;
			break;
		case 'd':
			dags_dir = optarg;
			break;
		case 'n':
			if (!cli_parse_int(optarg, 1, 10000, &count))
				return cli_usage_error(&next_cmd,
						       "-n takes a number from 1 to 10000");
			break;
		case 'h':
			return cli_help(&next_cmd);
		default:
			return cli_usage_error(&next_cmd, "bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(&next_cmd, "name exactly one DAG id");
	const char *id = argv[optind];
	home = cli_home(home);
	/* The store's current version; else the DAG folder's file. */
	struct dag *d = NULL;
	bool paused = false, known = false;
	char *db = xasprintf("%s/gust.db", home);
	struct stat sb;
	if (stat(db, &sb) == 0) {
		struct store *st = NULL;
		if (cli_store_open(home, false, &st) < 0) {
			free(db);
			return 1;
		}
		struct store_dag row;
		if (store_dag_get(st, id, &row) == 0) {
			known = true;
			paused = row.paused;
			if (row.version)
				d = cli_dag_from_store(st, id, row.version);
			else
				fprintf(stderr, "gust: DAG '%s' has never loaded:\n%s\n", id,
					row.error ? row.error : "?");
			store_dag_free(&row);
			if (!d) {
				store_close(st);
				free(db);
				return 1;
			}
		}
		if (!known &&
		    !(d = cli_dag_from_folder(cli_dags_dir(dags_dir), id, NULL, NULL, NULL))) {
			cli_unknown_dag(st, id);
			store_close(st);
			free(db);
			return 1;
		}
		store_close(st);
	} else if (!(d = cli_dag_from_folder(cli_dags_dir(dags_dir), id, NULL, NULL, NULL))) {
		fprintf(stderr, "gust: no DAG '%s' in the DAG folder %s\n", id,
			cli_dags_dir(dags_dir));
		free(db);
		return 1;
	}
	free(db);
	struct schedule *sc = NULL;
	char *msg = NULL;
	if (schedule_open(d, &sc, &msg) < 0) {
		fprintf(stderr, "gust: DAG '%s': %s\n", id, msg);
		free(msg);
		dag_free(d);
		return 1;
	}
	if (!sc) {
		printf("DAG '%s' has no schedule: it runs only when triggered\n", id);
		dag_free(d);
		return 0;
	}
	char b1[48], b2[48], b3[48];
	printf("DAG '%s': schedule '%s' in %s", id, d->schedule, d->timezone);
	if (d->jitter_ms)
		printf(", jitter %s", duration_format(d->jitter_ms, b1, sizeof(b1)));
	printf("%s\n", paused ? " (paused: these fire times create no runs until unpaused)" : "");
	if (d->jitter_ms)
		printf("%-22s %-26s  %s\n", "FIRE TIME (UTC)", "LOCAL TIME", "STARTS (UTC)");
	else
		printf("%-22s %s\n", "FIRE TIME (UTC)", "LOCAL TIME");
	int64_t t = cli_now_ms();
	long shown = 0;
	for (; shown < count; shown++) {
		t = schedule_next(sc, t);
		if (t == INT64_MAX)
			break;
		ops_fmt_time(t, b1, sizeof(b1));
		cli_fmt_time_tz(t, d->timezone, b2, sizeof(b2));
		if (d->jitter_ms)
			printf("%-22s %-26s  %s\n", b1, b2,
			       ops_fmt_time(schedule_start_at(sc, t), b3, sizeof(b3)));
		else
			printf("%-22s %s\n", b1, b2);
	}
	if (shown < count)
		printf("(no %sfire times after this: the schedule ends%s%s)\n",
		       shown ? "more " : "", d->end_date ? " at end_date " : "",
		       d->end_date ? d->end_date : "");
	schedule_free(sc);
	dag_free(d);
	return 0;
}

static const struct cli_cmd next_cmd = {
    "dags next",
    cmd_next,
    "the next fire times of a DAG",
    "Usage: gust dags next ID [-n N] [--home DIR] [--dags DIR]\n"
    "\n"
    "Print the next N fire times (default 5) of DAG ID's schedule after now: each run's\n"
    "logical date in UTC and in the DAG's time zone, and, when the DAG has a jitter, when\n"
    "the run will actually start. Uses the DAG's current version in the store, or its file\n"
    "in the DAG folder when the store does not know it.\n"
    "\n"
    "  -n, --count N  how many (1 to 10000)\n"
    "  --home DIR     state folder (default $GUST_HOME, else ./.gust)\n"
    "  --dags DIR     DAG folder (default $GUST_DAGS, else ./dags)\n",
};

/* ---- group ------------------------------------------------------------------------------ */

extern const struct cli_cmd dags_test_cmd;

static const struct cli_cmd *const dags_cmds[] = {
    &validate_cmd, &list_cmd,  &show_cmd,    &dags_test_cmd,
    &trigger_cmd,  &pause_cmd, &unpause_cmd, &next_cmd,
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
