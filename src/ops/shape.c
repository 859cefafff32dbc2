/*
 * shape.c - the JSON shape of each object (see shape.h).
 */
#include "ops/shape.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dag/dag.h"
#include "dag/dag_time.h"
#include "engine/run.h"
#include "ops/vars.h"

json_t *ops_time_json(int64_t ms)
{
	char b[48];
	return ms ? json_string(time_format_utc_ms(ms, b, sizeof(b))) : json_null();
}

int ops_time_parse(const json_t *v, int64_t *ret_ms)
{
	const char *s = json_string_value(v);
	/* YYYY-MM-DDTHH:MM:SS.mmmZ */
	if (!s || strlen(s) != 24 || s[19] != '.' || s[23] != 'Z')
		return -EINVAL;
	char whole[21];
	memcpy(whole, s, 19);
	memcpy(whole + 19, "Z", 2);
	int64_t ms;
	if (dag_time_parse_ms(whole, NULL, &ms) < 0)
		return -EINVAL;
	int frac = 0;
	for (int i = 20; i < 23; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		frac = frac * 10 + (s[i] - '0');
	}
	*ret_ms = ms + frac;
	return 0;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* Stored JSON text back to a value: null when absent, the text itself when unreadable. */
static json_t *parsed(const char *text)
{
	if (!text)
		return json_null();
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
	return v ? v : json_string(text);
}

static json_t *duration(int64_t started, int64_t ended, int64_t now)
{
	return started ? json_integer((ended ? ended : now) - started) : json_null();
}

static const char *run_kind_name(enum store_run_kind k)
{
	return k == STORE_RUN_MANUAL ? "manual" : "scheduled";
}

json_t *ops_run_json(const struct store_run *r, int64_t now)
{
	json_t *o = json_object();
	json_object_set_new(o, "run_id", json_string(r->run_id));
	json_object_set_new(o, "dag_id", json_string(r->dag_id));
	json_object_set_new(o, "version", r->version ? json_integer(r->version) : json_null());
	json_object_set_new(o, "kind", json_string(run_kind_name(r->kind)));
	json_object_set_new(o, "state", json_string(r->state));
	json_object_set_new(o, "logical_date", ops_time_json(r->logical_date));
	json_object_set_new(o, "created_at", ops_time_json(r->created_at));
	json_object_set_new(o, "started_at", ops_time_json(r->started_at));
	json_object_set_new(o, "ended_at", ops_time_json(r->ended_at));
	json_object_set_new(o, "duration_ms", duration(r->started_at, r->ended_at, now));
	json_object_set_new(o, "params", r->params ? parsed(r->params) : json_object());
	json_object_set_new(o, "message", str_or_null(r->message));
	json_object_set_new(o, "note", str_or_null(r->note));
	return o;
}

json_t *ops_ti_json(const struct store_ti *t, int64_t now)
{
	json_t *o = json_object();
	json_object_set_new(o, "run_id", str_or_null(t->run_id));
	json_object_set_new(o, "task_id", json_string(t->task_id));
	json_object_set_new(o, "map_index",
			    t->map_index >= 0 ? json_integer(t->map_index) : json_null());
	json_object_set_new(o, "state", json_string(t->state));
	json_object_set_new(o, "try_number", json_integer(t->try_number));
	json_object_set_new(o, "queued_at", ops_time_json(t->queued_at));
	json_object_set_new(o, "started_at", ops_time_json(t->started_at));
	json_object_set_new(o, "ended_at", ops_time_json(t->ended_at));
	json_object_set_new(o, "retry_at", ops_time_json(t->retry_at));
	json_object_set_new(o, "duration_ms", duration(t->started_at, t->ended_at, now));
	json_object_set_new(o, "exit_code",
			    t->exit_code >= 0 ? json_integer(t->exit_code) : json_null());
	json_object_set_new(o, "signal", t->signal > 0 ? json_integer(t->signal) : json_null());
	json_object_set_new(o, "message", str_or_null(t->message));
	json_t *p = json_object();
	json_object_set_new(p, "done", json_integer(t->progress_done));
	json_object_set_new(p, "total", json_integer(t->progress_total));
	json_object_set_new(p, "message", str_or_null(t->progress_msg));
	json_object_set_new(o, "progress", p);
	json_object_set_new(o, "output", parsed(t->output));
	json_object_set_new(o, "item", parsed(t->item));
	json_object_set_new(o, "pool", json_string(t->pool ? t->pool : "default_pool"));
	json_object_set_new(o, "pool_slots", json_integer(t->pool_slots ? t->pool_slots : 1));
	json_object_set_new(o, "weight", json_integer(t->weight));
	return o;
}

json_t *ops_pool_json(const struct store_pool *p)
{
	bool missing = p->slots < 0;
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(p->name));
	json_object_set_new(o, "slots", missing ? json_null() : json_integer(p->slots));
	json_object_set_new(o, "missing", json_boolean(missing));
	json_object_set_new(o, "used", json_integer(p->used));
	json_object_set_new(o, "running", json_integer(p->running));
	json_object_set_new(o, "waiting", json_integer(p->waiting));
	json_object_set_new(o, "free",
			    missing ? json_null()
				    : json_integer(p->slots > p->used ? p->slots - p->used : 0));
	json_object_set_new(o, "description", str_or_null(p->description));
	json_object_set_new(o, "from_config", json_boolean(p->from_config));
	json_object_set_new(o, "updated_at", ops_time_json(p->updated_at));
	return o;
}

