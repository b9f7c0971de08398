/*-------------------------------------------------------------------------
 *
 * worker_resume.c
 *	  Resume: replay the change log to a client, then hand it to live push.
 *
 * A client that subscribes with "resume_lsn" L is moved to a private
 * fan-out of its own, holding only it, and the change log is read from L
 * into that fan-out: the same routing code as live push (subscriptions,
 * row filters, relation messages, begin/commit around the transactions it
 * gets), fed from disk as fast as the client's queue drains.  When the
 * reader reaches the end of the log, between two transactions, the client
 * moves to the live fan-out: every later transaction is appended to the log
 * and routed live at the same moment, so nothing falls between the two
 * and nothing comes twice.  resume_after also keeps out transactions the
 * client already has if they are decoded again after a crash.
 *
 * The private fan-out learns the relation messages in effect at L from the
 * start of L's segment (the writer puts them there, see worker_changelog.c).
 *
 * Catch-up is the same replay without a disconnect: a live client whose
 * queue filled up (fanout.h, "Slow clients") is moved to a private fan-out
 * reading the log from where its queue ends, maybe in the middle of a
 * transaction, and back to live push at the log's end.  It is cut off, as
 * slow_consumer with its resume point, only if the log no longer holds its
 * position (retention) or it falls pgsync.max_client_lag behind.
 *
 * Every private fan-out is paced: a replay feeds a client while its queue
 * is under half of pgsync.client_queue_bytes, and a record larger than
 * the room left waits for the queue to empty.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "guc.h"
#include "json/json_encode.h"
#include "log/change_log.h"
#include "protocol/snapshot_file.h"
#include "worker/worker_changelog.h"
#include "worker/worker_follow.h"
#include "worker/worker_decode.h"
#include "worker/worker_resume.h"

/* Records replayed to one client per step, at most. */
#define RESUME_STEP_RECORDS 2000

typedef struct Replay
{
	struct Replay *next;
	Fanout	   *priv;			/* holds the client while it replays */
	ChangeLogReader *reader;
	uint64		resume_lsn;
	/* after an initial snapshot: leave out the transactions it saw */
	bool		has_snapshot;
	uint64		snapshot_lsn;	/* every transaction it saw committed before */
	SnapshotInfo snapshot;		/* xip points to xip_copy */
	uint64_t   *xip_copy;
	bool		skip_unit;		/* the current transaction is in it */
	char		sub_id[16];		/* the snapshot's subscription */
	bool		catch_up;		/* a lagging live client, not a resume */
	bool		held;			/* held_rec waits for room in the queue */
	ChangeLogRecord	held_rec;		/* valid until the reader reads on */
} Replay;

static Replay *replays = NULL;
static int	nreplays = 0;

void
resume_foreach_client(void (*fn) (FoClient *, const char *), const char *arg)
{
	Replay	   *r;

	for (r = replays; r != NULL; r = r->next)
	{
		FoClient   *c = fanout_first_client(r->priv);

		if (c != NULL)
			fn(c, r->catch_up ? "catching up from the change log" : arg);
	}
}

int
resume_count(void)
{
	return nreplays;
}

static void
reply_error_lsn(FoClient *c, const char *id_json, const char *code,
				const char *message, const char *field, uint64 lsn)
{
	char		buf[JSON_LSN_MAXLEN + 1];
	size_t		len = 0;
	char	   *text;

	buf[json_lsn(buf, lsn)] = '\0';
	text = cp_reply_error_lsn(id_json, code, message, field, buf, &len);
	fanout_reply_text(c, text, len);
}

/* A paced fan-out for one client, writing like the live one. */
static Fanout *
private_fanout(Fanout *live)
{
	void	   *arg;
	FoWantWrite want_write = fanout_want_write(live, &arg);
	Fanout	   *priv = fanout_create(fanout_queue_limit(live), want_write, arg);

	if (priv != NULL)
	{
		fanout_set_paced(priv);
		fanout_set_max_subs(priv, fanout_max_subs(live));
	}
	return priv;
}

