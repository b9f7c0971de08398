/*-------------------------------------------------------------------------
 *
 * fanout.c
 *	  Pure fan-out, top layer: the front door of fanout.h.  Fan-outs,
 *	  clients and their subscriptions, replies, heartbeats, totals.
 *
 * Layers, each calling only those below it:
 *	  fanout.c			this file: fan-outs, clients, subscriptions, replies
 *	  fanout_route.c	routing of plugin messages (fanout_publish)
 *	  fanout_filter.c	row filters of subscriptions
 *	  fanout_project.c	column privileges: projected relation messages
 *						and changes
 *	  fanout_rel.c		the relation table, the routing clock
 *	  fanout_queue.c	messages, client queues, positions, lagging, culling
 * FoClient is opaque outside fanout/: other modules use the accessors.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/fanout.h"
#include "fanout/fanout_int.h"
#include "json/json_encode.h"

Fanout *
fanout_create(size_t queue_limit, FoWantWrite want_write, void *arg)
{
	Fanout	   *fo = calloc(1, sizeof(Fanout));

	if (fo == NULL)
		return NULL;
	fo->queue_limit = queue_limit;
	fo->max_subs = FO_DEFAULT_MAX_SUBS;
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
fanout_set_max_subs(Fanout *fo, int max_subs)
{
	fo->max_subs = max_subs > 0 ? max_subs : 1;
}

int
fanout_max_subs(Fanout *fo)
{
	return fo->max_subs;
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
	fo_project_destroy(fo);
	free(fo);
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
	fo_sub_access_free(s);
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
	int			i;

	(void) fo;
	client_unlink(c);
	fo_queue_free(c);
	for (i = 0; i < c->nsubs; i++)
		sub_free(c->subs[i]);
	free(c->subs);
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

	/* >=: a lowered limit leaves a client above it, with what it holds */
	if (c->nsubs >= fo->max_subs)
	{
		*code = CP_ERR_TOO_MANY_SUBS;
		return NULL;
	}
	if (!fo_reserve(fo, c, (void **) &c->subs, c->nsubs, &c->subs_cap,
					sizeof(FoSub *), 4) ||
		(s = calloc(1, sizeof(FoSub))) == NULL)
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
	c->subs_changes++;
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
		c->subs_changes++;
		fo->sub_gen++;
		return true;
	}
	return false;
}

uint32_t
fanout_client_subs_changes(const FoClient *c)
{
	return c->subs_changes;
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
			lsn >= c->queued.lsn && fo_fits(fo, c, m))
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
	fo_enqueue_control(fo, c, heartbeat_msg(lsn, sub_id));
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

/* ----------------------------------------------------------------
 * A client, read from outside (FoClient is opaque there)
 * ----------------------------------------------------------------
 */

FoClient *
fanout_next_client(const FoClient *c)
{
	return c->next;
}

void *
fanout_client_user(const FoClient *c)
{
	return c->user;
}

bool
fanout_client_closing(const FoClient *c)
{
	return c->closing;
}

Fanout *
fanout_client_home(const FoClient *c)
{
	return c->home;
}

int
fanout_client_nsubs(const FoClient *c)
{
	return c->nsubs;
}

size_t
fanout_client_queued_bytes(const FoClient *c)
{
	return c->queued_bytes;
}

void
fanout_client_set_peer(FoClient *c, const char *peer, int64_t connected_at)
{
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->connected_at = connected_at;
}

const char *
fanout_client_peer(const FoClient *c)
{
	return c->peer;
}

int64_t
fanout_client_connected_at(const FoClient *c)
{
	return c->connected_at;
}

void
fanout_client_set_stat_slot(FoClient *c, int slot)
{
	c->stat_slot = slot;
}

int
fanout_client_stat_slot(const FoClient *c)
{
	return c->stat_slot;
}

uint64_t
fanout_client_sent_position(const FoClient *c)
{
	return c->sent.lsn;
}

uint64_t
fanout_client_msgs_sent(const FoClient *c)
{
	return c->msgs_sent;
}

uint64_t
fanout_client_bytes_sent(const FoClient *c)
{
	return c->bytes_sent;
}

void
fanout_client_set_resume_after(FoClient *c, uint64_t lsn)
{
	c->resume_after = lsn;
}

uint64_t
fanout_client_catchup_after(const FoClient *c)
{
	return c->catchup_after;
}

const char *
fanout_sub_id(const FoSub *s)
{
	return s->id;
}

/* ----------------------------------------------------------------
 * Replies
 * ----------------------------------------------------------------
 */

void
fanout_reply_text(FoClient *c, char *text, size_t len)
{
	if (text == NULL)
		return;
	fanout_send_private(c->home, c, text, len);
	free(text);
}

void
fanout_reply(FoClient *c, const char *id_json, const char *subscription,
			 const char *code, const char *message)
{
	size_t		len = 0;
	char	   *text;

	if (code == NULL)
		text = cp_reply_ok(id_json, subscription, NULL, &len);
	else
		text = cp_reply_error(id_json, code, message, NULL, &len);
	fanout_reply_text(c, text, len);
}

void
fanout_reply_positioned(FoClient *c, const char *id_json,
						const char *subscription, bool has_position,
						uint64_t resume_lsn)
{
	char		lsn[JSON_LSN_MAXLEN + 3];
	size_t		len = 0;
	char	   *text;

	if (has_position)
	{
		lsn[0] = '"';
		len = 1 + json_lsn(lsn + 1, resume_lsn);
		lsn[len++] = '"';
		lsn[len] = '\0';
	}
	else
		strcpy(lsn, "null");
	text = cp_reply_ok(id_json, subscription, lsn, &len);
	fanout_reply_text(c, text, len);
}