json_t *ops_try_json(const struct store_attempt *a)
{
	json_t *o = json_object();
	json_object_set_new(o, "try_number", json_integer(a->try_number));
	json_object_set_new(o, "launch", json_integer(a->launch ? a->launch : 1));
	json_object_set_new(o, "queued_at", ops_time_json(a->queued_at));
	json_object_set_new(o, "ended_at", ops_time_json(a->ended_at));
	json_object_set_new(o, "status", str_or_null(a->status));
	return o;
}

/* TI states in the order of a run's life, for task_states. */
static const char *const state_order[] = {"success",   "failed",       "upstream_failed",
					  "skipped",   "running",      "queued",
					  "scheduled", "up_for_retry", "none"};

json_t *ops_run_with_tis_json(const struct store_run *r, const struct store_ti *tis, size_t n,
			      int64_t now)
{
	json_t *o = ops_run_json(r, now);
	size_t counts[sizeof(state_order) / sizeof(state_order[0]) + 1] = {0};
	const size_t n_states = sizeof(state_order) / sizeof(state_order[0]);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < n_states && strcmp(tis[i].state, state_order[k]) != 0)
			k++;
		counts[k]++;
		json_array_append_new(arr, ops_ti_json(&tis[i], now));
	}
	json_t *sum = json_object();
	for (size_t k = 0; k < n_states; k++)
		if (counts[k])
			json_object_set_new(sum, state_order[k],
					    json_integer((json_int_t)counts[k]));
	json_object_set_new(o, "task_states", sum);
	json_object_set_new(o, "tasks", arr);
	return o;
}

/* The state a mapped task's instances show as one: what is going on first, then how it
 * ended (a failure before a success). */
static const char *const group_order[] = {"running",	     "up_for_retry", "queued",
					  "scheduled",	     "failed",	     "upstream_failed",
					  "none",	     "success",	     "skipped"};

static json_t *group_json(const struct store_ti *tis, size_t n)
{
	json_t *sum = json_object();
	const char *state = NULL;
	for (size_t k = 0; k < sizeof(group_order) / sizeof(group_order[0]); k++) {
		size_t c = 0;
		for (size_t i = 0; i < n; i++)
			c += strcmp(tis[i].state, group_order[k]) == 0;
		if (c) {
			json_object_set_new(sum, group_order[k], json_integer((json_int_t)c));
			if (!state)
				state = group_order[k];
		}
	}
	return json_pack("{s:s, s:b, s:n, s:s, s:I, s:o}", "task_id", tis[0].task_id, "mapped",
			 1, "map_index", "state", state ? state : "none", "instances",
			 (json_int_t)n, "task_states", sum);
}

json_t *ops_ti_groups_json(const struct store_ti *tis, size_t n, int64_t now)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		if (tis[i].map_index >= 0)
			while (j < n && tis[j].map_index >= 0 &&
			       strcmp(tis[j].task_id, tis[i].task_id) == 0)
				j++;
		if (tis[i].map_index >= 0) {
			json_array_append_new(arr, group_json(&tis[i], j - i));
		} else {
			json_t *o = ops_ti_json(&tis[i], now);
			json_object_set_new(o, "mapped", json_false());
			json_array_append_new(arr, o);
		}
		i = j;
	}
	return arr;
}

/* ---- live runs as records --------------------------------------------------------------- */

static char *json_text(const json_t *v)
{
	return v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
}

void ops_run_record(const struct run *r, const char *kind, struct store_run *out)
{
	memset(out, 0, sizeof(*out));
	const struct dag *d = run_dag(r);
	out->run_id = (char *)run_id(r);
	out->dag_id = (char *)d->id;
	out->kind = kind && strcmp(kind, "manual") == 0 ? STORE_RUN_MANUAL : STORE_RUN_SCHEDULED;
	out->logical_date = run_logical_date(r);
	out->state = (char *)run_state_name(run_get_state(r));
	out->message = (char *)run_message(r);
	run_times(r, &out->created_at, &out->started_at, &out->ended_at);
	/* params: the caller's to fill (text), since the record does not own strings */
}

