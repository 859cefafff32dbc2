/*
 * run.c - one DAG run as a state machine (see run.h).
 *
 * Data: `tis` is a growable array of task instances; every task owns a list of its TI indexes
 * (one for an unmapped task; for a mapped task, the placeholder created at the start becomes
 * instance 0 when the list is known, and the others are appended). Per task, counters of how its
 * upstream TIs ended (success / failed / skipped) and how many upstream tasks are still open
 * let a trigger rule be decided in O(1) whenever one upstream TI ends.
 *
 * When a TI ends, a worklist carries the consequence downstream: each downstream task's
 * counters are updated and its rule evaluated; a task decided as skipped or upstream_failed ends
 * its own TIs and goes on the worklist in turn. No recursion, so a chain of 100,000 tasks is
 * fine. Ready TIs wait in a binary heap ordered by priority, then by the order they became
 * ready.
 */
#include "engine/run.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"
#include "dag/dag_time.h"
#include "base/duration.h"
#include "dag/params.h"
#include "dag/template.h"

struct task_rt {
	uint32_t *tis;
	uint32_t n_tis;
	size_t cap_tis;
	uint32_t n_done;     /* TIs of this task in a done state */
	uint32_t up_open;    /* upstream tasks not yet done */
	uint32_t up_success; /* upstream TIs that succeeded */
	uint32_t up_failed;  /* ... failed or upstream_failed */
	uint32_t up_skipped; /* ... skipped */
	bool decided;	     /* the trigger rule said run / skip / upstream_failed */
	bool expanded;	     /* mapped task: list known */
	bool done;	     /* every TI done */
};

struct run {
	const struct dag *dag;
	char *id;
	int64_t logical_date_ms;
	json_t *params;
	enum run_state state;
	char *message;
	int64_t created_at, started_at, ended_at;
	bool cancelling;
	bool timed_out;

	struct ti *tis;
	uint32_t n_tis;
	size_t cap_tis;
	struct task_rt *tasks;
	uint32_t tasks_done;
	uint32_t active; /* queued + running */

	uint32_t *heap; /* ready TIs */
	uint32_t n_heap;
	size_t cap_heap;
	uint32_t *retry; /* up_for_retry TIs, a min-heap by retry_at */
	uint32_t n_retry;
	size_t cap_retry;
	uint64_t seq;

	uint32_t *changed; /* TIs whose state changed since the last run_drain_changes() */
	uint32_t n_changed;
	size_t cap_changed;
	unsigned char *dirty; /* per TI: already in `changed` */
	size_t cap_dirty;

	uint32_t *work; /* worklist of tasks whose TIs changed to done */
	uint32_t n_work;
	size_t cap_work;
};

static const char *const ti_state_names[TI__COUNT] = {
    "none",   "scheduled",    "queued",		 "running", "success",
    "failed", "up_for_retry", "upstream_failed", "skipped",
};

static const char *const run_state_names[RUN__COUNT] = {
    "queued", "running", "success", "failed", "cancelled",
};

const char *ti_state_name(enum ti_state s)
{
	return (unsigned)s < TI__COUNT ? ti_state_names[s] : "?";
}

int ti_state_parse(const char *s, enum ti_state *ret)
{
	for (int i = 0; i < TI__COUNT; i++)
		if (strcmp(s, ti_state_names[i]) == 0) {
			*ret = (enum ti_state)i;
			return 0;
		}
	return -EINVAL;
}

const char *run_state_name(enum run_state s)
{
	return (unsigned)s < RUN__COUNT ? run_state_names[s] : "?";
}

void attempt_plan_free(struct attempt_plan *p)
{
	free(p->shell);
	if (p->argv)
		for (char **a = p->argv; *a; a++)
			free(*a);
	free(p->argv);
	if (p->env)
		for (char **e = p->env; *e; e++)
			free(*e);
	free(p->env);
	free(p->workdir);
	if (p->secrets)
		for (char **e = p->secrets; *e; e++)
			free(*e);
	free(p->secrets);
	memset(p, 0, sizeof(*p));
}

/* ---- ready heap -------------------------------------------------------------------------- */

static bool heap_less(const struct run *r, uint32_t a, uint32_t b)
{
	const struct ti *x = &r->tis[a], *y = &r->tis[b];
	const struct dag *d = r->dag;
	int64_t px = d->weight ? d->weight[x->task] : d->tasks[x->task].priority;
	int64_t py = d->weight ? d->weight[y->task] : d->tasks[y->task].priority;
	if (px != py)
		return px > py;
	return x->seq < y->seq;
}

static void heap_set(struct run *r, uint32_t pos, uint32_t ti)
{
	r->heap[pos] = ti;
	r->tis[ti].heap_pos = (int32_t)pos;
}

static void heap_push(struct run *r, uint32_t ti)
{
	r->heap = xrealloc_array(r->heap, r->n_heap + 1, sizeof(*r->heap), &r->cap_heap);
	uint32_t pos = r->n_heap++;
	while (pos > 0) {
		uint32_t parent = (pos - 1) / 2;
		if (!heap_less(r, ti, r->heap[parent]))
			break;
		heap_set(r, pos, r->heap[parent]);
		pos = parent;
	}
	heap_set(r, pos, ti);
}

/* Take the TI at `pos` out of the heap: the last one fills the hole, moving up or down. */
static void heap_remove(struct run *r, uint32_t pos)
{
	uint32_t gone = r->heap[pos];
	uint32_t last = r->heap[--r->n_heap];
	uint32_t n = r->n_heap;
	r->tis[gone].heap_pos = -1;
	if (pos == n)
		return;
	while (pos > 0 && heap_less(r, last, r->heap[(pos - 1) / 2])) {
		heap_set(r, pos, r->heap[(pos - 1) / 2]);
		pos = (pos - 1) / 2;
	}
	for (;;) {
		uint32_t l = 2 * pos + 1, best = pos;
		uint32_t cand = last;
		if (l < n && heap_less(r, r->heap[l], cand)) {
			best = l;
			cand = r->heap[l];
		}
		if (l + 1 < n && heap_less(r, r->heap[l + 1], cand))
			best = l + 1;
		if (best == pos)
			break;
		heap_set(r, pos, r->heap[best]);
		pos = best;
	}
	heap_set(r, pos, last);
}

static int64_t heap_pop(struct run *r)
{
	if (!r->n_heap)
		return -1;
	uint32_t top = r->heap[0];
	heap_remove(r, 0);
	return top;
}

/* ---- state changes ---------------------------------------------------------------------- */

static void mark_changed(struct run *r, uint32_t i)
{
	if (r->dirty[i])
		return;
	r->dirty[i] = 1;
	r->changed =
	    xrealloc_array(r->changed, r->n_changed + 1, sizeof(*r->changed), &r->cap_changed);
	r->changed[r->n_changed++] = i;
}

