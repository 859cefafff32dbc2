/*
 * store.h - everything gust remembers, behind one interface: DAGs and their versions, runs,
 * task instances, attempts, the commands the CLI leaves for the server, pools, and the
 * identities of the HTTP API (users, sessions, tokens, the audit log).
 *
 * The store is the only module that knows SQL. Two backends will implement it: SQLite (the
 * embedded default, store_sqlite.c) and later PostgreSQL; nothing above this header may assume
 * either. Rules every backend keeps:
 *
 *   - Every function is one transaction unless it takes a `struct store_tx`. A caller that must
 *     change several things atomically (one engine step: a run's TIs, the attempts it starts)
 *     opens a transaction with store_begin(), passes it, and commits once: the write-ahead rule
 *     "a change is committed before its effect" is the caller's, batching is the store's.
 *   - A transaction belongs to its store handle, which has at most one open at a time
 *     (store_begin while one is open: -EINVAL). A function given tx == NULL runs in its own
 *     transaction, except while a transaction is open on the same handle: then it joins that
 *     one (so does every function without a tx parameter), since a connection cannot hold two.
 *     A function that fails inside a caller's transaction leaves no partial change in it (a
 *     savepoint), and the transaction stays usable. Passing a tx that is not open on `s`: -EINVAL.
 *   - Functions return 0 or a negative errno: -ENOENT (no such row, or a row it refers to is
 *     missing: a run of an unknown DAG, a TI or attempt of an unknown run), -EEXIST (unique key
 *     taken), -EINVAL (a value the schema refuses: a required field NULL, an unknown run state
 *     or kind), -EBUSY (locked longer than the busy timeout), -EIO (anything else).
 *     store_errmsg() says what, with context. Output parameters come last as ret_... and are
 *     untouched on failure, except the row of a *_get() or *_find(): it is zeroed first, so
 *     that freeing it after a failed get is always safe.
 *   - Memory: every string returned is malloc'd. A row filled by a *_get() and each row of a
 *     *_list() array is released with the matching *_free(), which frees the row's fields (and
 *     NULLs them) but not the struct itself: the caller frees a list's array with free() after
 *     freeing each row. An empty list is *ret = NULL, *ret_n = 0.
 *   - Times are int64 milliseconds since the Unix epoch (UTC). JSON travels as text.
 *   - A database written by a newer gust (a higher schema version) is refused at open with a
 *     message naming both versions; migrations are forward-only and run at open.
 *
 * Concurrency: one server and any number of CLI processes may open the same store. The CLI
 * never changes run or task state directly while a server may run: it writes a command
 * (store_command_add) that the server applies; store_changed() lets the server notice other
 * writers cheaply (SQLite: PRAGMA data_version).
 */
#ifndef GUST_STORE_STORE_H
#define GUST_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dag/dag_load.h"

struct store;
struct store_tx;

/* ---- opening ------------------------------------------------------------------------------ */

/*
 * Durability: when a commit is safe (config.yaml `durability:`, docs/server.md "Durability").
 *
 *   NORMAL  a commit survives a crash of any process (kill -9 of the server or the CLI) as
 *           soon as it returns; a power loss or a crash of the operating system may lose the
 *           last commits (always the newest ones, never one in the middle), never corrupt the
 *           store. SQLite: synchronous=NORMAL in WAL mode (the log is synced at checkpoints).
 *   FULL    a commit is on the disk when it returns, so it survives a power loss too.
 *           SQLite: synchronous=FULL (the log is synced at every commit: one fsync each).
 *
 * It is a setting of each handle, and every process that writes should use the same one: the
 * server chooses (store_open_with and its config's value), which records it in the store; every
 * handle opened later with STORE_DURABILITY_RECORDED (store_open: the CLI's) uses the recorded
 * one, NORMAL when none was recorded.
 */
