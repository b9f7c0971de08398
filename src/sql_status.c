/*-------------------------------------------------------------------------
 *
 * sql_status.c
 *	  SQL functions behind the pgsync.status and pgsync.clients views, and
 *	  pgsync.drop_slot().
 *
 * They read the shared memory the worker publishes (shared_state.h) every
 * few hundred milliseconds, and the slot itself for its positions and the
 * WAL it retains (slot_watch.c).  pgsync.status works without the library
 * preloaded too (state "not loaded"): the slot's retention is what a DBA
 * needs to see when pgsync no longer runs.
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
#include "pgsync.h"
#include "shared_state.h"
#include "worker/slot_watch.h"
#include "worker/worker_changelog.h"

static void
check_loaded(void)
{
	if (pgsync_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgsync: not loaded through shared_preload_libraries")));
}

#define LSN_OR_NULL(v, n, i, lsn) \
	do { if ((lsn) == InvalidXLogRecPtr) (n)[i] = true; \
		 else (v)[i] = LSNGetDatum(lsn); } while (0)

PG_FUNCTION_INFO_V1(pgsync_status);

Datum
pgsync_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[20];
	bool		nulls[20];
	const char *name = slot_watch_name();
	SlotWatch	w;
	PgsyncShared copy;
	int			i = 0;
	uint64		msgs_sent = 0;
	uint64		bytes_sent = 0;
	int			nclients = 0;
	int			nnetwork = 0;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	memset(nulls, 0, sizeof(nulls));

	(void) slot_watch_read(name, &w);
	if (pgsync_shared != NULL)
	{
		LWLockAcquire(pgsync_shared->lock, LW_SHARED);
		memcpy(&copy, pgsync_shared, offsetof(PgsyncShared, clients));
		LWLockRelease(pgsync_shared->lock);
	}
	else
	{
		memset(&copy, 0, sizeof(copy));
		strlcpy(copy.state, "not loaded", PGSYNC_STATE_LEN);
	}

	values[i++] = CStringGetTextDatum(name);
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
	LSN_OR_NULL(values, nulls, i, w.confirmed_flush);
	i++;
	LSN_OR_NULL(values, nulls, i, w.restart_lsn);
	i++;
	if (w.retained_bytes >= 0)
		values[i] = Int64GetDatum(w.retained_bytes);
	else
		nulls[i] = true;
	i++;
	LSN_OR_NULL(values, nulls, i, copy.decode_lsn);
	i++;
	values[i++] = Int64GetDatum((int64) copy.msgs_decoded);
	/* what every serving process sent: the worker, or the network workers */
	for (int k = 0; k < lengthof(copy.serve); k++)
	{
		if (copy.serve[k].pid == 0)
			continue;
		msgs_sent += copy.serve[k].msgs_sent;
		bytes_sent += copy.serve[k].bytes_sent;
		nclients += copy.serve[k].nclients;
		if (k > 0)
			nnetwork++;
	}
	values[i++] = Int64GetDatum((int64) msgs_sent);
	values[i++] = Int64GetDatum((int64) bytes_sent);
	values[i++] = Int32GetDatum(nclients);
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
	if (w.wal_status != NULL)
		values[i] = CStringGetTextDatum(w.wal_status);
	else
		nulls[i] = true;
	i++;
	if (w.advanced_at != 0)
		values[i] = TimestampTzGetDatum(w.advanced_at);
	else
		nulls[i] = true;
	i++;
	values[i++] = Int32GetDatum(nnetwork);
	Assert(i == 20);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

PG_FUNCTION_INFO_V1(pgsync_clients);

Datum
pgsync_clients(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			per = pgsync_shared->max_clients;
	PgsyncClientStat *copy = palloc(sizeof(PgsyncClientStat) * per);

	check_loaded();
	InitMaterializedSRF(fcinfo, 0);

	/* one serving process's lines at a time: copied under its lock */
	for (int r = 0; r < pgsync_shared->nclient_slots / per; r++)
	{
		LWLock	   *lock = pgsync_shared->client_lock[pgsync_range_server(r)];
		int			n = 0;

		LWLockAcquire(lock, LW_SHARED);
		for (int i = r * per; i < (r + 1) * per; i++)
			if (pgsync_shared->clients[i].in_use)
				copy[n++] = pgsync_shared->clients[i];
		LWLockRelease(lock);
		for (int k = 0; k < n; k++)
		{
			PgsyncClientStat *st = &copy[k];
			Datum		values[8];
			bool		nulls[8];

			memset(nulls, 0, sizeof(nulls));
			values[0] = CStringGetTextDatum(st->peer);
			values[1] = CStringGetTextDatum(st->subscriptions);
			LSN_OR_NULL(values, nulls, 2, st->last_lsn_sent);
			values[3] = Int64GetDatum((int64) st->queued_bytes);
			values[4] = Int64GetDatum((int64) st->msgs_sent);
			values[5] = Int64GetDatum((int64) st->bytes_sent);
			values[6] = TimestampTzGetDatum(st->connected_since);
			values[7] = Int32GetDatum(st->worker_pid);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	pfree(copy);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(pgsync_drop_slot);

/*
 * pgsync.drop_slot(): drop the slot and the change log together, to
 * release the WAL a slot pgsync no longer consumes holds.  Refused while a
 * process (the worker) holds the slot.  The slot is acquired first, so the
 * worker cannot start using it meanwhile; the log goes before the slot
 * (worker_changelog_discard()).  Returns the number of log segments removed.
 */
Datum
pgsync_drop_slot(PG_FUNCTION_ARGS)
{
	const char *name = slot_watch_name();
	SlotWatch	w;
	int			n;

	CheckSlotPermissions();
	if (!slot_watch_read(name, &w))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("replication slot \"%s\" does not exist", name)));
	if (!w.is_pgsync)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgsync: replication slot \"%s\" is not a pgsync slot", name),
				 errhint("Check pgsync.slot_name.")));
	if (w.active_pid != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("pgsync: replication slot \"%s\" is in use by process %d", name,
						w.active_pid),
				 errdetail("The pgsync worker drops nothing it is streaming from; while it runs it keeps the slot's WAL retention small by itself."),
				 errhint("To reset pgsync, set pgsync.port = 0 and restart the server, call pgsync.drop_slot(), then enable the worker again.")));

	ReplicationSlotAcquire(name, true);
	n = worker_changelog_discard();
	ReplicationSlotRelease();
	ReplicationSlotDrop(name, true);
	ereport(LOG,
			(errmsg("pgsync: dropped replication slot \"%s\" and removed the change log (%d segments)",
					name, n)));
	PG_RETURN_INT32(n);
}
