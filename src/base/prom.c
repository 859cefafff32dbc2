/*
 * prom.c - the Prometheus text format and lock-free histograms (see prom.h).
 */
#include "base/prom.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

void prom_hist_init(struct prom_hist *h, const int64_t *bounds, size_t n_bounds, double per_unit)
{
	h->bounds = bounds;
	h->n_bounds = n_bounds > PROM_MAX_BUCKETS ? PROM_MAX_BUCKETS : n_bounds;
	h->per_unit = per_unit;
	for (size_t i = 0; i <= PROM_MAX_BUCKETS; i++)
		atomic_init(&h->bucket[i], 0);
	atomic_init(&h->sum, 0);
}

size_t prom_hist_bucket(const struct prom_hist *h, int64_t v)
{
	/* A binary search: the first bound >= v ("le" is inclusive). */
	size_t lo = 0, hi = h->n_bounds;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v <= h->bounds[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

void prom_hist_observe(struct prom_hist *h, int64_t v)
{
	if (v < 0)
		v = 0;
	/* Relaxed: only the loop writes; a scrape needs no order between the buckets. */
	atomic_fetch_add_explicit(&h->bucket[prom_hist_bucket(h, v)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum, (uint64_t)v, memory_order_relaxed);
}

void prom_escape_label(struct buf *out, const char *value)
{
	for (const char *p = value; *p; p++) {
		if (*p == '\\')
			buf_puts(out, "\\\\");
		else if (*p == '"')
			buf_puts(out, "\\\"");
		else if (*p == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, *p);
	}
}

void prom_escape_help(struct buf *out, const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*p == '\\')
			buf_puts(out, "\\\\");
		else if (*p == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, *p);
	}
}

void prom_family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s ", name);
	prom_escape_help(out, help);
	buf_printf(out, "\n# TYPE %s %s\n", name, type);
}

void prom_number(struct buf *out, double v)
{
	if (isnan(v))
		buf_puts(out, "NaN");
	else if (isinf(v))
		buf_puts(out, v > 0 ? "+Inf" : "-Inf");
	else if (v == trunc(v) && fabs(v) < 9007199254740992.0) /* 2^53: exact as an integer */
		buf_printf(out, "%.0f", v);
	else {
		/* The shortest of 15 or 17 digits that reads back as the same double. */
		char t[32];
		snprintf(t, sizeof(t), "%.15g", v);
		if (strtod(t, NULL) != v)
			snprintf(t, sizeof(t), "%.17g", v);
		buf_puts(out, t);
	}
}

/* name{labels[,le="..."]} */
static void series(struct buf *out, const char *name, const char *suffix, const char *const *labels,
		   const char *le)
{
	buf_puts(out, name);
	buf_puts(out, suffix);
	if ((!labels || !labels[0]) && !le)
		return;
	buf_putc(out, '{');
	bool first = true;
	for (size_t i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
		buf_printf(out, "%s%s=\"", first ? "" : ",", labels[i]);
		prom_escape_label(out, labels[i + 1]);
		buf_putc(out, '"');
		first = false;
	}
	if (le)
		buf_printf(out, "%sle=\"%s\"", first ? "" : ",", le);
	buf_putc(out, '}');
}

void prom_sample(struct buf *out, const char *name, const char *const *labels, double value)
{
	series(out, name, "", labels, NULL);
	buf_putc(out, ' ');
	prom_number(out, value);
	buf_putc(out, '\n');
}

void prom_sample_u64(struct buf *out, const char *name, const char *const *labels, uint64_t v)
{
	series(out, name, "", labels, NULL);
	buf_printf(out, " %llu\n", (unsigned long long)v);
}

void prom_hist_render(struct buf *out, const char *name, const char *const *labels,
		      const struct prom_hist *h)
{
	uint64_t cum = 0;
	for (size_t i = 0; i <= h->n_bounds; i++) {
		cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
		struct buf le = {0};
		if (i < h->n_bounds)
			prom_number(&le, (double)h->bounds[i] / h->per_unit);
		else
			buf_puts(&le, "+Inf");
		series(out, name, "_bucket", labels, buf_str(&le));
		buf_printf(out, " %llu\n", (unsigned long long)cum);
		buf_free(&le);
	}
	series(out, name, "_sum", labels, NULL);
	buf_putc(out, ' ');
	prom_number(out, (double)atomic_load_explicit(&h->sum, memory_order_relaxed) / h->per_unit);
	buf_putc(out, '\n');
	series(out, name, "_count", labels, NULL);
	buf_printf(out, " %llu\n", (unsigned long long)cum);
}
