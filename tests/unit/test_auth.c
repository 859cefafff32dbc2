/*
 * test_auth.c - src/auth: base62 and the storage hash, passwords, tokens, sessions and CSRF,
 * roles, the failed-login limiter (on a fake clock), the key file and secrets at rest, log
 * masking (against a brute-force reference).
 *
 * Password hashing runs at auth_pwcost_testonly() except in one test of the real default cost
 * (auth_password_default_cost, about a quarter of a second).
 */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/core.h"
#include "auth/mask.h"
#include "auth/password.h"
#include "auth/ratelimit.h"
#include "auth/role.h"
#include "auth/secretbox.h"
#include "auth/token.h"
#include "base/buf.h"
#include "base/fsutil.h"
#include "base/util.h"

static char *tmp_dir(void)
{
	char *d = xstrdup("/tmp/gust-auth-XXXXXX");
	if (!mkdtemp(d))
		test_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
	return d;
}

static double now_s(void)
{
	return (double)mono_us() / 1e6;
}

/* --- core ---------------------------------------------------------------------------------- */

TEST(auth_b62_round_trip_fixed_width)
{
	uint8_t in[AUTH_SECRET_BYTES], out[AUTH_SECRET_BYTES];
	char t[AUTH_B62_LEN + 1];

	memset(in, 0, sizeof(in));
	auth_b62_encode(in, t);
	ASSERT_STR_EQ(t, "0000000000000000000000000000000000000000000");

	in[31] = 61;
	auth_b62_encode(in, t);
	ASSERT_STR_EQ(t, "000000000000000000000000000000000000000000z");
	in[31] = 62;
	auth_b62_encode(in, t);
	ASSERT_STR_EQ(t, "0000000000000000000000000000000000000000010");

	memset(in, 0xff, sizeof(in)); /* 2^256 - 1: the largest value */
	auth_b62_encode(in, t);
	ASSERT_INT_EQ(strlen(t), AUTH_B62_LEN);
	ASSERT_INT_EQ(auth_b62_decode(t, strlen(t), out), 0);
	ASSERT(memcmp(in, out, sizeof(in)) == 0);

	for (int i = 0; i < 200; i++) {
		randombytes_buf(in, sizeof(in));
		auth_b62_encode(in, t);
		ASSERT_INT_EQ(strlen(t), AUTH_B62_LEN);
		ASSERT(auth_b62_wellformed(t, AUTH_B62_LEN));
		memset(out, 0, sizeof(out));
		ASSERT_INT_EQ(auth_b62_decode(t, AUTH_B62_LEN, out), 0);
		ASSERT(memcmp(in, out, sizeof(in)) == 0);
	}
}

TEST(auth_b62_decode_rejects)
{
	uint8_t out[AUTH_SECRET_BYTES], keep[AUTH_SECRET_BYTES];
	memset(out, 0xa5, sizeof(out));
	memcpy(keep, out, sizeof(out));
	char t[AUTH_B62_LEN + 2];
	memset(t, '0', sizeof(t));
	t[AUTH_B62_LEN + 1] = '\0';
	ASSERT_INT_EQ(auth_b62_decode(t, AUTH_B62_LEN + 1, out), -EINVAL); /* too long */
	ASSERT_INT_EQ(auth_b62_decode(t, AUTH_B62_LEN - 1, out), -EINVAL); /* too short */
	t[10] = '-';
	ASSERT_INT_EQ(auth_b62_decode(t, AUTH_B62_LEN, out), -EINVAL); /* not base62 */
	ASSERT(!auth_b62_wellformed(t, AUTH_B62_LEN));
	t[10] = '\0';
	ASSERT_INT_EQ(auth_b62_decode(t, AUTH_B62_LEN, out), -EINVAL);
	/* 43 'z's is 62^43 - 1 > 2^256: does not fit. */
	memset(t, 'z', AUTH_B62_LEN);
	ASSERT(auth_b62_wellformed(t, AUTH_B62_LEN));
	ASSERT_INT_EQ(auth_b62_decode(t, AUTH_B62_LEN, out), -EINVAL);
	/* 2^256 itself: one more than the encoding of 32 bytes of 0xff. */
	uint8_t ff[AUTH_SECRET_BYTES];
	memset(ff, 0xff, sizeof(ff));
	auth_b62_encode(ff, t);
	char *last = &t[AUTH_B62_LEN - 1];
	*last = *last == '9' ? 'A' : *last == 'Z' ? 'a' : (char)(*last + 1);
	ASSERT_INT_EQ(auth_b62_decode(t, AUTH_B62_LEN, out), -EINVAL);
	ASSERT(memcmp(out, keep, sizeof(out)) == 0); /* untouched on failure */
}

TEST(auth_equal_is_sodium_memcmp)
{
	ASSERT(auth_equal("abcd", 4, "abcd", 4));
	ASSERT(!auth_equal("abcd", 4, "abce", 4));
	ASSERT(!auth_equal("abcd", 4, "bbcd", 4));
	ASSERT(!auth_equal("abcd", 4, "abc", 3));
	ASSERT(auth_equal("", 0, "", 0));
	ASSERT(auth_equal("a\0b", 3, "a\0b", 3));
	ASSERT(!auth_equal("a\0b", 3, "a\0c", 3));
}

