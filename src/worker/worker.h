/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The pgsync background worker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WORKER_H
#define PGSYNC_WORKER_H

/* Register the worker (from _PG_init, while preloading). */
extern void pgsync_register_worker(void);

#endif							/* PGSYNC_WORKER_H */
