/* Unit tests for base/prom.c: the Prometheus text format and fixed-bucket histograms. */
#include "base/buf.h"
#include "base/prom.h"
#include "base/util.h"
#include "test.h"

TEST(prom_label_values_are_escaped)
{
	struct buf b = {0};
	prom_escape_label(&b, "a\\b\"c\nd\te");
	ASSERT_STR_EQ(buf_str(&b), "a\\\\b\\\"c\\nd\te");
	buf_reset(&b);
	const char *labels[] = {"pool", "we\"ird\\\n", "state", "ok", NULL};
	prom_sample(&b, "m", labels, 3);
	ASSERT_STR_EQ(buf_str(&b), "m{pool=\"we\\\"ird\\\\\\n\",state=\"ok\"} 3\n");
	buf_reset(&b);
	/* HELP escapes backslash and newline, not quotes. */
	prom_family(&b, "m_total", "counter", "say \"x\\y\"\nnext");
	ASSERT_STR_EQ(buf_str(&b),
		      "# HELP m_total say \"x\\\\y\"\\nnext\n# TYPE m_total counter\n");
	buf_free(&b);
}

TEST(prom_numbers_read_back_exactly)
{
	struct buf b = {0};
	double v[] = {0, -3, 1e15, 0.0001, 0.1, 1.0 / 3, 1796394997.79, 1e300};
	const char *want[] = {"0",
			      "-3",
			      "1000000000000000",
			      "0.0001",
			      "0.1",
			      "0.33333333333333331",
			      "1796394997.79",
			      "1e+300"};
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		buf_reset(&b);
		prom_number(&b, v[i]);
		ASSERT_STR_EQ(buf_str(&b), want[i]);
		ASSERT(strtod(buf_str(&b), NULL) == v[i]);
	}
	buf_reset(&b);
	prom_number(&b, 1.0 / 0.0);
	prom_number(&b, -1.0 / 0.0);
	prom_number(&b, 0.0 / 0.0);
	ASSERT_STR_EQ(buf_str(&b), "+Inf-InfNaN");
	buf_reset(&b);
	/* Counters above 2^53 stay exact. */
	prom_sample_u64(&b, "c_total", NULL, 18446744073709551615ULL);
	ASSERT_STR_EQ(buf_str(&b), "c_total 18446744073709551615\n");
	buf_free(&b);
}

static const int64_t bounds[] = {100, 1000, 10000};

TEST(prom_histogram_bucketing)
{
	struct prom_hist h;
	prom_hist_init(&h, bounds, ARRAY_SIZE(bounds), 1e6);
	/* `le` is inclusive: a value on a bound is in that bound's bucket. */
	ASSERT_INT_EQ(prom_hist_bucket(&h, 0), 0);
	ASSERT_INT_EQ(prom_hist_bucket(&h, 100), 0);
	ASSERT_INT_EQ(prom_hist_bucket(&h, 101), 1);
	ASSERT_INT_EQ(prom_hist_bucket(&h, 1000), 1);
	ASSERT_INT_EQ(prom_hist_bucket(&h, 10000), 2);
	ASSERT_INT_EQ(prom_hist_bucket(&h, 10001), 3);
	ASSERT_INT_EQ(prom_hist_bucket(&h, INT64_MAX), 3);
	int64_t obs[] = {50, 100, 500, 20000, -5};
	for (size_t i = 0; i < ARRAY_SIZE(obs); i++)
		prom_hist_observe(&h, obs[i]);
	struct buf b = {0};
	const char *labels[] = {"kind", "x", NULL};
	prom_hist_render(&b, "t_seconds", labels, &h);
	/* Cumulative buckets, bounds in seconds, the negative one counted as 0. */
	ASSERT_STR_EQ(buf_str(&b), "t_seconds_bucket{kind=\"x\",le=\"0.0001\"} 3\n"
				   "t_seconds_bucket{kind=\"x\",le=\"0.001\"} 4\n"
				   "t_seconds_bucket{kind=\"x\",le=\"0.01\"} 4\n"
				   "t_seconds_bucket{kind=\"x\",le=\"+Inf\"} 5\n"
				   "t_seconds_sum{kind=\"x\"} 0.02065\n"
				   "t_seconds_count{kind=\"x\"} 5\n");
	buf_reset(&b);
	struct prom_hist empty;
	prom_hist_init(&empty, bounds, 1, 1);
	prom_hist_render(&b, "e", NULL, &empty);
	ASSERT_STR_EQ(buf_str(&b), "e_bucket{le=\"100\"} 0\ne_bucket{le=\"+Inf\"} 0\ne_sum 0\n"
				   "e_count 0\n");
	buf_free(&b);
}