TEST(auth_hash_hex_blake2b_256_vectors)
{
	char h[AUTH_HASH_HEX_LEN + 1];
	auth_hash_hex("", 0, h);
	ASSERT_STR_EQ(h, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
	auth_hash_hex("abc", 3, h);
	ASSERT_STR_EQ(h, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
}

/* --- passwords ----------------------------------------------------------------------------- */

static int pw_check(const char *pw, size_t len, size_t min, char **msg)
{
	*msg = NULL;
	return auth_password_check(pw, len, min, msg);
}

TEST(auth_password_policy)
{
	char *msg = NULL;
	ASSERT_INT_EQ(pw_check("correct horse", 13, 0, &msg), 0);
	ASSERT(msg == NULL);
	ASSERT_INT_EQ(pw_check("123456789012", 12, 0, &msg), 0); /* exactly 12 */

	ASSERT_INT_EQ(pw_check("12345678901", 11, 0, &msg), -EINVAL);
	ASSERT_STR_EQ(msg, "the password is 11 characters long; at least 12 are needed");
	free(msg);
	ASSERT_INT_EQ(pw_check("", 0, 0, &msg), -EINVAL);
	free(msg);
	ASSERT_INT_EQ(pw_check("x", 1, 0, &msg), -EINVAL);
	ASSERT_STR_EQ(msg, "the password is 1 character long; at least 12 are needed");
	free(msg);

	/* Characters, not bytes: 12 two-byte characters pass, 11 fail although 22 bytes. */
	const char *e12 = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			  "\xc3\xa9\xc3\xa9\xc3\xa9";
	ASSERT_INT_EQ(pw_check(e12, 24, 0, &msg), 0);
	ASSERT_INT_EQ(pw_check(e12, 22, 0, &msg), -EINVAL);
	ASSERT_STR_CONTAINS(msg, "11 characters");
	free(msg);

	/* A configured minimum. */
	ASSERT_INT_EQ(pw_check("correct horse", 13, 20, &msg), -EINVAL);
	ASSERT_STR_CONTAINS(msg, "at least 20");
	free(msg);
	ASSERT_INT_EQ(pw_check("1234", 4, 4, &msg), 0);

	/* NUL, invalid UTF-8: truncated, stray continuation, overlong, surrogate, > U+10FFFF. */
	ASSERT_INT_EQ(pw_check("correct\0horse battery", 21, 0, &msg), -EINVAL);
	ASSERT_STR_EQ(msg, "the password contains a NUL byte");
	free(msg);
	const char *bad[] = {"correct horse \xc3",
			     "correct horse \x80",
			     "correct horse \xc0\xaf",
			     "correct horse \xed\xa0\x80",
			     "correct horse \xf4\x90\x80\x80",
			     "correct horse \xff"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ASSERT_INT_EQ(pw_check(bad[i], strlen(bad[i]), 0, &msg), -EINVAL);
		ASSERT_STR_EQ(msg, "the password is not valid UTF-8");
		free(msg);
	}
	/* Four-byte characters are fine. */
	ASSERT_INT_EQ(pw_check("correct horse \xf0\x9f\x90\xb4", 18, 0, &msg), 0);
}

TEST(auth_password_overlong_refused_without_hashing)
{
	size_t big = 1024 * 1024;
	char *pw = xmalloc(big);
	memset(pw, 'a', big);
	char *msg = NULL;
	ASSERT_INT_EQ(pw_check(pw, AUTH_PASSWORD_MAX, 0, &msg), 0);
	ASSERT_INT_EQ(pw_check(pw, AUTH_PASSWORD_MAX + 1, 0, &msg), -E2BIG);
	ASSERT_STR_EQ(msg, "the password is longer than 1024 bytes");
	free(msg);
	char hash[AUTH_PWHASH_MAX];
	ASSERT_INT_EQ(auth_password_hash(pw, big, hash), -E2BIG);
	ASSERT_INT_EQ(auth_password_hash(pw, AUTH_PASSWORD_MAX + 1, hash), -E2BIG);

	/* Verifying a 1 MB password against a default-cost hash answers at once. */
	struct auth_pwcost c = auth_pwcost_testonly();
	ASSERT_INT_EQ(auth_password_hash_cost(pw, AUTH_PASSWORD_MAX, &c, hash), 0);
	double t0 = now_s();
	ASSERT_INT_EQ(auth_password_verify(hash, pw, big), -EACCES);
	ASSERT_INT_EQ(auth_password_verify_none(pw, big), -EACCES);
	ASSERT(now_s() - t0 < 0.05);
	ASSERT_INT_EQ(auth_password_verify(hash, pw, AUTH_PASSWORD_MAX), 0);
	free(pw);
}

TEST(auth_password_hash_and_verify)
{
	struct auth_pwcost c = auth_pwcost_testonly();
	char h1[AUTH_PWHASH_MAX], h2[AUTH_PWHASH_MAX];
	const char *pw = "correct horse battery staple";
	ASSERT_INT_EQ(auth_password_hash_cost(pw, strlen(pw), &c, h1), 0);
	ASSERT_INT_EQ(auth_password_hash_cost(pw, strlen(pw), &c, h2), 0);
	ASSERT(str_has_prefix(h1, "$argon2id$v=19$m=8,t=1,p=1$"));
	ASSERT(strcmp(h1, h2) != 0); /* a new salt each time */
	ASSERT(!strstr(h1, pw));

	ASSERT_INT_EQ(auth_password_verify(h1, pw, strlen(pw)), 0);
	ASSERT_INT_EQ(auth_password_verify(h2, pw, strlen(pw)), 0);
	ASSERT_INT_EQ(auth_password_verify(h1, "correct horse battery stapl", 27), -EACCES);
	ASSERT_INT_EQ(auth_password_verify(h1, "Correct horse battery staple", 28), -EACCES);
	ASSERT_INT_EQ(auth_password_verify(h1, "", 0), -EACCES);
	/* A NUL cannot cut a password short: "pw\0anything" is not "pw". */
	char withnul[64];
	memcpy(withnul, pw, strlen(pw));
	memcpy(withnul + strlen(pw), "\0xyz", 4);
	ASSERT_INT_EQ(auth_password_verify(h1, withnul, strlen(pw) + 4), -EACCES);

	/* Hard limits on hashing. */
	ASSERT_INT_EQ(auth_password_hash_cost("", 0, &c, h1), -EINVAL);
	ASSERT_INT_EQ(auth_password_hash_cost(withnul, strlen(pw) + 4, &c, h1), -EINVAL);
}

TEST(auth_password_verify_malformed_hash)
{
	const char *bad[] = {
	    "",
	    "correct horse",
	    "$argon2id$",
	    "$argon2id$v=19$m=8,t=1,p=1$garbage",
	    "$2b$12$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0",
	    "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCd"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ASSERT_INT_EQ(auth_password_verify(bad[i], "correct horse", 13), -EINVAL);
		ASSERT_INT_EQ(auth_password_needs_rehash(bad[i]), -EINVAL);
	}
	/* Longer than any hash, without a NUL within AUTH_PWHASH_MAX. */
	char longh[300];
	memset(longh, 'a', sizeof(longh) - 1);
	memcpy(longh, "$argon2id$", 10);
	longh[sizeof(longh) - 1] = '\0';
	ASSERT_INT_EQ(auth_password_verify(longh, "correct horse", 13), -EINVAL);
}

TEST(auth_password_needs_rehash)
{
	struct auth_pwcost test = auth_pwcost_testonly(), def = auth_pwcost_default();
	char h[AUTH_PWHASH_MAX];
	ASSERT_INT_EQ(auth_password_hash_cost("correct horse", 13, &test, h), 0);
	ASSERT_INT_EQ(auth_password_needs_rehash(h), 1);
	ASSERT_INT_EQ(auth_password_needs_rehash_cost(h, &def), 1);
	ASSERT_INT_EQ(auth_password_needs_rehash_cost(h, &test), 0);
	struct auth_pwcost more = {test.opslimit + 1, test.memlimit};
	ASSERT_INT_EQ(auth_password_needs_rehash_cost(h, &more), 1);

	/* argon2i (libsodium's older default) still verifies but asks for argon2id. */
	char hi[crypto_pwhash_STRBYTES];
	ASSERT_INT_EQ(
	    crypto_pwhash_str_alg(hi, "correct horse", 13, 3, 8192, crypto_pwhash_ALG_ARGON2I13),
	    0);
	ASSERT(str_has_prefix(hi, "$argon2i$"));
	ASSERT_INT_EQ(auth_password_verify(hi, "correct horse", 13), 0);
	struct auth_pwcost icost = {3, 8192};
	ASSERT_INT_EQ(auth_password_needs_rehash_cost(hi, &icost), 1);
}

TEST(auth_password_default_cost)
{
	/* The real cost, once: a hash, a verification, and one against no user. */
	char h[AUTH_PWHASH_MAX];
	const char *pw = "correct horse battery staple";
	double t0 = now_s();
	ASSERT_INT_EQ(auth_password_hash(pw, strlen(pw), h), 0);
	double t_hash = now_s() - t0;
	ASSERT(str_has_prefix(h, "$argon2id$v=19$m=65536,t=2,p=1$"));
	ASSERT_INT_EQ(auth_password_needs_rehash(h), 0);
	t0 = now_s();
	ASSERT_INT_EQ(auth_password_verify(h, pw, strlen(pw)), 0);
	double t_verify = now_s() - t0;
	t0 = now_s();
	ASSERT_INT_EQ(auth_password_verify_none(pw, strlen(pw)), -EACCES);
	double t_none = now_s() - t0;
	/* An unknown user costs a real verification, not nothing: 64 MiB of argon2id takes tens
	 * of milliseconds on any machine, the test cost a few microseconds. (No ratio to t_verify:
	 * other work on a shared machine skews either.) */
	ASSERT(t_none > 0.010);
	fprintf(stderr, "  argon2id default cost: hash %.0f ms, verify %.0f ms, none %.0f ms\n",
		t_hash * 1e3, t_verify * 1e3, t_none * 1e3);
}

static void *hash_thread(void *arg)
{
	struct auth_pwcost c = auth_pwcost_testonly();
	char h[AUTH_PWHASH_MAX];
	for (int i = 0; i < 20; i++) {
		if (auth_password_hash_cost("correct horse", 13, &c, h) != 0 ||
		    auth_password_verify(h, "correct horse", 13) != 0)
			return (void *)1;
	}
	return NULL;
}

TEST(auth_password_threads)
{
	pthread_t t[6];
	for (int i = 0; i < 6; i++)
		ASSERT_INT_EQ(pthread_create(&t[i], NULL, hash_thread, NULL), 0);
	for (int i = 0; i < 6; i++) {
		void *r;
		pthread_join(t[i], &r);
		ASSERT(r == NULL);
	}
}

/* --- tokens, sessions, CSRF ---------------------------------------------------------------- */

static bool is_b62(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

TEST(auth_token_format)
{
	struct auth_token t, u;
	ASSERT_INT_EQ(auth_token_new(&t), 0);
	ASSERT_INT_EQ(auth_token_new(&u), 0);
	ASSERT_INT_EQ(strlen(t.text), AUTH_TOKEN_LEN);
	ASSERT_INT_EQ(AUTH_TOKEN_LEN, 54);
	ASSERT(str_has_prefix(t.text, "gust_"));
	for (size_t i = 5; i < AUTH_TOKEN_LEN; i++)
		ASSERT(is_b62(t.text[i]));
	ASSERT(strcmp(t.text, u.text) != 0);
	ASSERT_INT_EQ(auth_token_check(t.text, AUTH_TOKEN_LEN, NULL), 0);

	/* The stored form: BLAKE2b-256 hex of the text; never the token, never contains it. */
	char h[AUTH_HASH_HEX_LEN + 1];
	auth_hash_hex(t.text, AUTH_TOKEN_LEN, h);
	ASSERT_STR_EQ(t.hash, h);
	ASSERT_INT_EQ(strlen(t.hash), 64);
	ASSERT(strcmp(t.hash, t.text) != 0);
	ASSERT(!strstr(t.hash, t.text + 5));
	ASSERT(strcmp(t.hash, u.hash) != 0);

	/* The display form: the first 13 characters. */
	ASSERT_INT_EQ(strlen(t.display), 13);
	ASSERT(strncmp(t.display, t.text, 13) == 0);
	char d[AUTH_TOKEN_DISPLAY_LEN + 1];
	auth_token_display("gust_ab", 7, d);
	ASSERT_STR_EQ(d, "gust_ab");

	auth_token_wipe(&t);
	ASSERT(sodium_is_zero((const unsigned char *)&t, sizeof(t)));
}

TEST(auth_token_known_bytes)
{
	uint8_t b[AUTH_SECRET_BYTES] = {0}, back[AUTH_SECRET_BYTES];
	struct auth_token t;
	auth_token_from_bytes(b, &t);
	ASSERT(str_has_prefix(t.text, "gust_0000000000000000000000000000000000000000000"));
	/* CRC-32 of those 48 characters, as zlib computes it: 0x12eeea19 in 6 base62 digits. */
	uint32_t crc = 0x12eeea19;
	char want[7];
	for (int i = 5; i >= 0; i--) {
		want[i] = auth_b62_digit(crc % 62);
		crc /= 62;
	}
	want[6] = '\0';
	ASSERT_STR_EQ(t.text + 48, want);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(i * 7 + 1);
	auth_token_from_bytes(b, &t);
	ASSERT_INT_EQ(auth_token_check(t.text, AUTH_TOKEN_LEN, back), 0);
	ASSERT(memcmp(b, back, sizeof(b)) == 0);
}

TEST(auth_token_typos_detected)
{
	static const char alphabet[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	struct auth_token t;
	ASSERT_INT_EQ(auth_token_new(&t), 0);
	char s[AUTH_TOKEN_LEN + 1];
	int badmsg = 0, inval = 0;
	/* Every single-character change after the prefix is refused. */
	for (size_t i = 5; i < AUTH_TOKEN_LEN; i++) {
		for (size_t a = 0; a < 62; a++) {
			if (alphabet[a] == t.text[i])
				continue;
			memcpy(s, t.text, sizeof(s));
			s[i] = alphabet[a];
			int r = auth_token_check(s, AUTH_TOKEN_LEN, NULL);
			ASSERT(r == -EBADMSG || r == -EINVAL);
			badmsg += r == -EBADMSG;
			inval += r == -EINVAL; /* the first digit: a value above 2^256 */
		}
	}
	ASSERT(badmsg > 40 * 61);
	/* Every swap of two different neighbours. */
	for (size_t i = 5; i + 1 < AUTH_TOKEN_LEN; i++) {
		if (t.text[i] == t.text[i + 1])
			continue;
		memcpy(s, t.text, sizeof(s));
		s[i] = t.text[i + 1];
		s[i + 1] = t.text[i];
		ASSERT(auth_token_check(s, AUTH_TOKEN_LEN, NULL) < 0);
	}
	/* A changed checksum character is a checksum error. */
	memcpy(s, t.text, sizeof(s));
	s[AUTH_TOKEN_LEN - 1] = s[AUTH_TOKEN_LEN - 1] == 'a' ? 'b' : 'a';
	ASSERT_INT_EQ(auth_token_check(s, AUTH_TOKEN_LEN, NULL), -EBADMSG);
	ASSERT_INT_EQ(auth_token_verify(s, AUTH_TOKEN_LEN, t.hash), -EBADMSG);
}

TEST(auth_token_shape_rejected)
{
	struct auth_token t;
	ASSERT_INT_EQ(auth_token_new(&t), 0);
	char s[AUTH_TOKEN_LEN + 2];
	ASSERT_INT_EQ(auth_token_check(t.text, AUTH_TOKEN_LEN - 1, NULL), -EINVAL);
	memcpy(s, t.text, AUTH_TOKEN_LEN);
	s[AUTH_TOKEN_LEN] = 'x';
	ASSERT_INT_EQ(auth_token_check(s, AUTH_TOKEN_LEN + 1, NULL), -EINVAL);
	ASSERT_INT_EQ(auth_token_check("", 0, NULL), -EINVAL);
	const char *prefixes[] = {"GUST_", "gust-", "gusu_", "ghp__"};
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		memcpy(s, t.text, sizeof(t.text));
		memcpy(s, prefixes[i], 5);
		ASSERT_INT_EQ(auth_token_check(s, AUTH_TOKEN_LEN, NULL), -EINVAL);
	}
	const char odd[] = {'-', '_', '=', '+', '/', ' ', '\0', '\n', (char)0xc3};
	for (size_t i = 0; i < sizeof(odd); i++) {
		memcpy(s, t.text, sizeof(t.text));
		s[20] = odd[i];
		ASSERT_INT_EQ(auth_token_check(s, AUTH_TOKEN_LEN, NULL), -EINVAL);
		memcpy(s, t.text, sizeof(t.text));
		s[50] = odd[i];
		ASSERT_INT_EQ(auth_token_check(s, AUTH_TOKEN_LEN, NULL), -EINVAL);
	}
}

TEST(auth_token_verify_against_stored_hash)
{
	struct auth_token t, u;
	ASSERT_INT_EQ(auth_token_new(&t), 0);
	ASSERT_INT_EQ(auth_token_new(&u), 0);
	ASSERT_INT_EQ(auth_token_verify(t.text, AUTH_TOKEN_LEN, t.hash), 0);
	ASSERT_INT_EQ(auth_token_verify(u.text, AUTH_TOKEN_LEN, t.hash), -EACCES);
	ASSERT_INT_EQ(auth_token_verify(t.text, AUTH_TOKEN_LEN, u.hash), -EACCES);
	/* A stored hash in another case, cut short, or empty does not match. */
	char upper[AUTH_HASH_HEX_LEN + 1];
	for (int i = 0; i <= AUTH_HASH_HEX_LEN; i++)
		upper[i] =
		    (char)(t.hash[i] >= 'a' && t.hash[i] <= 'f' ? t.hash[i] - 32 : t.hash[i]);
	ASSERT_INT_EQ(auth_token_verify(t.text, AUTH_TOKEN_LEN, upper), -EACCES);
	char shorter[AUTH_HASH_HEX_LEN + 1];
	memcpy(shorter, t.hash, sizeof(shorter));
	shorter[63] = '\0';
	ASSERT_INT_EQ(auth_token_verify(t.text, AUTH_TOKEN_LEN, shorter), -EACCES);
	ASSERT_INT_EQ(auth_token_verify(t.text, AUTH_TOKEN_LEN, ""), -EACCES);
	/* The hash itself, presented as a token, is not a token. */
	ASSERT_INT_EQ(auth_token_verify(t.hash, AUTH_HASH_HEX_LEN, t.hash), -EINVAL);
}

TEST(auth_session_ids)
{
	char a[AUTH_SESSION_ID_LEN + 1], b[AUTH_SESSION_ID_LEN + 1];
	ASSERT_INT_EQ(auth_session_new(a), 0);
	ASSERT_INT_EQ(auth_session_new(b), 0);
	ASSERT_INT_EQ(strlen(a), 43);
	ASSERT(strcmp(a, b) != 0);
	ASSERT(auth_session_wellformed(a, 43));
	ASSERT(!auth_session_wellformed(a, 42));
	ASSERT(!auth_session_wellformed("../../etc/passwd", 16));
	char ha[AUTH_HASH_HEX_LEN + 1], hb[AUTH_HASH_HEX_LEN + 1];
	auth_hash_hex(a, 43, ha);
	auth_hash_hex(b, 43, hb);
	ASSERT(strcmp(ha, a) != 0);
	ASSERT_INT_EQ(auth_session_verify(a, 43, ha), 0);
	ASSERT_INT_EQ(auth_session_verify(b, 43, ha), -EACCES);
	ASSERT_INT_EQ(auth_session_verify(a, 43, hb), -EACCES);
	ASSERT_INT_EQ(auth_session_verify("x", 1, ha), -EINVAL);
}

TEST(auth_csrf_bound_to_session_and_key)
{
	uint8_t kb[AUTH_KEY_BYTES];
	randombytes_buf(kb, sizeof(kb));
	struct auth_key *k = auth_key_from_bytes(kb);
	kb[0] ^= 1;
	struct auth_key *k2 = auth_key_from_bytes(kb);
	char s1[AUTH_SESSION_ID_LEN + 1], s2[AUTH_SESSION_ID_LEN + 1];
	ASSERT_INT_EQ(auth_session_new(s1), 0);
	ASSERT_INT_EQ(auth_session_new(s2), 0);
	char c1[AUTH_CSRF_LEN + 1], c1b[AUTH_CSRF_LEN + 1], c2[AUTH_CSRF_LEN + 1];
	auth_csrf_token(k, s1, 43, c1);
	auth_csrf_token(k, s1, 43, c1b);
	auth_csrf_token(k, s2, 43, c2);
	ASSERT_INT_EQ(strlen(c1), AUTH_CSRF_LEN);
	ASSERT_STR_EQ(c1, c1b); /* stateless: the same for the life of the session */
	ASSERT(strcmp(c1, c2) != 0);
	ASSERT(strcmp(c1, s1) != 0);
	ASSERT_INT_EQ(auth_csrf_verify(k, s1, 43, c1, 43), 0);
	ASSERT_INT_EQ(auth_csrf_verify(k, s2, 43, c2, 43), 0);
	/* Another session's token, another server key, a cut or empty token, none at all. */
	ASSERT_INT_EQ(auth_csrf_verify(k, s2, 43, c1, 43), -EACCES);
	ASSERT_INT_EQ(auth_csrf_verify(k2, s1, 43, c1, 43), -EACCES);
	ASSERT_INT_EQ(auth_csrf_verify(k, s1, 43, c1, 42), -EACCES);
	ASSERT_INT_EQ(auth_csrf_verify(k, s1, 43, "", 0), -EACCES);
	ASSERT_INT_EQ(auth_csrf_verify(k, s1, 43, NULL, 0), -EACCES);
	/* The session id itself is not its CSRF token. */
	ASSERT_INT_EQ(auth_csrf_verify(k, s1, 43, s1, 43), -EACCES);
	auth_key_free(k);
	auth_key_free(k2);
}

/* --- roles --------------------------------------------------------------------------------- */

TEST(auth_roles)
{
	enum auth_role r = AUTH_ROLE_NONE;
	const char *names[] = {"viewer", "operator", "editor", "admin"};
	for (int i = 0; i < 4; i++) {
		ASSERT_INT_EQ(auth_role_parse(names[i], &r), 0);
		ASSERT_INT_EQ(r, AUTH_ROLE_VIEWER + i);
		ASSERT_STR_EQ(auth_role_name(r), names[i]);
		ASSERT_STR_EQ(auth_role_names[i], names[i]);
	}
	r = AUTH_ROLE_EDITOR;
	ASSERT_INT_EQ(auth_role_parse("Admin", &r), -EINVAL);
	ASSERT_INT_EQ(auth_role_parse("none", &r), -EINVAL);
	ASSERT_INT_EQ(auth_role_parse("", &r), -EINVAL);
	ASSERT_INT_EQ(auth_role_parse("admins", &r), -EINVAL);
	ASSERT_INT_EQ(r, AUTH_ROLE_EDITOR); /* untouched */
	ASSERT_STR_EQ(auth_role_name(AUTH_ROLE_NONE), "none");
	ASSERT_STR_EQ(auth_role_name((enum auth_role)99), "none");

	for (int have = AUTH_ROLE_VIEWER; have <= AUTH_ROLE_ADMIN; have++)
		for (int need = AUTH_ROLE_VIEWER; need <= AUTH_ROLE_ADMIN; need++)
			ASSERT_INT_EQ(auth_role_allows(have, need), have >= need);
	ASSERT(auth_role_allows(AUTH_ROLE_ADMIN, AUTH_ROLE_VIEWER));
	ASSERT(!auth_role_allows(AUTH_ROLE_OPERATOR, AUTH_ROLE_EDITOR));
	ASSERT(!auth_role_allows(AUTH_ROLE_NONE, AUTH_ROLE_VIEWER));
	ASSERT(!auth_role_allows(AUTH_ROLE_ADMIN, AUTH_ROLE_NONE));
	ASSERT(!auth_role_allows((enum auth_role)99, AUTH_ROLE_VIEWER));
	ASSERT(!auth_role_allows((enum auth_role) - 1, AUTH_ROLE_VIEWER));
}

/* --- the failed-login limiter -------------------------------------------------------------- */

#define MIN_MS (60 * 1000)

TEST(auth_ratelimit_lockout_and_backoff)
{
	struct auth_ratelimit *rl = auth_ratelimit_new(NULL);
	int64_t t = 1000000;
	for (int i = 0; i < 5; i++) {
		ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "ann", "192.0.2.1", t), 0);
		auth_ratelimit_failure(rl, "ann", "192.0.2.1", t);
	}
	/* After the 5th failure: 1 s, then 2, 4, 8 ... */
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "ann", "192.0.2.1", t), 1000);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "ann", "192.0.2.1", t + 400), 600);
	ASSERT_INT_EQ(auth_ratelimit_retry_after_s(600), 1);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "ann", "192.0.2.1", t + 1000), 0);
	int64_t want = 1000;
	for (int i = 0; i < 9; i++) {
		t += want;
		auth_ratelimit_failure(rl, "ann", "192.0.2.1", t);
		want *= 2;
		ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "ann", "192.0.2.1", t), want);
		ASSERT_INT_EQ(auth_ratelimit_retry_after_s(want), want / 1000);
	}
	ASSERT_INT_EQ(want, 512000);
	/* Then capped at 15 minutes. */
	for (int i = 0; i < 50; i++) {
		t += want;
		auth_ratelimit_failure(rl, "ann", "192.0.2.1", t);
		want = auth_ratelimit_wait_ms(rl, "ann", "192.0.2.1", t);
		ASSERT(want <= 15 * MIN_MS);
	}
	ASSERT_INT_EQ(want, 15 * MIN_MS);
	ASSERT_INT_EQ(auth_ratelimit_retry_after_s(0), 0);
	ASSERT_INT_EQ(auth_ratelimit_retry_after_s(1), 1);
	ASSERT_INT_EQ(auth_ratelimit_retry_after_s(1001), 2);
	auth_ratelimit_free(rl);
}

