/*-------------------------------------------------------------------------
 *
 * ws_session.c
 *	  One WebSocket connection: the handshake checks, admission, the
 *	  receive path (frame assembly, size, type and UTF-8 checks, request
 *	  parsing and replies), and the end of a session.
 *
 * Runs in lws callbacks: nothing here may ERROR (memory is malloc'd,
 * logging is LOG/WARNING).  Subscribe requests need the catalog, which an
 * lws callback must not use: they are parked in a list that the worker's
 * main loop takes with ws_server_take_pending().
 *
 * RFC 6455 checks that lws 4.1.6 leaves to us:
 *	- the handshake (4.2.1): lws upgrades whatever Sec-WebSocket-Version it
 *	  gets, or none, and any Sec-WebSocket-Key shorter than 128 bytes.  We
 *	  answer 426 with "Sec-WebSocket-Version: 13" (4.4) to another version
 *	  and 400 to a key that is not the base64 of 16 bytes.
 *	- UTF-8 (8.1): lws can validate text frames (LWS_SERVER_OPTION_VALIDATE_
 *	  UTF8), but then closes the connection with 1007 itself, which Debian's
 *	  build delivers as 1006 and without an error message.  We check each
 *	  complete message: error bad_utf8, then close 1007.
 *	- Masking (5.1): lws 4.1.6 reads the mask bit into a private field and
 *	  unmasks only frames that have one; no API exposes it, so unmasked
 *	  client frames cannot be refused here (fixed upstream after 4.1).
 *
 * Origin (docs/SECURITY.md): with pgsync.allowed_origins set, an upgrade
 * whose Origin header is not in the list gets 403, after every other
 * check; one without Origin is not a browser's and is not judged by it.
 *
 * The end of a session.  The client's fan-out state (queue, subscriptions,
 * status slot, and through its fan-out any snapshot or replay it is
 * taking) is released as soon as the peer sends a Close frame, not when
 * the TCP connection is gone: RFC 6455 (5.5.1) wants the Close answered
 * as soon as practical, without sending more data.  lws answers it before
 * any data of ours, at the next POLLOUT; if a write of ours is still
 * partly buffered in lws, lws closes the connection instead (4.1.6 cannot
 * finish a frame and then answer).  A peer that does not read our Close
 * is dropped WS_CLOSE_GRACE_S later.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <time.h>

#include "utils/timestamp.h"

#include "fanout/fanout.h"
#include "json/json_encode.h"
#include "net/ws_auth.h"
#include "net/ws_fd_budget.h"
#include "net/ws_server.h"
#include "net/ws_server_int.h"
#include "protocol/client_protocol.h"
#include "protocol/handshake.h"
#include "protocol/rate_limit.h"

static WsPending *pending_head = NULL;
static WsPending **pending_tail = &pending_head;

/* ----------------------------------------------------------------
 * The handshake
 * ----------------------------------------------------------------
 */

/* Answer the upgrade request with an HTTP error; -1 closes after it. */
static int
refuse_upgrade(struct lws *wsi, int status, const char *reason,
			   const char *extra_header, const char *body)
{
	static unsigned char buf[LWS_PRE + 512];
	int			n;

	n = snprintf((char *) buf + LWS_PRE, sizeof(buf) - LWS_PRE,
				 "HTTP/1.1 %d %s\r\n%s"
				 "Content-Type: text/plain\r\nContent-Length: %d\r\n"
				 "Connection: close\r\n\r\n%s",
				 status, reason, extra_header, (int) strlen(body), body);
	if (n > 0 && n < (int) (sizeof(buf) - LWS_PRE))
		(void) lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP);
	return -1;
}

/* An upgrade refused elsewhere in the server (ws_server.c), same answer. */
int
ws_session_refuse(struct lws *wsi, int status, const char *reason,
				  const char *body)
{
	return refuse_upgrade(wsi, status, reason, "", body);
}

/*
 * pgsync.allowed_origins: true if the request carries an Origin the list
 * does not allow (answered 403).  An Origin too long to be one is refused.
 */
