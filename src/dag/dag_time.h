/*
 * dag_time.h - the date-times a DAG file holds (`start_date`, `end_date`) and a run's --now:
 * ISO 8601 `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]` (a space may replace the T), optionally followed
 * by `Z` or an offset `+HH:MM` / `-HH:MM`. Without a zone, the time is civil time in the DAG's
 * time zone (converted by the caller with tz_from_civil()).
 */
#ifndef GUST_DAG_DAG_TIME_H
#define GUST_DAG_DAG_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cron/tz.h"

struct dag_time {
	struct civil civil;
	bool has_time;
	bool has_offset;    /* Z or +HH:MM given: civil is in that offset */
	int32_t offset_sec; /* seconds east of UTC when has_offset */
};

/* 0 or -EINVAL. */
int dag_time_parse(const char *s, struct dag_time *ret);

/* The instant a dag_time names: with an offset, exactly; else civil time in `tz` (NULL: UTC);
 * a civil time in a DST gap moves to the first valid instant after it. */
int64_t dag_time_to_ms(const struct dag_time *t, const struct tz *tz);

/* Parse and convert in one step. 0 or -EINVAL. */
int dag_time_parse_ms(const char *s, const struct tz *tz, int64_t *ret_ms);

/* Format UTC ms as 2024-03-01T00:00:00Z (buf >= 32). */
char *time_format_utc(int64_t ms, char *buf, size_t size);
/* With milliseconds: 2024-03-01T00:00:05.123Z. Returns buf (>= 32 bytes). */
char *time_format_utc_ms(int64_t ms, char *buf, size_t size);

#endif
