/*
 * cron.c - cron expressions (see cron.h).
 *
 * A parsed expression is five bit sets, one per field: bit v is set when value v matches
 * (minutes 0-59 in a uint64, hours 0-23, days 1-31, months 1-12, weekdays 0-6 with 7 folded
 * into 0). cron_next() converts `after` to civil time, finds the next civil minute whose fields
 * are all in their sets -- moving to the next set bit of each field and carrying into the field
 * above, so it never visits a month, day or hour that cannot match -- and maps it to an instant
 * with tz_next_valid_local(). That mapping is monotonic, and a civil minute maps to an instant
 * after `after` exactly when it is later than every civil time shown up to `after`
 * (tz_local_max_before(), which differs from civil(after) only just after a fall-back), so the
 * search starts there and its first match is the answer. cron_prev() is the mirror image.
 */
#include "cron/cron.h"

#include "base/duration.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "cron/tz.h"

#define DAY_MS 86400000LL

enum { F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_COUNT };

struct cron {
	uint64_t bits[F_COUNT];
	bool dom_all, dow_all; /* the field covers its whole range: it does not restrict days */
	bool never;	       /* no month has a day that can match */
	int64_t every_ms;      /* > 0 for @every */
	int64_t anchor_ms;
};

struct field_spec {
	const char *name;
	int min, max;		/* accepted values (day-of-week: 0-7) */
	int star_max;		/* the top of `*` (day-of-week: 6) */
	int hash_min, hash_max; /* the range of a bare `H` */
};

static const struct field_spec field_specs[F_COUNT] = {
    [F_MIN] = {"minute", 0, 59, 59, 0, 59},	  [F_HOUR] = {"hour", 0, 23, 23, 0, 23},
    [F_DOM] = {"day-of-month", 1, 31, 31, 1, 28}, [F_MON] = {"month", 1, 12, 12, 1, 12},
    [F_DOW] = {"day-of-week", 0, 7, 6, 0, 6},
};

static const char *const month_names[12] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
					    "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const day_names[7] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct preset {
	const char *name, *expr;
};