TEST(auth_ratelimit_forgets_after_quiet_window)
{
	struct auth_ratelimit *rl = auth_ratelimit_new(NULL);
	int64_t t = 0;
	for (int i = 0; i < 7; i++)
		auth_ratelimit_failure(rl, "ann", NULL, t);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "ann", NULL, t), 4000);
	/* Quiet for less than the window after the wait: still counted (the 8th waits 8 s). */
	t += 4000 + 15 * MIN_MS - 1;
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "ann", NULL, t), 0);
	auth_ratelimit_failure(rl, "ann", NULL, t);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "ann", NULL, t), 8000);
	/* Quiet for the window: forgotten; the next failures are free again. */
	t += 8000 + 15 * MIN_MS;
	for (int i = 0; i < 4; i++) {
		auth_ratelimit_failure(rl, "ann", NULL, t);
		ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "ann", NULL, t), 0);
	}
	auth_ratelimit_failure(rl, "ann", NULL, t);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "ann", NULL, t), 1000);
	auth_ratelimit_free(rl);
}

TEST(auth_ratelimit_success_clears_user_not_address)
{
	struct auth_ratelimit *rl = auth_ratelimit_new(NULL);
	int64_t t = 5000;
	for (int i = 0; i < 6; i++)
		auth_ratelimit_failure(rl, "ann", "198.51.100.7", t);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "ann", "198.51.100.7", t), 2000);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "ann", "203.0.113.9", t), 2000);  /* the user */
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "bob", "198.51.100.7", t), 2000); /* the addr */
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "bob", "203.0.113.9", t), 0);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, NULL, NULL, t), 0);

	t += 2000;
	auth_ratelimit_success(rl, "ann");
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "ann", "203.0.113.9", t), 0);
	/* The address still remembers its six failures: its next one waits 4 s. */
	auth_ratelimit_failure(rl, "cy", "198.51.100.7", t);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "cy", "198.51.100.7", t), 4000);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "cy", NULL, t), 0);
	auth_ratelimit_success(rl, NULL);
	auth_ratelimit_success(rl, "nobody");
	auth_ratelimit_free(rl);
}

