/*-------------------------------------------------------------------------
 *
 * fanout_route.c
 *	  Pure fan-out, middle layer: routing of plugin messages to client
 *	  queues (fanout_publish), over the relation table (fanout_rel.c), the
 *	  row filters (fanout_filter.c) and the queues (fanout_queue.c).
 *
 * Routing state:
 *	- one FoRel per relation oid seen (fanout_rel.c), holding the latest relation ("R")
 *	  message and a cache of the (client, subscription) pairs whose table
 *	  patterns match it, rebuilt lazily when subscriptions change;
 *	- the begin message of the transaction being decoded: it is queued to
 *	  a client just before the first change of that transaction the client
 *	  gets, and the commit is queued to exactly those clients, so a client
 *	  sees begin/commit only around transactions that concern it;
 *	- per client, the relation messages already queued: the latest "R" of a
 *	  relation is queued before the first change of it the client gets, and
 *	  again when the relation changed.
 * A client whose role may read only some columns of a relation gets its
 * relation message and row changes projected onto them (fanout_project.c).
 *
 * A change goes to a subscription when its table patterns, ops and row
 * filter (fanout_filter.c) all let it through.
 *
 * A subscription created in the middle of a transaction starts with the
 * next one (active_from), so nobody sees a transaction without its start.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "fanout/fanout.h"
#include "fanout/fanout_int.h"
#include "protocol/stream_msg.h"

static bool
sub_matches_rel(const FoSub *s, const FoRel *r)
{
	return r->schema != NULL &&
		table_pattern_match_any(s->patterns, s->ntables, r->schema, r->table);
}

/* Make r->match current. */
static bool
rel_ensure_match(Fanout *fo, FoRel *r)
{
	FoClient   *c;

	if (r->match_gen == fo->sub_gen && r->access_gen == fo_access_gen())
		return true;
	r->nmatch = 0;
	for (c = fo->clients; c != NULL; c = c->next)
	{
		int			i;

		for (i = 0; i < c->nsubs; i++)
		{
			FoGrant		grant;

			if (!sub_matches_rel(c->subs[i], r) ||
				!fo_access_allows(fo, c, c->subs[i], r, &grant))
				continue;
			if (r->nmatch == r->match_cap)
			{
				int			cap = r->match_cap ? r->match_cap * 2 : 8;
				FoMatch    *m = realloc(r->match, sizeof(FoMatch) * cap);

				if (m == NULL)
					return false;
				r->match = m;
				r->match_cap = cap;
			}
			r->match[r->nmatch].client = c;
			r->match[r->nmatch].sub = c->subs[i];
			r->match[r->nmatch].grant = grant;
			r->nmatch++;
		}
	}
	r->match_gen = fo->sub_gen;
	r->access_gen = fo_access_gen();
	return true;
}

bool
fanout_in_transaction(Fanout *fo)
{
	return fo->in_txn;
}

/*
 * Queue r's relation message to c unless c has it: as projected for the
 * columns c may read (fanout_project.c), so a change of those columns
 * (GRANT, REVOKE) sends it again too.
 */
static bool
ensure_relsent(Fanout *fo, FoClient *c, FoRel *r, uint32_t columns)
{
	FoMsg	   *rel_msg;
	int			i;

	if (r->rel_msg == NULL)
		return true;
	if ((rel_msg = fo_project_relation(fo, c, r, columns)) == NULL)
		return false;
	for (i = 0; i < c->nrelsent; i++)
	{
		if (c->relsent[i].relid != r->relid)
			continue;
		if (c->relsent[i].rel_msg == rel_msg)
			return true;

		/*
		 * Another fan-out's copy of the same description (the client moved
		 * from a replay to live push): the client has it already.
		 */
		if (c->relsent[i].rel_msg->len != rel_msg->len ||
			memcmp(c->relsent[i].rel_msg->payload, rel_msg->payload,
				   rel_msg->len) != 0)
		{
			if (!fo_enqueue(fo, c, rel_msg))
				return false;
		}
		fo_msg_unref(c->relsent[i].rel_msg);
		c->relsent[i].rel_msg = rel_msg;
		rel_msg->refcnt++;
		return true;
	}
	if (!fo_reserve(fo, c, (void **) &c->relsent, c->nrelsent, &c->relsent_cap,
					sizeof(FoRelSent), 4) ||
		!fo_enqueue(fo, c, rel_msg))
		return false;
	c->relsent[c->nrelsent].relid = r->relid;
	c->relsent[c->nrelsent].rel_msg = rel_msg;
	rel_msg->refcnt++;
	c->nrelsent++;
	return true;
}

