/*-------------------------------------------------------------------------
 *
 * worker_decode.c
 *	  Logical decoding of the pgsync slot inside the worker process.
 *
 * Modeled on pg_logical_slot_get_changes_guts() (logicalfuncs.c), but the
 * slot stays acquired and the decoding context stays alive for the life of
 * the worker, as in a walsender: the plugin's per-session state (relation
 * cache, relation messages already sent) carries over between passes.
 * Decoding runs outside any transaction; the reorder buffer opens and
 * aborts its own around the plugin callbacks.
 *
 * Each pass reads only up to GetFlushRecPtr(), and never waits for WAL:
 * the last record may still cross the flush pointer (the WAL writer
 * flushes whole pages).  read_local_xlog_page() would sleep in 1 ms steps
 * until it is flushed, with neither the network loop nor a shutdown
 * request served meanwhile; in a fast shutdown nothing flushes it before
 * the shutdown checkpoint, which waits for this worker: the server hung.
 * read_flushed_page() fails the read instead, the pass ends, and the
 * record is read again from its start by a later pass;
 * decode_wait_for_wal() tells the main loop when, and flushes that WAL
 * itself if nobody else does (see there).  A pass also stops after budget_ms so the
 * network is serviced regularly.  A single huge transaction, however, is
 * decoded inside one LogicalDecodingProcessRecord() call (its commit
 * record): the write callback therefore calls the service callback every
 * service_interval_ms.  That runs the libuv loop (lws callbacks) from
 * inside the reorder buffer's transaction: safe because those callbacks
 * use no catalog, no transaction state and never ERROR; catalog work
 * (subscribe validation) is deferred to the main loop.
 *
 * Also owns the separation of the two catalogs one process sees: decoding
 * reads it as of each change (historic snapshots), the main loop as of now
 * (subscribe checks).  Both fill the same relcache and catcaches, so each
 * side flushes what the other left behind (see "Time travel and now").
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlogutils.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "postmaster/interrupt.h"
#include "replication/decode.h"
#include "replication/logical.h"
#include "replication/slot.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "worker/worker_decode.h"

static LogicalDecodingContext *ctx = NULL;
static MemoryContext decode_mcxt = NULL;	/* lives as long as ctx */
static MemoryContext pass_mcxt = NULL;	/* reset after each pass */
static DecodeSink sink = NULL;
static DecodeService service = NULL;
static int	service_interval_ms = 50;
static TimestampTz last_service = 0;

/*
 * WAL decoding waits for: the end of what the last read needed, when the
 * record it was in crossed the flush pointer, and since when.
 */
#define PARTIAL_RECORD_POLL_MS	1	/* as read_local_xlog_page() */
#define PARTIAL_RECORD_FLUSH_MS 200 /* then flush it ourselves (the WAL
									 * writer's default delay) */
#define FORCED_FLUSH_MIN_MS		10	/* at most one forced flush per */
static XLogRecPtr partial_record_wants = InvalidXLogRecPtr;
static TimestampTz partial_record_since = 0;
static TimestampTz last_forced_flush = 0;

/*
 * Time travel and now.
 *
 * The relcache and the catcaches of this process serve two masters.
 * Decoding opens each changed table under a historic snapshot, the
 * catalog as of the change; the main loop, between passes, opens tables
 * as of now (subscribe_check() compiles row filters against the table's
 * current columns, snapshot requests resolve table names).  A cache entry
 * carries no mark of the snapshot it was built under, and stays valid
 * until an invalidation for it is executed:
 *
 *	- an entry built now and then used by decoding describes changes
 *	  decoded before the catalog reached its present state with the
 *	  present description: after ALTER TABLE ADD COLUMN, an older insert
 *	  came out with the new column (and a NULL in it); after a return to
 *	  REPLICA IDENTITY DEFAULT and a DROP COLUMN, changes made under FULL
 *	  came out without the dropped column's value and with the key alone
 *	  as their old row.  The plugin's own relation cache (relation_info.c)
 *	  is rebuilt from that relation, so the R message agreed with the wrong
 *	  values, on live clients and in the log alike.  Decoding is behind
 *	  "now" exactly when it matters: after a restart or a kill while it
 *	  catches up from the slot, and behind a large transaction.
 *	- an entry built by decoding and then used now gives the main loop a
 *	  past catalog: a filter on a column just added was refused
 *	  (bad_filter: no column).
 *
 * pg_logical_slot_get_changes() avoids both with InvalidateSystemCaches()
 * before and after decoding (logicalfuncs.c: "invalidate non-timetravel
 * entries"); a walsender never looks at the catalog as of now.  Here
 * decoding and present-time work alternate for the life of the worker, so
 * the flush is done only on a change of side: a transaction callback
 * notes transactions that end outside a pass (catalog work as of now:
 * every such access is inside one) and transactions that end inside one
 * (the reorder buffer opens and aborts one around every replay); a pass
 * flushes if the former happened since the last pass, and
 * decode_use_current_catalog(), called by catalog work as of now, flushes
 * if the latter happened since the last flush.  The flush also reaches
 * the plugin's relation cache through its relcache callback: entries are
 * rebuilt as of the next change, and their R message is sent again only
 * if it differs from the one last sent.
 */
