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

/*
 * Subscriptions a client may hold, unless fanout_set_max_subs() says
 * otherwise (pgsync.max_subscriptions_per_client).
 */
#define FO_DEFAULT_MAX_SUBS 32

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

/* A client of a fan-out, and one of its subscriptions: opaque. */
typedef struct FoClient FoClient;
typedef struct FoSub FoSub;

typedef struct FoRel FoRel;
typedef struct Fanout Fanout;

/* Called when a client has something to write (ask for a writable cb). */
typedef void (*FoWantWrite) (FoClient *client, void *arg);

extern Fanout *fanout_create(size_t queue_limit, FoWantWrite want_write,
							 void *arg);
extern void fanout_destroy(Fanout *fo);
extern void fanout_set_queue_limit(Fanout *fo, size_t queue_limit);

/*
 * The most subscriptions a client of fo may hold (at least 1).  Lowering
 * it keeps the subscriptions clients already hold: it only refuses new
 * ones.
 */
extern void fanout_set_max_subs(Fanout *fo, int max_subs);
extern int	fanout_max_subs(Fanout *fo);
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
 * transaction.  Returns the subscription or NULL with *code set:
 * CP_ERR_TOO_MANY_SUBS when c already holds fanout_max_subs() of that
 * fan-out, CP_ERR_INTERNAL when out of memory.
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

/*
 * A client, read from outside the fan-out.  fanout_client_user(): the
 * transport's handle given to fanout_client_add().  closing: an error or
 * bye is queued, the connection closes once it is written.  home: the
 * fan-out whose list holds it (live, or a private replay).
 */
extern FoClient *fanout_next_client(const FoClient *c);
extern void *fanout_client_user(const FoClient *c);
extern bool fanout_client_closing(const FoClient *c);
extern Fanout *fanout_client_home(const FoClient *c);
extern int	fanout_client_nsubs(const FoClient *c);
extern size_t fanout_client_queued_bytes(const FoClient *c);

/* What pgsync.clients shows (the status slot is the transport's). */
extern void fanout_client_set_peer(FoClient *c, const char *peer,
								   int64_t connected_at);
extern const char *fanout_client_peer(const FoClient *c);
extern int64_t fanout_client_connected_at(const FoClient *c);
extern void fanout_client_set_stat_slot(FoClient *c, int slot);
extern int	fanout_client_stat_slot(const FoClient *c);
extern uint64_t fanout_client_sent_position(const FoClient *c);
extern uint64_t fanout_client_msgs_sent(const FoClient *c);
extern uint64_t fanout_client_bytes_sent(const FoClient *c);

/*
 * Replays.  fanout_client_set_resume_after(): live routing skips every
 * transaction with a commit LSN at or below lsn (what a replay already
 * gave the client).  fanout_client_catchup_after(): where a lagging
 * client's catch-up reads the log from.
 */
extern void fanout_client_set_resume_after(FoClient *c, uint64_t lsn);
extern uint64_t fanout_client_catchup_after(const FoClient *c);

extern const char *fanout_sub_id(const FoSub *s);

/*
 * Replies to a client's request, queued in the fan-out that holds it
 * (fanout_send_private).  fanout_reply(): ok (code NULL, with the
 * subscription id if any) or an error with code and message.
 * fanout_reply_positioned(): ok with a resume_lsn (null without
 * has_position).  fanout_reply_text(): a reply built by client_protocol.h,
 * freed here (NULL: nothing is sent).
 */
extern void fanout_reply(FoClient *c, const char *id_json,
						 const char *subscription, const char *code,
						 const char *message);
extern void fanout_reply_positioned(FoClient *c, const char *id_json,
									const char *subscription,
									bool has_position, uint64_t resume_lsn);
extern void fanout_reply_text(FoClient *c, char *text, size_t len);

/* Counts the subscriptions added and removed: their description changed. */
extern uint32_t fanout_client_subs_changes(const FoClient *c);

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

/* A table by name, as its relation message gives it. */
typedef struct FanoutTableName
{
	const char *schema;
	const char *table;
} FanoutTableName;

/*
 * A transaction that is not routed live (one decoded while in progress,
 * in the log as an out-of-line unit) touches tables: every live client
 * with a subscription whose patterns name one of them starts lagging,
 * between transactions, so that it gets the transaction from the log (and,
 * from there, those after it); the others just do not get it.  By name,
 * not through the relation table: the transaction's relation messages are
 * not the fan-out's to know (they describe the tables as of inside it),
 * and a client lagged for nothing (no access, a filter) only reads the
 * log to its end.  Call between transactions, before routing the
 * transaction's begin and commit.  Returns how many clients it moved to
 * catch-up.
 */
extern int	fanout_lag_subscribers(Fanout *fo, const FanoutTableName *tables,
								   int ntables);

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
 * Authorization (fanout_access.c).  A client's principal is who it reads
 * as, an id the transport and worker give it (0: no restriction).  The
 * access check, one per process, says what a principal may read of a
 * relation (FoGrant); it is asked when a relation's matches are built,
 * not per change, and for every relation again after
 * fanout_access_changed().  A subscription that loses a relation, or
 * names one literally that it may not read, gets a permission_denied
 * event naming the table; a table that only a wildcard meets and was
 * never readable is skipped silently.
 */
typedef struct FoGrant
{
	bool		readable;		/* false: the relation is skipped */
	uint32_t	columns;		/* 0: every column; else the id of the
								 * column set it may read (column
								 * privileges, fanout_columns.h) */
	bool		rows;			/* a row policy decides each change (RLS) */
} FoGrant;

typedef void (*FoAccessCheck) (uint32_t principal, uint32_t relid,
							   FoGrant *grant, void *arg);
extern void fanout_set_access_check(FoAccessCheck fn, void *arg);

/*
 * The row check, for grants with rows set: may principal see change (of
 * relation relid, described by rel_msg)?  Asked at most once per routed
 * change (tick: the routing clock, the same for one change) and principal.
 */
typedef bool (*FoRowCheck) (uint32_t principal, uint32_t relid,
							const FoMsg *rel_msg, const FoMsg *change,
							uint64_t tick, void *arg);
extern void fanout_set_row_check(FoRowCheck fn, void *arg);
extern void fanout_access_changed(void);
extern void fanout_client_set_principal(FoClient *c, uint32_t principal);
extern uint32_t fanout_client_principal(const FoClient *c);

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
