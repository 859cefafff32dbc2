/*
 * vars.c - the server's snapshot of variables and connections (ops/vars.h).
 *
 * Attempts read variables from memory, never from the store: the snapshot holds every
 * variable and connection decrypted, plus the GUST_VAR_* / GUST_CONN_* of the server's own
 * environment (which win). It is reloaded only when the store's vars.version counter moved:
 * every set or delete bumps it in the same transaction, whoever writes (the CLI on this
 * machine, the API's connections). The loop already asks store_changed() (PRAGMA
 * data_version: one read, true after any other connection's commit) every 250 ms before it
 * applies queued commands, and asks the counter only then; a trigger through the API, which
 * pokes the loop without waiting for that look, asks the counter too. So a change made
 * before a trigger is always seen by the attempts of that trigger's run, and an idle store
 * costs nothing.
 */
#include "server/server_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "auth/secretbox.h"
#include "base/util.h"
#include "ops/vars.h"
#include "server/log.h"

extern char **environ;

int server_vars_open(struct server *s)
{
	char *path = xasprintf("%s/%s", s->home, AUTH_KEY_FILE);
	char *msg = NULL;
	int r = auth_key_open(path, &s->key, &msg);
	free(path);
	if (r < 0) {
		fprintf(stderr, "gust: %s\n", msg ? msg : "cannot open the master key");
		free(msg);
		return -1;
	}
	struct ops_err err = {0};
	if (ops_vars_snapshot_load(s->st, s->key, environ, &s->vars, &err) < 0) {
		fprintf(stderr, "gust: cannot load the variables: %s\n", err.msg);
		ops_err_free(&err);
		return -1;
	}
	ops_vars_lookup(s->vars, &s->lookup);
	return 0;
}

void server_vars_refresh(struct server *s)
{
	int64_t v;
	if (store_vars_version(s->st, &v) < 0 || v == ops_vars_snapshot_version(s->vars))
		return;
	struct ops_vars_snapshot *fresh = NULL;
	struct ops_err err = {0};
	if (ops_vars_snapshot_load(s->st, s->key, environ, &fresh, &err) < 0) {
		slog(LOG_WARN, "variables: cannot reload them: %s; the previous ones stay",
		     err.msg);
		ops_err_free(&err);
		return;
	}
	ops_vars_snapshot_free(s->vars);
	s->vars = fresh;
	ops_vars_lookup(s->vars, &s->lookup);
}

void server_vars_close(struct server *s)
{
	ops_vars_snapshot_free(s->vars);
	s->vars = NULL;
	auth_key_free(s->key);
	s->key = NULL;
}
