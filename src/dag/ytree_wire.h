/*
 * ytree_wire.h - a parsed YAML tree (and the problems found) as bytes, and back, checked.
 *
 * The server never runs the YAML parser itself: the DAG processor (server/dagproc.h) parses a
 * file in a separate process and sends the tree in this form; the server decodes it with every
 * rule a tree from ytree_parse() obeys checked again (indexes in range and only backwards, so no
 * cycles; mapping keys are unique scalars; nesting at most YTREE_MAX_DEPTH + 1; alias expansion at
 * most YTREE_MAX_EXPANDED; positions at least 1:1; nothing left over). Whatever the bytes, the
 * decoder returns a tree dag_load can walk, or an error: it is fuzzed (tests/fuzz/fuzz_wire.c).
 *
 * Format (host byte order: both ends are the same binary on the same machine):
 *   "GYT1"  u32 n_nodes  u32 root (0xffffffff: none)
 *   n_nodes x { u8 type, u8 plain, u32 line, u32 col,
 *               scalar: u32 len, bytes | list: u32 n, n x u32 | mapping: u32 n, 2n x u32 }
 *   u32 n_diags  n_diags x { u32 line, u32 col, u32 len, bytes }
 * Nodes come children first; a node reached twice (an alias) is written once.
 */
#ifndef GUST_DAG_YTREE_WIRE_H
#define GUST_DAG_YTREE_WIRE_H

#include <stddef.h>

#include "base/buf.h"
#include "base/diag.h"
#include "dag/yaml_tree.h"

#define YWIRE_NONE 0xffffffffu

/* Append the encoding of `root` (may be NULL) and of `diags` (may be NULL) to `out`. */
void ywire_encode(const struct ynode *root, const struct diag_list *diags, struct buf *out);

/* Decode `len` bytes into `a`. Returns 0 with *ret_root (NULL if the message has none) and the
 * problems appended to `diags`; or -EBADMSG with a sentence in *ret_err (malloc'd). */
int ywire_decode(struct arena *a, const void *data, size_t len, struct ynode **ret_root,
		 struct diag_list *diags, char **ret_err);

#endif
