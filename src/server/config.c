/*
 * config.c - $GUST_HOME/config.yaml (see config.h).
 *
 * Each top-level setting has a parser in the SETTINGS table; unknown settings (and unknown keys
 * inside `pools` and `host`) are errors with a "did you mean" hint drawn from the same tables.
 * A parser that finds a problem adds it to the diag_list and leaves the setting as it was.
 */
#include "server/config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/duration.h"
#include "base/util.h"
#include "dag/yaml_tree.h"
#include "http/http_parse.h"
#include "server/dagproc.h"
#include "store/store.h"

void config_defaults(struct config *c)
{
	c->parallelism = 32;
	c->retention_ms = 30LL * 24 * 3600 * 1000;
	c->dags_dir = NULL;
	c->pools = NULL;
	c->n_pools = 0;
	c->host_cpu_milli = 0;
	c->host_memory = 0;
	c->priority_ageing_ms = 30 * 1000;
	c->reserve_after_ms = 10 * 60 * 1000;
	c->durability = STORE_DURABILITY_NORMAL;
	c->parse_timeout_ms = DAGPROC_DEFAULT_TIME_MS;
	c->parse_memory = DAGPROC_DEFAULT_MEMORY;
	c->listen = NULL;
	c->tls_cert = c->tls_key = NULL;
	c->health_stall_ms = 30 * 1000;
	c->metrics_public = false;
}

static void free_pools(struct config *c)
{
	for (size_t i = 0; i < c->n_pools; i++) {
		free(c->pools[i].name);
		free(c->pools[i].description);
	}
	free(c->pools);
	c->pools = NULL;
	c->n_pools = 0;
}

void config_free(struct config *c)
{
	free(c->dags_dir);
	c->dags_dir = NULL;
	free(c->listen);
	free(c->tls_cert);
	free(c->tls_key);
	c->listen = c->tls_cert = c->tls_key = NULL;
	free_pools(c);
}

void config_host_capacity(const struct config *c, int64_t *cpu_milli, uint64_t *memory)
{
	if (cpu_milli) {
		long n = c->host_cpu_milli > 0 ? 0 : sysconf(_SC_NPROCESSORS_ONLN);
		*cpu_milli = c->host_cpu_milli > 0 ? c->host_cpu_milli : (n > 0 ? n : 1) * 1000LL;
	}
	if (memory) {
		*memory = c->host_memory;
		if (!*memory) {
			long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
			if (pages > 0 && page > 0)
				*memory = (uint64_t)pages * (uint64_t)page;
		}
	}
}

/* "a, b or c" of the first n names. */
static void join_names(char *buf, size_t size, const char *const *names, size_t n)
{
	size_t len = 0;
	buf[0] = 0;
	for (size_t i = 0; i < n && len < size; i++) {
		const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
		int k = snprintf(buf + len, size - len, "%s%s", sep, names[i]);
		if (k < 0)
			break;
		len += (size_t)k;
	}
}

/* An unknown key `k` among `names`; `where` is "" at the top or " in pool 'x'". */
static void unknown_key(struct diag_list *d, const struct ynode *k, const char *what,
			const char *where, const char *const *names, size_t n)
{
	const char *hint = closest_word(k->str, names, n);
	if (hint) {
		diag_add(d, k->line, k->col, "unknown %s '%s'%s (did you mean '%s'?)", what, k->str,
			 where, hint);
		return;
	}
	char list[256];
	join_names(list, sizeof(list), names, n);
	diag_add(d, k->line, k->col, "unknown %s '%s'%s (use %s)", what, k->str, where, list);
}

/* As in DAG files: "bad duration 'X' for 'KEY': WHY". */
static bool want_duration(struct diag_list *d, const struct ynode *v, const char *key,
			  const char *example, int64_t *ret)
{
	const char *why = NULL;
	int64_t ms;
	if (v->type != YN_SCALAR || ynode_scalar_kind(v) == YS_NULL) {
		diag_add(d, v->line, v->col, "'%s' must be a duration like %s, got %s", key,
			 example, ynode_describe(v));
		return false;
	}
	if (duration_parse(v->str, &ms, &why) < 0) {
		diag_add(d, v->line, v->col, "bad duration '%s' for '%s': %s", v->str, key, why);
		return false;
	}
	*ret = ms;
	return true;
}

