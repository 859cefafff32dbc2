/*
 * template.h - `${{ EXPR }}` templates: parsed once when a DAG is loaded, rendered per attempt.
 *
 * A template is literal text with holes. Each hole holds one reference:
 *   params.NAME              a DAG parameter
 *   run.id                   the run's id
 *   run.logical_date         the run's logical date (ISO 8601, UTC)
 *   dag.id, task.id          the DAG's and the task's id
 *   outputs.TASK             the JSON output of an upstream task
 *   outputs.TASK.F1.F2...    a field inside it (object keys, or array indexes written as numbers)
 *   item, item.F1...         the current element of a `map`, or a field inside it
 *   map.index                the current map index
 *   var.KEY                  a variable (the store, or GUST_VAR_<KEY> in the environment)
 *   conn.NAME.FIELD          a field of a connection: uri, scheme, host, port, login,
 *                            password, schema; or conn.NAME.extra[.F1...] (its extra JSON)
 * Whitespace inside the braces is optional. `$${{` is a literal `${{`. Anything else inside the
 * braces is a parse error, reported with the byte offset of the problem within the string.
 *
 * Parsing allocates from the caller's arena. Rendering calls back into the caller to look up
 * each reference's value as a jansson json_t, and converts it to text: strings as they are,
 * numbers and booleans in JSON form, null as empty, arrays and objects as compact JSON.
 *
 * Shell mode (for `run`) quotes every rendered value so that it is data, never code: the
 * renderer follows the shell's quoting state through the literal text (unquoted, inside '...',
 * inside "...", inside $( ... ) or `...` nesting, and # comments) and emits the value in the form
 * that is literal in that state: unquoted -> '...' with ' written as '\''; inside "..." -> with
 * \ $ ` " backslash-escaped; inside '...' -> ' written as '\''. A value containing a NUL byte is
 * an error in shell mode.
 */
#ifndef GUST_DAG_TEMPLATE_H
#define GUST_DAG_TEMPLATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"

enum tref_kind {
	TREF_PARAM,
	TREF_RUN_ID,
	TREF_RUN_LOGICAL_DATE,
	TREF_DAG_ID,
	TREF_TASK_ID,
	TREF_OUTPUT,
	TREF_ITEM,
	TREF_MAP_INDEX,
	TREF_VAR,  /* name: the key */
	TREF_CONN, /* name: the connection; path[0]: the field, then a path inside extra */
};

struct tref {
	enum tref_kind kind;
	const char *name;	/* param name, task id, variable key, connection name; or NULL */
	const char **path;	/* field path after outputs.TASK or item; n_path may be 0 */
	uint32_t n_path;
	uint32_t offset;	/* byte offset of the expression's first character in the source */
};

struct tseg {
	const char *lit; /* literal text before the reference (may be empty, never NULL) */
	size_t lit_len;
	const struct tref *ref; /* NULL for the final literal-only segment */
};

struct template {
	const char *src; /* the original string */
	struct tseg *segs;
	uint32_t n_segs;
	uint32_t n_refs;
	bool whole; /* the string is exactly one hole (with optional surrounding spaces): its value
		       keeps its JSON type, e.g. `map: ${{ outputs.plan }}` is a list */
};

struct template_error {
	uint32_t offset; /* byte offset within the source string */
	const char *msg; /* static text */
};

/* Parse `s` (NUL-terminated). On error returns -EINVAL and fills *err; the arena may hold
 * garbage then, which is fine (it is freed with the DAG). */
int template_parse(struct arena *a, const char *s, struct template **ret, struct template_error *err);

/* True when the template has no holes. */
static inline bool template_is_literal(const struct template *t)
{
	return t->n_refs == 0;
}

enum template_mode { TEMPLATE_TEXT, TEMPLATE_SHELL };

/* Look up one reference. Return 0 and a *borrowed* value (the renderer does not decref it), or
 * a negative errno and a message in *ret_msg (malloc'd, the renderer frees it). */
typedef int (*template_lookup_fn)(void *ctx, const struct tref *ref, json_t **ret_value, char **ret_msg);

/* Render into `out` (appended). Returns 0, or a negative errno with *ret_msg (malloc'd) set. */
int template_render(const struct template *t, enum template_mode mode, template_lookup_fn lookup,
		    void *ctx, struct buf *out, char **ret_msg);

/* Resolve a `whole` template to its JSON value (new reference). */
int template_eval_whole(const struct template *t, template_lookup_fn lookup, void *ctx,
			json_t **ret_value, char **ret_msg);

/* Follow a field path into a JSON value: object keys, or decimal indexes into arrays. Returns a
 * borrowed value or NULL with *ret_msg (malloc'd) naming the missing step. */
json_t *template_json_path(json_t *v, const char *const *path, uint32_t n, char **ret_msg);

/* Variable keys and connection names: 1 to TEMPLATE_VAR_NAME_MAX letters, digits and '_', not
 * starting with a digit, so that GUST_VAR_<KEY> and GUST_CONN_<NAME> are valid environment
 * variable names (docs/variables.md). */
#define TEMPLATE_VAR_NAME_MAX 200
bool template_var_name_ok(const char *s, size_t len);

/* Append `s` single-quoted for an unquoted shell context. */
void shell_quote(struct buf *out, const char *s, size_t len);

/* Append the shell quoting state that shell mode sees at the end of the plain text `s`, as
 * frame names from the outside in ("TOP DQ CMDSUB"), plus " comment" or " heredoc-word" when
 * those are open. For tests and fuzzing: rendering must not change it. */
void template_shell_state(const char *s, size_t len, struct buf *out);

#endif
