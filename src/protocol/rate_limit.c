/*-------------------------------------------------------------------------
 *
 * rate_limit.c
 *	  Pure request rate limit of one connection: token bucket and flood
 *	  meter (see rate_limit.h).  Unit-tested with a fake clock in
 *	  test/unit/test_rate_limit.c.
 *
 * NOTES
 *	  Amounts are int64 millionths of a request, so that r requests per
 *	  second is r units per microsecond and no division is needed.  The
 *	  elapsed time credited at once is capped at REFILL_CAP_US, more than
 *	  either the bucket or the meter needs to go from empty to full or back;
 *	  with r <= RATE_MAX_PER_SECOND the largest product, the meter's drain,
 *	  is 10^14, far from overflowing.  A clock that goes backwards credits
 *	  nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "protocol/rate_limit.h"

#define UNIT			INT64_C(1000000)	/* one request */
#define REFILL_CAP_US	INT64_C(10000000)	/* 10 s */

RateVerdict
rate_limit_take(RateLimit *rl, int per_second, uint64_t now_us)
{
	int64_t		rate;
	int64_t		burst;
	int64_t		flood_max;
	uint64_t	gap;
	int64_t		elapsed;

	if (per_second <= 0)
	{
		/* no limit; should one be set later, it starts afresh */
		rl->started = false;
		return RATE_OK;
	}
	rate = per_second < RATE_MAX_PER_SECOND ? per_second : RATE_MAX_PER_SECOND;
	burst = RATE_BURST_SECONDS * rate * UNIT;
	flood_max = RATE_FLOOD_FACTOR * rate * UNIT;

	if (!rl->started)
	{
		rl->started = true;
		rl->notified = false;
		rl->tokens = burst;
		rl->flood = 0;
		rl->last_us = now_us;
	}
	gap = now_us > rl->last_us ? now_us - rl->last_us : 0;
	elapsed = gap > (uint64_t) REFILL_CAP_US ? REFILL_CAP_US : (int64_t) gap;
	if (now_us > rl->last_us)
		rl->last_us = now_us;

	/* refill the bucket (a lowered rate also lowers what it holds) */
	rl->tokens += elapsed * rate;
	if (rl->tokens > burst)
		rl->tokens = burst;
	/* drain the flood meter, then count this request */
	rl->flood -= elapsed * rate * RATE_FLOOD_FACTOR;
	if (rl->flood < 0)
		rl->flood = 0;
	rl->flood += UNIT;
	if (rl->flood > flood_max)
		return RATE_CLOSE;

	if (rl->tokens >= UNIT)
	{
		rl->tokens -= UNIT;
		return RATE_OK;
	}
	if (rl->notified && now_us - rl->notice_us < RATE_NOTICE_INTERVAL_US &&
		now_us >= rl->notice_us)
		return RATE_REFUSE;
	rl->notified = true;
	rl->notice_us = now_us;
	return RATE_REFUSE_NOTIFY;
}
