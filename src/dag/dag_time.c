/* dag_time.c - ISO 8601 dates and date-times in DAG files (see dag_time.h). */
#include "dag/dag_time.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool digits(const char *s, int n, int32_t *ret)
{
	int32_t v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

int dag_time_parse(const char *s, struct dag_time *ret)
{
	struct dag_time t;
	memset(&t, 0, sizeof(t));
	if (!digits(s, 4, &t.civil.year) || s[4] != '-' || !digits(s + 5, 2, &t.civil.month) ||
	    s[7] != '-' || !digits(s + 8, 2, &t.civil.day))
		return -EINVAL;
	const char *p = s + 10;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (!digits(p, 2, &t.civil.hour) || p[2] != ':' || !digits(p + 3, 2, &t.civil.min))
			return -EINVAL;
		p += 5;
		if (*p == ':') {
			if (!digits(p + 1, 2, &t.civil.sec))
				return -EINVAL;
			p += 3;
		}
		t.has_time = true;
		if (*p == 'Z') {
			t.has_offset = true;
			p++;
		} else if (*p == '+' || *p == '-') {
			int32_t h, m;
			if (!digits(p + 1, 2, &h) || p[3] != ':' || !digits(p + 4, 2, &m) ||
			    h > 23 || m > 59)
				return -EINVAL;
			t.has_offset = true;
			t.offset_sec = (h * 3600 + m * 60) * (*p == '-' ? -1 : 1);
			p += 6;
		}
	}
	if (*p)
		return -EINVAL;
	if (t.civil.year < 1 || !civil_is_valid(&t.civil))
		return -EINVAL;
	*ret = t;
	return 0;
}

int64_t dag_time_to_ms(const struct dag_time *t, const struct tz *tz)
{
	const struct civil *c = &t->civil;
	if (t->has_offset || !tz) {
		int64_t days = civil_days_from_date(c->year, c->month, c->day);
		int64_t secs = days * 86400 + c->hour * 3600 + c->min * 60 + c->sec;
		return (secs - (t->has_offset ? t->offset_sec : 0)) * 1000;
	}
	int64_t first = 0, second = 0;
	int n = tz_from_civil(tz, c, &first, &second);
	if (n >= 1)
		return first;
	int64_t next = 0;
	if (tz_next_valid(tz, c, &next) == 0)
		return next;
	return first;
}

int dag_time_parse_ms(const char *s, const struct tz *tz, int64_t *ret_ms)
{
	struct dag_time t;
	if (dag_time_parse(s, &t) < 0)
		return -EINVAL;
	*ret_ms = dag_time_to_ms(&t, tz);
	return 0;
}

/* n decimal digits of v (0 <= v < 10^n) at p. */
static char *put_digits(char *p, int v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + n;
}

/* YYYY-MM-DDTHH:MM:SS[.mmm]Z by hand: every time in every JSON answer goes through here, and
 * snprintf was a fifth of the cost of a page of runs (callgrind, bench/README.md). */
static char *format_utc(int64_t ms, bool millis, char *buf, size_t size)
{
	int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t rem = secs - days * 86400;
	int frac = (int)(ms - secs * 1000);
	int32_t y, m, d;
	civil_date_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999 || size < 25) {
		if (millis)
			snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d,
				 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), frac);
		else
			snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d,
				 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
		return buf;
	}
	char *p = put_digits(buf, y, 4);
	*p++ = '-';
	p = put_digits(p, m, 2);
	*p++ = '-';
	p = put_digits(p, d, 2);
	*p++ = 'T';
	p = put_digits(p, (int)(rem / 3600), 2);
	*p++ = ':';
	p = put_digits(p, (int)(rem / 60 % 60), 2);
	*p++ = ':';
	p = put_digits(p, (int)(rem % 60), 2);
	if (millis) {
		*p++ = '.';
		p = put_digits(p, frac, 3);
	}
	*p++ = 'Z';
	*p = '\0';
	return buf;
}

char *time_format_utc(int64_t ms, char *buf, size_t size)
{
	return format_utc(ms, false, buf, size);
}

char *time_format_utc_ms(int64_t ms, char *buf, size_t size)
{
	return format_utc(ms, true, buf, size);
}
