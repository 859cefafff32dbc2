/*
 * fuzz_api.c - libFuzzer target for the HTTP API's request bodies and query strings: real HTTP
 * on loopback to the real API (src/api over src/http), on a real store in a temporary folder.
 *
 * Set up once: a store with a DAG that has typed params, one run with a finished and a mapped
 * task instance and an attempt with a log; an admin and an API token; the API listening on
 * 127.0.0.1 (port chosen by the kernel); and a thread that plays the scheduler loop's part for
 * the API: it applies the queued writes with ops_apply() on a store connection of its own,
 * exactly as a CLI does when no server runs (ops.h), and publishes its turns.
 *
 * Input: byte 0 picks a route of the table (api_routes), byte 1 a few switches (no
 * credentials, a wrong token, another method, an If-None-Match, no Content-Type); the rest, up
 * to a first '\n', holds the path parameters separated by '|' (each percent-encoded whole
 * here, so any bytes reach the handler as a parameter) and then the query string (its bytes
 * kept, only those a URL cannot hold encoded, so '&', '=', '%' and '+' stay the fuzzer's);
 * after the '\n' comes the body.
 *
 * Checks, for every answer: never a 5xx (the store, a handler's bug or a crash in a transport
 * thread would show as one, or as no answer); every 4xx is problem+json whose "status" is
 * the HTTP status; every JSON answer parses; no answer shows the server's folder or an SQL
 * message. Not fuzzed here: deploys (PUT .../source waits for the loop to load the file, which
 * this harness has no DAG folder watcher for; fuzz_dag_load covers the file, and POST
 * /dags/validate the same checks), and log following (a stream that ends only with its
 * attempt): `follow` is dropped from the query.
 *
 * The store keeps what earlier inputs did (runs triggered, users added), so an input's effect
 * depends on the ones before it; the admin's token is made again if an input revoked it.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "base/buf.h"
#include "base/fsutil.h"
#include "base/util.h"
#include "http/http_route.h"
#include "ops/identity.h"
#include "ops/ops.h"
#include "server/config.h"
#include "server/metrics.h"
#include "server/why.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char dag_src[] = "params:\n"
			      "  n: {type: integer, default: 2, minimum: 1, maximum: 9}\n"
			      "  tag: {type: string, enum: [a, b], default: a}\n"
			      "  when: {type: string, default: '2026-01-01', description: a day}\n"
			      "tasks:\n"
			      "  a: echo ${{ params.n }}\n"
			      "  b:\n"
			      "    run: echo ${{ item }}\n"
			      "    map: [1, 2]\n"
			      "    depends: [a]\n";

static struct {
	char home[64];
	char *db;
	struct store *st; /* the "loop"'s connection */
	struct api *api;
	char base[80];
	char token[128];
	CURL *curl;
	pthread_t loop;
	_Atomic bool stop;
	pthread_mutex_t mu; /* the loop's store against the harness's own use of it */
	struct metrics *metrics; /* GET /metrics: the server's own, with nothing published */
} g;

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "fuzz_api: %s: %s\n", what, msg ? msg : strerror(errno));
	abort();
}

/* ---- the loop's part ------------------------------------------------------------------- */

static int apply(void *ctx, const struct ops_req *rq, struct ops_answer *ans, struct ops_err *err)
{
	struct ops_ctx c = {.st = g.st, .now = wall_ms(), .dags = &ops_dags_from_store};
	return ops_apply(&c, NULL, rq, ans, err);
}

/* GET /metrics as the server renders it (on the HTTP thread). */
static void render_metrics(void *ctx, struct buf *out)
{
	metrics_render(ctx, out);
}

/* GET .../why as the server answers it, over the store's DAG versions and default limits. */
static int why(void *ctx, const char *run_id, const char *task_id, int32_t map_index, json_t **ret,
	       struct ops_err *err)
{
	(void)ctx;
	static struct config cfg;
	static bool have_cfg;
	if (!have_cfg) {
		config_defaults(&cfg);
		have_cfg = true;
	}
	struct why_env env = {.st = g.st,
			      .dags = &ops_dags_from_store,
			      .cfg = &cfg,
			      .home = g.home,
			      .now = wall_ms(),
			      .server = true};
	return why_explain(&env, run_id, task_id, map_index, ret, err);
}

