/*
 * lat_probe.h: latency probes of the push path (build with
 * `make PROBE=1`, i.e. -DPGSYNC_LAT_PROBE).  Aggregated, logged every 5 s.
 * Compiled out otherwise.
 */
#ifndef PGSYNC_LAT_PROBE_H
#define PGSYNC_LAT_PROBE_H

#ifdef PGSYNC_LAT_PROBE
#include "datatype/timestamp.h"

typedef enum
{
	LP_COMMIT_TO_WAKE,			/* commit record time -> worker woken */
	LP_WAKE_TO_DECODE,			/* woken -> decode pass starts */
	LP_DECODE,					/* decode pass (up to the flush pointer) */
	LP_LOG_FLUSH,				/* worker_changelog_flush + sync */
	LP_DECODED_TO_FIRST_WRITE,	/* decode end -> first socket write */
	LP_DECODED_TO_LAST_WRITE,	/* decode end -> last socket write */
	LP_COMMIT_TO_LAST_WRITE,	/* commit record time -> last write */
	LP_COMMITS_PER_PASS,		/* count, not us */
	LP_WRITES_PER_PASS,			/* count */
	LP_LOOP_BUSY,				/* wake -> back to sleep */
	LP_N
} LatProbe;

extern TimestampTz lp_commit_ts;	/* first commit decoded in this pass */
extern int	lp_commits;
extern TimestampTz lp_first_write;
extern TimestampTz lp_last_write;
extern int	lp_writes;

extern void lp_sample(LatProbe p, int64 v);
extern void lp_report_maybe(void);

#define LP(stmt) do { stmt; } while (0)
#else
#define LP(stmt) ((void) 0)
#endif

#endif
