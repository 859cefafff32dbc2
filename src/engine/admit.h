/*
 * admit.h - admission control: which waiting task instances may start now, and why the others
 * wait. Pure: no clock, no processes; the host's disk is read through a callback.
 *
 * The caller (the server) registers every ready task instance with admit_add(), asks
 * admit_next() for the next one to start until it answers ADMIT_NONE, and gives back what an
 * attempt held with admit_release() when it ends. An instance handed out by admit_next() holds
 * its pool slots, its DAG's task count, one unit of parallelism and its declared resources
 * from that moment: deciding and taking happen in one call, so two decisions never see the
 * same free slot, and the caller records the start in the same store transaction as the
 * state change it allows.
 *
 * Limits, checked in this order for a candidate:
 *   parallelism          attempts at once (queued or running), whole server
 *   max_active_tasks     per DAG, over all its runs (0: none)
 *   pool                 a named number of slots; a task takes pool_slots of its pool
 *   resources            declared cpu and memory against the host's capacity; declared disk
 *                        against the free space of the filesystem holding disk_path, minus
 *                        what running tasks declared on that filesystem
 *
 * Order (docs/admission.md): every waiting instance has a rank time
 *   rank = max(ready_at, lane's last start) - weight x ageing
 * where a lane is one DAG's waiting instances in one pool. The smallest rank starts first.
 * So a higher weight goes first, every `ageing` of waiting is worth one point of weight (no
 * priority starves another forever), and a DAG that just started a task ranks behind one that
 * has been waiting since before that (round-robin between DAGs of equal weight, so a DAG that
 * fans out 10,000 instances cannot hold a pool against the others).
 *
 * No head-of-line blocking: an instance that does not fit (pool_slots above the pool's free
 * slots, resources above what is free) is set aside and the next one is considered. Set-aside
 * instances are looked at again when what they wait for is released. Once one has waited
 * `reserve_after` since it became ready, it gets a reservation: nothing else starts in its
 * pool (pool_slots) or nothing else that declares the resources it lacks starts, until it
 * fits; the oldest such instance holds the reservation. An instance that can never fit (more
 * pool_slots than its pool has, more cpu or memory than the host, more disk than the
 * filesystem's size) is handed back at once with ADMIT_NEVER and a message.
 *
 * Cost: admit_add, admit_remove, admit_release and each instance admit_next hands out take
 * O(log n) in the number waiting, plus the set-aside instances of the pool or resources just
 * released (few: those that did not fit).
 */
#ifndef GUST_ENGINE_ADMIT_H
#define GUST_ENGINE_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct admit;

/* A filesystem as admission sees it. */
struct admit_disk {
	uint64_t free;	/* bytes available to unprivileged users now */
	uint64_t total; /* the filesystem's size */
	uint64_t fsid;	/* identifies the filesystem (st_dev); never 0 */
};

struct admit_host {
	int64_t cpu_milli; /* capacity: 1000 per core */
	uint64_t memory;   /* bytes */
	/* The filesystem holding `path`; 0 or a negative errno (then a task that needs disk
	 * there waits, and says why). */
	int (*disk)(void *ctx, const char *path, struct admit_disk *ret);
	/* Is waiting instance `id` still waiting? The caller's runs move on (cancelled, cleared)
	 * without telling; a stale id is dropped when it comes up. NULL: always. */
	bool (*valid)(void *ctx, uint64_t id);
	void *ctx;
};

struct admit_config {
	int parallelism;	  /* >= 1 */
	int64_t ageing_ms;	  /* waiting worth one point of weight; > 0 */
	int64_t reserve_after_ms; /* >= 0 */
	int64_t disk_recheck_ms;  /* how often disk waiters look again (disk frees by itself) */
};

/* What an instance takes while it runs. Strings are borrowed: they must outlive the entry
 * (the DAG's arena does). */
struct admit_need {
	uint32_t dag;	   /* admit_dag() */
	uint32_t pool;	   /* admit_pool() */
	int32_t slots;	   /* pool_slots, >= 1 */
	int64_t cpu_milli; /* 0: none declared */
	uint64_t memory;
	uint64_t disk;
	const char *disk_path; /* where disk is needed; required when disk > 0 */
};

struct admit *admit_new(const struct admit_config *cfg, const struct admit_host *host);
void admit_free(struct admit *a);
void admit_set_config(struct admit *a, const struct admit_config *cfg);

/* The index of DAG `id` (created on first use, max_active_tasks 0); sets its limit. */
uint32_t admit_dag(struct admit *a, const char *id, int32_t max_active_tasks);
/* The index of pool `name`; a pool never set with admit_pool_set() is missing: its tasks
 * wait until it exists. */
