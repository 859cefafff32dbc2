/*
 * store_sqlite.c - the store (store.h) on SQLite.
 *
 * One struct store is one SQLite connection in WAL mode (readers never wait for the writer, and
 * a commit is one append to the log: synchronous=NORMAL makes it durable against a crash of the
 * process, and against a power loss up to the last checkpoint; synchronous=FULL, durability
 * full, syncs the log at every commit). Every SQL statement is written
 * once, in the STATEMENTS table below, prepared on first use and kept for the life of the
 * handle; after each use it is reset at once, so that no statement keeps a read snapshot open.
 *
 * Transactions: a connection has at most one. store_begin() opens it with BEGIN IMMEDIATE (the
 * write lock is taken at the start, so a transaction never fails half-way for want of it) and
 * hands back a struct store_tx that lives inside the struct store. A function given tx == NULL
 * runs on its own: one statement in autocommit, or several between BEGIN IMMEDIATE and COMMIT;
 * when a transaction is open on the handle it joins it instead (SQLite cannot do otherwise),
 * and a function of several statements then runs under a SAVEPOINT so that it fails whole.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/buf.h"
#include "base/util.h"
#include "store/schema.h"
#include "store/store.h"

#define BUSY_TIMEOUT_MS 5000

#define DAG_COLS                                                                                   \
	"dag_id, file, version, hash, schedule, error, paused, deleted, updated_at, last_logical"
#define RUN_COLS                                                                                   \
	"run_id, dag_id, version, kind, logical_date, state, params, message, created_at, "        \
	"started_at, ended_at, note"
#define TI_COLS                                                                                    \
	"run_id, task_id, map_index, state, try_number, queued_at, started_at, ended_at, "         \
	"retry_at, exit_code, signal, message, output, item, progress_done, progress_total, "      \
	"progress_msg, pool, pool_slots, weight, cpu_milli, memory, disk, disk_path"
#define ATTEMPT_COLS                                                                               \
	"id, run_id, task_id, map_index, try_number, launch, dir, queued_at, ended_at, status"
#define FINISHED "('success', 'failed', 'cancelled')"
/* TI states that hold slots (queued, running) or wait for them (scheduled); written exactly as
 * in the partial index task_instances_active, so that SQLite uses it. */
#define ACTIVE "('scheduled', 'queued', 'running')"
#define POOL_COLS "name, slots, description, from_config, updated_at"
#define USER_COLS "name, role, password_hash, created_at, updated_at, password_changed_at"
#define SESSION_COLS "hash, user, created_at, expires_at, last_seen_at, remote_addr"
#define TOKEN_COLS                                                                                 \
	"id, hash, display, name, user, created_by, created_at, expires_at, last_used_at, "        \
	"revoked_at"
#define AUDIT_COLS "id, at, actor, via, remote_addr, action, target, detail"
#define AUDIT_WHERE "(?3 IS NULL OR actor = ?3) AND (?4 IS NULL OR action = ?4)"

/* Each pool's usage from the TIs that hold or wait for its slots (read from the index alone). */
#define POOL_USAGE                                                                                 \
	"SELECT pool, sum(CASE WHEN state = 'scheduled' THEN 0 ELSE pool_slots END) AS used, "     \
	"sum(state <> 'scheduled') AS running, sum(state = 'scheduled') AS waiting "               \
	"FROM task_instances WHERE state IN " ACTIVE

/* Every statement the backend runs, but the run listings (built per filter, see run_list_sql). */
#define STATEMENTS(X)                                                                              \
	X(BEGIN, "BEGIN IMMEDIATE")                                                                \
	X(COMMIT, "COMMIT")                                                                        \
	X(ROLLBACK, "ROLLBACK")                                                                    \
	X(SAVEPOINT, "SAVEPOINT gust_op")                                                          \
	X(RELEASE, "RELEASE gust_op")                                                              \
	X(ROLLBACK_TO, "ROLLBACK TO gust_op")                                                      \
	X(DATA_VERSION, "PRAGMA data_version")                                                     \
	X(DAG_ENSURE, "INSERT INTO dags (dag_id, file, updated_at) VALUES (?1, ?2, ?3) "           \
		      "ON CONFLICT (dag_id) DO NOTHING")                                           \
	X(DAG_VERSION_BY_HASH, "SELECT version FROM dag_versions WHERE dag_id = ?1 AND hash = ?2") \
	X(DAG_VERSION_ADD, "INSERT INTO dag_versions (dag_id, version, hash, created_at) "         \
			   "SELECT ?1, coalesce(max(version), 0) + 1, ?2, ?3 FROM dag_versions "   \
			   "WHERE dag_id = ?1 RETURNING version")                                  \
	/* length() of a blob is read from the record header: no overflow page is loaded. */       \
	X(DAG_SOURCE_STORED, "SELECT count(*), coalesce(sum(length(data)), 0) FROM dag_sources "   \
			     "WHERE dag_id = ?1 AND hash = ?2")                                    \
	X(DAG_SOURCE_CLEAR, "DELETE FROM dag_sources WHERE dag_id = ?1 AND hash = ?2")             \
	X(DAG_SOURCE_PART, "INSERT OR REPLACE INTO dag_sources (dag_id, hash, part, data, "        \
			   "created_at) VALUES (?1, ?2, ?3, ?4, ?5)")                              \
	X(DAG_SOURCE_SWEEP,                                                                        \
	  "DELETE FROM dag_sources WHERE rowid IN (SELECT rowid FROM dag_sources WHERE "           \
	  "created_at < ?1 AND NOT EXISTS (SELECT 1 FROM dag_versions v WHERE v.dag_id = "         \
	  "dag_sources.dag_id AND v.hash = dag_sources.hash) LIMIT 16)")                           \
	X(DAG_SET_CURRENT, "UPDATE dags SET file = ?2, version = ?3, hash = ?4, schedule = ?5, "   \
			   "error = NULL, deleted = 0, updated_at = ?6 WHERE dag_id = ?1")         \
	X(DAG_BROKEN,                                                                              \
	  "INSERT INTO dags (dag_id, file, error, updated_at) VALUES (?1, ?2, ?3, ?4) "            \
	  "ON CONFLICT (dag_id) DO UPDATE SET file = excluded.file, "                              \
	  "error = excluded.error, deleted = 0, updated_at = excluded.updated_at")                 \
	X(DAG_BROKEN_BY_FILE,                                                                      \
	  "UPDATE dags SET error = ?2, deleted = 0, updated_at = ?3 WHERE file = ?1")              \
	X(DAG_DELETED, "UPDATE dags SET deleted = 1, updated_at = ?2 WHERE dag_id = ?1")           \
	X(DAG_PAUSED, "UPDATE dags SET paused = ?2 WHERE dag_id = ?1")                             \
	X(DAG_GET, "SELECT " DAG_COLS " FROM dags WHERE dag_id = ?1")                              \
	X(DAG_LIST, "SELECT " DAG_COLS " FROM dags ORDER BY dag_id")                               \
	X(DAG_SOURCE, "SELECT s.data FROM dag_versions v JOIN dag_sources s "                      \
		      "ON s.dag_id = v.dag_id AND s.hash = v.hash "                                \
		      "WHERE v.dag_id = ?1 AND v.version = ?2 ORDER BY s.part")                    \
	X(DAG_VERSIONS, "SELECT version, hash, created_at FROM dag_versions WHERE dag_id = ?1 "    \
			"ORDER BY version DESC")                                                   \
	X(DAG_LAST_LOGICAL, "UPDATE dags SET last_logical = ?2 WHERE dag_id = ?1")                 \
	X(RUN_CREATE, "INSERT INTO runs (" RUN_COLS ") "                                           \
		      "VALUES (?1, ?2, ?3, ?4, ?5, 'queued', coalesce(?6, '{}'), ?7, ?8, 0, 0, ?9)")   \
	X(RUN_SET_STATE,                                                                           \
	  "UPDATE runs SET state = ?2, message = ?3, "                                             \
	  "started_at = CASE WHEN ?2 = 'running' AND started_at = 0 THEN ?4 ELSE started_at END, " \
	  "ended_at = CASE WHEN ?2 IN " FINISHED " THEN ?4 ELSE 0 END WHERE run_id = ?1")          \
	X(RUN_GET, "SELECT " RUN_COLS " FROM runs WHERE run_id = ?1")                              \
	X(TI_UPSERT,                                                                               \
	  "INSERT INTO task_instances (" TI_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "  \
	  "?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24) "            \
	  "ON CONFLICT (run_id, task_id, map_index) "                                              \
	  "DO UPDATE SET state = excluded.state, try_number = excluded.try_number, "               \
	  "queued_at = excluded.queued_at, started_at = excluded.started_at, "                     \
	  "ended_at = excluded.ended_at, retry_at = excluded.retry_at, "                           \
	  "exit_code = excluded.exit_code, signal = excluded.signal, message = excluded.message, " \
	  "output = excluded.output, item = excluded.item, "                                       \
	  "progress_done = excluded.progress_done, progress_total = excluded.progress_total, "     \
	  "progress_msg = excluded.progress_msg, pool = excluded.pool, "                           \
	  "pool_slots = excluded.pool_slots, weight = excluded.weight, "                           \
	  "cpu_milli = excluded.cpu_milli, memory = excluded.memory, disk = excluded.disk, "       \
	  "disk_path = excluded.disk_path")                                                        \
	X(TI_LIST, "SELECT " TI_COLS " FROM task_instances WHERE run_id = ?1 "                     \
		   "ORDER BY task_id, map_index")                                                  \
	X(TI_GET, "SELECT " TI_COLS " FROM task_instances "                                        \
		  "WHERE run_id = ?1 AND task_id = ?2 AND map_index = ?3")                         \
	X(TI_LIST_ACTIVE, "SELECT " TI_COLS " FROM task_instances WHERE state IN " ACTIVE " "      \
			  "AND (?1 IS NULL OR pool = ?1) AND (?2 OR state <> 'scheduled') "        \
			  "ORDER BY pool, run_id, task_id, map_index")                             \
	X(ATTEMPT_ADD, "INSERT INTO attempts (run_id, task_id, map_index, try_number, launch, "    \
		       "dir, queued_at, ended_at, status) "                                        \
		       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")                              \
	X(ATTEMPT_END, "UPDATE attempts SET status = ?2, ended_at = ?3 WHERE id = ?1")             \
	X(ATTEMPT_LIVE, "SELECT " ATTEMPT_COLS " FROM attempts WHERE ended_at = 0 "                \
			"ORDER BY queued_at, id")                                                  \
	X(ATTEMPT_LIST, "SELECT " ATTEMPT_COLS " FROM attempts "                                   \
			"WHERE run_id = ?1 AND task_id = ?2 AND map_index = ?3 "                   \
			"ORDER BY try_number, launch")                                             \
	X(COMMAND_ADD, "INSERT INTO commands (kind, args, created_at) "                            \
		       "VALUES (?1, coalesce(?2, '{}'), ?3)")                                      \
	X(COMMAND_PENDING, "SELECT id, kind, args, created_at FROM commands "                      \
			   "WHERE done_at IS NULL ORDER BY id")                                    \
	X(COMMAND_DONE, "UPDATE commands SET done_at = ?2, result = ?3 WHERE id = ?1")             \
	X(COMMAND_RESULT, "SELECT done_at IS NOT NULL, result FROM commands WHERE id = ?1")        \
	X(KV_SET, "INSERT INTO kv (key, value) VALUES (?1, ?2) "                                   \
		  "ON CONFLICT (key) DO UPDATE SET value = excluded.value")                        \
	X(KV_DELETE, "DELETE FROM kv WHERE key = ?1")                                              \
	X(KV_GET, "SELECT value FROM kv WHERE key = ?1")                                           \
	X(POOL_SET,                                                                                \
	  "INSERT INTO pools (" POOL_COLS ") VALUES (?1, ?2, nullif(?3, ''), ?4, ?5) "             \
	  "ON CONFLICT (name) DO UPDATE SET slots = excluded.slots, "                              \
	  "description = CASE WHEN ?3 IS NULL THEN description ELSE excluded.description END, "    \
	  "from_config = excluded.from_config, updated_at = excluded.updated_at")                  \
	X(POOL_DELETE, "DELETE FROM pools WHERE name = ?1")                                        \
	X(POOL_GET, "WITH u AS (" POOL_USAGE " AND pool = ?1 GROUP BY pool) "                      \
		    "SELECT " POOL_COLS ", coalesce(used, 0), coalesce(running, 0), "              \
		    "coalesce(waiting, 0) FROM pools LEFT JOIN u ON u.pool = name "                \
		    "WHERE name = ?1")                                                             \
	X(POOL_LIST, "WITH u AS MATERIALIZED (" POOL_USAGE " GROUP BY pool) "                      \
		     "SELECT " POOL_COLS ", coalesce(used, 0), coalesce(running, 0), "             \
		     "coalesce(waiting, 0) FROM pools LEFT JOIN u ON u.pool = name "               \
		     "UNION ALL SELECT pool, -1, NULL, 0, 0, used, running, waiting FROM u "       \
		     "WHERE pool NOT IN (SELECT name FROM pools) ORDER BY 1")                      \
	X(USER_ADD, "INSERT INTO users (" USER_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)")           \
	X(USER_GET, "SELECT " USER_COLS " FROM users WHERE name = ?1")                             \
	X(USER_LIST, "SELECT " USER_COLS " FROM users ORDER BY name")                              \
	X(USER_COUNT, "SELECT count(*) FROM users WHERE ?1 IS NULL OR role = ?1")                  \
	X(USER_PASSWORD, "UPDATE users SET password_hash = ?2, updated_at = ?3, "                  \
			 "password_changed_at = ?3 WHERE name = ?1")                               \
	X(USER_REHASH,                                                                             \
	  "UPDATE users SET password_hash = ?3 WHERE name = ?1 AND password_hash = ?2")            \
	X(USER_ROLE, "UPDATE users SET role = ?2, updated_at = ?3 WHERE name = ?1")                \
	X(USER_DELETE, "DELETE FROM users WHERE name = ?1")                                        \
	X(USER_SESSIONS_END, "DELETE FROM sessions WHERE user = ?1")                               \
	X(USER_TOKENS_REVOKE, "UPDATE api_tokens SET revoked_at = ?2 "                             \
			      "WHERE user = ?1 AND revoked_at = 0")                                \
	X(SESSION_ADD, "INSERT INTO sessions (" SESSION_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)")  \
	X(SESSION_GET, "SELECT " SESSION_COLS " FROM sessions WHERE hash = ?1")                    \
	X(SESSION_TOUCH, "UPDATE sessions SET last_seen_at = ?2, expires_at = ?3 WHERE hash = ?1") \
	X(SESSION_DELETE, "DELETE FROM sessions WHERE hash = ?1")                                  \
	X(SESSION_SWEEP, "DELETE FROM sessions WHERE hash IN (SELECT hash FROM sessions "          \
			 "WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)")                   \
	X(TOKEN_ADD, "INSERT INTO api_tokens (hash, display, name, user, created_by, created_at, " \
		     "expires_at, last_used_at, revoked_at) "                                      \
		     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0)")                                  \
	X(TOKEN_GET, "SELECT " TOKEN_COLS " FROM api_tokens WHERE id = ?1")                        \
	X(TOKEN_FIND, "SELECT " TOKEN_COLS " FROM api_tokens WHERE hash = ?1")                     \
	X(TOKEN_LIST, "SELECT " TOKEN_COLS " FROM api_tokens WHERE ?1 IS NULL OR user = ?1 "       \
		      "ORDER BY id")                                                               \
	X(TOKEN_REVOKE, "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at = 0")  \
	X(TOKEN_TOUCH, "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1")                    \
	X(AUDIT_ADD, "INSERT INTO audit (at, actor, via, remote_addr, action, target, detail) "    \
		     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, coalesce(?7, '{}'))")                        \
	X(AUDIT_NEWEST,                                                                            \
	  "SELECT " AUDIT_COLS " FROM audit WHERE (?1 <= 0 OR id < ?1) AND " AUDIT_WHERE           \
	  " ORDER BY id DESC LIMIT ?2")                                                            \
	X(AUDIT_AFTER, "SELECT " AUDIT_COLS " FROM audit WHERE id > ?1 AND " AUDIT_WHERE           \
		       " ORDER BY id LIMIT ?2")                                                    \
	X(VAR_SET,                                                                                 \
	  "INSERT INTO variables (key, value, secret, description, updated_at, updated_by) "       \
	  "VALUES (?1, ?2, ?3, nullif(?4, ''), ?5, ?6) ON CONFLICT (key) DO UPDATE SET "           \
	  "value = excluded.value, secret = excluded.secret, description = CASE WHEN "             \
	  "?4 IS NULL THEN description ELSE excluded.description END, "                            \
	  "updated_at = excluded.updated_at, updated_by = excluded.updated_by")                    \
	X(VAR_GET, "SELECT key, value, secret, description, updated_at, updated_by "               \
		   "FROM variables WHERE key = ?1")                                                \
	X(VAR_LIST, "SELECT key, value, secret, description, updated_at, updated_by "              \
		    "FROM variables ORDER BY key")                                                 \
	X(VAR_DELETE, "DELETE FROM variables WHERE key = ?1")                                      \
	X(CONN_SET, "INSERT INTO connections (name, uri, extra, description, updated_at, "         \
		    "updated_by) VALUES (?1, ?2, ?3, nullif(?4, ''), ?5, ?6) ON CONFLICT (name) "  \
		    "DO UPDATE SET uri = excluded.uri, extra = excluded.extra, description = "     \
		    "CASE WHEN ?4 IS NULL THEN description ELSE excluded.description END, "        \
		    "updated_at = excluded.updated_at, updated_by = excluded.updated_by")          \
	X(CONN_GET, "SELECT name, uri, extra, description, updated_at, updated_by "                \
		    "FROM connections WHERE name = ?1")                                            \
	X(CONN_LIST, "SELECT name, uri, extra, description, updated_at, updated_by "               \
		     "FROM connections ORDER BY name")                                             \
	X(CONN_DELETE, "DELETE FROM connections WHERE name = ?1")                                  \
	X(VARS_BUMP, "INSERT INTO kv (key, value) VALUES ('vars.version', '1') ON CONFLICT (key) " \
		     "DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)")             \
	X(VARS_VERSION, "SELECT CAST(value AS INTEGER) FROM kv WHERE key = 'vars.version'")        \
	X(CLEANUP_RUNS, "SELECT run_id FROM runs WHERE state IN " FINISHED " AND ended_at < ?1 "   \
			"ORDER BY ended_at, run_id LIMIT ?2")                                      \
	X(CLEANUP_DIRS, "SELECT dir FROM attempts WHERE run_id = ?1 AND dir IS NOT NULL "          \
			"ORDER BY id")                                                             \
	X(CLEANUP_RUN, "DELETE FROM runs WHERE run_id = ?1")                                       \
	X(CLEANUP_COMMANDS, "DELETE FROM commands WHERE id IN (SELECT id FROM commands "           \
			    "WHERE done_at IS NOT NULL AND created_at < ?1 ORDER BY id LIMIT ?2)")

