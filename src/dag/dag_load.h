/*
 * dag_load.h - read a DAG file, validate every rule, and compile it, in one pass.
 *
 * Loading never stops at the first problem: the YAML is parsed into a positioned tree
 * (yaml_tree.h), every key is checked against the tables in dag_load.c, and the whole DAG is then
 * checked as a graph (dag_compile.c: unknown depends, cycles, template references). Every problem
 * lands in the caller's diag_list as FILE:LINE:COL: error: MESSAGE. A DAG is returned only when
 * there was no problem at all.
 *
 * Input limits: DAG_MAX_FILE_BYTES; the text must be UTF-8 without NUL bytes.
 */
#ifndef GUST_DAG_DAG_LOAD_H
#define GUST_DAG_DAG_LOAD_H

#include <stddef.h>

#include "base/diag.h"
#include "dag/dag.h"

#define DAG_MAX_FILE_BYTES (64u * 1024 * 1024)

/* Load from a file. Returns 0 with *ret set, or -EINVAL (problems in diags) or another negative
 * errno for I/O (also described in diags, at line 0). */
int dag_load_file(const char *path, struct dag **ret, struct diag_list *diags);

/* Load from memory. `path` names the file for the default id and messages. */
int dag_load_buffer(const char *path, const char *text, size_t len, struct dag **ret,
		    struct diag_list *diags);

/* The same with another source of the YAML tree: `parse` returns the root (allocated in `a`, the
 * DAG's arena) or NULL with problems in diags. The server passes a decoder of the DAG processor's
 * message (server/dagproc.h), so it never runs the YAML parser itself. `text` is still the file's
 * bytes: positions inside scalars are computed from it. */
struct ynode;
typedef struct ynode *(*dag_parse_fn)(struct arena *a, const char *text, size_t len,
				      struct diag_list *diags, void *ctx);
int dag_load_with(const char *path, const char *text, size_t len, dag_parse_fn parse, void *ctx,
		  struct dag **ret, struct diag_list *diags);

/* Is `s` a valid DAG or task id ([A-Za-z0-9_][A-Za-z0-9_.-]*, at most 200 bytes)? */
bool dag_id_valid(const char *s);
/* A pool name: the same characters as an id, at most 100 of them (the store's rule too). */
#define DAG_POOL_NAME_MAX 100
bool dag_pool_name_valid(const char *s);

#endif
