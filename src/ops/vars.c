/*
 * vars.c - variables and connections: names, URIs, the operations and the snapshot (vars.h).
 *
 * The snapshot is two sorted arrays of entries (variables, connections) searched by binary
 * search: the environment's entries first in precedence, then the store's. Each entry holds
 * its plaintext (zeroed on free) or the sentence of why it cannot be used.
 */
#include "ops/vars.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/core.h"
#include "auth/secretbox.h"
#include "base/buf.h"
#include "base/util.h"
#include "dag/template.h"
#include "engine/run.h"
#include "ops/shape.h"

/* ---- names -------------------------------------------------------------------------------- */

bool ops_var_key_valid(const char *key)
{
	return key && template_var_name_ok(key, strlen(key));
}

char *ops_var_env_name(const char *prefix, const char *key)
{
	char *s = xasprintf("%s%s", prefix, key);
	for (char *p = s + strlen(prefix); *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return s;
}

static int bad_name(struct ops_err *err, const char *what, const char *name)
{
	return ops_fail(err, OPS_BAD_REQUEST,
			"bad %s '%.200s': use 1 to %d letters, digits and '_', not starting with "
			"a digit (it must work as the suffix of an environment variable)",
			what, name ? name : "", TEMPLATE_VAR_NAME_MAX);
}

/* ---- connection URIs ---------------------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0, len) (plus_space: '+' is a space, as in a query); NULL when a %XX is
 * malformed or decodes to NUL. */
static char *pct_decode(const char *s, size_t len, bool plus_space)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int a = i + 1 < len ? hexval(s[i + 1]) : -1;
			int c = i + 2 < len ? hexval(s[i + 2]) : -1;
			if (a < 0 || c < 0 || (a == 0 && c == 0)) {
				buf_free(&b);
				return NULL;
			}
			buf_putc(&b, (char)(a * 16 + c));
			i += 2;
		} else if (plus_space && s[i] == '+') {
			buf_putc(&b, ' ');
		} else {
			buf_putc(&b, s[i]);
		}
	}
	return buf_detach(&b);
}

void ops_conn_uri_free(struct ops_conn_uri *u)
{
	if (!u)
		return;
	free(u->scheme);
	free(u->login);
	if (u->password)
		auth_wipe_free(u->password, strlen(u->password));
	free(u->host);
	free(u->schema);
	json_decref(u->query);
	memset(u, 0, sizeof(*u));
	u->port = -1;
}

/* Where the raw password sits in the URI: [*ret_at, *ret_end); false when there is none. */
static bool raw_password(const char *uri, size_t *ret_at, size_t *ret_end)
{
	const char *a = strstr(uri, "://");
	if (!a)
		return false;
	a += 3;
	size_t alen = strcspn(a, "/?#");
	const char *at = NULL;
	for (size_t i = 0; i < alen; i++)
		if (a[i] == '@')
			at = a + i;
	if (!at)
		return false;
	const char *colon = memchr(a, ':', (size_t)(at - a));
	if (!colon)
		return false;
	*ret_at = (size_t)(colon + 1 - uri);
	*ret_end = (size_t)(at - uri);
	return true;
}

static int uri_fail(struct ops_err *err, const char *what)
{
	return ops_fail(
	    err, OPS_INVALID,
	    "not a valid connection URI: %s (write "
	    "SCHEME://LOGIN:PASSWORD@HOST:PORT/SCHEMA?KEY=VALUE, parts percent-encoded)",
	    what);
}

