/*
 * zygote.h - a small helper process that forks the supervisors.
 *
 * Forking a supervisor from the launcher copies the launcher's page tables: the bigger the
 * launcher (the coming server holds whole runs in memory), the slower each attempt starts, and
 * every page the supervisor then writes is a copy-on-write fault. So the local executor starts
 * one helper, the zygote, by fork+exec of /proc/self/exe with the hidden arguments
 * `__zygote FD` (a fresh, small address space), and asks it to fork each supervisor.
 *
 * Protocol, on a SOCK_SEQPACKET socket pair (one message per datagram):
 *   zygote -> launcher  HELLO                      once, when ready
 *   launcher -> zygote  SPAWN spec + [event pipe write end, memfd with the spec if large]
 *   zygote -> launcher  SPAWNED pid + [pidfd], or SPAWNED -errno
 *   zygote -> launcher  EXITED (pid wait-status)... the supervisors it reaped: at once when a
 *                                              status is not 0; else batched, sent before the
 *                                              next SPAWNED or after 100 ms
 * The zygote handles one SPAWN at a time and answers in order; the launcher waits for the
 * SPAWNED of its request (keeping the EXITED messages that come before it, in order).
 *
 * The fork itself is taken off that wait: the zygote keeps one spare, a child forked ahead of
 * time (all signals blocked) that waits on a socket of its own. A SPAWN is forwarded to the
 * spare with its descriptors, answered at once with the spare's pid and pidfd, and the next
 * spare is forked after the answer, while the attempt starts. (Without a spare, e.g. it
 * died, the zygote forks on demand.)
 *
 * The zygote runs in its own session, resets every signal handler once
 * (supervisor_reset_signals), keeps fds 0/1 on /dev/null and its own descriptors above 3, so a
 * supervisor it forks skips those steps: it stays in the zygote's session (no terminal, not the
 * launcher's) rather than calling setsid. It
 * reaps its children (signalfd SIGCHLD, waitpid(-1, WNOHANG)) and reports each exit status, so
 * a supervisor killed by a signal is still reported as such. It exits when the launcher's end
 * closes; supervisors outlive it (they setsid and care about no parent).
 *
 * Any program that links the local executor and wants the zygote must call zygote_hook() first
 * thing in main() (gust's main.c, bench/exec_loop.c; the unit tests from a constructor).
 * Without it the executor notices that no HELLO comes and forks supervisors itself.
 */
#ifndef GUST_EXEC_ZYGOTE_H
#define GUST_EXEC_ZYGOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "exec/attempt.h"

#define ZYGOTE_ARG "__zygote"

/* If argv is `PROG __zygote FD`, become the zygote and never return. Otherwise return. */
void zygote_hook(int argc, char **argv);

struct zygote;

/* Start a zygote (fork+exec of /proc/self/exe) and wait for its HELLO. Returns 0 or a negative
 * errno (no zygote: the caller forks supervisors itself). */
int zygote_start(struct zygote **ret);

/* Ask for a supervisor for `spec` whose event pipe write end is `event_fd` (sent, not closed).
 * On success *ret_pid is its pid and *ret_pidfd a pidfd of it (-1 if the kernel has none).
 * Errors: -EPIPE: the zygote was gone before the request was sent (nothing started; start
 * another zygote and try again); -ECONNABORTED: it died or hung (killed after a deadline) with
 * the request in flight, so a supervisor may or may not exist; another negative errno: the
 * zygote could not fork. After -EPIPE or -ECONNABORTED, zygote_alive() is false. */
int zygote_spawn(struct zygote *z, const struct attempt_spec *spec, int event_fd, pid_t *ret_pid,
		 int *ret_pidfd);

/* The next EXITED report (pid and wait status): first those kept while waiting for a SPAWNED,
 * then (unless queued_only) what the socket holds, without blocking. Returns true if there was
 * one. At EOF (the zygote died) returns false and zygote_alive() becomes false. Right after
 * zygote_spawn(), take the queued ones only: they are about supervisors started before, while
 * the socket may already hold the exit of the one just started. */
bool zygote_next_exit(struct zygote *z, bool queued_only, pid_t *ret_pid, int *ret_status);

/* Pollable: readable when EXITED reports are pending or the zygote died. */
int zygote_fd(const struct zygote *z);
bool zygote_alive(const struct zygote *z);
pid_t zygote_pid(const struct zygote *z);

/* Close the socket (the zygote exits), reap it, free. Running supervisors are not touched. */
void zygote_stop(struct zygote *z);

#endif
