/*-------------------------------------------------------------------------
 *
 * ws_server.c
 *	  libwebsockets on the worker's libuv loop: the context and vhost, the
 *	  protocol callback, accepting sockets, and the shared status slots.
 *
 * lws 4.1.6 as packaged by Debian has no external poll support: the worker
 * owns a libuv loop, lws runs on it as a "foreign" loop, and worker.c waits
 * on uv_backend_fd() next to its latch.  Everything here runs on that one
 * thread, in lws callbacks: nothing may ERROR (a longjmp out of lws would
 * corrupt it), so memory is malloc'd and logging is LOG/WARNING.
 *
 * The WebSocket server is five modules on one private header
 * (ws_server_int.h): this one (setup and dispatch), ws_session.c (one
 * connection: handshake checks, receive, requests, its end), ws_send.c
 * (queues -> lws_write), ws_tls.c (TLS) and ws_timeouts.c (handshake and
 * idle timeouts).  ws_fd_budget.c decides how many sockets the worker may
 * hold.
 *
 * Accepting.  Every accepted socket is counted (WSI_CREATE/WSI_DESTROY),
 * and one beyond the file descriptor budget is answered "503 Service
 * Unavailable" and closed from LWS_CALLBACK_FILTER_NETWORK_CONNECTION,
 * before lws adopts it.  Should accept() itself fail for want of
 * descriptors (something outside the budget used them), lws 4.1.6 logs
 * "accept: errno 24" and returns with the listening socket still readable,
 * i.e. a busy loop: we then stop polling the listening socket for
 * WS_ACCEPT_PAUSE_MS, and repeated lws log lines are folded into one.
 * Network workers, which share the port, accept in ws_listen_share.c
 * instead, with the same budget and pause.
 *
 * Transport and timeouts (docs/SECURITY.md).  With a TLS credential loaded
 * (ws_tls.c) the vhost speaks TLS and still lets plain HTTP in on the same
 * port; a plain upgrade is refused here, before any other check, when
 * pgsync.ssl_plain_from says so.  Nothing is served over plain HTTP: a
 * request that is not an upgrade gets 404 and the connection is closed
 * (no keep-alive that would start the handshake clock again).  The
 * handshake and idle timeouts are ws_timeouts.c's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "utils/timestamp.h"

#include "fanout/fanout.h"
#include "net/ws_auth.h"
#include "net/ws_fd_budget.h"
#include "net/ws_server.h"
#include "net/ws_server_int.h"
#include "net/ws_tls.h"
#include "protocol/client_protocol.h"

#define WS_LOG_REPEAT_MS	10000

Fanout	   *ws_fanout = NULL;
size_t		ws_max_message = 64 * 1024;
char	   *ws_allowed_origins = NULL;

static struct lws_context *context = NULL;
static struct lws_vhost *vhost = NULL;
static struct lws *listen_wsi = NULL;	/* seen in FILTER_NETWORK_CONNECTION */
static bool accept_failed = false;	/* lws logged a failed accept() */
static bool accept_paused = false;
static bool accept_timer_started = false;
static uv_timer_t accept_timer;
static uv_check_t accept_check;

/* shared status slots */
static int *free_slots = NULL;
static int	nfree_slots = 0;
static int *released_slots = NULL;
static bool *slot_released = NULL;
static int	nreleased = 0;

/*
 * No lws keepalive pings: lws 4.1.6 keeps each connection's ping timer in
 * a sorted list with a linear insert, so re-arming them cost a process
 * with N clients ~N^2 per ping period: at 8,000 clients in each of 12
 * network workers that took both cores (bench/connections, 100,000
 * clients: one insert took 80 s to reach them all; 1.5 s without).  Dead
 * peers are found by TCP instead (ws_socket_setup()).
 */
static const lws_retry_bo_t keepalive = {
	.secs_since_valid_ping = 0,
	.secs_since_valid_hangup = 0,
};

