/*
 * dag_load.c - YAML tree -> struct dag, key by key.
 *
 * Each level of the file (the DAG, a task, `defaults`, a param, `resources`) has a table of the
 * keys it accepts and a handler per key; an unknown key is reported with the nearest known one
 * as a hint. Handlers check the value's type and range and write the model; none stops loading,
 * so one pass reports everything. Templates are parsed here and remembered with their node, so
 * that dag_compile.c can check their references and still point at the right line and column.
 */
#include "dag/dag_load.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "dag/dag_compile.h"
#include "cron/cron.h"
#include "cron/tz.h"
#include "dag/dag_time.h"
#include "base/duration.h"
#include "dag/params.h"
#include "dag/yaml_tree.h"

struct loader {
	struct dag *d;
	struct arena *a;
	struct diag_list *diags;
	const char *text;
	size_t len;
	struct tmpl_site *sites;
	size_t n_sites, cap_sites;
	const struct ynode *tasks_node;
	const struct ynode *schedule_node, *timezone_node, *start_node, *end_node;
};

typedef void (*key_fn)(struct loader *L, const struct ynode *v, void *target);

struct key_entry {
	const char *key;
	key_fn fn;
};

static void errf(struct loader *L, const struct ynode *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void errf(struct loader *L, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_vadd(L->diags, n ? n->line : 1, n ? n->col : 1, fmt, ap);
	va_end(ap);
}

/* "a string 'lots'" style description of a bad value, for messages. */
static const char *shown(struct loader *L, const struct ynode *v)
{
	if (v->type != YN_SCALAR || ynode_scalar_kind(v) == YS_NULL)
		return ynode_describe(v);
	if (v->len > 40)
		return arena_printf(L->a, "'%.37s...'", v->str);
	return arena_printf(L->a, "'%s'", v->str);
}

/* ---- typed getters ----------------------------------------------------------------------- */

static const char *want_string(struct loader *L, const struct ynode *v, const char *key)
{
	if (v->type != YN_SCALAR || ynode_scalar_kind(v) == YS_NULL) {
		errf(L, v, "'%s' must be a string, got %s", key, ynode_describe(v));
		return NULL;
	}
	if (strlen(v->str) != v->len) {
		errf(L, v, "'%s' contains a NUL character", key);
		return NULL;
	}
	return v->str;
}

static bool want_int(struct loader *L, const struct ynode *v, const char *key, int64_t min,
		     int64_t max, int64_t *out)
{
	int64_t x;
	if (v->type != YN_SCALAR || !ynode_int(v, &x)) {
		errf(L, v, "'%s' must be a whole number, got %s", key, shown(L, v));
		return false;
	}
	if (x < min || x > max) {
		errf(L, v, "'%s' must be between %lld and %lld, got %lld", key, (long long)min,
		     (long long)max, (long long)x);
		return false;
	}
	*out = x;
	return true;
}

static bool want_i32(struct loader *L, const struct ynode *v, const char *key, int64_t min,
		     int64_t max, int32_t *out)
{
	int64_t x;
	if (!want_int(L, v, key, min, max, &x))
		return false;
	*out = (int32_t)x;
	return true;
}

static bool want_bool(struct loader *L, const struct ynode *v, const char *key, bool *out)
{
	if (v->type != YN_SCALAR || !ynode_bool(v, out)) {
		errf(L, v, "'%s' must be true or false, got %s", key, shown(L, v));
		return false;
	}
	return true;
}

static bool want_duration(struct loader *L, const struct ynode *v, const char *key, int64_t *out)
{
	if (v->type != YN_SCALAR || ynode_scalar_kind(v) == YS_NULL) {
		errf(L, v, "'%s' must be a duration like 30s, 5m, 2h or 1d, got %s", key,
		     ynode_describe(v));
		return false;
	}
	const char *why = NULL;
	if (duration_parse(v->str, out, &why) < 0) {
		errf(L, v, "bad duration '%s' for '%s': %s", v->str, key, why);
		return false;
	}
	return true;
}

static bool want_size(struct loader *L, const struct ynode *v, const char *key, uint64_t *out)
{
	if (v->type != YN_SCALAR || ynode_scalar_kind(v) == YS_NULL) {
		errf(L, v, "'%s' must be a size like 512M or 50G, got %s", key, ynode_describe(v));
		return false;
	}
	const char *why = NULL;
	if (size_parse(v->str, out, &why) < 0) {
		errf(L, v, "bad size '%s' for '%s': %s", v->str, key, why);
		return false;
	}
	return true;
}

static const char **want_string_list(struct loader *L, const struct ynode *v, const char *key,
				     uint32_t *ret_n, struct srcpos **ret_pos)
{
	*ret_n = 0;
	if (ret_pos)
		*ret_pos = NULL;
	if (v->type == YN_SCALAR && ynode_scalar_kind(v) == YS_NULL)
		return NULL;
	if (v->type == YN_SCALAR) {
		/* A single string is a list of one: `depends: extract`. */
		const char *s = want_string(L, v, key);
		if (!s)
			return NULL;
		const char **out = arena_calloc(L->a, 1, sizeof(*out));
		out[0] = s;
		if (ret_pos) {
			*ret_pos = arena_calloc(L->a, 1, sizeof(**ret_pos));
			(*ret_pos)[0] = (struct srcpos){v->line, v->col};
		}
		*ret_n = 1;
		return out;
	}
	if (v->type != YN_SEQ) {
		errf(L, v, "'%s' must be a list of strings, got %s", key, ynode_describe(v));
		return NULL;
	}
	const char **out = arena_calloc(L->a, v->n, sizeof(*out));
	struct srcpos *pos = ret_pos ? arena_calloc(L->a, v->n, sizeof(*pos)) : NULL;
	uint32_t k = 0;
	for (uint32_t i = 0; i < v->n; i++) {
		const char *s = want_string(L, v->items[i], key);
		if (!s)
			continue;
		if (pos)
			pos[k] = (struct srcpos){v->items[i]->line, v->items[i]->col};
		out[k++] = s;
	}
	*ret_n = k;
	if (ret_pos)
		*ret_pos = pos;
	return out;
}

/* ---- templates ------------------------------------------------------------------------- */

static struct template *want_template(struct loader *L, const struct ynode *v, const char *key,
				      int32_t task, enum tmpl_use use)
{
	const char *s = want_string(L, v, key);
	if (!s)
		return NULL;
	struct template *t = NULL;
	struct template_error te = {0, NULL};
	if (template_parse(L->a, s, &t, &te) < 0) {
		uint32_t line, col;
		ytree_scalar_pos(L->text, L->len, v, te.offset, &line, &col);
		diag_add(L->diags, line, col, "bad template in '%s': %s", key,
			 te.msg ? te.msg : "syntax error");
		return NULL;
	}
	if (t->n_refs) {
		L->sites = xrealloc_array(L->sites, L->n_sites + 1, sizeof(*L->sites), &L->cap_sites);
		L->sites[L->n_sites++] = (struct tmpl_site){t, v, task, use, key};
	}
	return t;
}

/* YAML node -> JSON value (new reference), following the core schema. */
static json_t *ynode_to_json(const struct ynode *n)
{
	if (n->type == YN_SEQ) {
		json_t *a = json_array();
		for (uint32_t i = 0; i < n->n; i++)
			json_array_append_new(a, ynode_to_json(n->items[i]));
		return a;
	}
	if (n->type == YN_MAP) {
		json_t *o = json_object();
		for (uint32_t i = 0; i < n->n; i++)
			json_object_set_new(o, n->pairs[i].key->str, ynode_to_json(n->pairs[i].value));
		return o;
	}
	bool b;
	int64_t i;
	double x;
	switch (ynode_scalar_kind(n)) {
	case YS_NULL:
		return json_null();
	case YS_BOOL:
		ynode_bool(n, &b);
		return json_boolean(b);
	case YS_INT:
		ynode_int(n, &i);
		return json_integer(i);
	case YS_FLOAT:
		ynode_number(n, &x);
		return json_real(x);
	default: {
		json_t *s = json_stringn_nocheck(n->str, n->len);
		return s ? s : json_string("");
	}
	}
}

/* ---- key tables -------------------------------------------------------------------------- */

static void walk_map(struct loader *L, const struct ynode *map, const struct key_entry *keys,
		     size_t n_keys, void *target, const char *where)
{
	for (uint32_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->pairs[i].key;
		const struct key_entry *e = NULL;
		for (size_t j = 0; j < n_keys; j++)
			if (strcmp(keys[j].key, k->str) == 0) {
				e = &keys[j];
				break;
			}
		if (e) {
			e->fn(L, map->pairs[i].value, target);
			continue;
		}
		if (strcmp(k->str, "<<") == 0) {
			errf(L, k, "YAML merge keys ('<<') are not supported%s; use 'defaults:' for "
				   "settings shared by all tasks",
			     where);
			continue;
		}
		const char *names[48];
		size_t n = 0;
		for (size_t j = 0; j < n_keys && n < ARRAY_SIZE(names); j++)
			names[n++] = keys[j].key;
		const char *hint = closest_word(k->str, names, n);
		const char *note = strstr(where, " (");
		int wlen = note ? (int)(note - where) : (int)strlen(where);
		if (hint)
			errf(L, k, "unknown key '%s'%.*s (did you mean '%s'?)", k->str, wlen, where,
			     hint);
		else
			errf(L, k, "unknown key '%s'%s", k->str, where);
	}
}

/* Task keys. The target is a struct dag_task being filled. */
#define TASK (*(struct dag_task *)target)
#define CUR_TASK_INDEX(L, t) ((int32_t)((t) - (L)->d->tasks))

static int32_t task_index_of(struct loader *L, struct dag_task *t)
{
	if (L->d->tasks && t >= L->d->tasks && t < L->d->tasks + L->d->n_tasks)
		return CUR_TASK_INDEX(L, t);
	return -1; /* the defaults block */
}

static void tk_run(struct loader *L, const struct ynode *v, void *target)
{
	struct dag_task *t = target;
	int32_t ti = task_index_of(L, t);
	t->run_pos = (struct srcpos){v->line, v->col};
	t->run = NULL;
	t->argv = NULL;
	t->argc = 0;
	if (v->type == YN_SEQ) {
		if (v->n == 0) {
			errf(L, v, "'run' is an empty list: give the program and its arguments");
			return;
		}
		t->argv = arena_calloc(L->a, v->n, sizeof(*t->argv));
		for (uint32_t i = 0; i < v->n; i++) {
			const struct ynode *item = v->items[i];
			if (item->type != YN_SCALAR || ynode_scalar_kind(item) == YS_NULL) {
				errf(L, item, "each 'run' argument must be a string, got %s",
				     ynode_describe(item));
				continue;
			}
			t->argv[t->argc++] = want_template(L, item, "run", ti, TMPL_ARGV);
		}
		return;
	}
	if (v->type != YN_SCALAR || ynode_scalar_kind(v) == YS_NULL) {
		errf(L, v, "'run' must be a shell command (a string) or a list of arguments, got %s",
		     ynode_describe(v));
		return;
	}
	const char *s = v->str;
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	if (!*s) {
		errf(L, v, "'run' is empty: give a shell command, or remove 'run' for a task that "
			   "does nothing");
		return;
	}
	t->run = want_template(L, v, "run", ti, TMPL_SHELL);
}

static void tk_depends(struct loader *L, const struct ynode *v, void *target)
{
	TASK.depends = want_string_list(L, v, "depends", &TASK.n_depends, &TASK.depends_pos);
}

static void tk_description(struct loader *L, const struct ynode *v, void *target)
{
	TASK.description = want_string(L, v, "description");
}

static void tk_trigger_rule(struct loader *L, const struct ynode *v, void *target)
{
	const char *s = want_string(L, v, "trigger_rule");
	if (!s)
		return;
	if (trigger_rule_parse(s, &TASK.trigger_rule) < 0) {
		const char *hint = closest_word(s, trigger_rule_all_names(), TR__COUNT);
		if (hint)
			errf(L, v, "unknown trigger_rule '%s' (did you mean '%s'?)", s, hint);
		else
			errf(L, v,
			     "unknown trigger_rule '%s' (use all_success, all_failed, all_done, "
			     "one_success, one_failed, none_failed, none_skipped or always)",
			     s);
	}
}

static void tk_retries(struct loader *L, const struct ynode *v, void *target)
{
	want_i32(L, v, "retries", 0, 1000, &TASK.retries);
}

static void tk_retry_delay(struct loader *L, const struct ynode *v, void *target)
{
	want_duration(L, v, "retry_delay", &TASK.retry_delay_ms);
}

static void tk_retry_backoff(struct loader *L, const struct ynode *v, void *target)
{
	bool b;
	if (v->type == YN_SCALAR && ynode_bool(v, &b)) {
		TASK.retry_backoff = b ? BACKOFF_EXPONENTIAL : BACKOFF_FIXED;
		return;
	}
	const char *s = want_string(L, v, "retry_backoff");
	if (!s)
		return;
	if (!strcmp(s, "exponential"))
		TASK.retry_backoff = BACKOFF_EXPONENTIAL;
	else if (!strcmp(s, "fixed") || !strcmp(s, "none"))
		TASK.retry_backoff = BACKOFF_FIXED;
	else
		errf(L, v, "unknown retry_backoff '%s' (use exponential or fixed)", s);
}

static void tk_max_retry_delay(struct loader *L, const struct ynode *v, void *target)
{
	want_duration(L, v, "max_retry_delay", &TASK.max_retry_delay_ms);
}

static void tk_retry_on_exit_codes(struct loader *L, const struct ynode *v, void *target)
{
	const struct ynode *items = v;
	if (v->type != YN_SEQ) {
		errf(L, v, "'retry_on_exit_codes' must be a list of exit codes (1-255), got %s",
		     ynode_describe(v));
		return;
	}
	TASK.retry_on_exit_codes = arena_calloc(L->a, items->n, sizeof(int32_t));
	TASK.n_retry_on_exit_codes = 0;
	for (uint32_t i = 0; i < items->n; i++) {
		int32_t c;
		if (want_i32(L, items->items[i], "retry_on_exit_codes", 1, 255, &c))
			TASK.retry_on_exit_codes[TASK.n_retry_on_exit_codes++] = c;
	}
}

static void tk_timeout(struct loader *L, const struct ynode *v, void *target)
{
	want_duration(L, v, "timeout", &TASK.timeout_ms);
}

static void tk_kill_grace(struct loader *L, const struct ynode *v, void *target)
{
	want_duration(L, v, "kill_grace", &TASK.kill_grace_ms);
}

static void tk_pool(struct loader *L, const struct ynode *v, void *target)
{
	const char *s = want_string(L, v, "pool");
	if (!s)
		return;
	if (!dag_pool_name_valid(s)) {
		errf(L, v,
		     "bad pool name '%s': use 1 to %d letters, digits, '_', '-' and '.', not "
		     "starting with '-' or '.'",
		     s, DAG_POOL_NAME_MAX);
		return;
	}
	TASK.pool = s;
}

static void tk_pool_slots(struct loader *L, const struct ynode *v, void *target)
{
	want_i32(L, v, "pool_slots", 1, 1000000, &TASK.pool_slots);
}

static void tk_priority(struct loader *L, const struct ynode *v, void *target)
{
	want_i32(L, v, "priority", -1000000, 1000000, &TASK.priority);
}

static void tk_weight_rule(struct loader *L, const struct ynode *v, void *target)
{
	static const char *const names[] = {"downstream", "upstream", "absolute"};
	const char *s = want_string(L, v, "weight_rule");
	if (!s)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0) {
			TASK.weight_rule = (enum weight_rule)i;
			return;
		}
	const char *hint = closest_word(s, names, ARRAY_SIZE(names));
	if (hint)
		errf(L, v, "unknown weight_rule '%s' (did you mean '%s'?)", s, hint);
	else
		errf(L, v, "unknown weight_rule '%s' (use downstream, upstream or absolute)", s);
}