static void set_state(struct run *r, uint32_t i, enum ti_state st)
{
	if (r->tis[i].state != st) {
		r->tis[i].state = st;
		mark_changed(r, i);
	}
}

/* ---- retry heap: TIs waiting for their retry delay, earliest first ------------------------ */

static void retry_push(struct run *r, uint32_t ti)
{
	r->retry = xrealloc_array(r->retry, r->n_retry + 1, sizeof(*r->retry), &r->cap_retry);
	uint32_t pos = r->n_retry++;
	int64_t at = r->tis[ti].retry_at;
	while (pos > 0) {
		uint32_t parent = (pos - 1) / 2;
		if (r->tis[r->retry[parent]].retry_at <= at)
			break;
		r->retry[pos] = r->retry[parent];
		pos = parent;
	}
	r->retry[pos] = ti;
}

static void retry_pop(struct run *r)
{
	uint32_t last = r->retry[--r->n_retry];
	uint32_t pos = 0, n = r->n_retry;
	int64_t at = r->tis[last].retry_at;
	for (;;) {
		uint32_t l = 2 * pos + 1, best = pos;
		int64_t best_at = at;
		if (l < n && r->tis[r->retry[l]].retry_at < best_at) {
			best = l;
			best_at = r->tis[r->retry[l]].retry_at;
		}
		if (l + 1 < n && r->tis[r->retry[l + 1]].retry_at < best_at)
			best = l + 1;
		if (best == pos)
			break;
		r->retry[pos] = r->retry[best];
		pos = best;
	}
	if (n)
		r->retry[pos] = last;
}

/* ---- TIs --------------------------------------------------------------------------------- */

static uint32_t ti_add(struct run *r, uint32_t task, int32_t map_index)
{
	r->tis = xrealloc_array(r->tis, r->n_tis + 1, sizeof(*r->tis), &r->cap_tis);
	uint32_t i = r->n_tis++;
	struct ti *t = &r->tis[i];
	memset(t, 0, sizeof(*t));
	t->task = task;
	t->map_index = map_index;
	t->exit_code = -1;
	t->heap_pos = -1;
	r->dirty = xrealloc_array(r->dirty, r->n_tis, 1, &r->cap_dirty);
	r->dirty[i] = 0;
	mark_changed(r, i);
	struct task_rt *rt = &r->tasks[task];
	rt->tis = xrealloc_array(rt->tis, rt->n_tis + 1, sizeof(*rt->tis), &rt->cap_tis);
	rt->tis[rt->n_tis++] = i;
	return i;
}

static void ti_set_message(struct ti *t, char *msg)
{
	free(t->message);
	t->message = msg;
}

static void ti_schedule(struct run *r, uint32_t i)
{
	struct ti *t = &r->tis[i];
	set_state(r, i, TI_SCHEDULED);
	t->seq = r->seq++;
	heap_push(r, i);
}

static void work_push(struct run *r, uint32_t task)
{
	r->work = xrealloc_array(r->work, r->n_work + 1, sizeof(*r->work), &r->cap_work);
	r->work[r->n_work++] = task;
}

/* TI i reached a done state: count it, and queue its task for downstream propagation. */
static void ti_done(struct run *r, uint32_t i, enum ti_state st, int64_t now)
{
	struct ti *t = &r->tis[i];
	set_state(r, i, st);
	if (!t->ended_at)
		t->ended_at = now;
	struct task_rt *rt = &r->tasks[t->task];
	rt->n_done++;
	/* Tell each downstream task about this TI. */
	const struct dag *d = r->dag;
	for (uint32_t e = d->down_off[t->task]; e < d->down_off[t->task + 1]; e++) {
		struct task_rt *dt = &r->tasks[d->down[e]];
		if (st == TI_SUCCESS)
			dt->up_success++;
		else if (st == TI_SKIPPED)
			dt->up_skipped++;
		else
			dt->up_failed++;
	}
	work_push(r, t->task);
}

/* ---- rendering --------------------------------------------------------------------------- */

struct strv {
	char **v;
	size_t n, cap;
};

static void env_add(struct strv *e, char *kv)
{
	e->v = xrealloc_array(e->v, e->n + 2, sizeof(*e->v), &e->cap);
	e->v[e->n++] = kv;
	e->v[e->n] = NULL;
}

struct render_ctx {
	struct run *r;
	uint32_t ti;
	json_t *temps[16];
	size_t n_temps;
	const struct run_lookup *lk; /* NULL: no variables or connections */
	struct strv secrets;	     /* values to mask, each once */
};

static void add_secret(struct render_ctx *c, const char *v)
{
	if (!v || !*v)
		return;
	for (size_t k = 0; k < c->secrets.n; k++)
		if (strcmp(c->secrets.v[k], v) == 0)
			return;
	env_add(&c->secrets, xstrdup(v));
}

/* var.KEY and conn.NAME.FIELD through the caller's lookup. */
static int lookup_var_conn(struct render_ctx *c, const struct tref *ref, json_t **ret,
			   char **ret_msg)
{
	json_t *v = NULL;
	if (ref->kind == TREF_VAR) {
		bool secret = false;
		if (!c->lk || !c->lk->var) {
			*ret_msg = xasprintf("var.%s: variables are not available here", ref->name);
			return -ENOENT;
		}
		int e = c->lk->var(c->lk->ctx, ref->name, &v, &secret, ret_msg);
		if (e < 0)
			return e;
		if (secret)
			add_secret(c, json_string_value(v));
		*ret = v;
		return 0;
	}
	if (!c->lk || !c->lk->conn) {
		*ret_msg = xasprintf("conn.%s: connections are not available here", ref->name);
		return -ENOENT;
	}
	int e = c->lk->conn(c->lk->ctx, ref->name, &v, ret_msg);
	if (e < 0)
		return e;
	const char *pw = json_string_value(json_object_get(v, "password"));
	if (pw && *pw) {
		add_secret(c, pw);
		add_secret(c, json_string_value(json_object_get(v, "uri")));
	}
	/* path[0] is the field (checked when parsed); extra takes a path inside it. */
	json_t *x = json_object_get(v, ref->path[0]);
	if (ref->n_path > 1) {
		char *why = NULL;
		x = template_json_path(x, ref->path + 1, ref->n_path - 1, &why);
		if (!x) {
			*ret_msg =
			    xasprintf("conn.%s.extra: %s", ref->name, why ? why : "not found");
			free(why);
			return -ENOENT;
		}
	}
	*ret = x ? x : json_null();
	return 0;
}

static json_t *keep(struct render_ctx *c, json_t *v)
{
	if (c->n_temps == ARRAY_SIZE(c->temps)) {
		json_decref(c->temps[0]);
		memmove(c->temps, c->temps + 1, (c->n_temps - 1) * sizeof(*c->temps));
		c->n_temps--;
	}
	c->temps[c->n_temps++] = v;
	return v;
}

