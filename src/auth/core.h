/*
 * core.h - what every part of src/auth shares: libsodium's one-time initialisation, the
 * constant-time comparison, the base62 text form of a 32-byte secret, and the BLAKE2b hash
 * under which the store keeps tokens and session ids.
 *
 * src/auth holds the security primitives of the HTTP API (issue 10, parts 5 and 6), pure
 * functions over libsodium with no I/O except the key file (secretbox.h). It decides nothing
 * about users or routes: the store keeps what these functions produce, the HTTP layer calls
 * them. docs/security.md describes the whole on one page.
 *
 *   core.h       init, constant-time equality, base62, BLAKE2b-256 hex
 *   password.h   argon2id password hashes and the password policy
 *   token.h      API tokens (gust_...), session ids, CSRF tokens
 *   role.h       viewer < operator < editor < admin
 *   ratelimit.h  failed-login limiter per user and per remote address
 *   secretbox.h  the master key file and secrets encrypted at rest
 *   mask.h       `***` in place of secret values in log lines
 *
 * Every function that needs libsodium calls auth_init() itself, so no caller can forget it.
 * Errors are negative errno values, as everywhere in gust.
 */
#ifndef GUST_AUTH_CORE_H
#define GUST_AUTH_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Random secrets (tokens, session ids, keys) are 32 bytes: 256 bits. */
#define AUTH_SECRET_BYTES 32
/* Their base62 form has a fixed width: 43 characters (62^43 > 2^256 > 62^42). */
#define AUTH_B62_LEN 43
/* BLAKE2b-256 as lower-case hex: 64 digits. */
#define AUTH_HASH_HEX_LEN 64

/* sodium_init() once per process (pthread_once, so any thread may call it first). 0, or -EIO
 * when libsodium cannot initialise (no usable random source). Cheap after the first call. */
int auth_init(void);

/* Constant-time equality of two byte strings (sodium_memcmp): the time depends on the lengths
 * only, never on where the bytes differ. Lengths are not secret here (every token, session id
 * and hash of one kind has the same length), so different lengths return false at once. */
bool auth_equal(const void *a, size_t alen, const void *b, size_t blen);

/* The 32 bytes as a big-endian number in base62 (0-9, A-Z, a-z), always AUTH_B62_LEN
 * characters (leading '0's), NUL-terminated. URL-safe, no padding, selectable by a double
 * click; the digit mapping has no table look-up and no branch on the secret. */
void auth_b62_encode(const uint8_t bin[AUTH_SECRET_BYTES], char ret[AUTH_B62_LEN + 1]);
/* The base62 character of digit d (0-61), by arithmetic on d alone. */
static inline char auth_b62_digit(unsigned d)
{
	/* 1 when d > 9, 1 when d > 35: the sign bit of a difference, no comparison. */
	unsigned over9 = (unsigned)(9 - (int)d) >> 31, over35 = (unsigned)(35 - (int)d) >> 31;
	return (char)('0' + d + over9 * ('A' - '9' - 1) + over35 * ('a' - 'Z' - 1));
}
/* The reverse: exactly AUTH_B62_LEN base62 characters whose value is below 2^256. 0, or
 * -EINVAL (*ret untouched). */
int auth_b62_decode(const char *text, size_t len, uint8_t ret[AUTH_SECRET_BYTES]);
/* Whether `len` bytes at `text` are AUTH_B62_LEN base62 characters (the value unchecked). */
bool auth_b62_wellformed(const char *text, size_t len);

/* BLAKE2b-256 (crypto_generichash, unkeyed) of `data` as 64 lower-case hex digits. The stored
 * form of an API token or a session id: a 256-bit random value needs no salt and no slow
 * hash, since nobody can enumerate its inputs. */
void auth_hash_hex(const void *data, size_t len, char ret[AUTH_HASH_HEX_LEN + 1]);

/* Zero `len` bytes at p (sodium_memzero: not optimised away), then free(p). NULL is fine. */
void auth_wipe_free(void *p, size_t len);

#endif