enum store_durability {
	STORE_DURABILITY_RECORDED, /* opening only: the one recorded in the store */
	STORE_DURABILITY_NORMAL,
	STORE_DURABILITY_FULL,
};
/* "recorded", "normal", "full". */
const char *store_durability_name(enum store_durability d);
/* "normal" or "full": 0 and *ret; anything else (NULL too): -EINVAL. */
int store_durability_parse(const char *name, enum store_durability *ret);

struct store_options {
	/* RECORDED (0): the store's recorded durability. NORMAL or FULL: this one, recorded in
	 * the store (kv key "store.durability") for the handles opened after. */
	enum store_durability durability;
};

/*
 * Open (creating if needed) the store at `url`: a SQLite file path for now (":memory:" for a
 * private in-memory store). The folder must exist (-ENOENT otherwise: the caller creates
 * GUST_HOME). Applies pending migrations in one transaction, then the durability of `opts`
 * (NULL: all defaults). A database with a higher schema version than this binary knows is
 * refused with -EPROTO. On failure returns a negative errno and a malloc'd sentence in
 * *ret_msg (if ret_msg is not NULL).
 *
 * SQLite: WAL journal, synchronous as above, foreign keys on, a busy timeout of 5 s. A handle
 * is used by one thread at a time; other processes open their own.
 */
int store_open_with(const char *url, const struct store_options *opts, struct store **ret,
		    char **ret_msg);
/* store_open_with(url, NULL, ...): the recorded durability. */
int store_open(const char *url, struct store **ret, char **ret_msg);
/* The durability in force on this handle, read back from the backend (SQLite: PRAGMA
 * synchronous, 1 NORMAL, 2 FULL; any other value: -EIO). */
int store_durability(struct store *s, enum store_durability *ret);
/* Rolls back an open transaction. NULL is allowed. */
void store_close(struct store *s);
/* The last error's text (valid until the next call on this store). */
const char *store_errmsg(struct store *s);
int store_schema_version(struct store *s);
/* How long a write waits for another process's lock before failing with -EBUSY (default
 * 5000 ms; 0 fails at once). */
void store_set_busy_timeout(struct store *s, int ms);

/* Checkpoint the write-ahead log from a thread of the store's own, with its own connection,
 * instead of inside the commit that makes the log long: this handle's commits then never copy
 * pages into the database file nor sync it (the server's loop must not wait for that). No-op
 * in memory. 0 or a negative errno. Stopped by store_close. */
int store_checkpoint_apart(struct store *s);

/* Open a write transaction (SQLite: BEGIN IMMEDIATE, waiting up to the busy timeout for the
 * lock, -EBUSY after it). *ret lives inside `s`: it is valid until commit or rollback. */
int store_begin(struct store *s, struct store_tx **ret);
/* Commit; the transaction is over whether it succeeded or not (on failure nothing in it was
 * committed). */
int store_commit(struct store_tx *tx);
/* Roll back (NULL or an already ended tx: nothing happens). */
void store_rollback(struct store_tx *tx);

/* True when another connection committed a change since the last call (the handle's own
 * commits do not count; true also when the check itself fails, so the caller re-reads). */
bool store_changed(struct store *s);

/* ---- DAGs ------------------------------------------------------------------------------- */

struct store_dag {
	char *dag_id;
	char *file;	 /* the file it was loaded from */
	int64_t version; /* current good version, 0 if it never loaded */
	char *hash;	 /* content hash of that version */
	char *schedule;	 /* NULL: manual only */
	char *error;	 /* the current file's problems (diagnostic lines), NULL if it loads */
	bool paused;
	bool deleted; /* the file is gone; history is kept */
	int64_t updated_at;
	int64_t last_logical; /* logical date of the newest scheduled run, 0 if none */
};
void store_dag_free(struct store_dag *d);

/*
 * Record that `file` holds a good DAG with this content: inserts a new version when `hash` is
 * new for the DAG (returning its number), and makes it current; clears any error and the
 * deleted mark. Content seen before (a revert) makes its old version current again. dag_id,
 * hash and source are required.
 */
int store_dag_loaded(struct store *s, struct store_tx *tx, const char *dag_id, const char *file,
		     const char *hash, const char *source, const char *schedule, int64_t now,
		     int64_t *ret_version);
