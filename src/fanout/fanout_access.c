/*-------------------------------------------------------------------------
 *
 * fanout_access.c
 *	  Pure fan-out, middle layer: which relations a client's principal may
 *	  read (docs/SECURITY.md, "Authorization").
 *
 * The fan-out does not know roles or privileges.  The transport gives each
 * client a principal (the role oid of its token; 0 for no restriction,
 * pgsync.auth = trust), and the worker installs one process-wide access
 * check, asked whether a principal may read a relation.  It is asked when
 * a relation's matches are built (fanout_route.c) -- never per change --
 * and again for every relation after fanout_access_changed(), which the
 * worker calls when privileges may have changed (GRANT, REVOKE, role
 * membership, DROP ROLE).  So a change of privileges takes effect at the
 * next change routed.
 *
 * Rows.  A grant with rows set means a row policy (row-level security)
 * decides each change: the row check, also installed by the worker, is
 * asked once per routed change and principal, whatever the number of
 * clients sharing that principal (a memo per routing tick).  Truncates
 * are not row-checked: they remove every row.
 *
 * Owns also what each subscription was told: per (subscription, relation)
 * the last decision.  A subscription that was getting a relation and is
 * denied it, or that names a table literally which its principal may not
 * read, gets one permission_denied event naming the subscription and the
 * table; a table that only a wildcard pattern meets and that was never
 * readable is skipped silently.  Access given back is used silently.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "fanout/fanout.h"
#include "fanout/fanout_int.h"

static const char denied_message[] =
"permission denied: the role may not read this table; the subscription skips it";

static FoAccessCheck access_check = NULL;
static void *access_arg = NULL;
static uint64_t access_gen = 1;

static FoRowCheck row_check = NULL;
static void *row_arg = NULL;

/* Row check answers of the current routing tick, by principal. */
#define ROW_MEMO_SIZE 4096		/* power of two */
typedef struct RowMemo
{
	uint64_t	tick;
	uint32_t	principal;
	bool		visible;
} RowMemo;
static RowMemo row_memo[ROW_MEMO_SIZE];

void
fanout_set_row_check(FoRowCheck fn, void *arg)
{
	row_check = fn;
	row_arg = arg;
}

bool
fo_row_visible(FoClient *c, FoRel *r, const FoMsg *m)
{
	uint64_t	tick = fo_route_clock();
	uint32_t	h = (c->principal * 2654435761u) & (ROW_MEMO_SIZE - 1);
	bool		visible;

	if (m->op == 'T')
		return true;
	if (row_check == NULL || r->rel_msg == NULL)
		return false;			/* fail closed */
	for (int probe = 0; probe < 8; probe++)
	{
		RowMemo    *e = &row_memo[(h + probe) & (ROW_MEMO_SIZE - 1)];

		if (e->tick == tick && e->principal == c->principal)
			return e->visible;
		if (e->tick != tick)
		{
			visible = row_check(c->principal, r->relid, r->rel_msg, m, tick,
								row_arg);
			e->tick = tick;
			e->principal = c->principal;
			e->visible = visible;
			return visible;
		}
	}
	/* more principals in one tick than the memo holds: ask again */
	return row_check(c->principal, r->relid, r->rel_msg, m, tick, row_arg);
}

void
fanout_set_access_check(FoAccessCheck fn, void *arg)
{
	access_check = fn;
	access_arg = arg;
	access_gen++;
}

void
fanout_access_changed(void)
{
	access_gen++;
}

uint64_t
fo_access_gen(void)
{
	return access_gen;
}

void
fanout_client_set_principal(FoClient *c, uint32_t principal)
{
	if (c->principal == principal)
		return;
	c->principal = principal;
	/* the client's matches are decided again */
	access_gen++;
}

uint32_t
fanout_client_principal(const FoClient *c)
{
	return c->principal;
}

void
fo_sub_access_free(FoSub *s)
{
	free(s->access);
	s->access = NULL;
	s->naccess = s->access_cap = 0;
}

/* Does one of s's patterns name r's table literally (no wildcard)? */
static bool
names_literally(const FoSub *s, const FoRel *r)
{
	for (int i = 0; i < s->ntables; i++)
	{
		char		table[CP_MAX_PATTERN_LEN + 1];

		if (pattern_slice_literal(s->patterns[i].table, table, sizeof(table)) &&
			strcmp(table, r->table) == 0 &&
			table_pattern_match(&s->patterns[i], r->schema, r->table))
			return true;
	}
	return false;
}


bool
fo_access_allows(Fanout *fo, FoClient *c, FoSub *s, FoRel *r, FoGrant *grant)
{
	FoSubAccess *e = NULL;
	bool		allowed;

	memset(grant, 0, sizeof(*grant));
	grant->readable = true;
	if (c->principal == 0 || access_check == NULL)
		return true;
	access_check(c->principal, r->relid, grant, access_arg);
	allowed = grant->readable;
	for (int i = 0; i < s->naccess && e == NULL; i++)
		if (s->access[i].relid == r->relid)
			e = &s->access[i];
	if (e == NULL)
	{
		if (!fo_reserve(fo, c, (void **) &s->access, s->naccess,
						&s->access_cap, sizeof(FoSubAccess), 4))
			return false;
		e = &s->access[s->naccess++];
		e->relid = r->relid;
		e->allowed = allowed;
		if (!allowed && names_literally(s, r))
			fo_table_event(fo, c, s, r, CP_ERR_PERMISSION_DENIED, denied_message);
		return allowed;
	}
	if (e->allowed && !allowed)
		fo_table_event(fo, c, s, r, CP_ERR_PERMISSION_DENIED, denied_message);
	e->allowed = allowed;
	return allowed;
}
