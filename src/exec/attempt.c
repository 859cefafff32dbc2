/*
 * attempt.c - the outcome file of an attempt (see attempt.h) and executor event helpers.
 *
 * DIR/outcome is written by the supervisor once, as DIR/outcome.tmp followed by rename(2), so a
 * reader sees either no outcome or a whole one. There is no fsync: the goal is surviving the
 * crash of any process (supervisor, scheduler), not of the machine. After a power loss an
 * attempt may lack its outcome (or have an empty one); the scheduler then treats it as lost,
 * which is what it would do for a supervisor killed mid-write anyway.
 */
#include "exec/attempt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "exec/executor.h"

static const char *const status_names[AS__COUNT] = {
    [AS_SUCCESS] = "success",	      [AS_FAILED] = "failed",	    [AS_TIMED_OUT] = "timed_out",
    [AS_EXEC_FAILED] = "exec_failed", [AS_CANCELLED] = "cancelled", [AS_LOST] = "lost",
};

const char *attempt_status_name(enum attempt_status s)
{
	if ((unsigned)s >= AS__COUNT)
		return "unknown";
	return status_names[s];
}

int attempt_status_parse(const char *s, enum attempt_status *ret)
{
	if (!s)
		return -EINVAL;
	for (int i = 0; i < AS__COUNT; i++)
		if (strcmp(s, status_names[i]) == 0) {
			*ret = (enum attempt_status)i;
			return 0;
		}
	return -EINVAL;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 if it is invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	unsigned cp = c & (0x3f >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* A JSON string of s with each invalid UTF-8 byte replaced by U+FFFD: messages may quote
 * task output, and jansson refuses invalid strings. */
static json_t *str_or_null(const char *s)
{
	if (!s)
		return json_null();
	size_t n = strlen(s);
	json_t *j = json_stringn(s, n);
	if (j)
		return j;
	char *fixed = xmalloc(n * 3 + 1);
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq((const unsigned char *)s + i, n - i);
		if (l == 0) {
			memcpy(fixed + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(fixed + o, s + i, l);
			o += l;
			i += l;
		}
	}
	j = json_stringn(fixed, o);
	free(fixed);
	return j ? j : json_null();
}

static json_t *outcome_to_json(const struct attempt_outcome *o)
{
	json_t *j = json_object();
	json_object_set_new(j, "status", json_string(attempt_status_name(o->status)));
	json_object_set_new(j, "exit_code",
			    o->exit_code >= 0 ? json_integer(o->exit_code) : json_null());
	json_object_set_new(j, "signal", o->signal > 0 ? json_integer(o->signal) : json_null());
	json_object_set_new(j, "started_at", json_integer(o->started_at));
	json_object_set_new(j, "ended_at", json_integer(o->ended_at));
	json_object_set_new(j, "killed", json_integer(o->killed));
	json_object_set_new(j, "message", str_or_null(o->message));
	json_object_set(j, "output", o->output ? o->output : json_null());
	json_object_set_new(j, "output_error", str_or_null(o->output_error));
	return j;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int attempt_outcome_write(const char *dir, const struct attempt_outcome *o)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/outcome.tmp", dir) >= sizeof(tmp) ||
	    (size_t)snprintf(dst, sizeof(dst), "%s/outcome", dir) >= sizeof(dst))
		return -ENAMETOOLONG;
	json_t *j = outcome_to_json(o);
	char *text = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(j);
	if (!text)
		return -ENOMEM;
	size_t len = strlen(text);
	text[len] = '\n'; /* json_dumps leaves room for the NUL; write the newline instead */
	int r = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
	} else {
		r = write_all(fd, text, len + 1);
		if (close(fd) < 0 && r == 0)
			r = -errno;
		if (r == 0 && rename(tmp, dst) < 0)
			r = -errno;
		if (r < 0)
			unlink(tmp);
	}
	free(text);
	return r;
}

static char *get_str(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);
	return json_is_string(v) ? xstrndup(json_string_value(v), json_string_length(v)) : NULL;
}

static int64_t get_int(json_t *j, const char *key, int64_t dflt)
{
	json_t *v = json_object_get(j, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

int attempt_outcome_read(const char *dir, struct attempt_outcome *ret)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/outcome", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Sized from fstat (an outcome is small; a 64 KiB guess would cost the launcher a
	 * malloc_consolidate per attempt), growing if the file grows meanwhile. */
	struct stat sb;
	size_t max = (size_t)ATTEMPT_MAX_OUTPUT * 7 + 64 * 1024;
	size_t cap = fstat(fd, &sb) == 0 && sb.st_size > 0 ? (size_t)sb.st_size + 1 : 4096, len = 0;
	if (cap > max)
		cap = max;
	char *data = xmalloc(cap);
	for (;;) {
		if (len == cap) {
			if (cap >= max) {
				free(data);
				close(fd);
				return -EFBIG;
			}
			cap *= 2;
			char *n = realloc(data, cap);
			if (!n)
				die_oom();
			data = n;
		}
		ssize_t r = read(fd, data + len, cap - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = -errno;
			free(data);
			close(fd);
			return e;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	json_error_t err;
	json_t *j = json_loadb(data, len, 0, &err);
	free(data);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		return -EBADMSG;
	}
	struct attempt_outcome o = {.exit_code = -1};
	json_t *st = json_object_get(j, "status");
	if (!json_is_string(st) || attempt_status_parse(json_string_value(st), &o.status) < 0) {
		json_decref(j);
		return -EBADMSG;
	}
	o.exit_code = (int)get_int(j, "exit_code", -1);
	o.signal = (int)get_int(j, "signal", 0);
	o.started_at = get_int(j, "started_at", 0);
	o.ended_at = get_int(j, "ended_at", 0);
	o.killed = (int)get_int(j, "killed", 0);
	o.message = get_str(j, "message");
	o.output_error = get_str(j, "output_error");
	json_t *out = json_object_get(j, "output");
	if (out && !json_is_null(out))
		o.output = json_incref(out);
	json_decref(j);
	*ret = o;
	return 0;
}

void attempt_outcome_free(struct attempt_outcome *o)
{
	if (!o)
		return;
	free(o->message);
	free(o->output_error);
	json_decref(o->output);
	o->message = o->output_error = NULL;
	o->output = NULL;
}

void executor_event_free(struct executor_event *ev)
{
	if (!ev)
		return;
	free(ev->progress_msg);
	ev->progress_msg = NULL;
	attempt_outcome_free(&ev->outcome);
}
