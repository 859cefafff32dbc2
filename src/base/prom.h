/*
 * prom.h - the Prometheus text exposition format (version 0.0.4), and histograms with fixed
 * buckets that one thread observes and another renders without a lock.
 *
 * The writer is pure: a family header (# HELP, # TYPE) then its samples, each with labels given
 * as NULL-terminated name/value pairs, values escaped as the format asks (backslash, double
 * quote, newline). Numbers are written so that Prometheus parses them back exactly: integers
 * as integers, others with %.17g, and +Inf, -Inf, NaN by name.
 *
 * A histogram's buckets are counts of observations at most each upper bound (not cumulative;
 * the renderer adds them up, as `le` wants) plus the overflow, a sum in the unit's integer
 * (microseconds, say) and a count. Each is an atomic counter: the observer never waits, a
 * reader may see an observation in the count and not yet in a bucket (harmless for a scrape:
 * the renderer derives the +Inf bucket and _count from the same buckets it read).
 */
#ifndef GUST_BASE_PROM_H
#define GUST_BASE_PROM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define PROM_MAX_BUCKETS 16

struct prom_hist {
	const int64_t *bounds; /* upper bounds, increasing, in the unit of observations */
	size_t n_bounds;       /* <= PROM_MAX_BUCKETS */
	double per_unit; /* rendered value = observed / per_unit (1e6: us shown as s); a division
			  * keeps 100 us as 0.0001, where x 1e-6 gives 9.9999999999999991e-05 */
	_Atomic uint64_t bucket[PROM_MAX_BUCKETS + 1]; /* the last one: above every bound */
	_Atomic uint64_t sum;
};

/* A histogram over `bounds` (static storage: not copied). */
void prom_hist_init(struct prom_hist *h, const int64_t *bounds, size_t n_bounds, double per_unit);
/* One observation (negative values count as 0). */
void prom_hist_observe(struct prom_hist *h, int64_t v);
/* The index of the bucket `v` falls in (n_bounds: above every bound). */
size_t prom_hist_bucket(const struct prom_hist *h, int64_t v);

/* Label values escaped for the text format: \ -> \\, " -> \", newline -> \n. */
void prom_escape_label(struct buf *out, const char *value);
/* A HELP text escaped: \ -> \\, newline -> \n. */
void prom_escape_help(struct buf *out, const char *text);

/* "# HELP name help\n# TYPE name type\n" (type: counter, gauge, histogram, summary). */
void prom_family(struct buf *out, const char *name, const char *type, const char *help);
/* "name{k="v",...} value\n"; labels: NULL or a NULL-terminated array of name, value, ... */
void prom_sample(struct buf *out, const char *name, const char *const *labels, double value);
/* The same for an integer value (counters: exact beyond 2^53). */
void prom_sample_u64(struct buf *out, const char *name, const char *const *labels, uint64_t v);
/* name_bucket{...,le="B"} for each bound and +Inf (cumulative), name_sum, name_count. */
void prom_hist_render(struct buf *out, const char *name, const char *const *labels,
		      const struct prom_hist *h);
/* A number as the format writes it. */
void prom_number(struct buf *out, double v);

#endif
