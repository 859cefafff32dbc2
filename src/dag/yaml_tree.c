/*
 * yaml_tree.c - builds a struct ynode tree from libfyaml events.
 *
 * A stack holds the open containers; each collects its children in a growable array that is
 * copied into the arena when the container closes. Mapping children alternate key, value; a
 * per-mapping strmap finds duplicate keys. Anchors are remembered in a strmap from anchor name to
 * node; an alias reuses the node (no copy), and `weight` tracks what the expansion would cost.
 */
#include "dag/yaml_tree.h"

#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/strmap.h"
#include "base/util.h"

struct frame {
	struct ynode *node;
	struct ynode **kids; /* seq: items; map: key, value, key, value ... */
	size_t n, cap;
	struct strmap keys; /* map only: key text -> index of key in kids */
	const char *anchor; /* to register on close */
};

struct builder {
	struct arena *a;
	struct diag_list *diags;
	struct frame *stack;
	size_t depth, cap;
	struct ynode *root;
	struct ynode **anchor_nodes;
	size_t n_anchor_nodes, cap_anchor_nodes;
	struct strmap anchors;
	int docs;
	bool failed;
};

static void mark_pos(struct fy_event *e, uint32_t *line, uint32_t *col)
{
	const struct fy_mark *m = fy_event_start_mark(e);
	*line = m ? (uint32_t)m->line + 1 : 1;
	*col = m ? (uint32_t)m->column + 1 : 1;
}

static struct ynode *node_new(struct builder *b, enum ynode_type t, struct fy_event *e)
{
	struct ynode *n = arena_alloc(b->a, sizeof(*n));
	n->type = t;
	n->weight = 1;
	mark_pos(e, &n->line, &n->col);
	return n;
}

static const char *token_text(struct builder *b, struct fy_token *t, size_t *ret_len)
{
	size_t len = 0;
	const char *s = t ? fy_token_get_text(t, &len) : NULL;
	if (!s) {
		s = "";
		len = 0;
	}
	*ret_len = len;
	return arena_strndup(b->a, s, len);
}

static void anchor_register(struct builder *b, const char *name, struct ynode *n)
{
	uint32_t idx = (uint32_t)b->n_anchor_nodes;
	b->anchor_nodes =
		xrealloc_array(b->anchor_nodes, idx + 1, sizeof(*b->anchor_nodes), &b->cap_anchor_nodes);
	b->anchor_nodes[b->n_anchor_nodes++] = n;
	uint32_t old;
	if (!strmap_put(&b->anchors, name, idx, &old))
		b->anchor_nodes[old] = n; /* YAML allows redefining an anchor: the latest wins */
}

static uint64_t sat_add(uint64_t x, uint64_t y)
{
	return x + y < x ? UINT64_MAX : x + y;
}

/* Attach a finished node to the innermost open container (or make it the root). */
static void attach(struct builder *b, struct ynode *n)
{
	if (b->depth == 0) {
		b->root = n;
		return;
	}
	struct frame *f = &b->stack[b->depth - 1];
	bool is_key = f->node->type == YN_MAP && f->n % 2 == 0;
	if (is_key && n->type != YN_SCALAR) {
		diag_add(b->diags, n->line, n->col,
			 "mapping keys must be plain strings, not %s", ynode_describe(n));
		n = arena_alloc(b->a, sizeof(*n));
		*n = (struct ynode){.type = YN_SCALAR, .line = f->node->line, .str = "", .weight = 1};
	}
	f->kids = xrealloc_array(f->kids, f->n + 1, sizeof(*f->kids), &f->cap);
	f->kids[f->n++] = n;
	if (is_key) {
		uint32_t first;
		if (!strmap_put(&f->keys, n->str, (uint32_t)(f->n - 1), &first)) {
			struct ynode *k0 = f->kids[first];
			diag_add(b->diags, n->line, n->col, "duplicate key '%s' (first at line %u)",
				 n->str, k0->line);
		}
	}
}

