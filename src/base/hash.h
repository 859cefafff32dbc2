/*
 * hash.h - content hashes: FNV-1a, 64 bits. Not cryptographic: it tells one DAG file's content
 * from another's (the store keys DAG versions by it), nothing more. The server and the CLI must
 * hash the same way, or a DAG registered by one gets a second version from the other.
 * (Before this module, the server's copy used a mistyped offset basis, 1469598103934665603; a
 * store written then gets one new version per DAG, same content, at the first load.)
 */
#ifndef GUST_BASE_HASH_H
#define GUST_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t hash_fnv1a64(const void *data, size_t n);
/* The hash as 16 lower-case hex digits (how the store records a DAG version's hash); buf must
 * hold 17 bytes. Returns buf. */
char *hash_fnv1a64_hex(const void *data, size_t n, char buf[17]);

#endif
