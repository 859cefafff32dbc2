/* schedule.c - due fire times of a DAG (see schedule.h). */
#include "engine/schedule.h"

#include <errno.h>
#include <string.h>

#include "base/strmap.h"
#include "base/util.h"
#include "cron/cron.h"
#include "cron/tz.h"
#include "dag/dag_time.h"

struct schedule {
	struct cron *cron;
	struct tz *tz;
	int64_t start, end; /* INT64_MIN / INT64_MAX when unset */
	bool catchup;
	int64_t jitter_ms;
	uint32_t id_hash;
};

int schedule_open(const struct dag *d, struct schedule **ret, char **ret_msg)
{
	*ret = NULL;
	if (!d->schedule)
		return 0;
	struct schedule *s = xcalloc(1, sizeof(*s));
	s->start = INT64_MIN;
	s->end = INT64_MAX;
	s->catchup = d->catchup;
	s->jitter_ms = d->jitter_ms;
	s->id_hash = strhash(d->id);
	if (tz_open(d->timezone, &s->tz) < 0) {
		*ret_msg = xasprintf("unknown time zone '%s'", d->timezone);
		schedule_free(s);
		return -EINVAL;
	}
	struct cron_error ce;
	memset(&ce, 0, sizeof(ce));
	if (cron_parse(d->schedule, d->id, &s->cron, &ce) < 0) {
		*ret_msg = xasprintf("bad schedule '%s': %s", d->schedule, ce.msg);
		schedule_free(s);
		return -EINVAL;
	}
	if ((d->start_date && dag_time_parse_ms(d->start_date, s->tz, &s->start) < 0) ||
	    (d->end_date && dag_time_parse_ms(d->end_date, s->tz, &s->end) < 0)) {
		*ret_msg = xasprintf("bad start_date or end_date");
		schedule_free(s);
		return -EINVAL;
	}
	/* @every counts from start_date (or the epoch). */
	cron_set_anchor(s->cron, s->start == INT64_MIN ? 0 : s->start);
	*ret = s;
	return 0;
}

void schedule_free(struct schedule *s)
{
	if (!s)
		return;
	cron_free(s->cron);
	tz_close(s->tz);
	free(s);
}

int64_t schedule_next(const struct schedule *s, int64_t after)
{
	if (s->start != INT64_MIN && after < s->start - 1)
		after = s->start - 1; /* a fire exactly at start_date counts */
	int64_t t = cron_next(s->cron, s->tz, after);
	return t > s->end ? INT64_MAX : t;
}

/* Where the search for due fire times starts: after the newest run, or just before the
 * beginning of the DAG's history. */
static int64_t history_start(const struct schedule *s, int64_t last, int64_t first_seen)
{
	if (last > 0)
		return last;
	if (s->start != INT64_MIN)
		return s->start - 1;
	return first_seen;
}

int64_t schedule_start_at(const struct schedule *s, int64_t logical)
{
	if (!s || s->jitter_ms <= 0)
		return logical;
	/* A stable offset from the DAG id and the logical date (splitmix64 of both). */
	uint64_t x = ((uint64_t)s->id_hash << 32) ^ (uint64_t)logical;
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return logical + (int64_t)(x % (uint64_t)s->jitter_ms);
}

size_t schedule_due(const struct schedule *s, int64_t last, int64_t first_seen, int64_t now,
		    int64_t *out, size_t max, bool *ret_more)
{
	*ret_more = false;
	if (!s || max == 0)
		return 0;
	int64_t from = history_start(s, last, first_seen);
	if (!s->catchup) {
		/* Only the latest fire time in (from, min(now, end)] whose start has come. */
		int64_t until = now < s->end ? now : s->end;
		int64_t latest = cron_prev(s->cron, s->tz, until + 1);
		if (latest != INT64_MIN && schedule_start_at(s, latest) > now)
			latest = cron_prev(s->cron, s->tz, latest);
		if (latest == INT64_MIN || latest <= from || latest > s->end ||
		    (s->start != INT64_MIN && latest < s->start))
			return 0;
		out[0] = latest;
		return 1;
	}
	size_t n = 0;
	int64_t t = from;
	for (;;) {
		t = schedule_next(s, t);
		if (t == INT64_MAX || schedule_start_at(s, t) > now)
			break;
		if (n == max) {
			*ret_more = true;
			break;
		}
		out[n++] = t;
	}
	return n;
}

int64_t schedule_wakeup(const struct schedule *s, int64_t last, int64_t first_seen, int64_t now)
{
	if (!s)
		return INT64_MAX;
	int64_t from = history_start(s, last, first_seen);
	int64_t floor = now - (s->jitter_ms > 0 ? s->jitter_ms : 0) - 1;
	if (from < floor)
		from = floor;
	for (int64_t t = schedule_next(s, from); t != INT64_MAX; t = schedule_next(s, t)) {
		int64_t at = schedule_start_at(s, t);
		if (at > now)
			return at;
	}
	return INT64_MAX;
}
