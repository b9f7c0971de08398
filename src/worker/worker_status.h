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

/* Which serving process this is: 0 the worker, 1 + i network worker i. */
extern void worker_status_set_serving(int index);

/* At exit, with the shared lock held: remove this process's lines. */
extern void worker_status_forget_serving(void);

/*
 * Publish (under the shared lock) every client's line and the totals if
 * this process serves clients, the decoding figures if it decodes.
 */
extern void worker_status_publish(Fanout *live, bool serving, bool decoding);

#endif							/* PGSYNC_WORKER_STATUS_H */