int ops_conn_uri_parse(const char *uri, struct ops_conn_uri *ret, struct ops_err *err)
{
	struct ops_conn_uri u = {.port = -1};
	if (!uri || !*uri)
		return uri_fail(err, "it is empty");
	if (strlen(uri) > OPS_VAR_VALUE_MAX)
		return uri_fail(err, "it is longer than 1 MiB");
	for (const char *p = uri; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return uri_fail(err, "it holds a space or a control character");
	size_t sl = 0;
	if (!((uri[0] >= 'a' && uri[0] <= 'z') || (uri[0] >= 'A' && uri[0] <= 'Z')))
		return uri_fail(err, "it does not start with a scheme");
	while ((uri[sl] >= 'a' && uri[sl] <= 'z') || (uri[sl] >= 'A' && uri[sl] <= 'Z') ||
	       (uri[sl] >= '0' && uri[sl] <= '9') || uri[sl] == '+' || uri[sl] == '-' ||
	       uri[sl] == '.')
		sl++;
	if (strncmp(uri + sl, "://", 3) != 0)
		return uri_fail(err, "the scheme is not followed by '://'");
	if (strchr(uri, '#'))
		return uri_fail(err, "it has a fragment ('#'); percent-encode it as %23");
	u.scheme = xstrndup(uri, sl);
	for (char *p = u.scheme; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	const char *a = uri + sl + 3;
	size_t alen = strcspn(a, "/?");
	const char *at = NULL;
	for (size_t i = 0; i < alen; i++)
		if (a[i] == '@')
			at = a + i;
	const char *hp = a;
	if (at) {
		const char *colon = memchr(a, ':', (size_t)(at - a));
		size_t ll = colon ? (size_t)(colon - a) : (size_t)(at - a);
		u.login = pct_decode(a, ll, false);
		if (!u.login)
			goto bad_pct;
		if (colon) {
			u.password = pct_decode(colon + 1, (size_t)(at - colon - 1), false);
			if (!u.password)
				goto bad_pct;
		}
		hp = at + 1;
	}
	size_t hl = (size_t)(a + alen - hp);
	const char *port = NULL;
	if (hl && hp[0] == '[') {
		const char *close = memchr(hp, ']', hl);
		if (!close) {
			ops_conn_uri_free(&u);
			return uri_fail(err, "an IPv6 host lacks its ']'");
		}
		u.host = xstrndup(hp + 1, (size_t)(close - hp - 1));
		size_t rest = hl - (size_t)(close + 1 - hp);
		if (rest) {
			if (close[1] != ':') {
				ops_conn_uri_free(&u);
				return uri_fail(err, "unexpected text after the IPv6 host");
			}
			port = close + 2;
		}
	} else {
		const char *colon = memchr(hp, ':', hl);
		size_t h = colon ? (size_t)(colon - hp) : hl;
		u.host = pct_decode(hp, h, false);
		if (!u.host)
			goto bad_pct;
		if (colon)
			port = colon + 1;
	}
	if (port) {
		size_t pl = (size_t)(a + alen - port);
		long v = 0;
		if (pl == 0 || pl > 5) {
			ops_conn_uri_free(&u);
			return uri_fail(err, "the port must be a number from 1 to 65535");
		}
		for (size_t i = 0; i < pl; i++) {
			if (port[i] < '0' || port[i] > '9') {
				ops_conn_uri_free(&u);
				return uri_fail(err, "the port must be a number from 1 to 65535");
			}
			v = v * 10 + (port[i] - '0');
		}
		if (v < 1 || v > 65535) {
			ops_conn_uri_free(&u);
			return uri_fail(err, "the port must be a number from 1 to 65535");
		}
		u.port = (int)v;
	}
	const char *p = a + alen;
	if (*p == '/') {
		size_t pl = strcspn(p + 1, "?");
		u.schema = pct_decode(p + 1, pl, false);
		if (!u.schema)
			goto bad_pct;
		p += 1 + pl;
	}
	u.query = json_object();
	if (*p == '?') {
		p++;
		while (*p) {
			size_t n = strcspn(p, "&");
			const char *eq = memchr(p, '=', n);
			if (n) {
				size_t kl = eq ? (size_t)(eq - p) : n;
				char *k = pct_decode(p, kl, true);
				char *v = eq ? pct_decode(eq + 1, n - kl - 1, true) : xstrdup("");
				if (!k || !v || !*k) {
					free(k);
					free(v);
					goto bad_pct;
				}
				json_object_set_new(u.query, k, json_string(v));
				free(k);
				free(v);
			}
			p += n;
			if (*p == '&')
				p++;
		}
	}
	*ret = u;
	return 0;
bad_pct:
	ops_conn_uri_free(&u);
	return uri_fail(err, "a '%' is not followed by two hexadecimal digits, or encodes a NUL");
}

char *ops_conn_uri_masked(const char *uri)
{
	size_t at, end;
	if (!raw_password(uri, &at, &end))
		return xstrdup(uri);
	return xasprintf("%.*s***%s", (int)at, uri, uri + end);
}

/* ---- request bodies ----------------------------------------------------------------------- */

/* Each member of `body` must be one of `fields` with the JSON type of the same index
 * (JSON_NULL also allowed when nullable[i]). */
static int check_body(const json_t *body, const char *what, const char *const *fields,
		      const json_type *types, const bool *nullable, size_t n, struct ops_err *err)
{
	if (!json_is_object(body))
		return ops_fail(err, OPS_BAD_REQUEST, "the body of %s must be a JSON object", what);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)body, k, v)
	{
		size_t i = 0;
		while (i < n && strcmp(fields[i], k) != 0)
			i++;
		if (i == n)
			return ops_fail(err, OPS_BAD_REQUEST, "unknown field '%.100s' in %s", k,
					what);
		json_type t = json_typeof(v);
		if (types[i] == JSON_TRUE && (t == JSON_TRUE || t == JSON_FALSE))
			continue;
		if (t != types[i] && !(nullable[i] && t == JSON_NULL))
			return ops_fail(err, OPS_BAD_REQUEST, "field '%s' of %s has the wrong type",
					k, what);
	}
	return 0;
}

