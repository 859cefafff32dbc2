/*
 * duration.c - parse and format durations (`1h30m`) and sizes (`512M`), see duration.h.
 *
 * Both parsers are hand-written scanners over the NUL-terminated string: a run of digits
 * accumulated in uint64 with an overflow check, then a unit looked up in a small table. A
 * duration repeats NUMBER UNIT; the table is ordered largest first and each unit's rank must be
 * strictly greater than the previous one, which rejects both `30m1h` and `1h1h`. Error texts
 * are static strings, so the caller neither frees nor copies them; when the offending unit is
 * a single letter or a common word (`min`, `sec`) the text quotes it from a table.
 */
#include "base/duration.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define UNITS_HINT "(use ms, s, m, h, d or w)"

struct dur_unit {
	const char *name;
	int64_t ms;
};

/* Largest first: the index is the rank that enforces order. */
static const struct dur_unit dur_units[] = {
    {"w", 7 * 24 * 3600 * 1000LL},
    {"d", 24 * 3600 * 1000LL},
    {"h", 3600 * 1000LL},
    {"m", 60 * 1000LL},
    {"s", 1000LL},
    {"ms", 1LL},
};

/* Common spellings people try, each with a message that names it. */
static const struct {
	const char *word, *msg;
} dur_words[] = {
    {"sec", "unknown unit 'sec' (write seconds as s; use ms, s, m, h, d or w)"},
    {"secs", "unknown unit 'secs' (write seconds as s; use ms, s, m, h, d or w)"},
    {"second", "unknown unit 'second' (write seconds as s; use ms, s, m, h, d or w)"},
    {"seconds", "unknown unit 'seconds' (write seconds as s; use ms, s, m, h, d or w)"},
    {"min", "unknown unit 'min' (write minutes as m; use ms, s, m, h, d or w)"},
    {"mins", "unknown unit 'mins' (write minutes as m; use ms, s, m, h, d or w)"},
    {"minute", "unknown unit 'minute' (write minutes as m; use ms, s, m, h, d or w)"},
    {"minutes", "unknown unit 'minutes' (write minutes as m; use ms, s, m, h, d or w)"},
    {"hr", "unknown unit 'hr' (write hours as h; use ms, s, m, h, d or w)"},
    {"hrs", "unknown unit 'hrs' (write hours as h; use ms, s, m, h, d or w)"},
    {"hour", "unknown unit 'hour' (write hours as h; use ms, s, m, h, d or w)"},
    {"hours", "unknown unit 'hours' (write hours as h; use ms, s, m, h, d or w)"},
    {"day", "unknown unit 'day' (write days as d; use ms, s, m, h, d or w)"},
    {"days", "unknown unit 'days' (write days as d; use ms, s, m, h, d or w)"},
    {"week", "unknown unit 'week' (write weeks as w; use ms, s, m, h, d or w)"},
    {"weeks", "unknown unit 'weeks' (write weeks as w; use ms, s, m, h, d or w)"},
    {"us", "unknown unit 'us' (the smallest unit is ms; use ms, s, m, h, d or w)"},
    {"ns", "unknown unit 'ns' (the smallest unit is ms; use ms, s, m, h, d or w)"},
    {"y", "unknown unit 'y' (years are not supported; use ms, s, m, h, d or w)"},
};