static bool
origin_refused(struct lws *wsi)
{
	char		origin[256];

	if (ws_allowed_origins == NULL || ws_allowed_origins[0] == '\0' ||
		lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
		return false;
	if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) < 0)
		strlcpy(origin, "(too long)", sizeof(origin));
	else if (handshake_origin_allowed(ws_allowed_origins, origin, strlen(origin)))
		return false;
	/* the client's bytes go to the server log: printable ASCII only */
	for (unsigned char *p = (unsigned char *) origin; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	ws_log_refusal(wsi, "Origin \"%s\" is not in pgsync.allowed_origins", origin);
	(void) refuse_upgrade(wsi, 403, "Forbidden", "",
						  "origin not allowed (pgsync.allowed_origins)\n");
	return true;
}

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: 0 to go on, -1 refused (answered). */
int
ws_session_confirm_upgrade(struct lws *wsi)
{
	char		buf[130];
	int			n;

	n = lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_VERSION);
	if (n != 2 || strcmp(buf, "13") != 0)
		return refuse_upgrade(wsi, 426, "Upgrade Required",
							  "Sec-WebSocket-Version: 13\r\n",
							  "WebSocket version 13 required\n");
	n = lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_KEY);
	if (n <= 0 || !handshake_key_valid(buf, (size_t) n))
		return refuse_upgrade(wsi, 400, "Bad Request", "",
							  "Sec-WebSocket-Key must be the base64 of 16 bytes\n");

	/* the Origin allow-list, then the token */
	if (origin_refused(wsi))
		return -1;
	return ws_auth_confirm_upgrade(wsi);
}

/* ----------------------------------------------------------------
 * Closing (replies are queued by the fan-out: fanout_reply*)
 * ----------------------------------------------------------------
 */

/* Queue the error, then close with close_code once it is written. */
void
ws_session_close_with(Session *s, const char *code, const char *message,
					  int close_code)
{
	s->close_code = close_code;
	fanout_close_with_error(ws_fanout, s->client, code, message);
}

/* ----------------------------------------------------------------
 * Requests
 * ----------------------------------------------------------------
 */

static int	request_rate = 0;	/* pgsync.max_requests_per_second */

void
ws_server_set_request_rate(int per_second)
{
	request_rate = per_second;
}

/*
 * May s's request be served (rate_limit.h)?  A refused one is dropped; the
 * first, and then one a second, is answered with rate_limited (echoing its
 * id, so the one request is parsed); a flood closes the connection.
 */
