/*-------------------------------------------------------------------------
 *
 * value_compare.c
 *	  Pure comparisons of encoded values: exact decimals, ISO 8601 dates
 *	  and times, JSON values by meaning.
 *
 * Decimals are compared on their text, digit by digit, so integers beyond
 * 2^53 and numerics of any precision compare exactly.  Dates and times
 * become (seconds, microseconds) keys on the proleptic Gregorian calendar,
 * as PostgreSQL uses.
 *
 *-------------------------------------------------------------------------
 */
#include "filter/value_compare.h"

#include <string.h>

/* Saturation bound for exponents: far beyond any digit count we accept. */
#define EXP_LIMIT	INT64_C(1000000000000)

static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
equal_nocase(const char *s, size_t len, const char *word)
{
	size_t		i;

	if (strlen(word) != len)
		return false;
	for (i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != word[i])
			return false;
	}
	return true;
}

bool
decimal_parse(const char *s, size_t len, Decimal *d)
{
	const char *p = s;
	const char *end = s + len;
	const char *first = NULL;	/* first non-zero digit */
	const char *last = NULL;	/* last non-zero digit */
	bool		neg = false;
	bool		seen_point = false;
	int64_t		intdigits = 0;	/* digits before the point, from first */
	int64_t		lead_frac_zeros = 0;	/* fraction zeros before first */
	int			ndigits = 0;

	memset(d, 0, sizeof(*d));
	if (p < end && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	if (p < end && !is_digit(*p) && *p != '.')
	{
		if (equal_nocase(p, end - p, "nan") && p == s)
			d->kind = DEC_NAN;
		else if (equal_nocase(p, end - p, "infinity") ||
				 equal_nocase(p, end - p, "inf"))
			d->kind = neg ? DEC_NEG_INF : DEC_POS_INF;
		else
			return false;
		return true;
	}
	for (; p < end; p++)
	{
		if (*p == '.')
		{
			if (seen_point)
				return false;
			seen_point = true;
			continue;
		}
		if (!is_digit(*p))
			break;
		ndigits++;
		if (*p != '0')
		{
			if (first == NULL)
				first = p;
			last = p;
		}
		if (first != NULL && !seen_point)
			intdigits++;
		else if (first == NULL && seen_point)
			lead_frac_zeros++;
	}
	if (ndigits == 0)
		return false;
	d->kind = DEC_FINITE;
	if (p < end)
	{
		int64_t		e = 0;
		bool		eneg = false;

		if (*p != 'e' && *p != 'E')
			return false;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (p >= end)
			return false;
		for (; p < end; p++)
		{
			if (!is_digit(*p))
				return false;
			if (e < EXP_LIMIT)
				e = e * 10 + (*p - '0');
		}
		d->exp = eneg ? -e : e;
	}
	if (first == NULL)
	{
		d->exp = 0;				/* zero, whatever its sign or exponent */
		return true;
	}
	d->negative = neg;
	d->digits = first;
	d->len = (uint32_t) (last - first + 1);
	d->exp += intdigits - lead_frac_zeros;
	return true;
}

int
decimal_cmp(const Decimal *a, const Decimal *b)
{
	int			sa,
				sb,
				r = 0;
	const char *pa,
			   *pb,
			   *ea,
			   *eb;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->kind != DEC_FINITE)
		return 0;
	sa = a->len == 0 ? 0 : a->negative ? -1 : 1;
	sb = b->len == 0 ? 0 : b->negative ? -1 : 1;
	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (sa == 0)
		return 0;
	if (a->exp != b->exp)
		return a->exp < b->exp ? -sa : sa;
	pa = a->digits;
	pb = b->digits;
	ea = pa + a->len;
	eb = pb + b->len;
	for (;;)
	{
		if (pa < ea && *pa == '.')
			pa++;
		if (pb < eb && *pb == '.')
			pb++;
		if (pa == ea || pb == eb)
		{
			/* the longer one has more (non-zero) digits */
			if (pa != ea)
				r = 1;
			else if (pb != eb)
				r = -1;
			break;
		}
		if (*pa != *pb)
		{
			r = *pa < *pb ? -1 : 1;
			break;
		}
		pa++;
		pb++;
	}
	return r * sa;
}

