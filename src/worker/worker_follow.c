/*-------------------------------------------------------------------------
 *
 * worker_follow.c
 *	  A network worker's stream: the change log the decoding worker
 *	  writes, followed as it grows, routed to the worker's own fan-out.
 *
 * The decoding worker publishes in shared memory how far the log's files
 * hold complete units (worker_changelog_publish_end()) and sets the
 * network workers' latches.  Each pass here reads the new units with one
 * reader and publishes every record to this process's fan-out, as
 * decoding does in the worker: clients see the same messages with the
 * same resume points.  The log is the single source: a network worker
 * has no back-pressure on decoding, and one that falls behind only
 * routes later.
 *
 * Two read-only views of the log are kept.  The tail view goes as far as
 * published, for the pass's reader; the served view only as far as the
 * pass routed, and is worker_changelog() for everything else (a
 * subscription's first resume point, replays and their hand-over to live
 * push, snapshots' starts): a replay must never read past what live push
 * has routed, or it would get those units twice.
 *
 * Privileges and row security are evaluated as of now, in one transaction
 * per pass, as for a replay of the log (docs/SECURITY.md).  A transaction
 * decoded while in progress is not routed live, as in the worker: its
 * subscribers catch up from the log (see UnitState).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "storage/ipc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "shared_state.h"
#include "worker/worker_changelog.h"
#include "worker/worker_decode.h"
#include "worker/worker_follow.h"
#include "worker/worker_stream.h"

#define SERVICE_EVERY_RECORDS	256	/* inside a large unit */

static ChangeLog *tail_log = NULL;	/* up to the published end */
static ChangeLog *served_log = NULL;	/* up to what was routed */
static ChangeLogReader *tail = NULL;
static PgsyncLogEnd published;	/* as last read */
static ChangeLogEnd routed;		/* end of the last unit routed */

bool
follow_started(void)
{
	return tail != NULL;
}

static void
check_log(ChangeLog *log, ChangeLogStatus st, const char *what)
{
	if (st != CHANGELOG_OK)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("pgsync: network worker cannot %s the change log: %s",
						what, log ? changelog_error(log) : "out of memory")));
}

bool
follow_start(void)
{
	char		err[512];
	ChangeLogStatus st;

	pgsync_read_log_end(&published);
	if (!published.valid)
		return false;
	tail_log = changelog_follow_open(worker_changelog_dir(), &published.end,
									 err, sizeof(err));
	if (tail_log == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("pgsync: network worker cannot open the change log: %s", err)));
	served_log = changelog_follow_open(worker_changelog_dir(), &published.end,
									   err, sizeof(err));
	if (served_log == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("pgsync: network worker cannot open the change log: %s", err)));
	/*
	 * From the end: the reader first returns the relation messages in
	 * effect there (change_log.h), which the fan-out needs.
	 */
	tail = changelog_reader_open(tail_log, published.end.last_key, &st);
	if (tail == NULL)
		check_log(tail_log, st == CHANGELOG_OK ? CHANGELOG_ERROR : st, "read");
	routed = published.end;
	worker_changelog_set_follower(served_log);
	return true;
}

/* The log was replaced (slot lost or dropped): clients start over. */
static void
log_replaced(void)
{
	ereport(LOG,
			(errmsg("pgsync: the change log was replaced; network worker restarting")));
	proc_exit(1);
}

/*
 * The unit being routed.  Its begin is held until the unit shows whether
 * it is out of line (a transaction decoded while in progress): then, as
 * the worker does (worker.c, sink_cb), its records are not routed live;
 * the clients subscribed to a table it touches catch up from the log,
 * and only its begin and commit go through the fan-out.  Relation
 * messages outside it (the log repeats them at a segment's start) are
 * routed as they come.
 */
typedef struct UnitState
{
	char	   *begin;			/* held begin message, or NULL */
	size_t		begin_len;
	uint64		key;
	bool		out_of_line;
	FanoutTableName *tables;	/* the out-of-line unit's tables */
	int			ntables;
	int			tables_cap;
} UnitState;

static UnitState unit;			/* in follow_mcxt, reset after each pass */
static MemoryContext follow_mcxt = NULL;

/* Route the held begin, first lagging an out-of-line unit's subscribers. */
static void
release_begin(Fanout *fo)
{
	if (unit.begin == NULL)
		return;
	if (unit.out_of_line)
		fanout_lag_subscribers(fo, unit.tables, unit.ntables);
	fanout_publish(fo, unit.begin, unit.begin_len, unit.key);
	unit.begin = NULL;
}

