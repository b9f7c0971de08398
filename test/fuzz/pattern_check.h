/*-------------------------------------------------------------------------
 *
 * pattern_check.h
 *	  Reference implementations for src/filter/table_pattern.c, shared by the unit
 *	  test (test/unit/test_table_pattern.c) and the fuzzer
 *	  (fuzz_table_pattern.c).
 *
 * They follow table_pattern.h literally and are written for obviousness,
 * not speed: glob matching by dynamic programming over pattern tokens,
 * list splitting by one left-to-right scan that tracks escapes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_PATTERN_CHECK_H
#define PGSYNC_PATTERN_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static inline bool
jp_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Does pattern pat[0..plen) match all of the NUL-terminated s?  '*' matches
 * any run, '?' one byte and the UTF-8 continuation bytes after it, '\'
 * makes the next byte literal (a lone trailing backslash matches itself).
 * O(plen * strlen(s)^2) time at worst.
 */
static inline bool
jp_ref_glob(const char *pat, size_t plen, const char *s)
{
	size_t		slen = strlen(s);
	bool	   *prev = calloc(slen + 1, sizeof(bool));
	bool	   *cur = calloc(slen + 1, sizeof(bool));
	size_t		p = 0;
	size_t		j;
	bool		result;

	if (prev == NULL || cur == NULL)
		abort();
	/* prev[j]: the tokens so far match s[0..j) */
	prev[0] = true;
	while (p < plen)
	{
		bool	   *tmp;

		if (pat[p] == '*')
		{
			bool		any = false;

			for (j = 0; j <= slen; j++)
			{
				any = any || prev[j];
				cur[j] = any;
			}
			p++;
		}
		else
		{
			bool		wild = pat[p] == '?';
			char		lit = pat[p];

			if (pat[p] == '\\' && p + 1 < plen)
			{
				lit = pat[p + 1];
				p++;
			}
			p++;
			cur[0] = false;
			for (j = 1; j <= slen; j++)
			{
				if (!wild)
					cur[j] = prev[j - 1] && s[j - 1] == lit;
				else if (j < slen && (s[j] & 0xC0) == 0x80)
					cur[j] = false; /* '?' takes the whole sequence */
				else
				{
					/* '?' from k takes s[k] and continuation bytes to j */
					size_t		k = j - 1;
					bool		any = prev[k];

					while (k > 0 && (s[k] & 0xC0) == 0x80)
					{
						k--;
						any = any || prev[k];
					}
					cur[j] = any;
				}
			}
		}
		tmp = prev;
		prev = cur;
		cur = tmp;
	}
	result = prev[slen];
	free(prev);
	free(cur);
	return result;
}

/*
 * Split list as table_pattern.h describes: elements end at unescaped
 * commas; a backslash escapes the next character (a trailing backslash
 * stays as it is); leading spaces and unescaped trailing spaces are
 * dropped.  Writes up to max start/end offsets.  Returns the number of
 * elements, or -1 if one is empty.
 */
static inline int
jp_ref_split(const char *list, size_t *starts, size_t *ends, int max)
{
	size_t		i = 0;
	int			n = 0;

	for (;;)
	{
		size_t		start = (size_t) -1;
		size_t		end = 0;

		while (list[i] != '\0' && list[i] != ',')
		{
			if (list[i] == '\\' && list[i + 1] != '\0')
			{
				if (start == (size_t) -1)
					start = i;
				i += 2;
				end = i;		/* an escaped character is never trimmed */
				continue;
			}
			if (!jp_is_space(list[i]))
			{
				if (start == (size_t) -1)
					start = i;
				end = i + 1;
			}
			i++;
		}
		if (start == (size_t) -1)
			return -1;
		if (n < max)
		{
			starts[n] = start;
			ends[n] = end;
		}
		n++;
		if (list[i] == '\0')
			return n;
		i++;
	}
}

/*
 * Check one element e[0..len) as a "schema.table" pattern: true if valid,
 * with *dot the offset of its unescaped dot, or len if it has none.
 * Invalid: a trailing backslash, two unescaped dots, an empty part.
 */
static inline bool
jp_ref_parse_elem(const char *e, size_t len, size_t *dot)
{
	size_t		i;
	int			ndots = 0;

	*dot = len;
	for (i = 0; i < len; i++)
	{
		if (e[i] == '\\')
		{
			if (i + 1 == len)
				return false;
			i++;
		}
		else if (e[i] == '.')
		{
			ndots++;
			*dot = i;
		}
	}
	if (ndots > 1)
		return false;
	if (ndots == 1 && (*dot == 0 || *dot == len - 1))
		return false;
	return true;
}

#endif							/* PGSYNC_PATTERN_CHECK_H */
