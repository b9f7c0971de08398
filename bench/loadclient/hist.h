/*
 * hist.h: a log-scale latency histogram (HDR style, under 1% error).
 *
 * Values are non-negative integers (microseconds here).  Values below
 * 128 have a bucket each; above, each power of two is cut into 128
 * buckets, so a bucket's width is under 1/128 of its lower bound.
 * Fixed size (about 36 kB), no allocation: one per thread, merged at
 * the end.  The exact count, sum and maximum are kept beside it.
 * Pure: no I/O, no globals.
 */
#ifndef LOADCLIENT_HIST_H
#define LOADCLIENT_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS	7
#define HIST_SUB		(1 << HIST_SUB_BITS)	/* buckets per power of two */
#define HIST_MAX_EXP	42		/* values up to 2^42 us (51 days) */
#define HIST_BUCKETS	(HIST_SUB + (HIST_MAX_EXP - HIST_SUB_BITS + 1) * HIST_SUB)

typedef struct Hist
{
	uint64_t	count;
	uint64_t	sum;
	uint64_t	max;
	uint64_t	buckets[HIST_BUCKETS];
} Hist;

extern void hist_add(Hist *h, uint64_t value);
extern void hist_merge(Hist *into, const Hist *from);
/* the value at quantile q (0..1): the upper bound of its bucket, capped at max */
extern uint64_t hist_quantile(const Hist *h, double q);
/* bucket i's range [lower, upper) */
extern void hist_bucket_range(int i, uint64_t *lower, uint64_t *upper);

#endif