/* ----------------------------------------------------------------
 * Logging
 * ----------------------------------------------------------------
 */

static char last_line[256];
static int	last_level;
static int	repeats;
static TimestampTz last_line_at;

static void
emit_line(int level, const char *line, int len)
{
	ereport(level == LLL_ERR ? WARNING : LOG,
			(errmsg_internal("pgsync: libwebsockets: %.*s", len, line)));
}

/*
 * lws's ERR and WARN lines, as WARNING and LOG.  A line repeating the
 * previous one within WS_LOG_REPEAT_MS is counted, not logged.
 */
static void
lws_log_emit(int level, const char *line)
{
	int			len = (int) strlen(line);
	TimestampTz now = GetCurrentTimestamp();

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (strncmp(line, "accept: errno", 13) == 0)
		accept_failed = true;
	if (level == last_level && len == (int) strlen(last_line) &&
		strncmp(line, last_line, len) == 0 &&
		!TimestampDifferenceExceeds(last_line_at, now, WS_LOG_REPEAT_MS))
	{
		repeats++;
		return;
	}
	if (repeats > 0)
		ereport(LOG,
				(errmsg_internal("pgsync: libwebsockets: last message repeated %d times",
								 repeats)));
	repeats = 0;
	last_level = level;
	last_line_at = now;
	snprintf(last_line, sizeof(last_line), "%.*s", len, line);
	emit_line(level, line, len);
}

/*
 * A refused upgrade (plain connection, Origin): logged, but a refusal for
 * the same reason within WS_LOG_REPEAT_MS of the last one logged is only
 * counted, and the count goes with the next line.
 */
void
ws_log_refusal(struct lws *wsi, const char *fmt,...)
{
	static TimestampTz last_at = 0;
	static char last_why[256];
	static int	unlogged = 0;
	TimestampTz now = GetCurrentTimestamp();
	char		peer[64];
	char		why[256];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (strcmp(why, last_why) == 0 &&
		!TimestampDifferenceExceeds(last_at, now, WS_LOG_REPEAT_MS))
	{
		unlogged++;
		return;
	}
	strlcpy(last_why, why, sizeof(last_why));
	lws_get_peer_simple(wsi, peer, sizeof(peer));
	if (unlogged > 0)
		ereport(LOG,
				(errmsg("pgsync: WebSocket upgrade from %s refused: %s (and %d more refusals since the last such message)",
						peer, why, unlogged)));
	else
		ereport(LOG,
				(errmsg("pgsync: WebSocket upgrade from %s refused: %s", peer, why)));
	last_at = now;
	unlogged = 0;
}

/* ----------------------------------------------------------------
 * Accepting
 * ----------------------------------------------------------------
 */

/*
 * Refuse a socket accepted beyond the budget: a 503 and close (by lws,
 * when the filter callback returns non-zero).  The request the client may
 * have sent already is read first, so that the close is a FIN, not a
 * reset that could discard the answer.
 */
/*
 * Every accepted client socket.  A dead peer is closed by the kernel
 * about a minute after it went silent, with no timer of ours: TCP
 * keepalive probes an idle connection after 30 s, 3 times 10 s apart;
 * TCP_USER_TIMEOUT drops one whose data (or zero-window probes: a client
 * that stopped reading for good) stays unacknowledged for 60 s.  A
 * client that reads slowly still acknowledges, and catches up from the
 * log.
 */
