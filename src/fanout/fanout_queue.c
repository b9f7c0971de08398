/*-------------------------------------------------------------------------
 *
 * fanout_queue.c
 *	  Pure fan-out, bottom layer: messages and client queues, their bounds,
 *	  positions, lagging and culling.
 *
 * A queue is a ring of refcounted FoMsg pointers; its byte count includes
 * every message fully, shared or not.  A live client whose queue cannot
 * take the next message lags (fanout.h, "Slow clients"): the catch-up point
 * is recorded here, from the state of the fan-out's current transaction.
 * Culling (queue dropped, error queued, close after it) is for clients
 * that cannot be served any more: out of memory, replies never read.
 * Nothing here calls the layers above (routing, filters, fanout.c).
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/fanout.h"
#include "fanout/fanout_int.h"
#include "json/json_encode.h"

FoMsg *
fo_msg_alloc(size_t cap, char op, uint64_t lsn)
{
	FoMsg	   *m = malloc(sizeof(FoMsg) + FO_HEADROOM + cap + 1);

	if (m == NULL)
		return NULL;
	m->refcnt = 1;
	m->op = op;
	m->len = 0;
	m->lsn = lsn;
	m->payload = m->buf + FO_HEADROOM;
	m->payload[0] = '\0';
	return m;
}

FoMsg *
fo_msg_new(const char *data, size_t len, char op, uint64_t lsn)
{
	FoMsg	   *m = fo_msg_alloc(len, op, lsn);

	if (m == NULL)
		return NULL;
	m->len = (uint32_t) len;
	memcpy(m->payload, data, len);
	m->payload[len] = '\0';
	return m;
}

void
fo_msg_unref(FoMsg *m)
{
	if (m != NULL && --m->refcnt == 0)
		free(m);
}

static void
want_write(Fanout *fo, FoClient *c)
{
	if (fo->want_write)
		fo->want_write(c, fo->arg);
}

/*
 * The one rule for positions: where a client stands after message m.  A
 * heartbeat ends the wait for a join; a commit or heartbeat then moves the
 * position forward, never back.
 */
static void
position_pass(FoPosition *p, const FoMsg *m)
{
	if (m->op == 'H')
		p->awaiting = false;
	if ((m->op == 'C' || m->op == 'H') && !p->awaiting && m->lsn > p->lsn)
		p->lsn = m->lsn;
}

void
fanout_client_start_at(FoClient *c, uint64_t lsn)
{
	c->sent.awaiting = c->queued.awaiting = false;
	if (lsn > c->sent.lsn)
		c->sent.lsn = lsn;
	if (lsn > c->queued.lsn)
		c->queued.lsn = lsn;
}

void
fanout_client_await_join(FoClient *c)
{
	c->sent.awaiting = true;
	c->queued.awaiting = true;
}

uint64_t
fanout_client_position(const FoClient *c)
{
	return c->queued.lsn;
}

static bool
ring_push(FoClient *c, FoMsg *m)
{
	if (c->ring_count == c->ring_cap)
	{
		uint32_t	cap = c->ring_cap ? c->ring_cap * 2 : 16;
		FoMsg	  **n = malloc(sizeof(FoMsg *) * cap);
		uint32_t	i;

		if (n == NULL)
			return false;
		for (i = 0; i < c->ring_count; i++)
			n[i] = c->ring[(c->ring_head + i) & (c->ring_cap - 1)];
		free(c->ring);
		c->ring = n;
		c->ring_cap = cap;
		c->ring_head = 0;
	}
	c->ring[(c->ring_head + c->ring_count) & (c->ring_cap - 1)] = m;
	c->ring_count++;
	m->refcnt++;
	c->queued_bytes += FO_MSG_COST(m->len);
	position_pass(&c->queued, m);
	return true;
}

static FoMsg *
ring_pop(FoClient *c)
{
	FoMsg	   *m;

	if (c->ring_count == 0)
		return NULL;
	m = c->ring[c->ring_head];
	c->ring_head = (c->ring_head + 1) & (c->ring_cap - 1);
	c->ring_count--;
	c->queued_bytes -= FO_MSG_COST(m->len);
	return m;
}

