/* Unit tests of the listings (src/ops/read.c) on a store in memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "ops/ops.h"
#include "test.h"

static void add_run(struct store *st, const char *dag, int i, int64_t created)
{
	char id[64];
	snprintf(id, sizeof(id), "%s@manual-%06d", dag, i);
	struct store_run r = {.run_id = id,
			      .dag_id = (char *)dag,
			      .version = 1,
			      .kind = STORE_RUN_MANUAL,
			      .logical_date = created,
			      .created_at = created};
	ASSERT_INT_EQ(store_run_create(st, NULL, &r), 0);
}

static struct store *runs_store(int n)
{
	struct store *st = NULL;
	char *msg = NULL;
	ASSERT_INT_EQ(store_open(":memory:", &st, &msg), 0);
	int64_t v = 0;
	ASSERT_INT_EQ(
	    store_dag_loaded(st, NULL, "etl", "etl.yaml", "h", "tasks: {a: echo}\n", NULL, 1, &v),
	    0);
	/* Three runs share each millisecond: the run id breaks the ties. */
	for (int i = 0; i < n; i++)
		add_run(st, "etl", i, 1000 + i / 3);
	return st;
}

TEST(ops_run_list_pages_by_keyset_while_runs_are_added)
{
	struct store *st = runs_store(120);
	struct ops_err err = {0};
	char *cursor = NULL;
	bool seen[200] = {false};
	int pages = 0, total = 0, prev = 1 << 30;
	for (;;) {
		struct ops_run_query q = {.dag_id = "etl", .limit = 50, .cursor = cursor};
		struct ops_run_page page;
		ASSERT_INT_EQ(ops_run_list(st, &q, &page, &err), 0);
		for (size_t i = 0; i < page.n; i++) {
			int k = atoi(strrchr(page.runs[i].run_id, '-') + 1);
			ASSERT(k < 120);  /* never one added after the first page */
			ASSERT(!seen[k]); /* never twice */
			ASSERT(k < prev); /* newest first, across pages too */
			seen[k] = true;
			prev = k;
			total++;
		}
		free(cursor);
		cursor = page.next_cursor ? xstrdup(page.next_cursor) : NULL;
		ops_run_page_free(&page);
		pages++;
		/* Newer runs arrive between pages: they belong before the first page. */
		for (int j = 0; j < 10; j++)
			add_run(st, "etl", 150 + pages * 10 + j, 5000 + pages);
		if (!cursor)
			break;
	}
	ASSERT_INT_EQ(total, 120);
	ASSERT_INT_EQ(pages, 3);
	/* Filters and errors. */
	struct ops_run_query bad_state = {.state = "runing"};
	struct ops_run_page page;
	ASSERT_INT_EQ(ops_run_list(st, &bad_state, &page, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_BAD_REQUEST);
	ASSERT_STR_CONTAINS(err.msg, "unknown state 'runing' (did you mean 'running'?)");
	struct ops_run_query bad_dag = {.dag_id = "etk"};
	ASSERT_INT_EQ(ops_run_list(st, &bad_dag, &page, &err), -1);
	ASSERT_INT_EQ(err.kind, OPS_NOT_FOUND);
	static const char *const bad_cursors[] = {"x",	      "r1.",	  "r1.12",     "r1.12.6",
						  "r1.12.zz", "r1.-5.61", "r1.12.0061"};
	for (size_t i = 0; i < ARRAY_SIZE(bad_cursors); i++) {
		struct ops_run_query q = {.cursor = bad_cursors[i], .limit = 5};
		ASSERT_INT_EQ(ops_run_list(st, &q, &page, &err), -1);
		ASSERT_INT_EQ(err.kind, OPS_BAD_REQUEST);
		ASSERT_STR_CONTAINS(err.msg, "bad cursor");
	}
	struct ops_run_query queued = {.state = "active", .limit = 0};
	ASSERT_INT_EQ(ops_run_list(st, &queued, &page, &err), 0);
	ASSERT_INT_EQ((int)page.n, 120 + 30);
	ASSERT(page.next_cursor == NULL); /* no limit: one page */
	ops_run_page_free(&page);
	ops_err_free(&err);
	store_close(st);
}
