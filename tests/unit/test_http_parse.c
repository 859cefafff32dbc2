/* Unit tests for http/http_parse: listen addresses, percent decoding, query strings, cookies,
 * entity tags and header syntax. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include "http/http_parse.h"
#include "test.h"

static char *addr_ok(const char *s, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	const char *err = NULL;
	if (http_addr_parse(s, &ss, &len, &err) != 0)
		test_fail(__FILE__, __LINE__, "http_addr_parse(\"%s\") failed: %s", s, err);
	if (len !=
	    (ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)))
		test_fail(__FILE__, __LINE__, "http_addr_parse(\"%s\"): length %u", s,
			  (unsigned)len);
	return http_addr_format((struct sockaddr *)&ss, buf, size);
}

static const char *addr_err(const char *s)
{
	struct sockaddr_storage ss;
	ss.ss_family = 12345;
	socklen_t len = 77;
	const char *err = NULL;
	if (http_addr_parse(s, &ss, &len, &err) != -EINVAL || !err)
		test_fail(__FILE__, __LINE__, "http_addr_parse(\"%s\") should fail", s);
	if (ss.ss_family != 12345 || len != 77)
		test_fail(__FILE__, __LINE__, "http_addr_parse(\"%s\") touched its output", s);
	return err;
}

TEST(http_addr_parse_forms)
{
	char b[64];
	ASSERT_STR_EQ(addr_ok("127.0.0.1:8080", b, sizeof(b)), "127.0.0.1:8080");
	ASSERT_STR_EQ(addr_ok("0.0.0.0:80", b, sizeof(b)), "0.0.0.0:80");
	ASSERT_STR_EQ(addr_ok("localhost:9", b, sizeof(b)), "127.0.0.1:9");
	ASSERT_STR_EQ(addr_ok("127.0.0.1:0", b, sizeof(b)), "127.0.0.1:0");
	ASSERT_STR_EQ(addr_ok("127.0.0.1:65535", b, sizeof(b)), "127.0.0.1:65535");
	ASSERT_STR_EQ(addr_ok("[::1]:8080", b, sizeof(b)), "[::1]:8080");
	ASSERT_STR_EQ(addr_ok("[::]:0", b, sizeof(b)), "[::]:0");
	ASSERT_STR_EQ(addr_ok("[2001:db8::1]:443", b, sizeof(b)), "[2001:db8::1]:443");
	ASSERT_STR_EQ(addr_ok(HTTP_DEFAULT_LISTEN, b, sizeof(b)), "127.0.0.1:8080");
}

TEST(http_addr_parse_errors)
{
	ASSERT_STR_CONTAINS(addr_err(""), "empty");
	ASSERT_STR_CONTAINS(addr_err(NULL), "empty");
	ASSERT_STR_CONTAINS(addr_err("127.0.0.1"), "missing ':PORT'");
	ASSERT_STR_CONTAINS(addr_err("127.0.0.1:"), "missing port");
	ASSERT_STR_CONTAINS(addr_err(":8080"), "missing address");
	ASSERT_STR_CONTAINS(addr_err("127.0.0.1:65536"), "0 to 65535");
	ASSERT_STR_CONTAINS(addr_err("127.0.0.1:99999999999999999999"), "0 to 65535");
	ASSERT_STR_CONTAINS(addr_err("127.0.0.1:-1"), "decimal");
	ASSERT_STR_CONTAINS(addr_err("127.0.0.1:+80"), "decimal");
	ASSERT_STR_CONTAINS(addr_err("127.0.0.1: 80"), "decimal");
	ASSERT_STR_CONTAINS(addr_err("127.0.0.1:80x"), "decimal");
	ASSERT_STR_CONTAINS(addr_err("example.com:80"), "host names are not resolved");
	ASSERT_STR_CONTAINS(addr_err("256.0.0.1:80"), "not an IPv4");
	ASSERT_STR_CONTAINS(addr_err("::1:8080"), "brackets");
	ASSERT_STR_CONTAINS(addr_err("[::1]8080"), "missing ':PORT'");
	ASSERT_STR_CONTAINS(addr_err("[::1"), "unterminated");
	ASSERT_STR_CONTAINS(addr_err("[]:80"), "not an IPv6");
	ASSERT_STR_CONTAINS(addr_err("[1.2.3.4]:80"), "not an IPv6");
	ASSERT_STR_CONTAINS(addr_err("[fe80::1%eth0]:80"), "zone");
	ASSERT_STR_CONTAINS(addr_err("[::1]:"), "missing port");
}

static const char *dec(const char *s, bool plus, size_t *ret_len)
{
	static char out[256];
	size_t n = 0;
	if (http_pct_decode(s, strlen(s), plus, out, &n) != 0)
		return NULL;
	out[n] = '\0';
	if (ret_len)
		*ret_len = n;
	return out;
}

TEST(http_pct_decode_cases)
{
	size_t n;
	ASSERT_STR_EQ(dec("abc", false, NULL), "abc");
	ASSERT_STR_EQ(dec("a%20b", false, NULL), "a b");
	ASSERT_STR_EQ(dec("%2e%2E", false, NULL), "..");
	ASSERT_STR_EQ(dec("%2F", false, NULL), "/");
	ASSERT_STR_EQ(dec("%252e", false, NULL), "%2e"); /* once, never twice */
	ASSERT_STR_EQ(dec("a+b", false, NULL), "a+b");
	ASSERT_STR_EQ(dec("a+b", true, NULL), "a b");
	ASSERT_STR_EQ(dec("%e2%82%ac", false, NULL), "\xe2\x82\xac");
	ASSERT(dec("a%00b", false, &n) != NULL);
	ASSERT_INT_EQ(n, 3); /* the NUL is kept: callers decide */
	ASSERT(dec("%", false, NULL) == NULL);
	ASSERT(dec("%2", false, NULL) == NULL);
	ASSERT(dec("%zz", false, NULL) == NULL);
	ASSERT(dec("%2g", false, NULL) == NULL);
	ASSERT(dec("abc%", false, NULL) == NULL);
	ASSERT(dec("%%41", false, NULL) == NULL);
	ASSERT_STR_EQ(dec("", false, &n), "");
	ASSERT_INT_EQ(n, 0);
}

