/*
 * dagbag.c - the DAG folder, loaded and watched (see dagbag.h).
 *
 * Entries are kept per file (by_file) and per DAG id (by_id). The DAG processor's thread reads
 * and hashes each file (FNV-1a, 64 bits): the content applied last is not parsed again, so
 * touching a file costs one read, in that thread. A new good content has its source stored by
 * the thread (store_source), then asks the store for a version number (apply_job, in the
 * loop: a few rows) and becomes a new dagver. Each submission has a sequence number; only the
 * answer to a file's last one is applied.
 */
#include "server/dagbag.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/fsutil.h"
#include "base/util.h"
#include "dag/dag_load.h"
#include "server/dagproc.h"
#include "server/log.h"
#include "store/store.h"

/* ---- versions ------------------------------------------------------------------------------ */

struct dagver *dagver_ref(struct dagver *v)
{
	if (v)
		v->refs++;
	return v;
}

static void dagver_destroy(void *arg)
{
	struct dagver *v = arg;
	schedule_free(v->sched);
	dag_free(v->dag);
	free(v);
}

void dagver_unref(struct dagver *v)
{
	if (!v || --v->refs > 0)
		return;
	/* Freeing a 100,000-task DAG takes milliseconds: the processor's thread does it. */
	if (v->reclaim)
		dagproc_dispose(v->reclaim, dagver_destroy, v);
	else
		dagver_destroy(v);
}

static struct dagver *dagver_new(struct dag *d, int64_t version, char **ret_msg)
{
	struct dagver *v = xcalloc(1, sizeof(*v));
	dag_compute_weights(d); /* once per version, before any run shares it */
	v->dag = d;
	v->version = version;
	v->refs = 1;
	if (schedule_open(d, &v->sched, ret_msg) < 0) {
		dag_free(d);
		free(v);
		return NULL;
	}
	return v;
}

struct dagver *dagver_from_source(struct dagproc *proc, const char *dag_id, const char *source,
				  int64_t version, char **ret_msg)
{
	char *name = xasprintf("%s.yaml", dag_id);
	size_t len = strlen(source);
	struct dagproc_job *j = dagproc_job_new(DAGPROC_DAG, name, xstrndup(source, len), len, 0);
	free(name);
	dagproc_call(proc, j);
	struct dagver *v = NULL;
	if (j->dag) {
		v = dagver_new(j->dag, version, ret_msg);
		j->dag = NULL;
		if (v)
			v->reclaim = proc;
	} else {
		*ret_msg = xstrdup(j->failure	? j->failure
				   : j->diags.n ? j->diags.items[0].msg
						: "does not load");
	}
	dagproc_job_free(j);
	return v;
}

/* ---- entries ------------------------------------------------------------------------------ */

static void mark_changed(struct dagbag *b, size_t idx)
{
	if (b->entries[idx]->changed)
		return;
	b->entries[idx]->changed = true;
	b->changed =
	    xrealloc_array(b->changed, b->n_changed + 1, sizeof(*b->changed), &b->cap_changed);
	b->changed[b->n_changed++] = idx;
}

/* Drop e's key from by_id if it holds e's index (another file may own the id meanwhile). */
static void unindex_id(struct dagbag *b, struct dag_entry *e, size_t idx)
{
	uint32_t owner;
	if (e->dag_id && strmap_get(&b->by_id, e->dag_id, &owner) && owner == idx)
		strmap_del(&b->by_id, e->dag_id);
}

static struct dag_entry *entry_for_file(struct dagbag *b, const char *file, size_t *ret_idx)
{
	uint32_t idx;
	if (strmap_get(&b->by_file, file, &idx)) {
		*ret_idx = idx;
		return b->entries[idx];
	}
	struct dag_entry *e = xcalloc(1, sizeof(*e));
	e->file = xstrdup(file);
	b->entries = xrealloc_array(b->entries, b->n + 1, sizeof(*b->entries), &b->cap);
	*ret_idx = b->n;
	b->entries[b->n++] = e;
	strmap_put(&b->by_file, e->file, (uint32_t)*ret_idx, NULL);
	return e;
}

/* What a non-regular file is, for messages. */
static const char *file_kind(mode_t mode)
{
	return S_ISFIFO(mode)	? "a FIFO"
	       : S_ISCHR(mode)	? "a character device"
	       : S_ISBLK(mode)	? "a block device"
	       : S_ISSOCK(mode) ? "a socket"
	       : S_ISDIR(mode)	? "a folder"
				: "not a file";
}

