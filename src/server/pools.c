/* pools.c - pools and host capacity for the server's admission control (see pools.h). */
#include "server/pools.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "base/strmap.h"
#include "server/log.h"

int pools_apply_config(const struct config *c, struct store *st, int64_t now)
{
	for (size_t i = 0; i < c->n_pools; i++) {
		const struct config_pool *p = &c->pools[i];
		int e = store_pool_set(st, NULL, p->name, p->slots, p->description, true, now);
		if (e < 0) {
			slog(LOG_ERROR, "pools: cannot write pool '%s' from config.yaml: %s",
			     p->name, store_errmsg(st));
			return e;
		}
	}
	return 0;
}

void pools_load(struct admit *a, struct store *st)
{
	struct store_pool *ps = NULL;
	size_t n = 0;
	if (store_pool_list(st, &ps, &n) < 0) {
		slog(LOG_ERROR, "pools: cannot list pools: %s", store_errmsg(st));
		return;
	}
	struct strmap listed;
	strmap_init(&listed);
	for (size_t i = 0; i < n; i++) {
		if (ps[i].slots < 0)
			continue; /* named by tasks, not defined */
		strmap_put(&listed, ps[i].name, (uint32_t)i, NULL);
		admit_pool_set(a, admit_pool(a, ps[i].name), ps[i].slots);
	}
	/* Pools the admitter knows that the store no longer has. */
	for (uint32_t k = 0; k < admit_pool_count(a); k++)
		if (!strmap_get(&listed, admit_pool_name(a, k), NULL) &&
		    admit_pool_slots(a, k) >= 0)
			admit_pool_set(a, k, -1);
	strmap_free(&listed);
	for (size_t i = 0; i < n; i++)
		store_pool_free(&ps[i]);
	free(ps);
}

int pools_host_disk(void *ctx, const char *path, struct admit_disk *ret)
{
	(void)ctx;
	struct statvfs v;
	struct stat st;
	if (statvfs(path, &v) < 0 || stat(path, &st) < 0)
		return -errno;
	ret->free = (uint64_t)v.f_bavail * v.f_frsize;
	ret->total = (uint64_t)v.f_blocks * v.f_frsize;
	ret->fsid = (uint64_t)st.st_dev + 1;
	return 0;
}
