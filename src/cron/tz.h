/*
 * tz.h - IANA time zones: UTC instants <-> civil (wall-clock) time, with DST gaps and overlaps.
 *
 * Every instant in gust is an int64 count of milliseconds since 1970-01-01T00:00:00Z, ignoring
 * leap seconds. A time zone maps each instant to exactly one civil time (year, month, day, hour,
 * minute, second, millisecond); the reverse is not a function. Around a DST change a civil time
 * can have
 *
 *   0 instants (a gap: Europe/Berlin jumps from 02:00 CET to 03:00 CEST on 2024-03-31, so
 *     02:30 that day never happens),
 *   2 instants (an overlap: on 2024-10-27 Berlin goes from 03:00 CEST back to 02:00 CET, so
 *     02:30 happens at 00:30Z and again at 01:30Z),
 *   1 instant otherwise.
 *
 * tz_from_civil() reports all of them; tz_next_valid() applies gust's one resolution rule: "the
 * earliest instant whose civil time is at or after the given civil time". That rule picks the
 * first occurrence in an overlap and the instant the gap ends in a gap (2024-03-31 02:30 in
 * Berlin -> 01:00Z, which is 03:00 CEST). The cron module and start/end dates use it.
 *
 * Rules come from ICU's time-zone data (ucal_* C API); nothing is hard-coded and the process's
 * TZ environment variable is never read or changed. Because opening an ICU calendar is slow
 * (tens of microseconds) and each conversion through it costs about a microsecond, tz_open()
 * reads a zone's transitions between TZ_TABLE_FROM_YEAR and TZ_TABLE_TO_YEAR once into a
 * sorted table; conversions in that span are a binary search with no ICU call. Instants outside
 * it ask ICU directly, under a per-zone lock.
 *
 * Global state: a process-wide cache of opened zones, keyed by the name as given, guarded by a
 * mutex. It is the only global state in the module. A `struct tz *` points into the cache and is
 * immutable, so any number of threads may share one. tz_close() is therefore a no-op kept for
 * symmetry (it is always safe to call, also on NULL); tz_cache_clear() frees the whole cache
 * and must only be called when no handle is in use (tests, leak checkers, exit).
 *
 * Wherever a `const struct tz *` is accepted, NULL means UTC.
 *
 * Range: civil years 1 to 9999 of the proleptic Gregorian calendar (TZ_MIN_MS..TZ_MAX_MS in
 * UTC). Functions return 0 or a negative errno; outputs (ret_...) are untouched on failure.
 */
#ifndef GUST_CRON_TZ_H
#define GUST_CRON_TZ_H

#include <stdbool.h>
#include <stdint.h>

struct tz;

/* A civil (wall-clock) time. On input wday and utc_offset are ignored. */
struct civil {
	int32_t year;	    /* 1..9999 */
	int32_t month;	    /* 1..12 */
	int32_t day;	    /* 1..days in month */
	int32_t hour;	    /* 0..23 */
	int32_t min;	    /* 0..59 */
	int32_t sec;	    /* 0..59 (no leap seconds) */
	int32_t ms;	    /* 0..999 */
	int32_t wday;	    /* output: 0 = Sunday .. 6 = Saturday */
	int32_t utc_offset; /* output: seconds east of UTC in effect (CEST: 7200) */
};

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z. */
#define TZ_MIN_MS (-62135596800000LL)
#define TZ_MAX_MS (253402300799999LL)
#define TZ_TABLE_FROM_YEAR 1800
#define TZ_TABLE_TO_YEAR 2200

/* --- Opening zones --------------------------------------------------------------------------- */

/*
 * True if `name` is a time-zone ID gust accepts: an IANA name that ICU knows ("Europe/Berlin",
 * "America/New_York", "UTC", "Etc/UTC", "Etc/GMT+5", also links such as "Asia/Calcutta").
 * Case matters, as in the IANA database. Rejected: unknown names (ICU would silently use GMT),
 * custom offsets ("GMT+5"), "Etc/Unknown" and ICU's Java-compatibility three-letter IDs that
 * are not IANA names ("PST", "IST", "CST" -- ambiguous, and "CST" would mean Chicago).
 */
