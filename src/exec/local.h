/*
 * local.h - the local executor: one supervisor process per attempt on this machine.
 *
 * start() has a supervisor (exec/supervisor.h) forked by the executor's zygote (exec/zygote.h,
 * a small helper started by local_executor_new()) and watches it through its event pipe and a
 * pidfd, both in one internal epoll set whose descriptor is executor_fd(). poll() turns what the
 * supervisors said into events; the FINISHED event is built from DIR/outcome when the
 * supervisor says it is written, or once the supervisor has exited, or is AS_LOST when it died
 * without one (e.g. SIGKILL). If the zygote dies it is replaced at the next start().
 *
 * Without a zygote (it could not be started: the program does not call zygote_hook() in main(),
 * or GUST_EXEC_ZYGOTE=0 is in the environment) the executor forks supervisors itself, as before:
 * correct, but each fork copies the launcher's page tables.
 *
 * The executor reaps only its own children, each by pid (the zygote; supervisors it forked
 * itself): the caller may have other children. (If the caller sets SIGCHLD to SIG_IGN, the
 * kernel reaps them and the outcome file alone tells how each attempt ended.) destroy() stops
 * the zygote, reaps supervisors whose attempt was reported finished (they are only exiting) and
 * leaves running ones running: they outlive the launcher by design, and a restarted scheduler
 * finds their outcome in the attempt directory.
 */
#ifndef GUST_EXEC_LOCAL_H
#define GUST_EXEC_LOCAL_H

#include "exec/executor.h"

/* NULL with errno set if the epoll set cannot be created. */
struct executor *local_executor_new(void);

/* The zygote's pid, or -1 when there is none (for tests and diagnostics). */
int local_executor_zygote_pid(struct executor *ex);

#endif