int ops_var_req_parse(const char *key, const json_t *body, struct ops_var_set_req *rq,
		      struct ops_err *err)
{
	static const char *const fields[] = {"value", "secret", "description"};
	static const json_type types[] = {JSON_STRING, JSON_TRUE, JSON_STRING};
	static const bool nullable[] = {false, false, true};
	if (check_body(body, "a variable", fields, types, nullable, ARRAY_SIZE(fields), err) < 0)
		return -1;
	json_t *value = json_object_get(body, "value");
	if (!value)
		return ops_fail(err, OPS_BAD_REQUEST, "a variable needs a \"value\"");
	if (strlen(json_string_value(value)) != json_string_length(value))
		return ops_fail(err, OPS_INVALID, "the value of '%s' holds a NUL character",
				key ? key : "");
	json_t *d = json_object_get(body, "description");
	*rq = (struct ops_var_set_req){
	    .key = key,
	    .value = json_string_value(value),
	    .secret = json_is_true(json_object_get(body, "secret")),
	    .description = json_is_null(d) ? "" : json_string_value(d),
	};
	return 0;
}

int ops_conn_req_parse(const char *name, const json_t *body, struct ops_conn_set_req *rq,
		       struct ops_err *err)
{
	static const char *const fields[] = {"uri", "extra", "description"};
	static const json_type types[] = {JSON_STRING, JSON_OBJECT, JSON_STRING};
	static const bool nullable[] = {false, true, true};
	if (check_body(body, "a connection", fields, types, nullable, ARRAY_SIZE(fields), err) < 0)
		return -1;
	json_t *uri = json_object_get(body, "uri");
	if (!uri)
		return ops_fail(err, OPS_BAD_REQUEST, "a connection needs a \"uri\"");
	json_t *x = json_object_get(body, "extra"), *d = json_object_get(body, "description");
	*rq = (struct ops_conn_set_req){
	    .name = name,
	    .uri = json_string_value(uri),
	    .extra = json_is_object(x) ? x : NULL,
	    .description = json_is_null(d) ? "" : json_string_value(d),
	};
	return 0;
}

/* ---- operations --------------------------------------------------------------------------- */

