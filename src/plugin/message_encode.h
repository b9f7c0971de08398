/*-------------------------------------------------------------------------
 *
 * message_encode.h
 *	  Encode protocol messages (docs/PROTOCOL.md) in both formats.
 *
 * Each function appends exactly one message, one JSON text, to out.  The
 * output plugin writes one message per output row; the WebSocket worker
 * will send the very same bytes to clients.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_MESSAGE_ENCODE_H
#define PGSYNC_MESSAGE_ENCODE_H

#include "access/htup.h"
#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

#include "plugin/decoder_options.h"
#include "plugin/relation_info.h"

extern void encode_begin(StringInfo out, const DecoderOptions *opts,
						 TransactionId xid, XLogRecPtr final_lsn,
						 TimestampTz commit_time);

extern void encode_commit(StringInfo out, const DecoderOptions *opts,
						  TransactionId xid, XLogRecPtr commit_lsn,
						  XLogRecPtr end_lsn, TimestampTz commit_time);

/* Compact format only: describe a relation. */
extern void encode_relation(StringInfo out, const RelationInfo *ri);

/*
 * A relation's column description, the one writer of it: [names],[types],
 * [key positions] as in the relation message, or with named, as the
 * members "columns":[..],"types":[..],"key":[..] of a snapshot file's
 * header (snapshot.h).  Parsed by row_filter_column_description().
 */
extern void encode_column_description(StringInfo out, const RelationInfo *ri,
									  bool named);

/* op is 'I', 'U' or 'D'; newtuple/oldtuple may be NULL. */
extern void encode_row_change(StringInfo out, const DecoderOptions *opts,
							  const RelationInfo *ri, TupleDesc desc, char op,
							  XLogRecPtr lsn, HeapTuple newtuple,
							  HeapTuple oldtuple);

extern void encode_truncate(StringInfo out, const DecoderOptions *opts,
							XLogRecPtr lsn, RelationInfo **rels, int nrels,
							bool cascade, bool restart_identity);

extern void encode_logical_message(StringInfo out, const DecoderOptions *opts,
								   XLogRecPtr lsn, bool transactional,
								   const char *prefix, Size size,
								   const char *content);

/*
 * Streaming of transactions in progress (option stream-in-progress):
 * op 's' opens a chunk of transaction xid's changes, 'x' says the changes
 * that follow belong to subtransaction subxid (xid itself for the
 * top level), 'e' ends the chunk, 'a' aborts subxid (the whole
 * transaction when subxid = xid).  Each carries xid whatever include-xids.
 */
extern void encode_stream_control(StringInfo out, const DecoderOptions *opts,
								  char op, TransactionId xid,
								  TransactionId subxid);

#endif							/* PGSYNC_MESSAGE_ENCODE_H */
