/*
 * api_users.c - the routes of users, API tokens and the audit log, each over ops/identity.h,
 * which decides who may do what (an admin anything; anyone their own password and tokens) and
 * audits every change as made by the caller, from the caller's address (docs/users.md).
 */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/duration.h"
#include "base/util.h"
#include "ops/identity.h"
#include "ops/shape.h"

/* GET /api/v1/users (admin) */
void api_get_users(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {NULL};
	if (!api_query_only(rq, rs, known))
		return;
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	struct ops_actor who = api_actor(rq);
	struct ops_err err = {0};
	json_t *list = NULL;
	if (ops_user_list(st, &who, &list, &err) < 0)
		api_ops_problem(rs, &err);
	else
		api_json_etag(rq, rs, json_pack("{s:o}", "users", list));
	ops_err_free(&err);
	api_store_put(a, st);
}

/* GET /api/v1/users/{name}: oneself, or anyone for an admin. */
void api_get_user(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {NULL};
	if (!api_query_only(rq, rs, known))
		return;
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	struct ops_actor who = api_actor(rq);
	struct ops_err err = {0};
	json_t *u = NULL;
	if (ops_user_get(st, &who, http_req_param(rq, "name"), &u, &err) < 0)
		api_ops_problem(rs, &err);
	else
		api_json_etag(rq, rs, u);
	ops_err_free(&err);
	api_store_put(a, st);
}

/* PUT /api/v1/users/{name} {"role", "password", "current_password"}: a new user (admin; both
 * needed), or a change of an existing one's role (admin) or password (an admin's of anyone;
 * one's own with the current password). */
void api_put_user(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"role", "password", "current_password", NULL};
	json_t *body = api_body_object(rq, rs, known, false);
	if (!body)
		return;
	json_t *role = json_object_get(body, "role"), *pw = json_object_get(body, "password");
	if ((role && !json_is_string(role)) || (pw && !json_is_string(pw)) || (!role && !pw)) {
		http_problem(rs, 422, "invalid-body", "Invalid body",
			     "give 'role' (viewer, operator, editor or admin), 'password', or both");
		json_decref(body);
		return;
	}
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st) {
		json_decref(body);
		return;
	}
	const char *name = http_req_param(rq, "name");
	struct ops_actor who = api_actor(rq);
	struct ops_err err = {0};
	int64_t now = api_now(a);
	json_t *existing = NULL;
	int status = 200, r;
	/* Whether it exists, asked as an admin would: the answer below still goes through the
	 * caller's rights. */
	struct ops_actor probe = {.user = NULL, .via = "api"};
	struct ops_err probe_err = {0};
	bool exists = ops_user_get(st, &probe, name, &existing, &probe_err) == 0;
	ops_err_free(&probe_err);
	json_decref(existing);
	if (!exists) {
		r = role && pw ? ops_user_add(st, now, &who, name, json_string_value(role),
					      json_string_value(pw), json_string_length(pw), &err)
			       : ops_fail(&err, OPS_INVALID,
					  "a new user needs both 'role' and 'password'");
		status = 201;
	} else {
		r = 0;
		/* One's own password needs the current one: a stolen session cannot take the
		 * account. */
		json_t *cur = json_object_get(body, "current_password");
		if (pw && strcmp(name, api_principal(rq)->user) == 0)
			r = json_is_string(cur)
				? ops_user_check_password(st, name, json_string_value(cur),
							  json_string_length(cur), &err)
				: ops_fail(&err, OPS_INVALID,
					   "changing one's own password needs 'current_password'");
		if (r == 0 && role)
			r = ops_user_set_role(st, now, &who, name, json_string_value(role), &err);
		if (r == 0 && pw)
			r = ops_user_passwd(st, now, &who, name, json_string_value(pw),
					    json_string_length(pw), &err);
	}
	json_decref(body); /* the password with it */
	json_t *u = NULL;
	if (r < 0) {
		api_ops_problem(rs, &err);
	} else if (ops_user_get(st, &who, name, &u, &err) == 0) {
		http_json(rs, status, u);
	} else {
		http_status(rs, 204); /* changed, but no longer theirs to read (a demotion) */
	}
	ops_err_free(&err);
	api_store_put(a, st);
}

/* DELETE /api/v1/users/{name} (admin; never the last admin) */
void api_delete_user(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {NULL};
	if (!api_query_only(rq, rs, known))
		return;
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	struct ops_actor who = api_actor(rq);
	struct ops_err err = {0};
	if (ops_user_remove(st, api_now(a), &who, http_req_param(rq, "name"), &err) < 0)
		api_ops_problem(rs, &err);
	else
		http_status(rs, 204);
	ops_err_free(&err);
	api_store_put(a, st);
}

