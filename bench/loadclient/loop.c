/*
 * loop.c: the event loop of loop.h: connecting, the handshake, frames.
 *
 * A connection goes CONNECTING -> HANDSHAKE -> SUBSCRIBING -> READY, or
 * to DONE (failed or closed).  At most `window` of a loop's connections
 * are between CONNECTING and READY at a time: the next one is opened
 * when one settles, so the server's accept queue never overflows.
 *
 * Input: each readable socket is read into the loop's shared buffer and
 * parsed there; only the bytes of an incomplete frame (or handshake
 * response) are copied into a buffer of the connection's own, sized for
 * that frame, and freed as soon as it is consumed.  An idle connection
 * holds sizeof(Conn) bytes and no buffer.  Output (the request, the
 * subscribe frame, pongs, the close reply) is written at once; only the
 * part the socket does not take is kept.
 *
 * Arrival time is CLOCK_REALTIME read once per epoll wakeup, for all
 * the messages of that wakeup.
 */
#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rowtime.h"
#include "wsproto.h"

#define RX_SIZE			(256 * 1024)
#define MAX_FRAME		((uint64_t) 1 << 30)
#define WAKE_TOKEN		UINT32_MAX
#define MAX_EVENTS		512
#define REASONS_SHOWN	5
#define TAIL_LEN		31		/* bytes kept across a fragment boundary */

enum
{
	ST_IDLE,					/* not opened yet */
	ST_CONNECTING,
	ST_HANDSHAKE,
	ST_SUBSCRIBING,
	ST_READY,
	ST_DONE
};

/* Conn.flags */
#define F_IN_MESSAGE	0x01	/* inside a fragmented message */
#define F_COUNTED		0x02	/* the message started after "all ready" */
#define F_ROW_SEEN		0x04	/* its timestamp found, or it is no row */
#define F_WANT_OUT		0x08	/* EPOLLOUT registered */

struct Conn
{
	int			fd;
	uint8_t		state;
	uint8_t		flags;
	uint8_t		tail_len;
	uint32_t	started_s;		/* when opened, seconds since the loop began */
	uint32_t	rows;
	uint32_t	in_len,
				in_cap,
				need;			/* bytes the parser needs to progress */
	uint8_t    *in;				/* pending input, or NULL */
	uint8_t    *out;			/* pending output, or NULL */
	uint32_t	out_len;
	uint64_t	msg_len;		/* payload bytes of the message so far */
	char		tail[TAIL_LEN];
};

static atomic_int settled_count;
static atomic_int ready_count;
static atomic_bool all_ready;
static atomic_bool stopping;
static atomic_int reasons_shown;

int
loop_settled(int *ready)
{
	*ready = atomic_load(&ready_count);
	return atomic_load(&settled_count);
}

void
loop_set_all_ready(void)
{
	atomic_store(&all_ready, true);
}

void
loop_set_stop(void)
{
	atomic_store(&stopping, true);
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
conn_index(Loop *l, Conn *c)
{
	return (int) (c - l->conns);
}

static void
set_events(Loop *l, Conn *c, bool want_out)
{
	struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0),
	.data.u64 = (uint64_t) conn_index(l, c)};

	epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->flags = want_out ? (c->flags | F_WANT_OUT) : (c->flags & ~F_WANT_OUT);
}

static void
release(Conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	c->in_len = c->in_cap = c->out_len = 0;
}

/* a connection that was not ready yet no longer counts as in progress */
static void
settle(Loop *l, Conn *c, bool ready)
{
	if (c->state > ST_IDLE && c->state < ST_READY)
	{
		l->in_progress--;
		if (ready)
			atomic_fetch_add(&ready_count, 1);
		atomic_fetch_add(&settled_count, 1);
	}
}

static void
fail(Loop *l, Conn *c, const char *why, const char *detail)
{
	if (atomic_fetch_add(&reasons_shown, 1) < REASONS_SHOWN)
		fprintf(stderr, "pgsync-load: client %d: %s%s%s\n", l->first_client + conn_index(l, c),
				why, detail ? ": " : "", detail ? detail : "");
	l->c.errors++;
	settle(l, c, false);
	release(c);
	c->state = ST_DONE;
}

