/*-------------------------------------------------------------------------
 *
 * fanout_int.h
 *	  Internals of the fan-out, shared by its layers: fanout_queue.c
 *	  (bottom), fanout_filter.c and fanout_route.c, fanout.c (top).  Not for
 *	  other modules: use fanout.h (the unit tests look inside).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_FANOUT_INT_H
#define PGSYNC_FANOUT_INT_H

#include "fanout/fanout.h"
#include "fanout/fanout_columns.h"
#include "json/json_value.h"

/*
 * A subscription's filter compiled for one version of a relation, with the
 * columns its client may read there.
 */
typedef struct FoSubFilter
{
	uint32_t	relid;
	uint64_t	rel_version;	/* FoRel.version it was compiled against */
	uint32_t	columns;		/* FoGrant.columns it was compiled for */
	struct RowFilter *filter;	/* NULL: does not compile, relation skipped */
} FoSubFilter;

/* What a subscription was last told about one relation (fanout_access.c) */
typedef struct FoSubAccess
{
	uint32_t	relid;
	bool		allowed;
} FoSubAccess;

struct FoSub
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
	FoSubAccess *access;		/* per relation met (fanout_access.c) */
	int			naccess;
	int			access_cap;
};

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

struct FoClient
{
	struct FoClient *prev,
			   *next;
	void	   *user;			/* the transport's handle (an lws wsi) */
	uint32_t	principal;		/* who it reads as (0: unrestricted) */
	int			stat_slot;		/* index in the shared status array */
	char		peer[64];
	int64_t		connected_at;	/* caller's clock, opaque here */

	FoSub	  **subs;			/* grown by fo_reserve() */
	int			nsubs;
	int			subs_cap;
	uint32_t	subs_changes;	/* subscriptions added or removed */
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
};

typedef struct FoMatch
{
	FoClient   *client;
	FoSub	   *sub;
	FoGrant		grant;			/* what client may read of the relation */
} FoMatch;

/*
 * A relation version seen through one column set (fanout_project.c): the
 * view, and the relation message projected through it.
 */
typedef struct FoRelView
{
	uint32_t	columns;		/* the column set (FoGrant.columns) */
	uint64_t	rel_version;	/* FoRel.version built for; 0: none yet */
	FoColumnView view;
	FoMsg	   *rel_msg;		/* projected (ref held), or FoRel.rel_msg
								 * itself when nothing is hidden */
} FoRelView;

/* A change of the message being routed, projected for one column set. */
typedef struct FoProjected
{
	uint32_t	columns;
	FoMsg	   *msg;			/* ref held until the routed message ends */
} FoProjected;

struct FoRel
{
	uint32_t	relid;			/* 0: free hash slot */
	char	   *schema;
	char	   *table;
	FoMsg	   *rel_msg;
	uint64_t	version;		/* unique per rel_msg (Fanout.rel_versions) */
	int		   *key_cols;		/* key column positions of that version, */
	int			nkeys;			/* set when a filter is compiled for it */
	uint64_t	match_gen;		/* sub_gen the cache was built for */
	uint64_t	access_gen;		/* fo_access_gen() it was built for */
	uint64_t	last_routed;	/* routing clock at its last change */
	FoMatch    *match;
	int			nmatch;
	int			match_cap;
	FoRelView  *views;			/* per column set met (fanout_project.c) */
	int			nviews;
	int			views_cap;
};

struct Fanout
{
	size_t		queue_limit;
	int			max_subs;		/* per client, see fanout_set_max_subs() */
	FoWantWrite want_write;
	void	   *arg;

	FoClient   *clients;
	int			nclients;

	FoRel	   *rels;			/* open addressing on relid */
	uint32_t	rel_cap;		/* power of two */
	uint32_t	nrels;

	uint64_t	sub_gen;		/* bumped on any subscription change */

	FoMsg	   *cur_begin;
	bool		in_txn;
	uint64_t	txn_seq;		/* transactions begun so far */
	uint64_t	txn_changes;	/* changes of the current one so far */
	uint64_t	last_commit;	/* commit LSN of the last one routed */
	FoClient  **txn_clients;	/* clients that got cur_begin */
	int			ntxn;
	int			txn_cap;

	bool		paced;			/* see fanout_set_paced() */
	int			nlagging;

	/* row filters (fanout_filter.c) */
	uint64_t	rel_versions;	/* relation messages seen */
	JsonDoc    *change_doc;		/* reusable arena for change messages */
	JsonDoc    *big_doc;		/* one larger change, freed after routing */
	uint64_t	parsed_seq;		/* routing clock value parsed is for */
	uint64_t	filters_idle_mark;	/* clock at the last idle release */
	const JsonValue *parsed;	/* the change being routed, or NULL */
	uint64_t	change_parses;	/* changes parsed for filters (tests) */

	/* column privileges (fanout_project.c) */
	FoProjected *projected;		/* of the message being routed */
	int			nprojected;
	int			projected_cap;
	uint64_t	change_projections; /* changes projected (tests) */
	uint64_t	relation_projections;	/* relation messages projected */

	uint64_t	msgs_sent;
	uint64_t	bytes_sent;
	uint64_t	msgs_published;
};

/* ---- fanout_queue.c ---- */

/* A message of len 0 with room for cap payload bytes (and a NUL). */
extern FoMsg *fo_msg_alloc(size_t cap, char op, uint64_t lsn);

/*
 * Queue m to c.  false when it was not queued: c is closing, lags (live
 * fan-out, m does not fit) or was culled (out of memory).
 */
