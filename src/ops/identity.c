/*
 * identity.c - users, tokens, sessions and the audit log (see identity.h).
 *
 * Each change is one store transaction holding the change and its audit entry, so the log
 * never misses a change nor records one that did not happen. Password hashing (tens of
 * milliseconds, tens of MiB) happens before the transaction opens: no write lock is held
 * while argon2 runs. Checks that depend on other rows (the last admin) are made inside the
 * transaction, so two concurrent removals cannot both pass them.
 */
#include "ops/identity.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/core.h"
#include "base/util.h"
#include "ops/shape.h"

/* The one sentence of every refused credential: it must not tell which part was wrong. */
#define BAD_TOKEN "the API token is not valid (unknown, revoked or expired)"
#define BAD_LOGIN "wrong user name or password"
#define BAD_SESSION "the session is not valid (unknown, or ended): log in again"

bool ops_user_name_valid(const char *name)
{
	return name && store_pool_name_valid(name);
}

char *ops_actor_name(const struct ops_actor *a)
{
	if (a && a->user)
		return xstrdup(a->user);
	/* getpwuid_r: an HTTP worker thread may ask too (for a server-side actor). */
	struct passwd pwd, *pw = NULL;
	char buf[4096];
	if (getpwuid_r(geteuid(), &pwd, buf, sizeof(buf), &pw) == 0 && pw && pw->pw_name &&
	    *pw->pw_name)
		return xasprintf("local:%s", pw->pw_name);
	return xasprintf("local:%ld", (long)geteuid());
}

static const char *actor_via(const struct ops_actor *a)
{
	if (a && a->via)
		return a->via;
	return a && a->user ? "api" : "cli";
}

static bool is_admin(const struct ops_actor *a)
{
	return !a->user || auth_role_allows(a->role, AUTH_ROLE_ADMIN);
}

static bool is_self(const struct ops_actor *a, const char *name)
{
	return a->user && name && strcmp(a->user, name) == 0;
}

int ops_audit_add(struct store *st, struct store_tx *tx, int64_t now, const struct ops_actor *actor,
		  const char *action, const char *target, const json_t *detail)
{
	char *who = ops_actor_name(actor);
	char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	struct store_audit a = {
	    .at = now,
	    .actor = who,
	    .via = (char *)actor_via(actor),
	    .remote_addr = actor ? (char *)actor->remote_addr : NULL,
	    .action = (char *)action,
	    .target = (char *)target,
	    .detail = text,
	};
	int r = store_audit_add(st, tx, &a, NULL);
	free(text);
	free(who);
	return r;
}

/* OPS_FORBIDDEN for `action`, audited as ACTION.denied (best effort: the refusal stands
 * whether the entry could be written or not). */
static int denied(struct store *st, int64_t now, const struct ops_actor *actor, const char *action,
		  const char *target, struct ops_err *err, const char *why)
{
	char *name = xasprintf("%s.denied", action);
	ops_audit_add(st, NULL, now, actor, name, target, NULL);
	free(name);
	return ops_fail(err, OPS_FORBIDDEN, "%s", why);
}

static int store_failed(struct store *st, struct ops_err *err, const char *what)
{
	return ops_fail(err, OPS_INTERNAL, "cannot %s: %s", what, store_errmsg(st));
}

/* Commit `tx` with its audit entry; on any failure it is rolled back and *err says so. */
static int commit_audited(struct store *st, struct store_tx *tx, int64_t now,
			  const struct ops_actor *actor, const char *action, const char *target,
			  json_t *detail, struct ops_err *err, const char *what)
{
	int r = ops_audit_add(st, tx, now, actor, action, target, detail);
	json_decref(detail);
	if (r < 0) {
		store_rollback(tx);
		return store_failed(st, err, what);
	}
	if (store_commit(tx) < 0)
		return store_failed(st, err, what);
	return 0;
}