static int render_lookup(void *ctx, const struct tref *ref, json_t **ret, char **ret_msg)
{
	struct render_ctx *c = ctx;
	struct run *r = c->r;
	const struct ti *t = &r->tis[c->ti];
	char buf[64];
	json_t *v = NULL;
	switch (ref->kind) {
	case TREF_PARAM:
		v = json_object_get(r->params, ref->name);
		if (!v) {
			*ret_msg = xasprintf("param '%s' has no value", ref->name);
			return -EINVAL;
		}
		*ret = v;
		return 0;
	case TREF_RUN_ID:
		*ret = keep(c, json_string(r->id));
		return 0;
	case TREF_RUN_LOGICAL_DATE:
		*ret = keep(c, json_string(time_format_utc(r->logical_date_ms, buf, sizeof(buf))));
		return 0;
	case TREF_DAG_ID:
		*ret = keep(c, json_string(r->dag->id));
		return 0;
	case TREF_TASK_ID:
		*ret = keep(c, json_string(r->dag->tasks[t->task].id));
		return 0;
	case TREF_MAP_INDEX:
		*ret = keep(c, json_integer(t->map_index));
		return 0;
	case TREF_ITEM:
		v = t->item;
		if (!v) {
			*ret_msg = xasprintf("item: this task instance has no item");
			return -EINVAL;
		}
		break;
	case TREF_VAR:
	case TREF_CONN:
		return lookup_var_conn(c, ref, ret, ret_msg);
	case TREF_OUTPUT: {
		int32_t u = dag_task_index(r->dag, ref->name);
		v = u >= 0 ? run_task_output(r, (uint32_t)u) : NULL;
		if (!v) {
			*ret_msg =
			    xasprintf("outputs.%s: task '%s' produced no output (write JSON to "
				      "$GUST_OUTPUT)",
				      ref->name, ref->name);
			return -ENOENT;
		}
		keep(c, v);
		break;
	}
	}
	if (ref->n_path) {
		char *why = NULL;
		json_t *x = template_json_path(v, ref->path, ref->n_path, &why);
		if (!x) {
			*ret_msg = xasprintf(
			    "%s%s%s: %s", ref->kind == TREF_ITEM ? "item" : "outputs.",
			    ref->kind == TREF_ITEM ? "" : ref->name, "", why ? why : "not found");
			free(why);
			return -ENOENT;
		}
		v = x;
	}
	*ret = v;
	return 0;
}

static void render_ctx_done(struct render_ctx *c)
{
	for (size_t i = 0; i < c->n_temps; i++)
		json_decref(c->temps[i]);
	c->n_temps = 0;
}

/* A JSON value as an environment variable: strings as they are, the rest as compact JSON. */
static char *json_env_text(json_t *v)
{
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	return s ? s : xstrdup("");
}

static char *env_key(const char *prefix, const char *name)
{
	char *s = xasprintf("%s%s", prefix, name);
	for (char *p = s + strlen(prefix); *p; p++) {
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
		else if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			*p = '_';
	}
	return s;
}

static int render_plan(struct run *r, uint32_t i, const struct run_lookup *lk,
		       struct attempt_plan *p, char **ret_msg)
{
	const struct dag *d = r->dag;
	const struct ti *t = &r->tis[i];
	const struct dag_task *task = &d->tasks[t->task];
	struct render_ctx c = {.r = r, .ti = i, .lk = lk};
	struct buf b = BUF_INIT;
	int rc = 0;
	memset(p, 0, sizeof(*p));
	p->timeout_ms = task->timeout_ms;
	p->kill_grace_ms = task->kill_grace_ms;
	p->keep_leftovers = task->leftovers == LEFTOVERS_KEEP;

	if (task->run) {
		if ((rc = template_render(task->run, TEMPLATE_SHELL, render_lookup, &c, &b,
					  ret_msg)) < 0)
			goto out;
		p->shell = buf_detach(&b);
	} else if (task->argc) {
		p->argv = xcalloc(task->argc + 1, sizeof(char *));
		for (uint32_t k = 0; k < task->argc; k++) {
			buf_reset(&b);
			if ((rc = template_render(task->argv[k], TEMPLATE_TEXT, render_lookup, &c,
						  &b, ret_msg)) < 0)
				goto out;
			if (memchr(buf_str(&b), '\0', b.len)) {
				*ret_msg = xasprintf("argument %u contains a NUL byte", k + 1);
				rc = -EINVAL;
				goto out;
			}
			p->argv[k] = xstrdup(buf_str(&b));
		}
	}
	if (task->workdir) {
		buf_reset(&b);
		if ((rc = template_render(task->workdir, TEMPLATE_TEXT, render_lookup, &c, &b,
					  ret_msg)) < 0)
			goto out;
		p->workdir = xstrdup(buf_str(&b));
	}

	struct strv env = {0};
	char when[40];
	env_add(&env, xasprintf("GUST_DAG_ID=%s", d->id));
	env_add(&env, xasprintf("GUST_RUN_ID=%s", r->id));
	env_add(&env, xasprintf("GUST_LOGICAL_DATE=%s",
				time_format_utc(r->logical_date_ms, when, sizeof(when))));
	env_add(&env, xasprintf("GUST_TASK_ID=%s", task->id));
	env_add(&env, xasprintf("GUST_TRY_NUMBER=%d", t->try_number));
	if (t->map_index >= 0)
		env_add(&env, xasprintf("GUST_MAP_INDEX=%d", t->map_index));
	else
		env_add(&env, xstrdup("GUST_MAP_INDEX="));
	if (t->item) {
		_cleanup_free_ char *v = json_env_text(t->item);
		env_add(&env, xasprintf("GUST_ITEM=%s", v));
	}
	const char *key;
	json_t *val;
	json_object_foreach(r->params, key, val)
	{
		_cleanup_free_ char *k = param_env_name(key);
		_cleanup_free_ char *v = json_env_text(val);
		env_add(&env, xasprintf("%s=%s", k, v));
	}
	for (uint32_t e = d->up_off[t->task]; e < d->up_off[t->task + 1]; e++) {
		json_t *out = run_task_output(r, d->up[e]);
		if (!out)
			continue;
		_cleanup_free_ char *k = env_key("GUST_UPSTREAM_", d->tasks[d->up[e]].id);
		_cleanup_free_ char *v = json_env_text(out);
		env_add(&env, xasprintf("%s=%s", k, v));
		json_decref(out);
	}
	for (uint32_t k = 0; k < task->n_env; k++) {
		buf_reset(&b);
		if ((rc = template_render(task->env[k].value, TEMPLATE_TEXT, render_lookup, &c, &b,
					  ret_msg)) < 0) {
			p->env = env.v;
			goto out;
		}
		env_add(&env, xasprintf("%s=%s", task->env[k].name, buf_str(&b)));
	}
	p->env = env.v;
out:
	buf_free(&b);
	render_ctx_done(&c);
	p->secrets = c.secrets.v;
	if (rc < 0)
		attempt_plan_free(p);
	return rc;
}

