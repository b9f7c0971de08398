/*-------------------------------------------------------------------------
 *
 * value_compare.h
 *	  Pure comparisons of encoded values: exact decimals, ISO 8601 dates
 *	  and times, JSON values by meaning.
 *
 * The change stream writes numeric values as decimal text, timestamps as
 * ISO 8601 text, and so on (docs/PROTOCOL.md).  Row filters
 * (row_filter.h) compare such texts with client literals through the
 * functions here, which follow PostgreSQL's ordering of each type.  No
 * postgres.h; nothing is allocated.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_VALUE_COMPARE_H
#define PGSYNC_VALUE_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json/json_value.h"

/* Decimal kinds, in PostgreSQL's sort order (NaN sorts last). */
typedef enum DecimalKind
{
	DEC_NEG_INF,
	DEC_FINITE,
	DEC_POS_INF,
	DEC_NAN
} DecimalKind;

/*
 * A decimal number read in place: value = 0.DIGITS * 10^exp, where DIGITS
 * are the significant digits (from the first to the last non-zero one) of
 * the text, possibly with the decimal point among them, which is skipped.
 * Zero has len 0.
 */
typedef struct Decimal
{
	uint8_t		kind;			/* DecimalKind */
	bool		negative;		/* finite, non-zero and below zero */
	uint32_t	len;			/* bytes at digits */
	const char *digits;
	int64_t		exp;
} Decimal;

/*
 * Read s[0..len): [+-]digits[.digits][e[+-]digits] (".5" and "5." too), or
 * NaN, Infinity, Inf with an optional sign, in any case.  Leading zeros
 * are allowed.  false if it is not such a number.
 */
extern bool decimal_parse(const char *s, size_t len, Decimal *d);

/* -1, 0 or 1; -Infinity < finite < Infinity < NaN, NaN equals NaN. */
extern int	decimal_cmp(const Decimal *a, const Decimal *b);

/* Which date/time type a text is read as. */
typedef enum DateTimeType
{
	DT_TIMESTAMPTZ,				/* date, time and offset required */
	DT_TIMESTAMP,				/* date, optional time, no offset */
	DT_DATE,					/* date only */
	DT_TIME,					/* time only, no offset */
	DT_TIMETZ					/* time and offset */
} DateTimeType;

/*
 * A point in time as a sort key.  Timestamps and dates: seconds since
 * 1970-01-01 (UTC for timestamptz) and microseconds; infinities are
 * INT64_MIN / INT64_MAX seconds.  Times: seconds since midnight, for
 * timetz of UTC (so maybe negative or past a day), zone breaking ties the
 * way PostgreSQL does (seconds west of UTC).
 */
typedef struct TimeKey
{
	int64_t		sec;
	int32_t		usec;
	int32_t		zone;
} TimeKey;

/*
 * Read s[0..len) as ISO 8601 for type t, as the change stream writes it
 * and as clients usually do:
 *   date:      YYYY-MM-DD (4 to 7 digit year), optional " BC" at the end
 *   time:      HH:MM[:SS[.ffffff]]
 *   offset:    Z, +HH, +HH:MM, +HHMM or +HH:MM:SS (or -)
 *   timestamp: date, 'T' or ' ', time, offset (if the type has one)
 * and "infinity" / "-infinity" for dates and timestamps.
 */
extern bool datetime_parse(const char *s, size_t len, DateTimeType t,
						   TimeKey *key);

extern int	timekey_cmp(const TimeKey *a, const TimeKey *b);

/*
 * Equality of JSON values by meaning, as jsonb compares them: numbers by
 * value (1.0 equals 1), object members in any order, strings byte for
 * byte.  Objects with duplicate keys compare their first occurrence.
 */
extern bool json_semantic_equal(const JsonValue *a, const JsonValue *b);

#endif							/* PGSYNC_VALUE_COMPARE_H */