/* the server ended a connection that had been ready */
static void
closed(Loop *l, Conn *c)
{
	l->c.closed++;
	release(c);
	c->state = ST_DONE;
}

static void
become_ready(Loop *l, Conn *c)
{
	settle(l, c, true);
	l->c.ready++;
	c->state = ST_READY;
}

/* Write, or keep what the socket does not take; false if the connection failed. */
static bool
send_bytes(Loop *l, Conn *c, const void *data, size_t len)
{
	ssize_t		n = 0;

	if (c->out == NULL)
	{
		n = send(c->fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		{
			fail(l, c, "send", strerror(errno));
			return false;
		}
		if (n < 0)
			n = 0;
		if ((size_t) n == len)
			return true;
	}
	c->out = realloc(c->out, c->out_len + len - (size_t) n);
	memcpy(c->out + c->out_len, (const uint8_t *) data + n, len - (size_t) n);
	c->out_len += (uint32_t) (len - (size_t) n);
	if (!(c->flags & F_WANT_OUT))
		set_events(l, c, true);
	return true;
}

static bool
flush_out(Loop *l, Conn *c)
{
	ssize_t		n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);

	if (n < 0)
	{
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return true;
		fail(l, c, "send", strerror(errno));
		return false;
	}
	memmove(c->out, c->out + n, c->out_len - (size_t) n);
	c->out_len -= (uint32_t) n;
	if (c->out_len == 0)
	{
		free(c->out);
		c->out = NULL;
		set_events(l, c, false);
	}
	return true;
}

static bool
send_frame(Loop *l, Conn *c, uint8_t opcode, const void *payload, size_t len)
{
	uint8_t		small[WS_MAX_CLIENT_HEADER + 128];
	uint8_t    *buf = len <= 128 ? small : malloc(WS_MAX_CLIENT_HEADER + len);
	size_t		n;
	bool		ok;

	n = wsproto_client_frame(buf, opcode, payload, len, (uint32_t) random());
	ok = send_bytes(l, c, buf, n);
	if (buf != small)
		free(buf);
	return ok;
}

static uint64_t
key_seed(Loop *l, Conn *c)
{
	return ((uint64_t) l->start_us << 20) ^ (uint64_t) (l->first_client + conn_index(l, c));
}

static void
open_next(Loop *l)
{
	while (l->in_progress < l->window && l->next < l->nclients)
	{
		Conn	   *c = &l->conns[l->next++];
		int			global = l->first_client + conn_index(l, c);
		const Options *o = l->opt;
		struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t) conn_index(l, c)};
		int			one = 1;

		c->state = ST_CONNECTING;
		c->started_s = (uint32_t) ((now_us() - l->start_us) / 1000000);
		l->in_progress++;
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
		{
			fail(l, c, "socket", strerror(errno));
			continue;
		}
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (o->nsources > 0)
		{
			struct sockaddr_in src = {.sin_family = AF_INET,
			.sin_addr = o->sources[global % o->nsources]};

			/* the port is chosen at connect(), per destination */
			setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
			if (bind(c->fd, (struct sockaddr *) &src, sizeof(src)) != 0)
			{
				fail(l, c, "bind to the source address", strerror(errno));
				continue;
			}
		}
		if (connect(c->fd, (const struct sockaddr *) &o->dest, sizeof(o->dest)) != 0 &&
			errno != EINPROGRESS)
		{
			fail(l, c, "connect", strerror(errno));
			continue;
		}
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		{
			fail(l, c, "epoll_ctl", strerror(errno));
			continue;
		}
		c->flags = F_WANT_OUT;
	}
}

static void
on_connected(Loop *l, Conn *c)
{
	int			err = 0;
	socklen_t	len = sizeof(err);
	char		key[WS_KEY_LEN + 1];
	char		req[8192];
	size_t		n;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
	{
		fail(l, c, "connect", strerror(err ? err : errno));
		return;
	}
	wsproto_key(key_seed(l, c), key);
	n = wsproto_request(req, sizeof(req), l->opt->host_port, l->opt->target, key,
						l->opt->protocol, l->opt->headers, l->opt->nheaders);
	if (n == 0)
	{
		fail(l, c, "upgrade request over 8 kB", NULL);
		return;
	}
	c->state = ST_HANDSHAKE;
	set_events(l, c, false);
	send_bytes(l, c, req, n);
}

