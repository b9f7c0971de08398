/*-------------------------------------------------------------------------
 *
 * worker_decode.h
 *	  Logical decoding of the pgsync slot inside the worker process.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WORKER_DECODE_H
#define PGSYNC_WORKER_DECODE_H

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"

/* Receives each message of the output plugin (compact JSON). */
typedef void (*DecodeSink) (const char *data, size_t len, XLogRecPtr lsn);

/* Called from inside long decoding passes to service the network. */
typedef void (*DecodeService) (void);

/*
 * Acquire the slot and create the decoding context, once.  ERRORs
 * propagate (the caller catches them).
 */
extern void decode_start(const char *slot_name, DecodeSink sink,
						 DecodeService service, int service_interval_ms);

extern bool decode_started(void);

/* After an error in decode_start: forget the partial state. */
extern void decode_forget(void);

/*
 * Decode what has been flushed, for at most budget_ms (checked between
 * records); never waits for WAL (a record not flushed to its end stops the
 * pass: decode_wait_for_wal()).  Returns true if WAL remains to be decoded.  When it returns,
 * every transaction committed before decode_position() has been handed to
 * the sink whole (a transaction is replayed within one record).
 */
extern bool decode_pass(int budget_ms);

/*
 * Decoding waits for WAL not flushed yet: announced_commit, the end of a
 * commit announced by an asynchronous commit, or the rest of a record the
 * last pass stopped in.  Flushes it if it has waited long enough, and
 * returns how long the caller may sleep before the next pass (0: at once;
 * -1: nothing is awaited).
 */
extern long decode_wait_for_wal(XLogRecPtr announced_commit, TimestampTz now);

/*
 * Confirm the slot up to upto, a decode_position() whose transactions are
 * durable in the change log: the slot's WAL before it can be recycled.
 */
extern void decode_confirm(XLogRecPtr upto);

/*
 * Call at the start of catalog work as of now (in its transaction, before
 * the first catalog access): flushes the catalog caches if decoding filled
 * them with entries as of the past.  Decoding flushes entries built as of
 * now by itself, at its next pass.
 */
extern void decode_use_current_catalog(void);

/*
 * Caches of our own that depend on the catalog keep one entry per side
 * (decode_in_pass(): built as of a decoded change, or as of now), and
 * ignore the side-switching flushes above (decode_flushing_caches():
 * inside one).  Real invalidations still reach them.
 */
extern bool decode_flushing_caches(void);
extern bool decode_in_pass(void);

/* Position decoded up to (the reader's EndRecPtr). */
extern XLogRecPtr decode_position(void);

/* confirmed_flush of the slot. */
extern XLogRecPtr decode_confirmed(void);

#endif							/* PGSYNC_WORKER_DECODE_H */
