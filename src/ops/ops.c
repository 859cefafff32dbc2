/*
 * ops.c - errors of the operations, and compiled DAGs from the store (see ops.h).
 */
#include "ops/ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/util.h"
#include "dag/dag_load.h"

int ops_fail(struct ops_err *e, enum ops_kind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	free(e->msg);
	e->kind = kind;
	e->msg = msg ? msg : xstrdup("out of memory");
	return -1;
}

void ops_err_free(struct ops_err *e)
{
	free(e->msg);
	e->msg = NULL;
	e->kind = OPS_OK;
}

int ops_http_status(enum ops_kind k)
{
	switch (k) {
	case OPS_OK:
		return 200;
	case OPS_BAD_REQUEST:
		return 400;
	case OPS_NOT_FOUND:
		return 404;
	case OPS_CONFLICT:
		return 409;
	case OPS_INVALID:
		return 422;
	case OPS_UNAUTHORIZED:
		return 401;
	case OPS_FORBIDDEN:
		return 403;
	case OPS_INTERNAL:
		break;
	}
	return 500;
}

int ops_exit_code(enum ops_kind k)
{
	switch (k) {
	case OPS_OK:
		return 0;
	case OPS_BAD_REQUEST:
	case OPS_INVALID:
		return 2;
	case OPS_UNAUTHORIZED:
		return 3;
	case OPS_FORBIDDEN:
		return 4;
	case OPS_NOT_FOUND:
	case OPS_CONFLICT:
	case OPS_INTERNAL:
		break;
	}
	return 1;
}

const char *ops_kind_slug(enum ops_kind k)
{
	switch (k) {
	case OPS_OK:
		return "ok";
	case OPS_BAD_REQUEST:
		return "bad-request";
	case OPS_NOT_FOUND:
		return "not-found";
	case OPS_CONFLICT:
		return "conflict";
	case OPS_INVALID:
		return "invalid";
	case OPS_UNAUTHORIZED:
		return "unauthorized";
	case OPS_FORBIDDEN:
		return "forbidden";
	case OPS_INTERNAL:
		break;
	}
	return "internal";
}

/* ---- compiled DAGs from the store ------------------------------------------------------ */

static const struct dag *store_get(void *ctx, struct store *st, const char *dag_id, int64_t version,
				   void **ret_hold, struct ops_err *err)
{
	(void)ctx;
	char *src = NULL;
	if (store_dag_version_source(st, dag_id, version, &src) < 0) {
		ops_fail(err, OPS_INTERNAL, "cannot read DAG '%s' version %lld: %s", dag_id,
			 (long long)version, store_errmsg(st));
		return NULL;
	}
	char *name = xasprintf("%s.yaml", dag_id);
	struct diag_list diags;
	diag_list_init(&diags, name);
	struct dag *d = NULL;
	if (dag_load_buffer(name, src, strlen(src), &d, &diags) < 0) {
		ops_fail(err, OPS_CONFLICT, "DAG '%s' version %lld no longer loads: %s", dag_id,
			 (long long)version, diags.n ? diags.items[0].msg : "?");
		d = NULL;
	}
	diag_list_free(&diags);
	free(name);
	free(src);
	*ret_hold = d;
	return d;
}

static void store_release(void *ctx, void *hold)
{
	(void)ctx;
	dag_free(hold);
}

const struct ops_dags ops_dags_from_store = {store_get, store_release, NULL};
