/*-------------------------------------------------------------------------
 *
 * ws_auth.h
 *	  Authentication of WebSocket clients (pgsync.auth = jwt): the token at
 *	  the upgrade or in the first message, its expiry and its refresh.
 *
 * The worker loads the keys and settings (worker_auth.c) and hands them
 * over with ws_auth_configure(); the server verifies tokens in its lws
 * callbacks with the pure verifier (auth/jwt_verify.h).  Whether the
 * token's role exists and may be used needs the catalog: each newly
 * authenticated client is queued for the worker's main loop as a role
 * check (WS_PENDING_ROLE, ws_server.h), and reads nothing until it passes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WS_AUTH_H
#define PGSYNC_WS_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/jwt_verify.h"

/*
 * Principal of a client whose role is not checked yet: the access check
 * denies it everything (fail closed).
 */
#define WS_PRINCIPAL_UNCHECKED	UINT32_MAX

/*
 * Authentication settings.  jwt false: trust (no token asked).  keys:
 * taken over (the previous set is freed), NULL when none could be loaded
 * (every upgrade is then refused with 503).  opt: algs, leeway, audience,
 * issuer, role_claim (the strings are copied).
 */
extern void ws_auth_configure(bool jwt, JwtKeySet *keys,
							  const JwtOptions *opt, int auth_timeout_s);
extern bool ws_auth_required(void);

/* pgsync.max_clients_per_role (0: no limit); applies to new clients. */
extern void ws_auth_set_max_per_role(int max_clients);

#endif							/* PGSYNC_WS_AUTH_H */
