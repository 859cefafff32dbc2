/*
 * request.c - write requests and their results as JSON (see ops.h): the form of a stored
 * command row, of an API body, and of the answer a waiting CLI reads back.
 */
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "ops/ops.h"

static const char *const op_names[] = {
    [OPS_CANCEL] = "cancel", [OPS_CLEAR] = "clear",	  [OPS_MARK] = "mark",
    [OPS_PAUSE] = "pause",   [OPS_POOL_SET] = "pool_set", [OPS_POOL_DELETE] = "pool_delete",
};

static const char *const outcome_names[] = {
    [OPS_DONE] = "done",
    [OPS_STARTED] = "started",
    [OPS_QUEUED] = "queued",
};

const char *ops_op_name(enum ops_op op)
{
	return op_names[op];
}

const char *ops_outcome_name(enum ops_outcome o)
{
	return outcome_names[o];
}

void ops_req_free(struct ops_req *rq)
{
	free(rq->run_id);
	free(rq->task_id);
	free(rq->dag_id);
	free(rq->who);
	free(rq->pool);
	free(rq->description);
	memset(rq, 0, sizeof(*rq));
}

/* Which fields each operation takes (besides "op" and "who"). */
enum {
	F_RUN = 1 << 0,
	F_TASK = 1 << 1,
	F_MAP = 1 << 2,
	F_DOWN = 1 << 3,
	F_DRY = 1 << 4,
	F_STATE = 1 << 5,
	F_DAG = 1 << 6,
	F_PAUSED = 1 << 7,
	F_POOL = 1 << 8,
	F_SLOTS = 1 << 9,
	F_DESC = 1 << 10,
};

static const unsigned op_fields[] = {
    [OPS_CANCEL] = F_RUN,
    [OPS_CLEAR] = F_RUN | F_TASK | F_MAP | F_DOWN | F_DRY,
    [OPS_MARK] = F_RUN | F_TASK | F_MAP | F_STATE,
    [OPS_PAUSE] = F_DAG | F_PAUSED,
    [OPS_POOL_SET] = F_POOL | F_SLOTS | F_DESC,
    [OPS_POOL_DELETE] = F_POOL,
};
static const unsigned op_required[] = {
    [OPS_CANCEL] = F_RUN,
    [OPS_CLEAR] = F_RUN | F_TASK,
    [OPS_MARK] = F_RUN | F_TASK | F_STATE,
    [OPS_PAUSE] = F_DAG | F_PAUSED,
    [OPS_POOL_SET] = F_POOL | F_SLOTS,
    [OPS_POOL_DELETE] = F_POOL,
};

static const struct {
	const char *name;
	unsigned flag;
} fields[] = {
    {"run_id", F_RUN},	{"task_id", F_TASK}, {"map_index", F_MAP},    {"downstream", F_DOWN},
    {"dry_run", F_DRY}, {"state", F_STATE},  {"dag_id", F_DAG},	      {"paused", F_PAUSED},
    {"pool", F_POOL},	{"slots", F_SLOTS},  {"description", F_DESC},
};

static int bad(struct ops_err *err, const char *op, const char *key, const char *what)
{
	return ops_fail(err, OPS_BAD_REQUEST, "%s: '%s' %s", op, key, what);
}

