/*
 * admit.c - admission control (see admit.h for the rules).
 *
 * Structures: an entry per waiting or running instance (found by id in `entries`); a lane per
 * (pool, DAG) holding its waiting entries in a heap by (weight-aged ready time, seq); a pool
 * holds its lanes in a heap by lane rank; the admitter holds the pools that have a free slot
 * and a lane in a heap by their best lane's rank. The next candidate is therefore the top of
 * the top, and every change re-sorts one path: O(log n).
 *
 * A lane whose DAG is at max_active_tasks leaves its pool's heap and waits on the DAG's list
 * until one of the DAG's tasks ends. An entry that does not fit its pool's free slots waits on
 * the pool's `wide` list, one short of resources on the admitter's `res` list; both lists go
 * back into their lanes when what they wait for is released. Reservers (admit.h) sit outside
 * lanes and are tried before anything else.
 */
#include "engine/admit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"
#include "base/strmap.h"
#include "base/u64map.h"
#include "base/util.h"

enum where { W_LANE, W_WIDE, W_RES, W_RESERVER, W_RUNNING };
enum kind { K_CPU = 1, K_MEM = 2, K_DISK = 4 };

struct entry {
	uint64_t id;
	struct admit_need need;
	int64_t weight, ready_at, key; /* key = ready_at - weight x ageing */
	uint64_t seq;
	struct lane *lane;
	int32_t pos; /* in the lane's heap, or in the wide/res list */
	enum where where;
	uint64_t fsid;	/* running: the filesystem its disk is held on */
	unsigned lacks; /* reserver for resources: the kinds it lacked */
	uint64_t lacks_fsid;
	int64_t since; /* reserver: when the reservation began */
};

struct pheap {
	void **v;
	uint32_t n;
	size_t cap;
};

struct lane {
	struct pool *pool;
	struct dagc *dag;
	struct pheap heap; /* of struct entry */
	int64_t vtime;	   /* not before: pushed one ageing step past `now` at each start */
	int64_t rank;	   /* lane_rank() while it has entries, kept by lane_sync(), so that */
	uint64_t head_seq; /* comparing lanes and pools never reads an entry (cache misses) */
	int32_t pos;	   /* in the pool's heap; -1 when out */
	bool blocked;
};

struct pool {
	char *name;
	int32_t slots; /* -1: missing */
	int64_t used;
	size_t waiting;
	uint64_t started;  /* instances admitted from it, and */
	int64_t waited_ms; /* their waits added up (ready to admitted) */
	struct pheap lanes;
	struct entry **wide;
	uint32_t n_wide;
	size_t cap_wide;
	struct entry *reserver;
	int32_t pos; /* in the admitter's heap; -1 when out */
};

struct dagc {
	char *id;
	int32_t limit, active;
	struct lane **blocked;
	uint32_t n_blocked;
	size_t cap_blocked;
};

struct disk_held {
	uint64_t fsid, bytes;
};

struct admit {
	struct admit_config cfg;
	struct admit_host host;
	struct strmap dag_map, pool_map;
	struct dagc **dags;
	uint32_t n_dags;
	size_t cap_dags;
	struct pool **pools;
	uint32_t n_pools;
	size_t cap_pools;
	struct u64map lanes;   /* (pool + 1) << 32 | dag -> struct lane */
	struct u64map entries; /* id -> struct entry */
	struct pheap ready;    /* pools with a free slot and a lane */
	struct entry **res;
	uint32_t n_res;
	size_t cap_res;
	struct entry **reservers; /* pool reservers and the resource reserver */
	uint32_t n_reservers;
	size_t cap_reservers;
	struct entry *res_reserver;
	bool res_dirty;
	int64_t disk_recheck_at, reserve_check_at;
	int running;
	size_t waiting, set_aside;
	int64_t cpu_used;
	uint64_t mem_used;
	struct disk_held *disk;
	size_t n_disk, cap_disk;
	uint64_t seq;
	struct admit_counts counts;
};

/* ---- arithmetic ---------------------------------------------------------------------------- */

static int64_t sat_mul(int64_t x, int64_t y)
{
	int64_t r;
	if (__builtin_mul_overflow(x, y, &r))
		return (x < 0) != (y < 0) ? INT64_MIN / 2 : INT64_MAX / 2;
	return r;
}

static int64_t sat_sub(int64_t x, int64_t y)
{
	int64_t r;
	if (__builtin_sub_overflow(x, y, &r))
		return y > 0 ? INT64_MIN : INT64_MAX;
	return r;
}

/* ---- heaps with positions ------------------------------------------------------------------ */

struct heap_ops {
	bool (*less)(const struct admit *a, const void *x, const void *y);
	int32_t *(*pos)(void *x);
};

