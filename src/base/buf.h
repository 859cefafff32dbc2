/*
 * buf.h - a growable byte buffer, always NUL-terminated, for building strings and output.
 * The caller owns the struct; buf_free() releases the bytes. buf_detach() hands them over.
 */
#ifndef GUST_BASE_BUF_H
#define GUST_BASE_BUF_H

#include <stddef.h>

struct buf {
	char *data; /* NULL until the first append; buf_str() never returns NULL */
	size_t len, cap;
};

#define BUF_INIT {NULL, 0, 0}

void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *buf_str(const struct buf *b);
char *buf_detach(struct buf *b);

#endif