/* the latency of the row whose timestamp is ts_us, arrived at now */
static void
record_row(Loop *l, Conn *c, int64_t ts_us, int64_t now)
{
	int64_t		lat = now - ts_us;

	l->c.rows++;
	c->rows++;
	c->flags |= F_ROW_SEEN;
	hist_add(&l->hist, lat > 0 ? (uint64_t) lat : 0);
}

/*
 * Look for the row's timestamp in one more piece of a message's payload
 * (a frame's), including a timestamp cut by the previous piece's end.
 */
static void
scan_piece(Loop *l, Conn *c, const uint8_t *p, size_t n, int64_t now)
{
	int64_t		ts;
	size_t		at;

	if (c->tail_len > 0)
	{
		char		window[TAIL_LEN + ROWTIME_MAX_LEN];
		size_t		head = n < ROWTIME_MAX_LEN ? n : ROWTIME_MAX_LEN;

		memcpy(window, c->tail, c->tail_len);
		memcpy(window + c->tail_len, p, head);
		if (rowtime_find(window, c->tail_len + head, &ts, &at) && at < c->tail_len)
		{
			record_row(l, c, ts, now);
			return;
		}
	}
	if (rowtime_find((const char *) p, n, &ts, NULL))
	{
		record_row(l, c, ts, now);
		return;
	}
	/* keep the last TAIL_LEN bytes seen for the next piece */
	if (n >= TAIL_LEN)
	{
		memcpy(c->tail, p + n - TAIL_LEN, TAIL_LEN);
		c->tail_len = TAIL_LEN;
	}
	else
	{
		size_t		keep = c->tail_len + n > TAIL_LEN ? TAIL_LEN - n : c->tail_len;

		memmove(c->tail, c->tail + c->tail_len - keep, keep);
		memcpy(c->tail + keep, p, n);
		c->tail_len = (uint8_t) (keep + n);
	}
}

/* a whole message has arrived (its last frame) */
static void
on_message_end(Loop *l, Conn *c, const uint8_t *last, size_t last_len, int64_t now)
{
	if (c->state == ST_SUBSCRIBING)
	{
		/* the subscription's reply; an error reply fails the client */
		if (memmem(last, last_len, "\"type\":\"error\"", 14) != NULL)
		{
			char		text[256];
			size_t		n = last_len < sizeof(text) - 1 ? last_len : sizeof(text) - 1;

			memcpy(text, last, n);
			text[n] = '\0';
			fail(l, c, "subscription refused", text);
			return;
		}
		become_ready(l, c);
		return;
	}
	if (c->flags & F_COUNTED)
	{
		l->c.messages++;
		l->c.bytes += c->msg_len;
		if (l->c.first_msg_us == 0)
			l->c.first_msg_us = now;
		l->c.last_msg_us = now;
	}
}

static void
on_data_frame(Loop *l, Conn *c, const WsFrame *f, const uint8_t *p, int64_t now)
{
	size_t		n = (size_t) f->payload_len;

	if (f->opcode != WS_OP_CONT)
	{
		c->flags &= ~(F_IN_MESSAGE | F_COUNTED | F_ROW_SEEN);
		c->msg_len = 0;
		c->tail_len = 0;
		if (c->state == ST_READY && atomic_load_explicit(&all_ready, memory_order_relaxed))
			c->flags |= F_COUNTED;
		if (!l->opt->latency || rowtime_is_boundary((const char *) p, n))
			c->flags |= F_ROW_SEEN;
	}
	c->msg_len += n;
	if ((c->flags & (F_COUNTED | F_ROW_SEEN)) == F_COUNTED)
		scan_piece(l, c, p, n, now);
	if (f->fin)
	{
		c->flags &= ~F_IN_MESSAGE;
		on_message_end(l, c, p, n, now);
	}
	else
		c->flags |= F_IN_MESSAGE;
}

/*
 * Handle the frames in p[0..n); the bytes consumed.  c->need is set to
 * the bytes (from the first unconsumed one) the next frame needs.  The
 * connection may end (state DONE) on the way.
 */
