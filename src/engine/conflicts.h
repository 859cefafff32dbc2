/*
 * conflicts.h - which runs may not run at the same time (a DAG's `conflicts`).
 *
 * DAGs A and B conflict when A lists B's id, B lists A's id, or both list the same name (a
 * group: `conflicts: [warehouse_writers]` on several DAGs). Runs of conflicting DAGs never run
 * at once: the later one's run stays queued. A DAG never conflicts with itself here (its
 * max_active_runs says how many of its own runs may overlap).
 *
 * The caller adds every running run's DAG, then asks about each queued run in the order they
 * should start, adding the ones it starts. Work: O(length of the lists), with hash lookups.
 * Names are borrowed from the DAGs, which must outlive the set.
 */
#ifndef GUST_ENGINE_CONFLICTS_H
#define GUST_ENGINE_CONFLICTS_H

#include <stdbool.h>

#include "base/strmap.h"
#include "dag/dag.h"

struct conflicts {
	struct strmap names; /* DAG id or listed name -> index into the arrays */
	struct conflict_name {
		uint32_t running;   /* running runs of the DAG of that id */
		uint32_t listed;    /* listings of the name by running runs' DAGs */
		const char *lister; /* the first DAG seen listing it (for messages) */
	} * v;
	size_t n, cap;
};

void conflicts_init(struct conflicts *c);
void conflicts_free(struct conflicts *c);
/* A run of `d` runs. */
void conflicts_add(struct conflicts *c, const struct dag *d);
/* Would a run of `d` overlap a conflicting running run? Then *ret_with names the DAG it
 * conflicts with (a running DAG's id). */
bool conflicts_block(const struct conflicts *c, const struct dag *d, const char **ret_with);
/* Do DAGs a and b conflict (the rule above, for one pair)? */
bool conflicts_pair(const struct dag *a, const struct dag *b);

#endif