TEST(auth_ratelimit_address_forms)
{
	struct auth_ratelimit *rl = auth_ratelimit_new(NULL);
	/* Five failures spread over one IPv6 /64 count as one key. */
	const char *in64[] = {"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9",
			      "2001:0db8:0001:0002:0:0:0:77", "2001:db8:1:2:a:b:c:d"};
	for (size_t i = 0; i < ARRAY_SIZE(in64); i++)
		auth_ratelimit_failure(rl, NULL, in64[i], 0);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, NULL, "2001:db8:1:2::dead", 0), 1000);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, NULL, "2001:db8:1:3::1", 0), 0);
	/* IPv4-mapped IPv6 is the IPv4 address. */
	for (int i = 0; i < 5; i++)
		auth_ratelimit_failure(rl, NULL, "::ffff:192.0.2.44", 0);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, NULL, "192.0.2.44", 0), 1000);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, NULL, "192.0.2.45", 0), 0);
	/* Anything else is a key as it is. */
	for (int i = 0; i < 5; i++)
		auth_ratelimit_failure(rl, NULL, "unix:/run/gust.sock", 0);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, NULL, "unix:/run/gust.sock", 0), 1000);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, NULL, "unix:/run/gust.soc", 0), 0);
	auth_ratelimit_free(rl);
}