static size_t
parse_frames(Loop *l, Conn *c, uint8_t *p, size_t n, int64_t now)
{
	size_t		used = 0;

	while (c->state != ST_DONE)
	{
		WsFrame		f;
		const char *why = NULL;
		int			r = wsproto_frame(p + used, n - used, &f, &why);
		uint8_t    *payload;

		if (r < 0 || (r > 0 && f.payload_len > MAX_FRAME))
		{
			fail(l, c, "protocol error", why ? why : "frame over 1 GB");
			break;
		}
		if (r == 0 || n - used < f.header_len + f.payload_len)
		{
			c->need = r == 0 ? WS_MAX_CLIENT_HEADER : (uint32_t) (f.header_len + f.payload_len);
			break;
		}
		payload = p + used + f.header_len;
		if (f.masked)
			wsproto_unmask(payload, (size_t) f.payload_len, f.mask, 0);
		used += f.header_len + (size_t) f.payload_len;
		switch (f.opcode)
		{
			case WS_OP_TEXT:
			case WS_OP_BINARY:
			case WS_OP_CONT:
				if ((f.opcode == WS_OP_CONT) != ((c->flags & F_IN_MESSAGE) != 0))
				{
					fail(l, c, "protocol error", "unexpected (or missing) continuation frame");
					break;
				}
				if (c->state < ST_SUBSCRIBING)
				{
					fail(l, c, "protocol error", "data before the handshake ended");
					break;
				}
				on_data_frame(l, c, &f, payload, now);
				break;
			case WS_OP_PING:
				send_frame(l, c, WS_OP_PONG, payload, (size_t) f.payload_len);
				break;
			case WS_OP_PONG:
				break;
			case WS_OP_CLOSE:
				{
					char		why_text[160];
					unsigned	code = f.payload_len >= 2 ? (payload[0] << 8 | payload[1]) : 1005;

					/* echo the status code, then drop the connection */
					send_frame(l, c, WS_OP_CLOSE, payload, f.payload_len >= 2 ? 2 : 0);
					if (c->state == ST_DONE)
						break;
					if (c->state == ST_READY)
						closed(l, c);
					else
					{
						snprintf(why_text, sizeof(why_text), "code %u %.*s", code,
								 (int) (f.payload_len > 2 ? f.payload_len - 2 : 0),
								 (const char *) payload + 2);
						fail(l, c, "closed by the server", why_text);
					}
					break;
				}
			default:
				fail(l, c, "protocol error", "unknown opcode");
				break;
		}
	}
	return used;
}

/* the bytes p[0..n) just read; returns the bytes consumed */
static size_t
consume(Loop *l, Conn *c, uint8_t *p, size_t n, int64_t now)
{
	size_t		used = 0;

	if (c->state == ST_HANDSHAKE)
	{
		char		key[WS_KEY_LEN + 1];
		const char *why = NULL;
		size_t		hlen = 0;
		int			r;

		wsproto_key(key_seed(l, c), key);
		r = wsproto_response((const char *) p, n, key, &hlen, &why);
		if (r == 0)
		{
			c->need = (uint32_t) n + 512;
			return 0;
		}
		if (r < 0)
		{
			char		line[128];
			const char *eol = memchr(p, '\r', n < 127 ? n : 127);
			int			ll = eol ? (int) (eol - (char *) p) : (int) (n < 127 ? n : 127);

			snprintf(line, sizeof(line), "%.*s", ll, (const char *) p);
			fail(l, c, why, line);
			return n;
		}
		used = hlen;
		l->c.connected++;
		if (l->opt->subscribe)
		{
			c->state = ST_SUBSCRIBING;
			if (!send_frame(l, c, WS_OP_TEXT, l->opt->subscribe, strlen(l->opt->subscribe)))
				return n;
		}
		else
			become_ready(l, c);
	}
	return used + parse_frames(l, c, p + used, n - used, now);
}