static int check_name(const char *name, struct ops_err *err)
{
	if (!ops_user_name_valid(name))
		return ops_fail(err, OPS_INVALID,
				"bad user name '%.100s': use 1 to %d letters, digits, '_', '-' "
				"and '.', not starting with '-' or '.'",
				name ? name : "", OPS_USER_NAME_MAX);
	return 0;
}

static int check_role(const char *role, enum auth_role *ret, struct ops_err *err)
{
	if (!role || auth_role_parse(role, ret) < 0)
		return ops_fail(err, OPS_INVALID,
				"bad role '%.40s': use viewer, operator, editor or admin",
				role ? role : "");
	return 0;
}

/* The policy, then the hash (at the default cost) into `hash`. */
static int new_hash(const char *pw, size_t pwlen, char hash[AUTH_PWHASH_MAX], struct ops_err *err)
{
	char *msg = NULL;
	if (!pw || auth_password_check(pw, pwlen, 0, &msg) < 0) {
		ops_fail(err, OPS_INVALID, "%s", msg ? msg : "a password is needed");
		free(msg);
		return -1;
	}
	int r = auth_password_hash(pw, pwlen, hash);
	if (r < 0)
		return ops_fail(err, OPS_INTERNAL, "cannot hash the password: %s", strerror(-r));
	return 0;
}

/* The user's row, or OPS_NOT_FOUND. */
static int get_user(struct store *st, const char *name, struct store_user *ret, struct ops_err *err)
{
	int r = store_user_get(st, name, ret);
	if (r == -ENOENT)
		return ops_fail(err, OPS_NOT_FOUND, "no user '%.100s'", name ? name : "");
	if (r < 0)
		return store_failed(st, err, "read the user");
	return 0;
}

/* ---- users ---------------------------------------------------------------------------------- */

int ops_user_add(struct store *st, int64_t now, const struct ops_actor *actor, const char *name,
		 const char *role, const char *pw, size_t pwlen, struct ops_err *err)
{
	enum auth_role rl;
	if (!is_admin(actor))
		return denied(st, now, actor, "user.add", name, err,
			      "adding users needs the admin role");
	if (check_name(name, err) < 0 || check_role(role, &rl, err) < 0)
		return -1;
	char hash[AUTH_PWHASH_MAX];
	if (new_hash(pw, pwlen, hash, err) < 0)
		return -1;
	struct store_tx *tx;
	if (store_begin(st, &tx) < 0)
		return store_failed(st, err, "add the user");
	struct store_user u = {.name = (char *)name,
			       .role = (char *)auth_role_name(rl),
			       .password_hash = hash,
			       .created_at = now};
	int r = store_user_add(st, tx, &u);
	explicit_bzero(hash, sizeof(hash));
	if (r < 0) {
		store_rollback(tx);
		if (r == -EEXIST)
			return ops_fail(err, OPS_CONFLICT, "user '%s' exists already", name);
		return store_failed(st, err, "add the user");
	}
	return commit_audited(st, tx, now, actor, "user.add", name,
			      json_pack("{s:s}", "role", auth_role_name(rl)), err, "add the user");
}

int ops_user_passwd(struct store *st, int64_t now, const struct ops_actor *actor, const char *name,
		    const char *pw, size_t pwlen, struct ops_err *err)
{
	if (!is_admin(actor) && !is_self(actor, name))
		return denied(st, now, actor, "user.passwd", name, err,
			      "changing another user's password needs the admin role");
	if (check_name(name, err) < 0)
		return -1;
	struct store_user u;
	if (get_user(st, name, &u, err) < 0)
		return -1;
	store_user_free(&u);
	char hash[AUTH_PWHASH_MAX];
	if (new_hash(pw, pwlen, hash, err) < 0)
		return -1;
	struct store_tx *tx;
	if (store_begin(st, &tx) < 0)
		return store_failed(st, err, "change the password");
	int r = store_user_set_password(st, tx, name, hash, true, now);
	explicit_bzero(hash, sizeof(hash));
	if (r < 0) {
		store_rollback(tx);
		if (r == -ENOENT)
			return ops_fail(err, OPS_NOT_FOUND, "no user '%s'", name);
		return store_failed(st, err, "change the password");
	}
	return commit_audited(st, tx, now, actor, "user.passwd", name, NULL, err,
			      "change the password");
}

