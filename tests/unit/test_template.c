/*
 * Unit tests for dag/template: parsing, text rendering, JSON paths, and shell rendering.
 *
 * The shell tests are end-to-end: each renders a command around a hostile value, runs it with
 * /bin/sh -c (and bash -c when present) in a fresh temporary directory, and checks that the
 * command printed exactly the value and that no file appeared in the directory (every hostile
 * value tries to `touch` one).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>

#include "base/arena.h"
#include "base/buf.h"
#include "dag/template.h"
#include "test.h"

/* ---- helpers ---- */

struct tctx {
	json_t *params; /* object: name -> value */
	json_t *item;
	const char *fail; /* if set, lookups of params.<fail> fail */
};

static int tlookup(void *vctx, const struct tref *ref, json_t **ret_value, char **ret_msg)
{
	struct tctx *ctx = vctx;
	static json_t *run_id, *date, *dag_id, *task_id, *index;
	if (!run_id) {
		run_id = json_string("run-42");
		date = json_string("2024-05-01T00:00:00Z");
		dag_id = json_string("etl");
		task_id = json_string("extract");
		index = json_integer(3);
	}
	switch (ref->kind) {
	case TREF_PARAM:
		if (ctx->fail && strcmp(ref->name, ctx->fail) == 0) {
			*ret_msg = strdup("lookup failed on purpose");
			return -ENOENT;
		}
		*ret_value = json_object_get(ctx->params, ref->name);
		if (!*ret_value) {
			*ret_msg = strdup("no such param");
			return -ENOENT;
		}
		return 0;
	case TREF_RUN_ID:
		*ret_value = run_id;
		return 0;
	case TREF_RUN_LOGICAL_DATE:
		*ret_value = date;
		return 0;
	case TREF_DAG_ID:
		*ret_value = dag_id;
		return 0;
	case TREF_TASK_ID:
		*ret_value = task_id;
		return 0;
	case TREF_MAP_INDEX:
		*ret_value = index;
		return 0;
	case TREF_VAR:
	case TREF_CONN:
		*ret_msg = strdup("no variables in these tests");
		return -ENOENT;
	case TREF_ITEM:
	case TREF_OUTPUT: {
		json_t *v = template_json_path(ctx->item, ref->path, ref->n_path, ret_msg);
		if (!v)
			return -ENOENT;
		*ret_value = v;
		return 0;
	}
	}
	return -EINVAL;
}

static struct template *parse_ok(struct arena *a, const char *s)
{
	struct template *t = NULL;
	struct template_error err = {0, NULL};
	int r = template_parse(a, s, &t, &err);
	if (r != 0)
		test_fail(__FILE__, __LINE__, "template_parse(\"%s\") failed at %u: %s", s,
			  err.offset, err.msg ? err.msg : "(null)");
	return t;
}

/* Parse must fail at `offset` with a message containing `want`. */
static void parse_err(const char *s, uint32_t offset, const char *want)
{
	struct arena a;
	struct template *t = NULL;
	struct template_error err = {0, NULL};
	arena_init(&a);
	int r = template_parse(&a, s, &t, &err);
	if (r != -EINVAL || !err.msg)
		test_fail(__FILE__, __LINE__, "template_parse(\"%s\") should fail, r=%d", s, r);
	if (err.offset != offset || !strstr(err.msg, want))
		test_fail(__FILE__, __LINE__,
			  "template_parse(\"%s\"): got offset %u \"%s\", want offset %u \"%s\"", s,
			  err.offset, err.msg, offset, want);
	arena_free(&a);
}

/* Render `tmpl` with params.x = `x`; returns malloc'd output, or NULL and *ret_msg. */
static char *render(const char *tmpl, enum template_mode mode, json_t *x, char **ret_msg)
{
	struct arena a;
	struct buf out = BUF_INIT;
	struct tctx ctx = {json_object(), NULL, NULL};
	char *msg = NULL;
	arena_init(&a);
	if (x)
		json_object_set(ctx.params, "x", x);
	struct template *t = parse_ok(&a, tmpl);
	int r = template_render(t, mode, tlookup, &ctx, &out, &msg);
	json_decref(ctx.params);
	arena_free(&a);
	if (r < 0) {
		if (!msg)
			test_fail(__FILE__, __LINE__, "render failed without a message");
		buf_free(&out);
		if (ret_msg)
			*ret_msg = msg;
		else
			free(msg);
		return NULL;
	}
	if (msg)
		test_fail(__FILE__, __LINE__, "render succeeded but set a message");
	return buf_detach(&out);
}