#define AS_ENUM(name, sql) ST_##name,
#define AS_SQL(name, sql) sql,
enum stmt_id { STATEMENTS(AS_ENUM) ST__COUNT };
static const char *const stmt_sql[] = {STATEMENTS(AS_SQL)};

/* run_list: (dag filter or not) x (no state, "active", one state) x (newest or oldest first) */
#define RUN_LIST_VARIANTS 24 /* by dag x 3 state kinds x order x after a key */

struct store_tx {
	struct store *s;
};

struct store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[ST__COUNT];
	sqlite3_stmt *run_list[RUN_LIST_VARIANTS];
	struct store_tx tx;
	bool tx_open;
	int bind_rc; /* first failed bind since the last step (sticky until then) */
	int schema_version;
	int64_t data_version;
	char err[1024];
	struct checkpointer *ck; /* store_checkpoint_apart(), or NULL */
};

#define S(x) ((x) ? (x) : "(null)")

/* ---- errors -------------------------------------------------------------------------------- */

static int errno_of(int rc)
{
	switch (rc) {
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_UNIQUE:
		return -EEXIST;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return -ENOENT;
	case SQLITE_CONSTRAINT_CHECK:
	case SQLITE_CONSTRAINT_NOTNULL:
#ifdef SQLITE_CONSTRAINT_DATATYPE
	case SQLITE_CONSTRAINT_DATATYPE:
#endif
	case SQLITE_MISMATCH:
	case SQLITE_TOOBIG:
	case SQLITE_RANGE:
		return -EINVAL;
	}
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	}
	return -EIO;
}

static void vset_err(struct store *s, const char *detail, const char *fmt, va_list ap)
{
	int n = vsnprintf(s->err, sizeof(s->err), fmt, ap);
	if (detail && n >= 0 && (size_t)n < sizeof(s->err))
		snprintf(s->err + n, sizeof(s->err) - (size_t)n, ": %s", detail);
}

/* Record an error of gust's own (err is a negative errno) and return it. */
__attribute__((format(printf, 3, 4))) static int fail(struct store *s, int err, const char *fmt,
						      ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset_err(s, NULL, fmt, ap);
	va_end(ap);
	return err;
}

static int vsql_fail(struct store *s, int rc, const char *fmt, va_list ap)
{
	vset_err(s, sqlite3_errmsg(s->db), fmt, ap);
	return errno_of(rc);
}

/* Record SQLite's error `rc` with context ("creating run 'x': UNIQUE constraint failed: ..."). */
__attribute__((format(printf, 3, 4))) static int sql_fail(struct store *s, int rc, const char *fmt,
							  ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsql_fail(s, rc, fmt, ap);
	va_end(ap);
	return r;
}

const char *store_errmsg(struct store *s)
{
	return s->err;
}

/* ---- statements ---------------------------------------------------------------------------- */

static int prep_sql(struct store *s, sqlite3_stmt **slot, const char *sql, sqlite3_stmt **ret)
{
	*ret = NULL;
	if (!*slot) {
		int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
		if (rc != SQLITE_OK) {
			*slot = NULL;
			return sql_fail(s, rc, "preparing \"%.60s...\"", sql);
		}
	}
	s->bind_rc = SQLITE_OK;
	*ret = *slot;
	return 0;
}

static int prep(struct store *s, enum stmt_id id, sqlite3_stmt **ret)
{
	return prep_sql(s, &s->st[id], stmt_sql[id], ret);
}

/* Binds remember their first failure; step() reports it instead of running with a stale value. */
static void bind_text(struct store *s, sqlite3_stmt *st, int i, const char *v)
{
	int rc = sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC); /* NULL binds NULL */
	if (rc != SQLITE_OK && s->bind_rc == SQLITE_OK)
		s->bind_rc = rc;
}

static void bind_int(struct store *s, sqlite3_stmt *st, int i, int64_t v)
{
	int rc = sqlite3_bind_int64(st, i, v);
	if (rc != SQLITE_OK && s->bind_rc == SQLITE_OK)
		s->bind_rc = rc;
}

/* One step: SQLITE_ROW, SQLITE_DONE or an error code (the statement is not reset). */
static int step(struct store *s, sqlite3_stmt *st)
{
	if (s->bind_rc != SQLITE_OK) {
		int rc = s->bind_rc;
		s->bind_rc = SQLITE_OK;
		return rc;
	}
	return sqlite3_step(st);
}

/* Run a statement to its end and reset it; on failure the error is recorded with the context. */
__attribute__((format(printf, 3, 4))) static int exec_st(struct store *s, sqlite3_stmt *st,
							 const char *fmt, ...)
{
	int rc;
	while ((rc = step(s, st)) == SQLITE_ROW)
		;
	int r = 0;
	if (rc != SQLITE_DONE) {
		va_list ap;
		va_start(ap, fmt);
		r = vsql_fail(s, rc, fmt, ap);
		va_end(ap);
	}
	sqlite3_reset(st);
	return r;
}

static int exec_id(struct store *s, enum stmt_id id, const char *what)
{
	sqlite3_stmt *st;
	int r = prep(s, id, &st);
	return r ? r : exec_st(s, st, "%s", what);
}

