/*
 * secretbox.h - the master key (GUST_HOME/secret.key) and secret values encrypted at rest.
 *
 * The key file holds exactly 32 random bytes, nothing else, mode 0600. auth_key_open()
 * creates it when it is missing: the bytes go to a temporary file made with O_EXCL and mode
 * 0600, are fsync'ed, and the file is hard-linked to its name (link() fails when the name
 * exists, so when the server and a command create it at the same moment, one key wins and
 * both use it; rename() would let the second silently replace a key already in use), then the
 * folder is fsync'ed. An existing file is refused, with a sentence naming the fix, when it is
 * not a regular file, when its mode lets the group or others read or write it, or when its
 * size is not 32 bytes. Losing this file loses every secret encrypted with it: back it up with
 * the store.
 *
 * In memory the key lives in a page of its own, locked with sodium_mlock() (kept out of swap
 * and core dumps) when the process may lock memory, silently unlocked otherwise; it is zeroed
 * when freed. Two subkeys are derived from it with crypto_kdf (BLAKE2b, context "gust-key"):
 * 1 encrypts secrets, 2 keys the CSRF tokens of token.h; the master key itself encrypts
 * nothing, so neither use can be turned against the other.
 *
 * A secret at rest is the text "v1:" + base64url (no padding) of
 *   nonce (24 random bytes) || crypto_secretbox_easy(plaintext) (XSalsa20-Poly1305: the
 *   ciphertext and its 16-byte tag)
 * A random 24-byte nonce per value never repeats in practice (2^96 values before a collision
 * is likely). The version prefix lets a later format (another cipher, additional data) live
 * beside v1. Decryption fails cleanly on any change: a flipped byte, a truncated value, another
 * key. The format does not bind a value to its name: whoever can write the store can swap two
 * encrypted values (but cannot read or forge one).
 *
 * Thread-safe: a key is read-only after auth_key_open().
 */
#ifndef GUST_AUTH_SECRETBOX_H
#define GUST_AUTH_SECRETBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_KEY_FILE "secret.key"
#define AUTH_KEY_BYTES 32
#define AUTH_SECRET_PREFIX "v1:"
/* Largest plaintext encrypt and decrypt accept (a secret variable, a connection URI). */
#define AUTH_SECRET_MAX (1024 * 1024)

struct auth_key;

/* --- the key ------------------------------------------------------------------------------- */

/* Read the key file at `path` (normally GUST_HOME/secret.key), creating it first when it does
 * not exist; its folder must exist. 0 and a new key in *ret; else a negative errno and a
 * malloc'd sentence in *ret_msg that names the path:
 *   -EPERM   mode lets group or others in ("...: mode 0644 lets others read the key; make it
 *            private with chmod 600 PATH")
 *   -EINVAL  not a regular file, or not 32 bytes long
 *   other    the open, read or create failed (the errno of the call) */
int auth_key_open(const char *path, struct auth_key **ret, char **ret_msg);
/* A key from 32 bytes (tests, tools). */
struct auth_key *auth_key_from_bytes(const uint8_t bytes[AUTH_KEY_BYTES]);
/* Whether mlock succeeded (a server may say so once in its log). */
bool auth_key_locked(const struct auth_key *k);
/* Zero and release. NULL is fine. */
void auth_key_free(struct auth_key *k);

/* The 32-byte subkey that keys CSRF tokens (token.h). */
const uint8_t *auth_key_csrf(const struct auth_key *k);

/* --- secrets at rest ----------------------------------------------------------------------- */

/* Encrypt `len` bytes: 0 and a malloc'd NUL-terminated "v1:..." text in *ret_text (ASCII,
 * safe in a TEXT column, in JSON and in a log line), or -EMSGSIZE over AUTH_SECRET_MAX. */
int auth_secret_encrypt(const struct auth_key *k, const void *plain, size_t len, char **ret_text);
/* Decrypt `len` bytes of such a text: 0, a malloc'd plaintext in *ret_plain with a NUL after
 * its *ret_len bytes (free it with auth_wipe_free(p, len) from core.h); else *ret_plain is
 * untouched and:
 *   -EINVAL           not "v1:" + base64url of at least a nonce and a tag; or too long
 *   -EPROTONOSUPPORT  a "vN:" prefix of another version
 *   -EBADMSG          the value was changed, or was encrypted with another key */
int auth_secret_decrypt(const struct auth_key *k, const char *text, size_t len, char **ret_plain,
			size_t *ret_len);
/* Whether `text` starts like an encrypted value of some version ("v" digits ":"). */
bool auth_secret_is_encrypted(const char *text, size_t len);

#endif