static void
on_readable(Loop *l, Conn *c, int64_t now)
{
	uint8_t    *buf;
	size_t		room,
				have;
	ssize_t		n;
	size_t		used,
				rest;

	if (c->in != NULL)
	{
		/* an incomplete frame is pending: read behind it, room for the whole frame */
		if (c->in_cap < c->need || c->in_cap - c->in_len < 4096)
		{
			uint32_t	cap = c->need > c->in_len + 16384 ? c->need : c->in_len + 16384;

			c->in = realloc(c->in, cap);
			c->in_cap = cap;
		}
		buf = c->in;
		have = c->in_len;
		room = c->in_cap - c->in_len;
	}
	else
	{
		buf = l->rx;
		have = 0;
		room = RX_SIZE;
	}
	n = recv(c->fd, buf + have, room, 0);
	if (n <= 0)
	{
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (c->state == ST_READY)
			closed(l, c);
		else
			fail(l, c, "connection lost", n == 0 ? "end of stream" : strerror(errno));
		return;
	}
	have += (size_t) n;
	used = consume(l, c, buf, have, now);
	if (c->state == ST_DONE)
		return;
	rest = have - used;
	if (rest == 0)
	{
		free(c->in);			/* shrink back: idle connections hold nothing */
		c->in = NULL;
		c->in_len = c->in_cap = 0;
	}
	else if (buf == c->in)
	{
		memmove(c->in, c->in + used, rest);
		c->in_len = (uint32_t) rest;
	}
	else
	{
		uint32_t	cap = c->need > rest ? c->need : (uint32_t) rest;

		if (cap < 1024)
			cap = 1024;
		c->in = malloc(cap);
		memcpy(c->in, buf + used, rest);
		c->in_len = (uint32_t) rest;
		c->in_cap = cap;
	}
}

/* fail connections still in progress after the timeout */
static void
check_timeouts(Loop *l)
{
	uint32_t	now_s = (uint32_t) ((now_us() - l->start_us) / 1000000);
	static const char *const stage[] = {"", "connect", "handshake", "first reply"};

	if (l->in_progress == 0)
		return;
	for (int i = 0; i < l->next; i++)
	{
		Conn	   *c = &l->conns[i];

		if (c->state > ST_IDLE && c->state < ST_READY &&
			now_s - c->started_s >= (uint32_t) l->opt->timeout_s)
			fail(l, c, "timed out waiting for the", stage[c->state]);
	}
}

bool
loop_init(Loop *l, const Options *opt, int id, int nloops)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TOKEN};
	int			share = opt->clients / nloops,
				extra = opt->clients % nloops;

	memset(l, 0, sizeof(*l));
	l->opt = opt;
	l->id = id;
	l->nclients = share + (id < extra);
	l->first_client = id * share + (id < extra ? id : extra);
	l->window = opt->connect_batch / nloops + (id < opt->connect_batch % nloops);
	l->conns = calloc((size_t) l->nclients + 1, sizeof(Conn));
	l->rx = malloc(RX_SIZE);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->conns == NULL || l->rx == NULL || l->epfd < 0 || l->wake_fd < 0 ||
		epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wake_fd, &ev) != 0)
		return false;
	for (int i = 0; i < l->nclients; i++)
		l->conns[i].fd = -1;
	return true;
}

void
loop_wake(Loop *l)
{
	uint64_t	one = 1;

	if (write(l->wake_fd, &one, sizeof(one)) < 0)
		perror("pgsync-load: eventfd");
}

void *
loop_run(void *arg)
{
	Loop	   *l = arg;
	struct epoll_event ev[MAX_EVENTS];
	int64_t		last_timeout_check = 0;

	l->start_us = now_us();
	open_next(l);
	while (!atomic_load(&stopping))
	{
		int			n = epoll_wait(l->epfd, ev, MAX_EVENTS, l->in_progress > 0 ? 1000 : -1);
		int64_t		now = now_us();

		for (int i = 0; i < n; i++)
		{
			Conn	   *c;

			if (ev[i].data.u64 == WAKE_TOKEN)
				continue;
			c = &l->conns[ev[i].data.u64];
			if (c->state == ST_DONE)
				continue;
			if (c->state == ST_CONNECTING)
			{
				on_connected(l, c);
				continue;
			}
			if ((ev[i].events & EPOLLOUT) && c->out != NULL && !flush_out(l, c))
				continue;
			if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(l, c, now);
		}
		if (l->in_progress > 0 && now - last_timeout_check > 1000000)
		{
			check_timeouts(l);
			last_timeout_check = now;
		}
		open_next(l);
	}
	return NULL;
}

void
loop_finish(Loop *l)
{
	for (int i = 0; i < l->nclients; i++)
		if (l->conns[i].rows > 0)
			l->c.clients_with_rows++;
}
