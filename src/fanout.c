/*-------------------------------------------------------------------------
 *
 * fanout.c
 *	  Pure fan-out: routing of plugin messages to client queues.
 *
 * Routing state:
 *	- one FoRel per relation oid seen, holding the latest relation ("R")
 *	  message and a cache of the (client, subscription) pairs whose table
 *	  patterns match it, rebuilt lazily when subscriptions change;
 *	- the begin message of the transaction being decoded: it is queued to
 *	  a client just before the first change of that transaction the client
 *	  gets, and the commit is queued to exactly those clients, so a client
 *	  sees begin/commit only around transactions that concern it;
 *	- per client, the relation messages already queued: the latest "R" of a
 *	  relation is queued before the first change of it the client gets, and
 *	  again when the relation changed.
 *
 * A subscription created in the middle of a transaction starts with the
 * next one (active_from), so nobody sees a transaction without its start.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout.h"
#include "json_encode.h"
#include "stream_msg.h"

typedef struct FoMatch
{
	FoClient   *client;
	FoSub	   *sub;
} FoMatch;

struct FoRel
{
	uint32_t	relid;			/* 0: free hash slot */
	char	   *schema;
	char	   *table;
	FoMsg	   *rel_msg;
	uint64_t	match_gen;		/* sub_gen the cache was built for */
	FoMatch    *match;
	int			nmatch;
	int			match_cap;
};

struct Fanout
{
	size_t		queue_limit;
	FoWantWrite want_write;
	void	   *arg;

	FoClient   *clients;
	int			nclients;

	FoRel	   *rels;			/* open addressing on relid */
	uint32_t	rel_cap;		/* power of two */
	uint32_t	nrels;

	uint64_t	sub_gen;		/* bumped on any subscription change */
	uint64_t	route_seq;

	FoMsg	   *cur_begin;
	bool		in_txn;
	uint64_t	txn_seq;		/* transactions begun so far */
	FoClient  **txn_clients;	/* clients that got cur_begin */
	int			ntxn;
	int			txn_cap;

	bool		pressure;

	uint64_t	msgs_sent;
	uint64_t	bytes_sent;
	uint64_t	msgs_published;
};

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

static void
rel_clear(FoRel *r)
{
	free(r->schema);
	free(r->table);
	fo_msg_unref(r->rel_msg);
	free(r->match);
}

void
fanout_destroy(Fanout *fo)
{
	uint32_t	i;

	while (fo->clients != NULL)
		fanout_client_remove(fo, fo->clients);
	for (i = 0; i < fo->rel_cap; i++)
		if (fo->rels[i].relid != 0)
			rel_clear(&fo->rels[i]);
	free(fo->rels);
	fo_msg_unref(fo->cur_begin);
	free(fo->txn_clients);
	free(fo);
}

/* ---------- relations ---------- */

static FoRel *
rel_lookup(Fanout *fo, uint32_t relid, bool create)
{
	uint32_t	mask = fo->rel_cap - 1;
	uint32_t	i = (relid * 2654435761u) & mask;

	if (relid == 0)
		return NULL;
	while (fo->rels[i].relid != 0)
	{
		if (fo->rels[i].relid == relid)
			return &fo->rels[i];
		i = (i + 1) & mask;
	}
	if (!create)
		return NULL;
	if ((fo->nrels + 1) * 2 > fo->rel_cap)
	{
		/* grow and rehash */
		FoRel	   *old = fo->rels;
		uint32_t	oldcap = fo->rel_cap;
		FoRel	   *n = calloc(oldcap * 2, sizeof(FoRel));
		uint32_t	k;

		if (n == NULL)
			return NULL;
		fo->rels = n;
		fo->rel_cap = oldcap * 2;
		mask = fo->rel_cap - 1;
		for (k = 0; k < oldcap; k++)
		{
			uint32_t	j;

			if (old[k].relid == 0)
				continue;
			j = (old[k].relid * 2654435761u) & mask;
			while (n[j].relid != 0)
				j = (j + 1) & mask;
			n[j] = old[k];
		}
		free(old);
		return rel_lookup(fo, relid, true);
	}
	fo->nrels++;
	memset(&fo->rels[i], 0, sizeof(FoRel));
	fo->rels[i].relid = relid;
	return &fo->rels[i];
}

static bool
sub_matches_rel(const FoSub *s, const FoRel *r)
{
	return r->schema != NULL &&
		table_pattern_match_any(s->patterns, s->ntables, r->schema, r->table);
}

