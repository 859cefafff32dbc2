/*
 * identity.h - users, API tokens, sessions and the audit log: who may ask gust for what
 * (issue 10 part 5; docs/users.md).
 *
 * The identities live only in the store, so the CLI and the HTTP API call these functions on
 * their own store connections (no round trip through the server's loop). Every function takes
 * the store of the caller's thread and the time `now` (ms), and returns 0, or -1 with *err set
 * (ops.h): OPS_UNAUTHORIZED when the credentials are not valid, OPS_FORBIDDEN when the asker's
 * role does not allow it, OPS_INVALID for a bad name, role, label or a password the policy
 * refuses, OPS_NOT_FOUND, OPS_CONFLICT (the last admin removed or demoted, a token revoked
 * twice), OPS_INTERNAL when the store fails.
 *
 * Who asks is a struct ops_actor. The local CLI, run by whoever can read the store file, is the
 * machine's operator: user NULL, all of an admin's rights, audited as "local:UNIXNAME" via
 * "cli". Over the API, the HTTP layer passes the principal it authenticated.
 *
 * Rules (docs/users.md):
 *   - user names are 1 to 100 letters, digits, '_', '-' and '.', not starting with '-' or '.'
 *     (the pool-name rule, so no name can look like "local:..." or hold a space or a slash);
 *   - everything about users and other people's tokens needs the admin role, except a user's
 *     own password and their own tokens (any role may create, list and revoke those);
 *   - a new password must pass auth_password_check (12 characters at least);
 *   - the last admin can be neither removed nor demoted;
 *   - a session ends 12 h after it was last used or 7 days after the login, whichever comes
 *     first; a password change ends the user's sessions; removing a user ends its sessions and
 *     revokes its tokens in the same transaction;
 *   - last_used_at of a token and last_seen_at of a session are written at most once a minute,
 *     so authenticated reads do not each write to the store.
 *
 * Every change, every login (success or failure, never the password) and every logout adds an
 * audit entry in the transaction of the change; a refused change (forbidden) is audited too,
 * as ACTION.denied. The authentication of each request (a token, a session cookie) is not: it
 * happens on every request, and anyone could fill the log with bad tokens.
 */
#ifndef GUST_OPS_IDENTITY_H
#define GUST_OPS_IDENTITY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/password.h"
#include "auth/role.h"
#include "auth/token.h"
#include "ops/ops.h"
#include "store/store.h"

#define OPS_USER_NAME_MAX STORE_POOL_NAME_MAX
#define OPS_TOKEN_LABEL_MAX 100
#define OPS_SESSION_IDLE_MS (12 * 3600 * 1000LL)
#define OPS_SESSION_MAX_MS (7 * 24 * 3600 * 1000LL)
/* last_used_at / last_seen_at are written when they are at least this old. */
#define OPS_TOUCH_MS 60000
/* The audit listing's page when no limit is given, and its largest. */
#define OPS_AUDIT_LIMIT_DEFAULT 100
#define OPS_AUDIT_LIMIT_MAX 1000
/* The length of a generated admin password (base62: about 143 bits). */
#define OPS_GENERATED_PASSWORD_LEN 24

/* Who asks. */
struct ops_actor {
	const char *user;    /* NULL: the machine's operator (the local CLI) */
	enum auth_role role; /* ignored when user is NULL */
	const char *via;     /* "cli", "api" or "server" (NULL: "cli" for user NULL, else "api") */
	const char *remote_addr; /* NULL when not over the network */
	int64_t token_id;	 /* > 0 when authenticated by this API token */
};

/* Who a valid credential stands for (owned data, no pointers). */
struct ops_principal {
	char user[OPS_USER_NAME_MAX + 1];
	enum auth_role role;
	int64_t token_id;	    /* > 0: authenticated by this token */
	int64_t session_expires_at; /* a session's end (0 for a token) */
};

