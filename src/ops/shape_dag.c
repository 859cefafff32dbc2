/*
 * shape_dag.c - the JSON shape of a DAG: its listing row and the detail of one DAG (see
 * shape.h).
 */
#include <string.h>

#include "base/diag.h"
#include "dag/dag.h"
#include "ops/shape.h"

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* The stored error is diagnostic lines ("FILE:LINE:COL: error: ..."): one string each. */
static json_t *error_lines(const char *text)
{
	json_t *a = json_array();
	for (const char *p = text; p && *p;) {
		size_t len = strcspn(p, "\n");
		if (len)
			json_array_append_new(a, json_stringn(p, len));
		p += len + (p[len] == '\n');
	}
	return a;
}

json_t *ops_dag_json(const struct store_dag *row, const struct dag *d,
		     const struct store_run *recent, size_t n_recent, int64_t next_run,
		     int64_t now)
{
	(void)now;
	json_t *o = json_object();
	json_object_set_new(o, "dag_id", json_string(row->dag_id));
	json_object_set_new(o, "description", str_or_null(d ? d->description : NULL));
	json_object_set_new(o, "file", str_or_null(row->file));
	json_object_set_new(o, "version", row->version ? json_integer(row->version) : json_null());
	json_object_set_new(o, "schedule", str_or_null(row->schedule));
	json_object_set_new(o, "timezone", str_or_null(d ? d->timezone : NULL));
	json_t *tags = json_array();
	for (uint32_t i = 0; d && i < d->n_tags; i++)
		json_array_append_new(tags, json_string(d->tags[i]));
	json_object_set_new(o, "tags", tags);
	json_object_set_new(o, "paused", json_boolean(row->paused));
	json_object_set_new(o, "deleted", json_boolean(row->deleted));
	/* A removed file's problems went with it. */
	bool broken = row->error && !row->deleted;
	json_object_set_new(o, "broken", json_boolean(broken));
	json_object_set_new(o, "errors", broken ? error_lines(row->error) : json_array());
	json_object_set_new(o, "next_run", row->paused ? json_null() : ops_time_json(next_run));
	json_object_set_new(o, "last_logical_date", ops_time_json(row->last_logical));
	json_t *runs = json_array();
	for (size_t i = 0; i < n_recent; i++)
		json_array_append_new(
		    runs, json_pack("{s:s, s:s, s:o}", "run_id", recent[i].run_id, "state",
				    recent[i].state, "logical_date",
				    ops_time_json(recent[i].logical_date)));
	json_object_set_new(o, "recent_runs", runs);
	json_object_set_new(o, "updated_at", ops_time_json(row->updated_at));
	return o;
}

/* A param as a JSON Schema fragment: {type, default, minimum, maximum, enum, description}. */
static json_t *param_schema(const struct dag_param *p)
{
	json_t *o = json_object();
	json_object_set_new(o, "type", json_string(param_type_name(p->type)));
	if (p->def)
		json_object_set(o, "default", p->def);
	if (p->has_min)
		json_object_set_new(o, "minimum", json_real(p->min));
	if (p->has_max)
		json_object_set_new(o, "maximum", json_real(p->max));
	if (p->enum_values)
		json_object_set(o, "enum", p->enum_values);
	if (p->description)
		json_object_set_new(o, "description", json_string(p->description));
	return o;
}

static json_t *task_json(const struct dag *d, uint32_t i)
{
	const struct dag_task *t = &d->tasks[i];
	json_t *o = json_object();
	json_object_set_new(o, "task_id", json_string(t->id));
	json_object_set_new(o, "description", str_or_null(t->description));
	json_t *up = json_array();
	for (uint32_t e = d->up_off[i]; e < d->up_off[i + 1]; e++)
		json_array_append_new(up, json_string(d->tasks[d->up[e]].id));
	json_object_set_new(o, "depends", up);
	if (t->run) {
		json_object_set_new(o, "run", json_string(t->run->src));
	} else if (t->argc) {
		json_t *argv = json_array();
		for (uint32_t k = 0; k < t->argc; k++)
			json_array_append_new(argv, json_string(t->argv[k] ? t->argv[k]->src : ""));
		json_object_set_new(o, "run", argv);
	} else {
		json_object_set_new(o, "run", json_null());
	}
	json_t *map = json_null();
	if (t->map_kind == MAP_LITERAL)
		map = json_pack("{s:I}", "items", (json_int_t)json_array_size(t->map_items));
	else if (t->map_kind == MAP_TEMPLATE)
		map = json_pack("{s:s}", "over", t->map_expr->src);
	json_object_set_new(o, "map", map);
	json_object_set_new(o, "trigger_rule", json_string(trigger_rule_name(t->trigger_rule)));
	json_object_set_new(o, "retries", json_integer(t->retries));
	json_object_set_new(o, "retry_delay_ms", json_integer(t->retry_delay_ms));
	json_object_set_new(o, "timeout_ms", t->timeout_ms ? json_integer(t->timeout_ms)
							   : json_null());
	json_object_set_new(o, "pool", json_string(t->pool));
	json_object_set_new(o, "pool_slots", json_integer(t->pool_slots));
	json_object_set_new(o, "priority", json_integer(t->priority));
	return o;
}

void ops_dag_detail_add(json_t *o, const struct dag *d, const struct store_dag_version *vs,
			size_t nv)
{
	json_t *tasks = json_array(), *params = json_object();
	if (d) {
		for (uint32_t k = 0; k < d->n_tasks; k++)
			json_array_append_new(tasks, task_json(d, d->topo[k]));
		for (uint32_t i = 0; i < d->n_params; i++)
			json_object_set_new(params, d->params[i].name, param_schema(&d->params[i]));
		json_object_set_new(o, "max_active_runs", json_integer(d->max_active_runs));
		json_object_set_new(o, "max_active_tasks", d->max_active_tasks
							       ? json_integer(d->max_active_tasks)
							       : json_null());
		json_object_set_new(o, "catchup", json_boolean(d->catchup));
		json_t *conflicts = json_array();
		for (uint32_t i = 0; i < d->n_conflicts; i++)
			json_array_append_new(conflicts, json_string(d->conflicts[i]));
		json_object_set_new(o, "conflicts", conflicts);
	}
	json_object_set_new(o, "tasks", tasks);
	json_object_set_new(o, "params", params);
	json_t *versions = json_array();
	for (size_t i = 0; i < nv; i++)
		json_array_append_new(versions,
				      json_pack("{s:I, s:s, s:o}", "version", (json_int_t)vs[i].version,
						"hash", vs[i].hash, "created_at",
						ops_time_json(vs[i].created_at)));
	json_object_set_new(o, "versions", versions);
}

json_t *ops_diags_json(const struct diag_list *l)
{
	json_t *a = json_array();
	for (size_t i = 0; i < l->n; i++) {
		const struct diag *d = &l->items[i];
		json_array_append_new(
		    a, json_pack("{s:s, s:o, s:o, s:s}", "file", l->file ? l->file : "", "line",
				 d->line ? json_integer(d->line) : json_null(), "col",
				 d->line ? json_integer(d->col) : json_null(), "message", d->msg));
	}
	return a;
}