/* ---- settings ----------------------------------------------------------------------------- */

static void set_parallelism(struct config *c, const struct ynode *v, struct diag_list *d)
{
	int64_t x;
	if (!ynode_int(v, &x) || x < 1 || x > 100000)
		diag_add(d, v->line, v->col,
			 "'parallelism' must be a whole number from 1 to 100000");
	else
		c->parallelism = (int)x;
}

static void set_retention(struct config *c, const struct ynode *v, struct diag_list *d)
{
	want_duration(d, v, "retention", "30d", &c->retention_ms);
}

static void set_dags(struct config *c, const struct ynode *v, struct diag_list *d)
{
	if (v->type != YN_SCALAR || !*v->str) {
		diag_add(d, v->line, v->col, "'dags' must be a folder path");
		return;
	}
	free(c->dags_dir);
	c->dags_dir = xstrdup(v->str);
}

static void set_priority_ageing(struct config *c, const struct ynode *v, struct diag_list *d)
{
	int64_t ms;
	if (!want_duration(d, v, "priority_ageing", "30s", &ms))
		return;
	if (ms <= 0)
		diag_add(d, v->line, v->col, "'priority_ageing' must be longer than 0 (e.g. 30s)");
	else
		c->priority_ageing_ms = ms;
}

static void set_reserve_after(struct config *c, const struct ynode *v, struct diag_list *d)
{
	want_duration(d, v, "reserve_after", "10m", &c->reserve_after_ms);
}

/* The DAG processor's limits per file (server/dagproc.h). */
static void set_parse_timeout(struct config *c, const struct ynode *v, struct diag_list *d)
{
	int64_t ms;
	if (!want_duration(d, v, "parse_timeout", "30s", &ms))
		return;
	if (ms < 1000)
		diag_add(d, v->line, v->col, "'parse_timeout' must be at least 1s");
	else
		c->parse_timeout_ms = ms;
}

static void set_parse_memory(struct config *c, const struct ynode *v, struct diag_list *d)
{
	const char *why = NULL;
	uint64_t bytes;
	if (v->type != YN_SCALAR || ynode_scalar_kind(v) == YS_NULL)
		diag_add(d, v->line, v->col, "'parse_memory' must be a size like 2G, got %s",
			 ynode_describe(v));
	else if (size_parse(v->str, &bytes, &why) < 0)
		diag_add(d, v->line, v->col, "bad size '%s' for 'parse_memory': %s", v->str, why);
	else if (bytes < (64u << 20))
		diag_add(d, v->line, v->col, "'parse_memory' must be at least 64M");
	else
		c->parse_memory = bytes;
}

static const char *const durability_values[] = {"normal", "full"};

static void set_durability(struct config *c, const struct ynode *v, struct diag_list *d)
{
	enum store_durability x;
	if (v->type != YN_SCALAR || ynode_scalar_kind(v) == YS_NULL) {
		diag_add(d, v->line, v->col, "'durability' must be normal or full, got %s",
			 ynode_describe(v));
	} else if (store_durability_parse(v->str, &x) < 0) {
		const char *hint =
		    closest_word(v->str, durability_values, ARRAY_SIZE(durability_values));
		if (hint)
			diag_add(d, v->line, v->col, "bad durability '%.100s' (did you mean '%s'?)",
				 v->str, hint);
		else
			diag_add(d, v->line, v->col,
				 "bad durability '%.100s': use normal (a commit survives a crash "
				 "of the server) or full (and a power loss: every commit is synced "
				 "to the disk)",
				 v->str);
	} else {
		c->durability = x;
	}
}

/* pools: NAME: SLOTS, or NAME: {slots: N, description: TEXT} */

