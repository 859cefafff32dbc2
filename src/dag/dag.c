/* dag.c - names of enums, lookups and release of a loaded DAG (see dag.h). */
#include "dag/dag.h"

#include <errno.h>
#include <string.h>

#include "base/util.h"

static const char *const trigger_rule_names[TR__COUNT] = {
	[TR_ALL_SUCCESS] = "all_success",   [TR_ALL_FAILED] = "all_failed",
	[TR_ALL_DONE] = "all_done",	    [TR_ONE_SUCCESS] = "one_success",
	[TR_ONE_FAILED] = "one_failed",	    [TR_NONE_FAILED] = "none_failed",
	[TR_NONE_SKIPPED] = "none_skipped", [TR_ALWAYS] = "always",
};

static const char *const param_type_names[PT__COUNT] = {
	[PT_STRING] = "string", [PT_INTEGER] = "integer", [PT_NUMBER] = "number",
	[PT_BOOLEAN] = "boolean", [PT_ARRAY] = "array", [PT_OBJECT] = "object",
};

const char *trigger_rule_name(enum trigger_rule r)
{
	return (unsigned)r < TR__COUNT ? trigger_rule_names[r] : "?";
}

int trigger_rule_parse(const char *s, enum trigger_rule *ret)
{
	for (int i = 0; i < TR__COUNT; i++)
		if (strcmp(s, trigger_rule_names[i]) == 0) {
			*ret = (enum trigger_rule)i;
			return 0;
		}
	return -EINVAL;
}

const char *const *trigger_rule_all_names(void)
{
	return trigger_rule_names;
}

const char *param_type_name(enum param_type t)
{
	return (unsigned)t < PT__COUNT ? param_type_names[t] : "?";
}

int param_type_parse(const char *s, enum param_type *ret)
{
	for (int i = 0; i < PT__COUNT; i++)
		if (strcmp(s, param_type_names[i]) == 0) {
			*ret = (enum param_type)i;
			return 0;
		}
	/* Common spellings from JSON Schema and Python users. */
	if (!strcmp(s, "int")) {
		*ret = PT_INTEGER;
		return 0;
	}
	if (!strcmp(s, "bool")) {
		*ret = PT_BOOLEAN;
		return 0;
	}
	if (!strcmp(s, "str")) {
		*ret = PT_STRING;
		return 0;
	}
	return -EINVAL;
}

const char *const *param_type_all_names(void)
{
	return param_type_names;
}

int32_t dag_task_index(const struct dag *d, const char *id)
{
	uint32_t idx;
	if (strmap_get(&d->task_map, id, &idx))
		return (int32_t)idx;
	return -1;
}

const struct dag_param *dag_param_find(const struct dag *d, const char *name)
{
	for (uint32_t i = 0; i < d->n_params; i++)
		if (strcmp(d->params[i].name, name) == 0)
			return &d->params[i];
	return NULL;
}

bool dag_is_upstream(const struct dag *d, uint32_t anc, uint32_t t)
{
	if (!d->up_off || anc == t)
		return false;
	/* Breadth-first walk up from t. Small DAGs are the common case; a stamp array keeps it
	 * linear in the ancestors visited. */
	uint32_t *queue = xcalloc(d->n_tasks, sizeof(*queue));
	unsigned char *seen = xcalloc(d->n_tasks, 1);
	size_t head = 0, tail = 0;
	bool found = false;
	queue[tail++] = t;
	seen[t] = 1;
	while (head < tail && !found) {
		uint32_t x = queue[head++];
		for (uint32_t e = d->up_off[x]; e < d->up_off[x + 1]; e++) {
			uint32_t u = d->up[e];
			if (u == anc) {
				found = true;
				break;
			}
			if (!seen[u]) {
				seen[u] = 1;
				queue[tail++] = u;
			}
		}
	}
	free(queue);
	free(seen);
	return found;
}

void dag_free(struct dag *d)
{
	if (!d)
		return;
	for (uint32_t i = 0; i < d->n_params; i++) {
		json_decref(d->params[i].def);
		json_decref(d->params[i].enum_values);
	}
	for (uint32_t i = 0; i < d->n_tasks; i++)
		json_decref(d->tasks[i].map_items);
	strmap_free(&d->task_map);
	struct arena a = d->arena;
	arena_free(&a); /* d itself lives in its arena */
}
