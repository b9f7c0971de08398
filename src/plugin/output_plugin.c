/*-------------------------------------------------------------------------
 *
 * output_plugin.c
 *	  The "pgsync" logical decoding output plugin: callbacks only.
 *
 * Every message is written as its own output row (one OutputPluginWrite
 * per message), so memory stays flat however large a transaction is: the
 * reorder buffer spills to disk and we never hold more than one change.
 * Encoding lives in message_encode.c; options in decoder_options.c.
 *
 * Streaming (option stream-in-progress): when the reorder buffer passes
 * logical_decoding_work_mem it hands the largest transaction over in
 * chunks while it is still in progress.  A chunk is written as 's', then
 * its changes (and relation messages), each run of one subtransaction's
 * changes preceded by 'x', then 'e'; an abort of a subtransaction or of
 * the whole transaction as 'a'; the commit as the begin and commit
 * messages of a transaction sent whole, with no change between them
 * (docs/PROTOCOL.md, "Streaming").  Chunks, aborts and commits of
 * streamed transactions never fall inside another transaction's begin ..
 * commit.  With skip-empty-xacts, a chunk, abort or commit is sent only if
 * a change of the transaction was.
 *
 * Relation messages and streaming.  A streamed transaction reaches its
 * consumer in WAL order but takes effect at its commit, after transactions
 * that committed meanwhile; so it describes its tables itself: the
 * relation message of each comes before its first change in the
 * transaction whatever the session sent before, and again when it changes
 * within it (an ALTER TABLE in the transaction), or after a subtransaction
 * abort (which takes the messages it carried away).  Those messages do not
 * count as sent for the session: after the streamed commit, the next
 * change of each of its tables outside it sends its description again, so
 * a consumer that skipped the streamed transaction is never short of one
 * (pgoutput does the same: "schema_sent" per streamed transaction).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "replication/logical.h"
#include "replication/output_plugin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "debug/lat_probe.h"
#include "pgsync.h"
#include "plugin/decoder_options.h"
#include "plugin/message_encode.h"
#include "plugin/relation_info.h"
#include "plugin/value_encode.h"

/* Per decoding session state. */
typedef struct PluginState
{
	DecoderOptions opts;
	MemoryContext change_mcxt;	/* reset after every message */
} PluginState;

/* Per transaction state, in txn->output_plugin_private. */
typedef struct TxnState
{
	bool		begin_sent;
	/* streamed transactions */
	bool		streamed_any;	/* a change was sent in some chunk */
	bool		chunk_open;		/* 's' was sent in the current chunk */
	TransactionId chunk_subxid; /* of the last 'x' in the current chunk */
	/* the relation messages sent in it (StreamedRelation by relid) */
	MemoryContext rels_mcxt;	/* holds the table and its messages */
	HTAB	   *rels;
} TxnState;

/* A relation message sent in a streamed transaction. */
typedef struct StreamedRelation
{
	Oid			relid;			/* hash key */
	uint64		checked_build;	/* RelationInfo.build_number compared */
	char	   *msg;
	int			len;
} StreamedRelation;

/*
 * Try to send a keepalive every so many skipped changes, so that a
 * walsender consumer does not time out while a large transaction is
 * filtered away.  PostgreSQL 16 does this in the reorder buffer itself.
 */
#define SKIPPED_CHANGES_PROGRESS_INTERVAL 100

#if PG_VERSION_NUM >= 150000
#define TXN_COMMIT_TIME(txn) ((txn)->xact_time.commit_time)
#else
#define TXN_COMMIT_TIME(txn) ((txn)->commit_time)
#endif

static void pgsync_startup(LogicalDecodingContext *ctx,
						   OutputPluginOptions *opt, bool is_init);
static void pgsync_shutdown(LogicalDecodingContext *ctx);
static void pgsync_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn);
static void pgsync_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						  XLogRecPtr commit_lsn);
static void pgsync_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						  Relation relation, ReorderBufferChange *change);
static void pgsync_truncate(LogicalDecodingContext *ctx,
							ReorderBufferTXN *txn, int nrelations,
							Relation relations[], ReorderBufferChange *change);
