/*
 * api_jobs.c - write requests handed from handler threads to the scheduling loop (see
 * api_int.h and api.h).
 *
 * A handler parks its connection (http_defer), queues the typed request under a mutex and
 * writes the eventfd the loop polls; no thread waits. The loop, when the eventfd is readable,
 * takes the whole queue and applies each request exactly as it applies a CLI's command row
 * (options.loop.apply: server_ops_apply), then answers the parked connection. So a write
 * made through the API and one made through the CLI take the same path through the same
 * checks, in the loop that owns the live state, and can never disagree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "api/api_int.h"
#include "base/util.h"
#include "ops/identity.h"

struct api_deploy {
	struct api_deploy *next;
	char *dag_id, *file;
	char hash[17];
	int64_t deadline; /* mono ms */
	struct http_deferred *d;
};

static void deploy_free(struct api_deploy *w);

struct api_job {
	struct api_job *next;
	/* A write (rq), or a question of why (run_id set). */
	struct ops_req rq;
	char *why_run, *why_task;
	int32_t why_map;
	char user[OPS_USER_NAME_MAX + 1]; /* who asked, for the audit log */
	enum auth_role role;
	char addr[48];
	struct http_deferred *d; /* the parked answer */
	int success_status;
};

int api_jobs_init(struct api *a)
{
	pthread_mutex_init(&a->jobs_mu, NULL);
	a->jobs_head = NULL;
	a->jobs_tail = &a->jobs_head;
	a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return a->efd < 0 ? -errno : 0;
}

static void wake_loop(struct api *a)
{
	uint64_t one = 1;
	/* EAGAIN only when the counter is full: the loop has a wake-up pending anyway. */
	ssize_t w = write(a->efd, &one, sizeof(one));
	(void)w;
}

static void enqueue(struct api *a, struct api_job *j)
{
	pthread_mutex_lock(&a->jobs_mu);
	*a->jobs_tail = j;
	a->jobs_tail = &j->next;
	pthread_mutex_unlock(&a->jobs_mu);
	wake_loop(a);
}

void api_submit(struct api *a, const struct http_req *hrq, struct http_resp *rs,
		struct ops_req *rq, int success_status)
{
	struct api_job *j = xcalloc(1, sizeof(*j));
	j->rq = *rq;
	*rq = (struct ops_req){0};
	j->success_status = success_status;
	const struct ops_principal *p = api_principal(hrq);
	if (p) {
		snprintf(j->user, sizeof(j->user), "%s", p->user);
		j->role = p->role;
	}
	snprintf(j->addr, sizeof(j->addr), "%s", hrq->remote_addr);
	j->d = http_defer(rs);
	enqueue(a, j);
}

void api_submit_why(struct api *a, struct http_resp *rs, const char *run_id,
		    const char *task_id, int32_t map_index)
{
	struct api_job *j = xcalloc(1, sizeof(*j));
	j->why_run = xstrdup(run_id);
	j->why_task = xstrdup(task_id);
	j->why_map = map_index;
	j->d = http_defer(rs);
	enqueue(a, j);
}

void api_poke(struct api *a)
{
	wake_loop(a);
}

int api_fd(const struct api *a)
{
	return a ? a->efd : -1;
}

static struct api_job *take_all(struct api *a)
{
	pthread_mutex_lock(&a->jobs_mu);
	struct api_job *all = a->jobs_head;
	a->jobs_head = NULL;
	a->jobs_tail = &a->jobs_head;
	pthread_mutex_unlock(&a->jobs_mu);
	return all;
}

static void job_free(struct api_job *j)
{
	ops_req_free(&j->rq);
	free(j->why_run);
	free(j->why_task);
	free(j);
}

/* GET .../why, answered in the loop (a read: nothing to audit). */
static void answer_why(struct api *a, struct api_job *j)
{
	struct http_resp *rs = http_deferred_resp(j->d);
	json_t *why = NULL;
	struct ops_err err = {0};
	if (!a->opts.loop.why)
		http_error(rs, 503, "this server cannot explain waits");
	else if (a->opts.loop.why(a->opts.loop.ctx, j->why_run, j->why_task, j->why_map, &why,
				  &err) < 0)
		api_ops_problem(rs, &err);
	else
		http_json(rs, 200, why);
	ops_err_free(&err);
	http_deferred_done(j->d);
}

/* The audit entry of an applied request, on a connection of the API's (the loop's own is
 * in the middle of its step). */
static void audit(struct api *a, const struct api_job *j)
{
	struct store *st = api_store_try(a);
	if (!st)
		return;
	struct ops_actor actor = {
	    .user = j->user, .role = j->role, .via = "api", .remote_addr = j->addr};
	ops_audit_request(st, api_now(a), &actor, &j->rq);
	api_store_put(a, st);
}

