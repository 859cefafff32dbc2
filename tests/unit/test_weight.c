/* Unit tests for dag/dag_weight.c: weight rules against a naive reachability count. */
#include "base/buf.h"
#include "base/diag.h"
#include "base/util.h"
#include "dag/dag_load.h"
#include "test.h"

static struct dag *load(const char *yaml)
{
	struct dag *d = NULL;
	struct diag_list diags;
	diag_list_init(&diags, "w.yaml");
	if (dag_load_buffer("w.yaml", yaml, strlen(yaml), &d, &diags) < 0) {
		diag_print(&diags, stderr);
		test_fail(__FILE__, __LINE__, "DAG did not load");
	}
	diag_list_free(&diags);
	return d;
}

static int64_t W(struct dag *d, const char *task)
{
	int32_t i = dag_task_index(d, task);
	ASSERT(i >= 0);
	return d->weight[i];
}

/*   a -> b -> d
 *   a -> c -> d -> e      (d is reached twice from a: counted once) */
TEST(weight_rules_on_a_diamond)
{
	struct dag *d =
	    load("id: w\n"
		 "tasks:\n"
		 "  a: {run: 'true'}\n"
		 "  b: {run: 'true', depends: a, priority: 10}\n"
		 "  c: {run: 'true', depends: a}\n"
		 "  d: {run: 'true', depends: [b, c]}\n"
		 "  e: {run: 'true', depends: d}\n"
		 "  up: {run: 'true', depends: e, weight_rule: upstream}\n"
		 "  abs: {run: 'true', depends: a, weight_rule: absolute, priority: 7}\n");
	ASSERT(!d->weight);
	dag_compute_weights(d);
	ASSERT_INT_EQ(W(d, "a"), 1 + 10 + 1 + 1 + 1 + 1 + 7); /* b c d e up abs */
	ASSERT_INT_EQ(W(d, "b"), 10 + 1 + 1 + 1);
	ASSERT_INT_EQ(W(d, "c"), 1 + 1 + 1 + 1);
	ASSERT_INT_EQ(W(d, "e"), 2);
	ASSERT_INT_EQ(W(d, "up"), 1 + 1 + 1 + 10 + 1 + 1); /* itself, e d b c a */
	ASSERT_INT_EQ(W(d, "abs"), 7);
	dag_free(d);
}

static uint64_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

/* Naive: depth-first reachability from every task. */
static int64_t naive(const struct dag *d, uint32_t t, bool down, unsigned char *seen)
{
	memset(seen, 0, d->n_tasks);
	uint32_t *stack = xmalloc(d->n_tasks * sizeof(*stack));
	uint32_t n = 0;
	int64_t s = 0;
	stack[n++] = t;
	while (n) {
		uint32_t u = stack[--n];
		const uint32_t *off = down ? d->down_off : d->up_off, *adj = down ? d->down : d->up;
		for (uint32_t k = off[u]; k < off[u + 1]; k++)
			if (!seen[adj[k]]) {
				seen[adj[k]] = 1;
				s += d->tasks[adj[k]].priority;
				stack[n++] = adj[k];
			}
	}
	free(stack);
	return s;
}

static void random_case(uint64_t seed, bool uniform, uint64_t budget)
{
	struct buf b = {0};
	buf_puts(&b, "id: r\ntasks:\n");
	int n = 600; /* more than two blocks */
	for (int i = 0; i < n; i++) {
		buf_printf(&b, "  t%d:\n    run: 'true'\n", i);
		if (!uniform)
			buf_printf(&b, "    priority: %d\n", (int)(rnd(&seed) % 200) - 50);
		if (rnd(&seed) % 3 == 0)
			buf_puts(&b, "    weight_rule: upstream\n");
		if (i > 0) {
			buf_puts(&b, "    depends: [");
			int k = 1 + (int)(rnd(&seed) % 3), first = (int)(rnd(&seed) % (uint64_t)i);
			for (int j = 0; j < k && first + j < i; j++) /* distinct */
				buf_printf(&b, "%st%d", j ? ", " : "", first + j);
			buf_puts(&b, "]\n");
		}
	}
	struct dag *d = load(buf_str(&b));
	buf_free(&b);
	dag_compute_weights_with(d, budget);
	unsigned char *seen = xmalloc(d->n_tasks);
	for (uint32_t t = 0; t < d->n_tasks; t++) {
		bool up = d->tasks[t].weight_rule == WEIGHT_UPSTREAM;
		ASSERT_INT_EQ(d->weight[t], d->tasks[t].priority + naive(d, t, !up, seen));
	}
	free(seen);
	dag_free(d);
}

TEST(weight_matches_naive_reachability_uniform)
{
	random_case(7, true, 0);	/* 256-target blocks */
	random_case(7, true, 1u << 30); /* a search from every task */
}

TEST(weight_matches_naive_reachability_mixed_priorities)
{
	random_case(11, false, 0);
	random_case(12, false, 0);
	random_case(12, false, 1u << 30);
}
