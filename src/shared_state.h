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
#include "storage/spin.h"

#include "guc.h"
#include "log/change_log.h"

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
	int			worker_pid;		/* the process serving it */
	/* what peer and subscriptions were written for (worker_status.c) */
	uint32		subs_changes;
	const char *phase;			/* in the serving process */
} PgsyncClientStat;

/* What one serving process (the worker or a network worker) reports. */
typedef struct PgsyncServeStat
{
	int			pid;			/* 0: not running */
	int			nclients;
	uint64		msgs_sent;
	uint64		bytes_sent;
} PgsyncServeStat;

/*
 * The change log as far as network workers may follow it: written by the
 * decoding worker after each write of the log to its files, read by the
 * network workers (worker_follow.c).  generation changes when the log is
 * removed (a replaced or dropped slot): followers then start over.
 */
typedef struct PgsyncLogEnd
{
	uint64		generation;
	bool		valid;			/* false until the worker opened the log */
	ChangeLogEnd end;
	XLogRecPtr	routed_lsn;		/* every commit before it is in the log up to end */
	XLogRecPtr	heartbeat_lsn;	/* resume point once end.last_key is routed */
} PgsyncLogEnd;

typedef struct PgsyncShared
{
	LWLock	   *lock;			/* protects everything but the atomics and
								 * the client lines */
	/* client_lock[k]: serving process k's lines of clients[] (its own, so
	 * that a scan of pgsync.clients or another process's publishing does
	 * not hold it up) */
	LWLock	   *client_lock[1 + PGSYNC_MAX_NETWORK_WORKERS];

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
	uint64		log_bytes;		/* size of the change log */
	XLogRecPtr	log_oldest_lsn; /* oldest resume point it serves */
	XLogRecPtr	log_last_lsn;	/* commit LSN of its last transaction */

	/* the slot's WAL retention (slot_watch.c); kept across worker restarts */
	XLogRecPtr	slot_seen_restart_lsn;	/* restart_lsn when last looked at */
	TimestampTz slot_advanced_at;	/* when it was seen to move; 0: unknown */
	TimestampTz slot_warned_at; /* last pgsync.slot_wal_warning WARNING */

	/* network workers (pgsync.network_workers): latches and what to follow */
	pg_atomic_uint32 network_procno[PGSYNC_MAX_NETWORK_WORKERS];
	slock_t		log_end_mutex;
	PgsyncLogEnd log_end;
	/* [0]: the worker, [1 + i]: network worker i */
	PgsyncServeStat serve[1 + PGSYNC_MAX_NETWORK_WORKERS];

	int			max_clients;	/* per serving process */
	int			nclient_slots;	/* max_clients for each serving process */
	PgsyncClientStat clients[FLEXIBLE_ARRAY_MEMBER];
} PgsyncShared;

/* NULL unless the library was preloaded. */
extern PgsyncShared *pgsync_shared;

/* _PG_init when preloading: hooks for shared memory and commit wake-up. */
extern void pgsync_shared_init(void);

/* Serving processes: the worker (0 when it serves) and network workers. */
extern int	pgsync_serving_processes(void);

/*
 * The serving process (0: the worker, 1 + i: network worker i) whose
 * lines are range r of clients[], of max_clients lines each.
 */
extern int	pgsync_range_server(int r);

/* Publish and read the end of the change log network workers follow. */
extern void pgsync_publish_log_end(const PgsyncLogEnd *end);
extern void pgsync_read_log_end(PgsyncLogEnd *end);
extern void pgsync_forget_log_end(void);

/* Wake the network workers (the log end moved). */
extern void pgsync_wake_network_workers(void);

/* Worker side: set/clear state and last error (takes the lock). */
extern void pgsync_set_state(const char *state);
extern void pgsync_set_error(const char *msg);

#endif							/* PGSYNC_SHARED_STATE_H */