static void heap_set(struct pheap *h, const struct heap_ops *ops, uint32_t i, void *x)
{
	h->v[i] = x;
	*ops->pos(x) = (int32_t)i;
}

static void heap_up(const struct admit *a, struct pheap *h, const struct heap_ops *ops, uint32_t i)
{
	void *x = h->v[i];
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (!ops->less(a, x, h->v[p]))
			break;
		heap_set(h, ops, i, h->v[p]);
		i = p;
	}
	heap_set(h, ops, i, x);
}

static void heap_down(const struct admit *a, struct pheap *h, const struct heap_ops *ops,
		      uint32_t i)
{
	void *x = h->v[i];
	for (;;) {
		uint32_t l = 2 * i + 1, best = i;
		void *cand = x;
		if (l < h->n && ops->less(a, h->v[l], cand))
			cand = h->v[best = l];
		if (l + 1 < h->n && ops->less(a, h->v[l + 1], cand))
			cand = h->v[best = l + 1];
		if (best == i)
			break;
		heap_set(h, ops, i, cand);
		i = best;
	}
	heap_set(h, ops, i, x);
}

static void heap_push(const struct admit *a, struct pheap *h, const struct heap_ops *ops, void *x)
{
	h->v = xrealloc_array(h->v, h->n + 1, sizeof(*h->v), &h->cap);
	h->v[h->n++] = x;
	heap_up(a, h, ops, h->n - 1);
}

static void heap_fix(const struct admit *a, struct pheap *h, const struct heap_ops *ops, uint32_t i)
{
	void *x = h->v[i];
	heap_up(a, h, ops, i);
	heap_down(a, h, ops, (uint32_t)*ops->pos(x));
}

static void heap_remove(const struct admit *a, struct pheap *h, const struct heap_ops *ops,
			uint32_t i)
{
	void *gone = h->v[i];
	void *last = h->v[--h->n];
	*ops->pos(gone) = -1;
	if (i == h->n)
		return;
	heap_set(h, ops, i, last);
	heap_up(a, h, ops, i);
	uint32_t at = (uint32_t)*ops->pos(last);
	heap_down(a, h, ops, at);
}

/* Entries in a lane: aged ready time, then arrival. */
static bool entry_less(const struct admit *a, const void *x, const void *y)
{
	(void)a;
	const struct entry *p = x, *q = y;
	return p->key != q->key ? p->key < q->key : p->seq < q->seq;
}

static int32_t *entry_pos(void *x)
{
	return &((struct entry *)x)->pos;
}

static const struct heap_ops entry_ops = {entry_less, entry_pos};

/* A lane's rank: its head's aged ready time, but not before the lane's virtual time, which
 * each start pushes one ageing step past the time of that start (start-time fair queuing). */
static int64_t lane_rank(const struct admit *a, const struct lane *l)
{
	const struct entry *h = l->heap.v[0];
	int64_t t = h->ready_at > l->vtime ? h->ready_at : l->vtime;
	return sat_sub(t, sat_mul(h->weight, a->cfg.ageing_ms));
}

static bool lane_less(const struct admit *a, const void *x, const void *y)
{
	(void)a;
	const struct lane *p = x, *q = y;
	return p->rank != q->rank ? p->rank < q->rank : p->head_seq < q->head_seq;
}

static int32_t *lane_pos(void *x)
{
	return &((struct lane *)x)->pos;
}

static const struct heap_ops lane_ops = {lane_less, lane_pos};

static bool pool_less(const struct admit *a, const void *x, const void *y)
{
	const struct pool *p = x, *q = y;
	return lane_less(a, p->lanes.v[0], q->lanes.v[0]);
}

static int32_t *pool_pos(void *x)
{
	return &((struct pool *)x)->pos;
}

static const struct heap_ops pool_ops = {pool_less, pool_pos};

/* ---- keeping the heaps true ---------------------------------------------------------------- */

static void pool_sync(struct admit *a, struct pool *p)
{
	bool want = p->slots >= 0 && p->lanes.n > 0 && !p->reserver && p->used < p->slots;
	if (want && p->pos < 0)
		heap_push(a, &a->ready, &pool_ops, p);
	else if (!want && p->pos >= 0)
		heap_remove(a, &a->ready, &pool_ops, (uint32_t)p->pos);
	else if (want)
		heap_fix(a, &a->ready, &pool_ops, (uint32_t)p->pos);
}

