/*-------------------------------------------------------------------------
 *
 * worker_stream.h
 *	  Transactions decoded while in progress: staged in spools until they
 *	  commit or abort.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WORKER_STREAM_H
#define PGSYNC_WORKER_STREAM_H

#include "fanout/fanout.h"
#include "log/change_log.h"

/*
 * Take one message of the output plugin if it belongs to a streamed
 * chunk or abort ('s', 'x', 'e', 'a', and every message between 's' and
 * 'e'): changes go to their transaction's spool, a subtransaction's abort
 * truncates it, the transaction's abort discards it.  Returns false for
 * any other message.  Nothing taken here reaches a client, relation
 * messages included: they describe the tables as of inside the
 * transaction.
 */
extern bool stream_consume(const char *data, size_t len);

/*
 * At a begin message of transaction xid: if its changes were streamed,
 * hand over its spool (NULL otherwise), with the tables its changes touch
 * (*tables, *ntables; the caller frees them with stream_tables_free()).
 */
extern ChangeLogSpool *stream_take(uint32 xid, FanoutTableName **tables,
								   int *ntables);
extern void stream_tables_free(FanoutTableName *tables, int ntables);

/*
 * Add the table the relation message names to tables[ntables] (room for
 * cap), unless it is there already (by name); in the current context.
 */
extern void stream_note_table(FanoutTableName **tables, int *ntables,
							  int *cap, const char *data, size_t len);

/*
 * Drop the spools of transactions that ended without a commit or abort
 * being decoded (a crash killed them: no abort record).  Call between
 * decoding passes.
 */
extern void stream_discard_ended(void);

/* Transactions being spooled. */
extern int	stream_count(void);

#endif							/* PGSYNC_WORKER_STREAM_H */