/* ---- deciding ---------------------------------------------------------------------------- */

enum verdict { V_WAIT, V_RUN, V_SKIP, V_UPSTREAM_FAILED };

static enum verdict evaluate(const struct run *r, uint32_t task)
{
	const struct dag *d = r->dag;
	const struct task_rt *rt = &r->tasks[task];
	uint32_t n_up = d->up_off[task + 1] - d->up_off[task];
	if (n_up == 0)
		return V_RUN;
	bool all_done = rt->up_open == 0;
	uint32_t s = rt->up_success, f = rt->up_failed, k = rt->up_skipped;
	switch (d->tasks[task].trigger_rule) {
	case TR_ALL_SUCCESS:
		if (f)
			return V_UPSTREAM_FAILED;
		if (k)
			return V_SKIP;
		return all_done ? V_RUN : V_WAIT;
	case TR_ALL_FAILED:
		if (s || k)
			return V_SKIP;
		return all_done ? V_RUN : V_WAIT;
	case TR_ALL_DONE:
		return all_done ? V_RUN : V_WAIT;
	case TR_ONE_SUCCESS:
		if (s)
			return V_RUN;
		if (!all_done)
			return V_WAIT;
		return f ? V_UPSTREAM_FAILED : V_SKIP;
	case TR_ONE_FAILED:
		if (f)
			return V_RUN;
		return all_done ? V_SKIP : V_WAIT;
	case TR_NONE_FAILED:
		if (f)
			return V_UPSTREAM_FAILED;
		return all_done ? V_RUN : V_WAIT;
	case TR_NONE_SKIPPED:
		if (k)
			return V_SKIP;
		return all_done ? V_RUN : V_WAIT;
	case TR_ALWAYS:
		return V_RUN;
	default:
		return V_WAIT;
	}
}

static void end_task_tis(struct run *r, uint32_t task, enum ti_state st, const char *why,
			 int64_t now)
{
	struct task_rt *rt = &r->tasks[task];
	for (uint32_t k = 0; k < rt->n_tis; k++) {
		uint32_t i = rt->tis[k];
		if (ti_state_done(r->tis[i].state))
			continue;
		ti_set_message(&r->tis[i], xstrdup(why));
		ti_done(r, i, st, now);
	}
}

static void fail_task_now(struct run *r, uint32_t task, char *why, int64_t now)
{
	struct task_rt *rt = &r->tasks[task];
	uint32_t i = rt->tis[0];
	ti_set_message(&r->tis[i], why);
	ti_done(r, i, TI_FAILED, now);
}

/* The trigger rule said run: schedule the TI, or expand a mapped task first. */
static void start_task(struct run *r, uint32_t task, int64_t now)
{
	const struct dag_task *dt = &r->dag->tasks[task];
	struct task_rt *rt = &r->tasks[task];
	uint32_t first = rt->tis[0];
	if (dt->map_kind == MAP_NONE) {
		ti_schedule(r, first);
		return;
	}
	if (rt->expanded) {
		/* Cleared after it was expanded: run the same instances again. */
		for (uint32_t k = 0; k < rt->n_tis; k++)
			if (r->tis[rt->tis[k]].state == TI_NONE)
				ti_schedule(r, rt->tis[k]);
		return;
	}
	json_t *list = NULL;
	if (dt->map_kind == MAP_LITERAL) {
		list = json_incref(dt->map_items);
	} else {
		struct render_ctx c = {.r = r, .ti = first};
		char *msg = NULL;
		if (template_eval_whole(dt->map_expr, render_lookup, &c, &list, &msg) < 0) {
			render_ctx_done(&c);
			fail_task_now(r, task, xasprintf("map: %s", msg ? msg : "cannot evaluate"),
				      now);
			free(msg);
			return;
		}
		render_ctx_done(&c);
	}
	rt->expanded = true;
	if (!json_is_array(list)) {
		_cleanup_free_ char *shown = json_dumps(list, JSON_ENCODE_ANY | JSON_COMPACT);
		fail_task_now(r, task,
			      xasprintf("map: %s is not a list (got %.60s)", dt->map_expr->src,
					shown ? shown : "?"),
			      now);
		json_decref(list);
		return;
	}
	size_t n = json_array_size(list);
	if (n == 0) {
		json_decref(list);
		struct ti *t = &r->tis[first];
		ti_set_message(t, xstrdup("map over an empty list: nothing to do"));
		ti_done(r, first, TI_SKIPPED, now);
		return;
	}
	if (n > RUN_MAX_MAP) {
		fail_task_now(
		    r, task,
		    xasprintf("map: the list has %zu items; the limit is %d", n, RUN_MAX_MAP), now);
		json_decref(list);
		return;
	}
	r->tis[first].map_index = 0;
	r->tis[first].item = json_incref(json_array_get(list, 0));
	ti_schedule(r, first);
	for (size_t k = 1; k < n; k++) {
		uint32_t i = ti_add(r, task, (int32_t)k);
		r->tis[i].item = json_incref(json_array_get(list, k));
		ti_schedule(r, i);
	}
	json_decref(list);
}

static void decide(struct run *r, uint32_t task, int64_t now)
{
	struct task_rt *rt = &r->tasks[task];
	if (rt->decided || r->cancelling)
		return;
	enum verdict v = evaluate(r, task);
	if (v == V_WAIT)
		return;
	rt->decided = true;
	const char *rule = trigger_rule_name(r->dag->tasks[task].trigger_rule);
	char why[160];
	switch (v) {
	case V_RUN:
		start_task(r, task, now);
		break;
	case V_SKIP:
		snprintf(why, sizeof(why), "skipped: trigger rule %s not met by upstream states",
			 rule);
		end_task_tis(r, task, TI_SKIPPED, why, now);
		break;
	case V_UPSTREAM_FAILED:
		snprintf(why, sizeof(why), "an upstream task failed (trigger rule %s)", rule);
		end_task_tis(r, task, TI_UPSTREAM_FAILED, why, now);
		break;
	case V_WAIT:
		break;
	}
}

/* How a run whose every task is done ended. */
static enum run_state run_outcome(const struct run *r)
{
	if (r->cancelling && !r->timed_out)
		return RUN_CANCELLED;
	/* Airflow's rule: the run failed if a leaf task failed (or could not run because an
	 * upstream failed); a failure handled downstream by a trigger rule does not fail it. */
	const struct dag *d = r->dag;
	bool failed = r->timed_out;
	for (uint32_t t = 0; t < d->n_tasks && !failed; t++) {
		if (d->down_off[t + 1] != d->down_off[t])
			continue;
		const struct task_rt *rt = &r->tasks[t];
		for (uint32_t k = 0; k < rt->n_tis; k++) {
			enum ti_state s = r->tis[rt->tis[k]].state;
			if (s == TI_FAILED || s == TI_UPSTREAM_FAILED)
				failed = true;
		}
	}
	return failed ? RUN_FAILED : RUN_SUCCESS;
}

