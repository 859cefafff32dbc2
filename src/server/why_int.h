/* why_int.h - shared by why.c (the checks) and why_admission.c (the admission rows). */
#ifndef GUST_SERVER_WHY_INT_H
#define GUST_SERVER_WHY_INT_H

#include "dag/dag.h"
#include "server/why.h"
#include "store/store.h"

struct why {
	const struct why_env *env;
	struct store *st;
	struct store_run run;
	struct store_ti *tis; /* the run's instances */
	size_t n_tis;
	const struct store_ti *ti; /* the one asked about (NULL: no row yet) */
	const struct dag *dag;	   /* the run's DAG version */
	void *dag_hold;
	int32_t task; /* index in dag */
	const char *task_id;
	struct store_dag dag_row;
	int64_t now;
	const char *check; /* the check saying the next reasons */
	json_t *reasons;
	bool stop; /* a check explained it all */
};

/* One reason, from the current check; "waiting" when it holds the instance back. */
void why_say(struct why *w, bool waiting, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A scheduled instance: parallelism, max_active_tasks, its pool, its declared resources and
 * reservations, each with the numbers behind it. */
void why_admission(struct why *w);
/* A queued run below max_active_runs: running runs of conflicting DAGs. Returns how many
 * reasons it gave. */
int why_conflicts(struct why *w);

#endif