TEST(auth_ratelimit_memory_bound_under_spray)
{
	struct auth_ratelimit *rl = auth_ratelimit_new(NULL);
	int64_t t = 0;
	/* A locked-out user and a locked-out address before the spray. */
	for (int i = 0; i < 12; i++)
		auth_ratelimit_failure(rl, "admin", "192.0.2.1", t);
	int64_t before = auth_ratelimit_wait_ms(rl, "admin", NULL, t);
	ASSERT_INT_EQ(before, 128000);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, NULL, "192.0.2.1", t), 128000);

	/* 100,000 addresses, one failure each, and as many user names. */
	char addr[64], user[64];
	for (int i = 0; i < 100000; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255,
			 i & 255);
		snprintf(user, sizeof(user), "spray%d", i);
		auth_ratelimit_failure(rl, user, addr, t + i / 100);
	}
	size_t users, addrs, cap;
	auth_ratelimit_usage(rl, &users, &addrs, &cap);
	ASSERT_INT_EQ(cap, 4096);
	ASSERT(users <= cap && addrs <= cap);
	ASSERT(addrs > cap * 9 / 10); /* the table is used, not bypassed */
	/* The waiting entries were not pushed out. */
	t += 1000;
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "admin", NULL, t), before - 1000);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, NULL, "192.0.2.1", t), before - 1000);
	auth_ratelimit_free(rl);
}

TEST(auth_ratelimit_small_table_evicts)
{
	struct auth_ratelimit_config c = {.capacity = 8, .free_failures = 2};
	struct auth_ratelimit *rl = auth_ratelimit_new(&c);
	size_t users, addrs, cap;
	auth_ratelimit_usage(rl, &users, &addrs, &cap);
	ASSERT_INT_EQ(cap, 8);
	/* One set of 8: fill it with waiting users, then a ninth key replaces the one whose wait
	 * ends first. */
	char name[16];
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		for (int k = 0; k < 2 + i; k++)
			auth_ratelimit_failure(rl, name, NULL, 0);
	}
	auth_ratelimit_usage(rl, &users, &addrs, &cap);
	ASSERT_INT_EQ(users, 8);
	auth_ratelimit_failure(rl, "newcomer", NULL, 0);
	auth_ratelimit_usage(rl, &users, &addrs, &cap);
	ASSERT_INT_EQ(users, 8);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "u0", NULL, 0), 0); /* evicted: 1 s wait */
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "u7", NULL, 0), 128000);
	/* A key that is not waiting goes before any waiting one. */
	auth_ratelimit_failure(rl, "another", NULL, 0);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "u1", NULL, 0), 2000);
	auth_ratelimit_failure(rl, "another", NULL, 0);
	ASSERT_INT_EQ(auth_ratelimit_wait_ms(rl, "another", NULL, 0), 1000);
	auth_ratelimit_free(rl);
}

struct rl_thread_arg {
	struct auth_ratelimit *rl;
	int id;
};

static void *rl_thread(void *p)
{
	struct rl_thread_arg *a = p;
	char addr[32];
	for (int i = 0; i < 20000; i++) {
		snprintf(addr, sizeof(addr), "10.0.%d.%d", a->id, i & 255);
		auth_ratelimit_failure(a->rl, "shared", addr, i);
		(void)auth_ratelimit_wait_ms(a->rl, "shared", addr, i);
		if (i % 1000 == 0)
			auth_ratelimit_success(a->rl, "other");
	}
	return NULL;
}

