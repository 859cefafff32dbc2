/* Unit tests for engine/schedule.c with a fake clock. */
#include <time.h>

#include "base/diag.h"
#include "base/util.h"
#include "dag/dag_load.h"
#include "dag/dag_time.h"
#include "engine/schedule.h"
#include "test.h"

static int64_t T(const char *iso)
{
	int64_t ms = 0;
	if (dag_time_parse_ms(iso, NULL, &ms) < 0)
		test_fail(__FILE__, __LINE__, "bad time %s", iso);
	return ms;
}

static const char *F(int64_t ms)
{
	static char buf[4][40];
	static int k;
	k = (k + 1) % 4;
	return time_format_utc(ms, buf[k], sizeof(buf[k]));
}

struct fixture {
	struct dag *d;
	struct schedule *s;
};

static struct fixture open_yaml(const char *yaml)
{
	struct fixture f = {0};
	struct diag_list diags;
	diag_list_init(&diags, "s.yaml");
	if (dag_load_buffer("s.yaml", yaml, strlen(yaml), &f.d, &diags) < 0) {
		diag_print(&diags, stderr);
		test_fail(__FILE__, __LINE__, "DAG did not load");
	}
	diag_list_free(&diags);
	char *msg = NULL;
	ASSERT_INT_EQ(schedule_open(f.d, &f.s, &msg), 0);
	return f;
}

static struct fixture open_sched(const char *sch, const char *extra)
{
	char yaml[512];
	snprintf(yaml, sizeof(yaml), "schedule: \"%s\"\n%stasks:\n  a: echo\n", sch, extra);
	return open_yaml(yaml);
}

static void close_f(struct fixture *f)
{
	schedule_free(f->s);
	dag_free(f->d);
}

TEST(schedule_midnight_on_the_first)
{
	/* 2024-03-01 is a Friday: @hourly, @daily and @monthly are due at 00:00; @weekly is not. */
	static const struct {
		const char *sch;
		bool due;
		const char *next_after;
	} cases[] = {
		{"@hourly", true, "2024-03-01T01:00:00Z"},
		{"@daily", true, "2024-03-02T00:00:00Z"},
		{"@monthly", true, "2024-04-01T00:00:00Z"},
		{"@weekly", false, "2024-03-03T00:00:00Z"},
		{"*/15 * * * *", true, "2024-03-01T00:15:00Z"},
		{"@every 5m", true, "2024-03-01T00:05:00Z"},
	};
	int64_t midnight = T("2024-03-01T00:00:00Z");
	int64_t first_seen = T("2024-02-29T23:59:30Z");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fixture f = open_sched(cases[i].sch, "");
		int64_t out[4];
		bool more;
		ASSERT_INT_EQ(schedule_due(f.s, 0, first_seen, midnight - 1, out, 4, &more), 0);
		ASSERT_INT_EQ(schedule_wakeup(f.s, 0, first_seen, midnight - 1),
			      cases[i].due ? midnight : T("2024-03-03T00:00:00Z"));
		size_t n = schedule_due(f.s, 0, first_seen, midnight, out, 4, &more);
		ASSERT_INT_EQ(n, cases[i].due ? 1 : 0);
		if (n)
			ASSERT_STR_EQ(F(out[0]), "2024-03-01T00:00:00Z");
		ASSERT_STR_EQ(F(schedule_wakeup(f.s, cases[i].due ? midnight : 0, first_seen,
						midnight)),
			      cases[i].next_after);
		close_f(&f);
	}
}

TEST(schedule_new_dag_does_not_run_for_the_past)
{
	struct fixture f = open_sched("@daily", "");
	int64_t out[4];
	bool more;
	/* First seen at noon: yesterday's midnight is not due, tonight's is. */
	int64_t seen = T("2024-05-10T12:00:00Z");
	ASSERT_INT_EQ(schedule_due(f.s, 0, seen, seen + 1000, out, 4, &more), 0);
	ASSERT_INT_EQ(schedule_due(f.s, 0, seen, T("2024-05-11T00:00:00Z"), out, 4, &more), 1);
	close_f(&f);
}

TEST(schedule_catchup_counts)
{
	/* catchup: every missed run since start_date, in order; without: only the latest. */
	struct fixture on = open_sched("@daily", "start_date: 2024-01-01\ncatchup: true\n");
	struct fixture off = open_sched("@daily", "start_date: 2024-01-01\ncatchup: false\n");
	int64_t now = T("2024-01-10T12:00:00Z");
	int64_t out[64];
	bool more;
	size_t n = schedule_due(on.s, 0, now, now, out, 64, &more);
	ASSERT_INT_EQ(n, 10); /* Jan 1 .. Jan 10 */
	ASSERT(!more);
	ASSERT_STR_EQ(F(out[0]), "2024-01-01T00:00:00Z");
	ASSERT_STR_EQ(F(out[9]), "2024-01-10T00:00:00Z");
	/* In batches: 4, then from the last one. */
	n = schedule_due(on.s, 0, now, now, out, 4, &more);
	ASSERT_INT_EQ(n, 4);
	ASSERT(more);
	n = schedule_due(on.s, out[3], now, now, out, 64, &more);
	ASSERT_INT_EQ(n, 6);
	ASSERT_STR_EQ(F(out[0]), "2024-01-05T00:00:00Z");
	/* Already caught up: nothing. */
	ASSERT_INT_EQ(schedule_due(on.s, T("2024-01-10T00:00:00Z"), now, now, out, 64, &more), 0);
	n = schedule_due(off.s, 0, now, now, out, 64, &more);
	ASSERT_INT_EQ(n, 1);
	ASSERT_STR_EQ(F(out[0]), "2024-01-10T00:00:00Z");
	/* After a restart three days later, without catchup: only the latest again. */
	n = schedule_due(off.s, T("2024-01-10T00:00:00Z"), now, T("2024-01-13T08:00:00Z"), out, 64,
			 &more);
	ASSERT_INT_EQ(n, 1);
	ASSERT_STR_EQ(F(out[0]), "2024-01-13T00:00:00Z");
	close_f(&on);
	close_f(&off);
}

