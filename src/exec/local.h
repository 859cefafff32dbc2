/*
 * local.h - the local executor: one supervisor process per attempt on this machine.
 *
 * start() forks a supervisor (exec/supervisor.h) and watches it through its event pipe and a
 * pidfd, both in one internal epoll set whose descriptor is executor_fd(). poll() turns what the
 * supervisors said into events; the FINISHED event is built from DIR/outcome once the
 * supervisor has been reaped, or is AS_LOST when it died without one (e.g. SIGKILL).
 *
 * The executor reaps only its own supervisors, each by pid: the caller may have other children.
 * (If the caller sets SIGCHLD to SIG_IGN, the kernel reaps them and the outcome file alone tells
 * how each attempt ended.) destroy() reaps supervisors whose attempt was reported finished (they
 * are only exiting) and leaves running ones running: they outlive the launcher by design, and a
 * restarted scheduler finds their outcome in the attempt directory.
 */
#ifndef GUST_EXEC_LOCAL_H
#define GUST_EXEC_LOCAL_H

#include "exec/executor.h"

/* NULL with errno set if the epoll set cannot be created. */
struct executor *local_executor_new(void);

#endif
