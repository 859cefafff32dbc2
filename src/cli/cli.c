/* cli.c - helpers shared by the commands (see cli.h). */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/fsutil.h"
#include "base/util.h"
#include "cron/tz.h"
#include "dag/dag_load.h"
#include "dag/dag_time.h"
#include "ops/ops.h"
#include "ops/shape.h"
#include "dag/dag.h"
#include "store/store.h"

int cli_help(const struct cli_cmd *cmd)
{
	fputs(cmd->usage, stdout);
	return 0;
}

int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	fputs("gust: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	/* The first line of the usage says how to call it. */
	const char *nl = strchr(cmd->usage, '\n');
	fprintf(stderr, "%.*s\n", nl ? (int)(nl - cmd->usage) : (int)strlen(cmd->usage),
		cmd->usage);
	fprintf(stderr, "Try 'gust %s --help' for more.\n", cmd->name);
	return EXIT_USAGE;
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

struct strv {
	char **v;
	size_t n, cap;
};

static void strv_push(struct strv *s, char *p)
{
	s->v = xrealloc_array(s->v, s->n + 2, sizeof(*s->v), &s->cap);
	s->v[s->n++] = p;
	s->v[s->n] = NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_dag_name(const char *name)
{
	return name[0] != '.' && (str_has_suffix(name, ".yaml") || str_has_suffix(name, ".yml"));
}

static void walk_dir(const char *dir, struct strv *out, int depth, int *errors)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "%s: error: cannot read folder: %s\n", dir, strerror(errno));
		(*errors)++;
		return;
	}
	struct strv found = {0};
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *p = xasprintf("%s%s%s", dir, str_has_suffix(dir, "/") ? "" : "/", e->d_name);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (depth < 16)
				walk_dir(p, out, depth + 1, errors);
			free(p);
		} else if (is_dag_name(e->d_name)) {
			strv_push(&found, p);
		} else {
			free(p);
		}
	}
	closedir(d);
	if (found.n) {
		qsort(found.v, found.n, sizeof(*found.v), cmp_str);
		for (size_t i = 0; i < found.n; i++)
			strv_push(out, found.v[i]);
	}
	free(found.v);
}

char **cli_collect_dag_files(char *const *paths, size_t n, int *ret_errors)
{
	struct strv out = {0};
	*ret_errors = 0;
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode))
			walk_dir(paths[i], &out, 0, ret_errors);
		else
			strv_push(&out, xstrdup(paths[i])); /* the loader reports what is wrong */
	}
	if (!out.v)
		out.v = xcalloc(1, sizeof(char *));
	return out.v;
}

void cli_free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

const char *cli_dags_dir(const char *opt)
{
	if (opt)
		return opt;
	const char *env = getenv("GUST_DAGS");
	return env && *env ? env : "dags";
}

const char *cli_home(const char *opt)
{
	if (opt && *opt)
		return opt;
	const char *env = getenv("GUST_HOME");
	return env && *env ? env : ".gust";
}

/* ---- the store at the home ------------------------------------------------------------------ */

/* The last server's clock minus the wall clock (gust server --now), read at store open. */
static int64_t clock_offset;

int cli_store_open(const char *home, bool create, struct store **ret)
{
	char *db = xasprintf("%s/gust.db", home);
	struct stat sb;
	if (!create && stat(db, &sb) < 0) {
		int e = errno;
		if (e == ENOENT)
			fprintf(
			    stderr,
			    "gust: nothing has run on %s yet (no %s); start 'gust server --home "
			    "%s', or queue a run with 'gust dags trigger'\n",
			    home, db, home);
		else
			fprintf(stderr, "gust: cannot open %s: %s\n", db, strerror(e));
		free(db);
		return -e;
	}
	if (create) {
		int e = mkdir_p(home);
		if (e < 0) {
			fprintf(stderr, "gust: cannot create %s: %s\n", home, strerror(-e));
			free(db);
			return e;
		}
	}
	char *msg = NULL;
	/* With the durability the last server start recorded (store.h): the CLI's own commits
	 * (trigger, pause, pools, cancel, clear) are as durable as the server's. */
	int e = store_open(db, ret, &msg);
	if (e < 0) {
		fprintf(stderr, "gust: %s\n", msg ? msg : "cannot open the store");
		free(msg);
	} else {
		/* A server started with --now keeps its clock offset here: times and durations
		 * then agree with the runs it created. */
		char *off = NULL;
		if (store_kv_get(*ret, "server.clock_offset", &off) == 0 && off)
			clock_offset = strtoll(off, NULL, 10);
		free(off);
	}
	free(db);
	return e;
}

bool cli_server_running(const char *home)
{
	char *path = xasprintf("%s/server.lock", home);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return false;
	bool running = false;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		running = errno == EWOULDBLOCK;
	else
		flock(fd, LOCK_UN);
	close(fd);
	return running;
}

void cli_unknown_dag(struct store *st, const char *dag_id)
{
	struct ops_err err = {0};
	ops_no_dag(st, dag_id, &err);
	cli_ops_failed(&err);
}