static void finish_run_if_done(struct run *r, int64_t now)
{
	if (r->tasks_done < r->dag->n_tasks || r->state >= RUN_SUCCESS)
		return;
	r->ended_at = now;
	r->state = run_outcome(r);
}

/* Carry finished TIs downstream until nothing changes. */
static void propagate(struct run *r, int64_t now)
{
	const struct dag *d = r->dag;
	while (r->n_work) {
		uint32_t task = r->work[--r->n_work];
		struct task_rt *rt = &r->tasks[task];
		bool newly_done = false;
		if (!rt->done && rt->n_done == rt->n_tis &&
		    (d->tasks[task].map_kind == MAP_NONE || rt->expanded ||
		     ti_state_done(r->tis[rt->tis[0]].state))) {
			rt->done = true;
			r->tasks_done++;
			newly_done = true;
		}
		for (uint32_t e = d->down_off[task]; e < d->down_off[task + 1]; e++) {
			uint32_t down = d->down[e];
			if (newly_done)
				r->tasks[down].up_open--;
			decide(r, down, now);
		}
	}
	finish_run_if_done(r, now);
}

/* ---- public API -------------------------------------------------------------------------- */

struct run *run_new(const struct dag *d, const struct run_config *cfg, int64_t now)
{
	struct run *r = xcalloc(1, sizeof(*r));
	r->dag = d;
	r->id = xstrdup(cfg->run_id);
	r->logical_date_ms = cfg->logical_date_ms;
	r->params = cfg->params ? json_incref(cfg->params) : json_object();
	r->state = RUN_RUNNING;
	r->created_at = r->started_at = now;
	r->tasks = xcalloc(d->n_tasks ? d->n_tasks : 1, sizeof(*r->tasks));
	for (uint32_t t = 0; t < d->n_tasks; t++) {
		r->tasks[t].up_open = d->up_off[t + 1] - d->up_off[t];
		ti_add(r, t, -1);
	}
	for (uint32_t k = 0; k < d->n_tasks; k++)
		decide(r, d->topo[k], now);
	propagate(r, now);
	return r;
}

static int cmp_saved(const void *a, const void *b)
{
	const struct ti_saved *x = *(const struct ti_saved *const *)a;
	const struct ti_saved *y = *(const struct ti_saved *const *)b;
	return x->map_index < y->map_index ? -1 : x->map_index > y->map_index;
}

struct run *run_restore(const struct dag *d, const struct run_config *cfg, int64_t started_at,
			const struct ti_saved *saved, size_t n_saved, int64_t now)
{
	struct run *r = xcalloc(1, sizeof(*r));
	r->dag = d;
	r->id = xstrdup(cfg->run_id);
	r->logical_date_ms = cfg->logical_date_ms;
	r->params = cfg->params ? json_incref(cfg->params) : json_object();
	r->state = RUN_RUNNING;
	r->created_at = r->started_at = started_at;
	r->tasks = xcalloc(d->n_tasks ? d->n_tasks : 1, sizeof(*r->tasks));

	/* Group the saved rows by task, instances in index order. */
	const struct ti_saved **by = xcalloc(n_saved ? n_saved : 1, sizeof(*by));
	uint32_t *count = xcalloc(d->n_tasks ? d->n_tasks : 1, sizeof(uint32_t));
	uint32_t *first = xcalloc(d->n_tasks + 1, sizeof(uint32_t));
	int32_t *task_of = xcalloc(n_saved ? n_saved : 1, sizeof(int32_t));
	for (size_t k = 0; k < n_saved; k++) {
		task_of[k] = dag_task_index(d, saved[k].task_id);
		if (task_of[k] >= 0)
			count[task_of[k]]++;
	}
	for (uint32_t t = 0; t < d->n_tasks; t++)
		first[t + 1] = first[t] + count[t];
	memset(count, 0, d->n_tasks * sizeof(uint32_t));
	for (size_t k = 0; k < n_saved; k++)
		if (task_of[k] >= 0)
			by[first[task_of[k]] + count[task_of[k]]++] = &saved[k];

	for (uint32_t t = 0; t < d->n_tasks; t++) {
		struct task_rt *rt = &r->tasks[t];
		rt->up_open = d->up_off[t + 1] - d->up_off[t];
		uint32_t n = first[t + 1] - first[t];
		qsort(by + first[t], n, sizeof(*by), cmp_saved);
		if (n == 0) {
			ti_add(r, t, -1);
			continue;
		}
		/* A mapped task's placeholder (-1) may still be stored beside its instances
		 * (0..n-1), which replaced it: then it is not an instance. */
		bool has_instances = d->tasks[t].map_kind != MAP_NONE && n > 0 &&
				     by[first[t] + n - 1]->map_index >= 0;
		for (uint32_t k = 0; k < n; k++) {
			const struct ti_saved *sv = by[first[t] + k];
			if (d->tasks[t].map_kind == MAP_NONE && k > 0)
				break; /* an unmapped task has one instance */
			if (has_instances && sv->map_index < 0)
				continue;
			uint32_t i =
			    ti_add(r, t, d->tasks[t].map_kind == MAP_NONE ? -1 : sv->map_index);
			struct ti *ti = &r->tis[i];
			ti->state = sv->state;
			ti->try_number = sv->try_number;
			ti->try_base = sv->try_base;
			ti->queued_at = sv->queued_at;
			ti->started_at = sv->started_at;
			ti->ended_at = sv->ended_at;
			ti->retry_at = sv->retry_at;
			ti->exit_code = sv->exit_code;
			ti->signal = sv->signal;
			ti->message = sv->message ? xstrdup(sv->message) : NULL;
			ti->output = sv->output ? json_incref(sv->output) : NULL;
			ti->item = sv->item ? json_incref(sv->item) : NULL;
			ti->progress_done = sv->progress_done;
			ti->progress_total = sv->progress_total;
			ti->progress_msg = sv->progress_msg ? xstrdup(sv->progress_msg) : NULL;
			if (sv->map_index >= 0)
				rt->expanded = true;
		}
	}
	free(by);
	free(count);
	free(first);
	free(task_of);

	/* Counters, queues and flags from the states. A task is decided unless a TI of it still
	 * waits (none): deciding moves every TI of a task on, but some instances of a mapped task
	 * that waits for its upstreams may have been cleared or marked alone, and those must not
	 * make the others look decided (they would never start). */
	for (uint32_t t = 0; t < d->n_tasks; t++)
		r->tasks[t].decided = true;
	for (uint32_t i = 0; i < r->n_tis; i++) {
		struct ti *t = &r->tis[i];
		struct task_rt *rt = &r->tasks[t->task];
		if (t->state == TI_NONE)
			rt->decided = false;
		switch (t->state) {
		case TI_SCHEDULED:
			t->seq = r->seq++;
			heap_push(r, i);
			break;
		case TI_UP_FOR_RETRY:
			retry_push(r, i);
			break;
		case TI_QUEUED:
		case TI_RUNNING:
			r->active++;
			break;
		default:
			break;
		}
		if (ti_state_done(t->state)) {
			rt->n_done++;
			for (uint32_t e = d->down_off[t->task]; e < d->down_off[t->task + 1]; e++) {
				struct task_rt *dt = &r->tasks[d->down[e]];
				if (t->state == TI_SUCCESS)
					dt->up_success++;
				else if (t->state == TI_SKIPPED)
					dt->up_skipped++;
				else
					dt->up_failed++;
			}
		}
	}
	for (uint32_t t = 0; t < d->n_tasks; t++) {
		struct task_rt *rt = &r->tasks[t];
		if (rt->n_done == rt->n_tis && (d->tasks[t].map_kind == MAP_NONE || rt->expanded ||
						ti_state_done(r->tis[rt->tis[0]].state))) {
			rt->done = true;
			r->tasks_done++;
			for (uint32_t e = d->down_off[t]; e < d->down_off[t + 1]; e++)
				r->tasks[d->down[e]].up_open--;
		}
	}
	/* What was loaded is stored already: start the change log empty. */
	for (uint32_t k = 0; k < r->n_changed; k++)
		r->dirty[r->changed[k]] = 0;
	r->n_changed = 0;
	for (uint32_t k = 0; k < d->n_tasks; k++)
		decide(r, d->topo[k], now);
	propagate(r, now);
	return r;
}

