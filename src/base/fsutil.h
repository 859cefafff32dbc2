/*
 * fsutil.h - the few file-system and environment helpers several layers need.
 */
#ifndef GUST_BASE_FSUTIL_H
#define GUST_BASE_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>

/* mkdir -p, mode 0755; the common case (the parent exists) is one system call. 0 or -errno. */
int mkdir_p(const char *path);
/* rm -rf: removes `path` and everything under it, not following links. Errors are ignored
 * (what can be removed is). */
void rm_rf(const char *path);

/* Whether `path` is `dir` or lies under it, by their text (no file-system look-up; trailing
 * slashes of `dir` ignored): "dags/a.yaml" is under "dags" and "dags/", "dagsx/a" is not. */
bool path_under(const char *path, const char *dir);

/* The environment to give a task: `base` (NULL-terminated "K=V" strings) without the names
 * `overrides` sets, then `overrides`. The strings are borrowed; free only the array. */
char **env_merge(char *const *base, char *const *overrides);
/* environ without variables whose name starts with `prefix` (e.g. "GUST_"): an array of
 * borrowed strings; free only the array. */
char **env_without_prefix(char *const *env, const char *prefix);

#endif
