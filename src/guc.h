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
