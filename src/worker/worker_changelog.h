/*-------------------------------------------------------------------------
 *
 * worker_changelog.h
 *	  The worker's durable change log: what decoding produced, on disk.
 *
 * The PostgreSQL side of change_log.c.  Every message the output plugin
 * writes goes through worker_changelog_append() before it is published to live
 * clients; the slot is confirmed only up to what worker_changelog_sync() made
 * durable.  Units are transactions; a unit's key is its commit LSN (the
 * "lsn" of its begin and commit messages), which is also the resume point
 * clients give (docs/WEBSOCKET.md).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WORKER_CHANGELOG_H
#define PGSYNC_WORKER_CHANGELOG_H

#include "access/transam.h"
#include "access/xlogdefs.h"

#include "log/change_log.h"

/*
 * Open (or recover) the log under $PGDATA/pg_pgsync/log; ERROR on failure.
 * A new log (no segment on disk) starts right after initial_key.
 */
extern void worker_changelog_open(XLogRecPtr initial_key);

/*
 * Remove the log's segments (not open in this process); returns how many.
 * For a log that no longer leads up to the slot: the slot is missing,
 * invalidated (max_slot_wal_keep_size) or dropped by pgsync.drop_slot().
 * What was committed between the old log's end and a new slot is in
 * neither; with the log gone, clients resuming from before get
 * resume_too_old instead of a silent gap.  Any process may call it.
 */
extern int	worker_changelog_discard(void);

extern ChangeLog *worker_changelog(void);

/*
 * Append one plugin message.  Returns false when the message belongs to a
 * transaction already in the log (decoding restarted before the log's end
 * after a crash): the caller must not publish it to live clients either.
 * Relation messages of such transactions are kept and written into the
 * next new transaction, so the log always holds the relation messages its
 * changes need.
 */
extern bool worker_changelog_append(const char *data, size_t len);

/*
 * Streamed transactions (worker_stream.c).  worker_changelog_spool(): a
 * new spool for xid.  worker_changelog_spool_append(): one plugin message
 * into it (relation messages included: the plugin describes the tables
 * of a streamed transaction inside it, and a reader that skips it gets
 * them again from the next change outside it; output_plugin.c).
 * worker_changelog_append_streamed(): the begin message of a streamed
 * transaction's commit: appended with its spool as an out-of-line unit
 * (the commit message follows through worker_changelog_append()); false,
 * with the spool discarded, when the transaction is in the log already.
 * All ERROR on failure.
 */
extern ChangeLogSpool *worker_changelog_spool(uint32 xid);
extern void worker_changelog_spool_append(ChangeLogSpool *spool,
										  const char *data, size_t len);
extern void worker_changelog_spool_truncate(ChangeLogSpool *spool,
											ChangeLogSpoolMark mark);
extern bool worker_changelog_append_streamed(const char *data, size_t len,
											 ChangeLogSpool *spool);

/* The relation oid of an R, I, U or D message (0 for others). */
extern uint32 worker_changelog_message_relid(const char *data, size_t len);

/* Make appended records visible to log readers (no fsync). */
extern void worker_changelog_flush(void);

/*
 * After a flush, between decoding passes: publish the log's end for the
 * network workers (shared_state.h) and wake them if it moved.
 */
extern void worker_changelog_publish_end(XLogRecPtr routed_lsn,
										 XLogRecPtr heartbeat_lsn);

/* A network worker: the log it follows, as far as it routed it. */
extern void worker_changelog_set_follower(ChangeLog *log);
extern const char *worker_changelog_dir(void);

/* A transaction routed: its xid and commit LSN, for snapshots' starts. */
extern void worker_changelog_note_commit(uint32 xid, XLogRecPtr key);

/* fsync what was appended; afterwards it survives a crash.  ERROR on failure. */
extern void worker_changelog_sync(void);

/* Remove segments beyond pgsync.log_retention_size / _age. */
extern void worker_changelog_retain(void);

/*
 * Commit LSN of transaction xid if it is among the last 65536 appended,
 * else InvalidXLogRecPtr.
 */
extern XLogRecPtr worker_changelog_recent_commit(TransactionId xid);

/* The xid of a compact begin message. */
extern uint32 worker_changelog_message_xid(const char *data, size_t len);

/* Commit LSN of the transaction being appended (or last appended). */
extern XLogRecPtr worker_changelog_last_unit_key(void);

/* Commit LSN of the last transaction in the log (0 if none). */
extern XLogRecPtr worker_changelog_last_key(void);

#endif							/* PGSYNC_WORKER_CHANGELOG_H */