void api_run_jobs(struct api *a)
{
	if (!a)
		return;
	uint64_t n;
	ssize_t r = read(a->efd, &n, sizeof(n));
	(void)r;
	if (a->opts.loop.poked)
		a->opts.loop.poked(a->opts.loop.ctx);
	for (struct api_job *j = take_all(a), *next; j; j = next) {
		next = j->next;
		if (j->why_run) {
			answer_why(a, j);
			job_free(j);
			continue;
		}
		struct ops_answer ans = {0};
		struct ops_err err = {0};
		struct http_resp *rs = http_deferred_resp(j->d);
		if (a->opts.loop.apply(a->opts.loop.ctx, &j->rq, &ans, &err) < 0) {
			api_ops_problem(rs, &err);
		} else {
			api_answer(rs, &ans, ans.outcome == OPS_STARTED ? 202 : j->success_status);
			audit(a, j);
		}
		http_deferred_done(j->d);
		ops_answer_free(&ans);
		ops_err_free(&err);
		job_free(j);
	}
}

void api_jobs_free(struct api *a)
{
	/* After http_server_stop: the parked connections were answered 503; free the rest. */
	for (struct api_deploy *w = a->deploys, *next; w; w = next) {
		next = w->next;
		http_deferred_done(w->d);
		deploy_free(w);
	}
	a->deploys = NULL;
	for (struct api_job *j = take_all(a), *next; j; j = next) {
		next = j->next;
		http_deferred_done(j->d);
		job_free(j);
	}
	if (a->efd >= 0)
		close(a->efd);
	pthread_mutex_destroy(&a->jobs_mu);
}

/* ---- deploys waiting for the server to load them ----------------------------------------- */

void api_wait_deploy(struct api *a, struct http_resp *rs, const char *dag_id, const char *hash,
		     const char *file, int64_t wait_ms)
{
	struct api_deploy *w = xcalloc(1, sizeof(*w));
	w->dag_id = xstrdup(dag_id);
	w->file = xstrdup(file);
	snprintf(w->hash, sizeof(w->hash), "%s", hash);
	w->deadline = mono_ms() + wait_ms;
	w->d = http_defer(rs);
	pthread_mutex_lock(&a->jobs_mu);
	w->next = a->deploys;
	a->deploys = w;
	atomic_store(&a->n_deploys, atomic_load(&a->n_deploys) + 1);
	pthread_mutex_unlock(&a->jobs_mu);
	wake_loop(a);
}

static void deploy_free(struct api_deploy *w)
{
	free(w->dag_id);
	free(w->file);
	free(w);
}

/* Whether the deploy is over: loaded (200 with the version), or the wait is over (202). */
static bool deploy_answered(struct api_deploy *w, struct store *st, int64_t mono)
{
	struct store_dag row;
	bool loaded = false;
	int64_t version = 0;
	if (store_dag_get(st, w->dag_id, &row) == 0) {
		loaded = row.hash && strcmp(row.hash, w->hash) == 0 && !row.deleted;
		version = row.version;
		store_dag_free(&row);
	}
	if (!loaded && mono < w->deadline)
		return false;
	struct http_resp *rs = http_deferred_resp(w->d);
	const char *base = strrchr(w->file, '/') ? strrchr(w->file, '/') + 1 : w->file;
	if (loaded)
		http_json(rs, 200,
			  json_pack("{s:s, s:s, s:I, s:s}", "outcome", "done", "dag_id", w->dag_id,
				    "version", (json_int_t)version, "file", base));
	else
		http_json(rs, 202,
			  json_pack("{s:s, s:s, s:s, s:s}", "outcome", "started", "dag_id",
				    w->dag_id, "file", base, "message",
				    "written to the DAG folder but not loaded yet; GET the DAG to "
				    "see when it is (the server's log says what holds it)"));
	http_deferred_done(w->d);
	return true;
}

void api_check_deploys(struct api *a, struct store *st)
{
	if (!a || atomic_load(&a->n_deploys) == 0)
		return;
	int64_t mono = mono_ms();
	pthread_mutex_lock(&a->jobs_mu);
	struct api_deploy **pp = &a->deploys;
	while (*pp) {
		struct api_deploy *w = *pp;
		if (deploy_answered(w, st, mono)) {
			*pp = w->next;
			deploy_free(w);
			atomic_store(&a->n_deploys, atomic_load(&a->n_deploys) - 1);
		} else {
			pp = &w->next;
		}
	}
	pthread_mutex_unlock(&a->jobs_mu);
}