static int store_err(const struct ops_ctx *c, struct ops_err *err, int r)
{
	if (r == -ENOENT)
		return ops_fail(err, OPS_NOT_FOUND, "%s", store_errmsg(c->st));
	return ops_fail(err, OPS_INTERNAL, "%s", store_errmsg(c->st));
}

static int need_key(const struct auth_key *k, struct ops_err *err)
{
	if (k)
		return 0;
	return ops_fail(err, OPS_INTERNAL, "the master key is not available");
}

static int decrypt(const struct auth_key *k, const char *text, const char *what, const char *name,
		   char **ret, struct ops_err *err)
{
	size_t len;
	if (need_key(k, err) < 0)
		return -1;
	if (auth_secret_decrypt(k, text, strlen(text), ret, &len) < 0)
		return ops_fail(err, OPS_INTERNAL,
				"the %s '%s' cannot be decrypted with this master key (was the "
				"store copied without its secret.key?)",
				what, name);
	return 0;
}

static void wipe(char *p)
{
	if (p)
		auth_wipe_free(p, strlen(p));
}

/* The shape of a stored variable, decrypting when revealed. */
static int var_shape(const struct auth_key *k, const struct store_var *v, bool reveal, json_t **ret,
		     struct ops_err *err)
{
	if (!v->secret) {
		*ret = ops_variable_json(v, v->value);
		return 0;
	}
	if (!reveal) {
		*ret = ops_variable_json(v, NULL);
		return 0;
	}
	char *plain = NULL;
	if (decrypt(k, v->value, "variable", v->key, &plain, err) < 0)
		return -1;
	*ret = ops_variable_json(v, plain);
	wipe(plain);
	return 0;
}

int ops_var_set(const struct ops_ctx *c, const struct auth_key *k, const struct ops_var_set_req *rq,
		json_t **ret, struct ops_err *err)
{
	if (!ops_var_key_valid(rq->key))
		return bad_name(err, "variable key", rq->key);
	if (!rq->value)
		return ops_fail(err, OPS_INVALID, "variable '%s' needs a value", rq->key);
	size_t len = strlen(rq->value);
	if (len > OPS_VAR_VALUE_MAX)
		return ops_fail(err, OPS_INVALID, "the value of '%s' is longer than 1 MiB",
				rq->key);
	struct store_var old = {0};
	int g = store_var_get(c->st, rq->key, &old);
	if (g < 0 && g != -ENOENT)
		return store_err(c, err, g);
	store_var_free(&old);
	char *cipher = NULL;
	if (rq->secret) {
		if (need_key(k, err) < 0)
			return -1;
		if (auth_secret_encrypt(k, rq->value, len, &cipher) < 0)
			return ops_fail(err, OPS_INVALID, "the value of '%s' is too long", rq->key);
	}
	struct store_var v = {
	    .key = (char *)rq->key,
	    .value = cipher ? cipher : (char *)rq->value,
	    .secret = rq->secret,
	    .description = (char *)rq->description,
	    .updated_at = c->now,
	    .updated_by = (char *)rq->who,
	};
	int r = store_var_set(c->st, NULL, &v);
	free(cipher);
	if (r < 0)
		return store_err(c, err, r);
	struct store_var now = {0};
	if ((r = store_var_get(c->st, rq->key, &now)) < 0)
		return store_err(c, err, r);
	json_t *shape = NULL;
	var_shape(k, &now, false, &shape, err);
	store_var_free(&now);
	*ret = json_pack("{s:b, s:o}", "created", g == -ENOENT, "variable", shape);
	return 0;
}

int ops_var_get(const struct ops_ctx *c, const struct auth_key *k, const char *key, bool reveal,
		json_t **ret, struct ops_err *err)
{
	if (!ops_var_key_valid(key))
		return bad_name(err, "variable key", key);
	struct store_var v = {0};
	int r = store_var_get(c->st, key, &v);
	if (r < 0)
		return store_err(c, err, r);
	r = var_shape(k, &v, reveal, ret, err);
	store_var_free(&v);
	return r;
}

