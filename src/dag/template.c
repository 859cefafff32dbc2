/*
 * template.c - parse `${{ EXPR }}` templates and render them as text or as shell (template.h).
 *
 * A parsed template is an array of segments, each "literal text, then one reference", closed
 * by a literal-only segment: n_segs == n_refs + 1 always. Literals are copied into the arena
 * with `$${{` already turned into `${{`, so rendering is a plain walk.
 *
 * Shell mode runs a small lexer (struct sh_lexer) over the literal text, segment by segment,
 * to know the shell's quoting state at each hole. The state is a stack of frames:
 *
 *   TOP, CMDSUB `$(`, BACKTICK, BRACE `${` (outside "...")    unquoted: value -> '...'
 *   DQ `"`                                                    value -> \ $ ` " escaped
 *   BRACE `${` inside "..."                                   value -> \ $ ` " } escaped
 *   SQ `'`                                                    value -> ' as '\''
 *   ANSI `$'` (bash)                                          value -> '  '...'  $'
 *   HEREDOC body, delimiter unquoted / quoted                 value -> \ $ ` escaped / as is
 *
 * plus flags for a pending backslash, a `#` comment (a value there is kept on one line), and a
 * here-document delimiter being read. Every emitted form is literal in its state and leaves
 * the state as it was, so the state depends on the literal text alone (the fuzz target checks
 * this with template_shell_state()). Backquoted text loses one level of \ before $ ` \ (and "
 * inside "...") before the shell parses it: the lexer reads such a pair as one character, and
 * the emitted form is escaped once more; nested backquotes (\`) are refused. A here-document
 * ends at a line equal to its delimiter; emitted bytes are tracked line by line and a line the
 * value helped form that equals the delimiter is an error. Where the lexer cannot tell the
 * state for sure (`case` patterns inside $( ), whose `)` does not close it; `<<` inside
 * parentheses, which may be a shift; ' inside "${...}", a quote to bash only) it refuses every
 * later hole rather than guess, as it refuses a hole right after a backslash or inside a
 * here-document delimiter.
 */
#include "dag/template.h"

#include <errno.h>
#include <string.h>

#include "base/util.h"

/* ---- parsing ---- */

static const char *const root_names[] = {"params", "run", "dag", "task", "outputs",
					 "item",   "map", "var", "conn"};

#define ROOTS_HINT "(use params, run, dag, task, outputs, item, map, var or conn)"

static const char *const root_typo_msgs[] = {
    "unknown reference; did you mean params? " ROOTS_HINT,
    "unknown reference; did you mean run? " ROOTS_HINT,
    "unknown reference; did you mean dag? " ROOTS_HINT,
    "unknown reference; did you mean task? " ROOTS_HINT,
    "unknown reference; did you mean outputs? " ROOTS_HINT,
    "unknown reference; did you mean item? " ROOTS_HINT,
    "unknown reference; did you mean map? " ROOTS_HINT,
    "unknown reference; did you mean var? " ROOTS_HINT,
    "unknown reference; did you mean conn? " ROOTS_HINT,
};

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '-';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_tspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

struct span {
	size_t start, len;
	bool number;
};

static int set_err(struct template_error *err, size_t offset, const char *msg)
{
	err->offset = offset > UINT32_MAX ? UINT32_MAX : (uint32_t)offset;
	err->msg = msg;
	return -EINVAL;
}

static bool span_is(const char *s, const struct span *sp, const char *word)
{
	return strlen(word) == sp->len && memcmp(s + sp->start, word, sp->len) == 0;
}

bool template_var_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > TEMPLATE_VAR_NAME_MAX || !is_ident_start(s[0]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_ident_start(s[i]) && !is_digit(s[i]))
			return false;
	return true;
}

/* Check that a root taking exactly one fixed field (`run.id`) has it. */
static int want_field(const char *s, const struct span *el, size_t n, size_t root_end,
		      const char *f1, const char *f2, const char *msg, struct template_error *err)
{
	if (n == 0)
		return set_err(err, root_end, msg);
	if (!span_is(s, &el[0], f1) && !(f2 && span_is(s, &el[0], f2)))
		return set_err(err, el[0].start, msg);
	if (n > 1)
		return set_err(err, el[1].start - 1, msg);
	return 0;
}

/* Parse the expression s[start, end) of one hole that begins at `hole`. */
static int parse_ref(struct arena *a, const char *s, size_t hole, size_t start, size_t end,
		     struct tref *ref, struct template_error *err)
{
	struct span root, *el = NULL;
	size_t n = 0, cap = 0, p = start;
	int r = 0;

