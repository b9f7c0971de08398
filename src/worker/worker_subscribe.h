/*-------------------------------------------------------------------------
 *
 * worker_subscribe.h
 *	  Subscribe-time checks against the catalog (worker main loop only).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WORKER_SUBSCRIBE_H
#define PGSYNC_WORKER_SUBSCRIBE_H

#include "protocol/client_protocol.h"

/*
 * Check a subscribe request, inside a transaction: the filter's grammar,
 * literal table patterns against the catalog, that the client's principal
 * (0: no restriction) may read the tables named literally (worker_auth.c), the
 * filter against those tables' columns.  Returns NULL when it may be activated, else a CP_ERR_*
 * code with msg filled.  Never waits for a lock: when a table it must open
 * is locked against it (LOCK TABLE, ALTER TABLE, VACUUM FULL ...), returns
 * NULL with *would_wait set, and the caller asks again later.  May ERROR
 * (catalog access).
 */
extern const char *subscribe_check(const ClientRequest *req, uint32 principal,
								   char *msg, size_t msgsize,
								   bool *would_wait);

#endif							/* PGSYNC_WORKER_SUBSCRIBE_H */
