/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  The pgsync.* configuration parameters.
 *
 * Reloadable with SIGHUP (pg_reload_conf()): client_queue_bytes,
 * heartbeat_interval, max_message_bytes, log_retention_size,
 * log_retention_age, log_sync_interval, decoding_work_mem, max_snapshots,
 * max_client_lag, slot_wal_warning, max_subscriptions_per_client,
 * max_requests_per_second, max_value_bytes (the latter applies
 * when the worker next starts decoding, and to snapshots started after
 * the reload), ssl_cert_file and ssl_key_file (new connections get the
 * new certificate), ssl_plain_from, allowed_origins, handshake_timeout
 * (sockets accepted after the reload), idle_timeout.  Everything else
 * needs a server restart: the database, slot and listening socket are set
 * up once by the worker (ssl decides what the socket speaks), and
 * max_clients sizes shared memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "auth/jwt_verify.h"
#include "guc.h"
#include "net/ws_tls.h"
#include "plugin/decoder_options.h"
#include "protocol/rate_limit.h"
#include "protocol/handshake.h"

char	   *pgsync_database = NULL;
char	   *pgsync_slot_name = NULL;
char	   *pgsync_listen_address = NULL;
int			pgsync_port = 8090;
int			pgsync_max_clients = 10000;
int			pgsync_network_workers = 0;
int			pgsync_client_queue_kb = 8192;
int			pgsync_heartbeat_interval_ms = 10000;
int			pgsync_max_message_kb = 64;
int			pgsync_log_segment_kb = 16384;
int			pgsync_log_retention_mb = 1024;
int			pgsync_log_retention_age_s = 86400;
int			pgsync_log_sync_interval_ms = 20;
int			pgsync_decoding_work_mem_kb = 2048;
int			pgsync_max_snapshots = 2;
int			pgsync_slot_wal_warning_mb = 1024;
int			pgsync_max_client_lag_mb = 0;
int			pgsync_max_value_bytes = PGSYNC_MAX_VALUE_BYTES_DEFAULT;
int			pgsync_auth = PGSYNC_AUTH_TRUST;
char	   *pgsync_jwt_secret = NULL;
char	   *pgsync_jwt_secret_file = NULL;
char	   *pgsync_jwt_key_file = NULL;
char	   *pgsync_jwt_algorithms = NULL;
int			pgsync_jwt_leeway_s = 30;
char	   *pgsync_jwt_audience = NULL;
char	   *pgsync_jwt_issuer = NULL;
char	   *pgsync_jwt_role_claim = NULL;
char	   *pgsync_authenticator_role = NULL;
int			pgsync_auth_timeout_s = 10;
int			pgsync_max_clients_per_role = 0;

static const struct config_enum_entry auth_options[] = {
	{"trust", PGSYNC_AUTH_TRUST, false},
	{"jwt", PGSYNC_AUTH_JWT, false},
	{NULL, 0, false}
};

/* pgsync.jwt_algorithms: a comma list of HS256, RS256, ES256 */
static bool
check_jwt_algorithms(char **newval, void **extra, GucSource source)
{
	if (pgsync_parse_jwt_algorithms(*newval) < 0)
	{
		GUC_check_errdetail("Expected a comma-separated list of HS256, RS256 and ES256.");
		return false;
	}
	return true;
}

int
pgsync_parse_jwt_algorithms(const char *list)
{
	int			bits = 0;
	char	   *copy = pstrdup(list);
	char	   *tok;
	char	   *save = NULL;

	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
		 tok = strtok_r(NULL, ", \t", &save))
	{
		if (pg_strcasecmp(tok, "HS256") == 0)
			bits |= JWT_ALG_HS256;
		else if (pg_strcasecmp(tok, "RS256") == 0)
			bits |= JWT_ALG_RS256;
		else if (pg_strcasecmp(tok, "ES256") == 0)
			bits |= JWT_ALG_ES256;
		else
		{
			pfree(copy);
			return -1;
		}
	}
	pfree(copy);
	return bits == 0 ? -1 : bits;
}
int			pgsync_max_subs_per_client = 32;
int			pgsync_max_requests_per_second = 100;
bool		pgsync_ssl = false;
char	   *pgsync_ssl_cert_file = NULL;
char	   *pgsync_ssl_key_file = NULL;
int			pgsync_ssl_plain_from = WS_PLAIN_FROM_LOOPBACK;
char	   *pgsync_allowed_origins = NULL;
int			pgsync_handshake_timeout_s = 10;
int			pgsync_idle_timeout_s = 60;

