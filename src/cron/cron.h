/*
 * cron.h - cron expressions: parsing, and the next fire time in a time zone.
 *
 * A schedule is five fields, separated by spaces or tabs:
 *
 *   minute 0-59   hour 0-23   day-of-month 1-31   month 1-12   day-of-week 0-7 (0 and 7: Sunday)
 *
 * Each field is a comma-separated list of items; an item is one of
 *
 *   *           every value                    5           one value
 *   1-5         a range (inclusive)            * /15       every 15th value from the minimum
 *   1-30/5      every 5th value of a range     5/15        every 15th from 5 to the maximum
 *   H           one value hashed from the key  H(0-29)     a hashed value within 0-29
 *   H/15        every 15th from a hashed start in [0,15)
 *   H(0-29)/10  every 10th within 0-29 from a hashed start in [0,10)
 *
 * (no space between * and /15; it is there only to keep this comment open). "The maximum" is
 * that of `*`: 59, 23, 31, 12, and 6 for day-of-week (so `1/2` there is MON,WED,FRI). Months may
 * be named JAN-DEC and days SUN-SAT, in any case, also in ranges (MON-FRI; SAT-SUN means 6-7).
 * Not supported (rejected with a message): seconds or year fields, `?`, `L`, `W`, `#`, and
 * wrap-around ranges such as `22-2`.
 *
 * Presets: @yearly and @annually `0 0 1 1 *`, @monthly `0 0 1 * *`, @weekly `0 0 * * 0`
 * (Sunday midnight), @daily and @midnight `0 0 * * *`, @hourly `0 * * * *`, and
 * `@every DURATION` ("@every 15m", "@every 1h30m": NUMBER UNIT parts, units w d h m s ms, largest
 * first, each once; the same grammar as dag/duration.h).
 *
 * Hashed values (Jenkins' `H`) spread many DAGs with the same schedule over the hour instead of
 * starting them all at :00. The value is a pure function of the hash key (the DAG id), the field
 * and the range: FNV-1a-64 of the key, mixed with the field index by a SplitMix64 step, modulo
 * the range width. It is stable across restarts, machines and gust versions (changing it would
 * move every hashed schedule). In the day-of-month field `H` and `H/N` without a range use 1-28
 * so that they fire every month. A NULL key hashes like "".
 *
 * Day-of-month and day-of-week (Vixie cron): when both are restricted a day matches if EITHER
 * matches (`0 0 13 * 5` is every 13th and every Friday); when one is unrestricted only the other
 * counts. A field is unrestricted when its values cover its whole range (`*`, `* /1`, `1-31`,
 * `0-6`); `* /2` is restricted.
 *
 * Time zones and DST. Cron fields describe civil (wall-clock) times in the zone passed to
 * cron_next() (NULL: UTC). Matching civil minutes are taken in civil order and each is mapped to
 * the earliest instant whose civil time is at or after it (tz_next_valid()); cron_next() returns
 * the first of those after `after_ms`. So:
 *
 *   - a civil time that does not exist fires once, when the gap ends: `30 2 * * *` in
 *     Europe/Berlin on 2024-03-31 fires at 03:00 CEST (01:00Z); `* /30 * * * *` fires 01:30 CET,
 *     03:00 CEST (for both 02:00 and 02:30, which collapse into one fire), 03:30 CEST;
 *   - a civil time that happens twice fires once, at its first occurrence: `30 2 * * *` in
 *     Berlin on 2024-10-27 fires at 02:30 CEST (00:30Z) only;
 *   - hence `0 * * * *` across that fall-back fires at 01:00 CEST, 02:00 CEST, 03:00 CET: the
 *     repeated civil hour 02:00 fires once and two real hours pass before 03:00 CET. Every fire
 *     is a distinct civil minute and fire times strictly increase.
 *
 * `@every D` ignores the zone and fires at anchor + k*D for every integer k; the anchor is 0
 * (1970-01-01T00:00:00Z) until cron_set_anchor() changes it, typically to the DAG's start_date
 * so that "@every 7d" fires on the start date's weekday and time.
 *
 * Cost: parsing allocates one small object. cron_next() and cron_prev() allocate nothing and
 * never step minute by minute: they jump over whole months, days and hours that cannot match.
 * About 0.1-0.25 us per call for years the zone table covers (tz.h), about 2 us beyond it. An
 * expression that can never fire (`0 0 30 2 *`) is detected by cron_parse(), and cron_next()
 * answers INT64_MAX at once.
 *
 * Range: civil years 1-9999 (TZ_MIN_MS..TZ_MAX_MS); beyond that cron_next() returns INT64_MAX.
 * Functions return 0 or a negative errno; ret_ outputs are untouched on failure.
 */
#ifndef GUST_CRON_CRON_H
#define GUST_CRON_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tz;
struct cron;

struct cron_error {
	uint32_t offset; /* byte offset into the expression of the offending token */
	char msg[160];	 /* e.g. "minute value 61 out of range 0-59" */
};

/* --- Parsing ------------------------------------------------------------------------------------
 */

/*
 * Parse `expr`. `hash_key` (usually the DAG id) feeds `H`. On error returns -EINVAL and, if err
 * is not NULL, fills it: the offset of the offending field, list item or name, and a message:
 *
 *   "0 0 1 Jann *"     offset 6   "unknown month name 'Jann'"
 *   "61 * * * *"       offset 0   "minute value 61 out of range 0-59"
 *   "* * * * * *"      offset 10  "expected 5 fields (minute hour day-of-month month
 *                                  day-of-week), got 6"
 */
int cron_parse(const char *expr, const char *hash_key, struct cron **ret, struct cron_error *err);
/* Accepts NULL. */
void cron_free(struct cron *c);

/* --- Computing fire times -----------------------------------------------------------------------
 */

/*
 * The first fire time strictly after `after_ms` (UTC ms since the epoch), with the fields read
 * as civil time in `tz` (NULL: UTC). INT64_MAX if there is none before year 10000.
 */
int64_t cron_next(const struct cron *c, const struct tz *tz, int64_t after_ms);

/*
 * The last fire time strictly before `before_ms`, by the same rules as cron_next(): with
 * p = cron_prev(c, tz, t), p < t and no fire lies in (p, t), so cron_next(c, tz, p) >= t.
 * INT64_MIN if there is none since year 1. For "the latest interval that has ended" (catchup
 * off) and for a run's data interval, without walking forward from start_date.
 */
int64_t cron_prev(const struct cron *c, const struct tz *tz, int64_t before_ms);

/* For `@every`: fire at anchor_ms + k*D. No effect on other schedules. */
void cron_set_anchor(struct cron *c, int64_t anchor_ms);
/* The `@every` period in ms, or 0 for a field schedule. */
int64_t cron_every_ms(const struct cron *c);
/* False for an expression that can never fire, such as `0 0 30 2 *`. */
bool cron_can_fire(const struct cron *c);

/*
 * A canonical five-field form with `H` resolved, names as numbers and each field as a list of
 * values and ranges ("H 9-17 * * MON-FRI" might become "37 9-17 * * 1-5"; steps are expanded,
 * "0 8-18/4 * * *" becomes "0 8,12,16 * * *"), or "@every 1h30m". Like snprintf:
 * returns the length it needed; output is truncated to size-1 bytes and NUL-terminated.
 */
size_t cron_describe(const struct cron *c, char *buf, size_t size);

#endif
