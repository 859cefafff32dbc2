/*
 * ytree_wire.c - encode and decode a ynode tree (see ytree_wire.h).
 *
 * The encoder walks the tree depth first (at most YTREE_MAX_DEPTH deep) and numbers each node
 * the first time it has written all of its children; a map from node address to number writes a
 * shared node once. The decoder reads nodes in order into an array, so a child index must be
 * smaller than its parent's: the tree cannot have a cycle, and depth and weight are computed in
 * the same pass.
 */
#include "dag/ytree_wire.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base/strmap.h"
#include "base/u64map.h"
#include "base/util.h"

static void put_u32(struct buf *b, uint32_t v)
{
	buf_append(b, &v, sizeof(v));
}

static uint32_t encode_node(const struct ynode *n, struct u64map *seen, uint32_t *next,
			    struct buf *out)
{
	void *got = u64map_get(seen, (uint64_t)(uintptr_t)n);
	if (got)
		return (uint32_t)((uintptr_t)got - 1);
	uint32_t *kids = NULL;
	uint32_t nk = n->type == YN_MAP ? 2 * n->n : n->type == YN_SEQ ? n->n : 0;
	if (nk)
		kids = xmalloc(nk * sizeof(*kids));
	for (uint32_t i = 0; i < nk; i++) {
		const struct ynode *k = n->type == YN_SEQ ? n->items[i]
					: i % 2		  ? n->pairs[i / 2].value
							  : n->pairs[i / 2].key;
		kids[i] = encode_node(k, seen, next, out);
	}
	uint8_t head[2] = {(uint8_t)n->type, n->plain ? 1 : 0};
	buf_append(out, head, sizeof(head));
	put_u32(out, n->line);
	put_u32(out, n->col);
	if (n->type == YN_SCALAR) {
		put_u32(out, (uint32_t)n->len);
		buf_append(out, n->str, n->len);
	} else {
		put_u32(out, n->n);
		buf_append(out, kids, nk * sizeof(*kids));
	}
	free(kids);
	uint32_t idx = (*next)++;
	u64map_put(seen, (uint64_t)(uintptr_t)n, (void *)(uintptr_t)(idx + 1));
	return idx;
}

void ywire_encode(const struct ynode *root, const struct diag_list *diags, struct buf *out)
{
	buf_append(out, "GYT1", 4);
	size_t count_at = out->len;
	put_u32(out, 0);
	put_u32(out, YWIRE_NONE);
	uint32_t n = 0, r = YWIRE_NONE;
	if (root) {
		struct u64map seen;
		u64map_init(&seen);
		r = encode_node(root, &seen, &n, out);
		u64map_free(&seen);
	}
	memcpy(out->data + count_at, &n, sizeof(n));
	memcpy(out->data + count_at + 4, &r, sizeof(r));
	put_u32(out, diags ? (uint32_t)diags->n : 0);
	for (size_t i = 0; diags && i < diags->n; i++) {
		put_u32(out, diags->items[i].line);
		put_u32(out, diags->items[i].col);
		size_t len = strlen(diags->items[i].msg);
		put_u32(out, (uint32_t)len);
		buf_append(out, diags->items[i].msg, len);
	}
}

struct reader {
	const unsigned char *p, *end;
};

static bool get_u32(struct reader *r, uint32_t *v)
{
	if ((size_t)(r->end - r->p) < sizeof(*v))
		return false;
	memcpy(v, r->p, sizeof(*v));
	r->p += sizeof(*v);
	return true;
}

static bool get_bytes(struct reader *r, uint32_t len, const unsigned char **ret)
{
	if ((size_t)(r->end - r->p) < len)
		return false;
	*ret = r->p;
	r->p += len;
	return true;
}

static int bad(char **ret_err, const char *what, uint32_t node)
{
	*ret_err = node == YWIRE_NONE ? xasprintf("bad tree message: %s", what)
				      : xasprintf("bad tree message: node %u: %s", node, what);
	return -EBADMSG;
}

