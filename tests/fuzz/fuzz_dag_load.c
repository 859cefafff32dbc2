/*
 * fuzz_dag_load.c - libFuzzer target: arbitrary bytes through the whole DAG loader (UTF-8 check,
 * YAML, key tables, templates, cron, graph compile). A load either succeeds with a consistent
 * compiled DAG or reports at least one problem with a sane position; it never crashes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "dag/dag_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 256 * 1024)
		return 0;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct diag_list diags;
	diag_list_init(&diags, "fuzz.yaml");
	struct dag *d = NULL;
	int r = dag_load_buffer("fuzz.yaml", text, size, &d, &diags);
	if (r == 0) {
		if (!d || diags.n != 0)
			abort();
		/* The topological order is a permutation that respects every edge. */
		uint32_t *pos = calloc(d->n_tasks, sizeof(uint32_t));
		for (uint32_t k = 0; k < d->n_tasks; k++)
			pos[d->topo[k]] = k;
		for (uint32_t i = 0; i < d->n_tasks; i++)
			for (uint32_t e = d->up_off[i]; e < d->up_off[i + 1]; e++)
				if (pos[d->up[e]] >= pos[i])
					abort();
		free(pos);
		dag_free(d);
	} else {
		if (d || diags.n == 0)
			abort();
		for (size_t i = 0; i < diags.n; i++)
			if (diags.items[i].line > 1 + size || !diags.items[i].msg[0])
				abort();
	}
	diag_list_free(&diags);
	free(text);
	return 0;
}
