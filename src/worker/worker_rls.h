/*-------------------------------------------------------------------------
 *
 * worker_rls.h
 *	  Row-level security policies evaluated on pushed changes (worker).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WORKER_RLS_H
#define PGSYNC_WORKER_RLS_H

#include "fanout/fanout.h"

typedef enum WorkerRlsKind
{
	RLS_NO_POLICY,				/* RLS does not apply to the role there */
	RLS_POLICY,					/* compiled: each change is checked */
	RLS_UNSUPPORTED				/* cannot be evaluated: the table is refused */
} WorkerRlsKind;

/*
 * Does RLS apply to role on relid, and can its policies be evaluated for
 * this principal (role and token claims)?  Compiles and caches them.
 * *why: the reason for RLS_UNSUPPORTED.  Needs a transaction.
 */
extern WorkerRlsKind worker_rls_prepare(uint32 principal, Oid role,
										const char *claims, Oid relid,
										const char **why);

/*
 * May the principal see change (a compact I/U/D message of relid,
 * described by rel_msg)?  tick identifies the change: its row is decoded
 * once per tick.  Needs a transaction.  Never ERRORs on a policy error
 * (the row is then not visible).
 */
extern bool worker_rls_row_visible(uint32 principal, Oid role,
								   const char *claims, Oid relid,
								   const FoMsg *rel_msg, const FoMsg *change,
								   uint64 tick);

/* Policies of relid changed (InvalidOid: of any table): compile again. */
extern void worker_rls_invalidate(Oid relid);

#endif							/* PGSYNC_WORKER_RLS_H */
