/*
 * password.h - user passwords: the policy a new password must meet, argon2id hashes
 * (libsodium's crypto_pwhash_str), verification, and when to re-hash.
 *
 * The stored form is libsodium's self-describing string, e.g.
 *   $argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash>
 * with a random 16-byte salt per hash, so the store keeps one TEXT column and a later change of
 * cost is read from the string itself (auth_password_needs_rehash: re-hash at the next
 * successful login).
 *
 * Cost: OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE (t=2, 64 MiB), 80-95 ms per hash on this
 * 2-core machine (bench/bench_auth.c; MODERATE, t=3 and 256 MiB, takes 0.49-0.54 s). MODERATE's
 * extra cost falls on every login while the server is also scheduling, and its 256 MiB per
 * concurrent login would let a burst of logins take a gigabyte; INTERACTIVE is libsodium's
 * recommendation for online logins and is above OWASP's floor for argon2id (19 MiB, t=2).
 * At most AUTH_PWHASH_CONCURRENCY hashes run at once in a process (others wait their turn), so
 * a flood of logins costs at most 2 x 64 MiB and two cores, never the machine's memory.
 *
 * Limits: a password is 1 to AUTH_PASSWORD_MAX (1024) bytes and contains no NUL byte, always
 * (argon2id's first pass reads every byte, so the ceiling keeps a 1 MB "password" from costing
 * more than a normal one, and a NUL would be cut off by C strings along the way). A new
 * password must also meet the policy: valid UTF-8, at least `min_chars` characters (code
 * points, 12 by default, as NIST SP 800-63B counts them).
 *
 * Thread-safe. Tests lower the cost through auth_pwcost_testonly() passed explicitly to the
 * *_cost functions; the plain functions always use the default cost.
 */
#ifndef GUST_AUTH_PASSWORD_H
#define GUST_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_PASSWORD_MIN_CHARS 12
#define AUTH_PASSWORD_MAX 1024
/* crypto_pwhash_STRBYTES: room for the stored string and its NUL. */
#define AUTH_PWHASH_MAX 128
#define AUTH_PWHASH_CONCURRENCY 2

struct auth_pwcost {
	unsigned long long opslimit;
	size_t memlimit; /* bytes */
};

/* INTERACTIVE: t=2, 64 MiB. */
struct auth_pwcost auth_pwcost_default(void);
/* libsodium's minimum (t=1, 8 KiB): tests only, never a stored hash of a real user. */
struct auth_pwcost auth_pwcost_testonly(void);

/* --- policy for a new password ------------------------------------------------------------ */

/* 0 if `pw` (len bytes) may become a password: no NUL, valid UTF-8, at least `min_chars` code
 * points (0: AUTH_PASSWORD_MIN_CHARS), at most AUTH_PASSWORD_MAX bytes. Else -EINVAL, or
 * -E2BIG when too long, with a malloc'd sentence in *ret_msg (e.g. "the password is 8
 * characters long; at least 12 are needed"), which never quotes the password. */
int auth_password_check(const char *pw, size_t len, size_t min_chars, char **ret_msg);

/* --- hashing and verification -------------------------------------------------------------- */

/* Hash `pw` at the default cost into ret_hash (NUL-terminated). Applies the hard limits only
 * (-EINVAL on a NUL byte or an empty password, -E2BIG over AUTH_PASSWORD_MAX), not the policy:
 * check that first when the password is new. -ENOMEM when argon2 cannot get its memory. */
int auth_password_hash(const char *pw, size_t len, char ret_hash[AUTH_PWHASH_MAX]);
int auth_password_hash_cost(const char *pw, size_t len, const struct auth_pwcost *cost,
			    char ret_hash[AUTH_PWHASH_MAX]);

/* 0 when `pw` matches the stored `hash`; -EACCES when it does not, and also (without hashing)
 * when it is empty, over AUTH_PASSWORD_MAX bytes or contains a NUL, since no stored hash can
 * match those; -EINVAL when `hash` is not an argon2id string of libsodium (a corrupt row:
 * worth a log line, still a refused login). The time spent is that of one hash at the cost
 * recorded in `hash`. */
int auth_password_verify(const char *hash, const char *pw, size_t len);

/* Spend the time of a verification against a default-cost hash and return -EACCES: for a login
 * naming a user that does not exist, so that its answer takes as long as a wrong password's
 * and does not tell which user names exist. */
int auth_password_verify_none(const char *pw, size_t len);

/* 1 when `hash` was made with another cost or algorithm than the default (hash the password
 * again after a successful login and store the new string), 0 when it is current, -EINVAL
 * when it is not a password hash. */
int auth_password_needs_rehash(const char *hash);
int auth_password_needs_rehash_cost(const char *hash, const struct auth_pwcost *cost);

#endif
