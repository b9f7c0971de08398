/*-------------------------------------------------------------------------
 *
 * snapshot_int.h
 *	  The DSM segment shared by the snapshot launcher (snapshot.c) and the
 *	  snapshot worker (snapshot_exporter.c).  Internal to those two files.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_SNAPSHOT_INT_H
#define PGSYNC_SNAPSHOT_INT_H

#include "access/xlogdefs.h"
#include "port/atomics.h"

#define SNAPSHOT_MAGIC			0x70677373	/* "pgss" */
#define SNAPSHOT_SETTINGS_LEN	1024
#define SNAPSHOT_ERRMSG_LEN		1024
#define SNAPSHOT_BATCH_ROWS		1000

/* The DSM segment shared by the launcher and the worker. */
typedef struct SnapshotShared
{
	uint32		magic;
	/* request, written by the launcher before the worker starts */
	Oid			relid;
	Oid			dboid;
	Oid			login_roleid;
	Oid			roleid;
	char		path[MAXPGPATH];
	char		settings[SNAPSHOT_SETTINGS_LEN];	/* name\0value\0...\0 */
	uint32		max_xip;

	/* progress and result, written by the worker */
	pg_atomic_uint32 state;		/* PgsyncSnapshotState */
	pg_atomic_uint64 rows;
	int64		peak_rss_kb;	/* VmHWM: includes shared buffers touched */
	int64		peak_anon_kb;	/* largest RssAnon seen after a batch */
	int			sqlerrcode;
	char		errmsg[SNAPSHOT_ERRMSG_LEN];
	uint64		xmin;
	uint64		xmax;
	XLogRecPtr	lsn;
	uint32		nxip;
	uint64		xip[FLEXIBLE_ARRAY_MEMBER];
} SnapshotShared;

#endif							/* PGSYNC_SNAPSHOT_INT_H */