static void frame_push(struct builder *b, struct ynode *n, struct fy_token *anchor)
{
	b->stack = xrealloc_array(b->stack, b->depth + 1, sizeof(*b->stack), &b->cap);
	struct frame *f = &b->stack[b->depth++];
	memset(f, 0, sizeof(*f));
	f->node = n;
	strmap_init(&f->keys);
	if (anchor) {
		size_t len;
		f->anchor = token_text(b, anchor, &len);
	}
}

static void frame_pop(struct builder *b)
{
	struct frame *f = &b->stack[--b->depth];
	struct ynode *n = f->node;
	uint64_t w = 1;
	for (size_t i = 0; i < f->n; i++)
		w = sat_add(w, f->kids[i]->weight);
	n->weight = w;
	if (n->type == YN_SEQ) {
		n->n = (uint32_t)f->n;
		n->items = arena_calloc(b->a, f->n, sizeof(*n->items));
		if (f->n)
			memcpy(n->items, f->kids, f->n * sizeof(*n->items));
	} else {
		/* Drop later duplicates: keep the first occurrence of each key. */
		n->pairs = arena_calloc(b->a, f->n / 2 + 1, sizeof(*n->pairs));
		uint32_t k = 0;
		for (size_t i = 0; i + 1 < f->n; i += 2) {
			uint32_t first;
			if (strmap_get(&f->keys, f->kids[i]->str, &first) && first != i)
				continue;
			n->pairs[k++] = (struct ypair){f->kids[i], f->kids[i + 1]};
		}
		n->n = k;
	}
	if (f->anchor)
		anchor_register(b, f->anchor, n);
	free(f->kids);
	strmap_free(&f->keys);
	attach(b, n);
}

static void on_scalar(struct builder *b, struct fy_event *e)
{
	struct ynode *n = node_new(b, YN_SCALAR, e);
	n->str = token_text(b, e->scalar.value, &n->len);
	enum fy_scalar_style st = e->scalar.value ? fy_token_scalar_style(e->scalar.value)
						  : FYSS_PLAIN;
	n->plain = st == FYSS_PLAIN;
	if (e->scalar.tag) {
		size_t len;
		const char *tag = token_text(b, e->scalar.tag, &len);
		if (strcmp(tag, "tag:yaml.org,2002:str") == 0 || strcmp(tag, "!!str") == 0)
			n->plain = false;
	}
	if (e->scalar.anchor) {
		size_t len;
		anchor_register(b, token_text(b, e->scalar.anchor, &len), n);
	}
	attach(b, n);
}

static void on_alias(struct builder *b, struct fy_event *e)
{
	size_t len;
	const char *name = token_text(b, e->alias.anchor, &len);
	uint32_t idx;
	if (!strmap_get(&b->anchors, name, &idx)) {
		uint32_t line, col;
		mark_pos(e, &line, &col);
		diag_add(b->diags, line, col, "unknown alias '*%s' (define it first with '&%s')", name,
			 name);
		struct ynode *n = node_new(b, YN_SCALAR, e);
		n->str = "";
		attach(b, n);
		return;
	}
	attach(b, b->anchor_nodes[idx]);
}

