/*
 * text.h - the few sentences' pieces every human-readable answer shares: times, how long ago,
 * an instance's name, how an attempt ended, its progress. Pure; the caller's buffer.
 */
#ifndef GUST_OPS_TEXT_H
#define GUST_OPS_TEXT_H

#include <stddef.h>
#include <stdint.h>

struct store_ti;

/* 2024-03-01T00:00:00Z (time_format_utc), or "-" for 0. Returns buf (>= 32 bytes). */
char *ops_fmt_time(int64_t ms, char *buf, size_t size);
/* "in 5s", "3m ago", "2h05m ago", "1d02h ago", "now". */
char *ops_fmt_relative(int64_t delta_ms, char *buf, size_t size);
/* "task" or "task[3]". */
char *ops_ti_name(const struct store_ti *t, char *buf, size_t size);
/* "exit 2", "signal 9", or "" when it has neither. */
char *ops_fmt_exit(const struct store_ti *t, char *buf, size_t size);
/* "3/10 message", "40% message", or "" when it reported none. */
char *ops_fmt_progress(const struct store_ti *t, char *buf, size_t size);

#endif
