/*
 * Tests for store/store_sqlite.c: every function, round trips of every field, the unique-key
 * rules, migrations and the refusal of a newer schema, transactions, two handles on one file
 * (the server and a CLI), retention, and the figures of the hot path (printed, not asserted).
 *
 * Databases live in a fresh folder under $TMPDIR, else /dev/shm, else /tmp.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "store/schema.h"
#include "store/store.h"
#include "test.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *tmp_base(void)
{
	const char *t = getenv("TMPDIR");
	if (t && *t && access(t, W_OK) == 0)
		return t;
	if (access("/dev/shm", W_OK) == 0)
		return "/dev/shm";
	return "/tmp";
}

struct fixture {
	char *dir;
	char *path;
	struct store *s;
};

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char *p = xasprintf("%s/%s", dir, de->d_name);
		unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}

static struct store *open_ok(const char *path)
{
	struct store *s = NULL;
	char *msg = NULL;
	int r = store_open(path, &s, &msg);
	if (r != 0)
		test_fail(__FILE__, __LINE__, "store_open(%s): %d %s", path, r, msg ? msg : "");
	ASSERT(msg == NULL);
	return s;
}

static struct fixture setup(void)
{
	struct fixture f;
	f.dir = xasprintf("%s/gust-store-XXXXXX", tmp_base());
	if (!mkdtemp(f.dir))
		test_fail(__FILE__, __LINE__, "mkdtemp %s: %s", f.dir, strerror(errno));
	f.path = xasprintf("%s/gust.db", f.dir);
	f.s = open_ok(f.path);
	return f;
}

static void teardown(struct fixture *f)
{
	store_close(f->s);
	rm_rf(f->dir);
	free(f->dir);
	free(f->path);
}

/* A DAG "d" (version 1) and a run "r1" of it, the base of most tests. */
static void add_dag(struct store *s, const char *dag_id)
{
	int64_t v = 0;
	ASSERT_INT_EQ(
	    store_dag_loaded(s, NULL, dag_id, "dags/d.yaml", "h1", "tasks: {}", "@daily", 1000, &v),
	    0);
	ASSERT_INT_EQ(v, 1);
}

static void add_run(struct store *s, const char *run_id, const char *dag_id,
		    enum store_run_kind kind, int64_t logical, int64_t created)
{
	struct store_run r = {.run_id = (char *)run_id,
			      .dag_id = (char *)dag_id,
			      .version = 1,
			      .kind = kind,
			      .logical_date = logical,
			      .params = "{\"n\":1}",
			      .created_at = created};
	int rc = store_run_create(s, NULL, &r);
	if (rc != 0)
		test_fail(__FILE__, __LINE__, "store_run_create(%s): %d %s", run_id, rc,
			  store_errmsg(s));
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	ASSERT_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		test_fail(__FILE__, __LINE__, "%s: %s", sql, err);
	sqlite3_close(db);
}