static bool pool_slots(const struct ynode *v, const char *name, struct diag_list *d, int32_t *ret)
{
	int64_t x;
	if (!ynode_int(v, &x) || x < 0 || x > STORE_POOL_SLOTS_MAX) {
		const char *q = v->type == YN_SCALAR && !v->plain ? "\"" : "";
		diag_add(d, v->line, v->col,
			 "the slots of pool '%s' must be a whole number from 0 to %d, got %s%s%s",
			 name, STORE_POOL_SLOTS_MAX, q,
			 v->type == YN_SCALAR ? v->str : ynode_describe(v), q);
		return false;
	}
	*ret = (int32_t)x;
	return true;
}

static const char *const pool_keys[] = {"slots", "description"};

/* One pool's value; false if it has a problem (reported). */
static bool parse_pool(const struct ynode *v, const char *name, struct diag_list *d,
		       int32_t *ret_slots, const char **ret_description)
{
	if (v->type != YN_MAP)
		return pool_slots(v, name, d, ret_slots);
	bool ok = true, have_slots = false, unknown = false;
	char where[160];
	snprintf(where, sizeof(where), " in pool '%.100s'", name);
	for (uint32_t i = 0; i < v->n; i++) {
		const struct ynode *k = v->pairs[i].key, *x = v->pairs[i].value;
		if (strcmp(k->str, "slots") == 0) {
			have_slots = true;
			ok &= pool_slots(x, name, d, ret_slots);
		} else if (strcmp(k->str, "description") == 0) {
			if (x->type != YN_SCALAR) {
				diag_add(d, x->line, x->col,
					 "the description of pool '%s' must be text, got %s", name,
					 ynode_describe(x));
				ok = false;
			} else if (ynode_scalar_kind(x) != YS_NULL) {
				*ret_description = x->str;
			}
		} else {
			unknown_key(d, k, "key", where, pool_keys, ARRAY_SIZE(pool_keys));
			ok = false;
			unknown = true;
		}
	}
	if (!have_slots && !unknown) { /* a misspelt 'slots' is reported once */
		diag_add(d, v->line, v->col, "pool '%s' needs 'slots' (e.g. {slots: 4})", name);
		ok = false;
	}
	return ok;
}

static void set_pools(struct config *c, const struct ynode *v, struct diag_list *d)
{
	if (v->type == YN_SCALAR && ynode_scalar_kind(v) == YS_NULL) {
		free_pools(c); /* `pools:` with nothing: none declared */
		return;
	}
	if (v->type != YN_MAP) {
		diag_add(d, v->line, v->col,
			 "'pools' must be a mapping of pool names to slots, like "
			 "{indexers: 6, warehouse: {slots: 3, description: \"...\"}}, got %s",
			 ynode_describe(v));
		return;
	}
	free_pools(c);
	c->pools = xcalloc(v->n ? v->n : 1, sizeof(*c->pools));
	for (uint32_t i = 0; i < v->n; i++) {
		const struct ynode *k = v->pairs[i].key;
		bool ok = true;
		if (!store_pool_name_valid(k->str)) {
			diag_add(d, k->line, k->col,
				 "bad pool name '%.200s': use 1 to %d letters, digits, '_', '-' "
				 "and '.'",
				 k->str, STORE_POOL_NAME_MAX);
			ok = false;
		}
		int32_t slots = 0;
		const char *description = NULL;
		ok &= parse_pool(v->pairs[i].value, k->str, d, &slots, &description);
		if (!ok)
			continue;
		c->pools[c->n_pools++] = (struct config_pool){
		    .name = xstrdup(k->str),
		    .slots = slots,
		    .description = description ? xstrdup(description) : NULL,
		};
	}
}

/* host: {cpu: 2.5, memory: 16G} */

static const char *const host_keys[] = {"cpu", "memory"};

