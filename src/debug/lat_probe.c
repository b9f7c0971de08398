/* lat_probe.c: see lat_probe.h */
#include "postgres.h"

#ifdef PGSYNC_LAT_PROBE
#include "utils/timestamp.h"
#include "debug/lat_probe.h"

#define LP_MAX 200000

TimestampTz lp_commit_ts = 0;
int			lp_commits = 0;
TimestampTz lp_first_write = 0;
TimestampTz lp_last_write = 0;
int			lp_writes = 0;

static int64 *samples[LP_N];
static int	nsamples[LP_N];
static TimestampTz next_report = 0;
static const char *names[LP_N] = {
	"commit->wake", "wake->decode", "decode", "decoded->uvrun_end", "decoded->1stwrite",
	"decoded->lastwrite", "commit->lastwrite", "commits/pass", "writes/pass",
	"loop busy"
};

void
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

void
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
#endif
