/*-------------------------------------------------------------------------
 *
 * json_span.c
 *	  Byte spans of the elements of a JSON array or object (json_span.h).
 *
 * One pass over the text, counting bracket depth and skipping strings
 * (a backslash escapes the next byte), so a 64 MB value costs one scan of
 * its bytes.  A separator (',' or ':') or closing bracket at depth 0 ends
 * an element.
 *
 *-------------------------------------------------------------------------
 */
#include "json/json_span.h"

#include <string.h>

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t
skip_space(const char *s, size_t len, size_t i)
{
	while (i < len && is_space(s[i]))
		i++;
	return i;
}

/* Index of the quote closing the string opened at s[i], or len. */
static size_t
string_end(const char *s, size_t len, size_t i)
{
	for (i++; i < len; i++)
	{
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i;
	}
	return len;
}

/*
 * From s[i], the start of an element, to the separator or bracket that
 * ends it (at depth 0), or len if none does.
 */
static size_t
element_end(const char *s, size_t len, size_t i)
{
	int			depth = 0;

	for (; i < len; i++)
	{
		char		c = s[i];

		if (c == '"')
		{
			if ((i = string_end(s, len, i)) == len)
				return len;
		}
		else if (c == '[' || c == '{')
			depth++;
		else if (c == ']' || c == '}')
		{
			if (depth == 0)
				return i;
			depth--;
		}
		else if ((c == ',' || c == ':') && depth == 0)
			return i;
	}
	return len;
}

int
json_spans(const char *s, size_t len, JsonSpan *spans, int max)
{
	size_t		i = skip_space(s, len, 0);
	char		close;
	int			n = 0;

	if (i >= len || (s[i] != '[' && s[i] != '{'))
		return -1;
	close = s[i] == '[' ? ']' : '}';
	i = skip_space(s, len, i + 1);
	if (i < len && s[i] == close)
		return skip_space(s, len, i + 1) == len ? 0 : -1;
	for (;;)
	{
		size_t		start = skip_space(s, len, i);
		size_t		end = element_end(s, len, start);
		size_t		last = end;

		if (end == len)
			return -1;
		while (last > start && is_space(s[last - 1]))
			last--;
		if (last == start || n == max)
			return -1;
		spans[n].off = start;
		spans[n].len = last - start;
		n++;
		if (s[end] == ',' || s[end] == ':')
		{
			i = end + 1;
			continue;
		}
		if (s[end] != close)
			return -1;
		return skip_space(s, len, end + 1) == len ? n : -1;
	}
}

bool
json_span_is(const char *text, JsonSpan s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(text + s.off, lit, s.len) == 0;
}

int
json_span_index(const char *text, JsonSpan s)
{
	int			v = 0;

	if (s.len == 0 || s.len > 9)
		return -1;
	for (size_t i = 0; i < s.len; i++)
	{
		char		c = text[s.off + i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	return v;
}