/* Inside `tx`: OPS_CONFLICT when `u` is the only admin (its removal or demotion would leave
 * nobody to manage users over the API). */
static int keep_an_admin(struct store *st, const struct store_user *u, const char *what,
			 struct ops_err *err)
{
	if (strcmp(u->role, "admin") != 0)
		return 0;
	int64_t n = 0;
	if (store_user_count(st, "admin", &n) < 0)
		return store_failed(st, err, what);
	if (n <= 1)
		return ops_fail(err, OPS_CONFLICT,
				"'%s' is the last admin: make another user admin first", u->name);
	return 0;
}

int ops_user_set_role(struct store *st, int64_t now, const struct ops_actor *actor,
		      const char *name, const char *role, struct ops_err *err)
{
	enum auth_role rl;
	if (!is_admin(actor))
		return denied(st, now, actor, "user.set_role", name, err,
			      "changing roles needs the admin role");
	if (check_name(name, err) < 0 || check_role(role, &rl, err) < 0)
		return -1;
	struct store_tx *tx;
	if (store_begin(st, &tx) < 0)
		return store_failed(st, err, "change the role");
	struct store_user u;
	if (get_user(st, name, &u, err) < 0) {
		store_rollback(tx);
		return -1;
	}
	json_t *detail = json_pack("{s:s, s:s}", "from", u.role, "to", auth_role_name(rl));
	int r = rl == AUTH_ROLE_ADMIN ? 0 : keep_an_admin(st, &u, "change the role", err);
	store_user_free(&u);
	if (r == 0 && store_user_set_role(st, tx, name, auth_role_name(rl), now) < 0)
		r = store_failed(st, err, "change the role");
	if (r < 0) {
		json_decref(detail);
		store_rollback(tx);
		return -1;
	}
	return commit_audited(st, tx, now, actor, "user.set_role", name, detail, err,
			      "change the role");
}

int ops_user_remove(struct store *st, int64_t now, const struct ops_actor *actor, const char *name,
		    struct ops_err *err)
{
	if (!is_admin(actor))
		return denied(st, now, actor, "user.remove", name, err,
			      "removing users needs the admin role");
	if (check_name(name, err) < 0)
		return -1;
	struct store_tx *tx;
	if (store_begin(st, &tx) < 0)
		return store_failed(st, err, "remove the user");
	struct store_user u;
	if (get_user(st, name, &u, err) < 0) {
		store_rollback(tx);
		return -1;
	}
	int r = keep_an_admin(st, &u, "remove the user", err);
	json_t *detail = json_pack("{s:s}", "role", u.role);
	store_user_free(&u);
	int64_t revoked = 0;
	if (r == 0 && store_user_delete(st, tx, name, now, &revoked) < 0)
		r = store_failed(st, err, "remove the user");
	if (r < 0) {
		json_decref(detail);
		store_rollback(tx);
		return -1;
	}
	json_object_set_new(detail, "tokens_revoked", json_integer(revoked));
	return commit_audited(st, tx, now, actor, "user.remove", name, detail, err,
			      "remove the user");
}

int ops_user_list(struct store *st, const struct ops_actor *actor, json_t **ret,
		  struct ops_err *err)
{
	if (!is_admin(actor))
		return ops_fail(err, OPS_FORBIDDEN, "listing users needs the admin role");
	struct store_user *us = NULL;
	size_t n = 0;
	if (store_user_list(st, &us, &n) < 0)
		return store_failed(st, err, "list the users");
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(arr, ops_user_json(&us[i]));
		store_user_free(&us[i]);
	}
	free(us);
	*ret = arr;
	return 0;
}

