/*-------------------------------------------------------------------------
 *
 * sql_status.c
 *	  SQL functions behind the pgsync.status and pgsync.clients views.
 *
 * They read the shared memory the worker publishes (shared_state.h) every
 * few hundred milliseconds, and the slot itself for its positions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xlog.h"
#include "fmgr.h"
#include "funcapi.h"
#include "replication/slot.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "shared_state.h"

static void
check_loaded(void)
{
	if (pgsync_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgsync is not loaded through shared_preload_libraries")));
}

#define LSN_OR_NULL(v, n, i, lsn) \
	do { if ((lsn) == InvalidXLogRecPtr) (n)[i] = true; \
		 else (v)[i] = LSNGetDatum(lsn); } while (0)

PG_FUNCTION_INFO_V1(pgsync_status);

Datum
pgsync_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[17];
	bool		nulls[17];
	ReplicationSlot *slot;
	XLogRecPtr	restart_lsn = InvalidXLogRecPtr;
	XLogRecPtr	confirmed = InvalidXLogRecPtr;
	PgsyncShared copy;
	int			i = 0;

	check_loaded();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	memset(nulls, 0, sizeof(nulls));

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(pgsync_slot_name, false);
	if (slot != NULL)
	{
		SpinLockAcquire(&slot->mutex);
		restart_lsn = slot->data.restart_lsn;
		confirmed = slot->data.confirmed_flush;
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);

	LWLockAcquire(pgsync_shared->lock, LW_SHARED);
	memcpy(&copy, pgsync_shared, offsetof(PgsyncShared, clients));
	LWLockRelease(pgsync_shared->lock);

	values[i++] = CStringGetTextDatum(pgsync_slot_name);
	values[i++] = CStringGetTextDatum(copy.state);
	if (copy.worker_pid != 0)
		values[i] = Int32GetDatum(copy.worker_pid);
	else
		nulls[i] = true;
	i++;
	if (copy.worker_pid != 0 && copy.started_at != 0)
		values[i] = TimestampTzGetDatum(copy.started_at);
	else
		nulls[i] = true;
	i++;
	LSN_OR_NULL(values, nulls, i, confirmed);
	i++;
	LSN_OR_NULL(values, nulls, i, restart_lsn);
	i++;
	if (restart_lsn != InvalidXLogRecPtr)
		values[i] = Int64GetDatum((int64) (GetXLogWriteRecPtr() - restart_lsn));
	else
		nulls[i] = true;
	i++;
	LSN_OR_NULL(values, nulls, i, copy.decode_lsn);
	i++;
	values[i++] = Int64GetDatum((int64) copy.msgs_decoded);
	values[i++] = Int64GetDatum((int64) copy.msgs_sent);
	values[i++] = Int64GetDatum((int64) copy.bytes_sent);
	values[i++] = Int32GetDatum(copy.nclients);
	if (copy.last_error[0] != '\0')
	{
		values[i] = CStringGetTextDatum(copy.last_error);
		values[i + 1] = TimestampTzGetDatum(copy.last_error_time);
	}
	else
		nulls[i] = nulls[i + 1] = true;
	i += 2;
	values[i++] = Int64GetDatum((int64) copy.log_bytes);
	LSN_OR_NULL(values, nulls, i, copy.log_oldest_lsn);
	i++;
	LSN_OR_NULL(values, nulls, i, copy.log_last_lsn);
	i++;
	Assert(i == 17);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

PG_FUNCTION_INFO_V1(pgsync_clients);

Datum
pgsync_clients(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	check_loaded();
	InitMaterializedSRF(fcinfo, 0);

	LWLockAcquire(pgsync_shared->lock, LW_SHARED);
	for (i = 0; i < pgsync_shared->max_clients; i++)
	{
		PgsyncClientStat *st = &pgsync_shared->clients[i];
		Datum		values[7];
		bool		nulls[7];

		if (!st->in_use)
			continue;
		memset(nulls, 0, sizeof(nulls));
		values[0] = CStringGetTextDatum(st->peer);
		values[1] = CStringGetTextDatum(st->subscriptions);
		LSN_OR_NULL(values, nulls, 2, st->last_lsn_sent);
		values[3] = Int64GetDatum((int64) st->queued_bytes);
		values[4] = Int64GetDatum((int64) st->msgs_sent);
		values[5] = Int64GetDatum((int64) st->bytes_sent);
		values[6] = TimestampTzGetDatum(st->connected_since);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(pgsync_shared->lock);
	return (Datum) 0;
}