int ops_var_list(const struct ops_ctx *c, const struct auth_key *k, bool reveal, json_t **ret,
		 struct ops_err *err)
{
	struct store_var *vs = NULL;
	size_t n = 0;
	int r = store_var_list(c->st, &vs, &n);
	if (r < 0)
		return store_err(c, err, r);
	json_t *a = json_array();
	for (size_t i = 0; i < n && r == 0; i++) {
		json_t *o = NULL;
		r = var_shape(k, &vs[i], reveal, &o, err);
		if (r == 0)
			json_array_append_new(a, o);
	}
	for (size_t i = 0; i < n; i++)
		store_var_free(&vs[i]);
	free(vs);
	if (r < 0) {
		json_decref(a);
		return r;
	}
	*ret = a;
	return 0;
}

int ops_var_delete(const struct ops_ctx *c, const char *key, json_t **ret, struct ops_err *err)
{
	if (!ops_var_key_valid(key))
		return bad_name(err, "variable key", key);
	struct store_var v = {0};
	int r = store_var_get(c->st, key, &v);
	if (r == 0)
		r = store_var_delete(c->st, NULL, key);
	if (r < 0) {
		store_var_free(&v);
		return store_err(c, err, r);
	}
	*ret = ops_variable_json(&v, v.secret ? NULL : v.value);
	store_var_free(&v);
	return 0;
}

/* The shape of a stored connection: its URI decrypted and parsed, shown masked unless
 * revealed. */
static int conn_shape(const struct auth_key *k, const struct store_conn *cn, bool reveal,
		      json_t **ret, struct ops_err *err)
{
	char *plain = NULL;
	if (decrypt(k, cn->uri, "connection", cn->name, &plain, err) < 0)
		return -1;
	struct ops_conn_uri u;
	struct ops_err perr = {0};
	bool parsed = ops_conn_uri_parse(plain, &u, &perr) == 0;
	ops_err_free(&perr);
	char *shown = reveal || !parsed ? NULL : ops_conn_uri_masked(plain);
	*ret = ops_connection_json(cn,
				   reveal   ? plain
				   : parsed ? shown
					    : "***",
				   parsed ? &u : NULL, reveal);
	free(shown);
	if (parsed)
		ops_conn_uri_free(&u);
	wipe(plain);
	return 0;
}