/* Make room for one more client in the current transaction's list. */
static bool
txn_clients_reserve(Fanout *fo, FoClient *c)
{
	return fo_reserve(fo, c, (void **) &fo->txn_clients, fo->ntxn,
					  &fo->txn_cap, sizeof(FoClient *), 16);
}

/*
 * Queue begin (if needed), relation messages (of rels, each for the columns
 * c may read of it), then m, to client c.
 */
static void
deliver(Fanout *fo, FoClient *c, FoMsg *m, FoRel **rels,
		const uint32_t *columns, int nrels)
{
	int			i;

	if (c->closing || c->lagging)
		return;
	if (fo->in_txn && !c->in_txn && fo->cur_begin != NULL)
	{
		if (!txn_clients_reserve(fo, c) || !fo_enqueue(fo, c, fo->cur_begin))
			return;
		c->in_txn = true;
		fo->txn_clients[fo->ntxn++] = c;
	}
	for (i = 0; i < nrels; i++)
		if (!ensure_relsent(fo, c, rels[i], columns[i]))
			return;
	fo_enqueue(fo, c, m);
}

/* A row change of r to c, projected onto the columns c may read of r. */
static void
deliver_change(Fanout *fo, FoClient *c, FoMsg *m, FoRel *r, uint32_t columns)
{
	FoMsg	   *projected = fo_project_change(fo, c, r, m, columns);

	if (projected != NULL)
		deliver(fo, c, projected, &r, &columns, 1);
}

/*
 * A truncate names every table of the statement; the client gets the
 * relation messages of the ones its subscriptions cover (and its principal
 * may read) only.
 */
static void
deliver_truncate(Fanout *fo, FoClient *c, FoMsg *m, FoRel **rels, int nrels,
				 uint32_t bit)
{
	FoRel	  **mine = malloc(sizeof(FoRel *) * nrels);
	uint32_t   *columns = malloc(sizeof(uint32_t) * nrels);
	int			n = 0;
	FoGrant		grant;

	if (mine == NULL || columns == NULL)
	{
		free(mine);
		free(columns);
		fo_cull(fo, c, CP_ERR_INTERNAL, "out of memory");
		return;
	}
	for (int k = 0; k < nrels; k++)
		for (int i = 0; i < c->nsubs; i++)
			if ((c->subs[i]->ops & bit) && sub_matches_rel(c->subs[i], rels[k]) &&
				fo_access_allows(fo, c, c->subs[i], rels[k], &grant))
			{
				columns[n] = grant.columns;
				mine[n++] = rels[k];
				break;
			}
	deliver(fo, c, m, mine, columns, n);
	free(mine);
	free(columns);
}

static uint32_t
op_bit(char op)
{
	switch (op)
	{
		case 'I':
			return CP_OP_INSERT;
		case 'U':
			return CP_OP_UPDATE;
		case 'D':
			return CP_OP_DELETE;
		case 'T':
			return CP_OP_TRUNCATE;
	}
	return 0;
}

/* Route m (a row change or truncate) over the matches of rels. */
static void
route_change(Fanout *fo, const char *data, size_t len, uint64_t lsn,
			 char op, FoRel **rels, int nrels)
{
	uint32_t	bit = op_bit(op);
	FoMsg	   *m = NULL;
	int			i,
				k;
	uint64_t	tick = fo_route_clock_tick();

	for (k = 0; k < nrels; k++)
	{
		FoRel	   *r = rels[k];

		r->last_routed = tick;
		if (!rel_ensure_match(fo, r))
			continue;
		for (i = 0; i < r->nmatch; i++)
		{
			FoClient   *c = r->match[i].client;
			FoSub	   *s = r->match[i].sub;

			if (c->route_mark == tick || c->closing || c->lagging ||
				!(s->ops & bit) || fo->txn_seq < s->active_from ||
				lsn <= c->resume_after ||
				(lsn == c->skip_txn && fo->txn_changes <= c->skip_changes))
				continue;
			if (m == NULL && (m = fo_msg_new(data, len, op, lsn)) == NULL)
				return;
			if (!fo_sub_filter_passes(fo, c, s, r, r->match[i].grant.columns, m) ||
				(r->match[i].grant.rows && !fo_row_visible(c, r, m)))
				continue;
			c->route_mark = tick;
			if (nrels == 1)
				deliver_change(fo, c, m, r, r->match[i].grant.columns);
			else
				deliver_truncate(fo, c, m, rels, nrels, bit);
		}
	}
	fo_filter_route_end(fo);
	fo_project_route_end(fo);
	fo_msg_unref(m);
}