/* For rolling back after an error: the first error's message is the one kept. */
static void exec_quiet(struct store *s, enum stmt_id id)
{
	char saved[sizeof(s->err)];
	memcpy(saved, s->err, sizeof(saved));
	exec_id(s, id, "rolling back");
	memcpy(s->err, saved, sizeof(saved));
}

static char *col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? xstrdup((const char *)t) : NULL;
}

static int64_t col_int(sqlite3_stmt *st, int i)
{
	return sqlite3_column_int64(st, i);
}

typedef void (*row_read_fn)(sqlite3_stmt *st, void *row);
typedef void (*row_free_fn)(void *row);

/* Read every row of a bound statement into a malloc'd array (NULL when there is none). */
static int list_rows(struct store *s, sqlite3_stmt *st, size_t size, row_read_fn read,
		     row_free_fn free_row, void **ret, size_t *ret_n, const char *what)
{
	char *rows = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = step(s, st)) == SQLITE_ROW) {
		rows = xrealloc_array(rows, n + 1, size, &cap);
		memset(rows + n * size, 0, size);
		read(st, rows + n * size);
		n++;
	}
	if (rc != SQLITE_DONE) {
		int r = sql_fail(s, rc, "%s", what);
		sqlite3_reset(st);
		for (size_t i = 0; i < n; i++)
			free_row(rows + i * size);
		free(rows);
		return r;
	}
	sqlite3_reset(st);
	*ret = rows;
	*ret_n = n;
	return 0;
}

/* ---- transactions -------------------------------------------------------------------------- */

static int tx_check(struct store *s, struct store_tx *tx)
{
	if (tx && (tx->s != s || !s->tx_open))
		return fail(s, -EINVAL, "the transaction given is not open on this store");
	return 0;
}

/*
 * A function of several statements runs between op_begin and op_end: its own transaction when
 * none is open, else a savepoint inside the open one. op_end commits (or releases) when r == 0,
 * else undoes the function's changes, and returns the outcome.
 */
static int op_begin(struct store *s, struct store_tx *tx, bool *own)
{
	int r = tx_check(s, tx);
	if (r)
		return r;
	*own = !s->tx_open;
	return exec_id(s, *own ? ST_BEGIN : ST_SAVEPOINT, "beginning a transaction");
}

static int op_end(struct store *s, bool own, int r)
{
	if (r == 0) {
		r = exec_id(s, own ? ST_COMMIT : ST_RELEASE, "committing");
		if (r == 0)
			return 0;
	}
	if (own) {
		if (!sqlite3_get_autocommit(s->db))
			exec_quiet(s, ST_ROLLBACK);
	} else if (!sqlite3_get_autocommit(s->db)) {
		exec_quiet(s, ST_ROLLBACK_TO);
		exec_quiet(s, ST_RELEASE);
	}
	return r;
}

int store_begin(struct store *s, struct store_tx **ret)
{
	if (s->tx_open)
		return fail(s, -EINVAL,
			    "a transaction is already open on this store (they do not nest)");
	int r = exec_id(s, ST_BEGIN, "beginning a transaction");
	if (r)
		return r;
	s->tx_open = true;
	s->tx.s = s;
	*ret = &s->tx;
	return 0;
}

int store_commit(struct store_tx *tx)
{
	if (!tx)
		return -EINVAL;
	struct store *s = tx->s;
	if (!s->tx_open)
		return fail(s, -EINVAL, "committing a transaction that is not open");
	s->tx_open = false;
	if (sqlite3_get_autocommit(s->db))
		return fail(s, -EIO,
			    "the transaction was rolled back by an earlier error: "
			    "nothing in it was committed");
	int r = exec_id(s, ST_COMMIT, "committing");
	if (r && !sqlite3_get_autocommit(s->db))
		exec_quiet(s, ST_ROLLBACK);
	return r;
}

void store_rollback(struct store_tx *tx)
{
	if (!tx || !tx->s->tx_open)
		return;
	tx->s->tx_open = false;
	if (!sqlite3_get_autocommit(tx->s->db))
		exec_quiet(tx->s, ST_ROLLBACK);
}

bool store_changed(struct store *s)
{
	sqlite3_stmt *st;
	if (prep(s, ST_DATA_VERSION, &st))
		return true;
	bool changed = true;
	if (step(s, st) == SQLITE_ROW) {
		int64_t v = col_int(st, 0);
		changed = v != s->data_version;
		s->data_version = v;
	}
	sqlite3_reset(st);
	return changed;
}

/* ---- opening ------------------------------------------------------------------------------- */

/* Run a statement returning at most one value; its text (or "") goes into buf. */
static int pragma(struct store *s, const char *sql, char *buf, size_t size)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	if (buf)
		buf[0] = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (buf && sqlite3_column_text(st, 0))
			snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int user_version(struct store *s, int *ret)
{
	char buf[32];
	int rc = pragma(s, "PRAGMA user_version", buf, sizeof(buf));
	if (rc == SQLITE_OK)
		*ret = atoi(buf);
	return rc;
}

static int migrate(struct store *s, char **ret_msg)
{
	const int known = (int)store_sqlite_n_migrations;
	int v = 0, rc = user_version(s, &v);
	if (rc != SQLITE_OK)
		goto sql_error;
	if (v > known)
		goto too_new;
	if (v == known) {
		s->schema_version = v;
		return 0;
	}
	/* Someone else may be migrating: decide again under the write lock. */
	rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto sql_error;
	rc = user_version(s, &v);
	if (rc != SQLITE_OK)
		goto rollback;
	if (v > known) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		goto too_new;
	}
	for (; v < known; v++) {
		rc = sqlite3_exec(s->db, store_sqlite_migrations[v], NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			*ret_msg =
			    xasprintf("cannot migrate the database at %s from schema version "
				      "%d to %d: %s",
				      s->path, v, v + 1, sqlite3_errmsg(s->db));
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return errno_of(rc);
		}
	}
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", known);
	rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto rollback;
	s->schema_version = known;
	return 0;

too_new:
	*ret_msg =
	    xasprintf("the database at %s has schema version %d, but this gust knows only up "
		      "to %d: use a newer gust",
		      s->path, v, known);
	return -EPROTO;
rollback:
	*ret_msg =
	    xasprintf("cannot migrate the database at %s: %s", s->path, sqlite3_errmsg(s->db));
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return errno_of(rc);
sql_error:
	*ret_msg = xasprintf("cannot read the database at %s: %s", s->path, sqlite3_errmsg(s->db));
	return errno_of(rc);
}

/* The folder of `path` must exist: the caller creates GUST_HOME, the store only its file. */
static int check_folder(const char *path, char **ret_msg)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return 0;
	char *dir = slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
	struct stat sb;
	int r = 0;
	if (stat(dir, &sb) < 0) {
		r = -errno;
		*ret_msg = xasprintf("cannot open the database at %s: the folder %s: %s", path, dir,
				     strerror(errno));
	} else if (!S_ISDIR(sb.st_mode)) {
		r = -ENOTDIR;
		*ret_msg =
		    xasprintf("cannot open the database at %s: %s is not a folder", path, dir);
	}
	free(dir);
	return r;
}

