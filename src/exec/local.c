/*
 * local.c - the local executor (see local.h).
 *
 * Each running attempt is a struct lsup in an array (swap-removed, so lookups by key are
 * linear: fine for the few hundred attempts a machine runs at once). The epoll set holds, per
 * attempt, the read end of its event pipe and its pidfd, each tagged with a small handle that
 * points back to the lsup; plus one eventfd that stays readable while events are queued beyond
 * what the caller took, so a caller that polls only when the fd is readable never stalls.
 *
 * An attempt is reported finished when its supervisor says "D" (DIR/outcome is written; the
 * supervisor only has to _exit) or, failing that, when it is reaped, as lost if there is no
 * outcome. Lines are handled in order and the pipe is drained before a reaped supervisor is
 * reported, so STARTED and PROGRESS always come before FINISHED for the same key. A reported
 * supervisor stays in the array, not counted as running, until it is reaped.
 *
 * Supervisors come from the zygote (exec/zygote.h) when there is one. Those are not our
 * children: EOF on the event pipe says a supervisor is exiting (it holds the only write end,
 * close-on-exec), and the zygote's EXITED report gives the exit status (which a lost attempt's
 * message quotes). So their pidfd is kept for cancel() only, not watched. A reported supervisor
 * is forgotten at EOF; one that closed its pipe without "D" is reported when the EXITED report
 * comes, or at once if the zygote is gone (then without a status). The zygote's socket is in the epoll set; at EOF the zygote is reaped and a new one
 * is started by the next start(). A start whose request was in flight when the zygote died
 * fails (-ECONNABORTED) if no supervisor got the event pipe; if one did, it is kept as a running
 * attempt whose pid is learnt from DIR/supervisor when needed.
 */
#include "exec/local.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "exec/proctree.h"
#include "exec/supervisor.h"
#include "exec/zygote.h"

enum { H_PIPE, H_PIDFD, H_ZYGOTE };

struct lsup;

struct handle {
	struct lsup *sup;
	int kind;
};

struct lsup {
	uint64_t key;
	pid_t pid;
	pid_t task_pid; /* from "S": the task's session id; 0 before it started */
	int fd;	   /* event pipe, -1 after EOF */
	int pidfd; /* -1 if pidfd_open failed: then EOF on the pipe means exit */
	char *dir;
	char *xmsg;    /* "X" line: why the supervisor gave up */
	bool done;     /* "D" seen */
	bool reported; /* FINISHED queued (after "D", before the supervisor is reaped) */
	bool zyg;      /* forked by the zygote of generation zgen (not our child) */
	bool orphan;   /* zyg: its zygote is gone, no exit status will come */
	unsigned zgen;
	size_t idx;    /* position in local.sups */
	struct handle h_pipe, h_pidfd;
	size_t rlen;
	char rbuf[1024];
};

struct local {
	struct executor base;
	int epfd, evfd;
	bool ev_armed;
	struct lsup **sups;
	size_t nsups, capsups;
	size_t nrunning; /* sups not yet reported finished */
	struct executor_event *q;
	size_t qhead, qlen, qcap;
	struct zygote *z; /* NULL: none yet, or no_zygote */
	bool no_zygote;	  /* it cannot be started: supervisors are forked here */
	unsigned zgen;	  /* generation of z */
	struct handle h_zyg;
};

static struct executor_event *queue_push(struct local *l)
{
	if (l->qhead > 0 && l->qhead == l->qlen)
		l->qhead = l->qlen = 0;
	l->q = xrealloc_array(l->q, l->qlen + 1, sizeof(*l->q), &l->qcap);
	struct executor_event *ev = &l->q[l->qlen++];
	memset(ev, 0, sizeof(*ev));
	ev->outcome.exit_code = -1;
	return ev;
}

static void on_line(struct local *l, struct lsup *s, char *line)
{
	struct executor_event *ev;
	switch (line[0]) {
	case 'S':
		ev = queue_push(l);
		ev->key = s->key;
		ev->kind = EXEC_EV_STARTED;
		ev->pid = (int)strtol(line + 1, NULL, 10);
		s->task_pid = ev->pid;
		break;
	case 'P': {
		char *p = line + 1, *end;
		long done = strtol(p, &end, 10);
		long total = strtol(end, &p, 10);
		ev = queue_push(l);
		ev->key = s->key;
		ev->kind = EXEC_EV_PROGRESS;
		ev->progress_done = (int)done;
		ev->progress_total = (int)total;
		if (*p == ' ')
			p++;
		if (*p)
			ev->progress_msg = xstrdup(p);
		break;
	}
	case 'D':
		s->done = true;
		break;
	case 'X':
		free(s->xmsg);
		s->xmsg = xstrdup(line[1] == ' ' ? line + 2 : line + 1);
		break;
	}
}

