/*
 * executor.h - the one interface between the engine's decisions and processes somewhere.
 *
 * The caller (dags test, later the server) asks an executor to start attempts and to cancel
 * them; the executor reports what happened as events that the caller drains. An executor never
 * writes the store and never decides anything: it runs what it is told and says what it saw
 * (Airflow's executor contract). Implementations: local (a supervisor process per attempt,
 * exec/local.c); later a remote worker and Slurm.
 *
 * Each attempt is named by a caller-chosen 64-bit key. The executor exposes one pollable file
 * descriptor; when it is readable, executor_poll() returns the pending events (possibly none).
 */
#ifndef GUST_EXEC_EXECUTOR_H
#define GUST_EXEC_EXECUTOR_H

#include <stddef.h>
#include <stdint.h>

#include "exec/attempt.h"

enum executor_event_kind {
	EXEC_EV_STARTED,  /* the task's main process is running (pid known) */
	EXEC_EV_PROGRESS, /* the task reported progress */
	EXEC_EV_FINISHED, /* the attempt is over; outcome is filled */
};

struct executor_event {
	uint64_t key;
	enum executor_event_kind kind;
	int pid;			 /* STARTED: the task's main pid */
	int progress_done, progress_total; /* PROGRESS: total 0 means a percentage in done */
	char *progress_msg;		 /* PROGRESS: malloc'd or NULL */
	struct attempt_outcome outcome;	 /* FINISHED: owned by the event */
};

void executor_event_free(struct executor_event *ev);

struct executor;

struct executor_ops {
	const char *name;
	/* Start an attempt. The spec is copied; returns 0 or a negative errno. */
	int (*start)(struct executor *ex, uint64_t key, const struct attempt_spec *spec);
	/* Ask an attempt to stop: graceful (TERM, grace, KILL) or immediate (KILL now). The
	 * attempt still ends with a FINISHED event, status cancelled. */
	int (*cancel)(struct executor *ex, uint64_t key, bool immediate);
	/* A file descriptor that becomes readable when events may be pending. */
	int (*fd)(struct executor *ex);
	/* Move up to `max` pending events into `evs`; returns how many (0 if none). */
	size_t (*poll)(struct executor *ex, struct executor_event *evs, size_t max);
	/* Attempts started and not yet reported finished. */
	size_t (*running)(struct executor *ex);
	void (*destroy)(struct executor *ex);
};

struct executor {
	const struct executor_ops *ops;
};

static inline int executor_start(struct executor *ex, uint64_t key, const struct attempt_spec *s)
{
	return ex->ops->start(ex, key, s);
}
static inline int executor_cancel(struct executor *ex, uint64_t key, bool immediate)
{
	return ex->ops->cancel(ex, key, immediate);
}
static inline int executor_fd(struct executor *ex)
{
	return ex->ops->fd(ex);
}
static inline size_t executor_poll(struct executor *ex, struct executor_event *evs, size_t max)
{
	return ex->ops->poll(ex, evs, max);
}
static inline size_t executor_running(struct executor *ex)
{
	return ex->ops->running(ex);
}
static inline void executor_destroy(struct executor *ex)
{
	ex->ops->destroy(ex);
}

#endif
