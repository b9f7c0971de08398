/*-------------------------------------------------------------------------
 *
 * fanout.h
 *	  Pure fan-out of the change stream to WebSocket clients (no postgres.h,
 *	  no libwebsockets): routing, per-client queues bounded in bytes,
 *	  refcounted shared message buffers.
 *
 * Each message from the output plugin is copied once into a FoMsg with
 * FO_HEADROOM spare bytes before the payload (libwebsockets writes the
 * frame header there, see ws_server.c) and shared, refcounted, by every
 * client queue holding it.
 *
 * Slow clients.  In the live fan-out, a client whose queue cannot take the
 * next message (it would pass the byte limit, and the queue is not empty)
 * starts lagging: nothing more is queued to it, its queue is kept, and the
 * worker moves it to a private, paced fan-out that catches it up from the
 * durable change log, exactly from where its queue ends -- if that is in
 * the middle of a transaction, from that transaction's next change (see
 * FoClient.skip_txn) -- and back to live push at the log's end.  Decoding
 * never waits for a client, other clients are not affected, and memory
 * stays bounded by clients x limit (plus one message larger than the
 * limit, which a client gets when its queue is empty).  A paced fan-out
 * (resume, snapshot, catch-up: its feeder reads on only while the queue is
 * under half the limit) queues past the limit instead of lagging.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_FANOUT_H
#define PGSYNC_FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filter/table_pattern.h"
#include "protocol/client_protocol.h"

/* At least LWS_PRE; ws_server.c checks it at compile time. */
#define FO_HEADROOM 16

#define FO_MAX_SUBS_PER_CLIENT 32

/*
 * What one queued message costs a client, counted against its limit: the
 * payload plus the message's header, headroom, allocator overhead and ring
 * slot.  Counting the payload alone let a flood of small replies cost
 * several times what was counted.
 */
#define FO_MSG_COST(len) ((len) + 96)

typedef struct FoMsg
{
	int			refcnt;
	char		op;				/* plugin op, or 0 for control messages */
	uint32_t	len;
	uint64_t	lsn;			/* commit LSN of its transaction; for a
								 * heartbeat ('H'), the one it carries */
	unsigned char *payload;		/* = buf + FO_HEADROOM */
	unsigned char buf[];
} FoMsg;

/* A subscription's filter compiled for one version of a relation. */
typedef struct FoSubFilter
{
	uint32_t	relid;
	uint64_t	rel_version;	/* FoRel.version it was compiled against */
	struct RowFilter *filter;	/* NULL: does not compile, relation skipped */
} FoSubFilter;

typedef struct FoSub
{
	char		id[16];
	int			ntables;
	char	  **tables;
	TablePattern *patterns;
	uint32_t	ops;			/* CP_OP_* */
	char	   *filter_json;	/* filter (compact JSON), NULL for none */
	FoSubFilter *filters;		/* compiled per relation, lazily */
	int			nfilters;
	int			filters_cap;
	uint64_t	active_from;	/* first transaction sequence it sees */
} FoSub;

/*
 * A client's position: the resume point it holds once the messages counted
 * so far are written.  A commit ('C') or heartbeat ('H') message carries
 * one, except while 'awaiting': after an initial snapshot, until the
 * heartbeat that joins the client to the stream (worker_serve_snapshot.c), no
 * commit is a resume point.  Positions never go backwards.
 */
typedef struct FoPosition
{
	uint64_t	lsn;
	bool		awaiting;
} FoPosition;

typedef struct FoRelSent
{
	uint32_t	relid;
	FoMsg	   *rel_msg;		/* relation message last queued (ref held) */
} FoRelSent;

typedef struct FoClient
{
	struct FoClient *prev,
			   *next;
	void	   *user;			/* the transport's handle (an lws wsi) */
	int			stat_slot;		/* index in the shared status array */
	char		peer[64];
	int64_t		connected_at;	/* caller's clock, opaque here */

	FoSub	   *subs[FO_MAX_SUBS_PER_CLIENT];
	int			nsubs;
	uint32_t	next_sub_id;

	/* send queue: a ring of message pointers */
	FoMsg	  **ring;
	uint32_t	ring_cap;		/* power of two */
	uint32_t	ring_head;
	uint32_t	ring_count;
	size_t		queued_bytes;	/* what the queue costs: FO_MSG_COST each */
	size_t		sent_off;		/* bytes of the head message written */

	bool		in_txn;			/* got the current transaction's begin */
	bool		closing;		/* close once the queue is flushed */
	bool		culled;

	/*
	 * Catch-up.  lagging: the live fan-out queues nothing more to it; the
	 * worker is to catch it up from the log, reading after catchup_after.
	 * skip_txn/skip_changes: its queue ends inside the transaction with that
	 * commit LSN, after that transaction's skip_changes-th change; the
	 * catch-up leaves out those changes (and the begin, if in_txn).
	 */
	bool		lagging;
	uint64_t	catchup_after;
	uint64_t	skip_txn;
	uint64_t	skip_changes;

	FoRelSent  *relsent;
	int			nrelsent;
	int			relsent_cap;

	struct Fanout *home;		/* the fan-out whose list holds it: every
								 * request of the client acts on it */
	uint64_t	resume_after;	/* skip transactions with commit LSN <= this */

	/*
	 * The routing clock's value when the last message was delivered to it
	 * (dedupe within one routed message).  The clock is process-wide, not
	 * per fan-out, so a mark means the same in every fan-out a client moves
	 * through.
	 */
	uint64_t	route_mark;
	FoPosition	sent;			/* position of what was written */
	FoPosition	queued;			/* position once the queue is written */
	uint64_t	msgs_sent;
	uint64_t	bytes_sent;
} FoClient;