/* Leave the epoll set explicitly before closing: a supervisor being forked at this moment
 * holds a copy of the descriptor until its close_range(), and a registration lives as long as
 * the open file description does, so close() alone could leave a stale entry. */
static void fd_drop(struct local *l, int *fd)
{
	if (*fd < 0)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, *fd, NULL);
	close(*fd);
	*fd = -1;
}

/* Read what the pipe holds now; closes it at EOF. */
static void pipe_read(struct local *l, struct lsup *s)
{
	while (s->fd >= 0) {
		ssize_t n = read(s->fd, s->rbuf + s->rlen, sizeof(s->rbuf) - 1 - s->rlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			fd_drop(l, &s->fd);
			return;
		}
		s->rlen += (size_t)n;
		char *start = s->rbuf, *nl;
		while ((nl = memchr(start, '\n', s->rlen - (size_t)(start - s->rbuf)))) {
			*nl = '\0';
			on_line(l, s, start);
			start = nl + 1;
		}
		s->rlen -= (size_t)(start - s->rbuf);
		memmove(s->rbuf, start, s->rlen);
		if (s->rlen == sizeof(s->rbuf) - 1)
			s->rlen = 0; /* not our protocol: drop */
	}
}

static void sup_remove(struct local *l, struct lsup *s)
{
	fd_drop(l, &s->fd);
	if (s->zyg && s->pidfd >= 0)
		close(s->pidfd); /* never in the epoll set */
	else
		fd_drop(l, &s->pidfd);
	size_t i = s->idx;
	l->sups[i] = l->sups[--l->nsups];
	l->sups[i]->idx = i;
	free(s->dir);
	free(s->xmsg);
	free(s);
}

/* The "TASKPID" line of DIR/supervisor, or 0. */
static pid_t task_pid_from_file(const char *dir)
{
	char *path = xasprintf("%s/supervisor", dir);
	FILE *f = fopen(path, "re");
	free(path);
	if (!f)
		return 0;
	char line[64];
	long pid = 0;
	if (fgets(line, sizeof(line), f) && fgets(line, sizeof(line), f))
		pid = strtol(line, NULL, 10);
	fclose(f);
	return pid > 0 ? (pid_t)pid : 0;
}

/* Queue the FINISHED event of s from its outcome file (or as lost). */
static void sup_report(struct local *l, struct lsup *s, bool have_status, int wstatus)
{
	if (s->reported)
		return;
	s->reported = true;
	l->nrunning--;
	struct executor_event *ev = queue_push(l);
	ev->key = s->key;
	ev->kind = EXEC_EV_FINISHED;
	int r = attempt_outcome_read(s->dir, &ev->outcome);
	if (r == 0)
		return;
	struct attempt_outcome *o = &ev->outcome;
	memset(o, 0, sizeof(*o));
	o->status = AS_LOST;
	o->exit_code = -1;
	o->ended_at = wall_ms();
	if (s->xmsg) {
		o->message = xasprintf("supervisor failed: %s", s->xmsg);
	} else if (have_status && WIFSIGNALED(wstatus)) {
		const char *abbrev = sigabbrev_np(WTERMSIG(wstatus));
		o->message = xasprintf("supervisor killed by signal %d (SIG%s) before recording "
				       "an outcome",
				       WTERMSIG(wstatus), abbrev ? abbrev : "?");
	} else if (have_status) {
		o->message = xasprintf("supervisor exited with status %d without recording an "
				       "outcome (%s)",
				       WEXITSTATUS(wstatus), strerror(-r));
	} else {
		o->message =
		    xasprintf("supervisor is gone without recording an outcome (%s)", strerror(-r));
	}
	/* The task may still run, unsupervised: end its session now, so that a retry never
	 * overlaps it. (Its supervisor, which would have granted a grace, is gone.) A task that
	 * killed its supervisor before the "S" line went out is named in DIR/supervisor, which
	 * the task itself writes before it runs. */
	if (s->task_pid <= 0 && s->dir)
		s->task_pid = task_pid_from_file(s->dir);
	if (s->task_pid > 0) {
		int killed = session_kill_all(s->task_pid, 5000);
		if (killed != 0) {
			char *m = o->message;
			o->message = killed > 0 ? xasprintf("%s; killed %d process%s it left running",
							    m, killed, killed == 1 ? "" : "es")
						: xasprintf("%s; some of its processes could not be "
							    "killed",
							    m);
			free(m);
		}
	}
}

