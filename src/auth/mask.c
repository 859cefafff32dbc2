/*
 * mask.c - log masking with an Aho-Corasick automaton (mask.h).
 *
 * States are numbered; 0 is the root. Building takes four steps: insert every secret into a
 * trie (children found through a temporary u64map keyed by state and byte, each new edge
 * appended to a list); renumber the states breadth first and lay the edges out sorted by
 * (state, byte), so a state's children are a sorted slice of one array (first[s] .. first[s] +
 * nkids[s]); set each state's failure link (the longest proper suffix of its string that is
 * also in the trie) and `longest` (the longest secret that ends at this state: its own length
 * when a secret ends here, else that of its failure state); and fill a dense table, one row
 * per state for the first states (the shallow ones, where matching spends nearly all its time)
 * up to 512 KiB, one column per byte class (the bytes that occur in some secret, each a class,
 * and one class for all the others), holding the state to go to with the failure links
 * already followed.
 *
 * Matching takes one row look-up per byte while in the dense states; deeper, the classic loop
 * (the edge on that byte, or failure links until a state has one or is dense). When the state
 * reached has a `longest`, the bytes [i + 1 - longest, i + 1) are a secret. Those intervals
 * arrive in order of their end; each is merged with the ones before it that it overlaps or
 * touches (a stack that only ever merges at its top), and a last pass copies the line down
 * over itself with `***` in place of each merged interval.
 */
#include "auth/mask.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/u64map.h"
#include "base/util.h"

struct mask_edge {
	uint32_t from, to;
	uint8_t byte;
};

struct auth_mask {
	uint32_t root[256]; /* the root's children; 0: none */
	uint16_t cls[256];  /* byte -> class: 0 for bytes in no secret, then 1, 2 ... */
	uint32_t ncls, nstates, ndense, nedges;
	uint32_t *dense; /* ndense rows of ncls: the full transition of states 0 .. ndense-1 */
	uint32_t *fail, *longest, *first;
	uint16_t *nkids;
	uint8_t *kid_byte; /* edges sorted by (state, byte) */
	uint32_t *kid_to;
	size_t count, ignored;
};

/* --- building ------------------------------------------------------------------------------ */

struct mask_build {
	struct u64map kids; /* (state << 8 | byte) + 1 -> child state */
	struct mask_edge *edges;
	size_t nedges, cap_edges;
	uint32_t *len; /* secret length ending at each state, 0 if none */
	size_t cap_len;
	uint32_t nstates;
};

static uint64_t kid_key(uint32_t s, uint8_t c)
{
	return (((uint64_t)s << 8) | c) + 1;
}

/* Insert one secret; true when it was new. */
static bool build_insert(struct mask_build *b, const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i < n; i++) {
		void *v = u64map_get(&b->kids, kid_key(s, p[i]));
		if (v) {
			s = (uint32_t)(uintptr_t)v;
			continue;
		}
		uint32_t t = b->nstates++;
		b->len = xrealloc_array(b->len, b->nstates, sizeof(*b->len), &b->cap_len);
		b->len[t] = 0;
		u64map_put(&b->kids, kid_key(s, p[i]), (void *)(uintptr_t)t);
		b->edges =
		    xrealloc_array(b->edges, b->nedges + 1, sizeof(*b->edges), &b->cap_edges);
		b->edges[b->nedges++] = (struct mask_edge){.from = s, .to = t, .byte = p[i]};
		s = t;
	}
	bool fresh = b->len[s] == 0;
	b->len[s] = (uint32_t)n;
	return fresh;
}

/* Add a secret, split at line breaks; pieces shorter than AUTH_MASK_MIN are counted as
 * ignored. */
static void build_add(struct mask_build *b, struct auth_mask *m, const char *secret)
{
	const char *p = secret;
	for (;;) {
		size_t n = strcspn(p, "\r\n");
		if (n >= AUTH_MASK_MIN)
			m->count += build_insert(b, (const uint8_t *)p, n);
		else if (n > 0 || (p == secret && !p[n]))
			m->ignored++;
		if (!p[n])
			break;
		p += n + 1;
	}
}

static int edge_cmp(const void *a, const void *b)
{
	const struct mask_edge *x = a, *y = b;
	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	return (int)x->byte - (int)y->byte;
}

/* The child of state s on byte c, or 0. */
static inline uint32_t kid(const struct auth_mask *m, uint32_t s, uint8_t c)
{
	if (s == 0)
		return m->root[c];
	uint32_t lo = m->first[s], hi = lo + m->nkids[s];
	while (hi - lo > 8) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (m->kid_byte[mid] < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < hi; lo++) {
		if (m->kid_byte[lo] == c)
			return m->kid_to[lo];
		if (m->kid_byte[lo] > c)
			break;
	}
	return 0;
}