struct ynode *ytree_parse(struct arena *a, const char *text, size_t len, struct diag_list *diags)
{
	struct fy_diag_cfg dc;
	fy_diag_cfg_default(&dc);
	dc.fp = NULL;
	dc.output_fn = NULL;
	struct fy_diag *fdiag = fy_diag_create(&dc);
	if (!fdiag)
		die_oom();
	fy_diag_set_collect_errors(fdiag, true);
	struct fy_parse_cfg cfg = {
		.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 | FYPCF_ALLOW_DUPLICATE_KEYS |
			 FYPCF_JSON_NONE,
		.diag = fdiag,
	};
	struct fy_parser *p = fy_parser_create(&cfg);
	if (!p)
		die_oom();
	struct builder b = {.a = a, .diags = diags};
	strmap_init(&b.anchors);
	/* fy_parser_set_string keeps a pointer: the text must outlive parsing (it does). */
	fy_parser_set_string(p, text, len);
	struct fy_event *e;
	while (!b.failed && (e = fy_parser_parse(p))) {
		switch (e->type) {
		case FYET_DOCUMENT_START:
			if (++b.docs == 2) {
				uint32_t line, col;
				mark_pos(e, &line, &col);
				diag_add(diags, line, col,
					 "a second YAML document: a DAG file holds exactly one "
					 "DAG (remove the '---' or split the file)");
				b.failed = true;
			}
			break;
		case FYET_MAPPING_START:
			frame_push(&b, node_new(&b, YN_MAP, e), e->mapping_start.anchor);
			break;
		case FYET_SEQUENCE_START:
			frame_push(&b, node_new(&b, YN_SEQ, e), e->sequence_start.anchor);
			break;
		case FYET_MAPPING_END:
		case FYET_SEQUENCE_END:
			if (b.depth)
				frame_pop(&b);
			break;
		case FYET_SCALAR:
			on_scalar(&b, e);
			break;
		case FYET_ALIAS:
			on_alias(&b, e);
			break;
		default:
			break;
		}
		fy_parser_event_free(p, e);
	}
	bool syntax_error = fy_parser_get_stream_error(p);
	if (syntax_error) {
		void *it = NULL;
		struct fy_diag_error *de;
		int reported = 0;
		while ((de = fy_diag_errors_iterate(fdiag, &it))) {
			if (reported++)
				break; /* the first error is the one that matters; the rest cascade */
			diag_add(diags, de->line > 0 ? (uint32_t)de->line : 1,
				 de->column > 0 ? (uint32_t)de->column : 1, "YAML syntax error: %s",
				 de->msg);
		}
		if (!reported)
			diag_add(diags, 1, 1, "YAML syntax error");
	}
	while (b.depth) {
		struct frame *f = &b.stack[--b.depth];
		free(f->kids);
		strmap_free(&f->keys);
	}
	free(b.stack);
	free(b.anchor_nodes);
	strmap_free(&b.anchors);
	fy_parser_destroy(p);
	fy_diag_destroy(fdiag);
	if (syntax_error || b.failed)
		return NULL;
	if (b.root && b.root->weight > YTREE_MAX_EXPANDED) {
		diag_add(diags, b.root->line, b.root->col,
			 "aliases expand this document to more than %u nodes; refusing it",
			 YTREE_MAX_EXPANDED);
		return NULL;
	}
	return b.root;
}

static bool is_null_word(const char *s)
{
	return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
	       strcmp(s, "NULL") == 0;
}

bool ynode_bool(const struct ynode *n, bool *ret)
{
	if (n->type != YN_SCALAR || !n->plain)
		return false;
	const char *s = n->str;
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
		*ret = true;
		return true;
	}
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
		*ret = false;
		return true;
	}
	return false;
}

bool ynode_int(const struct ynode *n, int64_t *ret)
{
	if (n->type != YN_SCALAR || !n->plain || !*n->str)
		return false;
	const char *s = n->str;
	int base = 10;
	const char *digits = s;
	if (s[0] == '0' && s[1] == 'x') {
		base = 16;
		digits = s + 2;
	} else if (s[0] == '0' && s[1] == 'o') {
		base = 8;
		digits = s + 2;
	}
	if (!*digits)
		return false;
	errno = 0;
	char *end;
	long long v = strtoll(base == 10 ? s : digits, &end, base);
	if (*end || errno)
		return false;
	if (base == 10) {
		const char *p = s + (*s == '-' || *s == '+');
		if (!*p)
			return false;
		for (; *p; p++)
			if (*p < '0' || *p > '9')
				return false;
	}
	*ret = v;
	return true;
}