static void set_host(struct config *c, const struct ynode *v, struct diag_list *d)
{
	if (v->type != YN_MAP) {
		diag_add(d, v->line, v->col,
			 "'host' must be a mapping like {cpu: 8, memory: 16G}, got %s",
			 ynode_describe(v));
		return;
	}
	for (uint32_t i = 0; i < v->n; i++) {
		const struct ynode *k = v->pairs[i].key, *x = v->pairs[i].value;
		if (strcmp(k->str, "cpu") == 0) {
			double cores;
			if (!ynode_number(x, &cores) || cores <= 0 || cores > 100000) {
				diag_add(d, x->line, x->col,
					 "'cpu' in host must be a positive number of cores (e.g. 8 "
					 "or 2.5), got %s",
					 x->type == YN_SCALAR ? x->str : ynode_describe(x));
				continue;
			}
			int64_t milli = (int64_t)llround(cores * 1000);
			c->host_cpu_milli = milli > 0 ? milli : 1;
		} else if (strcmp(k->str, "memory") == 0) {
			const char *why = NULL;
			uint64_t bytes;
			if (x->type != YN_SCALAR || ynode_scalar_kind(x) == YS_NULL)
				diag_add(d, x->line, x->col,
					 "'memory' in host must be a size like 16G, got %s",
					 ynode_describe(x));
			else if (size_parse(x->str, &bytes, &why) < 0)
				diag_add(d, x->line, x->col,
					 "bad size '%s' for 'memory' in host: %s", x->str, why);
			else if (bytes == 0)
				diag_add(d, x->line, x->col,
					 "'memory' in host must be more than 0 (leave it out to "
					 "use this machine's)");
			else
				c->host_memory = bytes;
		} else {
			unknown_key(d, k, "key", " in host", host_keys, ARRAY_SIZE(host_keys));
		}
	}
}

/* The HTTP API (docs/api.md). */
static void set_listen(struct config *c, const struct ynode *v, struct diag_list *d)
{
	struct sockaddr_storage sa;
	socklen_t len;
	const char *why = NULL;
	if (v->type != YN_SCALAR || !*v->str)
		diag_add(d, v->line, v->col,
			 "'listen' must be an address and port like 127.0.0.1:8080, got %s",
			 ynode_describe(v));
	else if (http_addr_parse(v->str, &sa, &len, &why) < 0)
		diag_add(d, v->line, v->col, "bad address '%.100s' for 'listen': %s", v->str, why);
	else {
		free(c->listen);
		c->listen = xstrdup(v->str);
	}
}

static const char *const tls_keys[] = {"cert", "key"};

static void set_tls(struct config *c, const struct ynode *v, struct diag_list *d)
{
	if (v->type != YN_MAP) {
		diag_add(d, v->line, v->col,
			 "'tls' must be a mapping like {cert: /etc/gust/cert.pem, key: "
			 "/etc/gust/key.pem}, got %s",
			 ynode_describe(v));
		return;
	}
	char *files[2] = {NULL, NULL};
	for (uint32_t i = 0; i < v->n; i++) {
		const struct ynode *k = v->pairs[i].key, *x = v->pairs[i].value;
		size_t which = 0;
		while (which < ARRAY_SIZE(tls_keys) && strcmp(k->str, tls_keys[which]) != 0)
			which++;
		if (which == ARRAY_SIZE(tls_keys)) {
			unknown_key(d, k, "key", " in tls", tls_keys, ARRAY_SIZE(tls_keys));
		} else if (x->type != YN_SCALAR || !*x->str) {
			diag_add(d, x->line, x->col,
				 "'%s' in tls must be a file path (PEM), got %s", tls_keys[which],
				 ynode_describe(x));
		} else {
			free(files[which]);
			files[which] = xstrdup(x->str);
		}
	}
	if (!files[0] != !files[1]) {
		diag_add(d, v->line, v->col, "'tls' needs both 'cert' and 'key'");
	} else if (files[0]) {
		free(c->tls_cert);
		free(c->tls_key);
		c->tls_cert = files[0];
		c->tls_key = files[1];
		return;
	}
	free(files[0]);
	free(files[1]);
}

static void set_health_stall(struct config *c, const struct ynode *v, struct diag_list *d)
{
	int64_t ms;
	if (!want_duration(d, v, "health_stall", "30s", &ms))
		return;
	if (ms < 1000)
		diag_add(d, v->line, v->col, "'health_stall' must be at least 1s");
	else
		c->health_stall_ms = ms;
}

