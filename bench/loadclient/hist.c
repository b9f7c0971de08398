/*
 * hist.c: the log-scale latency histogram of hist.h.
 *
 * Bucket of v: v itself below HIST_SUB; else, with e = floor(log2 v),
 * the top HIST_SUB_BITS + 1 bits of v select one of the HIST_SUB buckets
 * of the power of two [2^e, 2^(e+1)).
 */
#include "hist.h"

#include <string.h>

static int
bucket_of(uint64_t v)
{
	int			e;

	if (v < HIST_SUB)
		return (int) v;
	e = 63 - __builtin_clzll(v);
	if (e > HIST_MAX_EXP)
		return HIST_BUCKETS - 1;
	return HIST_SUB + (e - HIST_SUB_BITS) * HIST_SUB +
		(int) ((v >> (e - HIST_SUB_BITS)) - HIST_SUB);
}

void
hist_bucket_range(int i, uint64_t *lower, uint64_t *upper)
{
	int			shift;
	uint64_t	mant;

	if (i < HIST_SUB)
	{
		*lower = (uint64_t) i;
		*upper = (uint64_t) i + 1;
		return;
	}
	shift = (i - HIST_SUB) / HIST_SUB;
	mant = (uint64_t) (HIST_SUB + (i - HIST_SUB) % HIST_SUB);
	*lower = mant << shift;
	*upper = (mant + 1) << shift;
}

void
hist_add(Hist *h, uint64_t value)
{
	h->buckets[bucket_of(value)]++;
	h->count++;
	h->sum += value;
	if (value > h->max)
		h->max = value;
}

void
hist_merge(Hist *into, const Hist *from)
{
	for (int i = 0; i < HIST_BUCKETS; i++)
		into->buckets[i] += from->buckets[i];
	into->count += from->count;
	into->sum += from->sum;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t
hist_quantile(const Hist *h, double q)
{
	uint64_t	rank,
				seen = 0;

	if (h->count == 0)
		return 0;
	/* the smallest value with at least q of the samples at or below it */
	rank = (uint64_t) (q * (double) h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	for (int i = 0; i < HIST_BUCKETS; i++)
	{
		seen += h->buckets[i];
		if (seen >= rank)
		{
			uint64_t	lo,
						hi;

			hist_bucket_range(i, &lo, &hi);
			/* the bucket's upper bound, inclusive, but never above the max */
			return hi - 1 < h->max ? hi - 1 : h->max;
		}
	}
	return h->max;
}