static const struct preset presets[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},	  {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* Longest token quoted in a message; longer ones are cut and end with "...". */
#define QUOTE_MAX 32

struct parser {
	const char *expr;
	struct cron_error *err;
	uint64_t key_hash;
};

__attribute__((format(printf, 3, 4))) static int fail(struct parser *p, const char *at,
						      const char *fmt, ...)
{
	if (p->err) {
		va_list ap;
		p->err->offset = (uint32_t)(at - p->expr);
		va_start(ap, fmt);
		vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A token for a message: at most QUOTE_MAX bytes, "..." appended if cut. */
static const char *quote(char out[QUOTE_MAX + 4], const char *s, size_t len)
{
	if (len > QUOTE_MAX) {
		memcpy(out, s, QUOTE_MAX);
		memcpy(out + QUOTE_MAX, "...", 4);
	} else {
		memcpy(out, s, len);
		out[len] = '\0';
	}
	return out;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t splitmix64(uint64_t x)
{
	uint64_t z = x + 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t field_hash(const struct parser *p, int field)
{
	return splitmix64(p->key_hash ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(field + 1)));
}

/* The next set bit at or above `from`, or -1. */
static int next_bit(uint64_t mask, int from)
{
	if (from >= 64)
		return -1;
	mask >>= from;
	return mask ? from + __builtin_ctzll(mask) : -1;
}

/* The highest set bit at or below `from`, or -1. */
static int prev_bit(uint64_t mask, int from)
{
	if (from < 0)
		return -1;
	if (from < 63)
		mask &= (2ULL << from) - 1;
	return mask ? 63 - __builtin_clzll(mask) : -1;
}

/* --- Parsing fields -------------------------------------------------------------------------- */

/*
 * One value at [s, end): a number or, in the month and day-of-week fields, a name. Sets
 * *ret_sunday when it was the name SUN (so that a range can end at it: SAT-SUN).
 */
static int parse_value(struct parser *p, int field, const char *s, const char *end, int *ret,
		       bool *ret_sunday)
{
	const struct field_spec *f = &field_specs[field];
	char q[QUOTE_MAX + 4];
	size_t len = (size_t)(end - s);
	if (len == 0)
		return fail(p, s, "missing value in %s field", f->name);
	*ret_sunday = false;
	if (is_digit(*s)) {
		int v = 0;
		for (const char *c = s; c < end; c++) {
			if (!is_digit(*c))
				return fail(p, s, "invalid %s value '%s'", f->name,
					    quote(q, s, len));
			if (v < 1000000)
				v = v * 10 + (*c - '0');
		}
		if (v < f->min || v > f->max)
			return fail(p, s, "%s value %s out of range %d-%d", f->name,
				    quote(q, s, len), f->min, f->max);
		*ret = v;
		return 0;
	}
	if (is_alpha(*s) && (field == F_MON || field == F_DOW)) {
		const char *const *names = field == F_MON ? month_names : day_names;
		int n = field == F_MON ? 12 : 7;
		if (len == 3)
			for (int i = 0; i < n; i++)
				if (strncasecmp(s, names[i], 3) == 0) {
					*ret = field == F_MON ? i + 1 : i;
					*ret_sunday = field == F_DOW && i == 0;
					return 0;
				}
		return fail(p, s, "unknown %s name '%s'", field == F_MON ? "month" : "day-of-week",
			    quote(q, s, len));
	}
	return fail(p, s, "invalid %s value '%s'", f->name, quote(q, s, len));
}

/* `a` or `a-b` at [s, end) into *ret_lo, *ret_hi (ret_hi = a when there is no `-`). */
static int parse_range(struct parser *p, int field, const char *s, const char *end, int *ret_lo,
		       int *ret_hi, bool *ret_is_range)
{
	const char *dash = memchr(s, '-', (size_t)(end - s));
	bool sunday;
	int lo, hi, r;
	r = parse_value(p, field, s, dash ? dash : end, &lo, &sunday);
	if (r < 0)
		return r;
	hi = lo;
	if (dash) {
		r = parse_value(p, field, dash + 1, end, &hi, &sunday);
		if (r < 0)
			return r;
		if (sunday && lo > 0) /* SAT-SUN, MON-SUN: Sunday as 7 */
			hi = 7;
		if (lo > hi) {
			char q[QUOTE_MAX + 4];
			return fail(p, s, "%s range %s has its start after its end",
				    field_specs[field].name, quote(q, s, (size_t)(end - s)));
		}
	}
	*ret_lo = lo;
	*ret_hi = hi;
	*ret_is_range = dash != NULL;
	return 0;
}

/* One list item at [s, end) of field `field`: OR its values into *bits. */
static int parse_item(struct parser *p, int field, const char *s, const char *end, uint64_t *bits)
{
	const struct field_spec *f = &field_specs[field];
	char q[QUOTE_MAX + 4];
	const char *slash = memchr(s, '/', (size_t)(end - s));
	const char *base_end = slash ? slash : end;
	int lo, hi, step = 1, r;
	bool hashed = false, is_range = false;

	if (slash) {
		const char *t = slash + 1;
		if (t == end)
			return fail(p, slash, "missing step after '/' in %s field", f->name);
		int v = 0;
		for (const char *c = t; c < end; c++) {
			if (!is_digit(*c))
				return fail(p, t, "invalid %s step '%s'", f->name,
					    quote(q, t, (size_t)(end - t)));
			if (v < 1000000)
				v = v * 10 + (*c - '0');
		}
		int width = f->star_max - f->min + 1;
		if (v < 1 || v > width)
			return fail(p, t, "%s step %s out of range 1-%d", f->name,
				    quote(q, t, (size_t)(end - t)), width);
		step = v;
	}

	if (base_end - s == 1 && *s == '*') {
		lo = f->min;
		hi = f->star_max;
	} else if (base_end > s && *s == 'H') {
		hashed = true;
		lo = f->hash_min;
		hi = f->hash_max;
		const char *t = s + 1;
		if (t < base_end) {
			if (*t != '(' || base_end[-1] != ')' || base_end - t < 2)
				return fail(p, s,
					    "invalid hashed %s value '%s' (use H or H(LOW-HIGH))",
					    f->name, quote(q, s, (size_t)(base_end - s)));
			r = parse_range(p, field, t + 1, base_end - 1, &lo, &hi, &is_range);
			if (r < 0)
				return r;
			if (!is_range)
				return fail(p, t + 1, "H(...) needs a range LOW-HIGH in %s field",
					    f->name);
		}
	} else {
		r = parse_range(p, field, s, base_end, &lo, &hi, &is_range);
		if (r < 0)
			return r;
		if (slash && !is_range) /* 5/15: from 5 to the top of `*` (7/2 in day-of-week: 7) */
			hi = lo > f->star_max ? lo : f->star_max;
	}

	if (hashed) {
		uint64_t h = field_hash(p, field);
		int width = hi - lo + 1;
		if (slash)
			lo += (int)(h % (uint64_t)(step < width ? step : width));
		else
			lo = hi = lo + (int)(h % (uint64_t)width);
	}
	for (int v = lo; v <= hi; v += step)
		*bits |= 1ULL << v;
	return 0;
}

static int parse_field(struct parser *p, int field, const char *s, const char *end,
		       uint64_t *ret_bits)
{
	uint64_t bits = 0;
	const char *item = s;
	for (;;) {
		const char *comma = memchr(item, ',', (size_t)(end - item));
		const char *item_end = comma ? comma : end;
		if (item_end == item)
			return fail(p, item, "empty list item in %s field",
				    field_specs[field].name);
		int r = parse_item(p, field, item, item_end, &bits);
		if (r < 0)
			return r;
		if (!comma)
			break;
		item = comma + 1;
	}
	*ret_bits = bits;
	return 0;
}

/* --- Presets and @every ------------------------------------------------------------------------
 */

static int parse_every(struct parser *p, const char *s, const char *end, int64_t *ret_ms)
{
	char q[QUOTE_MAX + 4];
	if (s == end)
		return fail(p, s, "@every needs a duration, such as 15m or 1h30m");
	char text[64];
	size_t len = (size_t)(end - s);
	if (len >= sizeof(text))
		return fail(p, s, "@every duration is too long");
	memcpy(text, s, len);
	text[len] = '\0';
	int64_t ms = 0;
	const char *why = NULL;
	if (duration_parse(text, &ms, &why) < 0)
		return fail(p, s, "bad @every duration '%s': %s", quote(q, s, len), why);
	if (ms <= 0)
		return fail(p, s, "@every duration must be positive");
	*ret_ms = ms;
	return 0;
}

/* --- The whole expression ----------------------------------------------------------------------
 */

static void finish(struct cron *c)
{
	/* Fold Sunday 7 into 0. */
	if (c->bits[F_DOW] & (1ULL << 7))
		c->bits[F_DOW] = (c->bits[F_DOW] & ~(1ULL << 7)) | 1;
	c->dom_all = c->bits[F_DOM] == 0xfffffffeULL; /* 1..31 */
	c->dow_all = c->bits[F_DOW] == 0x7fULL;	      /* 0..6 */
	/* Only a day-of-month restriction alone can make every month impossible. */
	c->never = false;
	if (c->dow_all && !c->dom_all) {
		c->never = true;
		for (int m = 1; m <= 12; m++) {
			if (!(c->bits[F_MON] >> m & 1))
				continue;
			int longest = m == 2 ? 29 : civil_days_in_month(2001, m);
			uint64_t possible = ((1ULL << (longest + 1)) - 1) & ~1ULL;
			if (c->bits[F_DOM] & possible)
				c->never = false;
		}
	}
}

static int parse_fields(struct parser *p, const char *expr, struct cron *c)
{
	const char *start[F_COUNT], *end[F_COUNT];
	int n = 0;
	const char *s = expr, *extra = NULL;
	for (;;) {
		while (is_space(*s))
			s++;
		if (!*s)
			break;
		const char *e = s;
		while (*e && !is_space(*e))
			e++;
		if (n < F_COUNT) {
			start[n] = s;
			end[n] = e;
		} else if (!extra) {
			extra = s;
		}
		n++;
		s = e;
	}
	if (n == 0)
		return fail(p, expr, "empty cron expression");
	if (n != F_COUNT)
		return fail(
		    p, extra ? extra : s,
		    "expected 5 fields (minute hour day-of-month month day-of-week), got %d", n);
	for (int f = 0; f < F_COUNT; f++) {
		int r = parse_field(p, f, start[f], end[f], &c->bits[f]);
		if (r < 0)
			return r;
	}
	return 0;
}

int cron_parse(const char *expr, const char *hash_key, struct cron **ret, struct cron_error *err)
{
	struct parser p = {.expr = expr, .err = err, .key_hash = fnv1a64(hash_key)};
	struct cron c = {0};
	int r;
	if (err) {
		err->offset = 0;
		err->msg[0] = '\0';
	}
	if (!expr)
		return fail(&p, expr, "empty cron expression");

	const char *s = expr;
	while (is_space(*s))
		s++;
	if (*s == '@') {
		const char *e = s;
		while (*e && !is_space(*e))
			e++;
		const char *rest = e;
		while (is_space(*rest))
			rest++;
		const char *rest_end = rest;
		while (*rest_end && !is_space(*rest_end))
			rest_end++;
		const char *after = rest_end;
		while (is_space(*after))
			after++;
		size_t len = (size_t)(e - s);
		char q[QUOTE_MAX + 4];
		if (len == 6 && strncasecmp(s, "@every", 6) == 0) {
			r = parse_every(&p, rest, rest_end, &c.every_ms);
			if (r < 0)
				return r;
			if (*after)
				return fail(&p, after, "unexpected text after @every duration");
		} else {
			const struct preset *pr = NULL;
			for (size_t i = 0; i < ARRAY_SIZE(presets); i++)
				if (strlen(presets[i].name) == len &&
				    strncasecmp(s, presets[i].name, len) == 0)
					pr = &presets[i];
			if (!pr)
				return fail(
				    &p, s,
				    "unknown preset '%s' (use @yearly, @annually, @monthly, "
				    "@weekly, @daily, @midnight, @hourly or @every DURATION)",
				    quote(q, s, len));
			if (*rest)
				return fail(&p, rest, "unexpected text after %s", pr->name);
			struct parser pp = {.expr = pr->expr, .err = NULL};
			r = parse_fields(&pp, pr->expr, &c);
			if (r < 0) /* cannot happen: the table is valid */
				return fail(&p, s, "internal error in preset %s", pr->name);
		}
	} else {
		r = parse_fields(&p, expr, &c);
		if (r < 0)
			return r;
	}
	finish(&c);
	struct cron *out = xmalloc(sizeof(*out));
	*out = c;
	*ret = out;
	return 0;
}

void cron_free(struct cron *c)
{
	free(c);
}

void cron_set_anchor(struct cron *c, int64_t anchor_ms)
{
	if (anchor_ms < TZ_MIN_MS)
		anchor_ms = TZ_MIN_MS;
	if (anchor_ms > TZ_MAX_MS)
		anchor_ms = TZ_MAX_MS;
	c->anchor_ms = anchor_ms;
}

int64_t cron_every_ms(const struct cron *c)
{
	return c->every_ms;
}

bool cron_can_fire(const struct cron *c)
{
	return !c->never;
}

/* --- Next fire time ----------------------------------------------------------------------------
 */

static bool day_matches(const struct cron *c, int day, int wday)
{
	bool dom = c->bits[F_DOM] >> day & 1, dow = c->bits[F_DOW] >> wday & 1;
	if (c->dom_all)
		return dow;
	if (c->dow_all)
		return dom;
	return dom || dow;
}

struct cursor {
	int32_t y, mo, d, h, mi;
};

/*
 * Move *t to the first civil minute at or after it that matches every field. False if there is
 * none before year 10000. Fields may overflow by one (mi 60, h 24, d past the month's end, mo
 * 13): each step carries into the field above.
 */
static bool find_next(const struct cron *c, struct cursor *t)
{
	for (;;) {
		if (t->y > 9999)
			return false;
		int mo = next_bit(c->bits[F_MON], t->mo);
		if (mo < 0) {
			*t = (struct cursor){t->y + 1, 1, 1, 0, 0};
			continue;
		}
		if (mo != t->mo)
			*t = (struct cursor){t->y, mo, 1, 0, 0};

		int dim = civil_days_in_month(t->y, t->mo);
		int d = t->d;
		if (d <= dim) {
			int wd = civil_weekday(civil_days_from_date(t->y, t->mo, d));
			while (d <= dim && !day_matches(c, d, wd)) {
				d++;
				wd = wd == 6 ? 0 : wd + 1;
			}
		}
		if (d > dim) {
			*t = (struct cursor){t->y, t->mo + 1, 1, 0, 0};
			continue;
		}
		if (d != t->d)
			*t = (struct cursor){t->y, t->mo, d, 0, 0};

		int h = next_bit(c->bits[F_HOUR], t->h);
		if (h < 0) {
			*t = (struct cursor){t->y, t->mo, t->d + 1, 0, 0};
			continue;
		}
		if (h != t->h)
			*t = (struct cursor){t->y, t->mo, t->d, h, 0};

		int mi = next_bit(c->bits[F_MIN], t->mi);
		if (mi < 0) {
			*t = (struct cursor){t->y, t->mo, t->d, t->h + 1, 0};
			continue;
		}
		t->mi = mi;
		return true;
	}
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int64_t next_every(const struct cron *c, int64_t after)
{
	int64_t k = floor_div(after - c->anchor_ms, c->every_ms) + 1, r;
	if (__builtin_mul_overflow(k, c->every_ms, &r) ||
	    __builtin_add_overflow(r, c->anchor_ms, &r) || r > TZ_MAX_MS)
		return INT64_MAX;
	return r;
}

/*
 * Move *t to the last civil minute at or before it that matches every field. False if there is
 * none since year 1. Fields may underflow by one (mi -1, h -1, d 0) or name a day past the end
 * of the month (31 after moving to a shorter month): each step borrows from the field above.
 */
static bool find_prev(const struct cron *c, struct cursor *t)
{
	for (;;) {
		if (t->y < 1)
			return false;
		int mo = prev_bit(c->bits[F_MON], t->mo);
		if (mo < 1) {
			*t = (struct cursor){t->y - 1, 12, 31, 23, 59};
			continue;
		}
		if (mo != t->mo)
			*t = (struct cursor){t->y, mo, 31, 23, 59};

		int dim = civil_days_in_month(t->y, t->mo);
		if (t->d > dim)
			*t = (struct cursor){t->y, t->mo, dim, 23, 59};
		int d = t->d;
		if (d >= 1) {
			int wd = civil_weekday(civil_days_from_date(t->y, t->mo, d));
			while (d >= 1 && !day_matches(c, d, wd)) {
				d--;
				wd = wd == 0 ? 6 : wd - 1;
			}
		}
		if (d < 1) {
			*t = (struct cursor){t->y, t->mo - 1, 31, 23, 59};
			continue;
		}
		if (d != t->d)
			*t = (struct cursor){t->y, t->mo, d, 23, 59};

		int h = prev_bit(c->bits[F_HOUR], t->h);
		if (h < 0) {
			*t = (struct cursor){t->y, t->mo, t->d - 1, 23, 59};
			continue;
		}
		if (h != t->h)
			*t = (struct cursor){t->y, t->mo, t->d, h, 59};

		int mi = prev_bit(c->bits[F_MIN], t->mi);
		if (mi < 0) {
			*t = (struct cursor){t->y, t->mo, t->d, t->h - 1, 59};
			continue;
		}
		t->mi = mi;
		return true;
	}
}

static int64_t cursor_local(const struct cursor *t)
{
	return civil_days_from_date(t->y, t->mo, t->d) * DAY_MS + (int64_t)t->h * 3600000 +
	       (int64_t)t->mi * 60000;
}

/* The civil minute containing local ms `local`. */
static struct cursor cursor_at(int64_t local)
{
	struct cursor t;
	int64_t days = floor_div(local, DAY_MS), rem = local - days * DAY_MS;
	civil_date_from_days(days, &t.y, &t.mo, &t.d);
	t.h = (int32_t)(rem / 3600000);
	t.mi = (int32_t)(rem / 60000 % 60);
	return t;
}

int64_t cron_next(const struct cron *c, const struct tz *tz, int64_t after_ms)
{
	if (c->never || after_ms >= TZ_MAX_MS)
		return INT64_MAX;
	if (after_ms < TZ_MIN_MS)
		after_ms = TZ_MIN_MS - 1;
	if (c->every_ms)
		return next_every(c, after_ms);

	/* Civil minute M fires after `after` exactly when M is later than every civil time shown
	 * up to and including `after`; start at the first such minute. */
	int64_t seen = tz_local_max_before(tz, after_ms + 1);
	struct cursor t = cursor_at(seen);
	t.mi++;
	if (t.y < 1)
		t = (struct cursor){1, 1, 1, 0, 0};
	for (;;) {
		if (!find_next(c, &t))
			return INT64_MAX;
		int64_t at = tz_next_valid_local(tz, cursor_local(&t));
		if (at > after_ms)
			return at > TZ_MAX_MS ? INT64_MAX : at;
		t.mi++; /* not reached: kept so that a surprise costs time, not correctness */
	}
}

int64_t cron_prev(const struct cron *c, const struct tz *tz, int64_t before_ms)
{
	if (c->never || before_ms <= TZ_MIN_MS)
		return INT64_MIN;
	if (before_ms > TZ_MAX_MS)
		before_ms = TZ_MAX_MS + 1;
	if (c->every_ms) {
		/* The largest anchor + k*D below before_ms. */
		int64_t k = floor_div(before_ms - 1 - c->anchor_ms, c->every_ms), r;
		if (__builtin_mul_overflow(k, c->every_ms, &r) ||
		    __builtin_add_overflow(r, c->anchor_ms, &r) || r < TZ_MIN_MS)
			return INT64_MIN;
		return r;
	}
	/* Civil minute M fired before `before` exactly when M is at or below the latest civil
	 * time shown before it. */
	struct cursor t = cursor_at(tz_local_max_before(tz, before_ms));
	if (t.y > 9999)
		t = (struct cursor){9999, 12, 31, 23, 59};
	for (;;) {
		if (!find_prev(c, &t))
			return INT64_MIN;
		int64_t at = tz_next_valid_local(tz, cursor_local(&t));
		if (at < before_ms)
			return at < TZ_MIN_MS ? INT64_MIN : at;
		t.mi--; /* not reached, as in cron_next() */
	}
}

/* --- Describing --------------------------------------------------------------------------------
 */

struct out {
	char *buf;
	size_t size, len;
};

__attribute__((format(printf, 2, 3))) static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = o->len < o->size ? o->size - o->len : 0;
	int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static void describe_field(struct out *o, uint64_t bits, int min, int max)
{
	uint64_t all = (max == 63 ? ~0ULL : (2ULL << max) - 1) & ~((1ULL << min) - 1);
	if ((bits & all) == all) {
		out_printf(o, "*");
		return;
	}
	const char *sep = "";
	for (int v = min; v <= max; v++) {
		if (!(bits >> v & 1))
			continue;
		int e = v;
		while (e + 1 <= max && (bits >> (e + 1) & 1))
			e++;
		if (e == v)
			out_printf(o, "%s%d", sep, v);
		else if (e == v + 1)
			out_printf(o, "%s%d,%d", sep, v, e);
		else
			out_printf(o, "%s%d-%d", sep, v, e);
		sep = ",";
		v = e;
	}
}

size_t cron_describe(const struct cron *c, char *buf, size_t size)
{
	struct out o = {buf, size, 0};
	if (size)
		buf[0] = '\0';
	if (c->every_ms) {
		char d[48];
		out_printf(&o, "@every %s", duration_format(c->every_ms, d, sizeof(d)));
		return o.len;
	}
	for (int f = 0; f < F_COUNT; f++) {
		if (f)
			out_printf(&o, " ");
		const struct field_spec *fs = &field_specs[f];
		describe_field(&o, c->bits[f], fs->min, fs->star_max);
	}
	return o.len;
}
