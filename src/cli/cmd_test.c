/*
 * cmd_test.c - `gust dags test FILE`: run a DAG once, now, on this machine.
 *
 * The same engine (engine/run.h) and executor (exec/local.h) the server drives, wired by one
 * epoll loop: the executor's fd, a signalfd for Ctrl-C / SIGTERM, and a timerfd for retries,
 * dagrun_timeout and the live display. Each iteration starts what the engine says is ready (up
 * to the parallelism), then feeds the executor's events back to the engine. Attempts live under
 * $GUST_HOME/logs/DAG/RUN/TASK[/MAP_INDEX]/TRY/ (log, output, progress, outcome).
 *
 * Ctrl-C once: nothing new starts, every running attempt is cancelled gracefully (TERM, its
 * kill_grace, KILL) and the run ends `cancelled`. Ctrl-C twice: KILL at once.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "base/util.h"
#include "cli/cli.h"
#include "dag/dag_load.h"
#include "dag/dag_time.h"
#include "base/duration.h"
#include "dag/params.h"
#include "engine/run.h"
#include "ops/shape.h"
#include "exec/local.h"
#include "ops/vars.h"

extern char **environ;

/* ---- display ------------------------------------------------------------------------------ */

enum display_mode { DISPLAY_LINES, DISPLAY_TABLE, DISPLAY_QUIET };

struct tester {
	struct dag *dag;
	struct run *run;
	struct executor *ex;
	const char *home;
	char *run_dir;
	char **base_env; /* environ without GUST_* */
	struct run_lookup lookup; /* variables and connections (ops/vars.h) */
	int parallelism;
	enum display_mode display;
	int64_t t0;
	int interrupts;
	uint32_t *changes;
	size_t cap_changes;
	int table_lines; /* lines drawn last time (TTY mode) */
	int64_t last_draw;
};

static void fmt_elapsed(int64_t ms, char *buf, size_t size)
{
	if (ms < 0)
		ms = 0;
	if (ms < 60000)
		snprintf(buf, size, "%.1fs", (double)ms / 1000.0);
	else
		snprintf(buf, size, "%lldm%02llds", (long long)(ms / 60000),
			 (long long)(ms / 1000 % 60));
}

static void progress_text(const struct ti *t, char *buf, size_t size)
{
	if (!t->progress_total && !t->progress_done && !t->progress_msg) {
		buf[0] = '\0';
		return;
	}
	if (t->progress_total)
		snprintf(buf, size, "%d/%d%s%s", t->progress_done, t->progress_total,
			 t->progress_msg ? " " : "", t->progress_msg ? t->progress_msg : "");
	else
		snprintf(buf, size, "%d%%%s%s", t->progress_done, t->progress_msg ? " " : "",
			 t->progress_msg ? t->progress_msg : "");
}

static void print_change(struct tester *T, uint32_t i, int64_t now)
{
	const struct ti *t = run_ti(T->run, i);
	if (t->state == TI_NONE)
		return;
	char name[256], el[32], prog[256];
	run_ti_name(T->run, i, name, sizeof(name));
	fmt_elapsed(now - T->t0, el, sizeof(el));
	printf("%8s  %-28s %-15s", el, name, ti_state_name(t->state));
	if (t->try_number)
		printf(" try %d", t->try_number);
	if (t->state == TI_RUNNING) {
		progress_text(t, prog, sizeof(prog));
		if (prog[0])
			printf("  %s", prog);
	}
	if (t->message && (ti_state_done(t->state) || t->state == TI_UP_FOR_RETRY))
		printf("  (%s)", t->message);
	putchar('\n');
}

static uint32_t *ti_order(const struct run *r);

