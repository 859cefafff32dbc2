/* fsutil.c - mkdir -p, rm -rf and environment merging (see fsutil.h). */
#include "base/fsutil.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"

int mkdir_p(const char *path)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -errno;
	char *parent = xstrdup(path);
	char *slash = strrchr(parent, '/');
	int r = -ENOENT;
	if (slash && slash != parent) {
		*slash = '\0';
		r = mkdir_p(parent);
	}
	free(parent);
	if (r < 0)
		return r;
	return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -errno;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char **env_merge(char *const *base, char *const *overrides)
{
	size_t n_base = 0, n_over = 0;
	while (base && base[n_base])
		n_base++;
	while (overrides && overrides[n_over])
		n_over++;
	char **env = xcalloc(n_base + n_over + 1, sizeof(char *));
	size_t k = 0;
	for (size_t i = 0; i < n_base; i++) {
		const char *eq = strchr(base[i], '=');
		size_t len = eq ? (size_t)(eq - base[i]) : strlen(base[i]);
		bool overridden = false;
		for (size_t j = 0; j < n_over && !overridden; j++)
			overridden = strncmp(overrides[j], base[i], len) == 0 &&
				     overrides[j][len] == '=';
		if (!overridden)
			env[k++] = base[i];
	}
	for (size_t j = 0; j < n_over; j++)
		env[k++] = overrides[j];
	env[k] = NULL;
	return env;
}

char **env_without_prefix(char *const *env, const char *prefix)
{
	size_t n = 0;
	while (env && env[n])
		n++;
	char **out = xcalloc(n + 1, sizeof(char *));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!str_has_prefix(env[i], prefix))
			out[k++] = env[i];
	out[k] = NULL;
	return out;
}

bool path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1 && dir[0] == '/')
		return path[0] == '/'; /* everything is under the root */
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}
