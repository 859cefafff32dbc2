/*
 * Tests for dag/yaml_tree.c: the tree libyaml's events build (positions, styles, anchors), the
 * rules it enforces (one document, duplicate keys, alias expansion), and the sentence each common
 * syntax error gets, at the position people need.
 */
#include "base/util.h"
#include "dag/yaml_tree.h"
#include "test.h"

/* Parse `text`; returns the root and the problems, one "L:C: msg" line each (malloc'd). */
static struct ynode *parse(struct arena *a, const char *text, size_t len, char **ret_problems)
{
	struct diag_list d;
	diag_list_init(&d, "t.yaml");
	struct ynode *root = ytree_text_ok(text, len, &d) ? ytree_parse(a, text, len, &d) : NULL;
	diag_sort(&d);
	char *out = xstrdup("");
	for (size_t i = 0; i < d.n; i++) {
		char *next = xasprintf("%s%u:%u: %s\n", out, d.items[i].line, d.items[i].col,
				       d.items[i].msg);
		free(out);
		out = next;
	}
	diag_list_free(&d);
	*ret_problems = out;
	return root;
}

static void expect_error(const char *text, const char *want)
{
	struct arena a;
	arena_init(&a);
	char *got;
	ASSERT(parse(&a, text, strlen(text), &got) == NULL);
	ASSERT_STR_EQ(got, want);
	free(got);
	arena_free(&a);
}

TEST(ytree_positions_styles_and_anchors)
{
	const char *text = "a: 1\n"
			   "b: \"2\"\n"
			   "c: &x [p, 'q']\n"
			   "d: *x\n"
			   "e: |\n"
			   "  line\n"
			   "f: !!str 3\n";
	struct arena a;
	arena_init(&a);
	char *problems;
	struct ynode *r = parse(&a, text, strlen(text), &problems);
	ASSERT_STR_EQ(problems, "");
	free(problems);
	ASSERT(r && r->type == YN_MAP);
	ASSERT_INT_EQ(r->n, 6);
	ASSERT_INT_EQ(ynode_scalar_kind(r->pairs[0].value), YS_INT);
	ASSERT_INT_EQ(ynode_scalar_kind(r->pairs[1].value), YS_STRING);
	ASSERT_INT_EQ(r->pairs[1].value->line, 2);
	ASSERT_INT_EQ(r->pairs[1].value->col, 4); /* the opening quote */
	struct ynode *c = r->pairs[2].value;
	ASSERT(c->type == YN_SEQ && c->n == 2);
	ASSERT_INT_EQ(c->col, 4); /* libyaml: a node starts at its anchor */
	ASSERT(c->items[0]->plain && !c->items[1]->plain);
	ASSERT(r->pairs[3].value == c); /* an alias is the anchored node */
	ASSERT_STR_EQ(r->pairs[4].value->str, "line\n");
	ASSERT(!r->pairs[4].value->plain);
	ASSERT_INT_EQ(ynode_scalar_kind(r->pairs[5].value), YS_STRING);
	uint32_t l, col;
	ytree_scalar_pos(text, strlen(text), r->pairs[1].value, 0, &l, &col);
	ASSERT_INT_EQ(l, 2);
	ASSERT_INT_EQ(col, 5);
	ytree_scalar_pos(text, strlen(text), r->pairs[4].value, 2, &l, &col);
	ASSERT_INT_EQ(l, 6);
	ASSERT_INT_EQ(col, 5);
	arena_free(&a);
}

TEST(ytree_rules_duplicates_documents_aliases)
{
	struct arena a;
	arena_init(&a);
	char *problems;
	struct ynode *r = parse(&a, "k: 1\nk: 2\n", 10, &problems);
	ASSERT_STR_EQ(problems, "2:1: duplicate key 'k' (first at line 1)\n");
	free(problems);
	ASSERT(r && r->n == 1 && strcmp(r->pairs[0].value->str, "1") == 0);
	arena_free(&a);
	expect_error("a: 1\n---\nb: 2\n", "2:1: a second YAML document: a DAG file holds exactly "
					  "one DAG (remove the '---' or split the file)\n");
	arena_init(&a);
	r = parse(&a, "a: *nope\n", 9, &problems); /* reported; the rest of the file is checked */
	ASSERT(r && r->n == 1);
	ASSERT_STR_EQ(problems, "1:4: unknown alias '*nope' (define it first with '&nope')\n");
	free(problems);
	arena_free(&a);
	/* billion laughs: 9 levels of 10 aliases each */
	char buf[4096];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 9; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
				      "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
				      "*a%d, *a%d]\n",
				      i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
				      i - 1, i - 1);
	expect_error(buf, "1:1: aliases expand this document to more than 8000000 nodes; refusing "
			  "it\n");
}

