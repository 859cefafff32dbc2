/*
 * why.h - shared by the files of `gust why` (cmd_why.c: the command and its table of checks;
 * why_admission.c: the admission rows, computed from the store as the server sees it).
 */
#ifndef GUST_CLI_WHY_H
#define GUST_CLI_WHY_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/cli.h"
#include "dag/dag.h"
#include "store/store.h"

struct why {
	struct store *st;
	const char *home;
	struct cli_ti_ref ref; /* run, its instances, the one asked about (NULL: no row yet) */
	struct dag *dag;       /* the run's DAG version */
	int32_t task;	       /* index in dag */
	const char *task_id;
	struct store_dag dag_row;
	int64_t now;
	bool server; /* a server runs on home */
	bool stop;   /* a check explained it all */
	int lines;
};

/* One line of the answer. */
void why_say(struct why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A scheduled instance: parallelism, max_active_tasks, its pool, its declared resources and
 * reservations, each with the numbers behind it. */
void why_admission(struct why *w);
/* A queued run below max_active_runs: running runs of conflicting DAGs. Returns how many
 * lines it said. */
int why_conflicts(struct why *w);

#endif