static void draw_table(struct tester *T, int64_t now, bool final)
{
	struct buf b = BUF_INIT;
	if (T->table_lines)
		buf_printf(&b, "\033[%dA\033[J", T->table_lines);
	int lines = 0, shown = 0, limit = 40;
	uint32_t counts[TI__COUNT] = {0};
	uint32_t n = run_ti_count(T->run);
	for (uint32_t i = 0; i < n; i++)
		counts[run_ti(T->run, i)->state]++;
	buf_printf(&b, "%-30s %-15s %4s %9s  %s\n", "TASK", "STATE", "TRY", "DURATION", "PROGRESS");
	lines++;
	/* Active tasks first, then the rest in order, up to `limit` rows. */
	uint32_t *order = ti_order(T->run);
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t k = 0; k < n && shown < limit; k++) {
			uint32_t i = order[k];
			const struct ti *t = run_ti(T->run, i);
			bool active = t->state == TI_RUNNING || t->state == TI_QUEUED ||
				      t->state == TI_UP_FOR_RETRY;
			if ((pass == 0) != active)
				continue;
			char name[256], dur[32] = "", prog[256];
			run_ti_name(T->run, i, name, sizeof(name));
			if (t->started_at)
				fmt_elapsed((t->ended_at ? t->ended_at : now) - t->started_at, dur,
					    sizeof(dur));
			progress_text(t, prog, sizeof(prog));
			const char *color =
			    t->state == TI_SUCCESS				      ? "\033[32m"
			    : t->state == TI_FAILED || t->state == TI_UPSTREAM_FAILED ? "\033[31m"
			    : t->state == TI_RUNNING				      ? "\033[36m"
			    : t->state == TI_UP_FOR_RETRY			      ? "\033[33m"
										      : "";
			buf_printf(&b, "%-30.30s %s%-15s\033[0m %4d %9s  %.60s\n", name, color,
				   ti_state_name(t->state), t->try_number, dur, prog);
			lines++;
			shown++;
		}
	}
	free(order);
	if ((uint32_t)shown < n) {
		buf_printf(&b, "... and %u more\n", n - (uint32_t)shown);
		lines++;
	}
	char el[32];
	fmt_elapsed(now - T->t0, el, sizeof(el));
	buf_printf(
	    &b, "%s  running %u, queued %u, done %u/%u (success %u, failed %u, skipped %u)%s\n", el,
	    counts[TI_RUNNING], counts[TI_QUEUED] + counts[TI_SCHEDULED],
	    counts[TI_SUCCESS] + counts[TI_FAILED] + counts[TI_SKIPPED] +
		counts[TI_UPSTREAM_FAILED],
	    n, counts[TI_SUCCESS], counts[TI_FAILED] + counts[TI_UPSTREAM_FAILED],
	    counts[TI_SKIPPED], run_is_cancelling(T->run) && !final ? "  cancelling..." : "");
	lines++;
	fwrite(b.data, 1, b.len, stdout);
	fflush(stdout);
	buf_free(&b);
	T->table_lines = lines;
	T->last_draw = now;
}

static void report_changes(struct tester *T, int64_t now)
{
	size_t n_tis = run_ti_count(T->run);
	T->changes = xrealloc_array(T->changes, n_tis + 1, sizeof(*T->changes), &T->cap_changes);
	size_t n = run_drain_changes(T->run, T->changes, T->cap_changes);
	if (T->display == DISPLAY_LINES) {
		for (size_t k = 0; k < n; k++)
			print_change(T, T->changes[k], now);
		fflush(stdout);
	}
}

/* ---- attempts ---------------------------------------------------------------------------- */

static void finish_without_process(struct tester *T, uint32_t i, enum attempt_status st, char *msg,
				   int64_t now)
{
	struct attempt_outcome o = {.status = st, .exit_code = -1, .message = msg};
	o.started_at = o.ended_at = now;
	run_on_finished(T->run, i, &o, now);
	free(msg);
}