static char *render_str(const char *tmpl, enum template_mode mode, const char *x, char **ret_msg)
{
	json_t *v = json_stringn(x, strlen(x));
	char *s = render(tmpl, mode, v, ret_msg);
	json_decref(v);
	return s;
}

/* ---- parsing ---- */

TEST(template_parse_refs)
{
	struct arena a;
	arena_init(&a);
	struct template *t =
	    parse_ok(&a, "a ${{ params.NAME }} b ${{run.id}}${{ run.logical_date }}"
			 "${{ dag.id }}${{ task.id }}${{ outputs.TASK }}"
			 "${{ outputs.T-1.a.b.0 }}${{ item }}${{ item.start }}"
			 "${{ map.index }} end");
	ASSERT_INT_EQ(t->n_refs, 10);
	ASSERT_INT_EQ(t->n_segs, 11);
	ASSERT(!t->whole);
	ASSERT(!template_is_literal(t));
	ASSERT_INT_EQ(t->segs[0].ref->kind, TREF_PARAM);
	ASSERT_STR_EQ(t->segs[0].ref->name, "NAME");
	ASSERT_INT_EQ(t->segs[0].ref->n_path, 0);
	ASSERT_INT_EQ(t->segs[0].ref->offset, 6);
	ASSERT_INT_EQ(t->segs[0].lit_len, 2);
	ASSERT(memcmp(t->segs[0].lit, "a ", 2) == 0);
	ASSERT_INT_EQ(t->segs[1].ref->kind, TREF_RUN_ID);
	ASSERT_INT_EQ(t->segs[1].ref->offset, 26);
	ASSERT_STR_EQ(t->segs[1].lit, " b ");
	ASSERT_INT_EQ(t->segs[2].ref->kind, TREF_RUN_LOGICAL_DATE);
	ASSERT_INT_EQ(t->segs[2].lit_len, 0);
	ASSERT_STR_EQ(t->segs[2].lit, "");
	ASSERT_INT_EQ(t->segs[3].ref->kind, TREF_DAG_ID);
	ASSERT_INT_EQ(t->segs[4].ref->kind, TREF_TASK_ID);
	ASSERT_INT_EQ(t->segs[5].ref->kind, TREF_OUTPUT);
	ASSERT_STR_EQ(t->segs[5].ref->name, "TASK");
	ASSERT_INT_EQ(t->segs[5].ref->n_path, 0);
	const struct tref *o = t->segs[6].ref;
	ASSERT_INT_EQ(o->kind, TREF_OUTPUT);
	ASSERT_STR_EQ(o->name, "T-1");
	ASSERT_INT_EQ(o->n_path, 3);
	ASSERT_STR_EQ(o->path[0], "a");
	ASSERT_STR_EQ(o->path[1], "b");
	ASSERT_STR_EQ(o->path[2], "0");
	ASSERT_INT_EQ(t->segs[7].ref->kind, TREF_ITEM);
	ASSERT(t->segs[7].ref->name == NULL);
	ASSERT_INT_EQ(t->segs[7].ref->n_path, 0);
	ASSERT_INT_EQ(t->segs[8].ref->kind, TREF_ITEM);
	ASSERT_INT_EQ(t->segs[8].ref->n_path, 1);
	ASSERT_STR_EQ(t->segs[8].ref->path[0], "start");
	ASSERT_INT_EQ(t->segs[9].ref->kind, TREF_MAP_INDEX);
	ASSERT(t->segs[10].ref == NULL);
	ASSERT_STR_EQ(t->segs[10].lit, " end");
	arena_free(&a);
}

TEST(template_parse_literal_and_escape)
{
	struct arena a;
	arena_init(&a);
	struct template *t = parse_ok(&a, "plain $x ${y} $${{ not.a.ref }} {{ }} }}");
	ASSERT(template_is_literal(t));
	ASSERT_INT_EQ(t->n_segs, 1);
	ASSERT_STR_EQ(t->segs[0].lit, "plain $x ${y} ${{ not.a.ref }} {{ }} }}");
	ASSERT(!t->whole);
	t = parse_ok(&a, "");
	ASSERT_INT_EQ(t->n_segs, 1);
	ASSERT_INT_EQ(t->segs[0].lit_len, 0);
	ASSERT(!t->whole);
	t = parse_ok(&a, "$${{${{ params.a }}");
	ASSERT_INT_EQ(t->n_refs, 1);
	ASSERT_STR_EQ(t->segs[0].lit, "${{");
	ASSERT(!t->whole);
	t = parse_ok(&a, "${{ params.a }}}");
	ASSERT_STR_EQ(t->segs[1].lit, "}");
	arena_free(&a);
}