void run_free(struct run *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->n_tis; i++) {
		free(r->tis[i].message);
		free(r->tis[i].progress_msg);
		json_decref(r->tis[i].output);
		json_decref(r->tis[i].item);
	}
	for (uint32_t t = 0; t < r->dag->n_tasks; t++)
		free(r->tasks[t].tis);
	free(r->tasks);
	free(r->tis);
	free(r->heap);
	free(r->retry);
	free(r->work);
	free(r->changed);
	free(r->dirty);
	free(r->id);
	free(r->message);
	json_decref(r->params);
	free(r);
}

const struct dag *run_dag(const struct run *r)
{
	return r->dag;
}

const char *run_id(const struct run *r)
{
	return r->id;
}

enum run_state run_get_state(const struct run *r)
{
	return r->state;
}

uint32_t run_ti_count(const struct run *r)
{
	return r->n_tis;
}

const struct ti *run_ti(const struct run *r, uint32_t i)
{
	return &r->tis[i];
}

uint32_t run_active_count(const struct run *r)
{
	return r->active;
}

uint32_t run_ready_count(const struct run *r)
{
	return r->n_heap;
}

const char *run_message(const struct run *r)
{
	return r->message;
}

int64_t run_logical_date(const struct run *r)
{
	return r->logical_date_ms;
}

const json_t *run_params(const struct run *r)
{
	return r->params;
}

void run_times(const struct run *r, int64_t *created, int64_t *started, int64_t *ended)
{
	*created = r->created_at;
	*started = r->started_at;
	*ended = r->ended_at;
}

bool run_is_cancelling(const struct run *r)
{
	return r->cancelling;
}

char *run_ti_name(const struct run *r, uint32_t i, char *buf, size_t size)
{
	const struct ti *t = &r->tis[i];
	const char *id = r->dag->tasks[t->task].id;
	if (t->map_index >= 0)
		snprintf(buf, size, "%s[%d]", id, t->map_index);
	else
		snprintf(buf, size, "%s", id);
	return buf;
}

int64_t run_pop_ready(struct run *r)
{
	if (r->cancelling)
		return -1;
	return heap_pop(r);
}

int run_begin_attempt(struct run *r, uint32_t i, int64_t now, struct attempt_plan *ret)
{
	return run_begin_attempt_with(r, i, now, NULL, ret);
}

int run_begin_attempt_with(struct run *r, uint32_t i, int64_t now, const struct run_lookup *lk,
			   struct attempt_plan *ret)
{
	struct ti *t = &r->tis[i];
	t->try_number++;
	set_state(r, i, TI_QUEUED);
	t->queued_at = now;
	t->started_at = 0;
	t->ended_at = 0;
	t->exit_code = -1;
	t->signal = 0;
	free(t->progress_msg);
	t->progress_msg = NULL;
	t->progress_done = t->progress_total = 0;
	ti_set_message(t, NULL);
	const struct dag_task *task = &r->dag->tasks[t->task];
	if (!task->run && !task->argc) {
		/* Nothing to run: succeeds at once, without a process. */
		memset(ret, 0, sizeof(*ret));
		t->started_at = now;
		ti_set_message(t, xstrdup("nothing to run"));
		ti_done(r, i, TI_SUCCESS, now);
		propagate(r, now);
		return 1;
	}
	char *msg = NULL;
	if (render_plan(r, i, lk, ret, &msg) < 0) {
		ti_set_message(t, xasprintf("cannot render the command: %s", msg ? msg : "?"));
		free(msg);
		ti_done(r, i, TI_FAILED, now);
		propagate(r, now);
		return -EINVAL;
	}
	r->active++;
	return 0;
}

void run_fail_unstarted(struct run *r, uint32_t i, int64_t now, const char *why)
{
	struct ti *t = &r->tis[i];
	if (t->state != TI_SCHEDULED || t->heap_pos >= 0)
		return; /* not waiting, or back in the ready heap: it is decided when it comes up */
	ti_set_message(t, xstrdup(why));
	ti_done(r, i, TI_FAILED, now);
	propagate(r, now);
}

void run_requeue(struct run *r, uint32_t i, int64_t now)
{
	struct ti *t = &r->tis[i];
	if (t->state != TI_QUEUED && t->state != TI_RUNNING)
		return;
	if (r->active)
		r->active--;
	if (t->try_number > 0)
		t->try_number--;
	t->queued_at = 0;
	ti_set_message(t, xstrdup("relaunched: the previous launch never started"));
	if (r->cancelling) {
		ti_done(r, i, TI_SKIPPED, now);
		propagate(r, now);
		return;
	}
	ti_schedule(r, i);
}

void run_on_started(struct run *r, uint32_t i, int64_t now)
{
	struct ti *t = &r->tis[i];
	if (t->state == TI_QUEUED) {
		set_state(r, i, TI_RUNNING);
		t->started_at = now;
	}
}

void run_on_progress(struct run *r, uint32_t i, int done, int total, const char *msg)
{
	struct ti *t = &r->tis[i];
	t->progress_done = done;
	t->progress_total = total;
	free(t->progress_msg);
	t->progress_msg = msg ? xstrdup(msg) : NULL;
	mark_changed(r, i);
}