bool tz_is_valid(const char *name);

/* Open (or find in the cache) the zone `name`. -EINVAL if !tz_is_valid(name), -EIO if ICU
 * fails. */
int tz_open(const char *name, struct tz **ret);
/* Release a handle. A no-op (handles live in the cache); accepts NULL. */
void tz_close(struct tz *tz);
/* Free every cached zone. Only when no handle is in use. */
void tz_cache_clear(void);
/* The name passed to tz_open(); "UTC" for NULL. */
const char *tz_name(const struct tz *tz);

/* --- Converting ------------------------------------------------------------------------------ */

/* The UTC offset in effect at an instant, in seconds east of UTC (Berlin in July: 7200). */
int32_t tz_offset_at(const struct tz *tz, int64_t utc_ms);

/* The civil time at an instant. -ERANGE outside TZ_MIN_MS..TZ_MAX_MS. At the very ends of the
 * range the local year can be 0 or 10000. */
int tz_to_civil(const struct tz *tz, int64_t utc_ms, struct civil *ret);

/*
 * The instants whose civil time is *c. Returns how many (0 in a gap, 1, or 2 in an overlap;
 * never more), or -EINVAL if a field is out of range. *ret_first gets the earlier instant and
 * *ret_second the later one when they exist; either pointer may be NULL.
 *
 *   Berlin 2024-03-31 02:30 -> 0
 *   Berlin 2024-10-27 02:30 -> 2: 2024-10-27T00:30:00Z, 2024-10-27T01:30:00Z
 *   Berlin 2024-07-01 12:00 -> 1: 2024-07-01T10:00:00Z
 */
int tz_from_civil(const struct tz *tz, const struct civil *c, int64_t *ret_first,
		  int64_t *ret_second);

/*
 * The earliest instant whose civil time is at or after *c: the only instant when there is one,
 * the first of two in an overlap, the end of the gap in a gap (Berlin 2024-03-31 02:30 ->
 * 2024-03-31T01:00:00Z = 03:00 CEST). -EINVAL if a field is out of range.
 */
int tz_next_valid(const struct tz *tz, const struct civil *c, int64_t *ret);

/*
 * tz_next_valid() for a civil time given as "local milliseconds": the civil time read as if it
 * were UTC, civil_days_from_date() * 86400000 + milliseconds into the day. No range check; the
 * caller keeps it within years 1..9999. The cron module's inner loop uses this form.
 */
int64_t tz_next_valid_local(const struct tz *tz, int64_t local_ms);

/*
 * The latest civil time, as local milliseconds, shown at any instant before `utc_ms`. Usually
 * the civil time of utc_ms - 1; just after a fall-back it is the civil time shown before the
 * clocks went back (at 01:15Z on 2024-10-27 Berlin shows 02:15 CET, but it showed 02:59:59.999
 * CEST earlier). Civil time M has an instant before utc_ms (by the tz_next_valid() rule) exactly
 * when M <= this value; cron uses it to find the previous and next fire without trial and error.
 */
int64_t tz_local_max_before(const struct tz *tz, int64_t utc_ms);

/* --- Proleptic Gregorian calendar arithmetic (no zone) --------------------------------------- */

/* Days since 1970-01-01 of a date (month 1..12); fields are not checked. */
int64_t civil_days_from_date(int64_t year, int32_t month, int32_t day);
/* The date of a day number. */
void civil_date_from_days(int64_t days, int32_t *ret_year, int32_t *ret_month, int32_t *ret_day);
/* 0 = Sunday. */
int32_t civil_weekday(int64_t days);
bool civil_is_leap(int64_t year);
int32_t civil_days_in_month(int64_t year, int32_t month);
/* True if every field of *c is in range (see struct civil). */
bool civil_is_valid(const struct civil *c);

#endif