/* Why `file` could not be read (the processor thread's read_errno and read_mode), as "FILE: error:
 * ...", saying what to do. A symlink is named with its target. malloc'd. */
static char *unreadable_msg(const char *file, int err, mode_t mode)
{
	char target[PATH_MAX];
	ssize_t n = readlink(file, target, sizeof(target) - 1);
	if (n >= 0)
		target[n] = '\0';
	if (err == EFBIG)
		return xasprintf("%s: error: the file is larger than %u MB", file,
				 DAG_MAX_FILE_BYTES / (1024 * 1024));
	if (err == EINVAL && n >= 0)
		return xasprintf(
		    "%s: error: is a symlink to '%s', which is %s, not a regular file: "
		    "point it at a DAG file",
		    file, target, file_kind(mode));
	if (err == EINVAL)
		return xasprintf("%s: error: is %s, not a regular file: a DAG file must be a "
				 "regular file or a symlink to one",
				 file, file_kind(mode));
	if (err == ENOENT && n >= 0)
		return xasprintf("%s: error: is a symlink to '%s', which does not exist: point it "
				 "at a DAG file",
				 file, target);
	if (err == ELOOP && n >= 0)
		return xasprintf("%s: error: is a symlink to '%s', which never reaches a file (a "
				 "loop of symlinks): point it at a DAG file",
				 file, target);
	return xasprintf("%s: error: cannot read: %s", file, strerror(err));
}

char *dagbag_note_key(const struct dagbag *b, const char *file)
{
	size_t n = strlen(b->dir);
	const char *rel = file;
	if (strncmp(file, b->dir, n) == 0 && file[n] == '/')
		rel = file + n + 1;
	return xasprintf("./%s", rel);
}

static void set_broken(struct dagbag *b, struct dag_entry *e, struct store *st, const char *error,
		       int64_t now)
{
	e->broken = true;
	/* A file that has not loaded has a row of its own, keyed by its path: two broken x.yaml
	 * in two folders are two rows, and no DAG's row is touched. */
	if (!e->dag_id && !e->note_key)
		e->note_key = dagbag_note_key(b, e->file);
	const char *key = e->dag_id ? e->dag_id : e->note_key;
	if (store_dag_broken(st, NULL, key, e->file, error, now) < 0)
		slog(LOG_ERROR, "dagbag: cannot record the errors of %s: %s", e->file,
		     store_errmsg(st));
}

/* The file loaded or went: the row of its problems from before it loaded is marked deleted,
 * which `gust dags list` does not show (a file that never loaded has no history). */
static void drop_note(struct dag_entry *e, struct store *st, int64_t now)
{
	if (!e->note_key)
		return;
	int r = store_dag_deleted(st, NULL, e->note_key, now);
	if (r < 0 && r != -ENOENT)
		slog(LOG_ERROR, "dagbag: cannot drop the note of %s: %s", e->file,
		     store_errmsg(st));
	free(e->note_key);
	e->note_key = NULL;
}

/* (Re)load one file: the DAG processor's thread reads it (bounded, non-blocking), hashes it and,
 * unless the content is the one applied last, parses it; apply_job() does the rest. */
static void load_file(struct dagbag *b, struct store *st, const char *file, int64_t now)
{
	(void)st;
	size_t idx;
	struct dag_entry *e = entry_for_file(b, file, &idx);
	e->pending++;
	struct dagproc_job *j = dagproc_job_new(DAGPROC_DAG, file, NULL, 0, ++b->seq);
	e->seq = j->tag;
	j->known_hash = e->cur || e->broken ? e->hash : 0;
	j->now = now;
	dagproc_submit(b->proc, j);
}

/* The thread could not read the file (apply_job). */
static void report_unreadable(struct dagbag *b, struct dag_entry *e, struct store *st, int err,
			      mode_t mode, int64_t now)
{
	char *msg = unreadable_msg(e->file, err, mode);
	slog(LOG_WARN, "dagbag: %s", msg);
	e->hash = 0;
	set_broken(b, e, st, msg, now);
	free(msg);
}

