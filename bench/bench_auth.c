/*
 * bench_auth.c - the figures quoted in src/auth's headers and docs/security.md.
 *
 *   build/bench-auth          argon2id at INTERACTIVE (gust's default) and MODERATE; API
 *                             token checks; log masking with 100 secrets on 200-byte lines
 *   build/bench-auth quick    fewer repetitions (a smoke test)
 *
 * Masking cases: (a) log-like lines with no secret in them, (b) the same lines with two
 * secrets each, (c) a bad case for naive matching: all 100 secrets share a 19-byte prefix
 * ("postgresql://etl:pw") and every line holds that prefix several times.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/mask.h"
#include "auth/password.h"
#include "auth/token.h"
#include "base/util.h"

static unsigned seed = 42;

static char rnd_char(const char *alphabet)
{
	return alphabet[(unsigned)rand_r(&seed) % strlen(alphabet)];
}

static const char B62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void bench_pwhash(const char *name, struct auth_pwcost cost, int reps)
{
	double t[16];
	char h[AUTH_PWHASH_MAX];
	const char *pw = "correct horse battery staple";
	for (int i = 0; i < reps; i++) {
		int64_t t0 = mono_us();
		if (auth_password_hash_cost(pw, strlen(pw), &cost, h) != 0)
			exit(1);
		t[i] = (double)(mono_us() - t0) / 1e3;
	}
	qsort(t, (size_t)reps, sizeof(t[0]), cmp_double);
	int64_t t0 = mono_us();
	if (auth_password_verify(h, pw, strlen(pw)) != 0)
		exit(1);
	double v = (double)(mono_us() - t0) / 1e3;
	printf("| argon2id %s (t=%llu, %zu MiB) | hash median %.0f ms (min %.0f, max %.0f), "
	       "verify %.0f ms |\n",
	       name, cost.opslimit, cost.memlimit >> 20, t[reps / 2], t[0], t[reps - 1], v);
}

static void bench_tokens(int n)
{
	struct auth_token t;
	auth_token_new(&t);
	int64_t t0 = mono_us();
	for (int i = 0; i < n; i++)
		if (auth_token_verify(t.text, AUTH_TOKEN_LEN, t.hash) != 0)
			exit(1);
	double us = (double)(mono_us() - t0) / n;
	printf("| API token check + hash + compare | %.2f us each |\n", us);
}

/* `n` lines of `len` bytes of log-like text; with `per_line` secrets pasted into each. */
static char **make_lines(int n, size_t len, char **secrets, int nsecrets, int per_line,
			 const char *filler)
{
	static const char words[] = "abcdefghijklmnopqrstuvwxyz0123456789    ";
	char **lines = xmalloc((size_t)n * sizeof(*lines));
	for (int i = 0; i < n; i++) {
		char *l = xmalloc(len + 1);
		for (size_t k = 0; k < len; k++)
			l[k] = rnd_char(words);
		l[len] = '\0';
		if (filler)
			for (size_t at = 10; at + strlen(filler) < len; at += 45)
				memcpy(l + at, filler, strlen(filler));
		for (int p = 0; p < per_line; p++) {
			const char *s = secrets[rand_r(&seed) % nsecrets];
			size_t at = (size_t)p * (len / (size_t)per_line) + 3;
			if (at + strlen(s) <= len)
				memcpy(l + at, s, strlen(s));
		}
		lines[i] = l;
	}
	return lines;
}

static void bench_mask(const char *what, char **secrets, int nsecrets, int per_line,
		       const char *filler, int n)
{
	size_t len = 200;
	int64_t t0 = mono_us();
	struct auth_mask *m = auth_mask_new((const char *const *)secrets, (size_t)nsecrets);
	double build_ms = (double)(mono_us() - t0) / 1e3;
	char **lines = make_lines(n, len, secrets, nsecrets, per_line, filler);
	char *work = xmalloc(len + 1);
	size_t runs = 0;
	t0 = mono_us();
	for (int i = 0; i < n; i++) {
		size_t out;
		memcpy(work, lines[i], len);
		runs += auth_mask_line(m, work, len, &out);
	}
	double s = (double)(mono_us() - t0) / 1e6;
	printf("| mask: %s | %.2f M lines/s (%.0f MB/s), %.2f masked per line; build %.3f ms |\n",
	       what, n / s / 1e6, n * (double)len / s / 1e6, (double)runs / n, build_ms);
	for (int i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	free(work);
	auth_mask_free(m);
}

int main(int argc, char **argv)
{
	int quick = argc > 1 && strcmp(argv[1], "quick") == 0;
	printf("| what | figure |\n|---|---|\n");
	bench_pwhash("INTERACTIVE", auth_pwcost_default(), quick ? 1 : 7);
	struct auth_pwcost moderate = {3, 256u << 20};
	bench_pwhash("MODERATE", moderate, quick ? 1 : 3);
	bench_tokens(quick ? 10000 : 200000);

	enum { NS = 100 };
	char *secrets[NS], *shared[NS];
	for (int i = 0; i < NS; i++) {
		size_t sl = 8 + (size_t)rand_r(&seed) % 25;
		secrets[i] = xmalloc(sl + 1);
		for (size_t k = 0; k < sl; k++)
			secrets[i][k] = rnd_char(B62);
		secrets[i][sl] = '\0';
		shared[i] = xasprintf("postgresql://etl:pw%c%c%c%c", rnd_char(B62), rnd_char(B62),
				      rnd_char(B62), rnd_char(B62));
	}
	int n = quick ? 20000 : 1000000;
	bench_mask("100 secrets, 200-byte lines, no match", secrets, NS, 0, NULL, n);
	bench_mask("100 secrets, 200-byte lines, 2 matches a line", secrets, NS, 2, NULL, n);
	bench_mask("100 secrets sharing a 19-byte prefix, 4 near-misses a line", shared, NS, 0,
		   "postgresql://etl:pw", n);
	for (int i = 0; i < NS; i++) {
		free(secrets[i]);
		free(shared[i]);
	}
	return 0;
}