static void *loop_main(void *arg)
{
	while (!atomic_load(&g.stop)) {
		struct pollfd p = {.fd = api_fd(g.api), .events = POLLIN};
		int r = poll(&p, 1, 50);
		api_loop_turned(g.api, mono_ms());
		if (r > 0) {
			pthread_mutex_lock(&g.mu);
			api_run_jobs(g.api);
			pthread_mutex_unlock(&g.mu);
		}
	}
	return NULL;
}

/* ---- set up -------------------------------------------------------------------------------- */

static void new_token(void)
{
	struct ops_actor root = {.user = NULL, .via = "cli"};
	struct ops_err err = {0};
	struct ops_token_new t;
	/* The admin may have been removed or demoted by an input: put them back. */
	char pw[] = "fuzz-admin-password-1";
	if (ops_user_add(g.st, wall_ms(), &root, "fuzzadmin", "admin", pw, strlen(pw), &err) < 0) {
		ops_err_free(&err);
		if (ops_user_set_role(g.st, wall_ms(), &root, "fuzzadmin", "admin", &err) < 0)
			ops_err_free(&err);
	}
	if (ops_token_create(g.st, wall_ms(), &root, "fuzzadmin", "fuzz", 0, &t, &err) < 0)
		die("token", err.msg);
	snprintf(g.token, sizeof(g.token), "Authorization: Bearer %s", t.text);
	ops_token_new_wipe(&t);
}

static void seed(void)
{
	int64_t v = 0;
	if (store_dag_loaded(g.st, NULL, "d", "d.yaml", "h1", dag_src, "@daily", wall_ms(), &v) < 0)
		die("dag", store_errmsg(g.st));
	struct ops_ctx c = {.st = g.st, .now = wall_ms(), .dags = &ops_dags_from_store};
	struct ops_trigger_req rq = {.dag_id = "d"};
	struct ops_trigger_ans ans;
	struct ops_err err = {0};
	if (ops_trigger(&c, &rq, &ans, &err) < 0)
		die("trigger", err.msg);
	if (store_run_set_state(g.st, NULL, ans.run_id, "running", NULL, c.now) < 0)
		die("run", store_errmsg(g.st));
	struct store_ti tis[] = {
	    {.run_id = ans.run_id,
	     .task_id = "a",
	     .map_index = -1,
	     .state = "success",
	     .try_number = 1,
	     .queued_at = c.now,
	     .started_at = c.now,
	     .ended_at = c.now + 5,
	     .exit_code = 0,
	     .output = "{\"rows\":3}"},
	    {.run_id = ans.run_id,
	     .task_id = "b",
	     .map_index = 0,
	     .state = "running",
	     .try_number = 1,
	     .queued_at = c.now,
	     .started_at = c.now,
	     .exit_code = -1,
	     .item = "1"},
	    {.run_id = ans.run_id,
	     .task_id = "b",
	     .map_index = 1,
	     .state = "failed",
	     .try_number = 1,
	     .queued_at = c.now,
	     .started_at = c.now,
	     .ended_at = c.now + 1,
	     .exit_code = 2,
	     .item = "2",
	     .message = "exit 2"},
	};
	if (store_ti_upsert(g.st, NULL, tis, ARRAY_SIZE(tis)) < 0)
		die("tis", store_errmsg(g.st));
	char *dir = xasprintf("%s/logs/d/a/1", g.home);
	if (mkdir_p(dir) < 0)
		die("mkdir", dir);
	char *log = xasprintf("%s/log", dir);
	FILE *f = fopen(log, "w");
	if (!f)
		die("log", log);
	fputs("one\ntwo\nthree\n", f);
	fclose(f);
	struct store_attempt at = {.run_id = ans.run_id,
				   .task_id = "a",
				   .map_index = -1,
				   .try_number = 1,
				   .dir = dir,
				   .queued_at = c.now};
	int64_t id;
	if (store_attempt_add(g.st, NULL, &at, &id) < 0 ||
	    store_attempt_end(g.st, NULL, id, "success", c.now + 5) < 0)
		die("attempt", store_errmsg(g.st));
	free(log);
	free(dir);
	free(ans.run_id);
	new_token();
}