int ops_conn_set(const struct ops_ctx *c, const struct auth_key *k,
		 const struct ops_conn_set_req *rq, json_t **ret, struct ops_err *err)
{
	if (!ops_var_key_valid(rq->name))
		return bad_name(err, "connection name", rq->name);
	struct ops_conn_uri u;
	if (ops_conn_uri_parse(rq->uri, &u, err) < 0)
		return -1;
	ops_conn_uri_free(&u);
	if (rq->extra && !json_is_object(rq->extra))
		return ops_fail(err, OPS_INVALID,
				"the extra of connection '%s' must be a JSON object", rq->name);
	if (need_key(k, err) < 0)
		return -1;
	struct store_conn old = {0};
	int g = store_conn_get(c->st, rq->name, &old);
	if (g < 0 && g != -ENOENT)
		return store_err(c, err, g);
	store_conn_free(&old);
	char *cipher = NULL;
	if (auth_secret_encrypt(k, rq->uri, strlen(rq->uri), &cipher) < 0)
		return ops_fail(err, OPS_INVALID, "the URI of '%s' is too long", rq->name);
	char *extra = rq->extra ? json_dumps(rq->extra, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	struct store_conn cn = {
	    .name = (char *)rq->name,
	    .uri = cipher,
	    .extra = extra,
	    .description = (char *)rq->description,
	    .updated_at = c->now,
	    .updated_by = (char *)rq->who,
	};
	int r = store_conn_set(c->st, NULL, &cn);
	free(cipher);
	free(extra);
	if (r < 0)
		return store_err(c, err, r);
	struct store_conn now = {0};
	if ((r = store_conn_get(c->st, rq->name, &now)) < 0)
		return store_err(c, err, r);
	json_t *shape = NULL;
	r = conn_shape(k, &now, false, &shape, err);
	store_conn_free(&now);
	if (r < 0)
		return r;
	*ret = json_pack("{s:b, s:o}", "created", g == -ENOENT, "connection", shape);
	return 0;
}

int ops_conn_get(const struct ops_ctx *c, const struct auth_key *k, const char *name, bool reveal,
		 json_t **ret, struct ops_err *err)
{
	if (!ops_var_key_valid(name))
		return bad_name(err, "connection name", name);
	struct store_conn cn = {0};
	int r = store_conn_get(c->st, name, &cn);
	if (r < 0)
		return store_err(c, err, r);
	r = conn_shape(k, &cn, reveal, ret, err);
	store_conn_free(&cn);
	return r;
}

int ops_conn_list(const struct ops_ctx *c, const struct auth_key *k, bool reveal, json_t **ret,
		  struct ops_err *err)
{
	struct store_conn *cs = NULL;
	size_t n = 0;
	int r = store_conn_list(c->st, &cs, &n);
	if (r < 0)
		return store_err(c, err, r);
	json_t *a = json_array();
	for (size_t i = 0; i < n && r == 0; i++) {
		json_t *o = NULL;
		r = conn_shape(k, &cs[i], reveal, &o, err);
		if (r == 0)
			json_array_append_new(a, o);
	}
	for (size_t i = 0; i < n; i++)
		store_conn_free(&cs[i]);
	free(cs);
	if (r < 0) {
		json_decref(a);
		return r;
	}
	*ret = a;
	return 0;
}

int ops_conn_delete(const struct ops_ctx *c, const struct auth_key *k, const char *name,
		    json_t **ret, struct ops_err *err)
{
	if (!ops_var_key_valid(name))
		return bad_name(err, "connection name", name);
	struct store_conn cn = {0};
	int r = store_conn_get(c->st, name, &cn);
	if (r == 0)
		r = store_conn_delete(c->st, NULL, name);
	if (r < 0) {
		store_conn_free(&cn);
		return store_err(c, err, r);
	}
	json_t *shape = NULL;
	struct ops_err derr = {0};
	if (conn_shape(k, &cn, false, &shape, &derr) < 0) /* no key: the name is enough */
		shape = json_pack("{s:s}", "name", cn.name);
	ops_err_free(&derr);
	store_conn_free(&cn);
	*ret = shape;
	return 0;
}

/* ---- the snapshot ------------------------------------------------------------------------- */

struct snap_entry {
	char *name;    /* the key or name as templates write it (env: upper-cased) */
	bool env;      /* from the environment */
	bool secret;   /* variables: masked in logs */
	json_t *value; /* a variable: its string; a connection: ops_conn_fields_json */
	char *error;   /* set instead of value when it cannot be used */
};

struct ops_vars_snapshot {
	struct snap_entry *vars, *conns;
	size_t n_vars, n_conns, cap_vars, cap_conns;
	int64_t version;
};

static void wipe_json(json_t *v)
{
	/* jansson has no wipe: overwrite the strings it holds before they are freed. */
	if (json_is_string(v)) {
		size_t n = json_string_length(v);
		if (n)
			explicit_bzero((char *)json_string_value(v), n);
	} else if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x) wipe_json(x);
	}
}

static void entry_free(struct snap_entry *e)
{
	free(e->name);
	wipe_json(e->value);
	json_decref(e->value);
	free(e->error);
}

void ops_vars_snapshot_free(struct ops_vars_snapshot *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_vars; i++)
		entry_free(&s->vars[i]);
	for (size_t i = 0; i < s->n_conns; i++)
		entry_free(&s->conns[i]);
	free(s->vars);
	free(s->conns);
	free(s);
}

int64_t ops_vars_snapshot_version(const struct ops_vars_snapshot *s)
{
	return s ? s->version : 0;
}

