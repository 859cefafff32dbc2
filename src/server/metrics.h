/*
 * metrics.h - what GET /metrics tells about the server (docs/metrics.md), kept so that the
 * HTTP thread that renders it never waits on the loop and the loop never waits on it.
 *
 * Three kinds of value:
 *   - histograms (loop turn, store commit) and the task start counter: atomics the loop adds
 *     to as things happen (base/prom.h);
 *   - counts the loop keeps in its own memory (task instances of the runs in memory by state,
 *     from each step's changed instances: O(changes), never a scan of all instances; ends since
 *     start): plain integers, loop only;
 *   - a snapshot the loop publishes at the end of a turn (metrics_publish; at most every
 *     METRICS_PUBLISH_MS): those counts, the runs in memory by state, admission's decisions
 *     and pools, supervisors alive, DAG files. The time of the last turn is an atomic stored
 *     every turn.
 *     The loop takes the snapshot's mutex only with trylock: while a scrape copies it the
 *     loop skips publishing that turn (the next turn publishes; the loop turns at least every
 *     250 ms). A scrape holds the mutex only to copy.
 * Nothing here reads the store: a scrape costs the same whatever the history holds.
 */
#ifndef GUST_SERVER_METRICS_H
#define GUST_SERVER_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/prom.h"
#include "engine/admit.h"
#include "engine/run.h"

struct metrics_pool {
	char *name;
	struct admit_pool_stats st;
};

/* What the loop publishes each turn. */
struct metrics_snap {
	uint64_t runs[RUN__COUNT];	 /* runs in memory: queued and running */
	uint64_t runs_ended[RUN__COUNT]; /* since start: success, failed, cancelled */
	int64_t tis[TI__COUNT];		 /* instances of the runs in memory */
	uint64_t tis_ended[TI__COUNT];	 /* since start: instances that reached a final state */
	struct admit_counts adm;
	uint64_t supervisors; /* attempts whose supervisor runs (started or adopted) */
	uint64_t dag_files, dag_broken;
	struct metrics_pool *pools;
	size_t n_pools, cap_pools;
};

struct metrics {
	struct prom_hist loop_turn; /* microseconds from waking up to waiting again */
	struct prom_hist commit;    /* microseconds of store_commit */
	_Atomic uint64_t task_starts;
	_Atomic int64_t last_turn_ms; /* wall clock of the loop's last turn (0: none yet) */
	int64_t started_ms;	      /* wall clock of the server's start */

	/* The loop's own (not read by a scrape). */
	int64_t tis[TI__COUNT];
	uint64_t tis_ended[TI__COUNT];
	uint64_t runs_ended[RUN__COUNT];

	pthread_mutex_t mu; /* guards snap */
	struct metrics_snap snap;
	uint64_t skipped;	/* publishes skipped because a scrape held the mutex (loop only) */
	int64_t published_mono; /* mono_ms() of the last publish (loop only) */
};

/* A busy loop publishes at most this often (ms). */
#define METRICS_PUBLISH_MS 100

struct metrics *metrics_new(int64_t started_wall_ms);
void metrics_free(struct metrics *m);

/* The text format of everything (on an HTTP thread). */
void metrics_render(struct metrics *m, struct buf *out);
/* The same from a snapshot and the atomics: pure, for the unit tests. */
void metrics_render_snap(const struct metrics *m, const struct metrics_snap *snap, struct buf *out);

/* ---- the loop's side -------------------------------------------------------------------- */

/* Instances of run `r` changed (the indexes a step drained): move the counts from the state
 * each was last seen in to its state now. `seen` is the run's own array (grown here). */
void metrics_tis_changed(struct metrics *m, const struct run *r, uint8_t **seen, uint32_t *n_seen,
			 const uint32_t *changed, size_t n);
/* Run `r` leaves memory: its instances are no longer counted. */
void metrics_run_gone(struct metrics *m, const uint8_t *seen, uint32_t n_seen);
void metrics_run_ended(struct metrics *m, enum run_state st);
static inline void metrics_task_started(struct metrics *m)
{
	atomic_fetch_add_explicit(&m->task_starts, 1, memory_order_relaxed);
}

#endif