TEST(auth_ratelimit_threads)
{
	struct auth_ratelimit *rl = auth_ratelimit_new(NULL);
	pthread_t t[4];
	struct rl_thread_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct rl_thread_arg){rl, i};
		ASSERT_INT_EQ(pthread_create(&t[i], NULL, rl_thread, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	/* 80,000 failures of one user: at the cap. */
	int64_t w = auth_ratelimit_wait_ms(rl, "shared", NULL, 20000);
	ASSERT(w > 15 * MIN_MS - 1000 && w < 15 * MIN_MS);
	auth_ratelimit_free(rl);
}

/* --- the key file -------------------------------------------------------------------------- */

static char *key_path(const char *dir)
{
	return xasprintf("%s/%s", dir, AUTH_KEY_FILE);
}

static void write_file(const char *path, const void *p, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ASSERT(fd >= 0);
	ASSERT_INT_EQ(write(fd, p, n), (long long)n);
	close(fd);
	ASSERT_INT_EQ(chmod(path, mode), 0);
}

static int count_entries(const char *dir)
{
	char *cmd = xasprintf("ls -A %s | wc -l", dir);
	FILE *f = popen(cmd, "r");
	int n = -1;
	if (f && fscanf(f, "%d", &n) != 1)
		n = -1;
	if (f)
		pclose(f);
	free(cmd);
	return n;
}

TEST(auth_key_created_0600_and_reused)
{
	char *dir = tmp_dir();
	char *path = key_path(dir);
	umask(0); /* the file is private whatever the umask */
	struct auth_key *k = NULL, *k2 = NULL;
	char *msg = NULL;
	ASSERT_INT_EQ(auth_key_open(path, &k, &msg), 0);
	ASSERT(msg == NULL);
	struct stat st;
	ASSERT_INT_EQ(stat(path, &st), 0);
	ASSERT_INT_EQ(st.st_mode & 07777, 0600);
	ASSERT_INT_EQ(st.st_size, 32);
	ASSERT_INT_EQ(count_entries(dir), 1); /* no temporary file left */
	(void)auth_key_locked(k);

	/* Opened again: the same key (what one encrypts, the other decrypts). */
	ASSERT_INT_EQ(auth_key_open(path, &k2, &msg), 0);
	char *enc = NULL, *plain = NULL;
	size_t plen = 0;
	ASSERT_INT_EQ(auth_secret_encrypt(k, "hunter22", 8, &enc), 0);
	ASSERT_INT_EQ(auth_secret_decrypt(k2, enc, strlen(enc), &plain, &plen), 0);
	ASSERT_STR_EQ(plain, "hunter22");
	auth_wipe_free(plain, plen);
	free(enc);
	auth_key_free(k);
	auth_key_free(k2);
	auth_key_free(NULL);

	/* 0400 is private too. */
	ASSERT_INT_EQ(chmod(path, 0400), 0);
	ASSERT_INT_EQ(auth_key_open(path, &k, &msg), 0);
	auth_key_free(k);
	rm_rf(dir);
	free(path);
	free(dir);
}

TEST(auth_key_refused_when_others_can_read)
{
	char *dir = tmp_dir();
	char *path = key_path(dir);
	uint8_t bytes[32] = {1};
	const mode_t modes[] = {0644, 0640, 0604, 0620, 0602, 0660};
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		write_file(path, bytes, sizeof(bytes), modes[i]);
		struct auth_key *k = (struct auth_key *)dir; /* must stay untouched */
		char *msg = NULL;
		ASSERT_INT_EQ(auth_key_open(path, &k, &msg), -EPERM);
		ASSERT(k == (struct auth_key *)dir);
		char *want = xasprintf("%s: mode %04o lets the group or others read or change the "
				       "key; make it private with chmod 600 %s",
				       path, (unsigned)modes[i], path);
		ASSERT_STR_EQ(msg, want);
		free(want);
		free(msg);
	}
	rm_rf(dir);
	free(path);
	free(dir);
}

TEST(auth_key_refused_wrong_size_or_kind)
{
	char *dir = tmp_dir();
	char *path = key_path(dir);
	uint8_t bytes[64] = {0};
	const size_t sizes[] = {0, 31, 33, 64};
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		write_file(path, bytes, sizes[i], 0600);
		struct auth_key *k = NULL;
		char *msg = NULL;
		ASSERT_INT_EQ(auth_key_open(path, &k, &msg), -EINVAL);
		ASSERT(k == NULL);
		char *want = xasprintf("%s: the key file is %zu bytes long; a key is exactly 32",
				       path, sizes[i]);
		ASSERT_STR_CONTAINS(msg, want);
		free(want);
		free(msg);
	}
	unlink(path);
	ASSERT_INT_EQ(mkdir(path, 0700), 0);
	struct auth_key *k = NULL;
	char *msg = NULL;
	ASSERT_INT_EQ(auth_key_open(path, &k, &msg), -EINVAL);
	ASSERT_STR_CONTAINS(msg, "not a regular file");
	free(msg);
	rmdir(path);

	/* The folder must exist: the key is not created somewhere unexpected. */
	char *nowhere = xasprintf("%s/missing/%s", dir, AUTH_KEY_FILE);
	ASSERT_INT_EQ(auth_key_open(nowhere, &k, &msg), -ENOENT);
	ASSERT_STR_CONTAINS(msg, "cannot create the key file");
	ASSERT_STR_CONTAINS(msg, nowhere);
	free(msg);
	free(nowhere);
	rm_rf(dir);
	free(path);
	free(dir);
}

TEST(auth_key_concurrent_creation_one_key)
{
	/* Several processes create the key at once: all end with the same one. */
	for (int round = 0; round < 5; round++) {
		char *dir = tmp_dir();
		char *path = key_path(dir);
		int fds[2];
		ASSERT_INT_EQ(pipe(fds), 0);
		enum { N = 4 };
		for (int i = 0; i < N; i++) {
			pid_t pid = fork();
			ASSERT(pid >= 0);
			if (pid == 0) {
				struct auth_key *k = NULL;
				char *msg = NULL;
				char csrf[AUTH_CSRF_LEN + 1] = {0};
				if (auth_key_open(path, &k, &msg) == 0)
					auth_csrf_token(k, "probe", 5, csrf);
				if (write(fds[1], csrf, sizeof(csrf)) != (ssize_t)sizeof(csrf))
					_exit(2);
				_exit(0);
			}
		}
		close(fds[1]);
		char got[N][AUTH_CSRF_LEN + 1];
		for (int i = 0; i < N; i++)
			ASSERT_INT_EQ(read(fds[0], got[i], sizeof(got[i])), AUTH_CSRF_LEN + 1);
		close(fds[0]);
		for (int i = 0; i < N; i++) {
			int st;
			wait(&st);
			ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
			ASSERT_INT_EQ(strlen(got[i]), AUTH_CSRF_LEN);
			ASSERT_STR_EQ(got[i], got[0]);
		}
		ASSERT_INT_EQ(count_entries(dir), 1);
		rm_rf(dir);
		free(path);
		free(dir);
	}
}

/* --- secrets at rest ----------------------------------------------------------------------- */

static struct auth_key *test_key(uint8_t fill)
{
	uint8_t b[AUTH_KEY_BYTES];
	memset(b, fill, sizeof(b));
	return auth_key_from_bytes(b);
}

TEST(auth_secret_round_trip)
{
	struct auth_key *k = test_key(7);
	const char *vals[] = {"", "x", "hunter22", "postgresql://user:p%40ss@db/catalog",
			      "p\xc3\xa4sswort"};
	for (size_t i = 0; i < ARRAY_SIZE(vals); i++) {
		char *a = NULL, *b = NULL, *plain = NULL;
		size_t plen = 99;
		ASSERT_INT_EQ(auth_secret_encrypt(k, vals[i], strlen(vals[i]), &a), 0);
		ASSERT_INT_EQ(auth_secret_encrypt(k, vals[i], strlen(vals[i]), &b), 0);
		ASSERT(str_has_prefix(a, "v1:"));
		ASSERT(strcmp(a, b) != 0); /* a new nonce each time */
		ASSERT(!strstr(a, "hunter"));
		ASSERT(auth_secret_is_encrypted(a, strlen(a)));
		for (const char *c = a + 3; *c; c++)
			ASSERT(is_b62(*c) || *c == '-' || *c == '_');
		/* 3 + base64 of 24 + 16 + len bytes. */
		ASSERT_INT_EQ(strlen(a), 3 + ((40 + strlen(vals[i])) * 4 + 2) / 3);
		ASSERT_INT_EQ(auth_secret_decrypt(k, a, strlen(a), &plain, &plen), 0);
		ASSERT_INT_EQ(plen, strlen(vals[i]));
		ASSERT(memcmp(plain, vals[i], plen) == 0 && plain[plen] == '\0');
		auth_wipe_free(plain, plen);
		free(a);
		free(b);
	}
	/* Binary with NULs, and the largest value. */
	size_t big = AUTH_SECRET_MAX;
	char *v = xmalloc(big);
	randombytes_buf(v, big);
	v[0] = '\0';
	char *enc = NULL, *plain = NULL;
	size_t plen = 0;
	ASSERT_INT_EQ(auth_secret_encrypt(k, v, big, &enc), 0);
	ASSERT_INT_EQ(auth_secret_decrypt(k, enc, strlen(enc), &plain, &plen), 0);
	ASSERT_INT_EQ(plen, big);
	ASSERT(memcmp(plain, v, big) == 0);
	auth_wipe_free(plain, plen);
	free(enc);
	enc = (char *)v;
	ASSERT_INT_EQ(auth_secret_encrypt(k, v, big + 1, &enc), -EMSGSIZE);
	ASSERT(enc == (char *)v);
	free(v);
	auth_key_free(k);
}

