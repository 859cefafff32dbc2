/*
 * u64map.h - an open-addressing hash map from uint64_t keys to pointers.
 *
 * Linear probing with tombstone-free backward-shift deletion, grows at 50% load. Key 0 is
 * reserved (empty slot). Used by the server to find the task instance an executor event is
 * about.
 */
#ifndef GUST_BASE_U64MAP_H
#define GUST_BASE_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct u64map_slot {
	uint64_t key;
	void *value;
};

struct u64map {
	struct u64map_slot *slots;
	size_t cap, n;
};

void u64map_init(struct u64map *m);
void u64map_free(struct u64map *m);
/* Insert or replace. key must not be 0. */
void u64map_put(struct u64map *m, uint64_t key, void *value);
void *u64map_get(const struct u64map *m, uint64_t key);
/* Remove; returns the value or NULL. */
void *u64map_del(struct u64map *m, uint64_t key);

#endif
