/*-------------------------------------------------------------------------
 *
 * fanout_project.c
 *	  Pure fan-out, middle layer: column privileges in routing
 *	  (docs/SECURITY.md, "Authorization").
 *
 * A match whose grant names a column set (FoGrant.columns, see
 * fanout_columns.h) gets the relation's messages projected onto that set:
 * the relation message, and every insert, update and delete.  The work is
 * shared by every client with the same set, whatever its role:
 *	- per relation and column set, a view of the relation's current
 *	  version and its projected relation message (FoRel.views), built
 *	  when a change of a new version first meets that set;
 *	- per routed message and column set, one projected message
 *	  (Fanout.projected), a refcounted FoMsg queued to each such client,
 *	  dropped at the end of the message's routing.
 * A truncate is not projected (it names relations, not columns); the
 * relation messages that precede it are.  When a set hides none of a
 * relation's columns, its clients share the unprojected messages.
 *
 * Row filters do not evaluate projections: fanout_filter.c compiles a
 * filter with the hidden columns unnameable and evaluates it on the
 * change as routed, parsed once for all subscriptions; a filter that can
 * only read visible columns gives the same answer on both.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "fanout/fanout.h"
#include "fanout/fanout_int.h"

/* c cannot be given r's changes through its columns: close it. */
static void
refuse(Fanout *fo, FoClient *c)
{
	fo_cull(fo, c, CP_ERR_INTERNAL,
			"out of memory applying the role's column privileges");
}

/*
 * r's view for a column set, built for r's current version; or NULL (c
 * is to be refused).
 */
static FoRelView *
rel_view(Fanout *fo, FoClient *c, FoRel *r, uint32_t columns)
{
	FoRelView  *e = NULL;
	char	   *text;
	size_t		len;

	for (int i = 0; i < r->nviews && e == NULL; i++)
		if (r->views[i].columns == columns)
			e = &r->views[i];
	if (e != NULL && e->rel_version == r->version)
		return e;
	if (r->rel_msg == NULL)
		return NULL;
	if (e == NULL)
	{
		if (!fo_reserve(fo, c, (void **) &r->views, r->nviews, &r->views_cap,
						sizeof(FoRelView), 2))
			return NULL;
		e = &r->views[r->nviews++];
		memset(e, 0, sizeof(*e));
		e->columns = columns;
	}
	fo_rel_view_clear(e);
	if (!fanout_column_view_of_relation(&e->view, columns,
										(const char *) r->rel_msg->payload,
										r->rel_msg->len))
		return NULL;
	if (fanout_column_view_hides_nothing(&e->view))
	{
		e->rel_msg = r->rel_msg;
		e->rel_msg->refcnt++;
	}
	else
	{
		text = fanout_column_view_relation(&e->view,
										   (const char *) r->rel_msg->payload,
										   r->rel_msg->len, &len);
		e->rel_msg = text ? fo_msg_new(text, len, 'R', r->rel_msg->lsn) : NULL;
		free(text);
		if (e->rel_msg == NULL)
		{
			fo_rel_view_clear(e);
			return NULL;
		}
		fo->relation_projections++;
	}
	e->rel_version = r->version;
	return e;
}

FoMsg *
fo_project_relation(Fanout *fo, FoClient *c, FoRel *r, uint32_t columns)
{
	FoRelView  *e;

	if (columns == 0)
		return r->rel_msg;
	if ((e = rel_view(fo, c, r, columns)) == NULL)
	{
		refuse(fo, c);
		return NULL;
	}
	return e->rel_msg;
}

/* m projected through e's view (a new message), or NULL. */
static FoMsg *
project(Fanout *fo, const FoRelView *e, const FoMsg *m)
{
	size_t		cap = FO_PROJECTION_BOUND((size_t) m->len);
	FoMsg	   *pm = fo_msg_alloc(cap, m->op, m->lsn);
	size_t		len;

	if (pm == NULL)
		return NULL;
	len = fanout_column_view_change(&e->view, (const char *) m->payload,
									m->len, (char *) pm->payload, cap);
	if (len == (size_t) -1)
	{
		fo_msg_unref(pm);
		return NULL;
	}
	pm->len = (uint32_t) len;
	pm->payload[len] = '\0';
	fo->change_projections++;
	return pm;
}

FoMsg *
fo_project_change(Fanout *fo, FoClient *c, FoRel *r, FoMsg *m,
				  uint32_t columns)
{
	FoRelView  *e;
	FoMsg	   *pm;

	if (columns == 0 || m->op == 'T')
		return m;
	for (int i = 0; i < fo->nprojected; i++)
		if (fo->projected[i].columns == columns)
			return fo->projected[i].msg;
	if (!fo_reserve(fo, c, (void **) &fo->projected, fo->nprojected,
					&fo->projected_cap, sizeof(FoProjected), 4))
		return NULL;			/* c was culled */
	if ((e = rel_view(fo, c, r, columns)) == NULL)
		pm = NULL;
	else if (fanout_column_view_hides_nothing(&e->view))
	{
		pm = m;
		pm->refcnt++;
	}
	else
		pm = project(fo, e, m);
	if (pm == NULL)
	{
		refuse(fo, c);
		return NULL;
	}
	fo->projected[fo->nprojected].columns = columns;
	fo->projected[fo->nprojected].msg = pm;
	fo->nprojected++;
	return pm;
}

bool
fo_project_mask_filter_columns(Fanout *fo, FoClient *c, FoRel *r,
							   uint32_t columns, RowFilterColumn *cols,
							   int ncols)
{
	FoRelView  *e;

	if (columns == 0)
		return true;
	if ((e = rel_view(fo, c, r, columns)) == NULL)
	{
		refuse(fo, c);
		return false;
	}
	fanout_column_view_mask(&e->view, cols, ncols);
	return true;
}

void
fo_project_route_end(Fanout *fo)
{
	for (int i = 0; i < fo->nprojected; i++)
		fo_msg_unref(fo->projected[i].msg);
	fo->nprojected = 0;
}

void
fo_project_destroy(Fanout *fo)
{
	fo_project_route_end(fo);
	free(fo->projected);
	fo->projected = NULL;
	fo->projected_cap = 0;
}