/* The most bytes of a DAG's source written in one transaction (store_dag_source_put). */
#define STORE_SOURCE_PART (256u * 1024)
/*
 * Store the source of a new version ahead of store_dag_loaded, from a connection other than the
 * one that will record it (the server's DAG processor thread): in parts of STORE_SOURCE_PART
 * bytes, each a transaction of its own, so that the write lock is never held long, however
 * large the file. Nothing changes for readers until store_dag_loaded makes a version of it;
 * store_dag_loaded writes the source itself (in its transaction) when it is not stored whole.
 * No transaction may be open on `s`. Nothing is done if the source is stored already.
 */
int store_dag_source_put(struct store *s, const char *dag_id, const char *hash, const char *source,
			 size_t len, int64_t now);
/* Remove stored sources that no version uses and that were written before `before` (left by a
 * DAG id that turned out to be taken, or by a crash between put and loaded). */
int store_dag_sources_sweep(struct store *s, int64_t before, int *ret_n);
/* Record that `file` (for `dag_id` if known) is broken: the last good version stays current.
 * With dag_id, the DAG's row is created if new (version 0) and its file set to `file`. Without
 * it, the DAG(s) last recorded from `file` get the error; -ENOENT if none (pass the default id,
 * the file name without .yaml, to record a DAG that never loaded). */
int store_dag_broken(struct store *s, struct store_tx *tx, const char *dag_id, const char *file,
		     const char *error, int64_t now);
int store_dag_deleted(struct store *s, struct store_tx *tx, const char *dag_id, int64_t now);
int store_dag_set_paused(struct store *s, const char *dag_id, bool paused);
int store_dag_get(struct store *s, const char *dag_id, struct store_dag *ret);
/* Every DAG, by id; *ret is an array of *ret_n rows (free each, then the array). */
int store_dag_list(struct store *s, struct store_dag **ret, size_t *ret_n);
/* The source text of a version (malloc'd). */
int store_dag_version_source(struct store *s, const char *dag_id, int64_t version, char **ret);
/* The versions of a DAG, newest first (an unknown DAG has none). */
struct store_dag_version {
	int64_t version;
	char *hash;
	int64_t created_at;
};
int store_dag_version_list(struct store *s, const char *dag_id, struct store_dag_version **ret,
			   size_t *ret_n);
void store_dag_version_list_free(struct store_dag_version *v, size_t n);
int store_dag_set_last_logical(struct store *s, struct store_tx *tx, const char *dag_id,
			       int64_t logical);

/* ---- runs ------------------------------------------------------------------------------- */

enum store_run_kind { STORE_RUN_SCHEDULED, STORE_RUN_MANUAL };

struct store_run {
	char *run_id;
	char *dag_id;
	int64_t version;
	enum store_run_kind kind;
	int64_t logical_date;
	char *state;   /* queued, running, success, failed, cancelled */
	char *params;  /* JSON object */
	char *message; /* NULL or why it ended so */
	int64_t created_at, started_at, ended_at;
	char *note; /* NULL or what whoever triggered it said of it */
};
void store_run_free(struct store_run *r);

/* Insert a run in state `queued` (r->state, started_at and ended_at are ignored; params NULL
 * is stored as "{}"). -EEXIST for a run_id taken; a scheduled run is unique per (dag_id,
 * logical_date): -EEXIST if it was already created (so a restart never creates it twice).
 * -ENOENT if the DAG is not in the store. */
int store_run_create(struct store *s, struct store_tx *tx, const struct store_run *r);
/* Set state and message (NULL clears it). started_at becomes `now` the first time the run is
 * running; ended_at becomes `now` in a finished state (success, failed, cancelled) and 0 in the
 * others. -EINVAL for an unknown state. */
int store_run_set_state(struct store *s, struct store_tx *tx, const char *run_id, const char *state,
			const char *message, int64_t now);
int store_run_get(struct store *s, const char *run_id, struct store_run *ret);

