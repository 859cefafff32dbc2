/* Unit tests for dag/duration: parsing and formatting of durations and sizes. */
#include <errno.h>

#include "base/duration.h"
#include "test.h"

static int64_t dur_ok(const char *s)
{
	int64_t ms = -1;
	const char *err = NULL;
	int r = duration_parse(s, &ms, &err);
	if (r != 0)
		test_fail(__FILE__, __LINE__, "duration_parse(\"%s\") failed: %s", s,
			  err ? err : "(null)");
	return ms;
}

static const char *dur_err(const char *s)
{
	int64_t ms = 12345;
	const char *err = NULL;
	int r = duration_parse(s, &ms, &err);
	if (r != -EINVAL || !err)
		test_fail(__FILE__, __LINE__, "duration_parse(\"%s\") should fail, got r=%d", s, r);
	if (ms != 12345)
		test_fail(__FILE__, __LINE__, "duration_parse(\"%s\") touched ret_ms on error", s);
	return err;
}

static uint64_t size_ok(const char *s)
{
	uint64_t v = 0;
	const char *err = NULL;
	if (size_parse(s, &v, &err) != 0)
		test_fail(__FILE__, __LINE__, "size_parse(\"%s\") failed: %s", s,
			  err ? err : "(null)");
	return v;
}

static const char *size_err(const char *s)
{
	uint64_t v = 777;
	const char *err = NULL;
	int r = size_parse(s, &v, &err);
	if (r != -EINVAL || !err || v != 777)
		test_fail(__FILE__, __LINE__, "size_parse(\"%s\") should fail cleanly, r=%d", s, r);
	return err;
}

TEST(duration_parse_valid)
{
	ASSERT_INT_EQ(dur_ok("30s"), 30000);
	ASSERT_INT_EQ(dur_ok("5m"), 300000);
	ASSERT_INT_EQ(dur_ok("2h"), 7200000);
	ASSERT_INT_EQ(dur_ok("1d"), 86400000);
	ASSERT_INT_EQ(dur_ok("1w"), 604800000);
	ASSERT_INT_EQ(dur_ok("250ms"), 250);
	ASSERT_INT_EQ(dur_ok("1h30m"), 5400000);
	ASSERT_INT_EQ(dur_ok("1d2h"), 93600000);
	ASSERT_INT_EQ(dur_ok("0"), 0);
	ASSERT_INT_EQ(dur_ok("0s"), 0);
	ASSERT_INT_EQ(dur_ok("90m"), 5400000);
	ASSERT_INT_EQ(dur_ok("1w1d1h1m1s1ms"), 604800000LL + 86400000 + 3600000 + 60000 + 1000 + 1);
	ASSERT_INT_EQ(dur_ok("007s"), 7000);
	ASSERT_INT_EQ(dur_ok("9223372036854775807ms"), INT64_MAX);
}

TEST(duration_parse_errors)
{
	ASSERT_STR_CONTAINS(dur_err(""), "empty duration");
	ASSERT_STR_CONTAINS(dur_err("-5m"), "negative");
	ASSERT_STR_CONTAINS(dur_err("+5m"), "sign");
	ASSERT_STR_CONTAINS(dur_err(" 5m"), "whitespace");
	ASSERT_STR_CONTAINS(dur_err("5m "), "whitespace");
	ASSERT_STR_CONTAINS(dur_err("1h 30m"), "whitespace");
	ASSERT_STR_EQ(dur_err("5x"), "unknown unit 'x' (use ms, s, m, h, d or w)");
	ASSERT_STR_CONTAINS(dur_err("5min"), "unknown unit 'min'");
	ASSERT_STR_CONTAINS(dur_err("5sec"), "unknown unit 'sec'");
	ASSERT_STR_CONTAINS(dur_err("5H"), "lower case");
	ASSERT_STR_CONTAINS(dur_err("5MS"), "lower case");
	ASSERT_STR_CONTAINS(dur_err("5qq"), "unknown unit (use ms, s, m, h, d or w)");
	ASSERT_STR_CONTAINS(dur_err("1h1h"), "twice");
	ASSERT_STR_CONTAINS(dur_err("30m1h"), "out of order");
	ASSERT_STR_CONTAINS(dur_err("1s1m"), "out of order");
	ASSERT_STR_CONTAINS(dur_err("250ms1s"), "out of order");
	ASSERT_STR_CONTAINS(dur_err("m"), "missing number");
	ASSERT_STR_CONTAINS(dur_err("1hm"), "unknown unit");
	ASSERT_STR_CONTAINS(dur_err("5"), "missing unit");
	ASSERT_STR_CONTAINS(dur_err("00"), "missing unit");
	ASSERT_STR_CONTAINS(dur_err("1h30"), "missing unit");
	ASSERT_STR_CONTAINS(dur_err("1.5h"), "fraction");
	ASSERT_STR_CONTAINS(dur_err("99999999999999999999s"), "number too large");
	ASSERT_STR_CONTAINS(dur_err("9223372036854775808ms"), "too large");
	ASSERT_STR_CONTAINS(dur_err("15250284453w"), "too large");
	ASSERT_STR_CONTAINS(dur_err("9223372036854775807ms1ms"), "twice");
	ASSERT_INT_EQ(dur_ok("15250284452w3d"), 15250284452LL * 604800000 + 3 * 86400000LL);
	ASSERT_STR_CONTAINS(dur_err("15250284452w4d"), "too large");
	ASSERT_STR_CONTAINS(dur_err("5m!"), "unexpected character");
}

