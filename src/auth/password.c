/*
 * password.c - argon2id password hashes and the password policy (password.h).
 *
 * A process-wide gate (a counter under a mutex, with a condition variable) lets at most
 * AUTH_PWHASH_CONCURRENCY argon2 computations run at once; the others wait in turn. It is the
 * one piece of global state in src/auth, and it has to be: the memory it protects is the
 * process's. auth_password_verify_none() verifies against a fixed hash of a random password
 * that nobody knows (made once with the default cost; test_auth checks it is still current).
 */
#include "auth/password.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "auth/core.h"
#include "base/util.h"

/* A hash at the default cost of 32 random bytes, hex-encoded, then thrown away. */
static const char pw_dummy_hash[] = "$argon2id$v=19$m=65536,t=2,p=1$tw5MLJipoIGjG74u+Map/w$"
				    "0SeRqz0CYHT6xNPGPJZolTgtOjpxmMVtKhbx1qZ5hrY";

_Static_assert(crypto_pwhash_STRBYTES <= AUTH_PWHASH_MAX, "AUTH_PWHASH_MAX is too small");

static pthread_mutex_t pw_gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pw_gate_cond = PTHREAD_COND_INITIALIZER;
static int pw_gate_busy;

static void pw_gate_enter(void)
{
	pthread_mutex_lock(&pw_gate_lock);
	while (pw_gate_busy >= AUTH_PWHASH_CONCURRENCY)
		pthread_cond_wait(&pw_gate_cond, &pw_gate_lock);
	pw_gate_busy++;
	pthread_mutex_unlock(&pw_gate_lock);
}

static void pw_gate_leave(void)
{
	pthread_mutex_lock(&pw_gate_lock);
	pw_gate_busy--;
	pthread_cond_signal(&pw_gate_cond);
	pthread_mutex_unlock(&pw_gate_lock);
}

struct auth_pwcost auth_pwcost_default(void)
{
	return (struct auth_pwcost){crypto_pwhash_OPSLIMIT_INTERACTIVE,
				    crypto_pwhash_MEMLIMIT_INTERACTIVE};
}

struct auth_pwcost auth_pwcost_testonly(void)
{
	return (struct auth_pwcost){crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

/* Code points in a valid UTF-8 string, or -1 when `s` is not valid UTF-8 (overlong forms,
 * surrogates and values above U+10FFFF are invalid). */
static long utf8_count(const unsigned char *s, size_t len)
{
	long n = 0;
	size_t i = 0;
	while (i < len) {
		unsigned c = s[i];
		size_t need;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			n++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			need = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return -1;
		}
		if (len - i - 1 < need)
			return -1;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		i += need + 1;
		n++;
	}
	return n;
}

int auth_password_check(const char *pw, size_t len, size_t min_chars, char **ret_msg)
{
	if (min_chars == 0)
		min_chars = AUTH_PASSWORD_MIN_CHARS;
	if (len > AUTH_PASSWORD_MAX) {
		*ret_msg = xasprintf("the password is longer than %d bytes", AUTH_PASSWORD_MAX);
		return -E2BIG;
	}
	if (memchr(pw, '\0', len)) {
		*ret_msg = xstrdup("the password contains a NUL byte");
		return -EINVAL;
	}
	long chars = utf8_count((const unsigned char *)pw, len);
	if (chars < 0) {
		*ret_msg = xstrdup("the password is not valid UTF-8");
		return -EINVAL;
	}
	if ((size_t)chars < min_chars) {
		*ret_msg =
		    xasprintf("the password is %ld character%s long; at least %zu are needed",
			      chars, chars == 1 ? "" : "s", min_chars);
		return -EINVAL;
	}
	return 0;
}

/* The limits every password meets, whatever the policy: 0, -EINVAL or -E2BIG. */
static int pw_hard_limits(const char *pw, size_t len)
{
	if (len > AUTH_PASSWORD_MAX)
		return -E2BIG;
	if (len == 0 || memchr(pw, '\0', len))
		return -EINVAL;
	return 0;
}

int auth_password_hash_cost(const char *pw, size_t len, const struct auth_pwcost *cost,
			    char ret_hash[AUTH_PWHASH_MAX])
{
	int r = pw_hard_limits(pw, len);
	if (r < 0)
		return r;
	if ((r = auth_init()) < 0)
		return r;
	char out[crypto_pwhash_STRBYTES];
	pw_gate_enter();
	r = crypto_pwhash_str_alg(out, pw, len, cost->opslimit, cost->memlimit,
				  crypto_pwhash_ALG_ARGON2ID13);
	pw_gate_leave();
	if (r != 0)
		return -ENOMEM; /* the only way it fails with valid limits */
	memcpy(ret_hash, out, sizeof(out));
	return 0;
}

int auth_password_hash(const char *pw, size_t len, char ret_hash[AUTH_PWHASH_MAX])
{
	struct auth_pwcost cost = auth_pwcost_default();
	return auth_password_hash_cost(pw, len, &cost, ret_hash);
}

/* Whether `hash` is a NUL-terminated argon2 string libsodium can read. */
static bool pw_hash_wellformed(const char *hash)
{
	if (strnlen(hash, AUTH_PWHASH_MAX) >= AUTH_PWHASH_MAX)
		return false;
	if (!str_has_prefix(hash, "$argon2id$") && !str_has_prefix(hash, "$argon2i$"))
		return false;
	/* needs_rehash decodes the whole string and answers -1 when it cannot. */
	struct auth_pwcost c = auth_pwcost_default();
	return crypto_pwhash_str_needs_rehash(hash, c.opslimit, c.memlimit) >= 0;
}

int auth_password_verify(const char *hash, const char *pw, size_t len)
{
	int r = auth_init();
	if (r < 0)
		return r;
	if (!pw_hash_wellformed(hash))
		return -EINVAL;
	if (pw_hard_limits(pw, len) < 0)
		return -EACCES;
	pw_gate_enter();
	r = crypto_pwhash_str_verify(hash, pw, len);
	pw_gate_leave();
	return r == 0 ? 0 : -EACCES;
}

int auth_password_verify_none(const char *pw, size_t len)
{
	int r = auth_password_verify(pw_dummy_hash, pw, len);
	return r == -EINVAL ? r : -EACCES;
}

int auth_password_needs_rehash_cost(const char *hash, const struct auth_pwcost *cost)
{
	int r = auth_init();
	if (r < 0)
		return r;
	if (!pw_hash_wellformed(hash))
		return -EINVAL;
	if (!str_has_prefix(hash, "$argon2id$"))
		return 1; /* argon2i: still verifies, but the default is argon2id */
	r = crypto_pwhash_str_needs_rehash(hash, cost->opslimit, cost->memlimit);
	return r < 0 ? -EINVAL : r;
}

int auth_password_needs_rehash(const char *hash)
{
	struct auth_pwcost cost = auth_pwcost_default();
	return auth_password_needs_rehash_cost(hash, &cost);
}
