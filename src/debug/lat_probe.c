/*-------------------------------------------------------------------------
 *
 * lat_probe.c
 *	  Latency probes of the push path (see lat_probe.h).  Compiled only
 *	  with `make PROBE=1`.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "debug/lat_probe.h"

typedef enum
{
	LP_COMMIT_TO_WAKE,			/* commit record time -> worker woken */
	LP_WAKE_TO_DECODE,			/* woken -> decode pass starts */
	LP_DECODE,					/* decode pass (up to the flush pointer) */
	LP_LOG_FLUSH,				/* decode end -> end of the following uv_run */
	LP_DECODED_TO_FIRST_WRITE,	/* decode end -> first socket write */
	LP_DECODED_TO_LAST_WRITE,	/* decode end -> last socket write */
	LP_COMMIT_TO_LAST_WRITE,	/* commit record time -> last write */
	LP_COMMITS_PER_PASS,		/* count, not us */
	LP_WRITES_PER_PASS,			/* count */
	LP_LOOP_BUSY,				/* wake -> back to sleep */
	LP_N
} LatProbe;

#define LP_MAX 200000

static TimestampTz lp_commit_ts = 0;	/* first commit decoded in this pass */
static int	lp_commits = 0;
static TimestampTz lp_first_write = 0;
static TimestampTz lp_last_write = 0;
static int	lp_writes = 0;
static TimestampTz lp_wake = 0;
static TimestampTz lp_t0 = 0,
			lp_t1 = 0,
			lp_t2 = 0;

static int64 *samples[LP_N];
static int	nsamples[LP_N];
static TimestampTz next_report = 0;
static const char *names[LP_N] = {
	"commit->wake", "wake->decode", "decode", "decoded->uvrun_end", "decoded->1stwrite",
	"decoded->lastwrite", "commit->lastwrite", "commits/pass", "writes/pass",
	"loop busy"
};

static void
lp_sample(LatProbe p, int64 v)
{
	if (samples[p] == NULL)
		samples[p] = malloc(sizeof(int64) * LP_MAX);
	if (samples[p] != NULL && nsamples[p] < LP_MAX)
		samples[p][nsamples[p]++] = v;
}

static int
cmp64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a,
				y = *(const int64 *) b;

	return x < y ? -1 : x > y;
}

static void
lp_report_maybe(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (next_report == 0)
		next_report = now + 5000000;
	if (now < next_report)
		return;
	next_report = now + 5000000;
	for (int p = 0; p < LP_N; p++)
	{
		int			n = nsamples[p];
		int64	   *s = samples[p];
		int64		sum = 0;

		if (n == 0)
			continue;
		qsort(s, n, sizeof(int64), cmp64);
		for (int i = 0; i < n; i++)
			sum += s[i];
		elog(LOG, "lat_probe %-20s n=%d avg=%lld p50=%lld p90=%lld p99=%lld p999=%lld max=%lld",
			 names[p], n, (long long) (sum / n), (long long) s[n / 2],
			 (long long) s[(int) (n * 0.9)], (long long) s[(int) (n * 0.99)],
			 (long long) s[(int) (n * 0.999)], (long long) s[n - 1]);
		nsamples[p] = 0;
	}
}

void
lat_probe_commit_decoded(TimestampTz commit_time)
{
	if (lp_commit_ts == 0)
		lp_commit_ts = commit_time;
	lp_commits++;
}

void
lat_probe_socket_write(void)
{
	lp_last_write = GetCurrentTimestamp();
	if (lp_first_write == 0)
		lp_first_write = lp_last_write;
	lp_writes++;
}

void
lat_probe_woken(void)
{
	lp_wake = GetCurrentTimestamp();
}

void
lat_probe_decode_start(void)
{
	lp_t0 = GetCurrentTimestamp();
}

void
lat_probe_decode_end(void)
{
	lp_t1 = GetCurrentTimestamp();
}

void
lat_probe_sent(void)
{
	lp_t2 = GetCurrentTimestamp();
}

void
lat_probe_iteration_end(void)
{
	if (lp_commits > 0)
	{
		lp_sample(LP_COMMIT_TO_WAKE, lp_wake - lp_commit_ts);
		lp_sample(LP_WAKE_TO_DECODE, lp_t0 - lp_wake);
		lp_sample(LP_DECODE, lp_t1 - lp_t0);
		lp_sample(LP_LOG_FLUSH, lp_t2 - lp_t1);
		if (lp_writes > 0)
		{
			lp_sample(LP_DECODED_TO_FIRST_WRITE, lp_first_write - lp_t1);
			lp_sample(LP_DECODED_TO_LAST_WRITE, lp_last_write - lp_t1);
			lp_sample(LP_COMMIT_TO_LAST_WRITE, lp_last_write - lp_commit_ts);
		}
		lp_sample(LP_COMMITS_PER_PASS, lp_commits);
		lp_sample(LP_WRITES_PER_PASS, lp_writes);
		lp_sample(LP_LOOP_BUSY, GetCurrentTimestamp() - lp_wake);
	}
	lp_commits = 0;
	lp_commit_ts = 0;
	lp_writes = 0;
	lp_first_write = lp_last_write = 0;
	lp_t0 = lp_t1 = lp_t2 = 0;
	lp_report_maybe();
}