void ops_ti_record(const struct run *r, uint32_t i, struct store_ti *out)
{
	const struct ti *t = run_ti(r, i);
	const struct dag *d = run_dag(r);
	const struct dag_task *task = &d->tasks[t->task];
	memset(out, 0, sizeof(*out));
	out->run_id = (char *)run_id(r);
	out->task_id = (char *)task->id;
	out->map_index = t->map_index;
	out->state = (char *)ti_state_name(t->state);
	out->try_number = t->try_number;
	out->queued_at = t->queued_at;
	out->started_at = t->started_at;
	out->ended_at = t->ended_at;
	out->retry_at = t->retry_at;
	out->exit_code = t->exit_code;
	out->signal = t->signal;
	out->message = t->message;
	out->output = json_text(t->output);
	out->item = json_text(t->item);
	out->progress_done = t->progress_done;
	out->progress_total = t->progress_total;
	out->progress_msg = t->progress_msg;
	/* What admission counts, for `gust pools list` and `gust why` */
	out->pool = (char *)task->pool;
	out->pool_slots = task->pool_slots;
	out->weight = d->weight ? d->weight[t->task] : task->priority;
	out->cpu_milli = task->resources.cpu_milli;
	out->memory = (int64_t)task->resources.memory;
	out->disk = (int64_t)task->resources.disk;
	out->disk_path = (char *)task->resources.disk_path;
}

void ops_ti_record_done(struct store_ti *t)
{
	free(t->output);
	free(t->item);
	t->output = t->item = NULL;
}

/* ---- identities ---------------------------------------------------------------------------- */

json_t *ops_user_json(const struct store_user *u)
{
	return json_pack("{s:s?, s:s?, s:o, s:o, s:o}", "name", u->name, "role", u->role,
			 "created_at", ops_time_json(u->created_at), "updated_at",
			 ops_time_json(u->updated_at), "password_changed_at",
			 ops_time_json(u->password_changed_at));
}

json_t *ops_token_json(const struct store_token *t)
{
	return json_pack("{s:I, s:s?, s:s?, s:s?, s:s?, s:o, s:o, s:o, s:o}", "id",
			 (json_int_t)t->id, "name", t->name, "user", t->user, "display", t->display,
			 "created_by", t->created_by, "created_at", ops_time_json(t->created_at),
			 "expires_at", ops_time_json(t->expires_at), "last_used_at",
			 ops_time_json(t->last_used_at), "revoked_at",
			 ops_time_json(t->revoked_at));
}

json_t *ops_audit_json(const struct store_audit *a)
{
	json_t *detail = parsed(a->detail);
	if (!json_is_object(detail)) {
		json_decref(detail);
		detail = json_object();
	}
	return json_pack("{s:I, s:o, s:s?, s:s?, s:o, s:s?, s:o, s:o}", "id", (json_int_t)a->id,
			 "at", ops_time_json(a->at), "actor", a->actor, "via", a->via,
			 "remote_addr", str_or_null(a->remote_addr), "action", a->action, "target",
			 str_or_null(a->target), "detail", detail);
}

json_t *ops_variable_json(const struct store_var *v, const char *plain)
{
	json_t *o = json_object();
	json_object_set_new(o, "key", json_string(v->key));
	json_object_set_new(o, "value", str_or_null(plain));
	json_object_set_new(o, "secret", json_boolean(v->secret));
	json_object_set_new(o, "description", str_or_null(v->description));
	json_object_set_new(o, "updated_at", ops_time_json(v->updated_at));
	json_object_set_new(o, "updated_by", str_or_null(v->updated_by));
	return o;
}

/* The URI's query under the stored extra (the stored keys win). */
static json_t *merged_extra(const struct ops_conn_uri *u, const json_t *extra)
{
	json_t *x = u ? json_deep_copy(u->query) : json_object();
	if (json_is_object(extra))
		json_object_update(x, (json_t *)extra);
	return x;
}

json_t *ops_conn_fields_json(const char *uri, const struct ops_conn_uri *u, const json_t *extra)
{
	json_t *o = json_object();
	json_object_set_new(o, "uri", str_or_null(uri));
	json_object_set_new(o, "scheme", str_or_null(u ? u->scheme : NULL));
	json_object_set_new(o, "host", str_or_null(u ? u->host : NULL));
	json_object_set_new(o, "port", u && u->port >= 0 ? json_integer(u->port) : json_null());
	json_object_set_new(o, "login", str_or_null(u ? u->login : NULL));
	json_object_set_new(o, "password", str_or_null(u ? u->password : NULL));
	json_object_set_new(o, "schema", str_or_null(u ? u->schema : NULL));
	json_object_set_new(o, "extra", merged_extra(u, extra));
	return o;
}

json_t *ops_connection_json(const struct store_conn *c, const char *uri,
			    const struct ops_conn_uri *u, bool reveal)
{
	json_t *extra = c->extra ? json_loads(c->extra, 0, NULL) : NULL;
	json_t *f = ops_conn_fields_json(uri, u, extra);
	json_decref(extra);
	if (!reveal && u && u->password)
		json_object_set_new(f, "password", json_string("***"));
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(c->name));
	json_object_update(o, f);
	json_decref(f);
	json_object_set_new(o, "description", str_or_null(c->description));
	json_object_set_new(o, "updated_at", ops_time_json(c->updated_at));
	json_object_set_new(o, "updated_by", str_or_null(c->updated_by));
	return o;
}