void
ws_socket_setup(int fd)
{
	int			on = 1;
	int			idle = WS_KEEPALIVE_IDLE_S;
	int			interval = WS_KEEPALIVE_INTERVAL_S;
	int			count = WS_KEEPALIVE_PROBES;
	unsigned int user_timeout = WS_DEAD_PEER_S * 1000;

	(void) setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	(void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
	(void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
	(void) setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout,
					  sizeof(user_timeout));
}

void
ws_refuse_socket(int fd)
{
	static const char resp[] =
		"HTTP/1.1 503 Service Unavailable\r\n"
		"Retry-After: 5\r\n"
		"Content-Type: text/plain\r\n"
		"Content-Length: 34\r\n"
		"Connection: close\r\n\r\n"
		"too many connections, retry later\n";
	char		sink[1024];

	(void) send(fd, resp, sizeof(resp) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	for (int i = 0; i < 8; i++)
		if (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
			break;
	shutdown(fd, SHUT_WR);
}

static void
accept_timer_cb(uv_timer_t *t)
{
	if (accept_paused && listen_wsi != NULL)
		lws_rx_flow_control(listen_wsi, 1);
	accept_paused = false;
}

/*
 * After the loop's I/O (a check handle): if accept() failed for want of
 * descriptors, stop polling the listening socket for a while instead of
 * retrying it in a busy loop.
 */
static void
accept_check_cb(uv_check_t *h)
{
	if (!accept_failed)
		return;
	accept_failed = false;
	if (accept_paused || listen_wsi == NULL || !accept_timer_started)
		return;
	lws_rx_flow_control(listen_wsi, 0);
	accept_paused = true;
	uv_timer_start(&accept_timer, accept_timer_cb, WS_ACCEPT_PAUSE_MS, 0);
}

/* With TLS on, a plain upgrade that pgsync.ssl_plain_from refuses: 403. */
static int
refuse_plain(struct lws *wsi)
{
	ws_log_refusal(wsi, "plain ws:// while TLS is on (pgsync.ssl_plain_from = %s)",
				   ws_tls_plain_from_name());
	return ws_session_refuse(wsi, 403, "Forbidden",
							 "TLS required: connect with wss://\n");
}

/* ----------------------------------------------------------------
 * The protocol callback
 * ----------------------------------------------------------------
 */

static int
pgsync_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
				   void *user, void *in, size_t len)
{
	Session    *s = (Session *) user;

	switch (reason)
	{
		case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
			{
				/* user: lws's filter arguments; in: the socket */
				int			fd = (int) (intptr_t) in;

				listen_wsi = wsi;
				if (ws_fd_budget_may_accept(fd))
				{
					ws_socket_setup(fd);
					return 0;
				}
				ws_refuse_socket(fd);
				return 1;
			}
		case LWS_CALLBACK_WSI_CREATE:
			ws_fd_budget_socket_opened();
			return 0;
		case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
			ws_timeouts_accepted(wsi);
			return 0;
		case LWS_CALLBACK_WSI_DESTROY:
			if (wsi != listen_wsi)
				ws_fd_budget_socket_closed();
			ws_timeouts_forget(wsi);
			return 0;
		case LWS_CALLBACK_SSL_INFO:
			ws_timeouts_tls_info(wsi, (const struct lws_ssl_info *) in);
			return 0;
		case LWS_CALLBACK_HTTP:
			/* not an upgrade: nothing to serve, and no keep-alive */
			(void) lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
			return -1;
		case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
			/* user: the vhost's SSL_CTX */
			return ws_tls_install(user);
		case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
			if (in != NULL && strcasecmp((const char *) in, "websocket") == 0)
			{
				if (ws_tls_plain_refused(wsi))
					return refuse_plain(wsi);
				return ws_session_confirm_upgrade(wsi);
			}
			break;
		case LWS_CALLBACK_ESTABLISHED:
			ws_timeouts_upgraded(wsi);
			return ws_session_established(wsi, s) ? 0 : -1;
		case LWS_CALLBACK_RECEIVE:
			ws_session_receive(wsi, s, (const char *) in, len);
			return 0;
		case LWS_CALLBACK_SERVER_WRITEABLE:
			return ws_send_writable(wsi, s);
		case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
			ws_session_peer_close(wsi, s);
			return 0;
		case LWS_CALLBACK_CLOSED:
			ws_session_closed(s);
			return 0;
		default:
			break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/*
 * tx_packet_size: lws caps each send() at it (at rx_buffer_size when 0,
 * i.e. 4 kB) and copies the rest of a write into its buffered-out list, to
 * be sent 4 kB per POLLOUT round trip.  A batch (64 kB) or a chunk (32 kB)
 * of ours (ws_send.c) must go in one send().
 */
static struct lws_protocols protocols[] = {
	{WS_SUBPROTOCOL, pgsync_ws_callback, sizeof(Session), 4096, 0, NULL,
	LWS_PRE + 64 * 1024 + 16},
	{NULL, NULL, 0, 0, 0, NULL, 0}
};

/* ----------------------------------------------------------------
 * Status slots
 * ----------------------------------------------------------------
 */

static bool
slots_init(int n)
{
	/* a previous failed attempt may have left these */
	free(free_slots);
	free(released_slots);
	free(slot_released);
	free_slots = malloc(sizeof(int) * n);
	released_slots = malloc(sizeof(int) * n);
	slot_released = calloc(n, sizeof(bool));
	if (free_slots == NULL || released_slots == NULL || slot_released == NULL)
		return false;
	for (int i = 0; i < n; i++)
		free_slots[i] = n - 1 - i;
	nfree_slots = n;
	nreleased = 0;
	return true;
}

int
ws_slot_take(void)
{
	return nfree_slots > 0 ? free_slots[--nfree_slots] : -1;
}

void
ws_slot_release(int slot)
{
	free_slots[nfree_slots++] = slot;
	if (!slot_released[slot])
	{
		slot_released[slot] = true;
		released_slots[nreleased++] = slot;
	}
}

int
ws_server_take_released_slot(void)
{
	int			slot;

	if (nreleased == 0)
		return -1;
	slot = released_slots[--nreleased];
	slot_released[slot] = false;
	return slot;
}

/* ----------------------------------------------------------------
 * Start and stop
 * ----------------------------------------------------------------
 */

/*
 * With a foreign libuv loop, lws_context_destroy() starts closing its
 * handles, the loop must run for the close callbacks, and a second call
 * finishes the job.  Both halves, also when listening failed: with only
 * the first, the close callbacks ran later, in the worker's loop, and
 * closed a descriptor number the worker had reused meanwhile (its
 * WaitEventSet's epoll: "epoll_wait() failed: Bad file descriptor", a
 * worker restarting every second while the port was taken).
 */
static void
destroy_context(uv_loop_t *loop)
{
	lws_context_destroy(context);
	for (int i = 0; i < 10; i++)
		uv_run(loop, UV_RUN_NOWAIT);
	lws_context_destroy(context);
	context = NULL;
	vhost = NULL;
}

bool
ws_server_start(uv_loop_t *loop, const char *iface, int port, Fanout *fo,
				int maxc, bool share_port, const char **errmsg)
{
	struct lws_context_creation_info info;
	void	   *foreign_loops[1];
	int			nslots = maxc;

	ws_fanout = fo;
	/* the status slots are sized by the setting (shared memory) */
	if (!slots_init(nslots))
	{
		*errmsg = "out of memory";
		return false;
	}
	(void) ws_fd_budget_setup(maxc);
	listen_wsi = NULL;
	accept_failed = accept_paused = false;

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);

	memset(&info, 0, sizeof(info));
	foreign_loops[0] = loop;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
		LWS_SERVER_OPTION_DISABLE_IPV6;
	ws_tls_context_options(&info);
	info.foreign_loops = foreign_loops;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.retry_and_idle_policy = &keepalive;
	/* an Authorization header with a token of up to JWT_MAX_TOKEN bytes */
	info.max_http_header_data = JWT_MAX_TOKEN + 2048;

	/*
	 * lws sizes its fd tables by fd_limit_per_thread, looks sockets up by
	 * fd number in them, and falls back to linear scans when it is below
	 * the process's limit: give it the limit (ws_fd_budget_raise_limit()
	 * capped it).  Our budget, not lws, refuses sockets.
	 */
	info.fd_limit_per_thread = (unsigned int) getdtablesize();
	context = lws_create_context(&info);
	if (context == NULL)
	{
		*errmsg = "lws_create_context failed";
		return false;
	}

	memset(&info, 0, sizeof(info));
	info.port = port;
	if (iface != NULL && strcmp(iface, "*") != 0 && strcmp(iface, "0.0.0.0") != 0)
		info.iface = iface;
	info.protocols = protocols;
	info.retry_and_idle_policy = &keepalive;
	info.vhost_name = "pgsync";
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	/* network workers share the port: our listener (ws_listen_share.c) */
	if (share_port)
		info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	/* lws's own timer from accept, until ws_timeouts.c sets it */
	info.timeout_secs_ah_idle = (unsigned int) ws_handshake_timeout_s;
	ws_tls_vhost_options(&info);
	vhost = lws_create_vhost(context, &info);
	if (vhost == NULL)
	{
		*errmsg = ws_tls_enabled() && !ws_tls_installed() ?
			"could not set up TLS (see the messages before)" :
			"could not listen (address in use or invalid pgsync.listen_address?)";
		ws_tls_forget();
		destroy_context(loop);
		return false;
	}
	if (share_port &&
		!ws_listen_share_start(loop, vhost, info.iface, port, errmsg))
	{
		ws_tls_forget();
		destroy_context(loop);
		return false;
	}
	fanout_set_want_write(fo, ws_send_want_write, NULL);
	ws_send_start(loop);
	ws_auth_start(loop);
	ws_timeouts_start(loop);
	if (!accept_timer_started)
	{
		/* unreferenced: they must not keep the loop alive by themselves */
		uv_timer_init(loop, &accept_timer);
		uv_unref((uv_handle_t *) &accept_timer);
		uv_check_init(loop, &accept_check);
		uv_check_start(&accept_check, accept_check_cb);
		uv_unref((uv_handle_t *) &accept_check);
		accept_timer_started = true;
	}
	return true;
}

void
ws_server_set_max_message(size_t bytes)
{
	ws_max_message = bytes;
}

void
ws_server_set_allowed_origins(const char *list)
{
	char	   *copy = strdup(list != NULL ? list : "");

	if (copy == NULL)
	{
		/* keep the previous list rather than allow any origin */
		ereport(WARNING,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("pgsync.allowed_origins keeps its previous value.")));
		return;
	}
	free(ws_allowed_origins);
	ws_allowed_origins = copy;
}

void
ws_server_stop(const char *code, const char *message)
{
	FoClient   *c;

	if (context == NULL)
		return;
	for (c = fanout_first_client(ws_fanout); c != NULL; c = fanout_next_client(c))
	{
		Session    *s = fanout_client_user(c) ? lws_wsi_user((struct lws *) fanout_client_user(c)) : NULL;

		if (s != NULL && !fanout_client_closing(c))
			s->close_code = LWS_CLOSE_STATUS_GOINGAWAY;
		fanout_close_with_error(ws_fanout, c, code, message);
	}
}

/* Second half of the shutdown, once the loop has had a chance to flush. */
void
ws_server_destroy(uv_loop_t *loop)
{
	if (context == NULL)
		return;
	ws_listen_share_stop();
	ws_send_stop();
	ws_auth_stop();
	ws_timeouts_stop();
	if (accept_timer_started)
	{
		uv_timer_stop(&accept_timer);
		uv_close((uv_handle_t *) &accept_timer, NULL);
		uv_check_stop(&accept_check);
		uv_close((uv_handle_t *) &accept_check, NULL);
		accept_timer_started = false;
	}
	ws_tls_forget();
	listen_wsi = NULL;
	destroy_context(loop);
}
