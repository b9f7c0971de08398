/*-------------------------------------------------------------------------
 *
 * slot_watch.c
 *	  The WAL the pgsync slot retains: status, warning, disabled watcher.
 *
 * See slot_watch.h.  NOTES:
 *
 * "Since when" is the time the slot's restart_lsn was last seen to move,
 * kept in shared memory by whoever looks at the slot (the worker every
 * status tick, the disabled watcher, pgsync.status).  Shared memory starts
 * empty with the server: the first look then takes the modification time
 * of the slot's state file ($PGDATA/pg_replslot/<name>/state), which
 * PostgreSQL rewrites when restart_lsn moves and at checkpoints after the
 * slot was confirmed, so a slot nobody moved since before the restart
 * shows when it last moved, give or take a checkpoint.
 *
 * Who warns: the worker (every few seconds, and before it uses the slot,
 * so a worker that fails right after starting still warns), and with
 * pgsync.port = 0 a watcher in the same background worker slot that never
 * acquires the slot and exits once there is none.  A server without the
 * library preloaded has no pgsync process: pgsync.status still shows the
 * slot's retention then.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "access/xlog.h"
#if PG_VERSION_NUM >= 150000
#include "access/xlogrecovery.h"
#endif
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/slot.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "shared_state.h"
#include "worker/slot_watch.h"

#define WARNING_REPEAT_MS	(5 * 60 * 1000)
#define WATCH_INTERVAL_MS	5000

const char *
slot_watch_name(void)
{
	const char *name;

	if (pgsync_slot_name != NULL)
		return pgsync_slot_name;
	/* not preloaded: a placeholder setting, if postgresql.conf has one */
	name = GetConfigOption("pgsync.slot_name", true, false);
	return name != NULL ? name : "pgsync";
}

/* When the slot's state file was last written; 0 if unknown. */
static TimestampTz
state_file_time(const char *name)
{
	char		path[MAXPGPATH];
	struct stat st;

	snprintf(path, sizeof(path), "pg_replslot/%s/state", name);
	if (stat(path, &st) != 0)
		return 0;
	return time_t_to_timestamptz(st.st_mtime);
}

static const char *
wal_status_name(const SlotWatch *w)
{
	if (w->invalidated)
		return "lost";
	if (w->restart_lsn == InvalidXLogRecPtr)
		return NULL;
	switch (GetWALAvailability(w->restart_lsn))
	{
		case WALAVAIL_RESERVED:
			return "reserved";
		case WALAVAIL_EXTENDED:
			return "extended";
		case WALAVAIL_UNRESERVED:
			return "unreserved";
		case WALAVAIL_REMOVED:
			return "lost";
		default:
			return NULL;
	}
}

/* Note when restart_lsn moved; the time it last did. */
static TimestampTz
note_advance(const char *name, XLogRecPtr restart_lsn)
{
	TimestampTz at;

	if (pgsync_shared == NULL)
		return state_file_time(name);
	LWLockAcquire(pgsync_shared->lock, LW_EXCLUSIVE);
	if (pgsync_shared->slot_advanced_at == 0)
	{
		at = state_file_time(name);
		pgsync_shared->slot_advanced_at = at != 0 ? at : GetCurrentTimestamp();
	}
	else if (pgsync_shared->slot_seen_restart_lsn != restart_lsn)
		pgsync_shared->slot_advanced_at = GetCurrentTimestamp();
	pgsync_shared->slot_seen_restart_lsn = restart_lsn;
	at = pgsync_shared->slot_advanced_at;
	LWLockRelease(pgsync_shared->lock);
	return at;
}