int cli_run_get(struct store *st, const char *run_id, struct store_run *ret)
{
	struct ops_err err = {0};
	if (ops_get_run(st, run_id, ret, &err) == 0)
		return 0;
	cli_ops_failed(&err);
	return -ENOENT;
}

int cli_ti_list(struct store *st, const char *run_id, struct store_ti **ret, size_t *ret_n)
{
	struct ops_err err = {0};
	if (ops_ti_rows(st, run_id, ret, ret_n, &err) < 0) {
		fprintf(stderr, "gust: %s\n", err.msg);
		ops_err_free(&err);
		return -EIO;
	}
	return 0;
}

void cli_ti_list_free(struct store_ti *tis, size_t n)
{
	ops_ti_rows_free(tis, n);
}

struct dag *cli_dag_from_store(struct store *st, const char *dag_id, int64_t version)
{
	if (version == 0) {
		struct store_dag row;
		if (store_dag_get(st, dag_id, &row) < 0) {
			fprintf(stderr, "gust: cannot read DAG '%s': %s\n", dag_id,
				store_errmsg(st));
			return NULL;
		}
		version = row.version;
		store_dag_free(&row);
		if (version == 0) {
			fprintf(stderr,
				"gust: DAG '%s' has never loaded: 'gust dags list' shows its "
				"errors\n",
				dag_id);
			return NULL;
		}
	}
	struct ops_err err = {0};
	void *hold = NULL; /* the DAG itself: the caller frees it with dag_free */
	const struct dag *d = ops_dags_from_store.get(NULL, st, dag_id, version, &hold, &err);
	if (!d) {
		fprintf(stderr, "gust: %s\n", err.msg);
		ops_err_free(&err);
	}
	return (struct dag *)d;
}

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		buf = xrealloc_array(buf, len + 65536 + 1, 1, &cap);
		size_t got = fread(buf + len, 1, 65536, f);
		len += got;
		if (got < 65536)
			break;
		if (len > DAG_MAX_FILE_BYTES)
			break;
	}
	bool bad = ferror(f) || len > DAG_MAX_FILE_BYTES;
	fclose(f);
	if (bad) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

struct dag *cli_dag_from_folder(const char *dir, const char *dag_id, char **ret_file,
				char **ret_text, size_t *ret_len)
{
	int errors = 0;
	char *paths[] = {(char *)dir};
	char **files = cli_collect_dag_files(paths, 1, &errors);
	struct dag *found = NULL;
	for (char **f = files; *f && !found; f++) {
		size_t len = 0;
		char *text = slurp(*f, &len);
		if (!text)
			continue;
		struct diag_list diags;
		diag_list_init(&diags, *f);
		struct dag *d = NULL;
		if (dag_load_buffer(*f, text, len, &d, &diags) == 0 && strcmp(d->id, dag_id) == 0) {
			found = d;
			if (ret_file)
				*ret_file = xstrdup(*f);
			if (ret_text) {
				*ret_text = text;
				*ret_len = len;
				text = NULL;
			}
		} else {
			dag_free(d);
		}
		diag_list_free(&diags);
		free(text);
	}
	cli_free_strv(files);
	return found;
}

/* ---- finding a task instance -------------------------------------------------------------- */

void cli_ti_ref_free(struct cli_ti_ref *r)
{
	store_run_free(&r->run);
	cli_ti_list_free(r->tis, r->n_tis);
}

/*
 * Find TASK (and MAP_INDEX, -2 when not given) of RUN. Reports problems to stderr and returns
 * the exit code (0 found; 1 unknown run or task; 2 a mapped task without --map-index, unless
 * `whole` accepts the task as a whole, or an index out of range).
 */