static void report_broken(struct dagbag *b, struct dag_entry *e, struct store *st,
			  struct diag_list *diags, const char *failure, int64_t now)
{
	struct buf msg = BUF_INIT;
	if (failure) {
		buf_printf(&msg, "%s: error: broken: %s", e->file, failure);
	} else {
		diag_sort(diags);
		char *p = NULL;
		size_t sz = 0;
		FILE *f = open_memstream(&p, &sz);
		if (f) {
			diag_print(diags, f);
			fclose(f);
			buf_append(&msg, p, sz);
			free(p);
		}
		if (msg.len && msg.data[msg.len - 1] == '\n')
			msg.data[--msg.len] = '\0';
	}
	if (failure)
		slog(LOG_WARN, "dagbag: %s is broken: %s; %s", e->file, failure,
		     e->cur ? "the last good version stays in use" : "no DAG loaded");
	else
		slog(LOG_WARN, "dagbag: %s is broken (%zu problem%s); %s", e->file, diags->n,
		     diags->n == 1 ? "" : "s",
		     e->cur ? "the last good version stays in use" : "no DAG loaded");
	set_broken(b, e, st, buf_str(&msg), now);
	buf_free(&msg);
}

#define SOURCE_SWEEP_EVERY_MS (10 * 60 * 1000)
#define SOURCE_SWEEP_AGE_MS (60 * 60 * 1000)