static void teardown(void)
{
	atomic_store(&g.stop, true);
	pthread_join(g.loop, NULL);
	api_stop(g.api);
	metrics_free(g.metrics);
	curl_easy_cleanup(g.curl);
	store_close(g.st);
	rm_rf(g.home);
	free(g.db);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	strcpy(g.home, "/tmp/gust-fuzz-api.XXXXXX");
	if (!mkdtemp(g.home))
		die("mkdtemp", NULL);
	g.db = xasprintf("%s/gust.db", g.home);
	char *msg = NULL;
	if (store_open(g.db, &g.st, &msg) < 0)
		die("store", msg);
	pthread_mutex_init(&g.mu, NULL);
	seed();
	char *dags = xasprintf("%s/dags", g.home);
	mkdir(dags, 0700);
	struct api_options o = {.listen = "127.0.0.1:0",
				.health_stall_ms = 30000,
				.home = g.home,
				.dags_dir = dags,
				.store_url = g.db,
				.loop = {.apply = apply, .why = why},
				.metrics = render_metrics};
	g.metrics = metrics_new(wall_ms());
	o.metrics_ctx = g.metrics;
	if (api_start(&o, &g.api, &msg) < 0)
		die("api", msg);
	free(dags);
	snprintf(g.base, sizeof(g.base), "http://%s", api_address(g.api));
	/* The loop has turned before the first request, or health would rightly say 503 starting.
	 */
	api_loop_turned(g.api, mono_ms());
	if (pthread_create(&g.loop, NULL, loop_main, NULL) != 0)
		die("thread", NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	g.curl = curl_easy_init();
	atexit(teardown);
	return 0;
}

/* ---- one request ------------------------------------------------------------------------- */

static size_t take(char *p, size_t size, size_t n, void *arg)
{
	buf_append(arg, p, size * n);
	return size * n;
}

/* Path parameters encoded whole; the query only where a URL cannot hold the byte. */
static void add_escaped(struct buf *b, const uint8_t *p, size_t n, bool whole)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		bool plain = whole ? (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
					 (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
				   : c > 0x20 && c < 0x7f && c != '#';
		if (plain) {
			buf_append(b, (const char *)&c, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			buf_append(b, e, 3);
		}
	}
}

/* The URL: the pattern with its {parameters} filled from `line`, '|' apart, then the query. */
static void build_url(struct buf *url, const char *pattern, const uint8_t *line, size_t n)
{
	buf_printf(url, "%s", g.base);
	size_t at = 0;
	for (const char *p = pattern; *p;) {
		if (*p != '{') {
			buf_append(url, p++, 1);
			continue;
		}
		p = strchr(p, '}') + 1;
		size_t end = at;
		while (end < n && line[end] != '|')
			end++;
		if (end == at)
			buf_printf(url, "x"); /* an empty segment matches no route */
		else
			add_escaped(url, line + at, end - at, true);
		at = end < n ? end + 1 : end;
	}
	if (at < n) {
		/* Drop `follow` (see the top): its streams end only with their attempt. */
		struct buf q = {0};
		add_escaped(&q, line + at, n - at, false);
		const char *s = buf_str(&q);
		if (!strstr(s, "follow") && !strstr(s, "fol%6C")) {
			buf_printf(url, "?%s", s);
		}
		buf_free(&q);
	}
}

/* What only the server's inside could put in an answer (unless the input said it first). */
static const char *const inside[] = {"sqlite",		 "SQLITE",	   "SQL logic",
				     "no such table",	 "no such column", "syntax error",
				     "constraint failed"};

static void check_answer(long status, const char *ctype, const char *body, size_t len,
			 const uint8_t *in, size_t in_n)
{
	if (status < 200 || status >= 500) {
		fprintf(stderr, "fuzz_api: status %ld: %.*s\n", status, (int)len, body);
		abort();
	}
	bool shows =
	    memmem(body, len, g.home, strlen(g.home)) && !memmem(in, in_n, g.home, strlen(g.home));
	for (size_t i = 0; i < ARRAY_SIZE(inside); i++)
		shows |= memmem(body, len, inside[i], strlen(inside[i])) &&
			 !memmem(in, in_n, inside[i], strlen(inside[i]));
	if (shows) {
		fprintf(stderr, "fuzz_api: the answer shows the server's inside: %.*s\n", (int)len,
			body);
		abort();
	}
	bool problem = ctype && !strncmp(ctype, "application/problem+json", 24);
	bool isjson = problem || (ctype && !strncmp(ctype, "application/json", 16));
	if (status >= 400 && !problem) {
		fprintf(stderr, "fuzz_api: %ld without problem+json (%s)\n", status,
			ctype ? ctype : "no type");
		abort();
	}
	if (!isjson || !len)
		return;
	json_error_t e;
	json_t *j = json_loadb(body, len, 0, &e);
	if (!j) {
		fprintf(stderr, "fuzz_api: bad JSON answer: %s: %.*s\n", e.text, (int)len, body);
		abort();
	}
	if (problem && json_integer_value(json_object_get(j, "status")) != status) {
		fprintf(stderr, "fuzz_api: problem status differs from %ld\n", status);
		abort();
	}
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t n_routes;
	const struct http_route *routes = api_routes(&n_routes);
	const struct http_route *r = &routes[data[0] % n_routes];
	uint8_t sw = data[1];
	if (!strcmp(r->method, "PUT") && strstr(r->pattern, "/source"))
		return 0; /* deploys: see the top */
	const uint8_t *rest = data + 2, *nl = memchr(rest, '\n', size - 2);
	size_t line_n = nl ? (size_t)(nl - rest) : size - 2;
	const uint8_t *body = nl ? nl + 1 : NULL;
	size_t body_n = nl ? size - 2 - line_n - 1 : 0;

	struct buf url = {0}, out = {0};
	build_url(&url, r->pattern, rest, line_n);
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"};
	const char *method = (sw & 4) ? methods[(sw >> 5) % ARRAY_SIZE(methods)] : r->method;
	struct curl_slist *h = NULL;
	if (!(sw & 1))
		h = curl_slist_append(h, (sw & 2) ? "Authorization: Bearer gust_notavalidtokenatall"
						  : g.token);
	if (!(sw & 8))
		h = curl_slist_append(h, "Content-Type: application/json");
	if (sw & 16)
		h = curl_slist_append(h, "If-None-Match: \"0123456789abcdef\"");
	h = curl_slist_append(h, "Expect:");

	CURL *c = g.curl;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, buf_str(&url));
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_n);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		fprintf(stderr, "fuzz_api: %s %s: %s\n", method, buf_str(&url),
			curl_easy_strerror(rc));
		abort();
	}
	long status = 0;
	char *ctype = NULL;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
	check_answer(status, ctype, out.data ? out.data : "", out.len, data, size);
	curl_slist_free_all(h);

	/* A write on users or tokens may have taken the admin's token away. */
	if (strcmp(method, "GET") &&
	    (strstr(r->pattern, "/users") || strstr(r->pattern, "/tokens"))) {
		pthread_mutex_lock(&g.mu);
		struct ops_principal who;
		struct ops_err err = {0};
		const char *tok = g.token + strlen("Authorization: Bearer ");
		if (ops_auth_token(g.st, wall_ms(), tok, strlen(tok), &who, &err) < 0 ||
		    who.role != AUTH_ROLE_ADMIN) {
			ops_err_free(&err);
			new_token();
		}
		pthread_mutex_unlock(&g.mu);
	}
	buf_free(&url);
	buf_free(&out);
	return 0;
}
