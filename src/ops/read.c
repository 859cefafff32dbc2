/*
 * read.c - listings for every front end (see ops.h): pages by an opaque keyset cursor, so a
 * page costs the same at the 10th run and the 100,000th, and runs added meanwhile neither
 * repeat nor push rows out of the pages that follow.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "ops/ops.h"

static const char *const run_states[] = {"queued", "running",	"success",
					 "failed", "cancelled", "active"};

#define CURSOR_PREFIX "r1."

/* "r1.CREATED.HEX(RUN_ID)": the key of the last run of a page. Opaque to clients; its form
 * may change with its prefix. */
static char *cursor_make(const struct store_run *r)
{
	size_t len = strlen(r->run_id);
	char *hex = xmalloc(2 * len + 1);
	for (size_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", (unsigned char)r->run_id[i]);
	char *c = xasprintf(CURSOR_PREFIX "%" PRId64 ".%s", r->created_at, hex);
	free(hex);
	return c;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int cursor_parse(const char *c, int64_t *ret_created, char **ret_run_id, struct ops_err *err)
{
	const char *p = c;
	if (strncmp(p, CURSOR_PREFIX, strlen(CURSOR_PREFIX)) != 0)
		goto bad;
	p += strlen(CURSOR_PREFIX);
	char *end;
	errno = 0;
	long long created = strtoll(p, &end, 10);
	if (errno || end == p || *end != '.' || created < 0)
		goto bad;
	p = end + 1;
	size_t n = strlen(p);
	if (!n || n % 2 || n > 2048)
		goto bad;
	char *id = xmalloc(n / 2 + 1);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(id);
			goto bad;
		}
		id[i] = (char)(hi * 16 + lo);
	}
	id[n / 2] = '\0';
	*ret_created = created;
	*ret_run_id = id;
	return 0;
bad:
	return ops_fail(err, OPS_BAD_REQUEST,
			"bad cursor: pass the next_cursor of the page before, unchanged");
}

int ops_run_list(struct store *st, const struct ops_run_query *q, struct ops_run_page *ret,
		 struct ops_err *err)
{
	memset(ret, 0, sizeof(*ret));
	if (q->state) {
		size_t k = 0;
		while (k < ARRAY_SIZE(run_states) && strcmp(q->state, run_states[k]) != 0)
			k++;
		if (k == ARRAY_SIZE(run_states)) {
			const char *hint =
			    closest_word(q->state, run_states, ARRAY_SIZE(run_states));
			return ops_fail(err, OPS_BAD_REQUEST,
					"unknown state '%s'%s%s%s: use queued, running, success, "
					"failed, cancelled or active",
					q->state, hint ? " (did you mean '" : "", hint ? hint : "",
					hint ? "'?)" : "");
		}
	}
	if (q->dag_id) {
		struct store_dag d;
		if (ops_get_dag(st, q->dag_id, &d, err) < 0)
			return -1;
		store_dag_free(&d);
	}
	struct store_run_filter f = {.dag_id = q->dag_id, .state = q->state, .limit = q->limit};
	char *after = NULL;
	if (q->cursor && cursor_parse(q->cursor, &f.after_created_at, &after, err) < 0)
		return -1;
	f.after_run_id = after;
	int r = store_run_list(st, &f, &ret->runs, &ret->n);
	free(after);
	if (r < 0)
		return ops_fail(err, OPS_INTERNAL, "cannot list runs: %s", store_errmsg(st));
	if (q->limit && ret->n == q->limit)
		ret->next_cursor = cursor_make(&ret->runs[ret->n - 1]);
	return 0;
}

void ops_run_page_free(struct ops_run_page *p)
{
	for (size_t i = 0; i < p->n; i++)
		store_run_free(&p->runs[i]);
	free(p->runs);
	free(p->next_cursor);
	memset(p, 0, sizeof(*p));
}
