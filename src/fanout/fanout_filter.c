/*-------------------------------------------------------------------------
 *
 * fanout_filter.c
 *	  Pure fan-out, middle layer: row filters of subscriptions
 *	  (docs/FILTERS.md), over the relation table and the queues.
 *
 * Owns the compiled filters of each subscription, one per relation it
 * meets, keyed by the version of that relation's "R" message and the
 * columns the client may read there: a filter is compiled lazily, the
 * first time a change of the relation is routed to the subscription, and
 * again after a new relation message (ALTER TABLE) or a change of column
 * privileges.  Columns the client may not read cannot be named
 * (fanout_project.c), so a filter on one is a bad_filter like a filter on
 * a column that does not exist.
 * A filter that does not compile against a relation (unknown column,
 * literal not of the column's type, ...) sends the client a bad_filter
 * error event naming the subscription and table, and that relation is
 * skipped by that subscription until its next relation message.
 *
 * Compiled filters of relations that saw no change for a while are freed
 * (fanout_release_idle_filters): a dropped table never sends a change
 * again, and 1,500 dropped tables once held 150 MB of compiled filters
 * until their subscription ended.  They are compiled again if a change
 * comes.  Entries of filters that did not compile are kept, so the client
 * is not told twice.
 *
 * Owns also the parsed form of the change being routed: the message is
 * parsed at most once per routed message (into a reusable, bounded
 * JsonDoc), on the first filtered subscription that needs it, and shared
 * by every filtered subscription.  The bytes queued to clients stay the
 * plugin's bytes.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "fanout/fanout.h"
#include "fanout/fanout_int.h"
#include "filter/row_filter.h"

/* The reusable arena covers ordinary changes; larger ones get their own. */
#define FO_CHANGE_DOC_INPUT		(64 * 1024)
#define FO_CHANGE_DOC_NODES		8192

/* An arena able to hold any JSON text of len bytes (or NULL). */
static JsonDoc *
doc_for(size_t len, uint32_t max_depth)
{
	return json_doc_create(len, (uint32_t) (len / 2 + 2), max_depth);
}

/* The change m, parsed once per routed message; NULL if unparsable. */
static const JsonValue *
change_parse(Fanout *fo, const FoMsg *m)
{
	const char *text = (const char *) m->payload;

	if (fo->parsed_seq == fo_route_clock())
		return fo->parsed;
	fo->parsed_seq = fo_route_clock();
	fo->parsed = NULL;
	fo->change_parses++;
	if (fo->change_doc == NULL)
		fo->change_doc = json_doc_create(FO_CHANGE_DOC_INPUT,
										 FO_CHANGE_DOC_NODES,
										 JSON_DEFAULT_MAX_DEPTH);
	if (fo->change_doc != NULL && m->len <= FO_CHANGE_DOC_INPUT)
		fo->parsed = json_parse(fo->change_doc, text, m->len, NULL);
	if (fo->parsed == NULL)
	{
		/* too large or too many values for the arena: one sized for it */
		json_doc_free(fo->big_doc);
		fo->big_doc = doc_for(m->len, JSON_DEPTH_LIMIT);
		if (fo->big_doc != NULL)
			fo->parsed = json_parse(fo->big_doc, text, m->len, NULL);
	}
	return fo->parsed;
}

void
fo_filter_route_end(Fanout *fo)
{
	json_doc_free(fo->big_doc);
	fo->big_doc = NULL;
	fo->parsed = NULL;
}

void
fo_filter_destroy(Fanout *fo)
{
	fo_filter_route_end(fo);
	json_doc_free(fo->change_doc);
	fo->change_doc = NULL;
}

void
fo_sub_filters_free(FoSub *s)
{
	for (int i = 0; i < s->nfilters; i++)
		row_filter_free(s->filters[i].filter);
	free(s->filters);
	s->filters = NULL;
	s->nfilters = s->filters_cap = 0;
}

void
fanout_release_idle_filters(Fanout *fo)
{
	uint64_t	since = fo->filters_idle_mark;

	for (FoClient *c = fo->clients; c != NULL; c = c->next)
		for (int i = 0; i < c->nsubs; i++)
		{
			FoSub	   *s = c->subs[i];
			int			kept = 0;

			for (int k = 0; k < s->nfilters; k++)
			{
				FoSubFilter *e = &s->filters[k];
				FoRel	   *r = fo_rel_find(fo, e->relid);

				if (e->filter != NULL && (r == NULL || r->last_routed <= since))
				{
					row_filter_free(e->filter);
					continue;
				}
				s->filters[kept++] = *e;
			}
			s->nfilters = kept;
		}
	fo->filters_idle_mark = fo_route_clock();
}