	while (p < end && is_tspace(s[p]))
		p++;
	if (p == end)
		return set_err(err, hole, "empty expression (write e.g. ${{ params.NAME }})");
	if (!is_ident_start(s[p]))
		return set_err(err, p, "expected a reference such as params.NAME " ROOTS_HINT);
	root.start = p;
	while (p < end && is_ident_char(s[p]))
		p++;
	root.len = p - root.start;
	root.number = false;
	while (p < end && s[p] == '.') {
		struct span sp = {++p, 0, false};
		if (p < end && is_ident_start(s[p])) {
			while (p < end && is_ident_char(s[p]))
				p++;
		} else if (p < end && is_digit(s[p])) {
			while (p < end && is_digit(s[p]))
				p++;
			if (p < end && is_ident_char(s[p])) {
				r = set_err(err, sp.start,
					    "a field name cannot start with a digit");
				goto out;
			}
			sp.number = true;
		} else {
			r = set_err(err, p, "expected a name or an index after '.'");
			goto out;
		}
		sp.len = p - sp.start;
		el = xrealloc_array(el, n + 1, sizeof(*el), &cap);
		el[n++] = sp;
	}
	while (p < end && is_tspace(s[p]))
		p++;
	if (p != end) {
		r = set_err(err, p,
			    "unexpected text after the reference (a hole holds one reference, "
			    "such as ${{ params.NAME }}; there are no operators or filters)");
		goto out;
	}

	size_t root_end = root.start + root.len, first_path = 0;
	memset(ref, 0, sizeof(*ref));
	ref->offset = root.start > UINT32_MAX ? UINT32_MAX : (uint32_t)root.start;
	if (span_is(s, &root, "params")) {
		ref->kind = TREF_PARAM;
		if (n == 0) {
			r = set_err(err, root_end, "params needs a name (write params.NAME)");
			goto out;
		}
		if (el[0].number) {
			r = set_err(err, el[0].start, "a parameter name cannot start with a digit");
			goto out;
		}
		if (n > 1) {
			r = set_err(
			    err, el[1].start - 1,
			    "params.NAME takes no field path (parameters are plain values)");
			goto out;
		}
		ref->name = arena_strndup(a, s + el[0].start, el[0].len);
		first_path = 1;
	} else if (span_is(s, &root, "run")) {
		r = want_field(s, el, n, root_end, "id", "logical_date",
			       "unknown field of run (use run.id or run.logical_date)", err);
		if (r < 0)
			goto out;
		ref->kind = span_is(s, &el[0], "id") ? TREF_RUN_ID : TREF_RUN_LOGICAL_DATE;
		first_path = 1;
	} else if (span_is(s, &root, "dag")) {
		r = want_field(s, el, n, root_end, "id", NULL, "unknown field of dag (use dag.id)",
			       err);
		if (r < 0)
			goto out;
		ref->kind = TREF_DAG_ID;
		first_path = 1;
	} else if (span_is(s, &root, "task")) {
		r = want_field(s, el, n, root_end, "id", NULL,
			       "unknown field of task (use task.id)", err);
		if (r < 0)
			goto out;
		ref->kind = TREF_TASK_ID;
		first_path = 1;
	} else if (span_is(s, &root, "map")) {
		r = want_field(s, el, n, root_end, "index", NULL,
			       "unknown field of map (use map.index)", err);
		if (r < 0)
			goto out;
		ref->kind = TREF_MAP_INDEX;
		first_path = 1;
	} else if (span_is(s, &root, "outputs")) {
		ref->kind = TREF_OUTPUT;
		if (n == 0) {
			r = set_err(err, root_end, "outputs needs a task id (write outputs.TASK)");
			goto out;
		}
		if (el[0].number) {
			r = set_err(err, el[0].start, "a task id cannot start with a digit");
			goto out;
		}
		ref->name = arena_strndup(a, s + el[0].start, el[0].len);
		first_path = 1;
	} else if (span_is(s, &root, "item")) {
		ref->kind = TREF_ITEM;
		first_path = 0;
	} else if (span_is(s, &root, "var")) {
		ref->kind = TREF_VAR;
		if (n == 0 || el[0].number || !template_var_name_ok(s + el[0].start, el[0].len)) {
			r = set_err(err, n ? el[0].start : root_end,
				    "var needs a key of letters, digits and '_' (write var.KEY)");
			goto out;
		}
		if (n > 1) {
			r = set_err(err, el[1].start - 1,
				    "var.KEY takes no field path (variables are plain text)");
			goto out;
		}
		ref->name = arena_strndup(a, s + el[0].start, el[0].len);
		first_path = 1;
	} else if (span_is(s, &root, "conn")) {
		ref->kind = TREF_CONN;
		if (n == 0 || el[0].number || !template_var_name_ok(s + el[0].start, el[0].len)) {
			r = set_err(
			    err, n ? el[0].start : root_end,
			    "conn needs a name of letters, digits and '_' and a field (write "
			    "conn.NAME.host)");
			goto out;
		}
		static const char *const fields[] = {"uri",   "scheme",	  "host",   "port",
						     "login", "password", "schema", "extra"};
		bool known = false;
		for (size_t f = 0; n > 1 && f < ARRAY_SIZE(fields); f++)
			known = known || span_is(s, &el[1], fields[f]);
		if (!known) {
			r = set_err(
			    err, n > 1 ? el[1].start : el[0].start + el[0].len,
			    "unknown field of conn.NAME (use uri, scheme, host, port, login, "
			    "password, schema or extra)");
			goto out;
		}
		if (n > 2 && !span_is(s, &el[1], "extra")) {
			r = set_err(err, el[2].start - 1,
				    "only conn.NAME.extra takes a field path");
			goto out;
		}
		ref->name = arena_strndup(a, s + el[0].start, el[0].len);
		first_path = 1;
	} else {
		char word[32];
		const char *msg = "unknown reference " ROOTS_HINT;
		if (root.len < sizeof(word)) {
			memcpy(word, s + root.start, root.len);
			word[root.len] = '\0';
			const char *near = closest_word(word, root_names, ARRAY_SIZE(root_names));
			for (size_t i = 0; near && i < ARRAY_SIZE(root_names); i++)
				if (near == root_names[i])
					msg = root_typo_msgs[i];
		}
		r = set_err(err, root.start, msg);
		goto out;
	}
	if (n > first_path) {
		ref->n_path = (uint32_t)(n - first_path);
		ref->path = arena_calloc(a, ref->n_path, sizeof(*ref->path));
		for (size_t i = first_path; i < n; i++)
			ref->path[i - first_path] = arena_strndup(a, s + el[i].start, el[i].len);
	}
out:
	free(el);
	return r;
}