struct store_run_filter {
	const char *dag_id; /* NULL: any */
	const char *state;  /* NULL: any; "active" means queued or running */
	size_t limit;	    /* 0: no limit */
	bool oldest_first;  /* default newest first (by created_at, then run_id) */
	/* Keyset paging: only the runs after this one in that order (NULL: from the first). */
	const char *after_run_id;
	int64_t after_created_at;
};
int store_run_list(struct store *s, const struct store_run_filter *f, struct store_run **ret,
		   size_t *ret_n);

/* ---- task instances ---------------------------------------------------------------------- */

struct store_ti {
	char *run_id;
	char *task_id;
	int32_t map_index; /* -1 when not mapped */
	char *state;
	int32_t try_number;
	int64_t queued_at, started_at, ended_at, retry_at;
	int exit_code; /* -1 none */
	int signal;    /* 0 none */
	char *message;
	char *output; /* JSON or NULL */
	char *item;   /* JSON or NULL */
	int progress_done, progress_total;
	char *progress_msg;
	/* What admission control knows of it (copied from the DAG's task when written). */
	char *pool;	    /* NULL when writing: "default_pool" */
	int32_t pool_slots; /* 0 when writing: 1 */
	int64_t weight;	    /* priority after the weight rule */
	int64_t cpu_milli;  /* declared resources; 0: none */
	int64_t memory, disk;
	char *disk_path; /* NULL: none */
};
void store_ti_free(struct store_ti *t);

/* Insert or update TIs (key: run_id, task_id, map_index), all in `tx` (or all in one
 * transaction of their own). state is required; -ENOENT if the run does not exist. */
int store_ti_upsert(struct store *s, struct store_tx *tx, const struct store_ti *tis, size_t n);
/* TIs of a run, ordered by task_id then map_index. */
int store_ti_list(struct store *s, const char *run_id, struct store_ti **ret, size_t *ret_n);
int store_ti_get(struct store *s, const char *run_id, const char *task_id, int32_t map_index,
		 struct store_ti *ret);
/* TIs of every run that are queued or running (those holding slots and resources), and with
 * `with_scheduled` also the scheduled ones; `pool` NULL: any pool. Ordered by pool, run_id,
 * task_id, map_index. */
int store_ti_list_active(struct store *s, const char *pool, bool with_scheduled,
			 struct store_ti **ret, size_t *ret_n);

/* ---- attempts ----------------------------------------------------------------------------- */

struct store_attempt {
	int64_t id; /* assigned by store_attempt_add */
	char *run_id;
	char *task_id;
	int32_t map_index;
	int32_t try_number;
	int32_t launch; /* 1; 2.. when a try was relaunched because its first launch never
			   started (the server died between recording and starting it) */
	char *dir;	/* the attempt folder */
	int64_t queued_at;
	int64_t ended_at; /* 0 while it may be live */
	char *status;	  /* NULL while live; else the outcome status (or "not_started") */
};
void store_attempt_free(struct store_attempt *a);

/* Record an attempt before its supervisor is started (write-ahead); sets *ret_id. -EEXIST if
 * this (run, task, map_index, try_number, launch) was already recorded; launch 0 means 1. */
int store_attempt_add(struct store *s, struct store_tx *tx, const struct store_attempt *a,
		      int64_t *ret_id);
/* -ENOENT for an unknown id. */
int store_attempt_end(struct store *s, struct store_tx *tx, int64_t id, const char *status,
		      int64_t ended_at);
/* Attempts not yet ended (any run), oldest first: what a restarted server must account for. */
int store_attempt_list_live(struct store *s, struct store_attempt **ret, size_t *ret_n);
/* Attempts of one task instance (map_index -1 when not mapped), by try then launch. */
int store_attempt_list(struct store *s, const char *run_id, const char *task_id, int32_t map_index,
		       struct store_attempt **ret, size_t *ret_n);

/* ---- commands from the CLI to a running server ------------------------------------------- */

