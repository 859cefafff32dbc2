/*
 * supervisor.c - one attempt, from fork to outcome (see supervisor.h for the contract).
 *
 * All state lives in one struct sup on the supervisor's stack. The supervisor is a fork of the
 * launcher: it first closes every inherited descriptor, resets inherited signal handlers and
 * never returns (it _exit()s, so the launcher's atexit handlers and stdio buffers are not run
 * twice).
 *
 * The event loop is an epoll set of: a signalfd (SIGCHLD, SIGTERM, SIGINT, SIGUSR1) and the
 * task's stdout and stderr pipes. Deadlines (timeout, kill grace, re-kill, the next look at
 * DIR/progress) are kept as monotonic milliseconds and become epoll_wait's timeout, which costs
 * no descriptor and no syscall.
 *
 * DIR/progress is polled, not watched: every PROGRESS_POLL_MS while the task runs, one fstatat;
 * the file is read only when its size, times or inode changed (or its mtime is too recent to
 * trust, as git does for racy files), and once more at the end. An inotify watch would give
 * events at once, but closing an inotify instance that holds a watch waits for an SRCU grace
 * period (fsnotify_destroy_group -> synchronize_srcu): ~10 ms per attempt on this kind of VM,
 * with the exiting supervisor in D state, for a file most tasks never write.
 *
 * Termination: "the attempt is over" means waitpid(-1) says ECHILD. The supervisor is a child
 * subreaper, so a descendant whose parent dies (double fork, setsid daemon) becomes its child;
 * hence no child means no descendant. Descendants are found for signalling by walking
 * /proc/PID/task/TID/children from the supervisor down; the walk only happens when something
 * has to be killed, never on the fast path.
 *
 * Logging streams: each pipe read (at most 64 KiB) is cut into lines that are prefixed and
 * appended to a 256 KiB buffer written with one write() per read. A pending partial line is
 * kept per stream up to 64 KiB, then written as a line of its own. Memory is bounded whatever
 * the task prints.
 */
#include "exec/supervisor.h"

#include "exec/proctree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/mask.h"
#include "base/buf.h"
#include "base/util.h"

#define LOG_LINE_MAX (64 * 1024) /* longer lines are split */
#define LOG_BUF_CAP (256 * 1024)
#define READ_CHUNK (64 * 1024)
#define PREFIX_LEN 27 /* "2026-11-21T05:13:02.123Z O " */
#define TAIL_MAX 1024 /* end of stderr kept for the exit-127 message */
#define PROGRESS_MSG_MAX 200
#define DRAIN_READS 64	     /* at most 4 MiB read from a pipe after the end */
#define PROGRESS_POLL_MS 250 /* see supervisor.h */

extern char **environ;

enum reason { R_NONE, R_TIMEOUT, R_CANCEL, R_LOGFAIL, R_LEFTOVERS };
enum phase { PH_RUN, PH_TERM, PH_KILL };
enum { TAG_SIG = 1, TAG_OUT, TAG_ERR };
enum { STAGE_SETUP = 1, STAGE_CHDIR, STAGE_EXEC };

struct stream {
	int fd; /* -1 when closed */
	char tag;
	bool split; /* the last line was cut at LOG_LINE_MAX: swallow a '\n' that follows */
	size_t len;
	char *line;
};

struct pidset {
	pid_t *v;
	size_t n, cap;
};

struct sup {
	const struct attempt_spec *spec;
	struct auth_mask *mask; /* spec->secrets, or NULL: masked in every log line */
	char *dir; /* absolute */
	int dirfd, evfd, epfd, sigfd, logfd;
	int supfd;   /* DIR/supervisor, open until the task's pid is appended */
	int log_err; /* errno of the first failed log write, 0 if none */
	char *logbuf;
	size_t loglen;
	char *rbuf;
	int64_t ts_sec;
	char ts[PREFIX_LEN + 8]; /* "YYYY-MM-DDTHH:MM:SS." for ts_sec, then "mmmZ" */
	struct stream so, se;
	char tail[TAIL_MAX];
	size_t tail_len;

	pid_t main_pid;
	bool main_reaped, have_children;
	int main_status;
	int64_t started_at, start_mono;

	enum reason reason;
	enum phase phase;
	int64_t dl_timeout, dl_grace, dl_rekill; /* monotonic ms, 0: none */
	int64_t rekill_every;
	struct pidset killed; /* distinct pids signalled, sorted */
	int kept;	      /* leftovers left running (keep_leftovers) */

	bool p_have;
	int p_done, p_total;
	char *p_msg;
	int64_t dl_progress; /* monotonic ms of the next look at DIR/progress */
	struct stat p_st;    /* DIR/progress when last read (st_ino 0: absent) */
};

/* ---- small helpers ---- */

static int64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *plural(int n)
{
	return n == 1 ? "process" : "processes";
}

/* "2s", "250ms", "1.5s" */
static void fmt_duration(char *b, size_t n, int64_t ms)
{
	if (ms % 1000 == 0)
		snprintf(b, n, "%llds", (long long)(ms / 1000));
	else if (ms < 1000)
		snprintf(b, n, "%lldms", (long long)ms);
	else {
		int frac = (int)(ms % 1000);
		int digits = 3;
		while (frac % 10 == 0) {
			frac /= 10;
			digits--;
		}
		snprintf(b, n, "%lld.%0*ds", (long long)(ms / 1000), digits, frac);
	}
}