static bool all_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_tspace(s[i]))
			return false;
	return true;
}

int template_parse(struct arena *a, const char *s, struct template **ret,
		   struct template_error *err)
{
	struct buf lit = BUF_INIT;
	struct tseg *segs = NULL;
	size_t n = 0, cap = 0, i = 0;
	int r = 0;

	while (s[i]) {
		if (s[i] == '$' && s[i + 1] == '$' && s[i + 2] == '{' && s[i + 3] == '{') {
			buf_append(&lit, "${{", 3);
			i += 4;
			continue;
		}
		if (s[i] == '$' && s[i + 1] == '{' && s[i + 2] == '{') {
			const char *close = strstr(s + i + 3, "}}");
			if (!close) {
				r = set_err(err, i,
					    "unterminated '${{' (missing '}}'; write $${{ for a "
					    "literal ${{)");
				goto out;
			}
			struct tref *ref = arena_alloc(a, sizeof(*ref));
			r = parse_ref(a, s, i, i + 3, (size_t)(close - s), ref, err);
			if (r < 0)
				goto out;
			segs = xrealloc_array(segs, n + 1, sizeof(*segs), &cap);
			segs[n].lit = arena_strndup(a, buf_str(&lit), lit.len);
			segs[n].lit_len = lit.len;
			segs[n].ref = ref;
			n++;
			buf_reset(&lit);
			i = (size_t)(close - s) + 2;
			continue;
		}
		buf_putc(&lit, s[i]);
		i++;
	}
	segs = xrealloc_array(segs, n + 1, sizeof(*segs), &cap);
	segs[n].lit = arena_strndup(a, buf_str(&lit), lit.len);
	segs[n].lit_len = lit.len;
	segs[n].ref = NULL;
	n++;

	struct template *t = arena_alloc(a, sizeof(*t));
	t->src = s;
	t->segs = arena_calloc(a, n, sizeof(*t->segs));
	memcpy(t->segs, segs, n * sizeof(*segs));
	t->n_segs = (uint32_t)n;
	t->n_refs = (uint32_t)(n - 1);
	t->whole = n == 2 && all_space(segs[0].lit, segs[0].lit_len) &&
		   all_space(segs[1].lit, segs[1].lit_len);
	*ret = t;
out:
	free(segs);
	buf_free(&lit);
	return r;
}

/* ---- values ---- */

/* The reference as written, for messages: `outputs.plan.items.0`. */
static void tref_format(const struct tref *ref, struct buf *out)
{
	static const char *const names[] = {
	    [TREF_PARAM] = "params",
	    [TREF_RUN_ID] = "run.id",
	    [TREF_RUN_LOGICAL_DATE] = "run.logical_date",
	    [TREF_DAG_ID] = "dag.id",
	    [TREF_TASK_ID] = "task.id",
	    [TREF_OUTPUT] = "outputs",
	    [TREF_ITEM] = "item",
	    [TREF_MAP_INDEX] = "map.index",
	    [TREF_VAR] = "var",
	    [TREF_CONN] = "conn",
	};
	buf_puts(out, (unsigned)ref->kind < ARRAY_SIZE(names) ? names[ref->kind] : "?");
	if (ref->name)
		buf_printf(out, ".%s", ref->name);
	for (uint32_t i = 0; i < ref->n_path; i++)
		buf_printf(out, ".%s", ref->path[i]);
}

static char *ref_msg(const struct tref *ref, const char *what)
{
	struct buf b = BUF_INIT;
	tref_format(ref, &b);
	buf_printf(&b, ": %s", what);
	return buf_detach(&b);
}

static int lookup_ref(const struct tref *ref, template_lookup_fn lookup, void *ctx,
		      json_t **ret_value, char **ret_msg)
{
	json_t *v = NULL;
	char *msg = NULL;
	int r = lookup(ctx, ref, &v, &msg);
	if (r < 0) {
		*ret_msg = msg ? msg : ref_msg(ref, "cannot be resolved");
		return r;
	}
	free(msg);
	*ret_value = v;
	return 0;
}

/* The text of a value: *ret_s points into the value or into *ret_owned (to free). */
static int value_text(const struct tref *ref, json_t *v, const char **ret_s, size_t *ret_len,
		      char **ret_owned, char **ret_msg)
{
	*ret_owned = NULL;
	if (!v || json_is_null(v)) {
		*ret_s = "";
		*ret_len = 0;
	} else if (json_is_string(v)) {
		*ret_s = json_string_value(v);
		*ret_len = json_string_length(v);
	} else if (json_is_true(v)) {
		*ret_s = "true";
		*ret_len = 4;
	} else if (json_is_false(v)) {
		*ret_s = "false";
		*ret_len = 5;
	} else {
		char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		if (!d) {
			*ret_msg = ref_msg(ref, "value cannot be written as JSON");
			return -EINVAL;
		}
		*ret_owned = d;
		*ret_s = d;
		*ret_len = strlen(d);
	}
	return 0;
}

