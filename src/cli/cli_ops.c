/*
 * cli_ops.c - a write request carried out for a CLI command (see cli.h): by the running
 * server, or here when none runs. Either way ops_apply() decides (ADR 0007).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "base/util.h"
#include "cli/cli.h"
#include "ops/identity.h"

#define ANSWER_WAIT_MS 30000

/* A shared hold on HOME/server.lock, so that no server starts while this process changes
 * the store; -1 if a server holds it (it runs). */
static int hold_server_lock(const char *home)
{
	char *path = xasprintf("%s/server.lock", home);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644); /* as the server makes it */
	free(path);
	if (fd < 0)
		return -2; /* cannot even create it: no server can run here either */
	if (flock(fd, LOCK_SH | LOCK_NB) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait for the server's answer to command `id`: each commit another process makes writes to
 * the store's log, so inotify on it wakes this at once; the timeout only covers a log that
 * is reset under the watch. */
static int await_answer(const char *home, struct store *st, int64_t id, struct ops_answer *ans,
			struct ops_err *err)
{
	char *wal = xasprintf("%s/gust.db-wal", home);
	int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ino >= 0)
		inotify_add_watch(ino, wal, IN_MODIFY);
	free(wal);
	int64_t deadline = mono_ms() + ANSWER_WAIT_MS;
	int r = 1;
	while (r == 1) {
		char *result = NULL;
		int e = store_command_result(st, id, &result);
		if (e == 0) {
			r = ops_result_parse(result, ans, err);
			free(result);
			break;
		}
		if (e != -EAGAIN) {
			r = ops_fail(err, OPS_INTERNAL, "cannot read the server's answer: %s",
				     store_errmsg(st));
			break;
		}
		if (!cli_server_running(home)) {
			/* It stopped before it got to it: the next server applies it. */
			ans->outcome = OPS_QUEUED;
			r = 0;
			break;
		}
		int64_t left = deadline - mono_ms();
		if (left <= 0) {
			r = ops_fail(err, OPS_INTERNAL,
				     "the server has not answered within %d s; the request stays "
				     "queued and is applied when the server gets to it",
				     ANSWER_WAIT_MS / 1000);
			break;
		}
		struct pollfd p = {.fd = ino, .events = POLLIN};
		if (poll(&p, ino >= 0 ? 1 : 0, left < 250 ? (int)left : 250) > 0) {
			char buf[4096];
			while (read(ino, buf, sizeof(buf)) > 0)
				;
		}
	}
	if (ino >= 0)
		close(ino);
	return r;
}

int cli_ops_write(const char *home, struct store *st, const struct ops_req *rq,
		  struct ops_answer *ans, struct ops_err *err)
{
	memset(ans, 0, sizeof(*ans));
	struct ops_ctx c = {.st = st, .now = cli_now_ms(), .dags = &ops_dags_from_store};
	const struct ops_actor local = {.user = NULL, .via = "cli"};
	int fd = hold_server_lock(home);
	if (fd != -1) {
		int r = ops_apply(&c, NULL, rq, ans, err);
		if (fd >= 0)
			close(fd); /* and the lock with it */
		if (r == 0)
			ops_audit_request(st, c.now, &local, rq);
		return r;
	}
	json_t *o = ops_req_json(rq);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	int64_t id = 0;
	int r = store_command_add(st, ops_op_name(rq->op), text, c.now, &id);
	free(text);
	if (r < 0)
		return ops_fail(err, OPS_INTERNAL, "cannot hand the request to the server: %s",
				store_errmsg(st));
	r = await_answer(home, st, id, ans, err);
	if (r == 0)
		ops_audit_request(st, c.now, &local, rq);
	return r;
}

int cli_ops_failed(struct ops_err *err)
{
	fprintf(stderr, "gust: %s\n", err->msg);
	int rc = ops_exit_code(err->kind);
	ops_err_free(err);
	return rc;
}

void cli_audit(struct store *st, const char *action, const char *target)
{
	const struct ops_actor local = {.user = NULL, .via = "cli"};
	ops_audit_add(st, NULL, cli_now_ms(), &local, action, target, NULL);
}