static void rs_cpu(struct loader *L, const struct ynode *v, void *target)
{
	struct dag_resources *r = target;
	double x;
	if (v->type != YN_SCALAR || !ynode_number(v, &x) || x <= 0 || x > 100000) {
		errf(L, v, "'cpu' must be a positive number of cores (e.g. 2 or 0.5), got %s",
		     v->type == YN_SCALAR ? v->str : ynode_describe(v));
		return;
	}
	r->cpu_milli = (int64_t)llround(x * 1000);
	if (r->cpu_milli == 0)
		r->cpu_milli = 1;
}

static void rs_memory(struct loader *L, const struct ynode *v, void *target)
{
	want_size(L, v, "memory", &((struct dag_resources *)target)->memory);
}

static void rs_disk(struct loader *L, const struct ynode *v, void *target)
{
	want_size(L, v, "disk", &((struct dag_resources *)target)->disk);
}

static void rs_disk_path(struct loader *L, const struct ynode *v, void *target)
{
	const char *s = want_string(L, v, "disk_path");
	if (s && s[0] != '/') {
		errf(L, v, "'disk_path' must be an absolute path, got '%s'", s);
		return;
	}
	((struct dag_resources *)target)->disk_path = s;
}

static const struct key_entry resource_keys[] = {
	{"cpu", rs_cpu},
	{"memory", rs_memory},
	{"disk", rs_disk},
	{"disk_path", rs_disk_path},
};