static int configure(struct store *s, char **ret_msg)
{
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	char mode[32];
	int rc = pragma(s, "PRAGMA foreign_keys = ON", NULL, 0);
	if (rc == SQLITE_OK)
		rc = pragma(s, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
	if (rc == SQLITE_OK)
		rc = pragma(s, "PRAGMA synchronous = NORMAL", NULL, 0);
	if (rc != SQLITE_OK) {
		*ret_msg =
		    xasprintf("cannot open the database at %s: %s", s->path, sqlite3_errmsg(s->db));
		return errno_of(rc);
	}
	if (strcmp(mode, "wal") != 0 && strcmp(s->path, ":memory:") != 0) {
		*ret_msg = xasprintf("cannot open the database at %s: it cannot use write-ahead "
				     "logging (journal mode is %s)",
				     s->path, mode);
		return -EIO;
	}
	return 0;
}

/* ---- durability ---------------------------------------------------------------------------- */

#define DURABILITY_KEY "store.durability"

static const char *const durability_names[] = {
    [STORE_DURABILITY_RECORDED] = "recorded",
    [STORE_DURABILITY_NORMAL] = "normal",
    [STORE_DURABILITY_FULL] = "full",
};

const char *store_durability_name(enum store_durability d)
{
	return (unsigned)d < ARRAY_SIZE(durability_names) ? durability_names[d] : "unknown";
}

int store_durability_parse(const char *name, enum store_durability *ret)
{
	if (name && strcmp(name, "normal") == 0)
		*ret = STORE_DURABILITY_NORMAL;
	else if (name && strcmp(name, "full") == 0)
		*ret = STORE_DURABILITY_FULL;
	else
		return -EINVAL;
	return 0;
}

/* At open, after the migrations: the durability asked for (recorded for later opens), or the
 * one recorded. PRAGMA synchronous cannot change inside a transaction; none is open here. */
static int apply_durability(struct store *s, enum store_durability d, char **ret_msg)
{
	bool record = d != STORE_DURABILITY_RECORDED;
	if (d != STORE_DURABILITY_RECORDED && d != STORE_DURABILITY_NORMAL &&
	    d != STORE_DURABILITY_FULL) {
		*ret_msg = xasprintf("cannot open the database at %s: unknown durability %d",
				     s->path, (int)d);
		return -EINVAL;
	}
	if (!record) {
		char *v = NULL;
		int r = store_kv_get(s, DURABILITY_KEY, &v);
		if (r == -ENOENT) {
			d = STORE_DURABILITY_NORMAL;
		} else if (r < 0) {
			*ret_msg = xasprintf("cannot read the database at %s: %s", s->path,
					     store_errmsg(s));
			return r;
		} else if (store_durability_parse(v, &d) < 0) {
			d = STORE_DURABILITY_FULL; /* a newer gust's word: take the safer side */
		}
		free(v);
	}
	int rc = pragma(s,
			d == STORE_DURABILITY_FULL ? "PRAGMA synchronous = FULL"
						   : "PRAGMA synchronous = NORMAL",
			NULL, 0);
	if (rc != SQLITE_OK) {
		*ret_msg = xasprintf("cannot set durability %s on the database at %s: %s",
				     store_durability_name(d), s->path, sqlite3_errmsg(s->db));
		return errno_of(rc);
	}
	if (record) {
		int r = store_kv_set(s, NULL, DURABILITY_KEY, store_durability_name(d));
		if (r < 0) {
			*ret_msg =
			    xasprintf("cannot record durability %s in the database at %s: %s",
				      store_durability_name(d), s->path, store_errmsg(s));
			return r;
		}
	}
	return 0;
}

int store_durability(struct store *s, enum store_durability *ret)
{
	char buf[32];
	int rc = pragma(s, "PRAGMA synchronous", buf, sizeof(buf));
	if (rc != SQLITE_OK)
		return sql_fail(s, rc, "reading PRAGMA synchronous");
	if (strcmp(buf, "1") == 0)
		*ret = STORE_DURABILITY_NORMAL;
	else if (strcmp(buf, "2") == 0)
		*ret = STORE_DURABILITY_FULL;
	else
		return fail(s, -EIO, "PRAGMA synchronous is %s, neither NORMAL (1) nor FULL (2)",
			    buf);
	return 0;
}

int store_open(const char *url, struct store **ret, char **ret_msg)
{
	return store_open_with(url, NULL, ret, ret_msg);
}

int store_open_with(const char *url, const struct store_options *opts, struct store **ret,
		    char **ret_msg)
{
	char *msg = NULL;
	if (!url || !*url) {
		if (ret_msg)
			*ret_msg = xstrdup("no database path given");
		return -EINVAL;
	}
	int r = strcmp(url, ":memory:") == 0 ? 0 : check_folder(url, &msg);
	if (r) {
		if (ret_msg)
			*ret_msg = msg;
		else
			free(msg);
		return r;
	}
	struct store *s = xcalloc(1, sizeof(*s));
	s->path = xstrdup(url);
	int rc = sqlite3_open_v2(
	    url, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		msg = xasprintf("cannot open the database at %s: %s", url,
				s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		r = rc == SQLITE_CANTOPEN ? -EACCES : errno_of(rc);
	} else {
		r = configure(s, &msg);
		if (!r)
			r = migrate(s, &msg);
		if (!r)
			r = apply_durability(s, opts ? opts->durability : STORE_DURABILITY_RECORDED,
					     &msg);
	}
	if (r) {
		store_close(s);
		if (ret_msg)
			*ret_msg = msg;
		else
			free(msg);
		return r;
	}
	store_changed(s); /* the baseline: later calls report other connections' commits */
	*ret = s;
	return 0;
}

/* ---- checkpoints apart ----------------------------------------------------------------------- */

/* WAL pages after which a checkpoint is asked for (SQLite's own default). */
#define CHECKPOINT_PAGES 1000

struct checkpointer {
	sqlite3 *db; /* the thread's own connection */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool wanted, stop;
};

/* Called by SQLite after each commit on the store's connection, with the WAL's size in pages. */
static int wal_committed(void *arg, sqlite3 *db, const char *name, int pages)
{
	(void)db;
	(void)name;
	struct checkpointer *c = arg;
	if (pages >= CHECKPOINT_PAGES) {
		pthread_mutex_lock(&c->mu);
		c->wanted = true;
		pthread_cond_signal(&c->cv);
		pthread_mutex_unlock(&c->mu);
	}
	return SQLITE_OK;
}

static void *checkpoint_thread(void *arg)
{
	struct checkpointer *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->wanted && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		c->wanted = false;
		pthread_mutex_unlock(&c->mu);
		/* PASSIVE: copies what no reader still needs, takes no write lock, never waits. A
		 * failure is not fatal: the log only grows until the next checkpoint. */
		sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int store_checkpoint_apart(struct store *s)
{
	if (s->ck || strcmp(s->path, ":memory:") == 0)
		return 0;
	struct checkpointer *c = xcalloc(1, sizeof(*c));
	int rc =
	    sqlite3_open_v2(s->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	/* A connection finds the log when it first reads: before that, a checkpoint does nothing.
	 */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(c->db, "PRAGMA journal_mode", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int r = fail(s, errno_of(rc), "cannot open the database at %s for checkpoints: %s",
			     s->path, c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sqlite3_close(c->db);
		free(c);
		return r;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	/* The thread takes no signal: the caller's loop may read them all from a signalfd. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int e = pthread_create(&c->thread, NULL, checkpoint_thread, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cv);
		sqlite3_close(c->db);
		free(c);
		return fail(s, -e, "cannot start the checkpoint thread: %s", strerror(e));
	}
	s->ck = c;
	/* Replaces SQLite's automatic checkpoint, which ran inside the commit that crossed the
	 * threshold (copying pages to the database file and syncing it in the caller's time). */
	sqlite3_wal_hook(s->db, wal_committed, c);
	return 0;
}

static void checkpointer_stop(struct store *s)
{
	struct checkpointer *c = s->ck;
	if (!c)
		return;
	sqlite3_wal_hook(s->db, NULL, NULL);
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	sqlite3_close(c->db);
	free(c);
	s->ck = NULL;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	checkpointer_stop(s);
	if (s->tx_open)
		store_rollback(&s->tx);
	for (size_t i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(s->st[i]);
	for (size_t i = 0; i < RUN_LIST_VARIANTS; i++)
		sqlite3_finalize(s->run_list[i]);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

int store_schema_version(struct store *s)
{
	return s->schema_version;
}

void store_set_busy_timeout(struct store *s, int ms)
{
	sqlite3_busy_timeout(s->db, ms < 0 ? 0 : ms);
}

/* ---- DAGs ---------------------------------------------------------------------------------- */

void store_dag_free(struct store_dag *d)
{
	if (!d)
		return;
	free(d->dag_id);
	free(d->file);
	free(d->hash);
	free(d->schedule);
	free(d->error);
	d->dag_id = d->file = d->hash = d->schedule = d->error = NULL;
}

static void read_dag(sqlite3_stmt *st, void *row)
{
	struct store_dag *d = row;
	*d = (struct store_dag){
	    .dag_id = col_str(st, 0),
	    .file = col_str(st, 1),
	    .version = col_int(st, 2),
	    .hash = col_str(st, 3),
	    .schedule = col_str(st, 4),
	    .error = col_str(st, 5),
	    .paused = col_int(st, 6) != 0,
	    .deleted = col_int(st, 7) != 0,
	    .updated_at = col_int(st, 8),
	    .last_logical = col_int(st, 9),
	};
}

static void free_dag_row(void *row)
{
	store_dag_free(row);
}

/* Whether the source (dag_id, hash) of LEN bytes is stored whole, in its parts. */
static int source_stored(struct store *s, const char *dag_id, const char *hash, size_t len,
			 bool *ret)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_DAG_SOURCE_STORED, &st);
	if (r)
		return r;
	bind_text(s, st, 1, dag_id);
	bind_text(s, st, 2, hash);
	int rc = step(s, st);
	if (rc == SQLITE_ROW) {
		uint64_t parts = (uint64_t)col_int(st, 0), bytes = (uint64_t)col_int(st, 1);
		uint64_t want = len ? (len + STORE_SOURCE_PART - 1) / STORE_SOURCE_PART : 1;
		*ret = parts == want && bytes == len;
	} else {
		r = sql_fail(s, rc, "looking up the source of DAG '%s'", dag_id);
	}
	sqlite3_reset(st);
	return r;
}

/* Write the source in parts of STORE_SOURCE_PART bytes (an empty source is one empty part),
 * replacing any left by an earlier try. Outside a transaction each part is a transaction of its
 * own (so the write lock is held for one part at a time); inside one, they all join it. */
static int put_parts(struct store *s, const char *dag_id, const char *hash, const char *source,
		     size_t len, int64_t now)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_DAG_SOURCE_CLEAR, &st);
	if (r)
		return r;
	bind_text(s, st, 1, dag_id);
	bind_text(s, st, 2, hash);
	if ((r = exec_st(s, st, "replacing the source of DAG '%s'", dag_id)))
		return r;
	for (size_t off = 0, part = 0; !r && (off < len || part == 0);
	     off += STORE_SOURCE_PART, part++) {
		size_t n = len - off < STORE_SOURCE_PART ? len - off : STORE_SOURCE_PART;
		if ((r = prep(s, ST_DAG_SOURCE_PART, &st)))
			break;
		bind_text(s, st, 1, dag_id);
		bind_text(s, st, 2, hash);
		bind_int(s, st, 3, (int64_t)part);
		int rc = sqlite3_bind_blob64(st, 4, source + off, n, SQLITE_STATIC);
		if (rc != SQLITE_OK && s->bind_rc == SQLITE_OK)
			s->bind_rc = rc;
		bind_int(s, st, 5, now);
		r = exec_st(s, st, "storing the source of DAG '%s'", dag_id);
	}
	return r;
}

int store_dag_source_put(struct store *s, const char *dag_id, const char *hash, const char *source,
			 size_t len, int64_t now)
{
	if (!dag_id || !hash || !source)
		return fail(s, -EINVAL,
			    "storing a DAG source: the id, hash and source are required");
	if (s->tx_open)
		return fail(s, -EINVAL,
			    "storing the source of DAG '%s': a transaction is open "
			    "(each part is written in a transaction of its own)",
			    dag_id);
	bool stored = false;
	int r = source_stored(s, dag_id, hash, len, &stored);
	if (r || stored)
		return r;
	return put_parts(s, dag_id, hash, source, len, now);
}

int store_dag_sources_sweep(struct store *s, int64_t before, int *ret_n)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_DAG_SOURCE_SWEEP, &st);
	if (r)
		return r;
	/* 16 parts (at most 4 MiB) a transaction: others' commits wait for one batch at most. */
	int n = 0, got;
	do {
		bind_int(s, st, 1, before);
		r = exec_st(s, st, "removing DAG sources no version uses");
		got = r ? 0 : sqlite3_changes(s->db);
		n += got;
	} while (!r && got > 0);
	if (ret_n)
		*ret_n = n;
	return r;
}

int store_dag_loaded(struct store *s, struct store_tx *tx, const char *dag_id, const char *file,
		     const char *hash, const char *source, const char *schedule, int64_t now,
		     int64_t *ret_version)
{
	if (!dag_id || !hash || !source)
		return fail(s, -EINVAL, "recording DAG '%s': the id, hash and source are required",
			    S(dag_id));
	bool own;
	int r = op_begin(s, tx, &own);
	if (r)
		return r;
	sqlite3_stmt *st;
	int64_t version = 0;
	if (!(r = prep(s, ST_DAG_ENSURE, &st))) {
		bind_text(s, st, 1, dag_id);
		bind_text(s, st, 2, file);
		bind_int(s, st, 3, now);
		r = exec_st(s, st, "recording DAG '%s'", dag_id);
	}
	if (!r && !(r = prep(s, ST_DAG_VERSION_BY_HASH, &st))) {
		bind_text(s, st, 1, dag_id);
		bind_text(s, st, 2, hash);
		int rc = step(s, st);
		if (rc == SQLITE_ROW)
			version = col_int(st, 0);
		else if (rc != SQLITE_DONE)
			r = sql_fail(s, rc, "looking up a version of DAG '%s'", dag_id);
		sqlite3_reset(st);
	}
	if (!r && version == 0) {
		size_t len = strlen(source);
		bool stored = false;
		r = source_stored(s, dag_id, hash, len, &stored);
		if (!r && !stored)
			r = put_parts(s, dag_id, hash, source, len, now);
	}
	if (!r && version == 0 && !(r = prep(s, ST_DAG_VERSION_ADD, &st))) {
		bind_text(s, st, 1, dag_id);
		bind_text(s, st, 2, hash);
		bind_int(s, st, 3, now);
		int rc = step(s, st);
		if (rc == SQLITE_ROW)
			version = col_int(st, 0);
		else
			r = sql_fail(s, rc, "adding a version of DAG '%s'", dag_id);
		sqlite3_reset(st);
	}
	if (!r && !(r = prep(s, ST_DAG_SET_CURRENT, &st))) {
		bind_text(s, st, 1, dag_id);
		bind_text(s, st, 2, file);
		bind_int(s, st, 3, version);
		bind_text(s, st, 4, hash);
		bind_text(s, st, 5, schedule);
		bind_int(s, st, 6, now);
		r = exec_st(s, st, "recording DAG '%s'", dag_id);
	}
	r = op_end(s, own, r);
	if (!r && ret_version)
		*ret_version = version;
	return r;
}

int store_dag_broken(struct store *s, struct store_tx *tx, const char *dag_id, const char *file,
		     const char *error, int64_t now)
{
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r)
		return r;
	if (!dag_id) {
		if (!file)
			return fail(s, -EINVAL, "recording a broken DAG: no id and no file given");
		if ((r = prep(s, ST_DAG_BROKEN_BY_FILE, &st)))
			return r;
		bind_text(s, st, 1, file);
		bind_text(s, st, 2, error);
		bind_int(s, st, 3, now);
		if ((r = exec_st(s, st, "recording that %s is broken", file)))
			return r;
		if (sqlite3_changes(s->db) == 0)
			return fail(s, -ENOENT, "no DAG was loaded from %s", file);
		return 0;
	}
	if ((r = prep(s, ST_DAG_BROKEN, &st)))
		return r;
	bind_text(s, st, 1, dag_id);
	bind_text(s, st, 2, file);
	bind_text(s, st, 3, error);
	bind_int(s, st, 4, now);
	return exec_st(s, st, "recording that DAG '%s' is broken", dag_id);
}

/* Run an UPDATE of one row keyed by text; -ENOENT when no row matched. */
static int update_one(struct store *s, sqlite3_stmt *st, const char *what, const char *key)
{
	int r = exec_st(s, st, "%s '%s'", what, key);
	if (!r && sqlite3_changes(s->db) == 0)
		r = fail(s, -ENOENT, "%s '%s': no such row", what, key);
	return r;
}

int store_dag_deleted(struct store *s, struct store_tx *tx, const char *dag_id, int64_t now)
{
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_DAG_DELETED, &st)))
		return r;
	bind_text(s, st, 1, dag_id);
	bind_int(s, st, 2, now);
	return update_one(s, st, "marking deleted the DAG", S(dag_id));
}

