/*-------------------------------------------------------------------------
 *
 * ws_server.h
 *	  The WebSocket server: libwebsockets on the worker's libuv loop.
 *
 * The interface of five modules (private header ws_server_int.h):
 * ws_server.c owns the lws context, accepting and the status slots;
 * ws_session.c one session per connection bound to a FoClient of the
 * fan-out (handshake checks, receive path, requests, replies); ws_send.c
 * the send path (queue -> lws_write); ws_tls.c TLS (its worker-side
 * interface is ws_tls.h); ws_timeouts.c the handshake and idle timeouts.  Subscribe requests need the catalog
 * (unknown_table, row filters compiled against the tables:
 * worker_subscribe.c), which must not be used inside an lws callback:
 * they are parked in a pending list that the worker's main loop drains
 * with ws_server_take_pending().  The number of sockets is bounded by
 * ws_fd_budget.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WS_SERVER_H
#define PGSYNC_WS_SERVER_H

#include <uv.h>

#include "fanout/fanout.h"
#include "protocol/client_protocol.h"

/*
 * Work for the worker's main loop, which may use the catalog: a subscribe
 * request to check, or the role of a newly authenticated client
 * (ws_auth.c) to check, after which the client reads as that role.
 */
typedef enum WsPendingKind
{
	WS_PENDING_SUBSCRIBE,
	WS_PENDING_ROLE
} WsPendingKind;

typedef struct WsPending
{
	struct WsPending *next;
	WsPendingKind kind;
	FoClient   *client;
	ClientRequest req;			/* WS_PENDING_SUBSCRIBE */
	char		role[64];		/* WS_PENDING_ROLE: the token's role */
	char	   *claims;			/* WS_PENDING_ROLE: its claims (JSON) */
} WsPending;

/*
 * Start listening; false with *errmsg (static or palloc'd) on failure.
 * max_clients sizes the status slots; the clients admitted are also
 * bounded by the file descriptor budget (ws_fd_budget.h).  With share_port
 * several processes listen on the port (SO_REUSEPORT: the kernel spreads
 * the connections over them).
 */
extern bool ws_server_start(uv_loop_t *loop, const char *iface, int port,
							Fanout *fo, int max_clients, bool share_port,
							const char **errmsg);

/*
 * Write the queues that became non-empty since the last call, directly
 * where the socket allows (also run by libuv in every uv_run()).
 */
extern void ws_server_flush(void);

/* Close every client (with an error message). */
extern void ws_server_stop(const char *code, const char *message);

/* Free the lws context, after a few loop runs following ws_server_stop. */
extern void ws_server_destroy(uv_loop_t *loop);

/*
 * Reloadable limits: pgsync.max_message_bytes, and
 * pgsync.max_requests_per_second of every connection (0: no limit).
 */
extern void ws_server_set_max_message(size_t bytes);
extern void ws_server_set_request_rate(int per_second);

/* pgsync.allowed_origins (validated by its GUC check hook); reloadable. */
extern void ws_server_set_allowed_origins(const char *list);

/*
 * pgsync.handshake_timeout (for sockets accepted from now on) and
 * pgsync.idle_timeout (0: off; at once); reloadable.
 */
extern void ws_server_set_timeouts(int handshake_s, int idle_s);

/* Take the list of parked subscribe requests (caller frees with
 * ws_pending_free, or parks one again with ws_server_park_again). */
extern WsPending *ws_server_take_pending(void);
extern void ws_server_park_again(WsPending *p);
extern void ws_pending_free(WsPending *p);

/*
 * Authorization.  ws_server_client_role(), ws_server_client_claims(): the
 * role a client's token names ("" under pgsync.auth = trust) and its
 * claims (JSON text, "{}" if none).  ws_server_refuse_role(): close
 * a client whose role may not be used (invalid_role, close code 4403).
 */
extern const char *ws_server_client_role(FoClient *c);
extern const char *ws_server_client_claims(FoClient *c);
extern void ws_server_refuse_role(FoClient *c, const char *message);

/* Shared status slots of clients freed since the last call (-1 ends). */
extern int	ws_server_take_released_slot(void);

#endif							/* PGSYNC_WS_SERVER_H */
