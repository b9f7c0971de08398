/*-------------------------------------------------------------------------
 *
 * ws_timeouts.c
 *	  The WebSocket server's two clocks: pgsync.handshake_timeout (from a
 *	  socket's accept to its WebSocket upgrade) and pgsync.idle_timeout (an
 *	  upgraded client with no subscription that sends nothing).
 *
 * Handshake.  lws 4.1.6 has a timer per socket; what lws does with it was
 * read in its sources and measured with clients that send half a request
 * line, then a byte a second (test/t/ws_origin_timeouts.py, ws_tls.py):
 *	- a socket is adopted with its HTTP header table attached at once,
 *	  which arms PENDING_TIMEOUT_HOLDING_AH for the vhost's
 *	  timeout_secs_ah_idle; bytes arriving do not push it back, so a plain
 *	  connection is closed that long after accept, however it trickles;
 *	- a TLS connection is under the same timer during its TLS handshake,
 *	  but when that completes lws arms PENDING_TIMEOUT_ESTABLISH_WITH_SERVER
 *	  for the context's timeout_secs (5 s), counted from then: a client
 *	  finishing TLS just in time had a new timeout;
 *	- once the request's headers are complete lws clears the timer; after
 *	  a request that is not an upgrade (404: ws_server.c) the connection
 *	  is closed, so keep-alive cannot start the clock again.
 * lws arms the first two inside its own code, with no callback after
 * them, and reads both values only when the context and vhost are made.
 * So the sockets to time are noted: at LWS_CALLBACK_SERVER_NEW_CLIENT_
 * INSTANTIATED (the accept time goes into the wsi's opaque user data,
 * cleared at the upgrade) and when a TLS handshake completes
 * (LWS_CALLBACK_SSL_INFO with SSL_CB_HANDSHAKE_DONE, inside lws's
 * SSL_accept, just before lws arms its timer); after the loop's I/O (a uv
 * check handle) their timer is set to what is left of the current
 * pgsync.handshake_timeout since their accept, so the setting is
 * reloadable.  lws_set_timeout() counts whole seconds: the remainder is
 * rounded up.  Should the list fail to grow (out of memory), a socket
 * keeps lws's own timer.
 *
 * Idle.  Every second, the live fan-out's clients with no subscription
 * and no subscribe request parked for the worker, whose last data frame
 * (or admission) is older than the timeout, are closed with the error
 * idle_timeout and close code 1008.  Pings and pongs do not count: lws
 * sends and answers them itself.  Clients being replayed the log or sent
 * a snapshot are in private fan-outs and have a subscription anyway.
 *
 * Runs in lws and libuv callbacks: no ERROR, nothing palloc'd.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/ssl.h>

#include "utils/timestamp.h"

#include "fanout/fanout.h"
#include "net/ws_server.h"
#include "net/ws_server_int.h"
#include "protocol/client_protocol.h"

#define IDLE_SWEEP_MS	1000

int			ws_handshake_timeout_s = 10;
static int	idle_timeout_s = 60;

static uv_loop_t *loop = NULL;
static uv_timer_t idle_timer;
static uv_check_t arm_check;
static struct lws **to_arm = NULL;	/* sockets to time after this iteration */
static int	nto_arm = 0;
static int	to_arm_cap = 0;

void
ws_server_set_timeouts(int handshake_s, int idle_s)
{
	ws_handshake_timeout_s = handshake_s;
	idle_timeout_s = idle_s;
}

/* ----------------------------------------------------------------
 * The handshake
 * ----------------------------------------------------------------
 */

static void
arm_remove(struct lws *wsi)
{
	for (int i = 0; i < nto_arm; i++)
		if (to_arm[i] == wsi)
		{
			to_arm[i] = to_arm[--nto_arm];
			return;
		}
}

static void
arm_add(struct lws *wsi)
{
	arm_remove(wsi);
	if (nto_arm == to_arm_cap)
	{
		int			cap = to_arm_cap > 0 ? 2 * to_arm_cap : 64;
		struct lws **n = realloc(to_arm, sizeof(*to_arm) * cap);

		if (n == NULL)
			return;
		to_arm = n;
		to_arm_cap = cap;
	}
	to_arm[nto_arm++] = wsi;
}

/* LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED: its accept starts the clock. */
void
ws_timeouts_accepted(struct lws *wsi)
{
	if (loop == NULL)
		return;
	lws_set_opaque_user_data(wsi, (void *) (uintptr_t) (uv_now(loop) + 1));
	arm_add(wsi);
}

/* LWS_CALLBACK_SSL_INFO: lws restarts its timer after a TLS handshake. */
void
ws_timeouts_tls_info(struct lws *wsi, const struct lws_ssl_info *si)
{
	if (si != NULL && (si->where & SSL_CB_HANDSHAKE_DONE) &&
		lws_get_opaque_user_data(wsi) != NULL)
		arm_add(wsi);
}

/* After the loop's I/O: each noted socket gets what is left of its time. */
static void
arm_check_cb(uv_check_t *h)
{
	uint64_t	now = uv_now(loop);

	for (int i = 0; i < nto_arm; i++)
	{
		uintptr_t	at = (uintptr_t) lws_get_opaque_user_data(to_arm[i]);
		int64_t		left_ms;

		if (at == 0)
			continue;
		left_ms = (int64_t) ws_handshake_timeout_s * 1000 - (int64_t) (now - (at - 1));
		lws_set_timeout(to_arm[i], PENDING_TIMEOUT_ESTABLISH_WITH_SERVER,
						left_ms <= 0 ? LWS_TO_KILL_ASYNC : (int) ((left_ms + 999) / 1000));
	}
	nto_arm = 0;
}

/* LWS_CALLBACK_ESTABLISHED: the upgrade is done, no handshake clock. */
void
ws_timeouts_upgraded(struct lws *wsi)
{
	lws_set_opaque_user_data(wsi, NULL);
	arm_remove(wsi);
}

/* LWS_CALLBACK_WSI_DESTROY */
void
ws_timeouts_forget(struct lws *wsi)
{
	arm_remove(wsi);
}

/* ----------------------------------------------------------------
 * Idle clients
 * ----------------------------------------------------------------
 */

static void
idle_sweep_cb(uv_timer_t *t)
{
	TimestampTz now;
	FoClient   *c;
	char		msg[128];

	if (idle_timeout_s <= 0 || ws_fanout == NULL)
		return;
	now = GetCurrentTimestamp();
	snprintf(msg, sizeof(msg),
			 "no subscription and nothing received for %d s (pgsync.idle_timeout)",
			 idle_timeout_s);
	for (c = fanout_first_client(ws_fanout); c != NULL; c = fanout_next_client(c))
	{
		struct lws *wsi = (struct lws *) fanout_client_user(c);
		Session    *s = wsi != NULL ? lws_wsi_user(wsi) : NULL;

		if (s == NULL || fanout_client_closing(c) || fanout_client_nsubs(c) > 0 ||
			ws_session_waiting(c) ||
			!TimestampDifferenceExceeds(s->last_rx, now, idle_timeout_s * 1000))
			continue;
		ws_session_close_with(s, CP_ERR_IDLE_TIMEOUT, msg,
							  LWS_CLOSE_STATUS_POLICY_VIOLATION);
	}
}

/* ----------------------------------------------------------------
 * Start and stop (with the server)
 * ----------------------------------------------------------------
 */

void
ws_timeouts_start(uv_loop_t *l)
{
	if (loop != NULL)
		return;
	loop = l;
	nto_arm = 0;
	/* unreferenced: they must not keep the loop alive by themselves */
	uv_timer_init(loop, &idle_timer);
	uv_timer_start(&idle_timer, idle_sweep_cb, IDLE_SWEEP_MS, IDLE_SWEEP_MS);
	uv_unref((uv_handle_t *) &idle_timer);
	uv_check_init(loop, &arm_check);
	uv_check_start(&arm_check, arm_check_cb);
	uv_unref((uv_handle_t *) &arm_check);
}

void
ws_timeouts_stop(void)
{
	if (loop == NULL)
		return;
	uv_timer_stop(&idle_timer);
	uv_close((uv_handle_t *) &idle_timer, NULL);
	uv_check_stop(&arm_check);
	uv_close((uv_handle_t *) &arm_check, NULL);
	nto_arm = 0;
	loop = NULL;
}
