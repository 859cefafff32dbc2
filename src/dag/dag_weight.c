/*
 * dag_weight.c - task weights from `priority` and `weight_rule` (see dag.h).
 *
 * A downstream weight counts every task reachable from this one once, so it needs
 * reachability, not path sums. Targets are taken 256 at a time in topological order; one pass
 * against the edges gives each task a 256-bit mask of the targets it reaches (a task after the
 * last target in topological order reaches none of them and is skipped), and the priorities of
 * the targets in a mask are added by popcount when every task has the same priority (the
 * usual case) or by eight byte-indexed tables otherwise. Upstream is the mirror image.
 *
 * That costs O(n^2 / 64) word operations whatever the shape. Most DAGs reach little from each task,
 * so first a cheap upper bound on the number of (task, reachable task) pairs is taken (paths
 * counted with multiplicity); under a budget, a plain search from every task is cheaper and is
 * used.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "dag/dag.h"

/* Targets per pass: WORDS x 64 (four words: one pass over the edges serves 256 targets). */
#define WORDS 4
#define BLOCK (64u * WORDS)

struct reach {
	const struct dag *d;
	uint32_t *pos;	/* topological position of each task */
	uint64_t *mask; /* per task, WORDS words: targets of the current block it reaches */
	bool uniform;	/* every task has priority `prio` */
	int64_t prio;
	int64_t table[WORDS][8][256]; /* !uniform: priority sums of the block's targets by byte */
};

static void build_tables(struct reach *r, uint32_t b, uint32_t e)
{
	for (int w = 0; w < WORDS; w++)
		for (int k = 0; k < 8; k++) {
			int64_t *t = r->table[w][k];
			t[0] = 0;
			for (int v = 1; v < 256; v++) {
				int low = __builtin_ctz((unsigned)v);
				uint32_t at =
				    b + 64u * (uint32_t)w + 8u * (uint32_t)k + (uint32_t)low;
				int64_t p = at < e ? r->d->tasks[r->d->topo[at]].priority : 0;
				t[v] = t[v & (v - 1)] + p;
			}
		}
}

static int64_t mask_sum(const struct reach *r, const uint64_t *m)
{
	int64_t s = 0;
	for (int w = 0; w < WORDS; w++) {
		if (r->uniform) {
			s += (int64_t)__builtin_popcountll(m[w]) * r->prio;
			continue;
		}
		uint64_t x = m[w];
		for (int k = 0; x; k++, x >>= 8)
			s += r->table[w][k][x & 0xff];
	}
	return s;
}

/* One task's mask from its neighbours' (those on the far side of the block are skipped). */
static void merge(struct reach *r, uint32_t u, const uint32_t *off, const uint32_t *adj, uint32_t b,
		  uint32_t e, bool down)
{
	uint64_t m[WORDS] = {0};
	for (uint32_t k = off[u]; k < off[u + 1]; k++) {
		uint32_t c = adj[k], pc = r->pos[c];
		if (down ? pc >= e : pc < b)
			continue;
		const uint64_t *mc = &r->mask[(size_t)c * WORDS];
		for (int w = 0; w < WORDS; w++)
			m[w] |= mc[w];
		if (pc >= b && pc < e)
			m[(pc - b) / 64] |= 1ULL << ((pc - b) % 64);
	}
	memcpy(&r->mask[(size_t)u * WORDS], m, sizeof(m));
}

/* sum[u] += priorities of the distinct tasks downstream (down) or upstream of u. */
static void reach_sums(struct reach *r, bool down, int64_t *sum)
{
	const struct dag *d = r->d;
	uint32_t n = d->n_tasks;
	const uint32_t *off = down ? d->down_off : d->up_off, *adj = down ? d->down : d->up;
	for (uint32_t b = 0; b < n; b += BLOCK) {
		uint32_t e = n - b < BLOCK ? n : b + BLOCK;
		if (!r->uniform)
			build_tables(r, b, e);
		/* Downstream: only tasks before the block's end can reach it, walked backwards;
		 * upstream: only tasks from the block's start on, walked forwards. */
		for (uint32_t i = 0; i < (down ? e : n - b); i++) {
			uint32_t u = d->topo[down ? e - 1 - i : b + i];
			merge(r, u, off, adj, b, e, down);
			sum[u] += mask_sum(r, &r->mask[(size_t)u * WORDS]);
		}
	}
}

