/*-------------------------------------------------------------------------
 *
 * snapshot.c
 *	  Initial snapshot exporter, launcher side: the API of snapshot.h that
 *	  starts a snapshot worker (snapshot_exporter.c) and follows it, and the
 *	  SQL entry point pgsync.snapshot_to_file().
 *
 * The launcher and the worker share one DSM segment (snapshot_int.h): the
 * request (table, path, database, roles, settings) going in; the state, the
 * snapshot taken (xmin, xmax, xip, lsn), the row count and any error coming
 * back.  The worker publishes the snapshot as soon as it has it (state
 * RUNNING), so a consumer can start filtering the stream before the rows
 * are written.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/fd.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/rel.h"

#include "pgsync.h"
#include "snapshot/snapshot.h"
#include "snapshot/snapshot_int.h"

struct PgsyncSnapshot
{
	dsm_segment *seg;
	SnapshotShared *shared;
	BackgroundWorkerHandle *bgw;
	char		lost_msg[128];
};

/* ---------------------------------------------------------------------
 * Launcher side
 * ---------------------------------------------------------------------
 */

static void
pack_settings(SnapshotShared *sh, const char *const *settings)
{
	size_t		pos = 0;
	int			i;

	memset(sh->settings, 0, sizeof(sh->settings));
	if (settings == NULL)
		return;
	for (i = 0; settings[i] != NULL && settings[i + 1] != NULL; i += 2)
	{
		size_t		nlen = strlen(settings[i]) + 1;
		size_t		vlen = strlen(settings[i + 1]) + 1;

		if (pos + nlen + vlen + 1 > sizeof(sh->settings))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("pgsync: snapshot settings too long")));
		memcpy(sh->settings + pos, settings[i], nlen);
		pos += nlen;
		memcpy(sh->settings + pos, settings[i + 1], vlen);
		pos += vlen;
	}
}

PgsyncSnapshot *
pgsync_snapshot_start(Oid relid, const char *path, Oid dboid,
					  Oid login_roleid, Oid roleid,
					  const char *const *settings)
{
	PgsyncSnapshot *snap = palloc0(sizeof(PgsyncSnapshot));
	uint32		max_xip = (uint32) GetMaxSnapshotXidCount();
	Size		size = add_size(offsetof(SnapshotShared, xip),
								mul_size(max_xip, sizeof(uint64)));
	SnapshotShared *sh;
	BackgroundWorker worker;

	if (strlen(path) + 5 >= MAXPGPATH)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("pgsync: snapshot file path too long")));

	snap->seg = dsm_create(size, 0);
	sh = dsm_segment_address(snap->seg);
	memset(sh, 0, offsetof(SnapshotShared, xip));
	sh->magic = SNAPSHOT_MAGIC;
	sh->relid = relid;
	sh->dboid = dboid;
	sh->login_roleid = login_roleid;
	sh->roleid = roleid;
	strlcpy(sh->path, path, sizeof(sh->path));
	pack_settings(sh, settings);
	sh->max_xip = max_xip;
	pg_atomic_init_u32(&sh->state, PGSYNC_SNAPSHOT_STARTING);
	pg_atomic_init_u64(&sh->rows, 0);
	sh->peak_rss_kb = -1;
	sh->peak_anon_kb = -1;
	snap->shared = sh;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "pgsync", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgsync_snapshot_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "pgsync snapshot of relation %u",
			 relid);
	strlcpy(worker.bgw_type, "pgsync snapshot", BGW_MAXLEN);
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(snap->seg));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &snap->bgw))
	{
		dsm_detach(snap->seg);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("pgsync: could not start a snapshot worker"),
				 errhint("More background worker slots may be needed: raise max_worker_processes.")));
	}
	return snap;
}

/* The worker is gone: if it left no result, say so. */
static PgsyncSnapshotState
final_state(PgsyncSnapshot *snap)
{
	SnapshotShared *sh = snap->shared;
	uint32		state = pg_atomic_read_u32(&sh->state);

	pg_read_barrier();
	if (state == PGSYNC_SNAPSHOT_DONE || state == PGSYNC_SNAPSHOT_FAILED)
		return (PgsyncSnapshotState) state;
	snprintf(snap->lost_msg, sizeof(snap->lost_msg),
			 "pgsync: the snapshot worker exited without a result (see the server log)");
	return PGSYNC_SNAPSHOT_FAILED;
}

PgsyncSnapshotState
pgsync_snapshot_poll(PgsyncSnapshot *snap)
{
	uint32		state = pg_atomic_read_u32(&snap->shared->state);
	pid_t		pid;

	pg_read_barrier();
	if (state == PGSYNC_SNAPSHOT_DONE || state == PGSYNC_SNAPSHOT_FAILED)
		return (PgsyncSnapshotState) state;
	if (GetBackgroundWorkerPid(snap->bgw, &pid) == BGWH_STOPPED)
		return final_state(snap);
	return (PgsyncSnapshotState) state;
}

PgsyncSnapshotState
pgsync_snapshot_wait(PgsyncSnapshot *snap)
{
	BgwHandleStatus status = WaitForBackgroundWorkerShutdown(snap->bgw);

	if (status == BGWH_POSTMASTER_DIED)
		ereport(FATAL,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("pgsync: postmaster exited during a snapshot")));
	return final_state(snap);
}