static void lane_sync(struct admit *a, struct lane *l)
{
	struct pool *p = l->pool;
	bool want = l->heap.n > 0 && !l->blocked;
	if (l->heap.n) {
		l->rank = lane_rank(a, l);
		l->head_seq = ((const struct entry *)l->heap.v[0])->seq;
	}
	if (want && l->pos < 0)
		heap_push(a, &p->lanes, &lane_ops, l);
	else if (!want && l->pos >= 0)
		heap_remove(a, &p->lanes, &lane_ops, (uint32_t)l->pos);
	else if (want)
		heap_fix(a, &p->lanes, &lane_ops, (uint32_t)l->pos);
	pool_sync(a, p);
}

static void lane_insert(struct admit *a, struct entry *e)
{
	e->where = W_LANE;
	heap_push(a, &e->lane->heap, &entry_ops, e);
	lane_sync(a, e->lane);
}

static void lane_take_out(struct admit *a, struct entry *e)
{
	heap_remove(a, &e->lane->heap, &entry_ops, (uint32_t)e->pos);
	lane_sync(a, e->lane);
}

static void list_add(struct entry ***v, uint32_t *n, size_t *cap, struct entry *e)
{
	*v = xrealloc_array(*v, *n + 1, sizeof(**v), cap);
	e->pos = (int32_t)*n;
	(*v)[(*n)++] = e;
}

static void list_del(struct entry **v, uint32_t *n, struct entry *e)
{
	uint32_t i = (uint32_t)e->pos;
	v[i] = v[--*n];
	v[i]->pos = (int32_t)i;
	e->pos = -1;
}

static void reservers_del(struct admit *a, struct entry *e)
{
	for (uint32_t i = 0; i < a->n_reservers; i++)
		if (a->reservers[i] == e) {
			a->reservers[i] = a->reservers[--a->n_reservers];
			break;
		}
	if (a->res_reserver == e)
		a->res_reserver = NULL;
	if (e->lane->pool->reserver == e) {
		e->lane->pool->reserver = NULL;
		pool_sync(a, e->lane->pool);
	}
}

/* Take a waiting entry out of wherever it waits. */
static void unlink_waiting(struct admit *a, struct entry *e)
{
	switch (e->where) {
	case W_LANE:
		lane_take_out(a, e);
		break;
	case W_WIDE:
		list_del(e->lane->pool->wide, &e->lane->pool->n_wide, e);
		a->set_aside--;
		break;
	case W_RES:
		list_del(a->res, &a->n_res, e);
		a->set_aside--;
		break;
	case W_RESERVER:
		reservers_del(a, e);
		break;
	case W_RUNNING:
		break;
	}
}

static void park(struct admit *a, struct entry *e, enum where w)
{
	lane_take_out(a, e);
	e->where = w;
	if (w == W_WIDE)
		list_add(&e->lane->pool->wide, &e->lane->pool->n_wide, &e->lane->pool->cap_wide, e);
	else
		list_add(&a->res, &a->n_res, &a->cap_res, e);
	a->set_aside++;
	int64_t due = e->ready_at + a->cfg.reserve_after_ms;
	if (due < a->reserve_check_at)
		a->reserve_check_at = due;
}

static void unpark_all(struct admit *a, struct entry **v, uint32_t *n)
{
	while (*n) {
		struct entry *e = v[*n - 1];
		list_del(v, n, e);
		a->set_aside--;
		lane_insert(a, e);
	}
}

static void block_lane(struct admit *a, struct lane *l)
{
	struct dagc *d = l->dag;
	l->blocked = true;
	d->blocked =
	    xrealloc_array(d->blocked, d->n_blocked + 1, sizeof(*d->blocked), &d->cap_blocked);
	d->blocked[d->n_blocked++] = l;
	lane_sync(a, l);
}

static void unblock_dag(struct admit *a, struct dagc *d)
{
	while (d->n_blocked) {
		struct lane *l = d->blocked[--d->n_blocked];
		l->blocked = false;
		lane_sync(a, l);
	}
}

/* ---- resources ----------------------------------------------------------------------------- */

static uint64_t *disk_held(struct admit *a, uint64_t fsid, bool create)
{
	for (size_t i = 0; i < a->n_disk; i++)
		if (a->disk[i].fsid == fsid)
			return &a->disk[i].bytes;
	if (!create)
		return NULL;
	a->disk = xrealloc_array(a->disk, a->n_disk + 1, sizeof(*a->disk), &a->cap_disk);
	a->disk[a->n_disk] = (struct disk_held){fsid, 0};
	return &a->disk[a->n_disk++].bytes;
}

enum fit { FIT, FIT_LATER, FIT_NEVER };

/*
 * Does `e` fit the host now? Sets *lacks to the kinds short and *fsid to its disk's
 * filesystem; writes the reason (with numbers) to why. A resource reservation held by another
 * entry counts as a shortage of what it reserves.
 */
