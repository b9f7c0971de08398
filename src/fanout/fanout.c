/*-------------------------------------------------------------------------
 *
 * fanout.c
 *	  Pure fan-out, part 1: messages, client queues and their bounds,
 *	  clients and subscriptions.  Routing is in fanout_route.c.
 *
 * A queue is a ring of refcounted FoMsg pointers; its byte count includes
 * every message fully, shared or not.  A live client whose queue cannot
 * take the next message lags (fanout.h, "Slow clients"): the catch-up point
 * is recorded here, from the state of the fan-out's current transaction.
 * Culling (queue dropped, error queued, close after it) is for clients
 * that cannot be served any more: out of memory, replies never read.
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
fo_msg_new(const char *data, size_t len, char op, uint64_t lsn)
{
	FoMsg	   *m = malloc(sizeof(FoMsg) + FO_HEADROOM + len + 1);

	if (m == NULL)
		return NULL;
	m->refcnt = 1;
	m->op = op;
	m->len = (uint32_t) len;
	m->lsn = lsn;
	m->payload = m->buf + FO_HEADROOM;
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

Fanout *
fanout_create(size_t queue_limit, FoWantWrite want_write, void *arg)
{
	Fanout	   *fo = calloc(1, sizeof(Fanout));

	if (fo == NULL)
		return NULL;
	fo->queue_limit = queue_limit;
	fo->want_write = want_write;
	fo->arg = arg;
	fo->sub_gen = 1;
	fo->rel_cap = 64;
	fo->rels = calloc(fo->rel_cap, sizeof(FoRel));
	if (fo->rels == NULL)
	{
		free(fo);
		return NULL;
	}
	return fo;
}

void
fanout_set_queue_limit(Fanout *fo, size_t queue_limit)
{
	fo->queue_limit = queue_limit;
}

void
fanout_set_want_write(Fanout *fo, FoWantWrite want_write, void *arg)
{
	fo->want_write = want_write;
	fo->arg = arg;
}

void
fanout_destroy(Fanout *fo)
{
	uint32_t	i;

	while (fo->clients != NULL)
		fanout_client_remove(fo, fo->clients);
	for (i = 0; i < fo->rel_cap; i++)
		if (fo->rels[i].relid != 0)
			fo_rel_clear(&fo->rels[i]);
	free(fo->rels);
	fo_msg_unref(fo->cur_begin);
	free(fo->txn_clients);
	fo_filter_destroy(fo);
	free(fo);
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

static void
relsent_clear(FoClient *c)
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
	relsent_clear(c);
	c->culled = true;
	fanout_close_with_error(fo, c, code, message);
}

/* Does m fit in c's queue?  A message larger than the limit fits an
 * empty queue. */
static bool
fits(Fanout *fo, FoClient *c, const FoMsg *m)
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
static void
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
		bool		in_change = m->op == 'I' || m->op == 'U' || m->op == 'D' ||
			m->op == 'T' || m->op == 'B' || m->op == 'R';

		c->skip_txn = fo->cur_begin->lsn;
		c->skip_changes = in_change ? fo->txn_changes - 1 : fo->txn_changes;
		c->catchup_after = c->skip_txn - 1;
	}
	else
	{
		c->skip_txn = c->skip_changes = 0;
		c->catchup_after = fo->last_commit;
	}
	if (c->catchup_after < c->resume_after)
		c->catchup_after = c->resume_after;
}

bool
fo_enqueue(Fanout *fo, FoClient *c, FoMsg *m)
{
	bool		was_empty = c->ring_count == 0;

	if (c->closing || c->lagging)
		return false;
	if (!fo->paced && !fits(fo, c, m))
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
static bool
enqueue_control(Fanout *fo, FoClient *c, FoMsg *m)
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
	return enqueue_control(fo, c, fo_msg_new(data, len, 0, 0));
}

