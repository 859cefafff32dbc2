/* notify.c - sd_notify for the server (see notify.h). */
#include "server/notify.h"

#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "base/util.h"
#include "server/log.h"

void notify_init(struct notify *n)
{
	memset(n, 0, sizeof(*n));
	const char *sock = getenv("NOTIFY_SOCKET");
	n->on = sock && *sock;
	uint64_t us = 0;
	if (n->on && sd_watchdog_enabled(0, &us) > 0)
		n->watchdog_us = us;
	if (n->watchdog_us)
		slog(LOG_INFO, "server: systemd watchdog every %llu ms; pinged at half of it",
		     (unsigned long long)(n->watchdog_us / 1000));
}

static void send_state(struct notify *n, const char *state)
{
	if (!n->on)
		return;
	int r = sd_notify(0, state);
	if (r < 0)
		slog(LOG_WARN, "server: cannot notify systemd (%s): %s", state, strerror(-r));
}

void notify_ready(struct notify *n, const char *status)
{
	if (!n->on)
		return;
	char *msg = xasprintf("READY=1\nSTATUS=%s", status);
	send_state(n, msg);
	free(msg);
	n->last_ping_us = mono_us();
}

void notify_turned(struct notify *n, int64_t now_us)
{
	if (!n->watchdog_us || now_us - n->last_ping_us < (int64_t)(n->watchdog_us / 2))
		return;
	n->last_ping_us = now_us;
	send_state(n, "WATCHDOG=1");
}

void notify_stopping(struct notify *n)
{
	send_state(n, "STOPPING=1");
}

bool notify_env_var(const char *entry)
{
	return str_has_prefix(entry, "NOTIFY_SOCKET=") || str_has_prefix(entry, "WATCHDOG_USEC=") ||
	       str_has_prefix(entry, "WATCHDOG_PID=");
}
