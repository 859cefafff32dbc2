/*
 * retention.c - old runs and their logs removed in small batches that never stall the loop
 * (server_int.h).
 */
#include "server/server_int.h"

#include <string.h>

#include "base/fsutil.h"
#include "server/log.h"

/* ---- retention ----------------------------------------------------------------------------- */

void retention_tick(struct server *s, int64_t now)
{
	char **dirs = NULL;
	size_t n_dirs = 0;
	int n = store_cleanup(s->st, now - s->cfg.retention_ms, 50, &dirs, &n_dirs);
	size_t ll = strlen(s->logs_dir);
	for (size_t i = 0; i < n_dirs; i++) {
		/* LOGS/DAG/RUN/TASK/...: remove the whole run folder (once), else the attempt's. */
		char *d = dirs[i];
		if (strncmp(d, s->logs_dir, ll) == 0 && d[ll] == '/') {
			char *dag_end = strchr(d + ll + 1, '/');
			char *run_end = dag_end ? strchr(dag_end + 1, '/') : NULL;
			if (run_end)
				*run_end = '\0';
		}
		rm_rf(d);
		free(d);
	}
	free(dirs);
	if (n > 0)
		slog(LOG_INFO, "retention: removed %d old run%s and their logs", n,
		     n == 1 ? "" : "s");
	/* Sessions past their end (idle or absolute): they open nothing, this frees their rows. */
	int sessions = store_session_sweep(s->st, now, 500);
	if (sessions < 0)
		slog(LOG_WARN, "retention: %s", store_errmsg(s->st));
	/* More to do: come back soon, in small batches that never stall the loop. Otherwise
	 * look again in a minute (or sooner for a short retention). */
	int64_t again = s->cfg.retention_ms / 2;
	again = again < 1000 ? 1000 : again > 60000 ? 60000 : again;
	server_timer_push(s, now + (n >= 50 ? 200 : again), T_RETENTION, 0, 0);
}