json_t *template_json_path(json_t *v, const char *const *path, uint32_t n, char **ret_msg)
{
	for (uint32_t i = 0; i < n; i++) {
		const char *key = path[i];
		if (json_is_object(v)) {
			json_t *next = json_object_get(v, key);
			if (!next) {
				*ret_msg = xasprintf("no field '%s'", key);
				return NULL;
			}
			v = next;
		} else if (json_is_array(v)) {
			size_t idx = 0, size = json_array_size(v);
			bool ok = *key != '\0';
			for (const char *p = key; ok && *p; p++) {
				if (!is_digit(*p))
					ok = false;
				else if (idx <= size)
					idx = idx * 10 + (size_t)(*p - '0');
			}
			if (!ok) {
				*ret_msg = xasprintf("no field '%s' (the value is an array; use an "
						     "index from 0 to %zu)",
						     key, size ? size - 1 : 0);
				return NULL;
			}
			if (idx >= size) {
				*ret_msg = xasprintf("index %s out of range (array has %zu item%s)",
						     key, size, size == 1 ? "" : "s");
				return NULL;
			}
			v = json_array_get(v, idx);
		} else {
			const char *type = !v			? "missing"
					   : json_is_string(v)	? "a string"
					   : json_is_number(v)	? "a number"
					   : json_is_boolean(v) ? "a boolean"
								: "null";
			*ret_msg = xasprintf(
			    "no field '%s' (the value is %s, not an object or array)", key, type);
			return NULL;
		}
	}
	return v;
}

void shell_quote(struct buf *out, const char *s, size_t len)
{
	buf_putc(out, '\'');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\'')
			buf_append(out, "'\\''", 4);
		else
			buf_putc(out, s[i]);
	}
	buf_putc(out, '\'');
}

/* ---- the shell quoting lexer ---- */

enum sh_kind { SH_TOP, SH_CMDSUB, SH_BACKTICK, SH_BRACE, SH_SQ, SH_ANSI, SH_DQ, SH_HEREDOC };

struct sh_frame {
	enum sh_kind kind;
	uint32_t depth; /* unquoted frames: open parentheses */
	bool dq;	/* SH_BRACE: inside "..." */
	bool nested;	/* SH_BACKTICK: holds \` (backquotes nested in it) */
	bool arith;	/* SH_CMDSUB opened by $(( : arithmetic, not a command */
	size_t hd;	/* SH_HEREDOC: index into heredocs */
};

struct sh_heredoc {
	struct buf delim;
	bool quoted, dash;
};

#define SH_MAX_BACKTICKS 4

struct sh_lexer {
	struct sh_frame *stack;
	size_t n, cap;
	bool escape;	 /* a backslash ended the literal: it would escape the value */
	bool comment;	 /* inside a # comment */
	bool word_start; /* the next character starts a word (for #) */
	char word[8];	 /* the current unquoted word, if plain letters (for `case`) */
	size_t word_len;
	bool word_plain;
	unsigned skip; /* characters of the current token still to pass over */
	int hd_read;   /* after <<: 1 skipping blanks, 2 reading the delimiter */
	bool hd_dash, hd_quoted, hd_sq, hd_dq;
	struct buf hd_word;
	struct sh_heredoc *hds; /* every here-document seen; [hd_next, n_hds) are pending */
	size_t n_hds, hd_cap, hd_next;
	struct buf line;       /* the current line of the innermost here-document body */
	bool line_has_value;   /* ... and whether a value contributed to it */
	const char *uncertain; /* why the state is unknown from here on, or NULL */
	const char *fail;      /* a value would end a here-document */
};

static void sh_init(struct sh_lexer *lx)
{
	memset(lx, 0, sizeof(*lx));
	lx->stack = xrealloc_array(NULL, 1, sizeof(*lx->stack), &lx->cap);
	memset(&lx->stack[0], 0, sizeof(lx->stack[0]));
	lx->stack[0].kind = SH_TOP;
	lx->n = 1;
	lx->word_start = true;
	lx->word_plain = true;
}

static void sh_free(struct sh_lexer *lx)
{
	for (size_t i = 0; i < lx->n_hds; i++)
		buf_free(&lx->hds[i].delim);
	free(lx->hds);
	free(lx->stack);
	buf_free(&lx->hd_word);
	buf_free(&lx->line);
}

static struct sh_frame *sh_top(struct sh_lexer *lx)
{
	return &lx->stack[lx->n - 1];
}

static void sh_push(struct sh_lexer *lx, enum sh_kind kind)
{
	lx->stack = xrealloc_array(lx->stack, lx->n + 1, sizeof(*lx->stack), &lx->cap);
	memset(&lx->stack[lx->n], 0, sizeof(lx->stack[0]));
	lx->stack[lx->n].kind = kind;
	lx->n++;
	lx->word_start = kind == SH_CMDSUB || kind == SH_BACKTICK;
	lx->word_len = 0;
	lx->word_plain = lx->word_start;
}

