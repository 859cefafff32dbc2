/*
 * dag_compile.c - depends -> CSR adjacency, Kahn's topological order, cycle reports, and the
 * checks of template references that need the graph.
 *
 * Kahn's algorithm with a FIFO seeded in file order gives a stable order in O(V + E). Tasks left
 * with a non-zero indegree lie on or below a cycle; every such task has a remaining upstream, so
 * walking "up" through remaining tasks must revisit one: that loop is a cycle, reported once,
 * in the direction the work flows (a -> b means b depends on a).
 */
#include "dag/dag_compile.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"

struct compiler {
	struct dag *d;
	struct diag_list *diags;
	const char *text;
	size_t len;
	/* BFS scratch for ancestor queries */
	uint32_t *queue;
	uint32_t *stamp;
	uint32_t epoch;
};

static const char *closest_task(const struct dag *d, const char *word)
{
	const char *names[4096];
	size_t n = 0;
	for (uint32_t i = 0; i < d->n_tasks && n < ARRAY_SIZE(names); i++)
		names[n++] = d->tasks[i].id;
	return closest_word(word, names, n);
}

static void resolve_depends(struct compiler *c, uint32_t **ret_dep_idx)
{
	struct dag *d = c->d;
	uint32_t total = 0;
	for (uint32_t i = 0; i < d->n_tasks; i++)
		total += d->tasks[i].n_depends;
	d->up_off = arena_calloc(&d->arena, d->n_tasks + 1, sizeof(uint32_t));
	d->up = arena_calloc(&d->arena, total ? total : 1, sizeof(uint32_t));
	uint32_t k = 0;
	for (uint32_t i = 0; i < d->n_tasks; i++) {
		struct dag_task *t = &d->tasks[i];
		d->up_off[i] = k;
		uint32_t first = k;
		for (uint32_t j = 0; j < t->n_depends; j++) {
			const char *dep = t->depends[j];
			struct srcpos p = t->depends_pos ? t->depends_pos[j] : t->pos;
			int32_t u = dag_task_index(d, dep);
			if (u < 0) {
				const char *hint = closest_task(d, dep);
				if (hint)
					diag_add(c->diags, p.line, p.col,
						 "task '%s' depends on '%s', which does not exist "
						 "(did you mean '%s'?)",
						 t->id, dep, hint);
				else
					diag_add(c->diags, p.line, p.col,
						 "task '%s' depends on '%s', which does not exist",
						 t->id, dep);
				continue;
			}
			if ((uint32_t)u == i) {
				diag_add(c->diags, p.line, p.col, "task '%s' depends on itself", t->id);
				continue;
			}
			bool dup = false;
			for (uint32_t x = first; x < k; x++)
				dup |= d->up[x] == (uint32_t)u;
			if (dup) {
				diag_add(c->diags, p.line, p.col,
					 "task '%s' lists '%s' in depends twice", t->id, dep);
				continue;
			}
			d->up[k++] = (uint32_t)u;
		}
	}
	d->up_off[d->n_tasks] = k;
	(void)ret_dep_idx;
}

static void build_down(struct dag *d)
{
	uint32_t n = d->n_tasks, e = d->up_off[n];
	d->down_off = arena_calloc(&d->arena, n + 1, sizeof(uint32_t));
	d->down = arena_calloc(&d->arena, e ? e : 1, sizeof(uint32_t));
	d->indegree = arena_calloc(&d->arena, n ? n : 1, sizeof(uint32_t));
	for (uint32_t i = 0; i < n; i++) {
		d->indegree[i] = d->up_off[i + 1] - d->up_off[i];
		for (uint32_t x = d->up_off[i]; x < d->up_off[i + 1]; x++)
			d->down_off[d->up[x] + 1]++;
	}
	for (uint32_t i = 0; i < n; i++)
		d->down_off[i + 1] += d->down_off[i];
	uint32_t *fill = xcalloc(n ? n : 1, sizeof(uint32_t));
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t x = d->up_off[i]; x < d->up_off[i + 1]; x++) {
			uint32_t u = d->up[x];
			d->down[d->down_off[u] + fill[u]++] = i;
		}
	free(fill);
}

/* Position of the depends entry of task `t` that names task `u`. */
static struct srcpos depends_pos_of(const struct dag *d, uint32_t t, uint32_t u)
{
	const struct dag_task *task = &d->tasks[t];
	for (uint32_t j = 0; j < task->n_depends; j++)
		if (strcmp(task->depends[j], d->tasks[u].id) == 0)
			return task->depends_pos ? task->depends_pos[j] : task->pos;
	return task->pos;
}

