/*
 * tz.c - time zones on top of ICU's C API (see tz.h).
 *
 * A zone is a sorted table of segments: segment i starts at start[i] (UTC ms) and runs to
 * start[i+1], with total UTC offset off[i] (ms, raw + DST). Adjacent segments always differ in
 * offset (ICU reports some transitions that only move the raw/DST split; they are merged away).
 * The table spans [lo, hi) = TZ_TABLE_FROM_YEAR..TZ_TABLE_TO_YEAR. If ICU knows no transition
 * before lo (true of nearly every zone: local mean time before the 1800s) the first segment
 * extends to -infinity, likewise the last to +infinity when no transition follows hi (zones
 * without DST today). Otherwise an instant outside [lo, hi) is answered by the zone's UCalendar,
 * under the zone's lock: correct, about 100 times slower, and rare.
 *
 * Civil -> UTC works on "local milliseconds" L (the civil time read as if it were UTC): an
 * instant u has civil time L exactly when u + off(u) = L. Offsets are below one day in
 * magnitude, so only segments overlapping [L - 1 day, L + 1 day] can hold such a u; the code
 * walks them in order and tests u = L - off of each.
 */
#include "cron/tz.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "base/util.h"

#define DAY_MS 86400000LL

struct tz {
	struct tz *next; /* cache list */
	char *name;
	int64_t *start; /* n segment starts, ascending */
	int32_t *off;	/* n offsets, ms */
	size_t n;
	int64_t lo, hi;	   /* the span the table is exact for */
	bool const_before; /* no transition before lo: segment 0 extends to -infinity */
	bool const_after;  /* no transition at or after hi: the last segment extends to +infinity */
	pthread_mutex_t lock; /* guards cal */
	UCalendar *cal;	      /* for instants outside the table */
};

/* A maximal (or clipped) interval of constant offset. start may be INT64_MIN, end INT64_MAX. */
struct seg {
	int64_t start, end;
	int32_t off;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tz *cache_head;

/* --- Calendar arithmetic (Howard Hinnant's algorithms) --------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t civil_days_from_date(int64_t y, int32_t m, int32_t d)
{
	y -= m <= 2;
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void civil_date_from_days(int64_t z, int32_t *ret_year, int32_t *ret_month, int32_t *ret_day)
{
	z += 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	*ret_year = (int32_t)(y + (m <= 2));
	*ret_month = (int32_t)m;
	*ret_day = (int32_t)d;
}

int32_t civil_weekday(int64_t days)
{
	int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */
	return (int32_t)(w < 0 ? w + 7 : w);
}

bool civil_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int32_t civil_days_in_month(int64_t year, int32_t month)
{
	static const int8_t dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (month < 1 || month > 12)
		return 0;
	return dim[month - 1] + (month == 2 && civil_is_leap(year));
}

bool civil_is_valid(const struct civil *c)
{
	return c->year >= 1 && c->year <= 9999 && c->month >= 1 && c->month <= 12 && c->day >= 1 &&
	       c->day <= civil_days_in_month(c->year, c->month) && c->hour >= 0 && c->hour <= 23 &&
	       c->min >= 0 && c->min <= 59 && c->sec >= 0 && c->sec <= 59 && c->ms >= 0 &&
	       c->ms <= 999;
}

static int64_t civil_to_local_ms(const struct civil *c)
{
	return civil_days_from_date(c->year, c->month, c->day) * DAY_MS +
	       (int64_t)c->hour * 3600000 + (int64_t)c->min * 60000 + (int64_t)c->sec * 1000 +
	       c->ms;
}

/* --- ICU ---------------------------------------------------------------------------------------
 */

/* ICU's legacy three-letter IDs (from Java) that are not IANA names. */
static const char *const icu_only_ids[] = {
    "ACT", "AET", "AGT", "ART", "AST", "BET", "BST", "CAT", "CNT", "CST", "CTT", "EAT", "ECT",
    "IET", "IST", "JST", "MIT", "NET", "NST", "PLT", "PNT", "PRT", "PST", "SST", "VST",
};