static enum fit res_fit(struct admit *a, const struct entry *e, unsigned *lacks, uint64_t *fsid,
			char *why, size_t size)
{
	const struct admit_need *n = &e->need;
	char x[32], y[32], z[32];
	*lacks = 0;
	*fsid = 0;
	if (why && size)
		why[0] = 0;
	if (n->cpu_milli > a->host.cpu_milli) {
		snprintf(
		    why, size,
		    "declares cpu %s but the host has %s: it can never start (lower resources.cpu, "
		    "or set host.cpu in config.yaml if the machine has more)",
		    cpu_format(n->cpu_milli, x, sizeof(x)),
		    cpu_format(a->host.cpu_milli, y, sizeof(y)));
		return FIT_NEVER;
	}
	if (n->memory > a->host.memory) {
		snprintf(why, size,
			 "declares memory %s but the host has %s: it can never start (lower "
			 "resources.memory, or set host.memory in config.yaml)",
			 size_human(n->memory, x, sizeof(x)),
			 size_human(a->host.memory, y, sizeof(y)));
		return FIT_NEVER;
	}
	struct admit_disk dk = {0};
	uint64_t held = 0;
	if (n->disk) {
		int rc = a->host.disk ? a->host.disk(a->host.ctx, n->disk_path, &dk) : -ENOSYS;
		if (rc < 0) {
			snprintf(why, size, "needs disk %s on %s, which cannot be examined: %s",
				 size_human(n->disk, x, sizeof(x)), n->disk_path, strerror(-rc));
			*lacks |= K_DISK;
			return FIT_LATER;
		}
		*fsid = dk.fsid;
		if (n->disk > dk.total) {
			snprintf(why, size,
				 "declares disk %s on %s, a filesystem of %s: it can never start",
				 size_human(n->disk, x, sizeof(x)), n->disk_path,
				 size_human(dk.total, y, sizeof(y)));
			return FIT_NEVER;
		}
		uint64_t *h = disk_held(a, dk.fsid, false);
		held = h ? *h : 0;
	}
	size_t len = 0;
#define SAY(...)                                                                                   \
	do {                                                                                       \
		if (why && len < size)                                                             \
			len += (size_t)snprintf(why + len, size - len, __VA_ARGS__);               \
	} while (0)
	if (n->cpu_milli && a->cpu_used + n->cpu_milli > a->host.cpu_milli) {
		*lacks |= K_CPU;
		SAY("%sneeds cpu %s, %s of %s free", len ? "; " : "",
		    cpu_format(n->cpu_milli, x, 32),
		    cpu_format(a->host.cpu_milli - a->cpu_used, y, 32),
		    cpu_format(a->host.cpu_milli, z, 32));
	}
	if (n->memory && a->mem_used + n->memory > a->host.memory) {
		*lacks |= K_MEM;
		SAY("%sneeds memory %s, %s of %s free", len ? "; " : "",
		    size_human(n->memory, x, 32), size_human(a->host.memory - a->mem_used, y, 32),
		    size_human(a->host.memory, z, 32));
	}
	if (n->disk) {
		uint64_t avail = dk.free > held ? dk.free - held : 0;
		if (avail < n->disk) {
			*lacks |= K_DISK;
			SAY("%sneeds disk %s on %s, %s free after running tasks' reservations",
			    len ? "; " : "", size_human(n->disk, x, 32), n->disk_path,
			    size_human(avail, y, 32));
		}
	}
	const struct entry *r = a->res_reserver;
	if (!*lacks && r && r != e) {
		unsigned clash = 0;
		if ((r->lacks & K_CPU) && n->cpu_milli)
			clash |= K_CPU;
		if ((r->lacks & K_MEM) && n->memory)
			clash |= K_MEM;
		if ((r->lacks & K_DISK) && n->disk && dk.fsid == r->lacks_fsid)
			clash |= K_DISK;
		if (clash) {
			*lacks = clash;
			SAY("what it declares is reserved for a task waiting longer (id %" PRIu64
			    ")",
			    r->id);
		}
	}
#undef SAY
	return *lacks ? FIT_LATER : FIT;
}

/* ---- taking and giving back ---------------------------------------------------------------- */

static void hold(struct admit *a, struct entry *e, uint64_t fsid)
{
	struct pool *p = e->lane->pool;
	p->used += e->need.slots;
	e->lane->dag->active++;
	a->running++;
	a->cpu_used += e->need.cpu_milli;
	a->mem_used += e->need.memory;
	e->fsid = fsid;
	if (e->need.disk)
		*disk_held(a, fsid, true) += e->need.disk;
	e->where = W_RUNNING;
	pool_sync(a, p);
}