/* Make r->match current. */
static bool
rel_ensure_match(Fanout *fo, FoRel *r)
{
	FoClient   *c;

	if (r->match_gen == fo->sub_gen)
		return true;
	r->nmatch = 0;
	for (c = fo->clients; c != NULL; c = c->next)
	{
		int			i;

		for (i = 0; i < c->nsubs; i++)
		{
			if (!sub_matches_rel(c->subs[i], r))
				continue;
			if (r->nmatch == r->match_cap)
			{
				int			cap = r->match_cap ? r->match_cap * 2 : 8;
				FoMatch    *m = realloc(r->match, sizeof(FoMatch) * cap);

				if (m == NULL)
					return false;
				r->match = m;
				r->match_cap = cap;
			}
			r->match[r->nmatch].client = c;
			r->match[r->nmatch].sub = c->subs[i];
			r->nmatch++;
		}
	}
	r->match_gen = fo->sub_gen;
	return true;
}

/* ---------- queues ---------- */

static void
want_write(Fanout *fo, FoClient *c)
{
	if (fo->want_write)
		fo->want_write(c, fo->arg);
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
	c->queued_bytes += m->len;
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
	c->queued_bytes -= m->len;
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
static void
cull(Fanout *fo, FoClient *c, const char *code, const char *message)
{
	FoMsg	   *keep = NULL;
	FoMsg	   *m;

	if (c->closing)
		return;
	if (c->sent_off > 0)
		keep = ring_pop(c);
	while ((m = ring_pop(c)) != NULL)
		fo_msg_unref(m);
	if (keep != NULL)
	{
		ring_push(c, keep);
		fo_msg_unref(keep);		/* ring_push took a reference */
	}
	relsent_clear(c);
	c->culled = true;
	fanout_close_with_error(fo, c, code, message);
}

/* Queue a shared message; culls the client if over its limit. */
static bool
enqueue(Fanout *fo, FoClient *c, FoMsg *m)
{
	bool		was_empty = c->ring_count == 0;

	if (c->closing)
		return false;
	if (c->queued_bytes + m->len > fo->queue_limit)
	{
		cull(fo, c, CP_ERR_SLOW_CONSUMER,
			 "send queue limit (pgsync.client_queue_bytes) exceeded");
		return false;
	}
	if (!ring_push(c, m))
	{
		cull(fo, c, CP_ERR_INTERNAL, "out of memory");
		return false;
	}
	if (!c->pressure_exempt && c->queued_bytes > fo->queue_limit / 2)
		fo->pressure = true;
	if (was_empty)
		want_write(fo, c);
	return true;
}

bool
fanout_pressure(Fanout *fo)
{
	return fo->pressure;
}

bool
fanout_recheck_pressure(Fanout *fo)
{
	FoClient   *c;

	fo->pressure = false;
	for (c = fo->clients; c != NULL; c = c->next)
		if (!c->closing && !c->pressure_exempt &&
			c->queued_bytes > fo->queue_limit / 2)
		{
			fo->pressure = true;
			break;
		}
	return fo->pressure;
}

void
fanout_exempt_pressured(Fanout *fo)
{
	FoClient   *c;

	for (c = fo->clients; c != NULL; c = c->next)
		if (c->queued_bytes > fo->queue_limit / 2)
			c->pressure_exempt = true;
	fo->pressure = false;
}

bool
fanout_send_private(Fanout *fo, FoClient *c, const char *data, size_t len)
{
	FoMsg	   *m = fo_msg_new(data, len, 0, 0);
	bool		ok;

	if (m == NULL)
	{
		cull(fo, c, CP_ERR_INTERNAL, "out of memory");
		return false;
	}
	ok = enqueue(fo, c, m);
	fo_msg_unref(m);
	return ok;
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
	lsnbuf[jsonenc_lsn(lsnbuf, c->last_lsn_sent)] = '\0';
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
	if (c->pressure_exempt && c->queued_bytes < fo->queue_limit / 4)
		c->pressure_exempt = false;
	c->msgs_sent++;
	fo->msgs_sent++;
	if (m->op == 'C')
		c->last_lsn_sent = m->lsn;
	fo_msg_unref(m);
}

/* ---------- clients and subscriptions ---------- */

FoClient *
fanout_client_add(Fanout *fo, void *user)
{
	FoClient   *c = calloc(1, sizeof(FoClient));

	if (c == NULL)
		return NULL;
	c->user = user;
	c->stat_slot = -1;
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
	free(s);
}

void
fanout_client_remove(Fanout *fo, FoClient *c)
{
	FoMsg	   *m;
	int			i;

	for (i = 0; i < fo->ntxn; i++)
		if (fo->txn_clients[i] == c)
			fo->txn_clients[i] = fo->txn_clients[--fo->ntxn];
	while ((m = ring_pop(c)) != NULL)
		fo_msg_unref(m);
	free(c->ring);
	relsent_clear(c);
	free(c->relsent);
	for (i = 0; i < c->nsubs; i++)
		sub_free(c->subs[i]);
	if (c->prev)
		c->prev->next = c->next;
	else
		fo->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	fo->nclients--;
	fo->sub_gen++;				/* match caches hold client pointers */
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
fanout_subscribe(Fanout *fo, FoClient *c, ClientRequest *req,
				 const char **code)
{
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
fanout_unsubscribe(Fanout *fo, FoClient *c, const char *sub_id)
{
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

/* ---------- routing ---------- */

bool
fanout_in_transaction(Fanout *fo)
{
	return fo->in_txn;
}

/*
 * Row filter hook.  When row_filter.h lands: the change's values are
 * parsed once per routed message (lazily, on the first subscription that
 * has a filter) and each filtered subscription evaluates its compiled
 * filter against them.  Until then subscriptions carrying a filter are
 * refused (bad_filter) by the worker, so every subscription passes.
 */
static bool
sub_filter_passes(const FoSub *s, const FoMsg *m)
{
	(void) m;
	return s->filter == NULL;
}

static bool
ensure_relsent(Fanout *fo, FoClient *c, FoRel *r)
{
	int			i;

	if (r->rel_msg == NULL)
		return true;
	for (i = 0; i < c->nrelsent; i++)
	{
		if (c->relsent[i].relid != r->relid)
			continue;
		if (c->relsent[i].rel_msg == r->rel_msg)
			return true;
		if (!enqueue(fo, c, r->rel_msg))
			return false;
		fo_msg_unref(c->relsent[i].rel_msg);
		c->relsent[i].rel_msg = r->rel_msg;
		r->rel_msg->refcnt++;
		return true;
	}
	if (c->nrelsent == c->relsent_cap)
	{
		int			cap = c->relsent_cap ? c->relsent_cap * 2 : 4;
		FoRelSent  *n = realloc(c->relsent, sizeof(FoRelSent) * cap);

		if (n == NULL)
		{
			cull(fo, c, CP_ERR_INTERNAL, "out of memory");
			return false;
		}
		c->relsent = n;
		c->relsent_cap = cap;
	}
	if (!enqueue(fo, c, r->rel_msg))
		return false;
	c->relsent[c->nrelsent].relid = r->relid;
	c->relsent[c->nrelsent].rel_msg = r->rel_msg;
	r->rel_msg->refcnt++;
	c->nrelsent++;
	return true;
}

/* Queue begin (if needed), relation messages, then m, to client c. */
static void
deliver(Fanout *fo, FoClient *c, FoMsg *m, FoRel **rels, int nrels)
{
	int			i;

	if (c->closing)
		return;
	if (fo->in_txn && !c->in_txn && fo->cur_begin != NULL)
	{
		if (fo->ntxn == fo->txn_cap)
		{
			int			cap = fo->txn_cap ? fo->txn_cap * 2 : 16;
			FoClient  **n = realloc(fo->txn_clients, sizeof(FoClient *) * cap);

			if (n == NULL)
			{
				cull(fo, c, CP_ERR_INTERNAL, "out of memory");
				return;
			}
			fo->txn_clients = n;
			fo->txn_cap = cap;
		}
		if (!enqueue(fo, c, fo->cur_begin))
			return;
		c->in_txn = true;
		fo->txn_clients[fo->ntxn++] = c;
	}
	for (i = 0; i < nrels; i++)
		if (!ensure_relsent(fo, c, rels[i]))
			return;
	enqueue(fo, c, m);
}

/*
 * A truncate names every table of the statement; the client gets the
 * relation messages of the ones its subscriptions cover only.
 */
static void
deliver_truncate(Fanout *fo, FoClient *c, FoMsg *m, FoRel **rels, int nrels,
				 uint32_t bit)
{
	FoRel	  **mine = malloc(sizeof(FoRel *) * nrels);
	int			n = 0;

	if (mine == NULL)
	{
		cull(fo, c, CP_ERR_INTERNAL, "out of memory");
		return;
	}
	for (int k = 0; k < nrels; k++)
		for (int i = 0; i < c->nsubs; i++)
			if ((c->subs[i]->ops & bit) && sub_matches_rel(c->subs[i], rels[k]))
			{
				mine[n++] = rels[k];
				break;
			}
	deliver(fo, c, m, mine, n);
	free(mine);
}

static uint32_t
op_bit(char op)
{
	switch (op)
	{
		case 'I':
			return CP_OP_INSERT;
		case 'U':
			return CP_OP_UPDATE;
		case 'D':
			return CP_OP_DELETE;
		case 'T':
			return CP_OP_TRUNCATE;
	}
	return 0;
}

/* Route m (a row change or truncate) over the matches of rels. */
static void
route_change(Fanout *fo, const char *data, size_t len, uint64_t lsn,
			 char op, FoRel **rels, int nrels)
{
	uint32_t	bit = op_bit(op);
	FoMsg	   *m = NULL;
	int			i,
				k;

	fo->route_seq++;
	for (k = 0; k < nrels; k++)
	{
		FoRel	   *r = rels[k];

		if (!rel_ensure_match(fo, r))
			continue;
		for (i = 0; i < r->nmatch; i++)
		{
			FoClient   *c = r->match[i].client;
			FoSub	   *s = r->match[i].sub;

			if (c->route_mark == fo->route_seq || c->closing ||
				!(s->ops & bit) || fo->txn_seq < s->active_from)
				continue;
			if (m == NULL && (m = fo_msg_new(data, len, op, lsn)) == NULL)
				return;
			if (!sub_filter_passes(s, m))
				continue;
			c->route_mark = fo->route_seq;
			if (nrels == 1)
				deliver(fo, c, m, rels, 1);
			else
				deliver_truncate(fo, c, m, rels, nrels, bit);
		}
	}
	fo_msg_unref(m);
}

static void
handle_relation(Fanout *fo, const char *data, size_t len, uint64_t lsn,
				StreamMsgInfo *info)
{
	FoRel	   *r = rel_lookup(fo, info->relid, true);

	if (r == NULL)
		return;
	if (r->rel_msg != NULL && r->rel_msg->len == len &&
		memcmp(r->rel_msg->payload, data, len) == 0)
		return;
	if (r->schema == NULL || strcmp(r->schema, info->schema) != 0 ||
		strcmp(r->table, info->table) != 0)
	{
		free(r->schema);
		free(r->table);
		r->schema = info->schema;
		r->table = info->table;
		info->schema = info->table = NULL;
		r->match_gen = 0;		/* renamed: patterns must be matched again */
	}
	fo_msg_unref(r->rel_msg);
	r->rel_msg = fo_msg_new(data, len, 'R', lsn);
}

static void
handle_commit(Fanout *fo, const char *data, size_t len, uint64_t lsn)
{
	FoMsg	   *m = NULL;
	int			i;

	for (i = 0; i < fo->ntxn; i++)
	{
		FoClient   *c = fo->txn_clients[i];

		c->in_txn = false;
		if (c->closing)
			continue;
		if (m == NULL && (m = fo_msg_new(data, len, 'C', lsn)) == NULL)
		{
			cull(fo, c, CP_ERR_INTERNAL, "out of memory");
			continue;
		}
		enqueue(fo, c, m);
	}
	fo_msg_unref(m);
	fo->ntxn = 0;
	fo_msg_unref(fo->cur_begin);
	fo->cur_begin = NULL;
	fo->in_txn = false;
}

bool
fanout_publish(Fanout *fo, const char *data, size_t len, uint64_t lsn)
{
	StreamMsgInfo info;
	FoRel	   *one;
	FoRel	  **rels;
	int			i,
				n;

	if (!stream_msg_classify(data, len, &info))
		return false;
	fo->msgs_published++;
	switch (info.op)
	{
		case 'B':
			/* a begin without commit cannot happen; be safe anyway */
			if (fo->in_txn)
				handle_commit(fo, "", 0, 0);
			fo->cur_begin = fo_msg_new(data, len, 'B', lsn);
			fo->in_txn = true;
			fo->txn_seq++;
			break;
		case 'C':
			handle_commit(fo, data, len, lsn);
			break;
		case 'R':
			handle_relation(fo, data, len, lsn, &info);
			break;
		case 'I':
		case 'U':
		case 'D':
			one = rel_lookup(fo, info.relid, false);
			if (one != NULL)
				route_change(fo, data, len, lsn, info.op, &one, 1);
			break;
		case 'T':
			rels = malloc(sizeof(FoRel *) * (info.nrelids > 0 ? info.nrelids : 1));
			if (rels == NULL)
				break;
			for (i = 0, n = 0; i < info.nrelids; i++)
				if ((rels[n] = rel_lookup(fo, info.relids[i], false)) != NULL)
					n++;
			route_change(fo, data, len, lsn, 'T', rels, n);
			free(rels);
			break;
		default:
			/* logical messages ('M') are not routed to clients yet */
			break;
	}
	stream_msg_info_free(&info);
	return true;
}

void
fanout_heartbeat(Fanout *fo, uint64_t lsn)
{
	size_t		len;
	char	   *text = cp_heartbeat(lsn, &len);
	FoMsg	   *m;
	FoClient   *c;

	if (text == NULL)
		return;
	m = fo_msg_new(text, len, 0, 0);
	free(text);
	if (m == NULL)
		return;
	for (c = fo->clients; c != NULL; c = c->next)
		if (!c->closing)
			enqueue(fo, c, m);
	fo_msg_unref(m);
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
