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
 * Each pass reads only up to GetFlushRecPtr(): read_local_xlog_page()
 * sleeps in 1 ms steps waiting for WAL beyond the flush pointer, which
 * only happens when the last record straddles it (it is then flushed
 * within a wal_writer_delay).  A pass also stops after budget_ms so the
 * network is serviced regularly.  A single huge transaction, however, is
 * decoded inside one LogicalDecodingProcessRecord() call (its commit
 * record): the write callback therefore calls the service callback every
 * service_interval_ms.  That runs the libuv loop (lws callbacks) from
 * inside the reorder buffer's transaction: safe because those callbacks
 * use no catalog, no transaction state and never ERROR; catalog work
 * (subscribe validation) is deferred to the main loop.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "access/xlogutils.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "postmaster/interrupt.h"
#include "replication/decode.h"
#include "replication/logical.h"
#include "replication/slot.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "worker_decode.h"

static LogicalDecodingContext *ctx = NULL;
static MemoryContext decode_mcxt = NULL;	/* lives as long as ctx */
static MemoryContext pass_mcxt = NULL;	/* reset after each pass */
static DecodeSink sink = NULL;
static DecodeService service = NULL;
static int	service_interval_ms = 50;
static TimestampTz last_service = 0;

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
						 errmsg("terminating pgsync worker during decoding due to administrator command")));
			service();
		}
	}
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
	service_interval_ms = interval_ms;

	CheckLogicalDecodingRequirements();
	ReplicationSlotAcquire(slot_name, true);

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
	ctx = CreateDecodingContext(InvalidXLogRecPtr, options, false,
								XL_ROUTINE(.page_read = read_local_xlog_page,
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

	old = MemoryContextSwitchTo(pass_mcxt);
	last_service = start;
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
		if (record != NULL)
			LogicalDecodingProcessRecord(ctx, ctx->reader);

		CHECK_FOR_INTERRUPTS();
		if (++nrecords % 64 == 0 &&
			TimestampDifferenceExceeds(start, GetCurrentTimestamp(), budget_ms))
		{
			more = ctx->reader->EndRecPtr < flush;
			break;
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(pass_mcxt);

	return more;
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
