/*
 * http_parse.c - listen addresses, percent decoding, query strings, cookies, entity tags (see
 * http_parse.h). Every loop here is bounded by its input's length; nothing allocates except
 * from the caller's arena.
 */
#include "http/http_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- listen addresses ------------------------------------------------------------------- */

static int parse_port(const char *s, uint16_t *ret, const char **ret_err)
{
	if (!*s) {
		*ret_err = "missing port after ':' (use ADDR:PORT, e.g. 127.0.0.1:8080)";
		return -EINVAL;
	}
	unsigned long v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9') {
			*ret_err = "the port must be a decimal number from 0 to 65535";
			return -EINVAL;
		}
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535) {
			*ret_err = "the port must be a decimal number from 0 to 65535";
			return -EINVAL;
		}
	}
	*ret = (uint16_t)v;
	return 0;
}

int http_addr_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len,
		    const char **ret_err)
{
	if (!s || !*s) {
		*ret_err = "empty listen address (use ADDR:PORT, e.g. 127.0.0.1:8080)";
		return -EINVAL;
	}
	char host[64];
	const char *port;
	bool v6 = false;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end) {
			*ret_err = "unterminated '[' in an IPv6 address (use [ADDR]:PORT, e.g. "
				   "[::1]:8080)";
			return -EINVAL;
		}
		size_t n = (size_t)(end - s - 1);
		if (n == 0 || n >= sizeof(host)) {
			*ret_err = "not an IPv6 address between '[' and ']'";
			return -EINVAL;
		}
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (end[1] != ':') {
			*ret_err = "missing ':PORT' after the IPv6 address (use [ADDR]:PORT)";
			return -EINVAL;
		}
		port = end + 2;
		v6 = true;
	} else {
		const char *colon = strrchr(s, ':');
		if (!colon) {
			*ret_err = "missing ':PORT' (use ADDR:PORT, e.g. 127.0.0.1:8080)";
			return -EINVAL;
		}
		size_t n = (size_t)(colon - s);
		if (memchr(s, ':', n)) {
			*ret_err = "an IPv6 address must be in brackets (e.g. [::1]:8080)";
			return -EINVAL;
		}
		if (n == 0 || n >= sizeof(host)) {
			*ret_err = "missing address before ':PORT' (use 127.0.0.1 for this machine "
				   "only, 0.0.0.0 for every interface)";
			return -EINVAL;
		}
		memcpy(host, s, n);
		host[n] = '\0';
		port = colon + 1;
	}
	uint16_t p;
	int r = parse_port(port, &p, ret_err);
	if (r < 0)
		return r;

	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (v6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
		if (strchr(host, '%')) {
			*ret_err = "IPv6 zone indexes (%IFACE) are not supported";
			return -EINVAL;
		}
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
			*ret_err = "not an IPv6 address between '[' and ']'";
			return -EINVAL;
		}
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(p);
		*ret_len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
		if (strcmp(host, "localhost") == 0) {
			a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		} else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
			*ret_err = "not an IPv4 address (give a literal address such as 127.0.0.1 "
				   "or 0.0.0.0, or [::1] for IPv6; host names are not resolved)";
			return -EINVAL;
		}
		a4->sin_family = AF_INET;
		a4->sin_port = htons(p);
		*ret_len = sizeof(*a4);
	}
	*ret = ss;
	return 0;
}

char *http_addr_format(const struct sockaddr *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, (unsigned)ntohs(a4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%u", host, (unsigned)ntohs(a6->sin6_port));
	} else {
		snprintf(buf, size, "?");
	}
	return buf;
}

/* ---- percent decoding ------------------------------------------------------------------- */

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

int http_pct_decode(const char *s, size_t n, bool plus_is_space, char *out, size_t *ret_len)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (n - i < 3)
				return -EINVAL;
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			out[o++] = ' ';
		} else {
			out[o++] = c;
		}
	}
	*ret_len = o;
	return 0;
}

size_t http_pct_encode(const char *s, size_t n, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return o;
}

/* ---- query strings and cookies ---------------------------------------------------------- */

/* Decode [s, s+n) into a new arena string; -EINVAL if malformed or it holds a NUL byte. */
static int decode_dup(struct arena *a, const char *s, size_t n, char **ret)
{
	char *out = arena_alloc(a, n + 1);
	size_t len;
	if (http_pct_decode(s, n, true, out, &len) < 0 || memchr(out, '\0', len))
		return -EINVAL;
	out[len] = '\0';
	*ret = out;
	return 0;
}

