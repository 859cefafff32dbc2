/*
 * Tests for the identity tables of store/store_sqlite.c (schema 6): users, sessions, API
 * tokens and the audit log, each function's success and error paths, on a private in-memory
 * store. The rules above the store (who may do what) are tested in test_identity.c.
 */
#include <errno.h>

#include "base/util.h"
#include "store/store.h"
#include "test.h"

static struct store *mem(void)
{
	struct store *s = NULL;
	char *msg = NULL;
	if (store_open(":memory:", &s, &msg) != 0)
		test_fail(__FILE__, __LINE__, "store_open: %s", msg ? msg : "");
	return s;
}

static void add_user(struct store *s, const char *name, const char *role)
{
	struct store_user u = {
	    .name = (char *)name, .role = (char *)role, .password_hash = "$h", .created_at = 10};
	int r = store_user_add(s, NULL, &u);
	if (r != 0)
		test_fail(__FILE__, __LINE__, "store_user_add(%s): %d %s", name, r,
			  store_errmsg(s));
}

static int64_t add_token(struct store *s, const char *hash, const char *user)
{
	struct store_token t = {.hash = (char *)hash,
				.display = "gust_abcdefgh",
				.name = "ci",
				.user = (char *)user,
				.created_by = "local:me",
				.created_at = 20,
				.expires_at = 1000};
	int64_t id = 0;
	ASSERT_INT_EQ(store_token_add(s, NULL, &t, &id), 0);
	ASSERT(id > 0);
	return id;
}

static void add_session(struct store *s, const char *hash, const char *user, int64_t expires)
{
	struct store_session x = {.hash = (char *)hash,
				  .user = (char *)user,
				  .created_at = 5,
				  .expires_at = expires,
				  .remote_addr = "127.0.0.1"};
	ASSERT_INT_EQ(store_session_add(s, NULL, &x), 0);
}

TEST(store_users_round_trip_and_errors)
{
	struct store *s = mem();
	add_user(s, "bob", "viewer");
	add_user(s, "ann", "admin");
	struct store_user u = {.name = "bob", .role = "viewer", .password_hash = "$x"};
	ASSERT_INT_EQ(store_user_add(s, NULL, &u), -EEXIST);
	u.name = "cy";
	u.role = "root";
	ASSERT_INT_EQ(store_user_add(s, NULL, &u), -EINVAL);
	u.role = "viewer";
	u.password_hash = NULL;
	ASSERT_INT_EQ(store_user_add(s, NULL, &u), -EINVAL);

	struct store_user g;
	ASSERT_INT_EQ(store_user_get(s, "bob", &g), 0);
	ASSERT_STR_EQ(g.role, "viewer");
	ASSERT_STR_EQ(g.password_hash, "$h");
	ASSERT_INT_EQ(g.created_at, 10);
	ASSERT_INT_EQ(g.updated_at, 10);
	ASSERT_INT_EQ(g.password_changed_at, 10);
	store_user_free(&g);
	ASSERT_INT_EQ(store_user_get(s, "nobody", &g), -ENOENT);

	struct store_user *us = NULL;
	size_t n = 0;
	ASSERT_INT_EQ(store_user_list(s, &us, &n), 0);
	ASSERT_INT_EQ(n, 2);
	ASSERT_STR_EQ(us[0].name, "ann");
	ASSERT_STR_EQ(us[1].name, "bob");
	for (size_t i = 0; i < n; i++)
		store_user_free(&us[i]);
	free(us);

	int64_t c = 0;
	ASSERT_INT_EQ(store_user_count(s, NULL, &c), 0);
	ASSERT_INT_EQ(c, 2);
	ASSERT_INT_EQ(store_user_count(s, "admin", &c), 0);
	ASSERT_INT_EQ(c, 1);

	ASSERT_INT_EQ(store_user_set_role(s, NULL, "bob", "editor", 30), 0);
	ASSERT_INT_EQ(store_user_set_role(s, NULL, "bob", "boss", 30), -EINVAL);
	ASSERT_INT_EQ(store_user_set_role(s, NULL, "nobody", "editor", 30), -ENOENT);
	ASSERT_INT_EQ(store_user_get(s, "bob", &g), 0);
	ASSERT_STR_EQ(g.role, "editor");
	ASSERT_INT_EQ(g.updated_at, 30);
	ASSERT_INT_EQ(g.password_changed_at, 10);
	store_user_free(&g);
	store_close(s);
}

