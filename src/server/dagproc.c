/*
 * dagproc.c - the DAG processor: the child's loop and the server's worker thread (dagproc.h).
 *
 * Request (server -> processor):  "GDQ1" u32 kind  u32 path_len  u32 text_len  path  text
 * Answer  (processor -> server):  "GDR1" u32 payload_len  payload (a ytree_wire message)
 * A DAG file's answer holds the tree when the file is valid and only the problems otherwise
 * (the processor runs the whole of dag_load, so they are every problem, located); a config
 * file's answer holds the tree and the YAML problems.
 */
#include "server/dagproc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/hash.h"
#include "base/util.h"
#include "dag/dag_load.h"
#include "dag/yaml_tree.h"
#include "dag/ytree_wire.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#define MAX_ANSWER (1024u * 1024 * 1024)

extern char **environ;

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	char *c = p;
	while (n) {
		ssize_t r = read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* ---- the processor ------------------------------------------------------------------------ */

static struct ynode *parse_keep(struct arena *a, const char *text, size_t len,
				struct diag_list *diags, void *ctx)
{
	struct ynode *root = ytree_parse(a, text, len, diags);
	*(struct ynode **)ctx = root;
	return root;
}

static void test_fault(const char *text, size_t len)
{
	static const char mark[] = "gust-test-fault: ";
	const char *p = memmem(text, len, mark, sizeof(mark) - 1);
	if (!p)
		return;
	p += sizeof(mark) - 1;
	size_t left = len - (size_t)(p - text);
	if (left >= 5 && memcmp(p, "crash", 5) == 0)
		raise(SIGSEGV);
	if (left >= 4 && memcmp(p, "hang", 4) == 0)
		for (volatile unsigned long i = 0;; i++)
			;
	if (left >= 6 && memcmp(p, "memory", 6) == 0)
		for (;;) {
			char *m = malloc(1 << 20);
			if (!m)
				die_oom();
			memset(m, 1, 1 << 20);
		}
}

static void answer(struct buf *msg)
{
	uint32_t n = (uint32_t)msg->len;
	if (write_all(1, "GDR1", 4) < 0 || write_all(1, &n, 4) < 0 ||
	    write_all(1, msg->data ? msg->data : "", msg->len) < 0)
		_exit(0); /* the server is gone */
}

static _Noreturn void processor_main(uint64_t memory, int64_t cpu_ms)
{
	struct rlimit zero = {0, 0};
	setrlimit(RLIMIT_FSIZE, &zero);
	setrlimit(RLIMIT_CORE, &zero);
#ifndef UNDER_ASAN
	struct rlimit as = {memory, memory};
	setrlimit(RLIMIT_AS, &as);
#else
	(void)memory;
#endif
	bool faults = getenv("GUST_TEST_PARSER_FAULTS") &&
		      strcmp(getenv("GUST_TEST_PARSER_FAULTS"), "1") == 0;
	for (;;) {
		char magic[4];
		uint32_t kind, plen, tlen;
		if (read_all(0, magic, 4) < 0)
			_exit(0);
		if (memcmp(magic, "GDQ1", 4) != 0 || read_all(0, &kind, 4) < 0 ||
		    read_all(0, &plen, 4) < 0 || read_all(0, &tlen, 4) < 0 || plen > 65536 ||
		    tlen > DAG_MAX_FILE_BYTES)
			_exit(3);
		char *path = xmalloc(plen + 1), *text = xmalloc((size_t)tlen + 1);
		if (read_all(0, path, plen) < 0 || read_all(0, text, tlen) < 0)
			_exit(0);
		path[plen] = 0;
		text[tlen] = 0;
		/* This file's CPU budget on top of what was used so far. */
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		rlim_t used = (rlim_t)ru.ru_utime.tv_sec + (rlim_t)ru.ru_stime.tv_sec + 1;
		struct rlimit cpu = {used + (rlim_t)((cpu_ms + 999) / 1000), RLIM_INFINITY};
		setrlimit(RLIMIT_CPU, &cpu);
		if (faults)
			test_fault(text, tlen);
		struct diag_list diags;
		diag_list_init(&diags, path);
		struct buf msg = BUF_INIT;
		if (kind == DAGPROC_DAG) {
			struct ynode *root = NULL;
			struct dag *d = NULL;
			dag_load_with(path, text, tlen, parse_keep, &root, &d, &diags);
			ywire_encode(d ? root : NULL, d ? NULL : &diags, &msg);
			dag_free(d);
		} else {
			struct arena a;
			arena_init(&a);
			struct ynode *root = NULL;
			if (ytree_text_ok(text, tlen, &diags))
				root = ytree_parse(&a, text, tlen, &diags);
			ywire_encode(root, &diags, &msg);
			arena_free(&a);
		}
		answer(&msg);
		buf_free(&msg);
		diag_list_free(&diags);
		free(path);
		free(text);
	}
}

void dagproc_hook(int argc, char **argv)
{
	if (argc != 4 || strcmp(argv[1], DAGPROC_ARG) != 0)
		return;
	processor_main(strtoull(argv[2], NULL, 10), strtoll(argv[3], NULL, 10));
}

/* ---- the server's side --------------------------------------------------------------------- */

void dagproc_limits_default(struct dagproc_limits *l)
{
	l->time_ms = DAGPROC_DEFAULT_TIME_MS;
	l->memory = DAGPROC_DEFAULT_MEMORY;
}

static int spawn(struct dagproc *p)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) < 0) {
		int e = errno;
		close(in[0]);
		close(in[1]);
		return -e;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	/* It writes no file (RLIMIT_FSIZE 0 would kill it on a write to the server's log): how it
	 * ended is read from its exit status. */
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_t at;
	posix_spawnattr_init(&at);
	sigset_t none;
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
	char mem[32], cpu[32];
	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)p->lim.memory);
	snprintf(cpu, sizeof(cpu), "%lld", (long long)p->lim.time_ms);
	char *argv[] = {"gust", DAGPROC_ARG, mem, cpu, NULL};
	pid_t pid;
	int r = posix_spawn(&pid, "/proc/self/exe", &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(in[0]);
	close(out[1]);
	if (r != 0) {
		close(in[1]);
		close(out[0]);
		return -r;
	}
	p->pid = pid;
	p->to_fd = in[1];
	p->from_fd = out[0];
	return 0;
}

