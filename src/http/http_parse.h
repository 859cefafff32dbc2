/*
 * http_parse.h - the pure text handling under the HTTP transport: listen addresses, percent
 * decoding, query strings, cookies, entity tags, header syntax.
 *
 * No I/O and no global state, so every function here is unit-tested and fuzzed on its own
 * (tests/unit/test_http_parse.c, tests/fuzz/fuzz_http_route.c). Strings that a function hands
 * out are carved from the caller's arena and live as long as it does; nothing is malloc'd
 * behind the caller's back. Errors are a negative errno with a static English sentence in
 * *ret_err (duration.h's convention); output parameters are untouched on failure.
 */
#ifndef GUST_HTTP_PARSE_H
#define GUST_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/arena.h"

/* ---- listen addresses ------------------------------------------------------------------- */

/* The address `gust server` listens on when told nothing: loopback only. */
#define HTTP_DEFAULT_LISTEN "127.0.0.1:8080"

/*
 * "ADDR:PORT": ADDR is a literal IPv4 address ("127.0.0.1", "0.0.0.0" for every interface), a
 * bracketed IPv6 address ("[::1]", "[::]") or "localhost" (127.0.0.1); PORT is 0-65535 in
 * decimal, 0 asking the kernel for a free port. Host names other than localhost are refused
 * (binding never waits on DNS), as are IPv6 zone indexes, signs, spaces and a missing port.
 * *ret is a sockaddr_in or sockaddr_in6 in network order, *ret_len its size.
 */
int http_addr_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len,
		    const char **ret_err);
/* "127.0.0.1:8080" or "[::1]:8080" for a sockaddr_in or sockaddr_in6 (else "?"). Returns buf;
 * 64 bytes are always enough. */
char *http_addr_format(const struct sockaddr *sa, char *buf, size_t size);

/* ---- percent decoding ------------------------------------------------------------------- */

/*
 * Decode n bytes of s into out (which must hold n bytes: decoding never lengthens). "%HH" with
 * two hex digits becomes that byte; with plus_is_space (query strings) '+' becomes ' '. Any
 * other '%' is malformed: -EINVAL. The result is not terminated and may contain NUL bytes
 * (from "%00"): callers that want C strings check *ret_len against strlen().
 */
int http_pct_decode(const char *s, size_t n, bool plus_is_space, char *out, size_t *ret_len);
/* Append s percent-encoded so that it decodes back to itself and contains only unreserved
 * characters (RFC 3986: A-Z a-z 0-9 - . _ ~) and "%HH". out must hold 3 * n + 1 bytes; returns
 * the length written (out is NUL-terminated). */
size_t http_pct_encode(const char *s, size_t n, char *out);

/* ---- query strings and cookies ---------------------------------------------------------- */

struct http_kv {
	const char *name, *value; /* NUL-terminated, never NULL */
};

/* A request may carry at most this many query parameters and cookies. */
#define HTTP_MAX_QUERY_PARAMS 100
#define HTTP_MAX_COOKIES 50

/*
 * Parse "a=1&b=x+y&a=2&flag" (without the '?'): pairs separated by '&', each decoded with '+'
 * as space; a pair without '=' has the value ""; empty pairs ("a=1&&b=2", a trailing '&') are
 * skipped; repeated keys are kept in order. Malformed percent-encoding, a key or value that
 * decodes to a NUL byte, an empty key ("=1") or more than HTTP_MAX_QUERY_PARAMS pairs:
 * -EINVAL. NULL or "" is an empty list.
 */
int http_query_parse(const char *q, struct arena *a, struct http_kv **ret, size_t *ret_n,
		     const char **ret_err);

/*
 * Parse one Cookie request header ("a=1; b=2"), appending to *kv (an arena array of capacity
 * HTTP_MAX_COOKIES, allocated on first use) and *n. Lenient as browsers are (RFC 6265 5.4):
 * a pair without '=' or with an empty name is skipped, spaces around names and values are
 * trimmed, a value in double quotes loses them; values are not percent-decoded. Pairs beyond
 * the cap are dropped.
 */
void http_cookies_parse(const char *header, struct arena *a, struct http_kv **kv, size_t *n);

/* First value for `name` (case-sensitive, as query keys and cookie names are), or NULL.
 * http_kv_find_nth: the idx-th (0-based) value of a repeated key. */
const char *http_kv_find(const struct http_kv *kv, size_t n, const char *name);
const char *http_kv_find_nth(const struct http_kv *kv, size_t n, const char *name, size_t idx);
size_t http_kv_count(const struct http_kv *kv, size_t n, const char *name);
/* Header names compare case-insensitively. */
const char *http_kv_find_ci(const struct http_kv *kv, size_t n, const char *name);

/* ---- entity tags and headers ------------------------------------------------------------ */

/*
 * Does an If-None-Match header value match the strong tag `etag` (with its quotes, '"abc"')?
 * "*" matches; otherwise a comma-separated list of tags is compared with the weak comparison
 * RFC 9110 13.1.2 prescribes for this header (a W/ prefix is ignored). A malformed list
 * matches nothing.
 */
bool http_etag_match(const char *if_none_match, const char *etag);

/* An RFC 9110 token (header names, methods): 1+ of ! # $ % & ' * + - . ^ _ ` | ~ DIGIT ALPHA. */
bool http_token_valid(const char *s);
/* A header value we may send: visible ASCII, space, tab, bytes >= 0x80; no CR, LF or NUL
 * (response splitting) and no leading or trailing white space. */
bool http_header_value_valid(const char *s);

#endif
