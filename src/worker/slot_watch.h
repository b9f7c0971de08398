/*-------------------------------------------------------------------------
 *
 * slot_watch.h
 *	  The WAL the pgsync slot retains: what pgsync.status shows of it, the
 *	  pgsync.slot_wal_warning WARNING, and the watcher a disabled worker
 *	  runs (docs/OPERATIONS.md).
 *
 * A logical slot keeps every WAL segment from its restart_lsn on.  The
 * running worker moves it (worker.c confirms the slot behind its change
 * log, idle or not); a stopped, stuck or disabled worker does not, and
 * this module is how the DBA learns about it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_SLOT_WATCH_H
#define PGSYNC_SLOT_WATCH_H

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"

typedef struct SlotWatch
{
	bool		exists;
	bool		is_pgsync;		/* plugin "pgsync" */
	Oid			database;
	int			active_pid;		/* process holding it, 0 if none */
	bool		invalidated;	/* WAL removed under it (wal_status lost) */
	XLogRecPtr	restart_lsn;
	XLogRecPtr	confirmed_flush;
	const char *wal_status;		/* as pg_replication_slots; NULL: unknown */
	int64		retained_bytes; /* WAL write position - restart_lsn; -1 */
	TimestampTz advanced_at;	/* restart_lsn last seen moving; 0 unknown */
} SlotWatch;

/* pgsync.slot_name, also when the library is not preloaded. */
extern const char *slot_watch_name(void);

/*
 * Read the slot (false if it does not exist) and, when shared memory is
 * there, note when its restart_lsn moved.  Any process may call it.
 */
extern bool slot_watch_read(const char *name, SlotWatch *w);

/*
 * WARNING if the slot retains more than pgsync.slot_wal_warning; at most
 * every 5 minutes, across worker restarts (shared memory).
 */
extern void slot_watch_warn(const char *name, const SlotWatch *w);

/* The worker with pgsync.port = 0: watch the slot, never use it. */
extern void slot_watch_main(void) pg_attribute_noreturn();

#endif							/* PGSYNC_SLOT_WATCH_H */