static void pgsync_message(LogicalDecodingContext *ctx,
						   ReorderBufferTXN *txn, XLogRecPtr lsn,
						   bool transactional, const char *prefix,
						   Size size, const char *content);
static void pgsync_stream_start(LogicalDecodingContext *ctx,
								ReorderBufferTXN *txn);
static void pgsync_stream_stop(LogicalDecodingContext *ctx,
							   ReorderBufferTXN *txn);
static void pgsync_stream_abort(LogicalDecodingContext *ctx,
								ReorderBufferTXN *txn, XLogRecPtr abort_lsn);
static void pgsync_stream_commit(LogicalDecodingContext *ctx,
								 ReorderBufferTXN *txn, XLogRecPtr commit_lsn);
static void pgsync_stream_change(LogicalDecodingContext *ctx,
								 ReorderBufferTXN *txn, Relation relation,
								 ReorderBufferChange *change);
static void pgsync_stream_truncate(LogicalDecodingContext *ctx,
								   ReorderBufferTXN *txn, int nrelations,
								   Relation relations[],
								   ReorderBufferChange *change);

void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	AssertVariableIsOfType(&_PG_output_plugin_init, LogicalOutputPluginInit);

	cb->startup_cb = pgsync_startup;
	cb->begin_cb = pgsync_begin;
	cb->change_cb = pgsync_change;
	cb->truncate_cb = pgsync_truncate;
	cb->commit_cb = pgsync_commit;
	cb->message_cb = pgsync_message;
	cb->shutdown_cb = pgsync_shutdown;
	cb->stream_start_cb = pgsync_stream_start;
	cb->stream_stop_cb = pgsync_stream_stop;
	cb->stream_abort_cb = pgsync_stream_abort;
	cb->stream_commit_cb = pgsync_stream_commit;
	cb->stream_change_cb = pgsync_stream_change;
	cb->stream_truncate_cb = pgsync_stream_truncate;
}

static void
pgsync_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt,
			   bool is_init)
{
	PluginState *state = MemoryContextAllocZero(ctx->context,
												sizeof(PluginState));

	state->change_mcxt = AllocSetContextCreate(ctx->context,
											   "pgsync change",
											   ALLOCSET_DEFAULT_SIZES);
	decoder_options_parse(&state->opts, ctx->output_plugin_options);
	value_encode_init(state->opts.numeric_as_number);
	relation_info_cache_init(ctx->context, &state->opts);

	ctx->output_plugin_private = state;
	/* streaming only for a consumer that asked for it */
	ctx->streaming &= state->opts.stream_in_progress;
	opt->output_type = OUTPUT_PLUGIN_TEXTUAL_OUTPUT;
	opt->receive_rewrites = false;
}

static void
pgsync_shutdown(LogicalDecodingContext *ctx)
{
	relation_info_cache_destroy();
}

/* Run stmt, which appends one message to ctx->out, as one output row. */
#define WRITE_MESSAGE(ctx, last, stmt) \
	do { \
		OutputPluginPrepareWrite((ctx), (last)); \
		stmt; \
		OutputPluginWrite((ctx), (last)); \
	} while (0)

static void
send_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PluginState *state = ctx->output_plugin_private;

	WRITE_MESSAGE(ctx, false,
				  encode_begin(ctx->out, &state->opts, txn->xid,
							   txn->final_lsn, TXN_COMMIT_TIME(txn)));
}

/*
 * Called before the first message of a transaction: with skip-empty-xacts
 * the begin message is held back until we know something follows.
 */
static void
ensure_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PluginState *state = ctx->output_plugin_private;
	TxnState   *ts = txn->output_plugin_private;

	if (ts == NULL || ts->begin_sent)
		return;
	ts->begin_sent = true;
	if (state->opts.include_transaction)
		send_begin(ctx, txn);
}

/* The state of a streamed transaction (txn is its top level). */
static TxnState *
stream_state(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	if (txn->output_plugin_private == NULL)
		txn->output_plugin_private = MemoryContextAllocZero(ctx->context,
															sizeof(TxnState));
	return txn->output_plugin_private;
}

/*
 * Forget the relation messages sent in streamed transaction ts: after a
 * subtransaction abort (its messages are gone with it), or when it ends;
 * at its commit, also make the session describe its tables again.
 */
