/*
 * yaml_tree.c - builds a struct ynode tree from libyaml events.
 *
 * A stack holds the open containers; each collects its children in a growable array that is
 * copied into the arena when the container closes. Mapping children alternate key, value; a
 * per-mapping strmap finds duplicate keys. Anchors are remembered in a strmap from anchor name to
 * node; an alias reuses the node (no copy), and `weight` tracks what the expansion would cost.
 */
#include "dag/yaml_tree.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

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

static void mark_pos(const yaml_mark_t *m, uint32_t *line, uint32_t *col)
{
	*line = (uint32_t)m->line + 1;
	*col = (uint32_t)m->column + 1;
}

static struct ynode *node_new(struct builder *b, enum ynode_type t, const yaml_event_t *e)
{
	struct ynode *n = arena_alloc(b->a, sizeof(*n));
	n->type = t;
	n->weight = 1;
	mark_pos(&e->start_mark, &n->line, &n->col);
	return n;
}

static const char *ystr(const yaml_char_t *s)
{
	return (const char *)s;
}

static void anchor_register(struct builder *b, const char *name, struct ynode *n)
{
	uint32_t idx = (uint32_t)b->n_anchor_nodes;
	b->anchor_nodes = xrealloc_array(b->anchor_nodes, idx + 1, sizeof(*b->anchor_nodes),
					 &b->cap_anchor_nodes);
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
		diag_add(b->diags, n->line, n->col, "mapping keys must be plain strings, not %s",
			 ynode_describe(n));
		n = arena_alloc(b->a, sizeof(*n));
		*n = (struct ynode){
		    .type = YN_SCALAR, .line = f->node->line, .str = "", .weight = 1};
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

static void frame_push(struct builder *b, struct ynode *n, const yaml_char_t *anchor)
{
	b->stack = xrealloc_array(b->stack, b->depth + 1, sizeof(*b->stack), &b->cap);
	struct frame *f = &b->stack[b->depth++];
	memset(f, 0, sizeof(*f));
	f->node = n;
	strmap_init(&f->keys);
	if (anchor)
		f->anchor = arena_strdup(b->a, ystr(anchor));
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

static void on_scalar(struct builder *b, const yaml_event_t *e)
{
	struct ynode *n = node_new(b, YN_SCALAR, e);
	n->len = e->data.scalar.length;
	n->str = arena_strndup(b->a, ystr(e->data.scalar.value), n->len);
	n->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	/* libyaml resolves '!!str' to its full form. */
	const char *tag = ystr(e->data.scalar.tag);
	if (tag && (strcmp(tag, "tag:yaml.org,2002:str") == 0 || strcmp(tag, "!!str") == 0))
		n->plain = false;
	if (e->data.scalar.anchor)
		anchor_register(b, arena_strdup(b->a, ystr(e->data.scalar.anchor)), n);
	attach(b, n);
}

static void on_alias(struct builder *b, const yaml_event_t *e)
{
	const char *name = ystr(e->data.alias.anchor);
	uint32_t idx;
	if (!strmap_get(&b->anchors, name, &idx)) {
		struct ynode *n = node_new(b, YN_SCALAR, e);
		diag_add(b->diags, n->line, n->col,
			 "unknown alias '*%s' (define it first with '&%s')", name, name);
		n->str = "";
		attach(b, n);
		return;
	}
	attach(b, b->anchor_nodes[idx]);
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

/* Characters (not continuation bytes) in s[from, to). */
static uint32_t chars_between(const char *s, size_t from, size_t to)
{
	uint32_t n = 0;
	for (size_t i = from; i < to; i++)
		n += ((unsigned char)s[i] & 0xC0) != 0x80;
	return n;
}

/* The byte at line `line`, column `col` (1-based, columns in characters) of the source. */
static const char *source_at(const char *text, size_t len, uint32_t line, uint32_t col)
{
	const char *p = source_line(text, len, line), *end = text + len;
	for (uint32_t c = 1; c < col && p < end && *p != '\n'; c++)
		do
			p++;
		while (p < end && ((unsigned char)*p & 0xC0) == 0x80);
	return p;
}

/* Line and column (1-based) of byte `off` in `text`; columns count characters, as libyaml's
 * marks do. */
static void pos_of_offset(const char *s, size_t len, size_t off, uint32_t *line, uint32_t *col)
{
	uint32_t l = 1, c = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (s[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)s[i] & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

/*
 * libyaml's errors are a problem ("did not find expected key") and a context ("while parsing a
 * block mapping") with a mark each. The ones people actually hit get a sentence that says what
 * is wrong and what to do; the position is the more useful of the two marks. Anything else is
 * reported as libyaml words it, with the context's position.
 */
/* libyaml's mark at the end of a file that ends with a newline is the line after the last: say
 * "the end of the last line" instead of a line the editor does not show. */
static void clamp_to_text(const char *text, size_t len, uint32_t *line, uint32_t *col)
{
	uint32_t lines = 1;
	size_t last = 0;
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\n' && i + 1 < len) {
			lines++;
			last = i + 1;
		}
	if (*line <= lines)
		return;
	*line = lines;
	size_t end = last;
	while (end < len && text[end] != '\n')
		end++;
	*col = chars_between(text, last, end) + 1;
}

struct yerr_rule {
	const char *problem; /* prefix of libyaml's problem text */
	const char *context; /* prefix of its context text, or NULL for any */
	bool at_context;     /* report at the context mark instead of the problem mark */
	const char *message;
};

static const struct yerr_rule yerr_rules[] = {
    {"found character that cannot start any token", NULL, false, NULL}, /* see below */
    {"found a tab character", NULL, false, "tab character may not be used as indentation"},
    {"did not find expected key", "while parsing a block mapping", false,
     "invalid indentation in mapping"},
    {"did not find expected '-' indicator", NULL, false,
     "invalid indentation in list: this line does not line up with the list's '-' items"},
    {"did not find expected ',' or ']'", NULL, true, "flow sequence without a closing bracket"},
    {"did not find expected ',' or '}'", NULL, true, "flow mapping without a closing brace"},
    {"found unexpected end of stream", "while scanning a quoted scalar", true,
     "quoted string without a closing quote"},
    {"mapping values are not allowed", NULL, false,
     "': ' is not allowed here: quote the value if it contains ': ', or check the "
     "indentation"},
    {"block sequence entries are not allowed", NULL, false,
     "a '- ' list item is not allowed here: check the indentation"},
    {"could not find expected ':'", NULL, true,
     "a key without ':' (write 'key: value', or quote the text)"},
    {"found unknown escape character", NULL, false,
     "unknown escape in a double-quoted string: write \\\\ for a backslash, or use single "
     "quotes"},
    {"did not find expected node content", NULL, false, "a value is missing here"},
    {"control characters are not allowed", NULL, false, NULL}, /* see below */
};

static bool prefix(const char *s, const char *p)
{
	return s && strncmp(s, p, strlen(p)) == 0;
}

static void report_error(const yaml_parser_t *p, const char *text, size_t len,
			 struct diag_list *diags)
{
	const char *problem = p->problem ? p->problem : "invalid YAML";
	uint32_t pl, pc, cl = 0, cc = 0;
	if (p->error == YAML_READER_ERROR)
		pos_of_offset(text, len, p->problem_offset, &pl, &pc);
	else
		mark_pos(&p->problem_mark, &pl, &pc);
	if (p->context)
		mark_pos(&p->context_mark, &cl, &cc);
	clamp_to_text(text, len, &pl, &pc);
	clamp_to_text(text, len, &cl, &cc);
	if (p->error == YAML_MEMORY_ERROR) {
		diag_add(diags, 1, 1, "YAML parser ran out of memory");
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(yerr_rules); i++) {
		const struct yerr_rule *r = &yerr_rules[i];
		if (!prefix(problem, r->problem) || (r->context && !prefix(p->context, r->context)))
			continue;
		uint32_t l = r->at_context && p->context ? cl : pl;
		uint32_t c = r->at_context && p->context ? cc : pc;
		if (i == 0) { /* which character: a tab, an indicator, or another */
			const char *at = source_at(text, len, pl, pc);
			char ch = at < text + len ? *at : 0;
			if (ch == '\t')
				diag_add(diags, l, c,
					 "YAML syntax error: tab character may not be used as "
					 "indentation");
			else if (ch == '@' || ch == '`')
				diag_add(diags, l, c,
					 "YAML syntax error: '%c' is reserved in YAML and cannot "
					 "start a value: quote the value",
					 ch);
			else
				diag_add(diags, l, c,
					 "YAML syntax error: this character cannot start a value: "
					 "quote the value");
		} else if (!r->message) {
			diag_add(
			    diags, l, c,
			    "YAML syntax error: control character 0x%02X is not allowed in YAML: "
			    "remove it, or write it as an escape in a double-quoted string",
			    (unsigned)p->problem_value & 0xFFu);
		} else {
			diag_add(diags, l, c, "YAML syntax error: %s", r->message);
		}
		return;
	}
	if (p->context)
		diag_add(diags, pl, pc, "YAML syntax error: %s (%s at line %u, column %u)", problem,
			 p->context, cl, cc);
	else
		diag_add(diags, pl, pc, "YAML syntax error: %s", problem);
}

/* libyaml's scanner rechecks every open simple key on each token, so its time grows with the
 * square of the nesting depth (20,000 levels: 1.7 s). No DAG needs more than a few levels;
 * stopping at YTREE_MAX_DEPTH keeps any file linear. */
static bool too_deep(struct builder *b, const yaml_event_t *e)
{
	if (b->depth < YTREE_MAX_DEPTH)
		return false;
	uint32_t line, col;
	mark_pos(&e->start_mark, &line, &col);
	diag_add(b->diags, line, col, "nesting deeper than %u levels of lists and mappings",
		 YTREE_MAX_DEPTH);
	b->failed = true;
	return true;
}

struct ynode *ytree_parse(struct arena *a, const char *text, size_t len, struct diag_list *diags)
{
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p))
		die_oom();
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
	struct builder b = {.a = a, .diags = diags};
	strmap_init(&b.anchors);
	bool syntax_error = false, done = false;
	while (!b.failed && !done) {
		yaml_event_t e;
		if (!yaml_parser_parse(&p, &e)) {
			syntax_error = true;
			report_error(&p, text, len, diags);
			break;
		}
		switch (e.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++b.docs == 2) {
				uint32_t line, col;
				mark_pos(&e.start_mark, &line, &col);
				diag_add(diags, line, col,
					 "a second YAML document: a DAG file holds exactly one "
					 "DAG (remove the '---' or split the file)");
				b.failed = true;
			}
			break;
		case YAML_MAPPING_START_EVENT:
			if (too_deep(&b, &e))
				break;
			frame_push(&b, node_new(&b, YN_MAP, &e), e.data.mapping_start.anchor);
			break;
		case YAML_SEQUENCE_START_EVENT:
			if (too_deep(&b, &e))
				break;
			frame_push(&b, node_new(&b, YN_SEQ, &e), e.data.sequence_start.anchor);
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			if (b.depth)
				frame_pop(&b);
			break;
		case YAML_SCALAR_EVENT:
			on_scalar(&b, &e);
			break;
		case YAML_ALIAS_EVENT:
			on_alias(&b, &e);
			break;
		default:
			break;
		}
		yaml_event_delete(&e);
	}
	while (b.depth) {
		struct frame *f = &b.stack[--b.depth];
		free(f->kids);
		strmap_free(&f->keys);
	}
	free(b.stack);
	free(b.anchor_nodes);
	strmap_free(&b.anchors);
	yaml_parser_delete(&p);
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
	/* YAML 1.2 core float: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
	 */
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

void ytree_scalar_pos(const char *text, size_t len, const struct ynode *n, uint32_t off,
		      uint32_t *ret_line, uint32_t *ret_col)
{
	uint32_t nl = 0, line_start = 0;
	for (uint32_t i = 0; i < off && i < n->len; i++)
		if (n->str[i] == '\n') {
			nl++;
			line_start = i + 1;
		}
	if (off > n->len)
		off = (uint32_t)n->len;
	const char *src = source_at(text, len, n->line, n->col);
	bool block = src < text + len && (*src == '|' || *src == '>');
	if (!block && nl == 0) {
		*ret_line = n->line;
		*ret_col = n->col + chars_between(n->str, 0, off) + (n->plain ? 0 : 1);
		return;
	}
	uint32_t line = n->line + nl + (block ? 1 : 0);
	const char *ls = source_line(text, len, line), *end = text + len;
	uint32_t indent = 0;
	while (ls + indent < end && ls[indent] == ' ')
		indent++;
	*ret_line = line;
	*ret_col = indent + 1 + chars_between(n->str, line_start, off);
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

bool ytree_text_ok(const char *text, size_t len, struct diag_list *diags)
{
	bool nul = false;
	long bad = first_bad_byte(text, len, &nul);
	if (bad < 0)
		return true;
	uint32_t line, col;
	pos_of_offset(text, len, (size_t)bad, &line, &col);
	if (nul)
		diag_add(diags, line, col, "the file contains a NUL byte: is it a binary file?");
	else
		diag_add(diags, line, col,
			 "the file is not valid UTF-8 (byte 0x%02x): save it as UTF-8",
			 (unsigned char)text[bad]);
	return false;
}
