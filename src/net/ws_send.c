/*-------------------------------------------------------------------------
 *
 * ws_send.c
 *	  The WebSocket send path: client queues -> lws_write().
 *
 * A queued FoMsg is shared by many clients.  lws writes the frame header
 * into the LWS_PRE bytes before the pointer it is given.  The first chunk
 * of a message uses the headroom reserved in the FoMsg; later chunks of a
 * large message (sent as continuation frames of WS_CHUNK bytes) borrow the
 * 16 payload bytes before them, saved and restored around lws_write().
 * That is safe because lws_write() either sends or copies the whole chunk
 * before returning, and everything is on one thread, so no other client
 * can observe the borrowed bytes.
 *
 * Small messages are coalesced: complete frames are packed into one batch
 * buffer and sent with a single raw write (LWS_WRITE_RAW skips lws's
 * framing on a ws connection), so a client behind by many small messages
 * costs one send() per batch instead of one per message.  Frames are
 * always complete, so lws's own control frames (pong, close) can only
 * come between them.  Large messages go through lws framing in pieces.
 *
 * Direct writes.  Clients whose queue went from empty to non-empty are
 * put in a "dirty" list that ws_server_flush() writes to directly instead
 * of asking lws for a writable callback: with lws on libuv,
 * lws_callback_on_writable() goes through uv_poll_start(), which deletes
 * the fd from epoll and re-adds it (and again when POLLOUT is dropped
 * after the write), four epoll_ctl() calls per client per commit on top
 * of the send(), measured at 38% of the worker's CPU with 100 clients at
 * 1,000 commits/s.  The flush runs from libuv prepare and check handles,
 * i.e. in every uv_run() of the worker, before and after the I/O
 * callbacks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <uv.h>

#include "utils/timestamp.h"

#include "debug/lat_probe.h"
#include "fanout/fanout.h"
#include "net/ws_server.h"
#include "net/ws_server_int.h"

StaticAssertDecl(LWS_PRE <= FO_HEADROOM, "FO_HEADROOM must cover LWS_PRE");

#define WS_CHUNK (32 * 1024)		/* piece of a large message */
#define WS_BATCH (64 * 1024)		/* coalesced small messages */
#define WS_MAX_BYTES_PER_WRITABLE (1024 * 1024)	/* fairness between clients */

static FoClient **dirty = NULL;
static int	ndirty = 0;
static int	dirty_cap = 0;
static bool flush_handles_started = false;
static uv_prepare_t flush_prepare;
static uv_check_t flush_check;

/* The fan-out's want-write callback: a queue became non-empty. */
void
ws_send_want_write(FoClient *c, void *arg)
{
	struct lws *wsi = (struct lws *) fanout_client_user(c);
	Session    *s;

	if (wsi == NULL)
		return;
	s = (Session *) lws_wsi_user(wsi);
	if (s == NULL || s->client != c)
	{
		lws_callback_on_writable(wsi);
		return;
	}
	if (s->dirty)
		return;
	if (ndirty == dirty_cap)
	{
		int			cap = Max(64, dirty_cap * 2);
		FoClient  **n = realloc(dirty, sizeof(FoClient *) * cap);

		if (n == NULL)
		{
			lws_callback_on_writable(wsi);
			return;
		}
		dirty = n;
		dirty_cap = cap;
	}
	dirty[ndirty++] = c;
	s->dirty = true;
}

/* The session's client leaves: take it out of the dirty list. */
void
ws_send_forget(Session *s)
{
	if (!s->dirty)
		return;
	for (int i = 0; i < ndirty; i++)
		if (dirty[i] == s->client)
		{
			dirty[i] = dirty[--ndirty];
			break;
		}
	s->dirty = false;
}

/* Append one complete unmasked text frame holding msg to buf. */
static size_t
put_frame(unsigned char *buf, const FoMsg *m)
{
	size_t		h = 0;

	buf[h++] = 0x81;			/* FIN + text */
	if (m->len < 126)
		buf[h++] = (unsigned char) m->len;
	else if (m->len < 65536)
	{
		buf[h++] = 126;
		buf[h++] = (unsigned char) (m->len >> 8);
		buf[h++] = (unsigned char) m->len;
	}
	else
	{
		uint64		l = m->len;

		buf[h++] = 127;
		for (int i = 7; i >= 0; i--)
			buf[h++] = (unsigned char) (l >> (8 * i));
	}
	memcpy(buf + h, m->payload, m->len);
	return h + m->len;
}

/*
 * Write one piece of a message too large for a batch: a text or
 * continuation frame of at most WS_CHUNK bytes, framed by lws in the
 * headroom before it (see the file header).  Returns false on error.
 */
static bool
write_chunk(struct lws *wsi, Session *s, FoMsg *m, size_t off)
{
	size_t		chunk = Min((size_t) m->len - off, (size_t) WS_CHUNK);
	int			flags = lws_write_ws_flags(LWS_WRITE_TEXT, off == 0,
										   off + chunk == m->len);
	unsigned char *p = m->payload + off;
	unsigned char saved[LWS_PRE];
	int			n;

	memcpy(saved, p - LWS_PRE, LWS_PRE);
	n = lws_write(wsi, p, chunk, (enum lws_write_protocol) flags);
	memcpy(p - LWS_PRE, saved, LWS_PRE);
	if (n < (int) chunk)
		return false;
	fanout_advance(ws_fanout, s->client, chunk);
	return true;
}