struct store_command {
	int64_t id;
	char *kind; /* trigger, cancel, clear, pause, unpause */
	char *args; /* JSON object */
	int64_t created_at;
};
void store_command_free(struct store_command *c);

/* args_json NULL is stored as "{}". */
int store_command_add(struct store *s, const char *kind, const char *args_json, int64_t now,
		      int64_t *ret_id);
/* Commands not yet done, oldest first (by id). */
int store_command_pending(struct store *s, struct store_command **ret, size_t *ret_n);
/* Mark a command done with its result (JSON or NULL); -ENOENT for an unknown id. The time it
 * was done is the store's own wall clock (it is bookkeeping, shown nowhere). */
int store_command_done(struct store *s, struct store_tx *tx, int64_t id, const char *result);
/* For the CLI waiting on the server: 0 and the result (malloc'd, NULL if none) once the command
 * is done, -EAGAIN while it is pending, -ENOENT for an unknown id. */
int store_command_result(struct store *s, int64_t id, char **ret_result);

/* ---- pools -------------------------------------------------------------------------------- */

/*
 * A pool is a named number of slots; a task takes pool_slots of its pool while it is queued or
 * running. `default_pool` (128 slots) exists in every store (the migration that added pools
 * created it) and cannot be deleted. Names: 1 to 100 letters, digits, '_', '-', '.', not
 * starting with '-' or '.' (-EINVAL otherwise); slots 0..1,000,000 (0 holds every task of the pool
 * back).
 */
#define STORE_DEFAULT_POOL "default_pool"
#define STORE_POOL_NAME_MAX DAG_POOL_NAME_MAX
#define STORE_POOL_SLOTS_MAX 1000000

/* The rule above (the DAG loader's, dag/dag_load.h), for callers that check a name before they
 * get this far (CLI, config). */
static inline bool store_pool_name_valid(const char *name)
{
	return dag_pool_name_valid(name);
}

struct store_pool {
	char *name;
	int32_t slots;
	char *description; /* NULL: none */
	bool from_config;  /* written from config.yaml by the server */
	int64_t updated_at;
	/* From the task instances (by both get and list): */
	int64_t used;	 /* slots held by queued and running TIs */
	int64_t running; /* TIs queued or running */
	int64_t waiting; /* TIs scheduled (ready, waiting to be admitted) */
};
void store_pool_free(struct store_pool *p);

/* Create or update; description NULL keeps the current one (none for a new pool), "" clears
 * it. -EINVAL for a bad name or slots. */
int store_pool_set(struct store *s, struct store_tx *tx, const char *name, int32_t slots,
		   const char *description, bool from_config, int64_t now);
/* -ENOENT unknown; -EPERM for default_pool. TIs naming a deleted pool wait until it exists. */
int store_pool_delete(struct store *s, const char *name);
int store_pool_get(struct store *s, const char *name, struct store_pool *ret);
/* Every pool by name, with usage; a pool that TIs name but that does not exist is listed too,
 * with slots -1. */
int store_pool_list(struct store *s, struct store_pool **ret, size_t *ret_n);

/* ---- identities: users, sessions, API tokens, the audit log ----------------------------- */

/*
 * What the HTTP API authenticates against (docs/users.md); ops/identity.h decides who may do
 * what, the store only keeps it. Secrets are never stored: a password as its argon2id string,
 * a session id and a token as the BLAKE2b-256 hex of their text (auth/core.h). Roles are
 * stored by name ("viewer" ... "admin", auth/role.h); the schema refuses any other.
 */
struct store_user {
	char *name;
	char *role;
	char *password_hash;
	int64_t created_at, updated_at, password_changed_at;
};
void store_user_free(struct store_user *u);

/* -EEXIST for a name taken; -EINVAL for an unknown role or a missing field. */
int store_user_add(struct store *s, struct store_tx *tx, const struct store_user *u);
/* -ENOENT for an unknown name. */
int store_user_get(struct store *s, const char *name, struct store_user *ret);
/* Every user by name. */
int store_user_list(struct store *s, struct store_user **ret, size_t *ret_n);
/* How many users have `role` (NULL: how many users there are). */
int store_user_count(struct store *s, const char *role, int64_t *ret);
/* A new password hash (password_changed_at = updated_at = now). With `end_sessions`, the
 * user's sessions are deleted in the same transaction. -ENOENT for an unknown name. */