/* The store's name for a content hash: 16 hex digits. */
static void hash_text(uint64_t h, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* In the processor's thread, for each file that compiled (dagproc_compiled_fn): its source goes
 * to the store now, in parts, so that apply_job's store_dag_loaded only adds a few rows. */
static void store_source(void *ctx, const struct dagproc_job *j)
{
	struct dagbag *b = ctx;
	char hash_hex[17];
	hash_text(j->hash, hash_hex);
	if (store_dag_source_put(b->source_st, j->dag->id, hash_hex, j->text, j->len, j->now) < 0)
		slog(LOG_WARN, "dagbag: cannot store the source of %s ahead (%s): the loop will",
		     j->path, store_errmsg(b->source_st));
	/* Sources that never became a version (a DAG id taken by another file; a crash between
	 * here and apply_job), an hour old so as never to race apply_job; at most every 10 min. */
	if (j->now - b->swept_at >= SOURCE_SWEEP_EVERY_MS) {
		b->swept_at = j->now;
		int n = 0;
		if (store_dag_sources_sweep(b->source_st, j->now - SOURCE_SWEEP_AGE_MS, &n) < 0)
			slog(LOG_WARN, "dagbag: %s", store_errmsg(b->source_st));
		else if (n > 0)
			slog(LOG_INFO, "dagbag: removed %d stored source part%s no version uses", n,
			     n == 1 ? "" : "s");
	}
}

/* The processor's answer for one file. */
static void apply_job(struct dagbag *b, struct store *st, struct dagproc_job *j, int64_t now)
{
	uint32_t idx;
	if (!strmap_get(&b->by_file, j->path, &idx))
		return;
	struct dag_entry *e = b->entries[idx];
	e->pending--;
	if (e->seq != j->tag)
		return; /* the file changed (or went) since: a newer answer is coming, or none */
	if (j->read_errno) {
		report_unreadable(b, e, st, j->read_errno, j->read_mode, now);
		return;
	}
	if (j->unchanged)
		return; /* same content as the version (or the errors) in place */
	e->hash = j->hash;
	const char *file = e->file;
	struct dag *d = j->dag;
	j->dag = NULL;
	if (d) {
		uint32_t other;
		if (strmap_get(&b->by_id, d->id, &other) && other != idx) {
			diag_add(&j->diags, 1, 1, "DAG id '%s' is already defined in %s", d->id,
				 b->entries[other]->file);
			dag_free(d);
			d = NULL;
		}
	}
	if (!d) {
		report_broken(b, e, st, &j->diags, j->failure, now);
		return;
	}
	char hash_hex[17];
	hash_text(j->hash, hash_hex);
	int64_t version = 0;
	/* The source is stored already (store_source), unless that failed: then this writes it. */
	int r =
	    store_dag_loaded(st, NULL, d->id, file, hash_hex, j->text, d->schedule, now, &version);
	if (r < 0) {
		slog(LOG_ERROR, "dagbag: cannot record %s in the store: %s", file,
		     store_errmsg(st));
		dag_free(d);
		return;
	}
	char *msg = NULL;
	struct dagver *v = dagver_new(d, version, &msg);
	if (!v) {
		slog(LOG_ERROR, "dagbag: %s: %s", file, msg ? msg : "bad schedule");
		free(msg);
		return;
	}
	v->reclaim = b->proc;
	bool renamed = e->dag_id && strcmp(e->dag_id, v->dag->id) != 0;
	if (renamed) {
		slog(LOG_INFO, "dagbag: %s now declares DAG '%s' instead of '%s'", file, v->dag->id,
		     e->dag_id);
		store_dag_deleted(st, NULL, e->dag_id, now);
	}
	bool new_id = !e->dag_id;
	if (new_id || renamed)
		e->first_seen = now;
	drop_note(e, st, now);
	/* The same id keeps its string: by_id borrows it as its key. */
	if (new_id || renamed) {
		unindex_id(b, e, idx);
		free(e->dag_id);
		e->dag_id = xstrdup(v->dag->id);
		strmap_put(&b->by_id, e->dag_id, (uint32_t)idx, NULL);
	}
	bool was_current = e->cur && e->cur->version == v->version;
	dagver_unref(e->cur);
	e->cur = v;
	e->broken = false;
	e->timer_gen++;
	mark_changed(b, idx);
	if (!was_current)
		slog(LOG_INFO,
		     "dagbag: loaded %s: DAG '%s' version %lld, %u task%s, schedule %s (parsed in "
		     "%lld ms, compiled in %lld ms)",
		     file, v->dag->id, (long long)v->version, v->dag->n_tasks,
		     v->dag->n_tasks == 1 ? "" : "s", v->dag->schedule ? v->dag->schedule : "none",
		     (long long)j->parse_ms, (long long)j->load_ms);
}

void dagbag_on_processed(struct dagbag *b, struct store *st, int64_t now, bool wait_all)
{
	for (;;) {
		struct dagproc_job *j = dagproc_take(b->proc, wait_all);
		if (!j)
			return;
		while (j) {
			struct dagproc_job *next = j->next;
			apply_job(b, st, j, now);
			dagproc_job_free(j);
			j = next;
		}
		if (!wait_all)
			return;
	}
}

static void remove_file(struct dagbag *b, struct store *st, const char *file, int64_t now)
{
	uint32_t idx;
	if (!strmap_get(&b->by_file, file, &idx))
		return;
	struct dag_entry *e = b->entries[idx];
	if (e->dag_id) {
		slog(LOG_INFO,
		     "dagbag: %s was removed: DAG '%s' is no longer scheduled (its history "
		     "stays)",
		     file, e->dag_id);
		store_dag_deleted(st, NULL, e->dag_id, now);
	} else if (e->note_key) {
		slog(LOG_INFO, "dagbag: %s was removed (it had not loaded)", file);
	}
	drop_note(e, st, now);
	/* Keep the slot (indexes are held by timers): an entry without a version is inert. */
	dagver_unref(e->cur);
	e->cur = NULL;
	e->broken = false;
	e->hash = 0;
	e->seq = 0; /* an answer still to come for the file is not applied */
	unindex_id(b, e, idx);
	free(e->dag_id);
	e->dag_id = NULL;
	e->timer_gen++;
	mark_changed(b, idx);
}

/* ---- folders and inotify ----------------------------------------------------------------- */

static bool is_dag_file(const char *name)
{
	return name[0] != '.' && (str_has_suffix(name, ".yaml") || str_has_suffix(name, ".yml"));
}

static void watch_dir(struct dagbag *b, const char *dir)
{
	int wd = inotify_add_watch(b->inotify_fd, dir,
				   IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
				       IN_CREATE | IN_DELETE_SELF | IN_ONLYDIR);
	if (wd < 0) {
		slog(LOG_WARN, "dagbag: cannot watch %s: %s", dir, strerror(errno));
		return;
	}
	for (size_t i = 0; i < b->n_watches; i++) {
		if (b->watches[i].wd == wd) {
			/* The same folder under a new name (moved, or reached through a link). */
			if (strcmp(b->watches[i].dir, dir) != 0) {
				free(b->watches[i].dir);
				b->watches[i].dir = xstrdup(dir);
			}
			return;
		}
	}
	b->watches =
	    xrealloc_array(b->watches, b->n_watches + 1, sizeof(*b->watches), &b->cap_watches);
	b->watches[b->n_watches++] = (struct dag_watch){wd, xstrdup(dir)};
}

static void scan_dir(struct dagbag *b, struct store *st, const char *dir, int depth, int64_t now)
{
	watch_dir(b, dir);
	DIR *d = opendir(dir);
	if (!d) {
		slog(LOG_WARN, "dagbag: cannot read %s: %s", dir, strerror(errno));
		return;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		names = xrealloc_array(names, n + 1, sizeof(*names), &cap);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		char *p = xasprintf("%s/%s", dir, names[i]);
		struct stat sb;
		if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			if (depth < 16)
				scan_dir(b, st, p, depth + 1, now);
		} else if (is_dag_file(names[i])) {
			load_file(b, st, p, now);
		}
		free(p);
		free(names[i]);
	}
	free(names);
}