int store_dag_set_paused(struct store *s, const char *dag_id, bool paused)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_DAG_PAUSED, &st);
	if (r)
		return r;
	bind_text(s, st, 1, dag_id);
	bind_int(s, st, 2, paused);
	return update_one(s, st, paused ? "pausing the DAG" : "unpausing the DAG", S(dag_id));
}

int store_dag_set_last_logical(struct store *s, struct store_tx *tx, const char *dag_id,
			       int64_t logical)
{
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_DAG_LAST_LOGICAL, &st)))
		return r;
	bind_text(s, st, 1, dag_id);
	bind_int(s, st, 2, logical);
	return update_one(s, st, "setting the last logical date of the DAG", S(dag_id));
}

int store_dag_get(struct store *s, const char *dag_id, struct store_dag *ret)
{
	memset(ret, 0, sizeof(*ret));
	sqlite3_stmt *st;
	int r = prep(s, ST_DAG_GET, &st);
	if (r)
		return r;
	bind_text(s, st, 1, dag_id);
	int rc = step(s, st);
	if (rc == SQLITE_ROW)
		read_dag(st, ret);
	else if (rc == SQLITE_DONE)
		r = fail(s, -ENOENT, "no DAG '%s'", S(dag_id));
	else
		r = sql_fail(s, rc, "reading DAG '%s'", S(dag_id));
	sqlite3_reset(st);
	return r;
}

int store_dag_list(struct store *s, struct store_dag **ret, size_t *ret_n)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_DAG_LIST, &st);
	if (r)
		return r;
	return list_rows(s, st, sizeof(**ret), read_dag, free_dag_row, (void **)ret, ret_n,
			 "listing DAGs");
}

/* Read the single text value of a bound statement into *ret (malloc'd; NULL stays NULL). */
static int get_text(struct store *s, sqlite3_stmt *st, char **ret, const char *what,
		    const char *key)
{
	int r = 0, rc = step(s, st);
	if (rc == SQLITE_ROW)
		*ret = col_str(st, 0);
	else if (rc == SQLITE_DONE)
		r = fail(s, -ENOENT, "no %s '%s'", what, key);
	else
		r = sql_fail(s, rc, "reading %s '%s'", what, key);
	sqlite3_reset(st);
	return r;
}

int store_dag_version_source(struct store *s, const char *dag_id, int64_t version, char **ret)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_DAG_SOURCE, &st);
	if (r)
		return r;
	bind_text(s, st, 1, dag_id);
	bind_int(s, st, 2, version);
	struct buf b = BUF_INIT;
	int rc, rows = 0;
	while ((rc = step(s, st)) == SQLITE_ROW) {
		buf_append(&b, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
		rows++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		r = sql_fail(s, rc, "reading DAG '%s' version %" PRId64, S(dag_id), version);
	else if (rows == 0)
		r = fail(s, -ENOENT, "no DAG '%s' version '%" PRId64 "'", S(dag_id), version);
	if (r) {
		buf_free(&b);
		return r;
	}
	*ret = buf_detach(&b);
	return 0;
}

static void read_dag_version(sqlite3_stmt *st, void *row)
{
	struct store_dag_version *v = row;
	*v = (struct store_dag_version){
	    .version = col_int(st, 0),
	    .hash = col_str(st, 1),
	    .created_at = col_int(st, 2),
	};
}

static void free_dag_version_row(void *row)
{
	free(((struct store_dag_version *)row)->hash);
}

int store_dag_version_list(struct store *s, const char *dag_id, struct store_dag_version **ret,
			   size_t *ret_n)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_DAG_VERSIONS, &st);
	if (r)
		return r;
	bind_text(s, st, 1, dag_id);
	return list_rows(s, st, sizeof(**ret), read_dag_version, free_dag_version_row,
			 (void **)ret, ret_n, "listing DAG versions");
}

void store_dag_version_list_free(struct store_dag_version *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free_dag_version_row(&v[i]);
	free(v);
}

/* ---- runs ---------------------------------------------------------------------------------- */

void store_run_free(struct store_run *r)
{
	if (!r)
		return;
	free(r->run_id);
	free(r->dag_id);
	free(r->state);
	free(r->params);
	free(r->message);
	free(r->note);
	r->run_id = r->dag_id = r->state = r->params = r->message = r->note = NULL;
}

static void read_run(sqlite3_stmt *st, void *row)
{
	struct store_run *r = row;
	const unsigned char *kind = sqlite3_column_text(st, 3);
	*r = (struct store_run){
	    .run_id = col_str(st, 0),
	    .dag_id = col_str(st, 1),
	    .version = col_int(st, 2),
	    .kind = kind && strcmp((const char *)kind, "scheduled") == 0 ? STORE_RUN_SCHEDULED
									 : STORE_RUN_MANUAL,
	    .logical_date = col_int(st, 4),
	    .state = col_str(st, 5),
	    .params = col_str(st, 6),
	    .message = col_str(st, 7),
	    .created_at = col_int(st, 8),
	    .started_at = col_int(st, 9),
	    .ended_at = col_int(st, 10),
	    .note = col_str(st, 11),
	};
}

static void free_run_row(void *row)
{
	store_run_free(row);
}

int store_run_create(struct store *s, struct store_tx *tx, const struct store_run *run)
{
	sqlite3_stmt *st;
	const char *kind = run->kind == STORE_RUN_SCHEDULED ? "scheduled"
			   : run->kind == STORE_RUN_MANUAL  ? "manual"
							    : NULL;
	if (!kind)
		return fail(s, -EINVAL, "creating run '%s': unknown kind %d", S(run->run_id),
			    (int)run->kind);
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_RUN_CREATE, &st)))
		return r;
	bind_text(s, st, 1, run->run_id);
	bind_text(s, st, 2, run->dag_id);
	bind_int(s, st, 3, run->version);
	bind_text(s, st, 4, kind);
	bind_int(s, st, 5, run->logical_date);
	bind_text(s, st, 6, run->params);
	bind_text(s, st, 7, run->message);
	bind_int(s, st, 8, run->created_at);
	bind_text(s, st, 9, run->note);
	return exec_st(s, st, "creating run '%s' of DAG '%s'", S(run->run_id), S(run->dag_id));
}

int store_run_set_state(struct store *s, struct store_tx *tx, const char *run_id, const char *state,
			const char *message, int64_t now)
{
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_RUN_SET_STATE, &st)))
		return r;
	bind_text(s, st, 1, run_id);
	bind_text(s, st, 2, state);
	bind_text(s, st, 3, message);
	bind_int(s, st, 4, now);
	return update_one(s, st, "setting the state of run", S(run_id));
}

int store_run_get(struct store *s, const char *run_id, struct store_run *ret)
{
	memset(ret, 0, sizeof(*ret));
	sqlite3_stmt *st;
	int r = prep(s, ST_RUN_GET, &st);
	if (r)
		return r;
	bind_text(s, st, 1, run_id);
	int rc = step(s, st);
	if (rc == SQLITE_ROW)
		read_run(st, ret);
	else if (rc == SQLITE_DONE)
		r = fail(s, -ENOENT, "no run '%s'", S(run_id));
	else
		r = sql_fail(s, rc, "reading run '%s'", S(run_id));
	sqlite3_reset(st);
	return r;
}

static char *run_list_sql(bool by_dag, int state_kind, bool oldest_first, bool after)
{
	static const char *const state_where[] = {"", "state IN ('queued', 'running')",
						  "state = ?2"};
	const char *dir = oldest_first ? "ASC" : "DESC";
	/* The key of the last row of the page before: rows strictly after it in this order. */
	const char *key = !after	 ? ""
			  : oldest_first ? "(created_at, run_id) > (?4, ?5)"
					 : "(created_at, run_id) < (?4, ?5)";
	bool any = by_dag || state_kind || after;
	return xasprintf(
	    "SELECT " RUN_COLS " FROM runs%s%s%s%s%s%s ORDER BY created_at %s, run_id %s LIMIT ?3",
	    any ? " WHERE " : "", by_dag ? "dag_id = ?1" : "", by_dag && state_kind ? " AND " : "",
	    state_where[state_kind], after && (by_dag || state_kind) ? " AND " : "", key, dir, dir);
}

int store_run_list(struct store *s, const struct store_run_filter *f, struct store_run **ret,
		   size_t *ret_n)
{
	static const struct store_run_filter none;
	if (!f)
		f = &none;
	bool by_dag = f->dag_id != NULL;
	int state_kind = !f->state ? 0 : strcmp(f->state, "active") == 0 ? 1 : 2;
	bool after = f->after_run_id != NULL;
	size_t variant = (size_t)by_dag + 2 * (size_t)state_kind + 6 * (size_t)f->oldest_first +
			 12 * (size_t)after;
	sqlite3_stmt *st;
	char *sql =
	    s->run_list[variant] ? NULL : run_list_sql(by_dag, state_kind, f->oldest_first, after);
	int r = prep_sql(s, &s->run_list[variant], sql, &st);
	free(sql);
	if (r)
		return r;
	bind_text(s, st, 1, f->dag_id);
	bind_text(s, st, 2, state_kind == 2 ? f->state : NULL);
	bind_int(s, st, 3, f->limit == 0 || f->limit > INT64_MAX ? -1 : (int64_t)f->limit);
	if (after) {
		bind_int(s, st, 4, f->after_created_at);
		bind_text(s, st, 5, f->after_run_id);
	}
	return list_rows(s, st, sizeof(**ret), read_run, free_run_row, (void **)ret, ret_n,
			 "listing runs");
}

/* ---- task instances ------------------------------------------------------------------------ */

void store_ti_free(struct store_ti *t)
{
	if (!t)
		return;
	free(t->run_id);
	free(t->task_id);
	free(t->state);
	free(t->message);
	free(t->output);
	free(t->item);
	free(t->progress_msg);
	free(t->pool);
	free(t->disk_path);
	t->run_id = t->task_id = t->state = t->message = t->output = t->item = t->progress_msg =
	    t->pool = t->disk_path = NULL;
}

static void read_ti(sqlite3_stmt *st, void *row)
{
	struct store_ti *t = row;
	*t = (struct store_ti){
	    .run_id = col_str(st, 0),
	    .task_id = col_str(st, 1),
	    .map_index = (int32_t)col_int(st, 2),
	    .state = col_str(st, 3),
	    .try_number = (int32_t)col_int(st, 4),
	    .queued_at = col_int(st, 5),
	    .started_at = col_int(st, 6),
	    .ended_at = col_int(st, 7),
	    .retry_at = col_int(st, 8),
	    .exit_code = (int)col_int(st, 9),
	    .signal = (int)col_int(st, 10),
	    .message = col_str(st, 11),
	    .output = col_str(st, 12),
	    .item = col_str(st, 13),
	    .progress_done = (int)col_int(st, 14),
	    .progress_total = (int)col_int(st, 15),
	    .progress_msg = col_str(st, 16),
	    .pool = col_str(st, 17),
	    .pool_slots = (int32_t)col_int(st, 18),
	    .weight = col_int(st, 19),
	    .cpu_milli = col_int(st, 20),
	    .memory = col_int(st, 21),
	    .disk = col_int(st, 22),
	    .disk_path = col_str(st, 23),
	};
}

static void free_ti_row(void *row)
{
	store_ti_free(row);
}