int ops_user_get(struct store *st, const struct ops_actor *actor, const char *name, json_t **ret,
		 struct ops_err *err)
{
	if (!is_admin(actor) && !is_self(actor, name))
		return ops_fail(err, OPS_FORBIDDEN, "reading another user needs the admin role");
	struct store_user u;
	if (get_user(st, name, &u, err) < 0)
		return -1;
	*ret = ops_user_json(&u);
	store_user_free(&u);
	return 0;
}

/* ---- tokens --------------------------------------------------------------------------------- */

void ops_token_new_wipe(struct ops_token_new *t)
{
	if (!t)
		return;
	json_decref(t->token);
	explicit_bzero(t, sizeof(*t));
}

static int check_label(const char *label, struct ops_err *err)
{
	size_t n = label ? strlen(label) : 0;
	bool ok = n > 0 && n <= OPS_TOKEN_LABEL_MAX;
	for (size_t i = 0; ok && i < n; i++)
		if ((unsigned char)label[i] < 0x20 || label[i] == 0x7f)
			ok = false;
	if (!ok)
		return ops_fail(err, OPS_INVALID,
				"a token's name must be 1 to %d characters without control "
				"characters",
				OPS_TOKEN_LABEL_MAX);
	return 0;
}

int ops_token_create(struct store *st, int64_t now, const struct ops_actor *actor, const char *user,
		     const char *label, int64_t expires_at, struct ops_token_new *ret,
		     struct ops_err *err)
{
	if (!is_admin(actor) && !is_self(actor, user))
		return denied(st, now, actor, "token.create", user, err,
			      "creating a token for another user needs the admin role");
	if (check_name(user, err) < 0 || check_label(label, err) < 0)
		return -1;
	if (expires_at < 0 || (expires_at > 0 && expires_at <= now))
		return ops_fail(err, OPS_INVALID, "a token's expiry must be in the future");
	struct auth_token tok;
	if (auth_token_new(&tok) < 0)
		return ops_fail(err, OPS_INTERNAL, "cannot draw a random token");
	char *by = ops_actor_name(actor);
	struct store_token t = {.hash = tok.hash,
				.display = tok.display,
				.name = (char *)label,
				.user = (char *)user,
				.created_by = by,
				.created_at = now,
				.expires_at = expires_at};
	struct store_tx *tx;
	struct store_user u;
	int r = -1;
	if (store_begin(st, &tx) < 0) {
		store_failed(st, err, "create the token");
		goto out;
	}
	/* The user must exist when the token is made (in the same transaction). */
	if (get_user(st, user, &u, err) < 0) {
		store_rollback(tx);
		goto out;
	}
	store_user_free(&u);
	if (store_token_add(st, tx, &t, &t.id) < 0) {
		store_rollback(tx);
		store_failed(st, err, "create the token");
		goto out;
	}
	char id[32];
	snprintf(id, sizeof(id), "%lld", (long long)t.id);
	if (commit_audited(st, tx, now, actor, "token.create", id,
			   json_pack("{s:s, s:s, s:s, s:o}", "user", user, "name", label, "display",
				     tok.display, "expires_at", ops_time_json(expires_at)),
			   err, "create the token") < 0)
		goto out;
	memset(ret, 0, sizeof(*ret));
	ret->id = t.id;
	memcpy(ret->text, tok.text, sizeof(ret->text));
	ret->token = ops_token_json(&t);
	r = 0;
out:
	auth_token_wipe(&tok);
	free(by);
	return r;
}

int ops_token_list(struct store *st, const struct ops_actor *actor, const char *user, json_t **ret,
		   struct ops_err *err)
{
	if (!is_admin(actor)) {
		if (user && !is_self(actor, user))
			return ops_fail(err, OPS_FORBIDDEN,
					"listing another user's tokens needs the admin role");
		user = actor->user;
	}
	struct store_token *ts = NULL;
	size_t n = 0;
	if (store_token_list(st, user, &ts, &n) < 0)
		return store_failed(st, err, "list the tokens");
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(arr, ops_token_json(&ts[i]));
		store_token_free(&ts[i]);
	}
	free(ts);
	*ret = arr;
	return 0;
}

