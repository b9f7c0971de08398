/*
 * report.c: the JSON line and the histogram CSV of report.h.
 *
 * Values that do not exist (no message, no row) are null, never 0, so a
 * reader cannot mistake "nothing arrived" for "instant".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "report.h"

static long
rss_kb(void)
{
	FILE	   *f = fopen("/proc/self/status", "r");
	char		line[256];
	long		kb = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

static double
tv_s(struct timeval tv)
{
	return (double) tv.tv_sec + (double) tv.tv_usec / 1e6;
}

void
report_json(FILE *out, int clients, const Counters *c, const Hist *h)
{
	struct rusage ru;
	double		span = (double) (c->last_msg_us - c->first_msg_us) / 1e6;

	getrusage(RUSAGE_SELF, &ru);
	fprintf(out, "{\"clients\":%d,\"connected\":%llu,\"ready\":%llu,\"closed\":%llu,"
			"\"errors\":%llu,\"messages\":%llu,\"rows\":%llu,\"bytes\":%llu,",
			clients, (unsigned long long) c->connected, (unsigned long long) c->ready,
			(unsigned long long) c->closed, (unsigned long long) c->errors,
			(unsigned long long) c->messages, (unsigned long long) c->rows,
			(unsigned long long) c->bytes);
	if (c->messages > 0)
		fprintf(out, "\"first_msg_unix\":%.6f,\"last_msg_unix\":%.6f,",
				(double) c->first_msg_us / 1e6, (double) c->last_msg_us / 1e6);
	else
		fprintf(out, "\"first_msg_unix\":null,\"last_msg_unix\":null,");
	if (span > 0)
		fprintf(out, "\"msgs_per_sec\":%.1f,\"rows_per_sec\":%.1f,",
				(double) c->messages / span, (double) c->rows / span);
	else
		fprintf(out, "\"msgs_per_sec\":null,\"rows_per_sec\":null,");
	if (h->count > 0)
		fprintf(out, "\"lat_us\":{\"n\":%llu,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,"
				"\"p999\":%llu,\"max\":%llu,\"mean\":%.1f},",
				(unsigned long long) h->count,
				(unsigned long long) hist_quantile(h, 0.5),
				(unsigned long long) hist_quantile(h, 0.9),
				(unsigned long long) hist_quantile(h, 0.99),
				(unsigned long long) hist_quantile(h, 0.999),
				(unsigned long long) h->max, (double) h->sum / (double) h->count);
	else
		fprintf(out, "\"lat_us\":{\"n\":0,\"p50\":null,\"p90\":null,\"p99\":null,"
				"\"p999\":null,\"max\":null,\"mean\":null},");
	fprintf(out, "\"clients_with_rows\":%llu,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,"
			"\"rss_kb\":%ld}\n",
			(unsigned long long) c->clients_with_rows, tv_s(ru.ru_utime),
			tv_s(ru.ru_stime), rss_kb());
	fflush(out);
}

bool
report_hist_csv(const char *path, const Hist *h)
{
	FILE	   *f = fopen(path, "w");

	if (f == NULL)
	{
		perror(path);
		return false;
	}
	fprintf(f, "lower_us,upper_us,count\n");
	for (int i = 0; i < HIST_BUCKETS; i++)
		if (h->buckets[i] > 0)
		{
			uint64_t	lo,
						hi;

			hist_bucket_range(i, &lo, &hi);
			fprintf(f, "%llu,%llu,%llu\n", (unsigned long long) lo,
					(unsigned long long) hi, (unsigned long long) h->buckets[i]);
		}
	return fclose(f) == 0;
}