static bool in_pass = false;
static bool flushing = false;	/* in one of our InvalidateSystemCaches() */
static bool xact_callback_registered = false;
static bool caches_hold_now = false;	/* present-time xact since a pass */
static bool caches_hold_past = false;	/* replay since the last flush */

static void
decode_xact_cb(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PREPARE)
		return;
	if (in_pass)
		caches_hold_past = true;
	else
		caches_hold_now = true;
}

void
decode_use_current_catalog(void)
{
	if (!caches_hold_past)
		return;
	flushing = true;
	InvalidateSystemCaches();
	flushing = false;
	caches_hold_past = false;
}

bool
decode_flushing_caches(void)
{
	return flushing;
}

bool
decode_in_pass(void)
{
	return in_pass;
}

static void
prepare_write_cb(LogicalDecodingContext *lctx, XLogRecPtr lsn,
				 TransactionId xid, bool last_write)
{
	resetStringInfo(lctx->out);
}

static void
write_cb(LogicalDecodingContext *lctx, XLogRecPtr lsn, TransactionId xid,
		 bool last_write)
{
	sink(lctx->out->data, lctx->out->len, lsn);

	/* keep the network alive while a large transaction is decoded */
	if (service != NULL)
	{
		TimestampTz now = GetCurrentTimestamp();

		if (TimestampDifferenceExceeds(last_service, now, service_interval_ms))
		{
			last_service = now;
			if (ShutdownRequestPending)
				ereport(FATAL,
						(errcode(ERRCODE_ADMIN_SHUTDOWN),
						 errmsg("pgsync: terminating the worker during decoding due to administrator command")));
			service();
		}
	}
}

/*
 * The reader's page callback: read_local_xlog_page(), except that WAL not
 * flushed yet fails the read instead of being waited for (file header).
 * A failed page read leaves the reader with no record and no error
 * message; decode_pass() then begins reading again at the record's start.
 */
static int
read_flushed_page(XLogReaderState *state, XLogRecPtr page, int needed,
				  XLogRecPtr record, char *buf)
{
	XLogRecPtr	upto = page + needed;

	if (!RecoveryInProgress() && upto > GetFlushRecPtr(NULL))
	{
		if (partial_record_wants == InvalidXLogRecPtr)
			partial_record_since = GetCurrentTimestamp();
		partial_record_wants = Max(partial_record_wants, upto);
		return -1;
	}
	return read_local_xlog_page(state, page, needed, record, buf);
}

static void
update_progress_cb(LogicalDecodingContext *lctx, XLogRecPtr lsn,
				   TransactionId xid, bool skipped_xact)
{
	/* nothing to do: progress is confirmed at the end of each pass */
}

