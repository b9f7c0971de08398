/*-------------------------------------------------------------------------
 *
 * fanout_rel.c
 *	  Pure fan-out, lower layer: the relation table of a fan-out (one FoRel
 *	  per relation oid seen, open addressing on the oid, with what it
 *	  owns) and the routing clock.  Used by routing, row filters and
 *	  projections, calls none of them.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "fanout/fanout.h"
#include "fanout/fanout_int.h"

/*
 * The routing clock.  A client is marked with the tick of the last change
 * delivered to it, so a change matching several of its subscriptions (or,
 * for a truncate, several relations) is queued once.  A per-fan-out counter
 * would not do: a client moving from a private fan-out to the live one
 * would carry a mark the live counter can reach later, on a change meant
 * for it.
 */
static uint64_t route_clock = 0;

uint64_t
fo_route_clock(void)
{
	return route_clock;
}

uint64_t
fo_route_clock_tick(void)
{
	return ++route_clock;
}

void
fo_rel_clear(FoRel *r)
{
	free(r->schema);
	free(r->table);
	fo_msg_unref(r->rel_msg);
	free(r->match);
	free(r->key_cols);
	for (int i = 0; i < r->nviews; i++)
		fo_rel_view_clear(&r->views[i]);
	free(r->views);
}

void
fo_rel_view_clear(FoRelView *v)
{
	fanout_column_view_free(&v->view);
	fo_msg_unref(v->rel_msg);
	v->rel_msg = NULL;
	v->rel_version = 0;
}

FoRel *
fo_rel_lookup(Fanout *fo, uint32_t relid, bool create)
{
	uint32_t	mask = fo->rel_cap - 1;
	uint32_t	i = (relid * 2654435761u) & mask;

	if (relid == 0)
		return NULL;
	while (fo->rels[i].relid != 0)
	{
		if (fo->rels[i].relid == relid)
			return &fo->rels[i];
		i = (i + 1) & mask;
	}
	if (!create)
		return NULL;
	if ((fo->nrels + 1) * 2 > fo->rel_cap)
	{
		/* grow and rehash */
		FoRel	   *old = fo->rels;
		uint32_t	oldcap = fo->rel_cap;
		FoRel	   *n = calloc(oldcap * 2, sizeof(FoRel));
		uint32_t	k;

		if (n == NULL)
			return NULL;
		fo->rels = n;
		fo->rel_cap = oldcap * 2;
		mask = fo->rel_cap - 1;
		for (k = 0; k < oldcap; k++)
		{
			uint32_t	j;

			if (old[k].relid == 0)
				continue;
			j = (old[k].relid * 2654435761u) & mask;
			while (n[j].relid != 0)
				j = (j + 1) & mask;
			n[j] = old[k];
		}
		free(old);
		return fo_rel_lookup(fo, relid, true);
	}
	fo->nrels++;
	memset(&fo->rels[i], 0, sizeof(FoRel));
	fo->rels[i].relid = relid;
	return &fo->rels[i];
}

FoRel *
fo_rel_find(Fanout *fo, uint32_t relid)
{
	return fo_rel_lookup(fo, relid, false);
}
