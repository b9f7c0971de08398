/*
 * rowtime.c: the timestamp finder of rowtime.h.
 *
 * Candidates are the '-' after the year; memchr() skips everything else,
 * so a short message costs a few character tests.  The calendar
 * conversion is the proleptic Gregorian days-from-civil formula: no
 * timegm(), no locale, no time-zone database.
 */
#include "rowtime.h"

#include <string.h>

static inline bool
dig(char c)
{
	return c >= '0' && c <= '9';
}

static inline int
num2(const char *p)
{
	return (p[0] - '0') * 10 + (p[1] - '0');
}

/* days from 1970-01-01 to y-m-d (Gregorian calendar) */
static int64_t
days_from_civil(int y, int m, int d)
{
	int			era,
				yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int64_t) era * 146097 + doe - 719468;
}

/* p points at "YYYY-MM-DD?HH:MM:SS" (19 characters available)? */
static bool
looks_like_timestamp(const char *p)
{
	return dig(p[0]) && dig(p[1]) && dig(p[2]) && dig(p[3]) && p[4] == '-' &&
		dig(p[5]) && dig(p[6]) && p[7] == '-' && dig(p[8]) && dig(p[9]) &&
		(p[10] == ' ' || p[10] == 'T') && dig(p[11]) && dig(p[12]) &&
		p[13] == ':' && dig(p[14]) && dig(p[15]) && p[16] == ':' &&
		dig(p[17]) && dig(p[18]);
}

/* parse the timestamp at p (looks_like_timestamp), text ending at end */
static int64_t
parse_at(const char *p, const char *end)
{
	int			year = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + num2(p + 2);
	int64_t		secs,
				frac = 0;
	const char *q = p + 19;
	int			digits = 0;

	secs = days_from_civil(year, num2(p + 5), num2(p + 8)) * 86400 +
		num2(p + 11) * 3600 + num2(p + 14) * 60 + num2(p + 17);
	if (q < end && *q == '.')
	{
		for (q++; q < end && dig(*q); q++)
		{
			if (digits < 6)
			{
				frac = frac * 10 + (*q - '0');
				digits++;
			}
		}
	}
	for (; digits < 6; digits++)
		frac *= 10;
	/* zone: +HH, +HH:MM, +HHMM (or -); Z and none are UTC */
	if (q + 3 <= end && (*q == '+' || *q == '-') && dig(q[1]) && dig(q[2]))
	{
		int			off = num2(q + 1) * 3600;

		if (q + 6 <= end && q[3] == ':' && dig(q[4]) && dig(q[5]))
			off += num2(q + 4) * 60;
		else if (q + 5 <= end && dig(q[3]) && dig(q[4]))
			off += num2(q + 3) * 60;
		secs += *q == '+' ? -off : off;
	}
	return secs * 1000000 + frac;
}

bool
rowtime_find(const char *p, size_t n, int64_t *us, size_t *start)
{
	const char *end = p + n;
	const char *s = p + 4;		/* the first possible '-' after a year */

	/* looks_like_timestamp() reads up to dash + 14 */
	while (s + 15 <= end)
	{
		const char *dash = memchr(s, '-', (size_t) (end - 14 - s));

		if (dash == NULL)
			return false;
		if (looks_like_timestamp(dash - 4))
		{
			*us = parse_at(dash - 4, end);
			if (start)
				*start = (size_t) (dash - 4 - p);
			return true;
		}
		s = dash + 1;
	}
	return false;
}

bool
rowtime_is_boundary(const char *p, size_t n)
{
	return n >= 4 && p[0] == '[' && p[1] == '"' && (p[2] == 'B' || p[2] == 'C') &&
		p[3] == '"';
}
