/*
 * http_route.c - route tables compiled to arrays of segments, and the matcher (http_route.h).
 *
 * A compiled route is its segments in order, each a literal (as written in the pattern) or a
 * parameter name. Matching splits the raw path into segments, decodes each once into the
 * caller's arena, then compares against every route: tables are tens of routes long, so a
 * linear scan over arrays beats any tree in code and in time (about a microsecond).
 */
#include "http/http_route.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"

struct seg {
	const char *text; /* literal, or the parameter's name */
	size_t len;
	bool param;
};

struct croute {
	const struct http_route *route;
	unsigned method;
	size_t nseg, nparam;
	struct seg seg[HTTP_MAX_SEGMENTS];
};

struct http_router {
	struct croute *routes;
	size_t n;
	struct arena arena;
};

static const struct {
	const char *name;
	unsigned bit;
} methods[] = {
    {"GET", HTTP_GET},	   {"HEAD", HTTP_HEAD},	    {"POST", HTTP_POST},       {"PUT", HTTP_PUT},
    {"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE}, {"OPTIONS", HTTP_OPTIONS},
};

unsigned http_method_bit(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(methods); i++)
		if (strcmp(methods[i].name, name) == 0)
			return methods[i].bit;
	return 0;
}

char *http_method_list(unsigned mask, char *buf, size_t size)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
		if (!(mask & methods[i].bit))
			continue;
		int w = snprintf(buf + o, size - o, "%s%s", o ? ", " : "", methods[i].name);
		if (w < 0 || (size_t)w >= size - o)
			break;
		o += (size_t)w;
	}
	return buf;
}

/* ---- building ---------------------------------------------------------------------------- */

static bool literal_char_ok(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-._~:@!$&'()*+,;=", c));
}

static bool param_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* Compile one pattern; NULL or a static sentence. */
static const char *compile(struct http_router *r, const struct http_route *rt, struct croute *c)
{
	c->route = rt;
	c->method = http_method_bit(rt->method);
	if (!c->method || c->method == HTTP_HEAD || c->method == HTTP_OPTIONS)
		return "the method must be GET, POST, PUT, PATCH or DELETE (HEAD and OPTIONS are "
		       "answered by the transport)";
	if (!rt->handler)
		return "no handler";
	const char *p = rt->pattern;
	if (!p || p[0] != '/')
		return "the pattern must start with '/'";
	if (strcmp(p, "/") == 0) {
		c->nseg = 1;
		c->seg[0] = (struct seg){"", 0, false};
		return NULL;
	}
	p++;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0)
			return "the pattern has an empty segment or a trailing '/'";
		if (c->nseg == HTTP_MAX_SEGMENTS)
			return "the pattern has too many segments";
		struct seg *s = &c->seg[c->nseg++];
		if (p[0] == '{') {
			if (p[len - 1] != '}' || !param_name_ok(p + 1, len - 2))
				return "a parameter must be a whole segment {name}, the name "
				       "[a-z_][a-z0-9_]*";
			if (c->nparam == HTTP_MAX_PARAMS)
				return "the pattern has too many parameters";
			*s = (struct seg){arena_strndup(&r->arena, p + 1, len - 2), len - 2, true};
			for (size_t i = 0; i + 1 < c->nseg; i++)
				if (c->seg[i].param && c->seg[i].len == s->len &&
				    memcmp(c->seg[i].text, s->text, s->len) == 0)
					return "a parameter name appears twice";
			c->nparam++;
		} else {
			for (size_t i = 0; i < len; i++)
				if (!literal_char_ok(p[i]))
					return "a literal segment may hold only unreserved "
					       "characters, "
					       "sub-delimiters, ':' and '@' (no '%', '{' or '}')";
			if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
				return "a literal segment may not be '.' or '..'";
			*s = (struct seg){arena_strndup(&r->arena, p, len), len, false};
		}
		if (!slash)
			return NULL;
		p = slash + 1;
	}
}

static bool same_shape(const struct croute *a, const struct croute *b)
{
	if (a->nseg != b->nseg)
		return false;
	for (size_t i = 0; i < a->nseg; i++) {
		const struct seg *x = &a->seg[i], *y = &b->seg[i];
		if (x->param != y->param)
			return false;
		if (!x->param && (x->len != y->len || memcmp(x->text, y->text, x->len) != 0))
			return false;
	}
	return true;
}

int http_router_new(const struct http_route *routes, size_t n, struct http_router **ret,
		    char **ret_msg)
{
	struct http_router *r = xcalloc(1, sizeof(*r));
	arena_init(&r->arena);
	r->routes = xcalloc(n ? n : 1, sizeof(*r->routes));
	r->n = n;
	for (size_t i = 0; i < n; i++) {
		const char *why = compile(r, &routes[i], &r->routes[i]);
		size_t dup = i;
		for (size_t j = 0; !why && j < i; j++)
			if (r->routes[j].method == r->routes[i].method &&
			    same_shape(&r->routes[j], &r->routes[i]))
				dup = j;
		if (why || dup != i) {
			const char *m = routes[i].method ? routes[i].method : "(null)";
			const char *pat = routes[i].pattern ? routes[i].pattern : "(null)";
			if (why)
				*ret_msg = xasprintf("route %zu (%s %s): %s", i, m, pat, why);
			else
				*ret_msg = xasprintf("route %zu (%s %s): same method and shape as "
						     "route %zu (%s)",
						     i, m, pat, dup, routes[dup].pattern);
			http_router_free(r);
			return -EINVAL;
		}
	}
	*ret = r;
	return 0;
}