/* The supervisor has been reaped: report it if "D" did not already, and forget it. */
static void sup_finished(struct local *l, struct lsup *s, bool have_status, int wstatus)
{
	pipe_read(l, s);
	sup_report(l, s, have_status, wstatus);
	sup_remove(l, s);
}

/* Reap the supervisor if it has exited (block only when it must have): returns true when it
 * did, and s is freed. */
static bool sup_try_reap(struct local *l, struct lsup *s, bool block)
{
	int st = 0;
	pid_t p;
	do
		p = waitpid(s->pid, &st, block ? 0 : WNOHANG);
	while (p < 0 && errno == EINTR);
	if (p == 0)
		return false;
	sup_finished(l, s, p > 0, st); /* p < 0: ECHILD, someone else reaped it */
	return true;
}

/* A supervisor of the zygote that is known to be gone (its pipe is at EOF): finish it unless
 * its exit status may still come (its zygote lives and the attempt is not reported yet).
 * Returns true when s is freed. */
static bool zsup_settle(struct local *l, struct lsup *s)
{
	if (s->fd >= 0)
		return false;
	if (!s->reported && !s->orphan)
		return false;
	sup_finished(l, s, false, 0);
	return true;
}

static struct lsup *find_zyg_pid(struct local *l, pid_t pid)
{
	for (size_t i = 0; i < l->nsups; i++) {
		struct lsup *s = l->sups[i];
		if (s->zyg && !s->orphan && s->zgen == l->zgen && s->pid == pid)
			return s;
	}
	return NULL;
}

/* The zygote died (or was stopped): reap it; its supervisors live on as orphans. */
static void zygote_gone(struct local *l)
{
	if (!l->z)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, zygote_fd(l->z), NULL);
	pid_t pid;
	int st;
	while (zygote_next_exit(l->z, true, &pid, &st)) {
		struct lsup *s = find_zyg_pid(l, pid);
		if (s)
			sup_finished(l, s, true, st);
	}
	zygote_stop(l->z);
	l->z = NULL;
	for (size_t i = l->nsups; i-- > 0;) {
		struct lsup *s = l->sups[i];
		if (s->zyg && s->zgen == l->zgen) {
			s->orphan = true;
			zsup_settle(l, s); /* swap-remove moves an already visited entry here */
		}
	}
}

/* Handle the zygote's EXITED reports (queued_only: those kept by zygote_spawn). */
static void zygote_exits(struct local *l, bool queued_only)
{
	pid_t pid;
	int st;
	while (l->z && zygote_next_exit(l->z, queued_only, &pid, &st)) {
		struct lsup *s = find_zyg_pid(l, pid);
		if (s)
			sup_finished(l, s, true, st);
	}
	if (l->z && !zygote_alive(l->z))
		zygote_gone(l);
}

static int zygote_up(struct local *l)
{
	if (l->z)
		return 0;
	if (l->no_zygote)
		return -ENOSYS;
	int r = zygote_start(&l->z);
	if (r < 0) {
		l->no_zygote = true;
		return r;
	}
	l->zgen++;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->h_zyg};
	epoll_ctl(l->epfd, EPOLL_CTL_ADD, zygote_fd(l->z), &ev);
	return 0;
}

/* Start a supervisor through the zygote. Returns 0 (pid, pidfd set; *adopt when the pid is not
 * known), -ENOSYS when there is no zygote, or another negative errno. */
static int zygote_start_sup(struct local *l, const struct attempt_spec *spec, int wfd, pid_t *pid,
			    int *pidfd, bool *adopt)
{
	*adopt = false;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (zygote_up(l) < 0)
			return -ENOSYS;
		int r = zygote_spawn(l->z, spec, wfd, pid, pidfd);
		if (r != -EPIPE && r != -ECONNABORTED) {
			zygote_exits(l, true);
			return r;
		}
		zygote_gone(l);
		if (r == -EPIPE)
			continue; /* it was gone before our request: nothing started, try again */
		return -ECONNABORTED;
	}
	return -ENOSYS;
}

