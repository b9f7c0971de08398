/*-------------------------------------------------------------------------
 *
 * unit_filter.h
 *	  Minimal unit-test harness for the json_value and row_filter tests.
 *
 * CHECK(cond) records one passed or failed check and goes on; failures
 * print file:line and the condition.  UNIT_DONE() prints "N passed,
 * N failed" and returns the exit status from main().
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_UNIT_FILTER_H
#define PGSYNC_UNIT_FILTER_H

#include <stdio.h>
#include <string.h>

static int	unit_passed = 0;
static int	unit_failed = 0;

#define CHECK_MSG(cond, ...) \
	do { \
		if (cond) \
			unit_passed++; \
		else \
		{ \
			unit_failed++; \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
		} \
	} while (0)

#define CHECK(cond) CHECK_MSG(cond, "%s", "")

#define UNIT_DONE() \
	(printf("%d passed, %d failed\n", unit_passed, unit_failed), \
	 unit_failed == 0 ? 0 : 1)

#endif							/* PGSYNC_UNIT_FILTER_H */
