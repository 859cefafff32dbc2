/*
 * diag.h - a list of problems found in a file, each with a position and a message.
 *
 * Validation never stops at the first problem: every check appends here, and the caller prints
 * the whole list, sorted by position, one `FILE:LINE:COL: error: MESSAGE` line each. Lines and
 * columns are 1-based; column counts characters (as libyaml's marks and editors do). Line 0 means
 * "the whole file" (an unreadable file, say) and prints as `FILE: error: MESSAGE`.
 */
#ifndef GUST_BASE_DIAG_H
#define GUST_BASE_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct diag {
	uint32_t line, col;
	char *msg; /* owned */
};

struct diag_list {
	char *file; /* owned; the name printed before each line */
	struct diag *items;
	size_t n, cap;
	size_t
	    limit; /* stop recording after this many (0: 1000) to bound memory on garbage input */
	size_t dropped;
};

void diag_list_init(struct diag_list *l, const char *file);
void diag_list_free(struct diag_list *l);
void diag_add(struct diag_list *l, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_vadd(struct diag_list *l, uint32_t line, uint32_t col, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
/* Sort by line, then column, keeping insertion order among equals. */
void diag_sort(struct diag_list *l);
/* Print every item as FILE:LINE:COL: error: MSG. */
void diag_print(const struct diag_list *l, FILE *out);

#endif