static void take(struct admit *a, struct entry *e, int64_t now, uint64_t fsid)
{
	unlink_waiting(a, e);
	struct pool *p = e->lane->pool;
	p->waiting--;
	a->waiting--;
	p->started++;
	p->waited_ms += now > e->ready_at ? now - e->ready_at : 0;
	a->counts.started++;
	struct lane *l = e->lane;
	l->vtime = (l->vtime > now ? l->vtime : now) + a->cfg.ageing_ms;
	hold(a, e, fsid);
	lane_sync(a, l); /* its rank moved with vtime */
}

static void forget(struct admit *a, struct entry *e)
{
	u64map_del(&a->entries, e->id);
	free(e);
}

static void drop_waiting(struct admit *a, struct entry *e)
{
	unlink_waiting(a, e);
	e->lane->pool->waiting--;
	a->waiting--;
	forget(a, e);
}

/* ---- reservations -------------------------------------------------------------------------- */

static void make_reserver(struct admit *a, struct entry *e, int64_t now)
{
	e->where = W_RESERVER;
	e->since = now;
	a->reservers = xrealloc_array(a->reservers, a->n_reservers + 1, sizeof(*a->reservers),
				      &a->cap_reservers);
	a->reservers[a->n_reservers++] = e;
}

/* The oldest overdue entry of a list, or NULL; *next gets the earliest deadline not yet due. */
static struct entry *overdue(struct admit *a, struct entry **v, uint32_t n, int64_t now,
			     int64_t *next)
{
	struct entry *best = NULL;
	for (uint32_t i = 0; i < n; i++) {
		int64_t due = v[i]->ready_at + a->cfg.reserve_after_ms;
		if (due > now) {
			if (due < *next)
				*next = due;
		} else if (!best || entry_less(a, v[i], best)) {
			best = v[i];
		}
	}
	return best;
}

static void choose_reservers(struct admit *a, int64_t now)
{
	int64_t next = INT64_MAX;
	for (uint32_t i = 0; i < a->n_pools; i++) {
		struct pool *p = a->pools[i];
		if (p->reserver || !p->n_wide)
			continue;
		struct entry *e = overdue(a, p->wide, p->n_wide, now, &next);
		if (e) {
			list_del(p->wide, &p->n_wide, e);
			a->set_aside--;
			p->reserver = e;
			make_reserver(a, e, now);
			pool_sync(a, p);
		}
	}
	if (!a->res_reserver && a->n_res) {
		struct entry *e = overdue(a, a->res, a->n_res, now, &next);
		if (e) {
			list_del(a->res, &a->n_res, e);
			a->set_aside--;
			uint64_t fsid;
			res_fit(a, e, &e->lacks, &fsid, NULL, 0);
			e->lacks_fsid = fsid;
			a->res_reserver = e;
			make_reserver(a, e, now);
			if ((e->lacks & K_DISK) && a->disk_recheck_at == INT64_MAX)
				a->disk_recheck_at = now + a->cfg.disk_recheck_ms;
		}
	}
	a->reserve_check_at = next;
}

/* ---- the public face ------------------------------------------------------------------------ */

struct admit *admit_new(const struct admit_config *cfg, const struct admit_host *host)
{
	struct admit *a = xcalloc(1, sizeof(*a));
	a->cfg = *cfg;
	a->host = *host;
	strmap_init(&a->dag_map);
	strmap_init(&a->pool_map);
	u64map_init(&a->lanes);
	u64map_init(&a->entries);
	a->disk_recheck_at = a->reserve_check_at = INT64_MAX;
	return a;
}

void admit_set_config(struct admit *a, const struct admit_config *cfg)
{
	a->cfg = *cfg;
}

void admit_free(struct admit *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->entries.cap; i++)
		if (a->entries.slots && a->entries.slots[i].key)
			free(a->entries.slots[i].value);
	for (size_t i = 0; i < a->lanes.cap; i++)
		if (a->lanes.slots && a->lanes.slots[i].key) {
			struct lane *l = a->lanes.slots[i].value;
			free(l->heap.v);
			free(l);
		}
	for (uint32_t i = 0; i < a->n_pools; i++) {
		free(a->pools[i]->name);
		free(a->pools[i]->lanes.v);
		free(a->pools[i]->wide);
		free(a->pools[i]);
	}
	for (uint32_t i = 0; i < a->n_dags; i++) {
		free(a->dags[i]->id);
		free(a->dags[i]->blocked);
		free(a->dags[i]);
	}
	free(a->pools);
	free(a->dags);
	free(a->ready.v);
	free(a->res);
	free(a->reservers);
	free(a->disk);
	strmap_free(&a->dag_map);
	strmap_free(&a->pool_map);
	u64map_free(&a->lanes);
	u64map_free(&a->entries);
	free(a);
}

