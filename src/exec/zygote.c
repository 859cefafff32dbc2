/*
 * zygote.c - the supervisor-forking helper (see zygote.h).
 *
 * The launcher side is a blocking request/answer on a SOCK_SEQPACKET socket (SO_RCVTIMEO bounds
 * the wait, so a stopped or wedged zygote is killed rather than waited for), plus a queue of the
 * EXITED reports that arrived before the answer. The zygote side is a poll() loop over the
 * socket and a signalfd for SIGCHLD.
 *
 * A SPAWN message is a struct zspawn followed by NUL-terminated strings: dir, then shell (ZF_SHELL)
 * or argc argv strings, then workdir (ZF_WORKDIR), then envc envp strings, then secretc secrets
 * (the values the supervisor masks in the log; attempt.h). Up to ZINLINE_MAX
 * bytes travel in the message; larger specs (a long script, a big environment) are written to a
 * memfd sent along (ZF_MEMFD).
 */
#include "exec/zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/util.h"
#include "exec/supervisor.h"

extern char **environ;

enum { ZM_HELLO = 0x475a0001, ZM_SPAWN, ZM_SPAWNED, ZM_EXITED };
enum { ZF_SHELL = 1, ZF_WORKDIR = 2, ZF_KEEP = 4, ZF_MEMFD = 8 };

#define ZINLINE_MAX (48 * 1024)	 /* spec bytes carried in the message itself */
#define ZHELLO_TIMEOUT_MS 10000	 /* exec of the binary, sanitizer start-up included */
#define ZREPLY_TIMEOUT_S 30	 /* a fork that takes longer: the zygote is wedged */
#define ZFD_MIN 100		 /* the zygote's own descriptors live above this */

struct zmsg {
	uint32_t kind;
	int32_t pid;
	int32_t status; /* unused */
	int32_t err;	/* SPAWNED: errno of a failed fork, else 0 */
};

/* EXITED: n (pid, wait status) pairs. */
#define ZEXIT_BATCH 64
struct zexited {
	uint32_t kind;
	uint32_t n;
	int32_t v[2 * ZEXIT_BATCH];
};

#define ZEXIT_DELAY_MS 100 /* an exit with status 0 may wait this long to be reported */

struct zspawn {
	uint32_t kind;
	uint32_t flags;
	int64_t timeout_ms, kill_grace_ms;
	uint32_t argc, envc, len, secretc;
};

struct zexit {
	pid_t pid;
	int status;
};

struct zygote {
	pid_t pid;
	int sock;
	bool alive;
	struct zexit *q;
	size_t qhead, qlen, qcap;
};

/* ---- messages ---- */

static int send_fds(int sock, const void *p, size_t n, const int *fds, int nfds)
{
	struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds > 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	}
	ssize_t w;
	do
		w = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w < 0 ? -errno : 0;
}

/* One message into p (at most n bytes) and up to 2 descriptors into fds (-1 when absent).
 * Returns its length, 0 at EOF, or a negative errno. */
static ssize_t recv_fds(int sock, void *p, size_t n, int fds[2], int flags)
{
	struct iovec iov = {.iov_base = p, .iov_len = n};
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	fds[0] = fds[1] = -1;
	ssize_t r;
	do
		r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int tmp[8];
		if (k > 8)
			k = 8;
		memcpy(tmp, CMSG_DATA(c), k * sizeof(int));
		for (size_t i = 0; i < k; i++) {
			if (i < 2 && fds[i] < 0)
				fds[i] = tmp[i];
			else
				close(tmp[i]);
		}
	}
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	return r;
}

/* ---- the zygote process ---- */

/* Move fd above ZFD_MIN (close-on-exec), so that received descriptors land on 3 and 4. */
static int move_high(int fd)
{
	int h = fcntl(fd, F_DUPFD_CLOEXEC, ZFD_MIN);
	if (h < 0)
		_exit(1);
	close(fd);
	return h;
}

