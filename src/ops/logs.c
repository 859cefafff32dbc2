/*
 * logs.c - which attempt's log to show, and reading it by offset or by its last lines (see
 * ops.h). The attempt folder is the durable contract (docs/ARCHITECTURE.md): `log` is what the
 * supervisor wrote (secrets already masked), `outcome` appears once the attempt is over.
 * Paths come from the store's attempt rows, never from a request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/util.h"
#include "ops/ops.h"

static bool is_done(const char *state)
{
	return strcmp(state, "success") == 0 || strcmp(state, "failed") == 0 ||
	       strcmp(state, "skipped") == 0 || strcmp(state, "upstream_failed") == 0;
}

int ops_log_attempt(struct store *st, const char *run_id, const char *task_id,
		    int32_t map_index, int32_t try_number, struct ops_log_ref *ret,
		    struct ops_err *err)
{
	memset(ret, 0, sizeof(*ret));
	struct store_run run = {0};
	if (ops_get_run(st, run_id, &run, err) < 0)
		return -1;
	store_run_free(&run);
	struct store_ti ti;
	int e = store_ti_get(st, run_id, task_id, map_index, &ti);
	if (e == -ENOENT && map_index >= 0)
		return ops_fail(err, OPS_NOT_FOUND, "run %s has no instance %s[%d]", run_id,
				task_id, map_index);
	if (e == -ENOENT)
		return ops_fail(err, OPS_NOT_FOUND,
				"run %s has no task '%s' (a mapped task's instances need a map "
				"index)",
				run_id, task_id);
	if (e < 0)
		return ops_fail(err, OPS_INTERNAL, "cannot read task '%s' of run %s", task_id,
				run_id);
	struct store_attempt *as = NULL;
	size_t n = 0;
	if (store_attempt_list(st, run_id, task_id, map_index, &as, &n) < 0) {
		store_ti_free(&ti);
		return ops_fail(err, OPS_INTERNAL, "cannot read the attempts of '%s'", task_id);
	}
	ssize_t best = -1;
	for (size_t i = 0; i < n; i++)
		if (try_number == 0 || as[i].try_number == try_number)
			best = (ssize_t)i; /* by try then launch: the last one wins */
	int r = 0;
	if (best < 0) {
		/* Not yet: the caller following it may wait, unless none can come. */
		bool can_come = !is_done(ti.state) && (try_number == 0 || ti.try_number < try_number);
		ret->pending = can_come;
		r = try_number ? ops_fail(err, OPS_NOT_FOUND,
					  "%s of run %s has no try %d (state %s, %d so far)",
					  task_id, run_id, try_number, ti.state, ti.try_number)
			       : ops_fail(err, OPS_NOT_FOUND,
					  "%s of run %s has not started an attempt (state %s)",
					  task_id, run_id, ti.state);
	} else {
		ret->dir = xstrdup(as[best].dir ? as[best].dir : "");
		ret->attempt_id = as[best].id;
		ret->try_number = as[best].try_number;
		ret->ended = as[best].ended_at != 0;
	}
	for (size_t i = 0; i < n; i++)
		store_attempt_free(&as[i]);
	free(as);
	store_ti_free(&ti);
	return r;
}

void ops_log_ref_free(struct ops_log_ref *r)
{
	free(r->dir);
	r->dir = NULL;
}

bool ops_log_outcome_written(const char *dir)
{
	char *p = xasprintf("%s/outcome", dir);
	struct stat sb;
	bool ok = stat(p, &sb) == 0;
	free(p);
	return ok;
}

/* The offset where the last `lines` lines of the first `size` bytes of fd begin. */
static off_t tail_start(int fd, off_t size, int64_t lines)
{
	char buf[8192];
	off_t pos = size;
	int64_t seen = 0;
	/* A final newline ends the last line rather than starting an empty one. */
	bool skip_last = true;
	while (pos > 0) {
		size_t want = pos < (off_t)sizeof(buf) ? (size_t)pos : sizeof(buf);
		ssize_t n = pread(fd, buf, want, pos - (off_t)want);
		if (n <= 0)
			return 0;
		for (ssize_t i = n - 1; i >= 0; i--) {
			if (buf[i] != '\n')
				continue;
			if (skip_last && pos - (off_t)want + i == size - 1) {
				skip_last = false;
				continue;
			}
			if (++seen == lines)
				return pos - (off_t)want + i + 1;
		}
		skip_last = false;
		pos -= (off_t)want;
	}
	return 0;
}

int ops_log_read(const char *dir, int64_t offset, int64_t tail_lines, size_t max,
		 struct buf *out, int64_t *ret_start, int64_t *ret_end)
{
	char *p = xasprintf("%s/log", dir);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	if (fd < 0)
		return -errno;
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	off_t size = sb.st_size;
	off_t from = offset;
	if (tail_lines > 0)
		from = tail_start(fd, size, tail_lines);
	if (from > size)
		from = size;
	size_t want = (size_t)(size - from) < max ? (size_t)(size - from) : max;
	size_t got = 0;
	char *dst = xmalloc(want ? want : 1);
	while (got < want) {
		ssize_t n = pread(fd, dst + got, want - got, from + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf_append(out, dst, got);
	free(dst);
	close(fd);
	*ret_start = from;
	*ret_end = from + (off_t)got;
	return 0;
}