int ops_token_revoke(struct store *st, int64_t now, const struct ops_actor *actor, int64_t id,
		     struct ops_err *err)
{
	char key[32];
	snprintf(key, sizeof(key), "%lld", (long long)id);
	struct store_tx *tx;
	if (store_begin(st, &tx) < 0)
		return store_failed(st, err, "revoke the token");
	struct store_token t;
	int r = store_token_get(st, id, &t);
	if (r == -ENOENT || (r == 0 && !is_admin(actor) && !is_self(actor, t.user))) {
		if (r == 0)
			store_token_free(&t);
		store_rollback(tx);
		return ops_fail(err, OPS_NOT_FOUND, "no token %lld", (long long)id);
	}
	if (r < 0) {
		store_rollback(tx);
		return store_failed(st, err, "revoke the token");
	}
	json_t *detail =
	    json_pack("{s:s?, s:s?, s:s?}", "user", t.user, "name", t.name, "display", t.display);
	store_token_free(&t);
	r = store_token_revoke(st, tx, id, now);
	if (r < 0) {
		json_decref(detail);
		store_rollback(tx);
		if (r == -EALREADY)
			return ops_fail(err, OPS_CONFLICT, "token %lld was revoked already",
					(long long)id);
		return store_failed(st, err, "revoke the token");
	}
	return commit_audited(st, tx, now, actor, "token.revoke", key, detail, err,
			      "revoke the token");
}

/* ---- authentication ------------------------------------------------------------------------- */

/* The principal of user `name` as stored now: OPS_UNAUTHORIZED (with `generic`) when the user
 * is gone or has a role this version does not know. */
static int principal_of(struct store *st, const char *name, struct ops_principal *ret,
			const char *generic, struct ops_err *err)
{
	struct store_user u;
	int r = store_user_get(st, name, &u);
	if (r == -ENOENT)
		return ops_fail(err, OPS_UNAUTHORIZED, "%s", generic);
	if (r < 0)
		return store_failed(st, err, "read the user");
	enum auth_role role = AUTH_ROLE_NONE;
	bool ok = auth_role_parse(u.role, &role) == 0 && strlen(u.name) < sizeof(ret->user);
	if (ok) {
		memset(ret, 0, sizeof(*ret));
		memcpy(ret->user, u.name, strlen(u.name) + 1);
		ret->role = role;
	}
	store_user_free(&u);
	return ok ? 0 : ops_fail(err, OPS_UNAUTHORIZED, "%s", generic);
}

int ops_auth_token(struct store *st, int64_t now, const char *text, size_t len,
		   struct ops_principal *ret, struct ops_err *err)
{
	/* Garbage and typos never reach the store. */
	if (!text || auth_token_check(text, len, NULL) < 0)
		return ops_fail(err, OPS_UNAUTHORIZED, BAD_TOKEN);
	char hash[AUTH_HASH_HEX_LEN + 1];
	auth_hash_hex(text, len, hash);
	struct store_token t;
	int r = store_token_find(st, hash, &t);
	if (r == -ENOENT)
		return ops_fail(err, OPS_UNAUTHORIZED, BAD_TOKEN);
	if (r < 0)
		return store_failed(st, err, "read the token");
	struct ops_principal p;
	r = -1;
	if (auth_token_verify(text, len, t.hash) < 0 || t.revoked_at ||
	    (t.expires_at && t.expires_at <= now))
		ops_fail(err, OPS_UNAUTHORIZED, BAD_TOKEN);
	else if (principal_of(st, t.user, &p, BAD_TOKEN, err) == 0)
		r = 0;
	if (r == 0) {
		p.token_id = t.id;
		/* A failed touch (the store busy) does not refuse a valid token. */
		if (now - t.last_used_at >= OPS_TOUCH_MS)
			store_token_touch(st, t.id, now);
		*ret = p;
	}
	store_token_free(&t);
	return r;
}