static ssize_t read_retry(int fd, void *p, size_t n)
{
	ssize_t r;
	do
		r = read(fd, p, n);
	while (r < 0 && errno == EINTR);
	return r;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (w == 0)
			return EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read a whole (small, /proc) file into b. Returns 0 or an errno. */
static int slurp_path(const char *path, struct buf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	char tmp[4096];
	ssize_t r;
	while ((r = read_retry(fd, tmp, sizeof(tmp))) > 0)
		buf_append(b, tmp, (size_t)r);
	int e = r < 0 ? errno : 0;
	close(fd);
	return e;
}

/* ---- launcher events ---- */

__attribute__((format(printf, 2, 3))) static void send_ev(struct sup *s, const char *fmt, ...)
{
	if (s->evfd < 0)
		return;
	char b[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(b)) {
		n = (int)sizeof(b) - 1;
		b[n - 1] = '\n';
	}
	ssize_t w;
	do
		w = write(s->evfd, b, (size_t)n);
	while (w < 0 && errno == EINTR);
	if (w < 0 && errno != EAGAIN) {
		/* The launcher is gone: carry on, the outcome file is what counts. */
		close(s->evfd);
		s->evfd = -1;
	}
}

/* The supervisor cannot record an outcome: tell the launcher why, and stop. */
__attribute__((format(printf, 2, 3))) static _Noreturn void fatal(struct sup *s, const char *fmt,
								  ...)
{
	char b[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	for (char *p = b; *p; p++)
		if (*p == '\n')
			*p = ' ';
	send_ev(s, "X %s\n", b);
	_exit(1);
}

/* ---- the log ---- */

static void stamp(struct sup *s)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != s->ts_sec) {
		struct tm tm;
		time_t t = ts.tv_sec;
		gmtime_r(&t, &tm);
		strftime(s->ts, sizeof(s->ts), "%Y-%m-%dT%H:%M:%S.", &tm);
		s->ts_sec = ts.tv_sec;
	}
	int ms = (int)(ts.tv_nsec / 1000000);
	s->ts[20] = (char)('0' + ms / 100);
	s->ts[21] = (char)('0' + ms / 10 % 10);
	s->ts[22] = (char)('0' + ms % 10);
	s->ts[23] = 'Z';
	s->ts[24] = ' ';
	s->ts[26] = ' ';
}

static void begin_kill(struct sup *s, enum reason why, bool immediate);

/* The log buffers, on first use, in one private mapping: a task that prints nothing costs
 * nothing, and the pages are fresh rather than copy-on-write pages of the launcher's heap. */
static void buffers(struct sup *s)
{
	if (s->logbuf)
		return;
	size_t size = LOG_BUF_CAP + READ_CHUNK + 2 * LOG_LINE_MAX;
	char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		die_oom();
	s->logbuf = m;
	s->rbuf = m + LOG_BUF_CAP;
	s->so.line = s->rbuf + READ_CHUNK;
	s->se.line = s->so.line + LOG_LINE_MAX;
}

static void log_flush(struct sup *s)
{
	if (s->loglen == 0 || s->log_err) {
		s->loglen = 0;
		return;
	}
	int e = write_all(s->logfd, s->logbuf, s->loglen);
	s->loglen = 0;
	if (e) {
		/* Never drop logs silently: the attempt fails, and says why. */
		s->log_err = e;
		if (!s->main_reaped && s->reason == R_NONE)
			begin_kill(s, R_LOGFAIL, false);
	}
}

/* Append one line to the log buffer, masked. Returns where the masked text sits in the buffer
 * (its new length in *ret_n), or NULL when the log has failed. */
static const char *log_put(struct sup *s, char tag, const char *p, size_t n, size_t *ret_n)
{
	if (s->log_err)
		return NULL;
	if (s->loglen + PREFIX_LEN + n + 1 > LOG_BUF_CAP)
		log_flush(s);
	if (s->log_err)
		return NULL;
	char *o = s->logbuf + s->loglen;
	s->ts[25] = tag;
	memcpy(o, s->ts, PREFIX_LEN);
	memcpy(o + PREFIX_LEN, p, n);
	/* Masked before it is written: a secret never reaches the log file. */
	if (s->mask)
		auth_mask_line(s->mask, o + PREFIX_LEN, n, &n);
	o[PREFIX_LEN + n] = '\n';
	s->loglen += PREFIX_LEN + n + 1;
	*ret_n = n + 1;
	return o + PREFIX_LEN;
}

static void log_line(struct sup *s, char tag, const char *p, size_t n)
{
	size_t m;
	log_put(s, tag, p, n, &m);
}

static void keep_tail(struct sup *s, const char *p, size_t n);

/* A line of the task's output: into the log, and (stderr) into the tail that explains an exit
 * 126 or 127, both masked (a log that failed keeps no tail). */
static void task_line(struct sup *s, char tag, const char *p, size_t n)
{
	size_t m;
	const char *t = log_put(s, tag, p, n, &m);
	if (tag == 'E' && t)
		keep_tail(s, t, m);
}

/* A line of the supervisor's own, in the stderr column: "gust: ...". */
__attribute__((format(printf, 2, 3))) static void log_note(struct sup *s, const char *fmt, ...)
{
	char b[512] = "gust: ";
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b + 6, sizeof(b) - 6, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = 6 + ((size_t)n < sizeof(b) - 6 ? (size_t)n : sizeof(b) - 7);
	buffers(s);
	stamp(s);
	log_line(s, 'E', b, len);
	log_flush(s);
}

static void keep_tail(struct sup *s, const char *p, size_t n)
{
	if (n >= TAIL_MAX) {
		memcpy(s->tail, p + n - TAIL_MAX, TAIL_MAX);
		s->tail_len = TAIL_MAX;
		return;
	}
	if (s->tail_len + n > TAIL_MAX) {
		size_t drop = s->tail_len + n - TAIL_MAX;
		memmove(s->tail, s->tail + drop, s->tail_len - drop);
		s->tail_len -= drop;
	}
	memcpy(s->tail + s->tail_len, p, n);
	s->tail_len += n;
}

/* Cut a chunk of task output into log lines. */
static void feed(struct sup *s, struct stream *st, const char *p, size_t n)
{
	while (n > 0) {
		if (st->split && st->len == 0 && *p == '\n') {
			st->split = false;
			p++;
			n--;
			continue;
		}
		st->split = false;
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n;
		if (nl && st->len + seg <= LOG_LINE_MAX) {
			if (st->len == 0) {
				task_line(s, st->tag, p, seg);
			} else {
				memcpy(st->line + st->len, p, seg);
				task_line(s, st->tag, st->line, st->len + seg);
				st->len = 0;
			}
			p += seg + 1;
			n -= seg + 1;
			continue;
		}
		size_t take = LOG_LINE_MAX - st->len;
		if (take > seg)
			take = seg;
		memcpy(st->line + st->len, p, take);
		st->len += take;
		p += take;
		n -= take;
		if (st->len == LOG_LINE_MAX) {
			task_line(s, st->tag, st->line, st->len);
			st->len = 0;
			st->split = true;
		}
	}
}

