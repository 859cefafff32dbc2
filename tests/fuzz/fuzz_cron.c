/*
 * fuzz_cron.c - libFuzzer target for cron/cron and cron/tz.
 *
 * Input: byte 0 picks a zone, bytes 1-8 are `after` (little-endian; unless byte 0 has bit 7 set,
 * values outside years 1-9999 are folded into 1900-2300), the rest is the expression (hash key
 * "fuzz"). Checks:
 *   - a rejected expression leaves *ret alone and reports an offset inside the text and a message;
 *   - an accepted one describes itself in a form that parses back to the same description;
 *   - fire times strictly increase, each is the next fire after the instant before it, and an
 *     expression that cannot fire never does;
 *   - cron_prev() of a fire time is at or before the instant it was computed from, and its
 *     next fire is that fire time again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cron/cron.h"
#include "cron/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const zones[] = {
    NULL,	    "Europe/Berlin",  "America/New_York",  "Australia/Lord_Howe",
    "Pacific/Apia", "Asia/Kathmandu", "America/Sao_Paulo", "Pacific/Chatham"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 9 || size > 4096)
		return 0;
	struct tz *tz = NULL;
	const char *zname = zones[data[0] % (sizeof(zones) / sizeof(zones[0]))];
	if (zname && tz_open(zname, &tz) < 0)
		abort();
	uint64_t raw = 0;
	for (int i = 0; i < 8; i++)
		raw |= (uint64_t)data[1 + i] << (8 * i);
	int64_t after = (int64_t)raw;
	/* Unless bit 7 of byte 0 asks for raw values, fold into years 1900-2300. */
	if (!(data[0] & 0x80) && (after < TZ_MIN_MS || after > TZ_MAX_MS))
		after = -2208988800000LL + (int64_t)(raw % 12623040000000ULL);

	size_t n = size - 9;
	char *expr = malloc(n + 1);
	memcpy(expr, data + 9, n);
	expr[n] = '\0';

	struct cron *c = (struct cron *)&zones; /* sentinel: must stay untouched on failure */
	struct cron_error err;
	int r = cron_parse(expr, "fuzz", &c, &err);
	if (r < 0) {
		if (c != (struct cron *)&zones || err.offset > strlen(expr) || !err.msg[0])
			abort();
		free(expr);
		return 0;
	}

	char d1[512], d2[512];
	size_t len = cron_describe(c, d1, sizeof(d1));
	if (len < sizeof(d1)) {
		struct cron *c2 = NULL;
		if (cron_parse(d1, NULL, &c2, &err) < 0)
			abort();
		cron_describe(c2, d2, sizeof(d2));
		if (strcmp(d1, d2) != 0)
			abort();
		cron_free(c2);
	}

	int64_t t = after;
	for (int i = 0; i < 4; i++) {
		int64_t next = cron_next(c, tz, t);
		if (next == INT64_MAX)
			break;
		if (next <= t || next > TZ_MAX_MS || !cron_can_fire(c))
			abort();
		if (cron_next(c, tz, next - 1) != next)
			abort();
		int64_t prev = cron_prev(c, tz, next);
		if (prev != INT64_MIN && (prev > t || cron_next(c, tz, prev) != next))
			abort();
		t = next;
	}
	cron_free(c);
	free(expr);
	return 0;
}
