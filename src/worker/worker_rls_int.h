/*-------------------------------------------------------------------------
 *
 * worker_rls_int.h
 *	  Private to worker_rls.c and worker_rls_row.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WORKER_RLS_INT_H
#define PGSYNC_WORKER_RLS_INT_H

#include "fanout/fanout.h"

/* A change's row by attribute number of the table's current descriptor. */
typedef struct RlsRow
{
	int			natts;
	Datum	   *values;
	bool	   *isnull;
	bool	   *known;			/* false: the change does not carry it */
} RlsRow;

/*
 * The row of change (described by rel_msg), decoded once per tick; NULL
 * if it cannot be.  Valid until the next call with another tick.
 */
extern const RlsRow *rls_row_decode(Oid relid, const FoMsg *rel_msg,
									const FoMsg *change, uint64 tick);
extern void rls_row_forget(void);

/*
 * Run fn(arg) in a subtransaction; false if it raised an error (logged at
 * DEBUG1).  Inside the reorder buffer's transaction or one of our own.
 */
extern bool rls_in_subxact(void (*fn) (void *), void *arg);

#endif							/* PGSYNC_WORKER_RLS_INT_H */
