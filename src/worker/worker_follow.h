/*-------------------------------------------------------------------------
 *
 * worker_follow.h
 *	  A network worker's stream: the change log the decoding worker
 *	  writes, followed as it grows.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WORKER_FOLLOW_H
#define PGSYNC_WORKER_FOLLOW_H

#include "access/xlogdefs.h"
#include "fanout/fanout.h"

/* Open the log once the decoding worker published it; false: not yet. */
extern bool follow_start(void);
extern bool follow_started(void);

/*
 * Route the units published since the last pass to fo, calling service
 * (the network loop) now and then inside a large one; returns at a unit
 * boundary, true if budget_ms ran out before the end.
 */
extern bool follow_pass(Fanout *fo, int budget_ms, void (*service) (void));

/* The resume point a heartbeat carries: everything before it is routed. */
extern XLogRecPtr follow_heartbeat_lsn(void);

/*
 * Every transaction committed before this WAL position has been routed
 * by this process: the decoding position in the worker, the position
 * the decoding worker published with the units routed here in a network
 * worker.
 */
extern XLogRecPtr routed_position(void);

#endif							/* PGSYNC_WORKER_FOLLOW_H */
