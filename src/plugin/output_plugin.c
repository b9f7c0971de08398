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
} TxnState;

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

static void
pgsync_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			  XLogRecPtr commit_lsn)
{
	PluginState *state = ctx->output_plugin_private;
	TxnState   *ts = txn->output_plugin_private;
	bool		sent = ts != NULL && ts->begin_sent;

	if (ts != NULL)
		pfree(ts);
	txn->output_plugin_private = NULL;

	if (!sent)
	{
		/* nothing was sent: let a walsender confirm progress anyway */
		OutputPluginUpdateProgress(ctx, true);
		return;
	}
	if (state->opts.include_transaction)
		WRITE_MESSAGE(ctx, true,
					  encode_commit(ctx->out, &state->opts, txn->xid,
									commit_lsn, txn->end_lsn,
									TXN_COMMIT_TIME(txn)));
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
ensure_relation_sent(LogicalDecodingContext *ctx, RelationInfo *ri)
{
	PluginState *state = ctx->output_plugin_private;
	StringInfoData msg;

	if (state->opts.format != PGSYNC_FORMAT_COMPACT || ri->message_checked)
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
pgsync_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			  Relation relation, ReorderBufferChange *change)
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
	ensure_begin(ctx, txn);
	ensure_relation_sent(ctx, ri);
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
pgsync_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				int nrelations, Relation relations[],
				ReorderBufferChange *change)
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
		ensure_begin(ctx, txn);
		for (i = 0; i < n; i++)
			ensure_relation_sent(ctx, rels[i]);
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