#define NAME_MAX_LEN 64

/* Name -> UTF-16, or false if it has a character no IANA name uses. */
static bool name_to_uchars(const char *name, UChar *out)
{
	size_t len = strlen(name);
	if (len == 0 || len >= NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];
		bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			  (ch >= '0' && ch <= '9') || ch == '/' || ch == '_' || ch == '-' ||
			  ch == '+';
		if (!ok)
			return false;
		out[i] = (UChar)ch;
	}
	out[len] = 0;
	return true;
}

bool tz_is_valid(const char *name)
{
	UChar u[NAME_MAX_LEN], canon[128];
	if (!name || !name_to_uchars(name, u))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(icu_only_ids); i++)
		if (strcmp(name, icu_only_ids[i]) == 0)
			return false;
	if (strcmp(name, "Etc/Unknown") == 0)
		return false;
	UBool is_system = 0;
	UErrorCode st = U_ZERO_ERROR;
	ucal_getCanonicalTimeZoneID(u, -1, canon, (int32_t)ARRAY_SIZE(canon), &is_system, &st);
	return U_SUCCESS(st) && is_system;
}

/* Offset (ms) at u according to ICU. */
static int32_t icu_offset(UCalendar *cal, int64_t u, UErrorCode *st)
{
	ucal_setMillis(cal, (UDate)u, st);
	int32_t raw = ucal_get(cal, UCAL_ZONE_OFFSET, st);
	int32_t dst = ucal_get(cal, UCAL_DST_OFFSET, st);
	return raw + dst;
}

/* The transition of `type` relative to u, or false if ICU knows none. */
static bool icu_transition(UCalendar *cal, int64_t u, UTimeZoneTransitionType type, int64_t *ret,
			   UErrorCode *st)
{
	UDate d;
	ucal_setMillis(cal, (UDate)u, st);
	if (!ucal_getTimeZoneTransitionDate(cal, type, &d, st) || U_FAILURE(*st))
		return false;
	*ret = (int64_t)d;
	return true;
}

static void zone_free(struct tz *z)
{
	if (!z)
		return;
	if (z->cal)
		ucal_close(z->cal);
	pthread_mutex_destroy(&z->lock);
	free(z->start);
	free(z->off);
	free(z->name);
	free(z);
}

static int zone_build(const char *name, struct tz **ret)
{
	UChar u[NAME_MAX_LEN];
	UErrorCode st = U_ZERO_ERROR;
	if (!name_to_uchars(name, u))
		return -EINVAL;
	UCalendar *cal = ucal_open(u, -1, "", UCAL_GREGORIAN, &st);
	if (U_FAILURE(st) || !cal)
		return -EIO;

	struct tz *z = xcalloc(1, sizeof(*z));
	pthread_mutex_init(&z->lock, NULL);
	z->cal = cal;
	z->name = xstrdup(name);
	z->lo = civil_days_from_date(TZ_TABLE_FROM_YEAR, 1, 1) * DAY_MS;
	z->hi = civil_days_from_date(TZ_TABLE_TO_YEAR, 1, 1) * DAY_MS;

	size_t cap = 0, cap2 = 0;
	int64_t t = z->lo, prev;
	int32_t off = icu_offset(cal, t, &st);
	z->start = xrealloc_array(z->start, 1, sizeof(*z->start), &cap);
	z->off = xrealloc_array(z->off, 1, sizeof(*z->off), &cap2);
	z->start[0] = t;
	z->off[0] = off;
	z->n = 1;
	while (U_SUCCESS(st) && icu_transition(cal, t, UCAL_TZ_TRANSITION_NEXT, &t, &st) &&
	       t < z->hi) {
		off = icu_offset(cal, t, &st);
		if (off == z->off[z->n - 1])
			continue;
		z->start = xrealloc_array(z->start, z->n + 1, sizeof(*z->start), &cap);
		z->off = xrealloc_array(z->off, z->n + 1, sizeof(*z->off), &cap2);
		z->start[z->n] = t;
		z->off[z->n] = off;
		z->n++;
	}
	z->const_before = !icu_transition(cal, z->lo, UCAL_TZ_TRANSITION_PREVIOUS, &prev, &st);
	z->const_after = !icu_transition(cal, z->hi - 1, UCAL_TZ_TRANSITION_NEXT, &prev, &st);
	if (U_FAILURE(st)) {
		zone_free(z);
		return -EIO;
	}
	*ret = z;
	return 0;
}

