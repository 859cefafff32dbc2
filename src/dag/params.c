/* params.c - parameter values against declarations (see params.h). */
#include "dag/params.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"

static bool type_ok(enum param_type t, json_t *v)
{
	switch (t) {
	case PT_STRING:
		return json_is_string(v);
	case PT_INTEGER:
		return json_is_integer(v) ||
		       (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v) &&
			fabs(json_real_value(v)) < 9.0e15);
	case PT_NUMBER:
		return json_is_number(v);
	case PT_BOOLEAN:
		return json_is_boolean(v);
	case PT_ARRAY:
		return json_is_array(v);
	case PT_OBJECT:
		return json_is_object(v);
	default:
		return false;
	}
}

static char *json_short(json_t *v)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (!s)
		return xstrdup("?");
	if (strlen(s) > 60) {
		s[57] = s[58] = s[59] = '.';
		s[60] = '\0';
	}
	return s;
}

int param_check_value(const struct dag_param *p, json_t *v, char **ret_msg)
{
	if (!type_ok(p->type, v)) {
		_cleanup_free_ char *shown = json_short(v);
		*ret_msg = xasprintf("param '%s' must be %s %s, got %s", p->name,
				     p->type == PT_INTEGER || p->type == PT_ARRAY ||
						     p->type == PT_OBJECT
					     ? "an"
					     : "a",
				     param_type_name(p->type), shown);
		return -EINVAL;
	}
	if (json_is_number(v)) {
		double x = json_number_value(v);
		if (p->has_min && x < p->min) {
			_cleanup_free_ char *shown = json_short(v);
			*ret_msg = xasprintf("param '%s' must be at least %g, got %s", p->name, p->min,
					     shown);
			return -EINVAL;
		}
		if (p->has_max && x > p->max) {
			_cleanup_free_ char *shown = json_short(v);
			*ret_msg = xasprintf("param '%s' must be at most %g, got %s", p->name, p->max,
					     shown);
			return -EINVAL;
		}
	}
	if (p->enum_values) {
		size_t i;
		json_t *e;
		json_array_foreach(p->enum_values, i, e)
		{
			if (json_equal(e, v) ||
			    (json_is_number(e) && json_is_number(v) &&
			     json_number_value(e) == json_number_value(v)))
				return 0;
		}
		_cleanup_free_ char *shown = json_short(v);
		_cleanup_free_ char *allowed = json_short(p->enum_values);
		*ret_msg = xasprintf("param '%s' must be one of %s, got %s", p->name, allowed, shown);
		return -EINVAL;
	}
	return 0;
}

int param_parse_text(const struct dag_param *p, const char *text, json_t **ret, char **ret_msg)
{
	json_t *v = NULL;
	switch (p->type) {
	case PT_STRING:
		v = json_string(text);
		if (!v) {
			*ret_msg = xasprintf("param '%s': value is not valid UTF-8", p->name);
			return -EINVAL;
		}
		break;
	case PT_INTEGER: {
		char *end;
		errno = 0;
		long long x = strtoll(text, &end, 10);
		if (!*text || *end || errno || isspace((unsigned char)*text)) {
			*ret_msg = xasprintf("param '%s' must be an integer, got '%s'", p->name, text);
			return -EINVAL;
		}
		v = json_integer(x);
		break;
	}
	case PT_NUMBER: {
		char *end;
		errno = 0;
		double x = strtod(text, &end);
		if (!*text || *end || errno || !isfinite(x) || isspace((unsigned char)*text)) {
			*ret_msg = xasprintf("param '%s' must be a number, got '%s'", p->name, text);
			return -EINVAL;
		}
		v = json_real(x);
		break;
	}
	case PT_BOOLEAN:
		if (!strcmp(text, "true") || !strcmp(text, "1") || !strcmp(text, "yes"))
			v = json_true();
		else if (!strcmp(text, "false") || !strcmp(text, "0") || !strcmp(text, "no"))
			v = json_false();
		else {
			*ret_msg = xasprintf("param '%s' must be true or false, got '%s'", p->name,
					     text);
			return -EINVAL;
		}
		break;
	case PT_ARRAY:
	case PT_OBJECT: {
		json_error_t jerr;
		v = json_loads(text, JSON_DECODE_ANY, &jerr);
		if (!v) {
			*ret_msg = xasprintf("param '%s' must be a JSON %s: %s", p->name,
					     param_type_name(p->type), jerr.text);
			return -EINVAL;
		}
		break;
	}
	default:
		*ret_msg = xasprintf("param '%s' has an unknown type", p->name);
		return -EINVAL;
	}
	int r = param_check_value(p, v, ret_msg);
	if (r < 0) {
		json_decref(v);
		return r;
	}
	*ret = v;
	return 0;
}

json_t *params_resolve(const struct dag *d, json_t *given, char **ret_msg)
{
	struct buf errs = BUF_INIT;
	json_t *out = json_object();
	const char *key;
	json_t *val;
	if (given) {
		json_object_foreach(given, key, val)
		{
			if (!dag_param_find(d, key)) {
				const char *names[64];
				size_t n = 0;
				for (uint32_t i = 0; i < d->n_params && n < 64; i++)
					names[n++] = d->params[i].name;
				const char *hint = closest_word(key, names, n);
				buf_printf(&errs, "%sunknown param '%s'", errs.len ? "; " : "", key);
				if (hint)
					buf_printf(&errs, " (did you mean '%s'?)", hint);
			}
		}
	}
	for (uint32_t i = 0; i < d->n_params; i++) {
		const struct dag_param *p = &d->params[i];
		json_t *v = given ? json_object_get(given, p->name) : NULL;
		if (!v)
			v = p->def;
		if (!v) {
			buf_printf(&errs, "%sparam '%s' is required (no default): pass --param %s=VALUE",
				   errs.len ? "; " : "", p->name, p->name);
			continue;
		}
		char *msg = NULL;
		if (param_check_value(p, v, &msg) < 0) {
			buf_printf(&errs, "%s%s", errs.len ? "; " : "", msg);
			free(msg);
			continue;
		}
		/* Normalise integral reals to integers for integer params. */
		if (p->type == PT_INTEGER && json_is_real(v))
			json_object_set_new(out, p->name, json_integer((json_int_t)json_real_value(v)));
		else
			json_object_set(out, p->name, v);
	}
	if (errs.len) {
		json_decref(out);
		*ret_msg = buf_detach(&errs);
		return NULL;
	}
	buf_free(&errs);
	return out;
}

char *param_env_name(const char *name)
{
	char *s = xasprintf("GUST_PARAM_%s", name);
	for (char *p = s + 11; *p; p++)
		*p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	return s;
}
