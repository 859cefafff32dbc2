/*
 * supervisor.h - the process that runs one attempt and guarantees how it ends.
 *
 * One supervisor per attempt, forked (without exec) from the zygote (exec/zygote.h), or from the
 * launcher when there is no zygote. It detaches (setsid, or the zygote's session; ignores
 * SIGHUP/SIGPIPE, no parent-death signal), becomes a child subreaper so every descendant of
 * the task stays its child even after double forks and setsid, and then:
 *
 *   - runs the task in its own session with stdin /dev/null and stdout/stderr on pipes that it
 *     streams into DIR/log, one timestamped line at a time (bounded memory);
 *   - enforces the timeout by signalling the task's process group and every descendant
 *     (found through /proc/PID/task/TID/children), TERM, kill_grace_ms, then KILL;
 *   - ends leftover processes when the main process exits (or, with keep_leftovers, leaves
 *     them running and stops reading their output);
 *   - declares the attempt over only when it has no child left (waitpid(-1) gives ECHILD), so a
 *     retry can never overlap a previous attempt;
 *   - validates DIR/output, writes DIR/outcome atomically, says "D" and exits.
 *
 * Progress: DIR/progress is polled every 250 ms while the task runs (one fstatat; read only
 * when it changed) and once more when the attempt is over. So a PROGRESS event comes up to
 * 250 ms after the task wrote the file, and a value that was overwritten within 250 ms may
 * never be reported; the last value always is. (No inotify: tearing down a watch costs each
 * supervisor an SRCU grace period, ~10 ms, at exit.)
 *
 * Signals to the supervisor: SIGTERM or SIGINT cancels gracefully (TERM, grace, KILL), SIGUSR1
 * cancels immediately (KILL); either way the status is cancelled.
 *
 * Launcher protocol: text lines on the event pipe, written without blocking (a launcher that
 * stopped reading or died only loses progress lines; the outcome file is the truth):
 *   "S <pid>\n"               the task's main process has exec'd
 *   "P <done> <total> <msg>\n" progress (total 0: done is a percentage; msg may be empty)
 *   "D\n"                     DIR/outcome is written; the supervisor exits next
 *   "X <message>\n"           the supervisor could not run the attempt nor write an outcome
 *
 * Environment: the task gets spec->envp plus GUST_OUTPUT=DIR/output and
 * GUST_PROGRESS=DIR/progress (absolute paths) unless envp already defines them.
 */
#ifndef GUST_EXEC_SUPERVISOR_H
#define GUST_EXEC_SUPERVISOR_H

#include <stdbool.h>
#include <sys/types.h>

#include "exec/attempt.h"

/* Fork a supervisor for `spec`. On success *ret_pid is its pid and *ret_fd the read end of its
 * event pipe (O_NONBLOCK, O_CLOEXEC; EOF when the supervisor is gone). The caller must reap the
 * pid (waitpid on that pid only). Returns 0 or a negative errno. */
int supervisor_spawn(const struct attempt_spec *spec, pid_t *ret_pid, int *ret_fd);

/* The body of a freshly forked supervisor: runs the attempt and _exit()s. event_fd is the write
 * end of the event pipe, or -1. All signals should be blocked on entry (supervisor_spawn does
 * that) so that a cancel sent right after fork is not lost. */
_Noreturn void supervisor_main(const struct attempt_spec *spec, int event_fd);

/* supervisor_main with flags. SUPERVISOR_FROM_ZYGOTE: forked by the zygote (exec/zygote.h),
 * whose process is already clean: in a session of its own (not the launcher's), fds 0 and 1 on
 * /dev/null, event_fd is 3 (or -1) with FD_CLOEXEC, every signal handler SIG_DFL except SIGPIPE
 * and SIGHUP ignored (supervisor_reset_signals), so those steps are skipped: such a supervisor
 * shares the zygote's session instead of leading one. */
enum { SUPERVISOR_FROM_ZYGOTE = 1 };
_Noreturn void supervisor_run(const struct attempt_spec *spec, int event_fd, unsigned flags);

/* Every handler to SIG_DFL, SIGPIPE and SIGHUP to SIG_IGN; synchronous fault signals (SEGV,
 * BUS, FPE, ILL, ABRT, TRAP) are left alone so that a sanitizer's handlers stay. */
void supervisor_reset_signals(void);

/* True when a shell command can be exec'd directly after splitting on spaces: only
 * [A-Za-z0-9_./,:+@%-] and spaces, at least one word, and a first word that is not a shell
 * keyword or builtin. */
bool supervisor_command_is_plain(const char *cmd);

/* Parse a progress file: "42", "42/100" or "42/100 message" (surrounding whitespace ignored).
 * *ret_msg is malloc'd, control characters replaced by spaces, at most 200 bytes (NULL when
 * there is no message). Returns 0 or -EINVAL. */
int supervisor_parse_progress(const char *text, size_t len, int *ret_done, int *ret_total,
			      char **ret_msg);

#endif
