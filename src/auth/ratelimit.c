/*
 * ratelimit.c - the failed-login limiter (ratelimit.h).
 *
 * A table is an array of sets of 8 entries; an entry is a key's 64-bit hash (0: free), its
 * failure count and the time of its last failure. Everything else is computed from those:
 * the time the key may try again (ready_at: last failure + the wait its count earns) and
 * whether it is forgotten (quiet for window_ms after ready_at). Nothing is ever swept: a
 * forgotten entry is simply free for the next key that lands in its set.
 */
#include "auth/ratelimit.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <string.h>

#include "auth/core.h"
#include "base/util.h"

#define WAYS 8

struct rl_entry {
	uint64_t h; /* 0: free */
	int64_t last_ms;
	uint32_t failures;
};

struct rl_table {
	struct rl_entry *e;
	size_t nsets;
};

struct auth_ratelimit {
	pthread_mutex_t lock;
	struct auth_ratelimit_config cfg;
	uint8_t hkey[crypto_shorthash_KEYBYTES];
	struct rl_table users, addrs;
};

struct auth_ratelimit_config auth_ratelimit_defaults(void)
{
	return (struct auth_ratelimit_config){
	    .free_failures = 5,
	    .base_ms = 1000,
	    .max_ms = 15 * 60 * 1000,
	    .window_ms = 15 * 60 * 1000,
	    .capacity = 4096,
	};
}

static void table_init(struct rl_table *t, size_t capacity)
{
	t->nsets = (capacity + WAYS - 1) / WAYS;
	t->e = xcalloc(t->nsets * WAYS, sizeof(*t->e));
}

struct auth_ratelimit *auth_ratelimit_new(const struct auth_ratelimit_config *cfg)
{
	if (auth_init() < 0)
		return NULL;
	struct auth_ratelimit_config c = auth_ratelimit_defaults();
	if (cfg) {
		if (cfg->free_failures)
			c.free_failures = cfg->free_failures;
		if (cfg->base_ms > 0)
			c.base_ms = cfg->base_ms;
		if (cfg->max_ms > 0)
			c.max_ms = cfg->max_ms;
		if (cfg->window_ms > 0)
			c.window_ms = cfg->window_ms;
		if (cfg->capacity)
			c.capacity = cfg->capacity;
	}
	if (c.max_ms < c.base_ms)
		c.max_ms = c.base_ms;
	struct auth_ratelimit *rl = xcalloc(1, sizeof(*rl));
	pthread_mutex_init(&rl->lock, NULL);
	rl->cfg = c;
	crypto_shorthash_keygen(rl->hkey);
	table_init(&rl->users, c.capacity);
	table_init(&rl->addrs, c.capacity);
	return rl;
}

void auth_ratelimit_free(struct auth_ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl->users.e);
	free(rl->addrs.e);
	free(rl);
}

/* --- one entry ----------------------------------------------------------------------------- */

static int64_t wait_for(const struct auth_ratelimit_config *c, uint32_t failures)
{
	if (failures < c->free_failures)
		return 0;
	uint32_t k = failures - c->free_failures;
	if (k >= 40 || c->base_ms > (c->max_ms >> k))
		return c->max_ms;
	return c->base_ms << k;
}

static int64_t ready_at(const struct auth_ratelimit_config *c, const struct rl_entry *e)
{
	return e->last_ms + wait_for(c, e->failures);
}

static bool forgotten(const struct auth_ratelimit_config *c, const struct rl_entry *e, int64_t now)
{
	return e->h == 0 || now - ready_at(c, e) >= c->window_ms;
}

/* --- keys and sets ------------------------------------------------------------------------- */

static uint64_t key_hash(const struct auth_ratelimit *rl, const void *p, size_t n)
{
	uint8_t out[crypto_shorthash_BYTES];
	crypto_shorthash(out, p, n, rl->hkey);
	uint64_t h;
	memcpy(&h, out, sizeof(h));
	return h ? h : 1;
}

static uint64_t user_hash(const struct auth_ratelimit *rl, const char *user)
{
	return key_hash(rl, user, strlen(user));
}

/* IPv4 as its 4 bytes, IPv6 as its /64, IPv4-mapped IPv6 as IPv4, anything else as text;
 * a tag byte first keeps the forms apart. */
static uint64_t addr_hash(const struct auth_ratelimit *rl, const char *addr)
{
	uint8_t k[1 + 16];
	struct in6_addr a6;
	if (inet_pton(AF_INET, addr, k + 1) == 1) {
		k[0] = 4;
		return key_hash(rl, k, 1 + 4);
	}
	if (inet_pton(AF_INET6, addr, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			k[0] = 4;
			memcpy(k + 1, a6.s6_addr + 12, 4);
			return key_hash(rl, k, 1 + 4);
		}
		k[0] = 6;
		memcpy(k + 1, a6.s6_addr, 8);
		return key_hash(rl, k, 1 + 8);
	}
	/* Not an address (a test's name, a socket path): tag 0, then the text, in a streamed
	 * keyed hash, so that nothing is allocated whatever its length. */
	crypto_generichash_state st;
	uint8_t out[8], tag = 0;
	uint64_t h;
	crypto_generichash_init(&st, rl->hkey, sizeof(rl->hkey), sizeof(out));
	crypto_generichash_update(&st, &tag, 1);
	crypto_generichash_update(&st, (const uint8_t *)addr, strlen(addr));
	crypto_generichash_final(&st, out, sizeof(out));
	memcpy(&h, out, sizeof(h));
	return h ? h : 1;
}

