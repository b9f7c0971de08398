/*-------------------------------------------------------------------------
 *
 * worker_resume.h
 *	  Resume: replay the change log to a client, then hand it to live push.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WORKER_RESUME_H
#define PGSYNC_WORKER_RESUME_H

#include "client_protocol.h"
#include "fanout.h"

/*
 * Start replaying to client c, which asked to subscribe with resume_lsn
 * and has no other subscription.  Replies to the request (ok, or an error:
 * resume_too_old with the oldest LSN available, resume_conflict).
 */
extern void resume_start(Fanout *live, FoClient *c, ClientRequest *req);

/*
 * Feed the replaying clients from the log, as their queues allow, and move
 * those that reached its end to the live fan-out.  Call only between
 * transactions of the live fan-out.
 */
extern void resume_step(Fanout *live);

/* Number of clients being replayed to. */
extern int	resume_count(void);

#endif							/* PGSYNC_WORKER_RESUME_H */