TEST(http_pct_encode_round_trip)
{
	const char samples[][16] = {"",	 "abc",		 "a b",	    "..",  "/",
				    "%", "\x01\x7f\xff", "a+b=c&d", "~_-."};
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		char enc[64];
		size_t len = http_pct_encode(samples[i], strlen(samples[i]), enc);
		ASSERT_INT_EQ(len, strlen(enc));
		ASSERT(strchr(enc, '/') == NULL && strchr(enc, '+') == NULL);
		ASSERT_STR_EQ(dec(enc, false, NULL), samples[i]);
	}
	char enc[16];
	http_pct_encode("a/b c", 5, enc);
	ASSERT_STR_EQ(enc, "a%2Fb%20c");
}

struct q {
	struct arena a;
	struct http_kv *kv;
	size_t n;
	const char *err;
	int r;
};

static struct q *qparse(struct q *q, const char *s)
{
	arena_init(&q->a);
	q->kv = (struct http_kv *)1;
	q->n = 999;
	q->err = NULL;
	q->r = http_query_parse(s, &q->a, &q->kv, &q->n, &q->err);
	return q;
}

TEST(http_query_parse_cases)
{
	struct q q;
	qparse(&q, "a=1&b=x+y&a=2&flag&c=%26%3D&e=");
	ASSERT_INT_EQ(q.r, 0);
	ASSERT_INT_EQ(q.n, 6);
	ASSERT_STR_EQ(http_kv_find(q.kv, q.n, "a"), "1");
	ASSERT_STR_EQ(http_kv_find_nth(q.kv, q.n, "a", 1), "2");
	ASSERT(http_kv_find_nth(q.kv, q.n, "a", 2) == NULL);
	ASSERT_INT_EQ(http_kv_count(q.kv, q.n, "a"), 2);
	ASSERT_STR_EQ(http_kv_find(q.kv, q.n, "b"), "x y");
	ASSERT_STR_EQ(http_kv_find(q.kv, q.n, "flag"), "");
	ASSERT_STR_EQ(http_kv_find(q.kv, q.n, "c"), "&=");
	ASSERT_STR_EQ(http_kv_find(q.kv, q.n, "e"), "");
	ASSERT(http_kv_find(q.kv, q.n, "A") == NULL); /* keys are case-sensitive */
	ASSERT(http_kv_find(q.kv, q.n, "missing") == NULL);
	ASSERT_STR_EQ(q.kv[0].name, "a");
	ASSERT_STR_EQ(q.kv[3].name, "flag"); /* in order */
	arena_free(&q.a);

	/* Empty pieces are skipped; a value may hold '='. */
	qparse(&q, "&&a=1&&b==2&");
	ASSERT_INT_EQ(q.r, 0);
	ASSERT_INT_EQ(q.n, 2);
	ASSERT_STR_EQ(http_kv_find(q.kv, q.n, "b"), "=2");
	arena_free(&q.a);

	qparse(&q, "");
	ASSERT_INT_EQ(q.r, 0);
	ASSERT_INT_EQ(q.n, 0);
	arena_free(&q.a);
	qparse(&q, NULL);
	ASSERT_INT_EQ(q.n, 0);
	arena_free(&q.a);

	/* Encoded keys decode too. */
	qparse(&q, "ta%67=x&%74ag=y");
	ASSERT_INT_EQ(q.n, 2);
	ASSERT_INT_EQ(http_kv_count(q.kv, q.n, "tag"), 2);
	arena_free(&q.a);
}

