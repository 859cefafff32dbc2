/*
 * pools.h - the server's side of admission control that touches the outside world: pools
 * between config.yaml, the store and the admitter, and the host's capacity and disks.
 */
#ifndef GUST_SERVER_POOLS_H
#define GUST_SERVER_POOLS_H

#include <stdint.h>

#include "engine/admit.h"
#include "server/config.h"
#include "store/store.h"

/* Write the pools config.yaml declares into the store (they win over `gust pools set` at each
 * start). 0, or a negative errno with the reason logged. */
int pools_apply_config(const struct config *c, struct store *st, int64_t now);

/* Make the admitter's pools what the store says: sizes set, pools deleted made missing. */
void pools_load(struct admit *a, struct store *st);

/* The admit_host disk callback: statvfs and stat of `path` (ctx unused). */
int pools_host_disk(void *ctx, const char *path, struct admit_disk *ret);

#endif