bool
pgsync_snapshot_info(PgsyncSnapshot *snap, SnapshotInfo *info, XLogRecPtr *lsn)
{
	SnapshotShared *sh = snap->shared;
	uint32		state = pg_atomic_read_u32(&sh->state);

	pg_read_barrier();
	if (state != PGSYNC_SNAPSHOT_RUNNING && state != PGSYNC_SNAPSHOT_DONE)
		return false;
	info->xmin = sh->xmin;
	info->xmax = sh->xmax;
	info->nxip = sh->nxip;
	info->xip = sh->xip;
	if (lsn != NULL)
		*lsn = sh->lsn;
	return true;
}

int64
pgsync_snapshot_rows(PgsyncSnapshot *snap)
{
	return (int64) pg_atomic_read_u64(&snap->shared->rows);
}

int64
pgsync_snapshot_peak_rss_kb(PgsyncSnapshot *snap)
{
	if (pg_atomic_read_u32(&snap->shared->state) != PGSYNC_SNAPSHOT_DONE)
		return -1;
	pg_read_barrier();
	return snap->shared->peak_rss_kb;
}

const char *
pgsync_snapshot_error(PgsyncSnapshot *snap, int *sqlerrcode)
{
	SnapshotShared *sh = snap->shared;

	if (pg_atomic_read_u32(&sh->state) == PGSYNC_SNAPSHOT_FAILED)
	{
		pg_read_barrier();
		if (sqlerrcode != NULL)
			*sqlerrcode = sh->sqlerrcode;
		return sh->errmsg;
	}
	if (sqlerrcode != NULL)
		*sqlerrcode = ERRCODE_INTERNAL_ERROR;
	return snap->lost_msg[0] != '\0' ? snap->lost_msg : NULL;
}

void
pgsync_snapshot_release(PgsyncSnapshot *snap)
{
	pid_t		pid;

	if (snap->bgw != NULL &&
		GetBackgroundWorkerPid(snap->bgw, &pid) != BGWH_STOPPED)
		TerminateBackgroundWorker(snap->bgw);
	if (snap->seg != NULL)
		dsm_detach(snap->seg);
	if (snap->bgw != NULL)
		pfree(snap->bgw);
	pfree(snap);
}

void
pgsync_snapshot_make_dir(void)
{
	if (MakePGDirectory("pg_pgsync") < 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", "pg_pgsync")));
	if (MakePGDirectory(PGSYNC_SNAPSHOT_DIR) < 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m",
						PGSYNC_SNAPSHOT_DIR)));
}

/* ---------------------------------------------------------------------
 * SQL entry point
 * ---------------------------------------------------------------------
 */

/*
 * pgsync.snapshot_to_file(rel regclass, name text) RETURNS bigint
 *
 * Export rel, as the current role, into $PGDATA/pg_pgsync/snapshots/name
 * through the snapshot worker; wait for it; ERROR with the worker's error
 * if it failed, else return the row count.
 */
PG_FUNCTION_INFO_V1(pgsync_snapshot_to_file);

Datum
pgsync_snapshot_to_file(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	static const char *const guc_names[] = {
		"DateStyle", "IntervalStyle", "TimeZone", "lc_monetary"
	};
	const char *settings[2 * lengthof(guc_names) + 1];
	PgsyncSnapshot *snap;
	PgsyncSnapshotState state;
	Relation	rel;
	char	   *path;
	int64		rows;
	int			i;

	if (!snapshot_file_name_ok(name))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pgsync: invalid snapshot file name \"%s\"", name),
				 errdetail("A name is 1 to 64 characters among A-Z a-z 0-9 . _ -, does not start with a dot and does not end in \".tmp\".")));
	path = psprintf("%s/%s", PGSYNC_SNAPSHOT_DIR, name);

	/*
	 * The worker takes ACCESS SHARE on the table while we wait for it: if
	 * this transaction holds ACCESS EXCLUSIVE, both would wait forever.
	 */
	rel = try_relation_open(relid, NoLock);
	if (rel != NULL)
	{
		bool		locked = CheckRelationLockedByMe(rel, AccessExclusiveLock,
													 false);

		relation_close(rel, NoLock);
		if (locked)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("pgsync: cannot export a table locked ACCESS EXCLUSIVE by this transaction")));
	}
	pgsync_snapshot_make_dir();

	/* output functions in the worker follow the caller's settings */
	for (i = 0; i < lengthof(guc_names); i++)
	{
		settings[2 * i] = guc_names[i];
		settings[2 * i + 1] = pstrdup(GetConfigOption(guc_names[i], false, false));
	}
	settings[2 * lengthof(guc_names)] = NULL;

	snap = pgsync_snapshot_start(relid, path, MyDatabaseId,
								 GetSessionUserId(), GetUserId(), settings);
	PG_TRY();
	{
		state = pgsync_snapshot_wait(snap);
	}
	PG_CATCH();
	{
		pgsync_snapshot_release(snap);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (state != PGSYNC_SNAPSHOT_DONE)
	{
		int			sqlerrcode;
		char	   *msg = pstrdup(pgsync_snapshot_error(snap, &sqlerrcode));

		pgsync_snapshot_release(snap);
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("%s", msg),
				 errcontext("pgsync snapshot worker")));
	}
	rows = pgsync_snapshot_rows(snap);
	pgsync_snapshot_release(snap);
	PG_RETURN_INT64(rows);
}
