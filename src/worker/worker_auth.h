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

/*
 * Check the role of a newly authenticated client (WS_PENDING_ROLE) and
 * give it the principal of its role and claims (JSON text of its token).
 */
extern void worker_auth_check_role(FoClient *c, const char *role,
								   const char *claims);

/*
 * After roles changed (DROP ROLE, ALTER ROLE NOLOGIN, REVOKE of a role
 * from the authenticator): check every client's role again, closing those
 * whose role may no longer be used: those of the live fan-out, and those
 * replaying or taking a snapshot.  Cheap when nothing changed.
 */
extern void worker_auth_recheck_roles(Fanout *live);

/*
 * May principal (0: unrestricted) read table relid?  NULL if so, with
 * *columns the column set it may read (0: every column; see
 * worker_columns.h) and *rows set when a row-level security policy then
 * decides each change (worker_rls.c); else the reason (static text).  The
 * one rule for subscribe checks, snapshots and the fan-out's access
 * check.  Needs a transaction.
 */
extern const char *worker_auth_denies(uint32 principal, Oid relid,
									  uint32 *columns, bool *rows);

/* The role and claims (canonical JSON) of a principal; false if unknown. */
extern bool worker_auth_principal(uint32 principal, Oid *role,
								  const char **claims);

#endif							/* PGSYNC_WORKER_AUTH_H */
