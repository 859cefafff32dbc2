/*
 * strmap.h - an open-addressing hash map from NUL-terminated strings to uint32_t.
 *
 * Keys are borrowed (the caller keeps them alive, typically in an arena). Linear probing, FNV-1a
 * hash, grows at 50% load. Used to look up task ids and param names in O(1) when a DAG has
 * 100,000 tasks.
 */
#ifndef GUST_BASE_STRMAP_H
#define GUST_BASE_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strmap_slot {
	const char *key;
	uint32_t value;
	uint32_t hash;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap, n;
};

void strmap_init(struct strmap *m);
void strmap_free(struct strmap *m);
/* Insert key -> value. If the key is present, leaves it and returns false with *ret_old set. */
bool strmap_put(struct strmap *m, const char *key, uint32_t value, uint32_t *ret_old);
bool strmap_get(const struct strmap *m, const char *key, uint32_t *ret_value);
/* Remove key; false if it was not there. O(1) on average (backward-shift, no tombstones). */
bool strmap_del(struct strmap *m, const char *key);
uint32_t strhash(const char *s);

#endif