/* Rebuild the spec from a SPAWN payload (in the child; allocations are the supervisor's). */
static int parse_spawn(const struct zspawn *h, char *p, size_t len, struct attempt_spec *sp)
{
	char *end = p + len;
	if (len == 0 || end[-1] != '\0')
		return -EINVAL;
	size_t nstr = 1 + ((h->flags & ZF_SHELL) ? 1 : h->argc) +
		      ((h->flags & ZF_WORKDIR) ? 1 : 0) + h->envc + h->secretc;
	char **v = calloc(nstr + 3, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < nstr; i++) {
		if (p >= end)
			return -EINVAL;
		v[i] = p;
		p += strlen(p) + 1;
	}
	size_t k = 0;
	memset(sp, 0, sizeof(*sp));
	sp->dir = v[k++];
	if (h->flags & ZF_SHELL) {
		sp->shell = v[k++];
	} else {
		/* argv needs its own NULL-terminated array */
		char **a = calloc(h->argc + 1, sizeof(char *));
		if (!a)
			return -ENOMEM;
		memcpy(a, v + k, h->argc * sizeof(char *));
		sp->argv = (const char *const *)a;
		k += h->argc;
	}
	if (h->flags & ZF_WORKDIR)
		sp->workdir = v[k++];
	if (h->secretc) {
		/* the environment needs its own NULL after it: secrets follow it */
		char **e = calloc(h->envc + 1, sizeof(char *));
		if (!e)
			return -ENOMEM;
		memcpy(e, v + k, h->envc * sizeof(char *));
		sp->envp = (const char *const *)e;
		sp->secrets = (const char *const *)(v + k + h->envc); /* v[nstr] is NULL */
	} else {
		sp->envp = (const char *const *)(v + k); /* v[nstr] is NULL */
	}
	sp->timeout_ms = h->timeout_ms;
	sp->kill_grace_ms = h->kill_grace_ms;
	sp->keep_leftovers = (h->flags & ZF_KEEP) != 0;
	return 0;
}

static _Noreturn void child_run(const struct zspawn *h, char *inline_p, size_t inline_len,
				int evfd, int memfd)
{
	char *p = inline_p;
	size_t len = inline_len;
	if (memfd >= 0) {
		struct stat st;
		if (fstat(memfd, &st) < 0 || st.st_size <= 0)
			_exit(1);
		len = (size_t)st.st_size;
		p = malloc(len);
		if (!p || pread(memfd, p, len, 0) != (ssize_t)len)
			_exit(1);
		close(memfd);
	}
	struct attempt_spec sp;
	if (parse_spawn(h, p, len, &sp) < 0)
		_exit(1); /* the launcher sees EOF without "D": lost */
	supervisor_run(&sp, evfd, SUPERVISOR_FROM_ZYGOTE);
}

static bool spawn_valid(const struct zspawn *h, ssize_t n, const int fds[2])
{
	return (size_t)n >= sizeof(*h) && h->kind == ZM_SPAWN && fds[0] >= 0 &&
	       ((h->flags & ZF_MEMFD) ? fds[1] >= 0 : (size_t)n == sizeof(*h) + h->len);
}

/* A spare: a supervisor forked ahead of time, waiting for its SPAWN, so that the fork is not
 * on the launcher's critical path (the zygote answers at once and forks the next spare while
 * the attempt starts). */
struct spare {
	pid_t pid; /* 0: none */
	int pidfd;
	int sock; /* the zygote's end of a socket pair to it */
};

/* In the spare: wait for the SPAWN the zygote forwards, then become its supervisor. EOF (the
 * zygote is gone or dropped it): exit. */
static _Noreturn void spare_main(int csock, char *buf, size_t cap)
{
	int fds[2];
	ssize_t n = recv_fds(csock, buf, cap, fds, 0); /* lands on fds 3 and 4 */
	if (n <= 0)
		_exit(0);
	close(csock);
	const struct zspawn *h = (const struct zspawn *)buf;
	if (!spawn_valid(h, n, fds))
		_exit(1);
	child_run(h, buf + sizeof(*h), h->len, fds[0], fds[1]);
}

static void spare_drop(struct spare *sp)
{
	if (sp->pid <= 0)
		return;
	close(sp->sock); /* it exits at EOF; reaped like any child */
	if (sp->pidfd >= 0)
		close(sp->pidfd);
	sp->pid = 0;
}

