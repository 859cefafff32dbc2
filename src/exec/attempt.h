/*
 * attempt.h - one attempt of one task instance: what to run, and how it ended.
 *
 * An attempt lives in its own directory (the "attempt dir"), which is the durable contract
 * between the supervisor that runs it and whoever wants to know about it later, including a
 * scheduler that was down while it ran:
 *
 *   DIR/log           stdout and stderr, each line prefixed "YYYY-MM-DDTHH:MM:SS.mmmZ O|E "
 *   DIR/output        the task writes its JSON output here ($GUST_OUTPUT); at most 1 MiB
 *   DIR/progress      the task writes "42", "42/100" or "42/100 message" here ($GUST_PROGRESS);
 *                     the supervisor looks at it every 250 ms and at the end, so an update is
 *                     reported within 250 ms, and one overwritten sooner may be skipped
 *   DIR/supervisor    "PID STARTTIME\n" of the supervisor (STARTTIME from /proc/PID/stat field
 *                     22), created with O_EXCL before the task starts (if it exists already,
 *                     a restarted server claimed the folder with "0 0": the supervisor then
 *                     gives up without running the task): lets a restarted scheduler tell a
 *                     live supervisor from a recycled pid; then "TASKPID\n", written by the
 *                     task's own process after setsid and before exec (so even a task that
 *                     kills its supervisor at once is named): the task's session id, so that
 *                     whoever finds the supervisor dead can end what the task left running
 *                     (exec/proctree.h)
 *   DIR/outcome       JSON, written atomically (tmp + rename) when the attempt is over, i.e.
 *                     when no process of it is left (or, with leftovers: keep, when the main
 *                     process has exited and the log is closed)
 *
 * outcome JSON: {"status": "success"|"failed"|"timed_out"|"exec_failed"|"cancelled"|"lost",
 *   "exit_code": N|null, "signal": N|null, "started_at": MS, "ended_at": MS,
 *   "killed": N, "message": "human sentence", "output": JSON|null, "output_error": "..."|null}
 * Times are milliseconds since the Unix epoch (wall clock).
 */
#ifndef GUST_EXEC_ATTEMPT_H
#define GUST_EXEC_ATTEMPT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum attempt_status {
	AS_SUCCESS,
	AS_FAILED,	/* non-zero exit, or killed by a signal it did not ask for */
	AS_TIMED_OUT,
	AS_EXEC_FAILED, /* the command could not be started (not found, not executable, bad workdir) */
	AS_CANCELLED,
	AS_LOST,	/* supervisor died without an outcome (set by the scheduler, never written) */
	AS__COUNT,
};

#define ATTEMPT_MAX_OUTPUT (1024 * 1024)

struct attempt_spec {
	const char *dir;	  /* exists, writable; created by the caller */
	const char *shell;	  /* run via /bin/sh -c SHELL (may exec directly when it is plain) */
	const char *const *argv;  /* or this argv (NULL-terminated); exactly one of the two is set */
	const char *const *envp;  /* full environment, NULL-terminated */
	const char *workdir;	  /* NULL: inherit */
	int64_t timeout_ms;	  /* 0: none */
	int64_t kill_grace_ms;	  /* TERM -> KILL delay, for timeout, leftovers and cancel */
	bool keep_leftovers;
	/* NULL-terminated, or NULL: values the supervisor masks as *** in every log line and in
	 * the outcome's message before writing them (auth/mask.h). They travel in memory (the
	 * zygote's socket, or a memfd), never through a file. */
	const char *const *secrets;
};

struct attempt_outcome {
	enum attempt_status status;
	int exit_code; /* -1 when none */
	int signal;    /* 0 when none */
	int64_t started_at, ended_at;
	int killed;    /* processes the supervisor had to signal (timeout, leftovers, cancel) */
	char *message; /* malloc'd human sentence, e.g. "timed out after 2s; killed 3 processes" */
	json_t *output; /* owned reference or NULL */
	char *output_error; /* malloc'd or NULL: output present but invalid/too large */
};

const char *attempt_status_name(enum attempt_status s);
int attempt_status_parse(const char *s, enum attempt_status *ret);

/* Write DIR/outcome atomically. */
int attempt_outcome_write(const char *dir, const struct attempt_outcome *o);
/* Read DIR/outcome. -ENOENT when the attempt has not finished (or never recorded one). */
int attempt_outcome_read(const char *dir, struct attempt_outcome *ret);
void attempt_outcome_free(struct attempt_outcome *o);

#endif
