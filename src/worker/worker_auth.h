/*-------------------------------------------------------------------------
 *
 * worker_auth.h
 *	  The catalog side of client authentication and authorization: keys
 *	  and settings handed to the server, the token's role, and what a role
 *	  may read (docs/SECURITY.md).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WORKER_AUTH_H
#define PGSYNC_WORKER_AUTH_H

#include "fanout/fanout.h"

/*
 * Load the keys and settings (pgsync.auth, pgsync.jwt_*) and hand them to
 * the WebSocket server.  At start and after each SIGHUP; a key file that
 * cannot be used keeps the keys loaded before (WARNING).
 */
extern void worker_auth_configure(void);

/*
 * May the listening address be used?  false with *errmsg under
 * pgsync.auth = trust and an address that is not loopback.
 */
extern bool worker_auth_listen_allowed(const char *address,
									   const char **errmsg);

/* Check the role of a newly authenticated client (WS_PENDING_ROLE). */
extern void worker_auth_check_role(FoClient *c, const char *role);

/*
 * After roles changed (DROP ROLE, ALTER ROLE NOLOGIN, REVOKE of a role
 * from the authenticator): check every client's role again, closing those
 * whose role may no longer be used: those of the live fan-out, and those
 * replaying or taking a snapshot.  Cheap when nothing changed.
 */
extern void worker_auth_recheck_roles(Fanout *live);

/*
 * May role (InvalidOid: unrestricted) read table relid?  NULL if so, with
 * *columns the column set it may read (0: every column; see
 * worker_columns.h), else the reason (static text).  The one rule for
 * subscribe checks, snapshots and the fan-out's access check.
 */
extern const char *worker_auth_denies(Oid role, Oid relid, uint32 *columns);

#endif							/* PGSYNC_WORKER_AUTH_H */