/* Lay the trie out in the final arrays, states numbered breadth first (so a state's failure
 * state, being shallower, always has a smaller number, and the dense rows go to the shallow
 * states, where matching spends its time). `e` is sorted by (from, byte). */
static void build_layout(struct auth_mask *m, const struct mask_edge *e, size_t ne,
			 const uint32_t *len_old)
{
	uint32_t ns = m->nstates;
	uint32_t *efirst = xcalloc(ns + 1, sizeof(*efirst)); /* old state -> its first edge */
	for (size_t i = 0; i < ne; i++)
		efirst[e[i].from + 1]++;
	for (uint32_t s = 0; s < ns; s++)
		efirst[s + 1] += efirst[s];
	uint32_t *order = xmalloc(ns * sizeof(*order)); /* new -> old */
	uint32_t *newid = xmalloc(ns * sizeof(*newid)); /* old -> new */
	uint32_t qt = 0;
	order[qt++] = 0;
	newid[0] = 0;
	for (uint32_t qh = 0; qh < qt; qh++)
		for (uint32_t i = efirst[order[qh]]; i < efirst[order[qh] + 1]; i++) {
			newid[e[i].to] = qt;
			order[qt++] = e[i].to;
		}

	m->first = xcalloc(ns, sizeof(*m->first));
	m->nkids = xcalloc(ns, sizeof(*m->nkids));
	m->longest = xcalloc(ns, sizeof(*m->longest));
	m->fail = xcalloc(ns, sizeof(*m->fail));
	m->kid_byte = xmalloc(ne + 1);
	m->kid_to = xmalloc((ne + 1) * sizeof(*m->kid_to));
	uint32_t w = 0;
	for (uint32_t s = 0; s < ns; s++) {
		uint32_t old = order[s];
		m->first[s] = w;
		m->nkids[s] = (uint16_t)(efirst[old + 1] - efirst[old]);
		m->longest[s] = len_old[old]; /* for now: the secret ending exactly here */
		for (uint32_t i = efirst[old]; i < efirst[old + 1]; i++, w++) {
			m->kid_byte[w] = e[i].byte;
			m->kid_to[w] = newid[e[i].to];
			if (s == 0)
				m->root[e[i].byte] = newid[e[i].to];
		}
	}
	free(efirst);
	free(order);
	free(newid);
}

/* Failure links and `longest`, in breadth-first (= number) order. */
static void build_fail(struct auth_mask *m)
{
	for (uint32_t s = 0; s < m->nstates; s++) {
		for (uint32_t i = m->first[s]; i < m->first[s] + m->nkids[s]; i++) {
			uint32_t t = m->kid_to[i], g = 0;
			if (s != 0) {
				uint32_t f = m->fail[s];
				uint8_t c = m->kid_byte[i];
				while ((g = kid(m, f, c)) == 0 && f != 0)
					f = m->fail[f];
			}
			m->fail[t] = g;
			if (!m->longest[t])
				m->longest[t] = m->longest[g];
		}
	}
}

/* Byte classes, and the full transition function of the first states that fit the budget:
 * a row per state, the failure links already followed. */
static void build_dense(struct auth_mask *m, size_t budget)
{
	uint8_t byte_of[256];
	m->ncls = 1;
	for (unsigned c = 0; c < 256; c++)
		m->cls[c] = 0;
	for (uint32_t i = 0; i < m->nedges; i++) {
		uint8_t c = m->kid_byte[i];
		if (!m->cls[c]) {
			byte_of[m->ncls] = c;
			m->cls[c] = (uint16_t)m->ncls++;
		}
	}
	size_t rows = budget / (m->ncls * sizeof(uint32_t));
	if (rows == 0)
		rows = 1; /* the root's row, always */
	m->ndense = rows < m->nstates ? (uint32_t)rows : m->nstates;
	m->dense = xmalloc((size_t)m->ndense * m->ncls * sizeof(*m->dense));
	for (uint32_t s = 0; s < m->ndense; s++) {
		uint32_t *row = m->dense + (size_t)s * m->ncls;
		row[0] = 0; /* a byte of no secret leads back to the root from anywhere */
		for (uint32_t k = 1; k < m->ncls; k++) {
			uint32_t t = kid(m, s, byte_of[k]);
			if (!t && s != 0)
				t = m->dense[(size_t)m->fail[s] * m->ncls + k];
			row[k] = t;
		}
	}
}

