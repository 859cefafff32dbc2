/* diag.c - problem lists (see diag.h). */
#include "base/diag.h"

#include <stdarg.h>
#include <stdlib.h>

#include "base/util.h"

void diag_list_init(struct diag_list *l, const char *file)
{
	l->file = xstrdup(file ? file : "<input>");
	l->items = NULL;
	l->n = l->cap = 0;
	l->limit = 1000;
	l->dropped = 0;
}

void diag_list_free(struct diag_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i].msg);
	free(l->items);
	free(l->file);
	l->items = NULL;
	l->file = NULL;
	l->n = l->cap = 0;
}

void diag_add(struct diag_list *l, uint32_t line, uint32_t col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_vadd(l, line, col, fmt, ap);
	va_end(ap);
}

void diag_vadd(struct diag_list *l, uint32_t line, uint32_t col, const char *fmt, va_list ap)
{
	if (l->n >= (l->limit ? l->limit : 1000)) {
		l->dropped++;
		return;
	}
	char *msg = xvasprintf(fmt, ap);
	l->items = xrealloc_array(l->items, l->n + 1, sizeof(*l->items), &l->cap);
	l->items[l->n++] = (struct diag){line, col, msg};
}

struct diag_tagged {
	struct diag d;
	size_t i;
};

static int diag_cmp(const void *a, const void *b)
{
	const struct diag_tagged *x = a, *y = b;
	if (x->d.line != y->d.line)
		return x->d.line < y->d.line ? -1 : 1;
	if (x->d.col != y->d.col)
		return x->d.col < y->d.col ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

void diag_sort(struct diag_list *l)
{
	if (l->n < 2)
		return;
	struct diag_tagged *t = xcalloc(l->n, sizeof(*t));
	for (size_t i = 0; i < l->n; i++)
		t[i] = (struct diag_tagged){l->items[i], i};
	qsort(t, l->n, sizeof(*t), diag_cmp);
	for (size_t i = 0; i < l->n; i++)
		l->items[i] = t[i].d;
	free(t);
}

void diag_print(const struct diag_list *l, FILE *out)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct diag *d = &l->items[i];
		if (d->line)
			fprintf(out, "%s:%u:%u: error: %s\n", l->file, d->line, d->col, d->msg);
		else
			fprintf(out, "%s: error: %s\n", l->file, d->msg);
	}
	if (l->dropped)
		fprintf(out, "%s: error: %zu more problems not shown\n", l->file, l->dropped);
}
