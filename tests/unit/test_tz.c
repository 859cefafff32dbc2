/* Unit tests for cron/tz: zone validation, civil <-> UTC, DST gaps and overlaps, ICU agreement. */
#include <errno.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "cron/tz.h"
#include "test.h"

/* "2024-03-31T01:30:00Z" or "...+01:00" -> ms. */
static int64_t iso(const char *s)
{
	int y, mo, d, h, mi, sec, n = 0;
	if (sscanf(s, "%d-%d-%dT%d:%d:%d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
		test_fail(__FILE__, __LINE__, "bad test time %s", s);
	int64_t ms = (civil_days_from_date(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000LL;
	const char *z = s + n;
	if (*z == '+' || *z == '-') {
		int oh, om;
		if (sscanf(z + 1, "%d:%d", &oh, &om) != 2)
			test_fail(__FILE__, __LINE__, "bad offset %s", s);
		int64_t off = (oh * 3600 + om * 60) * 1000LL;
		ms -= *z == '+' ? off : -off;
	}
	return ms;
}

static struct tz *zone(const char *name)
{
	struct tz *z = NULL;
	int r = tz_open(name, &z);
	if (r < 0)
		test_fail(__FILE__, __LINE__, "tz_open(%s) = %d", name, r);
	return z;
}

static struct civil cv(int y, int mo, int d, int h, int mi)
{
	return (struct civil){.year = y, .month = mo, .day = d, .hour = h, .min = mi};
}

TEST(tz_is_valid_names)
{
	static const char *const good[] = {"Europe/Berlin",
					   "America/New_York",
					   "UTC",
					   "Etc/UTC",
					   "Etc/GMT+5",
					   "Australia/Lord_Howe",
					   "Asia/Kolkata",
					   "Asia/Calcutta",
					   "America/Argentina/Buenos_Aires",
					   "EST"};
	static const char *const bad[] = {
	    "",
	    "europe/berlin",
	    "Foo/Bar",
	    "GMT+5",
	    "PST",
	    "CST",
	    "Etc/Unknown",
	    "Europe/Berlin ",
	    "Europe/Berlin\n",
	    "Europe/Bérlin",
	    "Europe/Berlin/Europe/Berlin/Europe/Berlin/Europe/Berlin/Europe/Berlin"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!tz_is_valid(good[i]))
			test_fail(__FILE__, __LINE__, "%s should be valid", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (tz_is_valid(bad[i]))
			test_fail(__FILE__, __LINE__, "%s should be invalid", bad[i]);
	ASSERT(!tz_is_valid(NULL));
	struct tz *z = (struct tz *)1;
	ASSERT_INT_EQ(tz_open("Mars/Olympus", &z), -EINVAL);
	ASSERT(z == (struct tz *)1); /* untouched on failure */
}

TEST(tz_open_caches_and_names)
{
	struct tz *a = zone("Europe/Berlin"), *b = zone("Europe/Berlin");
	ASSERT(a == b);
	ASSERT_STR_EQ(tz_name(a), "Europe/Berlin");
	ASSERT_STR_EQ(tz_name(NULL), "UTC");
	tz_close(a);
	tz_close(b);
	tz_close(NULL);
	tz_cache_clear();
	struct tz *c = zone("Europe/Berlin");
	ASSERT_INT_EQ(tz_offset_at(c, iso("2024-07-01T00:00:00Z")), 7200);
	tz_cache_clear();
}

TEST(tz_calendar_arithmetic)
{
	ASSERT_INT_EQ(civil_days_from_date(1970, 1, 1), 0);
	ASSERT_INT_EQ(civil_days_from_date(2000, 3, 1), 11017);
	ASSERT_INT_EQ(civil_days_from_date(1, 1, 1), -719162);
	ASSERT_INT_EQ(civil_weekday(civil_days_from_date(2024, 3, 31)), 0);
	ASSERT_INT_EQ(civil_weekday(civil_days_from_date(1969, 12, 31)), 3);
	ASSERT_INT_EQ(civil_days_in_month(2024, 2), 29);
	ASSERT_INT_EQ(civil_days_in_month(2100, 2), 28);
	ASSERT_INT_EQ(civil_days_in_month(2000, 2), 29);
	ASSERT_INT_EQ(civil_days_in_month(2023, 4), 30);
	for (int64_t d = -800000; d < 3000000; d += 37) {
		int32_t y, m, dd;
		civil_date_from_days(d, &y, &m, &dd);
		if (civil_days_from_date(y, m, dd) != d)
			test_fail(__FILE__, __LINE__, "round trip of day %lld", (long long)d);
	}
	ASSERT_INT_EQ(TZ_MIN_MS, civil_days_from_date(1, 1, 1) * 86400000LL);
	ASSERT_INT_EQ(TZ_MAX_MS, civil_days_from_date(10000, 1, 1) * 86400000LL - 1);
}

TEST(tz_to_civil_fields)
{
	struct tz *berlin = zone("Europe/Berlin");
	struct civil c;
	ASSERT_INT_EQ(tz_to_civil(berlin, iso("2024-07-01T10:11:12Z") + 345, &c), 0);
	ASSERT_INT_EQ(c.year, 2024);
	ASSERT_INT_EQ(c.month, 7);
	ASSERT_INT_EQ(c.day, 1);
	ASSERT_INT_EQ(c.hour, 12);
	ASSERT_INT_EQ(c.min, 11);
	ASSERT_INT_EQ(c.sec, 12);
	ASSERT_INT_EQ(c.ms, 345);
	ASSERT_INT_EQ(c.wday, 1);
	ASSERT_INT_EQ(c.utc_offset, 7200);
	ASSERT_INT_EQ(tz_to_civil(berlin, iso("2024-01-01T00:00:00Z") - 1, &c), 0);
	ASSERT_INT_EQ(c.year, 2024);
	ASSERT_INT_EQ(c.hour, 0);
	ASSERT_INT_EQ(c.min, 59);
	ASSERT_INT_EQ(c.ms, 999);
	ASSERT_INT_EQ(c.utc_offset, 3600);
	/* Before 1970 and UTC as NULL. */
	ASSERT_INT_EQ(tz_to_civil(NULL, -1, &c), 0);
	ASSERT_INT_EQ(c.year, 1969);
	ASSERT_INT_EQ(c.month, 12);
	ASSERT_INT_EQ(c.day, 31);
	ASSERT_INT_EQ(c.sec, 59);
	ASSERT_INT_EQ(c.wday, 3);
	ASSERT_INT_EQ(tz_to_civil(NULL, TZ_MAX_MS + 1, &c), -ERANGE);
	ASSERT_INT_EQ(tz_to_civil(NULL, TZ_MIN_MS - 1, &c), -ERANGE);
	ASSERT_INT_EQ(tz_to_civil(NULL, TZ_MIN_MS, &c), 0);
	ASSERT_INT_EQ(c.year, 1);
}

struct dst_case {
	const char *zone;
	struct civil civil;
	int n;
	const char *first, *second, *next_valid;
};

TEST(tz_from_civil_dst_table)
{
	static const struct dst_case cases[] = {
	    /* Europe/Berlin: gap 02:00-03:00 on 03-31, overlap 02:00-03:00 on 10-27. */
	    {"Europe/Berlin",
	     {2024, 3, 31, 2, 30, 0, 0, 0, 0},
	     0,
	     NULL,
	     NULL,
	     "2024-03-31T03:00:00+02:00"},
	    {"Europe/Berlin",
	     {2024, 3, 31, 2, 0, 0, 0, 0, 0},
	     0,
	     NULL,
	     NULL,
	     "2024-03-31T03:00:00+02:00"},
	    {"Europe/Berlin",
	     {2024, 3, 31, 3, 0, 0, 0, 0, 0},
	     1,
	     "2024-03-31T03:00:00+02:00",
	     NULL,
	     "2024-03-31T03:00:00+02:00"},
	    {"Europe/Berlin",
	     {2024, 3, 31, 1, 59, 59, 0, 0, 0},
	     1,
	     "2024-03-31T00:59:59Z",
	     NULL,
	     "2024-03-31T00:59:59Z"},
	    {"Europe/Berlin",
	     {2024, 10, 27, 2, 30, 0, 0, 0, 0},
	     2,
	     "2024-10-27T02:30:00+02:00",
	     "2024-10-27T02:30:00+01:00",
	     "2024-10-27T02:30:00+02:00"},
	    {"Europe/Berlin",
	     {2024, 10, 27, 2, 0, 0, 0, 0, 0},
	     2,
	     "2024-10-27T02:00:00+02:00",
	     "2024-10-27T02:00:00+01:00",
	     "2024-10-27T02:00:00+02:00"},
	    {"Europe/Berlin",
	     {2024, 10, 27, 3, 0, 0, 0, 0, 0},
	     1,
	     "2024-10-27T03:00:00+01:00",
	     NULL,
	     "2024-10-27T03:00:00+01:00"},
	    {"Europe/Berlin",
	     {2024, 7, 1, 12, 0, 0, 0, 0, 0},
	     1,
	     "2024-07-01T10:00:00Z",
	     NULL,
	     "2024-07-01T10:00:00Z"},
	    /* America/New_York: gap 02:00-03:00 on 03-10, overlap 01:00-02:00 on 11-03. */
	    {"America/New_York",
	     {2024, 3, 10, 2, 30, 0, 0, 0, 0},
	     0,
	     NULL,
	     NULL,
	     "2024-03-10T03:00:00-04:00"},
	    {"America/New_York",
	     {2024, 11, 3, 1, 30, 0, 0, 0, 0},
	     2,
	     "2024-11-03T01:30:00-04:00",
	     "2024-11-03T01:30:00-05:00",
	     "2024-11-03T01:30:00-04:00"},
	    {"America/New_York",
	     {2024, 11, 3, 2, 30, 0, 0, 0, 0},
	     1,
	     "2024-11-03T02:30:00-05:00",
	     NULL,
	     "2024-11-03T02:30:00-05:00"},
	    /* Australia/Lord_Howe: +11 -> +10:30 at 02:00 on 04-07 (overlap 01:30-02:00),
	     * +10:30 -> +11 at 02:00 on 10-06 (gap 02:00-02:30). */
	    {"Australia/Lord_Howe",
	     {2024, 4, 7, 1, 45, 0, 0, 0, 0},
	     2,
	     "2024-04-07T01:45:00+11:00",
	     "2024-04-07T01:45:00+10:30",
	     "2024-04-07T01:45:00+11:00"},
	    {"Australia/Lord_Howe",
	     {2024, 4, 7, 1, 29, 0, 0, 0, 0},
	     1,
	     "2024-04-07T01:29:00+11:00",
	     NULL,
	     "2024-04-07T01:29:00+11:00"},
	    {"Australia/Lord_Howe",
	     {2024, 4, 7, 2, 0, 0, 0, 0, 0},
	     1,
	     "2024-04-07T02:00:00+10:30",
	     NULL,
	     "2024-04-07T02:00:00+10:30"},
	    {"Australia/Lord_Howe",
	     {2024, 10, 6, 2, 15, 0, 0, 0, 0},
	     0,
	     NULL,
	     NULL,
	     "2024-10-06T02:30:00+11:00"},
	    {"Australia/Lord_Howe",
	     {2024, 10, 6, 2, 30, 0, 0, 0, 0},
	     1,
	     "2024-10-06T02:30:00+11:00",
	     NULL,
	     "2024-10-06T02:30:00+11:00"},
	    /* Samoa skipped 2011-12-30 entirely (-10 -> +14). */
	    {"Pacific/Apia",
	     {2011, 12, 30, 12, 0, 0, 0, 0, 0},
	     0,
	     NULL,
	     NULL,
	     "2011-12-31T00:00:00+14:00"},
	    /* UTC never has gaps. */
	    {"UTC",
	     {2024, 3, 31, 2, 30, 0, 0, 0, 0},
	     1,
	     "2024-03-31T02:30:00Z",
	     NULL,
	     "2024-03-31T02:30:00Z"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dst_case *k = &cases[i];
		struct tz *z = zone(k->zone);
		int64_t first = -1, second = -1, next = -1;
		int n = tz_from_civil(z, &k->civil, &first, &second);
		if (n != k->n)
			test_fail(__FILE__, __LINE__, "case %zu (%s): %d instants, want %d", i,
				  k->zone, n, k->n);
		if (k->first && first != iso(k->first))
			test_fail(__FILE__, __LINE__, "case %zu: first %lld, want %s", i,
				  (long long)first, k->first);
		if (k->second && second != iso(k->second))
			test_fail(__FILE__, __LINE__, "case %zu: second %lld, want %s", i,
				  (long long)second, k->second);
		ASSERT_INT_EQ(tz_next_valid(z, &k->civil, &next), 0);
		if (next != iso(k->next_valid))
			test_fail(__FILE__, __LINE__, "case %zu: next_valid %lld, want %s", i,
				  (long long)next, k->next_valid);
	}
}

TEST(tz_from_civil_rejects_bad_fields)
{
	struct civil bad[] = {cv(2023, 2, 29, 0, 0), cv(2024, 13, 1, 0, 0), cv(2024, 1, 1, 24, 0),
			      cv(0, 1, 1, 0, 0),     cv(10000, 1, 1, 0, 0), cv(2024, 4, 31, 0, 0)};
	int64_t x = 42;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_INT_EQ(tz_from_civil(NULL, &bad[i], &x, &x), -EINVAL);
		ASSERT_INT_EQ(tz_next_valid(NULL, &bad[i], &x), -EINVAL);
	}
	ASSERT_INT_EQ(x, 42);
	struct civil c = cv(2024, 1, 1, 0, 0);
	c.sec = 60;
	ASSERT_INT_EQ(tz_from_civil(NULL, &c, NULL, NULL), -EINVAL);
	c.sec = 0;
	c.ms = 1000;
	ASSERT_INT_EQ(tz_from_civil(NULL, &c, NULL, NULL), -EINVAL);
}

/* Outside the precomputed table (before 1800, after 2200) ICU answers directly. */
TEST(tz_outside_table)
{
	struct tz *ny = zone("America/New_York"), *berlin = zone("Europe/Berlin");
	/* Local mean time of New York: -4:56:02. */
	ASSERT_INT_EQ(tz_offset_at(ny, iso("1700-06-01T00:00:00Z")), -17762);
	struct civil c;
	ASSERT_INT_EQ(tz_to_civil(ny, iso("1700-06-01T00:00:00Z"), &c), 0);
	ASSERT_INT_EQ(c.day, 31);
	ASSERT_INT_EQ(c.hour, 19);
	ASSERT_INT_EQ(c.min, 3);
	ASSERT_INT_EQ(c.sec, 58);
	/* The EU rule continues: last Sunday of March 2300 at 02:00 CET. */
	int day = 31;
	while (civil_weekday(civil_days_from_date(2300, 3, day)) != 0)
		day--;
	struct civil gap = cv(2300, 3, day, 2, 30), ok = cv(2300, 3, day, 3, 30);
	int64_t first = 0, next = 0;
	ASSERT_INT_EQ(tz_from_civil(berlin, &gap, &first, NULL), 0);
	ASSERT_INT_EQ(tz_next_valid(berlin, &gap, &next), 0);
	ASSERT_INT_EQ(tz_from_civil(berlin, &ok, &first, NULL), 1);
	ASSERT_INT_EQ(next, first - 30 * 60000);
	ASSERT_INT_EQ(tz_offset_at(berlin, first), 7200);
	ASSERT_INT_EQ(tz_offset_at(berlin, next - 1), 3600);
	/* A fixed zone far out. */
	struct tz *tokyo = zone("Asia/Tokyo");
	ASSERT_INT_EQ(tz_offset_at(tokyo, iso("9999-01-01T00:00:00Z")), 9 * 3600);
}

/* The transition table agrees with ICU, and to_civil/from_civil round-trip. */
TEST(tz_agrees_with_icu)
{
	static const char *const zones[] = {
	    "Europe/Berlin",   "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu",
	    "Pacific/Chatham", "Pacific/Apia",	   "America/Sao_Paulo",	  "Africa/Casablanca",
	    "Europe/London",   "Antarctica/Troll"};
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		struct tz *z = zone(zones[i]);
		UChar u[64];
		u_uastrcpy(u, zones[i]);
		UErrorCode st = U_ZERO_ERROR;
		UCalendar *cal = ucal_open(u, -1, "", UCAL_GREGORIAN, &st);
		ASSERT(U_SUCCESS(st));
		int64_t step = 97LL * 3600000 + 12345;
		for (int64_t t = iso("1850-01-01T00:00:00Z"); t < iso("2250-01-01T00:00:00Z");
		     t += step) {
			ucal_setMillis(cal, (UDate)t, &st);
			int32_t want = (ucal_get(cal, UCAL_ZONE_OFFSET, &st) +
					ucal_get(cal, UCAL_DST_OFFSET, &st)) /
				       1000;
			int32_t got = tz_offset_at(z, t);
			if (got != want)
				test_fail(__FILE__, __LINE__, "%s at %lld: offset %d, ICU %d",
					  zones[i], (long long)t, got, want);
			struct civil c;
			int64_t first = 0, second = 0;
			ASSERT_INT_EQ(tz_to_civil(z, t, &c), 0);
			int n = tz_from_civil(z, &c, &first, &second);
			if (!(n >= 1 && (first == t || (n == 2 && second == t))))
				test_fail(__FILE__, __LINE__, "%s at %lld: round trip n=%d",
					  zones[i], (long long)t, n);
		}
		ASSERT(U_SUCCESS(st));
		ucal_close(cal);
	}
}

TEST(tz_local_max_before)
{
	struct tz *berlin = zone("Europe/Berlin");
	int64_t local_0259 = (civil_days_from_date(2024, 10, 27) * 86400 + 3 * 3600) * 1000LL - 1;
	/* 01:15Z on 2024-10-27 shows 02:15 CET, but 02:59:59.999 CEST was shown before. */
	ASSERT_INT_EQ(tz_local_max_before(berlin, iso("2024-10-27T01:15:00Z")), local_0259);
	ASSERT_INT_EQ(tz_local_max_before(berlin, iso("2024-10-27T02:00:00Z")), local_0259);
	ASSERT_INT_EQ(tz_local_max_before(berlin, iso("2024-10-27T02:00:00Z") + 1), local_0259 + 1);
	ASSERT_INT_EQ(tz_local_max_before(berlin, iso("2024-07-01T00:00:00Z")),
		      iso("2024-07-01T02:00:00Z") - 1);
	ASSERT_INT_EQ(tz_local_max_before(NULL, 1000), 999);
}