static char *raw_text(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	ASSERT_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	ASSERT_INT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	char *v = NULL;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		v = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* The details of a query's plan, one line per step. */
static char *raw_plan(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	ASSERT_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	char *q = xasprintf("EXPLAIN QUERY PLAN %s", sql);
	ASSERT_INT_EQ(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	char *v = xstrdup("");
	while (sqlite3_step(st) == SQLITE_ROW) {
		char *next = xasprintf("%s%s\n", v, (const char *)sqlite3_column_text(st, 3));
		free(v);
		v = next;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(q);
	return v;
}

/* ---- opening and migrations ---------------------------------------------------------------- */

TEST(store_open_migrates_a_new_file)
{
	struct fixture f = setup();
	ASSERT_INT_EQ(store_schema_version(f.s), (int)store_sqlite_n_migrations);
	char *mode = raw_text(f.path, "PRAGMA journal_mode");
	ASSERT_STR_EQ(mode, "wal");
	free(mode);
	char *uv = raw_text(f.path, "PRAGMA user_version");
	ASSERT_INT_EQ(atoi(uv), (int)store_sqlite_n_migrations);
	free(uv);
	char *n = raw_text(f.path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
				   "name IN ('dags', 'dag_versions', 'runs', 'task_instances', "
				   "'attempts', 'commands', 'kv', 'pools')");
	ASSERT_STR_EQ(n, "8");
	free(n);
	/* Reopening finds it current and keeps the data. */
	ASSERT_INT_EQ(store_kv_set(f.s, NULL, "k", "v"), 0);
	store_close(f.s);
	f.s = open_ok(f.path);
	char *v = NULL;
	ASSERT_INT_EQ(store_kv_get(f.s, "k", &v), 0);
	ASSERT_STR_EQ(v, "v");
	free(v);
	teardown(&f);
}

TEST(store_open_refuses_a_newer_schema)
{
	struct fixture f = setup();
	store_close(f.s);
	f.s = NULL;
	char *newer = xasprintf("PRAGMA user_version = %d", (int)store_sqlite_n_migrations + 1);
	raw_exec(f.path, newer);
	free(newer);
	struct store *s = NULL;
	char *msg = NULL;
	ASSERT_INT_EQ(store_open(f.path, &s, &msg), -EPROTO);
	ASSERT(s == NULL);
	char *want = xasprintf("the database at %s has schema version %d, but this gust knows only "
			       "up to %d: use a newer gust",
			       f.path, (int)store_sqlite_n_migrations + 1,
			       (int)store_sqlite_n_migrations);
	ASSERT_STR_EQ(msg, want);
	free(want);
	free(msg);
	/* Nothing was changed: the version is still the newer one. */
	char *uv = raw_text(f.path, "PRAGMA user_version");
	ASSERT_INT_EQ(atoi(uv), (int)store_sqlite_n_migrations + 1);
	free(uv);
	teardown(&f);
}

TEST(store_open_failures_say_why)
{
	struct fixture f = setup();
	struct store *s = NULL;
	char *msg = NULL;
	char *missing = xasprintf("%s/no-such-folder/gust.db", f.dir);
	ASSERT_INT_EQ(store_open(missing, &s, &msg), -ENOENT);
	ASSERT_STR_CONTAINS(msg, "no-such-folder");
	ASSERT_STR_CONTAINS(msg, "No such file or directory");
	free(msg);
	free(missing);

	char *junk = xasprintf("%s/junk.db", f.dir);
	FILE *fp = fopen(junk, "w");
	ASSERT(fp);
	for (int i = 0; i < 100; i++)
		fputs("this is not a database, not at all\n", fp);
	fclose(fp);
	msg = NULL;
	ASSERT(store_open(junk, &s, &msg) < 0);
	ASSERT_STR_CONTAINS(msg, junk);
	ASSERT_STR_CONTAINS(msg, "not a database");
	free(msg);
	free(junk);

	msg = NULL;
	ASSERT_INT_EQ(store_open("", &s, &msg), -EINVAL);
	free(msg);
	ASSERT_INT_EQ(store_open("/nonexistent-gust-dir/x.db", &s, NULL), -ENOENT);
	store_close(NULL);
	teardown(&f);
}

TEST(store_open_in_memory)
{
	struct store *s = open_ok(":memory:");
	add_dag(s, "d");
	add_run(s, "r", "d", STORE_RUN_MANUAL, 0, 5);
	struct store_run r;
	ASSERT_INT_EQ(store_run_get(s, "r", &r), 0);
	store_run_free(&r);
	store_close(s);
}

/* A failed get leaves a row that is safe to free (the API frees it on every path). */
TEST(store_failed_gets_leave_a_zeroed_row)
{
	struct store *s = open_ok(":memory:");
	struct store_run r;
	memset(&r, 0xa5, sizeof(r));
	ASSERT_INT_EQ(store_run_get(s, "nope", &r), -ENOENT);
	ASSERT(r.run_id == NULL && r.state == NULL);
	store_run_free(&r);
	struct store_ti t;
	memset(&t, 0xa5, sizeof(t));
	ASSERT_INT_EQ(store_ti_get(s, "nope", "a", -1, &t), -ENOENT);
	ASSERT(t.run_id == NULL && t.task_id == NULL);
	store_ti_free(&t);
	struct store_dag d;
	memset(&d, 0xa5, sizeof(d));
	ASSERT_INT_EQ(store_dag_get(s, "nope", &d), -ENOENT);
	store_dag_free(&d);
	struct store_pool p;
	memset(&p, 0xa5, sizeof(p));
	ASSERT_INT_EQ(store_pool_get(s, "nope", &p), -ENOENT);
	store_pool_free(&p);
	store_close(s);
}

/* ---- durability ---------------------------------------------------------------------------- */

static enum store_durability durability_of(struct store *s)
{
	enum store_durability d = STORE_DURABILITY_RECORDED;
	int r = store_durability(s, &d);
	if (r != 0)
		test_fail(__FILE__, __LINE__, "store_durability: %d %s", r, store_errmsg(s));
	return d;
}

static struct store *open_with_ok(const char *path, enum store_durability d)
{
	struct store *s = NULL;
	char *msg = NULL;
	struct store_options o = {.durability = d};
	int r = store_open_with(path, &o, &s, &msg);
	if (r != 0)
		test_fail(__FILE__, __LINE__, "store_open_with(%s, %s): %d %s", path,
			  store_durability_name(d), r, msg ? msg : "");
	return s;
}

TEST(store_durability_names)
{
	enum store_durability d = STORE_DURABILITY_RECORDED;
	ASSERT_INT_EQ(store_durability_parse("normal", &d), 0);
	ASSERT_INT_EQ(d, STORE_DURABILITY_NORMAL);
	ASSERT_INT_EQ(store_durability_parse("full", &d), 0);
	ASSERT_INT_EQ(d, STORE_DURABILITY_FULL);
	ASSERT_INT_EQ(store_durability_parse("FULL", &d), -EINVAL);
	ASSERT_INT_EQ(store_durability_parse("recorded", &d), -EINVAL);
	ASSERT_INT_EQ(store_durability_parse("", &d), -EINVAL);
	ASSERT_INT_EQ(store_durability_parse(NULL, &d), -EINVAL);
	ASSERT_INT_EQ(d, STORE_DURABILITY_FULL); /* untouched on failure */
	ASSERT_STR_EQ(store_durability_name(STORE_DURABILITY_RECORDED), "recorded");
	ASSERT_STR_EQ(store_durability_name(STORE_DURABILITY_NORMAL), "normal");
	ASSERT_STR_EQ(store_durability_name(STORE_DURABILITY_FULL), "full");
	ASSERT_STR_EQ(store_durability_name((enum store_durability)7), "unknown");
}

/* store_durability() reads PRAGMA synchronous back from the handle's own connection (the
 * setting is per connection): 1 is NORMAL, 2 is FULL. */
TEST(store_durability_is_in_force_and_followed_by_later_opens)
{
	struct fixture f = setup();
	/* A store nobody chose for: NORMAL, and nothing recorded. */
	ASSERT_INT_EQ(durability_of(f.s), STORE_DURABILITY_NORMAL);
	char *v = NULL;
	ASSERT_INT_EQ(store_kv_get(f.s, "store.durability", &v), -ENOENT);
	store_close(f.s);

	/* The server's open: FULL, recorded; commits work under it. */
	f.s = open_with_ok(f.path, STORE_DURABILITY_FULL);
	ASSERT_INT_EQ(durability_of(f.s), STORE_DURABILITY_FULL);
	add_dag(f.s, "d");
	v = raw_text(f.path, "SELECT value FROM kv WHERE key = 'store.durability'");
	ASSERT_STR_EQ(v, "full");
	free(v);
	/* A CLI's open while the server runs, and after: it follows the record. */
	struct store *cli = open_ok(f.path);
	ASSERT_INT_EQ(durability_of(cli), STORE_DURABILITY_FULL);
	add_run(cli, "r1", "d", STORE_RUN_MANUAL, 0, 5);
	struct store_tx *tx = NULL;
	ASSERT_INT_EQ(store_begin(cli, &tx), 0);
	ASSERT_INT_EQ(durability_of(cli), STORE_DURABILITY_FULL); /* readable inside one too */
	ASSERT_INT_EQ(store_commit(tx), 0);
	store_close(cli);
	store_close(f.s);
	f.s = open_ok(f.path);
	ASSERT_INT_EQ(durability_of(f.s), STORE_DURABILITY_FULL);
	store_close(f.s);

	/* Back to NORMAL: recorded too, so later opens follow. */
	f.s = open_with_ok(f.path, STORE_DURABILITY_NORMAL);
	ASSERT_INT_EQ(durability_of(f.s), STORE_DURABILITY_NORMAL);
	cli = open_ok(f.path);
	ASSERT_INT_EQ(durability_of(cli), STORE_DURABILITY_NORMAL);
	store_close(cli);
	/* An explicit RECORDED is what store_open does. */
	cli = open_with_ok(f.path, STORE_DURABILITY_RECORDED);
	ASSERT_INT_EQ(durability_of(cli), STORE_DURABILITY_NORMAL);
	store_close(cli);
	store_close(f.s);

	/* A value this gust does not know (a newer one's): the safer side. */
	raw_exec(f.path, "UPDATE kv SET value = 'extra' WHERE key = 'store.durability'");
	f.s = open_ok(f.path);
	ASSERT_INT_EQ(durability_of(f.s), STORE_DURABILITY_FULL);
	store_close(f.s);

	/* A bad option is refused with a sentence. */
	struct store_options bad = {.durability = (enum store_durability)7};
	char *msg = NULL;
	struct store *s = NULL;
	ASSERT_INT_EQ(store_open_with(f.path, &bad, &s, &msg), -EINVAL);
	ASSERT(s == NULL);
	ASSERT_STR_CONTAINS(msg, "unknown durability 7");
	free(msg);

	f.s = open_ok(f.path);
	teardown(&f);

	/* In memory too. */
	s = open_with_ok(":memory:", STORE_DURABILITY_FULL);
	ASSERT_INT_EQ(durability_of(s), STORE_DURABILITY_FULL);
	store_close(s);
}

TEST(store_open_migrates_schema_1_to_pools)
{
	/* A database as the first gust left it, with a running TI. */
	char *dir = xasprintf("%s/gust-store-XXXXXX", tmp_base());
	ASSERT(mkdtemp(dir));
	char *path = xasprintf("%s/gust.db", dir);
	raw_exec(path, store_sqlite_migrations[0]);
	raw_exec(path, "PRAGMA user_version = 1;"
		       "INSERT INTO dags (dag_id) VALUES ('d');"
		       "INSERT INTO runs (run_id, dag_id, version, kind, logical_date, state, "
		       "created_at) VALUES ('r', 'd', 1, 'manual', 0, 'running', 1);"
		       "INSERT INTO task_instances (run_id, task_id, map_index, state) "
		       "VALUES ('r', 't', -1, 'running');");
	struct store *s = open_ok(path);
	ASSERT_INT_EQ(store_schema_version(s), (int)store_sqlite_n_migrations);
	/* The old run has no note (migration 8). */
	struct store_run run;
	ASSERT_INT_EQ(store_run_get(s, "r", &run), 0);
	ASSERT(run.note == NULL);
	store_run_free(&run);
	/* The old row has the defaults, the default pool exists and counts it. */
	struct store_ti t;
	ASSERT_INT_EQ(store_ti_get(s, "r", "t", -1, &t), 0);
	ASSERT_STR_EQ(t.pool, "default_pool");
	ASSERT_INT_EQ(t.pool_slots, 1);
	ASSERT_INT_EQ(t.weight, 1);
	ASSERT_INT_EQ(t.cpu_milli, 0);
	ASSERT_INT_EQ(t.memory, 0);
	ASSERT_INT_EQ(t.disk, 0);
	ASSERT(t.disk_path == NULL);
	store_ti_free(&t);
	struct store_pool p;
	ASSERT_INT_EQ(store_pool_get(s, "default_pool", &p), 0);
	ASSERT_INT_EQ(p.slots, 128);
	ASSERT_INT_EQ(p.used, 1);
	ASSERT_INT_EQ(p.running, 1);
	ASSERT_INT_EQ(p.waiting, 0);
	ASSERT(!p.from_config);
	store_pool_free(&p);
	store_close(s);
	char *uv = raw_text(path, "PRAGMA user_version");
	ASSERT_INT_EQ(atoi(uv), (int)store_sqlite_n_migrations);
	free(uv);
	/* The usage and the active listings read the partial index. */
	char *plan = raw_plan(path, "SELECT pool, sum(pool_slots) FROM task_instances WHERE "
				    "state IN ('scheduled', 'queued', 'running') GROUP BY pool");
	ASSERT_STR_CONTAINS(plan, "USING COVERING INDEX task_instances_active");
	free(plan);
	/* A page of the runs in one state walks an index in order: no sort of them all. */
	plan = raw_plan(path, "SELECT run_id FROM runs WHERE state = 'success' AND (created_at, "
			      "run_id) < (5, 'x') ORDER BY created_at DESC, run_id DESC LIMIT 50");
	ASSERT_STR_CONTAINS(plan, "runs_state_created");
	ASSERT(!strstr(plan, "TEMP B-TREE"));
	free(plan);
	rm_rf(dir);
	free(path);
	free(dir);
}

TEST(store_open_migrates_schema_2_sources_apart)
{
	/* Versions of schema 2 kept their source in dag_versions: it moves to dag_sources. */
	char *dir = xasprintf("%s/gust-store-XXXXXX", tmp_base());
	ASSERT(mkdtemp(dir));
	char *path = xasprintf("%s/gust.db", dir);
	raw_exec(path, store_sqlite_migrations[0]);
	raw_exec(path, store_sqlite_migrations[1]);
	raw_exec(path, "PRAGMA user_version = 2;"
		       "INSERT INTO dags (dag_id, version, hash) VALUES ('d', 2, 'h2');"
		       "INSERT INTO dag_versions (dag_id, version, hash, source, created_at) "
		       "VALUES ('d', 1, 'h1', 'tasks: {a: x}', 5), ('d', 2, 'h2', '', 6);");
	struct store *s = open_ok(path);
	ASSERT_INT_EQ(store_schema_version(s), (int)store_sqlite_n_migrations);
	char *src = NULL;
	ASSERT_INT_EQ(store_dag_version_source(s, "d", 1, &src), 0);
	ASSERT_STR_EQ(src, "tasks: {a: x}");
	free(src);
	ASSERT_INT_EQ(store_dag_version_source(s, "d", 2, &src), 0);
	ASSERT_STR_EQ(src, "");
	free(src);
	/* A new content still gets the next number. */
	int64_t v = 0;
	ASSERT_INT_EQ(store_dag_loaded(s, NULL, "d", "d.yaml", "h3", "tasks: {b: y}", NULL, 7, &v),
		      0);
	ASSERT_INT_EQ(v, 3);
	store_close(s);
	char *cols =
	    raw_text(path, "SELECT group_concat(name) FROM pragma_table_info('dag_versions')");
	ASSERT(strstr(cols, "source") == NULL);
	free(cols);
	rm_rf(dir);
	free(path);
	free(dir);
}

TEST(store_open_migrates_schema_5_to_identities)
{
	/* A store of schema 5 with a run: 6 adds users, sessions, tokens and the audit log, and
	 * leaves the run alone. */
	char *dir = xasprintf("%s/gust-store-XXXXXX", tmp_base());
	ASSERT(mkdtemp(dir));
	char *path = xasprintf("%s/gust.db", dir);
	for (int i = 0; i < 5; i++)
		raw_exec(path, store_sqlite_migrations[i]);
	raw_exec(path, "PRAGMA user_version = 5;"
		       "INSERT INTO dags (dag_id) VALUES ('d');"
		       "INSERT INTO runs (run_id, dag_id, version, kind, logical_date, state, "
		       "created_at) VALUES ('r', 'd', 1, 'manual', 0, 'queued', 1);");
	struct store *s = open_ok(path);
	ASSERT_INT_EQ(store_schema_version(s), (int)store_sqlite_n_migrations);
	struct store_run r;
	ASSERT_INT_EQ(store_run_get(s, "r", &r), 0);
	ASSERT_STR_EQ(r.state, "queued");
	store_run_free(&r);
	int64_t n = -1;
	ASSERT_INT_EQ(store_user_count(s, NULL, &n), 0);
	ASSERT_INT_EQ(n, 0);
	struct store_user u = {
	    .name = "ann", .role = "admin", .password_hash = "$h", .created_at = 9};
	ASSERT_INT_EQ(store_user_add(s, NULL, &u), 0);
	store_close(s);
	char *uv = raw_text(path, "PRAGMA user_version");
	ASSERT_INT_EQ(atoi(uv), (int)store_sqlite_n_migrations);
	free(uv);
	char *tables = raw_text(path, "SELECT group_concat(name, ',') FROM (SELECT name FROM "
				      "sqlite_schema WHERE type = 'table' AND name IN ('users', "
				      "'sessions', 'api_tokens', 'audit') ORDER BY name)");
	ASSERT_STR_EQ(tables, "api_tokens,audit,sessions,users");
	free(tables);
	/* The schema refuses a role it does not know and a via it does not know. */
	sqlite3 *db;
	ASSERT_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	ASSERT(sqlite3_exec(db, "INSERT INTO users VALUES ('x', 'root', 'h', 1, 1, 1)", NULL, NULL,
			    NULL) != SQLITE_OK);
	ASSERT(sqlite3_exec(db,
			    "INSERT INTO audit (at, actor, via, action) VALUES (1, 'a', "
			    "'mail', 'x')",
			    NULL, NULL, NULL) != SQLITE_OK);
	sqlite3_close(db);
	/* Audit listings by actor walk their index. */
	char *plan = raw_plan(path, "SELECT id FROM audit WHERE actor = 'a' ORDER BY id DESC");
	ASSERT_STR_CONTAINS(plan, "audit_actor");
	free(plan);
	rm_rf(dir);
	free(path);
	free(dir);
}

/* ---- DAGs ---------------------------------------------------------------------------------- */

/* With checkpoints apart, the log still reaches the database file: the thread copies it. */
TEST(store_checkpoint_apart_copies_the_log)
{
	struct fixture f = setup();
	ASSERT_INT_EQ(store_checkpoint_apart(f.s), 0);
	ASSERT_INT_EQ(store_checkpoint_apart(f.s), 0); /* once is enough; twice is harmless */
	size_t len = 6u << 20;
	char *big = xmalloc(len + 1);
	memset(big, 'x', len);
	big[len] = '\0';
	int64_t v = 0;
	ASSERT_INT_EQ(store_dag_loaded(f.s, NULL, "d", "d.yaml", "h", big, NULL, 1, &v), 0);
	struct stat sb = {0};
	int64_t deadline = mono_ms() + 20000;
	while ((stat(f.path, &sb) < 0 || sb.st_size < (off_t)len) && mono_ms() < deadline)
		usleep(10000);
	ASSERT(sb.st_size >= (off_t)len);
	char *src = NULL;
	ASSERT_INT_EQ(store_dag_version_source(f.s, "d", 1, &src), 0);
	ASSERT(strlen(src) == len);
	free(src);
	free(big);
	teardown(&f);

	struct store *m = open_ok(":memory:");
	ASSERT_INT_EQ(store_checkpoint_apart(m), 0);
	store_close(m);
}

/* A source several parts long, stored ahead by one connection, recorded by another. */
TEST(store_dag_source_put_in_parts)
{
	struct fixture f = setup();
	struct store *s = f.s;
	size_t len = 2 * STORE_SOURCE_PART + 1234;
	char *big = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		big[i] = (char)('a' + (i * 7 + i / 4096) % 26);
	big[len] = '\0';
	struct store *w = open_ok(f.path);
	ASSERT_INT_EQ(store_dag_source_put(w, "d", "hb", big, len, 100), 0);
	char *n = raw_text(f.path, "SELECT count(*) FROM dag_sources WHERE hash = 'hb'");
	ASSERT_STR_EQ(n, "3");
	free(n);
	/* Not a version yet: nothing to read. */
	char *src = NULL;
	ASSERT_INT_EQ(store_dag_version_source(s, "d", 1, &src), -ENOENT);
	/* Stored already: nothing is written again (created_at stays). */
	ASSERT_INT_EQ(store_dag_source_put(w, "d", "hb", big, len, 200), 0);
	n = raw_text(f.path, "SELECT min(created_at) FROM dag_sources WHERE hash = 'hb'");
	ASSERT_STR_EQ(n, "100");
	free(n);
	int64_t v = 0;
	ASSERT_INT_EQ(store_dag_loaded(s, NULL, "d", "d.yaml", "hb", big, NULL, 300, &v), 0);
	ASSERT_INT_EQ(v, 1);
	ASSERT_INT_EQ(store_dag_version_source(s, "d", 1, &src), 0);
	ASSERT_INT_EQ((int64_t)strlen(src), (int64_t)len);
	ASSERT(memcmp(src, big, len) == 0);
	free(src);

	/* A put cut short (a crash between parts): the parts are written again, whole. */
	raw_exec(f.path, "DELETE FROM dag_sources WHERE hash = 'hb' AND part = 1");
	ASSERT_INT_EQ(store_dag_source_put(w, "d", "hb", big, len, 400), 0);
	ASSERT_INT_EQ(store_dag_version_source(s, "d", 1, &src), 0);
	ASSERT(strlen(src) == len && memcmp(src, big, len) == 0);
	free(src);
	/* ... and store_dag_loaded completes a missing source itself, in its transaction. */
	raw_exec(f.path, "DELETE FROM dag_sources WHERE hash = 'hc'");
	ASSERT_INT_EQ(store_dag_source_put(w, "d", "hc", "abc", 3, 500), 0);
	raw_exec(f.path, "UPDATE dag_sources SET data = CAST('ab' AS BLOB) WHERE hash = 'hc'");
	ASSERT_INT_EQ(store_dag_loaded(s, NULL, "d", "d.yaml", "hc", "abc", NULL, 600, &v), 0);
	ASSERT_INT_EQ(v, 2);
	ASSERT_INT_EQ(store_dag_version_source(s, "d", 2, &src), 0);
	ASSERT_STR_EQ(src, "abc");
	free(src);

	/* Not inside a transaction: each part must be its own. */
	struct store_tx *tx;
	ASSERT_INT_EQ(store_begin(w, &tx), 0);
	ASSERT_INT_EQ(store_dag_source_put(w, "d", "hd", "x", 1, 700), -EINVAL);
	ASSERT_STR_CONTAINS(store_errmsg(w), "a transaction is open");
	store_rollback(tx);

	/* Sources no version uses go, once old enough; used ones stay. */
	ASSERT_INT_EQ(store_dag_source_put(w, "other", "hx", "x", 1, 800), 0);
	int swept = -1;
	ASSERT_INT_EQ(store_dag_sources_sweep(s, 800, &swept), 0);
	ASSERT_INT_EQ(swept, 0);
	ASSERT_INT_EQ(store_dag_sources_sweep(s, 801, &swept), 0);
	ASSERT_INT_EQ(swept, 1);
	ASSERT_INT_EQ(store_dag_version_source(s, "d", 1, &src), 0);
	free(src);
	/* More than one batch of 16 parts; found by their time, not by a scan of every blob. */
	for (int i = 0; i < 40; i++) {
		char hash[16];
		snprintf(hash, sizeof(hash), "old%d", i);
		ASSERT_INT_EQ(store_dag_source_put(w, "other", hash, "x", 1, 900), 0);
	}
	ASSERT_INT_EQ(store_dag_sources_sweep(s, 901, &swept), 0);
	ASSERT_INT_EQ(swept, 40);
	char *plan = raw_plan(f.path, "SELECT rowid FROM dag_sources WHERE created_at < 1");
	ASSERT_STR_CONTAINS(plan, "dag_sources_created");
	free(plan);
	store_close(w);
	free(big);
	teardown(&f);
}

TEST(store_dag_versions_and_fields)
{
	struct fixture f = setup();
	struct store *s = f.s;
	int64_t v = 0;
	ASSERT_INT_EQ(
	    store_dag_loaded(s, NULL, "d", "dags/d.yaml", "h1", "src1", "@daily", 100, &v), 0);
	ASSERT_INT_EQ(v, 1);
	/* Same content: same version. */
	ASSERT_INT_EQ(
	    store_dag_loaded(s, NULL, "d", "dags/d.yaml", "h1", "src1", "@daily", 110, &v), 0);
	ASSERT_INT_EQ(v, 1);
	ASSERT_INT_EQ(store_dag_loaded(s, NULL, "d", "dags/d.yaml", "h2", "src2", NULL, 120, &v),
		      0);
	ASSERT_INT_EQ(v, 2);

	struct store_dag d;
	ASSERT_INT_EQ(store_dag_get(s, "d", &d), 0);
	ASSERT_STR_EQ(d.dag_id, "d");
	ASSERT_STR_EQ(d.file, "dags/d.yaml");
	ASSERT_INT_EQ(d.version, 2);
	ASSERT_STR_EQ(d.hash, "h2");
	ASSERT(d.schedule == NULL);
	ASSERT(d.error == NULL);
	ASSERT(!d.paused && !d.deleted);
	ASSERT_INT_EQ(d.updated_at, 120);
	ASSERT_INT_EQ(d.last_logical, 0);
	store_dag_free(&d);
	ASSERT(d.dag_id == NULL);

	/* A revert makes the old version current again. */
	ASSERT_INT_EQ(
	    store_dag_loaded(s, NULL, "d", "dags/d.yaml", "h1", "src1", "@daily", 130, &v), 0);
	ASSERT_INT_EQ(v, 1);
	ASSERT_INT_EQ(store_dag_get(s, "d", &d), 0);
	ASSERT_INT_EQ(d.version, 1);
	ASSERT_STR_EQ(d.schedule, "@daily");
	store_dag_free(&d);

	char *src = NULL;
	ASSERT_INT_EQ(store_dag_version_source(s, "d", 2, &src), 0);
	ASSERT_STR_EQ(src, "src2");
	free(src);
	src = NULL;
	ASSERT_INT_EQ(store_dag_version_source(s, "d", 3, &src), -ENOENT);
	ASSERT(src == NULL);
	ASSERT_STR_CONTAINS(store_errmsg(s), "'d' version '3");

	struct store_dag_version *vs = NULL;
	size_t nv = 0;
	ASSERT_INT_EQ(store_dag_version_list(s, "d", &vs, &nv), 0);
	ASSERT_INT_EQ(nv, 2);
	ASSERT_INT_EQ(vs[0].version, 2); /* newest first */
	ASSERT_STR_EQ(vs[0].hash, "h2");
	ASSERT_INT_EQ(vs[0].created_at, 120);
	ASSERT_INT_EQ(vs[1].version, 1);
	ASSERT_INT_EQ(vs[1].created_at, 100);
	store_dag_version_list_free(vs, nv);
	ASSERT_INT_EQ(store_dag_version_list(s, "nope", &vs, &nv), 0);
	ASSERT_INT_EQ(nv, 0);
	store_dag_version_list_free(vs, nv);

	/* Broken: the good version stays current; loading again clears the error. */
	ASSERT_INT_EQ(store_dag_broken(s, NULL, "d", "dags/d.yaml", "d.yaml:3:1: error: x", 140),
		      0);
	ASSERT_INT_EQ(store_dag_get(s, "d", &d), 0);
	ASSERT_INT_EQ(d.version, 1);
	ASSERT_STR_EQ(d.hash, "h1");
	ASSERT_STR_EQ(d.error, "d.yaml:3:1: error: x");
	ASSERT_INT_EQ(d.updated_at, 140);
	store_dag_free(&d);
	/* By file, when the id cannot be read. */
	ASSERT_INT_EQ(store_dag_broken(s, NULL, NULL, "dags/d.yaml", "worse", 150), 0);
	ASSERT_INT_EQ(store_dag_get(s, "d", &d), 0);
	ASSERT_STR_EQ(d.error, "worse");
	store_dag_free(&d);
	ASSERT_INT_EQ(store_dag_broken(s, NULL, NULL, "dags/other.yaml", "x", 150), -ENOENT);
	ASSERT_STR_CONTAINS(store_errmsg(s), "dags/other.yaml");
	ASSERT_INT_EQ(store_dag_broken(s, NULL, NULL, NULL, "x", 150), -EINVAL);
	ASSERT_INT_EQ(store_dag_loaded(s, NULL, "d", "dags/d.yaml", "h2", "src2", NULL, 160, &v),
		      0);
	ASSERT_INT_EQ(v, 2);
	ASSERT_INT_EQ(store_dag_get(s, "d", &d), 0);
	ASSERT(d.error == NULL);
	store_dag_free(&d);

	/* A DAG that never loaded. */
	ASSERT_INT_EQ(store_dag_broken(s, NULL, "bad", "dags/bad.yaml", "bad.yaml:1:1: error", 170),
		      0);
	ASSERT_INT_EQ(store_dag_get(s, "bad", &d), 0);
	ASSERT_INT_EQ(d.version, 0);
	ASSERT(d.hash == NULL);
	ASSERT_STR_EQ(d.file, "dags/bad.yaml");
	ASSERT_STR_EQ(d.error, "bad.yaml:1:1: error");
	store_dag_free(&d);

	/* Paused, deleted, last logical. */
	ASSERT_INT_EQ(store_dag_set_paused(s, "d", true), 0);
	ASSERT_INT_EQ(store_dag_set_last_logical(s, NULL, "d", 86400000), 0);
	ASSERT_INT_EQ(store_dag_deleted(s, NULL, "d", 180), 0);
	ASSERT_INT_EQ(store_dag_get(s, "d", &d), 0);
	ASSERT(d.paused && d.deleted);
	ASSERT_INT_EQ(d.last_logical, 86400000);
	ASSERT_INT_EQ(d.updated_at, 180);
	store_dag_free(&d);
	/* Back again: undeleted, still paused. */
	ASSERT_INT_EQ(store_dag_loaded(s, NULL, "d", "dags/d.yaml", "h2", "src2", NULL, 190, &v),
		      0);
	ASSERT_INT_EQ(store_dag_get(s, "d", &d), 0);
	ASSERT(d.paused && !d.deleted);
	store_dag_free(&d);
	ASSERT_INT_EQ(store_dag_set_paused(s, "d", false), 0);
	ASSERT_INT_EQ(store_dag_get(s, "d", &d), 0);
	ASSERT(!d.paused);
	store_dag_free(&d);

	/* Unknown DAGs. */
	ASSERT_INT_EQ(store_dag_get(s, "nope", &d), -ENOENT);
	ASSERT_STR_CONTAINS(store_errmsg(s), "nope");
	ASSERT_INT_EQ(store_dag_set_paused(s, "nope", true), -ENOENT);
	ASSERT_INT_EQ(store_dag_deleted(s, NULL, "nope", 1), -ENOENT);
	ASSERT_INT_EQ(store_dag_set_last_logical(s, NULL, "nope", 1), -ENOENT);
	ASSERT_INT_EQ(store_dag_loaded(s, NULL, "x", "f", "h", NULL, NULL, 1, &v), -EINVAL);

	/* The list, by id. */
	ASSERT_INT_EQ(store_dag_loaded(s, NULL, "a", "dags/a.yaml", "ha", "sa", NULL, 200, NULL),
		      0);
	struct store_dag *list = NULL;
	size_t n = 0;
	ASSERT_INT_EQ(store_dag_list(s, &list, &n), 0);
	ASSERT_INT_EQ(n, 3);
	ASSERT_STR_EQ(list[0].dag_id, "a");
	ASSERT_STR_EQ(list[1].dag_id, "bad");
	ASSERT_STR_EQ(list[2].dag_id, "d");
	ASSERT_INT_EQ(list[2].version, 2);
	for (size_t i = 0; i < n; i++)
		store_dag_free(&list[i]);
	free(list);
	teardown(&f);
}

/* ---- runs ---------------------------------------------------------------------------------- */

TEST(store_run_fields_and_unique_rules)
{
	struct fixture f = setup();
	struct store *s = f.s;
	add_dag(s, "d");
	struct store_run in = {.run_id = "scheduled__1",
			       .dag_id = "d",
			       .version = 1,
			       .kind = STORE_RUN_SCHEDULED,
			       .logical_date = 86400000,
			       .state = "running", /* ignored: a run starts queued */
			       .params = "{\"workers\":4}",
			       .message = "by the scheduler",
			       .created_at = 1000,
			       .started_at = 5,
			       .ended_at = 6,
			       .note = "why: the orders fix"};
	ASSERT_INT_EQ(store_run_create(s, NULL, &in), 0);
	struct store_run r;
	ASSERT_INT_EQ(store_run_get(s, "scheduled__1", &r), 0);
	ASSERT_STR_EQ(r.run_id, "scheduled__1");
	ASSERT_STR_EQ(r.dag_id, "d");
	ASSERT_INT_EQ(r.version, 1);
	ASSERT_INT_EQ(r.kind, STORE_RUN_SCHEDULED);
	ASSERT_INT_EQ(r.logical_date, 86400000);
	ASSERT_STR_EQ(r.state, "queued");
	ASSERT_STR_EQ(r.params, "{\"workers\":4}");
	ASSERT_STR_EQ(r.message, "by the scheduler");
	ASSERT_STR_EQ(r.note, "why: the orders fix");
	ASSERT_INT_EQ(r.created_at, 1000);
	ASSERT_INT_EQ(r.started_at, 0);
	ASSERT_INT_EQ(r.ended_at, 0);
	store_run_free(&r);

	/* The same run id again. */
	in.logical_date = 2 * 86400000;
	ASSERT_INT_EQ(store_run_create(s, NULL, &in), -EEXIST);
	ASSERT_STR_CONTAINS(store_errmsg(s), "scheduled__1");
	/* The same scheduled logical date under another id. */
	in.run_id = "scheduled__1b";
	in.logical_date = 86400000;
	ASSERT_INT_EQ(store_run_create(s, NULL, &in), -EEXIST);
	ASSERT_STR_CONTAINS(store_errmsg(s), "UNIQUE");
	/* A manual run at that date is fine, twice. */
	in.kind = STORE_RUN_MANUAL;
	in.run_id = "manual__1";
	in.params = NULL;
	in.message = NULL;
	ASSERT_INT_EQ(store_run_create(s, NULL, &in), 0);
	in.run_id = "manual__2";
	ASSERT_INT_EQ(store_run_create(s, NULL, &in), 0);
	ASSERT_INT_EQ(store_run_get(s, "manual__2", &r), 0);
	ASSERT_INT_EQ(r.kind, STORE_RUN_MANUAL);
	ASSERT_STR_EQ(r.params, "{}");
	ASSERT(r.message == NULL);
	store_run_free(&r);
	/* Another DAG's scheduled run at the same date is fine. */
	add_dag(s, "e");
	in.dag_id = "e";
	in.kind = STORE_RUN_SCHEDULED;
	in.run_id = "scheduled__e";
	ASSERT_INT_EQ(store_run_create(s, NULL, &in), 0);
	/* Unknown DAG, unknown kind, missing id. */
	in.dag_id = "nope";
	in.run_id = "x";
	ASSERT_INT_EQ(store_run_create(s, NULL, &in), -ENOENT);
	ASSERT_STR_CONTAINS(store_errmsg(s), "FOREIGN KEY");
	in.dag_id = "d";
	in.kind = (enum store_run_kind)7;
	ASSERT_INT_EQ(store_run_create(s, NULL, &in), -EINVAL);
	in.kind = STORE_RUN_MANUAL;
	in.run_id = NULL;
	ASSERT_INT_EQ(store_run_create(s, NULL, &in), -EINVAL);

	/* State changes and their times. */
	ASSERT_INT_EQ(store_run_set_state(s, NULL, "scheduled__1", "running", NULL, 2000), 0);
	ASSERT_INT_EQ(store_run_get(s, "scheduled__1", &r), 0);
	ASSERT_STR_EQ(r.state, "running");
	ASSERT(r.message == NULL);
	ASSERT_INT_EQ(r.started_at, 2000);
	ASSERT_INT_EQ(r.ended_at, 0);
	store_run_free(&r);
	ASSERT_INT_EQ(store_run_set_state(s, NULL, "scheduled__1", "failed", "task t failed", 3000),
		      0);
	ASSERT_INT_EQ(store_run_get(s, "scheduled__1", &r), 0);
	ASSERT_STR_EQ(r.state, "failed");
	ASSERT_STR_EQ(r.message, "task t failed");
	ASSERT_INT_EQ(r.started_at, 2000);
	ASSERT_INT_EQ(r.ended_at, 3000);
	store_run_free(&r);
	/* Cleared: running again, started_at kept, ended_at reset. */
	ASSERT_INT_EQ(store_run_set_state(s, NULL, "scheduled__1", "running", NULL, 4000), 0);
	ASSERT_INT_EQ(store_run_get(s, "scheduled__1", &r), 0);
	ASSERT_INT_EQ(r.started_at, 2000);
	ASSERT_INT_EQ(r.ended_at, 0);
	store_run_free(&r);
	ASSERT_INT_EQ(store_run_set_state(s, NULL, "scheduled__1", "exploded", NULL, 1), -EINVAL);
	ASSERT_STR_CONTAINS(store_errmsg(s), "CHECK");
	ASSERT_INT_EQ(store_run_set_state(s, NULL, "nope", "running", NULL, 1), -ENOENT);
	ASSERT_INT_EQ(store_run_get(s, "nope", &r), -ENOENT);
	teardown(&f);
}

static void expect_runs(struct store *s, const struct store_run_filter *f, const char *want)
{
	struct store_run *runs = NULL;
	size_t n = 0;
	ASSERT_INT_EQ(store_run_list(s, f, &runs, &n), 0);
	char got[512] = "";
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(got, " ");
		strcat(got, runs[i].run_id);
		store_run_free(&runs[i]);
	}
	free(runs);
	ASSERT_STR_EQ(got, want);
}

TEST(store_run_list_filters)
{
	struct fixture f = setup();
	struct store *s = f.s;
	add_dag(s, "d");
	add_dag(s, "e");
	add_run(s, "d1", "d", STORE_RUN_SCHEDULED, 1, 100);
	add_run(s, "d2", "d", STORE_RUN_SCHEDULED, 2, 200);
	add_run(s, "d3", "d", STORE_RUN_MANUAL, 3, 300);
	add_run(s, "e1", "e", STORE_RUN_MANUAL, 1, 150);
	add_run(s, "e2", "e", STORE_RUN_MANUAL, 1, 150); /* same time: run_id decides */
	ASSERT_INT_EQ(store_run_set_state(s, NULL, "d1", "success", NULL, 110), 0);
	ASSERT_INT_EQ(store_run_set_state(s, NULL, "d2", "running", NULL, 210), 0);

	expect_runs(s, NULL, "d3 d2 e2 e1 d1");
	expect_runs(s, &(struct store_run_filter){.oldest_first = true}, "d1 e1 e2 d2 d3");
	expect_runs(s, &(struct store_run_filter){.dag_id = "d"}, "d3 d2 d1");
	expect_runs(s, &(struct store_run_filter){.dag_id = "e", .oldest_first = true}, "e1 e2");
	expect_runs(s, &(struct store_run_filter){.state = "active"}, "d3 d2 e2 e1");
	expect_runs(s, &(struct store_run_filter){.state = "success"}, "d1");
	expect_runs(s, &(struct store_run_filter){.dag_id = "d", .state = "active"}, "d3 d2");
	expect_runs(s, &(struct store_run_filter){.dag_id = "d", .state = "running"}, "d2");
	expect_runs(s, &(struct store_run_filter){.limit = 2}, "d3 d2");
	expect_runs(s, &(struct store_run_filter){.limit = 2, .oldest_first = true}, "d1 e1");
	expect_runs(s, &(struct store_run_filter){.dag_id = "nope"}, "");
	/* The cached statements are reused with new values. */
	expect_runs(s, &(struct store_run_filter){.dag_id = "e"}, "e2 e1");
	expect_runs(s, &(struct store_run_filter){.state = "queued"}, "d3 e2 e1");
	teardown(&f);
}

/* ---- task instances ------------------------------------------------------------------------ */

TEST(store_ti_round_trip_and_upsert)
{
	struct fixture f = setup();
	struct store *s = f.s;
	add_dag(s, "d");
	add_run(s, "r", "d", STORE_RUN_MANUAL, 0, 1);
	struct store_ti in[3] = {
	    {.run_id = "r",
	     .task_id = "reindex",
	     .map_index = 7,
	     .state = "running",
	     .try_number = 2,
	     .queued_at = 10,
	     .started_at = 11,
	     .ended_at = 12,
	     .retry_at = 13,
	     .exit_code = 3,
	     .signal = 9,
	     .message = "killed",
	     .output = "[1,2]",
	     .item = "{\"start\":0}",
	     .progress_done = 42,
	     .progress_total = 100,
	     .progress_msg = "rows"},
	    {.run_id = "r", .task_id = "copy", .map_index = -1, .state = "none", .exit_code = -1},
	    {.run_id = "r",
	     .task_id = "reindex",
	     .map_index = 0,
	     .state = "queued",
	     .exit_code = -1},
	};
	ASSERT_INT_EQ(store_ti_upsert(s, NULL, in, 3), 0);
	struct store_ti t;
	ASSERT_INT_EQ(store_ti_get(s, "r", "reindex", 7, &t), 0);
	ASSERT_STR_EQ(t.run_id, "r");
	ASSERT_STR_EQ(t.task_id, "reindex");
	ASSERT_INT_EQ(t.map_index, 7);
	ASSERT_STR_EQ(t.state, "running");
	ASSERT_INT_EQ(t.try_number, 2);
	ASSERT_INT_EQ(t.queued_at, 10);
	ASSERT_INT_EQ(t.started_at, 11);
	ASSERT_INT_EQ(t.ended_at, 12);
	ASSERT_INT_EQ(t.retry_at, 13);
	ASSERT_INT_EQ(t.exit_code, 3);
	ASSERT_INT_EQ(t.signal, 9);
	ASSERT_STR_EQ(t.message, "killed");
	ASSERT_STR_EQ(t.output, "[1,2]");
	ASSERT_STR_EQ(t.item, "{\"start\":0}");
	ASSERT_INT_EQ(t.progress_done, 42);
	ASSERT_INT_EQ(t.progress_total, 100);
	ASSERT_STR_EQ(t.progress_msg, "rows");
	store_ti_free(&t);
	ASSERT(t.run_id == NULL && t.progress_msg == NULL);

	ASSERT_INT_EQ(store_ti_get(s, "r", "copy", -1, &t), 0);
	ASSERT_INT_EQ(t.exit_code, -1);
	ASSERT(t.message == NULL && t.output == NULL && t.item == NULL && t.progress_msg == NULL);
	store_ti_free(&t);

	/* An update replaces every field (NULLs included). */
	struct store_ti up = {.run_id = "r",
			      .task_id = "reindex",
			      .map_index = 7,
			      .state = "success",
			      .try_number = 3,
			      .exit_code = 0};
	ASSERT_INT_EQ(store_ti_upsert(s, NULL, &up, 1), 0);
	ASSERT_INT_EQ(store_ti_get(s, "r", "reindex", 7, &t), 0);
	ASSERT_STR_EQ(t.state, "success");
	ASSERT_INT_EQ(t.try_number, 3);
	ASSERT_INT_EQ(t.exit_code, 0);
	ASSERT_INT_EQ(t.progress_done, 0);
	ASSERT(t.message == NULL && t.output == NULL);
	store_ti_free(&t);

	struct store_ti *list = NULL;
	size_t n = 0;
	ASSERT_INT_EQ(store_ti_list(s, "r", &list, &n), 0);
	ASSERT_INT_EQ(n, 3);
	ASSERT_STR_EQ(list[0].task_id, "copy");
	ASSERT_INT_EQ(list[1].map_index, 0);
	ASSERT_INT_EQ(list[2].map_index, 7);
	for (size_t i = 0; i < n; i++)
		store_ti_free(&list[i]);
	free(list);
	ASSERT_INT_EQ(store_ti_list(s, "nope", &list, &n), 0);
	ASSERT_INT_EQ(n, 0);
	ASSERT(list == NULL);

	ASSERT_INT_EQ(store_ti_get(s, "r", "reindex", 8, &t), -ENOENT);
	ASSERT_STR_CONTAINS(store_errmsg(s), "r/reindex[8]");
	/* The run must exist; state is required. */
	struct store_ti bad = {.run_id = "nope", .task_id = "t", .map_index = -1, .state = "none"};
	ASSERT_INT_EQ(store_ti_upsert(s, NULL, &bad, 1), -ENOENT);
	bad.run_id = "r";
	bad.state = NULL;
	ASSERT_INT_EQ(store_ti_upsert(s, NULL, &bad, 1), -EINVAL);
	ASSERT_INT_EQ(store_ti_upsert(s, NULL, NULL, 0), 0);

	/* A batch that fails half-way leaves nothing behind, on its own or in a transaction. */
	struct store_ti batch[3] = {
	    {.run_id = "r", .task_id = "new1", .map_index = -1, .state = "none"},
	    {.run_id = "r", .task_id = "new2", .map_index = -1, .state = NULL},
	    {.run_id = "r", .task_id = "new3", .map_index = -1, .state = "none"},
	};
	ASSERT_INT_EQ(store_ti_upsert(s, NULL, batch, 3), -EINVAL);
	ASSERT_INT_EQ(store_ti_get(s, "r", "new1", -1, &t), -ENOENT);
	struct store_tx *tx;
	ASSERT_INT_EQ(store_begin(s, &tx), 0);
	ASSERT_INT_EQ(store_ti_upsert(s, tx, &batch[2], 1), 0);
	ASSERT_INT_EQ(store_ti_upsert(s, tx, batch, 3), -EINVAL);
	ASSERT_INT_EQ(store_commit(tx), 0); /* still usable: new3 is in, new1 is not */
	ASSERT_INT_EQ(store_ti_get(s, "r", "new1", -1, &t), -ENOENT);
	ASSERT_INT_EQ(store_ti_get(s, "r", "new3", -1, &t), 0);
	store_ti_free(&t);
	teardown(&f);
}

TEST(store_ti_admission_fields)
{
	struct fixture f = setup();
	struct store *s = f.s;
	add_dag(s, "d");
	add_run(s, "r", "d", STORE_RUN_MANUAL, 0, 1);
	struct store_ti in[2] = {
	    {.run_id = "r",
	     .task_id = "big",
	     .map_index = -1,
	     .state = "scheduled",
	     .pool = "warehouse",
	     .pool_slots = 3,
	     .weight = -7,
	     .cpu_milli = 2500,
	     .memory = 16LL << 30,
	     .disk = 50LL << 30,
	     .disk_path = "/srv/scratch"},
	    /* Nothing said: the default pool, one slot. */
	    {.run_id = "r", .task_id = "small", .map_index = -1, .state = "none"},
	};
	ASSERT_INT_EQ(store_ti_upsert(s, NULL, in, 2), 0);
	struct store_ti t;
	ASSERT_INT_EQ(store_ti_get(s, "r", "big", -1, &t), 0);
	ASSERT_STR_EQ(t.pool, "warehouse");
	ASSERT_INT_EQ(t.pool_slots, 3);
	ASSERT_INT_EQ(t.weight, -7);
	ASSERT_INT_EQ(t.cpu_milli, 2500);
	ASSERT_INT_EQ(t.memory, 16LL << 30);
	ASSERT_INT_EQ(t.disk, 50LL << 30);
	ASSERT_STR_EQ(t.disk_path, "/srv/scratch");
	store_ti_free(&t);
	ASSERT(t.pool == NULL && t.disk_path == NULL);
	ASSERT_INT_EQ(store_ti_get(s, "r", "small", -1, &t), 0);
	ASSERT_STR_EQ(t.pool, "default_pool");
	ASSERT_INT_EQ(t.pool_slots, 1);
	ASSERT_INT_EQ(t.weight, 0);
	ASSERT_INT_EQ(t.cpu_milli + t.memory + t.disk, 0);
	ASSERT(t.disk_path == NULL);
	store_ti_free(&t);

	/* An update replaces them like every other field; the listing reads them too. */
	in[0].pool = NULL;
	in[0].pool_slots = 0;
	in[0].disk_path = NULL;
	in[0].state = "queued";
	ASSERT_INT_EQ(store_ti_upsert(s, NULL, in, 1), 0);
	struct store_ti *list = NULL;
	size_t n = 0;
	ASSERT_INT_EQ(store_ti_list(s, "r", &list, &n), 0);
	ASSERT_INT_EQ(n, 2);
	ASSERT_STR_EQ(list[0].task_id, "big");
	ASSERT_STR_EQ(list[0].pool, "default_pool");
	ASSERT_INT_EQ(list[0].pool_slots, 1);
	ASSERT_INT_EQ(list[0].cpu_milli, 2500);
	ASSERT(list[0].disk_path == NULL);
	for (size_t i = 0; i < n; i++)
		store_ti_free(&list[i]);
	free(list);
	teardown(&f);
}

/* Upsert one TI of run `run` in `state`, in `pool` with `slots` slots. */
static void put_ti(struct store *s, const char *run, const char *task, int map, const char *state,
		   const char *pool, int slots)
{
	struct store_ti t = {.run_id = (char *)run,
			     .task_id = (char *)task,
			     .map_index = map,
			     .state = (char *)state,
			     .pool = (char *)pool,
			     .pool_slots = slots};
	int rc = store_ti_upsert(s, NULL, &t, 1);
	if (rc != 0)
		test_fail(__FILE__, __LINE__, "store_ti_upsert(%s/%s): %d %s", run, task, rc,
			  store_errmsg(s));
}

/* "task[map]:state" of each row, comma-separated, freed by the caller. */
static char *ti_names(struct store_ti *tis, size_t n)
{
	char *out = xstrdup("");
	for (size_t i = 0; i < n; i++) {
		char *next = xasprintf("%s%s%s/%s[%d]:%s", out, i ? "," : "", tis[i].run_id,
				       tis[i].task_id, (int)tis[i].map_index, tis[i].state);
		free(out);
		out = next;
		store_ti_free(&tis[i]);
	}
	free(tis);
	return out;
}

static void expect_active(struct store *s, const char *pool, bool with_scheduled, const char *want)
{
	struct store_ti *tis = NULL;
	size_t n = 0;
	ASSERT_INT_EQ(store_ti_list_active(s, pool, with_scheduled, &tis, &n), 0);
	if (n == 0)
		ASSERT(tis == NULL);
	char *got = ti_names(tis, n);
	ASSERT_STR_EQ(got, want);
	free(got);
}

/* Two runs with TIs in every state that matters, in three pools (one that does not exist). */
static void add_pool_usage(struct store *s)
{
	add_dag(s, "d");
	add_run(s, "r1", "d", STORE_RUN_MANUAL, 0, 1);
	add_run(s, "r2", "d", STORE_RUN_MANUAL, 0, 2);
	put_ti(s, "r1", "a", -1, "running", "db", 2);
	put_ti(s, "r1", "b", 0, "queued", "db", 3);
	put_ti(s, "r1", "b", 1, "scheduled", "db", 3);
	put_ti(s, "r1", "c", -1, "success", "db", 5);
	put_ti(s, "r1", "d", -1, "none", "db", 1);
	put_ti(s, "r1", "e", -1, "up_for_retry", "db", 1);
	put_ti(s, "r2", "a", -1, "running", NULL, 0);
	put_ti(s, "r2", "b", -1, "scheduled", NULL, 0);
	put_ti(s, "r2", "c", -1, "failed", NULL, 0);
	put_ti(s, "r2", "x", -1, "scheduled", "gone", 1);
	put_ti(s, "r2", "y", -1, "queued", "gone", 4);
}

TEST(store_ti_list_active_filters)
{
	struct fixture f = setup();
	struct store *s = f.s;
	expect_active(s, NULL, true, "");
	add_pool_usage(s);
	expect_active(s, NULL, false,
		      "r1/a[-1]:running,r1/b[0]:queued,r2/a[-1]:running,r2/y[-1]:queued");
	expect_active(s, NULL, true,
		      "r1/a[-1]:running,r1/b[0]:queued,r1/b[1]:scheduled,r2/a[-1]:running,"
		      "r2/b[-1]:scheduled,r2/x[-1]:scheduled,r2/y[-1]:queued");
	expect_active(s, "db", false, "r1/a[-1]:running,r1/b[0]:queued");
	expect_active(s, "db", true, "r1/a[-1]:running,r1/b[0]:queued,r1/b[1]:scheduled");
	expect_active(s, "default_pool", true, "r2/a[-1]:running,r2/b[-1]:scheduled");
	expect_active(s, "nope", true, "");
	/* The rows are whole. */
	struct store_ti *tis = NULL;
	size_t n = 0;
	ASSERT_INT_EQ(store_ti_list_active(s, "gone", false, &tis, &n), 0);
	ASSERT_INT_EQ(n, 1);
	ASSERT_STR_EQ(tis[0].pool, "gone");
	ASSERT_INT_EQ(tis[0].pool_slots, 4);
	store_ti_free(&tis[0]);
	free(tis);
	teardown(&f);
}

/* ---- pools --------------------------------------------------------------------------------- */

TEST(store_pools_set_get_delete)
{
	struct fixture f = setup();
	struct store *s = f.s;
	struct store_pool p;
	ASSERT_INT_EQ(store_pool_get(s, "default_pool", &p), 0);
	ASSERT_STR_EQ(p.name, "default_pool");
	ASSERT_INT_EQ(p.slots, 128);
	ASSERT_STR_EQ(p.description, "tasks that name no pool");
	ASSERT(!p.from_config);
	ASSERT_INT_EQ(p.used + p.running + p.waiting, 0);
	store_pool_free(&p);
	ASSERT(p.name == NULL && p.description == NULL);

	/* Create, then update: NULL keeps the description, "" clears it. */
	ASSERT_INT_EQ(
	    store_pool_set(s, NULL, "warehouse", 3, "the warehouse's connections", true, 100), 0);
	ASSERT_INT_EQ(store_pool_get(s, "warehouse", &p), 0);
	ASSERT_INT_EQ(p.slots, 3);
	ASSERT_STR_EQ(p.description, "the warehouse's connections");
	ASSERT(p.from_config);
	ASSERT_INT_EQ(p.updated_at, 100);
	store_pool_free(&p);
	ASSERT_INT_EQ(store_pool_set(s, NULL, "warehouse", 0, NULL, false, 200), 0);
	ASSERT_INT_EQ(store_pool_get(s, "warehouse", &p), 0);
	ASSERT_INT_EQ(p.slots, 0);
	ASSERT_STR_EQ(p.description, "the warehouse's connections");
	ASSERT(!p.from_config);
	ASSERT_INT_EQ(p.updated_at, 200);
	store_pool_free(&p);
	ASSERT_INT_EQ(store_pool_set(s, NULL, "warehouse", 1000000, "", false, 300), 0);
	ASSERT_INT_EQ(store_pool_get(s, "warehouse", &p), 0);
	ASSERT_INT_EQ(p.slots, 1000000);
	ASSERT(p.description == NULL);
	store_pool_free(&p);
	ASSERT_INT_EQ(store_pool_set(s, NULL, "a.b-C_9", 1, NULL, false, 1), 0);
	ASSERT_INT_EQ(store_pool_get(s, "a.b-C_9", &p), 0);
	ASSERT(p.description == NULL);
	store_pool_free(&p);
	/* default_pool's slots can change. */
	ASSERT_INT_EQ(store_pool_set(s, NULL, "default_pool", 8, NULL, false, 5), 0);
	ASSERT_INT_EQ(store_pool_get(s, "default_pool", &p), 0);
	ASSERT_INT_EQ(p.slots, 8);
	ASSERT_STR_EQ(p.description, "tasks that name no pool");
	store_pool_free(&p);

	/* Bad names and slots: -EINVAL with a sentence, nothing written. */
	char long_name[STORE_POOL_NAME_MAX + 2];
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	const char *bad[] = {"", "a b", "a/b", "p\xc3\xa9", "a'b", long_name};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_INT_EQ(store_pool_set(s, NULL, bad[i], 1, NULL, false, 1), -EINVAL);
		ASSERT_STR_CONTAINS(store_errmsg(s), "bad pool name");
		ASSERT(!store_pool_name_valid(bad[i]));
	}
	long_name[STORE_POOL_NAME_MAX] = 0;
	ASSERT(store_pool_name_valid(long_name));
	ASSERT_INT_EQ(store_pool_set(s, NULL, long_name, 1, NULL, false, 1), 0);
	ASSERT_INT_EQ(store_pool_set(s, NULL, NULL, 1, NULL, false, 1), -EINVAL);
	ASSERT_INT_EQ(store_pool_set(s, NULL, "p", -1, NULL, false, 1), -EINVAL);
	ASSERT_STR_CONTAINS(store_errmsg(s), "slots must be from 0 to 1000000");
	ASSERT_INT_EQ(store_pool_set(s, NULL, "p", 1000001, NULL, false, 1), -EINVAL);
	ASSERT_INT_EQ(store_pool_get(s, "p", &p), -ENOENT);
	ASSERT_STR_EQ(store_errmsg(s), "no pool 'p'");

	/* Delete: unknown names and default_pool are refused. */
	ASSERT_INT_EQ(store_pool_delete(s, "warehouse"), 0);
	ASSERT_INT_EQ(store_pool_get(s, "warehouse", &p), -ENOENT);
	ASSERT_INT_EQ(store_pool_delete(s, "warehouse"), -ENOENT);
	ASSERT_STR_EQ(store_errmsg(s), "no pool 'warehouse'");
	ASSERT_INT_EQ(store_pool_delete(s, "default_pool"), -EPERM);
	ASSERT_STR_CONTAINS(store_errmsg(s), "'default_pool' cannot be deleted");
	ASSERT_INT_EQ(store_pool_get(s, "default_pool", &p), 0);
	store_pool_free(&p);

	/* In a transaction: a failed set leaves the transaction usable; a rollback undoes. */
	struct store_tx *tx;
	ASSERT_INT_EQ(store_begin(s, &tx), 0);
	ASSERT_INT_EQ(store_pool_set(s, tx, "t1", 1, NULL, true, 1), 0);
	ASSERT_INT_EQ(store_pool_set(s, tx, "bad name", 1, NULL, true, 1), -EINVAL);
	ASSERT_INT_EQ(store_pool_delete(s, "a.b-C_9"), 0); /* joins it */
	store_rollback(tx);
	ASSERT_INT_EQ(store_pool_get(s, "t1", &p), -ENOENT);
	ASSERT_INT_EQ(store_pool_get(s, "a.b-C_9", &p), 0);
	store_pool_free(&p);
	ASSERT_INT_EQ(store_begin(s, &tx), 0);
	ASSERT_INT_EQ(store_pool_set(s, tx, "t1", 1, NULL, true, 1), 0);
	ASSERT_INT_EQ(store_commit(tx), 0);
	ASSERT_INT_EQ(store_pool_get(s, "t1", &p), 0);
	store_pool_free(&p);
	ASSERT_INT_EQ(store_pool_set(s, tx, "t2", 1, NULL, true, 1), -EINVAL); /* tx is over */
	teardown(&f);
}

TEST(store_pool_list_counts_usage)
{
	struct fixture f = setup();
	struct store *s = f.s;
	struct store_pool *ps = NULL;
	size_t n = 0;
	ASSERT_INT_EQ(store_pool_list(s, &ps, &n), 0);
	ASSERT_INT_EQ(n, 1);
	ASSERT_STR_EQ(ps[0].name, "default_pool");
	ASSERT_INT_EQ(ps[0].slots, 128);
	store_pool_free(&ps[0]);
	free(ps);

	add_pool_usage(s);
	ASSERT_INT_EQ(store_pool_set(s, NULL, "db", 4, "the database", false, 10), 0);
	ASSERT_INT_EQ(store_pool_set(s, NULL, "idle", 2, NULL, false, 10), 0);
	ASSERT_INT_EQ(store_pool_list(s, &ps, &n), 0);
	ASSERT_INT_EQ(n, 4);
	/* By name; "gone" is named by TIs but does not exist: slots -1. */
	ASSERT_STR_EQ(ps[0].name, "db");
	ASSERT_INT_EQ(ps[0].slots, 4);
	ASSERT_STR_EQ(ps[0].description, "the database");
	ASSERT_INT_EQ(ps[0].used, 5); /* running 2 + queued 3; scheduled and done ones hold none */
	ASSERT_INT_EQ(ps[0].running, 2);
	ASSERT_INT_EQ(ps[0].waiting, 1);
	ASSERT_STR_EQ(ps[1].name, "default_pool");
	ASSERT_INT_EQ(ps[1].used, 1);
	ASSERT_INT_EQ(ps[1].running, 1);
	ASSERT_INT_EQ(ps[1].waiting, 1);
	ASSERT_STR_EQ(ps[2].name, "gone");
	ASSERT_INT_EQ(ps[2].slots, -1);
	ASSERT(ps[2].description == NULL && !ps[2].from_config);
	ASSERT_INT_EQ(ps[2].used, 4);
	ASSERT_INT_EQ(ps[2].running, 1);
	ASSERT_INT_EQ(ps[2].waiting, 1);
	ASSERT_STR_EQ(ps[3].name, "idle");
	ASSERT_INT_EQ(ps[3].used + ps[3].running + ps[3].waiting, 0);
	for (size_t i = 0; i < n; i++)
		store_pool_free(&ps[i]);
	free(ps);

	/* get counts the same way. */
	struct store_pool p;
	ASSERT_INT_EQ(store_pool_get(s, "db", &p), 0);
	ASSERT_INT_EQ(p.used, 5);
	ASSERT_INT_EQ(p.running, 2);
	ASSERT_INT_EQ(p.waiting, 1);
	store_pool_free(&p);

	/* Deleting a pool its TIs name lists it as missing; creating "gone" makes it a pool. */
	ASSERT_INT_EQ(store_pool_delete(s, "db"), 0);
	ASSERT_INT_EQ(store_pool_set(s, NULL, "gone", 9, NULL, false, 10), 0);
	ASSERT_INT_EQ(store_pool_list(s, &ps, &n), 0);
	ASSERT_INT_EQ(n, 4);
	ASSERT_STR_EQ(ps[0].name, "db");
	ASSERT_INT_EQ(ps[0].slots, -1);
	ASSERT_INT_EQ(ps[0].used, 5);
	ASSERT_STR_EQ(ps[2].name, "gone");
	ASSERT_INT_EQ(ps[2].slots, 9);
	ASSERT_INT_EQ(ps[2].used, 4);
	for (size_t i = 0; i < n; i++)
		store_pool_free(&ps[i]);
	free(ps);

	/* A finished run's TIs that end free their slots. */
	put_ti(s, "r1", "a", -1, "success", "db", 2);
	put_ti(s, "r1", "b", 0, "success", "db", 3);
	put_ti(s, "r1", "b", 1, "success", "db", 3);
	ASSERT_INT_EQ(store_pool_list(s, &ps, &n), 0);
	ASSERT_INT_EQ(n, 3);
	ASSERT_STR_EQ(ps[0].name, "default_pool");
	for (size_t i = 0; i < n; i++)
		store_pool_free(&ps[i]);
	free(ps);
	teardown(&f);
}

/* ---- attempts ------------------------------------------------------------------------------ */

static int64_t add_attempt(struct store *s, const char *run, const char *task, int map, int try,
			   int launch, int64_t queued)
{
	char *dir = xasprintf("logs/d/%s/%s/%d/%d", run, task, map, try);
	struct store_attempt a = {.run_id = (char *)run,
				  .task_id = (char *)task,
				  .map_index = map,
				  .try_number = try,
				  .launch = launch,
				  .dir = dir,
				  .queued_at = queued};
	int64_t id = 0;
	int r = store_attempt_add(s, NULL, &a, &id);
	free(dir);
	if (r)
		test_fail(__FILE__, __LINE__, "store_attempt_add: %d %s", r, store_errmsg(s));
	return id;
}

TEST(store_attempts_live_and_listed)
{
	struct fixture f = setup();
	struct store *s = f.s;
	add_dag(s, "d");
	add_run(s, "r", "d", STORE_RUN_MANUAL, 0, 1);
	int64_t a1 = add_attempt(s, "r", "t", -1, 1, 1, 300);
	int64_t a2 = add_attempt(s, "r", "u", 0, 1, 1, 100);
	int64_t a3 = add_attempt(s, "r", "t", -1, 1, 2, 200);
	int64_t a4 = add_attempt(s, "r", "t", -1, 2, 0, 400); /* launch 0 is 1 */
	ASSERT(a1 > 0 && a2 > a1 && a3 > a2 && a4 > a3);

	struct store_attempt *list = NULL;
	size_t n = 0;
	ASSERT_INT_EQ(store_attempt_list(s, "r", "t", -1, &list, &n), 0);
	ASSERT_INT_EQ(n, 3);
	ASSERT_INT_EQ(list[0].id, a1);
	ASSERT_INT_EQ(list[1].id, a3);
	ASSERT_INT_EQ(list[1].launch, 2);
	ASSERT_INT_EQ(list[2].id, a4);
	ASSERT_INT_EQ(list[2].launch, 1);
	ASSERT_STR_EQ(list[0].run_id, "r");
	ASSERT_STR_EQ(list[0].task_id, "t");
	ASSERT_INT_EQ(list[0].map_index, -1);
	ASSERT_INT_EQ(list[0].try_number, 1);
	ASSERT_STR_EQ(list[0].dir, "logs/d/r/t/-1/1");
	ASSERT_INT_EQ(list[0].queued_at, 300);
	ASSERT_INT_EQ(list[0].ended_at, 0);
	ASSERT(list[0].status == NULL);
	for (size_t i = 0; i < n; i++)
		store_attempt_free(&list[i]);
	free(list);

	/* The same try and launch twice is refused. */
	struct store_attempt dup = {
	    .run_id = "r", .task_id = "t", .map_index = -1, .try_number = 1, .launch = 1};
	ASSERT_INT_EQ(store_attempt_add(s, NULL, &dup, NULL), -EEXIST);
	dup.run_id = "nope";
	ASSERT_INT_EQ(store_attempt_add(s, NULL, &dup, NULL), -ENOENT);

	/* Live: oldest first; an ended one leaves the list. */
	ASSERT_INT_EQ(store_attempt_list_live(s, &list, &n), 0);
	ASSERT_INT_EQ(n, 4);
	ASSERT_INT_EQ(list[0].id, a2);
	ASSERT_INT_EQ(list[1].id, a3);
	ASSERT_INT_EQ(list[2].id, a1);
	ASSERT_INT_EQ(list[3].id, a4);
	for (size_t i = 0; i < n; i++)
		store_attempt_free(&list[i]);
	free(list);
	ASSERT_INT_EQ(store_attempt_end(s, NULL, a3, "not_started", 500), 0);
	ASSERT_INT_EQ(store_attempt_end(s, NULL, a2, "success", 600), 0);
	ASSERT_INT_EQ(store_attempt_end(s, NULL, 9999, "success", 600), -ENOENT);
	ASSERT_STR_CONTAINS(store_errmsg(s), "9999");
	ASSERT_INT_EQ(store_attempt_list_live(s, &list, &n), 0);
	ASSERT_INT_EQ(n, 2);
	ASSERT_INT_EQ(list[0].id, a1);
	ASSERT_INT_EQ(list[1].id, a4);
	for (size_t i = 0; i < n; i++)
		store_attempt_free(&list[i]);
	free(list);
	ASSERT_INT_EQ(store_attempt_list(s, "r", "u", 0, &list, &n), 0);
	ASSERT_INT_EQ(n, 1);
	ASSERT_STR_EQ(list[0].status, "success");
	ASSERT_INT_EQ(list[0].ended_at, 600);
	store_attempt_free(&list[0]);
	free(list);
	teardown(&f);
}

/* ---- commands and settings ----------------------------------------------------------------- */

TEST(store_command_lifecycle)
{
	struct fixture f = setup();
	struct store *s = f.s;
	int64_t c1 = 0, c2 = 0;
	ASSERT_INT_EQ(store_command_add(s, "trigger", "{\"dag_id\":\"d\"}", 100, &c1), 0);
	ASSERT_INT_EQ(store_command_add(s, "pause", NULL, 90, &c2), 0);
	ASSERT(c2 > c1);
	struct store_command *list = NULL;
	size_t n = 0;
	ASSERT_INT_EQ(store_command_pending(s, &list, &n), 0);
	ASSERT_INT_EQ(n, 2);
	ASSERT_INT_EQ(list[0].id, c1);
	ASSERT_STR_EQ(list[0].kind, "trigger");
	ASSERT_STR_EQ(list[0].args, "{\"dag_id\":\"d\"}");
	ASSERT_INT_EQ(list[0].created_at, 100);
	ASSERT_INT_EQ(list[1].id, c2);
	ASSERT_STR_EQ(list[1].args, "{}");
	for (size_t i = 0; i < n; i++)
		store_command_free(&list[i]);
	free(list);

	char *res = NULL;
	ASSERT_INT_EQ(store_command_result(s, c1, &res), -EAGAIN);
	ASSERT_INT_EQ(store_command_done(s, NULL, c1, "{\"run_id\":\"manual__1\"}"), 0);
	ASSERT_INT_EQ(store_command_result(s, c1, &res), 0);
	ASSERT_STR_EQ(res, "{\"run_id\":\"manual__1\"}");
	free(res);
	ASSERT_INT_EQ(store_command_done(s, NULL, c2, NULL), 0);
	res = (char *)"untouched";
	ASSERT_INT_EQ(store_command_result(s, c2, &res), 0);
	ASSERT(res == NULL);
	ASSERT_INT_EQ(store_command_result(s, 12345, &res), -ENOENT);
	ASSERT_INT_EQ(store_command_done(s, NULL, 12345, NULL), -ENOENT);
	ASSERT_INT_EQ(store_command_pending(s, &list, &n), 0);
	ASSERT_INT_EQ(n, 0);
	ASSERT_INT_EQ(store_command_add(s, NULL, NULL, 1, NULL), -EINVAL);
	teardown(&f);
}

TEST(store_kv_set_get_delete)
{
	struct fixture f = setup();
	struct store *s = f.s;
	char *v = NULL;
	ASSERT_INT_EQ(store_kv_get(s, "clock_offset", &v), -ENOENT);
	ASSERT(v == NULL);
	ASSERT_STR_CONTAINS(store_errmsg(s), "clock_offset");
	ASSERT_INT_EQ(store_kv_set(s, NULL, "clock_offset", "-3600000"), 0);
	ASSERT_INT_EQ(store_kv_get(s, "clock_offset", &v), 0);
	ASSERT_STR_EQ(v, "-3600000");
	free(v);
	ASSERT_INT_EQ(store_kv_set(s, NULL, "clock_offset", "0"), 0);
	ASSERT_INT_EQ(store_kv_get(s, "clock_offset", &v), 0);
	ASSERT_STR_EQ(v, "0");
	free(v);
	ASSERT_INT_EQ(store_kv_set(s, NULL, "clock_offset", NULL), 0);
	ASSERT_INT_EQ(store_kv_get(s, "clock_offset", &v), -ENOENT);
	ASSERT_INT_EQ(store_kv_set(s, NULL, "never_set", NULL), 0);
	teardown(&f);
}

/* ---- transactions -------------------------------------------------------------------------- */

TEST(store_transactions)
{
	struct fixture f = setup();
	struct store *s = f.s;
	struct store_tx *tx, *tx2;
	ASSERT_INT_EQ(store_begin(s, &tx), 0);
	ASSERT_INT_EQ(store_begin(s, &tx2), -EINVAL);
	ASSERT_STR_CONTAINS(store_errmsg(s), "already open");
	ASSERT_INT_EQ(store_kv_set(s, tx, "a", "1"), 0);
	ASSERT_INT_EQ(store_kv_set(s, NULL, "b", "2"), 0); /* joins the open transaction */
	ASSERT_INT_EQ(store_command_add(s, "pause", NULL, 1, NULL), 0);
	char *v = NULL;
	ASSERT_INT_EQ(store_kv_get(s, "a", &v), 0); /* reads see the transaction */
	free(v);
	store_rollback(tx);
	store_rollback(tx); /* twice: nothing */
	ASSERT_INT_EQ(store_kv_get(s, "a", &v), -ENOENT);
	ASSERT_INT_EQ(store_kv_get(s, "b", &v), -ENOENT);
	struct store_command *cmds;
	size_t n;
	ASSERT_INT_EQ(store_command_pending(s, &cmds, &n), 0);
	ASSERT_INT_EQ(n, 0);
	/* An ended transaction cannot be used. */
	ASSERT_INT_EQ(store_kv_set(s, tx, "a", "1"), -EINVAL);
	ASSERT_INT_EQ(store_commit(tx), -EINVAL);
	ASSERT_INT_EQ(store_commit(NULL), -EINVAL);
	store_rollback(NULL);

	ASSERT_INT_EQ(store_begin(s, &tx), 0);
	ASSERT_INT_EQ(store_kv_set(s, tx, "a", "1"), 0);
	ASSERT_INT_EQ(store_kv_set(s, tx, "b", "2"), 0);
	ASSERT_INT_EQ(store_commit(tx), 0);
	ASSERT_INT_EQ(store_kv_get(s, "b", &v), 0);
	ASSERT_STR_EQ(v, "2");
	free(v);

	/* A tx of another store is refused. */
	struct store *other = open_ok(f.path);
	ASSERT_INT_EQ(store_begin(s, &tx), 0);
	ASSERT_INT_EQ(store_kv_set(other, tx, "c", "3"), -EINVAL);
	store_rollback(tx);
	/* Closing with a transaction open rolls it back. */
	ASSERT_INT_EQ(store_begin(other, &tx2), 0);
	ASSERT_INT_EQ(store_kv_set(other, tx2, "c", "3"), 0);
	store_close(other);
	ASSERT_INT_EQ(store_kv_get(s, "c", &v), -ENOENT);
	/* Cleanup inside a caller's transaction joins it. */
	ASSERT_INT_EQ(store_begin(s, &tx), 0);
	ASSERT_INT_EQ(store_cleanup(s, 1000, 10, NULL, NULL), 0);
	ASSERT_INT_EQ(store_commit(tx), 0);
	teardown(&f);
}

/* ---- two handles on one file --------------------------------------------------------------- */

TEST(store_changed_sees_other_connections)
{
	struct fixture f = setup();
	struct store *server = f.s, *cli = open_ok(f.path);
	ASSERT(!store_changed(server));
	ASSERT_INT_EQ(store_command_add(cli, "trigger", "{}", 1, NULL), 0);
	ASSERT(store_changed(server));
	ASSERT(!store_changed(server));
	/* Its own writes do not count. */
	ASSERT_INT_EQ(store_kv_set(server, NULL, "k", "v"), 0);
	ASSERT(!store_changed(server));
	ASSERT(store_changed(cli));
	/* Nor does an uncommitted transaction of the other. */
	struct store_tx *tx;
	ASSERT_INT_EQ(store_begin(cli, &tx), 0);
	ASSERT_INT_EQ(store_kv_set(cli, tx, "k", "w"), 0);
	ASSERT(!store_changed(server));
	ASSERT_INT_EQ(store_commit(tx), 0);
	ASSERT(store_changed(server));
	store_close(cli);
	teardown(&f);
}

TEST(store_busy_timeout_fails_with_ebusy)
{
	struct fixture f = setup();
	struct store *a = f.s, *b = open_ok(f.path);
	struct store_tx *tx, *tx2;
	ASSERT_INT_EQ(store_begin(a, &tx), 0);
	store_set_busy_timeout(b, 200);
	double t0 = now_s();
	ASSERT_INT_EQ(store_kv_set(b, NULL, "k", "v"), -EBUSY);
	double waited = now_s() - t0;
	ASSERT(waited >= 0.15);
	ASSERT_STR_CONTAINS(store_errmsg(b), "locked");
	ASSERT_INT_EQ(store_begin(b, &tx2), -EBUSY);
	/* Readers are not blocked by the writer (WAL). */
	char *v = NULL;
	ASSERT_INT_EQ(store_kv_get(b, "k", &v), -ENOENT);
	store_commit(tx);
	ASSERT_INT_EQ(store_kv_set(b, NULL, "k", "v"), 0);
	store_close(b);
	teardown(&f);
}

TEST(store_busy_timeout_waits_for_the_lock)
{
	struct fixture f = setup();
	store_close(f.s); /* no connection across fork */
	f.s = NULL;
	int p[2];
	ASSERT_INT_EQ(pipe(p), 0);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		struct store *c = NULL;
		struct store_tx *tx;
		if (store_open(f.path, &c, NULL) || store_begin(c, &tx) ||
		    store_kv_set(c, tx, "holder", "child"))
			_exit(2);
		if (write(p[1], "x", 1) != 1)
			_exit(3);
		usleep(300 * 1000);
		_exit(store_commit(tx) == 0 ? 0 : 4);
	}
	char ch;
	ASSERT_INT_EQ(read(p[0], &ch, 1), 1);
	f.s = open_ok(f.path); /* opening does not need the write lock */
	double t0 = now_s();
	ASSERT_INT_EQ(store_kv_set(f.s, NULL, "k", "v"), 0);
	double waited = now_s() - t0;
	printf("    waited %.0f ms for the other process's transaction\n", waited * 1000);
	ASSERT(waited >= 0.2);
	char *v = NULL;
	ASSERT_INT_EQ(store_kv_get(f.s, "holder", &v), 0);
	ASSERT_STR_EQ(v, "child");
	free(v);
	int st;
	ASSERT_INT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(p[0]);
	close(p[1]);
	teardown(&f);
}