static void sh_pop(struct sh_lexer *lx)
{
	if (lx->n > 1)
		lx->n--;
	lx->word_start = false;
	lx->word_plain = false;
}

static bool sh_unquoted(const struct sh_frame *f)
{
	return f->kind == SH_TOP || f->kind == SH_CMDSUB || f->kind == SH_BACKTICK ||
	       (f->kind == SH_BRACE && !f->dq);
}

/* The innermost here-document whose body we are in, or NULL. */
static struct sh_frame *sh_heredoc_frame(struct sh_lexer *lx)
{
	for (size_t i = lx->n; i-- > 1;)
		if (lx->stack[i].kind == SH_HEREDOC)
			return &lx->stack[i];
	return NULL;
}

static void sh_start_heredoc(struct sh_lexer *lx)
{
	sh_push(lx, SH_HEREDOC);
	sh_top(lx)->hd = lx->hd_next++;
	buf_reset(&lx->line);
	lx->line_has_value = false;
}

static bool sh_line_is_delim(struct sh_lexer *lx, const struct sh_frame *f)
{
	const struct sh_heredoc *h = &lx->hds[f->hd];
	const char *l = buf_str(&lx->line);
	size_t len = lx->line.len;
	if (h->dash)
		while (len && *l == '\t')
			l++, len--;
	return len == h->delim.len && memcmp(l, buf_str(&h->delim), len) == 0;
}

/* A newline inside a here-document body. Returns true when it ended the body. */
static bool sh_heredoc_newline(struct sh_lexer *lx, struct sh_frame *f)
{
	bool end = sh_line_is_delim(lx, f);
	if (end && lx->line_has_value)
		lx->fail = "the value would end the here-document early (it completes a line equal "
			   "to the delimiter)";
	buf_reset(&lx->line);
	lx->line_has_value = false;
	if (!end)
		return false;
	if (f != sh_top(lx) && !lx->uncertain)
		lx->uncertain = "a here-document ends inside an unclosed quote or $( )";
	lx->n = (size_t)(f - lx->stack);
	lx->word_start = true;
	lx->word_len = 0;
	lx->word_plain = true;
	if (lx->hd_next < lx->n_hds)
		sh_start_heredoc(lx);
	return true;
}

static struct sh_frame *sh_backtick_frame(struct sh_lexer *lx)
{
	for (size_t i = lx->n; i-- > 1;)
		if (lx->stack[i].kind == SH_BACKTICK)
			return &lx->stack[i];
	return NULL;
}

static bool sh_in_cmdsub(const struct sh_lexer *lx)
{
	for (size_t i = 1; i < lx->n; i++)
		if (lx->stack[i].kind == SH_CMDSUB)
			return true;
	return false;
}

static void sh_end_word(struct sh_lexer *lx)
{
	if (lx->word_plain && lx->word_len == 4 && memcmp(lx->word, "case", 4) == 0 &&
	    sh_in_cmdsub(lx) && !lx->uncertain)
		lx->uncertain =
		    "a 'case' inside $( ) makes the quoting ambiguous (its patterns end "
		    "with an unmatched ')'); move the case statement out of $( )";
	lx->word_len = 0;
	lx->word_plain = true;
	lx->word_start = true;
}

