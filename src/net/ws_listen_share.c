/*-------------------------------------------------------------------------
 *
 * ws_listen_share.c
 *	  The listening socket network workers share: SO_REUSEPORT, accepted
 *	  here and adopted by lws.
 *
 * With pgsync.network_workers, several processes listen on pgsync.port.
 * libwebsockets 4.1.6 cannot: its listener sets SO_REUSEADDR only
 * (LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE is about Windows'
 * SO_EXCLUSIVEADDRUSE), so a second process fails to bind.  Each network
 * worker therefore binds its own socket with SO_REUSEPORT, the kernel
 * spreads new connections over them, and a libuv poll on it accepts
 * them and hands each to lws (lws_adopt_socket_vhost(), on a vhost made
 * with CONTEXT_PORT_NO_LISTEN_SERVER).  The file descriptor budget and
 * the pause after a failed accept() are the same as lws's listener gets
 * in ws_server.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <netdb.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "net/ws_fd_budget.h"
#include "net/ws_server_int.h"

#define ACCEPT_BATCH		64	/* sockets per readable event */
#define ACCEPT_BACKLOG		4096	/* capped by net.core.somaxconn */

static int	listen_fd = -1;
static bool poll_started = false;
static bool paused = false;
static uv_poll_t listen_poll;
static uv_timer_t pause_timer;
static struct lws_vhost *share_vhost;

static void accept_cb(uv_poll_t *h, int status, int events);

static void
pause_done_cb(uv_timer_t *t)
{
	paused = false;
	if (poll_started)
		uv_poll_start(&listen_poll, UV_READABLE, accept_cb);
}

static void
accept_cb(uv_poll_t *h, int status, int events)
{
	for (int i = 0; i < ACCEPT_BATCH; i++)
	{
		int			fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
		{
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
				errno == ENOMEM)
			{
				/* out of descriptors: not a busy loop, a pause */
				uv_poll_stop(&listen_poll);
				paused = true;
				uv_timer_start(&pause_timer, pause_done_cb, WS_ACCEPT_PAUSE_MS, 0);
			}
			return;				/* EAGAIN, or a connection already gone */
		}
		if (!ws_fd_budget_may_accept(fd))
		{
			ws_refuse_socket(fd);
			close(fd);
			continue;
		}
		ws_socket_setup(fd);
		/* on failure lws closes fd */
		(void) lws_adopt_socket_vhost(share_vhost, fd);
	}
}

bool
ws_listen_share_start(uv_loop_t *loop, struct lws_vhost *vh, const char *iface,
					  int port, const char **errmsg)
{
	struct addrinfo hints;
	struct addrinfo *ai = NULL;
	char		service[16];
	int			one = 1;
	bool		any = iface == NULL || strcmp(iface, "*") == 0 ||
		strcmp(iface, "0.0.0.0") == 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;	/* as lws's listener: IPv6 disabled */
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(service, sizeof(service), "%d", port);
	if (getaddrinfo(any ? NULL : iface, service, &hints, &ai) != 0 || ai == NULL)
	{
		*errmsg = "could not resolve pgsync.listen_address";
		return false;
	}
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 ||
		setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
		setsockopt(listen_fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
		bind(listen_fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
		listen(listen_fd, ACCEPT_BACKLOG) != 0)
	{
		*errmsg = psprintf("could not listen on %s:%d with SO_REUSEPORT: %m (address in use by another program?)",
						   any ? "*" : iface, port);
		freeaddrinfo(ai);
		if (listen_fd >= 0)
			close(listen_fd);
		listen_fd = -1;
		return false;
	}
	freeaddrinfo(ai);
	share_vhost = vh;
	uv_poll_init(loop, &listen_poll, listen_fd);
	uv_timer_init(loop, &pause_timer);
	uv_unref((uv_handle_t *) &pause_timer);
	uv_poll_start(&listen_poll, UV_READABLE, accept_cb);
	poll_started = true;
	paused = false;
	return true;
}

/* Stop accepting (before lws's context goes); the socket is closed. */
void
ws_listen_share_stop(void)
{
	if (listen_fd < 0)
		return;
	if (poll_started)
	{
		uv_poll_stop(&listen_poll);
		uv_close((uv_handle_t *) &listen_poll, NULL);
		uv_timer_stop(&pause_timer);
		uv_close((uv_handle_t *) &pause_timer, NULL);
		poll_started = false;
	}
	close(listen_fd);
	listen_fd = -1;
}
