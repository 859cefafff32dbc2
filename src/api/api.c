/*
 * api.c - the API's server: its route table over the transport, and what the loop publishes
 * for the handlers (see api.h).
 */
#include "api/api.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "base/version.h"
#include "http/http.h"

struct api {
	struct api_options opts;
	struct http_server *http;
	int64_t started_mono;
	_Atomic int64_t last_turn_mono;
};

json_t *api_health_json(int64_t now_mono_ms, int64_t last_turn_mono_ms, int64_t started_mono_ms,
			int64_t stall_ms, int *ret_status)
{
	/* Before the loop's first turn (the start-up: the DAG folder, restoring runs), the age
	 * counts from the start and the server is not ready yet. */
	int64_t since = last_turn_mono_ms ? last_turn_mono_ms : started_mono_ms;
	int64_t age = now_mono_ms > since ? now_mono_ms - since : 0;
	const char *status = !last_turn_mono_ms ? "starting" : age >= stall_ms ? "stalled" : "ok";
	*ret_status = strcmp(status, "ok") == 0 ? 200 : 503;
	return json_pack("{s:s, s:s, s:I, s:I, s:I}", "status", status,
			 "version", GUST_VERSION, "loop_turn_age_ms", (json_int_t)age,
			 "health_stall_ms", (json_int_t)stall_ms, "uptime_ms",
			 (json_int_t)(now_mono_ms - started_mono_ms));
}

static void get_health(void *app, struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	struct api *a = app;
	int status;
	json_t *j = api_health_json(mono_ms(), atomic_load(&a->last_turn_mono), a->started_mono,
				    a->opts.health_stall_ms, &status);
	http_json(rs, status, j);
}

/* flags: what a route needs; the authentication in front of the others comes with them. */
enum { API_PUBLIC = 1u << 0 };

static const struct http_route routes[] = {
    {"GET", "/api/v1/health", get_health, API_PUBLIC, 0},
};

static void transport_log(void *app, const char *msg)
{
	struct api *a = app;
	if (a->opts.log) {
		char *line = xasprintf("http: %s", msg);
		a->opts.log(line);
		free(line);
	}
}

int api_start(const struct api_options *o, struct api **ret, char **ret_msg)
{
	struct api *a = xcalloc(1, sizeof(*a));
	a->opts = *o;
	a->started_mono = mono_ms();
	atomic_init(&a->last_turn_mono, 0);
	struct http_server_options ho = {0};
	ho.listen = o->listen;
	ho.tls_cert_file = o->tls_cert;
	ho.tls_key_file = o->tls_key;
	ho.routes = routes;
	ho.n_routes = ARRAY_SIZE(routes);
	ho.app = a;
	ho.log = transport_log;
	int e = http_server_start(&ho, &a->http, ret_msg);
	if (e < 0) {
		free(a);
		return e;
	}
	*ret = a;
	return 0;
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	http_server_stop(a->http);
	free(a);
}

const char *api_address(const struct api *a)
{
	return http_server_address(a->http);
}

void api_loop_turned(struct api *a, int64_t mono)
{
	if (a)
		atomic_store_explicit(&a->last_turn_mono, mono, memory_order_relaxed);
}
