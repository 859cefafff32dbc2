/*
 * proctree.h - reading and signalling processes through /proc, for whoever must end what a
 * task left running when its supervisor is gone.
 *
 * A task runs as the leader of its own session (its pid is the session id), so every process
 * it starts that did not call setsid itself shares that session. These helpers find them by
 * scanning /proc (no cgroups needed), skipping zombies.
 */
#ifndef GUST_EXEC_PROCTREE_H
#define GUST_EXEC_PROCTREE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_stat {
	pid_t ppid;
	pid_t sid;
	char state; /* R, S, D, Z, T, ... */
	uint64_t starttime; /* clock ticks after boot (field 22) */
};

/* Read /proc/PID/stat. 0, or -ENOENT when the process is gone. */
int proc_stat_read(pid_t pid, struct proc_stat *ret);

/* Is `pid` alive (not a zombie) with this start time? Tells a live process from a recycled
 * pid. */
bool proc_alive(pid_t pid, uint64_t starttime);

/* Send `sig` to every live process of session `sid` (including its leader). Returns how many
 * were signalled. */
int session_signal(pid_t sid, int sig);

/* KILL every process of session `sid` until none is left (bounded: gives up after `limit_ms`,
 * returning -ETIMEDOUT). Returns the number of distinct processes killed. */
int session_kill_all(pid_t sid, int64_t limit_ms);

#endif
