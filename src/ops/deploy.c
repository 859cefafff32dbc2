/*
 * deploy.c - DAG files checked, written into the DAG folder and removed from it (see ops.h).
 *
 * A deploy never leaves a half-written file for the server to read: the text is checked first
 * (rejected whole, with every located error, as `gust dags validate` reports them), then
 * written to a hidden file in the same folder (the DAG folder ignores names starting with '.'),
 * flushed to disk, and renamed over the target, so the folder's watcher sees one complete new
 * file. The server loads it like any other change of the folder.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/fsutil.h"
#include "base/hash.h"
#include "base/util.h"
#include "dag/dag.h"
#include "dag/dag_load.h"
#include "ops/ops.h"
#include "ops/shape.h"

int ops_dag_validate(const char *name, const char *text, size_t len, const char *want_id,
		     json_t **ret_errors, struct ops_err *err)
{
	*ret_errors = NULL;
	struct diag_list diags;
	diag_list_init(&diags, name);
	struct dag *d = NULL;
	int r = 0;
	if (dag_load_buffer(name, text, len, &d, &diags) < 0) {
		diag_sort(&diags);
		*ret_errors = ops_diags_json(&diags);
		r = ops_fail(err, OPS_INVALID, "%s has %zu problem%s; nothing was changed", name,
			     diags.n, diags.n == 1 ? "" : "s");
	} else if (want_id && strcmp(d->id, want_id) != 0) {
		diag_add(&diags, 0, 0, "the file's id is '%s', not '%s' (drop `id:` or make it '%s')",
			 d->id, want_id, want_id);
		*ret_errors = ops_diags_json(&diags);
		r = ops_fail(err, OPS_INVALID, "the file's id is '%s', not '%s'", d->id, want_id);
	}
	dag_free(d);
	diag_list_free(&diags);
	return r;
}

/* Write `len` bytes to `path` through a hidden file beside it, flushed, then renamed. */
static int write_atomically(const char *path, const char *text, size_t len)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
	char *tmp = xasprintf("%s/.%s.deploy-XXXXXX", dir, slash ? slash + 1 : path);
	int e = 0;
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		e = -errno;
		goto out;
	}
	for (size_t off = 0; off < len && !e;) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno != EINTR)
			e = -errno;
		else if (w > 0)
			off += (size_t)w;
	}
	if (!e && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
		e = -errno;
	if (close(fd) < 0 && !e)
		e = -errno;
	if (!e && rename(tmp, path) < 0)
		e = -errno;
	if (e)
		unlink(tmp);
	else {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd); /* the rename itself survives a crash */
			close(dfd);
		}
	}
out:
	free(tmp);
	free(dir);
	return e;
}

int ops_dag_deploy(struct store *st, const char *dags_dir, const char *dag_id, const char *text,
		   size_t len, struct ops_deploy_ans *ans, json_t **ret_errors, struct ops_err *err)
{
	memset(ans, 0, sizeof(*ans));
	*ret_errors = NULL;
	/* Where it goes: the file the DAG was loaded from, when that is in the DAG folder and
	 * still there; else DAG_ID.yaml in the folder. */
	struct store_dag row;
	char *file = NULL;
	int e = store_dag_get(st, dag_id, &row);
	if (e < 0 && e != -ENOENT)
		return ops_fail(err, OPS_INTERNAL, "cannot read DAG '%s'", dag_id);
	if (e == 0) {
		if (!row.deleted && row.file && path_under(row.file, dags_dir))
			file = xstrdup(row.file);
		store_dag_free(&row);
	}
	if (!file)
		file = xasprintf("%s/%s.yaml", dags_dir, dag_id);
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	if (ops_dag_validate(base, text, len, dag_id, ret_errors, err) < 0) {
		free(file);
		return -1;
	}
	/* DAG_ID.yaml holding another DAG (an `id:` of its own) is not overwritten. */
	struct store_dag *all = NULL;
	size_t n = 0;
	bool taken = false;
	if (store_dag_list(st, &all, &n) == 0) {
		for (size_t i = 0; i < n && !taken; i++)
			if (!all[i].deleted && all[i].file && strcmp(all[i].file, file) == 0 &&
			    strcmp(all[i].dag_id, dag_id) != 0 && (taken = true))
				ops_fail(err, OPS_CONFLICT,
					 "%s holds DAG '%s'; deploy DAG '%s' under its own file "
					 "first",
					 base, all[i].dag_id, dag_id);
		for (size_t i = 0; i < n; i++)
			store_dag_free(&all[i]);
		free(all);
	}
	if (taken) {
		free(file);
		return -1;
	}
	int w = write_atomically(file, text, len);
	if (w < 0) {
		free(file);
		return ops_fail(err, w == -ENOSPC ? OPS_CONFLICT : OPS_INTERNAL,
				w == -ENOSPC ? "the DAG folder's disk is full; nothing was changed"
					     : "cannot write the DAG file; nothing was changed");
	}
	ans->file = file;
	hash_fnv1a64_hex(text, len, ans->hash);
	return 0;
}

int ops_dag_remove(struct store *st, const char *dags_dir, const char *dag_id, char **ret_file,
		   struct ops_err *err)
{
	struct store_dag row;
	if (ops_get_dag(st, dag_id, &row, err) < 0)
		return -1;
	int r = 0;
	if (row.deleted || !row.file) {
		r = ops_fail(err, OPS_CONFLICT, "DAG '%s' has no file in the DAG folder any more",
			     dag_id);
	} else if (!path_under(row.file, dags_dir)) {
		r = ops_fail(err, OPS_CONFLICT, "DAG '%s' was not loaded from the DAG folder",
			     dag_id);
	} else if (unlink(row.file) < 0 && errno != ENOENT) {
		r = ops_fail(err, OPS_INTERNAL, "cannot remove the file of DAG '%s'", dag_id);
	} else {
		*ret_file = xstrdup(row.file);
	}
	store_dag_free(&row);
	return r;
}