uint32_t admit_dag(struct admit *a, const char *id, int32_t max_active_tasks)
{
	uint32_t k;
	if (!strmap_get(&a->dag_map, id, &k)) {
		struct dagc *d = xcalloc(1, sizeof(*d));
		d->id = xstrdup(id);
		k = a->n_dags;
		a->dags = xrealloc_array(a->dags, a->n_dags + 1, sizeof(*a->dags), &a->cap_dags);
		a->dags[a->n_dags++] = d;
		strmap_put(&a->dag_map, d->id, k, NULL);
	}
	struct dagc *d = a->dags[k];
	d->limit = max_active_tasks;
	if (d->n_blocked && (!d->limit || d->active < d->limit))
		unblock_dag(a, d);
	return k;
}

uint32_t admit_pool(struct admit *a, const char *name)
{
	uint32_t k;
	if (strmap_get(&a->pool_map, name, &k))
		return k;
	struct pool *p = xcalloc(1, sizeof(*p));
	p->name = xstrdup(name);
	p->slots = -1;
	p->pos = -1;
	k = a->n_pools;
	a->pools = xrealloc_array(a->pools, a->n_pools + 1, sizeof(*a->pools), &a->cap_pools);
	a->pools[a->n_pools++] = p;
	strmap_put(&a->pool_map, p->name, k, NULL);
	return k;
}

void admit_pool_set(struct admit *a, uint32_t pool, int32_t slots)
{
	struct pool *p = a->pools[pool];
	p->slots = slots;
	unpark_all(a, p->wide, &p->n_wide); /* a bigger pool may fit them now */
	pool_sync(a, p);
}

uint32_t admit_pool_count(const struct admit *a)
{
	return a->n_pools;
}

const char *admit_pool_name(const struct admit *a, uint32_t pool)
{
	return a->pools[pool]->name;
}

int32_t admit_pool_slots(const struct admit *a, uint32_t pool)
{
	return a->pools[pool]->slots;
}

static struct lane *lane_of(struct admit *a, uint32_t pool, uint32_t dag)
{
	uint64_t key = (uint64_t)(pool + 1) << 32 | dag;
	struct lane *l = u64map_get(&a->lanes, key);
	if (!l) {
		l = xcalloc(1, sizeof(*l));
		l->pool = a->pools[pool];
		l->dag = a->dags[dag];
		l->pos = -1;
		l->vtime = INT64_MIN;
		u64map_put(&a->lanes, key, l);
	}
	return l;
}

static struct entry *entry_new(struct admit *a, uint64_t id, const struct admit_need *need)
{
	if (!id || u64map_get(&a->entries, id) || need->pool >= a->n_pools ||
	    need->dag >= a->n_dags)
		return NULL;
	struct entry *e = xcalloc(1, sizeof(*e));
	e->id = id;
	e->need = *need;
	if (e->need.slots < 1)
		e->need.slots = 1;
	e->lane = lane_of(a, need->pool, need->dag);
	e->pos = -1;
	u64map_put(&a->entries, id, e);
	return e;
}

bool admit_add(struct admit *a, uint64_t id, const struct admit_need *need, int64_t weight,
	       int64_t ready_at, int64_t now)
{
	(void)now;
	struct entry *e = entry_new(a, id, need);
	if (!e)
		return false;
	e->weight = weight;
	e->ready_at = ready_at;
	e->key = sat_sub(ready_at, sat_mul(weight, a->cfg.ageing_ms));
	e->seq = ++a->seq;
	e->lane->pool->waiting++;
	a->waiting++;
	lane_insert(a, e);
	return true;
}

bool admit_remove(struct admit *a, uint64_t id)
{
	struct entry *e = u64map_get(&a->entries, id);
	if (!e || e->where == W_RUNNING)
		return false;
	drop_waiting(a, e);
	return true;
}

bool admit_hold(struct admit *a, uint64_t id, const struct admit_need *need)
{
	struct entry *e = entry_new(a, id, need);
	if (!e)
		return false;
	uint64_t fsid = 0;
	if (e->need.disk && a->host.disk) {
		struct admit_disk dk;
		if (a->host.disk(a->host.ctx, e->need.disk_path, &dk) == 0)
			fsid = dk.fsid;
	}
	hold(a, e, fsid);
	return true;
}