bool ynode_number(const struct ynode *n, double *ret)
{
	int64_t i;
	if (ynode_int(n, &i)) {
		*ret = (double)i;
		return true;
	}
	if (n->type != YN_SCALAR || !n->plain || !*n->str)
		return false;
	const char *s = n->str;
	if (!strcmp(s, ".inf") || !strcmp(s, "+.inf") || !strcmp(s, "-.inf") || !strcmp(s, ".nan"))
		return false; /* not useful in a DAG file; treat as strings */
	/* YAML 1.2 core float: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
	const char *p = s + (*s == '-' || *s == '+');
	bool digits = false;
	while (*p >= '0' && *p <= '9')
		p++, digits = true;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits = true;
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p)
		return false;
	double v = strtod(s, NULL);
	if (!isfinite(v))
		return false;
	*ret = v;
	return true;
}

enum yscalar_kind ynode_scalar_kind(const struct ynode *n)
{
	if (!n->plain)
		return YS_STRING;
	if (is_null_word(n->str))
		return YS_NULL;
	bool b;
	if (ynode_bool(n, &b))
		return YS_BOOL;
	int64_t i;
	if (ynode_int(n, &i))
		return YS_INT;
	double d;
	if (ynode_number(n, &d))
		return YS_FLOAT;
	return YS_STRING;
}

const char *ynode_describe(const struct ynode *n)
{
	if (n->type == YN_MAP)
		return "a mapping";
	if (n->type == YN_SEQ)
		return "a list";
	switch (ynode_scalar_kind(n)) {
	case YS_NULL:
		return "nothing (null)";
	case YS_BOOL:
		return "true/false";
	case YS_INT:
	case YS_FLOAT:
		return "a number";
	default:
		return "a string";
	}
}

/* Start of the source line `line` (1-based). */
static const char *source_line(const char *text, size_t len, uint32_t line)
{
	const char *p = text, *end = text + len;
	for (uint32_t l = 1; l < line && p < end; p++)
		if (*p == '\n')
			l++;
	return p;
}

void ytree_scalar_pos(const char *text, size_t len, const struct ynode *n, uint32_t off,
		      uint32_t *ret_line, uint32_t *ret_col)
{
	uint32_t nl = 0, line_start = 0;
	for (uint32_t i = 0; i < off && i < n->len; i++)
		if (n->str[i] == '\n') {
			nl++;
			line_start = i + 1;
		}
	const char *src = source_line(text, len, n->line) + (n->col - 1);
	bool block = src < text + len && (*src == '|' || *src == '>');
	if (!block && nl == 0) {
		*ret_line = n->line;
		*ret_col = n->col + off + (n->plain ? 0 : 1);
		return;
	}
	uint32_t line = n->line + nl + (block ? 1 : 0);
	const char *ls = source_line(text, len, line), *end = text + len;
	uint32_t indent = 0;
	while (ls + indent < end && ls[indent] == ' ')
		indent++;
	*ret_line = line;
	*ret_col = indent + 1 + (off - line_start);
}

/* Position of the first byte that is not valid UTF-8 (or NUL), or -1. */
static long first_bad_byte(const char *s, size_t len, bool *ret_nul)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		unsigned c = p[i];
		if (c == 0) {
			*ret_nul = true;
			return (long)i;
		}
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		unsigned min;
		if ((c & 0xE0) == 0xC0) {
			n = 1;
			min = 0x80;
			c &= 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			n = 2;
			min = 0x800;
			c &= 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			n = 3;
			min = 0x10000;
			c &= 0x07;
		} else {
			return (long)i;
		}
		for (size_t k = 1; k <= n; k++) {
			if (i + k >= len || (p[i + k] & 0xC0) != 0x80)
				return (long)i;
			c = (c << 6) | (p[i + k] & 0x3F);
		}
		if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
			return (long)i;
		i += n + 1;
	}
	return -1;
}

static void pos_of_offset(const char *s, size_t off, uint32_t *line, uint32_t *col)
{
	uint32_t l = 1, c = 1;
	for (size_t i = 0; i < off; i++) {
		if (s[i] == '\n') {
			l++;
			c = 1;
		} else {
			c++;
		}
	}
	*line = l;
	*col = c;
}

bool ytree_text_ok(const char *text, size_t len, struct diag_list *diags)
{
	bool nul = false;
	long bad = first_bad_byte(text, len, &nul);
	if (bad < 0)
		return true;
	uint32_t line, col;
	pos_of_offset(text, (size_t)bad, &line, &col);
	if (nul)
		diag_add(diags, line, col, "the file contains a NUL byte: is it a binary file?");
	else
		diag_add(diags, line, col, "the file is not valid UTF-8 (byte 0x%02x): save it as UTF-8",
			 (unsigned char)text[bad]);
	return false;
}