int store_user_set_password(struct store *s, struct store_tx *tx, const char *name,
			    const char *hash, bool end_sessions, int64_t now);
/* The same password hashed again (a new cost): password_hash = hash only while it is still
 * `old_hash` (a password changed meanwhile wins); nothing else changes. 0 either way. */
int store_user_rehash(struct store *s, const char *name, const char *old_hash, const char *hash);
/* -ENOENT for an unknown name, -EINVAL for an unknown role. */
int store_user_set_role(struct store *s, struct store_tx *tx, const char *name, const char *role,
			int64_t now);
/* Delete the user, its sessions, and revoke (revoked_at = now) its tokens not yet revoked, in
 * one transaction; the number of tokens revoked in *ret_revoked (may be NULL). -ENOENT. */
int store_user_delete(struct store *s, struct store_tx *tx, const char *name, int64_t now,
		      int64_t *ret_revoked);

struct store_session {
	char *hash; /* BLAKE2b-256 hex of the session id */
	char *user;
	int64_t created_at;
	int64_t expires_at; /* the session ends then (the earlier of its idle and absolute ends) */
	int64_t last_seen_at;
	char *remote_addr; /* NULL: unknown */
};
void store_session_free(struct store_session *x);

/* -EEXIST for a hash taken, -ENOENT for an unknown user. */
int store_session_add(struct store *s, struct store_tx *tx, const struct store_session *x);
/* -ENOENT for an unknown hash (expired ones are returned: the caller compares the time). */
int store_session_get(struct store *s, const char *hash, struct store_session *ret);
/* Set last_seen_at and expires_at. -ENOENT for an unknown hash. */
int store_session_touch(struct store *s, const char *hash, int64_t last_seen_at,
			int64_t expires_at);
/* -ENOENT for an unknown hash. */
int store_session_delete(struct store *s, const char *hash);
/* Delete up to `batch` sessions whose expires_at <= now: the number deleted, or -errno. */
int store_session_sweep(struct store *s, int64_t now, size_t batch);

struct store_token {
	int64_t id;    /* assigned by store_token_add */
	char *hash;    /* BLAKE2b-256 hex of the token */
	char *display; /* gust_ + 8 characters: safe to show */
	char *name;    /* the label given at creation */
	char *user;    /* whose rights it carries */
	char *created_by;
	int64_t created_at;
	int64_t expires_at;   /* 0: never */
	int64_t last_used_at; /* 0: never used */
	int64_t revoked_at;   /* 0: not revoked */
};
void store_token_free(struct store_token *t);

/* Sets *ret_id. -EEXIST for a hash taken. */
int store_token_add(struct store *s, struct store_tx *tx, const struct store_token *t,
		    int64_t *ret_id);
/* -ENOENT for an unknown id. */
int store_token_get(struct store *s, int64_t id, struct store_token *ret);
/* The token whose hash is `hash`: -ENOENT when none. */
int store_token_find(struct store *s, const char *hash, struct store_token *ret);
/* The tokens of `user` (NULL: everyone's), by id. */
int store_token_list(struct store *s, const char *user, struct store_token **ret, size_t *ret_n);
/* revoked_at = now unless already revoked. -ENOENT for an unknown id, -EALREADY when it was
 * revoked before (nothing changes). */
int store_token_revoke(struct store *s, struct store_tx *tx, int64_t id, int64_t now);
/* last_used_at = now. -ENOENT for an unknown id. */
int store_token_touch(struct store *s, int64_t id, int64_t now);