/* ---- retention ----------------------------------------------------------------------------- */

TEST(store_cleanup_in_batches)
{
	struct fixture f = setup();
	struct store *s = f.s;
	add_dag(s, "d");
	/* Five finished runs ended at 100..500, each with a TI and two attempts. */
	for (int i = 1; i <= 5; i++) {
		char run[16];
		snprintf(run, sizeof(run), "old%d", i);
		add_run(s, run, "d", STORE_RUN_SCHEDULED, i, i);
		struct store_ti t = {.run_id = run, .task_id = "t", .map_index = -1, .state = "x"};
		ASSERT_INT_EQ(store_ti_upsert(s, NULL, &t, 1), 0);
		add_attempt(s, run, "t", -1, 1, 1, i);
		add_attempt(s, run, "t", -1, 2, 1, i);
		ASSERT_INT_EQ(store_run_set_state(s, NULL, run,
						  i % 3 == 0   ? "cancelled"
						  : i % 2 == 0 ? "failed"
							       : "success",
						  NULL, i * 100),
			      0);
	}
	add_run(s, "live", "d", STORE_RUN_MANUAL, 0, 1);
	ASSERT_INT_EQ(store_run_set_state(s, NULL, "live", "running", NULL, 50), 0);
	add_attempt(s, "live", "t", -1, 1, 1, 1);
	add_run(s, "recent", "d", STORE_RUN_MANUAL, 0, 1);
	ASSERT_INT_EQ(store_run_set_state(s, NULL, "recent", "success", NULL, 10000), 0);
	int64_t c_done = 0, c_pending = 0;
	ASSERT_INT_EQ(store_command_add(s, "pause", NULL, 10, &c_done), 0);
	ASSERT_INT_EQ(store_command_done(s, NULL, c_done, NULL), 0);
	ASSERT_INT_EQ(store_command_add(s, "pause", NULL, 10, &c_pending), 0);

	char **dirs = NULL;
	size_t n_dirs = 0;
	ASSERT_INT_EQ(store_cleanup(s, 5000, 2, &dirs, &n_dirs), 2);
	ASSERT_INT_EQ(n_dirs, 4);
	ASSERT_STR_EQ(dirs[0], "logs/d/old1/t/-1/1");
	ASSERT_STR_EQ(dirs[1], "logs/d/old1/t/-1/2");
	ASSERT_STR_EQ(dirs[2], "logs/d/old2/t/-1/1");
	for (size_t i = 0; i < n_dirs; i++)
		free(dirs[i]);
	free(dirs);
	struct store_run r;
	ASSERT_INT_EQ(store_run_get(s, "old1", &r), -ENOENT);
	ASSERT_INT_EQ(store_run_get(s, "old3", &r), 0);
	store_run_free(&r);
	struct store_ti *tis;
	size_t n;
	ASSERT_INT_EQ(store_ti_list(s, "old1", &tis, &n), 0);
	ASSERT_INT_EQ(n, 0);
	struct store_attempt *as;
	ASSERT_INT_EQ(store_attempt_list(s, "old2", "t", -1, &as, &n), 0);
	ASSERT_INT_EQ(n, 0);
	/* Done commands before `before` went too, pending ones stay. */
	char *res;
	ASSERT_INT_EQ(store_command_result(s, c_done, &res), -ENOENT);
	ASSERT_INT_EQ(store_command_result(s, c_pending, &res), -EAGAIN);

	ASSERT_INT_EQ(store_cleanup(s, 5000, 2, &dirs, &n_dirs), 2);
	for (size_t i = 0; i < n_dirs; i++)
		free(dirs[i]);
	free(dirs);
	ASSERT_INT_EQ(store_cleanup(s, 5000, 2, &dirs, &n_dirs), 1);
	ASSERT_INT_EQ(n_dirs, 2);
	for (size_t i = 0; i < n_dirs; i++)
		free(dirs[i]);
	free(dirs);
	ASSERT_INT_EQ(store_cleanup(s, 5000, 2, &dirs, &n_dirs), 0);
	ASSERT_INT_EQ(n_dirs, 0);
	ASSERT(dirs == NULL);
	/* The running and the recent runs are kept, with the live attempt. */
	struct store_run *runs;
	ASSERT_INT_EQ(store_run_list(s, NULL, &runs, &n), 0);
	ASSERT_INT_EQ(n, 2);
	for (size_t i = 0; i < n; i++)
		store_run_free(&runs[i]);
	free(runs);
	ASSERT_INT_EQ(store_attempt_list_live(s, &as, &n), 0);
	ASSERT_INT_EQ(n, 1);
	store_attempt_free(&as[0]);
	free(as);
	ASSERT_INT_EQ(store_cleanup(s, 20000, 0, NULL, NULL), 0);
	ASSERT_INT_EQ(store_cleanup(s, 20000, 100, NULL, NULL), 1);
	teardown(&f);
}