bool admit_release(struct admit *a, uint64_t id, int64_t now)
{
	(void)now;
	struct entry *e = u64map_get(&a->entries, id);
	if (!e || e->where != W_RUNNING)
		return false;
	struct pool *p = e->lane->pool;
	struct dagc *d = e->lane->dag;
	p->used -= e->need.slots;
	d->active--;
	a->running--;
	a->cpu_used -= e->need.cpu_milli;
	a->mem_used -= e->need.memory;
	if (e->need.disk) {
		uint64_t *h = disk_held(a, e->fsid, false);
		if (h)
			*h -= e->need.disk < *h ? e->need.disk : *h;
	}
	if (d->n_blocked && (!d->limit || d->active < d->limit))
		unblock_dag(a, d);
	unpark_all(a, p->wide, &p->n_wide);
	if (e->need.cpu_milli || e->need.memory || e->need.disk)
		a->res_dirty = true;
	pool_sync(a, p);
	forget(a, e);
	return true;
}

/* Can reserver `e` start now? Then it is taken. */
static bool try_reserver(struct admit *a, struct entry *e, int64_t now)
{
	struct pool *p = e->lane->pool;
	struct dagc *d = e->lane->dag;
	if (d->limit && d->active >= d->limit)
		return false;
	if (p->slots < 0 || p->slots - p->used < e->need.slots)
		return false;
	unsigned lacks;
	uint64_t fsid;
	if (res_fit(a, e, &lacks, &fsid, NULL, 0) != FIT)
		return false;
	take(a, e, now, fsid);
	return true;
}

static enum admit_verdict never(struct admit *a, struct entry *e, struct admit_pick *ret)
{
	ret->id = e->id;
	drop_waiting(a, e);
	a->counts.never++;
	return ADMIT_NEVER;
}

enum admit_verdict admit_next(struct admit *a, int64_t now, struct admit_pick *ret)
{
	ret->id = 0;
	ret->why[0] = 0;
	if (a->res_dirty || now >= a->disk_recheck_at) {
		a->res_dirty = false;
		a->disk_recheck_at = INT64_MAX;
		unpark_all(a, a->res, &a->n_res);
		if (a->res_reserver && (a->res_reserver->lacks & K_DISK))
			a->disk_recheck_at = now + a->cfg.disk_recheck_ms;
	}
	for (;;) {
		if (a->running >= a->cfg.parallelism) {
			if (a->waiting)
				a->counts.held[ADMIT_HOLD_PARALLELISM]++;
			return ADMIT_NONE;
		}
		if (now >= a->reserve_check_at)
			choose_reservers(a, now);
		for (uint32_t i = 0; i < a->n_reservers; i++) {
			struct entry *e = a->reservers[i];
			if (a->host.valid && !a->host.valid(a->host.ctx, e->id)) {
				drop_waiting(a, e);
				i--;
				continue;
			}
			struct pool *rp = e->lane->pool;
			if (rp->slots > 0 && e->need.slots > rp->slots) { /* the pool shrank */
				snprintf(
				    ret->why, sizeof(ret->why),
				    "needs %d slots of pool '%s', which has %d now: it can never "
				    "start",
				    e->need.slots, rp->name, rp->slots);
				return never(a, e, ret);
			}
			if (try_reserver(a, e, now)) {
				ret->id = e->id;
				return ADMIT_START;
			}
		}
		if (!a->ready.n)
			return ADMIT_NONE;
		struct pool *p = a->ready.v[0];
		struct lane *l = p->lanes.v[0];
		struct entry *e = l->heap.v[0];
		if (a->host.valid && !a->host.valid(a->host.ctx, e->id)) {
			drop_waiting(a, e);
			continue;
		}
		struct dagc *d = l->dag;
		if (d->limit && d->active >= d->limit) {
			a->counts.held[ADMIT_HOLD_MAX_ACTIVE_TASKS]++;
			block_lane(a, l);
			continue;
		}
		if (p->slots > 0 && e->need.slots > p->slots) {
			snprintf(ret->why, sizeof(ret->why),
				 "needs %d slots of pool '%s', which has %d: it can never start "
				 "(gust pools set %s %d, or lower pool_slots)",
				 e->need.slots, p->name, p->slots, p->name, e->need.slots);
			return never(a, e, ret);
		}
		if (e->need.slots > p->slots - p->used) {
			a->counts.held[ADMIT_HOLD_POOL]++;
			park(a, e, W_WIDE);
			continue;
		}
		unsigned lacks;
		uint64_t fsid;
		enum fit f = res_fit(a, e, &lacks, &fsid, ret->why, sizeof(ret->why));
		if (f == FIT_NEVER)
			return never(a, e, ret);
		if (f == FIT_LATER) {
			ret->why[0] = 0;
			if (lacks & K_CPU)
				a->counts.held[ADMIT_HOLD_CPU]++;
			if (lacks & K_MEM)
				a->counts.held[ADMIT_HOLD_MEMORY]++;
			if (lacks & K_DISK)
				a->counts.held[ADMIT_HOLD_DISK]++;
			park(a, e, W_RES);
			if ((lacks & K_DISK) && a->disk_recheck_at == INT64_MAX)
				a->disk_recheck_at = now + a->cfg.disk_recheck_ms;
			continue;
		}
		take(a, e, now, fsid);
		ret->id = e->id;
		return ADMIT_START;
	}
}

