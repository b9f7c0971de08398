/*-------------------------------------------------------------------------
 *
 * pgsync.c
 *	  Module entry points: PG_MODULE_MAGIC, _PG_init, SQL-callable basics.
 *
 * The same shared library is the "pgsync" output plugin (output_plugin.c)
 * and, when preloaded with shared_preload_libraries, defines the pgsync.*
 * parameters, the shared memory and commit wake-up (shared_state.c) and
 * starts the WebSocket worker (worker.c).  Loaded only as an output plugin
 * (a walsender or pg_logical_slot_get_changes), it does none of that.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "guc.h"
#include "pgsync.h"
#include "shared_state.h"
#include "worker/worker.h"

PG_MODULE_MAGIC;


void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	pgsync_define_gucs();
	pgsync_shared_init();
	/* with pgsync.port = 0 it only watches a leftover slot (slot_watch.c) */
	pgsync_register_worker();
	if (pgsync_port != 0)
		pgsync_register_network_workers();
}

PG_FUNCTION_INFO_V1(pgsync_version);

Datum
pgsync_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(PGSYNC_VERSION));
}