static void stream_close(struct sup *s, struct stream *st)
{
	if (st->fd < 0)
		return;
	if (st->len) {
		stamp(s);
		task_line(s, st->tag, st->line, st->len);
		st->len = 0;
	}
	close(st->fd); /* the only reference: this also removes it from the epoll set */
	st->fd = -1;
}

/* One read; returns false when the stream has nothing more right now (EOF or EAGAIN). Until
 * the task has printed something, the read goes to a small stack buffer, so a silent task
 * costs no mapping. */
static bool stream_read(struct sup *s, struct stream *st)
{
	char small[4096];
	char *into = s->logbuf ? s->rbuf : small;
	ssize_t r = read_retry(st->fd, into, s->logbuf ? READ_CHUNK : sizeof(small));
	if (r > 0) {
		buffers(s);
		stamp(s);
		feed(s, st, into, (size_t)r);
		log_flush(s);
		return true;
	}
	if (r == 0 || errno != EAGAIN)
		stream_close(s, st);
	return false;
}

/* After the end: read what is buffered without ever waiting, then close. */
static void streams_drain(struct sup *s)
{
	struct stream *sts[2] = {&s->so, &s->se};
	for (int i = 0; i < 2; i++) {
		for (int k = 0; k < DRAIN_READS && sts[i]->fd >= 0; k++)
			if (!stream_read(s, sts[i]))
				break;
		stream_close(s, sts[i]);
	}
	log_flush(s);
}

/* ---- processes ---- */

/* Where P is in the sorted set, or where it would go; *found says which. */
static size_t pidset_find(const struct pidset *ps, pid_t p, bool *found)
{
	size_t lo = 0, hi = ps->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ps->v[mid] == p) {
			*found = true;
			return mid;
		}
		if (ps->v[mid] < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static bool pidset_has(const struct pidset *ps, pid_t p)
{
	bool found;
	pidset_find(ps, p, &found);
	return found;
}

static void pidset_add(struct pidset *ps, pid_t p)
{
	bool found;
	size_t lo = pidset_find(ps, p, &found);
	if (found)
		return;
	ps->v = xrealloc_array(ps->v, ps->n + 1, sizeof(pid_t), &ps->cap);
	memmove(ps->v + lo + 1, ps->v + lo, (ps->n - lo) * sizeof(pid_t));
	ps->v[lo] = p;
	ps->n++;
}

static void parse_pids(const char *t, struct pidset *out)
{
	while (*t) {
		char *end;
		long v = strtol(t, &end, 10);
		if (end == t) {
			t++;
			continue;
		}
		if (v > 0 && v <= INT_MAX) {
			out->v = xrealloc_array(out->v, out->n + 1, sizeof(pid_t), &out->cap);
			out->v[out->n++] = (pid_t)v;
		}
		t = end;
	}
}

/* Every descendant of the supervisor (unsorted, breadth first). Racy by nature: processes
 * fork while we look; callers repeat the walk until nothing is left. */
static void descendants(struct pidset *out)
{
	struct buf b = BUF_INIT;
	char path[64];
	out->n = 0;
	pid_t self = getpid();
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)self, (int)self);
	slurp_path(path, &b);
	parse_pids(buf_str(&b), out);
	for (size_t i = 0; i < out->n; i++) {
		pid_t p = out->v[i];
		snprintf(path, sizeof(path), "/proc/%d/task", (int)p);
		DIR *d = opendir(path);
		if (!d)
			continue;
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				continue;
			snprintf(path, sizeof(path), "/proc/%d/task/%.16s/children", (int)p,
				 de->d_name);
			buf_reset(&b);
			if (slurp_path(path, &b) == 0)
				parse_pids(buf_str(&b), out);
		}
		closedir(d);
	}
	buf_free(&b);
}

/* The state letter of /proc/PID/stat, or 0 if the process is gone. */
static char proc_state(pid_t p)
{
	char path[64], b[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)p);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read_retry(fd, b, sizeof(b) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	b[n] = '\0';
	char *rp = strrchr(b, ')');
	return rp && rp[1] == ' ' ? rp[2] : 0;
}

/* Signal every live descendant, then the task's process group (while its leader is unreaped,
 * so the pgid cannot have been recycled). The walk comes first: killing the group first would
 * reparent grandchildren while we walk, and the walk could miss them. Processes forked after
 * the walk are caught by the next one: callers repeat until no child is left, with ONLY_NEW
 * during the grace period so that a process is sent SIGTERM once (a second TERM means "quit
 * now" to some programs). Returns how many processes were signalled. */
static int kill_all(struct sup *s, int sig, bool only_new)
{
	struct pidset d = {0};
	descendants(&d);
	int n = 0;
	for (size_t i = 0; i < d.n; i++) {
		if (only_new && pidset_has(&s->killed, d.v[i]))
			continue;
		char st = proc_state(d.v[i]);
		if (st == 0 || st == 'Z' || st == 'X')
			continue;
		if (kill(d.v[i], sig) == 0) {
			n++;
			pidset_add(&s->killed, d.v[i]);
			if (sig == SIGTERM)
				kill(d.v[i], SIGCONT); /* a stopped process must run to die */
		}
	}
	free(d.v);
	if (!s->main_reaped && !only_new) {
		kill(-s->main_pid, sig);
		if (sig == SIGTERM)
			kill(-s->main_pid, SIGCONT);
	}
	return n;
}

static const char *reason_text(struct sup *s, char *b, size_t n)
{
	char d[32];
	switch (s->reason) {
	case R_TIMEOUT:
		fmt_duration(d, sizeof(d), s->spec->timeout_ms);
		snprintf(b, n, "timed out after %s", d);
		break;
	case R_CANCEL:
		snprintf(b, n, "cancelled");
		break;
	case R_LOGFAIL:
		snprintf(b, n, "log write failed");
		break;
	case R_LEFTOVERS:
		snprintf(b, n, "main process exited, ending leftover processes");
		break;
	default:
		snprintf(b, n, "stopping");
	}
	return b;
}