static void spare_make(struct spare *sp, int sock, int sigfd, char *buf, size_t cap,
		       const sigset_t *all, const sigset_t *base)
{
	int sv[2];
	if (sp->pid > 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	for (int i = 0; i < 2; i++) {
		int h = fcntl(sv[i], F_DUPFD_CLOEXEC, ZFD_MIN);
		if (h >= 0) {
			close(sv[i]);
			sv[i] = h;
		}
	}
	sigprocmask(SIG_SETMASK, all, NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(sock);
		close(sigfd);
		close(sv[0]);
		spare_main(sv[1], buf, cap);
	}
	sigprocmask(SIG_SETMASK, base, NULL);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return;
	}
	sp->pid = pid;
	sp->sock = sv[0];
	sp->pidfd = pidfd_open(pid, 0);
}

static void flush_exits(int sock, struct zexited *ex)
{
	if (ex->n == 0)
		return;
	size_t len = offsetof(struct zexited, v) + 2 * ex->n * sizeof(int32_t);
	if (send_fds(sock, ex, len, NULL, 0) < 0)
		_exit(0); /* the launcher is gone */
	ex->n = 0;
}

static _Noreturn void zygote_main(int sock)
{
	sock = move_high(sock);
	close_range(3, ZFD_MIN - 1, 0);
	if (sock > ZFD_MIN)
		close_range(ZFD_MIN, (unsigned)sock - 1, 0);
	close_range((unsigned)sock + 1, ~0U, 0);
	supervisor_reset_signals();
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul >= 0) {
		dup3(nul, 0, 0);
		dup3(nul, 1, 0);
		if (fcntl(2, F_GETFD) < 0)
			dup3(nul, 2, 0);
		if (nul > 2)
			close(nul);
	}
	sigset_t chld, all, base;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &chld, &base);
	base = chld;
	int sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0)
		_exit(1);
	sigfd = move_high(sigfd);
	if (getsid(0) != getpid())
		setsid(); /* posix_spawn did it, unless started some other way */
	/* jansson seeds its hash function from /dev/urandom on first use: once here, not in
	 * every supervisor (three system calls each). */
	json_object_seed(0);

	struct zmsg hello = {.kind = ZM_HELLO, .pid = (int32_t)getpid()};
	if (send_fds(sock, &hello, sizeof(hello), NULL, 0) < 0)
		_exit(0);

	static char buf[sizeof(struct zspawn) + ZINLINE_MAX];
	struct zexited ex = {.kind = ZM_EXITED};
	struct spare spare = {0};
	spare_make(&spare, sock, sigfd, buf, sizeof(buf), &all, &base);
	struct pollfd pf[2] = {{.fd = sock, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
	for (;;) {
		int pr = poll(pf, 2, ex.n ? ZEXIT_DELAY_MS : -1);
		if (pr < 0 && errno != EINTR)
			_exit(1);
		if (pr == 0)
			flush_exits(sock, &ex);
		if (pr > 0 && pf[1].revents) {
			struct signalfd_siginfo si[16];
			while (read(sigfd, si, sizeof(si)) > 0)
				;
			int st;
			pid_t p;
			bool urgent = false;
			while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
				if (p == spare.pid) {
					spare_drop(&spare); /* died idle: no attempt of the launcher */
					continue;
				}
				if (ex.n == ZEXIT_BATCH)
					flush_exits(sock, &ex);
				ex.v[2 * ex.n] = (int32_t)p;
				ex.v[2 * ex.n + 1] = st;
				ex.n++;
				urgent |= st != 0;
			}
			/* A supervisor ends with status 0 only after writing its outcome and saying
			 * "D": the launcher needs that report only to free a slot, so it waits for
			 * the next SPAWNED (no extra wake-up per attempt). Any other status may be a
			 * lost attempt: at once. */
			if (urgent)
				flush_exits(sock, &ex);
		}
		if (pr <= 0 || !pf[0].revents)
			continue;
		int fds[2];
		ssize_t n = recv_fds(sock, buf, sizeof(buf), fds, MSG_DONTWAIT);
		if (n == -EAGAIN)
			continue;
		if (n <= 0)
			_exit(0); /* the launcher is gone (or spoke nonsense) */
		const struct zspawn *h = (const struct zspawn *)buf;
		struct zmsg m = {.kind = ZM_SPAWNED};
		int pidfd = -1;
		if (!spawn_valid(h, n, fds)) {
			m.err = EINVAL;
		} else if (spare.pid > 0 && spare.pidfd >= 0 &&
			   send_fds(spare.sock, buf, (size_t)n, fds, fds[1] >= 0 ? 2 : 1) == 0) {
			/* The spare has its spec (and its own copies of the descriptors). */
			m.pid = (int32_t)spare.pid;
			pidfd = spare.pidfd;
			close(spare.sock);
			spare.pid = 0;
		} else {
			spare_drop(&spare);
			/* All signals blocked across fork: a cancel sent at once is kept pending
			 * for the supervisor's signalfd (supervisor_main's precondition). */
			sigprocmask(SIG_SETMASK, &all, NULL);
			pid_t pid = fork();
			if (pid == 0) {
				close(sock);
				close(sigfd);
				child_run(h, buf + sizeof(*h), h->len, fds[0], fds[1]);
			}
			int e = errno;
			sigprocmask(SIG_SETMASK, &base, NULL);
			if (pid < 0) {
				m.err = e;
			} else {
				m.pid = (int32_t)pid;
				pidfd = pidfd_open(pid, 0);
			}
		}
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		flush_exits(sock, &ex); /* before SPAWNED: a pid may be reused by the new child */
		int r = send_fds(sock, &m, sizeof(m), &pidfd, pidfd >= 0 ? 1 : 0);
		if (pidfd >= 0)
			close(pidfd);
		if (r < 0)
			_exit(0);
		spare_make(&spare, sock, sigfd, buf, sizeof(buf), &all, &base);
	}
}

