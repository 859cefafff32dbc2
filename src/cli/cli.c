/* cli.c - helpers shared by the commands (see cli.h). */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"

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
