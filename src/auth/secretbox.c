/*
 * secretbox.c - the master key file and secrets at rest (secretbox.h).
 *
 * struct auth_key is the master key and its two subkeys, in a page-aligned allocation of one
 * page so that locking it (mlock works on whole pages) neither locks nor, at free, unlocks a
 * neighbour's memory.
 */
#include "auth/secretbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/core.h"
#include "base/util.h"

#define KDF_CONTEXT "gust-key"
#define SUBKEY_SECRETS 1
#define SUBKEY_CSRF 2
#define SECRET_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define BOX_OVERHEAD (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)

_Static_assert(AUTH_KEY_BYTES == crypto_kdf_KEYBYTES, "master key size");
_Static_assert(AUTH_KEY_BYTES == crypto_secretbox_KEYBYTES, "secretbox key size");
_Static_assert(sizeof(KDF_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES, "kdf context size");

struct auth_key {
	uint8_t master[AUTH_KEY_BYTES];
	uint8_t secrets[crypto_secretbox_KEYBYTES];
	uint8_t csrf[AUTH_KEY_BYTES];
	bool locked;
};

/* --- the key in memory --------------------------------------------------------------------- */

static size_t key_alloc_size(void)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t size = page > 0 ? (size_t)page : 4096;
	return size < sizeof(struct auth_key) ? sizeof(struct auth_key) : size;
}

struct auth_key *auth_key_from_bytes(const uint8_t bytes[AUTH_KEY_BYTES])
{
	if (auth_init() < 0)
		return NULL;
	size_t size = key_alloc_size();
	void *p = NULL;
	if (posix_memalign(&p, size, size) != 0)
		die_oom();
	struct auth_key *k = p;
	memset(k, 0, size);
	k->locked = sodium_mlock(k, size) == 0; /* RLIMIT_MEMLOCK may forbid it: then unlocked */
	memcpy(k->master, bytes, AUTH_KEY_BYTES);
	crypto_kdf_derive_from_key(k->secrets, sizeof(k->secrets), SUBKEY_SECRETS, KDF_CONTEXT,
				   k->master);
	crypto_kdf_derive_from_key(k->csrf, sizeof(k->csrf), SUBKEY_CSRF, KDF_CONTEXT, k->master);
	return k;
}

bool auth_key_locked(const struct auth_key *k)
{
	return k->locked;
}

void auth_key_free(struct auth_key *k)
{
	if (!k)
		return;
	size_t size = key_alloc_size();
	if (k->locked)
		sodium_munlock(k, size); /* zeroes, then unlocks */
	else
		sodium_memzero(k, size);
	free(k);
}

const uint8_t *auth_key_csrf(const struct auth_key *k)
{
	return k->csrf;
}

/* --- the key file -------------------------------------------------------------------------- */

/* Read the key from an open file descriptor, after checking what the file is. */
static int key_read(int fd, const char *path, struct auth_key **ret, char **ret_msg)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		*ret_msg = xasprintf("%s: cannot stat the key file: %s", path, strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		*ret_msg = xasprintf("%s: the key file is not a regular file", path);
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		*ret_msg = xasprintf("%s: mode %04o lets the group or others read or change the "
				     "key; make it private with chmod 600 %s",
				     path, (unsigned)(st.st_mode & 07777), path);
		return -EPERM;
	}
	if (st.st_size != AUTH_KEY_BYTES) {
		*ret_msg = xasprintf("%s: the key file is %lld bytes long; a key is exactly %d "
				     "random bytes (a damaged or foreign file: restore it from a "
				     "backup, or every encrypted secret is lost)",
				     path, (long long)st.st_size, AUTH_KEY_BYTES);
		return -EINVAL;
	}
	uint8_t bytes[AUTH_KEY_BYTES];
	size_t got = 0;
	while (got < sizeof(bytes)) {
		ssize_t n = read(fd, bytes + got, sizeof(bytes) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			sodium_memzero(bytes, sizeof(bytes));
			*ret_msg = xasprintf("%s: cannot read the key file: %s", path, strerror(e));
			return -e;
		}
		got += (size_t)n;
	}
	*ret = auth_key_from_bytes(bytes);
	sodium_memzero(bytes, sizeof(bytes));
	if (!*ret) {
		*ret_msg = xasprintf("%s: libsodium cannot initialise", path);
		return -EIO;
	}
	return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fsync the folder that holds `path`, so that a new name in it survives a crash. */
static int fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir =
	    slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* Put a new random key at `path` unless a file is there already (then that one stays). */