TEST(auth_secret_tamper_detected)
{
	struct auth_key *k = test_key(7), *other = test_key(8);
	char *enc = NULL, *plain = (char *)"untouched";
	size_t plen = 0;
	ASSERT_INT_EQ(auth_secret_encrypt(k, "postgresql://u:hunter22@db/x", 28, &enc), 0);
	size_t n = strlen(enc);
	/* Each character of the encoding changed in turn (nonce, tag, ciphertext). */
	for (size_t i = 3; i < n; i++) {
		char *t = xstrdup(enc);
		t[i] = t[i] == 'A' ? 'B' : 'A';
		int r = auth_secret_decrypt(k, t, n, &plain, &plen);
		/* The last character also carries padding bits: a change there may be refused
		 * as bad base64 before authentication. */
		ASSERT(r == -EBADMSG || (i == n - 1 && r == -EINVAL));
		ASSERT_STR_EQ(plain, "untouched");
		free(t);
	}
	/* Truncated, extended, with another key. */
	ASSERT(auth_secret_decrypt(k, enc, n - 4, &plain, &plen) < 0);
	/* 56 characters: 42 whole bytes, a valid encoding of a shorter box. */
	ASSERT_INT_EQ(auth_secret_decrypt(k, enc, 3 + 56, &plain, &plen), -EBADMSG);
	char *longer = xasprintf("%sAAAA", enc);
	ASSERT_INT_EQ(auth_secret_decrypt(k, longer, strlen(longer), &plain, &plen), -EBADMSG);
	free(longer);
	ASSERT_INT_EQ(auth_secret_decrypt(other, enc, n, &plain, &plen), -EBADMSG);
	ASSERT_STR_EQ(plain, "untouched");
	free(enc);
	auth_key_free(k);
	auth_key_free(other);
}

#define A4 "AAAA"
#define A52 A4 A4 A4 A4 A4 A4 A4 A4 A4 A4 A4 A4 A4
#define A54 A52 "AA"

TEST(auth_secret_malformed)
{
	struct auth_key *k = test_key(1);
	char *plain = NULL;
	size_t plen = 0;
	struct {
		const char *text;
		int want;
	} cases[] = {
	    {"", -EINVAL},
	    {"hunter22", -EINVAL},
	    {"v1", -EINVAL},
	    {"v1:", -EINVAL},
	    {"v1:AAAA", -EINVAL},  /* shorter than a nonce and a tag */
	    {"v1:" A54, -EBADMSG}, /* 40 zero bytes: a nonce and a wrong tag */
	    {"v1:" A52 "=A", -EINVAL},
	    {"v1:" A52 "+A", -EINVAL},
	    {"v1:" A52 " A", -EINVAL},
	    {"v1:" A52 "A", -EINVAL}, /* 53 characters: not a whole number of bytes */
	    {"V1:" A54, -EINVAL},
	    {"v2:" A54, -EPROTONOSUPPORT},
	    {"v10:AAAA", -EPROTONOSUPPORT},
	    {"v:AAAA", -EINVAL},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r = auth_secret_decrypt(k, cases[i].text, strlen(cases[i].text), &plain, &plen);
		if (r != cases[i].want)
			test_fail(__FILE__, __LINE__, "\"%s\": %d, want %d", cases[i].text, r,
				  cases[i].want);
		ASSERT(plain == NULL);
	}
	ASSERT(auth_secret_is_encrypted("v2:x", 4));
	ASSERT(!auth_secret_is_encrypted("v:x", 3));
	ASSERT(!auth_secret_is_encrypted("plain", 5));
	/* A NUL inside the text is not base64. */
	char nul[] = "v1:" A54;
	nul[10] = '\0';
	ASSERT_INT_EQ(auth_secret_decrypt(k, nul, sizeof(nul) - 1, &plain, &plen), -EINVAL);
	auth_key_free(k);
}

/* --- log masking --------------------------------------------------------------------------- */

static char *masked(const struct auth_mask *m, const char *line, size_t *ret_runs)
{
	char *s = xstrdup(line);
	size_t len;
	size_t runs = auth_mask_line(m, s, strlen(s), &len);
	s[len] = '\0';
	if (ret_runs)
		*ret_runs = runs;
	return s;
}

#define ASSERT_MASK(m, line, want)                                                                 \
	do {                                                                                       \
		char *got_ = masked((m), (line), NULL);                                            \
		ASSERT_STR_EQ(got_, (want));                                                       \
		free(got_);                                                                        \
	} while (0)

TEST(auth_mask_basic)
{
	const char *secrets[] = {"hunter22", "s3cr3t-token"};
	struct auth_mask *m = auth_mask_new(secrets, 2);
	ASSERT_INT_EQ(auth_mask_count(m), 2);
	ASSERT_INT_EQ(auth_mask_ignored(m), 0);
	size_t runs;
	char *s = masked(m, "password=hunter22 ok", &runs);
	ASSERT_STR_EQ(s, "password=*** ok");
	ASSERT_INT_EQ(runs, 1);
	free(s);
	ASSERT_MASK(m, "hunter22", "***");
	ASSERT_MASK(m, "hunter22 and hunter22, s3cr3t-token!", "*** and ***, ***!");
	ASSERT_MASK(m, "hunter2 hunter23 Hunter22", "hunter2 hunter23 Hunter22");
	ASSERT_MASK(m, "huntehunter22r22", "hunte***r22");
	ASSERT_MASK(m, "", "");
	s = masked(m, "nothing here", &runs);
	ASSERT_INT_EQ(runs, 0);
	free(s);
	auth_mask_free(m);
}

TEST(auth_mask_overlapping_and_adjacent)
{
	const char *secrets[] = {"abcd", "cdef", "wxyz", "123456789", "3456", "aaaa"};
	struct auth_mask *m = auth_mask_new(secrets, ARRAY_SIZE(secrets));
	ASSERT_MASK(m, "xabcdefx", "x***x");	/* overlapping: one run */
	ASSERT_MASK(m, "abcdwxyz", "***");	/* adjacent: one run */
	ASSERT_MASK(m, "abcd wxyz", "*** ***"); /* apart */
	ASSERT_MASK(m, "0123456789.", "0***."); /* nested */
	ASSERT_MASK(m, "x3456x", "x***x");	/* the inner one alone */
	ASSERT_MASK(m, "aaaaaaaaa", "***");	/* overlapping itself */
	ASSERT_MASK(m, "aaa aaaa aaaaa", "aaa *** ***");
	ASSERT_MASK(m, "abcdefwxyzabcd", "***");
	ASSERT_MASK(m, "abcabcdcdef", "abc***");
	auth_mask_free(m);

	/* A long secret whose match starts before shorter matches already seen. */
	const char *s2[] = {"bcde", "defg", "abcdefgh"};
	m = auth_mask_new(s2, 3);
	ASSERT_MASK(m, "_abcdefgh_", "_***_");
	ASSERT_MASK(m, "_abcdefgX_", "_a***X_");
	auth_mask_free(m);
}