struct store_audit {
	int64_t id; /* assigned by store_audit_add; only grows */
	int64_t at;
	char *actor;	   /* a user name, or "local:UNIXNAME" for the machine's operator */
	char *via;	   /* "cli", "api" or "server" */
	char *remote_addr; /* NULL: not over the network */
	char *action;	   /* "user.add", "login.failed", ... (docs/users.md) */
	char *target;	   /* what it acted on, NULL if nothing */
	char *detail;	   /* a JSON object as text; NULL is stored as "{}" */
};
void store_audit_free(struct store_audit *a);

/* -EINVAL for an unknown `via` or a missing field. */
int store_audit_add(struct store *s, struct store_tx *tx, const struct store_audit *a,
		    int64_t *ret_id);

struct store_audit_filter {
	int64_t after_id;   /* > 0: entries after it, oldest first */
	int64_t before_id;  /* > 0 (and no after_id): entries before it, newest first */
	const char *actor;  /* NULL: anyone */
	const char *action; /* NULL: any */
	size_t limit;	    /* 0: no limit */
};
/* Entries newest first (oldest first with after_id), filtered. */
int store_audit_list(struct store *s, const struct store_audit_filter *f, struct store_audit **ret,
		     size_t *ret_n);

/* ---- variables and connections ------------------------------------------------------------ */

/*
 * Stored as given: the operations layer (ops/vars.h) validates names, encrypts a secret
 * variable's value and every connection URI ("v1:...", auth/secretbox.h) and decrypts what it
 * reads, so the store never sees a secret in clear. Every set or delete also bumps a counter
 * (store_vars_version) in the same transaction, so that a cache (the server's snapshot)
 * notices a change made by any process with one read.
 */
struct store_var {
	char *key;
	char *value; /* "v1:..." when secret */
	bool secret;
	char *description; /* NULL: none */
	int64_t updated_at;
	char *updated_by; /* who: "cli:USER", "api:USER"; NULL unknown */
};
void store_var_free(struct store_var *v);
/* Create or replace; description NULL keeps the current one, "" clears it. */
int store_var_set(struct store *s, struct store_tx *tx, const struct store_var *v);
/* -ENOENT unknown. */
int store_var_get(struct store *s, const char *key, struct store_var *ret);
/* By key. */
int store_var_list(struct store *s, struct store_var **ret, size_t *ret_n);
/* -ENOENT unknown. */
int store_var_delete(struct store *s, struct store_tx *tx, const char *key);

struct store_conn {
	char *name;
	char *uri;   /* always "v1:..." */
	char *extra; /* a JSON object as text, or NULL */
	char *description;
	int64_t updated_at;
	char *updated_by;
};
void store_conn_free(struct store_conn *c);
int store_conn_set(struct store *s, struct store_tx *tx, const struct store_conn *c);
int store_conn_get(struct store *s, const char *name, struct store_conn *ret);
int store_conn_list(struct store *s, struct store_conn **ret, size_t *ret_n);
int store_conn_delete(struct store *s, struct store_tx *tx, const char *name);

/* A number that changes whenever a variable or connection is set or deleted (0 before any). */
int store_vars_version(struct store *s, int64_t *ret);

/* ---- key-value settings (server state such as the clock offset) ------------------------- */

/* Keys starting with "store." are the store's own (store.durability). */

/* value NULL deletes the key. */
int store_kv_set(struct store *s, struct store_tx *tx, const char *key, const char *value);
/* -ENOENT when unset; *ret malloc'd. */
int store_kv_get(struct store *s, const char *key, char **ret);

/* ---- retention --------------------------------------------------------------------------- */

/* Delete up to `batch` finished runs (success, failed, cancelled) that ended before `before`,
 * oldest first, with their TIs and attempts, in one transaction; their attempt folders are
 * returned in *ret_dirs (malloc'd array of malloc'd strings, NULL when empty; either ret may be
 * NULL) for the caller to remove after this returns. Also deletes up to `batch` done commands
 * created before `before`. Returns the number of runs deleted (0 when none are left), or a
 * negative errno (then nothing was deleted). */
int store_cleanup(struct store *s, int64_t before, size_t batch, char ***ret_dirs,
		  size_t *ret_n_dirs);

#endif