static int key_create(const char *path, char **ret_msg)
{
	uint8_t rnd[4];
	randombytes_buf(rnd, sizeof(rnd));
	char *tmp = xasprintf("%s.tmp.%ld.%02x%02x%02x%02x", path, (long)getpid(), rnd[0], rnd[1],
			      rnd[2], rnd[3]);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int e = errno;
		*ret_msg = xasprintf("%s: cannot create the key file: %s", path, strerror(e));
		free(tmp);
		return -e;
	}
	uint8_t key[AUTH_KEY_BYTES];
	randombytes_buf(key, sizeof(key));
	int r = fchmod(fd, 0600) < 0 ? -errno : 0; /* whatever the umask did */
	if (r == 0)
		r = write_all(fd, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && link(tmp, path) < 0) {
		r = -errno;
		if (r == -EEXIST)
			r = 0; /* another process made it first: use theirs */
		else if (r == -EPERM || r == -EOPNOTSUPP || r == -ENOSYS) {
			/* A file system without hard links: the same no-replace rule by rename. */
			r = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0 ? -errno
											   : 0;
			if (r == -EEXIST)
				r = 0;
		}
	}
	unlink(tmp);
	free(tmp);
	if (r == 0)
		r = fsync_parent(path);
	if (r < 0)
		*ret_msg = xasprintf("%s: cannot create the key file: %s", path, strerror(-r));
	return r;
}

int auth_key_open(const char *path, struct auth_key **ret, char **ret_msg)
{
	if (auth_init() < 0) {
		*ret_msg = xasprintf("%s: libsodium cannot initialise", path);
		return -EIO;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		int r = key_create(path, ret_msg);
		if (r < 0)
			return r;
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		int e = errno;
		*ret_msg = xasprintf("%s: cannot open the key file: %s", path, strerror(e));
		return -e;
	}
	int r = key_read(fd, path, ret, ret_msg);
	close(fd);
	return r;
}

/* --- secrets at rest ----------------------------------------------------------------------- */

int auth_secret_encrypt(const struct auth_key *k, const void *plain, size_t len, char **ret_text)
{
	if (len > AUTH_SECRET_MAX)
		return -EMSGSIZE;
	size_t blen = BOX_OVERHEAD + len;
	uint8_t *box = xmalloc(blen);
	randombytes_buf(box, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, plain, len, box, k->secrets);
	size_t plen = sizeof(AUTH_SECRET_PREFIX) - 1;
	size_t tlen = plen + sodium_base64_encoded_len(blen, SECRET_VARIANT); /* with its NUL */
	char *text = xmalloc(tlen);
	memcpy(text, AUTH_SECRET_PREFIX, plen);
	sodium_bin2base64(text + plen, tlen - plen, box, blen, SECRET_VARIANT);
	free(box); /* ciphertext and a public nonce: nothing to wipe */
	*ret_text = text;
	return 0;
}

bool auth_secret_is_encrypted(const char *text, size_t len)
{
	if (len < 3 || text[0] != 'v')
		return false;
	size_t i = 1;
	while (i < len && text[i] >= '0' && text[i] <= '9')
		i++;
	return i > 1 && i < len && text[i] == ':';
}

int auth_secret_decrypt(const struct auth_key *k, const char *text, size_t len, char **ret_plain,
			size_t *ret_len)
{
	size_t plen = sizeof(AUTH_SECRET_PREFIX) - 1;
	if (len < plen || memcmp(text, AUTH_SECRET_PREFIX, plen) != 0)
		return auth_secret_is_encrypted(text, len) ? -EPROTONOSUPPORT : -EINVAL;
	const char *b64 = text + plen;
	size_t b64len = len - plen;
	/* The encoded length of the largest box, without its NUL. */
	if (b64len >= sodium_base64_encoded_len(BOX_OVERHEAD + AUTH_SECRET_MAX, SECRET_VARIANT))
		return -EINVAL;
	size_t maxlen = b64len / 4 * 3 + 3;
	uint8_t *box = xmalloc(maxlen);
	size_t blen = 0;
	const char *end = NULL;
	if (sodium_base642bin(box, maxlen, b64, b64len, NULL, &blen, &end, SECRET_VARIANT) != 0 ||
	    end != b64 + b64len || blen < BOX_OVERHEAD) {
		free(box);
		return -EINVAL;
	}
	size_t mlen = blen - BOX_OVERHEAD;
	char *plain = xmalloc(mlen + 1);
	if (crypto_secretbox_open_easy((uint8_t *)plain, box + crypto_secretbox_NONCEBYTES,
				       blen - crypto_secretbox_NONCEBYTES, box, k->secrets) != 0) {
		free(box);
		auth_wipe_free(plain, mlen + 1);
		return -EBADMSG;
	}
	free(box);
	plain[mlen] = '\0';
	*ret_plain = plain;
	*ret_len = mlen;
	return 0;
}