bool
slot_watch_read(const char *name, SlotWatch *w)
{
	ReplicationSlot *slot;

	memset(w, 0, sizeof(*w));
	w->retained_bytes = -1;
	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(name, false);
	if (slot != NULL)
	{
		SpinLockAcquire(&slot->mutex);
		w->exists = true;
		w->is_pgsync = strcmp(NameStr(slot->data.plugin), "pgsync") == 0;
		w->database = slot->data.database;
		w->active_pid = slot->active_pid;
		w->restart_lsn = slot->data.restart_lsn;
		w->confirmed_flush = slot->data.confirmed_flush;
#if PG_VERSION_NUM >= 160000
		w->invalidated = slot->data.invalidated != RS_INVAL_NONE;
#else
		w->invalidated = slot->data.restart_lsn == InvalidXLogRecPtr &&
			slot->data.invalidated_at != InvalidXLogRecPtr;
#endif
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);
	if (!w->exists)
		return false;

	w->wal_status = wal_status_name(w);
	if (w->restart_lsn != InvalidXLogRecPtr)
	{
		XLogRecPtr	end = RecoveryInProgress() ? GetXLogReplayRecPtr(NULL) :
		GetXLogWriteRecPtr();

		w->retained_bytes = end > w->restart_lsn ? (int64) (end - w->restart_lsn) : 0;
	}
	w->advanced_at = note_advance(name, w->restart_lsn);
	return true;
}

void
slot_watch_warn(const char *name, const SlotWatch *w)
{
	int64		limit = (int64) pgsync_slot_wal_warning_mb * 1024 * 1024;
	TimestampTz now = GetCurrentTimestamp();
	bool		due;

	if (pgsync_shared == NULL || limit <= 0 || !w->exists ||
		w->retained_bytes <= limit)
		return;
	LWLockAcquire(pgsync_shared->lock, LW_EXCLUSIVE);
	due = pgsync_shared->slot_warned_at == 0 ||
		TimestampDifferenceExceeds(pgsync_shared->slot_warned_at, now,
								   WARNING_REPEAT_MS);
	if (due)
		pgsync_shared->slot_warned_at = now;
	LWLockRelease(pgsync_shared->lock);
	if (!due)
		return;
	ereport(WARNING,
			(errmsg("pgsync: replication slot \"%s\" retains %lld MB of WAL, more than pgsync.slot_wal_warning (%d MB)",
					name, (long long) (w->retained_bytes / (1024 * 1024)),
					pgsync_slot_wal_warning_mb),
			 errdetail("Its restart_lsn %X/%X last moved at %s; the process holding it is %d (0: none).",
					   LSN_FORMAT_ARGS(w->restart_lsn),
					   w->advanced_at ? timestamptz_to_str(w->advanced_at) : "an unknown time",
					   w->active_pid),
			 errhint("Check pgsync.status. If pgsync no longer streams, call pgsync.drop_slot() to release the WAL; clients resuming from before then get resume_too_old.")));
}

static void
watcher_exit_cb(int code, Datum arg)
{
	LWLockAcquire(pgsync_shared->lock, LW_EXCLUSIVE);
	pgsync_shared->worker_pid = 0;
	LWLockRelease(pgsync_shared->lock);
}

/*
 * No database connection: it only reads the slot array, so it does not
 * appear in pg_stat_activity; pgsync.status shows its pid.
 */
void
slot_watch_main(void)
{
	const char *name = slot_watch_name();

	before_shmem_exit(watcher_exit_cb, (Datum) 0);
	LWLockAcquire(pgsync_shared->lock, LW_EXCLUSIVE);
	pgsync_shared->worker_pid = MyProcPid;
	pgsync_shared->started_at = GetCurrentTimestamp();
	strlcpy(pgsync_shared->state, "disabled", PGSYNC_STATE_LEN);
	LWLockRelease(pgsync_shared->lock);
	for (;;)
	{
		SlotWatch	w;

		if (ShutdownRequestPending)
			proc_exit(1);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!slot_watch_read(name, &w) || !w.is_pgsync)
		{
			/* nothing to watch: not restarted (exit code 0) */
			ereport(DEBUG1,
					(errmsg("pgsync: disabled and no slot \"%s\" to watch", name)));
			proc_exit(0);
		}
		slot_watch_warn(name, &w);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 WATCH_INTERVAL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}