static void start_ready(struct tester *T)
{
	int limit = T->parallelism;
	if (T->dag->max_active_tasks && T->dag->max_active_tasks < limit)
		limit = T->dag->max_active_tasks;
	while ((int)run_active_count(T->run) < limit) {
		int64_t next = run_pop_ready(T->run);
		if (next < 0)
			break;
		uint32_t i = (uint32_t)next;
		int64_t now = wall_ms();
		struct attempt_plan plan;
		int r = run_begin_attempt_with(T->run, i, now, &T->lookup, &plan);
		if (r != 0)
			continue; /* nothing to run (done), or failed to render (recorded) */
		const struct ti *t = run_ti(T->run, i);
		const char *task_id = T->dag->tasks[t->task].id;
		char *dir =
		    t->map_index >= 0
			? xasprintf("%s/%s/%d/%d", T->run_dir, task_id, t->map_index, t->try_number)
			: xasprintf("%s/%s/%d", T->run_dir, task_id, t->try_number);
		int e = mkdir_p(dir);
		if (e < 0) {
			finish_without_process(
			    T, i, AS_FAILED,
			    xasprintf("cannot create the attempt folder %s: %s", dir, strerror(-e)),
			    now);
			free(dir);
			attempt_plan_free(&plan);
			continue;
		}
		char **env = env_merge(T->base_env, plan.env);
		struct attempt_spec spec = {
		    .dir = dir,
		    .shell = plan.shell,
		    .argv = (const char *const *)plan.argv,
		    .envp = (const char *const *)env,
		    .workdir = plan.workdir,
		    .timeout_ms = plan.timeout_ms,
		    .kill_grace_ms = plan.kill_grace_ms,
		    .keep_leftovers = plan.keep_leftovers,
		    .secrets = (const char *const *)plan.secrets,
		};
		e = executor_start(T->ex, i, &spec);
		if (e < 0)
			finish_without_process(
			    T, i, AS_FAILED,
			    xasprintf("cannot start a supervisor: %s", strerror(-e)), now);
		free(env);
		free(dir);
		attempt_plan_free(&plan);
	}
}

static void cancel_all(struct tester *T, bool immediate)
{
	uint32_t n = run_ti_count(T->run);
	for (uint32_t i = 0; i < n; i++) {
		enum ti_state s = run_ti(T->run, i)->state;
		if (s == TI_RUNNING || s == TI_QUEUED)
			executor_cancel(T->ex, i, immediate);
	}
}

static void drain_executor(struct tester *T)
{
	struct executor_event evs[64];
	size_t n;
	while ((n = executor_poll(T->ex, evs, ARRAY_SIZE(evs))) > 0) {
		for (size_t k = 0; k < n; k++) {
			struct executor_event *ev = &evs[k];
			uint32_t i = (uint32_t)ev->key;
			int64_t now = wall_ms();
			switch (ev->kind) {
			case EXEC_EV_STARTED:
				run_on_started(T->run, i, now);
				break;
			case EXEC_EV_PROGRESS:
				run_on_progress(T->run, i, ev->progress_done, ev->progress_total,
						ev->progress_msg);
				break;
			case EXEC_EV_FINISHED:
				run_on_finished(T->run, i, &ev->outcome, now);
				break;
			}
			executor_event_free(ev);
		}
	}
}

static void arm_timer(int tfd, int64_t delay_ms)
{
	struct itimerspec its = {0};
	if (delay_ms < 1)
		delay_ms = 1;
	its.it_value.tv_sec = delay_ms / 1000;
	its.it_value.tv_nsec = (delay_ms % 1000) * 1000000;
	timerfd_settime(tfd, 0, &its, NULL);
}

static int loop(struct tester *T, int sfd, int tfd)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -errno;
	struct epoll_event ev = {.events = EPOLLIN};
	ev.data.fd = executor_fd(T->ex);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = tfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	for (;;) {
		int64_t now = wall_ms();
		if (run_on_time(T->run, now))
			cancel_all(T, false); /* dagrun_timeout */
		start_ready(T);
		report_changes(T, now);
		enum run_state st = run_get_state(T->run);
		if (st != RUN_RUNNING && st != RUN_QUEUED && executor_running(T->ex) == 0)
			break;
		int64_t wake = run_next_wakeup(T->run);
		int64_t delay = wake == INT64_MAX ? 3600 * 1000 : wake - now;
		if (T->display == DISPLAY_TABLE) {
			if (now - T->last_draw >= 100)
				draw_table(T, now, false);
			if (delay > 250)
				delay = 250;
		}
		arm_timer(tfd, delay);
		struct epoll_event got[8];
		int n = epoll_wait(ep, got, 8, -1);
		if (n < 0 && errno != EINTR) {
			close(ep);
			return -errno;
		}
		for (int k = 0; k < n; k++) {
			int fd = got[k].data.fd;
			if (fd == sfd) {
				struct signalfd_siginfo si;
				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					T->interrupts++;
					if (T->interrupts == 1) {
						run_cancel(T->run, wall_ms(),
							   si.ssi_signo == SIGINT
							       ? "cancelled by Ctrl-C"
							       : "cancelled by SIGTERM");
						cancel_all(T, false);
						if (T->display != DISPLAY_QUIET)
							fprintf(
							    stderr,
							    "gust: cancelling: stopping running "
							    "tasks (TERM, then KILL after their "
							    "grace); press Ctrl-C again to kill "
							    "them now\n");
					} else {
						cancel_all(T, true);
					}
				}
			} else if (fd == tfd) {
				uint64_t x;
				ssize_t rr = read(tfd, &x, sizeof(x));
				(void)rr;
			}
		}
		drain_executor(T);
	}
	close(ep);
	return 0;
}

