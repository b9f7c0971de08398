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

/* Register pgsync.network_workers network workers (worker_network.c). */
extern void pgsync_register_network_workers(void);

#endif							/* PGSYNC_WORKER_H */