static int ti_upsert_one(struct store *s, sqlite3_stmt *st, const struct store_ti *t)
{
	bind_text(s, st, 1, t->run_id);
	bind_text(s, st, 2, t->task_id);
	bind_int(s, st, 3, t->map_index);
	bind_text(s, st, 4, t->state);
	bind_int(s, st, 5, t->try_number);
	bind_int(s, st, 6, t->queued_at);
	bind_int(s, st, 7, t->started_at);
	bind_int(s, st, 8, t->ended_at);
	bind_int(s, st, 9, t->retry_at);
	bind_int(s, st, 10, t->exit_code);
	bind_int(s, st, 11, t->signal);
	bind_text(s, st, 12, t->message);
	bind_text(s, st, 13, t->output);
	bind_text(s, st, 14, t->item);
	bind_int(s, st, 15, t->progress_done);
	bind_int(s, st, 16, t->progress_total);
	bind_text(s, st, 17, t->progress_msg);
	bind_text(s, st, 18, t->pool ? t->pool : "default_pool");
	bind_int(s, st, 19, t->pool_slots > 0 ? t->pool_slots : 1);
	bind_int(s, st, 20, t->weight);
	bind_int(s, st, 21, t->cpu_milli);
	bind_int(s, st, 22, t->memory);
	bind_int(s, st, 23, t->disk);
	bind_text(s, st, 24, t->disk_path);
	return exec_st(s, st, "writing task instance %s/%s[%d]", S(t->run_id), S(t->task_id),
		       (int)t->map_index);
}

int store_ti_upsert(struct store *s, struct store_tx *tx, const struct store_ti *tis, size_t n)
{
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || n == 0 || (r = prep(s, ST_TI_UPSERT, &st)))
		return r;
	if (n == 1)
		return ti_upsert_one(s, st, tis);
	bool own;
	if ((r = op_begin(s, tx, &own)))
		return r;
	for (size_t i = 0; i < n && !r; i++)
		r = ti_upsert_one(s, st, &tis[i]);
	return op_end(s, own, r);
}

int store_ti_list(struct store *s, const char *run_id, struct store_ti **ret, size_t *ret_n)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_TI_LIST, &st);
	if (r)
		return r;
	bind_text(s, st, 1, run_id);
	return list_rows(s, st, sizeof(**ret), read_ti, free_ti_row, (void **)ret, ret_n,
			 "listing task instances");
}

int store_ti_get(struct store *s, const char *run_id, const char *task_id, int32_t map_index,
		 struct store_ti *ret)
{
	memset(ret, 0, sizeof(*ret));
	sqlite3_stmt *st;
	int r = prep(s, ST_TI_GET, &st);
	if (r)
		return r;
	bind_text(s, st, 1, run_id);
	bind_text(s, st, 2, task_id);
	bind_int(s, st, 3, map_index);
	int rc = step(s, st);
	if (rc == SQLITE_ROW)
		read_ti(st, ret);
	else if (rc == SQLITE_DONE)
		r = fail(s, -ENOENT, "no task instance %s/%s[%d]", S(run_id), S(task_id),
			 (int)map_index);
	else
		r = sql_fail(s, rc, "reading task instance %s/%s[%d]", S(run_id), S(task_id),
			     (int)map_index);
	sqlite3_reset(st);
	return r;
}

int store_ti_list_active(struct store *s, const char *pool, bool with_scheduled,
			 struct store_ti **ret, size_t *ret_n)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_TI_LIST_ACTIVE, &st);
	if (r)
		return r;
	bind_text(s, st, 1, pool);
	bind_int(s, st, 2, with_scheduled);
	return list_rows(s, st, sizeof(**ret), read_ti, free_ti_row, (void **)ret, ret_n,
			 "listing active task instances");
}

/* ---- attempts ------------------------------------------------------------------------------ */

void store_attempt_free(struct store_attempt *a)
{
	if (!a)
		return;
	free(a->run_id);
	free(a->task_id);
	free(a->dir);
	free(a->status);
	a->run_id = a->task_id = a->dir = a->status = NULL;
}

static void read_attempt(sqlite3_stmt *st, void *row)
{
	struct store_attempt *a = row;
	*a = (struct store_attempt){
	    .id = col_int(st, 0),
	    .run_id = col_str(st, 1),
	    .task_id = col_str(st, 2),
	    .map_index = (int32_t)col_int(st, 3),
	    .try_number = (int32_t)col_int(st, 4),
	    .launch = (int32_t)col_int(st, 5),
	    .dir = col_str(st, 6),
	    .queued_at = col_int(st, 7),
	    .ended_at = col_int(st, 8),
	    .status = col_str(st, 9),
	};
}

static void free_attempt_row(void *row)
{
	store_attempt_free(row);
}

int store_attempt_add(struct store *s, struct store_tx *tx, const struct store_attempt *a,
		      int64_t *ret_id)
{
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_ATTEMPT_ADD, &st)))
		return r;
	bind_text(s, st, 1, a->run_id);
	bind_text(s, st, 2, a->task_id);
	bind_int(s, st, 3, a->map_index);
	bind_int(s, st, 4, a->try_number);
	bind_int(s, st, 5, a->launch > 0 ? a->launch : 1);
	bind_text(s, st, 6, a->dir);
	bind_int(s, st, 7, a->queued_at);
	bind_int(s, st, 8, a->ended_at);
	bind_text(s, st, 9, a->status);
	r = exec_st(s, st, "recording attempt %s/%s[%d] try %d", S(a->run_id), S(a->task_id),
		    (int)a->map_index, (int)a->try_number);
	if (!r && ret_id)
		*ret_id = sqlite3_last_insert_rowid(s->db);
	return r;
}

int store_attempt_end(struct store *s, struct store_tx *tx, int64_t id, const char *status,
		      int64_t ended_at)
{
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_ATTEMPT_END, &st)))
		return r;
	bind_int(s, st, 1, id);
	bind_text(s, st, 2, status);
	bind_int(s, st, 3, ended_at);
	char key[32];
	snprintf(key, sizeof(key), "%" PRId64, id);
	return update_one(s, st, "ending attempt", key);
}

int store_attempt_list_live(struct store *s, struct store_attempt **ret, size_t *ret_n)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_ATTEMPT_LIVE, &st);
	if (r)
		return r;
	return list_rows(s, st, sizeof(**ret), read_attempt, free_attempt_row, (void **)ret, ret_n,
			 "listing live attempts");
}

int store_attempt_list(struct store *s, const char *run_id, const char *task_id, int32_t map_index,
		       struct store_attempt **ret, size_t *ret_n)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_ATTEMPT_LIST, &st);
	if (r)
		return r;
	bind_text(s, st, 1, run_id);
	bind_text(s, st, 2, task_id);
	bind_int(s, st, 3, map_index);
	return list_rows(s, st, sizeof(**ret), read_attempt, free_attempt_row, (void **)ret, ret_n,
			 "listing attempts");
}

/* ---- commands ------------------------------------------------------------------------------ */

void store_command_free(struct store_command *c)
{
	if (!c)
		return;
	free(c->kind);
	free(c->args);
	c->kind = c->args = NULL;
}

static void read_command(sqlite3_stmt *st, void *row)
{
	struct store_command *c = row;
	*c = (struct store_command){
	    .id = col_int(st, 0),
	    .kind = col_str(st, 1),
	    .args = col_str(st, 2),
	    .created_at = col_int(st, 3),
	};
}

static void free_command_row(void *row)
{
	store_command_free(row);
}

int store_command_add(struct store *s, const char *kind, const char *args_json, int64_t now,
		      int64_t *ret_id)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_COMMAND_ADD, &st);
	if (r)
		return r;
	bind_text(s, st, 1, kind);
	bind_text(s, st, 2, args_json);
	bind_int(s, st, 3, now);
	r = exec_st(s, st, "adding a %s command", S(kind));
	if (!r && ret_id)
		*ret_id = sqlite3_last_insert_rowid(s->db);
	return r;
}

int store_command_pending(struct store *s, struct store_command **ret, size_t *ret_n)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_COMMAND_PENDING, &st);
	if (r)
		return r;
	return list_rows(s, st, sizeof(**ret), read_command, free_command_row, (void **)ret, ret_n,
			 "listing pending commands");
}

int store_command_done(struct store *s, struct store_tx *tx, int64_t id, const char *result)
{
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_COMMAND_DONE, &st)))
		return r;
	bind_int(s, st, 1, id);
	bind_int(s, st, 2, wall_ms());
	bind_text(s, st, 3, result);
	char key[32];
	snprintf(key, sizeof(key), "%" PRId64, id);
	return update_one(s, st, "marking done command", key);
}

int store_command_result(struct store *s, int64_t id, char **ret_result)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_COMMAND_RESULT, &st);
	if (r)
		return r;
	bind_int(s, st, 1, id);
	int rc = step(s, st);
	if (rc == SQLITE_ROW) {
		if (col_int(st, 0) == 0)
			r = -EAGAIN;
		else if (ret_result)
			*ret_result = col_str(st, 1);
	} else if (rc == SQLITE_DONE) {
		r = fail(s, -ENOENT, "no command %" PRId64, id);
	} else {
		r = sql_fail(s, rc, "reading command %" PRId64, id);
	}
	sqlite3_reset(st);
	return r;
}

/* ---- key-value settings -------------------------------------------------------------------- */

int store_kv_set(struct store *s, struct store_tx *tx, const char *key, const char *value)
{
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, value ? ST_KV_SET : ST_KV_DELETE, &st)))
		return r;
	bind_text(s, st, 1, key);
	if (value)
		bind_text(s, st, 2, value);
	return exec_st(s, st, "setting '%s'", S(key));
}

int store_kv_get(struct store *s, const char *key, char **ret)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_KV_GET, &st);
	if (r)
		return r;
	bind_text(s, st, 1, key);
	return get_text(s, st, ret, "setting", S(key));
}

/* ---- pools --------------------------------------------------------------------------------- */

void store_pool_free(struct store_pool *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->description);
	p->name = p->description = NULL;
}

static void read_pool(sqlite3_stmt *st, void *row)
{
	struct store_pool *p = row;
	*p = (struct store_pool){
	    .name = col_str(st, 0),
	    .slots = (int32_t)col_int(st, 1),
	    .description = col_str(st, 2),
	    .from_config = col_int(st, 3) != 0,
	    .updated_at = col_int(st, 4),
	    .used = col_int(st, 5),
	    .running = col_int(st, 6),
	    .waiting = col_int(st, 7),
	};
}

static void free_pool_row(void *row)
{
	store_pool_free(row);
}

int store_pool_set(struct store *s, struct store_tx *tx, const char *name, int32_t slots,
		   const char *description, bool from_config, int64_t now)
{
	if (!name || !store_pool_name_valid(name))
		return fail(s, -EINVAL,
			    "bad pool name '%.200s': use 1 to %d letters, digits, '_', '-' and '.'",
			    S(name), STORE_POOL_NAME_MAX);
	if (slots < 0 || slots > STORE_POOL_SLOTS_MAX)
		return fail(s, -EINVAL, "setting pool '%s': slots must be from 0 to %d, not %d",
			    name, STORE_POOL_SLOTS_MAX, (int)slots);
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_POOL_SET, &st)))
		return r;
	bind_text(s, st, 1, name);
	bind_int(s, st, 2, slots);
	bind_text(s, st, 3, description);
	bind_int(s, st, 4, from_config);
	bind_int(s, st, 5, now);
	return exec_st(s, st, "setting pool '%s'", name);
}

int store_pool_delete(struct store *s, const char *name)
{
	if (name && strcmp(name, STORE_DEFAULT_POOL) == 0)
		return fail(s, -EPERM, "the pool '%s' cannot be deleted (its slots can be changed)",
			    STORE_DEFAULT_POOL);
	sqlite3_stmt *st;
	int r = prep(s, ST_POOL_DELETE, &st);
	if (r)
		return r;
	bind_text(s, st, 1, name);
	if ((r = exec_st(s, st, "deleting pool '%s'", S(name))))
		return r;
	if (sqlite3_changes(s->db) == 0)
		return fail(s, -ENOENT, "no pool '%s'", S(name));
	return 0;
}

int store_pool_get(struct store *s, const char *name, struct store_pool *ret)
{
	memset(ret, 0, sizeof(*ret));
	sqlite3_stmt *st;
	int r = prep(s, ST_POOL_GET, &st);
	if (r)
		return r;
	bind_text(s, st, 1, name);
	int rc = step(s, st);
	if (rc == SQLITE_ROW)
		read_pool(st, ret);
	else if (rc == SQLITE_DONE)
		r = fail(s, -ENOENT, "no pool '%s'", S(name));
	else
		r = sql_fail(s, rc, "reading pool '%s'", S(name));
	sqlite3_reset(st);
	return r;
}

