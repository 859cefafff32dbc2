/*
 * util.h - allocation that cannot fail silently, and small helpers every layer uses.
 *
 * gust treats out-of-memory as fatal: xmalloc() and friends print one line and exit(70).
 * Functions elsewhere return 0 or a negative errno (libuv and systemd style); errno_str()
 * names such a code. Output parameters are named ret_... and come last.
 */
#ifndef GUST_BASE_UTIL_H
#define GUST_BASE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

_Noreturn void die_oom(void);
/* CLOCK_MONOTONIC in milliseconds and microseconds: for deadlines and durations. */
int64_t mono_ms(void);
/* The wall clock (CLOCK_REALTIME) in ms since the epoch. */
int64_t wall_ms(void);
int64_t mono_us(void);
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
/* Grow *p to hold at least `need` elements of `size`, doubling; updates *cap. */
void *xrealloc_array(void *p, size_t need, size_t size, size_t *cap);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t len);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Free *p and set it to NULL; for __attribute__((cleanup)). */
static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ __attribute__((cleanup(freep)))

bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);

/* Levenshtein distance, capped: returns cap+1 when larger. For "did you mean" hints. */
unsigned edit_distance(const char *a, const char *b, unsigned cap);
/* The candidate closest to `word` within distance 2 (or a third of its length), or NULL. */
const char *closest_word(const char *word, const char *const *candidates, size_t n);

#endif