TEST(store_user_password_ends_sessions_when_asked)
{
	struct store *s = mem();
	add_user(s, "bob", "viewer");
	add_session(s, "s1", "bob", 100);
	ASSERT_INT_EQ(store_user_set_password(s, NULL, "bob", "$new", false, 40), 0);
	struct store_session x;
	ASSERT_INT_EQ(store_session_get(s, "s1", &x), 0);
	store_session_free(&x);
	ASSERT_INT_EQ(store_user_set_password(s, NULL, "bob", "$newer", true, 50), 0);
	ASSERT_INT_EQ(store_session_get(s, "s1", &x), -ENOENT);
	struct store_user g;
	ASSERT_INT_EQ(store_user_get(s, "bob", &g), 0);
	ASSERT_STR_EQ(g.password_hash, "$newer");
	ASSERT_INT_EQ(g.password_changed_at, 50);
	store_user_free(&g);
	ASSERT_INT_EQ(store_user_set_password(s, NULL, "nobody", "$h", true, 50), -ENOENT);

	/* A rehash applies only over the hash it replaces. */
	ASSERT_INT_EQ(store_user_rehash(s, "bob", "$stale", "$re"), 0);
	ASSERT_INT_EQ(store_user_get(s, "bob", &g), 0);
	ASSERT_STR_EQ(g.password_hash, "$newer");
	store_user_free(&g);
	ASSERT_INT_EQ(store_user_rehash(s, "bob", "$newer", "$re"), 0);
	ASSERT_INT_EQ(store_user_get(s, "bob", &g), 0);
	ASSERT_STR_EQ(g.password_hash, "$re");
	ASSERT_INT_EQ(g.password_changed_at, 50);
	store_user_free(&g);
	store_close(s);
}

TEST(store_user_delete_ends_sessions_and_revokes_tokens)
{
	struct store *s = mem();
	add_user(s, "bob", "viewer");
	add_user(s, "ann", "admin");
	add_session(s, "s1", "bob", 100);
	add_session(s, "s2", "ann", 100);
	int64_t t1 = add_token(s, "h1", "bob");
	int64_t t2 = add_token(s, "h2", "bob");
	int64_t t3 = add_token(s, "h3", "ann");
	ASSERT_INT_EQ(store_token_revoke(s, NULL, t2, 60), 0);
	int64_t revoked = -1;
	ASSERT_INT_EQ(store_user_delete(s, NULL, "bob", 70, &revoked), 0);
	ASSERT_INT_EQ(revoked, 1);
	struct store_session x;
	ASSERT_INT_EQ(store_session_get(s, "s1", &x), -ENOENT);
	ASSERT_INT_EQ(store_session_get(s, "s2", &x), 0);
	store_session_free(&x);
	struct store_token t;
	ASSERT_INT_EQ(store_token_get(s, t1, &t), 0);
	ASSERT_INT_EQ(t.revoked_at, 70);
	store_token_free(&t);
	ASSERT_INT_EQ(store_token_get(s, t2, &t), 0);
	ASSERT_INT_EQ(t.revoked_at, 60); /* revoked before: its time stays */
	store_token_free(&t);
	ASSERT_INT_EQ(store_token_get(s, t3, &t), 0);
	ASSERT_INT_EQ(t.revoked_at, 0);
	store_token_free(&t);
	ASSERT_INT_EQ(store_user_get(s, "bob", &(struct store_user){0}), -ENOENT);
	/* An unknown user: nothing changes, not even other users' tokens. */
	ASSERT_INT_EQ(store_user_delete(s, NULL, "bob", 80, NULL), -ENOENT);
	ASSERT_INT_EQ(store_token_get(s, t3, &t), 0);
	ASSERT_INT_EQ(t.revoked_at, 0);
	store_token_free(&t);

	/* Inside a caller's transaction, rolled back: all of it is undone. */
	struct store_tx *tx;
	ASSERT_INT_EQ(store_begin(s, &tx), 0);
	ASSERT_INT_EQ(store_user_delete(s, tx, "ann", 90, NULL), 0);
	store_rollback(tx);
	ASSERT_INT_EQ(store_session_get(s, "s2", &x), 0);
	store_session_free(&x);
	ASSERT_INT_EQ(store_token_get(s, t3, &t), 0);
	ASSERT_INT_EQ(t.revoked_at, 0);
	store_token_free(&t);
	store_close(s);
}

