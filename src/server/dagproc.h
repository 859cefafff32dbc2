/*
 * dagproc.h - the DAG processor: DAG and config files parsed in a separate process.
 *
 * No file, however broken, may take the scheduler down (issue 9). The server never runs the
 * YAML parser itself, nor reads a DAG file. A worker thread reads each file (bounded, without
 * blocking on a FIFO) and hashes it, and owns a small process, `gust __dag-processor` (exec'd
 * from /proc/self/exe, so it shares nothing with the server but the binary), that reads one
 * request at a time on its stdin (a file's path and bytes), parses and validates it, and answers
 * on its stdout with the YAML tree or the located problems (dag/ytree_wire.h). The thread checks
 * the answer while decoding it, loads and compiles the DAG from the decoded tree (dag_load_with),
 * computes its weights, and hands the finished job to the loop through an eventfd: the loop only
 * swaps pointers, so it never waits for parsing, whatever the file's size.
 *
 * Limits, each turned into a reason the file is reported broken with:
 *   - CPU time per file (RLIMIT_CPU, raised by the processor before each file) and a wall-clock
 *     deadline kept by the thread: "the parser ran out of time (limit 30 s)";
 *   - memory: RLIMIT_AS (not under AddressSanitizer, which reserves terabytes of address space)
 *     and the processor's resident size, read from /proc every 50 ms by the thread: "the parser
 *     ran out of memory (limit 2048 MB)";
 *   - a crash: "the parser crashed (signal 11: Segmentation fault)";
 *   - files: RLIMIT_FSIZE 0 and RLIMIT_CORE 0 (it writes nothing; its stderr is /dev/null).
 * After any of these the processor is killed and reaped, the next file starts a fresh one, and
 * `restarts` counts it. Nothing else changes: the DAG's last good version stays current.
 *
 * For tests only: with GUST_TEST_PARSER_FAULTS=1 in its environment, the processor crashes,
 * hangs or allocates without end on a file containing `gust-test-fault: crash|hang|memory`.
 */
#ifndef GUST_SERVER_DAGPROC_H
#define GUST_SERVER_DAGPROC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/diag.h"
#include "dag/dag.h"

#define DAGPROC_ARG "__dag-processor"

enum dagproc_kind { DAGPROC_DAG, DAGPROC_CONFIG };

struct dagproc_job {
	struct dagproc_job *next;
	/* request (owned by the job) */
	enum dagproc_kind kind;
	char *path;
	char *text; /* NULL: the thread reads `path` (a DAG file; see read_errno) */
	size_t len;
	uint64_t tag;	     /* the caller's, e.g. a sequence number */
	uint64_t known_hash; /* a DAG file read by the thread with this hash is not parsed */
	int64_t now;	     /* the caller's clock when it submitted the job (ms) */
	/* answer */
	uint64_t hash;	    /* DAGPROC_DAG: the content's (FNV-1a 64) */
	bool unchanged;	    /* the content hashed to known_hash: nothing else was done */
	int read_errno;	 /* the thread could not read the file: EFBIG (too large), EINVAL (not
			  * a regular file: what it is in read_mode), or stat's or open's errno;
			  * nothing else was done */
	mode_t read_mode;
	struct dag *dag;    /* DAGPROC_DAG and no problem: the compiled DAG (weights computed) */
	struct ynode *tree; /* DAGPROC_CONFIG: the tree, in `arena` */
	struct arena arena; /* DAGPROC_CONFIG's tree */
	struct diag_list diags; /* located problems */
	char *failure;		/* the processor failed on this file: why (then no dag/diags) */
	int64_t parse_ms;	/* processor's answer time */
	int64_t load_ms;	/* decode + load + weights in the thread */
	/* dagproc_call: the caller waits for this job alone (it never reaches the done list) */
	bool call, called;
};

#define DAGPROC_DEFAULT_TIME_MS 30000
#define DAGPROC_DEFAULT_MEMORY (2048ull << 20)

/* Called by the thread for each DAG file that compiled, before the loop gets the job: work
 * that must not be done in the loop (the bag stores the file's source from a store connection
 * of the thread's own). It must not keep `j`. */
typedef void dagproc_compiled_fn(void *ctx, const struct dagproc_job *j);

struct dagproc_limits {
	int64_t time_ms; /* per file; default DAGPROC_DEFAULT_TIME_MS */
	uint64_t memory; /* bytes; default DAGPROC_DEFAULT_MEMORY */
};

struct dagproc {
	struct dagproc_limits lim;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct dagproc_job *queue, **queue_tail, *done, **done_tail;
	size_t pending; /* submitted and not yet taken */
	bool stop;
	int efd; /* readable when jobs are done */
	/* owned by the thread */
	pid_t pid;
	int to_fd, from_fd;
	/* counters (written by the thread under mu) */
	uint64_t restarts, files;
	dagproc_compiled_fn *compiled;
	void *compiled_ctx;
	/* things to free in the thread (dagproc_dispose), under mu */
	struct dagproc_trash {
		struct dagproc_trash *next;
		void (*free_fn)(void *);
		void *ptr;
	} * trash;
};

void dagproc_limits_default(struct dagproc_limits *l);
int dagproc_start(struct dagproc *p, const struct dagproc_limits *lim);
/* Stop the thread and the processor; jobs not taken are freed. */
void dagproc_stop(struct dagproc *p);
/* A job for `path` (copied); it takes `text`, which may be NULL for a DAG file: the thread
 * reads it then. */
struct dagproc_job *dagproc_job_new(enum dagproc_kind kind, const char *path, char *text,
				    size_t len, uint64_t tag);
void dagproc_submit(struct dagproc *p, struct dagproc_job *j);
/* Process `j` and wait for it: after the jobs queued before it, and without going through the
 * done list (for a stored version a restarted server must compile before it goes on). The
 * compiled hook is not called. The caller keeps `j`. */
void dagproc_call(struct dagproc *p, struct dagproc_job *j);
/* Set the compiled hook (after dagproc_start, before the first dagproc_submit). */
void dagproc_on_compiled(struct dagproc *p, dagproc_compiled_fn *fn, void *ctx);
/* free_fn(ptr) in the thread, between files, so that the loop does not pay for freeing a large
 * DAG; at once if the thread is not running. */
void dagproc_dispose(struct dagproc *p, void (*free_fn)(void *), void *ptr);
/* The finished jobs in submission order (a list through ->next), or NULL; `wait` blocks until
 * at least one is finished (when any is pending). */
struct dagproc_job *dagproc_take(struct dagproc *p, bool wait);
void dagproc_job_free(struct dagproc_job *j);
int dagproc_fd(const struct dagproc *p);
uint64_t dagproc_restarts(struct dagproc *p);
uint64_t dagproc_files(struct dagproc *p);

/* If argv is `PROG __dag-processor MEMORY CPU_MS`, be the processor and never return. */
void dagproc_hook(int argc, char **argv);

#endif