/* c starts lagging; m: the message that did not fit (NULL: none). */
extern void fo_lag(Fanout *fo, FoClient *c, const FoMsg *m);
extern bool fo_enqueue(Fanout *fo, FoClient *c, FoMsg *m);

/*
 * Queue a message that must not be lost (a reply, the heartbeat joining a
 * snapshot to the stream): past the queue limit too, up to
 * FO_CONTROL_SLACK more, beyond which c is culled.  Takes over the
 * caller's reference to m (NULL: out of memory, c is culled).
 */
extern bool fo_enqueue_control(Fanout *fo, FoClient *c, FoMsg *m);

/*
 * Room for one more element in a growing array (*arr holding n of *cap,
 * each elem bytes): doubles it, from first.  On failure c is culled
 * (out of memory) and false returned.
 */
extern bool fo_reserve(Fanout *fo, FoClient *c, void **arr, int n, int *cap,
					   size_t elem, int first);

/* Drop c's queue, queue an error and close c after it. */
extern void fo_cull(Fanout *fo, FoClient *c, const char *code,
					const char *message);

/* Does m fit in c's queue (an empty queue takes any message)? */
extern bool fo_fits(Fanout *fo, FoClient *c, const FoMsg *m);

/* Drop the relation messages c holds (they are sent again if needed). */
extern void fo_relsent_clear(FoClient *c);

/* Free c's queue and relation messages (c is being freed). */
extern void fo_queue_free(FoClient *c);

/* ---- fanout_rel.c ---- */

/*
 * The routing clock: one tick per routed change, process-wide (see
 * FoClient.route_mark).  fo_route_clock_tick() advances it and returns
 * the new value.
 */
extern uint64_t fo_route_clock(void);
extern uint64_t fo_route_clock_tick(void);

/* The relation entry of relid, or NULL; with create, a new empty entry
 * (NULL only when out of memory, or for relid 0). */
extern FoRel *fo_rel_find(Fanout *fo, uint32_t relid);
extern FoRel *fo_rel_lookup(Fanout *fo, uint32_t relid, bool create);

/* Free what a relation entry owns; what one of its views holds. */
extern void fo_rel_clear(FoRel *r);
extern void fo_rel_view_clear(FoRelView *v);

/* ---- fanout_project.c ---- */

/*
 * Column privileges in routing; columns is a match's FoGrant.columns (0:
 * every column, nothing to do).
 *	fo_project_relation(): r's relation message as a client with these
 *	  columns gets it, projected once per relation version and column set.
 *	fo_project_change(): change m of r for such a client, projected once
 *	  per routed message and column set, shared by every client with that
 *	  set (m itself for a truncate, or when nothing is hidden).  The
 *	  fan-out holds it until fo_project_route_end().
 *	fo_project_mask_filter_columns(): make the hidden columns of cols (r's
 *	  description) unnameable by a row filter.
 * Each returns NULL (false) after culling c when it cannot do so (out of
 * memory, a message it cannot read): a client is never sent what its
 * columns do not allow.
 */
extern FoMsg *fo_project_relation(Fanout *fo, FoClient *c, FoRel *r,
								  uint32_t columns);
extern FoMsg *fo_project_change(Fanout *fo, FoClient *c, FoRel *r, FoMsg *m,
								uint32_t columns);
extern bool fo_project_mask_filter_columns(Fanout *fo, FoClient *c, FoRel *r,
										   uint32_t columns,
										   RowFilterColumn *cols, int ncols);
extern void fo_project_route_end(Fanout *fo);
extern void fo_project_destroy(Fanout *fo);

/* ---- fanout_access.c ---- */

/*
 * May c read r through s?  Asks the access check (unrestricted principal:
 * yes, everything), fills *grant, and tells s's client when it loses r
 * (permission_denied event).
 * fo_access_gen() changes whenever an answer may have.
 */
extern bool fo_access_allows(Fanout *fo, FoClient *c, FoSub *s, FoRel *r,
							 FoGrant *grant);
extern uint64_t fo_access_gen(void);

/* May c see change m of r, under a grant with rows set (the row check)? */
extern bool fo_row_visible(FoClient *c, FoRel *r, const FoMsg *m);
extern void fo_sub_access_free(FoSub *s);

/* ---- fanout_filter.c ---- */

/*
 * Row filters (fanout_filter.c).  fo_sub_filter_passes(): does change m of
 * relation r pass s's filter (always for no filter and for truncates)?
 * columns is what s's client may read of r (FoGrant.columns): the filter
 * is compiled with the other columns unnameable, and evaluated on m as
 * routed.  The change is parsed once per routed message, whatever the
 * number of subscriptions.  fo_filter_route_end() after each routed
 * message.
 */
extern bool fo_sub_filter_passes(Fanout *fo, FoClient *c, FoSub *s,
								 FoRel *r, uint32_t columns, const FoMsg *m);
extern void fo_filter_route_end(Fanout *fo);

/*
 * Tell c that its subscription s skips relation r from now on, for the
 * reason code says: {"type":"error","code":...,"subscription":...,
 * "table":...,"message":...} (bad_filter, permission_denied).
 */
extern void fo_table_event(Fanout *fo, FoClient *c, const FoSub *s,
						   const FoRel *r, const char *code,
						   const char *message);
extern void fo_sub_filters_free(FoSub *s);
extern void fo_filter_destroy(Fanout *fo);

#endif							/* PGSYNC_FANOUT_INT_H */
