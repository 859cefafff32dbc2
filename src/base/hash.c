/* hash.c - FNV-1a 64 (see hash.h). */
#include "base/hash.h"

#include <stdio.h>

uint64_t hash_fnv1a64(const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t h = 14695981039346656037ULL; /* the FNV offset basis, 0xcbf29ce484222325 */
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

char *hash_fnv1a64_hex(const void *data, size_t n, char buf[17])
{
	snprintf(buf, 17, "%016llx", (unsigned long long)hash_fnv1a64(data, n));
	return buf;
}