void
fo_relsent_clear(FoClient *c)
{
	int			i;

	for (i = 0; i < c->nrelsent; i++)
		fo_msg_unref(c->relsent[i].rel_msg);
	c->nrelsent = 0;
}

/*
 * Cull a client: drop everything queued (but the message being written,
 * which must be finished to keep the frame stream valid), queue the error
 * and close after it.
 */
void
fo_cull(Fanout *fo, FoClient *c, const char *code, const char *message)
{
	FoMsg	   *keep = NULL;
	FoMsg	   *m;

	if (c->closing)
		return;
	if (c->sent_off > 0)
		keep = ring_pop(c);
	while ((m = ring_pop(c)) != NULL)
		fo_msg_unref(m);
	c->queued = c->sent;		/* what was dropped will not be written */
	if (keep != NULL)
	{
		ring_push(c, keep);
		fo_msg_unref(keep);		/* ring_push took a reference */
	}
	fo_relsent_clear(c);
	c->culled = true;
	fanout_close_with_error(fo, c, code, message);
}

/* Does m fit in c's queue?  A message larger than the limit fits an
 * empty queue. */
bool
fo_fits(Fanout *fo, FoClient *c, const FoMsg *m)
{
	return c->ring_count == 0 ||
		c->queued_bytes + FO_MSG_COST(m->len) <= fo->queue_limit;
}

/*
 * c starts lagging: the live fan-out queues nothing more to it.  Its queue
 * ends where the catch-up must start: inside the current transaction (it
 * has the changes before the current one, and the begin if in_txn; all of
 * them if the commit is what did not fit), or after the last transaction
 * routed.
 */
void
fo_lag(Fanout *fo, FoClient *c, const FoMsg *m)
{
	c->lagging = true;
	fo->nlagging++;
	if (fo->in_txn && fo->cur_begin != NULL)
	{
		/*
		 * The change being routed (with its begin and relation messages)
		 * did not make it; a commit, or a reply queued between two changes,
		 * comes after every change routed so far.
		 */
		bool		in_change = m != NULL &&
			(m->op == 'I' || m->op == 'U' || m->op == 'D' ||
			 m->op == 'T' || m->op == 'B' || m->op == 'R');

		c->skip_txn = fo->cur_begin->lsn;
		c->skip_changes = in_change ? fo->txn_changes - 1 : fo->txn_changes;
		c->catchup_after = c->skip_txn - 1;
	}
	else
	{
		/*
		 * Between transactions: it has everything up to the last one routed,
		 * and, if no transaction was routed since the fan-out started, up to
		 * its own position (that of its first subscription, or its resume
		 * point).
		 */
		c->skip_txn = c->skip_changes = 0;
		c->catchup_after = fo->last_commit;
		if (c->catchup_after < c->queued.lsn)
			c->catchup_after = c->queued.lsn;
	}
	if (c->catchup_after < c->resume_after)
		c->catchup_after = c->resume_after;
}

bool
fo_reserve(Fanout *fo, FoClient *c, void **arr, int n, int *cap, size_t elem,
		   int first)
{
	int			newcap;
	void	   *grown;

	if (n < *cap)
		return true;
	newcap = *cap ? *cap * 2 : first;
	if ((grown = realloc(*arr, elem * newcap)) == NULL)
	{
		fo_cull(fo, c, CP_ERR_INTERNAL, "out of memory");
		return false;
	}
	*arr = grown;
	*cap = newcap;
	return true;
}

bool
fo_enqueue(Fanout *fo, FoClient *c, FoMsg *m)
{
	bool		was_empty = c->ring_count == 0;

	if (c->closing || c->lagging)
		return false;
	if (!fo->paced && !fo_fits(fo, c, m))
	{
		fo_lag(fo, c, m);
		return false;
	}
	if (!ring_push(c, m))
	{
		fo_cull(fo, c, CP_ERR_INTERNAL, "out of memory");
		return false;
	}
	if (was_empty)
		want_write(fo, c);
	return true;
}

void
fanout_set_paced(Fanout *fo)
{
	fo->paced = true;
}

int
fanout_lagging_count(Fanout *fo)
{
	return fo->nlagging;
}