static void tk_resources(struct loader *L, const struct ynode *v, void *target)
{
	if (v->type != YN_MAP) {
		errf(L, v, "'resources' must be a mapping like {cpu: 2, memory: 4G, disk: 50G}, got %s",
		     ynode_describe(v));
		return;
	}
	walk_map(L, v, resource_keys, ARRAY_SIZE(resource_keys), &TASK.resources, " in resources");
	if (TASK.resources.disk_path && !TASK.resources.disk)
		errf(L, v, "'disk_path' is set but 'disk' is not: say how much disk the task needs");
}

static bool env_name_valid(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_' ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

static void tk_env(struct loader *L, const struct ynode *v, void *target)
{
	struct dag_task *t = target;
	if (v->type != YN_MAP) {
		errf(L, v, "'env' must be a mapping of NAME: value, got %s", ynode_describe(v));
		return;
	}
	/* Task env extends (and overrides) the env from defaults. */
	uint32_t n0 = t->n_env;
	struct dag_env *env = arena_calloc(L->a, n0 + v->n, sizeof(*env));
	if (n0)
		memcpy(env, t->env, n0 * sizeof(*env));
	uint32_t n = n0;
	for (uint32_t i = 0; i < v->n; i++) {
		const struct ynode *k = v->pairs[i].key, *val = v->pairs[i].value;
		if (!env_name_valid(k->str)) {
			errf(L, k, "bad environment variable name '%s': use letters, digits and '_'",
			     k->str);
			continue;
		}
		if (str_has_prefix(k->str, "GUST_")) {
			errf(L, k, "'%s': names starting with GUST_ are set by gust itself", k->str);
			continue;
		}
		if (val->type != YN_SCALAR) {
			errf(L, val, "env '%s' must be a string, got %s", k->str, ynode_describe(val));
			continue;
		}
		struct template *tm = want_template(L, val, "env", task_index_of(L, t), TMPL_TEXT);
		if (!tm)
			continue;
		uint32_t slot = n;
		for (uint32_t j = 0; j < n0; j++)
			if (strcmp(env[j].name, k->str) == 0)
				slot = j;
		env[slot] = (struct dag_env){k->str, tm, {k->line, k->col}};
		if (slot == n)
			n++;
	}
	t->env = env;
	t->n_env = n;
}

static void tk_workdir(struct loader *L, const struct ynode *v, void *target)
{
	struct dag_task *t = target;
	t->workdir = want_template(L, v, "workdir", task_index_of(L, t), TMPL_TEXT);
}

static void tk_leftovers(struct loader *L, const struct ynode *v, void *target)
{
	const char *s = want_string(L, v, "leftovers");
	if (!s)
		return;
	if (!strcmp(s, "kill"))
		TASK.leftovers = LEFTOVERS_KILL;
	else if (!strcmp(s, "keep"))
		TASK.leftovers = LEFTOVERS_KEEP;
	else
		errf(L, v, "unknown leftovers '%s' (use kill, the default, or keep)", s);
}

static void tk_map(struct loader *L, const struct ynode *v, void *target)
{
	struct dag_task *t = target;
	t->map_pos = (struct srcpos){v->line, v->col};
	if (v->type == YN_SEQ) {
		t->map_kind = MAP_LITERAL;
		t->map_items = ynode_to_json(v);
		return;
	}
	if (v->type == YN_SCALAR && ynode_scalar_kind(v) == YS_STRING) {
		struct template *tm = want_template(L, v, "map", task_index_of(L, t), TMPL_MAP);
		if (!tm)
			return;
		if (!tm->whole || tm->n_refs != 1) {
			errf(L, v,
			     "'map' must be a list or exactly one reference such as "
			     "${{ outputs.TASK }} or ${{ params.NAME }}");
			return;
		}
		t->map_kind = MAP_TEMPLATE;
		t->map_expr = tm;
		return;
	}
	errf(L, v, "'map' must be a list or a reference like ${{ outputs.TASK }}, got %s",
	     ynode_describe(v));
}

/* Keys allowed in `defaults` (task settings that make sense for every task). */
static const struct key_entry default_keys[] = {
	{"trigger_rule", tk_trigger_rule},
	{"retries", tk_retries},
	{"retry_delay", tk_retry_delay},
	{"retry_backoff", tk_retry_backoff},
	{"max_retry_delay", tk_max_retry_delay},
	{"retry_on_exit_codes", tk_retry_on_exit_codes},
	{"timeout", tk_timeout},
	{"kill_grace", tk_kill_grace},
	{"pool", tk_pool},
	{"pool_slots", tk_pool_slots},
	{"priority", tk_priority},
	{"weight_rule", tk_weight_rule},
	{"resources", tk_resources},
	{"env", tk_env},
	{"workdir", tk_workdir},
	{"leftovers", tk_leftovers},
};

static const struct key_entry task_keys[] = {
	{"run", tk_run},
	{"depends", tk_depends},
	{"description", tk_description},
	{"map", tk_map},
	{"trigger_rule", tk_trigger_rule},
	{"retries", tk_retries},
	{"retry_delay", tk_retry_delay},
	{"retry_backoff", tk_retry_backoff},
	{"max_retry_delay", tk_max_retry_delay},
	{"retry_on_exit_codes", tk_retry_on_exit_codes},
	{"timeout", tk_timeout},
	{"kill_grace", tk_kill_grace},
	{"pool", tk_pool},
	{"pool_slots", tk_pool_slots},
	{"priority", tk_priority},
	{"weight_rule", tk_weight_rule},
	{"resources", tk_resources},
	{"env", tk_env},
	{"workdir", tk_workdir},
	{"leftovers", tk_leftovers},
};

#undef TASK

/* ---- params ------------------------------------------------------------------------------ */

struct param_build {
	struct dag_param *p;
	const struct ynode *def_node, *type_node;
};

static void pk_type(struct loader *L, const struct ynode *v, void *target)
{
	struct param_build *pb = target;
	const char *s = want_string(L, v, "type");
	if (!s)
		return;
	pb->type_node = v;
	if (param_type_parse(s, &pb->p->type) < 0) {
		const char *hint = closest_word(s, param_type_all_names(), PT__COUNT);
		if (hint)
			errf(L, v, "unknown param type '%s' (did you mean '%s'?)", s, hint);
		else
			errf(L, v,
			     "unknown param type '%s' (use string, integer, number, boolean, array or "
			     "object)",
			     s);
	}
}

static void pk_default(struct loader *L, const struct ynode *v, void *target)
{
	((struct param_build *)target)->def_node = v;
}

static void pk_minimum(struct loader *L, const struct ynode *v, void *target)
{
	struct dag_param *p = ((struct param_build *)target)->p;
	if (v->type != YN_SCALAR || !ynode_number(v, &p->min)) {
		errf(L, v, "'minimum' must be a number, got %s", ynode_describe(v));
		return;
	}
	p->has_min = true;
}

static void pk_maximum(struct loader *L, const struct ynode *v, void *target)
{
	struct dag_param *p = ((struct param_build *)target)->p;
	if (v->type != YN_SCALAR || !ynode_number(v, &p->max)) {
		errf(L, v, "'maximum' must be a number, got %s", ynode_describe(v));
		return;
	}
	p->has_max = true;
}

static void pk_enum(struct loader *L, const struct ynode *v, void *target)
{
	struct dag_param *p = ((struct param_build *)target)->p;
	if (v->type != YN_SEQ || v->n == 0) {
		errf(L, v, "'enum' must be a non-empty list of allowed values, got %s",
		     ynode_describe(v));
		return;
	}
	p->enum_values = ynode_to_json(v);
}

static void pk_description(struct loader *L, const struct ynode *v, void *target)
{
	((struct param_build *)target)->p->description = want_string(L, v, "description");
}

static const struct key_entry param_keys[] = {
	{"type", pk_type},	 {"default", pk_default},	  {"minimum", pk_minimum},
	{"maximum", pk_maximum}, {"enum", pk_enum}, {"description", pk_description},
};

static enum param_type infer_type(const struct ynode *v)
{
	if (v->type == YN_SEQ)
		return PT_ARRAY;
	if (v->type == YN_MAP)
		return PT_OBJECT;
	switch (ynode_scalar_kind(v)) {
	case YS_BOOL:
		return PT_BOOLEAN;
	case YS_INT:
		return PT_INTEGER;
	case YS_FLOAT:
		return PT_NUMBER;
	default:
		return PT_STRING;
	}
}

static bool param_name_valid(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_' ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return strlen(s) <= 100;
}

static void load_param(struct loader *L, const struct ynode *k, const struct ynode *v,
		       struct dag_param *p)
{
	p->name = k->str;
	p->pos = (struct srcpos){k->line, k->col};
	if (!param_name_valid(k->str))
		errf(L, k, "bad param name '%s': use letters, digits and '_', starting with a letter",
		     k->str);
	struct param_build pb = {p, NULL, NULL};
	bool long_form = v->type == YN_MAP;
	if (long_form) {
		walk_map(L, v, param_keys, ARRAY_SIZE(param_keys), &pb,
			 arena_printf(L->a, " in param '%s' (an object default needs the long form "
					    "{type: object, default: {...}})",
				      k->str));
		if (!pb.type_node)
			p->type = pb.def_node ? infer_type(pb.def_node) : PT_STRING;
	} else {
		pb.def_node = v;
		p->type = infer_type(v);
	}
	bool has_default =
	    pb.def_node && !(pb.def_node->type == YN_SCALAR &&
			     ynode_scalar_kind(pb.def_node) == YS_NULL && !long_form);
	/* A scheduled run passes no params, so it could never start (as Airflow refuses it). */
	if (!has_default && L->d->schedule)
		errf(L, k,
		     "param '%s' has no default, but the DAG has a schedule: scheduled runs could "
		     "not start; give it a default or remove the schedule",
		     k->str);
	if (has_default) {
		json_t *def = ynode_to_json(pb.def_node);
		/* A quoted number for an integer param is a mistake worth naming. */
		char *msg = NULL;
		if (param_check_value(p, def, &msg) < 0) {
			errf(L, pb.def_node, "default of %s", msg);
			free(msg);
			json_decref(def);
		} else {
			p->def = def;
		}
	}
	if (p->has_min && p->has_max && p->min > p->max)
		errf(L, v, "param '%s': minimum %g is greater than maximum %g", p->name, p->min,
		     p->max);
	if ((p->has_min || p->has_max) && p->type != PT_INTEGER && p->type != PT_NUMBER)
		errf(L, v, "param '%s': minimum/maximum apply to integer and number params, not %s",
		     p->name, param_type_name(p->type));
}

/* ---- DAG level --------------------------------------------------------------------------- */

struct dag_build {
	const struct ynode *id, *params, *defaults, *tasks;
};

#define DAG (*((struct loader *)L)->d)

static void dk_id(struct loader *L, const struct ynode *v, void *target)
{
	((struct dag_build *)target)->id = v;
}
static void dk_params(struct loader *L, const struct ynode *v, void *target)
{
	((struct dag_build *)target)->params = v;
}
static void dk_defaults(struct loader *L, const struct ynode *v, void *target)
{
	((struct dag_build *)target)->defaults = v;
}
static void dk_tasks(struct loader *L, const struct ynode *v, void *target)
{
	((struct dag_build *)target)->tasks = v;
}

static void dk_description(struct loader *L, const struct ynode *v, void *target)
{
	DAG.description = want_string(L, v, "description");
}

static void dk_schedule(struct loader *L, const struct ynode *v, void *target)
{
	if (v->type == YN_SCALAR && ynode_scalar_kind(v) == YS_NULL)
		return; /* `schedule:` or `schedule: null`: manual only */
	DAG.schedule = want_string(L, v, "schedule");
	DAG.schedule_pos = (struct srcpos){v->line, v->col};
	L->schedule_node = v;
}

static void dk_timezone(struct loader *L, const struct ynode *v, void *target)
{
	const char *s = want_string(L, v, "timezone");
	if (s) {
		DAG.timezone = s;
		DAG.timezone_pos = (struct srcpos){v->line, v->col};
		L->timezone_node = v;
	}
}

static void dk_start_date(struct loader *L, const struct ynode *v, void *target)
{
	DAG.start_date = want_string(L, v, "start_date");
	L->start_node = v;
}

static void dk_end_date(struct loader *L, const struct ynode *v, void *target)
{
	DAG.end_date = want_string(L, v, "end_date");
	L->end_node = v;
}

static void dk_catchup(struct loader *L, const struct ynode *v, void *target)
{
	want_bool(L, v, "catchup", &DAG.catchup);
}

static void dk_max_active_runs(struct loader *L, const struct ynode *v, void *target)
{
	want_i32(L, v, "max_active_runs", 1, 100000, &DAG.max_active_runs);
}

static void dk_max_active_tasks(struct loader *L, const struct ynode *v, void *target)
{
	want_i32(L, v, "max_active_tasks", 1, 1000000, &DAG.max_active_tasks);
}

static void dk_dagrun_timeout(struct loader *L, const struct ynode *v, void *target)
{
	want_duration(L, v, "dagrun_timeout", &DAG.dagrun_timeout_ms);
}

static void dk_jitter(struct loader *L, const struct ynode *v, void *target)
{
	want_duration(L, v, "jitter", &DAG.jitter_ms);
}

static void dk_conflicts(struct loader *L, const struct ynode *v, void *target)
{
	DAG.conflicts = want_string_list(L, v, "conflicts", &DAG.n_conflicts, NULL);
}

static void dk_tags(struct loader *L, const struct ynode *v, void *target)
{
	DAG.tags = want_string_list(L, v, "tags", &DAG.n_tags, NULL);
}

#undef DAG

static const struct key_entry dag_keys[] = {
	{"id", dk_id},
	{"description", dk_description},
	{"schedule", dk_schedule},
	{"timezone", dk_timezone},
	{"start_date", dk_start_date},
	{"end_date", dk_end_date},
	{"catchup", dk_catchup},
	{"max_active_runs", dk_max_active_runs},
	{"max_active_tasks", dk_max_active_tasks},
	{"dagrun_timeout", dk_dagrun_timeout},
	{"jitter", dk_jitter},
	{"conflicts", dk_conflicts},
	{"tags", dk_tags},
	{"params", dk_params},
	{"defaults", dk_defaults},
	{"tasks", dk_tasks},
};

bool dag_id_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 200 || s[0] == '.' || s[0] == '-')
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