void
fanout_close_with_error(Fanout *fo, FoClient *c, const char *code,
						const char *message)
{
	char		lsnbuf[JSONENC_LSN_MAXLEN + 1];
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
	lsnbuf[jsonenc_lsn(lsnbuf, c->queued.lsn)] = '\0';
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

FoClient *
fanout_client_add(Fanout *fo, void *user)
{
	FoClient   *c = calloc(1, sizeof(FoClient));

	if (c == NULL)
		return NULL;
	c->user = user;
	c->stat_slot = -1;
	c->home = fo;
	c->next = fo->clients;
	if (fo->clients)
		fo->clients->prev = c;
	fo->clients = c;
	fo->nclients++;
	return c;
}

static void
sub_free(FoSub *s)
{
	int			i;

	for (i = 0; i < s->ntables; i++)
		free(s->tables[i]);
	free(s->tables);
	free(s->patterns);
	free(s->filter_json);
	fo_sub_filters_free(s);
	free(s);
}

/* Take c out of its fan-out's client list and current transaction. */
static void
client_unlink(FoClient *c)
{
	Fanout	   *fo = c->home;
	int			i;

	for (i = 0; i < fo->ntxn; i++)
		if (fo->txn_clients[i] == c)
			fo->txn_clients[i] = fo->txn_clients[--fo->ntxn];
	if (c->prev)
		c->prev->next = c->next;
	else
		fo->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	fo->nclients--;
	if (c->lagging)
		fo->nlagging--;
	fo->sub_gen++;				/* match caches hold client pointers */
}

void
fanout_client_move(Fanout *to, FoClient *c)
{
	int			i;

	client_unlink(c);
	c->home = to;
	c->next = to->clients;
	if (to->clients)
		to->clients->prev = c;
	to->clients = c;
	to->nclients++;
	to->sub_gen++;
	/* a lagging client's queue may end inside skip_txn: see fanout_publish */
	if (c->lagging)
		c->lagging = false;
	else
		c->skip_txn = 0;
	if (c->skip_txn == 0)
		c->in_txn = false;
	for (i = 0; i < c->nsubs; i++)
	{
		/* compiled filters are tied to the old fan-out's relation entries */
		fo_sub_filters_free(c->subs[i]);
		c->subs[i]->active_from = to->in_txn ? to->txn_seq + 1 : to->txn_seq;
	}
}

FoWantWrite
fanout_want_write(Fanout *fo, void **arg)
{
	*arg = fo->arg;
	return fo->want_write;
}

size_t
fanout_queue_limit(Fanout *fo)
{
	return fo->queue_limit;
}

void
fanout_client_remove(Fanout *fo, FoClient *c)
{
	FoMsg	   *m;
	int			i;

	(void) fo;
	client_unlink(c);
	while ((m = ring_pop(c)) != NULL)
		fo_msg_unref(m);
	free(c->ring);
	relsent_clear(c);
	free(c->relsent);
	for (i = 0; i < c->nsubs; i++)
		sub_free(c->subs[i]);
	free(c);
}

FoClient *
fanout_first_client(Fanout *fo)
{
	return fo->clients;
}

int
fanout_client_count(Fanout *fo)
{
	return fo->nclients;
}

FoSub *
fanout_subscribe(FoClient *c, ClientRequest *req, const char **code)
{
	Fanout	   *fo = c->home;
	FoSub	   *s;

	if (c->nsubs >= FO_MAX_SUBS_PER_CLIENT)
	{
		*code = CP_ERR_TOO_MANY_SUBS;
		return NULL;
	}
	if ((s = calloc(1, sizeof(FoSub))) == NULL)
	{
		*code = CP_ERR_INTERNAL;
		return NULL;
	}
	c->next_sub_id++;
	snprintf(s->id, sizeof(s->id), "s%u", c->next_sub_id);
	s->ntables = req->ntables;
	s->tables = req->tables;
	s->patterns = req->patterns;
	s->ops = req->ops;
	s->filter_json = req->filter_json;
	req->ntables = 0;
	req->tables = NULL;
	req->patterns = NULL;
	req->filter_json = NULL;
	/* mid-transaction: start with the next one */
	s->active_from = fo->in_txn ? fo->txn_seq + 1 : fo->txn_seq;
	c->subs[c->nsubs++] = s;
	fo->sub_gen++;
	return s;
}

bool
fanout_unsubscribe(FoClient *c, const char *sub_id)
{
	Fanout	   *fo = c->home;
	int			i;

	for (i = 0; i < c->nsubs; i++)
	{
		if (strcmp(c->subs[i]->id, sub_id) != 0)
			continue;
		sub_free(c->subs[i]);
		c->subs[i] = c->subs[--c->nsubs];
		fo->sub_gen++;
		return true;
	}
	return false;
}

void
fanout_describe_subs(FoClient *c, char *out, size_t outsize)
{
	size_t		n = 0;
	int			i,
				t;

	if (outsize == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < c->nsubs && n + 1 < outsize; i++)
	{
		FoSub	   *s = c->subs[i];

		n += snprintf(out + n, outsize - n, "%s%s:", i > 0 ? ";" : "", s->id);
		for (t = 0; t < s->ntables && n + 1 < outsize; t++)
			n += snprintf(out + n, outsize - n, "%s%s", t > 0 ? "," : "",
						  s->tables[t]);
		if (n >= outsize)
			n = outsize - 1;
	}
}

static FoMsg *
heartbeat_msg(uint64_t lsn, const char *snapshot_joined)
{
	size_t		len;
	char	   *text = cp_heartbeat(lsn, snapshot_joined, &len);
	FoMsg	   *m;

	if (text == NULL)
		return NULL;
	m = fo_msg_new(text, len, 'H', lsn);
	free(text);
	return m;
}

void
fanout_heartbeat(Fanout *fo, uint64_t lsn)
{
	FoMsg	   *m = heartbeat_msg(lsn, NULL);
	FoClient   *c;

	if (m == NULL)
		return;

	/*
	 * A client not subscribed yet has no position to be told about; one
	 * that resumed beyond lsn (transactions it had before a crash, not
	 * logged again yet) already stands further.
	 */
	for (c = fo->clients; c != NULL; c = c->next)
		if (!c->closing && !c->lagging && c->nsubs > 0 &&
			lsn >= c->queued.lsn && fits(fo, c, m))
			fo_enqueue(fo, c, m);
	fo_msg_unref(m);
}

void
fanout_heartbeat_join(Fanout *fo, FoClient *c, uint64_t lsn,
					  const char *sub_id)
{
	if (c->closing)
		return;
	if (lsn < c->queued.lsn)
		lsn = c->queued.lsn;
	/* the client's first resume point: never left out for a full queue */
	enqueue_control(fo, c, heartbeat_msg(lsn, sub_id));
}

uint64_t
fanout_msgs_sent(Fanout *fo)
{
	return fo->msgs_sent;
}

uint64_t
fanout_bytes_sent(Fanout *fo)
{
	return fo->bytes_sent;
}

uint64_t
fanout_msgs_published(Fanout *fo)
{
	return fo->msgs_published;
}
