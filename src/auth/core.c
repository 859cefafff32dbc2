/*
 * core.c - libsodium's initialisation, constant-time equality, base62 and the storage hash
 * (core.h).
 *
 * Base62 works on the 32 bytes as one big-endian number: encoding divides a copy of it by 62,
 * 43 times, each division a pass over the 32 bytes with the remainder carried down; decoding
 * multiplies by 62 and adds each digit, carrying up, and any carry out of the top byte means
 * the value did not fit in 256 bits. Digits map to characters with arithmetic on the digit
 * (no table indexed by a secret, no branch on it), and back the same way.
 */
#include "auth/core.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t auth_once = PTHREAD_ONCE_INIT;
static int auth_init_result;

static void auth_init_once(void)
{
	/* sodium_init: 0 initialised now, 1 already (by another library in the process), -1 no
	 * usable random source. */
	auth_init_result = sodium_init() < 0 ? -EIO : 0;
}

int auth_init(void)
{
	pthread_once(&auth_once, auth_init_once);
	return auth_init_result;
}

bool auth_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	if (alen != blen)
		return false;
	if (alen == 0)
		return true;
	return sodium_memcmp(a, b, alen) == 0;
}

/* The digit of character c; when c is not base62, 0 and *bad set (no branch either way). */
static inline unsigned b62_value(unsigned char c, unsigned *bad)
{
	unsigned is_digit = (unsigned)(c - '0') < 10, is_upper = (unsigned)(c - 'A') < 26,
		 is_lower = (unsigned)(c - 'a') < 26;
	*bad |= 1u ^ (is_digit | is_upper | is_lower);
	return is_digit * (unsigned)(c - '0') + is_upper * (unsigned)(c - 'A' + 10) +
	       is_lower * (unsigned)(c - 'a' + 36);
}

void auth_b62_encode(const uint8_t bin[AUTH_SECRET_BYTES], char ret[AUTH_B62_LEN + 1])
{
	uint8_t n[AUTH_SECRET_BYTES];
	memcpy(n, bin, sizeof(n));
	for (int k = AUTH_B62_LEN - 1; k >= 0; k--) {
		unsigned rem = 0;
		for (size_t j = 0; j < sizeof(n); j++) {
			unsigned acc = rem * 256u + n[j];
			n[j] = (uint8_t)(acc / 62u);
			rem = acc % 62u;
		}
		ret[k] = auth_b62_digit(rem);
	}
	ret[AUTH_B62_LEN] = '\0';
	sodium_memzero(n, sizeof(n));
}

int auth_b62_decode(const char *text, size_t len, uint8_t ret[AUTH_SECRET_BYTES])
{
	if (len != AUTH_B62_LEN)
		return -EINVAL;
	uint8_t n[AUTH_SECRET_BYTES] = {0};
	unsigned bad = 0, overflow = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned carry = b62_value((unsigned char)text[i], &bad);
		for (int j = AUTH_SECRET_BYTES - 1; j >= 0; j--) {
			unsigned t = n[j] * 62u + carry;
			n[j] = (uint8_t)t;
			carry = t >> 8;
		}
		overflow |= carry;
	}
	if (bad || overflow) {
		sodium_memzero(n, sizeof(n));
		return -EINVAL;
	}
	memcpy(ret, n, sizeof(n));
	sodium_memzero(n, sizeof(n));
	return 0;
}

bool auth_b62_wellformed(const char *text, size_t len)
{
	if (len != AUTH_B62_LEN)
		return false;
	unsigned bad = 0;
	for (size_t i = 0; i < len; i++)
		b62_value((unsigned char)text[i], &bad);
	return !bad;
}

void auth_hash_hex(const void *data, size_t len, char ret[AUTH_HASH_HEX_LEN + 1])
{
	uint8_t h[AUTH_HASH_HEX_LEN / 2];
	(void)auth_init(); /* picks the fastest BLAKE2b; hashing works without it */
	crypto_generichash(h, sizeof(h), data, len, NULL, 0);
	sodium_bin2hex(ret, AUTH_HASH_HEX_LEN + 1, h, sizeof(h));
}

void auth_wipe_free(void *p, size_t len)
{
	if (!p)
		return;
	sodium_memzero(p, len);
	free(p);
}