int dagbag_open(struct dagbag *b, const char *dir, struct dagproc *proc, const char *db,
		char **ret_msg)
{
	memset(b, 0, sizeof(*b));
	b->inotify_fd = -1;
	b->proc = proc;
	int r = store_open(db, &b->source_st, ret_msg);
	if (r < 0)
		return r;
	dagproc_on_compiled(proc, store_source, b);
	strmap_init(&b->by_file);
	strmap_init(&b->by_id);
	size_t len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	b->dir = xstrndup(dir, len);
	struct stat sb;
	if (stat(b->dir, &sb) < 0)
		return -errno;
	if (!S_ISDIR(sb.st_mode))
		return -ENOTDIR;
	b->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (b->inotify_fd < 0)
		return -errno;
	return 0;
}

void dagbag_close(struct dagbag *b)
{
	for (size_t i = 0; i < b->n; i++) {
		dagver_unref(b->entries[i]->cur);
		free(b->entries[i]->file);
		free(b->entries[i]->dag_id);
		free(b->entries[i]->note_key);
		free(b->entries[i]);
	}
	free(b->entries);
	for (size_t i = 0; i < b->n_watches; i++)
		free(b->watches[i].dir);
	free(b->watches);
	free(b->changed);
	strmap_free(&b->by_file);
	strmap_free(&b->by_id);
	if (b->inotify_fd >= 0)
		close(b->inotify_fd);
	store_close(b->source_st); /* after dagproc_stop: the thread no longer uses it */
	free(b->dir);
	memset(b, 0, sizeof(*b));
	b->inotify_fd = -1;
}

void dagbag_scan(struct dagbag *b, struct store *st, int64_t now)
{
	scan_dir(b, st, b->dir, 0, now);
}

static const char *wd_dir(const struct dagbag *b, int wd)
{
	for (size_t i = 0; i < b->n_watches; i++)
		if (b->watches[i].wd == wd)
			return b->watches[i].dir;
	return NULL;
}

static bool is_watched(const struct dagbag *b, const char *dir)
{
	for (size_t i = 0; i < b->n_watches; i++)
		if (strcmp(b->watches[i].dir, dir) == 0)
			return true;
	return false;
}

/* A folder left (deleted, or renamed away): every file under it is removed, and the folders
 * under it are no longer watched (a folder renamed within the DAG folder is scanned again
 * under its new name by its IN_MOVED_TO). */
static void remove_tree(struct dagbag *b, struct store *st, const char *dir, int64_t now)
{
	for (size_t i = 0; i < b->n; i++) {
		struct dag_entry *e = b->entries[i];
		if ((e->dag_id || e->note_key || e->hash || e->pending) && path_under(e->file, dir))
			remove_file(b, st, e->file, now);
	}
	size_t j = 0;
	for (size_t i = 0; i < b->n_watches; i++) {
		if (path_under(b->watches[i].dir, dir)) {
			/* (EINVAL for a deleted folder: its watch went with it) */
			inotify_rm_watch(b->inotify_fd, b->watches[i].wd);
			free(b->watches[i].dir);
		} else {
			b->watches[j++] = b->watches[i];
		}
	}
	b->n_watches = j;
}

/* After a queue overflow: the files that went meanwhile (the rescan sees only what is there). */
static void remove_missing(struct dagbag *b, struct store *st, int64_t now)
{
	struct stat sb;
	for (size_t i = 0; i < b->n; i++) {
		struct dag_entry *e = b->entries[i];
		if ((e->dag_id || e->note_key || e->hash || e->pending) &&
		    lstat(e->file, &sb) < 0 && errno == ENOENT)
			remove_file(b, st, e->file, now);
	}
}