static void
route_record(Fanout *fo, const ChangeLogRecord *rec)
{
	if (rec->before_resume)
	{
		/* the relation messages in effect where we start */
		fanout_publish(fo, rec->data, rec->len, rec->key);
		return;
	}
	if (rec->kind == 'B')
	{
		worker_changelog_note_commit(worker_changelog_message_xid(rec->data, rec->len),
									 rec->key);
		memset(&unit, 0, sizeof(unit));
		unit.begin = palloc(rec->len);
		memcpy(unit.begin, rec->data, rec->len);
		unit.begin_len = rec->len;
		unit.key = rec->key;
		return;
	}
	if (rec->flags & CHANGELOG_OUT_OF_LINE)
	{
		unit.out_of_line = true;
		if (rec->kind == 'R')
			stream_note_table(&unit.tables, &unit.ntables, &unit.tables_cap,
							  rec->data, rec->len);
		return;
	}
	if (rec->kind != 'R' || (rec->flags & CHANGELOG_LAST_OF_UNIT))
		release_begin(fo);
	fanout_publish(fo, rec->data, rec->len, rec->key);
}

/*
 * The served view goes as far as routed, and forgets the segments the
 * worker's retention removed.  Also when nothing new was routed: a view
 * that still listed a removed segment told a resuming client that its
 * first key was the oldest resume point, then refused a resume from
 * there (bench/gapless at 1,000,000 changes: two clients looped
 * 4,000 times on resume_too_old while the writers were idle).  A
 * segment removed under the routed position itself (the network worker
 * lagged behind retention) makes the update fail: the network worker
 * restarts, and its clients learn the truth on resume.
 */
static void
serve_routed(void)
{
	routed.oldest_seqno = Min(Max(routed.oldest_seqno, published.end.oldest_seqno),
							  routed.seqno);
	check_log(served_log, changelog_follow_update(served_log, &routed), "follow");
}

bool
follow_pass(Fanout *fo, int budget_ms, void (*service) (void))
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   budget_ms);
	PgsyncLogEnd now;
	bool		more = false;
	int			n = 0;
	MemoryContext old;

	pgsync_read_log_end(&now);
	if (!now.valid || now.generation != published.generation)
		log_replaced();
	published = now;
	check_log(tail_log, changelog_follow_update(tail_log, &published.end), "follow");
	if (changelog_last_key(tail_log) == routed.last_key)
	{
		/* nothing to route, but retention may have moved: see below */
		serve_routed();
		return false;
	}

	/* a pass ends between units: what a unit holds goes with the pass */
	if (follow_mcxt == NULL)
		follow_mcxt = AllocSetContextCreate(TopMemoryContext, "pgsync follow",
											ALLOCSET_DEFAULT_SIZES);
	old = CurrentMemoryContext;
	StartTransactionCommand();
	MemoryContextSwitchTo(follow_mcxt);
	for (;;)
	{
		ChangeLogRecord rec;
		ChangeLogStatus st = changelog_read(tail, &rec);

		if (st == CHANGELOG_END)
			break;
		check_log(tail_log, st, "read");
		route_record(fo, &rec);
		if ((rec.flags & CHANGELOG_LAST_OF_UNIT) && !rec.before_resume)
		{
			changelog_reader_end(tail, &routed);
			if (GetCurrentTimestamp() >= deadline)
			{
				more = true;
				break;
			}
		}
		else if (++n % SERVICE_EVERY_RECORDS == 0)
			service();
	}
	CommitTransactionCommand();
	MemoryContextSwitchTo(old);
	memset(&unit, 0, sizeof(unit));
	MemoryContextReset(follow_mcxt);
	if (!more)
		changelog_reader_end(tail, &routed);
	serve_routed();
	return more;
}

XLogRecPtr
follow_heartbeat_lsn(void)
{
	if (routed.last_key == published.end.last_key)
		return Max(published.heartbeat_lsn, routed.last_key);
	return routed.last_key;
}

XLogRecPtr
routed_position(void)
{
	if (tail == NULL)
		return decode_position();
	if (routed.last_key == published.end.last_key)
		return Max(published.routed_lsn, routed.last_key);
	return routed.last_key;
}