struct auth_mask *auth_mask_new_sized(const char *const *secrets, size_t n, size_t dense_bytes)
{
	struct auth_mask *m = xcalloc(1, sizeof(*m));
	struct mask_build b = {.nstates = 1};
	u64map_init(&b.kids);
	b.len = xrealloc_array(NULL, 1, sizeof(*b.len), &b.cap_len);
	b.len[0] = 0;
	for (size_t i = 0; i < n; i++)
		build_add(&b, m, secrets[i]);
	u64map_free(&b.kids);
	m->nstates = b.nstates;
	m->nedges = (uint32_t)b.nedges;
	if (b.nedges)
		qsort(b.edges, b.nedges, sizeof(*b.edges), edge_cmp);
	build_layout(m, b.edges, b.nedges, b.len);
	free(b.edges);
	free(b.len);
	build_fail(m);
	build_dense(m, dense_bytes);
	return m;
}

struct auth_mask *auth_mask_new(const char *const *secrets, size_t n)
{
	return auth_mask_new_sized(secrets, n, AUTH_MASK_DENSE_BYTES);
}

void auth_mask_free(struct auth_mask *m)
{
	if (!m)
		return;
	free(m->dense);
	free(m->first);
	free(m->nkids);
	free(m->fail);
	free(m->longest);
	free(m->kid_byte);
	free(m->kid_to);
	free(m);
}

size_t auth_mask_count(const struct auth_mask *m)
{
	return m ? m->count : 0;
}

size_t auth_mask_ignored(const struct auth_mask *m)
{
	return m ? m->ignored : 0;
}

/* --- matching ------------------------------------------------------------------------------ */

struct span {
	size_t start, end;
};

struct spans {
	struct span *v;
	size_t n, cap;
	struct span local[32];
};

/* Add [start, end), merging with the spans it overlaps or touches. Ends never decrease. */
static void spans_add(struct spans *sp, size_t start, size_t end)
{
	while (sp->n > 0 && sp->v[sp->n - 1].end >= start) {
		struct span *top = &sp->v[--sp->n];
		if (top->start < start)
			start = top->start;
	}
	if (sp->n == sp->cap) {
		size_t cap = sp->cap * 2;
		struct span *v = xmalloc(cap * sizeof(*v));
		memcpy(v, sp->v, sp->n * sizeof(*v));
		if (sp->v != sp->local)
			free(sp->v);
		sp->v = v;
		sp->cap = cap;
	}
	sp->v[sp->n++] = (struct span){start, end};
}

size_t auth_mask_line(const struct auth_mask *m, char *line, size_t len, size_t *ret_len)
{
	*ret_len = len;
	if (!m || m->count == 0)
		return 0;
	struct spans sp;
	sp.v = sp.local;
	sp.n = 0;
	sp.cap = sizeof(sp.local) / sizeof(sp.local[0]);

	const uint8_t *p = (const uint8_t *)line;
	uint32_t s = 0;
	const uint32_t *dense = m->dense, *longest = m->longest;
	const uint32_t ncls = m->ncls, ndense = m->ndense;
	for (size_t i = 0; i < len; i++) {
		uint32_t k = m->cls[p[i]];
		if (s < ndense) {
			s = dense[(size_t)s * ncls + k];
		} else {
			/* A deep state: its edges, then failure links until a dense state. */
			uint32_t t;
			while ((t = kid(m, s, p[i])) == 0 && s >= ndense)
				s = m->fail[s];
			s = t ? t : dense[(size_t)s * ncls + k];
		}
		if (longest[s])
			spans_add(&sp, i + 1 - longest[s], i + 1);
	}
	if (sp.n == 0)
		return 0;

	/* Copy down over the line itself: the write position never passes the read position,
	 * since each span of 4 bytes or more becomes 3. */
	size_t w = 0, r = 0;
	for (size_t k = 0; k < sp.n; k++) {
		size_t keep = sp.v[k].start - r;
		memmove(line + w, line + r, keep);
		w += keep;
		memcpy(line + w, AUTH_MASK_TEXT, sizeof(AUTH_MASK_TEXT) - 1);
		w += sizeof(AUTH_MASK_TEXT) - 1;
		r = sp.v[k].end;
	}
	memmove(line + w, line + r, len - r);
	w += len - r;
	size_t runs = sp.n;
	if (sp.v != sp.local)
		free(sp.v);
	*ret_len = w;
	return runs;
}
