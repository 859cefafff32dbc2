/*
 * fuzz_wire.c - libFuzzer target for the DAG processor's answer as the server decodes it
 * (dag/ytree_wire.c), then loaded the way the server loads it (dag_load_with). The processor is
 * not trusted: whatever bytes arrive, the decoder returns a tree obeying ytree_parse's rules or
 * an error, and the loader then succeeds or reports problems; nothing crashes, hangs or leaks.
 * A decoded tree re-encodes and decodes to the same bytes (the format has one spelling).
 *
 * Input: byte 0 chooses whether the rest is used as is (even) or first wrapped as a valid
 * header-and-trailer around the bytes (odd), so that both the framing and the node records get
 * explored. The DAG text the loader sees (for positions inside scalars) is a fixed line: the
 * tree's positions point anywhere, also past it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "dag/dag_load.h"
#include "dag/ytree_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
	const uint8_t *p;
	size_t n;
	bool decoded;
};

static struct ynode *from_wire(struct arena *a, const char *text, size_t len,
			       struct diag_list *diags, void *ctx)
{
	struct src *s = ctx;
	struct ynode *root = NULL;
	char *err = NULL;
	if (ywire_decode(a, s->p, s->n, &root, diags, &err) < 0) {
		if (!err)
			abort();
		diag_add(diags, 1, 1, "%s", err);
		free(err);
		return NULL;
	}
	s->decoded = true;
	/* One spelling: the tree encodes to bytes that decode to the same encoding. */
	struct buf a1 = BUF_INIT, a2 = BUF_INIT;
	ywire_encode(root, NULL, &a1);
	struct arena t;
	arena_init(&t);
	struct ynode *again = NULL;
	struct diag_list none;
	diag_list_init(&none, "x");
	if (ywire_decode(&t, a1.data, a1.len, &again, &none, &err) < 0)
		abort();
	ywire_encode(again, NULL, &a2);
	if (a1.len != a2.len || memcmp(a1.data, a2.data, a1.len) != 0)
		abort();
	buf_free(&a1);
	buf_free(&a2);
	diag_list_free(&none);
	arena_free(&t);
	return root;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 256 * 1024)
		return 0;
	struct buf msg = BUF_INIT;
	if (data[0] & 1) {
		/* "GYT1", a node count from byte 1, the root as the last node, the records, no
		 * problems. */
		uint32_t n = size > 1 ? data[1] % 64 : 0, root = n ? n - 1 : YWIRE_NONE, zero = 0;
		buf_append(&msg, "GYT1", 4);
		buf_append(&msg, &n, 4);
		buf_append(&msg, &root, 4);
		if (size > 2)
			buf_append(&msg, data + 2, size - 2);
		buf_append(&msg, &zero, 4);
	} else {
		buf_append(&msg, data + 1, size - 1);
	}
	struct src s = {(const uint8_t *)msg.data, msg.len, false};
	static const char text[] = "id: fuzz\ntasks: {a: echo}\n";
	struct diag_list diags;
	diag_list_init(&diags, "fuzz.yaml");
	struct dag *d = NULL;
	int r = dag_load_with("fuzz.yaml", text, sizeof(text) - 1, from_wire, &s, &d, &diags);
	if (r == 0 && (!d || diags.n))
		abort();
	if (r != 0 && (d || diags.n == 0))
		abort();
	dag_free(d);
	diag_list_free(&diags);
	buf_free(&msg);
	return 0;
}