static uint64_t rss_of(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	unsigned long long size = 0, res = 0;
	int n = fscanf(f, "%llu %llu", &size, &res);
	fclose(f);
	return n == 2 ? res * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

enum end { END_NONE, END_TIME, END_MEMORY };

/* Kill (if `why` says so) and reap the processor; say what became of it. */
static char *reap(struct dagproc *p, enum end why)
{
	if (why != END_NONE)
		kill(p->pid, SIGKILL);
	int st = 0;
	while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
		;
	close(p->to_fd);
	close(p->from_fd);
	p->pid = -1;
	pthread_mutex_lock(&p->mu);
	p->restarts++;
	pthread_mutex_unlock(&p->mu);
	if (why == END_TIME || (WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU))
		return xasprintf("the parser ran out of time (limit %lld s)",
				 (long long)(p->lim.time_ms / 1000));
	if (why == END_MEMORY || (WIFEXITED(st) && WEXITSTATUS(st) == 70))
		return xasprintf("the parser ran out of memory (limit %llu MB)",
				 (unsigned long long)(p->lim.memory >> 20));
	if (WIFSIGNALED(st))
		return xasprintf("the parser crashed (signal %d: %s)", WTERMSIG(st),
				 strsignal(WTERMSIG(st)));
	return xasprintf("the parser exited with status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* Read `n` bytes before `deadline`, watching the processor's memory. */
static enum end read_watched(struct dagproc *p, void *buf, size_t n, int64_t deadline, bool *eof)
{
	char *c = buf;
	*eof = false;
	while (n) {
		int64_t now = mono_ms();
		if (now >= deadline)
			return END_TIME;
		if (rss_of(p->pid) > p->lim.memory)
			return END_MEMORY;
		struct pollfd pf = {p->from_fd, POLLIN, 0};
		int64_t wait = deadline - now < 50 ? deadline - now : 50;
		int r = poll(&pf, 1, (int)wait);
		if (r < 0 && errno != EINTR) {
			*eof = true;
			return END_NONE;
		}
		if (r <= 0)
			continue;
		ssize_t got = read(p->from_fd, c, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			*eof = true;
			return END_NONE;
		}
		c += got;
		n -= (size_t)got;
	}
	return END_NONE;
}

struct wire_src {
	const char *data;
	size_t len;
	char *err;
};

static struct ynode *parse_wire(struct arena *a, const char *text, size_t len,
				struct diag_list *diags, void *ctx)
{
	struct wire_src *w = ctx;
	struct ynode *root = NULL;
	if (ywire_decode(a, w->data, w->len, &root, diags, &w->err) < 0)
		return NULL;
	return root;
}

/* The answer of the processor to `j`, or a failure. Returns the payload (malloc'd). */
static char *converse(struct dagproc *p, struct dagproc_job *j, size_t *ret_len)
{
	if (p->pid <= 0) {
		int e = spawn(p);
		if (e < 0) {
			j->failure = xasprintf("cannot start the DAG processor: %s", strerror(-e));
			return NULL;
		}
	}
	uint32_t hdr[3] = {(uint32_t)j->kind, (uint32_t)strlen(j->path), (uint32_t)j->len};
	int64_t deadline = mono_ms() + p->lim.time_ms + 1000;
	/* The pipe holds 64 KiB: a larger file is written while the processor reads it. A
	 * processor that dies meanwhile makes write fail with EPIPE (SIGPIPE is ignored). */
	bool sent = write_all(p->to_fd, "GDQ1", 4) == 0 && write_all(p->to_fd, hdr, 12) == 0 &&
		    write_all(p->to_fd, j->path, hdr[1]) == 0 &&
		    write_all(p->to_fd, j->text, j->len) == 0;
	char magic[4];
	uint32_t n = 0;
	bool eof = !sent;
	enum end why = END_NONE;
	if (sent)
		why = read_watched(p, magic, 4, deadline, &eof);
	if (why == END_NONE && !eof)
		why = read_watched(p, &n, 4, deadline, &eof);
	if (why == END_NONE && !eof && (memcmp(magic, "GDR1", 4) != 0 || n > MAX_ANSWER)) {
		kill(p->pid, SIGKILL);
		free(reap(p, END_NONE));
		j->failure = xstrdup("the DAG processor sent a bad answer");
		return NULL;
	}
	char *data = NULL;
	if (why == END_NONE && !eof) {
		data = xmalloc(n ? n : 1);
		why = read_watched(p, data, n, deadline, &eof);
	}
	if (why != END_NONE || eof) {
		free(data);
		j->failure = reap(p, why);
		return NULL;
	}
	*ret_len = n;
	return data;
}

/* A DAG file's bytes, or NULL with *ret_err: EFBIG, EINVAL (not a regular file; what it is in
 * *ret_mode) or errno. */
static char *read_dag_file(const char *path, size_t *ret_len, int *ret_err, mode_t *ret_mode)
{
	/* stat first: a FIFO, a device or a folder named x.yaml is reported without being opened
	 * (opening a device can have effects); O_NONBLOCK and fstat cover a swap in between. */
	struct stat st;
	if (stat(path, &st) < 0) {
		*ret_err = errno;
		return NULL;
	}
	int fd =
	    S_ISREG(st.st_mode) ? open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) : -1;
	if (S_ISREG(st.st_mode) && fd < 0) {
		*ret_err = errno;
		return NULL;
	}
	if (fd >= 0 && fstat(fd, &st) < 0) {
		*ret_err = errno;
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > DAG_MAX_FILE_BYTES) {
		*ret_err = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		*ret_mode = st.st_mode;
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	char *buf = xmalloc((size_t)st.st_size + 1);
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == (size_t)st.st_size)
			break;
	}
	close(fd);
	buf[got] = '\0';
	*ret_len = got;
	return buf;
}

static void process(struct dagproc *p, struct dagproc_job *j)
{
	if (j->kind == DAGPROC_DAG) {
		if (!j->text) {
			j->text = read_dag_file(j->path, &j->len, &j->read_errno, &j->read_mode);
			if (!j->text)
				return;
		}
		j->hash = hash_fnv1a64(j->text, j->len);
		if (j->known_hash && j->hash == j->known_hash) {
			j->unchanged = true;
			return;
		}
	}
	int64_t t0 = mono_ms();
	size_t n = 0;
	char *data = converse(p, j, &n);
	int64_t t1 = mono_ms();
	j->parse_ms = t1 - t0;
	if (!data)
		return;
	struct wire_src w = {data, n, NULL};
	if (j->kind == DAGPROC_DAG) {
		dag_load_with(j->path, j->text, j->len, parse_wire, &w, &j->dag, &j->diags);
		if (j->dag)
			dag_compute_weights(j->dag);
	} else {
		struct ynode *root = NULL;
		if (ywire_decode(&j->arena, data, n, &root, &j->diags, &w.err) == 0)
			j->tree = root;
	}
	if (w.err) {
		/* The answer did not pass the checks: nothing of it is used. */
		dag_free(j->dag);
		j->dag = NULL;
		j->tree = NULL;
		diag_list_free(&j->diags);
		diag_list_init(&j->diags, j->path);
		j->failure = xasprintf("the DAG processor sent a bad answer (%s)", w.err);
		free(w.err);
		kill(p->pid, SIGKILL);
		free(reap(p, END_NONE));
	}
	free(data);
	if (j->dag && p->compiled && !j->call)
		p->compiled(p->compiled_ctx, j);
	j->load_ms = mono_ms() - t1;
}

/* Free what the loop handed over; called with mu held, returns with it held. */
static void empty_trash(struct dagproc *p)
{
	while (p->trash) {
		struct dagproc_trash *t = p->trash;
		p->trash = NULL;
		pthread_mutex_unlock(&p->mu);
		while (t) {
			struct dagproc_trash *next = t->next;
			t->free_fn(t->ptr);
			free(t);
			t = next;
		}
		pthread_mutex_lock(&p->mu);
	}
}

static void *worker(void *arg)
{
	struct dagproc *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->queue && !p->trash && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		empty_trash(p);
		if (p->stop)
			break;
		if (!p->queue)
			continue;
		struct dagproc_job *j = p->queue;
		p->queue = j->next;
		if (!p->queue)
			p->queue_tail = &p->queue;
		j->next = NULL;
		pthread_mutex_unlock(&p->mu);
		process(p, j);
		pthread_mutex_lock(&p->mu);
		p->files++;
		if (j->call) {
			j->called = true;
			pthread_cond_broadcast(&p->cv);
			continue;
		}
		*p->done_tail = j;
		p->done_tail = &j->next;
		pthread_cond_broadcast(&p->cv);
		uint64_t one = 1;
		ssize_t w = write(p->efd, &one, sizeof(one));
		(void)w;
	}
	pthread_mutex_unlock(&p->mu);
	if (p->pid > 0) {
		close(p->to_fd); /* EOF: the processor exits */
		int st;
		while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
			;
		close(p->from_fd);
		p->pid = -1;
	}
	return NULL;
}

