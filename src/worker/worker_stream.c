/*-------------------------------------------------------------------------
 *
 * worker_stream.c
 *	  Transactions decoded while in progress: staged in spools until they
 *	  commit or abort.
 *
 * The worker decodes with the plugin's stream-in-progress option: a
 * transaction that passes pgsync.decoding_work_mem is handed over in
 * chunks as it is written (docs/PROTOCOL.md, "Streaming").  Each chunk's
 * messages go to the transaction's spool (change_log.h, "Out-of-line
 * units"), one per top-level xid, never to a client.  At its commit the
 * spool becomes part of the log without being copied
 * (worker_changelog_append_streamed()), so what is left to do at commit
 * does not grow with the transaction.
 *
 * Aborts.  PostgreSQL reports a subtransaction's abort (ROLLBACK TO
 * SAVEPOINT) with the subtransaction's xid.  Each subtransaction's first
 * change in the spool is marked; an abort truncates the spool back to the
 * aborted subtransaction's mark and forgets the marks after it, as
 * PostgreSQL's apply worker does with its spool files.  That is right for
 * nested and released savepoints alike: the spool is in WAL order, and
 * every change after the first one of a subtransaction S, up to S's
 * abort, was made while S was open, by S or by one of its descendants,
 * which are aborted with it (their aborts, if reported, find their marks
 * gone or past the end).  A top-level abort deletes the spool.
 *
 * A transaction that ended without an abort record (its backend died in
 * a crash) is never reported: stream_discard_ended() drops the spool of
 * a transaction no longer in progress and not committed.
 *
 * A crash loses the spools (the log removes them when opened): decoding
 * restarts from the slot's restart_lsn, which PostgreSQL keeps before the
 * first change of every transaction in progress, and the reorder buffer
 * streams such a transaction again from its start.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "storage/procarray.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "protocol/stream_msg.h"
#include "worker/worker_changelog.h"
#include "worker/worker_stream.h"

typedef struct SubxactMark
{
	uint32		subxid;
	ChangeLogSpoolMark mark;	/* where its first change is */
} SubxactMark;

typedef struct StreamedTxn
{
	uint32		xid;			/* hash key: top-level xid */
	ChangeLogSpool *spool;
	SubxactMark *marks;			/* in the order of their first change */
	int			nmarks;
	int			marks_cap;
	uint32		subxid;			/* of the changes that follow ('x') */
	/* the tables its relation messages name (one before any change) */
	FanoutTableName *tables;	/* [ntables], names in stream_mcxt */
	int			ntables;
	int			tables_cap;
} StreamedTxn;

static HTAB *streamed = NULL;
static StreamedTxn *chunk = NULL;	/* between 's' and 'e' */
static MemoryContext stream_mcxt = NULL;

/* The xid, and subxid if any, of ["s",xid], ["x",xid,subxid], ... */
static void
control_xids(const char *data, size_t len, uint32 *xid, uint32 *subxid)
{
	size_t		i = 5;			/* past ["s", */

	*xid = *subxid = 0;
	for (; i < len && data[i] >= '0' && data[i] <= '9'; i++)
		*xid = *xid * 10 + (data[i] - '0');
	if (i < len && data[i] == ',')
		for (i++; i < len && data[i] >= '0' && data[i] <= '9'; i++)
			*subxid = *subxid * 10 + (data[i] - '0');
	if (*xid == 0)
		elog(ERROR, "pgsync: malformed stream message from the output plugin");
}