void
decode_start(const char *slot_name, DecodeSink s, DecodeService svc,
			 int interval_ms)
{
	List	   *options;
	MemoryContext old;

	Assert(ctx == NULL);
	sink = s;
	service = svc;
	partial_record_wants = InvalidXLogRecPtr;
	service_interval_ms = interval_ms;

	CheckLogicalDecodingRequirements();
	ReplicationSlotAcquire(slot_name, true);
	if (!xact_callback_registered)
	{
		RegisterXactCallback(decode_xact_cb, NULL);
		xact_callback_registered = true;
	}
	/* whatever the caches hold was built as of now (slot creation, ...) */
	caches_hold_now = true;

	if (decode_mcxt == NULL)
		decode_mcxt = AllocSetContextCreate(TopMemoryContext,
											"pgsync decoding",
											ALLOCSET_DEFAULT_SIZES);
	if (pass_mcxt == NULL)
		pass_mcxt = AllocSetContextCreate(TopMemoryContext,
										  "pgsync decoding pass",
										  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(decode_mcxt);
	options = list_make4(makeDefElem("format", (Node *) makeString("compact"), -1),
						 makeDefElem("include-transaction", (Node *) makeString("true"), -1),
						 makeDefElem("skip-empty-xacts", (Node *) makeString("true"), -1),
						 makeDefElem("actions", (Node *) makeString("insert,update,delete,truncate"), -1));
	/* large transactions are staged while in progress (worker_stream.c) */
	options = lappend(options,
					  makeDefElem("stream-in-progress", (Node *) makeString("true"), -1));
	/* values too large to send are marked (fixed for this decoding context) */
	options = lappend(options,
					  makeDefElem("max-value-bytes",
								  (Node *) makeString(psprintf("%d", pgsync_max_value_bytes)), -1));
	ctx = CreateDecodingContext(InvalidXLogRecPtr, options, false,
								XL_ROUTINE(.page_read = read_flushed_page,
										   .segment_open = wal_segment_open,
										   .segment_close = wal_segment_close),
								prepare_write_cb, write_cb, update_progress_cb);
	MemoryContextSwitchTo(old);

	XLogBeginRead(ctx->reader, MyReplicationSlot->data.restart_lsn);
	last_service = GetCurrentTimestamp();
}

void
decode_forget(void)
{
	/* after an error the slot may still be ours: let it go for the retry */
	if (MyReplicationSlot != NULL)
		ReplicationSlotRelease();
	ctx = NULL;
	if (decode_mcxt != NULL)
		MemoryContextReset(decode_mcxt);
}

bool
decode_started(void)
{
	return ctx != NULL;
}

/*
 * Buffers that grow to the largest record or message seen and are never
 * shrunk by PostgreSQL: the reader's buffer for records spanning pages, the
 * reorder buffer's buffer for spilled changes, and the plugin's output
 * buffer.  After a pass (neither is in use then), give
 * back what a peak left behind -- a 200 MB logical message otherwise kept
 * the worker about 400 MB larger for good.  Both are allocated again, at
 * the size needed, by the next record or message that needs them.
 */
#define PEAK_BUFFER_KEEP	(4 * 1024 * 1024)

static void
release_peak_buffers(void)
{
	XLogReaderState *reader = ctx->reader;

	if (reader->readRecordBuf != NULL &&
		reader->readRecordBufSize > PEAK_BUFFER_KEEP)
	{
		/* the reader expects a buffer: its initial size, as XLogReaderAllocate */
		MemoryContext cxt = GetMemoryChunkContext(reader->readRecordBuf);
		uint32		size = 5 * Max(BLCKSZ, XLOG_BLCKSZ);

		pfree(reader->readRecordBuf);
		reader->readRecordBuf = MemoryContextAlloc(cxt, size);
		reader->readRecordBufSize = size;
	}
	if (ctx->reorder->outbuf != NULL &&
		ctx->reorder->outbufsize > PEAK_BUFFER_KEEP)
	{
		/* (de)serializing spilled changes: as large as the largest one */
		pfree(ctx->reorder->outbuf);
		ctx->reorder->outbuf = NULL;
		ctx->reorder->outbufsize = 0;
	}
	if (ctx->out != NULL && ctx->out->maxlen > PEAK_BUFFER_KEEP)
	{
		MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(ctx->out->data));

		pfree(ctx->out->data);
		initStringInfo(ctx->out);
		MemoryContextSwitchTo(old);
	}
}