/* TIs in the order a person reads a DAG: tasks in topological order, instances by index. */
static const struct run *sort_run;
static uint32_t *sort_rank;

static int cmp_ti(const void *a, const void *b)
{
	const struct ti *x = run_ti(sort_run, *(const uint32_t *)a);
	const struct ti *y = run_ti(sort_run, *(const uint32_t *)b);
	if (x->task != y->task)
		return sort_rank[x->task] < sort_rank[y->task] ? -1 : 1;
	return x->map_index < y->map_index ? -1 : x->map_index > y->map_index;
}

static uint32_t *ti_order(const struct run *r)
{
	const struct dag *d = run_dag(r);
	uint32_t n = run_ti_count(r);
	uint32_t *order = xcalloc(n ? n : 1, sizeof(uint32_t));
	sort_rank = xcalloc(d->n_tasks ? d->n_tasks : 1, sizeof(uint32_t));
	for (uint32_t k = 0; k < d->n_tasks; k++)
		sort_rank[d->topo[k]] = k;
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	sort_run = r;
	qsort(order, n, sizeof(*order), cmp_ti);
	free(sort_rank);
	sort_rank = NULL;
	return order;
}

/* ---- summary ---------------------------------------------------------------------------- */

static void print_summary(struct tester *T)
{
	uint32_t n = run_ti_count(T->run);
	int64_t end = wall_ms();
	char el[32];
	uint32_t shown = 0, problems = 0;
	for (uint32_t i = 0; i < n; i++)
		problems += run_ti(T->run, i)->state != TI_SUCCESS;
	if (T->display != DISPLAY_TABLE || problems)
		printf("\n%-30s %-15s %4s %9s  %s\n", "TASK", "STATE", "TRY", "DURATION",
		       "DETAILS");
	uint32_t *order = ti_order(T->run);
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = order[k];
		const struct ti *t = run_ti(T->run, i);
		/* Large runs: list what did not succeed, and a sample of the rest. After the live
		 * table (a terminal), only what did not succeed. */
		if (t->state == TI_SUCCESS &&
		    ((n > 60 && shown >= 20) || T->display == DISPLAY_TABLE))
			continue;
		shown++;
		char name[256], dur[32] = "";
		run_ti_name(T->run, i, name, sizeof(name));
		if (t->started_at && t->ended_at)
			fmt_elapsed(t->ended_at - t->started_at, dur, sizeof(dur));
		printf("%-30.30s %-15s %4d %9s  %s\n", name, ti_state_name(t->state), t->try_number,
		       dur, t->message ? t->message : "");
	}
	free(order);
	if (shown < n && T->display != DISPLAY_TABLE)
		printf("(%u more succeeded)\n", n - shown);
	fmt_elapsed(end - T->t0, el, sizeof(el));
	enum run_state st = run_get_state(T->run);
	printf("\nrun %s of DAG %s: %s in %s%s%s\nlogs: %s\n", run_id(T->run), T->dag->id,
	       run_state_name(st), el, run_message(T->run) ? ": " : "",
	       run_message(T->run) ? run_message(T->run) : "", T->run_dir);
}

/* ---- command ---------------------------------------------------------------------------- */

const struct cli_cmd dags_test_cmd;

int cmd_dags_test(int argc, char **argv);