size_t run_drain_changes(struct run *r, uint32_t *out, size_t max)
{
	size_t n = r->n_changed < max ? r->n_changed : max;
	for (size_t k = 0; k < n; k++) {
		out[k] = r->changed[k];
		r->dirty[out[k]] = 0;
	}
	memmove(r->changed, r->changed + n, (r->n_changed - n) * sizeof(*r->changed));
	r->n_changed -= (uint32_t)n;
	return n;
}

static bool retryable(const struct dag_task *task, const struct ti *t,
		      const struct attempt_outcome *o)
{
	if (t->try_number - t->try_base > task->retries)
		return false;
	if (o->status == AS_EXEC_FAILED || o->status == AS_CANCELLED)
		return false;
	if (o->status == AS_FAILED && o->exit_code >= 0 && task->n_retry_on_exit_codes) {
		for (uint32_t k = 0; k < task->n_retry_on_exit_codes; k++)
			if (task->retry_on_exit_codes[k] == o->exit_code)
				return true;
		return false;
	}
	return true;
}

static int64_t retry_delay(const struct dag_task *task, int32_t try_number)
{
	int64_t delay = task->retry_delay_ms;
	if (task->retry_backoff == BACKOFF_EXPONENTIAL) {
		for (int32_t k = 1; k < try_number && delay < INT64_MAX / 4; k++)
			delay *= 2;
		int64_t cap =
		    task->max_retry_delay_ms ? task->max_retry_delay_ms : 24LL * 3600 * 1000;
		if (delay > cap)
			delay = cap;
	} else if (task->max_retry_delay_ms && delay > task->max_retry_delay_ms) {
		delay = task->max_retry_delay_ms;
	}
	return delay;
}

void run_on_finished(struct run *r, uint32_t i, struct attempt_outcome *o, int64_t now)
{
	struct ti *t = &r->tis[i];
	const struct dag_task *task = &r->dag->tasks[t->task];
	if (t->state != TI_QUEUED && t->state != TI_RUNNING)
		return; /* a duplicate report */
	if (r->active)
		r->active--;
	if (!t->started_at)
		t->started_at = o->started_at ? o->started_at : now;
	t->exit_code = o->exit_code;
	t->signal = o->signal;
	t->last_status = o->status;
	t->ended_at = now;
	json_decref(t->output);
	t->output = o->output;
	o->output = NULL;
	ti_set_message(t, o->message ? xstrdup(o->message) : NULL);
	if (o->status == AS_SUCCESS) {
		ti_done(r, i, TI_SUCCESS, now);
	} else if (!r->cancelling && retryable(task, t, o)) {
		int64_t delay = retry_delay(task, t->try_number);
		char d1[32];
		set_state(r, i, TI_UP_FOR_RETRY);
		t->retry_at = now + delay;
		retry_push(r, i);
		ti_set_message(t,
			       xasprintf("%s; try %d of %d in %s",
					 o->message ? o->message : attempt_status_name(o->status),
					 t->try_number + 1, task->retries + 1,
					 duration_format(delay, d1, sizeof(d1))));
		if (delay == 0)
			run_on_time(r, now);
	} else {
		ti_done(r, i, TI_FAILED, now);
	}
	propagate(r, now);
}

bool run_on_time(struct run *r, int64_t now)
{
	bool fired = false;
	const int64_t limit = r->dag->dagrun_timeout_ms;
	if (limit && !r->cancelling && r->state == RUN_RUNNING && now >= r->started_at + limit) {
		char d1[32], why[64];
		r->timed_out = true;
		snprintf(why, sizeof(why), "dagrun_timeout %s reached",
			 duration_format(limit, d1, sizeof(d1)));
		run_cancel(r, now, why);
		fired = true;
	}
	if (r->cancelling)
		return fired;
	while (r->n_retry && r->tis[r->retry[0]].retry_at <= now) {
		uint32_t i = r->retry[0];
		retry_pop(r);
		ti_schedule(r, i);
	}
	return fired;
}

int64_t run_next_wakeup(const struct run *r)
{
	int64_t next = INT64_MAX;
	if (r->state != RUN_RUNNING)
		return next;
	if (r->dag->dagrun_timeout_ms && !r->cancelling)
		next = r->started_at + r->dag->dagrun_timeout_ms;
	if (r->cancelling)
		return next;
	if (r->n_retry && r->tis[r->retry[0]].retry_at < next)
		next = r->tis[r->retry[0]].retry_at;
	return next;
}

void run_cancel(struct run *r, int64_t now, const char *why)
{
	if (r->cancelling)
		return;
	r->cancelling = true;
	free(r->message);
	r->message = xstrdup(why ? why : "cancelled");
	/* Empty the ready queue, and end everything that has not started. Running attempts end
	 * through run_on_finished once their processes are gone. */
	while (heap_pop(r) >= 0)
		;
	r->n_retry = 0; /* every up_for_retry TI ends below */
	for (uint32_t i = 0; i < r->n_tis; i++) {
		struct ti *t = &r->tis[i];
		if (t->state == TI_NONE || t->state == TI_SCHEDULED ||
		    t->state == TI_UP_FOR_RETRY) {
			ti_set_message(t, xasprintf("not run: %s", r->message));
			ti_done(r, i, t->state == TI_UP_FOR_RETRY ? TI_FAILED : TI_SKIPPED, now);
		}
	}
	/* Mark undecided tasks decided so that propagation does not schedule them. */
	for (uint32_t t = 0; t < r->dag->n_tasks; t++)
		r->tasks[t].decided = true;
	propagate(r, now);
}

/* Undo what a done TI counted downstream (the reverse of ti_done). */
static void ti_undone(struct run *r, uint32_t i)
{
	struct ti *t = &r->tis[i];
	const struct dag *d = r->dag;
	struct task_rt *rt = &r->tasks[t->task];
	rt->n_done--;
	for (uint32_t e = d->down_off[t->task]; e < d->down_off[t->task + 1]; e++) {
		struct task_rt *dt = &r->tasks[d->down[e]];
		if (t->state == TI_SUCCESS)
			dt->up_success--;
		else if (t->state == TI_SKIPPED)
			dt->up_skipped--;
		else
			dt->up_failed--;
	}
}

/* Is TI `i` of a task being cleared (or marked) part of it? All of them, or the one asked for
 * of the target task. */
static bool clear_takes(const struct run *r, uint32_t task, uint32_t i, uint32_t target,
			int32_t map_index)
{
	return task != target || map_index < 0 || r->tis[i].map_index == map_index;
}

/* Has `task` an instance with this map index? Only an expanded mapped task has any >= 0. */
static bool task_has_instance(const struct run *r, uint32_t task, int32_t map_index)
{
	const struct task_rt *rt = &r->tasks[task];
	for (uint32_t j = 0; j < rt->n_tis; j++)
		if (r->tis[rt->tis[j]].map_index == map_index)
			return true;
	return false;
}

