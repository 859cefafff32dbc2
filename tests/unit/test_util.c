/* Unit tests for base/: arena, buf, diag, util. */
#include "base/arena.h"
#include "base/buf.h"
#include "base/diag.h"
#include "base/util.h"
#include "base/fsutil.h"
#include "test.h"

TEST(arena_alloc_and_big_blocks)
{
	struct arena a;
	arena_init(&a);
	char *s = arena_strdup(&a, "hello");
	void *big = arena_alloc(&a, 1 << 20);
	char *t = arena_printf(&a, "%s-%d", s, 7);
	ASSERT_STR_EQ(t, "hello-7");
	ASSERT(((char *)big)[12345] == 0);
	ASSERT(a.total >= (1u << 20));
	arena_free(&a);
}

TEST(buf_append_printf)
{
	struct buf b = BUF_INIT;
	ASSERT_STR_EQ(buf_str(&b), "");
	buf_puts(&b, "a");
	buf_printf(&b, "%03d", 5);
	buf_putc(&b, '!');
	ASSERT_STR_EQ(buf_str(&b), "a005!");
	char *p = buf_detach(&b);
	ASSERT_STR_EQ(p, "a005!");
	free(p);
}

TEST(diag_sorts_stably_by_position)
{
	struct diag_list l;
	diag_list_init(&l, "f.yaml");
	diag_add(&l, 3, 1, "third");
	diag_add(&l, 1, 5, "first-a");
	diag_add(&l, 1, 5, "first-b");
	diag_add(&l, 0, 0, "whole");
	diag_sort(&l);
	ASSERT_STR_EQ(l.items[0].msg, "whole");
	ASSERT_STR_EQ(l.items[1].msg, "first-a");
	ASSERT_STR_EQ(l.items[2].msg, "first-b");
	ASSERT_STR_EQ(l.items[3].msg, "third");
	diag_list_free(&l);
}

TEST(closest_word_hints)
{
	static const char *const keys[] = {"depends", "run", "retries", "timeout"};
	ASSERT_STR_EQ(closest_word("depend", keys, 4), "depends");
	ASSERT_STR_EQ(closest_word("retires", keys, 4), "retries");
	ASSERT(closest_word("zzzzzz", keys, 4) == NULL);
	ASSERT_INT_EQ(edit_distance("kitten", "sitting", 5), 3);
}

#include "base/u64map.h"

TEST(u64map_put_get_del_many)
{
	struct u64map m;
	u64map_init(&m);
	enum { N = 20000 };
	for (uint64_t k = 1; k <= N; k++)
		u64map_put(&m, k * 7919, (void *)(uintptr_t)k);
	ASSERT_INT_EQ(m.n, N);
	for (uint64_t k = 1; k <= N; k += 2)
		ASSERT_INT_EQ((uintptr_t)u64map_del(&m, k * 7919), k);
	for (uint64_t k = 1; k <= N; k++)
		ASSERT_INT_EQ((uintptr_t)u64map_get(&m, k * 7919), k % 2 ? 0 : k);
	ASSERT(u64map_del(&m, 12345) == NULL);
	ASSERT_INT_EQ(m.n, N / 2);
	u64map_free(&m);
}

TEST(path_under_by_text)
{
	ASSERT(path_under("dags/a.yaml", "dags"));
	ASSERT(path_under("dags/a.yaml", "dags/"));
	ASSERT(path_under("dags", "dags"));
	ASSERT(path_under("dags/sub/a.yaml", "dags"));
	ASSERT(!path_under("dagsx/a.yaml", "dags"));
	ASSERT(!path_under("other/a.yaml", "dags"));
	ASSERT(path_under("/a", "/"));
}
