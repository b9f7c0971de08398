/*-------------------------------------------------------------------------
 *
 * pgsync.h
 *	  Version, and every symbol the shared library exports.
 *
 * pgsync.so is built with -fvisibility=hidden (Makefile): only what is
 * declared PGDLLEXPORT is visible to the server and to other libraries.
 * These are all of them, besides Pg_magic_func and the pg_finfo_* records
 * that PG_MODULE_MAGIC and PG_FUNCTION_INFO_V1 declare.  PostgreSQL 15's
 * PG_FUNCTION_INFO_V1 does not mark the function itself (16's does), so the
 * SQL functions are declared here.  Check with `nm -D --defined-only
 * pgsync.so`.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_H
#define PGSYNC_H

#include "fmgr.h"

#define PGSYNC_VERSION "0.1.0"

/* library load (pgsync.c) and output plugin (plugin/output_plugin.c) */
extern PGDLLEXPORT void _PG_init(void);
struct OutputPluginCallbacks;
extern PGDLLEXPORT void _PG_output_plugin_init(struct OutputPluginCallbacks *cb);

/* background worker mains, found by name (bgw_function_name) */
extern PGDLLEXPORT void pgsync_worker_main(Datum arg);	/* worker/worker.c */
extern PGDLLEXPORT void pgsync_network_worker_main(Datum arg);	/* worker/worker_network.c */
extern PGDLLEXPORT void pgsync_snapshot_main(Datum main_arg);	/* snapshot/snapshot_exporter.c */

/* SQL functions (sql/pgsync--0.1.0.sql) */
extern PGDLLEXPORT Datum pgsync_version(PG_FUNCTION_ARGS);	/* pgsync.c */
extern PGDLLEXPORT Datum pgsync_status(PG_FUNCTION_ARGS);	/* sql_status.c */
extern PGDLLEXPORT Datum pgsync_clients(PG_FUNCTION_ARGS);	/* sql_status.c */
extern PGDLLEXPORT Datum pgsync_drop_slot(PG_FUNCTION_ARGS); /* sql_status.c */
extern PGDLLEXPORT Datum pgsync_snapshot_to_file(PG_FUNCTION_ARGS); /* snapshot/snapshot.c */

#endif							/* PGSYNC_H */
