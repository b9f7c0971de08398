/*-------------------------------------------------------------------------
 *
 * worker_serve_snapshot.h
 *	  Initial snapshot over WebSocket: current rows, then the stream.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WORKER_SERVE_SNAPSHOT_H
#define PGSYNC_WORKER_SERVE_SNAPSHOT_H

#include "fanout/fanout.h"
#include "protocol/client_protocol.h"

/*
 * A subscribe with "snapshot": true, checked by subscribe_check(): start
 * the exporter and reply.  Call outside a transaction.
 */
extern void snapshot_request(Fanout *live, FoClient *c, ClientRequest *req);

/* Advance the clients waiting for or receiving a snapshot. */
extern void snapshot_step(Fanout *live);

extern int	snapshot_count(void);

/* Call fn(client, arg) for each client waiting for or receiving rows. */
extern void snapshot_foreach_client(void (*fn) (FoClient *, const char *),
									const char *arg);

#endif							/* PGSYNC_WORKER_SERVE_SNAPSHOT_H */