static struct snap_entry *add_entry(struct snap_entry **v, size_t *n, size_t *cap)
{
	*v = xrealloc_array(*v, *n + 1, sizeof(**v), cap);
	struct snap_entry *e = &(*v)[(*n)++];
	memset(e, 0, sizeof(*e));
	return e;
}

static json_t *conn_value(const char *uri, const char *extra_text, char **ret_error)
{
	struct ops_conn_uri u;
	struct ops_err e = {0};
	if (ops_conn_uri_parse(uri, &u, &e) < 0) {
		*ret_error = e.msg;
		return NULL;
	}
	json_t *extra = extra_text ? json_loads(extra_text, 0, NULL) : NULL;
	json_t *v = ops_conn_fields_json(uri, &u, extra);
	json_decref(extra);
	ops_conn_uri_free(&u);
	return v;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct snap_entry *x = a, *y = b;
	if (x->env != y->env)
		return x->env ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void load_env(struct ops_vars_snapshot *s, char *const *envp)
{
	for (size_t i = 0; envp && envp[i]; i++) {
		const char *kv = envp[i], *eq = strchr(kv, '=');
		if (!eq)
			continue;
		bool var = strncmp(kv, OPS_VAR_ENV_PREFIX, strlen(OPS_VAR_ENV_PREFIX)) == 0;
		bool conn = strncmp(kv, OPS_CONN_ENV_PREFIX, strlen(OPS_CONN_ENV_PREFIX)) == 0;
		if (!var && !conn)
			continue;
		const char *name = kv + strlen(var ? OPS_VAR_ENV_PREFIX : OPS_CONN_ENV_PREFIX);
		if (name == eq)
			continue;
		struct snap_entry *e = var ? add_entry(&s->vars, &s->n_vars, &s->cap_vars)
					   : add_entry(&s->conns, &s->n_conns, &s->cap_conns);
		e->name = xstrndup(name, (size_t)(eq - name));
		e->env = true;
		e->secret = true;
		if (var) {
			e->value = json_string(eq + 1);
			if (!e->value)
				e->error = xasprintf("%s%s in the environment is not valid UTF-8",
						     OPS_VAR_ENV_PREFIX, e->name);
		} else {
			char *why = NULL;
			e->value = conn_value(eq + 1, NULL, &why);
			if (!e->value) {
				e->error = xasprintf("%s%s in the environment: %s",
						     OPS_CONN_ENV_PREFIX, e->name, why);
				free(why);
			}
		}
	}
}

static int load_store(struct ops_vars_snapshot *s, struct store *st, const struct auth_key *k,
		      struct ops_err *err)
{
	struct store_var *vs = NULL;
	struct store_conn *cs = NULL;
	size_t nv = 0, nc = 0;
	int r = store_vars_version(st, &s->version);
	if (r == 0)
		r = store_var_list(st, &vs, &nv);
	if (r == 0)
		r = store_conn_list(st, &cs, &nc);
	if (r < 0) {
		for (size_t i = 0; i < nv; i++)
			store_var_free(&vs[i]);
		free(vs);
		return ops_fail(err, OPS_INTERNAL, "%s", store_errmsg(st));
	}
	for (size_t i = 0; i < nv; i++) {
		struct snap_entry *e = add_entry(&s->vars, &s->n_vars, &s->cap_vars);
		e->name = xstrdup(vs[i].key);
		e->secret = vs[i].secret;
		char *plain = NULL;
		size_t len = 0;
		if (!vs[i].secret) {
			e->value = json_string(vs[i].value);
		} else if (k && auth_secret_decrypt(k, vs[i].value, strlen(vs[i].value), &plain,
						    &len) == 0) {
			e->value = json_stringn(plain, len);
			auth_wipe_free(plain, len);
		}
		if (!e->value)
			e->error = xasprintf(
			    "variable '%s' cannot be decrypted with this master key", vs[i].key);
		store_var_free(&vs[i]);
	}
	free(vs);
	for (size_t i = 0; i < nc; i++) {
		struct snap_entry *e = add_entry(&s->conns, &s->n_conns, &s->cap_conns);
		e->name = xstrdup(cs[i].name);
		e->secret = true;
		char *plain = NULL;
		size_t len = 0;
		if (k && auth_secret_decrypt(k, cs[i].uri, strlen(cs[i].uri), &plain, &len) == 0) {
			char *why = NULL;
			e->value = conn_value(plain, cs[i].extra, &why);
			if (!e->value) {
				e->error = xasprintf("connection '%s': %s", cs[i].name, why);
				free(why);
			}
			auth_wipe_free(plain, len);
		} else {
			e->error = xasprintf(
			    "connection '%s' cannot be decrypted with this master key", cs[i].name);
		}
		store_conn_free(&cs[i]);
	}
	free(cs);
	return 0;
}

int ops_vars_snapshot_load(struct store *st, const struct auth_key *k, char *const *envp,
			   struct ops_vars_snapshot **ret, struct ops_err *err)
{
	struct ops_vars_snapshot *s = xcalloc(1, sizeof(*s));
	load_env(s, envp);
	if (st && load_store(s, st, k, err) < 0) {
		ops_vars_snapshot_free(s);
		return -1;
	}
	if (s->n_vars)
		qsort(s->vars, s->n_vars, sizeof(*s->vars), entry_cmp);
	if (s->n_conns)
		qsort(s->conns, s->n_conns, sizeof(*s->conns), entry_cmp);
	*ret = s;
	return 0;
}

/* The entry for `name` from the environment (upper-cased name) or else the store. */
static const struct snap_entry *find(const struct snap_entry *v, size_t n, const char *name)
{
	if (n == 0)
		return NULL;
	char *upper = ops_var_env_name("", name);
	const struct snap_entry *hit = NULL;
	for (int pass = 0; pass < 2 && !hit; pass++) {
		struct snap_entry key = {.name = pass ? (char *)name : upper, .env = pass == 0};
		hit = bsearch(&key, v, n, sizeof(*v), entry_cmp);
	}
	free(upper);
	return hit;
}

static int snap_var(void *ctx, const char *key, json_t **ret_value, bool *ret_secret,
		    char **ret_msg)
{
	struct ops_vars_snapshot *s = ctx;
	const struct snap_entry *e = find(s->vars, s->n_vars, key);
	if (!e) {
		char *env = ops_var_env_name(OPS_VAR_ENV_PREFIX, key);
		*ret_msg = xasprintf("var.%s: no variable '%s' (set it with `gust variables set %s "
				     "VALUE`, or %s in the server's environment)",
				     key, key, key, env);
		free(env);
		return -ENOENT;
	}
	if (e->error) {
		*ret_msg = xasprintf("var.%s: %s", key, e->error);
		return -EINVAL;
	}
	*ret_value = e->value;
	*ret_secret = e->secret;
	return 0;
}

static int snap_conn(void *ctx, const char *name, json_t **ret_conn, char **ret_msg)
{
	struct ops_vars_snapshot *s = ctx;
	const struct snap_entry *e = find(s->conns, s->n_conns, name);
	if (!e) {
		char *env = ops_var_env_name(OPS_CONN_ENV_PREFIX, name);
		*ret_msg = xasprintf("conn.%s: no connection '%s' (set it with `gust connections "
				     "set %s URI`, or %s in the server's environment)",
				     name, name, name, env);
		free(env);
		return -ENOENT;
	}
	if (e->error) {
		*ret_msg = xasprintf("conn.%s: %s", name, e->error);
		return -EINVAL;
	}
	*ret_conn = e->value;
	return 0;
}

void ops_vars_lookup(struct ops_vars_snapshot *s, struct run_lookup *ret)
{
	*ret = (struct run_lookup){.var = snap_var, .conn = snap_conn, .ctx = s};
}