TEST(auth_mask_short_secrets_ignored)
{
	const char *secrets[] = {"abc", "", "x", "yes", "abcd", "abcd"};
	struct auth_mask *m = auth_mask_new(secrets, ARRAY_SIZE(secrets));
	ASSERT_INT_EQ(auth_mask_count(m), 1); /* duplicates count once */
	ASSERT_INT_EQ(auth_mask_ignored(m), 4);
	ASSERT_MASK(m, "abc yes x abcd", "abc yes x ***");
	auth_mask_free(m);

	const char *only_short[] = {"abc", "no"};
	m = auth_mask_new(only_short, 2);
	ASSERT_INT_EQ(auth_mask_count(m), 0);
	ASSERT_MASK(m, "abc no", "abc no");
	auth_mask_free(m);
	m = auth_mask_new(NULL, 0);
	ASSERT_MASK(m, "anything", "anything");
	auth_mask_free(m);
	size_t len;
	char line[] = "abc";
	ASSERT_INT_EQ(auth_mask_line(NULL, line, 3, &len), 0);
	ASSERT_INT_EQ(len, 3);
}

TEST(auth_mask_multiline_secret_and_utf8)
{
	const char *secrets[] = {"-----BEGIN KEY-----\nMIIEvQIBADANBg\r\nab\n-----END KEY-----",
				 "p\xc3\xa4ssw\xc3\xb6rd"};
	struct auth_mask *m = auth_mask_new(secrets, 2);
	ASSERT_INT_EQ(auth_mask_count(m), 4);
	ASSERT_INT_EQ(auth_mask_ignored(m), 1); /* "ab" */
	ASSERT_MASK(m, "key: MIIEvQIBADANBg", "key: ***");
	ASSERT_MASK(m, "-----END KEY-----", "***");
	ASSERT_MASK(m, "ab", "ab");
	/* UTF-8: whole characters go; the rest of the line stays valid. */
	ASSERT_MASK(m, "\xc3\xa9 p\xc3\xa4ssw\xc3\xb6rd \xe2\x82\xac", "\xc3\xa9 *** \xe2\x82\xac");
	ASSERT_MASK(m, "p\xc3\xa4ssword", "p\xc3\xa4ssword");
	auth_mask_free(m);
}

TEST(auth_mask_binary_and_many_runs)
{
	const char *secrets[] = {"\x01\x02\x03\x04", "tok1"};
	struct auth_mask *m = auth_mask_new(secrets, 2);
	char line[] = "a\0\x01\x02\x03\x04\0b";
	size_t len;
	ASSERT_INT_EQ(auth_mask_line(m, line, 8, &len), 1);
	ASSERT_INT_EQ(len, 7);
	ASSERT(memcmp(line, "a\0***\0b", 7) == 0);

	/* 1,000 runs in one line: more than the stack holds. */
	struct buf b = BUF_INIT;
	struct buf want = BUF_INIT;
	for (int i = 0; i < 1000; i++) {
		buf_puts(&b, "tok1 ");
		buf_puts(&want, "*** ");
	}
	size_t runs = auth_mask_line(m, b.data, b.len, &len);
	ASSERT_INT_EQ(runs, 1000);
	ASSERT_INT_EQ(len, want.len);
	ASSERT(memcmp(b.data, want.data, len) == 0);
	buf_free(&b);
	buf_free(&want);
	auth_mask_free(m);
}

/* The reference: mark every byte inside any occurrence, then one *** per marked run. */
static size_t mask_naive(const char *const *secrets, size_t n, const char *line, size_t len,
			 char *out)
{
	bool *cov = xcalloc(len + 1, 1);
	for (size_t k = 0; k < n; k++) {
		const char *s = secrets[k];
		size_t sl = strlen(s);
		if (sl < AUTH_MASK_MIN)
			continue;
		for (size_t i = 0; i + sl <= len; i++)
			if (memcmp(line + i, s, sl) == 0)
				memset(cov + i, 1, sl);
	}
	size_t w = 0;
	for (size_t i = 0; i < len;) {
		if (!cov[i]) {
			out[w++] = line[i++];
			continue;
		}
		memcpy(out + w, "***", 3);
		w += 3;
		while (i < len && cov[i])
			i++;
	}
	free(cov);
	return w;
}

TEST(auth_mask_matches_reference)
{
	/* Random secrets and lines over a 3-letter alphabet: many overlaps, failure links. */
	unsigned seed = 12345;
	for (int round = 0; round < 3000; round++) {
		char store[12][12];
		const char *secrets[12];
		size_t n = 1 + rand_r(&seed) % 12;
		for (size_t k = 0; k < n; k++) {
			size_t sl = 2 + rand_r(&seed) % 9;
			for (size_t i = 0; i < sl; i++)
				store[k][i] = (char)('a' + rand_r(&seed) % 3);
			store[k][sl] = '\0';
			secrets[k] = store[k];
		}
		char line[80], want[300];
		size_t len = rand_r(&seed) % sizeof(line);
		for (size_t i = 0; i < len; i++)
			line[i] = (char)('a' + rand_r(&seed) % 3);
		size_t wlen = mask_naive(secrets, n, line, len, want);
		/* Dense rows for every state, then for the root alone (the sparse path). */
		for (int dense = 0; dense < 2; dense++) {
			struct auth_mask *m =
			    dense ? auth_mask_new(secrets, n) : auth_mask_new_sized(secrets, n, 1);
			char work[80];
			memcpy(work, line, len);
			size_t got;
			auth_mask_line(m, work, len, &got);
			if (got != wlen || memcmp(work, want, got) != 0)
				test_fail(__FILE__, __LINE__,
					  "round %d dense %d: got \"%.*s\", want \"%.*s\"", round,
					  dense, (int)got, work, (int)wlen, want);
			auth_mask_free(m);
		}
	}
}

TEST(auth_mask_many_secrets_beyond_dense_table)
{
	/* 3,000 secrets of 20-30 letters over a-c: ~50,000 states, more than the dense table's
	 * 32,768 rows of 4 classes, so deep states take the sparse path. */
	enum { NS = 3000, NL = 40, LEN = 200 };
	unsigned seed = 777;
	char **secrets = xmalloc(NS * sizeof(*secrets));
	for (int k = 0; k < NS; k++) {
		size_t sl = 20 + rand_r(&seed) % 11;
		secrets[k] = xmalloc(sl + 1);
		for (size_t i = 0; i < sl; i++)
			secrets[k][i] = (char)('a' + rand_r(&seed) % 3);
		secrets[k][sl] = '\0';
	}
	struct auth_mask *m = auth_mask_new((const char *const *)secrets, NS);
	ASSERT_INT_EQ(auth_mask_count(m), NS);
	char line[LEN], want[3 * LEN];
	for (int r = 0; r < NL; r++) {
		for (size_t i = 0; i < LEN; i++)
			line[i] = (char)('a' + rand_r(&seed) % 3);
		/* Plant a secret so that there is something to find. */
		const char *s = secrets[rand_r(&seed) % NS];
		memcpy(line + 50, s, strlen(s));
		size_t wlen = mask_naive((const char *const *)secrets, NS, line, LEN, want);
		size_t got;
		auth_mask_line(m, line, LEN, &got);
		ASSERT(got < LEN);
		if (got != wlen || memcmp(line, want, got) != 0)
			test_fail(__FILE__, __LINE__, "line %d: got \"%.*s\", want \"%.*s\"", r,
				  (int)got, line, (int)wlen, want);
	}
	auth_mask_free(m);
	for (int k = 0; k < NS; k++)
		free(secrets[k]);
	free(secrets);
}
