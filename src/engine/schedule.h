/*
 * schedule.h - when a DAG's scheduled runs are due. Pure: the caller passes the time.
 *
 * A run is named by its logical date: the fire time of the schedule that created it (cron
 * fields are civil time in the DAG's time zone, see cron.h for DST). Rules:
 *
 *   - Fire times before `start_date` or after `end_date` never create runs.
 *   - `catchup: true`: every fire time after the last scheduled run (or from start_date) up to
 *     now is due, oldest first; the caller creates them in order and max_active_runs makes the
 *     extra ones wait (queued).
 *   - `catchup: false`: only the latest fire time up to now is due (if it is newer than the
 *     last scheduled run); older missed ones are skipped.
 *   - With no start_date, a DAG's history starts when gust first saw it (`first_seen`): a new
 *     DAG does not run at once for a fire time that passed before it existed.
 *   - `jitter`: each run starts at a stable pseudo-random offset in [0, jitter) after its fire
 *     time, from a hash of the DAG id and the logical date, so DAGs that share a schedule do
 *     not all start in the same second. The logical date stays the fire time.
 */
#ifndef GUST_ENGINE_SCHEDULE_H
#define GUST_ENGINE_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dag/dag.h"

struct schedule;

/* NULL *ret (and 0) for a DAG without a schedule. -EINVAL with *ret_msg for a bad one (a
 * loaded DAG never has one). */
int schedule_open(const struct dag *d, struct schedule **ret, char **ret_msg);
void schedule_free(struct schedule *s);

/* The first fire time strictly after `after` within start/end, or INT64_MAX. */
int64_t schedule_next(const struct schedule *s, int64_t after);

/*
 * Fire times due at `now` (a fire time is due once its start, with jitter, has come), given the logical date of the newest scheduled run (`last`, 0 if
 * none) and when the DAG was first seen. Writes up to `max` of them, oldest first, into `out`
 * and returns how many; *ret_more is set when more were due than fit (call again with the
 * last one written as `last`).
 */
size_t schedule_due(const struct schedule *s, int64_t last, int64_t first_seen, int64_t now,
		    int64_t *out, size_t max, bool *ret_more);

/* When a run with this logical date should start: logical + its jitter offset. */
int64_t schedule_start_at(const struct schedule *s, int64_t logical);

/* The earliest instant after `now` at which schedule_due() will have something new: the start
 * (fire time plus jitter) of the next fire time. INT64_MAX if none. */
int64_t schedule_wakeup(const struct schedule *s, int64_t last, int64_t first_seen, int64_t now);

#endif