bool
decode_pass(int budget_ms)
{
	XLogRecPtr	flush = GetFlushRecPtr(NULL);
	TimestampTz start = GetCurrentTimestamp();
	MemoryContext old;
	bool		more = false;
	int			nrecords = 0;

	if (ctx == NULL || ctx->reader->EndRecPtr >= flush)
		return false;

	/* no entry built as of now may describe a change (see above) */
	if (caches_hold_now)
	{
		Assert(!IsTransactionState());
		flushing = true;
		InvalidateSystemCaches();
		flushing = false;
		caches_hold_now = false;
	}

	old = MemoryContextSwitchTo(pass_mcxt);
	last_service = start;
	in_pass = true;				/* an ERROR below ends the worker */
	while (ctx->reader->EndRecPtr < flush)
	{
		XLogRecord *record;
		char	   *errm = NULL;

		/*
		 * The reader keeps its decode buffer (and oversized records) in the
		 * memory context current when it reads: that must outlive the pass.
		 */
		MemoryContextSwitchTo(decode_mcxt);
		record = XLogReadRecord(ctx->reader, &errm);
		MemoryContextSwitchTo(pass_mcxt);
		if (errm)
			elog(ERROR, "pgsync: could not read WAL: %s", errm);
		if (record == NULL && partial_record_wants != InvalidXLogRecPtr)
		{
			/* its end is not flushed yet: from its start, next time */
			XLogBeginRead(ctx->reader, ctx->reader->EndRecPtr);
			break;
		}
		if (record != NULL)
		{
			partial_record_wants = InvalidXLogRecPtr;
			LogicalDecodingProcessRecord(ctx, ctx->reader);
		}

		CHECK_FOR_INTERRUPTS();
		if (++nrecords % 64 == 0 &&
			TimestampDifferenceExceeds(start, GetCurrentTimestamp(), budget_ms))
		{
			more = ctx->reader->EndRecPtr < flush;
			break;
		}
	}
	in_pass = false;
	MemoryContextSwitchTo(old);
	MemoryContextReset(pass_mcxt);
	release_peak_buffers();

	return more;
}

long
decode_wait_for_wal(XLogRecPtr announced_commit, TimestampTz now)
{
	XLogRecPtr	wanted = InvalidXLogRecPtr;
	bool		force = false;
	long		retry_ms = PARTIAL_RECORD_POLL_MS;

	if (ctx == NULL)
		return -1;
	if (announced_commit > ctx->reader->EndRecPtr)
	{
		/*
		 * A commit announced but not flushed yet: an asynchronous commit.
		 * Rather than wait for the WAL writer (up to 3 x wal_writer_delay),
		 * flush it: the change cannot be pushed before it is durable anyway.
		 */
		wanted = announced_commit;
		force = true;
		retry_ms = FORCED_FLUSH_MIN_MS;
	}
	if (partial_record_wants != InvalidXLogRecPtr)
	{
		/*
		 * The rest of a record: the WAL writer or the next commit flushes
		 * it, soon while it is written; a transaction left open, or a
		 * server shutting down, may not.
		 */
		wanted = Max(wanted, partial_record_wants);
		force |= TimestampDifferenceExceeds(partial_record_since, now,
											PARTIAL_RECORD_FLUSH_MS);
	}
	if (wanted == InvalidXLogRecPtr)
		return -1;
	if (wanted <= GetFlushRecPtr(NULL))
		return 0;
	if (force && TimestampDifferenceExceeds(last_forced_flush, now,
											FORCED_FLUSH_MIN_MS))
	{
		XLogFlush(wanted);
		last_forced_flush = now;
		return 0;
	}
	return retry_ms;
}

void
decode_confirm(XLogRecPtr upto)
{
	if (ctx == NULL || upto == InvalidXLogRecPtr ||
		upto <= MyReplicationSlot->data.confirmed_flush)
		return;
	LogicalConfirmReceivedLocation(upto);
	ReplicationSlotMarkDirty();
}

XLogRecPtr
decode_position(void)
{
	return ctx ? ctx->reader->EndRecPtr : InvalidXLogRecPtr;
}

XLogRecPtr
decode_confirmed(void)
{
	XLogRecPtr	r;

	if (MyReplicationSlot == NULL)
		return InvalidXLogRecPtr;
	SpinLockAcquire(&MyReplicationSlot->mutex);
	r = MyReplicationSlot->data.confirmed_flush;
	SpinLockRelease(&MyReplicationSlot->mutex);
	return r;
}