int store_pool_list(struct store *s, struct store_pool **ret, size_t *ret_n)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_POOL_LIST, &st);
	if (r)
		return r;
	return list_rows(s, st, sizeof(**ret), read_pool, free_pool_row, (void **)ret, ret_n,
			 "listing pools");
}

/* ---- identities ---------------------------------------------------------------------------- */

void store_user_free(struct store_user *u)
{
	if (!u)
		return;
	free(u->name);
	free(u->role);
	if (u->password_hash)
		memset(u->password_hash, 0, strlen(u->password_hash));
	free(u->password_hash);
	u->name = u->role = u->password_hash = NULL;
}

static void read_user(sqlite3_stmt *st, void *row)
{
	struct store_user *u = row;
	*u = (struct store_user){
	    .name = col_str(st, 0),
	    .role = col_str(st, 1),
	    .password_hash = col_str(st, 2),
	    .created_at = col_int(st, 3),
	    .updated_at = col_int(st, 4),
	    .password_changed_at = col_int(st, 5),
	};
}

static void free_user_row(void *row)
{
	store_user_free(row);
}

/* Step a statement that returns at most one row, read by `read` into ret. -ENOENT when none. */
static int get_row(struct store *s, sqlite3_stmt *st, row_read_fn read, void *ret, const char *what,
		   const char *key)
{
	int r = 0, rc = step(s, st);
	if (rc == SQLITE_ROW)
		read(st, ret);
	else if (rc == SQLITE_DONE)
		r = fail(s, -ENOENT, "no %s '%s'", what, key);
	else
		r = sql_fail(s, rc, "reading %s '%s'", what, key);
	sqlite3_reset(st);
	return r;
}

int store_user_add(struct store *s, struct store_tx *tx, const struct store_user *u)
{
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_USER_ADD, &st)))
		return r;
	bind_text(s, st, 1, u->name);
	bind_text(s, st, 2, u->role);
	bind_text(s, st, 3, u->password_hash);
	bind_int(s, st, 4, u->created_at);
	bind_int(s, st, 5, u->updated_at ? u->updated_at : u->created_at);
	bind_int(s, st, 6, u->password_changed_at ? u->password_changed_at : u->created_at);
	return exec_st(s, st, "adding user '%s'", S(u->name));
}

int store_user_get(struct store *s, const char *name, struct store_user *ret)
{
	memset(ret, 0, sizeof(*ret));
	sqlite3_stmt *st;
	int r = prep(s, ST_USER_GET, &st);
	if (r)
		return r;
	bind_text(s, st, 1, name);
	return get_row(s, st, read_user, ret, "user", S(name));
}

int store_user_list(struct store *s, struct store_user **ret, size_t *ret_n)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_USER_LIST, &st);
	if (r)
		return r;
	return list_rows(s, st, sizeof(**ret), read_user, free_user_row, (void **)ret, ret_n,
			 "listing users");
}

int store_user_count(struct store *s, const char *role, int64_t *ret)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_USER_COUNT, &st);
	if (r)
		return r;
	bind_text(s, st, 1, role);
	int rc = step(s, st);
	if (rc == SQLITE_ROW)
		*ret = col_int(st, 0);
	else
		r = sql_fail(s, rc, "counting users");
	sqlite3_reset(st);
	return r;
}

/* Run a bound statement that names one user; -ENOENT when it changed nothing. */
static int change_user(struct store *s, sqlite3_stmt *st, const char *what, const char *name)
{
	int r = exec_st(s, st, "%s '%s'", what, S(name));
	if (!r && sqlite3_changes(s->db) == 0)
		r = fail(s, -ENOENT, "no user '%s'", S(name));
	return r;
}

/* Run a bound statement with no row to name. */
static int exec_bound(struct store *s, enum stmt_id id, const char *name, int64_t now,
		      const char *what)
{
	sqlite3_stmt *st;
	int r = prep(s, id, &st);
	if (r)
		return r;
	bind_text(s, st, 1, name);
	if (now)
		bind_int(s, st, 2, now);
	return exec_st(s, st, "%s of '%s'", what, S(name));
}

int store_user_set_password(struct store *s, struct store_tx *tx, const char *name,
			    const char *hash, bool end_sessions, int64_t now)
{
	bool own;
	sqlite3_stmt *st;
	int r = op_begin(s, tx, &own);
	if (r)
		return r;
	if (!(r = prep(s, ST_USER_PASSWORD, &st))) {
		bind_text(s, st, 1, name);
		bind_text(s, st, 2, hash);
		bind_int(s, st, 3, now);
		r = change_user(s, st, "changing the password of user", name);
	}
	if (!r && end_sessions)
		r = exec_bound(s, ST_USER_SESSIONS_END, name, 0, "ending the sessions");
	return op_end(s, own, r);
}

int store_user_rehash(struct store *s, const char *name, const char *old_hash, const char *hash)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_USER_REHASH, &st);
	if (r)
		return r;
	bind_text(s, st, 1, name);
	bind_text(s, st, 2, old_hash);
	bind_text(s, st, 3, hash);
	return exec_st(s, st, "storing a new hash of the password of user '%s'", S(name));
}

int store_user_set_role(struct store *s, struct store_tx *tx, const char *name, const char *role,
			int64_t now)
{
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_USER_ROLE, &st)))
		return r;
	bind_text(s, st, 1, name);
	bind_text(s, st, 2, role);
	bind_int(s, st, 3, now);
	return change_user(s, st, "changing the role of user", name);
}

int store_user_delete(struct store *s, struct store_tx *tx, const char *name, int64_t now,
		      int64_t *ret_revoked)
{
	bool own;
	sqlite3_stmt *st;
	int64_t revoked = 0;
	int r = op_begin(s, tx, &own);
	if (r)
		return r;
	if (!(r = exec_bound(s, ST_USER_SESSIONS_END, name, 0, "ending the sessions")) &&
	    !(r = exec_bound(s, ST_USER_TOKENS_REVOKE, name, now, "revoking the tokens")))
		revoked = sqlite3_changes(s->db);
	if (!r && !(r = prep(s, ST_USER_DELETE, &st))) {
		bind_text(s, st, 1, name);
		r = change_user(s, st, "deleting user", name);
	}
	r = op_end(s, own, r);
	if (!r && ret_revoked)
		*ret_revoked = revoked;
	return r;
}

void store_session_free(struct store_session *x)
{
	if (!x)
		return;
	free(x->hash);
	free(x->user);
	free(x->remote_addr);
	x->hash = x->user = x->remote_addr = NULL;
}

static void read_session(sqlite3_stmt *st, void *row)
{
	struct store_session *x = row;
	*x = (struct store_session){
	    .hash = col_str(st, 0),
	    .user = col_str(st, 1),
	    .created_at = col_int(st, 2),
	    .expires_at = col_int(st, 3),
	    .last_seen_at = col_int(st, 4),
	    .remote_addr = col_str(st, 5),
	};
}

int store_session_add(struct store *s, struct store_tx *tx, const struct store_session *x)
{
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_SESSION_ADD, &st)))
		return r;
	bind_text(s, st, 1, x->hash);
	bind_text(s, st, 2, x->user);
	bind_int(s, st, 3, x->created_at);
	bind_int(s, st, 4, x->expires_at);
	bind_int(s, st, 5, x->last_seen_at ? x->last_seen_at : x->created_at);
	bind_text(s, st, 6, x->remote_addr);
	return exec_st(s, st, "adding a session of user '%s'", S(x->user));
}

int store_session_get(struct store *s, const char *hash, struct store_session *ret)
{
	memset(ret, 0, sizeof(*ret));
	sqlite3_stmt *st;
	int r = prep(s, ST_SESSION_GET, &st);
	if (r)
		return r;
	bind_text(s, st, 1, hash);
	/* The key is not worth an error message: it is a hash of a secret. */
	return get_row(s, st, read_session, ret, "session", "(hash)");
}

/* Run a bound statement on one row named by a secret's hash; -ENOENT when none changed. */
static int change_hashed(struct store *s, sqlite3_stmt *st, const char *what)
{
	int r = exec_st(s, st, "%s", what);
	if (!r && sqlite3_changes(s->db) == 0)
		r = fail(s, -ENOENT, "%s: no such session", what);
	return r;
}

int store_session_touch(struct store *s, const char *hash, int64_t last_seen_at, int64_t expires_at)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_SESSION_TOUCH, &st);
	if (r)
		return r;
	bind_text(s, st, 1, hash);
	bind_int(s, st, 2, last_seen_at);
	bind_int(s, st, 3, expires_at);
	return change_hashed(s, st, "touching a session");
}

int store_session_delete(struct store *s, const char *hash)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_SESSION_DELETE, &st);
	if (r)
		return r;
	bind_text(s, st, 1, hash);
	return change_hashed(s, st, "deleting a session");
}

int store_session_sweep(struct store *s, int64_t now, size_t batch)
{
	if (batch > INT_MAX)
		batch = INT_MAX;
	sqlite3_stmt *st;
	int r = prep(s, ST_SESSION_SWEEP, &st);
	if (r)
		return r;
	bind_int(s, st, 1, now);
	bind_int(s, st, 2, (int64_t)batch);
	if ((r = exec_st(s, st, "deleting expired sessions")))
		return r;
	return sqlite3_changes(s->db);
}

void store_token_free(struct store_token *t)
{
	if (!t)
		return;
	free(t->hash);
	free(t->display);
	free(t->name);
	free(t->user);
	free(t->created_by);
	t->hash = t->display = t->name = t->user = t->created_by = NULL;
}

static void read_token(sqlite3_stmt *st, void *row)
{
	struct store_token *t = row;
	*t = (struct store_token){
	    .id = col_int(st, 0),
	    .hash = col_str(st, 1),
	    .display = col_str(st, 2),
	    .name = col_str(st, 3),
	    .user = col_str(st, 4),
	    .created_by = col_str(st, 5),
	    .created_at = col_int(st, 6),
	    .expires_at = col_int(st, 7),
	    .last_used_at = col_int(st, 8),
	    .revoked_at = col_int(st, 9),
	};
}

static void free_token_row(void *row)
{
	store_token_free(row);
}

int store_token_add(struct store *s, struct store_tx *tx, const struct store_token *t,
		    int64_t *ret_id)
{
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_TOKEN_ADD, &st)))
		return r;
	bind_text(s, st, 1, t->hash);
	bind_text(s, st, 2, t->display);
	bind_text(s, st, 3, t->name);
	bind_text(s, st, 4, t->user);
	bind_text(s, st, 5, t->created_by);
	bind_int(s, st, 6, t->created_at);
	bind_int(s, st, 7, t->expires_at);
	r = exec_st(s, st, "adding a token of user '%s'", S(t->user));
	if (!r && ret_id)
		*ret_id = sqlite3_last_insert_rowid(s->db);
	return r;
}

int store_token_get(struct store *s, int64_t id, struct store_token *ret)
{
	memset(ret, 0, sizeof(*ret));
	sqlite3_stmt *st;
	int r = prep(s, ST_TOKEN_GET, &st);
	if (r)
		return r;
	bind_int(s, st, 1, id);
	char key[32];
	snprintf(key, sizeof(key), "%" PRId64, id);
	return get_row(s, st, read_token, ret, "token", key);
}

int store_token_find(struct store *s, const char *hash, struct store_token *ret)
{
	memset(ret, 0, sizeof(*ret));
	sqlite3_stmt *st;
	int r = prep(s, ST_TOKEN_FIND, &st);
	if (r)
		return r;
	bind_text(s, st, 1, hash);
	return get_row(s, st, read_token, ret, "token", "(hash)");
}

int store_token_list(struct store *s, const char *user, struct store_token **ret, size_t *ret_n)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_TOKEN_LIST, &st);
	if (r)
		return r;
	bind_text(s, st, 1, user);
	return list_rows(s, st, sizeof(**ret), read_token, free_token_row, (void **)ret, ret_n,
			 "listing tokens");
}