void zygote_hook(int argc, char **argv)
{
	if (argc != 3 || strcmp(argv[1], ZYGOTE_ARG) != 0)
		return;
	char *end;
	long fd = strtol(argv[2], &end, 10);
	if (*end || fd < 3 || fd >= ZFD_MIN)
		_exit(2);
	/* Set by zygote_start so that the dynamic linker resolved every symbol before main(),
	 * once, rather than in each supervisor (a lazy binding there is a symbol search plus a
	 * copy-on-write fault of a GOT page). Not passed on: tasks get the spec's environment. */
	unsetenv("LD_BIND_NOW");
	prctl(PR_SET_NAME, "gust", 0, 0, 0); /* not "exe"; supervisors inherit it */
	zygote_main((int)fd);
}

/* ---- the launcher side ---- */

int zygote_fd(const struct zygote *z)
{
	return z->sock;
}

bool zygote_alive(const struct zygote *z)
{
	return z->alive;
}

pid_t zygote_pid(const struct zygote *z)
{
	return z->pid;
}

static void reap_zygote(struct zygote *z)
{
	if (z->pid <= 0)
		return;
	while (waitpid(z->pid, NULL, 0) < 0 && errno == EINTR)
		;
	z->pid = -1;
}

/* The zygote is dead or must be: kill it (it holds nothing of value; supervisors live on),
 * reap it, so that every descriptor it held, in flight ones included, is closed. */
static void zygote_lost(struct zygote *z)
{
	if (z->pid > 0)
		kill(z->pid, SIGKILL);
	reap_zygote(z);
	z->alive = false;
}

void zygote_stop(struct zygote *z)
{
	if (!z)
		return;
	close(z->sock);
	zygote_lost(z);
	free(z->q);
	free(z);
}