static void sh_end_hd_word(struct sh_lexer *lx)
{
	lx->hd_read = 0;
	if (!lx->hd_word.len)
		return;
	lx->hds = xrealloc_array(lx->hds, lx->n_hds + 1, sizeof(*lx->hds), &lx->hd_cap);
	struct sh_heredoc *h = &lx->hds[lx->n_hds++];
	memset(h, 0, sizeof(*h));
	buf_append(&h->delim, buf_str(&lx->hd_word), lx->hd_word.len);
	h->quoted = lx->hd_quoted;
	h->dash = lx->hd_dash;
	buf_reset(&lx->hd_word);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_meta(char c)
{
	return c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '<' || c == '>';
}

/* One character of a here-document delimiter word. Returns true when consumed. */
static bool sh_hd_char(struct sh_lexer *lx, char c, char nx, bool has_next)
{
	if (lx->hd_read == 1) {
		if (is_blank(c))
			return true;
		lx->hd_read = 2;
	}
	if (lx->hd_sq) {
		if (c == '\'')
			lx->hd_sq = false;
		else
			buf_putc(&lx->hd_word, c);
		return true;
	}
	if (lx->hd_dq) {
		if (c == '"') {
			lx->hd_dq = false;
		} else if (c == '\\' && nx && strchr("$`\"\\\n", nx)) {
			buf_putc(&lx->hd_word, nx);
			lx->skip = 1;
		} else {
			buf_putc(&lx->hd_word, c);
		}
		return true;
	}
	if (c == '\'' || c == '"') {
		lx->hd_quoted = true;
		lx->hd_sq = c == '\'';
		lx->hd_dq = c == '"';
		return true;
	}
	if (c == '\\') {
		lx->hd_quoted = true;
		if (has_next) {
			buf_putc(&lx->hd_word, nx);
			lx->skip = 1;
		} else {
			lx->escape = true;
		}
		return true;
	}
	if (is_blank(c) || c == '\n' || is_meta(c)) {
		sh_end_hd_word(lx);
		return false;
	}
	buf_putc(&lx->hd_word, c);
	return true;
}

/* A backslash: it escapes the next character, or the value if the literal ends here. */
static void sh_backslash(struct sh_lexer *lx, bool has_next)
{
	if (has_next)
		lx->skip = 1;
	else
		lx->escape = true;
}

/*
 * The character the shell parses at s[i]. Inside backquotes the shell first drops the
 * backslash of \$ \\ \` (and of \" when the backquotes are inside "..."), so such a pair is
 * one character of the inner text; *ret_w gets the bytes used, *ret_nested is set for \`.
 */
static char sh_inner(struct sh_lexer *lx, const char *s, size_t len, size_t i, size_t *ret_w,
		     bool *ret_nested)
{
	const struct sh_frame *bt = sh_backtick_frame(lx);
	*ret_w = 1;
	*ret_nested = false;
	if (bt && s[i] == '\\' && i + 1 == len)
		lx->escape = true; /* it would pair with the value's first byte, even in '...' */
	if (bt && s[i] == '\\' && i + 1 < len) {
		char nx = s[i + 1];
		bool dq = bt[-1].kind == SH_DQ || (bt[-1].kind == SH_BRACE && bt[-1].dq);
		if (nx == '$' || nx == '\\' || nx == '`' || (nx == '"' && dq)) {
			*ret_w = 2;
			*ret_nested = nx == '`';
			return nx;
		}
	}
	return s[i];
}

static void sh_lex(struct sh_lexer *lx, const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t w, w2 = 0;
		bool nested, nested2;
		char c = sh_inner(lx, s, len, i, &w, &nested);
		size_t j = i + w;
		bool has_next = j < len;
		char nx = has_next ? sh_inner(lx, s, len, j, &w2, &nested2) : '\0';
		char nx2 = has_next && j + w2 < len ? s[j + w2] : '\0';
		struct sh_frame *hf = sh_heredoc_frame(lx);

		if (hf) {
			if (c == '\n' && w == 1) {
				if (sh_heredoc_newline(lx, hf)) {
					lx->skip = 0;
					i = j;
					continue;
				}
			} else {
				buf_append(&lx->line, s + i, w);
			}
		}
		i = j;
		if (lx->skip) {
			lx->skip--;
			continue;
		}

		struct sh_frame *f = sh_top(lx), *bt = sh_backtick_frame(lx);
		if (nested) {
			/* A backquote inside backquotes: one layer more than we model. */
			bt->nested = true;
			continue;
		}
		if (bt && c == '`') {
			/* The first unescaped backquote ends it, whatever is open inside. */
			lx->n = (size_t)(bt - lx->stack);
			lx->comment = false;
			lx->hd_read = 0;
			lx->word_start = lx->word_plain = false;
			continue;
		}
		if (lx->comment) {
			if (c == '\n')
				lx->comment = false;
			else
				continue;
		}
		if (lx->hd_read && sh_unquoted(f) && sh_hd_char(lx, c, nx, has_next))
			continue;

		switch (f->kind) {
		case SH_SQ:
			if (c == '\'')
				sh_pop(lx);
			continue;
		case SH_ANSI:
			if (c == '\\')
				sh_backslash(lx, has_next);
			else if (c == '\'')
				sh_pop(lx);
			continue;
		case SH_HEREDOC:
			if (lx->hds[f->hd].quoted)
				continue;
			/* Like "..." except that " is an ordinary character. */
			__attribute__((fallthrough));
		case SH_DQ:
		case SH_BRACE:
			if (f->kind == SH_BRACE && !f->dq)
				break;
			if (c == '\\') {
				sh_backslash(lx, has_next);
			} else if (c == '"' && f->kind == SH_DQ) {
				sh_pop(lx);
			} else if (c == '"' && f->kind == SH_BRACE) {
				sh_push(lx, SH_DQ);
			} else if (c == '}' && f->kind == SH_BRACE) {
				sh_pop(lx);
			} else if (c == '\'' && f->kind == SH_BRACE && !lx->uncertain) {
				lx->uncertain = "a ' inside \"${...}\" is a quote to bash but not "
						"always to dash";
			} else if (c == '`') {
				sh_push(lx, SH_BACKTICK);
			} else if (c == '$' && nx == '(') {
				sh_push(lx, SH_CMDSUB);
				sh_top(lx)->arith = nx2 == '(';
				lx->skip = 1;
			} else if (c == '$' && nx == '{') {
				sh_push(lx, SH_BRACE);
				sh_top(lx)->dq = true;
				lx->skip = 1;
			}
			continue;
		default:
			break;
		}

		/* Unquoted: TOP, CMDSUB, BACKTICK, BRACE outside "...". */
		bool start = lx->word_start;
		lx->word_start = false;
		if (is_blank(c) || c == '\n' || is_meta(c)) {
			sh_end_word(lx);
		} else if (lx->word_plain && lx->word_len < sizeof(lx->word) &&
			   ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
			lx->word[lx->word_len++] = c;
		} else {
			lx->word_plain = false;
		}
		switch (c) {
		case '\\':
			sh_backslash(lx, has_next);
			break;
		case '\'':
			sh_push(lx, SH_SQ);
			break;
		case '"':
			sh_push(lx, SH_DQ);
			break;
		case '$':
			if (nx == '\'') {
				sh_push(lx, SH_ANSI);
				lx->skip = 1;
			} else if (nx == '(') {
				sh_push(lx, SH_CMDSUB);
				sh_top(lx)->arith = nx2 == '(';
				lx->skip = 1;
			} else if (nx == '{') {
				sh_push(lx, SH_BRACE);
				lx->skip = 1;
			}
			break;
		case '`':
			sh_push(lx, SH_BACKTICK);
			break;
		case '#':
			if (start && f->kind != SH_BRACE)
				lx->comment = true;
			break;
		case '(':
			f->depth++;
			break;
		case ')':
			if (f->depth)
				f->depth--;
			else if (f->kind == SH_CMDSUB)
				sh_pop(lx);
			break;
		case '}':
			if (f->kind == SH_BRACE)
				sh_pop(lx);
			break;
		case '<':
			if (nx != '<')
				break;
			if (nx2 == '<') {
				lx->skip = 2; /* <<< here-string */
				break;
			}
			if (f->depth || f->kind == SH_BRACE) {
				if (!lx->uncertain)
					lx->uncertain =
					    "'<<' inside parentheses may be a shift or a "
					    "here-document";
				lx->skip = 1;
				break;
			}
			lx->hd_read = 1;
			lx->hd_quoted = lx->hd_sq = lx->hd_dq = false;
			lx->hd_dash = nx2 == '-';
			lx->skip = lx->hd_dash ? 2 : 1;
			buf_reset(&lx->hd_word);
			break;
		case '\n':
			if (lx->hd_next < lx->n_hds)
				sh_start_heredoc(lx);
			break;
		default:
			break;
		}
	}
}

