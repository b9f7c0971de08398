/*-------------------------------------------------------------------------
 *
 * ws_tls.h
 *	  TLS for the WebSocket server (wss://): the certificate and key, and
 *	  who may still connect with plain ws:// (docs/SECURITY.md, "Transport:
 *	  TLS").
 *
 * The worker loads the files (ws_tls_load) before it listens: with a
 * credential loaded, ws_server_start() listens with TLS.  On SIGHUP it
 * loads them again, which swaps the credential new handshakes get.  This
 * runs in the worker's main loop, never in an lws callback, and only
 * returns messages: the caller logs them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WS_TLS_H
#define PGSYNC_WS_TLS_H

#include <stdbool.h>

/* pgsync.ssl_plain_from: with TLS on, who may still use plain ws:// */
typedef enum WsPlainFrom
{
	WS_PLAIN_FROM_LOOPBACK,		/* peers on 127.0.0.0/8 or ::1 */
	WS_PLAIN_FROM_NONE,
	WS_PLAIN_FROM_ANY
} WsPlainFrom;

/*
 * Load the certificate (PEM, the server's certificate first, then its
 * chain) and private key: for the next ws_server_start(), and, while
 * serving with TLS, for every handshake from now on (established
 * connections keep theirs).  An empty name means the server's own
 * ssl_cert_file / ssl_key_file; relative names are relative to the data
 * directory (the worker's working directory), as for PostgreSQL.  The key
 * file must pass PostgreSQL's permission rule and have no passphrase.
 * False with *errmsg (a static buffer, naming the file) on failure: the
 * credential loaded before, if any, stays in use.
 */
extern bool ws_tls_load(const char *cert_file, const char *key_file,
						const char **errmsg);

/* Is a TLS credential loaded (the server listens, or will, with TLS)? */
extern bool ws_tls_enabled(void);

/* Reloadable: who may use plain ws:// while TLS is on. */
extern void ws_tls_set_plain_from(WsPlainFrom who);

#endif							/* PGSYNC_WS_TLS_H */