bool dag_pool_name_valid(const char *s)
{
	return dag_id_valid(s) && strlen(s) <= DAG_POOL_NAME_MAX;
}

static const char *id_from_path(struct arena *a, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (str_has_suffix(base, ".yaml"))
		n -= 5;
	else if (str_has_suffix(base, ".yml"))
		n -= 4;
	return arena_strndup(a, base, n);
}

static void task_defaults(struct dag_task *t)
{
	memset(t, 0, sizeof(*t));
	t->trigger_rule = TR_ALL_SUCCESS;
	t->retry_delay_ms = 30 * 1000;
	t->kill_grace_ms = 30 * 1000;
	t->pool = "default_pool";
	t->pool_slots = 1;
	t->priority = 1;
	t->weight_rule = WEIGHT_DOWNSTREAM;
}

static void load_tasks(struct loader *L, const struct ynode *v, const struct dag_task *defaults)
{
	struct dag *d = L->d;
	if (v->type != YN_MAP) {
		if (v->type == YN_SEQ)
			errf(L, v, "'tasks' must be a mapping of task id to task (e.g. "
				   "'extract: {run: ./extract.sh}'), got a list");
		else
			errf(L, v, "'tasks' must be a mapping of task id to task, got %s",
			     ynode_describe(v));
		return;
	}
	if (v->n == 0) {
		errf(L, v, "'tasks' is empty: a DAG needs at least one task");
		return;
	}
	d->tasks = arena_calloc(L->a, v->n, sizeof(*d->tasks));
	d->n_tasks = v->n;
	for (uint32_t i = 0; i < v->n; i++) {
		const struct ynode *k = v->pairs[i].key, *tv = v->pairs[i].value;
		struct dag_task *t = &d->tasks[i];
		*t = *defaults;
		t->map_items = NULL; /* never inherited */
		t->id = k->str;
		t->pos = (struct srcpos){k->line, k->col};
		if (!dag_id_valid(k->str))
			errf(L, k,
			     "bad task id '%s': use letters, digits, '_', '-' and '.' (at most 200), "
			     "not starting with '.' or '-'",
			     k->str);
		if (tv->type == YN_MAP) {
			walk_map(L, tv, task_keys, ARRAY_SIZE(task_keys), t,
				 arena_printf(L->a, " in task '%s'", k->str));
		} else if (tv->type == YN_SCALAR && ynode_scalar_kind(tv) == YS_NULL) {
			/* `join:` alone: a task with nothing to run. */
		} else if (tv->type == YN_SCALAR) {
			tk_run(L, tv, t); /* short form: `extract: ./extract.sh` */
		} else {
			errf(L, tv, "task '%s' must be a mapping (run:, depends:, ...) or a command "
				    "string, got %s",
			     k->str, ynode_describe(tv));
		}
		if (t->max_retry_delay_ms && t->max_retry_delay_ms < t->retry_delay_ms)
			errf(L, tv, "task '%s': max_retry_delay is shorter than retry_delay", k->str);
	}
}

