/*-------------------------------------------------------------------------
 *
 * rate_limit.h
 *	  Pure request rate limit of one connection (pgsync.max_requests_per_
 *	  second): a token bucket, a flood meter, and when to tell the client.
 *	  No postgres.h, no clock: the caller passes the time.
 *
 * Vocabulary.  The *rate* r is the requests per second a connection may
 * send on average.  The *bucket* holds up to RATE_BURST_SECONDS x r
 * requests and refills at r per second; a request takes one, and a request
 * finding it empty is *refused* (dropped unanswered).  The *flood meter*
 * fills by one per request, refused or not, and drains at
 * RATE_FLOOD_FACTOR x r per second; a request that brings it past
 * RATE_FLOOD_FACTOR x r (one second of that rate) closes the connection.
 * So a client at twice the rate is throttled for as long as it keeps at
 * it, one at 20 times the rate is closed after about a second, one
 * sending as fast as it can after a few milliseconds.
 *
 * Telling the client: the first refused request, and then at most one per
 * RATE_NOTICE_INTERVAL_US, is answered with an error (RATE_REFUSE_NOTIFY);
 * the other refused requests get no reply (RATE_REFUSE), so the answers
 * cannot become a flood of their own.
 *
 * The rate is passed at every call: a reload applies at once to every
 * connection.  Rate 0 means no limit.  A zeroed RateLimit is a connection
 * that has sent nothing yet: its bucket starts full.
 *
 * NOTES
 *	  Why a burst of two seconds: a client that reconnects sends its
 *	  subscribe requests (up to pgsync.max_subscriptions_per_client, 32 by
 *	  default) and a ping or two at once; twice the rate holds that with
 *	  room, and a steady flood is still refused after two seconds' worth.
 *	  Why close only past ten times the rate: a refused request costs the
 *	  worker a clock read and a few additions (no parse, no reply), so a
 *	  client somewhat over the rate is cheaper to throttle than to close
 *	  (it would reconnect); one far past it is abusive, and one second of
 *	  it as the meter's capacity keeps any burst a well-behaved client
 *	  sends (at most the bucket, two seconds' worth) well clear of it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_RATE_LIMIT_H
#define PGSYNC_RATE_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define RATE_BURST_SECONDS		2
#define RATE_FLOOD_FACTOR		10
#define RATE_NOTICE_INTERVAL_US 1000000
#define RATE_MAX_PER_SECOND		1000000 /* keeps the arithmetic in int64 */

typedef enum RateVerdict
{
	RATE_OK,					/* serve the request */
	RATE_REFUSE,				/* drop it, no reply */
	RATE_REFUSE_NOTIFY,			/* drop it, answer with an error */
	RATE_CLOSE					/* a flood: close the connection */
} RateVerdict;

typedef struct RateLimit
{
	bool		started;		/* false: nothing sent yet */
	bool		notified;		/* a notice was sent (at notice_us) */
	uint64_t	last_us;		/* the clock at the last request */
	uint64_t	notice_us;
	int64_t		tokens;			/* in millionths of a request */
	int64_t		flood;			/* in millionths of a request */
} RateLimit;

/*
 * Account one request of a connection at now_us (a monotonic clock, in
 * microseconds) under per_second (0: no limit, capped at
 * RATE_MAX_PER_SECOND).
 */
extern RateVerdict rate_limit_take(RateLimit *rl, int per_second,
								   uint64_t now_us);

#endif							/* PGSYNC_RATE_LIMIT_H */
