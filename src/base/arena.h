/*
 * arena.h - bump allocator for objects that live and die together.
 *
 * A loaded DAG owns one arena: every string, task and array of the model is carved from it and
 * released with one arena_free(). Blocks grow geometrically; an allocation never moves. The
 * arena is not thread-safe and never returns memory before arena_free().
 */
#ifndef GUST_BASE_ARENA_H
#define GUST_BASE_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head;
	size_t total; /* bytes handed out, for diagnostics and benchmarks */
};

void arena_init(struct arena *a);
void arena_free(struct arena *a);

/* Zeroed memory, aligned for any type. Aborts on out-of-memory (see util.h). */
void *arena_alloc(struct arena *a, size_t size);
/* n * size with overflow check. */
void *arena_calloc(struct arena *a, size_t n, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t len);
/* printf into the arena. */
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
