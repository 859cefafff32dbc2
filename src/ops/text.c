/* text.c - pieces of human-readable answers (text.h). */
#include "ops/text.h"

#include <stdbool.h>
#include <stdio.h>

#include "dag/dag_time.h"
#include "store/store.h"

char *ops_fmt_time(int64_t ms, char *buf, size_t size)
{
	if (ms == 0) {
		snprintf(buf, size, "-");
		return buf;
	}
	return time_format_utc(ms, buf, size);
}

char *ops_fmt_relative(int64_t delta_ms, char *buf, size_t size)
{
	bool future = delta_ms >= 0;
	int64_t a = future ? delta_ms : -delta_ms;
	long long s = (a + (future ? 999 : 0)) / 1000; /* "in 1s" until it is due */
	char amount[32];
	if (s == 0) {
		snprintf(buf, size, "now");
		return buf;
	}
	if (s < 60)
		snprintf(amount, sizeof(amount), "%llds", s);
	else if (s < 3600)
		snprintf(amount, sizeof(amount), "%lldm", (s + (future ? 59 : 0)) / 60);
	else if (s < 86400)
		snprintf(amount, sizeof(amount), "%lldh%02lldm", s / 3600, s / 60 % 60);
	else
		snprintf(amount, sizeof(amount), "%lldd%02lldh", s / 86400, s / 3600 % 24);
	snprintf(buf, size, future ? "in %s" : "%s ago", amount);
	return buf;
}

char *ops_ti_name(const struct store_ti *t, char *buf, size_t size)
{
	if (t->map_index >= 0)
		snprintf(buf, size, "%s[%d]", t->task_id, t->map_index);
	else
		snprintf(buf, size, "%s", t->task_id);
	return buf;
}

char *ops_fmt_exit(const struct store_ti *t, char *buf, size_t size)
{
	if (t->signal > 0)
		snprintf(buf, size, "signal %d", t->signal);
	else if (t->exit_code >= 0)
		snprintf(buf, size, "exit %d", t->exit_code);
	else
		buf[0] = '\0';
	return buf;
}

char *ops_fmt_progress(const struct store_ti *t, char *buf, size_t size)
{
	const char *m = t->progress_msg;
	if (!t->progress_total && !t->progress_done && !m)
		buf[0] = '\0';
	else if (t->progress_total)
		snprintf(buf, size, "%d/%d%s%s", t->progress_done, t->progress_total, m ? " " : "",
			 m ? m : "");
	else
		snprintf(buf, size, "%d%%%s%s", t->progress_done, m ? " " : "", m ? m : "");
	return buf;
}
