/*-------------------------------------------------------------------------
 *
 * shared_state.h
 *	  Shared memory of pgsync: the worker's status and client table (read
 *	  by sql_status.c), and the commit wake-up of the worker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_SHARED_STATE_H
#define PGSYNC_SHARED_STATE_H

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/lwlock.h"

#define PGSYNC_PEER_LEN 64
#define PGSYNC_SUBS_LEN 256
#define PGSYNC_STATE_LEN 64
#define PGSYNC_ERROR_LEN 512

typedef struct PgsyncClientStat
{
	bool		in_use;
	char		peer[PGSYNC_PEER_LEN];
	char		subscriptions[PGSYNC_SUBS_LEN];
	XLogRecPtr	last_lsn_sent;
	uint64		queued_bytes;
	uint64		msgs_sent;
	uint64		bytes_sent;
	TimestampTz connected_since;
} PgsyncClientStat;

typedef struct PgsyncShared
{
	LWLock	   *lock;			/* protects everything but the atomics */

	/* written by the worker, read by committing backends without lock */
	pg_atomic_uint32 worker_procno; /* PGPROC index + 1, 0: no worker */
	pg_atomic_uint64 last_commit_end;	/* highest commit end reported */

	int			worker_pid;
	char		state[PGSYNC_STATE_LEN];
	char		last_error[PGSYNC_ERROR_LEN];
	TimestampTz last_error_time;
	TimestampTz started_at;
	XLogRecPtr	decode_lsn;		/* decoding position (reader EndRecPtr) */
	XLogRecPtr	confirmed_lsn;	/* last position confirmed to the slot */
	uint64		msgs_decoded;
	uint64		msgs_sent;
	uint64		bytes_sent;
	int			nclients;
	uint64		clients_culled;
	uint64		log_bytes;		/* size of the change log */
	XLogRecPtr	log_oldest_lsn; /* oldest resume point it serves */
	XLogRecPtr	log_last_lsn;	/* commit LSN of its last transaction */

	/* the slot's WAL retention (slot_watch.c); kept across worker restarts */
	XLogRecPtr	slot_seen_restart_lsn;	/* restart_lsn when last looked at */
	TimestampTz slot_advanced_at;	/* when it was seen to move; 0: unknown */
	TimestampTz slot_warned_at; /* last pgsync.slot_wal_warning WARNING */

	int			max_clients;
	PgsyncClientStat clients[FLEXIBLE_ARRAY_MEMBER];
} PgsyncShared;

/* NULL unless the library was preloaded. */
extern PgsyncShared *pgsync_shared;

/* _PG_init when preloading: hooks for shared memory and commit wake-up. */
extern void pgsync_shared_init(void);

/* Worker side: set/clear state and last error (takes the lock). */
extern void pgsync_set_state(const char *state);
extern void pgsync_set_error(const char *msg);

#endif							/* PGSYNC_SHARED_STATE_H */
