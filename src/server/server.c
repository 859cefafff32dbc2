/*
 * server.c - the scheduler daemon: its clock, timers and loop, start and stop (see server.h
 * and server_int.h for how the other files of the server share its state).
 *
 * One step is: timers due -> scheduled runs created; store changes -> commands and runs
 * triggered from the CLI; queued runs promoted within max_active_runs; ready task instances
 * begun within the parallelism, recorded (one transaction) and only then started; executor
 * events applied; all changes of the step committed in one transaction.
 */
#include "server/server_int.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include "api/api.h"
#include "base/fsutil.h"
#include "base/util.h"
#include "dag/dag_time.h"
#include "ops/identity.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/pools.h"

extern char **environ;

int64_t server_now(const struct server *s)
{
	return wall_ms() + s->offset;
}

/* ---- timers (a binary min-heap, stale entries skipped by generation) ---------------------- */

static bool timer_less(const struct timer *a, const struct timer *b)
{
	return a->at < b->at;
}

void server_timer_push(struct server *s, int64_t at, enum timer_kind kind, uint64_t ref,
		       int64_t gen)
{
	if (at == INT64_MAX)
		return;
	s->timers = xrealloc_array(s->timers, s->n_timers + 1, sizeof(*s->timers), &s->cap_timers);
	struct timer t = {at, kind, ref, gen};
	size_t pos = s->n_timers++;
	while (pos > 0) {
		size_t parent = (pos - 1) / 2;
		if (!timer_less(&t, &s->timers[parent]))
			break;
		s->timers[pos] = s->timers[parent];
		pos = parent;
	}
	s->timers[pos] = t;
}

static struct timer timer_pop(struct server *s)
{
	struct timer top = s->timers[0];
	struct timer last = s->timers[--s->n_timers];
	size_t pos = 0, n = s->n_timers;
	if (n) {
		for (;;) {
			size_t l = 2 * pos + 1, best = pos;
			const struct timer *cand = &last;
			if (l < n && timer_less(&s->timers[l], cand)) {
				best = l;
				cand = &s->timers[l];
			}
			if (l + 1 < n && timer_less(&s->timers[l + 1], cand))
				best = l + 1;
			if (best == pos)
				break;
			s->timers[pos] = s->timers[best];
			pos = best;
		}
		s->timers[pos] = last;
	}
	return top;
}

/* ---- the loop ------------------------------------------------------------------------------ */

/* Tests only (GUST_TEST_LOOP_STALL=1): while HOME/test-stall exists, the loop is stuck here,
 * as a loop blocked on a hung disk or a bug would be: health must say so, the watchdog stop. */
static void test_stall(struct server *s)
{
	if (!s->test_stall_path || access(s->test_stall_path, F_OK) < 0)
		return;
	slog(LOG_WARN, "server: stalled on purpose while %s exists", s->test_stall_path);
	while (access(s->test_stall_path, F_OK) == 0) {
		struct timespec pause = {0, 20 * 1000 * 1000};
		nanosleep(&pause, NULL);
	}
	slog(LOG_WARN, "server: stall over");
}

static void on_timers(struct server *s, int64_t now)
{
	while (s->n_timers && s->timers[0].at <= now) {
		struct timer t = timer_pop(s);
		switch (t.kind) {
		case T_DAG:
			if (t.ref < s->bag.n && s->bag.entries[t.ref]->timer_gen == t.gen)
				on_dag_timer(s, (size_t)t.ref, now);
			break;
		case T_RUN: {
			struct srun *r = u64map_get(&s->by_serial, t.ref);
			if (r && r->run && r->timer_gen == t.gen) {
				if (run_on_time(r->run, now))
					cancel_run(s, r, run_message(r->run), now);
				r->timer_gen++;
				server_timer_push(s, run_next_wakeup(r->run), T_RUN, r->serial,
						  r->timer_gen);
			}
			break;
		}
		case T_POLL:
			test_stall(s);
			poll_adopted(s, now);
			if (store_changed(s->st)) {
				server_vars_refresh(s);
				pools_load(s->adm, s->st);
				load_new_runs(s);
				apply_commands(s, now);
			}
			server_timer_push(s, now + 250, T_POLL, 0, 0);
			break;
		case T_RETENTION:
			retention_tick(s, now);
			break;
		}
	}
}

static void on_dags_changed(struct server *s, int64_t now)
{
	size_t *changed = NULL;
	size_t n = dagbag_take_changed(&s->bag, &changed);
	for (size_t k = 0; k < n; k++)
		arm_dag(s, changed[k], now);
}