static void begin_kill(struct sup *s, enum reason why, bool immediate)
{
	if (s->reason == R_NONE)
		s->reason = why;
	s->dl_timeout = 0;
	if (s->phase == PH_KILL)
		return;
	char why_text[96];
	reason_text(s, why_text, sizeof(why_text));
	if (immediate || s->spec->kill_grace_ms <= 0) {
		int n = kill_all(s, SIGKILL, false);
		log_note(s, "%s; sent SIGKILL to %d %s", why_text, n, plural(n));
		s->phase = PH_KILL;
		s->dl_grace = 0;
		s->rekill_every = 50;
		s->dl_rekill = mono_ms() + s->rekill_every;
	} else if (s->phase == PH_RUN) {
		int n = kill_all(s, SIGTERM, false);
		char g[32];
		fmt_duration(g, sizeof(g), s->spec->kill_grace_ms);
		log_note(s, "%s; sent SIGTERM to %d %s, SIGKILL in %s", why_text, n, plural(n), g);
		s->phase = PH_TERM;
		s->dl_grace = mono_ms() + s->spec->kill_grace_ms;
		/* Children forked while we walked get their TERM at the next walks. */
		s->rekill_every = 50;
		s->dl_rekill = mono_ms() + s->rekill_every;
	}
}

static void grace_over(struct sup *s)
{
	s->dl_grace = 0;
	int n = kill_all(s, SIGKILL, false);
	if (n > 0)
		log_note(s, "still running after the grace period; sent SIGKILL to %d %s", n,
			 plural(n));
	s->phase = PH_KILL;
	s->rekill_every = 50;
	s->dl_rekill = mono_ms() + s->rekill_every;
}

/* Reap every child that has exited; note whether any child remains. */
static void reap(struct sup *s)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p > 0) {
			if (p == s->main_pid) {
				s->main_reaped = true;
				s->main_status = st;
			}
			continue;
		}
		if (p < 0 && errno == EINTR)
			continue;
		s->have_children = p == 0;
		return;
	}
}

/* ---- progress ---- */

int supervisor_parse_progress(const char *text, size_t len, int *ret_done, int *ret_total,
			      char **ret_msg)
{
	const char *p = text, *end = text + len;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	long done = 0, total = 0;
	int digits = 0;
	while (p < end && *p >= '0' && *p <= '9' && digits < 10) {
		done = done * 10 + (*p++ - '0');
		digits++;
	}
	if (digits == 0 || digits == 10 || done > INT_MAX)
		return -EINVAL;
	if (p < end && *p == '/') {
		p++;
		digits = 0;
		while (p < end && *p >= '0' && *p <= '9' && digits < 10) {
			total = total * 10 + (*p++ - '0');
			digits++;
		}
		if (digits == 0 || digits == 10 || total > INT_MAX)
			return -EINVAL;
	}
	char *msg = NULL;
	if (p < end && (*p == ' ' || *p == '\t')) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		const char *e = memchr(p, '\n', (size_t)(end - p));
		if (!e)
			e = end;
		while (e > p && (e[-1] == ' ' || e[-1] == '\r' || e[-1] == '\t'))
			e--;
		size_t n = (size_t)(e - p);
		if (n > PROGRESS_MSG_MAX) {
			n = PROGRESS_MSG_MAX;
			while (n > 0 && ((unsigned char)p[n] & 0xc0) == 0x80)
				n--; /* do not cut a UTF-8 sequence */
		}
		msg = xstrndup(p, n);
		for (char *c = msg; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = ' ';
		n = strlen(msg);
		while (n > 0 && msg[n - 1] == ' ')
			msg[--n] = '\0';
		if (n == 0) {
			free(msg);
			msg = NULL;
		}
	} else {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
			p++;
		if (p != end)
			return -EINVAL;
	}
	*ret_done = (int)done;
	*ret_total = (int)total;
	*ret_msg = msg;
	return 0;
}

static void progress_check(struct sup *s)
{
	/* O_NONBLOCK: a FIFO named progress must not hang the supervisor. */
	int fd = openat(s->dirfd, "progress", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return;
	char b[1024];
	ssize_t n = read_retry(fd, b, sizeof(b));
	close(fd);
	int done, total;
	char *msg;
	if (n <= 0 || supervisor_parse_progress(b, (size_t)n, &done, &total, &msg) < 0)
		return;
	if (s->p_have && done == s->p_done && total == s->p_total &&
	    (msg ? s->p_msg && strcmp(msg, s->p_msg) == 0 : !s->p_msg)) {
		free(msg);
		return;
	}
	free(s->p_msg);
	s->p_have = true;
	s->p_done = done;
	s->p_total = total;
	s->p_msg = msg;
	send_ev(s, "P %d %d %s\n", done, total, msg ? msg : "");
}

/* Has DIR/progress changed since it was last read? One fstatat. A file whose mtime is within
 * the last two seconds may be rewritten within the same timestamp tick with the same size, so it
 * is read again (cheap: it is small). */
static bool progress_changed(struct sup *s)
{
	struct stat st;
	if (fstatat(s->dirfd, "progress", &st, 0) < 0) {
		s->p_st.st_ino = 0;
		return false;
	}
	bool same = st.st_ino == s->p_st.st_ino && st.st_dev == s->p_st.st_dev &&
		    st.st_size == s->p_st.st_size && st.st_mtim.tv_sec == s->p_st.st_mtim.tv_sec &&
		    st.st_mtim.tv_nsec == s->p_st.st_mtim.tv_nsec &&
		    st.st_ctim.tv_sec == s->p_st.st_ctim.tv_sec &&
		    st.st_ctim.tv_nsec == s->p_st.st_ctim.tv_nsec;
	s->p_st = st;
	if (!same)
		return true;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME_COARSE, &now);
	return now.tv_sec - st.st_mtim.tv_sec < 2;
}

/* ---- output ---- */

