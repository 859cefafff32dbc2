/*
 * mask.h - replace every occurrence of a secret in a log line with `***`.
 *
 * The supervisor is given the secret values a task can see (secret variables, connection
 * passwords) and masks each line of the task's output before it is written to the attempt's
 * log, so that a secret never reaches the disk, the API or a browser.
 *
 * Which bytes go: every byte inside any occurrence of any secret, and each maximal run of such
 * bytes becomes one `***`. Overlapping secrets ("abcd" and "cdef" in "abcdef") and adjacent
 * ones ("abcd" then "wxyz") become a single `***`, so no part of any secret survives, whichever
 * secret a match is attributed to, and the output never says how many secrets were there.
 *
 * Which secrets count: those of at least AUTH_MASK_MIN (4) bytes. A shorter value ("1", "yes",
 * "dev") would turn every line into asterisks and protect nothing. A secret with line breaks
 * (a PEM key) is masked line by line: each of its lines of 4 bytes or more is a secret of its
 * own, since the log is masked one line at a time. Secrets are matched byte for byte, so a
 * secret that is valid UTF-8 only ever matches whole characters of a UTF-8 line (UTF-8 is
 * self-synchronising) and a masked UTF-8 line stays valid UTF-8. Forms the task may derive
 * (URL-encoded, base64, JSON-escaped) are not recognised: add them as secrets of their own.
 *
 * How: an Aho-Corasick automaton over all secrets (a trie with failure links, each state
 * knowing the longest secret that ends there), so a line costs one pass over its bytes
 * whatever the number of secrets, plus work per match. The shallow states, where a scan spends
 * nearly all its time, have a full row of transitions per byte class (up to
 * AUTH_MASK_DENSE_BYTES, 512 KiB, per automaton); deeper states keep sorted edges. Memory is
 * otherwise about 20 bytes per byte of secret. Built once per attempt, read-only afterwards,
 * so threads may share it. Measured with bench/bench_auth.c on this 2-core machine, 100
 * secrets of 8-32 characters, 200-byte lines: 1.6-1.7 million lines/s (320-340 MB/s) when no
 * secret occurs, 1.2 million lines/s with two in every line, 1.4-1.75 million lines/s when all
 * 100 secrets share a 19-byte prefix that every line holds 4 times (the case that makes naive
 * per-secret matching slow); building the automaton takes 0.7 ms (bench/README.md).
 *
 * The output is never longer than the input (`***` is 3 bytes, a secret at least 4), so lines
 * are masked in place.
 */
#ifndef GUST_AUTH_MASK_H
#define GUST_AUTH_MASK_H

#include <stddef.h>

#define AUTH_MASK_MIN 4
#define AUTH_MASK_TEXT "***"
/* The dense transition table's budget (see mask.c). */
#define AUTH_MASK_DENSE_BYTES (512 * 1024)

struct auth_mask;

/* An automaton for `n` NUL-terminated secrets (duplicates and short ones allowed: duplicates
 * count once, short ones are ignored). Never NULL. */
struct auth_mask *auth_mask_new(const char *const *secrets, size_t n);
/* The same with another budget for the dense table (at least the root's row): tests use a tiny
 * one so that matching goes through the sparse states too. */
struct auth_mask *auth_mask_new_sized(const char *const *secrets, size_t n, size_t dense_bytes);
void auth_mask_free(struct auth_mask *m);
/* Distinct secrets (pieces, for multi-line ones) being masked, and the pieces ignored as too
 * short: the supervisor may note "2 secrets are too short to be masked" in the log. */
size_t auth_mask_count(const struct auth_mask *m);
size_t auth_mask_ignored(const struct auth_mask *m);

/* Mask `len` bytes at `line` in place (any bytes, NULs included). Returns the number of
 * `***` written; the new length goes to *ret_len (== len when nothing matched). `m` may be
 * NULL: nothing to mask. */
size_t auth_mask_line(const struct auth_mask *m, char *line, size_t len, size_t *ret_len);

#endif
