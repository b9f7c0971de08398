/*-------------------------------------------------------------------------
 *
 * table_pattern.c
 *	  Pure matching of "schema.table" glob patterns (see table_pattern.h).
 *
 *-------------------------------------------------------------------------
 */
#include "filter/table_pattern.h"

#include <string.h>

static const PatternSlice match_all = {"*", 1};

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Parse one element s[0..len) (already trimmed) into *pat. */
static bool
parse_one(const char *s, size_t len, TablePattern *pat, const char **error)
{
	size_t		dot = len;
	size_t		i;

	for (i = 0; i < len; i++)
	{
		if (s[i] == '\\')
		{
			if (i + 1 >= len)
			{
				*error = "pattern ends with a backslash";
				return false;
			}
			i++;
		}
		else if (s[i] == '.')
		{
			if (dot != len)
			{
				*error = "pattern has more than one unescaped dot";
				return false;
			}
			dot = i;
		}
	}
	if (dot == len)
	{
		pat->schema = match_all;
		pat->table.ptr = s;
		pat->table.len = len;
	}
	else
	{
		if (dot == 0 || dot == len - 1)
		{
			*error = "pattern has an empty schema or table part";
			return false;
		}
		pat->schema.ptr = s;
		pat->schema.len = dot;
		pat->table.ptr = s + dot + 1;
		pat->table.len = len - dot - 1;
	}
	return true;
}

int
pattern_list_split(const char *list, PatternSlice *out, int max,
				   const char **error)
{
	const char *p = list;
	int			n = 0;

	*error = NULL;
	for (;;)
	{
		const char *start,
				   *end;

		while (is_space(*p))
			p++;
		start = end = p;
		/* find the next unescaped comma; end follows the last non-space */
		while (*p != '\0' && *p != ',')
		{
			if (*p == '\\' && p[1] != '\0')
			{
				p += 2;
				end = p;		/* an escaped space is kept */
				continue;
			}
			if (!is_space(*p))
				end = p + 1;
			p++;
		}
		if (end == start)
		{
			*error = "empty element in list";
			return -1;
		}
		if (out != NULL)
		{
			if (n >= max)
			{
				*error = "too many elements in list";
				return -1;
			}
			out[n].ptr = start;
			out[n].len = (size_t) (end - start);
		}
		n++;
		if (*p == '\0')
			break;
		p++;					/* skip comma */
	}
	return n;
}

int
table_pattern_parse(const char *list, TablePattern *out, int max,
					const char **error)
{
	int			n = pattern_list_split(list, NULL, 0, error);
	int			i;
	PatternSlice one;
	const char *p = list;

	if (n < 0)
		return -1;
	if (out != NULL && n > max)
	{
		*error = "too many table patterns";
		return -1;
	}
	/* split again one element at a time, so no scratch array is needed */
	for (i = 0; i < n; i++)
	{
		TablePattern pat;
		const char *dummy;

		(void) pattern_list_split(p, &one, 1, &dummy);
		if (!parse_one(one.ptr, one.len, &pat, error))
			return -1;
		if (out != NULL)
			out[i] = pat;
		/* advance p past this element's comma */
		p = one.ptr + one.len;
		while (*p != '\0' && *p != ',')
			p++;
		if (*p == ',')
			p++;
	}
	return n;
}

/*
 * Iterative glob matching with single-star backtracking: linear in
 * practice, never exponential.
 */
bool
glob_match(PatternSlice pat, const char *s)
{
	const char *p = pat.ptr;
	const char *pend = pat.ptr + pat.len;
	const char *star_p = NULL;
	const char *star_s = NULL;

	while (*s != '\0')
	{
		if (p < pend && *p == '*')
		{
			star_p = ++p;
			star_s = s;
			continue;
		}
		if (p < pend)
		{
			char		pc = *p;
			size_t		step = 1;

			if (pc == '\\' && p + 1 < pend)
			{
				pc = p[1];
				step = 2;
			}
			else if (pc == '?')
			{
				/* one character: a UTF-8 sequence counts as one */
				p++;
				s++;
				while ((*s & 0xC0) == 0x80)
					s++;
				continue;
			}
			if (pc == *s)
			{
				p += step;
				s++;
				continue;
			}
		}
		if (star_p == NULL)
			return false;
		p = star_p;
		s = ++star_s;
	}
	while (p < pend && *p == '*')
		p++;
	return p == pend;
}

bool
table_pattern_match(const TablePattern *pat, const char *schema,
					const char *table)
{
	return glob_match(pat->schema, schema) && glob_match(pat->table, table);
}

bool
table_pattern_match_any(const TablePattern *pats, int n,
						const char *schema, const char *table)
{
	int			i;

	for (i = 0; i < n; i++)
		if (table_pattern_match(&pats[i], schema, table))
			return true;
	return false;
}
