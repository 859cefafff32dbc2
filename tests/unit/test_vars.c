/*
 * Tests for variables and connections: the store's tables (a secret is not in clear in the
 * file), ops/vars.c (names, URI parsing, reveal, the snapshot and its precedence), the
 * templates that read them (engine/run.c: values, secrets collected, unknown keys) and the
 * supervisor masking them before the log is written, through the zygote and without it.
 */
#include <errno.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/secretbox.h"
#include "base/diag.h"
#include "base/util.h"
#include "dag/dag_load.h"
#include "dag/params.h"
#include "engine/run.h"
#include "exec/local.h"
#include "ops/vars.h"
#include "store/store.h"
#include "test.h"

extern char **environ;

struct vfix {
	char *dir, *path;
	struct store *st;
	struct auth_key *k;
	struct ops_ctx c;
};

static struct vfix vsetup(void)
{
	struct vfix f;
	f.dir = xstrdup("/tmp/gust-vars-XXXXXX");
	ASSERT(mkdtemp(f.dir));
	f.path = xasprintf("%s/gust.db", f.dir);
	char *msg = NULL;
	ASSERT_INT_EQ(store_open(f.path, &f.st, &msg), 0);
	uint8_t bytes[AUTH_KEY_BYTES];
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 7 + 1);
	f.k = auth_key_from_bytes(bytes);
	f.c = (struct ops_ctx){.st = f.st, .now = 1700000000000};
	return f;
}

static void vteardown(struct vfix *f)
{
	store_close(f->st);
	auth_key_free(f->k);
	char *cmd = xasprintf("rm -rf '%s'", f->dir);
	int r = system(cmd);
	(void)r;
	free(cmd);
	free(f->dir);
	free(f->path);
}

/* Every byte of the database file and its log, as one string with NULs turned to spaces. */
static char *raw_file_bytes(const char *path)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < 2; i++) {
		char *p = i ? xasprintf("%s-wal", path) : xstrdup(path);
		FILE *fp = fopen(p, "rb");
		free(p);
		if (!fp)
			continue;
		char chunk[4096];
		size_t n;
		while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
			buf_append(&b, chunk, n);
		fclose(fp);
	}
	char *s = buf_detach(&b);
	for (size_t i = 0; s && s[i + 1]; i++)
		if (s[i] == '\0')
			s[i] = ' ';
	return s ? s : xstrdup("");
}

static char *raw_column(const char *path, const char *sql)
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

/* ---- names and URIs ---------------------------------------------------------------------- */

TEST(vars_key_rules_and_env_names)
{
	ASSERT(ops_var_key_valid("db_pass"));
	ASSERT(ops_var_key_valid("_x9"));
	ASSERT(!ops_var_key_valid(""));
	ASSERT(!ops_var_key_valid("9lives"));
	ASSERT(!ops_var_key_valid("a-b"));
	ASSERT(!ops_var_key_valid("a.b"));
	ASSERT(!ops_var_key_valid("a b"));
	ASSERT(!ops_var_key_valid(NULL));
	char *long_key = xmalloc(TEMPLATE_VAR_NAME_MAX + 2);
	memset(long_key, 'k', TEMPLATE_VAR_NAME_MAX + 1);
	long_key[TEMPLATE_VAR_NAME_MAX + 1] = '\0';
	ASSERT(!ops_var_key_valid(long_key));
	long_key[TEMPLATE_VAR_NAME_MAX] = '\0';
	ASSERT(ops_var_key_valid(long_key));
	free(long_key);
	char *e = ops_var_env_name(OPS_VAR_ENV_PREFIX, "db_Pass2");
	ASSERT_STR_EQ(e, "GUST_VAR_DB_PASS2");
	free(e);
}

