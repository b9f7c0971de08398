/*-------------------------------------------------------------------------
 *
 * pgsync.c
 *	  Module entry points: PG_MODULE_MAGIC, _PG_init, SQL-callable basics.
 *
 * The same shared library is the "pgsync" output plugin (output_plugin.c)
 * and, when preloaded, will start the WebSocket worker.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "pgsync.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
}

PG_FUNCTION_INFO_V1(pgsync_version);

Datum
pgsync_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(PGSYNC_VERSION));
}