/* Whether `name` follows the user-name rule above. */
bool ops_user_name_valid(const char *name);
/* The actor's name as the audit log records it: the user, or "local:UNIXNAME" (malloc'd). */
char *ops_actor_name(const struct ops_actor *a);

/* ---- users ------------------------------------------------------------------------------ */

/* Admin only. OPS_INVALID for a bad name, role or password; OPS_CONFLICT for a name taken. */
int ops_user_add(struct store *st, int64_t now, const struct ops_actor *actor, const char *name,
		 const char *role, const char *pw, size_t pwlen, struct ops_err *err);
/* The user's own, or anyone's for an admin. Ends the user's sessions (tokens stay). */
int ops_user_passwd(struct store *st, int64_t now, const struct ops_actor *actor, const char *name,
		    const char *pw, size_t pwlen, struct ops_err *err);
/* Whether `pw` is the user's password now: 0, or OPS_FORBIDDEN (also for an unknown user,
 * after the time a check takes). For a change of one's own password over the API, so that a
 * stolen session cannot change it. */
int ops_user_check_password(struct store *st, const char *user, const char *pw, size_t pwlen,
			    struct ops_err *err);
/* Admin only; OPS_CONFLICT when it would leave no admin. */
int ops_user_set_role(struct store *st, int64_t now, const struct ops_actor *actor,
		      const char *name, const char *role, struct ops_err *err);
/* Admin only; OPS_CONFLICT for the last admin. Its sessions end, its tokens are revoked. */
int ops_user_remove(struct store *st, int64_t now, const struct ops_actor *actor, const char *name,
		    struct ops_err *err);
/* Admin only: a JSON array of users (ops_user_json), by name; *ret a new reference. */
int ops_user_list(struct store *st, const struct ops_actor *actor, json_t **ret,
		  struct ops_err *err);
/* One user (ops_user_json): oneself, or anyone for an admin. */
int ops_user_get(struct store *st, const struct ops_actor *actor, const char *name, json_t **ret,
		 struct ops_err *err);

/* ---- API tokens ------------------------------------------------------------------------- */

struct ops_token_new {
	int64_t id;
	char text[AUTH_TOKEN_LEN + 1]; /* the token: show it once, then ops_token_new_wipe */
	json_t *token;		       /* its ops_token_json (never the text) */
};
void ops_token_new_wipe(struct ops_token_new *t);

/* A new token for `user` named `label` (1 to 100 characters, no control characters),
 * expiring at `expires_at` (0: never; else it must be later than now). A non-admin may create
 * one only for themselves (else OPS_FORBIDDEN); OPS_NOT_FOUND for an unknown user. */
int ops_token_create(struct store *st, int64_t now, const struct ops_actor *actor, const char *user,
		     const char *label, int64_t expires_at, struct ops_token_new *ret,
		     struct ops_err *err);
/* A JSON array of tokens (ops_token_json) by id: of `user`, or with NULL everyone's for an
 * admin and the asker's own for anyone else (another user's: OPS_FORBIDDEN). */
int ops_token_list(struct store *st, const struct ops_actor *actor, const char *user, json_t **ret,
		   struct ops_err *err);
/* Revoke token `id`: one's own, or anyone's for an admin (another user's token is
 * OPS_NOT_FOUND for a non-admin, so ids do not tell whose tokens exist); OPS_CONFLICT when it
 * is revoked already. */
int ops_token_revoke(struct store *st, int64_t now, const struct ops_actor *actor, int64_t id,
		     struct ops_err *err);

/* ---- authentication --------------------------------------------------------------------- */

/* The principal of `len` bytes of a bearer token. Its shape and checksum are checked before
 * the store is read; a token unknown, revoked, expired, or of a removed user is
 * OPS_UNAUTHORIZED with one generic sentence. */
int ops_auth_token(struct store *st, int64_t now, const char *text, size_t len,
		   struct ops_principal *ret, struct ops_err *err);