int tz_open(const char *name, struct tz **ret)
{
	if (!tz_is_valid(name))
		return -EINVAL;
	pthread_mutex_lock(&cache_lock);
	struct tz *z;
	for (z = cache_head; z; z = z->next)
		if (strcmp(z->name, name) == 0)
			break;
	int r = 0;
	if (!z) {
		r = zone_build(name, &z);
		if (r == 0) {
			z->next = cache_head;
			cache_head = z;
		}
	}
	pthread_mutex_unlock(&cache_lock);
	if (r < 0)
		return r;
	*ret = z;
	return 0;
}

void tz_close(struct tz *tz)
{
	(void)tz;
}

void tz_cache_clear(void)
{
	pthread_mutex_lock(&cache_lock);
	struct tz *z = cache_head;
	cache_head = NULL;
	pthread_mutex_unlock(&cache_lock);
	while (z) {
		struct tz *next = z->next;
		zone_free(z);
		z = next;
	}
}

const char *tz_name(const struct tz *tz)
{
	return tz ? tz->name : "UTC";
}

/* --- Segments ----------------------------------------------------------------------------------
 */

static void seg_slow(const struct tz *z_const, int64_t u, struct seg *s)
{
	struct tz *z = (struct tz *)z_const; /* only lock and cal change, under the lock */
	UErrorCode st = U_ZERO_ERROR;
	int64_t prev, next;
	pthread_mutex_lock(&z->lock);
	s->off = icu_offset(z->cal, u, &st);
	if (!icu_transition(z->cal, u, UCAL_TZ_TRANSITION_PREVIOUS_INCLUSIVE, &prev, &st))
		prev = INT64_MIN;
	if (!icu_transition(z->cal, u, UCAL_TZ_TRANSITION_NEXT, &next, &st))
		next = INT64_MAX;
	pthread_mutex_unlock(&z->lock);
	if (U_FAILURE(st)) /* cannot happen for an open calendar; stay total */
		s->off = 0, prev = INT64_MIN, next = INT64_MAX;
	/* Stay outside the table so that walking segments never steps backwards. */
	if (u >= z->hi && prev < z->hi)
		prev = z->hi;
	if (u < z->lo && next > z->lo)
		next = z->lo;
	s->start = prev;
	s->end = next;
}

static void seg_at(const struct tz *z, int64_t u, struct seg *s)
{
	if (!z) {
		s->start = INT64_MIN;
		s->end = INT64_MAX;
		s->off = 0;
		return;
	}
	if ((u < z->lo && !z->const_before) || (u >= z->hi && !z->const_after)) {
		seg_slow(z, u, s);
		return;
	}
	/* The last i with start[i] <= u (0 if u < start[0]). */
	size_t lo = 0, hi = z->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->start[mid] <= u)
			lo = mid;
		else
			hi = mid;
	}
	s->off = z->off[lo];
	s->start = (lo == 0 && z->const_before) ? INT64_MIN : z->start[lo];
	if (lo + 1 < z->n)
		s->end = z->start[lo + 1];
	else
		s->end = z->const_after ? INT64_MAX : z->hi;
}

int32_t tz_offset_at(const struct tz *tz, int64_t utc_ms)
{
	struct seg s;
	seg_at(tz, utc_ms, &s);
	return s.off / 1000;
}

