/*
 * config.h - the server's settings: $GUST_HOME/config.yaml (optional), then command-line flags.
 *
 *   parallelism: 32        # attempts running at once on this machine
 *   retention: 30d         # runs older than this are deleted with their logs
 *   dags: /srv/dags        # the DAG folder (default: $GUST_DAGS, else ./dags)
 *
 * Unknown keys and bad values are errors with FILE:LINE:COL, like DAG files.
 */
#ifndef GUST_SERVER_CONFIG_H
#define GUST_SERVER_CONFIG_H

#include <stdint.h>

#include "base/diag.h"

struct config {
	int parallelism;
	int64_t retention_ms;
	char *dags_dir; /* NULL: default */
};

void config_defaults(struct config *c);
/* Read `path` if it exists (a missing file is fine). 0, or -EINVAL with problems in diags. */
int config_load(struct config *c, const char *path, struct diag_list *diags);
void config_free(struct config *c);

#endif