int dagproc_start(struct dagproc *p, const struct dagproc_limits *lim)
{
	memset(p, 0, sizeof(*p));
	p->lim = *lim;
	p->pid = -1;
	p->queue_tail = &p->queue;
	p->done_tail = &p->done;
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0)
		return -errno;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	/* The thread starts with every signal blocked: the loop's signalfd gets them all. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&p->thread, NULL, worker, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		close(p->efd);
		return -r;
	}
	p->started = true;
	return 0;
}

static void free_list(struct dagproc_job *j)
{
	while (j) {
		struct dagproc_job *next = j->next;
		dagproc_job_free(j);
		j = next;
	}
}

void dagproc_stop(struct dagproc *p)
{
	if (!p->started)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	free_list(p->queue);
	free_list(p->done);
	pthread_mutex_lock(&p->mu);
	empty_trash(p);
	pthread_mutex_unlock(&p->mu);
	close(p->efd);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	p->started = false;
}

struct dagproc_job *dagproc_job_new(enum dagproc_kind kind, const char *path, char *text,
				    size_t len, uint64_t tag)
{
	struct dagproc_job *j = xcalloc(1, sizeof(*j));
	j->kind = kind;
	j->path = xstrdup(path);
	j->text = text;
	j->len = text ? len : 0;
	j->tag = tag;
	arena_init(&j->arena);
	diag_list_init(&j->diags, j->path);
	return j;
}

void dagproc_job_free(struct dagproc_job *j)
{
	if (!j)
		return;
	dag_free(j->dag);
	diag_list_free(&j->diags);
	arena_free(&j->arena);
	free(j->failure);
	free(j->text);
	free(j->path);
	free(j);
}

void dagproc_submit(struct dagproc *p, struct dagproc_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&p->mu);
	*p->queue_tail = j;
	p->queue_tail = &j->next;
	p->pending++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void dagproc_call(struct dagproc *p, struct dagproc_job *j)
{
	if (!p->started) {
		j->failure = xstrdup("the DAG processor is not running");
		return;
	}
	j->call = true;
	j->next = NULL;
	pthread_mutex_lock(&p->mu);
	*p->queue_tail = j;
	p->queue_tail = &j->next;
	pthread_cond_broadcast(&p->cv);
	while (!j->called && !p->stop)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
	if (!j->called && !j->failure)
		j->failure = xstrdup("the DAG processor stopped");
}

void dagproc_on_compiled(struct dagproc *p, dagproc_compiled_fn *fn, void *ctx)
{
	pthread_mutex_lock(&p->mu);
	p->compiled = fn;
	p->compiled_ctx = ctx;
	pthread_mutex_unlock(&p->mu);
}

void dagproc_dispose(struct dagproc *p, void (*free_fn)(void *), void *ptr)
{
	if (!p->started) {
		free_fn(ptr);
		return;
	}
	struct dagproc_trash *t = xmalloc(sizeof(*t));
	t->free_fn = free_fn;
	t->ptr = ptr;
	pthread_mutex_lock(&p->mu);
	t->next = p->trash;
	p->trash = t;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

struct dagproc_job *dagproc_take(struct dagproc *p, bool wait)
{
	uint64_t v;
	ssize_t r = read(p->efd, &v, sizeof(v));
	(void)r;
	pthread_mutex_lock(&p->mu);
	while (wait && !p->done && p->pending)
		pthread_cond_wait(&p->cv, &p->mu);
	struct dagproc_job *j = p->done;
	p->done = NULL;
	p->done_tail = &p->done;
	for (struct dagproc_job *k = j; k; k = k->next)
		p->pending--;
	pthread_mutex_unlock(&p->mu);
	return j;
}

int dagproc_fd(const struct dagproc *p)
{
	return p->efd;
}

uint64_t dagproc_files(struct dagproc *p)
{
	pthread_mutex_lock(&p->mu);
	uint64_t r = p->files;
	pthread_mutex_unlock(&p->mu);
	return r;
}

uint64_t dagproc_restarts(struct dagproc *p)
{
	pthread_mutex_lock(&p->mu);
	uint64_t r = p->restarts;
	pthread_mutex_unlock(&p->mu);
	return r;
}