static void arm_timerfd(struct server *s, int64_t now)
{
	int64_t at = s->n_timers ? s->timers[0].at : now + 3600 * 1000;
	int64_t adm = admit_next_wakeup(s->adm);
	if (adm < at)
		at = adm; /* a reservation due, disk to look at again */
	int64_t delay = at - now;
	if (delay < 1)
		delay = 1;
	struct itimerspec its = {0};
	its.it_value.tv_sec = delay / 1000;
	its.it_value.tv_nsec = (delay % 1000) * 1000000;
	timerfd_settime(s->tfd, 0, &its, NULL);
}

static void step(struct server *s)
{
	int64_t now = server_now(s);
	on_timers(s, now);
	on_dags_changed(s, now);
	drain_executor(s, now);
	promote_queued(s, now);
	start_ready(s, now);
	commit_step(s);
	drop_finished_runs(s);
}

static void api_log(const char *msg)
{
	slog(LOG_WARN, "%s", msg);
}

/* The API's writes, in the loop as the CLI's commands are (api.h, struct api_loop). */
static int api_apply(void *ctx, const struct ops_req *rq, struct ops_answer *ans,
		     struct ops_err *err)
{
	return server_ops_apply(ctx, rq, ans, err);
}

/* A handler queued a run: take it now rather than at the next look at the store. */
static void api_poked(void *ctx)
{
	/* Not through store_changed(): that would take the change from the look at the store
	 * every 250 ms, which also applies the CLI's commands. The variables are looked at
	 * first (one read of their counter): one set just before this trigger, through the
	 * API's own store connection, must be seen by the run's attempts (server/vars.c). */
	server_vars_refresh(ctx);
	load_new_runs(ctx);
}

static int api_why(void *ctx, const char *run_id, const char *task_id, int32_t map_index,
		   json_t **ret, struct ops_err *err)
{
	return server_why(ctx, run_id, task_id, map_index, ret, err);
}

/* GET /metrics, on an HTTP thread: only what the loop published (server/metrics.h). */
static void api_metrics(void *ctx, struct buf *out)
{
	metrics_render(ctx, out);
}

/* The HTTP API, on --listen, else $GUST_LISTEN, else the config's `listen`, else loopback. */
static int start_api(struct server *s)
{
	const char *env = getenv("GUST_LISTEN");
	char *db = xasprintf("%s/gust.db", s->home);
	struct api_options ao = {
	    .listen = s->opts.listen ? s->opts.listen
		      : env && *env  ? env
				     : s->cfg.listen,
	    .tls_cert = s->cfg.tls_cert,
	    .tls_key = s->cfg.tls_key,
	    .health_stall_ms = s->cfg.health_stall_ms,
	    .log = api_log,
	    .home = s->home,
	    .dags_dir = s->bag.dir,
	    .store_url = db,
	    .clock_offset_ms = s->offset,
	    .loop = {api_apply, api_poked, api_why, s},
	    .metrics = api_metrics,
	    .metrics_ctx = s->metrics,
	    .metrics_public = s->cfg.metrics_public,
	};
	char *msg = NULL;
	int e = api_start(&ao, &s->api, &msg);
	free(db);
	if (e < 0) {
		fprintf(stderr, "gust: %s\n", msg ? msg : "cannot start the HTTP API");
		free(msg);
		return -1;
	}
	slog(LOG_INFO, "http: listening on %s://%s", s->cfg.tls_cert ? "https" : "http",
	     api_address(s->api));
	return 0;
}

/* The first start on a store without users creates `admin` (ops_bootstrap_admin): with
 * GUST_ADMIN_PASSWORD when set (never logged), else a random password printed here once. */
static int bootstrap_admin(struct server *s)
{
	const char *env = getenv("GUST_ADMIN_PASSWORD");
	char *generated = NULL;
	struct ops_err err = {0};
	if (ops_bootstrap_admin(s->st, server_now(s), env && *env ? env : NULL, &generated, &err) <
	    0) {
		fprintf(stderr, "gust: %s\n", err.msg);
		ops_err_free(&err);
		return -1;
	}
	if (generated) {
		slog(LOG_WARN,
		     "server: FIRST START: created user 'admin' (role admin) with the password "
		     "%s (shown once, never again: change it with 'gust users passwd admin')",
		     generated);
		explicit_bzero(generated, strlen(generated));
		free(generated);
	}
	return 0;
}