#define L(c) "unknown unit '" #c "' " UNITS_HINT
static const char *const dur_letter_msgs[26] = {
    L(a), L(b), L(c), L(d), L(e), L(f), L(g), L(h), L(i), L(j), L(k), L(l), L(m),
    L(n), L(o), L(p), L(q), L(r), L(s), L(t), L(u), L(v), L(w), L(x), L(y), L(z),
};
static const char *const dur_upper_msgs[26] = {
    L(A), L(B), L(C), L(D), L(E), L(F), L(G), L(H), L(I), L(J), L(K), L(L), L(M),
    L(N), L(O), L(P), L(Q), L(R), L(S), L(T), L(U), L(V), L(W), L(X), L(Y), L(Z),
};
#undef L

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Digits at *p into *ret, advancing *p. Returns false on overflow of uint64. */
static bool scan_number(const char **p, uint64_t *ret)
{
	uint64_t v = 0;
	const char *s = *p;
	for (; is_digit(*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*p = s;
	*ret = v;
	return true;
}

static const char *dur_unknown_unit(const char *u, size_t len)
{
	for (size_t i = 0; i < sizeof(dur_words) / sizeof(dur_words[0]); i++)
		if (strlen(dur_words[i].word) == len && memcmp(dur_words[i].word, u, len) == 0)
			return dur_words[i].msg;
	if (len <= 2) {
		/* `5M`, `2H`, `10MS`: a valid unit in the wrong case. */
		bool upper = false;
		char low[3] = {0};
		for (size_t i = 0; i < len; i++) {
			upper |= u[i] >= 'A' && u[i] <= 'Z';
			low[i] = (char)(u[i] >= 'A' && u[i] <= 'Z' ? u[i] - 'A' + 'a' : u[i]);
		}
		for (size_t i = 0; upper && i < sizeof(dur_units) / sizeof(dur_units[0]); i++)
			if (strcmp(dur_units[i].name, low) == 0)
				return "unknown unit: units are lower case " UNITS_HINT;
	}
	if (len == 1)
		return *u >= 'a' && *u <= 'z' ? dur_letter_msgs[*u - 'a']
					      : dur_upper_msgs[*u - 'A'];
	return "unknown unit " UNITS_HINT;
}

/* Explain the character at `p`, which is neither a digit nor a unit letter. */
static const char *dur_bad_char(const char *p, bool after_number)
{
	if (is_space(*p))
		return "whitespace is not allowed in a duration (write e.g. 1h30m)";
	if (*p == '-')
		return "a duration cannot be negative";
	if (*p == '+')
		return "a duration takes no sign (write e.g. 30s)";
	if ((*p == '.' || *p == ',') && after_number)
		return "fractions are not allowed in a duration (write 1h30m, not 1.5h)";
	return "unexpected character in duration (write e.g. 30s, 5m, 2h or 1h30m)";
}

int duration_parse(const char *s, int64_t *ret_ms, const char **ret_err)
{
	const char *p = s;
	size_t next_rank = 0;
	int64_t total = 0;

	if (!s || !*s) {
		*ret_err = "empty duration (write e.g. 30s, 5m or 1h30m)";
		return -EINVAL;
	}
	if (strcmp(s, "0") == 0) {
		*ret_ms = 0;
		return 0;
	}
	while (*p) {
		uint64_t n;
		if (!is_digit(*p)) {
			*ret_err = is_alpha(*p) ? "missing number before unit (write e.g. 5m)"
						: dur_bad_char(p, false);
			return -EINVAL;
		}
		if (!scan_number(&p, &n)) {
			*ret_err = "number too large";
			return -EINVAL;
		}
		if (!is_alpha(*p)) {
			*ret_err =
			    *p ? dur_bad_char(p, true)
			       : "missing unit after the number (e.g. 5m; use ms, s, m, h, d or w)";
			return -EINVAL;
		}
		const char *u = p;
		while (is_alpha(*p))
			p++;
		size_t len = (size_t)(p - u), rank;
		for (rank = 0; rank < sizeof(dur_units) / sizeof(dur_units[0]); rank++)
			if (strlen(dur_units[rank].name) == len &&
			    memcmp(dur_units[rank].name, u, len) == 0)
				break;
		if (rank == sizeof(dur_units) / sizeof(dur_units[0])) {
			*ret_err = dur_unknown_unit(u, len);
			return -EINVAL;
		}
		if (rank + 1 == next_rank) {
			*ret_err = "a unit appears twice (write each unit once, e.g. 1h30m)";
			return -EINVAL;
		}
		if (rank < next_rank) {
			*ret_err =
			    "units out of order (write the largest first, e.g. 1h30m, not 30m1h)";
			return -EINVAL;
		}
		next_rank = rank + 1;
		uint64_t unit = (uint64_t)dur_units[rank].ms;
		if (n > (uint64_t)INT64_MAX / unit || (int64_t)(n * unit) > INT64_MAX - total) {
			*ret_err = "number too large (the duration does not fit in 64 bits of "
				   "milliseconds)";
			return -EINVAL;
		}
		total += (int64_t)(n * unit);
	}
	*ret_ms = total;
	return 0;
}

char *duration_format(int64_t ms, char *buf, size_t size)
{
	char tmp[96];
	size_t len = 0;
	uint64_t v = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;

	if (!size)
		return buf;
	if (ms < 0)
		tmp[len++] = '-';
	if (v == 0) {
		tmp[len++] = '0';
		tmp[len++] = 's';
	}
	for (size_t i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]) && v; i++) {
		uint64_t unit = (uint64_t)dur_units[i].ms, n = v / unit;
		if (!n)
			continue;
		v -= n * unit;
		len += (size_t)snprintf(tmp + len, sizeof(tmp) - len, "%llu%s",
					(unsigned long long)n, dur_units[i].name);
	}
	tmp[len] = '\0';
	snprintf(buf, size, "%s", tmp);
	return buf;
}