void
fanout_take_lagging(Fanout *fo, void (*fn) (FoClient *c, void *arg),
					void *arg)
{
	FoClient   *c = fo->clients;

	while (c != NULL && fo->nlagging > 0)
	{
		FoClient   *next = c->next;

		if (c->lagging)
			fn(c, arg);			/* moves it out of fo */
		c = next;
	}
}

/*
 * Queue a message that must not be lost (a reply, the heartbeat joining a
 * snapshot to the stream): past the queue limit too, up to
 * FO_CONTROL_SLACK more.  Takes over the caller's reference to m.
 */
bool
fo_enqueue_control(Fanout *fo, FoClient *c, FoMsg *m)
{
	bool		was_empty = c->ring_count == 0;

	if (m == NULL)
	{
		fo_cull(fo, c, CP_ERR_INTERNAL, "out of memory");
		return false;
	}
	if (c->closing)
	{
		fo_msg_unref(m);
		return false;
	}
	if (c->queued_bytes + FO_MSG_COST(m->len) > fo->queue_limit + FO_CONTROL_SLACK)
	{
		fo_msg_unref(m);
		fo_cull(fo, c, CP_ERR_SLOW_CONSUMER,
				"replies not read: send queue limit (pgsync.client_queue_bytes) exceeded");
		return false;
	}
	if (!ring_push(c, m))
	{
		fo_msg_unref(m);
		fo_cull(fo, c, CP_ERR_INTERNAL, "out of memory");
		return false;
	}
	/* past the limit: no more stream messages until it catches up */
	if (!fo->paced && !c->lagging && c->queued_bytes > fo->queue_limit)
		fo_lag(fo, c, m);
	fo_msg_unref(m);
	if (was_empty)
		want_write(fo, c);
	return true;
}

bool
fanout_send_private(Fanout *fo, FoClient *c, const char *data, size_t len)
{
	return fo_enqueue_control(fo, c, fo_msg_new(data, len, 0, 0));
}

void
fanout_close_with_error(Fanout *fo, FoClient *c, const char *code,
						const char *message)
{
	char		lsnbuf[JSON_LSN_MAXLEN + 1];
	size_t		len;
	char	   *text;
	bool		was_empty = c->ring_count == 0;

	if (c->closing)
		return;
	if (c->lagging)
	{
		/* closing supersedes catching up */
		c->lagging = false;
		c->home->nlagging--;
	}
	/* everything queued before the error is written first */
	lsnbuf[json_lsn(lsnbuf, c->queued.lsn)] = '\0';
	text = cp_reply_error(NULL, code, message, lsnbuf, &len);
	if (text != NULL)
	{
		/* bypass the limit: the error must get through */
		FoMsg	   *m = fo_msg_new(text, len, 0, 0);

		if (m != NULL)
		{
			ring_push(c, m);
			fo_msg_unref(m);
		}
		free(text);
	}
	c->closing = true;
	if (was_empty)
		want_write(fo, c);
}

bool
fanout_peek(FoClient *c, FoMsg **msg, size_t *off)
{
	if (c->ring_count == 0)
		return false;
	*msg = c->ring[c->ring_head];
	*off = c->sent_off;
	return true;
}

void
fanout_advance(Fanout *fo, FoClient *c, size_t n)
{
	FoMsg	   *m;

	if (c->ring_count == 0)
		return;
	m = c->ring[c->ring_head];
	c->sent_off += n;
	c->bytes_sent += n;
	fo->bytes_sent += n;
	if (c->sent_off < m->len)
		return;
	c->sent_off = 0;
	ring_pop(c);
	c->msgs_sent++;
	fo->msgs_sent++;
	/*
	 * A written commit, or heartbeat, is a resume point: everything up to it
	 * that the client subscribed to has been written.
	 */
	position_pass(&c->sent, m);
	fo_msg_unref(m);
}

/* Free c's queue and the relation messages it holds (c is being freed). */
void
fo_queue_free(FoClient *c)
{
	FoMsg	   *m;

	while ((m = ring_pop(c)) != NULL)
		fo_msg_unref(m);
	free(c->ring);
	fo_relsent_clear(c);
	free(c->relsent);
}