static void
forget_streamed_relations(TxnState *ts, bool committed)
{
	if (ts == NULL || ts->rels == NULL)
		return;
	if (committed)
	{
		HASH_SEQ_STATUS status;
		StreamedRelation *sr;

		hash_seq_init(&status, ts->rels);
		while ((sr = hash_seq_search(&status)) != NULL)
			relation_info_forget_sent(sr->relid);
	}
	MemoryContextDelete(ts->rels_mcxt);
	ts->rels_mcxt = NULL;
	ts->rels = NULL;
}

/*
 * Called before the first message of a change in a chunk of a streamed
 * transaction: open the chunk, and say which subtransaction the change
 * belongs to if it is not the previous change's.
 */
static void
ensure_stream_open(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				   TransactionId subxid)
{
	PluginState *state = ctx->output_plugin_private;
	TxnState   *ts = stream_state(ctx, txn);

	if (!ts->chunk_open)
	{
		WRITE_MESSAGE(ctx, false,
					  encode_stream_control(ctx->out, &state->opts, 's',
											txn->xid, InvalidTransactionId));
		ts->chunk_open = true;
		ts->chunk_subxid = InvalidTransactionId;
	}
	if (ts->chunk_subxid != subxid)
	{
		WRITE_MESSAGE(ctx, false,
					  encode_stream_control(ctx->out, &state->opts, 'x',
											txn->xid, subxid));
		ts->chunk_subxid = subxid;
	}
	ts->streamed_any = true;
}

/*
 * Before a change's messages: the begin of its transaction, or in a
 * streamed chunk the chunk's start and subtransaction.
 */
static void
ensure_open(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			ReorderBufferChange *change, bool streaming)
{
	if (streaming)
		ensure_stream_open(ctx, txn,
						   change->txn != NULL ? change->txn->xid : txn->xid);
	else
		ensure_begin(ctx, txn);
}

static void
pgsync_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PluginState *state = ctx->output_plugin_private;

	txn->output_plugin_private = MemoryContextAllocZero(ctx->context,
														sizeof(TxnState));
	lat_probe_commit_decoded(TXN_COMMIT_TIME(txn));
	if (!state->opts.skip_empty_xacts)
		ensure_begin(ctx, txn);
}

/*
 * End txn: its commit message if its begin was sent (for a streamed
 * transaction, both: its changes were sent in chunks).
 */
static void
send_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			XLogRecPtr commit_lsn, bool streamed)
{
	PluginState *state = ctx->output_plugin_private;
	TxnState   *ts = txn->output_plugin_private;
	bool		sent = ts != NULL && (streamed ? ts->streamed_any : ts->begin_sent);

	if (streamed && !sent && !state->opts.skip_empty_xacts)
		sent = true;
	forget_streamed_relations(ts, true);
	if (ts != NULL)
		pfree(ts);
	txn->output_plugin_private = NULL;

	if (!sent)
	{
		/* nothing was sent: let a walsender confirm progress anyway */
		OutputPluginUpdateProgress(ctx, true);
		return;
	}
	if (!state->opts.include_transaction)
		return;
	if (streamed)
		send_begin(ctx, txn);
	WRITE_MESSAGE(ctx, true,
				  encode_commit(ctx->out, &state->opts, txn->xid,
								commit_lsn, txn->end_lsn,
								TXN_COMMIT_TIME(txn)));
}

static void
pgsync_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			  XLogRecPtr commit_lsn)
{
	send_commit(ctx, txn, commit_lsn, false);
}

static void
skipped_change(LogicalDecodingContext *ctx)
{
#if PG_VERSION_NUM < 160000
	static int	skipped = 0;

	if (ctx->end_xact || ++skipped >= SKIPPED_CHANGES_PROGRESS_INTERVAL)
	{
		OutputPluginUpdateProgress(ctx, false);
		skipped = 0;
	}
#endif
}

/*
 * Compact format: send the relation message before the first change that
 * needs it, and again whenever it differs from the one last sent (after an
 * ALTER TABLE, say).  It is only rebuilt and compared after the relation's
 * cache entry was rebuilt, so the common case costs one flag test.
 */
