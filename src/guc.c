/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  The pgsync.* configuration parameters.
 *
 * Reloadable with SIGHUP (pg_reload_conf()): client_queue_bytes,
 * heartbeat_interval, max_message_bytes.  Everything else needs a server
 * restart: the database, slot and listening socket are set up once by the
 * worker, and max_clients sizes shared memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "guc.h"

char	   *pgsync_database = NULL;
char	   *pgsync_slot_name = NULL;
char	   *pgsync_listen_address = NULL;
int			pgsync_port = 8090;
int			pgsync_max_clients = 10000;
int			pgsync_client_queue_kb = 8192;
int			pgsync_heartbeat_interval_ms = 10000;
int			pgsync_max_message_kb = 64;

void
pgsync_define_gucs(void)
{
	DefineCustomStringVariable("pgsync.database",
							   "Database whose changes the pgsync worker streams.",
							   NULL, &pgsync_database, "postgres",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pgsync.slot_name",
							   "Logical replication slot the pgsync worker consumes (created if missing).",
							   NULL, &pgsync_slot_name, "pgsync",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pgsync.listen_address",
							   "Address the WebSocket server binds to.",
							   "Loopback only by default; '*' or '0.0.0.0' binds every interface.",
							   &pgsync_listen_address, "127.0.0.1",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.port",
							"TCP port of the WebSocket server; 0 disables the worker.",
							NULL, &pgsync_port, 8090, 0, 65535,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.max_clients",
							"Maximum number of concurrent WebSocket clients.",
							NULL, &pgsync_max_clients, 10000, 1, 1000000,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.client_queue_bytes",
							"Per-client send queue limit; a client over it is disconnected (slow_consumer).",
							NULL, &pgsync_client_queue_kb, 8192, 64,
							INT_MAX / 1024, PGC_SIGHUP, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.heartbeat_interval",
							"Interval between heartbeat messages to clients; 0 disables them.",
							NULL, &pgsync_heartbeat_interval_ms, 10000, 0,
							INT_MAX, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.max_message_bytes",
							"Largest message a client may send.",
							NULL, &pgsync_max_message_kb, 64, 1, 16384,
							PGC_SIGHUP, GUC_UNIT_KB, NULL, NULL, NULL);
	MarkGUCPrefixReserved("pgsync");
}