int zygote_start(struct zygote **ret)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* posix_spawn: a vfork, so starting the zygote costs no copy of a big launcher. */
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 3); /* also clears FD_CLOEXEC if sv[1] == 3 */
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	/* Its own session (so its own process group, no controlling terminal): a Ctrl-C or a
	 * hangup meant for the launcher does not reach it, nor the supervisors it forks, which
	 * stay in this session instead of each creating one (setsid also creates a scheduler
	 * autogroup: ~25 us per attempt on this VM). */
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					  POSIX_SPAWN_SETSID);
	char *argv[] = {"gust", ZYGOTE_ARG, "3", NULL};
	size_t nenv = 0;
	while (environ[nenv])
		nenv++;
	char **env = xcalloc(nenv + 2, sizeof(char *));
	size_t k = 0;
	for (size_t i = 0; i < nenv; i++)
		if (strncmp(environ[i], "LD_BIND_NOW=", 12) != 0)
			env[k++] = environ[i];
	env[k++] = "LD_BIND_NOW=1";
	pid_t pid;
	int r = posix_spawn(&pid, "/proc/self/exe", &fa, &at, argv, env);
	free(env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(sv[1]);
	if (r != 0) {
		close(sv[0]);
		return -r;
	}
	struct zygote *z = xcalloc(1, sizeof(*z));
	z->pid = pid;
	z->sock = sv[0];
	z->alive = true;
	struct pollfd pf = {.fd = z->sock, .events = POLLIN};
	struct zmsg m;
	int fds[2];
	int pr;
	do
		pr = poll(&pf, 1, ZHELLO_TIMEOUT_MS);
	while (pr < 0 && errno == EINTR);
	ssize_t n = pr > 0 ? recv_fds(z->sock, &m, sizeof(m), fds, MSG_DONTWAIT) : -ETIMEDOUT;
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0 && pr > 0)
			close(fds[i]);
	if (n != (ssize_t)sizeof(m) || m.kind != ZM_HELLO) {
		/* Not a binary that knows __zygote (no zygote_hook in its main), or it failed. */
		zygote_stop(z);
		return n < 0 ? (int)n : -EPROTO;
	}
	struct timeval tv = {.tv_sec = ZREPLY_TIMEOUT_S};
	setsockopt(z->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*ret = z;
	return 0;
}

static void push_exit(struct zygote *z, pid_t pid, int status)
{
	if (z->qhead > 0 && z->qhead == z->qlen)
		z->qhead = z->qlen = 0;
	z->q = xrealloc_array(z->q, z->qlen + 1, sizeof(*z->q), &z->qcap);
	z->q[z->qlen++] = (struct zexit){pid, status};
}

/* Queue the reports of an EXITED message; false if it is not one. */
static bool take_exited(struct zygote *z, const void *p, ssize_t n)
{
	const struct zexited *e = p;
	if (n < (ssize_t)offsetof(struct zexited, v) || e->kind != ZM_EXITED ||
	    e->n > ZEXIT_BATCH || (size_t)n != offsetof(struct zexited, v) + 2 * e->n * sizeof(int32_t))
		return false;
	for (uint32_t i = 0; i < e->n; i++)
		push_exit(z, e->v[2 * i], e->v[2 * i + 1]);
	return true;
}

/* Serialize a spec; returns the payload (malloc'd) and fills h. */
static char *pack(const struct attempt_spec *spec, struct zspawn *h)
{
	const char *const *envp = spec->envp ? spec->envp : (const char *const *)environ;
	memset(h, 0, sizeof(*h));
	h->kind = ZM_SPAWN;
	h->timeout_ms = spec->timeout_ms;
	h->kill_grace_ms = spec->kill_grace_ms;
	size_t len = strlen(spec->dir) + 1;
	if (spec->shell) {
		h->flags |= ZF_SHELL;
		len += strlen(spec->shell) + 1;
	} else {
		for (; spec->argv[h->argc]; h->argc++)
			len += strlen(spec->argv[h->argc]) + 1;
	}
	if (spec->workdir) {
		h->flags |= ZF_WORKDIR;
		len += strlen(spec->workdir) + 1;
	}
	if (spec->keep_leftovers)
		h->flags |= ZF_KEEP;
	for (; envp[h->envc]; h->envc++)
		len += strlen(envp[h->envc]) + 1;
	for (; spec->secrets && spec->secrets[h->secretc]; h->secretc++)
		len += strlen(spec->secrets[h->secretc]) + 1;
	char *buf = xmalloc(sizeof(*h) + len);
	char *o = buf + sizeof(*h);
#define PUT(s)                                                                                     \
	do {                                                                                       \
		size_t l_ = strlen(s) + 1;                                                         \
		memcpy(o, s, l_);                                                                  \
		o += l_;                                                                           \
	} while (0)
	PUT(spec->dir);
	if (spec->shell)
		PUT(spec->shell);
	else
		for (uint32_t i = 0; i < h->argc; i++)
			PUT(spec->argv[i]);
	if (spec->workdir)
		PUT(spec->workdir);
	for (uint32_t i = 0; i < h->envc; i++)
		PUT(envp[i]);
	for (uint32_t i = 0; i < h->secretc; i++)
		PUT(spec->secrets[i]);
#undef PUT
	h->len = (uint32_t)len;
	return buf;
}