void ops_session_new_wipe(struct ops_session_new *s)
{
	if (s)
		explicit_bzero(s, sizeof(*s));
}

static int64_t session_end(int64_t created_at, int64_t now)
{
	int64_t idle = now + OPS_SESSION_IDLE_MS, max = created_at + OPS_SESSION_MAX_MS;
	return idle < max ? idle : max;
}

/* A failed login, audited with the reason (for the admins; the caller hears BAD_LOGIN). */
static int login_failed(struct store *st, int64_t now, const char *user, const char *remote_addr,
			const char *reason, struct ops_err *err)
{
	struct ops_actor a = {.user = ops_user_name_valid(user) ? user : "?",
			      .via = "api",
			      .remote_addr = remote_addr};
	json_t *detail = json_pack("{s:s}", "reason", reason);
	ops_audit_add(st, NULL, now, &a, "login.failed", a.user, detail);
	json_decref(detail);
	return ops_fail(err, OPS_UNAUTHORIZED, BAD_LOGIN);
}

int ops_user_check_password(struct store *st, const char *user, const char *pw, size_t pwlen,
			    struct ops_err *err)
{
	struct store_user u;
	int r = ops_user_name_valid(user) ? store_user_get(st, user, &u) : -ENOENT;
	if (r == -ENOENT) {
		auth_password_verify_none(pw ? pw : "", pw ? pwlen : 0);
		return ops_fail(err, OPS_FORBIDDEN, "the current password is wrong");
	}
	if (r < 0)
		return store_failed(st, err, "read the user");
	r = auth_password_verify(u.password_hash, pw ? pw : "", pw ? pwlen : 0);
	store_user_free(&u);
	return r < 0 ? ops_fail(err, OPS_FORBIDDEN, "the current password is wrong") : 0;
}

int ops_login(struct store *st, int64_t now, const char *user, const char *pw, size_t pwlen,
	      const char *remote_addr, const struct auth_pwcost *cost, struct ops_session_new *ret,
	      struct ops_err *err)
{
	if (!pw)
		pw = "", pwlen = 0;
	struct store_user u;
	int r = ops_user_name_valid(user) ? store_user_get(st, user, &u) : -ENOENT;
	if (r == -ENOENT) {
		auth_password_verify_none(pw, pwlen); /* the time a wrong password takes */
		return login_failed(st, now, user, remote_addr, "unknown user", err);
	}
	if (r < 0)
		return store_failed(st, err, "read the user");
	r = auth_password_verify(u.password_hash, pw, pwlen);
	if (r < 0) {
		store_user_free(&u);
		return login_failed(st, now, user, remote_addr,
				    r == -EINVAL ? "stored hash unreadable" : "wrong password",
				    err);
	}
	struct auth_pwcost dflt = auth_pwcost_default();
	const struct auth_pwcost *c = cost ? cost : &dflt;
	if (auth_password_needs_rehash_cost(u.password_hash, c) == 1) {
		char hash[AUTH_PWHASH_MAX];
		if (auth_password_hash_cost(pw, pwlen, c, hash) == 0)
			store_user_rehash(st, u.name, u.password_hash, hash); /* best effort */
		explicit_bzero(hash, sizeof(hash));
	}
	store_user_free(&u);