Fanout *
resume_private_subscribe(Fanout *live, FoClient *c, ClientRequest *req,
						 const char **sub_id)
{
	Fanout	   *priv;
	const char *code = NULL;
	FoSub	   *sub;

	if ((priv = private_fanout(live)) == NULL)
	{
		fanout_reply(c, req->id_json, NULL, CP_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	fanout_client_move(priv, c);
	sub = fanout_subscribe(c, req, &code);
	if (sub == NULL)
	{
		fanout_client_move(live, c);
		fanout_destroy(priv);
		fanout_reply(c, req->id_json, NULL, code, "cannot subscribe");
		return NULL;
	}
	*sub_id = fanout_sub_id(sub);
	return priv;
}

void
resume_start(Fanout *live, FoClient *c, ClientRequest *req)
{
	ChangeLog  *log = worker_changelog();
	Replay	   *r;
	ChangeLogStatus	st;
	const char *sub_id;

	if (fanout_client_nsubs(c) > 0 || fanout_client_home(c) != live)
	{
		fanout_reply(c, req->id_json, NULL, CP_ERR_RESUME_CONFLICT,
						"resume_lsn is only allowed in a connection's first subscription");
		return;
	}
	if (log == NULL)
	{
		fanout_reply(c, req->id_json, NULL, CP_ERR_INTERNAL,
						"the change log is not open yet: retry");
		return;
	}
	r = calloc(1, sizeof(Replay));
	if (r == NULL)
	{
		fanout_reply(c, req->id_json, NULL, CP_ERR_INTERNAL, "out of memory");
		return;
	}
	r->reader = changelog_reader_open(log, req->resume_lsn, &st);
	if (r->reader == NULL)
	{
		free(r);
		if (st == CHANGELOG_TOO_OLD)
			reply_error_lsn(c, req->id_json, CP_ERR_RESUME_TOO_OLD,
							"resume_lsn is older than the change log retains; resubscribe from oldest_lsn or reload the data",
							"oldest_lsn", changelog_oldest_resume_key(log));
		else
			fanout_reply(c, req->id_json, NULL, CP_ERR_INTERNAL,
							"cannot read the change log");
		return;
	}
	r->priv = resume_private_subscribe(live, c, req, &sub_id);
	if (r->priv == NULL)
	{
		changelog_reader_close(r->reader);
		free(r);
		return;
	}
	r->resume_lsn = req->resume_lsn;
	fanout_client_set_resume_after(c, req->resume_lsn);
	fanout_client_start_at(c, req->resume_lsn);
	fanout_reply_positioned(c, req->id_json, sub_id, true, req->resume_lsn);
	r->next = replays;
	replays = r;
	nreplays++;
}

bool
resume_after_snapshot(Fanout *priv, FoClient *c, const char *sub_id,
					  uint64 after, const SnapshotInfo *snapshot,
					  uint64 snapshot_lsn)
{
	Replay	   *r = calloc(1, sizeof(Replay));
	ChangeLogStatus	st;

	if (r == NULL || worker_changelog() == NULL)
	{
		free(r);
		return false;
	}
	r->reader = changelog_reader_open(worker_changelog(), after, &st);
	if (r->reader == NULL)
	{
		free(r);
		return false;
	}
	r->priv = priv;
	r->resume_lsn = after;
	r->has_snapshot = true;
	r->snapshot_lsn = snapshot_lsn;
	r->snapshot = *snapshot;
	r->xip_copy = malloc(sizeof(uint64_t) * Max(snapshot->nxip, 1));
	if (r->xip_copy == NULL)
	{
		changelog_reader_close(r->reader);
		free(r);
		return false;
	}
	memcpy(r->xip_copy, snapshot->xip, sizeof(uint64_t) * snapshot->nxip);
	r->snapshot.xip = r->xip_copy;
	strlcpy(r->sub_id, sub_id, sizeof(r->sub_id));
	fanout_client_set_resume_after(c, after);
	fanout_client_await_join(c);	/* no resume point until it joins */
	r->next = replays;
	replays = r;
	nreplays++;
	return true;
}

/* Start catching up one lagging client of the live fan-out. */
static void
catch_up_one(FoClient *c, void *arg)
{
	Fanout	   *live = (Fanout *) arg;
	ChangeLog  *log = worker_changelog();
	ChangeLogStatus	st = CHANGELOG_ERROR;
	Replay	   *r = calloc(1, sizeof(Replay));

	if (r != NULL && log != NULL)
		r->reader = changelog_reader_open(log, fanout_client_catchup_after(c), &st);
	if (r == NULL || r->reader == NULL || (r->priv = private_fanout(live)) == NULL)
	{
		if (r != NULL && r->reader != NULL)
			changelog_reader_close(r->reader);
		free(r);
		fanout_close_with_error(live, c, CP_ERR_SLOW_CONSUMER,
								st == CHANGELOG_TOO_OLD ?
								"fell behind the change log's retention" :
								"send queue limit (pgsync.client_queue_bytes) exceeded and the change log cannot be read");
		return;
	}
	fanout_client_set_resume_after(c, fanout_client_catchup_after(c));
	r->resume_lsn = fanout_client_catchup_after(c);
	r->catch_up = true;
	fanout_client_move(r->priv, c);
	r->next = replays;
	replays = r;
	nreplays++;
}

void
resume_catch_up_lagging(Fanout *live)
{
	Assert(!fanout_in_transaction(live));
	fanout_take_lagging(live, catch_up_one, live);
}

static void
replay_free(Replay *r)
{
	free(r->xip_copy);
	changelog_reader_close(r->reader);
	fanout_destroy(r->priv);
	free(r);
	nreplays--;
}

/*
 * Replay to one client.  Returns true when the replay is over (the client
 * joined the live fan-out, or left).
 */
static bool
replay_one(Fanout *live, Replay *r)
{
	FoClient   *c = fanout_first_client(r->priv);
	size_t		limit = fanout_queue_limit(live) / 2;
	int			n;

	if (c == NULL)
		return true;			/* the client disconnected */
	if (fanout_client_closing(c))
		return false;			/* error queued; wait for it to go */
	if (fanout_client_nsubs(c) == 0 && !fanout_in_transaction(r->priv))
	{
		/*
		 * It unsubscribed: nothing to replay, its next requests go live.
		 * In the middle of a transaction whose begin it got, the rest is
		 * read first (routing nothing) so that its commit still comes.
		 */
		fanout_client_set_resume_after(c, Max(r->resume_lsn, changelog_reader_position(r->reader)));
		fanout_client_move(live, c);
		return true;
	}
	if (r->catch_up && pgsync_max_client_lag_mb > 0 &&
		worker_changelog_last_key() > changelog_reader_position(r->reader) +
		(uint64) pgsync_max_client_lag_mb * 1024 * 1024)
	{
		fanout_close_with_error(r->priv, c, CP_ERR_SLOW_CONSUMER,
								"fell pgsync.max_client_lag behind the change log");
		return false;
	}
	for (n = 0; n < RESUME_STEP_RECORDS && fanout_client_queued_bytes(c) < limit; n++)
	{
		ChangeLogRecord	rec;
		ChangeLogStatus	st;

		if (r->held)
		{
			rec = r->held_rec;
			st = CHANGELOG_OK;
			r->held = false;
		}
		else
			st = changelog_read(r->reader, &rec);

		if (st == CHANGELOG_OK && fanout_client_queued_bytes(c) > 0 &&
			fanout_client_queued_bytes(c) + FO_MSG_COST(rec.len) > fanout_queue_limit(live))
		{
			/* a large record: when the queue has room for it */
			r->held = true;
			r->held_rec = rec;
			return false;
		}
		if (st == CHANGELOG_OK)
		{
			if (r->has_snapshot && !rec.before_resume && rec.kind == 'B')
				r->skip_unit = snapshot_xid32_visible(&r->snapshot,
													  worker_changelog_message_xid(rec.data, rec.len));
			/* a transaction the snapshot saw: only its relation messages */
			if (r->skip_unit && !rec.before_resume && rec.kind != 'R')
				continue;
			fanout_publish(r->priv, rec.data, rec.len, rec.key);
			continue;
		}
		if (st == CHANGELOG_END)
		{
			/*
			 * After a snapshot, go live only once decoding has passed the
			 * snapshot's LSN: a transaction the snapshot saw but not decoded
			 * yet must still meet the xid filter, here.
			 */
			if (r->has_snapshot && routed_position() < r->snapshot_lsn)
				return false;
			/* caught up, at a transaction boundary: go live */
			fanout_client_set_resume_after(c, Max(r->resume_lsn,
								  changelog_reader_position(r->reader)));
			fanout_client_move(live, c);
			if (r->has_snapshot)
				fanout_heartbeat_join(live, c, worker_changelog_last_key(), r->sub_id);
			return true;
		}
		fanout_close_with_error(r->priv, c,
								st == CHANGELOG_TOO_OLD ? CP_ERR_RESUME_TOO_OLD : CP_ERR_INTERNAL,
								st == CHANGELOG_TOO_OLD ?
								"the change log was trimmed past this client while it replayed" :
								"cannot read the change log");
		return false;
	}
	return false;
}

void
resume_step(Fanout *live)
{
	Replay	  **link = &replays;

	Assert(!fanout_in_transaction(live));
	while (*link != NULL)
	{
		Replay	   *r = *link;

		if (replay_one(live, r))
		{
			*link = r->next;
			replay_free(r);
		}
		else
			link = &r->next;
	}
}