/* Read exactly n digits at *p; -1 if they are not there. */
static int64_t
read_digits(const char **p, const char *end, int n)
{
	int64_t		v = 0;
	int			i;

	if (end - *p < n)
		return -1;
	for (i = 0; i < n; i++)
	{
		if (!is_digit((*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return v;
}

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (y astronomical). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era,
				yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
days_in_month(int64_t y, int m)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return mdays[m - 1];
}

/* YYYY-MM-DD with a 4 to 7 digit year: days since 1970 (year as written) */
static bool
parse_date(const char **p, const char *end, int64_t *year, int *month,
		   int *day)
{
	const char *s = *p;
	int64_t		y = 0,
				m,
				d;
	int			n = 0;

	while (s < end && is_digit(*s) && n < 8)
	{
		y = y * 10 + (*s++ - '0');
		n++;
	}
	if (n < 4 || n > 7 || s >= end || *s++ != '-')
		return false;
	if ((m = read_digits(&s, end, 2)) < 1 || m > 12 ||
		s >= end || *s++ != '-')
		return false;
	if ((d = read_digits(&s, end, 2)) < 1 || y == 0 ||
		d > days_in_month(y, (int) m))
		return false;
	*year = y;
	*month = (int) m;
	*day = (int) d;
	*p = s;
	return true;
}

/* HH:MM[:SS[.ffffff]] as seconds and microseconds since midnight */
static bool
parse_time(const char **p, const char *end, int64_t *sec, int32_t *usec)
{
	const char *s = *p;
	int64_t		h,
				mi,
				se = 0;
	int32_t		us = 0;

	if ((h = read_digits(&s, end, 2)) < 0 || h > 24 ||
		s >= end || *s++ != ':' ||
		(mi = read_digits(&s, end, 2)) < 0 || mi > 59)
		return false;
	if (s < end && *s == ':')
	{
		s++;
		if ((se = read_digits(&s, end, 2)) < 0 || se > 60)
			return false;
		if (s < end && *s == '.')
		{
			int			n = 0;

			s++;
			while (s < end && is_digit(*s) && n < 6)
			{
				us = us * 10 + (*s++ - '0');
				n++;
			}
			if (n == 0 || (s < end && is_digit(*s)))
				return false;	/* none, or more than 6 */
			for (; n < 6; n++)
				us *= 10;
		}
	}
	if (h == 24 && (mi != 0 || se != 0 || us != 0))
		return false;
	*sec = h * 3600 + mi * 60 + se;
	*usec = us;
	*p = s;
	return true;
}

/* Z, +HH, +HH:MM, +HHMM, +HH:MM:SS: seconds east of UTC */
static bool
parse_offset(const char **p, const char *end, int32_t *offset)
{
	const char *s = *p;
	int			sign;
	int64_t		h,
				m = 0,
				sec = 0;

	if (s < end && (*s == 'Z' || *s == 'z'))
	{
		*offset = 0;
		*p = s + 1;
		return true;
	}
	if (s >= end || (*s != '+' && *s != '-'))
		return false;
	sign = *s++ == '-' ? -1 : 1;
	if ((h = read_digits(&s, end, 2)) < 0 || h > 15)
		return false;
	if (s < end && *s == ':')
	{
		s++;
		if ((m = read_digits(&s, end, 2)) < 0 || m > 59)
			return false;
		if (s < end && *s == ':')
		{
			s++;
			if ((sec = read_digits(&s, end, 2)) < 0 || sec > 59)
				return false;
		}
	}
	else if (s < end && is_digit(*s))
	{
		if ((m = read_digits(&s, end, 2)) < 0 || m > 59)
			return false;
	}
	*offset = (int32_t) (sign * (h * 3600 + m * 60 + sec));
	*p = s;
	return true;
}

bool
datetime_parse(const char *s, size_t len, DateTimeType t, TimeKey *key)
{
	const char *p = s;
	const char *end = s + len;
	int64_t		year = 0,
				tod = 0;
	int			month = 1,
				day = 1;
	int32_t		usec = 0,
				offset = 0;
	bool		has_date = t != DT_TIME && t != DT_TIMETZ;
	bool		has_time = t != DT_DATE;
	bool		has_zone = t == DT_TIMESTAMPTZ || t == DT_TIMETZ;

	memset(key, 0, sizeof(*key));
	if (has_date && (equal_nocase(s, len, "infinity") ||
					 equal_nocase(s, len, "+infinity") ||
					 equal_nocase(s, len, "-infinity")))
	{
		key->sec = s[0] == '-' ? INT64_MIN : INT64_MAX;
		return true;
	}
	if (has_date)
	{
		if (!parse_date(&p, end, &year, &month, &day))
			return false;
		if (has_time && p + 1 < end && is_digit(p[1]) &&
			(*p == 'T' || *p == 't' || *p == ' '))
			p++;
		else if (t == DT_TIMESTAMP)
			has_time = false;	/* a timestamp may be a date alone */
	}
	if (has_time)
	{
		if (!parse_time(&p, end, &tod, &usec))
			return false;
		if (has_zone && !parse_offset(&p, end, &offset))
			return false;
	}
	if (has_date && end - p >= 3 && equal_nocase(p, 3, " bc"))
	{
		year = 1 - year;
		p += 3;
	}
	if (p != end)
		return false;
	if (has_date)
		key->sec = days_from_civil(year, month, day) * 86400;
	key->sec += tod - offset;
	key->usec = usec;
	if (t == DT_TIMETZ)
		key->zone = -offset;
	return true;
}

int
timekey_cmp(const TimeKey *a, const TimeKey *b)
{
	if (a->sec != b->sec)
		return a->sec < b->sec ? -1 : 1;
	if (a->usec != b->usec)
		return a->usec < b->usec ? -1 : 1;
	if (a->zone != b->zone)
		return a->zone < b->zone ? -1 : 1;
	return 0;
}

bool
json_semantic_equal(const JsonValue *a, const JsonValue *b)
{
	uint32_t	i;

	if (a->kind != b->kind)
		return false;
	switch ((JsonKind) a->kind)
	{
		case JSON_NULL:
			return true;
		case JSON_BOOL:
			return a->boolean == b->boolean;
		case JSON_NUMBER:
			{
				Decimal		da,
							db;

				return decimal_parse(a->u.str, a->len, &da) &&
					decimal_parse(b->u.str, b->len, &db) &&
					decimal_cmp(&da, &db) == 0;
			}
		case JSON_STRING:
			return a->len == b->len && memcmp(a->u.str, b->u.str, a->len) == 0;
		case JSON_ARRAY:
			if (a->len != b->len)
				return false;
			for (i = 0; i < a->len; i++)
				if (!json_semantic_equal(a->u.items[i], b->u.items[i]))
					return false;
			return true;
		case JSON_OBJECT:
			if (a->len != b->len)
				return false;
			for (i = 0; i < a->len; i++)
			{
				const JsonValue *k = json_member_key(a, i);
				const JsonValue *bv = json_object_get(b, k->u.str, k->len);

				if (bv == NULL || !json_semantic_equal(json_member_value(a, i), bv))
					return false;
			}
			return true;
	}
	return false;
}