/* GET /api/v1/tokens[?user=NAME]: one's own, or (admin) anyone's. */
void api_get_tokens(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"user", NULL};
	if (!api_query_only(rq, rs, known))
		return;
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	struct ops_actor who = api_actor(rq);
	struct ops_err err = {0};
	json_t *list = NULL;
	if (ops_token_list(st, &who, http_req_query(rq, "user"), &list, &err) < 0)
		api_ops_problem(rs, &err);
	else
		api_json_etag(rq, rs, json_pack("{s:o}", "tokens", list));
	ops_err_free(&err);
	api_store_put(a, st);
}

/* POST /api/v1/tokens {"name", "user" (default: oneself), "expires_in": "90d" | "never"}:
 * 201 with the token's text, shown this once. */
void api_post_tokens(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"name", "user", "expires_in", NULL};
	json_t *body = api_body_object(rq, rs, known, false);
	if (!body)
		return;
	struct api *a = app;
	const struct ops_principal *p = api_principal(rq);
	const char *label = json_string_value(json_object_get(body, "name"));
	json_t *uj = json_object_get(body, "user"), *ej = json_object_get(body, "expires_in");
	const char *user = uj ? json_string_value(uj) : p->user;
	const char *expires = ej ? json_string_value(ej) : NULL;
	int64_t now = api_now(a), life = 0;
	const char *why = NULL;
	if (!label || !user || (ej && !expires)) {
		http_problem(rs, 422, "invalid-body", "Invalid body",
			     "'name' (and 'user', 'expires_in' if given) are strings");
	} else if (expires && strcmp(expires, "never") != 0 &&
		   (duration_parse(expires, &life, &why) < 0 || life <= 0)) {
		http_problem(rs, 422, "invalid-body", "Invalid body",
			     "'expires_in' is a duration such as 90d or 12h, or \"never\"");
	} else {
		struct store *st = api_store_get(a, rs);
		if (st) {
			struct ops_actor who = api_actor(rq);
			struct ops_err err = {0};
			struct ops_token_new t;
			if (ops_token_create(st, now, &who, user, label, life ? now + life : 0, &t,
					     &err) < 0) {
				api_ops_problem(rs, &err);
			} else {
				json_t *j = json_deep_copy(t.token);
				json_object_set_new(j, "token", json_string(t.text));
				http_json(rs, 201, j);
				ops_token_new_wipe(&t);
			}
			ops_err_free(&err);
			api_store_put(a, st);
		}
	}
	json_decref(body);
}

/* DELETE /api/v1/tokens/{id}: revoke one's own, or (admin) anyone's. */
void api_delete_token(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {NULL};
	if (!api_query_only(rq, rs, known))
		return;
	const char *idtext = http_req_param(rq, "id");
	char *end = NULL;
	long long id = strtoll(idtext, &end, 10);
	if (*end || id <= 0) {
		http_problem(rs, 400, HTTP_P_BAD_PARAM, "Bad path parameter",
			     "a token's id is a whole number");
		return;
	}
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	struct ops_actor who = api_actor(rq);
	struct ops_err err = {0};
	if (ops_token_revoke(st, api_now(a), &who, id, &err) < 0)
		api_ops_problem(rs, &err);
	else
		http_status(rs, 204);
	ops_err_free(&err);
	api_store_put(a, st);
}

/* GET /api/v1/audit?before=ID|after=ID&limit=&actor=&action= (admin) */
void api_get_audit(void *app, struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"before", "after", "limit", "actor", "action", NULL};
	if (!api_query_only(rq, rs, known))
		return;
	int64_t before = 0, after = 0, limit = 0;
	if (api_query_int(rq, rs, "before", 1, INT64_MAX, &before) < 0 ||
	    api_query_int(rq, rs, "after", 1, INT64_MAX, &after) < 0 ||
	    api_query_int(rq, rs, "limit", 1, OPS_AUDIT_LIMIT_MAX, &limit) < 0)
		return;
	struct ops_audit_query q = {.after_id = after,
				    .before_id = before,
				    .limit = (size_t)limit,
				    .actor = http_req_query(rq, "actor"),
				    .action = http_req_query(rq, "action")};
	struct api *a = app;
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	struct ops_actor who = api_actor(rq);
	struct ops_err err = {0};
	struct ops_audit_page page = {0};
	if (ops_audit_list(st, &who, &q, &page, &err) < 0) {
		api_ops_problem(rs, &err);
	} else {
		json_t *next = page.next ? json_integer(page.next) : json_null();
		api_json_etag(rq, rs,
			      json_pack("{s:O, s:o, s:s}", "entries", page.entries, "next", next,
					"next_param", after ? "after" : "before"));
	}
	ops_audit_page_free(&page);
	ops_err_free(&err);
	api_store_put(a, st);
}
