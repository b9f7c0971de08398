/*-------------------------------------------------------------------------
 *
 * fanout_int.h
 *	  Internals shared by fanout.c (queues, clients) and fanout_route.c
 *	  (routing).  Not for other modules: use fanout.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_FANOUT_INT_H
#define PGSYNC_FANOUT_INT_H

#include "fanout/fanout.h"
#include "json/json_value.h"

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
	uint64_t	version;		/* unique per rel_msg (Fanout.rel_versions) */
	int		   *key_cols;		/* key column positions of that version, */
	int			nkeys;			/* set when a filter is compiled for it */
	uint64_t	match_gen;		/* sub_gen the cache was built for */
	uint64_t	last_routed;	/* routing clock at its last change */
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

	uint64_t	msgs_sent;
	uint64_t	bytes_sent;
	uint64_t	msgs_published;
};

/*
 * Queue m to c.  false when it was not queued: c is closing, lags (live
 * fan-out, m does not fit) or was culled (out of memory).
 */
extern bool fo_enqueue(Fanout *fo, FoClient *c, FoMsg *m);

/* Drop c's queue, queue an error and close c after it. */
extern void fo_cull(Fanout *fo, FoClient *c, const char *code,
					const char *message);

/*
 * The routing clock: one tick per routed change, process-wide (see
 * FoClient.route_mark).
 */
extern uint64_t fo_route_clock(void);

/* The relation entry of relid, or NULL. */
extern FoRel *fo_rel_find(Fanout *fo, uint32_t relid);

/* Free what a relation entry owns. */
extern void fo_rel_clear(FoRel *r);

/*
 * Row filters (fanout_filter.c).  fo_sub_filter_passes(): does change m of
 * relation r pass s's filter (always for no filter and for truncates)?
 * The change is parsed once per routed message, whatever the number of
 * subscriptions.  fo_filter_route_end() after each routed message.
 */
extern bool fo_sub_filter_passes(Fanout *fo, FoClient *c, FoSub *s,
								 FoRel *r, const FoMsg *m);
extern void fo_filter_route_end(Fanout *fo);
extern void fo_sub_filters_free(FoSub *s);
extern void fo_filter_destroy(Fanout *fo);

#endif							/* PGSYNC_FANOUT_INT_H */