/* An upper bound on the reachable pairs (paths counted with multiplicity), capped. */
static bool few_pairs(const struct reach *r, bool down, uint64_t budget)
{
	const struct dag *d = r->d;
	uint32_t n = d->n_tasks;
	const uint32_t *off = down ? d->down_off : d->up_off, *adj = down ? d->down : d->up;
	uint64_t *cnt = xcalloc(n, sizeof(*cnt)), total = 0;
	for (uint32_t i = n; i-- > 0 && total <= budget;) {
		uint32_t u = d->topo[down ? i : n - 1 - i];
		uint64_t c = 0;
		for (uint32_t k = off[u]; k < off[u + 1] && c <= budget; k++)
			c += 1 + cnt[adj[k]];
		cnt[u] = c;
		total += c;
	}
	free(cnt);
	return total <= budget;
}

/* sum[u] += priorities of the tasks reachable from u, by a search from every task. */
static void search_sums(const struct dag *d, bool down, int64_t *sum)
{
	uint32_t n = d->n_tasks;
	const uint32_t *off = down ? d->down_off : d->up_off, *adj = down ? d->down : d->up;
	uint32_t *stamp = xcalloc(n, sizeof(*stamp)), *stack = xmalloc(n * sizeof(*stack));
	for (uint32_t u = 0; u < n; u++) {
		uint32_t sp = 0;
		int64_t s = 0;
		stack[sp++] = u;
		while (sp) {
			uint32_t v = stack[--sp];
			for (uint32_t k = off[v]; k < off[v + 1]; k++) {
				uint32_t c = adj[k];
				if (stamp[c] != u + 1) {
					stamp[c] = u + 1;
					s += d->tasks[c].priority;
					stack[sp++] = c;
				}
			}
		}
		sum[u] += s;
	}
	free(stamp);
	free(stack);
}

void dag_compute_weights(struct dag *d)
{
	dag_compute_weights_with(d, 20000000);
}

void dag_compute_weights_with(struct dag *d, uint64_t pair_budget)
{
	if (d->weight)
		return;
	uint32_t n = d->n_tasks;
	int64_t *w = arena_alloc(&d->arena, (n ? n : 1) * sizeof(*w));
	bool need[2] = {false, false};
	for (uint32_t i = 0; i < n; i++) {
		w[i] = d->tasks[i].priority;
		if (d->tasks[i].weight_rule != WEIGHT_ABSOLUTE)
			need[d->tasks[i].weight_rule == WEIGHT_UPSTREAM] = true;
	}
	if (need[0] || need[1]) {
		struct reach *r = xcalloc(1, sizeof(*r));
		r->d = d;
		r->pos = xmalloc(n * sizeof(*r->pos));
		r->mask = xcalloc((size_t)n * WORDS, sizeof(*r->mask));
		r->uniform = true;
		r->prio = d->tasks[0].priority;
		for (uint32_t i = 0; i < n; i++) {
			r->pos[d->topo[i]] = i;
			r->uniform &= d->tasks[i].priority == r->prio;
		}
		int64_t *sum = xcalloc(n, sizeof(*sum));
		for (int up = 0; up < 2; up++) {
			if (!need[up])
				continue;
			memset(sum, 0, n * sizeof(*sum));
			if (few_pairs(r, !up, pair_budget))
				search_sums(d, !up, sum);
			else
				reach_sums(r, !up, sum);
			for (uint32_t i = 0; i < n; i++)
				if (d->tasks[i].weight_rule ==
				    (up ? WEIGHT_UPSTREAM : WEIGHT_DOWNSTREAM))
					w[i] += sum[i];
		}
		free(sum);
		free(r->mask);
		free(r->pos);
		free(r);
	}
	d->weight = w;
}
