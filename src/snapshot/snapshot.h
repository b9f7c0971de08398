/*-------------------------------------------------------------------------
 *
 * snapshot.h
 *	  Consistent initial snapshots of a table, written to a file by a
 *	  dynamic background worker ("pgsync snapshot"), to be joined with the
 *	  change stream.  The launcher API (snapshot.c) and the worker's entry
 *	  point (snapshot_exporter.c); the pure join rule is in snapshot_file.h.
 *	  Full description: docs/SNAPSHOT.md.
 *
 * FILE FORMAT (UTF-8 text, one JSON value per line, '\n' line ends)
 *
 *	line 1, the header, a JSON object:
 *	  {"relid":16384,"schema":"public","table":"t",
 *	   "columns":["id","v"],"types":["integer","text"],"key":[0],
 *	   "snapshot":{"xmin":750,"xmax":754,"xip":[750,752],"lsn":"0/1A2B3C4"},
 *	   "rows":null}
 *	  columns/types/key are exactly those of the compact relation message
 *	  (live columns in attnum order, format_type with typmod, indexes of the
 *	  replica identity key columns).  xmin/xmax/xip are 64-bit full xids
 *	  (epoch << 32 | xid) of the worker's REPEATABLE READ transaction
 *	  snapshot, xip sorted ascending (top-level xids only); lsn is the WAL
 *	  insert position read just after the snapshot was taken: every
 *	  transaction the snapshot sees committed before it.
 *	lines 2..N+1, one per row: the row's values as a JSON array, encoded by
 *	  value_encode() exactly like the 4th element of a compact insert
 *	  message ["I",relid,lsn,[values]] decoded in a session with the same
 *	  settings (DateStyle, IntervalStyle, TimeZone, lc_monetary only matter
 *	  for types written through their output function).  A value too large
 *	  to send (pgsync.max_value_bytes) is null, and the array is followed
 *	  by ",[[column index, bytes],...]": the line is then the rest of the
 *	  "S" message, not one JSON value.
 *	last line, the trailer:
 *	  {"rows":N,"done":true,"peak_rss_kb":K}		on success, or
 *	  {"error":"message"}						on failure.
 *
 *	The worker writes "<path>.tmp" and renames it to <path> only on
 *	success, so a file at <path> is always complete.  A failed export
 *	leaves "<path>.tmp" ending with the error trailer (it may lack the
 *	header if the failure came first); whoever started the export removes
 *	it.  No fsync: the files are transient.  Files made through the SQL
 *	function live in $PGDATA/pg_pgsync/snapshots/.
 *
 * JOIN RULE: a committed transaction with full xid X is in the snapshot iff
 *	X < xmin, or X < xmax and X is not in xip (snapshot_xid_visible()).
 *	The stream delivered after the snapshot must contain exactly the
 *	committed transactions that are not in it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_SNAPSHOT_H
#define PGSYNC_SNAPSHOT_H

#include "access/xlogdefs.h"
#include "fmgr.h"

#include "protocol/snapshot_file.h"

/* Directory of snapshot files, relative to the data directory. */
#define PGSYNC_SNAPSHOT_DIR "pg_pgsync/snapshots"

typedef enum PgsyncSnapshotState
{
	PGSYNC_SNAPSHOT_STARTING,	/* worker not started or not connected yet */
	PGSYNC_SNAPSHOT_RUNNING,	/* snapshot taken (info available), writing */
	PGSYNC_SNAPSHOT_DONE,		/* file renamed into place */
	PGSYNC_SNAPSHOT_FAILED		/* see pgsync_snapshot_error() */
} PgsyncSnapshotState;

typedef struct PgsyncSnapshot PgsyncSnapshot;

/*
 * Launch the exporter of table relid into path (absolute, or relative to
 * the data directory; its directory must exist).  The worker connects to
 * database dboid as login_roleid (InvalidOid: the bootstrap superuser; in
 * PostgreSQL 15 a role without LOGIN cannot be used here), then reads the
 * table with the privileges of roleid: SELECT privilege is checked and
 * row-level security applies as for a query run by roleid.  settings is
 * NULL or a NULL-terminated list of GUC name, value, name, value, ... that
 * the worker sets before reading (output functions follow them).
 *
 * The caller's process is notified of the worker's start and exit, so it
 * can wait.  The handle and its shared memory live in the caller's
 * CurrentMemoryContext and CurrentResourceOwner (with no resource owner,
 * until pgsync_snapshot_release()).  ERROR if no background worker slot is
 * free (max_worker_processes).
 */
extern PgsyncSnapshot *pgsync_snapshot_start(Oid relid, const char *path,
											 Oid dboid, Oid login_roleid,
											 Oid roleid,
											 const char *const *settings);

/* The state now, without blocking. */
extern PgsyncSnapshotState pgsync_snapshot_poll(PgsyncSnapshot *snap);

/* Wait (interruptibly) until the worker has exited; the final state. */
extern PgsyncSnapshotState pgsync_snapshot_wait(PgsyncSnapshot *snap);

/*
 * The snapshot taken, once the state is RUNNING or DONE: fills *info (xip
 * points into the handle's shared memory) and *lsn; false before that.
 */
extern bool pgsync_snapshot_info(PgsyncSnapshot *snap, SnapshotInfo *info,
								 XLogRecPtr *lsn);

/* Rows written so far (the total once DONE). */
extern int64 pgsync_snapshot_rows(PgsyncSnapshot *snap);

/* The worker's peak resident set size in kB (VmHWM), once DONE; else -1. */
extern int64 pgsync_snapshot_peak_rss_kb(PgsyncSnapshot *snap);

/* Once FAILED: the error message, and its SQLSTATE in *sqlerrcode. */
extern const char *pgsync_snapshot_error(PgsyncSnapshot *snap,
										 int *sqlerrcode);

/* Terminate the worker if it still runs, and free the handle. */
extern void pgsync_snapshot_release(PgsyncSnapshot *snap);

/* Create $PGDATA/pg_pgsync/snapshots if missing. */
extern void pgsync_snapshot_make_dir(void);

/* The exporter's main, pgsync_snapshot_main, is declared in pgsync.h. */

#endif							/* PGSYNC_SNAPSHOT_H */
