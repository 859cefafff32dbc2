/*
 * audit_req.c - the audit entry of a write request (see ops.h): every change made through
 * the CLI or the API lands in the audit log with who asked and from where (docs/users.md).
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/util.h"
#include "ops/identity.h"
#include "ops/ops.h"

static const char *action_of(enum ops_op op)
{
	switch (op) {
	case OPS_CANCEL:
		return "run.cancel";
	case OPS_CLEAR:
		return "task.clear";
	case OPS_MARK:
		return "task.mark";
	case OPS_PAUSE:
		return "dag.pause";
	case OPS_POOL_SET:
		return "pool.set";
	case OPS_POOL_DELETE:
		break;
	}
	return "pool.delete";
}

void ops_audit_request(struct store *st, int64_t now, const struct ops_actor *actor,
		       const struct ops_req *rq)
{
	if (rq->op == OPS_CLEAR && rq->dry_run)
		return; /* nothing changed */
	char *target = NULL;
	if (rq->task_id && rq->map_index >= 0)
		target = xasprintf("%s/%s[%d]", rq->run_id, rq->task_id, rq->map_index);
	else if (rq->task_id)
		target = xasprintf("%s/%s", rq->run_id, rq->task_id);
	else
		target = xstrdup(rq->run_id ? rq->run_id : rq->dag_id ? rq->dag_id : rq->pool ? rq->pool : "");
	json_t *detail = ops_req_json(rq);
	json_object_del(detail, "who");
	json_object_del(detail, "op");
	ops_audit_add(st, NULL, now, actor, action_of(rq->op), target, detail);
	json_decref(detail);
	free(target);
}

void ops_audit_trigger(struct store *st, int64_t now, const struct ops_actor *actor,
		       const char *dag_id, const char *run_id)
{
	json_t *detail = json_pack("{s:s}", "run_id", run_id);
	ops_audit_add(st, NULL, now, actor, "dag.trigger", dag_id, detail);
	json_decref(detail);
}