/* One static batch buffer shared by all clients (lws copies what the
 * socket does not take). */
static unsigned char batch[LWS_PRE + WS_BATCH];

/* Pack the queued small messages of a client into batch; bytes used. */
static size_t
fill_batch(Session *s)
{
	size_t		used = 0;
	FoMsg	   *m;
	size_t		off;

	while (fanout_peek(s->client, &m, &off) && off == 0 &&
		   (size_t) m->len + 10 <= WS_BATCH - used)
	{
		used += put_frame(batch + LWS_PRE + used, m);
		fanout_advance(ws_fanout, s->client, m->len);
	}
	return used;
}

/*
 * Write a client's queue outside any lws callback (see "Direct writes").
 * Only batches of complete frames, only while lws holds nothing of its own
 * for the socket (a partial write, a control frame) and the connection is
 * open both ways.  Returns false when the rest must go through a writable
 * callback: socket full, a large message, a close to perform.
 */
static bool
direct_write(struct lws *wsi, Session *s)
{
	size_t		total = 0;
	FoMsg	   *m;
	size_t		off;

	if (s->client == NULL || fanout_client_closing(s->client) || s->peer_closing)
		return false;
	while (total < WS_MAX_BYTES_PER_WRITABLE)
	{
		size_t		used;

		if (lws_partial_buffered(wsi))
			return false;
		used = fill_batch(s);
		if (used == 0)
			return !fanout_peek(s->client, &m, &off);
		if (lws_write(wsi, batch + LWS_PRE, used, LWS_WRITE_RAW) < (int) used)
		{
			/* the socket is broken: lws closes it on its next service */
			lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
			return true;
		}
		lat_probe_socket_write();
		total += used;
		if (!fanout_peek(s->client, &m, &off))
			return true;		/* drained: no need to ask if it is full */
		if (lws_send_pipe_choked(wsi))
			return false;
	}
	return false;
}

void
ws_server_flush(void)
{
	/* popped from the end: a session's end may remove entries meanwhile */
	while (ndirty > 0)
	{
		FoClient   *c = dirty[--ndirty];
		struct lws *wsi = (struct lws *) fanout_client_user(c);
		Session    *s = (Session *) lws_wsi_user(wsi);

		s->dirty = false;
		if (!direct_write(wsi, s))
			lws_callback_on_writable(wsi);
	}
}

static void
flush_prepare_cb(uv_prepare_t *h)
{
	ws_server_flush();
}

static void
flush_check_cb(uv_check_t *h)
{
	ws_server_flush();
}

/* LWS_CALLBACK_SERVER_WRITEABLE; -1 closes the connection. */
int
ws_send_writable(struct lws *wsi, Session *s)
{
	size_t		total = 0;

	if (s->client == NULL)
		return -1;
	while (total < WS_MAX_BYTES_PER_WRITABLE)
	{
		size_t		used = fill_batch(s);
		FoMsg	   *m;
		size_t		off;

		if (used > 0)
		{
			if (lws_write(wsi, batch + LWS_PRE, used, LWS_WRITE_RAW) < (int) used)
				return -1;
			lat_probe_socket_write();
			total += used;
		}
		else if (fanout_peek(s->client, &m, &off))
		{
			if (!write_chunk(wsi, s, m, off))
				return -1;
			total += WS_CHUNK;
		}
		else
		{
			/* queue empty */
			if (fanout_client_closing(s->client))
			{
				int			code = s->close_code ? s->close_code : WS_CLOSE_SLOW_CONSUMER;

				lws_close_reason(wsi, (enum lws_close_status) code, NULL, 0);
				return -1;
			}
			return 0;
		}
		/* drained: skip the poll() of lws_send_pipe_choked() */
		if (!fanout_peek(s->client, &m, &off) && !fanout_client_closing(s->client))
			return 0;
		if (lws_send_pipe_choked(wsi))
			break;
	}
	lws_callback_on_writable(wsi);
	return 0;
}

void
ws_send_start(uv_loop_t *loop)
{
	if (flush_handles_started)
		return;
	/* unreferenced: they must not keep the loop alive by themselves */
	uv_prepare_init(loop, &flush_prepare);
	uv_prepare_start(&flush_prepare, flush_prepare_cb);
	uv_unref((uv_handle_t *) &flush_prepare);
	uv_check_init(loop, &flush_check);
	uv_check_start(&flush_check, flush_check_cb);
	uv_unref((uv_handle_t *) &flush_check);
	flush_handles_started = true;
}

void
ws_send_stop(void)
{
	if (flush_handles_started)
	{
		uv_prepare_stop(&flush_prepare);
		uv_check_stop(&flush_check);
		uv_close((uv_handle_t *) &flush_prepare, NULL);
		uv_close((uv_handle_t *) &flush_check, NULL);
		flush_handles_started = false;
	}
	ndirty = 0;
}