static void report_cycles(struct compiler *c, uint32_t *remaining_indeg)
{
	struct dag *d = c->d;
	uint32_t n = d->n_tasks;
	/* state: 0 unvisited, 1 on the current walk, 2 done */
	unsigned char *state = xcalloc(n, 1);
	uint32_t *walk = xcalloc(n, sizeof(uint32_t));
	uint32_t *walk_pos = xcalloc(n, sizeof(uint32_t));
	int reported = 0;
	for (uint32_t s = 0; s < n && reported < 10; s++) {
		if (!remaining_indeg[s] || state[s])
			continue;
		uint32_t len = 0, x = s;
		while (state[x] == 0) {
			state[x] = 1;
			walk_pos[x] = len;
			walk[len++] = x;
			uint32_t next = UINT32_MAX;
			for (uint32_t e = d->up_off[x]; e < d->up_off[x + 1]; e++)
				if (remaining_indeg[d->up[e]]) {
					next = d->up[e];
					break;
				}
			if (next == UINT32_MAX)
				break; /* cannot happen: remaining tasks have remaining upstreams */
			x = next;
		}
		if (state[x] == 1) {
			/* walk[walk_pos[x] .. len) is the cycle, in upstream direction. Print it in
			 * flow direction, starting at its first task in file order. */
			uint32_t from = walk_pos[x], clen = len - from;
			uint32_t start = from;
			for (uint32_t i = from; i < len; i++)
				if (walk[i] < walk[start])
					start = i;
			struct buf msg = BUF_INIT;
			buf_puts(&msg, "dependency cycle: ");
			/* flow direction = reverse of the upstream walk */
			for (uint32_t k = 0; k <= clen; k++) {
				uint32_t i = from + (start - from + clen - (k % clen)) % clen;
				buf_printf(&msg, "%s%s", k ? " -> " : "", d->tasks[walk[i]].id);
			}
			/* Point at the depends entry of the first task naming its predecessor. */
			uint32_t t = walk[start];
			uint32_t pred = walk[from + (start - from + 1) % clen];
			struct srcpos p = depends_pos_of(d, t, pred);
			diag_add(c->diags, p.line, p.col, "%s (remove one of these depends)",
				 buf_str(&msg));
			buf_free(&msg);
			reported++;
		}
		for (uint32_t i = 0; i < len; i++)
			state[walk[i]] = 2;
	}
	free(state);
	free(walk);
	free(walk_pos);
}

static bool topo_sort(struct compiler *c)
{
	struct dag *d = c->d;
	uint32_t n = d->n_tasks;
	uint32_t *indeg = xcalloc(n, sizeof(uint32_t));
	memcpy(indeg, d->indegree, n * sizeof(uint32_t));
	d->topo = arena_calloc(&d->arena, n, sizeof(uint32_t));
	uint32_t head = 0, tail = 0;
	for (uint32_t i = 0; i < n; i++)
		if (!indeg[i])
			d->topo[tail++] = i;
	while (head < tail) {
		uint32_t x = d->topo[head++];
		for (uint32_t e = d->down_off[x]; e < d->down_off[x + 1]; e++)
			if (--indeg[d->down[e]] == 0)
				d->topo[tail++] = d->down[e];
	}
	bool ok = tail == n;
	if (!ok)
		report_cycles(c, indeg);
	free(indeg);
	return ok;
}

/* Is `anc` a (transitive) upstream of `t`? BFS with an epoch stamp: no clearing between
 * queries. */
static bool is_upstream(struct compiler *c, uint32_t anc, uint32_t t)
{
	struct dag *d = c->d;
	for (uint32_t e = d->up_off[t]; e < d->up_off[t + 1]; e++)
		if (d->up[e] == anc)
			return true;
	if (!c->queue) {
		c->queue = xcalloc(d->n_tasks, sizeof(uint32_t));
		c->stamp = xcalloc(d->n_tasks, sizeof(uint32_t));
	}
	uint32_t ep = ++c->epoch;
	uint32_t head = 0, tail = 0;
	c->queue[tail++] = t;
	c->stamp[t] = ep;
	while (head < tail) {
		uint32_t x = c->queue[head++];
		for (uint32_t e = d->up_off[x]; e < d->up_off[x + 1]; e++) {
			uint32_t u = d->up[e];
			if (u == anc)
				return true;
			if (c->stamp[u] != ep) {
				c->stamp[u] = ep;
				c->queue[tail++] = u;
			}
		}
	}
	return false;
}