TEST(schedule_start_and_end_dates)
{
	struct fixture f = open_sched("@daily", "start_date: 2024-02-03\nend_date: 2024-02-05\n"
						"catchup: true\n");
	int64_t out[16];
	bool more;
	size_t n = schedule_due(f.s, 0, 0, T("2024-03-01T00:00:00Z"), out, 16, &more);
	ASSERT_INT_EQ(n, 3);
	ASSERT_STR_EQ(F(out[0]), "2024-02-03T00:00:00Z");
	ASSERT_STR_EQ(F(out[2]), "2024-02-05T00:00:00Z");
	ASSERT_INT_EQ(schedule_next(f.s, T("2024-02-05T00:00:00Z")), INT64_MAX);
	close_f(&f);
	/* Without catchup, long after end_date: the last fire before end_date is still due. */
	struct fixture g = open_sched("@daily", "start_date: 2024-02-03\nend_date: 2024-02-05\n");
	n = schedule_due(g.s, 0, 0, T("2026-01-01T00:00:00Z"), out, 16, &more);
	ASSERT_INT_EQ(n, 1);
	ASSERT_STR_EQ(F(out[0]), "2024-02-05T00:00:00Z");
	ASSERT_INT_EQ(schedule_due(g.s, out[0], 0, T("2026-01-01T00:00:00Z"), out, 16, &more), 0);
	close_f(&g);
}

TEST(schedule_time_zone_and_dst)
{
	/* 02:30 every day in Berlin: on 2024-03-31 02:30 does not exist -> 03:00 CEST (01:00Z). */
	struct fixture f = open_sched("30 2 * * *", "timezone: Europe/Berlin\n");
	ASSERT_STR_EQ(F(schedule_next(f.s, T("2024-03-30T12:00:00Z"))), "2024-03-31T01:00:00Z");
	ASSERT_STR_EQ(F(schedule_next(f.s, T("2024-03-31T01:00:00Z"))), "2024-04-01T00:30:00Z");
	close_f(&f);
}

TEST(schedule_jitter_is_stable_and_bounded)
{
	struct fixture a = open_yaml("id: alpha\nschedule: \"@hourly\"\njitter: 10m\n"
				     "tasks:\n  a: echo\n");
	struct fixture b = open_yaml("id: beta\nschedule: \"@hourly\"\njitter: 10m\n"
				     "tasks:\n  a: echo\n");
	int64_t t = T("2024-03-01T00:00:00Z");
	int64_t sa = schedule_start_at(a.s, t), sb = schedule_start_at(b.s, t);
	ASSERT(sa >= t && sa < t + 600000);
	ASSERT(sb >= t && sb < t + 600000);
	ASSERT(sa != sb);
	ASSERT_INT_EQ(schedule_start_at(a.s, t), sa); /* stable */
	/* Not due before its start; due at it. */
	int64_t out[2];
	bool more;
	ASSERT_INT_EQ(schedule_due(a.s, t - 3600000, 0, sa - 1, out, 2, &more), 0);
	ASSERT_INT_EQ(schedule_due(a.s, t - 3600000, 0, sa, out, 2, &more), 1);
	ASSERT_INT_EQ(out[0], t);
	ASSERT_INT_EQ(schedule_wakeup(a.s, t - 3600000, 0, t), sa);
	close_f(&a);
	close_f(&b);
}

TEST(schedule_none_for_manual_dags)
{
	struct fixture f = open_yaml("tasks:\n  a: echo\n");
	ASSERT(f.s == NULL);
	ASSERT_INT_EQ(schedule_wakeup(f.s, 0, 0, 0), INT64_MAX);
	close_f(&f);
}

/* The hand-written time formatter against snprintf over gmtime_r, at edges and at random. */
TEST(time_format_utc_matches_gmtime)
{
	static const int64_t edges[] = {0,
					-1,
					-999,
					-1000,
					-1001,
					1,
					999,
					86399999,
					86400000,
					951782400000,  /* 2000-02-29 */
					4102444799999, /* 2099-12-31T23:59:59.999 */
					253402300799999 /* 9999-12-31T23:59:59.999 */};
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 20000; i++) {
		int64_t ms;
		if (i < (int)ARRAY_SIZE(edges)) {
			ms = edges[i];
		} else {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			ms = (int64_t)(x % 253402300800000ull) - 62135596800000ll / 4;
		}
		time_t secs = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
		struct tm tm;
		ASSERT(gmtime_r(&secs, &tm));
		char want[64], want_ms[64], got[40], got_ms[40];
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		snprintf(want_ms, sizeof(want_ms), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (int)(ms - (int64_t)secs * 1000));
		ASSERT_STR_EQ(time_format_utc(ms, got, sizeof(got)), want);
		ASSERT_STR_EQ(time_format_utc_ms(ms, got_ms, sizeof(got_ms)), want_ms);
	}
	/* A buffer too small for the fast path still gets a terminated prefix. */
	char small[8];
	ASSERT_STR_EQ(time_format_utc(0, small, sizeof(small)), "1970-01");
}