TEST(store_sessions_touch_delete_sweep)
{
	struct store *s = mem();
	add_user(s, "bob", "viewer");
	add_session(s, "s1", "bob", 100);
	add_session(s, "s2", "bob", 200);
	add_session(s, "s3", "bob", 300);
	struct store_session x = {.hash = "s1", .user = "bob", .created_at = 1, .expires_at = 2};
	ASSERT_INT_EQ(store_session_add(s, NULL, &x), -EEXIST);
	x.hash = "s9";
	x.user = "nobody";
	ASSERT_INT_EQ(store_session_add(s, NULL, &x), -ENOENT);

	ASSERT_INT_EQ(store_session_get(s, "s1", &x), 0);
	ASSERT_STR_EQ(x.user, "bob");
	ASSERT_INT_EQ(x.created_at, 5);
	ASSERT_INT_EQ(x.last_seen_at, 5);
	ASSERT_INT_EQ(x.expires_at, 100);
	ASSERT_STR_EQ(x.remote_addr, "127.0.0.1");
	store_session_free(&x);

	ASSERT_INT_EQ(store_session_touch(s, "s1", 50, 150), 0);
	ASSERT_INT_EQ(store_session_touch(s, "nope", 50, 150), -ENOENT);
	ASSERT_INT_EQ(store_session_get(s, "s1", &x), 0);
	ASSERT_INT_EQ(x.last_seen_at, 50);
	ASSERT_INT_EQ(x.expires_at, 150);
	store_session_free(&x);

	/* expires_at <= now is swept, in batches. */
	ASSERT_INT_EQ(store_session_sweep(s, 200, 1), 1); /* s1 (150) first */
	ASSERT_INT_EQ(store_session_get(s, "s1", &x), -ENOENT);
	ASSERT_INT_EQ(store_session_sweep(s, 200, 10), 1); /* s2 (200) */
	ASSERT_INT_EQ(store_session_sweep(s, 200, 10), 0);
	ASSERT_INT_EQ(store_session_get(s, "s3", &x), 0);
	store_session_free(&x);

	ASSERT_INT_EQ(store_session_delete(s, "s3"), 0);
	ASSERT_INT_EQ(store_session_delete(s, "s3"), -ENOENT);
	store_close(s);
}

TEST(store_tokens_round_trip_find_list_revoke_touch)
{
	struct store *s = mem();
	add_user(s, "bob", "viewer");
	add_user(s, "ann", "admin");
	int64_t a = add_token(s, "ha", "bob");
	int64_t b = add_token(s, "hb", "ann");
	ASSERT(b > a);
	struct store_token t = {
	    .hash = "ha", .display = "d", .name = "n", .user = "bob", .created_by = "x"};
	ASSERT_INT_EQ(store_token_add(s, NULL, &t, NULL), -EEXIST);

	ASSERT_INT_EQ(store_token_find(s, "hb", &t), 0);
	ASSERT_INT_EQ(t.id, b);
	ASSERT_STR_EQ(t.user, "ann");
	ASSERT_STR_EQ(t.display, "gust_abcdefgh");
	ASSERT_STR_EQ(t.name, "ci");
	ASSERT_STR_EQ(t.created_by, "local:me");
	ASSERT_INT_EQ(t.created_at, 20);
	ASSERT_INT_EQ(t.expires_at, 1000);
	ASSERT_INT_EQ(t.last_used_at, 0);
	ASSERT_INT_EQ(t.revoked_at, 0);
	store_token_free(&t);
	ASSERT_INT_EQ(store_token_find(s, "nope", &t), -ENOENT);
	ASSERT_INT_EQ(store_token_get(s, 999, &t), -ENOENT);

	struct store_token *ts = NULL;
	size_t n = 0;
	ASSERT_INT_EQ(store_token_list(s, NULL, &ts, &n), 0);
	ASSERT_INT_EQ(n, 2);
	ASSERT_INT_EQ(ts[0].id, a);
	for (size_t i = 0; i < n; i++)
		store_token_free(&ts[i]);
	free(ts);
	ASSERT_INT_EQ(store_token_list(s, "ann", &ts, &n), 0);
	ASSERT_INT_EQ(n, 1);
	ASSERT_INT_EQ(ts[0].id, b);
	store_token_free(&ts[0]);
	free(ts);

	ASSERT_INT_EQ(store_token_touch(s, a, 77), 0);
	ASSERT_INT_EQ(store_token_touch(s, 999, 77), -ENOENT);
	ASSERT_INT_EQ(store_token_revoke(s, NULL, a, 88), 0);
	ASSERT_INT_EQ(store_token_revoke(s, NULL, a, 99), -EALREADY);
	ASSERT_INT_EQ(store_token_revoke(s, NULL, 999, 99), -ENOENT);
	ASSERT_INT_EQ(store_token_get(s, a, &t), 0);
	ASSERT_INT_EQ(t.last_used_at, 77);
	ASSERT_INT_EQ(t.revoked_at, 88);
	store_token_free(&t);
	store_close(s);
}

