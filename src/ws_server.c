/*-------------------------------------------------------------------------
 *
 * ws_server.c
 *	  libwebsockets on the worker's libuv loop: sessions, receive and send.
 *
 * lws 4.1.6 as packaged by Debian has no external poll support: the worker
 * owns a libuv loop, lws runs on it as a "foreign" loop, and worker.c waits
 * on uv_backend_fd() next to its latch.  Everything here runs on that one
 * thread, in lws callbacks: nothing may ERROR (a longjmp out of lws would
 * corrupt it), so memory is malloc'd and logging is LOG/WARNING.
 *
 * Send path: a queued FoMsg is shared by many clients.  lws writes the
 * frame header into the LWS_PRE bytes before the pointer it is given.  The
 * first chunk of a message uses the headroom reserved in the FoMsg; later
 * chunks of a large message (sent as continuation frames of WS_CHUNK
 * bytes) borrow the 16 payload bytes before them, saved and restored
 * around lws_write().  That is safe because lws_write() either sends or
 * copies the whole chunk before returning, and everything is on one
 * thread, so no other client can observe the borrowed bytes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include <libwebsockets.h>

#include "storage/fd.h"
#include "utils/timestamp.h"

#include "client_protocol.h"
#include "fanout.h"
#include "json_encode.h"
#include "lat_probe.h"
#include "ws_server.h"

StaticAssertDecl(LWS_PRE <= FO_HEADROOM, "FO_HEADROOM must cover LWS_PRE");

#define WS_CHUNK (32 * 1024)		/* piece of a large message */
#define WS_BATCH (64 * 1024)		/* coalesced small messages */
#define WS_MAX_BYTES_PER_WRITABLE (1024 * 1024)	/* fairness between clients */
#define WS_SUBPROTOCOL "pgsync.v1"
#define WS_CLOSE_TRY_AGAIN_LATER 1013
#define WS_CLOSE_SLOW_CONSUMER 4008

typedef struct Session
{
	FoClient   *client;
	bool		fd_acquired;
	char	   *rx;				/* frame being assembled */
	size_t		rx_len;
	size_t		rx_cap;
	bool		rx_discard;		/* skip the rest of the current message */
	bool		dirty;			/* in the dirty list (ws_server_flush) */
	bool		peer_closing;	/* the client sent a close frame */
	int			close_code;
} Session;

static struct lws_context *context = NULL;
static struct lws_vhost *vhost = NULL;
static Fanout *fanout = NULL;
static int	max_clients = 0;
static size_t max_message = 64 * 1024;
static WsPending *pending_head = NULL;
static WsPending **pending_tail = &pending_head;

/* shared status slots */
static int *free_slots = NULL;
static int	nfree_slots = 0;
static int *released_slots = NULL;
static bool *slot_released = NULL;
static int	nreleased = 0;

/*
 * Clients whose queue went from empty to non-empty since the last flush.
 * ws_server_flush() writes to them directly instead of asking lws for a
 * writable callback: with lws on libuv, lws_callback_on_writable() goes
 * through uv_poll_start(), which deletes the fd from epoll and re-adds it
 * (and again when POLLOUT is dropped after the write), four epoll_ctl()
 * calls per client per commit on top of the send(), measured at 38% of
 * the worker's CPU with 100 clients at 1,000 commits/s.  The flush runs
 * from libuv prepare and check handles, i.e. in every uv_run() of the
 * worker, before and after the I/O callbacks.
 */
static FoClient **dirty = NULL;
static int	ndirty = 0;
static int	dirty_cap = 0;
static bool flush_handles_started = false;
static uv_prepare_t flush_prepare;
static uv_check_t flush_check;

static const lws_retry_bo_t keepalive = {
	.secs_since_valid_ping = 30,
	.secs_since_valid_hangup = 60,
};

static void
lws_log_emit(int level, const char *line)
{
	int			len = (int) strlen(line);

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	ereport(level == LLL_ERR ? WARNING : LOG,
			(errmsg_internal("pgsync: libwebsockets: %.*s", len, line)));
}