static const char *const metrics_keys[] = {"public"};

static void set_metrics(struct config *c, const struct ynode *v, struct diag_list *d)
{
	if (v->type != YN_MAP) {
		diag_add(d, v->line, v->col,
			 "'metrics' must be a mapping like {public: true}, got %s",
			 ynode_describe(v));
		return;
	}
	for (uint32_t i = 0; i < v->n; i++) {
		const struct ynode *k = v->pairs[i].key, *x = v->pairs[i].value;
		bool b;
		if (strcmp(k->str, "public") != 0)
			unknown_key(d, k, "key", " in metrics", metrics_keys,
				    ARRAY_SIZE(metrics_keys));
		else if (x->type != YN_SCALAR || !ynode_bool(x, &b))
			diag_add(d, x->line, x->col,
				 "'public' in metrics must be true or false, got %s",
				 ynode_describe(x));
		else
			c->metrics_public = b;
	}
}

static const struct {
	const char *key;
	void (*fn)(struct config *c, const struct ynode *v, struct diag_list *d);
} settings[] = {
    {"parallelism", set_parallelism},
    {"retention", set_retention},
    {"dags", set_dags},
    {"pools", set_pools},
    {"host", set_host},
    {"priority_ageing", set_priority_ageing},
    {"reserve_after", set_reserve_after},
    {"durability", set_durability},
    {"parse_timeout", set_parse_timeout},
    {"parse_memory", set_parse_memory},
    {"listen", set_listen},
    {"tls", set_tls},
    {"health_stall", set_health_stall},
    {"metrics", set_metrics},
};

int config_read(const char *path, char **ret_text, size_t *ret_len)
{
	*ret_text = NULL;
	*ret_len = 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	char *text = NULL;
	size_t cap = 0;
	/* Up to and including a NUL, so that the UTF-8/NUL check reports it with its position. */
	ssize_t len = getdelim(&text, &cap, '\0', f);
	fclose(f);
	if (len <= 0) {
		free(text);
		return 0;
	}
	*ret_text = text;
	*ret_len = (size_t)len;
	return 1;
}

int config_load(struct config *c, const char *path, struct diag_list *diags)
{
	char *text;
	size_t len;
	int r = config_read(path, &text, &len);
	if (r <= 0)
		return r;
	int rc = config_load_buffer(c, text, len, diags);
	free(text);
	return rc;
}

int config_load_buffer(struct config *c, const char *text, size_t len, struct diag_list *diags)
{
	size_t before = diags->n;
	if (!ytree_text_ok(text, len, diags))
		return -EINVAL;
	struct arena a;
	arena_init(&a);
	struct ynode *root = ytree_parse(&a, text, len, diags);
	config_load_tree(c, root, diags);
	arena_free(&a);
	return diags->n == before ? 0 : -EINVAL;
}

int config_load_tree(struct config *c, const struct ynode *root, struct diag_list *diags)
{
	size_t before = diags->n;
	bool empty = root && root->type == YN_SCALAR && ynode_scalar_kind(root) == YS_NULL;
	if (root && root->type != YN_MAP && !empty) {
		diag_add(diags, root->line, root->col, "the config must be a mapping of settings");
		root = NULL;
	}
	const char *names[ARRAY_SIZE(settings)];
	for (size_t j = 0; j < ARRAY_SIZE(settings); j++)
		names[j] = settings[j].key;
	for (uint32_t i = 0; root && root->type == YN_MAP && i < root->n; i++) {
		const struct ynode *k = root->pairs[i].key, *v = root->pairs[i].value;
		size_t j = 0;
		while (j < ARRAY_SIZE(settings) && strcmp(k->str, settings[j].key) != 0)
			j++;
		if (j < ARRAY_SIZE(settings))
			settings[j].fn(c, v, diags);
		else
			unknown_key(diags, k, "setting", "", names, ARRAY_SIZE(names));
	}
	return diags->n == before ? 0 : -EINVAL;
}