static void output_check(struct sup *s, struct attempt_outcome *o)
{
	int fd = openat(s->dirfd, "output", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		o->output_error = xstrdup("output is not a regular file");
		close(fd);
		return;
	}
	if (st.st_size == 0) {
		close(fd);
		return;
	}
	if (st.st_size > ATTEMPT_MAX_OUTPUT) {
		o->output_error =
		    xasprintf("output is %lld bytes; the limit is 1 MiB", (long long)st.st_size);
		close(fd);
		return;
	}
	char *data = xmalloc(ATTEMPT_MAX_OUTPUT + 1);
	size_t len = 0;
	ssize_t r;
	while (len <= ATTEMPT_MAX_OUTPUT &&
	       (r = read_retry(fd, data + len, ATTEMPT_MAX_OUTPUT + 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	if (len > ATTEMPT_MAX_OUTPUT) {
		o->output_error =
		    xasprintf("output is over %d bytes; the limit is 1 MiB", ATTEMPT_MAX_OUTPUT);
	} else if (len > 0) {
		json_error_t err;
		o->output = json_loadb(data, len, JSON_DECODE_ANY, &err);
		if (!o->output)
			o->output_error =
			    xasprintf("output is not valid JSON: %s at line %d column %d", err.text,
				      err.line, err.column);
	}
	free(data);
}

/* ---- the outcome ---- */

/* The last line of stderr that contains `needle`, trimmed, or NULL. */
static char *tail_line_with(struct sup *s, const char *needle)
{
	char *t = xstrndup(s->tail, s->tail_len);
	char *found = NULL, *save = NULL;
	for (char *line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, needle))
			found = line;
	char *r = NULL;
	if (found) {
		size_t n = strlen(found);
		while (n > 0 && (found[n - 1] == '\r' || found[n - 1] == ' '))
			n--;
		r = xstrndup(found, n > 300 ? 300 : n);
	}
	free(t);
	return r;
}

static void append_msg(struct buf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append_msg(struct buf *m, const char *fmt, ...)
{
	char b[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (m->len)
		buf_puts(m, "; ");
	buf_puts(m, b);
}

static void main_exit_message(struct sup *s, struct buf *m)
{
	if (!s->main_reaped) {
		append_msg(m, "the main process was not seen exiting");
		return;
	}
	int st = s->main_status;
	if (WIFSIGNALED(st)) {
		int sig = WTERMSIG(st);
		const char *abbrev = sigabbrev_np(sig);
		if (abbrev)
			append_msg(m, "killed by signal %d (SIG%s)", sig, abbrev);
		else
			append_msg(m, "killed by signal %d", sig);
		return;
	}
	int code = WEXITSTATUS(st);
	char *line = NULL;
	if (code == 127 && (line = tail_line_with(s, "not found")))
		append_msg(m, "exit 127: command not found (%s)", line);
	else if (code == 126 && (line = tail_line_with(s, "ermission denied")))
		append_msg(m, "exit 126: permission denied (%s)", line);
	else
		append_msg(m, "exit %d", code);
	free(line);
}

static void compose(struct sup *s, struct attempt_outcome *o)
{
	struct buf m = BUF_INIT;
	char d[32];
	int nk = (int)s->killed.n;
	if (s->main_reaped) {
		if (WIFEXITED(s->main_status))
			o->exit_code = WEXITSTATUS(s->main_status);
		else if (WIFSIGNALED(s->main_status))
			o->signal = WTERMSIG(s->main_status);
	}
	switch (s->reason) {
	case R_TIMEOUT:
		o->status = AS_TIMED_OUT;
		fmt_duration(d, sizeof(d), s->spec->timeout_ms);
		append_msg(&m, "timed out after %s; killed %d %s", d, nk, plural(nk));
		break;
	case R_CANCEL:
		o->status = AS_CANCELLED;
		append_msg(&m, "cancelled; killed %d %s", nk, plural(nk));
		break;
	case R_LOGFAIL:
		o->status = AS_FAILED;
		append_msg(&m, "log write failed: %s; killed %d %s", strerror(s->log_err), nk,
			   plural(nk));
		break;
	default:
		o->status = o->exit_code == 0 ? AS_SUCCESS : AS_FAILED;
		main_exit_message(s, &m);
		if (s->reason == R_LEFTOVERS)
			append_msg(&m, "ended %d leftover %s", nk, plural(nk));
		if (s->kept)
			append_msg(&m, "left %d leftover %s running", s->kept, plural(s->kept));
	}
	if (s->log_err && s->reason != R_LOGFAIL) {
		if (o->status == AS_SUCCESS)
			o->status = AS_FAILED;
		append_msg(&m, "log write failed: %s", strerror(s->log_err));
	}
	output_check(s, o);
	if (o->output_error && o->status == AS_SUCCESS) {
		o->status = AS_FAILED;
		buf_reset(&m);
		buf_puts(&m, o->output_error);
	}
	o->killed = nk;
	o->message = buf_detach(&m);
}

static _Noreturn void finish(struct sup *s, struct attempt_outcome *o)
{
	o->ended_at = real_ms();
	if (s->mask && o->message) {
		size_t n;
		auth_mask_line(s->mask, o->message, strlen(o->message), &n);
		o->message[n] = '\0';
	}
	int r = attempt_outcome_write(s->dir, o);
	if (r < 0)
		fatal(s, "cannot write the outcome in %s: %s", s->dir, strerror(-r));
	send_ev(s, "D\n");
	_exit(0);
}

/* ---- starting the task ---- */

/* Words that mean something else to sh than a program of that name (GNU make keeps a similar
 * list): keywords and builtins without a binary, or whose binary behaves differently. */
static const char *const shell_words[] = {
    "!",       ".",	   ":",	   "[[",    "alias", "bg",	 "break",    "case",	"cd",
    "command", "continue", "do",   "done",  "elif",  "else",	 "esac",     "eval",	"exec",
    "exit",    "export",   "fc",   "fg",    "fi",    "for",	 "function", "getopts", "hash",
    "if",      "in",	   "jobs", "local", "read",  "readonly", "return",   "select",	"set",
    "shift",   "source",   "then", "times", "trap",  "type",	 "ulimit",   "umask",	"unalias",
    "unset",   "until",	   "wait", "while", "{",     "}",
};

bool supervisor_command_is_plain(const char *cmd)
{
	for (const char *p = cmd; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == ' ' || strchr("_./,:+@%-", c) != NULL;
		if (!ok)
			return false;
	}
	const char *first = cmd + strspn(cmd, " ");
	size_t first_len = strcspn(first, " ");
	if (first_len == 0)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(shell_words); i++)
		if (strlen(shell_words[i]) == first_len &&
		    memcmp(shell_words[i], first, first_len) == 0)
			return false;
	return true;
}

struct task_exec {
	const char *file;
	char **argv;
	char **envp;
	const char *workdir;
	const char *path; /* PATH of envp, for the search */
	int outw, errw;
	int supfd; /* DIR/supervisor, or -1: the child appends "TASKPID\n" to it before exec */
	/* Written by the vfork child on failure (it shares our memory until it execs). */
	volatile int stage, err;
	volatile int pid_written; /* the child wrote its pid line */
};

/* execve(), and when the file is a script without #!, /bin/sh FILE ARGS like execvp. */
static void try_exec(struct task_exec *te, const char *path)
{
	execve(path, te->argv, te->envp);
	if (errno != ENOEXEC)
		return;
	size_t argc = 0;
	while (te->argv[argc])
		argc++;
	const char *v[argc + 2];
	v[0] = "/bin/sh";
	v[1] = path;
	for (size_t i = 1; i <= argc; i++)
		v[i + 1] = te->argv[i];
	execve("/bin/sh", (char **)v, te->envp);
	errno = ENOEXEC;
}

/* execvp() without touching `environ` (which the vfork child shares with us): search the task's
 * PATH, remember EACCES, report ENOENT when nothing was found. Allocates nothing. */
static void exec_search(struct task_exec *te)
{
	const char *file = te->file;
	if (strchr(file, '/')) {
		try_exec(te, file);
		return;
	}
	size_t flen = strlen(file);
	bool eacces = false;
	for (const char *p = te->path;;) {
		const char *colon = strchrnul(p, ':');
		size_t dlen = (size_t)(colon - p);
		char full[PATH_MAX];
		if (dlen + 1 + flen < sizeof(full)) {
			memcpy(full, p, dlen);
			size_t o = dlen;
			if (dlen)
				full[o++] = '/';
			memcpy(full + o, file, flen + 1);
			try_exec(te, full);
			switch (errno) {
			case EACCES:
				eacces = true;
				break;
			case ENOENT:
			case ENOTDIR:
			case ENAMETOOLONG:
			case ELOOP:
			case ESTALE:
			case ENODEV:
			case ETIMEDOUT:
				break;
			default:
				return;
			}
		}
		if (!*colon)
			break;
		p = colon + 1;
	}
	errno = eacces ? EACCES : ENOENT;
}

static _Noreturn void task_fail(struct task_exec *te, int stage)
{
	te->err = errno;
	te->stage = stage;
	_exit(127);
}

/* In the vfork child: becomes the task. It shares the supervisor's memory (not its fd table,
 * signal handlers or cwd) until exec, so it writes nothing but te->stage and te->err. */
__attribute__((noinline)) static _Noreturn void task_child(struct task_exec *te)
{
	setsid();
	/* The task's session id goes to DIR/supervisor before the task can run: a task that
	 * kills its supervisor at once must still be findable, so that whoever finds the
	 * supervisor dead ends the session (a retry must never overlap it). */
	if (te->supfd >= 0) {
		char line[16], *p = line + sizeof(line);
		*--p = '\n';
		for (unsigned v = (unsigned)getpid(); p == line + sizeof(line) - 1 || v; v /= 10)
			*--p = (char)('0' + v % 10);
		size_t len = (size_t)(line + sizeof(line) - p);
		if (write(te->supfd, p, len) == (ssize_t)len)
			te->pid_written = 1;
	}
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigaction(SIGPIPE, &dfl, NULL);
	sigaction(SIGHUP, &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(te->outw, 1) < 0 || dup2(te->errw, 2) < 0)
		task_fail(te, STAGE_SETUP);
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	if (te->workdir && chdir(te->workdir) < 0)
		task_fail(te, STAGE_CHDIR);
	exec_search(te);
	task_fail(te, STAGE_EXEC);
}

/* Start the task; returns its pid, or -1 with te->stage/err telling why. vfork: no copy of the
 * (launcher-sized) address space, and no report pipe, since vfork returns only once the child
 * has exec'd or exited. */
static pid_t task_spawn(struct task_exec *te)
{
	te->stage = 0;
	te->err = 0;
	pid_t pid = vfork();
	if (pid == 0)
		task_child(te);
	if (pid < 0) {
		te->stage = STAGE_SETUP;
		te->err = errno;
		return -1;
	}
	if (te->stage) {
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		return -1;
	}
	return pid;
}

static char *exec_failure_message(const struct task_exec *te)
{
	switch (te->stage) {
	case STAGE_CHDIR:
		return xasprintf("workdir %s: %s", te->workdir, strerror(te->err));
	case STAGE_EXEC:
		if (te->err == ENOENT && !strchr(te->file, '/'))
			return xasprintf("command not found: %s", te->file);
		if (te->err == EACCES)
			return xasprintf("permission denied: %s", te->file);
		return xasprintf("cannot execute %s: %s", te->file, strerror(te->err));
	default:
		return xasprintf("cannot start the task: %s", strerror(te->err));
	}
}

static char **build_env(struct sup *s)
{
	const char *const *env = s->spec->envp ? s->spec->envp : (const char *const *)environ;
	size_t n = 0;
	bool has_out = false, has_prog = false;
	for (; env[n]; n++) {
		has_out |= str_has_prefix(env[n], "GUST_OUTPUT=");
		has_prog |= str_has_prefix(env[n], "GUST_PROGRESS=");
	}
	char **e = xcalloc(n + 3, sizeof(char *));
	memcpy(e, env, n * sizeof(char *));
	if (!has_out)
		e[n++] = xasprintf("GUST_OUTPUT=%s/output", s->dir);
	if (!has_prog)
		e[n++] = xasprintf("GUST_PROGRESS=%s/progress", s->dir);
	return e;
}

static void build_argv(struct sup *s, struct task_exec *te)
{
	const struct attempt_spec *sp = s->spec;
	if (sp->argv) {
		te->argv = (char **)sp->argv;
		te->file = sp->argv[0];
		return;
	}
	const char *cmd = sp->shell ? sp->shell : "";
	if (supervisor_command_is_plain(cmd)) {
		char *copy = xstrdup(cmd);
		size_t n = 0, cap = 0;
		char **v = NULL;
		char *save = NULL;
		for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
			v = xrealloc_array(v, n + 2, sizeof(char *), &cap);
			v[n++] = w;
		}
		v[n] = NULL;
		te->argv = v;
		te->file = v[0];
		return;
	}
	char **v = xcalloc(4, sizeof(char *));
	v[0] = "sh";
	v[1] = "-c";
	v[2] = (char *)cmd;
	te->argv = v;
	te->file = "/bin/sh";
}

/* DIR/supervisor, line 1: "PID STARTTIME" of this supervisor, written before the task starts;
 * line 2: the task's pid (its session id), appended once it runs (supervisor_task_started). */
static void write_supervisor_file(struct sup *s)
{
	struct proc_stat st = {0};
	proc_stat_read(getpid(), &st);
	char line[64];
	int len = snprintf(line, sizeof(line), "%d %llu\n", (int)getpid(),
			   (unsigned long long)st.starttime);
	/* O_EXCL: a restarted server that found no supervisor file claims the folder by creating
	 * it first; then this (late) supervisor must not run the task. Exactly one side wins. */
	s->supfd = openat(s->dirfd, "supervisor",
			  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_APPEND, 0644);
	if (s->supfd < 0 && errno == EEXIST)
		fatal(s,
		      "%s/supervisor exists: the attempt was claimed by another process (a "
		      "restarted server); not starting the task",
		      s->dir);
	int e = s->supfd < 0 ? errno : write_all(s->supfd, line, (size_t)len);
	if (e)
		fatal(s, "cannot write %s/supervisor: %s", s->dir, strerror(e));
}

static void supervisor_task_started(struct sup *s, pid_t pid, bool written)
{
	char line[32];
	int len = snprintf(line, sizeof(line), "%d\n", (int)pid);
	if (s->supfd >= 0) {
		int e = written ? 0 : write_all(s->supfd, line, (size_t)len);
		if (close(s->supfd) < 0 && !e)
			e = errno;
		s->supfd = -1;
		(void)e; /* the task runs either way; the outcome file remains the truth */
	}
}

/* Detach from the launcher: own session, fds 0/1 on /dev/null, the event pipe on fd 3, every
 * other inherited descriptor closed, inherited handlers reset. From the zygote
 * (SUPERVISOR_FROM_ZYGOTE) most of that is already true: the zygote's session is not the
 * launcher's, fds 0/1 are /dev/null, the event pipe is fd 3 and close-on-exec, and every handler
 * is already SIG_DFL but SIGPIPE and SIGHUP, ignored; so only the subreaper remains. */
static int detach(int event_fd, unsigned flags)
{
	if ((flags & SUPERVISOR_FROM_ZYGOTE) && (event_fd == 3 || event_fd < 0)) {
		close_range(event_fd < 0 ? 3 : 4, ~0U, 0);
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
		return event_fd;
	}
	if (event_fd >= 0) {
		if (event_fd != 3) {
			dup2(event_fd, 3);
			event_fd = 3;
		}
		fcntl(3, F_SETFD, FD_CLOEXEC);
		close_range(4, ~0U, 0);
	} else {
		close_range(3, ~0U, 0);
	}
	setsid();
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	supervisor_reset_signals();
	int nul = open("/dev/null", O_RDWR);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		if (fcntl(2, F_GETFD) < 0)
			dup2(nul, 2);
		if (nul > 2)
			close(nul);
	}
	return event_fd;
}

void supervisor_reset_signals(void)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL}, ign = {.sa_handler = SIG_IGN};
	for (int sig = 1; sig < 32; sig++) {
		switch (sig) {
		case SIGKILL:
		case SIGSTOP:
		/* Synchronous faults: keep a sanitizer's handlers, they report our own bugs. */
		case SIGSEGV:
		case SIGBUS:
		case SIGFPE:
		case SIGILL:
		case SIGABRT:
		case SIGTRAP:
			continue;
		case SIGPIPE:
		case SIGHUP:
			sigaction(sig, &ign, NULL);
			break;
		default:
			sigaction(sig, &dfl, NULL);
		}
	}
}

