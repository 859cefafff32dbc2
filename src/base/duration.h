/*
 * duration.h - durations (`30s`, `5m`, `2h`, `1d`, `1h30m`, `250ms`) and sizes (`512M`, `50G`).
 *
 * Pure parsing and formatting, no I/O. A duration is one or more NUMBER UNIT parts with units
 * ms, s, m, h, d, w, largest first, each unit at most once (`1h30m`, not `30m1h`); a bare `0` is
 * allowed. Results are milliseconds in int64, and overflow is an error. A size is an integer with
 * an optional binary suffix K, M, G, T (optionally followed by `i` and/or `B`: `512M`, `512MiB`,
 * `50GB` all mean powers of 1024) or a bare number of bytes. Both accept no whitespace, no sign.
 * On error they return -EINVAL and set *ret_err to a static English sentence naming what is
 * wrong and the accepted form, e.g. "unknown unit 'x' (use ms, s, m, h, d or w)".
 */
#ifndef GUST_BASE_DURATION_H
#define GUST_BASE_DURATION_H

#include <stddef.h>
#include <stdint.h>

int duration_parse(const char *s, int64_t *ret_ms, const char **ret_err);
/* Shortest exact form: 90000 -> "1m30s", 0 -> "0s", 1500 -> "1s500ms". Returns buf. */
char *duration_format(int64_t ms, char *buf, size_t size);

int size_parse(const char *s, uint64_t *ret_bytes, const char **ret_err);
/* Largest exact unit: 536870912 -> "512M", 1000 -> "1000". Returns buf. */
char *size_format(uint64_t bytes, char *buf, size_t size);
/* For people: exact when a whole unit ("512M"), else three significant digits of the largest
 * unit it reaches ("79.2G", "1.5T"); never longer than 8 characters. Returns buf. */
char *size_human(uint64_t bytes, char *buf, size_t size);
/* A cpu amount in thousandths of a core, for people: 2000 -> "2", 2500 -> "2.5". */
char *cpu_format(int64_t milli, char *buf, size_t size);

#endif