static struct rl_entry *set_of(const struct rl_table *t, uint64_t h)
{
	return t->e + (h % t->nsets) * WAYS;
}

static struct rl_entry *find(const struct rl_table *t, uint64_t h)
{
	struct rl_entry *s = set_of(t, h);
	for (int i = 0; i < WAYS; i++)
		if (s[i].h == h)
			return &s[i];
	return NULL;
}

/* Whether entry a should be evicted before entry b (neither forgotten). */
static bool evict_before(const struct auth_ratelimit_config *c, const struct rl_entry *a,
			 const struct rl_entry *b, int64_t now)
{
	int64_t ra = ready_at(c, a), rb = ready_at(c, b);
	bool wa = now < ra, wb = now < rb;
	if (wa != wb)
		return !wa;
	if (wa)
		return ra < rb;
	if (a->failures != b->failures)
		return a->failures < b->failures;
	return a->last_ms < b->last_ms;
}

/* The entry of h, made (fresh) when missing, replacing the best victim of its set. */
static struct rl_entry *find_or_add(const struct auth_ratelimit_config *c, struct rl_table *t,
				    uint64_t h, int64_t now)
{
	struct rl_entry *s = set_of(t, h), *victim = NULL;
	for (int i = 0; i < WAYS; i++) {
		if (s[i].h == h)
			return &s[i];
	}
	for (int i = 0; i < WAYS && !(victim && forgotten(c, victim, now)); i++) {
		if (!victim || forgotten(c, &s[i], now) || evict_before(c, &s[i], victim, now))
			victim = &s[i];
	}
	*victim = (struct rl_entry){.h = h, .last_ms = now, .failures = 0};
	return victim;
}

static int64_t entry_wait(const struct auth_ratelimit_config *c, const struct rl_table *t,
			  uint64_t h, int64_t now)
{
	const struct rl_entry *e = find(t, h);
	if (!e || forgotten(c, e, now))
		return 0;
	int64_t r = ready_at(c, e);
	return r > now ? r - now : 0;
}

static void entry_fail(const struct auth_ratelimit_config *c, struct rl_table *t, uint64_t h,
		       int64_t now)
{
	struct rl_entry *e = find_or_add(c, t, h, now);
	if (forgotten(c, e, now))
		e->failures = 0;
	if (e->failures < UINT32_MAX)
		e->failures++;
	e->last_ms = now;
}

/* --- the interface ------------------------------------------------------------------------- */

int64_t auth_ratelimit_wait_ms(struct auth_ratelimit *rl, const char *user, const char *addr,
			       int64_t now_ms)
{
	uint64_t hu = user ? user_hash(rl, user) : 0, ha = addr ? addr_hash(rl, addr) : 0;
	int64_t w = 0;
	pthread_mutex_lock(&rl->lock);
	if (hu)
		w = entry_wait(&rl->cfg, &rl->users, hu, now_ms);
	if (ha) {
		int64_t wa = entry_wait(&rl->cfg, &rl->addrs, ha, now_ms);
		w = wa > w ? wa : w;
	}
	pthread_mutex_unlock(&rl->lock);
	return w;
}

int64_t auth_ratelimit_retry_after_s(int64_t wait_ms)
{
	return wait_ms <= 0 ? 0 : (wait_ms + 999) / 1000;
}

void auth_ratelimit_failure(struct auth_ratelimit *rl, const char *user, const char *addr,
			    int64_t now_ms)
{
	uint64_t hu = user ? user_hash(rl, user) : 0, ha = addr ? addr_hash(rl, addr) : 0;
	pthread_mutex_lock(&rl->lock);
	if (hu)
		entry_fail(&rl->cfg, &rl->users, hu, now_ms);
	if (ha)
		entry_fail(&rl->cfg, &rl->addrs, ha, now_ms);
	pthread_mutex_unlock(&rl->lock);
}

void auth_ratelimit_success(struct auth_ratelimit *rl, const char *user)
{
	if (!user)
		return;
	uint64_t hu = user_hash(rl, user);
	pthread_mutex_lock(&rl->lock);
	struct rl_entry *e = find(&rl->users, hu);
	if (e)
		*e = (struct rl_entry){0};
	pthread_mutex_unlock(&rl->lock);
}

static size_t table_used(const struct rl_table *t)
{
	size_t n = 0;
	for (size_t i = 0; i < t->nsets * WAYS; i++)
		n += t->e[i].h != 0;
	return n;
}

void auth_ratelimit_usage(struct auth_ratelimit *rl, size_t *ret_users, size_t *ret_addrs,
			  size_t *ret_capacity)
{
	pthread_mutex_lock(&rl->lock);
	*ret_users = table_used(&rl->users);
	*ret_addrs = table_used(&rl->addrs);
	*ret_capacity = rl->users.nsets * WAYS;
	pthread_mutex_unlock(&rl->lock);
}
