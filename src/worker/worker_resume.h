/*-------------------------------------------------------------------------
 *
 * worker_resume.h
 *	  Resume: replay the change log to a client, then hand it to live push.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WORKER_RESUME_H
#define PGSYNC_WORKER_RESUME_H

#include "fanout/fanout.h"
#include "protocol/client_protocol.h"
#include "protocol/snapshot_file.h"

/*
 * Start replaying to client c, which asked to subscribe with resume_lsn
 * and has no other subscription.  Replies to the request (ok, or an error:
 * resume_too_old with the oldest LSN available, resume_conflict).
 */
extern void resume_start(Fanout *live, FoClient *c, ClientRequest *req);

/*
 * Move c, alone, into a new private fan-out (same queue limit and writer
 * as live) and subscribe it there with req.  On failure the client is back
 * in live, the error replied, and NULL returned.  Does not reply on
 * success: *sub_id is the new subscription's id for the caller's reply.
 */
extern Fanout *resume_private_subscribe(Fanout *live, FoClient *c,
										ClientRequest *req,
										const char **sub_id);

/*
 * After an initial snapshot: replay the log after 'after' to c, alone in
 * its private fan-out priv (which the replay takes over), leaving out the
 * transactions the snapshot saw; join the live stream only once decoding
 * has passed snapshot_lsn (every transaction the snapshot saw committed
 * before it).  The client's first resume point is the heartbeat it is sent
 * then, which names sub_id as "snapshot_joined".  false if the log cannot be read there.
 */
extern bool resume_after_snapshot(Fanout *priv, FoClient *c,
								  const char *sub_id, uint64_t after,
								  const SnapshotInfo *snapshot,
								  uint64_t snapshot_lsn);

/*
 * Feed the replaying clients from the log, as their queues allow, and move
 * those that reached its end to the live fan-out.  Call only between
 * transactions of the live fan-out.
 */
extern void resume_step(Fanout *live);

/*
 * Move the lagging clients of the live fan-out (their queue filled up) to
 * a catch-up from the change log.  Call between transactions.
 */
extern void resume_catch_up_lagging(Fanout *live);

/* Call fn(client, arg) for each client being replayed to (arg is the phase
 * shown in pgsync.clients; catching-up clients show their own). */
extern void resume_foreach_client(void (*fn) (FoClient *, const char *),
								  const char *arg);

/* Number of clients being replayed to. */
extern int	resume_count(void);

#endif							/* PGSYNC_WORKER_RESUME_H */
