/*
 * fuzz_auth.c - libFuzzer target for src/auth's parsers: API tokens and base62, encrypted
 * secrets, log masking, the password policy and role names.
 *
 * Byte 0 picks what the rest (the text) goes to:
 *   0  auth_token_check: 0 only for the canonical text of some 32 bytes (re-encoding the bytes
 *      gives the input back), which then verifies against its own hash and stops verifying when
 *      any character after the prefix changes; -EBADMSG only for a right-shaped text; the same
 *      answer from auth_token_verify. A 43-byte text goes to auth_b62_decode too (canonical).
 *   1  auth_secret_decrypt under a fixed key: one of its four documented answers, the plaintext
 *      NUL-terminated, the output untouched on error; a text that decrypts re-encrypts to one
 *      that decrypts the same; and the text itself, encrypted as a value, comes back whole.
 *   2  masking: the text split at 0x01 into secrets and a last part, the line; the result must
 *      equal a brute-force reference (every byte of every occurrence, runs as one ***), with
 *      dense tables of three sizes (the root row alone, a few rows, 64 KiB).
 *   3  auth_password_check and auth_role_parse: no crash; an accepted password is within the
 *      limits; a parsed role prints as its input.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/core.h"
#include "auth/mask.h"
#include "auth/password.h"
#include "auth/role.h"
#include "auth/secretbox.h"
#include "auth/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static const char B62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static void fuzz_token(const char *s, size_t len)
{
	uint8_t bytes[AUTH_SECRET_BYTES];
	int r = auth_token_check(s, len, bytes);
	char h[AUTH_HASH_HEX_LEN + 1];
	auth_hash_hex(s, len, h);
	CHECK(auth_token_verify(s, len, h) == r);
	if (r == 0) {
		struct auth_token t;
		auth_token_from_bytes(bytes, &t);
		CHECK(len == AUTH_TOKEN_LEN && memcmp(t.text, s, len) == 0);
		CHECK(strcmp(t.hash, h) == 0);
		char m[AUTH_TOKEN_LEN];
		memcpy(m, s, len);
		size_t at =
		    AUTH_TOKEN_PREFIX_LEN + bytes[0] % (AUTH_TOKEN_LEN - AUTH_TOKEN_PREFIX_LEN);
		m[at] = B62[(strchr(B62, m[at]) - B62 + 1 + bytes[1] % 61) % 62];
		CHECK(auth_token_check(m, len, NULL) < 0);
		CHECK(auth_token_verify(m, len, h) < 0);
	} else {
		CHECK(r == -EINVAL || r == -EBADMSG);
		if (r == -EBADMSG)
			CHECK(len == AUTH_TOKEN_LEN && memcmp(s, AUTH_TOKEN_PREFIX, 5) == 0 &&
			      auth_b62_wellformed(s + 5, AUTH_B62_LEN));
	}
	if (len == AUTH_B62_LEN) {
		uint8_t b[AUTH_SECRET_BYTES];
		char back[AUTH_B62_LEN + 1];
		if (auth_b62_decode(s, len, b) == 0) {
			auth_b62_encode(b, back);
			CHECK(memcmp(back, s, len) == 0);
			CHECK(auth_b62_wellformed(s, len));
		}
	}
}

static struct auth_key *fuzz_key(void)
{
	static struct auth_key *k;
	if (!k) {
		uint8_t b[AUTH_KEY_BYTES];
		for (int i = 0; i < AUTH_KEY_BYTES; i++)
			b[i] = (uint8_t)(i * 3 + 1);
		k = auth_key_from_bytes(b);
	}
	return k;
}

static void fuzz_secret(const char *s, size_t len)
{
	struct auth_key *k = fuzz_key();
	char *plain = (char *)B62;
	size_t plen = 12345;
	int r = auth_secret_decrypt(k, s, len, &plain, &plen);
	CHECK(r == 0 || r == -EINVAL || r == -EPROTONOSUPPORT || r == -EBADMSG);
	if (r == -EPROTONOSUPPORT)
		CHECK(auth_secret_is_encrypted(s, len));
	if (r != 0) {
		CHECK(plain == B62 && plen == 12345);
	} else {
		CHECK(plain[plen] == '\0');
		char *again = NULL, *p2 = NULL;
		size_t l2 = 0;
		CHECK(auth_secret_encrypt(k, plain, plen, &again) == 0);
		CHECK(auth_secret_decrypt(k, again, strlen(again), &p2, &l2) == 0);
		CHECK(l2 == plen && memcmp(p2, plain, plen) == 0);
		free(again);
		auth_wipe_free(p2, l2);
		auth_wipe_free(plain, plen);
	}
	char *enc = NULL, *dec = NULL;
	size_t dlen = 0;
	CHECK(auth_secret_encrypt(k, s, len, &enc) == 0);
	CHECK(auth_secret_decrypt(k, enc, strlen(enc), &dec, &dlen) == 0);
	CHECK(dlen == len && memcmp(dec, s, len) == 0);
	free(enc);
	auth_wipe_free(dec, dlen);
}

/* The reference masker: secrets split at line breaks as auth_mask_new does. */
static size_t mask_reference(char **secrets, size_t n, const char *line, size_t len, char *out)
{
	bool *cov = calloc(len + 1, 1);
	for (size_t k = 0; k < n; k++) {
		const char *p = secrets[k];
		for (;;) {
			size_t sl = strcspn(p, "\r\n");
			if (sl >= AUTH_MASK_MIN)
				for (size_t i = 0; i + sl <= len; i++)
					if (memcmp(line + i, p, sl) == 0)
						memset(cov + i, 1, sl);
			if (!p[sl])
				break;
			p += sl + 1;
		}
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

static void fuzz_mask(const char *s, size_t len)
{
	char *secrets[64];
	size_t n = 0, start = 0;
	for (size_t i = 0; i < len && n < 64; i++) {
		if (s[i] != '\x01')
			continue;
		secrets[n] = strndup(s + start, i - start);
		n++;
		start = i + 1;
	}
	const char *line = s + start;
	size_t llen = len - start;
	char *want = malloc(llen + 3), *work = malloc(llen + 1);
	size_t wlen = mask_reference(secrets, n, line, llen, want);
	/* The root's row alone (all sparse), a few rows (both paths), room for all (as the
	 * default 512 KiB is for inputs of this size, at a fraction of the cost of filling it). */
	static const size_t budgets[] = {1, 2048, 64 * 1024};
	for (size_t b = 0; b < sizeof(budgets) / sizeof(budgets[0]); b++) {
		struct auth_mask *m =
		    auth_mask_new_sized((const char *const *)secrets, n, budgets[b]);
		memcpy(work, line, llen);
		size_t got;
		size_t runs = auth_mask_line(m, work, llen, &got);
		CHECK(got == wlen && memcmp(work, want, got) == 0);
		CHECK((runs == 0) == (got == llen && memcmp(work, line, llen) == 0));
		auth_mask_free(m);
	}
	free(want);
	free(work);
	for (size_t k = 0; k < n; k++)
		free(secrets[k]);
}

static void fuzz_policy(const char *s, size_t len)
{
	char *msg = NULL;
	size_t min = len ? (unsigned char)s[0] % 40 : 0;
	int r = auth_password_check(s, len, min, &msg);
	if (r == 0) {
		CHECK(msg == NULL && len <= AUTH_PASSWORD_MAX && !memchr(s, '\0', len));
	} else {
		CHECK((r == -EINVAL || r == -E2BIG) && msg && msg[0]);
		free(msg);
	}
	char *z = strndup(s, len);
	enum auth_role role = AUTH_ROLE_NONE;
	if (auth_role_parse(z, &role) == 0)
		CHECK(strcmp(auth_role_name(role), z) == 0 && auth_role_allows(role, role));
	else
		CHECK(role == AUTH_ROLE_NONE);
	free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 8192)
		return 0;
	const char *s = (const char *)data + 1;
	size_t len = size - 1;
	switch (data[0] % 4) {
	case 0:
		fuzz_token(s, len);
		break;
	case 1:
		fuzz_secret(s, len);
		break;
	case 2:
		fuzz_mask(s, len);
		break;
	default:
		fuzz_policy(s, len);
		break;
	}
	return 0;
}
