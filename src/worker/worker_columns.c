/*-------------------------------------------------------------------------
 *
 * worker_columns.c
 *	  Column privileges from the catalog (docs/SECURITY.md,
 *	  "Authorization").
 *
 * A role without SELECT on a whole table may still read some of its
 * columns (GRANT SELECT (a, b) ON t): PostgreSQL lets it select exactly
 * those.  Here they become a column set of the fan-out
 * (fanout/fanout_columns.h), by name as the relation message writes them,
 * and the fan-out projects everything it sends the role's clients onto
 * them.  The rule is PostgreSQL's: pg_attribute_aclcheck() on every live
 * column (role membership included; table-level SELECT, superusers and
 * owners are decided before, by worker_auth_denies()).
 *
 * Names are compared as the stream carries them, in UTF-8: converted from
 * the database encoding as the plugin converts them.  In a SQL_ASCII
 * database, a name that is not valid UTF-8 (which the plugin writes with
 * U+FFFD in place of its bad bytes) matches nothing: such a column is
 * hidden from column-restricted roles rather than risk matching another.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "mb/pg_wchar.h"
#include "utils/acl.h"
#include "utils/syscache.h"

#include "fanout/fanout_columns.h"
#include "json/json_encode.h"
#include "plugin/relation_info.h"
#include "worker/worker_columns.h"

/* The name of att as the relation message carries it, or NULL. */
static char *
stream_name(Form_pg_attribute att)
{
	const char *name = NameStr(att->attname);
	int			len = strlen(name);
	int			enc = GetDatabaseEncoding();

	if (enc == PG_UTF8)
		return pstrdup(name);
	if (enc == PG_SQL_ASCII)
		return json_utf8_valid_prefix(name, len) == (size_t) len ?
			pstrdup(name) : NULL;
	return pg_server_to_any(name, len, PG_UTF8);
}

bool
worker_columns_readable(Oid role, Oid relid, uint32 *columns)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	int			natts;
	const char **names;
	size_t	   *lens;
	int			n = 0;

	*columns = 0;
	if (!HeapTupleIsValid(tup))
		return false;
	natts = ((Form_pg_class) GETSTRUCT(tup))->relnatts;
	ReleaseSysCache(tup);
	names = palloc(sizeof(char *) * Max(natts, 1));
	lens = palloc(sizeof(size_t) * Max(natts, 1));
	for (AttrNumber attnum = 1; attnum <= natts; attnum++)
	{
		HeapTuple	atup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid),
										   Int16GetDatum(attnum));
		bool		missing = false;
		char	   *name = NULL;

		if (!HeapTupleIsValid(atup))
			continue;
		if (relation_column_is_live((Form_pg_attribute) GETSTRUCT(atup)) &&
			pg_attribute_aclcheck_ext(relid, attnum, role, ACL_SELECT,
									  &missing) == ACLCHECK_OK)
			name = stream_name((Form_pg_attribute) GETSTRUCT(atup));
		ReleaseSysCache(atup);
		if (name == NULL)
			continue;
		names[n] = name;
		lens[n++] = strlen(name);
	}
	if (n > 0 && !fanout_column_set_intern(names, lens, n, columns))
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	for (int i = 0; i < n; i++)
		pfree(unconstify(char *, names[i]));
	pfree(names);
	pfree(lens);
	return n > 0;
}

bool
worker_column_in_set(uint32 columns, Form_pg_attribute att)
{
	char	   *name;
	bool		in;

	if (columns == 0)
		return true;
	if ((name = stream_name(att)) == NULL)
		return false;
	in = fanout_column_set_contains(columns, name, strlen(name));
	pfree(name);
	return in;
}