/* Learn the pid of an adopted supervisor (DIR/supervisor: "PID STARTTIME"); 0 if unknown. */
static pid_t adopted_pid(struct lsup *s)
{
	char *path = xasprintf("%s/supervisor", s->dir);
	FILE *f = fopen(path, "re");
	free(path);
	if (!f)
		return 0;
	int pid = 0;
	unsigned long long start = 0;
	int n = fscanf(f, "%d %llu", &pid, &start);
	fclose(f);
	if (n != 2 || pid <= 1 || !proc_alive(pid, start))
		return 0;
	return pid;
}

static void arm_eventfd(struct local *l)
{
	bool pending = l->qhead < l->qlen;
	if (pending == l->ev_armed)
		return;
	uint64_t v = 1;
	ssize_t r = pending ? write(l->evfd, &v, sizeof(v)) : read(l->evfd, &v, sizeof(v));
	(void)r;
	l->ev_armed = pending;
}

static int local_start(struct executor *ex, uint64_t key, const struct attempt_spec *spec)
{
	struct local *l = (struct local *)ex;
	if (!spec || !spec->dir || (!spec->shell == !spec->argv))
		return -EINVAL;
	pid_t pid = 0;
	int fd, pidfd = -1;
	bool zyg = false, adopt = false;
	int r = -ENOSYS;
	if (!l->no_zygote) {
		int p[2];
		if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
			return -errno;
		r = zygote_start_sup(l, spec, p[1], &pid, &pidfd, &adopt);
		close(p[1]);
		fd = p[0];
		if (r == -ECONNABORTED) {
			/* In flight when the zygote died. Now that it is reaped, a write end left
			 * open can only be held by a supervisor it forked. */
			struct pollfd pf = {.fd = fd, .events = POLLIN};
			if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLHUP) && !(pf.revents & POLLIN)) {
				close(fd);
				arm_eventfd(l);
				return r;
			}
			adopt = true;
			r = 0;
		}
		if (r == 0)
			zyg = true;
		else
			close(fd);
	}
	if (r == -ENOSYS) {
		r = supervisor_spawn(spec, &pid, &fd);
		if (r == 0)
			pidfd = pidfd_open(pid, 0);
	}
	if (r < 0) {
		arm_eventfd(l);
		return r;
	}
	struct lsup *s = xcalloc(1, sizeof(*s));
	s->key = key;
	s->pid = pid;
	s->fd = fd;
	s->dir = xstrdup(spec->dir);
	s->h_pipe = (struct handle){s, H_PIPE};
	s->h_pidfd = (struct handle){s, H_PIDFD};
	s->pidfd = pidfd;
	s->zyg = zyg;
	s->zgen = l->zgen;
	s->orphan = adopt;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->h_pipe};
	epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
	if (s->pidfd >= 0 && !zyg) {
		ev.data.ptr = &s->h_pidfd;
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->pidfd, &ev) < 0) {
			close(s->pidfd);
			s->pidfd = -1;
		}
	}
	l->sups = xrealloc_array(l->sups, l->nsups + 1, sizeof(*l->sups), &l->capsups);
	s->idx = l->nsups;
	l->sups[l->nsups++] = s;
	l->nrunning++;
	arm_eventfd(l); /* the EXITED reports handled above may have queued events */
	return 0;
}

static struct lsup *find(struct local *l, uint64_t key)
{
	for (size_t i = 0; i < l->nsups; i++)
		if (l->sups[i]->key == key && !l->sups[i]->reported)
			return l->sups[i];
	return NULL;
}

static int local_cancel(struct executor *ex, uint64_t key, bool immediate)
{
	struct lsup *s = find((struct local *)ex, key);
	if (!s)
		return -ENOENT;
	int sig = immediate ? SIGUSR1 : SIGTERM;
	if (s->pidfd < 0 && s->zyg && s->pid <= 0) {
		/* adopted after its zygote died: find it through DIR/supervisor */
		s->pid = adopted_pid(s);
		if (s->pid > 0)
			s->pidfd = pidfd_open(s->pid, 0);
		if (s->pid <= 0)
			return -ESRCH;
	}
	/* Not reaped yet (for a supervisor of the zygote: the pidfd), so the pid cannot have been
	 * recycled; the pidfd is still preferred. */
	int r = s->pidfd >= 0 ? pidfd_send_signal(s->pidfd, sig, NULL, 0) : kill(s->pid, sig);
	return r < 0 ? -errno : 0;
}