/* ---- figures ------------------------------------------------------------------------------- */

TEST(store_bench_ti_upserts)
{
	struct fixture f = setup();
	struct store *s = f.s;
	add_dag(s, "d");
	add_run(s, "r", "d", STORE_RUN_MANUAL, 0, 1);
	enum { N = 10000, SINGLE = 1000 };
	struct store_ti *tis = xcalloc(N, sizeof(*tis));
	char(*names)[16] = xcalloc(N, sizeof(*names));
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "task%05d", i);
		tis[i] = (struct store_ti){.run_id = "r",
					   .task_id = names[i],
					   .map_index = -1,
					   .state = "queued",
					   .try_number = 1,
					   .queued_at = 1700000000000 + i,
					   .exit_code = -1,
					   .message = "waiting for a slot"};
	}
	struct store_tx *tx;
	double t0 = now_s();
	ASSERT_INT_EQ(store_begin(s, &tx), 0);
	for (int i = 0; i < N; i++)
		ASSERT_INT_EQ(store_ti_upsert(s, tx, &tis[i], 1), 0);
	ASSERT_INT_EQ(store_commit(tx), 0);
	double insert = now_s() - t0;

	for (int i = 0; i < N; i++)
		tis[i].state = "running";
	t0 = now_s();
	ASSERT_INT_EQ(store_begin(s, &tx), 0);
	ASSERT_INT_EQ(store_ti_upsert(s, tx, tis, N), 0);
	ASSERT_INT_EQ(store_commit(tx), 0);
	double update = now_s() - t0;

	t0 = now_s();
	for (int i = 0; i < SINGLE; i++) {
		tis[i].state = "success";
		ASSERT_INT_EQ(store_begin(s, &tx), 0);
		ASSERT_INT_EQ(store_ti_upsert(s, tx, &tis[i], 1), 0);
		ASSERT_INT_EQ(store_commit(tx), 0);
	}
	double single = now_s() - t0;

	t0 = now_s();
	for (int i = 0; i < 1000; i++)
		(void)store_changed(s);
	double changed = now_s() - t0;

	struct store_ti *list;
	size_t n;
	t0 = now_s();
	ASSERT_INT_EQ(store_ti_list(s, "r", &list, &n), 0);
	double listing = now_s() - t0;
	ASSERT_INT_EQ(n, N);
	ASSERT_STR_EQ(list[0].state, "success");
	ASSERT_STR_EQ(list[N - 1].state, "running");
	for (size_t i = 0; i < n; i++)
		store_ti_free(&list[i]);
	free(list);

	printf("    store on %s (SQLite %s, WAL, synchronous=NORMAL):\n", tmp_base(),
	       sqlite3_libversion());
	printf("    %d TI inserts, one transaction:   %7.1f ms (%.2f us/row)\n", N, insert * 1e3,
	       insert * 1e6 / N);
	printf("    %d TI updates, one transaction:   %7.1f ms (%.2f us/row)\n", N, update * 1e3,
	       update * 1e6 / N);
	printf("    %d single-row transactions:        %7.1f ms (%.1f us/commit)\n", SINGLE,
	       single * 1e3, single * 1e6 / SINGLE);
	printf("    %d store_changed() calls:          %7.1f ms\n", 1000, changed * 1e3);
	printf("    listing %d TIs:                    %7.1f ms\n", N, listing * 1e3);
	free(tis);
	free(names);
	teardown(&f);
}