static int take_string(const json_t *v, const char *op, const char *key, char **out,
		       struct ops_err *err)
{
	if (!json_is_string(v) || !json_string_length(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return bad(err, op, key, "must be a non-empty string");
	*out = xstrdup(json_string_value(v));
	return 0;
}

static int take_bool(const json_t *v, const char *op, const char *key, bool *out,
		     struct ops_err *err)
{
	if (!json_is_boolean(v))
		return bad(err, op, key, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

int ops_req_parse(const char *op_name, const json_t *obj, struct ops_req *rq, struct ops_err *err)
{
	memset(rq, 0, sizeof(*rq));
	rq->map_index = -1;
	if (!json_is_object(obj))
		return ops_fail(err, OPS_BAD_REQUEST, "the request must be a JSON object");
	const char *name = op_name ? op_name : json_string_value(json_object_get(obj, "op"));
	size_t op = 0;
	while (op < ARRAY_SIZE(op_names) && (!name || strcmp(op_names[op], name) != 0))
		op++;
	if (op == ARRAY_SIZE(op_names))
		return ops_fail(err, OPS_BAD_REQUEST, "unknown operation '%s'",
				name ? name : "(none)");
	rq->op = (enum ops_op)op;
	unsigned seen = 0;
	const char *key;
	json_t *v;
	int r = 0;
	json_object_foreach((json_t *)obj, key, v)
	{
		if (strcmp(key, "op") == 0 && !op_name)
			continue;
		if (strcmp(key, "who") == 0) {
			free(rq->who);
			rq->who = NULL;
			r = take_string(v, name, key, &rq->who, err);
			goto next;
		}
		size_t k = 0;
		while (k < ARRAY_SIZE(fields) && strcmp(fields[k].name, key) != 0)
			k++;
		if (k == ARRAY_SIZE(fields) || !(op_fields[op] & fields[k].flag)) {
			r = bad(err, name, key, "is not a field of this request");
			goto next;
		}
		seen |= fields[k].flag;
		switch (fields[k].flag) {
		case F_RUN:
			r = take_string(v, name, key, &rq->run_id, err);
			break;
		case F_TASK:
			r = take_string(v, name, key, &rq->task_id, err);
			break;
		case F_DAG:
			r = take_string(v, name, key, &rq->dag_id, err);
			break;
		case F_MAP:
			if (json_is_null(v))
				break;
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > INT32_MAX)
				r = bad(err, name, key, "must be a number from 0, or null");
			else
				rq->map_index = (int32_t)json_integer_value(v);
			break;
		case F_DOWN:
			r = take_bool(v, name, key, &rq->downstream, err);
			break;
		case F_DRY:
			r = take_bool(v, name, key, &rq->dry_run, err);
			break;
		case F_PAUSED:
			r = take_bool(v, name, key, &rq->paused, err);
			break;
		case F_POOL:
			r = take_string(v, name, key, &rq->pool, err);
			break;
		case F_SLOTS:
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > INT32_MAX)
				r = bad(err, name, key, "must be a whole number from 0");
			else
				rq->slots = (int32_t)json_integer_value(v);
			break;
		case F_DESC:
			if (json_is_null(v))
				break;
			if (!json_is_string(v) ||
			    strlen(json_string_value(v)) != json_string_length(v))
				r = bad(err, name, key, "must be a string, or null to keep it");
			else
				rq->description = xstrdup(json_string_value(v));
			break;
		case F_STATE: {
			const char *s = json_string_value(v);
			if (!s || (strcmp(s, "success") != 0 && strcmp(s, "failed") != 0))
				r = bad(err, name, key, "must be \"success\" or \"failed\"");
			else
				rq->success = strcmp(s, "success") == 0;
			break;
		}
		}
	next:
		if (r < 0)
			break;
	}
	if (r == 0 && (seen & op_required[op]) != op_required[op]) {
		for (size_t k = 0; k < ARRAY_SIZE(fields); k++)
			if ((op_required[op] & fields[k].flag) && !(seen & fields[k].flag)) {
				r = bad(err, name, fields[k].name, "is required");
				break;
			}
	}
	if (r < 0)
		ops_req_free(rq);
	return r;
}

json_t *ops_req_json(const struct ops_req *rq)
{
	json_t *o = json_pack("{s:s}", "op", op_names[rq->op]);
	unsigned f = op_fields[rq->op];
	if (f & F_RUN)
		json_object_set_new(o, "run_id", json_string(rq->run_id));
	if (f & F_TASK)
		json_object_set_new(o, "task_id", json_string(rq->task_id));
	if ((f & F_MAP) && rq->map_index >= 0)
		json_object_set_new(o, "map_index", json_integer(rq->map_index));
	if (f & F_DOWN)
		json_object_set_new(o, "downstream", json_boolean(rq->downstream));
	if (f & F_DRY)
		json_object_set_new(o, "dry_run", json_boolean(rq->dry_run));
	if (f & F_STATE)
		json_object_set_new(o, "state", json_string(rq->success ? "success" : "failed"));
	if (f & F_DAG)
		json_object_set_new(o, "dag_id", json_string(rq->dag_id));
	if (f & F_PAUSED)
		json_object_set_new(o, "paused", json_boolean(rq->paused));
	if (f & F_POOL)
		json_object_set_new(o, "pool", json_string(rq->pool));
	if (f & F_SLOTS)
		json_object_set_new(o, "slots", json_integer(rq->slots));
	if ((f & F_DESC) && rq->description)
		json_object_set_new(o, "description", json_string(rq->description));
	if (rq->who)
		json_object_set_new(o, "who", json_string(rq->who));
	return o;
}

/* ---- answers and results ------------------------------------------------------------- */

void ops_answer_free(struct ops_answer *a)
{
	json_decref(a->body);
	a->body = NULL;
}

char *ops_result_text(const struct ops_answer *a, const struct ops_err *err)
{
	json_t *o;
	if (err && err->kind != OPS_OK) {
		o = json_pack("{s:{s:s, s:s}}", "error", "kind", ops_kind_slug(err->kind),
			      "message", err->msg ? err->msg : "");
	} else {
		o = a->body ? json_deep_copy(a->body) : json_object();
		json_object_set_new(o, "outcome", json_string(outcome_names[a->outcome]));
	}
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

int ops_result_parse(const char *text, struct ops_answer *a, struct ops_err *err)
{
	memset(a, 0, sizeof(*a));
	json_error_t jerr;
	json_t *o = text ? json_loads(text, 0, &jerr) : NULL;
	if (!json_is_object(o)) {
		json_decref(o);
		return ops_fail(err, OPS_INTERNAL, "the server's answer is not understood: %s",
				text ? text : "(none)");
	}
	json_t *e = json_object_get(o, "error");
	if (e) {
		const char *slug = json_string_value(json_object_get(e, "kind"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		enum ops_kind kind = OPS_INTERNAL;
		for (int k = OPS_BAD_REQUEST; k <= OPS_INTERNAL; k++)
			if (slug && strcmp(slug, ops_kind_slug((enum ops_kind)k)) == 0)
				kind = (enum ops_kind)k;
		ops_fail(err, kind, "%s", msg ? msg : "the server refused it");
		json_decref(o);
		return -1;
	}
	const char *out = json_string_value(json_object_get(o, "outcome"));
	size_t k = 0;
	while (k < ARRAY_SIZE(outcome_names) && (!out || strcmp(out, outcome_names[k]) != 0))
		k++;
	if (k == ARRAY_SIZE(outcome_names)) {
		json_decref(o);
		return ops_fail(err, OPS_INTERNAL, "the server's answer has no outcome: %s", text);
	}
	a->outcome = (enum ops_outcome)k;
	json_object_del(o, "outcome");
	a->body = o;
	return 0;
}