int http_query_parse(const char *q, struct arena *a, struct http_kv **ret, size_t *ret_n,
		     const char **ret_err)
{
	size_t pairs = 0;
	if (!q)
		q = "";
	for (const char *p = q; *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len > 0)
			pairs++;
		if (!amp)
			break;
		p = amp + 1;
	}
	if (pairs > HTTP_MAX_QUERY_PARAMS) {
		*ret_err = "too many query parameters (at most 100)";
		return -EINVAL;
	}
	struct http_kv *kv = pairs ? arena_calloc(a, pairs, sizeof(*kv)) : NULL;
	size_t n = 0;
	for (const char *p = q; *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len > 0) {
			const char *eq = memchr(p, '=', len);
			size_t klen = eq ? (size_t)(eq - p) : len;
			char *k, *v;
			if (klen == 0) {
				*ret_err = "a query parameter has an empty name";
				return -EINVAL;
			}
			if (decode_dup(a, p, klen, &k) < 0 ||
			    decode_dup(a, eq ? eq + 1 : p + len, eq ? len - klen - 1 : 0, &v) < 0) {
				*ret_err =
				    "malformed percent-encoding (or an encoded NUL byte) in the "
				    "query string";
				return -EINVAL;
			}
			kv[n].name = k;
			kv[n].value = v;
			n++;
		}
		if (!amp)
			break;
		p = amp + 1;
	}
	*ret = kv;
	*ret_n = n;
	return 0;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

void http_cookies_parse(const char *header, struct arena *a, struct http_kv **kv, size_t *n)
{
	if (!header)
		return;
	for (const char *p = header; *p;) {
		const char *semi = strchr(p, ';');
		const char *end = semi ? semi : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		if (eq) {
			const char *ns = p, *ne = eq, *vs = eq + 1, *ve = end;
			while (ns < ne && is_ows(*ns))
				ns++;
			while (ne > ns && is_ows(ne[-1]))
				ne--;
			while (vs < ve && is_ows(*vs))
				vs++;
			while (ve > vs && is_ows(ve[-1]))
				ve--;
			if (ve - vs >= 2 && *vs == '"' && ve[-1] == '"') {
				vs++;
				ve--;
			}
			if (ne > ns && *n < HTTP_MAX_COOKIES) {
				if (!*kv)
					*kv = arena_calloc(a, HTTP_MAX_COOKIES, sizeof(**kv));
				(*kv)[*n].name = arena_strndup(a, ns, (size_t)(ne - ns));
				(*kv)[*n].value = arena_strndup(a, vs, (size_t)(ve - vs));
				(*n)++;
			}
		}
		if (!semi)
			break;
		p = semi + 1;
	}
}

const char *http_kv_find_nth(const struct http_kv *kv, size_t n, const char *name, size_t idx)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].name, name) == 0 && idx-- == 0)
			return kv[i].value;
	return NULL;
}

const char *http_kv_find(const struct http_kv *kv, size_t n, const char *name)
{
	return http_kv_find_nth(kv, n, name, 0);
}

size_t http_kv_count(const struct http_kv *kv, size_t n, const char *name)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += strcmp(kv[i].name, name) == 0;
	return c;
}

const char *http_kv_find_ci(const struct http_kv *kv, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(kv[i].name, name) == 0)
			return kv[i].value;
	return NULL;
}

/* ---- entity tags and headers ------------------------------------------------------------ */

bool http_etag_match(const char *inm, const char *etag)
{
	if (!inm || !etag)
		return false;
	size_t elen = strlen(etag);
	/* The opaque part of our own tag, without quotes. */
	if (elen < 2 || etag[0] != '"' || etag[elen - 1] != '"')
		return false;
	const char *eo = etag + 1;
	size_t eolen = elen - 2;
	const char *p = inm;
	while (is_ows(*p))
		p++;
	if (*p == '*') {
		p++;
		while (is_ows(*p))
			p++;
		return *p == '\0';
	}
	for (;;) {
		while (is_ows(*p) || *p == ',')
			p++;
		if (!*p)
			return false;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (*p != '"')
			return false;
		const char *close = strchr(p + 1, '"');
		if (!close)
			return false;
		size_t len = (size_t)(close - p - 1);
		if (len == eolen && memcmp(p + 1, eo, len) == 0)
			return true;
		p = close + 1;
		while (is_ows(*p))
			p++;
		if (*p && *p != ',')
			return false;
	}
}

bool http_token_valid(const char *s)
{
	if (!s || !*s)
		return false;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (!strchr("!#$%&'*+-.^_`|~", c))
			return false;
	}
	return true;
}

bool http_header_value_valid(const char *s)
{
	if (!s)
		return false;
	size_t n = strlen(s);
	if (n && (is_ows(s[0]) || is_ows(s[n - 1])))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 && c != '\t')
			return false;
		if (c == 0x7f)
			return false;
	}
	return true;
}