static void ref_error(struct compiler *c, const struct tmpl_site *s, const struct tref *r,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void ref_error(struct compiler *c, const struct tmpl_site *s, const struct tref *r,
		      const char *fmt, ...)
{
	uint32_t line, col;
	ytree_scalar_pos(c->text, c->len, s->node, r->offset, &line, &col);
	va_list ap;
	va_start(ap, fmt);
	diag_vadd(c->diags, line, col, fmt, ap);
	va_end(ap);
}

static void check_site(struct compiler *c, const struct tmpl_site *s)
{
	struct dag *d = c->d;
	const struct dag_task *task = s->task >= 0 ? &d->tasks[s->task] : NULL;
	for (uint32_t i = 0; i < s->t->n_segs; i++) {
		const struct tref *r = s->t->segs[i].ref;
		if (!r)
			continue;
		switch (r->kind) {
		case TREF_PARAM: {
			const struct dag_param *p = dag_param_find(d, r->name);
			if (!p) {
				const char *names[256];
				size_t n = 0;
				for (uint32_t k = 0; k < d->n_params && n < 256; k++)
					names[n++] = d->params[k].name;
				const char *hint = closest_word(r->name, names, n);
				if (hint)
					ref_error(c, s, r, "unknown param '%s' (did you mean '%s'?)",
						  r->name, hint);
				else
					ref_error(c, s, r,
						  "unknown param '%s': declare it under 'params:'",
						  r->name);
			} else if (s->use == TMPL_MAP && p->type != PT_ARRAY) {
				ref_error(c, s, r, "'map' needs a list, but param '%s' is %s",
					  r->name, param_type_name(p->type));
			}
			break;
		}
		case TREF_OUTPUT: {
			if (!task) {
				ref_error(c, s, r,
					  "outputs.%s cannot be used in defaults: put it in the "
					  "task that needs it",
					  r->name);
				break;
			}
			int32_t u = dag_task_index(d, r->name);
			if (u < 0) {
				const char *hint = closest_task(d, r->name);
				if (hint)
					ref_error(c, s, r,
						  "outputs.%s: no such task (did you mean '%s'?)",
						  r->name, hint);
				else
					ref_error(c, s, r, "outputs.%s: no such task", r->name);
			} else if ((uint32_t)u == (uint32_t)s->task) {
				ref_error(c, s, r, "outputs.%s: a task cannot read its own output",
					  r->name);
			} else if (!is_upstream(c, (uint32_t)u, (uint32_t)s->task)) {
				ref_error(c, s, r,
					  "outputs.%s: task '%s' is not upstream of this task (add it "
					  "to depends)",
					  r->name, r->name);
			}
			break;
		}
		case TREF_ITEM:
		case TREF_MAP_INDEX:
			if (s->use == TMPL_MAP)
				ref_error(c, s, r, "'map' cannot refer to its own item");
			else if (!task)
				ref_error(c, s, r, "item and map.index cannot be used in defaults");
			else if (task->map_kind == MAP_NONE)
				ref_error(c, s, r, "item and map.index exist only in a task with 'map'");
			break;
		case TREF_VAR:
		case TREF_CONN:
			if (s->use == TMPL_MAP)
				ref_error(
				    c, s, r,
				    "'map' cannot use variables or connections (use a param or "
				    "an upstream output)");
			break;
		case TREF_TASK_ID:
		case TREF_DAG_ID:
		case TREF_RUN_ID:
		case TREF_RUN_LOGICAL_DATE:
			break;
		}
	}
}

void dag_compile(struct dag *d, const struct ynode *tasks_node, const struct tmpl_site *sites,
		 size_t n_sites, struct diag_list *diags, const char *text, size_t len)
{
	(void)tasks_node;
	struct compiler c = {.d = d, .diags = diags, .text = text, .len = len};
	for (uint32_t i = 0; i < d->n_tasks; i++)
		strmap_put(&d->task_map, d->tasks[i].id, i, NULL);
	resolve_depends(&c, NULL);
	build_down(d);
	topo_sort(&c);
	for (size_t i = 0; i < n_sites; i++)
		check_site(&c, &sites[i]);
	free(c.queue);
	free(c.stamp);
}
