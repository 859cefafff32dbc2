/*
 * dag_compile.h - the graph half of loading: resolve `depends`, find cycles, order the tasks,
 * build the CSR arrays, and check every template reference against the graph.
 *
 * Called by dag_load.c with the positioned YAML still at hand, so that each problem points at
 * its place in the file. After it succeeds, `topo`, `up*`, `down*`, `indegree` and `task_map`
 * of the struct dag are filled.
 */
#ifndef GUST_DAG_DAG_COMPILE_H
#define GUST_DAG_DAG_COMPILE_H

#include <stddef.h>

#include "base/diag.h"
#include "dag/dag.h"
#include "dag/yaml_tree.h"

enum tmpl_use { TMPL_SHELL, TMPL_ARGV, TMPL_TEXT, TMPL_MAP };

/* A template with references, and where it was written. */
struct tmpl_site {
	const struct template *t;
	const struct ynode *node;
	int32_t task; /* index into dag->tasks, or -1 for `defaults` */
	enum tmpl_use use;
	const char *key;
};

void dag_compile(struct dag *d, const struct ynode *tasks_node, const struct tmpl_site *sites,
		 size_t n_sites, struct diag_list *diags, const char *text, size_t len);

#endif