int ywire_decode(struct arena *a, const void *data, size_t len, struct ynode **ret_root,
		 struct diag_list *diags, char **ret_err)
{
	struct reader r = {data, (const unsigned char *)data + len};
	*ret_root = NULL;
	*ret_err = NULL;
	uint32_t n, root;
	const unsigned char *magic;
	if (!get_bytes(&r, 4, &magic) || memcmp(magic, "GYT1", 4) != 0)
		return bad(ret_err, "not a gust tree (magic)", YWIRE_NONE);
	if (!get_u32(&r, &n) || !get_u32(&r, &root))
		return bad(ret_err, "truncated header", YWIRE_NONE);
	/* Every node takes at least 14 bytes: a count beyond that is a lie. */
	if (n > (size_t)(r.end - r.p) / 14 || (root != YWIRE_NONE && root >= n) ||
	    (root == YWIRE_NONE && n))
		return bad(ret_err, "node count or root out of range", YWIRE_NONE);
	struct ynode **nodes = n ? xmalloc(n * sizeof(*nodes)) : NULL;
	uint32_t *depth = n ? xmalloc(n * sizeof(*depth)) : NULL;
	int rc = 0;
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		const unsigned char *head;
		uint32_t line, col, cnt;
		if (!get_bytes(&r, 2, &head) || !get_u32(&r, &line) || !get_u32(&r, &col) ||
		    !get_u32(&r, &cnt)) {
			rc = bad(ret_err, "truncated", i);
			break;
		}
		if (head[0] > YN_SEQ || head[1] > 1 || line == 0 || col == 0) {
			rc = bad(ret_err, "bad type, style or position", i);
			break;
		}
		struct ynode *y = arena_alloc(a, sizeof(*y));
		*y = (struct ynode){
		    .type = head[0], .line = line, .col = col, .plain = head[1], .weight = 1};
		depth[i] = 1;
		nodes[i] = y;
		if (y->type == YN_SCALAR) {
			const unsigned char *s;
			if (!get_bytes(&r, cnt, &s)) {
				rc = bad(ret_err, "truncated scalar", i);
				break;
			}
			y->len = cnt;
			y->str = arena_strndup(a, (const char *)s, cnt);
			continue;
		}
		uint32_t nk = y->type == YN_MAP ? 2 * cnt : cnt;
		if (y->type == YN_MAP && cnt > UINT32_MAX / 2) {
			rc = bad(ret_err, "mapping too large", i);
			break;
		}
		const unsigned char *raw;
		if ((size_t)(r.end - r.p) / 4 < nk || !get_bytes(&r, nk * 4, &raw)) {
			rc = bad(ret_err, "truncated children", i);
			break;
		}
		y->n = cnt;
		if (y->type == YN_SEQ)
			y->items = arena_calloc(a, cnt ? cnt : 1, sizeof(*y->items));
		else
			y->pairs = arena_calloc(a, cnt ? cnt : 1, sizeof(*y->pairs));
		struct strmap keys;
		strmap_init(&keys);
		uint64_t w = 1;
		for (uint32_t k = 0; k < nk; k++) {
			uint32_t c;
			memcpy(&c, raw + 4 * k, 4);
			if (c >= i) {
				rc =
				    bad(ret_err, "a child that does not come before its parent", i);
				break;
			}
			struct ynode *kid = nodes[c];
			if (depth[c] + 1 > depth[i])
				depth[i] = depth[c] + 1;
			w = w + kid->weight < w ? UINT64_MAX : w + kid->weight;
			if (y->type == YN_SEQ) {
				y->items[k] = kid;
			} else if (k % 2 == 0) {
				if (kid->type != YN_SCALAR ||
				    !strmap_put(&keys, kid->str, k, NULL)) {
					rc = bad(ret_err,
						 "a mapping key that is not a unique scalar", i);
					break;
				}
				y->pairs[k / 2].key = kid;
			} else {
				y->pairs[k / 2].value = kid;
			}
		}
		strmap_free(&keys);
		y->weight = w;
		if (rc == 0 && depth[i] > YTREE_MAX_DEPTH + 1)
			rc = bad(ret_err, "nested too deep", i);
		if (rc == 0 && w > YTREE_MAX_EXPANDED)
			rc = bad(ret_err, "expands to too many nodes", i);
	}
	uint32_t nd = 0;
	if (rc == 0 && !get_u32(&r, &nd))
		rc = bad(ret_err, "truncated problem count", YWIRE_NONE);
	for (uint32_t i = 0; rc == 0 && i < nd; i++) {
		uint32_t line, col, mlen;
		const unsigned char *msg;
		if (!get_u32(&r, &line) || !get_u32(&r, &col) || !get_u32(&r, &mlen) ||
		    mlen > (1u << 20) || !get_bytes(&r, mlen, &msg) || memchr(msg, 0, mlen)) {
			rc = bad(ret_err, "truncated or bad problem", YWIRE_NONE);
			break;
		}
		diag_add(diags, line, col, "%.*s", (int)mlen, (const char *)msg);
	}
	if (rc == 0 && r.p != r.end)
		rc = bad(ret_err, "bytes after the end", YWIRE_NONE);
	if (rc == 0 && root != YWIRE_NONE)
		*ret_root = nodes[root];
	free(nodes);
	free(depth);
	return rc;
}
