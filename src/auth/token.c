/*
 * token.c - API tokens, session ids and CSRF tokens (token.h).
 *
 * The checksum is CRC-32 (IEEE 802.3, reflected, as zlib computes it) over the 48 characters
 * before it, written as 6 base62 digits (62^6 > 2^32). CRC-32 finds every error burst of up to
 * 32 bits, so every changed character and every swap of two neighbouring characters. It is
 * computed bit by bit, without the usual 256-entry table: a table indexed by the bytes of a
 * secret would leak them through the cache, and 48 bytes cost nothing either way. Other
 * errors (several typos, a swap across the checksum's first character) pass with a
 * probability of 1 in 2^32.
 */
#include "auth/token.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "auth/secretbox.h"

#define TOKEN_BODY_LEN (AUTH_TOKEN_PREFIX_LEN + AUTH_B62_LEN) /* what the checksum covers */

_Static_assert(sizeof(AUTH_TOKEN_PREFIX) - 1 == AUTH_TOKEN_PREFIX_LEN, "token prefix length");

static uint32_t crc32_ieee(const char *s, size_t len)
{
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < len; i++) {
		crc ^= (unsigned char)s[i];
		for (int b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static void check_encode(uint32_t v, char ret[AUTH_TOKEN_CHECK_LEN])
{
	for (int i = AUTH_TOKEN_CHECK_LEN - 1; i >= 0; i--) {
		ret[i] = auth_b62_digit(v % 62);
		v /= 62;
	}
}

void auth_token_from_bytes(const uint8_t bytes[AUTH_SECRET_BYTES], struct auth_token *ret)
{
	char *t = ret->text;
	memcpy(t, AUTH_TOKEN_PREFIX, AUTH_TOKEN_PREFIX_LEN);
	auth_b62_encode(bytes, t + AUTH_TOKEN_PREFIX_LEN); /* writes a NUL at TOKEN_BODY_LEN */
	check_encode(crc32_ieee(t, TOKEN_BODY_LEN), t + TOKEN_BODY_LEN);
	t[AUTH_TOKEN_LEN] = '\0';
	auth_hash_hex(t, AUTH_TOKEN_LEN, ret->hash);
	auth_token_display(t, AUTH_TOKEN_LEN, ret->display);
}

int auth_token_new(struct auth_token *ret)
{
	int r = auth_init();
	if (r < 0)
		return r;
	uint8_t bytes[AUTH_SECRET_BYTES];
	randombytes_buf(bytes, sizeof(bytes));
	auth_token_from_bytes(bytes, ret);
	sodium_memzero(bytes, sizeof(bytes));
	return 0;
}

void auth_token_wipe(struct auth_token *t)
{
	sodium_memzero(t, sizeof(*t));
}

int auth_token_check(const char *s, size_t len, uint8_t *ret_bytes)
{
	if (len != AUTH_TOKEN_LEN || memcmp(s, AUTH_TOKEN_PREFIX, AUTH_TOKEN_PREFIX_LEN) != 0)
		return -EINVAL;
	uint8_t bytes[AUTH_SECRET_BYTES];
	if (auth_b62_decode(s + AUTH_TOKEN_PREFIX_LEN, AUTH_B62_LEN, bytes) < 0)
		return -EINVAL;
	char want[AUTH_TOKEN_CHECK_LEN];
	check_encode(crc32_ieee(s, TOKEN_BODY_LEN), want);
	if (memcmp(want, s + TOKEN_BODY_LEN, AUTH_TOKEN_CHECK_LEN) != 0) {
		/* A checksum of characters outside base62 is malformed, not a typo. */
		sodium_memzero(bytes, sizeof(bytes));
		for (size_t i = TOKEN_BODY_LEN; i < AUTH_TOKEN_LEN; i++) {
			unsigned char c = (unsigned char)s[i];
			if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
			      (c >= 'a' && c <= 'z')))
				return -EINVAL;
		}
		return -EBADMSG;
	}
	if (ret_bytes)
		memcpy(ret_bytes, bytes, sizeof(bytes));
	sodium_memzero(bytes, sizeof(bytes));
	return 0;
}

/* 0 when hashing `len` bytes at `s` gives `stored_hash`, compared in constant time. */
static int hash_matches(const char *s, size_t len, const char *stored_hash)
{
	char h[AUTH_HASH_HEX_LEN + 1];
	auth_hash_hex(s, len, h);
	return auth_equal(h, AUTH_HASH_HEX_LEN, stored_hash,
			  strnlen(stored_hash, AUTH_HASH_HEX_LEN + 1))
		   ? 0
		   : -EACCES;
}

int auth_token_verify(const char *s, size_t len, const char *stored_hash)
{
	int r = auth_token_check(s, len, NULL);
	return r < 0 ? r : hash_matches(s, len, stored_hash);
}

void auth_token_display(const char *s, size_t len, char ret[AUTH_TOKEN_DISPLAY_LEN + 1])
{
	size_t n = len < AUTH_TOKEN_DISPLAY_LEN ? len : AUTH_TOKEN_DISPLAY_LEN;
	memcpy(ret, s, n);
	ret[n] = '\0';
}

int auth_session_new(char ret[AUTH_SESSION_ID_LEN + 1])
{
	int r = auth_init();
	if (r < 0)
		return r;
	uint8_t bytes[AUTH_SECRET_BYTES];
	randombytes_buf(bytes, sizeof(bytes));
	auth_b62_encode(bytes, ret);
	sodium_memzero(bytes, sizeof(bytes));
	return 0;
}

bool auth_session_wellformed(const char *s, size_t len)
{
	return auth_b62_wellformed(s, len);
}

int auth_session_verify(const char *s, size_t slen, const char *stored_hash)
{
	if (!auth_session_wellformed(s, slen))
		return -EINVAL;
	return hash_matches(s, slen, stored_hash);
}

void auth_csrf_token(const struct auth_key *k, const char *session_id, size_t slen,
		     char ret[AUTH_CSRF_LEN + 1])
{
	uint8_t mac[AUTH_SECRET_BYTES];
	crypto_generichash(mac, sizeof(mac), (const unsigned char *)session_id, slen,
			   auth_key_csrf(k), AUTH_KEY_BYTES);
	auth_b62_encode(mac, ret);
	sodium_memzero(mac, sizeof(mac));
}

int auth_csrf_verify(const struct auth_key *k, const char *session_id, size_t slen,
		     const char *token, size_t tlen)
{
	if (!token)
		return -EACCES;
	char want[AUTH_CSRF_LEN + 1];
	auth_csrf_token(k, session_id, slen, want);
	int r = auth_equal(want, AUTH_CSRF_LEN, token, tlen) ? 0 : -EACCES;
	sodium_memzero(want, sizeof(want));
	return r;
}