TEST(store_audit_add_and_list_by_cursor_and_filter)
{
	struct store *s = mem();
	const char *actions[] = {"user.add", "login", "login.failed", "login", "token.create"};
	int64_t ids[5];
	for (int i = 0; i < 5; i++) {
		struct store_audit a = {.at = 100 + i,
					.actor = i % 2 ? "ann" : "local:me",
					.via = i % 2 ? "api" : "cli",
					.remote_addr = i % 2 ? "10.0.0.1" : NULL,
					.action = (char *)actions[i],
					.target = "bob",
					.detail = i == 0 ? "{\"role\":\"viewer\"}" : NULL};
		ASSERT_INT_EQ(store_audit_add(s, NULL, &a, &ids[i]), 0);
		if (i)
			ASSERT(ids[i] > ids[i - 1]);
	}
	struct store_audit bad = {.at = 1, .actor = "x", .via = "mail", .action = "y"};
	ASSERT_INT_EQ(store_audit_add(s, NULL, &bad, NULL), -EINVAL);
	bad.via = "cli";
	bad.action = NULL;
	ASSERT_INT_EQ(store_audit_add(s, NULL, &bad, NULL), -EINVAL);

	struct store_audit *as = NULL;
	size_t n = 0;
	struct store_audit_filter f = {.limit = 2};
	ASSERT_INT_EQ(store_audit_list(s, &f, &as, &n), 0);
	ASSERT_INT_EQ(n, 2);
	ASSERT_INT_EQ(as[0].id, ids[4]);
	ASSERT_INT_EQ(as[1].id, ids[3]);
	ASSERT_STR_EQ(as[1].via, "api");
	ASSERT_STR_EQ(as[1].remote_addr, "10.0.0.1");
	ASSERT_STR_EQ(as[1].detail, "{}");
	for (size_t i = 0; i < n; i++)
		store_audit_free(&as[i]);
	free(as);
	/* The next page, before the last one seen. */
	f.before_id = ids[3];
	f.limit = 0;
	ASSERT_INT_EQ(store_audit_list(s, &f, &as, &n), 0);
	ASSERT_INT_EQ(n, 3);
	ASSERT_INT_EQ(as[2].id, ids[0]);
	ASSERT_STR_EQ(as[2].detail, "{\"role\":\"viewer\"}");
	ASSERT(as[2].remote_addr == NULL);
	for (size_t i = 0; i < n; i++)
		store_audit_free(&as[i]);
	free(as);
	/* After an id, oldest first; with filters. */
	f = (struct store_audit_filter){.after_id = ids[0], .action = "login"};
	ASSERT_INT_EQ(store_audit_list(s, &f, &as, &n), 0);
	ASSERT_INT_EQ(n, 2);
	ASSERT_INT_EQ(as[0].id, ids[1]);
	ASSERT_INT_EQ(as[1].id, ids[3]);
	for (size_t i = 0; i < n; i++)
		store_audit_free(&as[i]);
	free(as);
	f = (struct store_audit_filter){.actor = "local:me"};
	ASSERT_INT_EQ(store_audit_list(s, &f, &as, &n), 0);
	ASSERT_INT_EQ(n, 3);
	for (size_t i = 0; i < n; i++) {
		ASSERT_STR_EQ(as[i].actor, "local:me");
		store_audit_free(&as[i]);
	}
	free(as);
	store_close(s);
}
