/*
 * params.h - checking parameter values against a DAG's declarations.
 *
 * A DAG declares params with a type (string, integer, number, boolean, array, object), an
 * optional default, minimum/maximum (numbers) and enum. Values arrive as JSON (defaults from the
 * file, params stored with a run) or as text from `--param K=V`. These functions say exactly
 * what is wrong: "param 'workers' must be at least 1, got 0".
 */
#ifndef GUST_DAG_PARAMS_H
#define GUST_DAG_PARAMS_H

#include <jansson.h>

#include "dag/dag.h"

/* 0 if `v` is acceptable for `p`; else -EINVAL and a malloc'd sentence in *ret_msg. */
int param_check_value(const struct dag_param *p, json_t *v, char **ret_msg);

/* Turn `--param K=V` text into a JSON value of p's type (new reference), then check it. */
int param_parse_text(const struct dag_param *p, const char *text, json_t **ret, char **ret_msg);

/*
 * Resolve the full parameter object of a run: every declared param, from `given` (an object of
 * overrides, may be NULL) or its default. Unknown names and missing required params are errors.
 * Returns a new object, or NULL with *ret_msg set (one sentence; several problems joined by "; ").
 */
json_t *params_resolve(const struct dag *d, json_t *given, char **ret_msg);

/* Name of the environment variable for param `name`: GUST_PARAM_<NAME upper-cased, - as _>. */
char *param_env_name(const char *name);

#endif