static int take_lock(struct server *s)
{
	char *path = xasprintf("%s/server.lock", s->home);
	s->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lockfd < 0) {
		slog(LOG_ERROR, "cannot open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	/* A CLI process holds a shared lock for an instant to see whether a server runs, and
	 * while it applies a request itself (cli_ops_write: compiling a big DAG takes a while). */
	bool locked = false;
	for (int tries = 0; tries < 300 && !locked; tries++) {
		locked = flock(s->lockfd, LOCK_EX | LOCK_NB) == 0;
		if (!locked && errno != EWOULDBLOCK)
			break;
		if (!locked) {
			struct timespec pause = {0, 10 * 1000 * 1000};
			nanosleep(&pause, NULL);
		}
	}
	if (!locked) {
		char other[32] = "";
		ssize_t n = pread(s->lockfd, other, sizeof(other) - 1, 0);
		other[n > 0 ? n : 0] = '\0';
		other[strcspn(other, "\n")] = '\0';
		fprintf(stderr,
			"gust: another gust server is already running on %s (pid %s); only one "
			"server may use a home\n",
			s->home, *other ? other : "?");
		free(path);
		return -1;
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(s->lockfd, 0) == 0) {
		ssize_t w = pwrite(s->lockfd, pid, (size_t)len, 0);
		(void)w;
	}
	free(path);
	return 0;
}

/* config.yaml, parsed by the DAG processor like a DAG file: a file that crashes the parser is
 * an error at start, not a crash of the server. A missing file is the defaults. */
static int load_config(struct server *s, const char *path, struct diag_list *diags)
{
	char *text;
	size_t len;
	int r = config_read(path, &text, &len);
	if (r <= 0)
		return r; /* missing or empty: the defaults; or unreadable */
	dagproc_submit(&s->proc, dagproc_job_new(DAGPROC_CONFIG, path, text, len, 0));
	struct dagproc_job *j = dagproc_take(&s->proc, true);
	int rc = 0;
	if (j->failure) {
		diag_add(diags, 0, 0, "broken: %s", j->failure);
		rc = -EINVAL;
	} else {
		for (size_t i = 0; i < j->diags.n; i++)
			diag_add(diags, j->diags.items[i].line, j->diags.items[i].col, "%s",
				 j->diags.items[i].msg);
		rc = config_load_tree(&s->cfg, j->tree, diags) < 0 || j->diags.n ? -EINVAL : 0;
	}
	dagproc_job_free(j);
	return rc;
}

int server_main(const struct server_opts *o)
{
	struct server S;
	memset(&S, 0, sizeof(S));
	struct server *s = &S;
	s->opts = *o;
	s->ep = s->sfd = s->tfd = s->lockfd = -1;
	s->drain = false;
	u64map_init(&s->by_serial);
	u64map_init(&s->live);
	s->metrics = metrics_new(wall_ms());
	int rc = 1;

	config_defaults(&s->cfg);
	if (mkdir_p(o->home) < 0) {
		fprintf(stderr, "gust: cannot create %s: %s\n", o->home, strerror(errno));
		goto out;
	}
	/* Absolute, so that attempt folders recorded in the store work from any directory. */
	s->home = realpath(o->home, NULL);
	if (!s->home)
		s->home = xstrdup(o->home);
	char *cfg_path = xasprintf("%s/config.yaml", s->home);
	struct diag_list diags;
	diag_list_init(&diags, cfg_path);
	struct dagproc_limits lim;
	dagproc_limits_default(&lim);
	if (dagproc_start(&s->proc, &lim) < 0) {
		fprintf(stderr, "gust: cannot start the DAG processor's thread\n");
		goto out;
	}
	if (load_config(s, cfg_path, &diags) < 0) {
		diag_print(&diags, stderr);
		diag_list_free(&diags);
		free(cfg_path);
		goto out;
	}
	diag_list_free(&diags);
	free(cfg_path);
	if (s->cfg.parse_timeout_ms != lim.time_ms || s->cfg.parse_memory != lim.memory) {
		dagproc_stop(&s->proc);
		lim.time_ms = s->cfg.parse_timeout_ms;
		lim.memory = s->cfg.parse_memory;
		if (dagproc_start(&s->proc, &lim) < 0) {
			fprintf(stderr, "gust: cannot start the DAG processor's thread\n");
			goto out;
		}
	}
	if (o->parallelism)
		s->cfg.parallelism = o->parallelism;
	const char *dags = o->dags_dir ? o->dags_dir : s->cfg.dags_dir;
	if (!dags)
		dags = getenv("GUST_DAGS") && *getenv("GUST_DAGS") ? getenv("GUST_DAGS") : "dags";

	if (o->now) {
		int64_t t;
		if (dag_time_parse_ms(o->now, NULL, &t) < 0) {
			fprintf(stderr, "gust: bad --now '%s': use YYYY-MM-DDTHH:MM:SS[Z]\n",
				o->now);
			goto out;
		}
		s->offset = t - wall_ms();
		log_set_offset(s->offset);
	}
	if (take_lock(s) < 0)
		goto out;

	char *db = xasprintf("%s/gust.db", s->home);
	char *msg = NULL;
	struct store_options so = {.durability = s->cfg.durability};
	if (store_open_with(db, &so, &s->st, &msg) < 0) {
		fprintf(stderr, "gust: %s\n", msg ? msg : "cannot open the store");
		free(msg);
		free(db);
		goto out;
	}
	free(db);
	if (bootstrap_admin(s) < 0)
		goto out;
	/* The loop's commits must not checkpoint the log (copy pages, sync the file). */
	if (store_checkpoint_apart(s->st) < 0)
		slog(LOG_WARN, "server: %s; commits checkpoint the log themselves",
		     store_errmsg(s->st));
	s->logs_dir = xasprintf("%s/logs", s->home);
	mkdir_p(s->logs_dir);
	if (server_vars_open(s) < 0)
		goto out;

	s->base_env = env_without_prefix(environ, "GUST_");
	/* Tasks do not get systemd's socket: only the server speaks for the service. */
	size_t kept = 0;
	for (size_t i = 0; s->base_env[i]; i++)
		if (!notify_env_var(s->base_env[i]))
			s->base_env[kept++] = s->base_env[i];
	s->base_env[kept] = NULL;
	notify_init(&s->notify);
	if (admission_open(s) < 0)
		goto out;
	char offset[32];
	snprintf(offset, sizeof(offset), "%lld", (long long)s->offset);
	store_kv_set(s->st, NULL, "server.clock_offset", s->offset ? offset : NULL);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->ex = local_executor_new();
	char *db_msg = NULL;
	db = xasprintf("%s/gust.db", s->home);
	int e = dagbag_open(&s->bag, dags, &s->proc, db, &db_msg);
	free(db);
	if (e < 0) {
		if (db_msg)
			fprintf(stderr, "gust: %s\n", db_msg);
		else
			fprintf(stderr, "gust: cannot watch the DAG folder %s: %s\n", dags,
				strerror(-e));
		free(db_msg);
		goto out;
	}
	if (s->sfd < 0 || s->tfd < 0 || s->ep < 0 || !s->ex) {
		fprintf(stderr, "gust: cannot set up the event loop: %s\n", strerror(errno));
		goto out;
	}
	struct epoll_event ev = {.events = EPOLLIN};
	int fds[] = {s->sfd, s->tfd, executor_fd(s->ex), s->bag.inotify_fd, dagproc_fd(&s->proc)};
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		ev.data.fd = fds[i];
		epoll_ctl(s->ep, EPOLL_CTL_ADD, fds[i], &ev);
	}

	const char *stall = getenv("GUST_TEST_LOOP_STALL");
	if (stall && strcmp(stall, "1") == 0)
		s->test_stall_path = xasprintf("%s/test-stall", s->home);
	if (start_api(s) < 0)
		goto out;
	ev.data.fd = api_fd(s->api);
	epoll_ctl(s->ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	s->started = server_now(s);
	char when[40];
	slog(LOG_INFO,
	     "server: starting on %s (pid %d), DAGs from %s, parallelism %d, durability %s, "
	     "clock %s%s",
	     s->home, (int)getpid(), dags, s->cfg.parallelism,
	     store_durability_name(s->cfg.durability),
	     time_format_utc(s->started, when, sizeof(when)), o->now ? " (--now)" : "");
	dagbag_scan(&s->bag, s->st, s->started);
	dagbag_on_processed(&s->bag, s->st, s->started, true); /* before runs need their DAGs */
	dagbag_forget_stale_notes(&s->bag, s->st, s->started);
	restore_runs(s, s->started);
	resolve_live_attempts(s, s->started);
	/* What the CLI left while no server ran: queued runs, cancel/clear/wake commands. */
	load_new_runs(s);
	apply_commands(s, s->started);
	on_dags_changed(s, s->started);
	server_timer_push(s, s->started + 250, T_POLL, 0, 0);
	server_timer_push(s, s->started + 1000, T_RETENTION, 0, 0);
	slog(LOG_INFO, "server: ready: %zu DAG file%s, %zu active run%s", s->bag.n,
	     s->bag.n == 1 ? "" : "s", s->n_runs, s->n_runs == 1 ? "" : "s");
	char *status = xasprintf("scheduling %zu DAG file%s; API on %s", s->bag.n,
				 s->bag.n == 1 ? "" : "s", api_address(s->api));
	notify_ready(&s->notify, status);
	free(status);

	/* The longest turn of the loop (from waking up to waiting again), reported at stop: what
	 * a task start or a timer may have waited for (bench/run.sh loop measures it). */
	int64_t longest_us = 0, woke_us = mono_us();
	while (!s->stop) {
		step(s);
		api_check_deploys(s->api, s->st);
		api_loop_turned(s->api, mono_ms());
		notify_turned(&s->notify, mono_us());
		metrics_publish(s);
		if (s->drain && s->running == 0)
			break;
		arm_timerfd(s, server_now(s));
		int64_t turn = mono_us() - woke_us;
		prom_hist_observe(&s->metrics->loop_turn, turn);
		if (turn > longest_us)
			longest_us = turn;
		struct epoll_event got[16];
		int n = epoll_wait(s->ep, got, 16, -1);
		woke_us = mono_us();
		if (n < 0 && errno != EINTR) {
			slog(LOG_ERROR, "server: epoll_wait: %s", strerror(errno));
			break;
		}
		for (int k = 0; k < n; k++) {
			int fd = got[k].data.fd;
			if (fd == s->sfd) {
				struct signalfd_siginfo si;
				while (read(s->sfd, &si, sizeof(si)) == sizeof(si)) {
					if (o->drain && !s->drain) {
						s->drain = true;
						slog(LOG_INFO,
						     "server: %s: draining: no new attempts; "
						     "exiting when %d running attempt%s end",
						     strsignal((int)si.ssi_signo), s->running,
						     s->running == 1 ? "" : "s");
					} else {
						s->stop = true;
						slog(LOG_INFO,
						     "server: %s: stopping; %d running "
						     "attempt%s carry on under their "
						     "supervisors",
						     strsignal((int)si.ssi_signo), s->running,
						     s->running == 1 ? "" : "s");
					}
				}
			} else if (fd == s->tfd) {
				uint64_t x;
				ssize_t r = read(s->tfd, &x, sizeof(x));
				(void)r;
			} else if (fd == s->bag.inotify_fd) {
				dagbag_on_events(&s->bag, s->st, server_now(s));
			} else if (fd == dagproc_fd(&s->proc)) {
				dagbag_on_processed(&s->bag, s->st, server_now(s), false);
			} else if (fd == api_fd(s->api)) {
				api_run_jobs(s->api);
			}
		}
	}
	notify_stopping(&s->notify);
	commit_step(s);
	rc = 0;
	slog(LOG_INFO,
	     "server: stopped; longest loop turn %.1f ms; DAG processor: %llu files, %llu restarts",
	     (double)longest_us / 1000.0, (unsigned long long)dagproc_files(&s->proc),
	     (unsigned long long)dagproc_restarts(&s->proc));
out:
	api_stop(s->api); /* first: its handlers read what the rest holds */
	for (size_t i = 0; i < s->n_runs; i++)
		srun_free(s, s->runs[i]);
	free(s->runs);
	for (size_t i = 0; i < s->live.cap; i++)
		if (s->live.slots && s->live.slots[i].key)
			free(s->live.slots[i].value);
	u64map_free(&s->live);
	u64map_free(&s->by_serial);
	admit_free(s->adm);
	free(s->reservations);
	if (s->ex)
		executor_destroy(s->ex);
	dagproc_stop(&s->proc);
	dagbag_close(&s->bag);
	if (s->st)
		store_close(s->st);
	if (s->ep >= 0)
		close(s->ep);
	if (s->sfd >= 0)
		close(s->sfd);
	if (s->tfd >= 0)
		close(s->tfd);
	if (s->lockfd >= 0)
		close(s->lockfd);
	for (size_t i = 0; i < s->n_adopted; i++)
		free(s->adopted[i].dir);
	free(s->adopted);
	free(s->timers);
	free(s->ends);
	free(s->changes);
	free(s->base_env);
	server_vars_close(s);
	metrics_free(s->metrics);
	free(s->logs_dir);
	free(s->test_stall_path);
	free(s->home);
	config_free(&s->cfg);
	return rc;
}
