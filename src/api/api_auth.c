/*
 * api_auth.c - who is asking: API tokens, session cookies with their CSRF token, roles, and
 * the routes of logging in and out (docs/api.md "Authentication", docs/users.md).
 *
 * Every route but health runs api_authenticate() in the transport's `before` hook, that is
 * before its body is read: a client without valid credentials is refused with 401 before it
 * uploads anything, one with too small a role with 403.
 *
 *   Authorization: Bearer gust_...   an API token (ops_auth_token)
 *   Cookie: gust_session=...         a browser session (ops_auth_session); every request but
 *                                    GET and HEAD also needs X-CSRF-Token, the token the login
 *                                    answered (bound to the session, stored nowhere)
 *
 * Failed logins are slowed per user name and per address (auth/ratelimit.h: 429 with
 * Retry-After), under a mutex since handlers run on several threads.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "auth/ratelimit.h"
#include "auth/secretbox.h"
#include "base/util.h"
#include "ops/identity.h"
#include "ops/shape.h"

#define SESSION_COOKIE "gust_session"
#define CSRF_HEADER "X-CSRF-Token"

struct api_auth {
	struct auth_key *key; /* for CSRF tokens */
	pthread_mutex_t rl_mu;
	struct auth_ratelimit *rl;
};

int api_auth_init(struct api *a, char **ret_msg)
{
	struct api_auth *au = xcalloc(1, sizeof(*au));
	char *path = xasprintf("%s/%s", a->opts.home, AUTH_KEY_FILE);
	int e = auth_key_open(path, &au->key, ret_msg);
	free(path);
	if (e < 0) {
		free(au);
		return e;
	}
	struct auth_ratelimit_config cfg = auth_ratelimit_defaults();
	au->rl = auth_ratelimit_new(&cfg);
	pthread_mutex_init(&au->rl_mu, NULL);
	a->auth = au;
	return 0;
}

void api_auth_free(struct api *a)
{
	struct api_auth *au = a->auth;
	if (!au)
		return;
	auth_key_free(au->key);
	auth_ratelimit_free(au->rl);
	pthread_mutex_destroy(&au->rl_mu);
	free(au);
	a->auth = NULL;
}

const struct auth_key *api_auth_key(const struct api *a)
{
	return a->auth->key;
}

const struct ops_principal *api_principal(const struct http_req *rq)
{
	return rq->user;
}

struct ops_actor api_actor(const struct http_req *rq)
{
	const struct ops_principal *p = rq->user;
	return (struct ops_actor){.user = p ? p->user : "",
				  .role = p ? p->role : AUTH_ROLE_NONE,
				  .via = "api",
				  .remote_addr = rq->remote_addr,
				  .token_id = p ? p->token_id : 0};
}

static bool is_safe_method(const struct http_req *rq)
{
	return rq->method_bit == HTTP_GET || rq->method_bit == HTTP_HEAD;
}

static void unauthorized(struct http_resp *rs, const char *detail)
{
	http_problem(rs, 401, "unauthorized", "Unauthorized", detail);
	http_header(rs, "WWW-Authenticate", "Bearer realm=\"gust\"");
}

bool api_authenticate(struct api *a, struct http_req *rq, struct http_resp *rs,
		      enum auth_role need)
{
	const char *authz = http_req_header(rq, "Authorization");
	const char *cookie = http_req_cookie(rq, SESSION_COOKIE);
	if (!authz && !cookie) {
		unauthorized(rs, "sign in (POST /api/v1/auth/login) or send "
				 "'Authorization: Bearer TOKEN'");
		return false;
	}
	struct store *st = api_store_get(a, rs);
	if (!st)
		return false;
	struct ops_principal *p = xcalloc(1, sizeof(*p));
	struct ops_err err = {0};
	int r;
	if (authz) {
		if (strncasecmp(authz, "Bearer ", 7) != 0) {
			r = ops_fail(&err, OPS_UNAUTHORIZED,
				     "the Authorization header is 'Bearer TOKEN'");
		} else {
			const char *tok = authz + 7;
			while (*tok == ' ')
				tok++;
			r = ops_auth_token(st, api_now(a), tok, strlen(tok),
					   p, &err);
		}
	} else {
		r = ops_auth_session(st, api_now(a), cookie, strlen(cookie),
				     p, &err);
		/* A cookie is sent by the browser whoever made the page: a write needs the CSRF
		 * token too, which only a page of ours can have read. */
		if (r == 0 && !is_safe_method(rq)) {
			const char *csrf = http_req_header(rq, CSRF_HEADER);
			if (auth_csrf_verify(a->auth->key, cookie, strlen(cookie), csrf ? csrf : "",
					     csrf ? strlen(csrf) : 0) < 0) {
				api_store_put(a, st);
				free(p);
				http_problem(rs, 403, "csrf", "CSRF token missing or wrong",
					     "a write made with the session cookie needs the "
					     "X-CSRF-Token header the login answered");
				return false;
			}
		}
	}
	api_store_put(a, st);
	if (r < 0) {
		unauthorized(rs, err.msg);
		ops_err_free(&err);
		free(p);
		return false;
	}
	if (!auth_role_allows(p->role, need)) {
		char *d = xasprintf("this needs the %s role; %s has %s", auth_role_name(need),
				    p->user, auth_role_name(p->role));
		http_problem(rs, 403, "forbidden", "Forbidden", d);
		free(d);
		free(p);
		return false;
	}
	rq->user = p;
	rq->user_free = free;
	return true;
}

