/*
 * The route table of the API (src/api/api.c) against docs/openapi.yaml: every operation of one
 * is a route of the other, with the same least role. Run from the repository's root, as the
 * test command does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth/role.h"
#include "base/arena.h"
#include "base/diag.h"
#include "base/util.h"
#include "dag/yaml_tree.h"
#include "http/http_route.h"
#include "test.h"


static const struct ynode *get(const struct ynode *map, const char *key)
{
	for (uint32_t i = 0; map && map->type == YN_MAP && i < map->n; i++)
		if (strcmp(map->pairs[i].key->str, key) == 0)
			return map->pairs[i].value;
	return NULL;
}

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	ASSERT(f != NULL);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		while (len + n + 1 > cap)
			buf = realloc(buf, cap = cap ? cap * 2 : 16384);
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(f);
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

static const char *role_of(unsigned flags)
{
	return flags & API_PUBLIC ? "public"
				    : auth_role_name((enum auth_role)(flags & API_ROLE_MASK));
}

TEST(openapi_matches_the_route_table)
{
	size_t len;
	char *text = slurp("docs/openapi.yaml", &len);
	struct arena a;
	arena_init(&a);
	struct diag_list diags;
	diag_list_init(&diags, "docs/openapi.yaml");
	const struct ynode *root = ytree_parse(&a, text, len, &diags);
	ASSERT_INT_EQ(diags.n, 0);
	const struct ynode *paths = get(root, "paths");
	ASSERT(paths && paths->type == YN_MAP);
	size_t n_routes;
	const struct http_route *routes = api_routes(&n_routes);
	bool *matched = calloc(n_routes, sizeof(*matched));
	static const char *const methods[] = {"get", "post", "put", "patch", "delete"};
	size_t n_ops = 0;
	for (uint32_t p = 0; p < paths->n; p++) {
		const char *path = paths->pairs[p].key->str;
		for (size_t m = 0; m < ARRAY_SIZE(methods); m++) {
			const struct ynode *op = get(paths->pairs[p].value, methods[m]);
			if (!op)
				continue;
			n_ops++;
			const struct ynode *role = get(op, "x-gust-role");
			if (!role)
				test_fail(__FILE__, __LINE__, "%s %s: no x-gust-role in docs/openapi.yaml", methods[m],
					  path);
			size_t k = 0;
			while (k < n_routes && !(strcasecmp(routes[k].method, methods[m]) == 0 &&
						 strcmp(routes[k].pattern, path) == 0))
				k++;
			if (k == n_routes)
				test_fail(__FILE__, __LINE__, "docs/openapi.yaml has %s %s; the route table has not",
					  methods[m], path);
			matched[k] = true;
			if (strcmp(role_of(routes[k].flags), role->str) != 0)
				test_fail(__FILE__, __LINE__, "%s %s: the route needs %s, docs/openapi.yaml says %s",
					  methods[m], path, role_of(routes[k].flags), role->str);
		}
	}
	for (size_t k = 0; k < n_routes; k++)
		if (!matched[k])
			test_fail(__FILE__, __LINE__, "the route table has %s %s; docs/openapi.yaml has not",
				  routes[k].method, routes[k].pattern);
	ASSERT_INT_EQ(n_ops, n_routes);
	free(matched);
	diag_list_free(&diags);
	arena_free(&a);
	free(text);
}