TEST(http_query_parse_errors)
{
	const char *bad[] = {"a=%zz", "a=%", "%=1", "a=1&b=%0", "a=%00", "%00=1", "=1", "a=1&=2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct q q;
		qparse(&q, bad[i]);
		if (q.r != -EINVAL || !q.err || q.n != 999 || q.kv != (struct http_kv *)1)
			test_fail(__FILE__, __LINE__, "query \"%s\" should fail cleanly", bad[i]);
		arena_free(&q.a);
	}
	/* The count is capped. */
	char big[2048] = "";
	for (int i = 0; i < 101; i++)
		memcpy(big + 4 * i, "k=v&", 5);
	struct q q;
	qparse(&q, big);
	ASSERT_INT_EQ(q.r, -EINVAL);
	ASSERT_STR_CONTAINS(q.err, "too many");
	arena_free(&q.a);
	big[strlen(big) - 4] = '\0'; /* 100 pairs: fine */
	qparse(&q, big);
	ASSERT_INT_EQ(q.r, 0);
	ASSERT_INT_EQ(q.n, 100);
	arena_free(&q.a);
}

TEST(http_cookies_parse_cases)
{
	struct arena a;
	arena_init(&a);
	struct http_kv *kv = NULL;
	size_t n = 0;
	http_cookies_parse("session=abc; csrf=\"x y\";  theme = dark ;novalue; =skip; e=", &a, &kv,
			   &n);
	http_cookies_parse("second=2", &a, &kv, &n); /* a second Cookie header appends */
	ASSERT_INT_EQ(n, 5);
	ASSERT_STR_EQ(http_kv_find(kv, n, "session"), "abc");
	ASSERT_STR_EQ(http_kv_find(kv, n, "csrf"), "x y");
	ASSERT_STR_EQ(http_kv_find(kv, n, "theme"), "dark");
	ASSERT_STR_EQ(http_kv_find(kv, n, "e"), "");
	ASSERT_STR_EQ(http_kv_find(kv, n, "second"), "2");
	ASSERT(http_kv_find(kv, n, "novalue") == NULL);
	ASSERT(http_kv_find(kv, n, "Session") == NULL);
	/* At most HTTP_MAX_COOKIES are kept. */
	char big[4096] = "";
	for (int i = 0; i < 80; i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), "c%d=%d; ", i, i);
	http_cookies_parse(big, &a, &kv, &n);
	ASSERT_INT_EQ(n, HTTP_MAX_COOKIES);
	http_cookies_parse(NULL, &a, &kv, &n);
	arena_free(&a);
}

TEST(http_kv_find_ci_headers)
{
	struct http_kv h[] = {{"Content-Type", "text/plain"}, {"X-A", "1"}, {"x-a", "2"}};
	ASSERT_STR_EQ(http_kv_find_ci(h, 3, "content-type"), "text/plain");
	ASSERT_STR_EQ(http_kv_find_ci(h, 3, "X-a"), "1");
	ASSERT(http_kv_find_ci(h, 3, "X-B") == NULL);
}

TEST(http_etag_match_cases)
{
	const char *t = "\"abc\"";
	ASSERT(http_etag_match("\"abc\"", t));
	ASSERT(http_etag_match("W/\"abc\"", t)); /* weak comparison for If-None-Match */
	ASSERT(http_etag_match("\"x\", \"abc\"", t));
	ASSERT(http_etag_match("  \"x\" ,W/\"abc\"  ", t));
	ASSERT(http_etag_match("*", t));
	ASSERT(http_etag_match(" * ", t));
	ASSERT(!http_etag_match("\"abcd\"", t));
	ASSERT(!http_etag_match("\"ab\"", t));
	ASSERT(!http_etag_match("abc", t));
	ASSERT(!http_etag_match("\"abc", t));
	ASSERT(!http_etag_match("", t));
	ASSERT(!http_etag_match(NULL, t));
	ASSERT(!http_etag_match("*, \"abc\"", t));
	ASSERT(!http_etag_match("\"x\" junk, \"abc\"", t));
	ASSERT(!http_etag_match("\"abc\"", "abc")); /* our tag must be quoted */
}

TEST(http_header_syntax)
{
	ASSERT(http_token_valid("X-Request-Id"));
	ASSERT(http_token_valid("GET"));
	ASSERT(!http_token_valid(""));
	ASSERT(!http_token_valid("Bad Header"));
	ASSERT(!http_token_valid("Bad:Header"));
	ASSERT(!http_token_valid("Bad\r\nX: y"));
	ASSERT(http_header_value_valid(""));
	ASSERT(http_header_value_valid("text/plain; charset=utf-8"));
	ASSERT(http_header_value_valid("caf\xc3\xa9"));
	ASSERT(!http_header_value_valid("a\r\nSet-Cookie: x=1"));
	ASSERT(!http_header_value_valid("a\nb"));
	ASSERT(!http_header_value_valid(" lead"));
	ASSERT(!http_header_value_valid("trail "));
	ASSERT(!http_header_value_valid("del\x7f"));
	ASSERT(!http_header_value_valid(NULL));
}