int store_token_revoke(struct store *s, struct store_tx *tx, int64_t id, int64_t now)
{
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_TOKEN_REVOKE, &st)))
		return r;
	bind_int(s, st, 1, id);
	bind_int(s, st, 2, now);
	if ((r = exec_st(s, st, "revoking token %" PRId64, id)))
		return r;
	if (sqlite3_changes(s->db) > 0)
		return 0;
	struct store_token t;
	if ((r = store_token_get(s, id, &t)))
		return r;
	store_token_free(&t);
	return fail(s, -EALREADY, "token %" PRId64 " was revoked already", id);
}

int store_token_touch(struct store *s, int64_t id, int64_t now)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_TOKEN_TOUCH, &st);
	if (r)
		return r;
	bind_int(s, st, 1, id);
	bind_int(s, st, 2, now);
	if ((r = exec_st(s, st, "touching token %" PRId64, id)))
		return r;
	if (sqlite3_changes(s->db) == 0)
		return fail(s, -ENOENT, "no token %" PRId64, id);
	return 0;
}

void store_audit_free(struct store_audit *a)
{
	if (!a)
		return;
	free(a->actor);
	free(a->via);
	free(a->remote_addr);
	free(a->action);
	free(a->target);
	free(a->detail);
	a->actor = a->via = a->remote_addr = a->action = a->target = a->detail = NULL;
}

static void read_audit(sqlite3_stmt *st, void *row)
{
	struct store_audit *a = row;
	*a = (struct store_audit){
	    .id = col_int(st, 0),
	    .at = col_int(st, 1),
	    .actor = col_str(st, 2),
	    .via = col_str(st, 3),
	    .remote_addr = col_str(st, 4),
	    .action = col_str(st, 5),
	    .target = col_str(st, 6),
	    .detail = col_str(st, 7),
	};
}

static void free_audit_row(void *row)
{
	store_audit_free(row);
}

int store_audit_add(struct store *s, struct store_tx *tx, const struct store_audit *a,
		    int64_t *ret_id)
{
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_AUDIT_ADD, &st)))
		return r;
	bind_int(s, st, 1, a->at);
	bind_text(s, st, 2, a->actor);
	bind_text(s, st, 3, a->via);
	bind_text(s, st, 4, a->remote_addr);
	bind_text(s, st, 5, a->action);
	bind_text(s, st, 6, a->target);
	bind_text(s, st, 7, a->detail);
	r = exec_st(s, st, "adding an audit entry '%s'", S(a->action));
	if (!r && ret_id)
		*ret_id = sqlite3_last_insert_rowid(s->db);
	return r;
}

int store_audit_list(struct store *s, const struct store_audit_filter *f, struct store_audit **ret,
		     size_t *ret_n)
{
	sqlite3_stmt *st;
	bool after = f->after_id > 0;
	int r = prep(s, after ? ST_AUDIT_AFTER : ST_AUDIT_NEWEST, &st);
	if (r)
		return r;
	bind_int(s, st, 1, after ? f->after_id : f->before_id);
	bind_int(s, st, 2, f->limit && f->limit < INT64_MAX ? (int64_t)f->limit : -1);
	bind_text(s, st, 3, f->actor);
	bind_text(s, st, 4, f->action);
	return list_rows(s, st, sizeof(**ret), read_audit, free_audit_row, (void **)ret, ret_n,
			 "listing the audit log");
}

/* ---- variables and connections ------------------------------------------------------------ */

void store_var_free(struct store_var *v)
{
	if (!v)
		return;
	free(v->key);
	free(v->value);
	free(v->description);
	free(v->updated_by);
	v->key = v->value = v->description = v->updated_by = NULL;
}

void store_conn_free(struct store_conn *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->uri);
	free(c->extra);
	free(c->description);
	free(c->updated_by);
	c->name = c->uri = c->extra = c->description = c->updated_by = NULL;
}

static void read_var(sqlite3_stmt *st, void *row)
{
	struct store_var *v = row;
	*v = (struct store_var){
	    .key = col_str(st, 0),
	    .value = col_str(st, 1),
	    .secret = col_int(st, 2) != 0,
	    .description = col_str(st, 3),
	    .updated_at = col_int(st, 4),
	    .updated_by = col_str(st, 5),
	};
}

static void free_var_row(void *row)
{
	store_var_free(row);
}

static void read_conn(sqlite3_stmt *st, void *row)
{
	struct store_conn *c = row;
	*c = (struct store_conn){
	    .name = col_str(st, 0),
	    .uri = col_str(st, 1),
	    .extra = col_str(st, 2),
	    .description = col_str(st, 3),
	    .updated_at = col_int(st, 4),
	    .updated_by = col_str(st, 5),
	};
}

static void free_conn_row(void *row)
{
	store_conn_free(row);
}

/* The statement, then the version bump, in one transaction (or savepoint). */
static int write_bumped(struct store *s, struct store_tx *tx, sqlite3_stmt *st, bool must_change,
			const char *verb, const char *noun, const char *name)
{
	bool own;
	int r = op_begin(s, tx, &own);
	if (r) {
		sqlite3_clear_bindings(st);
		return r;
	}
	r = exec_st(s, st, "%s %s '%s'", verb, noun, name);
	if (r == 0 && must_change && sqlite3_changes(s->db) == 0)
		r = fail(s, -ENOENT, "no %s '%s'", noun, name);
	if (r == 0)
		r = exec_id(s, ST_VARS_BUMP, "counting the change");
	return op_end(s, own, r);
}

int store_var_set(struct store *s, struct store_tx *tx, const struct store_var *v)
{
	if (!v->key || !v->value)
		return fail(s, -EINVAL, "a variable needs a key and a value");
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_VAR_SET, &st)))
		return r;
	bind_text(s, st, 1, v->key);
	bind_text(s, st, 2, v->value);
	bind_int(s, st, 3, v->secret);
	bind_text(s, st, 4, v->description);
	bind_int(s, st, 5, v->updated_at);
	bind_text(s, st, 6, v->updated_by);
	return write_bumped(s, tx, st, false, "setting", "variable", v->key);
}

int store_var_get(struct store *s, const char *key, struct store_var *ret)
{
	memset(ret, 0, sizeof(*ret));
	sqlite3_stmt *st;
	int r = prep(s, ST_VAR_GET, &st);
	if (r)
		return r;
	bind_text(s, st, 1, key);
	int rc = step(s, st);
	if (rc == SQLITE_ROW)
		read_var(st, ret);
	else if (rc == SQLITE_DONE)
		r = fail(s, -ENOENT, "no variable '%s'", S(key));
	else
		r = sql_fail(s, rc, "reading variable '%s'", S(key));
	sqlite3_reset(st);
	return r;
}

int store_var_list(struct store *s, struct store_var **ret, size_t *ret_n)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_VAR_LIST, &st);
	if (r)
		return r;
	return list_rows(s, st, sizeof(**ret), read_var, free_var_row, (void **)ret, ret_n,
			 "listing variables");
}

int store_var_delete(struct store *s, struct store_tx *tx, const char *key)
{
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_VAR_DELETE, &st)))
		return r;
	bind_text(s, st, 1, key);
	return write_bumped(s, tx, st, true, "deleting", "variable", S(key));
}

int store_conn_set(struct store *s, struct store_tx *tx, const struct store_conn *c)
{
	if (!c->name || !c->uri)
		return fail(s, -EINVAL, "a connection needs a name and a URI");
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_CONN_SET, &st)))
		return r;
	bind_text(s, st, 1, c->name);
	bind_text(s, st, 2, c->uri);
	bind_text(s, st, 3, c->extra);
	bind_text(s, st, 4, c->description);
	bind_int(s, st, 5, c->updated_at);
	bind_text(s, st, 6, c->updated_by);
	return write_bumped(s, tx, st, false, "setting", "connection", c->name);
}

int store_conn_get(struct store *s, const char *name, struct store_conn *ret)
{
	memset(ret, 0, sizeof(*ret));
	sqlite3_stmt *st;
	int r = prep(s, ST_CONN_GET, &st);
	if (r)
		return r;
	bind_text(s, st, 1, name);
	int rc = step(s, st);
	if (rc == SQLITE_ROW)
		read_conn(st, ret);
	else if (rc == SQLITE_DONE)
		r = fail(s, -ENOENT, "no connection '%s'", S(name));
	else
		r = sql_fail(s, rc, "reading connection '%s'", S(name));
	sqlite3_reset(st);
	return r;
}

int store_conn_list(struct store *s, struct store_conn **ret, size_t *ret_n)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_CONN_LIST, &st);
	if (r)
		return r;
	return list_rows(s, st, sizeof(**ret), read_conn, free_conn_row, (void **)ret, ret_n,
			 "listing connections");
}

int store_conn_delete(struct store *s, struct store_tx *tx, const char *name)
{
	sqlite3_stmt *st;
	int r = tx_check(s, tx);
	if (r || (r = prep(s, ST_CONN_DELETE, &st)))
		return r;
	bind_text(s, st, 1, name);
	return write_bumped(s, tx, st, true, "deleting", "connection", S(name));
}

int store_vars_version(struct store *s, int64_t *ret)
{
	sqlite3_stmt *st;
	int r = prep(s, ST_VARS_VERSION, &st);
	if (r)
		return r;
	int rc = step(s, st);
	if (rc == SQLITE_ROW)
		*ret = col_int(st, 0);
	else if (rc == SQLITE_DONE)
		*ret = 0;
	else
		r = sql_fail(s, rc, "reading the version of the variables");
	sqlite3_reset(st);
	return r;
}

/* ---- retention ----------------------------------------------------------------------------- */

int store_cleanup(struct store *s, int64_t before, size_t batch, char ***ret_dirs,
		  size_t *ret_n_dirs)
{
	char **runs = NULL, **dirs = NULL;
	size_t n_runs = 0, cap_runs = 0, n_dirs = 0, cap_dirs = 0;
	if (batch > INT_MAX)
		batch = INT_MAX;
	bool own;
	sqlite3_stmt *st;
	int r = op_begin(s, NULL, &own);
	if (r)
		return r;
	if (!(r = prep(s, ST_CLEANUP_RUNS, &st))) {
		bind_int(s, st, 1, before);
		bind_int(s, st, 2, (int64_t)batch);
		int rc;
		while ((rc = step(s, st)) == SQLITE_ROW) {
			runs = xrealloc_array(runs, n_runs + 1, sizeof(*runs), &cap_runs);
			runs[n_runs++] = col_str(st, 0);
		}
		if (rc != SQLITE_DONE)
			r = sql_fail(s, rc, "finding runs to delete");
		sqlite3_reset(st);
	}
	for (size_t i = 0; i < n_runs && !r; i++) {
		if (!(r = prep(s, ST_CLEANUP_DIRS, &st))) {
			bind_text(s, st, 1, runs[i]);
			int rc;
			while ((rc = step(s, st)) == SQLITE_ROW) {
				dirs = xrealloc_array(dirs, n_dirs + 1, sizeof(*dirs), &cap_dirs);
				dirs[n_dirs++] = col_str(st, 0);
			}
			if (rc != SQLITE_DONE)
				r = sql_fail(s, rc, "listing the attempts of run '%s'", runs[i]);
			sqlite3_reset(st);
		}
		if (!r && !(r = prep(s, ST_CLEANUP_RUN, &st))) {
			bind_text(s, st, 1, runs[i]);
			r = exec_st(s, st, "deleting run '%s'", runs[i]);
		}
	}
	if (!r && !(r = prep(s, ST_CLEANUP_COMMANDS, &st))) {
		bind_int(s, st, 1, before);
		bind_int(s, st, 2, (int64_t)batch);
		r = exec_st(s, st, "deleting old commands");
	}
	r = op_end(s, own, r);
	for (size_t i = 0; i < n_runs; i++)
		free(runs[i]);
	free(runs);
	if (r) {
		for (size_t i = 0; i < n_dirs; i++)
			free(dirs[i]);
		free(dirs);
		return r;
	}
	if (ret_dirs) {
		*ret_dirs = dirs;
	} else {
		for (size_t i = 0; i < n_dirs; i++)
			free(dirs[i]);
		free(dirs);
	}
	if (ret_n_dirs)
		*ret_n_dirs = n_dirs;
	return (int)n_runs;
}