uint32_t admit_pool(struct admit *a, const char *name);
/* Define or resize a pool (slots >= 0); -1 makes it missing again. Running tasks are not
 * affected by a smaller size; they just hold slots until they end. */
void admit_pool_set(struct admit *a, uint32_t pool, int32_t slots);

/* Pools known (set or only named), by index. */
uint32_t admit_pool_count(const struct admit *a);
const char *admit_pool_name(const struct admit *a, uint32_t pool);
int32_t admit_pool_slots(const struct admit *a, uint32_t pool);

/* A ready instance waits. `id` is the caller's (never 0, unique among entries); adding an id
 * that is already known does nothing and returns false. */
bool admit_add(struct admit *a, uint64_t id, const struct admit_need *need, int64_t weight,
	       int64_t ready_at, int64_t now);
/* A waiting instance leaves (cancelled, cleared); false if `id` is not waiting. */
bool admit_remove(struct admit *a, uint64_t id);
/* An attempt that runs without having been admitted here (adopted after a restart): it holds
 * what it needs from now on, even beyond a limit. false if `id` is known. */
bool admit_hold(struct admit *a, uint64_t id, const struct admit_need *need);
/* The attempt of `id` is over: what it held is free. false if `id` is not running. */
bool admit_release(struct admit *a, uint64_t id, int64_t now);

enum admit_verdict {
	ADMIT_NONE,  /* nothing more can start now */
	ADMIT_START, /* start pick->id: it holds what it needs already */
	ADMIT_NEVER, /* pick->id can never fit: fail it with pick->why; it is forgotten */
};

struct admit_pick {
	uint64_t id;
	char why[256];
};

enum admit_verdict admit_next(struct admit *a, int64_t now, struct admit_pick *ret);

/* The next instant admit_next may have something new to say without any call in between
 * (a reservation due, disk to look at again), or INT64_MAX. */
int64_t admit_next_wakeup(const struct admit *a);

/* Counts, for listings and tests. */
struct admit_stats {
	size_t waiting; /* in lanes, set aside, or holding a reservation */
	size_t running; /* holding what they need */
	size_t set_aside;
	size_t reservations;
};
void admit_stats(const struct admit *a, struct admit_stats *ret);
/* What admission decided since admit_new (metrics): instances handed out to start, instances
 * that can never fit, and how often each limit held one back. A hold is counted each time
 * admit_next met it: parallelism once per call that stopped at it with instances waiting,
 * max_active_tasks once per lane it blocked, pool and resources once per instance set aside
 * (more pool_slots than its pool has free; an instance short of both cpu and memory counts
 * for each). A full pool is not looked at, so it counts no hold: its instances wait (see
 * admit_pool_stats). */
enum admit_hold {
	ADMIT_HOLD_PARALLELISM,
	ADMIT_HOLD_MAX_ACTIVE_TASKS,
	ADMIT_HOLD_POOL,
	ADMIT_HOLD_CPU,
	ADMIT_HOLD_MEMORY,
	ADMIT_HOLD_DISK,
	ADMIT_HOLD__COUNT,
};
struct admit_counts {
	uint64_t started, never;
	uint64_t held[ADMIT_HOLD__COUNT];
};
void admit_counts(const struct admit *a, struct admit_counts *ret);
const char *admit_hold_name(enum admit_hold h);

/* One pool now: instances waiting in it, slots used and its size (-1: missing), and the
 * instances admitted from it since admit_new with their waits (ready to admitted) summed. */
struct admit_pool_stats {
	size_t waiting;
	int64_t used;
	int32_t slots;
	uint64_t started;
	int64_t waited_ms;
};
void admit_pool_stats(const struct admit *a, uint32_t pool, struct admit_pool_stats *ret);

/* Slots held in pool / active instances of DAG. */
int64_t admit_pool_used(const struct admit *a, uint32_t pool);
int32_t admit_dag_active(const struct admit *a, uint32_t dag);

/* One line on where waiting instance `id` stands: set aside (for what, with numbers), holding
 * a reservation, or in line in its pool. Empty if `id` is not waiting. */
void admit_explain(struct admit *a, uint64_t id, int64_t now, struct buf *out);

/* Reservations held now: ids and what they reserve ("pool 'x'" or "cpu, disk on /data"),
 * written to `out` one per line as "ID\tWHAT\tSINCE_MS". */
void admit_reservations(const struct admit *a, struct buf *out);

#endif