int cli_ti_find(struct store *st, const char *home, const char *run_id, const char *task_id,
		int32_t map_index, bool whole, struct cli_ti_ref *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (cli_run_get(st, run_id, &ret->run) < 0)
		return 1;
	if (cli_ti_list(st, run_id, &ret->tis, &ret->n_tis) < 0) {
		store_run_free(&ret->run);
		return 1;
	}
	const struct store_ti *only = NULL;
	bool mapped = false;
	for (size_t i = 0; i < ret->n_tis; i++) {
		const struct store_ti *t = &ret->tis[i];
		if (strcmp(t->task_id, task_id) != 0)
			continue;
		ret->n_instances++;
		mapped |= t->map_index >= 0;
		only = t;
		if (t->map_index == map_index || (map_index == -2 && t->map_index == -1))
			ret->ti = t;
	}
	if (!ret->n_instances) {
		/* No row: an unknown task, or a run that has not started. */
		struct dag *d = cli_dag_from_store(st, ret->run.dag_id, ret->run.version);
		if (d && dag_task_index(d, task_id) < 0) {
			const char **names = xcalloc(d->n_tasks + 1, sizeof(*names));
			for (uint32_t i = 0; i < d->n_tasks; i++)
				names[i] = d->tasks[i].id;
			const char *hint = closest_word(task_id, names, d->n_tasks);
			fprintf(stderr, "gust: DAG '%s' has no task '%s'%s%s%s\n", d->id, task_id,
				hint ? " (did you mean '" : "", hint ? hint : "",
				hint ? "'?)" : "");
			free(names);
			dag_free(d);
			cli_ti_ref_free(ret);
			return 1;
		}
		dag_free(d);
		ret->map_index = map_index == -2 ? -1 : map_index;
		return 0; /* known task, no instance yet (the run is queued) */
	}
	if (mapped && map_index == -2) {
		if (whole) {
			ret->ti = NULL;
			ret->map_index = -1;
			return 0;
		}
		if (ret->n_instances == 1) {
			ret->ti = only;
		} else {
			fprintf(stderr,
				"gust: task '%s' is mapped (%zu instances): name one with "
				"--map-index 0..%zu\n",
				task_id, ret->n_instances, ret->n_instances - 1);
			cli_ti_ref_free(ret);
			return EXIT_USAGE;
		}
	}
	if (!ret->ti) {
		if (mapped)
			fprintf(stderr, "gust: task '%s' has no instance %d (it has %zu: 0..%zu)\n",
				task_id, map_index, ret->n_instances, ret->n_instances - 1);
		else
			fprintf(stderr, "gust: task '%s' is not mapped: leave out --map-index\n",
				task_id);
		cli_ti_ref_free(ret);
		return EXIT_USAGE;
	}
	ret->map_index = ret->ti->map_index;
	return 0;
}

/* ---- formatting ------------------------------------------------------------------------------ */

int64_t cli_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_offset;
}


char *cli_fmt_json_time(const json_t *v, char *buf, size_t size)
{
	int64_t ms = 0;
	if (ops_time_parse(v, &ms) < 0)
		ms = 0;
	return ops_fmt_time(ms, buf, size);
}

char *cli_fmt_time_ms(int64_t ms, char *buf, size_t size)
{
	return time_format_utc_ms(ms, buf, size);
}

char *cli_fmt_time_tz(int64_t ms, const char *tz_name, char *buf, size_t size)
{
	struct tz *tz = NULL;
	struct civil c;
	if (!tz_name || tz_open(tz_name, &tz) < 0 || tz_to_civil(tz, ms, &c) < 0)
		return time_format_utc(ms, buf, size);
	int off = c.utc_offset;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", c.year, c.month, c.day,
		 c.hour, c.min, c.sec, sign, off / 3600, off / 60 % 60);
	tz_close(tz);
	return buf;
}

char *cli_fmt_elapsed(int64_t ms, char *buf, size_t size)
{
	if (ms < 0)
		ms = 0;
	long long s = ms / 1000;
	if (ms < 1000)
		snprintf(buf, size, "%lldms", (long long)ms);
	else if (ms < 60000)
		snprintf(buf, size, "%.1fs", (double)ms / 1000.0);
	else if (s < 3600)
		snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%lldh%02lldm", s / 3600, s / 60 % 60);
	else
		snprintf(buf, size, "%lldd%02lldh", s / 86400, s / 3600 % 24);
	return buf;
}





/* ---- JSON ---------------------------------------------------------------------------------- */

void cli_print_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
	putchar('\n');
}

/* ---- groups and numbers ------------------------------------------------------------------- */

int cli_group(const char *group, const struct cli_cmd *const *cmds, size_t n, int argc, char **argv)
{
	size_t skip = strlen(group) + 1;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		FILE *out = argc < 2 ? stderr : stdout;
		fprintf(out, "Usage: gust %s COMMAND [ARGS...]\n\nCommands:\n", group);
		for (size_t i = 0; i < n; i++)
			fprintf(out, "  %-16s %s\n", cmds[i]->name + skip, cmds[i]->summary);
		fprintf(out, "\n'gust %s COMMAND --help' for a command's options.\n", group);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(argv[1], cmds[i]->name + skip) == 0)
			return cmds[i]->fn(argc - 1, argv + 1);
	const char **names = xcalloc(n, sizeof(*names));
	for (size_t i = 0; i < n; i++)
		names[i] = cmds[i]->name + skip;
	const char *hint = closest_word(argv[1], names, n);
	fprintf(stderr, "gust: unknown command '%s %s'%s%s%s\nTry 'gust %s --help'.\n", group,
		argv[1], hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "",
		group);
	free(names);
	return EXIT_USAGE;
}

bool cli_parse_int(const char *s, long min, long max, long *ret)
{
	if (!s || !*s)
		return false;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (*end || errno || v < min || v > max)
		return false;
	*ret = v;
	return true;
}

int cli_home_options(const struct cli_cmd *cmd, int argc, char **argv, const char **home,
		     bool *json)
{
	static const struct option with_json[] = {
	    {"json", no_argument, NULL, 'J'},
	    {"home", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const struct option *opts = json ? with_json : with_json + 1;
	*home = NULL;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			*json = true;
			break;
		case 'H':
			*home = optarg;
			break;
		case 'h':
			return cli_help(cmd);
		default:
			return cli_usage_error(cmd, "bad option");
		}
	}
	return -1;
}