static void
ensure_relation_sent_streamed(LogicalDecodingContext *ctx,
							  ReorderBufferTXN *txn, RelationInfo *ri)
{
	TxnState   *ts = stream_state(ctx, txn);
	StreamedRelation *sr;
	StringInfoData msg;
	bool		found;

	if (ts->rels == NULL)
	{
		HASHCTL		ctl;

		ts->rels_mcxt = AllocSetContextCreate(ctx->context,
											  "pgsync streamed relations",
											  ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(StreamedRelation);
		ctl.hcxt = ts->rels_mcxt;
		ts->rels = hash_create("pgsync streamed relations", 16, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	sr = hash_search(ts->rels, &ri->relid, HASH_ENTER, &found);
	if (found && sr->checked_build == ri->build_number)
		return;
	if (!found)
	{
		sr->msg = NULL;
		sr->len = 0;
	}
	initStringInfo(&msg);
	encode_relation(&msg, ri);
	if (sr->msg == NULL || sr->len != msg.len ||
		memcmp(sr->msg, msg.data, msg.len) != 0)
	{
		WRITE_MESSAGE(ctx, false,
					  appendBinaryStringInfo(ctx->out, msg.data, msg.len));
		if (sr->msg != NULL)
			pfree(sr->msg);
		sr->msg = MemoryContextAlloc(ts->rels_mcxt, msg.len);
		memcpy(sr->msg, msg.data, msg.len);
		sr->len = msg.len;
	}
	sr->checked_build = ri->build_number;
	pfree(msg.data);
}

static void
ensure_relation_sent(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					 RelationInfo *ri, bool streaming)
{
	PluginState *state = ctx->output_plugin_private;
	StringInfoData msg;

	if (state->opts.format != PGSYNC_FORMAT_COMPACT)
		return;
	if (streaming)
	{
		/* see "Relation messages and streaming" at the top */
		ensure_relation_sent_streamed(ctx, txn, ri);
		return;
	}
	if (ri->message_checked)
		return;
	initStringInfo(&msg);
	encode_relation(&msg, ri);
	if (!relation_info_already_sent(ri, msg.data, msg.len))
		WRITE_MESSAGE(ctx, false,
					  appendBinaryStringInfo(ctx->out, msg.data, msg.len));
	relation_info_mark_sent(ri, msg.data, msg.len);
	pfree(msg.data);
}

static uint32
action_bit(ReorderBufferChangeType type, char *op)
{
	switch (type)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
			*op = 'I';
			return PGSYNC_ACTION_INSERT;
		case REORDER_BUFFER_CHANGE_UPDATE:
			*op = 'U';
			return PGSYNC_ACTION_UPDATE;
		case REORDER_BUFFER_CHANGE_DELETE:
			*op = 'D';
			return PGSYNC_ACTION_DELETE;
		default:
			return 0;
	}
}

#if PG_VERSION_NUM >= 170000
#define TUPLE_OF(buf) (buf)
#else
#define TUPLE_OF(buf) ((buf) != NULL ? &(buf)->tuple : NULL)
#endif

static void
emit_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			Relation relation, ReorderBufferChange *change, bool streaming)
{
	PluginState *state = ctx->output_plugin_private;
	RelationInfo *ri;
	MemoryContext old;
	char		op = 0;
	uint32		bit = action_bit(change->action, &op);

	ri = relation_info_get(relation);
	if (bit == 0 || !(state->opts.actions & bit) || !ri->wanted)
	{
		skipped_change(ctx);
		return;
	}

	old = MemoryContextSwitchTo(state->change_mcxt);
	ensure_open(ctx, txn, change, streaming);
	ensure_relation_sent(ctx, txn, ri, streaming);
	WRITE_MESSAGE(ctx, true,
				  encode_row_change(ctx->out, &state->opts, ri,
									RelationGetDescr(relation), op,
									change->lsn,
									TUPLE_OF(change->data.tp.newtuple),
									TUPLE_OF(change->data.tp.oldtuple)));
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->change_mcxt);
}

static void
pgsync_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			  Relation relation, ReorderBufferChange *change)
{
	emit_change(ctx, txn, relation, change, false);
}