/* Is a TI of `task` that an operation on `target` takes queued or running? Only the caller
 * can stop an attempt, so such an operation changes nothing (-EBUSY). */
static bool task_busy(const struct run *r, uint32_t task, uint32_t target, int32_t map_index)
{
	const struct task_rt *rt = &r->tasks[task];
	for (uint32_t j = 0; j < rt->n_tis; j++) {
		enum ti_state st = r->tis[rt->tis[j]].state;
		if (clear_takes(r, task, rt->tis[j], target, map_index) &&
		    (st == TI_QUEUED || st == TI_RUNNING))
			return true;
	}
	return false;
}

/* Drop retry-heap entries of TIs that are no longer up_for_retry, and rebuild the heap. */
static void retry_rebuild(struct run *r)
{
	uint32_t keep = 0;
	for (uint32_t k = 0; k < r->n_retry; k++)
		if (r->tis[r->retry[k]].state == TI_UP_FOR_RETRY)
			r->retry[keep++] = r->retry[k];
	uint32_t *tmp = xcalloc(keep ? keep : 1, sizeof(uint32_t));
	if (keep)
		memcpy(tmp, r->retry, keep * sizeof(uint32_t));
	r->n_retry = 0;
	for (uint32_t k = 0; k < keep; k++)
		retry_push(r, tmp[k]);
	free(tmp);
}

int run_clear(struct run *r, uint32_t task, int32_t map_index, bool downstream, int64_t now)
{
	const struct dag *d = r->dag;
	if (map_index >= 0 && !task_has_instance(r, task, map_index))
		return -ENOENT;
	/* The tasks to clear: `task`, and with downstream everything below it (BFS). */
	unsigned char *sel = xcalloc(d->n_tasks, 1);
	uint32_t *queue = xcalloc(d->n_tasks, sizeof(uint32_t));
	uint32_t head = 0, tail = 0;
	sel[task] = 1;
	queue[tail++] = task;
	while (downstream && head < tail) {
		uint32_t x = queue[head++];
		for (uint32_t e = d->down_off[x]; e < d->down_off[x + 1]; e++)
			if (!sel[d->down[e]]) {
				sel[d->down[e]] = 1;
				queue[tail++] = d->down[e];
			}
	}
	for (uint32_t k = 0; k < tail; k++) {
		if (task_busy(r, queue[k], task, map_index)) {
			free(sel);
			free(queue);
			return -EBUSY;
		}
	}
	/* Reset, in topological order so counters are undone before anything is decided. */
	for (uint32_t k = 0; k < d->n_tasks; k++) {
		uint32_t t = d->topo[k];
		if (!sel[t])
			continue;
		struct task_rt *rt = &r->tasks[t];
		if (rt->done) {
			rt->done = false;
			r->tasks_done--;
			for (uint32_t e = d->down_off[t]; e < d->down_off[t + 1]; e++)
				r->tasks[d->down[e]].up_open++;
		}
		for (uint32_t j = 0; j < rt->n_tis; j++) {
			uint32_t i = rt->tis[j];
			struct ti *ti = &r->tis[i];
			if (!clear_takes(r, t, i, task, map_index))
				continue; /* another instance of the mapped task asked for */
			if (ti->heap_pos >= 0)
				continue; /* already scheduled: leave it */
			if (ti_state_done(ti->state))
				ti_undone(r, i);
			ti->try_base = ti->try_number;
			ti->ended_at = 0;
			ti->retry_at = 0;
			ti_set_message(ti, xstrdup("cleared: to run again"));
			json_decref(ti->output);
			ti->output = NULL;
			set_state(r, i, TI_NONE);
		}
		rt->decided = false;
	}
	retry_rebuild(r); /* cleared TIs wait for no retry */
	if (r->state != RUN_RUNNING) {
		r->state = RUN_RUNNING;
		r->ended_at = 0;
		r->cancelling = false;
		r->timed_out = false;
		free(r->message);
		r->message = NULL;
	}
	for (uint32_t k = 0; k < d->n_tasks; k++)
		if (sel[d->topo[k]])
			decide(r, d->topo[k], now);
	propagate(r, now);
	free(sel);
	free(queue);
	return 0;
}

int run_mark(struct run *r, uint32_t task, int32_t map_index, bool success, int64_t now,
	     const char *why)
{
	const enum ti_state st = success ? TI_SUCCESS : TI_FAILED;
	const char *msg = why ? why : success ? "marked success" : "marked failed";
	struct task_rt *rt = &r->tasks[task];
	if (map_index >= 0 && !task_has_instance(r, task, map_index))
		return -ENOENT;
	if (task_busy(r, task, task, map_index))
		return -EBUSY;
	uint32_t n_marked = 0;
	bool was_retrying = false;
	for (uint32_t j = 0; j < rt->n_tis; j++) {
		uint32_t i = rt->tis[j];
		struct ti *t = &r->tis[i];
		if (!clear_takes(r, task, i, task, map_index) || t->state == st)
			continue;
		/* Whatever it waited for (its upstreams, its turn, a retry) it waits no more. */
		if (t->heap_pos >= 0)
			heap_remove(r, (uint32_t)t->heap_pos);
		if (t->state == TI_UP_FOR_RETRY)
			was_retrying = true;
		if (ti_state_done(t->state))
			ti_undone(r, i); /* recounted below as what it is now; it ended then */
		else
			t->ended_at = 0; /* it ends now (an earlier try's end is not its end) */
		t->retry_at = 0;
		ti_set_message(t, xstrdup(msg));
		ti_done(r, i, st, now);
		n_marked++;
	}
	if (!n_marked)
		return 0;
	/* A task still waiting for its upstreams must not start once they are done: with every
	 * TI ended by hand, its trigger rule has nothing left to decide. A mapped task with some
	 * instances still waiting is left to its rule, which starts (or ends) only those. */
	if (rt->n_done == rt->n_tis)
		rt->decided = true;
	if (was_retrying)
		retry_rebuild(r);
	/* Downstream reacts as to a real end, but only tasks still undecided do: one already
	 * decided keeps its state until it is cleared. So a finished run stays finished (every
	 * TI in it is done, and stays so); only its verdict is taken again, as at its end. */
	bool finished = r->state >= RUN_SUCCESS;
	propagate(r, now);
	if (finished)
		r->state = run_outcome(r);
	return 0;
}

json_t *run_task_output(const struct run *r, uint32_t task)
{
	const struct task_rt *rt = &r->tasks[task];
	if (r->dag->tasks[task].map_kind == MAP_NONE) {
		json_t *o = r->tis[rt->tis[0]].output;
		return o ? json_incref(o) : NULL;
	}
	if (!rt->expanded)
		return NULL;
	json_t *a = json_array();
	for (uint32_t k = 0; k < rt->n_tis; k++) {
		json_t *o = r->tis[rt->tis[k]].output;
		json_array_append_new(a, o ? json_incref(o) : json_null());
	}
	return a;
}