static int local_fd(struct executor *ex)
{
	return ((struct local *)ex)->epfd;
}

static size_t local_poll(struct executor *ex, struct executor_event *evs, size_t max)
{
	struct local *l = (struct local *)ex;
	struct epoll_event ee[64];
	int n = epoll_wait(l->epfd, ee, 64, 0);
	/* Pipes first: a supervisor's last lines must be read before it is reaped. Entries of a
	 * supervisor that has been freed are cleared from the batch. */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < n; i++) {
			struct handle *h = ee[i].data.ptr;
			if (!h || h->kind != (pass == 0 ? H_PIPE : H_PIDFD))
				continue;
			struct lsup *s = h->sup;
			bool reaped;
			if (pass == 0) {
				pipe_read(l, s);
				/* "D": the outcome is on disk; report now rather than after the
				 * supervisor's own exit, so the next attempt can start. */
				if (s->done)
					sup_report(l, s, false, 0);
				if (s->fd >= 0)
					continue;
				/* EOF: the supervisor is exiting (it holds the only write end) */
				reaped = s->zyg ? zsup_settle(l, s) : sup_try_reap(l, s, true);
			} else if (s->zyg) {
				reaped = false; /* not watched */
			} else {
				reaped = sup_try_reap(l, s, false);
			}
			if (reaped)
				for (int j = 0; j < n; j++)
					if (ee[j].data.ptr == &s->h_pidfd ||
					    ee[j].data.ptr == &s->h_pipe)
						ee[j].data.ptr = NULL;
		}
	}
	/* The zygote's reports last: they may free any supervisor. */
	for (int i = 0; i < n; i++) {
		if (ee[i].data.ptr == &l->h_zyg) {
			zygote_exits(l, false);
			break;
		}
	}
	size_t k = 0;
	while (k < max && l->qhead < l->qlen)
		evs[k++] = l->q[l->qhead++];
	arm_eventfd(l);
	return k;
}

static size_t local_running(struct executor *ex)
{
	return ((struct local *)ex)->nrunning;
}

static void local_destroy(struct executor *ex)
{
	struct local *l = (struct local *)ex;
	if (!l)
		return;
	while (l->nsups) {
		struct lsup *s = l->sups[0];
		/* A reported supervisor has written its outcome and is exiting: reap it so it does
		 * not linger as a zombie (the zygote's are reaped by the zygote, or by init once
		 * it is gone). A running one is left running (see local.h). */
		if (s->reported && !s->zyg)
			while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
				;
		sup_remove(l, s);
	}
	if (l->z) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, zygote_fd(l->z), NULL);
		zygote_stop(l->z);
	}
	for (size_t i = l->qhead; i < l->qlen; i++)
		executor_event_free(&l->q[i]);
	free(l->q);
	free(l->sups);
	close(l->epfd);
	close(l->evfd);
	free(l);
}

static const struct executor_ops local_ops = {
    .name = "local",
    .start = local_start,
    .cancel = local_cancel,
    .fd = local_fd,
    .poll = local_poll,
    .running = local_running,
    .destroy = local_destroy,
};

int local_executor_zygote_pid(struct executor *ex)
{
	struct local *l = (struct local *)ex;
	return l->z ? (int)zygote_pid(l->z) : -1;
}

struct executor *local_executor_new(void)
{
	struct local *l = xcalloc(1, sizeof(*l));
	l->base.ops = &local_ops;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->evfd < 0) {
		int e = errno;
		if (l->epfd >= 0)
			close(l->epfd);
		if (l->evfd >= 0)
			close(l->evfd);
		free(l);
		errno = e;
		return NULL;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev);
	l->h_zyg = (struct handle){NULL, H_ZYGOTE};
	const char *z = getenv("GUST_EXEC_ZYGOTE");
	l->no_zygote = z && strcmp(z, "0") == 0;
	zygote_up(l); /* on failure, no_zygote: supervisors are forked here */
	return &l->base;
}
