/* log.c - line-oriented server log on stderr (see log.h). */
#include "server/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "dag/dag_time.h"

static int64_t offset;
static enum log_level min_level = LOG_INFO;

void log_set_offset(int64_t offset_ms)
{
	offset = offset_ms;
}

void log_set_level(enum log_level min)
{
	min_level = min;
}

void slog(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
	if (level < min_level)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + offset;
	char when[40];
	time_format_utc(ms - ms % 1000, when, sizeof(when));
	when[19] = '\0'; /* drop the Z: milliseconds follow */
	char line[2048];
	int n = snprintf(line, sizeof(line), "%s.%03dZ %s ", when, (int)(ms % 1000),
			 names[level]);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
	fflush(stderr);
}
