/*
 * schema.c - the SQLite schema as forward-only migrations (see schema.h).
 *
 * Conventions: times are INTEGER milliseconds since the epoch, 0 meaning "not yet"; JSON is
 * TEXT; tables are STRICT so a wrong type is an error, not a silent conversion. Deleting a run
 * cascades to its task instances and attempts (foreign_keys is ON on every connection).
 */
#include "store/schema.h"

#include "base/util.h"

const char *const store_sqlite_migrations[] = {
    /* 1: the first schema. */
    "CREATE TABLE dags (\n"
    "  dag_id       TEXT PRIMARY KEY NOT NULL,\n"
    "  file         TEXT,\n"
    "  version      INTEGER NOT NULL DEFAULT 0,\n" /* current good version; 0: never loaded */
    "  hash         TEXT,\n"
    "  schedule     TEXT,\n"
    "  error        TEXT,\n"
    "  paused       INTEGER NOT NULL DEFAULT 0,\n"
    "  deleted      INTEGER NOT NULL DEFAULT 0,\n"
    "  updated_at   INTEGER NOT NULL DEFAULT 0,\n"
    "  last_logical INTEGER NOT NULL DEFAULT 0\n"
    ") STRICT;\n"
    "CREATE INDEX dags_file ON dags(file);\n"
    "\n"
    "CREATE TABLE dag_versions (\n"
    "  dag_id     TEXT NOT NULL REFERENCES dags(dag_id),\n"
    "  version    INTEGER NOT NULL,\n"
    "  hash       TEXT NOT NULL,\n"
    "  source     TEXT NOT NULL,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  PRIMARY KEY (dag_id, version),\n"
    "  UNIQUE (dag_id, hash)\n"
    ") STRICT;\n"
    "\n"
    "CREATE TABLE runs (\n"
    "  run_id       TEXT PRIMARY KEY NOT NULL,\n"
    "  dag_id       TEXT NOT NULL REFERENCES dags(dag_id),\n"
    "  version      INTEGER NOT NULL,\n"
    "  kind         TEXT NOT NULL CHECK (kind IN ('scheduled', 'manual')),\n"
    "  logical_date INTEGER NOT NULL,\n"
    "  state        TEXT NOT NULL\n"
    "               CHECK (state IN ('queued', 'running', 'success', 'failed', 'cancelled')),\n"
    "  params       TEXT NOT NULL DEFAULT '{}',\n"
    "  message      TEXT,\n"
    "  created_at   INTEGER NOT NULL,\n"
    "  started_at   INTEGER NOT NULL DEFAULT 0,\n"
    "  ended_at     INTEGER NOT NULL DEFAULT 0\n"
    ") STRICT;\n"
    /* A scheduled run exists once per logical date, whoever creates it and however often. */
    "CREATE UNIQUE INDEX runs_scheduled ON runs(dag_id, logical_date) WHERE kind = 'scheduled';\n"
    /* Active runs (state), retention (state, ended_at), listings newest first. */
    "CREATE INDEX runs_state ON runs(state, ended_at);\n"
    "CREATE INDEX runs_dag_created ON runs(dag_id, created_at, run_id);\n"
    "CREATE INDEX runs_created ON runs(created_at, run_id);\n"
    "\n"
    "CREATE TABLE task_instances (\n"
    "  run_id         TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,\n"
    "  task_id        TEXT NOT NULL,\n"
    "  map_index      INTEGER NOT NULL,\n" /* -1: not mapped */
    "  state          TEXT NOT NULL,\n"
    "  try_number     INTEGER NOT NULL DEFAULT 0,\n"
    "  queued_at      INTEGER NOT NULL DEFAULT 0,\n"
    "  started_at     INTEGER NOT NULL DEFAULT 0,\n"
    "  ended_at       INTEGER NOT NULL DEFAULT 0,\n"
    "  retry_at       INTEGER NOT NULL DEFAULT 0,\n"
    "  exit_code      INTEGER NOT NULL DEFAULT -1,\n"
    "  signal         INTEGER NOT NULL DEFAULT 0,\n"
    "  message        TEXT,\n"
    "  output         TEXT,\n"
    "  item           TEXT,\n"
    "  progress_done  INTEGER NOT NULL DEFAULT 0,\n"
    "  progress_total INTEGER NOT NULL DEFAULT 0,\n"
    "  progress_msg   TEXT,\n"
    "  PRIMARY KEY (run_id, task_id, map_index)\n"
    ") WITHOUT ROWID, STRICT;\n"
    "\n"
    "CREATE TABLE attempts (\n"
    "  id          INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  run_id      TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,\n"
    "  task_id     TEXT NOT NULL,\n"
    "  map_index   INTEGER NOT NULL,\n"
    "  try_number  INTEGER NOT NULL,\n"
    "  launch      INTEGER NOT NULL DEFAULT 1,\n"
    "  dir         TEXT,\n"
    "  queued_at   INTEGER NOT NULL,\n"
    "  ended_at    INTEGER NOT NULL DEFAULT 0,\n" /* 0: may be live */
    "  status      TEXT\n"
    ") STRICT;\n"
    "CREATE UNIQUE INDEX attempts_ti ON attempts(run_id, task_id, map_index, try_number, launch);\n"
    /* What a restarted server must account for: only the live rows are indexed. */
    "CREATE INDEX attempts_live ON attempts(queued_at, id) WHERE ended_at = 0;\n"
    "\n"
    "CREATE TABLE commands (\n"
    "  id         INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  kind       TEXT NOT NULL,\n"
    "  args       TEXT NOT NULL DEFAULT '{}',\n"
    "  created_at INTEGER NOT NULL,\n"
    "  done_at    INTEGER,\n" /* NULL: pending */
    "  result     TEXT\n"
    ") STRICT;\n"
    "CREATE INDEX commands_pending ON commands(id) WHERE done_at IS NULL;\n"
    "\n"
    "CREATE TABLE kv (\n"
    "  key   TEXT PRIMARY KEY NOT NULL,\n"
    "  value TEXT NOT NULL\n"
    ") WITHOUT ROWID, STRICT;\n",

    /* 2: pools, and what admission control needs to know of each task instance. Rows written
     * before keep the defaults: the default pool, one slot, weight 1, no declared resources. */
    "CREATE TABLE pools (\n"
    "  name        TEXT PRIMARY KEY NOT NULL,\n"
    "  slots       INTEGER NOT NULL CHECK (slots BETWEEN 0 AND 1000000),\n"
    "  description TEXT,\n"
    "  from_config INTEGER NOT NULL DEFAULT 0,\n" /* written from config.yaml by the server */
    "  updated_at  INTEGER NOT NULL DEFAULT 0\n"
    ") STRICT;\n"
    "INSERT INTO pools (name, slots, description) "
    "VALUES ('default_pool', 128, 'tasks that name no pool');\n"
    "\n"
    "ALTER TABLE task_instances ADD COLUMN pool TEXT NOT NULL DEFAULT 'default_pool';\n"
    "ALTER TABLE task_instances ADD COLUMN pool_slots INTEGER NOT NULL DEFAULT 1;\n"
    "ALTER TABLE task_instances ADD COLUMN weight INTEGER NOT NULL DEFAULT 1;\n"
    "ALTER TABLE task_instances ADD COLUMN cpu_milli INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE task_instances ADD COLUMN memory INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE task_instances ADD COLUMN disk INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE task_instances ADD COLUMN disk_path TEXT;\n"
    /* The TIs that hold or wait for slots, by pool: a pool's usage is read from this index
     * alone (it covers state and pool_slots). Queries must repeat the WHERE term verbatim for
     * SQLite to use it. */
    "CREATE INDEX task_instances_active ON task_instances(pool, state, pool_slots)\n"
    "  WHERE state IN ('scheduled', 'queued', 'running');\n",

    /* 3: DAG sources apart from their versions, in parts (store_dag_source_put), so that a
     * large file is written in short transactions, before the version that uses it. A source
     * is known by its DAG and content hash, as versions are. */
    "CREATE TABLE dag_sources (\n"
    "  dag_id     TEXT NOT NULL,\n"
    "  hash       TEXT NOT NULL,\n"
    "  part       INTEGER NOT NULL,\n"
    "  data       BLOB NOT NULL,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  PRIMARY KEY (dag_id, hash, part)\n"
    ") STRICT;\n"
    "INSERT INTO dag_sources (dag_id, hash, part, data, created_at)\n"
    "  SELECT dag_id, hash, 0, CAST(source AS BLOB), created_at FROM dag_versions;\n"
    "ALTER TABLE dag_versions DROP COLUMN source;\n",

    /* 4: the sweep of unused sources finds old parts by their time. Without it, it scanned the
     * whole table, reading every blob to reach created_at after it (1.2 GB after an hour of
     * chaos), under the write lock: the loop's commits waited 1.8 s. */
    "CREATE INDEX dag_sources_created ON dag_sources(created_at);\n",

    /* 5: a page of runs in one state (runs list --state, the API's ?state=) walks the index
     * in its order instead of sorting every run in that state. */
    "CREATE INDEX runs_state_created ON runs(state, created_at, run_id);\n",

    /* 6: identities of the HTTP API (docs/users.md). Sessions and tokens are kept by the
     * BLAKE2b hash of their secret, never the secret. A session belongs to its user (deleting
     * the user deletes them); a token names its user without a foreign key, so that a removed
     * user's tokens stay listed, revoked, for the audit trail. Audit ids only grow
     * (AUTOINCREMENT never reuses one), which makes them a cursor. */
    "CREATE TABLE users (\n"
    "  name                TEXT PRIMARY KEY NOT NULL,\n"
    "  role                TEXT NOT NULL\n"
    "                      CHECK (role IN ('viewer', 'operator', 'editor', 'admin')),\n"
    "  password_hash       TEXT NOT NULL,\n"
    "  created_at          INTEGER NOT NULL,\n"
    "  updated_at          INTEGER NOT NULL,\n"
    "  password_changed_at INTEGER NOT NULL\n"
    ") STRICT;\n"
    "CREATE INDEX users_role ON users(role);\n"
    "\n"
    "CREATE TABLE sessions (\n"
    "  hash         TEXT PRIMARY KEY NOT NULL,\n"
    "  user         TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,\n"
    "  created_at   INTEGER NOT NULL,\n"
    "  expires_at   INTEGER NOT NULL,\n" /* the earlier of the idle and the absolute limit */
    "  last_seen_at INTEGER NOT NULL,\n"
    "  remote_addr  TEXT\n"
    ") WITHOUT ROWID, STRICT;\n"
    "CREATE INDEX sessions_user ON sessions(user);\n"
    "CREATE INDEX sessions_expires ON sessions(expires_at);\n"
    "\n"
    "CREATE TABLE api_tokens (\n"
    "  id           INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  hash         TEXT NOT NULL UNIQUE,\n"
    "  display      TEXT NOT NULL,\n"
    "  name         TEXT NOT NULL,\n"
    "  user         TEXT NOT NULL,\n"
    "  created_by   TEXT NOT NULL,\n"
    "  created_at   INTEGER NOT NULL,\n"
    "  expires_at   INTEGER NOT NULL DEFAULT 0,\n" /* 0: never */
    "  last_used_at INTEGER NOT NULL DEFAULT 0,\n"
    "  revoked_at   INTEGER NOT NULL DEFAULT 0\n"
    ") STRICT;\n"
    "CREATE INDEX api_tokens_user ON api_tokens(user, id);\n"
    "\n"
    "CREATE TABLE audit (\n"
    "  id          INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  at          INTEGER NOT NULL,\n"
    "  actor       TEXT NOT NULL,\n"
    "  via         TEXT NOT NULL CHECK (via IN ('cli', 'api', 'server')),\n"
    "  remote_addr TEXT,\n"
    "  action      TEXT NOT NULL,\n"
    "  target      TEXT,\n"
    "  detail      TEXT NOT NULL DEFAULT '{}'\n"
    ") STRICT;\n"
    "CREATE INDEX audit_actor ON audit(actor, id);\n"
    "CREATE INDEX audit_action ON audit(action, id);\n",

    /* 7: variables and connections (docs/variables.md). The store keeps what it is given: a
     * secret variable's value and every connection's URI arrive encrypted ("v1:...", ops/vars.c),
     * so a copy of the database shows no secret. kv "vars.version" counts their changes, so a
     * server notices a write by another process with one read. Self-contained: it may be
     * renumbered when merged beside another migration. */
    "CREATE TABLE variables (\n"
    "  key         TEXT PRIMARY KEY NOT NULL,\n"
    "  value       TEXT NOT NULL,\n" /* "v1:..." when secret */
    "  secret      INTEGER NOT NULL DEFAULT 0 CHECK (secret IN (0, 1)),\n"
    "  description TEXT,\n"
    "  updated_at  INTEGER NOT NULL DEFAULT 0,\n"
    "  updated_by  TEXT\n"
    ") WITHOUT ROWID, STRICT;\n"
    "CREATE TABLE connections (\n"
    "  name        TEXT PRIMARY KEY NOT NULL,\n"
    "  uri         TEXT NOT NULL,\n" /* always "v1:...": URIs carry passwords */
    "  extra       TEXT,\n"	     /* a JSON object, or NULL */
    "  description TEXT,\n"
    "  updated_at  INTEGER NOT NULL DEFAULT 0,\n"
    "  updated_by  TEXT\n"
    ") WITHOUT ROWID, STRICT;\n"
    "INSERT OR IGNORE INTO kv (key, value) VALUES ('vars.version', '0');\n",

    /* 8: a run's note, said by whoever triggered it (`--note`, the API's "note"). Self-
     * contained: it may be renumbered when merged beside another migration. */
    "ALTER TABLE runs ADD COLUMN note TEXT;\n",
};

const size_t store_sqlite_n_migrations = ARRAY_SIZE(store_sqlite_migrations);
