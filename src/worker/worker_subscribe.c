/*-------------------------------------------------------------------------
 *
 * worker_subscribe.c
 *	  Subscribe-time checks of a WebSocket subscription against the
 *	  catalog, run by the worker's main loop (never in an lws callback).
 *
 * Owns the rules of docs/WEBSOCKET.md for a subscribe request:
 *	- a pattern without wildcards in its table name must name an existing
 *	  table (unknown_table), which the client's role may read
 *	  (permission_denied; the rule is worker_auth_denies());
 *	- a row filter must be a valid filter (bad_filter), and must compile
 *	  against the current definition of every table that such a literal
 *	  pattern names: columns and types are read from the catalog the way
 *	  the output plugin writes them in its relation message, and only the
 *	  columns the role may read are there (worker_columns.c), so a filter
 *	  on another is refused like one on a column that does not exist.
 * Tables that only match a wildcard pattern later are checked when their
 * first change is routed (fanout_filter.c).
 * The network loop must never wait for a lock: a table is opened only if
 * its lock is granted at once; otherwise the request waits, parked, and
 * is checked again on a later iteration while everyone else is served.
 * Runs between decoding passes: the catalog caches may hold entries as of
 * the past, which subscribe_check() first drops (worker_decode.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "storage/lmgr.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "filter/row_filter.h"
#include "json/json_value.h"
#include "plugin/relation_info.h"
#include "worker/worker_auth.h"
#include "worker/worker_columns.h"
#include "worker/worker_decode.h"
#include "worker/worker_subscribe.h"

static bool
is_table(char relkind)
{
	return relkind == RELKIND_RELATION || relkind == RELKIND_PARTITIONED_TABLE;
}

/*
 * The tables named by a pattern whose table part is literal, as a list of
 * oids; *literal is false (and the list empty) for a wildcard table part.
 * A schema-less or wildcard-schema pattern names that table in any schema
 * for the existence check; *matching gets those its schema part matches.
 */
static List *
literal_pattern_tables(const TablePattern *pat, bool *literal,
					   List **matching)
{
	char		schema[NAMEDATALEN * 2];
	char		table[NAMEDATALEN * 2];
	List	   *all = NIL;

	*matching = NIL;
	*literal = pattern_slice_literal(pat->table, table, sizeof(table));
	if (!*literal)
		return NIL;
	if (pattern_slice_literal(pat->schema, schema, sizeof(schema)) &&
		pat->schema.len > 0)
	{
		Oid			nsp = get_namespace_oid(schema, true);
		Oid			relid = OidIsValid(nsp) ? get_relname_relid(table, nsp) : InvalidOid;

		if (OidIsValid(relid) && is_table(get_rel_relkind(relid)))
			all = list_make1_oid(relid);
		*matching = all;
	}
	else
	{
		CatCList   *list = SearchSysCacheList1(RELNAMENSP, CStringGetDatum(table));

		for (int i = 0; i < list->n_members; i++)
		{
			Form_pg_class c = (Form_pg_class) GETSTRUCT(&list->members[i]->tuple);
			char	   *nspname;

			if (!is_table(c->relkind))
				continue;
			all = lappend_oid(all, c->oid);
			nspname = get_namespace_name(c->relnamespace);
			if (nspname != NULL && table_pattern_match(pat, nspname, table))
				*matching = lappend_oid(*matching, c->oid);
		}
		ReleaseSysCacheList(list);
	}
	return all;
}

/*
 * Compile filter against the table's current columns (live columns, types
 * as format_type writes them, like the relation message) that are in the
 * column set columns (0: all).  NULL if it compiles, else the error text
 * (palloc'd).  Sets *would_wait (and returns NULL) when the table's lock
 * is not free; a table dropped meanwhile is skipped (its subscription
 * simply never sees it).
 */