TEST(template_parse_whole)
{
	struct arena a;
	arena_init(&a);
	ASSERT(parse_ok(&a, "${{ outputs.plan }}")->whole);
	ASSERT(parse_ok(&a, "  ${{outputs.plan.items}} \n")->whole);
	ASSERT(parse_ok(&a, "\t${{ item }}\n")->whole);
	ASSERT(!parse_ok(&a, "x${{ item }}")->whole);
	ASSERT(!parse_ok(&a, "${{ item }}${{ item }}")->whole);
	ASSERT(!parse_ok(&a, "${{ item }} .")->whole);
	arena_free(&a);
}

TEST(template_parse_errors)
{
	parse_err("abc ${{ params.x", 4, "unterminated");
	parse_err("${{ params.x }", 0, "unterminated");
	parse_err("a ${{ }}", 2, "empty expression");
	parse_err("a ${{}}", 2, "empty expression");
	parse_err(
	    "${{ foo }}", 4,
	    "unknown reference (use params, run, dag, task, outputs, item, map, var or conn)");
	parse_err("${{ param.x }}", 4, "did you mean params?");
	parse_err("${{ output.x }}", 4, "did you mean outputs?");
	parse_err("${{ params }}", 10, "params needs a name");
	parse_err("${{ params. }}", 11, "expected a name");
	parse_err("${{ params.1 }}", 11, "cannot start with a digit");
	parse_err("${{ params.a.b }}", 12, "no field path");
	parse_err("${{ run.x }}", 8, "unknown field of run");
	parse_err("${{ run }}", 7, "unknown field of run");
	parse_err("${{ run.id.x }}", 10, "unknown field of run");
	parse_err("${{ dag.name }}", 8, "dag.id");
	parse_err("${{ task.x }}", 9, "task.id");
	parse_err("${{ map.i }}", 8, "map.index");
	parse_err("${{ outputs }}", 11, "outputs needs a task id");
	parse_err("${{ outputs.0 }}", 12, "cannot start with a digit");
	parse_err("${{ item.0abc }}", 9, "cannot start with a digit");
	parse_err("${{ params.x y }}", 13, "unexpected text");
	parse_err("${{ params.x | upper }}", 13, "unexpected text");
	parse_err("${{ params.x.}}", 13, "expected a name");
	parse_err("${{ 1 }}", 4, "expected a reference");
	parse_err("${{ \"x\" }}", 4, "expected a reference");
	parse_err("ok ${{ item }} then ${{ bad }}", 24, "unknown reference");
}

/* ---- text rendering ---- */

