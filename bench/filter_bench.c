/*-------------------------------------------------------------------------
 *
 * filter_bench.c
 *	  Micro-benchmark: parse compact change messages and evaluate a
 *	  3-clause row filter on each, as the WebSocket worker will.
 *
 * Usage: bench/filter_bench [changes]   (default 1000000)
 * Prints nanoseconds per change for parsing alone and parse + filter.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json/json_value.h"
#include "filter/row_filter.h"

#define NMSG 1024

static const char relation[] =
"[\"R\",16384,\"public\",\"orders\","
"[\"id\",\"customer\",\"amount\",\"status\",\"created_at\",\"email\","
"\"paid\",\"note\"],"
"[\"bigint\",\"integer\",\"numeric(12,2)\",\"text\","
"\"timestamp with time zone\",\"character varying(200)\",\"boolean\","
"\"text\"],[0],\"default\"]";

static const char filter_text[] =
"{\"and\":[{\"col\":\"amount\",\"op\":\"gt\",\"value\":100},"
"{\"col\":\"status\",\"op\":\"in\",\"values\":[\"new\",\"paid\"]},"
"{\"col\":\"created_at\",\"op\":\"gte\",\"value\":\"2024-01-01T00:00:00Z\"}]}";

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int
main(int argc, char **argv)
{
	static const char *const statuses[] = {"new", "paid", "shipped", "cancelled"};
	long		nchanges = argc > 1 ? atol(argv[1]) : 1000000;
	JsonDoc    *rdoc = json_doc_create(4096, 256, JSON_DEFAULT_MAX_DEPTH);
	JsonDoc    *doc = json_doc_create(4096, 256, JSON_DEFAULT_MAX_DEPTH);
	RowFilterColumn cols[16];
	const JsonValue *rel;
	int			key_cols[16];
	int			ncols,
				nkeys;
	RowFilter  *f;
	RowFilterError err;
	char	  **msgs = malloc(NMSG * sizeof(char *));
	size_t	   *lens = malloc(NMSG * sizeof(size_t));
	size_t		total = 0;
	long		i,
				matched = 0;
	double		t0,
				t1,
				t2;

	/* columns from the relation message, the way the worker gets them */
	rel = json_parse(rdoc, relation, strlen(relation), NULL);
	ncols = row_filter_relation_columns(rel, cols, key_cols, &nkeys, 16);
	f = row_filter_compile(json_parse(doc, filter_text, strlen(filter_text), NULL),
						   cols, ncols, &err);
	if (f == NULL)
	{
		fprintf(stderr, "filter: %s\n", err.message);
		return 1;
	}

	for (i = 0; i < NMSG; i++)
	{
		char		buf[512];

		lens[i] = (size_t) snprintf(buf, sizeof(buf),
									"[\"I\",16384,\"0/%lX\",[%ld,%ld,\"%ld.%02ld\",\"%s\","
									"\"2024-0%ld-%02ldT%02ld:04:05.%03ldZ\",\"customer%ld@example.com\","
									"%s,\"a note about order %ld: gift wrap, leave at the door\"]]",
									0x15379D8 + i * 200, 100000 + i, 42 + i % 17,
									i % 300, i % 100, statuses[i % 4], 1 + i % 3,
									1 + i % 28, i % 24, i % 1000, 42 + i % 17,
									i % 2 ? "true" : "false", i);
		msgs[i] = strdup(buf);
		total += lens[i];
	}

	t0 = now_ns();
	for (i = 0; i < nchanges; i++)
		if (json_parse(doc, msgs[i % NMSG], lens[i % NMSG], NULL) == NULL)
			return 1;
	t1 = now_ns();
	for (i = 0; i < nchanges; i++)
	{
		const JsonValue *m = json_parse(doc, msgs[i % NMSG], lens[i % NMSG], NULL);

		matched += row_filter_matches(f, json_array_get(m, 3));
	}
	t2 = now_ns();

	printf("%ld changes, %zu bytes average, %ld matched\n",
		   nchanges, total / NMSG, matched);
	printf("parse:          %.1f ns/change\n", (t1 - t0) / nchanges);
	printf("parse + filter: %.1f ns/change\n", (t2 - t1) / nchanges);
	printf("filter alone:   %.1f ns/change\n", ((t2 - t1) - (t1 - t0)) / nchanges);

	for (i = 0; i < NMSG; i++)
		free(msgs[i]);
	free(msgs);
	free(lens);
	row_filter_free(f);
	json_doc_free(doc);
	json_doc_free(rdoc);
	return 0;
}
