/*
 * config.h - the server's settings: $GUST_HOME/config.yaml (optional), then command-line flags.
 *
 *   parallelism: 32        # attempts running at once on this machine
 *   retention: 30d         # runs older than this are deleted with their logs
 *   dags: /srv/dags        # the DAG folder (default: $GUST_DAGS, else ./dags)
 *   pools:                 # pools written to the store at every server start
 *     indexers: 6          #   NAME: SLOTS, or
 *     warehouse: {slots: 3, description: "the warehouse's connections"}
 *   host: {cpu: 8, memory: 16G}   # capacity for declared resources (default: this machine)
 *   priority_ageing: 30s   # each this much waiting counts as one more point of priority
 *   reserve_after: 10m     # a task that does not fit for this long gets what it needs reserved
 *   durability: normal     # or full: every commit is synced to the disk (store/store.h)
 *   parse_timeout: 30s     # the DAG processor's time per file (server/dagproc.h)
 *   parse_memory: 2G       # and its memory
 *   listen: 127.0.0.1:8080 # the HTTP API (docs/api.md); --listen and $GUST_LISTEN win
 *   tls: {cert: cert.pem, key: key.pem}   # HTTPS instead of HTTP
 *   health_stall: 30s      # GET /api/v1/health answers 503 when the loop has not turned for this
 *   metrics: {public: true}   # GET /metrics without credentials (default: a viewer's token)
 *
 * Unknown keys and bad values are errors with FILE:LINE:COL, like DAG files.
 */
#ifndef GUST_SERVER_CONFIG_H
#define GUST_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "store/store.h"

struct config_pool {
	char *name;
	int32_t slots;
	char *description; /* NULL: none */
};

struct config {
	int parallelism;
	int64_t retention_ms;
	char *dags_dir;		   /* NULL: default */
	struct config_pool *pools; /* in file order */
	size_t n_pools;
	int64_t host_cpu_milli;		  /* 0: the machine's online cores x 1000 */
	uint64_t host_memory;		  /* 0: the machine's physical memory */
	int64_t priority_ageing_ms;	  /* default 30 s */
	int64_t reserve_after_ms;	  /* default 10 min */
	enum store_durability durability; /* default NORMAL; never RECORDED */
	int64_t parse_timeout_ms;	  /* default 30 s */
	uint64_t parse_memory;		  /* default 2 GiB */
	char *listen;			  /* NULL: default (127.0.0.1:8080) */
	char *tls_cert, *tls_key;	  /* both or neither */
	int64_t health_stall_ms;	  /* default 30 s */
	bool metrics_public;		  /* GET /metrics needs no credentials; default false */
};

void config_defaults(struct config *c);
/* Read `path` if it exists (a missing file is fine). 0, or -EINVAL with problems in diags. */
int config_load(struct config *c, const char *path, struct diag_list *diags);
/* The file's bytes (malloc'd) up to its end or its first NUL (included): 1; a missing or empty
 * file: 0 with *ret_text NULL; or a negative errno. */
int config_read(const char *path, char **ret_text, size_t *ret_len);
/* The same from memory (`diags` names the file). */
int config_load_buffer(struct config *c, const char *text, size_t len, struct diag_list *diags);
/* The same from a parsed tree (the DAG processor's, server/dagproc.h); NULL is an empty file. */
struct ynode;
int config_load_tree(struct config *c, const struct ynode *root, struct diag_list *diags);
void config_free(struct config *c);
/* The capacity declared resources are admitted against: the config's `host` values, else this
 * machine's (online cores x 1000, physical memory). Either pointer may be NULL. */
void config_host_capacity(const struct config *c, int64_t *cpu_milli, uint64_t *memory);

#endif
