/*
 * why.h - why a task instance is not running now (`gust why`, GET .../why): one reason per
 * line, each with the numbers behind it, as data.
 *
 * The reasons come from one snapshot of the store and the limits in force (the config the
 * caller passes: the server's own in its loop, the CLI's reading of config.yaml otherwise),
 * counted the way admission control (engine/admit.c) counts them. The answer:
 *
 *   {"run_id", "task_id", "map_index", "state", "try_number",
 *    "reasons": [{"check": "state"|"done"|"active"|"run"|"conflict"|"paused"|"upstream"|
 *                 "retry"|"parallelism"|"max_active_tasks"|"pool"|"cpu"|"memory"|"disk"|
 *                 "reservation"|"ready"|"server", "waiting": bool, "text": "..."}]}
 *
 * "waiting" marks a reason that holds the instance back now; the texts, one per line, are what
 * `gust why` prints.
 */
#ifndef GUST_SERVER_WHY_H
#define GUST_SERVER_WHY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ops/ops.h"
#include "server/config.h"

struct why_env {
	struct store *st;
	const struct ops_dags *dags; /* the run's DAG version and those of running runs */
	const struct config *cfg;    /* parallelism and the host's capacity */
	const char *home;	     /* GUST_HOME: the disk of a task that names no path */
	int64_t now;
	bool server; /* a server runs (its loop asking: true) */
};

/* The reasons for TASK (MAP_INDEX; -2: not given) of RUN. 0 with *ret a new object, or -1
 * with *err: OPS_NOT_FOUND for an unknown run or task (with a "did you mean"), OPS_INVALID
 * for a mapped task without an index or an index it does not have. */
int why_explain(const struct why_env *env, const char *run_id, const char *task_id,
		int32_t map_index, json_t **ret, struct ops_err *err);

#endif