TEST(ytree_syntax_errors_say_what_to_do)
{
	expect_error("tasks:\n\ta: 1\n",
		     "2:1: YAML syntax error: tab character may not be used as indentation\n");
	expect_error("tasks:\n  a:\n    depends: [b, c\n    run: echo\n",
		     "3:14: YAML syntax error: flow sequence without a closing bracket\n");
	expect_error("a: {b: 1\n",
		     "1:4: YAML syntax error: flow mapping without a closing brace\n");
	expect_error("tasks:\n  a:\n    run: echo hi\n   retries: 2\n",
		     "4:4: YAML syntax error: invalid indentation in mapping\n");
	expect_error("a: \"open\nb: 2\n",
		     "1:4: YAML syntax error: quoted string without a closing quote\n");
	expect_error("a: b: c\n", "1:5: YAML syntax error: ': ' is not allowed here: quote the "
				  "value if it contains ': ', or check the indentation\n");
	expect_error("a: @x\n", "1:4: YAML syntax error: '@' is reserved in YAML and cannot start "
				"a value: quote the value\n");
	expect_error("a: \"\\q\"\n", "1:5: YAML syntax error: unknown escape in a double-quoted "
				     "string: write \\\\ for a backslash, or use single quotes\n");
	expect_error("a: x\x1d\n",
		     "1:5: YAML syntax error: control character 0x1D is not allowed "
		     "in YAML: remove it, or write it as an escape in a double-quoted "
		     "string\n");
}

/* Columns count characters, as libyaml's marks and editors do, also inside scalars. */
TEST(ytree_columns_count_characters)
{
	const char *text = "\xc3\xa9: \"\xc3\xa9\xc3\xa9x\"\n"; /* é: "ééx" */
	struct arena a;
	arena_init(&a);
	char *problems;
	struct ynode *r = parse(&a, text, strlen(text), &problems);
	ASSERT_STR_EQ(problems, "");
	free(problems);
	ASSERT(r && r->n == 1);
	ASSERT_INT_EQ(r->pairs[0].value->col, 4);
	uint32_t l, c;
	ytree_scalar_pos(text, strlen(text), r->pairs[0].value, 4, &l, &c);
	ASSERT_INT_EQ(l, 1);
	ASSERT_INT_EQ(c, 7);
	arena_free(&a);
}

/* libyaml's time is quadratic in the nesting depth: a file nested 200,000 levels deep is refused
 * at level YTREE_MAX_DEPTH + 1, at once (it took minutes before the limit). */
TEST(ytree_deep_nesting_is_refused_quickly)
{
	size_t depth = 200000;
	char *text = xmalloc(2 * depth + 1);
	memset(text, '[', depth);
	memset(text + depth, ']', depth);
	text[2 * depth] = 0;
	struct arena a;
	arena_init(&a);
	char *problems;
	ASSERT(parse(&a, text, 2 * depth, &problems) == NULL);
	ASSERT_STR_EQ(problems, "1:501: nesting deeper than 500 levels of lists and mappings\n");
	free(problems);
	arena_free(&a);
	free(text);
}

/* The 277 bytes on which libfyaml 0.7.12 wrote through a null pointer (issue 9; also in the
 * fuzz corpora and tests/dags/invalid): a located error. */
TEST(ytree_libfyaml_crash_input_is_a_located_error)
{
	static const char text[] =
	    "paralltepols:\012  \035\077\015\077\015\077 blslntion: 7d\012pools:\012  a\015\077"
	    "\015\077 bls:\012  a: 1\012  ools::  \011\077 bls:\0124 a : \012: 4\012s:\012  \015"
	    "\077\015\077\015\077 bls:\012  a: 3\012  ools::  \015\077 bls:\012  a  pols:\012 "
	    " \015\077\015\077\015\077 ls:\0124 a : \012: 4\012s:\012  \015\077\015\077\015\077"
	    " blsblsls:\012  \015\077\015\077\015\077 b: {slots:  bls:\012  a: 3\012  ools:: \042"
	    "x\042}\012host: {clu: 2. \015\077 b5, memory: 4Gls:\012 }";
	struct arena a;
	arena_init(&a);
	char *problems;
	ASSERT(parse(&a, text, sizeof(text) - 1, &problems) == NULL);
	ASSERT_INT_EQ(sizeof(text) - 1, 277);
	ASSERT_STR_CONTAINS(problems, "2:3: YAML syntax error: control character 0x1D");
	free(problems);
	arena_free(&a);
}
