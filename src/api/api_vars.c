/*
 * api_vars.c - the routes of variables and connections over ops/vars.h (docs/variables.md):
 * anyone reads them with their secrets hidden, an admin reads them whole; an editor sets and
 * deletes variables, an admin secret ones and connections (whose URIs carry passwords).
 */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "auth/role.h"
#include "base/util.h"
#include "ops/identity.h"
#include "ops/vars.h"

enum kind { VAR, CONN };

static bool is_admin(const struct http_req *rq)
{
	const struct ops_principal *p = api_principal(rq);
	return p && auth_role_allows(p->role, AUTH_ROLE_ADMIN);
}

static void forbidden(struct http_resp *rs, const char *what)
{
	char *d = xasprintf("%s needs the admin role", what);
	http_problem(rs, 403, "forbidden", "Forbidden", d);
	free(d);
}

static void list_or_get(struct api *a, struct http_req *rq, struct http_resp *rs, enum kind k,
			const char *name)
{
	static const char *const known[] = {NULL};
	if (!api_query_only(rq, rs, known))
		return;
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	struct ops_ctx c = api_ctx(a, st);
	const struct auth_key *key = api_auth_key(a);
	bool reveal = is_admin(rq);
	struct ops_err err = {0};
	json_t *j = NULL;
	int r = k == VAR ? name ? ops_var_get(&c, key, name, reveal, &j, &err)
				: ops_var_list(&c, key, reveal, &j, &err)
		 : name ? ops_conn_get(&c, key, name, reveal, &j, &err)
			: ops_conn_list(&c, key, reveal, &j, &err);
	if (r < 0)
		api_ops_problem(rs, &err);
	else if (name)
		api_json_etag(rq, rs, j);
	else
		api_json_etag(rq, rs, json_pack("{s:o}", k == VAR ? "variables" : "connections", j));
	ops_err_free(&err);
	api_store_put(a, st);
}

void api_get_variables(void *app, struct http_req *rq, struct http_resp *rs)
{
	list_or_get(app, rq, rs, VAR, NULL);
}

void api_get_variable(void *app, struct http_req *rq, struct http_resp *rs)
{
	list_or_get(app, rq, rs, VAR, http_req_param(rq, "key"));
}

void api_get_connections(void *app, struct http_req *rq, struct http_resp *rs)
{
	list_or_get(app, rq, rs, CONN, NULL);
}

void api_get_connection(void *app, struct http_req *rq, struct http_resp *rs)
{
	list_or_get(app, rq, rs, CONN, http_req_param(rq, "name"));
}

static void put(struct api *a, struct http_req *rq, struct http_resp *rs, enum kind k)
{
	json_t *body = http_req_json(rq, rs);
	if (!body)
		return;
	const char *name = http_req_param(rq, k == VAR ? "key" : "name");
	char *who = xasprintf("api:%s", api_principal(rq)->user);
	struct ops_err err = {0};
	struct ops_var_set_req vr;
	struct ops_conn_set_req cr;
	int r = k == VAR ? ops_var_req_parse(name, body, &vr, &err)
			 : ops_conn_req_parse(name, body, &cr, &err);
	if (r < 0) {
		/* A body of the wrong shape is unprocessable, as everywhere in the API. */
		http_problem(rs, 422, "invalid-body", "Invalid body", err.msg);
		goto out;
	}
	if (k == VAR && vr.secret && !is_admin(rq)) {
		forbidden(rs, "a secret variable");
		goto out;
	}
	struct store *st = api_store_get(a, rs);
	if (!st)
		goto out;
	struct ops_ctx c = api_ctx(a, st);
	json_t *j = NULL;
	if (k == VAR) {
		vr.who = who;
		r = ops_var_set(&c, api_auth_key(a), &vr, &j, &err);
	} else {
		cr.who = who;
		r = ops_conn_set(&c, api_auth_key(a), &cr, &j, &err);
	}
	if (r < 0) {
		api_ops_problem(rs, &err);
	} else {
		struct ops_actor actor = api_actor(rq);
		ops_audit_add(st, NULL, c.now, &actor, k == VAR ? "variable.set" : "connection.set",
			      name, NULL);
		http_json(rs, json_is_true(json_object_get(j, "created")) ? 201 : 200, j);
	}
	api_store_put(a, st);
out:
	ops_err_free(&err);
	free(who);
	json_decref(body); /* the value with it */
}

void api_put_variable(void *app, struct http_req *rq, struct http_resp *rs)
{
	put(app, rq, rs, VAR);
}

void api_put_connection(void *app, struct http_req *rq, struct http_resp *rs)
{
	put(app, rq, rs, CONN);
}

static void del(struct api *a, struct http_req *rq, struct http_resp *rs, enum kind k)
{
	static const char *const known[] = {NULL};
	if (!api_query_only(rq, rs, known))
		return;
	const char *name = http_req_param(rq, k == VAR ? "key" : "name");
	struct store *st = api_store_get(a, rs);
	if (!st)
		return;
	struct ops_ctx c = api_ctx(a, st);
	struct ops_err err = {0};
	json_t *j = NULL;
	int r;
	if (k == VAR) {
		/* An editor deletes plain variables; a secret one is an admin's. */
		json_t *cur = NULL;
		struct ops_err e2 = {0};
		bool secret = ops_var_get(&c, api_auth_key(a), name, false, &cur, &e2) == 0 &&
			      json_is_true(json_object_get(cur, "secret"));
		json_decref(cur);
		ops_err_free(&e2);
		if (secret && !is_admin(rq)) {
			forbidden(rs, "a secret variable");
			api_store_put(a, st);
			return;
		}
		r = ops_var_delete(&c, name, &j, &err);
	} else {
		r = ops_conn_delete(&c, api_auth_key(a), name, &j, &err);
	}
	if (r < 0) {
		api_ops_problem(rs, &err);
	} else {
		struct ops_actor actor = api_actor(rq);
		ops_audit_add(st, NULL, c.now, &actor,
			      k == VAR ? "variable.delete" : "connection.delete", name, NULL);
		http_json(rs, 200, j);
	}
	ops_err_free(&err);
	api_store_put(a, st);
}

void api_delete_variable(void *app, struct http_req *rq, struct http_resp *rs)
{
	del(app, rq, rs, VAR);
}

void api_delete_connection(void *app, struct http_req *rq, struct http_resp *rs)
{
	del(app, rq, rs, CONN);
}
