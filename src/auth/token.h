/*
 * token.h - the random secrets of the HTTP API: API tokens, session ids, CSRF tokens.
 *
 * An API token is 54 characters:
 *
 *   gust_ + base62 of 32 random bytes (43 characters) + CRC-32 of the first 48 (6 base62)
 *   gust_HoECbEwA1ZuNCdbeuvKpBJekWczrtVjGMH1HH4iN82F03jt3C   (display form: gust_HoECbEwA)
 *
 * The prefix lets secret scanners and people recognise a leaked token; base62 survives URLs,
 * shells and double-click selection; the checksum (CRC-32, as GitHub's tokens use) catches
 * every single-character typo and every swap of two neighbours, and lets a scanner tell a real
 * token from a random string of the same shape, all without a look-up in the store. The first
 * 13 characters (gust_ + 8; about 48 of the 256 random bits) are the token's display form,
 * safe to show in `gust tokens list` and the audit log so people can tell their tokens apart.
 *
 * The store keeps only auth_hash_hex() of the token (BLAKE2b-256, 64 hex digits), never the
 * token: it is shown once, at creation. To authenticate a request, check its shape and
 * checksum (auth_token_check: rejects garbage without touching the store), hash it, find the
 * row by that hash, and compare in constant time (auth_token_verify). Finding the row by the
 * hash leaks nothing useful through timing: the hash of an unknown 256-bit secret cannot be
 * steered.
 *
 * A session id is 43 base62 characters (32 random bytes), the value of the session cookie;
 * the store keeps its hash the same way, so a copy of the database opens no session.
 *
 * A CSRF token is BLAKE2b-256 keyed with the CSRF subkey of the master key (secretbox.h) over
 * the session id, in base62: bound to its session (another session's token fails), the same
 * for the life of the session, and stored nowhere; the server sends it in the login answer and
 * a browser sends it back in a header on every cookie-authenticated write.
 */
#ifndef GUST_AUTH_TOKEN_H
#define GUST_AUTH_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "auth/core.h"

struct auth_key;

#define AUTH_TOKEN_PREFIX "gust_"
#define AUTH_TOKEN_PREFIX_LEN 5
#define AUTH_TOKEN_CHECK_LEN 6
#define AUTH_TOKEN_LEN (AUTH_TOKEN_PREFIX_LEN + AUTH_B62_LEN + AUTH_TOKEN_CHECK_LEN) /* 54 */
#define AUTH_TOKEN_DISPLAY_LEN (AUTH_TOKEN_PREFIX_LEN + 8)			     /* 13 */
#define AUTH_SESSION_ID_LEN AUTH_B62_LEN					     /* 43 */
#define AUTH_CSRF_LEN AUTH_B62_LEN						     /* 43 */

/* A new token: its text (shown once), its stored hash, its display form. */
struct auth_token {
	char text[AUTH_TOKEN_LEN + 1];
	char hash[AUTH_HASH_HEX_LEN + 1];
	char display[AUTH_TOKEN_DISPLAY_LEN + 1];
};

/* --- API tokens ---------------------------------------------------------------------------- */

/* Make a token from 32 random bytes. 0, or -EIO when libsodium cannot initialise. Wipe *ret
 * (auth_token_wipe) once the text has been shown. */
int auth_token_new(struct auth_token *ret);
/* The token of 32 given bytes (tests, the fuzz target): what auth_token_new does after
 * drawing them. */
void auth_token_from_bytes(const uint8_t bytes[AUTH_SECRET_BYTES], struct auth_token *ret);
void auth_token_wipe(struct auth_token *t);

/* Whether `len` bytes at `s` are a token: 0; -EINVAL when it does not have a token's shape
 * (length, prefix, alphabet, a value above 2^256); -EBADMSG when the shape is right but the
 * checksum is not (a typo, or a string made to look like a token). With ret_bytes non-NULL,
 * the 32 random bytes go there on success. */
int auth_token_check(const char *s, size_t len, uint8_t *ret_bytes);
/* 0 when `s` is a well-formed token whose hash equals `stored_hash` (64 hex digits), compared
 * in constant time; the errors of auth_token_check; -EACCES when the hashes differ. */
int auth_token_verify(const char *s, size_t len, const char *stored_hash);
/* The display form of any string (its first AUTH_TOKEN_DISPLAY_LEN bytes, fewer if shorter),
 * for a token read back from a request, e.g. to name a refused one in the audit log. */
void auth_token_display(const char *s, size_t len, char ret[AUTH_TOKEN_DISPLAY_LEN + 1]);

/* --- sessions and CSRF --------------------------------------------------------------------- */

/* A new session id (43 base62 characters and a NUL). 0 or -EIO. Store auth_hash_hex(id). */
int auth_session_new(char ret[AUTH_SESSION_ID_LEN + 1]);
/* Whether `len` bytes at `s` have a session id's shape: reject before hashing and looking up. */
bool auth_session_wellformed(const char *s, size_t len);
/* 0 when the session id (`slen` bytes) hashes to `stored_hash` in constant time; -EINVAL for
 * a malformed id; -EACCES otherwise. */
int auth_session_verify(const char *s, size_t slen, const char *stored_hash);

/* The CSRF token of a session: 43 base62 characters and a NUL. */
void auth_csrf_token(const struct auth_key *k, const char *session_id, size_t slen,
		     char ret[AUTH_CSRF_LEN + 1]);
/* 0 when `token` (`tlen` bytes) is the CSRF token of that session, compared in constant time;
 * -EACCES otherwise (including a missing or malformed token). */
int auth_csrf_verify(const struct auth_key *k, const char *session_id, size_t slen,
		     const char *token, size_t tlen);

#endif
