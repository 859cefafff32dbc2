/*
 * dagbag.h - the server's DAGs: the DAG folder, watched, each file's current good version.
 *
 * Every *.yaml / *.yml file under the folder (recursively) is loaded at start; inotify then
 * reports new, changed, moved and deleted files, which are reloaded at once: a regular file
 * once it is closed after writing or renamed in, anything else created in place (a symlink, a
 * FIFO: a bare IN_CREATE) at once. A symlink to a DAG file loads; a FIFO, a device or a link
 * to nothing is broken with that reason. A symlink's target is not watched: an edit of the
 * target is seen when the link is made again or the server restarts. Each distinct
 * content of a DAG is a version (numbered by the store); a run keeps a reference to the version
 * it started with (struct dagver), so editing a file never changes a run in progress.
 *
 * Files are parsed by the DAG processor (dagproc.h), never in the server's own process; the
 * loop applies the answers as they come back (dagbag_on_processed).
 *
 * A file that does not load is recorded with its errors and changes nothing else: the DAG's
 * last good version stays current and keeps its schedule. Two files that declare the same DAG
 * id: the second is broken ("DAG id 'x' is already defined in FILE"). A file that has not
 * loaded since the server started has its errors on a store row of its own, keyed by its path
 * (dagbag_note_key), which is marked deleted when the file loads or goes.
 */
#ifndef GUST_SERVER_DAGBAG_H
#define GUST_SERVER_DAGBAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/strmap.h"
#include "dag/dag.h"
#include "engine/schedule.h"

struct store;

/* One loaded version of a DAG, shared by the bag and the runs that use it. */
struct dagver {
	struct dag *dag;
	struct schedule *sched; /* NULL: manual only */
	int64_t version;
	int refs;
	struct dagproc *reclaim; /* set: the last unref frees it in that processor's thread */
};

struct dagver *dagver_ref(struct dagver *v);
void dagver_unref(struct dagver *v);
struct dagproc;
/* Compile `source` (a stored version) through the DAG processor, waiting for it, into a dagver
 * with one reference. NULL, and a message in *ret_msg, if it no longer loads (e.g. a newer gust
 * changed the language) or the processor failed on it. */
struct dagver *dagver_from_source(struct dagproc *proc, const char *dag_id, const char *source,
				  int64_t version, char **ret_msg);

struct dag_entry {
	char *file;
	char *dag_id;	    /* NULL while the file never loaded */
	uint64_t hash;	    /* of the content last applied (0: none) */
	uint64_t seq;	    /* of the last job submitted for it: only its answer counts */
	struct dagver *cur; /* the current good version, or NULL */
	bool broken;
	int pending;	   /* answers of the DAG processor still to come */
	int64_t timer_gen; /* bumped when the schedule changes (stale timer entries) */
	/* The store row that holds this file's problems while it has not loaded (see
	 * dagbag_note_key), NULL if none; dropped when the file loads or goes. */
	char *note_key;
	/* When dag_id was first loaded from this file: the server's start for the files of the
	 * start-up scan, else the moment the DAG appeared. Fire times before it get no run,
	 * unless the store has the DAG's last logical date (catch-up) or it has a start_date. */
	int64_t first_seen;
	bool changed; /* listed in the bag's changed array, until dagbag_take_changed */
};

struct dagbag {
	char *dir;
	struct dagproc *proc;
	uint64_t seq; /* of the last job submitted */
	/* The processor thread's own connection: it stores each compiled file's source there,
	 * in short transactions, so that the loop's store_dag_loaded writes only a few rows. */
	struct store *source_st;
	int64_t swept_at; /* the thread's last store_dag_sources_sweep */
	int inotify_fd;
	struct dag_entry **entries;
	size_t n, cap;
	struct strmap by_file; /* file -> index */
	struct strmap by_id;   /* dag_id -> index */
	/* inotify watch descriptor -> folder path */
	struct dag_watch {
		int wd;
		char *dir;
	} * watches;
	size_t n_watches, cap_watches;
	/* entries whose schedule changed since the last dagbag_take_changed() */
	size_t *changed;
	size_t n_changed, cap_changed;
};

/* Start watching `dir` (it must exist), parsing through `proc`, whose thread stores sources in
 * the store at `db` (opened here with the durability recorded there). 0 or a negative errno,
 * with a message in *ret_msg for a store that does not open. */
int dagbag_open(struct dagbag *b, const char *dir, struct dagproc *proc, const char *db,
		char **ret_msg);
void dagbag_close(struct dagbag *b);
/* Send every file to the DAG processor (at start; then dagbag_on_processed with wait_all). */
void dagbag_scan(struct dagbag *b, struct store *st, int64_t now);
/* Handle pending inotify events (call when inotify_fd is readable). */
void dagbag_on_events(struct dagbag *b, struct store *st, int64_t now);
/* Apply the processor's answers (call when dagproc_fd is readable); with wait_all, until none
 * is pending. Problems are logged and recorded in the store. */
void dagbag_on_processed(struct dagbag *b, struct store *st, int64_t now, bool wait_all);
struct dag_entry *dagbag_get(struct dagbag *b, const char *dag_id);
/* The index of DAG dag_id's entry (what timers hold), false if the bag has no such DAG. */
bool dagbag_find(struct dagbag *b, const char *dag_id, size_t *ret_idx);
/* Indexes of entries whose current version changed (loaded, replaced or removed). */
size_t dagbag_take_changed(struct dagbag *b, size_t **ret);
/* Once the start-up scan is applied: mark deleted the store's rows of files that never loaded
 * and are no longer broken in the folder (removed while the server was down, or recorded
 * under a stem by an older gust), so that `gust dags list` drops their notes. */
void dagbag_forget_stale_notes(struct dagbag *b, struct store *st, int64_t now);
/* The store key of a file that has not loaded, `./` and its path in the DAG folder
 * ("./team/x.yaml"): it has a '/', which no DAG id has, so it can never be a DAG's row.
 * malloc'd. */
char *dagbag_note_key(const struct dagbag *b, const char *file);

#endif