/* A name created in place that no IN_CLOSE_WRITE will follow: anything but a regular file (a
 * symlink, a FIFO, a device, a socket), or a hard link to a file that exists already. */
static bool created_whole(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0 && (!S_ISREG(sb.st_mode) || sb.st_nlink > 1);
}

/* A symlink to a folder: scanned as a folder, as the start-up scan does. */
static bool is_link_to_dir(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode) && stat(path, &sb) == 0 &&
	       S_ISDIR(sb.st_mode);
}

static void on_event(struct dagbag *b, struct store *st, const struct inotify_event *ev,
		     const char *path, int64_t now)
{
	bool gone = ev->mask & (IN_DELETE | IN_MOVED_FROM);
	bool came = ev->mask & (IN_CREATE | IN_MOVED_TO);
	if (gone && ((ev->mask & IN_ISDIR) || is_watched(b, path))) {
		remove_tree(b, st, path, now);
	} else if (came && ((ev->mask & IN_ISDIR) || is_link_to_dir(path))) {
		scan_dir(b, st, path, 1, now);
	} else if (is_dag_file(ev->name)) {
		if (gone)
			remove_file(b, st, path, now);
		else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
			load_file(b, st, path, now);
		else if ((ev->mask & IN_CREATE) && created_whole(path))
			load_file(b, st, path, now); /* a regular file waits for IN_CLOSE_WRITE */
	}
}

void dagbag_on_events(struct dagbag *b, struct store *st, int64_t now)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t len = read(b->inotify_fd, buf, sizeof(buf));
		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0)
			return;
		for (char *p = buf; p < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				slog(LOG_WARN,
				     "dagbag: too many file events at once: rescanning %s", b->dir);
				dagbag_scan(b, st, now);
				remove_missing(b, st, now);
				continue;
			}
			const char *dir = wd_dir(b, ev->wd);
			if (!dir || !ev->len)
				continue;
			char *path = xasprintf("%s/%s", dir, ev->name);
			on_event(b, st, ev, path, now);
			free(path);
		}
	}
}

void dagbag_forget_stale_notes(struct dagbag *b, struct store *st, int64_t now)
{
	struct store_dag *rows = NULL;
	size_t n = 0;
	if (store_dag_list(st, &rows, &n) < 0) {
		slog(LOG_WARN, "dagbag: cannot read the store's DAGs to drop stale notes: %s",
		     store_errmsg(st));
		return;
	}
	struct strmap live;
	strmap_init(&live);
	for (size_t i = 0; i < b->n; i++)
		if (b->entries[i]->note_key)
			strmap_put(&live, b->entries[i]->note_key, (uint32_t)i, NULL);
	struct store_tx *tx = NULL;
	size_t dropped = 0;
	for (size_t i = 0; i < n; i++) {
		/* Version 0: a file that never loaded (no history to keep). */
		if (rows[i].version || rows[i].deleted || strmap_get(&live, rows[i].dag_id, NULL))
			continue;
		if (!tx && store_begin(st, &tx) < 0)
			break;
		if (store_dag_deleted(st, tx, rows[i].dag_id, now) == 0)
			dropped++;
	}
	if (tx && store_commit(tx) < 0)
		slog(LOG_ERROR, "dagbag: cannot drop stale notes: %s", store_errmsg(st));
	else if (dropped)
		slog(LOG_INFO,
		     "dagbag: dropped %zu stale note%s of files that never loaded (removed while "
		     "the server was down, or recorded by an older gust)",
		     dropped, dropped == 1 ? "" : "s");
	strmap_free(&live);
	for (size_t i = 0; i < n; i++)
		store_dag_free(&rows[i]);
	free(rows);
}

struct dag_entry *dagbag_get(struct dagbag *b, const char *dag_id)
{
	uint32_t idx;
	return strmap_get(&b->by_id, dag_id, &idx) ? b->entries[idx] : NULL;
}

bool dagbag_find(struct dagbag *b, const char *dag_id, size_t *ret_idx)
{
	uint32_t idx;
	if (!strmap_get(&b->by_id, dag_id, &idx))
		return false;
	*ret_idx = idx;
	return true;
}

size_t dagbag_take_changed(struct dagbag *b, size_t **ret)
{
	*ret = b->changed;
	size_t n = b->n_changed;
	for (size_t k = 0; k < n; k++)
		b->entries[b->changed[k]]->changed = false;
	b->n_changed = 0;
	return n;
}