void
fo_table_event(Fanout *fo, FoClient *c, const FoSub *s, const FoRel *r,
			   const char *code, const char *message)
{
	size_t		len;
	char	   *text = cp_table_error(code, s->id, r->schema, r->table, message,
									  &len);

	if (text == NULL)
	{
		fo_cull(fo, c, CP_ERR_INTERNAL, "out of memory");
		return;
	}
	fanout_send_private(fo, c, text, len);
	free(text);
}

/*
 * Compile s's filter against r's current relation message, the columns c
 * may not read left unnameable (a filter naming one gets "no column"), and
 * record r's key columns for that version.  NULL (error reported to c) if
 * it does not compile.
 */
static RowFilter *
compile_for(Fanout *fo, FoClient *c, const FoSub *s, FoRel *r,
			uint32_t columns)
{
	size_t		flen = strlen(s->filter_json);
	JsonDoc    *rdoc = doc_for(r->rel_msg->len, JSON_DEFAULT_MAX_DEPTH);
	JsonDoc    *fdoc = doc_for(flen, JSON_DEFAULT_MAX_DEPTH);
	RowFilterColumn *cols = malloc(sizeof(RowFilterColumn) * ROW_FILTER_MAX_COLUMNS);
	int		   *keys = malloc(sizeof(int) * ROW_FILTER_MAX_COLUMNS);
	RowFilter  *f = NULL;
	RowFilterError err;
	const JsonValue *rel = NULL;
	int			ncols = -1,
				nkeys = 0;

	if (rdoc == NULL || fdoc == NULL || cols == NULL || keys == NULL)
	{
		fo_cull(fo, c, CP_ERR_INTERNAL, "out of memory");
		goto done;
	}
	rel = json_parse(rdoc, (const char *) r->rel_msg->payload,
					 r->rel_msg->len, NULL);
	if (rel != NULL)
		ncols = row_filter_relation_columns(rel, cols, keys, &nkeys,
											ROW_FILTER_MAX_COLUMNS);
	if (ncols < 0)
	{
		fo_table_event(fo, c, s, r, CP_ERR_BAD_FILTER, "unreadable relation message");
		goto done;
	}
	free(r->key_cols);
	r->key_cols = keys;
	r->nkeys = nkeys;
	keys = NULL;
	if (!fo_project_mask_filter_columns(fo, c, r, columns, cols, ncols))
		goto done;
	/* the text was written by client_protocol.c from a parsed filter */
	f = row_filter_compile(json_parse(fdoc, s->filter_json, flen, NULL),
						   cols, ncols, &err);
	if (f == NULL)
		fo_table_event(fo, c, s, r, CP_ERR_BAD_FILTER, err.message);
done:
	json_doc_free(rdoc);
	json_doc_free(fdoc);
	free(cols);
	free(keys);
	return f;
}

/*
 * s's filter for r's current relation message and the columns s's client
 * may read there, compiled if needed.
 */
static const RowFilter *
filter_for(Fanout *fo, FoClient *c, FoSub *s, FoRel *r, uint32_t columns)
{
	FoSubFilter *e = NULL;

	for (int i = 0; i < s->nfilters && e == NULL; i++)
		if (s->filters[i].relid == r->relid)
			e = &s->filters[i];
	if (e != NULL && e->rel_version == r->version && e->columns == columns)
		return e->filter;
	if (e == NULL)
	{
		if (!fo_reserve(fo, c, (void **) &s->filters, s->nfilters,
						&s->filters_cap, sizeof(FoSubFilter), 4))
			return NULL;
		e = &s->filters[s->nfilters++];
		e->relid = r->relid;
		e->filter = NULL;
	}
	row_filter_free(e->filter);
	e->rel_version = r->version;
	e->columns = columns;
	e->filter = r->rel_msg != NULL ? compile_for(fo, c, s, r, columns) : NULL;
	return e->filter;
}

bool
fo_sub_filter_passes(Fanout *fo, FoClient *c, FoSub *s, FoRel *r,
					 uint32_t columns, const FoMsg *m)
{
	const RowFilter *f;
	const JsonValue *change;

	/* a truncate removes every row, the matching ones included */
	if (s->filter_json == NULL || m->op == 'T')
		return true;
	if ((f = filter_for(fo, c, s, r, columns)) == NULL ||
		(change = change_parse(fo, m)) == NULL)
		return false;

	/*
	 * Which row decides, and which values are UNKNOWN (unchanged TOAST,
	 * values too large to send): row_filter_eval_change(), the one owner
	 * of that rule for live push, replays and snapshots.
	 */
	return row_filter_eval_change(f, change, r->key_cols, r->nkeys) == ROW_FILTER_TRUE;
}