/* Bytes a value contributes inside a here-document body, for the delimiter check. */
static void sh_track_value(struct sh_lexer *lx, const char *s, size_t len)
{
	struct sh_frame *hf = sh_heredoc_frame(lx);
	if (!hf)
		return;
	/* Even an empty value counts: `E${{ x }}` with x = "" must not end <<E. */
	lx->line_has_value = true;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n') {
			/* The next line starts where the value says: it counts as the value's. */
			if (sh_line_is_delim(lx, hf))
				lx->fail = "the value would end the here-document early (it "
					   "completes a line equal to the delimiter)";
			buf_reset(&lx->line);
		} else {
			buf_putc(&lx->line, s[i]);
			lx->line_has_value = true;
		}
	}
}

static void escape_chars(struct buf *out, const char *s, size_t len, const char *special)
{
	for (size_t i = 0; i < len; i++) {
		if (strchr(special, s[i]))
			buf_putc(out, '\\');
		buf_putc(out, s[i]);
	}
}

/* Append value `v` in the form that is literal at the lexer's current state. */
static bool is_integer_text(const char *v, size_t len)
{
	size_t i = len && (v[0] == '-' || v[0] == '+') ? 1 : 0;
	if (i == len || len > 20)
		return false;
	for (; i < len; i++)
		if (v[i] < '0' || v[i] > '9')
			return false;
	return true;
}

static int sh_emit(struct sh_lexer *lx, const struct tref *ref, const char *v, size_t len,
		   struct buf *out, char **ret_msg)
{
	struct buf b = BUF_INIT;
	const struct sh_frame *f = sh_top(lx);
	unsigned ticks = 0;
	const char *why = NULL;

	for (size_t i = 1; i < lx->n; i++) {
		if (lx->stack[i].kind == SH_BACKTICK) {
			ticks++;
			if (lx->stack[i].nested)
				why =
				    "a value inside nested backquotes cannot be quoted safely; use "
				    "$( ) instead";
		}
	}
	if (memchr(v, '\0', len))
		why = "the value contains a NUL byte, which a shell command cannot hold";
	else if (lx->uncertain)
		why = lx->uncertain;
	else if (lx->escape)
		why = "a backslash right before the value would escape its first character; remove "
		      "it (write $${{ for a literal ${{)";
	else if (lx->hd_read)
		why = "a value cannot be (part of) a here-document delimiter";
	else if (f->kind == SH_BRACE && f->dq && memchr(v, '\'', len))
		why = "a value with a ' cannot be written inside \"${...}\" (bash and dash read "
		      "it differently); drop the double quotes around ${...}";
	else if (ticks > SH_MAX_BACKTICKS)
		why = "too deeply nested backquotes";
	if (!why && !lx->comment && f->kind == SH_CMDSUB && f->arith && !is_integer_text(v, len))
		why = "inside $(( )) a value must be a whole number (digits, optional sign)";
	if (why) {
		*ret_msg = ref_msg(ref, why);
		return -EINVAL;
	}

