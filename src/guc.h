/*-------------------------------------------------------------------------
 *
 * guc.h
 *	  The pgsync.* configuration parameters (docs/CONFIGURATION.md).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_GUC_H
#define PGSYNC_GUC_H

extern char *pgsync_database;
extern char *pgsync_slot_name;
extern char *pgsync_listen_address;
extern int	pgsync_port;
extern int	pgsync_max_clients;
extern int	pgsync_network_workers;

/* pgsync.network_workers at most (shared memory holds their latches) */
#define PGSYNC_MAX_NETWORK_WORKERS 16
extern int	pgsync_client_queue_kb;
extern int	pgsync_heartbeat_interval_ms;
extern int	pgsync_max_message_kb;
extern int	pgsync_log_segment_kb;
extern int	pgsync_log_retention_mb;
extern int	pgsync_log_retention_age_s;
extern int	pgsync_log_sync_interval_ms;
extern int	pgsync_decoding_work_mem_kb;
extern int	pgsync_max_snapshots;
extern int	pgsync_slot_wal_warning_mb;
extern int	pgsync_max_client_lag_mb;
extern int	pgsync_max_value_bytes;
extern int	pgsync_max_subs_per_client;
extern int	pgsync_max_requests_per_second;

/*
 * Bound of pgsync.max_subscriptions_per_client: each subscription holds up
 * to 64 table patterns that every relation of a routed change is matched
 * against, and a subscribe or unsubscribe rebuilds the match caches.
 */
#define PGSYNC_MAX_SUBS_PER_CLIENT_MAX 1024

/* pgsync.auth */
#define PGSYNC_AUTH_TRUST	0
#define PGSYNC_AUTH_JWT		1
extern int	pgsync_auth;
extern char *pgsync_jwt_secret;
extern char *pgsync_jwt_secret_file;
extern char *pgsync_jwt_key_file;
extern char *pgsync_jwt_algorithms;
extern int	pgsync_jwt_leeway_s;
extern char *pgsync_jwt_audience;
extern char *pgsync_jwt_issuer;
extern char *pgsync_jwt_role_claim;
extern char *pgsync_authenticator_role;
extern int	pgsync_auth_timeout_s;
extern int	pgsync_max_clients_per_role;

/* pgsync.jwt_algorithms as JWT_ALG_* bits (auth/jwt_verify.h), -1 if invalid */
extern int	pgsync_parse_jwt_algorithms(const char *list);
extern bool pgsync_ssl;
extern char *pgsync_ssl_cert_file;
extern char *pgsync_ssl_key_file;
extern int	pgsync_ssl_plain_from;	/* WsPlainFrom (net/ws_tls.h) */
extern char *pgsync_allowed_origins;
extern int	pgsync_handshake_timeout_s;
extern int	pgsync_idle_timeout_s;

/* Define every parameter; call from _PG_init when preloading. */
extern void pgsync_define_gucs(void);

#endif							/* PGSYNC_GUC_H */