struct ops_session_new {
	char id[AUTH_SESSION_ID_LEN + 1]; /* the cookie's value */
	int64_t expires_at;
	struct ops_principal principal;
};
void ops_session_new_wipe(struct ops_session_new *s);

/* Check a user's password and open a session. A wrong password or an unknown user is
 * OPS_UNAUTHORIZED with the same sentence, and takes the same time (an unknown user spends
 * auth_password_verify_none). A hash of another cost than `cost` (NULL: the default) is
 * replaced by one of this cost. Audited as login or login.failed (via "api"). Rate limiting is
 * the caller's (auth/ratelimit.h). */
int ops_login(struct store *st, int64_t now, const char *user, const char *pw, size_t pwlen,
	      const char *remote_addr, const struct auth_pwcost *cost, struct ops_session_new *ret,
	      struct ops_err *err);
/* The principal of a session id (the cookie): OPS_UNAUTHORIZED when it is malformed, unknown
 * or over (idle or absolute). Extends the idle end, at most once a minute. */
int ops_auth_session(struct store *st, int64_t now, const char *session_id, size_t len,
		     struct ops_principal *ret, struct ops_err *err);
/* End a session (audited as logout). An unknown or malformed id is not an error: 0. */
int ops_logout(struct store *st, int64_t now, const char *session_id, size_t len,
	       const char *remote_addr, struct ops_err *err);

/* ---- the first start -------------------------------------------------------------------- */

/* When the store has no user, create `admin` (role admin) with `env_password` (checked by the
 * policy: OPS_INVALID when it fails, so the server refuses to start rather than keep a weak
 * password), or with a random password returned in *ret_generated (malloc'd, for the server to
 * print once; NULL when not generated). With users already there: 0 and nothing changes. */
int ops_bootstrap_admin(struct store *st, int64_t now, const char *env_password,
			char **ret_generated, struct ops_err *err);

/* ---- the audit log ---------------------------------------------------------------------- */

/* Add an entry for what `actor` did (action "user.add", ...; target NULL when none; detail a
 * JSON object, borrowed, NULL for {}), in `tx` (NULL: its own). 0 or a negative errno. */
int ops_audit_add(struct store *st, struct store_tx *tx, int64_t now, const struct ops_actor *actor,
		  const char *action, const char *target, const json_t *detail);

/* The entry of a write request that was applied (a dry run adds none): run.cancel,
 * task.clear, task.mark, dag.pause, pool.set, pool.delete, with the request as its detail; and
 * of a trigger (dag.trigger). Failures to write the entry are not the request's: ignored. */
struct ops_req;
void ops_audit_request(struct store *st, int64_t now, const struct ops_actor *actor,
		       const struct ops_req *rq);
void ops_audit_trigger(struct store *st, int64_t now, const struct ops_actor *actor,
		       const char *dag_id, const char *run_id);

struct ops_audit_query {
	int64_t after_id;   /* > 0: entries after this id, oldest first (for following the log) */
	int64_t before_id;  /* > 0: entries before this id, newest first (the next page) */
	size_t limit;	    /* 0: OPS_AUDIT_LIMIT_DEFAULT; at most OPS_AUDIT_LIMIT_MAX */
	const char *actor;  /* NULL: anyone */
	const char *action; /* NULL: any */
};

struct ops_audit_page {
	json_t *entries; /* array of ops_audit_json */
	/* The cursor of the next page: before_id (newest first) or after_id (with after_id), or
	 * 0 when this page is the last. */
	int64_t next;
};
void ops_audit_page_free(struct ops_audit_page *p);

/* Admin only. OPS_BAD_REQUEST for a limit over OPS_AUDIT_LIMIT_MAX or both cursors. */
int ops_audit_list(struct store *st, const struct ops_actor *actor, const struct ops_audit_query *q,
		   struct ops_audit_page *ret, struct ops_err *err);

#endif
