/*-------------------------------------------------------------------------
 *
 * worker_status.h
 *	  The worker's lines of pgsync.status and pgsync.clients.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WORKER_STATUS_H
#define PGSYNC_WORKER_STATUS_H

#include "fanout/fanout.h"

/* Publish every client's line and the totals (under the shared lock). */
extern void worker_status_publish(Fanout *live);

#endif							/* PGSYNC_WORKER_STATUS_H */
