/*
 * fuzz_template.c - libFuzzer target for dag/template.
 *
 * The input, NUL-terminated, is parsed as a template. A parse error must carry a message and an
 * offset inside the string; a parsed template must have the documented segment shape. It is
 * then rendered in text and shell mode with a lookup that hands out hostile values (quotes,
 * newlines, $( ), backquotes, here-document delimiters, NUL, JSON arrays and objects), rotating
 * which hole gets which value, and these must hold:
 *   - text mode with string values is exactly literal, value, literal, ...;
 *   - a failed render leaves the output buffer as it was and sets a message;
 *   - a shell render holds no NUL, and the shell quoting state at its end (as the renderer's
 *     lexer reads the plain output) equals the state with the harmless value "v" in every hole:
 *     no value changed the quoting around it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "dag/template.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static json_t *values[24];
static size_t n_values;
static json_t *benign;
static json_t *empty;

static void init_values(void)
{
	static const char *const strs[] = {
	    "'; touch /tmp/pwned ; '",
	    "$(touch /tmp/pwned)",
	    "`id`",
	    "\"a b\"",
	    "\\",
	    "line1\nline2\n",
	    "EOF",
	    "\nEOF\n",
	    "}; {",
	    ") #",
	    "\\'\\\"\\`\\$",
	    "${{ params.x }}",
	    "\t\tEOF",
	    "",
	};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		values[n_values++] = json_string(strs[i]);
	values[n_values++] = json_stringn("nul\0byte", 8);
	values[n_values++] = json_integer(-42);
	values[n_values++] = json_real(2.5);
	values[n_values++] = json_true();
	values[n_values++] = json_null();
	values[n_values++] = json_pack("[s,i,s]", "it's", 1, "$(x)");
	values[n_values++] = json_pack("{s:s,s:[]}", "k\"ey", "v'al`ue`", "e");
	benign = json_string("v");
	empty = json_string("");
}

struct fctx {
	unsigned round;
	int mode; /* 0: rotate through values, 1: benign, 2: empty string, 3: fail at the 2nd ref */
	unsigned calls;
};

static int flookup(void *vctx, const struct tref *ref, json_t **ret_value, char **ret_msg)
{
	struct fctx *ctx = vctx;
	unsigned call = ctx->calls++;
	CHECK(ref != NULL);
	switch (ctx->mode) {
	case 1:
		*ret_value = benign;
		return 0;
	case 2:
		*ret_value = empty;
		return 0;
	case 3:
		if (call == 1) {
			*ret_msg = strdup("no such thing");
			return -2;
		}
		*ret_value = benign;
		return 0;
	default:
		*ret_value = values[(ctx->round * 7 + call + ref->offset) % n_values];
		return 0;
	}
}

static int render(const struct template *t, enum template_mode m, struct fctx *ctx, struct buf *out)
{
	char *msg = NULL;
	size_t before = out->len;
	ctx->calls = 0;
	int r = template_render(t, m, flookup, ctx, out, &msg);
	if (r < 0) {
		CHECK(msg != NULL);
		CHECK(out->len == before);
		free(msg);
	} else {
		CHECK(msg == NULL);
	}
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!n_values)
		init_values();
	if (size > 4096)
		return 0;

	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	size_t len = strlen(s);

	struct arena a;
	struct template *t = NULL;
	struct template_error err = {0, NULL};
	arena_init(&a);
	if (template_parse(&a, s, &t, &err) < 0) {
		CHECK(err.msg != NULL);
		CHECK(err.offset <= len);
		goto out;
	}

	/* Shape. */
	CHECK(t->src == s);
	CHECK(t->n_segs == t->n_refs + 1);
	CHECK(t->segs[t->n_segs - 1].ref == NULL);
	CHECK(!t->whole || t->n_refs == 1);
	size_t lits = 0;
	for (uint32_t i = 0; i < t->n_segs; i++) {
		const struct tseg *sg = &t->segs[i];
		CHECK(sg->lit != NULL);
		CHECK(sg->lit[sg->lit_len] == '\0');
		lits += sg->lit_len;
		if (i + 1 == t->n_segs)
			continue;
		const struct tref *ref = sg->ref;
		CHECK(ref != NULL);
		CHECK(ref->offset < len);
		CHECK((ref->name != NULL) == (ref->kind == TREF_PARAM || ref->kind == TREF_OUTPUT ||
					      ref->kind == TREF_VAR || ref->kind == TREF_CONN));
		/* var.KEY has no path; conn.NAME has its field first. */
		CHECK(ref->kind != TREF_VAR || ref->n_path == 0);
		CHECK(ref->kind != TREF_CONN || ref->n_path >= 1);
		CHECK(ref->n_path == 0 || ref->path != NULL);
		for (uint32_t p = 0; p < ref->n_path; p++)
			CHECK(ref->path[p] != NULL && ref->path[p][0] != '\0');
	}
	CHECK(lits <= len);

	/* Text mode: empty values give the literals; string values are spliced in as they are. */
	struct fctx ctx = {0, 2, 0};
	struct buf out = BUF_INIT, want = BUF_INIT, plain = BUF_INIT;
	CHECK(render(t, TEMPLATE_TEXT, &ctx, &out) == 0);
	CHECK(out.len == lits);
	for (uint32_t i = 0; i < t->n_segs; i++)
		buf_append(&want, t->segs[i].lit, t->segs[i].lit_len);
	CHECK(memcmp(buf_str(&out), buf_str(&want), lits) == 0);
	ctx.mode = 3;
	buf_reset(&out);
	buf_puts(&out, "prefix");
	CHECK(render(t, TEMPLATE_TEXT, &ctx, &out) == (t->n_refs >= 2 ? -2 : 0));
	for (unsigned round = 0; round < 4; round++) {
		ctx = (struct fctx){round, 0, 0};
		buf_reset(&out);
		CHECK(render(t, TEMPLATE_TEXT, &ctx, &out) == 0);
		CHECK(out.len >= lits);
	}

	/* Shell mode. */
	struct buf state_benign = BUF_INIT, state = BUF_INIT;
	ctx = (struct fctx){0, 1, 0};
	buf_reset(&plain);
	int benign_ok = render(t, TEMPLATE_SHELL, &ctx, &plain) == 0;
	if (benign_ok)
		template_shell_state(buf_str(&plain), plain.len, &state_benign);
	ctx.mode = 3;
	buf_reset(&out);
	render(t, TEMPLATE_SHELL, &ctx, &out);
	for (unsigned round = 0; round < 4; round++) {
		ctx = (struct fctx){round, 0, 0};
		buf_reset(&out);
		if (render(t, TEMPLATE_SHELL, &ctx, &out) < 0)
			continue;
		CHECK(memchr(buf_str(&out), 0, out.len) == NULL);
		if (!benign_ok)
			continue;
		buf_reset(&state);
		template_shell_state(buf_str(&out), out.len, &state);
		CHECK(strcmp(buf_str(&state), buf_str(&state_benign)) == 0);
	}
	buf_free(&state);
	buf_free(&state_benign);
	buf_free(&out);
	buf_free(&want);
	buf_free(&plain);
out:
	arena_free(&a);
	free(s);
	return 0;
}