TEST(vars_uri_parse_parts_decoded)
{
	struct ops_conn_uri u;
	struct ops_err err = {0};
	ASSERT_INT_EQ(ops_conn_uri_parse("PostgreSQL://etl%40corp:p%40ss%3Aw0rd@db.internal:5432/"
					 "my%20db?sslmode=require&app=a+b",
					 &u, &err),
		      0);
	ASSERT_STR_EQ(u.scheme, "postgresql");
	ASSERT_STR_EQ(u.login, "etl@corp");
	ASSERT_STR_EQ(u.password, "p@ss:w0rd");
	ASSERT_STR_EQ(u.host, "db.internal");
	ASSERT_INT_EQ(u.port, 5432);
	ASSERT_STR_EQ(u.schema, "my db");
	ASSERT_STR_EQ(json_string_value(json_object_get(u.query, "sslmode")), "require");
	ASSERT_STR_EQ(json_string_value(json_object_get(u.query, "app")), "a b");
	ops_conn_uri_free(&u);

	/* No credentials, no port, no path; IPv6; an empty host (a file). */
	ASSERT_INT_EQ(ops_conn_uri_parse("redis://cache", &u, &err), 0);
	ASSERT(!u.login && !u.password && !u.schema);
	ASSERT_INT_EQ(u.port, -1);
	ASSERT_STR_EQ(u.host, "cache");
	ops_conn_uri_free(&u);
	ASSERT_INT_EQ(ops_conn_uri_parse("mysql://root@[::1]:3306/x", &u, &err), 0);
	ASSERT_STR_EQ(u.host, "::1");
	ASSERT_STR_EQ(u.login, "root");
	ASSERT(!u.password);
	ASSERT_INT_EQ(u.port, 3306);
	ops_conn_uri_free(&u);
	ASSERT_INT_EQ(ops_conn_uri_parse("sqlite:///var/db.sqlite", &u, &err), 0);
	ASSERT_STR_EQ(u.host, "");
	ASSERT_STR_EQ(u.schema, "var/db.sqlite");
	ops_conn_uri_free(&u);

	char *m = ops_conn_uri_masked("postgresql://etl:p%40ss@db:5432/x");
	ASSERT_STR_EQ(m, "postgresql://etl:***@db:5432/x");
	free(m);
	m = ops_conn_uri_masked("redis://cache:6379");
	ASSERT_STR_EQ(m, "redis://cache:6379");
	free(m);
	ops_err_free(&err);
}