static void load_root(struct loader *L, const struct ynode *root)
{
	struct dag *d = L->d;
	if (!root || (root->type == YN_SCALAR && ynode_scalar_kind(root) == YS_NULL)) {
		diag_add(L->diags, 1, 1, "the file holds no DAG (it is empty or only comments): "
					 "start with 'tasks:'");
		return;
	}
	if (root->type != YN_MAP) {
		errf(L, root, "a DAG file must be a mapping with keys like id, schedule and tasks; "
			      "got %s",
		     ynode_describe(root));
		return;
	}
	struct dag_build b = {0};
	walk_map(L, root, dag_keys, ARRAY_SIZE(dag_keys), &b, "");

	if (b.id) {
		const char *s = want_string(L, b.id, "id");
		if (s && !dag_id_valid(s))
			errf(L, b.id, "bad DAG id '%s': use letters, digits, '_', '-' and '.'", s);
		else if (s)
			d->id = s;
	}
	if (!d->id) {
		d->id = id_from_path(L->a, d->path);
		if (!b.id && !dag_id_valid(d->id))
			diag_add(L->diags, 1, 1,
				 "the file name '%s' is not a valid DAG id: add 'id:' or rename the "
				 "file (letters, digits, '_', '-', '.')",
				 d->id);
	}

	if (b.params) {
		if (b.params->type != YN_MAP) {
			errf(L, b.params, "'params' must be a mapping of name to default or "
					  "{type, default, ...}, got %s",
			     ynode_describe(b.params));
		} else {
			d->params = arena_calloc(L->a, b.params->n, sizeof(*d->params));
			d->n_params = b.params->n;
			for (uint32_t i = 0; i < b.params->n; i++)
				load_param(L, b.params->pairs[i].key, b.params->pairs[i].value,
					   &d->params[i]);
		}
	}

	struct dag_task defaults;
	task_defaults(&defaults);
	if (b.defaults) {
		if (b.defaults->type != YN_MAP)
			errf(L, b.defaults, "'defaults' must be a mapping of task settings, got %s",
			     ynode_describe(b.defaults));
		else
			walk_map(L, b.defaults, default_keys, ARRAY_SIZE(default_keys), &defaults,
				 " in defaults");
	}
	if (!b.tasks) {
		errf(L, root, "no 'tasks': a DAG needs at least one task");
		return;
	}
	L->tasks_node = b.tasks;
	load_tasks(L, b.tasks, &defaults);
}

