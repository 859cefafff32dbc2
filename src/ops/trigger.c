/*
 * trigger.c - a manual run queued (see ops.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "dag/dag.h"
#include "dag/dag_time.h"
#include "dag/params.h"
#include "ops/ops.h"

/* The params of the run: texts parsed by type, typed values as given, then every default and
 * check (params_resolve). A new object, or NULL with *err. */
static json_t *run_params(const struct dag *d, const struct ops_trigger_req *rq,
			  struct ops_err *err)
{
	json_t *given = rq->params ? json_deep_copy(rq->params) : json_object();
	if (!json_is_object(given)) {
		json_decref(given);
		ops_fail(err, OPS_BAD_REQUEST, "params must be an object");
		return NULL;
	}
	for (size_t k = 0; k < rq->n_texts; k++) {
		const struct ops_param_text *t = &rq->texts[k];
		const struct dag_param *p = dag_param_find(d, t->name);
		if (!p) {
			const char **names = xcalloc(d->n_params + 1, sizeof(*names));
			for (uint32_t i = 0; i < d->n_params; i++)
				names[i] = d->params[i].name;
			const char *hint = closest_word(t->name, names, d->n_params);
			ops_fail(err, OPS_INVALID, "DAG '%s' has no param '%s'%s%s%s", d->id,
				 t->name,
				 hint	       ? " (did you mean '"
				 : d->n_params ? ""
					       : " (it declares none)",
				 hint ? hint : "", hint ? "'?)" : "");
			free(names);
			json_decref(given);
			return NULL;
		}
		json_t *v = NULL;
		char *msg = NULL;
		if (param_parse_text(p, t->value, &v, &msg) < 0) {
			ops_fail(err, OPS_INVALID, "%s", msg);
			free(msg);
			json_decref(given);
			return NULL;
		}
		json_object_set_new(given, p->name, v);
	}
	char *msg = NULL;
	json_t *params = params_resolve(d, given, &msg);
	json_decref(given);
	if (!params) {
		ops_fail(err, OPS_INVALID, "%s", msg);
		free(msg);
	}
	return params;
}

/* A note is a line or a few of text: valid UTF-8 (jansson checks it), and short. */
static int check_note(const char *note, struct ops_err *err)
{
	if (!note)
		return 0;
	size_t n = strlen(note);
	if (n > OPS_NOTE_MAX)
		return ops_fail(err, OPS_INVALID, "the note is %zu bytes; at most %d are kept", n,
				OPS_NOTE_MAX);
	json_t *j = json_string(note);
	if (!j)
		return ops_fail(err, OPS_INVALID, "the note is not valid UTF-8 text");
	json_decref(j);
	return 0;
}

/* Create the run: DAG@manual-TIME, the next millisecond when two triggers share one. */
static int create_run(const struct ops_ctx *c, const struct ops_trigger_req *rq, int64_t version,
		      const char *params, struct ops_trigger_ans *ans, struct ops_err *err)
{
	const char *dag_id = rq->dag_id;
	int64_t logical = rq->logical_date;
	int e = -EEXIST;
	char *rid = NULL;
	for (int k = 0; k < 100 && e == -EEXIST; k++) {
		free(rid);
		char when[48];
		rid = xasprintf("%s@manual-%s", dag_id,
				time_format_utc_ms(c->now + k, when, sizeof(when)));
		struct store_run r = {
		    .run_id = rid,
		    .dag_id = (char *)dag_id,
		    .version = version,
		    .kind = STORE_RUN_MANUAL,
		    .logical_date = logical ? logical : c->now + k,
		    .state = "queued",
		    .params = (char *)params,
		    .created_at = c->now + k,
		    .note = (char *)rq->note,
		};
		e = store_run_create(c->st, NULL, &r);
	}
	if (e < 0) {
		free(rid);
		return ops_fail(err, OPS_INTERNAL, "cannot create a run of DAG '%s': %s", dag_id,
				store_errmsg(c->st));
	}
	ans->run_id = rid;
	ans->version = version;
	return 0;
}

int ops_trigger(const struct ops_ctx *c, const struct ops_trigger_req *rq,
		struct ops_trigger_ans *ans, struct ops_err *err)
{
	memset(ans, 0, sizeof(*ans));
	if (check_note(rq->note, err) < 0)
		return -1;
	struct store_dag row;
	if (ops_get_dag(c->st, rq->dag_id, &row, err) < 0)
		return -1;
	int r = -1;
	if (row.deleted) {
		ops_fail(err, OPS_CONFLICT,
			 "DAG '%s' was removed from the DAG folder (%s); its history is kept but "
			 "it cannot be triggered",
			 rq->dag_id, row.file ? row.file : "?");
	} else if (!row.version) {
		ops_fail(err, OPS_CONFLICT,
			 "DAG '%s' cannot be triggered: its file has never "
			 "loaded:\n%s",
			 rq->dag_id, row.error ? row.error : "(no error recorded)");
	} else {
		void *hold = NULL;
		const struct dag *d =
		    c->dags->get(c->dags->ctx, c->st, rq->dag_id, row.version, &hold, err);
		if (d) {
			json_t *params = run_params(d, rq, err);
			if (params) {
				char *text = json_dumps(params, JSON_COMPACT);
				r = create_run(c, rq, row.version, text, ans, err);
				free(text);
				json_decref(params);
			}
			c->dags->release(c->dags->ctx, hold);
		}
	}
	store_dag_free(&row);
	return r;
}

void ops_trigger_ans_free(struct ops_trigger_ans *a)
{
	free(a->run_id);
	a->run_id = NULL;
}
