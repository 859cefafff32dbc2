/*
 * notify.h - telling systemd how the server is (Type=notify, WatchdogSec=; sd_notify(3)).
 *
 * READY=1 once the DAG folder is read and runs are restored; WATCHDOG=1 from the loop itself,
 * at half the watchdog interval, so a loop that stops turning stops the pings and systemd
 * restarts the server (contrib/systemd/gust.service); STOPPING=1 at the stop. Without
 * $NOTIFY_SOCKET every call does nothing.
 */
#ifndef GUST_SERVER_NOTIFY_H
#define GUST_SERVER_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

struct notify {
	bool on;	      /* $NOTIFY_SOCKET is set */
	uint64_t watchdog_us; /* 0: no watchdog asked for */
	int64_t last_ping_us; /* mono_us() of the last WATCHDOG=1 */
};

void notify_init(struct notify *n);
void notify_ready(struct notify *n, const char *status);
/* The loop turned at now_us (mono_us()): a ping if half the interval has passed. */
void notify_turned(struct notify *n, int64_t now_us);
void notify_stopping(struct notify *n);
/* Is NAME=VALUE one of the variables of the protocol (kept from tasks' environments)? */
bool notify_env_var(const char *entry);

#endif