/* The run as `gust runs show --json` prints a stored one (ops/shape.h): one shape for both. */
static json_t *run_json(const struct run *r, int64_t now)
{
	struct store_run rec;
	ops_run_record(r, "manual", &rec);
	char *params = json_dumps(run_params(r), JSON_COMPACT);
	rec.params = params;
	uint32_t n = run_ti_count(r);
	struct store_ti *tis = xcalloc(n ? n : 1, sizeof(*tis));
	for (uint32_t i = 0; i < n; i++)
		ops_ti_record(r, i, &tis[i]);
	json_t *j = ops_run_with_tis_json(&rec, tis, n, now);
	for (uint32_t i = 0; i < n; i++)
		ops_ti_record_done(&tis[i]);
	free(tis);
	free(params);
	return j;
}

int cmd_dags_test(int argc, char **argv)
{
	const char *home = getenv("GUST_HOME");
	int parallelism = 16;
	bool json = false, quiet = false;
	json_t *given = json_object();
	struct dag *d = NULL;
	int rc = EXIT_USAGE;
	static const struct option opts[] = {
	    {"param", required_argument, NULL, 'p'},
	    {"parallelism", required_argument, NULL, 'j'},
	    {"json", no_argument, NULL, 'J'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"home", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct {
		char *k, *v;
	} raw[256];
	size_t n_raw = 0;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "p:j:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'p': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg) {
				cli_usage_error(&dags_test_cmd,
						"--param takes NAME=VALUE, got '%s'", optarg);
				goto out;
			}
			if (n_raw == ARRAY_SIZE(raw)) {
				cli_usage_error(&dags_test_cmd, "too many --param");
				goto out;
			}
			raw[n_raw].k = xstrndup(optarg, (size_t)(eq - optarg));
			raw[n_raw].v = eq + 1;
			n_raw++;
			break;
		}
		case 'j': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 100000) {
				cli_usage_error(&dags_test_cmd,
						"--parallelism takes a number from 1 to 100000");
				goto out;
			}
			parallelism = (int)v;
			break;
		}
		case 'J':
			json = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'H':
			home = optarg;
			break;
		case 'h':
			rc = cli_help(&dags_test_cmd);
			goto out;
		default:
			cli_usage_error(&dags_test_cmd, "bad option");
			goto out;
		}
	}
	if (argc - optind != 1) {
		cli_usage_error(&dags_test_cmd, "name exactly one DAG file");
		goto out;
	}
	if (!home || !*home)
		home = ".gust";
	const char *file = argv[optind];
	struct diag_list diags;
	diag_list_init(&diags, file);
	if (dag_load_file(file, &d, &diags) < 0) {
		diag_sort(&diags);
		diag_print(&diags, stderr);
		diag_list_free(&diags);
		rc = 1;
		goto out;
	}
	diag_list_free(&diags);

	/* Params: typed and checked before anything runs. */
	for (size_t k = 0; k < n_raw; k++) {
		const struct dag_param *p = dag_param_find(d, raw[k].k);
		if (!p) {
			fprintf(stderr, "gust: DAG '%s' has no param '%s'%s\n", d->id, raw[k].k,
				d->n_params ? "" : " (it declares none)");
			rc = EXIT_USAGE;
			goto out;
		}
		json_t *v = NULL;
		char *msg = NULL;
		if (param_parse_text(p, raw[k].v, &v, &msg) < 0) {
			fprintf(stderr, "gust: %s\n", msg);
			free(msg);
			rc = EXIT_USAGE;
			goto out;
		}
		json_object_set_new(given, p->name, v);
	}
	char *msg = NULL;
	json_t *params = params_resolve(d, given, &msg);
	if (!params) {
		fprintf(stderr, "gust: %s\n", msg);
		free(msg);
		rc = EXIT_USAGE;
		goto out;
	}

	struct tester T = {.dag = d, .home = home, .parallelism = parallelism};
	T.display = json || quiet	    ? DISPLAY_QUIET
		    : isatty(STDOUT_FILENO) ? DISPLAY_TABLE
					    : DISPLAY_LINES;
	T.t0 = wall_ms();
	char stamp[40];
	time_format_utc(T.t0, stamp, sizeof(stamp));
	for (char *s = stamp; *s; s++)
		if (*s == ':')
			*s = '-';
	char *rid = xasprintf("test__%s.%03lld_%d", stamp, (long long)(T.t0 % 1000), (int)getpid());
	T.base_env = env_without_prefix(environ, "GUST_");
	struct ops_vars_snapshot *vars = cli_vars_snapshot(home, environ);
	if (!vars) {
		rc = 1;
		goto out_run;
	}
	ops_vars_lookup(vars, &T.lookup);
	T.run_dir = xasprintf("%s/logs/%s/%s", home, d->id, rid);
	int e = mkdir_p(T.run_dir);
	if (e < 0) {
		fprintf(stderr, "gust: cannot create %s: %s\n", T.run_dir, strerror(-e));
		rc = 1;
		goto out_run;
	}
	/* Signals arrive through a signalfd; they are blocked before any supervisor is forked,
	 * and supervisors set their own masks. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	T.ex = local_executor_new();
	if (sfd < 0 || tfd < 0 || !T.ex) {
		fprintf(stderr, "gust: cannot set up the event loop: %s\n", strerror(errno));
		rc = 1;
		goto out_run;
	}
	struct run_config cfg = {.run_id = rid, .logical_date_ms = T.t0, .params = params};
	dag_compute_weights(d);
	T.run = run_new(d, &cfg, T.t0);
	if (T.display == DISPLAY_LINES)
		printf("run %s of DAG %s: %u task%s, parallelism %d, logs in %s\n", rid, d->id,
		       d->n_tasks, d->n_tasks == 1 ? "" : "s", parallelism, T.run_dir);
	e = loop(&T, sfd, tfd);
	if (e < 0)
		fprintf(stderr, "gust: event loop failed: %s\n", strerror(-e));
	report_changes(&T, wall_ms());
	if (T.display == DISPLAY_TABLE)
		draw_table(&T, wall_ms(), true);
	if (json) {
		json_t *j = run_json(T.run, wall_ms());
		json_object_set_new(j, "logs", json_string(T.run_dir));
		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	} else if (!quiet) {
		print_summary(&T);
	}
	rc = run_get_state(T.run) == RUN_SUCCESS ? 0 : 1;
	close(sfd);
	close(tfd);
out_run:
	if (T.ex)
		executor_destroy(T.ex);
	run_free(T.run);
	ops_vars_snapshot_free(vars);
	free(T.base_env);
	free(T.run_dir);
	free(T.changes);
	free(rid);
	json_decref(params);
out:
	for (size_t k = 0; k < n_raw; k++)
		free(raw[k].k);
	json_decref(given);
	dag_free(d);
	return rc;
}

const struct cli_cmd dags_test_cmd = {
    "dags test",
    cmd_dags_test,
    "run a DAG once, now, on this machine",
    "Usage: gust dags test FILE [--param NAME=VALUE]... [--parallelism N] [--json] [--quiet]\n"
    "\n"
    "Run the DAG once, now, on this machine, with the same engine and supervisors the\n"
    "server uses: retries, timeouts that end the whole process tree, trigger rules, map,\n"
    "outputs. Params are checked against their declared types and bounds first.\n"
    "\n"
    "On a terminal a live table shows each task's state, try, duration and progress;\n"
    "otherwise one line per state change. Logs and outputs of every attempt are kept\n"
    "under $GUST_HOME/logs/DAG/RUN/ (GUST_HOME defaults to ./.gust; or --home DIR).\n"
    "\n"
    "  --param NAME=VALUE   set a param (repeatable)\n"
    "  --parallelism N      at most N tasks at once (default 16; the DAG's\n"
    "                       max_active_tasks also applies)\n"
    "  --json               print the finished run as JSON (tasks, states, tries, exit\n"
    "                       codes or signals, durations, outputs) and nothing else\n"
    "  --quiet              print nothing; the exit status tells\n"
    "  --home DIR           where logs go (default $GUST_HOME or ./.gust)\n"
    "\n"
    "Ctrl-C stops every running task gracefully (TERM, its kill_grace, then KILL) and\n"
    "the run ends cancelled; a second Ctrl-C kills them at once.\n"
    "Exit status: 0 the run succeeded, 1 it did not (or the DAG is invalid), 2 usage\n"
    "error or bad params.\n",
};