static void
handle_relation(Fanout *fo, const char *data, size_t len, uint64_t lsn,
				StreamMsgInfo *info)
{
	FoRel	   *r = fo_rel_lookup(fo, info->relid, true);

	if (r == NULL)
		return;
	if (r->rel_msg != NULL && r->rel_msg->len == len &&
		memcmp(r->rel_msg->payload, data, len) == 0)
		return;
	if (r->schema == NULL || strcmp(r->schema, info->schema) != 0 ||
		strcmp(r->table, info->table) != 0)
	{
		free(r->schema);
		free(r->table);
		r->schema = info->schema;
		r->table = info->table;
		info->schema = info->table = NULL;
		r->match_gen = 0;		/* renamed: patterns must be matched again */
	}
	fo_msg_unref(r->rel_msg);
	r->rel_msg = fo_msg_new(data, len, 'R', lsn);
	r->version = ++fo->rel_versions;	/* filters are compiled again */
}

static void
handle_commit(Fanout *fo, const char *data, size_t len, uint64_t lsn)
{
	FoMsg	   *m = NULL;
	int			i;

	for (i = 0; i < fo->ntxn; i++)
	{
		FoClient   *c = fo->txn_clients[i];

		if (c->lagging)
			continue;			/* its catch-up state holds its place */
		if (!c->closing)
		{
			if (m == NULL && (m = fo_msg_new(data, len, 'C', lsn)) == NULL)
				fo_cull(fo, c, CP_ERR_INTERNAL, "out of memory");
			else if (!fo_enqueue(fo, c, m) && c->lagging)
				continue;		/* the commit comes with the catch-up */
		}
		c->in_txn = false;
		c->skip_txn = 0;
	}
	fo_msg_unref(m);
	fo->ntxn = 0;
	if (fo->cur_begin != NULL)
		fo->last_commit = fo->cur_begin->lsn;
	fo_msg_unref(fo->cur_begin);
	fo->cur_begin = NULL;
	fo->in_txn = false;
}

/*
 * A client caught up from the log whose queue ended inside this
 * transaction after its begin: it gets the rest of it, and its commit.
 */
static void
adopt_carried(Fanout *fo)
{
	FoClient   *c;

	for (c = fo->clients; c != NULL; c = c->next)
	{
		if (c->skip_txn == fo->cur_begin->lsn && c->in_txn &&
			txn_clients_reserve(fo, c))
			fo->txn_clients[fo->ntxn++] = c;
	}
}

bool
fanout_publish(Fanout *fo, const char *data, size_t len, uint64_t lsn)
{
	StreamMsgInfo info;
	FoRel	   *one;
	FoRel	  **rels;
	int			i,
				n;

	if (!stream_msg_classify(data, len, &info))
		return false;
	fo->msgs_published++;
	switch (info.op)
	{
		case 'B':
			/* a begin without commit cannot happen; be safe anyway */
			if (fo->in_txn)
				handle_commit(fo, "", 0, 0);
			fo->cur_begin = fo_msg_new(data, len, 'B', lsn);
			fo->in_txn = true;
			fo->txn_seq++;
			fo->txn_changes = 0;
			if (fo->paced && fo->cur_begin != NULL)
				adopt_carried(fo);
			break;
		case 'C':
			handle_commit(fo, data, len, lsn);
			break;
		case 'R':
			handle_relation(fo, data, len, lsn, &info);
			break;
		case 'I':
		case 'U':
		case 'D':
			fo->txn_changes++;
			one = fo_rel_lookup(fo, info.relid, false);
			if (one != NULL)
				route_change(fo, data, len, lsn, info.op, &one, 1);
			break;
		case 'T':
			fo->txn_changes++;
			rels = malloc(sizeof(FoRel *) * (info.nrelids > 0 ? info.nrelids : 1));
			if (rels == NULL)
				break;
			for (i = 0, n = 0; i < info.nrelids; i++)
				if ((rels[n] = fo_rel_lookup(fo, info.relids[i], false)) != NULL)
					n++;
			route_change(fo, data, len, lsn, 'T', rels, n);
			free(rels);
			break;
		default:
			/* logical messages ('M') are not routed to clients yet */
			break;
	}
	stream_msg_info_free(&info);
	return true;
}

int
fanout_lag_subscribers(Fanout *fo, const FanoutTableName *tables, int ntables)
{
	FoClient   *c;
	int			n = 0;

	if (fo->paced)
		return 0;
	for (c = fo->clients; c != NULL; c = c->next)
	{
		bool		named = false;

		if (c->lagging || c->closing)
			continue;
		for (int i = 0; i < c->nsubs && !named; i++)
			for (int k = 0; k < ntables && !named; k++)
				named = table_pattern_match_any(c->subs[i]->patterns,
												c->subs[i]->ntables,
												tables[k].schema,
												tables[k].table);
		if (named)
		{
			fo_lag(fo, c, NULL);
			n++;
		}
	}
	return n;
}