TEST(duration_format_shortest)
{
	char b[64];
	ASSERT_STR_EQ(duration_format(90000, b, sizeof(b)), "1m30s");
	ASSERT_STR_EQ(duration_format(0, b, sizeof(b)), "0s");
	ASSERT_STR_EQ(duration_format(1500, b, sizeof(b)), "1s500ms");
	ASSERT_STR_EQ(duration_format(250, b, sizeof(b)), "250ms");
	ASSERT_STR_EQ(duration_format(604800000LL + 86400000, b, sizeof(b)), "1w1d");
	ASSERT_STR_EQ(duration_format(5400000, b, sizeof(b)), "1h30m");
	ASSERT_STR_EQ(duration_format(-30000, b, sizeof(b)), "-30s");
	ASSERT(strlen(duration_format(INT64_MIN, b, sizeof(b))) > 1);
	ASSERT_STR_EQ(duration_format(90000, b, 3), "1m");
	/* Round trip over assorted values. */
	static const int64_t vals[] = {1,	 999,	    1000,	59999,	  3600000,
				       86399999, 604800001, 1234567890, INT64_MAX};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		duration_format(vals[i], b, sizeof(b));
		ASSERT_INT_EQ(dur_ok(b), vals[i]);
	}
}

TEST(duration_size_parse)
{
	ASSERT_INT_EQ(size_ok("512M"), 512ULL << 20);
	ASSERT_INT_EQ(size_ok("50G"), 50ULL << 30);
	ASSERT_INT_EQ(size_ok("1T"), 1ULL << 40);
	ASSERT_INT_EQ(size_ok("4K"), 4096);
	ASSERT_INT_EQ(size_ok("512MiB"), 512ULL << 20);
	ASSERT_INT_EQ(size_ok("50GB"), 50ULL << 30);
	ASSERT_INT_EQ(size_ok("1024"), 1024);
	ASSERT_INT_EQ(size_ok("0"), 0);
	ASSERT_INT_EQ(size_ok("4k"), 4096);
	ASSERT_INT_EQ(size_ok("512m"), 512ULL << 20);
	ASSERT_INT_EQ(size_ok("2g"), 2ULL << 30);
	ASSERT_INT_EQ(size_ok("3t"), 3ULL << 40);
	ASSERT_INT_EQ(size_ok("8Ki"), 8192);
	ASSERT_INT_EQ(size_ok("100B"), 100);
	ASSERT_INT_EQ(size_ok("16777215T"), 16777215ULL << 40);

	ASSERT_STR_CONTAINS(size_err(""), "empty size");
	ASSERT_STR_CONTAINS(size_err("-1M"), "negative");
	ASSERT_STR_CONTAINS(size_err(" 1M"), "whitespace");
	ASSERT_STR_CONTAINS(size_err("1 M"), "whitespace");
	ASSERT_STR_CONTAINS(size_err("1.5G"), "fraction");
	ASSERT_STR_CONTAINS(size_err("5X"), "unknown size unit");
	ASSERT_STR_CONTAINS(size_err("5MX"), "unknown size unit");
	ASSERT_STR_CONTAINS(size_err("5iB"), "unknown size unit");
	ASSERT_STR_CONTAINS(size_err("5BB"), "unknown size unit");
	ASSERT_STR_CONTAINS(size_err("M"), "missing number");
	ASSERT_STR_CONTAINS(size_err("99999999999999999999"), "number too large");
	ASSERT_STR_CONTAINS(size_err("16777216T"), "too large");
}

TEST(duration_size_format)
{
	char b[32];
	ASSERT_STR_EQ(size_format(536870912, b, sizeof(b)), "512M");
	ASSERT_STR_EQ(size_format(1000, b, sizeof(b)), "1000");
	ASSERT_STR_EQ(size_format(0, b, sizeof(b)), "0");
	ASSERT_STR_EQ(size_format(1024, b, sizeof(b)), "1K");
	ASSERT_STR_EQ(size_format(1536 * 1024, b, sizeof(b)), "1536K");
	ASSERT_STR_EQ(size_format(1ULL << 40, b, sizeof(b)), "1T");
	ASSERT_STR_EQ(size_format(1ULL << 50, b, sizeof(b)), "1024T");
	ASSERT_STR_EQ(size_format(UINT64_MAX, b, sizeof(b)), "18446744073709551615");
	static const uint64_t vals[] = {1, 1023, 4096, 50ULL << 30, (1ULL << 63) + 1024};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		size_format(vals[i], b, sizeof(b));
		ASSERT_INT_EQ(size_ok(b), vals[i]);
	}
}

TEST(size_human_rounds_for_people)
{
	char b[16];
	ASSERT_STR_EQ(size_human(512ULL << 20, b, sizeof(b)), "512M");
	ASSERT_STR_EQ(size_human(1000, b, sizeof(b)), "1000");
	ASSERT_STR_EQ(size_human(85000000000ULL, b, sizeof(b)), "79.2G");
	ASSERT_STR_EQ(size_human(1536, b, sizeof(b)), "1.50K");
	ASSERT_STR_EQ(size_human(3ULL << 40, b, sizeof(b)), "3T");
	ASSERT_STR_EQ(size_human(5000ULL << 40, b, sizeof(b)), "5000T");
	ASSERT_STR_EQ(size_human(0, b, sizeof(b)), "0");
}