static char *
filter_error_for_table(const JsonValue *filter, Oid relid, uint32 columns,
					   bool *would_wait)
{
	Relation	rel;
	TupleDesc	desc;
	RowFilterColumn *cols;
	int			ncols = 0;
	RowFilter  *f;
	RowFilterError err;
	char	   *result = NULL;

	if (!ConditionalLockRelationOid(relid, AccessShareLock))
	{
		*would_wait = true;
		return NULL;
	}
	if ((rel = try_table_open(relid, NoLock)) == NULL)
	{
		UnlockRelationOid(relid, AccessShareLock);
		return NULL;
	}
	desc = RelationGetDescr(rel);
	cols = palloc0(sizeof(RowFilterColumn) * Max(desc->natts, 1));

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!relation_column_is_live(att) || !worker_column_in_set(columns, att))
			continue;
		cols[ncols].name = pstrdup(NameStr(att->attname));
		cols[ncols].name_len = strlen(cols[ncols].name);
		cols[ncols].type = relation_column_type_name(att);
		cols[ncols].type_len = strlen(cols[ncols].type);
		ncols++;
	}
	f = row_filter_compile(filter, cols, ncols, &err);
	if (f == NULL)
		result = psprintf("table %s.%s: %s",
						  get_namespace_name(RelationGetNamespace(rel)),
						  RelationGetRelationName(rel), err.message);
	row_filter_free(f);
	table_close(rel, AccessShareLock);
	return result;
}

/*
 * A table named literally: may role read it (permission_denied), and does
 * the filter (or NULL) compile against what it may read (bad_filter)?
 */
static const char *
check_literal_table(const JsonValue *filter, uint32 principal, Oid relid,
					char *msg, size_t msgsize, bool *would_wait)
{
	const char *denied;
	uint32		columns;
	bool		rows;
	char	   *e;

	if ((denied = worker_auth_denies(principal, relid, &columns, &rows)) != NULL)
	{
		char	   *nsp = get_namespace_name(get_rel_namespace(relid));

		snprintf(msg, msgsize, "table %s.%s: %s", nsp ? nsp : "?",
				 get_rel_name(relid), denied);
		return CP_ERR_PERMISSION_DENIED;
	}
	if (filter != NULL &&
		(e = filter_error_for_table(filter, relid, columns, would_wait)) != NULL)
	{
		snprintf(msg, msgsize, "%s", e);
		return CP_ERR_BAD_FILTER;
	}
	return NULL;
}

const char *
subscribe_check(const ClientRequest *req, uint32 principal, char *msg,
				size_t msgsize, bool *would_wait)
{
	JsonDoc    *doc = NULL;
	const JsonValue *filter = NULL;
	const char *code = NULL;

	/*
	 * The checks are against the catalog as of now: drop what decoding
	 * cached as of the past (worker_decode.c, "Time travel and now").
	 * Decoding drops what we cache here before its next pass.
	 */
	decode_use_current_catalog();
	*would_wait = false;

	if (req->filter_json != NULL)
	{
		size_t		len = strlen(req->filter_json);
		RowFilterError err;

		doc = json_doc_create(len, (uint32_t) (len / 2 + 2), JSON_DEFAULT_MAX_DEPTH);
		if (doc == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		filter = json_parse(doc, req->filter_json, len, NULL);
		if (!row_filter_check(filter, &err))
		{
			json_doc_free(doc);
			snprintf(msg, msgsize, "%s", err.message);
			return CP_ERR_BAD_FILTER;
		}
	}
	for (int i = 0; i < req->ntables && code == NULL; i++)
	{
		bool		literal;
		List	   *matching;
		List	   *all = literal_pattern_tables(&req->patterns[i], &literal,
												 &matching);
		ListCell   *lc;

		if (literal && all == NIL)
		{
			snprintf(msg, msgsize, "no table matches \"%s\"", req->tables[i]);
			code = CP_ERR_UNKNOWN_TABLE;
		}
		foreach(lc, matching)
		{
			if (code != NULL || *would_wait)
				break;
			code = check_literal_table(filter, principal, lfirst_oid(lc), msg,
									   msgsize, would_wait);
		}
		if (*would_wait)
			break;
	}
	json_doc_free(doc);
	return *would_wait ? NULL : code;
}