TEST(vars_uri_malformed_is_invalid_and_never_quoted)
{
	static const struct {
		const char *uri, *why;
	} bad[] = {
	    {"", "empty"},
	    {"db.internal:5432", "not followed by '://'"},
	    {"postgresql:/x", "not followed by '://'"},
	    {"9x://h", "does not start with a scheme"},
	    {"pg://u:secretpw@h:99999/x", "port"},
	    {"pg://u:secretpw@h:/x", "port"},
	    {"pg://u:secretpw@h:54a/x", "port"},
	    {"pg://u:secret%zzpw@h/x", "hexadecimal"},
	    {"pg://u:secret%00pw@h/x", "NUL"},
	    {"pg://u:secretpw@h/x#frag", "fragment"},
	    {"pg://u:secret pw@h/x", "space"},
	    {"pg://u:secretpw@[::1/x", "IPv6"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct ops_conn_uri u;
		struct ops_err err = {0};
		ASSERT_INT_EQ(ops_conn_uri_parse(bad[i].uri, &u, &err), -1);
		ASSERT_INT_EQ(err.kind, OPS_INVALID);
		ASSERT_STR_CONTAINS(err.msg, bad[i].why);
		ASSERT(!strstr(err.msg, "secret"));
		ops_err_free(&err);
	}
}

/* ---- the store and the operations ---------------------------------------------------------- */

TEST(vars_secret_round_trip_encrypted_at_rest)
{
	struct vfix f = vsetup();
	json_t *ans = NULL;
	struct ops_err err = {0};
	struct ops_var_set_req rq = {.key = "db_pass",
				     .value = "Plaintext-Canary-42",
				     .secret = true,
				     .description = "the ETL user's",
				     .who = "cli:test"};
	ASSERT_INT_EQ(ops_var_set(&f.c, f.k, &rq, &ans, &err), 0);
	ASSERT(json_is_true(json_object_get(ans, "created")));
	json_t *shown = json_object_get(ans, "variable");
	ASSERT(json_is_null(json_object_get(shown, "value")));
	json_decref(ans);

	/* The column holds ciphertext, and no byte of the files holds the plaintext. */
	char *col = raw_column(f.path, "SELECT value FROM variables WHERE key = 'db_pass'");
	ASSERT(col && strncmp(col, "v1:", 3) == 0);
	ASSERT(!strstr(col, "Plaintext-Canary-42"));
	free(col);
	char *bytes = raw_file_bytes(f.path);
	ASSERT(!strstr(bytes, "Plaintext-Canary-42"));
	free(bytes);

	/* reveal=false: null and "secret": true, never the ciphertext; reveal=true: the value. */
	json_t *v = NULL;
	ASSERT_INT_EQ(ops_var_get(&f.c, f.k, "db_pass", false, &v, &err), 0);
	ASSERT(json_is_null(json_object_get(v, "value")));
	ASSERT(json_is_true(json_object_get(v, "secret")));
	char *dump = json_dumps(v, 0);
	ASSERT(!strstr(dump, "v1:"));
	free(dump);
	json_decref(v);
	ASSERT_INT_EQ(ops_var_get(&f.c, f.k, "db_pass", true, &v, &err), 0);
	ASSERT_STR_EQ(json_string_value(json_object_get(v, "value")), "Plaintext-Canary-42");
	ASSERT_STR_EQ(json_string_value(json_object_get(v, "description")), "the ETL user's");
	ASSERT_STR_EQ(json_string_value(json_object_get(v, "updated_by")), "cli:test");
	json_decref(v);

	/* Another key cannot decrypt it: a clear error, no garbage. */
	uint8_t other[AUTH_KEY_BYTES] = {9};
	struct auth_key *k2 = auth_key_from_bytes(other);
	ASSERT_INT_EQ(ops_var_get(&f.c, k2, "db_pass", true, &v, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_INTERNAL);
	ASSERT_STR_CONTAINS(err.msg, "cannot be decrypted");
	auth_key_free(k2);

	/* A plain variable is stored as is; the list hides secrets only. */
	struct ops_var_set_req plain = {.key = "region", .value = "eu-west"};
	ASSERT_INT_EQ(ops_var_set(&f.c, f.k, &plain, &ans, &err), 0);
	json_decref(ans);
	ASSERT_INT_EQ(ops_var_list(&f.c, NULL, false, &v, &err), 0);
	ASSERT_INT_EQ((int)json_array_size(v), 2);
	ASSERT(json_is_null(json_object_get(json_array_get(v, 0), "value")));
	ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(v, 1), "value")), "eu-west");
	json_decref(v);

	/* Updating keeps the description unless given; delete, then not found. */
	rq.value = "second";
	rq.description = NULL;
	ASSERT_INT_EQ(ops_var_set(&f.c, f.k, &rq, &ans, &err), 0);
	ASSERT(json_is_false(json_object_get(ans, "created")));
	json_decref(ans);
	ASSERT_INT_EQ(ops_var_get(&f.c, f.k, "db_pass", true, &v, &err), 0);
	ASSERT_STR_EQ(json_string_value(json_object_get(v, "value")), "second");
	ASSERT_STR_EQ(json_string_value(json_object_get(v, "description")), "the ETL user's");
	json_decref(v);
	int64_t ver0 = 0, ver1 = 0;
	ASSERT_INT_EQ(store_vars_version(f.st, &ver0), 0);
	ASSERT_INT_EQ(ops_var_delete(&f.c, "db_pass", &v, &err), 0);
	ASSERT(json_is_null(json_object_get(v, "value")));
	json_decref(v);
	ASSERT_INT_EQ(store_vars_version(f.st, &ver1), 0);
	ASSERT(ver1 > ver0);
	ASSERT_INT_EQ(ops_var_get(&f.c, f.k, "db_pass", false, &v, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_NOT_FOUND);
	ASSERT_INT_EQ(ops_var_delete(&f.c, "db_pass", &v, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_NOT_FOUND);

	/* Bad keys, and a secret without a key to encrypt it. */
	struct ops_var_set_req badk = {.key = "no-dash", .value = "x"};
	ASSERT_INT_EQ(ops_var_set(&f.c, f.k, &badk, &ans, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_BAD_REQUEST);
	struct ops_var_set_req nokey = {.key = "s", .value = "x", .secret = true};
	ASSERT_INT_EQ(ops_var_set(&f.c, NULL, &nokey, &ans, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_INTERNAL);
	ops_err_free(&err);
	vteardown(&f);
}

TEST(vars_connection_uri_always_encrypted_password_hidden)
{
	struct vfix f = vsetup();
	json_t *extra = json_pack("{s:s}", "role", "reader");
	struct ops_conn_set_req rq = {
	    .name = "catalog",
	    .uri = "postgresql://etl:Conn-Canary-77@db:5432/cat?sslmode=require",
	    .extra = extra};
	json_t *ans = NULL, *v = NULL;
	struct ops_err err = {0};
	ASSERT_INT_EQ(ops_conn_set(&f.c, f.k, &rq, &ans, &err), 0);
	json_t *cn = json_object_get(ans, "connection");
	ASSERT_STR_EQ(json_string_value(json_object_get(cn, "uri")),
		      "postgresql://etl:***@db:5432/cat?sslmode=require");
	ASSERT_STR_EQ(json_string_value(json_object_get(cn, "password")), "***");
	json_decref(ans);
	char *col = raw_column(f.path, "SELECT uri FROM connections WHERE name = 'catalog'");
	ASSERT(col && strncmp(col, "v1:", 3) == 0);
	free(col);
	char *bytes = raw_file_bytes(f.path);
	ASSERT(!strstr(bytes, "Conn-Canary-77"));
	ASSERT(!strstr(bytes, "db:5432"));
	free(bytes);

	ASSERT_INT_EQ(ops_conn_get(&f.c, f.k, "catalog", false, &v, &err), 0);
	char *dump = json_dumps(v, 0);
	ASSERT(!strstr(dump, "Conn-Canary-77"));
	ASSERT(!strstr(dump, "v1:"));
	free(dump);
	ASSERT_STR_EQ(json_string_value(json_object_get(v, "host")), "db");
	ASSERT_INT_EQ((int)json_integer_value(json_object_get(v, "port")), 5432);
	json_t *x = json_object_get(v, "extra");
	ASSERT_STR_EQ(json_string_value(json_object_get(x, "role")), "reader");
	ASSERT_STR_EQ(json_string_value(json_object_get(x, "sslmode")), "require");
	json_decref(v);
	ASSERT_INT_EQ(ops_conn_get(&f.c, f.k, "catalog", true, &v, &err), 0);
	ASSERT_STR_EQ(json_string_value(json_object_get(v, "password")), "Conn-Canary-77");
	ASSERT_STR_CONTAINS(json_string_value(json_object_get(v, "uri")), "Conn-Canary-77");
	json_decref(v);
	ASSERT_INT_EQ(ops_conn_list(&f.c, f.k, false, &v, &err), 0);
	ASSERT_INT_EQ((int)json_array_size(v), 1);
	dump = json_dumps(v, 0);
	ASSERT(!strstr(dump, "Conn-Canary-77"));
	free(dump);
	json_decref(v);

	/* A malformed URI or extra is refused before anything is written. */
	struct ops_conn_set_req bad = {.name = "broken", .uri = "db:5432"};
	ASSERT_INT_EQ(ops_conn_set(&f.c, f.k, &bad, &ans, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_INVALID);
	json_t *arr = json_array();
	struct ops_conn_set_req badx = {.name = "broken", .uri = "redis://h", .extra = arr};
	ASSERT_INT_EQ(ops_conn_set(&f.c, f.k, &badx, &ans, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_INVALID);
	json_decref(arr);
	ASSERT_INT_EQ(ops_conn_get(&f.c, f.k, "broken", false, &v, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_NOT_FOUND);
	ASSERT_INT_EQ(ops_conn_delete(&f.c, f.k, "catalog", &v, &err), 0);
	json_decref(v);
	ASSERT_INT_EQ(ops_conn_delete(&f.c, f.k, "catalog", &v, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_NOT_FOUND);
	json_decref(extra);
	ops_err_free(&err);
	vteardown(&f);
}

/* ---- templates through the snapshot --------------------------------------------------------- */

static struct dag *load(const char *yaml)
{
	struct diag_list diags;
	diag_list_init(&diags, "t.yaml");
	struct dag *d = NULL;
	if (dag_load_buffer("t.yaml", yaml, strlen(yaml), &d, &diags) < 0) {
		diag_print(&diags, stderr);
		test_fail(__FILE__, __LINE__, "DAG did not load");
	}
	diag_list_free(&diags);
	return d;
}

static const char *env_of(const struct attempt_plan *p, const char *name)
{
	size_t n = strlen(name);
	for (char **e = p->env; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static bool has_secret(const struct attempt_plan *p, const char *v)
{
	for (char **s = p->secrets; s && *s; s++)
		if (strcmp(*s, v) == 0)
			return true;
	return false;
}

/* Render the first task of `yaml` with the snapshot; the plan in *ret, the TI's message on
 * failure in *ret_msg. */
static int render(const char *yaml, struct ops_vars_snapshot *snap, struct attempt_plan *ret,
		  char **ret_msg)
{
	struct dag *d = load(yaml);
	char *msg = NULL;
	json_t *params = params_resolve(d, NULL, &msg);
	struct run_config cfg = {.run_id = "r1", .params = params};
	struct run *r = run_new(d, &cfg, 0);
	json_decref(params);
	int64_t i = run_pop_ready(r);
	ASSERT(i >= 0);
	struct run_lookup lk;
	ops_vars_lookup(snap, &lk);
	int rc = run_begin_attempt_with(r, (uint32_t)i, 0, snap ? &lk : NULL, ret);
	const char *m = run_ti(r, (uint32_t)i)->message;
	*ret_msg = m ? xstrdup(m) : NULL;
	if (rc == 0)
		ASSERT_INT_EQ(run_ti(r, (uint32_t)i)->state, TI_QUEUED);
	else
		ASSERT_INT_EQ(run_ti(r, (uint32_t)i)->state, TI_FAILED);
	run_free(r);
	dag_free(d);
	return rc;
}

TEST(vars_templates_resolve_env_first_then_store)
{
	struct vfix f = vsetup();
	json_t *ans;
	struct ops_err err = {0};
	struct ops_var_set_req s1 = {.key = "token", .value = "Store-Secret-1", .secret = true};
	struct ops_var_set_req s2 = {.key = "region", .value = "eu-west"};
	struct ops_var_set_req s3 = {.key = "mode", .value = "from-store"};
	ASSERT_INT_EQ(ops_var_set(&f.c, f.k, &s1, &ans, &err), 0);
	json_decref(ans);
	ASSERT_INT_EQ(ops_var_set(&f.c, f.k, &s2, &ans, &err), 0);
	json_decref(ans);
	ASSERT_INT_EQ(ops_var_set(&f.c, f.k, &s3, &ans, &err), 0);
	json_decref(ans);
	struct ops_conn_set_req c1 = {.name = "catalog",
				      .uri = "postgresql://etl:Pw-In-Store@db.internal:5432/cat"};
	ASSERT_INT_EQ(ops_conn_set(&f.c, f.k, &c1, &ans, &err), 0);
	json_decref(ans);
	char *envp[] = {"GUST_VAR_MODE=from-env", "GUST_CONN_WAREHOUSE=mysql://u:Env-Pw@wh:3306/w",
			"GUST_CONN_BROKEN=nonsense", "PATH=/bin", NULL};
	struct ops_vars_snapshot *snap = NULL;
	ASSERT_INT_EQ(ops_vars_snapshot_load(f.st, f.k, envp, &snap, &err), 0);
	int64_t ver = 0;
	store_vars_version(f.st, &ver);
	ASSERT_INT_EQ((int)ops_vars_snapshot_version(snap), (int)ver);

	struct attempt_plan p;
	char *msg = NULL;
	ASSERT_INT_EQ(render("tasks:\n"
			     "  a:\n"
			     "    run: echo ${{ var.token }} ${{ var.region }} ${{ var.mode }} "
			     "${{ conn.catalog.host }}:${{ conn.catalog.port }} "
			     "${{ conn.warehouse.login }}\n"
			     "    env:\n"
			     "      DB: ${{ conn.catalog.uri }}\n"
			     "      PW: ${{ conn.catalog.password }}\n"
			     "      SCHEMA: ${{ conn.catalog.schema }}\n",
			     snap, &p, &msg),
		      0);
	/* Values are shell-quoted in run; env values are plain text. */
	ASSERT_STR_EQ(p.shell,
		      "echo 'Store-Secret-1' 'eu-west' 'from-env' 'db.internal':'5432' 'u'");
	ASSERT_STR_EQ(env_of(&p, "DB"), "postgresql://etl:Pw-In-Store@db.internal:5432/cat");
	ASSERT_STR_EQ(env_of(&p, "PW"), "Pw-In-Store");
	ASSERT_STR_EQ(env_of(&p, "SCHEMA"), "cat");
	/* The secrets to mask: the secret variable, the environment's value, each connection's
	 * password and URI; not the plain variable from the store. */
	ASSERT(has_secret(&p, "Store-Secret-1"));
	ASSERT(has_secret(&p, "from-env"));
	ASSERT(has_secret(&p, "Pw-In-Store"));
	ASSERT(has_secret(&p, "postgresql://etl:Pw-In-Store@db.internal:5432/cat"));
	ASSERT(has_secret(&p, "Env-Pw"));
	ASSERT(!has_secret(&p, "eu-west"));
	attempt_plan_free(&p);
	free(msg);

	/* Unknown ones fail the attempt before it starts, naming the key and how to set it. */
	ASSERT_INT_EQ(render("tasks:\n  a: echo ${{ var.nope }}\n", snap, &p, &msg), -EINVAL);
	ASSERT_STR_CONTAINS(msg, "var.nope: no variable 'nope'");
	ASSERT_STR_CONTAINS(msg, "GUST_VAR_NOPE");
	free(msg);
	ASSERT_INT_EQ(render("tasks:\n  a: echo ${{ conn.nope.host }}\n", snap, &p, &msg), -EINVAL);
	ASSERT_STR_CONTAINS(msg, "no connection 'nope'");
	ASSERT_STR_CONTAINS(msg, "GUST_CONN_NOPE");
	free(msg);
	ASSERT_INT_EQ(render("tasks:\n  a: echo ${{ conn.broken.host }}\n", snap, &p, &msg),
		      -EINVAL);
	ASSERT_STR_CONTAINS(msg, "GUST_CONN_BROKEN in the environment");
	free(msg);
	ASSERT_INT_EQ(
	    render("tasks:\n  a: echo ${{ conn.catalog.extra.missing }}\n", snap, &p, &msg),
	    -EINVAL);
	ASSERT_STR_CONTAINS(msg, "no field 'missing'");
	free(msg);
	/* Without a lookup (a caller that has none), every reference fails the same way. */
	ASSERT_INT_EQ(render("tasks:\n  a: echo ${{ var.region }}\n", NULL, &p, &msg), -EINVAL);
	ASSERT_STR_CONTAINS(msg, "var.region");
	free(msg);
	ops_vars_snapshot_free(snap);

	/* A snapshot with no store: the environment alone. */
	ASSERT_INT_EQ(ops_vars_snapshot_load(NULL, NULL, envp, &snap, &err), 0);
	ASSERT_INT_EQ(render("tasks:\n  a: echo ${{ var.mode }}\n", snap, &p, &msg), 0);
	ASSERT_STR_EQ(p.shell, "echo 'from-env'");
	attempt_plan_free(&p);
	free(msg);
	ASSERT_INT_EQ(render("tasks:\n  a: echo ${{ var.region }}\n", snap, &p, &msg), -EINVAL);
	free(msg);
	ops_vars_snapshot_free(snap);

	/* An empty snapshot (nothing anywhere) answers unknown, for both kinds. */
	ASSERT_INT_EQ(ops_vars_snapshot_load(NULL, NULL, NULL, &snap, &err), 0);
	ASSERT_INT_EQ(render("tasks:\n  a: echo ${{ var.region }}\n", snap, &p, &msg), -EINVAL);
	ASSERT_STR_CONTAINS(msg, "no variable 'region'");
	free(msg);
	ASSERT_INT_EQ(render("tasks:\n  a: echo ${{ conn.db.host }}\n", snap, &p, &msg), -EINVAL);
	ASSERT_STR_CONTAINS(msg, "no connection 'db'");
	free(msg);
	ops_vars_snapshot_free(snap);
	ops_err_free(&err);
	vteardown(&f);
}

TEST(vars_template_syntax_checked_at_load)
{
	static const struct {
		const char *yaml, *err;
	} bad[] = {
	    {"tasks:\n  a: echo ${{ var }}\n", "var needs a key"},
	    {"tasks:\n  a: echo ${{ var.a.b }}\n", "takes no field path"},
	    {"tasks:\n  a: echo ${{ var.a-b }}\n", "var needs a key"},
	    {"tasks:\n  a: echo ${{ conn.db }}\n", "unknown field of conn.NAME"},
	    {"tasks:\n  a: echo ${{ conn.db.pasword }}\n", "unknown field of conn.NAME"},
	    {"tasks:\n  a: echo ${{ conn.db.host.x }}\n", "only conn.NAME.extra"},
	    {"tasks:\n  a:\n    map: ${{ var.list }}\n    run: echo\n", "'map' cannot use"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct diag_list diags;
		diag_list_init(&diags, "t.yaml");
		struct dag *d = NULL;
		ASSERT(dag_load_buffer("t.yaml", bad[i].yaml, strlen(bad[i].yaml), &d, &diags) < 0);
		ASSERT(diags.n > 0);
		ASSERT_STR_CONTAINS(diags.items[0].msg, bad[i].err);
		diag_list_free(&diags);
		dag_free(d);
	}
	struct dag *d = load("tasks:\n  a: echo ${{ conn.db.extra.a.0 }} ${{ conn.db.extra }}\n");
	dag_free(d);
}

/* ---- the supervisor masks before writing ----------------------------------------------------- */

static struct attempt_outcome wait_done(struct executor *ex, uint64_t key)
{
	for (int spins = 0; spins < 400; spins++) {
		struct pollfd pf = {.fd = executor_fd(ex), .events = POLLIN};
		poll(&pf, 1, 100);
		struct executor_event evs[16];
		size_t n = executor_poll(ex, evs, 16);
		struct attempt_outcome o = {.status = AS__COUNT};
		for (size_t i = 0; i < n; i++) {
			if (evs[i].kind == EXEC_EV_FINISHED && evs[i].key == key) {
				o = evs[i].outcome;
				memset(&evs[i].outcome, 0, sizeof(evs[i].outcome));
			}
			executor_event_free(&evs[i]);
		}
		if (o.status != AS__COUNT)
			return o;
	}
	test_fail(__FILE__, __LINE__, "the attempt did not finish within 40 s");
	return (struct attempt_outcome){0};
}

static void masked_run(bool zygote, bool big)
{
	if (zygote)
		unsetenv("GUST_EXEC_ZYGOTE");
	else
		setenv("GUST_EXEC_ZYGOTE", "0", 1);
	char *dir = xstrdup("/tmp/gust-vars-mask-XXXXXX");
	ASSERT(mkdtemp(dir));
	struct executor *ex = local_executor_new();
	ASSERT(ex);
	const char *secrets[] = {"Mask-Me-Secret", "p@ss:w0rd", NULL};
	/* A spec over the zygote's inline limit travels in a memfd, secrets included. */
	char *filler = xmalloc(64 * 1024 + 8);
	memcpy(filler, "FILL=", 5);
	memset(filler + 5, 'f', 64 * 1024);
	filler[5 + 64 * 1024] = '\0';
	const char *envp[] = {"PW=p@ss:w0rd", "PATH=/usr/bin:/bin", big ? filler : NULL, NULL};
	/* Stdout and stderr, a secret twice in a line, beside another, and a command not found
	 * whose name is a secret (the outcome's message quotes stderr). */
	struct attempt_spec spec = {
	    .dir = dir,
	    .shell = "echo \"out Mask-Me-Secret and Mask-Me-Secret\"; echo \"err p@ss:w0rd\" >&2; "
		     "echo \"$PW\"; Mask-Me-Secret",
	    .envp = envp,
	    .kill_grace_ms = 1000,
	    .secrets = secrets,
	};
	ASSERT_INT_EQ(executor_start(ex, 1, &spec), 0);
	struct attempt_outcome o = wait_done(ex, 1);
	ASSERT_INT_EQ(o.status, AS_FAILED);
	ASSERT_INT_EQ(o.exit_code, 127);
	ASSERT(o.message);
	ASSERT(!strstr(o.message, "Mask-Me-Secret"));
	char *logp = xasprintf("%s/log", dir);
	char *log = raw_file_bytes(logp);
	ASSERT_STR_CONTAINS(log, "O out *** and ***");
	ASSERT_STR_CONTAINS(log, "E err ***");
	ASSERT(!strstr(log, "Mask-Me-Secret"));
	ASSERT(!strstr(log, "p@ss:w0rd"));
	char *out = xasprintf("%s/outcome", dir);
	char *oc = raw_file_bytes(out);
	ASSERT(!strstr(oc, "Mask-Me-Secret"));
	free(oc);
	free(out);
	free(log);
	free(logp);
	attempt_outcome_free(&o);
	executor_destroy(ex);
	free(filler);
	char *cmd = xasprintf("rm -rf '%s'", dir);
	int r = system(cmd);
	(void)r;
	free(cmd);
	free(dir);
}

TEST(vars_supervisor_masks_log_through_zygote)
{
	masked_run(true, false);
}

TEST(vars_supervisor_masks_log_through_zygote_memfd)
{
	masked_run(true, true);
}

TEST(vars_supervisor_masks_log_without_zygote)
{
	masked_run(false, false);
}

TEST(vars_store_rows_in_a_transaction_and_the_counter)
{
	struct vfix f = vsetup();
	int64_t v0 = -1, v1 = -1;
	ASSERT_INT_EQ(store_vars_version(f.st, &v0), 0);
	ASSERT_INT_EQ((int)v0, 0);
	/* Inside a caller's transaction: rolled back, nothing stays, the counter neither. */
	struct store_tx *tx = NULL;
	ASSERT_INT_EQ(store_begin(f.st, &tx), 0);
	struct store_var v = {.key = "k", .value = "v1", .updated_at = 5, .updated_by = "t"};
	ASSERT_INT_EQ(store_var_set(f.st, tx, &v), 0);
	struct store_conn c = {.name = "c", .uri = "v1:x", .extra = "{\"a\":1}", .updated_at = 6};
	ASSERT_INT_EQ(store_conn_set(f.st, tx, &c), 0);
	store_rollback(tx);
	struct store_var got = {0};
	ASSERT_INT_EQ(store_var_get(f.st, "k", &got), -ENOENT);
	ASSERT_STR_CONTAINS(store_errmsg(f.st), "no variable 'k'");
	ASSERT_INT_EQ(store_vars_version(f.st, &v1), 0);
	ASSERT_INT_EQ((int)v1, 0);
	/* Committed: each write counts once; delete of an unknown row changes nothing. */
	ASSERT_INT_EQ(store_begin(f.st, &tx), 0);
	ASSERT_INT_EQ(store_var_set(f.st, tx, &v), 0);
	ASSERT_INT_EQ(store_conn_set(f.st, tx, &c), 0);
	ASSERT_INT_EQ(store_commit(tx), 0);
	ASSERT_INT_EQ(store_vars_version(f.st, &v1), 0);
	ASSERT_INT_EQ((int)v1, 2);
	ASSERT_INT_EQ(store_var_delete(f.st, NULL, "nope"), -ENOENT);
	ASSERT_INT_EQ(store_conn_delete(f.st, NULL, "nope"), -ENOENT);
	ASSERT_STR_CONTAINS(store_errmsg(f.st), "no connection 'nope'");
	ASSERT_INT_EQ(store_vars_version(f.st, &v1), 0);
	ASSERT_INT_EQ((int)v1, 2);
	struct store_conn gc = {0};
	ASSERT_INT_EQ(store_conn_get(f.st, "c", &gc), 0);
	ASSERT_STR_EQ(gc.extra, "{\"a\":1}");
	ASSERT(gc.description == NULL);
	ASSERT_INT_EQ((int)gc.updated_at, 6);
	store_conn_free(&gc);
	/* A missing value is refused by the store itself. */
	struct store_var nov = {.key = "x"};
	ASSERT_INT_EQ(store_var_set(f.st, NULL, &nov), -EINVAL);
	struct store_conn nou = {.name = "x"};
	ASSERT_INT_EQ(store_conn_set(f.st, NULL, &nou), -EINVAL);
	vteardown(&f);
}

TEST(vars_api_bodies_parsed_strictly)
{
	struct ops_err err = {0};
	struct ops_var_set_req vr;
	json_t *b = json_pack("{s:s, s:b, s:n}", "value", "v", "secret", 1, "description");
	ASSERT_INT_EQ(ops_var_req_parse("k", b, &vr, &err), 0);
	ASSERT_STR_EQ(vr.key, "k");
	ASSERT_STR_EQ(vr.value, "v");
	ASSERT(vr.secret);
	ASSERT_STR_EQ(vr.description, ""); /* null clears */
	json_decref(b);
	b = json_pack("{s:s}", "value", "v");
	ASSERT_INT_EQ(ops_var_req_parse("k", b, &vr, &err), 0);
	ASSERT(!vr.secret && vr.description == NULL); /* absent keeps */
	json_decref(b);
	static const char *const bad_vars[] = {
	    "[]",
	    "{}",
	    "{\"value\": 1}",
	    "{\"value\": \"v\", \"secret\": \"yes\"}",
	    "{\"value\": \"v\", \"extra\": {}}",
	    "{\"value\": null}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad_vars); i++) {
		b = json_loads(bad_vars[i], 0, NULL);
		ASSERT(b);
		ASSERT_INT_EQ(ops_var_req_parse("k", b, &vr, &err), -1);
		ASSERT_INT_EQ(err.kind, OPS_BAD_REQUEST);
		json_decref(b);
	}
	b = json_loads("{\"value\": \"a\\u0000b\"}", JSON_ALLOW_NUL, NULL);
	ASSERT_INT_EQ(ops_var_req_parse("k", b, &vr, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_INVALID);
	json_decref(b);

	struct ops_conn_set_req cr;
	b = json_loads("{\"uri\": \"redis://h\", \"extra\": {\"a\": 1}}", 0, NULL);
	ASSERT_INT_EQ(ops_conn_req_parse("c", b, &cr, &err), 0);
	ASSERT_STR_EQ(cr.uri, "redis://h");
	ASSERT(json_is_object(cr.extra));
	json_decref(b);
	static const char *const bad_conns[] = {
	    "{}",
	    "{\"uri\": 5}",
	    "{\"uri\": \"redis://h\", \"extra\": [1]}",
	    "{\"uri\": \"redis://h\", \"password\": \"x\"}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad_conns); i++) {
		b = json_loads(bad_conns[i], 0, NULL);
		ASSERT(b);
		ASSERT_INT_EQ(ops_conn_req_parse("c", b, &cr, &err), -1);
		ASSERT_INT_EQ(err.kind, OPS_BAD_REQUEST);
		json_decref(b);
	}
	ops_err_free(&err);
}
