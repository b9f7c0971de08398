/*-------------------------------------------------------------------------
 *
 * table_pattern.h
 *	  Pure matching of "schema.table" glob patterns.
 *
 * A pattern list is comma-separated: "public.*, audit.log_*, *.orders".
 * '*' matches any run of characters, '?' one character (a whole UTF-8
 * sequence; in single-byte encodings, one byte), and a backslash
 * makes the next character literal ("my\.schema.t\*").  A pattern without
 * an unescaped dot matches the table name in any schema.  Surrounding
 * spaces are ignored.  No postgres.h: shared by the output plugin options
 * and, later, by WebSocket subscriptions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_TABLE_PATTERN_H
#define PGSYNC_TABLE_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

/* A slice of the original pattern text (escapes not yet removed). */
typedef struct PatternSlice
{
	const char *ptr;
	size_t		len;
} PatternSlice;

typedef struct TablePattern
{
	PatternSlice schema;
	PatternSlice table;
} TablePattern;

/*
 * Split a comma-separated list into at most max trimmed, non-empty slices
 * (backslash escapes a comma).  Returns the count, or -1 with *error set.
 * With out == NULL it only counts.
 */
extern int	pattern_list_split(const char *list, PatternSlice *out, int max,
							   const char **error);

/*
 * Split list into at most max patterns (slices point into list).  Returns
 * the number of patterns, or -1 with *error set to a static message when
 * the list is malformed (empty element, trailing backslash, more than one
 * unescaped dot).  With out == NULL it only counts.
 */
extern int	table_pattern_parse(const char *list, TablePattern *out, int max,
								const char **error);

/* Does the pattern match this schema and table name? */
extern bool table_pattern_match(const TablePattern *pat,
								const char *schema, const char *table);

/* Does any of the n patterns match? */
extern bool table_pattern_match_any(const TablePattern *pats, int n,
									const char *schema, const char *table);

/* Glob match of NUL-terminated s against a pattern slice. */
extern bool glob_match(PatternSlice pat, const char *s);

#endif							/* PGSYNC_TABLE_PATTERN_H */