static void epoll_add(struct sup *s, int fd, uint32_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		fatal(s, "epoll_ctl: %s", strerror(errno));
}

static void on_signals(struct sup *s)
{
	struct signalfd_siginfo si[8];
	bool chld = false;
	for (;;) {
		ssize_t n = read_retry(s->sigfd, si, sizeof(si));
		if (n <= 0)
			break;
		for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++) {
			switch (si[i].ssi_signo) {
			case SIGCHLD:
				chld = true;
				break;
			case SIGTERM:
			case SIGINT:
			case SIGUSR1:
				if (!s->main_reaped && s->reason == R_NONE)
					s->reason = R_CANCEL;
				if (!s->main_reaped || s->phase != PH_RUN)
					begin_kill(s, R_CANCEL, si[i].ssi_signo == SIGUSR1);
				break;
			}
		}
	}
	if (chld)
		reap(s);
}

_Noreturn void supervisor_main(const struct attempt_spec *spec, int event_fd)
{
	supervisor_run(spec, event_fd, 0);
}

_Noreturn void supervisor_run(const struct attempt_spec *spec, int event_fd, unsigned flags)
{
	struct sup sv = {.spec = spec, .dirfd = -1, .logfd = -1, .supfd = -1, .ts_sec = -1};
	struct sup *s = &sv;
	s->evfd = detach(event_fd, flags);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_SETMASK, &mask, NULL);

	if (spec->dir[0] == '/') {
		s->dir = (char *)spec->dir;
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			fatal(s, "getcwd: %s", strerror(errno));
		s->dir = xasprintf("%s/%s", cwd, spec->dir);
	}
	s->dirfd = open(s->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0)
		fatal(s, "cannot open the attempt directory %s: %s", s->dir, strerror(errno));
	write_supervisor_file(s);
	if (spec->secrets && spec->secrets[0]) {
		size_t n = 0;
		while (spec->secrets[n])
			n++;
		s->mask = auth_mask_new((const char *const *)spec->secrets, n);
	}

	struct attempt_outcome o = {.exit_code = -1};
	s->logfd =
	    openat(s->dirfd, "log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0644);
	if (s->logfd < 0) {
		o.status = AS_EXEC_FAILED;
		o.message = xasprintf("cannot open the log %s/log: %s", s->dir, strerror(errno));
		o.started_at = real_ms();
		finish(s, &o);
	}
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->epfd < 0 || s->sigfd < 0)
		fatal(s, "epoll/signalfd: %s", strerror(errno));
	epoll_add(s, s->sigfd, TAG_SIG);

	struct task_exec te = {.workdir = spec->workdir};
	build_argv(s, &te);
	te.envp = build_env(s);
	te.path = "/usr/local/bin:/usr/bin:/bin"; /* glibc's default when PATH is unset */
	for (char **e = te.envp; *e; e++)
		if (str_has_prefix(*e, "PATH="))
			te.path = *e + 5;
	s->so = (struct stream){.fd = -1, .tag = 'O'};
	s->se = (struct stream){.fd = -1, .tag = 'E'};

	int po[2], pe[2];
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
		fatal(s, "pipe: %s", strerror(errno));
	te.outw = po[1];
	te.errw = pe[1];
	te.supfd = s->supfd;
	o.started_at = real_ms();
	s->start_mono = mono_ms();
	if (!te.file) {
		o.status = AS_EXEC_FAILED;
		o.message = xstrdup("empty command");
		finish(s, &o);
	}
	pid_t pid = task_spawn(&te);
	close(po[1]);
	close(pe[1]);
	if (pid < 0) {
		close(po[0]);
		close(pe[0]);
		o.status = AS_EXEC_FAILED;
		o.message = exec_failure_message(&te);
		finish(s, &o);
	}
	s->main_pid = pid;
	s->have_children = true;
	supervisor_task_started(s, pid, te.pid_written);
	send_ev(s, "S %d\n", (int)pid);
	fcntl(po[0], F_SETFL, O_NONBLOCK);
	fcntl(pe[0], F_SETFL, O_NONBLOCK);
	s->so.fd = po[0];
	s->se.fd = pe[0];
	epoll_add(s, s->so.fd, TAG_OUT);
	epoll_add(s, s->se.fd, TAG_ERR);
	if (spec->timeout_ms > 0)
		s->dl_timeout = s->start_mono + spec->timeout_ms;
	s->dl_progress = s->start_mono + PROGRESS_POLL_MS;

	for (;;) {
		if (s->main_reaped) {
			s->dl_timeout = 0;
			if (!s->have_children)
				break;
			if (s->phase == PH_RUN) {
				if (spec->keep_leftovers && s->reason == R_NONE) {
					struct pidset d = {0};
					descendants(&d);
					s->kept = (int)d.n;
					free(d.v);
					log_note(
					    s,
					    "main process exited; leaving %d leftover %s running",
					    s->kept, plural(s->kept));
					break;
				}
				begin_kill(s, R_LEFTOVERS, false);
			}
		}
		int64_t now = mono_ms(), next = INT64_MAX;
		if (s->dl_timeout && now >= s->dl_timeout) {
			begin_kill(s, R_TIMEOUT, false);
			continue;
		}
		if (s->dl_grace && now >= s->dl_grace) {
			grace_over(s);
			continue;
		}
		if (s->dl_rekill && now >= s->dl_rekill) {
			reap(s);
			if (s->have_children) {
				if (s->phase == PH_TERM)
					kill_all(s, SIGTERM, true);
				else
					kill_all(s, SIGKILL, false);
			}
			if (s->rekill_every < 1000)
				s->rekill_every *= 2;
			s->dl_rekill = now + s->rekill_every;
			continue;
		}
		if (s->dl_timeout && s->dl_timeout < next)
			next = s->dl_timeout;
		if (s->dl_grace && s->dl_grace < next)
			next = s->dl_grace;
		if (s->dl_rekill && s->dl_rekill < next)
			next = s->dl_rekill;
		if (now >= s->dl_progress) {
			if (progress_changed(s))
				progress_check(s);
			s->dl_progress = now + PROGRESS_POLL_MS;
		}
		if (s->dl_progress < next)
			next = s->dl_progress;
		int wait_ms =
		    next == INT64_MAX ? -1 : (int)(next - now > INT_MAX ? INT_MAX : next - now);
		struct epoll_event evs[8];
		int n = epoll_wait(s->epfd, evs, 8, wait_ms);
		if (n < 0 && errno != EINTR)
			fatal(s, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case TAG_SIG:
				on_signals(s);
				break;
			case TAG_OUT:
				if (s->so.fd >= 0)
					stream_read(s, &s->so);
				break;
			case TAG_ERR:
				if (s->se.fd >= 0)
					stream_read(s, &s->se);
				break;
			}
		}
	}

	streams_drain(s);
	if (s->reason == R_LEFTOVERS)
		log_note(s, "ended %d leftover %s", (int)s->killed.n, plural((int)s->killed.n));
	log_flush(s);
	if (close(s->logfd) < 0 && !s->log_err)
		s->log_err = errno;
	if (progress_changed(s))
		progress_check(s);
	compose(s, &o);
	finish(s, &o);
}

int supervisor_spawn(const struct attempt_spec *spec, pid_t *ret_pid, int *ret_fd)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		supervisor_main(spec, p[1]);
	}
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -e;
	}
	*ret_pid = pid;
	*ret_fd = p[0];
	return 0;
}