void http_router_free(struct http_router *r)
{
	if (!r)
		return;
	arena_free(&r->arena);
	free(r->routes);
	free(r);
}

size_t http_router_count(const struct http_router *r)
{
	return r->n;
}

const struct http_route *http_router_at(const struct http_router *r, size_t i)
{
	return i < r->n ? r->routes[i].route : NULL;
}

/* ---- matching ---------------------------------------------------------------------------- */

const char *http_param_check(const char *v, size_t len)
{
	if (len == 0)
		return "is empty";
	if (len > HTTP_MAX_PARAM_LEN)
		return "is too long";
	if ((len == 1 && v[0] == '.') || (len == 2 && v[0] == '.' && v[1] == '.'))
		return "may not be '.' or '..'";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '/' || c == '\\')
			return "may not contain '/' or '\\'";
		if (c < 0x20 || c == 0x7f)
			return "may not contain NUL or control characters";
	}
	return NULL;
}

struct dseg {
	const char *s; /* decoded, NUL-terminated */
	size_t len;
};

static bool structural(const struct croute *c, const struct dseg *d, size_t nd)
{
	if (c->nseg != nd)
		return false;
	for (size_t i = 0; i < nd; i++)
		if (!c->seg[i].param &&
		    (c->seg[i].len != d[i].len || memcmp(c->seg[i].text, d[i].s, d[i].len) != 0))
			return false;
	return true;
}

/* Is a more specific than b (a literal where b has a parameter, at the first difference)? */
static bool more_specific(const struct croute *a, const struct croute *b)
{
	for (size_t i = 0; i < a->nseg; i++)
		if (a->seg[i].param != b->seg[i].param)
			return !a->seg[i].param;
	return false;
}

static bool method_serves(unsigned route_bit, unsigned req_bit)
{
	return route_bit == req_bit || (req_bit == HTTP_HEAD && route_bit == HTTP_GET);
}

enum http_match_status http_router_match(const struct http_router *r, const char *method,
					 const char *path_raw, struct arena *a,
					 struct http_match *m)
{
	memset(m, 0, sizeof(*m));
	if (!path_raw || path_raw[0] != '/') {
		m->reason = "the request target must be a path starting with '/'";
		return HTTP_MATCH_BAD_PATH;
	}
	size_t plen = strlen(path_raw);
	for (size_t i = 0; i < plen; i++) {
		unsigned char c = (unsigned char)path_raw[i];
		if (c <= 0x20 || c == 0x7f) {
			m->reason = "the path holds a space or a control character";
			return HTTP_MATCH_BAD_PATH;
		}
	}
	/* Split and decode: segment i is between the i-th '/' and the next. */
	struct dseg d[HTTP_MAX_SEGMENTS];
	size_t nd = 0;
	char *out = arena_alloc(a, plen + 1);
	const char *p = path_raw + 1;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (nd == HTTP_MAX_SEGMENTS)
			return HTTP_MATCH_NOT_FOUND;
		size_t dl;
		if (http_pct_decode(p, len, false, out, &dl) < 0) {
			m->reason = "malformed percent-encoding in the path";
			return HTTP_MATCH_BAD_PATH;
		}
		out[dl] = '\0';
		d[nd++] = (struct dseg){out, dl};
		out += dl + 1;
		if (!slash)
			break;
		p = slash + 1;
	}

	unsigned req = http_method_bit(method);
	if (plen > 1 && path_raw[plen - 1] == '/') {
		for (size_t i = 0; i < r->n && !m->hint; i++)
			if (structural(&r->routes[i], d, nd - 1))
				m->hint = r->routes[i].route->pattern;
		return HTTP_MATCH_NOT_FOUND;
	}

	const struct croute *best = NULL;
	bool any = false;
	for (size_t i = 0; i < r->n; i++) {
		const struct croute *c = &r->routes[i];
		if (!structural(c, d, nd))
			continue;
		any = true;
		m->allow |= c->method;
		if (method_serves(c->method, req) && (!best || more_specific(c, best)))
			best = c;
	}
	if (!any)
		return HTTP_MATCH_NOT_FOUND;
	if (m->allow & HTTP_GET)
		m->allow |= HTTP_HEAD;
	m->allow |= HTTP_OPTIONS;
	if (!best)
		return HTTP_MATCH_BAD_METHOD;
	m->allow = 0;

	for (size_t i = 0; i < nd; i++) {
		if (!best->seg[i].param)
			continue;
		const char *why = http_param_check(d[i].s, d[i].len);
		if (why) {
			m->bad_param = best->seg[i].text;
			m->reason = why;
			m->n_params = 0;
			return HTTP_MATCH_BAD_PARAM;
		}
		m->params[m->n_params++] = (struct http_kv){best->seg[i].text, d[i].s};
	}
	m->route = best->route;
	return HTTP_MATCH_OK;
}