/* Schedule, time zone and dates, once the id (the hash key of `H`) is known. */
static void check_time_keys(struct loader *L)
{
	struct dag *d = L->d;
	struct tz *tz = NULL;
	if (L->timezone_node && d->timezone) {
		if (tz_open(d->timezone, &tz) < 0) {
			errf(L, L->timezone_node,
			     "unknown time zone '%s': use an IANA name such as UTC, Europe/Berlin or "
			     "America/New_York",
			     d->timezone);
			tz = NULL;
		}
	}
	if (L->schedule_node && d->schedule) {
		struct cron *c = NULL;
		struct cron_error ce;
		memset(&ce, 0, sizeof(ce));
		if (cron_parse(d->schedule, d->id ? d->id : "", &c, &ce) < 0) {
			uint32_t line, col;
			ytree_scalar_pos(L->text, L->len, L->schedule_node, ce.offset, &line, &col);
			diag_add(L->diags, line, col, "bad schedule '%s': %s", d->schedule, ce.msg);
		}
		cron_free(c);
	}
	int64_t start = 0, end = 0;
	bool have_start = false, have_end = false;
	if (L->start_node && d->start_date) {
		if (dag_time_parse_ms(d->start_date, tz, &start) < 0)
			errf(L, L->start_node,
			     "bad start_date '%s': use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (optionally "
			     "with Z or +HH:MM)",
			     d->start_date);
		else
			have_start = true;
	}
	if (L->end_node && d->end_date) {
		if (dag_time_parse_ms(d->end_date, tz, &end) < 0)
			errf(L, L->end_node,
			     "bad end_date '%s': use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (optionally "
			     "with Z or +HH:MM)",
			     d->end_date);
		else
			have_end = true;
	}
	if (have_start && have_end && end < start)
		errf(L, L->end_node, "end_date %s is before start_date %s", d->end_date,
		     d->start_date);
	if (tz)
		tz_close(tz);
}

