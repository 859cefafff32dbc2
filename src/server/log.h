/*
 * log.h - the server's log: one line per event on stderr,
 *   2024-03-01T00:00:00.123Z INFO  scheduler: created run etl/scheduled__2024-03-01T00:00:00Z
 * Times are the server's clock (which `--now` shifts), so a test reads the schedule it set.
 */
#ifndef GUST_SERVER_LOG_H
#define GUST_SERVER_LOG_H

#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Shift of the log's clock relative to the wall clock, in ms (set once by the server). */
void log_set_offset(int64_t offset_ms);
void log_set_level(enum log_level min);
void slog(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