static void
want_write_cb(FoClient *c, void *arg)
{
	struct lws *wsi = (struct lws *) c->user;
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

static void
send_reply(FoClient *c, char *text, size_t len)
{
	if (text == NULL)
		return;
	fanout_send_private(c->home, c, text, len);
	free(text);
}

void
ws_server_send(FoClient *c, char *text, size_t len)
{
	send_reply(c, text, len);
}

void
ws_server_reply(FoClient *c, const char *id_json, const char *subscription,
				const char *code, const char *message)
{
	size_t		len = 0;
	char	   *text;

	if (code == NULL)
		text = cp_reply_ok(id_json, subscription, NULL, &len);
	else
		text = cp_reply_error(id_json, code, message, NULL, &len);
	send_reply(c, text, len);
}

void
ws_server_reply_positioned(FoClient *c, const char *id_json,
						   const char *subscription, bool has_position,
						   uint64_t resume_lsn)
{
	char		lsn[JSONENC_LSN_MAXLEN + 3];
	size_t		len = 0;
	char	   *text;

	if (has_position)
	{
		lsn[0] = '"';
		len = 1 + jsonenc_lsn(lsn + 1, resume_lsn);
		lsn[len++] = '"';
		lsn[len] = '\0';
	}
	else
		strcpy(lsn, "null");
	text = cp_reply_ok(id_json, subscription, lsn, &len);
	send_reply(c, text, len);
}

static void
close_with(Session *s, const char *code, const char *message, int close_code)
{
	s->close_code = close_code;
	fanout_close_with_error(fanout, s->client, code, message);
}

static void
handle_request(Session *s, const char *text, size_t len)
{
	ClientRequest req;
	const char *code = NULL;
	char		msg[256];

	if (!client_request_parse(text, len, &req, &code, msg, sizeof(msg)))
	{
		ws_server_reply(s->client, req.id_json, NULL, code, msg);
		client_request_free(&req);
		return;
	}
	switch (req.type)
	{
		case CREQ_PING:
			{
				size_t		l = 0;
				char	   *text = cp_reply_pong(req.id_json, &l);

				send_reply(s->client, text, l);
				break;
			}
		case CREQ_UNSUBSCRIBE:
			if (fanout_unsubscribe(s->client, req.subscription))
				ws_server_reply(s->client, req.id_json, req.subscription,
								NULL, NULL);
			else
				ws_server_reply(s->client, req.id_json, NULL,
								CP_ERR_UNKNOWN_SUBSCRIPTION,
								"no such subscription on this connection");
			break;
		case CREQ_SUBSCRIBE:
			{
				/* park it: the worker checks tables and filter in the catalog */
				WsPending  *p = calloc(1, sizeof(WsPending));

				if (p == NULL)
				{
					ws_server_reply(s->client, req.id_json, NULL,
									CP_ERR_INTERNAL, "out of memory");
					break;
				}
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

static void
on_established(struct lws *wsi, Session *s)
{
	FoClient   *c = fanout_client_add(fanout, wsi);

	memset(s, 0, sizeof(*s));
	if (c == NULL)
		return;					/* closed in the next callback */
	s->client = c;
	c->connected_at = GetCurrentTimestamp();
	lws_get_peer_simple(wsi, c->peer, sizeof(c->peer));
	if (nfree_slots == 0 || fanout_client_count(fanout) > max_clients)
	{
		close_with(s, CP_ERR_SERVER_FULL,
				   "too many clients (pgsync.max_clients)",
				   WS_CLOSE_TRY_AGAIN_LATER);
		return;
	}
	c->stat_slot = free_slots[--nfree_slots];

	/*
	 * Count the socket against PostgreSQL's fd budget, so that the VFD
	 * cache gives way.  ReserveExternalFD, not AcquireExternalFD: the latter
	 * caps external fds at a third of max_files_per_process (about 330 by
	 * default), far below pgsync.max_clients; the real limit is the
	 * process's RLIMIT_NOFILE, which accept() reports.
	 */
	ReserveExternalFD();
	s->fd_acquired = true;
}

static void
on_closed(Session *s)
{
	if (s->client == NULL)
		return;
	drop_pending_of(s->client);
	if (s->dirty)
	{
		for (int i = 0; i < ndirty; i++)
			if (dirty[i] == s->client)
			{
				dirty[i] = dirty[--ndirty];
				break;
			}
		s->dirty = false;
	}
	if (s->client->stat_slot >= 0)
	{
		int			slot = s->client->stat_slot;

		free_slots[nfree_slots++] = slot;
		if (!slot_released[slot])
		{
			slot_released[slot] = true;
			released_slots[nreleased++] = slot;
		}
	}
	fanout_client_remove(fanout, s->client);
	s->client = NULL;
	if (s->fd_acquired)
		ReleaseExternalFD();
	s->fd_acquired = false;
	free(s->rx);
	s->rx = NULL;
}

static void
on_receive(struct lws *wsi, Session *s, const char *in, size_t len)
{
	bool		first = lws_is_first_fragment(wsi);
	bool		final = lws_is_final_fragment(wsi);

	if (s->client == NULL || s->client->closing)
		return;
	if (first)
	{
		s->rx_len = 0;
		s->rx_discard = false;
	}
	if (lws_frame_is_binary(wsi))
	{
		close_with(s, CP_ERR_BINARY, "binary frames are not supported",
				   LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE);
		return;
	}
	if (s->rx_len + len > max_message)
	{
		close_with(s, CP_ERR_TOO_LARGE,
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
			close_with(s, CP_ERR_INTERNAL, "out of memory",
					   LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
			return;
		}
		s->rx = n;
		s->rx_cap = cap;
	}
	memcpy(s->rx + s->rx_len, in, len);
	s->rx_len += len;
	if (final && lws_remaining_packet_payload(wsi) == 0)
	{
		handle_request(s, s->rx, s->rx_len);
		s->rx_len = 0;
		if (s->rx_cap > 16 * 1024)
		{
			free(s->rx);
			s->rx = NULL;
			s->rx_cap = 0;
		}
	}
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
	fanout_advance(fanout, s->client, chunk);
	return true;
}

/*
 * Write queued messages; returns -1 to close the connection.
 *
 * Small messages are coalesced: complete frames are packed into one batch
 * buffer and sent with a single raw write (LWS_WRITE_RAW skips lws's
 * framing on a ws connection), so a client behind by many small messages
 * costs one send() per batch instead of one per message.  Frames are
 * always complete, so lws's own control frames (pong, close) can only
 * come between them.  Large messages go through lws framing in pieces.
 */
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
		fanout_advance(fanout, s->client, m->len);
	}
	return used;
}

/*
 * Write a client's queue outside any lws callback (see "dirty" above).
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

	if (s->client == NULL || s->client->closing || s->peer_closing)
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
		LP((lp_last_write = GetCurrentTimestamp(),
			lp_first_write = lp_first_write ? lp_first_write : lp_last_write,
			lp_writes++));
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
	/* popped from the end: on_closed() may remove entries meanwhile */
	while (ndirty > 0)
	{
		FoClient   *c = dirty[--ndirty];
		struct lws *wsi = (struct lws *) c->user;
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

static int
on_writable(struct lws *wsi, Session *s)
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
			LP((lp_last_write = GetCurrentTimestamp(),
				lp_first_write = lp_first_write ? lp_first_write : lp_last_write,
				lp_writes++));
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
			if (s->client->closing)
			{
				int			code = s->close_code ? s->close_code : WS_CLOSE_SLOW_CONSUMER;

				lws_close_reason(wsi, (enum lws_close_status) code, NULL, 0);
				return -1;
			}
			return 0;
		}
		/* drained: skip the poll() of lws_send_pipe_choked() */
		if (!fanout_peek(s->client, &m, &off) && !s->client->closing)
			return 0;
		if (lws_send_pipe_choked(wsi))
			break;
	}
	lws_callback_on_writable(wsi);
	return 0;
}

static int
pgsync_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
				   void *user, void *in, size_t len)
{
	Session    *s = (Session *) user;

	switch (reason)
	{
		case LWS_CALLBACK_ESTABLISHED:
			on_established(wsi, s);
			if (s->client == NULL)
				return -1;
			return 0;
		case LWS_CALLBACK_RECEIVE:
			on_receive(wsi, s, (const char *) in, len);
			return 0;
		case LWS_CALLBACK_SERVER_WRITEABLE:
			return on_writable(wsi, s);
		case LWS_CALLBACK_CLOSED:
			on_closed(s);
			return 0;
		case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
			s->peer_closing = true;
			break;
		default:
			break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/*
 * tx_packet_size: lws caps each send() at it (at rx_buffer_size when 0,
 * i.e. 4 kB) and copies the rest of a write into its buffered-out list, to
 * be sent 4 kB per POLLOUT round trip.  A batch (64 kB) or a chunk (32 kB)
 * of ours must go in one send().
 */
static struct lws_protocols protocols[] = {
	{WS_SUBPROTOCOL, pgsync_ws_callback, sizeof(Session), 4096, 0, NULL,
	LWS_PRE + WS_BATCH + 16},
	{NULL, NULL, 0, 0, 0, NULL, 0}
};

bool
ws_server_start(uv_loop_t *loop, const char *iface, int port, Fanout *fo,
				int maxc, const char **errmsg)
{
	struct lws_context_creation_info info;
	void	   *foreign_loops[1];
	int			fdlimit;
	int			i;

	fanout = fo;
	max_clients = maxc;
	/* a previous failed attempt may have left these */
	free(free_slots);
	free(released_slots);
	free(slot_released);
	free_slots = malloc(sizeof(int) * maxc);
	released_slots = malloc(sizeof(int) * maxc);
	slot_released = calloc(maxc, sizeof(bool));
	if (free_slots == NULL || released_slots == NULL || slot_released == NULL)
	{
		*errmsg = "out of memory";
		return false;
	}
	for (i = 0; i < maxc; i++)
		free_slots[i] = maxc - 1 - i;
	nfree_slots = maxc;
	nreleased = 0;

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);

	memset(&info, 0, sizeof(info));
	foreign_loops[0] = loop;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
		LWS_SERVER_OPTION_DISABLE_IPV6;
	info.foreign_loops = foreign_loops;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.retry_and_idle_policy = &keepalive;
	/*
	 * lws sizes its fd tables by this and refuses sockets whose fd number
	 * is beyond it, so it must cover the process's fd numbers, not just the
	 * client count: RLIMIT_NOFILE (lws's default), capped for huge limits.
	 */
	fdlimit = getdtablesize();
	if (fdlimit > 262144)
		fdlimit = Max(262144, maxc + 1024);
	info.fd_limit_per_thread = (unsigned int) fdlimit;
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
	vhost = lws_create_vhost(context, &info);
	if (vhost == NULL)
	{
		*errmsg = "could not listen (address in use or invalid pgsync.listen_address?)";
		lws_context_destroy(context);
		context = NULL;
		return false;
	}
	fanout_set_want_write(fo, want_write_cb, NULL);
	if (!flush_handles_started)
	{
		/* unreferenced: they must not keep the loop alive by themselves */
		uv_prepare_init(loop, &flush_prepare);
		uv_prepare_start(&flush_prepare, flush_prepare_cb);
		uv_unref((uv_handle_t *) &flush_prepare);
		uv_check_init(loop, &flush_check);
		uv_check_start(&flush_check, flush_check_cb);
		uv_unref((uv_handle_t *) &flush_check);
		flush_handles_started = true;
	}
	return true;
}

void
ws_server_set_max_message(size_t bytes)
{
	max_message = bytes;
}

void
ws_server_stop(const char *code, const char *message)
{
	FoClient   *c;

	if (context == NULL)
		return;
	for (c = fanout_first_client(fanout); c != NULL; c = c->next)
	{
		Session    *s = c->user ? lws_wsi_user((struct lws *) c->user) : NULL;

		if (s != NULL && !c->closing)
			s->close_code = LWS_CLOSE_STATUS_GOINGAWAY;
		fanout_close_with_error(fanout, c, code, message);
	}
}

/*
 * Second half of the shutdown, once the loop has had a chance to flush.
 * With a foreign libuv loop, lws_context_destroy() starts closing its
 * handles, the loop must run for the close callbacks, and a second call
 * finishes the job.
 */
void
ws_server_destroy(uv_loop_t *loop)
{
	if (context == NULL)
		return;
	if (flush_handles_started)
	{
		uv_prepare_stop(&flush_prepare);
		uv_check_stop(&flush_check);
		uv_close((uv_handle_t *) &flush_prepare, NULL);
		uv_close((uv_handle_t *) &flush_check, NULL);
		flush_handles_started = false;
	}
	ndirty = 0;
	lws_context_destroy(context);
	for (int i = 0; i < 10; i++)
		uv_run(loop, UV_RUN_NOWAIT);
	lws_context_destroy(context);
	context = NULL;
	vhost = NULL;
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
	free(p);
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
