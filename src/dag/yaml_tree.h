/*
 * yaml_tree.h - a YAML document as a small tree of nodes that remember where they came from.
 *
 * libyaml's event parser does the YAML (ADR 0006); this module keeps, for every node, the line and
 * column where it starts (columns in characters), so that every validation message can point at the offending key or value.
 * The tree lives in the caller's arena. Rules it enforces on the way:
 *   - exactly one document; a second one is an error;
 *   - duplicate keys in a mapping are reported at the second occurrence, naming the first
 *     ("duplicate key 'x' (first at line 4)"); the later value is dropped;
 *   - only scalar keys;
 *   - aliases (*a) point at the anchored node; a document whose aliases would expand past
 *     YTREE_MAX_EXPANDED nodes ("billion laughs") is refused;
 *   - at most YTREE_MAX_DEPTH levels of nesting (libyaml's time grows with the square of it).
 * Syntax errors get a sentence that says what to do for the common cases (see yerr_rules).
 * Scalars keep their text and whether they were plain (unquoted): `123` is a number, `"123"` a
 * string, following YAML 1.2's core schema (see ynode_scalar_kind()).
 */
#ifndef GUST_DAG_YAML_TREE_H
#define GUST_DAG_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/diag.h"

#define YTREE_MAX_EXPANDED (8u * 1000 * 1000)
#define YTREE_MAX_DEPTH 500u

enum ynode_type { YN_SCALAR, YN_MAP, YN_SEQ };

struct ynode;

struct ypair {
	struct ynode *key, *value;
};

struct ynode {
	enum ynode_type type;
	uint32_t line, col; /* 1-based */
	bool plain;	    /* scalar written without quotes or block style */
	const char *str;    /* scalar text, NUL-terminated (may contain NUL if escaped: see len) */
	size_t len;
	uint32_t n;	    /* number of items or pairs */
	struct ynode **items;
	struct ypair *pairs;
	uint64_t weight;    /* nodes under this one counting alias expansion, saturating */
};

/* What a scalar means under the YAML 1.2 core schema. Quoted scalars are always strings. */
enum yscalar_kind { YS_NULL, YS_BOOL, YS_INT, YS_FLOAT, YS_STRING };

/* Parse `len` bytes. Returns the root node (NULL for an empty document or on a syntax error);
 * syntax errors are appended to `diags`. */
struct ynode *ytree_parse(struct arena *a, const char *text, size_t len, struct diag_list *diags);
/* Is the text valid UTF-8 without NUL bytes? Else one diagnostic at the first bad byte. Call it
 * before ytree_parse, which assumes UTF-8 and gives a vaguer message for a NUL. */
bool ytree_text_ok(const char *text, size_t len, struct diag_list *diags);

/* Where byte `off` of scalar `n`'s text sits in the source `text`. Exact for plain and quoted
 * one-line scalars (escapes aside) and for block scalars (| and >). */
void ytree_scalar_pos(const char *text, size_t len, const struct ynode *n, uint32_t off,
		      uint32_t *ret_line, uint32_t *ret_col);

enum yscalar_kind ynode_scalar_kind(const struct ynode *n);
bool ynode_bool(const struct ynode *n, bool *ret);
bool ynode_int(const struct ynode *n, int64_t *ret);
bool ynode_number(const struct ynode *n, double *ret);
/* A human word for what a node is, for "expected X, got Y" messages: "a mapping", "a list",
 * "a number", "a string", "true/false", "null". */
const char *ynode_describe(const struct ynode *n);

#endif
