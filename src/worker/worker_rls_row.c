/*-------------------------------------------------------------------------
 *
 * worker_rls_row.c
 *	  The row of a pushed change as Datums, for row-level security policies
 *	  (worker_rls.c): decoded once per change from the compact JSON the
 *	  plugin wrote, by column name into the table's current attribute
 *	  numbers, each value through its type's input function.  Which row
 *	  decides and which values are unknown is row_filter_change_value()'s
 *	  rule, the row filters' own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "fmgr.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "filter/row_filter.h"
#include "json/json_value.h"
#include "worker/worker_rls_int.h"

/* The decoded row of the current tick */
static MemoryContext row_mcxt = NULL;
static uint64 row_tick = 0;
static Oid	row_relid = InvalidOid;
static bool row_ok = false;
static RlsRow row;

void
rls_row_forget(void)
{
	row_tick = 0;
}

/* The text a type's input function reads for a JSON value; NULL: none. */
static char *
value_text(const JsonValue *v)
{
	switch (v->kind)
	{
		case JSON_STRING:
			return pnstrdup(v->u.str, v->len);
		case JSON_NUMBER:
			return pnstrdup(v->u.str, v->len);
		case JSON_BOOL:
			return pstrdup(v->boolean ? "true" : "false");
		default:
			{
				/* json/jsonb values are sent as JSON: give their text */
				size_t		cap = 64 * 1024;
				char	   *buf = palloc(cap);
				size_t		n = json_value_write(v, buf, cap);

				if (n == (size_t) -1)
					return NULL;
				buf[n] = '\0';
				return buf;
			}
	}
}

typedef struct DecodeArgs
{
	Relation	rel;
	const FoMsg *rel_msg;
	const FoMsg *change;
} DecodeArgs;

/* Decode the change's row into row.values by attnum of the current desc. */
static void
decode_cb(void *arg)
{
	DecodeArgs *a = (DecodeArgs *) arg;
	TupleDesc	desc = RelationGetDescr(a->rel);
	JsonDoc    *rdoc = json_doc_create(a->rel_msg->len, a->rel_msg->len / 2 + 2, 64);
	JsonDoc    *cdoc = json_doc_create(a->change->len, a->change->len / 2 + 2, 64);
	RowFilterColumn *cols = palloc(sizeof(RowFilterColumn) * ROW_FILTER_MAX_COLUMNS);
	int		   *keys = palloc(sizeof(int) * ROW_FILTER_MAX_COLUMNS);
	int			nkeys = 0;
	int			ncols = -1;
	const JsonValue *rel = NULL,
			   *change = NULL;

	row.natts = desc->natts;
	row.values = palloc0(sizeof(Datum) * Max(row.natts, 1));
	row.isnull = palloc0(sizeof(bool) * Max(row.natts, 1));
	row.known = palloc0(sizeof(bool) * Max(row.natts, 1));
	if (rdoc != NULL)
		rel = json_parse(rdoc, (const char *) a->rel_msg->payload, a->rel_msg->len, NULL);
	if (cdoc != NULL)
		change = json_parse(cdoc, (const char *) a->change->payload, a->change->len, NULL);
	if (rel != NULL)
		ncols = row_filter_relation_columns(rel, cols, keys, &nkeys,
											ROW_FILTER_MAX_COLUMNS);
	for (int col = 0; change != NULL && col < ncols; col++)
	{
		const JsonValue *v = row_filter_change_value(change, keys, nkeys, col);
		char	   *name = pnstrdup(cols[col].name, cols[col].name_len);
		int			att;

		if (v == NULL)
			continue;			/* not carried: stays unknown */
		for (att = 0; att < desc->natts; att++)
			if (!TupleDescAttr(desc, att)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(desc, att)->attname), name) == 0)
				break;
		if (att == desc->natts)
			continue;
		if (v->kind == JSON_NULL)
			row.isnull[att] = true;
		else
		{
			Form_pg_attribute at = TupleDescAttr(desc, att);
			Oid			infunc,
						ioparam;
			char	   *text = value_text(v);

			if (text == NULL)
				continue;
			getTypeInputInfo(at->atttypid, &infunc, &ioparam);
			row.values[att] = OidInputFunctionCall(infunc, text, ioparam,
												   at->atttypmod);
		}
		row.known[att] = true;
	}
	json_doc_free(rdoc);
	json_doc_free(cdoc);
	row_ok = change != NULL && ncols >= 0;
}

/* Make row_* the row of change (once per tick). */
const RlsRow *
rls_row_decode(Oid relid, const FoMsg *rel_msg, const FoMsg *change,
			   uint64 tick)
{
	DecodeArgs	a;
	MemoryContext old;

	if (row_tick == tick && row_relid == relid)
		return row_ok ? &row : NULL;
	if (row_mcxt == NULL)
		row_mcxt = AllocSetContextCreate(TopMemoryContext, "pgsync RLS row",
										 ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(row_mcxt);
	row_tick = tick;
	row_relid = relid;
	row_ok = false;
	old = MemoryContextSwitchTo(row_mcxt);
	a.rel = RelationIdGetRelation(relid);
	if (RelationIsValid(a.rel))
	{
		a.rel_msg = rel_msg;
		a.change = change;
		if (!rls_in_subxact(decode_cb, &a))
			row_ok = false;
		RelationClose(a.rel);
	}
	MemoryContextSwitchTo(old);
	return row_ok ? &row : NULL;
}