int64_t admit_next_wakeup(const struct admit *a)
{
	int64_t t = a->reserve_check_at;
	if ((a->n_res || a->res_reserver) && a->disk_recheck_at < t)
		t = a->disk_recheck_at;
	return t;
}

void admit_stats(const struct admit *a, struct admit_stats *ret)
{
	ret->waiting = a->waiting;
	ret->running = (size_t)a->running;
	ret->set_aside = a->set_aside;
	ret->reservations = a->n_reservers;
}

void admit_counts(const struct admit *a, struct admit_counts *ret)
{
	*ret = a->counts;
}

const char *admit_hold_name(enum admit_hold h)
{
	static const char *const names[ADMIT_HOLD__COUNT] = {
	    "parallelism", "max_active_tasks", "pool", "cpu", "memory", "disk",
	};
	return h < ADMIT_HOLD__COUNT ? names[h] : "?";
}

void admit_pool_stats(const struct admit *a, uint32_t pool, struct admit_pool_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (pool >= a->n_pools)
		return;
	const struct pool *p = a->pools[pool];
	ret->waiting = p->waiting;
	ret->used = p->used;
	ret->slots = p->slots;
	ret->started = p->started;
	ret->waited_ms = p->waited_ms;
}

int64_t admit_pool_used(const struct admit *a, uint32_t pool)
{
	return pool < a->n_pools ? a->pools[pool]->used : 0;
}

int32_t admit_dag_active(const struct admit *a, uint32_t dag)
{
	return dag < a->n_dags ? a->dags[dag]->active : 0;
}

void admit_explain(struct admit *a, uint64_t id, int64_t now, struct buf *out)
{
	(void)now;
	struct entry *e = u64map_get(&a->entries, id);
	if (!e || e->where == W_RUNNING)
		return;
	struct pool *p = e->lane->pool;
	struct dagc *d = e->lane->dag;
	char why[256];
	unsigned lacks;
	uint64_t fsid;
	switch (e->where) {
	case W_RESERVER:
		buf_printf(out, "holds a reservation (%s) and starts as soon as it fits",
			   p->reserver == e ? "its pool" : "the resources it lacks");
		break;
	case W_WIDE:
		buf_printf(out, "needs %d slots of pool '%s': %" PRId64 " of %d in use",
			   e->need.slots, p->name, p->used, p->slots);
		break;
	case W_RES:
		res_fit(a, e, &lacks, &fsid, why, sizeof(why));
		buf_puts(out, why[0] ? why : "its declared resources are looked at again shortly");
		break;
	default:
		if (p->slots < 0)
			buf_printf(out, "pool '%s' does not exist (gust pools set %s SLOTS)",
				   p->name, p->name);
		else if (e->lane->blocked)
			buf_printf(out, "max_active_tasks %d reached for DAG %s", d->limit, d->id);
		else if (p->reserver)
			buf_printf(
			    out, "pool '%s' is reserved for a task waiting longer (id %" PRIu64 ")",
			    p->name, p->reserver->id);
		else if (p->used >= p->slots)
			buf_printf(out, "pool '%s': %" PRId64 " of %d slots used", p->name, p->used,
				   p->slots);
		else if (a->running >= a->cfg.parallelism)
			buf_printf(out, "parallelism: %d of %d in use", a->running,
				   a->cfg.parallelism);
		else
			buf_printf(out, "in line in pool '%s' (%zu waiting)", p->name, p->waiting);
	}
}

void admit_reservations(const struct admit *a, struct buf *out)
{
	for (uint32_t i = 0; i < a->n_reservers; i++) {
		const struct entry *e = a->reservers[i];
		if (e->lane->pool->reserver == e) {
			buf_printf(out, "%" PRIu64 "\tpool '%s'\t%" PRId64 "\n", e->id,
				   e->lane->pool->name, e->since);
		} else {
			buf_printf(out, "%" PRIu64 "\t%s%s%s\t%" PRId64 "\n", e->id,
				   (e->lacks & K_CPU) ? "cpu " : "",
				   (e->lacks & K_MEM) ? "memory " : "",
				   (e->lacks & K_DISK) ? "disk" : "", e->since);
		}
	}
}
