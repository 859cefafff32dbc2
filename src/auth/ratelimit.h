/*
 * ratelimit.h - failed logins slow down, per user name and per remote address.
 *
 * Each key (a user name; an address) has a count of failures. The first `free_failures` (5)
 * cost nothing; from then on each failure makes the key wait before its next attempt, base_ms
 * (1 s) after the 5th, doubling with each further failure up to max_ms (15 min): 1, 2, 4 ...
 * 512 s, then 15 min. A key is forgotten once it has been quiet for window_ms (15 min) after its
 * wait ended: so 5 mistyped passwords cost a second's wait, and an attacker guessing one
 * account, from however many addresses, settles at one guess per 15 minutes (~100 a day). A
 * login is allowed when neither its user nor its address must wait; the answer to a refused one
 * is HTTP 429 with Retry-After = auth_ratelimit_retry_after_s().
 *
 * A successful login forgets the user's failures, not the address's: otherwise anyone with one
 * valid account could reset the address counter between guesses at other accounts. (Users
 * behind one NAT address share its counter; its waits start at 1 s.) IPv6 addresses count per
 * /64, the block one subscriber gets, so that hopping inside it does not buy fresh attempts;
 * IPv4-mapped IPv6 addresses count as the IPv4 address.
 *
 * Memory is fixed at creation: two tables (users, addresses) of `capacity` entries each (24
 * bytes an entry; default 4096, ~200 KiB in all), nothing allocated afterwards. A table is
 * 8-way set-associative: a key's set comes from a keyed hash (SipHash-2-4 with a random key
 * per limiter, crypto_shorthash), so nobody can aim keys at one set. When a new key finds its
 * set full, it replaces, in order of preference, an entry already forgotten, then the entry
 * with the fewest failures that is not waiting (oldest first), and a waiting entry only when
 * all eight are waiting (the one whose wait ends first). Keys are kept by their 64-bit hash,
 * not their text. Users and addresses live in separate tables so that a spray of addresses
 * cannot push a locked-out user out; a spray of user names evicts the never-failing or
 * barely-failing names long before a user who is waiting.
 *
 * Pure: the caller passes the time (CLOCK_MONOTONIC milliseconds in the server, a fake clock in
 * tests). Thread-safe: one mutex around each call (each is a few dozen instructions).
 */
#ifndef GUST_AUTH_RATELIMIT_H
#define GUST_AUTH_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct auth_ratelimit_config {
	unsigned free_failures; /* failures before any wait (5) */
	int64_t base_ms;	/* the wait after the last free failure (1 s), doubling after */
	int64_t max_ms;		/* the longest wait (15 min) */
	int64_t window_ms; /* quiet time after a wait after which a key is forgotten (15 min) */
	size_t capacity;   /* entries per table, rounded up to a multiple of 8 (4096) */
};

struct auth_ratelimit;

/* The defaults above. */
struct auth_ratelimit_config auth_ratelimit_defaults(void);

/* A limiter with `cfg` (NULL: the defaults; a zero field takes its default). NULL only when
 * libsodium cannot initialise. */
struct auth_ratelimit *auth_ratelimit_new(const struct auth_ratelimit_config *cfg);
void auth_ratelimit_free(struct auth_ratelimit *rl);

/* 0 when a login attempt for `user` from `addr` may go ahead at `now_ms`, else the
 * milliseconds until it may (the longer of the user's and the address's waits). Either key may
 * be NULL (not counted). Changes nothing. */
int64_t auth_ratelimit_wait_ms(struct auth_ratelimit *rl, const char *user, const char *addr,
			       int64_t now_ms);
/* Seconds for a Retry-After header: wait_ms rounded up (1 for any wait under a second). */
int64_t auth_ratelimit_retry_after_s(int64_t wait_ms);
/* Count a failed attempt against both keys. */
void auth_ratelimit_failure(struct auth_ratelimit *rl, const char *user, const char *addr,
			    int64_t now_ms);
/* A successful login: forget the user's failures (the address keeps its own, see above). */
void auth_ratelimit_success(struct auth_ratelimit *rl, const char *user);

/* Entries taken in the user and the address table (forgotten ones included until reused), and
 * the capacity of each: for tests and a metric. */
void auth_ratelimit_usage(struct auth_ratelimit *rl, size_t *ret_users, size_t *ret_addrs,
			  size_t *ret_capacity);

#endif