	struct ops_session_new s;
	memset(&s, 0, sizeof(s));
	if (principal_of(st, user, &s.principal, BAD_LOGIN, err) < 0)
		return -1;
	if (auth_session_new(s.id) < 0)
		return ops_fail(err, OPS_INTERNAL, "cannot draw a random session id");
	char hash[AUTH_HASH_HEX_LEN + 1];
	auth_hash_hex(s.id, AUTH_SESSION_ID_LEN, hash);
	s.expires_at = session_end(now, now);
	s.principal.session_expires_at = s.expires_at;
	struct store_session row = {.hash = hash,
				    .user = (char *)user,
				    .created_at = now,
				    .expires_at = s.expires_at,
				    .last_seen_at = now,
				    .remote_addr = (char *)remote_addr};
	struct store_tx *tx;
	if (store_begin(st, &tx) < 0) {
		ops_session_new_wipe(&s);
		return store_failed(st, err, "open a session");
	}
	if (store_session_add(st, tx, &row) < 0) {
		store_rollback(tx);
		ops_session_new_wipe(&s);
		return store_failed(st, err, "open a session");
	}
	struct ops_actor a = {.user = user, .via = "api", .remote_addr = remote_addr};
	if (commit_audited(st, tx, now, &a, "login", user, NULL, err, "open a session") < 0) {
		ops_session_new_wipe(&s);
		return -1;
	}
	*ret = s;
	ops_session_new_wipe(&s);
	return 0;
}

int ops_auth_session(struct store *st, int64_t now, const char *session_id, size_t len,
		     struct ops_principal *ret, struct ops_err *err)
{
	if (!session_id || !auth_session_wellformed(session_id, len))
		return ops_fail(err, OPS_UNAUTHORIZED, BAD_SESSION);
	char hash[AUTH_HASH_HEX_LEN + 1];
	auth_hash_hex(session_id, len, hash);
	struct store_session x;
	int r = store_session_get(st, hash, &x);
	if (r == -ENOENT)
		return ops_fail(err, OPS_UNAUTHORIZED, BAD_SESSION);
	if (r < 0)
		return store_failed(st, err, "read the session");
	struct ops_principal p;
	r = -1;
	if (auth_session_verify(session_id, len, x.hash) < 0 || x.expires_at <= now)
		ops_fail(err, OPS_UNAUTHORIZED, BAD_SESSION);
	else if (principal_of(st, x.user, &p, BAD_SESSION, err) == 0)
		r = 0;
	if (r == 0) {
		p.session_expires_at = x.expires_at;
		if (now - x.last_seen_at >= OPS_TOUCH_MS) {
			int64_t end = session_end(x.created_at, now);
			if (store_session_touch(st, hash, now, end) == 0)
				p.session_expires_at = end;
		}
		*ret = p;
	}
	store_session_free(&x);
	return r;
}

int ops_logout(struct store *st, int64_t now, const char *session_id, size_t len,
	       const char *remote_addr, struct ops_err *err)
{
	if (!session_id || !auth_session_wellformed(session_id, len))
		return 0;
	char hash[AUTH_HASH_HEX_LEN + 1];
	auth_hash_hex(session_id, len, hash);
	struct store_tx *tx;
	if (store_begin(st, &tx) < 0)
		return store_failed(st, err, "end the session");
	struct store_session x;
	int r = store_session_get(st, hash, &x);
	if (r == -ENOENT) {
		store_rollback(tx);
		return 0;
	}
	if (r < 0 || store_session_delete(st, hash) < 0) {
		if (r == 0)
			store_session_free(&x);
		store_rollback(tx);
		return store_failed(st, err, "end the session");
	}
	struct ops_actor a = {.user = x.user, .via = "api", .remote_addr = remote_addr};
	r = commit_audited(st, tx, now, &a, "logout", x.user, NULL, err, "end the session");
	store_session_free(&x);
	return r;
}

/* ---- the first start ------------------------------------------------------------------------ */

