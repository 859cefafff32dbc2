/* conflicts.c - runs that may not overlap (see conflicts.h). */
#include "engine/conflicts.h"

#include <string.h>

#include "base/util.h"

void conflicts_init(struct conflicts *c)
{
	memset(c, 0, sizeof(*c));
	strmap_init(&c->names);
}

void conflicts_free(struct conflicts *c)
{
	strmap_free(&c->names);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static struct conflict_name *slot(struct conflicts *c, const char *name)
{
	uint32_t k;
	if (!strmap_get(&c->names, name, &k)) {
		c->v = xrealloc_array(c->v, c->n + 1, sizeof(*c->v), &c->cap);
		c->v[c->n] = (struct conflict_name){0, 0, NULL};
		k = (uint32_t)c->n++;
		strmap_put(&c->names, name, k, NULL);
	}
	return &c->v[k];
}

static const struct conflict_name *find(const struct conflicts *c, const char *name)
{
	uint32_t k;
	return strmap_get(&c->names, name, &k) ? &c->v[k] : NULL;
}

void conflicts_add(struct conflicts *c, const struct dag *d)
{
	slot(c, d->id)->running++;
	for (uint32_t i = 0; i < d->n_conflicts; i++) {
		struct conflict_name *x = slot(c, d->conflicts[i]);
		x->listed++;
		if (!x->lister)
			x->lister = d->id;
	}
}

/* A running DAG other than `self` listing `name`: its id (or the name when the first lister
 * seen is self but the count says another lists it too), or NULL. */
static const char *listed_by_other(const struct conflicts *c, const char *name,
				   const struct dag *self)
{
	const struct conflict_name *x = find(c, name);
	if (!x || !x->listed)
		return NULL;
	if (strcmp(x->lister, self->id) != 0)
		return x->lister;
	const struct conflict_name *me = find(c, self->id);
	uint32_t own = 0; /* listings of `name` by self's own running runs */
	for (uint32_t i = 0; i < self->n_conflicts; i++)
		own += strcmp(self->conflicts[i], name) == 0;
	return x->listed > own * (me ? me->running : 0) ? name : NULL;
}

bool conflicts_block(const struct conflicts *c, const struct dag *d, const char **ret_with)
{
	for (uint32_t i = 0; i < d->n_conflicts; i++) {
		const char *name = d->conflicts[i];
		const struct conflict_name *x = find(c, name);
		if (strcmp(name, d->id) != 0 && x && x->running) {
			*ret_with = name;
			return true;
		}
		const char *other = listed_by_other(c, name, d);
		if (other) {
			*ret_with = other;
			return true;
		}
	}
	const char *other = listed_by_other(c, d->id, d);
	if (other) {
		*ret_with = other;
		return true;
	}
	return false;
}

static bool lists(const struct dag *d, const char *name)
{
	for (uint32_t i = 0; i < d->n_conflicts; i++)
		if (strcmp(d->conflicts[i], name) == 0)
			return true;
	return false;
}

bool conflicts_pair(const struct dag *a, const struct dag *b)
{
	if (strcmp(a->id, b->id) == 0)
		return false;
	if (lists(a, b->id) || lists(b, a->id))
		return true;
	for (uint32_t i = 0; i < a->n_conflicts; i++)
		if (lists(b, a->conflicts[i]))
			return true;
	return false;
}