static const char size_units[] = "KMGT";

int size_parse(const char *s, uint64_t *ret_bytes, const char **ret_err)
{
	const char *p = s;
	uint64_t n;
	unsigned shift = 0;

	if (!s || !*s) {
		*ret_err = "empty size (write e.g. 512M, 50G or a number of bytes)";
		return -EINVAL;
	}
	if (!is_digit(*p)) {
		if (is_space(*p))
			*ret_err = "whitespace is not allowed in a size (write e.g. 512M)";
		else if (*p == '-')
			*ret_err = "a size cannot be negative";
		else if (*p == '+')
			*ret_err = "a size takes no sign (write e.g. 512M)";
		else
			*ret_err = "missing number in size (write e.g. 512M, 50G or 1T)";
		return -EINVAL;
	}
	if (!scan_number(&p, &n)) {
		*ret_err = "number too large";
		return -EINVAL;
	}
	if (*p) {
		const char *u = strchr(size_units, *p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
		if (u && *p != 'B') {
			shift = 10 * (unsigned)(u - size_units + 1);
			p++;
			if (*p == 'i' || *p == 'I')
				p++;
		}
		if (*p == 'B' || *p == 'b')
			p++;
		if (*p) {
			if (is_space(*p))
				*ret_err = "whitespace is not allowed in a size (write e.g. 512M)";
			else if (*p == '.' || *p == ',')
				*ret_err =
				    "fractions are not allowed in a size (write 1536M, not 1.5G)";
			else
				*ret_err = "unknown size unit (use K, M, G or T, e.g. 512M or 50G; "
					   "units are powers of 1024)";
			return -EINVAL;
		}
	}
	if (shift && n > (UINT64_MAX >> shift)) {
		*ret_err = "number too large (the size does not fit in 64 bits)";
		return -EINVAL;
	}
	*ret_bytes = n << shift;
	return 0;
}

char *size_format(uint64_t bytes, char *buf, size_t size)
{
	unsigned i = 4;

	if (!size)
		return buf;
	while (i > 0 && (bytes == 0 || (bytes & ((1ULL << (10 * i)) - 1)) != 0))
		i--;
	if (i == 0)
		snprintf(buf, size, "%llu", (unsigned long long)bytes);
	else
		snprintf(buf, size, "%llu%c", (unsigned long long)(bytes >> (10 * i)),
			 size_units[i - 1]);
	return buf;
}

char *size_human(uint64_t bytes, char *buf, size_t size)
{
	unsigned i = 0;
	while (i < 4 && bytes >= (1ULL << (10 * (i + 1))))
		i++;
	if (i == 0 || (bytes & ((1ULL << (10 * i)) - 1)) == 0)
		return size_format(bytes, buf, size);
	double v = (double)bytes / (double)(1ULL << (10 * i));
	snprintf(buf, size, v < 10 ? "%.2f%c" : v < 100 ? "%.1f%c" : "%.0f%c", v, size_units[i - 1]);
	return buf;
}

char *cpu_format(int64_t milli, char *buf, size_t size)
{
	if (milli % 1000 == 0)
		snprintf(buf, size, "%lld", (long long)(milli / 1000));
	else
		snprintf(buf, size, "%.3g", (double)milli / 1000.0);
	return buf;
}