/* ---- input checks ------------------------------------------------------------------------ */

static struct ynode *parse_yaml(struct arena *a, const char *text, size_t len,
				struct diag_list *diags, void *ctx)
{
	(void)ctx;
	return ytree_parse(a, text, len, diags);
}

int dag_load_buffer(const char *path, const char *text, size_t len, struct dag **ret,
		    struct diag_list *diags)
{
	return dag_load_with(path, text, len, parse_yaml, NULL, ret, diags);
}

int dag_load_with(const char *path, const char *text, size_t len, dag_parse_fn parse, void *ctx,
		  struct dag **ret, struct diag_list *diags)
{
	*ret = NULL;
	size_t before = diags->n;
	if (!ytree_text_ok(text, len, diags))
		return -EINVAL;
	struct arena a;
	arena_init(&a);
	struct dag *d = arena_alloc(&a, sizeof(*d));
	d->arena = a;
	strmap_init(&d->task_map);
	struct loader L = {.d = d, .a = &d->arena, .diags = diags, .text = text, .len = len};
	d->path = arena_strdup(L.a, path);
	d->timezone = "UTC";
	d->max_active_runs = 1;
	d->max_active_tasks = 16;

	struct ynode *root = parse(L.a, text, len, diags, ctx);
	if (diags->n == before)
		load_root(&L, root);
	check_time_keys(&L);
	if (d->n_tasks)
		dag_compile(d, L.tasks_node, L.sites, L.n_sites, diags, text, len);
	free(L.sites);
	if (diags->n != before) {
		dag_free(d);
		return -EINVAL;
	}
	*ret = d;
	return 0;
}

