/* config.c - $GUST_HOME/config.yaml (see config.h). */
#include "server/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/arena.h"
#include "base/duration.h"
#include "base/util.h"
#include "dag/yaml_tree.h"

void config_defaults(struct config *c)
{
	c->parallelism = 32;
	c->retention_ms = 30LL * 24 * 3600 * 1000;
	c->dags_dir = NULL;
}

void config_free(struct config *c)
{
	free(c->dags_dir);
	c->dags_dir = NULL;
}

int config_load(struct config *c, const char *path, struct diag_list *diags)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	char *text = NULL;
	size_t cap = 0;
	ssize_t len = getdelim(&text, &cap, '\0', f);
	fclose(f);
	if (len < 0) {
		free(text);
		return 0; /* empty file */
	}
	size_t before = diags->n;
	struct arena a;
	arena_init(&a);
	struct ynode *root = ytree_parse(&a, text, (size_t)len, diags);
	bool empty = root && root->type == YN_SCALAR && ynode_scalar_kind(root) == YS_NULL;
	if (root && root->type != YN_MAP && !empty) {
		diag_add(diags, root->line, root->col, "the config must be a mapping of settings");
		root = NULL;
	}
	for (uint32_t i = 0; root && root->type == YN_MAP && i < root->n; i++) {
		const struct ynode *k = root->pairs[i].key, *v = root->pairs[i].value;
		if (strcmp(k->str, "parallelism") == 0) {
			int64_t x;
			if (!ynode_int(v, &x) || x < 1 || x > 100000)
				diag_add(diags, v->line, v->col,
					 "'parallelism' must be a whole number from 1 to 100000");
			else
				c->parallelism = (int)x;
		} else if (strcmp(k->str, "retention") == 0) {
			const char *why = NULL;
			int64_t ms;
			if (v->type != YN_SCALAR || duration_parse(v->str, &ms, &why) < 0)
				diag_add(diags, v->line, v->col,
					 "bad duration for 'retention': %s (e.g. 30d)",
					 why ? why : "not a duration");
			else
				c->retention_ms = ms;
		} else if (strcmp(k->str, "dags") == 0) {
			if (v->type != YN_SCALAR || !*v->str)
				diag_add(diags, v->line, v->col, "'dags' must be a folder path");
			else {
				free(c->dags_dir);
				c->dags_dir = xstrdup(v->str);
			}
		} else {
			static const char *const keys[] = {"parallelism", "retention", "dags"};
			const char *hint = closest_word(k->str, keys, ARRAY_SIZE(keys));
			if (hint)
				diag_add(diags, k->line, k->col,
					 "unknown setting '%s' (did you mean '%s'?)", k->str, hint);
			else
				diag_add(diags, k->line, k->col,
					 "unknown setting '%s' (use parallelism, retention or dags)",
					 k->str);
		}
	}
	arena_free(&a);
	free(text);
	return diags->n == before ? 0 : -EINVAL;
}