static void
emit_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			  int nrelations, Relation relations[],
			  ReorderBufferChange *change, bool streaming)
{
	PluginState *state = ctx->output_plugin_private;
	RelationInfo **rels;
	MemoryContext old;
	int			n = 0;
	int			i;

	if (!(state->opts.actions & PGSYNC_ACTION_TRUNCATE))
		return;

	old = MemoryContextSwitchTo(state->change_mcxt);
	rels = palloc(sizeof(RelationInfo *) * nrelations);
	for (i = 0; i < nrelations; i++)
	{
		RelationInfo *ri = relation_info_get(relations[i]);

		if (ri->wanted)
			rels[n++] = ri;
	}
	if (n > 0)
	{
		ensure_open(ctx, txn, change, streaming);
		for (i = 0; i < n; i++)
			ensure_relation_sent(ctx, txn, rels[i], streaming);
		WRITE_MESSAGE(ctx, true,
					  encode_truncate(ctx->out, &state->opts, change->lsn,
									  rels, n,
									  change->data.truncate.cascade,
									  change->data.truncate.restart_seqs));
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->change_mcxt);
}

static void
pgsync_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				int nrelations, Relation relations[],
				ReorderBufferChange *change)
{
	emit_truncate(ctx, txn, nrelations, relations, change, false);
}

static void
pgsync_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			   XLogRecPtr lsn, bool transactional, const char *prefix,
			   Size size, const char *content)
{
	PluginState *state = ctx->output_plugin_private;
	MemoryContext old;

	if (!(state->opts.actions & PGSYNC_ACTION_MESSAGE) ||
		!decoder_options_prefix_wanted(&state->opts, prefix))
		return;

	old = MemoryContextSwitchTo(state->change_mcxt);
	if (transactional && txn != NULL)
		ensure_begin(ctx, txn);
	WRITE_MESSAGE(ctx, true,
				  encode_logical_message(ctx->out, &state->opts, lsn,
										 transactional, prefix, size,
										 content));
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->change_mcxt);
}

/* ------------------------------------------------------------ streaming */

static void
pgsync_stream_start(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	/* 's' goes out with the chunk's first change (skip-empty-xacts) */
	TxnState   *ts = stream_state(ctx, txn);
	PluginState *state = ctx->output_plugin_private;

	ts->chunk_open = false;
	if (!state->opts.skip_empty_xacts)
		ensure_stream_open(ctx, txn, txn->xid);
}

static void
pgsync_stream_stop(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PluginState *state = ctx->output_plugin_private;
	TxnState   *ts = txn->output_plugin_private;

	if (ts == NULL || !ts->chunk_open)
		return;
	ts->chunk_open = false;
	WRITE_MESSAGE(ctx, true,
				  encode_stream_control(ctx->out, &state->opts, 'e',
										txn->xid, InvalidTransactionId));
}

/* txn is the transaction or subtransaction aborted. */
static void
pgsync_stream_abort(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					XLogRecPtr abort_lsn)
{
	PluginState *state = ctx->output_plugin_private;
	ReorderBufferTXN *top = txn->toptxn != NULL ? txn->toptxn : txn;
	TxnState   *ts = top->output_plugin_private;

	if (ts == NULL)
		return;
	if (ts->streamed_any)
		WRITE_MESSAGE(ctx, true,
					  encode_stream_control(ctx->out, &state->opts, 'a',
											top->xid, txn->xid));
	/* the relation messages sent so far may be gone with the aborted part */
	forget_streamed_relations(ts, false);
	if (top == txn)
	{
		pfree(ts);
		txn->output_plugin_private = NULL;
	}
}

static void
pgsync_stream_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					 XLogRecPtr commit_lsn)
{
	send_commit(ctx, txn, commit_lsn, true);
}

static void
pgsync_stream_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					 Relation relation, ReorderBufferChange *change)
{
	emit_change(ctx, txn, relation, change, true);
}

static void
pgsync_stream_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					   int nrelations, Relation relations[],
					   ReorderBufferChange *change)
{
	emit_truncate(ctx, txn, nrelations, relations, change, true);
}
