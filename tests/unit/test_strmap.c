/* Unit tests of base/strmap.c, deletion above all (backward shift must keep every key found). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strmap.h"
#include "base/util.h"
#include "test.h"

TEST(strmap_put_get_del)
{
	struct strmap m;
	strmap_init(&m);
	ASSERT(!strmap_del(&m, "x")); /* empty map */
	ASSERT(strmap_put(&m, "a", 1, NULL));
	ASSERT(strmap_put(&m, "b", 2, NULL));
	uint32_t v = 0;
	ASSERT(strmap_del(&m, "a"));
	ASSERT(!strmap_get(&m, "a", &v));
	ASSERT(strmap_get(&m, "b", &v) && v == 2);
	ASSERT(!strmap_del(&m, "a"));
	ASSERT_INT_EQ((int)m.n, 1);
	ASSERT(strmap_put(&m, "a", 3, NULL)); /* back again */
	ASSERT(strmap_get(&m, "a", &v) && v == 3);
	strmap_free(&m);
}

/* Random puts and deletes against a plain array: every present key is found, no absent one. */
TEST(strmap_del_keeps_clusters_whole)
{
	enum { N = 4000 };
	char **keys = xcalloc(N, sizeof(*keys));
	bool *in = xcalloc(N, sizeof(*in));
	for (int i = 0; i < N; i++)
		keys[i] = xasprintf("k%d", i);
	struct strmap m;
	strmap_init(&m);
	unsigned seed = 12345;
	for (int round = 0; round < 200000; round++) {
		seed = seed * 1103515245u + 12345u;
		int k = (int)((seed >> 8) % N);
		if (in[k]) {
			ASSERT(strmap_del(&m, keys[k]));
			in[k] = false;
		} else {
			ASSERT(strmap_put(&m, keys[k], (uint32_t)k, NULL));
			in[k] = true;
		}
		if (round % 9973 == 0) {
			size_t present = 0;
			for (int i = 0; i < N; i++) {
				uint32_t v = 0;
				bool got = strmap_get(&m, keys[i], &v);
				ASSERT(got == in[i]);
				ASSERT(!got || v == (uint32_t)i);
				present += in[i];
			}
			ASSERT_INT_EQ((int)m.n, (int)present);
		}
	}
	strmap_free(&m);
	for (int i = 0; i < N; i++)
		free(keys[i]);
	free(keys);
	free(in);
}