static StreamedTxn *
lookup(uint32 xid, bool create)
{
	StreamedTxn *t;
	bool		found;

	if (streamed == NULL)
	{
		HASHCTL		ctl;

		stream_mcxt = AllocSetContextCreate(TopMemoryContext,
											"pgsync streamed transactions",
											ALLOCSET_DEFAULT_SIZES);
		ctl.keysize = sizeof(uint32);
		ctl.entrysize = sizeof(StreamedTxn);
		ctl.hcxt = stream_mcxt;
		streamed = hash_create("pgsync streamed transactions", 16, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	t = hash_search(streamed, &xid, create ? HASH_ENTER : HASH_FIND, &found);
	if (t != NULL && !found)
	{
		memset(t, 0, sizeof(*t));
		t->xid = xid;
		t->subxid = xid;
		t->spool = worker_changelog_spool(xid);
	}
	return t;
}

static void
forget(StreamedTxn *t)
{
	uint32		xid = t->xid;

	if (t->marks)
		pfree(t->marks);
	stream_tables_free(t->tables, t->ntables);
	if (chunk == t)
		chunk = NULL;
	hash_search(streamed, &xid, HASH_REMOVE, NULL);
}

/* Make room for one more element in a growing array of stream_mcxt. */
static void *
grow(void *arr, int n, int *cap, size_t elem)
{
	if (n < *cap)
		return arr;
	*cap = *cap ? *cap * 2 : 8;
	return arr == NULL ? MemoryContextAlloc(stream_mcxt, elem * *cap) :
		repalloc(arr, elem * *cap);
}

/* The changes that follow belong to subxid: mark its first one. */
static void
enter_subxact(StreamedTxn *t, uint32 subxid)
{
	int			i;

	t->subxid = subxid;
	if (subxid == t->xid)
		return;
	for (i = 0; i < t->nmarks; i++)
		if (t->marks[i].subxid == subxid)
			return;
	t->marks = grow(t->marks, t->nmarks, &t->marks_cap, sizeof(SubxactMark));
	t->marks[t->nmarks].subxid = subxid;
	t->marks[t->nmarks].mark = changelog_spool_mark(t->spool);
	t->nmarks++;
}

static void
abort_subxact(StreamedTxn *t, uint32 subxid)
{
	int			i;

	for (i = 0; i < t->nmarks; i++)
		if (t->marks[i].subxid == subxid)
		{
			worker_changelog_spool_truncate(t->spool, t->marks[i].mark);
			t->nmarks = i;
			return;
		}
}

/*
 * A relation message of a chunk: note the table it names.  The plugin
 * sends one before the first change of each table in the transaction
 * (output_plugin.c), so these are all the tables its changes touch (and
 * perhaps some only a rolled-back subtransaction touched).
 */
static void
note_table(StreamedTxn *t, const char *data, size_t len)
{
	MemoryContext old = MemoryContextSwitchTo(stream_mcxt);

	stream_note_table(&t->tables, &t->ntables, &t->tables_cap, data, len);
	MemoryContextSwitchTo(old);
}

/*
 * Add the table a relation message names to a list, by name: a table
 * renamed inside the transaction is kept under both.  In the current
 * memory context.
 */
void
stream_note_table(FanoutTableName **tables, int *ntables, int *cap,
				  const char *data, size_t len)
{
	StreamMsgInfo info;
	int			i;

	if (!stream_msg_classify(data, len, &info) || info.op != 'R')
		elog(ERROR, "pgsync: unreadable relation message in a streamed transaction");
	for (i = *ntables - 1; i >= 0; i--)
		if (strcmp((*tables)[i].table, info.table) == 0 &&
			strcmp((*tables)[i].schema, info.schema) == 0)
			break;
	if (i < 0)
	{
		if (*ntables == *cap)
		{
			*cap = *cap ? *cap * 2 : 8;
			*tables = *tables == NULL ? palloc(sizeof(FanoutTableName) * *cap) :
				repalloc(*tables, sizeof(FanoutTableName) * *cap);
		}
		(*tables)[*ntables].schema = pstrdup(info.schema);
		(*tables)[*ntables].table = pstrdup(info.table);
		(*ntables)++;
	}
	stream_msg_info_free(&info);
}

bool
stream_consume(const char *data, size_t len)
{
	char		op = len > 3 ? data[2] : '?';
	uint32		xid,
				subxid;
	StreamedTxn *t;

	switch (op)
	{
		case 's':
			control_xids(data, len, &xid, &subxid);
			chunk = lookup(xid, true);
			return true;
		case 'x':
			control_xids(data, len, &xid, &subxid);
			if (chunk == NULL || chunk->xid != xid)
				elog(ERROR, "pgsync: stream message outside its chunk");
			enter_subxact(chunk, subxid);
			return true;
		case 'e':
			chunk = NULL;
			return true;
		case 'a':
			control_xids(data, len, &xid, &subxid);
			if ((t = lookup(xid, false)) == NULL)
				return true;
			if (subxid == xid)
			{
				changelog_spool_discard(t->spool);
				forget(t);
			}
			else
				abort_subxact(t, subxid);
			return true;
	}
	if (chunk == NULL)
		return false;
	worker_changelog_spool_append(chunk->spool, data, len);
	if (op == 'R')
		note_table(chunk, data, len);
	return true;
}

ChangeLogSpool *
stream_take(uint32 xid, FanoutTableName **tables, int *ntables)
{
	StreamedTxn *t = streamed != NULL ? lookup(xid, false) : NULL;
	ChangeLogSpool *spool;

	*tables = NULL;
	*ntables = 0;
	if (t == NULL)
		return NULL;
	spool = t->spool;
	*tables = t->tables;		/* now the caller's */
	*ntables = t->ntables;
	t->tables = NULL;
	t->ntables = 0;
	forget(t);
	return spool;
}

void
stream_tables_free(FanoutTableName *tables, int ntables)
{
	for (int i = 0; i < ntables; i++)
	{
		pfree((char *) tables[i].schema);
		pfree((char *) tables[i].table);
	}
	if (tables != NULL)
		pfree(tables);
}

int
stream_count(void)
{
	return streamed != NULL ? (int) hash_get_num_entries(streamed) : 0;
}

void
stream_discard_ended(void)
{
	HASH_SEQ_STATUS status;
	StreamedTxn *t;
	TransactionId oldest_clog;

	if (streamed == NULL || hash_get_num_entries(streamed) == 0)
		return;
	oldest_clog = ShmemVariableCache->oldestClogXid;
	hash_seq_init(&status, streamed);
	while ((t = hash_seq_search(&status)) != NULL)
	{
		/* (the status of an xid older than the commit log is not known) */
		if (t == chunk || TransactionIdPrecedes(t->xid, oldest_clog) ||
			TransactionIdIsInProgress(t->xid) || TransactionIdDidCommit(t->xid))
			continue;
		changelog_spool_discard(t->spool);
		forget(t);				/* removing the current entry is allowed */
	}
}
