/*-------------------------------------------------------------------------
 *
 * ws_server_int.h
 *	  Private to the WebSocket server (ws_server.c, ws_session.c, ws_send.c,
 *	  ws_tls.c, ws_timeouts.c).
 *
 * Vocabulary.  A *socket* is a TCP connection lws accepted, upgraded to
 * WebSocket or not.  A *session* is the per-connection state lws keeps for
 * us (its user space, zeroed by lws) once the connection is bound to our
 * protocol.  A session is *admitted* when it got a fan-out client and a
 * status slot; it holds them until the connection closes or the peer sends
 * a Close frame, whichever comes first.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_WS_SERVER_INT_H
#define PGSYNC_WS_SERVER_INT_H

#include <libwebsockets.h>
#include <uv.h>

#include "auth/jwt_verify.h"
#include "fanout/fanout.h"
#include "protocol/rate_limit.h"

#define WS_SUBPROTOCOL "pgsync.v1"

/* Close codes (RFC 6455 7.4) besides lws's LWS_CLOSE_STATUS_* */
#define WS_CLOSE_TRY_AGAIN_LATER 1013
#define WS_CLOSE_SLOW_CONSUMER 4008
#define WS_CLOSE_UNAUTHORIZED 4401	/* no, a bad or an expired token */
#define WS_CLOSE_FORBIDDEN 4403		/* the token's role may not be used */

/* Authentication state of a session (ws_auth.c) */
typedef enum WsAuthState
{
	WS_AUTH_NONE = 0,			/* pgsync.auth = trust */
	WS_AUTH_AWAITING,			/* no token yet: the first message must be one */
	WS_AUTH_OK					/* a valid token (its role checked apart) */
} WsAuthState;

/* Seconds a connection may take to take our Close after the peer's */
#define WS_CLOSE_GRACE_S 5

typedef struct Session
{
	FoClient   *client;			/* NULL before admission and after release */
	char	   *rx;				/* message being assembled */
	size_t		rx_len;
	size_t		rx_cap;
	bool		dirty;			/* in the dirty list (ws_send.c) */
	bool		peer_closing;	/* the client sent a Close frame */
	int			close_code;		/* ours, once the queue is written */

	/* authentication (ws_auth.c) */
	WsAuthState auth;
	char		role[JWT_ROLE_MAX + 1];	/* the token's role */
	char	   *claims;			/* the token's claims (JSON, malloc'd) */
	int64_t		auth_deadline;	/* AWAITING: closed at this time (s) */
	int64_t		token_exp;		/* OK: the token's exp (s), 0 if none */
	bool		role_counted;	/* counted in its role's clients */
	struct Session *auth_prev,	/* in ws_auth.c's list of timed sessions */
			   *auth_next;
	struct lws *wsi;
	RateLimit	rate;			/* its requests (handle_request) */
	int64		last_rx;		/* TimestampTz: admission, then each data frame */
} Session;

/* ws_server.c: the context's state */
extern Fanout *ws_fanout;
extern size_t ws_max_message;
extern char *ws_allowed_origins;	/* pgsync.allowed_origins; NULL or "": any */

/* A refused request, for the server log (rate-limited: ws_server.c). */
extern void ws_log_refusal(struct lws *wsi, const char *fmt,...) pg_attribute_printf(2, 3);

/* Status slots (ws_server.c): take one, or -1; give it back. */
/* After accept() failed for want of descriptors: stop accepting this long. */
#define WS_ACCEPT_PAUSE_MS	1000

/* Dead peers: TCP keepalive and user timeout on an accepted socket. */
#define WS_KEEPALIVE_IDLE_S		30
#define WS_KEEPALIVE_INTERVAL_S	10
#define WS_KEEPALIVE_PROBES		3
#define WS_DEAD_PEER_S			60
extern void ws_socket_setup(int fd);

/* A socket beyond the budget: 503, then the caller closes it. */
extern void ws_refuse_socket(int fd);

/* ws_listen_share.c: the SO_REUSEPORT listener of network workers. */
extern bool ws_listen_share_start(uv_loop_t *loop, struct lws_vhost *vh,
								  const char *iface, int port,
								  const char **errmsg);
extern void ws_listen_share_stop(void);

extern int	ws_slot_take(void);
extern void ws_slot_release(int slot);

/* ws_session.c: handshake, receive, requests, the end of a session */
extern int	ws_session_confirm_upgrade(struct lws *wsi);
extern int	ws_session_refuse(struct lws *wsi, int status, const char *reason,
							  const char *body);
extern bool ws_session_waiting(FoClient *c);
extern bool ws_session_established(struct lws *wsi, Session *s);
extern void ws_session_receive(struct lws *wsi, Session *s, const char *in,
							   size_t len);
extern void ws_session_peer_close(struct lws *wsi, Session *s);
extern void ws_session_closed(Session *s);
extern void ws_session_close_with(Session *s, const char *code,
								  const char *message, int close_code);
extern void ws_session_queue_role_check(Session *s);

/* ws_auth.c: tokens at the upgrade, in a message, their expiry */
extern int	ws_auth_confirm_upgrade(struct lws *wsi);
extern bool ws_auth_established(struct lws *wsi, Session *s);
extern void ws_auth_message(Session *s, const char *id_json, const char *token);
extern void ws_auth_forget(Session *s);
extern void ws_auth_start(uv_loop_t *loop);
extern void ws_auth_stop(void);

/* ws_tls.c: TLS on the vhost (ws_tls.h is the worker's side) */
extern void ws_tls_context_options(struct lws_context_creation_info *info);
extern void ws_tls_vhost_options(struct lws_context_creation_info *info);
extern int	ws_tls_install(void *ssl_ctx);
extern bool ws_tls_installed(void);
extern void ws_tls_forget(void);
extern bool ws_tls_plain_refused(struct lws *wsi);
extern const char *ws_tls_plain_from_name(void);

/* ws_timeouts.c: pgsync.handshake_timeout, pgsync.idle_timeout */
extern int	ws_handshake_timeout_s;
extern void ws_timeouts_start(uv_loop_t *loop);
extern void ws_timeouts_stop(void);
extern void ws_timeouts_accepted(struct lws *wsi);
extern void ws_timeouts_tls_info(struct lws *wsi, const struct lws_ssl_info *si);
extern void ws_timeouts_upgraded(struct lws *wsi);
extern void ws_timeouts_forget(struct lws *wsi);

/* ws_send.c: the send path */
extern void ws_send_start(uv_loop_t *loop);
extern void ws_send_stop(void);
extern void ws_send_want_write(FoClient *c, void *arg);
extern void ws_send_forget(Session *s);
extern int	ws_send_writable(struct lws *wsi, Session *s);

#endif							/* PGSYNC_WS_SERVER_INT_H */