/* ---- routes ------------------------------------------------------------------------------ */

static void set_session_cookie(const struct http_req *rq, struct http_resp *rs, const char *id,
			       int64_t max_age_s)
{
	char *c = xasprintf(SESSION_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s",
			    id, (long long)max_age_s, rq->tls ? "; Secure" : "");
	http_header(rs, "Set-Cookie", c);
	free(c);
}

/* POST /api/v1/auth/login {"username", "password"}: a session cookie and its CSRF token. */
void api_post_login(void *app, struct http_req *rq, struct http_resp *rs)
{
	struct api *a = app;
	static const char *const known[] = {"username", "password", NULL};
	json_t *body = api_body_object(rq, rs, known, false);
	if (!body)
		return;
	const char *user = json_string_value(json_object_get(body, "username"));
	json_t *pwj = json_object_get(body, "password");
	if (!user || !json_is_string(pwj)) {
		http_problem(rs, 422, "invalid-body", "Invalid body",
			     "'username' and 'password' are strings");
		json_decref(body);
		return;
	}
	int64_t now = api_now(a);
	pthread_mutex_lock(&a->auth->rl_mu);
	int64_t wait = auth_ratelimit_wait_ms(a->auth->rl, user, rq->remote_addr, now);
	pthread_mutex_unlock(&a->auth->rl_mu);
	if (wait > 0) {
		char ra[24];
		snprintf(ra, sizeof(ra), "%lld", (long long)auth_ratelimit_retry_after_s(wait));
		http_problem(rs, 429, "rate-limited", "Too many failed logins",
			     "too many failed logins for this user or from this address; wait "
			     "before trying again");
		http_header(rs, "Retry-After", ra);
		json_decref(body);
		return;
	}
	struct store *st = api_store_get(a, rs);
	if (!st) {
		json_decref(body);
		return;
	}
	struct ops_session_new s;
	struct ops_err err = {0};
	int r = ops_login(st, now, user, json_string_value(pwj), json_string_length(pwj),
			  rq->remote_addr, NULL, &s, &err);
	api_store_put(a, st);
	pthread_mutex_lock(&a->auth->rl_mu);
	if (r < 0 && err.kind == OPS_UNAUTHORIZED)
		auth_ratelimit_failure(a->auth->rl, user, rq->remote_addr, now);
	else if (r == 0)
		auth_ratelimit_success(a->auth->rl, user);
	pthread_mutex_unlock(&a->auth->rl_mu);
	json_decref(body); /* the password with it */
	if (r < 0) {
		if (err.kind == OPS_UNAUTHORIZED)
			unauthorized(rs, err.msg);
		else
			api_ops_problem(rs, &err);
		ops_err_free(&err);
		return;
	}
	char csrf[AUTH_CSRF_LEN + 1];
	auth_csrf_token(a->auth->key, s.id, strlen(s.id), csrf);
	set_session_cookie(rq, rs, s.id, (s.expires_at - now) / 1000);
	http_json(rs, 200,
		  json_pack("{s:s, s:s, s:s, s:o}", "user", s.principal.user, "role",
			    auth_role_name(s.principal.role), "csrf_token", csrf, "expires_at",
			    ops_time_json(s.expires_at)));
	ops_session_new_wipe(&s);
}

/* POST /api/v1/auth/logout: the session ends (a token caller has nothing to end). */
void api_post_logout(void *app, struct http_req *rq, struct http_resp *rs)
{
	struct api *a = app;
	const char *cookie = http_req_cookie(rq, SESSION_COOKIE);
	if (cookie) {
		struct store *st = api_store_get(a, rs);
		if (!st)
			return;
		struct ops_err err = {0};
		ops_logout(st, api_now(a), cookie, strlen(cookie),
			   rq->remote_addr, &err);
		ops_err_free(&err);
		api_store_put(a, st);
		set_session_cookie(rq, rs, "", 0);
	}
	http_status(rs, 204);
}

/* GET /api/v1/auth/me: who the credentials stand for. */
void api_get_me(void *app, struct http_req *rq, struct http_resp *rs)
{
	(void)app;
	const struct ops_principal *p = api_principal(rq);
	json_t *j = json_pack("{s:s, s:s, s:s}", "user", p->user, "role", auth_role_name(p->role),
			      "auth", p->token_id ? "token" : "session");
	if (p->token_id)
		json_object_set_new(j, "token_id", json_integer(p->token_id));
	else
		json_object_set_new(j, "session_expires_at",
				    ops_time_json(p->session_expires_at));
	http_json(rs, 200, j);
}