typedef struct FoRel FoRel;
typedef struct Fanout Fanout;

/* Called when a client has something to write (ask for a writable cb). */
typedef void (*FoWantWrite) (FoClient *client, void *arg);

extern Fanout *fanout_create(size_t queue_limit, FoWantWrite want_write,
							 void *arg);
extern void fanout_destroy(Fanout *fo);
extern void fanout_set_queue_limit(Fanout *fo, size_t queue_limit);
extern void fanout_set_want_write(Fanout *fo, FoWantWrite want_write,
								  void *arg);

extern FoClient *fanout_client_add(Fanout *fo, void *user);

/* Remove c from the fan-out that holds it (fo may be another one). */
extern void fanout_client_remove(Fanout *fo, FoClient *c);

/*
 * Move c, with its subscriptions and queue, to another fan-out, at a
 * transaction boundary of both: its subscriptions become active with the
 * destination's next transaction.  Used to replay the change log to a
 * resuming client through a private fan-out, then join the live one.
 */
extern void fanout_client_move(Fanout *to, FoClient *c);

/* The callback and argument given to fanout_create/set_want_write. */
extern FoWantWrite fanout_want_write(Fanout *fo, void **arg);
extern size_t fanout_queue_limit(Fanout *fo);
extern FoClient *fanout_first_client(Fanout *fo);
extern int	fanout_client_count(Fanout *fo);

/*
 * Subscribe with a parsed request, in the fan-out that holds c (ownership
 * of tables, patterns and filter_json moves to the subscription; req
 * fields are cleared).  The subscription starts with that fan-out's next
 * transaction.  Returns the subscription or NULL with *code set.
 */
extern FoSub *fanout_subscribe(FoClient *c, ClientRequest *req,
							   const char **code);

/*
 * Unsubscribe at once, in the fan-out that holds c: nothing more of the
 * subscription is queued, even in the transaction being routed (its
 * commit still comes if the client got its begin).
 */
extern bool fanout_unsubscribe(FoClient *c, const char *sub_id);

/*
 * Positions.  fanout_client_start_at(): the client starts at resume point
 * lsn (a resume_lsn it asked for, or the position of its first
 * subscription); positions given to it later are never lower.
 * fanout_client_await_join(): no resume point until the next heartbeat.
 * fanout_client_position(): the position it will hold once its queue is
 * written (what an error closing it carries).
 */
extern void fanout_client_start_at(FoClient *c, uint64_t lsn);
extern void fanout_client_await_join(FoClient *c);
extern uint64_t fanout_client_position(const FoClient *c);

/* Describe a client's subscriptions ("s1:public.t,app.*;s2:...") */
extern void fanout_describe_subs(FoClient *c, char *out, size_t outsize);

/*
 * Queue a private (control) message for one client: past the queue limit
 * too (it must not be lost; in the live fan-out the client then lags), up
 * to FO_CONTROL_SLACK more, beyond which the client is culled (it sends
 * requests and reads no replies).  false if culled.
 */
#define FO_CONTROL_SLACK (256 * 1024)
extern bool fanout_send_private(Fanout *fo, FoClient *c, const char *data,
								size_t len);

/* Queue an error and close the client once it is written. */
extern void fanout_close_with_error(Fanout *fo, FoClient *c, const char *code,
									const char *message);

/*
 * Route one message of the output plugin (compact format).  lsn is the
 * write location the plugin gave (end LSN for a commit).  Returns false
 * when the message could not be classified (it is then dropped).
 */
extern bool fanout_publish(Fanout *fo, const char *data, size_t len,
						   uint64_t lsn);

/* Are we between a begin and its commit? */
extern bool fanout_in_transaction(Fanout *fo);

/*
 * Queue a heartbeat to every subscribed client whose position is not past
 * lsn (a client that resumed beyond it keeps its own, higher, position).
 */
extern void fanout_heartbeat(Fanout *fo, uint64_t lsn);

/*
 * Queue to c the heartbeat that joins it to the stream after an initial
 * snapshot: {"type":"heartbeat","lsn":...,"snapshot_joined":sub_id}.
 */
extern void fanout_heartbeat_join(Fanout *fo, FoClient *c, uint64_t lsn,
								  const char *sub_id);

/*
 * Sending.  fanout_peek gives the head message and how much of it was
 * written; fanout_advance records n more bytes written (popping the
 * message when complete).  Returns false when the queue is empty.
 */
extern bool fanout_peek(FoClient *c, FoMsg **msg, size_t *off);
extern void fanout_advance(Fanout *fo, FoClient *c, size_t n);

/*
 * Catch-up.  fanout_set_paced(): fo is fed by a replay that paces itself
 * (queues past the limit rather than lagging).  fanout_take_lagging():
 * call fn for each lagging client of fo (fn must move it out of fo);
 * fanout_lagging_count() is 0 when there is nothing to take.
 */
extern void fanout_set_paced(Fanout *fo);
extern int	fanout_lagging_count(Fanout *fo);
extern void fanout_take_lagging(Fanout *fo,
								void (*fn) (FoClient *c, void *arg),
								void *arg);

/*
 * Free the compiled row filters of relations that had no change routed
 * since the previous call (dropped tables, idle ones); compiled again if a
 * change comes.  Call periodically.
 */
extern void fanout_release_idle_filters(Fanout *fo);

/* Totals since start. */
extern uint64_t fanout_msgs_sent(Fanout *fo);
extern uint64_t fanout_bytes_sent(Fanout *fo);
extern uint64_t fanout_msgs_published(Fanout *fo);

extern FoMsg *fo_msg_new(const char *data, size_t len, char op, uint64_t lsn);
extern void fo_msg_unref(FoMsg *m);

#endif							/* PGSYNC_FANOUT_H */
