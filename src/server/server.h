/*
 * server.h - `gust server`: the scheduler daemon.
 *
 * One process and one event loop (epoll) over: the executor's events, the DAG folder (inotify),
 * signals (signalfd), and one timer (timerfd) set to the earliest entry of a timer heap (DAG
 * schedules, retry delays, dagrun timeouts, the store poll, retention). Each loop iteration is
 * one engine step: it applies what happened, starts what may start, and commits every change
 * of the step in one store transaction before the effects (an attempt is recorded queued before
 * its supervisor is forked).
 *
 * State lives in the store (store.h); the server keeps in memory only the active runs (their
 * engine state machines) and the DAG versions they use. A restarted server rebuilds the active
 * runs from the store and accounts for every attempt recorded as live: it adopts those whose
 * supervisor still runs, applies the outcome of those that finished meanwhile, and reports the
 * rest lost after ending what they left running (docs/server.md).
 *
 * Only one server runs per GUST_HOME (an flock on HOME/server.lock). SIGTERM and SIGINT stop it
 * without touching running attempts (their supervisors carry on and a restarted server adopts
 * them); with `drain`, it stops starting new attempts and exits when the running ones end.
 */
#ifndef GUST_SERVER_SERVER_H
#define GUST_SERVER_SERVER_H

#include <stdbool.h>
#include <stdint.h>

struct server_opts {
	const char *home;     /* GUST_HOME */
	const char *dags_dir; /* NULL: config, $GUST_DAGS, ./dags */
	const char *now;      /* NULL, or the time the server's clock starts at (ISO 8601) */
	bool drain;
	int parallelism;      /* 0: from the config */
	const char *listen;   /* the API's ADDR:PORT; NULL: $GUST_LISTEN, the config, 127.0.0.1:8080 */
};

/* Run until stopped. Returns the process exit code. */
int server_main(const struct server_opts *o);

#endif