int tz_to_civil(const struct tz *tz, int64_t utc_ms, struct civil *ret)
{
	if (utc_ms < TZ_MIN_MS || utc_ms > TZ_MAX_MS)
		return -ERANGE;
	struct seg s;
	seg_at(tz, utc_ms, &s);
	int64_t local = utc_ms + s.off;
	int64_t days = floor_div(local, DAY_MS);
	int64_t rem = local - days * DAY_MS;
	civil_date_from_days(days, &ret->year, &ret->month, &ret->day);
	ret->hour = (int32_t)(rem / 3600000);
	ret->min = (int32_t)(rem / 60000 % 60);
	ret->sec = (int32_t)(rem / 1000 % 60);
	ret->ms = (int32_t)(rem % 1000);
	ret->wday = civil_weekday(days);
	ret->utc_offset = s.off / 1000;
	return 0;
}

/*
 * All instants u with u + off(u) == L (up to two, ascending) into out[], and the earliest
 * instant whose civil time is >= L into *ret_next. Returns the count.
 */
static int resolve_local(const struct tz *z, int64_t L, int64_t out[2], int64_t *ret_next)
{
	struct seg s;
	int n = 0;
	bool have_next = false;
	seg_at(z, L - DAY_MS, &s);
	for (int guard = 0; guard < 64; guard++) {
		int64_t u = L - s.off;
		if (u >= s.start && u < s.end && n < 2)
			out[n++] = u;
		/* The first segment whose civil times reach past L holds the answer: L itself
		 * if it starts at or before L, else L is in a gap that this segment ends. */
		if (!have_next && (s.end == INT64_MAX || s.end + s.off > L)) {
			*ret_next = (s.start == INT64_MIN || s.start + s.off <= L) ? u : s.start;
			have_next = true;
		}
		if (s.end == INT64_MAX || s.end > L + DAY_MS)
			break;
		seg_at(z, s.end, &s);
	}
	if (!have_next) /* unreachable with offsets below a day */
		*ret_next = L - s.off;
	return n;
}

int64_t tz_next_valid_local(const struct tz *tz, int64_t local_ms)
{
	int64_t out[2], next;
	if (!tz)
		return local_ms;
	resolve_local(tz, local_ms, out, &next);
	return next;
}

int64_t tz_local_max_before(const struct tz *tz, int64_t utc_ms)
{
	struct seg s;
	int64_t best = INT64_MIN;
	/* Two days back: an offset change, and hence a step back in civil time, is under a day. */
	seg_at(tz, utc_ms - 2 * DAY_MS, &s);
	for (int guard = 0; guard < 64; guard++) {
		int64_t last = (s.end == INT64_MAX || s.end > utc_ms ? utc_ms : s.end) - 1;
		if (last + s.off > best)
			best = last + s.off;
		if (s.end == INT64_MAX || s.end >= utc_ms)
			return best;
		seg_at(tz, s.end, &s);
	}
	seg_at(tz, utc_ms - 1, &s); /* absurdly many transitions: at least be right about now */
	return best > utc_ms - 1 + s.off ? best : utc_ms - 1 + s.off;
}

int tz_from_civil(const struct tz *tz, const struct civil *c, int64_t *ret_first,
		  int64_t *ret_second)
{
	if (!civil_is_valid(c))
		return -EINVAL;
	int64_t out[2], next;
	int n = resolve_local(tz, civil_to_local_ms(c), out, &next);
	if (n >= 1 && ret_first)
		*ret_first = out[0];
	if (n >= 2 && ret_second)
		*ret_second = out[1];
	return n;
}

int tz_next_valid(const struct tz *tz, const struct civil *c, int64_t *ret)
{
	if (!civil_is_valid(c))
		return -EINVAL;
	int64_t out[2];
	resolve_local(tz, civil_to_local_ms(c), out, ret);
	return 0;
}