TEST(template_render_text_values)
{
	char *s;
	json_t *v;

	s = render_str("x=${{ params.x }}.", TEMPLATE_TEXT, "a 'b' \"c\"\n$(d)", NULL);
	ASSERT_STR_EQ(s, "x=a 'b' \"c\"\n$(d).");
	free(s);

	static const struct {
		const char *json, *want;
	} cases[] = {
	    {"42", "42"},
	    {"-7", "-7"},
	    {"1.5", "1.5"},
	    {"true", "true"},
	    {"false", "false"},
	    {"null", ""},
	    {"[1, \"a\", null]", "[1,\"a\",null]"},
	    {"{\"k\": [true], \"z\": {}}", "{\"k\":[true],\"z\":{}}"},
	    {"\"\"", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		ASSERT(v != NULL);
		s = render("[${{ params.x }}]", TEMPLATE_TEXT, v, NULL);
		struct buf want = BUF_INIT;
		buf_printf(&want, "[%s]", cases[i].want);
		ASSERT_STR_EQ(s, buf_str(&want));
		buf_free(&want);
		free(s);
		json_decref(v);
	}

	struct arena a;
	arena_init(&a);
	struct tctx ctx = {json_object(), json_pack("{s:i,s:[s,s]}", "start", 5, "l", "p", "q"),
			   NULL};
	struct buf out = BUF_INIT;
	char *msg = NULL;
	struct template *t = parse_ok(&a, "${{ run.id }}|${{ run.logical_date }}|${{ dag.id }}|"
					  "${{ task.id }}|${{ map.index }}|${{ item.start }}|"
					  "${{ item.l.1 }}|${{ item }}");
	ASSERT_INT_EQ(template_render(t, TEMPLATE_TEXT, tlookup, &ctx, &out, &msg), 0);
	ASSERT_STR_EQ(buf_str(&out), "run-42|2024-05-01T00:00:00Z|etl|extract|3|5|q|"
				     "{\"start\":5,\"l\":[\"p\",\"q\"]}");
	ASSERT(msg == NULL);

	/* Output is appended; a failed lookup leaves `out` as it was and passes the message on. */
	buf_reset(&out);
	buf_puts(&out, "keep:");
	t = parse_ok(&a, "a ${{ item.nope }} b");
	ASSERT_INT_EQ(template_render(t, TEMPLATE_TEXT, tlookup, &ctx, &out, &msg), -ENOENT);
	ASSERT_STR_EQ(msg, "no field 'nope'");
	ASSERT_STR_EQ(buf_str(&out), "keep:");
	free(msg);
	msg = NULL;
	t = parse_ok(&a, "literal only");
	ASSERT_INT_EQ(template_render(t, TEMPLATE_SHELL, tlookup, &ctx, &out, &msg), 0);
	ASSERT_STR_EQ(buf_str(&out), "keep:literal only");
	buf_free(&out);
	json_decref(ctx.params);
	json_decref(ctx.item);
	arena_free(&a);
}

TEST(template_render_text_nul_ok_shell_nul_error)
{
	json_t *v = json_stringn("a\0b", 3);
	struct arena a;
	arena_init(&a);
	struct tctx ctx = {json_object(), NULL, NULL};
	json_object_set(ctx.params, "x", v);
	struct buf out = BUF_INIT;
	char *msg = NULL;
	struct template *t = parse_ok(&a, "${{ params.x }}");
	ASSERT_INT_EQ(template_render(t, TEMPLATE_TEXT, tlookup, &ctx, &out, &msg), 0);
	ASSERT_INT_EQ(out.len, 3);
	ASSERT(memcmp(out.data, "a\0b", 3) == 0);
	buf_reset(&out);
	ASSERT_INT_EQ(template_render(t, TEMPLATE_SHELL, tlookup, &ctx, &out, &msg), -EINVAL);
	ASSERT_STR_CONTAINS(msg, "params.x");
	ASSERT_STR_CONTAINS(msg, "NUL");
	ASSERT_INT_EQ(out.len, 0);
	free(msg);
	buf_free(&out);
	json_decref(v);
	json_decref(ctx.params);
	arena_free(&a);
}

TEST(template_eval_whole_keeps_type)
{
	struct arena a;
	arena_init(&a);
	struct tctx ctx = {json_object(), json_pack("{s:[i,i,i]}", "plan", 1, 2, 3), NULL};
	json_t *v = NULL;
	char *msg = NULL;
	struct template *t = parse_ok(&a, " ${{ item.plan }} ");
	ASSERT_INT_EQ(template_eval_whole(t, tlookup, &ctx, &v, &msg), 0);
	ASSERT(json_is_array(v));
	ASSERT_INT_EQ(json_array_size(v), 3);
	ASSERT(v == json_object_get(ctx.item, "plan"));
	ASSERT(v->refcount >= 2);
	json_decref(v);

	t = parse_ok(&a, "${{ item.plan.5 }}");
	ASSERT_INT_EQ(template_eval_whole(t, tlookup, &ctx, &v, &msg), -ENOENT);
	ASSERT_STR_EQ(msg, "index 5 out of range (array has 3 items)");
	free(msg);
	msg = NULL;

	t = parse_ok(&a, "x ${{ item.plan }}");
	ASSERT_INT_EQ(template_eval_whole(t, tlookup, &ctx, &v, &msg), -EINVAL);
	ASSERT(msg != NULL);
	free(msg);
	json_decref(ctx.params);
	json_decref(ctx.item);
	arena_free(&a);
}

TEST(template_json_path_steps)
{
	json_t *root =
	    json_loads("{\"a\": {\"b\": [10, {\"c\": \"deep\"}]}, \"s\": \"str\"}", 0, NULL);
	char *msg = NULL;
	const char *p1[] = {"a", "b", "1", "c"};
	json_t *v = template_json_path(root, p1, 4, &msg);
	ASSERT(json_is_string(v));
	ASSERT_STR_EQ(json_string_value(v), "deep");
	ASSERT(template_json_path(root, NULL, 0, &msg) == root);

	const char *p2[] = {"x"};
	ASSERT(template_json_path(root, p2, 1, &msg) == NULL);
	ASSERT_STR_EQ(msg, "no field 'x'");
	free(msg);
	const char *p3[] = {"a", "b", "5"};
	ASSERT(template_json_path(root, p3, 3, &msg) == NULL);
	ASSERT_STR_EQ(msg, "index 5 out of range (array has 2 items)");
	free(msg);
	const char *p4[] = {"a", "b", "99999999999999999999999"};
	ASSERT(template_json_path(root, p4, 3, &msg) == NULL);
	ASSERT_STR_CONTAINS(msg, "out of range");
	free(msg);
	const char *p5[] = {"a", "b", "first"};
	ASSERT(template_json_path(root, p5, 3, &msg) == NULL);
	ASSERT_STR_CONTAINS(msg, "no field 'first'");
	free(msg);
	const char *p6[] = {"s", "len"};
	ASSERT(template_json_path(root, p6, 2, &msg) == NULL);
	ASSERT_STR_CONTAINS(msg, "a string");
	free(msg);
	const char *p7[] = {"a", "b", "0"};
	v = template_json_path(root, p7, 3, &msg);
	ASSERT_INT_EQ(json_integer_value(v), 10);
	json_decref(root);
}

TEST(template_shell_quote_form)
{
	struct buf b = BUF_INIT;
	shell_quote(&b, "it's", 4);
	ASSERT_STR_EQ(buf_str(&b), "'it'\\''s'");
	buf_reset(&b);
	shell_quote(&b, "", 0);
	ASSERT_STR_EQ(buf_str(&b), "''");
	buf_free(&b);
}

/* ---- shell rendering, executed ---- */

/* Run `cmd` with `shell` -c in a new empty directory. Returns stdout (malloc'd); sets
 * *ret_files to the number of files left in the directory. */
static char *run_shell(const char *shell, const char *cmd, int *ret_files)
{
	char dir[] = "/tmp/gust-tmpl-XXXXXX";
	int fds[2];
	struct buf out = BUF_INIT;
	char chunk[4096];
	ssize_t n;
	int status;

	ASSERT(mkdtemp(dir) != NULL);
	ASSERT(pipe(fds) == 0);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		dup2(fds[1], 1);
		dup2(devnull, 0);
		dup2(devnull, 2);
		close(fds[0]);
		if (chdir(dir) != 0)
			_exit(126);
		setenv("HOME", dir, 1);
		execl(shell, shell, "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], chunk, sizeof(chunk))) > 0)
		buf_append(&out, chunk, (size_t)n);
	close(fds[0]);
	ASSERT(waitpid(pid, &status, 0) == pid);

	int files = 0;
	DIR *d = opendir(dir);
	ASSERT(d != NULL);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		files++;
		unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	rmdir(dir);
	*ret_files = files;
	return buf_detach(&out);
}

/* Values that try to break out of every quoting context; each would create a file. */
static const char *const nasty[] = {
    "'; touch pwned ; '",
    "$(touch pwned)",
    "`touch pwned`",
    "\"a b\"",
    "\\",
    "a\nb",
    "\"; touch pwned; \"",
    "'\"$(touch pwned)\"'",
    "\\'; touch pwned; echo \\'",
    "\\\"; touch pwned; echo \\\"",
    "\\$(touch pwned)",
    "\\`touch pwned\\`",
    "'$'\\''; touch pwned #",
    "); touch pwned; (",
    "); touch pwned #\n",
    "}; touch pwned; {",
    "x\ntouch pwned\n",
    "*",
    "$HOME ~ !! $0 $$",
    "  leading and trailing  ",
    "-n",
    "'",
    "\"",
    "'''\"\"\"```$$$\\\\\\",
    "\n\nEOF\n",
    "EOF",
    "ünïcödé ✓",
    "",
};

static const char *const shells[] = {"/bin/sh", "/bin/bash", "/bin/dash"};

/* Render `tmpl` (which prints PRE params.x POST) for every nasty value and run it. Values
 * holding a character of `refuse` must be refused instead. */
static void check_shell_ex(const char *tmpl, const char *pre, const char *post, const char *refuse)
{
	for (size_t i = 0; i < sizeof(nasty) / sizeof(nasty[0]); i++) {
		char *msg = NULL;
		char *cmd = render_str(tmpl, TEMPLATE_SHELL, nasty[i], &msg);
		if (refuse && strpbrk(nasty[i], refuse)) {
			if (cmd)
				test_fail(__FILE__, __LINE__,
					  "%s with [%s] should be refused, got %s", tmpl, nasty[i],
					  cmd);
			free(msg);
			continue;
		}
		if (!cmd)
			test_fail(__FILE__, __LINE__, "render of \"%s\" with \"%s\" failed: %s",
				  tmpl, nasty[i], msg);
		struct buf want = BUF_INIT;
		buf_printf(&want, "%s%s%s", pre, nasty[i], post);
		for (size_t s = 0; s < sizeof(shells) / sizeof(shells[0]); s++) {
			if (access(shells[s], X_OK) != 0)
				continue;
			int files = -1;
			char *got = run_shell(shells[s], cmd, &files);
			if (files != 0 || strcmp(got, buf_str(&want)) != 0)
				test_fail(__FILE__, __LINE__,
					  "%s -c of template %s with value [%s]\n  command: %s\n"
					  "  printed: [%s]\n  files created: %d",
					  shells[s], tmpl, nasty[i], cmd, got, files);
			free(got);
		}
		buf_free(&want);
		free(cmd);
	}
}

static void check_shell(const char *tmpl, const char *pre, const char *post)
{
	check_shell_ex(tmpl, pre, post, NULL);
}

TEST(template_shell_unquoted)
{
	check_shell("printf %s ${{ params.x }}", "", "");
	check_shell("printf %s pre${{ params.x }}post", "pre", "post");
	check_shell(
	    "printf %s ${{ params.x }}${{ params.x }} | head -c 0; printf %s ${{ params.x }}", "",
	    "");
	check_shell("x=${{ params.x }}; printf %s \"$x\"", "", "");
}

TEST(template_shell_double_quoted)
{
	check_shell("printf %s \"${{ params.x }}\"", "", "");
	check_shell("printf %s \"pre ${{ params.x }} post\"", "pre ", " post");
	check_shell("printf %s \"${HOME+}${{ params.x }}\"", "", "");
	check_shell_ex("printf %s \"${unset_var:-${{ params.x }}}\"", "", "", "'");
	check_shell("printf %s \"${unset_var:-\"${{ params.x }}\"}\"", "", "");
	check_shell("printf %s ${unset_var:-${{ params.x }}}.", "", ".");
}

TEST(template_shell_single_quoted)
{
	check_shell("printf %s 'pre${{ params.x }}post'", "pre", "post");
	check_shell("printf %s '\"${{ params.x }}\"'", "\"", "\"");
	check_shell("printf %s \"it's\" '${{ params.x }}'", "it's", "");
}

TEST(template_shell_command_substitution)
{
	check_shell("printf %s \"$(printf %s. ${{ params.x }})\"", "", ".");
	check_shell("printf %s \"$(printf %s. \"${{ params.x }}\")\"", "", ".");
	check_shell("printf %s \"$(printf %s. '${{ params.x }}')\"", "", ".");
	check_shell("printf %s \"$( (printf %s. ${{ params.x }}) )\"", "", ".");
	check_shell("printf %s \"$(printf %s. \"$(printf %s. ${{ params.x }})\")\"", "", "..");
	check_shell("printf %s $(echo \")\")\"$(printf %s. ${{ params.x }})\"", ")", ".");
	check_shell("x=$(printf %s \"${{ params.x }}.\"); printf %s \"${x%.}\"", "", "");
}

TEST(template_shell_backticks)
{
	check_shell("x=`printf %s. ${{ params.x }}`; printf %s \"${x%.}\"", "", "");
	check_shell("printf %s \"`printf %s. ${{ params.x }}`\"", "", ".");
	check_shell("x=`printf %s. \"${{ params.x }}\"`; printf %s \"${x%.}\"", "", "");
	check_shell("x=`printf %s. '${{ params.x }}'`; printf %s \"${x%.}\"", "", "");
	/* Inside backquotes \\ \$ and (within "...") \" lose their backslash first. */
	check_shell("printf %s \"`printf %s. \\\"${{ params.x }}\\\"`\"", "", ".");
	check_shell("x=`printf \\\\%s. \"${{ params.x }}\"`; printf %s \"${x%.}\"", "", "");
	check_shell("x=`printf %s. \"\\$(printf %s. ${{ params.x }})\"`; printf %s \"${x%.}\"", "",
		    ".");
}

TEST(template_shell_comments)
{
	/* An apostrophe in a comment must not open a quote; a value in a comment stays dead. */
	check_shell("# don't panic\nprintf %s ${{ params.x }}", "", "");
	check_shell("printf %s ${{ params.x }} # it's ${{ params.x }}\n", "", "");
	check_shell("printf %s ${{ params.x }}#x", "", "#x");
	check_shell("printf %s \"$(printf %s. ${{ params.x }} # it's )\n)\"", "", ".");
	check_shell("printf %s $#${{ params.x }} | tail -c +2", "", "");
}

TEST(template_shell_heredoc)
{
	check_shell("cat <<'GUST'\n${{ params.x }}\nGUST\n", "", "\n");
	check_shell("cat <<GUST\n${{ params.x }}\nGUST\n", "", "\n");
	check_shell("cat <<\"END\"\n[${{ params.x }}]\nEND\n", "[", "]\n");
	check_shell("cat <<G\\UST\n${{ params.x }}\nGUST\n", "", "\n");
	check_shell("cat <<-GUST\n\t${{ params.x }}.\n\tGUST\n", "", ".\n");
	check_shell("cat <<GUST; printf %s ${{ params.x }}\nab\nGUST\n", "ab\n", "");
	check_shell("cat <<A <<B >/dev/null\nA\n${{ params.x }}\nB\nprintf %s ${{ params.x }}", "",
		    "");
	check_shell("cat << GUST\n$(printf %s. ${{ params.x }})\nGUST\n", "", ".\n");
	check_shell("cat <<GUST\n\"${{ params.x }}\"\nGUST\n", "\"", "\"\n");
	check_shell("f() { cat; }; f <<'GUST' # it's\n'${{ params.x }}\nGUST\n", "'", "\n");
}

TEST(template_shell_heredoc_delimiter_values_refused)
{
	char *msg = NULL, *s;
	ASSERT(render_str("cat <<EOF\n${{ params.x }}\nrm -rf x\nEOF\n", TEMPLATE_SHELL, "EOF",
			  &msg) == NULL);
	ASSERT_STR_CONTAINS(msg, "here-document");
	free(msg);
	ASSERT(render_str("cat <<'EOF'\nE${{ params.x }}\nEOF\n", TEMPLATE_SHELL, "OF", &msg) ==
	       NULL);
	free(msg);
	ASSERT(render_str("cat <<'EOF'\n${{ params.x }}\nEOF\n", TEMPLATE_SHELL, "a\nEOF\nb",
			  &msg) == NULL);
	free(msg);
	ASSERT(render_str("cat <<-EOF\n${{ params.x }}\nEOF\n", TEMPLATE_SHELL, "\t\tEOF", &msg) ==
	       NULL);
	free(msg);
	s = render_str("cat <<'EOF'\nx\nEOF\n${{ params.x }}", TEMPLATE_SHELL, "EOF", &msg);
	ASSERT_STR_EQ(s, "cat <<'EOF'\nx\nEOF\n'EOF'");
	free(s);
	ASSERT(render_str("cat <<${{ params.x }}\nEOF\n", TEMPLATE_SHELL, "EOF", &msg) == NULL);
	ASSERT_STR_CONTAINS(msg, "delimiter");
	free(msg);
	ASSERT(render_str("cat <<E${{ params.x }}\nEOF\n", TEMPLATE_SHELL, "OF", &msg) == NULL);
	free(msg);
	ASSERT(render_str("cat <<'EOF'\nEOF${{ params.x }}\nrm -rf x\nEOF\n", TEMPLATE_SHELL, "",
			  &msg) == NULL);
	free(msg);
	ASSERT(render_str("cat <<'EOF'\n${{ params.x }}EOF\nrm -rf x\nEOF\n", TEMPLATE_SHELL, "a\n",
			  &msg) == NULL);
	free(msg);
}

TEST(template_shell_ansi_c_quotes)
{
	/* $'...' in bash; in dash a $ followed by '...': either way the value stays data. */
	const char *tmpl = "printf %s $'a\\tb${{ params.x }}'";
	for (size_t i = 0; i < sizeof(nasty) / sizeof(nasty[0]); i++) {
		char *cmd = render_str(tmpl, TEMPLATE_SHELL, nasty[i], NULL);
		ASSERT(cmd != NULL);
		struct buf want = BUF_INIT;
		buf_printf(&want, "a\tb%s", nasty[i]);
		int files = -1;
		if (access("/bin/bash", X_OK) == 0) {
			char *got = run_shell("/bin/bash", cmd, &files);
			ASSERT_INT_EQ(files, 0);
			ASSERT_STR_EQ(got, buf_str(&want));
			free(got);
		}
		free(run_shell("/bin/sh", cmd, &files));
		ASSERT_INT_EQ(files, 0);
		buf_free(&want);
		free(cmd);
	}
}

TEST(template_shell_refuses_ambiguous_contexts)
{
	static const char *const bad[] = {
	    "echo \\${{ params.x }}",
	    "echo \"\\${{ params.x }}\"",
	    "echo $(case a in a) echo ;; esac) ${{ params.x }}",
	    "echo $(( 1 << 2 )) ${{ params.x }}",
	    "echo `echo \\`echo ${{ params.x }}\\``",
	    "echo \"${u:-'a'}\" ${{ params.x }}",
	    "echo `echo '\\${{ params.x }}'`",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *msg = NULL;
		char *s = render_str(bad[i], TEMPLATE_SHELL, "v", &msg);
		if (s)
			test_fail(__FILE__, __LINE__, "render of \"%s\" should fail, got \"%s\"",
				  bad[i], s);
		ASSERT_STR_CONTAINS(msg, "params.x: ");
		free(msg);
	}
	/* The same constructs with the value before them are fine. */
	char *s = render_str("echo ${{ params.x }} $(case a in a) echo ;; esac)", TEMPLATE_SHELL,
			     "v", NULL);
	ASSERT_STR_EQ(s, "echo 'v' $(case a in a) echo ;; esac)");
	free(s);
	/* A case at the top level is not ambiguous. */
	check_shell("case a in a) printf %s ${{ params.x }};; esac", "", "");
}

TEST(template_shell_json_values)
{
	json_t *v = json_loads("{\"k\": \"it's $(x)\", \"n\": [1, 2.5, null, true]}", 0, NULL);
	char *cmd = render("printf %s ${{ params.x }}", TEMPLATE_SHELL, v, NULL);
	int files = -1;
	char *got = run_shell("/bin/sh", cmd, &files);
	ASSERT_STR_EQ(got, "{\"k\":\"it's $(x)\",\"n\":[1,2.5,null,true]}");
	ASSERT_INT_EQ(files, 0);
	free(got);
	free(cmd);
	json_decref(v);
	v = json_integer(-12);
	cmd = render("printf %s \"${{ params.x }}\"", TEMPLATE_SHELL, v, NULL);
	ASSERT_STR_EQ(cmd, "printf %s \"-12\"");
	free(cmd);
	json_decref(v);
	cmd = render("printf %s ${{ params.x }}", TEMPLATE_SHELL, json_null(), NULL);
	ASSERT_STR_EQ(cmd, "printf %s ''");
	free(cmd);
}

TEST(template_shell_forms)
{
	char *s = render_str("a ${{ params.x }} \"${{ params.x }}\" '${{ params.x }}'",
			     TEMPLATE_SHELL, "it's \"$x\" `y` \\", NULL);
	ASSERT_STR_EQ(s, "a 'it'\\''s \"$x\" `y` \\' \"it's \\\"\\$x\\\" \\`y\\` \\\\\" "
			 "'it'\\''s \"$x\" `y` \\'");
	free(s);
	char *msg = NULL;
	struct arena a;
	arena_init(&a);
	struct tctx ctx = {json_object(), NULL, "x"};
	struct buf out = BUF_INIT;
	struct template *t = parse_ok(&a, "echo ${{ params.x }}");
	ASSERT_INT_EQ(template_render(t, TEMPLATE_SHELL, tlookup, &ctx, &out, &msg), -ENOENT);
	ASSERT_STR_EQ(msg, "lookup failed on purpose");
	free(msg);
	buf_free(&out);
	json_decref(ctx.params);
	arena_free(&a);
}

/* Inside $(( )) an integer is written bare (quotes are not allowed in arithmetic, digits cannot
 * be code); anything else is refused. */
TEST(template_shell_arithmetic_takes_integers_only)
{
	struct arena a;
	arena_init(&a);
	struct template *t = NULL;
	struct template_error te;
	ASSERT_INT_EQ(template_parse(&a, "echo $(( ${{ params.n }} + 1 )) ${{ params.n }}", &t, &te),
		      0);
	static const struct {
		const char *value;
		const char *want; /* NULL: refused */
	} cases[] = {
		{"41", "echo $(( 41 + 1 )) '41'"},
		{"-7", "echo $(( -7 + 1 )) '-7'"},
		{"1; touch pwned", NULL},
		{"$(id)", NULL},
		{"", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tctx ctx = {.params = json_object()};
		json_object_set_new(ctx.params, "n", json_string(cases[i].value));
		struct buf out = BUF_INIT;
		char *msg = NULL;
		int r = template_render(t, TEMPLATE_SHELL, tlookup, &ctx, &out, &msg);
		if (cases[i].want) {
			ASSERT_INT_EQ(r, 0);
			ASSERT_STR_EQ(buf_str(&out), cases[i].want);
		} else {
			ASSERT(r < 0);
			ASSERT_STR_CONTAINS(msg, "whole number");
		}
		free(msg);
		buf_free(&out);
		json_decref(ctx.params);
	}
	arena_free(&a);
}