static bool
request_allowed(Session *s, const char *text, size_t len)
{
	struct timespec now;
	ClientRequest req;
	const char *code;
	char		msg[256];

	clock_gettime(CLOCK_MONOTONIC, &now);
	switch (rate_limit_take(&s->rate, request_rate,
							(uint64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000))
	{
		case RATE_OK:
			return true;
		case RATE_REFUSE:
			return false;
		case RATE_REFUSE_NOTIFY:
			(void) client_request_parse(text, len, &req, &code, msg, sizeof(msg));
			snprintf(msg, sizeof(msg),
					 "more than %d requests per second (pgsync.max_requests_per_second): "
					 "requests are dropped unanswered for as long as the rate is exceeded",
					 request_rate);
			fanout_reply(s->client, req.id_json, NULL, CP_ERR_RATE_LIMITED, msg);
			client_request_free(&req);
			return false;
		case RATE_CLOSE:
			snprintf(msg, sizeof(msg),
					 "a flood of requests: more than %d a second, ten times pgsync.max_requests_per_second",
					 RATE_FLOOD_FACTOR * request_rate);
			ws_session_close_with(s, CP_ERR_RATE_LIMITED, msg,
								  LWS_CLOSE_STATUS_POLICY_VIOLATION);
			return false;
	}
	return false;
}

static void
handle_request(Session *s, const char *text, size_t len)
{
	ClientRequest req;
	const char *code = NULL;
	char		msg[256];

	if (!request_allowed(s, text, len))
		return;
	if (!client_request_parse(text, len, &req, &code, msg, sizeof(msg)) &&
		s->auth != WS_AUTH_AWAITING)
	{
		fanout_reply(s->client, req.id_json, NULL, code, msg);
		client_request_free(&req);
		return;
	}
	if (s->auth == WS_AUTH_AWAITING && (code != NULL || req.type != CREQ_AUTH))
	{
		ws_session_close_with(s, CP_ERR_AUTH_REQUIRED,
							  "the first message must be {\"type\":\"auth\",\"token\":...}",
							  WS_CLOSE_UNAUTHORIZED);
		client_request_free(&req);
		return;
	}
	switch (req.type)
	{
		case CREQ_AUTH:
			ws_auth_message(s, req.id_json, req.token);
			break;
		case CREQ_PING:
			{
				size_t		l = 0;
				char	   *text = cp_reply_pong(req.id_json, &l);

				fanout_reply_text(s->client, text, l);
				break;
			}
		case CREQ_UNSUBSCRIBE:
			if (fanout_unsubscribe(s->client, req.subscription))
				fanout_reply(s->client, req.id_json, req.subscription,
								NULL, NULL);
			else
				fanout_reply(s->client, req.id_json, NULL,
								CP_ERR_UNKNOWN_SUBSCRIPTION,
								"no such subscription on this connection");
			break;
		case CREQ_SUBSCRIBE:
			{
				/* park it: the worker checks tables and filter in the catalog */
				WsPending  *p = calloc(1, sizeof(WsPending));

				if (p == NULL)
				{
					fanout_reply(s->client, req.id_json, NULL,
									CP_ERR_INTERNAL, "out of memory");
					break;
				}
				p->kind = WS_PENDING_SUBSCRIBE;
				p->client = s->client;
				p->req = req;
				memset(&req, 0, sizeof(req));
				*pending_tail = p;
				pending_tail = &p->next;
			}
			break;
	}
	client_request_free(&req);
}

/* Queue the role of s's token for the worker to check (ws_auth.c). */
void
ws_session_queue_role_check(Session *s)
{
	WsPending  *p = calloc(1, sizeof(WsPending));

	if (p == NULL)
	{
		ws_session_close_with(s, CP_ERR_INTERNAL, "out of memory",
							  LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
		return;
	}
	p->kind = WS_PENDING_ROLE;
	p->client = s->client;
	strlcpy(p->role, s->role, sizeof(p->role));
	p->claims = s->claims != NULL ? strdup(s->claims) : NULL;
	*pending_tail = p;
	pending_tail = &p->next;
}

static Session *
session_of(FoClient *c)
{
	struct lws *wsi = (struct lws *) fanout_client_user(c);

	return wsi != NULL ? (Session *) lws_wsi_user(wsi) : NULL;
}

const char *
ws_server_client_role(FoClient *c)
{
	Session    *s = session_of(c);

	return (s != NULL && s->auth == WS_AUTH_OK) ? s->role : "";
}

const char *
ws_server_client_claims(FoClient *c)
{
	Session    *s = session_of(c);

	return (s != NULL && s->auth == WS_AUTH_OK && s->claims != NULL) ?
		s->claims : "{}";
}

void
ws_server_refuse_role(FoClient *c, const char *message)
{
	Session    *s = session_of(c);

	if (s != NULL && !fanout_client_closing(c))
		ws_session_close_with(s, CP_ERR_INVALID_ROLE, message,
							  WS_CLOSE_FORBIDDEN);
}

static void
drop_pending_of(FoClient *c)
{
	WsPending **pp = &pending_head;

	while (*pp != NULL)
	{
		WsPending  *p = *pp;

		if (p->client == c)
		{
			*pp = p->next;
			ws_pending_free(p);
		}
		else
			pp = &p->next;
	}
	pending_tail = &pending_head;
	while (*pending_tail != NULL)
		pending_tail = &(*pending_tail)->next;
}

/* Does c have a subscribe request parked for the worker? */
bool
ws_session_waiting(FoClient *c)
{
	for (WsPending *p = pending_head; p != NULL; p = p->next)
		if (p->client == c)
			return true;
	return false;
}

WsPending *
ws_server_take_pending(void)
{
	WsPending  *p = pending_head;

	pending_head = NULL;
	pending_tail = &pending_head;
	return p;
}

void
ws_server_park_again(WsPending *p)
{
	p->next = NULL;
	*pending_tail = p;
	pending_tail = &p->next;
}

void
ws_pending_free(WsPending *p)
{
	client_request_free(&p->req);
	free(p->claims);
	free(p);
}

/* ----------------------------------------------------------------
 * Admission and the end of a session
 * ----------------------------------------------------------------
 */

/*
 * "address:port" of the client, as pgsync.clients shows it (the port
 * tells apart connections from one address, as client_port does in
 * pg_stat_activity).
 */
static void
describe_peer(struct lws *wsi, char *buf, size_t len)
{
	struct sockaddr_in addr;
	socklen_t	alen = sizeof(addr);
	size_t		n;

	lws_get_peer_simple(wsi, buf, len);
	n = strlen(buf);
	if (getpeername(lws_get_socket_fd(wsi), (struct sockaddr *) &addr, &alen) == 0 &&
		addr.sin_family == AF_INET && n + 7 < len)
		snprintf(buf + n, len - n, ":%u", (unsigned) ntohs(addr.sin_port));
}

/* LWS_CALLBACK_ESTABLISHED; false closes the connection at once. */
bool
ws_session_established(struct lws *wsi, Session *s)
{
	FoClient   *c = fanout_client_add(ws_fanout, wsi);
	char		peer[64];
	int			slot;

	memset(s, 0, sizeof(*s));
	if (c == NULL)
		return false;
	s->client = c;
	s->last_rx = GetCurrentTimestamp();
	describe_peer(wsi, peer, sizeof(peer));
	fanout_client_set_peer(c, peer, s->last_rx);
	if (!ws_fd_budget_admit())
	{
		ws_session_close_with(s, CP_ERR_SERVER_FULL,
							  "too many clients (pgsync.max_clients or the open-file limit)",
							  WS_CLOSE_TRY_AGAIN_LATER);
		return true;
	}
	if ((slot = ws_slot_take()) < 0)
	{
		ws_fd_budget_release();
		ws_session_close_with(s, CP_ERR_SERVER_FULL,
							  "too many clients (pgsync.max_clients)",
							  WS_CLOSE_TRY_AGAIN_LATER);
		return true;
	}
	fanout_client_set_stat_slot(c, slot);
	return ws_auth_established(wsi, s);
}

/*
 * Give back what the session's client holds: its queue, subscriptions and
 * parked requests, its status slot, and (by leaving its fan-out) the
 * snapshot or replay feeding it, whose files worker_serve_snapshot.c and
 * worker_resume.c then close.
 */
static void
release_client(Session *s)
{
	FoClient   *c = s->client;

	if (c == NULL)
		return;
	drop_pending_of(c);
	ws_auth_forget(s);
	ws_send_forget(s);
	if (fanout_client_stat_slot(c) >= 0)
	{
		ws_slot_release(fanout_client_stat_slot(c));
		ws_fd_budget_release();
	}
	fanout_client_remove(ws_fanout, c);
	s->client = NULL;
}

/* LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: lws answers it; we stop here. */
void
ws_session_peer_close(struct lws *wsi, Session *s)
{
	s->peer_closing = true;
	release_client(s);
	lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, WS_CLOSE_GRACE_S);
}

/* LWS_CALLBACK_CLOSED */
void
ws_session_closed(Session *s)
{
	release_client(s);
	free(s->rx);
	s->rx = NULL;
	s->rx_cap = 0;
	free(s->claims);
	s->claims = NULL;
}

/* ----------------------------------------------------------------
 * Receive
 * ----------------------------------------------------------------
 */

void
ws_session_receive(struct lws *wsi, Session *s, const char *in, size_t len)
{
	bool		first = lws_is_first_fragment(wsi);
	bool		final = lws_is_final_fragment(wsi);

	if (s->client == NULL || fanout_client_closing(s->client))
		return;
	s->last_rx = GetCurrentTimestamp();
	if (first)
		s->rx_len = 0;
	if (lws_frame_is_binary(wsi))
	{
		ws_session_close_with(s, CP_ERR_BINARY, "binary frames are not supported",
							  LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE);
		return;
	}
	if (s->rx_len + len > ws_max_message)
	{
		ws_session_close_with(s, CP_ERR_TOO_LARGE,
							  "message larger than pgsync.max_message_bytes",
							  LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
		return;
	}
	if (s->rx_len + len > s->rx_cap)
	{
		size_t		cap = Max(s->rx_len + len, 1024);
		char	   *n = realloc(s->rx, cap);

		if (n == NULL)
		{
			ws_session_close_with(s, CP_ERR_INTERNAL, "out of memory",
								  LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
			return;
		}
		s->rx = n;
		s->rx_cap = cap;
	}
	memcpy(s->rx + s->rx_len, in, len);
	s->rx_len += len;
	if (!final || lws_remaining_packet_payload(wsi) != 0)
		return;

	/* a complete message */
	if (json_utf8_valid_prefix(s->rx, s->rx_len) != s->rx_len)
		ws_session_close_with(s, CP_ERR_BAD_UTF8,
							  "a text message must be valid UTF-8",
							  LWS_CLOSE_STATUS_INVALID_PAYLOAD);
	else
		handle_request(s, s->rx, s->rx_len);
	s->rx_len = 0;
	if (s->rx_cap > 16 * 1024)
	{
		free(s->rx);
		s->rx = NULL;
		s->rx_cap = 0;
	}
}