static const struct config_enum_entry plain_from_options[] = {
	{"loopback", WS_PLAIN_FROM_LOOPBACK, false},
	{"none", WS_PLAIN_FROM_NONE, false},
	{"any", WS_PLAIN_FROM_ANY, false},
	{NULL, 0, false}
};

/* pgsync.allowed_origins: every entry an origin or "*" */
static bool
check_allowed_origins(char **newval, void **extra, GucSource source)
{
	const char *bad = NULL;
	size_t		bad_len = 0;

	if (handshake_origin_list_valid(*newval, &bad, &bad_len))
		return true;
	if (bad_len == 0)
		GUC_check_errdetail("The list has an empty entry.");
	else
		GUC_check_errdetail("Entry \"%.*s\" is not \"*\" or an origin of the form scheme://host[:port].",
							(int) bad_len, bad);
	return false;
}

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
	DefineCustomIntVariable("pgsync.network_workers",
							"Processes that serve WebSocket clients beside the decoding worker; 0: the decoding worker serves them itself.",
							"Each network worker follows the change log and serves up to pgsync.max_clients clients; they share pgsync.port.",
							&pgsync_network_workers, 0, 0, PGSYNC_MAX_NETWORK_WORKERS,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.client_queue_bytes",
							"Per-client send queue limit; a client over it catches up from the change log.",
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
	DefineCustomIntVariable("pgsync.max_subscriptions_per_client",
							"Most subscriptions one WebSocket connection may hold; more are refused with too_many_subscriptions.",
							"Lowering it keeps the subscriptions clients hold; it only refuses new ones.",
							&pgsync_max_subs_per_client, 32, 1,
							PGSYNC_MAX_SUBS_PER_CLIENT_MAX,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.max_requests_per_second",
							"Requests per second one WebSocket connection may send on average, in bursts of twice that; 0 means no limit.",
							"Requests beyond it are dropped with one rate_limited error per second; a connection sending more than ten times it is closed.",
							&pgsync_max_requests_per_second, 100, 0,
							RATE_MAX_PER_SECOND,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.log_segment_size",
							"Size at which the change log starts a new segment file.",
							NULL, &pgsync_log_segment_kb, 16384, 64,
							INT_MAX / 1024, PGC_POSTMASTER, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.log_retention_size",
							"Change log kept for resuming clients, by size; 0 means no size limit.",
							NULL, &pgsync_log_retention_mb, 1024, 0,
							INT_MAX, PGC_SIGHUP, GUC_UNIT_MB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.log_retention_age",
							"Change log kept for resuming clients, by age; 0 means no age limit.",
							NULL, &pgsync_log_retention_age_s, 86400, 0,
							INT_MAX, PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.log_sync_interval",
							"How often the change log is fsynced and the slot confirmed.",
							"Changes reach clients before the fsync; the slot, and so the WAL it holds, only moves after it.",
							&pgsync_log_sync_interval_ms, 20, 1, 10000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.decoding_work_mem",
							"logical_decoding_work_mem of the worker's own decoding.",
							"A transaction bigger than this spills to disk in one step, during which the network waits: "
							"smaller keeps clients answered sooner (2MB: about 50 ms at worst).",
							&pgsync_decoding_work_mem_kb, 2048, 64, INT_MAX / 1024,
							PGC_SIGHUP, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.max_snapshots",
							"Initial snapshots exported at the same time; more requests wait their turn.",
							"Each exporter is a background worker and takes a max_worker_processes slot.",
							&pgsync_max_snapshots, 2, 1, 64,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.max_client_lag",
							"How far behind the change log's end a catching-up client may fall before it is disconnected; 0 means only retention limits it.",
							"Measured in WAL between the client's position and the last logged commit.",
							&pgsync_max_client_lag_mb, 0, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.slot_wal_warning",
							"WAL retained by the pgsync slot past which a WARNING is logged; 0 disables it.",
							"Checked by the worker every few seconds, also while it waits for its slot or is disabled (pgsync.port = 0).",
							&pgsync_slot_wal_warning_mb, 1024, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.max_value_bytes",
							"Largest JSON of one value the worker sends; a larger value is replaced by a marker with its size.",
							"Passed to the plugin as max-value-bytes: applies when the worker next starts decoding (it restarts), and to snapshots started after the change.",
							&pgsync_max_value_bytes, PGSYNC_MAX_VALUE_BYTES_DEFAULT,
							PGSYNC_MAX_VALUE_BYTES_MIN, PGSYNC_MAX_VALUE_BYTES_MAX,
							PGC_SIGHUP, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomEnumVariable("pgsync.auth",
							 "How WebSocket clients are authenticated: jwt, or trust (loopback only).",
							 "With trust, clients are not authenticated and the server listens only on loopback addresses.",
							 &pgsync_auth, PGSYNC_AUTH_TRUST, auth_options,
							 PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pgsync.jwt_secret",
							   "HMAC secret (HS256) that client tokens are signed with.",
							   "At least 32 bytes. Visible to superusers only; prefer pgsync.jwt_secret_file.",
							   &pgsync_jwt_secret, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomStringVariable("pgsync.jwt_secret_file",
							   "File holding the HMAC secret (HS256) of client tokens.",
							   "Its whole content is the secret (one trailing newline is removed). Relative to the data directory.",
							   &pgsync_jwt_secret_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomStringVariable("pgsync.jwt_key_file",
							   "File with the public key(s) of client tokens: a PEM public key (RS256, ES256) or a JWKS document.",
							   "Relative to the data directory. Read again on reload (key rotation).",
							   &pgsync_jwt_key_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomStringVariable("pgsync.jwt_algorithms",
							   "Signature algorithms accepted in client tokens (comma list of HS256, RS256, ES256).",
							   "alg none is never accepted; each key is used only with the algorithm of its type.",
							   &pgsync_jwt_algorithms, "HS256, RS256, ES256",
							   PGC_SIGHUP, 0, check_jwt_algorithms, NULL, NULL);
	DefineCustomIntVariable("pgsync.jwt_leeway",
							"Clock skew tolerated when checking a token's exp and nbf.",
							NULL, &pgsync_jwt_leeway_s, 30, 0, 600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomStringVariable("pgsync.jwt_audience",
							   "If set, a token's aud must contain this value.",
							   NULL, &pgsync_jwt_audience, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pgsync.jwt_issuer",
							   "If set, a token's iss must equal this value.",
							   NULL, &pgsync_jwt_issuer, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pgsync.jwt_role_claim",
							   "Name of the token claim that names the client's PostgreSQL role.",
							   NULL, &pgsync_jwt_role_claim, "role",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pgsync.authenticator_role",
							   "A role granted the roles clients may use without LOGIN (as in PostgREST); empty: the token's role must have LOGIN.",
							   NULL, &pgsync_authenticator_role, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.auth_timeout",
							"Time a connection that came without a token has to send its auth message.",
							NULL, &pgsync_auth_timeout_s, 10, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.max_clients_per_role",
							"Most concurrent clients authenticated as one role; 0: no limit but pgsync.max_clients.",
							"Off by default: in the PostgREST model every end user shares one role.",
							&pgsync_max_clients_per_role, 0, 0, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("pgsync.ssl",
							 "Serve WebSocket clients over TLS (wss://).",
							 "Plain ws:// connections are then governed by pgsync.ssl_plain_from.",
							 &pgsync_ssl, false,
							 PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pgsync.ssl_cert_file",
							   "TLS certificate file (PEM, with its chain) of the WebSocket server.",
							   "Empty: the server's ssl_cert_file.  Relative paths are relative to the data directory.",
							   &pgsync_ssl_cert_file, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pgsync.ssl_key_file",
							   "TLS private key file (PEM) of the WebSocket server.",
							   "Empty: the server's ssl_key_file.  Relative paths are relative to the data directory.",
							   &pgsync_ssl_key_file, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("pgsync.ssl_plain_from",
							 "With pgsync.ssl on, which peers may still connect with plain ws://.",
							 "loopback: only peers on a loopback address; none: nobody; any: everybody.",
							 &pgsync_ssl_plain_from, WS_PLAIN_FROM_LOOPBACK,
							 plain_from_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pgsync.allowed_origins",
							   "Comma-separated origins a browser client may connect from; empty allows any.",
							   "A request with another Origin header is refused with 403; requests without one (non-browser clients) are allowed.",
							   &pgsync_allowed_origins, "",
							   PGC_SIGHUP, 0, check_allowed_origins, NULL, NULL);
	DefineCustomIntVariable("pgsync.handshake_timeout",
							"Time a socket has, from its accept, to complete the WebSocket upgrade (TLS included).",
							NULL, &pgsync_handshake_timeout_s, 10, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("pgsync.idle_timeout",
							"Time a client with no subscription may stay silent before it is closed; 0 disables it.",
							NULL, &pgsync_idle_timeout_s, 60, 0, INT_MAX / 1000,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	MarkGUCPrefixReserved("pgsync");
}