int zygote_spawn(struct zygote *z, const struct attempt_spec *spec, int event_fd, pid_t *ret_pid,
		 int *ret_pidfd)
{
	if (!z->alive)
		return -EPIPE;
	if (!spec->dir || (!spec->shell == !spec->argv))
		return -EINVAL;
	struct zspawn h;
	char *buf = pack(spec, &h);
	size_t len = h.len;
	int fds[2] = {event_fd, -1};
	int r;
	if (len > ZINLINE_MAX) {
		h.flags |= ZF_MEMFD;
		fds[1] = memfd_create("gust-spec", MFD_CLOEXEC);
		if (fds[1] < 0) {
			free(buf);
			return -errno;
		}
		const char *p = buf + sizeof(h);
		size_t left = len;
		while (left > 0) {
			ssize_t w = write(fds[1], p, left);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				int e = w < 0 ? errno : EIO;
				close(fds[1]);
				free(buf);
				return -e;
			}
			p += w;
			left -= (size_t)w;
		}
		memcpy(buf, &h, sizeof(h));
		r = send_fds(z->sock, buf, sizeof(h), fds, 2);
		close(fds[1]);
	} else {
		memcpy(buf, &h, sizeof(h));
		r = send_fds(z->sock, buf, sizeof(h) + len, fds, 1);
	}
	free(buf);
	if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN || r == -ECONNREFUSED) {
		zygote_lost(z);
		return -EPIPE;
	}
	if (r < 0)
		return r;
	for (;;) {
		union {
			struct zmsg m;
			struct zexited e;
		} u;
		struct zmsg m;
		int got[2];
		ssize_t n = recv_fds(z->sock, &u, sizeof(u), got, 0);
		if (take_exited(z, &u, n)) {
			for (int i = 0; i < 2; i++)
				if (got[i] >= 0)
					close(got[i]);
			continue;
		}
		m = u.m;
		if (n == (ssize_t)sizeof(m) && m.kind == ZM_SPAWNED) {
			if (got[1] >= 0)
				close(got[1]);
			if (m.err) {
				if (got[0] >= 0)
					close(got[0]);
				return -m.err;
			}
			*ret_pid = m.pid;
			*ret_pidfd = got[0];
			return 0;
		}
		for (int i = 0; i < 2; i++)
			if (got[i] >= 0)
				close(got[i]);
		/* EOF, timeout (EAGAIN after SO_RCVTIMEO) or garbage: the request is lost. */
		zygote_lost(z);
		return -ECONNABORTED;
	}
}

bool zygote_next_exit(struct zygote *z, bool queued_only, pid_t *ret_pid, int *ret_status)
{
	if (z->qhead < z->qlen) {
		*ret_pid = z->q[z->qhead].pid;
		*ret_status = z->q[z->qhead].status;
		z->qhead++;
		return true;
	}
	if (queued_only || !z->alive)
		return false;
	for (;;) {
		union {
			struct zmsg m;
			struct zexited e;
		} u;
		int got[2];
		ssize_t n = recv_fds(z->sock, &u, sizeof(u), got, MSG_DONTWAIT);
		for (int i = 0; i < 2; i++)
			if (got[i] >= 0)
				close(got[i]);
		if (n == -EAGAIN)
			return false;
		if (take_exited(z, &u, n))
			return zygote_next_exit(z, true, ret_pid, ret_status);
		if (n == (ssize_t)sizeof(u.m))
			continue; /* nothing else is expected here */
		zygote_lost(z);
		return false;
	}
}