	if (lx->comment) {
		/* Dead text, but a newline would end the comment: keep it on one line. */
		struct buf flat = BUF_INIT;
		buf_append(&flat, v, len);
		for (size_t i = 0; i < flat.len; i++)
			if (flat.data[i] == '\n')
				flat.data[i] = ' ';
		shell_quote(&b, buf_str(&flat), flat.len);
		buf_free(&flat);
	} else if (f->kind == SH_CMDSUB && f->arith) {
		/* Arithmetic: quotes are not allowed there, and digits cannot be code. */
		buf_append(&b, v, len);
		lx->word_start = false;
		lx->word_plain = false;
	} else if (sh_unquoted(f)) {
		shell_quote(&b, v, len);
		lx->word_start = false;
		lx->word_plain = false;
	} else if (f->kind == SH_SQ) {
		for (size_t i = 0; i < len; i++) {
			if (v[i] == '\'')
				buf_append(&b, "'\\''", 4);
			else
				buf_putc(&b, v[i]);
		}
	} else if (f->kind == SH_ANSI) {
		/* Close $'...', add a plain '...' word part, reopen: literal in bash and dash. */
		buf_putc(&b, '\'');
		shell_quote(&b, v, len);
		buf_append(&b, "$'", 2);
	} else if (f->kind == SH_HEREDOC) {
		if (lx->hds[f->hd].quoted)
			buf_append(&b, v, len);
		else
			escape_chars(&b, v, len, "\\$`");
	} else if (f->kind == SH_BRACE) {
		/* "${x:-VALUE}": a } would end the expansion; \} is a literal } there. */
		escape_chars(&b, v, len, "\\$`\"}");
	} else {
		escape_chars(&b, v, len, "\\$`\"");
	}

	/* Each enclosing backquote strips one level of \ before \ $ `. */
	for (unsigned t = 0; t < ticks; t++) {
		struct buf e = BUF_INIT;
		escape_chars(&e, buf_str(&b), b.len, "\\$`");
		buf_free(&b);
		b = e;
	}
	sh_track_value(lx, buf_str(&b), b.len);
	if (lx->fail) {
		*ret_msg = ref_msg(ref, lx->fail);
		buf_free(&b);
		return -EINVAL;
	}
	buf_append(out, buf_str(&b), b.len);
	buf_free(&b);
	return 0;
}

void template_shell_state(const char *s, size_t len, struct buf *out)
{
	static const char *const names[] = {
	    [SH_TOP] = "TOP",	  [SH_CMDSUB] = "CMDSUB",   [SH_BACKTICK] = "BACKTICK",
	    [SH_BRACE] = "BRACE", [SH_SQ] = "SQ",	    [SH_ANSI] = "ANSI",
	    [SH_DQ] = "DQ",	  [SH_HEREDOC] = "HEREDOC",
	};
	struct sh_lexer lx;
	sh_init(&lx);
	sh_lex(&lx, s, len);
	for (size_t i = 0; i < lx.n; i++)
		buf_printf(out, "%s%s", i ? " " : "", names[lx.stack[i].kind]);
	if (lx.comment)
		buf_puts(out, " comment");
	if (lx.hd_read)
		buf_puts(out, " heredoc-word");
	sh_free(&lx);
}

/* ---- rendering ---- */

int template_render(const struct template *t, enum template_mode mode, template_lookup_fn lookup,
		    void *ctx, struct buf *out, char **ret_msg)
{
	struct sh_lexer lx;
	size_t start_len = out->len;
	int r = 0;
	bool shell = mode == TEMPLATE_SHELL && t->n_refs > 0;

	if (shell)
		sh_init(&lx);
	for (uint32_t i = 0; i < t->n_segs; i++) {
		const struct tseg *sg = &t->segs[i];
		buf_append(out, sg->lit, sg->lit_len);
		if (shell)
			sh_lex(&lx, sg->lit, sg->lit_len);
		if (!sg->ref)
			continue;

		json_t *v;
		const char *text;
		size_t len;
		char *owned;
		r = lookup_ref(sg->ref, lookup, ctx, &v, ret_msg);
		if (r < 0)
			goto out;
		r = value_text(sg->ref, v, &text, &len, &owned, ret_msg);
		if (r < 0)
			goto out;
		if (shell)
			r = sh_emit(&lx, sg->ref, text, len, out, ret_msg);
		else
			buf_append(out, text, len);
		free(owned);
		if (r < 0)
			goto out;
	}
	if (shell && lx.fail) {
		/* The final line of a here-document, with no newline after it. */
		*ret_msg = xstrdup(lx.fail);
		r = -EINVAL;
	} else if (shell && sh_heredoc_frame(&lx) && lx.line_has_value &&
		   sh_line_is_delim(&lx, sh_heredoc_frame(&lx))) {
		*ret_msg = xstrdup("a value would end the here-document early (it completes a line "
				   "equal to the delimiter)");
		r = -EINVAL;
	}
out:
	if (shell)
		sh_free(&lx);
	if (r < 0) {
		out->len = start_len;
		if (out->data)
			out->data[start_len] = '\0';
	}
	return r;
}

int template_eval_whole(const struct template *t, template_lookup_fn lookup, void *ctx,
			json_t **ret_value, char **ret_msg)
{
	const struct tref *ref = NULL;
	json_t *v;
	int r;

	for (uint32_t i = 0; i < t->n_segs && !ref; i++)
		ref = t->segs[i].ref;
	if (!t->whole || !ref) {
		*ret_msg = xstrdup("the template is not a single ${{ }} reference");
		return -EINVAL;
	}
	r = lookup_ref(ref, lookup, ctx, &v, ret_msg);
	if (r < 0)
		return r;
	*ret_value = v ? json_incref(v) : json_null();
	return 0;
}
