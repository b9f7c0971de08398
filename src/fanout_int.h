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

#include "fanout.h"

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

/* Queue m to c; culls c (and returns false) when over its limit. */
extern bool fo_enqueue(Fanout *fo, FoClient *c, FoMsg *m);

/* Drop c's queue, queue an error and close c after it. */
extern void fo_cull(Fanout *fo, FoClient *c, const char *code,
					const char *message);

/* Free what a relation entry owns. */
extern void fo_rel_clear(FoRel *r);

#endif							/* PGSYNC_FANOUT_INT_H */
