/*
 * api_store.c - the store connections of the handler threads, and the compiled DAGs they
 * share (see api_int.h).
 *
 * A handler takes a connection from a free list (opening one when none is free) and gives it
 * back when it answers, so there are about as many connections as requests in flight at once
 * (the transport's four threads, plus a few), each used by one thread at a time as SQLite
 * wants. Reads on them never wait for the loop's writes (WAL).
 *
 * A stored DAG version never changes, so a compiled (dag_id, version) is shared by every
 * handler until evicted: a listing of 100 DAGs compiles each version once, not once per
 * request. At most DAGCACHE_MAX versions are kept; the least recently used one nobody holds
 * is dropped first, and one still held is freed by its last release.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/util.h"
#include "dag/dag.h"
#include "store/store.h"

#define DAGCACHE_MAX 256

struct cached_dag {
	char *dag_id;
	int64_t version;
	const struct dag *dag;
	void *hold;	    /* what ops_dags_from_store gave */
	unsigned refs;	    /* handlers holding it, plus 1 while it is in the cache */
	uint64_t last_used; /* tick of the last get */
};

struct api_dagcache {
	pthread_mutex_t mu;
	struct cached_dag **items;
	size_t n, cap;
	uint64_t tick;
};

static void cached_free(struct cached_dag *c)
{
	ops_dags_from_store.release(ops_dags_from_store.ctx, c->hold);
	free(c->dag_id);
	free(c);
}

/* Drop one reference (the caller holds mu). */
static void cached_unref(struct cached_dag *c)
{
	if (--c->refs == 0)
		cached_free(c);
}

static const struct dag *cache_get(void *ctx, struct store *st, const char *dag_id,
				   int64_t version, void **ret_hold, struct ops_err *err)
{
	struct api_dagcache *dc = ctx;
	pthread_mutex_lock(&dc->mu);
	for (size_t i = 0; i < dc->n; i++) {
		struct cached_dag *c = dc->items[i];
		if (c->version == version && strcmp(c->dag_id, dag_id) == 0) {
			c->refs++;
			c->last_used = ++dc->tick;
			pthread_mutex_unlock(&dc->mu);
			*ret_hold = c;
			return c->dag;
		}
	}
	pthread_mutex_unlock(&dc->mu);

	/* Compiled outside the lock: a big DAG takes a while, and other handlers go on. Two
	 * handlers may compile the same version at once; the second keeps its own copy
	 * uncached. */
	void *hold = NULL;
	const struct dag *d = ops_dags_from_store.get(ops_dags_from_store.ctx, st, dag_id,
						      version, &hold, err);
	if (!d)
		return NULL;
	struct cached_dag *c = xcalloc(1, sizeof(*c));
	*c = (struct cached_dag){xstrdup(dag_id), version, d, hold, 2, 0};
	pthread_mutex_lock(&dc->mu);
	c->last_used = ++dc->tick;
	bool dup = false;
	for (size_t i = 0; i < dc->n && !dup; i++)
		dup = dc->items[i]->version == version && strcmp(dc->items[i]->dag_id, dag_id) == 0;
	if (dup) {
		c->refs = 1; /* the caller's only */
	} else {
		if (dc->n == DAGCACHE_MAX) {
			size_t lru = 0;
			for (size_t i = 1; i < dc->n; i++)
				if (dc->items[i]->last_used < dc->items[lru]->last_used)
					lru = i;
			cached_unref(dc->items[lru]);
			dc->items[lru] = dc->items[--dc->n];
		}
		dc->items = xrealloc_array(dc->items, dc->n + 1, sizeof(*dc->items), &dc->cap);
		dc->items[dc->n++] = c;
	}
	pthread_mutex_unlock(&dc->mu);
	*ret_hold = c;
	return d;
}

static void cache_release(void *ctx, void *hold)
{
	struct api_dagcache *dc = ctx;
	pthread_mutex_lock(&dc->mu);
	cached_unref(hold);
	pthread_mutex_unlock(&dc->mu);
}

int api_stores_init(struct api *a)
{
	pthread_mutex_init(&a->stores_mu, NULL);
	a->dags = xcalloc(1, sizeof(*a->dags));
	pthread_mutex_init(&a->dags->mu, NULL);
	a->dags_ops = (struct ops_dags){cache_get, cache_release, a->dags};
	return 0;
}

void api_stores_free(struct api *a)
{
	for (size_t i = 0; i < a->n_free; i++)
		store_close(a->free_stores[i]);
	free(a->free_stores);
	pthread_mutex_destroy(&a->stores_mu);
	if (a->dags) {
		for (size_t i = 0; i < a->dags->n; i++)
			cached_unref(a->dags->items[i]);
		free(a->dags->items);
		pthread_mutex_destroy(&a->dags->mu);
		free(a->dags);
	}
}

static struct store *store_take(struct api *a, char **ret_msg)
{
	struct store *st = NULL;
	pthread_mutex_lock(&a->stores_mu);
	if (a->n_free)
		st = a->free_stores[--a->n_free];
	pthread_mutex_unlock(&a->stores_mu);
	if (st)
		return st;
	if (store_open(a->opts.store_url, &st, ret_msg) < 0)
		return NULL;
	/* A reader never waits on the loop's writes (WAL); a handler's own small writes
	 * (sessions, audit) wait at most this long for the lock. */
	store_set_busy_timeout(st, 2000);
	return st;
}

struct store *api_store_try(struct api *a)
{
	char *msg = NULL;
	struct store *st = store_take(a, &msg);
	free(msg);
	return st;
}

struct store *api_store_get(struct api *a, struct http_resp *rs)
{
	char *msg = NULL;
	struct store *st = store_take(a, &msg);
	if (st)
		return st;
	if (a->opts.log) {
		char *line = xasprintf("http: cannot open the store for a request: %s",
				       msg ? msg : "?");
		a->opts.log(line);
		free(line);
	}
	free(msg);
	http_error(rs, 503, "the store cannot be opened now; try again");
	return NULL;
}

void api_store_put(struct api *a, struct store *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&a->stores_mu);
	a->free_stores = xrealloc_array(a->free_stores, a->n_free + 1, sizeof(*a->free_stores),
					&a->cap_free);
	a->free_stores[a->n_free++] = st;
	pthread_mutex_unlock(&a->stores_mu);
}

int64_t api_now(const struct api *a)
{
	return wall_ms() + a->opts.clock_offset_ms;
}

struct ops_ctx api_ctx(struct api *a, struct store *st)
{
	return (struct ops_ctx){.st = st, .now = api_now(a), .dags = &a->dags_ops};
}