int ops_bootstrap_admin(struct store *st, int64_t now, const char *env_password,
			char **ret_generated, struct ops_err *err)
{
	*ret_generated = NULL;
	int64_t n = 0;
	if (store_user_count(st, NULL, &n) < 0)
		return store_failed(st, err, "count the users");
	if (n > 0)
		return 0;
	char gen[AUTH_SESSION_ID_LEN + 1];
	const char *pw = env_password;
	if (!pw) {
		if (auth_session_new(gen) < 0)
			return ops_fail(err, OPS_INTERNAL, "cannot draw a random password");
		gen[OPS_GENERATED_PASSWORD_LEN] = '\0';
		pw = gen;
	}
	char hash[AUTH_PWHASH_MAX];
	char *msg = NULL;
	if (auth_password_check(pw, strlen(pw), 0, &msg) < 0) {
		ops_fail(err, OPS_INVALID, "GUST_ADMIN_PASSWORD is refused: %s", msg);
		free(msg);
		explicit_bzero(gen, sizeof(gen));
		return -1;
	}
	if (new_hash(pw, strlen(pw), hash, err) < 0) {
		explicit_bzero(gen, sizeof(gen));
		return -1;
	}
	struct ops_actor server = {.user = "server", .via = "server"};
	struct store_tx *tx;
	int r = -1;
	if (store_begin(st, &tx) < 0) {
		store_failed(st, err, "create the first admin");
		goto out;
	}
	/* Decide again under the write lock: a CLI may have added a user meanwhile. */
	if (store_user_count(st, NULL, &n) < 0 || n > 0) {
		store_rollback(tx);
		r = n > 0 ? 0 : store_failed(st, err, "count the users");
		goto out;
	}
	struct store_user u = {
	    .name = "admin", .role = "admin", .password_hash = hash, .created_at = now};
	if (store_user_add(st, tx, &u) < 0) {
		store_rollback(tx);
		store_failed(st, err, "create the first admin");
		goto out;
	}
	if (commit_audited(st, tx, now, &server, "user.add", "admin",
			   json_pack("{s:s, s:b, s:s}", "role", "admin", "bootstrap", 1, "password",
				     env_password ? "GUST_ADMIN_PASSWORD" : "generated"),
			   err, "create the first admin") < 0)
		goto out;
	if (!env_password)
		*ret_generated = xstrdup(gen);
	r = 0;
out:
	explicit_bzero(hash, sizeof(hash));
	explicit_bzero(gen, sizeof(gen));
	return r;
}

/* ---- the audit log -------------------------------------------------------------------------- */

void ops_audit_page_free(struct ops_audit_page *p)
{
	if (!p)
		return;
	json_decref(p->entries);
	p->entries = NULL;
	p->next = 0;
}

int ops_audit_list(struct store *st, const struct ops_actor *actor, const struct ops_audit_query *q,
		   struct ops_audit_page *ret, struct ops_err *err)
{
	if (!is_admin(actor))
		return ops_fail(err, OPS_FORBIDDEN, "reading the audit log needs the admin role");
	if (q->limit > OPS_AUDIT_LIMIT_MAX)
		return ops_fail(err, OPS_BAD_REQUEST, "the limit is at most %d",
				OPS_AUDIT_LIMIT_MAX);
	if (q->after_id > 0 && q->before_id > 0)
		return ops_fail(err, OPS_BAD_REQUEST, "give after_id or before_id, not both");
	size_t limit = q->limit ? q->limit : OPS_AUDIT_LIMIT_DEFAULT;
	struct store_audit_filter f = {.after_id = q->after_id,
				       .before_id = q->before_id,
				       .actor = q->actor,
				       .action = q->action,
				       .limit = limit + 1};
	struct store_audit *as = NULL;
	size_t n = 0;
	if (store_audit_list(st, &f, &as, &n) < 0)
		return store_failed(st, err, "read the audit log");
	json_t *arr = json_array();
	size_t shown = n > limit ? limit : n;
	for (size_t i = 0; i < shown; i++)
		json_array_append_new(arr, ops_audit_json(&as[i]));
	ret->entries = arr;
	ret->next = n > limit ? as[shown - 1].id : 0;
	for (size_t i = 0; i < n; i++)
		store_audit_free(&as[i]);
	free(as);
	return 0;
}