int dag_load_file(const char *path, struct dag **ret, struct diag_list *diags)
{
	*ret = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		diag_add(diags, 0, 0, "cannot open: %s", strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		diag_add(diags, 0, 0, "cannot stat: %s", strerror(e));
		return -e;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		diag_add(diags, 0, 0, "is a directory, not a DAG file (pass the folder to "
				      "'gust dags validate' to check every .yaml in it)");
		return -EISDIR;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		diag_add(diags, 0, 0, "is not a regular file");
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > DAG_MAX_FILE_BYTES) {
		close(fd);
		diag_add(diags, 0, 0, "the file is %.1f MB; a DAG file may be at most %u MB",
			 (double)st.st_size / (1024.0 * 1024.0), DAG_MAX_FILE_BYTES / (1024 * 1024));
		return -EFBIG;
	}
	size_t size = (size_t)st.st_size;
	char *text = xmalloc(size + 1);
	size_t got = 0;
	while (got < size) {
		ssize_t r = read(fd, text + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			free(text);
			diag_add(diags, 0, 0, "cannot read: %s", strerror(e));
			return -e;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	text[got] = '\0';
	int r;
	if (got == 0) {
		diag_add(diags, 0, 0, "the file is empty: a DAG file needs at least 'tasks:'");
		r = -EINVAL;
	} else {
		r = dag_load_buffer(path, text, got, ret, diags);
	}
	free(text);
	return r;
}
