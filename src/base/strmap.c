/* strmap.c - string -> uint32 hash map (see strmap.h). */
#include "base/strmap.h"

#include <string.h>

#include "base/util.h"

uint32_t strhash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

void strmap_init(struct strmap *m)
{
	m->slots = NULL;
	m->cap = m->n = 0;
}

void strmap_free(struct strmap *m)
{
	free(m->slots);
	strmap_init(m);
}

static void strmap_insert_slot(struct strmap_slot *slots, size_t cap, struct strmap_slot s)
{
	size_t i = s.hash & (cap - 1);
	while (slots[i].key)
		i = (i + 1) & (cap - 1);
	slots[i] = s;
}

static void strmap_grow(struct strmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	struct strmap_slot *slots = xcalloc(cap, sizeof(*slots));
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			strmap_insert_slot(slots, cap, m->slots[i]);
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
}

bool strmap_put(struct strmap *m, const char *key, uint32_t value, uint32_t *ret_old)
{
	if ((m->n + 1) * 2 > m->cap)
		strmap_grow(m);
	uint32_t h = strhash(key);
	size_t i = h & (m->cap - 1);
	while (m->slots[i].key) {
		if (m->slots[i].hash == h && strcmp(m->slots[i].key, key) == 0) {
			if (ret_old)
				*ret_old = m->slots[i].value;
			return false;
		}
		i = (i + 1) & (m->cap - 1);
	}
	m->slots[i] = (struct strmap_slot){key, value, h};
	m->n++;
	return true;
}

bool strmap_get(const struct strmap *m, const char *key, uint32_t *ret_value)
{
	if (!m->cap)
		return false;
	uint32_t h = strhash(key);
	size_t i = h & (m->cap - 1);
	while (m->slots[i].key) {
		if (m->slots[i].hash == h && strcmp(m->slots[i].key, key) == 0) {
			if (ret_value)
				*ret_value = m->slots[i].value;
			return true;
		}
		i = (i + 1) & (m->cap - 1);
	}
	return false;
}

bool strmap_del(struct strmap *m, const char *key)
{
	if (!m->cap)
		return false;
	uint32_t h = strhash(key);
	size_t mask = m->cap - 1, i = h & mask;
	while (m->slots[i].key && !(m->slots[i].hash == h && strcmp(m->slots[i].key, key) == 0))
		i = (i + 1) & mask;
	if (!m->slots[i].key)
		return false;
	/* Backward-shift deletion: the keys after the hole in its cluster move up into it when
	 * their home slot allows, so lookups never meet a hole before their key (no tombstones). */
	size_t j = i;
	for (;;) {
		m->slots[i].key = NULL;
		for (;;) {
			j = (j + 1) & mask;
			if (!m->slots[j].key) {
				m->n--;
				return true;
			}
			size_t home = m->slots[j].hash & mask;
			/* j may fill i unless its home lies cyclically in (i, j] */
			bool home_after_hole = i <= j ? (home > i && home <= j) : (home > i || home <= j);
			if (!home_after_hole)
				break;
		}
		m->slots[i] = m->slots[j];
		i = j;
	}
}
